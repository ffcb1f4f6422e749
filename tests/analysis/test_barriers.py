"""Barriers of observed IHS transitions (meso_kernels.analysis.barriers) on a small 2D IPL glass: the barrier of a
transition equals that of a direct band between the exact minima, forward − backward = E_B − E_A, a return
transition reverses the barriers, skipped cases are counted, and bad input is refused."""
import numpy as np
import pytest

from conftest import make_glass, neighbouring_minimum
from meso_kernels.analysis.barriers import STATUS, TransitionBarriers, chain_profiles, summarize_barriers
from meso_kernels.neb import neb

pytestmark = pytest.mark.usefixtures("one_thread")

BAND = {"n_images": 7, "ftol": 1e-6, "max_steps": 10_000}


@pytest.fixture(scope="module")
def pair():
    """Two neighbouring minima of the 2D IPL glass (N = 80): the glass pushed along a soft mode and re-quenched.
    Returns (model, A, B, E_A, E_B)."""
    m, a = make_glass("ipl2d")
    b, e_a, e_b = neighbouring_minimum(m, a, min_gap=1e-4)
    return m, a, b, e_a, e_b


def _traj(pair, order="ABBA", T=0.5, energies=None):
    m, a, b, ea, eb = pair
    X = {"A": a.positions, "B": b.positions}
    U = np.array([{"A": ea, "B": eb}[c] for c in order]) if energies is None else np.asarray(energies, float)
    tr = np.flatnonzero(np.abs(np.diff(U)) > 1e-5) + 1
    return {"ihs_positions": np.stack([X[c] for c in order]).astype(np.float32), "energies": U, "transitions": tr,
            "box": a.box, "types": a.types, "T": np.array(T)}


def test_barrier_equals_the_direct_band_and_reverses(pair):
    m, a, b, ea, eb = pair
    direct = neb(a, b, m, **BAND)
    assert direct.converged
    res = TransitionBarriers(m, md_window=0, **BAND).compute(_traj(pair))
    assert res.counts() == {"converged": 2, "unconverged": 0, "same minimum": 0, "energy mismatch": 0,
                            "end is highest": 0}
    f, bw = res.forward, res.backward
    # the float32 ends were re-quenched into the same minima: the same barrier as the exact ends
    assert f[0] == pytest.approx(direct.barrier_forward, abs=1e-7)
    assert bw[0] == pytest.approx(direct.barrier_backward, abs=1e-7)
    # forward - backward = E_B - E_A to roundoff, and B -> A is A -> B reversed
    assert f[0] - bw[0] == pytest.approx(eb - ea, abs=1e-9)
    assert f[1] == pytest.approx(bw[0], abs=1e-7) and bw[1] == pytest.approx(f[0], abs=1e-7)
    x = res.barriers_over_T()
    assert x.shape == (4,) and np.allclose(np.sort(x), np.sort(np.r_[f, bw] / 0.5))
    assert np.all(x > 0)
    a_ = res.arrays
    assert a_["path_E"].shape == (2, 7) and a_["path_lambda"][0, 0] == 0
    assert a_["path_lambda"][0, -1] == pytest.approx(1)
    # rebuilt from its arrays (a cache), the results are the same
    again = TransitionBarriers.from_arrays(m, a_, md_window=0, **BAND)
    assert np.array_equal(again.forward, f) and again.T == 0.5
    # two bands chained: A -> B -> A starts and ends at 0 and never breaks
    s, E, breaks = chain_profiles(a_)
    assert s.size == 14 and E[0] == 0 and abs(E[-1]) < 1e-9 and breaks == []
    assert np.all(np.diff(s) >= 0)


def test_same_minimum_and_mismatch_are_skipped_and_counted(pair):
    m, a, b, ea, eb = pair
    same = TransitionBarriers(m, md_window=0, **BAND).compute(_traj(pair, "AA", energies=[ea, ea + 1e-3]))
    assert same.counts()["same minimum"] == 1 and np.isnan(same.forward[0])
    assert same.barriers_over_T().size == 0
    bad = TransitionBarriers(m, md_window=0, **BAND).compute(_traj(pair, "AB", energies=[ea, eb + 0.1]))
    assert STATUS[int(bad.status[0])] == "energy mismatch" and np.isnan(bad.forward[0])
    capped = TransitionBarriers(m, md_window=0, max_transitions=1, **BAND).compute(_traj(pair, "ABA"))
    assert capped.status.size == 1


def test_md_frames_around_a_transition(pair):
    m, a, b, ea, eb = pair
    tr = _traj(pair, "AB")
    v = np.random.default_rng(0).normal(0.0, 0.05, a.positions.shape)
    tr.update(start_positions=a.positions, start_velocities=v - v.mean(0), times=np.arange(2) * 0.002)
    res = TransitionBarriers(m, md_window=3, **BAND).compute(tr)
    arr = res.arrays
    assert arr["md_frame"][0].tolist() == [0, 1, -1, -1, -1, -1, -1, -1]   # only frames 0 and 1 exist
    assert arr["md_E"][0, 0] == pytest.approx(ea, abs=1e-9)                  # frame 0 is A itself
    assert arr["md_lambda"][0, 0] == pytest.approx(0.0, abs=1e-8)   # A re-quenched from float32
    assert np.isfinite(arr["md_E"][0, 1]) and np.isnan(arr["md_E"][0, 2])


def test_summary():
    s = summarize_barriers([0.5, 2.0, 3.0, 0.1, 10.0], seed=0)
    assert s["n"] == 5 and s["median"] == 2.0 and s["below_T"] == pytest.approx(0.4)
    assert s["low"] <= 2.0 <= s["high"] and 0 <= s["below_T_low"] <= 0.4 <= s["below_T_high"] <= 1
    assert np.isnan(summarize_barriers([])["median"])
    with pytest.raises(ValueError, match="finite"):
        summarize_barriers([1.0, np.nan])


def test_refusals(pair):
    m, a, b, ea, eb = pair
    tr = _traj(pair, "AB")
    with pytest.raises(ValueError, match="keep_positions"):
        TransitionBarriers(m).compute({k: v for k, v in tr.items() if k != "ihs_positions"})
    with pytest.raises(ValueError, match="transitions must be frame indices"):
        TransitionBarriers(m).compute(tr | {"transitions": np.array([2])})
    with pytest.raises(ValueError, match="T must be a positive"):
        TransitionBarriers(m).compute(tr | {"T": np.array(-1.0)})
    with pytest.raises(ValueError, match="shape"):
        TransitionBarriers(m).compute(tr | {"energies": tr["energies"][:1]})
    with pytest.raises(ValueError, match="dict"):
        TransitionBarriers(m).compute([1, 2])
    for kw, match in (({"n_images": 2}, "n_images"), ({"ftol": 0.0}, "ftol"), ({"max_steps": 0}, "max_steps"),
                      ({"requench_ftol": 1e-2}, "requench_ftol"), ({"max_transitions": -1}, "max_transitions"),
                      ({"md_window": -1}, "md_window")):
        with pytest.raises(ValueError, match=match):
            TransitionBarriers(m, **kw)
    with pytest.raises(RuntimeError, match="compute"):
        TransitionBarriers(m).forward


def _crossing_frames(m, a, b, n_bisect=30):
    """Two configurations on the straight line A -> B, ~2^-n_bisect apart, that quench (as TransitionBarriers
    descends: CG, capped step) one into A and one into B; found here by bisection on this machine, so that the test
    does not depend on where roundoff puts the basin boundary."""
    from meso_kernels.quench import quench
    from meso_kernels.system import System
    box = a.box
    D = b.positions - a.positions
    D -= box * np.round(D / box)
    tb = TransitionBarriers(m)

    def lands_in_b(s):
        q, _ = quench(System.wrapped(a.positions + s * D, box, a.types), m, method="cg", ftol=1e-10,
                      max_step=tb.max_step)
        d = q.positions - b.positions
        d -= box * np.round(d / box)
        return np.abs(d).max() < 1e-6

    lo, hi = 0.0, 1.0
    for _ in range(n_bisect):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if lands_in_b(mid) else (mid, hi)
    return [System.wrapped(a.positions + s * D, box, a.types).positions for s in (lo, hi)]


def test_band_started_on_descent_paths(pair):
    """With the MD frames on either side of the crossing given, the band starts on the joined descent paths
    (init code 1), converges, and finds the barrier of the direct band; frames that do not cross fall back to the
    straight line (init code 3), and a trajectory without frames or start to the straight line (code 2)."""
    m, a, b, ea, eb = pair
    before, after = _crossing_frames(m, a, b)
    tr = _traj(pair, "AB") | {"frames": np.stack([before, after])}
    res = TransitionBarriers(m, md_window=1, initial="descent", **BAND).compute(tr)
    arr = res.arrays
    assert res.counts()["converged"] == 1 and arr["init"][0] == 1
    assert np.isfinite(arr["init_length"][0]) and arr["init_length"][0] > 0
    direct = neb(a, b, m, **BAND)
    assert res.forward[0] == pytest.approx(direct.barrier_forward, rel=1e-6, abs=1e-7)
    assert res.forward[0] - res.backward[0] == pytest.approx(eb - ea, abs=1e-9)
    # frames in A's basin on both sides: the descent from the "after" frame misses B
    missed = TransitionBarriers(m, md_window=1, initial="descent", **BAND).compute(
        _traj(pair, "AB") | {"frames": np.stack([before, before])})
    assert missed.arrays["init"][0] == 3 and missed.counts()["converged"] == 1
    assert missed.forward[0] == pytest.approx(direct.barrier_forward, rel=1e-6, abs=1e-7)
    plain = TransitionBarriers(m, md_window=0, initial="descent", **BAND).compute(_traj(pair, "AB"))
    assert plain.arrays["init"][0] == 2
    line = TransitionBarriers(m, md_window=1, **BAND).compute(tr)     # the default start
    assert line.arrays["init"][0] == 0
    with pytest.raises(ValueError, match="initial"):
        TransitionBarriers(m, initial="curve")
    with pytest.raises(ValueError, match="plain_steps"):
        TransitionBarriers(m, max_steps=10, plain_steps=10)


def test_a_band_topped_by_an_end_gives_no_barrier(pair):
    """A converged band whose climbing image lies below one of its ends has not resolved a saddle: it is counted as
    'end is highest' and gives no barrier (also when rebuilt from stored arrays of an older run)."""
    m, a, b, ea, eb = pair
    res = TransitionBarriers(m, md_window=0, **BAND).compute(_traj(pair, "AB"))
    arr = res.arrays
    assert res.counts()["converged"] == 1
    arr["E_saddle"] = np.array([max(ea, eb) - 1e-3])
    arr["backward"] = arr["E_saddle"] - arr["E_b"]
    arr["status"] = np.array([0])
    again = TransitionBarriers.from_arrays(m, arr, md_window=0, **BAND)
    assert again.counts()["end is highest"] == 1 and again.counts()["converged"] == 0
    assert again.barriers_over_T().size == 0
