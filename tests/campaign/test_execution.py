"""The execution backend of campaign tasks (meso_kernels.campaign.execution): an option of the run, never part of a
task's ident or key; checked before anything runs; recorded in the sidecar with where each step ran.

The CUDA side runs in numba's simulator in tests/cuda/test_campaign.py."""
import json

import numpy as np
import pytest

from meso_kernels import cuda as mcuda
from meso_kernels.campaign import (Kind, Resolver, Store, Task, execute, liquid_task, load, mechanics_tasks, run,
                                   run_figures)
from meso_kernels.campaign import task as task_module
from meso_kernels.campaign.execution import Execution, providing, route
from meso_kernels.cli import main

ALLOWED = "is not allowed; allowed values: 'cpu', 'cuda'"


def tiny_liquid(seed=1):
    return liquid_task("ipl2d", 1.0, 32, 20, 40, seed=seed)


@pytest.fixture
def no_gpu(monkeypatch):
    """No GPU and no simulator, whatever machine the tests run on."""
    monkeypatch.setattr(mcuda.cuda, "is_available", lambda: False)


@pytest.fixture
def fake_gpu(monkeypatch):
    """A GPU that is said to be there (for what is decided before any kernel runs)."""
    monkeypatch.setattr(mcuda.cuda, "is_available", lambda: True)
    monkeypatch.setattr(mcuda, "device_name", lambda: "Fake GPU 9000 (compute capability 9.0)")


def test_backend_is_not_part_of_the_task():
    a = tiny_liquid()
    summary = mechanics_tasks("ipl", 1.0, 128, 10, 20, 40, n_conf=2, n_pairs=5, seed=4)
    for t in (a, summary, *summary.needs):
        assert "backend" not in t.params and "backend" not in t.params_json
    # what a task is does not mention the backend: the same ident and key whatever runs it
    assert a == tiny_liquid() and a.ident == tiny_liquid().ident and a.static_key == tiny_liquid().static_key


def test_sidecar_records_the_cpu_backend(tmp_path):
    store = Store(tmp_path / "d", tmp_path / "s")
    t = tiny_liquid()
    out = execute(t, store)
    assert out["computed"] and out["key"] == t.static_key
    meta = Resolver(store).sidecar(t)
    assert meta["backend"] == "cpu" and meta["device"] == "cpu" and meta["cpu"]["model"]
    assert not any(k.startswith("backend_") for k in meta)  # the steps are listed only when cuda was asked for
    assert "backend" not in meta["params"]
    # stored: found again with the same key, nothing recomputed
    assert execute(t, store, backend="cpu") == {"ident": t.ident, "key": t.static_key, "computed": False, "wall": 0.0}


@pytest.mark.parametrize("bad", ["gpu", "CUDA", None, 1])
def test_unknown_backend_names_the_allowed_values(bad, tmp_path):
    store = Store(tmp_path / "d", tmp_path / "s")
    t = tiny_liquid()
    for call in (lambda: run([t], store, progress=False, backend=bad),
                 lambda: load([t], store, progress=False, backend=bad),
                 lambda: execute(t, store, backend=bad),
                 lambda: run_figures("ci", ["9"], store, progress=False, log=lambda _: None, backend=bad)):
        with pytest.raises(ValueError, match=ALLOWED):
            call()
    assert not (tmp_path / "d").exists() and not (tmp_path / "s").exists()  # refused before anything is written


def test_cuda_without_a_gpu_is_refused_with_the_way_out(no_gpu, tmp_path):
    store = Store(tmp_path / "d", tmp_path / "s")
    t = tiny_liquid()
    for call in (lambda: run([t], store, progress=False, backend="cuda"),
                 lambda: load([t], store, progress=False, backend="cuda"),
                 lambda: execute(t, store, backend="cuda")):
        with pytest.raises(RuntimeError, match=r"no CUDA GPU found.*use backend='cpu' \(the default\)"):
            call()
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("backend, message", [
    ("gpu", f"argument --backend: backend='gpu' {ALLOWED}"),
    ("cuda", "argument --backend: no CUDA GPU found (numba.cuda.is_available() is False); use backend='cpu'"),
])
def test_campaign_run_cli_refuses_a_backend_in_one_line(backend, message, no_gpu, capsys, tmp_path):
    rc = main(["campaign", "run", "--size", "ci", "--figures", "9", "--serial", "--backend", backend,
               "--data", str(tmp_path / "d"), "--scratch", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "d").exists() and not (tmp_path / "s").exists()


def test_execution_records_steps_and_fallbacks(fake_gpu):
    ex = Execution("cuda")
    with providing(ex):
        assert route("MD (Nose-Hoover)", "cuda") == "cuda"
        assert route("quench (CG)", "cuda", available=False, reason="FIRE only") == "cpu"
        assert route("other backend", "cpu") == "cpu"  # not this execution's backend: not recorded
    assert ex.used == "cuda"
    assert ex.record() == {"backend": "cuda", "device": "Fake GPU 9000 (compute capability 9.0)",
                           "backend_requested": "cuda",
                           "backend_steps": {"MD (Nose-Hoover)": "cuda", "quench (CG)": "cpu"},
                           "backend_fallbacks": {"quench (CG)": "FIRE only"}}
    # outside execute, route only answers
    assert route("x", "cuda") == "cuda" and route("x", "cuda", available=False) == "cpu"
    cpu = Execution("cpu")
    with providing(cpu):
        route("quench (CG)", "cpu", available=False, reason="never a fallback on the CPU")
    assert cpu.record() == {"backend": "cpu", "device": "cpu"}


def test_a_kind_without_device_route_runs_on_the_cpu_and_says_so(fake_gpu, monkeypatch, tmp_path):
    """With backend="cuda", a task of a kind that has no device route is computed on the CPU: its sidecar says
    backend "cpu", and that cuda was asked for and why it was not used."""
    seen = []

    def compute(task, params, load, progress):
        from meso_kernels.campaign.execution import requested
        seen.append(requested())
        return {"x": np.arange(3.0)}

    kind = Kind("cpu_only_demo", "cpu_only_demo", "data", compute)
    assert kind.backends == ("cpu",)
    monkeypatch.setitem(task_module.KINDS, kind.name, kind)
    store = Store(tmp_path / "d", tmp_path / "s")
    t = Task.make(kind.name, {"a": 1}, seed=0)
    assert execute(t, store, backend="cuda")["computed"] and seen == ["cuda"]
    meta = json.loads((tmp_path / "d" / "cpu_only_demo" / f"{t.static_key}.json").read_text())
    assert meta["backend"] == "cpu" and meta["device"] == "cpu" and meta["backend_requested"] == "cuda"
    assert meta["backend_steps"] == {}
    assert meta["backend_fallbacks"] == {"task": "the 'cpu_only_demo' kind has no device route: computed on the CPU"}
    with pytest.raises(ValueError, match="Kind.backends must hold 'cpu'"):
        Kind("bad", "bad", "data", compute, backends=("cuda",))


def test_cost_model_leaves_out_gpu_results(tmp_path):
    from meso_kernels.campaign import CostModel
    store = Store(tmp_path / "d", tmp_path / "s")
    t = tiny_liquid()
    execute(t, store)
    path = tmp_path / "d" / "dynamics" / f"{t.static_key}.json"
    assert CostModel(store).counts == {("liquid", "ipl2d"): 1}
    meta = json.loads(path.read_text())
    path.write_text(json.dumps(dict(meta, backend="cuda", device="Fake GPU")))
    assert CostModel(store).counts == {}


@pytest.mark.parametrize("key", ["ipl", "mblj", "sw"])
def test_mechanics_solves_have_a_device_route_for_every_model_but_not_dense(key):
    """G and κ_ij go to the device for pair models and SW (its three-body device Hessian); the dense κ solver has
    no device route and says so."""
    from meso_kernels.campaign.mechanics import device_hessian_route
    from meso_kernels.statepoints import model_for
    model = model_for(key)
    assert device_hessian_route(model) == (True, "")
    assert device_hessian_route(model, "cg") == (True, "")
    ok, why = device_hessian_route(model, "dense")
    assert not ok and "dense" in why


class _Workers:
    """A stand-in for a Dask client: ``run(f)`` answers for each named worker (f itself, or a fixed answer)."""

    def __init__(self, answers):
        self.answers = answers

    def run(self, func):
        return {w: (func() if a is None else a) for w, a in self.answers.items()}


def test_with_a_cluster_the_workers_gpus_are_checked_not_this_process(no_gpu):
    from meso_kernels.campaign.execution import check
    assert check("cuda", _Workers({"tcp://a": True, "tcp://b": True})) == "cuda"   # no GPU here: not needed
    assert check("cpu", _Workers({"tcp://a": False})) == "cpu"
    with pytest.raises(RuntimeError, match=r"1 of 2 Dask workers see no GPU \(tcp://b\).*backend='cpu'"):
        check("cuda", _Workers({"tcp://a": True, "tcp://b": None}))        # b asks its own (patched) CUDA
    with pytest.raises(ValueError, match="backend='gpu' is not allowed; allowed values: 'cpu', 'cuda'"):
        check("gpu", _Workers({"tcp://a": True}))
