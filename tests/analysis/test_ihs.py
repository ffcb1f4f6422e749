"""IHS trajectories and transition rates (meso_kernels.analysis.ihs; paper Fig. 5, footnote 83).

Which basins a liquid trajectory visits depends on roundoff, hence on the CPU (numpy's SIMD dispatch, numba's code
generation): a trajectory re-recorded on another machine hops at other frames. Tests that need particular hops
therefore quench stored frames (tests/data/ihs_frames_*.npz, made by tests/data/make_ihs_frames.py), and what they
assert about transitions is either an invariant of the method (bisection reports a subset of the every-frame
transitions, exactly those of bisect_transitions) or a property of those stored frames with a margin.
"""
import functools
from pathlib import Path

import numpy as np
import pytest

from meso_kernels.analysis.ihs import (IHSTrajectory, Trajectory, bisect_transitions, ihs_time_step,
                                       record_trajectory, reduced_rate, reduced_time, single_frame_excursions,
                                       transitions_from_energies)
from meso_kernels.initial import maxwell_boltzmann, random_configuration
from meso_kernels.integrate import thermalize
from meso_kernels.models import get_model
from meso_kernels.system import System


@functools.lru_cache(maxsize=None)
def liquid_trajectory(name, N, rho, T, nsteps, nframes, seed=1):
    """A short thermalisation from a random configuration, then an IHS trajectory with the paper's step."""
    m = get_model(name, **({"rho": rho} if name == "ss" else {}))
    sim = thermalize(random_configuration(m, N, rho, seed=seed), m, T, nsteps, seed=seed)
    return m, sim.system, record_trajectory(sim.system, m, T, nframes, ihs_time_step(m))


DATA = Path(__file__).resolve().parent.parent / "data"


@functools.lru_cache(maxsize=None)
def stored_trajectory(name):
    """(model, Trajectory) of tests/data/ihs_frames_<name>.npz: the same frames on every CPU."""
    d = np.load(DATA / f"ihs_frames_{name}.npz")
    m = get_model(str(d["model"]), **({"rho": float(d["rho"])} if str(d["model"]) == "ss" else {}))
    return m, Trajectory(d["frames"].astype(float), d["times"], d["box"], d["types"])


@functools.lru_cache(maxsize=None)
def brute_force(name):
    """A stored trajectory with every frame quenched at the default settings (IPL: T = 0.8, 120 frames; SS:
    rho = 0.6, T = 1.5, 150 frames at the tenth step; N = 128)."""
    m, tr = stored_trajectory(name)
    return m, tr, IHSTrajectory(m, mode="all").compute(tr)


def test_transitions_from_energies_step_function():
    U = np.repeat([-3.0, -3.5, -3.5 + 3e-6, -2.0, -3.0], [4, 3, 2, 5, 1])
    assert transitions_from_energies(U).tolist() == [4, 9, 14]            # the 3e-6 step is below eps = 1e-5
    assert transitions_from_energies(U, eps=1e-6).tolist() == [4, 7, 9, 14]
    assert transitions_from_energies(U, eps=0.7).tolist() == [9, 14]        # |ΔU| = 0.5 is not > 0.7
    assert transitions_from_energies(np.full(5, 2.0)).size == 0
    with pytest.raises(ValueError, match="eps"):
        transitions_from_energies(U, eps=0.0)


def test_time_step_follows_footnote_83():
    assert ihs_time_step(get_model("ipl")) == 0.005
    assert ihs_time_step(get_model("mblj")) == 0.005
    assert ihs_time_step(get_model("ss", rho=0.7)) == pytest.approx(0.0003)
    assert ihs_time_step(get_model("sw")) == pytest.approx(0.0065)


def test_record_trajectory(one_thread):
    m, s, tr = liquid_trajectory("ipl", 128, 0.82, 0.8, 3000, 120)
    assert tr.frames.shape == (120, 128, 3) and tr.N == 128 and tr.dim == 3
    np.testing.assert_allclose(tr.times, 0.005 * np.arange(120), atol=1e-15)
    np.testing.assert_array_equal(tr.frames[0], s.positions)
    np.testing.assert_array_equal(tr.types, s.types)
    assert np.all(tr.frames >= 0) and np.all(tr.frames < tr.box)
    step = tr.frames[1:] - tr.frames[:-1]
    step -= tr.box * np.round(step / tr.box)
    assert 0 < np.abs(step).max() < 0.05                                  # |v| dt, no jumps
    assert tr.info["T"] == 0.8 and tr.info["dt"] == 0.005


def _check_bisection_against_brute_force(m, tr, full, block=8):
    """Invariants of bisect mode, for any trajectory: it reports exactly bisect_transitions of the every-frame
    energies (each quench starts from its own frame, so shared frames have the same IHS), hence a subset of the
    every-frame transitions; quenched frames carry the same energies; it quenches fewer frames."""
    bis = IHSTrajectory(m, mode="bisect", block=block).compute(tr)
    assert full.n_quenches == tr.n_frames and full.quenched.all() and full.n_unconverged == 0
    np.testing.assert_array_equal(bis.transitions, bisect_transitions(full.energies, block))
    assert set(bis.transitions.tolist()) <= set(full.transitions.tolist())
    q = bis.quenched
    assert q[0] and q[-1] and q[::block].all()
    np.testing.assert_allclose(bis.energies[q], full.energies[q], rtol=0, atol=1e-6)
    assert bis.n_quenches < full.n_quenches
    assert bis.duration == pytest.approx(tr.duration)
    assert bis.rate == pytest.approx(bis.n_transitions / bis.duration)
    assert "transitions" in repr(bis)
    return bis


def test_bisect_finds_the_transitions_of_brute_force_ipl(one_thread):
    """IPL at the MD step: transitions are rare and separated, and on the stored frames bisection misses none."""
    m, tr, full = brute_force("ipl")
    bis = _check_bisection_against_brute_force(m, tr, full)
    assert full.n_transitions >= 2                                        # the test means something
    np.testing.assert_array_equal(bis.transitions, full.transitions)
    assert bis.n_quenches < full.n_quenches / 2
    # frames that bisection did not quench carry the IHS energy of their block's start, which is theirs here
    np.testing.assert_allclose(bis.energies, full.energies, rtol=0, atol=1e-5)


def test_bisect_misses_back_and_forth_transitions_ss(one_thread):
    """SS at a tenth of the MD step: the liquid returns to a basin within a few frames, and bisection, which never
    looks inside a block whose two ends share an IHS, misses those visits (23 every-frame transitions against 19
    on the stored frames, measured on an AMD EPYC). Every missed transition lies in a stretch between two quenched
    frames of equal IHS energy."""
    m, tr, full = brute_force("ss")
    assert tr.times[1] == pytest.approx(0.0005)
    bis = _check_bisection_against_brute_force(m, tr, full)
    missed = sorted(set(full.transitions.tolist()) - set(bis.transitions.tolist()))
    assert len(missed) >= 2                                               # 4 on the stored frames
    qi = np.flatnonzero(bis.quenched)
    for k in missed:
        a, b = qi[qi < k].max(), qi[qi >= k].min()
        assert abs(full.energies[b] - full.energies[a]) <= 1e-5          # the ends agreed: never bisected
    assert bis.n_quenches < full.n_quenches / 2


def test_bisect_transitions_emulation():
    U = np.array([0.0, 0.0, 1.0, 0.0, 0.0, 2.0, 2.0, 2.0, 2.0, 3.0, 2.0])
    every = transitions_from_energies(U)
    assert every.tolist() == [2, 3, 5, 9, 10]
    assert bisect_transitions(U, block=1).tolist() == every.tolist()      # single steps: nothing to miss
    assert bisect_transitions(U, block=4).tolist() == [5]                 # [0,4] and [8,10] have equal ends
    assert bisect_transitions(U, block=100).tolist() == [2, 3, 5]         # halves: [5, 10] has equal ends
    rng = np.random.default_rng(3)
    for _ in range(50):                                                    # always a subset, for any energies
        V = np.repeat(rng.integers(0, 4, 30).astype(float), rng.integers(1, 4, 30))
        for block in (2, 5, 8):
            assert set(bisect_transitions(V, block).tolist()) <= set(transitions_from_energies(V).tolist())
    with pytest.raises(ValueError, match="block"):
        bisect_transitions(U, block=0)
    with pytest.raises(ValueError, match="at least 2 frames"):
        bisect_transitions([1.0])
    with pytest.raises(ValueError, match="finite"):
        bisect_transitions([1.0, np.nan])


def test_no_transitions_in_a_cold_glass(one_thread):
    m = get_model("ipl")
    from meso_kernels.quench import quench
    ihs, _ = quench(random_configuration(m, 128, 0.82, seed=5), m, method="cg", ftol=1e-8)
    ihs.velocities = maxwell_boltzmann(ihs.N, ihs.dim, 0.01, seed=2)
    tr = record_trajectory(ihs, m, T=0.01, nframes=40, dt=0.005)
    res = IHSTrajectory(m, mode="bisect", block=16).compute(tr)
    assert res.n_transitions == 0 and res.rate == 0.0
    assert res.quenched.nonzero()[0].tolist() == [0, 16, 32, 39]
    assert np.ptp(res.energies) <= 1e-5
    # identical frames: nothing to find either, in both modes
    same = Trajectory(np.repeat(tr.frames[:1], 5, axis=0), np.arange(5.0), tr.box, tr.types)
    assert IHSTrajectory(m, mode="all").compute(same).n_transitions == 0


def test_reduced_rate_arithmetic():
    # rho = 1/8: a0 = 2; T = 4: t0 = 1, t_ballistic = 0.1; N = 500: factor t_b N0 / N = 0.2
    m, lo, hi = reduced_rate([10.0, 20.0, 30.0], N=500, rho=0.125, T=4.0, seed=1)
    assert m == pytest.approx(4.0)
    assert lo <= m <= hi and lo >= 2.0 and hi <= 6.0
    assert reduced_rate([5.0, 5.0], N=1000, rho=1.0, T=1.0)[0] == pytest.approx(0.5)
    m2, lo2, hi2 = reduced_rate([7.0], N=1000, rho=1.0, T=1.0)            # one trajectory: no interval
    assert m2 == pytest.approx(0.7) and np.isnan(lo2) and np.isnan(hi2)
    assert reduced_rate([1.0, 1.0], N=100, rho=0.25, T=1.0, dim=2)[0] == pytest.approx(2.0)   # a0 = 2 in 2D
    assert reduced_time([0.0, 0.2], N=500, rho=0.125, T=4.0).tolist() == pytest.approx([0.0, 1.0])
    with pytest.raises(ValueError, match="dim"):
        reduced_rate([1.0, 2.0], N=100, rho=1.0, T=1.0, dim=4)
    with pytest.raises(ValueError, match="rates"):
        reduced_rate([], N=100, rho=1.0, T=1.0)
    with pytest.raises(ValueError, match="T"):
        reduced_rate([1.0, 2.0], N=100, rho=1.0, T=0.0)


def test_large_minimiser_steps_make_spurious_back_and_forth_transitions(one_thread):
    """Why max_step defaults to BASIN_MAX_STEP: with CG's generic cap of 0.1 the line search jumps between
    neighbouring basins, and consecutive frames flicker A -> B -> A; with the default cap they do not. On the stored
    IPL frames (AMD EPYC): 12 transitions with 4 one-frame excursions at cap 0.1, 5 transitions with none at the
    default cap (the same 5 as at cap 0.0005, i.e. gradient flow)."""
    m, tr, careful = brute_force("ipl")
    sloppy = IHSTrajectory(m, mode="all", max_step=0.1).compute(tr)
    assert careful.excursions.size == 0
    assert sloppy.excursions.size >= 2 and sloppy.n_transitions > careful.n_transitions
    assert single_frame_excursions([1.0, 1.0, 2.0, 1.0 + 1e-7, 1.0, 3.0, 4.0]).tolist() == [2]


def test_keep_positions(one_thread):
    m, tr = stored_trajectory("ipl")
    part = Trajectory(tr.frames[:3], tr.times[:3], tr.box, tr.types)
    res = IHSTrajectory(m, keep_positions=True).compute(part)
    assert res.positions.shape == (3, tr.N, 3) and res.positions.dtype == np.float32
    assert np.all(res.positions >= 0) and np.all(res.positions <= tr.box.astype(np.float32))
    from meso_kernels.quench import quench
    ihs, _ = quench(part.system(2), m, method="cg", ftol=1e-8, max_step=res.max_step)
    np.testing.assert_allclose(res.positions[2], ihs.positions, rtol=0, atol=1e-5)   # float32 of a box of ~5
    with pytest.raises(RuntimeError, match="keep_positions"):
        IHSTrajectory(m).compute(part).positions
    with pytest.raises(ValueError, match="keep_positions"):
        IHSTrajectory(m, mode="bisect", keep_positions=True)


@pytest.mark.filterwarnings("ignore:cg did not converge")
def test_unconverged_quenches_are_reported_then_refused(one_thread):
    m = get_model("ipl")
    s = random_configuration(m, 128, 0.82, seed=4)
    tr = Trajectory.from_systems([s, s])
    res = IHSTrajectory(m, mode="all", max_steps=3, max_unconverged=1.0).compute(tr)
    assert res.n_unconverged == 2 and res.unconverged.tolist() == [0, 1]
    with pytest.raises(RuntimeError, match="did not reach"):
        IHSTrajectory(m, mode="all", max_steps=3).compute(tr)


def test_errors():
    m = get_model("ipl")
    s = random_configuration(m, 64, 0.82, seed=3)
    with pytest.raises(ValueError, match="empty"):
        Trajectory.from_systems([])
    with pytest.raises(ValueError, match="frames"):
        Trajectory(np.zeros((0, 64, 3)), [], s.box, s.types)
    with pytest.raises(ValueError, match="at least 2 frames"):
        IHSTrajectory(m).compute([s])
    with pytest.raises(ValueError, match="eps"):
        IHSTrajectory(m, eps=0.0)
    with pytest.raises(ValueError, match="eps"):
        IHSTrajectory(m, eps=-1e-5)
    with pytest.raises(ValueError, match="mode.*allowed: bisect, all"):
        IHSTrajectory(m, mode="every")
    with pytest.raises(ValueError, match="method"):
        IHSTrajectory(m, method="bfgs")
    with pytest.raises(ValueError, match="block"):
        IHSTrajectory(m, block=0)
    with pytest.raises(ValueError, match="options"):
        IHSTrajectory(m, options={"max_step": 0.1})
    with pytest.raises(ValueError, match="velocities"):
        record_trajectory(s, m, T=1.0, nframes=3, dt=0.005)
    big = System(s.positions * 1.01, s.box * 1.01, s.types)
    with pytest.raises(ValueError, match="box"):
        IHSTrajectory(m).compute([s, big])
    with pytest.raises(ValueError, match="box"):
        Trajectory(np.stack([s.positions, s.positions]), [0.0, 1.0], np.stack([s.box, big.box]), s.types)
    with pytest.raises(ValueError, match="times"):
        Trajectory(np.stack([s.positions, s.positions]), [1.0, 1.0], s.box, s.types)
    with pytest.raises(ValueError, match="unknown model"):
        ihs_time_step(get_model("ipl", dim=3).__class__("lj2", 3, 0, None, None, (1.0,), None))
    with pytest.raises(RuntimeError, match="compute"):
        IHSTrajectory(m).rate
    with pytest.raises(ValueError, match="2D"):           # model and trajectory must match
        IHSTrajectory(get_model("ipl", dim=2)).compute([s, s])
