"""Block CG on the device (meso_kernels.cuda.linsolve.block_cg) and the backend="cuda" routes of DipoleStiffness and
shear_modulus, against the CPU, on a small 2D IPL inherent structure (N = 32: the simulator runs every CUDA thread in
Python, and a CG solve is ~60 iterations of 5 launches) and, for κ_ij and G, on a small SW inherent structure
(N = 40, whose box L = 4.25 still holds 2 (a + skin) = 4.2; ~90 iterations: the three-body term of the device
Hessian).

Tolerances: solutions z per column, relative 2-norm vs the CPU CG <= 1e-10; κ_ij (both forms) and G relative
<= 1e-10; every column converged with true relative residual <= 10 rtol (rtol = 1e-12, the CPU's rule).
"""
import functools
import warnings

import numba
import numpy as np
import pytest

from cuda_cases import full_sim_only, needs_cuda

from meso_kernels.dipole import DipoleStiffness, dipole_matrix
from meso_kernels.elasticity import shear_modulus
from meso_kernels.hessian import build_terms, hessian_matrix, solvable_terms
from meso_kernels.initial import random_configuration
from meso_kernels.linsolve import cg_solve
from meso_kernels.quench import quench
from meso_kernels.statepoints import model_for

pytestmark = needs_cuda

RTOL = 1e-12
TOL = 1e-10


#: glass key (of meso_kernels.statepoints.model_for) -> N, at the model's density
GLASS_SIZES = {"ipl2d": 32, "sw": 40}
#: random pairs of the κ_ij comparison (SW: one; each column costs ~90 simulated iterations of the three-body HVP)
N_PAIRS = {"ipl2d": 3, "sw": 1}


@functools.lru_cache(maxsize=None)
def glass(key="ipl2d"):
    """(model, inherent structure, Terms, rattler mask) of a small glass (CG quench to 1e-11) of model ``key``
    (:data:`GLASS_SIZES`): 32 particles of the 2D IPL at density 0.86, or 40 SW particles."""
    m = model_for(key)
    old = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            s0 = random_configuration(m, GLASS_SIZES[key], m.state_point.rho, seed=7)
            s, res = quench(s0, m, method="cg", ftol=1e-11)
    finally:
        numba.set_num_threads(old)
    assert res.converged
    terms = build_terms(s, m)
    t, rat, _ = solvable_terms(terms, 1e-8)
    return m, s, terms, rat


def test_block_cg_matches_cpu():
    from meso_kernels.cuda.hessian import DeviceHessian
    from meso_kernels.cuda.linsolve import block_cg
    m, s, terms, rat = glass()
    t = terms.without(rat) if rat.any() else terms
    D = dipole_matrix(t, [0, 7, 20])
    rows = (np.nonzero(~rat)[0][:, None] * 2 + np.arange(2)).ravel()
    Df = np.zeros((s.N * 2, 3))
    Df[rows] = D
    H = DeviceHessian(s, m, exclude=rat)
    dev = block_cg(H, Df, rtol=RTOL)
    cpu = cg_solve(hessian_matrix(t), 2, D, rtol=RTOL)
    err = np.linalg.norm(dev.x[rows] - cpu.x, axis=0) / np.linalg.norm(cpu.x, axis=0)
    print(f"iterations dev {dev.n_iter} cpu {cpu.n_iter}; residual dev {dev.residual} cpu {cpu.residual}; "
          f"z rel. err. {err}")
    assert dev.converged.all() and (dev.residual <= 10 * RTOL).all()
    assert np.abs(dev.n_iter - cpu.n_iter).max() <= 3
    assert err.max() <= TOL
    assert np.all(dev.x[~np.isin(np.arange(2 * s.N), rows)] == 0.0)
    # translation-free: each component of each column sums to zero over the kept particles
    assert np.abs(dev.x[rows].reshape(-1, 2, 3).sum(0)).max() <= 1e-12 * np.abs(dev.x).sum()


def test_block_cg_one_column_unpreconditioned():
    """A (N, d) right-hand side, no preconditioner: still converges to the same z (in more iterations)."""
    from meso_kernels.cuda.hessian import DeviceHessian
    from meso_kernels.cuda.linsolve import block_cg
    m, s, terms, rat = glass()
    t = terms.without(rat) if rat.any() else terms
    d = dipole_matrix(t, [3])[:, 0]
    b = np.zeros((s.N, 2))
    b[~rat] = d.reshape(-1, 2)
    dev = block_cg(DeviceHessian(s, m, exclude=rat), b, rtol=1e-10, precondition=False)
    cpu = cg_solve(hessian_matrix(t), 2, d, rtol=1e-10, precondition=False)
    assert dev.x.shape == b.shape and bool(dev.converged[0])
    print(f"unpreconditioned: iterations dev {dev.n_iter} cpu {cpu.n_iter}")
    assert abs(int(dev.n_iter[0]) - int(cpu.n_iter[0])) <= 3
    assert np.linalg.norm(dev.x[~rat].ravel() - cpu.x) <= 1e-8 * np.linalg.norm(cpu.x)


@pytest.mark.parametrize("key", ["ipl2d", pytest.param("sw", marks=full_sim_only)])
def test_kappa_matches_cpu(key):
    m, s, terms, rat = glass(key)
    n = N_PAIRS[key]
    cpu = DipoleStiffness(solver="cg", rtol=RTOL).compute(s, m, n_random=n, seed=4, terms=terms)
    dev = DipoleStiffness(solver="cg", rtol=RTOL, backend="cuda").compute(s, m, n_random=n, seed=4, terms=terms)
    e1 = np.abs(dev.kappa / cpu.kappa - 1).max()
    e2 = np.abs(dev.kappa_zmz / cpu.kappa_zmz - 1).max()
    print(f"{key}: kappa {dev.kappa}; rel. err. {e1:.1e} (zMz form {e2:.1e}); iterations {dev.n_iter} "
          f"cpu {cpu.n_iter}")
    assert np.array_equal(dev.pairs, cpu.pairs)
    assert dev.converged.all() and dev.solver_used == "cg"
    assert e1 <= TOL and e2 <= TOL


@pytest.mark.parametrize("key", ["ipl2d", pytest.param("sw", marks=full_sim_only)])
def test_shear_modulus_matches_cpu(key):
    m, s, terms, rat = glass(key)
    cpu = shear_modulus(s, m, terms=terms, rtol=RTOL)
    dev = shear_modulus(s, m, terms=terms, rtol=RTOL, backend="cuda", solver="auto")
    e = abs(dev.G / cpu.G - 1)
    print(f"{key}: G dev {dev.G!r} cpu {cpu.G!r} rel. err. {e:.1e}; residual {dev.residual:.1e}")
    assert dev.converged and dev.born == cpu.born and e <= TOL


def test_validation():
    from meso_kernels.cuda.hessian import DeviceHessian
    from meso_kernels.cuda.linsolve import block_cg
    with pytest.raises(ValueError, match=r"solver='dense' is not available with backend='cuda'; allowed with "
                                         r"backend='cuda': solver='cg' or 'auto'"):
        DipoleStiffness(solver="dense", backend="cuda")
    with pytest.raises(ValueError, match=r"backend='gpu' is not allowed; allowed values: 'cpu', 'cuda'"):
        DipoleStiffness(backend="gpu")
    m, s, terms, rat = glass()
    with pytest.raises(ValueError, match=r"solver='dense' is not available with backend='cuda'"):
        shear_modulus(s, m, terms=terms, solver="dense", backend="cuda")
    with pytest.raises(ValueError, match=r"backend=None is not allowed"):
        shear_modulus(s, m, terms=terms, backend=None)
    with pytest.raises(NotImplementedError, match="shear = 0"):
        DipoleStiffness(backend="cuda").compute(s, m, n_random=1, seed=0, terms=terms, shear=0.01)
    H = DeviceHessian(s, m)
    with pytest.raises(ValueError, match="b must have shape"):
        block_cg(H, np.zeros((s.N, 3)))
    with pytest.raises(ValueError, match="rtol must lie in"):
        block_cg(H, np.zeros((s.N, 2)), rtol=0.0)
