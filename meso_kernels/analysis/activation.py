"""Activated relaxation against an elastic barrier: does ln(tau_alpha / t0) lie on a straight line in X / T, with a
physical prefactor? One objective criterion, applied identically to every model (paper Eqs. 2-3; MODELS.md section 9).

- Mesoelastic model, paper Eq. 3: ln(tau_alpha / t0) = (l~ a0)^2 kappa(T) / T + ln t~, with X = kappa(T) the mean
  dipole stiffness of the inherent structures quenched from the parent temperature T (energy / length^2). Slope
  (l~ a0)^2 (length^2, with k_B = 1 so that kappa / T is in 1 / length^2), intercept ln t~ (t~ in units of t0, l~ in
  units of a0). Paper: (t~, l~) = (0.1, 0.4) for IPL and (0.02, 0.4) for mBLJ; for SS and SW the fit fails.
- Shoving model, paper Eq. 2: tau_alpha = tau_0 exp(G V_c / T): the same straight line with X = G(T) (shear modulus,
  energy / length^3). Its slope is V_c (length^3) and t~ = tau_0 / t0; no length l~ is defined (``l_tilde = nan``; use
  :attr:`ActivationFit.V_c`).

:func:`fit_activation` fits the line (least squares, paired bootstrap intervals: :func:`.fits._fit_with_ci`) and adds
an error model (per-point errors plus a stated floor) so that a chi-square test can judge the residuals;
:func:`verdict` applies the criterion :data:`EQ3_CRITERION`; :func:`compare_barriers` compares kappa and G as
barriers on the same tau_alpha data by their rms residuals (paired bootstrap over state points);
:func:`relative_change` gives the relative change of an inherent-structure property with temperature (Fig. 4 a3-d3)
with bootstrap intervals (block bootstrap for correlated samples), helped by :func:`integrated_autocorrelation` and
:func:`mean_error`.

>>> import numpy as np
>>> T = np.array([0.45, 0.5, 0.55, 0.6, 0.7, 0.8])
>>> kappa = 20.0 + 6.0 / T                                          # kappa(T) (energy / length^2)
>>> a0 = 0.82 ** (-1 / 3)
>>> tau = 0.1 * np.exp((0.4 * a0) ** 2 * kappa / T)                 # Eq. 3, (t~, l~) = (0.1, 0.4)
>>> fit = fit_activation(T, tau, kappa, a0=a0, n_resamples=200)
>>> round(fit.t_tilde, 6), round(fit.l_tilde, 6), fit.dof, round(fit.chi2, 6)
(0.1, 0.4, 4, 0.0)
>>> verdict(fit).holds
True
>>> G = 10.0 + 1.0 * T                                              # a shear modulus with another T-dependence
>>> cmp = compare_barriers(T, tau, kappa, G, a0, n_resamples=200)
>>> cmp.better, cmp.rms_kappa < 1e-12 < cmp.rms_G
('kappa', True)
>>> rc = relative_change({0.5: [1.2, 1.3, 1.25], 1.0: [1.0, 1.05, 0.95]}, n_resamples=200)
>>> rc.T.tolist(), np.round(rc.value, 6).tolist()
([0.5, 1.0], [0.25, 0.0])
"""
import math
import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import bootstrap
from scipy.stats import chi2 as _chi2_dist

from .fits import _array, _check_options, _fit_with_ci, _line, _same_length
from .ihs import _count
from .sq import _positive_number
from .stats import CONFIDENCE, ratio_ci

T_WINDOW = (1e-3, 10.0)
P_MIN = 0.01
LNTAU_FLOOR = 0.05

EQ3_CRITERION = (
    "Criterion (applied identically to every model, for Eq. 3 with X = kappa and for Eq. 2 with X = G): fit a "
    "straight line ln(tau_alpha/t0) = slope * X/T + ln t~ over the activated state points, and say that the law "
    "HOLDS only if all three of the following are true. (i) The residuals are consistent with the errors over the "
    "whole fitted range: the chi-square of the residuals, each divided by its error (the standard error of "
    "ln tau_alpha, the error of X propagated through the slope, and a stated floor of "
    f"{LNTAU_FLOOR:g} in ln tau_alpha, i.e. {100 * LNTAU_FLOOR:g} %, added in quadrature), has a p-value of at least "
    f"{P_MIN:g} for n - 2 degrees of freedom; systematic curvature fails this. (ii) The prefactor is physical: "
    f"the fitted t~ lies between {T_WINDOW[0]:g} t0 and {T_WINDOW[1]:g} t0. The ballistic regime ends at about "
    "0.1 t0, so an attempt time more than two decades below it is shorter than any microscopic time in the liquid, "
    "and one above 10 t0 (where the activated regime begins) cannot be a microscopic attempt time; whether the "
    "whole bootstrap interval of t~ lies in this window is reported too. (iii) The barrier grows on cooling: the "
    "slope is positive and its bootstrap interval excludes 0. Each condition that fails is reported with its "
    "numbers. Which of kappa and G describes the same data better is decided separately, by the difference of "
    "their rms residuals with a paired bootstrap interval over the state points: a winner is named only if that "
    "interval excludes 0."
)


def _errors(value, name, n):
    """Per-point standard errors: None -> zeros, a scalar -> that value everywhere, else one value per point."""
    if value is None:
        return np.zeros(n)
    if np.ndim(value) == 0:
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a number >= 0 or one number per state point, got {value!r}") from None
        e = np.full(n, v)
    else:
        e = _array(value, name)
        if e.size != n:
            raise ValueError(f"{name} must have one entry per state point ({n}), got {e.size}")
    if not np.all(np.isfinite(e)) or np.any(e < 0):
        raise ValueError(f"{name} must be finite and >= 0 (standard errors), got {value!r}")
    return e


def _rms(x, y, axis=-1):
    """Root-mean-square residual of the least-squares line of y against x along ``axis`` (nan if all x equal)."""
    b, a = _line(x, y, axis=axis)
    res = y - (np.expand_dims(b, axis) * x + np.expand_dims(a, axis))
    return np.sqrt(np.mean(res * res, axis=axis))


def _percentile_interval(dist, confidence):
    """Percentile interval of the finite bootstrap replicates ``dist`` (1-D)."""
    dist = dist[np.isfinite(dist)]
    alpha = 0.5 * (1 - confidence)
    lo, hi = np.quantile(dist, [alpha, 1 - alpha])
    return float(lo), float(hi)


@dataclass(frozen=True, eq=False)
class ActivationFit:
    """Result of :func:`fit_activation`: y = slope * x + intercept with x = X / T and y = ln(tau_alpha / t0).

    Attributes
    ----------
    quantity : label of X ("kappa", "G", ...).
    T : temperatures (energy, k_B = 1).
    x, x_err : X / T and its standard error X_err / T (1 / length^2 for kappa, 1 / length^3 for G).
    y, y_err : ln(tau_alpha / t0) (natural log) and its standard error (dimensionless; = relative error of tau).
    slope, intercept, slope_ci, intercept_ci : least-squares line and paired bootstrap percentile intervals. For
        kappa the slope is (l~ a0)^2 (length^2); for G it is V_c (length^3).
    t_tilde, t_tilde_ci : exp(intercept), the prefactor in units of t0, and its interval.
    l_tilde, l_tilde_ci : sqrt(slope) / a0 (units of a0) when a0 was given, nan where slope <= 0 or without a0 (G);
        the interval's ends are clipped at 0 where the slope interval extends below 0.
    residuals : y - (slope x + intercept) (ln tau units).
    sigma : per-point error sqrt(y_err^2 + (slope x_err)^2 + lntau_floor^2) (ln tau units).
    chi2, dof, p_value : sum((residuals / sigma)^2), n - 2, and scipy.stats.chi2.sf(chi2, dof).
    rms : sqrt(mean(residuals^2)) (ln tau units; independent of the error model).
    a0, lntau_floor, confidence : the inputs used.
    """
    quantity: str
    T: np.ndarray
    x: np.ndarray
    y: np.ndarray
    x_err: np.ndarray
    y_err: np.ndarray
    slope: float
    intercept: float
    slope_ci: tuple
    intercept_ci: tuple
    t_tilde: float
    t_tilde_ci: tuple
    l_tilde: float
    l_tilde_ci: tuple
    residuals: np.ndarray
    sigma: np.ndarray
    chi2: float
    dof: int
    p_value: float
    rms: float
    a0: float = np.nan
    lntau_floor: float = LNTAU_FLOOR
    confidence: float = CONFIDENCE

    @property
    def n_points(self):
        """Number of state points fitted."""
        return int(self.x.size)

    @property
    def V_c(self):
        """The shoving-model volume V_c = slope (length^3) when X = G(T) (energy / length^3); nan for other X."""
        return self.slope if self.quantity == "G" else np.nan

    def predict(self, x):
        """tau_alpha / t0 predicted at ``x`` = X / T (scalar or array): t~ exp(slope x)."""
        return np.exp(self.intercept + self.slope * np.asarray(x, dtype=float))


def fit_activation(T, tau_over_t0, X, a0=None, X_err=None, lntau_err=None, quantity="kappa",
                   lntau_floor=LNTAU_FLOOR, confidence=CONFIDENCE, n_resamples=2000, seed=0):
    """Fit ln(tau_alpha / t0) = slope * X(T) / T + ln t~ over state points, with an error model for a chi-square test.

    Eq. 3 with X = kappa(T) (energy / length^2; slope = (l~ a0)^2, pass ``a0`` to get l~) or Eq. 2 with X = G(T)
    (energy / length^3; slope = V_c, ``quantity="G"``, no a0). The line is the ordinary least-squares fit with paired
    bootstrap intervals of :func:`meso_kernels.analysis.fits.mesoelastic_fit` (same numbers for the same data and
    seed). Select the activated state points (tau_alpha >~ 10 t0, paper Sec. III B) before calling: the chi-square
    test judges the whole range passed.

    Error model: sigma_k = sqrt(lntau_err_k^2 + (slope X_err_k / T_k)^2 + lntau_floor^2). ``lntau_floor`` is a
    stated systematic floor on ln tau_alpha (default 0.05, i.e. 5 % in tau_alpha): tau_alpha from one finite run
    fluctuates by a few per cent between independent runs, and the stored runs do not all carry their own error, so
    every point gets at least this error. The floor sets how small a systematic deviation the chi-square test can
    detect; it never changes the line, t~, l~ or rms. The chi-square is evaluated at the unweighted least-squares
    line, which is >= the weighted minimum: with unequal errors the test is slightly conservative (fails a little
    more easily); with equal errors (e.g. floor-dominated) it is exact.

    Parameters
    ----------
    T : array_like (n,), n >= 3
        Temperatures (energy, k_B = 1), > 0 (parent temperature of the inherent structures for X).
    tau_over_t0 : array_like (n,)
        Structural relaxation times tau_alpha in units of t0, > 0.
    X : array_like (n,)
        kappa(T) (energy / length^2) or G(T) (energy / length^3), finite.
    a0 : float or None
        Length unit (length), > 0; gives l~ = sqrt(slope) / a0. Not allowed with ``quantity="G"``.
    X_err : None, float or array_like (n,)
        Standard error of X (units of X), >= 0; None: 0.
    lntau_err : None, float or array_like (n,)
        Standard error of ln(tau_alpha / t0) (= relative error of tau_alpha), >= 0; None: 0.
    quantity : str
        Label of X, e.g. "kappa" or "G" (free label; "G" marks the shoving model).
    lntau_floor : float
        Error floor on ln tau_alpha added in quadrature, >= 0 (default 0.05).
    confidence : float in (0, 1)
        Level of the bootstrap intervals (default 0.9, the paper's).
    n_resamples, seed : bootstrap resamples (>= 100) and the seed of its generator.

    Returns
    -------
    ActivationFit

    Raises
    ------
    ValueError
        Fewer than 3 state points, arrays of different lengths, nan/inf, T <= 0 or tau_over_t0 <= 0, negative errors
        or floor, a0 <= 0, a0 with quantity "G", an empty quantity, all X / T equal, or a zero error on some point
        (lntau_floor = 0 without errors: the chi-square would be undefined).
    """
    T = _array(T, "T", positive=True)
    tau = _array(tau_over_t0, "tau_over_t0", positive=True)
    X = _array(X, "X")
    n = _same_length({"T": T, "tau_over_t0": tau, "X": X})
    if not isinstance(quantity, str) or not quantity:
        raise ValueError(f"quantity must be a non-empty label such as 'kappa' or 'G', got {quantity!r}")
    if a0 is not None:
        a0 = _positive_number(a0, "a0")
        if quantity == "G":
            raise ValueError("a0 must be None for quantity 'G': l~ = sqrt(slope)/a0 is defined for kappa only "
                             "(for G the slope is V_c, a volume)")
    lntau_floor = _positive_number(lntau_floor, "lntau_floor", allow_zero=True)
    x_err = _errors(X_err, "X_err", n) / T
    y_err = _errors(lntau_err, "lntau_err", n)
    _check_options(confidence, n_resamples)

    x = X / T
    y = np.log(tau)
    slope, intercept, s_ci, i_ci = _fit_with_ci(x, y, confidence, n_resamples, seed)
    residuals = y - (slope * x + intercept)
    sigma = np.sqrt(y_err ** 2 + (slope * x_err) ** 2 + lntau_floor ** 2)
    if np.any(sigma <= 0):
        raise ValueError("every state point needs a nonzero error for the chi-square test: give lntau_err or X_err, "
                         f"or lntau_floor > 0 (got lntau_floor = {lntau_floor!r})")
    chi2 = float(np.sum((residuals / sigma) ** 2))
    dof = n - 2
    if a0 is None:
        a0 = np.nan
        l_tilde, l_ci = np.nan, (np.nan, np.nan)
    else:
        l_tilde = float(np.sqrt(slope) / a0) if slope > 0 else np.nan
        l_ci = tuple(float(np.sqrt(max(v, 0.0)) / a0) for v in s_ci)
    return ActivationFit(quantity=quantity, T=T, x=x, y=y, x_err=x_err, y_err=y_err, slope=slope,
                         intercept=intercept, slope_ci=s_ci, intercept_ci=i_ci, t_tilde=float(np.exp(intercept)),
                         t_tilde_ci=(float(np.exp(i_ci[0])), float(np.exp(i_ci[1]))), l_tilde=l_tilde,
                         l_tilde_ci=l_ci, residuals=residuals, sigma=sigma, chi2=chi2, dof=dof,
                         p_value=float(_chi2_dist.sf(chi2, dof)), rms=float(np.sqrt(np.mean(residuals ** 2))),
                         a0=a0, lntau_floor=lntau_floor, confidence=float(confidence))


@dataclass(frozen=True)
class Verdict:
    """Result of :func:`verdict`. holds: all conditions of :data:`EQ3_CRITERION` met; p_value: chi-square p-value;
    t_tilde (t0 units) and t_window (low, high) (t0 units); reasons: one string with numbers per failed condition
    (empty when it holds); chi2, dof; t_tilde_ci and interval_inside (whether the whole t~ interval lies in
    t_window: reported, not required); slope, slope_ci; p_min; quantity."""
    holds: bool
    p_value: float
    t_tilde: float
    t_window: tuple
    reasons: list = field(default_factory=list)
    chi2: float = np.nan
    dof: int = 0
    t_tilde_ci: tuple = (np.nan, np.nan)
    interval_inside: bool = False
    slope: float = np.nan
    slope_ci: tuple = (np.nan, np.nan)
    p_min: float = P_MIN
    quantity: str = ""

    def line(self):
        """One line: "holds: chi2/dof = 0.8 (p = 0.6), t~ = 0.09 in [0.001, 10] (interval ... inside), slope = ... > 0"
        or "fails: <reason>; <reason>" (each failed condition with its numbers)."""
        lo, hi = self.t_tilde_ci
        interval = f"interval [{lo:.3g}, {hi:.3g}] {'inside' if self.interval_inside else 'not all inside'}"
        if self.holds:
            return (f"holds: chi2/dof = {self.chi2 / self.dof:.3g} (p = {self.p_value:.3g}), t~ = {self.t_tilde:.3g} "
                    f"in [{self.t_window[0]:g}, {self.t_window[1]:g}] ({interval}), slope = {self.slope:.4g} > 0")
        tail = "" if any(r.startswith("t~") for r in self.reasons) else \
            f" [t~ = {self.t_tilde:.3g} in the window, {interval}]"
        return "fails: " + "; ".join(self.reasons) + tail


def verdict(fit, t_window=T_WINDOW, p_min=P_MIN):
    """Apply :data:`EQ3_CRITERION` to an :class:`ActivationFit`.

    Conditions: (i) chi-square p-value >= ``p_min``; (ii) t~ (point estimate, units of t0) within ``t_window``
    (default (1e-3, 10)): the ballistic regime of the MSD ends at about 0.1 t0 (Appendix D 1), the time scale of an
    attempt to cross a barrier; t~ more than two decades below it is faster than any vibration in the liquid, and
    t~ above 10 t0 - where the activated regime starts (tau_alpha ~ 10 t0) - would make the prefactor alone as slow
    as the relaxation itself. The paper's values 0.1 (IPL) and 0.02 (mBLJ) lie well inside; the SS and SW fits, "many
    orders of magnitude smaller", do not. Whether the whole bootstrap interval of t~ is inside is reported
    (``interval_inside``) but not required. (iii) slope > 0 with its interval excluding 0 (barrier grows on cooling).

    Parameters
    ----------
    fit : ActivationFit
    t_window : (low, high), 0 < low < high (units of t0)
    p_min : float in (0, 1)

    Returns
    -------
    Verdict

    Raises
    ------
    ValueError
        ``fit`` not an ActivationFit, a bad ``t_window`` or ``p_min``.
    """
    if not isinstance(fit, ActivationFit):
        raise ValueError(f"fit must be an ActivationFit (from fit_activation), got {type(fit).__name__}")
    try:
        lo, hi = (float(v) for v in t_window)
    except (TypeError, ValueError):
        raise ValueError(f"t_window must be a pair (low, high) of times in units of t0, got {t_window!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and 0 < lo < hi):
        raise ValueError(f"t_window must satisfy 0 < low < high (units of t0), got {t_window!r}")
    if isinstance(p_min, bool) or not isinstance(p_min, (int, float, np.integer, np.floating)) or not 0 < p_min < 1:
        raise ValueError(f"p_min must be a number in (0, 1), got {p_min!r}")
    reasons = []
    if not fit.p_value >= p_min:
        reasons.append(f"chi2/dof = {fit.chi2:.3g}/{fit.dof} = {fit.chi2 / fit.dof:.3g} (p = {fit.p_value:.2g} < "
                       f"p_min = {p_min:g}; rms residual {fit.rms:.3g} vs median error {np.median(fit.sigma):.3g} "
                       f"in ln tau)")
    if not lo <= fit.t_tilde <= hi:
        reasons.append(f"t~ = {fit.t_tilde:.3g} t0 outside [{lo:g}, {hi:g}] "
                       f"(interval [{fit.t_tilde_ci[0]:.3g}, {fit.t_tilde_ci[1]:.3g}])")
    if not (fit.slope > 0 and fit.slope_ci[0] > 0):
        reasons.append(f"slope = {fit.slope:.4g} with interval [{fit.slope_ci[0]:.4g}, {fit.slope_ci[1]:.4g}] "
                       f"not > 0")
    inside = bool(lo <= fit.t_tilde_ci[0] and fit.t_tilde_ci[1] <= hi)
    return Verdict(holds=not reasons, p_value=fit.p_value, t_tilde=fit.t_tilde, t_window=(lo, hi), reasons=reasons,
                   chi2=fit.chi2, dof=fit.dof, t_tilde_ci=fit.t_tilde_ci, interval_inside=inside, slope=fit.slope,
                   slope_ci=fit.slope_ci, p_min=float(p_min), quantity=fit.quantity)


@dataclass(frozen=True, eq=False)
class Comparison:
    """Result of :func:`compare_barriers`. rms_kappa, rms_G: rms residuals (ln tau units) of the straight lines
    against kappa / T and G / T; diff = rms_G - rms_kappa and its paired bootstrap interval diff_ci; better: "kappa"
    (diff interval > 0), "G" (< 0) or "neither (interval includes 0)"; n_points; confidence; fit_kappa and fit_G: the
    two :class:`ActivationFit` (for :func:`verdict`)."""
    rms_kappa: float
    rms_G: float
    diff: float
    diff_ci: tuple
    better: str
    n_points: int
    confidence: float = CONFIDENCE
    fit_kappa: ActivationFit = field(default=None, repr=False)
    fit_G: ActivationFit = field(default=None, repr=False)

    def row(self):
        """A dict for one row of a pandas table."""
        return {"n_points": self.n_points, "rms_kappa": self.rms_kappa, "rms_G": self.rms_G, "diff": self.diff,
                "diff_low": self.diff_ci[0], "diff_high": self.diff_ci[1], "better": self.better}


def compare_barriers(T, tau_over_t0, kappa, G, a0, kappa_err=None, G_err=None, lntau_err=None,
                     confidence=CONFIDENCE, n_resamples=2000, seed=0):
    """Is ln tau_alpha closer to a straight line in kappa / T (Eq. 3) or in G / T (Eq. 2)? Let the data decide.

    Both lines have two parameters and fit the same y = ln(tau_alpha / t0), so their rms residuals (ln tau units)
    compare directly. diff = rms_G - rms_kappa; its interval comes from a paired bootstrap over state points: the
    same resampled point indices are used for both quantities, both lines are refitted and both rms recomputed
    (percentile interval; resamples with a single distinct abscissa are dropped). ``better`` names a quantity only
    when the interval excludes 0 (beyond 1e-9 of the rms, so that kappa proportional to G gives "neither"). With
    few state points the interval is somewhat too narrow (see :mod:`.fits`). The errors only enter the two fits'
    chi-square (``fit_kappa``, ``fit_G``, for :func:`verdict`), not the comparison.

    Parameters
    ----------
    T : array_like (n,), n >= 3 — temperatures (energy), > 0.
    tau_over_t0 : array_like (n,) — tau_alpha / t0, > 0.
    kappa : array_like (n,) — mean dipole stiffness (energy / length^2).
    G : array_like (n,) — shear modulus (energy / length^3).
    a0 : float — length unit (length), > 0, for l~ of the kappa fit.
    kappa_err, G_err, lntau_err : standard errors (None, scalar or per point; units of kappa, G, ln tau), >= 0.
    confidence, n_resamples, seed : bootstrap level (default 0.9), resamples (>= 100), seed.

    Returns
    -------
    Comparison

    Raises
    ------
    ValueError
        As :func:`fit_activation` for either quantity.
    """
    a0 = _positive_number(a0, "a0")
    fk = fit_activation(T, tau_over_t0, kappa, a0=a0, X_err=kappa_err, lntau_err=lntau_err, quantity="kappa",
                        confidence=confidence, n_resamples=n_resamples, seed=seed)
    fg = fit_activation(T, tau_over_t0, G, X_err=G_err, lntau_err=lntau_err, quantity="G",
                        confidence=confidence, n_resamples=n_resamples, seed=seed)

    def rms_diff(xk, xg, y, axis=-1):
        return _rms(xg, y, axis=axis) - _rms(xk, y, axis=axis)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy's warning about nan resamples: dropped below
        res = bootstrap((fk.x, fg.x, fk.y), rms_diff, paired=True, vectorized=True, confidence_level=confidence,
                        n_resamples=int(n_resamples), method="percentile",
                        random_state=np.random.default_rng(seed))
    lo, hi = _percentile_interval(np.asarray(res.bootstrap_distribution).ravel(), confidence)
    tol = 1e-9 * max(fk.rms, fg.rms)
    better = "kappa" if lo > tol else "G" if hi < -tol else "neither (interval includes 0)"
    return Comparison(rms_kappa=fk.rms, rms_G=fg.rms, diff=fg.rms - fk.rms, diff_ci=(lo, hi), better=better,
                      n_points=fk.n_points, confidence=float(confidence), fit_kappa=fk, fit_G=fg)


def _sample(values, name, minimum=2):
    """A finite 1-D array of at least ``minimum`` values."""
    if np.ndim(values) != 1:
        raise ValueError(f"{name} must be a 1D array of samples, got shape {np.shape(values)}")
    x = _array(values, name)
    if x.size < minimum:
        raise ValueError(f"{name} needs at least {minimum} values, got {x.size}")
    return x


def _block(block, n, name):
    block = _count(block, "block (samples per block)")
    if n < 2 * block:
        raise ValueError(f"{name} has {n} values: block = {block} needs at least {2 * block} (two blocks)")
    return block


def _block_bootstrap_means(x, block, n_resamples, rng):
    """Means of ``n_resamples`` moving-block bootstrap resamples of ``x``: ceil(n / block) blocks of ``block``
    consecutive values with uniformly drawn starts, concatenated and cut to n values."""
    n = x.size
    k = -(-n // block)
    starts = rng.integers(0, n - block + 1, size=(n_resamples, k))
    idx = (starts[:, :, None] + np.arange(block)).reshape(n_resamples, k * block)[:, :n]
    return x[idx].mean(axis=1)


def integrated_autocorrelation(values, c=5.0):
    """Integrated autocorrelation time tau_int = 1/2 + sum_{t>=1} rho(t) of a series, in samples.

    rho(t) is the normalized autocorrelation (FFT, mean subtracted); the sum runs to Sokal's automatic window: the
    smallest M with M >= c tau_int(M) (c = 5). The variance of the mean of n samples is then 2 tau_int var / n, so a
    block of about 2 tau_int samples (or more) makes block means nearly independent. AR(1) with coefficient phi has
    tau_int = (1 + phi) / (2 (1 - phi)); independent samples give 1/2. A constant series gives 1/2. The statistical
    error is about tau_int sqrt(2 (2M + 1) / n) (Sokal); a ``RuntimeWarning`` is issued when the series is too short
    for the window (M not reached before n / 2).

    Parameters
    ----------
    values : array_like (n,), n >= 4 — the series, in sampling order, finite.
    c : float > 0 — window constant (default 5).

    Returns
    -------
    float (samples)

    Raises
    ------
    ValueError
        Not 1-D, fewer than 4 values, nan/inf, c <= 0.
    """
    x = _sample(values, "values", minimum=4)
    c = _positive_number(c, "c")
    scale = np.abs(x).max()
    x = x - x.mean()
    n = x.size
    var = float(np.dot(x, x)) / n
    if var <= (1e-14 * scale) ** 2 or var == 0:
        return 0.5
    m = 1 << (2 * n - 1).bit_length()
    f = np.fft.rfft(x, m)
    acf = np.fft.irfft(f * np.conj(f), m)[:n] / (n * var)        # rho(t), biased (1/n) estimator
    tau = 0.5 + np.cumsum(acf[1:])                                # tau_int(M) for M = 1, 2, ...
    M = np.arange(1, n)
    ok = np.nonzero(M >= c * tau)[0]
    if ok.size == 0 or M[ok[0]] > n // 2:
        warnings.warn(f"integrated_autocorrelation: {n} samples are too few for the automatic window (c = {c:g}); "
                      "the estimate is unreliable", RuntimeWarning, stacklevel=2)
        return float(tau[min(n // 2, n - 2)])
    return float(tau[ok[0]])


def mean_error(values, block=1):
    """Standard error of the mean of ``values`` (units of the values) by the blocking formula.

    The series is cut into n // block non-overlapping blocks of ``block`` consecutive values (a trailing remainder is
    dropped) and the error is std(block means, ddof=1) / sqrt(number of blocks); block = 1 gives the usual
    std(ddof=1) / sqrt(n). For correlated samples use block >~ 2 tau_int (:func:`integrated_autocorrelation`), and
    enough blocks (>~ 20) for the error itself to be accurate (its relative error is about 1 / sqrt(2 (blocks - 1))).

    Raises
    ------
    ValueError
        Not 1-D, nan/inf, block not an integer >= 1, or fewer than 2 blocks.
    """
    x = _sample(values, "values")
    b = _block(block, x.size, "values")
    k = x.size // b
    means = x[:k * b].reshape(k, b).mean(axis=1)
    return float(np.std(means, ddof=1) / math.sqrt(k))


@dataclass(frozen=True, eq=False)
class RelativeChange:
    """Result of :func:`relative_change`: for each temperature T (ascending; energy), value = mean(X at T) /
    mean(X at reference_T) - 1 (dimensionless) with its bootstrap interval [low, high]; n: samples per temperature.
    The reference itself has value = low = high = 0. confidence and block: as passed."""
    T: np.ndarray
    value: np.ndarray
    low: np.ndarray
    high: np.ndarray
    reference_T: float
    n: np.ndarray
    confidence: float = CONFIDENCE
    block: int = 1


def relative_change(samples, reference_T=None, confidence=CONFIDENCE, n_resamples=2000, seed=0, block=1):
    """Relative change with temperature of the mean of an inherent-structure property (paper Fig. 4 a3-d3).

    value(T) = mean(samples[T]) / mean(samples[T_ref]) - 1 for each parent temperature T, T_ref = the highest T by
    default. The interval is a percentile bootstrap interval resampling each ensemble independently, the reference
    too (block = 1: :func:`meso_kernels.analysis.stats.ratio_ci`). With block > 1 a moving-block bootstrap is used
    for each ensemble (blocks of ``block`` consecutive samples): for ensembles sampled along one trajectory, where
    neighbours are correlated; choose block >~ 2 tau_int (:func:`integrated_autocorrelation`). The reference row is
    exactly 0 with a zero-width interval (same data in numerator and denominator).

    Parameters
    ----------
    samples : dict {T: array_like (m_T,)}
        Per-inherent-structure values (e.g. the mean kappa of each IHS, energy / length^2, or G of each IHS) at
        parent temperature T (energy); at least 2 values each (2 * block with blocks), finite; at least one T.
    reference_T : float or None
        A key of ``samples``; None: the highest T. Its mean must be nonzero.
    confidence, n_resamples, seed : bootstrap level (default 0.9), resamples (>= 100) and seed (one generator for
        all temperatures, in ascending T).
    block : int >= 1
        Block length (samples) of the moving-block bootstrap; 1: ordinary bootstrap.

    Returns
    -------
    RelativeChange

    Raises
    ------
    ValueError
        samples not a non-empty dict, an ensemble with too few values or nan/inf, reference_T not a key, a zero
        reference mean, bad block / confidence / n_resamples.
    """
    if not isinstance(samples, dict) or not samples:
        raise ValueError("samples must be a non-empty dict {T: 1-D array of per-IHS values}, "
                         f"got {type(samples).__name__}")
    _check_options(confidence, n_resamples)
    data = {}
    for key, vals in samples.items():
        t = _positive_number(key, "samples keys (temperatures T)")
        data[t] = _sample(vals, f"samples[{key!r}]")
        _block(block, data[t].size, f"samples[{key!r}]")
    temps = np.array(sorted(data))
    if reference_T is None:
        t_ref = float(temps[-1])
    else:
        matches = [t for t in data if np.isclose(t, float(reference_T), rtol=1e-12, atol=0)] \
            if isinstance(reference_T, (int, float, np.integer, np.floating)) else []
        if not matches:
            raise ValueError(f"reference_T must be one of the temperatures in samples {temps.tolist()}, "
                             f"got {reference_T!r}")
        t_ref = matches[0]
    ref = data[t_ref]
    if ref.mean() == 0:
        raise ValueError(f"the mean of samples[{t_ref!r}] (reference_T) is 0: a relative change is undefined")
    rng = np.random.default_rng(seed)
    value, low, high = (np.zeros(temps.size) for _ in range(3))
    for i, t in enumerate(temps):
        if t == t_ref:
            continue
        if block == 1:
            value[i], low[i], high[i] = ratio_ci(data[t], ref, confidence=confidence, n_resamples=n_resamples,
                                                 seed=rng)
        else:
            # a fresh reference resample per temperature: each ratio's interval is that of two independent ensembles
            ref_means = _block_bootstrap_means(ref, block, n_resamples, rng)
            ratios = _block_bootstrap_means(data[t], block, n_resamples, rng) / ref_means - 1.0
            value[i] = data[t].mean() / ref.mean() - 1.0
            low[i], high[i] = _percentile_interval(ratios, confidence)
    return RelativeChange(T=temps, value=value, low=low, high=high, reference_T=float(t_ref),
                          n=np.array([data[t].size for t in temps]), confidence=float(confidence), block=int(block))
