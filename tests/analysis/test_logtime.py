"""The on-the-fly correlators against known answers (free flight, random walk), against the frame-based SelfISF and
MSD on the same trajectory, and on a real MD run (ballistic limit)."""
import numpy as np
import pytest

from meso_kernels.analysis.isf import SelfISF
from meso_kernels.analysis.logtime import LogTimeCorrelator, log_lags
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
