"""Campaigns: the expensive runs behind the figures, each stored once per parameter set with its provenance
(:func:`meso_kernels.store.cached`), so that a killed campaign resumes at the first state point not yet stored.

- :func:`equilibrium_dynamics` — one liquid state point: equilibrate, then measure F_s, MSD, α2 and P(|Δr|) on the fly
  (:class:`~meso_kernels.analysis.logtime.LogTimeCorrelator`); keeps the final configuration so that later campaigns
  (IHS trajectories, isoconfigurational ensembles) start from an equilibrated liquid.
- :func:`dynamics` — the same, cached under ``<root>/dynamics/`` for a scheduled state point
  (:mod:`meso_kernels.statepoints`).

>>> from meso_kernels.campaign import equilibrium_dynamics
>>> out = equilibrium_dynamics("ipl", T=1.2, N=256, equil_steps=500, prod_steps=2000, seed=1)
>>> corr = correlator(out)
>>> bool(corr.fs[1][0] > 0.9 and corr.msd_total[-1] > corr.msd_total[0])
True
"""
import time

import numpy as np

from .analysis.logtime import LogTimeCorrelator
from .statepoints import check_key, model_for, schedule
from .store import cached, data_root

#: bump when the computation below changes in a way that changes its stored results
DYNAMICS_VERSION = 1


def equilibrium_dynamics(key, T, N, equil_steps, prod_steps, seed=0, max_lag=None, n_open=10,
                         points_per_decade=10, progress=False):
    """Equilibrate model ``key`` (:func:`meso_kernels.statepoints.model_for`) at temperature T (NVT, the model's δt
    and τ_NH, N particles at its Table-I density, random start of seed ``seed``) for ``equil_steps`` MD steps, then
    run ``prod_steps`` steps accumulating the correlators at q = q_max of the large species.

    The lag grid ends at ``max_lag`` steps (default: half the production run); origins open every
    ``max_lag / n_open`` steps, so about ``prod_steps / max_lag * n_open`` origins enter the average at short lags
    and at least ``n_open`` at the longest.

    Returns a dict of arrays: the correlator sums (:meth:`LogTimeCorrelator.to_arrays`), ``T``, ``rho``, ``N``, the
    steps, ``kinetic_temperature`` and ``potential_energy`` (per particle) sampled at each origin, and the final
    configuration ``final_positions``, ``final_velocities``, ``types``, ``box``.
    """
    from .initial import random_configuration
    from .integrate import thermalize
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
    system = random_configuration(model, int(N), sp.rho, seed=seed)
    sim = thermalize(system, model, T, int(equil_steps), seed=seed, progress=progress)
    corr = LogTimeCorrelator(q=sp.qmax[model.large], dt=sp.dt, max_lag=max_lag,
                             origin_interval=max(1, max_lag // int(n_open)), points_per_decade=points_per_decade)
    kin, pot = [], []

    def sample(s):
        kin.append(s.kinetic_temperature())
        pot.append(s.potential_energy() / s.N)

    corr.run(sim, int(prod_steps), progress=progress, on_origin=sample)
    final = sim.system
    out = corr.to_arrays()
    out.update(T=np.array(float(T)), rho=np.array(sp.rho), N=np.array(int(N)), equil_steps=np.array(int(equil_steps)),
               prod_steps=np.array(int(prod_steps)), kinetic_temperature=np.array(kin),
               potential_energy=np.array(pot), final_positions=final.positions, final_velocities=final.velocities,
               types=final.types, box_final=final.box, wall_time=np.array(time.perf_counter() - t_start),
               n_neighbour_builds=np.array(sim.ff.nl.n_builds))
    return out


def correlator(arrays):
    """The :class:`LogTimeCorrelator` stored in a result of :func:`equilibrium_dynamics` (or :func:`dynamics`)."""
    return LogTimeCorrelator.from_arrays(arrays)


def final_system(arrays):
    """The final equilibrated configuration (with velocities) of a stored dynamics result."""
    from .system import System
    return System(arrays["final_positions"], arrays["box_final"], arrays["types"], arrays["final_velocities"])


def dynamics(size, key, T, seed=0, root=None, progress=False):
    """:func:`equilibrium_dynamics` at a scheduled state point (:func:`meso_kernels.statepoints.schedule`), cached
    under ``<root>/dynamics`` (``root`` defaults to :func:`meso_kernels.store.data_root` of ``size``)."""
    sched = schedule(size, key)
    pt = sched.at(T)
    params = {"key": key, "T": pt.T, "N": sched.N, "equil_steps": pt.equil_steps, "prod_steps": pt.prod_steps,
              "version": DYNAMICS_VERSION}
    root = data_root(size) if root is None else root
    return cached("dynamics", params,
                  lambda: equilibrium_dynamics(key, pt.T, sched.N, pt.equil_steps, pt.prod_steps, seed=seed,
                                               progress=progress),
                  seed=seed, root=root)


class StatePointDynamics:
    """Derived observables of one stored dynamics result (model key, T): the reduced units a0 and t0, τ_α of the
    large species (F_s(q_max, τ_α) = 0.2; NaN with :attr:`note` set if the run was too short) and D of the large
    species from the long-time MSD (NaN with a note if the MSD is not diffusive in the last decade of lags).

    Attributes: key, T, model, corr (:class:`LogTimeCorrelator`), a0, t0, tau_alpha, D, note."""

    def __init__(self, key, arrays):
        from .analysis.msd import diffusion_coefficient
        from .analysis.units import a0, t0
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


#: bump when the IHS-trajectory computation changes in a way that changes stored results
IHS_VERSION = 4


def ihs_trajectories(size, key, T, n_traj, duration_t0, seed=0, root=None, max_step=None, keep_positions=1,
                     progress=False):
    """Fig. 5: ``n_traj`` inherent-structure trajectories of model ``key`` at the scheduled temperature T, each
    ``duration_t0`` t0 long, recorded with :func:`~meso_kernels.analysis.ihs.ihs_time_step`, with *every* frame
    quenched (:class:`~meso_kernels.analysis.ihs.IHSTrajectory` in mode "all"): the transition count is the paper's.
    What bisection would have found follows from the stored energies
    (:func:`~meso_kernels.analysis.ihs.bisect_transitions`).

    Trajectory 0 starts from the final configuration of the stored :func:`dynamics` run at (key, T); trajectory k
    starts after τ_α of NVT dynamics (model δt) from the start of trajectory k − 1, so the starts are nearly
    independent equilibrium configurations. Each trajectory is cached on its own under ``<root>/ihs_trajectories``
    (a killed campaign resumes at the first missing one). ``max_step`` caps every minimiser step (default: the
    model's :data:`~meso_kernels.analysis.ihs.BASIN_MAX_STEP`) and is part of the stored parameters. The first
    ``keep_positions`` trajectories also store the inherent-structure positions of every frame (``ihs_positions``,
    float32, 4 F N d bytes each) for pictures and movies. Returns a list of dicts (energies, times, transitions,
    n_quenches, rate, duration, start configuration, and ``ihs_positions`` where kept)."""
    from .analysis.ihs import IHSTrajectory, ihs_time_step, record_trajectory
    from .integrate import NoseHoover
    from .system import System

    if isinstance(n_traj, bool) or int(n_traj) != n_traj or n_traj < 1:
        raise ValueError(f"n_traj must be a positive integer, got {n_traj!r}")
    if not (np.isfinite(duration_t0) and duration_t0 > 0):
        raise ValueError(f"duration_t0 must be a positive duration in units of t0, got {duration_t0!r}")
    if isinstance(keep_positions, bool) or int(keep_positions) != keep_positions or keep_positions < 0:
        raise ValueError(f"keep_positions must be an integer >= 0 (how many trajectories keep their IHS positions), "
                         f"got {keep_positions!r}")
    root = data_root(size) if root is None else root
    dyn = StatePointDynamics(key, dynamics(size, key, T, seed=seed, root=root))
    model, sp = dyn.model, dyn.model.state_point
    dt_ihs = ihs_time_step(model)
    max_step = IHSTrajectory(model, max_step=max_step).max_step  # resolves the default, validates an override
    nframes = int(round(duration_t0 * dyn.t0 / dt_ihs)) + 1
    spacing = dyn.tau_alpha if np.isfinite(dyn.tau_alpha) else 10 * dyn.t0
    spacing_steps = max(1, int(round(spacing / sp.dt)))
    sched = schedule(size, key)
    out = []
    for k in range(int(n_traj)):
        params = {"key": key, "T": float(T), "N": sched.N, "dynamics_seed": seed, "index": k,
                  "duration_t0": float(duration_t0), "nframes": nframes, "dt": dt_ihs, "spacing_steps": spacing_steps,
                  "mode": "all", "eps": 1e-5, "ftol": 1e-8, "max_step": max_step,
                  "keep_positions": bool(k < keep_positions), "version": IHS_VERSION}

        def compute(k=k):
            if k == 0:
                start = final_system(dyn.arrays)
            else:  # tau_alpha of NVT dynamics on from the start of the previous trajectory (run only when computing)
                prev = out[-1]
                s = System(prev["start_positions"], prev["box"], prev["types"], prev["start_velocities"])
                sim = NoseHoover(s, model, dt=sp.dt, T=T, tau=sp.tau_nh)
                sim.run(spacing_steps)
                start = sim.system
            traj = record_trajectory(start, model, T, nframes, dt=dt_ihs, seed=k)
            res = IHSTrajectory(model, eps=1e-5, ftol=1e-8, mode="all", max_step=max_step,
                                keep_positions=k < keep_positions).compute(traj, progress=progress)
            extra = {"ihs_positions": res.positions} if k < keep_positions else {}
            return {"energies": res.energies, "times": res.times, "quenched": res.quenched,
                    "transitions": res.transitions, "n_quenches": np.array(res.n_quenches),
                    "n_unconverged": np.array(res.n_unconverged), "rate": np.array(res.rate),
                    "duration": np.array(res.duration), "wall_time": np.array(res.wall_time),
                    "start_positions": start.positions, "start_velocities": start.velocities,
                    "types": start.types, "box": start.box, "T": np.array(float(T)), "rho": np.array(sp.rho),
                    "N": np.array(start.N), "max_step": np.array(max_step), **extra}

        out.append(cached("ihs_trajectories", params, compute, seed=seed, root=root))
    return out


def structure_factor_peak(runs, q_range=(3.0, 10.0), bins=120, q_max=12.0):
    """q_max check (MODELS.md section 9, Table I): the first peak of S(q) of the large species, pooled over the final
    configurations of the stored runs ``runs`` (a list of :class:`StatePointDynamics` of one model, one box).
    Returns ``(q_peak, n_configurations)``; :class:`~meso_kernels.analysis.sq.StructureFactor` (freud) computes S(q)."""
    from .analysis.sq import StructureFactor
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
