"""Driver of tests/campaign/test_checkpoint.py: computes one tiny liquid task into a store, in a process of its own that
the test kills with SIGKILL and starts again.

    python checkpoint_driver.py DATA SCRATCH

The task is :func:`task` (N = 128 IPL, a few thousand steps), run by :func:`meso_kernels.campaign.run` with
checkpoints every ``MESO_CHECKPOINT_STEPS`` steps (set by the test).

- ``CKPT_STALL=after:<n>`` (with ``CKPT_MARKER=<path>``): once this process has written its n-th checkpoint, write
  ``<checkpoint path>`` to the marker file and sleep, so that the test kills it with a checkpoint in place.
- ``CKPT_STALL=write:<n>``: just before the n-th rename of a temporary checkpoint file onto its place, write
  ``<temporary> <destination>`` to the marker file and sleep: killed in the middle of a checkpoint write.
"""
import os
import sys
from pathlib import Path

from driver_stalls import stall, stall_at_rename


def task():
    from meso_kernels.campaign import liquid_task
    return liquid_task("ipl", 1.2, 128, 1000, 3000, seed=3)


def instrument():
    stall_spec = os.environ.get("CKPT_STALL")
    if not stall_spec:
        return
    what, n = stall_spec.split(":")
    n = int(n)
    marker = os.environ["CKPT_MARKER"]
    from meso_kernels.campaign import checkpoint
    if what == "after":
        real_save = checkpoint.Checkpoint.save
        count = [0]

        def save(self, *args, **kw):
            ok = real_save(self, *args, **kw)
            count[0] += 1
            if count[0] == n:
                stall(marker, f"{self.path}\n")
            return ok

        checkpoint.Checkpoint.save = save
        return
    stall_at_rename(n, marker, lambda dst: "checkpoints" in dst.parts)


def main(argv):
    data, scratch = (Path(a) for a in argv[:2])
    instrument()
    from meso_kernels.campaign import Store, run
    run([task()], Store(data, scratch), progress=False)


if __name__ == "__main__":
    main(sys.argv[1:])
