"""Isoconfigurational ensembles (Figs 2, 6, 7): many MD runs from one configuration with fresh velocities.

- ``iso`` (scratch), one task per configuration and batch of velocity draws: ``n_runs`` Nosé–Hoover runs of
  ``nsteps`` steps from configuration ``conf`` of a ``parents`` task
  (:func:`~meso_kernels.analysis.propensity.isoconfigurational_displacements`); stores the per-particle
  displacements (float32, n_runs x N x d).
- ``iso_mobility`` (data), one per configuration: the mobility of every particle, the mean of |Δr_i| over all
  runs of all its batches (:func:`~meso_kernels.analysis.propensity.mobility`), and with ``nr_cutoff`` the mean of
  |neighbour-relative displacement| over the runs
  (:func:`~meso_kernels.analysis.propensity.neighbour_relative_displacements`, neighbours within ``nr_cutoff`` in
  the initial configuration: Fig. 2).

Run r of batch b of configuration c draws its velocities from ``SeedSequence([seed, c, b])``, so a batch does not
depend on how many batches there are. With the execution backend ``"cuda"`` (:mod:`.execution`) the runs of an
``iso`` task are integrated on the GPU; ``iso_mobility`` (a mean over stored arrays) runs on the CPU.
"""
import numpy as np

from ..statepoints import check_key, model_for
from .mechanics import parents_task
from .task import Kind, Task, register

ISO_VERSION = 2


def _iso_compute(task, p, load, progress):
    from ..analysis.propensity import isoconfigurational_displacements
    from ..system import System
    from .execution import requested, route
    par = load(task.needs[0])
    c = p["conf"]
    system = System(np.mod(par["x"][c], par["box"]), par["box"], par["types"])
    d = isoconfigurational_displacements(system, model_for(p["key"]), p["T"], p["nsteps"], p["n_runs"],
                                         seed=[task.seed, c, p["batch"]], progress=progress,
                                         backend=route("MD (Nose-Hoover)", requested()))
    return {"displacements": d.astype(np.float32), "types": par["types"]}


register(Kind("iso", "iso_runs", "scratch", _iso_compute, work=lambda p: p["N"] * p["nsteps"] * p["n_runs"],
              default_rate=2.5e-7, doc="isoconfigurational runs: one configuration, one batch of velocity draws",
              backends=("cpu", "cuda"), unit="particle-step"))


def _mobility_compute(task, p, load, progress):
    from ..analysis.propensity import mobility
    d = np.concatenate([load(t)["displacements"].astype(float) for t in task.needs[1:]])
    par = load(task.needs[0])
    x0 = par["x"][p["conf"]]
    out = {"mobility": mobility(d), "n_runs": np.array(len(d)), "types": par["types"],
           "positions": x0.astype(np.float32), "box": par["box"]}
    if p.get("nr_cutoff") is not None:
        from ..analysis.propensity import neighbour_relative_displacements
        x0 = np.mod(x0, par["box"])
        out["nr_mobility"] = mobility(neighbour_relative_displacements(x0, x0 + d, par["box"], p["nr_cutoff"]))
    return out


register(Kind("iso_mobility", "iso_mobility", "data", _mobility_compute, work=lambda p: p["N"] * p["n_runs"],
              default_rate=1e-7, doc="per-particle mobility of one configuration"))


def iso_tasks(key, T, N, equil_steps, liquid_steps, prod_steps, n_conf, n_batches, runs_per_batch, nsteps, seed=0):
    """The ``iso_mobility`` tasks of ``n_conf`` configurations of model ``key`` at temperature ``T``, sampled from the
    liquid like the parents of a mechanics ensemble (:func:`~meso_kernels.campaign.mechanics.mechanics_tasks`, same
    arguments: the same configurations for the same arguments), each with ``n_batches`` x ``runs_per_batch`` runs of
    ``nsteps`` MD steps (the paper: t = τ_α / 10)."""
    check_key(key)
    parents = parents_task(key, T, N, equil_steps, liquid_steps, prod_steps, n_conf, seed=seed)
    return iso_from(parents, n_batches, runs_per_batch, nsteps, seed=seed)


def iso_from(parents, n_batches, runs_per_batch, nsteps, nr_cutoff=None, seed=0):
    """The ``iso_mobility`` task of every configuration of the ``parents`` task ``parents``
    (:func:`~meso_kernels.campaign.mechanics.parents_from`): ``n_batches`` x ``runs_per_batch`` runs of ``nsteps``
    MD steps each; ``nr_cutoff`` (length, or None): also the neighbour-relative mobility with that neighbour
    distance."""
    if parents.kind != "parents":
        raise ValueError(f"parents must be a parents task, got {parents.label()}")
    for name, v, lo in (("n_batches", n_batches, 1), ("runs_per_batch", runs_per_batch, 1), ("nsteps", nsteps, 0)):
        if isinstance(v, bool) or int(v) != v or v < lo:
            raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")
    if nr_cutoff is not None and not (np.isfinite(nr_cutoff) and nr_cutoff > 0):
        raise ValueError(f"nr_cutoff must be a positive length or None, got {nr_cutoff!r}")
    pp = parents.params
    out = []
    for c in range(int(pp["n_conf"])):
        common = {"key": pp["key"], "T": float(pp["T"]), "N": int(pp["N"]), "parents": parents.static_key, "conf": c,
                  "nsteps": int(nsteps), "version": ISO_VERSION}
        batches = [Task.make("iso", {**common, "batch": b, "n_runs": int(runs_per_batch)}, seed=seed,
                             needs=(parents,)) for b in range(int(n_batches))]
        extra = {} if nr_cutoff is None else {"nr_cutoff": float(nr_cutoff)}
        out.append(Task.make("iso_mobility", {**common, **extra, "n_runs": int(n_batches * runs_per_batch)},
                             seed=seed, needs=(parents, *batches)))
    return out
