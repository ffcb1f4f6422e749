"""Liquid state points (task kind ``liquid``, stored in ``<data>/dynamics/``) and what is derived from them.

- :func:`equilibrium_dynamics` — one liquid state point: equilibrate, then measure F_s, MSD, α2 and P(|Δr|) on the fly
  (:class:`~meso_kernels.analysis.logtime.LogTimeCorrelator`); keeps the final configuration so that later tasks
  (IHS trajectories, mechanics parents, isoconfigurational ensembles) start from an equilibrated liquid.
- :func:`liquid_task` — that computation as a campaign task; :func:`dynamics` — its stored result at a scheduled state
  point (:mod:`meso_kernels.statepoints`), computed first if missing.
- :class:`StatePointDynamics`, :func:`match_viscosity`, :func:`structure_factor_peak`: what the figures derive.
"""
import time

import numpy as np

from ..analysis.logtime import LogTimeCorrelator
from ..statepoints import check_key, model_for, schedule
from .task import Kind, Task, register

#: bump when the computation below changes in a way that changes its stored results
DYNAMICS_VERSION = 1


#: with a checkpoint, the equilibration runs in blocks of this many steps, with a wall-clock check between them
#: (splitting a Nosé–Hoover run into blocks leaves its trajectory bitwise the same, meso_kernels.integrate)
EQUIL_BLOCK = 1000


def equilibrium_dynamics(key, T, N, equil_steps, prod_steps, seed=0, max_lag=None, n_open=10,
                         points_per_decade=10, progress=False, n_blocks=2, start=None, relax_start=True,
                         checkpoint=None, backend="cpu"):
    """Equilibrate model ``key`` (:func:`meso_kernels.statepoints.model_for`) at temperature T (NVT, the model's δt
    and τ_NH, N particles at its Table-I density, random start of seed ``seed``) for ``equil_steps`` MD steps, then
    run ``prod_steps`` steps accumulating the correlators at q = q_max of the large species.

    ``start``: the stored result of another run of the same model and N (a hotter state point, say) whose final
    configuration replaces the random start (velocities are redrawn at T): cooling step by step equilibrates a deep
    state point in a few τ_α. ``relax_start=False`` uses that configuration as it is (no loose FIRE quench first:
    a liquid configuration has no overlaps, and a quench would leave it lower in energy than the liquid).
    ``n_blocks``: blocks of time origins kept apart for the stationarity check
    (:func:`~meso_kernels.analysis.logtime.equilibration_check` needs >= 4).

    The lag grid ends at ``max_lag`` steps (default: half the production run); origins open every
    ``max_lag / n_open`` steps, so about ``prod_steps / max_lag * n_open`` origins enter the average at short lags
    and at least ``n_open`` at the longest.

    Returns a dict of arrays: the correlator sums (:meth:`LogTimeCorrelator.to_arrays`), ``T``, ``rho``, ``N``, the
    steps, ``kinetic_temperature`` and ``potential_energy`` (per particle) sampled at each origin, and the final
    configuration ``final_positions``, ``final_velocities``, ``types``, ``box``.

    ``checkpoint``: a :class:`~meso_kernels.campaign.checkpoint.Checkpoint` (the campaign's ``execute`` provides
    one to every ``liquid`` task). The run then starts from the checkpoint it finds there (one of this task: key,
    parameters, seed and numba thread count are checked) and writes one whenever :meth:`Checkpoint.due` says so
    (every 10 minutes of wall time by default): during the equilibration between blocks of :data:`EQUIL_BLOCK`
    steps, during production at the correlator's event boundaries (:meth:`LogTimeCorrelator.resume`). A
    checkpoint holds the Nosé–Hoover integrator (:meth:`~meso_kernels.integrate.NVE.state`: positions in their
    internal order with image counts, velocities and the pending thermostat scaling, forces, chain variables,
    step, and the neighbour list with its pairs in their build order, so that the force sums after a resume run
    in the same order), the correlator (:meth:`LogTimeCorrelator.state`: sums, open origins with their positions
    and next lags, origins opened, run start and end), the energy and temperature samples, the phase
    (equilibration or production) and its step, and the wall time spent so far (``wall_time`` then counts every
    attempt up to its last checkpoint). Resumed on the same machine with the same number of numba threads, the
    result is bit-identical to that of an uninterrupted run (``wall_time`` aside); with or without a checkpoint,
    an uninterrupted run gives the same arrays.

    ``backend``: ``"cpu"`` (default) or ``"cuda"``: the relaxing FIRE quench and the Nosé–Hoover MD run on the GPU
    (:func:`meso_kernels.integrate.thermalize`; the correlators are accumulated on the host from position copies
    at the time origins and lags). The device integrator does not reach the CPU's trajectory bit for bit (another
    summation order), so the result is a different, equally valid sample of the same state point. Checkpoints need
    the integrator's ``state()``/``from_state()``: where the device integrator lacks them, ``checkpoint`` is not
    used (a warning says so, and inside a campaign task the sidecar's ``backend_fallbacks`` records it), and a
    killed task starts again; a checkpoint records its backend and is resumed only on the same one.
    """
    from ..initial import random_configuration
    from ..integrate import thermalize
    check_key(key)
    model = model_for(key)
    sp = model.state_point
    for name, v in (("N", N), ("prod_steps", prod_steps)):
        if int(v) != v or v < 2:
            raise ValueError(f"{name} must be an integer >= 2, got {v!r}")
    if int(equil_steps) != equil_steps or equil_steps < 0:
        raise ValueError(f"equil_steps must be an integer >= 0, got {equil_steps!r}")
    if not (np.isfinite(T) and T > 0):
        raise ValueError(f"T must be a positive temperature, got {T!r}")
    max_lag = int(prod_steps // 2) if max_lag is None else int(max_lag)
    if not 1 <= max_lag <= prod_steps:
        raise ValueError(f"max_lag must lie in [1, prod_steps = {prod_steps}], got {max_lag}")
    t_start = time.perf_counter()
    equil_steps, prod_steps = int(equil_steps), int(prod_steps)
    from .execution import check, route
    check(backend)
    integrator = nose_hoover_class(backend)
    ckpt = usable_checkpoint(checkpoint, integrator, backend)
    restored = _restore(ckpt, model, int(N), equil_steps, prod_steps, integrator, backend) \
        if ckpt is not None else None
    if restored is None:
        if start is None:
            system = random_configuration(model, int(N), sp.rho, seed=seed)
        else:
            system = final_system(start)
            if system.N != int(N) or abs(system.N / np.prod(system.box) - sp.rho) > 1e-9 * sp.rho:
                raise ValueError(f"start holds {system.N} particles at density "
                                 f"{system.N / np.prod(system.box):.6g}; this run needs N = {N} at rho = {sp.rho}")
        relax = 1.0 if (start is None or relax_start) else None
        if relax is not None:
            route("relax quench (FIRE)", backend)
        # with a checkpoint the equilibration runs below, in blocks (the same trajectory)
        sim = thermalize(system, model, T, 0 if ckpt is not None else equil_steps, seed=seed, relax_ftol=relax,
                         progress=progress and ckpt is None, backend=backend)
        corr, kin, pot, wall_before = None, [], [], 0.0
    else:
        sim, corr, kin, pot, wall_before = restored
    route("MD (Nose-Hoover)", backend)

    def sample(s):
        kin.append(s.kinetic_temperature())
        pot.append(s.potential_energy() / s.N)

    on_boundary = None
    if ckpt is not None:
        ckpt.start(sim.step)

        def save(phase):
            arrays = {f"sim.{k}": v for k, v in sim.state().items()}
            if corr is not None:
                arrays.update({f"corr.{k}": v for k, v in corr.state().items()})
            arrays.update(kinetic_temperature=np.array(kin, dtype=float), potential_energy=np.array(pot, dtype=float))
            ckpt.save(arrays, sim.step, wall_before + time.perf_counter() - t_start, phase=phase, backend=backend)

        if sim.step < equil_steps:
            bar = None
            if progress:
                from tqdm.auto import tqdm
                bar = tqdm(total=equil_steps, initial=sim.step, desc="equilibration", unit="step")
            block = ckpt.every_steps or EQUIL_BLOCK
            while sim.step < equil_steps:
                n = min(block, equil_steps - sim.step)
                sim.run(n)
                if bar is not None:
                    bar.update(n)
                if sim.step < equil_steps and ckpt.due(sim.step):
                    save("equilibration")
            if bar is not None:
                bar.close()

        def on_boundary(s):
            if ckpt.due(s.step):
                save("production")
            return False

    if corr is None:
        corr = LogTimeCorrelator(q=sp.qmax[model.large], dt=sp.dt, max_lag=max_lag,
                                 origin_interval=max(1, max_lag // int(n_open)), points_per_decade=points_per_decade,
                                 n_blocks=n_blocks)
        corr.run(sim, prod_steps, progress=progress, on_origin=sample, on_boundary=on_boundary)
    else:
        corr.resume(sim, progress=progress, on_origin=sample, on_boundary=on_boundary)
    final = sim.system
    out = corr.to_arrays()
    out.update(T=np.array(float(T)), rho=np.array(sp.rho), N=np.array(int(N)), equil_steps=np.array(equil_steps),
               prod_steps=np.array(prod_steps), kinetic_temperature=np.array(kin),
               potential_energy=np.array(pot), final_positions=final.positions, final_velocities=final.velocities,
               types=final.types, box_final=final.box,
               wall_time=np.array(wall_before + time.perf_counter() - t_start),
               n_neighbour_builds=np.array(sim.ff.nl.n_builds))
    return out


def nose_hoover_class(backend):
    """The Nosé–Hoover integrator class of ``backend``: :class:`~meso_kernels.integrate.NoseHoover` on the CPU, the
    device one (:class:`~meso_kernels.cuda.integrate.DeviceNoseHoover`) for ``"cuda"``; the class whose
    ``state()``/``from_state()`` a checkpoint needs (:func:`usable_checkpoint`, :func:`restore_md`)."""
    if backend == "cuda":
        from ..cuda.integrate import DeviceNoseHoover
        return DeviceNoseHoover
    from ..integrate import NoseHoover
    return NoseHoover


def usable_checkpoint(checkpoint, integrator, backend):
    """``checkpoint`` if it is given and enabled and the integrator class ``integrator`` (the one the run uses on
    ``backend``) has ``state()``/``from_state()``, else None. Where the integrator lacks them (the device one), a
    warning says that checkpoints are off and the current task's sidecar records it in ``backend_fallbacks``
    (:func:`~meso_kernels.campaign.execution.fallback`); a killed run then starts again. Shared by the kinds with
    checkpoints (``liquid``, ``parents``)."""
    from .execution import fallback
    ckpt = checkpoint if checkpoint is not None and checkpoint.enabled else None
    if ckpt is not None and not (callable(getattr(integrator, "state", None))
                                 and callable(getattr(integrator, "from_state", None))):
        import warnings
        why = (f"off: the {backend} integrator {integrator.__name__} has no state()/from_state(), so this run "
               "writes no checkpoint and a killed run starts again")
        if ckpt.path.is_file():
            why += f" (the checkpoint {ckpt.path} of an earlier attempt is not used)"
        warnings.warn(f"checkpoints are {why}; use backend='cpu' for checkpoints", stacklevel=3)
        fallback("checkpoints", why)
        ckpt = None
    return ckpt


def restore_md(ckpt, integrator, model, N, backend, read):
    """Shared by the kinds with checkpoints (``liquid``, ``parents``): the checkpoint ``ckpt`` loaded
    (:meth:`~meso_kernels.campaign.checkpoint.Checkpoint.load`), its MD integrator restored with the class
    ``integrator``'s ``from_state`` from the ``sim.*`` arrays and checked (written on ``backend``, ``N`` particles, at
    the step its meta record names), then ``read(sim, arrays, meta)`` (the kind's own checks; a tuple). Returns
    ``(sim, *read(...), wall time so far)``, or None when there is no checkpoint or anything is wrong with it (``read``
    raising included): a warning says why, and the task starts afresh."""
    found = ckpt.load()
    if found is None:
        return None
    arrays, meta = found
    try:
        if meta.get("backend", "cpu") != backend:
            raise ValueError(f"it was written with backend={meta.get('backend')!r}, this run has "
                             f"backend={backend!r}")
        sim = integrator.from_state({k[4:]: v for k, v in arrays.items() if k.startswith("sim.")}, model)
        if sim.N != N or sim.step != meta.get("step"):
            raise ValueError(f"it holds {sim.N} particles at step {sim.step} (this task: {N} particles)")
        rest = tuple(read(sim, arrays, meta))
    except Exception as exc:  # whatever is wrong with it, a checkpoint must never stop the task
        ckpt.reject(f"{type(exc).__name__}: {exc}")
        return None
    return (sim, *rest, float(meta.get("wall_time_s", 0.0)))


def _restore(ckpt, model, N, equil_steps, prod_steps, integrator=None, backend="cpu"):
    """(integrator, correlator or None, kinetic-temperature samples, energy samples, wall time so far) from the
    checkpoint of this run, or None (none there, or unusable: a warning says why). ``integrator``: the class whose
    ``from_state`` restores it (default :class:`~meso_kernels.integrate.NoseHoover`); a checkpoint written with
    another ``backend`` is not used (:func:`restore_md`)."""
    if integrator is None:
        from ..integrate import NoseHoover as integrator

    def read(sim, arrays, meta):
        corr_state = {k[5:]: v for k, v in arrays.items() if k.startswith("corr.")}
        corr = LogTimeCorrelator.from_state(corr_state) if corr_state else None
        phase = meta.get("phase")
        if phase == "equilibration":
            if corr is not None or not sim.step < equil_steps:
                raise ValueError(f"an equilibration checkpoint at step {sim.step} of {equil_steps}")
        elif phase == "production":
            if corr is None or not corr.in_progress or corr._loop["end"] != equil_steps + prod_steps:
                raise ValueError("a production checkpoint without the correlator's run in progress")
        else:
            raise ValueError(f"unknown phase {phase!r}")
        kin = np.asarray(arrays["kinetic_temperature"], dtype=float).tolist()
        pot = np.asarray(arrays["potential_energy"], dtype=float).tolist()
        return corr, kin, pot

    return restore_md(ckpt, integrator, model, N, backend, read)


def correlator(arrays):
    """The :class:`LogTimeCorrelator` stored in a result of :func:`equilibrium_dynamics` (or :func:`dynamics`)."""
    return LogTimeCorrelator.from_arrays(arrays)


def final_system(arrays):
    """The final equilibrated configuration (with velocities) of a stored dynamics result."""
    from ..system import System
    return System(arrays["final_positions"], arrays["box_final"], arrays["types"], arrays["final_velocities"])


def _liquid_compute(task, p, load, progress, checkpoint=None):
    """The ``liquid`` kind's compute: :func:`equilibrium_dynamics` of the task's parameters, with ``checkpoint``
    (default: the one ``execute`` provides, :func:`~meso_kernels.campaign.checkpoint.current`) and the backend
    ``execute`` was given (:func:`~meso_kernels.campaign.execution.requested`)."""
    from .checkpoint import current
    from .execution import requested
    if checkpoint is None:
        checkpoint = current(task)
    start = load(task.needs[0]) if p.get("start") else None
    return equilibrium_dynamics(p["key"], p["T"], p["N"], p["equil_steps"], p["prod_steps"], seed=task.seed,
                                progress=progress, n_blocks=p.get("blocks", 2), start=start,
                                n_open=p.get("n_open", 10), relax_start=p.get("relax_start", True),
                                checkpoint=checkpoint, backend=requested())


register(Kind("liquid", "dynamics", "data", _liquid_compute,
              work=lambda p: p["N"] * (p["equil_steps"] + p["prod_steps"]), default_rate=2.5e-7,
              doc="equilibrium liquid: F_s, MSD and the final configuration", checkpoint=True,
              backends=("cpu", "cuda"), unit="particle-step"))


def liquid_task(key, T, N, equil_steps, prod_steps, seed=0, blocks=2, start=None, n_open=10, relax_start=True):
    """The task of one liquid state point (:func:`equilibrium_dynamics`), stored in ``<data>/dynamics/``.
    ``start``: the liquid task whose final configuration it starts from (None: a random start), with
    ``relax_start``; ``blocks``: blocks of time origins; ``n_open``: time origins per longest lag (the
    parameters record these only when they differ from the defaults, so older results keep their keys)."""
    check_key(key)
    params = {"key": key, "T": float(T), "N": int(N), "equil_steps": int(equil_steps),
              "prod_steps": int(prod_steps), "version": DYNAMICS_VERSION}
    if blocks != 2:
        params["blocks"] = int(blocks)
    if n_open != 10:
        params["n_open"] = int(n_open)
    needs = ()
    if start is not None:
        if start.kind != "liquid" or start.params["key"] != key or start.params["N"] != int(N):
            raise ValueError(f"start must be a liquid task of {key} with N = {N}, got {start.label()}")
        params["start"] = start.static_key
        if not relax_start:
            params["relax_start"] = False
        needs = (start,)
    return Task.make("liquid", params, seed=seed, needs=needs)


def scheduled_liquid(size, key, T, seed=0):
    """:func:`liquid_task` at a scheduled state point (:func:`meso_kernels.statepoints.schedule`); a point marked
    ``cooled`` starts from the final configuration of the scheduled point before it."""
    sched = schedule(size, key)
    pt = sched.at(T)
    start = None
    if pt.cooled:
        i = sched.points.index(pt)
        if i == 0:
            raise ValueError(f"the first state point of {key} at size {size!r} cannot be cooled from another")
        start = scheduled_liquid(size, key, sched.points[i - 1].T, seed=seed)
    return liquid_task(key, pt.T, sched.N, pt.equil_steps, pt.prod_steps, seed=seed, blocks=pt.blocks,
                       start=start, n_open=pt.n_open, relax_start=not pt.cooled)


def dynamics(size, key, T, seed=0, root=None, progress=False, backend="cpu"):
    """The stored :func:`equilibrium_dynamics` result at a scheduled state point, computed first if missing (with
    ``backend``, :mod:`~meso_kernels.campaign.execution`). ``root``: the data folder (default
    :func:`meso_kernels.store.data_root` of ``size``)."""
    from .runner import load_one
    from .task import Store
    return load_one(scheduled_liquid(size, key, T, seed=seed), Store.for_size(size, data=root), progress=progress,
                    backend=backend)


class StatePointDynamics:
    """Derived observables of one stored dynamics result (model key, T): the reduced units a0 and t0, τ_α of the
    large species (F_s(q_max, τ_α) = 0.2; NaN with :attr:`note` set if the run was too short) and D of the large
    species from the long-time MSD (NaN with a note if the MSD is not diffusive in the last decade of lags).

    Attributes: key, T, model, corr (:class:`LogTimeCorrelator`), a0, t0, tau_alpha, D, note."""

    def __init__(self, key, arrays):
        from ..analysis.msd import diffusion_coefficient
        from ..analysis.units import a0, t0
        self.key = key
        self.model = model_for(key)
        self.arrays = arrays
        self.T = float(arrays["T"])
        rho = float(arrays["rho"])
        self.corr = correlator(arrays)
        dim = self.corr.dim
        self.a0, self.t0 = a0(rho, dim), t0(rho, self.T, dim)
        notes = []
        try:
            self.tau_alpha = self.corr.tau_alpha(self.model.large)
        except ValueError as err:
            self.tau_alpha = float("nan")
            notes.append(str(err))
        try:
            self.D = diffusion_coefficient(self.corr.t, self.corr.msd[self.model.large], dim=dim)
        except ValueError as err:
            self.D = float("nan")
            notes.append(str(err))
        self.note = "; ".join(notes)

    @property
    def large(self):
        return self.model.large

    def __repr__(self):
        return (f"StatePointDynamics({self.key}, T={self.T}: tau_alpha/t0={self.tau_alpha / self.t0:.3g}, "
                f"D t0/a0^2={self.D * self.t0 / self.a0 ** 2:.3g})")


def match_viscosity(runs, target=None):
    """Pick one state point per model at comparable viscosity (paper Appendix D 2, Figs 10–11).

    runs: dict key -> list of :class:`StatePointDynamics`. target: the τ_α/t0 to match; None takes the largest
    value every model reaches (the minimum over models of their largest finite τ_α/t0). Returns ``(target, chosen)``
    with chosen a dict key -> the state point whose τ_α/t0 is closest to the target in ln τ.

    >>> class R:                                    # stand-ins with the two attributes used
    ...     def __init__(self, T, tau): self.T, self.tau_alpha, self.t0 = T, tau, 1.0
    >>> target, chosen = match_viscosity({"a": [R(1, 3), R(0.8, 30)], "b": [R(2, 5), R(1.5, 20), R(1, 300)]})
    >>> target, chosen["a"].T, chosen["b"].T
    (30.0, 0.8, 1.5)
    """
    if not runs:
        raise ValueError("runs is empty: give at least one model's state points")
    reach = {}
    for key, rs in runs.items():
        taus = [r.tau_alpha / r.t0 for r in rs if np.isfinite(r.tau_alpha)]
        if not taus:
            raise ValueError(f"no state point of {key!r} has a finite tau_alpha: run longer or hotter")
        reach[key] = max(taus)
    target = float(min(reach.values())) if target is None else float(target)
    if not target > 0:
        raise ValueError(f"target must be a positive tau_alpha/t0, got {target!r}")
    chosen = {}
    for key, rs in runs.items():
        finite = [r for r in rs if np.isfinite(r.tau_alpha)]
        chosen[key] = min(finite, key=lambda r: abs(np.log(r.tau_alpha / r.t0 / target)))
    return target, chosen


def structure_factor_peak(runs, q_range=(3.0, 10.0), bins=120, q_max=12.0):
    """q_max check (MODELS.md section 9, Table I): the first peak of S(q) of the large species, pooled over the final
    configurations of the stored runs ``runs`` (a list of :class:`StatePointDynamics` of one model, one box).
    Returns ``(q_peak, n_configurations)``; :class:`~meso_kernels.analysis.sq.StructureFactor` (freud) computes S(q)."""
    from ..analysis.sq import StructureFactor
    if not runs:
        raise ValueError("runs is empty: give the state points of one model")
    large = runs[0].large
    systems = [final_system(r.arrays) for r in runs]
    sq = StructureFactor(q_max=q_max, bins=bins).compute(systems, pairs=[(large, large)])
    return sq.first_peak(species=large, q_range=q_range)[0], len(systems)


def structure_factor_table(runs, label=str, reference="Table I"):
    """Text table of :func:`structure_factor_peak` for several models: ``runs`` is a dict key -> list of
    :class:`StatePointDynamics`; each row gives the S(q) peak, the q_max used for F_s (the paper's table) and their
    relative difference. ``label`` turns a key into a row name."""
    lines = [f"{'model':>10s} {'q_max S(q)':>10s} {reference:>9s} {'diff':>7s}  configurations"]
    for key, rs in runs.items():
        q_peak, n_conf = structure_factor_peak(rs)
        q_table = rs[0].corr.q
        lines.append(f"{label(key):>10s} {q_peak:10.2f} {q_table:9.2f} {100 * (q_peak / q_table - 1):+6.1f}%  "
                     f"{n_conf} (N = {int(rs[0].arrays['N'])})")
    return "\n".join(lines)
