"""Inherent-structure trajectories (Fig. 5; task kind ``ihs``, stored in ``<data>/ihs_trajectories/``).

Trajectory k of a state point is one task. It needs the liquid at that state point (trajectory 0 starts from its
final configuration, and the spacing between starts is its τ_α) and trajectory k − 1 (trajectory k starts τ_α of NVT
dynamics after the start of k − 1), so a state point's trajectories form a chain while state points run in
parallel.
"""
import numpy as np

from ..statepoints import check_key, model_for, schedule
from .liquid import StatePointDynamics, final_system, scheduled_liquid
from .task import Kind, Task, register

#: bump when the IHS-trajectory computation changes in a way that changes stored results
IHS_VERSION = 4


def _frames(key, T, duration_t0):
    from ..analysis.ihs import ihs_time_step
    from ..analysis.units import t0
    model = model_for(key)
    dt = ihs_time_step(model)
    return int(round(duration_t0 * t0(model.state_point.rho, T, model.dim) / dt)) + 1, dt


def _resolve(task, load):
    """Store parameters: the task's, with the spacing between starts (τ_α of the stored liquid, or 10 t0 if the
    liquid's run was too short to reach it) in MD steps."""
    p = task.params
    dyn = StatePointDynamics(p["key"], load(task.needs[0]))
    spacing = dyn.tau_alpha if np.isfinite(dyn.tau_alpha) else 10 * dyn.t0
    nframes = int(round(p["duration_t0"] * dyn.t0 / p["dt"])) + 1
    return {**p, "nframes": nframes, "spacing_steps": max(1, int(round(spacing / dyn.model.state_point.dt)))}


def _compute(task, p, load, progress):
    from ..analysis.ihs import IHSTrajectory, record_trajectory
    from ..integrate import NoseHoover
    from ..system import System
    model = model_for(p["key"])
    sp = model.state_point
    k, T = p["index"], p["T"]
    if k == 0:
        start = final_system(load(task.needs[0]))
    else:  # tau_alpha of NVT dynamics on from the start of the previous trajectory
        prev = load(task.needs[1])
        s = System(prev["start_positions"], prev["box"], prev["types"], prev["start_velocities"])
        sim = NoseHoover(s, model, dt=sp.dt, T=T, tau=sp.tau_nh)
        sim.run(p["spacing_steps"])
        start = sim.system
    traj = record_trajectory(start, model, T, p["nframes"], dt=p["dt"], seed=k)
    res = IHSTrajectory(model, eps=p["eps"], ftol=p["ftol"], mode=p["mode"], max_step=p["max_step"],
                        keep_positions=p["keep_positions"]).compute(traj, progress=progress)
    extra = {"ihs_positions": res.positions} if p["keep_positions"] else {}
    return {"energies": res.energies, "times": res.times, "quenched": res.quenched,
            "transitions": res.transitions, "n_quenches": np.array(res.n_quenches),
            "n_unconverged": np.array(res.n_unconverged), "rate": np.array(res.rate),
            "duration": np.array(res.duration), "wall_time": np.array(res.wall_time),
            "start_positions": start.positions, "start_velocities": start.velocities,
            "types": start.types, "box": start.box, "T": np.array(float(T)), "rho": np.array(sp.rho),
            "N": np.array(start.N), "max_step": np.array(p["max_step"]), **extra}


def _work(p):
    """Quenched frames x N (a quench costs about the same per particle in every frame)."""
    nframes = p.get("nframes") or _frames(p["key"], p["T"], p["duration_t0"])[0]
    return nframes * p["N"]


register(Kind("ihs", "ihs_trajectories", "data", _compute, resolve=_resolve, work=_work, default_rate=2e-4,
              doc="inherent-structure trajectory, every frame quenched"))


def ihs_tasks(size, key, T, n_traj, duration_t0, seed=0, max_step=None, keep_positions=1):
    """The ``n_traj`` chained IHS-trajectory tasks of model ``key`` at the scheduled temperature T (see the module
    docstring), each ``duration_t0`` t0 long, every frame quenched
    (:class:`~meso_kernels.analysis.ihs.IHSTrajectory` mode "all"); ``max_step`` caps every minimiser step (default:
    the model's :data:`~meso_kernels.analysis.ihs.BASIN_MAX_STEP`); the first ``keep_positions`` trajectories also
    store the inherent-structure positions of every frame (``ihs_positions``, float32)."""
    from ..analysis.ihs import IHSTrajectory
    check_key(key)
    if isinstance(n_traj, bool) or int(n_traj) != n_traj or n_traj < 1:
        raise ValueError(f"n_traj must be a positive integer, got {n_traj!r}")
    if not (np.isfinite(duration_t0) and duration_t0 > 0):
        raise ValueError(f"duration_t0 must be a positive duration in units of t0, got {duration_t0!r}")
    if isinstance(keep_positions, bool) or int(keep_positions) != keep_positions or keep_positions < 0:
        raise ValueError(f"keep_positions must be an integer >= 0 (how many trajectories keep their IHS positions), "
                         f"got {keep_positions!r}")
    liquid = scheduled_liquid(size, key, T, seed=seed)
    model = model_for(key)
    max_step = IHSTrajectory(model, max_step=max_step).max_step  # resolves the default, validates an override
    dt = _frames(key, T, duration_t0)[1]
    tasks = []
    for k in range(int(n_traj)):
        params = {"key": key, "T": float(T), "N": schedule(size, key).N, "dynamics_seed": seed, "index": k,
                  "duration_t0": float(duration_t0), "dt": dt, "mode": "all", "eps": 1e-5, "ftol": 1e-8,
                  "max_step": max_step, "keep_positions": bool(k < keep_positions), "version": IHS_VERSION}
        needs = (liquid,) if k == 0 else (liquid, tasks[-1])
        tasks.append(Task.make("ihs", params, seed=seed, needs=needs))
    return tasks


def ihs_trajectories(size, key, T, n_traj, duration_t0, seed=0, root=None, max_step=None, keep_positions=1,
                     progress=False, backend="cpu"):
    """Fig. 5: the stored results of :func:`ihs_tasks` (computed first where missing, serially), a list of dicts
    (energies, times, transitions, n_quenches, rate, duration, start configuration, and ``ihs_positions`` where
    kept). What bisection would have found follows from the stored energies
    (:func:`~meso_kernels.analysis.ihs.bisect_transitions`). ``root``: the data folder (default: that of ``size``).
    ``backend``: how missing results are computed (:mod:`~meso_kernels.campaign.execution`: the liquid on the GPU
    with ``"cuda"``; the trajectories themselves have no device route and run on the CPU)."""
    from .runner import load
    from .task import Store
    tasks = ihs_tasks(size, key, T, n_traj, duration_t0, seed=seed, max_step=max_step,
                      keep_positions=keep_positions)
    return load(tasks, Store.for_size(size, data=root), progress=progress, backend=backend)
