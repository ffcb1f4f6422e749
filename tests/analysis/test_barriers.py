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
    assert res.counts() == {"converged": 2, "unconverged": 0, "same minimum": 0, "energy mismatch": 0}
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
    assert a_["path_E"].shape == (2, 7) and a_["path_lambda"][0, 0] == 0 and a_["path_lambda"][0, -1] == pytest.approx(1)
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
