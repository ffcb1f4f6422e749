"""What tests/campaign/kill_driver.py and tests/campaign/checkpoint_driver.py share: a marker file written atomically
and a stall (sleep until the test kills the process), either at a point of the driver's choosing or at the n-th rename
of a temporary file onto its place by :mod:`meso_kernels.io`.

The drivers run as scripts, so their folder is on ``sys.path`` and they import this module by its name.
"""
import os
import time
from pathlib import Path


def write_atomically(path, text):
    """Write ``text`` to ``path`` through a temporary file and a rename (a reader never sees half of it)."""
    tmp = f"{path}.part{os.getpid()}"
    with open(tmp, "w") as fh:
        fh.write(text)
    os.rename(tmp, path)


def stall(marker, text):
    """Write ``text`` to the file ``marker`` and sleep: the test, waiting for the marker, kills the process here."""
    write_atomically(marker, text)
    time.sleep(3600)  # killed here


def stall_at_rename(n, marker, counts):
    """Make :mod:`meso_kernels.io`'s ``os.replace`` stall (:func:`stall`, marker text ``<temporary> <destination>``)
    just before the ``n``-th rename whose destination ``counts(Path(dst))`` accepts."""
    from meso_kernels import io as mio
    real_os = mio.os
    count = [0]

    class StallingOS:
        """``os`` as meso_kernels.io sees it, with a ``replace`` that stalls at the chosen rename."""

        def __getattr__(self, name):
            return getattr(real_os, name)

        def replace(self, src, dst):
            if counts(Path(dst)):
                count[0] += 1
                if count[0] == n:
                    stall(marker, f"{src} {dst}\n")
            return real_os.replace(src, dst)

    mio.os = StallingOS()
