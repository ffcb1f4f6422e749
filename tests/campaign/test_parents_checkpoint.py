"""Checkpoints of ``parents`` tasks (meso_kernels/campaign/mechanics.py, ``_parents_compute``): the Nosé–Hoover run
that samples the parent configurations of a mechanics ensemble writes checkpoints between blocks of MD steps (also
inside a sampling interval) and, interrupted, resumes from the last one with bit-identical arrays.

A tiny task: the liquid of the IPL (N = 128, 200 + 20 steps, stored once per module), then 600 NVT steps sampling
4 configurations (every 150 steps), with a checkpoint every 40 or 50 steps (``MESO_CHECKPOINT_STEPS``). The reference
is the same task computed with checkpoints off (``MESO_CHECKPOINT_SECONDS=0``: each interval in one ``run`` call).
Everything runs on one numba thread: only a run with the same thread count is bit-identical.
"""
import json
import warnings

import numba
import numpy as np
import pytest

from meso_kernels.campaign import Store, liquid_task
from meso_kernels.campaign import checkpoint as ckmod
from meso_kernels.campaign.checkpoint import META, Checkpoint, checkpoint_path, found
from meso_kernels.campaign.mechanics import parents_from
from meso_kernels.campaign.task import Resolver, execute
from meso_kernels.integrate import NoseHoover

pytestmark = pytest.mark.usefixtures("one_thread")

PROD, N_CONF = 600, 4
INTERVAL = PROD // N_CONF


class Interrupted(Exception):
    """Raised from a checkpoint write to stop a task in mid-run (as a kill would, but in this process)."""


def the_liquid():
    return liquid_task("ipl", 1.2, 128, 200, 20, seed=5)


def the_task():
    return parents_from(the_liquid(), PROD, N_CONF, seed=5)


def stored(store, task):
    res = Resolver(store)
    return res.load(task), res.sidecar(task)


def ck_path(store, task):
    return checkpoint_path(store, "mechanics_parents", Resolver(store).key(task))


def read_meta(path):
    with np.load(path, allow_pickle=False) as npz:
        return json.loads(str(npz[META]))


def assert_same_arrays(a, b):
    assert sorted(a) == sorted(b)
    for name in a:
        x, y = np.asarray(a[name]), np.asarray(b[name])
        assert x.dtype == y.dtype and x.shape == y.shape, (name, x.dtype, y.dtype, x.shape, y.shape)
        assert np.array_equal(x, y), f"array {name!r} differs from the uninterrupted run's"


def interrupt_after(monkeypatch, n):
    """Make the n-th checkpoint write from now on raise :class:`Interrupted` once the file is in place (through
    ``Checkpoint.on_save``); returns the list of (step, phase, samples) of the writes."""
    real = Checkpoint.save
    writes = []

    def save(self, arrays, step, wall_time_s, **meta):
        def on_save(ck):
            writes.append((step, meta.get("phase"), meta.get("samples")))
            if len(writes) == n:
                raise Interrupted(f"interrupted after checkpoint {n} at step {step}")
        self.on_save = on_save
        return real(self, arrays, step, wall_time_s, **meta)

    monkeypatch.setattr(Checkpoint, "save", save)
    return writes


def checkpoints_every(monkeypatch, steps):
    monkeypatch.setenv(ckmod.ENV_STEPS, str(steps))
    monkeypatch.delenv(ckmod.ENV_SECONDS, raising=False)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A data folder holding the liquid the parents continue (computed once, on one thread)."""
    root = tmp_path_factory.mktemp("parents-data")
    n = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        execute(the_liquid(), Store(root / "data", root / "scratch"))
    finally:
        numba.set_num_threads(n)
    return root / "data"


@pytest.fixture(scope="module")
def reference(data, tmp_path_factory):
    """The parents task's arrays from a run with checkpoints off (one thread; made here, on this machine)."""
    root = tmp_path_factory.mktemp("parents-reference")
    store = Store(data, root / "scratch")
    mp = pytest.MonkeyPatch()
    n = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        mp.setenv(ckmod.ENV_SECONDS, "0")
        mp.delenv(ckmod.ENV_STEPS, raising=False)
        writes = interrupt_after(mp, 1)
        execute(the_task(), store)
        assert writes == []
    finally:
        mp.undo()
        numba.set_num_threads(n)
    arrays, side = stored(store, the_task())
    assert side["resumed"] == 0 and side["checkpoints_written"] == 0
    assert arrays["x"].shape == (N_CONF, 128, 3) and arrays["T_kin"].shape == (N_CONF,)
    assert len({a.tobytes() for a in arrays["x"]}) == N_CONF  # four different configurations
    return arrays


def test_nose_hoover_run_in_pieces_is_one_run():
    """What the blocks rely on: ``run(n)`` in pieces of any size (through neighbour-list rebuilds) gives the bits of
    one ``run(n)``."""
    from meso_kernels.initial import random_configuration
    from meso_kernels.integrate import thermalize
    from meso_kernels.models import get_model
    m = get_model("ipl")

    def new():
        return thermalize(random_configuration(m, 128, 0.82, seed=4), m, T=1.2, nsteps=0, seed=4)

    a, b = new(), new()
    a.run(700)
    for n in (1, 99, 250, 0, 37, 313):
        b.run(n)
    assert a.step == b.step == 700 and a.ff.nl.n_builds == b.ff.nl.n_builds > 5
    for name in ("x", "v", "forces", "_vstate", "en", "xi", "pxi"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


def test_parents_kind_has_checkpoints():
    from meso_kernels.campaign.task import KINDS
    assert KINDS["parents"].checkpoint


def test_uninterrupted_parents_with_checkpoints_is_the_plain_run(data, reference, tmp_path, monkeypatch):
    """Checkpoints every 40 steps (inside the sampling intervals of 150 steps: each interval then runs in blocks)
    change nothing; the sidecar counts the writes, says the task was never resumed, and the checkpoint is deleted
    once the result is stored."""
    checkpoints_every(monkeypatch, 40)
    task = the_task()
    store = Store(data, tmp_path / "scratch")
    writes = interrupt_after(monkeypatch, 10**9)
    execute(task, store)
    arrays, side = stored(store, task)
    assert_same_arrays(arrays, reference)
    assert len(writes) >= 10 and any(step % INTERVAL for step, _, _ in writes), writes
    assert {phase for _, phase, _ in writes} == {"sampling"}
    assert side["resumed"] == 0 and side["checkpoints_written"] == len(writes)
    assert side["wall_time_earlier_s"] == 0
    assert not ck_path(store, task).exists()


@pytest.mark.parametrize("every, k, step, samples", [(40, 5, 230, 1), (50, 3, 150, 1), (50, 8, 400, 2)])
def test_interrupted_parents_resume_bit_identically(data, reference, tmp_path, monkeypatch, every, k, step, samples):
    """Interrupted after its k-th checkpoint (inside a sampling interval, or at the step of a sample), then run
    again: it resumes from the checkpoint (no warning), and stores the uninterrupted run's arrays; the sidecar counts
    1 resumption and the earlier attempt's wall time; no checkpoint is left."""
    checkpoints_every(monkeypatch, every)
    task = the_task()
    store = Store(data, tmp_path / "scratch")
    path = ck_path(store, task)
    writes = interrupt_after(monkeypatch, k)
    with pytest.raises(Interrupted):
        execute(task, store)
    assert writes[-1] == (step, "sampling", samples), writes
    meta = read_meta(path)
    assert (meta["phase"], meta["step"], meta["samples"], meta["resumed"], meta["written"]) == \
        ("sampling", step, samples, 0, k)
    assert stored(store, task) == (None, None)
    entry, = found(store.checkpoint_folder)
    assert (entry["kind"], entry["phase"], entry["step"]) == ("parents", "sampling", step)

    monkeypatch.undo()
    checkpoints_every(monkeypatch, every)
    starts = []
    real_from_state = NoseHoover.from_state.__func__
    monkeypatch.setattr(NoseHoover, "from_state",
                        classmethod(lambda cls, state, model: starts.append(int(state["step"]))
                                    or real_from_state(cls, state, model)))
    writes = interrupt_after(monkeypatch, 10**9)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        execute(task, store)
    assert not [w for w in caught if "checkpoint" in str(w.message)], [str(w.message) for w in caught]
    assert starts == [step]  # continued from the checkpoint, not from the liquid
    assert writes and writes[0][0] > step
    arrays, side = stored(store, task)
    assert_same_arrays(arrays, reference)
    assert side["resumed"] == 1 and side["checkpoints_written"] == k + len(writes)
    assert side["wall_time_earlier_s"] > 0
    assert not path.exists()


@pytest.fixture
def saved(data, tmp_path, monkeypatch):
    """(store, task, checkpoint path, its bytes): a parents task interrupted after its 5th checkpoint (every 40
    steps: step 230, one configuration sampled), nothing stored."""
    checkpoints_every(monkeypatch, 40)
    task = the_task()
    store = Store(data, tmp_path / "scratch")
    interrupt_after(monkeypatch, 5)
    with pytest.raises(Interrupted):
        execute(task, store)
    monkeypatch.undo()
    checkpoints_every(monkeypatch, 40)
    path = ck_path(store, task)
    assert read_meta(path)["step"] == 230
    return store, task, path, path.read_bytes()


def rewrite(path, change):
    """Rewrite the checkpoint at ``path`` with ``change(arrays, meta)`` applied (a damaged, but readable, file)."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(str(arrays.pop(META)))
    change(arrays, meta)
    with open(path, "wb") as fh:
        np.savez(fh, **{META: np.array(json.dumps(meta))}, **arrays)


def to_step_330(arrays, meta):
    """The integrator's step and the meta record's moved on by 100 steps (past a sample) without its samples."""
    meta.update(step=330)
    arrays["sim.step"] = np.array(330, dtype=np.int64)


DAMAGES = {
    "truncated": (lambda path, data: path.write_bytes(data[: len(data) // 2]), "unreadable checkpoint"),
    "one sample too few": (lambda path, data: rewrite(path, lambda a, m: a.update(x=a["x"][:0])),
                           "do not fit 1 configurations"),
    "integrator state missing": (lambda path, data: rewrite(path, lambda a, m: a.pop("sim.x")), "KeyError"),
    "step of another sample": (lambda path, data: rewrite(path, to_step_330), "do not fit 2 configurations"),
    "another phase": (lambda path, data: rewrite(path, lambda a, m: m.update(phase="production")),
                      "unknown phase 'production'"),
    "another backend": (lambda path, data: rewrite(path, lambda a, m: m.update(backend="cuda")),
                        "backend='cuda'"),
}


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_damaged_parents_checkpoint_is_ignored(saved, reference, damage, monkeypatch):
    """A damaged checkpoint (cut short, or readable with samples, state, step, phase or backend that do not fit):
    ignored with a warning; the task starts afresh and stores the plain result, resumed 0, the checkpoint gone."""
    store, task, path, data = saved
    spoil, why = DAMAGES[damage]
    spoil(path, data)
    with pytest.warns(UserWarning, match="ignoring the .*checkpoint") as caught:
        execute(task, store)
    assert any(why in str(w.message) for w in caught), [str(w.message) for w in caught]
    arrays, side = stored(store, task)
    assert_same_arrays(arrays, reference)
    assert side["resumed"] == 0 and side["wall_time_earlier_s"] == 0 and side["checkpoints_written"] > 0
    assert not path.exists()


def test_integrator_without_state_writes_no_checkpoint(data, reference, tmp_path, monkeypatch):
    """An integrator without ``state()`` (the device one): checkpoints are off with a warning, as for the liquid,
    and the task computes the plain result."""
    checkpoints_every(monkeypatch, 40)
    monkeypatch.setattr(NoseHoover, "state", None)
    writes = interrupt_after(monkeypatch, 1)
    task = the_task()
    store = Store(data, tmp_path / "scratch")
    with pytest.warns(UserWarning, match="checkpoints are off: the cpu integrator NoseHoover has no state"):
        execute(task, store)
    arrays, side = stored(store, task)
    assert writes == [] and side["checkpoints_written"] == 0 and side["resumed"] == 0
    assert_same_arrays(arrays, reference)
