"""A campaign killed with SIGKILL and resumed ends with the store of an uninterrupted run.

The campaign (tests/campaign/kill_driver.py: two tiny mechanics ensembles of 3D IPL, 26 tasks) runs in a process of
its own, on one numba thread so that its results are bit-identical from run to run:

- once uninterrupted (the reference, a module fixture);
- killed at 5 random moments while it computes (seeded: after the k-th task started by that attempt, plus a random
  delay) and twice in the middle of a write (the driver stalls just before renaming a temporary npz / sidecar onto its
  place in the store), started again after each kill, then run to completion;
- killed while :meth:`Store.check_writable` has its probe file in data/, then run to completion;
- on ``local_cluster(2)``, one of whose worker processes is killed while it works on a task.

Each ends with the reference's files (names, bit-identical arrays, sidecars with the same parameters), no temporary
or half-written file, and, for the killed serial run, no task computed again once its result was stored before a
kill.
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

DRIVER = Path(__file__).with_name("kill_driver.py")
N_TASKS = 26  # 2 liquids + 2 parents + 2 x 10 inherent structures + 2 summaries
#: generous limits: a loaded 2-core CI machine, and a cold numba cache compiles for a minute or two
START_TIMEOUT = 300
RUN_TIMEOUT = 600
#: arrays that record how long a computation took (the liquid's ``wall_time``, meso_kernels/campaign/liquid.py):
#: compared by dtype and shape only
TIMINGS = {"wall_time"}
#: the sidecar entries that do not depend on when, where and how fast a result was made
SIDECAR_KEYS = ("params", "seed", "key", "campaign", "code_version", "arrays", "task_kind", "numba_threads")


def driver_env(**extra):
    env = dict(os.environ, NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    for name in ("KILL_ATTEMPT", "KILL_STALL", "KILL_MARKER", "KILL_AFTER"):
        env.pop(name, None)
    env.update({k: str(v) for k, v in extra.items()})
    return env


class Driver:
    """One run of kill_driver.py in its own session (so that it and its workers can be killed as a group)."""

    def __init__(self, root, name, *args, **env):
        self.root = Path(root)
        self.output = self.root / f"{name}.out"
        self.report = self.root / f"{name}.report.json"
        cmd = [sys.executable, str(DRIVER), str(self.root / "data"), str(self.root / "scratch"),
               str(self.root / "log"), str(self.report), *args]
        with open(self.output, "wb") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=driver_env(**env),
                                         start_new_session=True)

    def alive(self):
        return self.proc.poll() is None

    def tail(self, n=3000):
        try:
            return self.output.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def wait(self, timeout=RUN_TIMEOUT):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill_group()
            pytest.fail(f"the campaign driver did not finish within {timeout} s:\n{self.tail()}")
        assert rc == 0, f"the campaign driver failed (exit status {rc}):\n{self.tail()}"
        return json.loads(self.report.read_text())

    def kill(self):
        """SIGKILL the driver; True if that killed it (False: it had already ended)."""
        self.proc.send_signal(signal.SIGKILL)
        return self.proc.wait(60) == -signal.SIGKILL

    def kill_group(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            pass


def wait_until(condition, driver, timeout=START_TIMEOUT, what="the campaign"):
    """Poll ``condition`` until it holds or the driver ends; False if the driver finished the campaign first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if not driver.alive():
            if condition():
                return True
            assert driver.proc.returncode == 0, f"the campaign driver failed:\n{driver.tail()}"
            return False
        time.sleep(0.01)
    pytest.fail(f"timed out after {timeout} s waiting for {what}:\n{driver.tail()}")


def log_lines(path):
    """The complete lines of the driver log: (event, attempt, *words)."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return []
    out = []
    for line in text.splitlines(keepends=True):
        if line.endswith("\n"):
            event, attempt, *words = line.split()
            out.append((event, int(attempt), *words))
    return out


def starts(lines, attempt):
    """Keys of the tasks computed by one attempt, in order."""
    return [words[1] for event, a, *words in lines if event == "start" and a == attempt]


def store_files(root):
    """Relative paths of every file under data/ and scratch/ of a driver folder."""
    return sorted(p.relative_to(root).as_posix() for sub in ("data", "scratch")
                  for p in (Path(root) / sub).rglob("*") if p.is_file())


def stored_keys(root):
    """store key -> (npz, sidecar) (dev, inode, size, mtime) of every complete result (its sidecar exists)."""
    out = {}
    for sub in ("data", "scratch"):
        for js in (Path(root) / sub).glob("*/*.json"):
            npz = js.with_suffix(".npz")
            try:
                out[js.stem] = tuple((s.st_dev, s.st_ino, s.st_size, s.st_mtime_ns) for s in (npz.stat(), js.stat()))
            except FileNotFoundError:
                pytest.fail(f"sidecar {js} without its npz")
    return out


def assert_complete(root):
    """No temporary or partial file anywhere; every npz has its sidecar and vice versa; everything loads."""
    files = store_files(root)
    assert files, f"empty store under {root}"
    hidden = [f for f in files if Path(f).name.startswith(".") or f.endswith(".tmp")]
    assert not hidden, f"temporary files left in the store: {hidden}"
    stems = {}
    for f in files:
        p = Path(f)
        assert p.suffix in (".npz", ".json"), f"unexpected file in the store: {f}"
        stems.setdefault(p.with_suffix("").as_posix(), set()).add(p.suffix)
    unpaired = {s: sorted(x) for s, x in stems.items() if x != {".npz", ".json"}}
    assert not unpaired, f"results without their npz or sidecar: {unpaired}"
    for f in files:
        path = Path(root) / f
        if path.suffix == ".json":
            meta = json.loads(path.read_text())
            assert meta["key"] == path.stem and meta["numba_threads"] == 1, (f, meta.get("key"))
        else:
            with np.load(path, allow_pickle=False) as npz:
                assert npz.files, f
                for name in npz.files:
                    npz[name]  # reads and CRC-checks every member


def assert_same_store(root, reference):
    files = store_files(root)
    assert files == store_files(reference), "the store keys differ from the uninterrupted run's"
    assert sum(f.endswith(".json") for f in files) == N_TASKS
    for f in files:
        a, b = Path(root) / f, Path(reference) / f
        if a.suffix == ".json":
            ma, mb = json.loads(a.read_text()), json.loads(b.read_text())
            assert {k: ma.get(k) for k in SIDECAR_KEYS} == {k: mb.get(k) for k in SIDECAR_KEYS}, f
        else:
            with np.load(a, allow_pickle=False) as na, np.load(b, allow_pickle=False) as nb:
                assert sorted(na.files) == sorted(nb.files), f
                for name in na.files:
                    x, y = na[name], nb[name]
                    assert x.dtype == y.dtype and x.shape == y.shape, (f, name, x.dtype, y.dtype, x.shape, y.shape)
                    assert name in TIMINGS or np.array_equal(x, y), \
                        f"{f}: array {name!r} differs from the uninterrupted run's"


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted serial run (it also fills the numba cache that the killed runs load)."""
    root = tmp_path_factory.mktemp("reference")
    driver = Driver(root, "run", KILL_ATTEMPT=0)
    try:
        report = driver.wait()
    finally:
        driver.kill_group()
    assert report["computed"] == N_TASKS and not report["removed"]
    lines = log_lines(root / "log")
    computed = starts(lines, 0)
    assert len(computed) == N_TASKS and len(set(computed)) == N_TASKS, "a task was computed twice"
    assert_complete(root)
    assert set(computed) == set(stored_keys(root))
    return root


def killed_campaign(root, rng, shrink):
    """Run the campaign in ``root`` through 5 random kills and 2 kills during a write, then to completion.
    Returns a list of kill records, or None if a planned kill found the campaign already finished."""
    plan = ["random"] * 5 + ["npz", "json"]
    plan = [plan[i] for i in rng.permutation(len(plan))]
    log, marker = root / "log", root / "marker"
    kills = []
    for attempt, what in enumerate(plan, start=1):
        env = {"KILL_ATTEMPT": attempt}
        if what != "random":
            env.update(KILL_STALL=f"{what}:{int(rng.integers(1, 3))}", KILL_MARKER=marker)
        before = stored_keys(root)
        driver = Driver(root, f"attempt{attempt}", **env)
        record = {"attempt": attempt, "what": what}
        try:
            if what == "random":
                k = 1 if shrink else int(rng.integers(1, 3))
                delay = float(rng.uniform(0.0, 0.25)) / (4 if shrink else 1)
                record.update(k=k, delay=delay)
                if not wait_until(lambda: len(starts(log_lines(log), attempt)) >= k, driver,
                                  what=f"task {k} of attempt {attempt} to start"):
                    return None
                time.sleep(delay)
            else:
                if not wait_until(marker.exists, driver, what=f"attempt {attempt} to stall in a write"):
                    return None
                tmp, dst = marker.read_text().split()
                record.update(tmp=tmp, dst=dst)
            if not driver.kill():
                return None
        finally:
            driver.kill_group()
        lines = log_lines(log)
        events = [(e, w[1]) for e, a, *w in lines if a == attempt and e in ("start", "stored")]
        record["started"] = [k for e, k in events if e == "start"]
        record["in_task"] = bool(events) and events[-1][0] == "start"
        record["stored"] = stored_keys(root)  # complete results at the kill
        assert not (set(before) - set(record["stored"])), "a kill removed a stored result"
        if what != "random":
            # killed with the temporary file written and fsync'ed but not renamed onto its place
            assert Path(record["tmp"]).is_file(), record
            assert Path(record["dst"]).stem not in record["stored"], record
            if what == "json":  # the npz is in place, its sidecar is not: an incomplete result
                assert not Path(record["dst"]).exists(), record
                assert Path(record["dst"]).with_suffix(".npz").is_file(), record
            marker.unlink()
        kills.append(record)
    return kills


def test_killed_campaign_resumes_to_the_uninterrupted_store(reference, tmp_path):
    rng = np.random.default_rng(20240611)
    for attempt_set in range(3):
        root = tmp_path / f"try{attempt_set}"
        root.mkdir()
        kills = killed_campaign(root, rng, shrink=attempt_set > 0)
        if kills is not None:
            break
    else:
        pytest.fail("the campaign finished before the planned kills three times over")

    final_attempt = len(kills) + 1
    driver = Driver(root, "final", KILL_ATTEMPT=final_attempt)
    try:
        report = driver.wait()
    finally:
        driver.kill_group()
    lines = log_lines(root / "log")
    for k in kills:  # shown with pytest -s
        print(f"kill {k['attempt']} ({k['what']}, k={k.get('k')}, delay={k.get('delay', 0):.3f} s): "
              f"{len(k['started'])} task(s) started, in a task: {k['in_task']}, {len(k['stored'])} stored")
    print(f"final attempt computed {report['computed']}, removed {len(report['removed'])} stale file(s)")

    # the kills: 5 at random moments and 2 during a write, all of a live campaign, at least 5 inside a task
    random_kills = [k for k in kills if k["what"] == "random"]
    write_kills = [k for k in kills if k["what"] != "random"]
    assert len(random_kills) >= 5 and len(write_kills) == 2
    assert sum(k["in_task"] for k in kills) >= 5, [(k["what"], k["in_task"]) for k in kills]
    assert all(k["started"] for k in kills)

    # no task stored before a kill was computed again, nor its files rewritten
    by_attempt = {a: starts(lines, a) for a in range(1, final_attempt + 1)}
    for a, keys in by_attempt.items():
        assert len(keys) == len(set(keys)), f"attempt {a} computed a task twice: {keys}"
    for k in kills:
        for later in range(k["attempt"] + 1, final_attempt + 1):
            again = set(by_attempt[later]) & set(k["stored"])
            assert not again, (f"attempt {later} computed {sorted(again)} again although stored before kill "
                               f"{k['attempt']}")
    final_stat = stored_keys(root)
    for k in kills:
        changed = [key for key, st in k["stored"].items() if final_stat.get(key) != st]
        assert not changed, f"results stored before kill {k['attempt']} were rewritten: {changed}"

    # the kills during a write: the next attempt cleaned the temporary file; an orphaned npz was recomputed
    removed = {(a, w[0]) for e, a, *w in lines if e == "removed"}
    for k in write_kills:
        assert (k["attempt"] + 1, k["tmp"]) in removed, (k, sorted(removed))
        assert not Path(k["tmp"]).exists()
        if k["what"] == "json":
            key = Path(k["dst"]).stem
            assert any(key in by_attempt[a] for a in range(k["attempt"] + 1, final_attempt + 1)), k

    # everything computed at least once, all of it stored; the final attempt did only what was left
    computed = {key for keys in by_attempt.values() for key in keys}
    assert computed == set(final_stat) and len(final_stat) == N_TASKS
    assert report["computed"] == N_TASKS - len(kills[-1]["stored"]) == len(by_attempt[final_attempt])

    assert_complete(root)
    assert_same_store(root, reference)


def test_kill_during_the_writability_probe_leaves_nothing(reference, tmp_path):
    """run() first probes that data/ and scratch/ are writable by creating and removing a file in each: a campaign
    killed in between must not leave that file behind (data/ is committed)."""
    marker = tmp_path / "marker"
    driver = Driver(tmp_path, "probe", KILL_ATTEMPT=1, KILL_STALL="probe:1", KILL_MARKER=marker)
    try:
        assert wait_until(marker.exists, driver, what="the campaign to stall in its writability probe")
        probe = Path(marker.read_text().split()[0])
        assert probe.is_file() and probe.parent == tmp_path / "data"
        assert driver.kill()
    finally:
        driver.kill_group()
    driver = Driver(tmp_path, "final", KILL_ATTEMPT=2)
    try:
        report = driver.wait()
    finally:
        driver.kill_group()
    assert report["computed"] == N_TASKS
    assert not probe.exists(), (f"the probe file {probe.name} of a campaign killed in Store.check_writable is left "
                                f"in data/ after the campaign resumed and finished (Store.clean does not remove it)")
    assert_complete(tmp_path)
    assert_same_store(tmp_path, reference)


def test_dask_campaign_survives_a_killed_worker(reference, tmp_path):
    for attempt, after in enumerate((6, 2)):
        root = tmp_path / f"try{attempt}"
        root.mkdir()
        driver = Driver(root, "dask", "--dask", KILL_AFTER=after)
        try:
            report = driver.wait()
        finally:
            driver.kill_group()
        if report["killed"]:
            break
    else:
        pytest.fail(f"no worker was processing a task once results were stored:\n{report}")
    killed = report["killed"]
    assert killed["pid"] in report["pids_before"] and killed["stored_at_kill"] < N_TASKS and killed["processing"]
    assert len(report["pids_after"]) == 2 and killed["pid"] not in report["pids_after"], report  # restarted
    assert report["computed"] == N_TASKS, report
    assert_complete(root)
    assert_same_store(root, reference)
