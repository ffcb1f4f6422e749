"""Reduced units a0, t0 and the ballistic MSD (meso_kernels.analysis.units)."""
import numpy as np
import pytest

from meso_kernels.analysis.units import a0, ballistic_msd, t0


def test_a0_is_the_mean_interparticle_distance():
    # N particles in V: a0^d = V / N exactly
    for dim, N, L in [(2, 1000, 35.0), (3, 1000, 10.5)]:
        rho = N / L ** dim
        assert a0(rho, dim) ** dim == pytest.approx(L ** dim / N, rel=1e-14)
    assert a0(0.125) == pytest.approx(2.0, rel=1e-15)
    assert a0(0.25, dim=2) == pytest.approx(2.0, rel=1e-15)


def test_t0_and_ballistic_msd_in_reduced_units():
    rho, T = 0.82, 0.47
    assert t0(rho, T) == pytest.approx(a0(rho) / np.sqrt(T), rel=1e-15)
    assert t0(1.0, 4.0) == pytest.approx(0.5, rel=1e-15)
    t = np.array([0.0, 0.1, 1.0, 3.0])
    for dim in (2, 3):
        msd = ballistic_msd(t, rho, T, dim)
        assert isinstance(msd, np.ndarray) and msd.shape == t.shape
        assert np.allclose(msd, dim * T * t ** 2, rtol=1e-14, atol=0)
        # d (t / t0)^2 a0^2: one unit of reduced MSD per unit of reduced time squared and dimension
        assert np.allclose(msd, dim * (t / t0(rho, T, dim)) ** 2 * a0(rho, dim) ** 2, rtol=1e-13, atol=0)
    assert isinstance(ballistic_msd(2.0, rho, T), float) and ballistic_msd(2.0, rho, T) == pytest.approx(3 * T * 4)


@pytest.mark.parametrize("call, match", [
    (lambda: a0(0.0), "rho must be a positive"),
    (lambda: a0(-1.0), "rho must be a positive"),
    (lambda: a0(float("nan")), "rho must be a positive"),
    (lambda: a0(1.0, dim=1), r"dim must be 2 or 3 \(allowed: 2, 3\)"),
    (lambda: a0(1.0, dim=True), "dim must be 2 or 3"),
    (lambda: t0(1.0, 0.0), "T must be a positive"),
    (lambda: t0(0.0, 1.0), "rho must be a positive"),
    (lambda: t0(1.0, 1.0, dim=4), "dim must be 2 or 3"),
    (lambda: ballistic_msd(1.0, 1.0, -2.0), "T must be a positive"),
    (lambda: ballistic_msd(1.0, 0.0, 1.0), "rho must be a positive"),
    (lambda: ballistic_msd([1.0, np.inf], 1.0, 1.0), "t must be finite"),
    (lambda: ballistic_msd("x", 1.0, 1.0), "t must be a time"),
])
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
