"""κ(T), G(T) and τ_α(T) of one model over its liquid schedule: what Figs 4 and 6(a) plot and fit.

:func:`elastic_series` gathers, for every scheduled temperature of a model key, the stored liquid
(:class:`~meso_kernels.campaign.liquid.StatePointDynamics`: F_s, τ_α, a0, t0) and the stored mechanics ensemble
quenched from it (T_p = T; :func:`~meso_kernels.campaign.figures.ensemble_task`): G and the mean κ_ij of every
inherent structure. Missing results are computed first (serially; ``meso campaign run --figures 4`` runs them on all
cores) unless ``compute_missing=False``, which raises an error naming what is missing and how to compute it.

Units: T in the model's energy units; τ_α and t0 in its time units; a0 in its length units; κ in energy/length²,
G in energy/length³ (both microscopic units of the model).
"""
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..statepoints import check_key, schedule


@dataclass
class ElasticSeries:
    """One model's state points, hottest first. ``points``: the :class:`StatePointDynamics` per T; ``ensembles``:
    the stored ``mechanics`` arrays per T (per inherent structure ``G`` and ``kappa_mean``, in sampling order)."""
    key: str
    size: str
    T: np.ndarray
    points: list
    ensembles: list
    store: object = None

    @property
    def tau_over_t0(self):
        """τ_α/t0 per state point (NaN where the run was too short to reach F_s = 0.2)."""
        return np.array([p.tau_alpha / p.t0 for p in self.points])

    @cached_property
    def checks(self):
        """Per state point, its :func:`~meso_kernels.analysis.logtime.equilibration_check` (computed once): an
        :class:`~meso_kernels.analysis.logtime.EquilibrationCheck`; None for runs stored with fewer than 4 blocks of
        origins (no check possible); the ValueError where a half of the run never reaches F_s = 0.2."""
        from ..analysis.logtime import equilibration_check
        out = []
        for p in self.points:
            if p.corr.n_blocks < 4:
                out.append(None)
                continue
            try:
                out.append(equilibration_check(p.corr, p.large))
            except ValueError as err:
                out.append(err)
        return out

    @property
    def run_time(self):
        """Length of each run's measurement, prod_steps δt (time units)."""
        return np.array([float(p.arrays["prod_steps"]) * p.model.state_point.dt for p in self.points])

    @property
    def lntau_err_source(self):
        """How :attr:`lntau_err` was obtained per state point: "blocks" (the scatter of the run's blocks of time
        origins), "scaled" (a run stored with two blocks: the blocks' error of this model's other runs, scaled by
        run length) or "none" (no run of this model has blocks: the fits rely on their floor alone)."""
        return self._lntau()[1]

    @property
    def lntau_err(self):
        """Standard error of ln τ_α per state point.

        Where the run has ≥ 4 blocks of time origins, from their scatter (:attr:`checks`). Runs stored with two
        blocks have no such estimate; giving them none (only the fit's floor) would weigh them as if τ_α were known
        to a few per cent, while the runs with blocks show ~10–25 %. Their error is scaled instead from this
        model's runs with blocks by the statistics of a time average over n ≈ t_run/τ_α independent relaxations,
        σ = c (τ_α/t_run)^(1/2), with c the median of σ_k (t_run,k/τ_α,k)^(1/2) over those runs
        (:attr:`lntau_err_source` says which points got which; 0 where no run of the model has blocks)."""
        return self._lntau()[0]

    def _lntau(self):
        errs = np.array([c.lntau_err if c is not None and not isinstance(c, ValueError) else np.nan
                         for c in self.checks], dtype=float)
        ratio = self.tau_over_t0 * self.t0 / self.run_time  # τ_α / t_run
        blocks = np.isfinite(errs) & np.isfinite(ratio)
        source = np.where(blocks, "blocks", "none").astype(object)
        if blocks.any():
            c = float(np.median(errs[blocks] / np.sqrt(ratio[blocks])))
            scaled = ~blocks & np.isfinite(ratio)
            errs[scaled] = c * np.sqrt(ratio[scaled])
            source[scaled] = "scaled"
        return np.where(np.isfinite(errs), errs, 0.0), source.astype(str)

    @property
    def stationary(self):
        """Per state point: False where :attr:`checks` finds the two halves of the run different, or cannot find
        τ_α in one half; True where it passes or cannot run (two blocks of origins)."""
        return np.array([True if c is None else (False if isinstance(c, ValueError) else bool(c.passed))
                         for c in self.checks], dtype=bool)

    @property
    def a0(self):
        """a0 = ρ^(-1/d) (length units; one density per model)."""
        return self.points[0].a0

    @property
    def t0(self):
        return np.array([p.t0 for p in self.points])

    def samples(self, name):
        """``{T: per-inherent-structure values}`` of ``name`` (``"kappa"``: the mean κ_ij of each inherent
        structure; ``"G"``: its shear modulus)."""
        field = {"kappa": "kappa_mean", "G": "G"}
        if name not in field:
            raise ValueError(f"name must be 'kappa' or 'G', got {name!r}")
        return {float(T): np.asarray(e[field[name]], dtype=float) for T, e in zip(self.T, self.ensembles)}

    def means(self, name):
        """Ensemble mean of ``name`` (see :meth:`samples`) per state point."""
        return np.array([v.mean() for v in self.samples(name).values()])

    def ensemble_table(self):
        """Rows (T_p, inherent structures, κ_ij computed, unconverged κ_ij) per temperature (Table II's columns)."""
        return [(float(T), len(e["G"]), int(np.sum(e["n_pairs"])), int(np.sum(e["n_kappa_unconverged"])))
                for T, e in zip(self.T, self.ensembles)]


def elastic_series(size, key, seed=0, temperatures=None, store=None, compute_missing=True, progress=True,
                   backend="cpu"):
    """The :class:`ElasticSeries` of model ``key`` at run size ``size``.

    temperatures: a subset of the schedule (None: all of it); a temperature that is not scheduled raises ValueError
    listing the scheduled ones. compute_missing: False raises :class:`~meso_kernels.campaign.task.CampaignError`
    naming the missing results instead of computing them here. backend: ``"cpu"`` or ``"cuda"``, how missing
    results are computed (:mod:`~meso_kernels.campaign.execution`).
    """
    from .figures import ensemble_task
    from .liquid import StatePointDynamics, scheduled_liquid
    from .runner import Plan, load
    from .task import CampaignError, Store
    check_key(key)
    sched = schedule(size, key)
    temps = sched.temperatures if temperatures is None else [sched.at(float(T)).T for T in temperatures]
    if len(temps) == 0:
        raise ValueError(f"temperatures is empty; scheduled for {key}: {list(sched.temperatures)}")
    temps = sorted(temps, reverse=True)
    store = store or Store.for_size(size)
    liquids = [scheduled_liquid(size, key, T, seed=seed) for T in temps]
    ensembles = [ensemble_task(size, key, T, seed=seed) for T in temps]
    if not compute_missing:
        missing = Plan(liquids + ensembles, store, order=False).needed
        targets = [t for t in missing if t.kind in ("liquid", "mechanics")]
        if targets:
            what = ", ".join(sorted({f"{t.kind} T={t.params['T']:g}" for t in targets}))
            raise CampaignError(f"{key} at size {size!r} has no stored {what}: run "
                                f"`meso campaign run --size {size} --figures 4 --models {key}` (or pass "
                                "compute_missing=True)")
    arrays = load(liquids + ensembles, store, progress=progress, backend=backend)
    n = len(temps)
    points = [StatePointDynamics(key, a) for a in arrays[:n]]
    return ElasticSeries(key, size, np.array(temps, dtype=float), points, arrays[n:], store)


@dataclass
class SeriesAnalysis:
    """What Figs 4 and 6(a) derive from an :class:`ElasticSeries`: the relative changes of κ and G (90 % block
    bootstrap intervals; block = 2 τ_int of the samples, which are correlated along the parents' trajectory), and
    Eq. 3 (X = κ) and Eq. 2 (X = G) fitted over the activated state points, their verdicts and their comparison.
    The error of each point combines the standard error of ln τ_α from the blocks of time origins
    (:attr:`ElasticSeries.lntau_err`), that of κ or G (block standard error of the ensemble mean) through the
    slope, and the stated floor of :func:`~meso_kernels.analysis.activation.fit_activation`."""
    series: ElasticSeries
    activated_from: float
    activated: np.ndarray           # bool mask over the state points: the fitted ones (activated and stationary)
    blocks: dict                    # name -> block length (samples)
    change: dict                    # name -> RelativeChange
    errors: dict                    # name -> standard error of the ensemble mean per state point
    fits: dict                      # name -> ActivationFit
    verdicts: dict                  # name -> Verdict
    comparison: object              # Comparison
    stationary: np.ndarray = None   # bool per state point: False where the stationarity check failed


def analyse_series(series, activated_from=10.0, confidence=0.9, n_resamples=2000, seed=0, require_stationary=True):
    """:class:`SeriesAnalysis` of ``series``; the fits use the state points with τ_α/t0 >= ``activated_from``
    (the activated regime) and, with ``require_stationary``, only those that pass the stationarity check
    (:attr:`ElasticSeries.stationary`; runs with two blocks of origins have no check and count as passing).
    Fewer than 3 such points raise ValueError naming ``activated_from`` and the τ_α/t0 reached."""
    from ..analysis.activation import (compare_barriers, fit_activation, integrated_autocorrelation, mean_error,
                                       relative_change, verdict)
    tau = series.tau_over_t0
    if not np.all(np.isfinite(tau)):
        bad = [f"T={T:g}" for T, x in zip(series.T, tau) if not np.isfinite(x)]
        raise ValueError(f"{series.key}: no tau_alpha at {', '.join(bad)} (F_s never reached 0.2): run longer")
    stationary = series.stationary
    mask = (tau >= float(activated_from)) & (stationary if require_stationary else True)
    if mask.sum() < 3:
        bad = "" if stationary.all() or not require_stationary else \
            f" (not stationary, left out: T = {', '.join(f'{T:g}' for T in series.T[~stationary])})"
        raise ValueError(f"{series.key}: only {int(mask.sum())} state points with tau_alpha/t0 >= activated_from = "
                         f"{activated_from:g}{bad} (reached: {', '.join(f'{x:.3g}' for x in tau)}); a fit needs 3: "
                         "lower activated_from or add deeper state points")
    blocks, change, errors = {}, {}, {}
    for name in ("kappa", "G"):
        samples = series.samples(name)
        with np.errstate(all="ignore"):
            taus = [integrated_autocorrelation(v) for v in samples.values() if len(v) >= 8]
        b = int(np.clip(np.ceil(2 * np.nanmax(taus)), 1, None)) if taus else 1
        b = min(b, max(1, min(len(v) for v in samples.values()) // 4))
        blocks[name] = b
        change[name] = relative_change(samples, confidence=confidence, n_resamples=n_resamples, seed=seed, block=b)
        errors[name] = np.array([mean_error(v, block=b) for v in samples.values()])
    T = series.T[mask]
    kappa, G = series.means("kappa")[mask], series.means("G")[mask]
    lntau_err = series.lntau_err[mask]
    fits = {"kappa": fit_activation(T, tau[mask], kappa, a0=series.a0, X_err=errors["kappa"][mask],
                                    lntau_err=lntau_err, quantity="kappa", confidence=confidence,
                                    n_resamples=n_resamples, seed=seed),
            "G": fit_activation(T, tau[mask], G, X_err=errors["G"][mask], lntau_err=lntau_err, quantity="G",
                                confidence=confidence, n_resamples=n_resamples, seed=seed)}
    verdicts = {name: verdict(f) for name, f in fits.items()}
    comparison = compare_barriers(T, tau[mask], kappa, G, series.a0, kappa_err=errors["kappa"][mask],
                                  G_err=errors["G"][mask], lntau_err=lntau_err, confidence=confidence,
                                  n_resamples=n_resamples, seed=seed)
    return SeriesAnalysis(series, float(activated_from), mask, blocks, change, errors, fits, verdicts, comparison,
                          stationary)


#: the paper's (t̃, ℓ̃) for the models where it reports Eq. 3 to hold (Fig. 4)
PAPER_FIT = {"ipl": (0.1, 0.4), "mblj": (0.02, 0.4)}
#: the paper's Table II: inherent structures and κ_ij per parent temperature (minimum over T_p)
PAPER_TABLE2 = {"ipl": (10000, 2_000_000), "mblj": (128, 164_000), "ss0.6": (238, 476_000), "ss0.7": (49, 98_000),
                "ss0.95": (93, 186_000), "sw": (200, 80_000)}


def fit_table(analyses, label=str):
    """One row per model: (t̃, ℓ̃) of Eq. 3 with their intervals, the paper's values, and the verdicts of Eq. 3 (κ)
    and Eq. 2 (G) — a :class:`pandas.DataFrame`."""
    import pandas as pd
    rows = []
    for a in analyses:
        f, g = a.fits["kappa"], a.fits["G"]
        paper = PAPER_FIT.get(a.series.key, (np.nan, np.nan))
        rows.append({"model": label(a.series.key), "points": f.n_points,
                     "tau/t0 range": f"{np.exp(f.y.min()):.3g}–{np.exp(f.y.max()):.3g}",
                     "t~": f.t_tilde, "t~ 90% CI": f"[{f.t_tilde_ci[0]:.2g}, {f.t_tilde_ci[1]:.2g}]",
                     "l~": f.l_tilde, "l~ 90% CI": f"[{f.l_tilde_ci[0]:.2g}, {f.l_tilde_ci[1]:.2g}]",
                     "paper (t~, l~)": "–" if np.isnan(paper[0]) else f"({paper[0]:g}, {paper[1]:g})",
                     "Eq. 3 (kappa)": "holds" if a.verdicts["kappa"].holds else "fails",
                     "p kappa": f.p_value, "Eq. 2 (G)": "holds" if a.verdicts["G"].holds else "fails",
                     "p G": g.p_value, "t~ (G)": g.t_tilde})
    return pd.DataFrame(rows).set_index("model")


def comparison_table(analyses, label=str):
    """Per model: rms residual per point of ln τ_α against κ/T and against G/T, their difference with its 90 %
    paired-bootstrap interval, and which describes τ_α better (None where the interval includes 0)."""
    import pandas as pd
    rows = []
    for a in analyses:
        c = a.comparison
        rows.append({"model": label(a.series.key), "points": c.n_points, "rms (kappa/T)": c.rms_kappa,
                     "rms (G/T)": c.rms_G, "rms_G - rms_kappa": c.diff,
                     "90% CI": f"[{c.diff_ci[0]:.3f}, {c.diff_ci[1]:.3f}]", "better": c.better})
    return pd.DataFrame(rows).set_index("model")


def ensemble_table(analyses, label=str):
    """Per model: inherent structures and κ_ij per T_p (smallest over the schedule), the paper's Table II, the
    block length of the bootstrap, and the relative change of κ and G over the T_p range with 90 % intervals."""
    import pandas as pd
    rows = []
    for a in analyses:
        tab = a.series.ensemble_table()
        n_ihs, n_kappa = min(r[1] for r in tab), min(r[2] for r in tab)
        paper = PAPER_TABLE2[a.series.key]
        row = {"model": label(a.series.key), "T_p": f"{a.series.T.min():g}–{a.series.T.max():g}",
               "IHS / T_p": n_ihs, "kappa_ij / T_p": n_kappa, "paper IHS": paper[0], "paper kappa_ij": paper[1],
               "unconverged kappa_ij": sum(r[3] for r in tab)}
        for name in ("kappa", "G"):
            rc = a.change[name]
            k = int(np.argmin(rc.T))
            row[f"d{name} (%)"] = 100 * rc.value[k]
            row[f"d{name} 90% CI"] = f"[{100 * rc.low[k]:.1f}, {100 * rc.high[k]:.1f}]"
            width = 100 * np.max(rc.high - rc.low)
            row[f"d{name} widest CI / change"] = width / max(abs(100 * rc.value[k]), 1e-12)
        rows.append(row)
    return pd.DataFrame(rows).set_index("model")


#: the aim of the Fig. 4 issue for the κ(T_p) intervals: the widest 90 % interval of κ(T_p)/κ(T_p,max) - 1 over the
#: T_p range at most this fraction of the total change
INTERVAL_AIM = 0.25


def interval_notes(analyses, cpu=None, aim=INTERVAL_AIM, label=str, name="kappa"):
    """One line per model on the resolution of the relative change of ``name`` (``"kappa"`` or ``"G"``): the widest
    90 % interval over T_p as a fraction of the total change, against ``aim``. Where it is above the aim, the line
    says how many times the inherent structures per T_p would bring it down if intervals shrank as 1/sqrt(n) (they
    shrink more slowly: the samples are correlated along one trajectory, and more of them over the same stretch of
    it add less than independent ones), and with ``cpu`` (the table of :func:`cpu_hours`, indexed by the same
    labels) the ensemble CPU-hours that would cost."""
    if name not in ("kappa", "G"):
        raise ValueError(f"name must be 'kappa' or 'G', got {name!r}")
    if not 0 < aim:
        raise ValueError(f"aim must be a positive fraction of the change, got {aim!r}")
    sym = "κ" if name == "kappa" else "G"
    lines = []
    for a in analyses:
        rc = a.change[name]
        k = int(np.argmin(rc.T))
        change = abs(rc.value[k])
        ratio = float(np.max(rc.high - rc.low) / change) if change > 0 else np.inf
        n = min(r[1] for r in a.series.ensemble_table())
        head = f"{label(a.series.key)}: widest 90 % interval of Δ{sym}/{sym} = {ratio:.2f} of its change"
        if ratio <= aim:
            lines.append(f"{head} (aim <= {aim:g}): met with {n} inherent structures per T_p")
            continue
        factor = (ratio / aim) ** 2
        more = f"about {factor:.2f}x the {n} inherent structures per T_p (~{int(np.ceil(factor * n))})"
        if cpu is not None and label(a.series.key) in cpu.index:
            hours = float(cpu.loc[label(a.series.key), "ensembles (CPU-h)"])
            if np.isfinite(hours):
                more += f", {hours * (factor - 1):.1f} more CPU-h of ensembles"
        lines.append(f"{head} (aim <= {aim:g}): not met; {more} would reach it if the interval shrank as "
                     "1/sqrt(n), which correlated samples do not quite do")
    return "\n".join(lines)


def points_table(analysis):
    """Every plotted number of one model, one row per state point (the CSV next to the data): T, τ_α/t0 with the
    standard error of ln τ_α and where it came from (:attr:`ElasticSeries.lntau_err`), t0, the
    ensemble means of κ and G with standard errors, their relative changes with 90 % intervals, and whether the
    point is in the fitted (activated) range."""
    import pandas as pd
    s = analysis.series
    out = {"T": s.T, "tau_alpha/t0": s.tau_over_t0, "lntau_err": s.lntau_err, "lntau_err_from": s.lntau_err_source,
           "t0": s.t0, "a0": np.full(len(s.T), s.a0),
           "fitted": analysis.activated, "stationary": analysis.stationary,
           "n_ihs": [len(e["G"]) for e in s.ensembles]}
    for name in ("kappa", "G"):
        rc = analysis.change[name]
        order = np.argsort(-rc.T)       # RelativeChange is sorted by T; the series runs hottest first
        out[f"{name}_mean"] = s.means(name)
        out[f"{name}_se"] = analysis.errors[name]
        out[f"d{name}"] = rc.value[order]
        out[f"d{name}_lo"] = rc.low[order]
        out[f"d{name}_hi"] = rc.high[order]
    return pd.DataFrame(out)


def cpu_hours(series_list, label=str):
    """CPU-hours behind each model's Fig. 4 data, from the provenance sidecars: the liquids' wall time and each
    mechanics summary's own and inputs' wall time (``inputs_wall_s``: parents and inherent structures, which live
    in the scratch folder). One row per model: liquids, ensembles, total (a :class:`pandas.DataFrame`). Sidecars
    written before ``inputs_wall_s`` existed count as NaN."""
    import pandas as pd
    from .figures import ensemble_task
    from .liquid import scheduled_liquid
    from .task import Resolver, Store, sidecar_wall
    rows = []
    for s in series_list:
        res = Resolver(s.store or Store.for_size(s.size))
        liq = ens = 0.0
        for T in s.T:
            side = res.sidecar(scheduled_liquid(s.size, s.key, T)) or {}
            liq += sidecar_wall(side)
            side = res.sidecar(ensemble_task(s.size, s.key, T)) or {}
            ens += float(side.get("wall_time_s") or 0.0) + float(side.get("inputs_wall_s", np.nan))
        rows.append({"model": label(s.key), "liquids (CPU-h)": liq / 3600, "ensembles (CPU-h)": ens / 3600,
                     "total (CPU-h)": (liq + ens) / 3600})
    return pd.DataFrame(rows).set_index("model")


def verdict_lines(analyses, label=str):
    """The verdicts of Eq. 3 (κ) and Eq. 2 (G) for every model, with their numbers (text, one block per model)."""
    return "\n".join(f"\n{label(a.series.key)}:\n  Eq. 3 (kappa) {a.verdicts['kappa'].line()}\n"
                     f"  Eq. 2 (G)     {a.verdicts['G'].line()}" for a in analyses)


def analyse_models(size, keys, seed=0, temperatures=None, compute_missing=True, activated_from="auto",
                   require_stationary="auto", n_resamples=2000, backend="cpu"):
    """``(series, analyses)``: :func:`elastic_series` and :func:`analyse_series` of every model key in ``keys``, as
    the Fig. 4 and Fig. 6 pages use them. temperatures: ``{key: [T, ...]}`` subsets of the schedules (a key not in
    ``keys`` raises ValueError). ``"auto"``: activated_from 10 and require_stationary True, except at ci (0 and
    False: the ci runs are hot and have 4 blocks of origins, too few for the check to have power). backend: how
    missing results are computed (:func:`elastic_series`)."""
    temperatures = dict(temperatures or {})
    unknown = sorted(set(temperatures) - set(keys))
    if unknown:
        raise ValueError(f"temperatures has keys {unknown} that are not among the models {list(keys)}")
    if activated_from == "auto":
        activated_from = 0.0 if size == "ci" else 10.0
    if require_stationary == "auto":
        require_stationary = size != "ci"
    series = {k: elastic_series(size, k, seed=seed, temperatures=temperatures.get(k),
                                compute_missing=compute_missing, progress=size != "ci", backend=backend)
              for k in keys}
    analyses = {k: analyse_series(s, activated_from=activated_from, n_resamples=n_resamples, seed=seed,
                                  require_stationary=require_stationary) for k, s in series.items()}
    return series, analyses
