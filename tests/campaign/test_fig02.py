"""Fig. 2: the 2D IPL model key, its liquid, the Fig. 2 task set (liquid first, then the local ensemble at τ_α/6 and
the bond map of one configuration) and the errors of bad input."""
import numpy as np
import pytest

from meso_kernels.campaign import Resolver, Store, run
from meso_kernels.campaign.figures import FIGURES, IN_PROGRESS, fig04_tasks, figure_tasks, liquid_tasks
from meso_kernels.campaign.liquid import StatePointDynamics, correlator, liquid_task
from meso_kernels.campaign.local import (FIG02_ENSEMBLE, FIG02_KEY, FIG02_NR_CUTOFF, FIG02_STARTS, T_OBS,
                                         bond_map_task, fig02_ensemble, fig02_liquid, fig02_local_tasks,
                                         fig02_tasks, local_tasks)
from meso_kernels.campaign.task import CampaignError
from meso_kernels.statepoints import ALL_KEYS, FIG02_KEYS, MODEL_KEYS, check_key, label, model_for, schedule

pytestmark = pytest.mark.usefixtures("one_thread")


def test_ipl2d_key_is_known_but_kept_out_of_the_dynamics_models():
    assert FIG02_KEY in FIG02_KEYS and FIG02_KEY in ALL_KEYS and FIG02_KEY not in MODEL_KEYS
    m = model_for("ipl2d")
    assert m.name == "ipl" and m.dim == 2 and m.state_point.rho == 0.86 and label("ipl2d") == "2D IPL"
    assert check_key("ipl2d") == "ipl2d"
    for size in ("ci", "default", "paper"):
        s = schedule(size, "ipl2d")
        assert s.N == 400 and len(s.points) == 1
        p = s.points[0]
        assert not p.cooled and p.blocks >= 4 and p.prod_steps >= 2 * p.equil_steps / 5
    assert schedule("default", "ipl2d").temperatures == (0.48,) == schedule("paper", "ipl2d").temperatures
    assert schedule("ci", "ipl2d").temperatures[0] > 0.48
    # the figures that loop over the dynamics models do not pick it up
    assert all(t.params["key"] != "ipl2d" for t in fig04_tasks("ci") + liquid_tasks("ci", MODEL_KEYS))
    with pytest.raises(ValueError, match="allowed: ipl, mblj, ss0.6, ss0.7, ss0.95, sw, ipl2d"):
        check_key("ipl3d")


def test_ipl2d_runs_through_liquid_task(tmp_path):
    store = Store(tmp_path / "d", tmp_path / "s")
    task = liquid_task("ipl2d", 1.0, 80, 200, 1000, seed=3, blocks=4)
    run([task], store, progress=False)
    out = Resolver(store).load(task)
    assert out["final_positions"].shape == (80, 2) and out["box_final"].shape == (2,)
    assert float(out["rho"]) == 0.86 and int(out["N"]) == 80
    corr = correlator(out)
    assert corr.dim == 2 and corr.q == pytest.approx(model_for("ipl2d").state_point.qmax[1])
    # one MD step after the origin no particle has moved far: F_s is close to 1 for any trajectory
    assert corr.fs[1][0] > 0.9 and np.all(corr.msd_total > 0)


@pytest.fixture(scope="module")
def ci_liquid(tmp_path_factory):
    """The ci liquid of Fig. 2 (2D IPL, N = 400, a hot T), stored in a temporary store."""
    root = tmp_path_factory.mktemp("fig02")
    store = Store(root / "d", root / "s")
    run([fig02_liquid("ci")], store, progress=False)
    return store


def test_fig02_declares_the_local_ensemble_after_the_liquid(tmp_path, ci_liquid):
    empty = Store(tmp_path / "d", tmp_path / "s")
    tasks, pending = fig02_tasks("ci", Resolver(empty))
    assert tasks == [fig02_liquid("ci")] and len(pending) == 1 and "ipl2d" in pending[0]
    ft = figure_tasks("2", "ci", store=empty)
    assert ft.tasks == tasks and ft.pending == pending
    assert "2" in FIGURES and "2" not in IN_PROGRESS  # its default data are complete and committed

    store = ci_liquid
    res = Resolver(store)
    sp = StatePointDynamics("ipl2d", res.load(fig02_liquid("ci")))
    assert np.isfinite(sp.tau_alpha), sp.note
    tasks, pending = fig02_tasks("ci", res)
    assert not pending and [t.kind for t in tasks] == ["liquid", "mechanics"] + ["iso_mobility"] * \
        FIG02_ENSEMBLE["ci"]["n_conf"] + ["bond_map"]
    dt = model_for("ipl2d").state_point.dt
    mech, mob, bond = tasks[1], tasks[2:-1], tasks[-1]
    assert T_OBS["2"] == pytest.approx(1 / 6)
    assert all(m.params["nsteps"] == max(1, round(sp.tau_alpha / (6 * dt))) for m in mob)
    assert all(m.params["nr_cutoff"] == FIG02_NR_CUTOFF for m in mob)
    assert mech.params["local"] and mech.params["key"] == "ipl2d" and mech.params["N"] == 400
    # the bond map quenches configuration 0 of the very parents whose inherent structures give kappa_i
    assert bond.needs == (mech.needs[0],) and bond.params["conf"] == 0
    assert bond.params["n_starts"] == FIG02_STARTS["ci"] and bond.params["k"] == 12
    assert bond.params["ftol"] == mech.needs[1].params["ftol"]
    # the same as the generic local ensemble with Fig. 2's settings
    lt = local_tasks("ci", sp, 1 / 6, nr_cutoff=FIG02_NR_CUTOFF, **FIG02_ENSEMBLE["ci"])
    assert lt.targets == tasks[1:-1]
    assert figure_tasks("2", "ci", store=store, models=["ipl"]).tasks == []


def test_bond_map_is_the_inherent_structure_of_the_ensemble(ci_liquid):
    from meso_kernels.hessian import build_terms, hessian_matrix
    from meso_kernels.models import get_model
    from meso_kernels.system import System
    store = ci_liquid
    res = Resolver(store)
    sp = StatePointDynamics("ipl2d", res.load(fig02_liquid("ci")))
    lt = fig02_local_tasks("ci", sp, n_conf=2)
    bond = bond_map_task(lt.mechanics, conf=1, n_starts=8, k=3)
    ihs_task = lt.mechanics.needs[2]
    run([bond, ihs_task], store, progress=False)
    b, ihs = res.load(bond), res.load(ihs_task)
    N = 400
    assert b["ihs_positions"].shape == (N, 2) and b["modes"].shape[1:] == (N, 2) and 1 <= len(b["stiffness"]) <= 3
    # the same quench of the same configuration as the mechanics task: the same kappa_i (same machine, same code)
    np.testing.assert_allclose(b["local_kappa"], ihs["local_kappa"], rtol=1e-9, equal_nan=True)
    np.testing.assert_allclose(b["ihs_positions"], ihs["ihs_positions"], atol=1e-5)
    assert b["pairs"].shape == (b["kappa"].size, 2) and np.all(b["kappa"] > 0) and b["kappa_converged"].all()
    assert np.all(np.diff(b["stiffness"]) >= 0) and np.all((b["cores"] >= 0) & (b["cores"] < N))
    # a pseudoharmonic mode's stiffness pi.M.pi can never lie below the lowest non-zero eigenvalue of M
    system = System(b["ihs_positions"], b["box"], b["types"])
    terms = build_terms(system, get_model("ipl", dim=2))
    keep = ~b["rattlers"]
    terms = terms.without(~keep) if (~keep).any() else terms
    lam = np.linalg.eigvalsh(hessian_matrix(terms).toarray())[2]
    assert b["stiffness"][0] >= lam * (1 - 1e-8)
    norms = np.linalg.norm(b["modes"].reshape(len(b["stiffness"]), -1), axis=1)
    np.testing.assert_allclose(norms, 1.0, rtol=1e-5)


def test_fig02_ensemble_loads_mobility_and_kappa_of_the_same_configurations(ci_liquid):
    ens, bond = fig02_ensemble("ci", store=ci_liquid, progress=False, n_conf=2, runs_per_batch=2)
    dt = model_for("ipl2d").state_point.dt
    assert ens.key == "ipl2d" and ens.local_kappa.shape == (2, 400) and ens.nr_mobility.shape == (2, 400)
    assert ens.n_runs == 2 and abs(ens.t_obs - ens.tau_alpha / 6) <= dt / 2
    assert np.all(ens.nr_mobility > 0) and bond["pairs"].shape[1] == 2
    # the bond map is configuration 0 of the ensemble: its kappa_i are the ensemble's (stored as float32)
    np.testing.assert_allclose(bond["local_kappa"], ens.local_kappa[0], rtol=1e-6, equal_nan=True)


def test_bad_input_names_the_parameter(tmp_path, ci_liquid):
    res = Resolver(ci_liquid)
    sp = StatePointDynamics("ipl2d", res.load(fig02_liquid("ci")))
    lt = fig02_local_tasks("ci", sp)
    with pytest.raises(ValueError, match=r"conf must be an integer in \[0, 3\]"):
        bond_map_task(lt.mechanics, conf=4)
    with pytest.raises(ValueError, match="n_starts must be a positive integer or None"):
        bond_map_task(lt.mechanics, n_starts=0)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        bond_map_task(lt.mechanics, k=0)
    with pytest.raises(ValueError, match="mechanics must be the mechanics task of a local ensemble"):
        bond_map_task(lt.mechanics.needs[0])
    with pytest.raises(ValueError, match="n_conf must be an integer >= 1"):
        fig02_local_tasks("ci", sp, n_conf=0)
    with pytest.raises(ValueError, match="unknown local-ensemble parameter 'nconf'"):
        fig02_tasks("ci", res, nconf=3)
    with pytest.raises(ValueError, match="allowed sizes"):
        fig02_ensemble("huge")
    empty = Store(tmp_path / "d", tmp_path / "s")
    with pytest.raises(CampaignError, match=r"meso campaign run --size ci --figures 2"):
        fig02_ensemble("ci", store=empty, compute_missing=False)
    with pytest.raises(CampaignError, match=r"meso campaign run --size ci --figures 2"):
        fig02_ensemble("ci", store=ci_liquid, compute_missing=False, n_conf=3, spacing=0.25)
