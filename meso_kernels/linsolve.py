"""Solving M z = b on the translation-free subspace (MODELS.md sections 6-7; paper Appendix A).

The Hessian M of a periodic glass has d zero modes, the uniform translations. Every right-hand side used here (a
force dipole, the shear-force vector Ξ) sums to zero over particles, and M⁻¹ means the inverse on the
(N - 1)d dimensional complement (the pseudo-inverse M⁺). Two independent routes:

- :class:`DenseInverse`: A = M + P with P the projector on the translations is positive definite when the only
  zero modes are translations (rattlers removed), and A⁻¹ = M⁺ + P, so A⁻¹ b = M⁺ b for translation-free b.
  LAPACK Cholesky (``dpotrf``) and inverse from the factor (``dpotri``), in place: (N d)² doubles of memory.
- :func:`cg_solve`: preconditioned conjugate gradients on a block of right-hand sides at once, each column with its
  own scalars and its own stopping test ‖b - M z‖ ≤ rtol ‖b‖; the preconditioner is the inverse of the d×d diagonal
  blocks of M, and iterates are projected onto the translation-free subspace.

>>> import numpy as np, scipy.sparse
>>> from meso_kernels.linsolve import DenseInverse, cg_solve
>>> n, d = 4, 1                                     # a ring of 4 unit springs
>>> M = scipy.sparse.bsr_matrix(2 * np.eye(4) - np.roll(np.eye(4), 1, 0) - np.roll(np.eye(4), -1, 0), blocksize=(1, 1))
>>> b = np.array([[1.0], [-1.0], [0.0], [0.0]])
>>> z_dense = DenseInverse(M, d).solve(b)
>>> res = cg_solve(M, d, b, rtol=1e-14)
>>> bool(np.allclose(z_dense, res.x) and res.converged.all())
True
"""
import os
from dataclasses import dataclass

import numpy as np
import scipy.linalg.lapack as lapack
from numba import njit, prange

from .hessian import bsr_matmat


def _bsr(M, d):
    M = M.tobsr(blocksize=(d, d)) if M.format != "bsr" or M.blocksize != (d, d) else M
    M.sort_indices()
    return M


class DenseInverse:
    """The pseudo-inverse of the Hessian on the translation-free subspace, from a dense Cholesky factor.

    Parameters: ``M`` a scipy sparse (n d × n d) Hessian, ``d`` the dimension. Raises ``numpy.linalg.LinAlgError``
    when M has zero or negative modes besides the d translations (an unstable configuration or undetected rattlers).
    Memory: one dense (n d)² array (n = 2000 in 3D: 288 MB; n = 8000: 4.6 GB)."""

    #: Largest n d factorised with more than one BLAS thread: OpenBLAS 0.3.30/0.3.31 (the SciPy and NumPy wheels)
    #: segfault in dpotrf at n d >= 23170 with 2 threads (benchmarks/README.md); one thread works.
    MAX_THREADED = 22000

    def __init__(self, M, d):
        nd = M.shape[0]
        n = nd // d
        threads = os.environ.get("OPENBLAS_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", ""))
        if nd > self.MAX_THREADED and threads.strip() != "1":
            raise RuntimeError(
                f"dense factorisation of an {nd} x {nd} Hessian with several BLAS threads would crash OpenBLAS "
                f"(segfault above n d = 23170); set OPENBLAS_NUM_THREADS=1 before starting Python, or use "
                f"solver='cg'")
        A = M.toarray(order="F")      # the one dense copy: factor and inverse are computed in place
        for a in range(d):
            A[a::d, a::d] += 1.0 / n  # + P: projector onto uniform translations (each component)
        c, info = lapack.dpotrf(A, lower=1, overwrite_a=1, clean=0)
        if info != 0:
            raise np.linalg.LinAlgError(
                f"the Hessian is not positive definite on the translation-free subspace (Cholesky failed at row "
                f"{info}): the configuration has extra zero or negative modes (not a stable inherent structure, "
                f"or rattlers not removed)")
        inv, info = lapack.dpotri(c, lower=1, overwrite_c=1)
        if info != 0:
            raise np.linalg.LinAlgError(f"dpotri failed (info = {info})")
        # dpotri fills the lower triangle only (column-major): mirror it
        _symmetrize_lower(inv)
        self.inverse = inv            # A^-1 = M+ + P (symmetric, Fortran order)
        self.n, self.d = n, d

    def solve(self, b):
        """z = M⁺ b for translation-free b of shape (n, d), (n d,) or (n d, k)."""
        b = np.asarray(b, dtype=float)
        shape = b.shape
        bb = b.reshape(self.n * self.d, -1)
        z = self.inverse @ bb
        return z.reshape(shape)


@njit(cache=True, parallel=True)
def _symmetrize_lower(a):
    """Copy the lower triangle of a column-major matrix into its upper triangle (in place)."""
    n = a.shape[0]
    at = a.T                       # C-ordered view: at[j, i] = a[i, j]
    for j in prange(n):
        for i in range(j + 1, n):
            at[i, j] = at[j, i]


@dataclass
class SolveResult:
    """Result of :func:`cg_solve`: solutions ``x`` (shaped like b), per column ``converged``, ``n_iter`` and the
    final true relative residual ``residual`` = ‖b - M x‖ / ‖b‖."""
    x: np.ndarray
    converged: np.ndarray
    n_iter: np.ndarray
    residual: np.ndarray


@njit(cache=True)
def _project(X, d):
    """Remove the mean of each component (uniform translation) from every column of X (n d, k)."""
    nd, k = X.shape
    n = nd // d
    for c in range(k):
        for a in range(d):
            m = 0.0
            for i in range(n):
                m += X[i * d + a, c]
            m /= n
            for i in range(n):
                X[i * d + a, c] -= m


@njit(cache=True, parallel=True)
def _precondition(pinv, R, Z):
    """Z = blockdiag(M)⁻¹ R."""
    n, d = pinv.shape[0], pinv.shape[1]
    k = R.shape[1]
    for i in prange(n):
        for a in range(d):
            for c in range(k):
                t = 0.0
                for b in range(d):
                    t += pinv[i, a, b] * R[i * d + b, c]
                Z[i * d + a, c] = t


@njit(cache=True)
def _coldot(A, B, out):
    nd, k = A.shape
    out[:] = 0.0
    for r in range(nd):
        for c in range(k):
            out[c] += A[r, c] * B[r, c]


@njit(cache=True)
def _pcg(indptr, indices, data, pinv, B, rtol, max_iter, precondition):
    nd, k = B.shape
    d = data.shape[1]
    X = np.zeros((nd, k))
    R = B.copy()
    _project(R, d)
    Z = np.empty((nd, k))
    if precondition:
        _precondition(pinv, R, Z)
        _project(Z, d)
    else:
        Z[:] = R
    Pd = Z.copy()
    Q = np.empty((nd, k))
    rz = np.empty(k)
    _coldot(R, Z, rz)
    bn = np.empty(k)
    _coldot(B, B, bn)
    rr = np.empty(k)
    pq = np.empty(k)
    rz_new = np.empty(k)
    active = np.ones(k, np.bool_)
    n_iter = np.zeros(k, np.int64)
    tol2 = rtol * rtol * bn
    for c in range(k):
        if bn[c] == 0.0:
            active[c] = False
    it = 0
    while it < max_iter:
        if not active.any():
            break
        it += 1
        bsr_matmat(indptr, indices, data, Pd, Q)
        _coldot(Pd, Q, pq)
        for r in range(nd):
            for c in range(k):
                if active[c]:
                    al = rz[c] / pq[c]
                    X[r, c] += al * Pd[r, c]
                    R[r, c] -= al * Q[r, c]
        if it % 50 == 0:
            _project(R, d)
        _coldot(R, R, rr)
        if precondition:
            _precondition(pinv, R, Z)
            _project(Z, d)
        else:
            Z[:] = R
        _coldot(R, Z, rz_new)
        for c in range(k):
            if active[c]:
                n_iter[c] = it
                if rr[c] <= tol2[c]:
                    active[c] = False
        for r in range(nd):
            for c in range(k):
                if active[c]:
                    Pd[r, c] = Z[r, c] + (rz_new[c] / rz[c]) * Pd[r, c]
        for c in range(k):
            if active[c]:
                rz[c] = rz_new[c]
    _project(X, d)
    return X, n_iter


@njit(cache=True)
def _block_diag_inverse(indptr, indices, data):
    n = indptr.size - 1
    d = data.shape[1]
    out = np.zeros((n, d, d))
    for i in range(n):
        for p in range(indptr[i], indptr[i + 1]):
            if indices[p] == i:
                out[i] = np.linalg.inv(data[p])
    return out


def true_residual(M, d, X, B):
    """‖B - M X‖ / ‖B‖ per column (X, B of shape (n d, k))."""
    M = _bsr(M, d)
    Y = np.empty_like(X)
    bsr_matmat(M.indptr.astype(np.int64), M.indices.astype(np.int64), M.data, np.ascontiguousarray(X), Y)
    R = B - Y
    return np.sqrt((R * R).sum(0)) / np.sqrt((B * B).sum(0)), R


def cg_solve(M, d, b, rtol=1e-12, max_iter=None, precondition=True):
    """Solve M x = b on the translation-free subspace by (block-Jacobi preconditioned) conjugate gradients.

    ``M``: scipy sparse Hessian (n d × n d); ``d``: dimension; ``b``: (n, d), (n d,) or (n d, k) (k independent
    right-hand sides, solved together). ``rtol``: relative residual per column. ``max_iter``: default 10 n d.
    Returns :class:`SolveResult` (never drops a column that did not converge: see ``converged``)."""
    b = np.asarray(b, dtype=float)
    shape = b.shape
    nd = M.shape[0]
    if b.size % nd or b.shape[0] not in (nd, nd // d):
        raise ValueError(f"b must have shape (n, d), (n d,) or (n d, k) with n d = {nd}, got {shape}")
    if not (np.isfinite(rtol) and 0 < rtol < 1):
        raise ValueError(f"rtol must lie in (0, 1), got {rtol}")
    B = np.ascontiguousarray(b.reshape(nd, -1))
    M = _bsr(M, d)
    indptr = M.indptr.astype(np.int64)
    indices = M.indices.astype(np.int64)
    pinv = _block_diag_inverse(indptr, indices, M.data) if precondition else np.zeros((1, d, d))
    max_iter = 10 * nd if max_iter is None else int(max_iter)
    X, n_iter = _pcg(indptr, indices, M.data, pinv, B, float(rtol), max_iter, bool(precondition))
    B0 = B.copy()
    _project(B0, d)                       # the part of b that M can produce
    res, _ = true_residual(M, d, X, B0)
    return SolveResult(X.reshape(shape), res <= 10 * rtol, n_iter, res)
