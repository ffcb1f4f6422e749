"""Block conjugate gradients on the device: M z = b for many right-hand sides at once (the device twin of
:func:`meso_kernels.linsolve.cg_solve`).

The same algorithm as the CPU, column by column: every column has its own scalars (α, β), its own stopping test
‖r‖ ≤ rtol ‖b‖ (the recursive residual, checked after each step, as on the CPU) and its own iteration count;
block-Jacobi preconditioning with the inverse d×d diagonal blocks of M; iterates projected onto the
translation-free subspace of the kept particles (the preconditioned residual every step, the residual every 50
steps, the solution at the end), rattlers excluded (their rows are zero in M, in b and in z). It is independent CG
per column, vectorised over columns: not a true block CG (no shared Krylov space).

Vectors live on the device as (N d, k) arrays (row = particle * d + component). Per iteration: one Hessian–vector
product over all columns (:meth:`meso_kernels.cuda.hessian.DeviceHessian.matvec_device`: the pair kernel
:func:`~meso_kernels.cuda.hessian.hvp_kernel`, for SW followed by :func:`~meso_kernels.cuda.hessian.sw_hvp_kernel`,
which also give the per-particle parts of p·Mp), one update kernel (x += α p, r -= α q, z = P⁻¹ r and the
per-particle parts of r·r, r·z, Σ r, Σ z), one direction kernel (p = (z - mean z) + β p), and two column-sum
kernels. Only the (2 + 2d) k + k column sums come back to the host, where α, β and the stopping test are computed
(k small numbers per iteration; every O(N k) array stays on the device).

Column sums are deterministic: one thread per column sums the N per-particle parts in index order (no atomics), so
a solve gives the same bits on every run on one device; on a GPU with large N a tree reduction per column would be
faster (not done yet).

Differences from the CPU at rounding level only: the sums are taken in another order, the projected z enters r·z
through r·z - Σ_a mean(z)_a Σ_i r_ia instead of a stored projected z, and the diagonal blocks are inverted by
cofactors instead of LAPACK.
"""
import functools

import numpy as np
from numba import cuda, types

from . import F1, F2, F3, TPB, KernelSpec, blocks, require


@functools.lru_cache(maxsize=None)
def cg_update_kernel(dim):
    """``update(alpha (k,), pinv (N, d, d), P, Q, X, R, Z (N d, k), part (N, (2 + 2d) k))``, thread i: for every
    column c, x_i += α_c p_i, r_i -= α_c q_i, z_i = pinv_i r_i, and the parts part[i] = [r_i·r_i (k) | r_i·z_i (k) |
    r_i (k d, column-major c d + a) | z_i (k d)]. α_c = 0 leaves x and r of column c as they are (bit for bit)."""
    D = int(dim)

    def cg_update(alpha, pinv, P, Q, X, R, Z, part):
        i = cuda.grid(1)
        if i >= pinv.shape[0]:
            return
        k = X.shape[1]
        for c in range(k):
            al = alpha[c]
            rr = 0.0
            rz = 0.0
            if al != 0.0:
                for a in range(D):
                    X[i * D + a, c] += al * P[i * D + a, c]
                    R[i * D + a, c] -= al * Q[i * D + a, c]
            for a in range(D):
                t = 0.0
                for b in range(D):
                    t += pinv[i, a, b] * R[i * D + b, c]
                Z[i * D + a, c] = t
            for a in range(D):
                r = R[i * D + a, c]
                z = Z[i * D + a, c]
                rr += r * r
                rz += r * z
                part[i, 2 * k + c * D + a] = r
                part[i, 2 * k + k * D + c * D + a] = z
            part[i, c] = rr
            part[i, k + c] = rz

    return KernelSpec(f"cg_update_{D}d", cg_update, types.void(F1, F3, F2, F2, F2, F2, F2, F2))


@functools.lru_cache(maxsize=None)
def cg_direction_kernel(dim):
    """``direction(beta (k,), zmean (k, d), keep (N,), Z, P (N d, k))``, thread i: p_i = (z_i - zmean) + β p_i on a
    kept particle (``keep`` 1.0), p_i = 0 on an excluded one."""
    D = int(dim)

    def cg_direction(beta, zmean, keep, Z, P):
        i = cuda.grid(1)
        if i >= keep.shape[0]:
            return
        kept = keep[i] > 0.0
        for c in range(P.shape[1]):
            be = beta[c]
            for a in range(D):
                if kept:
                    P[i * D + a, c] = (Z[i * D + a, c] - zmean[c, a]) + be * P[i * D + a, c]
                else:
                    P[i * D + a, c] = 0.0

    return KernelSpec(f"cg_direction_{D}d", cg_direction, types.void(F1, F2, F1, F2, F2))


@functools.lru_cache(maxsize=None)
def project_kernel(dim):
    """``project(mean (k, d), keep (N,), A (N d, k))``, thread i: a_i -= mean (per column and component) on a kept
    particle; an excluded particle's rows are left as they are (zero)."""
    D = int(dim)

    def project(mean, keep, A):
        i = cuda.grid(1)
        if i >= keep.shape[0]:
            return
        if keep[i] > 0.0:
            for c in range(A.shape[1]):
                for a in range(D):
                    A[i * D + a, c] -= mean[c, a]

    return KernelSpec(f"project_{D}d", project, types.void(F2, F1, F2))


@functools.lru_cache(maxsize=None)
def colsum_kernel():
    """``colsum(part (N, m), out (m,))``: out[c] = Σ_i part[i, c], one thread per column, summed in index order
    (deterministic; neighbouring threads read neighbouring addresses)."""

    def colsum(part, out):
        c = cuda.grid(1)
        if c >= part.shape[1]:
            return
        t = 0.0
        for i in range(part.shape[0]):
            t += part[i, c]
        out[c] = t

    return KernelSpec("colsum", colsum, types.void(F2, F1))


def kernels(dim):
    """Every kernel of this module for dimension ``dim`` (for the PTX compile test)."""
    return [cg_update_kernel(dim), cg_direction_kernel(dim), project_kernel(dim), colsum_kernel()]


class _Workspace:
    """Device arrays of one block solve."""

    def __init__(self, n, d, k):
        nd = n * d
        self.X = cuda.to_device(np.zeros((nd, k)))
        self.P = cuda.to_device(np.zeros((nd, k)))
        self.Q = cuda.device_array((nd, k), np.float64)
        self.Z = cuda.device_array((nd, k), np.float64)
        self.part = cuda.device_array((n, (2 + 2 * d) * k), np.float64)
        self.sums = cuda.device_array((2 + 2 * d) * k, np.float64)
        self.vq = cuda.device_array((n, k), np.float64)
        self.pq = cuda.device_array(k, np.float64)


def block_cg(H, b, rtol=1e-12, max_iter=None, precondition=True):
    """Solve M x = b on the translation-free subspace of the kept particles on the device, by (block-Jacobi
    preconditioned) conjugate gradients, k right-hand sides at once (independent CG per column, vectorised).

    Parameters
    ----------
    H : :class:`meso_kernels.cuda.hessian.DeviceHessian` (its excluded particles, rattlers, get zero rows)
    b : host array (N, d), (N d,) or (N d, k); rows of excluded particles are ignored (taken as zero)
    rtol : relative residual per column, in (0, 1): a column stops when ‖r‖ ≤ rtol ‖b‖ (recursive residual)
    max_iter : default 10 N d (as the CPU)
    precondition : block-Jacobi (inverse d×d diagonal blocks of M), default True

    Returns :class:`meso_kernels.linsolve.SolveResult`: ``x`` shaped like b (host; zero on excluded particles),
    per column ``converged`` (final true residual ‖b₀ - M x‖ / ‖b₀‖ <= 10 rtol, b₀ = b projected, as the
    CPU),
    ``n_iter`` and ``residual``.
    """
    from ..linsolve import SolveResult
    require()
    n, d, nd = H.n, H.d, H.nd
    b = np.asarray(b, dtype=float)
    shape = b.shape
    if not (shape in ((n, d), (nd,)) or (b.ndim == 2 and shape[0] == nd)):
        raise ValueError(f"b must have shape (n, d), (n d,) or (n d, k) with n d = {nd}, got {shape}")
    if not (np.isfinite(rtol) and 0 < rtol < 1):
        raise ValueError(f"rtol must lie in (0, 1), got {rtol}")
    B = np.array(b.reshape(nd, -1), dtype=float, order="C")
    k = B.shape[1]
    B.reshape(n, d, k)[~H.keep] = 0.0
    max_iter = 10 * nd if max_iter is None else int(max_iter)
    nk = float(H.n_kept)
    w = _Workspace(n, d, k)
    R = cuda.to_device(B)
    pinv = H.pinv if precondition else H.identity_blocks()
    nb = blocks(n)
    k_up, k_dir = cg_update_kernel(d), cg_direction_kernel(d)
    k_proj, k_sum = project_kernel(d), colsum_kernel()
    m = (2 + 2 * d) * k
    zero = np.zeros(k)

    def update(alpha):
        k_up[nb, TPB](cuda.to_device(alpha), pinv, w.P, w.Q, w.X, R, w.Z, w.part)
        k_sum[blocks(m), TPB](w.part, w.sums)
        s = w.sums.copy_to_host()
        return s[:k], s[k:2 * k], s[2 * k:2 * k + k * d].reshape(k, d), s[2 * k + k * d:].reshape(k, d)

    def project(A, total):
        k_proj[nb, TPB](cuda.to_device(np.ascontiguousarray(total / nk)), H.d_keep, A)

    def direction(beta, zmean):
        k_dir[nb, TPB](cuda.to_device(beta), cuda.to_device(np.ascontiguousarray(zmean)), H.d_keep, w.Z, w.P)

    # r = projected b, z = P^-1 r, p = projected z
    bn, _, rs, _ = update(zero)
    project(R, rs)
    _, rz, rs, zs = update(zero)
    zmean = zs / nk
    rz = rz - (zmean * rs).sum(1)
    direction(zero, zmean)
    active = bn > 0.0
    tol2 = rtol * rtol * bn
    n_iter = np.zeros(k, np.int64)
    it = 0
    with np.errstate(divide="ignore", invalid="ignore"):
        while it < max_iter and active.any():
            it += 1
            H.matvec_device(w.P, w.Q, w.vq)
            k_sum[blocks(k), TPB](w.vq, w.pq)
            alpha = np.where(active, rz / w.pq.copy_to_host(), 0.0)
            rr, rz_new, rs, zs = update(alpha)
            if it % 50 == 0:
                project(R, rs)
                rr, rz_new, rs, zs = update(zero)
            zmean = zs / nk
            rz_new = rz_new - (zmean * rs).sum(1)
            n_iter[active] = it
            active &= ~(rr <= tol2)
            beta = np.where(active, rz_new / rz, 0.0)
            direction(beta, zmean)
            rz = np.where(active, rz_new, rz)
    # project x, then the true residual of the projected b
    X = w.X.copy_to_host()
    X3 = X.reshape(n, d, k)
    X3[H.keep] -= X3[H.keep].mean(axis=0)
    B3 = B.reshape(n, d, k)
    B3[H.keep] -= B3[H.keep].mean(axis=0)
    MX = cuda.device_array((nd, k), np.float64)
    H.matvec_device(cuda.to_device(X), MX, w.vq)
    Rt = B - MX.copy_to_host()
    with np.errstate(divide="ignore", invalid="ignore"):
        res = np.sqrt((Rt * Rt).sum(0)) / np.sqrt((B * B).sum(0))
    return SolveResult(X.reshape(shape), res <= 10 * rtol, n_iter, res)
