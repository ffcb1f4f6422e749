"""A campaign task computed with the CUDA backend (meso_kernels.campaign.execution), in the simulator: the smallest
liquid (2D IPL, N = 32) continued on the device from a liquid stored by the CPU.

The simulator costs ~0.1-0.6 s per MD step at N = 32 (six kernel launches of 32 Python threads each), so the device
task runs 30 steps and skips the relaxing quench (``relax_start=False``: it starts from the CPU liquid's final
configuration, with fresh velocities). What is checked: the task computes and stores under the same key as on the
CPU (the backend is no parameter), its sidecar records backend "cuda", the simulator as device and where each step
ran, and the checkpoint fallback while the device integrator has no ``state()`` (of a ``liquid`` task and of a
``parents`` task, 10 steps continued from the CPU liquid).
"""
import warnings

import numpy as np
import pytest

from cuda_cases import needs_cuda

from meso_kernels import cuda as mcuda
from meso_kernels.campaign import Resolver, Store, execute, liquid_task

pytestmark = needs_cuda


def _has_state(integrator):
    """Whether the integrator class can be checkpointed (``state()`` and ``from_state()``)."""
    return callable(getattr(integrator, "state", None)) and callable(getattr(integrator, "from_state", None))


def test_liquid_task_on_the_device(tmp_path):
    from meso_kernels.cuda.integrate import DeviceNoseHoover
    store = Store(tmp_path / "d", tmp_path / "s")
    first = liquid_task("ipl2d", 1.0, 32, 20, 20, seed=1)
    assert execute(first, store)["computed"]
    task = liquid_task("ipl2d", 1.0, 32, 0, 30, seed=1, start=first, relax_start=False)
    has_state = _has_state(DeviceNoseHoover)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = execute(task, store, backend="cuda")
    assert out["computed"] and out["key"] == task.static_key
    res = Resolver(store)
    meta = res.sidecar(task)
    assert meta["backend"] == "cuda" and meta["device"] == mcuda.device_name() and meta["backend_requested"] == "cuda"
    assert meta["backend_steps"] == {"MD (Nose-Hoover)": "cuda"}
    assert "backend" not in meta["params"] and meta["cpu"]["model"]
    if not has_state:
        assert "no state()/from_state()" in meta["backend_fallbacks"]["checkpoints"]
        assert any("checkpoints are off" in str(w.message) for w in caught)
    assert res.sidecar(first)["backend"] == "cpu"
    arrays = res.load(task)
    assert int(arrays["N"]) == 32 and arrays["kinetic_temperature"].size > 0
    assert np.all(np.isfinite(arrays["kinetic_temperature"])) and np.all(np.isfinite(arrays["potential_energy"]))
    x, box = arrays["final_positions"], arrays["box_final"]
    assert np.all((x >= 0) & (x < box))
    # stored by the device, found by the CPU: nothing recomputed
    assert not execute(task, store)["computed"]


def test_parents_task_on_the_device(tmp_path, monkeypatch):
    """A ``parents`` task (a kind with checkpoints) on the device: with checkpoints due every step it writes none
    while the device integrator has no ``state()`` (a warning, ``backend_fallbacks``), and stores its samples."""
    from meso_kernels.campaign import checkpoint as ckmod
    from meso_kernels.campaign.mechanics import parents_from
    from meso_kernels.cuda.integrate import DeviceNoseHoover
    monkeypatch.setenv(ckmod.ENV_STEPS, "1")
    store = Store(tmp_path / "d", tmp_path / "s")
    liquid = liquid_task("ipl2d", 1.0, 32, 20, 20, seed=1)
    assert execute(liquid, store)["computed"]
    task = parents_from(liquid, 10, 2, seed=1)
    has_state = _has_state(DeviceNoseHoover)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = execute(task, store, backend="cuda")
    assert out["computed"] and out["key"] == task.static_key
    meta = Resolver(store).sidecar(task)
    assert meta["backend"] == "cuda" and meta["backend_steps"] == {"MD (Nose-Hoover)": "cuda"}
    if not has_state:
        assert "no state()/from_state()" in meta["backend_fallbacks"]["checkpoints"]
        assert any("checkpoints are off" in str(w.message) for w in caught)
        assert meta["checkpoints_written"] == 0 and meta["resumed"] == 0
    arrays = Resolver(store).load(task)
    assert arrays["x"].shape == (2, 32, 2) and np.all(np.isfinite(arrays["T_kin"]))


def test_unknown_backend_in_a_device_session(tmp_path):
    with pytest.raises(ValueError, match="allowed values: 'cpu', 'cuda'"):
        execute(liquid_task("ipl2d", 1.0, 32, 0, 4, seed=1), Store(tmp_path / "d", tmp_path / "s"), backend="gpu")
