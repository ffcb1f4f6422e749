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
# # Fig. 5: how often a liquid hops between inherent structures
#
# Eq. 3 ties relaxation to the stiffness of *one* inherent structure: the basin the liquid sits in while it
# vibrates. That picture presumes the liquid stays in a basin for a while. The paper's Fig. 5 checks it directly:
# follow a short stretch of equilibrium dynamics at a viscous state point, quench *every* frame to its inherent
# structure (IHS), and count how often the IHS energy U_IHS jumps. The paper finds two families: in IPL and mBLJ
# the IHS persists for many ballistic times, whereas SS and SW hop far faster than any microscopic clock — and in
# SS compressing the liquid (ρ = 0.6 → 0.95) slows the hopping by about two decades.
#
# How this page computes it:
#
# * the state points are those of Figs 10 and 11: one viscous temperature per model chosen by matching τ_α/t0
#   (`match_viscosity` on the runs of Fig. 9), and likewise for SS at three densities;
# * from the equilibrated liquid, `n_traj` trajectories separated by τ_α of dynamics are recorded with the MD step
#   δt (IPL, mBLJ) or δt/10 (SS, SW), as in the paper's footnote 83;
# * frames are quenched by conjugate gradients to max|F_i| < 1e-8, with every minimiser step capped (0.003 for IPL
#   and SS, 0.001 for mBLJ and SW: `ihs.BASIN_MAX_STEP`) so that the quench ends in the steepest-descent basin of the
#   frame; with the minimiser's usual cap of 0.1 the line search hops into neighbouring basins and consecutive frames
#   flicker between two minima, which inflates the count several-fold (a test shows it). These caps reproduce
#   gradient flow on every checked frame of IPL, SS and mBLJ at N = 1000; for SW at N = 1000 the cap 0.001 agrees
#   with gradient flow on only a minority of frames, so the SW rate is an upper bound. A transition is
#   |ΔU_IHS| > 1e-5 (extensive);
# * *every* frame is quenched, as in the paper. A cheaper scheme quenches only the ends of blocks of frames and
#   bisects the blocks whose ends differ; it never looks inside a block whose two ends share an inherent structure,
#   so a visit to a neighbouring minimum and back within the block is lost. Those quick returns are what a granular
#   landscape is made of, so bisection undercounts precisely the SS and SW rates. The table below the figure gives,
#   from the same stored frames, what bisection with blocks of 8 would have counted
#   (`ihs.bisect_transitions`);
# * time is reduced to N t / (N0 t_ballistic) with t_ballistic = 0.1 t0 (Fig. 9) and N0 = 1000, so that the rate
#   Γ t_ballistic N0/N counts the transitions a 1000-particle system makes per ballistic time; intervals are 90 %
#   bootstrap intervals over trajectories.

# %% tags=["parameters", "remove-cell"]
size = "ci"
seed = 0
backend = "cpu"  # "cuda": compute missing results on a GPU where a step has a device route (README)
models = ["ipl", "mblj", "ss0.6", "sw"]  # panel (a, b): keys of meso_kernels.statepoints
densities = ["ss0.6", "ss0.7", "ss0.95"]  # panels (c, d)
n_traj = None  # trajectories per state point; None: the size's default
duration_t0 = None  # dict: model key to trajectory length in t0; None: the size defaults
movie_frames = None  # frames per movie; None: all stored frames (ci: the first 6, a tiny movie)

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import numpy as np

from meso_kernels.analysis.ihs import bisect_transitions, reduced_rate, reduced_time
from meso_kernels.campaign import Resolver, Store, ihs_tasks, load
from meso_kernels.campaign.figures import FIG05_DURATION, fig05_trajectories, selection_liquids, viscous_points
from meso_kernels.presets import check_size
from meso_kernels.report import Page
from meso_kernels.statepoints import check_key, label

check_size(size)
page = Page("fig05", size)  # records the stored results read from here on; the last cell reports them
for k in list(models) + list(densities):
    check_key(k)
# trajectory lengths in t0 and trajectories per state point: meso_kernels.campaign.figures (FIG05_DURATION,
# FIG05_N_TRAJ), shared with `meso campaign run --figures 5`
durations = dict(FIG05_DURATION[size]) | dict(duration_t0 or {})
store = Store.for_size(size)
resolver = Resolver(store)
# computes only the missing liquids that the choice of state points reads: with a fixed target (default, paper),
# the colder points of a schedule past the first one that reaches it are not needed here
load(list(dict.fromkeys(selection_liquids(size, models, resolver, seed=seed)
                        + selection_liquids(size, densities, resolver, seed=seed))), store, backend=backend)
resolver = Resolver(store)  # sees what load just stored
results = {}


def analyse(chosen):
    todo = {key: ihs_tasks(size, key, r.T, fig05_trajectories(size, key, n_traj), durations[key], seed=seed)
            for key, r in chosen.items() if (key, r.T) not in results}
    # computes only missing trajectories
    stored = load([t for ts in todo.values() for t in ts], store, backend=backend)
    per_key = {}
    for key, ts in todo.items():
        per_key[key], stored = stored[:len(ts)], stored[len(ts):]
    for key, trajs in per_key.items():
        r = chosen[key]
        N, rho = int(trajs[0]["N"]), float(trajs[0]["rho"])
        rates = np.array([float(t["rate"]) for t in trajs])
        mean, lo, hi = reduced_rate(rates, N=N, rho=rho, T=r.T, seed=seed)
        n_bis = np.array([len(bisect_transitions(t["energies"], block=8)) for t in trajs])
        bis = reduced_rate(n_bis / np.array([float(t["duration"]) for t in trajs]), N=N, rho=rho, T=r.T, seed=seed)
        results[(key, r.T)] = dict(trajs=trajs, N=N, rho=rho, rate=mean, lo=lo, hi=hi, dyn=r, bisect=bis,
                                   n_bisect=int(n_bis.sum()),
                                   n_trans=sum(len(t["transitions"]) for t in trajs),
                                   n_quench=sum(int(t["n_quenches"]) for t in trajs),
                                   frames=sum(len(t["energies"]) for t in trajs))
        res = results[(key, r.T)]
        print(f"{label(key):>9s} T = {r.T:<6g} tau_a/t0 = {r.tau_alpha / r.t0:6.3g}: {res['n_trans']:5d} transitions "
              f"in {len(trajs)} x {durations[key]} t0 ({res['frames']} frames, {res['n_quench']} quenches); "
              f"reduced rate {mean:.3g} [{lo:.3g}, {hi:.3g}]")


target_a, chosen_a = viscous_points(size, models, resolver, seed=seed)
print(f"models at tau_alpha/t0 ~ {target_a:.3g}")
analyse(chosen_a)
target_c, chosen_c = viscous_points(size, densities, resolver, seed=seed)
print(f"SS densities at tau_alpha/t0 ~ {target_c:.3g}")
analyse(chosen_c)


# %% tags=["hide-input"]
def panel_pair(ax_traj, ax_rate, chosen, title):
    names = []
    for n, (key, r) in enumerate(chosen.items()):
        res = results[(key, r.T)]
        tr = res["trajs"][0]
        x = reduced_time(tr["times"], N=res["N"], rho=res["rho"], T=r.T)
        U = tr["energies"]
        ax_traj.step(x, (U - U[0]) / r.T, where="post", color=f"C{n}", label=f"{label(key)}, T = {r.T:g}")
        err = [[res["rate"] - res["lo"]], [res["hi"] - res["rate"]]] if np.isfinite(res["lo"]) else None
        ax_rate.errorbar([n], [max(res["rate"], 1e-4)], yerr=err, fmt="o", color=f"C{n}", capsize=3)
        names.append(label(key))
    ax_traj.set(xlabel="N t / (N0 t_ballistic)", ylabel="(U_IHS − U_IHS(0)) / T", title=title)
    ax_traj.legend(fontsize=7, frameon=False)
    ax_rate.set_yscale("log")
    ax_rate.set_xticks(range(len(names)), names, rotation=20)
    ax_rate.set(ylabel="Γ t_ballistic N0 / N", xlim=(-0.5, len(names) - 0.5))


fig, axes = plt.subplots(2, 2, figsize=(10, 7.5), gridspec_kw={"width_ratios": [2.2, 1]})
panel_pair(axes[0, 0], axes[0, 1], chosen_a, "(a) models at comparable viscosity")
panel_pair(axes[1, 0], axes[1, 1], chosen_c, "(c) SS at three densities")
axes[0, 1].set_title("(b)")
axes[1, 1].set_title("(d)")
fig.tight_layout()
page.add(fig)  # its plotted numbers, for the CSV of the last cell
plt.show()

# %% tags=["hide-input"]
def fmt(m, lo, hi):
    return f"{m:.3g} [{lo:.3g}, {hi:.3g}]" if np.isfinite(lo) else f"{m:.3g}"


print(f"{'model':>9s} {'T':>6s} {'frames':>6s} {'every frame':>11s} {'bisect 8':>8s} {'missed':>6s}   "
      f"{'rate, every frame [90 %]':>26s} {'rate, bisect 8 [90 %]':>26s}")
for (key, T), res in results.items():
    missed = 1 - res["n_bisect"] / res["n_trans"] if res["n_trans"] else 0.0
    print(f"{label(key):>9s} {T:6g} {res['frames']:6d} {res['n_trans']:11d} {res['n_bisect']:8d} {missed:6.0%}   "
          f"{fmt(res['rate'], res['lo'], res['hi']):>26s} {fmt(*res['bisect']):>26s}")

# %% [markdown]
# Transitions counted by quenching every frame against those that bisection with blocks of 8 frames reports on the
# same frames (reduced rates Γ t_ballistic N0/N with 90 % bootstrap intervals over trajectories).
#
# Left: the first trajectory of each state point, IHS energy relative to its start in units of T, against reduced
# time (zero transitions leave a flat line). Right: the reduced transition rate, mean over trajectories with 90 %
# bootstrap intervals (a rate of zero is drawn at 1e-4). The per-trajectory energies, quench counts and start
# configurations are stored in `data/ihs_trajectories/` with provenance.
#
# **Reading the result (default size).** Every frame of every trajectory was quenched (N = 1000; 8 trajectories
# per state point, 4 for SW). The two families of the paper appear: at the same τ_α/t0 the SS (ρ = 0.6) and SW
# liquids hop between inherent structures 7–11 times more often than IPL and mBLJ, and in SS the rate falls by about
# an order of magnitude from ρ = 0.6 to ρ = 0.95 at fixed τ_α/t0. The table above shows what bisection would have
# reported on the same frames: it loses 2–11 % of the IPL, mBLJ, SW and ρ = 0.6 SS transitions, but a third to
# two thirds of those of the denser SS liquids, where the rare hops come as quick visits to a neighbouring minimum
# and back. Counted by bisection, the density effect looked three times larger than it is. Two differences
# from the paper are expected and worth stating. First, the common viscosity of panel (a) is set by SW, whose
# liquid window on this machine ends near τ_α/t0 ≈ 10 (MODELS.md section 10); the paper compares deeper state
# points, where all rates are lower, so our absolute rates are higher and IPL and mBLJ are not yet an order of
# magnitude apart. Second, the trajectories are short (a fraction of t0 for SS and SW), so each rate rests on tens
# to hundreds of transitions; the intervals say how well that pins it down. At the `ci` size the liquids are hot
# and the numbers only exercise the machinery.

# %% [markdown]
# ## Movies: where and how the inherent structure changes
#
# A rate is one number; the movies below show what is being counted. Each follows the first stored trajectory of a
# state point of the figure above, one frame per quenched MD frame. Left: the inherent structure of that frame in
# the periodic box. Each particle is coloured by how far it sits from its place in the *previous* inherent
# structure (the one before the latest transition; minimum image, in units of a0 = ρ^(-1/3)), and drawn large and
# opaque once that distance reaches 0.2 a0 (the white line on the colour bar), small and faint below. So a
# transition lights up the particles that rearranged, where they are, and they stay lit until the next transition
# replaces them. Right: (U_IHS − U_IHS(0))/T against the reduced time of panel (a), with a red dot at the current
# frame and grey lines at the transitions.
#
# The movies are written by `meso_kernels.movies.render_ihs_movie` from the stored inherent-structure positions
# (float32, in the compressed `.npz` of the first trajectory of each state point), so nothing is quenched again.
# Each is an MP4 (H.264) with a GIF fallback for browsers that cannot play it.

# %% tags=["hide-input"]
import os
import time

from IPython.display import HTML, Markdown, display

from meso_kernels.movies import render_ihs_movie, video_html
from meso_kernels.store import REPO_ROOT

# jupyter-book copies _static/ of the book root into _build/html/_static/; the links below are relative to the
# executed notebook (book/executed/), which is where both Jupyter and the built page resolve them from
movie_dir = REPO_ROOT / "_static" / "movies"
page_dir = REPO_ROOT / "book" / "executed"
n_movie = movie_frames if movie_frames is not None else (6 if size == "ci" else None)
movie_points = {key: chosen_a[key] if key in chosen_a else chosen_c[key]   # SS rho = 0.6: the state point of (a)
                for key in dict.fromkeys([*models, *densities])}
blocks = []
for key, r in movie_points.items():
    res = results[(key, r.T)]
    tr = res["trajs"][0]
    start = time.perf_counter()
    out = render_ihs_movie(tr, movie_dir / f"fig05_{size}_{key}", max_frames=n_movie,
                           label=f"{label(key)}, T = {r.T:g}, N = {res['N']}")
    took = time.perf_counter() - start
    kb = {fmt: p.stat().st_size // 1024 for fmt, p in out.items()}
    n_shown = min(len(tr["energies"]), n_movie or len(tr["energies"]))
    print(f"{label(key):>9s} T = {r.T:<6g}: {n_shown} frames, {len(tr['transitions'])} transitions in the stored "
          f"trajectory; rendered in {took:.1f} s (MP4 {kb['mp4']} kB, GIF {kb['gif']} kB)")
    blocks.append(video_html(out, page_dir, caption=f"{label(key)}, T = {r.T:g}: {len(tr['transitions'])} "
                                                    f"transitions in the stored trajectory, {n_shown} frames shown"))
display(HTML("\n".join(blocks)))

# %% [markdown]
# ### How many particles a transition moves
#
# The size of a rearrangement is the number of particles that move more than 0.2 a0 between the inherent structures
# just before and just after a transition (`meso_kernels.analysis.rearrangements.rearrangement_sizes`). Below: every
# transition of the trajectories that store positions (one per state point), with the median as a bar; zero means
# that no particle moved that far.

# %% tags=["hide-input"]
import csv

from meso_kernels.analysis.rearrangements import displacements, mean_spacing, rearrangement_sizes, size_summary
from meso_kernels.io import atomic_path

rearr = {}
rows = []
for (key, T), res in results.items():
    tr = res["trajs"][0]
    if "ihs_positions" not in tr:
        continue
    X, box, trans = tr["ihs_positions"], tr["box"], tr["transitions"]
    s = rearrangement_sizes(X, box, trans, threshold=0.2)
    rearr[(key, T)] = s
    a0 = mean_spacing(X.shape[1], box)
    for k, n in zip(trans, s):
        rows.append([key, T, res["N"], int(k), int(n), f"{displacements(X, box, int(k), int(k) - 1).max() / a0:.4g}",
                     f"{abs(tr['energies'][k] - tr['energies'][k - 1]):.6g}"])

fig, ax = plt.subplots(figsize=(8, 3.6))
jitter = np.random.default_rng(seed)
for n, ((key, T), s) in enumerate(rearr.items()):
    ax.plot(n + jitter.uniform(-0.18, 0.18, s.size), s, "o", ms=4, alpha=0.7, color=f"C{n}")
    if s.size:
        ax.hlines(np.median(s), n - 0.3, n + 0.3, color="k", lw=1.5)
    else:
        ax.text(n, 0.5, "no\ntransition", ha="center", va="center", fontsize=7, color="0.4")
ax.set_yscale("symlog", linthresh=1)
ax.set_xticks(range(len(rearr)), [f"{label(k)}\nT = {T:g}" for k, T in rearr], fontsize=8)
ax.set(ylabel="particles moved > 0.2 a0\nper transition", xlim=(-0.5, len(rearr) - 0.5))
ax.set_title("(e) size of the rearrangements (one trajectory per state point)", fontsize=10)
fig.tight_layout()
page.add(fig)  # its plotted numbers, for the CSV of the last cell
plt.show()

lines = ["| model | T | N | transitions | median size | range | mean |", "|---|---|---|---|---|---|---|"]
for (key, T), s in rearr.items():
    count, med, lo, hi, mean = size_summary(s)
    spread = f"{lo}–{hi}" if count else "–"
    lines.append(f"| {label(key)} | {T:g} | {results[(key, T)]['N']} | {count} | "
                 f"{'–' if not count else f'{med:g}'} | {spread} | {'–' if not count else f'{mean:.3g}'} |")
display(Markdown("\n".join(lines)))
out_csv = store.data / "figures" / f"fig05_{size}_rearrangements.csv"
with atomic_path(out_csv) as tmp:  # temporary file, then rename
    with open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["model", "T", "N", "frame", "n_moved_0.2a0", "max_displacement_a0", "abs_dU_IHS"])
        w.writerows(rows)
print(f"per-transition sizes written to {os.path.relpath(out_csv, REPO_ROOT)}")

# %% [markdown]
# Each transition of the stored trajectories, one row per transition in the CSV written above: the frame, the
# number of particles moved beyond 0.2 a0, the largest displacement (units of a0) and |ΔU_IHS|.
#
# **Reading the movies (default size, N = 1000).** The two families of the rate panels differ in what a single
# transition is as well as in how often one happens. In IPL and mBLJ a transition moves tens to hundreds of
# particles beyond 0.2 a0 (median about 110 for IPL and 90 for mBLJ), most of them only just beyond it (mean
# displacement of the movers ≈ 0.3 a0) and spread over much of the 10 a0 box; the energy trace climbs and falls in
# steps of several T. In SS at ρ = 0.6 and in SW the inherent structure changes all the time, but a typical change
# moves no particle, or one or two, that far: the landscape is finely divided, and the liquid crosses the small
# ridges between neighbouring minima without reorganising. Compressing SS makes this flickering rarer (three
# transitions at ρ = 0.7, none at ρ = 0.95 in the stored trajectories). Our state points are far hotter than the
# paper's (τ_α/t0 ≈ 10 for the models), which is why the IPL and mBLJ transitions are large and frequent here
# rather than the isolated local events of a deeply supercooled liquid; each distribution rests on one trajectory
# (3 to 20 transitions). At the `ci` size the movies are a few frames of small, hot systems: they only check that
# the machinery works.


# %% [markdown]
# ## The claims on the summary page
#
# The paper's statements about panels (b) and (d) are ratios of reduced rates: min(SS, SW)/max(IPL, mBLJ) at least
# 1 (the order) and at least 10 (a decade), mBLJ/IPL at least 10, and SS ρ=0.6/ρ=0.95 at least 1 (the density
# trend) and above 100 (two decades). Each ratio of mean rates gets a 90 % percentile bootstrap interval, resampling
# the trajectories of the two state points independently (`analysis.stats.ratio_ci`). Criterion: a claim is
# reproduced when the whole interval lies above its bound, not reproduced when it lies below, and not resolvable
# when it contains the bound; at `ci` every one is recorded as not resolvable (the liquids are hot).

# %% tags=["hide-input"]
from meso_kernels.analysis.stats import ratio_ci
from meso_kernels.claims import decide, figure_summary, interval_test, record


def traj_rates(key, chosen):
    """Reduced rate of each trajectory of a state point."""
    res = results[(key, chosen[key].T)]
    return np.array([reduced_rate([float(t["rate"])], N=res["N"], rho=res["rho"], T=chosen[key].T)[0]
                     for t in res["trajs"]])


def rate_ratio(a, b):
    """mean(a)/mean(b) with its 90 % bootstrap interval (None without one: < 2 trajectories, or no transitions)."""
    value = np.mean(a) / np.mean(b) if np.mean(b) > 0 else (np.inf if np.mean(a) > 0 else np.nan)
    if len(a) < 2 or len(b) < 2 or not np.mean(b) > 0:
        return value, None, None
    with np.errstate(all="ignore"):
        _, lo, hi = ratio_ci(a, b, n_resamples=2000, seed=seed)
    return value, 1 + lo, (1 + hi if np.isfinite(hi) else np.inf)


def record_ratio(ids_bounds, a_key, b_key, chosen):
    value, lo, hi = rate_ratio(traj_rates(a_key, chosen), traj_rates(b_key, chosen))
    for claim_id, bound in ids_bounds:
        record(claim_id, size, value, lo, hi, verdict=decide(interval_test(lo, hi, bound), size),
               detail=f"{label(a_key)} / {label(b_key)}, bound {bound:g}, τ_α/t0 ≈ "
                      f"{chosen[a_key].tau_alpha / chosen[a_key].t0:.3g}")


fam_fast = [k for k in ("ss0.6", "sw") if k in chosen_a]
fam_slow = [k for k in ("ipl", "mblj") if k in chosen_a]
if fam_fast and fam_slow:
    mean_rate = {k: results[(k, chosen_a[k].T)]["rate"] for k in fam_fast + fam_slow}
    record_ratio([("fig05.rate_order", 1.0), ("fig05.rate_gap", 10.0)], min(fam_fast, key=mean_rate.get),
                 max(fam_slow, key=mean_rate.get), chosen_a)
if {"ipl", "mblj"} <= set(chosen_a):
    record_ratio([("fig05.rate_mblj_ipl", 10.0)], "mblj", "ipl", chosen_a)
if {"ss0.6", "ss0.95"} <= set(chosen_c):
    record_ratio([("fig05.rate_density_order", 1.0), ("fig05.rate_density_gap", 100.0)], "ss0.6", "ss0.95",
                 chosen_c)
print(figure_summary(5, size))

# %% [markdown]
# ## Plotted numbers and provenance
#
# The numbers drawn on this page, one row per plotted point, as CSV (`meso_kernels.report`), and what produced them:
# the run size, and the commits, dates and CPUs or GPUs recorded in the sidecars of the stored results this page read.

# %% tags=["remove-input"]
page.finish()
