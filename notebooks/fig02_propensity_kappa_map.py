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
# # Fig. 2: where the liquid moves and where its glass is soft
#
# Kapteijns et al. (J. Chem. Phys. 2021) open their argument with a picture of a two-dimensional viscous liquid
# (2D IPL, ρ = 0.86, T = 0.48). Two fields are drawn for one configuration:
#
# - **left, the propensity for motion**: the configuration is run many times with fresh Maxwell–Boltzmann
#   velocities (an *isoconfigurational ensemble*), and each particle's displacement relative to its neighbours after
#   a time of order τ_α/6 is averaged over the runs. Taking the displacement relative to the neighbours removes the
#   long-wavelength collective drift that is large in 2D and says nothing about local rearrangements;
# - **right, the local dipole stiffness**: the configuration is quenched to its inherent structure, and every
#   interacting pair (i, j) gets κ_ij, the stiffness of the glass against a pair of opposite unit forces on i and j
#   (Eqs. A2–A3). Each bond is drawn in the colour of its κ_ij. Circles mark the cores of the softest
#   pseudoharmonic modes (quasilocalised soft modes, found as in the paper's Appendix B: the 12 softest distinct
#   ones, or fewer when the minimisations from every pair's dipole response reach fewer distinct modes).
#
# The paper's claim is that the two maps look alike: where the glass is soft against local dipoles, the liquid
# moves, and the soft dipoles sit where the soft quasilocalised modes are. This page redraws the picture with
# `meso_kernels`, and puts a number on "look alike": Spearman's rank correlation C_s between the propensity and
# 1/κ_i, where κ_i is the bond field averaged onto the particles (the mean of κ_ij over the interacting pairs of i,
# Eq. A4), with a 90 % bootstrap interval over configurations and null controls that must give zero.
#
# Everything is computed through campaign tasks (`meso_kernels.campaign.local.fig02_tasks`): the liquid at the
# scheduled state point (its τ_α is measured here, not assumed), then, from configurations sampled along its
# continuation, the κ_i of each inherent structure, the isoconfigurational runs, and the bond map (κ_ij of every pair
# and the softest pseudoharmonic modes) of the configuration drawn. `meso campaign run --figures 2` computes them on
# every core; this page reads them and computes only what is missing.

# %% tags=["parameters", "remove-cell"]
size = "ci"
seed = 0
backend = "cpu"  # "cuda": compute missing results on a GPU where a step has a device route (README)
conf = 0  # the configuration drawn (fixed before any data are seen: the first one of the ensemble)
compute_missing = True  # False: missing data raise an error saying how to compute them
n_resamples = 2000  # bootstrap resamples of every interval

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection, PatchCollection
from matplotlib.colors import LogNorm, Normalize
from matplotlib.patches import Circle

from meso_kernels.analysis.kappa_mobility import ensemble_spearman, null_spearman
from meso_kernels.analysis.logtime import equilibration_check
from meso_kernels.analysis.propensity import species_ranks
from meso_kernels.campaign.liquid import StatePointDynamics
from meso_kernels.campaign.local import (FIG02_KEY, FIG02_NR_CUTOFF, FIG02_STARTS, fig02_ensemble,
                                         fig02_liquid, fig02_local_tasks)
from meso_kernels.campaign.task import Resolver, Store
from meso_kernels.io import atomic_path, git_state
from meso_kernels.models.ipl import LAMBDA
from meso_kernels.presets import check_size
from meso_kernels.report import Page
from meso_kernels.statepoints import label, schedule
from meso_kernels.store import REPO_ROOT, data_root

check_size(size)
page = Page("fig02", size)  # records the stored results read from here on; the last cell reports them
if isinstance(conf, bool) or not isinstance(conf, int) or conf < 0:
    raise ValueError(f"conf must be a non-negative integer (a configuration of the ensemble), got {conf!r}")
sched = schedule(size, FIG02_KEY)
print(f"run size {size!r}, seed {seed}, code {git_state()[0][:12]}: {label(FIG02_KEY)}, N = {sched.N}, "
      f"rho = 0.86, T = {sched.temperatures[-1]:g}")
ens, bond = fig02_ensemble(size, seed=seed, conf=conf, compute_missing=compute_missing, progress=False,
                           backend=backend)
if conf >= ens.n_conf:
    raise ValueError(f"conf must be below the {ens.n_conf} configurations of the ensemble, got {conf}")
run = StatePointDynamics(FIG02_KEY, Resolver(Store.for_size(size)).load(fig02_liquid(size, seed=seed)))
tasks = fig02_local_tasks(size, run, seed=seed)
dt = run.model.state_point.dt

# %% [markdown]
# ## τ_α of the state point, measured
#
# τ_α is where the self-intermediate scattering function F_s(q_max, t) of the large species falls to 0.2
# (MODELS.md section 9; q_max = 5.91 for the large species in 2D). The liquid task equilibrates from a random
# configuration and then measures F_s over many time origins, kept in blocks so that the first and second halves of
# the run can be compared (a stationarity check: if the two halves relax differently, the run was not in
# equilibrium). The observation time of the propensity is t_obs = τ_α/6, rounded to whole MD steps.

# %% tags=["hide-input"]
corr, large = run.corr, run.large
check = equilibration_check(corr, large)
p = sched.points[-1]
print(f"liquid: {p.equil_steps} + {p.prod_steps} MD steps of dt = {dt} ({p.equil_steps * dt / run.tau_alpha:.1f} + "
      f"{p.prod_steps * dt / run.tau_alpha:.1f} tau_alpha)")
print(f"tau_alpha = {run.tau_alpha:.4g} (model time units), t0 = {run.t0:.4g}, tau_alpha/t0 = "
      f"{run.tau_alpha / run.t0:.4g}")
print(f"first half of the time origins: tau_alpha = {check.tau_early:.4g}; second half: {check.tau_late:.4g}; "
      f"stationarity check {'passed' if check.passed else 'FAILED'} (|z| = {abs(check.z):.2f} <= {check.z_max:.2f})")
print(f"t_obs = {tasks.nsteps} steps = {ens.t_obs:.4g} = tau_alpha/{ens.tau_alpha / ens.t_obs:.3f}; neighbours "
      f"within {FIG02_NR_CUTOFF} (first minimum of g_BB(r))")
print(f"{ens.n_conf} configurations {tasks.interval * dt / run.tau_alpha:.2g} tau_alpha apart, {ens.n_runs} "
      f"isoconfigurational runs each")

fs = corr.fs[large]
fig, ax = plt.subplots(figsize=(4.8, 3.4))
ax.semilogx(corr.t / run.t0, fs, "k-", label="all origins")
ax.semilogx(check.t / run.t0, check.early, "C0--", lw=1, label="first half")
ax.semilogx(check.t / run.t0, check.late, "C3:", lw=1, label="second half")
ax.axhline(0.2, color="grey", lw=0.5)
ax.axvline(run.tau_alpha / run.t0, color="grey", lw=0.5)
ax.axvline(ens.t_obs / run.t0, color="C2", lw=1, label="t_obs = τ_α/6")
ax.set(xlabel="t / t0", ylabel="F_s(q_max, t), large", title=f"{label(FIG02_KEY)}, T = {run.T:g}")
ax.legend(fontsize=8, frameon=False)
fig.tight_layout()
page.add(fig)  # its plotted numbers, for the CSV of the last cell
plt.show()

# %% [markdown]
# ## The two maps
#
# Left: the isoconfigurational mean of |neighbour-relative displacement| after t_obs (the displacement of a particle
# minus the mean displacement of the particles within the first minimum of g_BB(r) around it at the start), drawn
# on the configuration the runs start from. Right: every interacting pair of the inherent structure of the same
# configuration, coloured by κ_ij on a logarithmic scale; circles: the cores (largest |π_i|) of the softest distinct
# pseudoharmonic modes (at most 12; the title gives their number), repeated as dashed circles on the left. On both panels red marks the soft or mobile end. The
# particles are drawn at their sizes λ_AA = 1 and λ_BB = 1.4 scaled down, so that the bonds stay visible.

# %% tags=["hide-input"]
x0 = np.mod(ens.positions[conf], ens.box)
L = ens.box
types = ens.types
prop = ens.nr_mobility[conf]
xi = np.mod(bond["ihs_positions"], L)
pairs = bond["pairs"]
kij = bond["kappa"]
cores = bond["cores"]


def segments(x, pairs, box):
    """Minimum-image bond segments; a bond that crosses the box edge is drawn from both ends."""
    d = x[pairs[:, 1]] - x[pairs[:, 0]]
    d -= box * np.round(d / box)
    a = np.stack([x[pairs[:, 0]], x[pairs[:, 0]] + d], axis=1)
    b = np.stack([x[pairs[:, 1]] - d, x[pairs[:, 1]]], axis=1)
    crosses = np.any((a[:, 1] < 0) | (a[:, 1] > box), axis=1)
    return np.concatenate([a, b[crosses]]), np.concatenate([np.arange(len(pairs)), np.flatnonzero(crosses)])


def discs(ax, x, values, norm, cmap, scale=0.8):
    radius = 0.5 * scale * np.diag(LAMBDA)[types]
    pc = PatchCollection([Circle(tuple(p), r) for p, r in zip(x, radius)], cmap=cmap, norm=norm, edgecolor="k",
                         linewidth=0.2)
    pc.set_array(values)
    ax.add_collection(pc)
    return pc


def frame(ax, title):
    ax.set(xlim=(0, L[0]), ylim=(0, L[1]), aspect="equal", xticks=[], yticks=[])
    ax.set_title(title, fontsize=10)


fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 5.6))
lo, hi = np.percentile(prop, [2, 98])
pc = discs(ax, x0, prop, Normalize(lo, hi), "RdYlBu_r")
fig.colorbar(pc, ax=ax, shrink=0.85, label="⟨|Δr_i − ⟨Δr_j⟩_nb|⟩ (length)")
for c in cores:
    ax.add_patch(Circle(tuple(xi[c]), 1.3, fill=False, ec="k", lw=1.0, ls="--"))
frame(ax, f"(a) propensity: neighbour-relative displacement after τ_α/6\n"
          f"configuration {conf}, {ens.n_runs} runs")
seg, which = segments(xi, pairs, L)
knorm = LogNorm(*np.percentile(kij, [1, 99]))
lc = LineCollection(seg, cmap="RdYlBu", norm=knorm, linewidths=2.2)
lc.set_array(kij[which])
bx.add_collection(lc)
discs(bx, xi, np.zeros(len(xi)), Normalize(0, 1), "Greys", scale=0.35).set_facecolor("0.85")
for c in cores:
    bx.add_patch(Circle(tuple(xi[c]), 1.3, fill=False, ec="k", lw=1.6))
fig.colorbar(lc, ax=bx, shrink=0.85, label="κ_ij (energy/length², log scale)")
frame(bx, f"(b) κ_ij of all {len(pairs)} interacting pairs of the inherent structure\n"
          f"circles: cores of the {len(cores)} softest pseudoharmonic modes")
fig.tight_layout()
page.add(fig)  # its plotted numbers, for the CSV of the last cell
plt.show()

# %% [markdown]
# ## How alike are they? C_s with 90 % intervals and null controls
#
# Per configuration, the Spearman coefficient between 1/κ_i and the propensity is computed within each species and
# averaged over the two (`meso_kernels.analysis.kappa_mobility.ensemble_spearman`, as for Fig. 7); the ensemble mean
# gets a 90 % bootstrap (BCa) interval that resamples configurations. Two null controls pair the same propensities
# with a κ field that cannot know about them: κ_i shuffled among the particles of the same species (exactly zero on
# average whatever the data) and κ_i of the next configuration of the ensemble (zero if the configurations, sampled
# about one τ_α apart at the `default` size, have forgotten each other). The same is given for the plain mobility
# |Δr_i| for comparison: in 2D it carries the collective long-wavelength motion, which the neighbour-relative
# displacement removes.

# %% tags=["hide-input"]
k_field, nr, plain = ens.local_kappa, ens.nr_mobility, ens.mobility
C = ensemble_spearman(k_field, nr, types, n_resamples=n_resamples, seed=seed)
C_plain = ensemble_spearman(k_field, plain, types, n_resamples=n_resamples, seed=seed)
null_shuffle = null_spearman(k_field, nr, types, method="shuffle", seed=seed, n_resamples=n_resamples)
null_other = null_spearman(k_field, nr, types, method="other", offset=1, seed=seed, n_resamples=n_resamples)
rows = [("C_s(1/kappa_i, neighbour-relative propensity)", C), ("C_s(1/kappa_i, plain mobility |dr_i|)", C_plain),
        ("null: kappa_i shuffled within species", null_shuffle), ("null: kappa_i of configuration c+1", null_other)]
summary = pd.DataFrame([{"statistic": name, "mean": r.mean, "low_90": r.low, "high_90": r.high,
                         "configuration_shown": r.per_config[conf]} for name, r in rows]).set_index("statistic")
print(summary.to_string(float_format=lambda v: f"{v:+.3f}"))
print(f"\nper species (mean over configurations): "
      + ", ".join(f"species {s}: {v.mean():+.3f}" for s, v in C.per_species.items()))
print(f"C_s {'lies above' if C.low > null_shuffle.high else 'is NOT separated from'} the shuffled control")

# the bond map is configuration `conf` of the ensemble: its own kappa_i must be the ensemble's
same = np.isfinite(bond["local_kappa"]) & np.isfinite(k_field[conf])
print(f"bond map vs ensemble kappa_i of configuration {conf}: largest relative difference "
      f"{np.max(np.abs(bond['local_kappa'][same] / k_field[conf][same] - 1)):.1e}")

# the 12 modes against the two fields: the per-species rank of kappa_i and of the propensity at each core
k_rank = species_ranks(k_field[conf], types)
p_rank = species_ranks(prop, types)
print(f"\n{len(cores)} softest pseudoharmonic modes ({bond['n_starts']} starting dipoles; "
      f"{'all converged' if bond['modes_converged'].all() else 'NOT all converged'}):")
print(f"  median rank of kappa_i at the cores: {np.nanmedian(k_rank[cores]):.2f} (0: softest; 0.5 for random "
      f"particles); median rank of the propensity: {np.median(p_rank[cores]):.2f} (1: most mobile)")
modes = pd.DataFrame({"mode": np.arange(len(cores)), "stiffness": bond["stiffness"],
                      "participation": bond["participation"], "N_e": bond["participation"] * len(types),
                      "core": cores, "core_type": types[cores], "x_core": xi[cores, 0], "y_core": xi[cores, 1],
                      "kappa_rank_core": k_rank[cores], "propensity_rank_core": p_rank[cores]})
print(modes.to_string(index=False, float_format=lambda v: f"{v:.3g}"))

# %% tags=["hide-input"]
out_dir = data_root(size) / "figures"
particles = pd.DataFrame({"particle": np.arange(len(types)), "type": types, "x": x0[:, 0], "y": x0[:, 1],
                          "x_ihs": xi[:, 0], "y_ihs": xi[:, 1], "nr_propensity": prop, "mobility": plain[conf],
                          "kappa_i": k_field[conf], "kappa_i_rank": k_rank, "nr_propensity_rank": p_rank})
bonds = pd.DataFrame({"i": pairs[:, 0], "j": pairs[:, 1], "kappa_ij": kij})
fs_table = pd.concat([pd.DataFrame({"origins": "all", "t": corr.t, "Fs_large": fs}),
                      pd.DataFrame({"origins": "first_half", "t": check.t, "Fs_large": check.early}),
                      pd.DataFrame({"origins": "second_half", "t": check.t, "Fs_large": check.late})])
fs_table["t_over_t0"] = fs_table["t"] / run.t0
per_config = pd.DataFrame({"config": np.arange(ens.n_conf), "C_s_nr": C.per_config, "C_s_plain": C_plain.per_config,
                           **{f"C_s_nr_species{s}": v for s, v in C.per_species.items()},
                           "null_shuffle": null_shuffle.per_config, "null_other": null_other.per_config})
state = pd.DataFrame([{"model": FIG02_KEY, "N": len(types), "T": run.T, "tau_alpha": run.tau_alpha, "t0": run.t0,
                       "tau_alpha_over_t0": run.tau_alpha / run.t0, "tau_alpha_first_half": check.tau_early,
                       "tau_alpha_second_half": check.tau_late, "stationary": check.passed, "t_obs": ens.t_obs,
                       "nsteps": tasks.nsteps, "nr_cutoff": FIG02_NR_CUTOFF, "n_conf": ens.n_conf,
                       "n_runs": ens.n_runs, "n_starts": int(bond["n_starts"]), "size": size,
                       "commit": git_state()[0]}])
tables = {"state_point": (state, False), "Fs": (fs_table, False), "particles": (particles, False),
          "bonds": (bonds, False), "modes": (modes, False), "spearman": (summary, True),
          "spearman_per_config": (per_config, False)}
for name, (frame_, index) in tables.items():
    with atomic_path(out_dir / f"fig02_{size}_{name}.csv") as tmp:  # temporary file, then rename
        frame_.to_csv(tmp, index=index, float_format="%.6g")
shown = out_dir.relative_to(REPO_ROOT) if out_dir.is_relative_to(REPO_ROOT) else out_dir
print(f"plotted numbers written to {shown}/fig02_{size}_{{{','.join(tables)}}}.csv "
      f"(size {size!r}, code {git_state()[0][:12]})")

# %% [markdown]
# ## Reading this page against the paper
#
# The paper shows one configuration and says that the two fields are highly correlated, without giving a number.
# Here C_s is that number, and the shuffled control shows how far it is from chance: a positive C_s means that the
# particles with a soft local dipole stiffness are the ones that move most. The paper also says that the soft QLMs sit
# where κ is soft; the ranks of κ_i at the mode cores above test that on this configuration.
#
# Sizes. At `ci` the liquid is much hotter than T = 0.48 (τ_α of a few thousand MD steps) and the ensemble has 4
# configurations of 4 runs, so the page only exercises the code and its numbers mean little. The `default` size is the
# paper's state point, T = 0.48 with N = 400 (the size of the author's snapshot and of Fig. 1), where τ_α is very long
# (see the first table), and the modes start from every interacting pair as in the paper's Appendix B; at `ci` they
# start from the 30 softest dipoles only, which finds few distinct modes (`FIG02_STARTS`).

# %% [markdown]
# ## The claims on the summary page
#
# Criteria, as above: the correlation is reproduced when the 90 % interval of C_s lies above that of the shuffled
# control, and not reproduced when even its upper end does not; the soft QLM cores are reproduced when the 90 %
# interval of the mean κ_i rank at the cores lies below 0.5 (random particles), and not reproduced when it lies above.
# At `ci` both are recorded as not resolvable (see the sizes above).

# %% tags=["hide-input"]
from meso_kernels.analysis.stats import mean_ci
from meso_kernels.claims import decide, figure_summary, interval_test, record

above = True if C.low > null_shuffle.high else False if C.high <= null_shuffle.high else None
record("fig02.propensity_kappa", size, C.mean, C.low, C.high, verdict=decide(above, size),
       detail=f"shuffled control {null_shuffle.mean:+.3f} [{null_shuffle.low:+.3f}, {null_shuffle.high:+.3f}]; "
              f"{ens.n_conf} configurations")
core_ranks = k_rank[cores][np.isfinite(k_rank[cores])]
if core_ranks.size >= 2:
    m, lo, hi = mean_ci(core_ranks, n_resamples=n_resamples, seed=seed)
    record("fig02.qlm_cores_soft", size, m, lo, hi, verdict=decide(interval_test(lo, hi, 0.5, "below"), size),
           detail=f"{core_ranks.size} mode cores, configuration {conf}")
else:
    record("fig02.qlm_cores_soft", size, float(np.mean(core_ranks)) if core_ranks.size else np.nan,
           verdict=decide(None, size), detail=f"only {core_ranks.size} mode core(s) with a kappa_i")
print(figure_summary(2, size))

# %% [markdown]
# ## Plotted numbers and provenance
#
# The numbers drawn on this page, one row per plotted point, as CSV (`meso_kernels.report`), and what produced them:
# the run size, and the commits, dates and CPUs or GPUs recorded in the sidecars of the stored results this page read.

# %% tags=["remove-input"]
page.finish()
