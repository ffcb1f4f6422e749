"""The Hessian–vector product M·V on the device for the pair models (MODELS.md sections 6-7), matrix-free over the
device's full neighbour list, one thread per particle, no atomics; and the block-Jacobi preconditioner.

For a pair term phi(|r|) with r = x_j - x_i, s = -phi'/r and u2 = phi'' (:func:`meso_kernels.models.dispatch.pair_eval`,
the same ``@njit`` function the CPU calls), the d×d block is H = c r rᵀ - s I with c = (u2 + s)/r², exactly as
:func:`meso_kernels.hessian._fill_terms` writes it, and

    (M v)_i = -Σ_j H_ij (v_j - v_i)                     (sum over the interacting neighbours j of i)

which is what :func:`meso_kernels.hessian.hessian_vector_product` scatters pair by pair (out_j += H(v_j - v_i),
out_i -= H(v_j - v_i)); here thread i gathers its own row, so no two threads write the same element.

Scheme (why matrix-free over the list, not an assembled BSR matrix): :class:`DeviceHessian` evaluates ``pair_eval``
once per listed pair (both members' rows: the full list) and stores, per list slot, the pair vector r (d floats) and
(c, s) (2 floats): d + 2 floats per slot instead of the d² of a stored block, and no separate diagonal (the gather
form above needs none). The product then reads these per slot for every column of V; the d×d diagonal blocks
Σ_j H_ij are summed in the same pass and inverted (cofactors) for the preconditioner.

Rattlers (and any particle the caller excludes) are handled as on the CPU, where they are removed from the term list
(:meth:`meso_kernels.hessian.Terms.without`): a ``keep`` mask zeroes every slot whose pair touches an excluded
particle, and the excluded particles' rows and preconditioner blocks. M then acts on the kept particles exactly as
the CPU's compact Hessian does, and is zero on the excluded ones.

Scope: pair potentials in orthorhombic boxes (shear = 0), d = 2, 3. Stillinger–Weber's three-body Hessian couples
neighbours of a common centre that need not be in each other's list; it is CPU-only for now
(:class:`DeviceHessian` raises ``NotImplementedError`` for it).

Units: M in energy/length².

Example (runs only with a GPU or the simulator; otherwise the comparison is skipped):

>>> import numpy as np
>>> from meso_kernels import cuda as mcuda
>>> from meso_kernels.hessian import build_terms, hessian_vector_product
>>> from meso_kernels.initial import random_configuration
>>> from meso_kernels.models import get_model
>>> m = get_model("ipl", dim=2)
>>> s = random_configuration(m, 32, 0.86, seed=1)
>>> v = np.random.default_rng(0).normal(size=(32, 2))
>>> want = hessian_vector_product(build_terms(s, m), v)
>>> if mcuda.available():
...     from meso_kernels.cuda.hessian import DeviceHessian
...     got = DeviceHessian(s, m).matvec(v)
... else:
...     got = want
>>> bool(np.linalg.norm(got - want) <= 1e-12 * np.linalg.norm(want))
True
"""
import functools

import numpy as np
from numba import cuda, float64, types

from ..models.dispatch import pair_eval
from . import F1, F2, F3, I1, I2, TPB, KernelSpec, blocks, require
from .forces import load_table
from .neighbors import DeviceNeighborList, as_device, is_device_array, pair_separation, particle_frame


@functools.lru_cache(maxsize=None)
def hessian_pairs_kernel(kind, dim, n_types, n_params):
    """The per-slot Hessian data of potential ``kind`` in ``dim`` dimensions, parameter table (n_types, n_types,
    n_params):

    ``hpairs(x (N, d), types (N,), nlist (N, m), counts (N,), box (d,), params, rcsq (nt, nt), keep (N,),
    rv (N, m, d), cs (N, m, 2), pinv (N, d, d))`` writes, for each particle i (one thread) and each slot of its
    list row, the pair vector r = x_j - x_i (minimum image) and (c, s) = ((u2 + s)/r², s), zero when the pair is
    beyond r_c or i or j is not kept (``keep`` 1.0/0.0); and the inverse of the diagonal block Σ_j (c r rᵀ - s I)
    (zero for an excluded particle or a singular block)."""
    KIND, D, NT, NP = int(kind), int(dim), int(n_types), int(n_params)
    frame, separation = particle_frame(D), pair_separation(D)

    def hessian_pairs(x, typ, nlist, counts, box, params, rcsq, keep, rv, cs, pinv):
        i = cuda.grid(1)
        if i >= x.shape[0]:
            return
        p = cuda.local.array((NT, NT, NP), float64)
        load_table(params, p)
        h = cuda.local.array((3, 3), float64)
        for a in range(3):
            for b in range(3):
                h[a, b] = 0.0
        ti = typ[i]
        ki = keep[i] > 0.0
        fi = frame(x, box, i)
        for m in range(counts[i]):
            j = nlist[i, m]
            tj = typ[j]
            dx, dy, dz, r2 = separation(x, j, fi)
            rv[i, m, 0] = dx
            rv[i, m, 1] = dy
            if D == 3:
                rv[i, m, 2] = dz
            c = 0.0
            s = 0.0
            if ki and keep[j] > 0.0 and r2 < rcsq[ti, tj]:
                u, s, u2 = pair_eval(KIND, r2, p[ti, tj])
                c = (u2 + s) / r2
                h[0, 0] += c * dx * dx - s
                h[0, 1] += c * dx * dy
                h[1, 1] += c * dy * dy - s
                if D == 3:
                    h[0, 2] += c * dx * dz
                    h[1, 2] += c * dy * dz
                    h[2, 2] += c * dz * dz - s
            cs[i, m, 0] = c
            cs[i, m, 1] = s
        # inverse of the symmetric diagonal block by cofactors
        if D == 2:
            det = h[0, 0] * h[1, 1] - h[0, 1] * h[0, 1]
            w = 1.0 / det if (ki and det != 0.0) else 0.0
            pinv[i, 0, 0] = w * h[1, 1]
            pinv[i, 1, 1] = w * h[0, 0]
            pinv[i, 0, 1] = -w * h[0, 1]
            pinv[i, 1, 0] = -w * h[0, 1]
        else:
            a00 = h[1, 1] * h[2, 2] - h[1, 2] * h[1, 2]
            a01 = h[0, 2] * h[1, 2] - h[0, 1] * h[2, 2]
            a02 = h[0, 1] * h[1, 2] - h[0, 2] * h[1, 1]
            a11 = h[0, 0] * h[2, 2] - h[0, 2] * h[0, 2]
            a12 = h[0, 1] * h[0, 2] - h[0, 0] * h[1, 2]
            a22 = h[0, 0] * h[1, 1] - h[0, 1] * h[0, 1]
            det = h[0, 0] * a00 + h[0, 1] * a01 + h[0, 2] * a02
            w = 1.0 / det if (ki and det != 0.0) else 0.0
            pinv[i, 0, 0] = w * a00
            pinv[i, 0, 1] = w * a01
            pinv[i, 0, 2] = w * a02
            pinv[i, 1, 0] = w * a01
            pinv[i, 1, 1] = w * a11
            pinv[i, 1, 2] = w * a12
            pinv[i, 2, 0] = w * a02
            pinv[i, 2, 1] = w * a12
            pinv[i, 2, 2] = w * a22

    return KernelSpec(f"hessian_pairs_kind{KIND}_{D}d_{NT}x{NT}x{NP}", hessian_pairs,
                      types.void(F2, I1, I2, I1, F1, F3, F2, F1, F3, F3, F3))


@functools.lru_cache(maxsize=None)
def hvp_kernel(dim):
    """``hvp(nlist, counts, rv (N, m, d), cs (N, m, 2), V (N d, k), out (N d, k), vq (N, k))``: out = M V for a
    block of k columns (row = particle * d + component, as the CPU's ``bsr_matmat``), thread i writing rows
    i d .. i d + d - 1 (its list row, gathered in list order), and vq[i, c] = Σ_a V[i d + a, c] out[i d + a, c]
    (the per-particle parts of the column dot products V·MV that CG needs)."""
    D = int(dim)

    def hvp(nlist, counts, rv, cs, V, out, vq):
        i = cuda.grid(1)
        if i >= counts.shape[0]:
            return
        ni = counts[i]
        for col in range(V.shape[1]):
            vx = V[i * D, col]
            vy = V[i * D + 1, col]
            vz = V[i * D + 2, col] if D == 3 else 0.0
            ox = 0.0
            oy = 0.0
            oz = 0.0
            for m in range(ni):
                c = cs[i, m, 0]
                s = cs[i, m, 1]
                if c != 0.0 or s != 0.0:
                    j = nlist[i, m]
                    rx = rv[i, m, 0]
                    ry = rv[i, m, 1]
                    wx = V[j * D, col] - vx
                    wy = V[j * D + 1, col] - vy
                    rw = rx * wx + ry * wy
                    rz = 0.0
                    wz = 0.0
                    if D == 3:
                        rz = rv[i, m, 2]
                        wz = V[j * D + 2, col] - vz
                        rw += rz * wz
                    # -(H w) with H = c r r^T - s I
                    ox -= c * rx * rw - s * wx
                    oy -= c * ry * rw - s * wy
                    oz -= c * rz * rw - s * wz
            out[i * D, col] = ox
            out[i * D + 1, col] = oy
            q = vx * ox + vy * oy
            if D == 3:
                out[i * D + 2, col] = oz
                q += vz * oz
            vq[i, col] = q

    return KernelSpec(f"hvp_{D}d", hvp, types.void(I2, I1, F3, F3, F2, F2, F2))


def kernels_for(model):
    """The kernels :class:`DeviceHessian` launches for ``model`` (for the PTX compile test); empty for a model
    with a three-body term (CPU-only)."""
    if model.three_body is not None:
        return []
    return [hessian_pairs_kernel(model.kind, model.dim, model.n_types, model.params.shape[2]),
            hvp_kernel(model.dim)]


_SW_MESSAGE = ("the device Hessian covers pair potentials only: the Stillinger–Weber three-body term of model {!r} "
               "is CPU-only for now; use backend='cpu'")


def check_supported(model, shear=0.0):
    """Raise ``NotImplementedError`` (saying what to use instead) for what the device Hessian does not cover: a
    three-body term, a sheared cell."""
    if model.three_body is not None:
        raise NotImplementedError(_SW_MESSAGE.format(model.name))
    if shear != 0.0:
        raise NotImplementedError(f"the device Hessian is for orthorhombic boxes (shear = 0), got shear={shear!r}; "
                                  f"use backend='cpu'")


class DeviceHessian:
    """The Hessian of a configuration under a pair model, on the device, as a matrix-free operator (see the module).

    Parameters
    ----------
    system : :class:`~meso_kernels.system.System` (positions (N, d), types, box)
    model : its pair :class:`~meso_kernels.models.Model` (``NotImplementedError`` for SW)
    exclude : optional boolean mask (N,) of particles removed from the Hessian (rattlers): every pair touching one
        of them is dropped, their rows are zero (as :meth:`meso_kernels.hessian.Terms.without` on the CPU)
    skin : skin of the device neighbour list (length units)

    Attributes: ``n``, ``d``, ``nd = n d``, ``keep`` (host bool (N,)), ``n_kept``, device arrays ``rv``, ``cs``,
    ``pinv`` (inverse diagonal blocks, zero on excluded particles), ``nl`` the
    :class:`~meso_kernels.cuda.neighbors.DeviceNeighborList`.
    """

    def __init__(self, system, model, exclude=None, skin=0.3):
        require()
        check_supported(model)
        system.check_model(model)
        self.model = model
        self.n, self.d = system.positions.shape
        self.nd = self.n * self.d
        keep = np.ones(self.n, bool)
        if exclude is not None:
            exclude = np.asarray(exclude, dtype=bool)
            if exclude.shape != (self.n,):
                raise ValueError(f"exclude must be a boolean mask of shape ({self.n},), got {exclude.shape}")
            keep = ~exclude
        self.keep = keep
        self.n_kept = int(keep.sum())
        self.nl = DeviceNeighborList(model.rcut, system.box, skin=skin)
        x = cuda.to_device(np.ascontiguousarray(system.positions, dtype=np.float64))
        t = cuda.to_device(np.ascontiguousarray(system.types, dtype=np.int32))
        self.nl.build(x, t)
        n, m, d = self.n, self.nl.max_neighbors, self.d
        self.rv = cuda.device_array((n, m, d), np.float64)
        self.cs = cuda.device_array((n, m, 2), np.float64)
        self.pinv = cuda.device_array((n, d, d), np.float64)
        self.d_keep = cuda.to_device(keep.astype(np.float64))
        k = hessian_pairs_kernel(model.kind, model.dim, model.n_types, model.params.shape[2])
        k[blocks(n), TPB](x, t, self.nl.nlist, self.nl.counts, cuda.to_device(np.ascontiguousarray(system.box)),
                          cuda.to_device(np.ascontiguousarray(model.params, dtype=np.float64)),
                          cuda.to_device(np.ascontiguousarray(model.rcut**2)), self.d_keep, self.rv, self.cs,
                          self.pinv)
        self._k_hvp = hvp_kernel(self.d)

    def identity_blocks(self):
        """Device (N, d, d): the identity on kept particles, zero on excluded ones (the 'no preconditioner')."""
        eye = np.zeros((self.n, self.d, self.d))
        eye[self.keep] = np.eye(self.d)
        return cuda.to_device(eye)

    def matvec_device(self, V, out, vq):
        """out = M V and vq[i, c] = V_i·(M V)_i for device arrays V, out (N d, k) and vq (N, k)."""
        self._k_hvp[blocks(self.n), TPB](self.nl.nlist, self.nl.counts, self.rv, self.cs, V, out, vq)
        return out

    def matvec(self, v):
        """M v for ``v`` of shape (N, d), (N d,) or (N d, k) (host or device array; the result on the host, shaped
        like ``v``)."""
        dev = is_device_array(v)
        shape = tuple(v.shape)
        if not (shape in ((self.n, self.d), (self.nd,)) or (len(shape) == 2 and shape[0] == self.nd)):
            raise ValueError(f"v must have shape (N, d) = ({self.n}, {self.d}), (N d,) = ({self.nd},) or "
                             f"(N d, k), got {shape}")
        if dev:
            V = as_device(v, np.float64, "v")
            if len(shape) != 2 or shape[0] != self.nd:
                V = V.reshape((self.nd, 1))
        else:
            V = cuda.to_device(np.ascontiguousarray(np.asarray(v, dtype=float).reshape(self.nd, -1)))
        k = V.shape[1]
        out = cuda.device_array((self.nd, k), np.float64)
        vq = cuda.device_array((self.n, k), np.float64)
        self.matvec_device(V, out, vq)
        return out.copy_to_host().reshape(shape)
