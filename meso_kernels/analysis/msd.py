"""Mean-square displacement per species and the diffusion coefficient (MODELS.md section 9; paper Fig. 9).

For the N_s particles of species s and *unwrapped* positions,

    MSD_s(t) = < (1 / N_s) sum_{i in s} |r_i(t0 + t) - r_i(t0)|^2 >_{t0}      (length^2),

averaged over all time origins t0 when the frames are equally spaced ("window" mode) and from the first frame only
otherwise ("first-origin" mode, for logarithmic grids), exactly as :class:`~meso_kernels.analysis.isf.SelfISF`.
The window MSD is freud's (``freud.msd.MSD(box, mode="window")``, an FFT algorithm); F_s is our own code because freud
has none. D follows from the long-time slope, MSD = 2 d D t (:func:`diffusion_coefficient`); the end of the free-flight
regime MSD = d T t^2 from :func:`ballistic_end` (the paper's t_ballistic = 0.1 t0 is a check of it).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> steps = rng.normal(0.0, np.sqrt(2 * 0.05 * 0.5), size=(100, 400, 3))   # D = 0.05, dt = 0.5
>>> frames = rng.random((400, 3)) * 9.0 + np.cumsum(steps, axis=0)
>>> msd = MSD().compute(frames, 0.5 * np.arange(100), [9.0, 9.0, 9.0])
>>> msd.t.shape, msd.msd_total.shape, msd.mode
((99,), (99,), 'window')
>>> round(diffusion_coefficient(msd.t, msd.msd_total), 2)
0.05
"""
import numpy as np

from .isf import _FrameCorrelator, _lags, _times_array, _trajectory


class MSD(_FrameCorrelator):
    """Mean-square displacement per species and total (freud-style object).

    ``compute(frames, times, box, types=None)`` returns ``self``; inputs and errors are those of
    :meth:`SelfISF.compute <meso_kernels.analysis.isf.SelfISF.compute>`. Equally spaced times (to a relative
    ``isf.EQUAL_SPACING_RTOL``): the window MSD of ``freud.msd.MSD(box, mode="window")``, averaged over all time
    origins. freud works in float32: we hand it positions relative to each particle's time average, which leaves an
    absolute error of about 1e-7 times the largest MSD of the run (so a relative error 1e-7 MSD(t_max) / MSD(t) at
    short lags). Other time grids: our own float64 MSD from the first frame. Results (``t``, ``msd``, ``msd_total``,
    ``mode``) raise ``RuntimeError`` before the first ``compute``.

    >>> x0 = np.zeros((2, 2))
    >>> v = np.array([[1.0, 0.0], [0.0, 2.0]])
    >>> t = np.array([0.0, 1.0, 3.0])                                   # uneven: first origin, exact float64
    >>> m = MSD().compute(x0 + v * t[:, None, None], t, [10.0, 10.0], types=[0, 1])
    >>> m.t.tolist(), m.msd[0].tolist(), m.msd[1].tolist(), m.msd_total.tolist()
    ([1.0, 3.0], [1.0, 9.0], [4.0, 36.0], [2.5, 22.5])
    """

    def compute(self, frames, times, box=None, types=None):
        """Compute the MSD of a trajectory.

        Parameters
        ----------
        frames : array_like, shape (F, N, d), or list of System
            *Unwrapped* positions (length), continuous in time; a list of System is unwrapped with its images.
        times : array_like, shape (F,)
            Strictly increasing times (time), F >= 2.
        box : array_like, shape (d,)
            Side lengths (length); optional for a list of System.
        types : array_like of int, shape (N,), optional
            Species of each particle; default all 0.

        Returns
        -------
        MSD
            ``self``.
        """
        pos, times, box, types, equal = _trajectory(frames, times, box, types)
        species = [int(s) for s in np.unique(types)]
        if equal:
            per = {s: _freud_window(pos[:, types == s], box) for s in species}
            total = _freud_window(pos, box)
        else:
            disp2 = np.sum((pos[1:] - pos[0]) ** 2, axis=2)                  # (F-1, N)
            per = {s: disp2[:, types == s].mean(axis=1) for s in species}
            total = disp2.mean(axis=1)
        self._msd, self._msd_total = per, total
        self._t = _lags(times, equal)
        self._mode = "window" if equal else "first-origin"
        return self


    @property
    def msd(self):
        """MSD per species (length^2): a dict ``species -> array (L,)`` for every species present."""
        self._require()
        return {s: v.copy() for s, v in self._msd.items()}

    @property
    def msd_total(self):
        """MSD of all particles regardless of species (length^2), shape (L,)."""
        self._require()
        return self._msd_total.copy()


def _freud_window(pos, box):
    """freud's window MSD of unwrapped positions (F, n, d), lags 1..F-1, float64 output."""
    import freud

    d = box.size
    # freud converts to float32: centre each particle's trajectory on its time average to keep the numbers small
    centred = pos - pos.mean(axis=0, keepdims=True)
    p3 = np.zeros(pos.shape[:2] + (3,))
    p3[..., :d] = centred
    fbox = freud.box.Box.from_box(box)                 # 2 side lengths -> a 2D box (is2D=True, z column zero)
    m = freud.msd.MSD(fbox, mode="window").compute(p3)  # no images: the positions are already unwrapped
    return np.asarray(m.msd, dtype=float)[1:]


def _t_and_msd(t, msd):
    """Validated (t, msd) float arrays of one shape (ValueError naming the bad one)."""
    t = _times_array(t)
    msd = np.asarray(msd, dtype=float)
    if msd.shape != t.shape:
        raise ValueError(f"msd must have the shape of t {t.shape}, got {msd.shape}")
    if not np.all(np.isfinite(msd)):
        raise ValueError("msd must be finite")
    return t, msd


def diffusion_coefficient(t, msd, dim=3, t_min=None):
    """Diffusion coefficient D (length^2 / time) from the long-time MSD.

    Least-squares line MSD = 2 d D t + c over the points with t >= ``t_min`` (default: the last decade,
    t >= t[-1] / 10); the intercept c absorbs the short-time (ballistic, caged) part.

    Parameters
    ----------
    t : array_like, shape (L,)
        Lag times (time), strictly increasing.
    msd : array_like, shape (L,)
        MSD at those times (length^2).
    dim : int
        Spatial dimension d, 2 or 3.
    t_min : float, optional
        Start of the fit window (time).

    Raises ``ValueError`` if fewer than 3 points lie in the window, or if the MSD there does not increase on
    average (slope <= 0: not diffusive yet, or a frozen system).

    >>> t = np.linspace(0.1, 100.0, 200)
    >>> round(diffusion_coefficient(t, 6 * 0.3 * t + 0.7), 12)
    0.3
    """
    t, msd = _t_and_msd(t, msd)
    if isinstance(dim, bool) or dim not in (2, 3):
        raise ValueError(f"dim must be 2 or 3 (allowed: 2, 3), got {dim!r}")
    if np.any(np.diff(t) <= 0):
        raise ValueError("t must be strictly increasing")
    if t_min is None:
        t_min = t[-1] / 10.0
    elif isinstance(t_min, bool) or not isinstance(t_min, (int, float, np.integer, np.floating)) \
            or not np.isfinite(t_min):
        raise ValueError(f"t_min must be a finite time or None, got {t_min!r}")
    sel = t >= t_min
    n_fit = int(np.count_nonzero(sel))
    if n_fit < 3:
        raise ValueError(f"only {n_fit} point{'' if n_fit == 1 else 's'} with t >= t_min = {t_min:.6g} (t ends at "
                         f"{t[-1]:.6g}); the fit needs at least 3: lower t_min or sample the long times more densely")
    slope, _ = np.polyfit(t[sel], msd[sel], 1)
    if not slope > 0:
        raise ValueError(f"the MSD does not increase on average over t >= {t_min:.6g} (fitted slope {slope:.3g}): "
                         f"no diffusive regime in the fit window; run longer or move t_min")
    return float(slope / (2 * int(dim)))


def ballistic_end(t, msd, T, dim=3, tolerance=0.1):
    """End of the ballistic regime (time): the first time at which the MSD falls ``tolerance`` below free flight.

    With the ratio r(t) = MSD(t) / (d T t^2) (1 in free flight, :func:`~meso_kernels.analysis.units.ballistic_msd`),
    the first time at which r <= 1 - tolerance, interpolated linearly in (ln t, r) between the bracketing samples
    (as :func:`~meso_kernels.analysis.isf.tau_alpha`). Compare with t_ballistic = 0.1 t0 of the paper (MODELS.md
    section 9). Never extrapolates.

    Parameters
    ----------
    t : array_like, shape (L,)
        Lag times (time), > 0, strictly increasing.
    msd : array_like, shape (L,)
        MSD at those times (length^2).
    T : float
        Temperature (energy), > 0 (m = k_B = 1).
    dim : int
        Spatial dimension d, 2 or 3.
    tolerance : float
        Relative shortfall in (0, 1); default 0.1 (10 % below free flight).

    Raises ``ValueError`` if the MSD never falls that far below free flight (the run ends still ballistic) or is
    already below it at the first time (the grid must start earlier).

    >>> t = np.logspace(-3, 2, 200)
    >>> x = 2.0 * t                                     # velocity memory exp(-2 t): MSD = 2 d T (x - 1 + e^-x) / 2^2
    >>> round(ballistic_end(t, 2 * 3 * 1.0 * (x - 1 + np.exp(-x)) / 4.0, T=1.0), 4)   # r = 0.9 at x = 0.32474
    0.1624
    """
    t, msd = _t_and_msd(t, msd)
    if isinstance(T, bool) or not isinstance(T, (int, float, np.integer, np.floating)) or not np.isfinite(T) \
            or T <= 0:
        raise ValueError(f"T must be a positive finite temperature, got {T!r}")
    if isinstance(dim, bool) or dim not in (2, 3):
        raise ValueError(f"dim must be 2 or 3 (allowed: 2, 3), got {dim!r}")
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float, np.integer, np.floating)) \
            or not 0 < tolerance < 1:
        raise ValueError(f"tolerance must be a number in (0, 1), got {tolerance!r}")
    if np.any(t <= 0):
        raise ValueError(f"t must be > 0 (the interpolation is in ln t), got minimum {t.min()!r}")
    if np.any(np.diff(t) <= 0):
        raise ValueError("t must be strictly increasing")
    ratio = msd / (int(dim) * float(T) * t ** 2)
    level = 1.0 - tolerance
    below = np.flatnonzero(ratio <= level)
    if below.size == 0:
        raise ValueError(f"the MSD never falls {tolerance:.0%} below free flight d T t^2 up to the last time "
                         f"t = {t[-1]:.6g} (MSD / (d T t^2) = {ratio[-1]:.4g} there): the run ends in the ballistic "
                         f"regime; run longer")
    i = int(below[0])
    if i == 0:
        raise ValueError(f"the MSD is already {tolerance:.0%} below free flight at the first time t = {t[0]:.6g} "
                         f"(MSD / (d T t^2) = {ratio[0]:.4g}): the time grid must start earlier")
    if ratio[i] == level:
        return float(t[i])
    lt0, lt1 = np.log(t[i - 1]), np.log(t[i])
    return float(np.exp(lt0 + (level - ratio[i - 1]) * (lt1 - lt0) / (ratio[i] - ratio[i - 1])))
