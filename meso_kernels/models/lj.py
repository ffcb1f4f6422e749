"""Lennard-Jones mixtures: the modified Kob–Andersen mBLJ of the paper and the standard Kob–Andersen 80:20 model
(MODELS.md section 2).

    v(r) = 4 eps_ij [(sig_ij/r)^12 - (sig_ij/r)^6]
    shifted force  (Toxvaerd–Dyre):  phi(r) = v(r) - v(r_c) - (r - r_c) v'(r_c),  r < r_c
    shifted energy:                  phi(r) = v(r) - v(r_c),                      r < r_c

Species 0 = A (large, 80 %), species 1 = B (small, 20 %): sig_AA = 1, sig_AB = 0.8, sig_BB = 0.88, eps_AA = 1,
eps_AB = 1.5, eps_BB = 0.5. Units: sig_AA = eps_AA = m = k_B = 1.
"""
import math

import numpy as np
from numba import njit

SIGMA = np.array([[1.0, 0.8], [0.8, 0.88]])
EPSILON = np.array([[1.0, 1.5], [1.5, 0.5]])


@njit(cache=True, inline="always")
def pair(r2, p):
    """Truncated LJ pair term at squared distance ``r2``. ``p = (eps, sig^2, shift, fshift, r_c)`` with shift =
    v(r_c) and fshift = v'(r_c) (zero for a shifted-energy cut-off). Returns ``(u, s, u2)`` with s = -phi'/r and
    u2 = phi''."""
    eps = p[0]
    r = math.sqrt(r2)
    ir = 1.0 / r
    ir2 = ir * ir
    sr2 = p[1] * ir2
    sr6 = sr2 * sr2 * sr2
    sr12 = sr6 * sr6
    u = 4.0 * eps * (sr12 - sr6) - p[2] - (r - p[4]) * p[3]
    s = 24.0 * eps * (2.0 * sr12 - sr6) * ir2 + p[3] * ir   # -(v'(r) - v'(r_c)) / r
    u2 = 24.0 * eps * (26.0 * sr12 - 7.0 * sr6) * ir2
    return u, s, u2


def _v_dv(r, eps, sig):
    sr6 = (sig / r) ** 6
    return 4 * eps * (sr6 * sr6 - sr6), -24 * eps * (2 * sr6 * sr6 - sr6) / r


def pair_table(rcut, sigma=SIGMA, epsilon=EPSILON, shifted_force=True):
    """Parameter table ``(2, 2, 5)`` and cut-off table for :func:`pair` given absolute cut-offs ``rcut (2, 2)``."""
    rcut = np.asarray(rcut, dtype=float)
    params = np.zeros((2, 2, 5))
    for a in range(2):
        for b in range(2):
            v, dv = _v_dv(rcut[a, b], epsilon[a, b], sigma[a, b])
            params[a, b] = (epsilon[a, b], sigma[a, b] ** 2, v, dv if shifted_force else 0.0, rcut[a, b])
    return params, rcut.copy()


def mblj_cutoffs(rc_bb=1.5):
    """The mBLJ cut-offs: r_c,AA = 1.5, r_c,AB = 2.0 (= 2.5 sig_AB), r_c,BB = ``rc_bb`` (absolute; MODELS.md s. 2)."""
    return np.array([[1.5, 2.0], [2.0, rc_bb]])


def ka_cutoffs(rc_sigma=2.5):
    """The standard Kob–Andersen cut-offs: ``rc_sigma`` sig_ij for every pair."""
    return rc_sigma * SIGMA
