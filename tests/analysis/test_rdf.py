"""g(r): ideal gas, lattices, consistency of partial and total g, agreement with freud."""
import itertools

import numpy as np
import pytest

from meso_kernels.analysis.rdf import RDF
from meso_kernels.initial import random_configuration
from meso_kernels.models import get_model
from meso_kernels.system import System


def _ideal_gas(d, N, L, seed, n_types=1):
    rng = np.random.default_rng(seed)
    return System(rng.random((N, d)) * L, np.full(d, L), types=rng.integers(0, n_types, N))


def _shell(edges, d):
    return np.pi * np.diff(edges ** 2) if d == 2 else 4 / 3 * np.pi * np.diff(edges ** 3)


@pytest.mark.parametrize("d, N, L", [(2, 1500, 30.0), (3, 1500, 12.0)])
def test_ideal_gas_is_one_within_noise(d, N, L):
    frames = [_ideal_gas(d, N, L, seed) for seed in range(4)]
    rdf = RDF(r_max=0.45 * L, bins=40).compute(frames)
    assert rdf.n_frames == 4
    # expected unordered pairs per bin summed over frames: Poisson noise sigma = 1/sqrt(count)
    count = 4 * 0.5 * N * (N - 1) * _shell(rdf.bin_edges, d) / L ** d
    z = (rdf.g_total - 1.0) * np.sqrt(count)
    assert np.all(np.abs(z) < 5), z
    assert np.allclose(rdf.g[0, 0], rdf.g_total)  # one species: partial = total
    assert abs(np.average(rdf.g_total, weights=count) - 1) < 3 / np.sqrt(count.sum())


@pytest.mark.parametrize("d, z_expect", [(2, 4), (3, 6)])
def test_lattice_first_peak_and_coordination(d, z_expect):
    n, a = 8, 1.3
    sites = (np.array(list(itertools.product(range(n), repeat=d))) + 0.5) * a
    s = System(sites, np.full(d, n * a))
    rdf = RDF(r_max=1.6 * a, bins=60).compute(s)  # a sits mid-bin
    g, r, e = rdf.g_total, rdf.r, rdf.bin_edges
    first = np.flatnonzero(g > 0)[0]
    assert e[first] <= a < e[first + 1]  # first peak in the bin holding the lattice spacing
    assert np.all(g[r < a - (e[1] - e[0])] == 0)
    # coordination number: (N - 1)/V (our finite-size normalisation) times the integral of g over the shell,
    # up to between first and second neighbours
    rho = (s.N - 1) / s.volume
    upto = e[1:] <= 1.2 * a
    assert rho * np.sum((g * _shell(e, d))[upto]) == pytest.approx(z_expect, rel=1e-12)


def test_partials_sum_to_total_and_pair_order():
    m = get_model("ipl")
    frames = [random_configuration(m, 400, 0.82, seed=k) for k in range(2)]
    rdf = RDF(r_max=3.5, bins=50).compute(frames)
    assert rdf.pairs == ((0, 0), (0, 1), (1, 1))
    assert np.array_equal(rdf.g[1, 0], rdf.g[0, 1]) and len(rdf.g) == 3
    Na, Nb = m.counts(400)
    N = Na + Nb
    mix = (Na * (Na - 1) * rdf.g[0, 0] + 2 * Na * Nb * rdf.g[0, 1] + Nb * (Nb - 1) * rdf.g[1, 1]) / (N * (N - 1))
    assert np.allclose(mix, rdf.g_total, rtol=1e-12, atol=1e-12)
    # the large-large contact sits further out than the small-small one (IPL lambda 1.4 vs 1.0)
    assert rdf.r[np.argmax(rdf.g[1, 1])] > rdf.r[np.argmax(rdf.g[0, 0])]
    # explicit pairs give the same partials
    only = RDF(r_max=3.5, bins=50).compute(frames, pairs=[(1, 0)])
    assert only.pairs == ((0, 1),) and np.array_equal(only.g[0, 1], rdf.g[0, 1])
    with pytest.raises(KeyError, match=r"species pair \(0, 0\) was not computed"):
        only.g[0, 0]


def test_accumulate_with_reset_false():
    a, b = _ideal_gas(3, 300, 8.0, 1, 2), _ideal_gas(3, 300, 8.0, 2, 2)
    both = RDF(3.0, 20).compute([a, b])
    step = RDF(3.0, 20).compute(a).compute(b, reset=False)
    assert step.n_frames == 2 and np.allclose(step.g_total, both.g_total) and np.allclose(step.g[0, 1], both.g[0, 1])
    assert RDF(3.0, 20).compute(a).compute(b).n_frames == 1


@pytest.mark.parametrize("d", [2, 3])
def test_total_agrees_with_freud(d):
    freud = pytest.importorskip("freud")
    L = 9.0
    s = _ideal_gas(d, 600, L, 7)
    ours = RDF(r_max=4.0, bins=40).compute(s)
    pts = np.zeros((s.N, 3), dtype=np.float32)
    pts[:, :d] = s.positions - L / 2
    ref = freud.density.RDF(bins=40, r_max=4.0, normalization_mode="finite_size")
    ref.compute((freud.box.Box.from_box(s.box), pts))
    assert np.allclose(ref.bin_centers, ours.r, atol=1e-6)
    # freud works in float32: a pair on a bin edge may land in the neighbouring bin
    one_pair = s.volume / (0.5 * s.N * (s.N - 1) * _shell(ours.bin_edges, d))
    assert np.all(np.abs(ref.rdf - ours.g_total) <= 1e-5 + 1.01 * one_pair)
    assert np.abs(ref.rdf - ours.g_total).sum() < 1e-3 * ours.g_total.sum() + 3 * one_pair.max()


def test_errors():
    rdf = RDF(2.0, 10)
    assert rdf.r.shape == (10,) and rdf.r[0] == pytest.approx(0.1)
    for prop in ("g", "g_total", "n_frames", "pairs"):
        with pytest.raises(RuntimeError, match="before compute"):
            getattr(rdf, prop)
    s = _ideal_gas(3, 50, 3.9, 0)
    with pytest.raises(ValueError, match=r"r_max=2.0 must be < min\(box\)/2 = 1.95"):
        rdf.compute(s)
    with pytest.raises(ValueError, match="r_max must be a positive"):
        RDF(0.0, 10)
    with pytest.raises(ValueError, match="bins must be an integer >= 1"):
        RDF(1.0, 0)
    s = _ideal_gas(3, 50, 5.0, 0)
    with pytest.raises(ValueError, match="pairs='some' is not allowed"):
        rdf.compute(s, pairs="some")
    with pytest.raises(ValueError, match=r"species pair \(0, 1\) is undefined"):
        rdf.compute(s, pairs=[(0, 1)])
    with pytest.raises(ValueError, match="systems must be"):
        rdf.compute([])
