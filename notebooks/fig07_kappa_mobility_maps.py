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
# # Fig. 7: maps of local stiffness and mobility at three densities
#
# The last step of the paper's local test (Kapteijns et al., J. Chem. Phys. 2021, Sec. III C). Fig. 6(b, c) looks
# only at the extremes, the few most and least mobile particles of each configuration; here every particle counts.
# For each configuration of the sticky-sphere liquid at ρ = 0.6, 0.7 and 0.95 (the state points of Fig. 11, equal
# τ_α/t0) two fields are ranked within each species: the inverse local dipole stiffness 1/κ_i of the inherent
# structure (Eq. A4: the mean κ_ij over the interacting pairs of i) and the isoconfigurational mobility, the
# displacement |Δr_i| after t_obs = τ_α/10 averaged over independent runs with fresh Maxwell–Boltzmann velocities.
# Spearman's coefficient C_s between the two rankings, computed per species and then averaged over the two species,
# is 1 if the softest particles are exactly the most mobile, and 0 if the two rankings are unrelated. The paper
# reports its ensemble mean per density and finds that it drops as the density is lowered, as the landscape becomes
# more granular.
#
# The data are the local ensembles of `meso_kernels.campaign.local` (`meso campaign run --figures 7` computes them on
# every core); the analysis is `meso_kernels.analysis.kappa_mobility`.

# %% tags=["parameters", "remove-cell"]
size = "ci"
seed = 0
backend = "cpu"  # "cuda": compute missing results on a GPU where a step has a device route (README)
densities = ["ss0.6", "ss0.7", "ss0.95"]  # SS model keys of meso_kernels.statepoints
compute_missing = True  # False: a missing local ensemble raises an error saying how to compute it
n_resamples = 2000  # bootstrap resamples of every interval
slab = "auto"  # thickness of the drawn slab (length); "auto": one large-particle diameter (sigma_BB: 1.4)

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from meso_kernels.analysis.kappa_mobility import ensemble_spearman, kappa_ranks, null_spearman
from meso_kernels.analysis.propensity import species_ranks
from meso_kernels.campaign.local import local_ensemble
from meso_kernels.io import atomic_path, git_state
from meso_kernels.models.sticky import SIGMA
from meso_kernels.plots import slab_map
from meso_kernels.presets import check_size
from meso_kernels.report import Page
from meso_kernels.statepoints import check_key, label
from meso_kernels.store import REPO_ROOT, data_root

check_size(size)
page = Page("fig07", size)  # records the stored results read from here on; the last cell reports them
densities = [check_key(k) for k in densities]
if not all(k.startswith("ss") for k in densities):
    raise ValueError(f"densities must be sticky-sphere keys (ss0.6, ss0.7, ss0.95), got {densities}")
diameters = np.diag(SIGMA)  # sigma_AA, sigma_BB: the drawn diameters of the two species
thickness = float(diameters.max()) if slab == "auto" else float(slab)
print(f"run size {size!r}, seed {seed}, code {git_state()[0][:12]}")

ensembles, C, nulls = {}, {}, {}
for n, k in enumerate(densities):
    e = local_ensemble(size, k, seed=seed, compute_missing=compute_missing, progress=False, backend=backend)
    ensembles[k] = e
    C[k] = ensemble_spearman(e.local_kappa, e.mobility, e.types, n_resamples=n_resamples, seed=seed)
    nulls[k] = {"shuffle": null_spearman(e.local_kappa, e.mobility, e.types, method="shuffle", seed=seed,
                                         n_resamples=n_resamples),
                "other": null_spearman(e.local_kappa, e.mobility, e.types, method="other", offset=1, seed=seed,
                                       n_resamples=n_resamples)}
    print(f"{label(k)}: T = {e.T:g}, tau_alpha = {e.tau_alpha:.3g}, t_obs = {e.t_obs:.3g} "
          f"({e.t_obs / e.tau_alpha:.3f} tau_alpha); {e.n_conf} configurations x {e.n_runs} runs "
          f"(the paper: 240 x 20), N = {e.types.size}, box {e.box[0]:.3g}")

# %% [markdown]
# Each row below is one density. Left: the rank of 1/κ_i among the particles of its species; right: the rank of
# the mobility among the particles of its species. Both use the same colour scale, red for the softest and for the
# most mobile particles, so where the two maps agree the local stiffness predicts the motion. The maps show a slab of
# the 3D box: the particles whose centres lie within half a large-particle diameter of the mid-plane z = L/2 (slab
# thickness σ_BB = 1.4 unless the `slab` parameter says otherwise), drawn at their diameters (σ = 1 and 1.4), the
# deepest first, at the positions of the liquid configuration the runs start from (its inherent structure, where κ_i
# is measured, differs from it by small displacements); grey discs are rattlers, which have no κ_i. The
# configuration shown is chosen by a rule, not by eye: the one whose C_s is closest to the median over the ensemble
# (the lowest index among ties). The titles give the ensemble mean of the species-averaged C_s with its 90 %
# bootstrap interval over configurations, and the C_s of the configuration shown.

# %% tags=["hide-input"]
fig, axes = plt.subplots(len(densities), 2, figsize=(8.4, 4.0 * len(densities)), squeeze=False)
maps = []
for n, k in enumerate(densities):
    e, c_s = ensembles[k], C[k]
    c = c_s.median_config
    soft = 1.0 - kappa_ranks(e.local_kappa[c:c + 1], e.types)[0]  # rank of 1/kappa_i: 1 = softest
    mobile = species_ranks(e.mobility[c], e.types)  # 1 = most mobile
    d = diameters[e.types]
    for ax, values in ((axes[n, 0], soft), (axes[n, 1], mobile)):
        pc, shown_mask = slab_map(ax, e.positions[c], e.box, values, d, thickness, cmap="coolwarm")
    axes[n, 0].set_title(f"{label(k)}: rank of 1/κ_i\n⟨C_s⟩ = {c_s.mean:.2f} "
                         f"[{c_s.low:.2f}, {c_s.high:.2f}] (90 %, {c_s.n_conf} conf.)", fontsize=10)
    axes[n, 1].set_title(f"{label(k)}: rank of mobility\nconfiguration {c}: C_s = {c_s.per_config[c]:.2f}",
                         fontsize=10)
    fig.colorbar(pc, ax=axes[n], shrink=0.8, label="rank within species (1: softest / most mobile)")
    idx = np.flatnonzero(shown_mask)
    maps.append(pd.DataFrame({"density": k, "config": c, "particle": idx, "type": e.types[idx],
                              "x": e.positions[c, idx, 0], "y": e.positions[c, idx, 1], "z": e.positions[c, idx, 2],
                              "kappa": e.local_kappa[c, idx], "rank_inverse_kappa": soft[idx],
                              "mobility": e.mobility[c, idx], "rank_mobility": mobile[idx]}))
page.add(fig)  # its plotted numbers, for the CSV of the last cell
plt.show()

# %% [markdown]
# **C_s against density, and two null controls.** A correlation computed from a few configurations with noisy
# mobilities needs a baseline. The controls pair each configuration's mobility with a κ field that cannot know
# about it: (i) *shuffled*: the κ_i of the same configuration permuted at random within each species (seeded), which
# gives the exact distribution of C_s without any correlation, whatever the data; (ii) *other configuration*: the κ
# field of configuration c + 1 against the mobility of configuration c. The second is a null only if successive
# configurations are independent; they are sampled from one trajectory `spacing` τ_α apart (0.5 τ_α at `ci`, 1 τ_α
# at `default` and `paper`), so part of the structure survives from one to the next and this control can pick up
# that memory (the sign and size of it say how much). The bootstrap intervals resample configurations; with the 4
# configurations of the `ci` size they are only a rough guide and too narrow.

# %% tags=["hide-input"]
rho = np.array([float(k[2:]) for k in densities])
fig, ax = plt.subplots(figsize=(4.6, 3.6))
rows = [("C_s", C, "o-", "C3")] + [(f"null: {n}", {k: nulls[k][n] for k in densities}, m, col)
                                   for n, m, col in (("shuffle", "s--", "grey"), ("other", "^:", "C0"))]
for name, values, marker, colour in rows:
    mean = np.array([values[k].mean for k in densities])
    err = np.array([[values[k].mean - values[k].low, values[k].high - values[k].mean] for k in densities]).T
    ax.errorbar(rho, mean, yerr=err, fmt=marker, color=colour, capsize=3, ms=5, label=name)
ax.axhline(0.0, color="k", lw=0.5)
ax.set(xlabel="ρ", ylabel="ensemble mean of C_s", xticks=rho)
ax.legend(fontsize=8, frameon=False)
fig.tight_layout()
page.add(fig)  # its plotted numbers, for the CSV of the last cell
plt.show()

table = pd.DataFrame([{"density": label(k), "T": ensembles[k].T, "n_conf": C[k].n_conf,
                       "n_runs": ensembles[k].n_runs, "t_obs/tau_alpha": ensembles[k].t_obs / ensembles[k].tau_alpha,
                       "C_s": C[k].mean, "C_s_low": C[k].low, "C_s_high": C[k].high,
                       **{f"C_s_species{s}": v.mean() for s, v in C[k].per_species.items()},
                       "null_shuffle": nulls[k]["shuffle"].mean, "null_shuffle_low": nulls[k]["shuffle"].low,
                       "null_shuffle_high": nulls[k]["shuffle"].high, "null_other": nulls[k]["other"].mean,
                       "null_other_low": nulls[k]["other"].low, "null_other_high": nulls[k]["other"].high,
                       "shown_config": C[k].median_config} for k in densities]).set_index("density")
print(table.to_string(float_format=lambda x: f"{x:.3g}"))
for k in densities:
    s = nulls[k]["shuffle"]
    print(f"{label(k)}: shuffled-kappa control {s.mean:+.3f} [{s.low:+.3f}, {s.high:+.3f}] -> "
          + ("holds 0" if s.low <= 0 <= s.high else "does NOT hold 0")
          + f"; C_s {C[k].mean:+.3f} [{C[k].low:+.3f}, {C[k].high:+.3f}] -> "
          + ("above the control" if C[k].low > s.high else "not separated from the control"))
falling = all(C[a].mean > C[b].mean for a, b in zip(sorted(densities, key=lambda k: -float(k[2:])),
                                                     sorted(densities, key=lambda k: -float(k[2:]))[1:]))
print(f"C_s falls with decreasing density (the paper's finding): {'yes' if falling else 'no'} at size {size!r}")

per_config = pd.concat([pd.DataFrame({"density": k, "config": np.arange(C[k].n_conf), "C_s": C[k].per_config,
                                      **{f"C_s_species{s}": v for s, v in C[k].per_species.items()},
                                      "null_shuffle": nulls[k]["shuffle"].per_config,
                                      "null_other": nulls[k]["other"].per_config}) for k in densities])
out_dir = data_root(size) / "figures"
for name, frame, index in (("spearman", table, True), ("spearman_per_config", per_config, False),
                           ("maps", pd.concat(maps), False)):
    with atomic_path(out_dir / f"fig07_{size}_{name}.csv") as tmp:  # temporary file, then rename
        frame.to_csv(tmp, index=index, float_format="%.6g")
shown = out_dir.relative_to(REPO_ROOT) if out_dir.is_relative_to(REPO_ROOT) else out_dir
print(f"\nplotted numbers written to {shown}/fig07_{size}_{{spearman,spearman_per_config,maps}}.csv "
      f"(size {size!r}, code {git_state()[0][:12]})")

# %% [markdown]
# **Against the paper.** The paper (240 configurations × 20 runs per density) finds C_s clearly positive at
# ρ = 0.95 and decreasing markedly towards ρ = 0.6, the same trend as the separation of the extreme populations in
# Fig. 6(b, c). It also notes that coarse-graining both fields in space raises every C_s without changing the
# trend; this page does not coarse-grain. The line above says whether the trend holds at the size of this run, and
# the table whether each C_s stands above the shuffled control. At the `ci` size (4 configurations × 4 runs,
# N = 256, liquids far warmer than the paper's) the mobility after τ_α/10 of 4 runs is dominated by thermal noise and
# every C_s is small; the page then only exercises the analysis. The `default` size (48 × 10, N = 1000) is the one
# to compare with the paper.

# %% [markdown]
# ## The claims on the summary page
#
# The trend, judged as printed above (reproduced when C_s falls at every step from the highest to the lowest
# density), recorded with C_s(ρ=0.95) − C_s(ρ=0.6) and its 90 % bootstrap interval (configurations of the two
# densities resampled independently); and C_s at ρ = 0.95, reproduced when its interval lies above that of the
# shuffled control and not reproduced when even its upper end does not. At `ci` both are recorded as not
# resolvable.

# %% tags=["hide-input"]
from meso_kernels.analysis.stats import difference_ci
from meso_kernels.claims import decide, figure_summary, record

hi_rho, lo_rho = max(densities, key=lambda k: float(k[2:])), min(densities, key=lambda k: float(k[2:]))
a_cs, b_cs = (np.asarray(C[k].per_config, dtype=float) for k in (hi_rho, lo_rho))
a_cs, b_cs = a_cs[np.isfinite(a_cs)], b_cs[np.isfinite(b_cs)]
if a_cs.size >= 2 and b_cs.size >= 2:
    d, d_lo, d_hi = difference_ci(a_cs, b_cs, n_resamples=n_resamples, seed=seed)
else:
    d, d_lo, d_hi = C[hi_rho].mean - C[lo_rho].mean, None, None
record("fig07.cs_trend", size, d, d_lo, d_hi, verdict=decide(falling, size),
       detail=", ".join(f"{label(k)}: {C[k].mean:+.3f}" for k in sorted(densities, key=lambda k: -float(k[2:]))))
s = nulls[hi_rho]["shuffle"]
above = True if C[hi_rho].low > s.high else False if C[hi_rho].high <= s.high else None
record("fig07.cs_dense_positive", size, C[hi_rho].mean, C[hi_rho].low, C[hi_rho].high, verdict=decide(above, size),
       detail=f"{label(hi_rho)}; shuffled control {s.mean:+.3f} [{s.low:+.3f}, {s.high:+.3f}]; "
              f"{C[hi_rho].n_conf} configurations")
print(figure_summary(7, size))

# %% [markdown]
# ## Plotted numbers and provenance
#
# The numbers drawn on this page, one row per plotted point, as CSV (`meso_kernels.report`), and what produced them:
# the run size, and the commits, dates and CPUs or GPUs recorded in the sidecars of the stored results this page read.

# %% tags=["remove-input"]
page.finish()
