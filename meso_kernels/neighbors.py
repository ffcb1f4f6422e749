"""Cell list + Verlet neighbour list with a skin, for periodic orthorhombic boxes in 2D and 3D.

A pair (i, j) enters the list when r_ij < r_c(t_i, t_j) + skin (per species-pair cut-offs). The list is rebuilt
when any particle has moved more than skin/2 since the last build, which guarantees that no pair within its
cut-off is ever missing. The box must satisfy r_c,max + skin <= L/2 in every direction.

The list is stored as a padded array ``nlist (N, max_neighbors)`` with ``counts (N,)``; a *half* list holds each
pair once (in the row of either member), a *full* list twice (needed by three-body terms). With each entry it stores
the periodic image of the pair found at build time, ``image (N, max_neighbors) int8`` (code c = sum_k 3^k (n_k + 1),
n_k in {-1, 0, 1}): relative to the build's wrapped frame ``x' = x - offset`` (``offset = L floor(x_build / L)``),
the minimum-image vector is ``x'_j - x'_i + n L`` until the next build, so force loops need no per-pair rounding.
Kernels get the shift vectors from :func:`image_table`.

>>> import numpy as np
>>> from meso_kernels.neighbors import NeighborList
>>> rng = np.random.default_rng(0)
>>> x = rng.uniform(0, 10, (500, 3)); box = np.full(3, 10.0)
>>> nl = NeighborList(np.array([[2.0]]), box, skin=0.3)
>>> nl.update(x, np.zeros(500, np.int32))
True
>>> int(nl.counts.sum()) == nl.n_pairs
True
"""
import math

import numpy as np
from numba import njit, prange, uint64

#: integer type of the neighbour indices in ``NeighborList.nlist``
INDEX = np.int32


@njit(cache=True, inline="always")
def cell_coordinate(xk, lk, nk):
    """The cell, 0 .. nk - 1, of coordinate ``xk`` along a periodic box edge of length ``lk`` cut into ``nk`` cells
    (any image of the box: the coordinate is wrapped first). Shared by this module and :mod:`meso_kernels.cuda`."""
    s = xk / lk
    s -= math.floor(s)
    ck = int(s * nk)
    if ck >= nk:
        ck = nk - 1
    return ck


@njit(cache=True)
def _cell_sort(x, box, ncell):
    """Assign particles to cells; return (cell_start (ncells+1,), order (N,)) with particles of cell c at
    order[cell_start[c]:cell_start[c+1]]."""
    n, d = x.shape
    ntot = 1
    for k in range(d):
        ntot *= ncell[k]
    cell = np.empty(n, np.int64)
    for i in range(n):
        c = 0
        for k in range(d):
            c = c * ncell[k] + cell_coordinate(x[i, k], box[k], ncell[k])
        cell[i] = c
    start = np.zeros(ntot + 1, np.int64)
    for i in range(n):
        start[cell[i] + 1] += 1
    for c in range(ntot):
        start[c + 1] += start[c]
    fill = start[:-1].copy()
    order = np.empty(n, np.int64)
    for i in range(n):
        order[fill[cell[i]]] = i
        fill[cell[i]] += 1
    return start, order, cell


@njit(cache=True)
def _columns(d, half, nsub):
    """The stencil of cells of side >= reach / nsub as *columns* along the last axis: rows (o_0 .. o_{d-2}, zlo, zhi)
    of the offsets along the leading axes and the range of offsets along the last one. A full list takes every
    leading offset with zlo, zhi = -nsub, nsub ((2 nsub + 1)^d cells); a half list takes the leading offsets whose
    first non-zero component is positive with the same range, and the zero leading offset with 0 .. nsub (the own
    cell, from the particle after i on, and the cells after it): each pair is then found exactly once."""
    w = 2 * nsub + 1
    nl = w ** (d - 1)
    out = np.empty((nl, d + 1), np.int64)
    m = 0
    for s in range(nl):
        mm = s
        first = 0
        for k in range(d - 1):
            o = mm % w - nsub
            mm //= w
            out[m, k] = o
        for k in range(d - 1):
            if out[m, k] != 0:
                first = 1 if out[m, k] > 0 else -1
                break
        if half and first < 0:
            continue
        out[m, d - 1] = 0 if (half and first == 0) else -nsub
        out[m, d] = nsub
        m += 1
    return out[:m]


@njit(cache=True)
def _overflow(counts, maxn):
    """0 if every row fitted into ``maxn`` columns, else the longest row."""
    m = counts.max() if counts.size else 0
    return m if m > maxn else 0


@njit(cache=True)
def cell_table(ncell, half, nsub):
    """For every cell, the stencil of :func:`_columns` as *segments*: runs of consecutive cells along the last axis
    (cell index c = (c_0 ncell_1 + c_1) ncell_2 + c_2, the last axis fastest), so that the particles of a segment are
    one contiguous range of the cell-sorted order. A column that crosses the periodic boundary of the last axis is
    cut into two segments. ``seg (ncells, nseg, 3)`` holds per segment its first cell, one past its last cell (equal
    for an unused slot) and 32 * own + image code (own = 1 for the half list's segment that starts at the cell
    itself, read from the particle after i on). The periodic shift of a segment is the row of its image code in
    :func:`image_table`. int32 entries (12 bytes per segment): the table has ~26 segments for every cell, and
    small cells (side r_c/2) mean about one cell per particle."""
    d = ncell.size
    cols = _columns(d, half, nsub)
    nc = cols.shape[0]
    nseg = 2 * nc
    ntot = 1
    for k in range(d):
        ntot *= ncell[k]
    nz = ncell[d - 1]
    seg = np.zeros((ntot, nseg, 3), np.int32)
    cc = np.empty(d, np.int64)
    img = np.zeros(3, np.int64)
    for c in range(ntot):
        rem = c
        for k in range(d - 1, -1, -1):
            cc[k] = rem % ncell[k]
            rem //= ncell[k]
        ms = 0
        for m in range(nc):
            base = 0
            for k in range(d - 1):
                ck = cc[k] + cols[m, k]
                img[k] = 0
                if ck < 0:
                    ck += ncell[k]
                    img[k] = -1
                elif ck >= ncell[k]:
                    ck -= ncell[k]
                    img[k] = 1
                base = base * ncell[k] + ck
            base *= nz
            z0 = cc[d - 1] + cols[m, d - 1]
            z1 = cc[d - 1] + cols[m, d]
            for part in range(2):  # the run, cut where it crosses the boundary of the last axis
                if z0 < 0:
                    a, b, iz = (z0 + nz, nz - 1, -1) if part == 0 else (0, z1, 0)
                elif z1 >= nz:
                    a, b, iz = (z0, nz - 1, 0) if part == 0 else (0, z1 - nz, 1)
                else:
                    if part == 1:
                        break
                    a, b, iz = z0, z1, 0
                img[d - 1] = iz
                code = 0
                for k in range(d - 1, -1, -1):
                    code = 3 * code + img[k] + 1
                # only a half list's self column starts its last-axis range at 0, and its first run is the own cell
                own = 1 if (cols[m, d - 1] == 0 and part == 0) else 0
                seg[c, ms, 0] = base + a
                seg[c, ms, 1] = base + b + 1
                seg[c, ms, 2] = 32 * own + code
                ms += 1
    return seg


@njit(cache=True)
def _scan(xs, ts, order, cut, q0, q1, skip, x0, y0, z0, row, irow, code, cnt, last):
    """Append the candidates q0 .. q1 - 1 (cell-sorted order) within ``cut[type]`` of (x0, y0, z0), except
    ``skip``, to ``row`` (their particle index) and ``irow`` (the image ``code``) from slot ``cnt`` on; return the
    new count. Branch-free: the write is unconditional (to the last slot once the row is full), the count advances
    on a hit. Unsigned indices and counts (the caller's), so no negative-index wraparound code in the loop, and a
    call of its own per segment, so that the few values of the loop stay in registers (25 % faster builds)."""
    for q in range(q0, q1):
        tx = xs[q, 0] - x0
        ty = xs[q, 1] - y0
        tz = xs[q, 2] - z0
        r2 = tx * tx + ty * ty + tz * tz
        hit = (r2 < cut[uint64(ts[q])]) & (q != skip)
        slot = cnt if cnt < last else last
        row[slot] = order[q]
        irow[slot] = code
        cnt += uint64(hit)
    return cnt


@njit(cache=True, parallel=True)
def _build_cells(x, box, types, cutsq, ncell, seg, half, nlist, image, counts):
    """Cell-list build, parallel over cells. For each particle and each segment of its cell's stencil
    (:func:`cell_table`: runs of consecutive cells, one contiguous range of a cell-sorted, wrapped copy of the
    coordinates), all candidates are read with the segment's periodic shift (no per-pair minimum image). Half lists
    use a half stencil: each pair is found exactly once, in the row of either member. Rows are appended branch-free
    (the write is unconditional, the count advances on a hit)."""
    n, d = x.shape
    start, order, cell = _cell_sort(x, box, ncell)
    xs = np.zeros((n, 3))
    ts = np.empty(n, np.int64)
    for p in range(n):
        i = order[p]
        for k in range(d):
            xs[p, k] = x[i, k] - box[k] * math.floor(x[i, k] / box[k])
        ts[p] = types[i]
    tab = image_table(box)   # the periodic shift of each image code
    nseg = seg.shape[1]
    maxn = nlist.shape[1]
    last = uint64(maxn - 1)
    for c in prange(seg.shape[0]):
        for p in range(start[c], start[c + 1]):
            i = uint64(order[p])
            cut = cutsq[ts[p]]
            row = nlist[i]
            irow = image[i]
            cnt = uint64(0)
            for m in range(nseg):
                lo = seg[c, m, 0]
                hi = seg[c, m, 1]
                if lo == hi:
                    continue
                q0 = uint64(p + 1) if seg[c, m, 2] >= 32 else uint64(start[lo])
                code = seg[c, m, 2] & 31
                cnt = _scan(xs, ts, order, cut, q0, uint64(start[hi]), uint64(p), xs[p, 0] - tab[code, 0],
                            xs[p, 1] - tab[code, 1], xs[p, 2] - tab[code, 2], row, irow, np.int8(code), cnt, last)
            counts[i] = cnt
    return _overflow(counts, maxn)


@njit(cache=True, parallel=True)
def _build_brute(x, box, types, cutsq, half, nlist, image, counts):
    """All-pairs build with the minimum image, for boxes too small for a cell list."""
    n, d = x.shape
    maxn = nlist.shape[1]
    for i in prange(n):
        cnt = 0
        ti = types[i]
        j0 = i + 1 if half else 0
        for j in range(j0, n):
            if j == i:
                continue
            r2 = 0.0
            k = 0
            for a in range(d - 1, -1, -1):
                xi = x[i, a] - box[a] * math.floor(x[i, a] / box[a])
                xj = x[j, a] - box[a] * math.floor(x[j, a] / box[a])
                t = xj - xi
                na = -math.floor(t / box[a] + 0.5)
                t += na * box[a]
                r2 += t * t
                k = 3 * k + int(na) + 1
            if r2 < cutsq[ti, types[j]]:
                if cnt < maxn:
                    nlist[i, cnt] = j
                    image[i, cnt] = k
                cnt += 1
        counts[i] = cnt
    return _overflow(counts, maxn)


@njit(cache=True)
def build_into(x, box, types, cutsq, ncell, seg, half, nlist, image, counts):
    """Fill ``nlist``/``image``/``counts`` in place; return 0, or the needed row length when ``nlist`` is too
    narrow. ``seg``: the cell table of :func:`cell_table`; an empty one (``seg.shape[0] == 0``) selects
    the all-pairs search (boxes too small for a cell list). Image codes refer to the wrapped frame x - L floor(x / L)
    of these positions."""
    if seg.shape[0] > 0:
        return _build_cells(x, box, types, cutsq, ncell, seg, half, nlist, image, counts)
    return _build_brute(x, box, types, cutsq, half, nlist, image, counts)


@njit(cache=True)
def image_table(box, shear=0.0):
    """Shift vectors (27, 3) of the image codes, c = sum_k 3^k (n_k + 1): row c holds H(shear) (n_0 L_0, n_1 L_1,
    n_2 L_2) with the simple shear H(g) = I + g e_x (x) e_y, i.e. (n_0 L_0 + shear n_1 L_1, n_1 L_1, n_2 L_2) (zero
    z in 2D): the lattice vectors of a Lees–Edwards cell are L_x e_x, L_y (shear e_x + e_y), L_z e_z. With the
    default shear = 0 these are the plain box shifts."""
    d = box.size
    tab = np.zeros((27, 3))
    for c in range(3**d):
        k = c
        for a in range(d):
            tab[c, a] = (k % 3 - 1) * box[a]
            k //= 3
        if shear != 0.0:
            tab[c, 0] += shear * tab[c, 1]
    return tab


@njit(cache=True)
def to_build_frame(x, xref, offset, box):
    """Positions in the build frame of a list built at ``xref``: (xref - offset) + the minimum-image displacement
    x - xref. Whatever periodic images the caller's x uses, the result is continuous with the build."""
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        for k in range(x.shape[1]):
            t = x[i, k] - xref[i, k]
            t -= box[k] * math.floor(t / box[k] + 0.5)
            out[i, k] = xref[i, k] - offset[i, k] + t
    return out


@njit(cache=True)
def wrap_offset(x, box, offset):
    """offset = L floor(x / L): the whole box lengths that bring x into [0, L) (the build frame)."""
    for i in range(x.shape[0]):
        for k in range(x.shape[1]):
            offset[i, k] = box[k] * math.floor(x[i, k] / box[k])


@njit(cache=True)
def max_displacement2(x, xref, box):
    """Largest squared minimum-image displacement between two configurations."""
    n, d = x.shape
    m = 0.0
    for i in range(n):
        r2 = 0.0
        for k in range(d):
            t = x[i, k] - xref[i, k]
            t -= box[k] * math.floor(t / box[k] + 0.5)
            r2 += t * t
        if r2 > m:
            m = r2
    return m


#: cost of one stencil segment in a build, in units of one candidate pair (measured on Intel Xeon and AMD EPYC,
#: N = 400-8000, 2D and 3D: a segment costs about as much as 5-6 candidates)
SEGMENT_COST = 6.0


def build_cost(rho, side, nsub, half):
    """Estimated work of a cell-list build per particle, in candidate pairs: the particles in the stencil's cells
    (half of them for a half list) plus :data:`SEGMENT_COST` per segment, for number density ``rho`` and cells of
    sides ``side (d,)`` with the stencil of ``nsub`` (:func:`_columns`)."""
    d = len(side)
    w = 2 * nsub + 1
    cells = w**d
    columns = w ** (d - 1)
    if half:
        cells, columns = (cells + 1) / 2, (columns + 1) / 2
    return cells * rho * float(np.prod(side)) + SEGMENT_COST * columns


def check_list_geometry(rcut, box, skin, square=False):
    """Validate the parameters of a Verlet list with skin (box of 2 or 3 positive finite lengths, skin > 0, cut-offs
    > 0, r_c,max + skin <= L/2; ValueError saying which) and return ``(rcut, box, reach)``: ``rcut`` as a 2-D float
    array, ``box`` as a float array, ``reach = r_c,max + skin`` (float). ``square=True`` also requires ``rcut`` to be
    an (ntypes, ntypes) array (the device list's message). Shared by :class:`NeighborList` and
    :class:`meso_kernels.cuda.neighbors.DeviceNeighborList`."""
    rcut = np.atleast_2d(np.asarray(rcut, dtype=float))
    box = np.asarray(box, dtype=float)
    if box.ndim != 1 or box.size not in (2, 3):
        raise ValueError(f"box must have shape (2,) or (3,), got {box.shape}")
    if not np.all(np.isfinite(box)) or np.any(box <= 0):
        raise ValueError(f"box lengths must be positive and finite, got {box}")
    if not np.isfinite(skin) or skin <= 0:
        raise ValueError(f"skin must be a positive number, got {skin}")
    if square:
        if rcut.ndim != 2 or rcut.shape[0] != rcut.shape[1] or np.any(rcut <= 0):
            raise ValueError(f"rcut must be a positive (ntypes, ntypes) array, got {rcut}")
    elif np.any(rcut <= 0):
        raise ValueError("rcut must be positive")
    reach = float(rcut.max()) + skin
    if reach > 0.5 * box.min():
        raise ValueError(
            f"box too small for the cut-off: r_c + skin = {reach:.4g} exceeds half the smallest box length "
            f"{0.5 * box.min():.4g}; use more particles (larger box) or a smaller skin")
    return rcut, box, reach


class NeighborList:
    """Verlet list with skin built from a cell list, or by all-pairs search in boxes too small for one (see :meth:`_setup_cells`).

    Parameters
    ----------
    rcut : (ntypes, ntypes) array, cut-off per species pair (length units).
    box : (d,) array, periodic box side lengths.
    skin : float > 0, Verlet skin (length units); default 0.3.
    half : bool, store each pair once (in the row of either member) if True, twice otherwise.

    Attributes after :meth:`update`: ``nlist (N, max_neighbors) int32`` (:data:`INDEX`: half the memory and
    bandwidth of int64; N < 2^31), ``image`` (same shape, int8 image codes),
    ``counts (N,)``, ``offset (N, d)`` (the build frame: kernels use x - offset), ``n_builds``.
    """

    def __init__(self, rcut, box, skin=0.3, half=True):
        rcut, box, reach = check_list_geometry(rcut, box, skin)
        self.rcut = rcut
        self.box = box
        self.skin = float(skin)
        self.half = bool(half)
        self.cutsq = (rcut + skin) ** 2
        self.reach = reach
        self._cells_for = None
        self.nlist = np.zeros((0, 0), INDEX)
        self.image = np.zeros((0, 0), np.int8)
        self.counts = np.zeros(0, np.int64)
        self.offset = np.zeros((0, box.size))
        self.xref = None
        self.n_builds = 0

    def _setup_cells(self, n):
        """Choose the cell size for n particles and tabulate the stencil (:func:`cell_table`). Cells of side
        >= reach / nsub with nsub = 1 (a 3^d stencil) or 2 (5^d, a tighter fit around the sphere of the reach, so
        fewer candidates): the one with the lower :func:`build_cost` per particle, which counts the candidates
        and the stencil's segments. Boxes too small for 2 nsub + 1 cells per side use the all-pairs search."""
        box, reach = self.box, self.reach
        rho = n / np.prod(box)
        self.nsub, best = 0, np.inf
        for nsub in (1, 2):
            ncell = np.floor(nsub * box / reach).astype(np.int64)
            if np.all(ncell >= 2 * nsub + 1):
                cost = build_cost(rho, box / ncell, nsub, self.half)
                if cost < best:
                    self.nsub, best, chosen = nsub, cost, ncell
        if self.nsub:
            self.ncell = chosen
            self.cell_nbr = cell_table(chosen, self.half, self.nsub)
        else:
            self.ncell = np.ones(box.size, np.int64)
            self.cell_nbr = np.zeros((0, 0, 3), np.int32)
        self._cells_for = n

    @property
    def n_pairs(self):
        return int(self.counts.sum())

    def build(self, x, types):
        """Build the list now for positions ``x (N, d)`` and species ``types (N,)``."""
        x = np.ascontiguousarray(x, dtype=float)
        n = x.shape[0]
        types = np.ascontiguousarray(types, dtype=np.int64)
        if self._cells_for != n:
            self._setup_cells(n)
        if self.nlist.shape[0] != n or self.nlist.shape[1] == 0:
            # rough estimate: density x sphere volume of the reach, with margin
            d = x.shape[1]
            rho = n / np.prod(self.box)
            reach = self.rcut.max() + self.skin
            vol = np.pi * reach**2 if d == 2 else 4.0 / 3.0 * np.pi * reach**3
            est = int(1.5 * rho * vol * (0.5 if self.half else 1.0)) + 16
            self.resize(n, est)
        while True:
            over = build_into(x, self.box, types, self.cutsq, self.ncell, self.cell_nbr, self.half, self.nlist,
                              self.image, self.counts)
            if over == 0:
                break
            self.resize(n, int(over * 1.3) + 8)
        self.offset = np.empty_like(x)
        wrap_offset(x, self.box, self.offset)
        self.xref = x.copy()
        self.n_builds += 1

    def resize(self, n, width):
        """(Re)allocate the list arrays for n particles and rows of ``width`` entries."""
        if n >= 2**31:
            raise ValueError(f"at most 2^31 - 1 particles fit the int32 neighbour list, got n = {n}")
        self.nlist = np.zeros((n, width), INDEX)
        self.image = np.zeros((n, width), np.int8)
        self.counts = np.zeros(n, np.int64)

    def needs_update(self, x):
        """True when some particle moved more than skin/2 since the last build (or there is no list)."""
        if self.xref is None or self.xref.shape != x.shape:
            return True
        return max_displacement2(x, self.xref, self.box) > 0.25 * self.skin**2

    def frame(self, x):
        """``x`` expressed in the frame of the last build (what the force kernels take with ``image``)."""
        return to_build_frame(np.ascontiguousarray(x, dtype=float), self.xref, self.offset, self.box)

    def update(self, x, types):
        """Rebuild if needed; return True when the list was rebuilt."""
        if self.needs_update(x):
            self.build(x, types)
            return True
        return False

    # --- checkpoints -------------------------------------------------------------------------------------------
    def state(self):
        """The list as it stands, as a dict of arrays (copies): ``nlist``, ``image``, ``counts`` (the pairs in the
        order of their last build: the order of every force sum until the next build), ``offset``, ``xref`` (empty
        before the first build), ``n_builds``, and ``cutsq``/``half`` to check a restore against. :meth:`set_state`
        on a list made with the same rcut, box, skin and half restores it exactly, so that the forces summed over
        it are bit-identical to those of the list it was taken from (a rebuild would reorder the pairs)."""
        d = self.box.size
        return {"nlist": self.nlist.copy(), "image": self.image.copy(), "counts": self.counts.copy(),
                "offset": np.array(self.offset, dtype=float).reshape(-1, d),
                "xref": np.zeros((0, d)) if self.xref is None else self.xref.copy(),
                "n_builds": np.array(self.n_builds, dtype=np.int64), "cutsq": self.cutsq.copy(),
                "half": np.array(self.half)}

    def set_state(self, state):
        """Restore :meth:`state` (of a list with the same cut-offs, skin and box; ValueError otherwise)."""
        cutsq = np.asarray(state["cutsq"], dtype=float)
        if cutsq.shape != self.cutsq.shape or not np.array_equal(cutsq, self.cutsq) \
                or bool(state["half"]) != self.half:
            raise ValueError("the neighbour-list state was taken from a list with other cut-offs, skin or half/full "
                             "layout")
        nlist = np.ascontiguousarray(state["nlist"], dtype=INDEX).copy()   # also lists saved as int64
        image = np.ascontiguousarray(state["image"], dtype=np.int8).copy()
        counts = np.ascontiguousarray(state["counts"], dtype=np.int64).copy()
        xref = np.ascontiguousarray(state["xref"], dtype=float).copy()
        offset = np.ascontiguousarray(state["offset"], dtype=float).copy()
        n = counts.shape[0]
        if nlist.ndim != 2 or nlist.shape[0] != n or image.shape != nlist.shape \
                or (xref.shape[0] and xref.shape != (n, self.box.size)):
            raise ValueError(f"inconsistent neighbour-list state: nlist {nlist.shape}, image {image.shape}, "
                             f"counts {counts.shape}, xref {xref.shape}")
        self.nlist, self.image, self.counts, self.offset = nlist, image, counts, offset
        self.xref = xref if xref.shape[0] else None
        self.n_builds = int(state["n_builds"])
        if self.xref is not None:
            self._setup_cells(n)  # the cell tables are a function of n and the box: the same as the original's
        else:
            self._cells_for = None
