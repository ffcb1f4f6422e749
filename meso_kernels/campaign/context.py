"""What a task's compute function is given while it runs, beside its parameters: a context variable per thing
(its checkpoint, :mod:`.checkpoint`; its execution backend, :mod:`.execution`), set by
:func:`~meso_kernels.campaign.task.execute` for the duration of the call. Context variables, not globals: tasks
computed by threads of one Dask worker each see their own.

>>> import contextvars
>>> var = contextvars.ContextVar("demo", default=None)
>>> with provided(var, 3):
...     var.get()
3
>>> var.get() is None
True
"""
import contextlib


@contextlib.contextmanager
def provided(var, value):
    """Set the context variable ``var`` to ``value`` while the block runs (yields ``value``), then restore it."""
    token = var.set(value)
    try:
        yield value
    finally:
        var.reset(token)
