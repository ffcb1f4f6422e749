"""MSD, D and the end of free flight (meso_kernels.analysis.msd) on known answers: free flight, random walk,
an Ornstein-Uhlenbeck velocity, brute-force origin averages."""
import numpy as np
import pytest
from scipy.optimize import brentq

from meso_kernels.analysis.msd import MSD, ballistic_end, diffusion_coefficient
from meso_kernels.analysis.units import ballistic_msd
from meso_kernels.system import System
from synthetic import free_flight as _free_flight, random_walk as _random_walk  # tests/analysis/synthetic.py


def _brute_window(pos):
    F = pos.shape[0]
    return np.array([np.mean(np.sum((pos[m:] - pos[:F - m]) ** 2, axis=2)) for m in range(1, F)])


@pytest.mark.parametrize("d", [2, 3])
@pytest.mark.parametrize("grid", ["window", "log"])
def test_free_particles_ballistic(d, grid):
    N, T, rho = 2000, 0.7, 0.9
    t = 0.05 * np.arange(40) if grid == "window" else np.concatenate([[0.0], np.logspace(-2, 0.5, 25)])
    frames, v, box = _free_flight(d, N, T, t, seed=20 + d, rho=rho)
    m = MSD().compute(frames, t, box)
    assert m.mode == ("window" if grid == "window" else "first-origin")
    # exactly <|v|^2> t^2 for this sample (freud's window MSD is float32 inside: relative 1e-4 at the first lag)
    assert np.allclose(m.msd_total, np.mean(np.sum(v ** 2, axis=1)) * m.t ** 2, rtol=1e-4 if grid == "window"
                       else 1e-12, atol=0)
    # and d T t^2 within the sample error of <|v|^2> (relative sqrt(2 / (d N)) = 2.2 % in 2D, 1.8 % in 3D: 3 sigma)
    assert np.allclose(m.msd_total, ballistic_msd(m.t, rho, T, d), rtol=3 * np.sqrt(2 / (d * N)), atol=0)
    assert list(m.msd) == [0] and np.allclose(m.msd[0], m.msd_total, rtol=1e-13, atol=0)


@pytest.mark.parametrize("d", [2, 3])
def test_random_walk_msd_and_diffusion_coefficient(d):
    D, dt, F, N = 0.3, 0.1, 100, 2000
    frames, box = _random_walk(d, N, D, dt, F, seed=30 + d)
    types = (np.arange(N) % 4 == 0).astype(int)                     # 500 of species 1, 1500 of species 0
    m = MSD().compute(frames, dt * np.arange(F), box, types)
    half = m.t <= dt * F / 2
    assert np.allclose(m.msd_total[half], 2 * d * D * m.t[half], rtol=0.03, atol=0)
    for s in (0, 1):
        assert np.allclose(m.msd[s][half], 2 * d * D * m.t[half], rtol=0.06, atol=0)
    assert np.allclose((1500 * m.msd[0] + 500 * m.msd[1]) / N, m.msd_total, rtol=1e-5)
    # the last decade of lags has few independent origins: the MSD there carries the single-origin error of
    # |dr|^2 averaged over N particles, relative sqrt(2 / (d N)) (2.2 % in 2D, 1.8 % in 3D); allow 3 sigma
    tol = 3 * np.sqrt(2 / (d * N))
    assert diffusion_coefficient(m.t, m.msd_total, dim=d) == pytest.approx(D, rel=tol)
    assert diffusion_coefficient(m.t, m.msd_total, dim=d, t_min=0.5) == pytest.approx(D, rel=tol)
    # wrong dimension -> wrong D: the test can tell
    assert diffusion_coefficient(m.t, m.msd_total, dim=5 - d) != pytest.approx(D, rel=tol)


@pytest.mark.parametrize("d", [2, 3])
def test_window_msd_equals_brute_force(d):
    """freud's FFT window MSD against the double loop over pairs (j, j + m), per species; first-origin mode exact."""
    rng = np.random.default_rng(5)
    F, N, L = 30, 40, 5.0
    pos = rng.random((N, d)) * L + 3 * L + np.cumsum(rng.normal(0.0, 0.3, size=(F, N, d)), axis=0)
    types = rng.integers(0, 2, N)
    m = MSD().compute(pos, 1.0 + 0.5 * np.arange(F), np.full(d, L), types)
    assert m.mode == "window" and np.allclose(m.t, 0.5 * np.arange(1, F), rtol=1e-13)
    assert np.allclose(m.msd_total, _brute_window(pos), rtol=1e-5, atol=0)
    for s in (0, 1):
        assert np.allclose(m.msd[s], _brute_window(pos[:, types == s]), rtol=1e-5, atol=0)
    uneven = np.cumsum(np.arange(1.0, F + 1))
    f = MSD().compute(pos, uneven, np.full(d, L), types)
    assert f.mode == "first-origin" and np.allclose(f.t, uneven[1:] - uneven[0], rtol=1e-14)
    assert np.allclose(f.msd_total, np.mean(np.sum((pos[1:] - pos[0]) ** 2, axis=2), axis=1), rtol=1e-13)


def test_system_frames_use_images():
    frames, box = _random_walk(3, 60, 0.5, 0.2, 12, seed=6, rho=1.5)
    systems = [System.wrapped(f, box) for f in frames]
    assert np.any(np.concatenate([s.image for s in systems]) != 0)
    t = 0.2 * np.arange(12)
    a = MSD().compute(frames, t, box)
    b = MSD().compute(systems, t)
    assert np.allclose(a.msd_total, b.msd_total, rtol=1e-5)
    wrapped = MSD().compute(np.stack([s.positions for s in systems]), t, box)      # forgetting the images
    assert not np.allclose(wrapped.msd_total, a.msd_total, rtol=0.1)
    with pytest.raises(ValueError, match="the box changes between frames 0 and 1 .*correlators need a fixed box"):
        MSD().compute([systems[0], System.wrapped(frames[1], box * 1.1)], t[:2])


def test_diffusion_coefficient_fit_and_errors():
    t = np.linspace(0.01, 50.0, 500)
    # caged plateau then diffusion: the default window (last decade) sees only the linear part
    msd = 0.1 * (1 - np.exp(-t / 0.05)) + 6 * 0.02 * t
    assert diffusion_coefficient(t, msd) == pytest.approx(0.02, rel=1e-9)
    assert diffusion_coefficient(t, 4 * 0.02 * t, dim=2) == pytest.approx(0.02, rel=1e-12)
    with pytest.raises(ValueError, match=r"only 2 points with t >= t_min = 49.85 .*at least 3"):
        diffusion_coefficient(t, msd, t_min=49.85)
    with pytest.raises(ValueError, match=r"only 1 point with t >= t_min = 50 "):
        diffusion_coefficient(t, msd, t_min=50.0)
    with pytest.raises(ValueError, match="the MSD does not increase on average"):
        diffusion_coefficient(t, 1.0 - 1e-3 * t)
    with pytest.raises(ValueError, match="the MSD does not increase on average"):
        diffusion_coefficient(t, np.ones_like(t))
    for args, kw, match in [((t, msd[:-1]), {}, "msd must have the shape of t"),
                            (([], []), {}, "t must be a non-empty 1D array"),
                            ((t, msd), {"dim": 1}, r"dim must be 2 or 3 \(allowed: 2, 3\)"),
                            ((t[::-1], msd), {}, "t must be strictly increasing"),
                            ((t, msd), {"t_min": "late"}, "t_min must be a finite time or None"),
                            ((t, np.full_like(t, np.inf)), {}, "msd must be finite")]:
        with pytest.raises(ValueError, match=match):
            diffusion_coefficient(*args, **kw)


def test_msd_errors():
    m = MSD()
    for prop in ("t", "msd", "msd_total", "mode"):
        with pytest.raises(RuntimeError, match="before compute"):
            getattr(m, prop)
    frames, box = _random_walk(2, 10, 0.1, 0.1, 5, seed=0)
    t = 0.1 * np.arange(5)
    for args, match in [((frames, [], box), "times must be a non-empty 1D array"),
                        ((frames[:1], t[:1], box), "frames must hold at least 2 frames"),
                        ((frames, t[:4], box), "times must have one entry per frame"),
                        ((frames, t[::-1], box), "times must be strictly increasing"),
                        ((frames, t, [1.0, 1.0, 1.0]), r"d = len\(box\) = 3"),
                        ((frames, t, [1.0, -1.0]), "box side lengths must be finite and > 0"),
                        ((frames, t, box, np.zeros(3, int)), r"types must have shape \(N,\)")]:
        with pytest.raises(ValueError, match=match):
            m.compute(*args)


def _ou_msd(t, T, gamma, d):
    """MSD of a particle whose velocity autocorrelation is T exp(-gamma t) per component:
    2 d T (x - 1 + e^-x) / gamma^2, x = gamma t (free flight d T t^2 at short times, diffusion with D = T / gamma
    at long times)."""
    x = gamma * t
    return 2 * d * T * (x - 1 + np.exp(-x)) / gamma ** 2


@pytest.mark.parametrize("d, T, gamma", [(3, 1.0, 2.0), (2, 0.4, 25.0)])
def test_ballistic_end_on_an_analytic_msd(d, T, gamma):
    x90 = brentq(lambda x: 2 * (x - 1 + np.exp(-x)) / x ** 2 - 0.9, 1e-3, 10.0)     # r(x) = 0.9
    x50 = brentq(lambda x: 2 * (x - 1 + np.exp(-x)) / x ** 2 - 0.5, 1e-3, 10.0)
    t = np.logspace(-4, 2, 61)                                                        # 10 points per decade
    msd = _ou_msd(t, T, gamma, d)
    assert ballistic_end(t, msd, T, dim=d) == pytest.approx(x90 / gamma, rel=5e-3)
    assert ballistic_end(t, msd, T, dim=d, tolerance=0.5) == pytest.approx(x50 / gamma, rel=5e-3)
    assert diffusion_coefficient(t, msd, dim=d) == pytest.approx(T / gamma, rel=1e-3)
    with pytest.raises(ValueError, match=r"never falls 10% below free flight .*the run ends in the ballistic regime"):
        ballistic_end(t[t < 0.1 / gamma], msd[t < 0.1 / gamma], T, dim=d)
    with pytest.raises(ValueError, match="already 10% below free flight at the first time"):
        ballistic_end(t[t > 10 / gamma], msd[t > 10 / gamma], T, dim=d)
    for kw, match in [({"T": 0.0}, "T must be a positive"), ({"T": T, "dim": 4}, "dim must be 2 or 3"),
                      ({"T": T, "tolerance": 1.0}, r"tolerance must be a number in \(0, 1\)")]:
        with pytest.raises(ValueError, match=match):
            ballistic_end(t, msd, **kw)
    with pytest.raises(ValueError, match="msd must have the shape of t"):
        ballistic_end(t, msd[1:], T)
