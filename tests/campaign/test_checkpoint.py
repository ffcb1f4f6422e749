"""Checkpoints of long liquid tasks (meso_kernels/campaign/checkpoint.py): a task interrupted at any moment resumes
from its last checkpoint and stores arrays bit-identical to those of an uninterrupted run.

- the state round trips of the pieces: the Nosé–Hoover (and NVE) integrator with its neighbour list, and the
  correlator paused in mid-run, each through an npz file, continue bit-identically;
- a whole ``liquid`` task (N = 128 IPL, 1000 + 3000 steps, a checkpoint every 300 steps) interrupted in its
  equilibration and again in its production (an exception raised after a checkpoint), and killed with SIGKILL in a
  process of its own (once after a checkpoint, once in the middle of a checkpoint write), then finished: the stored
  arrays equal those of an uninterrupted run made in the same test session on the same machine (``wall_time`` aside),
  the sidecar counts the resumptions, and no checkpoint or temporary file is left;
- a checkpoint of another task, a truncated one and one of another thread count are ignored with a warning;
- a checkpoints folder of its own (``Store(checkpoints=...)``, ``MESO_CHECKPOINT_DIR``, ``--checkpoints``): a task
  interrupted with one scratch folder resumes, bit-identically, with another, empty one (a new machine whose
  scratch is gone) from the checkpoint kept there; the argument wins over the environment; ``Store.clean`` removes
  stale temporaries there.

Everything runs on one numba thread: the force sums are split over threads, so only a run with the same thread count
is bit-identical.
"""
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numba
import numpy as np
import pytest

from meso_kernels.analysis.logtime import LogTimeCorrelator
from meso_kernels.campaign import Store, equilibrium_dynamics
from meso_kernels.campaign import checkpoint as ckmod
from meso_kernels.campaign.checkpoint import META, Checkpoint, checkpoint_path, found
from meso_kernels.campaign.task import ENV_CHECKPOINT_DIR, Resolver, execute
from meso_kernels.initial import random_configuration
from meso_kernels.integrate import NVE, NoseHoover, thermalize
from meso_kernels.models import get_model

pytestmark = pytest.mark.usefixtures("one_thread")

DRIVER = Path(__file__).with_name("checkpoint_driver.py")
#: MD steps between checkpoints of the task tests (the equilibration of 1000 steps gets three, production ~10)
EVERY = 300
#: arrays that record how long a computation took: compared by dtype and shape only
TIMINGS = {"wall_time"}
START_TIMEOUT = 300  # a loaded 2-core machine; a cold numba cache compiles for minutes
RUN_TIMEOUT = 600


class Interrupted(Exception):
    """Raised from a checkpoint write to stop a task in mid-run (as a kill would, but in this process)."""


def ipl():
    return get_model("ipl")


def new_sim(seed=4, N=128):
    m = ipl()
    return thermalize(random_configuration(m, N, 0.82, seed=seed), m, T=1.2, nsteps=0, seed=seed)


def through_npz(state, path):
    """The state after a trip through an npz file (what a checkpoint does)."""
    with open(path, "wb") as fh:
        np.savez(fh, **state)
    with np.load(path, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def the_task(seed=3, equil=1000, prod=3000):
    from meso_kernels.campaign import liquid_task
    return liquid_task("ipl", 1.2, 128, equil, prod, seed=seed)


def plain_run(task):
    """The task's arrays from an uninterrupted run without any checkpoint."""
    p = task.params
    return equilibrium_dynamics(p["key"], p["T"], p["N"], p["equil_steps"], p["prod_steps"], seed=task.seed)


def stored(store, task):
    res = Resolver(store)
    return res.load(task), res.sidecar(task)


def assert_same_arrays(a, b):
    assert sorted(a) == sorted(b)
    for name in a:
        x, y = np.asarray(a[name]), np.asarray(b[name])
        assert x.dtype == y.dtype and x.shape == y.shape, (name, x.dtype, y.dtype, x.shape, y.shape)
        assert name in TIMINGS or np.array_equal(x, y), f"array {name!r} differs from the uninterrupted run's"


def read_meta(path):
    with np.load(path, allow_pickle=False) as npz:
        return json.loads(str(npz[META]))


@pytest.fixture(scope="module")
def reference():
    """The uninterrupted run of the_task() (one thread; made here, on this machine)."""
    n = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        return plain_run(the_task())
    finally:
        numba.set_num_threads(n)


@pytest.fixture
def every_300(monkeypatch):
    monkeypatch.setenv(ckmod.ENV_STEPS, str(EVERY))
    monkeypatch.delenv(ckmod.ENV_SECONDS, raising=False)


def interrupt_after(monkeypatch, n):
    """Make the n-th checkpoint write from now on raise :class:`Interrupted` once the file is in place; returns the
    list of (step, phase) of the writes."""
    real = Checkpoint.save
    writes = []

    def save(self, arrays, step, wall_time_s, **meta):
        ok = real(self, arrays, step, wall_time_s, **meta)
        writes.append((step, meta.get("phase")))
        if len(writes) == n:
            raise Interrupted(f"interrupted after checkpoint {n} at step {step}")
        return ok

    monkeypatch.setattr(Checkpoint, "save", save)
    return writes


# --- the pieces ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["nvt", "nve"])
def test_integrator_state_round_trip_is_bit_identical(kind, tmp_path):
    """Run A for n steps; run B for k steps, save its state to npz, rebuild it in a fresh object C and run n - k: C
    ends bit-identical to A (positions, velocities, forces, thermostat, neighbour-list builds), without rebuilding
    the neighbour list on restore."""
    n, k = 1500, 700

    def make():
        sim = new_sim()
        if kind == "nve":
            sim.run(200)
            sim = NVE(sim.system, ipl(), dt=sim.dt)
        return sim

    a, b = make(), make()
    a.run(n)
    b.run(k)
    cls = NoseHoover if kind == "nvt" else NVE
    c = cls.from_state(through_npz(b.state(), tmp_path / "sim.npz"), ipl())
    for name in ("nlist", "image", "counts", "xref", "offset"):
        np.testing.assert_array_equal(getattr(c.ff.nl, name), getattr(b.ff.nl, name))
    assert c.ff.nl.n_builds == b.ff.nl.n_builds and c.step == k
    c.run(n - k)
    assert a.ff.nl.n_builds > b.ff.nl.n_builds + 10  # the continuation rebuilt its list many times
    for name in ("x", "v", "forces", "types"):
        assert np.array_equal(getattr(a, name), getattr(c, name)), name
    for name in ("_x", "_v", "_vstate", "_F", "_img", "_ids", "en", "xi", "pxi", "Q"):
        assert np.array_equal(getattr(a, name), getattr(c, name)), name
    assert (a.step, a.ff.nl.n_builds, a.conserved()) == (c.step, c.ff.nl.n_builds, c.conserved())


def test_integrator_state_is_checked(tmp_path):
    sim = new_sim()
    state = sim.state()
    with pytest.raises(ValueError, match="NoseHoover integrator, not of a NVE"):
        NVE.from_state(state, ipl())
    with pytest.raises(ValueError, match="model"):
        NoseHoover.from_state(state, get_model("mblj"))
    from meso_kernels.neighbors import NeighborList
    other = NeighborList(ipl().rcut, sim.box, skin=0.25)
    with pytest.raises(ValueError, match="other cut-offs, skin"):
        other.set_state(sim.ff.nl.state())


def test_correlator_pause_save_restore_resume_is_bit_identical(tmp_path):
    """A correlator run paused at an event boundary (``on_boundary`` returns True), saved with its integrator,
    restored in fresh objects and resumed accumulates the same sums and samples as an uninterrupted run; pausing and
    resuming the same objects does too."""
    dt = ipl().state_point.dt

    def new_corr():
        return LogTimeCorrelator(q=6.35, dt=dt, max_lag=600, origin_interval=60, n_blocks=4)

    def sampler(out):
        return lambda s: out.append((s.step, s.kinetic_temperature(), s.potential_energy()))

    sim_a, corr_a, samples_a = new_sim(), new_corr(), []
    corr_a.run(sim_a, 2000, on_origin=sampler(samples_a))

    sim_b, corr_b, samples_b = new_sim(), new_corr(), []
    corr_b.run(sim_b, 2000, on_origin=sampler(samples_b), on_boundary=lambda s: s.step >= 1100)
    assert corr_b.in_progress and 1100 <= sim_b.step < 2000
    state = through_npz({**{f"sim.{k}": v for k, v in sim_b.state().items()},
                         **{f"corr.{k}": v for k, v in corr_b.state().items()}}, tmp_path / "run.npz")
    assert state["corr.loop.positions"].shape[0] >= 2  # origins were open at the pause
    sim_c = NoseHoover.from_state({k[4:]: v for k, v in state.items() if k.startswith("sim.")}, ipl())
    corr_c = LogTimeCorrelator.from_state({k[5:]: v for k, v in state.items() if k.startswith("corr.")})
    assert corr_c.in_progress
    corr_c.resume(sim_c, on_origin=sampler(samples_b))
    assert not corr_c.in_progress and sim_c.step == sim_a.step == 2000
    assert samples_a == samples_b
    assert_same_arrays(corr_a.to_arrays(), corr_c.to_arrays())
    assert np.array_equal(sim_a.x, sim_c.x) and np.array_equal(sim_a.v, sim_c.v)

    # pausing twice and resuming the same objects
    sim_d, corr_d = new_sim(), new_corr()
    corr_d.run(sim_d, 2000, on_boundary=lambda s: s.step >= 500)
    corr_d.resume(sim_d, on_boundary=lambda s: s.step >= 1500)
    corr_d.resume(sim_d)
    assert_same_arrays(corr_a.to_arrays(), corr_d.to_arrays())

    # a fresh correlator's state round trips too (no run yet)
    fresh = LogTimeCorrelator.from_state(new_corr().state())
    assert not fresh.in_progress and fresh.lags.tolist() == new_corr().lags.tolist()


def test_correlator_resume_errors():
    dt = ipl().state_point.dt
    corr = LogTimeCorrelator(q=6.35, dt=dt, max_lag=200, origin_interval=50)
    sim = new_sim()
    with pytest.raises(RuntimeError, match="no run is in progress"):
        corr.resume(sim)
    corr.run(sim, 1000, on_boundary=lambda s: s.step >= 300)
    sim.run(10)
    with pytest.raises(ValueError, match="resume with the integrator saved with it"):
        corr.resume(sim)


# --- whole liquid tasks -------------------------------------------------------------------------------------------
def test_uninterrupted_task_with_checkpoints_is_the_plain_run(reference, tmp_path, every_300, monkeypatch):
    """Writing checkpoints (and running the equilibration in blocks) changes nothing; the checkpoint is deleted once
    the result is stored and the sidecar says the task was never resumed."""
    task = the_task()
    store = Store(tmp_path / "data", tmp_path / "scratch")
    writes = interrupt_after(monkeypatch, 10**9)
    execute(task, store)
    arrays, side = stored(store, task)
    assert_same_arrays(arrays, reference)
    phases = [p for _, p in writes]
    assert phases.count("equilibration") == 3 and phases.count("production") >= 5, writes
    assert side["resumed"] == 0 and side["checkpoints_written"] == len(writes)
    assert not checkpoint_path(store.scratch, "dynamics", Resolver(store).key(task)).exists()


def test_interrupted_task_resumes_bit_identically(reference, tmp_path, every_300, monkeypatch):
    """Interrupted after its 2nd checkpoint (equilibration, step 600), then after the 3rd of the next attempt
    (production), then finished: the stored arrays are the uninterrupted run's, the sidecar counts 2 resumptions."""
    task = the_task()
    store = Store(tmp_path / "data", tmp_path / "scratch")
    path = checkpoint_path(store.scratch, "dynamics", Resolver(store).key(task))

    writes = interrupt_after(monkeypatch, 2)
    with pytest.raises(Interrupted):
        execute(task, store)
    assert writes == [(300, "equilibration"), (600, "equilibration")]
    meta = read_meta(path)
    assert (meta["phase"], meta["step"], meta["resumed"], meta["written"]) == ("equilibration", 600, 0, 2)
    assert stored(store, task) == (None, None)

    monkeypatch.undo()
    monkeypatch.setenv(ckmod.ENV_STEPS, str(EVERY))
    writes = interrupt_after(monkeypatch, 3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(Interrupted):
            execute(task, store)
    assert not [w for w in caught if "checkpoint" in str(w.message)], [str(w.message) for w in caught]
    assert writes[0] == (900, "equilibration") and [p for _, p in writes[1:]] == ["production"] * 2, writes
    meta = read_meta(path)
    assert (meta["phase"], meta["resumed"], meta["written"]) == ("production", 1, 5)
    assert meta["step"] == writes[-1][0] > 1000 and meta["wall_time_s"] > 0

    monkeypatch.undo()
    monkeypatch.setenv(ckmod.ENV_STEPS, str(EVERY))
    execute(task, store)
    arrays, side = stored(store, task)
    assert_same_arrays(arrays, reference)
    assert side["resumed"] == 2 and side["checkpoints_written"] >= 7 and side["wall_time_earlier_s"] > 0
    assert float(arrays["wall_time"]) > side["wall_time_earlier_s"]
    assert not path.exists()
    assert not [p for p in store.scratch.rglob("*") if p.is_file()]


@pytest.mark.slow
def test_killed_task_resumes_bit_identically(reference, tmp_path):
    """The task in a process of its own (tests/campaign/checkpoint_driver.py), killed with SIGKILL once after its 2nd
    checkpoint and once in the middle of writing its 3rd (a temporary file left next to the previous checkpoint),
    then run to the end: the uninterrupted run's arrays, 2 resumptions, nothing left in scratch."""
    data, scratch, marker = tmp_path / "data", tmp_path / "scratch", tmp_path / "marker"
    task = the_task()
    store = Store(data, scratch)
    path = checkpoint_path(scratch, "dynamics", Resolver(store).key(task))

    def driver(**env):
        full = dict(os.environ, NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
                    MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1", **{ckmod.ENV_STEPS: str(EVERY)},
                    **{k: str(v) for k, v in env.items()})
        full.pop(ckmod.ENV_SECONDS, None)
        out = open(tmp_path / "driver.out", "ab")
        return subprocess.Popen([sys.executable, str(DRIVER), str(data), str(scratch)], stdout=out,
                                stderr=subprocess.STDOUT, env=full, start_new_session=True)

    def tail():
        return (tmp_path / "driver.out").read_text(errors="replace")[-3000:]

    def kill_when_stalled(proc):
        deadline = time.monotonic() + START_TIMEOUT
        try:
            while not marker.exists():
                assert proc.poll() is None, f"the driver ended before it stalled:\n{tail()}"
                assert time.monotonic() < deadline, f"the driver did not stall in time:\n{tail()}"
                time.sleep(0.02)
            proc.send_signal(signal.SIGKILL)
            assert proc.wait(60) == -signal.SIGKILL
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait(60)
        words = marker.read_text().split()
        marker.unlink()
        return words

    # 1: killed with its 2nd checkpoint (equilibration, step 600) in place
    assert kill_when_stalled(driver(CKPT_STALL="after:2", CKPT_MARKER=marker)) == [str(path)]
    meta = read_meta(path)
    assert (meta["phase"], meta["step"], meta["resumed"]) == ("equilibration", 600, 0)

    # 2: resumed, then killed while renaming its 3rd checkpoint onto the 2nd (production)
    tmp, dst = kill_when_stalled(driver(CKPT_STALL="write:3", CKPT_MARKER=marker))
    assert dst == str(path) and Path(tmp).is_file() and Path(tmp).parent == path.parent
    meta = read_meta(path)
    assert (meta["phase"], meta["resumed"], meta["written"]) == ("production", 1, 4)

    # 3: resumed from the last complete checkpoint (the temporary file is cleaned, never read) and finished
    proc = driver()
    try:
        assert proc.wait(RUN_TIMEOUT) == 0, tail()
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    arrays, side = stored(store, task)
    assert_same_arrays(arrays, reference)
    assert side["resumed"] == 2 and side["numba_threads"] == 1
    assert not Path(tmp).exists() and not path.exists()
    assert not [p for p in scratch.rglob("*") if p.is_file()]


@pytest.fixture(scope="module")
def saved_checkpoint(tmp_path_factory):
    """A checkpoint file of the_task() (production phase), copied out of an interrupted run."""
    root = tmp_path_factory.mktemp("saved")
    task = the_task()
    store = Store(root / "data", root / "scratch")
    mp = pytest.MonkeyPatch()
    n = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        mp.setenv(ckmod.ENV_STEPS, str(EVERY))
        interrupt_after(mp, 5)
        with pytest.raises(Interrupted):
            execute(task, store)
    finally:
        mp.undo()
        numba.set_num_threads(n)
    path = checkpoint_path(store.scratch, "dynamics", Resolver(store).key(task))
    assert read_meta(path)["phase"] == "production"
    copy = root / "saved.npz"
    shutil.copyfile(path, copy)
    return copy


def test_checkpoint_of_another_task_is_not_used(saved_checkpoint, tmp_path, every_300):
    """The checkpoint of seed 3 put where the task of seed 4 looks for its own: ignored with a warning, and the
    task computes what it computes without it."""
    other = the_task(seed=4, equil=300, prod=900)
    store = Store(tmp_path / "data", tmp_path / "scratch")
    path = checkpoint_path(store.scratch, "dynamics", Resolver(store).key(other))
    path.parent.mkdir(parents=True)
    shutil.copyfile(saved_checkpoint, path)
    with pytest.warns(UserWarning, match="ignoring the checkpoint .* another key"):
        execute(other, store)
    arrays, side = stored(store, other)
    assert side["resumed"] == 0 and not path.exists()
    assert_same_arrays(arrays, plain_run(other))


def test_truncated_checkpoint_is_ignored(saved_checkpoint, reference, tmp_path, every_300):
    """Half a checkpoint file (a copy cut short, a full disk on a file system without atomic renames): ignored with
    a warning; the task starts afresh and stores the uninterrupted run's arrays."""
    task = the_task()
    store = Store(tmp_path / "data", tmp_path / "scratch")
    path = checkpoint_path(store.scratch, "dynamics", Resolver(store).key(task))
    path.parent.mkdir(parents=True)
    data = saved_checkpoint.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.warns(UserWarning, match="ignoring the unreadable checkpoint"):
        execute(task, store)
    arrays, side = stored(store, task)
    assert side["resumed"] == 0 and not path.exists()
    assert_same_arrays(arrays, reference)


def test_checkpoint_checks_its_task_threads_and_format(tmp_path, monkeypatch):
    path = tmp_path / "c.npz"
    ck = Checkpoint(path, key="k1", params_json='{"T":1.0}', seed=1, every_steps=10)
    assert ck.save({"x": np.ones(2)}, step=10, wall_time_s=2.0, phase="p")
    assert Checkpoint(path, key="k1", params_json='{"T":1.0}', seed=1, every_steps=10).load() is not None
    for kw, what in ((dict(key="k2"), "another key"), (dict(params_json='{"T":2.0}'), "another params"),
                     (dict(seed=2), "another seed")):
        args = dict(key="k1", params_json='{"T":1.0}', seed=1) | kw
        with pytest.warns(UserWarning, match=what):
            assert Checkpoint(path, every_steps=10, **args).load() is None
    monkeypatch.setattr(numba, "get_num_threads", lambda: 7)
    assert ck.save({"x": np.ones(2)}, step=20, wall_time_s=3.0, phase="p")
    monkeypatch.undo()
    with pytest.warns(UserWarning, match="another numba_threads 7"):
        assert Checkpoint(path, key="k1", params_json='{"T":1.0}', seed=1, every_steps=10).load() is None
    path.write_bytes(b"not a zip file")
    with pytest.warns(UserWarning, match="unreadable"):
        assert ck.load() is None
    np.savez(path, x=np.ones(2))  # an npz without the meta record
    with pytest.warns(UserWarning, match="unreadable"):
        assert ck.load() is None
    meta = {"format": ckmod.FORMAT, "key": "k1", "params": "", "seed": None,
            "numba_threads": numba.get_num_threads(), "resumed": "many"}
    np.savez(path, **{META: np.array(json.dumps(meta))})  # the right task, a damaged meta record
    with pytest.warns(UserWarning, match="meta record is damaged"):
        assert Checkpoint(path, key="k1").load() is None
    # one written on another CPU is used, with a warning, and the sidecar names that CPU
    ck = Checkpoint(path, key="k1", every_steps=10)
    monkeypatch.setattr(ckmod, "cpu_record", lambda: {"model": "Other CPU 9000"})
    assert ck.save({"x": np.ones(2)}, step=30, wall_time_s=4.0, phase="p")
    monkeypatch.undo()
    again = Checkpoint(path, key="k1", every_steps=10)
    with pytest.warns(UserWarning, match="written on another CPU \\(Other CPU 9000\\)"):
        assert again.load() is not None
    assert again.record()["checkpoint_other_cpus"] == [{"model": "Other CPU 9000"}]
    assert "checkpoint_other_cpus" not in Checkpoint(path, key="k1").record()
    # a failed write warns and lets the task go on
    blocked = tmp_path / "file"
    blocked.write_text("")
    with pytest.warns(UserWarning, match="could not write the checkpoint"):
        assert not Checkpoint(blocked / "c.npz", key="k").save({"x": np.ones(1)}, step=1, wall_time_s=0.0)


def test_checkpoint_interval(monkeypatch):
    monkeypatch.delenv(ckmod.ENV_STEPS, raising=False)
    monkeypatch.delenv(ckmod.ENV_SECONDS, raising=False)
    ck = Checkpoint("x.npz", key="k")
    assert ck.every_s == ckmod.DEFAULT_SECONDS == 600 and ck.every_steps is None and ck.enabled
    assert not ck.due(10**9)  # wall-clock: not 10 minutes yet
    monkeypatch.setenv(ckmod.ENV_SECONDS, "0.01")
    ck = Checkpoint("x.npz", key="k")
    time.sleep(0.02)
    assert ck.due(0)
    monkeypatch.setenv(ckmod.ENV_SECONDS, "0")
    assert not Checkpoint("x.npz", key="k").enabled
    monkeypatch.setenv(ckmod.ENV_STEPS, "50")
    ck = Checkpoint("x.npz", key="k")
    assert ck.every_steps == 50 and ck.every_s is None and not ck.due(49) and ck.due(50)
    monkeypatch.setenv(ckmod.ENV_STEPS, "often")
    with pytest.raises(ValueError, match="MESO_CHECKPOINT_STEPS='often'"):
        Checkpoint("x.npz", key="k")


def test_checkpoints_off_gives_the_plain_run(reference, tmp_path, monkeypatch):
    """MESO_CHECKPOINT_SECONDS=0: no checkpoint is written, and the result is the same."""
    monkeypatch.setenv(ckmod.ENV_SECONDS, "0")
    monkeypatch.delenv(ckmod.ENV_STEPS, raising=False)
    writes = interrupt_after(monkeypatch, 1)
    task = the_task()
    store = Store(tmp_path / "data", tmp_path / "scratch")
    execute(task, store)
    arrays, side = stored(store, task)
    assert writes == [] and side["resumed"] == 0 and side["checkpoints_written"] == 0
    assert_same_arrays(arrays, reference)


def test_wall_clock_checkpoints_change_nothing(reference, tmp_path, monkeypatch):
    """The default, wall-clock schedule (nothing due in a short run, the equilibration in blocks of EQUIL_BLOCK
    steps, here 250): the plain run's arrays, no checkpoint written."""
    from meso_kernels.campaign import liquid
    monkeypatch.setenv(ckmod.ENV_SECONDS, "600")
    monkeypatch.delenv(ckmod.ENV_STEPS, raising=False)
    monkeypatch.setattr(liquid, "EQUIL_BLOCK", 250)
    blocks = []
    real_run = NoseHoover.run
    monkeypatch.setattr(NoseHoover, "run", lambda self, n, *a, **kw: (blocks.append(n), real_run(self, n, *a, **kw)))
    task = the_task()
    store = Store(tmp_path / "data", tmp_path / "scratch")
    execute(task, store)
    arrays, side = stored(store, task)
    assert blocks[:5] == [0, 250, 250, 250, 250], blocks[:6]  # thermalize's run(0), then the equilibration blocks
    assert side["resumed"] == 0 and side["checkpoints_written"] == 0
    assert_same_arrays(arrays, reference)


# --- a checkpoints folder of its own --------------------------------------------------------------------------------
def files(folder):
    return sorted(p for p in Path(folder).rglob("*") if p.is_file())


def test_checkpoints_folder_outlives_scratch(reference, tmp_path, every_300, monkeypatch):
    """Interrupted after its 2nd checkpoint with scratch A and checkpoints folder C: the checkpoint is in C, nothing
    in A. A new store with an empty scratch B (a new machine) and the same C resumes from it and stores the
    uninterrupted run's arrays; the sidecar counts 1 resumption, and C and B are left empty."""
    task = the_task()
    data, ckpts = tmp_path / "data", tmp_path / "C"
    first = Store(data, tmp_path / "A", checkpoints=ckpts)
    path = checkpoint_path(first, "dynamics", Resolver(first).key(task))
    assert path == ckpts / "dynamics" / path.name == Checkpoint.for_task(task, first, path.stem).path

    writes = interrupt_after(monkeypatch, 2)
    with pytest.raises(Interrupted):
        execute(task, first)
    assert writes == [(300, "equilibration"), (600, "equilibration")]
    assert files(ckpts) == [path] and files(tmp_path / "A") == []
    assert (read_meta(path)["phase"], read_meta(path)["step"]) == ("equilibration", 600)

    monkeypatch.undo()
    monkeypatch.setenv(ckmod.ENV_STEPS, str(EVERY))
    second = Store(data, tmp_path / "B", checkpoints=ckpts)
    assert not second.scratch.exists()
    execute(task, second)
    arrays, side = stored(second, task)
    assert_same_arrays(arrays, reference)
    assert side["resumed"] == 1 and side["checkpoints_written"] >= 3 and side["wall_time_earlier_s"] > 0
    assert files(ckpts) == [] and files(tmp_path / "B") == []


def test_checkpoints_folder_from_argument_environment_or_scratch(tmp_path, monkeypatch):
    """argument > MESO_CHECKPOINT_DIR (read when the store is made, made absolute; empty: unset) >
    <scratch>/checkpoints; a pickled store (what Dask workers get) keeps its folder."""
    d, s = tmp_path / "d", tmp_path / "s"
    plain = Store(d, s)
    assert plain.checkpoints is None and plain.checkpoint_folder == s / "checkpoints"
    assert checkpoint_path(plain, "dynamics", "k") == checkpoint_path(s, "dynamics", "k") \
        == s / "checkpoints" / "dynamics" / "k.npz"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(ENV_CHECKPOINT_DIR, "from-env")
    env = Store(d, s)
    assert env.checkpoints == env.checkpoint_folder == tmp_path / "from-env"
    assert Store.for_size("ci", data=d, scratch=s).checkpoint_folder == tmp_path / "from-env"
    assert Checkpoint.for_task(the_task(), env, "k").path == tmp_path / "from-env" / "dynamics" / "k.npz"
    arg = Store(d, s, checkpoints="arg")
    assert arg.checkpoint_folder == tmp_path / "arg"
    assert Store.for_size("ci", data=d, scratch=s, checkpoints=tmp_path / "arg2").checkpoint_folder \
        == tmp_path / "arg2"
    monkeypatch.setenv(ENV_CHECKPOINT_DIR, " ")
    assert Store(d, s).checkpoint_folder == s / "checkpoints"
    monkeypatch.delenv(ENV_CHECKPOINT_DIR)
    again = pickle.loads(pickle.dumps(env))
    assert again == env and again.checkpoint_folder == tmp_path / "from-env"


def test_clean_and_check_writable_use_the_checkpoints_folder(tmp_path):
    """Store.clean() removes a stale temporary of a killed checkpoint write in the checkpoints folder (and keeps the
    checkpoint and a live writer's temporary); check_writable() refuses an unwritable one naming --checkpoints."""
    from meso_kernels.io import _host_tag
    from meso_kernels.campaign import CampaignError
    ckpts = tmp_path / "C"
    store = Store(tmp_path / "d", tmp_path / "s", checkpoints=ckpts)
    folder = ckpts / "dynamics"
    folder.mkdir(parents=True)
    kept = folder / "0123456789abcdef.npz"
    stale = folder / ".0123456789abcdef.npz.otherhost.1.x1y5.tmp"
    live = folder / f".0123456789abcdef.npz.{_host_tag()}.{os.getpid()}.x1y6.tmp"
    for p in (kept, stale, live):
        p.write_bytes(b"partial")
    os.utime(stale, (1e9, 1e9))
    assert store.clean() == [stale]
    assert kept.exists() and live.exists() and not stale.exists()
    store.check_writable()
    assert files(ckpts) == sorted([live, kept])  # the probe is gone
    blocker = tmp_path / "file"
    blocker.write_text("x")
    bad = Store(tmp_path / "d2", tmp_path / "s2", checkpoints=blocker / "sub")
    with pytest.raises(CampaignError, match=r"the checkpoints folder .*file/sub' is not writable.*--checkpoints"):
        bad.check_writable()
    assert not (tmp_path / "d2").exists() and not (tmp_path / "s2").exists()  # the folders it made are removed


def test_found_reads_meta_records(tmp_path):
    """found() lists each checkpoint's kind, key, phase, step and wall time so far; an unreadable file says so."""
    folder = tmp_path / "C"
    ck = Checkpoint(folder / "dynamics" / "aaaa.npz", key="aaaa", every_steps=1)
    assert ck.save({"big": np.zeros(1000)}, step=1200, wall_time_s=7200.0, phase="production")
    (folder / "dynamics" / "bbbb.npz").write_bytes(b"not a zip file")
    got = {c["key"]: c for c in found(folder)}
    assert sorted(got) == ["aaaa", "bbbb"]
    a = got["aaaa"]
    assert (a["kind"], a["phase"], a["step"], a["wall_time_s"], a["resumed"]) == ("liquid", "production", 1200,
                                                                                 7200.0, 0)
    assert got["bbbb"]["phase"] == "unreadable" and got["bbbb"]["step"] is None
    line = ckmod.found_line(folder)
    assert "\n" not in line and "liquid aaaa (production, step 1200, 2.00 h so far)" in line
    assert "bbbb (unreadable)" in line and line.startswith(f"checkpoints in {folder}: 2: ")
