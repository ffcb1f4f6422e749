# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Fig. 6: sticky spheres at three densities
#
# In the sticky-sphere liquid at its usual density (ρ = 0.6) the paper finds that the dipole stiffness of the glass
# does not predict the activation energy (Fig. 4). Compressing the same liquid makes the repulsive cores dominate
# and the landscape less granular (Fig. 5); the paper reports that Eq. 3 then holds again, and that the local
# correlation between soft κ and mobility returns with it. Panels (a1–a3) test the first half of that statement:
# they fit Eq. 3 to τ_α and κ(T) at ρ = 0.6, 0.7 and 0.95, with the same criterion as Fig. 4 and the same
# comparison against the shoving model's G. Panels (b1–b3) and (c1–c3) test the second half: is the local dipole
# stiffness κ_i of the inherent structure low where the liquid is mobile and high where it is not?
#
# The data of panels (a) are the campaign tasks of `meso_kernels.campaign.figures.fig04_tasks` for the three
# densities: one liquid per scheduled temperature and a mechanics ensemble at each (T_p = T). Panels (b, c) use the
# local ensembles of `meso_kernels.campaign.local` (the same ones as the Fig. 7 page). `meso campaign run --figures 6`
# computes the missing ones on every core.

# %% tags=["parameters", "remove-cell"]
size = "ci"
seed = 0
backend = "cpu"  # "cuda": compute missing results on a GPU where a step has a device route (README)
densities = ["ss0.6", "ss0.7", "ss0.95"]  # SS model keys of meso_kernels.statepoints
activated_from = "auto"  # tau_alpha/t0 where the fits start; "auto": 10 (the activated regime), 0 at ci
temperatures = None  # {model key: [T, ...]}: a subset of a schedule (None: every scheduled temperature)
compute_missing = True  # False: a missing liquid or ensemble raises an error saying how to compute it
n_resamples = 2000  # bootstrap resamples of every interval
require_stationary = "auto"  # leave points that fail the stationarity check out of the fits; "auto": not at ci
kappa_bins = 20  # panels (b): bins of kappa_i/<kappa> on [0, 2]
rank_bins = 10  # panels (c): bins of the kappa rank on [0, 1]
kappa_average = "all"  # <kappa> of panels (b): over "all" particles of the configuration, or the large "species"
n_keep = 5  # panels (b, c): mobile (immobile) local extremes kept per configuration (the paper: 5)

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import numpy as np

from meso_kernels.analysis.activation import EQ3_CRITERION
from meso_kernels.campaign.series import (analyse_models, comparison_table, ensemble_table,
                                          fit_table, interval_notes, points_table, verdict_lines)
from meso_kernels.io import atomic_path, git_state
from meso_kernels.presets import check_size
from meso_kernels.report import Page
from meso_kernels.statepoints import check_key, label, schedule
from meso_kernels.store import REPO_ROOT, data_root

check_size(size)
page = Page("fig06", size)  # records the stored results read from here on; the last cell reports them
densities = [check_key(k) for k in densities]
if not all(k.startswith("ss") for k in densities):
    raise ValueError(f"densities must be sticky-sphere keys (ss0.6, ss0.7, ss0.95), got {densities}")
print(f"run size {size!r}, seed {seed}, code {git_state()[0][:12]}")
print(EQ3_CRITERION)

series, analyses = analyse_models(size, densities, seed=seed, temperatures=temperatures,
                                  compute_missing=compute_missing, activated_from=activated_from,
                                  require_stationary=require_stationary, n_resamples=n_resamples,
                                  backend=backend)
for k, s in series.items():
    print(f"{label(k)} (N = {schedule(size, k).N}): "
          + ", ".join(f"T={T:g}: {x:.3g}" for T, x in zip(s.T, s.tau_over_t0)) + "  (tau_alpha/t0)")

# %% tags=["hide-input"]
fig, axes = plt.subplots(2, len(densities), figsize=(4.2 * len(densities), 7.2), squeeze=False)
for n, k in enumerate(densities):
    a = analyses[k]
    for row, name, colour, text in ((0, "kappa", "C3", "κ"), (1, "G", "C0", "G")):
        ax = axes[row, n]
        f, v = a.fits[name], a.verdicts[name]
        x_all = a.series.means(name) / a.series.T
        tau = a.series.tau_over_t0
        rest, bad = ~a.activated & a.stationary, ~a.stationary
        ax.plot(x_all[rest], np.log(tau[rest]), "o", mfc="none", color=colour)
        ax.plot(x_all[bad], np.log(tau[bad]), "x", color="C1", ms=7)
        ax.errorbar(f.x, f.y, xerr=f.x_err, yerr=f.sigma, fmt="o", color=colour, capsize=2, ms=4)
        xx = np.linspace(x_all.min(), x_all.max(), 50)
        extra = f", ℓ̃ = {f.l_tilde:.2g}" if name == "kappa" else ""
        ax.plot(xx, f.slope * xx + f.intercept, "k-", lw=1,
                label=f"t̃ = {f.t_tilde:.2g}{extra}\n{'holds' if v.holds else 'fails'} (p = {f.p_value:.2g})")
        ax.set(xlabel=f"{text} / T", ylabel="ln(τ_α / t0)",
               title=f"({'a' if row == 0 else 'G'}{n + 1}) {label(k)}: " + ("Eq. 3" if row == 0 else "Eq. 2"))
        ax.legend(fontsize=8, frameon=False)
fig.tight_layout()
page.add(fig)  # its plotted numbers, for the CSV of the last cell
plt.show()

# %% [markdown]
# Top row: the paper's panels (a1–a3), Eq. 3 with κ. Bottom row: the shoving model (Eq. 2) on the same τ_α, which
# the paper does not show. Open symbols are state points outside the activated regime, crosses those that fail the
# stationarity check of the Fig. 9 and 11 pages; neither is fitted.

# %% tags=["hide-input"]
fits = fit_table(analyses.values(), label=label)
print(fits.to_string(float_format=lambda x: f"{x:.3g}"))
print(verdict_lines(analyses.values(), label=label))
print()
print(comparison_table(analyses.values(), label=label).to_string(float_format=lambda x: f"{x:.3g}"))
print()
print(ensemble_table(analyses.values(), label=label).to_string(float_format=lambda x: f"{x:.3g}"))
print(interval_notes(analyses.values(), label=label))

out_dir = data_root(size) / "figures"
for k, a in analyses.items():
    with atomic_path(out_dir / f"fig06_{size}_{k}_points.csv") as tmp:  # temporary file, then rename
        points_table(a).to_csv(tmp, index=False, float_format="%.6g")
with atomic_path(out_dir / f"fig06_{size}_fits.csv") as tmp:
    fits.join(comparison_table(analyses.values(), label=label).drop(columns="points")).to_csv(tmp)
shown = out_dir.relative_to(REPO_ROOT) if out_dir.is_relative_to(REPO_ROOT) else out_dir
print(f"\nplotted numbers written to {shown}/fig06_{size}_*.csv (size {size!r}, code {git_state()[0][:12]})")

# %% [markdown]
# ## Panels (b) and (c): local κ of the most and least mobile particles
#
# Sec. III C of the paper asks whether the particles that move are those sitting where the glass underneath is
# soft. At each density this page takes the state point that Fig. 11 matched in τ_α/t0 and an ensemble of
# configurations of that liquid (`meso_kernels.campaign.local`):
#
# - each configuration is quenched to its inherent structure, where κ_i is the mean of κ_ij over the interacting
#   pairs of particle i (Eq. A4); rattlers have no κ_i;
# - from each configuration, independent NVT runs with fresh Maxwell–Boltzmann velocities last t_obs = τ_α/10; the
#   mobility of i is its displacement |Δr_i(t_obs)| averaged over these runs (the isoconfigurational ensemble);
# - in each configuration, among the large particles, a particle is a local maximum (minimum) of the mobility if no
#   other large particle within r_cut^BB (the large–large cut-off) is more (less) mobile; the 5 most mobile local
#   maxima join the *mobile* population and the 5 least mobile local minima the *immobile* one. The *total*
#   population is every large particle: the two extreme populations are drawn from that species, so their κ is
#   compared with the κ of the same species.
#
# Panels (b1–b3): P(κ_i/⟨κ⟩) of the three populations, with ⟨κ⟩ the mean κ_i over all particles of the
# same configuration (parameter `kappa_average`; "species" would divide by the mean over large particles instead).
# Panels (c1–c3): where the κ_i of a mobile or immobile particle falls among the large particles of its own
# configuration, as a rank from 0 (the softest) to 1 (the stiffest); without any correlation both would be flat at 1.
# The analysis is `meso_kernels.analysis.kappa_mobility` and works on any arrays of κ_i, mobility and positions.

# %% tags=["hide-input"]
import pandas as pd

from meso_kernels.analysis.kappa_mobility import PopulationHistograms, extreme_populations
from meso_kernels.campaign.local import local_ensemble

ensembles = {k: local_ensemble(size, k, seed=seed, compute_missing=compute_missing, progress=False,
                              backend=backend)
             for k in densities}
ratio_edges = np.linspace(0.0, 2.0, int(kappa_bins) + 1)
rank_edges = np.linspace(0.0, 1.0, int(rank_bins) + 1)
populations, histograms = {}, {}
for k, e in ensembles.items():
    big = e.large
    populations[k] = extreme_populations(e.positions, e.box, e.local_kappa, e.mobility, e.types, species=big,
                                         radius=float(e.model.rcut[big, big]), n_keep=n_keep, average=kappa_average)
    histograms[k] = PopulationHistograms(ratio_edges, rank_edges).compute(populations[k])
    p = populations[k]
    print(f"{label(k)}: T = {e.T:g}, tau_alpha = {e.tau_alpha:.3g}, t_obs = {e.t_obs:.3g} "
          f"({e.t_obs / e.tau_alpha:.3f} tau_alpha); {e.n_conf} configurations x {e.n_runs} runs "
          f"(the paper: 240 x 20), N = {e.types.size}, r_cut^BB = {p.radius:.4g}; populations: "
          f"{len(p.mobile)} mobile, {len(p.immobile)} immobile, {len(p.total)} total "
          f"(rattlers {p.mobile.n_rattlers}, {p.immobile.n_rattlers}, {p.total.n_rattlers})")
    outside = {n: f for n, f in histograms[k].outside.items() if f > 0}
    if outside:
        print(f"  outside the kappa/<kappa> grid [{ratio_edges[0]:g}, {ratio_edges[-1]:g}]: "
              + ", ".join(f"{n} {100 * f:.1f} %" for n, f in outside.items()))

# %% tags=["hide-input"]
colours = {"mobile": "C3", "immobile": "C0", "total": "k"}
fig, axes = plt.subplots(2, len(densities), figsize=(4.2 * len(densities), 6.6), squeeze=False)
for n, k in enumerate(densities):
    h = histograms[k]
    ax = axes[0, n]
    for name, P in h.ratio.items():
        ax.plot(h.ratio_centres, P, "-" if name == "total" else "o-", ms=3, color=colours[name],
                lw=1.0 if name == "total" else 1.4, label=f"{name} ({h.counts[name]})")
    ax.axvline(1.0, color="grey", lw=0.5, ls=":")
    ax.set(xlabel="κ / ⟨κ⟩", ylabel="P(κ / ⟨κ⟩)", xlim=(ratio_edges[0], ratio_edges[-1]),
           title=f"(b{n + 1}) {label(k)}")
    ax.legend(fontsize=8, frameon=False)
    ax = axes[1, n]
    for name, P in h.rank.items():
        ax.stairs(P, h.rank_edges, color=colours[name], lw=1.6, label=name)
    ax.axhline(1.0, color="grey", lw=0.5, ls=":")
    ax.set(xlabel="rank of κ_i (0: softest, 1: stiffest)", ylabel="P(rank)", xlim=(0, 1),
           title=f"(c{n + 1}) {label(k)}")
    ax.legend(fontsize=8, frameon=False)
fig.tight_layout()
page.add(fig)  # its plotted numbers, for the CSV of the last cell
plt.show()

# %% [markdown]
# The dotted lines mark κ = ⟨κ⟩ in (b) and the flat distribution that uncorrelated ranks would give in (c). The
# legend of (b) gives how many particles each histogram holds. The table below condenses the panels: the mean
# κ_i/⟨κ⟩ and rank of each population, and the fraction of the mobile (immobile) particles among the softest
# (stiffest) 20 % of their configuration, 0.2 without correlation.

# %% tags=["hide-input"]
rows = []
for k in densities:
    p, e = populations[k], ensembles[k]
    mob, imm = p.mobile.kappa_rank, p.immobile.kappa_rank
    rows.append({"density": label(k), "T": e.T, "n_conf": e.n_conf, "n_runs": e.n_runs, "t_obs/tau_alpha":
                 e.t_obs / e.tau_alpha, "n_mobile": len(p.mobile), "n_immobile": len(p.immobile),
                 "ratio_mobile": np.nanmean(p.mobile.kappa_ratio), "ratio_immobile": np.nanmean(p.immobile.kappa_ratio),
                 "ratio_total": np.nanmean(p.total.kappa_ratio), "rank_mobile": np.nanmean(mob),
                 "rank_immobile": np.nanmean(imm), "rank_gap": np.nanmean(imm) - np.nanmean(mob),
                 "mobile_softest_20%": np.nanmean(mob[np.isfinite(mob)] < 0.2),
                 "immobile_stiffest_20%": np.nanmean(imm[np.isfinite(imm)] > 0.8)})
summary = pd.DataFrame(rows).set_index("density")
print(summary.to_string(float_format=lambda x: f"{x:.3g}"))
gaps = summary["rank_gap"]
order = " > ".join(f"{d} ({g:.2f})" for d, g in gaps.sort_values(ascending=False).items())
print(f"\nrank gap (mean immobile rank - mean mobile rank), largest first: {order}")
print("the paper: largest at rho = 0.95, smallest at rho = 0.6 -> "
      + ("same order here" if list(gaps.sort_values(ascending=False).index)
         == [label(k) for k in sorted(densities, key=lambda k: -float(k[2:]))] else "a different order here"))

dist = pd.concat([pd.DataFrame({"density": k, "ratio_low": ratio_edges[:-1], "ratio_high": ratio_edges[1:],
                                "ratio_centre": histograms[k].ratio_centres,
                                **{f"P_{n}": P for n, P in histograms[k].ratio.items()}}) for k in densities])
ranks = pd.concat([pd.DataFrame({"density": k, "rank_low": rank_edges[:-1], "rank_high": rank_edges[1:],
                                 "rank_centre": histograms[k].rank_centres,
                                 **{f"P_{n}": P for n, P in histograms[k].rank.items()}}) for k in densities])
members = pd.concat([pd.DataFrame({"density": k, "population": p.name, "config": p.config, "particle": p.particle,
                                   "mobility": p.mobility, "kappa_ratio": p.kappa_ratio, "kappa_rank": p.kappa_rank})
                     for k in densities for p in (populations[k].mobile, populations[k].immobile)])
out_dir = data_root(size) / "figures"
for name, table in (("kappa_distributions", dist), ("kappa_ranks", ranks), ("populations", members)):
    with atomic_path(out_dir / f"fig06_{size}_{name}.csv") as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
with atomic_path(out_dir / f"fig06_{size}_populations_summary.csv") as tmp:
    summary.to_csv(tmp, float_format="%.6g")
print(f"\npanels (b, c) written to {shown}/fig06_{size}_{{kappa_distributions,kappa_ranks,populations,"
      f"populations_summary}}.csv (size {size!r}, code {git_state()[0][:12]})")

# %% [markdown]
# **What the paper reports** (Kapteijns et al., J. Chem. Phys. 2021, Sec. III C and Fig. 6(b, c); 240
# configurations × 20 runs per density, 1200 particles in each extreme population). At ρ = 0.95 the two extreme
# populations barely overlap: the mobile particles sit well below the average κ and near the bottom of the ranking,
# the immobile ones well above it and near the top. As the density falls the two distributions move towards each
# other and at ρ = 0.6 they nearly coincide. The collapse is lopsided, though: even at ρ = 0.6 the immobile
# particles still pile up at the stiff end of the ranking, while the mobile ones have lost almost all preference for
# the soft end.
#
# **What this page can say.** The ensemble sizes printed above set the resolution: with n_conf configurations each
# extreme population holds 5 n_conf particles, so at the `ci` size (4 configurations × 4 runs, N = 256, warm
# liquids) each histogram holds 20 particles and its bins fluctuate by tens of per cent; the mobility of 4 runs is
# itself noisy, which smears every correlation towards zero. At `ci` this part of the page only exercises the
# analysis; the comparison with the paper (the rank gap in the table, largest at the highest density, and a residual
# preference of the immobile particles for high κ at ρ = 0.6) is meaningful at the `default` size (48 × 10) and
# above. The Fig. 7 page gives the same comparison as a single number per density, the rank correlation C_s over all
# particles, with its interval and a null control.

# %% [markdown]
# ## The claims on the summary page
#
# Eq. 3 per density, judged by the criterion printed at the top (reproduced when its verdict is the paper's: fails at
# ρ = 0.6 and 0.7, holds at 0.95), and the order of the rank gaps of panels (c), judged as above (reproduced when
# the gap is largest at ρ = 0.95 and smallest at ρ = 0.6). At `ci` all are recorded as not resolvable.

# %% tags=["hide-input"]
from meso_kernels.claims import EQ3_PAPER, claims_of, decide, figure_summary, record

registered = {c.id for c in claims_of(6)}
for k, a in analyses.items():
    f, v = a.fits["kappa"], a.verdicts["kappa"]
    if f"fig06.eq3_{k}" in registered:
        found = "holds" if v.holds else "fails"
        record(f"fig06.eq3_{k}", size, f.t_tilde, *f.t_tilde_ci, verdict=decide(found == EQ3_PAPER[k], size),
               detail=f"ℓ̃ = {f.l_tilde:.3g} [{f.l_tilde_ci[0]:.3g}, {f.l_tilde_ci[1]:.3g}]; Eq. 3 {found} "
                      f"(p = {f.p_value:.2g}, {f.n_points} points)")
by_density = sorted(densities, key=lambda k: -float(k[2:]))
same_order = list(gaps.sort_values(ascending=False).index) == [label(k) for k in by_density]
record("fig06.rank_gap_order", size, gaps[label(by_density[0])], verdict=decide(same_order, size), interval="none",
       detail="gaps " + ", ".join(f"{label(k)}: {gaps[label(k)]:.2f}" for k in by_density)
              + f"; {summary['n_conf'].min()} configurations per density")
print(figure_summary(6, size))

# %% [markdown]
# ## Plotted numbers and provenance
#
# The numbers drawn on this page, one row per plotted point, as CSV (`meso_kernels.report`), and what produced them:
# the run size, and the commits, dates and CPUs or GPUs recorded in the sidecars of the stored results this page read.

# %% tags=["remove-input"]
page.finish()
