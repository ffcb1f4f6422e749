"""Tests of meso_kernels.minimize: FIRE and PR+ CG on analytic functions and small Lennard-Jones clusters."""
import doctest
import math

import numpy as np
import pytest

from meso_kernels import minimize
from meso_kernels.minimize import MinimizeResult, cg, fire

METHODS = [fire, cg]
IDS = ["fire", "cg"]


# ---------------------------------------------------------------------------------------------------------------------
# test functions
# ---------------------------------------------------------------------------------------------------------------------

def make_bowl(k, c=0.0, e0=0.0):
    """E = e0 + ½ Σ k (x − c)²; minimum at c."""
    def bowl(x):
        dx = x - c
        return e0 + 0.5 * np.sum(k * dx * dx), -k * dx
    return bowl


def rosenbrock(x):
    """Independent 2D Rosenbrock functions, one per particle; minimum at (1, 1) for each, E = 0."""
    a, b = x[:, 0], x[:, 1]
    E = np.sum((1 - a) ** 2 + 100 * (b - a * a) ** 2)
    F = np.empty_like(x)
    F[:, 0] = 2 * (1 - a) + 400 * a * (b - a * a)
    F[:, 1] = -200 * (b - a * a)
    return E, F


def make_quartic(c, k, b, e0):
    """E = e0 + Σ_i [½ k_i |x_i − c_i|² + ¼ b |x_i − c_i|⁴]; minimum at c, E_min = e0."""
    def quartic(x):
        dx = x - c
        r2 = np.sum(dx * dx, axis=1)
        E = e0 + np.sum(0.5 * k * r2 + 0.25 * b * r2 * r2)
        F = -(k + b * r2)[:, None] * dx
        return E, F
    return quartic


def lj(x):
    """Full (uncut) Lennard-Jones energy and forces in free space, ε = σ = 1, any dimension."""
    dx = x[:, None, :] - x[None, :, :]
    r2 = np.einsum("ijk,ijk->ij", dx, dx)
    np.fill_diagonal(r2, 1.0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ir6 = 1.0 / r2 ** 3
        e = 4.0 * (ir6 * ir6 - ir6)
        s = (48.0 * ir6 * ir6 - 24.0 * ir6) / r2          # −u'(r)/r
        np.fill_diagonal(e, 0.0)
        np.fill_diagonal(s, 0.0)
        F = np.einsum("ij,ijk->ik", s, dx)
    return 0.5 * e.sum(), F


def icosahedral_lj13(noise, seed):
    """Centred icosahedron with centre–vertex distance 1.1, perturbed by Gaussian noise."""
    phi = (1 + 5 ** 0.5) / 2
    v = []
    for a in (-1, 1):
        for b in (-phi, phi):
            v += [(0, a, b), (a, b, 0), (b, 0, a)]
    v = np.array(v, float)
    v *= 1.1 / np.linalg.norm(v[0])
    x = np.vstack([[0.0, 0.0, 0.0], v])
    return x + np.random.default_rng(seed).normal(scale=noise, size=x.shape)


def max_force(F):
    return float(np.sqrt(np.sum(F * F, axis=1)).max())


def fd_hessian(energy_forces, x, h=1e-5):
    """Central finite-difference Hessian from forces."""
    n = x.size
    H = np.empty((n, n))
    for j in range(n):
        xp = x.copy().ravel()
        xm = x.copy().ravel()
        xp[j] += h
        xm[j] -= h
        Fp = energy_forces(xp.reshape(x.shape))[1].ravel()
        Fm = energy_forces(xm.reshape(x.shape))[1].ravel()
        H[:, j] = -(Fp - Fm) / (2 * h)
    return 0.5 * (H + H.T)


# ---------------------------------------------------------------------------------------------------------------------
# convergence on analytic functions
# ---------------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", METHODS, ids=IDS)
def test_anisotropic_quadratic_bowl(method):
    rng = np.random.default_rng(0)
    N, d = 40, 3
    k = np.logspace(0, np.log10(50), N * d).reshape(N, d)      # condition number 50
    bowl = make_bowl(k)
    x0 = rng.normal(scale=0.3, size=(N, d))
    x0_copy = x0.copy()
    res = method(bowl, x0)
    assert isinstance(res, MinimizeResult)
    assert res.converged and res.method == method.__name__
    assert res.x.shape == x0.shape
    np.testing.assert_array_equal(x0, x0_copy)                  # input untouched
    E, F = bowl(res.x)
    assert res.max_force < 1e-10
    assert max_force(F) == pytest.approx(res.max_force, rel=1e-12)
    assert res.energy == E
    assert np.abs(res.x).max() < 1e-10                          # |x_a| <= |F_a| / k_a <= 1e-10
    assert res.n_force_evals >= res.n_iter + 1
    if method is cg:
        assert res.n_iter <= N * d                              # CG: O(n) iterations on a quadratic
        assert res.n_force_evals <= 3 * res.n_iter + 1
    else:
        assert res.n_iter <= 3000
        assert res.n_force_evals == res.n_iter + 1


def test_cg_quadratic_few_distinct_eigenvalues():
    """CG with near-exact line searches ends in ~(number of distinct eigenvalues) iterations."""
    rng = np.random.default_rng(1)
    N, d = 10, 3
    k = rng.choice([1.0, 4.0, 16.0], size=(N, d))
    res = cg(make_bowl(k), rng.normal(scale=0.05, size=(N, d)), max_step=None)
    assert res.converged and res.max_force < 1e-10
    assert res.n_iter <= 6


@pytest.mark.parametrize("method", METHODS, ids=IDS)
def test_rosenbrock(method):
    x0 = np.array([[-1.2, 1.0], [0.0, 0.0], [2.0, 2.5], [0.9, 0.7]])
    res = method(rosenbrock, x0)
    assert res.converged
    assert max_force(rosenbrock(res.x)[1]) < 1e-10
    np.testing.assert_allclose(res.x, 1.0, atol=1e-8)
    assert res.energy < 1e-16


@pytest.mark.parametrize("method", METHODS, ids=IDS)
def test_shifted_quartic_with_large_energy_offset(method):
    """A constant E offset of 1e6 puts the energy changes near the minimum (~1e-20) far below round-off (~1e-10):
    the minimisers must still converge on forces."""
    rng = np.random.default_rng(2)
    N, d = 20, 3
    c = rng.uniform(-2, 2, size=(N, d))
    k = rng.uniform(0.5, 5.0, size=N)
    quartic = make_quartic(c, k, b=3.0, e0=-1.0e6)
    x0 = c + rng.normal(scale=0.4, size=(N, d))
    res = method(quartic, x0)
    assert res.converged and res.max_force < 1e-10
    np.testing.assert_allclose(res.x, c, rtol=0, atol=1e-10 / 0.5)
    assert res.energy == pytest.approx(-1.0e6, abs=1e-9)


@pytest.mark.parametrize("method", METHODS, ids=IDS)
def test_already_converged(method):
    k = np.array([1.0, 2.0])
    res = method(make_bowl(k), np.zeros((3, 2)))
    assert res.converged and res.n_iter == 0 and res.n_force_evals == 1
    assert res.max_force == 0.0


def test_cg_force_buffer_reuse():
    """energy_forces may return the same array every call; CG must not alias its old and new forces."""
    N, d = 30, 2
    k = np.logspace(0, np.log10(50), N * d).reshape(N, d)
    buf = np.empty((N, d))

    def bowl_reusing(x):
        np.multiply(-k, x, out=buf)
        return 0.5 * np.sum(k * x * x), buf

    x0 = np.random.default_rng(3).normal(scale=0.3, size=(N, d))
    res = cg(bowl_reusing, x0)
    ref = cg(make_bowl(k), x0)
    assert res.converged
    assert (res.n_iter, res.n_force_evals) == (ref.n_iter, ref.n_force_evals)
    np.testing.assert_array_equal(res.x, ref.x)
    assert max_force(-k * res.x) == pytest.approx(res.max_force, rel=1e-12)


def test_cg_line_search_does_not_jump_a_barrier():
    """1D: a local minimum near x = 0.42 behind which a Gaussian barrier at x = 1 hides the global one at x = 3.
    A first trial step landing on the far side of the barrier (downhill there, but higher than the start) must be
    rejected by the energy guard, so that CG quenches into the basin it started in and never goes uphill."""
    def two_basins(x):
        g = np.exp(-((x - 1.0) / 0.3) ** 2)
        E = np.sum(0.05 * (x - 3.0) ** 2 + g)
        return E, -(0.1 * (x - 3.0) - 2.0 * (x - 1.0) / 0.09 * g)

    x0 = np.zeros((1, 1))
    E0 = two_basins(x0)[0]
    energies = []
    res = cg(two_basins, x0, max_step=None, initial_step=1.2, callback=lambda k, x, E, F: energies.append(E))
    assert res.converged
    assert 0.3 < res.x[0, 0] < 0.6
    assert max(energies + [res.energy]) <= E0


# ---------------------------------------------------------------------------------------------------------------------
# Lennard-Jones clusters
# ---------------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", METHODS, ids=IDS)
def test_lj13_icosahedron_reaches_global_minimum(method):
    """A perturbed 13-particle icosahedron quenches to the LJ13 global minimum, E = −44.326801 ε
    (Wales & Doye, J. Phys. Chem. A 101, 5111 (1997)), a true minimum (Hessian positive apart from 6 zero modes)."""
    x0 = icosahedral_lj13(noise=0.05, seed=1)
    E0 = lj(x0)[0]
    energies = []
    res = method(lj, x0, callback=lambda k, x, E, F: energies.append(E))
    assert res.converged
    E, F = lj(res.x)
    assert max_force(F) < 1e-10 and res.max_force < 1e-10
    assert res.energy == pytest.approx(E, abs=1e-12)
    assert E < E0
    assert E == pytest.approx(-44.326801, abs=1e-6)
    ev = np.linalg.eigvalsh(fd_hessian(lj, res.x))
    assert np.all(np.abs(ev[:6]) < 1e-4) and ev[6] > 1.0
    if method is cg:                                           # CG never goes uphill (up to round-off)
        assert np.all(np.diff([E0] + energies) <= 1e-10 * abs(E0))
    assert len(energies) == res.n_iter - 1                     # callback runs after every unconverged iteration


@pytest.mark.parametrize("method", METHODS, ids=IDS)
def test_lj_cluster_2d_from_random_start(method):
    rng = np.random.default_rng(4)                             # a loose, disordered 4x4 patch
    grid = np.array([(i, j) for i in range(4) for j in range(4)], float) * 1.3
    x0 = grid + rng.uniform(-0.2, 0.2, size=grid.shape)
    assert (np.linalg.norm(x0[:, None] - x0[None], axis=-1) + 10 * np.eye(16)).min() > 0.85
    E0 = lj(x0)[0]
    res = method(lj, x0)
    assert res.converged
    E, F = lj(res.x)
    assert max_force(F) < 1e-10
    assert E < E0 - 1.0
    ev = np.linalg.eigvalsh(fd_hessian(lj, res.x))
    assert ev[0] > -1e-4                                       # a minimum, not a saddle (3 zero modes in 2D)
    assert np.sum(ev < 1e-4) == 3


@pytest.mark.parametrize("method", METHODS, ids=IDS)
def test_max_step_caps_displacements(method):
    x0 = icosahedral_lj13(noise=0.12, seed=5)
    xs = [x0.copy()]
    res = method(lj, x0, max_step=0.02, callback=lambda k, x, E, F: xs.append(x.copy()))
    assert res.converged
    xs.append(res.x)
    moves = [np.sqrt(np.sum((b - a) ** 2, axis=1)).max() for a, b in zip(xs[:-1], xs[1:])]
    # FIRE's half step back on P < 0 may add at most half a capped step to an iteration
    limit = 0.02 * (1.5 if method is fire else 1.0) * (1 + 1e-9)
    assert max(moves) <= limit
    assert max(moves) > 0.5 * 0.02                             # the cap was actually active


# ---------------------------------------------------------------------------------------------------------------------
# non-convergence, callbacks, validation
# ---------------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", METHODS, ids=IDS)
def test_not_converged_with_tiny_max_steps(method):
    x0 = icosahedral_lj13(noise=0.1, seed=2)
    with pytest.warns(RuntimeWarning, match="did not converge"):
        res = method(lj, x0, max_steps=3)
    assert res.converged is False
    assert res.n_iter == 3
    assert res.max_force > 1e-10
    assert res.max_force == pytest.approx(max_force(lj(res.x)[1]), rel=1e-12)
    assert "max_steps" in res.message
    assert "NOT converged" in res.summary() and "NOT converged" in str(res)
    assert "converged=False" in repr(res)


@pytest.mark.parametrize("method", METHODS, ids=IDS)
def test_callback_stops(method):
    x0 = icosahedral_lj13(noise=0.1, seed=2)
    with pytest.warns(RuntimeWarning):
        res = method(lj, x0, callback=lambda k, x, E, F: k >= 2)
    assert res.n_iter == 2 and not res.converged and "callback" in res.message


@pytest.mark.parametrize("method", METHODS, ids=IDS)
@pytest.mark.parametrize("kwargs, name", [
    (dict(ftol=0.0), "ftol"), (dict(ftol=-1e-10), "ftol"), (dict(ftol=float("nan")), "ftol"),
    (dict(max_steps=0), "max_steps"), (dict(max_steps=2.5), "max_steps"),
    (dict(max_step=0.0), "max_step"),
])
def test_bad_parameters(method, kwargs, name):
    with pytest.raises(ValueError, match=name):
        method(make_bowl(1.0), np.ones((2, 2)), **kwargs)


@pytest.mark.parametrize("kwargs, name", [
    (dict(dt_start=0.0), "dt_start"), (dict(dt_max=0.05), "dt_max"), (dict(n_min=-1), "n_min"),
    (dict(f_inc=0.9), "f_inc"), (dict(f_dec=1.0), "f_dec"), (dict(alpha_start=0.0), "alpha_start"),
    (dict(f_alpha=1.5), "f_alpha"),
])
def test_bad_fire_parameters(kwargs, name):
    with pytest.raises(ValueError, match=name):
        fire(make_bowl(1.0), np.ones((2, 2)), **kwargs)


@pytest.mark.parametrize("kwargs, name", [
    (dict(sigma=1.0), "sigma"), (dict(initial_step=0.0), "initial_step"), (dict(restart_every=0), "restart_every"),
    (dict(max_line_search=1), "max_line_search"), (dict(energy_rtol=-1.0), "energy_rtol"),
])
def test_bad_cg_parameters(kwargs, name):
    with pytest.raises(ValueError, match=name):
        cg(make_bowl(1.0), np.ones((2, 2)), **kwargs)


@pytest.mark.parametrize("method", METHODS, ids=IDS)
@pytest.mark.parametrize("x0", [np.ones(4), np.ones((2, 2, 2)), np.ones((0, 3)),
                                np.array([[0.0, np.nan]]), np.array([[np.inf, 0.0]])])
def test_bad_x0(method, x0):
    with pytest.raises(ValueError, match="x0"):
        method(make_bowl(1.0), x0)


@pytest.mark.parametrize("method", METHODS, ids=IDS)
def test_overlapping_particles_raise(method):
    x0 = icosahedral_lj13(noise=0.0, seed=0)
    x0[1] = x0[0]                                              # two particles on top of each other
    with pytest.raises(ValueError, match=r"non-finite energy or force at iteration 0: overlapping particles\?"):
        method(lj, x0)


@pytest.mark.parametrize("method", METHODS, ids=IDS)
def test_non_finite_later_reports_iteration(method):
    calls = []

    def bad_later(x):
        calls.append(1)
        E, F = make_bowl(1.0)(x)
        return (np.nan, F) if len(calls) > 3 else (E, F)

    with pytest.raises(ValueError, match=r"non-finite energy or force at iteration [1-9]"):
        method(bad_later, np.ones((3, 2)))


@pytest.mark.parametrize("method", METHODS, ids=IDS)
def test_wrong_force_shape_and_not_callable(method):
    with pytest.raises(ValueError, match="energy_forces"):
        method(lambda x: (0.0, np.ones(x.size)), np.ones((3, 2)))
    with pytest.raises(TypeError, match="energy_forces"):
        method(None, np.ones((3, 2)))


def test_docstring_example():
    failures, tried = doctest.testmod(minimize, raise_on_error=False, verbose=False)[:2]
    assert tried >= 5 and failures == 0


def test_fire_and_cg_agree_on_lj13():
    x0 = icosahedral_lj13(noise=0.03, seed=7)
    a, b = fire(lj, x0), cg(lj, x0)
    assert a.converged and b.converged
    assert math.isclose(a.energy, b.energy, abs_tol=1e-10)
    # same basin, same structure up to a rigid rotation (a zero mode of the free cluster): compare distances
    dist = lambda x: np.linalg.norm(x[:, None] - x[None], axis=-1)
    assert np.abs(dist(a.x) - dist(b.x)).max() < 1e-8
