"""Athermal shear modulus G of an inherent structure (paper Eq. A1; MODELS.md section 6).

For simple shear x -> x + γ y ê_x every pair vector moves affinely, dr_a/dγ = r_a,y ê_x, so with the term list of
:mod:`meso_kernels.hessian` (gradients g_a = dU/dr_a, blocks H_ab = d²U/dr_a dr_b):

- shear stress times volume: dU/dγ = Σ_a g_a,x r_a,y;
- Born term: d²U/dγ² (affine) = Σ_ab r_a,y r_b,y (H_ab)_xx;
- Ξ = d²U/dγ dx: the vector v_b = Σ_a r_a,y (H_ab)_x· + g_b,x ê_y on each pair vector, spread onto particles
  (Ξ_{j_b} += v_b, Ξ_{i_b} -= v_b). The g_b,x ê_y part is why Ξ equals -dF/dγ only at force balance.
- G = (1/V) [d²U/dγ² - Ξ·M⁺·Ξ], M⁺ on the translation-free subspace (rattlers removed).

Units: G and stresses in energy/length^d.

>>> from meso_kernels.models import get_model
>>> from meso_kernels.initial import random_configuration
>>> from meso_kernels.quench import quench
>>> from meso_kernels.elasticity import shear_modulus
>>> m = get_model("ipl", dim=2)
>>> ihs, _ = quench(random_configuration(m, 100, 0.86, seed=2), m, method="cg", ftol=1e-10)
>>> res = shear_modulus(ihs, m)
>>> bool(0 < res.G < res.born)        # non-affine relaxation softens the affine (Born) modulus
True
"""
from dataclasses import dataclass

import numpy as np
from numba import njit

from .hessian import build_terms, hessian_matrix, solvable_terms
from .linsolve import DenseInverse, cg_solve, true_residual

SOLVERS = ("auto", "cg", "dense")


@njit(cache=True)
def _shear_terms(n, pv_i, pv_j, pv_r, pv_g, blk_a, blk_b, blk_h):
    d = pv_r.shape[1]
    dudg = 0.0
    for p in range(pv_i.size):
        dudg += pv_g[p, 0] * pv_r[p, 1]
    v = np.zeros(pv_r.shape)
    for p in range(pv_i.size):
        v[p, 1] += pv_g[p, 0]
    born = 0.0
    for q in range(blk_a.size):
        a = blk_a[q]
        b = blk_b[q]
        ya = pv_r[a, 1]
        yb = pv_r[b, 1]
        for k in range(d):
            v[a, k] += yb * blk_h[q, k, 0]
        if a != b:
            born += 2.0 * ya * yb * blk_h[q, 0, 0]
            for k in range(d):
                v[b, k] += ya * blk_h[q, 0, k]
        else:
            born += ya * yb * blk_h[q, 0, 0]
    xi = np.zeros((n, d))
    for p in range(pv_i.size):
        for k in range(d):
            xi[pv_j[p], k] += v[p, k]
            xi[pv_i[p], k] -= v[p, k]
    return dudg, born, xi


def shear_derivatives(terms):
    """``(dU/dγ, d²U/dγ² affine, Ξ (n, d))`` of the configuration described by ``terms`` (energy, energy,
    energy/length)."""
    return _shear_terms(terms.n, terms.pv_i, terms.pv_j, terms.pv_r, terms.pv_g, terms.blk_a, terms.blk_b,
                        terms.blk_h)


@dataclass
class ShearModulus:
    """Athermal shear modulus of one inherent structure (energy/length^d): ``G`` = ``born`` - ``nonaffine``,
    ``stress`` the residual shear stress (1/V) dU/dγ, the solver used, its relative ``residual`` and
    ``converged`` flag, ``n_rattlers`` removed, ``max_force`` of the input."""
    G: float
    born: float
    nonaffine: float
    stress: float
    solver: str
    residual: float
    converged: bool
    n_rattlers: int
    max_force: float


def shear_modulus(system, model, solver="cg", force_tol=1e-8, rtol=1e-12, shear=0.0, terms=None, backend="cpu"):
    """G of an inherent structure (Eq. A1) for simple shear in the x-y plane.

    Parameters
    ----------
    system : System at an energy minimum (max_i |F_i| <= ``force_tol``, otherwise ValueError)
    model : its Model
    solver : "cg" (preconditioned conjugate gradients, default), "dense" (Cholesky pseudo-inverse) or "auto" (cg:
        one right-hand side never pays for a dense factorisation)
    rtol : relative residual of the CG solve
    shear : strain γ of the periodic cell (Lees–Edwards), 0 by default
    terms : optional precomputed :class:`~meso_kernels.hessian.Terms` of this system
    backend : "cpu" (default) or "cuda": where the CG solve runs (:func:`meso_kernels.cuda.linsolve.block_cg` on a
        :class:`meso_kernels.cuda.hessian.DeviceHessian`; shear = 0; solver "cg" or "auto" only). Born
        term and Ξ are computed on the CPU from the term list either way.
    """
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver={solver!r}; allowed: {', '.join(SOLVERS)}")
    if backend != "cpu":
        from .cuda import check_backend
        check_backend(backend)
        if solver == "dense":
            raise ValueError("solver='dense' is not available with backend='cuda'; allowed with backend='cuda': "
                             "solver='cg' or 'auto' (cg)")
    solver = "cg" if solver == "auto" else solver
    terms = build_terms(system, model, shear=shear) if terms is None else terms
    t, rat, fmax = solvable_terms(terms, force_tol)
    dudg, born, xi = shear_derivatives(t)
    if backend == "cuda":
        from .cuda.hessian import DeviceHessian, check_supported
        from .cuda.linsolve import block_cg
        check_supported(model, shear)
        H = DeviceHessian(system, model, exclude=rat)
        xf = np.zeros((terms.n, t.d))
        xf[~rat] = xi
        r = block_cg(H, xf, rtol=rtol)
        z, res, conv = r.x[~rat], float(r.residual[0]), bool(r.converged[0])
        V = terms.volume
        nonaffine = float(xi.ravel() @ z.ravel()) / V
        return ShearModulus(born / V - nonaffine, born / V, nonaffine, dudg / V, "cg", res, conv, int(rat.sum()),
                            fmax)
    M = hessian_matrix(t)
    if solver == "dense":
        z = DenseInverse(M, t.d).solve(xi)
        res = float(true_residual(M, t.d, z.reshape(-1, 1), xi.reshape(-1, 1))[0][0])
        conv = bool(res < 1e-8)
    else:
        r = cg_solve(M, t.d, xi.ravel(), rtol=rtol)
        z, res, conv = r.x, float(r.residual[0]), bool(r.converged[0])
    V = terms.volume
    nonaffine = float(xi.ravel() @ z.ravel()) / V
    return ShearModulus(born / V - nonaffine, born / V, nonaffine, dudg / V, solver, res, conv, int(rat.sum()), fmax)
