"""S(q): ideal gas, lattices, Ashcroft–Langreth partials against a direct sum, first peak, errors."""
import itertools

import numpy as np
import pytest

from meso_kernels.analysis.sq import StructureFactor
from meso_kernels.system import System

freud = pytest.importorskip("freud")


@pytest.fixture(autouse=True, scope="module")
def _one_freud_thread():
    """Tests run on one freud (TBB) thread: the machine is shared; restore the previous setting afterwards."""
    old = freud.parallel.get_num_threads()
    freud.parallel.set_num_threads(1)
    yield
    freud.parallel.set_num_threads(old or None)  # 0 means "not set": back to all cores


def _ideal_gas(d, N, L, seed, n_types=1):
    rng = np.random.default_rng(seed)
    return System(rng.random((N, d)) * L, np.full(d, L), types=rng.integers(0, n_types, N))


def _octant_vectors(box, q_lo, q_hi):
    """The wave vectors freud samples: 2 pi n / L with all n_k >= 0, q_lo <= |k| < q_hi."""
    b = 2 * np.pi / np.asarray(box)
    n = [np.arange(int(np.ceil(q_hi / bk)) + 1) for bk in b]
    g = np.array(np.meshgrid(*n, indexing="ij")).reshape(len(b), -1).T * b
    k = np.linalg.norm(g, axis=1)
    keep = (k >= q_lo) & (k < q_hi) & (k > 0)
    return g[keep], k[keep]


@pytest.mark.parametrize("d, N, L", [(2, 1000, 25.0), (3, 800, 9.0)])
def test_ideal_gas_is_one(d, N, L):
    frames = [_ideal_gas(d, N, L, seed, n_types=2) for seed in range(3)]
    sf = StructureFactor(q_max=9.0, bins=18).compute(frames)
    assert sf.n_frames == 3 and sf.pairs == ((0, 0), (0, 1), (1, 1))
    assert sf.min_valid_q == pytest.approx(2 * np.pi / L)
    _, k = _octant_vectors(np.full(d, L), 0.0, 9.0)
    count = 3 * np.histogram(k, bins=sf.bin_edges)[0]
    high = sf.q > 4 * 2 * np.pi / L
    assert np.all(count[high] > 0) and np.all(np.isfinite(sf.S_total[high]))
    # S(k) of random points is exponentially distributed with mean 1 (sd 1): z-scores per bin
    z = (sf.S_total[high] - 1.0) * np.sqrt(count[high])
    assert np.all(np.abs(z) < 5), z
    assert abs(np.average(sf.S_total[high], weights=count[high]) - 1) < 4 / np.sqrt(count[high].sum())
    for p, expect in [((0, 0), 1.0), ((1, 1), 1.0), ((0, 1), 0.0)]:
        assert abs(np.average(sf.S[p][high], weights=count[high]) - expect) < 5 / np.sqrt(count[high].sum())
    assert np.allclose(sf.S_faber_ziman[0, 1][high].mean(), 1.0, atol=0.1)


@pytest.mark.parametrize("d", [2, 3])
def test_lattice_peak_at_reciprocal_vector(d):
    n, a = 8, 1.3
    sites = (np.array(list(itertools.product(range(n), repeat=d))) + 0.5) * a
    s = System(sites, np.full(d, n * a))
    sf = StructureFactor(q_max=8.0, bins=80).compute(s)  # first shell 2 pi / a = 4.83, second sqrt(2) times that
    h = sf.q[1] - sf.q[0]
    q_peak, S_peak = sf.first_peak(q_range=(0.0, 6.0))
    assert abs(q_peak - 2 * np.pi / a) < h
    assert S_peak > 5
    assert np.nanargmax(sf.S_total) == np.flatnonzero(sf.bin_edges <= 2 * np.pi / a)[-1]
    # nothing below the first reciprocal-lattice shell (other than float32 round-off)
    below = sf.q < 2 * np.pi / a - h
    assert np.nanmax(np.abs(sf.S_total[below])) < 1e-4
    assert np.allclose(sf.S[0, 0], sf.S_total, equal_nan=True)  # one species: partial = total


def test_partials_match_a_direct_sum_and_sum_to_total():
    rng = np.random.default_rng(3)
    L, N = 7.0, 300
    s = System(rng.random((N, 3)) * L, np.full(3, L), types=rng.choice(2, N, p=[0.7, 0.3]))
    sf = StructureFactor(q_max=6.0, bins=12, q_min=1.0).compute(s)
    g, k = _octant_vectors(s.box, 1.0, 6.0)
    idx = np.floor((k - 1.0) / 5.0 * 12).astype(int)
    rho = {a: np.exp(1j * s.positions[s.types == a] @ g.T).sum(axis=0) for a in (0, 1)}
    Na = {a: np.count_nonzero(s.types == a) for a in (0, 1)}
    for a, b in [(0, 0), (0, 1), (1, 1)]:
        sk = (rho[a] * np.conj(rho[b])).real / np.sqrt(Na[a] * Na[b])
        ref = np.bincount(idx, sk, minlength=12) / np.bincount(idx, minlength=12)
        assert np.allclose(sf.S[a, b], ref, rtol=1e-4, atol=1e-4), (a, b)
    x = {a: Na[a] / N for a in (0, 1)}
    mix = x[0] * sf.S[0, 0] + x[1] * sf.S[1, 1] + 2 * np.sqrt(x[0] * x[1]) * sf.S[0, 1]
    assert np.allclose(mix, sf.S_total, rtol=1e-5, atol=1e-5)
    assert np.array_equal(sf.S[1, 0], sf.S[0, 1])
    fz = sf.S_faber_ziman
    assert np.allclose(fz[0, 0], 1 + (sf.S[0, 0] - 1) / x[0])
    only = StructureFactor(q_max=6.0, bins=12, q_min=1.0).compute(s, pairs=[(1, 1)])
    assert only.pairs == ((1, 1),) and np.array_equal(only.S[1, 1], sf.S[1, 1])


def _fake(sf, S):
    """Put a given S(q) into ``sf`` as if computed (total and partial (1, 1))."""
    sf._sum, sf._sum_total, sf._n, sf._pairs, sf._box = {(1, 1): S.copy()}, S.copy(), 1, ((1, 1),), np.full(3, 10.0)
    sf._fractions = {1: 1.0}
    return sf


def test_first_peak_of_liquid_like_curves():
    sf = StructureFactor(q_max=10.0, bins=100)
    q = sf.q
    # small at low q, main peak at 6.3, damped oscillation beyond; wiggles on the rise and a low-q bump (as in a
    # noisy partial S_aa) must not be taken for the first peak
    S = 1 + 1.6 * np.exp(-((q - 6.3) / 0.6) ** 2) - 0.9 * np.exp(-q / 3.0) - 0.4 * np.exp(-((q - 8.0) / 0.6) ** 2)
    S[50] += 0.05
    S[12:15] += [0.3, 0.8, 0.3]
    _fake(sf, S)
    qp, Sp = sf.first_peak()
    assert qp == pytest.approx(6.3, abs=0.01) and Sp == pytest.approx(S.max(), abs=0.01)
    assert sf.first_peak(species=1) == (qp, Sp)
    # parabola: exact for a parabolic peak between bin centres
    P = 3.0 - 2.0 * (q - 5.123) ** 2
    assert _fake(sf, P).first_peak() == pytest.approx((5.123, 3.0), abs=1e-12)
    # S(q -> 0) larger than the main peak: the first minimum comes first, then the peak
    D = S + 4.0 * np.exp(-q / 0.5)
    assert _fake(sf, D).first_peak()[0] == pytest.approx(6.3, abs=0.01)
    assert _fake(sf, S).first_peak(q_range=(5.0, 7.0))[0] == pytest.approx(6.3, abs=0.01)
    with pytest.raises(ValueError, match="at the last bin q=5.95"):
        sf.first_peak(q_range=(2.0, 6.0))  # the rise is cut before the peak
    with pytest.raises(ValueError, match=r"species=0 was not computed; allowed: None \(total\) or one of \[1\]"):
        sf.first_peak(species=0)
    with pytest.raises(ValueError, match="q_range must have q_lo < q_hi"):
        sf.first_peak(q_range=(5.0, 4.0))
    with pytest.raises(ValueError, match="only decreases"):
        _fake(sf, 10.0 - q).first_peak()
    with pytest.raises(ValueError, match="beyond the grid"):
        _fake(sf, q.copy()).first_peak()


def test_accumulate_and_fixed_box():
    a, b = _ideal_gas(3, 200, 6.0, 1, 2), _ideal_gas(3, 200, 6.0, 2, 2)
    both = StructureFactor(8.0, 16).compute([a, b])
    step = StructureFactor(8.0, 16).compute(a).compute(b, reset=False)
    assert step.n_frames == 2
    assert np.allclose(step.S_total, both.S_total, equal_nan=True)
    assert np.allclose(step.S[0, 1], both.S[0, 1], equal_nan=True)
    other = _ideal_gas(3, 200, 6.5, 3, 2)
    with pytest.raises(ValueError, match="one fixed box: frame 1"):
        StructureFactor(8.0, 16).compute([a, other])
    with pytest.raises(ValueError, match="one fixed box: frame 0"):
        step.compute(other, reset=False)


def test_errors():
    sf = StructureFactor(8.0, 10)
    assert sf.q.shape == (10,) and sf.q[0] == pytest.approx(0.4) and sf.bin_edges[0] == 0.0
    for prop in ("S", "S_total", "S_faber_ziman", "n_frames", "pairs", "min_valid_q"):
        with pytest.raises(RuntimeError, match="before compute"):
            getattr(sf, prop)
    with pytest.raises(RuntimeError, match="before compute"):
        sf.first_peak()
    with pytest.raises(ValueError, match="q_max must be a finite number > 0"):
        StructureFactor(0.0, 10)
    with pytest.raises(ValueError, match="bins must be an integer >= 1"):
        StructureFactor(8.0, 0)
    with pytest.raises(ValueError, match=r"q_min=9.0 must be < q_max=8.0"):
        StructureFactor(8.0, 10, q_min=9.0)
    s = _ideal_gas(3, 50, 5.0, 0)
    with pytest.raises(ValueError, match="pairs='some' is not allowed"):
        sf.compute(s, pairs="some")
    with pytest.raises(ValueError, match=r"species pair \(0, 1\) is undefined"):
        sf.compute(s, pairs=[(0, 1)])
    with pytest.raises(ValueError, match="systems must be"):
        sf.compute([])
    with pytest.raises(ValueError, match=r"systems\[0\] must be a meso_kernels.system.System"):
        sf.compute([np.zeros((3, 3))])
    sf.compute(s)
    with pytest.raises(ValueError, match=r"species=2 was not computed; allowed: None \(total\) or one of \[0\]"):
        sf.first_peak(species=2)
