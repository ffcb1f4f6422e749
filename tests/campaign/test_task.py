"""Campaign tasks: keys, identity, the store's folders, stale temporary files, refusing to run without inputs."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from meso_kernels.campaign import (CampaignError, Resolver, Store, Task, execute, ihs_tasks, liquid_task,
                                   mechanics_tasks)
from meso_kernels.io import remove_stale_temporaries, stale_temporaries
from meso_kernels.store import canonical_json, key_for, key_for_json


@pytest.mark.parametrize("params, seed", [
    ({"T": 0.5, "N": 1000, "key": "ipl"}, 0),
    ({"b": [1, 2.5, {"x": "ρ"}], "a": True, "z": None}, None),
    ({"T": 1e-300, "big": 12345678901234567890}, 7),
])
def test_key_from_canonical_json_is_the_key(params, seed):
    assert key_for_json("c", canonical_json(params), seed=seed) == key_for("c", params, seed=seed)


def test_task_identity():
    a = liquid_task("ipl", 1.2, 64, 10, 20, seed=1)
    b = liquid_task("ipl", 1.2, 64, 10, 20, seed=1)
    c = liquid_task("ipl", 1.2, 64, 10, 20, seed=2)
    assert a == b and hash(a) == hash(b) and a.ident == b.ident
    assert a != c and a.ident != c.ident
    assert a.static_key == key_for("dynamics", a.params, seed=1)
    assert len({a, b, c}) == 2
    with pytest.raises(ValueError, match="unknown task kind 'nope'; allowed: .*liquid"):
        Task.make("nope", {})
    with pytest.raises(TypeError, match="needs must hold Tasks"):
        Task.make("liquid", {}, needs=("x",))


def test_mechanics_graph_names_its_inputs():
    summary = mechanics_tasks("ipl", 1.0, 128, 10, 20, 40, n_conf=3, n_pairs=5, seed=4)
    parents, *per = summary.needs
    assert summary.kind == "mechanics" and parents.kind == "parents" and len(per) == 3
    liquid = parents.needs[0]
    assert parents.params["liquid"] == liquid.static_key
    assert all(t.params["parents"] == parents.static_key and t.needs == (parents,) for t in per)
    assert [t.params["index"] for t in per] == [0, 1, 2]
    # a different liquid gives different parents and so different keys all the way up
    other = mechanics_tasks("ipl", 1.0, 128, 11, 20, 40, n_conf=3, n_pairs=5, seed=4)
    assert other.static_key != summary.static_key and other.needs[1].static_key != per[0].static_key
    with pytest.raises(ValueError, match="n_conf = 50"):
        mechanics_tasks("ipl", 1.0, 128, 10, 20, 40, n_conf=50, n_pairs=5)
    with pytest.raises(ValueError, match="unknown model key 'lj'"):
        mechanics_tasks("lj", 1.0, 128, 10, 20, 40, n_conf=3, n_pairs=5)


def test_store_folders_and_writability(tmp_path):
    s = Store.for_size("ci")
    assert s.data.name == "ci-data" and s.scratch.parts[-2:] == ("campaign-scratch", "ci")
    s = Store(tmp_path / "d", tmp_path / "s")
    assert s.root("liquid") == tmp_path / "d" and s.root("mechanics_ihs") == tmp_path / "s"
    s.check_writable()
    assert (tmp_path / "d").is_dir() and not list((tmp_path / "d").iterdir())  # the probe is gone
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(CampaignError, match=r"the data folder .*file/sub' is not writable.*--data"):
        Store(blocker / "sub", tmp_path / "s").check_writable()


def _dead_pid():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_stale_temporaries_of_dead_writers_only(tmp_path):
    from meso_kernels.io import _host_tag
    folder = tmp_path / "dynamics"
    folder.mkdir()
    host = _host_tag()
    dead = folder / f".abc.npz.{host}.{_dead_pid()}.x1y2.tmp"
    live = folder / f".abc.npz.{host}.{os.getpid()}.x1y3.tmp"
    remote = folder / f".abc.npz.otherhost.{os.getpid()}.x1y4.tmp"
    old_remote = folder / ".abd.npz.otherhost.1.x1y5.tmp"
    unrelated = folder / ".notes.tmp"
    for p in (dead, live, remote, old_remote, unrelated):
        p.write_bytes(b"partial")
    os.utime(old_remote, (1e9, 1e9))
    assert stale_temporaries(tmp_path) == sorted([dead, old_remote])
    assert remove_stale_temporaries(tmp_path) == sorted([dead, old_remote])
    assert live.exists() and remote.exists() and unrelated.exists() and not dead.exists()


def test_execute_refuses_missing_inputs_and_skips_stored(tmp_path, one_thread):
    store = Store(tmp_path / "d", tmp_path / "s")
    summary = mechanics_tasks("ipl", 1.2, 128, 50, 20, 20, n_conf=2, n_pairs=4, seed=1)
    with pytest.raises(CampaignError, match=r"mechanics\(key=ipl, T=1.2\): its inputs parents.* are not stored"):
        execute(summary, store)
    liquid = summary.needs[0].needs[0]
    out = execute(liquid, store)
    assert out["computed"] and Resolver(store).done(liquid)
    again = execute(liquid, store)
    assert not again["computed"] and again["key"] == out["key"]
    meta = json.loads(Resolver(store).paths(liquid)[1].read_text())
    assert meta["task_kind"] == "liquid" and meta["numba_threads"] == 1 and meta["wall_time_s"] > 0


def test_ihs_key_waits_for_its_liquid(tmp_path):
    store = Store(tmp_path / "d", tmp_path / "s")
    first, second = ihs_tasks("ci", "ipl", 1.2, n_traj=2, duration_t0=0.05, seed=0)
    assert second.needs == (first.needs[0], first)
    res = Resolver(store)
    assert res.key(first) is None and not res.done(first)  # its spacing comes from the liquid's tau_alpha


def test_stored_default_trajectories_keep_their_keys():
    """The IHS trajectories committed in data/ were stored before tasks existed: their keys must still resolve."""
    store = Store.for_size("default")
    res = Resolver(store)
    tasks = ihs_tasks("default", "ipl", 0.8, n_traj=8, duration_t0=0.5, seed=0)
    if not res.done(tasks[0].needs[0]):
        pytest.skip("no stored default IPL liquid at T = 0.8")
    assert all(res.done(t) for t in tasks)
    assert np.isfinite(res.load(tasks[0])["rate"])
