"""The task set each figure declares, at each run size.

``figure_tasks(figure, size)`` returns a :class:`FigureTasks`: the target tasks and, where some targets can only be
declared from stored results (Fig. 5 picks its state points by matching τ_α across models, so its IHS trajectories
wait for the liquids), a line saying what is still to be declared. ``meso campaign run`` declares, runs, and
declares again until nothing new appears. Notebooks call the per-figure functions with their own parameters.

>>> from meso_kernels.campaign import figure_tasks
>>> ft = figure_tasks("9", "ci")
>>> len(ft.tasks), sorted({t.kind for t in ft.tasks})
(12, ['liquid'])
>>> figure_tasks("8", "ci")
Traceback (most recent call last):
...
ValueError: unknown figure '8'; figures with a task set: 2, 3, 4, 5, 6, 7, 9, 10, 11
"""
from dataclasses import dataclass, field

import numpy as np

from ..presets import check_size, sizes
from ..statepoints import check_key, schedule
from .liquid import StatePointDynamics, match_viscosity, scheduled_liquid
from .mechanics import ensemble_from, mechanics_tasks, parents_from
from .trajectories import ihs_tasks


@dataclass
class FigureTasks:
    """``tasks``: the targets declared now; ``pending``: what cannot be declared before other results are stored."""
    figure: str
    tasks: list
    pending: list = field(default_factory=list)


# --- Fig. 3: IPL mechanics ensembles against the parent temperature ---------------------------------------------
FIG03_TEMPERATURES = {"ci": (2.0, 1.0, 0.7), "default": (2.0, 1.0, 0.8, 0.7, 0.65, 0.6),
                      "paper": (2.0, 1.0, 0.8, 0.7, 0.65, 0.6, 0.57, 0.55)}
FIG03_PAIRS = {"ci": 200, "default": 2000, "paper": 2000}
#: measured steps of the liquid task behind each ensemble (its τ_α checks the equilibration at hot T_p)
FIG03_LIQUID_STEPS = {"ci": 2_000, "default": 10_000, "paper": 20_000}


def fig03_tasks(size, seed=1, temperatures=None, n_pairs=None):
    """One :func:`~meso_kernels.campaign.mechanics.mechanics_tasks` ensemble of 3D IPL per parent temperature
    (:data:`FIG03_TEMPERATURES`; N, steps and ensemble size from ``presets.sizes("fig03", size)``)."""
    check_size(size)
    run = sizes("fig03", size)["ipl"]
    temps = [float(T) for T in (FIG03_TEMPERATURES[size] if temperatures is None else temperatures)]
    if len(temps) < 2 or min(temps) <= 0:
        raise ValueError(f"temperatures must hold at least two positive parent temperatures, got {temperatures!r}")
    n_pairs = int(FIG03_PAIRS[size] if n_pairs is None else n_pairs)
    if n_pairs < 2:
        raise ValueError(f"n_pairs must be at least 2, got {n_pairs}")
    return [mechanics_tasks("ipl", T, run.N, run.equil_steps, FIG03_LIQUID_STEPS[size], run.prod_steps, run.n_ihs,
                            n_pairs, seed=seed) for T in temps]


# --- Figs 9-11: liquid state points --------------------------------------------------------------------------------
MODELS = ("ipl", "mblj", "ss0.6", "sw")
DENSITIES = ("ss0.6", "ss0.7", "ss0.95")


def liquid_tasks(size, keys, seed=0):
    """The liquid task of every scheduled temperature of every model key."""
    return [scheduled_liquid(size, k, T, seed=seed) for k in keys for T in schedule(size, check_key(k)).temperatures]


def liquid_runs(size, keys, seed=0, store=None, progress=True, backend="cpu"):
    """``{key: [StatePointDynamics per scheduled T]}`` of the stored liquids of ``keys`` (Figs 5, 9-11), computing
    the missing ones first (serially, with ``backend``: :mod:`~meso_kernels.campaign.execution`; ``meso campaign
    run`` does it on every core)."""
    from .runner import load
    from .task import Store
    keys = list(dict.fromkeys(keys))
    tasks = liquid_tasks(size, keys, seed=seed)
    arrays = load(tasks, store or Store.for_size(size), progress=progress, backend=backend)
    runs = {k: [] for k in keys}
    for t, a in zip(tasks, arrays):
        runs[t.params["key"]].append(StatePointDynamics(t.params["key"], a))
    return runs


# --- Figs 4 and 6(a): mechanics ensembles at every liquid temperature ----------------------------------------------
#: per size: inherent structures per parent temperature, random pairs per inherent structure, and the span of the
#: parents' run as a fraction of the scheduled liquid's measured steps (the parents continue that liquid).
#: Default: in 3D IPL at N = 1000 the mean κ of one inherent structure scatters by 22 % between inherent structures
#: (pairs add little at 250 per structure) and successive parents are nearly independent (integrated
#: autocorrelation time below one sample at T_p = 1.0-0.7); 400 per T_p give a 1.1 % standard error of κ(T_p), a
#: 90 % interval of about ±3 % on the relative change, where κ changes by some 20 % over the liquid range.
FIG04_ENSEMBLE = {"ci": {"n_conf": 4, "n_pairs": 40, "span": 0.5},
                  "default": {"n_conf": 400, "n_pairs": 250, "span": 0.5},
                  "paper": {"n_conf": 400, "n_pairs": 500, "span": 1.0}}
#: per-model overrides of FIG04_ENSEMBLE (model key -> dict)
FIG04_ENSEMBLE_BY_MODEL = {"ci": {}, "default": {}, "paper": {}}
FIG06_DENSITIES = DENSITIES


def ensemble_size(size, key):
    """``{"n_conf", "n_pairs", "span"}`` of the Fig. 4/6 mechanics ensembles of model ``key`` at run size ``size``."""
    check_size(size)
    return FIG04_ENSEMBLE[size] | FIG04_ENSEMBLE_BY_MODEL[size].get(check_key(key), {})


def ensemble_task(size, key, T, seed=0, n_conf=None, n_pairs=None):
    """The ``mechanics`` task at a scheduled liquid temperature: its parents continue the scheduled liquid
    (:func:`~meso_kernels.campaign.liquid.scheduled_liquid`, T_p = T) over ``span`` of its measured steps."""
    e = ensemble_size(size, key)
    liquid = scheduled_liquid(size, key, T, seed=seed)
    n_conf = int(e["n_conf"] if n_conf is None else n_conf)
    prod = max(n_conf, int(round(e["span"] * liquid.params["prod_steps"] / n_conf)) * n_conf)
    return ensemble_from(parents_from(liquid, prod, n_conf, seed=seed),
                         int(e["n_pairs"] if n_pairs is None else n_pairs), seed=seed)


def fig04_tasks(size, keys=MODELS, seed=0):
    """Figs 4 and 6(a): the liquid of every scheduled temperature of ``keys`` and the mechanics ensemble at each."""
    check_size(size)
    tasks = []
    for k in keys:
        for T in schedule(size, check_key(k)).temperatures:
            tasks += [scheduled_liquid(size, k, T, seed=seed), ensemble_task(size, k, T, seed=seed)]
    return tasks


# --- Fig. 5: IHS trajectories at matched viscosity ---------------------------------------------------------------
#: trajectory lengths in t0: long enough for several transitions in IPL, short where hopping is fast (SS and SW
#: take ten times more frames per t0 and hop 10-100 times more often)
FIG05_DURATION = {"ci": {"ipl": 0.1, "mblj": 0.05, "ss0.6": 0.01, "ss0.7": 0.01, "ss0.95": 0.01, "sw": 0.01},
                  "default": {"ipl": 0.5, "mblj": 0.1, "ss0.6": 0.02, "ss0.7": 0.02, "ss0.95": 0.03, "sw": 0.02},
                  "paper": {"ipl": 4.0, "mblj": 1.0, "ss0.6": 0.2, "ss0.7": 0.3, "ss0.95": 0.5, "sw": 0.2}}
#: trajectories per state point: SW quenches cost seconds each at N = 1000, so fewer of them at the default size
FIG05_N_TRAJ = {"ci": {}, "default": {"sw": 4}, "paper": {}}
FIG05_N_TRAJ_DEFAULT = {"ci": 3, "default": 8, "paper": 10}


def fig05_trajectories(size, key, n_traj=None):
    return int(n_traj) if n_traj is not None else FIG05_N_TRAJ[size].get(key, FIG05_N_TRAJ_DEFAULT[size])


#: τ_α/t0 at which Figs 5, 10 and 11 compare the models (the models) and the SS densities (the densities); None:
#: the largest value every one of them reaches. Fixed at the default size so that deeper state points added later
#: for Fig. 4 do not move the comparison: about 10 for the models (the slowest SW liquid of the first default
#: schedule has 9.9; 9.5 lets the choice stop there) and 67 for the densities (SS ρ = 0.95 at T = 6.5).
VISCOUS_TARGETS = {"ci": {"models": None, "densities": None},
                   "default": {"models": 9.5, "densities": 67.0},
                   "paper": {"models": 9.5, "densities": 67.0}}


def viscous_target(size, keys):
    """The :data:`VISCOUS_TARGETS` entry of ``keys`` (``"densities"`` if they are all SS keys, else ``"models"``)."""
    check_size(size)
    group = "densities" if all(k.startswith("ss") for k in keys) and len(keys) > 1 else "models"
    return VISCOUS_TARGETS[size][group]


def _selection(size, keys, resolver, seed, target):
    """(liquid tasks the choice reads, {key: [StatePointDynamics]} or None while one of them is missing)."""
    tasks, runs, missing = [], {}, False
    for k in keys:
        runs[k] = []
        for T in sorted(schedule(size, k).temperatures, reverse=True):
            t = scheduled_liquid(size, k, T, seed=seed)
            tasks.append(t)
            if not resolver.done(t):
                missing = True
                continue
            r = StatePointDynamics(k, resolver.load(t))
            runs[k].append(r)
            if target is not None and np.isfinite(r.tau_alpha) and r.tau_alpha / r.t0 >= target:
                break
    return tasks, (None if missing else runs)


def viscous_points(size, keys, resolver, seed=0, target="auto"):
    """``(target, {key: StatePointDynamics})`` chosen by :func:`~meso_kernels.campaign.liquid.match_viscosity`
    from the stored liquids of ``keys``; None while a liquid that could be chosen is missing. ``target="auto"``:
    :func:`viscous_target`.

    With a fixed target the state points colder than the first one whose τ_α/t0 reaches the target cannot be
    closer to it (τ_α grows as T falls), so they need not be stored; with ``target=None`` every one is needed."""
    if isinstance(target, str) and target == "auto":
        target = viscous_target(size, keys)
    runs = _selection(size, keys, resolver, seed, target)[1]
    return None if runs is None else match_viscosity(runs, target=target)


def selection_liquids(size, keys, resolver, seed=0, target="auto"):
    """The liquid tasks :func:`viscous_points` reads (with the stored ones known, the colder points it can skip
    are left out)."""
    if isinstance(target, str) and target == "auto":
        target = viscous_target(size, keys)
    return _selection(size, keys, resolver, seed, target)[0]


def fig05_tasks(size, resolver, seed=0, models=MODELS, densities=DENSITIES, n_traj=None, duration_t0=None,
                choose_from=None):
    """The liquids of ``models`` and ``densities``, and the IHS trajectories at the state points chosen from them
    (one group at a time: models, then densities). ``choose_from``: another resolver to choose the state points
    from while this store has no liquids yet (``plan`` uses the default size's runs for the paper size)."""
    check_size(size)
    durations = dict(FIG05_DURATION[size]) | dict(duration_t0 or {})
    tasks = list(dict.fromkeys(selection_liquids(size, models, resolver, seed=seed)
                               + selection_liquids(size, densities, resolver, seed=seed)))
    pending = []
    for group in (models, densities):
        chosen = viscous_points(size, group, resolver, seed=seed)
        if chosen is None and choose_from is not None:
            chosen = viscous_points("default", group, choose_from, seed=seed)
        if chosen is None:
            pending.append(f"IHS trajectories of {', '.join(group)}: declared once their liquids are stored")
            continue
        for key, r in chosen[1].items():
            tasks += ihs_tasks(size, key, r.T, fig05_trajectories(size, key, n_traj), durations[key], seed=seed)
    return tasks, pending


# --- the registry ---------------------------------------------------------------------------------------------------
def _fig03(size, resolver, choose_from=None):
    return fig03_tasks(size), []


def _fig05(size, resolver, choose_from=None):
    return fig05_tasks(size, resolver, choose_from=choose_from)


def _liquids(keys):
    return lambda size, resolver, choose_from=None: (liquid_tasks(size, keys), [])


def _fig04(keys):
    return lambda size, resolver, choose_from=None: (fig04_tasks(size, keys), [])


def _fig06(size, resolver, choose_from=None):
    from .local import fig07_tasks
    tasks, pending = fig07_tasks(size, resolver)
    return list(dict.fromkeys(fig04_tasks(size, DENSITIES) + tasks)), pending


def _fig07(size, resolver, choose_from=None):
    from .local import fig07_tasks
    return fig07_tasks(size, resolver)


def _fig02(size, resolver, choose_from=None):
    from .local import fig02_tasks
    return fig02_tasks(size, resolver)


FIGURES = {"2": _fig02, "3": _fig03, "4": _fig04(MODELS), "5": _fig05, "6": _fig06, "7": _fig07, "9": _liquids(MODELS),
           "10": _liquids(MODELS), "11": _liquids(DENSITIES)}


#: figures whose default data are still being computed by a campaign that spans several sessions (figure ->
#: what is being computed). ``meso campaign status --size default`` says how far each has come; the test that
#: every committed default result is complete skips these, and the book computes what is missing when built.
IN_PROGRESS: dict[str, str] = {}  # none at present: every figure's default data are committed


def check_figures(figures):
    """Normalise a list of figure names ("3", "fig03", 3, "fig5") to the keys of :data:`FIGURES`; ValueError naming
    the unknown one and the allowed ones."""
    out = []
    for f in figures:
        name = str(f).strip().lower().removeprefix("fig").lstrip("0") or "0"
        if name not in FIGURES:
            raise ValueError(f"unknown figure {str(f)!r}; figures with a task set: {', '.join(FIGURES)}")
        out.append(name)
    return list(dict.fromkeys(out))


def figure_tasks(figure, size, store=None, models=None, choose_from=None):
    """The :class:`FigureTasks` of one figure at one run size, against ``store`` (default: the size's store),
    restricted to the model keys ``models`` (None: all)."""
    from .task import Resolver, Store
    [figure] = check_figures([figure])
    check_size(size)
    if models is not None:
        models = [check_key(k) for k in models]
    resolver = Resolver(store or Store.for_size(size))
    tasks, pending = FIGURES[figure](size, resolver, choose_from=choose_from)
    if models is not None:
        tasks = [t for t in tasks if t.params.get("key") in models]
    return FigureTasks(figure, tasks, pending)


def declared(size, figures, store, models=None):
    """All target tasks the figures declare now against ``store`` (deduplicated, in order), and their pending
    lines."""
    tasks, pending = {}, []
    for fig in check_figures(figures):
        ft = figure_tasks(fig, size, store=store, models=models)
        tasks.update(dict.fromkeys(ft.tasks))
        pending += [f"Fig. {fig}: {p}" for p in ft.pending]
    return list(tasks), pending


def run_figures(size, figures, store=None, client=None, models=None, progress=True, log=print, backend="cpu"):
    """Compute everything ``figures`` need at run size ``size`` into ``store`` (default: the size's store), serially
    (``client=None``) or on a :class:`distributed.Client`: declare, run what is missing, and declare again until no
    new task appears (Fig. 5 declares its IHS trajectories once its liquids are stored). ``log`` receives one line per
    round. Returns a dict: ``rounds``, ``computed`` (the tasks computed), ``pending`` (what could still not be
    declared). Raises :class:`~meso_kernels.campaign.task.CampaignError` if a task failed (the others are finished
    first). ``backend``: ``"cpu"`` (default) or ``"cuda"``, how the tasks are computed
    (:mod:`~meso_kernels.campaign.execution`); checked before anything runs."""
    from .execution import check
    from .runner import Plan, run
    from .task import Store
    check(backend, client)
    store = store or Store.for_size(size)
    rounds, computed = 0, []
    while True:
        tasks, pending = declared(size, figures, store, models)
        todo = Plan(tasks, store, order=False).needed
        if not todo:
            break
        rounds += 1
        log(f"round {rounds}: {len(todo)} tasks to compute ({len(tasks)} declared)")
        out = run(tasks, store, client=client, progress=progress, backend=backend)
        computed += out["computed"]
        if not out["computed"]:
            break
    return {"rounds": rounds, "computed": computed, "pending": pending}
