"""Mechanics ensembles and isoconfigurational runs as tasks: the summaries agree with the raw results behind them."""
import numpy as np
import pytest

from meso_kernels.analysis.propensity import mobility
from meso_kernels.campaign import KAPPA_EDGES, Resolver, Store, iso_tasks, mechanics_tasks, run

pytestmark = pytest.mark.usefixtures("one_thread")


def test_mechanics_summary_and_local_kappa(tmp_path):
    store = Store(tmp_path / "d", tmp_path / "s")
    summary = mechanics_tasks("ipl", 1.2, 128, 200, 20, 40, n_conf=2, n_pairs=8, local=True, seed=2)
    run([summary], store, progress=False)
    res = Resolver(store)
    s = res.load(summary)
    per = [res.load(t) for t in summary.needs[1:]]
    np.testing.assert_allclose(s["kappa_mean"], [p["kappa"].mean() for p in per], rtol=1e-14)
    np.testing.assert_array_equal(s["G"], [float(p["G"]) for p in per])
    assert s["local_kappa"].shape == (2, 128) and s["local_kappa"].dtype == np.float32
    for p in per:  # kappa_i, the mean of kappa_ij over all pairs of i, exists for every non-rattler
        ok = np.isfinite(p["local_kappa"])
        assert ok.sum() >= 128 - int(p["n_rattlers"]) and np.all(p["local_kappa"][ok] > 0)
    kappa = np.concatenate([p["kappa"] for p in per])
    counts, _ = np.histogram(kappa / kappa.mean(), bins=KAPPA_EDGES)
    np.testing.assert_array_equal(s["kappa_counts"], counts)
    assert s["kappa_counts"].sum() + s["kappa_below"] + s["kappa_above"] == 16


def test_isoconfigurational_batches(tmp_path):
    store = Store(tmp_path / "d", tmp_path / "s")
    conf0, conf1 = iso_tasks("ipl", 1.2, 128, 200, 20, 40, n_conf=2, n_batches=2, runs_per_batch=2, nsteps=30,
                             seed=4)
    run([conf0, conf1], store, progress=False)
    res = Resolver(store)
    for task in (conf0, conf1):
        out = res.load(task)
        d = np.concatenate([res.load(b)["displacements"].astype(float) for b in task.needs[1:]])
        assert d.shape == (4, 128, 3) and int(out["n_runs"]) == 4
        np.testing.assert_allclose(out["mobility"], mobility(d), rtol=1e-12)
        assert np.all(out["mobility"] > 0)
    # a batch does not depend on how many batches there are: the same key, so it is reused
    one, _ = iso_tasks("ipl", 1.2, 128, 200, 20, 40, n_conf=2, n_batches=1, runs_per_batch=2, nsteps=30, seed=4)
    assert one.needs[1] == conf0.needs[1] and res.done(one.needs[1])
    # different velocity draws per batch and per configuration
    b0, b1 = (res.load(b)["displacements"] for b in conf0.needs[1:])
    assert not np.array_equal(b0, b1)
    assert not np.array_equal(res.load(conf0)["positions"], res.load(conf1)["positions"])


def pair_force_sum(model, system):
    """max_i sum_j |f_ij|: the largest sum of pair-force magnitudes on one particle (all pairs within their cut-off,
    minimum image; the scale of the roundoff of a force F_i = sum_j f_ij)."""
    x, L, t = system.positions, system.box, system.types
    dr = x[None, :, :] - x[:, None, :]
    dr -= L * np.round(dr / L)
    r = np.sqrt((dr**2).sum(-1))
    np.fill_diagonal(r, np.inf)
    f = np.zeros_like(r)
    for a in range(model.n_types):
        for b in range(model.n_types):
            near = (t[:, None] == a) & (t[None, :] == b) & (r < model.rcut[a, b])
            if near.any():
                _, s, _ = model.phi(r[near], a, b)  # s = -phi'(r)/r
                f[near] = np.abs(s) * r[near]
    return float(f.sum(axis=1).max())


def test_parent_quench_is_an_inherent_structure_and_fails_loudly(monkeypatch):
    """The one quench behind mechanics_ihs and bond_map tasks: it ends at a force below ftol, and a quench that
    cannot converge raises an error naming the task instead of storing a non-minimum."""
    from meso_kernels.campaign import mechanics
    from meso_kernels.forces import ForceField
    from meso_kernels.initial import random_configuration
    from meso_kernels.statepoints import model_for
    model = model_for("ipl")
    sys0 = random_configuration(model, 128, model.state_point.rho, seed=3)
    parents = {"x": sys0.positions[None], "box": sys0.box, "types": sys0.types}
    task = mechanics_tasks("ipl", 1.2, 128, 10, 10, 10, n_conf=1, n_pairs=2).needs[1]
    ihs, res = mechanics.parent_quench(task, parents, 0, model, 1e-8)
    _, F, _ = ForceField(model, ihs.box).compute(ihs.positions, ihs.types)
    fmax = float(np.sqrt((F**2).sum(axis=1)).max())  # max_i |F_i|, recomputed here, not read from the quench
    assert res.converged and fmax < 1e-8
    # the quench reports the force of the structure it returns: the same to roundoff, which is eps times the sums
    # of |f_ij| whose cancellation leaves F_i (the returned positions are wrapped into the box and summed in another
    # order). 1e-12 of the largest such sum is ~5000 eps of it and ~2e-10 here, a few % of max_force: a wrong or
    # stale max_force fails.
    tol = 1e-12 * pair_force_sum(model, ihs)
    assert abs(fmax - res.max_force) <= tol, (fmax, res.max_force, tol)
    monkeypatch.setattr(mechanics, "QUENCH_MAX_STEPS", 3)
    with pytest.raises(RuntimeError, match=r"mechanics_ihs.*did not converge"):
        mechanics.parent_quench(task, parents, 0, model, 1e-8)
