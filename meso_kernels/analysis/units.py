"""Reduced microscopic units of the paper (Kapteijns et al. 2021, Sec. II; MODELS.md section 9).

With unit masses and k_B = 1, a state point at number density rho = N / V and temperature T in d dimensions has

    a0 = (V / N)^(1/d) = rho^(-1/d)            (length: the mean interparticle distance)
    t0 = a0 / sqrt(T)                           (time: the time a particle of thermal speed needs to cross a0)

and the free-flight (ballistic) mean-square displacement is <|dr|^2> = d T t^2 = d (t / t0)^2 a0^2. The paper reports
lengths in a0 and times in t0 (e.g. t_ballistic = 0.1 t0 for transition rates, tau_alpha / t0 in Eq. 3).

>>> from meso_kernels.analysis.units import a0, t0, ballistic_msd
>>> round(a0(0.82), 6), round(a0(0.86, dim=2), 6)
(1.068387, 1.078328)
>>> round(t0(0.82, 0.5), 6)
1.510928
>>> ballistic_msd(2.0, 0.82, 0.5)                   # 3 * 0.5 * 2**2
6.0
"""
import numpy as np


def _positive(value, name, what):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite {what}, got {value!r}")
    return float(value)


def _dim(dim):
    if isinstance(dim, bool) or dim not in (2, 3):
        raise ValueError(f"dim must be 2 or 3 (allowed: 2, 3), got {dim!r}")
    return int(dim)


def a0(rho, dim=3):
    """Reduced length unit a0 = (1 / rho)^(1/d) = (V / N)^(1/d) (length).

    Parameters
    ----------
    rho : float
        Number density N / V (1 / length^d), > 0.
    dim : int
        Spatial dimension d, 2 or 3.

    >>> a0(1.0), round(a0(0.125), 12)
    (1.0, 2.0)
    """
    rho = _positive(rho, "rho", "number density N/V")
    return float((1.0 / rho) ** (1.0 / _dim(dim)))


def t0(rho, T, dim=3):
    """Reduced time unit t0 = a0 / sqrt(T) (time; m = k_B = 1).

    Parameters
    ----------
    rho : float
        Number density N / V, > 0.
    T : float
        Temperature (energy), > 0.
    dim : int
        Spatial dimension d, 2 or 3.

    >>> t0(1.0, 4.0)
    0.5
    """
    T = _positive(T, "T", "temperature")
    return a0(rho, dim) / float(np.sqrt(T))


def ballistic_msd(t, rho, T, dim=3):
    """Free-flight mean-square displacement d T t^2 (length^2) at times ``t`` (time).

    Equals d (t / t0)^2 a0^2: with Maxwell-Boltzmann velocities each of the d components has <v^2> = T. ``rho``
    does not enter the value (it cancels between a0 and t0) but is validated, so that the call reads like the
    paper's reduced units. Returns a float for scalar ``t`` and an array of the shape of ``t`` otherwise.

    >>> import numpy as np
    >>> ballistic_msd(np.array([0.0, 1.0, 2.0]), rho=1.2, T=0.5, dim=2)
    array([0., 1., 4.])
    """
    _positive(rho, "rho", "number density N/V")
    T = _positive(T, "T", "temperature")
    d = _dim(dim)
    try:
        t_arr = np.asarray(t, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"t must be a time or an array of times, got {type(t).__name__}") from None
    if not np.all(np.isfinite(t_arr)):
        raise ValueError("t must be finite")
    out = d * T * t_arr ** 2
    return float(out) if out.ndim == 0 else out
