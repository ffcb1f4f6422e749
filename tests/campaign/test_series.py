"""Figs 4 and 6(a) from campaign results: κ(T), G(T) and τ_α(T) of a model, the fits and the checks, at the ci
size in a temporary store (one model, three temperatures, four inherent structures each)."""
import numpy as np
import pytest

from meso_kernels.campaign import CampaignError, Store
from meso_kernels.campaign.checks import crystallinity_table, equilibration_table
from meso_kernels.campaign.series import (analyse_series, comparison_table, elastic_series, ensemble_table,
                                          fit_table, interval_notes, points_table)
from meso_kernels.statepoints import label, schedule

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def ipl_series(tmp_path_factory):
    root = tmp_path_factory.mktemp("series")
    return elastic_series("ci", "ipl", store=Store(root / "d", root / "s"), progress=False)


def test_series_holds_every_scheduled_temperature(ipl_series):
    s = ipl_series
    temps = schedule("ci", "ipl").temperatures
    assert s.T.tolist() == sorted(temps, reverse=True)
    assert np.all(np.isfinite(s.tau_over_t0)) and np.all(np.diff(s.tau_over_t0) > 0)  # slower on cooling
    kappa = s.samples("kappa")
    assert set(s.samples("G")) == set(kappa)
    assert set(kappa) == set(temps) and all(len(v) == 4 for v in kappa.values())
    assert np.all(s.means("kappa") > 0) and np.all(s.means("G") > 0)
    rows = s.ensemble_table()
    assert [r[1] for r in rows] == [4, 4, 4] and all(r[2] == 4 * 40 for r in rows)
    with pytest.raises(ValueError, match="name must be 'kappa' or 'G'"):
        s.samples("B")


def test_analysis_tables_and_errors(ipl_series):
    a = analyse_series(ipl_series, activated_from=0.0, n_resamples=200)
    assert a.activated.all() and a.fits["kappa"].n_points == 3
    ref = np.argmax(a.change["kappa"].T)
    assert a.change["kappa"].value[ref] == 0.0
    # the relative change is the ratio of the ensemble means
    m = ipl_series.means("kappa")
    assert a.change["kappa"].value[np.argmin(a.change["kappa"].T)] == pytest.approx(m[-1] / m[0] - 1)
    assert a.fits["kappa"].l_tilde == pytest.approx(np.sqrt(a.fits["kappa"].slope) / ipl_series.a0)
    for table in (fit_table([a], label=label), comparison_table([a], label=label), ensemble_table([a], label=label)):
        assert list(table.index) == ["IPL"]
    assert ensemble_table([a]).loc["ipl", "paper IHS"] == 10000
    pts = points_table(a)
    assert len(pts) == 3 and {"T", "tau_alpha/t0", "kappa_mean", "dkappa_lo", "dG_hi"} <= set(pts.columns)
    assert pts["dkappa"].iloc[0] == 0.0
    with pytest.raises(ValueError, match="activated_from = 1e.06"):
        analyse_series(ipl_series, activated_from=1e6)


def test_checks_of_the_liquids(ipl_series):
    runs = {"ipl": ipl_series.points}
    eq = equilibration_table(runs)
    assert len(eq) == 3 and set(eq["blocks"]) == {4} and np.all(np.isfinite(eq["z"]))
    cr = crystallinity_table(runs)
    assert np.all(cr["diamond-like fraction"] < 0.05) and np.all(cr["U/N"] > 0)


def test_bad_input(tmp_path):
    empty = Store(tmp_path / "d", tmp_path / "s")
    with pytest.raises(ValueError, match=r"T=0.5 is not scheduled for ipl; scheduled: \[1.2, 1.0, 0.85\]"):
        elastic_series("ci", "ipl", temperatures=[0.5], store=empty)
    with pytest.raises(ValueError, match="unknown model key 'lj'"):
        elastic_series("ci", "lj", store=empty)
    with pytest.raises(CampaignError, match="meso campaign run --size ci --figures 4 --models mblj"):
        elastic_series("ci", "mblj", store=empty, compute_missing=False)


def test_cpu_hours_from_sidecars(ipl_series):
    from meso_kernels.campaign.series import cpu_hours
    table = cpu_hours([ipl_series])
    row = table.loc["ipl"]
    assert row["liquids (CPU-h)"] > 0 and row["ensembles (CPU-h)"] > 0
    assert row["total (CPU-h)"] == pytest.approx(row["liquids (CPU-h)"] + row["ensembles (CPU-h)"])


def test_non_stationary_points_are_left_out(ipl_series, monkeypatch):
    """A state point that fails the stationarity check (analysis.logtime.equilibration_check, tested on synthetic
    runs in tests/analysis/test_logtime.py) is left out of the fits and reported; the ci runs have 4 blocks, too few
    for the check to have power, so the failing point is imposed here."""
    from meso_kernels.campaign.series import ElasticSeries
    assert ipl_series.stationary.dtype == bool and len(ipl_series.stationary) == 3
    monkeypatch.setattr(ElasticSeries, "stationary", property(lambda self: np.array([True, True, False])))
    with pytest.raises(ValueError, match=r"not stationary, left out: T = 0.85"):
        analyse_series(ipl_series, activated_from=0.0, n_resamples=200)
    a = analyse_series(ipl_series, activated_from=0.0, n_resamples=200, require_stationary=False)
    assert a.activated.all() and not a.stationary[-1]
    assert list(points_table(a)["stationary"]) == [True, True, False]


def test_lntau_error_of_runs_without_blocks_is_scaled_by_run_length(ipl_series):
    """Runs stored with two blocks of origins have no block error of ln tau_alpha; they get the model's block error
    scaled by sqrt(tau_alpha / t_run) (the statistics of a time average), not zero."""
    import dataclasses
    s = ipl_series
    assert list(s.lntau_err_source) == ["blocks"] * 3 and np.all(s.lntau_err > 0)
    ratio = s.tau_over_t0 * s.t0 / s.run_time
    assert np.all((ratio > 0) & (ratio < 1))  # each run is longer than its tau_alpha
    two = dataclasses.replace(s)
    two.__dict__["checks"] = [None] + list(s.checks[1:])  # as if the hottest run had two blocks
    err, src = two.lntau_err, two.lntau_err_source
    c = np.median(s.lntau_err[1:] / np.sqrt(ratio[1:]))
    assert list(src) == ["scaled", "blocks", "blocks"]
    assert err[0] == pytest.approx(c * np.sqrt(ratio[0]), rel=1e-12) and np.array_equal(err[1:], s.lntau_err[1:])
    none = dataclasses.replace(s)
    none.__dict__["checks"] = [None, None, None]
    assert list(none.lntau_err_source) == ["none"] * 3 and np.all(none.lntau_err == 0)


def test_interval_notes_against_the_aim(ipl_series):
    """The line says met or not met from the widest interval over the change, and the factor on the ensemble."""
    a = analyse_series(ipl_series, activated_from=0.0, n_resamples=200)
    rc = a.change["kappa"]
    k = int(np.argmin(rc.T))
    ratio = float(np.max(rc.high - rc.low) / abs(rc.value[k]))
    assert f"{ratio:.2f} of its change" in interval_notes([a])
    loose, tight = interval_notes([a], aim=2 * ratio), interval_notes([a], aim=ratio / 2)
    assert "met with 4 inherent structures" in loose and "not met" not in loose
    assert "not met" in tight and "about 4.00x the 4 inherent structures per T_p (~16)" in tight
    import pandas as pd
    cpu = pd.DataFrame({"ensembles (CPU-h)": [0.5]}, index=["ipl"])
    assert "1.5 more CPU-h of ensembles" in interval_notes([a], cpu=cpu, aim=ratio / 2)
    with pytest.raises(ValueError, match="name must be 'kappa' or 'G'"):
        interval_notes([a], name="B")
