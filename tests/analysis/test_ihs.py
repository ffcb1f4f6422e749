"""IHS trajectories and transition rates (meso_kernels.analysis.ihs; paper Fig. 5, footnote 83)."""
import functools

import numpy as np
import pytest

from meso_kernels.analysis.ihs import (IHSTrajectory, Trajectory, ihs_time_step, record_trajectory, reduced_rate,
                                       reduced_time, single_frame_excursions, transitions_from_energies)
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


@functools.lru_cache(maxsize=None)
def ipl_brute_force():
    """The IPL liquid trajectory (T = 0.8, 120 frames) with every frame quenched at the default settings."""
    m, _, tr = liquid_trajectory("ipl", 128, 0.82, 0.8, 3000, 120)
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


def test_bisect_finds_the_transitions_of_brute_force_ipl(one_thread):
    m, tr, full = ipl_brute_force()
    bis = IHSTrajectory(m, mode="bisect", block=8).compute(tr)
    assert full.n_quenches == 120 and full.quenched.all() and full.n_unconverged == 0
    assert full.n_transitions >= 2                                        # the test means something
    np.testing.assert_array_equal(bis.transitions, full.transitions)
    assert bis.n_quenches < full.n_quenches / 2
    # quenched frames carry the same IHS energy in both modes; the others the value of their block's start
    q = bis.quenched
    np.testing.assert_allclose(bis.energies[q], full.energies[q], rtol=0, atol=1e-6)
    np.testing.assert_allclose(bis.energies, full.energies, rtol=0, atol=1e-5)
    assert bis.duration == pytest.approx(119 * 0.005)
    assert bis.rate == pytest.approx(bis.n_transitions / bis.duration)
    assert "transitions" in repr(bis)


def test_bisect_matches_brute_force_ss_with_tenth_step(one_thread):
    m, _, tr = liquid_trajectory("ss", 128, 0.6, 1.5, 2000, 150)
    assert tr.times[1] == pytest.approx(0.0005)
    full = IHSTrajectory(m, mode="all").compute(tr)
    bis = IHSTrajectory(m, block=8).compute(tr)
    assert full.n_transitions >= 1
    np.testing.assert_array_equal(bis.transitions, full.transitions)
    assert bis.n_quenches < full.n_quenches / 2


def test_no_transitions_in_a_cold_glass(one_thread):
    m = get_model("ipl")
    from meso_kernels.quench import quench
    ihs, _ = quench(random_configuration(m, 128, 0.82, seed=5), m, method="cg", ftol=1e-8)
    ihs.velocities = maxwell_boltzmann(ihs.N, ihs.dim, 0.01, seed=2)
    tr = record_trajectory(ihs, m, T=0.01, nframes=40, dt=0.005)
    res = IHSTrajectory(m, block=16).compute(tr)
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
    neighbouring basins, and consecutive frames flicker A -> B -> A; with the default cap they do not."""
    m, tr, careful = ipl_brute_force()
    sloppy = IHSTrajectory(m, mode="all", max_step=0.1).compute(tr)
    assert careful.excursions.size == 0
    assert sloppy.excursions.size >= 2 and sloppy.n_transitions > careful.n_transitions
    assert single_frame_excursions([1.0, 1.0, 2.0, 1.0 + 1e-7, 1.0, 3.0, 4.0]).tolist() == [2]


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
