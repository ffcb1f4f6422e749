"""Figure task sets, status and plan: what each figure declares, and that the committed default data are found."""
import pytest

from meso_kernels.campaign import CostModel, Plan, Store, check_figures, figure_tasks, plan_text, status_text
from meso_kernels.campaign.figures import FIGURES, IN_PROGRESS, fig03_tasks
from meso_kernels.presets import sizes
from meso_kernels.statepoints import schedule


def test_declared_task_sets(tmp_path):
    empty = Store(tmp_path / "d", tmp_path / "s")
    f3 = figure_tasks("3", "ci", store=empty)
    run = sizes("fig03", "ci")["ipl"]
    assert [t.kind for t in f3.tasks] == ["mechanics"] * 3 and not f3.pending
    assert all(len(t.needs) == 1 + run.n_ihs and t.params["N"] == run.N for t in f3.tasks)
    f9 = figure_tasks("fig09", "default", store=empty)
    assert {t.kind for t in f9.tasks} == {"liquid"} and len(f9.tasks) == sum(
        len(schedule("default", k).temperatures) for k in ("ipl", "mblj", "ss0.6", "sw"))
    # Fig. 5 chooses its state points from the liquids: with none stored, its trajectories are pending
    f5 = figure_tasks("5", "ci", store=empty)
    assert {t.kind for t in f5.tasks} == {"liquid"} and len(f5.pending) == 2
    only = figure_tasks("5", "ci", store=empty, models=["sw"])
    assert {t.params["key"] for t in only.tasks} == {"sw"}
    assert check_figures(["3", "fig05", 9, "Fig10"]) == ["3", "5", "9", "10"]
    with pytest.raises(ValueError, match=r"unknown figure 'fig8'; figures with a task set: 2, 3, 4, 5, 6, 7, 9, 10, "
                                         r"11"):
        check_figures(["fig8"])
    with pytest.raises(ValueError, match="at least two positive parent temperatures"):
        fig03_tasks("ci", temperatures=[1.0])


@pytest.mark.parametrize("figure", list(FIGURES))
def test_committed_default_data_are_complete(figure):
    """Every task the default book needs is stored in data/ (the scratch results behind summaries are not needed):
    a change that alters a key without recomputing the data fails here."""
    store = Store.for_size("default")
    ft = figure_tasks(figure, "default", store=store)
    plan = Plan(ft.tasks, store, order=False)
    if figure in IN_PROGRESS:
        pytest.skip(f"Fig. {figure}: default campaign in progress ({IN_PROGRESS[figure]}): "
                    f"{len(plan.needed)} tasks to compute, pending: {ft.pending}")
    assert not ft.pending, ft.pending
    assert not plan.needed, [t.label() for t in plan.needed[:5]]
    text = status_text("default", [figure], store)
    rows = [line.split() for line in text.splitlines()[2:]  # the table: no pending, total or checkpoints lines
            if not line.strip().startswith(("+", "missing work in all:", "checkpoints in "))]
    assert rows and all(r[0] == figure and int(r[3]) == 0 for r in rows), text


def test_cost_model_and_plan_read_sidecars(tmp_path):
    default = Store.for_size("default")
    cost = CostModel(default)
    assert cost.counts.get(("liquid", "ipl"), 0) >= 1 and cost.rate("liquid", "ipl") > 0
    # an unmeasured kind falls back to its built-in rate
    empty = CostModel(Store(tmp_path / "d", tmp_path / "s"))
    assert empty.rate("iso", "ipl") > 0
    text = plan_text("paper", ["9", "11"], Store(tmp_path / "d", tmp_path / "s"), reference=default)
    lines = text.splitlines()
    assert "size 'paper'" in lines[0] and any(line.split()[:2] == ["9", "all"] for line in lines)
    hours = float(next(line.split()[3] for line in lines if line.split()[:2] == ["9", "all"]))
    assert hours > 0


def test_committed_data_stay_small():
    """data/ holds summaries only (raw per-pair and per-run arrays go to the git-ignored scratch folder)."""
    from meso_kernels.store import REPO_ROOT
    size = sum(p.stat().st_size for p in (REPO_ROOT / "data").rglob("*") if p.is_file())
    assert size < 100e6, f"data/ holds {size / 1e6:.1f} MB"


def test_fig04_task_set_and_fixed_viscous_targets(tmp_path):
    from meso_kernels.campaign.figures import (VISCOUS_TARGETS, ensemble_size, ensemble_task, fig04_tasks,
                                               selection_liquids, viscous_target)
    from meso_kernels.campaign.liquid import scheduled_liquid
    tasks = fig04_tasks("default", ["ipl"])
    temps = schedule("default", "ipl").temperatures
    assert [t.kind for t in tasks] == ["liquid", "mechanics"] * len(temps)
    e = ensemble_size("default", "ipl")
    for liquid, ens in zip(tasks[::2], tasks[1::2]):
        parents = ens.needs[0]
        assert parents.needs == (liquid,) and len(ens.needs) == 1 + e["n_conf"]
        assert ens.params["n_pairs"] == e["n_pairs"] and parents.params["T"] == liquid.params["T"]
        assert parents.params["prod_steps"] <= liquid.params["prod_steps"]
    with pytest.raises(ValueError, match="not scheduled for ipl"):
        ensemble_task("default", "ipl", 0.123)
    # Figs 5, 10 and 11 compare at fixed targets, so the deeper points are never needed to choose
    assert viscous_target("default", ["ipl", "sw"]) == VISCOUS_TARGETS["default"]["models"]
    assert viscous_target("default", ["ss0.6", "ss0.95"]) == VISCOUS_TARGETS["default"]["densities"]
    assert viscous_target("ci", ["ipl", "sw"]) is None
    from meso_kernels.campaign import Resolver
    empty = Resolver(Store(tmp_path / "d", tmp_path / "s"))
    assert len(selection_liquids("default", ["ipl"], empty)) == len(temps)      # nothing stored: all of them
    stored = Resolver(Store.for_size("default"))
    walked = selection_liquids("default", ["ipl"], stored)
    assert walked == [scheduled_liquid("default", "ipl", T) for T in temps[:len(walked)]] and len(walked) < len(temps)


def test_no_orphaned_results_in_data():
    """Every result in the campaign folders of data/ is the result of a task some figure declares (directly or as
    an input) at the default size: a change of a task's key leaves no stale file behind, and nothing the book does
    not read is committed."""
    from meso_kernels.campaign import Resolver
    from meso_kernels.campaign.task import KINDS
    store = Store.for_size("default")
    res = Resolver(store, snapshot=True)
    declared_paths, seen = set(), set()
    stack = [t for fig in FIGURES for t in figure_tasks(fig, "default", store=store).tasks]
    while stack:
        t = stack.pop()
        if t in seen:
            continue
        seen.add(t)
        stack.extend(t.needs)
        if t.spec.where != "data":
            continue
        paths = res.paths(t)
        if paths is not None:
            declared_paths.add(paths[0].resolve())
    folders = {store.data / k.campaign for k in KINDS.values() if k.where == "data"}
    stored = {p.resolve() for f in folders if f.is_dir() for p in f.glob("*.npz")}
    orphans = sorted(str(p.relative_to(store.data)) for p in stored - declared_paths)
    assert not orphans, orphans
