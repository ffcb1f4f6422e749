"""Energy, forces and virial (meso_kernels.forces.ForceField) and the pair potentials behind them.

Independent references: the potentials re-implemented in numpy from MODELS.md sections 1-4 (the constants are
copied from MODELS.md, not from the package), all-pairs double loops with the minimum image, and finite
differences of the energy (central, and 5-point where 1e-8 accuracy is needed).
"""
import numba
import numpy as np
import pytest

from meso_kernels.forces import ForceField
from meso_kernels.initial import random_configuration
from meso_kernels.models import get_model

# ----------------------------------------------------------------------------------------------------------------
# Reference potentials written from MODELS.md (energy only, numpy; r may be an array)
# ----------------------------------------------------------------------------------------------------------------
IPL_XC = 1.48
IPL_LAM = np.array([[1.0, 1.18], [1.18, 1.40]])
LJ_SIG = np.array([[1.0, 0.8], [0.8, 0.88]])
LJ_EPS = np.array([[1.0, 1.5], [1.5, 0.5]])
MBLJ_RC = np.array([[1.5, 2.0], [2.0, 1.5]])
KA_RC = 2.5 * LJ_SIG
SS_XMIN = 2.0 ** (1.0 / 6.0)
SS_XC = 1.2 * SS_XMIN
SS_SIG = np.array([[1.0, 1.18], [1.18, 1.4]])
SS_COEF = (-106.991613526652, -304.918469059567, -939.388037994211, 1190.70962256002, -541.300131587551,
           85.8684936914713)
SW = dict(A=7.049556277, B=0.6022245584, p=4.0, q=0.0, a=1.80, gam=1.20, cos0=-1.0 / 3.0)


def ref_ipl(r, a, b):
    lam = IPL_LAM[a, b]
    x = r / lam
    xc = IPL_XC
    u = x**-10 - 56 * xc**-10 + 140 * xc**-12 * x**2 - 120 * xc**-14 * x**4 + 35 * xc**-16 * x**6
    return np.where(x < xc, u, 0.0)


def _lj(r, a, b):
    s6 = (LJ_SIG[a, b] / r) ** 6
    return 4 * LJ_EPS[a, b] * (s6 * s6 - s6), -24 * LJ_EPS[a, b] * (2 * s6 * s6 - s6) / r


def ref_lj(rc, force_shift):
    def f(r, a, b):
        c = rc[a, b]
        v, _ = _lj(r, a, b)
        vc, dvc = _lj(c, a, b)
        u = v - vc - ((r - c) * dvc if force_shift else 0.0)
        return np.where(r < c, u, 0.0)
    return f


def ref_ss(r, a, b):
    x = r / SS_SIG[a, b]
    A, B, c0, c2, c4, c6 = SS_COEF
    lj = 4 * (x**-12 - x**-6)
    poly = A * x**-12 - B * x**-6 + c0 + c2 * x**2 + c4 * x**4 + c6 * x**6
    return np.where(x < SS_XMIN, lj, np.where(x < SS_XC, poly, 0.0))


def ss_term_scale(r, a, b):
    """Sum of the magnitudes of the terms of the SS potential at r (both branches): the scale of its rounding."""
    x = np.asarray(r, float) / SS_SIG[a, b]
    A, B, c0, c2, c4, c6 = SS_COEF
    poly = abs(A) * x**-12 + abs(B) * x**-6 + abs(c0) + abs(c2) * x**2 + abs(c4) * x**4 + abs(c6) * x**6
    return np.maximum(poly, 4 * (x**-12 + x**-6))


def ref_sw2(r, a=0, b=0):
    r = np.asarray(r, dtype=float)
    out = np.zeros_like(r)
    m = r < SW["a"]
    rm = r[m]
    out[m] = SW["A"] * (SW["B"] * rm ** -SW["p"] - rm ** -SW["q"]) * np.exp(1.0 / (rm - SW["a"]))
    return out


def ref_sw3(r1v, r2v, lam):
    """phi3 for a centre with bond vectors r1v, r2v (both within a)."""
    r1 = np.linalg.norm(r1v)
    r2 = np.linalg.norm(r2v)
    c = r1v @ r2v / (r1 * r2)
    return lam * (c - SW["cos0"]) ** 2 * np.exp(SW["gam"] / (r1 - SW["a"])) * np.exp(SW["gam"] / (r2 - SW["a"]))


# ----------------------------------------------------------------------------------------------------------------
# The models under test: name -> (get_model kwargs, reference pair energy, rho, N for random configurations,
# reference cut-off table)
# ----------------------------------------------------------------------------------------------------------------
MODELS = {
    "ipl3": (("ipl", {"dim": 3}), ref_ipl, 0.82, 100, IPL_XC * IPL_LAM),
    "ipl2": (("ipl", {"dim": 2}), ref_ipl, 0.86, 40, IPL_XC * IPL_LAM),
    "mblj": (("mblj", {}), ref_lj(MBLJ_RC, True), 1.2, 150, MBLJ_RC),
    "ka_energy": (("ka", {"shift": "energy"}), ref_lj(KA_RC, False), 1.2, 250, KA_RC),
    "ka_force": (("ka", {"shift": "force"}), ref_lj(KA_RC, True), 1.2, 250, KA_RC),
    "ss": (("ss", {"rho": 0.6}), ref_ss, 0.6, 100, SS_XC * SS_SIG),
    "sw": (("sw", {}), ref_sw2, 0.52, 64, np.array([[SW["a"]]])),
}
ALL = list(MODELS)
PAIR = [k for k in ALL if k != "sw"]
SMOOTH_CUT = ["ipl3", "mblj", "ka_force", "ss", "sw"]  # u and s vanish at the cut-off

_cache = {}


def model_of(key):
    if ("m", key) not in _cache:
        name, kw = MODELS[key][0]
        _cache[("m", key)] = get_model(name, **kw)
    return _cache[("m", key)]


def config_of(key, seed=7):
    """A random configuration (positions, types, box) of the model at its paper density."""
    if ("c", key, seed) not in _cache:
        m = model_of(key)
        _, _, rho, n, _ = MODELS[key]
        s = random_configuration(m, n, rho, seed=seed)
        _cache[("c", key, seed)] = (s.positions.copy(), np.asarray(s.types, np.int64), s.box.copy())
    x, t, b = _cache[("c", key, seed)]
    return x.copy(), t.copy(), b.copy()


def min_image(x, box):
    dr = x[None, :, :] - x[:, None, :]
    dr -= box * np.round(dr / box)
    return dr


def brute_energy(key, x, types, box, lam=18.75):
    """All-pairs (and for SW all-triplets) energy with the minimum image and the MODELS.md potentials."""
    ref = MODELS[key][1]
    dr = min_image(x, box)
    r = np.sqrt((dr**2).sum(-1))
    n = len(x)
    iu, ju = np.triu_indices(n, 1)
    U = 0.0
    for a in range(types.max() + 1):
        for b in range(types.max() + 1):
            m = (types[iu] == a) & (types[ju] == b)
            U += ref(r[iu[m], ju[m]], a, b).sum()
    if key == "sw":
        for i in range(n):
            nb = [j for j in range(n) if j != i and r[i, j] < SW["a"]]
            for p in range(len(nb)):
                for q in range(p + 1, len(nb)):
                    U += ref_sw3(dr[i, nb[p]], dr[i, nb[q]], lam)
    return U


def fd_forces(ff, x, types, idx, h, order=2):
    """-dU/dx for the (particle, component) pairs idx by central (order 2) or 5-point (order 4) differences."""
    out = np.zeros(len(idx))
    for n, (i, k) in enumerate(idx):
        def U(delta):
            y = x.copy()
            y[i, k] += delta
            return ff.compute(y, types)[0]
        if order == 2:
            out[n] = -(U(h) - U(-h)) / (2 * h)
        else:
            out[n] = -(-U(2 * h) + 8 * U(h) - 8 * U(-h) + U(-2 * h)) / (12 * h)
    return out


# ----------------------------------------------------------------------------------------------------------------
# Pair potential functions: values, derivatives, continuity
# ----------------------------------------------------------------------------------------------------------------
def species_pairs(m):
    return [(a, b) for a in range(m.n_types) for b in range(m.n_types)]


def _sigma_like(key, a, b):
    """Length scale of the repulsive core of pair (a, b): lambda_ij (IPL), sigma_ij (LJ, SS), sigma (SW)."""
    if key.startswith("ipl"):
        return IPL_LAM[a, b]
    if key == "ss":
        return SS_SIG[a, b]
    if key == "sw":
        return 1.0
    return LJ_SIG[a, b]


def r_grid(key, a, b, n=400):
    """Distances from deep in the core (phi ~ 5-20 energy units) to 1e-3 inside the cut-off."""
    return np.linspace(0.85 * _sigma_like(key, a, b), model_of(key).rcut[a, b] - 1e-3, n)


@pytest.mark.parametrize("key", ALL)
def test_pair_potential_matches_models_md(key):
    """model.phi's u equals the MODELS.md formula; the cut-off table equals MODELS.md; u = 0 beyond it."""
    m = model_of(key)
    assert np.allclose(m.rcut, MODELS[key][4], rtol=1e-12, atol=0)
    assert m.rcut_max == pytest.approx(MODELS[key][4].max(), rel=1e-12)
    for a, b in species_pairs(m):
        r = r_grid(key, a, b)
        u, s, u2 = m.phi(r, a, b)
        want = MODELS[key][1](r, a, b)
        assert np.allclose(u, want, rtol=1e-11, atol=1e-12 * np.abs(want).max())
        rc = m.rcut[a, b]
        for v in m.phi(np.array([rc, rc + 1e-12, rc + 0.5]), a, b):
            assert np.all(v == 0.0)


@pytest.mark.parametrize("key", ALL)
def test_pair_derivatives_consistent(key):
    """s = -u'/r and u2 = u'' of model.phi against 5-point differences of its u."""
    m = model_of(key)
    h = 1e-4
    for a, b in species_pairs(m):
        r = r_grid(key, a, b)[:-1]
        if key == "ss":  # keep the stencils off the x_min joint (phi''' jumps there)
            r = r[np.abs(r - SS_XMIN * SS_SIG[a, b]) > 3 * h]
        U = [m.phi(r + k * h, a, b)[0] for k in (-2, -1, 0, 1, 2)]
        du = (U[0] - 8 * U[1] + 8 * U[3] - U[4]) / (12 * h)
        d2u = (-U[0] + 16 * U[1] - 30 * U[2] + 16 * U[3] - U[4]) / (12 * h * h)
        _, s, u2 = m.phi(r, a, b)
        assert np.abs(-s * r - du).max() <= 1e-7 * np.abs(du).max(), (a, b)
        assert np.abs(u2 - d2u).max() <= 1e-5 * np.abs(d2u).max(), (a, b)


# order k of the zero of (u, s, u2) at the cut-off, u ~ delta^k (None: not tested; inf: exp(1/(r - a)))
CUT_ORDER = {"ipl3": (4, 3, 2), "ipl2": (4, 3, 2), "mblj": (2, 1, None), "ka_force": (2, 1, None),
             "ss": (3, 2, 1), "sw": (np.inf, np.inf, np.inf)}


@pytest.mark.parametrize("key", list(CUT_ORDER))
def test_continuity_at_cutoff(key):
    """u and s (and u'' where the smoothing says so) go to zero at r_c with the order of the smoothing: IPL has
    phi = phi' = phi'' = phi''' = 0 (u ~ delta^4), SS phi = phi' = phi'' = 0 (u ~ delta^3), shifted-force LJ
    phi = phi' = 0 (u ~ delta^2), SW all orders."""
    m = model_of(key)
    for a, b in species_pairs(m):
        rc = m.rcut[a, b]
        big = m.phi(np.array([rc - 1e-2]), a, b)
        small = m.phi(np.array([rc - 1e-3]), a, b)
        tiny = m.phi(np.array([rc - 1e-7]), a, b)
        for q, k in enumerate(CUT_ORDER[key]):
            if k is None:
                continue
            # (the absolute floor is the rounding of a difference of O(1)-O(1000) terms)
            assert abs(tiny[q][0]) <= 1e-4 * abs(big[q][0]) + 1e-10, (key, a, b, q)
            ratio = abs(big[q][0]) / max(abs(small[q][0]), 1e-300)
            if np.isinf(k):
                assert ratio > 1e8, (key, a, b, q, ratio)
            else:
                assert 10**k / 1.5 < ratio < 10**k * 1.5, (key, a, b, q, ratio)


def test_ka_energy_shift_has_force_jump_but_no_energy_jump():
    m = model_of("ka_energy")
    mf = model_of("ka_force")
    for a, b in species_pairs(m):
        rc = m.rcut[a, b]
        u, s, _ = m.phi(np.array([rc - 1e-9]), a, b)
        _, dv = _lj(rc, a, b)
        assert abs(u[0]) < 1e-8
        assert s[0] == pytest.approx(-dv / rc, rel=1e-6)  # the force is not shifted: it jumps at r_c
        uf, sf, _ = mf.phi(np.array([1.1 * LJ_SIG[a, b]]), a, b)
        ue, se, _ = m.phi(np.array([1.1 * LJ_SIG[a, b]]), a, b)
        assert sf[0] == pytest.approx(se[0] + dv / (1.1 * LJ_SIG[a, b]), rel=1e-10)


def test_ipl_2d_and_3d_share_the_potential():
    m2, m3 = model_of("ipl2"), model_of("ipl3")
    assert m2.dim == 2 and m3.dim == 3
    r = np.linspace(0.8, 2.0, 50)
    for a, b in species_pairs(m3):
        assert np.array_equal(np.array(m2.phi(r, a, b)), np.array(m3.phi(r, a, b)))


def test_ss_continuity_at_xmin():
    """SS: u, u' and u'' continuous across x_min = 2^(1/6) sigma_ij, with u = -1, u' = 0, u'' = 57.1464/sigma^2."""
    m = model_of("ss")
    for a, b in species_pairs(m):
        sig = SS_SIG[a, b]
        rm = SS_XMIN * sig
        lo, hi = rm * (1 - 1e-10), rm * (1 + 1e-10)
        (ul, uh), (sl, sh), (u2l, u2h) = m.phi(np.array([lo, hi]), a, b)
        assert ul == pytest.approx(-1.0, abs=1e-9) and uh == pytest.approx(-1.0, abs=1e-9)
        assert abs(sl) < 1e-6 and abs(sh) < 1e-6
        assert abs(ul - uh) < 1e-9 and abs(sl - sh) < 1e-6
        assert u2l == pytest.approx(57.1464 / sig**2, rel=1e-5)
        assert u2h == pytest.approx(u2l, rel=1e-6)
        # and the LJ branch is used below x_min, the polynomial above
        r = np.array([0.95 * rm, 1.05 * rm])
        want = ref_ss(r, a, b)
        assert np.allclose(m.phi(r, a, b)[0], want, rtol=1e-12)
        assert m.phi(np.array([0.95 * rm]), a, b)[0][0] == pytest.approx(4 * ((0.95 * SS_XMIN)**-12 -
                                                                              (0.95 * SS_XMIN)**-6), rel=1e-12)


# ----------------------------------------------------------------------------------------------------------------
# ForceField on random configurations
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("key", ALL)
def test_energy_matches_brute_force(key):
    x, types, box = config_of(key)
    ff = ForceField(model_of(key), box)
    U, F, W = ff.compute(x, types)
    Uref = brute_energy(key, x, types, box)
    assert U == pytest.approx(Uref, rel=1e-11, abs=1e-11 * len(x))


@pytest.mark.parametrize("key", ALL)
def test_forces_match_finite_differences(key, one_thread):
    x, types, box = config_of(key)
    ff = ForceField(model_of(key), box)
    U, F, W = ff.compute(x, types)
    rng = np.random.default_rng(1)
    parts = rng.choice(len(x), size=min(15, len(x)), replace=False)
    idx = [(int(i), k) for i in parts for k in range(x.shape[1])]
    Ffd = fd_forces(ff, x, types, idx, h=1e-6)
    Fan = np.array([F[i, k] for i, k in idx])
    assert np.abs(Ffd - Fan).max() <= 1e-6 * np.abs(F).max()
    assert np.abs(F).max() > 1.0  # not vacuous


@pytest.mark.parametrize("key", ALL)
def test_newton_third_law(key):
    x, types, box = config_of(key)
    U, F, W = ForceField(model_of(key), box).compute(x, types)
    assert np.all(np.abs(F.sum(axis=0)) <= 1e-10 * np.abs(F).sum(axis=0))


@pytest.mark.parametrize("key", ALL)
def test_translation_invariance(key):
    x, types, box = config_of(key)
    m = model_of(key)
    ff = ForceField(m, box)
    U, F, W = ff.compute(x, types)
    rng = np.random.default_rng(3)
    for shift in (rng.uniform(-0.5, 0.5, box.shape) * box, np.full(box.shape, 0.5) * box, 3.3 * box):
        y = x + shift                       # unwrapped: some particles outside the box
        for z in (y, y % box):              # and wrapped back across the periodic boundary
            for f in (ff, ForceField(m, box)):
                U2, F2, W2 = f.compute(z, types)
                assert U2 == pytest.approx(U, rel=1e-11)
                assert W2 == pytest.approx(W, rel=1e-10, abs=1e-10 * abs(U))
                assert np.abs(F2 - F).max() <= 1e-10 * np.abs(F).max()


@pytest.mark.parametrize("key", ALL)
def test_virial_is_minus_dU_dscale(key):
    """x -> (1 + e) x, L -> (1 + e) L: every r_ij scales by (1 + e), so dU/de at 0 = sum_pairs phi'(r) r = -W."""
    x, types, box = config_of(key)
    m = model_of(key)
    U, F, W = ForceField(m, box).compute(x, types)

    def Ue(e):
        return ForceField(m, (1 + e) * box).compute((1 + e) * x, types)[0]
    h = 1e-5
    dU = (-Ue(2 * h) + 8 * Ue(h) - 8 * Ue(-h) + Ue(-2 * h)) / (12 * h)
    assert W == pytest.approx(-dU, rel=1e-7, abs=1e-7 * abs(U))
    assert abs(W) > 1e-3 * abs(U)


@pytest.mark.parametrize("key", PAIR)
def test_laplacian_matches_pair_sum(key):
    """laplacian = sum over pairs of 2 [phi'' + (d - 1) phi'/r] (all-pairs loop over model.phi, whose derivatives
    are checked above)."""
    x, types, box = config_of(key)
    m = model_of(key)
    ff = ForceField(m, box)
    lap = ff.laplacian(x, types)
    dr = min_image(x, box)
    r = np.sqrt((dr**2).sum(-1))
    iu, ju = np.triu_indices(len(x), 1)
    d = x.shape[1]
    ref = 0.0
    for a, b in species_pairs(m):
        sel = (types[iu] == a) & (types[ju] == b)
        rr = r[iu[sel], ju[sel]]
        _, s, u2 = m.phi(rr, a, b)
        ref += np.sum(2 * (u2 - (d - 1) * s))
    assert lap == pytest.approx(ref, rel=1e-11)


def test_laplacian_matches_fd_of_forces_2d(one_thread):
    """The Laplacian is minus the trace of dF/dx: all 2N diagonal entries by central differences (2D IPL)."""
    key = "ipl2"
    x, types, box = config_of(key)
    ff = ForceField(model_of(key), box)
    lap = ff.laplacian(x, types)
    h = 1e-6
    tr = 0.0
    for i in range(len(x)):
        for k in range(2):
            y = x.copy()
            y[i, k] += h
            fp = ff.compute(y, types)[1][i, k]
            y[i, k] -= 2 * h
            fm = ff.compute(y, types)[1][i, k]
            tr -= (fp - fm) / (2 * h)
    assert lap == pytest.approx(tr, rel=1e-6)


# ----------------------------------------------------------------------------------------------------------------
# Deliberate pair distances: near the cut-off, near x_min (SS), across the periodic boundary
# ----------------------------------------------------------------------------------------------------------------
def dimer_distances(key, a, b):
    m = model_of(key)
    rc = m.rcut[a, b]
    sig = _sigma_like(key, a, b)
    rs = [0.95 * sig, 1.2 * sig, rc - 1e-3, rc - 1e-2]
    if key == "ss":  # both sides of x_min, stencils (2h = 2e-4) kept off the joint
        rm = SS_XMIN * SS_SIG[a, b]
        rs += [rm * (1 - 1e-3), rm * (1 + 1e-3), rm * (1 - 1e-2), rm * (1 + 1e-2)]
    return [r for r in rs if r < rc]


@pytest.mark.parametrize("key", ALL)
def test_dimer_forces_and_energy(key, one_thread):
    """Two particles in a large box at chosen distances, in a generic direction, also across the boundary:
    energy = phi(r), forces = 5-point differences of U to 1e-7 of |F| (the pair alone sets the scale)."""
    m = model_of(key)
    d = m.dim
    box = np.full(d, 12.0)
    ff = ForceField(m, box)
    n_hat = np.array([0.48, -0.6, 0.64][:d])
    n_hat /= np.linalg.norm(n_hat)
    for a, b in species_pairs(m):
        for r in dimer_distances(key, a, b):
            for origin in (np.full(d, 6.0), np.full(d, 0.02)):   # the second pair straddles the box faces
                x = np.array([origin, origin - r * n_hat])
                types = np.array([a, b])
                U, F, W = ff.compute(x, types)
                u, s, _ = m.phi(np.array([r]), a, b)
                # near r_c, u is a difference of O(1) (SS: O(1000)) terms: allow that rounding, a few eps of the
                # terms (IPL: their sum is ~7, 1e-14 is 6 eps of it; SS: ~5400 at r_c, where 1e-12 was only
                # 1.7 eps of it and 0.37e-12 was seen)
                tol_u = 4 * np.finfo(float).eps * ss_term_scale(r, a, b) if key == "ss" else 1e-14
                assert U == pytest.approx(MODELS[key][1](np.array([r]), a, b)[0], rel=1e-11, abs=tol_u)
                assert U == pytest.approx(u[0], rel=1e-11, abs=tol_u)
                # force on particle 1 (at x0 - r n) is s * (x1 - x0) = -s r n
                assert np.allclose(F[1], -s[0] * r * n_hat, rtol=1e-10, atol=100 * tol_u)
                assert np.array_equal(F[0], -F[1])
                assert W == pytest.approx(s[0] * r * r, rel=1e-10, abs=100 * tol_u)
                idx = [(i, k) for i in range(2) for k in range(d)]
                Ffd = fd_forces(ff, x, types, idx, h=1e-4, order=4)
                Fan = F.ravel()
                # rounding floor of the difference quotient: eps * (size of the cancelling terms of phi) / h
                atol = 2e-8 if key == "ss" else 2e-11
                assert np.abs(Ffd - Fan).max() <= 1e-7 * np.abs(Fan).max() + atol, (a, b, r)
                if r < m.rcut[a, b] - 0.05:
                    assert np.abs(Fan).max() > 1e-3


def test_pair_just_outside_cutoff_does_not_interact():
    for key in PAIR:
        m = model_of(key)
        box = np.full(m.dim, 12.0)
        ff = ForceField(m, box)
        for a, b in species_pairs(m):
            rc = m.rcut[a, b]
            x = np.zeros((2, m.dim)) + 3.0
            x[1, 0] += rc + 1e-9
            U, F, W = ff.compute(x, np.array([a, b]))
            assert U == 0.0 and W == 0.0 and np.all(F == 0.0)


# ----------------------------------------------------------------------------------------------------------------
# Stillinger-Weber three-body term
# ----------------------------------------------------------------------------------------------------------------
def trimer(r1, r2, theta_deg, rot_seed):
    """Centre i, j at r1, k at r2 with angle theta at i, randomly rotated, placed inside a box of 10."""
    th = np.deg2rad(theta_deg)
    x = np.array([[0.0, 0.0, 0.0], [r1, 0.0, 0.0], [r2 * np.cos(th), r2 * np.sin(th), 0.0]])
    q, _ = np.linalg.qr(np.random.default_rng(rot_seed).normal(size=(3, 3)))
    return x @ q.T + 5.0


SW_CLUSTERS = [
    trimer(1.10, 1.30, 60.0, 1),
    trimer(1.20, 1.20, np.degrees(np.arccos(-1 / 3)), 2),   # tetrahedral angle: h = 0 but dh/dc = 0 too
    trimer(1.00, 1.60, 150.0, 3),
    trimer(1.50, 1.70, 80.0, 4),
    trimer(1.30, 1.40, 179.0, 5),                             # nearly straight (r_jk > a: one centre only)
    trimer(1.10, 1.75, 100.0, 6),                             # one bond near the cut-off
]


def _sw_cluster5():
    rng = np.random.default_rng(9)
    tet = np.array([[0, 0, 0], [1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], float) * (1.2 / np.sqrt(3))
    return tet + rng.normal(0, 0.08, tet.shape) + 5.0


SW_CLUSTERS.append(_sw_cluster5())
SW_CLUSTERS.append(_sw_cluster5()[:4] - np.array([5.0, 0.0, 0.0]))     # straddles the x = 0 face of the box
SW_CLUSTERS.append(trimer(1.10, 1.30, 60.0, 7) - 5.0)                   # straddles a corner


@pytest.mark.parametrize("ci", range(len(SW_CLUSTERS)))
def test_sw_three_body_forces_fd_1e8(ci, one_thread):
    """SW clusters in a big box: total forces and the three-body part alone (the difference between two values of
    lambda, in which the two-body part cancels) against 5-point differences, to 1e-8 of max |F|."""
    xu = SW_CLUSTERS[ci]            # unwrapped (the cluster is compact)
    box = np.full(3, 10.0)
    x = xu % box                    # what the force field sees: wrapped, possibly split by the boundary
    types = np.zeros(len(x), np.int64)
    m, m1 = get_model("sw"), get_model("sw", lam=1.0)
    ff, ff1 = ForceField(m, box), ForceField(m1, box)
    U, F, W = ff.compute(x, types)
    U1, F1, W1 = ff1.compute(x, types)
    assert U == pytest.approx(brute_energy("sw", x, types, box), rel=1e-12, abs=1e-14)
    assert U1 == pytest.approx(brute_energy("sw", x, types, box, lam=1.0), rel=1e-12, abs=1e-14)
    idx = [(i, k) for i in range(len(x)) for k in range(3)]
    h = 1e-4
    Ffd = fd_forces(ff, x, types, idx, h, order=4).reshape(F.shape)
    Ffd1 = fd_forces(ff1, x, types, idx, h, order=4).reshape(F.shape)
    assert np.abs(Ffd - F).max() <= 1e-8 * np.abs(F).max()
    F3 = (F - F1) / (18.75 - 1.0)  # three-body force per unit lambda
    F3fd = (Ffd - Ffd1) / (18.75 - 1.0)
    # Rounding floor of the 5-point quotient (coefficients summing to 18 / 12h) of energies rounded to a few eps of
    # the size of their terms (taken as 10 eps (|U| + 1)), for both lambdas. It matters where F3 is tiny: 0 at the
    # tetrahedral angle, 2.4e-6 for cluster 3, whose FD error (1.4e-14, rounding) was within a factor 2 of the former
    # bare 1e-8 * max |F3| = 2.4e-14 and would exceed it wherever the energies round differently.
    eps = np.finfo(float).eps
    floor = 1.5 * 10 * eps * (abs(U) + abs(U1) + 2.0) / h / (18.75 - 1.0)
    assert np.abs(F3fd - F3).max() <= 1e-8 * np.abs(F3).max() + floor
    assert np.abs(F.sum(0)).max() <= 1e-12 * np.abs(F).max()
    # isolated cluster: W = sum_i x_i . F_i with the unwrapped positions
    assert W == pytest.approx(np.sum(xu * F), rel=1e-10, abs=1e-12)


def test_sw_three_body_is_present_and_scales_with_lambda():
    x = SW_CLUSTERS[0]
    box = np.full(3, 10.0)
    t = np.zeros(3, np.int64)
    U = {lam: ForceField(get_model("sw", lam=lam), box).compute(x, t)[0] for lam in (1.0, 18.75, 21.0)}
    u3 = sum(ref_sw3(x[j] - x[i], x[k] - x[i], 1.0)
             for i, j, k in ((0, 1, 2), (1, 0, 2), (2, 0, 1)))
    assert u3 > 1e-3
    assert U[21.0] - U[1.0] == pytest.approx(20.0 * u3, rel=1e-11)
    assert U[18.75] - U[1.0] == pytest.approx(17.75 * u3, rel=1e-11)


# ----------------------------------------------------------------------------------------------------------------
# Errors
# ----------------------------------------------------------------------------------------------------------------
def test_forcefield_errors():
    m3, m2, msw = model_of("ipl3"), model_of("ipl2"), model_of("sw")
    with pytest.raises(ValueError):
        ForceField(m3, np.full(2, 10.0))
    with pytest.raises(ValueError):
        ForceField(m2, np.full(3, 10.0))
    with pytest.raises(ValueError):
        ForceField(m3, np.full((3, 1), 10.0))
    with pytest.raises(ValueError):
        ForceField(m3, np.full(3, 3.0))  # too small for r_c + skin
    ff = ForceField(m3, np.full(3, 10.0))
    x = np.random.default_rng(0).uniform(0, 10, (20, 3))
    t = np.zeros(20, np.int64)
    for bad_x, bad_t in [(x[:, :2], t), (x.ravel(), t), (x[None], t), (x, t[:-1]), (x, t[:, None]),
                         (x, t + 2), (x, t - 1)]:
        with pytest.raises(ValueError):
            ff.compute(bad_x, bad_t)
    ffs = ForceField(msw, np.full(3, 10.0))
    with pytest.raises(ValueError):
        ffs.compute(x, t + 1)  # SW has one species
    ff2 = ForceField(m2, np.full(2, 10.0))
    with pytest.raises(ValueError):
        ff2.compute(x, t)
    with pytest.raises(ValueError):
        ff.laplacian(x[:, :2], t)


# ----------------------------------------------------------------------------------------------------------------
# Pair-loop cut-off modes (MESO_PAIR_LOOP): mask and branch give the same bits
# ----------------------------------------------------------------------------------------------------------------
MODE_KEYS = ["ipl3", "ipl2", "ka_energy", "mblj"]


def bits(a):
    """The IEEE bit patterns of a float or float array (so that +0.0 and -0.0 differ)."""
    return np.ascontiguousarray(a, dtype=np.float64).view(np.int64)


def same_bits(a, b):
    return all(np.array_equal(bits(p), bits(q)) for p, q in zip(a, b))


@pytest.mark.parametrize("key", MODE_KEYS)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_pair_loop_modes_bitwise(key, seed, one_thread):
    from meso_kernels.forces import pair_forces
    m = model_of(key)
    x, types, box = config_of(key, seed)
    x = x + np.random.default_rng(seed).normal(0.0, 0.02, x.shape)    # off any lattice, some pairs closer
    ff = ForceField(m, box)
    ff.update(x, types)
    xf, nl = ff.frame(x), ff.nl
    # the list holds pairs beyond r_c (those the two modes treat differently)
    beyond = 0
    for i in range(len(x)):
        for k in range(nl.counts[i]):
            j = nl.nlist[i, k]
            dr = xf[j] - xf[i] + ff.tab[nl.image[i, k], :m.dim]
            beyond += dr @ dr >= ff.rcsq[types[i], types[j]]
    assert beyond > 0.1 * nl.counts.sum()
    for nchunks in (1, 2):
        mask, branch = (pair_forces(xf, ff.tab, types, nl.nlist, nl.image, nl.counts, m.kind, m.params, ff.rcsq,
                                    nchunks, b) for b in (0, 1))
        assert same_bits(mask, branch), (key, seed, nchunks)
        assert np.isfinite(mask[0]) and np.any(mask[1] != 0.0) and mask[2] != 0.0


@pytest.mark.parametrize("key", MODE_KEYS)
def test_pair_forces_without_energy_same_forces(key, one_thread):
    """``energy=False`` (the MD steps whose U and W are not kept) gives the same force bits, in 2D and 3D, in both
    cut-off modes and for 1 and 2 chunks, and returns U = W = NaN rather than a wrong number."""
    from meso_kernels.forces import pair_forces
    m = model_of(key)
    x, types, box = config_of(key, 4)
    x = x + np.random.default_rng(4).normal(0.0, 0.02, x.shape)
    ff = ForceField(m, box)
    ff.update(x, types)
    xf, nl = ff.frame(x), ff.nl
    for nchunks in (1, 2):
        for b in (0, 1):
            args = (xf, ff.tab, types, nl.nlist, nl.image, nl.counts, m.kind, m.params, ff.rcsq, nchunks, b)
            e, f, w = pair_forces(*args, True)
            e0, f0, w0 = pair_forces(*args, False)
            assert same_bits(f, f0) and np.any(f != 0.0), (key, nchunks, b)
            assert np.isfinite(e) and np.isfinite(w) and np.isnan(e0) and np.isnan(w0)


def test_pair_loop_setting(monkeypatch, one_thread):
    import meso_kernels.forces as forces
    m = model_of("ka_energy")
    x, types, box = config_of("ka_energy", 2)
    ff = ForceField(m, box)
    monkeypatch.setattr(forces, "PAIR_LOOP", "mask")
    assert forces.pair_loop_flag() == 0
    a = ff.compute(x, types)
    monkeypatch.setattr(forces, "PAIR_LOOP", "branch")
    assert forces.pair_loop_flag() == 1
    assert same_bits(a, ff.compute(x, types))
    monkeypatch.setattr(forces, "PAIR_LOOP", "skip")
    with pytest.raises(ValueError, match="MESO_PAIR_LOOP.*'mask', 'branch'"):
        ff.compute(x, types)


def test_pair_loop_environment_variable():
    import os
    import subprocess
    import sys
    code = "import meso_kernels.forces as f; print(f.PAIR_LOOP, f.pair_loop_flag())"
    env = dict(os.environ, MESO_PAIR_LOOP="branch")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.split() == ["branch", "1"], out.stderr
    env["MESO_PAIR_LOOP"] = "fast"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode != 0
    assert "environment variable MESO_PAIR_LOOP must be one of 'mask', 'branch'" in out.stderr
    assert "'fast'" in out.stderr


@pytest.mark.parametrize("key", ["ka_energy", "ipl2"])
def test_pair_loop_modes_md_trajectory_bitwise(key, monkeypatch, one_thread):
    """A Nosé–Hoover trajectory (with neighbour-list rebuilds) is bitwise the same in both modes."""
    import meso_kernels.forces as forces
    from meso_kernels.integrate import NoseHoover
    from meso_kernels.system import System
    m = model_of(key)
    x, types, box = config_of(key, 5)
    s0 = System(x, box, types)
    runs = []
    for mode in ("mask", "branch"):
        monkeypatch.setattr(forces, "PAIR_LOOP", mode)
        sim = NoseHoover(s0, m, dt=0.002, T=1.0, tau=0.2, seed=11)
        sim.run(300)
        assert sim.ff.nl.n_builds > 1
        runs.append((sim.x, sim.v, sim.forces, sim.en[:2].copy(), sim.conserved(), sim.ff.nl.n_builds))
    a, b = runs
    assert same_bits(a[:5], b[:5]) and a[5] == b[5]


@pytest.mark.parametrize("key", ["ka_energy", "ipl2"])
def test_pair_loop_modes_listed_pair_beyond_cutoff_adds_exact_zeros(key, one_thread):
    """A dimer listed but beyond r_c (j on either side of i, so that s dx = -0.0 for one of them): both modes give
    U = W = +0.0 and F = +0.0 bitwise (masked terms are +-0, added to accumulators that start at +0.0)."""
    from meso_kernels.forces import pair_forces
    m = model_of(key)
    rc = m.rcut[0, 0]
    box = np.full(m.dim, 4.0 * rc)
    for sign in (1.0, -1.0):
        x = np.full((2, m.dim), 2.0 * rc)
        x[1] -= sign * (rc + 0.1) / np.sqrt(m.dim)         # r = r_c + 0.1 < r_c + skin: listed, not interacting
        types = np.zeros(2, np.int64)
        ff = ForceField(m, box)
        ff.update(x, types)
        nl = ff.nl
        assert nl.counts.sum() == 1
        for b in (0, 1):
            e, f, w = pair_forces(ff.frame(x), ff.tab, types, nl.nlist, nl.image, nl.counts, m.kind, m.params,
                                  ff.rcsq, 1, b)
            assert same_bits((e, f, w), (0.0, np.zeros_like(f), 0.0)), (sign, b)
