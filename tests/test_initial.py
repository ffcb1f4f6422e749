"""Random initial configurations and Maxwell–Boltzmann velocities."""
import warnings

import numpy as np
import pytest

from meso_kernels.initial import contact_distances, default_min_dist, maxwell_boltzmann, random_configuration
from meso_kernels.models import get_model
from meso_kernels.system import System


def _pair_distances(s):
    """All pair distances (minimum image) and the pair species, brute force."""
    i, j = np.triu_indices(s.N, 1)
    dr = s.positions[j] - s.positions[i]
    dr -= s.box * np.round(dr / s.box)
    return np.linalg.norm(dr, axis=1), s.types[i], s.types[j]


def test_contact_distance_is_where_phi_reaches_the_energy():
    m = get_model("ipl")
    d = contact_distances(m, energy=5.0)
    assert np.allclose(d, d.T)
    for a in range(2):
        for b in range(2):
            assert m.phi(d[a, b], a, b)[0][0] == pytest.approx(5.0, rel=1e-8)
            assert m.phi(d[a, b] * 1.001, a, b)[0][0] < 5.0
    # IPL lambda ratios 1 : 1.18 : 1.40 carry over
    assert d[0, 1] / d[0, 0] == pytest.approx(1.18, rel=1e-3) and d[1, 1] / d[0, 0] == pytest.approx(1.4, rel=1e-3)
    assert np.allclose(default_min_dist(m), 0.75 * d)
    with pytest.raises(ValueError, match="energy must be"):
        contact_distances(m, energy=-1.0)


@pytest.mark.parametrize("name, kw, N, rho", [
    ("ipl", {"dim": 2}, 400, 0.86),
    ("ipl", {}, 500, 0.82),
    ("mblj", {}, 500, 1.2),
    ("ss", {"rho": 0.95}, 500, 0.95),
    ("sw", {}, 300, 0.52),
])
def test_no_pair_closer_than_min_dist_and_composition(name, kw, N, rho):
    m = get_model(name, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # these densities must not need the lattice fallback
        s = random_configuration(m, N, rho, seed=3)
    assert isinstance(s, System) and s.N == N and s.dim == m.dim
    assert np.allclose(s.box, (N / rho) ** (1 / m.dim)) and s.density == pytest.approx(rho)
    assert np.all((s.positions >= 0) & (s.positions < s.box))
    assert np.array_equal(np.bincount(s.types, minlength=m.n_types), m.counts(N))
    r, ta, tb = _pair_distances(s)
    md = default_min_dist(m)
    assert np.all(r >= md[ta, tb])
    s.check_model(m)


def test_species_are_shuffled():
    s = random_configuration(get_model("ipl"), 400, 0.82, seed=0)
    # 200 small then 200 large would be unshuffled; shuffled halves hold both species
    assert 50 < np.count_nonzero(s.types[:200] == 1) < 150


def test_custom_min_dist():
    m = get_model("ipl", dim=2)
    s = random_configuration(m, 200, 0.5, seed=5, min_dist=1.1)
    assert _pair_distances(s)[0].min() >= 1.1
    s = random_configuration(m, 200, 0.5, seed=5, min_dist=[[0.5, 0.9], [0.9, 1.3]])
    r, ta, tb = _pair_distances(s)
    assert np.all(r >= np.array([[0.5, 0.9], [0.9, 1.3]])[ta, tb])
    with pytest.raises(ValueError, match=r"min_dist must be None, a number or an array of shape \(2, 2\)"):
        random_configuration(m, 200, 0.5, seed=5, min_dist=[1.0, 1.0])
    with pytest.raises(ValueError, match="min_dist must be symmetric"):
        random_configuration(m, 200, 0.5, seed=5, min_dist=[[0.5, 0.9], [0.1, 1.3]])
    with pytest.raises(ValueError, match="min_dist must be finite and >= 0"):
        random_configuration(m, 200, 0.5, seed=5, min_dist=-1.0)


def test_deterministic_per_seed():
    m = get_model("mblj")
    a = random_configuration(m, 300, 1.2, seed=11)
    b = random_configuration(m, 300, 1.2, seed=11)
    c = random_configuration(m, 300, 1.2, seed=12)
    assert np.array_equal(a.positions, b.positions) and np.array_equal(a.types, b.types)
    assert not np.allclose(a.positions, c.positions)


def test_lattice_fallback_warns():
    m = get_model("ipl")
    with pytest.warns(RuntimeWarning, match="fell back to a jittered lattice"):
        s = random_configuration(m, 216, 2.0, seed=1, max_tries=50)
    assert s.N == 216 and s.density == pytest.approx(2.0)
    assert np.array_equal(np.bincount(s.types), m.counts(216))
    r = _pair_distances(s)[0]
    a = (216 / 2.0) ** (1 / 3) / 6
    assert r.min() >= 0.9 * a - 1e-12  # jittered lattice: no two particles on top of each other


@pytest.mark.parametrize("kwargs, match", [
    (dict(N=100, rho=0.0), "rho must be a positive"),
    (dict(N=100, rho=-1.0), "rho must be a positive"),
    (dict(N=100, rho=float("nan")), "rho must be a positive"),
    (dict(N=1, rho=1.0), "N must be an integer >= 2"),
    (dict(N=10.5, rho=1.0), "N must be an integer >= 2"),
])
def test_random_configuration_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        random_configuration(get_model("ipl"), seed=0, **kwargs)


@pytest.mark.parametrize("dim", [2, 3])
def test_maxwell_boltzmann(dim):
    N, T = 4000, 0.731
    v = maxwell_boltzmann(N, dim, T, seed=4)
    assert v.shape == (N, dim)
    assert np.all(np.abs(v.sum(axis=0)) < 1e-11)  # zero total momentum (unit masses)
    assert np.sum(v * v) / (dim * (N - 1)) == pytest.approx(T, rel=1e-13)  # exactly T with d(N-1) dof
    s = System(np.full((N, dim), 0.5), np.ones(dim), velocities=v)
    assert s.temperature() == pytest.approx(T, rel=1e-13)
    # Gaussian components: 68.3 % within one standard deviation (a uniform law would give 57.7 %)
    frac = np.mean(np.abs(v) < np.sqrt(T))
    assert abs(frac - 0.6827) < 0.015
    assert np.array_equal(v, maxwell_boltzmann(N, dim, T, seed=4))
    assert not np.allclose(v, maxwell_boltzmann(N, dim, T, seed=5))


def test_maxwell_boltzmann_zero_and_errors():
    assert not maxwell_boltzmann(10, 3, 0.0, seed=1).any()
    with pytest.raises(ValueError, match="T must be a finite temperature >= 0"):
        maxwell_boltzmann(10, 3, -0.1, seed=1)
    with pytest.raises(ValueError, match="N must be an integer >= 2"):
        maxwell_boltzmann(1, 3, 1.0, seed=1)
    with pytest.raises(ValueError, match="dim must be 2 or 3"):
        maxwell_boltzmann(10, 4, 1.0, seed=1)
