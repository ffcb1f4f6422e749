"""Sticky spheres (SS, "CSS"), 50:50 binary mixture (MODELS.md section 3).

x = r / sig_ij, x_min = 2^(1/6), x_c = 1.2 x_min:
    phi = 4 (x^-12 - x^-6)                                 x < x_min
    phi = a x^-12 - b x^-6 + c0 + c2 x^2 + c4 x^4 + c6 x^6  x_min <= x < x_c
    phi = 0                                                x >= x_c
with phi, phi', phi'' continuous at x_min and vanishing at x_c. Species 0 = A (small, sig = 1), 1 = B (large,
sig = 1.4), sig_AB = 1.18. Units: sig_AA = eps = m = k_B = 1.
"""
import numpy as np
from numba import njit

X_MIN = 2.0 ** (1.0 / 6.0)
X_CUT = 1.2 * X_MIN
SIGMA = np.array([[1.0, 1.18], [1.18, 1.40]])
# a, b, c0, c2, c4, c6 (the author's published values, MODELS.md section 3)
COEFFS = np.array([-106.991613526652, -304.918469059567, -939.388037994211,
                   1190.70962256002, -541.300131587551, 85.8684936914713])


@njit(cache=True, inline="always")
def pair(r2, p):
    """SS pair term at squared distance ``r2``. ``p = (1/sig^2, x_min^2, a, b, c0, c2, c4, c6)``. Returns
    ``(u, s, u2)`` (s = -phi'/r, u2 = phi'')."""
    is2 = p[0]
    x2 = r2 * is2
    ix2 = 1.0 / x2
    ix6 = ix2 * ix2 * ix2
    ix12 = ix6 * ix6
    if x2 < p[1]:
        u = 4.0 * (ix12 - ix6)
        dux = (-48.0 * ix12 + 24.0 * ix6) * ix2           # (dphi/dx) / x
        d2u = (624.0 * ix12 - 168.0 * ix6) * ix2           # d2phi/dx2
    else:
        a = p[2]
        b = p[3]
        c2 = p[5]
        c4 = p[6]
        c6 = p[7]
        u = a * ix12 - b * ix6 + p[4] + x2 * (c2 + x2 * (c4 + x2 * c6))
        dux = (-12.0 * a * ix12 + 6.0 * b * ix6) * ix2 + 2.0 * c2 + x2 * (4.0 * c4 + x2 * 6.0 * c6)
        d2u = (156.0 * a * ix12 - 42.0 * b * ix6) * ix2 + 2.0 * c2 + x2 * (12.0 * c4 + x2 * 30.0 * c6)
    return u, -dux * is2, d2u * is2


def solve_coeffs(x_cut=X_CUT, x_min=X_MIN):
    """Solve the 6x6 linear system for (a, b, c0, c2, c4, c6) given x_c: phi = -1, phi' = 0, phi'' = 57.1464... at
    x_min (continuity with LJ) and phi = phi' = phi'' = 0 at x_c."""
    def rows(x):
        return np.array([
            [x**-12, -x**-6, 1, x**2, x**4, x**6],
            [-12 * x**-13, 6 * x**-7, 0, 2 * x, 4 * x**3, 6 * x**5],
            [156 * x**-14, -42 * x**-8, 0, 2, 12 * x**2, 30 * x**4]])
    lj = [4 * (x_min**-12 - x_min**-6), 4 * (-12 * x_min**-13 + 6 * x_min**-7),
          4 * (156 * x_min**-14 - 42 * x_min**-8)]
    A = np.vstack([rows(x_min), rows(x_cut)])
    return np.linalg.solve(A, np.array(lj + [0.0, 0.0, 0.0]))


def pair_table(x_cut=X_CUT, sigma=SIGMA):
    """Parameter table ``(2, 2, 8)`` and cut-off table for :func:`pair`."""
    coeffs = COEFFS if x_cut == X_CUT else solve_coeffs(x_cut)
    sigma = np.asarray(sigma, dtype=float)
    params = np.zeros((2, 2, 8))
    for a in range(2):
        for b in range(2):
            params[a, b, 0] = sigma[a, b] ** -2
            params[a, b, 1] = X_MIN**2
            params[a, b, 2:] = coeffs
    return params, x_cut * sigma
