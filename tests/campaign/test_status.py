"""The cost model of ``meso campaign status / plan`` (:mod:`meso_kernels.campaign.status`), on synthetic sidecars."""
import json

import pytest

from meso_kernels.campaign import CostModel, Store
from meso_kernels.campaign.task import KINDS


def _sidecar(store, kind, key, wall_s, **params):
    spec = KINDS[kind]
    folder = store.root(kind) / spec.campaign
    folder.mkdir(parents=True, exist_ok=True)
    n = len(list(folder.glob("*.json")))
    meta = {"params": {"key": key, **params}, "wall_time_s": wall_s, "numba_threads": 1, "backend": "cpu"}
    (folder / f"{kind}{n}.json").write_text(json.dumps(meta))
    return wall_s / spec.work(meta["params"])


def test_md_kinds_share_the_model_rate_of_their_work_unit(tmp_path):
    store = Store(tmp_path / "d", tmp_path / "s")
    liquid = dict(N=400, equil_steps=1000, prod_steps=3000)
    r2d = _sidecar(store, "liquid", "ipl2d", 4.0, **liquid)
    r3d = _sidecar(store, "liquid", "ipl", 20.0, **liquid)
    r_parents = _sidecar(store, "parents", "ipl", 7.0, N=1000, prod_steps=2000)
    cost = CostModel(store)
    assert cost.rate("liquid", "ipl2d") == pytest.approx(r2d)
    # a parents or iso task of the 2D model is estimated from the 2D liquid, not from the 3D model's parents
    assert cost.rate("parents", "ipl2d") == pytest.approx(r2d)
    assert cost.rate("iso", "ipl2d") == pytest.approx(r2d)
    # a model's own measurement of the kind comes first
    assert cost.rate("parents", "ipl") == pytest.approx(r_parents)
    # iso of ipl: the median over ipl's MD kinds (liquid and parents)
    assert cost.rate("iso", "ipl") == pytest.approx((r3d + r_parents) / 2)
    # a kind without a work unit does not borrow: the built-in rate where nothing of it is stored
    assert KINDS["mechanics_ihs"].unit is None
    assert cost.rate("mechanics_ihs", "ipl2d") == KINDS["mechanics_ihs"].default_rate
    # a model without MD measurements falls back to the kind's other models (here only ipl's parents)
    assert cost.rate("parents", "sw") == pytest.approx(r_parents)
    assert cost.rate("liquid", "sw") == pytest.approx((r2d + r3d) / 2)
