"""What a campaign has done and what the rest would cost, from the stored sidecars alone (nothing is computed).

The cost of a task is ``work(params) x rate``: ``work`` is its kind's size measure (particles x MD steps for a
liquid, quenched frames x particles for an IHS trajectory, (N d)^3 / 3 + pairs x (N d)^2 for one inherent
structure's dense κ, ...) and the rate, in CPU-seconds per unit of work, is the median over the stored results of
that kind and model (wall time x numba threads / work), falling back to the same model's rate in the kinds that
share the work unit (``Kind.unit``: the MD of a liquid, a parents and an isoconfigurational task all cost per
particle and step, and a 2D model's step is several times cheaper than a 3D one's), then to the kind's other
models, and then to the kind's built-in rate. Results computed with the CUDA backend (sidecar ``backend`` "cuda") measure GPU time, not
CPU time, and are left out of the rates. Where ``benchmarks/gpu_speedup.json`` (``{kind: speedup}``, written by a
GPU benchmark) exists, the plan also gives GPU-hours.
"""
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from ..store import REPO_ROOT
from .checkpoint import found_line
from .task import KINDS, Resolver

GPU_SPEEDUP_FILE = REPO_ROOT / "benchmarks" / "gpu_speedup.json"


class CostModel:
    """CPU-second estimates of tasks from the sidecars stored in ``stores`` (one or several
    :class:`~meso_kernels.campaign.task.Store`)."""

    def __init__(self, *stores):
        samples = defaultdict(list)
        for store in stores:
            for name, spec in KINDS.items():
                if spec.work is None:
                    continue
                folder = Path(store.root(name)) / spec.campaign
                for path in folder.glob("*.json") if folder.is_dir() else ():
                    try:
                        meta = json.loads(path.read_text(encoding="utf-8"))
                        if meta.get("backend", "cpu") != "cpu":
                            continue  # GPU seconds are no CPU-second rate
                        wall = (float(meta["wall_time_s"]) + float(meta.get("wall_time_earlier_s") or 0.0)) \
                            * float(meta.get("numba_threads") or 1)
                        work = float(spec.work(meta["params"]))
                    except (OSError, ValueError, KeyError, TypeError):
                        continue
                    if work > 0 and wall > 0:
                        samples[(name, meta["params"].get("key"))].append(wall / work)
        self.rates = {k: float(np.median(v)) for k, v in samples.items()}
        self.counts = {k: len(v) for k, v in samples.items()}
        by_kind = defaultdict(list)
        for (name, _), v in samples.items():
            by_kind[name] += v
        self.kind_rates = {k: float(np.median(v)) for k, v in by_kind.items()}
        by_unit = defaultdict(list)
        for (name, key), v in samples.items():
            if KINDS[name].unit is not None:
                by_unit[(KINDS[name].unit, key)] += v
        self.unit_rates = {k: float(np.median(v)) for k, v in by_unit.items()}

    def rate(self, kind, key=None):
        """CPU-seconds per unit of work: measured for (kind, model key), else for the model in the kinds with the
        same work unit (:attr:`Kind.unit <meso_kernels.campaign.task.Kind>`), else for the kind, else built in."""
        rate = self.rates.get((kind, key))
        unit = KINDS[kind].unit
        if rate is None and unit is not None:
            rate = self.unit_rates.get((unit, key))
        return rate if rate is not None else self.kind_rates.get(kind, KINDS[kind].default_rate)

    def task_cost(self, task):
        spec = task.spec
        if spec.work is None:
            return 0.0
        p = task.params
        return float(spec.work(p)) * self.rate(task.kind, p.get("key"))


def _walk(targets):
    """Every task of the graph of ``targets`` (each once)."""
    seen, stack = {}, list(targets)
    while stack:
        t = stack.pop()
        if t not in seen:
            seen[t] = True
            stack.extend(t.needs)
    return list(seen)


def status_rows(targets, store, cost):
    """Per task kind: (done, missing, CPU-seconds of the missing, covered): *covered* tasks are neither stored nor
    needed, because the results that read them are stored (scratch results behind a committed summary)."""
    from .runner import Plan
    plan = Plan(targets, store, cost=cost, order=False)
    done, needed = set(plan.done), set(plan.needed)
    rows = {}
    for t in _walk(targets):
        r = rows.setdefault(t.kind, [0, 0, 0.0, 0])
        if t in done:
            r[0] += 1
        elif t in needed:
            r[1] += 1
            r[2] += cost(t)
        else:
            r[3] += 1
    return rows


def _fmt_cpu(seconds):
    if seconds == 0:
        return "-"
    return f"{seconds / 3600:.2f} h" if seconds >= 360 else f"{seconds:.0f} s"


def status_text(size, figures, store, models=None):
    """The table of ``meso campaign status``: per figure and task kind, done, missing, estimated cost of the
    missing ones, and what is covered by stored results; then one line naming the checkpoints of tasks killed in
    mid-run, if there are any (:func:`.checkpoint.found_line`)."""
    from .figures import figure_tasks
    cost = CostModel(store).task_cost
    where = "" if store.checkpoints is None else f", checkpoints {_rel(store.checkpoints)}"
    lines = [f"campaign status, size {size!r}: data {_rel(store.data)}, scratch {_rel(store.scratch)}{where}",
             f"{'figure':>6s}  {'kind':<14s} {'done':>5s} {'missing':>7s} {'est. CPU':>9s} {'covered':>7s}"]
    total = 0.0
    for fig in figures:
        ft = figure_tasks(fig, size, store=store, models=models)
        rows = status_rows(ft.tasks, store, cost)
        for kind in sorted(rows, key=list(KINDS).index):
            d, m, c, cov = rows[kind]
            total += c
            lines.append(f"{fig:>6s}  {kind:<14s} {d:5d} {m:7d} {_fmt_cpu(c):>9s} {cov:7d}")
        lines += [f"{'':6s}  + {p}" for p in ft.pending]
    lines.append(f"missing work in all: {_fmt_cpu(total)} of one core (figures share liquids: counted per figure)")
    ckpts = found_line(store.checkpoint_folder, _rel(store.checkpoint_folder))  # tasks killed in mid-run
    if ckpts:
        lines.append(ckpts)
    return "\n".join(lines)


def _gpu_speedups():
    try:
        return {k: float(v) for k, v in json.loads(GPU_SPEEDUP_FILE.read_text()).items()}
    except (OSError, ValueError, AttributeError):
        return {}


def plan_text(size, figures, store, models=None, reference=None):
    """The table of ``meso campaign plan``: per figure, the number of tasks and the estimated CPU-hours of all of
    them at ``size``, of those still missing, and GPU-hours where a GPU benchmark exists. Rates come from the
    results stored for ``size`` and for ``reference`` (another store, normally the default size's)."""
    from .figures import figure_tasks
    from .runner import Plan
    stores = [store] + ([reference] if reference is not None else [])
    model = CostModel(*stores)
    cost = model.task_cost
    gpu = _gpu_speedups()
    choose = Resolver(reference) if reference is not None else None
    lines = [f"campaign plan, size {size!r} (rates from {len(model.rates)} measured kind/model pairs; "
             f"GPU: {'benchmarks/gpu_speedup.json' if gpu else 'no GPU benchmark stored yet'})",
             f"{'figure':>6s}  {'kind':<14s} {'tasks':>7s} {'CPU-h':>9s} {'missing':>9s} {'GPU-h':>8s}"]
    for fig in figures:
        ft = figure_tasks(fig, size, store=store, models=models, choose_from=choose)
        plan = Plan(ft.tasks, store, cost=cost, order=False)
        needed = set(plan.needed)
        per = defaultdict(lambda: [0, 0.0, 0.0])
        for t in _walk(ft.tasks):
            r = per[t.kind]
            r[0] += 1
            c = cost(t)
            r[1] += c
            r[2] += c if t in needed else 0.0
        tot = [0, 0.0, 0.0, 0.0]
        for kind in sorted(per, key=list(KINDS).index):
            n, c, m = per[kind]
            g = c / gpu[kind] if kind in gpu else None
            tot = [tot[0] + n, tot[1] + c, tot[2] + m, tot[3] + (g or 0.0)]
            lines.append(f"{fig:>6s}  {kind:<14s} {n:7d} {c / 3600:9.1f} {m / 3600:9.1f} "
                         f"{'-' if g is None else f'{g / 3600:.1f}':>8s}")
        lines.append(f"{fig:>6s}  {'all':<14s} {tot[0]:7d} {tot[1] / 3600:9.1f} {tot[2] / 3600:9.1f} "
                     f"{f'{tot[3] / 3600:.1f}' if gpu else '-':>8s}")
        lines += [f"{'':6s}  + {p}" for p in ft.pending]
    return "\n".join(lines)


def _rel(path):
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)
