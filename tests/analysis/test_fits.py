"""Mesoelastic fit (Eq. 3) and Stokes–Einstein exponent: exact and noisy synthetic data, intervals, errors."""
import numpy as np
import pytest

from meso_kernels.analysis.fits import MesoelasticFit, mesoelastic_fit, stokes_einstein

A0 = 0.82 ** (-1 / 3)
T = np.array([0.45, 0.5, 0.55, 0.6, 0.7, 0.8, 1.0])
KAPPA = 35.0 + 12.0 / T + 3.0 * np.sin(7 * T)  # any kappa(T); the wiggle decouples kappa/T from 1/T


def _tau(t_tilde, l_tilde, kappa=KAPPA, T=T, a0=A0):
    return t_tilde * np.exp((l_tilde * a0) ** 2 * kappa / T)


@pytest.mark.parametrize("t_tilde, l_tilde", [(0.1, 0.4), (0.02, 0.4), (3e-5, 0.9)])
def test_exact_data_recovers_parameters(t_tilde, l_tilde):
    fit = mesoelastic_fit(T, _tau(t_tilde, l_tilde), KAPPA, A0, n_resamples=500)
    assert isinstance(fit, MesoelasticFit) and fit.n_points == T.size
    assert fit.t_tilde == pytest.approx(t_tilde, rel=1e-10)
    assert fit.l_tilde == pytest.approx(l_tilde, rel=1e-10)
    assert fit.slope == pytest.approx((l_tilde * A0) ** 2, rel=1e-10)
    assert fit.intercept == pytest.approx(np.log(t_tilde), rel=1e-10)
    # every resample lies on the same line: the intervals collapse onto the values
    assert fit.t_tilde_ci == pytest.approx((t_tilde, t_tilde), rel=1e-8)
    assert fit.l_tilde_ci == pytest.approx((l_tilde, l_tilde), rel=1e-8)
    assert np.allclose(fit.predict(KAPPA / T), _tau(t_tilde, l_tilde), rtol=1e-10)
    assert fit.predict(0.0) == pytest.approx(t_tilde)


def test_noisy_data_interval_covers_truth():
    rng = np.random.default_rng(11)
    T12 = np.linspace(0.45, 1.0, 12)
    kappa = 35.0 + 12.0 / T12
    tau = _tau(0.1, 0.4, kappa, T12) * np.exp(rng.normal(0.0, 0.15, T12.size))  # 15 % scatter in tau
    fit = mesoelastic_fit(T12, tau, kappa, A0, seed=3)
    assert fit.t_tilde_ci[0] < 0.1 < fit.t_tilde_ci[1]
    assert fit.l_tilde_ci[0] < 0.4 < fit.l_tilde_ci[1]
    assert fit.t_tilde_ci[0] < fit.t_tilde < fit.t_tilde_ci[1]
    assert fit.l_tilde_ci[0] < fit.l_tilde < fit.l_tilde_ci[1]
    assert fit.l_tilde == pytest.approx(0.4, rel=0.1)
    assert fit.confidence == 0.9
    # deterministic per seed; the interval depends on the seed
    again = mesoelastic_fit(T12, tau, kappa, A0, seed=3)
    assert again == fit
    assert mesoelastic_fit(T12, tau, kappa, A0, seed=4).l_tilde_ci != fit.l_tilde_ci


def test_coverage_is_roughly_nominal():
    rng = np.random.default_rng(2)
    T10 = np.linspace(0.45, 1.0, 10)
    kappa = 35.0 + 12.0 / T10
    hits = 0
    n = 60
    for k in range(n):
        tau = _tau(0.1, 0.4, kappa, T10) * np.exp(rng.normal(0.0, 0.2, T10.size))
        fit = mesoelastic_fit(T10, tau, kappa, A0, n_resamples=400, seed=k)
        hits += fit.l_tilde_ci[0] <= 0.4 <= fit.l_tilde_ci[1]
    # percentile bootstrap of a regression slope with 10 points under-covers a little
    assert 0.65 <= hits / n <= 1.0


def test_negative_slope_gives_nan_and_warning():
    tau = np.exp(-0.5 * KAPPA / T)  # decreasing with kappa/T
    with pytest.warns(RuntimeWarning, match="negative slope"):
        fit = mesoelastic_fit(T, tau, KAPPA, A0, n_resamples=200)
    assert np.isnan(fit.l_tilde) and fit.slope < 0
    assert fit.l_tilde_ci == (0.0, 0.0)
    assert np.isfinite(fit.t_tilde)


def test_three_points_with_degenerate_resamples():
    # with 3 points about 1 resample in 9 holds a single distinct x: those are dropped, the interval stays finite
    fit = mesoelastic_fit(T[:3], _tau(0.1, 0.4)[:3] * [1.1, 0.9, 1.05], KAPPA[:3], A0, seed=1)
    assert np.all(np.isfinite(fit.l_tilde_ci)) and np.all(np.isfinite(fit.t_tilde_ci))
    assert fit.l_tilde_ci[0] <= fit.l_tilde_ci[1]


def test_stokes_einstein_exponent():
    rng = np.random.default_rng(1)  # one seeded draw; a 90 % interval misses in ~1 draw of 5 at n = 10 (see above)
    tau = np.geomspace(2.0, 5e3, 10)
    D = 0.4 * tau ** -0.77 * np.exp(rng.normal(0.0, 0.05, tau.size))
    se = stokes_einstein(tau, D, seed=1)
    assert se.xi_low < 0.77 < se.xi_high
    assert se.xi == pytest.approx(0.77, abs=0.03)
    assert se.xi_high - se.xi_low < 0.1
    assert se.log_prefactor == pytest.approx(np.log(0.4), abs=0.2)
    assert se.n_points == 10
    exact = stokes_einstein(tau, 0.4 * tau ** -0.77, n_resamples=200)
    assert exact.xi == pytest.approx(0.77, rel=1e-10) and exact.log_prefactor == pytest.approx(np.log(0.4), rel=1e-10)
    assert exact.xi_low == pytest.approx(0.77, rel=1e-8) and exact.xi_high == pytest.approx(0.77, rel=1e-8)


def test_errors():
    tau = _tau(0.1, 0.4)
    with pytest.raises(ValueError, match="at least 3 points, got 2"):
        mesoelastic_fit(T[:2], tau[:2], KAPPA[:2], A0)
    with pytest.raises(ValueError, match=r"equal lengths\), got lengths \{'T': 7, 'tau_over_t0': 6, 'kappa': 7\}"):
        mesoelastic_fit(T, tau[:6], KAPPA, A0)
    with pytest.raises(ValueError, match="tau_over_t0 must be > 0"):
        mesoelastic_fit(T, -tau, KAPPA, A0)
    with pytest.raises(ValueError, match="T must be > 0"):
        mesoelastic_fit(-T, tau, KAPPA, A0)
    with pytest.raises(ValueError, match="kappa must be finite"):
        mesoelastic_fit(T, tau, np.full(T.size, np.nan), A0)
    with pytest.raises(ValueError, match="a0 must be a positive finite length"):
        mesoelastic_fit(T, tau, KAPPA, 0.0)
    with pytest.raises(ValueError, match="confidence must be a number in"):
        mesoelastic_fit(T, tau, KAPPA, A0, confidence=90)
    with pytest.raises(ValueError, match="n_resamples must be an integer >= 100"):
        mesoelastic_fit(T, tau, KAPPA, A0, n_resamples=10)
    with pytest.raises(ValueError, match="same abscissa"):
        mesoelastic_fit(np.ones(4), tau[:4], np.full(4, 30.0), A0)
    with pytest.raises(ValueError, match="must be a 1D array"):
        mesoelastic_fit(T[:, None], tau, KAPPA, A0)
    with pytest.raises(ValueError, match="D must be > 0"):
        stokes_einstein(tau, -tau)
    with pytest.raises(ValueError, match=r"got lengths \{'tau': 7, 'D': 3\}"):
        stokes_einstein(tau, tau[:3])
