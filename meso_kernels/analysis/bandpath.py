"""Initial bands for the nudged elastic band (:func:`meso_kernels.neb.neb`) built from two steepest-descent paths.

A band between two inherent structures A and B started on the straight line between them often fails to converge
in a glass: the line cuts through regions the dynamics never visits (particles pass close to each other, several
intermediate basins lie on it), and the band has to find its way out of them. The trajectory itself says where the
system crossed from A's basin into B's: between the last frame x⁻ that quenches to A and the first frame x⁺ that
quenches to B, one MD step apart and so on either side of the ridge between the two basins. The descent (quench)
paths from x⁻ down to A and from x⁺ down to B, joined at the crossing,

    A → (descent from x⁻, reversed) → x⁻ → x⁺ → (descent from x⁺) → B,

form a continuous path that crosses the right ridge at the place the dynamics crossed it. Resampled to M images
equally spaced in arc length it is the band's starting point; the NEB then only has to lower the thermal detour
(the frames sit about (d/2) N T above their minima) down to the saddle.

Pieces:

* :class:`PathRecorder`: a ``callback(k, x, E, F)`` for :func:`meso_kernels.minimize.cg` / ``fire`` (and so for
  :func:`meso_kernels.quench.quench`, which passes it on) that keeps the minimiser's iterates, thinned to at most
  ``max_points`` (every other one is dropped whenever the list overflows, so that they stay about evenly spread in
  iterations);
* :func:`descent_path`: a capped-step CG quench of a callable landscape with its path recorded (the capped step keeps
  CG close to the steepest-descent path, see :data:`meso_kernels.analysis.ihs.BASIN_MAX_STEP`);
* :func:`joined_path`: the polyline above from two descent paths, optionally joined where they part rather than at
  their starts (:func:`split_points`: from two points close together on either side of a ridge the descents first
  run side by side down the ridge, towards the saddle, so the stretch they share is the thermal excursion, not part of
  the crossing);
* :func:`resample_path`: M points of a polyline equally spaced in arc length (linear interpolation between its
  vertices).

Distances are Euclidean over all coordinates; with a ``displacement(a, b) -> b - a`` (e.g. the minimum image of a
periodic box) every difference between consecutive points is measured with it and the output is *continuous*
(unwrapped from the first point), as :func:`meso_kernels.neb.neb` takes its ``images``.

Example: a polyline with a corner, resampled to 5 points a quarter of its length apart.

>>> import numpy as np
>>> pts = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]])
>>> resample_path(pts, 5).tolist()
[[0.0, 0.0], [0.5, 0.0], [1.0, 0.0], [1.0, 0.5], [1.0, 1.0]]
"""
import numpy as np

__all__ = ["PathRecorder", "descent_path", "joined_path", "split_points", "resample_path", "arc_length", "min_image"]


def min_image(box):
    """``displacement(a, b)``: the minimum-image b - a in an orthorhombic periodic box (lengths ``box``)."""
    box = np.asarray(box, dtype=float)

    def displacement(a, b):
        d = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
        return d - box * np.round(d / box)

    return displacement


def _continuous(points, displacement):
    """The polyline (P, ...) as continuous coordinates from its first point."""
    P = np.array(points, dtype=float, copy=True)
    if displacement is None:
        return P
    out = np.empty_like(P)
    out[0] = P[0]
    for i in range(1, P.shape[0]):
        out[i] = out[i - 1] + displacement(P[i - 1], P[i])
    return out


def arc_length(points, displacement=None):
    """Cumulative arc length s (P,) of a polyline (P, ...) (s[0] = 0; differences by ``displacement``)."""
    X = _continuous(points, displacement).reshape(len(points), -1)
    seg = np.sqrt(((X[1:] - X[:-1]) ** 2).sum(1))
    return np.concatenate([[0.0], np.cumsum(seg)])


def resample_path(points, n, displacement=None):
    """``n`` points of the polyline ``points`` (P, ...) equally spaced in arc length, the first and last being the
    polyline's ends (continuous coordinates from ``points[0]`` when a ``displacement`` is given).

    Raises ValueError for n < 2, fewer than 2 points, non-finite points or a polyline of zero length."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    P = np.asarray(points, dtype=float)
    if P.ndim < 2 or P.shape[0] < 2:
        raise ValueError(f"points must be a polyline of at least 2 points (shape (P, ...)), got shape {P.shape}")
    if not np.all(np.isfinite(P)):
        raise ValueError("points must be finite")
    X = _continuous(P, displacement)
    flat = X.reshape(X.shape[0], -1)
    seg = np.sqrt(((flat[1:] - flat[:-1]) ** 2).sum(1))
    keep = np.concatenate([[True], seg > 0])        # repeated points add nothing
    flat, seg = flat[keep], seg[seg > 0]
    if seg.size == 0:
        raise ValueError("the polyline has zero length (all points coincide)")
    s = np.concatenate([[0.0], np.cumsum(seg)])
    t = np.linspace(0.0, s[-1], n)
    j = np.clip(np.searchsorted(s, t, side="right") - 1, 0, seg.size - 1)
    w = ((t - s[j]) / seg[j])[:, None]
    out = flat[j] * (1.0 - w) + flat[j + 1] * w
    out[0], out[-1] = flat[0], flat[-1]
    return out.reshape((n,) + X.shape[1:])


class PathRecorder:
    """``callback(k, x, E, F)`` for the minimisers that keeps copies of their iterates x, at most ``max_points`` of
    them (>= 3): when the list overflows every other kept point is dropped (the first stays) and from then on only
    every 2nd, 4th, ... iterate is kept. :meth:`path` gives the start, the kept iterates and the final point."""

    def __init__(self, x0, max_points=256):
        if isinstance(max_points, bool) or not isinstance(max_points, (int, np.integer)) or max_points < 3:
            raise ValueError(f"max_points must be an integer >= 3, got {max_points!r}")
        self.max_points = int(max_points)
        self.points = [np.array(x0, dtype=float, copy=True)]
        self.stride, self.count = 1, 0

    def __call__(self, k, x, E, F):
        self.count += 1
        if self.count % self.stride == 0:
            self.points.append(np.array(x, dtype=float, copy=True))
            if len(self.points) > self.max_points - 1:       # room for the final point
                self.points = self.points[::2]
                self.stride *= 2
        return False

    def path(self, x_final):
        """(P, ...) the recorded path ending at ``x_final`` (the minimiser's result)."""
        pts = list(self.points)
        x_final = np.asarray(x_final, dtype=float)
        if not np.array_equal(pts[-1], x_final):
            pts.append(x_final.copy())
        return np.stack(pts)


def descent_path(energy_forces, x0, ftol=1e-10, max_step=0.003, max_steps=200_000, max_points=256):
    """A CG quench of ``energy_forces`` from ``x0`` with every step capped at ``max_step`` (length per particle, or
    per point of a 1-D landscape), its path recorded.

    Returns ``(result, path)``: the :class:`~meso_kernels.minimize.MinimizeResult` (``result.x`` the minimum) and the
    path (P, *x0.shape) from x0 to ``result.x`` (at most ``max_points`` points)."""
    from ..minimize import cg
    x0 = np.asarray(x0, dtype=float)
    rec = PathRecorder(x0, max_points)
    res = cg(energy_forces, x0, ftol=ftol, max_step=max_step, max_steps=max_steps, callback=rec)
    return res, rec.path(res.x)


def split_points(path_a, path_b, displacement=None):
    """(i, j): where two descent paths that start on either side of a ridge part. Started close together, the two
    descents first run down along the ridge side by side (towards the saddle, to which the ridge leads) and then
    part, one into each basin. ``i`` is the last point of ``path_a`` within the starting distance |a_0 - b_0| of
    ``path_b``, ``j`` the point of ``path_b`` closest to it. Joining the paths there, instead of at their starts,
    drops the stretch they share (for MD frames: the thermal excursion, about (d/2) N T high)."""
    a = np.asarray(path_a, dtype=float)
    b = np.asarray(path_b, dtype=float)
    disp = (lambda x, y: y - x) if displacement is None else displacement
    D = np.empty((a.shape[0], b.shape[0]))
    for i in range(a.shape[0]):
        d = np.asarray(disp(a[i][None], b)).reshape(b.shape[0], -1)
        D[i] = np.sqrt((d * d).sum(1))
    near = np.flatnonzero(D.min(1) <= D[0, 0])
    i = int(near[-1]) if near.size else 0
    return i, int(np.argmin(D[i]))


def joined_path(path_a, path_b, start=None, end=None, displacement=None, shortcut=False):
    """The polyline A → reversed(``path_a``) → ``path_b`` → B from two descent paths: ``path_a`` (P, ...) runs
    from the last configuration before the transition down to A, ``path_b`` from the first one after it down to B.

    ``start``/``end``: the exact minima A and B to put at the ends in place of the descents' last points (they must
    be the same minima: the caller checks). ``shortcut``: join the paths where they part (:func:`split_points`)
    rather than at their starts. Continuous coordinates from A when a ``displacement`` is given."""
    a = np.asarray(path_a, dtype=float)
    b = np.asarray(path_b, dtype=float)
    if a.ndim < 2 or b.ndim < 2 or a.shape[1:] != b.shape[1:]:
        raise ValueError(f"path_a and path_b must be paths (P, ...) of one configuration shape, got {a.shape} and "
                         f"{b.shape}")
    if shortcut:
        i, j = split_points(a, b, displacement)
        a, b = a[i:], b[j:]
    pts = np.concatenate([a[::-1], b])
    if start is not None:
        pts[0] = np.asarray(start, dtype=float)
    if end is not None:
        pts[-1] = np.asarray(end, dtype=float)
    return _continuous(pts, displacement)
