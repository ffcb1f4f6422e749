"""Quenches of liquid configurations of every model to their inherent structures (FIRE and CG)."""
import numpy as np
import pytest

from meso_kernels.forces import ForceField
from meso_kernels.initial import random_configuration
from meso_kernels.integrate import thermalize
from meso_kernels.models import get_model
from meso_kernels.quench import quench

CASES = [("ipl", {"dim": 3}, 1.0), ("ipl", {"dim": 2}, 1.0), ("mblj", {}, 0.8), ("ka", {}, 0.8),
         ("ss", {"rho": 0.6}, 1.2), ("sw", {}, 0.05)]


@pytest.fixture(scope="module", params=CASES, ids=lambda c: c[0] + "".join(f"-{k}{v}" for k, v in c[1].items()))
def liquid(request):
    name, opts, T = request.param
    model = get_model(name, **opts)
    N = 150 if model.dim == 3 else 120
    if name in ("sw", "ka"):
        N = 300  # the box must hold twice the cut-off plus skin
    system = random_configuration(model, N, model.state_point.rho, seed=11)
    sim = thermalize(system, model, T, 300, seed=11)
    return model, sim.system


@pytest.mark.parametrize("method", ["fire", "cg"])
def test_quench_liquid_reaches_tolerance(liquid, method):
    model, system = liquid
    ff = ForceField(model, system.box)
    e0 = ff.energy(system.positions, system.types)
    ihs, res = quench(system, model, method=method, ftol=1e-10)
    assert res.converged, res.summary()
    assert res.max_force < 1e-10
    e1, f1, _ = ForceField(model, system.box).compute(ihs.positions, ihs.types)
    assert e1 < e0
    assert np.isclose(e1, res.energy, rtol=1e-12, atol=1e-12)
    # the reported max force is that of the stored inherent structure
    assert np.max(np.linalg.norm(f1, axis=1)) < 1e-10
    assert np.array_equal(ihs.types, system.types)


def test_quench_rejects_unknown_method():
    model = get_model("ipl")
    system = random_configuration(model, 100, 0.82, seed=1)
    with pytest.raises(ValueError, match="method"):
        quench(system, model, method="lbfgs")


def test_quench_rejects_model_mismatch():
    system = random_configuration(get_model("ipl", dim=2), 100, 0.86, seed=1)
    with pytest.raises(ValueError):
        quench(system, get_model("ipl", dim=3))
