"""F_s(q, t), wave vectors and tau_alpha (meso_kernels.analysis.isf) on known answers: free flight, random walk,
stretched exponentials, brute-force time-origin averages."""
import itertools

import numpy as np
import pytest

from meso_kernels.analysis.isf import SelfISF, fs_per_particle, tau_alpha, wave_vectors
from meso_kernels.system import System
from synthetic import free_flight as _free_flight, random_walk as _random_walk  # tests/analysis/synthetic.py


# --- wave vectors -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("q, box", [(7.2, [10.0, 10.0, 10.0]), (6.1, [8.0, 9.5, 11.0]), (5.0, [20.0, 13.0]),
                                    (0.7, [9.0, 9.0, 9.0])])
def test_wave_vectors_lie_in_the_shell_one_per_pair_and_deterministic(q, box):
    L = np.asarray(box)
    delta = np.pi / L.min()
    full = wave_vectors(q, box, max_vectors=10 ** 6)
    # brute force: every lattice vector 2 pi n / L with |k| in [q - delta, q + delta], counted with both signs
    m = int(np.ceil((q + delta) * L.max() / (2 * np.pi))) + 1
    n = np.array(list(itertools.product(range(-m, m + 1), repeat=L.size)))
    kn = np.linalg.norm(2 * np.pi * n / L, axis=1)
    in_shell = (np.abs(kn - q) <= delta) & np.any(n != 0, axis=1)
    assert 2 * len(full) == np.count_nonzero(in_shell)
    norm = np.linalg.norm(full, axis=1)
    assert np.all(np.abs(norm - q) <= delta * (1 + 1e-12))
    nn = full * L / (2 * np.pi)
    assert np.allclose(nn, np.round(nn), atol=1e-9)                      # on the reciprocal lattice
    # no +-duplicates (nor repeats): k_i + k_j != 0 and k_i != k_j for all i != j
    ints = {tuple(v) for v in np.round(nn).astype(int)}
    assert len(ints) == len(full) and not any(tuple(-np.array(v)) in ints for v in ints)
    # ordered by ||k| - q|, deterministic, and max_vectors keeps the closest ones
    assert np.all(np.diff(np.round(np.abs(norm - q) / delta, 9)) >= 0)
    few = wave_vectors(q, box, max_vectors=5)
    assert np.array_equal(few, full[:min(5, len(full))])
    assert np.array_equal(wave_vectors(q, box), wave_vectors(q, list(box)))
    assert len(wave_vectors(q, box)) == min(48, len(full))


def test_wave_vectors_ties_are_lexicographic():
    k = wave_vectors(2 * np.pi, [1.0, 1.0, 1.0], max_vectors=10)      # |n| = 1 first: (0,0,1), (0,1,0), (1,0,0)
    assert np.array_equal(np.round(k[:3] / (2 * np.pi)).astype(int), [[0, 0, 1], [0, 1, 0], [1, 0, 0]])


def test_wave_vector_errors():
    with pytest.raises(ValueError, match="q must be > 0"):
        wave_vectors(0.0, [5.0, 5.0, 5.0])
    with pytest.raises(ValueError, match="q must be > 0"):
        wave_vectors(-1.0, [5.0, 5.0, 5.0])
    # box 10 x 12: delta = pi / 10 = 0.314, the shortest k is 2 pi / 12 = 0.524 > 0.1 + delta
    with pytest.raises(ValueError, match=r"smallest q the box allows is 2 pi / max\(L\) = 0.523599"):
        wave_vectors(0.1, [10.0, 12.0])
    with pytest.raises(ValueError, match=r"box must be 2 or 3 positive side lengths"):
        wave_vectors(1.0, [5.0])
    with pytest.raises(ValueError, match=r"box side lengths must be finite and > 0"):
        wave_vectors(1.0, [5.0, -5.0])
    with pytest.raises(ValueError, match="max_vectors must be an integer >= 1"):
        wave_vectors(1.0, [5.0, 5.0], max_vectors=0)
    with pytest.raises(ValueError, match="qvecs must have shape"):
        fs_per_particle(np.zeros((3, 3)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="dr must have shape"):
        fs_per_particle(np.zeros(3), np.zeros((4, 3)))


# --- F_s on known answers -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("d", [2, 3])
@pytest.mark.parametrize("grid", ["window", "log"])
def test_free_particles_gaussian_decay(d, grid):
    """Free flight: dr = v t with v ~ N(0, T) per component, so <cos(k . v t)> = exp(-|k|^2 T t^2 / 2)."""
    N, T = 2000, 0.7
    t = 0.05 * np.arange(40) if grid == "window" else np.concatenate([[0.0], np.logspace(-2, 0.3, 25)])
    frames, v, box = _free_flight(d, N, T, t, seed=d)
    isf = SelfISF(q=6.0).compute(frames, t, box)
    assert isf.mode == ("window" if grid == "window" else "first-origin")
    assert np.allclose(isf.t, t[1:] - t[0], rtol=1e-12, atol=0)
    k2 = np.sum(isf.wave_vectors ** 2, axis=1)
    expect = np.array([np.mean(np.exp(-k2 * T * s ** 2 / 2)) for s in isf.t])
    # the sample of N velocities: standard error of the mean of the per-particle values
    se = np.array([fs_per_particle(v * s, isf.wave_vectors).std() / np.sqrt(N) for s in isf.t])
    assert np.all(np.abs(isf.fs_total - expect) <= 5 * se + 1e-12), np.max(np.abs(isf.fs_total - expect) / se)
    assert np.array_equal(isf.fs[0], isf.fs_total) and list(isf.fs) == [0]
    # a non-trivial range of the decay was tested
    assert expect[0] > 0.95 and expect[-1] < 0.05


@pytest.mark.parametrize("d", [2, 3])
def test_random_walk_exponential_decay(d):
    """Gaussian displacements of variance 2 D t per coordinate: F_s = exp(-|k|^2 D t)."""
    D, dt = 0.05, 0.1
    frames, box = _random_walk(d, 2000, D, dt, 60, seed=10 + d)
    isf = SelfISF(q=4.0).compute(frames, dt * np.arange(60), box, types=np.arange(2000) % 3)
    k2 = np.sum(isf.wave_vectors ** 2, axis=1)
    expect = np.array([np.mean(np.exp(-k2 * D * s)) for s in isf.t])
    half = isf.t <= 3.0                                              # lags with >= half of the origins
    assert np.max(np.abs(isf.fs_total - expect)[half]) < 0.01
    assert sorted(isf.fs) == [0, 1, 2]
    for s in range(3):
        assert np.max(np.abs(isf.fs[s] - expect)[half]) < 0.02
    # the total is the particle-weighted mean of the species
    counts = np.bincount(np.arange(2000) % 3)
    assert np.allclose(sum(counts[s] * isf.fs[s] for s in range(3)) / 2000, isf.fs_total, rtol=1e-13, atol=1e-15)
    assert expect[half][-1] < 0.2
    tau = isf.tau_alpha(species=None)
    assert tau == pytest.approx(np.log(5.0) / (np.mean(k2) * D), rel=0.05)


def _brute_window(pos, kv, idx):
    """Double loop over origins j and lags m: mean over pairs (j, j + m), particles idx and wave vectors."""
    F = pos.shape[0]
    out = []
    for m in range(1, F):
        vals = [np.mean(np.cos((pos[j + m, i] - pos[j, i]) @ kv.T)) for j in range(F - m) for i in idx]
        out.append(np.mean(vals))
    return np.array(out)


@pytest.mark.parametrize("d", [2, 3])
def test_window_average_equals_brute_force_double_loop(d):
    rng = np.random.default_rng(3)
    F, N, L = 7, 5, 4.0
    pos = rng.random((N, d)) * L + np.cumsum(rng.normal(0.0, 0.4, size=(F, N, d)), axis=0)
    types = np.array([0, 2, 0, 2, 2])
    times = 0.3 + 0.25 * np.arange(F)
    isf = SelfISF(q=3.0, max_vectors=7).compute(pos, times, [L] * d, types)
    kv = isf.wave_vectors
    assert isf.mode == "window" and kv.shape == (7, d)
    assert np.allclose(isf.t, 0.25 * np.arange(1, F), rtol=1e-12)
    assert np.allclose(isf.fs_total, _brute_window(pos, kv, range(N)), rtol=0, atol=1e-12)
    assert np.allclose(isf.fs[0], _brute_window(pos, kv, [0, 2]), rtol=0, atol=1e-12)
    assert np.allclose(isf.fs[2], _brute_window(pos, kv, [1, 3, 4]), rtol=0, atol=1e-12)
    # uneven times: only the first frame is the origin
    uneven = times ** 1.5
    first = SelfISF(q=3.0, max_vectors=7).compute(pos, uneven, [L] * d, types)
    assert first.mode == "first-origin"
    assert np.allclose(first.t, uneven[1:] - uneven[0], rtol=1e-14)
    ref = [np.mean(np.cos((pos[m] - pos[0]) @ kv.T)) for m in range(1, F)]
    assert np.allclose(first.fs_total, ref, rtol=0, atol=1e-12)


def test_system_frames_are_unwrapped_with_their_images():
    frames, box = _random_walk(3, 50, 0.5, 0.2, 8, seed=4, rho=1.5)    # particles cross the box
    types = np.arange(50) % 2
    systems = [System.wrapped(f, box, types=types) for f in frames]
    assert np.any(np.concatenate([s.image for s in systems]) != 0)
    t = 0.2 * np.arange(8)
    a = SelfISF(5.0).compute(frames, t, box, types)
    b = SelfISF(5.0).compute(systems, t)
    assert np.allclose(a.fs_total, b.fs_total, rtol=0, atol=1e-12) and np.allclose(a.fs[1], b.fs[1], atol=1e-12)
    # wave vectors on the reciprocal lattice make cos(k . dr) periodic: wrapped positions give the same F_s
    # (the MSD, not F_s, is what needs the unwrapping)
    c = SelfISF(1.2).compute(np.stack([s.positions for s in systems]), t, box, types)
    assert np.allclose(a.fs_total, SelfISF(5.0).compute(np.stack([s.positions for s in systems]), t, box).fs_total,
                       rtol=0, atol=1e-10)
    assert np.allclose(c.fs_total, SelfISF(1.2).compute(frames, t, box).fs_total, rtol=0, atol=1e-10)
    with pytest.raises(ValueError, match="the box changes between frames 0 and 2 .*: correlators need a fixed box"):
        SelfISF(5.0).compute(systems[:2] + [System.wrapped(frames[2], box * 1.01, types=types)], t[:3])
    with pytest.raises(ValueError, match="differs from the box of the frames"):
        SelfISF(5.0).compute(systems, t, box * 2)


# --- tau_alpha ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("beta, tau", [(0.3, 1.0), (0.5, 37.0), (0.7, 5.0), (1.0, 250.0)])
def test_tau_alpha_of_stretched_exponentials(beta, tau):
    t = np.logspace(-3, 4, 71)                                       # 10 points per decade
    expect = tau * (-np.log(0.2)) ** (1 / beta)
    assert tau_alpha(t, np.exp(-(t / tau) ** beta)) == pytest.approx(expect, rel=5e-3)
    assert tau_alpha(t, np.exp(-(t / tau) ** beta), level=0.5) == pytest.approx(tau * np.log(2) ** (1 / beta),
                                                                                  rel=5e-3)


def test_tau_alpha_interpolates_in_log_time_exactly():
    # fs linear in ln t between the bracketing points: the interpolation is exact (linear-in-t would not be)
    t = np.array([0.1, 1.0, 10.0, 100.0])
    fs = np.array([0.9, 0.6, 0.1, 0.05])
    expect = 10 ** ((0.6 - 0.2) / 0.5)                               # ln t goes 1 decade while fs drops 0.5
    assert tau_alpha(t, fs) == pytest.approx(expect, rel=1e-13)
    assert tau_alpha(t, [0.9, 0.2, 0.1, 0.0]) == 1.0               # exactly on a sample
    assert tau_alpha(t, [0.9, 0.1, 0.3, 0.1]) == pytest.approx(10 ** (0.7 / 0.8) / 10, rel=1e-13)  # first crossing


def test_tau_alpha_refuses_to_extrapolate():
    t = np.logspace(-2, 2, 41)
    fs = np.exp(-(t / 300.0) ** 0.5)
    with pytest.raises(ValueError, match=r"F_s never falls to 0.2 in the run: its last value is 0.5614 at the last "
                                         r"time t = 100; the run must be longer .*several times longer"):
        tau_alpha(t, fs)
    with pytest.raises(ValueError, match="already <= 0.2 at the first time"):
        tau_alpha(t, 0.1 * fs)
    for args, match in [(([], []), "t must be a non-empty 1D array"),
                        ((t, fs[:-1]), "fs must have the shape of t"),
                        ((t - 1.0, fs), r"t must be > 0 \(the interpolation is in ln t\)"),
                        ((t[::-1], fs), "t must be strictly increasing"),
                        ((t, fs, 1.5), r"level must be a number in \(0, 1\)"),
                        ((t, np.full_like(t, np.nan)), "fs must be finite")]:
        with pytest.raises(ValueError, match=match):
            tau_alpha(*args)


# --- errors -------------------------------------------------------------------------------------------------------
def test_self_isf_errors():
    isf = SelfISF(2.0)
    for prop in ("t", "fs", "fs_total", "wave_vectors", "mode"):
        with pytest.raises(RuntimeError, match="before compute"):
            getattr(isf, prop)
    with pytest.raises(RuntimeError, match="before compute"):
        isf.tau_alpha()
    with pytest.raises(ValueError, match="q must be > 0"):
        SelfISF(0.0)
    with pytest.raises(ValueError, match="max_vectors must be an integer >= 1"):
        SelfISF(1.0, max_vectors=0)
    frames, box = _random_walk(3, 20, 0.1, 0.1, 6, seed=0)
    t = 0.1 * np.arange(6)
    cases = [
        ((frames, [], box), "times must be a non-empty 1D array"),
        ((frames[:1], t[:1], box), "frames must hold at least 2 frames"),
        ((frames, t[:5], box), "times must have one entry per frame: 5 times for 6 frames"),
        ((frames, t[::-1], box), "times must be strictly increasing"),
        ((frames, np.array([0, 1, 1, 2, 3, 4.0]), box), r"times must be strictly increasing; times\[2\]"),
        ((frames, t, box[:2]), r"frames must have shape \(F, N, d\) with d = len\(box\) = 2"),
        ((frames[0], t, box), r"frames must have shape \(F, N, d\)"),
        ((frames, t, [5.0, 0.0, 5.0]), "box side lengths must be finite and > 0"),
        ((frames, t, [5.0]), "box must be 2 or 3 positive side lengths"),
        ((frames, t, None), "box is required"),
        ((frames, t, box, np.zeros(19, int)), r"types must have shape \(N,\) = \(20,\)"),
        ((frames, t, box, -np.ones(20, int)), "types must be non-negative"),
        ((frames, t, box, np.full(20, 0.5)), "types must hold non-negative integers"),
    ]
    for args, match in cases:
        with pytest.raises(ValueError, match=match):
            isf.compute(*args)
    isf.compute(frames, t, box, types=np.where(np.arange(20) < 10, 1, 3))
    with pytest.raises(ValueError, match=r"species=0 is not present; present species: \[1, 3\]"):
        isf.tau_alpha(0)
    with pytest.raises(ValueError, match="F_s never falls to 0.2"):
        isf.tau_alpha(3)
