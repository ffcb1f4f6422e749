"""Translation-free solves (meso_kernels.linsolve) on a matrix with a known pseudo-inverse."""
import numpy as np
import pytest
import scipy.sparse

from meso_kernels.linsolve import DenseInverse, cg_solve


def laplacian_like(n, d, seed):
    """A random symmetric PSD matrix (n d × n d) whose null space is exactly the d uniform translations."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n * d, n * d))
    A = A @ A.T + n * d * np.eye(n * d)
    P = np.zeros((n * d, n * d))
    for a in range(d):
        t = np.zeros((n, d))
        t[:, a] = 1 / np.sqrt(n)
        P += np.outer(t.ravel(), t.ravel())
    Q = np.eye(n * d) - P
    return Q @ A @ Q


@pytest.mark.parametrize("d", [2, 3])
def test_both_routes_give_the_pseudo_inverse(d):
    n = 30
    M = laplacian_like(n, d, seed=d)
    pinv = np.linalg.pinv(M, rcond=1e-10)
    B = np.random.default_rng(1).standard_normal((n * d, 4))
    B -= np.tile(B.reshape(n, d, 4).mean(0), (n, 1))                   # translation-free right-hand sides
    ref = pinv @ B
    Ms = scipy.sparse.bsr_matrix(M, blocksize=(d, d))
    assert np.allclose(DenseInverse(Ms, d).solve(B), ref, atol=1e-10 * np.abs(ref).max())
    r = cg_solve(Ms, d, B, rtol=1e-13)
    assert r.converged.all() and (r.residual < 1e-12).all()
    assert np.allclose(r.x, ref, atol=1e-10 * np.abs(ref).max())
    r2 = cg_solve(Ms, d, B, rtol=1e-13, precondition=False)
    assert np.allclose(r2.x, ref, atol=1e-10 * np.abs(ref).max())


def test_unconverged_columns_are_flagged_not_dropped():
    n, d = 40, 2
    Ms = scipy.sparse.bsr_matrix(laplacian_like(n, d, seed=5), blocksize=(d, d))
    b = np.random.default_rng(2).standard_normal((n, d))
    b -= b.mean(0)
    r = cg_solve(Ms, d, b, rtol=1e-13, max_iter=3)
    assert r.x.shape == b.shape and not r.converged.any() and r.residual[0] > 1e-6 and r.n_iter[0] == 3


def test_extra_zero_mode_is_refused():
    """A translation-free direction made (slightly negative) soft, like an unstable configuration or a rattler."""
    n, d = 10, 2
    v = np.zeros((n, d))
    v[0, 0], v[1, 0] = 1, -1
    v = v.ravel() / np.linalg.norm(v)
    Qv = np.eye(n * d) - np.outer(v, v)
    M = Qv @ laplacian_like(n, d, seed=3) @ Qv - 1e-9 * np.outer(v, v)
    with pytest.raises(np.linalg.LinAlgError, match="not positive definite"):
        DenseInverse(scipy.sparse.bsr_matrix(M, blocksize=(d, d)), d)


def test_bad_arguments():
    Ms = scipy.sparse.bsr_matrix(laplacian_like(5, 2, seed=0), blocksize=(2, 2))
    with pytest.raises(ValueError, match="rtol"):
        cg_solve(Ms, 2, np.zeros(10), rtol=0)
    with pytest.raises(ValueError, match="shape"):
        cg_solve(Ms, 2, np.zeros(7))


def test_large_dense_factorisation_needs_one_blas_thread(monkeypatch):
    """Above n d = 22000 with several BLAS threads OpenBLAS segfaults: refused with a clear error instead."""
    M = scipy.sparse.identity(22002, format="bsr")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    with pytest.raises(RuntimeError, match="OPENBLAS_NUM_THREADS=1"):
        DenseInverse(M, 3)
