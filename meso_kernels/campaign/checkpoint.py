"""Checkpoints of long campaign tasks: a task killed in mid-run (session end, ``kill -9``, a cluster's walltime)
continues from its last checkpoint instead of starting again.

A kind registered with ``checkpoint=True`` (the ``liquid`` kind, :mod:`.liquid`, and the ``parents`` kind,
:mod:`.mechanics`) gets a :class:`Checkpoint` from :func:`~meso_kernels.campaign.task.execute` while its compute
function runs (:func:`current`). The compute function writes its whole state there every ``every_s`` seconds of
wall time (:data:`DEFAULT_SECONDS` = 10 minutes, or the environment variable ``MESO_CHECKPOINT_SECONDS``;
``0`` switches checkpoints off) at a step boundary, or every ``every_steps`` MD steps
(``MESO_CHECKPOINT_STEPS``, for tests), and starts from it when it finds one. The file is
``<checkpoints>/<campaign>/<key>.npz`` in the checkpoints folder of the task's store
(:attr:`Store.checkpoint_folder <meso_kernels.campaign.task.Store.checkpoint_folder>`): the store's ``checkpoints``
argument (``meso campaign run --checkpoints DIR``), else the environment variable ``MESO_CHECKPOINT_DIR``, else
``<scratch>/checkpoints``. Scratch is git-ignored and often node-local or purged, so a task longer than one working
session or one cluster job needs a folder that outlives the machine: one committed to git between sessions
(``data/checkpoints``), or a shared file system. The file is written atomically
(:func:`meso_kernels.io.atomic_path`: a temporary file renamed onto its place, so a kill during a write leaves the
previous checkpoint intact and a temporary file that :meth:`Store.clean` removes) and deleted once the result is
stored. Its meta record (JSON, the array ``checkpoint_meta``) names the task's key, parameters and seed, the number
of numba threads, the CPU (:func:`meso_kernels.cpuinfo.cpu_record`), the phase and step, the wall time spent so far
and how often the task was resumed: a checkpoint of another task (or written with another thread count, or in another
format) is ignored with a warning, and so is an unreadable (truncated, corrupt) one; the task then starts
afresh. One written on another CPU (a cluster whose nodes differ, a replaced work machine) is used, with a warning:
the result is a valid continuation, but its last bits depend on where each part ran. :func:`found` lists the
checkpoints of a folder from their meta records alone (``meso campaign status`` prints :func:`found_line`).

What a checkpoint holds and the bit-identity guarantee are documented in
:func:`meso_kernels.campaign.liquid.equilibrium_dynamics` (``liquid``) and
:func:`meso_kernels.campaign.mechanics._parents_compute` (``parents``: the integrator, the configurations sampled
so far and the step): resumed on the same machine with the same number of numba threads, a task stores arrays
bit-identical to those of an uninterrupted run (except ``wall_time``). The sidecar of a task that ran with a
checkpoint records ``resumed`` (how many times it continued from one), ``checkpoints_written`` and
``wall_time_earlier_s`` (the wall time of the killed attempts up to their last checkpoint,
not counted in ``wall_time_s``), and ``checkpoint_other_cpus`` (the CPUs of earlier attempts, where they differ from
``cpu``; absent otherwise).

>>> import tempfile, pathlib
>>> ck = Checkpoint(pathlib.Path(tempfile.mkdtemp()) / "k.npz", key="0123456789abcdef", every_steps=100)
>>> ck.load() is None                                    # nothing saved yet
True
>>> ck.due(50), ck.due(100)
(False, True)
>>> ck.save({"x": np.arange(3.0)}, step=100, wall_time_s=1.5, phase="demo")
True
>>> again = Checkpoint(ck.path, key="0123456789abcdef", every_steps=100)
>>> arrays, meta = again.load()
>>> arrays["x"].tolist(), meta["phase"], meta["step"], again.resumed
([0.0, 1.0, 2.0], 'demo', 100, 1)
>>> again.remove(); ck.path.exists()
False
"""
import contextvars
import json
import os
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np

from ..cpuinfo import cpu_record
from ..io import atomic_path
from .context import provided

#: layout version of the checkpoint files; a file of another version is ignored
FORMAT = 1
ENV_SECONDS = "MESO_CHECKPOINT_SECONDS"
ENV_STEPS = "MESO_CHECKPOINT_STEPS"
#: wall-clock seconds between checkpoints unless MESO_CHECKPOINT_SECONDS says otherwise
DEFAULT_SECONDS = 600.0
#: name of the meta record in a checkpoint file
META = "checkpoint_meta"

_CURRENT = contextvars.ContextVar("meso_kernels_checkpoint", default=None)


def checkpoint_path(where, campaign, key):
    """Where the checkpoint of the task with store key ``key`` in folder ``campaign`` lives: ``where`` is a
    :class:`~meso_kernels.campaign.task.Store` (in its :attr:`~meso_kernels.campaign.task.Store.checkpoint_folder`)
    or a scratch folder (in ``<scratch>/checkpoints``)."""
    folder = getattr(where, "checkpoint_folder", None)
    folder = Path(where) / "checkpoints" if folder is None else Path(folder)
    return folder / campaign / f"{key}.npz"


def _env(name, kind):
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    try:
        value = kind(text)
    except ValueError:
        raise ValueError(f"the environment variable {name}={text!r} must be a {kind.__name__} "
                         f"(0 switches checkpoints off)") from None
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"the environment variable {name}={text!r} must be >= 0 (0 switches checkpoints off)")
    return value


class Checkpoint:
    """The checkpoint file of one task and when to write it.

    path: the file (:func:`checkpoint_path`); key, params_json, seed: the task's store key, canonical parameters and
    seed, written into the file and checked when it is read; every_s / every_steps: write at most every that many
    wall-clock seconds / MD steps (the first given wins; neither: ``MESO_CHECKPOINT_STEPS``, else
    ``MESO_CHECKPOINT_SECONDS``, else :data:`DEFAULT_SECONDS`; 0 switches checkpoints off). ``task``: the
    :class:`~meso_kernels.campaign.task.Task` it belongs to (:func:`current` hands it only to that task).

    Attributes: ``resumed`` (how many times the task has continued from a checkpoint, this attempt included once
    :meth:`load` found one), ``written`` (checkpoints written over all attempts), ``earlier_wall_s`` (wall time of the
    earlier attempts up to the checkpoint loaded), ``on_save`` (None or a callable ``on_save(checkpoint)`` run after
    every write; tests use it to interrupt a task)."""

    def __init__(self, path, key, params_json="", seed=None, every_s=None, every_steps=None, task=None):
        self.path = Path(path)
        self.key = str(key)
        self.params_json = str(params_json)
        self.seed = seed
        self.task = task
        if every_s is None and every_steps is None:
            every_steps = _env(ENV_STEPS, int)
            if every_steps is None:
                every_s = _env(ENV_SECONDS, float)
                if every_s is None:
                    every_s = DEFAULT_SECONDS
        self.every_steps = None if every_steps is None else int(every_steps)
        self.every_s = None if self.every_steps is not None else float(every_s)
        self.enabled = (self.every_steps or self.every_s or 0) > 0
        self.resumed = 0
        self.written = 0
        self.earlier_wall_s = 0.0
        self.cpus = []  # the CPU records of the attempts so far (distinct)
        self.on_save = None
        self.start(0)

    @classmethod
    def for_task(cls, task, store, key, **kw):
        """The checkpoint of ``task`` (store key ``key``) in the checkpoints folder of ``store``
        (:attr:`~meso_kernels.campaign.task.Store.checkpoint_folder`)."""
        return cls(checkpoint_path(store, task.spec.campaign, key), key, task.params_json, task.seed, task=task, **kw)

    def __repr__(self):
        every = f"{self.every_steps} steps" if self.every_steps is not None else f"{self.every_s:g} s"
        return f"Checkpoint({str(self.path)!r}, every {every}{'' if self.enabled else ' (off)'})"

    # --- when -------------------------------------------------------------------------------------------------
    def start(self, step):
        """Count the interval to the next checkpoint from now, at MD step ``step``."""
        self._time = time.perf_counter()
        self._step = int(step)

    def due(self, step):
        """Whether a checkpoint is due at MD step ``step`` (a wall-clock check, or a step count)."""
        if not self.enabled:
            return False
        if self.every_steps is not None:
            return step - self._step >= self.every_steps
        return time.perf_counter() - self._time >= self.every_s

    # --- files ------------------------------------------------------------------------------------------------
    def load(self):
        """``(arrays, meta)`` of the stored checkpoint of this task, or None when there is none, it cannot be read
        (a warning says why) or it belongs to another task, thread count or format (a warning too)."""
        if not self.path.is_file():
            return None
        try:
            with np.load(self.path, allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
            meta = json.loads(str(arrays.pop(META)))
            if not isinstance(meta, dict):
                raise ValueError("its meta record is not a JSON object")
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            warnings.warn(f"ignoring the unreadable checkpoint {self.path} ({type(exc).__name__}: {exc}); the task "
                          "starts afresh", stacklevel=2)
            return None
        import numba
        want = {"format": FORMAT, "key": self.key, "params": self.params_json, "seed": self.seed,
                "numba_threads": numba.get_num_threads()}
        bad = [f"{k} {meta.get(k)!r} (this task: {v!r})" for k, v in want.items() if meta.get(k) != v]
        if bad:
            warnings.warn(f"ignoring the checkpoint {self.path}: it was written with another {', '.join(bad)}; the "
                          "task starts afresh", stacklevel=2)
            return None
        try:
            resumed, written = int(meta.get("resumed", 0)) + 1, int(meta.get("written", 0))
            wall, step = float(meta.get("wall_time_s", 0.0)), int(meta.get("step", 0))
            cpus = list(meta.get("cpus") or [])
            names = ", ".join(str(c.get("model")) for c in cpus if c != self._cpu())
        except (TypeError, ValueError, AttributeError) as exc:
            warnings.warn(f"ignoring the checkpoint {self.path}: its meta record is damaged ({exc}); the task starts "
                          "afresh", stacklevel=2)
            return None
        self.resumed, self.written, self.earlier_wall_s, self.cpus = resumed, written, wall, cpus
        self.start(step)
        if names:
            warnings.warn(f"the checkpoint {self.path} was written on another CPU ({names}): the task continues from "
                          "it, but its result is not bit-identical to an uninterrupted run on this machine",
                          stacklevel=2)
        return arrays, meta

    def _cpu(self):
        if not hasattr(self, "_cpu_record"):
            self._cpu_record = json.loads(json.dumps(cpu_record()))  # as it reads back from a file
        return self._cpu_record

    def other_cpus(self):
        """The CPU records of earlier attempts that differ from this machine's."""
        here = self._cpu()
        return [c for c in self.cpus if c != here]

    def reject(self, reason):
        """Forget a loaded checkpoint that the compute function could not use (a warning names ``reason``)."""
        warnings.warn(f"ignoring the checkpoint {self.path}: {reason}; the task starts afresh", stacklevel=2)
        self.resumed, self.written, self.earlier_wall_s, self.cpus = 0, 0, 0.0, []

    def save(self, arrays, step, wall_time_s, **meta):
        """Write ``arrays`` (a dict of numpy arrays) atomically, with the meta record (the task, the thread count,
        ``step``, ``wall_time_s`` spent so far, the counters and the entries of ``meta``). Returns True when written;
        a failed write (full disk, say) warns and returns False: the task goes on and tries again an interval later."""
        import numba
        cpus = self.cpus + ([] if self._cpu() in self.cpus else [self._cpu()])
        record = {"format": FORMAT, "key": self.key, "params": self.params_json, "seed": self.seed,
                  "numba_threads": numba.get_num_threads(), "step": int(step), "wall_time_s": float(wall_time_s),
                  "resumed": self.resumed, "written": self.written + 1, "cpus": cpus, **meta}
        t0 = time.perf_counter()
        try:
            with atomic_path(self.path) as tmp:
                with open(tmp, "wb") as fh:
                    np.savez(fh, **{META: np.array(json.dumps(record, sort_keys=True))}, **arrays)
        except OSError as exc:
            warnings.warn(f"could not write the checkpoint {self.path} ({exc}); the task goes on without it",
                          stacklevel=2)
            self.start(step)
            return False
        self.last_write_s = time.perf_counter() - t0
        self.written += 1
        self.start(step)
        if self.on_save is not None:
            self.on_save(self)
        return True

    def remove(self):
        """Delete the checkpoint file (once the result is stored)."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass

    def record(self):
        """The sidecar entries of a task that ran with this checkpoint."""
        out = {"resumed": self.resumed, "checkpoints_written": self.written, "wall_time_earlier_s": self.earlier_wall_s}
        other = self.other_cpus()
        if other:
            out["checkpoint_other_cpus"] = other
        return out


def providing(checkpoint):
    """Make ``checkpoint`` the one :func:`current` returns while the block runs (what ``execute`` does around a
    compute function): a context manager."""
    return provided(_CURRENT, checkpoint)


def current(task=None):
    """The :class:`Checkpoint` provided to the compute function running now (None outside ``execute`` or for a
    kind without checkpoints); with ``task``, only if it is that task's."""
    ck = _CURRENT.get()
    if ck is not None and task is not None and ck.task is not None and ck.task != task:
        return None
    return ck


def found(folder):
    """The checkpoints in ``folder`` (a checkpoints folder: ``<folder>/<campaign>/<key>.npz``), oldest first, each a
    dict: ``kind`` (the task kind with checkpoints stored in that campaign folder, else the folder's name), ``key``,
    ``phase``, ``step``, ``wall_time_s`` (wall time spent so far, over all attempts up to the checkpoint),
    ``resumed`` and ``path``; an unreadable file has ``phase`` "unreadable" and None for the numbers. Only the meta
    record of each file is read (an npz loads its arrays one by one), not the state arrays.

    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> ck = Checkpoint(root / "dynamics" / "0123456789abcdef.npz", key="0123456789abcdef", every_steps=100)
    >>> ck.save({"x": np.zeros(3)}, step=2000, wall_time_s=5400.0, phase="production")
    True
    >>> [(c["kind"], c["key"], c["phase"], c["step"], c["wall_time_s"]) for c in found(root)]
    [('liquid', '0123456789abcdef', 'production', 2000, 5400.0)]
    >>> found_line(root).endswith("liquid 0123456789abcdef (production, step 2000, 1.50 h so far)")
    True
    >>> found(root / "nothing"), found_line(root / "nothing")
    ([], None)
    """
    from .task import KINDS
    folder = Path(folder)
    if not folder.is_dir():
        return []
    kinds = {}
    for spec in KINDS.values():
        if spec.checkpoint:
            kinds.setdefault(spec.campaign, spec.name)
    paths = [p for p in folder.glob("*/*.npz") if p.is_file() and not p.name.startswith(".")]
    out = []
    for path in sorted(paths, key=lambda p: (p.stat().st_mtime, p.name)):
        entry = {"kind": kinds.get(path.parent.name, path.parent.name), "key": path.stem, "phase": "unreadable",
                 "step": None, "wall_time_s": None, "resumed": None, "path": path}
        try:
            with np.load(path, allow_pickle=False) as npz:
                meta = json.loads(str(npz[META]))
            entry.update(phase=str(meta.get("phase", "?")), step=int(meta.get("step", 0)),
                         wall_time_s=float(meta.get("wall_time_s", 0.0)), resumed=int(meta.get("resumed", 0)))
        except (OSError, ValueError, KeyError, TypeError, AttributeError, EOFError, zipfile.BadZipFile):
            pass
        out.append(entry)
    return out


def found_line(folder, name=None):
    """One line naming the checkpoints in ``folder`` (see :func:`found`; the folder is called ``name`` if given), or
    None when there are none."""
    entries = found(folder)
    if not entries:
        return None

    def one(c):
        if c["step"] is None:
            return f"{c['kind']} {c['key']} (unreadable)"
        wall = c["wall_time_s"]
        wall = f"{wall / 3600:.2f} h" if wall >= 360 else f"{wall:.0f} s"
        return f"{c['kind']} {c['key']} ({c['phase']}, step {c['step']}, {wall} so far)"

    return f"checkpoints in {name or folder}: {len(entries)}: " + "; ".join(one(c) for c in entries)
