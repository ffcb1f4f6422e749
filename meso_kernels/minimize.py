"""Quenches to inherent structures: FIRE and Polak–Ribière+ nonlinear conjugate gradients.

Both minimisers act on a plain callable ``energy_forces(x) -> (E, F)`` where ``x`` and ``F`` are arrays of shape
``(N, d)`` (positions and forces F = −∂E/∂x) and ``E`` is a scalar. Energies and lengths are in the model's reduced
units (ε and σ of MODELS.md); forces in ε/σ. The callable must not modify ``x`` nor keep a reference to it (the
minimisers update it in place); it may reuse its force buffer (forces are copied). Periodic wrapping, neighbour lists and
the force field are the caller's business (the lead's ``quench(system, model, ...)`` wraps these).

Convergence criterion (MODELS.md §5): the largest force on any particle,

    max_i |F_i| < ftol,      |F_i| = Euclidean norm of particle i's d-dimensional force vector,

with ``ftol = 1e-10`` by default, tight enough for Hessians in double precision. Energy differences are not used to
decide convergence: near a minimum with max|F_i| ~ 1e-10 the energy is flat to ~1e-20 relative, below round-off.

Not converging within ``max_steps`` is not an error: the result has ``converged=False`` and a ``RuntimeWarning`` is
issued. Bad input raises ``ValueError`` naming the parameter; a non-finite energy or force raises ``ValueError``
("non-finite energy or force at iteration k: overlapping particles?").

References
----------
- E. Bitzek, P. Koskinen, F. Gähler, M. Moseler, P. Gumbsch, Phys. Rev. Lett. 97, 170201 (2006): FIRE.
- J. Guénolé, W. G. Nöhring, A. Vaid, F. Houllé, Z. Xie, A. Prakash, E. Bitzek, Comput. Mater. Sci. 175, 109584
  (2020): FIRE 2.0 (semi-implicit Euler, half step back on P < 0, initial delay of the dt increase).
- jax-md ``minimize.fire_descent`` for the default parameters.
- E. Polak, G. Ribière (1969); M. J. D. Powell (1986) for the PR+ choice β = max(0, β_PR); W. W. Hager, H. Zhang,
  SIAM J. Optim. 16, 170 (2005) for line searches on the directional derivative.
- J. Nocedal, S. J. Wright, Numerical Optimization, 2nd ed. (2006), §3.5 for the initial step and interpolation.

Example
-------
An anisotropic quadratic bowl E = ½ Σ k_a x_a² with two particles in 3D; the minimum is x = 0.

>>> import numpy as np
>>> from meso_kernels.minimize import fire, cg
>>> k = np.array([1.0, 4.0, 9.0])
>>> def bowl(x):
...     return 0.5 * np.sum(k * x**2), -k * x
>>> x0 = np.array([[0.3, -0.2, 0.1], [0.05, 0.1, -0.3]])
>>> res = fire(bowl, x0)
>>> res.converged, res.max_force < 1e-10, bool(np.abs(res.x).max() < 1e-9)
(True, True, True)
>>> res = cg(bowl, x0)
>>> res.converged, res.max_force < 1e-10, res.x.shape
(True, True, (2, 3))
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["MinimizeResult", "fire", "cg"]

EnergyForces = Callable[[np.ndarray], "tuple[float, np.ndarray]"]


@dataclass(repr=False)
class MinimizeResult:
    """What a minimiser did.

    Attributes
    ----------
    x : ndarray (N, d)
        Final positions (a new array; the input is never modified), reduced length units.
    energy : float
        Energy at ``x`` (reduced energy units).
    max_force : float
        max_i |F_i| at ``x``, the Euclidean norm of each particle's force vector (the convergence measure).
    n_iter : int
        Iterations done (FIRE steps, or CG line searches).
    n_force_evals : int
        Calls of ``energy_forces``, including the one at ``x0``.
    converged : bool
        Whether ``max_force < ftol``.
    method : str
        ``"fire"`` or ``"cg"``.
    ftol : float
        The force tolerance used.
    message : str
        Why the minimiser stopped.
    """

    x: np.ndarray
    energy: float
    max_force: float
    n_iter: int
    n_force_evals: int
    converged: bool
    method: str
    ftol: float = float("nan")
    message: str = ""

    def summary(self) -> str:
        """One line: method, status, energy, max force, iterations and force evaluations."""
        status = "converged" if self.converged else "NOT converged"
        n, d = self.x.shape
        return (f"{self.method}: {status} ({self.message}); N={n}, d={d}, E={self.energy:.12g}, "
                f"max|F_i|={self.max_force:.3e} (ftol={self.ftol:.1e}), n_iter={self.n_iter}, "
                f"n_force_evals={self.n_force_evals}")

    def __repr__(self) -> str:
        n, d = self.x.shape
        return (f"MinimizeResult(method={self.method!r}, converged={self.converged}, energy={self.energy!r}, "
                f"max_force={self.max_force:.3e}, n_iter={self.n_iter}, n_force_evals={self.n_force_evals}, "
                f"x=<array {n}x{d}>, message={self.message!r})")

    __str__ = summary


# ---------------------------------------------------------------------------------------------------------------------
# shared helpers
# ---------------------------------------------------------------------------------------------------------------------

def _validate(energy_forces, x0, ftol, max_steps, max_step) -> np.ndarray:
    if not callable(energy_forces):
        raise TypeError(f"energy_forces must be callable x -> (E, F), got {type(energy_forces).__name__}")
    if not (isinstance(ftol, (int, float, np.integer, np.floating)) and math.isfinite(ftol) and ftol > 0):
        raise ValueError(f"ftol must be a finite number > 0, got {ftol!r}")
    if isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer)) or max_steps < 1:
        raise ValueError(f"max_steps must be an integer >= 1, got {max_steps!r}")
    if max_step is not None and not (math.isfinite(max_step) and max_step > 0):
        raise ValueError(f"max_step must be None or a finite number > 0, got {max_step!r}")
    x = np.array(x0, dtype=np.float64, copy=True, order="C")
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"x0 must be an array of shape (N, d) with N, d >= 1, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("x0 contains non-finite values (nan or inf)")
    return x


def _positive(name, value, upper=None, upper_inclusive=True):
    ok = isinstance(value, (int, float, np.integer, np.floating)) and math.isfinite(value) and value > 0
    if ok and upper is not None:
        ok = value <= upper if upper_inclusive else value < upper
    if not ok:
        rng = "> 0" if upper is None else f"in (0, {upper}{']' if upper_inclusive else ')'}"
        raise ValueError(f"{name} must be a finite number {rng}, got {value!r}")


def _evaluate(energy_forces, x, k):
    """E, F, max_i |F_i|² at x; raises on non-finite values or a wrong force shape."""
    E, F = energy_forces(x)
    F = np.array(F, dtype=np.float64, copy=True)   # the caller may reuse its output buffer
    if F.shape != x.shape:
        raise ValueError(f"energy_forces returned forces of shape {F.shape}, expected {x.shape} (same as x0)")
    E = float(E)
    f2max = float(np.einsum("ij,ij->i", F, F).max())   # nan/inf propagate through max
    if not (math.isfinite(E) and math.isfinite(f2max)):
        raise ValueError(f"non-finite energy or force at iteration {k}: overlapping particles?")
    return E, F, f2max


def _dot(a, b) -> float:
    return float(np.dot(a.ravel(), b.ravel()))


def _row_max_norm(a) -> float:
    return math.sqrt(float(np.einsum("ij,ij->i", a, a).max()))


def _finish(method, x, E, f2max, k, nfev, ftol, converged, message):
    if not converged:
        warnings.warn(f"{method} did not converge: {message}; max|F_i| = {math.sqrt(f2max):.3e} >= ftol = {ftol:.1e}",
                      RuntimeWarning, stacklevel=3)
    return MinimizeResult(x=x, energy=E, max_force=math.sqrt(f2max), n_iter=k, n_force_evals=nfev,
                          converged=converged, method=method, ftol=float(ftol), message=message)


# ---------------------------------------------------------------------------------------------------------------------
# FIRE
# ---------------------------------------------------------------------------------------------------------------------

def check_fire_parameters(dt_start, dt_max, dt_min, n_min, f_inc, f_dec, alpha_start, f_alpha):
    """Validate FIRE's parameters (as :func:`fire` documents them; ValueError naming the bad one) and return dt_min
    (``None``: 0.02 dt_start). Shared by :func:`fire` and the device FIRE of :mod:`meso_kernels.cuda.quench`."""
    _positive("dt_start", dt_start)
    _positive("dt_max", dt_max)
    if dt_max < dt_start:
        raise ValueError(f"dt_max must be >= dt_start, got dt_max={dt_max!r} < dt_start={dt_start!r}")
    if dt_min is None:
        dt_min = 0.02 * dt_start
    _positive("dt_min", dt_min, upper=dt_start)
    if isinstance(n_min, bool) or not isinstance(n_min, (int, np.integer)) or n_min < 0:
        raise ValueError(f"n_min must be an integer >= 0, got {n_min!r}")
    if not (isinstance(f_inc, (int, float, np.integer, np.floating)) and math.isfinite(f_inc) and f_inc >= 1):
        raise ValueError(f"f_inc must be a finite number >= 1, got {f_inc!r}")
    _positive("f_dec", f_dec, upper=1, upper_inclusive=False)
    _positive("alpha_start", alpha_start, upper=1, upper_inclusive=False)
    _positive("f_alpha", f_alpha, upper=1)
    return dt_min


def fire(energy_forces: EnergyForces, x0, ftol: float = 1e-10, max_steps: int = 200_000, dt_start: float = 0.1,
         dt_max: float = 0.4, n_min: int = 5, f_inc: float = 1.1, f_dec: float = 0.5, alpha_start: float = 0.1,
         f_alpha: float = 0.99, max_step: float | None = 0.1, dt_min: float | None = None,
         callback: Callable | None = None) -> MinimizeResult:
    """Minimise by the Fast Inertial Relaxation Engine (FIRE 2.0 variant), unit masses.

    Each iteration (Guénolé et al. 2020, Algorithm 2, semi-implicit Euler):

    1. P = F·v. If P > 0 for more than ``n_min`` consecutive steps: dt ← min(f_inc dt, dt_max), α ← f_α α.
       If P < 0: x ← x − ½Δx_last (half step back), v ← 0, α ← α_start and, once past the first ``n_min`` steps
       (initial delay), dt ← max(f_dec dt, dt_min).
    2. v ← v + dt F;  v ← (1 − α) v + α |v| F/|F|  (norms over all particles);  Δx = dt v, scaled down uniformly
       if any particle would move more than ``max_step``;  x ← x + Δx;  one force evaluation.

    Converged when max_i |F_i| < ``ftol`` (|F_i| the Euclidean norm of particle i's force vector).

    Parameters
    ----------
    energy_forces : callable
        ``energy_forces(x) -> (E, F)``, x and F of shape (N, d), F = −∂E/∂x; reduced units. Must not modify x.
    x0 : array_like (N, d)
        Starting positions (reduced length units); not modified.
    ftol : float
        Force tolerance on max_i |F_i| (reduced force units ε/σ). Default 1e-10.
    max_steps : int
        Maximum number of FIRE iterations (one force evaluation each).
    dt_start, dt_max, n_min, f_inc, f_dec, alpha_start, f_alpha :
        FIRE parameters; defaults are jax-md's (MODELS.md §5). Time in reduced units with unit masses.
    max_step : float or None
        Cap on any particle's displacement per MD step (reduced length units), so that no particle jumps
        through another; a half step back on P < 0 adds at most ½ ``max_step`` to that iteration. ``None`` for no
        cap (FIRE may then blow up from a high-force start). Default 0.1.
    dt_min : float or None
        Floor of dt on decreases; default 0.02 ``dt_start``.
    callback : callable or None
        ``callback(k, x, E, F)`` after iteration k; returning a true value stops the minimisation. Must not modify
        its arguments.

    Returns
    -------
    MinimizeResult
        with ``method="fire"``; ``converged=False`` (and a RuntimeWarning) if ``max_steps`` was exhausted.

    Raises
    ------
    ValueError
        for bad parameters (the message names them) and for a non-finite energy or force.

    References: Bitzek et al., PRL 97, 170201 (2006); Guénolé et al., Comput. Mater. Sci. 175, 109584 (2020).
    """
    x = _validate(energy_forces, x0, ftol, max_steps, max_step)
    dt_min = check_fire_parameters(dt_start, dt_max, dt_min, n_min, f_inc, f_dec, alpha_start, f_alpha)

    ftol2 = float(ftol) ** 2
    E, F, f2max = _evaluate(energy_forces, x, 0)
    nfev = 1
    if f2max < ftol2:
        return _finish("fire", x, E, f2max, 0, nfev, ftol, True, "initial configuration already converged")

    v = np.zeros_like(x)
    dx = np.zeros_like(x)
    dt, alpha, n_pos = float(dt_start), float(alpha_start), 0
    converged, message, k = False, f"max_steps={max_steps} reached", 0
    for k in range(1, max_steps + 1):
        P = _dot(F, v)
        if P > 0.0:
            n_pos += 1
            if n_pos > n_min:
                dt = min(dt * f_inc, dt_max)
                alpha *= f_alpha
        elif P < 0.0:
            n_pos = 0
            if k > n_min:                       # FIRE 2.0 initial delay: no dt decrease during the first steps
                dt = max(dt * f_dec, dt_min)
            alpha = alpha_start
            dx *= -0.5                          # half step back along the last displacement
            x += dx
            v[:] = 0.0
        # semi-implicit Euler with FIRE mixing
        v += dt * F
        fnorm = math.sqrt(_dot(F, F))
        if fnorm > 0.0:
            vnorm = math.sqrt(_dot(v, v))
            v *= 1.0 - alpha
            v += (alpha * vnorm / fnorm) * F
        np.multiply(v, dt, out=dx)
        if max_step is not None:
            dmax = _row_max_norm(dx)
            if dmax > max_step:
                dx *= max_step / dmax
        x += dx
        E, F, f2max = _evaluate(energy_forces, x, k)
        nfev += 1
        if f2max < ftol2:
            converged, message = True, "max|F_i| < ftol"
            break
        if callback is not None and callback(k, x, E, F):
            message = "stopped by callback"
            break
    return _finish("fire", x, E, f2max, k, nfev, ftol, converged, message)


# ---------------------------------------------------------------------------------------------------------------------
# Nonlinear conjugate gradients
# ---------------------------------------------------------------------------------------------------------------------

def _line_search(energy_forces, x, E0, d, slope0, a_init, a_max, sigma, eps_E, max_ls, k):
    """Find a > 0 along d with |φ'(a)| <= sigma |φ'(0)| and φ(a) <= φ(0) + eps_E, φ'(a) = −F(x + a d)·d.

    Bracketing on the sign of the directional derivative with safeguarded secant steps (bisection when the secant
    stalls or the bracket's upper end is only known to be too high in energy). The step never exceeds a_max.
    Returns (a, x_new, E, F, f2max, slope, n_evals, ok); when no acceptable point was found but a trial point lowered the
    directional derivative without raising the energy, that point is returned (ok=True); otherwise ok=False.
    """
    bound = sigma * (-slope0)
    a_lo, s_lo, lo_pt = 0.0, slope0, None
    a_hi, s_hi = None, 0.0
    side = 0
    a = a_init
    nev = 0
    for _ in range(max_ls):
        xt = x + a * d
        E, F, f2max = _evaluate(energy_forces, xt, k)
        nev += 1
        s = -_dot(F, d)
        e_ok = E <= E0 + eps_E
        if e_ok and abs(s) <= bound:
            return a, xt, E, F, f2max, s, nev, True
        if e_ok and s < 0.0:                    # still going downhill: new lower end
            a_prev, s_prev = a_lo, s_lo
            a_lo, s_lo, lo_pt = a, s, (xt, E, F, f2max)
            if a_hi is None:                    # extrapolation phase
                if a >= a_max * (1.0 - 1e-12):
                    return a, xt, E, F, f2max, s, nev, True  # capped step, still descending: take it
                a_new = a - s * (a - a_prev) / (s - s_prev) if s > s_prev else 4.0 * a
                a = min(max(a_new, 1.1 * a), 8.0 * a, a_max)
                continue
            new_side = -1
        else:                                   # uphill (s >= 0) or energy too high: new upper end
            a_hi, s_hi = a, s
            new_side = 1
        w = a_hi - a_lo
        if w <= 1e-14 * a_hi:
            break
        if s_hi >= 0.0 and new_side != side:
            a = a_lo - s_lo * w / (s_hi - s_lo)
            a = min(max(a, a_lo + 0.1 * w), a_hi - 0.1 * w)
        else:                                   # secant stalled on one side, or no slope information: bisect
            a = a_lo + 0.5 * w
        side = new_side
    if lo_pt is not None:
        xt, E, F, f2max = lo_pt
        return a_lo, xt, E, F, f2max, s_lo, nev, True
    return 0.0, x, E0, None, 0.0, slope0, nev, False


def cg(energy_forces: EnergyForces, x0, ftol: float = 1e-10, max_steps: int = 100_000,
       max_step: float | None = 0.1, sigma: float = 0.1, initial_step: float = 0.01,
       restart_every: int | None = None, max_line_search: int = 40, energy_rtol: float = 1e-10,
       callback: Callable | None = None) -> MinimizeResult:
    """Minimise by Polak–Ribière+ nonlinear conjugate gradients with a derivative-based line search.

    Directions: d_0 = F_0, d_{k+1} = F_{k+1} + β_k d_k with β_k = max(0, F_{k+1}·(F_{k+1} − F_k) / |F_k|²) (PR+);
    restart with d = F every ``restart_every`` iterations, when β = 0, or when d is not a descent direction.

    Line search along d on φ'(a) = −F(x + a d)·d rather than on energy alone (near max|F_i| ~ 1e-10 energy
    differences are below round-off, forces are not): accept a when |φ'(a)| <= ``sigma`` |φ'(0)| (strong-Wolfe
    curvature condition) and E(x + a d) <= E(x) + ``energy_rtol`` |E(x)| (a guard against crossing barriers that does
    not depend on resolving tiny energy differences). Extrapolation and interpolation by safeguarded secant steps on
    φ' (exact in one step on a quadratic), bisection as a fallback. The first trial step is the Newton step
    −φ'(0)/(c |d|²) with c the secant curvature (φ'(a) − φ'(0))/(a |d|²) met on the previous line (the previous
    step when c <= 0; ``initial_step``/max_i|d_i| at the start and after failures), and no step moves any particle
    by more than ``max_step``.

    Converged when max_i |F_i| < ``ftol`` (|F_i| the Euclidean norm of particle i's force vector).

    Parameters
    ----------
    energy_forces : callable
        ``energy_forces(x) -> (E, F)``, x and F of shape (N, d), F = −∂E/∂x; reduced units. Must not modify x.
    x0 : array_like (N, d)
        Starting positions (reduced length units); not modified.
    ftol : float
        Force tolerance on max_i |F_i| (reduced force units). Default 1e-10.
    max_steps : int
        Maximum number of CG iterations (line searches; typically 1–3 force evaluations each).
    max_step : float or None
        Cap on any particle's displacement in one line search (reduced length units). ``None`` for no cap.
    sigma : float in (0, 1)
        Curvature tolerance of the line search; smaller is more exact (better conjugacy, more evaluations).
    initial_step : float
        Largest particle displacement of the first trial step (reduced length units).
    restart_every : int or None
        Restart period; default the number of degrees of freedom N d.
    max_line_search : int
        Maximum force evaluations in one line search.
    energy_rtol : float
        Relative energy slack of the line search's barrier guard.
    callback : callable or None
        ``callback(k, x, E, F)`` after iteration k; returning a true value stops. Must not modify its arguments.

    Returns
    -------
    MinimizeResult
        with ``method="cg"``; ``converged=False`` (and a RuntimeWarning) if ``max_steps`` was exhausted or even a
        steepest-descent line search failed (force noise floor reached above ``ftol``).

    Raises
    ------
    ValueError
        for bad parameters (the message names them) and for a non-finite energy or force.

    References: Polak & Ribière (1969); Powell (1986) for PR+; Hager & Zhang, SIAM J. Optim. 16, 170 (2005);
    Nocedal & Wright, Numerical Optimization (2006), ch. 3 and 5.
    """
    x = _validate(energy_forces, x0, ftol, max_steps, max_step)
    _positive("sigma", sigma, upper=1, upper_inclusive=False)
    _positive("initial_step", initial_step)
    if not (isinstance(energy_rtol, (int, float, np.integer, np.floating)) and math.isfinite(energy_rtol)
            and energy_rtol >= 0):
        raise ValueError(f"energy_rtol must be a finite number >= 0, got {energy_rtol!r}")
    if restart_every is None:
        restart_every = x.size
    if isinstance(restart_every, bool) or not isinstance(restart_every, (int, np.integer)) or restart_every < 1:
        raise ValueError(f"restart_every must be None or an integer >= 1, got {restart_every!r}")
    if isinstance(max_line_search, bool) or not isinstance(max_line_search, (int, np.integer)) or max_line_search < 2:
        raise ValueError(f"max_line_search must be an integer >= 2, got {max_line_search!r}")
    cap = math.inf if max_step is None else float(max_step)

    ftol2 = float(ftol) ** 2
    E, F, f2max = _evaluate(energy_forces, x, 0)
    nfev = 1
    if f2max < ftol2:
        return _finish("cg", x, E, f2max, 0, nfev, ftol, True, "initial configuration already converged")

    d = F.copy()
    FF = _dot(F, F)
    steepest = True
    a_prev = curv = None
    n_since_restart = 0
    converged, message, k = False, f"max_steps={max_steps} reached", 0
    for k in range(1, max_steps + 1):
        slope = -_dot(F, d)
        if not steepest and slope > -1e-10 * math.sqrt(FF * _dot(d, d)):
            d[:] = F                            # not a (useful) descent direction: restart
            slope, steepest, n_since_restart = -FF, True, 0
        dmax = _row_max_norm(d)
        a_max = cap / dmax
        if a_prev is None:
            a0 = initial_step / dmax
        elif curv is not None:                  # Newton step with the curvature met on the last line
            a0 = -slope / (curv * _dot(d, d))
        else:
            a0 = a_prev
        a0 = min(a0, a_max)
        a, xn, En, Fn, f2n, s_acc, nev, ok = _line_search(energy_forces, x, E, d, slope, a0, a_max, sigma,
                                                   energy_rtol * abs(E), max_line_search, k)
        nfev += nev
        if not ok:
            if steepest:
                message = "line search failed along steepest descent (force noise floor?)"
                break
            d[:] = F
            steepest, n_since_restart, a_prev, curv = True, 0, None, None
            continue
        F_old, FF_old = F, FF
        x, E, F, f2max = xn, En, Fn, f2n
        FF = _dot(F, F)
        c = (s_acc - slope) / (a * _dot(d, d))   # secant curvature d·H·d/|d|² along the last line
        a_prev, curv = a, (c if c > 0.0 else None)
        if f2max < ftol2:
            converged, message = True, "max|F_i| < ftol"
            break
        if callback is not None and callback(k, x, E, F):
            message = "stopped by callback"
            break
        n_since_restart += 1
        beta = 0.0
        if n_since_restart < restart_every:
            beta = max(0.0, (FF - _dot(F, F_old)) / FF_old)
        if beta == 0.0:
            d[:] = F
            steepest, n_since_restart = True, 0
        else:
            d *= beta
            d += F
            steepest = False
    return _finish("cg", x, E, f2max, k, nfev, ftol, converged, message)
