"""Hessian M = d²U/dx dx of a configuration: sparse (BSR, d×d blocks) and matrix-free (MODELS.md sections 6-7).

Every model's energy is a sum of *terms*, each a function of one or two pair vectors r_a = x_{j_a} - x_{i_a}
(minimum image of the possibly sheared periodic cell):

- a pair term phi(|r_a|) (all models; SW's two-body part), one pair vector;
- a Stillinger–Weber three-body term h(r_a, r_b) centred on i with legs j and k, two pair vectors.

:func:`build_terms` evaluates, for every term, the gradient g_a = dU/dr_a and the second derivatives
H_ab = d²U/dr_a dr_b (d×d blocks; for a pair term H = phi'' n̂n̂ᵀ + (phi'/r)(I - n̂n̂ᵀ)). Everything else follows
from this one list by the chain rule dr_a/dx = (δ_{k j_a} - δ_{k i_a}) I:

- the particle Hessian (:func:`hessian_matrix`, :func:`hessian_vector_product`),
- forces and energy (a check of the terms against :class:`~meso_kernels.forces.ForceField`),
- the affine-shear derivatives of :mod:`meso_kernels.elasticity` (Born term, Ξ),
- the interacting pairs and force dipoles of :mod:`meso_kernels.dipole`.

Units: the model's reduced units; M in energy/length².

>>> import numpy as np
>>> from meso_kernels.models import get_model
>>> from meso_kernels.initial import random_configuration
>>> from meso_kernels.hessian import build_terms, hessian_matrix
>>> m = get_model("ipl", dim=2)
>>> s = random_configuration(m, 64, 0.86, seed=1)
>>> terms = build_terms(s, m)
>>> M = hessian_matrix(terms)
>>> M.shape, M.blocksize
((128, 128), (2, 2))
>>> bool(abs(M - M.T).max() <= 1e-14 * abs(M).max())     # symmetric to roundoff of its largest entry
True
>>> bool(np.abs(M @ np.tile([1.0, 0.0], 64)).max() < 1e-9)   # a uniform translation costs nothing
True
"""
from dataclasses import dataclass

import numpy as np
import scipy.sparse
from numba import njit, prange

from .forces import ForceField
from .models.dispatch import pair_eval
from .models.sw import triplet_hessian


@njit(cache=True, inline="always")
def _pvec(xf, tab, i, j, im, out):
    """Minimum-image pair vector x_j - x_i (+ the shift of image code im) into ``out``; returns r²."""
    r2 = 0.0
    for k in range(xf.shape[1]):
        t = xf[j, k] - xf[i, k] + tab[im, k]
        out[k] = t
        r2 += t * t
    return r2


@njit(cache=True, parallel=True)
def _count_terms(xf, tab, types, nlist, image, counts, rcsq, three_body):
    """Per particle: pair terms owned by its list row, in-cut-off neighbours (SW: three-body terms centred on it)."""
    n, d = xf.shape
    npair = np.zeros(n, np.int64)
    ntrip = np.zeros(n, np.int64)
    for i in prange(n):
        rv = np.empty(d)
        c = 0
        cp = 0
        for m in range(counts[i]):
            j = nlist[i, m]
            r2 = _pvec(xf, tab, i, j, image[i, m], rv)
            if r2 < rcsq[types[i], types[j]]:
                c += 1
                if (not three_body) or j > i:
                    cp += 1
        npair[i] = cp
        if three_body:
            ntrip[i] = c * (c - 1) // 2
    return npair, ntrip


@njit(cache=True, parallel=True)
def _fill_terms(xf, tab, types, nlist, image, counts, kind, params, rcsq, tb, pair_off, trip_off, n_pair,
                pv_i, pv_j, pv_r, pv_g, blk_a, blk_b, blk_h, energy):
    """Fill the term arrays. Pair terms take pair vectors [0, n_pair) and blocks [0, n_pair) (one each); the
    three-body term t takes pair vectors n_pair + 2t, n_pair + 2t + 1 and blocks n_pair + 3t .. + 2 ordered
    (a, a), (b, b), (a, b). ``energy[i]`` collects the energy of the terms owned by particle i."""
    n, d = xf.shape
    three_body = tb.size > 0
    maxn = nlist.shape[1]
    for i in prange(n):
        rv = np.empty(d)
        js = np.empty(maxn, np.int64)
        rs = np.empty((maxn, d))
        h6 = np.empty((6, 6))
        p = pair_off[i]
        nn = 0
        e = 0.0
        for m in range(counts[i]):
            j = nlist[i, m]
            r2 = _pvec(xf, tab, i, j, image[i, m], rv)
            if r2 < rcsq[types[i], types[j]]:
                js[nn] = j
                rs[nn, :] = rv
                nn += 1
                if (not three_body) or j > i:
                    u, s, u2 = pair_eval(kind, r2, params[types[i], types[j]])
                    e += u
                    pv_i[p] = i
                    pv_j[p] = j
                    c = (u2 + s) / r2
                    for a in range(d):
                        pv_r[p, a] = rv[a]
                        pv_g[p, a] = -s * rv[a]
                        for b in range(d):
                            blk_h[p, a, b] = c * rv[a] * rv[b]
                        blk_h[p, a, a] -= s
                    blk_a[p] = p
                    blk_b[p] = p
                    p += 1
        if three_body:
            t = trip_off[i]
            for a in range(nn - 1):
                for b in range(a + 1, nn):
                    res = triplet_hessian(rs[a, 0], rs[a, 1], rs[a, 2], rs[b, 0], rs[b, 1], rs[b, 2], tb, h6)
                    e += res[0]
                    pa = n_pair + 2 * t
                    pb = pa + 1
                    pv_i[pa] = i
                    pv_j[pa] = js[a]
                    pv_i[pb] = i
                    pv_j[pb] = js[b]
                    q = n_pair + 3 * t
                    for k in range(3):
                        pv_r[pa, k] = rs[a, k]
                        pv_r[pb, k] = rs[b, k]
                        pv_g[pa, k] = res[1 + k]
                        pv_g[pb, k] = res[4 + k]
                        for l in range(3):
                            blk_h[q, k, l] = h6[k, l]
                            blk_h[q + 1, k, l] = h6[3 + k, 3 + l]
                            blk_h[q + 2, k, l] = h6[k, 3 + l]
                    blk_a[q] = pa
                    blk_b[q] = pa
                    blk_a[q + 1] = pb
                    blk_b[q + 1] = pb
                    blk_a[q + 2] = pa
                    blk_b[q + 2] = pb
                    t += 1
        energy[i] = e


@dataclass
class Terms:
    """The energy of a configuration as a list of terms in pair vectors (see the module docstring).

    Attributes: ``n`` particles in ``d`` dimensions; pair vectors ``pv_i, pv_j (P,)`` (r = x_j - x_i),
    ``pv_r (P, d)``, gradients ``pv_g (P, d)`` = dU/dr (energy/length); blocks ``blk_a, blk_b (B,)`` (pair-vector
    indices) with ``blk_h (B, d, d)`` = d²U/dr_a dr_b (energy/length²; a block with a != b stands for itself and its
    transpose); ``n_pair``: the first n_pair pair vectors are the pair terms, one per interacting pair;
    ``energy`` (total, energy units); ``box`` (d,) and ``shear`` γ of the cell; ``index (n,)`` the particle
    numbers of the original configuration (differs from arange(n) after :meth:`without`)."""
    n: int
    d: int
    pv_i: np.ndarray
    pv_j: np.ndarray
    pv_r: np.ndarray
    pv_g: np.ndarray
    blk_a: np.ndarray
    blk_b: np.ndarray
    blk_h: np.ndarray
    n_pair: int
    energy: float
    box: np.ndarray
    shear: float
    index: np.ndarray

    @property
    def volume(self):
        return float(np.prod(self.box))

    @property
    def pairs(self):
        """(n_pair, 2) interacting pairs (i, j): pairs within the cut-off (for SW: the two-body cut-off 1.8 σ)."""
        return np.stack([self.pv_i[:self.n_pair], self.pv_j[:self.n_pair]], axis=1)

    def forces(self):
        """Forces (n, d) = -dU/dx from the term gradients."""
        return _forces(self.n, self.pv_i, self.pv_j, self.pv_g)

    def contacts(self):
        """Number of interacting pairs of each particle (n,)."""
        c = np.bincount(self.pv_i[:self.n_pair], minlength=self.n)
        return c + np.bincount(self.pv_j[:self.n_pair], minlength=self.n)

    def without(self, drop):
        """The terms of the configuration with the particles ``drop`` (bool mask (n,)) removed: every term that
        involves one of them is dropped (a three-body term as a whole), the rest re-indexed."""
        drop = np.asarray(drop, dtype=bool)
        if drop.shape != (self.n,):
            raise ValueError(f"drop must be a boolean mask of shape ({self.n},), got {drop.shape}")
        keep_pv = ~(drop[self.pv_i] | drop[self.pv_j])
        n3 = (self.pv_i.size - self.n_pair) // 2
        if n3:
            k3 = keep_pv[self.n_pair::2] & keep_pv[self.n_pair + 1::2]
            keep_pv[self.n_pair::2] = k3
            keep_pv[self.n_pair + 1::2] = k3
        new_pv = np.cumsum(keep_pv) - 1
        keep_blk = keep_pv[self.blk_a] & keep_pv[self.blk_b]
        new_idx = np.cumsum(~drop) - 1
        return Terms(int((~drop).sum()), self.d, new_idx[self.pv_i[keep_pv]], new_idx[self.pv_j[keep_pv]],
                     self.pv_r[keep_pv], self.pv_g[keep_pv], new_pv[self.blk_a[keep_blk]],
                     new_pv[self.blk_b[keep_blk]], self.blk_h[keep_blk], int(keep_pv[:self.n_pair].sum()),
                     float("nan"), self.box, self.shear, self.index[~drop])


@njit(cache=True)
def _forces(n, pv_i, pv_j, pv_g):
    d = pv_g.shape[1]
    f = np.zeros((n, d))
    for p in range(pv_i.size):
        for k in range(d):
            f[pv_j[p], k] -= pv_g[p, k]
            f[pv_i[p], k] += pv_g[p, k]
    return f


def build_terms(system, model, shear=0.0, skin=0.3, positions=None):
    """Evaluate all energy terms of ``system`` (a :class:`~meso_kernels.system.System`) under ``model``.

    ``shear``: simple-shear strain γ of the periodic cell (Lees–Edwards; positions are in the lab frame of the
    sheared cell, see :class:`~meso_kernels.forces.ForceField`). ``positions`` (N, d) replaces the system's
    positions (same box and species). Returns :class:`Terms`."""
    system.check_model(model)
    x = system.positions if positions is None else np.ascontiguousarray(positions, dtype=float)
    if x.shape != system.positions.shape:
        raise ValueError(f"positions must have shape {system.positions.shape}, got {x.shape}")
    types = np.ascontiguousarray(system.types, dtype=np.int64)
    ff = ForceField(model, system.box, skin=skin, shear=shear)
    ff.update(x, types)
    xf = ff.frame(x)
    nl = ff.nl
    tb = model.three_body_array
    rcsq = model.rcut ** 2
    npair, ntrip = _count_terms(xf, ff.tab, types, nl.nlist, nl.image, nl.counts, rcsq, tb.size > 0)
    pair_off = np.concatenate([[0], np.cumsum(npair)[:-1]]).astype(np.int64)
    trip_off = np.concatenate([[0], np.cumsum(ntrip)[:-1]]).astype(np.int64)
    n_pair = int(npair.sum())
    n_trip = int(ntrip.sum())
    n, d = x.shape
    P = n_pair + 2 * n_trip
    B = n_pair + 3 * n_trip
    pv_i = np.empty(P, np.int64)
    pv_j = np.empty(P, np.int64)
    pv_r = np.empty((P, d))
    pv_g = np.empty((P, d))
    blk_a = np.empty(B, np.int64)
    blk_b = np.empty(B, np.int64)
    blk_h = np.empty((B, d, d))
    energy = np.empty(n)
    _fill_terms(xf, ff.tab, types, nl.nlist, nl.image, nl.counts, model.kind, model.params, rcsq, tb,
                pair_off, trip_off, n_pair, pv_i, pv_j, pv_r, pv_g, blk_a, blk_b, blk_h, energy)
    return Terms(n, d, pv_i, pv_j, pv_r, pv_g, blk_a, blk_b, blk_h, n_pair, float(energy.sum()),
                 system.box.copy(), float(shear), np.arange(n))


@njit(cache=True)
def _assemble(n, d, pv_i, pv_j, blk_a, blk_b, blk_h):
    """BSR arrays (indptr, indices, data) of the particle Hessian from the term blocks (sorted, duplicates summed)."""
    nb = blk_a.size
    ne = 0
    for q in range(nb):
        ne += 4 if blk_a[q] == blk_b[q] else 8
    keys = np.empty(ne, np.int64)
    src = np.empty(ne, np.int64)     # block q, sign and transpose packed as 4 q + 2 transpose + negative
    e = 0
    for q in range(nb):
        a = blk_a[q]
        b = blk_b[q]
        for t in range(2 if a != b else 1):
            if t == 0:
                ra, rb = a, b
            else:
                ra, rb = b, a
            # d r_a / d x_k = (delta_{k j_a} - delta_{k i_a}) I
            for sa in range(2):
                pa = pv_j[ra] if sa == 0 else pv_i[ra]
                for sb in range(2):
                    pb = pv_j[rb] if sb == 0 else pv_i[rb]
                    keys[e] = pa * n + pb
                    src[e] = 4 * q + 2 * t + ((sa + sb) & 1)
                    e += 1
    order = np.argsort(keys, kind="mergesort")
    nuniq = 0
    last = -1
    for e in range(ne):
        k = keys[order[e]]
        if k != last:
            nuniq += 1
            last = k
    indptr = np.zeros(n + 1, np.int64)
    indices = np.empty(nuniq, np.int64)
    data = np.zeros((nuniq, d, d))
    u = -1
    last = -1
    for e in range(ne):
        o = order[e]
        k = keys[o]
        if k != last:
            u += 1
            last = k
            indices[u] = k % n
            indptr[k // n + 1] += 1
        s = src[o]
        q = s // 4
        tr = (s // 2) & 1
        sg = -1.0 if (s & 1) else 1.0
        for x in range(d):
            for y in range(d):
                data[u, x, y] += sg * (blk_h[q, y, x] if tr else blk_h[q, x, y])
    for r in range(n):
        indptr[r + 1] += indptr[r]
    return indptr, indices, data


def hessian_matrix(terms):
    """The particle Hessian as a ``scipy.sparse.bsr_matrix`` of shape (n d, n d) with (d, d) blocks, row/column
    index = particle * d + component (energy/length²)."""
    n, d = terms.n, terms.d
    indptr, indices, data = _assemble(n, d, terms.pv_i, terms.pv_j, terms.blk_a, terms.blk_b, terms.blk_h)
    return scipy.sparse.bsr_matrix((data, indices, indptr), shape=(n * d, n * d))


@njit(cache=True)
def _hvp(pv_i, pv_j, blk_a, blk_b, blk_h, v, out):
    d = v.shape[1]
    da = np.empty(d)
    db = np.empty(d)
    out[:] = 0.0
    for q in range(blk_a.size):
        a = blk_a[q]
        b = blk_b[q]
        for k in range(d):
            da[k] = v[pv_j[a], k] - v[pv_i[a], k]
            db[k] = v[pv_j[b], k] - v[pv_i[b], k]
        for k in range(d):
            t = 0.0
            for l in range(d):
                t += blk_h[q, k, l] * db[l]
            out[pv_j[a], k] += t
            out[pv_i[a], k] -= t
        if a != b:
            for k in range(d):
                t = 0.0
                for l in range(d):
                    t += blk_h[q, l, k] * da[l]
                out[pv_j[b], k] += t
                out[pv_i[b], k] -= t


def hessian_vector_product(terms, v):
    """M·v computed from the term blocks without assembling M; ``v`` of shape (n, d) or (n d,), result alike."""
    v = np.asarray(v, dtype=float)
    flat = v.ndim == 1
    v2 = np.ascontiguousarray(v.reshape(terms.n, terms.d))
    out = np.empty_like(v2)
    _hvp(terms.pv_i, terms.pv_j, terms.blk_a, terms.blk_b, terms.blk_h, v2, out)
    return out.ravel() if flat else out


@njit(cache=True, parallel=True)
def bsr_matmat(indptr, indices, data, X, Y):
    """Y = M X for a BSR matrix (indptr, indices, data (nb, d, d)) and a block of columns X (n d, k) (parallel over
    block rows; the column loop is innermost and contiguous)."""
    nrow = indptr.size - 1
    d = data.shape[1]
    k = X.shape[1]
    for r in prange(nrow):
        for a in range(d):
            for c in range(k):
                Y[r * d + a, c] = 0.0
        for p in range(indptr[r], indptr[r + 1]):
            col = indices[p]
            for a in range(d):
                for b in range(d):
                    h = data[p, a, b]
                    for c in range(k):
                        Y[r * d + a, c] += h * X[col * d + b, c]


def find_rattlers(terms):
    """Particles with fewer than d + 1 interacting pairs, removed iteratively (a removed particle's pairs no longer
    count for its neighbours). Returns a boolean mask (n,). Rattlers add zero modes to M besides the translations."""
    return _rattlers(terms.n, terms.d, terms.pv_i[:terms.n_pair], terms.pv_j[:terms.n_pair])


@njit(cache=True)
def _rattlers(n, d, pi, pj):
    c = np.zeros(n, np.int64)
    for p in range(pi.size):
        c[pi[p]] += 1
        c[pj[p]] += 1
    rat = np.zeros(n, np.bool_)
    changed = True
    while changed:
        changed = False
        for i in range(n):
            if not rat[i] and c[i] < d + 1:
                rat[i] = True
                changed = True
                for p in range(pi.size):
                    if pi[p] == i and not rat[pj[p]]:
                        c[pj[p]] -= 1
                    elif pj[p] == i and not rat[pi[p]]:
                        c[pi[p]] -= 1
    return rat


def check_inherent_structure(terms, force_tol):
    """Raise ValueError unless max_i |F_i| <= ``force_tol`` (force units): Hessian-based quantities (G, κ) are
    only meaningful at a minimum of the energy. Returns max_i |F_i|."""
    if not (np.isfinite(force_tol) and force_tol > 0):
        raise ValueError(f"force_tol must be a positive number, got {force_tol!r}")
    f = terms.forces()
    fmax = float(np.sqrt((f * f).sum(1)).max()) if terms.n else 0.0
    if not fmax <= force_tol:
        raise ValueError(
            f"not an inherent structure: max |F_i| = {fmax:.3g} exceeds force_tol = {force_tol:.3g}; quench the "
            f"configuration first (meso_kernels.quench.quench(system, model, method='cg', ftol=1e-10)) or raise "
            f"force_tol")
    return fmax


def solvable_terms(terms, force_tol):
    """The checks every Hessian solve starts with: refuse a non-minimum (:func:`check_inherent_structure`), find the
    rattlers and drop them. Returns ``(terms without rattlers, rattler mask (n,), max_i |F_i|)``."""
    fmax = check_inherent_structure(terms, force_tol)
    rat = find_rattlers(terms)
    return (terms.without(rat) if rat.any() else terms), rat, fmax
