"""Campaign tasks: one expensive, independent step (a liquid state point, an inherent-structure trajectory, one
inherent structure's mechanics, one batch of isoconfigurational runs, ...) named by its parameters.

A :class:`Task` holds its *kind*, its parameters, its seed and the tasks whose stored results it reads
(:attr:`Task.needs`). Its result lives in a :class:`Store`: ``<data>/<campaign>/<key>.npz`` plus a JSON sidecar for what
the figures read (small, committed), ``<scratch>/<campaign>/<key>.npz`` for raw per-pair or per-run arrays (git-ignored);
a long task of a kind with checkpoints keeps its periodic checkpoint in ``<checkpoints>/<campaign>/<key>.npz`` until
its result is stored (:mod:`.checkpoint`; the checkpoints folder is ``<scratch>/checkpoints`` unless
:class:`Store` is given another).
The key is :func:`meso_kernels.store.key_for` of the kind's campaign folder, the *store parameters* and the seed
(signac's idea: the state point is the id). The store parameters are the task's parameters, except for kinds that
complete them from a dependency's result (an IHS trajectory takes its spacing from the liquid's τ_α): those are
resolved once the dependency is stored, and until then the task's key is unknown.

A kind is registered once (:func:`register`) with its campaign folder, whether it writes to data or scratch, its
``compute(task, params, load, progress)`` (pure: reads its inputs with ``load(dependency)`` and returns a dict of
arrays) and a ``work(params)`` estimate used to predict its cost from stored wall times.

>>> from meso_kernels.campaign import Task, Store, KINDS
>>> t = Task.make("liquid", {"key": "ipl", "T": 1.2, "N": 256, "equil_steps": 100, "prod_steps": 200, "version": 1},
...               seed=0)
>>> t.kind, t.params["T"], KINDS["liquid"].campaign
('liquid', 1.2, 'dynamics')
>>> Task.make("lquid", {})
Traceback (most recent call last):
...
ValueError: unknown task kind 'lquid'; allowed: bond_map, ihs, iso, iso_mobility, liquid, mechanics, mechanics_ihs, parents
"""
import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from ..io import remove_stale_temporaries, temporary_name
from ..store import (REPO_ROOT, cached, canonical_json, data_root, key_for, key_for_json, load_npz, note_read,
                     paths_for)

WHERE = ("data", "scratch")
KINDS = {}


class CampaignError(RuntimeError):
    """A campaign cannot start or finish: bad input, an unwritable store, an unreachable scheduler, failed tasks."""


@dataclass(frozen=True)
class Kind:
    """A kind of task. name: what users see ("liquid"); campaign: its folder in the store; where: "data" (small,
    committed: what figures read) or "scratch" (raw arrays, git-ignored); compute(task, params, load, progress) ->
    dict of arrays; resolve(task, load) -> store parameters (None: the task's own parameters); work(params) -> a
    number proportional to the cost (CPU-seconds per unit are fitted from stored wall times); default_rate: CPU-s per
    work unit when nothing of this kind is stored yet; doc: one line for status tables; checkpoint: whether compute
    writes and resumes from periodic checkpoints (:mod:`.checkpoint`: :func:`execute` then provides one, which
    compute finds with :func:`.checkpoint.current`); backends: the execution backends compute has a route for
    (``("cpu", "cuda")``: some of its steps can run on the device, see :mod:`.execution`; ``("cpu",)``: with
    ``backend="cuda"`` the task is computed on the CPU, and its sidecar says so); unit: the name of the work unit
    when kinds share it (``"particle-step"``: MD of the same model costs the same per particle and step in a liquid,
    a parents or an isoconfigurational task), so that the cost model can estimate one kind of a model from another
    (:class:`~meso_kernels.campaign.status.CostModel`)."""
    name: str
    campaign: str
    where: str
    compute: object
    resolve: object = None
    work: object = None
    default_rate: float = 0.0
    doc: str = ""
    checkpoint: bool = False
    backends: tuple = ("cpu",)
    unit: str = None

    def __post_init__(self):
        if self.where not in WHERE:
            raise ValueError(f"Kind.where must be one of {', '.join(WHERE)}, got {self.where!r}")
        if "cpu" not in self.backends or not set(self.backends) <= {"cpu", "cuda"}:
            raise ValueError(f"Kind.backends must hold 'cpu' and may hold 'cuda', got {self.backends!r}")


def register(kind):
    """Add a :class:`Kind` to :data:`KINDS` (an existing name is replaced: reloading a module is harmless)."""
    KINDS[kind.name] = kind
    return kind


def check_kind(name):
    if name not in KINDS:
        raise ValueError(f"unknown task kind {name!r}; allowed: {', '.join(sorted(KINDS))}")
    return KINDS[name]


@dataclass(frozen=True, eq=False)
class Task:
    """One campaign step: ``kind``, canonical JSON of its parameters, ``seed`` (int or None), ``needs`` (tasks whose
    stored results it reads). Immutable and hashable; equal tasks are the same step. Build with :meth:`make`."""
    kind: str
    params_json: str
    seed: object = None
    needs: tuple = field(default=(), compare=False)

    @classmethod
    def make(cls, kind, params, seed=None, needs=()):
        check_kind(kind)
        for dep in needs:
            if not isinstance(dep, Task):
                raise TypeError(f"needs must hold Tasks, got {type(dep).__name__}")
        task = cls(kind, canonical_json(params), None if seed is None else int(seed), tuple(needs))
        if type(params) is dict and all(type(v) in (str, int, float, bool, type(None)) for v in params.values()):
            task.__dict__["params"] = dict(params)  # already plain: spare the JSON decoding (many tasks)
        return task

    @cached_property
    def params(self):
        """The parameters (a dict; do not modify it)."""
        return json.loads(self.params_json)

    @cached_property
    def static_key(self):
        """The store key of a kind without ``resolve`` (None for kinds whose key needs a stored input)."""
        if self.spec.resolve is not None:
            return None
        return key_for_json(self.spec.campaign, self.params_json, seed=self.seed)

    @property
    def spec(self):
        return check_kind(self.kind)

    @cached_property
    def ident(self):
        """16 hex digits naming the task (its kind, parameters, seed and, through their idents, its inputs)."""
        text = canonical_json({"kind": self.kind, "params": json.loads(self.params_json), "seed": self.seed,
                               "needs": [d.ident for d in self.needs]})
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def __eq__(self, other):
        return (isinstance(other, Task) and self.kind == other.kind and self.params_json == other.params_json
                and self.seed == other.seed)

    def __hash__(self):
        h = self.__dict__.get("_hash")
        if h is None:
            h = hash((self.kind, self.params_json, self.seed))
            object.__setattr__(self, "_hash", h)
        return h

    def label(self):
        """A short human-readable name: kind and the parameters that tell tasks of one figure apart."""
        p = self.params
        bits = [f"{k}={p[k]}" for k in ("key", "T", "index", "conf", "batch") if k in p]
        return f"{self.kind}({', '.join(bits)})"

    def __repr__(self):
        return f"Task({self.label()}, seed={self.seed})"


#: environment variable naming the default checkpoints folder of a :class:`Store` (empty: unset)
ENV_CHECKPOINT_DIR = "MESO_CHECKPOINT_DIR"


@dataclass(frozen=True)
class Store:
    """Where results go: ``data`` (committed: what the figures read) and ``scratch`` (git-ignored raw arrays). Both
    must be visible to every worker (a shared file system on a cluster).

    ``checkpoints``: the folder of the periodic checkpoints of long tasks (:mod:`.checkpoint`), laid out as
    ``<checkpoints>/<campaign>/<key>.npz``. None (default) takes the environment variable ``MESO_CHECKPOINT_DIR``
    (read when the store is made; an empty value counts as unset), and without it :attr:`checkpoint_folder` is
    ``<scratch>/checkpoints``: argument > environment > ``<scratch>/checkpoints``. Give a folder that outlives the
    machine (one committed to git between sessions, a shared file system on a cluster whose scratch is node-local
    or purged) so that a task longer than a session or a job continues from its checkpoint. Keys and result paths
    do not depend on it. All three are made absolute, so that workers started elsewhere (the store is pickled to
    Dask workers) find the same folders.

    >>> store = Store("/tmp/d", "/tmp/s", checkpoints="/tmp/c")
    >>> str(store.checkpoint_folder), str(Store.for_size("ci", "/tmp/d", "/tmp/s", "/tmp/c").checkpoint_folder)
    ('/tmp/c', '/tmp/c')
    """
    data: Path
    scratch: Path
    checkpoints: Path = None

    def __post_init__(self):  # absolute, so that workers started elsewhere find the same folders
        object.__setattr__(self, "data", Path(self.data).expanduser().absolute())
        object.__setattr__(self, "scratch", Path(self.scratch).expanduser().absolute())
        checkpoints = self.checkpoints
        if checkpoints is None or str(checkpoints).strip() == "":
            checkpoints = os.environ.get(ENV_CHECKPOINT_DIR, "").strip() or None
        if checkpoints is not None:
            checkpoints = Path(checkpoints).expanduser().absolute()
        object.__setattr__(self, "checkpoints", checkpoints)

    @property
    def checkpoint_folder(self):
        """The folder the checkpoints go to: ``checkpoints`` if set, else ``<scratch>/checkpoints``."""
        return self.checkpoints if self.checkpoints is not None else self.scratch / "checkpoints"

    @classmethod
    def for_size(cls, size, data=None, scratch=None, checkpoints=None):
        """The default store of a run size: data under :func:`meso_kernels.store.data_root`, scratch under
        ``build/campaign-scratch/<size>``, checkpoints in ``MESO_CHECKPOINT_DIR`` if set, else under scratch;
        ``data`` / ``scratch`` / ``checkpoints`` override either."""
        from ..presets import check_size
        check_size(size)
        data = data_root(size) if data is None else Path(data)
        scratch = REPO_ROOT / "build" / "campaign-scratch" / size if scratch is None else Path(scratch)
        return cls(Path(data), Path(scratch), checkpoints)

    def root(self, kind):
        return self.data if check_kind(kind).where == "data" else self.scratch

    def check_writable(self):
        """Raise :class:`CampaignError` naming the folder if data or scratch, or the checkpoints folder when it is
        set, cannot be written (checked by writing and removing a probe file, so that it also holds on a read-only
        mount); creates missing folders (and removes those it created again when a folder is not writable)."""
        folders = [("data", self.data), ("scratch", self.scratch)]
        if self.checkpoints is not None:
            folders.append(("checkpoints", self.checkpoints))
        created = []
        for name, folder in folders:
            folder = Path(folder)
            try:
                missing = [p for p in (folder, *folder.parents) if not p.exists()]
                folder.mkdir(parents=True, exist_ok=True)
                created += missing
                fd, probe = tempfile.mkstemp(dir=folder, prefix=temporary_name("meso-probe"), suffix=".tmp")
                os.close(fd)
                os.unlink(probe)
            except OSError as exc:
                for path in sorted(set(created), key=lambda p: len(p.parts), reverse=True):  # empty ones only
                    try:
                        path.rmdir()
                    except OSError:
                        pass
                hint = " (or MESO_CHECKPOINT_DIR)" if name == "checkpoints" else ""
                raise CampaignError(f"the {name} folder {str(folder)!r} is not writable "
                                    f"({exc.strerror or exc}); give a writable folder with --{name}{hint}") from None

    def clean(self):
        """Remove temporary files left by killed writers in every campaign folder and in the checkpoints folder
        (see :func:`meso_kernels.io.remove_stale_temporaries`); returns the removed paths."""
        removed = []
        roots = [self.data, self.scratch] + ([self.checkpoints] if self.checkpoints is not None else [])
        for root in roots:  # write probes of check_writable
            removed += remove_stale_temporaries(root, recursive=False)
        for spec in KINDS.values():
            removed += remove_stale_temporaries(Path(self.root(spec.name)) / spec.campaign)
        for spec in {s.campaign: s for s in KINDS.values() if s.checkpoint}.values():  # of killed checkpoint writes
            removed += remove_stale_temporaries(Path(self.checkpoint_folder) / spec.campaign)
        return removed


class _Missing(Exception):
    pass


class Resolver:
    """Resolves store parameters and keys of tasks against one store, loading each dependency at most once."""

    def __init__(self, store, snapshot=False):
        self.store = store
        self._listing = {} if snapshot else None
        self._params = {}
        self._keys = {}
        self._arrays = {}
        self._sidecars = {}

    def params(self, task):
        """The store parameters of ``task``; None while a dependency they come from is not stored."""
        if task not in self._params:
            spec = task.spec
            if spec.resolve is None:
                self._params[task] = task.params
            else:
                try:
                    self._params[task] = spec.resolve(task, self._strict_load)
                except _Missing:
                    return None
        return self._params[task]

    def key(self, task):
        if task.static_key is not None:
            return task.static_key
        if task not in self._keys:
            p = self.params(task)
            if p is None:
                return None
            self._keys[task] = key_for(task.spec.campaign, p, seed=task.seed)
        return self._keys[task]

    def paths(self, task):
        k = self.key(task)
        return None if k is None else paths_for(task.spec.campaign, k, self.store.root(task.kind))

    def done(self, task):
        """Whether the task's result is stored. With ``snapshot=True`` each folder is listed once (fast for many
        tasks; later changes are not seen)."""
        if self._listing is None:
            paths = self.paths(task)
            return paths is not None and paths[1].exists() and paths[0].exists()
        key = self.key(task)
        if key is None:
            return False
        folder = (str(self.store.root(task.kind)), task.spec.campaign)
        if folder not in self._listing:
            try:
                self._listing[folder] = set(os.listdir(os.path.join(*folder)))
            except OSError:
                self._listing[folder] = set()
        names = self._listing[folder]
        return f"{key}.json" in names and f"{key}.npz" in names

    def sidecar(self, task):
        """The stored sidecar (dict) of a done task, else None."""
        paths = self.paths(task)
        if paths is None or not paths[1].exists():
            return None
        return json.loads(paths[1].read_text(encoding="utf-8"))

    def load(self, task):
        """The stored arrays of ``task`` (None if not stored); noted in the active
        :class:`~meso_kernels.store.ReadLog` objects."""
        if task not in self._arrays:
            paths = self.paths(task)
            if paths is None or not (paths[0].exists() and paths[1].exists()):
                return None
            self._arrays[task] = load_npz(paths[0])
            self._sidecars[task] = paths[1]
        note_read(self._sidecars[task])
        return self._arrays[task]

    def _strict_load(self, task):
        arrays = self.load(task)
        if arrays is None:
            raise _Missing(task)
        return arrays


def sidecar_wall(meta):
    """The wall time (s) behind a stored result from its sidecar: ``wall_time_s`` of the attempt that finished it
    plus ``wall_time_earlier_s`` of killed attempts it resumed from (:mod:`.checkpoint`)."""
    return float(meta.get("wall_time_s") or 0.0) + float(meta.get("wall_time_earlier_s") or 0.0)


def execute(task, store, *_dependencies, progress=False, backend="cpu"):
    """Compute and store ``task`` unless it is stored; its dependencies must be stored. Returns a small dict: ident,
    key, computed (bool), wall time (s). ``_dependencies`` are ignored (Dask passes the dependencies' results there,
    so that it runs them first).

    ``backend``: ``"cpu"`` (default) or ``"cuda"``, how the task is computed (:mod:`.execution`): not part of the
    task's ident or key, so a result stored on either backend is found by both. It is checked first (``ValueError``
    for an unknown value, ``RuntimeError`` for ``"cuda"`` without a GPU, even when the task is stored); the compute
    function finds it with :func:`.execution.current`, and the sidecar records ``backend`` and ``device`` (and, with
    ``"cuda"``, where each step ran).

    A kind with ``checkpoint=True`` computes with a :class:`~.checkpoint.Checkpoint` in
    ``<checkpoints>/<campaign>/<key>.npz`` (:attr:`Store.checkpoint_folder`, by default ``<scratch>/checkpoints``;
    :func:`.checkpoint.current`): it continues from a checkpoint left by a killed attempt, the sidecar records
    ``resumed``, ``checkpoints_written`` and ``wall_time_earlier_s``, and the checkpoint is deleted once the result
    is stored."""
    import numba

    from .execution import Execution, providing as providing_execution
    execution = Execution(backend)  # validated before anything else
    res = Resolver(store)
    params = res.params(task)
    if params is not None and res.done(task):
        return {"ident": task.ident, "key": res.key(task), "computed": False, "wall": 0.0}
    missing = [d.label() for d in task.needs if not res.done(d)]
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise CampaignError(f"{task.label()}: its inputs {', '.join(missing[:3])}{more} are not stored")
    spec = task.spec
    root = store.root(task.kind)
    # the wall time of the direct inputs, so that a summary in data/ keeps the cost of the scratch results behind it
    inputs = sum(sidecar_wall(res.sidecar(d) or {}) for d in task.needs)
    extra = {"task_kind": task.kind, "numba_threads": numba.get_num_threads(), "inputs_wall_s": inputs}
    ckpt = None
    if spec.checkpoint:
        from .checkpoint import Checkpoint
        ckpt = Checkpoint.for_task(task, store, res.key(task))

    def compute():
        with providing_execution(execution):
            if execution.backend not in spec.backends:
                execution.fallback("task", f"the {task.kind!r} kind has no device route: computed on the CPU")
            if ckpt is None:
                out = spec.compute(task, params, res._strict_load, progress)
            else:
                from .checkpoint import providing
                with providing(ckpt):
                    out = spec.compute(task, params, res._strict_load, progress)
                extra.update(ckpt.record())
        extra.update(execution.record())  # the sidecar is written after compute returns: backend, device, steps
        return out

    t0 = time.perf_counter()
    cached(spec.campaign, params, compute, seed=task.seed, root=root, extra=extra)
    if ckpt is not None:
        ckpt.remove()
    return {"ident": task.ident, "key": res.key(task), "computed": True, "wall": time.perf_counter() - t0}
