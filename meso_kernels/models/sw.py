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
def triplet(x1, y1, z1, x2, y2, z2, t):
    """SW three-body term for the triplet centred on i, with r1 = x_j - x_i and r2 = x_k - x_i.
    ``t = (lam eps, cos0, gam sig, a sig)``. Returns ``(h, dh/dr1 (3), dh/dr2 (3))`` as 7 floats (MODELS.md s. 4)."""
    lam = t[0]
    c0 = t[1]
    gam = t[2]
    rc = t[3]
    r1 = math.sqrt(x1 * x1 + y1 * y1 + z1 * z1)
    r2 = math.sqrt(x2 * x2 + y2 * y2 + z2 * z2)
    ir1 = 1.0 / r1
    ir2 = 1.0 / r2
    c = (x1 * x2 + y1 * y2 + z1 * z2) * ir1 * ir2
    d1 = 1.0 / (r1 - rc)
    d2 = 1.0 / (r2 - rc)
    e = lam * math.exp(gam * d1 + gam * d2)
    dc = c - c0
    h = e * dc * dc
    # dh/dr1 = E [2 dc dc/dr1 - dc^2 gam/(r1 - a)^2 r1_hat]
    a12 = ir1 * ir2
    g1 = 2.0 * dc * e
    k1 = -g1 * c * ir1 * ir1 - e * dc * dc * gam * d1 * d1 * ir1
    k2 = -g1 * c * ir2 * ir2 - e * dc * dc * gam * d2 * d2 * ir2
    m = g1 * a12
    return (h, m * x2 + k1 * x1, m * y2 + k1 * y1, m * z2 + k1 * z1,
            m * x1 + k2 * x2, m * y1 + k2 * y2, m * z1 + k2 * z2)


def pair_table(eps=1.0, sig=1.0):
    """Two-body parameter table ``(1, 1, 7)`` and cut-off table ``(1, 1)``."""
    params = np.array([[[eps, sig, A, B, P, Q, A_CUT]]])
    return params, np.array([[A_CUT * sig]])


def triplet_params(lam=18.75, eps=1.0, sig=1.0):
    """Three-body parameters ``(lam eps, cos0, gam sig, a sig)`` for :func:`triplet`."""
    return np.array([lam * eps, COS0, GAMMA * sig, A_CUT * sig])
