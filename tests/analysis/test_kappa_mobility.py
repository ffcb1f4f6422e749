"""Local kappa against mobility over an ensemble (Figs 6(b, c) and 7): populations of mobility extremes, kappa ratios
and ranks, histograms, ensemble Spearman C_s with its bootstrap interval, null controls, errors.

The statistical tests draw independent fields with a fixed seed, and bound the ensemble mean of C_s by an inequality
that holds for *any* seed with the stated probability (so a change of seed or of numpy's generator fails them with at
most that probability):

- under independence, Spearman's rho of n continuous pairs has mean 0 and variance exactly 1/(n - 1), is symmetric
  about 0 and lies in [-1, 1]; the species mean of two independent species has variance
  sigma^2 = (1/(n_0 - 1) + 1/(n_1 - 1)) / 4;
- for n_conf independent configurations Bernstein's inequality gives
  P(|mean| >= t) <= 2 exp(-n_conf t^2 / (2 sigma^2 + 2 t / 3)); we solve for t at DELTA (false-failure rate);
- for the "other configuration" null the terms are uncorrelated but not independent (neighbours share a kappa
  field), so Chebyshev: P(|mean| >= t) <= sigma^2 / (n_conf t^2).
"""
import numpy as np
import pytest

from meso_kernels.analysis.kappa_mobility import (MIN_CONF_INTERVAL, EnsembleSpearman, PopulationHistograms,
                                                  Populations, density, ensemble_spearman, extreme_populations,
                                                  kappa_ranks, kappa_ratio, null_spearman)
from meso_kernels.analysis.propensity import local_extremes

DELTA = 1e-4  # false-failure rate of each statistical bound


def bernstein_bound(sigma2, n, delta=DELTA):
    """t with 2 exp(-n t^2 / (2 sigma2 + 2 t / 3)) = delta (terms bounded by 1 in absolute value)."""
    L = np.log(2.0 / delta)
    return (2 * L / 3 + np.sqrt(4 * L * L / 9 + 8 * n * L * sigma2)) / (2 * n)


def species_mean_variance(types):
    n = np.bincount(types)
    return float(np.sum(1.0 / (n - 1.0))) / len(n) ** 2


def ensemble(n_conf, N, seed, L=8.0, d=3):
    """Random positions, two species of N/2, kappa uniform in [10, 50] (energy / length^2), all independent."""
    rng = np.random.default_rng(seed)
    types = np.repeat([0, 1], N // 2)
    kappa = rng.uniform(10.0, 50.0, (n_conf, N))
    x = rng.random((n_conf, N, d)) * L
    return x, np.full(d, L), kappa, types, rng


# --- kappa ratio and ranks ----------------------------------------------------------------------------------------
def test_kappa_ratio_and_ranks():
    k = np.array([[1.0, 3.0, np.nan, 2.0, 6.0], [2.0, 2.0, 4.0, 4.0, 8.0]])
    t = np.array([0, 0, 0, 1, 1])
    r_all = kappa_ratio(k, t)
    assert np.allclose(r_all[0], [1 / 3, 1.0, np.nan, 2 / 3, 2.0], equal_nan=True)  # mean of the finite: 3
    assert np.allclose(r_all[1], np.array([2, 2, 4, 4, 8]) / 4.0)
    r_sp = kappa_ratio(k, t, average="species")
    assert np.allclose(r_sp[0], [0.5, 1.5, np.nan, 0.5, 1.5], equal_nan=True)
    assert np.allclose(r_sp[1], [2 / 8 * 3, 2 / 8 * 3, 4 / 8 * 3, 4 / 6, 8 / 6])
    ranks = kappa_ranks(k, t)
    assert np.allclose(ranks[0], [0.0, 1.0, np.nan, 0.0, 1.0], equal_nan=True)  # the rattler is not ranked
    assert np.allclose(ranks[1], [0.25, 0.25, 1.0, 0.0, 1.0])  # a tie shares its average rank


def test_extreme_populations_by_hand():
    # 2D, box 10: species 1 at x = 1, 2, 3, 6, 7, 8 (y = 5); radius 1.5 sees only the next-door particles
    x = np.array([[1, 5], [2, 5], [3, 5], [6, 5], [7, 5], [8, 5], [5, 1]], dtype=float)
    types = np.array([1, 1, 1, 1, 1, 1, 0])
    mob = np.array([0.1, 0.5, 0.2, 0.9, 0.3, 0.4, 5.0])  # the species-0 particle is the most mobile: not counted
    kappa = np.array([4.0, 1.0, 3.0, 2.0, 6.0, 5.0, 1.0])
    pops = extreme_populations(x[None], [10.0, 10.0], kappa[None], mob[None], types, species=1, radius=1.5,
                               n_keep=2)
    assert isinstance(pops, Populations) and pops.n_conf == 1 and pops.species == 1 and pops.n_keep == 2
    # local maxima: 1 (0.5 > 0.1, 0.2) and 3 (0.9 > 0.3; 6 and 2 are 3 and 4 apart), 5 (0.4 > 0.3); keep 2
    assert pops.mobile.particle.tolist() == [3, 1] and pops.mobile.config.tolist() == [0, 0]
    # local minima: 0 (0.1 < 0.5), 2 (0.2 < 0.5), 4 (0.3 < 0.9, 0.4); keep the 2 least mobile
    assert pops.immobile.particle.tolist() == [0, 2]
    assert np.allclose(pops.mobile.mobility, [0.9, 0.5])
    mean_all = kappa.mean()
    assert np.allclose(pops.mobile.kappa_ratio, kappa[[3, 1]] / mean_all)
    assert np.allclose(pops.mobile.kappa_rank, [0.2, 0.0])  # kappa of species 1: 4 1 3 2 6 5 -> ranks /5
    assert np.allclose(pops.immobile.kappa_rank, [0.6, 0.4])
    assert pops.total.particle.tolist() == [0, 1, 2, 3, 4, 5] and len(pops.total) == 6
    assert [p.name for p in pops] == ["mobile", "immobile", "total"]
    # the same selection as the single-configuration primitive
    most, least = local_extremes(x, [10.0, 10.0], mob, types, 1, 1.5, n_keep=2)
    assert most.tolist() == [3, 1] and least.tolist() == [0, 2]
    sp = extreme_populations(x[None], [10.0, 10.0], kappa[None], mob[None], types, 1, 1.5, 2, average="species")
    assert np.allclose(sp.total.kappa_ratio.mean(), 1.0)


def test_monotone_mobility_gives_perfect_correlation():
    """mobility = f(kappa) decreasing: C_s = 1 in every configuration, the mobile are the softest, the immobile the
    stiffest of their configuration (a deterministic computation: exact comparisons of continuous random numbers)."""
    x, box, kappa, types, _ = ensemble(n_conf=12, N=600, seed=3, L=10.0)
    mob = 0.1 + 2.0 / kappa
    C = ensemble_spearman(kappa, mob, types, seed=0)
    assert isinstance(C, EnsembleSpearman) and C.n_conf == 12
    assert np.allclose(C.per_config, 1.0, rtol=0, atol=1e-12)
    assert np.allclose([C.mean, C.low, C.high], 1.0, rtol=0, atol=1e-12)
    assert all(np.allclose(v, 1.0, atol=1e-12) for v in C.per_species.values())
    pops = extreme_populations(x, box, kappa, mob, types, species=1, radius=1.5)
    assert len(pops.mobile) == len(pops.immobile) == 12 * 5 and len(pops.total) == 12 * 300
    first = np.arange(0, 60, 5)  # the most (least) mobile local extreme of each configuration is the global one
    assert np.all(pops.mobile.kappa_rank[first] == 0.0) and np.all(pops.immobile.kappa_rank[first] == 1.0)
    # ~4 same-species neighbours per sphere: the 5 kept extremes lie among the ~2 % most (least) mobile
    assert pops.mobile.kappa_rank.max() < 0.1 < 0.9 < pops.immobile.kappa_rank.min()
    assert np.all(pops.mobile.kappa_ratio < 1.0) and np.all(pops.immobile.kappa_ratio > 1.0)
    h = PopulationHistograms(np.linspace(0.0, 2.0, 21)).compute(pops)
    assert h.rank["mobile"][0] * 0.1 == pytest.approx(1.0) and h.rank["immobile"][-1] * 0.1 == pytest.approx(1.0)
    assert h.counts == {"mobile": 60, "immobile": 60, "total": 3600}
    # the null controls lose the correlation (a statistical bound, see the module docstring)
    sigma2 = species_mean_variance(types)
    null = null_spearman(kappa, mob, types, method="shuffle", seed=5)
    assert abs(null.mean) < bernstein_bound(sigma2, 12)
    other = null_spearman(kappa, mob, types, method="other", seed=5)
    assert abs(other.mean) < np.sqrt(sigma2 / (12 * 1e-3))  # Chebyshev, false-failure rate 1e-3
    assert other.label == "kappa of configuration c+1" and null.label == "kappa shuffled within species"


def test_independent_fields_average_to_zero():
    """kappa and mobility independent: the ensemble mean of C_s is within the Bernstein bound of 0 (false-failure rate
    DELTA for any seed), and its bootstrap interval holds the mean and has about the expected width."""
    n_conf = 200
    _, _, kappa, types, rng = ensemble(n_conf=n_conf, N=400, seed=11)
    mob = rng.exponential(0.3, kappa.shape)
    C = ensemble_spearman(kappa, mob, types, seed=2)
    sigma2 = species_mean_variance(types)
    assert abs(C.mean) < bernstein_bound(sigma2, n_conf)
    assert C.low < C.mean < C.high
    se = np.sqrt(sigma2 / n_conf)  # exact standard error of the mean; a 90 % interval spans about 3.3 of them
    assert 1.0 * se < C.high - C.low < 6.0 * se
    for s in (0, 1):
        assert abs(C.per_species[s].mean()) < bernstein_bound(1.0 / 199, n_conf)


def test_null_controls_when_the_correlation_is_perfect():
    n_conf = 100
    _, _, kappa, types, _ = ensemble(n_conf=n_conf, N=400, seed=21)
    mob = 1.0 / kappa
    assert ensemble_spearman(kappa, mob, types).mean == pytest.approx(1.0)
    sigma2 = species_mean_variance(types)
    for seed in (0, 1):
        shuffled = null_spearman(kappa, mob, types, method="shuffle", seed=seed)
        assert abs(shuffled.mean) < bernstein_bound(sigma2, n_conf)
        assert shuffled.low <= shuffled.mean <= shuffled.high
    again = null_spearman(kappa, mob, types, method="shuffle", seed=0)
    assert np.array_equal(again.per_config, null_spearman(kappa, mob, types, method="shuffle", seed=0).per_config)
    for offset in (1, 50):
        other = null_spearman(kappa, mob, types, method="other", offset=offset)
        assert abs(other.mean) < np.sqrt(sigma2 / (n_conf * 1e-3))  # Chebyshev, false-failure rate 1e-3
    # configurations that remember each other are no null: identical kappa fields give C_s = 1 again
    same = null_spearman(np.repeat(kappa[:1], 4, axis=0), np.repeat(mob[:1], 4, axis=0), types, method="other")
    assert same.mean == pytest.approx(1.0)


def test_rattlers_are_kept_but_not_counted():
    x, box, kappa, types, _ = ensemble(n_conf=4, N=400, seed=5)
    mob = 1.0 / kappa
    kappa = kappa.copy()
    c, i = 2, int(np.argmax(mob[2] * (types == 1)))  # the most mobile large particle of configuration 2: a rattler
    kappa[c, i] = np.nan
    pops = extreme_populations(x, box, kappa, mob, types, species=1, radius=1.5)
    assert pops.mobile.n_rattlers == 1 and pops.immobile.n_rattlers == 0 and pops.total.n_rattlers == 1
    assert np.isnan(pops.mobile.kappa_rank[pops.mobile.config == c][0])
    h = PopulationHistograms(np.linspace(0.0, 3.0, 31)).compute(pops)
    assert h.counts["mobile"] == len(pops.mobile) - 1
    C = ensemble_spearman(kappa, mob, types, seed=0)
    assert np.allclose(C.per_config, 1.0)  # the rattler is left out of C_s


def test_histograms_and_density():
    d, out = density([0.05, 0.15, 0.15, 0.95, 1.5, np.nan], np.linspace(0.0, 1.0, 11))
    assert out == pytest.approx(0.2)  # 1 of 5 finite values outside
    assert np.sum(d * 0.1) == pytest.approx(0.8)
    assert d[1] == pytest.approx(2 / 5 / 0.1)
    empty, out = density([np.nan], [0.0, 1.0])
    assert np.isnan(empty).all() and np.isnan(out)
    h = PopulationHistograms([0.0, 1.0, 2.0], rank_edges=[0.0, 0.5, 1.0])
    with pytest.raises(RuntimeError, match=r"call compute\(populations\) first"):
        h.ratio
    assert h.ratio_centres.tolist() == [0.5, 1.5] and h.rank_centres.tolist() == [0.25, 0.75]
    x, box, kappa, types, rng = ensemble(n_conf=3, N=200, seed=1)
    pops = extreme_populations(x, box, kappa, rng.random(kappa.shape), types, species=0, radius=1.2)
    h.compute(pops)
    assert sorted(h.ratio) == ["immobile", "mobile", "total"] and sorted(h.rank) == ["immobile", "mobile"]
    for name, P in h.ratio.items():
        assert np.sum(P * 1.0) == pytest.approx(1.0 - h.outside[name])
    for P in h.rank.values():
        assert np.sum(P * 0.5) == pytest.approx(1.0)


def test_median_configuration_rule():
    C = EnsembleSpearman(np.array([0.1, 0.5, 0.3, 0.2, 0.9]), {}, 0.4, 0.2, 0.6, 0.9, "x")
    assert C.median_config == 2  # median 0.3
    C = EnsembleSpearman(np.array([0.125, 0.25, 0.5, 0.625]), {}, 0.375, 0.25, 0.5, 0.9, "x")
    assert C.median_config == 1  # median 0.375 (exact in binary): 0.25 and 0.5 tie, the lower index wins


def test_one_species():
    _, _, kappa, _, _ = ensemble(n_conf=5, N=100, seed=2)
    types = np.zeros(100, dtype=int)
    C = ensemble_spearman(kappa, 1.0 / kappa, types, seed=0)
    assert list(C.per_species) == [0] and np.allclose(C.per_config, 1.0)
    assert np.allclose(kappa_ranks(kappa, types).max(axis=1), 1.0)


def test_errors():
    x, box, kappa, types, rng = ensemble(n_conf=4, N=100, seed=0)
    mob = rng.random(kappa.shape)
    with pytest.raises(ValueError, match=r"mobility must have shape \(4, 100\), got \(3, 100\)"):
        ensemble_spearman(kappa, mob[:3], types)
    with pytest.raises(ValueError, match=r"types must have shape \(100,\)"):
        ensemble_spearman(kappa, mob, types[:50])
    with pytest.raises(ValueError, match=r"local_kappa must have 2 dimensions"):
        ensemble_spearman(kappa[0], mob[0], types)
    with pytest.raises(ValueError, match=rf"needs n_conf >= {MIN_CONF_INTERVAL}, got 2"):
        ensemble_spearman(kappa[:2], mob[:2], types)
    with pytest.raises(ValueError, match=r"local_kappa must be > 0 where finite"):
        ensemble_spearman(-kappa, mob, types)
    bad = mob.copy()
    bad[1, 7] = np.nan
    with pytest.raises(ValueError, match=r"mobility must be finite, got nan at configuration 1, particle 7"):
        ensemble_spearman(kappa, bad, types)
    with pytest.raises(ValueError, match=r"confidence must be in \(0, 1\)"):
        ensemble_spearman(kappa, mob, types, confidence=90)
    with pytest.raises(ValueError, match=r"n_resamples must be an integer >= 100"):
        ensemble_spearman(kappa, mob, types, n_resamples=10)
    no_kappa = kappa.copy()
    no_kappa[3] = np.nan
    with pytest.raises(ValueError, match=r"configuration 3: no species has 3 or more particles"):
        ensemble_spearman(no_kappa, mob, types)
    with pytest.raises(ValueError, match=r"method must be one of 'other', 'shuffle', got 'swap'"):
        null_spearman(kappa, mob, types, method="swap")
    with pytest.raises(ValueError, match=r"offset must be an integer with 1 <= offset < n_conf = 4, got 4"):
        null_spearman(kappa, mob, types, method="other", offset=4)
    with pytest.raises(ValueError, match=r"method='other' needs n_conf >= 2"):
        null_spearman(kappa[:1], mob[:1], types, method="other")
    with pytest.raises(ValueError, match=r"species=2 is not present in types; allowed: one of \[0, 1\]"):
        extreme_populations(x, box, kappa, mob, types, species=2, radius=1.0)
    with pytest.raises(ValueError, match=r"positions must have shape \(4, 100, d\)"):
        extreme_populations(x[:3], box, kappa, mob, types, species=1, radius=1.0)
    with pytest.raises(ValueError, match=r"radius=5.0 must be < min\(box\)/2 = 4.0"):
        extreme_populations(x, box, kappa, mob, types, species=1, radius=5.0)
    with pytest.raises(ValueError, match=r"n_keep must be an integer >= 1, got 0"):
        extreme_populations(x, box, kappa, mob, types, species=1, radius=1.0, n_keep=0)
    with pytest.raises(ValueError, match=r"average must be one of 'all', 'species', got 'bulk'"):
        extreme_populations(x, box, kappa, mob, types, species=1, radius=1.0, average="bulk")
    with pytest.raises(ValueError, match=r"box must be 3 positive finite side lengths"):
        extreme_populations(x, box[:2], kappa, mob, types, species=1, radius=1.0)
    with pytest.raises(ValueError, match=r"configuration 0 has no finite local_kappa in species 0"):
        kappa_ratio(np.where(types == 0, np.nan, kappa), types, average="species")
    with pytest.raises(ValueError, match=r"rank_edges must cover \[0.0, 1.0\]"):
        PopulationHistograms([0.0, 1.0], rank_edges=[0.0, 0.5])
    with pytest.raises(ValueError, match=r"ratio_edges must be >= 2 finite, strictly increasing"):
        PopulationHistograms([1.0, 0.0])
    with pytest.raises(ValueError, match=r"populations must be the Populations of extreme_populations"):
        PopulationHistograms([0.0, 1.0]).compute({"mobile": []})
