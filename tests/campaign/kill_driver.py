"""Driver of tests/campaign/test_kill.py: runs a small campaign (two tiny mechanics ensembles of 3D IPL, 26 tasks)
into a store, in a process of its own that the test kills with SIGKILL and starts again.

    python kill_driver.py DATA SCRATCH LOG REPORT [--dask]

- Every task this process actually computes appends ``start <attempt> <kind> <key>`` to LOG before its compute
  function runs, and ``stored <attempt> <kind> <key>`` once :func:`meso_kernels.campaign.task.execute` has written
  it (tasks found stored are not computed and not logged). ``removed <attempt> <path>`` lines name the stale
  temporary files that :func:`meso_kernels.campaign.run` cleaned (logged as they are removed). Each line is one ``write`` to a file opened with
  O_APPEND, so a kill never leaves half a line; the attempt number comes from ``KILL_ATTEMPT``.
- ``KILL_STALL=npz:<n>`` or ``json:<n>`` (with ``KILL_MARKER=<path>``): just before the n-th rename of a temporary
  ``.npz`` (``.json``) file onto its place in the store, write ``<temporary> <destination>`` to the marker file and
  sleep, so that the test kills this process in the middle of a write. ``KILL_STALL=probe:<n>``: the same before
  :meth:`Store.check_writable` removes its n-th probe file (1: the one in data/).
- ``--dask``: run on ``local_cluster(2)`` instead; once ``KILL_AFTER`` results are stored, SIGKILL one worker
  process that is processing a task (its pid from ``client.run(os.getpid)``), and finish the campaign anyway.
- On success REPORT gets a JSON summary (tasks computed, stale files removed, the killed worker, ...).
"""
import json
import os
import sys
import threading
import time
from pathlib import Path

from driver_stalls import stall, stall_at_rename, write_atomically


def tasks():
    """The campaign: two ensembles of 10 inherent structures (2 liquids, 2 parents, 20 IHS, 2 summaries), N = 128 IPL
    particles (the smallest 3D IPL box that holds r_c + skin <= L/2 with margin, tests/conftest.py)."""
    from meso_kernels.campaign import mechanics_tasks
    return [mechanics_tasks("ipl", T, 128, 200, 200, 200, n_conf=10, n_pairs=20, seed=3) for T in (1.2, 1.0)]


class Log:
    def __init__(self, path, attempt):
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.attempt = attempt

    def __call__(self, *words):
        os.write(self.fd, (" ".join(str(w) for w in (words[0], self.attempt, *words[1:])) + "\n").encode())


def instrument(log, roots):
    """Log every computed task; stall before the KILL_STALL-th rename of a store file if asked to."""
    import dataclasses

    from meso_kernels.campaign import runner, task as task_module
    from meso_kernels.store import key_for

    for name, spec in list(task_module.KINDS.items()):
        def compute(task, params, load, progress, _spec=spec):
            log("start", task.kind, key_for(_spec.campaign, params, seed=task.seed))
            return _spec.compute(task, params, load, progress)
        task_module.KINDS[name] = dataclasses.replace(spec, compute=compute)

    real_execute = runner.execute

    def execute(task, store, *deps, **kw):
        out = real_execute(task, store, *deps, **kw)
        if out["computed"]:
            log("stored", task.kind, out["key"])
        return out

    runner.execute = execute

    stall_spec = os.environ.get("KILL_STALL")
    if not stall_spec:
        return
    suffix, n = stall_spec.split(":")
    marker = os.environ["KILL_MARKER"]
    if suffix == "probe":
        real_task_os = task_module.os

        class StallingTaskOS:
            """``os`` as meso_kernels.campaign.task sees it, with an ``unlink`` that stalls before removing the
            n-th probe file of Store.check_writable."""
            probes = 0

            def __getattr__(self, name):
                return getattr(real_task_os, name)

            def unlink(self, path):
                if Path(path).name.startswith(".meso-probe."):
                    StallingTaskOS.probes += 1
                    if StallingTaskOS.probes == int(n):
                        stall(marker, f"{path} {path}\n")
                return real_task_os.unlink(path)

        task_module.os = StallingTaskOS()
        return
    stall_at_rename(int(n), marker,
                    lambda dst: dst.suffix == f".{suffix}" and any(r in dst.parents for r in roots))


def kill_a_worker(client, store, after, done, found):
    """Wait until ``after`` results are stored, then SIGKILL a worker that is processing a task."""
    import signal
    pattern = "*/*.json"
    while not done.is_set():
        n = sum(1 for root in (store.data, store.scratch) for _ in Path(root).glob(pattern))
        if n >= after:
            busy = [addr for addr, keys in client.processing().items() if keys]
            if busy:
                pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
                os.kill(pid, signal.SIGKILL)
                found.update(pid=pid, stored_at_kill=n, processing=list(client.processing()[busy[0]]))
                return
        time.sleep(0.02)


def main(argv):
    data, scratch, log_path, report = (Path(a) for a in argv[:4])
    dask = "--dask" in argv[4:]
    from meso_kernels.campaign import Store, run
    store = Store(data, scratch)
    targets = tasks()
    out = {"mode": "dask" if dask else "serial"}
    if not dask:
        log = Log(log_path, int(os.environ.get("KILL_ATTEMPT", "0")))
        instrument(log, (data.resolve(), scratch.resolve(), data, scratch))

        class LoggingStore(Store):
            def clean(self):
                removed = super().clean()
                for p in removed:
                    log("removed", p)
                return removed

        res = run(targets, LoggingStore(data, scratch), progress=False)
    else:
        from distributed import Client
        from meso_kernels.campaign import local_cluster
        with local_cluster(2, dashboard=False) as cluster, Client(cluster) as client:
            client.wait_for_workers(2, timeout=240)
            out["pids_before"] = sorted(client.run(os.getpid).values())
            done, found = threading.Event(), {}
            killer = threading.Thread(target=kill_a_worker,
                                      args=(client, store, int(os.environ.get("KILL_AFTER", "6")), done, found),
                                      daemon=True)
            killer.start()
            try:
                res = run(targets, store, client=client, progress=False)
            finally:
                done.set()
                killer.join(60)
            out["killed"] = found
            deadline = time.monotonic() + 120
            while len(client.scheduler_info()["workers"]) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)  # the nanny restarts the killed worker
            out["pids_after"] = sorted(client.run(os.getpid).values())
    out.update(computed=len(res["computed"]), skipped=len(res["skipped"]), removed=[str(p) for p in res["removed"]])
    write_atomically(report, json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
