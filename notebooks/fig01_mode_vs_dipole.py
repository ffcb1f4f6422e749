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
# # Fig. 1: a soft quasilocalised mode and the response to a force dipole
#
# The paper's argument starts from a picture: in a glass, the displacement field that answers a pair of opposite
# forces on two neighbouring particles (a *force dipole*) looks like a soft quasilocalised mode (QLM) of the same
# glass: a disordered core of a few particles with a far field that decays like an elastic (Eshelby-like) field.
# QLMs are rare and hard to extract, while dipole responses are cheap and exist for every interacting pair, which
# is why the mean dipole stiffness κ is a practical measure of how soft the glass's QLMs are.
#
# This page rebuilds the picture for the 2D IPL glass (N = 400, ρ = 0.86, quenched from the viscous liquid at
# T = 0.48) with `meso_kernels`:
#
# 1. the Hessian M of the inherent structure and the κ_ij of every interacting pair (dense pseudo-inverse);
# 2. pseudoharmonic modes (the paper's Appendix B): local minima of C(z) = (z·M·z)²/Σ_ij (z_ij·z_ij)², started
#    from the dipole responses of the pairs with the softest κ_ij, duplicates merged;
# 3. the softest mode π (left) beside the normalised response z^ij/|z^ij| to the dipole at the mode's core, the
#    interacting pair whose unit dipole d̂^ij projects most onto π (right, the dipole in red).

# %% tags=["parameters", "remove-cell"]
size = "ci"
seed = 1
backend = "cpu"  # "cuda": compute missing results on a GPU where a step has a device route (README)
temperature = 0.48  # parent temperature of the 2D IPL liquid
n_starts = None  # dipole responses used as starting points; None: the preset value for the size

# %% tags=["hide-input"]
import time

import matplotlib.pyplot as plt
import numpy as np

from meso_kernels.cuda import check_backend
from meso_kernels.dipole import dipole_matrix
from meso_kernels.initial import random_configuration
from meso_kernels.integrate import thermalize
from meso_kernels.models import get_model
from meso_kernels.modes import dipole_started_modes
from meso_kernels.presets import check_size, sizes
from meso_kernels.quench import quench
from meso_kernels.report import Page
from meso_kernels.store import REPO_ROOT, cached, data_root
from meso_kernels.system import System

check_size(size)
page = Page("fig01", size)  # records the stored results read from here on; the last cell reports them
check_backend(backend)
DATA = data_root(size)
RUN = sizes("fig01", size)["ipl2d"]
n_starts = int({"ci": 30, "default": 300, "paper": 1000}[size] if n_starts is None else n_starts)
if n_starts < 1:
    raise ValueError(f"n_starts must be a positive integer, got {n_starts}")
T = float(temperature)
model = get_model("ipl", dim=2)
RHO = 0.86
print(f"run size {size!r}, seed {seed}: 2D IPL, N = {RUN.N}, rho = {RHO}, T = {T}\n"
      f"{RUN.equil_steps} MD steps, a CG quench, pseudoharmonic modes from the {n_starts} softest dipole responses")


# %% tags=["hide-input"]
def compute():
    t0 = time.perf_counter()
    sim = thermalize(random_configuration(model, RUN.N, RHO, seed=seed), model, T, RUN.equil_steps, seed=seed,
                     progress=True, backend=backend)
    sim.run(RUN.prod_steps)
    ihs, res = quench(sim.system, model, method="cg", ftol=1e-11, max_steps=500_000)
    if not res.converged:
        raise RuntimeError(f"quench did not converge: {res.summary()}")
    # kappa_ij of every pair, then modes from the responses of the n_starts softest dipoles (the soft dipoles make
    # the best starting points); rattlers (if any) carry zero modes and are dropped
    sm = dipole_started_modes(ihs, model, n_starts=n_starts, k=12, progress=True)
    ds, t, M, inv, modes = sm.dipoles, sm.terms, sm.hessian, sm.inverse, sm.modes
    best = modes[0]
    # the dipole at the mode's core: the pair whose unit dipole projects most onto the mode
    D = dipole_matrix(t, np.arange(len(t.pairs)))
    core = int(np.argmax(np.abs(best.mode.ravel() @ D)))
    z = inv.solve(D[:, core]).reshape(t.n, 2)
    z /= np.linalg.norm(z)
    eig = np.linalg.eigvalsh(M.toarray())[2:4]
    rng = np.random.default_rng(seed)
    others = inv.solve(D[:, rng.choice(len(t.pairs), size=50, replace=False)])
    others /= np.linalg.norm(others, axis=0)

    full = sm.full  # back to all N particles (zero on rattlers)
    return {"positions": ihs.positions, "types": ihs.types, "box": ihs.box, "pairs": ds.pairs, "kappa": ds.kappa,
            "modes": np.array([full(m.mode) for m in modes]), "stiffness": np.array([m.stiffness for m in modes]),
            "participation": np.array([m.participation for m in modes]),
            "converged": np.array([m.converged for m in modes]),
            "start_pairs": sm.start_pairs, "pair": t.index[t.pairs[core]],
            "response": full(z), "kappa_pair": ds.kappa[core], "lowest_eigenvalues": eig,
            "T_kin": sim.kinetic_temperature(), "max_force": res.max_force, "wall": time.perf_counter() - t0,
            "random_overlaps": np.abs(best.mode.ravel() @ others)}


params = {"model": "ipl", "dim": 2, "N": RUN.N, "rho": RHO, "T": T, "equil_steps": RUN.equil_steps,
          "prod_steps": RUN.prod_steps, "n_starts": n_starts, "quench": "cg, max|F| < 1e-11", "k": 12}
# where each step runs (sidecar): the MD on `backend`; the CG quench, the dense kappa and the modes have no device route
steps = {"thermalize and MD": backend, "quench (CG)": "cpu", "kappa and modes (dense)": "cpu"}
r = cached("fig01_mode_vs_dipole", params, compute, seed=seed, root=DATA, backend=backend,
           extra={"backend_steps": steps} if backend != "cpu" else None)
print(f"{len(r['kappa'])} interacting pairs, <kappa> = {r['kappa'].mean():.2f}\n"
      f"{len(r['stiffness'])} distinct pseudoharmonic modes kept (all converged: {bool(r['converged'].all())})")

# %% tags=["hide-input"]
x, L, types = r["positions"], r["box"], r["types"]
pi_mode = r["modes"][0]
z = r["response"]
i, j = r["pair"]
if pi_mode.ravel() @ z.ravel() < 0:
    pi_mode = -pi_mode  # a mode's sign is arbitrary: show it aligned with the response
core = x[j]  # centre the view on the dipole, with periodic images folded around it
shown = np.mod(x - core + L / 2, L) - L / 2


HALF = min(7.0, L[0] / 2)


def field(ax, u, title):
    scale = 1.5 / np.sqrt((u * u).sum(1)).max()  # the longest arrow 1.5 particle diameters
    radius = np.where(types == 1, 0.7, 0.5)
    for (px, py), rad in zip(shown, radius):
        ax.add_patch(plt.Circle((px, py), rad, fc="0.93", ec="0.75", lw=0.5))
    ax.quiver(shown[:, 0], shown[:, 1], u[:, 0], u[:, 1], angles="xy", scale_units="xy", scale=1 / scale,
              width=0.005, color="k")
    ax.set_xlim(-HALF, HALF)  # a window around the core: the far field is small but visible
    ax.set_ylim(-HALF, HALF)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title)


fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 6.2))
field(ax, pi_mode, rf"(a) softest pseudoharmonic mode, $\lambda$ = {r['stiffness'][0]:.2f}")
field(bx, z, rf"(b) response to a force dipole, $\kappa_{{ij}}$ = {r['kappa_pair']:.2f}")
n = shown[j] - shown[i]
n /= np.linalg.norm(n)
for p, sgn in ((i, -1), (j, 1)):
    bx.annotate("", xy=shown[p] + sgn * 1.3 * n, xytext=shown[p], zorder=5,
                arrowprops=dict(arrowstyle="-|>", color="red", lw=3, mutation_scale=18))
fig.tight_layout()
page.add(fig)  # its plotted numbers, for the CSV of the last cell
plt.show()

# %% [markdown]
# ## How alike are they?
#
# The overlap |π·ẑ| of the mode with the normalised response measures the similarity the paper's figure shows by
# eye. For context: the overlap of the same mode with the responses of typical pairs elsewhere in the glass, and
# the stiffnesses λ and participation ratios e = 1/(N Σ_i |π_i|⁴) of the softest modes found (a QLM has e of a few
# particles out of N; a plane wave has e ≈ 2/3). Every λ(π) must lie above the lowest non-zero eigenvalue of M.

# %% tags=["hide-input"]
import csv

from meso_kernels.io import atomic_path

overlap = abs(pi_mode.ravel() @ z.ravel())
print(f"|pi . z_hat| at the mode's core, pair ({i}, {j}) (largest |d_ij . pi|): {overlap:.3f}")
ro = r["random_overlaps"]
print(f"|pi . z_hat| for 50 random pairs: median {np.median(ro):.3f}, largest {ro.max():.3f}")
print(f"lowest non-zero eigenvalues of M: {r['lowest_eigenvalues'].round(3).tolist()}\n"
      f"softest lambda(pi) = {r['stiffness'][0]:.3f} (must not be lower)")
print(f"{'mode':>4s} {'lambda':>8s} {'e':>6s} {'N e':>6s}  start pair")
for k, (lam, e, sp) in enumerate(zip(r["stiffness"], r["participation"], r["start_pairs"])):
    print(f"{k:4d} {lam:8.3f} {e:6.3f} {e * RUN.N:6.1f}  {tuple(int(v) for v in sp)}")
out = DATA / "fig01_mode_vs_dipole" / f"fig01_{size}_fields.csv"
with atomic_path(out) as tmp, open(tmp, "w", newline="") as fh:  # temporary file, then rename
    w = csv.writer(fh)
    w.writerow(["particle", "type", "x", "y", "mode_x", "mode_y", "response_x", "response_y"])
    for k in range(RUN.N):
        w.writerow([k, int(types[k]), *x[k], *pi_mode[k], *z[k]])
print(f"plotted numbers written to {out.relative_to(REPO_ROOT)}")

# %% [markdown]
# ## The claim on the summary page
#
# Criterion, fixed before reading the numbers: the mode and the dipole response are alike if their overlap |π·ẑ|
# exceeds the largest overlap of the same mode with the responses to the 50 random dipoles above, so that the mode
# resembles the response at its core more than any typical response. It concerns one glass, so it is applied at
# every size. The verdict goes to the claims page (`meso_kernels.claims`).

# %% tags=["hide-input"]
from meso_kernels.claims import decide, figure_summary, record
from meso_kernels.presets import SIZE_NAMES

record("fig01.mode_like_dipole", size, overlap, verdict=decide(bool(overlap > ro.max()), size, resolved_at=SIZE_NAMES),
       detail=f"50 random dipoles: median {np.median(ro):.2f}, largest {ro.max():.2f}", interval="none")
print(figure_summary(1, size))

# %% [markdown]
# ## Plotted numbers and provenance
#
# The numbers drawn on this page, one row per plotted point, as CSV (`meso_kernels.report`), and what produced them:
# the run size, and the commits, dates and CPUs or GPUs recorded in the sidecars of the stored results this page read.

# %% tags=["remove-input"]
page.finish()
