"""Local ensembles (Figs 2, 6(b, c), 7): κ_i and isoconfigurational mobility of the same configurations."""
import numpy as np
import pytest

from meso_kernels.analysis.propensity import mobility, neighbour_relative_displacements
from meso_kernels.campaign import Resolver, Store, run
from meso_kernels.campaign.figures import figure_tasks
from meso_kernels.campaign.liquid import StatePointDynamics, scheduled_liquid
from meso_kernels.campaign.local import (LOCAL_ENSEMBLE, T_OBS, fig07_tasks, load_local, local_ensemble,
                                         local_size, local_tasks)
from meso_kernels.campaign.task import CampaignError

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def liquid(tmp_path_factory):
    """The ci liquid of SS rho = 0.6 at its hottest scheduled T, stored in a temporary store."""
    root = tmp_path_factory.mktemp("local")
    store = Store(root / "d", root / "s")
    task = scheduled_liquid("ci", "ss0.6", 2.0)
    run([task], store, progress=False)
    return store, StatePointDynamics("ss0.6", Resolver(store).load(task))


def test_local_tasks_share_configurations_and_follow_tau_alpha(liquid):
    store, sp = liquid
    lt = local_tasks("ci", sp, 0.1, nr_cutoff=1.5)
    e = LOCAL_ENSEMBLE["ci"]
    dt = sp.model.state_point.dt
    assert lt.nsteps == max(1, round(0.1 * sp.tau_alpha / dt))
    assert lt.interval == max(1, round(e["spacing"] * sp.tau_alpha / dt))
    parents = lt.mechanics.needs[0]
    assert parents.needs == (scheduled_liquid("ci", "ss0.6", 2.0),)
    assert parents.params["prod_steps"] == lt.interval * e["n_conf"]
    assert lt.mechanics.params["local"] is True and len(lt.mobility) == e["n_conf"]
    # the isoconfigurational runs start from the very configurations whose inherent structures give kappa_i
    assert all(m.needs[0] == parents for m in lt.mobility)
    assert [m.params["conf"] for m in lt.mobility] == list(range(e["n_conf"]))
    assert all(m.params["n_runs"] == e["n_batches"] * e["runs_per_batch"] for m in lt.mobility)
    # a longer observation time is another task, the same configurations
    longer = local_tasks("ci", sp, 0.2)
    assert longer.mobility[0] != lt.mobility[0] and longer.mechanics == lt.mechanics


def test_local_ensemble_arrays_agree_with_raw_runs(liquid):
    store, sp = liquid
    lt = local_tasks("ci", sp, 0.1, nr_cutoff=1.5, n_conf=2, runs_per_batch=2)
    ens = load_local("ci", sp, lt, store, progress=False)
    N = ens.types.size
    assert ens.local_kappa.shape == (2, N) and ens.mobility.shape == (2, N) and ens.positions.shape == (2, N, 3)
    assert ens.n_runs == 2 and ens.nr_mobility.shape == (2, N)
    assert ens.t_obs == pytest.approx(lt.nsteps * sp.model.state_point.dt)
    res = Resolver(store)
    for c, task in enumerate(lt.mobility):
        d = np.concatenate([res.load(b)["displacements"].astype(float) for b in task.needs[1:]])
        np.testing.assert_allclose(ens.mobility[c], mobility(d), rtol=1e-12)
        x0 = np.mod(ens.positions[c], ens.box)
        nr = neighbour_relative_displacements(x0, x0 + d, ens.box, 1.5)
        # positions are stored as float32: neighbour lists agree except for pairs within 1e-6 of the cutoff
        np.testing.assert_allclose(ens.nr_mobility[c], mobility(nr), rtol=1e-5, atol=1e-6)
        ok = np.isfinite(ens.local_kappa[c])
        assert ok.sum() > 0.9 * N and np.all(ens.local_kappa[c][ok] > 0)
    assert np.all(ens.mobility > 0)
    # the neighbour-relative displacement removes the motion a particle shares with its cage: smaller on average
    assert ens.nr_mobility.mean() < ens.mobility.mean()


def test_bad_input_names_the_parameter(liquid, tmp_path):
    store, sp = liquid
    with pytest.raises(ValueError, match="t_obs must be a positive fraction"):
        local_tasks("ci", sp, 0.0)
    with pytest.raises(ValueError, match="n_conf must be an integer >= 1"):
        local_tasks("ci", sp, 0.1, n_conf=0)
    with pytest.raises(ValueError, match="unknown local-ensemble parameter 'nconf'; allowed: n_conf"):
        local_size("ci", nconf=3)
    with pytest.raises(ValueError, match="nr_cutoff must be a positive length"):
        local_tasks("ci", sp, 0.1, nr_cutoff=-1.0)
    with pytest.raises(ValueError, match="key must be one of the SS densities ss0.6, ss0.7, ss0.95, got 'ipl'"):
        local_ensemble("ci", "ipl")
    empty = Store(tmp_path / "d", tmp_path / "s")
    with pytest.raises(CampaignError, match=r"meso campaign run --size ci --figures 7"):
        local_ensemble("ci", "ss0.7", store=empty, compute_missing=False)


def test_fig07_declares_local_ensembles_after_the_liquids(tmp_path):
    empty = Store(tmp_path / "d", tmp_path / "s")
    tasks, pending = fig07_tasks("ci", Resolver(empty))
    assert {t.kind for t in tasks} == {"liquid"} and len(pending) == 1
    f6 = figure_tasks("6", "ci", store=empty)
    assert {t.kind for t in f6.tasks} == {"liquid", "mechanics"} and f6.pending == pending
    assert T_OBS["7"] == pytest.approx(0.1) and T_OBS["2"] == pytest.approx(1 / 6)
