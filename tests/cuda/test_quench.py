"""The device FIRE quench (meso_kernels.cuda.quench; ``quench(..., backend="cuda")``) against the CPU quench, in
the simulator.

Start: an inherent structure of the 2D IPL (N = 32) with every coordinate displaced by 0.01 sigma (Gaussian): a
cold start in the basin of that minimum. Both quenches run FIRE with the same parameters to ftol = 1e-6 (~180
iterations; the simulator costs ~0.4 s an iteration, so one run per session, shared by the tests). FIRE's path
depends on rounding only through the sums (the device's other summation order): the two paths agree to ~1e-15 and
end in the same minimum; its energy agrees to < 1e-12 relative and the CPU forces recomputed at the device's
minimum are below ftol.
"""
import functools
import warnings

import numpy as np
import pytest

from cuda_cases import needs_cuda

from meso_kernels import cuda as mcuda
from meso_kernels.forces import ForceField
from meso_kernels.quench import quench
from meso_kernels.system import System

pytestmark = needs_cuda

FTOL = 1e-6


@functools.lru_cache(maxsize=None)
def runs():
    from meso_kernels.initial import random_configuration
    from meso_kernels.statepoints import model_for
    m = model_for("ipl2d")
    s = random_configuration(m, 32, m.state_point.rho, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ihs, _ = quench(s, m, method="fire", ftol=1e-8)
    x0 = ihs.positions + 0.01 * np.random.default_rng(0).normal(size=ihs.positions.shape)
    s0 = System(np.mod(x0, ihs.box), ihs.box, ihs.types)
    cpu = quench(s0, m, method="fire", ftol=FTOL)
    dev = quench(s0, m, method="fire", ftol=FTOL, backend="cuda")
    return m, s0, cpu, dev


def test_reaches_ftol_same_minimum():
    m, s0, (ihs_c, rc), (ihs_d, rd) = runs()
    assert rd.converged and rd.max_force < FTOL and rd.method == "fire"
    assert rd.backend == "cuda" and rd.device == mcuda.device_name()
    assert rd.n_force_evals == rd.n_iter + 1
    # the minimum checked by the CPU force field at the device's positions
    U, F, _ = ForceField(m, s0.box).compute(ihs_d.positions, s0.types)
    fmax = np.linalg.norm(F, axis=1).max()
    dx = ihs_d.positions - ihs_c.positions
    dx -= s0.box * np.round(dx / s0.box)
    print(f"device: {rd}\ncpu:    {rc}\nCPU max|F_i| at the device minimum {fmax:.2e}; "
          f"|E_dev - E_cpu| / |E| = {abs(rd.energy - rc.energy) / abs(rc.energy):.1e}; "
          f"max |x_dev - x_cpu| = {np.abs(dx).max():.1e}")
    assert fmax < FTOL
    assert abs(U - rd.energy) <= 1e-12 * abs(U)
    assert abs(rd.energy - rc.energy) <= 1e-12 * abs(rc.energy)
    assert np.abs(dx).max() < 1e-6                    # same minimum (max|F| < 1e-6, stiffness >~ 1: |dx| < 1e-6)
    assert abs(rd.n_iter - rc.n_iter) <= 5            # the same FIRE path (to rounding)


def test_already_converged_and_not_converged():
    m, s0, (ihs_c, rc), _ = runs()
    from meso_kernels.cuda.quench import quench as dquench
    _, r = dquench(ihs_c, m, ftol=1.0)
    assert r.converged and r.n_iter == 0 and r.message == "initial configuration already converged"
    with pytest.warns(RuntimeWarning, match="did not converge"):
        _, r = dquench(s0, m, ftol=FTOL, max_steps=3)
    assert not r.converged and r.n_iter == 3 and r.n_force_evals == 4


def test_backend_validation(monkeypatch):
    m, s0, _, _ = runs()
    with pytest.raises(ValueError, match="is not allowed; allowed values: 'cpu', 'cuda'"):
        quench(s0, m, backend="gpu")
    with pytest.raises(ValueError, match="not available with backend='cuda'"):
        quench(s0, m, method="cg", backend="cuda")
    with pytest.raises(ValueError, match="no Lees–Edwards cell"):
        quench(s0, m, shear=0.01, backend="cuda")
    with pytest.raises(ValueError, match="dt_max must be >= dt_start"):
        quench(s0, m, backend="cuda", dt_start=0.5, dt_max=0.4)
    monkeypatch.setattr(mcuda.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="no CUDA GPU found"):
        quench(s0, m, backend="cuda")
