"""Analytic Hessian of the Stillinger-Weber three-body term (meso_kernels.models.sw.triplet_hessian).

References: 5-point central differences of the analytic gradient returned by ``triplet``, second differences
of the energy ``h`` itself, symmetry, covariance under rotations (finite and infinitesimal) and the approach
to the cut-off r1 -> a.
"""
import math

import numpy as np
import pytest
from numba import njit

from meso_kernels.models.sw import A_CUT, COS0, leg, triplet, triplet_from_legs, triplet_hessian, triplet_params

T = triplet_params(lam=18.75)
FD_STEP = 1e-5          # 5-point stencil: truncation ~ (step * gam/(r - a)^2)^4 stays < 1e-10 for r <= 1.75
FD_RTOL = 1e-7


def _random_rotation(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def _geometry(rng, r1, r2, theta):
    """(r1 vector, r2 vector) with lengths r1, r2 and angle theta (radians), randomly oriented."""
    rot = _random_rotation(rng)
    v1 = np.array([r1, 0.0, 0.0])
    v2 = r2 * np.array([math.cos(theta), math.sin(theta), 0.0])
    return np.concatenate([rot @ v1, rot @ v2])


def _geometries(n_random=300, seed=1):
    rng = np.random.default_rng(seed)
    out = []
    theta0 = math.acos(COS0)
    special = [theta0, math.radians(179.9), math.radians(179.999), math.pi, math.radians(30.0)]
    for th in special:
        for r1, r2 in [(0.9, 0.9), (1.2, 1.5), (1.75, 1.1), (1.75, 1.75), (0.95, 1.74)]:
            out.append(_geometry(rng, r1, r2, th))
    for _ in range(n_random):
        out.append(_geometry(rng, rng.uniform(0.9, 1.75), rng.uniform(0.9, 1.75),
                             math.radians(rng.uniform(30.0, 180.0))))
    return out


GEOMS = _geometries()


def _hessian(v):
    out = np.full((6, 6), np.nan)
    res = triplet_hessian(v[0], v[1], v[2], v[3], v[4], v[5], T, out)
    return res, out


def _grad(v):
    return np.array(triplet(v[0], v[1], v[2], v[3], v[4], v[5], T)[1:])


def _energy(v):
    return triplet(v[0], v[1], v[2], v[3], v[4], v[5], T)[0]


def _fd_hessian(v, step=FD_STEP):
    fd = np.empty((6, 6))
    for j in range(6):
        e = np.zeros(6)
        e[j] = step
        fd[:, j] = (-_grad(v + 2 * e) + 8 * _grad(v + e) - 8 * _grad(v - e) + _grad(v - 2 * e)) / (12 * step)
    return fd


def _rel(a, b):
    scale = np.abs(b).max()
    return np.abs(a - b).max() / scale if scale > 0 else np.abs(a - b).max()


def test_returns_triplet_tuple_and_fills_out():
    for v in GEOMS[:40]:
        res, H = _hessian(v)
        assert res == triplet(*v, T)
        assert np.all(np.isfinite(H))


def test_hessian_matches_fd_of_gradient():
    worst = 0.0
    for v in GEOMS:
        _, H = _hessian(v)
        err = _rel(H, _fd_hessian(v))
        worst = max(worst, err)
        assert err < FD_RTOL, (v, err)
    print(f"max relative FD error (5-point, step {FD_STEP}): {worst:.2e} over {len(GEOMS)} triplets")


def test_hessian_matches_second_differences_of_energy():
    """Independent of the analytic gradient: mixed central second differences of h."""
    step = 1e-4
    for v in GEOMS[::15]:
        _, H = _hessian(v)
        fd = np.empty((6, 6))
        for i in range(6):
            ei = np.zeros(6)
            ei[i] = step
            for j in range(6):
                ej = np.zeros(6)
                ej[j] = step
                fd[i, j] = (_energy(v + ei + ej) - _energy(v + ei - ej) - _energy(v - ei + ej)
                            + _energy(v - ei - ej)) / (4 * step * step)
        assert _rel(fd, H) < 1e-4


def test_symmetric():
    for v in GEOMS:
        _, H = _hessian(v)
        assert np.abs(H - H.T).max() <= 1e-12 * np.abs(H).max()


def _rounding_floor(v):
    """Absolute rounding floors (of h, of its gradient) of a triplet, from the scale of the terms that make them.

    h = e D^2 with D = c - cos0 and c = n1.n2: c is a sum of products of O(1) unit-vector components, and D the
    difference of two numbers of size <= 1, so D carries an absolute rounding error of a few eps whatever its size
    (at theta0 the computed D is pure rounding, ~1e-17, and h ~ e D^2 ~ 1e-33 instead of 0). That error propagates
    to h as e (2 |D| dD + dD^2) and to the gradient g = 2 e D dc/dr + D^2 de/dr as
    2 e dD (|dc/dr| + |D| |de/dr| / e) with |dc/dr_k| <= 1/r_k and |de/dr_k| / e = gam / (r_k - a)^2. The other
    rounding errors (in r_k, in the exponent of e: up to ~1e3 eps relative for r up to 1.75) are relative to h and g
    themselves and stay far below the relative tolerance 1e-12 of the test.
    """
    eps = np.finfo(float).eps
    dD = 8 * eps
    r1, r2 = np.linalg.norm(v[:3]), np.linalg.norm(v[3:])
    lam, cos0, gam, a = T
    e = lam * math.exp(gam / (r1 - a) + gam / (r2 - a))
    D = abs(v[:3] @ v[3:] / (r1 * r2) - cos0)
    h_floor = e * (2 * D * dD + dD * dD)
    g_floor = 2 * e * dD * (1 / min(r1, r2) + D * gam / min(a - r1, a - r2) ** 2)
    return h_floor, g_floor


def test_rotation_covariance():
    """h(R r1, R r2) = h, g -> R g, H -> R H R^T for finite rotations, to 1e-12 relative plus the rounding floor of
    each quantity (h and g vanish at theta0 but come out as rounding noise whose size differs between the two
    orientations and between CPUs: 0.0 against 4e-33 for h)."""
    rng = np.random.default_rng(7)
    for v in GEOMS[::5]:
        R = _random_rotation(rng)
        RR = np.zeros((6, 6))
        RR[:3, :3] = R
        RR[3:, 3:] = R
        (h, *g), H = _hessian(v)
        (hr, *gr), Hr = _hessian(RR @ v)
        h_floor, g_floor = _rounding_floor(v)
        assert abs(hr - h) <= 1e-12 * abs(h) + h_floor, (v, h, hr, h_floor)
        g_rot = RR @ np.array(g)
        assert np.abs(np.array(gr) - g_rot).max() <= 1e-12 * np.abs(g_rot).max() + g_floor, (v, g, gr, g_floor)
        # H is never rounding noise: its largest entry 2 e |dc/dr|^2 ~ e does not carry the factor D
        assert _rel(Hr, RR @ H @ RR.T) < 1e-12


def test_infinitesimal_rotation_sum_rules():
    """h(R r1, R r2) = h: the torque r1 x g1 + r2 x g2 vanishes, and d/de g(exp(e W) r) = H (w x r) = w x g."""
    rng = np.random.default_rng(11)
    for v in GEOMS:
        (_, *g), H = _hessian(v)
        g = np.array(g)
        torque = np.cross(v[:3], g[:3]) + np.cross(v[3:], g[3:])
        assert np.abs(torque).max() <= 1e-12 * max(np.abs(g).max() * np.abs(v).max(), 1e-300)
        w = rng.normal(size=3)
        dv = np.concatenate([np.cross(w, v[:3]), np.cross(w, v[3:])])
        lhs = H @ dv
        rhs = np.concatenate([np.cross(w, g[:3]), np.cross(w, g[3:])])
        assert np.abs(lhs - rhs).max() <= 1e-12 * np.abs(H).max() * np.abs(dv).max()


@pytest.mark.parametrize("theta_deg", [60.0, math.degrees(math.acos(COS0)), 179.9])
def test_vanishes_smoothly_at_cutoff(theta_deg):
    rng = np.random.default_rng(3)
    deltas = np.geomspace(0.5, 1e-3, 25)
    hs, hmax = [], []
    for d in deltas:
        v = _geometry(rng, A_CUT - d, 1.2, math.radians(theta_deg))
        (h, *_), H = _hessian(v)
        assert np.isfinite(h) and np.all(np.isfinite(H))
        hs.append(h)
        hmax.append(np.abs(H).max())
    hs = np.array(hs)
    hmax = np.array(hmax)
    # monotone decay once inside the region where exp(gam/(r - a)) dominates the powers of 1/(r - a)
    tail = deltas < 0.1
    assert np.all(np.diff(hmax[tail]) <= 0.0)
    if abs(math.cos(math.radians(theta_deg)) - COS0) > 1e-3:
        assert np.all(np.diff(hs[tail]) <= 0.0)
    else:                                               # h = e (c - cos0)^2 is rounding-level at theta0
        assert np.all(np.abs(hs) <= 1e-25 * hmax + 1e-300)
    assert hmax[-1] == 0.0 and hs[-1] == 0.0            # exp(-1200) underflows: exactly zero, no nan/inf
    assert hmax[deltas < 0.01].max() < 1e-30


@njit(cache=True)
def _sum_hessians(vs, t):
    out = np.empty((6, 6))
    acc = np.zeros((6, 6))
    for n in range(vs.shape[0]):
        triplet_hessian(vs[n, 0], vs[n, 1], vs[n, 2], vs[n, 3], vs[n, 4], vs[n, 5], t, out)
        acc += out
    return acc


def test_inlined_in_jitted_loop():
    vs = np.array(GEOMS[:50])
    ref = np.zeros((6, 6))
    for v in vs:
        ref += _hessian(v)[1]
    assert _rel(_sum_hessians(vs, T), ref) < 1e-13


@njit(cache=True)
def _from_legs(v, t):
    l1 = leg(v[0], v[1], v[2], t)
    l2 = leg(v[3], v[4], v[5], t)
    return np.array(triplet_from_legs(v[0], v[1], v[2], l1[0], l1[1], l1[2], v[3], v[4], v[5], l2[0], l2[1], l2[2],
                                      t))


def test_triplet_from_legs_is_triplet():
    """The force loop's route (each leg's scalars computed once, then combined per triplet) gives the energy and
    gradient of ``triplet`` to round-off, over the whole range of lengths and angles."""
    for v in _geometries():
        want = np.array(triplet(*v, T))
        got = _from_legs(np.asarray(v), T)
        scale = np.abs(want).max()
        assert np.abs(got - want).max() <= 1e-13 * scale + 1e-300, (v, got, want)
