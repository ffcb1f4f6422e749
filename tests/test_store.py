import json

import numpy as np
import pytest

from meso_kernels import store
from meso_kernels.store import cached, key_for


class Counter:
    def __init__(self, result=None):
        self.calls = 0
        self.result = {"g": np.linspace(0, 1, 5), "n": 3} if result is None else result

    def __call__(self):
        self.calls += 1
        return self.result


def test_key_is_16_hex_and_stable():
    k = key_for("fig12", {"T": 0.5, "N": 500})
    assert len(k) == 16 and int(k, 16) >= 0
    assert k == key_for("fig12", {"N": 500, "T": 0.5})  # order does not matter
    assert k == key_for("fig12", {"N": np.int64(500), "T": np.float64(0.5)})  # numpy scalars = Python numbers


def test_key_changes_with_everything_it_depends_on():
    base = key_for("fig12", {"T": 0.5})
    others = {
        key_for("fig12", {"T": 0.51}),
        key_for("fig13", {"T": 0.5}),
        key_for("fig12", {"T": 0.5}, seed=1),
        key_for("fig12", {"T": 0.5}, code_version="2"),
        key_for("fig12", {"T": 0.5, "N": 500}),
        key_for("fig12", {"T": "0.5"}),
    }
    assert base not in others and len(others) == 6
    assert key_for("c", {"q": (1, 2)}) == key_for("c", {"q": [1, 2]}) == key_for("c", {"q": np.array([1, 2])})


@pytest.mark.parametrize("params, match", [
    ({"model": object()}, r"params\['model'\].*object"),
    ({1: 2}, "keys must be strings"),
    ({"T": float("nan")}, "not-finite"),
    ({"x": {"y": {1, 2}}}, r"params\['x'\]\['y'\].*set"),
    ([("T", 0.5)], "must be a dict"),
])
def test_bad_params_give_clear_errors(params, match):
    with pytest.raises((TypeError, ValueError), match=match):
        key_for("c", params)


@pytest.mark.parametrize("name", ["", "../up", "a/b", ".hidden", None])
def test_bad_campaign_names(name, tmp_path):
    with pytest.raises(ValueError, match="campaign"):
        cached(name, {}, Counter(), root=tmp_path)


def test_cached_computes_once_and_stores_provenance(tmp_path):
    compute = Counter()
    first = cached("fig12", {"T": 0.5}, compute, seed=3, root=tmp_path)
    second = cached("fig12", {"T": 0.5}, compute, seed=3, root=tmp_path)
    assert compute.calls == 1
    assert set(first) == set(second) == {"g", "n"}
    for k in first:
        np.testing.assert_array_equal(first[k], second[k])
        assert isinstance(second[k], np.ndarray)
        assert first[k].dtype == second[k].dtype
    key = key_for("fig12", {"T": 0.5}, seed=3)
    folder = tmp_path / "fig12"
    assert sorted(p.name for p in folder.iterdir()) == [f"{key}.json", f"{key}.npz"]
    meta = json.loads((folder / f"{key}.json").read_text())
    assert meta["key"] == key and meta["campaign"] == "fig12"
    assert meta["params"] == {"T": 0.5} and meta["seed"] == 3
    assert meta["code_version"] == store.CODE_VERSION
    assert meta["wall_time_s"] >= 0
    assert meta["arrays"]["g"] == {"shape": [5], "dtype": "float64"}
    assert "git_commit" in meta and "versions" in meta


def test_other_params_or_seed_recompute(tmp_path):
    compute = Counter()
    cached("c", {"T": 0.5}, compute, seed=1, root=tmp_path)
    cached("c", {"T": 0.5}, compute, seed=2, root=tmp_path)
    cached("c", {"T": 0.6}, compute, seed=1, root=tmp_path)
    cached("c", {"T": 0.5}, compute, seed=1, root=tmp_path, code_version="2")
    assert compute.calls == 4
    assert len(list((tmp_path / "c").glob("*.npz"))) == 4


def test_missing_sidecar_means_incomplete(tmp_path):
    compute = Counter()
    cached("c", {"T": 0.5}, compute, root=tmp_path)
    key = key_for("c", {"T": 0.5})
    (tmp_path / "c" / f"{key}.json").unlink()
    cached("c", {"T": 0.5}, compute, root=tmp_path)
    assert compute.calls == 2
    assert (tmp_path / "c" / f"{key}.json").exists()


def test_corrupt_result_is_recomputed_with_a_warning(tmp_path):
    compute = Counter()
    cached("c", {"T": 0.5}, compute, root=tmp_path)
    key = key_for("c", {"T": 0.5})
    (tmp_path / "c" / f"{key}.npz").write_bytes(b"not a zip")
    with pytest.warns(UserWarning, match="recomputing"):
        out = cached("c", {"T": 0.5}, compute, root=tmp_path)
    assert compute.calls == 2
    np.testing.assert_array_equal(out["g"], compute.result["g"])


def test_sidecar_of_other_params_is_not_trusted(tmp_path):
    compute = Counter()
    cached("c", {"T": 0.5}, compute, root=tmp_path)
    key = key_for("c", {"T": 0.5})
    side = tmp_path / "c" / f"{key}.json"
    meta = json.loads(side.read_text())
    meta["params"] = {"T": 0.9}
    side.write_text(json.dumps(meta))
    with pytest.warns(UserWarning, match="does not record"):
        cached("c", {"T": 0.5}, compute, root=tmp_path)
    assert compute.calls == 2


@pytest.mark.parametrize("result, match", [
    ([1, 2, 3], "must return a dict"),
    (np.arange(3), "must return a dict"),
    ({"x": [{"a": 1}]}, "'x'"),
    ({}, "no arrays"),
    ({3: [1.0]}, "names must be"),
])
def test_compute_must_return_dict_of_arrays(tmp_path, result, match):
    with pytest.raises((TypeError, ValueError), match=match):
        cached("c", {"T": 0.5}, Counter(result), root=tmp_path)
    assert list(tmp_path.rglob("*.json")) == [] and list(tmp_path.rglob("*.npz")) == []


def test_compute_must_be_callable(tmp_path):
    with pytest.raises(TypeError, match="callable"):
        cached("c", {}, {"x": 1}, root=tmp_path)


def test_compute_exception_propagates_and_stores_nothing(tmp_path):
    def fail():
        raise RuntimeError("diverged")

    with pytest.raises(RuntimeError, match="diverged"):
        cached("c", {"T": 0.5}, fail, root=tmp_path)
    assert not (tmp_path / "c").exists() or not any((tmp_path / "c").iterdir())


def test_default_root_is_data_relative_to_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cached("c", {"a": 1}, Counter())
    assert len(list((tmp_path / "data" / "c").glob("*.npz"))) == 1


def test_doctest():
    import doctest
    assert doctest.testmod(store).failed == 0
