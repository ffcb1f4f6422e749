"""A full Verlet neighbour list with skin, built on the device from a cell list (periodic orthorhombic boxes, d = 2, 3).

The same rules as :class:`meso_kernels.neighbors.NeighborList`: a pair (i, j) is listed when
r_ij < r_c(t_i, t_j) + skin (minimum image), and the list is rebuilt when some particle has moved more than skin/2
(minimum image) since the last build; the box must hold r_c,max + skin <= L/2. Unlike the CPU list it is always a
*full* list (each pair in the rows of both members: what the one-thread-per-particle force kernels of
:mod:`meso_kernels.cuda.forces` read) and it stores no image codes: the kernels take the minimum image of every
listed pair, so positions may lie in any periodic image.

Build (no floating-point atomics; the list is the same whatever order the threads run in):

1. ``bin``: one thread per particle computes its cell (cells of side >= r_c,max + skin, ``ncell_k = floor(L_k /
   reach)`` per direction) and takes a slot in it with an integer ``atomic.add``;
2. ``sort``: one thread per cell sorts its members by index (so the slot order the atomics gave does not matter);
3. ``build``: one thread per particle scans the 3^d neighbouring cells (fewer where a direction has only 1 or 2
   cells: each distinct cell once) and appends, in cell order then index order, every particle within its cut-off.

Arrays are padded: ``nlist (N, max_neighbors) int32`` with ``counts (N,) int32``, ``cell_members (ncells,
max_per_cell) int32``; an overflow (read back after the kernel) enlarges the array and reruns the kernel.

The skin test is a device kernel: the largest squared minimum-image displacement since the last build
(``atomic.max``, exact and order-independent), one float copied back.

Example (runs only with a GPU or the simulator): a move by 0.05 sqrt(3) < skin/2 keeps the list.

>>> import numpy as np
>>> from meso_kernels import cuda as mcuda
>>> if mcuda.available():
...     from meso_kernels.cuda.neighbors import DeviceNeighborList
...     x = np.random.default_rng(0).uniform(0, 6, (40, 3))
...     nl = DeviceNeighborList(np.array([[1.2]]), np.full(3, 6.0), skin=0.3)
...     built = [nl.update(x, np.zeros(40, np.int32)), nl.update(x + 0.05, np.zeros(40, np.int32))]
... else:
...     built = [True, False]
>>> built
[True, False]
"""
import functools
import math

import numpy as np
from numba import cuda, njit, types

from ..neighbors import NeighborList, cell_coordinate, check_list_geometry
from . import F1, F2, I1, I2, TPB, KernelSpec, blocks, device_function, require


@njit(cache=True, inline="always")
def min_image(t, L):
    """The periodic image of a coordinate difference ``t`` nearest to zero in a box of side ``L``."""
    return t - L * math.floor(t / L + 0.5)


@functools.lru_cache(maxsize=None)
def particle_frame(dim):
    """The device function ``frame(x (N, d), box (d,), i) -> (x_i, y_i, z_i, L_x, L_y, L_z)`` in ``dim``
    dimensions: particle i's coordinates and the box lengths, the start of every kernel that loops over the list row
    of i (in 2D z_i = 0 and L_z = 1, never used)."""
    D = int(dim)

    @device_function
    def frame(x, box, i):
        xi = x[i, 0]
        yi = x[i, 1]
        zi = x[i, 2] if D == 3 else 0.0
        lx = box[0]
        ly = box[1]
        lz = box[2] if D == 3 else 1.0
        return xi, yi, zi, lx, ly, lz

    return frame


@functools.lru_cache(maxsize=None)
def pair_separation(dim):
    """The device function ``separation(x (N, d), j, fi) -> (dx, dy, dz, r2)`` in ``dim`` dimensions: the
    minimum-image vector r_ij = x_j - x_i from the frame ``fi`` of particle i (what :func:`particle_frame` returns)
    and its squared length (dz = 0 in 2D): the pair of a force or Hessian kernel's list loop."""
    D = int(dim)

    @device_function
    def separation(x, j, fi):
        xi, yi, zi, lx, ly, lz = fi
        dx = min_image(x[j, 0] - xi, lx)
        dy = min_image(x[j, 1] - yi, ly)
        dz = 0.0
        if D == 3:
            dz = min_image(x[j, 2] - zi, lz)
        return dx, dy, dz, dx * dx + dy * dy + dz * dz

    return separation


@functools.lru_cache(maxsize=None)
def bin_kernel(dim):
    """``bin(x (N, d), box (d,), ncell (3,), cell_of (N,), cell_count (ncells,), cell_members (ncells, mpc))``: the
    cell of each particle (row-major over (c_0, c_1, c_2), ``ncell[2] = 1`` in 2D) and a slot in it.
    ``cell_count`` must be zero on entry; slots beyond ``mpc`` are counted but not stored."""
    D = int(dim)

    def bin_particles(x, box, ncell, cell_of, cell_count, cell_members):
        i = cuda.grid(1)
        if i >= x.shape[0]:
            return
        c = 0
        for k in range(D):
            c = c * ncell[k] + cell_coordinate(x[i, k], box[k], ncell[k])
        cell_of[i] = c
        slot = cuda.atomic.add(cell_count, c, 1)
        if slot < cell_members.shape[1]:
            cell_members[c, slot] = i

    return KernelSpec(f"bin_{D}d", bin_particles, types.void(F2, F1, I1, I1, I1, I2))


@functools.lru_cache(maxsize=None)
def sort_kernel():
    """``sort(cell_count (ncells,), cell_members (ncells, mpc))``: insertion sort of each cell's members by index."""

    def sort_cells(cell_count, cell_members):
        c = cuda.grid(1)
        if c >= cell_count.shape[0]:
            return
        n = min(cell_count[c], cell_members.shape[1])
        for a in range(1, n):
            v = cell_members[c, a]
            b = a - 1
            while b >= 0 and cell_members[c, b] > v:
                cell_members[c, b + 1] = cell_members[c, b]
                b -= 1
            cell_members[c, b + 1] = v

    return KernelSpec("sort_cells", sort_cells, types.void(I1, I2))


@functools.lru_cache(maxsize=None)
def build_kernel(dim):
    """``build(x, types, box, ncell, cutsq (nt, nt), cell_of, cell_count, cell_members, nlist (N, maxn), counts)``:
    the full list row of each particle; ``counts[i]`` may exceed ``maxn`` (then only ``maxn`` entries are stored and
    the host enlarges ``nlist`` and builds again)."""
    D = int(dim)
    frame = particle_frame(D)

    def build_list(x, typ, box, ncell, cutsq, cell_of, cell_count, cell_members, nlist, counts):
        i = cuda.grid(1)
        if i >= x.shape[0]:
            return
        nx = ncell[0]
        ny = ncell[1]
        nz = ncell[2]
        c = cell_of[i]
        cz = c % nz
        cy = (c // nz) % ny
        cx = c // (nz * ny)
        # each distinct neighbouring cell once: offsets -1, 0, 1 with >= 3 cells, 0, 1 with 2, 0 with 1
        ox0 = -1 if nx >= 3 else 0
        oy0 = -1 if ny >= 3 else 0
        oz0 = -1 if nz >= 3 else 0
        ti = typ[i]
        xi, yi, zi, lx, ly, lz = frame(x, box, i)
        maxn = nlist.shape[1]
        mpc = cell_members.shape[1]
        cnt = 0
        for a in range(min(nx, 3)):
            c1 = (cx + ox0 + a + nx) % nx
            for b in range(min(ny, 3)):
                c2 = (cy + oy0 + b + ny) % ny
                for g in range(min(nz, 3)):
                    c3 = (cz + oz0 + g + nz) % nz
                    cc = (c1 * ny + c2) * nz + c3
                    for q in range(min(cell_count[cc], mpc)):
                        j = cell_members[cc, q]
                        if j != i:
                            dx = min_image(x[j, 0] - xi, lx)
                            dy = min_image(x[j, 1] - yi, ly)
                            r2 = dx * dx + dy * dy
                            if D == 3:
                                dz = min_image(x[j, 2] - zi, lz)
                                r2 += dz * dz
                            if r2 < cutsq[ti, typ[j]]:
                                if cnt < maxn:
                                    nlist[i, cnt] = j
                                cnt += 1
        counts[i] = cnt

    return KernelSpec(f"build_list_{D}d", build_list, types.void(F2, I1, F1, I1, F2, I1, I1, I2, I2, I1))


@functools.lru_cache(maxsize=None)
def max_displacement_kernel(dim):
    """``maxdisp(x (N, d), xref (N, d), box (d,), out (1,))``: ``out[0] = max(out[0], max_i |x_i - xref_i|^2)``
    (minimum image; ``out`` must be zeroed first)."""
    D = int(dim)

    def max_displacement2(x, xref, box, out):
        i = cuda.grid(1)
        if i >= x.shape[0]:
            return
        r2 = 0.0
        for k in range(D):
            t = min_image(x[i, k] - xref[i, k], box[k])
            r2 += t * t
        cuda.atomic.max(out, 0, r2)

    return KernelSpec(f"max_displacement2_{D}d", max_displacement2, types.void(F2, F2, F1, F1))


def kernels(dim):
    """Every kernel of this module for dimension ``dim`` (for the PTX compile test)."""
    return [bin_kernel(dim), sort_kernel(), build_kernel(dim), max_displacement_kernel(dim)]


def is_device_array(a):
    """True for a numba device array (or the simulator's stand-in for one)."""
    return bool(getattr(a, "__cuda_ndarray__", False)) or hasattr(a, "__cuda_array_interface__")


def as_device(a, dtype, name, shape=None):
    """``a`` as a C-contiguous device array of ``dtype``: a host array is converted and copied; a device array is
    checked (dtype, contiguity, shape) and used as it is."""
    if is_device_array(a):
        if not getattr(a, "__cuda_ndarray__", False):
            a = cuda.as_cuda_array(a)   # another library's device array (CUDA array interface): a numba view
        if np.dtype(a.dtype) != np.dtype(dtype) or not a.is_c_contiguous():
            raise TypeError(f"device array {name} must be C-contiguous {np.dtype(dtype)}, got {a.dtype}")
        if shape is not None and tuple(a.shape) != tuple(shape):
            raise ValueError(f"{name} must have shape {tuple(shape)}, got {tuple(a.shape)}")
        return a
    h = np.ascontiguousarray(a, dtype=dtype)
    if shape is not None and h.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {h.shape}")
    return cuda.to_device(h)


class DeviceNeighborList:
    """Full Verlet list with skin on the device, built from a cell list (see the module's description).

    Parameters
    ----------
    rcut : (ntypes, ntypes) array, cut-off per species pair (length units)
    box : (d,) array of box side lengths (d = 2 or 3)
    skin : Verlet skin (length units), default 0.3

    After :meth:`build`: ``nlist`` (device, (N, max_neighbors) int32) and ``counts`` (device, (N,) int32) hold row i
    = the neighbours of i within r_c + skin, in a fixed order (neighbouring cells, then index); ``xref`` (device)
    the positions of the build; ``n_builds``.
    """

    def __init__(self, rcut, box, skin=0.3):
        require()
        rcut, box, reach = check_list_geometry(rcut, box, skin, square=True)
        self.dim = box.size
        self.rcut = rcut
        self.box = box
        self.skin = float(skin)
        self.reach = reach
        ncell = np.ones(3, np.int32)
        ncell[:self.dim] = np.floor(box / reach).astype(np.int32)
        self.ncell = ncell
        self.n_cells = int(np.prod(ncell))
        self._d_box = cuda.to_device(box)
        self._d_ncell = cuda.to_device(ncell)
        self._d_cutsq = cuda.to_device(np.ascontiguousarray((rcut + skin) ** 2))
        self._d_disp = cuda.to_device(np.zeros(1))
        self._k_bin = bin_kernel(self.dim)
        self._k_sort = sort_kernel()
        self._k_build = build_kernel(self.dim)
        self._k_disp = max_displacement_kernel(self.dim)
        self.n = None
        self.max_per_cell = 0
        self.nlist = None
        self.counts = None
        self.xref = None
        self.n_builds = 0

    @property
    def max_neighbors(self):
        return 0 if self.nlist is None else self.nlist.shape[1]

    def _allocate(self, n):
        rho = n / float(np.prod(self.box))
        vol = math.pi * self.reach**2 if self.dim == 2 else 4.0 / 3.0 * math.pi * self.reach**3
        cell_vol = float(np.prod(self.box / self.ncell[:self.dim]))
        self.n = n
        self.max_per_cell = int(2.0 * rho * cell_vol) + 8
        self._d_cell_of = cuda.device_array(n, np.int32)
        self._d_cell_count = cuda.device_array(self.n_cells, np.int32)
        self._d_cell_members = cuda.device_array((self.n_cells, self.max_per_cell), np.int32)
        self.nlist = cuda.device_array((n, int(1.5 * rho * vol) + 16), np.int32)
        self.counts = cuda.device_array(n, np.int32)
        self.xref = cuda.device_array((n, self.dim), np.float64)

    def build(self, x, types):
        """Build the list now for positions ``x (N, d)`` and species ``types (N,)`` (host or device arrays)."""
        x = as_device(x, np.float64, "x")
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"positions must have shape (N, {self.dim}), got {tuple(x.shape)}")
        n = x.shape[0]
        types = as_device(types, np.int32, "types", (n,))
        if self.n != n:
            self._allocate(n)
        nb = blocks(n)
        zeros = np.zeros(self.n_cells, np.int32)
        while True:
            self._d_cell_count.copy_to_device(zeros)
            self._k_bin[nb, TPB](x, self._d_box, self._d_ncell, self._d_cell_of, self._d_cell_count,
                                       self._d_cell_members)
            fullest = int(self._d_cell_count.copy_to_host().max())
            if fullest <= self.max_per_cell:
                break
            self.max_per_cell = int(1.3 * fullest) + 4
            self._d_cell_members = cuda.device_array((self.n_cells, self.max_per_cell), np.int32)
        self._k_sort[blocks(self.n_cells), TPB](self._d_cell_count, self._d_cell_members)
        while True:
            self._k_build[nb, TPB](x, types, self._d_box, self._d_ncell, self._d_cutsq, self._d_cell_of,
                                         self._d_cell_count, self._d_cell_members, self.nlist, self.counts)
            longest = int(self.counts.copy_to_host().max())
            if longest <= self.max_neighbors:
                break
            self.nlist = cuda.device_array((n, int(1.3 * longest) + 8), np.int32)
        self.xref.copy_to_device(x)
        self.n_builds += 1

    def max_displacement2(self, x):
        """Largest squared minimum-image displacement |x_i - xref_i|^2 since the last build (length^2), computed
        on the device; ``inf`` before the first build."""
        if self.xref is None:
            return math.inf
        x = as_device(x, np.float64, "x", (self.n, self.dim))
        self._d_disp.copy_to_device(np.zeros(1))
        self._k_disp[blocks(self.n), TPB](x, self.xref, self._d_box, self._d_disp)
        return float(self._d_disp.copy_to_host()[0])

    def needs_update(self, x):
        """True when some particle moved more than skin/2 since the last build (or there is no list for this N)."""
        if self.xref is None or tuple(x.shape) != (self.n, self.dim):
            return True
        return self.max_displacement2(x) > 0.25 * self.skin**2

    # rebuild if needed (:meth:`needs_update`); True when the list was rebuilt: the CPU list's own method
    update = NeighborList.update

    def to_host(self):
        """``(nlist, counts)`` as host arrays (rows padded beyond ``counts``)."""
        return self.nlist.copy_to_host(), self.counts.copy_to_host()

    def pairs(self):
        """The listed pairs as a set of ordered tuples (i, j) (both orders, full list); for tests."""
        nlist, counts = self.to_host()
        return {(i, int(j)) for i in range(nlist.shape[0]) for j in nlist[i, :counts[i]]}
