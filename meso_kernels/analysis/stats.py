"""Bootstrap confidence intervals (paper Appendix A 2: 90 % intervals by the bootstrap), built on
``scipy.stats.bootstrap``.

>>> import numpy as np
>>> from meso_kernels.analysis.stats import mean_ci, ratio_ci
>>> x = np.random.default_rng(0).normal(2.0, 0.1, size=400)
>>> m, lo, hi = mean_ci(x, seed=1)
>>> bool(lo < 2.0 < hi), bool(lo < m < hi)
(True, True)
>>> r, lo, hi = ratio_ci(2 * x, x, seed=1)          # mean(a) / mean(b) - 1 with a and b resampled independently
>>> bool(lo < 1.0 < hi)
True
>>> d, lo, hi = difference_ci(x + 0.5, x, seed=1)   # mean(a) - mean(b), a and b resampled independently
>>> bool(lo < 0.5 < hi)
True
"""
import numpy as np
from scipy.stats import bootstrap

CONFIDENCE = 0.9


def _check(x, name):
    x = np.asarray(x, dtype=float).ravel()
    if x.size < 2:
        raise ValueError(f"{name} needs at least 2 values for a bootstrap interval, got {x.size}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains non-finite values")
    return x


def mean_ci(x, confidence=CONFIDENCE, n_resamples=2000, seed=None):
    """``(mean, low, high)``: the sample mean of ``x`` and its bootstrap (BCa) confidence interval."""
    x = _check(x, "x")
    if np.ptp(x) == 0:
        return float(x[0]), float(x[0]), float(x[0])
    r = bootstrap((x,), np.mean, confidence_level=confidence, n_resamples=n_resamples, method="BCa",
                  random_state=np.random.default_rng(seed))
    return float(x.mean()), float(r.confidence_interval.low), float(r.confidence_interval.high)


def ratio_ci(a, b, confidence=CONFIDENCE, n_resamples=2000, seed=None):
    """``(change, low, high)`` of the relative change mean(a)/mean(b) - 1 of two independent samples (each
    resampled on its own; percentile interval)."""
    a = _check(a, "a")
    b = _check(b, "b")

    def stat(x, y, axis=-1):
        return np.mean(x, axis=axis) / np.mean(y, axis=axis) - 1.0

    r = bootstrap((a, b), stat, confidence_level=confidence, n_resamples=n_resamples, method="percentile",
                  paired=False, vectorized=True, random_state=np.random.default_rng(seed))
    return float(stat(a, b)), float(r.confidence_interval.low), float(r.confidence_interval.high)


def difference_ci(a, b, confidence=CONFIDENCE, n_resamples=2000, seed=None):
    """``(difference, low, high)`` of mean(a) - mean(b) for two independent samples (each resampled on its own;
    percentile interval), e.g. an ensemble-mean correlation at two densities (Fig. 7's trend)."""
    a = _check(a, "a")
    b = _check(b, "b")

    def stat(x, y, axis=-1):
        return np.mean(x, axis=axis) - np.mean(y, axis=axis)

    r = bootstrap((a, b), stat, confidence_level=confidence, n_resamples=n_resamples, method="percentile",
                  paired=False, vectorized=True, random_state=np.random.default_rng(seed))
    return float(stat(a, b)), float(r.confidence_interval.low), float(r.confidence_interval.high)
