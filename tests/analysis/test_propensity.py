"""Propensity: isoconfigurational runs, mobility, neighbour-relative displacements, ranks, local extremes, C_s."""
import numpy as np
import pytest
from conftest import make_glass

from meso_kernels.analysis.propensity import (isoconfigurational_displacements, local_extremes, mobility,
                                              neighbour_relative_displacements, spearman_by_species, species_ranks)


# --- isoconfigurational ensemble ----------------------------------------------------------------------------------
def test_isoconfigurational_runs_are_deterministic_and_distinct(one_thread):
    m, ihs = make_glass("ipl3d")  # N = 128 at rho = 0.82
    d = isoconfigurational_displacements(ihs, m, T=1.0, nsteps=50, n_runs=3, seed=4)
    assert d.shape == (3, ihs.N, 3)
    again = isoconfigurational_displacements(ihs, m, T=1.0, nsteps=50, n_runs=3, seed=4)
    assert np.array_equal(d, again)
    # runs differ from each other, and run r does not depend on n_runs
    assert not np.allclose(d[0], d[1]) and not np.allclose(d[1], d[2])
    assert np.array_equal(isoconfigurational_displacements(ihs, m, 1.0, 50, 1, seed=4)[0], d[0])
    assert not np.allclose(isoconfigurational_displacements(ihs, m, 1.0, 50, 1, seed=5)[0], d[0])
    # 50 steps of dt = 0.005 at T = 1: ballistic-ish, |dr| ~ sqrt(3 T) t = 0.43 at most, on average less
    mob = mobility(d)
    assert mob.shape == (ihs.N,) and 0.05 < mob.mean() < 0.45
    assert np.allclose(d.mean(axis=1), 0.0, atol=1e-10)  # total momentum is zero: the centre of mass stays
    zero = isoconfigurational_displacements(ihs, m, T=1.0, nsteps=0, n_runs=2)
    assert zero.shape == (2, ihs.N, 3) and np.all(zero == 0)


def test_isoconfigurational_errors():
    m, ihs = make_glass("ipl3d")
    with pytest.raises(ValueError, match="n_runs must be an integer >= 1"):
        isoconfigurational_displacements(ihs, m, 1.0, 10, 0)
    with pytest.raises(ValueError, match="nsteps must be an integer >= 0"):
        isoconfigurational_displacements(ihs, m, 1.0, -1, 2)
    with pytest.raises(ValueError, match="T must be a positive"):
        isoconfigurational_displacements(ihs, m, 0.0, 10, 2)
    with pytest.raises(ValueError, match="system must be a meso_kernels.system.System"):
        isoconfigurational_displacements(ihs.positions, m, 1.0, 10, 2)
    m2, _ = make_glass("ipl2d")
    with pytest.raises(ValueError, match="2D but the system is 3D"):
        isoconfigurational_displacements(ihs, m2, 1.0, 10, 2)


def test_mobility():
    d = np.zeros((2, 3, 2))
    d[0, 0] = [3.0, 4.0]
    d[1, 0] = [0.0, 1.0]
    d[:, 2] = [1.0, 0.0]
    assert np.allclose(mobility(d), [3.0, 0.0, 1.0])
    assert np.allclose(mobility(d[0]), [5.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="displacements must have 2 or 3 dimensions"):
        mobility(np.zeros(5))


# --- neighbour-relative displacements ----------------------------------------------------------------------------
def test_neighbour_relative_displacements():
    rng = np.random.default_rng(0)
    box = np.array([10.0, 10.0, 10.0])
    x0 = rng.random((300, 3)) * box
    shift = np.array([0.3, -1.7, 12.0])  # a uniform translation, across the box
    assert np.allclose(neighbour_relative_displacements(x0, x0 + shift, box, 1.5), 0.0, atol=1e-12)
    # a particle without neighbours keeps its displacement; others are measured against their cage
    x0 = np.array([[1.0, 1.0], [1.5, 1.0], [9.8, 1.0], [5.0, 5.0]])
    dr = np.array([[1.0, 0.0], [0.0, 2.0], [0.5, 0.5], [0.2, 0.1]])
    box2 = np.array([10.0, 10.0])
    out = neighbour_relative_displacements(x0, x0 + dr, box2, 1.4)
    # 0 sees 1 (0.5) and 2 (1.2 through the boundary); 1 sees 0 only (2 is 1.7 away); 2 sees 0; 3 sees nobody
    assert np.allclose(out[0], dr[0] - 0.5 * (dr[1] + dr[2]))
    assert np.allclose(out[1], dr[1] - dr[0])
    assert np.allclose(out[2], dr[2] - dr[0])
    assert np.allclose(out[3], dr[3])
    # several runs at once
    many = neighbour_relative_displacements(x0, x0 + np.stack([dr, 2 * dr]), box2, 1.4)
    assert many.shape == (2, 4, 2) and np.allclose(many[0], out) and np.allclose(many[1], 2 * out)
    with pytest.raises(ValueError, match=r"x1 must have shape \(4, 2\) or \(n_runs, 4, 2\)"):
        neighbour_relative_displacements(x0, x0[:3], box2, 1.4)
    with pytest.raises(ValueError, match=r"cutoff=6.0 must be < min\(box\)/2 = 5.0"):
        neighbour_relative_displacements(x0, x0, box2, 6.0)
    with pytest.raises(ValueError, match="box must be 2 positive finite side lengths"):
        neighbour_relative_displacements(x0, x0, box, 1.0)


# --- ranks -------------------------------------------------------------------------------------------------------
def test_species_ranks():
    rng = np.random.default_rng(1)
    types = rng.integers(0, 3, 500)
    types[0] = 3  # species 3 has one particle
    v = rng.normal(size=500) + 10 * types  # species offsets must not matter
    r = species_ranks(v, types)
    assert np.all((r >= 0) & (r <= 1)) and r[0] == 0.5
    for s in range(3):
        sel = types == s
        order = np.argsort(v[sel])
        assert np.all(np.diff(r[sel][order]) > 0)  # monotone within a species
        assert r[sel].min() == 0.0 and r[sel].max() == 1.0
    tied = species_ranks([1.0, 2.0, 2.0, 3.0, np.nan], [0, 0, 0, 0, 0])
    assert np.allclose(tied[:4], [0.0, 0.5, 0.5, 1.0]) and np.isnan(tied[4])
    with pytest.raises(ValueError, match=r"types must have shape \(3,\)"):
        species_ranks([1.0, 2.0, 3.0], [0, 0])
    with pytest.raises(ValueError, match="types must hold integer species indices"):
        species_ranks([1.0, 2.0], [0.0, 1.0])


# --- local extremes ------------------------------------------------------------------------------------------------
def test_local_extremes_hand_built():
    box = np.array([20.0, 20.0])
    pos = np.array([
        [2.0, 2.0], [3.0, 2.0], [2.0, 3.0],   # cluster A: mobility 5, 1, 2
        [10.0, 10.0], [11.0, 10.0],           # cluster B: 3, 0.5
        [15.0, 15.0],                         # isolated: 4 (both a local max and a local min)
        [19.6, 8.0], [0.4, 8.0],              # cluster C across the boundary: 6, 7
        [2.5, 2.5], [10.5, 10.0],             # species 1, very (im)mobile: must be ignored
    ])
    mob = np.array([5.0, 1.0, 2.0, 3.0, 0.5, 4.0, 6.0, 7.0, 100.0, 0.0])
    types = np.array([0, 0, 0, 0, 0, 0, 0, 0, 1, 1])
    most, least = local_extremes(pos, box, mob, types, species=0, radius=2.0)
    assert most.tolist() == [7, 0, 5, 3]
    assert least.tolist() == [4, 1, 5, 6]
    most, least = local_extremes(pos, box, mob, types, species=0, radius=2.0, n_keep=2)
    assert most.tolist() == [7, 0] and least.tolist() == [4, 1]
    # species 1 alone: two isolated particles, each both a local maximum and a local minimum
    most, least = local_extremes(pos, box, mob, types, species=1, radius=2.0)
    assert most.tolist() == [8, 9] and least.tolist() == [9, 8]
    with pytest.raises(ValueError, match=r"species=2 is not present; allowed: one of \[0, 1\]"):
        local_extremes(pos, box, mob, types, species=2, radius=2.0)
    with pytest.raises(ValueError, match=r"mobility must have shape \(10,\)"):
        local_extremes(pos, box, mob[:5], types, species=0, radius=2.0)
    with pytest.raises(ValueError, match=r"types must have shape \(10,\)"):
        local_extremes(pos, box, mob, types[:3], species=0, radius=2.0)
    with pytest.raises(ValueError, match="n_keep must be an integer >= 1"):
        local_extremes(pos, box, mob, types, species=0, radius=2.0, n_keep=0)
    with pytest.raises(ValueError, match=r"radius=10.0 must be < min\(box\)/2"):
        local_extremes(pos, box, mob, types, species=0, radius=10.0)


# --- Spearman ------------------------------------------------------------------------------------------------------
def test_spearman_by_species():
    rng = np.random.default_rng(2)
    N = 2000
    types = rng.integers(0, 2, N)
    kappa = rng.uniform(5.0, 80.0, N)
    mob = 3.0 - np.log(kappa) + 10 * types  # monotone decreasing in kappa, species offset irrelevant
    C = spearman_by_species(kappa, mob, types)
    assert set(C) == {0, 1, "mean"}
    assert C[0] == pytest.approx(1.0) and C[1] == pytest.approx(1.0) and C["mean"] == pytest.approx(1.0)
    C = spearman_by_species(kappa, rng.random(N), types)
    assert abs(C[0]) < 0.2 and abs(C[1]) < 0.2 and C["mean"] == pytest.approx(0.5 * (C[0] + C[1]))
    # rattlers (NaN kappa) are left out
    k = kappa.copy()
    k[:100] = np.nan
    m = mob.copy()
    m[:100] = rng.random(100)  # would spoil the correlation if they counted
    assert spearman_by_species(k, m, types)["mean"] == pytest.approx(1.0)
    # a species with fewer than 3 valid particles gets nan and is left out of the mean
    t = types.copy()
    t[:2] = 2
    C = spearman_by_species(kappa, mob, t)
    assert np.isnan(C[2]) and C["mean"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="local_kappa must be > 0"):
        spearman_by_species(-kappa, mob, types)
    with pytest.raises(ValueError, match=r"mobility must have shape \(2000,\)"):
        spearman_by_species(kappa, mob[:10], types)
    with pytest.raises(ValueError, match=r"types must have shape \(2000,\)"):
        spearman_by_species(kappa, mob, types[:10])
