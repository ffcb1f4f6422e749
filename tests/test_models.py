"""The model registry: parameter tables, the paper's state points, and clear errors on bad input."""
import numpy as np
import pytest

from meso_kernels.forces import ForceField
from meso_kernels.models import available_models, get_model
from meso_kernels.models import ipl, sticky


def test_every_registered_model_builds_with_defaults():
    for name in available_models():
        m = get_model(name)
        assert m.params.shape[:2] == (m.n_types, m.n_types)
        assert np.allclose(m.rcut, m.rcut.T) and np.all(m.rcut > 0)
        assert np.allclose(m.params, m.params.transpose(1, 0, 2))
        assert abs(sum(m.fractions) - 1.0) < 1e-12
        assert m.counts(1000).sum() == 1000


@pytest.mark.parametrize("name, opts, rho, N, dt, tau, qmax", [
    ("ipl", {}, 0.82, 2000, 0.005, 0.2, 6.35),
    ("mblj", {}, 1.2, 8000, 0.005, 0.2, 7.25),
    ("ss", {"rho": 0.6}, 0.6, 3000, 0.005, 0.2, 5.47),
    ("ss", {"rho": 0.7}, 0.7, 4000, 0.003, 0.2, 5.87),
    ("ss", {"rho": 0.95}, 0.95, 4000, 0.002, 0.2, 6.40),
    ("sw", {}, 0.52, 8000, 0.065, 6.5, 6.28),
])
def test_state_points_are_those_of_table_one(name, opts, rho, N, dt, tau, qmax):
    m = get_model(name, **opts)
    sp = m.state_point
    assert (sp.rho, sp.N, sp.dt, sp.tau_nh) == (rho, N, dt, tau)
    assert sp.qmax[m.large] == qmax


def test_unknown_name_lists_the_allowed_ones():
    with pytest.raises(ValueError, match="unknown model name='lj'.*ipl, mblj, ka, ss, sw"):
        get_model("lj")


@pytest.mark.parametrize("name, bad, match", [
    ("ipl", {"dim": 4}, r"dim=4 is not allowed; allowed values: \(2, 3\)"),
    ("ss", {"rho": 0.65}, r"rho=0.65 is not allowed; allowed values: \(0.6, 0.7, 0.8, 0.95\)"),
    ("ka", {"shift": "none"}, r"shift='none' is not allowed; allowed values: \('energy', 'force'\)"),
    ("mblj", {"rc_bb": -1.0}, "rc_bb must be a positive number"),
    ("sw", {"lam": "strong"}, "lam must be a positive number"),
    ("sw", {"sigma": 1.0}, r"no parameter 'sigma'; allowed parameters: \['lam'\]"),
])
def test_bad_parameters_name_the_parameter_and_allowed_values(name, bad, match):
    with pytest.raises(ValueError, match=match):
        get_model(name, **bad)


def test_species_count_is_checked():
    assert get_model("ipl", n_types=2).n_types == 2
    with pytest.raises(ValueError, match="has 1 species; got n_types=2"):
        get_model("sw", n_types=2)


def test_ipl_cutoff_polynomial_makes_three_derivatives_vanish():
    m = get_model("ipl")
    for a, b in [(0, 0), (0, 1), (1, 1)]:
        rc = m.rcut[a, b]
        assert np.isclose(rc, ipl.X_CUT * ipl.LAMBDA[a, b])
        h = 1e-4 * rc
        u, s, u2 = m.phi(np.array([rc - 2 * h, rc - h, rc * (1 - 1e-12)]), a, b)
        assert abs(u[-1]) < 1e-12 and abs(s[-1]) < 1e-10 and abs(u2[-1]) < 1e-8
        # phi''' = 0 at r_c too: then phi''(r_c - h) ~ h^2 (ratio 4 between 2h and h), not ~ h (ratio 2)
        assert u2[0] / u2[1] == pytest.approx(4.0, rel=0.01)


def test_sticky_coefficients_solve_the_matching_conditions():
    assert np.allclose(sticky.solve_coeffs(), sticky.COEFFS, rtol=1e-9)


@pytest.mark.parametrize("pair, depth", [((0, 0), -0.256), ((0, 1), -1.395), ((1, 1), -0.270)])
def test_mblj_well_depths(pair, depth):
    """MODELS.md s. 2: the shortened cut-offs make the AA well shallow, while AB keeps a deep well."""
    m = get_model("mblj")
    r = np.linspace(0.7, m.rcut[pair], 20001)
    assert m.phi(r, *pair)[0].min() == pytest.approx(depth, abs=2e-3)


def test_mblj_bb_cutoff_is_a_parameter():
    m = get_model("mblj", rc_bb=1.32)
    assert m.rcut[1, 1] == 1.32 and m.rcut[0, 0] == 1.5 and m.rcut[0, 1] == 2.0
    r = np.linspace(0.7, 1.32, 20001)
    assert m.phi(r, 1, 1)[0].min() == pytest.approx(-0.128, abs=2e-3)


def test_overlapping_particles_give_a_clear_error():
    m = get_model("ipl")
    x = np.array([[1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [3.0, 3.0, 3.0]])
    ff = ForceField(m, np.full(3, 6.0))
    with pytest.raises(FloatingPointError, match="overlapping particles"):
        ff.compute(x, np.zeros(3, np.int64))
