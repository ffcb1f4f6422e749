"""Local ensembles (Figs 2, 6(b, c) and 7): the local dipole stiffness κ_i of the inherent structure under each of
``n_conf`` equilibrium configurations, and the isoconfigurational mobility of every particle of the same
configurations.

At one stored liquid state point (a :class:`~meso_kernels.campaign.liquid.StatePointDynamics`):

- the parents continue the scheduled liquid and sample ``n_conf`` configurations ``spacing`` τ_α apart
  (:func:`~meso_kernels.campaign.mechanics.parents_from`);
- each is quenched and κ_ij of all its interacting pairs gives κ_i, the mean over the pairs of i (Eq. A4;
  :func:`~meso_kernels.campaign.mechanics.ensemble_from` with ``local=True``);
- from each, ``n_batches`` x ``runs_per_batch`` NVT runs with fresh Maxwell–Boltzmann velocities last
  t_obs = ``t_obs`` x τ_α (the paper: τ_α/10 for Figs 6-7, τ_α/6 for Fig. 2) and give the mobility <|Δr_i|>
  (:func:`~meso_kernels.campaign.iso.iso_from`).

Both depend on τ_α, so they are declared once the liquid is stored. :func:`local_ensemble` returns everything as one
:class:`LocalEnsemble`.

Fig. 2 (:func:`fig02_tasks`, :func:`fig02_ensemble`): the same at the 2D IPL state point (T = 0.48), with t_obs =
τ_α/6 and the neighbour-relative mobility, plus the ``bond_map`` task (data) of one configuration: κ_ij of every
interacting pair of its inherent structure and its softest pseudoharmonic modes (:func:`bond_map_task`).

Units: T in energy units; τ_α, t_obs, t0 in the model's time unit; κ_i in energy/length²; mobility in length.

>>> from meso_kernels.campaign.local import LOCAL_ENSEMBLE, local_size
>>> local_size("ci")["n_conf"], local_size("default")["n_conf"], local_size("paper")["n_conf"]
(4, 48, 240)
"""
from dataclasses import dataclass

import numpy as np

from ..presets import check_size
from ..statepoints import check_key, model_for
from .iso import iso_from
from .liquid import scheduled_liquid
from .mechanics import ensemble_from, parent_quench, parents_from
from .task import Kind, Task, register

#: per size: configurations, batches x runs per batch of isoconfigurational runs, spacing of the configurations in
#: τ_α and the random pairs per inherent structure of the mechanics task (κ_i itself uses all pairs). The paper:
#: 240 x 20 per SS density.
LOCAL_ENSEMBLE = {"ci": {"n_conf": 4, "n_batches": 1, "runs_per_batch": 4, "spacing": 0.5, "n_pairs": 10},
                  "default": {"n_conf": 48, "n_batches": 2, "runs_per_batch": 5, "spacing": 1.0, "n_pairs": 10},
                  "paper": {"n_conf": 240, "n_batches": 4, "runs_per_batch": 5, "spacing": 1.0, "n_pairs": 10}}
#: observation time of the mobility in units of τ_α, per figure
T_OBS = {"6": 0.1, "7": 0.1, "2": 1 / 6}


def local_size(size, **overrides):
    """The :data:`LOCAL_ENSEMBLE` entry of ``size`` with ``overrides`` (None values ignored); ValueError naming a
    bad one."""
    check_size(size)
    out = dict(LOCAL_ENSEMBLE[size])
    for name, v in overrides.items():
        if name not in out:
            raise ValueError(f"unknown local-ensemble parameter {name!r}; allowed: {', '.join(out)}")
        if v is not None:
            out[name] = v
    for name in ("n_conf", "n_batches", "runs_per_batch", "n_pairs"):
        v = out[name]
        if isinstance(v, bool) or int(v) != v or v < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
    if not (np.isfinite(out["spacing"]) and out["spacing"] > 0):
        raise ValueError(f"spacing must be a positive number of tau_alpha, got {out['spacing']!r}")
    return out


@dataclass(frozen=True)
class LocalTasks:
    """The tasks of one local ensemble: ``mechanics`` (κ_i per configuration) and ``mobility`` (one
    ``iso_mobility`` task per configuration), with the MD steps they were declared with."""
    mechanics: object
    mobility: tuple
    nsteps: int
    interval: int

    @property
    def targets(self):
        return [self.mechanics, *self.mobility]


def local_tasks(size, run, t_obs, seed=0, nr_cutoff=None, **overrides):
    """The :class:`LocalTasks` at the stored liquid state point ``run`` (a
    :class:`~meso_kernels.campaign.liquid.StatePointDynamics` of a scheduled temperature).

    t_obs: observation time of the mobility in units of τ_α (> 0). nr_cutoff: neighbour distance (length) of the
    neighbour-relative mobility, or None. overrides: n_conf, n_batches, runs_per_batch, spacing, n_pairs (see
    :data:`LOCAL_ENSEMBLE`)."""
    e = local_size(size, **overrides)
    if isinstance(t_obs, bool) or not (np.isfinite(t_obs) and t_obs > 0):
        raise ValueError(f"t_obs must be a positive fraction of tau_alpha, got {t_obs!r}")
    tau = float(run.tau_alpha)
    if not (np.isfinite(tau) and tau > 0):
        raise ValueError(f"the liquid of {run.key} at T = {run.T:g} has no tau_alpha ({run.note}); a local "
                         "ensemble needs it")
    dt = run.model.state_point.dt
    nsteps = max(1, int(round(t_obs * tau / dt)))
    interval = max(1, int(round(e["spacing"] * tau / dt)))
    liquid = scheduled_liquid(size, run.key, run.T, seed=seed)
    parents = parents_from(liquid, interval * int(e["n_conf"]), int(e["n_conf"]), seed=seed)
    mech = ensemble_from(parents, int(e["n_pairs"]), local=True, seed=seed)
    mob = iso_from(parents, int(e["n_batches"]), int(e["runs_per_batch"]), nsteps, nr_cutoff=nr_cutoff, seed=seed)
    return LocalTasks(mech, tuple(mob), nsteps, interval)


@dataclass
class LocalEnsemble:
    """One local ensemble as arrays (configuration c, particle i).

    key, size, T; tau_alpha, t0, t_obs (time); local_kappa (n_conf, N): κ_i of the inherent structure of each
    configuration (NaN for rattlers); mobility (n_conf, N): <|Δr_i(t_obs)|> over the isoconfigurational runs;
    nr_mobility (n_conf, N) or None: the same for neighbour-relative displacements; positions (n_conf, N, d): the
    configurations the runs start from; box (d,); types (N,); n_runs: runs per configuration; kappa_mean: the
    mean κ_ij of each inherent structure (random pairs); model."""
    key: str
    size: str
    T: float
    tau_alpha: float
    t0: float
    t_obs: float
    local_kappa: np.ndarray
    mobility: np.ndarray
    nr_mobility: object
    positions: np.ndarray
    box: np.ndarray
    types: np.ndarray
    n_runs: int
    kappa_mean: np.ndarray
    model: object

    @property
    def n_conf(self):
        return self.local_kappa.shape[0]

    @property
    def large(self):
        """The large species (the one the paper's mobile/immobile populations are drawn from)."""
        return self.model.large


def load_local(size, run, tasks, store, progress=True, backend="cpu"):
    """Load (computing what is missing, with ``backend``: :mod:`~meso_kernels.campaign.execution`) the
    :class:`LocalTasks` ``tasks`` declared at ``run`` into a :class:`LocalEnsemble`."""
    from .runner import load
    arrays = load(tasks.targets, store, progress=progress, backend=backend)
    mech, mob = arrays[0], arrays[1:]
    nr = [m.get("nr_mobility") for m in mob]
    dt = run.model.state_point.dt
    return LocalEnsemble(
        key=run.key, size=size, T=run.T, tau_alpha=float(run.tau_alpha), t0=float(run.t0), t_obs=tasks.nsteps * dt,
        local_kappa=np.asarray(mech["local_kappa"], dtype=float),
        mobility=np.array([m["mobility"] for m in mob], dtype=float),
        nr_mobility=None if any(v is None for v in nr) else np.array(nr, dtype=float),
        positions=np.array([m["positions"] for m in mob], dtype=float), box=np.asarray(mob[0]["box"], dtype=float),
        types=np.asarray(mob[0]["types"]), n_runs=int(mob[0]["n_runs"]),
        kappa_mean=np.asarray(mech["kappa_mean"], dtype=float), model=run.model)


def density_points(size, resolver, seed=0):
    """``{key: StatePointDynamics}`` of the SS densities at the state points Fig. 11 compares (τ_α/t0 matched;
    :func:`~meso_kernels.campaign.figures.viscous_points`), or None while a liquid they are chosen from is missing."""
    from .figures import DENSITIES, viscous_points
    chosen = viscous_points(size, DENSITIES, resolver, seed=seed)
    return None if chosen is None else chosen[1]


def fig07_tasks(size, resolver, seed=0, **overrides):
    """Figs 6(b, c) and 7: the liquids the SS state points are chosen from, and the local ensemble (t_obs = τ_α/10)
    at each chosen point once they are stored. Returns (tasks, pending lines)."""
    from .figures import DENSITIES, selection_liquids
    tasks = list(selection_liquids(size, DENSITIES, resolver, seed=seed))
    points = density_points(size, resolver, seed=seed)
    if points is None:
        return tasks, [f"local ensembles of {', '.join(DENSITIES)}: declared once their liquids are stored"]
    for key, run in points.items():
        tasks += local_tasks(size, run, T_OBS["7"], seed=seed, **overrides).targets
    return tasks, []


def local_ensemble(size, key, seed=0, store=None, compute_missing=True, progress=True, backend="cpu", **overrides):
    """The :class:`LocalEnsemble` of SS density ``key`` (ss0.6, ss0.7 or ss0.95) at its Fig. 11 state point, with
    t_obs = τ_α/10 (Figs 6(b, c), 7). Missing results are computed first (serially, with ``backend``:
    :mod:`~meso_kernels.campaign.execution`) unless ``compute_missing=False``, which raises
    :class:`~meso_kernels.campaign.task.CampaignError` naming the command that computes them."""
    from .execution import check
    check(backend)
    from .figures import DENSITIES
    from .runner import Plan, load
    from .task import CampaignError, Resolver, Store
    check_key(key)
    if key not in DENSITIES:
        raise ValueError(f"key must be one of the SS densities {', '.join(DENSITIES)}, got {key!r}")
    store = store or Store.for_size(size)
    resolver = Resolver(store)
    points = density_points(size, resolver, seed=seed)
    if points is None:
        from .figures import selection_liquids
        liquids = selection_liquids(size, DENSITIES, resolver, seed=seed)
        if not compute_missing:
            raise CampaignError(f"the SS liquids at size {size!r} are not all stored: run `meso campaign run --size "
                                f"{size} --figures 7` (or pass compute_missing=True)")
        load(liquids, store, progress=progress, backend=backend)
        points = density_points(size, resolver, seed=seed)
    run = points[key]
    tasks = local_tasks(size, run, T_OBS["7"], seed=seed, **overrides)
    if not compute_missing and Plan(tasks.targets, store, order=False).needed:
        raise CampaignError(f"the local ensemble of {key} at size {size!r} is not stored: run `meso campaign run "
                            f"--size {size} --figures 7 --models {key}` (or pass compute_missing=True)")
    return load_local(size, run, tasks, store, progress=progress, backend=backend)


# --- Fig. 2: the 2D IPL liquid at T = 0.48, its local ensemble and the bond map of one configuration ----------------
#: the model of Fig. 2 (2D IPL, ρ = 0.86, N = 400; :data:`meso_kernels.statepoints.FIG02_KEYS`); its one scheduled
#: temperature per size is the state point (default and paper: the paper's T = 0.48; ci: a hotter one)
FIG02_KEY = "ipl2d"
#: neighbour distance (length) of the neighbour-relative displacement: the first minimum of g_BB(r) of the large
#: species of the 2D IPL liquid at T = 0.48 (measured at 1.77 over 40 configurations of N = 400, rounded up).
#: It holds the first shell of every particle: the first minima of g_AB and g_AA lie at 1.55 and 1.31.
FIG02_NR_CUTOFF = 1.8
#: per size: overrides of :data:`LOCAL_ENSEMBLE` for Fig. 2 (configurations, runs, spacing in τ_α)
FIG02_ENSEMBLE = {"ci": {"n_conf": 4, "n_batches": 1, "runs_per_batch": 4, "spacing": 0.5},
                  "default": {"n_conf": 12, "n_batches": 2, "runs_per_batch": 5, "spacing": 1.0},
                  "paper": {"n_conf": 48, "n_batches": 4, "runs_per_batch": 5, "spacing": 1.0}}
#: dipole responses the pseudoharmonic modes of the bond map start from (the softest κ_ij first; None: every
#: interacting pair, the paper's Appendix B) and how many modes are kept (the paper shows 12)
FIG02_STARTS = {"ci": 30, "default": None, "paper": None}
FIG02_MODES = 12
BOND_MAP_VERSION = 1


def _bond_map_compute(task, p, load, progress):
    from ..hessian import build_terms
    from ..modes import dipole_started_modes
    model = model_for(p["key"])
    # the very quench of the mechanics_ihs task of this configuration (same input, method and tolerance)
    ihs, res = parent_quench(task, load(task.needs[0]), p["conf"], model, p["ftol"])
    terms = build_terms(ihs, model)
    from .execution import requested, route
    route("kappa and modes (dense)", requested(), available=False,
          reason="the dense pseudo-inverse and the mode minimisations have no device route")
    sm = dipole_started_modes(ihs, model, n_starts=p["n_starts"], k=p["k"], progress=progress, terms=terms)
    ds = sm.dipoles
    return {"ihs_positions": ihs.positions, "box": ihs.box, "types": ihs.types,
            "pairs": ds.pairs.astype(np.int32), "kappa": ds.kappa, "kappa_converged": ds.converged,
            "local_kappa": ds.local_kappa, "rattlers": ds.rattlers,
            "modes": np.array([sm.full(m.mode) for m in sm.modes], dtype=np.float32),
            "stiffness": np.array([m.stiffness for m in sm.modes]),
            "participation": np.array([m.participation for m in sm.modes]),
            "modes_converged": np.array([m.converged for m in sm.modes]), "cores": sm.cores,
            "start_pairs": sm.start_pairs, "n_starts": np.array(sm.n_starts),
            "u_ihs": np.array(terms.energy / ihs.N), "max_force": np.array(res.max_force)}


def _bond_map_work(p):
    nd = p["N"] * 2
    starts = p["n_starts"] if p["n_starts"] is not None else 3 * p["N"]
    return nd ** 3 / 3 + starts * nd * 500


register(Kind("bond_map", "bond_maps", "data", _bond_map_compute, work=_bond_map_work, default_rate=1e-9,
              doc="one inherent structure: kappa_ij of every pair and its softest pseudoharmonic modes"))


def bond_map_task(mechanics, conf=0, n_starts=None, k=FIG02_MODES):
    """The ``bond_map`` task (data) of configuration ``conf`` of a local ensemble's ``mechanics`` task
    (:attr:`LocalTasks.mechanics`): its inherent structure (the same quench as the ensemble's), κ_ij of every
    interacting pair and the ``k`` softest pseudoharmonic modes started from the ``n_starts`` softest dipole
    responses (None: every pair) (:func:`~meso_kernels.modes.dipole_started_modes`)."""
    if mechanics.kind != "mechanics" or not mechanics.params.get("local"):
        raise ValueError(f"mechanics must be the mechanics task of a local ensemble, got {mechanics.label()}")
    n_conf = int(mechanics.params["n_conf"])
    if isinstance(conf, bool) or int(conf) != conf or not 0 <= conf < n_conf:
        raise ValueError(f"conf must be an integer in [0, {n_conf - 1}] (the ensemble's configurations), got "
                         f"{conf!r}")
    if n_starts is not None and (isinstance(n_starts, bool) or int(n_starts) != n_starts or n_starts < 1):
        raise ValueError(f"n_starts must be a positive integer or None (every pair), got {n_starts!r}")
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    parents = mechanics.needs[0]
    ihs = mechanics.needs[1 + int(conf)]
    p = parents.params
    params = {"key": p["key"], "T": float(p["T"]), "N": int(p["N"]), "parents": parents.static_key,
              "conf": int(conf), "ftol": float(ihs.params["ftol"]),
              "n_starts": None if n_starts is None else int(n_starts), "k": int(k), "version": BOND_MAP_VERSION}
    return Task.make("bond_map", params, seed=mechanics.seed, needs=(parents,))


def fig02_liquid(size, seed=0):
    """The liquid task of Fig. 2: the scheduled 2D IPL state point of ``size`` (default and paper: T = 0.48)."""
    from ..statepoints import schedule
    T = schedule(size, FIG02_KEY).temperatures[-1]
    return scheduled_liquid(size, FIG02_KEY, T, seed=seed)


def fig02_local_tasks(size, run, seed=0, **overrides):
    """The :class:`LocalTasks` of Fig. 2 at the stored liquid ``run``: t_obs = τ_α/6, the neighbour-relative
    mobility with :data:`FIG02_NR_CUTOFF`, the ensemble of :data:`FIG02_ENSEMBLE` (with ``overrides``)."""
    check_size(size)
    e = {**FIG02_ENSEMBLE[size], **{k: v for k, v in overrides.items() if v is not None}}
    return local_tasks(size, run, T_OBS["2"], seed=seed, nr_cutoff=FIG02_NR_CUTOFF, **e)


def fig02_tasks(size, resolver, seed=0, conf=0, n_starts="auto", **overrides):
    """Fig. 2: the 2D IPL liquid, and once it is stored (t_obs and the spacing of the configurations follow its
    τ_α) the local ensemble (κ_i and neighbour-relative mobility after τ_α/6) and the bond map of configuration
    ``conf``. ``n_starts="auto"``: :data:`FIG02_STARTS`. Returns (tasks, pending lines)."""
    check_size(size)
    liquid = fig02_liquid(size, seed=seed)
    if not resolver.done(liquid):
        return [liquid], [f"local ensemble and bond map of {FIG02_KEY}: declared once its liquid is stored"]
    from .liquid import StatePointDynamics
    run = StatePointDynamics(FIG02_KEY, resolver.load(liquid))
    lt = fig02_local_tasks(size, run, seed=seed, **overrides)
    starts = FIG02_STARTS[size] if isinstance(n_starts, str) and n_starts == "auto" else n_starts
    return [liquid, *lt.targets, bond_map_task(lt.mechanics, conf, starts)], []


def fig02_ensemble(size, seed=0, conf=0, n_starts="auto", store=None, compute_missing=True, progress=True,
                   backend="cpu", **overrides):
    """Fig. 2's data: ``(LocalEnsemble, bond map)`` at the 2D IPL state point of ``size``; the bond map is the dict
    of arrays of :func:`bond_map_task` for configuration ``conf`` (``ihs_positions``, ``box``, ``types``,
    ``pairs``, ``kappa``, ``local_kappa``, ``modes``, ``stiffness``, ``cores``, ...). Missing results are computed
    first (serially, with ``backend``: :mod:`~meso_kernels.campaign.execution`) unless ``compute_missing=False``,
    which raises :class:`~meso_kernels.campaign.task.CampaignError` naming the command that computes them."""
    from .execution import check
    from .liquid import StatePointDynamics
    from .runner import Plan, load
    from .task import CampaignError, Resolver, Store
    check(backend)
    check_size(size)
    store = store or Store.for_size(size)
    liquid = fig02_liquid(size, seed=seed)
    resolver = Resolver(store)
    command = (f"run `meso campaign run --size {size} --figures 2` (or pass compute_missing=True)")
    if not resolver.done(liquid):
        if not compute_missing:
            raise CampaignError(f"the 2D IPL liquid of Fig. 2 at size {size!r} is not stored: {command}")
        load([liquid], store, progress=progress, backend=backend)
    run = StatePointDynamics(FIG02_KEY, Resolver(store).load(liquid))
    lt = fig02_local_tasks(size, run, seed=seed, **overrides)
    starts = FIG02_STARTS[size] if isinstance(n_starts, str) and n_starts == "auto" else n_starts
    bond = bond_map_task(lt.mechanics, conf, starts)
    if not compute_missing and Plan([*lt.targets, bond], store, order=False).needed:
        raise CampaignError(f"the local ensemble or bond map of Fig. 2 at size {size!r} is not stored: {command}")
    ens = load_local(size, run, lt, store, progress=progress, backend=backend)
    return ens, load([bond], store, progress=progress, backend=backend)[0]
