"""Simple shear with Lees–Edwards boundaries: ForceField(shear=gamma), image_table(box, shear), quench(shear=...).

Conventions under test: H(gamma) = I + gamma e_x (x) e_y (x -> x + gamma y); the sheared periodic cell has lattice
vectors L_x e_x, L_y (gamma e_x + e_y), L_z e_z; positions are in the lab frame.

Independent reference: an O(N^2) numpy energy with the Lees–Edwards minimum image (n_y = round(dy / L_y);
dx -= n_y gamma L_y; dy -= n_y L_y; then the ordinary minimum image in x and z), the pair potential from
``model.phi`` and, for SW, the three-body term written out from its parameters (MODELS.md section 4).
"""
import numba
import numpy as np
import pytest

from meso_kernels.forces import ForceField, affine_shear, compute_any, pair_loop_flag, wrap_sheared
from meso_kernels.initial import random_configuration
from meso_kernels.models import get_model
from meso_kernels.neighbors import image_table
from meso_kernels.quench import quench
from meso_kernels.system import System

# name -> (get_model args, density, N): N keeps r_c (1 + |gamma|) + skin <= L/2 at |gamma| <= 0.1
CASES = {
    "ipl2": (("ipl", {"dim": 2}), 0.86, 60),
    "ipl3": (("ipl", {"dim": 3}), 0.82, 150),
    "mblj": (("mblj", {}), 1.2, 200),
    "sw": (("sw", {}), 0.52, 100),
}
PAIR = ["ipl2", "ipl3", "mblj"]
GAMMAS = [0.05, -0.03, 1e-3]

_cache = {}


def model_of(key):
    if ("m", key) not in _cache:
        name, kw = CASES[key][0]
        _cache[("m", key)] = get_model(name, **kw)
    return _cache[("m", key)]


def reference_config(key, seed=5):
    """Reference coordinates s (a random non-overlapping configuration in the orthorhombic box), types, box."""
    if ("c", key, seed) not in _cache:
        _, rho, n = CASES[key]
        s = random_configuration(model_of(key), n, rho, seed=seed)
        _cache[("c", key, seed)] = (s.positions.copy(), np.asarray(s.types, np.int64), s.box.copy())
    s, t, b = _cache[("c", key, seed)]
    return s.copy(), t.copy(), b.copy()


def sheared_config(key, gamma, seed=5):
    """Lab positions x = H(gamma) s of the reference configuration: a valid configuration of the sheared cell."""
    s, t, b = reference_config(key, seed)
    return affine_shear(s, gamma), t, b


def le_min_image(x, box, gamma):
    """r_ij = x_j - x_i (N, N, d) with the Lees–Edwards minimum image."""
    dr = x[None, :, :] - x[:, None, :]
    ny = np.round(dr[..., 1] / box[1])
    dr[..., 0] -= ny * gamma * box[1]
    dr[..., 1] -= ny * box[1]
    dr[..., 0] -= box[0] * np.round(dr[..., 0] / box[0])
    if x.shape[1] == 3:
        dr[..., 2] -= box[2] * np.round(dr[..., 2] / box[2])
    return dr


def brute(model, x, types, box, gamma, what="energy"):
    """All-pairs energy (and SW all-triplets) with the LE minimum image; ``what="dU/dgamma"``: the derivative at
    fixed reference positions, sum_pairs phi'(r) r_x r_y / r = -sum_pairs s r_x r_y (pair models)."""
    dr = le_min_image(np.asarray(x, float), box, gamma)
    r = np.sqrt((dr**2).sum(-1))
    iu, ju = np.triu_indices(len(x), 1)
    out = 0.0
    for a in range(model.n_types):
        for b in range(model.n_types):
            sel = (types[iu] == a) & (types[ju] == b)
            i, j = iu[sel], ju[sel]
            u, s, _ = model.phi(r[i, j], a, b)
            if what == "energy":
                out += u.sum()
            else:
                out += -np.sum(s * dr[i, j, 0] * dr[i, j, 1])
    if model.three_body is not None and what == "energy":
        lam, cos0, gam, acut = model.three_body[:4]
        for i in range(len(x)):
            nb = np.flatnonzero((r[i] < acut) & (np.arange(len(x)) != i))
            p, q = np.triu_indices(len(nb), 1)
            R, rr = dr[i, nb], r[i, nb]
            c = np.sum(R[p] * R[q], axis=1) / (rr[p] * rr[q])
            out += np.sum(lam * (c - cos0) ** 2 * np.exp(gam / (rr[p] - acut) + gam / (rr[q] - acut)))
    return out


def lattice_shift(box, gamma, n):
    """n_x L_x e_x + n_y L_y (gamma e_x + e_y) + n_z L_z e_z for integer rows n (N, d)."""
    out = n * box
    out[:, 0] += gamma * n[:, 1] * box[1]
    return out


# ----------------------------------------------------------------------------------------------------------------
# image_table, affine_shear, wrap_sheared
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("d", [2, 3])
def test_image_table_rows(d):
    box = np.array([5.0, 7.0, 11.0][:d])
    plain = image_table(box)
    assert np.array_equal(plain, image_table(box, 0.0))
    g = 0.07
    tab = image_table(box, g)
    for c in range(27):
        n = np.array([(c // 3**k) % 3 - 1 for k in range(3)])
        if c >= 3**d:
            assert np.all(tab[c] == 0) and np.all(plain[c] == 0)
            continue
        want = np.zeros(3)
        want[:d] = n[:d] * box
        assert np.array_equal(plain[c], want)
        want[0] += g * n[1] * box[1]
        assert np.allclose(tab[c], want, rtol=0, atol=1e-14)


def test_affine_shear_and_wrap():
    rng = np.random.default_rng(0)
    box = np.array([4.0, 5.0, 6.0])
    x = rng.uniform(-20, 20, (50, 3))
    g = 0.08
    y = affine_shear(x, g)
    assert np.array_equal(y[:, 1:], x[:, 1:]) and np.allclose(y[:, 0], x[:, 0] + g * x[:, 1])
    assert np.allclose(affine_shear(y, -g), x, atol=1e-13)
    w = wrap_sheared(y, box, g)
    assert np.all(w >= 0) and np.all(w < box)
    # w - y is a lattice vector of the sheared cell: integer in the reference coordinates
    n = (affine_shear(w, -g) - affine_shear(y, -g)) / box
    assert np.allclose(n, np.round(n), atol=1e-12)
    # wrapping y alone (x % box) is not a lattice translation once sheared
    n2 = (affine_shear(y % box, -g) - affine_shear(y, -g)) / box
    assert not np.allclose(n2, np.round(n2), atol=1e-6)
    with pytest.raises(ValueError):
        affine_shear(np.zeros((3, 4)), 0.1)


# ----------------------------------------------------------------------------------------------------------------
# Energies against the Lees–Edwards brute force
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("key", list(CASES))
def test_energy_matches_lees_edwards_brute_force(key, gamma):
    """ForceField(shear=gamma) on H(gamma) s equals the LE brute force (SW: pair plus three-body), whichever periodic
    image of the sheared lattice the positions are given in."""
    m = model_of(key)
    x, types, box = sheared_config(key, gamma)
    ref = brute(m, x, types, box, gamma)
    ff = ForceField(m, box, shear=gamma)
    U, F, W = ff.compute(x, types)
    assert U == pytest.approx(ref, rel=1e-11)
    # the shear matters: the unsheared minimum image gives another energy
    assert abs(brute(m, x, types, box, 0.0) - ref) > 1e-8 * abs(ref) or abs(gamma) < 0.01
    rng = np.random.default_rng(1)
    n = rng.integers(-2, 3, x.shape)
    for z in (x + lattice_shift(box, gamma, n), wrap_sheared(x, box, gamma)):
        for f in (ff, ForceField(m, box, shear=gamma)):
            U2, F2, W2 = f.compute(z, types)
            assert U2 == pytest.approx(ref, rel=1e-11)
            assert np.abs(F2 - F).max() <= 1e-10 * np.abs(F).max()
            assert W2 == pytest.approx(W, rel=1e-10, abs=1e-10 * abs(U))


@pytest.mark.parametrize("key", list(CASES))
def test_small_skin_needs_enlarged_list_cutoff(key):
    """With a tiny skin, pairs within r_c in the lab can lie beyond r_c + skin in reference coordinates: the list
    cut-off must be r_c (1 + |gamma|) for the energy to be right."""
    m = model_of(key)
    gamma = 0.1
    x, types, box = sheared_config(key, gamma, seed=9)
    ff = ForceField(m, box, skin=0.01, shear=gamma)
    assert ff.compute(x, types)[0] == pytest.approx(brute(m, x, types, box, gamma), rel=1e-11)


def test_api_for_other_drivers():
    """update / frame / tab / nl are what compiled drivers (e.g. a Hessian) use: they reproduce compute()."""
    for key, gamma in (("ipl3", 0.05), ("sw", -0.03)):
        m = model_of(key)
        x, types, box = sheared_config(key, gamma)
        ff = ForceField(m, box, shear=gamma)
        assert ff.shear == gamma and ff.tab.shape == (27, 3)
        assert np.array_equal(ff.tab, image_table(box, gamma))
        z = x + lattice_shift(box, gamma, np.random.default_rng(2).integers(-1, 2, x.shape))
        ff.update(z, types)
        xf = ff.frame(z)
        nl = ff.nl
        e, f, w = compute_any(xf, ff.tab, types, nl.nlist, nl.image, nl.counts, m.kind, m.params, m.rcut**2,
                              m.three_body_array, numba.get_num_threads(), pair_loop_flag())
        U, F, W = ff.compute(z, types)
        assert e == U and np.array_equal(f, F) and w == W
        # frame(z) is z up to lattice translations of the sheared cell
        n = (affine_shear(xf, -gamma) - affine_shear(z, -gamma)) / box
        assert np.allclose(n, np.round(n), atol=1e-12)
        assert not ff.update(z + 1e-3, types)   # small moves keep the list


# ----------------------------------------------------------------------------------------------------------------
# Forces and the shear derivative
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("key", list(CASES))
def test_forces_match_finite_differences_sheared(key, one_thread):
    m = model_of(key)
    gamma = 0.05
    x, types, box = sheared_config(key, gamma)
    ff = ForceField(m, box, shear=gamma)
    U, F, W = ff.compute(x, types)
    rng = np.random.default_rng(3)
    h = 1e-6
    fd, an = [], []
    for i in rng.choice(len(x), size=8, replace=False):
        for k in range(x.shape[1]):
            y = x.copy()
            y[i, k] += h
            up = ff.compute(y, types)[0]
            y[i, k] -= 2 * h
            um = ff.compute(y, types)[0]
            fd.append(-(up - um) / (2 * h))
            an.append(F[i, k])
    fd, an = np.array(fd), np.array(an)
    assert np.abs(fd - an).max() <= 1e-6 * np.abs(F).max()
    assert np.abs(F).max() > 1.0
    assert np.all(np.abs(F.sum(axis=0)) <= 1e-10 * np.abs(F).sum(axis=0))


@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("key", PAIR)
def test_dU_dgamma_at_fixed_reference_positions(key, gamma, one_thread):
    """dU/dgamma at fixed s (x = H(gamma) s) = sum_pairs phi'(r) r_x r_y / r (the xy stress times the volume)
    equals the central (5-point) difference of U(gamma) from ForceField(shear=gamma +- h) on H(gamma +- h) s."""
    m = model_of(key)
    s, types, box = reference_config(key)

    def U(g):
        return ForceField(m, box, shear=g).compute(affine_shear(s, g), types)[0]
    h = 1e-4
    fd = (-U(gamma + 2 * h) + 8 * U(gamma + h) - 8 * U(gamma - h) + U(gamma - 2 * h)) / (12 * h)
    an = brute(m, affine_shear(s, gamma), types, box, gamma, what="dU/dgamma")
    assert fd == pytest.approx(an, rel=1e-7, abs=1e-9 * abs(U(gamma)))
    assert abs(an) > 1e-3


# ----------------------------------------------------------------------------------------------------------------
# The list under motion
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("key,gamma,steps", [("ipl2", 0.05, 150), ("ipl3", -0.08, 60), ("sw", 0.03, 40)])
def test_list_follows_moving_particles(key, gamma, steps, one_thread):
    """Random displacements (and jumps by lattice vectors of the sheared cell): after every step the energy equals
    the brute force; the list rebuilds on the way."""
    m = model_of(key)
    x, types, box = sheared_config(key, gamma, seed=13)
    ff = ForceField(m, box, shear=gamma)
    rng = np.random.default_rng(4)
    builds0 = None
    for step in range(steps):
        x = x + rng.uniform(-0.03, 0.03, x.shape)
        if step % 10 == 5:
            jump = rng.integers(-1, 2, x.shape) * (rng.random((len(x), 1)) < 0.2)
            x = x + lattice_shift(box, gamma, jump)
        if step % 17 == 3:
            x = wrap_sheared(x, box, gamma)
        U = ff.compute(x, types)[0]
        builds0 = ff.nl.n_builds if builds0 is None else builds0
        assert U == pytest.approx(brute(m, x, types, box, gamma), rel=1e-10), step
    assert ff.nl.n_builds >= builds0 + 2


# ----------------------------------------------------------------------------------------------------------------
# Quench at fixed shear
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("key,gamma", [("ipl2", 0.05), ("ipl3", -0.04), ("sw", 0.02)])
def test_quench_at_fixed_shear(key, gamma):
    m = model_of(key)
    x, types, box = sheared_config(key, gamma, seed=21)
    system = System(wrap_sheared(x, box, gamma), box, types)
    ihs, res = quench(system, m, method="cg", ftol=1e-10, shear=gamma)
    assert res.converged, res.summary()
    assert res.max_force < 1e-10
    assert np.all(ihs.positions >= 0) and np.all(ihs.positions < box)
    # the stored positions are the minimiser's configuration up to translations of the sheared lattice
    n = (affine_shear(ihs.positions, -gamma) - affine_shear(res.x, -gamma)) / box
    assert np.allclose(n, np.round(n), atol=1e-10)
    U, F, _ = ForceField(m, box, shear=gamma).compute(ihs.positions, types)
    assert np.linalg.norm(F, axis=1).max() < 1e-10
    assert U == pytest.approx(res.energy, rel=1e-12)
    assert U == pytest.approx(brute(m, ihs.positions, types, box, gamma), rel=1e-11)
    # a minimum of the sheared cell is not one of the unsheared cell
    F0 = ForceField(m, box).compute(ihs.positions, types)[1]
    assert np.linalg.norm(F0, axis=1).max() > 1e-6


# ----------------------------------------------------------------------------------------------------------------
# Bad input
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [0.1000001, -0.2, 1.0, np.nan, np.inf, -np.inf, "abc", None])
def test_bad_shear_raises(bad):
    m = model_of("ipl2")
    _, types, box = reference_config("ipl2")
    with pytest.raises(ValueError, match="shear"):
        ForceField(m, box, shear=bad)
    system = random_configuration(m, 60, 0.86, seed=1)
    with pytest.raises(ValueError, match="shear"):
        quench(system, m, shear=bad)


def test_shear_limits_accepted_and_box_check():
    m = model_of("ipl2")
    _, _, box = reference_config("ipl2")
    for g in (0.1, -0.1, 0, 0.0):
        assert ForceField(m, box, shear=g).shear == float(g)
    # a box that fits r_c + skin but not r_c (1 + |gamma|) + skin
    L = 2 * (m.rcut_max + 0.3) + 0.1
    ForceField(m, np.full(2, L))
    with pytest.raises(ValueError, match="shear"):
        ForceField(m, np.full(2, L), shear=0.1)
