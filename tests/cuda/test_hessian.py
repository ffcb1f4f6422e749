"""The device Hessian–vector product (meso_kernels.cuda.hessian) against the CPU's, for pair models and for SW (its
three-body term).

Norm: relative Frobenius norm ‖MV_dev - MV_cpu‖ / ‖MV_cpu‖ <= 1e-12, for one random vector (N, d) and a block of
4 random columns (N d, 4), against both CPU routes: the matrix-free product of the term list
(:func:`meso_kernels.hessian.hessian_vector_product`) and the assembled sparse Hessian times V. The configurations
are those of test_forces (short FIRE quenches, not minima: the product does not need one). The two sides sum the
same pair blocks in different orders, so they agree to rounding, not bits.
"""
import doctest

import numpy as np
import pytest

from cuda_cases import configuration, needs_cuda

from meso_kernels.hessian import build_terms, hessian_matrix, hessian_vector_product

pytestmark = needs_cuda

TOL = 1e-12


def rel(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def diagonal_blocks(terms):
    """(n, d, d): the diagonal blocks of the CPU sparse Hessian of ``terms``."""
    d = terms.d
    M = hessian_matrix(terms).tobsr(blocksize=(d, d))
    M.sort_indices()
    return np.stack([M.data[p] for i in range(terms.n) for p in range(M.indptr[i], M.indptr[i + 1])
                     if M.indices[p] == i])


@pytest.mark.parametrize("key", ["mblj", "ipl2d", "sw"])
def test_hvp_matches_cpu(key):
    """One vector (N, d) and a block (N d, 3), in 3D (mBLJ), 2D (IPL; 3D IPL's long cut-off makes it minutes in
    the simulator, and its pair blocks go through the same kernel) and for SW (N = 64: pair and three-body
    terms)."""
    from meso_kernels.cuda.hessian import DeviceHessian
    m, s = configuration(key)
    terms = build_terms(s, m)
    M = hessian_matrix(terms)
    H = DeviceHessian(s, m)
    rng = np.random.default_rng(11)
    V = rng.normal(size=(s.N * m.dim, 3))
    got_V = H.matvec(V)
    assert got_V.shape == V.shape
    e = [rel(got_V, np.stack([hessian_vector_product(terms, V[:, c]) for c in range(3)], axis=1)),
         rel(got_V, M @ V)]
    v = rng.normal(size=(s.N, m.dim))
    got_v = H.matvec(v)
    assert got_v.shape == v.shape
    e += [rel(got_v, hessian_vector_product(terms, v)), rel(got_v.ravel(), M @ v.ravel())]
    print(f"{key}: N={s.N} rel. err. (block: terms, sparse; one vector: terms, sparse) "
          + " ".join(f"{x:.1e}" for x in e))
    assert max(e) <= TOL, e
    if key in ("ipl2d", "sw"):
        assert np.array_equal(H.matvec(V), got_V)                        # deterministic
        assert np.array_equal(H.matvec(V[:, 1].copy()), got_V[:, 1])     # a column alone = that column in a block


@pytest.mark.parametrize("key", ["mblj", "sw"])
def test_preconditioner_blocks(key):
    """pinv = inverses of the d×d diagonal blocks of the CPU sparse Hessian (SW: pair and three-body parts)."""
    from meso_kernels.cuda.hessian import DeviceHessian
    m, s = configuration(key)
    pinv = DeviceHessian(s, m).pinv.copy_to_host()
    want = np.linalg.inv(diagonal_blocks(build_terms(s, m)))
    e = np.abs(pinv - want).max() / np.abs(want).max()
    print(f"{key}: pinv rel. err. {e:.1e}")
    assert e <= 1e-12


@pytest.mark.parametrize("key", ["ipl2d", "sw"])
def test_exclude_matches_terms_without(key):
    """Excluded particles (rattlers) are dropped as Terms.without drops them (SW: a triplet with an excluded member
    as a whole): kept rows equal the CPU product of the reduced term list, excluded rows are zero, and their entries
    of v do not matter."""
    from meso_kernels.cuda.hessian import DeviceHessian
    m, s = configuration(key)
    drop = np.zeros(s.N, bool)
    drop[[0, 5, 17]] = True
    t = build_terms(s, m).without(drop)
    H = DeviceHessian(s, m, exclude=drop)
    assert H.n_kept == s.N - 3
    v = np.random.default_rng(2).normal(size=(s.N, m.dim))
    got = H.matvec(v)
    assert np.all(got[drop] == 0.0)
    e = rel(got[~drop], hessian_vector_product(t, v[~drop]))
    print(f"{key}: excluded 3, rel. err. {e:.1e}")
    assert e <= TOL
    pinv = H.pinv.copy_to_host()
    assert np.all(pinv[drop] == 0.0)
    want = np.linalg.inv(diagonal_blocks(t))
    assert np.abs(pinv[~drop] - want).max() <= 1e-12 * np.abs(want).max()


def test_shear_not_implemented():
    from meso_kernels.cuda.hessian import check_supported
    m2, _ = configuration("ipl")
    with pytest.raises(NotImplementedError, match=r"shear = 0.*backend='cpu'"):
        check_supported(m2, shear=0.01)


def test_rejects_bad_input():
    from meso_kernels.cuda.hessian import DeviceHessian
    m, s = configuration("ipl2d")
    with pytest.raises(ValueError, match="exclude must be a boolean mask"):
        DeviceHessian(s, m, exclude=np.zeros(3, bool))
    H = DeviceHessian(s, m)
    with pytest.raises(ValueError, match="v must have shape"):
        H.matvec(np.zeros((s.N, 3)))


def test_docstring_example():
    import meso_kernels.cuda.hessian as mod
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert res.failed == 0 and res.attempted > 0


def test_device_input():
    """A device vector (N, d), (N d,) or (N d, 1) gives the same product as the host one."""
    from numba import cuda

    from meso_kernels.cuda.hessian import DeviceHessian
    m, s = configuration("ipl2d")
    H = DeviceHessian(s, m)
    v = np.random.default_rng(0).normal(size=(s.N, 2))
    want = H.matvec(v)
    assert np.array_equal(H.matvec(cuda.to_device(v)), want)
    assert np.array_equal(H.matvec(cuda.to_device(v.ravel())), want.ravel())
    assert np.array_equal(H.matvec(cuda.to_device(v.reshape(-1, 1)))[:, 0], want.ravel())
