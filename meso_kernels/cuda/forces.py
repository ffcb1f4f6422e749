"""Energy, forces and virial on the device: kernel factories over a full neighbour list, one thread per particle,
and :class:`DeviceForceField`, the device twin of :class:`meso_kernels.forces.ForceField`.

Conventions (as on the CPU; the model's reduced units): r_ij = x_j - x_i (minimum image); for a pair term
s = -phi'(r)/r, the force on j is s r_ij and on i -s r_ij; the virial is W = sum_pairs r_ij . f_ij (plus the
three-body analogue), so that P = (N T + W/d) / V. Orthorhombic boxes only (shear = 0; the Lees–Edwards cell of the
CPU ``ForceField(shear=...)`` is not implemented here yet).

The potentials are not written here. :func:`pair_kernel` calls :func:`meso_kernels.models.dispatch.pair_eval`
(``kind`` a compile-time constant, so the dispatch folds away) and :func:`sw_triplet_kernel` calls
:func:`meso_kernels.models.sw.triplet`, the same ``@njit`` functions the CPU drivers of :mod:`meso_kernels.forces`
inline. numba-cuda compiles an ``@njit`` function called from a kernel for the device; the simulator calls the CPU
build. Each thread first copies the parameter table into a per-thread local array and passes rows of that to the
scalar functions (on the GPU a few registers/local memory; in the simulator a NumPy array, which the CPU-compiled
function accepts where it would reject the simulator's wrapped device arrays).

Scheme (deterministic: no atomics, every sum in a fixed order, independent of thread scheduling):

- pair kernel, thread i: F_i = -sum_j s_ij r_ij, e_i = 1/2 sum_j u_ij, w_i = 1/2 sum_j s_ij r_ij^2 over the full
  list row of i within r_c(t_i, t_j) (each pair is evaluated twice, once per member);
- SW three-body kernel, thread i (added to the pair kernel's output): as the centre, h(r_ij, r_ik) for j < k in its
  row (energy and virial -r_ij.dh/dr_ij - r_ik.dh/dr_ik assigned to i, force +dh/dr_ij + dh/dr_ik), and as an end,
  for each neighbour c and each other neighbour k of c, the force -dh/dr_ci of the triplet (c; i, k) (gathered,
  where the CPU scatters it);
- reduction: one block sums e and w in a fixed tree order.

Example (runs only with a GPU or the simulator; without one the comparison is skipped):

>>> import numpy as np
>>> from meso_kernels import cuda as mcuda
>>> from meso_kernels.forces import ForceField
>>> from meso_kernels.models import get_model
>>> m = get_model("ipl")
>>> x = np.array([[0.0, 0.0, 0.0], [1.1, 0.0, 0.0], [0.0, 1.2, 0.1]]); t = np.array([0, 1, 1]); box = np.full(3, 6.0)
>>> U, F, W = ForceField(m, box).compute(x, t)
>>> if mcuda.available():
...     from meso_kernels.cuda.forces import DeviceForceField
...     Ud, Fd, Wd = DeviceForceField(m, box).compute(x, t)
... else:
...     Ud, Fd, Wd = U, F, W
>>> bool(np.isclose(Ud, U, rtol=1e-12) and np.allclose(Fd, F, rtol=1e-12) and np.isclose(Wd, W, rtol=1e-12))
True
"""
import functools
import math

import numpy as np
from numba import cuda, float64, types

from ..models.dispatch import SW, pair_eval
from ..models.sw import triplet
from . import F1, F2, F3, I1, I2, TPB, KernelSpec, blocks, device_function, require
from .neighbors import DeviceNeighborList, as_device, is_device_array, min_image, pair_separation, particle_frame


#: threads of the one-block reduction (a power of 2)
RB = 64


@device_function
def load_table(table, local):
    """``local[...] = table[...]`` for a 3-D table: a thread's copy of the parameter table (``local`` a
    ``cuda.local.array`` of the table's shape; see the module's description)."""
    for a in range(local.shape[0]):
        for b in range(local.shape[1]):
            for k in range(local.shape[2]):
                local[a, b, k] = table[a, b, k]


@functools.lru_cache(maxsize=None)
def pair_kernel(kind, dim, n_types, n_params):
    """The pair kernel of potential ``kind`` (:mod:`meso_kernels.models.dispatch`) in ``dim`` dimensions for a
    parameter table of shape ``(n_types, n_types, n_params)``:

    ``pair(x (N, d), types (N,), nlist (N, m), counts (N,), box (d,), params (nt, nt, np), rcsq (nt, nt),
    f (N, d), e (N,), w (N,))`` writes, for each particle i (one thread), its force f[i] (energy/length), half its
    pair energies e[i] and half its pair virials w[i] (energy) over the full list row of i (pairs beyond
    r_c(t_i, t_j), listed because of the skin, are skipped)."""
    KIND, D, NT, NP = int(kind), int(dim), int(n_types), int(n_params)
    frame, separation = particle_frame(D), pair_separation(D)

    def pair_forces(x, typ, nlist, counts, box, params, rcsq, f, e, w):
        i = cuda.grid(1)
        if i >= x.shape[0]:
            return
        p = cuda.local.array((NT, NT, NP), float64)
        load_table(params, p)
        ti = typ[i]
        fi = frame(x, box, i)
        fx = 0.0
        fy = 0.0
        fz = 0.0
        ei = 0.0
        wi = 0.0
        for m in range(counts[i]):
            j = nlist[i, m]
            tj = typ[j]
            dx, dy, dz, r2 = separation(x, j, fi)
            if r2 < rcsq[ti, tj]:
                u, s, u2 = pair_eval(KIND, r2, p[ti, tj])
                ei += u
                wi += s * r2
                fx -= s * dx
                fy -= s * dy
                fz -= s * dz
        f[i, 0] = fx
        f[i, 1] = fy
        if D == 3:
            f[i, 2] = fz
        e[i] = 0.5 * ei
        w[i] = 0.5 * wi

    return KernelSpec(f"pair_kind{KIND}_{D}d_{NT}x{NT}x{NP}", pair_forces,
                      types.void(F2, I1, I2, I1, F1, F3, F2, F2, F1, F1))


@functools.lru_cache(maxsize=None)
def sw_triplet_kernel():
    """The Stillinger–Weber three-body kernel (3D, one species), *added* to the pair kernel's output:

    ``sw3(x (N, 3), nlist, counts, box (3,), rcsq, tb (4,), f (N, 3), e (N,), w (N,))`` with ``rcsq`` = a^2 (the
    SW cut-off squared) and ``tb`` = :func:`meso_kernels.models.sw.triplet_params`. Triplets with both legs shorter
    than a (as :func:`meso_kernels.forces.sw_forces`)."""

    def sw_triplets(x, nlist, counts, box, rcsq, tb, f, e, w):
        i = cuda.grid(1)
        if i >= x.shape[0]:
            return
        t = cuda.local.array(4, float64)
        for k in range(4):
            t[k] = tb[k]
        lx = box[0]
        ly = box[1]
        lz = box[2]
        xi = x[i, 0]
        yi = x[i, 1]
        zi = x[i, 2]
        ni = counts[i]
        fx = 0.0
        fy = 0.0
        fz = 0.0
        ei = 0.0
        wi = 0.0
        # i as the centre: every pair j < k (row order) of neighbours within a
        for m1 in range(ni):
            j = nlist[i, m1]
            ax = min_image(x[j, 0] - xi, lx)
            ay = min_image(x[j, 1] - yi, ly)
            az = min_image(x[j, 2] - zi, lz)
            if ax * ax + ay * ay + az * az < rcsq:
                for m2 in range(m1 + 1, ni):
                    k = nlist[i, m2]
                    bx = min_image(x[k, 0] - xi, lx)
                    by = min_image(x[k, 1] - yi, ly)
                    bz = min_image(x[k, 2] - zi, lz)
                    if bx * bx + by * by + bz * bz < rcsq:
                        h, g1x, g1y, g1z, g2x, g2y, g2z = triplet(ax, ay, az, bx, by, bz, t)
                        ei += h
                        fx += g1x + g2x
                        fy += g1y + g2y
                        fz += g1z + g2z
                        wi -= ax * g1x + ay * g1y + az * g1z + bx * g2x + by * g2y + bz * g2z
        # i as an end of the triplet (c; i, k) centred on its neighbour c: force -dh/dr_ci
        for m1 in range(ni):
            c = nlist[i, m1]
            xc = x[c, 0]
            yc = x[c, 1]
            zc = x[c, 2]
            ax = min_image(xi - xc, lx)
            ay = min_image(yi - yc, ly)
            az = min_image(zi - zc, lz)
            if ax * ax + ay * ay + az * az < rcsq:
                for m2 in range(counts[c]):
                    k = nlist[c, m2]
                    if k != i:
                        bx = min_image(x[k, 0] - xc, lx)
                        by = min_image(x[k, 1] - yc, ly)
                        bz = min_image(x[k, 2] - zc, lz)
                        if bx * bx + by * by + bz * bz < rcsq:
                            h, g1x, g1y, g1z, g2x, g2y, g2z = triplet(ax, ay, az, bx, by, bz, t)
                            fx -= g1x
                            fy -= g1y
                            fz -= g1z
        f[i, 0] += fx
        f[i, 1] += fy
        f[i, 2] += fz
        e[i] += ei
        w[i] += wi

    return KernelSpec("sw_triplets", sw_triplets, types.void(F2, I2, I1, F1, float64, F1, F2, F1, F1))


@functools.lru_cache(maxsize=None)
def sum_kernel():
    """``sums(e (N,), w (N,), out (2,))``: out = (sum e, sum w), one block of :data:`RB` threads (thread t sums
    elements t, t + RB, ... in order, then a fixed binary tree): the same result on every run."""

    def sums(e, w, out):
        t = cuda.threadIdx.x
        se = cuda.shared.array(RB, float64)
        sw_ = cuda.shared.array(RB, float64)
        a = 0.0
        b = 0.0
        for i in range(t, e.shape[0], RB):
            a += e[i]
            b += w[i]
        se[t] = a
        sw_[t] = b
        cuda.syncthreads()
        h = RB // 2
        while h > 0:
            if t < h:
                se[t] += se[t + h]
                sw_[t] += sw_[t + h]
            cuda.syncthreads()
            h //= 2
        if t == 0:
            out[0] = se[0]
            out[1] = sw_[0]

    return KernelSpec("sums", sums, types.void(F1, F1, F1))


def check_three_body(model):
    """Whether ``model`` has a three-body term; the device kernels have the one-species 3D Stillinger–Weber term
    only (``ValueError`` for another)."""
    if model.three_body is None:
        return False
    if model.dim != 3 or model.n_types != 1 or model.kind != SW:
        raise ValueError("the three-body kernel is the one-species 3D Stillinger–Weber term")
    return True


def kernels_for(model):
    """The force kernels :class:`DeviceForceField` launches for ``model`` (for the PTX compile test)."""
    out = [pair_kernel(model.kind, model.dim, model.n_types, model.params.shape[2]), sum_kernel()]
    if model.three_body is not None:
        out.append(sw_triplet_kernel())
    return out


class DeviceForceField:
    """Energy, forces and virial of one model in one periodic orthorhombic box on the device, with its own
    :class:`~meso_kernels.cuda.neighbors.DeviceNeighborList`; the device twin of
    :class:`meso_kernels.forces.ForceField` (same parameters, less ``shear``: 0 only, for now).

    Parameters
    ----------
    model : :class:`meso_kernels.models.Model`
    box : (d,) array of box lengths L_k (length units; must match ``model.dim``)
    skin : Verlet skin (length units), default 0.3

    :meth:`compute` returns ``(U, F, W)`` as host values: potential energy (energy units), forces (N, d)
    (energy/length) and the virial W = sum r_ij . f_ij (energy); :meth:`compute_device` leaves them on the device.
    Raises ``RuntimeError`` at construction without a GPU (or the simulator).
    """

    def __init__(self, model, box, skin=0.3):
        require()
        box = np.asarray(box, dtype=float)
        if box.shape != (model.dim,):
            raise ValueError(f"box must have shape ({model.dim},) for model {model.name!r} (d = {model.dim}), "
                             f"got {box.shape}")
        self.model = model
        self.box = box
        self.dim = model.dim
        self.three_body = check_three_body(model)
        self.nl = DeviceNeighborList(model.rcut, box, skin=skin)
        self.rcsq = np.ascontiguousarray(model.rcut**2)
        self._k_pair = pair_kernel(model.kind, model.dim, model.n_types, model.params.shape[2])
        self._k_sum = sum_kernel()
        self._d_box = cuda.to_device(box)
        self._d_params = cuda.to_device(np.ascontiguousarray(model.params, dtype=np.float64))
        self._d_rcsq = cuda.to_device(self.rcsq)
        self._d_sums = cuda.device_array(2, np.float64)
        if self.three_body:
            self._k_sw3 = sw_triplet_kernel()
            self._d_tb = cuda.to_device(np.ascontiguousarray(model.three_body_array, dtype=np.float64))
        self._n = None
        self.n_evals = 0

    def _buffers(self, n):
        if self._n != n:
            self.forces = cuda.device_array((n, self.dim), np.float64)
            self.energies = cuda.device_array(n, np.float64)
            self.virials = cuda.device_array(n, np.float64)
            self._n = n

    def _check(self, x, types):
        x = as_device(x, np.float64, "x")
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"positions must have shape (N, {self.dim}), got {tuple(x.shape)}")
        if not is_device_array(types):
            t = np.ascontiguousarray(types)
            if t.shape != (x.shape[0],):
                raise ValueError(f"types must have shape ({x.shape[0]},), got {t.shape}")
            if t.size and (t.min() < 0 or t.max() >= self.model.n_types):
                raise ValueError(f"types must lie in 0..{self.model.n_types - 1} for model {self.model.name!r}")
        types = as_device(types, np.int32, "types", (x.shape[0],))
        return x, types

    def compute_device(self, x, types):
        """Evaluate at positions ``x (N, d)`` with species ``types (N,)`` (host or device arrays: float64, int32)
        and leave the results on the device: returns ``(sums, forces)`` with ``sums = (U, W)`` (device (2,)) and
        ``forces`` (device (N, d)); per-particle halves of the energies and virials are in :attr:`energies`,
        :attr:`virials`. Rebuilds the list when the skin criterion asks for it."""
        x, types = self._check(x, types)
        n = x.shape[0]
        self._buffers(n)
        self.nl.update(x, types)
        nb = blocks(n)
        self._k_pair[nb, TPB](x, types, self.nl.nlist, self.nl.counts, self._d_box, self._d_params, self._d_rcsq,
                              self.forces, self.energies, self.virials)
        if self.three_body:
            self._k_sw3[nb, TPB](x, self.nl.nlist, self.nl.counts, self._d_box, float(self.rcsq[0, 0]),
                                 self._d_tb, self.forces, self.energies, self.virials)
        self._k_sum[1, RB](self.energies, self.virials, self._d_sums)
        self.n_evals += 1
        return self._d_sums, self.forces

    def compute(self, x, types):
        """``(U, F, W)`` at positions ``x (N, d)`` with species ``types (N,)`` as host values (see the class).
        Raises ``FloatingPointError`` when the energy is not finite (overlapping particles)."""
        sums, forces = self.compute_device(x, types)
        U, W = (float(v) for v in sums.copy_to_host())
        if not math.isfinite(U):
            raise FloatingPointError("non-finite potential energy: overlapping particles? "
                                     "(check the configuration's minimum pair distance)")
        return U, forces.copy_to_host(), W

    def energy(self, x, types):
        return self.compute(x, types)[0]
