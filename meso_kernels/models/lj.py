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
def _bare(ir2, p):
    """The untruncated LJ term from 1/r^2: ``(v, -v'/r, v'')`` with ``p = (eps, sig^2, ...)``."""
    eps = p[0]
    sr2 = p[1] * ir2
    sr6 = sr2 * sr2 * sr2
    sr12 = sr6 * sr6
    return (4.0 * eps * (sr12 - sr6), 24.0 * eps * (2.0 * sr12 - sr6) * ir2,
            24.0 * eps * (26.0 * sr12 - 7.0 * sr6) * ir2)


@njit(cache=True, inline="always")
def pair(r2, p):
    """Shifted-energy LJ pair term (kind ``LJ``) at squared distance ``r2``: phi = v - v(r_c).
    ``p = (eps, sig^2, shift, 0, r_c)`` with shift = v(r_c). Returns ``(u, s, u2)`` with s = -phi'/r and
    u2 = phi''. One division and no square root per pair."""
    v, s, u2 = _bare(1.0 / r2, p)
    return v - p[2], s, u2


@njit(cache=True, inline="always")
def pair_sf(r2, p):
    """Shifted-force (Toxvaerd–Dyre) LJ pair term (kind ``LJ_SF``): phi = v - v(r_c) - (r - r_c) v'(r_c).
    ``p = (eps, sig^2, shift, fshift, r_c)`` with shift = v(r_c) and fshift = v'(r_c). Returns ``(u, s, u2)``;
    u2 = v'' (the linear term has none)."""
    r = math.sqrt(r2)
    ir = 1.0 / r
    v, s, u2 = _bare(ir * ir, p)
    return v - p[2] - (r - p[4]) * p[3], s + p[3] * ir, u2   # s = -(v'(r) - v'(r_c)) / r


def _v_dv(r, eps, sig):
    sr6 = (sig / r) ** 6
    return 4 * eps * (sr6 * sr6 - sr6), -24 * eps * (2 * sr6 * sr6 - sr6) / r


def pair_table(rcut, sigma=SIGMA, epsilon=EPSILON, shifted_force=True):
    """Parameter table ``(2, 2, 5)`` and cut-off table given absolute cut-offs ``rcut (2, 2)``: for :func:`pair_sf`
    (kind ``LJ_SF``) with ``shifted_force``, else for :func:`pair` (kind ``LJ``; fshift = 0)."""
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
