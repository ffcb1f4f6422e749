"""The on-the-fly correlators against known answers (free flight, random walk), against the frame-based SelfISF and
MSD on the same trajectory, and on a real MD run (ballistic limit)."""
import numpy as np
import pytest

from meso_kernels.analysis.isf import SelfISF
from meso_kernels.analysis.logtime import LogTimeCorrelator, equilibration_check, log_lags
from meso_kernels.analysis.msd import MSD
from synthetic import random_walk  # tests/analysis/synthetic.py

pytestmark = pytest.mark.usefixtures("one_thread")


class Playback:
    """The part of the integrator interface the correlator uses, replaying precomputed unwrapped positions."""

    def __init__(self, frames, dt, box, types):
        self.frames, self.dt, self.box, self._types = frames, dt, np.asarray(box, float), np.asarray(types)
        self.step = 0

    @property
    def types(self):
        return self._types.copy()

    @property
    def x(self):
        return self.frames[self.step].copy()

    def run(self, n):
        if self.step + n >= len(self.frames):
            raise AssertionError("ran past the end of the recorded trajectory")
        self.step += n


class FreeFlight(Playback):
    """Particles moving on straight lines with Maxwell–Boltzmann velocities at temperature T."""

    def __init__(self, N, dim, T, dt, L, seed):
        rng = np.random.default_rng(seed)
        self.x0 = rng.random((N, dim)) * L
        self.v = rng.normal(0.0, np.sqrt(T), size=(N, dim))
        self.dt, self.box, self._types, self.step = dt, np.full(dim, float(L)), np.arange(N) % 2, 0

    @property
    def x(self):
        return self.x0 + self.v * self.step * self.dt

    def run(self, n):
        self.step += n


@pytest.mark.parametrize("dim", [2, 3])
def test_free_flight_fs_and_msd(dim):
    T, dt, q = 1.3, 0.01, 3.0
    sim = FreeFlight(4000, dim, T, dt, L=20.0, seed=dim)
    corr = LogTimeCorrelator(q=q, dt=dt, max_lag=200, origin_interval=100).run(sim, 400)
    t = corr.t
    q_eff = np.linalg.norm(corr.wave_vectors, axis=1)
    expected_fs = np.exp(-np.outer(t ** 2, q_eff ** 2) * T / 2).mean(axis=1)
    assert np.max(np.abs(corr.fs_total - expected_fs)) < 0.03
    np.testing.assert_allclose(corr.msd_total, dim * T * t ** 2, rtol=0.05)
    for a2 in corr.alpha2.values():  # Gaussian displacements: alpha2 = 0
        assert np.max(np.abs(a2)) < 0.15


def test_free_flight_displacement_distribution_is_maxwellian():
    T, dt = 1.0, 0.01
    sim = FreeFlight(6000, 3, T, dt, L=30.0, seed=4)
    corr = LogTimeCorrelator(q=2.0, dt=dt, max_lag=100, origin_interval=50).run(sim, 200)
    r, P, lag = corr.displacement_distribution(0.5)
    s2 = T * lag ** 2
    maxwell = 4 * np.pi * r ** 2 * (2 * np.pi * s2) ** -1.5 * np.exp(-r ** 2 / (2 * s2))
    w = np.diff(corr.hist_edges)
    assert abs(np.sum(P * w) - 1.0) < 1e-3  # every displacement lies inside the histogram range
    assert abs(np.sum(r * P * w) - np.sum(r * maxwell * w)) < 0.02 * np.sqrt(8 * s2 / np.pi)
    # species-resolved distributions average to the total
    r0, P0, _ = corr.displacement_distribution(0.5, species=0)
    r1, P1, _ = corr.displacement_distribution(0.5, species=1)
    np.testing.assert_allclose(0.5 * (P0 + P1), P, rtol=1e-12, atol=1e-12)


def test_random_walk_msd_fs_and_stationarity():
    D, dt, q = 0.05, 0.1, 4.0
    frames, box = random_walk(3, 1500, D, dt, 2001, seed=2)
    sim = Playback(frames, dt, box, np.zeros(1500, int))
    corr = LogTimeCorrelator(q=q, dt=dt, max_lag=500, origin_interval=50).run(sim, 2000)
    t = corr.t
    np.testing.assert_allclose(corr.msd[0], 6 * D * t, rtol=0.05)
    q_eff = np.linalg.norm(corr.wave_vectors, axis=1)
    expected = np.exp(-np.outer(t, q_eff ** 2) * D).mean(axis=1)
    assert np.max(np.abs(corr.fs[0] - expected)) < 0.02
    early, late = corr.fs_halves(0)
    assert np.nanmax(np.abs(early - late)) < 0.03
    tau = corr.tau_alpha(0)
    assert tau == pytest.approx(np.log(5) / (q ** 2 * D), rel=0.05)


def test_same_numbers_as_the_frame_based_correlators():
    dt = 0.05
    frames, box = random_walk(3, 300, 0.1, dt, 121, seed=5, rho=0.6)
    types = np.arange(300) % 3 == 0
    corr = LogTimeCorrelator(q=5.0, dt=dt, max_lag=60, origin_interval=1, points_per_decade=8)
    corr.run(Playback(frames, dt, box, types.astype(int)), 120)
    times = np.arange(121) * dt
    isf = SelfISF(q=5.0).compute(frames, times, box, types.astype(int))
    msd = MSD().compute(frames, times, box, types.astype(int))
    np.testing.assert_allclose(isf.wave_vectors, corr.wave_vectors)
    idx = np.searchsorted(isf.t, corr.t - 1e-9)
    np.testing.assert_allclose(isf.t[idx], corr.t, rtol=1e-12)
    for s in (0, 1):
        np.testing.assert_allclose(corr.fs[s], isf.fs[s][idx], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(corr.msd[s], msd.msd[s][idx], rtol=2e-5)  # freud's MSD is single precision
    np.testing.assert_allclose(corr.fs_total, isf.fs_total[idx], rtol=1e-10, atol=1e-12)


def test_memory_holds_only_open_origins():
    """Origins close after their last lag: a run much longer than max_lag keeps few positions."""
    held = []
    sim = FreeFlight(50, 3, 1.0, 0.01, L=10.0, seed=1)
    corr = LogTimeCorrelator(q=3.0, dt=0.01, max_lag=40, origin_interval=10)
    original = corr._accumulate

    def spy(dr, lag_index, group):
        held.append(lag_index)
        original(dr, lag_index, group)

    corr._accumulate = spy
    corr.run(sim, 5000)
    assert sim.step == 5000
    assert corr.n_origins.max() == pytest.approx(500, abs=1)
    assert len(held) == corr.n_origins.sum()


def test_md_run_is_ballistic_at_short_times_and_roundtrips():
    from meso_kernels.initial import random_configuration
    from meso_kernels.integrate import thermalize
    from meso_kernels.models import get_model
    m = get_model("ipl")
    T = 1.2
    sim = thermalize(random_configuration(m, 256, 0.82, seed=3), m, T, nsteps=1000, seed=3)
    # Lags up to 1500 steps (7.5 time units, ~3 tau_alpha): F_s must fall below 0.2 for tau_alpha to exist, on
    # whichever trajectory the CPU's rounding produces. Over 40 trajectories F_s at the last lag was 0.020 +- 0.016
    # (max 0.073); with the former 1000-step lags it was 0.060 +- 0.026 (max 0.13, a right tail towards 0.2).
    # The first-lag MSD / (3 T t^2) was 0.998 +- 0.008: rel=0.1 is 12 standard deviations.
    corr = LogTimeCorrelator(q=m.state_point.qmax[m.large], dt=m.state_point.dt, max_lag=1500, origin_interval=100)
    corr.run(sim, 3000)
    assert sim.step == 4000
    t = corr.t
    assert corr.msd_total[0] == pytest.approx(3 * T * t[0] ** 2, rel=0.1)
    assert corr.fs[1][0] > 0.99 and corr.fs[1][-1] < 0.2
    again = LogTimeCorrelator.from_arrays(corr.to_arrays())
    for name in ("t", "fs_total", "msd_total"):
        np.testing.assert_array_equal(getattr(again, name), getattr(corr, name))
    assert again.tau_alpha(1) == corr.tau_alpha(1)
    # continuing the run extends the same averages
    n_before = corr.n_origins.copy()
    corr.run(sim, 1000)
    assert np.all(corr.n_origins >= n_before) and corr.n_origins.sum() > n_before.sum()


def test_log_lags():
    lags = log_lags(10_000, points_per_decade=10)
    assert lags[0] == 1 and lags[-1] == 10_000
    assert np.all(np.diff(lags) > 0)
    assert 30 <= lags.size <= 41


@pytest.mark.parametrize("kwargs, match", [
    ({"q": 0.0}, "q must be"), ({"q": -1.0}, "q must be"), ({"dt": 0.0}, "dt must be"),
    ({"max_lag": 0}, "max_lag must be"), ({"origin_interval": 0}, "origin_interval must be"),
    ({"hist_edges": [1.0, 0.5]}, "hist_edges"),
])
def test_bad_parameters(kwargs, match):
    args = {"q": 3.0, "dt": 0.01, "max_lag": 10, "origin_interval": 5} | kwargs
    with pytest.raises(ValueError, match=match):
        LogTimeCorrelator(**args)


def test_errors_during_and_after_runs():
    corr = LogTimeCorrelator(q=3.0, dt=0.01, max_lag=50, origin_interval=10)
    with pytest.raises(RuntimeError, match="call corr.run"):
        corr.fs_total
    sim = FreeFlight(20, 3, 1.0, 0.01, L=10.0, seed=1)
    with pytest.raises(ValueError, match="time grid would be empty"):
        log_lags(5, min_lag=10)
    with pytest.raises(ValueError, match="nsteps must be"):
        LogTimeCorrelator(q=3.0, dt=0.01, max_lag=50, origin_interval=10).run(sim, 0)
    with pytest.raises(ValueError, match="dt"):
        LogTimeCorrelator(q=3.0, dt=0.02, max_lag=50, origin_interval=10).run(sim, 100)
    corr.run(sim, 100)
    with pytest.raises(ValueError, match="species=5 is not present; present species: \\[0, 1\\]"):
        corr.tau_alpha(5)
    with pytest.raises(ValueError, match="time must be"):
        corr.displacement_distribution(-1.0)
    with pytest.raises(ValueError, match="F_s never"):
        corr.tau_alpha(0)  # free flight at q = 3 over 0.5 time units: F_s stays near 1
    sim.box = sim.box * 1.1
    with pytest.raises(ValueError, match="box changes"):
        corr.run(sim, 100)


# --- blocks of time origins and the stationarity check -----------------------------------------------------------
def _run_blocks(n_blocks, nsteps=1500):
    from meso_kernels.initial import random_configuration
    from meso_kernels.integrate import thermalize
    from meso_kernels.models import get_model
    m = get_model("ipl")
    sim = thermalize(random_configuration(m, 128, 0.82, seed=3), m, T=1.5, nsteps=200, seed=3)
    corr = LogTimeCorrelator(q=6.35, dt=m.state_point.dt, max_lag=200, origin_interval=25, n_blocks=n_blocks)
    return corr.run(sim, nsteps)


def test_blocks_split_the_same_sums():
    """The blocks only split the F_s sums: the same trajectory gives the same F_s and the same two halves whatever
    the number of blocks (the trajectory does not depend on the correlator)."""
    two, eight = _run_blocks(2), _run_blocks(8)
    assert eight.n_blocks == 8 and eight.fs_blocks(1)[0].shape[0] == 8
    np.testing.assert_allclose(eight.fs[1], two.fs[1], rtol=1e-12, atol=1e-14)
    for a, b in zip(eight.fs_halves(1), two.fs_halves(1)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    F, n = eight.fs_blocks(1)
    np.testing.assert_allclose(n.sum(axis=0), eight.n_origins)
    back = LogTimeCorrelator.from_arrays(eight.to_arrays())
    assert back.n_blocks == 8
    np.testing.assert_array_equal(back.fs_blocks(1)[0], F)
    with pytest.raises(ValueError, match="n_blocks must be an even integer"):
        LogTimeCorrelator(q=6.35, dt=0.005, max_lag=10, origin_interval=5, n_blocks=3)
    with pytest.raises(ValueError, match="n_blocks = 2"):
        equilibration_check(two, 1)


def _synthetic(late_tau, scatter, n_blocks=8, seed=0, late_max_t=None):
    """A correlator built from F_s = exp(-(t/tau)^0.8) per block: the first half of the blocks relaxes with tau = 1,
    the second with ``late_tau``; every block carries Gaussian noise of size ``scatter``. ``late_max_t``: the second
    half has no time origins at lags beyond it (as in a run a few tau_alpha long)."""
    rng = np.random.default_rng(seed)
    lags = np.unique(np.round(np.geomspace(1, 1000, 40)).astype(np.int64))
    t = lags * 0.01
    h = n_blocks // 2
    taus = np.r_[np.ones(h), np.full(h, late_tau)]
    F = np.exp(-(t[None, :] / taus[:, None]) ** 0.8) + scatter * rng.standard_normal((n_blocks, lags.size))
    n = np.full((n_blocks, lags.size), 10.0)
    if late_max_t is not None:
        n[h:, t > late_max_t] = 0.0
        F[h:, t > late_max_t] = 0.0
    arrays = {"q": np.array(6.0), "dt": np.array(0.01), "lags": lags, "origin_interval": np.array(10),
              "hist_edges": np.geomspace(1e-3, 10, 11), "species": np.array([0]), "species_counts": np.array([100.0]),
              "box": np.ones(3), "wave_vectors": np.ones((1, 3)), "fs_sums": (F * n)[:, None, :],
              "r2_sums": np.ones((1, lags.size)), "r4_sums": np.ones((1, lags.size)), "n_sums": n,
              "hist_sums": np.zeros((1, lags.size, 10))}
    return LogTimeCorrelator.from_arrays(arrays)


def test_equilibration_check_on_known_cases():
    from scipy.stats import t as student_t
    flat = equilibration_check(_synthetic(1.0, 0.01), 0)
    assert flat.dof == 6 and flat.z_max == pytest.approx(student_t.ppf(0.995, 6))
    assert flat.tau_early == pytest.approx(flat.tau_late, rel=0.1)
    # identical halves without noise: zero difference over zero error is reported as z = 0, stationary
    exact = equilibration_check(_synthetic(1.0, 0.0), 0)
    assert exact.z == 0.0 and exact.passed
    # the late half relaxes 50 % slower, far beyond a 0.002 block scatter: not stationary, with z of the right sign
    aging = equilibration_check(_synthetic(1.5, 0.002), 0)
    assert not aging.passed and aging.z < -aging.z_max and aging.tau_late > 1.3 * aging.tau_early
    assert "NOT stationary" in aging.summary()
    # the error bars are the standard errors of the block means: noise 0.01 over 4 blocks -> about 0.005
    assert 0.001 < np.nanmedian(flat.early_err) < 0.012
    # ln tau error: F error at tau (~0.005/sqrt(2)) over |dF/d ln t| = 0.8 F |ln F| ~ 0.26 at F = 0.2: ~0.014
    assert 0.003 < flat.lntau_err < 0.05 and exact.lntau_err == 0.0
    # the same F_s with the halves' noise the same everywhere: |z| obeys Student's t with 6 dof, so over 200 seeds
    # the fraction beyond the 99 % bound is about 1 %; more than 6 % would happen with probability < 1e-4
    fails = sum(not equilibration_check(_synthetic(1.0, 0.01, seed=s), 0).passed for s in range(200))
    assert fails <= 12
    assert flat.at_tau and flat.t_compared == pytest.approx(np.sqrt(flat.tau_early * flat.tau_late))


def test_equilibration_check_where_a_half_stops_short_of_tau_alpha():
    """A run a few tau_alpha long: the late half has no origins beyond t = 0.8 (tau = 1: F_s = 0.44 there), so its
    F_s never reaches 0.2. The halves are compared at the longest common lag instead of raising."""
    flat = equilibration_check(_synthetic(1.0, 0.002, late_max_t=0.8), 0)
    assert np.isnan(flat.tau_late) and flat.tau_early == pytest.approx(1.0 * np.log(5) ** 1.25, rel=0.05)
    assert not flat.at_tau and flat.t_compared <= 0.8 and flat.passed
    assert "longest lag" in flat.summary()
    # aging shows there too: the late half relaxes 50 % slower, 0.002 block scatter
    aging = equilibration_check(_synthetic(1.5, 0.002, late_max_t=0.8), 0)
    assert not aging.at_tau and not aging.passed and aging.z < -aging.z_max
    # a run that never reaches the level at all still raises
    with pytest.raises(ValueError, match="never falls to 0.001"):
        equilibration_check(_synthetic(1.0, 0.002, late_max_t=0.8), 0, level=0.001)
