"""Straight-line fits over state points with bootstrap confidence intervals: the mesoelastic model (paper Eq. 3,
Fig. 4 a4-d4) and the Stokes–Einstein breakdown exponent (Fig. 9 b1-b4); MODELS.md section 9.

Both are ordinary least-squares fits of y = slope x + intercept over the state points (one point per temperature).
Confidence intervals come from ``scipy.stats.bootstrap`` resampling whole state points (``paired=True``: the pairs
(x_k, y_k) are resampled together) and are percentile intervals of the bootstrap distribution of (slope, intercept);
resamples that contain a single distinct x (no line defined: likely only with 3-4 state points) are dropped. With
few state points the paired bootstrap interval is too narrow: measured coverage of a nominal 90 % interval of the
slope is about 81 % with 10 points and Gaussian scatter (BCa and basic intervals do no better).

>>> import numpy as np
>>> T = np.array([0.5, 0.6, 0.7, 0.8, 1.0])
>>> kappa = 40.0 + 10.0 / T                                       # any kappa(T) (energy / length^2)
>>> a0 = 0.82 ** (-1 / 3)
>>> tau = 0.1 * np.exp((0.4 * a0) ** 2 * kappa / T)               # Eq. 3 with (t~, l~) = (0.1, 0.4)
>>> fit = mesoelastic_fit(T, tau, kappa, a0)
>>> round(fit.t_tilde, 6), round(fit.l_tilde, 6), fit.n_points
(0.1, 0.4, 5)
>>> bool(np.allclose(fit.predict(kappa / T), tau))
True
>>> D = 0.3 * tau ** -0.77
>>> round(stokes_einstein(tau, D).xi, 6)
0.77
"""
import warnings
from dataclasses import dataclass

import numpy as np
from scipy.stats import bootstrap

from .stats import CONFIDENCE


def _array(value, name, positive=False):
    try:
        a = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a 1D array of numbers, got {type(value).__name__}") from None
    if a.ndim != 1:
        raise ValueError(f"{name} must be a 1D array (one value per state point), got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite; {np.count_nonzero(~np.isfinite(a))} entries are nan or inf")
    if positive and np.any(a <= 0):
        raise ValueError(f"{name} must be > 0 (its logarithm is fitted), got minimum {a.min()!r}")
    return a


def _same_length(arrays):
    n = {name: a.size for name, a in arrays.items()}
    if len(set(n.values())) != 1:
        raise ValueError(f"{', '.join(n)} must have one entry per state point (equal lengths), got lengths {n}")
    N = next(iter(n.values()))
    if N < 3:
        raise ValueError(f"a fit over state points needs at least 3 points, got {N}")
    return N


def _check_options(confidence, n_resamples):
    if not (isinstance(confidence, (float, int, np.floating)) and 0 < confidence < 1):
        raise ValueError(f"confidence must be a number in (0, 1), got {confidence!r}")
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, (int, np.integer)) or n_resamples < 100:
        raise ValueError(f"n_resamples must be an integer >= 100, got {n_resamples!r}")


def _line(x, y, axis=-1):
    """Least-squares (slope, intercept) along ``axis``; nan where all x are equal. Shape (2, ...)."""
    xm = x.mean(axis=axis, keepdims=True)
    ym = y.mean(axis=axis, keepdims=True)
    dx = x - xm
    sxx = np.sum(dx * dx, axis=axis)
    sxy = np.sum(dx * (y - ym), axis=axis)
    scale = np.maximum(np.abs(xm).squeeze(axis), np.max(np.abs(dx), axis=axis))
    ok = sxx > (1e-12 * scale) ** 2 * x.shape[axis]
    with np.errstate(invalid="ignore", divide="ignore"):
        b = np.where(ok, sxy / np.where(ok, sxx, 1.0), np.nan)
    a = ym.squeeze(axis) - b * xm.squeeze(axis)
    return np.stack([b, a])


def _fit_with_ci(x, y, confidence, n_resamples, seed):
    """(slope, intercept), ((slope_lo, slope_hi), (intercept_lo, intercept_hi)) with a paired bootstrap."""
    if np.ptp(x) <= 1e-12 * max(np.abs(x).max(), 1e-300):
        raise ValueError(f"all state points have the same abscissa x = {x[0]!r}: no line can be fitted")
    slope, intercept = _line(x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy's warning about nan resamples: we drop those below
        res = bootstrap((x, y), _line, paired=True, vectorized=True, confidence_level=confidence,
                        n_resamples=int(n_resamples), method="percentile", random_state=np.random.default_rng(seed))
    dist = res.bootstrap_distribution
    dist = dist[:, np.all(np.isfinite(dist), axis=0)]
    alpha = 0.5 * (1 - confidence)
    lo, hi = np.quantile(dist, [alpha, 1 - alpha], axis=1)
    return float(slope), float(intercept), (float(lo[0]), float(hi[0])), (float(lo[1]), float(hi[1]))


@dataclass(frozen=True)
class MesoelasticFit:
    """Result of :func:`mesoelastic_fit`: ln(tau_alpha / t0) = (l~ a0)^2 kappa / T + ln t~.

    t_tilde, l_tilde: the dimensionless time and length (l_tilde is nan if the slope is negative);
    t_tilde_ci, l_tilde_ci: their (low, high) bootstrap intervals (l_tilde's clipped at 0 where the slope interval
    extends below 0); slope = (l~ a0)^2 (length^2 / energy, times the temperature unit: kappa / T is in 1 / length^2
    with k_B = 1) and intercept = ln t~, with slope_ci, intercept_ci; n_points state points; a0 (length); confidence.
    """
    t_tilde: float
    l_tilde: float
    t_tilde_ci: tuple
    l_tilde_ci: tuple
    slope: float
    intercept: float
    n_points: int
    slope_ci: tuple = (np.nan, np.nan)
    intercept_ci: tuple = (np.nan, np.nan)
    a0: float = np.nan
    confidence: float = CONFIDENCE

    def predict(self, kappa_over_T):
        """tau_alpha / t0 predicted by the fit at ``kappa_over_T`` (scalar or array, 1 / length^2):
        t~ exp(slope kappa / T)."""
        return np.exp(self.intercept + self.slope * np.asarray(kappa_over_T, dtype=float))


@dataclass(frozen=True)
class SEFit:
    """Result of :func:`stokes_einstein`: D = exp(log_prefactor) tau^(-xi); (xi_low, xi_high) is the bootstrap
    interval of xi over ``n_points`` state points."""
    xi: float
    xi_low: float
    xi_high: float
    log_prefactor: float
    n_points: int = 0
    confidence: float = CONFIDENCE


def mesoelastic_fit(T, tau_over_t0, kappa, a0, confidence=CONFIDENCE, n_resamples=2000, seed=0):
    """Fit the mesoelastic model, paper Eq. 3: ln(tau_alpha / t0) = (l~ a0)^2 kappa(T) / T + ln t~.

    A least-squares straight line of y = ln(tau_alpha / t0) (natural log) against x = kappa / T over the state
    points, as in the author's code: slope = (l~ a0)^2, so l~ = sqrt(slope) / a0, and t~ = exp(intercept). Paper
    values: (t~, l~) = (0.1, 0.4) for IPL and (0.02, 0.4) for mBLJ; for SS and SW the fit fails (t~ many orders of
    magnitude too small). MODELS.md section 9.

    Parameters
    ----------
    T : array_like (n,)
        Temperatures (energy, k_B = 1), > 0; kappa is that of the glasses quenched from T (T_p = T).
    tau_over_t0 : array_like (n,)
        Structural relaxation times in units of t0, > 0.
    kappa : array_like (n,)
        Mean dipole stiffness kappa(T) (energy / length^2).
    a0 : float
        Length unit of Eq. 3 (length), > 0: a0 = rho^(-1/d).
    confidence : float
        Level of the bootstrap intervals (default 0.9, the paper's).
    n_resamples, seed : bootstrap resamples (>= 100) and the seed of its generator.

    Returns
    -------
    MesoelasticFit
        A negative slope (no real l~) gives l_tilde = nan and a ``RuntimeWarning``.

    Raises
    ------
    ValueError
        Fewer than 3 state points, arrays of different lengths, non-finite or non-positive values, or all state
        points with the same kappa / T.
    """
    T = _array(T, "T", positive=True)
    tau = _array(tau_over_t0, "tau_over_t0", positive=True)
    kappa = _array(kappa, "kappa")
    n = _same_length({"T": T, "tau_over_t0": tau, "kappa": kappa})
    if isinstance(a0, bool) or not isinstance(a0, (int, float, np.integer, np.floating)) or not np.isfinite(a0) \
            or a0 <= 0:
        raise ValueError(f"a0 must be a positive finite length, got {a0!r}")
    _check_options(confidence, n_resamples)
    slope, intercept, s_ci, i_ci = _fit_with_ci(kappa / T, np.log(tau), confidence, n_resamples, seed)
    if slope < 0:
        warnings.warn(f"mesoelastic fit: negative slope {slope:.4g} of ln(tau_alpha/t0) against kappa/T: "
                      f"l_tilde = sqrt(slope)/a0 is undefined (nan); Eq. 3 does not describe these data",
                      RuntimeWarning, stacklevel=2)
    a0 = float(a0)
    l_tilde = float(np.sqrt(slope) / a0) if slope >= 0 else np.nan
    l_ci = tuple(float(np.sqrt(max(v, 0.0)) / a0) for v in s_ci)
    return MesoelasticFit(t_tilde=float(np.exp(intercept)), l_tilde=l_tilde,
                          t_tilde_ci=(float(np.exp(i_ci[0])), float(np.exp(i_ci[1]))), l_tilde_ci=l_ci,
                          slope=slope, intercept=intercept, n_points=n, slope_ci=s_ci, intercept_ci=i_ci, a0=a0,
                          confidence=float(confidence))


def stokes_einstein(tau, D, confidence=CONFIDENCE, n_resamples=2000, seed=0):
    """Stokes–Einstein breakdown exponent: fit ln D = -xi ln tau + c over the state points (paper Fig. 9 b1-b4:
    xi ~ 0.74-0.79 in every model; xi = 1 is the Stokes–Einstein relation D tau = const).

    Parameters
    ----------
    tau : array_like (n,)
        Relaxation times tau_alpha (time, or t0 units), > 0.
    D : array_like (n,)
        Diffusion coefficients (length^2 / time, or a0^2 / t0), > 0, same state points.
    confidence, n_resamples, seed : as for :func:`mesoelastic_fit`.

    Returns
    -------
    SEFit
        xi, its bootstrap interval (xi_low, xi_high) and log_prefactor = c (natural log, in the units of D and tau
        given).

    Raises
    ------
    ValueError
        Fewer than 3 state points, lengths differ, non-finite or non-positive values, or all tau equal.
    """
    tau = _array(tau, "tau", positive=True)
    D = _array(D, "D", positive=True)
    n = _same_length({"tau": tau, "D": D})
    _check_options(confidence, n_resamples)
    slope, intercept, s_ci, _ = _fit_with_ci(np.log(tau), np.log(D), confidence, n_resamples, seed)
    return SEFit(xi=-slope, xi_low=-s_ci[1], xi_high=-s_ci[0], log_prefactor=intercept, n_points=n,
                 confidence=float(confidence))
