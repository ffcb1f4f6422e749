"""Mechanics ensembles: G and κ of inherent structures quenched from an equilibrium liquid (Figs 3, 4, 6, 7).

Three kinds of task, one ensemble at parent temperature T_p:

- ``parents`` (scratch): continue the stored liquid at T_p (task kind ``liquid``) with Nosé–Hoover NVT and sample
  ``n_conf`` configurations evenly over ``prod_steps`` steps;
- ``mechanics_ihs`` (scratch), one per configuration: quench it (CG, max|F_i| < 1e-10), then G (Eq. A1), κ_ij of
  ``n_pairs`` random interacting pairs (Eqs A2–A3) and, with ``local=True``, the local κ_i from all pairs (Eq. A4);
- ``mechanics`` (data): the ensemble in summary form: per inherent structure G, the mean κ, the energy and checks,
  and the histogram of κ_ij / ⟨κ⟩ over all pairs on a fixed logarithmic grid (plus κ_i per particle with
  ``local``). The raw κ_ij stay in scratch.

With the execution backend ``"cuda"`` (:mod:`.execution`): the parents' MD runs on the GPU; of a ``mechanics_ihs``
task the CG quench stays on the CPU (the device minimiser is FIRE only, and the quench defines the inherent
structure: ``bond_map`` repeats it), G and κ_ij are solved by CG on the GPU, SW's three-body term included (κ then
always by CG, where ``kappa_solver="auto"`` may pick the dense route on the CPU: both to the same tolerance); the
sidecar records each step's backend.
"""
import numpy as np

from ..statepoints import check_key, model_for
from .liquid import final_system, liquid_task
from .task import Kind, Task, register

MECHANICS_VERSION = 1
#: edges of the stored histogram of κ_ij / ⟨κ⟩ (log-spaced, 1e-3 .. 1e2)
KAPPA_EDGES = np.logspace(-3, 2, 101)


#: with a checkpoint, each sampling interval of a ``parents`` task runs in blocks of at most this many MD steps, with
#: a wall-clock check between them (splitting a Nosé–Hoover run into blocks leaves its trajectory bitwise the same)
PARENTS_BLOCK = 1000


def _parents_compute(task, p, load, progress, checkpoint=None):
    """The ``parents`` kind's compute: continue the liquid ``task.needs[0]`` with Nosé–Hoover NVT at ``p["T"]`` and
    sample ``n_conf`` configurations (positions ``x``, kinetic temperature ``T_kin``, potential energy per particle)
    every ``prod_steps // n_conf`` steps.

    ``checkpoint``: a :class:`~meso_kernels.campaign.checkpoint.Checkpoint` (default: the one ``execute`` provides,
    :func:`~meso_kernels.campaign.checkpoint.current`). With one, each sampling interval runs in blocks of
    :data:`PARENTS_BLOCK` steps (of ``every_steps`` with a step schedule), and whenever :meth:`Checkpoint.due` says so
    between blocks the task writes the Nosé–Hoover integrator (:meth:`~meso_kernels.integrate.NVE.state`), the
    configurations and samples so far and the step (phase ``"sampling"``); it starts from the checkpoint it finds
    (one of this task; anything wrong with it: a warning, and the task starts afresh). Resumed on the same machine
    with the same number of numba threads, the result is bit-identical to that of an uninterrupted run, and with or
    without a checkpoint an uninterrupted run gives the same arrays. Where the device integrator (backend
    ``"cuda"``) has no ``state()``/``from_state()``, no checkpoint is used (a warning; ``backend_fallbacks`` in the
    sidecar), as for the ``liquid`` kind (:func:`~meso_kernels.campaign.liquid.usable_checkpoint`)."""
    import time

    from ..integrate import NoseHoover
    from .checkpoint import current
    from .execution import requested, route
    from .liquid import nose_hoover_class, usable_checkpoint
    t_start = time.perf_counter()
    if checkpoint is None:
        checkpoint = current(task)
    model = model_for(p["key"])
    sp = model.state_point
    backend = route("MD (Nose-Hoover)", requested())
    integrator = nose_hoover_class(backend)
    n_conf = p["n_conf"]
    interval = p["prod_steps"] // n_conf
    liquid = load(task.needs[0])  # read even when resuming: the provenance of a page names it (store.ReadLog)
    ckpt = usable_checkpoint(checkpoint, integrator, backend)
    restored = _parents_restore(ckpt, model, p, interval, integrator, backend) if ckpt is not None else None
    if restored is None:
        sim = NoseHoover(final_system(liquid), model, dt=sp.dt, T=p["T"], tau=sp.tau_nh,
                         seed=task.seed, backend=backend)
        step, xs, kin, pot, wall_before = 0, [], [], [], 0.0
    else:
        sim, step, xs, kin, pot, wall_before = restored
    block = interval
    if ckpt is not None:
        block = ckpt.every_steps or PARENTS_BLOCK
        ckpt.start(step)
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=n_conf, initial=len(xs), desc=f"parents {p['key']} T={p['T']:g}", unit="conf")
    while len(xs) < n_conf:
        n = min(block, (len(xs) + 1) * interval - step)
        sim.run(n)
        step += n
        if step == (len(xs) + 1) * interval:
            xs.append(sim.system.positions)
            kin.append(sim.kinetic_temperature())
            pot.append(sim.potential_energy() / sim.N)
            if bar is not None:
                bar.update(1)
        if ckpt is not None and len(xs) < n_conf and ckpt.due(step):
            arrays = {f"sim.{k}": v for k, v in sim.state().items()}
            arrays.update(x=np.array(xs, dtype=float).reshape(len(xs), sim.N, model.dim),
                          T_kin=np.array(kin, dtype=float), potential_energy=np.array(pot, dtype=float))
            ckpt.save(arrays, step, wall_before + time.perf_counter() - t_start, phase="sampling", backend=backend,
                      samples=len(xs))
    if bar is not None:
        bar.close()
    s = sim.system
    return {"x": np.array(xs), "types": s.types, "box": s.box, "T_kin": np.array(kin),
            "potential_energy": np.array(pot)}


def _parents_restore(ckpt, model, p, interval, integrator, backend):
    """(integrator, step, configurations, kinetic temperatures, energies, wall time so far) from the checkpoint of
    this ``parents`` task, or None (none there, or unusable: a warning says why, and the task starts afresh)."""
    from .liquid import restore_md
    N, n_conf = p["N"], p["n_conf"]

    def read(sim, arrays, meta):
        if meta.get("phase") != "sampling":
            raise ValueError(f"unknown phase {meta.get('phase')!r}")
        step = sim.step
        if not 0 < step < n_conf * interval:
            raise ValueError(f"it is at step {step} (this task: {n_conf * interval} steps)")
        if sim.T != float(p["T"]):
            raise ValueError(f"its thermostat is at T = {sim.T}, this task's at T = {p['T']}")
        k = step // interval
        x = np.asarray(arrays["x"])
        kin, pot = np.asarray(arrays["T_kin"]), np.asarray(arrays["potential_energy"])
        if x.dtype != float or x.shape != (k, N, model.dim) or kin.dtype != float or kin.shape != (k,) \
                or pot.dtype != float or pot.shape != (k,):
            raise ValueError(f"its samples (x {x.dtype} {x.shape}, T_kin {kin.shape}, potential_energy "
                             f"{pot.shape}) do not fit {k} configurations at step {step}")
        return step, list(x), kin.tolist(), pot.tolist()

    return restore_md(ckpt, integrator, model, N, backend, read)


register(Kind("parents", "mechanics_parents", "scratch", _parents_compute,
              work=lambda p: p["N"] * p["prod_steps"], default_rate=2.5e-7,
              doc="equilibrium configurations sampled from the liquid", checkpoint=True,
              backends=("cpu", "cuda"), unit="particle-step"))


#: the most CG iterations of one inherent-structure quench of a parent configuration
QUENCH_MAX_STEPS = 500_000


def parent_quench(task, parents, index, model, ftol):
    """The inherent structure of configuration ``index`` of a ``parents`` result (the arrays of a ``parents``
    task: positions ``x``, ``box``, ``types``), quenched by conjugate gradients to a largest force component below
    ``ftol`` (reduced units of force): the one quench behind every ``mechanics_ihs`` and ``bond_map`` task, so that
    both see the same inherent structure of a configuration. Returns (System, quench result); RuntimeError naming
    ``task`` when the quench does not converge within :data:`QUENCH_MAX_STEPS`."""
    from ..quench import quench
    from ..system import System
    from .execution import requested, route
    route("quench (CG)", requested(), available=False,
          reason="the device minimiser is FIRE only; the inherent structure is defined by this CG quench")
    parent = System(np.mod(parents["x"][index], parents["box"]), parents["box"], parents["types"])
    ihs, res = quench(parent, model, method="cg", ftol=ftol, max_steps=QUENCH_MAX_STEPS)
    if not res.converged:
        raise RuntimeError(f"{task.label()}: quench did not converge ({res.summary()})")
    return ihs, res


def device_hessian_route(model, solver="auto"):
    """``(available, reason)``: whether the Hessian solves of G and κ of ``model`` with ``solver`` have a device
    route (the device Hessian: pair models and one-species 3D SW; CG only)."""
    if solver == "dense":
        return False, "solver 'dense' has no device route"
    return True, ""


def _ihs_compute(task, p, load, progress):
    from ..dipole import DipoleStiffness
    from ..elasticity import shear_modulus
    from ..hessian import build_terms
    from .execution import requested, route
    model = model_for(p["key"])
    k = p["index"]
    ihs, res = parent_quench(task, load(task.needs[0]), k, model, p["ftol"])
    terms = build_terms(ihs, model)
    backend = requested()
    g = shear_modulus(ihs, model, terms=terms, backend=route("G (CG)", backend, *device_hessian_route(model)))
    kb = route("kappa", backend, *device_hessian_route(model, p["kappa_solver"]))
    ds = DipoleStiffness(solver=p["kappa_solver"], backend=kb).compute(ihs, model, n_random=p["n_pairs"],
                                                                      seed=task.seed * 100_003 + k, terms=terms)
    out = {"G": np.array(g.G), "born": np.array(g.born), "G_converged": np.array(g.converged),
           "u_ihs": np.array(terms.energy / ihs.N), "max_force": np.array(res.max_force), "kappa": ds.kappa,
           "kappa_zmz": ds.kappa_zmz, "kappa_converged": ds.converged, "n_rattlers": np.array(ds.rattlers.sum()),
           "ihs_positions": ihs.positions.astype(np.float32), "types": ihs.types}
    if p["local"]:
        full = DipoleStiffness(solver=p["kappa_solver"], backend=kb).compute(ihs, model, pairs="all", terms=terms)
        out["local_kappa"] = full.local_kappa
        out["local_converged"] = np.array(bool(full.converged.all()))
    return out


def _ihs_work(p):
    # dense route: a factorisation, then two triangular solves per pair; ``local`` solves for every interacting pair
    # too (about 7 per particle in the 3D models)
    nd = p["N"] * 3
    return nd ** 3 / 3 + 2 * nd ** 2 * (p["n_pairs"] + (7 * p["N"] if p["local"] else 0)) + 1e5 * p["N"]


register(Kind("mechanics_ihs", "mechanics_ihs", "scratch", _ihs_compute, work=_ihs_work, default_rate=1.5e-10,
              doc="one inherent structure: quench, G, kappa_ij of random pairs", backends=("cpu", "cuda")))


def _ensemble_compute(task, p, load, progress):
    per = [load(t) for t in task.needs[1:]]
    par = load(task.needs[0])
    kappa = np.concatenate([r["kappa"] for r in per])
    counts, _ = np.histogram(kappa / kappa.mean(), bins=KAPPA_EDGES)
    out = {name: np.array([r[name] for r in per]) for name in ("G", "born", "G_converged", "u_ihs", "max_force",
                                                                 "n_rattlers")}
    out.update(kappa_mean=np.array([r["kappa"].mean() for r in per]),
               kappa_zmz_mean=np.array([r["kappa_zmz"].mean() for r in per]),
               n_kappa_unconverged=np.array([int((~r["kappa_converged"]).sum()) for r in per]),
               n_pairs=np.array([len(r["kappa"]) for r in per]), kappa_edges=KAPPA_EDGES,
               kappa_counts=counts, kappa_below=np.array(int((kappa / kappa.mean() < KAPPA_EDGES[0]).sum())),
               kappa_above=np.array(int((kappa / kappa.mean() >= KAPPA_EDGES[-1]).sum())),
               T_kin=par["T_kin"], T=np.array(p["T"]), N=np.array(p["N"]), types=per[0]["types"])
    if p["local"]:
        out["local_kappa"] = np.array([r["local_kappa"] for r in per], dtype=np.float32)
    return out


register(Kind("mechanics", "mechanics", "data", _ensemble_compute, work=lambda p: p["n_conf"] * p["n_pairs"],
              default_rate=1e-6, doc="ensemble summary: G, <kappa> per IHS, kappa histogram"))


def parents_task(key, T, N, equil_steps, liquid_steps, prod_steps, n_conf, seed=0):
    """The ``parents`` task: ``n_conf`` configurations sampled every ``prod_steps // n_conf`` NVT steps from the end
    of the liquid task ``liquid_task(key, T, N, equil_steps, liquid_steps, seed)``, which it needs."""
    check_key(key)
    for name, v, lo in (("N", N, 2), ("equil_steps", equil_steps, 0), ("liquid_steps", liquid_steps, 2)):
        if isinstance(v, bool) or int(v) != v or v < lo:
            raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")
    return parents_from(liquid_task(key, T, N, equil_steps, liquid_steps, seed=seed), prod_steps, n_conf, seed=seed)


def parents_from(liquid, prod_steps, n_conf, seed=0):
    """The ``parents`` task that continues the liquid task ``liquid`` (any :func:`liquid_task`, e.g. a scheduled
    state point) at its temperature and samples ``n_conf`` configurations every ``prod_steps // n_conf`` steps."""
    if liquid.kind != "liquid":
        raise ValueError(f"liquid must be a liquid task, got {liquid.label()}")
    for name, v, lo in (("prod_steps", prod_steps, 1), ("n_conf", n_conf, 1)):
        if isinstance(v, bool) or int(v) != v or v < lo:
            raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")
    if prod_steps < n_conf:
        raise ValueError(f"prod_steps = {prod_steps} cannot hold n_conf = {n_conf} configurations")
    p = liquid.params
    return Task.make("parents", {"key": p["key"], "T": float(p["T"]), "N": int(p["N"]), "version": MECHANICS_VERSION,
                                 "liquid": liquid.static_key, "prod_steps": int(prod_steps), "n_conf": int(n_conf)},
                     seed=seed, needs=(liquid,))


def mechanics_tasks(key, T, N, equil_steps, liquid_steps, prod_steps, n_conf, n_pairs, local=False, seed=0):
    """The task graph of one mechanics ensemble at parent temperature ``T``; returns the ``mechanics`` summary task
    (its :attr:`~meso_kernels.campaign.task.Task.needs` are the parents and the per-IHS tasks, which need the
    liquid).

    key: model key (:data:`meso_kernels.statepoints.MODEL_KEYS`). N: particles. equil_steps, liquid_steps: the
    liquid task's equilibration and measured steps. prod_steps: steps over which the ``n_conf`` parents are sampled.
    n_pairs: random interacting pairs per inherent structure. local: also κ_i of every particle from all pairs
    (costs about 3x more). seed: of the liquid, of the parents' thermostat and of the pair draws."""
    parents = parents_task(key, T, N, equil_steps, liquid_steps, prod_steps, n_conf, seed=seed)
    return ensemble_from(parents, n_pairs, local=local, seed=seed)


def ensemble_from(parents, n_pairs, local=False, seed=0):
    """The ``mechanics`` summary task of the ensemble quenched from the ``parents`` task ``parents`` (one
    ``mechanics_ihs`` task per configuration; see :func:`mechanics_tasks`)."""
    if isinstance(n_pairs, bool) or int(n_pairs) != n_pairs or n_pairs < 1:
        raise ValueError(f"n_pairs must be an integer >= 1, got {n_pairs!r}")
    p = parents.params
    n_conf = p["n_conf"]
    base = {"key": p["key"], "T": float(p["T"]), "N": int(p["N"]), "version": MECHANICS_VERSION,
            "parents": parents.static_key}
    per = [Task.make("mechanics_ihs", {**base, "index": k, "n_pairs": int(n_pairs),
                                       "local": bool(local), "ftol": 1e-10, "kappa_solver": "auto"},
                     seed=seed, needs=(parents,))
           for k in range(int(n_conf))]
    return Task.make("mechanics", {**base, "n_conf": int(n_conf),
                                   "n_pairs": int(n_pairs), "local": bool(local)},
                     seed=seed, needs=(parents, *per))
