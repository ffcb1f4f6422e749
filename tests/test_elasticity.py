"""Athermal shear modulus (meso_kernels.elasticity): the Born term and Ξ against finite differences of the analytic
shear stress, and G against the finite-strain route (shear the Lees–Edwards cell by ±γ, re-minimise, stress
difference over 2γ) on a small glass of every model."""
import numpy as np
import pytest

from meso_kernels.elasticity import shear_derivatives, shear_modulus
from meso_kernels.forces import affine_shear
from meso_kernels.hessian import build_terms, find_rattlers
from meso_kernels.quench import quench
from meso_kernels.system import System

from conftest import make_glass


pytestmark = pytest.mark.usefixtures("one_thread")


def dudg(system, model, gamma, positions=None):
    return shear_derivatives(build_terms(system, model, shear=gamma, positions=positions))[0]


def test_shear_stress_is_the_strain_derivative_of_the_energy(glass):
    """dU/dγ (analytic, from the terms) = central difference of U under affine shear of positions and cell."""
    name, m, ihs = glass
    h = 1e-6
    e = [build_terms(ihs, m, shear=g, positions=affine_shear(ihs.positions, g)).energy for g in (-2 * h, -h, h, 2 * h)]
    fd = (e[0] - 8 * e[1] + 8 * e[2] - e[3]) / (12 * h)
    assert dudg(ihs, m, 0.0) == pytest.approx(fd, rel=1e-6, abs=1e-6)


def test_born_term_and_xi_against_finite_differences(glass):
    name, m, ihs = glass
    t = build_terms(ihs, m)
    _, born, xi = shear_derivatives(t)
    h = 1e-6
    s = [dudg(ihs, m, g, affine_shear(ihs.positions, g)) for g in (-h, h)]
    assert born == pytest.approx((s[1] - s[0]) / (2 * h), rel=1e-6)
    # Ξ_k = d/dx_k (dU/dγ): central differences on a few coordinates
    rng = np.random.default_rng(0)
    for c in rng.choice(ihs.N * ihs.dim, size=12, replace=False):
        v = []
        for sgn in (-1, 1):
            x = ihs.positions.copy()
            x.flat[c] += sgn * h
            v.append(dudg(ihs, m, 0.0, x))
        assert xi.flat[c] == pytest.approx((v[1] - v[0]) / (2 * h), rel=1e-5, abs=1e-5 * np.abs(xi).max())


def test_G_against_finite_strain(glass):
    """G (Eq. A1) = [σ(+γ) - σ(-γ)] / 2γ with the glass re-minimised in a Lees–Edwards cell at each strain."""
    name, m, ihs = glass
    res = shear_modulus(ihs, m)
    # which glass the quench of conftest reaches depends on the CPU: whether it holds rattlers is not fixed (none of
    # 20 seeds had one), so the count is checked against the rattler finder instead of assumed to be 0
    assert res.converged and res.n_rattlers == int(find_rattlers(build_terms(ihs, m)).sum())
    gamma = 1e-6   # the error is O(γ²) with a large prefactor near a shear instability (SS here: 9e-5 at γ = 1e-5)
    sig = []
    for g in (-gamma, gamma):
        start = System(affine_shear(ihs.positions, g), ihs.box, ihs.types)
        q, r = quench(start, m, method="cg", ftol=1e-12, shear=g)
        assert r.converged
        sig.append(dudg(q, m, g) / np.prod(ihs.box))
    G_fd = (sig[1] - sig[0]) / (2 * gamma)
    assert res.G == pytest.approx(G_fd, rel=2e-5), (name, res.G, G_fd, res.born)
    assert res.G < res.born                  # the non-affine relaxation only softens


def test_dense_and_cg_agree(glass):
    name, m, ihs = glass
    a = shear_modulus(ihs, m, solver="cg")
    b = shear_modulus(ihs, m, solver="dense")
    assert a.G == pytest.approx(b.G, rel=1e-8)
    assert a.residual < 1e-11 and b.residual < 1e-8


def test_refuses_unminimised_and_bad_solver():
    m, ihs = make_glass("ipl2d")
    moved = System(np.mod(ihs.positions + 1e-3, ihs.box), ihs.box, ihs.types)
    moved.positions[0] += 0.01
    moved = System(np.mod(moved.positions, ihs.box), ihs.box, ihs.types)
    with pytest.raises(ValueError, match="not an inherent structure"):
        shear_modulus(moved, m)
    with pytest.raises(ValueError, match="solver"):
        shear_modulus(ihs, m, solver="lu")
