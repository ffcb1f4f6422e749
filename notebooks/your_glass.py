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
# # Your own glass: G, the local κ field and the softest modes
#
# The figure pages compute everything for the paper's models at the paper's state points. This page does the same
# analysis for **one configuration of your own**: a 2D or 3D glass of one of the built-in models, stored in a GSD
# file or an extended XYZ file (e.g. exported from OVITO or LAMMPS). Run as it stands, it analyses a small bundled
# example, a 2D inverse-power-law (IPL) glass (`data/examples/`, made by `scripts/make_examples.py`): 400 particles
# at the `ci` size, 1600 at `default`.
#
# What it computes, from the Hessian M of the inherent structure (the energy minimum the configuration is in):
#
# - the athermal shear modulus G, as the affine (Born) part minus the non-affine relaxation (the paper's Eq. A1);
# - for every interacting pair ij, the dipole stiffness κ_ij: push the two particles apart along their bond with a
#   unit force dipole d̂^ij, solve M z^ij = d̂^ij for the linear response, and take κ_ij = d̂^ij·z^ij / (z^ij·z^ij),
#   the stiffness felt by that response (Eqs. A2–A4); the local κ_i of a particle is the mean of κ_ij over its pairs,
#   and ⟨κ⟩ the mean over all pairs;
# - the three softest *pseudoharmonic modes* (the paper's Appendix B): minima of a cost that rewards small
#   stiffness and strong localisation, started from the responses of the softest dipoles. Each mode π has a
#   stiffness λ = π·M·π, a frequency ω = √λ (unit masses) and a participation ratio e (N e ≈ how many particles
#   move).
#
# G and κ come from the same library function as the `meso mechanics` command (`meso_kernels.mechanics.analyse`);
# the page prints the command that gives the same numbers, with a provenance header, in three files.
#
# **To analyse your own glass**, execute the page with your file as a parameter, for instance
#
# ```bash
# python scripts/run_notebooks.py your_glass -p config my_glass.gsd -p model ipl -p options dim=2
# ```
#
# (the executed notebook replaces this page in `book/executed/your_glass.ipynb`; `bash scripts/build_book.sh
# your_glass -p config ...` also rebuilds the HTML), or open `notebooks/your_glass.py` in Jupyter and edit the
# parameters cell. Parameters: `config` (the file; `None`: the bundled example),
# `frame` (which frame of a trajectory file), `model` and `options` (`meso models` lists them; options as a dict
# or as text `key=value,key=value`), `quench` (`True`: always minimise the energy first; `False`: only when the
# configuration is not an inherent structure, which the page checks and says), `n_random` and `seed` (κ for a
# random subset of pairs instead of all), `n_starts` (how many soft dipoles start a mode search), `out_dir`
# (where the page writes; nothing is written elsewhere).

# %% tags=["parameters", "remove-cell"]
size = "ci"
config = None  # your configuration: a .gsd, .xyz or .extxyz file; None: the bundled example of this size
frame = -1  # frame of config to read (negative: from the end)
model = "ipl"  # model name (meso models lists them)
options = {"dim": 2}  # model options as a dict, or as text (see above)
quench = False  # True: always quench first; False: quench only if config is not an inherent structure
seed = 1  # seed of the random pair selection (used with n_random only)
n_random = None  # kappa_ij for this many random pairs; None: every interacting pair
n_starts = None  # soft dipoles that start a mode search; None: the value for the size
out_dir = "build/your_glass"  # where this page writes (its plotted numbers); nothing else is written
backend = "cpu"  # "cuda": the G and kappa solves on a GPU

# %% tags=["hide-input"]
import time
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm

from meso_kernels.cuda import check_backend
from meso_kernels.examples import example_path
from meso_kernels.initial import contact_distances
from meso_kernels.mechanics import analyse, command_line, describe_system, parse_options
from meso_kernels.models import get_model
from meso_kernels.modes import dipole_started_modes
from meso_kernels.plots import mode_arrows, particle_map
from meso_kernels.presets import check_size
from meso_kernels.report import Page
from meso_kernels.store import REPO_ROOT
from meso_kernels.system import System, file_format, read_type_names

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm.auto without ipywidgets: no bars shown here
check_size(size)
check_backend(backend)
OUT = Path(out_dir) if Path(out_dir).is_absolute() else REPO_ROOT / out_dir
page = Page("your_glass", size, out_dir=OUT)
EXAMPLE = {"ci": "ipl2d_N400", "default": "ipl2d_N1600", "paper": "ipl2d_N1600"}[size]
n_starts = int({"ci": 40, "default": 60, "paper": 1000}[size] if n_starts is None else n_starts)
if n_starts < 1:
    raise ValueError(f"n_starts must be a positive integer, got {n_starts}")

path = example_path(EXAMPLE) if config is None else Path(config)
if not path.exists():
    raise FileNotFoundError(f"config: no such file: {str(path)!r} (give a .gsd, .xyz or .extxyz file, or None for "
                            f"the bundled example)")
if path.is_dir():
    raise IsADirectoryError(f"config: {str(path)!r} is a folder; give a .gsd, .xyz or .extxyz file")
file_format(path)  # a clear error for an unknown suffix, before reading
system = System.read(path, frame=int(frame))
names = read_type_names(path, int(frame))
full_path = path.resolve()
shown_path = full_path.relative_to(REPO_ROOT) if full_path.is_relative_to(REPO_ROOT) else full_path
print(f"read {shown_path} (frame {frame}{', the bundled example ' + EXAMPLE if config is None else ''}):")
print(f"  {describe_system(system, names)}")
options = parse_options(options)
mdl = get_model(model, **options)  # an unknown model or option: the error lists the allowed ones
try:
    system.check_model(mdl)
except ValueError as exc:
    raise ValueError(f"config and model do not match: {exc}; choose model/options for a {system.dim}D configuration "
                     f"with {system.n_types} species (e.g. model='ipl', options={{'dim': {system.dim}}})") from None
print(f"  model {mdl.describe()}; its state point has density {mdl.state_point.rho:g}")

# %% [markdown]
# ## G and the dipole stiffnesses
#
# First the force check: G and κ are properties of an energy minimum, so the configuration must have
# max_i |F_i| below 10⁻⁸ (in the model's force units). If it does not, it is quenched (conjugate gradients) and the
# rest of the page analyses the inherent structure it reaches.

# %% tags=["hide-input"]
t0 = time.perf_counter()
mech = analyse(system, mdl, quench=True if quench else "auto", n_random=n_random,
               seed=seed if n_random is not None else None, backend=backend, log=print)
ihs = mech.system
print(("quenched: " if mech.quenched else "no quench: ")
      + ("asked for (quench=True)" if quench else
         f"max |F_i| = {mech.initial_max_force:.2e} {'exceeds' if mech.quenched else 'is within'} the tolerance "
         f"{mech.settings['force_tol']:g}"))
print(mech.summary())
dunits = f"energy/length^{ihs.dim}"
s = mech.shear
print(f"\nG = {s.G:.4f} {dunits} = Born {s.born:.4f} - non-affine {s.nonaffine:.4f}")
ratio = f"; <kappa>/G = {mech.kappa_mean / s.G:.3g}" if ihs.dim == 2 else ""  # same units in 2D only
print(f"<kappa> = {mech.kappa_mean:.4f} energy/length^2 over {mech.dipoles.kappa.size} pairs{ratio} "
      f"({time.perf_counter() - t0:.1f} s)")
cmd = command_line(shown_path, mdl, quench=mech.quenched, n_random=n_random,
                   seed=seed if n_random is not None else None, frame=int(frame))
print(f"\nthe same G and kappa from the command line (three files with provenance next to the input; --out-dir DIR "
      f"to put them elsewhere):\n  {cmd}")

# %% [markdown]
# ## The local κ field
#
# Left: each particle coloured by its local κ_i on a logarithmic scale (a 3D glass: the particles of a slab one
# large diameter thick through the middle of the box). Rattlers, particles with too few interacting pairs to be held
# in place, are left grey: they carry no κ. Right: the distribution of κ_ij over the pairs, whose mean is the ⟨κ⟩ of
# the paper.

# %% tags=["hide-input"]
diam = np.diag(contact_distances(mdl))[ihs.types]  # drawn diameters: where each species' pair energy is ~1
lk = mech.local_kappa
kappa = mech.dipoles.kappa
good = kappa[kappa > 0]
norm = LogNorm(*np.nanpercentile(lk[lk > 0], [1, 99]))
slab = float(diam.max()) if ihs.dim == 3 else None

fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 5.4), gridspec_kw={"width_ratios": [1.15, 1]})
pc, drawn = particle_map(ax, ihs.positions, ihs.box, lk, diam, norm=norm, cmap="viridis", thickness=slab)
fig.colorbar(pc, ax=ax, label="κ_i (energy/length²)", extend="both")
ax.set_title(f"(a) local κ_i, N = {ihs.N}" + (f", slab of {drawn.sum()} particles, |z - L/2| ≤ {slab / 2:.2g}"
                                               if ihs.dim == 3 else ""))
bins = np.geomspace(good.min(), good.max(), 41)
hist, edges = np.histogram(good, bins=bins, density=True)
centres = np.sqrt(edges[1:] * edges[:-1])
bx.plot(centres, hist, drawstyle="steps-mid", color="k", label="κ_ij")
bx.axvline(mech.kappa_mean, color="C3", ls="--", label=f"⟨κ⟩ = {mech.kappa_mean:.3g}")
bx.axvline(np.median(kappa), color="C0", ls=":", label=f"median = {np.median(kappa):.3g}")
bx.set(xscale="log", yscale="log", xlabel="κ_ij (energy/length²)", ylabel="probability density",
       title=f"(b) {kappa.size} pairs")
bx.legend(frameon=False)
fig.tight_layout()
page.add(fig)
plt.show()
n_rat = int(mech.dipoles.rattlers.sum())
print(f"kappa_i from {np.nanmin(lk):.3g} to {np.nanmax(lk):.3g}; colour scale: 1st to 99th percentile; "
      f"{n_rat} rattler{'s' if n_rat != 1 else ''} (grey)")

# %% [markdown]
# ## The three softest pseudoharmonic modes
#
# Mode searches start from the responses z^ij of the `n_starts` pairs of lowest κ_ij; duplicates are merged and
# the three softest distinct modes are drawn as arrows on the particles around their cores (the particle that
# moves most), in a window of the glass (a 3D glass: the slab through the core, in-plane components). Their
# stiffness λ lies above the lowest non-zero eigenvalue of M; a quasilocalised mode has a small N e (tens of
# particles), a plane wave N e ≈ 2N/3. The dense pseudo-inverse used here needs (N d)² × 8 bytes of memory.

# %% tags=["hide-input"]
t0 = time.perf_counter()
if ihs.N * ihs.dim > 20_000:
    raise MemoryError(f"N d = {ihs.N * ihs.dim}: the mode search's dense pseudo-inverse would need "
                      f"{(ihs.N * ihs.dim) ** 2 * 8 / 1e9:.1f} GB; use meso_kernels.modes.softest_modes with "
                      f"starting vectors from conjugate-gradient solves instead")
sm = dipole_started_modes(ihs, mdl, n_starts=min(n_starts, int(mech.dipoles.kappa.size)), k=3, terms=mech.terms,
                          force_tol=mech.settings["force_tol"])
modes = sm.modes
cores = sm.cores
print(f"{sm.n_starts} mode searches, {len(modes)} distinct softest modes kept ({time.perf_counter() - t0:.1f} s)")
if len(modes) < 3:
    print(f"only {len(modes)} distinct mode{'s' if len(modes) != 1 else ''}: the searches fell into the same soft "
          f"spot{'s' if len(modes) != 1 else ''}; a larger n_starts finds more")
print(f"{'mode':>4s} {'lambda':>9s} {'omega':>7s} {'e':>7s} {'N e':>7s} {'core':>6s}  converged  start pair")
for k, (m, c, sp) in enumerate(zip(modes, cores, sm.start_pairs)):
    print(f"{k + 1:4d} {m.stiffness:9.4f} {np.sqrt(m.stiffness):7.4f} {m.participation:7.4f} "
          f"{m.participation * ihs.N:7.1f} {int(c):6d}  {str(m.converged):9s}  {tuple(int(v) for v in sp)}")

half = float(min(8.0, ihs.box.min() / 2))
fig, axes = plt.subplots(1, len(modes), figsize=(4.6 * len(modes), 4.8), squeeze=False)
for k, (ax, m, c) in enumerate(zip(axes[0], modes, cores)):
    field = sm.full(m.mode)
    mode_arrows(ax, ihs.positions, ihs.box, field, diam, centre=ihs.positions[c], half_width=half,
                thickness=slab)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"mode {k + 1}: λ = {m.stiffness:.3g}, ω = {np.sqrt(m.stiffness):.3g}, N e = "
                 f"{m.participation * ihs.N:.0f}", fontsize=10)
fig.tight_layout()
page.add(fig)
plt.show()

# %% [markdown]
# ## Plotted numbers and provenance
#
# The numbers drawn on this page, one row per plotted point, as CSV (written under `out_dir`), and what produced
# them.

# %% tags=["remove-input"]
page.finish()
