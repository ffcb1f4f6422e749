import json
import os
import stat

import numpy as np
import pytest

from meso_kernels import io


def _leftovers(folder):
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


def test_atomic_write_bytes_creates_parents_and_replaces(tmp_path):
    path = tmp_path / "a" / "b" / "x.bin"
    io.atomic_write_bytes(path, b"one")
    assert path.read_bytes() == b"one"
    io.atomic_write_bytes(path, b"two")
    assert path.read_bytes() == b"two"
    assert _leftovers(path.parent) == []


def test_atomic_write_has_normal_permissions(tmp_path):
    path = io.atomic_write_text(tmp_path / "x.txt", "hi")
    mode = stat.S_IMODE(os.stat(path).st_mode)
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask


def test_atomic_write_text_roundtrip_unicode(tmp_path):
    path = io.atomic_write_text(tmp_path / "t.txt", "κ ≈ Schrøder\n")
    assert path.read_text(encoding="utf-8") == "κ ≈ Schrøder\n"


def test_atomic_write_refuses_wrong_types(tmp_path):
    with pytest.raises(TypeError):
        io.atomic_write_bytes(tmp_path / "x", "text")
    with pytest.raises(TypeError):
        io.atomic_write_text(tmp_path / "x", b"bytes")
    assert not (tmp_path / "x").exists()


def test_failed_write_keeps_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "keep.txt"
    path.write_text("old")

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(io.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        io.atomic_write_text(path, "new")
    assert path.read_text() == "old"
    assert _leftovers(tmp_path) == []


def test_save_and_load_npz(tmp_path):
    path = tmp_path / "r.npz"
    io.save_npz(path, x=np.arange(5.0), n=3, names=np.array(["a", "bb"]), flag=True)
    out = io.load_npz(path)
    assert sorted(out) == ["flag", "n", "names", "x"]
    np.testing.assert_array_equal(out["x"], np.arange(5.0))
    assert out["n"].shape == () and out["n"] == 3
    assert out["names"].tolist() == ["a", "bb"]
    assert _leftovers(tmp_path) == []


def test_save_npz_refuses_object_arrays_and_empty(tmp_path):
    with pytest.raises(ValueError, match="'bad'"):
        io.save_npz(tmp_path / "r.npz", bad=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="ragged"):
        io.save_npz(tmp_path / "r.npz", ragged=[[1, 2], [3]])
    with pytest.raises(ValueError, match="no arrays"):
        io.save_npz(tmp_path / "r.npz")
    assert not (tmp_path / "r.npz").exists()


def test_write_json_converts_numpy(tmp_path):
    path = io.write_json(tmp_path / "m.json", {"b": np.float64(0.5), "a": np.arange(3), "p": tmp_path})
    text = path.read_text()
    assert text.endswith("\n")
    data = json.loads(text)
    assert data == {"a": [0, 1, 2], "b": 0.5, "p": str(tmp_path)}
    assert text.index('"a"') < text.index('"b"')  # sorted keys


def test_write_json_refuses_unknown_objects(tmp_path):
    with pytest.raises(TypeError, match="object"):
        io.write_json(tmp_path / "m.json", {"x": object()})
    assert not (tmp_path / "m.json").exists()


def test_provenance_fields():
    rec = io.provenance({"T": np.float64(0.5), "N": 500}, seed=np.int64(7), wall_time=1.25)
    for key in ("params", "seed", "git_commit", "git_dirty", "backend", "device", "versions", "date", "wall_time_s"):
        assert key in rec
    assert rec["params"] == {"N": 500, "T": 0.5}
    assert rec["seed"] == 7 and type(rec["seed"]) is int
    assert rec["backend"] == "cpu" and rec["device"] == "cpu"
    assert rec["wall_time_s"] == 1.25
    assert rec["versions"]["numpy"] == np.__version__
    assert {"numba", "python", "mesoelastic"} <= set(rec["versions"])
    assert rec["git_commit"] == "unknown" or len(rec["git_commit"]) == 40
    json.dumps(rec)  # JSON-able


def test_provenance_is_host_independent():
    import getpass
    import socket
    text = json.dumps(io.provenance({"a": 1}, seed=None))
    assert socket.gethostname() not in text
    assert os.getcwd() not in text
    try:
        user = getpass.getuser()
    except Exception:
        user = None
    if user and len(user) > 3:
        assert user not in text


def test_provenance_outside_git(monkeypatch):
    monkeypatch.setattr(io, "_git", lambda *a: None)
    rec = io.provenance({}, seed=1)
    assert rec["git_commit"] == "unknown" and rec["git_dirty"] is None


def test_provenance_refuses_unknown_backend_and_overwrites():
    with pytest.raises(ValueError, match="cpu, cuda"):
        io.provenance({}, seed=1, backend="tpu")
    with pytest.raises(ValueError, match="date"):
        io.provenance({}, seed=1, date="yesterday")
    assert io.provenance({}, seed=1, campaign="c")["campaign"] == "c"


def test_doctest():
    import doctest
    assert doctest.testmod(io).failed == 0
