"""Minimum-energy paths between two minima: the nudged elastic band with a climbing image (CI-NEB).

A band of M images R_0 ... R_{M-1} (configurations) joins two minima R_0 = start and R_{M-1} = end, which stay
fixed. Each interior image i feels the true force F_i = -grad E(R_i) with its component along the path's tangent
tau_i removed, plus the springs' force along the tangent only (the "nudging"):

    F_i^NEB = F_i - (F_i . tau_i) tau_i + k (|R_{i+1} - R_i| - |R_i - R_{i-1}|) tau_i,

with the *improved tangent* of Henkelman & Jónsson (2000): tau_i = R_{i+1} - R_i if E_{i+1} > E_i > E_{i-1},
R_i - R_{i-1} if E_{i+1} < E_i < E_{i-1}, and at an extremum of E along the band the energy-weighted mix
tau+ dE_max + tau- dE_min (or tau+ dE_min + tau- dE_max when E_{i+1} < E_{i-1}), dE_max/min = max/min(|E_{i+1}
- E_i|, |E_{i-1} - E_i|); tau_i is normalised over all coordinates. The highest interior image c (re-chosen at every
force evaluation) *climbs*: it feels no spring and its true force with the parallel component inverted,

    F_c^CI = F_c - 2 (F_c . tau_c) tau_c,

so that at convergence it sits on the saddle point, a maximum along the path and a minimum across it (Henkelman,
Uberuaga & Jónsson 2000). All interior images are relaxed together by FIRE (:func:`meso_kernels.minimize.fire`,
its force being the NEB force of all images stacked).

Distances are Euclidean in the full configuration space (all particles, all components): the spring constant ``k``
is in energy/length². For periodic systems every difference R_b - R_a is the minimum-image displacement of each
particle; the band is built by interpolating the minimum-image displacement from ``start`` to ``end``, so a particle
may cross the box between the end points. The images' positions are kept *continuous* along the band (unwrapped
from ``start``'s wrapped positions): :attr:`NEBResult.path` needs no unwrapping, and :meth:`NEBResult.system`
gives any image as a wrapped :class:`~meso_kernels.system.System`.

Convergence (``ftol``, force units): every interior image has max_i |F_i^NEB| < ftol (|.| the norm of one particle's
force vector), and, with ``climb=True``, the climbing image's *true* force has max_i |F_i| < ftol as well: it is then
a stationary point of the energy to ftol. ``ftol`` is the same measure as that of the quenches
(:mod:`meso_kernels.minimize`).

Two kinds of landscape share the same band code, through an internal interface ``energies_forces(X) -> (E, F)`` on
a stack of images X (m, n, d) and ``displacement(a, b) -> b - a``:

- an interaction model on :class:`~meso_kernels.system.System` end points (periodic orthorhombic box without
  shear, 2D or 3D): ``neb(start, end, model)``; each interior image has its own
  :class:`~meso_kernels.forces.ForceField` (and Verlet list); energies are total (extensive) in the model's unit;
- any callable ``energy_forces(x) -> (E, F)`` on arrays of the end points' shape (F = -dE/dx), plain differences
  unless a ``displacement`` is given: ``neb(a, b, energy_forces=f)``. A 1-D end point of n numbers is one point in
  n dimensions (its force norm is the Euclidean norm of the whole vector); an (N, d) end point is N particles.

References
----------
- G. Henkelman, B. P. Uberuaga, H. Jónsson, J. Chem. Phys. 113, 9901 (2000): the climbing image.
- G. Henkelman, H. Jónsson, J. Chem. Phys. 113, 9978 (2000): the improved tangent and spring force.
- D. Sheppard, R. Terrell, G. Henkelman, J. Chem. Phys. 128, 134106 (2008): optimisers for NEB (FIRE/quick-min on
  all images together).
- K. Müller, L. D. Brown, Theor. Chim. Acta 53, 75 (1979): the Müller–Brown potential (:func:`muller_brown`).

Example
-------
The Müller–Brown surface: from its deepest minimum A to minimum C the band climbs to the saddle near (-0.822,
0.624), E ≈ -40.665.

>>> import numpy as np
>>> from meso_kernels.minimize import cg
>>> from meso_kernels.neb import neb, muller_brown
>>> def mb(x):                                      # as (1, 2) arrays for the minimiser
...     e, f = muller_brown(x[0])
...     return e, f[None]
>>> a = cg(mb, [[-0.558, 1.442]], ftol=1e-10).x[0]  # minimum A
>>> c = cg(mb, [[-0.050, 0.467]], ftol=1e-10).x[0]  # minimum C
>>> res = neb(a, c, energy_forces=muller_brown, n_images=9, spring=10.0, ftol=1e-6, dt_max=0.02)
>>> res.converged, res.climbing_force < 1e-6
(True, True)
>>> np.round(res.saddle, 3), round(res.saddle_energy, 3)
(array([-0.822,  0.624]), -40.665)
>>> round(res.barrier_forward, 2), round(res.barrier_backward, 2)
(106.03, 40.1)
"""
import math
import warnings

import numpy as np

from .minimize import fire

__all__ = ["NEBResult", "neb", "muller_brown"]

#: What FIRE is given as its own tolerance: never reached, so that the band's convergence (the NEB forces *and* the
#: climbing image's true force) is decided by :func:`neb`'s callback.
_FIRE_NEVER = 1e-300

#: FIRE's default first time step (:func:`meso_kernels.minimize.fire`); lowered to a smaller ``dt_max`` if given.
_FIRE_DT_START = 0.1

#: End points whose largest particle displacement (length) is at most this are the same point (two quenches into one
#: minimum differ by ~ftol/curvature, 1e-12 to 1e-9 with the usual tolerances): :func:`neb` refuses them.
SAME_POINT = 1e-8

#: The options of :func:`meso_kernels.minimize.fire` that ``neb(..., **fire_options)`` passes on.
FIRE_OPTIONS = ("dt_start", "dt_max", "n_min", "f_inc", "f_dec", "alpha_start", "f_alpha", "max_step", "dt_min")


# ---------------------------------------------------------------------------------------------------------------------
# the Müller–Brown test landscape
# ---------------------------------------------------------------------------------------------------------------------

_MB_A = np.array([-200.0, -100.0, -170.0, 15.0])
_MB_a = np.array([-1.0, -1.0, -6.5, 0.7])
_MB_b = np.array([0.0, 0.0, 11.0, 0.6])
_MB_c = np.array([-10.0, -10.0, -6.5, 0.7])
_MB_x0 = np.array([1.0, 0.0, -0.5, -1.0])
_MB_y0 = np.array([0.0, 0.5, 1.5, 1.0])


def muller_brown(x):
    """Energy and force of the Müller–Brown potential (Müller & Brown 1979), a standard 2D test of path methods.

    E(x, y) = sum_k A_k exp(a_k (x - x0_k)² + b_k (x - x0_k)(y - y0_k) + c_k (y - y0_k)²), k = 1..4, with
    A = (-200, -100, -170, 15), a = (-1, -1, -6.5, 0.7), b = (0, 0, 11, 0.6), c = (-10, -10, -6.5, 0.7),
    x0 = (1, 0, -0.5, -1), y0 = (0, 0.5, 1.5, 1) (dimensionless). Minima near A (-0.558, 1.442) E ≈ -146.70,
    B (0.623, 0.028) E ≈ -108.17, C (-0.050, 0.467) E ≈ -80.77; saddles near (-0.822, 0.624) E ≈ -40.66 (A-C) and
    (0.212, 0.293) E ≈ -72.25 (C-B).

    Parameters
    ----------
    x : array_like, shape (..., 2)
        Points (x, y).

    Returns
    -------
    (E, F): E of shape (...), F = -grad E of shape (..., 2).

    >>> e, f = muller_brown([0.623499404, 0.0280377585])   # minimum B
    >>> round(float(e), 4), bool(np.abs(f).max() < 1e-5)
    (-108.1667, True)
    """
    p = np.asarray(x, dtype=float)
    if p.shape[-1:] != (2,):
        raise ValueError(f"x must have shape (..., 2) (points (x, y)), got {p.shape}")
    dx = p[..., 0, None] - _MB_x0
    dy = p[..., 1, None] - _MB_y0
    t = _MB_A * np.exp(_MB_a * dx * dx + _MB_b * dx * dy + _MB_c * dy * dy)
    e = t.sum(-1)
    gx = (t * (2 * _MB_a * dx + _MB_b * dy)).sum(-1)
    gy = (t * (_MB_b * dx + 2 * _MB_c * dy)).sum(-1)
    return (float(e) if e.ndim == 0 else e), -np.stack([gx, gy], axis=-1)


# ---------------------------------------------------------------------------------------------------------------------
# landscapes: the internal interface energies_forces(X (m, n, d)) -> (E (m,), F (m, n, d)), displacement(a, b)
# ---------------------------------------------------------------------------------------------------------------------

class _CallableLandscape:
    """A user's ``energy_forces(x) -> (E, F)`` on arrays of ``shape``; configurations are handled as (n, d)."""

    def __init__(self, energy_forces, shape, displacement):
        self.f = energy_forces
        self.shape = shape
        self.disp = displacement
        self.n_evals = 0

    def displacement(self, a, b):
        if self.disp is None:
            return b - a
        out = np.asarray(self.disp(a.reshape(a.shape[:-2] + self.shape), b.reshape(b.shape[:-2] + self.shape)),
                         dtype=float)
        return out.reshape(np.broadcast_shapes(a.shape, b.shape))

    def continuous_end(self, a, b, d):
        """``b`` itself with the plain difference; else the end point a + d that the displacement reaches."""
        return b if self.disp is None else a + d

    def energies_forces(self, X):
        m = X.shape[0]
        E = np.empty(m)
        F = np.empty_like(X)
        for k in range(m):
            e, f = self.f(X[k].reshape(self.shape).copy())
            f = np.asarray(f, dtype=float)
            if f.shape != self.shape:
                raise ValueError(f"energy_forces returned forces of shape {f.shape}, expected {self.shape} (the "
                                 f"end points' shape)")
            E[k] = float(e)
            F[k] = f.reshape(X.shape[1:])
        self.n_evals += m
        return E, F


class _ModelLandscape:
    """An interaction model in a periodic box: one ForceField (own Verlet list) per image slot."""

    def __init__(self, model, box, types, skin):
        from .forces import ForceField

        self.make = lambda: ForceField(model, box, skin=skin)
        self.box = np.asarray(box, dtype=float)
        self.types = np.ascontiguousarray(types, dtype=np.int64)
        self.fields = []
        self.n_evals = 0

    def displacement(self, a, b):
        d = b - a
        return d - self.box * np.round(d / self.box)

    def continuous_end(self, a, b, d):
        """``b`` shifted by whole box lengths per particle to continue ``a`` by the minimum image ``d``."""
        return b + self.box * np.round((a + d - b) / self.box)

    def energies_forces(self, X):
        m = X.shape[0]
        while len(self.fields) < m:
            self.fields.append(self.make())
        E = np.empty(m)
        F = np.empty_like(X)
        for k in range(m):
            e, f, _ = self.fields[k].compute(X[k], self.types, check=False)
            E[k] = e
            F[k] = f
        self.n_evals += m
        if not np.all(np.isfinite(E)):
            raise FloatingPointError("non-finite energy on the band: overlapping particles? (an image passes "
                                     "particles through each other: are the end points neighbouring minima?)")
        return E, F


# ---------------------------------------------------------------------------------------------------------------------
# the band
# ---------------------------------------------------------------------------------------------------------------------

def _row_max(a):
    """max over the last-but-one axis of the per-row norm: (..., n, d) -> (...)."""
    return np.sqrt(np.einsum("...ij,...ij->...i", a, a).max(-1))


def _tangents(tp, tm, E):
    """Improved tangents (Henkelman & Jónsson 2000, Eqs. 8-11) of the interior images, normalised.

    tp (m, n, d) = R_{i+1} - R_i, tm = R_i - R_{i-1} (displacements), E (m + 2,) energies of the whole band."""
    Em, Ei, Ep = E[:-2], E[1:-1], E[2:]
    up = (Ep > Ei) & (Ei > Em)
    down = (Ep < Ei) & (Ei < Em)
    dmax = np.maximum(np.abs(Ep - Ei), np.abs(Em - Ei))
    dmin = np.minimum(np.abs(Ep - Ei), np.abs(Em - Ei))
    wp = np.where(up, 1.0, np.where(down, 0.0, np.where(Ep > Em, dmax, dmin)))
    wm = np.where(up, 0.0, np.where(down, 1.0, np.where(Ep > Em, dmin, dmax)))
    flat = ~(up | down) & (dmax == 0.0)        # equal energies: the bisector R_{i+1} - R_{i-1}
    wp[flat] = wm[flat] = 1.0
    tau = wp[:, None, None] * tp + wm[:, None, None] * tm
    norm = np.sqrt(np.einsum("kij,kij->k", tau, tau))
    if np.any(norm == 0.0):
        i = int(np.argmin(norm)) + 1
        raise FloatingPointError(f"image {i} coincides with its neighbours: no tangent (the band collapsed)")
    return tau / norm[:, None, None]


class _Band:
    """The band's forces on its interior images; keeps what the last evaluation found."""

    def __init__(self, land, R0, R1, Ea, Eb, M, spring, climb):
        self.land, self.R0, self.R1, self.Ea, self.Eb = land, R0, R1, Ea, Eb
        self.M, self.k, self.climb = M, float(spring), climb

    def evaluate(self, Y):
        """NEB force (m, n, d) on the interior images Y (m, n, d); stores energies, tangents, true forces."""
        land = self.land
        E_int, F = land.energies_forces(Y)
        E = np.concatenate([[self.Ea], E_int, [self.Eb]])
        R = np.concatenate([self.R0[None], Y, self.R1[None]])
        tp = land.displacement(R[1:-1], R[2:])
        tm = land.displacement(R[:-2], R[1:-1])
        tau = _tangents(tp, tm, E)
        fpar = np.einsum("kij,kij->k", F, tau)
        fperp = F - fpar[:, None, None] * tau
        dist_p = np.sqrt(np.einsum("kij,kij->k", tp, tp))
        dist_m = np.sqrt(np.einsum("kij,kij->k", tm, tm))
        fneb = fperp + (self.k * (dist_p - dist_m))[:, None, None] * tau
        c = int(np.argmax(E_int))
        if self.climb:
            fneb[c] = F[c] - 2.0 * fpar[c] * tau[c]
        self.E, self.F, self.fperp, self.fneb, self.c = E, F, fperp, fneb, c + 1
        return fneb

    def criterion(self):
        """max over interior images of max_i |F_i^NEB|, and with climbing that of the climbing image's true force."""
        r = float(_row_max(self.fneb).max())
        if self.climb:
            r = max(r, float(_row_max(self.F[self.c - 1])))
        return r


# ---------------------------------------------------------------------------------------------------------------------
# the result
# ---------------------------------------------------------------------------------------------------------------------

def _frozen(a):
    a = np.array(a, dtype=float, copy=True)
    a.flags.writeable = False
    return a


class NEBResult:
    """What :func:`neb` found. Read-only properties; arrays are read-only copies.

    Shapes: M images; a configuration has the end points' shape (``(N, d)`` for a System, e.g. ``(2,)`` for a point
    of a 2D landscape). Energies in the landscape's energy unit (the model's, total and extensive), lengths in its
    length unit, forces in energy/length.
    """

    def __init__(self, path, energies, saddle_index, climb, converged, n_iter, n_force_evals, max_perp, climbing_force,
                 ftol, spring, message, box=None, types=None):
        self._path = _frozen(path)
        self._E = _frozen(energies)
        self._c = int(saddle_index)
        self._climb = bool(climb)
        self._converged = bool(converged)
        self._n_iter = int(n_iter)
        self._n_force_evals = int(n_force_evals)
        self._max_perp = float(max_perp)
        self._climbing_force = float(climbing_force)
        self._ftol = float(ftol)
        self._spring = float(spring)
        self._message = str(message)
        self._box = None if box is None else _frozen(box)
        self._types = None if types is None else np.array(types, copy=True)
        R = self._path.reshape(self._path.shape[0], -1)
        seg = np.sqrt(((R[1:] - R[:-1]) ** 2).sum(1))
        self._s = _frozen(np.concatenate([[0.0], np.cumsum(seg)]))

    @property
    def path(self):
        """Positions of the M images, shape (M, *configuration shape); image 0 is ``start``, image M-1 is ``end``
        (for periodic systems up to whole box vectors: positions are continuous along the band, unwrapped from
        ``start``'s positions)."""
        return self._path

    @property
    def n_images(self):
        """M, the number of images including both end points."""
        return self._path.shape[0]

    @property
    def energies(self):
        """Energy of each image, shape (M,) (energy; total, extensive for a System)."""
        return self._E

    @property
    def path_coordinate(self):
        """Cumulative distance along the band, shape (M,), 0 at ``start``: s_j = sum_{i<j} |R_{i+1} - R_i| over all
        coordinates (length; minimum image for periodic systems)."""
        return self._s

    @property
    def saddle_index(self):
        """Index of the climbing image (with ``climb=False``: of the highest interior image)."""
        return self._c

    @property
    def saddle(self):
        """Positions of the climbing image (the saddle point when converged), configuration shape."""
        return self._path[self._c]

    @property
    def saddle_energy(self):
        """Energy of the climbing image (energy)."""
        return float(self._E[self._c])

    @property
    def barrier_forward(self):
        """Forward barrier E_saddle - E_start (energy; total, extensive for a System)."""
        return float(self._E[self._c] - self._E[0])

    @property
    def barrier_backward(self):
        """Backward barrier E_saddle - E_end (energy)."""
        return float(self._E[self._c] - self._E[-1])

    @property
    def climb(self):
        """Whether the highest image climbed."""
        return self._climb

    @property
    def converged(self):
        """Whether the band met ``ftol`` (see :func:`neb`)."""
        return self._converged

    @property
    def n_iter(self):
        """FIRE iterations done (each evaluates every interior image once)."""
        return self._n_iter

    @property
    def n_force_evals(self):
        """Energy-and-force evaluations of single images, including the two end points."""
        return self._n_force_evals

    @property
    def max_perpendicular_force(self):
        """max over interior images and particles of |F_perp,i|, the true force with its component along the path's
        tangent removed (force)."""
        return self._max_perp

    @property
    def climbing_force(self):
        """max_i |F_i| of the *true* force on the climbing image (force): at a converged climbing band < ftol."""
        return self._climbing_force

    @property
    def ftol(self):
        """The force tolerance used (force)."""
        return self._ftol

    @property
    def spring(self):
        """The spring constant used (energy/length²)."""
        return self._spring

    @property
    def message(self):
        """Why the optimiser stopped."""
        return self._message

    def system(self, k):
        """Image ``k`` (negative counts from the end) as a wrapped :class:`~meso_kernels.system.System` (only for a
        band between Systems)."""
        from .system import System

        if self._box is None:
            raise ValueError("system(k) needs a band between System end points (this one is on a callable "
                             "landscape); use path[k]")
        M = self.n_images
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not -M <= k < M:
            raise ValueError(f"k={k!r} out of range for a band of {M} images (allowed: {-M}..{M - 1})")
        return System.wrapped(self._path[k], self._box, types=self._types)

    def summary(self):
        """One line: status, barriers, saddle energy and index, forces, iterations."""
        status = "converged" if self._converged else "NOT converged"
        kind = "CI-NEB" if self._climb else "NEB"
        return (f"{kind}: {status} ({self._message}); M={self.n_images}, saddle image {self._c} "
                f"E={self.saddle_energy:.10g}, barriers forward {self.barrier_forward:.6g} backward "
                f"{self.barrier_backward:.6g}; climbing |F|max={self._climbing_force:.3e}, "
                f"max|F_perp|={self._max_perp:.3e} (ftol={self._ftol:.1e}); n_iter={self._n_iter}, "
                f"n_force_evals={self._n_force_evals}")

    def __repr__(self):
        return (f"NEBResult(converged={self._converged}, n_images={self.n_images}, saddle_index={self._c}, "
                f"saddle_energy={self.saddle_energy!r}, barrier_forward={self.barrier_forward!r}, "
                f"barrier_backward={self.barrier_backward!r}, climbing_force={self._climbing_force:.3e})")

    __str__ = summary


# ---------------------------------------------------------------------------------------------------------------------
# the solver
# ---------------------------------------------------------------------------------------------------------------------

def _check_number(name, value, minimum=None, integer=False):
    if integer:
        ok = not isinstance(value, bool) and isinstance(value, (int, np.integer))
        if not ok or (minimum is not None and value < minimum):
            raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
        return int(value)
    ok = (not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))
          and math.isfinite(value) and value > 0)
    if not ok:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def _end_points_systems(start, end, model):
    from .system import System

    for name, s in (("start", start), ("end", end)):
        if not isinstance(s, System):
            raise ValueError(f"{name} must be a System when a model is given (or pass arrays with "
                             f"energy_forces=...), got {type(s).__name__}")
    if start.dim != end.dim:
        raise ValueError(f"end is {end.dim}D but start is {start.dim}D (allowed: the same dimension)")
    if start.N != end.N:
        raise ValueError(f"end has N={end.N} particles but start has N={start.N} (allowed: the same N)")
    if not np.array_equal(start.types, end.types):
        n = int(np.count_nonzero(start.types != end.types))
        raise ValueError(f"end's types differ from start's for {n} particles (allowed: the same types, particle by "
                         f"particle)")
    if not np.array_equal(start.box, end.box):
        raise ValueError(f"end's box {end.box.tolist()} differs from start's {start.box.tolist()} (allowed: the "
                         f"same box)")
    start.check_model(model)


#: How far (length, largest particle displacement) the ends of a given initial band may be from ``start``/``end``.
IMAGES_END_TOL = 1e-6


def _initial_band(images, A, B, shape, nd, land):
    """(interior images (M-2, n, d) continuous from A, continuous end) of a given band; ValueError if its ends are
    not A and B or a coordinate is not finite."""
    M = images.shape[0]
    if images.shape[1:] != tuple(shape):
        raise ValueError(f"images must have shape (M, {', '.join(map(str, shape))}) (the end points' shape), got "
                         f"{images.shape}")
    if not np.all(np.isfinite(images)):
        raise ValueError("images must be finite")
    R = images.reshape((M,) + nd)
    Y = np.empty_like(R)
    Y[0] = A
    for i in range(1, M):
        Y[i] = Y[i - 1] + land.displacement(R[i - 1], R[i])
    for name, k, ref in (("first", 0, A), ("last", M - 1, B)):
        dev = float(_row_max(land.displacement(ref, R[k])))
        if dev > IMAGES_END_TOL:
            raise ValueError(f"the {name} image is {dev:.3g} away from {('start', 'end')[k > 0]} (allowed: "
                             f"IMAGES_END_TOL = {IMAGES_END_TOL:g}): a band runs from start to end")
    return Y[1:-1].copy(), Y[-1] + land.displacement(Y[-1], B)   # B itself, continuous with the band


def neb(start, end, model=None, *, energy_forces=None, displacement=None, n_images=None, spring=5.0, climb=True,
        ftol=1e-6, max_steps=20_000, end_ftol=None, skin=0.3, images=None, monitor=None, **fire_options):
    """Climbing-image nudged elastic band between two minima ``start`` and ``end`` (see the module docstring).

    Parameters
    ----------
    start, end : System, or array_like
        The two minima. With ``model``: :class:`~meso_kernels.system.System` inherent structures with the same N,
        types (particle by particle) and box (wrapped positions; particles may cross the box between them: the band
        interpolates each particle's minimum-image displacement, so every particle must move less than half a box
        length). With ``energy_forces``: arrays of one shape (a 1-D array of n numbers is one point in n dims).
    model : :class:`~meso_kernels.models.Model`, optional
        The interaction model (periodic orthorhombic box, 2D or 3D). Give either ``model`` or ``energy_forces``.
    energy_forces : callable, optional
        ``energy_forces(x) -> (E, F)``, x and F of the end points' shape, F = -dE/dx. Must not modify x.
    displacement : callable, optional
        With ``energy_forces``: ``displacement(a, b) -> b - a`` as the landscape measures it (e.g. a minimum image);
        must broadcast over a leading axis of images. Default: the plain difference.
    n_images : int >= 3
        M, the number of images *including* the two end points (M - 2 move). Default 9, or ``len(images)``.
    spring : float > 0
        Spring constant k between neighbouring images (energy/length², distances over all coordinates). It sets
        how evenly the images are spaced, not where the climbing image converges. Default 5 (fast
        with the glass models and FIRE's default time steps; a stiffer band needs a smaller ``dt_max``).
    climb : bool
        Whether the highest interior image climbs to the saddle (CI-NEB; default). Without it the band is a plain
        NEB whose highest image only approximates the saddle.
    ftol : float > 0
        Convergence (force units): max_i |F_i^NEB| < ftol on every interior image and, with ``climb``, max_i |F_i|
        < ftol for the climbing image's true force. Default 1e-6.
    max_steps : int >= 1
        FIRE iterations at most (each evaluates M - 2 images). Default 20000.
    end_ftol : float > 0, optional
        The end points must be minima: max_i |F_i| <= end_ftol there (force units). Default: ``ftol``.
    skin : float > 0
        Verlet skin of each image's neighbour list (length; with ``model`` only). Default 0.3.
    images : array_like, optional
        The initial band: all M images (shape (M, *configuration shape)), image 0 at ``start`` and image M - 1 at
        ``end`` (each within 1e-6 in length, displacements as the band measures them: the minimum image for a
        System; a System's images may be wrapped or continuous). Default: the straight line from ``start`` to
        ``end`` (each particle's minimum-image displacement interpolated linearly). A path that follows the
        landscape (e.g. :mod:`meso_kernels.analysis.bandpath`: two descent paths joined where the dynamics crossed)
        converges where the straight line, cutting through other basins, often does not.
    monitor : callable, optional
        ``monitor(energies) -> bool``, called after each FIRE iteration with a copy of the M image energies (the
        ends included; energy): True stops the band there, not converged (message "stopped by monitor"). E.g. a
        runaway guard on the climbing image (:mod:`meso_kernels.analysis.barriers`). Default: none.
    **fire_options
        Passed to :func:`meso_kernels.minimize.fire` (:data:`FIRE_OPTIONS`: ``dt_start``, ``dt_max``, ``max_step``,
        ...; time in the landscape's units with unit masses, ``max_step`` in length per particle); its defaults
        (dt_start = 0.1, dt_max = 0.4, max_step = 0.1 per particle and step) suit the glass models. A stiff
        landscape needs a smaller ``dt_max`` (~ 1/sqrt(largest curvature); Müller–Brown: 0.02); ``dt_start``
        is then lowered to ``dt_max`` unless given.

    Returns
    -------
    NEBResult
        ``converged=False`` (with a RuntimeWarning) when ``max_steps`` ran out.

    Raises
    ------
    ValueError
        naming the parameter: end points that are not minima (max_i |F_i| > end_ftol: quench them first), end points
        that differ in N, types, box or shape, or coincide (largest displacement <= :data:`SAME_POINT`); fewer than 3
        images; spring, ftol, end_ftol or skin not > 0; max_steps < 1; neither or both of ``model`` and
        ``energy_forces``; an option that is none of :data:`FIRE_OPTIONS`.
    FloatingPointError
        on a non-finite energy on the band (overlapping particles: the end points are too far apart).
    """
    if (model is None) == (energy_forces is None):
        raise ValueError("give exactly one of model (for System end points) and energy_forces (a callable "
                         "x -> (E, F) for array end points)")
    if images is not None:
        images = np.array(images, dtype=float)
        if n_images is None:
            n_images = images.shape[0] if images.ndim else 0
        elif images.ndim == 0 or images.shape[0] != n_images:
            raise ValueError(f"images holds {images.shape[0] if images.ndim else 0} images but n_images={n_images!r} "
                             f"(allowed: the same number, or leave n_images out)")
    M = _check_number("n_images", 9 if n_images is None else n_images, minimum=3, integer=True)
    spring = _check_number("spring", spring)
    ftol = _check_number("ftol", ftol)
    max_steps = _check_number("max_steps", max_steps, minimum=1, integer=True)
    end_ftol = ftol if end_ftol is None else _check_number("end_ftol", end_ftol)
    if not isinstance(climb, (bool, np.bool_)):
        raise ValueError(f"climb must be True or False, got {climb!r}")
    if monitor is not None and not callable(monitor):
        raise ValueError(f"monitor must be None or callable energies -> bool, got {type(monitor).__name__}")
    unknown = sorted(set(fire_options) - set(FIRE_OPTIONS))
    if unknown:
        raise ValueError(f"unknown option(s) {', '.join(unknown)}; allowed: the parameters of neb and the FIRE "
                         f"options {', '.join(FIRE_OPTIONS)}")
    box = types = None
    if model is not None:
        if displacement is not None:
            raise ValueError("displacement is for energy_forces landscapes; with a model the minimum image of the "
                             "System's box is used")
        skin = _check_number("skin", skin)
        _end_points_systems(start, end, model)
        box, types = start.box, start.types
        land = _ModelLandscape(model, box, types, skin)
        shape = start.positions.shape
        A = np.array(start.positions, dtype=float)
        B = np.array(end.positions, dtype=float)
    else:
        if not callable(energy_forces):
            raise ValueError(f"energy_forces must be callable x -> (E, F), got {type(energy_forces).__name__}")
        if displacement is not None and not callable(displacement):
            raise ValueError(f"displacement must be None or callable (a, b) -> b - a, got "
                             f"{type(displacement).__name__}")
        A = np.array(start, dtype=float)
        B = np.array(end, dtype=float)
        if A.ndim == 0 or A.size == 0:
            raise ValueError(f"start must be a non-empty array of coordinates, got shape {A.shape}")
        if B.shape != A.shape:
            raise ValueError(f"end has shape {B.shape} but start has shape {A.shape} (allowed: the same shape)")
        for name, a in (("start", A), ("end", B)):
            if not np.all(np.isfinite(a)):
                raise ValueError(f"{name} must be finite")
        shape = A.shape
        land = _CallableLandscape(energy_forces, shape, displacement)
    nd = shape if len(shape) >= 2 else (1, shape[0])
    nd = (int(np.prod(nd[:-1])), nd[-1])
    A = A.reshape(nd)
    B = B.reshape(nd)

    # the end points: minima, distinct
    E_ends, F_ends = land.energies_forces(np.stack([A, B]))
    for name, E, F in (("start", E_ends[0], F_ends[0]), ("end", E_ends[1], F_ends[1])):
        fmax = float(_row_max(F))
        if not math.isfinite(E) or not math.isfinite(fmax):
            raise ValueError(f"{name} has a non-finite energy or force (overlapping particles?)")
        if fmax > end_ftol:
            how = ("quench it, e.g. meso_kernels.quench.quench(system, model, method='cg', ftol=1e-10)"
                   if model is not None else "minimise it first, e.g. with meso_kernels.minimize.cg")
            raise ValueError(f"{name} is not a minimum: max_i |F_i| = {fmax:.3g} exceeds end_ftol = {end_ftol:.3g} "
                             f"(default: ftol); {how}, or raise end_ftol")
    D = land.displacement(A, B)
    dmax = float(_row_max(D))
    if dmax <= SAME_POINT:
        raise ValueError(f"end coincides with start (largest displacement between them {dmax:.3g} <= SAME_POINT = "
                         f"{SAME_POINT:g}): a band needs two distinct minima")
    B = land.continuous_end(A, B, D)             # continuous with start (unwrapped for periodic systems)

    if images is None:
        s = np.linspace(0.0, 1.0, M)[1:-1, None, None]
        Y0 = A + s * D
    else:
        Y0, B = _initial_band(images, A, B, shape, nd, land)
    band = _Band(land, A, B, float(E_ends[0]), float(E_ends[1]), M, spring, climb)
    m = M - 2
    state = {"converged": False, "stopped": False}

    def fire_forces(y):
        fneb = band.evaluate(y.reshape((m,) + nd))
        return float(band.E[1:-1].sum()), fneb.reshape(y.shape)

    def stop(k, y, E, F):
        if band.criterion() < ftol:
            state["converged"] = True
            return True
        if monitor is not None and monitor(band.E.copy()):
            state["stopped"] = True
            return True
        return False

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="fire did not converge", category=RuntimeWarning)
        # the initial band may already meet ftol (e.g. a symmetric 3-image band); FIRE's result x is the
        # configuration of its last force evaluation, so that the band's stored state is that of the result
        band.evaluate(Y0)
        if band.criterion() < ftol:
            state["converged"] = True
            Y, n_iter, msg = Y0, 0, "initial band already converged"
        else:
            if "dt_max" in fire_options and "dt_start" not in fire_options:
                fire_options["dt_start"] = min(_FIRE_DT_START, fire_options["dt_max"])
            res = fire(fire_forces, Y0.reshape(m * nd[0], nd[1]), ftol=_FIRE_NEVER, max_steps=max_steps,
                       callback=stop, **fire_options)
            Y = res.x.reshape((m,) + nd)
            n_iter = res.n_iter
            if state["stopped"]:
                msg = f"stopped by monitor after {res.n_iter} iterations"
            elif not state["converged"]:
                msg = f"max_steps={max_steps} reached"
            elif climb:
                msg = "max NEB force and climbing image's force < ftol"
            else:
                msg = "max NEB force < ftol"
    converged = state["converged"]
    crit = band.criterion()
    if not converged:
        warnings.warn(f"neb did not converge: {msg}; max force {crit:.3e} >= ftol = {ftol:.1e}", RuntimeWarning,
                      stacklevel=2)
    path = np.concatenate([A[None], Y, B[None]]).reshape((M,) + shape)
    c = band.c
    climbing_force = float(_row_max(band.F[c - 1]))
    max_perp = float(_row_max(band.fperp).max())
    return NEBResult(path, band.E, c, climb, converged, n_iter, land.n_evals, max_perp, climbing_force, ftol, spring,
                     msg, box=box, types=types)
