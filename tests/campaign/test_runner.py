"""Running task sets: make's rule, dependency order, resume without recomputation, failures, Dask against serial, two
writers of one key."""
import multiprocessing

import numpy as np
import pytest

from meso_kernels.campaign import (CampaignError, Plan, Resolver, Store, execute, liquid_task, load, mechanics_tasks,
                                   run)
from meso_kernels.campaign import task as task_module
from meso_kernels.io import load_npz

pytestmark = pytest.mark.usefixtures("one_thread")


def small_ensemble(seed=1, n_conf=3):
    return mechanics_tasks("ipl", 1.2, 128, 200, 20, 30, n_conf=n_conf, n_pairs=6, seed=seed)


def store_files(store):
    return sorted(p.relative_to(root).as_posix() for root in (store.data, store.scratch)
                  for p in root.rglob("*") if p.is_file())


def test_plan_orders_inputs_first_and_stops_at_stored_results(tmp_path):
    store = Store(tmp_path / "d", tmp_path / "s")
    summary = small_ensemble()
    plan = Plan([summary], store)
    order = plan.needed
    assert len(order) == 1 + 1 + 3 + 1 and order[0].kind == "liquid" and order[-1] is summary
    pos = {t: i for i, t in enumerate(order)}
    assert all(pos[d] < pos[t] for t in order for d in t.needs)
    assert not plan.done and not plan.blocked

    run([summary], store, progress=False)
    plan = Plan([summary], store)
    assert plan.done == [summary] and not plan.needed  # the scratch results behind it are not even visited
    # without its scratch results a stored summary still counts as done (a fresh clone has only data/)
    for p in store.scratch.rglob("*.npz"):
        p.unlink()
    assert Plan([summary], store).done == [summary]
    # a new target reusing the stored liquid only needs what is new
    bigger = small_ensemble(n_conf=4)
    kinds = sorted(t.kind for t in Plan([bigger], store).needed)
    assert kinds == ["mechanics"] + ["mechanics_ihs"] * 4 + ["parents"]


def test_plan_stores_each_summary_as_soon_as_its_inputs_are_done(tmp_path):
    """A summary target runs right after the last of its inputs, before the next ensemble's inherent structures (a
    stopped run then keeps every finished ensemble in data/, not only scratch results)."""
    store = Store(tmp_path / "d", tmp_path / "s")
    summaries = [small_ensemble(seed=1), small_ensemble(seed=2), small_ensemble(seed=3, n_conf=2)]
    order = Plan(summaries, store).needed
    pos = {t: i for i, t in enumerate(order)}
    assert all(pos[d] < pos[t] for t in order for d in t.needs)
    for s in summaries:
        assert pos[s] == max(pos[d] for d in s.needs) + 1
    # the ensembles' inherent structures are not interleaved: each summary precedes every later ensemble's
    ihs = [t for t in order if t.kind == "mechanics_ihs"]
    assert len(ihs) == 8
    first = sorted(summaries, key=pos.get)
    assert pos[first[0]] < min(pos[d] for d in first[1].needs if d.kind == "mechanics_ihs")


def test_run_resumes_without_recomputing(tmp_path, monkeypatch):
    store = Store(tmp_path / "d", tmp_path / "s")
    summary = small_ensemble()
    calls = []
    real = task_module.cached

    def counting(campaign, params, compute, **kw):
        def wrapped():
            calls.append(campaign)
            return compute()
        return real(campaign, params, wrapped, **kw)

    monkeypatch.setattr(task_module, "cached", counting)
    # a first run that stops after the parents (as if killed): only the liquid and parents are stored
    run([summary.needs[0]], store, progress=False)
    assert calls == ["dynamics", "mechanics_parents"]
    out = run([summary], store, progress=False)
    assert calls[2:] == ["mechanics_ihs"] * 3 + ["mechanics"]
    assert len(out["computed"]) == 4 and not out["failed"]
    again = run([summary], store, progress=False)
    assert not again["computed"] and len(calls) == 6
    [arrays] = load([summary], store, progress=False)
    assert arrays["G"].shape == (3,) and arrays["kappa_mean"].shape == (3,)
    assert np.all(arrays["kappa_mean"] > 0) and arrays["kappa_counts"].sum() + arrays["kappa_below"] \
        + arrays["kappa_above"] == arrays["n_pairs"].sum() == 18


def test_a_failed_task_stops_its_dependants_only(tmp_path, monkeypatch):
    store = Store(tmp_path / "d", tmp_path / "s")
    good, bad = small_ensemble(seed=1, n_conf=1), small_ensemble(seed=2, n_conf=1)
    real = task_module.KINDS["mechanics_ihs"]

    def boom(task, params, load, progress):
        if task.seed == 2:
            raise RuntimeError("quench did not converge")
        return real.compute(task, params, load, progress)

    import dataclasses
    monkeypatch.setitem(task_module.KINDS, "mechanics_ihs", dataclasses.replace(real, compute=boom))
    with pytest.raises(CampaignError, match=r"2 of 8 tasks failed:\n.*index=0\) \[[0-9a-f]{8}\]: RuntimeError: quench did "
                                            r"not converge\n.*mechanics\(key=ipl, T=1.2\) \[[0-9a-f]{8}\]: an input failed"):
        run([bad, good], store, progress=False)
    res = Resolver(store)
    assert res.done(good) and not res.done(bad) and res.done(bad.needs[0])


def test_dask_gives_the_serial_store(tmp_path):
    distributed = pytest.importorskip("distributed")
    from meso_kernels.campaign import local_cluster
    serial = Store(tmp_path / "serial" / "d", tmp_path / "serial" / "s")
    dask = Store(tmp_path / "dask" / "d", tmp_path / "dask" / "s")
    targets = [small_ensemble(seed=1, n_conf=2), small_ensemble(seed=3, n_conf=2)]
    run(targets, serial, progress=False)  # numba at one thread, as in the workers
    with local_cluster(2, dashboard=False) as cluster, distributed.Client(cluster) as client:
        out = run(targets, dask, client=client, progress=False)
    assert len(out["computed"]) == 2 * 5 and not out["failed"]
    assert store_files(serial) == store_files(dask)
    for name in store_files(serial):
        if name.endswith(".npz"):
            a = load_npz(next(p for p in (serial.data / name, serial.scratch / name) if p.exists()))
            b = load_npz(next(p for p in (dask.data / name, dask.scratch / name) if p.exists()))
            assert a.keys() == b.keys()
            for k in set(a) - {"wall_time"}:  # a timing, not a result
                assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]), (name, k)


def _execute_in_child(task, store, barrier):
    import numba
    numba.set_num_threads(1)
    barrier.wait()
    execute(task, store)


def test_two_writers_of_one_key_leave_one_valid_result(tmp_path):
    store = Store(tmp_path / "d", tmp_path / "s")
    task = liquid_task("sw", 0.08, 256, 300, 400, seed=5)
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_execute_in_child, args=(task, store, barrier)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(300)
        assert p.exitcode == 0
    files = store_files(store)
    assert len(files) == 2 and not [f for f in files if f.endswith(".tmp")]
    stored = Resolver(store).load(task)
    again = Store(tmp_path / "d2", tmp_path / "s2")
    execute(task, again)
    ref = Resolver(again).load(task)
    assert all(np.array_equal(stored[k], ref[k]) for k in set(ref) - {"wall_time"})


def test_cheap_tasks_that_others_wait_for_go_first(tmp_path):
    store = Store(tmp_path / "d", tmp_path / "s")
    a, b = small_ensemble(seed=1), small_ensemble(seed=2)
    lonely = liquid_task("sw", 0.08, 256, 300, 400, seed=5)  # nothing waits for it
    unit = Plan([lonely, a, b], store, cost=lambda t: 1.0).needed
    assert {t.kind for t in unit[:2]} == {"liquid"} and lonely not in unit[:2]
    assert unit.index(lonely) > unit.index(a.needs[0])  # after the parents of the first ensemble too
    # per estimated CPU-second: an expensive input waits behind cheap independent work
    costly = Plan([lonely, a], store, cost=lambda t: 1e6 if t.kind == "parents" else 1.0).needed
    assert costly[0] == a.needs[0].needs[0] and costly[1] == lonely
