"""Energy barriers of the observed transitions of an inherent-structure (IHS) trajectory (the landscape pictures of
the paper's Fig. 8, measured): the minimum-energy path between the two inherent structures on either side of each
transition, and the potential energy of the MD frames around it.

A stored IHS trajectory (:func:`meso_kernels.campaign.trajectories.ihs_trajectories`, the trajectory that keeps
``ihs_positions``) lists the frames k where the IHS energy jumped between frames k-1 and k. For each of them
:class:`TransitionBarriers`

1. re-quenches the two inherent structures A (frame k-1) and B (frame k) by CG from their stored float32 positions
   (already within ~1e-6 of the minimum, so a few hundred cheap iterations; the same per-step cap
   :data:`~meso_kernels.analysis.ihs.BASIN_MAX_STEP` as the trajectory's quenches, so that the quench stays in the
   basin). Two ends that fall into one minimum (largest particle displacement below ``x_tol``) are skipped as
   *same minimum*; otherwise each re-quenched energy must equal the stored one within ``energy_tol``, else the
   transition is skipped as *energy mismatch*;
2. runs a climbing-image nudged elastic band (:func:`meso_kernels.neb.neb`) from A to B, started on the straight
   line (``initial="line"``, the default) or (``initial="descent"``) on the two descent paths joined where the
   dynamics crossed (:mod:`meso_kernels.analysis.bandpath`): the MD frames k-1 and k (step 3) are quenched with
   their path recorded (CG, the same capped step); when these quenches end in A and B (largest particle
   displacement below ``x_tol``), the path A → frame k-1 → frame k → B (joined where the two descents part, with
   ``shortcut``), resampled to ``n_images`` images equally spaced in arc length, is the initial band. Otherwise (no
   MD frames, or the re-run dynamics drifted, e.g. on another CPU, and a descent ends elsewhere) the band starts on
   the straight line; :data:`INITIAL` records which start each band had. Its highest image is the saddle, and the
   barriers are extensive energies (the model's unit, not per particle)

       ΔE_forward = E_saddle - E_A,   ΔE_backward = E_saddle - E_B,   so ΔE_forward - ΔE_backward = E_B - E_A;

   they are also given in units of the trajectory's temperature T. A band that does not meet ``ftol`` within
   ``max_steps`` is kept with ``converged = False`` (its highest image bounds the saddle from above only roughly);
   a converged band whose climbing image is not above both ends (the exit from one end lies within an image
   spacing of it) is *end is highest*; neither gives a barrier;
3. where the trajectory stores its start (``start_positions``, ``start_velocities``), re-runs the MD deterministically
   (:func:`~meso_kernels.analysis.ihs.record_trajectory`, same step; only up to the last frame needed) and records the
   potential energy of the ``md_window`` frames on each side of the transition. A frame's *progress* along the
   transition is λ = (x - x_A)·D / |D|², D = x_B - x_A (minimum image): 0 at A, 1 at B; the band's images get the
   same coordinate, so band and MD frames can be drawn on one axis. The MD frames' potential energy sits about
   (d/2) N T above the inherent structures (equipartition): it says how high the thermal system is, not how high a
   local barrier is.

The band is relaxed in two stages within ``max_steps`` FIRE iterations: ``plain_steps`` of a plain NEB (no
climbing image), then the climbing-image band from where it got. A climbing image switched on from the start sits
wherever the initial path is highest and, with a poor path, climbs the wall it is on (the band's energy then rises
to thousands of T); relaxing first avoids most of that.

Costs (N = 1000, one core): a re-quench or a recorded descent ~0.5-3 s (IPL: CG capped at 0.003 per step, a few
thousand iterations from an MD frame), a band at most (n_images - 2) * max_steps force evaluations (9 images, 1000
iterations: some 20-60 s). ``max_transitions`` caps the count per trajectory. Measured on the default-size IPL
trajectory (first 4 transitions, 9 images, 1000 iterations): the two transitions in which 59 particles moved
converged from the straight line (843 iterations), the two in which 157 and 199 moved did not (a band through several
intermediate minima: its climbing image ran away). Started on the joined descent paths (``initial="descent"``, with
the shortcut) none of the four converged: the CG descents from thermal frames zigzag (path 25-41 length units for
end points 3.8-6.8 apart) and part from each other some 40 T above A, and the climbing stage ran away from that
long, high band; a kinked path A → split point → B did no better on the one transition tried. The descent start is
kept as an option and tested (on Müller–Brown it converges to the known saddle), not the default. Measured at the
default size (N = 1000) with 4 transitions x 9 images x 2000 iterations on a loaded 2-core machine: 35-82 s per
state point (IPL 67 s, mBLJ 82 s, SW 79 s, SS 35-47 s; bands 7-36 s each), 351 s for the six state points of Fig. 5.

Composite transitions. A and B may be joined through intermediate minima (typical when a hundred or more particles
move): a single band then slides into them and keeps stretching, and its climbing image can run away (energies of
thousands of T); without splitting such bands were reported as unconverged (17 of 43 bands converged at the default
size). With ``split=True`` (opt-in; the Fig. 8 page does not use it yet, see below) the band is split at its interior minima, as AutoNEB does
(:func:`composite_band`): after the plain stage, and again after the climbing stage if that did not converge, every
image below both neighbours by more than ``split_tol`` is quenched (CG, the same capped step as the ends); a minimum
M that is distinct from both ends (largest particle displacement above ``x_tol``) and below its image splits the
transition into A -> M -> B, and each segment gets a band of its own (same ``n_images``, ``max_steps`` and
``plain_steps``, started on the straight line), split again where needed, ``split_depth`` levels and
``split_segments`` segments at most. The composite's barriers are those of its highest saddle, measured from its
ends (extensive energies; not the sum of the segments' barriers):

    ΔE_forward = max_s E_saddle,s - E_A,   ΔE_backward = max_s E_saddle,s - E_B;

the transition counts as *converged* only if every segment's band converged (as *end is highest* if one of them
did not resolve its saddle), and ``n_segments`` (> 1), ``E_minima`` and ``E_segment_saddles`` say what it was made
of. Its profile (``path_s``, ``path_E``, ``path_lambda``) is the segments laid end to end, S (M - 1) + 1 points (the
arrays are nan-padded to the longest profile; :func:`band_profile` drops the padding). ``n_iter`` counts the FIRE
iterations of every band run for the transition, the abandoned (split) ones included. Measured at the default size
(9 images, 3000 iterations, loaded 2-core machine) on three transitions whose single band ran away (IPL T = 0.8
frames 1 and 6, 199 and 157 particles moved; SS ρ = 0.6 T = 1.2 frame 16, 22 moved): each was split at once into
the 4 segments allowed, at intermediate minima mostly 13-24 T *below* both ends, and none converged as a whole
(SS: all four climbing images stayed within 0.04 T of their lower end, largest force 0.3 against ftol = 1e-3;
IPL: in 2 and 3 of the 4 segments the climbing image ended a few T above its ends, in the others it still ran
away); each took 4-5 times the
wall time of the single band (950-1090 s against 180-280 s). Minima far below both ends suggest that the straight
line crosses basins the dynamics did not visit.

Why bands run away (diagnosed on SS ρ = 0.6, T = 1.2, frame 16; 22 particles moved): the straight line from A to B
peaks at 11.7 T, and the *plain* band (no climbing image) relaxes well: after 100, 300 and 1000 FIRE iterations its
image energies fall monotonically from A to an interior minimum 15 T below A and rise to B (-11.4 T), with the largest
perpendicular force 0.29. The exit from A is nearly barrierless (the split band puts it at 6e-5 T). The climbing
stage then takes the highest interior image, the one next to A, and drives it up along the tangent past A and up
the far wall of A's basin: 10^4 T after 3000 iterations, with FIRE's dt_max = 0.4 as with 0.03 (the largest
Hessian eigenvalue at A is 1520, so a time step is not the cause). A climbing image therefore needs an interior
maximum above both ends of its band; where the band is monotonic from an end, that end's barrier is below the band's
resolution and is the quantity to report (not a failed band).

``climb="auto"`` (opt-in; the default ``"always"`` keeps the behaviour above, and the keys of stored results) does
this for every band, a segment's band included: after the plain stage it climbs only if the relaxed plain band has
an interior image above both neighbours and above both ends (:func:`interior_maximum`). Otherwise the band is a
*barrierless exit* (:data:`STATUS` 5; :class:`BarrierlessBand`): no image climbs, the barrier from the higher end
is recorded as 0 and that from the lower end as E_high - E_low (extensive energies). The 0 is not a measured
number but a bound: the exit barrier is smaller than what the band resolves (the energy change over one image
spacing next to that end), and the plain band already relaxed perpendicular to the path. For
the statistic the page reports, the fraction of barriers below T, that is all that matters: such a barrier is
below T, and dropping it as unconverged (as "always" does, after the runaway) would bias the fraction low; so a
barrierless exit counts as measured in :meth:`TransitionBarriers.barriers_over_T` (and so in
:func:`summarize_barriers` and the page's statistics) and in :func:`chain_profiles`. (A band whose maximum is an
end only because it is poorly relaxed would also be classified so; the plain stage stops early once its forces
are below 10 ftol, and otherwise runs ``plain_steps`` iterations.) A band that does climb is guarded: once its
climbing image has stayed more than ``runaway_tol`` T (default 10 T) above the plain band's highest image for
:data:`RUNAWAY_ITERATIONS` (100) successive FIRE iterations (FIRE's first few overshoot), or ends there, the band
stops (:func:`~meso_kernels.neb.neb`'s ``monitor``) and counts as unconverged (``n_segments_runaway`` > 0), not
as a barrier of thousands of T. The tolerance is in units of T, the unit of the statistic: the plain band's
highest interior image lies within one image spacing of the ridge, so a climbing image that converges gains a
fraction of the barrier (on Müller–Brown with 9 images: 3.1 above the plain band's highest image, 3 % of the
A-C barrier of 106, overshooting to 3.4 on the way; on the tests' 2D IPL glass, N = 80, 7 images, T = 0.5:
0.11 T, after an overshoot to 32 T in FIRE's first 3 iterations; not yet measured on the campaign's bands), while
the runaways reach 10^3-10^4 T; a climb of more than 10 T above a relaxed band says that the band is far from a
minimum-energy path, not that it measured a barrier (such a barrier would be above T anyway). Handling
this on the Fig. 8 page (``climb="auto"``, and ``split=True``: its stored results would be recomputed, about 4-5
times the present 25 CPU-minutes) is the next step; the page still runs single bands (``split=False``) that
always climb.

>>> import numpy as np
>>> summarize_barriers([0.5, 2.0, 3.0, 0.1], seed=0)["below_T"]
0.5
"""
import math
import time
import warnings

import numpy as np

from ..system import System

__all__ = ["TransitionBarriers", "STATUS", "INITIAL", "summarize_barriers", "chain_profiles", "band_profile",
           "composite_band", "CompositeBand", "interior_minima", "interior_maximum", "BarrierlessBand", "CLIMB",
           "RUNAWAY_ITERATIONS"]

#: what happened to each transition: a band was run (converged or not), or it was skipped. A composite transition
#: (split into segments, ``n_segments`` > 1) is *converged* when every segment's band converged. *barrierless exit*
#: (only with ``climb="auto"``): the relaxed plain band has no interior maximum above both ends, so no image climbed;
#: the exit from the higher end is recorded as a barrier 0 (below the band's resolution), that from the lower end as
#: E_high - E_low; it is a measured barrier, like *converged* (see "Why bands run away" in the module docstring)
STATUS = {0: "converged", 1: "unconverged", 2: "same minimum", 3: "energy mismatch", 4: "end is highest",
          5: "barrierless exit"}
_OK, _UNCONV, _SAME, _MISMATCH, _END_HIGHEST, _BARRIERLESS = 0, 1, 2, 3, 4, 5
#: the statuses that give a barrier (:meth:`TransitionBarriers.barriers_over_T`)
_MEASURED = (_OK, _BARRIERLESS)
#: with ``climb="auto"``: a climbing stage stops once its highest image has stayed more than ``runaway_tol`` above
#: the plain band's highest image for this many successive FIRE iterations. Its first few iterations overshoot (on
#: the test glass, 2D IPL N = 80, T = 0.5: up to 32 T above the plain band's highest image for 3 iterations, on a
#: band that then converged at a saddle 0.8 T above A); a runaway stays up for thousands
RUNAWAY_ITERATIONS = 100
#: values of the ``climb`` option (:class:`TransitionBarriers`, :func:`composite_band`)
CLIMB = ("always", "auto")


def _classify(out):
    """A converged band whose climbing image is not above both ends (E_saddle <= max(E_A, E_B)) has not resolved a
    saddle: the band's highest point is an end, the exit from that minimum lies within one image spacing of it. Its
    status becomes *end is highest* (no barrier is taken from it)."""
    st = np.array(out["status"], dtype=np.int64, copy=True)
    n = st.size
    if "n_segments" not in out:     # arrays of a run before composite bands: every band was one segment
        out["n_segments"] = (np.asarray(out["init"]) >= 0).astype(np.int64) if "init" in out else \
            np.isfinite(np.asarray(out["E_saddle"], dtype=float)).astype(np.int64)
        out["n_segments_converged"] = np.where(st == _UNCONV, 0, out["n_segments"])
        out["E_minima"] = np.full((n, 0), np.nan)
        out["E_segment_saddles"] = np.where(out["n_segments"][:, None] > 0,
                                            np.asarray(out["E_saddle"], dtype=float)[:, None], np.nan)
    if "n_segments_runaway" not in out:     # arrays of a run before the runaway guard (climb="auto") existed
        out["n_segments_runaway"] = np.zeros(n, dtype=np.int64)
    if st.size:
        top = np.fmax(np.asarray(out["E_a"], dtype=float), np.asarray(out["E_b"], dtype=float))
        st[(st == _OK) & ~(np.asarray(out["E_saddle"], dtype=float) > top)] = _END_HIGHEST
    out["status"] = st
    return out
#: how each band was started (array ``init``): -1 no band was run
INITIAL = {0: "straight line (asked for)", 1: "descent paths", 2: "straight line (no MD start stored)",
           3: "straight line (a descent missed A or B)"}
_LINE, _DESCENT, _NO_MD, _MISSED = 0, 1, 2, 3
_REQUIRED = ("ihs_positions", "energies", "transitions", "box", "types", "T")


def _positive(value, name):
    ok = (not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))
          and math.isfinite(value) and value > 0)
    if not ok:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def _check_climb(climb):
    if not isinstance(climb, str) or climb not in CLIMB:
        raise ValueError(f"climb must be one of {', '.join(repr(c) for c in CLIMB)}, got {climb!r}")
    return climb


def _min_image(d, box):
    return d - box * np.round(d / box)


class TransitionBarriers:
    """Barriers of the observed IHS transitions of one trajectory (see the module docstring).

    Parameters
    ----------
    model : the trajectory's model (:func:`meso_kernels.statepoints.model_for`)
    n_images : images of each band including both ends (>= 3; default 9)
    spring : band spring constant (energy/length²; default 5)
    ftol : band convergence on max_i |F_i| (force units; default 1e-3: the barrier's error is of order
        ftol² / curvature, far below T)
    max_steps : FIRE iterations per band at most (default 3000): the cost cap per transition
    max_transitions : transitions analysed at most (the first ones of the trajectory; None: all)
    requench_ftol : force tolerance of the re-quench of the ends (default 1e-10; the band needs ends below ftol)
    max_step : per-step displacement cap of the re-quench (length; default: the model's ``BASIN_MAX_STEP``)
    energy_tol : |E_requenched - E_stored| allowed (extensive energy; default 1e-6)
    x_tol : ends closer than this (largest particle displacement, length) are one minimum (default 1e-5)
    md_window : MD frames kept on each side of a transition (default 5; 0: no MD profile)
    initial : "line" (default: the straight line from A to B) or "descent" (the band starts on the joined descent
        paths from the MD frames on either side of the transition; see the module docstring; so far it converged
        less often, see Costs)
    descent_points : points kept of each descent path (>= 3; default 256; the band is resampled from them)
    shortcut : join the descent paths where they part rather than at the MD frames (default True; see
        :func:`~meso_kernels.analysis.bandpath.split_points`): drops the thermal excursion the two share
    plain_steps : FIRE iterations of a plain NEB (no climbing image) before the climbing band, within ``max_steps``
        (default: max_steps // 3; 0: climb from the start). A climbing image placed on a poor initial path climbs
        the wall it sits on; relaxing the band first puts it near the ridge. The plain stage stops early once its
        forces are below 10 ftol.
    split : split a band at its interior minima into segments (default False: one band per transition; see
        *Composite transitions* in the module docstring)
    split_depth : split levels at most (integer >= 0; default 2; 0: never split)
    split_segments : segments per transition at most (integer >= 1; default 4; 1: never split). Each segment costs
        up to a band's ``max_steps`` iterations, so a transition costs up to about ``split_segments`` bands.
    split_tol : how far below both neighbours an image must lie to be an interior minimum (extensive energy, the
        model's unit; default 1e-6, far above the roundoff of a total energy of N = 1000 particles, ~1e-12)
    climb : when a band's climbing stage runs: "always" (default: after the plain stage, whatever the band looks
        like) or "auto" (only where the relaxed plain band has an interior image above both neighbours and both
        ends; otherwise the band is a *barrierless exit*, and the climbing stage has a runaway guard; see "Why bands
        run away" in the module docstring). "auto" needs ``plain_steps`` >= 1.
    runaway_tol : with ``climb="auto"``: a climbing image whose energy stays more than ``runaway_tol`` T above
        the plain band's highest image (for :data:`RUNAWAY_ITERATIONS` iterations, or at the end) stops its band,
        which counts as unconverged (``n_segments_runaway``), not as a barrier (in units of the trajectory's
        temperature T, > 0; default 10: see the module docstring)

    ``compute(trajectory)`` takes a dict with ``ihs_positions`` (F, N, d), ``energies`` (F,), ``transitions``,
    ``box``, ``types``, ``T`` (and optionally ``times``, ``start_positions``, ``start_velocities`` to re-run the MD
    frames, or the MD ``frames`` (F, N, d) themselves, for the MD profile and the descent-path bands)
    and returns self. Results are arrays over the analysed transitions (:attr:`arrays`); :meth:`from_arrays`
    rebuilds the object from them (what a cache stores).
    """

    def __init__(self, model, n_images=9, spring=5.0, ftol=1e-3, max_steps=3000, max_transitions=None,
                 requench_ftol=1e-10, max_step=None, energy_tol=1e-6, x_tol=1e-5, md_window=5, initial="line",
                 descent_points=256, shortcut=True, plain_steps=None, split=False, split_depth=2, split_segments=4,
                 split_tol=1e-6, climb="always", runaway_tol=10.0):
        from .ihs import BASIN_MAX_STEP
        self.model = model
        if isinstance(n_images, bool) or not isinstance(n_images, (int, np.integer)) or n_images < 3:
            raise ValueError(f"n_images must be an integer >= 3, got {n_images!r}")
        self.n_images = int(n_images)
        self.spring = _positive(spring, "spring")
        self.ftol = _positive(ftol, "ftol")
        if isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer)) or max_steps < 1:
            raise ValueError(f"max_steps must be an integer >= 1, got {max_steps!r}")
        self.max_steps = int(max_steps)
        if max_transitions is not None and (isinstance(max_transitions, bool)
                                            or not isinstance(max_transitions, (int, np.integer))
                                            or max_transitions < 0):
            raise ValueError(f"max_transitions must be None or an integer >= 0, got {max_transitions!r}")
        self.max_transitions = None if max_transitions is None else int(max_transitions)
        self.requench_ftol = _positive(requench_ftol, "requench_ftol")
        if self.requench_ftol >= self.ftol:
            raise ValueError(f"requench_ftol = {requench_ftol!r} must be below ftol = {ftol!r}: the band's ends must "
                             f"be minima to its own tolerance")
        if max_step is None:
            max_step = BASIN_MAX_STEP.get(getattr(model, "name", None), 0.001)
        self.max_step = _positive(max_step, "max_step")
        self.energy_tol = _positive(energy_tol, "energy_tol")
        self.x_tol = _positive(x_tol, "x_tol")
        if isinstance(md_window, bool) or not isinstance(md_window, (int, np.integer)) or md_window < 0:
            raise ValueError(f"md_window must be an integer >= 0, got {md_window!r}")
        self.md_window = int(md_window)
        if initial not in ("descent", "line"):
            raise ValueError(f"initial must be 'descent' or 'line', got {initial!r}")
        self.initial = initial
        if isinstance(descent_points, bool) or not isinstance(descent_points, (int, np.integer)) or descent_points < 3:
            raise ValueError(f"descent_points must be an integer >= 3, got {descent_points!r}")
        self.descent_points = int(descent_points)
        self.shortcut = bool(shortcut)
        if plain_steps is None:
            plain_steps = self.max_steps // 3
        if isinstance(plain_steps, bool) or not isinstance(plain_steps, (int, np.integer)) or not (
                0 <= plain_steps < self.max_steps):
            raise ValueError(f"plain_steps must be an integer in 0..max_steps-1, got {plain_steps!r}")
        self.plain_steps = int(plain_steps)
        if not isinstance(split, (bool, np.bool_)):
            raise ValueError(f"split must be True or False, got {split!r}")
        self.split = bool(split)
        self.split_depth = _check_int(split_depth, "split_depth", 0)
        self.split_segments = _check_int(split_segments, "split_segments", 1)
        self.split_tol = _positive(split_tol, "split_tol")
        self.climb = _check_climb(climb)
        self.runaway_tol = _positive(runaway_tol, "runaway_tol")
        if self.climb == "auto" and self.plain_steps == 0:
            raise ValueError("climb='auto' decides from the relaxed plain band whether to climb: it needs "
                             "plain_steps >= 1, got plain_steps=0")
        self._a = None

    def params(self):
        """The options as a dict (what a cache key holds)."""
        p = {"n_images": self.n_images, "spring": self.spring, "ftol": self.ftol, "max_steps": self.max_steps,
                "max_transitions": self.max_transitions, "requench_ftol": self.requench_ftol,
                "max_step": self.max_step, "energy_tol": self.energy_tol, "x_tol": self.x_tol,
                "md_window": self.md_window, "initial": self.initial, "descent_points": self.descent_points,
                "shortcut": self.shortcut, "plain_steps": self.plain_steps}
        if self.split:   # without splitting, the keys of results stored before the option existed stay valid
            p.update(split=True, split_depth=self.split_depth, split_segments=self.split_segments,
                     split_tol=self.split_tol)
        if self.climb != "always":   # likewise: the default climbing stage keeps the keys of stored results
            p.update(climb=self.climb, runaway_tol=self.runaway_tol)
        return p

    # --- input ---------------------------------------------------------------------------------------------------
    @staticmethod
    def _check(traj):
        if not hasattr(traj, "keys"):
            raise ValueError(f"trajectory must be a dict of arrays (a stored IHS trajectory), got "
                             f"{type(traj).__name__}")
        missing = [k for k in _REQUIRED if k not in traj]
        if missing:
            hint = (" (only the first trajectory of a state point keeps its IHS positions: ihs_tasks(..., "
                    "keep_positions=1))" if "ihs_positions" in missing else "")
            raise ValueError(f"trajectory lacks {', '.join(missing)}{hint}")
        X = np.asarray(traj["ihs_positions"])
        U = np.asarray(traj["energies"], dtype=float)
        if X.ndim != 3 or X.shape[0] != U.shape[0]:
            raise ValueError(f"ihs_positions must have shape (F, N, d) with F = len(energies) = {U.shape[0]}, got "
                             f"{X.shape}")
        tr = np.asarray(traj["transitions"], dtype=np.int64).ravel()
        if tr.size and (tr.min() < 1 or tr.max() >= U.shape[0]):
            raise ValueError(f"transitions must be frame indices in 1..{U.shape[0] - 1}, got {tr.min()}..{tr.max()}")
        T = float(np.asarray(traj["T"]))
        if not (math.isfinite(T) and T > 0):
            raise ValueError(f"T must be a positive temperature, got {T!r}")
        return X, U, tr, np.asarray(traj["box"], dtype=float), np.asarray(traj["types"]), T

    # --- computation ---------------------------------------------------------------------------------------------
    def compute(self, traj, progress=False):
        """Analyse the transitions of ``traj`` (see the class docstring); ``progress`` shows a tqdm bar."""
        from ..neb import neb
        from ..quench import quench
        from .bandpath import PathRecorder, arc_length, joined_path, min_image, resample_path

        X, U, tr, box, types, T = self._check(traj)
        System(X[0].astype(float), box, types).check_model(self.model)
        if self.max_transitions is not None:
            tr = tr[:self.max_transitions]
        n, M, W = tr.size, self.n_images, 2 * self.md_window + 2
        out = {"frames": tr.copy(), "status": np.full(n, _MISMATCH, dtype=np.int64),
               "E_a": np.full(n, np.nan), "E_b": np.full(n, np.nan), "E_saddle": np.full(n, np.nan),
               "forward": np.full(n, np.nan), "backward": np.full(n, np.nan),
               "n_iter": np.zeros(n, dtype=np.int64), "max_force": np.full(n, np.nan),
               "distance": np.full(n, np.nan), "n_moved": np.zeros(n, dtype=np.int64),
               "path_s": np.full((n, M), np.nan), "path_E": np.full((n, M), np.nan),
               "path_lambda": np.full((n, M), np.nan), "interior_minima": np.zeros(n, dtype=np.int64),
               "md_frame": np.full((n, W), -1, dtype=np.int64), "md_E": np.full((n, W), np.nan),
               "md_lambda": np.full((n, W), np.nan), "wall": np.zeros(n), "T": np.array(T),
               "init": np.full(n, -1, dtype=np.int64), "init_length": np.full(n, np.nan),
               "n_segments": np.zeros(n, dtype=np.int64), "n_segments_converged": np.zeros(n, dtype=np.int64),
               "n_segments_runaway": np.zeros(n, dtype=np.int64)}
        paths, minima, seg_saddles = [None] * n, [np.zeros(0)] * n, [np.zeros(0)] * n
        ends = {}

        def end(f):
            if f not in ends:
                s, r = quench(System(X[f].astype(float), box, types), self.model, method="cg",
                              ftol=self.requench_ftol, max_step=self.max_step)
                ends[f] = (s, r.energy, bool(r.converged))
            return ends[f]

        md = self._md_frames(traj, tr, box, types, T)
        descents = {}

        def descent(f):
            """(end System, path (P, N, d)) of the capped CG quench of MD frame f."""
            if f not in descents:
                rec = PathRecorder(md[0][f], self.descent_points)
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", category=RuntimeWarning)
                    s, r = quench(System(md[0][f], box, types), self.model, method="cg", ftol=self.requench_ftol,
                                  max_step=self.max_step, callback=rec)
                descents[f] = (s, rec.path(r.x), bool(r.converged))
            return descents[f]

        def initial_band(k, a, b):
            """(images or None, INITIAL code, length of the joined path)"""
            if self.initial == "line":
                return None, _LINE, math.nan
            if md is None:
                return None, _NO_MD, math.nan
            (ea, pa, ca), (eb, pb, cb) = descent(k - 1), descent(k)
            far = [float(np.linalg.norm(_min_image(e.positions - m.positions, box), axis=1).max())
                   for e, m in ((ea, a), (eb, b))]
            if not (ca and cb) or max(far) >= self.x_tol:
                return None, _MISSED, math.nan
            disp = min_image(box)
            J = joined_path(pa, pb, start=a.positions, end=b.positions, displacement=disp, shortcut=self.shortcut)
            return resample_path(J, M, disp), _DESCENT, float(arc_length(J)[-1])

        bar = None
        if progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=n, desc="barriers", unit="transition")
        for j, k in enumerate(tr):
            t_start = time.perf_counter()
            (a, Ea, ca), (b, Eb, cb) = end(int(k) - 1), end(int(k))
            out["E_a"][j], out["E_b"][j] = Ea, Eb
            D = _min_image(b.positions - a.positions, box)
            dn = np.linalg.norm(D, axis=1)
            out["distance"][j] = float(np.linalg.norm(D))
            out["n_moved"][j] = int((dn > 0.2 * (np.prod(box) / len(types)) ** (1 / box.size)).sum())
            if dn.max() < self.x_tol:     # one minimum: then one end's stored energy cannot match either
                out["status"][j] = _SAME
            elif not (ca and cb) or abs(Ea - U[k - 1]) > self.energy_tol or abs(Eb - U[k]) > self.energy_tol:
                out["status"][j] = _MISMATCH
            else:
                images, out["init"][j], out["init_length"][j] = initial_band(int(k), a, b)
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", message="neb did not converge", category=RuntimeWarning)
                    try:
                        res = self._composite(neb, quench, a, b, images, T)
                    except FloatingPointError:
                        res = None
                if res is None:
                    out["status"][j] = _UNCONV
                else:
                    out["status"][j] = _OK if res.converged else _UNCONV
                    if res.converged and res.barrierless:
                        out["status"][j] = _BARRIERLESS     # the highest point is an end of a barrierless band
                    elif res.converged and any(
                            getattr(r, "outcome", "saddle") == "saddle"
                            and not r.saddle_energy > max(r.energies[0], r.energies[-1]) for r in res.segments):
                        out["status"][j] = _END_HIGHEST     # a segment has not resolved its saddle
                    out["n_segments_runaway"][j] = sum(getattr(r, "outcome", "") == "runaway" for r in res.segments)
                    out["E_saddle"][j] = res.saddle_energy
                    out["forward"][j], out["backward"][j] = res.barrier_forward, res.barrier_backward
                    out["n_iter"][j] = res.n_iter
                    out["max_force"][j] = max(max(r.max_perpendicular_force, r.climbing_force)
                                              for r in res.segments)
                    out["n_segments"][j] = res.n_segments
                    out["n_segments_converged"][j] = sum(bool(r.converged) for r in res.segments)
                    P = res.path
                    dd = (P - P[0]).reshape(P.shape[0], -1)
                    paths[j] = (res.path_coordinate, res.energies, dd @ D.ravel() / (D.ravel() @ D.ravel()))
                    minima[j], seg_saddles[j] = res.E_minima, res.saddle_energies
                    out["interior_minima"][j] = res.interior_minima
            if md is not None:
                lo = max(0, int(k) - 1 - self.md_window)
                fr = np.arange(lo, min(md[0].shape[0], int(k) + 1 + self.md_window))
                out["md_frame"][j, :fr.size] = fr
                out["md_E"][j, :fr.size] = md[1][fr]
                dx = _min_image(md[0][fr] - a.positions, box).reshape(fr.size, -1)
                out["md_lambda"][j, :fr.size] = dx @ D.ravel() / (D.ravel() @ D.ravel())
            out["wall"][j] = time.perf_counter() - t_start
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        # the band profiles, padded with nan to the longest path (M images unless a transition was split)
        width = max([M] + [p[0].size for p in paths if p is not None])
        nm = max([0] + [m.size for m in minima])
        for name, w in (("path_s", width), ("path_E", width), ("path_lambda", width), ("E_minima", nm),
                        ("E_segment_saddles", nm + 1)):
            out[name] = np.full((n, w), np.nan)
        for j in range(n):
            if paths[j] is not None:
                for name, v in zip(("path_s", "path_E", "path_lambda"), paths[j]):
                    out[name][j, :v.size] = v
                out["E_minima"][j, :minima[j].size] = minima[j]
                out["E_segment_saddles"][j, :seg_saddles[j].size] = seg_saddles[j]
        self._a = _classify(out)
        return self

    def _composite(self, neb, quench, a, b, images, T):
        """The (composite) band from ``images`` (None: the straight line): each band ``plain_steps`` of plain NEB,
        then CI-NEB (with ``climb="auto"``: only where the plain band has an interior maximum, guarded against
        runaway by ``runaway_tol`` T), split at its interior minima (:func:`composite_band`)."""
        box, types = a.box, a.types

        def band(p, q, climb, images, max_steps, monitor=None):
            return neb(p, q, self.model, n_images=self.n_images, spring=self.spring,
                       ftol=self.ftol if climb else 10 * self.ftol, max_steps=max_steps, images=images,
                       climb=climb, monitor=monitor)

        def minimum(x):
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", category=RuntimeWarning)
                s, r = quench(System.wrapped(np.asarray(x), box, types), self.model, method="cg",
                              ftol=self.requench_ftol, max_step=self.max_step)
            return s, float(r.energy), bool(r.converged)

        def distance(p, q):
            return float(np.linalg.norm(_min_image(p.positions - q.positions, box), axis=1).max())

        return composite_band(a, b, band, minimum, distance, plain_steps=self.plain_steps, max_steps=self.max_steps,
                              split=self.split, max_depth=self.split_depth, max_segments=self.split_segments,
                              dip_tol=self.split_tol, x_tol=self.x_tol, images=images, climb=self.climb,
                              runaway_tol=self.runaway_tol * T)

    def _md_frames(self, traj, tr, box, types, T):
        """(positions (F', N, d), potential energies (F',)) of the MD frames 0..F'-1 (the trajectory's ``frames``
        where given, else re-run from its start), or None."""
        stored = all(k in traj for k in ("start_positions", "start_velocities", "times"))
        if (self.md_window == 0 and self.initial == "line") or tr.size == 0 or not (stored or "frames" in traj):
            return None
        from ..forces import ForceField
        from .ihs import record_trajectory
        ff = ForceField(self.model, box)
        t = np.ascontiguousarray(types, dtype=np.int64)
        if "frames" in traj:
            X = np.asarray(traj["frames"], dtype=float)
            if X.shape != np.asarray(traj["ihs_positions"]).shape:
                raise ValueError(f"frames must have the shape of ihs_positions, got {X.shape}")
            return X, np.array([ff.compute(x, t, check=False)[0] for x in X])
        times = np.asarray(traj["times"], dtype=float)
        nframes = min(len(times), int(tr.max()) + 1 + self.md_window)
        start = System(np.asarray(traj["start_positions"], dtype=float), box, types,
                       np.asarray(traj["start_velocities"], dtype=float))
        run = record_trajectory(start, self.model, T, nframes, dt=float(times[1] - times[0]))
        E = np.array([ff.compute(x, t, check=False)[0] for x in run.frames])
        return run.frames, E

    # --- results -------------------------------------------------------------------------------------------------
    @classmethod
    def from_arrays(cls, model, arrays, **options):
        """A computed object from :attr:`arrays` (e.g. loaded from a cache)."""
        self = cls(model, **options)
        self._a = _classify({k: np.asarray(v) for k, v in arrays.items()})
        return self

    def _require(self):
        if self._a is None:
            raise RuntimeError("TransitionBarriers results are not available before compute(); call "
                               ".compute(trajectory)")

    @property
    def arrays(self):
        """All results as a dict of arrays (per analysed transition, in trajectory order). Energies are extensive
        (the model's unit): ``E_a``, ``E_b``, ``E_saddle`` (the highest saddle), ``forward``, ``backward``,
        ``path_E``, ``md_E``, ``E_minima`` (n, K: the intermediate minima of a composite transition in path order,
        nan-padded), ``E_segment_saddles`` (n, K + 1: each segment's climbing image); ``n_segments`` (0: no band
        result: skipped, or the band hit overlapping particles; 1: one band; S > 1: a composite of S bands),
        ``n_segments_converged`` (of them, the bands that converged); ``path_s``/``path_E``/``path_lambda`` (n, P),
        P = M or, when a transition was split, the longest S (M - 1) + 1, nan-padded; ``interior_minima``: images
        still below both neighbours inside the segments' bands (junctions not counted)."""
        self._require()
        return dict(self._a)

    @property
    def T(self):
        self._require()
        return float(self._a["T"])

    @property
    def status(self):
        """Per transition: a key of :data:`STATUS` (0 converged, 1 unconverged, 2 same minimum, 3 energy
        mismatch, 4 end is highest: converged, but the climbing image is not above both ends). A composite
        transition (``n_segments`` > 1) is converged if all its segments' bands converged, unconverged if one did
        not, and end is highest if a segment's climbing image is not above both of its ends. 5 barrierless exit
        (``climb="auto"`` only): no segment climbed to the transition's highest point, an end of a band without
        an interior maximum (the barrier from that end is 0)."""
        self._require()
        return self._a["status"].copy()

    @property
    def converged(self):
        """bool per transition: a band was run and met ftol."""
        return self.status == _OK

    def counts(self):
        """``{status name: count}`` over the analysed transitions."""
        s = self.status
        return {name: int(np.sum(s == code)) for code, name in STATUS.items()}

    @property
    def forward(self):
        """Forward barriers E_saddle - E_A (extensive energy), nan where no band ran."""
        self._require()
        return self._a["forward"].copy()

    @property
    def backward(self):
        """Backward barriers E_saddle - E_B (extensive energy), nan where no band ran."""
        self._require()
        return self._a["backward"].copy()

    @property
    def measured(self):
        """bool per transition: its barriers are measurements (status converged or barrierless exit)."""
        return np.isin(self.status, _MEASURED)

    def barriers_over_T(self, converged_only=True):
        """Forward and backward barriers of the measured transitions (:attr:`measured`: converged bands, and
        barrierless exits with their barrier 0) together, in units of T, shape (2 n_ok,); ``converged_only=False``:
        of every band run."""
        ok = self.measured if converged_only else np.isfinite(self.forward)
        return np.concatenate([self.forward[ok], self.backward[ok]]) / self.T


# ---------------------------------------------------------------------------------------------------------------------
# composite transitions: a band split at its interior minima
# ---------------------------------------------------------------------------------------------------------------------

def _check_int(value, name, minimum):
    """An integer >= minimum, else ValueError naming ``name`` (the NEB's own check)."""
    from ..neb import _check_number
    return _check_number(name, value, minimum=minimum, integer=True)


def interior_minima(energies, tol=0.0):
    """Indices i (1..M-2) of the images below both neighbours by more than ``tol`` (energy):
    E_i < E_{i-1} - tol and E_i < E_{i+1} - tol, in band order.

    >>> interior_minima([0.0, 2.0, 1.0, 3.0, 0.5]).tolist()
    [2]
    """
    E = np.asarray(energies, dtype=float)
    if E.size < 3:
        return np.zeros(0, dtype=np.int64)
    inner = E[1:-1]
    return np.flatnonzero((inner < E[:-2] - tol) & (inner < E[2:] - tol)) + 1


def interior_maximum(energies):
    """Index of the highest interior image if it is above both neighbours and above both ends (a ridge the band
    resolves: a climbing image there climbs to a saddle), else None (the band is monotonic, or its maximum is an
    end). Strict comparisons (energy).

    >>> interior_maximum([0.0, 2.0, 1.0, 3.0, 0.5]), interior_maximum([0.0, -1.0, -0.5, -2.0])
    (3, None)
    """
    E = np.asarray(energies, dtype=float)
    if E.size < 3:
        return None
    i = int(np.argmax(E[1:-1])) + 1
    return i if (E[i] > E[i - 1] and E[i] > E[i + 1] and E[i] > max(E[0], E[-1])) else None


class BarrierlessBand:
    """A relaxed plain band without an interior maximum above both ends (``climb="auto"`` of
    :func:`composite_band`): no image climbed. It reads like a band result (the plain band's ``path``,
    ``energies``, ``path_coordinate``, ``max_perpendicular_force``, ...), with its higher end as the "saddle":
    ``saddle_energy`` = max(E_first, E_last), so the barrier from the higher end is 0 and that from the lower end
    the ends' energy difference (energy, the landscape's unit). ``converged`` is True (nothing is left to
    converge: the barrier is below the band's resolution), ``n_iter`` 0 (no climbing iterations; ``plain_iter``:
    the plain stage's), ``climbing_force`` 0, ``outcome`` "barrierless"."""

    outcome = "barrierless"
    converged = True
    climb = False
    n_iter = 0
    climbing_force = 0.0

    def __init__(self, plain, plain_iter):
        self.plain = plain
        self.plain_iter = int(plain_iter)
        E = np.asarray(plain.energies, dtype=float)
        self.saddle_index = 0 if E[0] >= E[-1] else E.size - 1

    def __getattr__(self, name):
        if name == "plain":
            raise AttributeError(name)
        return getattr(self.plain, name)

    @property
    def saddle_energy(self):
        return float(self.plain.energies[self.saddle_index])

    @property
    def saddle(self):
        return np.asarray(self.plain.path)[self.saddle_index]

    @property
    def barrier_forward(self):
        return self.saddle_energy - float(self.plain.energies[0])

    @property
    def barrier_backward(self):
        return self.saddle_energy - float(self.plain.energies[-1])


class CompositeBand:
    """What :func:`composite_band` found: the bands of the segments A = M_0 -> M_1 -> ... -> M_S = B, in order.

    ``segments``: the band results (``NEBResult``-like: ``path``, ``energies``, ``path_coordinate``,
    ``saddle_energy``, ``converged``, ...); ``minima``: the S - 1 intermediate minima (as the quench returned them),
    ``E_minima`` their energies; ``n_iter``: FIRE iterations of every band run, including the bands that were split
    (the cost); ``depth``: the deepest split level reached (0: not split). Energies in the landscape's unit
    (extensive for a model)."""

    def __init__(self, segments, minima, E_minima, n_iter, depth):
        self.segments = list(segments)
        self.minima = list(minima)
        self.E_minima = np.asarray(E_minima, dtype=float)
        self.n_iter = int(n_iter)
        self.depth = int(depth)

    @property
    def n_segments(self):
        return len(self.segments)

    @property
    def converged(self):
        """Every segment's band converged (a barrierless segment counts as converged)."""
        return all(bool(r.converged) for r in self.segments)

    @property
    def outcomes(self):
        """Per segment: "saddle" (a climbing band, or a band from ``climb="always"``), "barrierless" (no interior
        maximum: no climbing) or "runaway" (the climbing stage stopped by the runaway guard)."""
        return [getattr(r, "outcome", "saddle") for r in self.segments]

    @property
    def barrierless(self):
        """The highest point of the composite is an end of a barrierless segment, not a climbed saddle: no
        "saddle" segment reaches :attr:`saddle_energy`."""
        top = self.saddle_energy
        return not any(o == "saddle" and r.saddle_energy >= top for o, r in zip(self.outcomes, self.segments))

    @property
    def runaway(self):
        """A segment's climbing stage was stopped by the runaway guard."""
        return "runaway" in self.outcomes

    @property
    def E_a(self):
        return float(self.segments[0].energies[0])

    @property
    def E_b(self):
        return float(self.segments[-1].energies[-1])

    @property
    def saddle_energies(self):
        """The climbing image's energy of each segment, shape (S,)."""
        return np.array([r.saddle_energy for r in self.segments])

    @property
    def saddle_energy(self):
        """The highest saddle over all segments: max_s E_saddle,s."""
        return float(self.saddle_energies.max())

    @property
    def barrier_forward(self):
        """max_s E_saddle,s - E_A."""
        return self.saddle_energy - self.E_a

    @property
    def barrier_backward(self):
        """max_s E_saddle,s - E_B."""
        return self.saddle_energy - self.E_b

    @property
    def energies(self):
        """The segments' image energies laid end to end (a junction, an intermediate minimum, once)."""
        return np.concatenate([np.asarray(r.energies)[(s > 0):] for s, r in enumerate(self.segments)])

    @property
    def path_coordinate(self):
        """Cumulative distance along the segments' bands (length), 0 at A."""
        out, s0 = [], 0.0
        for s, r in enumerate(self.segments):
            c = np.asarray(r.path_coordinate)
            out.append(s0 + c[(s > 0):])
            s0 += c[-1]
        return np.concatenate(out)

    @property
    def path(self):
        """The segments' images laid end to end, continuous: each segment is shifted so that it starts where the
        previous one ended (for a periodic system: by whole box lengths per particle)."""
        out, last = [], None
        for s, r in enumerate(self.segments):
            P = np.asarray(r.path)
            if last is not None:
                P = P + (last - P[0])
            out.append(P[(s > 0):])
            last = P[-1]
        return np.concatenate(out)

    @property
    def starts(self):
        """Index of each segment's first image in :attr:`path`, shape (S,)."""
        n = [len(r.energies) - 1 for r in self.segments]
        return np.concatenate([[0], np.cumsum(n)[:-1]]).astype(np.int64)

    @property
    def interior_minima(self):
        """Interior minima left inside the segments' bands (their junctions not counted)."""
        return int(sum(interior_minima(r.energies).size for r in self.segments))


class _Tagged:
    """A band result of a climbing stage under ``climb="auto"``, with its ``outcome`` ("saddle" or "runaway": then
    ``converged`` is False) and ``plain_iter``; everything else is the result's."""

    def __init__(self, res, outcome, plain_iter):
        self.res = res
        self.outcome = outcome
        self.plain_iter = int(plain_iter)
        self.converged = bool(res.converged) and outcome != "runaway"

    def __getattr__(self, name):
        if name == "res":
            raise AttributeError(name)
        return getattr(self.res, name)


def composite_band(a, b, band, quench, distance, *, plain_steps, max_steps, split=True, max_depth=2,
                   max_segments=4, dip_tol=1e-6, x_tol=1e-5, images=None, climb="always", runaway_tol=None):
    """A band from minimum ``a`` to minimum ``b``, split at its interior minima into segments (AutoNEB-like).

    Each band runs in two stages: ``plain_steps`` FIRE iterations of a plain NEB (no climbing image; skipped when
    0), then the climbing-image band from where that got, within ``max_steps`` in all. Where a band may still be
    split (``split``, its depth below ``max_depth`` and fewer than ``max_segments`` segments so far), its images
    that lie below both neighbours by more than ``dip_tol`` (energy) are quenched: after the plain stage, and
    again after the climbing stage if that did not converge. A quenched minimum M is kept if the quench converged,
    its energy is below that of its image, and it is farther than ``x_tol`` (``distance``) from both ends and from
    the minima already kept; then the band is abandoned and each segment between consecutive minima (ends
    included, in band order) gets a band of its own, one level deeper, the same way (same image count and iteration
    caps; the straight line as its start). At most ``max_segments`` segments in all: if more minima are found than
    the remaining budget allows, the lowest ones are kept.

    With ``climb="auto"`` a band (not split after its plain stage) climbs only if its relaxed plain band has an
    interior maximum above both ends (:func:`interior_maximum`); otherwise it is a :class:`BarrierlessBand` (the
    plain band, barrier 0 from its higher end). A climbing stage is watched (``band``'s ``monitor``): once its
    highest image has stayed more than ``runaway_tol`` above the plain band's highest image for
    :data:`RUNAWAY_ITERATIONS` successive iterations it stops; such a band (also when ``band`` ignores the monitor,
    and a band that ends that high) gets ``outcome = "runaway"`` and
    ``converged`` False (not split further).

    Parameters
    ----------
    a, b : the end minima, in whatever form the callables take (arrays, Systems)
    band : callable ``band(p, q, climb=..., images=..., max_steps=...)`` -> a band result with ``path`` (M,
        ...), ``energies`` (M,), ``path_coordinate``, ``saddle_energy``, ``converged``, ``n_iter``, e.g.
        ``functools.partial(meso_kernels.neb.neb, energy_forces=f, n_images=9)`` (``images`` None: the straight
        line)
    quench : callable ``quench(x) -> (minimum, energy, converged)`` for an image ``x`` (a row of ``path``)
    distance : callable ``distance(p, q)`` -> largest particle displacement between two minima (length)
    plain_steps, max_steps : iterations of the plain stage (>= 0) and of each band in all (> plain_steps)
    split : False: one band, never split
    max_depth : split levels at most (integer >= 0; 0: never split; default 2)
    max_segments : segments at most (integer >= 1; 1: never split; default 4)
    dip_tol : energy by which an interior image must lie below both neighbours (> 0; default 1e-6, in the
        landscape's unit: keep it above the roundoff of the total energy)
    x_tol : minima closer than this are one minimum (length, > 0; default 1e-5)
    images : initial band of the top-level band (None: the straight line)
    climb : "always" (default: every band climbs after its plain stage, as before the option existed) or "auto"
        (needs ``plain_steps`` >= 1 and ``runaway_tol``; ``band`` must then take a ``monitor`` keyword, a callable
        ``monitor(energies) -> bool`` to pass on to :func:`~meso_kernels.neb.neb`)
    runaway_tol : with ``climb="auto"``: how far the climbing image may rise above the plain band's highest image
        (energy, the landscape's unit, > 0)

    Returns a :class:`CompositeBand`. Exceptions of ``band`` (e.g. FloatingPointError) propagate.
    """
    max_depth = _check_int(max_depth, "max_depth", 0)
    max_segments = _check_int(max_segments, "max_segments", 1)
    plain_steps = _check_int(plain_steps, "plain_steps", 0)
    max_steps = _check_int(max_steps, "max_steps", 1)
    if plain_steps >= max_steps:
        raise ValueError(f"plain_steps must be an integer in 0..max_steps-1, got {plain_steps!r}")
    dip_tol = _positive(dip_tol, "dip_tol")
    x_tol = _positive(x_tol, "x_tol")
    climb = _check_climb(climb)
    if climb == "auto":
        if plain_steps == 0:
            raise ValueError("climb='auto' decides from the relaxed plain band whether to climb: it needs "
                             "plain_steps >= 1, got plain_steps=0")
        runaway_tol = _positive(runaway_tol, "runaway_tol")
    state = {"n_iter": 0, "segments": 1, "depth": 0}

    def may_split(depth):
        return split and depth < max_depth and state["segments"] < max_segments

    def find(res, p, q):
        """The distinct intermediate minima (minimum, energy) from the band's interior minima, in band order."""
        E = np.asarray(res.energies, dtype=float)
        kept = []
        for i in interior_minima(E, dip_tol):
            m, e, ok = quench(np.asarray(res.path[i]))
            if not (ok and math.isfinite(e) and e < E[i]):
                continue
            if min(distance(m, p), distance(m, q)) <= x_tol or any(distance(m, k[0]) <= x_tol for k in kept):
                continue
            kept.append((m, float(e), len(kept)))
        room = max_segments - state["segments"]
        if len(kept) > room:             # the lowest ones, back in band order
            kept = sorted(sorted(kept, key=lambda k: k[1])[:room], key=lambda k: k[2])
        return [(m, e) for m, e, _ in kept]

    def solve(p, q, depth, start):
        """(segment results, minima, their energies) of the band p -> q."""
        state["depth"] = max(state["depth"], depth)
        plain = 0
        if plain_steps:
            pre = band(p, q, climb=False, images=start, max_steps=plain_steps)
            state["n_iter"] += pre.n_iter
            plain = pre.n_iter
            if may_split(depth):
                mins = find(pre, p, q)
                if mins:
                    return divide(p, q, mins, depth)
            start = pre.path
        if climb == "auto":
            E = np.asarray(pre.energies, dtype=float)
            if interior_maximum(E) is None:
                return [BarrierlessBand(pre, plain)], [], []
            limit = float(E.max()) + runaway_tol
            above = [0]

            def monitor(energies):      # stop once the band stays above the limit (FIRE's first steps overshoot)
                above[0] = above[0] + 1 if float(np.max(energies)) > limit else 0
                return above[0] >= RUNAWAY_ITERATIONS

            res = band(p, q, climb=True, images=start, max_steps=max_steps - plain, monitor=monitor)
            state["n_iter"] += res.n_iter
            if float(np.max(res.energies)) > limit:
                return [_Tagged(res, "runaway", plain)], [], []
            res = _Tagged(res, "saddle", plain)
        else:
            res = band(p, q, climb=True, images=start, max_steps=max_steps - plain)
            state["n_iter"] += res.n_iter
        try:
            res.plain_iter = plain
        except AttributeError:
            pass
        if not res.converged and may_split(depth):
            mins = find(res, p, q)
            if mins:
                return divide(p, q, mins, depth)
        return [res], [], []

    def divide(p, q, mins, depth):
        state["segments"] += len(mins)
        ends = [p] + [m for m, _ in mins] + [q]
        segs, ms, es = [], [], []
        for s in range(len(ends) - 1):
            r, m, e = solve(ends[s], ends[s + 1], depth + 1, None)
            segs += r
            ms += m
            es += e
            if s < len(mins):
                ms.append(mins[s][0])
                es.append(mins[s][1])
        return segs, ms, es

    segs, ms, es = solve(a, b, 0, images)
    return CompositeBand(segs, ms, es, state["n_iter"], state["depth"])


def summarize_barriers(barriers_over_T, confidence=0.9, n_resamples=2000, seed=0):
    """Median of ΔE/T with a bootstrap (percentile) interval, and the fraction of barriers below T.

    Returns a dict: ``n``, ``median``, ``low``, ``high`` (nan with fewer than 2 values), ``below_T`` (fraction of
    ΔE/T < 1), ``below_T_low``/``below_T_high`` (its bootstrap interval)."""
    from scipy.stats import bootstrap
    x = np.asarray(barriers_over_T, dtype=float).ravel()
    if not np.all(np.isfinite(x)):
        raise ValueError("barriers_over_T must be finite (drop the transitions without a band first)")
    out = {"n": int(x.size), "median": math.nan, "low": math.nan, "high": math.nan, "below_T": math.nan,
           "below_T_low": math.nan, "below_T_high": math.nan}
    if x.size == 0:
        return out
    out["median"] = float(np.median(x))
    out["below_T"] = float(np.mean(x < 1.0))
    if x.size >= 2 and np.ptp(x) > 0:
        rng = np.random.default_rng(seed)
        for name, stat in (("", np.median), ("below_T_", lambda v, axis=-1: np.mean(v < 1.0, axis=axis))):
            r = bootstrap((x,), stat, confidence_level=confidence, n_resamples=n_resamples, method="percentile",
                          random_state=rng)
            out[f"{name or ''}low"] = float(r.confidence_interval.low)
            out[f"{name or ''}high"] = float(r.confidence_interval.high)
    return out


def band_profile(arrays, j):
    """(s, E) of transition ``j``'s band (path length, length; energy, extensive), the nan padding dropped: M
    images, or for a composite transition its S segments laid end to end (S (M - 1) + 1 points, each intermediate
    minimum once)."""
    s, E = np.asarray(arrays["path_s"][j], dtype=float), np.asarray(arrays["path_E"][j], dtype=float)
    k = int(np.flatnonzero(np.isfinite(s))[-1]) + 1 if np.isfinite(s).any() else 0
    return s[:k], E[:k]


def chain_profiles(arrays, max_count=None):
    """Successive bands chained into one landscape profile: (s, E - E_A of the first, breaks).

    The bands of the measured transitions (converged, or barrierless exits) are laid end to end, in trajectory
    order, along the path length s (configuration-space distance, length units); energies are relative to the first inherent structure.
    ``breaks`` lists the s where a transition was left out (skipped, or its band did not converge) or the next
    band does not start where the last one ended (|E_B - E_A'| > 1e-6). ``max_count``: bands used at most."""
    s_all, E_all, breaks = [], [], []
    s0, e_ref, last_end = 0.0, None, None
    st = np.asarray(arrays["status"])
    used = 0
    for j in range(st.size):
        s, E = band_profile(arrays, j)
        if st[j] not in _MEASURED or E.size < 2 or not np.all(np.isfinite(E)):
            if s_all:
                breaks.append(s0)
            continue
        if e_ref is None:
            e_ref = E[0]
        elif last_end is not None and abs(E[0] - last_end) > 1e-6:
            breaks.append(s0)
        s_all.append(s0 + s)
        E_all.append(E - e_ref)
        s0 += s[-1]
        last_end = E[-1]
        used += 1
        if max_count is not None and used >= max_count:
            break
    if not s_all:
        return np.array([]), np.array([]), []
    return np.concatenate(s_all), np.concatenate(E_all), breaks
