"""Inverse-power-law (IPL, n = 10) binary mixture with a smooth polynomial cut-off (MODELS.md section 1).

    phi(r) = eps [x^-10 + c0 + c2 x^2 + c4 x^4 + c6 x^6],  x = r / lam_ij < x_c = 1.48,  0 beyond,

with c0 = -56 x_c^-10, c2 = 140 x_c^-12, c4 = -120 x_c^-14, c6 = 35 x_c^-16, so that phi and its first three
derivatives vanish at x_c. Species 0 = A (small, lam_AA = 1), species 1 = B (large, lam_BB = 1.40), lam_AB = 1.18;
50:50 composition. Units: eps = 1, lam_AA = 1, m = k_B = 1.
"""
import numpy as np
from numba import njit

X_CUT = 1.48
LAMBDA = np.array([[1.0, 1.18], [1.18, 1.40]])


@njit(cache=True, inline="always")
def pair(r2, p):
    """IPL pair term at squared distance ``r2``. ``p = (eps, 1/lam^2, c0, c2, c4, c6)``. Returns ``(u, s, u2)``:
    u = phi(r), s = -phi'(r)/r, u2 = phi''(r) (energy, energy/length^2, energy/length^2). No square root needed."""
    eps = p[0]
    il2 = p[1]
    x2 = r2 * il2
    ix2 = 1.0 / x2
    ix10 = ix2 * ix2 * ix2 * ix2 * ix2
    c2 = p[3]
    c4 = p[4]
    c6 = p[5]
    u = eps * (ix10 + p[2] + x2 * (c2 + x2 * (c4 + x2 * c6)))
    # dphi/dr = eps/lam (-10 x^-11 + 2 c2 x + 4 c4 x^3 + 6 c6 x^5)  ->  s = -phi'/r = -eps/lam^2 (...)/x
    dudx_over_x = -10.0 * ix10 * ix2 + 2.0 * c2 + x2 * (4.0 * c4 + x2 * 6.0 * c6)
    s = -eps * il2 * dudx_over_x
    u2 = eps * il2 * (110.0 * ix10 * ix2 + 2.0 * c2 + x2 * (12.0 * c4 + x2 * 30.0 * c6))
    return u, s, u2


def pair_table(eps=1.0, x_cut=X_CUT, lambdas=LAMBDA):
    """Parameter table ``(ntypes, ntypes, 6)`` (eps, 1/lam^2, c0, c2, c4, c6) and cut-off table for :func:`pair`."""
    lambdas = np.asarray(lambdas, dtype=float)
    nt = lambdas.shape[0]
    params = np.zeros((nt, nt, 6))
    xc = float(x_cut)
    coeffs = (-56.0 * xc**-10, 140.0 * xc**-12, -120.0 * xc**-14, 35.0 * xc**-16)
    for a in range(nt):
        for b in range(nt):
            params[a, b] = (eps, lambdas[a, b] ** -2) + coeffs
    return params, xc * lambdas
