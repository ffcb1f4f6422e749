"""Running task sets: what is needed, in which order, serially or on a Dask cluster.

A task set is a list of *target* tasks. A target that is stored is done, and so is everything it needed; a missing
one is needed together with those of its inputs that are missing (make's rule), so a fresh clone whose ``data/``
holds the summaries never recomputes the scratch results behind them. Needed tasks run in dependency order; among
those ready, the ones that most others wait for, per estimated CPU-second, go first (the liquids before the
inherent structures that need them).

- :func:`run` — serially in this process (``client=None``), or as one Dask future per task with its inputs'
  futures as arguments, so that Dask runs them in order on any worker. Workers read inputs from and write results
  to the store (:func:`meso_kernels.campaign.task.execute`), which must be on a file system they share; two workers
  that compute the same key write the same files atomically.
- :func:`load` — the stored arrays of a task set, computing what is missing serially first (what notebooks call).
- :func:`local_cluster` — a :class:`distributed.LocalCluster` of single-threaded worker processes (numba and BLAS
  at one thread), listening on 127.0.0.1 only.

``backend="cuda"`` (:func:`run`, :func:`load`) computes the tasks with the CUDA backend where their kinds have a device
route (:mod:`.execution`); it is an option of the run, not of the tasks: keys and stored results are the same.

>>> import tempfile
>>> from meso_kernels.campaign import Store, liquid_task, load
>>> store = Store(tempfile.mkdtemp(), tempfile.mkdtemp())
>>> [out] = load([liquid_task("ipl", 1.2, 128, 100, 200, seed=1)], store, progress=False)
>>> int(out["N"]), float(out["T"])
(128, 1.2)
"""
import heapq
import os
import sys

from .task import KINDS, CampaignError, Resolver, execute

#: environment of every worker process: one thread for numba and for BLAS, so that workers do not compete for
#: cores and a result does not depend on the machine's core count. Dask's nanny also sets MALLOC_TRIM_THRESHOLD_,
#: which switches off glibc's adaptive mmap threshold, so that every large array (a dense Hessian, its inverse) was
#: mapped and unmapped afresh: measured 7 % slower mechanics tasks; a fixed 256 MiB mmap threshold restores the
#: speed of a plain process.
WORKER_ENV = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "MALLOC_MMAP_THRESHOLD_": str(256 * 2**20)}


#: priority of a target once its inputs are done (:meth:`Plan._order`): above any weight per CPU-second
TARGET_PRIORITY = 1e9


class Plan:
    """The needed tasks of a task set against a store (computes nothing; loads only what keys depend on).

    Attributes: ``targets``; ``done`` (stored tasks met while walking the graph); ``needed`` (missing tasks, in a
    valid run order, unless ``order=False``: among the ready tasks, those that most others wait for per estimated
    CPU-second first, and a target that summarises scratch results as soon as the last of them is done);
    ``blocked`` (needed tasks whose key is not known yet because an input is missing); ``dependants`` (task -> needed tasks that read it); ``resolver``."""

    def __init__(self, targets, store, cost=None, order=True):
        self.targets = list(dict.fromkeys(targets))
        self.store = store
        self.resolver = Resolver(store, snapshot=True)
        self.done, needed = [], {}
        seen = set()
        stack = list(reversed(self.targets))
        while stack:
            t = stack.pop()
            if t in seen:
                continue
            seen.add(t)
            if self.resolver.done(t):
                self.done.append(t)
                continue
            needed[t] = True
            stack.extend(reversed(t.needs))
        self.dependants = {t: [] for t in needed}
        for t in needed:
            for d in t.needs:
                if d in needed:
                    self.dependants[d].append(t)
        self.blocked = [t for t in needed if self.resolver.params(t) is None]
        self.cost = cost or (lambda t: 1.0)
        self.needed = self._order(list(needed)) if order else list(needed)

    def _weight(self, t, memo):
        """Tasks that (transitively) wait for t, including t."""
        if t not in memo:
            memo[t] = 1 + sum(self._weight(d, memo) for d in self.dependants[t])
        return memo[t]

    def _order(self, tasks):
        memo = {}
        prio = {t: self._weight(t, memo) / max(self.cost(t), 1e-3) for t in tasks}
        waiting = {t: sum(1 for d in t.needs if d in self.dependants) for t in tasks}
        # A target that summarises scratch results computed in this run (a mechanics ensemble over its inherent
        # structures) runs as soon as the last of them is done: a run that is stopped, or a scratch folder that is lost
        # (a fresh machine), then costs as little finished work as possible. Without this the summaries of every
        # ensemble came after all the ensembles' inherent structures.
        targets = set(self.targets)
        for t in tasks:
            if t in targets and any(d in self.dependants and KINDS[d.kind].where == "scratch" for d in t.needs):
                prio[t] = TARGET_PRIORITY
        heap = [(-prio[t], i, t) for i, t in enumerate(tasks) if waiting[t] == 0]
        heapq.heapify(heap)
        index = {t: i for i, t in enumerate(tasks)}
        order = []
        while heap:
            _, _, t = heapq.heappop(heap)
            order.append(t)
            for d in self.dependants[t]:
                waiting[d] -= 1
                if waiting[d] == 0:
                    heapq.heappush(heap, (-prio[d], index[d], d))
        self.priorities = prio
        return order


def _estimator(store):
    from .status import CostModel
    model = CostModel(store)
    return model.task_cost


def run(targets, store, client=None, progress=True, stream=None, cost=None, backend="cpu"):
    """Compute the missing tasks of ``targets`` into ``store`` (a :class:`~meso_kernels.campaign.task.Store`).

    client: None to run serially here, or a :class:`distributed.Client`. progress: a tqdm bar over tasks. cost:
    task -> estimated CPU-seconds, for the order (default: from the store's sidecars, :class:`CostModel`).
    backend: ``"cpu"`` (default) or ``"cuda"``, passed to every :func:`~meso_kernels.campaign.task.execute`
    (:mod:`.execution`); checked here first (``ValueError`` naming the allowed values, ``RuntimeError`` without a
    GPU), before anything is written. On a Dask cluster every worker must see a GPU.
    Returns a dict: ``computed`` (tasks run), ``skipped`` (already stored), ``failed`` ({task name: error}),
    ``removed`` (stale temporary files of killed writers, cleaned before and after). Raises
    :class:`~meso_kernels.campaign.task.CampaignError` if a task failed (after the others finished)."""
    from .execution import check
    check(backend, client)
    store.check_writable()
    removed = store.clean()
    plan = Plan(targets, store, cost=cost or _estimator(store))
    computed, failed = [], {}
    bar = None
    if progress and plan.needed:
        from tqdm.auto import tqdm
        bar = tqdm(total=len(plan.needed), desc="campaign tasks", unit="task", file=stream or sys.stderr)
    try:
        if client is None:
            _run_serial(plan, store, computed, failed, bar, backend)
        else:
            _run_dask(plan, store, client, computed, failed, bar, backend)
    finally:
        if bar is not None:
            bar.close()
        removed += store.clean()
    if failed:
        lines = "\n".join(f"  {k}: {v}" for k, v in failed.items())
        raise CampaignError(f"{len(failed)} of {len(plan.needed)} tasks failed:\n{lines}")
    return {"computed": computed, "skipped": plan.done, "failed": failed, "removed": removed, "plan": plan}


def _name(task):
    """A unique name of a task for reports: its label and the start of its ident."""
    return f"{task.label()} [{task.ident[:8]}]"


def _run_serial(plan, store, computed, failed, bar, backend="cpu"):
    bad = set()
    for t in plan.needed:
        if any(d in bad for d in t.needs):
            bad.add(t)
            failed[_name(t)] = "an input failed"
        else:
            try:
                execute(t, store, backend=backend)
                computed.append(t)
            except Exception as exc:  # keep going with the independent tasks; report at the end
                bad.add(t)
                failed[_name(t)] = f"{type(exc).__name__}: {exc}"
        if bar is not None:
            bar.update()


def _run_dask(plan, store, client, computed, failed, bar, backend="cpu"):
    from distributed import as_completed
    futures = {}
    for t in plan.needed:
        deps = [futures[d] for d in t.needs if d in futures]
        futures[t] = client.submit(execute, t, store, *deps, backend=backend, key=f"{t.kind}-{t.ident}",
                                   pure=False, priority=int(1000 * plan.priorities[t]), retries=1)
    by_future = {f.key: t for t, f in futures.items()}
    for fut in as_completed(list(futures.values())):
        t = by_future[fut.key]
        if fut.status == "finished":
            computed.append(t)
        else:
            exc = fut.exception()
            failed[_name(t)] = f"{type(exc).__name__}: {exc}"
        if bar is not None:
            bar.update()


def load(targets, store, progress=True, backend="cpu"):
    """The stored arrays of every target (a list, in order), computing the missing ones serially first (with
    ``backend``: ``"cpu"`` or ``"cuda"``, see :func:`run`; checked even when nothing is missing). A long computation
    says so, and how to run it in parallel instead."""
    from .execution import check
    check(backend)
    targets = list(targets)
    plan = Plan(targets, store, order=False)
    if plan.needed:
        cost = _estimator(store)
        seconds = sum(cost(t) for t in plan.needed)
        if seconds > 600:
            print(f"computing {len(plan.needed)} missing tasks here, one after the other (estimated "
                  f"{seconds / 3600:.1f} CPU-hours); `meso campaign run` runs them on all cores or a cluster",
                  file=sys.stderr)
        run(targets, store, progress=progress, cost=cost, backend=backend)
    res = Resolver(store)
    return [res.load(t) for t in targets]


def load_one(target, store, progress=False, backend="cpu"):
    """:func:`load` of a single task."""
    return load([target], store, progress=progress, backend=backend)[0]


def local_cluster(workers=None, dashboard=True):
    """A :class:`distributed.LocalCluster` of ``workers`` single-threaded worker processes (default: the cores this
    process may use), bound to 127.0.0.1 with its dashboard on a free local port (none with ``dashboard=False``),
    and :data:`WORKER_ENV` in every worker."""
    from distributed import LocalCluster
    if workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if isinstance(workers, bool) or int(workers) != workers or workers < 1:
        raise CampaignError(f"--workers must be a positive integer, got {workers!r}")
    return LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True, host="127.0.0.1",
                        dashboard_address="127.0.0.1:0" if dashboard else None, env=dict(WORKER_ENV),
                        silence_logs=40)


def connect(scheduler, timeout=5):
    """A :class:`distributed.Client` of the scheduler at ``scheduler`` (an address such as tcp://host:8786, or a
    scheduler file); :class:`CampaignError` naming the address if it cannot be reached within ``timeout`` seconds."""
    from distributed import Client
    try:
        if os.path.isfile(scheduler):
            return Client(scheduler_file=scheduler, timeout=timeout)
        return Client(scheduler, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CampaignError(f"cannot reach the Dask scheduler at --scheduler {scheduler!r} ({msg}); give the "
                            f"address of a running scheduler (tcp://host:port or a scheduler file)") from None
