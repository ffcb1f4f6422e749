"""Campaign throughput: one fixed set of ``mechanics_ihs`` tasks, serially in this process against a local Dask
cluster of 1 and of 2 (or more) single-threaded workers, measured in the same run on the same machine.

Usage (from the repository root)::

    source scripts/_env.sh
    python benchmarks/campaign.py                              # 16 tasks, N = 1000, 1000 pairs; 1 and 2 workers
    python benchmarks/campaign.py --workers 1,2 --n-tasks 32   # more tasks: less start/finish granularity
    python benchmarks/campaign.py --n-tasks 2 --N 128 --n-pairs 10 --idle-timeout 0    # smoke test (seconds)

Task set
--------
``mechanics_tasks("ipl", T, N, equil_steps, liquid_steps, prod_steps, n_conf, n_pairs)`` of the 3D IPL model: its
``needs[1:]`` are the per-configuration ``mechanics_ihs`` tasks (CG quench to max|F| < 1e-10, G, κ_ij of
``--n-pairs`` random interacting pairs). The first ``--n-tasks`` of them are timed; the remaining ones (one per
worker of the largest cluster) are only used to warm up. The ``liquid`` and ``parents`` tasks they read are computed
once, untimed, into a base store and copied into a fresh store for every mode.

Protocol
--------
1. This process runs at one thread: NUMBA_NUM_THREADS, OMP/OPENBLAS/MKL_NUM_THREADS = 1 are set before numpy and
   numba are imported (and ``numba.set_num_threads(1)``), as in every campaign worker (``campaign.WORKER_ENV``).
2. Serial (the baseline): ``campaign.run(tasks, store)`` in this process, after one untimed warm-up task here (numba
   compilation or cache load, SciPy imports).
3. Dask, for each worker count w of ``--workers``: ``campaign.local_cluster(w)`` + ``Client`` + wait for the w
   workers (reported as start-up, not in the task wall time); one untimed warm-up task pinned to each worker;
   then ``campaign.run(tasks, store, client=client)``. The cluster is closed before the next mode.
4. Each mode writes into its own fresh store, so every timed task is computed (nothing is skipped); the timed wall
   time includes what ``run`` does around the tasks (plan, cost model, clean-up of stale temporaries) in every mode.
5. The results of every mode are compared array by array with the serial ones: with one thread everywhere they
   must be bit-identical.
6. Shared machine: before each timed run the script waits (up to ``--idle-timeout`` s) for other processes to use
   less than ``--max-others`` cores, and measures what they used during the run (/proc/stat minus the CPU time of
   this process and its descendants, the Dask workers included). A run disturbed by more than ``--max-others``
   cores is flagged ``*``.

Columns: wall (s) of the timed run; speed-up = serial wall / wall; efficiency = speed-up / workers; overhead per
task = (workers × wall − serial wall) / n_tasks, the CPU-seconds per task lost to Dask (and, with more than one
worker, to workers competing for memory bandwidth and cache); for 1 worker this is (wall_1worker − wall_serial) /
n_tasks. "task compute" is the mean of the tasks' own wall times from their sidecars (``compute`` only, inside the
worker). Target: a speed-up of at least 1.8 on 2 workers.

Results: Markdown printed and written to ``benchmarks/_work/campaign.md`` (``--out``).
"""
import os

# one thread everywhere, before numpy / numba / BLAS are loaded (the baseline is single-threaded, like the workers)
for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work"
sys.path.insert(0, str(HERE.parent))

TARGET = 1.8          # speed-up wanted on 2 workers against the serial run
TARGET_WORKERS = 2


def _cores():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


# ---------------------------------------------------------------------------------------------------------------
# load of other processes
# ---------------------------------------------------------------------------------------------------------------
def _tree_cpu_seconds(root_pid):
    """CPU seconds (user + system) of ``root_pid`` and its live descendants, plus the reaped children it waited for."""
    import resource
    tick = os.sysconf("SC_CLK_TCK")
    parent, cpu = {}, {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                text = f.read()
        except OSError:
            continue
        fields = text[text.rfind(")") + 2:].split()          # after "pid (comm) "
        pid = int(name)
        parent[pid] = int(fields[1])
        cpu[pid] = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    total = 0.0
    for pid in cpu:
        p = pid
        while p > 1 and p != root_pid:
            p = parent.get(p, 0)
        if p == root_pid:
            total += cpu[pid]
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return total + r.ru_utime + r.ru_stime


class LoadMonitor:
    """CPU used by other processes, in cores: /proc/stat minus this process tree (as in md_throughput.py, but
    counting the live Dask worker processes too)."""

    def __init__(self, max_others, idle_timeout, log):
        self.max_others, self.idle_timeout, self.log = max_others, idle_timeout, log
        self.ok = Path("/proc/stat").exists()
        self.tick = os.sysconf("SC_CLK_TCK") if self.ok else 100

    def snapshot(self):
        if not self.ok:
            return time.perf_counter(), 0.0, 0.0
        with open("/proc/stat") as f:
            v = [int(c) for c in f.readline().split()[1:9]]
        busy = (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / self.tick   # user nice system irq softirq steal
        return time.perf_counter(), busy, _tree_cpu_seconds(os.getpid())

    def others(self, a, b):
        if not self.ok:
            return float("nan")
        return max(0.0, (b[1] - a[1] - (b[2] - a[2])) / max(b[0] - a[0], 1e-9))

    def wait_idle(self):
        if not self.ok or self.idle_timeout <= 0:
            return
        t_end = time.perf_counter() + self.idle_timeout
        warned = False
        while True:
            a = self.snapshot()
            time.sleep(2.0)
            load = self.others(a, self.snapshot())
            if load <= self.max_others or time.perf_counter() > t_end:
                return
            if not warned:
                self.log(f"  machine busy (other processes use {load:.2f} cores): waiting up to "
                         f"{self.idle_timeout:.0f} s")
                warned = True


# ---------------------------------------------------------------------------------------------------------------
# the measurement
# ---------------------------------------------------------------------------------------------------------------
def task_set(args, n_warm):
    """(timed tasks, warm-up tasks, parents task) of one ensemble of n_tasks + n_warm configurations."""
    from meso_kernels.campaign import mechanics_tasks
    summary = mechanics_tasks("ipl", args.T, args.N, args.equil_steps, args.liquid_steps, args.prod_steps,
                              n_conf=args.n_tasks + n_warm, n_pairs=args.n_pairs, seed=args.seed)
    per = list(summary.needs[1:])
    return per[:args.n_tasks], per[args.n_tasks:], summary.needs[0]


def fresh_store(tmp, name, base):
    """A new store under ``tmp/name`` holding a copy of the base store (liquid and parents)."""
    from meso_kernels.campaign import Store
    store = Store(tmp / name / "data", tmp / name / "scratch")
    shutil.copytree(base.data, store.data)
    shutil.copytree(base.scratch, store.scratch)
    return store


def results(tasks, store):
    from meso_kernels.campaign import Resolver
    res = Resolver(store)
    arrays = [res.load(t) for t in tasks]
    walls = [res.sidecar(t)["wall_time_s"] for t in tasks]
    threads = {res.sidecar(t).get("numba_threads") for t in tasks}
    return arrays, walls, threads


def compare(reference, other):
    """(number of arrays compared, list of 'task k: array' that differ)."""
    import numpy as np
    n, bad = 0, []
    for k, (a, b) in enumerate(zip(reference, other)):
        for name in sorted(set(a) | set(b)):
            n += 1
            if name not in a or name not in b:
                bad.append(f"task {k}: {name} missing")
            elif a[name].dtype != b[name].dtype or not np.array_equal(a[name], b[name], equal_nan=True):
                bad.append(f"task {k}: {name}")
    return n, bad


def measure_serial(tasks, warm, store, monitor, log):
    import numba

    from meso_kernels.campaign import execute, run
    numba.set_num_threads(1)
    t = time.perf_counter()
    execute(warm, store)
    warmup = time.perf_counter() - t
    log(f"serial: warm-up task {warmup:.1f} s; timing {len(tasks)} tasks ...")
    monitor.wait_idle()
    a = monitor.snapshot()
    t = time.perf_counter()
    out = run(tasks, store, client=None, progress=False)
    wall = time.perf_counter() - t
    load = monitor.others(a, monitor.snapshot())
    assert len(out["computed"]) == len(tasks), out
    return dict(mode="serial", workers=1, wall=wall, startup=None, warmup=warmup, load=load)


def measure_dask(tasks, warm, store, workers, monitor, log):
    from distributed import Client, wait

    from meso_kernels.campaign import execute, local_cluster, run
    t = time.perf_counter()
    cluster = local_cluster(workers, dashboard=False)
    client = Client(cluster)
    try:
        client.wait_for_workers(workers, timeout=120)
        startup = time.perf_counter() - t
        threads = client.run(lambda: __import__("numba").get_num_threads())
        if set(threads.values()) != {1}:
            raise RuntimeError(f"Dask workers do not run numba at one thread: {threads}")
        addresses = sorted(client.scheduler_info()["workers"])
        t = time.perf_counter()
        futures = [client.submit(execute, w, store, workers=[addr], allow_other_workers=False, pure=False,
                                 key=f"warm-{k}") for k, (w, addr) in enumerate(zip(warm, addresses))]
        wait(futures)
        for f in futures:
            f.result()
        warmup = time.perf_counter() - t
        log(f"dask {workers} worker(s): start-up {startup:.1f} s, warm-up {warmup:.1f} s; timing {len(tasks)} "
            f"tasks ...")
        monitor.wait_idle()
        a = monitor.snapshot()
        t = time.perf_counter()
        out = run(tasks, store, client=client, progress=False)
        wall = time.perf_counter() - t
        load = monitor.others(a, monitor.snapshot())
        assert len(out["computed"]) == len(tasks), out
    finally:
        client.close()
        cluster.close()
    return dict(mode="dask LocalCluster", workers=workers, wall=wall, startup=startup, warmup=warmup, load=load)


def table(rows, serial, n_tasks, max_others):
    md = ["| mode | workers | wall (s) | speed-up vs serial | efficiency | overhead per task (s) | task compute (s) "
          "| start-up (s) | others' load (cores) |",
          "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        speed = serial["wall"] / r["wall"]
        flag = "*" if r["load"] > max_others else ""
        if r is serial:
            cols = ["1.00", "1.00", "—"]
        else:
            over = (r["workers"] * r["wall"] - serial["wall"]) / n_tasks
            cols = [f"{speed:.2f}", f"{speed / r['workers']:.2f}", f"{over:+.3f}"]
        startup = "—" if r["startup"] is None else f"{r['startup']:.1f}"
        md.append(f"| {r['mode']} | {r['workers']} | {r['wall']:.2f}{flag} | " + " | ".join(cols)
                  + f" | {r['task_mean']:.3f} | {startup} | {r['load']:.2f} |")
    return md


def parse_workers(text):
    try:
        ws = sorted({int(w) for w in text.split(",") if w.strip()})
    except ValueError:
        ws = []
    if not ws or min(ws) < 1:
        raise argparse.ArgumentTypeError(f"must be a comma list of positive integers, got {text!r}")
    return ws


def main(argv=None):
    cores = _cores()
    default_workers = ",".join(str(w) for w in sorted({1, min(2, cores), cores}))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__[
                                     __doc__.index("Task set"):__doc__.index("Results:")])
    ap.add_argument("--n-tasks", type=int, default=16, help="timed mechanics_ihs tasks (default 16)")
    ap.add_argument("--N", type=int, default=1000, help="particles (default 1000, as the liquids of Figs 4-11)")
    ap.add_argument("--n-pairs", type=int, default=1000,
                    help="random κ pairs per inherent structure (default 1000)")
    ap.add_argument("--T", type=float, default=0.7, help="parent temperature of the IPL liquid (default 0.7)")
    ap.add_argument("--equil-steps", type=int, default=5000, help="liquid equilibration steps (default 5000)")
    ap.add_argument("--liquid-steps", type=int, default=2000, help="liquid measured steps (default 2000)")
    ap.add_argument("--prod-steps", type=int, default=4000,
                    help="NVT steps over which the parents are sampled (default 4000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=parse_workers, default=parse_workers(default_workers),
                    help=f"comma list of Dask worker counts (default here: {default_workers}: 1, 2 and the cores)")
    ap.add_argument("--max-others", type=float, default=0.25,
                    help="cores other processes may use during a timed run before it is flagged (default 0.25)")
    ap.add_argument("--idle-timeout", type=float, default=120.0,
                    help="seconds to wait for a quiet machine before each timed run (0: do not wait; default 120)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary stores (their path is printed)")
    ap.add_argument("--out", default=str(WORK / "campaign.md"), help="Markdown table (default benchmarks/_work/)")
    args = ap.parse_args(argv)
    for name in ("n_tasks", "N", "n_pairs"):
        if getattr(args, name) < 1:
            ap.error(f"argument --{name.replace('_', '-')}: must be a positive integer")

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    import numba

    from meso_kernels.campaign import Store, execute
    from meso_kernels.cpuinfo import cpu_record
    numba.set_num_threads(1)
    monitor = LoadMonitor(args.max_others, args.idle_timeout, log)
    n_warm = max(max(args.workers), 1)
    timed, warm, parents = task_set(args, n_warm)
    tmp = Path(tempfile.mkdtemp(prefix="meso-bench-campaign-"))
    try:
        base = Store(tmp / "base" / "data", tmp / "base" / "scratch")
        t = time.perf_counter()
        execute(parents.needs[0], base)
        execute(parents, base)
        log(f"liquid + parents (N = {args.N}, T = {args.T:g}, {args.n_tasks} + {n_warm} configurations): "
            f"{time.perf_counter() - t:.1f} s, untimed")

        rows, arrays = [], {}
        store = fresh_store(tmp, "serial", base)
        serial = measure_serial(timed, warm[0], store, monitor, log)
        arrays["serial"], serial["walls"], serial["threads"] = results(timed, store)
        rows.append(serial)
        for w in args.workers:
            store = fresh_store(tmp, f"dask{w}", base)
            r = measure_dask(timed, warm[:w], store, w, monitor, log)
            arrays[w], r["walls"], r["threads"] = results(timed, store)
            rows.append(r)
        for r in rows:
            r["task_mean"] = sum(r["walls"]) / len(r["walls"])

        rec = cpu_record()
        md = [f"CPU: {rec['model']} ({rec['isa_level']}); {cores} cores available to this process, "
              f"{os.cpu_count()} logical CPUs; numba {numba.__version__}",
              f"Task set: {args.n_tasks} mechanics_ihs tasks of 3D IPL, N = {args.N}, T_p = {args.T:g}, "
              f"{args.n_pairs} κ pairs each (quench + G + κ); one thread per process "
              f"(numba threads recorded in the sidecars: {sorted(set().union(*(r['threads'] for r in rows)))})",
              ""]
        md += table(rows, serial, args.n_tasks, args.max_others)
        md.append("")
        md.append("overhead per task = (workers × wall − serial wall) / n_tasks; task compute: mean of the tasks' "
                  "own wall times (sidecars); start-up: LocalCluster + Client + all workers connected, not in wall; "
                  f"* = other processes used more than {args.max_others:g} cores during the run.")
        md.append("")
        same = []
        for w in args.workers:
            n, bad = compare(arrays["serial"], arrays[w])
            same.append(not bad)
            if not bad:
                verdict = f"yes ({n} arrays of {len(timed)} tasks)"
            else:
                verdict = f"NO: {len(bad)} of {n} arrays differ ({', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''})"
            md.append(f"Bit-identical to serial, {w} worker(s): {verdict}")
        target_row = next((r for r in rows[1:] if r["workers"] == TARGET_WORKERS), None)
        if target_row is None:
            md.append(f"Target: speed-up >= {TARGET} on {TARGET_WORKERS} workers vs serial: not measured "
                      f"(--workers has no {TARGET_WORKERS})")
        else:
            speed = serial["wall"] / target_row["wall"]
            md.append(f"Target: speed-up >= {TARGET} on {TARGET_WORKERS} workers vs serial: "
                      f"{'met' if speed >= TARGET else 'NOT met'} ({speed:.2f})"
                      + (" (disturbed run: see *)" if max(serial["load"], target_row["load"]) > args.max_others
                         else ""))
        text = "\n".join(md)
        print(text)
        if args.out:
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text(text + "\n", encoding="utf-8")
            log(f"table written to {args.out}")
        return 0 if all(same) else 1
    finally:
        if args.keep:
            log(f"stores kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
