"""Stillinger–Weber one-component model with a tunable three-body strength lambda (paper: 18.75; silicon: 21)
(MODELS.md section 4). Reduced units eps = sig = m = k_B = 1.

    U = sum_{i<j} phi2(r_ij) + sum_i sum_{j<k} phi3(r_ij, r_ik, theta_jik)
    phi2(r) = A eps [B (sig/r)^p - (sig/r)^q] exp(sig / (r - a sig))          r < a sig
    phi3    = lam eps (cos theta - cos theta0)^2 exp(gam sig/(r_ij - a sig)) exp(gam sig/(r_ik - a sig))
"""
import math

import numpy as np
from numba import njit

A = 7.049556277
B = 0.6022245584
P = 4.0
Q = 0.0
A_CUT = 1.80
GAMMA = 1.20
COS0 = -1.0 / 3.0


@njit(cache=True, inline="always")
def pair(r2, p):
    """SW two-body term at squared distance ``r2``. ``p = (eps, sig, A, B, p, q, a)``. Returns ``(u, s, u2)``
    (s = -phi'/r, u2 = phi'')."""
    r = math.sqrt(r2)
    eps = p[0]
    sig = p[1]
    rc = p[6] * sig
    ir = sig / r
    bp = p[3] * ir ** p[4]
    bq = ir ** p[5]
    poly = bp - bq
    dpoly = (-p[4] * bp + p[5] * bq) / r                   # d/dr
    d2poly = (p[4] * (p[4] + 1.0) * bp - p[5] * (p[5] + 1.0) * bq) / (r * r)
    den = 1.0 / (r - rc)
    e = math.exp(sig * den)
    de = -sig * den * den * e                              # d/dr exp(sig/(r - rc))
    d2e = (sig * sig * den ** 4 + 2.0 * sig * den ** 3) * e
    Ae = p[2] * eps
    u = Ae * poly * e
    du = Ae * (dpoly * e + poly * de)
    u2 = Ae * (d2poly * e + 2.0 * dpoly * de + poly * d2e)
    return u, -du / r, u2


@njit(cache=True, inline="always")
def leg(x, y, z, t):
    """The scalars of one leg r = (x, y, z) of a triplet that do not depend on the other leg: 1/|r|,
    d = 1/(|r| - a) and the leg's radial factor exp(gam d) (``t = (lam eps, cos0, gam sig, a sig)``). A force loop
    computes them once per neighbour and passes them to :func:`triplet_from_legs` for every triplet that shares the
    leg: with about five neighbours inside r_c, a centre has about ten triplets, and each leg's square root, two
    divisions and exponential are then paid once instead of in every triplet (SW forces 1.6x faster)."""
    r = math.sqrt(x * x + y * y + z * z)
    d = 1.0 / (r - t[3])
    return 1.0 / r, d, math.exp(t[2] * d)


@njit(cache=True, inline="always")
def _geometry(x1, y1, z1, x2, y2, z2, t):
    """Shared scalars of a triplet: 1/r1, 1/r2, cos(theta), 1/(r1 - a), 1/(r2 - a) and the radial factor
    e = lam exp(gam/(r1 - a)) exp(gam/(r2 - a))."""
    ir1, d1, g1 = leg(x1, y1, z1, t)
    ir2, d2, g2 = leg(x2, y2, z2, t)
    c, e = _angle_radial(x1, y1, z1, x2, y2, z2, t, ir1, ir2, g1, g2)
    return ir1, ir2, c, d1, d2, e


@njit(cache=True, inline="always")
def _angle_radial(x1, y1, z1, x2, y2, z2, t, ir1, ir2, g1, g2):
    """cos(theta) and e = lam g1 g2 from the two legs' scalars (:func:`leg`; g = exp(gam/(r - a)))."""
    c = (x1 * x2 + y1 * y2 + z1 * z2) * ir1 * ir2
    e = t[0] * g1 * g2
    return c, e


@njit(cache=True, inline="always")
def _value_gradient(x1, y1, z1, x2, y2, z2, t, ir1, ir2, c, d1, d2, e):
    """h and its gradient from the shared scalars of :func:`_geometry`."""
    gam = t[2]
    dc = c - t[1]
    h = e * dc * dc
    # dh/dr1 = E [2 dc dc/dr1 - dc^2 gam/(r1 - a)^2 r1_hat]
    a12 = ir1 * ir2
    g1 = 2.0 * dc * e
    k1 = -g1 * c * ir1 * ir1 - e * dc * dc * gam * d1 * d1 * ir1
    k2 = -g1 * c * ir2 * ir2 - e * dc * dc * gam * d2 * d2 * ir2
    m = g1 * a12
    return (h, m * x2 + k1 * x1, m * y2 + k1 * y1, m * z2 + k1 * z1,
            m * x1 + k2 * x2, m * y1 + k2 * y2, m * z1 + k2 * z2)


@njit(cache=True, inline="always")
def triplet(x1, y1, z1, x2, y2, z2, t):
    """SW three-body term for the triplet centred on i, with r1 = x_j - x_i and r2 = x_k - x_i.
    ``t = (lam eps, cos0, gam sig, a sig)``. Returns ``(h, dh/dr1 (3), dh/dr2 (3))`` as 7 floats (MODELS.md s. 4)."""
    ir1, ir2, c, d1, d2, e = _geometry(x1, y1, z1, x2, y2, z2, t)
    return _value_gradient(x1, y1, z1, x2, y2, z2, t, ir1, ir2, c, d1, d2, e)


@njit(cache=True, inline="always")
def triplet_from_legs(x1, y1, z1, ir1, d1, g1, x2, y2, z2, ir2, d2, g2, t):
    """:func:`triplet` given each leg's :func:`leg` scalars ``(ir, d, g)``: the same value (to round-off), without
    recomputing what a leg shared by several triplets needs."""
    c, e = _angle_radial(x1, y1, z1, x2, y2, z2, t, ir1, ir2, g1, g2)
    return _value_gradient(x1, y1, z1, x2, y2, z2, t, ir1, ir2, c, d1, d2, e)


@njit(cache=True, inline="always")
def _fill_block(out, i0, j0, s, b11, b12, b21, b22, ax, ay, az, bx, by, bz):
    """``out[i0:i0+3, j0:j0+3] = s I + b11 a a^T + b12 a b^T + b21 b a^T + b22 b b^T`` (no allocation)."""
    va = (ax, ay, az)
    vb = (bx, by, bz)
    for p in range(3):
        ap = va[p]
        bp = vb[p]
        for q in range(3):
            aq = va[q]
            bq = vb[q]
            v = b11 * ap * aq + b12 * ap * bq + b21 * bp * aq + b22 * bp * bq
            if p == q:
                v += s
            out[i0 + p, j0 + q] = v


@njit(cache=True, inline="always")
def triplet_hessian(x1, y1, z1, x2, y2, z2, t, out):
    """Second derivatives of the SW three-body term :func:`triplet` (same arguments; r1 = x_j - x_i,
    r2 = x_k - x_i, ``t = (lam eps, cos0, gam sig, a sig)``).

    Writes into ``out`` (a float64 (6, 6) array, energy/length^2) the Hessian of h with respect to
    (r1x, r1y, r1z, r2x, r2y, r2z) and returns ``triplet(...)``, i.e. ``(h, dh/dr1 (3), dh/dr2 (3))``.

    With n_k = r_k/|r_k|, c = n1.n2, e = lam exp(gam/(r1 - a) + gam/(r2 - a)), D = c - cos0, q = D^2,
    h = e q:
        de/dr_k = e al_k n_k,               al_k = -gam/(r_k - a)^2,   al_k' = 2 gam/(r_k - a)^3
        d2e/dr_k dr_k = e [(al_k^2 + al_k') n_k n_k + al_k (I - n_k n_k)/r_k],   d2e/dr1 dr2 = e al1 al2 n1 n2
        dc/dr1 = u1 = (n2 - c n1)/r1,       dc/dr2 = u2 = (n1 - c n2)/r2
        d2c/dr1 dr1 = (3c n1 n1 - n1 n2 - n2 n1 - c I)/r1^2
        d2c/dr1 dr2 = (I - n1 n1 - n2 n2 + c n1 n2)/(r1 r2)
        d2h = q d2e + de (2D dc)^T + (2D dc) de^T + e (2 dc dc^T + 2D d2c)
    Each 3x3 block is a combination of I, n1 n1, n1 n2, n2 n1, n2 n2 (coefficients below). Allocation-free.
    """
    ir1, ir2, c, d1, d2, e = _geometry(x1, y1, z1, x2, y2, z2, t)
    res = _value_gradient(x1, y1, z1, x2, y2, z2, t, ir1, ir2, c, d1, d2, e)
    gam = t[2]
    n1x = x1 * ir1
    n1y = y1 * ir1
    n1z = z1 * ir1
    n2x = x2 * ir2
    n2y = y2 * ir2
    n2z = z2 * ir2
    D = c - t[1]
    q = D * D
    al1 = -gam * d1 * d1
    al2 = -gam * d2 * d2
    al1p = -2.0 * al1 * d1                     # 2 gam/(r1 - a)^3
    al2p = -2.0 * al2 * d2
    iq1 = ir1 * ir1
    iq2 = ir2 * ir2
    i12 = ir1 * ir2
    # block (r1, r1): basis (I, n1n1, n1n2, n2n1, n2n2)
    s = q * al1 * ir1 - 2.0 * D * c * iq1
    b11 = q * (al1 * al1 + al1p - al1 * ir1) - 4.0 * D * al1 * c * ir1 + (2.0 * c * c + 6.0 * D * c) * iq1
    bx = 2.0 * D * al1 * ir1 - 2.0 * (c + D) * iq1
    b22 = 2.0 * iq1
    _fill_block(out, 0, 0, e * s, e * b11, e * bx, e * bx, e * b22, n1x, n1y, n1z, n2x, n2y, n2z)
    # block (r2, r2): the same with 1 <-> 2
    s = q * al2 * ir2 - 2.0 * D * c * iq2
    b11 = q * (al2 * al2 + al2p - al2 * ir2) - 4.0 * D * al2 * c * ir2 + (2.0 * c * c + 6.0 * D * c) * iq2
    bx = 2.0 * D * al2 * ir2 - 2.0 * (c + D) * iq2
    b22 = 2.0 * iq2
    _fill_block(out, 3, 3, e * s, e * b11, e * bx, e * bx, e * b22, n2x, n2y, n2z, n1x, n1y, n1z)
    # block (r1, r2) (rows r1, columns r2); (r2, r1) is its transpose
    s = 2.0 * D * i12
    b11 = 2.0 * D * al1 * ir2 - 2.0 * (c + D) * i12
    b22 = 2.0 * D * al2 * ir1 - 2.0 * (c + D) * i12
    b12 = q * al1 * al2 - 2.0 * D * c * (al1 * ir2 + al2 * ir1) + (2.0 * c * c + 2.0 * D * c) * i12
    b21 = 2.0 * i12
    _fill_block(out, 0, 3, e * s, e * b11, e * b12, e * b21, e * b22, n1x, n1y, n1z, n2x, n2y, n2z)
    _fill_block(out, 3, 0, e * s, e * b11, e * b21, e * b12, e * b22, n1x, n1y, n1z, n2x, n2y, n2z)
    return res


def pair_table(eps=1.0, sig=1.0):
    """Two-body parameter table ``(1, 1, 7)`` and cut-off table ``(1, 1)``."""
    params = np.array([[[eps, sig, A, B, P, Q, A_CUT]]])
    return params, np.array([[A_CUT * sig]])


def triplet_params(lam=18.75, eps=1.0, sig=1.0):
    """Three-body parameters ``(lam eps, cos0, gam sig, a sig)`` for :func:`triplet`."""
    return np.array([lam * eps, COS0, GAMMA * sig, A_CUT * sig])
