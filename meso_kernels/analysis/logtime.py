"""On-the-fly correlators: F_s(q, t), MSD, the non-Gaussian parameter and the self van Hove distribution of |Δr|,
accumulated during a molecular-dynamics run on a logarithmic grid of lags with many time origins (MODELS.md section 9).

A long run at a viscous state point spans 4–6 decades of time; storing every frame would cost memory proportional to
the run length. Here only the positions at the *open* time origins are kept: origin k opens at step
``s0 + k * origin_interval`` and closes when its largest lag has been reached, so at most
``ceil(max_lag / origin_interval) + 1`` origins are open at once and memory is N × d × that number, independent of
the run length. The integrator is advanced exactly to the next step at which some origin needs a lag (or a new
origin opens), so no step is wasted and nothing is interpolated.

For the lag τ and particle i of species a (Δr_i = r_i(t0 + τ) − r_i(t0), unwrapped positions):

    F_s^a(q, τ)  = < (1/N_a) Σ_{i∈a} (1/K) Σ_k cos(q_k · Δr_i) >_origins      (|q_k| ≈ q, see isf.wave_vectors)
    MSD^a(τ)     = < (1/N_a) Σ_{i∈a} |Δr_i|² >_origins
    α2^a(τ)      = d <|Δr|⁴> / ((d + 2) <|Δr|²>²) − 1
    P^a(|Δr|, τ) = histogram of |Δr_i| (counts over particles and origins; normalised by :meth:`displacement_distribution`)

This accumulation is our own (freud has no F_s and no on-the-fly averaging); the frame-based versions are
:class:`meso_kernels.analysis.isf.SelfISF` and :class:`meso_kernels.analysis.msd.MSD` (freud's window MSD), and the
tests check that both give the same numbers on the same run.

>>> from meso_kernels.models import get_model
>>> from meso_kernels.initial import random_configuration
>>> from meso_kernels.integrate import thermalize
>>> m = get_model("ipl")
>>> sim = thermalize(random_configuration(m, 256, 0.82, seed=1), m, T=1.0, nsteps=200, seed=1)
>>> corr = LogTimeCorrelator(q=6.35, dt=m.state_point.dt, max_lag=200, origin_interval=50)
>>> corr = corr.run(sim, 400)
>>> corr.t.shape == corr.fs_total.shape, bool(corr.fs_total[0] > corr.fs_total[-1])
(True, True)
>>> bool(abs(corr.msd[1][0] - 3 * 1.0 * corr.t[0] ** 2) < 0.2 * corr.msd[1][0])   # ballistic: MSD = d T t²
True
"""
import math
from dataclasses import dataclass

import numpy as np

from .isf import fs_per_particle, tau_alpha, wave_vectors


def log_lags(max_lag, points_per_decade=10, min_lag=1):
    """Integer lags (steps) from ``min_lag`` to ``max_lag``, about ``points_per_decade`` per decade, unique, sorted.

    >>> log_lags(100, points_per_decade=4).tolist()
    [1, 2, 3, 6, 10, 18, 32, 56, 100]
    """
    for name, v in (("max_lag", max_lag), ("min_lag", min_lag), ("points_per_decade", points_per_decade)):
        if isinstance(v, bool) or int(v) != v or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    if max_lag < min_lag:
        raise ValueError(f"max_lag ({max_lag}) must be >= min_lag ({min_lag}): the time grid would be empty")
    n = max(2, int(round(points_per_decade * math.log10(max_lag / min_lag))) + 1)
    lags = np.unique(np.round(np.geomspace(min_lag, max_lag, n)).astype(np.int64))
    return lags


class LogTimeCorrelator:
    """F_s, MSD, α2 and P(|Δr|) per species, accumulated during a run (see the module docstring).

    Parameters
    ----------
    q : float
        Wave number (inverse length units of the model), > 0; the paper uses q_max of the large species
        (``model.state_point.qmax[model.large]``).
    dt : float
        MD time step (model time units); lags are reported as times ``lag * dt``.
    max_lag : int
        Largest lag in MD steps (>= 1).
    origin_interval : int
        Steps between successive time origins (>= 1). Memory: N × d × ceil(max_lag / origin_interval) floats.
    points_per_decade : int
        Density of the logarithmic lag grid (:func:`log_lags`).
    hist_edges : array or None
        Edges of the |Δr| histogram in length units (default: 100 logarithmic bins from 1e-3 to 10 length units).
    max_vectors : int
        Number of wave vectors in the shell |k| ≈ q (:func:`~meso_kernels.analysis.isf.wave_vectors`).
    n_blocks : int
        The time origins are split into this many consecutive blocks (even, >= 2) whose F_s sums are kept apart:
        :meth:`fs_halves` compares the first and second half of the run, :meth:`fs_blocks` gives every block, and
        :func:`equilibration_check` turns the block-to-block scatter into error bars.
    """

    def __init__(self, q, dt, max_lag, origin_interval, points_per_decade=10, hist_edges=None, max_vectors=48,
                 n_blocks=2):
        if not (np.isfinite(q) and q > 0):
            raise ValueError(f"q must be a positive wave number, got {q!r}")
        if not (np.isfinite(dt) and dt > 0):
            raise ValueError(f"dt must be a positive time step, got {dt!r}")
        if isinstance(origin_interval, bool) or int(origin_interval) != origin_interval or origin_interval < 1:
            raise ValueError(f"origin_interval must be a positive integer number of steps, got {origin_interval!r}")
        self.q = float(q)
        self.dt = float(dt)
        self.lags = log_lags(max_lag, points_per_decade)
        self.origin_interval = int(origin_interval)
        self.max_vectors = int(max_vectors)
        edges = np.geomspace(1e-3, 10.0, 101) if hist_edges is None else np.asarray(hist_edges, dtype=float)
        if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0):
            raise ValueError("hist_edges must be a 1-D increasing array of at least 2 edges")
        self.hist_edges = edges
        if isinstance(n_blocks, bool) or int(n_blocks) != n_blocks or n_blocks < 2 or n_blocks % 2:
            raise ValueError(f"n_blocks must be an even integer >= 2, got {n_blocks!r}")
        self.n_blocks = int(n_blocks)
        self._sums = None
        self._loop = None  # the loop state of a run in progress (see run and state)

    # --- accumulation ------------------------------------------------------------------------------------------
    def _setup(self, types, box, dim):
        self._types = np.asarray(types, dtype=np.int64).copy()
        self.species = np.unique(self._types)
        self._index = np.searchsorted(self.species, self._types)
        self._counts = np.bincount(self._index, minlength=self.species.size).astype(float)
        self.box = np.asarray(box, dtype=float).copy()
        self.dim = dim
        self.wave_vectors = wave_vectors(self.q, self.box, max_vectors=self.max_vectors)
        S, L, B = self.species.size, self.lags.size, self.hist_edges.size - 1
        # axis 0 of the F_s sums: block of consecutive origins (n_blocks of them) for a stationarity check
        nb = self.n_blocks
        self._sums = {"fs": np.zeros((nb, S, L)), "r2": np.zeros((S, L)), "r4": np.zeros((S, L)),
                      "n": np.zeros((nb, L)), "hist": np.zeros((S, L, B))}

    def _accumulate(self, dr, lag_index, group):
        s = self._sums
        fs = fs_per_particle(dr, self.wave_vectors)
        r2 = np.einsum("ij,ij->i", dr, dr)
        S = self.species.size
        s["fs"][group, :, lag_index] += np.bincount(self._index, weights=fs, minlength=S) / self._counts
        s["r2"][:, lag_index] += np.bincount(self._index, weights=r2, minlength=S) / self._counts
        s["r4"][:, lag_index] += np.bincount(self._index, weights=r2 * r2, minlength=S) / self._counts
        s["n"][group, lag_index] += 1
        r = np.sqrt(r2)
        b = np.searchsorted(self.hist_edges, r, side="right") - 1
        ok = (b >= 0) & (b < self.hist_edges.size - 1)
        np.add.at(s["hist"], (self._index[ok], lag_index, b[ok]), 1.0)

    def run(self, sim, nsteps, progress=False, on_origin=None, on_boundary=None):
        """Advance the integrator ``sim`` (:class:`~meso_kernels.integrate.NVE` or ``NoseHoover``) by ``nsteps``
        steps, accumulating. Origins open every ``origin_interval`` steps from the current step; lags that would
        end after the run are not sampled (the number of origins per lag is :attr:`n_origins`). Calling ``run``
        again continues the same averages (the box and particles must be the same). ``on_origin(sim)``, if given,
        is called whenever an origin opens (e.g. to sample the energy). ``on_boundary``: see :meth:`resume`.
        Returns ``self``."""
        nsteps = int(nsteps)
        if nsteps < 1:
            raise ValueError(f"nsteps must be a positive number of steps, got {nsteps}")
        if self.lags[0] > nsteps:
            raise ValueError(f"nsteps = {nsteps} is shorter than the smallest lag ({self.lags[0]} steps): "
                             "the time grid would be empty")
        self._check_sim(sim)
        start = sim.step
        # the loop state of the run in progress: everything the loop carries from one event to the next
        self._loop = {"start": start, "end": start + nsteps, "n_orig": (nsteps - 1) // self.origin_interval + 1,
                      "opened": 0, "origins": [], "now": start}  # origins: [origin_step, next_lag_index, x, group]
        return self._continue(sim, progress, on_origin, on_boundary)

    def _check_sim(self, sim):
        if abs(sim.dt - self.dt) > 1e-12 * self.dt:
            raise ValueError(f"the integrator's dt = {sim.dt} differs from the correlator's dt = {self.dt}")
        if self._sums is None:
            self._setup(sim.types, sim.box, sim.x.shape[1])
        else:
            if not np.array_equal(np.asarray(sim.box, float), self.box):
                raise ValueError(f"the box changes between runs ({self.box.tolist()} -> {list(sim.box)}): "
                                 "correlators need a fixed box")
            if not np.array_equal(np.asarray(sim.types), self._types):
                raise ValueError("the particle types differ from the earlier run: use a new LogTimeCorrelator")

    @property
    def in_progress(self):
        """Whether a run was paused (``on_boundary`` returned True) or restored from a :meth:`state` taken in the
        middle of one: :meth:`resume` continues it."""
        return self._loop is not None

    def resume(self, sim, progress=False, on_origin=None, on_boundary=None):
        """Continue the run in progress (:attr:`in_progress`) with ``sim`` at the step where it stopped (the
        integrator it ran, or one restored from a checkpoint taken at that moment). Returns ``self``.

        ``on_boundary(sim)`` (here and in :meth:`run`), if given, is called at every event boundary of the loop
        after the first, i.e. whenever the integrator has stopped at a step where an origin opens or a lag is
        sampled, before that step's samples are taken: there :meth:`state` holds everything needed to continue
        (with the integrator's own state), which is where a checkpoint is written. If it returns True the run
        pauses (returns at once, :attr:`in_progress` stays true). Neither the hook nor a pause changes the results:
        a run paused, saved, restored and resumed accumulates bit-identical sums."""
        if not self.in_progress:
            raise RuntimeError("no run is in progress: start one with corr.run(sim, nsteps)")
        self._check_sim(sim)
        if sim.step != self._loop["now"]:
            raise ValueError(f"the integrator is at step {sim.step}, but the run stopped at step "
                             f"{self._loop['now']}: resume with the integrator saved with it")
        return self._continue(sim, progress, on_origin, on_boundary)

    def _continue(self, sim, progress, on_origin, on_boundary):
        loop = self._loop
        start, end, n_orig = loop["start"], loop["end"], loop["n_orig"]
        opened, open_origins = loop["opened"], loop["origins"]
        nb = self._sums["n"].shape[0]
        bar = None
        if progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=end - start, initial=sim.step - start, desc="correlators", unit="step")
        x = sim.x
        first = True
        while True:
            now = sim.step
            if on_boundary is not None and not first:
                loop["opened"], loop["origins"], loop["now"] = opened, open_origins, now
                if on_boundary(sim):
                    if bar is not None:
                        bar.close()
                    return self
            first = False
            if opened < n_orig and start + opened * self.origin_interval == now:
                open_origins.append([now, 0, x, min(nb - 1, opened * nb // n_orig)])
                opened += 1
                if on_origin is not None:
                    on_origin(sim)
            for o in open_origins:
                if o[0] + self.lags[o[1]] == now:
                    self._accumulate(x - o[2], o[1], o[3])
                    o[1] += 1
            open_origins = [o for o in open_origins if o[1] < self.lags.size and o[0] + self.lags[o[1]] <= end]
            events = [o[0] + self.lags[o[1]] for o in open_origins]
            if opened < n_orig:
                events.append(start + opened * self.origin_interval)
            if not events:
                break
            nxt = min(events)
            sim.run(nxt - now)
            if bar is not None:
                bar.update(nxt - now)
            x = sim.x
        self._loop = None
        if sim.step < end:  # nothing left to sample: finish the requested steps
            if bar is not None:
                bar.update(end - sim.step)
            sim.run(end - sim.step)
        if bar is not None:
            bar.close()
        return self

    # --- checkpoints -------------------------------------------------------------------------------------------
    def state(self):
        """The whole correlator as a flat dict of arrays (``np.savez``-able): its parameters, the sums (also before
        any lag was sampled) and, while a run is in progress (taken in ``on_boundary``, see :meth:`resume`), the
        loop state ``loop.*``: run start and end, origins planned and opened, the step it stopped at, and every
        open origin's step, next lag index, block and positions (``loop.positions``, (open origins, N, d)).
        :meth:`from_state` rebuilds a correlator that continues bit-identically."""
        out = {"q": np.array(self.q), "dt": np.array(self.dt), "lags": self.lags.copy(),
               "origin_interval": np.array(self.origin_interval), "hist_edges": self.hist_edges.copy(),
               "max_vectors": np.array(self.max_vectors), "n_blocks": np.array(self.n_blocks)}
        if self._sums is not None:
            out.update({"types": self._types.copy(), "species": self.species.copy(),
                        "species_counts": self._counts.copy(), "box": self.box.copy(), "dim": np.array(self.dim),
                        "wave_vectors": self.wave_vectors.copy()})
            out.update({f"sums.{k}": v.copy() for k, v in self._sums.items()})
        if self.in_progress:
            loop = self._loop
            origins = loop["origins"]
            out.update({f"loop.{k}": np.array(loop[k], dtype=np.int64) for k in ("start", "end", "n_orig", "opened",
                                                                                  "now")})
            out["loop.origin_step"] = np.array([o[0] for o in origins], dtype=np.int64)
            out["loop.next_lag"] = np.array([o[1] for o in origins], dtype=np.int64)
            out["loop.group"] = np.array([o[3] for o in origins], dtype=np.int64)
            n, d = self._types.size, self.dim
            out["loop.positions"] = (np.stack([o[2] for o in origins]) if origins else np.zeros((0, n, d)))
        return out

    @classmethod
    def from_state(cls, state):
        """Rebuild a correlator from :meth:`state` (a dict of arrays), including a run in progress (continue it
        with :meth:`resume`)."""
        self = cls.__new__(cls)
        self.q, self.dt = float(state["q"]), float(state["dt"])
        self.lags = np.array(state["lags"], dtype=np.int64)
        self.origin_interval = int(state["origin_interval"])
        self.hist_edges = np.array(state["hist_edges"], dtype=float)
        self.max_vectors = int(state["max_vectors"])
        self.n_blocks = int(state["n_blocks"])
        self._sums = None
        self._loop = None
        if "types" in state:
            self._types = np.array(state["types"], dtype=np.int64)
            self.species = np.array(state["species"], dtype=np.int64)
            self._index = np.searchsorted(self.species, self._types)
            self._counts = np.array(state["species_counts"], dtype=float)
            self.box = np.array(state["box"], dtype=float)
            self.dim = int(state["dim"])
            self.wave_vectors = np.array(state["wave_vectors"], dtype=float)
            self._sums = {k: np.array(state[f"sums.{k}"], dtype=float) for k in ("fs", "r2", "r4", "n", "hist")}
        if "loop.start" in state:
            if self._sums is None:
                raise ValueError("a correlator state with a run in progress must hold its sums")
            pos = np.array(state["loop.positions"], dtype=float)
            steps, lags, groups = (np.asarray(state[f"loop.{k}"]).tolist() for k in ("origin_step", "next_lag",
                                                                                      "group"))
            if not (len(steps) == len(lags) == len(groups) == pos.shape[0]) \
                    or pos.shape[1:] != (self._types.size, self.dim):
                raise ValueError("inconsistent correlator state: the open origins do not match")
            self._loop = {k: int(state[f"loop.{k}"]) for k in ("start", "end", "n_orig", "opened", "now")}
            self._loop["origins"] = [[int(s), int(k), pos[i], int(g)] for i, (s, k, g) in enumerate(zip(steps, lags,
                                                                                                        groups))]
        return self

    # --- results -----------------------------------------------------------------------------------------------
    def _require(self):
        if self._sums is None or not np.any(self._sums["n"]):
            raise RuntimeError("no correlation has been accumulated yet: call corr.run(sim, nsteps) first")

    @property
    def n_origins(self):
        """(L,) number of time origins averaged at each lag."""
        self._require()
        return self._sums["n"].sum(axis=0)

    @property
    def _valid(self):
        return self.n_origins > 0

    @property
    def t(self):
        """(L,) lag times (model time units) that have at least one origin."""
        return self.lags[self._valid] * self.dt

    def _per_species(self, arr):
        v = self._valid
        return {int(a): arr[k, v] for k, a in enumerate(self.species)}

    def _total(self, arr):
        w = self._counts / self._counts.sum()
        return (w[:, None] * arr).sum(axis=0)[self._valid]

    @property
    def _fs(self):
        s = self._sums
        n = s["n"].sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return s["fs"].sum(axis=0) / n

    @property
    def fs(self):
        """dict species -> (L,) F_s(q, t) of that species."""
        self._require()
        return self._per_species(self._fs)

    @property
    def fs_total(self):
        """(L,) F_s(q, t) of all particles (the species-averaged F_s of the paper's Figs 10–11)."""
        self._require()
        return self._total(self._fs)

    def fs_halves(self, species):
        """(early, late): F_s of ``species`` from the origins of the first and of the second half of the run. Equal
        within noise when the run is stationary (equilibrated); NaN where a half has no origin."""
        self._require()
        k = self._species_index(species)
        s = self._sums
        h = s["n"].shape[0] // 2
        with np.errstate(invalid="ignore", divide="ignore"):
            early = s["fs"][:h, k, :].sum(axis=0) / s["n"][:h].sum(axis=0)
            late = s["fs"][h:, k, :].sum(axis=0) / s["n"][h:].sum(axis=0)
        return early[self._valid], late[self._valid]

    def fs_blocks(self, species):
        """(F, n): F_s of ``species`` from each block of consecutive origins, shape (n_blocks, L) (NaN where a block
        has no origin at that lag), and the number of origins behind each entry (same shape)."""
        self._require()
        k = self._species_index(species)
        s = self._sums
        with np.errstate(invalid="ignore", divide="ignore"):
            out = s["fs"][:, k, :] / s["n"]
        return out[:, self._valid], s["n"][:, self._valid]

    @property
    def _msd(self):
        with np.errstate(invalid="ignore", divide="ignore"):
            return self._sums["r2"] / self._sums["n"].sum(axis=0)

    @property
    def msd(self):
        """dict species -> (L,) mean squared displacement (length² units)."""
        self._require()
        return self._per_species(self._msd)

    @property
    def msd_total(self):
        """(L,) MSD of all particles (species-averaged)."""
        self._require()
        return self._total(self._msd)

    @property
    def alpha2(self):
        """dict species -> (L,) non-Gaussian parameter d<r⁴>/((d+2)<r²>²) − 1."""
        self._require()
        with np.errstate(invalid="ignore", divide="ignore"):
            r4 = self._sums["r4"] / self._sums["n"].sum(axis=0)
            a2 = self.dim * r4 / ((self.dim + 2) * self._msd ** 2) - 1.0
        return self._per_species(a2)

    def _species_index(self, species):
        self._require()
        hits = np.flatnonzero(self.species == species)
        if hits.size == 0:
            raise ValueError(f"species={species!r} is not present; present species: {self.species.tolist()}")
        return int(hits[0])

    def tau_alpha(self, species, level=0.2):
        """τ_α of ``species``: F_s(q, τ_α) = ``level`` interpolated in ln t (:func:`~.isf.tau_alpha`)."""
        self._species_index(species)
        return tau_alpha(self.t, self.fs[int(species)], level=level)

    def displacement_distribution(self, time, species=None):
        """``(r, P, lag_time)``: the distribution of |Δr| (length units) after the sampled lag closest to ``time``
        (in ln t), for one species or all (``None``); P is a probability density in r (∫ P dr = fraction of
        particles whose |Δr| falls in the histogram range)."""
        self._require()
        if not (np.isfinite(time) and time > 0):
            raise ValueError(f"time must be a positive lag time, got {time!r}")
        t = self.t
        lag_index = np.flatnonzero(self._valid)[int(np.argmin(np.abs(np.log(t / time))))]
        hist = self._sums["hist"][:, lag_index, :]
        n = self._sums["n"][:, lag_index].sum()
        if species is None:
            counts, norm = hist.sum(axis=0), self._counts.sum() * n
        else:
            k = self._species_index(species)
            counts, norm = hist[k], self._counts[k] * n
        e = self.hist_edges
        return 0.5 * (e[1:] + e[:-1]), counts / (norm * np.diff(e)), float(self.lags[lag_index] * self.dt)

    # --- storage -----------------------------------------------------------------------------------------------
    def to_arrays(self):
        """A dict of arrays (for :func:`meso_kernels.store.cached` or ``np.savez``) holding the raw sums; rebuild
        the object with :meth:`from_arrays`."""
        self._require()
        s = self._sums
        return {"q": np.array(self.q), "dt": np.array(self.dt), "lags": self.lags,
                "origin_interval": np.array(self.origin_interval), "hist_edges": self.hist_edges,
                "species": self.species, "species_counts": self._counts, "box": self.box,
                "wave_vectors": self.wave_vectors, "fs_sums": s["fs"], "r2_sums": s["r2"], "r4_sums": s["r4"],
                "n_sums": s["n"], "hist_sums": s["hist"]}

    @classmethod
    def from_arrays(cls, a):
        """Rebuild a computed correlator from :meth:`to_arrays` output (results only; it cannot continue a run)."""
        self = cls.__new__(cls)
        self.q, self.dt = float(a["q"]), float(a["dt"])
        self.lags = np.asarray(a["lags"], dtype=np.int64)
        self.origin_interval = int(a["origin_interval"])
        self.hist_edges = np.asarray(a["hist_edges"], dtype=float)
        self.species = np.asarray(a["species"], dtype=np.int64)
        self._counts = np.asarray(a["species_counts"], dtype=float)
        self.box = np.asarray(a["box"], dtype=float)
        self.dim = self.box.size
        self.wave_vectors = np.asarray(a["wave_vectors"], dtype=float)
        self.max_vectors = len(self.wave_vectors)
        self._types = None
        self._loop = None
        self._sums = {"fs": a["fs_sums"], "r2": a["r2_sums"], "r4": a["r4_sums"], "n": a["n_sums"],
                      "hist": a["hist_sums"]}
        self.n_blocks = int(self._sums["n"].shape[0])
        return self


@dataclass
class EquilibrationCheck:
    """Result of :func:`equilibration_check` (all times in the correlator's units).

    t, early, late, early_err, late_err: F_s of the first and second half of the time origins with their standard
    errors from the scatter of the blocks in each half; tau_early, tau_late: τ_α of each half (NaN for a half whose
    F_s never falls to the level within the lags it has error bars at); z: the difference of the two halves at
    ``t_compared`` in units of its standard error; z_max: the bound on |z| (two-sided ``1 - false_alarm`` quantile of
    Student's t with the blocks' degrees of freedom); passed: |z| <= z_max; t_compared: where the halves are
    compared, sqrt(tau_early tau_late), or, where a half does not reach the level, the whole run's τ_α or, if
    shorter, the longest lag at which both halves have error bars (``at_tau`` is False then)."""
    t: np.ndarray
    early: np.ndarray
    late: np.ndarray
    early_err: np.ndarray
    late_err: np.ndarray
    tau_early: float
    tau_late: float
    z: float
    z_max: float
    dof: int
    passed: bool
    lntau_err: float = float("nan")
    t_compared: float = float("nan")
    at_tau: bool = True

    def summary(self):
        word = "stationary" if self.passed else "NOT stationary"
        where = "at tau_alpha" if self.at_tau else (f"at t = {self.t_compared:.4g}, the longest lag both halves "
                                                    "reach (a half never falls to the level)")
        return (f"{word}: tau_alpha early {self.tau_early:.4g}, late {self.tau_late:.4g}; F_s halves differ by "
                f"{self.z:+.2f} sigma {where} (bound {self.z_max:.2f}, {self.dof} dof)")


def _half_with_error(F, n):
    """Origin-weighted mean of the blocks' F_s at each lag and its standard error from their scatter, over the
    blocks that have origins at that lag (NaN where fewer than two have)."""
    have = n > 0
    k = have.sum(axis=0)
    w = np.where(have, n, 0.0)
    F0 = np.where(have, F, 0.0)
    wsum = w.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (w * F0).sum(axis=0) / wsum
        var = (w * (F0 - mean) ** 2).sum(axis=0) / wsum / (k - 1)   # variance of the mean of k blocks
    ok = k >= 2
    return np.where(ok, mean, np.nan), np.where(ok, np.sqrt(var), np.nan)


def equilibration_check(corr, species, level=0.2, false_alarm=0.01):
    """Is the run stationary? Compare F_s(q, t) from the first and the second half of the time origins, with error
    bars from the scatter between blocks of consecutive origins (``corr.n_blocks >= 4``; blocks longer than τ_α are
    close to independent, shorter ones make the errors too small and the check too strict).

    The statistic is the difference of the two halves at τ_α (interpolated in ln t) over its standard error. In a run
    a few τ_α long the second half has no origins at the longest lags, so its F_s may end above the level: the
    halves are then compared at the whole run's τ_α, or at the longest lag where both have error bars if that is
    shorter (``at_tau`` False: a weaker test, made where the data allow; ValueError only when the whole run never
    reaches the level). The run passes when it lies within the two-sided ``1 - false_alarm`` interval of Student's t with ``n_blocks - 2``
    degrees of freedom, so a stationary run fails with probability about ``false_alarm``. Returns
    :class:`EquilibrationCheck`.

    >>> from meso_kernels.models import get_model
    >>> from meso_kernels.initial import random_configuration
    >>> from meso_kernels.integrate import thermalize
    >>> m = get_model("ipl")
    >>> sim = thermalize(random_configuration(m, 256, 0.82, seed=1), m, T=2.0, nsteps=500, seed=1)
    >>> corr = LogTimeCorrelator(q=6.35, dt=m.state_point.dt, max_lag=600, origin_interval=60, n_blocks=4)
    >>> chk = equilibration_check(corr.run(sim, 3000), species=1)
    >>> chk.dof, bool(chk.tau_early > 0 and chk.z_max > 2)
    (2, True)
    """
    from scipy.stats import t as student_t
    if corr.n_blocks < 4:
        raise ValueError(f"the correlator has n_blocks = {corr.n_blocks}: errors need at least 2 blocks per half "
                         "(run with n_blocks >= 4)")
    if not 0 < false_alarm < 1:
        raise ValueError(f"false_alarm must lie in (0, 1), got {false_alarm!r}")
    F, n = corr.fs_blocks(species)
    h = F.shape[0] // 2
    early, e_err = _half_with_error(F[:h], n[:h])
    late, l_err = _half_with_error(F[h:], n[h:])
    t = corr.t

    def tau(f):
        ok = np.isfinite(f)
        try:
            return tau_alpha(t[ok], f[ok], level=level)
        except ValueError:
            return float("nan")

    tau_e, tau_l = tau(early), tau(late)
    both = np.isfinite(early) & np.isfinite(late)
    if not both.any():
        raise ValueError("the two halves of the time origins have no lag with error bars in common")
    lt = np.log(t[both])
    at_tau = bool(np.isfinite(tau_e) and np.isfinite(tau_l))
    if at_tau:
        at = np.log(np.sqrt(tau_e * tau_l))
    else:
        whole = tau_alpha(t, corr.fs[species], level=level)   # ValueError: the run itself is too short
        at = min(np.log(whole), lt[-1])
    diff = np.interp(at, lt, (early - late)[both])
    err = np.interp(at, lt, np.hypot(e_err, l_err)[both])
    dof = F.shape[0] - 2
    z = float(diff / err) if err > 0 else 0.0
    z_max = float(student_t.ppf(1 - false_alarm / 2, dof))
    # ln tau error of the whole run: half the error of the difference of the halves, over |dF/d ln t| at tau
    mean = 0.5 * (early + late)[both]
    slope = np.gradient(mean, lt)
    lntau_err = float(0.5 * err / max(abs(np.interp(at, lt, slope)), 1e-12))
    return EquilibrationCheck(t, early, late, e_err, l_err, float(tau_e), float(tau_l), z, z_max, dof,
                              bool(abs(z) <= z_max), lntau_err, float(np.exp(at)), at_tau)
