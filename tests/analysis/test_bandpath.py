"""Initial bands from descent paths (meso_kernels.analysis.bandpath) and neb(..., images=...): equal spacing in arc
length along the polyline, the right end points, continuity across a periodic box, and on the Müller–Brown surface
a band started on two joined descent paths converges to the known A–C saddle."""
import numpy as np
import pytest

from meso_kernels.analysis.bandpath import (PathRecorder, arc_length, descent_path, joined_path, min_image,
                                            resample_path)
from meso_kernels.neb import muller_brown, neb

#: the A–C saddle of the Müller–Brown surface and the two minima it joins (well known; also in meso_kernels.neb)
SADDLE_AC, E_SADDLE_AC = np.array([-0.82200, 0.62431]), -40.66484
MIN_A, MIN_C = np.array([-0.558224, 1.441726]), np.array([-0.050011, 0.466694])


def _mb(x):
    e, f = muller_brown(x[0])
    return e, f[None]


def _on_polyline(points, q):
    """Arc-length coordinate of q on the polyline (P, D) (asserting that it lies on one of its segments)."""
    s = arc_length(points)
    best = (np.inf, None)
    for j in range(len(points) - 1):
        a, d = points[j], points[j + 1] - points[j]
        t = float(np.clip((q - a) @ d / (d @ d), 0.0, 1.0))
        r = float(np.linalg.norm(a + t * d - q))
        if r < best[0]:
            best = (r, s[j] + t * (s[j + 1] - s[j]))
    assert best[0] < 1e-12, f"point {q} is {best[0]:.3g} off the polyline"
    return best[1]


def test_resample_corner_and_uneven_vertices():
    # an L of length 3 given by unevenly spaced vertices, with a repeated one
    pts = np.array([[0.0, 0.0], [0.1, 0.0], [0.1, 0.0], [2.0, 0.0], [2.0, 1.0]])
    out = resample_path(pts, 7)
    assert np.allclose(out, [[0, 0], [0.5, 0], [1, 0], [1.5, 0], [2, 0], [2, 0.5], [2, 1]], atol=1e-15)
    assert out.shape == (7, 2)
    # arc length of a finely sampled circle arc: chords of the resampled points are equal
    th = np.linspace(0.0, np.pi / 2, 2001) ** 2 / (np.pi / 2)          # vertices crowded at the start
    arc = np.stack([np.cos(th), np.sin(th)], 1)
    r = resample_path(arc, 6)
    chords = np.linalg.norm(np.diff(r, axis=0), axis=1)
    assert np.allclose(chords, 2 * np.sin(np.pi / 20), rtol=1e-5)
    assert np.array_equal(r[0], arc[0]) and np.array_equal(r[-1], arc[-1])


def test_resample_refusals():
    with pytest.raises(ValueError, match="n must"):
        resample_path([[0.0], [1.0]], 1)
    with pytest.raises(ValueError, match="at least 2"):
        resample_path([[0.0, 1.0]], 3)
    with pytest.raises(ValueError, match="zero length"):
        resample_path([[1.0, 1.0], [1.0, 1.0]], 3)
    with pytest.raises(ValueError, match="finite"):
        resample_path([[0.0, np.nan], [1.0, 1.0]], 3)
    with pytest.raises(ValueError, match="max_points"):
        PathRecorder(np.zeros(2), max_points=2)


def test_periodic_paths_are_continuous_across_the_box():
    box = np.array([1.0, 1.0])
    disp = min_image(box)
    # one particle walks from x = 0.9 through the boundary to x = 0.2 (wrapped positions), the other stays
    xs = [0.9, 0.95, 0.0, 0.05, 0.1, 0.15, 0.2]
    pts = np.array([[[x, 0.5], [0.3, 0.3]] for x in xs])
    out = resample_path(pts, 4, displacement=disp)
    assert np.allclose(out[:, 0, 0], [0.9, 0.9 + 0.3 / 3 * 1, 0.9 + 0.2, 1.2])
    assert np.allclose(out[:, 1], [0.3, 0.3])
    assert arc_length(pts, disp)[-1] == pytest.approx(0.3)
    # without the minimum image the same wrapped points make a long detour
    assert arc_length(pts)[-1] > 1.0
    # joined paths: A <- a reversed, then b -> B, continuous from A
    j = joined_path(pts[:3], pts[3:], displacement=disp)
    assert np.allclose(j[:, 0, 0], [0.0, -0.05, -0.1, 0.05, 0.1, 0.15, 0.2])


def test_recorder_thins_and_keeps_the_ends():
    rec = PathRecorder(np.array([0.0]), max_points=10)
    for k in range(1, 1001):
        rec(k, np.array([float(k)]), 0.0, None)
    p = rec.path(np.array([1000.5]))[:, 0]
    assert len(p) <= 10 and p[0] == 0.0 and p[-1] == 1000.5
    assert np.all(np.diff(p) > 0)
    gaps = np.diff(p[1:-1])
    assert np.ptp(gaps) == 0          # evenly thinned in iterations


@pytest.fixture(scope="module")
def descents():
    """Descent paths of Müller–Brown from either side of the A–C saddle (along its unstable direction)."""
    h = 1e-6
    H = np.array([(-muller_brown(SADDLE_AC + h * e)[1] + muller_brown(SADDLE_AC - h * e)[1]) / (2 * h)
                  for e in np.eye(2)])
    w, v = np.linalg.eigh(0.5 * (H + H.T))
    assert w[0] < 0 < w[1]
    u = v[:, 0] if v[1, 0] > 0 else -v[:, 0]                              # pointing towards A (larger y)
    ra, pa = descent_path(_mb, (SADDLE_AC + 0.04 * u)[None], ftol=1e-10, max_step=0.01)
    rb, pb = descent_path(_mb, (SADDLE_AC - 0.04 * u)[None], ftol=1e-10, max_step=0.01)
    return ra, pa, rb, pb


def test_descents_end_in_the_two_minima(descents):
    ra, pa, rb, pb = descents
    assert ra.converged and rb.converged
    assert np.allclose(pa[-1, 0], MIN_A, atol=1e-5) and np.allclose(pb[-1, 0], MIN_C, atol=1e-5)
    assert np.array_equal(pa[-1], ra.x) and len(pa) >= 10
    # a descent path goes downhill
    E = np.array([muller_brown(p[0])[0] for p in pa])
    assert np.all(np.diff(E) < 1e-12)


@pytest.mark.parametrize("n", [5, 9, 13])
def test_band_from_descents_equal_spacing_ends_and_saddle(descents, n):
    ra, pa, rb, pb = descents
    J = joined_path(pa, pb, start=ra.x, end=rb.x)
    assert np.array_equal(J[0], ra.x) and np.array_equal(J[-1], rb.x)
    im = resample_path(J, n)
    assert np.array_equal(im[0], ra.x) and np.array_equal(im[-1], rb.x)
    s = np.array([_on_polyline(J[:, 0], q) for q in im[:, 0]])
    assert np.allclose(np.diff(s), s[-1] / (n - 1), rtol=1e-9, atol=0)
    assert s[-1] == pytest.approx(arc_length(J)[-1], rel=1e-12)
    res = neb(ra.x[0], rb.x[0], energy_forces=muller_brown, images=im[:, 0], spring=10.0, ftol=1e-6, dt_max=0.02)
    assert res.converged and res.n_images == n
    assert np.allclose(res.saddle, SADDLE_AC, atol=2e-5)
    assert res.saddle_energy == pytest.approx(E_SADDLE_AC, abs=1e-4)
    assert np.array_equal(res.path[0], ra.x[0]) and np.array_equal(res.path[-1], rb.x[0])


def test_neb_images_refusals(descents):
    ra, pa, rb, pb = descents
    im = resample_path(joined_path(pa, pb, start=ra.x, end=rb.x), 7)[:, 0]
    with pytest.raises(ValueError, match="n_images"):
        neb(ra.x[0], rb.x[0], energy_forces=muller_brown, images=im, n_images=9)
    bad = im.copy()
    bad[-1] += 1e-3
    with pytest.raises(ValueError, match="last image"):
        neb(ra.x[0], rb.x[0], energy_forces=muller_brown, images=bad)
    with pytest.raises(ValueError, match="shape"):
        neb(ra.x[0], rb.x[0], energy_forces=muller_brown, images=im[:, :1])
