"""The Hessian–vector product M·V on the device (MODELS.md sections 6-7), matrix-free over the device's full
neighbour list, one thread per particle, no atomics; and the block-Jacobi preconditioner. Pair models and the
Stillinger–Weber three-body term.

Pair terms. For a pair term phi(|r|) with r = x_j - x_i, s = -phi'/r and u2 = phi''
(:func:`meso_kernels.models.dispatch.pair_eval`, the same ``@njit`` function the CPU calls), the d×d block is
H = c r rᵀ - s I with c = (u2 + s)/r², exactly as :func:`meso_kernels.hessian._fill_terms` writes it, and

    (M v)_i = -Σ_j H_ij (v_j - v_i)                     (sum over the interacting neighbours j of i)

which is what :func:`meso_kernels.hessian.hessian_vector_product` scatters pair by pair (out_j += H(v_j - v_i),
out_i -= H(v_j - v_i)); here thread i gathers its own row, so no two threads write the same element.
:class:`DeviceHessian` evaluates ``pair_eval`` once per listed pair (both members' rows: the full list) and stores,
per list slot, the pair vector r (d floats) and (c, s) (2 floats): d + 2 floats per slot instead of the d² of a
stored block, and no separate diagonal (the gather form above needs none). The product then reads these per slot
for every column of V.

Three-body terms (SW, 3D, one species). A triplet h(r_1, r_2) centred on c with ends e_1, e_2 (r_q = x_{e_q} - x_c,
both legs shorter than the cut-off a, as :func:`meso_kernels.hessian.build_terms` and the force kernel take them)
has the 6×6 second derivatives H_pq = d²h/dr_p dr_q of :func:`meso_kernels.models.sw.triplet_hessian`, the function
the CPU term list stores. By the chain rule its part of row i of M v is

    Σ_p a_p Σ_q H_pq (v_{e_q} - v_c),       a_p = dr_p/dx_i = -1, -1 (i the centre), +1, 0 (i the first end)

(:func:`triplet_row`). Thread i gathers, in list order, over the triplets centred on i (pairs of slots m1 < m2 of its
row within a) and the triplets (c; i, k) in which it is an end (each neighbour c within a, each other neighbour k of
c within a): the same two loops as the three-body force kernel :func:`meso_kernels.cuda.forces.sw_triplet_kernel`.
The triplet blocks are not stored: every product evaluates each triplet three times (once in each member's row),
once for all k columns of V. (Stored, they would take 27 floats per triplet, about 27 N n_a²/2 floats with n_a the
neighbours within a, and reading them back on every product is, by a flop/byte estimate, not measured, dearer than
evaluating them; the 6×6 block of a thread stays in registers: the kernel's PTX has no local memory.)
:func:`sw_hvp_kernel` adds this to what the pair kernel wrote.

Preconditioner: the d×d diagonal blocks Σ_j H_ij (pairs, summed by the pair kernel) plus, for SW, the diagonal of
the formula above, Σ_pq a_p H_pq a_q (:func:`sw_diagonal_kernel`), are inverted (cofactors) by
:func:`block_inverse_kernel`.

Rattlers (and any particle the caller excludes) are handled as on the CPU, where they are removed from the term list
(:meth:`meso_kernels.hessian.Terms.without`, a three-body term as a whole): a ``keep`` mask zeroes every slot whose
pair touches an excluded particle, skips every triplet with an excluded member, and zeroes the excluded particles'
rows and preconditioner blocks. M then acts on the kept particles exactly as the CPU's compact Hessian does, and is
zero on the excluded ones.

Scope: orthorhombic boxes (shear = 0), d = 2, 3 for pair models; SW in 3D.

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
from numba import cuda, float64, njit, types

from ..models.dispatch import pair_eval
from ..models.sw import triplet_hessian
from . import F1, F2, F3, I1, I2, TPB, KernelSpec, blocks, device_function, require
from .forces import check_three_body, load_table
from .neighbors import DeviceNeighborList, as_device, is_device_array, pair_separation, particle_frame


@functools.lru_cache(maxsize=None)
def hessian_pairs_kernel(kind, dim, n_types, n_params):
    """The per-slot Hessian data of potential ``kind`` in ``dim`` dimensions, parameter table (n_types, n_types,
    n_params):

    ``hpairs(x (N, d), types (N,), nlist (N, m), counts (N,), box (d,), params, rcsq (nt, nt), keep (N,),
    rv (N, m, d), cs (N, m, 2), hd (N d, d))`` writes, for each particle i (one thread) and each slot of its
    list row, the pair vector r = x_j - x_i (minimum image) and (c, s) = ((u2 + s)/r², s), zero when the pair is
    beyond r_c or i or j is not kept (``keep`` 1.0/0.0); and the pair part of the diagonal block Σ_j (c r rᵀ - s I)
    as rows i d .. i d + d - 1 of ``hd`` (zero for an excluded particle)."""
    KIND, D, NT, NP = int(kind), int(dim), int(n_types), int(n_params)
    frame, separation = particle_frame(D), pair_separation(D)

    def hessian_pairs(x, typ, nlist, counts, box, params, rcsq, keep, rv, cs, hd):
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
        for a in range(D):
            for b in range(a, D):
                hd[i * D + a, b] = h[a, b]
                hd[i * D + b, a] = h[a, b]

    return KernelSpec(f"hessian_pairs_kind{KIND}_{D}d_{NT}x{NT}x{NP}", hessian_pairs,
                      types.void(F2, I1, I2, I1, F1, F3, F2, F1, F3, F3, F2))


@functools.lru_cache(maxsize=None)
def block_inverse_kernel(dim):
    """``binv(hd (N d, d), keep (N,), pinv (N, d, d))``, thread i: pinv[i] = the inverse of the symmetric diagonal
    block in rows i d .. i d + d - 1 of ``hd`` (its upper triangle is read), by cofactors; zero for an excluded
    particle or a singular block."""
    D = int(dim)

    def block_inverse(hd, keep, pinv):
        i = cuda.grid(1)
        if i >= keep.shape[0]:
            return
        ki = keep[i] > 0.0
        r = i * D
        if D == 2:
            h00 = hd[r, 0]
            h01 = hd[r, 1]
            h11 = hd[r + 1, 1]
            det = h00 * h11 - h01 * h01
            w = 1.0 / det if (ki and det != 0.0) else 0.0
            pinv[i, 0, 0] = w * h11
            pinv[i, 1, 1] = w * h00
            pinv[i, 0, 1] = -w * h01
            pinv[i, 1, 0] = -w * h01
        else:
            h00 = hd[r, 0]
            h01 = hd[r, 1]
            h02 = hd[r, 2]
            h11 = hd[r + 1, 1]
            h12 = hd[r + 1, 2]
            h22 = hd[r + 2, 2]
            a00 = h11 * h22 - h12 * h12
            a01 = h02 * h12 - h01 * h22
            a02 = h01 * h12 - h02 * h11
            a11 = h00 * h22 - h02 * h02
            a12 = h01 * h02 - h00 * h12
            a22 = h00 * h11 - h01 * h01
            det = h00 * a00 + h01 * a01 + h02 * a02
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

    return KernelSpec(f"block_inverse_{D}d", block_inverse, types.void(F2, F1, F3))


@functools.lru_cache(maxsize=None)
def hvp_kernel(dim):
    """``hvp(nlist, counts, rv (N, m, d), cs (N, m, 2), V (N d, k), out (N d, k), vq (N, k))``: out = M V of the
    pair terms for a block of k columns (row = particle * d + component, as the CPU's ``bsr_matmat``), thread i
    writing rows i d .. i d + d - 1 (its list row, gathered in list order), and vq[i, c] = Σ_a V[i d + a, c]
    out[i d + a, c] (the per-particle parts of the column dot products V·MV that CG needs)."""
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


@njit(cache=True, inline="always")
def _leg_row(h, r, u1x, u1y, u1z, u2x, u2y, u2z):
    """Row ``r`` of the 6×6 triplet Hessian ``h`` times (u_1, u_2)."""
    return (h[r, 0] * u1x + h[r, 1] * u1y + h[r, 2] * u1z
            + h[r, 3] * u2x + h[r, 4] * u2y + h[r, 5] * u2z)


@njit(cache=True, inline="always")
def triplet_row(h, a1, a2, u1x, u1y, u1z, u2x, u2y, u2z):
    """Σ_p a_p Σ_q H_pq u_q (3 floats) for the 6×6 second derivatives ``h`` of a triplet with respect to its legs
    (r_1, r_2) (:func:`meso_kernels.models.sw.triplet_hessian`): with a_p = dr_p/dx_i and u_q the change of r_q, the
    triplet's part of row i of the Hessian times a displacement (see the module). ``h`` is a thread's local array,
    so this is a plain ``@njit`` function like the models' (in the simulator one compiled call, not a Python device
    function)."""
    return (a1 * _leg_row(h, 0, u1x, u1y, u1z, u2x, u2y, u2z) + a2 * _leg_row(h, 3, u1x, u1y, u1z, u2x, u2y, u2z),
            a1 * _leg_row(h, 1, u1x, u1y, u1z, u2x, u2y, u2z) + a2 * _leg_row(h, 4, u1x, u1y, u1z, u2x, u2y, u2z),
            a1 * _leg_row(h, 2, u1x, u1y, u1z, u2x, u2y, u2z) + a2 * _leg_row(h, 5, u1x, u1y, u1z, u2x, u2y, u2z))


@functools.lru_cache(maxsize=None)
def sw_triplet_rows(diagonal):
    """The device function ``rows(x (N, 3), nlist, counts, box (3,), rcsq, tb (4,), keep (N,), i, V, out)`` that adds
    the three-body part of row i of M to rows 3i .. 3i + 2 of ``out``, gathered over the triplets involving i (see
    the module): with ``diagonal`` False, M V for the k columns of V (N d, k) (``out`` (N d, k)); with
    ``diagonal`` True, the diagonal block of particle i (``out`` (N d, d), V not read). ``rcsq`` = a², ``tb`` =
    :func:`meso_kernels.models.sw.triplet_params`; triplets with an excluded member (``keep`` 0.0) are skipped.
    Shared by :func:`sw_hvp_kernel` and :func:`sw_diagonal_kernel`."""
    DIAG = bool(diagonal)
    frame, separation = particle_frame(3), pair_separation(3)

    @device_function
    def add(h, a1, a2, i, e1, e2, c, V, out):
        # the triplet (c; e1, e2) with blocks h and a_p = dr_p/dx_i, applied to every column
        if DIAG:
            for b in range(3):
                ex = 1.0 if b == 0 else 0.0
                ey = 1.0 if b == 1 else 0.0
                ez = 1.0 if b == 2 else 0.0
                ox, oy, oz = triplet_row(h, a1, a2, a1 * ex, a1 * ey, a1 * ez, a2 * ex, a2 * ey, a2 * ez)
                out[3 * i, b] += ox
                out[3 * i + 1, b] += oy
                out[3 * i + 2, b] += oz
        else:
            for col in range(V.shape[1]):
                vx = V[3 * c, col]
                vy = V[3 * c + 1, col]
                vz = V[3 * c + 2, col]
                ox, oy, oz = triplet_row(h, a1, a2, V[3 * e1, col] - vx, V[3 * e1 + 1, col] - vy,
                                         V[3 * e1 + 2, col] - vz, V[3 * e2, col] - vx, V[3 * e2 + 1, col] - vy,
                                         V[3 * e2 + 2, col] - vz)
                out[3 * i, col] += ox
                out[3 * i + 1, col] += oy
                out[3 * i + 2, col] += oz

    @device_function
    def rows(x, nlist, counts, box, rcsq, tb, keep, i, V, out):
        t = cuda.local.array(4, float64)
        for q in range(4):
            t[q] = tb[q]
        h = cuda.local.array((6, 6), float64)
        ni = counts[i]
        fi = frame(x, box, i)
        # i as the centre of (i; j, k), j < k in row order: a = (-1, -1)
        for m1 in range(ni):
            j = nlist[i, m1]
            ax, ay, az, ra = separation(x, j, fi)
            if ra < rcsq and keep[j] > 0.0:
                for m2 in range(m1 + 1, ni):
                    k = nlist[i, m2]
                    bx, by, bz, rb = separation(x, k, fi)
                    if rb < rcsq and keep[k] > 0.0:
                        triplet_hessian(ax, ay, az, bx, by, bz, t, h)
                        add(h, -1.0, -1.0, i, j, k, i, V, out)
        # i as the first end of (c; i, k) centred on its neighbour c: a = (1, 0)
        for m1 in range(ni):
            c = nlist[i, m1]
            fc = frame(x, box, c)
            ax, ay, az, ra = separation(x, i, fc)
            if ra < rcsq and keep[c] > 0.0:
                for m2 in range(counts[c]):
                    k = nlist[c, m2]
                    if k != i:
                        bx, by, bz, rb = separation(x, k, fc)
                        if rb < rcsq and keep[k] > 0.0:
                            triplet_hessian(ax, ay, az, bx, by, bz, t, h)
                            add(h, 1.0, 0.0, i, i, k, c, V, out)

    return rows


@functools.lru_cache(maxsize=None)
def sw_hvp_kernel():
    """``sw_hvp(x (N, 3), nlist, counts, box (3,), rcsq, tb (4,), keep (N,), V (N d, k), out (N d, k), vq (N, k))``,
    run after :func:`hvp_kernel`: adds the SW three-body part of M V to ``out`` (:func:`sw_triplet_rows`), thread i
    its own rows, and sets vq[i, c] = Σ_a V[i d + a, c] out[i d + a, c] again from the completed rows (an excluded
    particle is left as the pair kernel wrote it: zero)."""
    rows = sw_triplet_rows(False)

    def sw_hvp(x, nlist, counts, box, rcsq, tb, keep, V, out, vq):
        i = cuda.grid(1)
        if i >= x.shape[0] or keep[i] <= 0.0:
            return
        rows(x, nlist, counts, box, rcsq, tb, keep, i, V, out)
        for col in range(V.shape[1]):
            vq[i, col] = (V[3 * i, col] * out[3 * i, col] + V[3 * i + 1, col] * out[3 * i + 1, col]
                          + V[3 * i + 2, col] * out[3 * i + 2, col])

    return KernelSpec("sw_hvp", sw_hvp, types.void(F2, I2, I1, F1, float64, F1, F1, F2, F2, F2))


@functools.lru_cache(maxsize=None)
def sw_diagonal_kernel():
    """``sw_diagonal(x (N, 3), nlist, counts, box (3,), rcsq, tb (4,), keep (N,), hd (N d, d))``, run after
    :func:`hessian_pairs_kernel`: adds the SW three-body part of each kept particle's diagonal block to ``hd``
    (:func:`sw_triplet_rows`)."""
    rows = sw_triplet_rows(True)

    def sw_diagonal(x, nlist, counts, box, rcsq, tb, keep, hd):
        i = cuda.grid(1)
        if i >= x.shape[0] or keep[i] <= 0.0:
            return
        rows(x, nlist, counts, box, rcsq, tb, keep, i, hd, hd)

    return KernelSpec("sw_diagonal", sw_diagonal, types.void(F2, I2, I1, F1, float64, F1, F1, F2))


def kernels_for(model):
    """The kernels :class:`DeviceHessian` launches for ``model`` (for the PTX compile test)."""
    out = [hessian_pairs_kernel(model.kind, model.dim, model.n_types, model.params.shape[2]),
           block_inverse_kernel(model.dim), hvp_kernel(model.dim)]
    if model.three_body is not None:
        out += [sw_diagonal_kernel(), sw_hvp_kernel()]
    return out


def check_supported(model, shear=0.0):
    """Raise ``NotImplementedError`` (saying what to use instead) for what the device Hessian does not cover: a
    sheared cell."""
    if shear != 0.0:
        raise NotImplementedError(f"the device Hessian is for orthorhombic boxes (shear = 0), got shear={shear!r}; "
                                  f"use backend='cpu'")


class DeviceHessian:
    """The Hessian of a configuration on the device, as a matrix-free operator (see the module): pair models, and
    SW with its three-body term.

    Parameters
    ----------
    system : :class:`~meso_kernels.system.System` (positions (N, d), types, box)
    model : its :class:`~meso_kernels.models.Model` (a three-body term: one-species 3D SW only, as
        :class:`~meso_kernels.cuda.forces.DeviceForceField`)
    exclude : optional boolean mask (N,) of particles removed from the Hessian (rattlers): every term touching one
        of them is dropped, their rows are zero (as :meth:`meso_kernels.hessian.Terms.without` on the CPU)
    skin : skin of the device neighbour list (length units)

    Attributes: ``n``, ``d``, ``nd = n d``, ``keep`` (host bool (N,)), ``n_kept``, device arrays ``rv``, ``cs``,
    ``pinv`` (inverse diagonal blocks, zero on excluded particles), ``nl`` the
    :class:`~meso_kernels.cuda.neighbors.DeviceNeighborList`, the device positions ``x`` and box ``d_box`` (from
    which the SW product evaluates its triplets on every call).
    """

    def __init__(self, system, model, exclude=None, skin=0.3):
        require()
        system.check_model(model)
        self.three_body = check_three_body(model)
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
        self.x = cuda.to_device(np.ascontiguousarray(system.positions, dtype=np.float64))
        t = cuda.to_device(np.ascontiguousarray(system.types, dtype=np.int32))
        self.nl.build(self.x, t)
        n, m, d = self.n, self.nl.max_neighbors, self.d
        self.rv = cuda.device_array((n, m, d), np.float64)
        self.cs = cuda.device_array((n, m, 2), np.float64)
        self.pinv = cuda.device_array((n, d, d), np.float64)
        hd = cuda.device_array((n * d, d), np.float64)
        self.d_keep = cuda.to_device(keep.astype(np.float64))
        self.d_box = cuda.to_device(np.ascontiguousarray(system.box, dtype=np.float64))
        k = hessian_pairs_kernel(model.kind, model.dim, model.n_types, model.params.shape[2])
        k[blocks(n), TPB](self.x, t, self.nl.nlist, self.nl.counts, self.d_box,
                          cuda.to_device(np.ascontiguousarray(model.params, dtype=np.float64)),
                          cuda.to_device(np.ascontiguousarray(model.rcut**2)), self.d_keep, self.rv, self.cs, hd)
        if self.three_body:
            self.rcsq3 = float(model.rcut[0, 0] ** 2)
            self.d_tb = cuda.to_device(np.ascontiguousarray(model.three_body_array, dtype=np.float64))
            sw_diagonal_kernel()[blocks(n), TPB](self.x, self.nl.nlist, self.nl.counts, self.d_box, self.rcsq3,
                                                 self.d_tb, self.d_keep, hd)
            self._k_sw = sw_hvp_kernel()
        block_inverse_kernel(d)[blocks(n), TPB](hd, self.d_keep, self.pinv)
        self._k_hvp = hvp_kernel(self.d)

    def identity_blocks(self):
        """Device (N, d, d): the identity on kept particles, zero on excluded ones (the 'no preconditioner')."""
        eye = np.zeros((self.n, self.d, self.d))
        eye[self.keep] = np.eye(self.d)
        return cuda.to_device(eye)

    def matvec_device(self, V, out, vq):
        """out = M V and vq[i, c] = V_i·(M V)_i for device arrays V, out (N d, k) and vq (N, k)."""
        nb = blocks(self.n)
        self._k_hvp[nb, TPB](self.nl.nlist, self.nl.counts, self.rv, self.cs, V, out, vq)
        if self.three_body:
            self._k_sw[nb, TPB](self.x, self.nl.nlist, self.nl.counts, self.d_box, self.rcsq3, self.d_tb,
                                self.d_keep, V, out, vq)
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
