"""Pseudoharmonic modes: soft quasilocalised modes as local minima of a scale-free cost (Appendix B of the paper).

For a displacement field z of shape ``(N, d)`` (d = 2 or 3) and a list of interacting pairs ``(pi[k], pj[k])`` with
pair differences z_ij = z_j − z_i,

    κ(z) = z·M·z,      S(z) = Σ_pairs (z_ij·z_ij)²,      C(z) = κ(z)² / S(z),

where M is the Hessian (``N d × N d``, flattened row-major so that entry ``i*d + a`` is component a of particle i).
C is invariant under z → a z (a ≠ 0) and under uniform translations. A *pseudoharmonic mode* π is a local minimum of
C, normalised |π| = 1 and translation-free (Σ_i π_i = 0); its stiffness is λ(π) = π·M·π and its participation ratio
e = 1 / (N Σ_i |π_i|⁴) (≈ 1/N for a mode on a single particle, O(1) for a plane wave). The cost is that of L. Richard,
K. Kapteijns, J. A. Giannini, M. L. Manning, E. Lerner, Phys. Rev. Lett. 126, 015501 (2021) (the ``softspot``
library); MODELS.md §8. The paper starts a minimisation from the dipole response z^ij = M⁺ d̂^ij of every interacting
pair, merges duplicates and shows the 12 softest modes (Fig. 2): :func:`softest_modes`.

Units: M in energy/length² (the model's reduced units ε/σ²); z and π are dimensionless directions; λ in
energy/length²; C in (energy/length²)² (it is κ² over a pure number).

Gradient (shape ``(N, d)``, like z):

    ∂C/∂z = 4 κ M z / S − (κ² / S²) ∂S/∂z,   ∂S/∂z_j += 4 (z_ij·z_ij) z_ij,  ∂S/∂z_i −= 4 (z_ij·z_ij) z_ij.

Minimiser (:func:`find_mode`): Polak–Ribière+ nonlinear conjugate gradients on the unit sphere of the translation-free
subspace. The gradient is projected on the tangent space (the mean of each Cartesian component is removed, then the
component along z), the previous search direction is transported by the same projection, and the step is an *exact*
line minimisation: along z(α) = z + α p̂ (p̂ ⊥ z a unit direction, α = tan of the angle turned on the great circle) κ
is a quadratic and S a quartic polynomial in α, so C(α) is a known rational function whose first local minimum for
α > 0 is the first positive root of the quintic 2 κ'(α) S(α) − κ(α) S'(α). One product M p̂ per iteration gives
both the line and (by linearity, M z_new = M z + α M p̂) the next gradient; M z is recomputed from scratch every 20
iterations and at the end. After each step z is re-centred and renormalised (C does not change). Convergence: the
relative projected gradient at |z| = 1,

    |P ∇ln C| = |P ∇C| / C < gtol       (dimensionless; default 1e-8),

reported as ``grad_norm``. Not converging within ``max_iter`` is not an error (``converged=False``). On stretched
random spring networks this takes ~50–250 iterations for N = 64, ~75 for N = 8000 in 3D and ~350 for N = 10⁴ in 2D
(about 1 ms per iteration there; the vector operations are serial numba kernels, so no BLAS threads are involved).

M must be symmetric positive semi-definite with the d uniform translations in its null space (an inherent
structure's Hessian): then κ ≥ 0 and C ≥ 0. M may be a ``scipy.sparse`` matrix or array, a dense ndarray or a
``scipy.sparse.linalg.LinearOperator``: anything with ``.shape == (N d, N d)`` and ``M @ v`` for a flat vector v.

Example
-------
A periodic 6 × 6 square lattice with unstressed springs to nearest and next-nearest neighbours (rigid: only the two
translations are zero modes), particle 0 held by springs 20 times weaker. Pushing on particle 0 finds the soft mode
localised on it.

>>> import numpy as np, scipy.sparse as sp
>>> from meso_kernels.modes import find_mode
>>> L = 6; N = L * L; steps = [(1, 0), (0, 1), (1, 1), (1, -1)]
>>> pairs = np.array([(a, (a % L + dx) % L + ((a // L + dy) % L) * L) for a in range(N) for dx, dy in steps])
>>> pi, pj = pairs[:, 0], pairs[:, 1]
>>> nhat = np.tile(np.array(steps, float) / np.linalg.norm(steps, axis=1)[:, None], (N, 1))
>>> k = np.where((pi == 0) | (pj == 0), 0.05, 1.0)
>>> H = np.zeros((N, 2, N, 2))
>>> for a, b, n, kk in zip(pi, pj, nhat, k):
...     K = kk * np.outer(n, n)
...     H[a, :, a] += K; H[b, :, b] += K; H[a, :, b] -= K; H[b, :, a] -= K
>>> M = sp.csr_matrix(H.reshape(2 * N, 2 * N))
>>> z0 = np.zeros((N, 2)); z0[0] = [1.0, 0.3]
>>> res = find_mode(M, pi, pj, z0)
>>> res.converged, res.mode.shape, bool(np.sum(res.mode[0] ** 2) > 0.5), bool(res.participation < 0.1)
(True, (36, 2), True, True)
>>> bool(abs(res.stiffness - float(res.mode.ravel() @ (M @ res.mode.ravel()))) < 1e-12)
True
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
from numba import njit

__all__ = [
    "PseudoharmonicMode",
    "quartic_sum",
    "quartic_sum_gradient",
    "cost",
    "cost_gradient",
    "find_mode",
    "merge_modes",
    "softest_modes",
    "DipoleStartedModes",
    "dipole_started_modes",
]

#: M z is recomputed from scratch (instead of updated by M z += α M p) every this many iterations.
_REFRESH = 20


# ---------------------------------------------------------------------------------------------------------------------
# numba kernels over the pair list
# ---------------------------------------------------------------------------------------------------------------------

@njit(cache=True)
def quartic_sum(z, pi, pj):
    """S(z) = Σ_k (z_ij·z_ij)² with z_ij = z[pj[k]] − z[pi[k]]; ``z`` (N, d) float64, ``pi``/``pj`` int64."""
    d = z.shape[1]
    s = 0.0
    for k in range(pi.shape[0]):
        i = pi[k]
        j = pj[k]
        r2 = 0.0
        for a in range(d):
            u = z[j, a] - z[i, a]
            r2 += u * u
        s += r2 * r2
    return s


@njit(cache=True)
def quartic_sum_gradient(z, pi, pj):
    """S(z) and ∂S/∂z (N, d): ∂S/∂z_j += 4 (z_ij·z_ij) z_ij, ∂S/∂z_i −= 4 (z_ij·z_ij) z_ij."""
    n, d = z.shape
    g = np.zeros((n, d))
    s = 0.0
    u = np.empty(d)
    for k in range(pi.shape[0]):
        i = pi[k]
        j = pj[k]
        r2 = 0.0
        for a in range(d):
            u[a] = z[j, a] - z[i, a]
            r2 += u[a] * u[a]
        s += r2 * r2
        c = 4.0 * r2
        for a in range(d):
            g[j, a] += c * u[a]
            g[i, a] -= c * u[a]
    return s, g


@njit(cache=True)
def _quartic_line(z, p, pi, pj):
    """Coefficients (s0, ..., s4) of S(z + α p) = Σ_m s_m α^m."""
    d = z.shape[1]
    out = np.zeros(5)
    for k in range(pi.shape[0]):
        i = pi[k]
        j = pj[k]
        a2 = 0.0
        b = 0.0
        c2 = 0.0
        for a in range(d):
            u = z[j, a] - z[i, a]
            v = p[j, a] - p[i, a]
            a2 += u * u
            b += u * v
            c2 += v * v
        # (a2 + 2 b α + c2 α²)²
        out[0] += a2 * a2
        out[1] += 4.0 * a2 * b
        out[2] += 4.0 * b * b + 2.0 * a2 * c2
        out[3] += 4.0 * b * c2
        out[4] += c2 * c2
    return out


# ---------------------------------------------------------------------------------------------------------------------
# input checks and small helpers
# ---------------------------------------------------------------------------------------------------------------------

def _check_pairs(pi, pj, n):
    pi = np.asarray(pi)
    pj = np.asarray(pj)
    if pi.ndim != 1 or pj.ndim != 1 or pi.shape != pj.shape:
        raise ValueError(f"pi and pj must be 1-d arrays of the same length, got shapes {pi.shape} and {pj.shape}")
    if pi.size == 0:
        raise ValueError("pi, pj: the pair list is empty")
    for name, a in (("pi", pi), ("pj", pj)):
        if not np.issubdtype(a.dtype, np.integer):
            raise ValueError(f"{name} must hold integer particle indices, got dtype {a.dtype}")
        lo, hi = int(a.min()), int(a.max())
        if lo < 0 or hi >= n:
            raise ValueError(f"{name} holds particle indices out of range [0, {n}): min {lo}, max {hi}")
    return np.ascontiguousarray(pi, dtype=np.int64), np.ascontiguousarray(pj, dtype=np.int64)


def _check_operator(M, n, d):
    shape = getattr(M, "shape", None)
    if shape is None or tuple(shape) != (n * d, n * d):
        raise ValueError(f"M must have shape ({n * d}, {n * d}) for a z of shape ({n}, {d}), got {shape}")


def _check_z(z, name):
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2 or z.shape[1] not in (2, 3) or z.shape[0] < 2:
        raise ValueError(f"{name} must have shape (N, d) with N >= 2 and d = 2 or 3, got {z.shape}")
    if not np.all(np.isfinite(z)):
        raise ValueError(f"{name} holds non-finite values")
    return np.ascontiguousarray(z)


def _matvec(M, z):
    """M @ z for z (N, d), returned as a float64 (N, d) array."""
    return np.asarray(M @ z.ravel(), dtype=np.float64).reshape(z.shape)


def _participation(z):
    """e = (Σ_i |z_i|²)² / (N Σ_i |z_i|⁴); equals 1/(N Σ|z_i|⁴) for |z| = 1."""
    w = np.sum(z * z, axis=1)
    return float(w.sum() ** 2 / (z.shape[0] * np.sum(w * w)))


def _cost_parts(z, Mz, pi, pj):
    """κ, S, C and ∂C/∂z at z given M z (no projection)."""
    kappa = _dot(z, Mz)
    S, dS = quartic_sum_gradient(z, pi, pj)
    if not S > 0.0:
        raise ValueError("z is uniform over every pair (S(z) = 0): the cost is undefined")
    C = kappa * kappa / S
    grad = (4.0 * kappa / S) * Mz - (C / S) * dS
    return kappa, S, C, grad


# ---------------------------------------------------------------------------------------------------------------------
# cost
# ---------------------------------------------------------------------------------------------------------------------

def cost(z, M, pi, pj):
    """C(z) = (z·M·z)² / Σ_pairs (z_ij·z_ij)², in (energy/length²)².

    Parameters
    ----------
    z : array (N, d)
        Displacement direction (any norm; C is scale-free). d = 2 or 3.
    M : sparse matrix, ndarray or LinearOperator (N d, N d)
        Hessian in energy/length², flattened row-major (entry ``i*d + a`` is component a of particle i).
    pi, pj : int arrays (n_pairs,)
        The interacting pairs, z_ij = z[pj] − z[pi].
    """
    z = _check_z(z, "z")
    n, d = z.shape
    _check_operator(M, n, d)
    pi, pj = _check_pairs(pi, pj, n)
    kappa = _dot(z, _matvec(M, z))
    S = quartic_sum(z, pi, pj)
    if not S > 0.0:
        raise ValueError("z is uniform over every pair (S(z) = 0): the cost is undefined")
    return kappa * kappa / S


def cost_gradient(z, M, pi, pj):
    """C(z) and its (unprojected) gradient ∂C/∂z, an array of shape (N, d) like z.

    ∂C/∂z = 4 κ M z / S − (κ²/S²) ∂S/∂z. It scales as 1/|z| (C is homogeneous of degree 0), is orthogonal to z
    and, for an M with the translations in its null space, translation-free. Parameters as in :func:`cost`.
    """
    z = _check_z(z, "z")
    n, d = z.shape
    _check_operator(M, n, d)
    pi, pj = _check_pairs(pi, pj, n)
    _, _, C, grad = _cost_parts(z, _matvec(M, z), pi, pj)
    return C, grad


# ---------------------------------------------------------------------------------------------------------------------
# minimisation
# ---------------------------------------------------------------------------------------------------------------------

@dataclass(repr=False)
class PseudoharmonicMode:
    """A (local) minimum of C found by :func:`find_mode`.

    Attributes
    ----------
    mode : ndarray (N, d)
        π, normalised (|π| = 1) and translation-free (Σ_i π_i = 0); sign chosen so that π·z0 ≥ 0.
    stiffness : float
        λ = π·M·π, in energy/length².
    cost : float
        C(π) = λ² / Σ_pairs (π_ij·π_ij)², in (energy/length²)².
    participation : float
        e = 1 / (N Σ_i |π_i|⁴).
    n_iter : int
        CG iterations (line minimisations) done.
    converged : bool
        Whether ``grad_norm < gtol``.
    grad_norm : float
        |P ∇C| / C at π (P: projection on the tangent space of the translation-free unit sphere); dimensionless.
    start : int
        Index of the starting vector in :func:`softest_modes` (−1 when called directly).
    """

    mode: np.ndarray
    stiffness: float
    cost: float
    participation: float
    n_iter: int
    converged: bool
    grad_norm: float
    start: int = -1

    def __repr__(self):
        n, d = self.mode.shape
        return (f"PseudoharmonicMode(N={n}, d={d}, stiffness={self.stiffness:.6g}, cost={self.cost:.6g}, "
                f"participation={self.participation:.4g}, n_iter={self.n_iter}, converged={self.converged}, "
                f"grad_norm={self.grad_norm:.3g}, start={self.start})")


@njit(cache=True)
def _dot(a, b):
    """Σ a·b over two (N, d) arrays (serial; avoids BLAS thread start-up on small vectors)."""
    s = 0.0
    for i in range(a.shape[0]):
        for k in range(a.shape[1]):
            s += a[i, k] * b[i, k]
    return s


@njit(cache=True)
def _project(v, z):
    """Remove the mean of each component of v, then its component along the unit vector z (z translation-free)."""
    n, d = v.shape
    mean = np.zeros(d)
    for i in range(n):
        for k in range(d):
            mean[k] += v[i, k]
    mean /= n
    out = np.empty_like(v)
    c = 0.0
    for i in range(n):
        for k in range(d):
            out[i, k] = v[i, k] - mean[k]
            c += out[i, k] * z[i, k]
    for i in range(n):
        for k in range(d):
            out[i, k] -= c * z[i, k]
    return out


@njit(cache=True)
def _step(z, Mz, p, Mp, alpha):
    """z + α p centred and normalised, and M applied to it by linearity (M annihilates the uniform shift)."""
    n, d = z.shape
    zn = z + alpha * p
    Mzn = Mz + alpha * Mp
    mean = np.zeros(d)
    for i in range(n):
        for k in range(d):
            mean[k] += zn[i, k]
    mean /= n
    s = 0.0
    for i in range(n):
        for k in range(d):
            zn[i, k] -= mean[k]
            s += zn[i, k] * zn[i, k]
    nrm = math.sqrt(s)
    return zn / nrm, Mzn / nrm


def _line_minimum(kz, kzp, kp, s):
    """First local minimum α > 0 of C(α) = κ(α)²/S(α), κ(α) = kz + 2 kzp α + kp α², S(α) = Σ s_m α^m.

    dC/dα = κ q / S² with the quintic q = 2 κ' S − κ S' (κ > 0 off the translations for a PSD M). Returns the
    first positive root of q at which q turns positive (polished by Newton steps), ``math.inf`` if q < 0 for all
    α > 0 (C decreases all along the half great circle: its minimum there is at p̂ itself), or None if the direction
    is not one of descent (q(0) ≥ 0). Decrease is decided from the signs of q, not by comparing values of C, so
    steps are taken down to the round-off floor of the gradient.
    """
    P = np.polynomial.polynomial
    kap = np.array([kz, 2.0 * kzp, kp])
    dkap = np.array([2.0 * kzp, 2.0 * kp])
    dS = np.array([s[1], 2.0 * s[2], 3.0 * s[3], 4.0 * s[4]])
    q = np.trim_zeros(P.polysub(2.0 * P.polymul(dkap, s), P.polymul(kap, dS)), "b")
    if q.size == 0 or not q[0] < 0.0:
        return None
    if q.size > 1:
        roots = np.roots(q[::-1])
        real = np.sort(roots.real[(np.abs(roots.imag) <= 1e-8 * (np.abs(roots) + 1.0)) & (roots.real > 0.0)])
        dq = P.polyder(q)
        for a in real:
            for _ in range(3):
                den = P.polyval(a, dq)
                if den == 0.0:
                    break
                a = a - P.polyval(a, q) / den
            if a > 0.0 and P.polyval(a, dq) > 0.0:
                return float(a)
    return math.inf if q[-1] < 0.0 else None


def find_mode(M, pi, pj, z0, gtol=1e-8, max_iter=5000):
    """Minimise C from ``z0`` by Polak–Ribière+ CG on the translation-free unit sphere; return the mode found.

    Parameters
    ----------
    M : sparse matrix, ndarray or LinearOperator (N d, N d)
        Hessian in energy/length² (symmetric PSD, translations in its null space), flattened row-major.
    pi, pj : int arrays (n_pairs,)
        Interacting pairs (z_ij = z[pj] − z[pi]); each pair once (a repeated pair counts twice in S).
    z0 : array (N, d)
        Starting direction, any norm (in use the dipole response z^ij = M⁺ d̂^ij). It is centred and normalised.
    gtol : float
        Stop when |P ∇C| / C < gtol at |z| = 1 (see the module docstring).
    max_iter : int
        Most CG iterations; reaching it gives ``converged=False`` (no warning).

    Returns
    -------
    PseudoharmonicMode

    Raises
    ------
    ValueError
        z0 of the wrong shape or non-finite, zero (or a pure translation), or uniform over every pair; M of the
        wrong shape; pair indices out of range; gtol ≤ 0 or max_iter < 0.
    """
    z0 = _check_z(z0, "z0")
    n, d = z0.shape
    _check_operator(M, n, d)
    pi, pj = _check_pairs(pi, pj, n)
    if not gtol > 0.0:
        raise ValueError(f"gtol must be > 0, got {gtol}")
    if int(max_iter) < 0:
        raise ValueError(f"max_iter must be >= 0, got {max_iter}")
    norm0 = float(np.linalg.norm(z0))
    z = z0 - z0.mean(axis=0)
    nz = float(np.linalg.norm(z))
    if norm0 == 0.0 or nz <= 1e-12 * norm0:
        raise ValueError("z0 is zero (or a uniform translation, which is removed): no starting direction")
    z /= nz
    if not quartic_sum(z, pi, pj) > 0.0:
        raise ValueError("z0 is uniform over every pair (S(z0) = 0): the cost is undefined")

    Mz = _matvec(M, z)
    kappa, S, C, grad = _cost_parts(z, Mz, pi, pj)
    g = _project(grad, z)
    gn = math.sqrt(_dot(g, g))
    p = -g
    g_old = None
    it = 0
    while gn >= gtol * C and it < max_iter:
        if g_old is not None:
            # PR+ with projection transport of the old gradient and direction
            y = g - _project(g_old, z)
            beta = max(0.0, _dot(g, y) / _dot(g_old, g_old))
            p = -g + beta * _project(p, z)
            if _dot(p, g) >= -1e-12 * gn * math.sqrt(_dot(p, p)):
                p = -g
        pn = math.sqrt(_dot(p, p))
        ph = p / pn
        Mp = _matvec(M, ph)
        s = _quartic_line(z, ph, pi, pj)
        alpha = _line_minimum(kappa, _dot(z, Mp), _dot(ph, Mp), s)
        it += 1
        if alpha is None:
            if g_old is None:  # steepest descent cannot decrease C: round-off floor
                break
            g_old = None
            p = -g
            continue
        if math.isinf(alpha):
            z_new, Mz_new = _step(ph, Mp, ph, Mp, 0.0)
        else:
            z_new, Mz_new = _step(z, Mz, ph, Mp, alpha)
        if it % _REFRESH == 0:
            Mz_new = _matvec(M, z_new)
        kappa_n, S_n, C_n, grad_n = _cost_parts(z_new, Mz_new, pi, pj)
        if C_n > C * (1.0 + 1e-13):
            # the exact line minimum did not decrease C beyond round-off: restart once along the steepest descent
            if g_old is None:
                break
            g_old = None
            p = -g
            continue
        g_old = g
        z, Mz, kappa, S, C = z_new, Mz_new, kappa_n, S_n, C_n
        g = _project(grad_n, z)
        gn = math.sqrt(_dot(g, g))

    # final, from a fresh M z
    Mz = _matvec(M, z)
    kappa, S, C, grad = _cost_parts(z, Mz, pi, pj)
    g = _project(grad, z)
    gn = math.sqrt(_dot(g, g))
    if _dot(z, z0) < 0.0:
        z = -z
    return PseudoharmonicMode(mode=z, stiffness=kappa, cost=C, participation=_participation(z), n_iter=it,
                              converged=bool(gn < gtol * C), grad_norm=gn / C)


# ---------------------------------------------------------------------------------------------------------------------
# collections of modes
# ---------------------------------------------------------------------------------------------------------------------

class _Pool:
    """Distinct modes sorted by stiffness; a newcomer duplicating a softer mode is dropped, and replaces the stiffer
    modes it duplicates. Optionally capped at ``cap`` modes (the stiffest are dropped)."""

    def __init__(self, overlap, cap=None):
        self.overlap = overlap
        self.cap = cap
        self.modes: list[PseudoharmonicMode] = []

    def add(self, m):
        v = np.ascontiguousarray(m.mode, dtype=np.float64)
        if self.modes and v.shape != self.modes[0].mode.shape:
            raise ValueError(f"modes: shapes differ, {v.shape} and {self.modes[0].mode.shape}")
        keep = []
        for o in self.modes:
            dup = abs(_dot(v, o.mode)) >= self.overlap
            if dup and o.stiffness <= m.stiffness:
                return False
            if not dup:
                keep.append(o)
        keep.append(m)
        keep.sort(key=lambda x: x.stiffness)
        if self.cap is not None:
            del keep[self.cap:]
        self.modes = keep
        return True


def merge_modes(modes: Sequence[PseudoharmonicMode], overlap=0.99):
    """Drop duplicates: of two modes with |π_a·π_b| ≥ ``overlap`` keep the one of lower stiffness.

    Modes are taken in order of increasing stiffness and each is kept unless it duplicates one already kept, so the
    result (a new list, sorted by stiffness) is the greedy selection from the softest up. π and −π are duplicates.
    """
    if not 0.0 < overlap <= 1.0:
        raise ValueError(f"overlap must be in (0, 1], got {overlap}")
    pool = _Pool(overlap)
    for m in sorted(modes, key=lambda x: x.stiffness):
        pool.add(m)
    return pool.modes


def softest_modes(M, pi, pj, starts: Iterable, k=12, gtol=1e-8, max_iter=5000, overlap=0.99, progress=True,
                  only_converged=False, pool_size=None):
    """Run :func:`find_mode` from each start, merge duplicates and return the ``k`` softest, sorted by stiffness.

    Parameters
    ----------
    M, pi, pj :
        As in :func:`find_mode`.
    starts : iterable of arrays (N, d)
        Starting directions, e.g. the dipole responses z^ij = M⁺ d̂^ij of every interacting pair (the paper's
        Appendix B), an array (n_starts, N, d), or a generator (computed lazily; the progress bar then has no total).
    k : int
        How many modes to return (the paper shows 12).
    gtol, max_iter :
        Passed to :func:`find_mode`.
    overlap : float
        Duplicate threshold of :func:`merge_modes`.
    progress : bool
        Show a tqdm progress bar over the starts.
    only_converged : bool
        Discard minimisations that did not converge (default: keep them; each mode carries ``converged``).
    pool_size : int or None
        Keep at most this many distinct modes while merging on the fly (bounds the memory for many starts;
        default ``max(10 k, 100)``). The ``k`` returned equal those of :func:`merge_modes` on all modes unless
        duplicate chains straddle the cut.

    Returns
    -------
    list of PseudoharmonicMode
        At most ``k``, with ``start`` set to the index of the start that produced each.
    """
    from tqdm.auto import tqdm

    if int(k) < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if not 0.0 < overlap <= 1.0:
        raise ValueError(f"overlap must be in (0, 1], got {overlap}")
    cap = max(10 * int(k), 100) if pool_size is None else int(pool_size)
    if cap < k:
        raise ValueError(f"pool_size must be >= k = {k}, got {pool_size}")
    pool = _Pool(overlap, cap)
    total = len(starts) if hasattr(starts, "__len__") else None
    for idx, z0 in enumerate(tqdm(starts, total=total, disable=not progress, desc="pseudoharmonic modes")):
        m = find_mode(M, pi, pj, z0, gtol=gtol, max_iter=max_iter)
        if only_converged and not m.converged:
            continue
        m.start = idx
        pool.add(m)
    return pool.modes[: int(k)]


# ---------------------------------------------------------------------------------------------------------------------
# the paper's procedure on an inherent structure
# ---------------------------------------------------------------------------------------------------------------------

@dataclass
class DipoleStartedModes:
    """What :func:`dipole_started_modes` computed for one inherent structure of N particles in d dimensions.

    Attributes
    ----------
    dipoles : meso_kernels.dipole.DipoleStiffness
        κ_ij of every interacting pair (``dipoles.pairs`` in particle numbers of the input system, ``dipoles.kappa``
        in energy/length², in the order of ``terms.pairs``), κ_i (``dipoles.local_kappa``) and the rattlers.
    terms : meso_kernels.hessian.Terms
        The energy terms without the rattlers (``terms.index``: their particle numbers in the input system).
    hessian : scipy.sparse matrix
        M of ``terms`` (n d × n d, n = N minus the rattlers).
    inverse : meso_kernels.linsolve.DenseInverse
        Its pseudo-inverse (``inverse.solve(b)`` = M⁺ b).
    modes : list of PseudoharmonicMode
        The softest distinct pseudoharmonic modes, sorted by stiffness, on the n non-rattlers (shape (n, d)); each
        ``start`` indexes ``start_pairs``' source list.
    start_pairs : numpy.ndarray, shape (len(modes), 2)
        The interacting pair (particle numbers of the input system) whose dipole response each mode started from.
    n_starts : int
        Minimisations run.
    """

    dipoles: object
    terms: object
    hessian: object
    inverse: object
    modes: list
    start_pairs: np.ndarray
    n_starts: int

    def full(self, u):
        """A field on the non-rattlers, shape (n, d), as one on all N particles (zero on rattlers)."""
        u = np.asarray(u)
        out = np.zeros((self.dipoles.rattlers.size, u.shape[-1]), dtype=u.dtype)
        out[self.terms.index] = u
        return out

    @property
    def cores(self):
        """Particle (number in the input system) where each mode is largest, max_i |π_i|: its core."""
        return np.array([self.terms.index[int(np.argmax(np.einsum("ij,ij->i", m.mode, m.mode)))]
                         for m in self.modes], dtype=np.int64)


def dipole_started_modes(system, model, n_starts=None, k=12, gtol=1e-8, max_iter=5000, overlap=0.99,
                         progress=False, terms=None, force_tol=1e-8, batch=256):
    """The paper's Appendix B on an inherent structure: κ_ij of every interacting pair (dense pseudo-inverse of the
    Hessian, Eqs. A2–A3), then pseudoharmonic modes from the dipole responses z^ij = M⁺ d̂^ij and the ``k``
    softest distinct ones (:func:`softest_modes`).

    Parameters
    ----------
    system : meso_kernels.system.System
        An inherent structure (max_i |F_i| < ``force_tol``, energy/length); rattlers are removed first.
    model : meso_kernels.models.registry.Model
    n_starts : int or None
        Start from the responses of the ``n_starts`` pairs of smallest κ_ij (the soft dipoles lead to the soft
        modes); None: from every interacting pair, as the paper does.
    k, gtol, max_iter, overlap, progress :
        As in :func:`softest_modes`.
    terms : meso_kernels.hessian.Terms or None
        Of ``system`` (built if None).
    force_tol : float
        Passed to :class:`~meso_kernels.dipole.DipoleStiffness`.
    batch : int
        Starting vectors solved at a time (bounds the memory: batch × N d floats).

    Returns
    -------
    DipoleStartedModes

    Cost: one dense factorisation of M ((N d)³/3 flops: N = 400 in 2D takes well under a second) and one
    minimisation per start (hundreds of sparse products M v each).
    """
    from .dipole import DipoleStiffness, dipole_matrix
    from .hessian import build_terms, hessian_matrix
    from .linsolve import DenseInverse

    if n_starts is not None and (isinstance(n_starts, bool) or int(n_starts) != n_starts or n_starts < 1):
        raise ValueError(f"n_starts must be a positive integer or None (every pair), got {n_starts!r}")
    if isinstance(batch, bool) or int(batch) != batch or batch < 1:
        raise ValueError(f"batch must be a positive integer, got {batch!r}")
    terms = build_terms(system, model) if terms is None else terms
    ds = DipoleStiffness(solver="dense", force_tol=force_tol).compute(system, model, terms=terms)
    t = terms.without(ds.rattlers) if ds.rattlers.any() else terms  # the order of ds.kappa
    M = hessian_matrix(t)
    inv = DenseInverse(M, t.d)
    order = np.argsort(ds.kappa)
    if n_starts is not None:
        order = order[:int(n_starts)]

    def starts():
        for b0 in range(0, order.size, int(batch)):
            sel = order[b0:b0 + int(batch)]
            yield from inv.solve(dipole_matrix(t, sel)).T.reshape(sel.size, t.n, t.d)

    class _Starts:  # a sized iterable, so that the progress bar knows its total
        def __len__(self):
            return int(order.size)

        def __iter__(self):
            return starts()

    modes = softest_modes(M, t.pairs[:, 0], t.pairs[:, 1], _Starts(), k=k, gtol=gtol, max_iter=max_iter,
                          overlap=overlap, progress=progress)
    start_pairs = t.index[t.pairs[order[[m.start for m in modes]]]].reshape(len(modes), 2)
    return DipoleStartedModes(ds, t, M, inv, modes, start_pairs, int(order.size))
