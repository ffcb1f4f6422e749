"""Rearrangements between inherent structures: which particles move, and how many, when the inherent structure (IHS)
of a trajectory changes (the statistics of the Fig. 5 movies; MODELS.md section 9, "IHS trajectories").

An IHS trajectory (:class:`meso_kernels.analysis.ihs.IHSTrajectory` with ``keep_positions=True``) holds the IHS
positions of every frame. A *transition* at frame k (1 <= k < F) means that the IHS of frames k-1 and k differ
(|ΔU_IHS| > eps, :func:`~meso_kernels.analysis.ihs.transitions_from_energies`). Its *rearrangement* is the set of
particles whose minimum-image displacement between the two inherent structures exceeds a threshold, by default
0.2 a0 with a0 = rho^(-1/d) the mean interparticle distance; its *size* is how many particles that is. Inherent
structures of one basin are the same point of configuration space, so between frames without a transition every
displacement is quench noise (~1e-6 in the stored float32 positions) and the size is zero.

>>> import numpy as np
>>> X = np.zeros((3, 4, 3)); X[:, :, 0] = [0.5, 1.5, 2.5, 3.5]      # 4 particles on a line, box 4 x 4 x 4
>>> X[2, 0, 0] = 3.8                                                   # frame 2: particle 0 hops 0.7 across x = 0
>>> rearrangement_sizes(X, [4.0, 4.0, 4.0], [2]).tolist()              # a0 = (4 / 64)^(-1/3) = 2.52: 0.7 > 0.504
[1]
"""
import numpy as np


def _positions(positions):
    X = np.asarray(positions)
    if X.ndim != 3 or X.shape[0] < 2 or X.shape[1] < 1 or X.shape[2] not in (2, 3):
        raise ValueError(f"positions must be inherent-structure positions of shape (F, N, d) with F >= 2 frames and "
                         f"d in (2, 3), got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("positions must be finite")
    return X


def _box(box, d):
    box = np.asarray(box, dtype=float)
    if box.shape != (d,) or not np.all(np.isfinite(box)) or np.any(box <= 0):
        raise ValueError(f"box must be {d} positive side lengths (length units), got {np.asarray(box).tolist()}")
    return box


def mean_spacing(N, box):
    """a0 = rho^(-1/d), rho = N / prod(box): the length unit of the reduced displacements (length units).

    >>> round(mean_spacing(1000, [10.0, 10.0, 10.0]), 12)
    1.0
    """
    box = np.asarray(box, dtype=float)
    if isinstance(N, bool) or int(N) != N or N < 1:
        raise ValueError(f"N must be a positive particle number, got {N!r}")
    if box.ndim != 1 or box.size not in (2, 3) or np.any(box <= 0):
        raise ValueError(f"box must be 2 or 3 positive side lengths, got {box.tolist()}")
    return float((N / np.prod(box)) ** (-1.0 / box.size))


def displacements(positions, box, k, ref):
    """|x_i(k) - x_i(ref)| for every particle i, minimum image (length units), shape (N,).

    positions : (F, N, d) inherent-structure positions (any wrapping; float32 is promoted to float64)
    box : (d,) periodic box side lengths (length units)
    k, ref : frame indices in [0, F)

    >>> X = np.array([[[0.1, 0.0]], [[3.9, 0.0]]])                      # one particle crosses the boundary x = 0
    >>> displacements(X, [4.0, 4.0], 1, 0).round(6).tolist()
    [0.2]
    """
    X = _positions(positions)
    F, _, d = X.shape
    box = _box(box, d)
    for name, v in (("k", k), ("ref", ref)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 <= v < F:
            raise ValueError(f"{name} must be a frame index in [0, {F}), got {v!r}")
    dx = X[k].astype(float) - X[ref].astype(float)
    dx -= box * np.round(dx / box)
    return np.sqrt(np.einsum("ij,ij->i", dx, dx))


def _transitions(transitions, F):
    t = np.asarray(transitions)
    if t.size == 0:
        return np.zeros(0, dtype=np.int64)
    if t.ndim != 1 or not np.issubdtype(t.dtype, np.integer):
        raise ValueError(f"transitions must be a 1-d array of integer frame indices k (the IHS changed between "
                         f"frames k-1 and k), got {t!r}")
    if np.any(t < 1) or np.any(t >= F):
        raise ValueError(f"transitions must lie in [1, {F}) (frame k compared with frame k-1), got {t.tolist()}")
    return t.astype(np.int64)


def rearrangement_sizes(positions, box, transitions, threshold=0.2, a0=None):
    """The size of each rearrangement: how many particles move more than ``threshold`` a0 between the inherent
    structures of frames k-1 and k, for each transition k (minimum image).

    positions : (F, N, d) inherent-structure positions of every frame (length units), e.g. the stored
        ``ihs_positions`` of a Fig. 5 trajectory
    box : (d,) box side lengths (length units)
    transitions : frame indices k, 1 <= k < F (e.g. the stored ``transitions``, or
        :func:`~meso_kernels.analysis.ihs.transitions_from_energies` of the energies)
    threshold : in units of a0 (> 0; default 0.2)
    a0 : length unit (> 0); default: rho^(-1/d) with rho = N / prod(box) (:func:`mean_spacing`)

    Returns an int array, one size per transition (a transition may have size 0: every particle moved less than the
    threshold, as in the small hops of the sticky-sphere liquids).

    >>> X = np.zeros((4, 3, 2)); X[:, :, 0] = [0.5, 1.5, 2.5]
    >>> X[2:, 1, 1] += 0.5; X[3, 2, 1] += 0.05                          # frame 2: one particle hops; frame 3: a tremor
    >>> rearrangement_sizes(X, [3.0, 3.0], [2, 3], a0=1.0).tolist()
    [1, 0]
    """
    X = _positions(positions)
    F, N, d = X.shape
    box = _box(box, d)
    t = _transitions(transitions, F)
    threshold = float(threshold)
    if not (np.isfinite(threshold) and threshold > 0):
        raise ValueError(f"threshold must be a positive multiple of a0, got {threshold!r}")
    a0 = mean_spacing(N, box) if a0 is None else float(a0)
    if not (np.isfinite(a0) and a0 > 0):
        raise ValueError(f"a0 must be a positive length, got {a0!r}")
    return np.array([int(np.count_nonzero(displacements(X, box, int(k), int(k) - 1) > threshold * a0)) for k in t],
                    dtype=np.int64)


def size_summary(sizes):
    """(count, median, min, max, mean) of rearrangement sizes; NaN statistics when there are none.

    >>> size_summary([3, 1, 10])
    (3, 3.0, 1, 10, 4.666666666666667)
    >>> size_summary([])[0]
    0
    """
    s = np.asarray(sizes, dtype=float).ravel()
    if s.size == 0:
        return 0, float("nan"), float("nan"), float("nan"), float("nan")
    return int(s.size), float(np.median(s)), int(s.min()), int(s.max()), float(s.mean())
