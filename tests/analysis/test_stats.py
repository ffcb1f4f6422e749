"""Bootstrap intervals (meso_kernels.analysis.stats): coverage on samples with a known mean."""
import numpy as np
import pytest

from meso_kernels.analysis.stats import difference_ci, mean_ci, ratio_ci


def test_mean_interval_covers_the_true_mean_about_90_percent_of_the_time():
    rng = np.random.default_rng(5)
    hits = 0
    for k in range(200):
        x = rng.exponential(1.0, size=60)                 # skewed, like P(kappa_ij)
        m, lo, hi = mean_ci(x, n_resamples=999, seed=k)
        hits += lo <= 1.0 <= hi
        assert lo <= m <= hi
    assert 0.82 <= hits / 200 <= 0.96


def test_interval_shrinks_like_one_over_sqrt_n():
    rng = np.random.default_rng(1)
    w = [np.subtract(*mean_ci(rng.normal(size=n), seed=0)[2:0:-1]) for n in (100, 1600)]
    assert w[0] / w[1] == pytest.approx(4.0, rel=0.25)
    assert w[1] == pytest.approx(2 * 1.645 / 40, rel=0.2)


def test_ratio_interval():
    rng = np.random.default_rng(2)
    a = rng.normal(1.5, 0.05, size=300)
    b = rng.normal(1.0, 0.05, size=300)
    r, lo, hi = ratio_ci(a, b, seed=3)
    assert r == pytest.approx(0.5, abs=0.02) and lo < 0.5 < hi and hi - lo < 0.05


def test_difference_interval_covers_the_true_difference():
    rng = np.random.default_rng(4)
    hits = 0
    for k in range(100):
        a, b = rng.normal(0.3, 0.2, size=40), rng.normal(0.1, 0.2, size=30)
        d, lo, hi = difference_ci(a, b, n_resamples=999, seed=k)
        assert lo <= d <= hi
        hits += lo <= 0.2 <= hi
    assert 0.78 <= hits / 100 <= 0.98


def test_bad_input():
    with pytest.raises(ValueError, match="at least 2"):
        mean_ci([1.0])
    with pytest.raises(ValueError, match="non-finite"):
        ratio_ci([1.0, np.nan], [1.0, 2.0])
    with pytest.raises(ValueError, match="at least 2"):
        difference_ci([1.0, 2.0], [1.0])
