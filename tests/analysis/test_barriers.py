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
                            "end is highest": 0, "barrierless exit": 0}
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


# ---------------------------------------------------------------------------------------------------------------------
# composite transitions: a band split at its interior minima (composite_band), on analytic landscapes
# ---------------------------------------------------------------------------------------------------------------------

def _mb_point(x):
    from meso_kernels.neb import muller_brown
    e, f = muller_brown(x[0])
    return e, f[None]


def _newton(grad, guess, h=1e-6):
    """A stationary point of an analytic landscape by Newton's method on its analytic gradient (central-difference
    Jacobian): the reference, independent of the band code."""
    p = np.array(guess, dtype=float)
    for _ in range(50):
        J = np.column_stack([(grad(p + h * e) - grad(p - h * e)) / (2 * h) for e in np.eye(p.size)])
        step = np.linalg.solve(J, grad(p))
        p -= step
        if np.abs(step).max() < 1e-14:
            break
    assert np.linalg.norm(grad(p)) < 1e-10
    return p


def _analytic(energy_forces, n_images=9, spring=10.0, dt_max=0.02, ftol=1e-8):
    """(band, quench, distance) callables for composite_band on a 2D landscape ``energy_forces(x (2,))``."""
    from meso_kernels.minimize import cg
    from meso_kernels.neb import neb
    calls = []

    def band(p, q, climb, images, max_steps, monitor=None):
        band.climbs.append(climb)
        return neb(p, q, energy_forces=energy_forces, n_images=n_images, spring=spring, dt_max=dt_max,
                   ftol=ftol if climb else 10 * ftol, climb=climb, images=images, max_steps=max_steps,
                   monitor=monitor)

    band.climbs = []

    def quench(x):
        calls.append(np.array(x))
        r = cg(lambda y: (lambda e, f: (e, f[None]))(*energy_forces(y[0])), np.asarray(x)[None], ftol=1e-11)
        return r.x[0], r.energy, r.converged

    def distance(p, q):
        return float(np.abs(np.asarray(p) - np.asarray(q)).max())

    return band, quench, distance, calls


def _mb():
    from meso_kernels.neb import muller_brown
    grad = lambda p: -muller_brown(p)[1]     # noqa: E731
    pts = {k: _newton(grad, g) for k, g in (("A", (-0.558, 1.442)), ("B", (0.623, 0.028)), ("C", (-0.050, 0.467)),
                                            ("AC", (-0.822, 0.624)), ("CB", (0.212, 0.293)))}
    return muller_brown, pts, {k: float(muller_brown(p)[0]) for k, p in pts.items()}


@pytest.mark.filterwarnings("ignore:neb did not converge")
def test_composite_band_splits_muller_brown_at_its_intermediate_minimum():
    """A -> B on the Müller–Brown surface passes through minimum C: the relaxed band has an interior minimum there,
    the split finds C, each segment's climbing image reaches its saddle (Newton's, to 1e-6), and the composite
    barrier is the higher saddle minus each end's energy."""
    from meso_kernels.analysis.barriers import composite_band
    mb, P, E = _mb()
    band, quench, distance, _ = _analytic(mb)
    res = composite_band(P["A"], P["B"], band, quench, distance, plain_steps=1000, max_steps=20_000)
    assert res.n_segments == 2 and res.depth == 1 and res.converged
    assert len(res.minima) == 1 and np.abs(res.minima[0] - P["C"]).max() < 1e-6
    assert res.E_minima[0] == pytest.approx(E["C"], abs=1e-9)
    for seg, name in zip(res.segments, ("AC", "CB")):
        assert np.abs(seg.saddle - P[name]).max() < 1e-6
        assert seg.saddle_energy == pytest.approx(E[name], abs=1e-6)
    assert np.allclose(res.saddle_energies, [E["AC"], E["CB"]], atol=1e-6)
    assert res.barrier_forward == pytest.approx(E["AC"] - E["A"], abs=1e-6)      # the higher saddle, A-C
    assert res.barrier_backward == pytest.approx(E["AC"] - E["B"], abs=1e-6)
    # the segments laid end to end: 2 (M - 1) + 1 images, C once, at the junction
    assert res.path.shape == (17, 2) and res.energies.shape == (17,) and res.starts.tolist() == [0, 8]
    assert np.abs(res.path[8] - P["C"]).max() < 1e-6 and np.all(np.diff(res.path_coordinate) > 0)
    assert res.interior_minima == 0
    # B -> A: the highest saddle is now the last segment's; the barriers swap
    rev = composite_band(P["B"], P["A"], band, quench, distance, plain_steps=1000, max_steps=20_000)
    assert rev.n_segments == 2 and rev.converged and np.abs(rev.minima[0] - P["C"]).max() < 1e-6
    assert np.allclose(rev.saddle_energies, [E["CB"], E["AC"]], atol=1e-6)
    assert rev.barrier_forward == pytest.approx(res.barrier_backward, abs=1e-6)
    assert rev.barrier_backward == pytest.approx(res.barrier_forward, abs=1e-6)
    # without splitting: one band, which does not resolve the C -> B saddle
    one = composite_band(P["A"], P["B"], band, quench, distance, plain_steps=1000, max_steps=20_000, split=False)
    assert one.n_segments == 1 and one.depth == 0 and one.interior_minima >= 1


def test_composite_band_without_interior_minimum_is_the_plain_band():
    """A -> C on Müller–Brown is elementary: no image is quenched, one segment, the same band as without splitting
    (to the bit: the same calls), at Newton's saddle."""
    from meso_kernels.analysis.barriers import composite_band
    mb, P, E = _mb()
    band, quench, distance, calls = _analytic(mb)
    res = composite_band(P["A"], P["C"], band, quench, distance, plain_steps=1000, max_steps=20_000)
    assert calls == [] and res.n_segments == 1 and res.depth == 0 and res.converged and res.E_minima.size == 0
    off = composite_band(P["A"], P["C"], band, quench, distance, plain_steps=1000, max_steps=20_000, split=False)
    assert res.saddle_energy == off.saddle_energy and np.array_equal(res.path, off.path)
    assert res.saddle_energy == pytest.approx(E["AC"], abs=1e-6)
    assert res.barrier_forward == pytest.approx(E["AC"] - E["A"], abs=1e-6)
    assert res.barrier_backward == pytest.approx(E["AC"] - E["C"], abs=1e-6)
    assert res.n_iter == res.segments[0].n_iter + res.segments[0].plain_iter


def _washboard(x):
    """E = -cos(2 pi x) + 2 (y - g(x))², g(x) = 0.3 sin(2 pi x / 5): minima at x = 0..5 on y = g(x) (E = -1), saddles
    at the half-integers (E = +1, exactly: both terms' gradients vanish there)."""
    x0, y0 = x
    g = 0.3 * np.sin(2 * np.pi * x0 / 5)
    dg = 0.3 * 2 * np.pi / 5 * np.cos(2 * np.pi * x0 / 5)
    e = -np.cos(2 * np.pi * x0) + 2 * (y0 - g) ** 2
    fx = -(2 * np.pi * np.sin(2 * np.pi * x0) - 4 * (y0 - g) * dg)
    fy = -4 * (y0 - g)
    return float(e), np.array([fx, fy])


@pytest.mark.filterwarnings("ignore:neb did not converge")
def test_composite_band_respects_its_limits():
    """Six minima in a row (four intermediate ones): with room enough every segment is elementary (its saddle at
    E = 1 to 1e-6, the composite barrier 2); the depth and segment limits are never exceeded; bad limits are
    refused, naming the parameter."""
    from meso_kernels.analysis.barriers import composite_band
    band, quench, distance, _ = _analytic(_washboard, dt_max=0.1)
    a, b = np.array([0.0, 0.0]), np.array([5.0, 0.0])
    kw = dict(plain_steps=1000, max_steps=5000)
    full = composite_band(a, b, band, quench, distance, max_depth=5, max_segments=10, **kw)
    assert full.n_segments == 5 and full.converged
    assert np.allclose(sorted(m[0] for m in full.minima), [1, 2, 3, 4], atol=1e-6)
    assert np.allclose(full.E_minima, -1, atol=1e-9)
    assert np.allclose(full.saddle_energies, 1.0, atol=1e-6)
    assert full.barrier_forward == pytest.approx(2.0, abs=1e-6) and full.barrier_backward == pytest.approx(2, abs=1e-6)
    for depth in (0, 1, 2):
        r = composite_band(a, b, band, quench, distance, max_depth=depth, max_segments=10, **kw)
        assert r.depth <= depth and len(r.minima) == r.n_segments - 1
        assert (r.n_segments == 1) == (depth == 0)     # the one band of depth 0 runs away (composite, unsplit)
    for cap in (1, 2, 3):
        r = composite_band(a, b, band, quench, distance, max_depth=5, max_segments=cap, **kw)
        assert r.n_segments <= cap and len(r.minima) == r.n_segments - 1
        assert (r.n_segments == 1) == (cap == 1)
        if cap > 1:                                    # the segments end in the washboard's minima
            assert np.allclose([m[0] for m in r.minima], np.round([m[0] for m in r.minima]), atol=1e-6)
    for bad, match in (({"max_depth": -1}, "max_depth"), ({"max_segments": 0}, "max_segments"),
                       ({"dip_tol": 0.0}, "dip_tol"), ({"max_depth": 1.5}, "max_depth")):
        with pytest.raises(ValueError, match=match):
            composite_band(a, b, band, quench, distance, **(kw | bad))


def test_transition_barriers_split_option(pair):
    """An elementary transition of the glass is one segment with or without splitting, with the same results; the
    split options are refused when bad; arrays stored before composite bands are read back as one segment each."""
    m, a, b, ea, eb = pair
    on = TransitionBarriers(m, md_window=0, split=True, **BAND).compute(_traj(pair, "AB")).arrays
    off = TransitionBarriers(m, md_window=0, **BAND).compute(_traj(pair, "AB")).arrays
    assert on["n_segments"].tolist() == [1] and off["n_segments"].tolist() == [1]
    assert on["n_segments_converged"].tolist() == [1]
    assert on["E_minima"].shape == (1, 0) and on["E_segment_saddles"][0, 0] == on["E_saddle"][0]
    for k in ("status", "forward", "backward", "path_E", "path_s", "n_iter"):
        assert np.array_equal(on[k], off[k]), k
    old = {k: v for k, v in on.items() if k not in ("n_segments", "E_minima", "E_segment_saddles")}
    again = TransitionBarriers.from_arrays(m, old, md_window=0, **BAND).arrays
    assert again["n_segments"].tolist() == [1] and again["E_segment_saddles"][0, 0] == on["E_saddle"][0]
    assert again["n_segments_converged"].tolist() == [1]
    p = TransitionBarriers(m, split=True).params()
    assert p["split"] is True and p["split_depth"] == 2 and p["split_segments"] == 4
    # off by default, and then the cache keys of results stored before the option existed are unchanged
    assert not any(k.startswith("split") for k in TransitionBarriers(m).params())
    for kw, match in (({"split_depth": -1}, "split_depth"), ({"split_segments": 0}, "split_segments"),
                      ({"split_tol": 0.0}, "split_tol"), ({"split": "yes"}, "split")):
        with pytest.raises(ValueError, match=match):
            TransitionBarriers(m, **kw)


def test_profiles_of_composite_transitions():
    """A composite transition's profile is its segments laid end to end (nan padding dropped); chaining it with a
    one-segment band needs no break where the ends match."""
    from meso_kernels.analysis.barriers import band_profile
    nan = np.nan
    arrays = {"status": np.array([0, 0]),
              "path_s": np.array([[0, 1, 2, 3, 4], [0, 1, 2, nan, nan]], float),
              "path_E": np.array([[0, 2, -1, 1, -0.5], [-0.5, 0.5, 0.0, nan, nan]], float)}
    s, E = band_profile(arrays, 0)
    assert s.size == 5 and E[-1] == -0.5
    s, E = band_profile(arrays, 1)
    assert s.tolist() == [0, 1, 2] and E.tolist() == [-0.5, 0.5, 0.0]
    s, E, breaks = chain_profiles(arrays)
    assert s.tolist() == [0, 1, 2, 3, 4, 4, 5, 6] and breaks == [] and E[-1] == 0.0


# ---------------------------------------------------------------------------------------------------------------------
# climb="auto": climb only from an interior maximum of the relaxed plain band; barrierless exits; the runaway guard
# ---------------------------------------------------------------------------------------------------------------------

_TILT = 1.539     # just below the critical tilt 8 / (3 sqrt 3) = 1.5396: the left minimum's barrier is 7.5e-6


def _tilted(x):
    """E = (x² - 1)² - t x + y², t = 1.539: A (x = -0.587) a shallow minimum on the slope, 7.5e-6 below a maximum
    0.019 away (far below an image spacing of 0.22 with 9 images), then downhill all the way to B (x = 1.155,
    3.0 below A)."""
    x0, y0 = x
    e = (x0 * x0 - 1) ** 2 - _TILT * x0 + y0 * y0
    return float(e), np.array([-(4 * x0 * (x0 * x0 - 1) - _TILT), -2 * y0])


def _tilted_ends():
    r = np.sort(np.roots([4, 0, -4, -_TILT]).real)
    grad = lambda p: -_tilted(p)[1]     # noqa: E731
    a, b = _newton(grad, (r[0], 0.0)), _newton(grad, (r[2], 0.0))
    return a, b, _tilted(a)[0], _tilted(b)[0]


@pytest.mark.filterwarnings("ignore:neb did not converge")
def test_auto_climb_records_a_barrierless_exit():
    """A -> B downhill from a shallow minimum A: the relaxed plain band falls monotonically from A, so with
    climb="auto" no image climbs, the band is a barrierless exit, forward barrier 0 and backward E_A - E_B; the
    default (always climb) never reports more than that either way. B -> A: the maximum is the far end."""
    from meso_kernels.analysis.barriers import BarrierlessBand, composite_band, interior_maximum
    a, b, ea, eb = _tilted_ends()
    kw = dict(plain_steps=1000, max_steps=5000)
    band, quench, distance, _ = _analytic(_tilted, dt_max=0.05)
    res = composite_band(a, b, band, quench, distance, climb="auto", runaway_tol=1.0, **kw)
    assert band.climbs == [False]                                  # the plain stage only: nothing climbed
    seg = res.segments[0]
    assert isinstance(seg, BarrierlessBand) and res.outcomes == ["barrierless"] and res.barrierless
    assert res.converged and not res.runaway and res.n_segments == 1
    assert interior_maximum(seg.energies) is None and np.all(np.diff(seg.energies) < 0)
    assert res.barrier_forward == 0.0
    assert res.barrier_backward == pytest.approx(ea - eb, abs=1e-6)
    assert res.saddle_energy == ea and np.array_equal(seg.saddle, a) and seg.n_iter == 0
    assert res.n_iter == seg.plain_iter      # the straight line is already the relaxed plain band here
    plain_max = float(np.max(seg.energies))
    old = composite_band(a, b, band, quench, distance, **kw)           # always climbs
    assert old.outcomes == ["saddle"] and not old.barrierless
    assert res.saddle_energy <= plain_max + 1e-12
    assert old.barrier_forward >= res.barrier_forward - 1e-12       # whatever the old one found, the new is 0
    rev = composite_band(b, a, band, quench, distance, climb="auto", runaway_tol=1.0, **kw)
    assert rev.barrierless and rev.segments[0].saddle_index == 8
    assert rev.barrier_forward == pytest.approx(ea - eb, abs=1e-6) and rev.barrier_backward == 0.0


@pytest.mark.filterwarnings("ignore:neb did not converge")
def test_auto_climb_finds_the_same_interior_saddle():
    """A -> C on Müller–Brown has an interior maximum after the plain stage: "auto" climbs, the same calls as the
    default (the monitor only watches), Newton's saddle to 1e-6; with split on, A -> B is split as before."""
    from meso_kernels.analysis.barriers import composite_band
    mb, P, E = _mb()
    band, quench, distance, _ = _analytic(mb)
    kw = dict(plain_steps=1000, max_steps=20_000)
    auto = composite_band(P["A"], P["C"], band, quench, distance, climb="auto", runaway_tol=5.0, **kw)
    old = composite_band(P["A"], P["C"], band, quench, distance, **kw)
    assert auto.outcomes == ["saddle"] and auto.converged and not auto.barrierless
    assert auto.saddle_energy == pytest.approx(E["AC"], abs=1e-6)
    assert auto.saddle_energy == old.saddle_energy and np.array_equal(auto.path, old.path)
    assert auto.n_iter == old.n_iter
    assert auto.barrier_forward == pytest.approx(E["AC"] - E["A"], abs=1e-6)
    split = composite_band(P["A"], P["B"], band, quench, distance, climb="auto", runaway_tol=5.0, **kw)
    assert split.n_segments == 2 and split.converged and split.outcomes == ["saddle", "saddle"]
    assert np.allclose(split.saddle_energies, [E["AC"], E["CB"]], atol=1e-6)


@pytest.mark.filterwarnings("ignore:neb did not converge")
def test_runaway_guard():
    """A climbing image that rises more than runaway_tol above the plain band's highest image stops its band
    (neb's monitor), which is unconverged with outcome "runaway": on Müller–Brown with a tolerance (1) below the
    climb from the plain maximum to the A-C saddle (3.1), and with a mock band whose climbing stage ignores the
    monitor."""
    from types import SimpleNamespace

    from meso_kernels.analysis.barriers import composite_band
    mb, P, E = _mb()
    band, quench, distance, _ = _analytic(mb)
    kw = dict(plain_steps=1000, max_steps=20_000)
    ok = composite_band(P["A"], P["C"], band, quench, distance, climb="auto", runaway_tol=5.0, **kw)
    rise = ok.saddle_energy - float(np.max(band(P["A"], P["C"], False, None, 1000).energies))
    assert 1.0 < rise < 5.0      # 3.1 (of a barrier of 106): a climbing image gains a fraction of the barrier
    res = composite_band(P["A"], P["C"], band, quench, distance, climb="auto", runaway_tol=1.0, **kw)
    assert res.outcomes == ["runaway"] and res.runaway and not res.converged
    seg = res.segments[0]
    assert not seg.converged and "stopped by monitor" in seg.message
    assert seg.n_iter < ok.segments[0].n_iter                      # stopped early
    plain_E = np.array([0.0, 1.0, 2.0, 1.0, -1.0])

    def mock(p, q, climb, images, max_steps, monitor=None):
        E = plain_E if not climb else np.array([0.0, 1.0, 2.0 + 50.0, 1.0, -1.0])
        path = np.linspace(0, 1, 5)[:, None] * np.ones(2)
        return SimpleNamespace(energies=E, path=path, path_coordinate=np.linspace(0, 1, 5), converged=True,
                               n_iter=7, saddle_energy=float(E.max()), max_perpendicular_force=0.0,
                               climbing_force=0.0)

    m = composite_band(np.zeros(2), np.ones(2), mock, quench, distance, climb="auto", runaway_tol=10.0, plain_steps=5,
                       max_steps=20)
    assert m.outcomes == ["runaway"] and not m.converged and m.n_iter == 14
    fine = composite_band(np.zeros(2), np.ones(2), mock, quench, distance, climb="auto", runaway_tol=60.0,
                          plain_steps=5, max_steps=20)
    assert fine.outcomes == ["saddle"] and fine.converged and fine.saddle_energy == 52.0
    for bad, match in (({"climb": "sometimes"}, "climb"), ({"climb": True}, "climb"),
                       ({"climb": "auto", "runaway_tol": None}, "runaway_tol"),
                       ({"climb": "auto", "runaway_tol": 0.0}, "runaway_tol"),
                       ({"climb": "auto", "runaway_tol": 1.0, "plain_steps": 0}, "plain_steps")):
        with pytest.raises(ValueError, match=match):
            composite_band(np.zeros(2), np.ones(2), mock, quench, distance, **({"plain_steps": 5, "max_steps": 20}
                                                                                 | bad))


def test_transition_barriers_climb_option(pair):
    """climb="auto" on an elementary transition of the glass climbs, with the default's results to the bit; the
    option is in params() only when not the default; bad values are refused naming the parameter; a barrierless
    exit is a measured barrier (barriers_over_T, summarize_barriers), a runaway is not."""
    m, a, b, ea, eb = pair
    auto = TransitionBarriers(m, md_window=0, climb="auto", **BAND).compute(_traj(pair, "AB"))
    off = TransitionBarriers(m, md_window=0, **BAND).compute(_traj(pair, "AB"))
    assert auto.counts()["converged"] == 1 and auto.arrays["n_segments_runaway"].tolist() == [0]
    for k in ("status", "forward", "backward", "path_E", "n_iter"):
        assert np.array_equal(auto.arrays[k], off.arrays[k]), k
    assert "climb" not in TransitionBarriers(m).params() and "runaway_tol" not in TransitionBarriers(m).params()
    assert TransitionBarriers(m, climb="always").params() == TransitionBarriers(m).params()
    p = TransitionBarriers(m, climb="auto", runaway_tol=5).params()
    assert p["climb"] == "auto" and p["runaway_tol"] == 5.0
    for kw, match in (({"climb": "yes"}, "climb must be one of 'always', 'auto'"), ({"climb": None}, "climb"),
                      ({"climb": "auto", "runaway_tol": -1}, "runaway_tol"),
                      ({"climb": "auto", "plain_steps": 0}, "plain_steps")):
        with pytest.raises(ValueError, match=match):
            TransitionBarriers(m, **kw)
    arr = off.arrays
    arr = arr | {"status": np.array([5]), "forward": np.array([0.0]), "backward": np.array([ea - eb]),
                 "E_saddle": np.array([ea])}
    bl = TransitionBarriers.from_arrays(m, arr, md_window=0, **BAND)
    assert STATUS[5] == "barrierless exit" and bl.counts()["barrierless exit"] == 1 and not bl.converged[0]
    assert bl.measured[0] and sorted(bl.barriers_over_T()) == pytest.approx(sorted([0.0, (ea - eb) / 0.5]))
    assert summarize_barriers(bl.barriers_over_T())["below_T"] >= 0.5
    assert TransitionBarriers.from_arrays(m, arr | {"status": np.array([1])}, md_window=0,
                                          **BAND).barriers_over_T().size == 0
