"""Inherent-structure (IHS) trajectories and the rate of transitions between inherent structures (paper Fig. 5, its
discussion in Sec. III B and footnote 83; MODELS.md section 9, "IHS trajectories").

A short NVT trajectory is recorded with a small time step (:func:`record_trajectory`; the step is the MD step
δt for IPL and mBLJ and δt/10 for SS and SW, :func:`ihs_time_step`), every frame is mapped to its inherent
structure by an instantaneous quench (:func:`meso_kernels.quench.quench`, converged on max_i |F_i|), and a
*transition* between frames k-1 and k is a jump of the extensive IHS energy

    |U_IHS(k) - U_IHS(k-1)| > eps,   eps = 1e-5 (energy units; the paper's value, footnote 83).

The rate is Γ = n_transitions / duration (per unit time), reported as Γ t_ballistic N0 / N with t_ballistic = 0.1 t0,
t0 = a0 / sqrt(T), a0 = rho^(-1/d), N0 = 1000 (:func:`reduced_rate`).

Quenching every frame (``mode="all"``, the default) is what the paper counts, and what the campaign stores.
``mode="bisect"`` (the first author's scheme [code]) quenches only the ends of blocks of frames and bisects the
blocks whose end inherent structures differ; two IHS are the same when |ΔU| <= eps and max_i |Δx_i| < x_tol (minimum
image). Bisection is cheaper but **undercounts**: a block whose two ends are in the same IHS is never looked into, so
any even number of transitions inside it (A -> B -> A, A -> B -> C -> A, ...) is missed, and a block whose ends
differ can still hide a return visit between two quenched frames. These back-and-forth visits are exactly the
hopping between neighbouring minima that makes the SS and SW landscapes granular. Measured at N = 128: bisection with
blocks of 8 found 9 of the 15 transitions of an SS (rho = 0.6, T = 1.5) trajectory; on the stored default frames
(N = 1000, Fig. 5 state points) it misses 2 % of the IPL and mBLJ transitions, 6 % of SW's, 3-11 % at SS rho = 0.6,
38 % at rho = 0.7 and 67 % at rho = 0.95 (the Fig. 5 page gives the table). :func:`bisect_transitions` says, from the
energies of every frame, which transitions bisection would report. Transitions between IHS of equal energy
(|ΔU| <= eps) are never counted (footnote 83).

The count is only as good as the map frame -> inherent structure. The inherent structure of a configuration is the
end of its steepest-descent path (Stillinger & Weber); CG or FIRE with their generic step sizes jump ridges and land in
a neighbouring minimum for a large fraction of frames, which shows up as spurious one-frame excursions A -> B -> A
and inflates the rate several-fold. Quenches here therefore cap the displacement per minimiser step
(:data:`BASIN_MAX_STEP`, measured against gradient flow).

>>> import numpy as np
>>> from meso_kernels.analysis.ihs import transitions_from_energies, reduced_rate
>>> transitions_from_energies([-5.0, -5.0, -5.2, -5.2, -5.2 + 1e-7, -5.0])
array([2, 5])
>>> bisect_transitions([-5.0, -5.0, -5.2, -5.2, -5.2 + 1e-7, -5.0], block=5)   # the block's ends agree: missed
array([], dtype=int64)
>>> mean, low, high = reduced_rate([2.0, 2.0], N=1000, rho=1.0, T=1.0)   # 2 transitions per unit time, t0 = 1
>>> round(mean, 12), round(low, 12), round(high, 12)
(0.2, 0.2, 0.2)
"""
import math
import time
from dataclasses import dataclass, field

import numpy as np

from ..system import System

#: Models whose IHS trajectories use the MD step, and those that use a tenth of it (footnote 83).
_FULL_STEP = ("ipl", "mblj", "ka")
_TENTH_STEP = ("ss", "sw")
MODES = ("bisect", "all")
#: CG step cap (largest displacement of any particle per line-search step, length units) with which a CG quench lands
#: in the steepest-descent (gradient-flow) minimum of the frame. Measured against gradient flow (Euler steps moving no
#: particle by more than 0.002, checked against 0.0005) at N = 1000: IPL T = 0.65 and SS rho = 0.6 T = 1.0 agree on
#: 10/10 and 11/11 frames with 0.003 (5/10 and 5/11 with 0.01), mBLJ T = 0.55 on 8/8 with 0.001 (1/8 with 0.1); SW
#: T = 0.04 at N = 64 on 97 % of frames with 0.001 (but SW at N = 1000, T = 0.03 on only 1/8: use small N for SW).
#: The minimiser's generic cap (0.1) agrees on 0-75 % of frames and makes spurious back-and-forth "transitions"
#: (A -> B -> A between consecutive frames). The fidelity of a fixed cap drops with N (more places to jump a ridge).
BASIN_MAX_STEP = {"ipl": 0.003, "ss": 0.003, "mblj": 0.001, "ka": 0.001, "sw": 0.001}
METHODS = ("cg", "fire")


def _positive(value, name, allowed="a positive finite number"):
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be {allowed}, got {value!r}") from None
    if isinstance(value, bool) or not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return v


def _count(value, name, minimum=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def ihs_time_step(model):
    """The time step between frames of an IHS trajectory of ``model`` (time units of the model).

    The paper (footnote 83) uses the MD step δt = ``model.state_point.dt`` for IPL and mBLJ and δt/10 for SS and SW,
    so that back-and-forth transitions between frames are rare. KA is treated like mBLJ.

    >>> from meso_kernels.models import get_model
    >>> ihs_time_step(get_model("ipl")), ihs_time_step(get_model("ss", rho=0.95))
    (0.005, 0.0002)
    >>> round(ihs_time_step(get_model("sw")), 6)
    0.0065
    """
    name = getattr(model, "name", None)
    if name in _FULL_STEP:
        return float(model.state_point.dt)
    if name in _TENTH_STEP:
        return float(model.state_point.dt) / 10.0
    raise ValueError(f"ihs_time_step: unknown model name {name!r}; allowed: {', '.join(_FULL_STEP + _TENTH_STEP)}")


@dataclass
class Trajectory:
    """Frames of a trajectory at fixed box.

    Attributes
    ----------
    frames : ndarray (F, N, d)
        Positions wrapped into [0, L) (length units), particles in the same order in every frame.
    times : ndarray (F,)
        Time of each frame (model time units), strictly increasing.
    box : ndarray (d,)
        Box side lengths (length), the same for every frame.
    types : ndarray (N,)
        Species of each particle.
    info : dict
        What produced it (model, T, dt, every, tau, wall time), for provenance.

    >>> import numpy as np
    >>> tr = Trajectory(np.zeros((3, 2, 3)), [0.0, 0.1, 0.2], [2.0, 2.0, 2.0], [0, 1])
    >>> tr.n_frames, tr.N, tr.dim, tr.duration
    (3, 2, 3, 0.2)
    """
    frames: np.ndarray
    times: np.ndarray
    box: np.ndarray
    types: np.ndarray
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        self.frames = np.asarray(self.frames, dtype=float)
        if self.frames.ndim != 3 or self.frames.shape[0] < 1 or self.frames.shape[2] not in (2, 3):
            raise ValueError(f"frames must have shape (F, N, d) with F >= 1 and d in (2, 3), got {self.frames.shape} "
                             "(an empty trajectory has no frames to analyse)")
        F, N, d = self.frames.shape
        self.times = np.asarray(self.times, dtype=float)
        if self.times.shape != (F,):
            raise ValueError(f"times must have shape ({F},) (one per frame), got {self.times.shape}")
        if not np.all(np.isfinite(self.times)) or np.any(np.diff(self.times) <= 0):
            raise ValueError("times must be finite and strictly increasing")
        box = np.asarray(self.box, dtype=float)
        if box.ndim == 2:  # one box per frame: accepted only if they are all the same
            if box.shape != (F, d):
                raise ValueError(f"box must have shape ({d},) or ({F}, {d}), got {box.shape}")
            if np.any(box != box[0]):
                k = int(np.flatnonzero(np.any(box != box[0], axis=1))[0])
                raise ValueError(f"box: frames must share one box; frame {k} has {box[k].tolist()} but frame 0 "
                                 f"has {box[0].tolist()}")
            box = box[0]
        if box.shape != (d,) or not np.all(np.isfinite(box)) or np.any(box <= 0):
            raise ValueError(f"box must be {d} positive side lengths, got {box.tolist()}")
        self.box = box
        self.types = np.asarray(self.types)
        if self.types.shape != (N,):
            raise ValueError(f"types must have shape ({N},), got {self.types.shape}")

    @classmethod
    def from_systems(cls, systems, times=None):
        """A trajectory from a sequence of :class:`~meso_kernels.system.System` (same N, types and box).
        ``times`` defaults to the frame index (then rates are per frame)."""
        systems = list(systems)
        if not systems:
            raise ValueError("systems is empty: an empty trajectory has no frames to analyse")
        s0 = systems[0]
        for k, s in enumerate(systems):
            if not isinstance(s, System):
                raise ValueError(f"systems[{k}] must be a meso_kernels.system.System, got {type(s).__name__}")
            if s.N != s0.N or s.dim != s0.dim or np.any(s.types != s0.types):
                raise ValueError(f"systems[{k}] has other particles (N, d or types) than systems[0]")
            if np.any(s.box != s0.box):
                raise ValueError(f"systems: frames must share one box; frame {k} has box {s.box.tolist()} but "
                                 f"frame 0 has {s0.box.tolist()}")
        times = np.arange(len(systems), dtype=float) if times is None else times
        return cls(np.stack([s.positions for s in systems]), times, s0.box, s0.types.copy())

    @property
    def n_frames(self):
        return self.frames.shape[0]

    @property
    def N(self):
        return self.frames.shape[1]

    @property
    def dim(self):
        return self.frames.shape[2]

    @property
    def duration(self):
        """times[-1] - times[0] (time units)."""
        return float(self.times[-1] - self.times[0])

    def system(self, k):
        """Frame ``k`` as a :class:`~meso_kernels.system.System` (no velocities)."""
        return System(self.frames[k], self.box, self.types)


def record_trajectory(system, model, T, nframes, dt, tau=None, every=1, seed=0, progress=False):
    """Record an NVT (Nosé–Hoover chain) trajectory for an IHS analysis.

    Parameters
    ----------
    system : System with velocities, equilibrated at T (e.g. ``thermalize(...).system``); it is not modified
    model : the model of ``system``
    T : temperature (energy units), > 0
    nframes : number of frames F >= 1; frame 0 is ``system`` itself
    dt : integration step (model time units), > 0; the paper's choice is :func:`ihs_time_step` (model)
    tau : Nosé–Hoover coupling time, default ``model.state_point.tau_nh``
    every : MD steps between stored frames, >= 1 (the paper stores every step)
    seed : kept in ``info`` for provenance; the dynamics is deterministic given the velocities of ``system``
    progress : show a tqdm bar

    Returns
    -------
    Trajectory with frames (F, N, d) wrapped positions, times k * every * dt (k = 0..F-1), box, types.
    Memory: 8 F N d bytes.

    >>> from meso_kernels.models import get_model
    >>> from meso_kernels.initial import random_configuration, maxwell_boltzmann
    >>> m = get_model("ipl")
    >>> s = random_configuration(m, 128, 0.82, seed=1)
    >>> s.velocities = maxwell_boltzmann(s.N, s.dim, 1.0, seed=1)
    >>> tr = record_trajectory(s, m, T=1.0, nframes=5, dt=0.002, every=2)
    >>> tr.frames.shape, tr.times.tolist()
    ((5, 128, 3), [0.0, 0.004, 0.008, 0.012, 0.016])
    """
    from ..integrate import NoseHoover

    if not isinstance(system, System):
        raise ValueError(f"system must be a meso_kernels.system.System, got {type(system).__name__}")
    if system.velocities is None:
        raise ValueError("system has no velocities (velocities=None): record_trajectory continues an equilibrated "
                         "run; pass e.g. thermalize(...).system, or set maxwell_boltzmann velocities and thermalise")
    T = _positive(T, "T", "a positive temperature")
    dt = _positive(dt, "dt", "a positive time step")
    nframes = _count(nframes, "nframes")
    every = _count(every, "every")
    tau = model.state_point.tau_nh if tau is None else _positive(tau, "tau", "a positive coupling time")
    sim = NoseHoover(system, model, dt=dt, T=T, tau=tau, seed=seed)
    box = sim.box.copy()
    frames = np.empty((nframes,) + system.positions.shape)
    frames[0] = system.positions
    k = [1]

    def store(s):
        frames[k[0]] = np.mod(s.x, box)
        k[0] += 1

    t0 = time.perf_counter()
    sim.run((nframes - 1) * every, callback=store, every=every, progress=progress)
    # np.mod can round a tiny negative coordinate up to L: fold it back into [0, L)
    frames[frames >= box] -= np.broadcast_to(box, frames.shape)[frames >= box]
    times = np.arange(nframes) * every * dt
    info = dict(model=model.describe(), T=T, dt=dt, every=every, tau=tau, seed=seed,
                wall_time=time.perf_counter() - t0)
    return Trajectory(frames, times, box, system.types.copy(), info)


def transitions_from_energies(U, eps=1e-5):
    """Indices k (1 <= k < F) where the IHS energy jumps between frames k-1 and k: |U[k] - U[k-1]| > eps.

    U : IHS energies per frame, shape (F,), extensive (energy units); eps > 0 (energy units; paper: 1e-5).

    >>> transitions_from_energies([1.0, 1.0, 1.5, 1.5 + 2e-6, 1.0], eps=1e-5)
    array([2, 4])
    >>> transitions_from_energies([1.0, 1.0, 1.5, 1.5 + 2e-6, 1.0], eps=1e-6)
    array([2, 3, 4])
    """
    eps = _positive(eps, "eps", "a positive energy threshold")
    U = np.asarray(U, dtype=float)
    if U.ndim != 1:
        raise ValueError(f"U must be one-dimensional (one energy per frame), got shape {U.shape}")
    if not np.all(np.isfinite(U)):
        raise ValueError("U must be finite")
    return np.flatnonzero(np.abs(np.diff(U)) > eps) + 1


def single_frame_excursions(U, eps=1e-5):
    """Frames k (1 <= k < F-1) whose IHS energy differs from both neighbours by more than ``eps`` while the
    neighbours agree within ``eps``: one-frame visits A -> B -> A. Many of them in a brute-force run (``mode="all"``)
    signal a minimiser that does not follow the steepest-descent basins (see :data:`BASIN_MAX_STEP`); bisection
    cannot see them (footnote 83).

    >>> single_frame_excursions([0.0, 0.0, 1.0, 0.0, 2.0, 3.0]).tolist()
    [2]
    """
    eps = _positive(eps, "eps", "a positive energy threshold")
    U = np.asarray(U, dtype=float)
    if U.ndim != 1:
        raise ValueError(f"U must be one-dimensional (one energy per frame), got shape {U.shape}")
    a, b, c = U[:-2], U[1:-1], U[2:]
    return np.flatnonzero((np.abs(b - a) > eps) & (np.abs(b - c) > eps) & (np.abs(c - a) <= eps)) + 1


def bisect_transitions(U, block=8, eps=1e-5):
    """The transitions that ``IHSTrajectory(mode="bisect", block=block)`` reports, given the IHS energy of *every*
    frame ``U`` (e.g. ``IHSTrajectory(mode="all").energies``): blocks [0, block], [block, 2 block], ..., [.., F-1]
    whose end energies differ by more than ``eps`` are halved recursively down to single steps, and blocks whose
    ends agree are taken to hold no transition. Each quench starts from its own MD frame, so the frames quenched in
    both modes have the same inherent structure and this reproduces bisect mode exactly, except where two different
    inherent structures have energies within ``eps`` (bisect mode also compares positions with ``x_tol``; such pairs
    are never counted as transitions in either mode).

    U : shape (F,), extensive IHS energies (energy units); block >= 1; eps > 0 (energy units).
    Returns a sorted int array of frame indices k (the IHS changed between k-1 and k), a subset of
    :func:`transitions_from_energies` (U, eps).

    >>> U = [0.0, 0.0, 1.0, 0.0, 0.0, 2.0, 2.0, 2.0, 2.0]
    >>> transitions_from_energies(U).tolist(), bisect_transitions(U, block=4).tolist()
    ([2, 3, 5], [5])
    >>> bisect_transitions(U, block=1).tolist()    # blocks of one step: every transition
    [2, 3, 5]
    """
    eps = _positive(eps, "eps", "a positive energy threshold")
    block = _count(block, "block")
    U = np.asarray(U, dtype=float)
    if U.ndim != 1 or U.size < 2:
        raise ValueError(f"U must be one-dimensional with at least 2 frames (one energy per frame), got shape "
                         f"{U.shape}")
    if not np.all(np.isfinite(U)):
        raise ValueError("U must be finite (the energy of every frame)")
    return np.array(_bisect(U.size, block, lambda a, b: abs(U[b] - U[a]) > eps), dtype=np.int64)


def _bisect(F, block, differ):
    """The bisection of frames 0..F-1 shared by :func:`bisect_transitions` and ``IHSTrajectory(mode="bisect")``.

    The blocks [0, block], [block, 2 block], ..., [.., F-1] are visited depth first from left to right; a block
    (a, b) for which ``differ(a, b)`` is true is halved at (a + b) // 2, down to single steps. Returns the sorted
    list of k with ``differ(k - 1, k)`` true. Once ``differ(a, b)`` has returned false, no later call has an end
    below b (the caller may forget frame a)."""
    ends = list(range(0, F - 1, block)) + [F - 1]
    stack = list(zip(ends[:-1], ends[1:]))[::-1]
    found = []
    while stack:
        a, b = stack.pop()
        if not differ(a, b):
            continue
        if b - a == 1:
            found.append(b)
            continue
        m = (a + b) // 2
        stack.append((m, b))
        stack.append((a, m))
    return found


def _ballistic_time(N, rho, T, dim, ballistic):
    N = _positive(N, "N", "a positive particle number")
    rho = _positive(rho, "rho", "a positive density")
    T = _positive(T, "T", "a positive temperature")
    if dim not in (2, 3) or isinstance(dim, bool):
        raise ValueError(f"dim must be 2 or 3, got {dim!r}")
    ballistic = _positive(ballistic, "ballistic", "a positive fraction of t0")
    a0 = rho ** (-1.0 / dim)
    return ballistic * a0 / math.sqrt(T), N


def reduced_time(times, N, rho, T, dim=3, N0=1000, ballistic=0.1):
    """Fig. 5(a)'s abscissa N t / (N0 t_ballistic), t_ballistic = ``ballistic`` t0, t0 = a0/sqrt(T), a0 = rho^(-1/d).

    >>> reduced_time([0.0, 0.1], N=2000, rho=1.0, T=1.0).tolist()
    [0.0, 2.0]
    """
    tb, N = _ballistic_time(N, rho, T, dim, ballistic)
    N0 = _positive(N0, "N0", "a positive particle number")
    return np.asarray(times, dtype=float) * N / (N0 * tb)


def reduced_rate(rates, N, rho, T, dim=3, N0=1000, ballistic=0.1, confidence=0.9, seed=0):
    """Fig. 5(b): the reduced IHS transition rate Γ t_ballistic N0 / N, mean over trajectories with a bootstrap CI.

    Parameters
    ----------
    rates : Γ of each trajectory (transitions per unit time, e.g. ``IHSTrajectory.rate``), shape (n,)
    N, rho, T, dim : particles, number density, temperature, dimension; a0 = rho^(-1/dim), t0 = a0 / sqrt(T)
    N0 : reference system size (paper: 1000); ballistic : t_ballistic / t0 (paper: 0.1, Appendix D 1)
    confidence : level of the BCa bootstrap interval (paper: 0.9; :func:`meso_kernels.analysis.stats.mean_ci`)
    seed : bootstrap seed

    Returns
    -------
    (mean, low, high) of Γ t_ballistic N0 / N. With one trajectory the interval is (nan, nan).

    >>> m, lo, hi = reduced_rate([1.0, 2.0, 3.0, 2.5], N=500, rho=1.0, T=4.0)   # t_ballistic = 0.05
    >>> round(m, 10), bool(lo <= m <= hi)
    (0.2125, True)
    """
    from .stats import mean_ci

    tb, N = _ballistic_time(N, rho, T, dim, ballistic)
    N0 = _positive(N0, "N0", "a positive particle number")
    r = np.asarray(rates, dtype=float).ravel()
    if r.size == 0:
        raise ValueError("rates is empty: give the rate of at least one trajectory")
    if not np.all(np.isfinite(r)) or np.any(r < 0):
        raise ValueError("rates must be finite and >= 0")
    x = r * tb * N0 / N
    if x.size == 1:
        return float(x[0]), math.nan, math.nan
    return mean_ci(x, confidence=confidence, seed=seed)


class IHSTrajectory:
    """Inherent structures along a trajectory and the transitions between them (paper Fig. 5, footnote 83).

    Parameters
    ----------
    model : the model of the trajectory
    eps : energy threshold (extensive, energy units) of a transition |ΔU_IHS| > eps, > 0; paper 1e-5
    ftol : quench convergence on max_i |F_i| (force units), > 0
    method : quench minimiser, "cg" or "fire" (:func:`meso_kernels.quench.quench`)
    max_step : largest displacement of any particle in one minimiser step (length units). Default (None): the
        model's entry of :data:`BASIN_MAX_STEP` (0.003 for IPL and SS, 0.001 for mBLJ, KA and SW), with which a CG
        quench reaches the steepest-descent minimum of the frame (checked up to N = 1000, except SW); a larger cap
        lets the line search jump into a neighbouring basin and inflates the transition count several-fold (FIRE's
        inertia does the same). Smaller caps cost more (IPL, N = 1000: 0.22, 0.27, 0.48 s per
        quench with 0.01, 0.003, 0.001).
    mode : "all" (default: quench every frame, the paper's count) or "bisect" (quench block ends, bisect blocks whose
        end IHS differ: cheaper, but misses back-and-forth transitions inside a block; see the module docstring and
        :func:`bisect_transitions`)
    x_tol : bisect mode: two IHS are the same when |ΔU| <= eps and max_i |x_i - x'_i| < x_tol (Euclidean norm per
        particle, minimum image; length units); the first author's criterion [code]
    block : bisect mode: frames per starting block (>= 1); frames 0, block, 2 block, ... and the last are always
        quenched; every even number of transitions inside a block whose ends share an IHS is missed, so the count
        falls short of mode "all" unless a block is short against the time between back-and-forth transitions
    keep_positions : mode "all": keep the inherent-structure positions of every frame (``positions``, float32,
        4 F N d bytes)
    max_unconverged : largest tolerated fraction of quenches that miss ``ftol`` (their energies are still used and
        their frames listed in ``unconverged``); more raises RuntimeError after the run
    max_steps : iteration limit per quench
    options : further keyword arguments of the minimiser (:func:`meso_kernels.minimize.cg` or ``fire``)

    Every quench starts from the MD frame itself (quenches are never chained from the previous IHS). In bisect mode
    frames that were not quenched take the IHS energy of their block's start, so ``energies`` is a step curve; a
    back-and-forth transition A -> B -> A inside a block whose ends are both A is missed. Mode "all" misses only
    what happens between two consecutive frames (footnote 83).

    ``compute(trajectory)`` returns ``self``; results (``times``, ``energies``, ``quenched``, ``transitions``,
    ``n_transitions``, ``excursions``, ``n_quenches``, ``n_unconverged``, ``unconverged``, ``duration``, ``rate``,
    ``wall_time``)
    raise RuntimeError before it.

    >>> import numpy as np
    >>> from meso_kernels.models import get_model
    >>> from meso_kernels.initial import random_configuration
    >>> from meso_kernels.quench import quench
    >>> m = get_model("ipl")
    >>> ihs, _ = quench(random_configuration(m, 128, 0.82, seed=2), m, ftol=1e-8)
    >>> rng = np.random.default_rng(0)
    >>> def jiggle(x):                       # a small random displacement with no centre-of-mass shift
    ...     dx = rng.normal(0.0, 0.01, x.shape)
    ...     return np.mod(x + dx - dx.mean(axis=0), ihs.box)
    >>> jiggled = [System(jiggle(ihs.positions), ihs.box, ihs.types) for k in range(9)]   # one basin, 9 frames
    >>> res = IHSTrajectory(m, mode="bisect", block=4).compute(Trajectory.from_systems(jiggled))
    >>> res.n_transitions, res.n_quenches, res.quenched.nonzero()[0].tolist()
    (0, 3, [0, 4, 8])
    """

    def __init__(self, model, eps=1e-5, ftol=1e-8, method="cg", mode="all", x_tol=1e-5, block=8,
                 max_step=None, max_unconverged=0.01, max_steps=100_000, options=None, keep_positions=False):
        self.model = model
        self.eps = _positive(eps, "eps", "a positive energy threshold (paper: 1e-5)")
        self.ftol = _positive(ftol, "ftol", "a positive force tolerance")
        if method not in METHODS:
            raise ValueError(f"unknown method={method!r}; allowed: {', '.join(METHODS)}")
        if mode not in MODES:
            raise ValueError(f"unknown mode={mode!r}; allowed: {', '.join(MODES)}")
        self.method, self.mode = method, mode
        self.x_tol = _positive(x_tol, "x_tol", "a positive distance")
        self.block = _count(block, "block")
        if isinstance(max_unconverged, bool) or not (0.0 <= float(max_unconverged) <= 1.0):
            raise ValueError(f"max_unconverged must be a fraction in [0, 1], got {max_unconverged!r}")
        self.max_unconverged = float(max_unconverged)
        self.max_steps = _count(max_steps, "max_steps")
        if max_step is None:
            max_step = BASIN_MAX_STEP.get(getattr(model, "name", None), 0.001)
        self.max_step = _positive(max_step, "max_step", "a positive distance (CG/FIRE step cap)")
        if options is not None and not isinstance(options, dict):
            raise ValueError(f"options must be a dict of minimiser options (e.g. {{'restart_every': 50}}) or None, "
                             f"got {type(options).__name__}")
        clash = sorted(set(options or {}) & {"ftol", "max_steps", "max_step"})
        if clash:
            raise ValueError(f"options must not hold {clash}: pass them as IHSTrajectory parameters")
        self.options = dict(options or {})
        if not isinstance(keep_positions, bool):
            raise ValueError(f"keep_positions must be True or False, got {keep_positions!r}")
        if keep_positions and mode != "all":
            raise ValueError("keep_positions=True needs mode='all' (bisect mode does not quench every frame)")
        self.keep_positions = keep_positions
        self._U = None

    def __repr__(self):
        head = (f"IHSTrajectory(model={self.model.name!r}, mode={self.mode!r}, eps={self.eps:g}, ftol={self.ftol:g}, "
                f"method={self.method!r}, max_step={self.max_step:g}, x_tol={self.x_tol:g}, block={self.block})")
        if self._U is None:
            return head + " [not computed]"
        return (f"{head}: {self.n_frames} frames over t = {self.duration:.6g}, {self.n_quenches} quenches "
                f"({self.n_unconverged} unconverged) in {self.wall_time:.1f} s, {self.n_transitions} transitions "
                f"({self.excursions.size} one-frame excursions), "
                f"rate {self.rate:.6g} per unit time")

    # --- computation ---------------------------------------------------------------------------------------------
    def compute(self, trajectory, progress=False):
        """Quench frames of ``trajectory`` (a :class:`Trajectory` or a sequence of System with one box; needs
        F >= 2 frames) and locate the IHS transitions. ``progress`` shows a tqdm bar of quenches. Returns self."""
        from ..quench import quench

        if not isinstance(trajectory, Trajectory):
            if isinstance(trajectory, System):
                raise ValueError("trajectory must be a Trajectory or a sequence of System, got a single System")
            trajectory = Trajectory.from_systems(trajectory)
        F = trajectory.n_frames
        if F < 2:
            raise ValueError(f"trajectory has {F} frame: transitions need at least 2 frames")
        trajectory.system(0).check_model(self.model)
        box = trajectory.box
        U = np.full(F, np.nan)
        quenched = np.zeros(F, dtype=bool)
        X = {}
        unconverged = []
        bar = None
        if progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=F if self.mode == "all" else None, desc="IHS quenches", unit="quench")
        t_start = time.perf_counter()

        def do(k):
            if quenched[k]:
                return
            ihs, res = quench(trajectory.system(k), self.model, method=self.method, ftol=self.ftol,
                              max_steps=self.max_steps, max_step=self.max_step, **self.options)
            U[k] = res.energy
            X[k] = ihs.positions
            quenched[k] = True
            if not res.converged:
                unconverged.append(k)
            if bar is not None:
                bar.update(1)

        def same(a, b):
            if abs(U[a] - U[b]) > self.eps:
                return False
            dx = X[a] - X[b]
            dx -= box * np.round(dx / box)
            return bool(np.max(np.einsum("ij,ij->i", dx, dx)) < self.x_tol ** 2)

        positions = None
        if self.mode == "all":
            if self.keep_positions:
                positions = np.empty((F, trajectory.N, trajectory.dim), dtype=np.float32)
            for k in range(F):
                do(k)
                x = X.pop(k)
                if positions is not None:
                    positions[k] = x
        else:
            def split(a, b):
                """Whether block (a, b) must be halved: its end IHS differ. Neighbouring frames are never split;
                their transition follows from U. A block whose ends agree takes U[a] throughout."""
                do(a)
                do(b)
                if b - a > 1 and not same(a, b):
                    return True
                if b - a > 1:
                    U[a + 1:b] = U[a]
                X.pop(a)                     # no later block ends below b: frame a is not compared again
                return False

            _bisect(F, self.block, split)
        if bar is not None:
            bar.close()
        self._U = U
        self._positions = positions
        self._times = trajectory.times.copy()
        self._quenched = quenched
        self._unconverged = np.array(sorted(unconverged), dtype=np.int64)
        self._wall = time.perf_counter() - t_start
        self._F = F
        n_bad = len(self._unconverged)
        if n_bad > self.max_unconverged * self.n_quenches:
            raise RuntimeError(f"{n_bad} of {self.n_quenches} quenches did not reach max|F_i| < ftol = {self.ftol:g} "
                               f"(frames {self._unconverged[:10].tolist()}...; allowed fraction max_unconverged = "
                               f"{self.max_unconverged}): raise max_steps, loosen ftol or try method='fire'")
        return self

    # --- results -------------------------------------------------------------------------------------------------
    def _require(self):
        if self._U is None:
            raise RuntimeError("IHSTrajectory results are not available before compute(); call .compute(trajectory)")

    @property
    def n_frames(self):
        """Number of frames F."""
        self._require()
        return self._F

    @property
    def times(self):
        """Frame times, shape (F,) (time units)."""
        self._require()
        return self._times.copy()

    @property
    def energies(self):
        """U_IHS per frame, shape (F,) (extensive, energy units). In bisect mode a frame that was not quenched
        carries the energy of its block's first frame (a step curve)."""
        self._require()
        return self._U.copy()

    @property
    def positions(self):
        """Inherent-structure positions of every frame, float32 (F, N, d), wrapped into the box (length units);
        only with ``keep_positions=True``."""
        self._require()
        if self._positions is None:
            raise RuntimeError("positions were not kept: construct IHSTrajectory(..., keep_positions=True)")
        return self._positions

    @property
    def quenched(self):
        """Which frames were quenched, bool (F,)."""
        self._require()
        return self._quenched.copy()

    @property
    def n_quenches(self):
        self._require()
        return int(self._quenched.sum())

    @property
    def unconverged(self):
        """Frames whose quench missed ftol (their energies are used)."""
        self._require()
        return self._unconverged.copy()

    @property
    def n_unconverged(self):
        self._require()
        return int(self._unconverged.size)

    @property
    def transitions(self):
        """Indices k (1 <= k < F) with |U_IHS(k) - U_IHS(k-1)| > eps: the IHS changed between frames k-1 and k."""
        self._require()
        return transitions_from_energies(self._U, self.eps)

    @property
    def n_transitions(self):
        self._require()
        return int(self.transitions.size)

    @property
    def excursions(self):
        """Frames visited for a single frame between two frames of one IHS energy (A -> B -> A); meaningful where
        consecutive frames were quenched (mode "all"). See :func:`single_frame_excursions`."""
        self._require()
        return single_frame_excursions(self._U, self.eps)

    @property
    def duration(self):
        """Time spanned, times[-1] - times[0] (time units)."""
        self._require()
        return float(self._times[-1] - self._times[0])

    @property
    def rate(self):
        """Γ = n_transitions / duration (transitions per unit time); :func:`reduced_rate` makes it Fig. 5(b)'s."""
        return self.n_transitions / self.duration

    @property
    def wall_time(self):
        """Seconds spent in compute()."""
        self._require()
        return self._wall
