"""Self intermediate scattering function F_s(q, t) and the alpha relaxation time tau_alpha (MODELS.md section 9).

For the N_s particles of species s, displacements dr_i(t0, t) = r_i(t0 + t) - r_i(t0) of the *unwrapped* positions,
and a set of K wave vectors k of the periodic box with |k| close to q,

    F_s(q, t) = < (1 / N_s) sum_{i in s} (1 / K) sum_k cos(k . dr_i(t0, t)) >_{t0},

the real part of <exp(i k . dr)> (the imaginary part averages to zero in an isotropic system; cos is even in k, so only
one of each pair +-k is used). The average over time origins t0 runs over all frames when the frames are equally spaced
("window" mode, as in atooms-pp and freud's window MSD), and only over the first frame otherwise ("first-origin" mode,
for logarithmic time grids). tau_alpha is the time at which F_s falls to 0.2, interpolated linearly in ln t (the
paper's definition; the author's ``extract_tau``). freud has no F_s, so this is our own numpy code; tests compare it
with analytic results (free flight, random walk) and with atooms-pp.

Units: lengths and times as in the input (the model's reduced units), q in 1 / length.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> box = np.array([8.0, 8.0, 8.0])
>>> steps = rng.normal(0.0, 0.1, size=(40, 300, 3))           # random walk, D = 0.1**2 / 2 per unit time
>>> frames = rng.random((300, 3)) * box + np.cumsum(steps, axis=0)
>>> isf = SelfISF(q=3.0).compute(frames, np.arange(40.0), box)
>>> isf.t.shape, isf.fs_total.shape, sorted(isf.fs), isf.mode
((39,), (39,), [0], 'window')
>>> k2 = np.mean(np.sum(isf.wave_vectors ** 2, axis=1))                   # <|k|^2> over the shell, ~ q^2
>>> bool(abs(isf.fs_total[9] - np.exp(-k2 * 0.005 * 10)) < 0.02)        # exp(-|k|^2 D t)
True
>>> bool(abs(isf.tau_alpha() * k2 * 0.005 / np.log(5.0) - 1) < 0.1)    # F_s = 0.2 at t = ln 5 / (|k|^2 D)
True
"""
import numpy as np
from scipy import fft as _fft

#: Complex numbers held at once in the window-mode FFT (bounds memory to ~64 MB).
_FFT_BLOCK = 4_000_000


# --- wave vectors -------------------------------------------------------------------------------------------------
def _box(box, name="box"):
    try:
        b = np.array(box, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be 2 or 3 positive side lengths, got {box!r}") from None
    if b.size not in (2, 3) or np.ndim(box) != 1:
        raise ValueError(f"{name} must be 2 or 3 positive side lengths (allowed dimensions: 2, 3), got shape "
                         f"{np.shape(box)}")
    if not np.all(np.isfinite(b)) or np.any(b <= 0):
        raise ValueError(f"{name} side lengths must be finite and > 0, got {b.tolist()}")
    return b


def wave_vectors(q, box, max_vectors=48):
    """Reciprocal-lattice wave vectors of a periodic box whose modulus is close to ``q``.

    The vectors are k = 2 pi n / L (n integer, n != 0, per-axis division by the side lengths L) with
    |k| in [q - delta, q + delta], delta = pi / min(L) (half a lattice spacing of the reciprocal lattice). Only one of
    each pair +-k is kept (the one whose first non-zero component is positive): cos(k . dr) is even in k. They are
    ordered by ||k| - q| and then lexicographically, so the selection is deterministic, and the first ``max_vectors``
    are returned.

    Parameters
    ----------
    q : float
        Target wavenumber (1 / length), > 0; typically q_max, the first peak of S(q) (MODELS.md section 9).
    box : array_like, shape (d,)
        Side lengths of the orthorhombic periodic box (length), d = 2 or 3.
    max_vectors : int
        At most this many vectors, >= 1.

    Returns
    -------
    ndarray, shape (K, d)
        The wave vectors (1 / length), 1 <= K <= max_vectors.

    >>> k = wave_vectors(2 * np.pi, [5.0, 5.0], max_vectors=8)     # k = 2 pi n / 5, |n| in [4.5, 5.5]
    >>> (k * 5.0 / (2 * np.pi)).round().astype(int).tolist()           # |n| = 5 first, then lexicographic
    [[0, 5], [3, -4], [3, 4], [4, -3], [4, 3], [5, 0], [1, -5], [1, 5]]
    """
    if isinstance(q, bool) or not isinstance(q, (int, float, np.integer, np.floating)) or not np.isfinite(q) \
            or q <= 0:
        raise ValueError(f"q must be > 0 (a wavenumber, 1/length), got {q!r}")
    if isinstance(max_vectors, bool) or not isinstance(max_vectors, (int, np.integer)) or max_vectors < 1:
        raise ValueError(f"max_vectors must be an integer >= 1, got {max_vectors!r}")
    L = _box(box)
    q = float(q)
    delta = np.pi / L.min()
    n_max = np.floor((q + delta) * L / (2 * np.pi)).astype(int)
    axes = [np.arange(-m, m + 1) for m in n_max]
    n = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, L.size)
    # keep one of each +-n: the first non-zero component positive (this also drops n = 0)
    first = np.argmax(n != 0, axis=1)
    n = n[n[np.arange(len(n)), first] > 0]
    k = 2 * np.pi * n / L
    norm = np.sqrt(np.einsum("ij,ij->i", k, k))
    # tolerate rounding at the shell edges (relative 1e-12 of delta)
    keep = np.abs(norm - q) <= delta * (1 + 1e-12)
    if not np.any(keep):
        raise ValueError(f"no wave vector of the box {L.tolist()} lies in the shell |k| in [{q - delta:.6g}, "
                         f"{q + delta:.6g}] around q={q!r}; the smallest q the box allows is 2 pi / max(L) = "
                         f"{2 * np.pi / L.max():.6g}")
    k, norm = k[keep], norm[keep]
    key = np.round(np.abs(norm - q) / delta, 9)        # equal moduli tie exactly, then lexicographic order decides
    order = np.lexsort(tuple(k[:, a] for a in range(L.size - 1, -1, -1)) + (key,))
    return k[order][:int(max_vectors)].copy()


def fs_per_particle(dr, qvecs):
    """Per-particle self intermediate scattering: (1/K) sum_k cos(k . dr_i) for each particle i.

    Parameters
    ----------
    dr : array_like, shape (N, d)
        Displacements (length), from unwrapped positions.
    qvecs : array_like, shape (K, d)
        Wave vectors (1 / length), e.g. from :func:`wave_vectors`.

    Returns
    -------
    ndarray, shape (N,)
        Dimensionless, in [-1, 1].

    >>> fs_per_particle(np.array([[0.0, 0.0], [np.pi, 0.0]]), np.array([[1.0, 0.0], [0.0, 1.0]]))
    array([1., 0.])
    """
    dr = np.asarray(dr, dtype=float)
    qvecs = np.asarray(qvecs, dtype=float)
    if dr.ndim != 2 or dr.shape[1] not in (2, 3):
        raise ValueError(f"dr must have shape (N, d) with d = 2 or 3, got {dr.shape}")
    if qvecs.ndim != 2 or qvecs.shape[1] != dr.shape[1] or qvecs.shape[0] < 1:
        raise ValueError(f"qvecs must have shape (K, {dr.shape[1]}) with K >= 1 (the dimension of dr), "
                         f"got {qvecs.shape}")
    return np.cos(dr @ qvecs.T).mean(axis=1)


# --- tau_alpha ----------------------------------------------------------------------------------------------------
def _times_array(t, name="t"):
    t = np.asarray(t, dtype=float)
    if t.ndim != 1 or t.size == 0:
        raise ValueError(f"{name} must be a non-empty 1D array of times, got shape {t.shape}")
    if not np.all(np.isfinite(t)):
        raise ValueError(f"{name} must be finite")
    return t


def tau_alpha(t, fs, level=0.2):
    """The first time at which ``fs`` falls to ``level``: tau_alpha for level = 0.2 (the paper's definition).

    Between the two bracketing samples i - 1 (fs > level) and i (fs <= level) the crossing is interpolated linearly
    in (ln t, fs):

        ln tau = ln t[i-1] + (level - fs[i-1]) (ln t[i] - ln t[i-1]) / (fs[i] - fs[i-1]).

    It never extrapolates: if fs never falls to ``level`` within the run, or is already below it at the first time,
    it raises ``ValueError`` rather than guessing.

    Parameters
    ----------
    t : array_like, shape (L,)
        Times (time), > 0 and strictly increasing (a logarithmic grid works best).
    fs : array_like, shape (L,)
        F_s(q, t) at those times (dimensionless).
    level : float
        The threshold, in (0, 1); default 0.2.

    Returns
    -------
    float
        tau (time).

    >>> t = np.logspace(-2, 3, 300)
    >>> round(tau_alpha(t, np.exp(-t / 10.0)), 3)         # exp(-t/10) = 0.2 at t = 10 ln 5 = 16.0944
    16.096
    """
    t = _times_array(t)
    fs = np.asarray(fs, dtype=float)
    if fs.shape != t.shape:
        raise ValueError(f"fs must have the shape of t {t.shape}, got {fs.shape}")
    if not np.all(np.isfinite(fs)):
        raise ValueError("fs must be finite")
    if isinstance(level, bool) or not isinstance(level, (int, float, np.integer, np.floating)) \
            or not 0 < level < 1:
        raise ValueError(f"level must be a number in (0, 1), got {level!r}")
    if np.any(t <= 0):
        raise ValueError(f"t must be > 0 (the interpolation is in ln t), got minimum {t.min()!r}")
    if np.any(np.diff(t) <= 0):
        raise ValueError("t must be strictly increasing")
    below = np.flatnonzero(fs <= level)
    if below.size == 0:
        raise ValueError(f"F_s never falls to {level:g} in the run: its last value is {fs[-1]:.4g} at the last time "
                         f"t = {t[-1]:.6g}; the run must be longer to measure tau_alpha (e.g. a run several "
                         f"times longer, say 5x); not extrapolating")
    i = int(below[0])
    if i == 0:
        raise ValueError(f"F_s is already <= {level:g} at the first time t = {t[0]:.6g} (F_s = {fs[0]:.4g}): "
                         f"the crossing lies before the time grid; use a grid that starts earlier")
    if fs[i] == level:
        return float(t[i])
    lt0, lt1 = np.log(t[i - 1]), np.log(t[i])
    return float(np.exp(lt0 + (level - fs[i - 1]) * (lt1 - lt0) / (fs[i] - fs[i - 1])))


# --- trajectories -------------------------------------------------------------------------------------------------
#: Relative tolerance on the spacing of times for the window (all time origins) average.
EQUAL_SPACING_RTOL = 1e-6


def _trajectory(frames, times, box, types):
    """Validate correlator input; return (positions (F, N, d) float64 unwrapped, times (F,), box (d,), types (N,),
    equally_spaced: bool)."""
    from ..system import System

    if isinstance(frames, (list, tuple)) and len(frames) > 0 and any(isinstance(f, System) for f in frames):
        for k, s in enumerate(frames):
            if not isinstance(s, System):
                raise ValueError(f"frames[{k}] must be a meso_kernels.system.System like frames[0], got "
                                 f"{type(s).__name__}")
        s0 = frames[0]
        for k, s in enumerate(frames):
            if s.box.shape != s0.box.shape or not np.array_equal(s.box, s0.box):
                raise ValueError(f"the box changes between frames 0 and {k} ({s0.box.tolist()} -> {s.box.tolist()}): "
                                 f"correlators need a fixed box")
            if s.N != s0.N:
                raise ValueError(f"the number of particles changes between frames 0 and {k} ({s0.N} -> {s.N}): "
                                 f"correlators need the same particles in every frame")
            if not np.array_equal(s.types, s0.types):
                raise ValueError(f"the particle types change between frames 0 and {k}: correlators need the same "
                                 f"particles in every frame")
        if box is not None and not np.array_equal(_box(box), s0.box):
            raise ValueError(f"box={np.asarray(box).tolist()} differs from the box of the frames "
                             f"{s0.box.tolist()}; pass box=None with System frames")
        box = s0.box
        if types is None:
            types = s0.types
        pos = np.stack([s.unwrapped_positions() for s in frames])
    else:
        if box is None:
            raise ValueError("box is required when frames is an array of positions (it is optional only for "
                             "a list of System)")
        try:
            pos = np.array(frames, dtype=float)
        except (TypeError, ValueError):
            raise ValueError("frames must be an array (F, N, d) of unwrapped positions or a list of System") \
                from None
    box = _box(box)
    d = box.size
    if pos.ndim != 3 or pos.shape[2] != d or pos.shape[1] < 1:
        raise ValueError(f"frames must have shape (F, N, d) with d = len(box) = {d} and N >= 1, got {pos.shape}")
    if not np.all(np.isfinite(pos)):
        raise ValueError("frames must be finite")
    times = np.asarray(times, dtype=float)
    if times.ndim != 1 or times.size == 0:
        raise ValueError(f"times must be a non-empty 1D array (the time grid), got shape {times.shape}")
    if pos.shape[0] < 2:
        raise ValueError(f"frames must hold at least 2 frames (a time origin and a later time), got {pos.shape[0]}")
    if times.size != pos.shape[0]:
        raise ValueError(f"times must have one entry per frame: {times.size} times for {pos.shape[0]} frames")
    if not np.all(np.isfinite(times)):
        raise ValueError("times must be finite")
    dts = np.diff(times)
    if np.any(dts <= 0):
        raise ValueError(f"times must be strictly increasing; times[{int(np.argmax(dts <= 0)) + 1}] = "
                         f"{times[int(np.argmax(dts <= 0)) + 1]!r} does not exceed the previous one")
    N = pos.shape[1]
    if types is None:
        types = np.zeros(N, dtype=np.int64)
    else:
        types = np.asarray(types)
        if types.shape != (N,):
            raise ValueError(f"types must have shape (N,) = ({N},), got {types.shape}")
        if types.dtype == bool or not np.issubdtype(types.dtype, np.integer):
            if not (np.issubdtype(types.dtype, np.floating) and np.all(types == np.round(types))):
                raise ValueError(f"types must hold non-negative integers, got dtype {types.dtype}")
        types = types.astype(np.int64)
        if np.any(types < 0):
            raise ValueError(f"types must be non-negative species indices, got minimum {types.min()}")
    mean_dt = (times[-1] - times[0]) / (times.size - 1)
    equal = bool(np.all(np.abs(dts - mean_dt) <= EQUAL_SPACING_RTOL * mean_dt))
    return pos, times, box, types, equal


def _lags(times, equal):
    if equal:
        dt = (times[-1] - times[0]) / (times.size - 1)
        return dt * np.arange(1, times.size)
    return times[1:] - times[0]


class _FrameCorrelator:
    """What the correlators of stored frames share: the lag grid ``t`` and the origin ``mode``, both raising
    ``RuntimeError`` before ``compute``."""

    _t = None

    def _require(self):
        if self._t is None:
            name = type(self).__name__
            raise RuntimeError(f"{name} results are not available before compute(); call "
                               f"{name}(...).compute(frames, times, box) first")

    @property
    def t(self):
        """Lag times t > 0 (time), shape (L,): m dt, m = 1..F-1 in window mode; times[1:] - times[0] otherwise."""
        self._require()
        return self._t.copy()

    @property
    def mode(self):
        """How time origins were averaged: "window" (all origins, equally spaced times) or "first-origin"."""
        self._require()
        return self._mode


class SelfISF(_FrameCorrelator):
    """Self intermediate scattering function F_s(q, t) per species and total (freud-style object).

    Parameters
    ----------
    q : float
        Wavenumber (1 / length), > 0; the paper uses q_max, the first peak of S(q) of the large species.
    max_vectors : int
        At most this many wave vectors of the shell |k| in [q - pi/min(L), q + pi/min(L)] (:func:`wave_vectors`).

    ``compute(frames, times, box, types=None)`` returns ``self``. If the times are equally spaced (to a relative
    ``EQUAL_SPACING_RTOL``), every frame is a time origin and lag m averages all pairs (j, j + m) ("window" mode; done
    by FFT, in float64). Otherwise only the first frame is the origin ("first-origin" mode, e.g. for a logarithmic
    grid). Results (``t``, ``fs``, ``fs_total``, ``wave_vectors``, ``mode``, ``tau_alpha``) raise ``RuntimeError``
    before the first ``compute``.

    >>> rng = np.random.default_rng(1)
    >>> x0 = rng.random((200, 2)) * 10.0
    >>> v = rng.normal(0.0, 1.0, size=(200, 2))                            # T = 1, free flight
    >>> t = np.array([0.0, 0.1, 0.3, 1.0])                                 # not equally spaced: first origin
    >>> isf = SelfISF(q=2.0).compute(x0 + v * t[:, None, None], t, [10.0, 10.0], types=np.arange(200) % 2)
    >>> isf.mode, sorted(isf.fs), isf.t.tolist()
    ('first-origin', [0, 1], [0.1, 0.3, 1.0])
    >>> bool(abs(isf.fs_total[1] - np.exp(-4.0 * 0.3**2 / 2)) < 0.05)    # exp(-q^2 T t^2 / 2)
    True
    """

    def __init__(self, q, max_vectors=48):
        if isinstance(q, bool) or not isinstance(q, (int, float, np.integer, np.floating)) or not np.isfinite(q) \
                or q <= 0:
            raise ValueError(f"q must be > 0 (a wavenumber, 1/length), got {q!r}")
        if isinstance(max_vectors, bool) or not isinstance(max_vectors, (int, np.integer)) or max_vectors < 1:
            raise ValueError(f"max_vectors must be an integer >= 1, got {max_vectors!r}")
        self.q = float(q)
        self.max_vectors = int(max_vectors)
        self._t = None

    def compute(self, frames, times, box=None, types=None):
        """Compute F_s(q, t) of a trajectory.

        Parameters
        ----------
        frames : array_like, shape (F, N, d), or list of System
            *Unwrapped* positions (length), continuous in time (a particle crossing the box keeps going). A list of
            :class:`~meso_kernels.system.System` is unwrapped as ``positions + image * box``; their box must not
            change. (Since the wave vectors lie on the reciprocal lattice, cos(k . dr) is periodic and wrapped
            positions would give the same F_s; the MSD is what needs the unwrapping.)
        times : array_like, shape (F,)
            Strictly increasing times of the frames (time), F >= 2.
        box : array_like, shape (d,)
            Side lengths (length): they fix the allowed wave vectors. Optional for a list of System.
        types : array_like of int, shape (N,), optional
            Species of each particle; default all 0 (taken from the frames for a list of System).

        Returns
        -------
        SelfISF
            ``self``.
        """
        pos, times, box, types, equal = _trajectory(frames, times, box, types)
        kv = wave_vectors(self.q, box, self.max_vectors)
        species = np.unique(types)
        sums = {}
        for s in species:
            idx = np.flatnonzero(types == s)
            sums[int(s)] = (_window_sum(pos[:, idx], kv) if equal else _first_origin_sum(pos[:, idx], kv)), idx.size
        self._fs = {s: v / n for s, (v, n) in sums.items()}
        self._fs_total = sum(v for v, _ in sums.values()) / pos.shape[1]
        self._t = _lags(times, equal)
        self._kv = kv
        self._mode = "window" if equal else "first-origin"
        return self

    # --- results -----------------------------------------------------------------------------------------------

    @property
    def fs(self):
        """F_s(q, t) per species: a dict ``species -> array (L,)`` for every species present (dimensionless)."""
        self._require()
        return {s: v.copy() for s, v in self._fs.items()}

    @property
    def fs_total(self):
        """F_s(q, t) of all particles regardless of species, shape (L,)."""
        self._require()
        return self._fs_total.copy()

    @property
    def wave_vectors(self):
        """The wave vectors used (1 / length), shape (K, d) (:func:`wave_vectors` of the box)."""
        self._require()
        return self._kv.copy()

    def tau_alpha(self, species=0, level=0.2):
        """tau_alpha (time) of ``species``: the time at which its F_s falls to ``level`` (:func:`tau_alpha`).

        ``species=None`` uses the total F_s. Raises ``ValueError`` (never extrapolates) if the run is too short.
        """
        self._require()
        if species is None:
            return tau_alpha(self._t, self._fs_total, level)
        if isinstance(species, bool) or not isinstance(species, (int, np.integer)) or int(species) not in self._fs:
            raise ValueError(f"species={species!r} is not present; present species: {sorted(self._fs)} "
                             f"(or None for all particles)")
        return tau_alpha(self._t, self._fs[int(species)], level)


def _first_origin_sum(pos, kv):
    """sum_i (1/K) sum_k cos(k . (r_i(t_m) - r_i(t_0))) for m = 1..F-1; shape (F-1,)."""
    return np.array([fs_per_particle(pos[m] - pos[0], kv).sum() for m in range(1, pos.shape[0])])


def _window_sum(pos, kv):
    """sum_i (1/K) sum_k < cos(k . (r_i(j+m) - r_i(j))) >_j for lags m = 1..F-1; shape (F-1,).

    cos(k . (a - b)) = Re[z(a) conj(z(b))] with z = exp(i k . r); the sum over origins j is the autocorrelation of
    z along time, computed by zero-padded FFT per (particle, wave vector) in blocks of particles.
    """
    F, N, _ = pos.shape
    K = kv.shape[0]
    nfft = _fft.next_fast_len(2 * F - 1)
    block = max(1, _FFT_BLOCK // (nfft * K))
    acc = np.zeros(F)
    for start in range(0, N, block):
        phase = pos[:, start:start + block] @ kv.T                         # (F, n, K)
        z = _fft.fft(np.exp(1j * phase), n=nfft, axis=0)
        corr = _fft.ifft(z * z.conj(), axis=0)[:F].real                      # (F, n, K): sum_j Re z(j+m) z*(j)
        acc += corr.sum(axis=(1, 2))
    acc /= K * (F - np.arange(F))                                             # mean over k and over the F - m origins
    return acc[1:]
