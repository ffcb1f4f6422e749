"""Where a campaign task is computed: the execution backend, ``"cpu"`` (default) or ``"cuda"``.

The backend is *how* a task is computed, not *what*: it is not one of the task's parameters, so a task has the same
ident and store key on either backend, and a result stored by one is found (and not recomputed) by the other. It is
an option of the run:

- ``meso campaign run --backend cuda`` (:mod:`.cli`), :func:`meso_kernels.campaign.run` / :func:`~.runner.load` /
  :func:`~.figures.run_figures` ``(..., backend="cuda")`` and the loaders the notebooks call (``dynamics``,
  ``liquid_runs``, ``local_ensemble``, ``fig02_ensemble``, ``ihs_trajectories``, ``elastic_series``,
  ``analyse_models``), which pass it to :func:`~.task.execute`;
- :func:`~.task.execute` validates it (:func:`meso_kernels.cuda.check_backend`: ``ValueError`` naming the allowed
  values, ``RuntimeError`` saying how to run on the CPU when there is no GPU) and provides an :class:`Execution`
  while the kind's compute function runs (:func:`current`), as it provides a checkpoint (:mod:`.checkpoint`);
- a compute function asks :func:`route` where each of its steps runs: the requested backend where the step has a
  device route, else the CPU, with the reason recorded. Nothing falls back silently.

What runs where with ``backend="cuda"`` (a kind's :attr:`~.task.Kind.backends` says whether it has a device route
at all):

========================  ==========================================================================================
kind                      steps
========================  ==========================================================================================
``liquid``                relaxing FIRE quench of a random start and Nosé–Hoover MD on the device; checkpoints are
                          off (warning) while the device integrator has no ``state()``/``from_state()``
``parents``               Nosé–Hoover MD on the device; checkpoints are off (warning) while the device integrator
                          has no ``state()``/``from_state()``
``mechanics_ihs``         the CG quench on the CPU (the device minimiser is FIRE only, and the quench is part of
                          what the task is: ``bond_map`` repeats it); G and κ_ij by CG on the device (pair models
                          and SW, its three-body term included)
``iso``                   the isoconfigurational Nosé–Hoover runs on the device
``mechanics``,            on the CPU (summaries of stored arrays; IHS trajectories and bond maps have no device
``iso_mobility``,         route)
``ihs``, ``bond_map``
========================  ==========================================================================================

The sidecar of a stored result (:func:`meso_kernels.store.cached`) records ``backend`` (``"cuda"`` when any step
ran on the device, else ``"cpu"``) and ``device`` (:func:`meso_kernels.cuda.device_name`, or ``"cpu"``; the CPU model
is in ``cpu`` either way); with ``backend="cuda"`` requested also ``backend_requested``, ``backend_steps`` (step ->
``"cpu"`` or ``"cuda"``) and ``backend_fallbacks`` (step -> why it ran on the CPU, or what was switched off).

>>> ex = Execution("cpu")
>>> with providing(ex):
...     route("MD (Nose-Hoover)", "cpu")
'cpu'
>>> ex.record()
{'backend': 'cpu', 'device': 'cpu'}
>>> Execution("gpu")
Traceback (most recent call last):
...
ValueError: backend='gpu' is not allowed; allowed values: 'cpu', 'cuda'
"""
import contextvars

from .context import provided

_CURRENT = contextvars.ContextVar("meso_kernels_execution", default=None)


def check(backend, client=None):
    """``backend`` if it is usable: :func:`meso_kernels.cuda.check_backend` (``ValueError`` for an unknown value,
    naming the allowed ones; ``RuntimeError`` for ``"cuda"`` without a GPU, saying how to run on the CPU).

    With a Dask ``client`` the tasks run on its workers, not here (on a cluster the driving process, a login node say,
    may have no GPU): the value is checked here and the GPU on every worker connected now, ``RuntimeError`` naming
    those without one. (A worker that joins later checks again when it computes a task.)"""
    from ..cuda import check_backend
    if client is None:
        return check_backend(backend)
    check_name(backend)
    if backend == "cuda":
        seen = client.run(_worker_has_gpu)
        missing = sorted(w for w, ok in seen.items() if not ok)
        if missing:
            shown = ", ".join(missing[:3]) + (", ..." if len(missing) > 3 else "")
            raise RuntimeError(f"backend='cuda': {len(missing)} of {len(seen)} Dask workers see no GPU ({shown}); "
                               f"run with backend='cpu', or on workers that each see a GPU")
    return backend


def check_name(backend):
    """``backend`` if it is one of the allowed values (``ValueError`` naming them otherwise), wherever it is to
    run: no GPU is looked for."""
    from ..cuda import BACKENDS, check_backend
    if isinstance(backend, str) and backend in BACKENDS:
        return backend
    return check_backend(backend)        # raises its ValueError


def _worker_has_gpu():
    from ..cuda import available
    return bool(available())


class Execution:
    """The backend one task is computed with and where each of its steps ran.

    ``backend``: the requested backend (validated by :func:`check`). ``steps``: step name -> ``"cpu"`` or
    ``"cuda"``, in the order first met; ``fallbacks``: step name -> why it did not run on the requested backend (or
    what was switched off for it)."""

    def __init__(self, backend="cpu"):
        self.backend = check(backend)
        self.steps = {}
        self.fallbacks = {}

    def __repr__(self):
        return f"Execution({self.backend!r}, steps={self.steps})"

    def route(self, step, available=True, reason=""):
        """Where ``step`` runs: the requested backend if ``available`` (the step has a device route), else
        ``"cpu"``, with ``reason`` kept in :attr:`fallbacks` when the device was asked for. Recorded in
        :attr:`steps`."""
        where = self.backend if available else "cpu"
        self.steps[step] = where
        if where != self.backend:
            self.fallbacks[step] = reason or "no device route"
        return where

    def fallback(self, what, reason):
        """Record that ``what`` (a step, or a feature such as checkpoints) was changed or run on the CPU because of
        the backend, and why."""
        self.fallbacks[what] = reason

    @property
    def used(self):
        """``"cuda"`` when any step ran on the device, else ``"cpu"``."""
        return "cuda" if "cuda" in self.steps.values() else "cpu"

    def record(self):
        """The sidecar entries (see the module docstring)."""
        used = self.used
        if used == "cuda":
            from ..cuda import device_name
            device = device_name()
        else:
            device = "cpu"
        out = {"backend": used, "device": device}
        if self.backend != "cpu":
            out["backend_requested"] = self.backend
            out["backend_steps"] = dict(self.steps)
            if self.fallbacks:
                out["backend_fallbacks"] = dict(self.fallbacks)
        return out


def providing(execution):
    """Make ``execution`` the one :func:`current` returns while the block runs (what ``execute`` does around a
    compute function): a context manager."""
    return provided(_CURRENT, execution)


def current():
    """The :class:`Execution` of the task being computed now, or None (outside ``execute``)."""
    return _CURRENT.get()


def requested():
    """The backend requested for the task being computed now: that of :func:`current`, ``"cpu"`` outside
    ``execute``."""
    ex = _CURRENT.get()
    return "cpu" if ex is None else ex.backend


def route(step, backend, available=True, reason=""):
    """Where ``step`` of a computation asked to run on ``backend`` runs: ``backend`` if ``available``, else
    ``"cpu"``; recorded in the current :class:`Execution` if there is one (outside ``execute`` only returned)."""
    ex = _CURRENT.get()
    if ex is not None and ex.backend == backend:
        return ex.route(step, available, reason)
    return backend if available else "cpu"


def fallback(what, reason):
    """Record a fallback (see :meth:`Execution.fallback`) in the current :class:`Execution`, if any."""
    ex = _CURRENT.get()
    if ex is not None:
        ex.fallback(what, reason)
