"""Small bundled glasses: inherent structures of the book's models to try ``meso mechanics`` and the "your glass"
page on, stored in ``data/examples/<name>.gsd`` (HOOMD schema, double precision) with a JSON sidecar
``<name>.json`` (the recipe below and :func:`meso_kernels.io.provenance`).

Recipe (:func:`make_example`): ``N`` particles of the model inserted at random at density ``rho``
(:func:`~meso_kernels.initial.random_configuration`, ``seed``), a Nosé–Hoover run of ``steps`` steps at the
parent temperature ``T`` (:func:`~meso_kernels.integrate.thermalize`, the model's dt and τ_NH), then a conjugate-
gradient quench to max_i |F_i| < ``ftol`` (energy/length). The parent liquids are short runs above the models'
onset temperatures: the examples are ordinary glasses to compute on, not equilibrated low-temperature ensembles.

Regenerate them with ``NUMBA_NUM_THREADS=1 python scripts/make_examples.py`` (all) or :func:`write_example`. The
recipe is fixed and seeded, so a rerun on the same machine with the same numba thread count (recorded in the
sidecar) gives the same files bit for bit; on another CPU the MD trajectory differs
after a few hundred steps (roundoff, TOOLCHAIN.md), so the glass is another one of the same kind, and its G and ⟨κ⟩
agree with the stored ones only statistically.

>>> sorted(EXAMPLES)
['ipl2d_N1600', 'ipl2d_N400', 'ipl3d_N500']
>>> example_path("ipl2d_N400").name
'ipl2d_N400.gsd'
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .store import REPO_ROOT

#: where the bundled examples live (committed; each file well under 500 kB)
EXAMPLE_DIR = REPO_ROOT / "data" / "examples"


@dataclass(frozen=True)
class ExampleRecipe:
    """How one example glass is made (units: the model's reduced units; ``steps`` MD steps of the model's dt)."""

    model: str
    options: dict = field(default_factory=dict)
    N: int = 400
    rho: float = 0.86
    T: float = 0.8
    steps: int = 20_000
    seed: int = 1
    ftol: float = 1e-11


#: the bundled examples: ``ipl2d_N400`` (the ci size of the "your glass" page), ``ipl2d_N1600`` (default) and a 3D
#: one, ``ipl3d_N500``; the 2D IPL at the density of the paper's Fig. 2 (ρ = 0.86), the 3D at its Table I density
EXAMPLES = {
    "ipl2d_N400": ExampleRecipe("ipl", {"dim": 2}, N=400, rho=0.86, T=0.8),
    "ipl2d_N1600": ExampleRecipe("ipl", {"dim": 2}, N=1600, rho=0.86, T=0.8),
    "ipl3d_N500": ExampleRecipe("ipl", {"dim": 3}, N=500, rho=0.82, T=1.0),
}


def _recipe(name):
    if isinstance(name, ExampleRecipe):
        return name
    if name not in EXAMPLES:
        raise ValueError(f"unknown example {name!r}; allowed: {', '.join(sorted(EXAMPLES))}")
    return EXAMPLES[name]


def example_path(name, folder=EXAMPLE_DIR):
    """Path of the bundled example ``name`` (a key of :data:`EXAMPLES`): ``<folder>/<name>.gsd``."""
    _recipe(name)
    return Path(folder) / f"{name}.gsd"


def make_example(recipe, backend="cpu"):
    """Make the glass of ``recipe`` (an :class:`ExampleRecipe` or a key of :data:`EXAMPLES`). Returns
    ``(System, info)``: the inherent structure and a dict (final max |F_i|, energy, quench iterations, kinetic
    temperature at the end of the MD run, wall time in s). Raises RuntimeError if the quench does not converge."""
    from .initial import random_configuration
    from .integrate import thermalize
    from .models import get_model
    from .quench import quench

    r = _recipe(recipe)
    t0 = time.perf_counter()
    model = get_model(r.model, **r.options)
    sim = thermalize(random_configuration(model, r.N, r.rho, seed=r.seed), model, r.T, r.steps, seed=r.seed,
                     backend=backend)
    ihs, res = quench(sim.system, model, method="cg", ftol=r.ftol, max_steps=500_000)
    if not res.converged:
        raise RuntimeError(f"the quench of example {recipe!r} did not converge: {res.summary()}")
    info = {"max_force": float(res.max_force), "energy": float(res.energy), "quench_iterations": int(res.n_iter),
            "T_kinetic_end": float(sim.kinetic_temperature()), "wall_time_s": time.perf_counter() - t0}
    return ihs, info


def write_example(name, folder=EXAMPLE_DIR, backend="cpu"):
    """Make the example ``name`` (:func:`make_example`) and write ``<folder>/<name>.gsd`` and ``<name>.json``
    (recipe, what the quench reached, provenance), each atomically. Returns the GSD path."""
    from .io import provenance, write_json

    r = _recipe(name)
    system, info = make_example(r, backend=backend)
    path = example_path(name, folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    system.to_gsd(path, type_names=[chr(ord("A") + k) for k in range(max(system.n_types, 2))])
    import numba

    record = {"example": name, "recipe": asdict(r), "result": info, "numba_threads": numba.get_num_threads(),
              "file": path.name, "made_by": "meso_kernels.examples.write_example (scripts/make_examples.py)",
              "provenance": provenance(asdict(r), r.seed, backend=backend, wall_time=info["wall_time_s"])}
    write_json(path.with_suffix(".json"), record)
    return path
