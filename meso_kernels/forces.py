"""Energy, forces and virial of a configuration: drivers over a neighbour list, generic in the pair potential
(selected by ``model.kind``, see :mod:`meso_kernels.models.dispatch`) plus the Stillinger–Weber three-body term.

Conventions (units: the model's reduced units): r_ij = x_j - x_i (minimum image, taken from the neighbour list's
image codes: the drivers receive positions in the list's build frame, see :mod:`meso_kernels.neighbors`, and the
table ``tab`` (27, 3) of the image codes' shift vectors, :func:`~meso_kernels.neighbors.image_table`); for a pair term
s = -phi'(r)/r, the force on j is s r_ij and on i is -s r_ij. The virial is W = sum_pairs r_ij . f_ij (plus the
three-body analogue), so that the pressure is P = (N T + W/d) / V.

Simple shear (Lees–Edwards): ``ForceField(model, box, shear=gamma)`` works in the periodic cell sheared by
H(gamma) = I + gamma e_x (x) e_y (lattice vectors L_x e_x, L_y (gamma e_x + e_y), L_z e_z), positions in the lab
frame; see :class:`ForceField` and :func:`affine_shear`.

Work is split over numba threads in contiguous particle chunks, each with its own force buffer, reduced at the
end: results are bitwise deterministic for a given number of threads. With another number of threads the force on
a particle is summed in another order (per chunk, then over chunks), so U, F and W differ in the last bits, and an MD
trajectory, being chaotic, then drifts away from the other one (statistically the same liquid, not the same path).

Energy flag: :func:`pair_forces` and :func:`compute_any` take ``energy``; with ``energy=False`` the pair loop
skips U and W (returned as NaN) and is compiled without them, about 20 % faster. The molecular dynamics uses it on
every step but the last of each block (:mod:`meso_kernels.integrate`). The forces are the same bits either way.

Pair-loop cut-off mode (:data:`PAIR_LOOP`): the half list holds the pairs within r_c + skin, so a fraction of the
listed pairs (about 29 % for Kob–Andersen, r_c = 2.5 sigma, skin 0.3) lies beyond r_c. ``"mask"`` (default)
evaluates every listed pair and zeroes u and s beyond r_c (branch-free); ``"branch"`` skips those pairs before
evaluating the potential (as LAMMPS does). Which is faster depends on the host (benchmarks/README.md;
``benchmarks/md_throughput.py --pair-loop mask,branch``). Both give bitwise the same U, F and W: the pairs beyond r_c
contribute exact zeros in the mask mode (u = 0, and s = 0 so that s r^2 and s dx are +-0, also fused into an fma),
which leave every sum unchanged, and the pairs within r_c run through the same instructions in both modes
(tests/test_forces.py checks it, and an MD trajectory, bitwise). The mode is read at import from the environment
variable ``MESO_PAIR_LOOP`` (``mask`` or ``branch``; anything else raises ``ValueError``) and can be changed at run
time by assigning :data:`PAIR_LOOP` (``meso_kernels.forces.PAIR_LOOP = "branch"``); :class:`ForceField` and the
integrators of :mod:`meso_kernels.integrate` read it at every call, as they read the numba thread count. The
compiled drivers take it as the integer argument ``branch`` (:func:`pair_loop_flag`).

>>> import numpy as np
>>> from meso_kernels.models import get_model
>>> from meso_kernels.forces import ForceField
>>> m = get_model("ipl")
>>> x = np.array([[0.0, 0.0, 0.0], [1.1, 0.0, 0.0]]); box = np.full(3, 6.0)
>>> ff = ForceField(m, box)
>>> e, f, w = ff.compute(x, np.array([0, 0]))
>>> bool(np.allclose(f[0], -f[1]))
True
"""
import math
import os

import numba
import numpy as np
from numba import njit, prange, uint64

from .models.dispatch import pair_eval
from .models.sw import leg, triplet_from_legs
from .neighbors import NeighborList, image_table

#: Environment variable and values of the pair-loop cut-off mode (module docstring).
PAIR_LOOP_ENV = "MESO_PAIR_LOOP"
PAIR_LOOP_MODES = ("mask", "branch")


def _check_pair_loop(mode, source):
    if mode not in PAIR_LOOP_MODES:
        raise ValueError(f"{source} must be one of {', '.join(repr(m) for m in PAIR_LOOP_MODES)} "
                         f"(pair-loop cut-off mode), got {mode!r}")
    return mode


#: Pair-loop cut-off mode: ``"mask"`` (evaluate every listed pair, zero those beyond r_c) or ``"branch"`` (skip
#: them); from ``$MESO_PAIR_LOOP`` (default ``"mask"``), assignable at run time.
PAIR_LOOP = _check_pair_loop(os.environ.get(PAIR_LOOP_ENV, "").strip().lower() or "mask",
                             f"the environment variable {PAIR_LOOP_ENV}")


def pair_loop_flag():
    """The ``branch`` argument of the compiled drivers for the current :data:`PAIR_LOOP` (0: mask, 1: branch);
    ``ValueError`` if it was set to anything else."""
    return PAIR_LOOP_MODES.index(_check_pair_loop(PAIR_LOOP, f"meso_kernels.forces.PAIR_LOOP (or ${PAIR_LOOP_ENV})"))


#: LLVM fast-math flags of the hot loops: fused multiply-add contraction only (no reassociation, so sums keep
#: their order and results stay deterministic and IEEE-accurate to rounding).
FAST = {"contract"}


@njit(cache=True, inline="always")
def _chunk(c, nchunks, n):
    return (c * n) // nchunks, ((c + 1) * n) // nchunks


@njit(cache=True)
def _buffers(nchunks, n, d):
    """Per-chunk force buffers (nchunks, n, d), energies and virials, zeroed."""
    return np.zeros((nchunks, n, d)), np.zeros(nchunks), np.zeros(nchunks)


@njit(cache=True)
def _reduce(fb, eb, wb):
    """Sum the per-chunk force buffers, energies and virials in a fixed order (deterministic)."""
    F = fb[0].copy()
    for c in range(1, fb.shape[0]):
        F += fb[c]
    return eb.sum(), F, wb.sum()


@njit(cache=True, inline="always")
def _pair_rows(x, tab, types, nlist, image, counts, kind, params, rcsq, f, i0, i1, branch, energy, d3):
    """Pair terms of the half-list rows i0..i1 added into ``f``; returns (U, W) of those rows, or (0, 0) when
    ``energy`` is False (then neither is accumulated). Inlined by :func:`_pair_chunk` with ``energy`` and ``d3``
    (d = 3) as constants, so that LLVM drops the dead branches from the loop. Indices are read as unsigned
    integers: no negative-index wraparound code in the loop (the list holds valid indices only)."""
    e = 0.0
    w = 0.0
    for i in range(i0, i1):
        ti = uint64(types[i])
        xi = x[i, 0]
        yi = x[i, 1]
        zi = x[i, 2] if d3 else 0.0
        fx = 0.0
        fy = 0.0
        fz = 0.0
        for m in range(counts[i]):
            j = uint64(nlist[i, m])
            tj = uint64(types[j])
            im = uint64(image[i, m])
            dx = x[j, 0] - xi + tab[im, 0]
            dy = x[j, 1] - yi + tab[im, 1]
            dz = 0.0
            if d3:
                dz = x[j, 2] - zi + tab[im, 2]
            r2 = dx * dx + dy * dy + dz * dz
            inside = r2 < rcsq[ti, tj]
            # branch mode: pairs beyond r_c are skipped (as LAMMPS does); ``branch`` is loop-invariant
            if branch != 0 and not inside:
                continue
            # mask mode: every listed pair is evaluated (the potentials are finite up to r_c + skin) and
            # masked, which avoids a mispredicted branch on a third of the pairs; the masked pairs add exact
            # zeros, so both modes give the same bits (in the branch mode the masks are no-ops)
            u, s, u2 = pair_eval(kind, r2, params[ti, tj])
            s = s if inside else 0.0
            if energy:
                u = u if inside else 0.0
                e += u
                w += s * r2
            f[j, 0] += s * dx
            f[j, 1] += s * dy
            fx -= s * dx
            fy -= s * dy
            if d3:
                f[j, 2] += s * dz
                fz -= s * dz
        f[i, 0] += fx
        f[i, 1] += fy
        if d3:
            f[i, 2] += fz
    return e, w


@njit(cache=True, fastmath=FAST, error_model="numpy")
def _pair_chunk(x, tab, types, nlist, image, counts, kind, params, rcsq, f, i0, i1, branch, energy):
    """:func:`_pair_rows` compiled four times, for d = 2 and 3, with and without energy and virial. The numpy
    error model: a zero distance gives inf (caught by the callers' finiteness checks), not a ZeroDivisionError
    test in the loop."""
    if x.shape[1] == 3:
        if energy:
            return _pair_rows(x, tab, types, nlist, image, counts, kind, params, rcsq, f, i0, i1, branch, True, True)
        return _pair_rows(x, tab, types, nlist, image, counts, kind, params, rcsq, f, i0, i1, branch, False, True)
    if energy:
        return _pair_rows(x, tab, types, nlist, image, counts, kind, params, rcsq, f, i0, i1, branch, True, False)
    return _pair_rows(x, tab, types, nlist, image, counts, kind, params, rcsq, f, i0, i1, branch, False, False)


@njit(cache=True, parallel=True)
def pair_forces(x, tab, types, nlist, image, counts, kind, params, rcsq, nchunks, branch, energy=True):
    """Pair energy U, forces F (N, d) and virial W over a *half* neighbour list (d = 2 or 3; the z component is
    skipped in 2D). ``x`` is in the list's build frame; ``image`` holds the periodic image code of each entry and
    ``tab`` (27, 3) the shift vector of each code (:func:`~meso_kernels.neighbors.image_table`). ``branch``: the
    cut-off mode (0: evaluate every listed pair and mask those beyond r_c; 1: skip them; bitwise the same result,
    module docstring). ``energy=False``: forces only (U and W are returned as NaN), about 20 % faster; the forces
    are bitwise the same either way."""
    n, d = x.shape
    fb, eb, wb = _buffers(nchunks, n, d)
    for c in prange(nchunks):
        i0, i1 = _chunk(c, nchunks, n)
        eb[c], wb[c] = _pair_chunk(x, tab, types, nlist, image, counts, kind, params, rcsq, fb[c], i0, i1, branch,
                                   energy)
    e, F, w = _reduce(fb, eb, wb)
    if not energy:
        return np.nan, F, np.nan
    return e, F, w


@njit(cache=True, parallel=True, fastmath=FAST)
def sw_forces(x, tab, nlist, image, counts, params, rc, tb, nchunks):
    """Stillinger–Weber energy, forces and virial (3D, one species) over a *full* neighbour list: pair terms
    once per pair (j > i), three-body terms for every centre i and neighbour pair j < k within r_c."""
    n, d = x.shape
    fb, eb, wb = _buffers(nchunks, n, d)
    p = params[0, 0]
    rcsq = rc * rc
    maxn = nlist.shape[1]
    for c in prange(nchunks):
        i0, i1 = _chunk(c, nchunks, n)
        f = fb[c]
        e = 0.0
        w = 0.0
        js = np.empty(maxn, np.int64)
        rv = np.empty((maxn, 3))
        lg = np.empty((maxn, 3))  # each leg's 1/r, 1/(r - a), exp(gam/(r - a)): once per neighbour, not per triplet
        for i in range(i0, i1):
            nn = 0
            for m in range(counts[i]):
                j = nlist[i, m]
                im = image[i, m]
                r2 = 0.0
                for k in range(3):
                    t = x[j, k] - x[i, k] + tab[im, k]
                    rv[nn, k] = t
                    r2 += t * t
                if r2 < rcsq:
                    js[nn] = j
                    lg[nn, 0], lg[nn, 1], lg[nn, 2] = leg(rv[nn, 0], rv[nn, 1], rv[nn, 2], tb)
                    if j > i:
                        u, s, u2 = pair_eval(3, r2, p)
                        e += u
                        w += s * r2
                        for k in range(3):
                            fk = s * rv[nn, k]
                            f[j, k] += fk
                            f[i, k] -= fk
                    nn += 1
            for a in range(nn - 1):
                ja = js[a]
                for b in range(a + 1, nn):
                    jb = js[b]
                    h, g1x, g1y, g1z, g2x, g2y, g2z = triplet_from_legs(
                        rv[a, 0], rv[a, 1], rv[a, 2], lg[a, 0], lg[a, 1], lg[a, 2],
                        rv[b, 0], rv[b, 1], rv[b, 2], lg[b, 0], lg[b, 1], lg[b, 2], tb)
                    e += h
                    f[ja, 0] -= g1x
                    f[ja, 1] -= g1y
                    f[ja, 2] -= g1z
                    f[jb, 0] -= g2x
                    f[jb, 1] -= g2y
                    f[jb, 2] -= g2z
                    f[i, 0] += g1x + g2x
                    f[i, 1] += g1y + g2y
                    f[i, 2] += g1z + g2z
                    w -= (rv[a, 0] * g1x + rv[a, 1] * g1y + rv[a, 2] * g1z
                          + rv[b, 0] * g2x + rv[b, 1] * g2y + rv[b, 2] * g2z)
        eb[c] = e
        wb[c] = w
    return _reduce(fb, eb, wb)


@njit(cache=True)
def compute_any(x, tab, types, nlist, image, counts, kind, params, rcsq, tb, nchunks, branch, energy=True):
    """(U, F, W) of a pair model (half list) or, when ``tb`` is non-empty, of the SW model (full list);
    ``x`` in the list's build frame, ``tab`` the (27, 3) shift vectors of the image codes; ``branch`` the pair-loop
    cut-off mode of :func:`pair_forces` (:func:`pair_loop_flag`; the SW driver always branches). ``energy=False``
    lets the pair driver skip U and W (returned as NaN; the SW driver computes them anyway)."""
    if tb.size > 0:
        return sw_forces(x, tab, nlist, image, counts, params, math.sqrt(rcsq[0, 0]), tb, nchunks)
    return pair_forces(x, tab, types, nlist, image, counts, kind, params, rcsq, nchunks, branch, energy)


@njit(cache=True)
def pair_laplacian(x, tab, types, nlist, image, counts, kind, params, rcsq):
    """Laplacian of the pair energy over all coordinates, sum_pairs 2 [phi'' + (d - 1) phi'/r] (half list);
    used for the configurational temperature T_conf = <|F|^2> / <lap U>."""
    n, d = x.shape
    lap = 0.0
    for i in range(n):
        ti = types[i]
        for m in range(counts[i]):
            j = nlist[i, m]
            r2 = 0.0
            for k in range(d):
                t = x[j, k] - x[i, k] + tab[image[i, m], k]
                r2 += t * t
            if r2 < rcsq[ti, types[j]]:
                u, s, u2 = pair_eval(kind, r2, params[ti, types[j]])
                lap += 2.0 * (u2 - (d - 1) * s)
    return lap


def affine_shear(x, gamma):
    """The simple shear H(gamma) = I + gamma e_x (x) e_y applied to positions ``x (N, d)`` (d = 2 or 3): returns a new
    array x + gamma y e_x. ``affine_shear(x, -gamma)`` is the inverse map (H(gamma)^-1 = H(-gamma))."""
    out = np.array(x, dtype=float)
    if out.ndim != 2 or out.shape[1] not in (2, 3):
        raise ValueError(f"positions must have shape (N, 2) or (N, 3), got {out.shape}")
    out[:, 0] += gamma * out[:, 1]
    return out


def wrap_sheared(x, box, shear):
    """Wrap lab positions ``x (N, d)`` into the rectangle [0, L)^d by translations of the Lees–Edwards lattice of
    strain ``shear`` (L_x e_x, L_y (shear e_x + e_y), L_z e_z): first y (crossing the y boundary n times shifts x
    by -n shear L_y), then x and z. The rectangle is a fundamental domain of that lattice, so the result is the
    same configuration, storable in a :class:`~meso_kernels.system.System`. Returns a new array."""
    out = np.array(x, dtype=float)
    box = np.asarray(box, dtype=float)
    if out.ndim != 2 or out.shape[1] not in (2, 3) or box.shape != (out.shape[1],):
        raise ValueError(f"positions (N, d) and box (d,) with d = 2 or 3 expected, got {out.shape} and {box.shape}")

    def wrap(v, L):
        n = np.floor(v / L)
        v = v - n * L
        neg = v < 0.0            # v - n L can round to a hair below 0 ...
        n[neg] -= 1
        v[neg] += L
        high = v >= L            # ... or to L
        n[high] += 1
        v[high] -= L
        return v, n

    out[:, 1], ny = wrap(out[:, 1], box[1])
    out[:, 0] -= ny * (shear * box[1])
    out[:, 0], _ = wrap(out[:, 0], box[0])
    if out.shape[1] == 3:
        out[:, 2], _ = wrap(out[:, 2], box[2])
    return out


#: Largest |shear| a :class:`ForceField` accepts: beyond it the list's enlarged cut-off r_c (1 + |shear|) costs
#: too much, and a larger strain should be remapped (shear - 1 L_x / L_y is the same lattice) rather than used.
MAX_SHEAR = 0.1


def _check_shear(shear):
    try:
        g = float(shear)
    except (TypeError, ValueError):
        raise ValueError(f"shear must be a finite number in [-{MAX_SHEAR}, {MAX_SHEAR}], got {shear!r}") from None
    if not (math.isfinite(g) and abs(g) <= MAX_SHEAR):
        raise ValueError(f"shear must be a finite number in [-{MAX_SHEAR}, {MAX_SHEAR}], got {shear!r}")
    return g


class ForceField:
    """Energy, forces and virial of one model in one periodic box, with its own Verlet list.

    Parameters
    ----------
    model : :class:`meso_kernels.models.Model`
    box : (d,) array of box lengths L_k (length units; must match ``model.dim``)
    skin : Verlet skin (length units), default 0.3
    shear : simple-shear strain gamma of a Lees–Edwards cell, |gamma| <= 0.1 (dimensionless), default 0

    :meth:`compute` returns ``(U, F, W)``: potential energy (energy units), forces (N, d) (energy/length) and the
    virial W = sum r_ij . f_ij (energy).

    Lees–Edwards (sheared periodic) cell: with ``shear = gamma`` the periodic lattice is spanned by L_x e_x,
    L_y (gamma e_x + e_y) (and L_z e_z in 3D), the image of the orthorhombic box under the simple shear
    H(gamma) = I + gamma e_x (x) e_y, x -> x + gamma y. Positions are given in the lab frame and may lie in any
    periodic image of *this* lattice (crossing the y boundary shifts x by gamma L_y; :func:`wrap_sheared` brings
    them into [0, L)^d, a fundamental domain of the lattice; do not wrap y alone, e.g. with ``x % box``). Internally the Verlet list is
    built on the reference coordinates s = H^-1 x (s_x = x - gamma y) in the orthorhombic box, with the list
    cut-off enlarged to r_c (1 + |gamma|) so that every pair within r_c in the lab is listed (|s| <= (1 + |gamma|)
    |x|); the kernels see lab-frame positions x_frame = H s_frame and the sheared image shifts :attr:`tab`. The
    box must hold r_c,max (1 + |gamma|) + skin <= L/2. With shear = 0 this is the ordinary orthorhombic box.

    For compiled drivers over the same list (e.g. a Hessian)::

        ff.update(x, types); xf = ff.frame(x); tab = ff.tab; nl = ff.nl
        # then use xf, tab, nl.nlist, nl.image, nl.counts (as compute_any does)
    """

    def __init__(self, model, box, skin=0.3, shear=0.0):
        box = np.asarray(box, dtype=float)
        if box.shape != (model.dim,):
            raise ValueError(f"box must have shape ({model.dim},) for model {model.name!r} (d = {model.dim}), "
                             f"got {box.shape}")
        g = _check_shear(shear)
        self.model = model
        self.box = box
        self._shear = g
        self.three_body = model.three_body is not None
        rcut_list = model.rcut * (1.0 + abs(g))
        if g != 0.0 and np.isfinite(skin) and np.all(np.isfinite(box)):
            reach = float(rcut_list.max()) + skin
            if reach > 0.5 * box.min():
                raise ValueError(
                    f"box too small for the cut-off at shear={g}: r_c (1 + |shear|) + skin = {reach:.4g} exceeds "
                    f"half the smallest box length {0.5 * box.min():.4g}; use a larger box or a smaller skin")
        self.nl = NeighborList(rcut_list if g != 0.0 else model.rcut, box, skin=skin, half=not self.three_body)
        self.rcsq = model.rcut**2
        self._tab = image_table(box, g)
        self.n_evals = 0

    @property
    def shear(self):
        """The simple-shear strain gamma of the Lees–Edwards cell (fixed at construction)."""
        return self._shear

    @property
    def tab(self):
        """Shift vectors (27, 3) of the list's image codes in the (sheared) lab frame: H(gamma) (n_k L_k)."""
        return self._tab

    def _check(self, x, types):
        x = np.ascontiguousarray(x, dtype=float)
        types = np.ascontiguousarray(types, dtype=np.int64)
        if x.ndim != 2 or x.shape[1] != self.model.dim:
            raise ValueError(f"positions must have shape (N, {self.model.dim}), got {x.shape}")
        if types.shape != (x.shape[0],):
            raise ValueError(f"types must have shape ({x.shape[0]},), got {types.shape}")
        if types.size and (types.min() < 0 or types.max() >= self.model.n_types):
            raise ValueError(f"types must lie in 0..{self.model.n_types - 1} for model {self.model.name!r}")
        return x, types

    def _reference(self, x):
        """Reference coordinates s = H^-1 x of lab positions (x itself, contiguous float, when unsheared)."""
        if self._shear == 0.0:
            return np.ascontiguousarray(x, dtype=float)
        s = np.array(x, dtype=float)
        s[:, 0] -= self._shear * s[:, 1]
        return s

    def update(self, x, types):
        """Check the Verlet list against lab positions ``x (N, d)`` (species ``types (N,)``) and rebuild it when
        needed; return True when it was rebuilt."""
        return self.nl.update(self._reference(x), types)

    def frame(self, x):
        """Lab positions ``x`` re-expressed in the list's build frame, continuous with the list: the positions the
        kernels take together with ``nl.nlist``, ``nl.image``, ``nl.counts`` and :attr:`tab`. Call after
        :meth:`update`."""
        if self._shear == 0.0:
            return self.nl.frame(x)
        xf = self.nl.frame(self._reference(x))
        xf[:, 0] += self._shear * xf[:, 1]
        return xf

    def compute(self, x, types, check=True):
        """``(U, F, W)`` at lab positions ``x (N, d)`` with species ``types (N,)``. Raises ``FloatingPointError``
        when the energy is not finite (overlapping particles)."""
        if check:
            x, types = self._check(x, types)
        self.update(x, types)
        e, f, w = compute_any(self.frame(x), self._tab, types, self.nl.nlist, self.nl.image, self.nl.counts,
                              self.model.kind, self.model.params, self.rcsq, self.model.three_body_array,
                              numba.get_num_threads(), pair_loop_flag())
        self.n_evals += 1
        if check and not math.isfinite(e):
            raise FloatingPointError("non-finite potential energy: overlapping particles? "
                                     "(check the configuration's minimum pair distance)")
        return e, f, w

    def energy(self, x, types):
        return self.compute(x, types)[0]

    def laplacian(self, x, types):
        """Laplacian of U (pair models only) for the configurational temperature."""
        if self.three_body:
            raise NotImplementedError("the Laplacian of the three-body SW term is not implemented")
        x, types = self._check(x, types)
        self.update(x, types)
        return pair_laplacian(self.frame(x), self._tab, types, self.nl.nlist, self.nl.image, self.nl.counts,
                              self.model.kind, self.model.params, self.rcsq)
