import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from meso_kernels import report  # noqa: E402
from meso_kernels.report import (COLUMNS, Page, figure_table, link_markdown, machine, provenance_line,  # noqa: E402
                                 read_csv, read_sidecars, tidy_table, write_csv)
from meso_kernels.store import ReadLog, cached  # noqa: E402

BUILD = ("a" * 40, False, "2026-12-01")


def sidecar(commit="1234567890abcdef", dirty=False, date="2026-11-24T10:00:00+00:00", backend="cpu", device="cpu",
            model="AMD EPYC"):
    return {"git_commit": commit, "git_dirty": dirty, "date": date, "backend": backend, "device": device,
            "cpu": {"model": model, "isa_level": "x86-64-v3"}}


@pytest.fixture
def fig():
    f, (a, b) = plt.subplots(1, 2)
    a.loglog([1, 10, 100, 1000], [1.0, 0.5, 0.25, np.nan], label="curve")  # NaN: a gap, not a plotted point
    a.errorbar([1, 2], [3.0, 4.0], yerr=[[0.5, 1.0], [1.5, 2.0]], fmt="o", label="points")
    a.axhline(0.2)                                        # a reference line: not plotted numbers
    a.set(title="(a) left", xlabel="t", ylabel="F")
    sc = b.scatter([0.0, 1.0, 2.0], [5.0, 6.0, 7.0], c=[0.1, 0.2, 0.3])
    f.colorbar(sc, ax=b, label="kappa")
    twin = b.twinx()
    twin.plot([0.0, 2.0], [-1.0, 1.0], "--")
    twin.set_ylabel("phi")
    b.set(title="(b) right", xlabel="r", ylabel="g")
    yield f
    plt.close(f)


def test_figure_table_reads_what_was_plotted(fig):
    t = figure_table(fig)
    assert list(t.columns) == [*COLUMNS, "y_lo", "y_hi", "value_name", "value"]
    curve = t[t.series == "curve"]
    assert curve.panel.unique().tolist() == ["(a) left"] and curve.x.tolist() == [1, 10, 100]
    assert curve.y.tolist() == [1.0, 0.5, 0.25] and (curve.x_name == "t").all() and (curve.y_name == "F").all()
    pts = t[t.series == "points"]
    assert pts.y_lo.tolist() == [2.5, 3.0] and pts.y_hi.tolist() == [4.5, 6.0]  # asymmetric errors
    assert len(t[t.panel == "(a) left"]) == 5                                    # no axhline rows, no error caps
    sc = t[t.value.notna()]
    assert sc.x.tolist() == [0, 1, 2] and sc.value.tolist() == pytest.approx([0.1, 0.2, 0.3])
    assert (sc.value_name == "kappa").all() and (sc.panel == "(b) right").all()
    tw = t[t.y_name == "phi"]
    assert tw.panel.unique().tolist() == ["(b) right"] and tw.x_name.unique().tolist() == ["r"]
    assert tw.y.tolist() == [-1.0, 1.0] and tw.series.str.startswith("unlabelled").all()


def test_quiver_and_discs():
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import Circle
    f, ax = plt.subplots()
    ax.quiver([0.0, 1.0], [0.0, 2.0], [1.0, 0.0], [0.0, -1.0])
    pc = PatchCollection([Circle((3.0, 4.0), 0.5), Circle((5.0, 6.0), 0.7)])
    pc.set_array(np.array([1.0, np.nan]))
    ax.add_collection(pc)
    ax.add_patch(Circle((0, 0), 1.0))                    # a single patch: decoration, not read
    t = figure_table(f)
    plt.close(f)
    assert t.u.dropna().tolist() == [1.0, 0.0] and t.v.dropna().tolist() == [0.0, -1.0]
    discs = t[t.value_name == "colour value"]
    assert discs[["x", "y"]].to_numpy() == pytest.approx(np.array([[3.0, 4.0], [5.0, 6.0]]))
    assert discs.value.iloc[0] == 1.0 and np.isnan(discs.value.iloc[1])
    assert len(t) == 4


def test_csv_round_trip_is_exact(fig, tmp_path):
    t = figure_table(fig)
    t.loc[0, "y"] = 1 / 3                                 # full precision survives
    t.loc[1, "y"] = np.nan                                # a gap
    path = write_csv(t, tmp_path / "sub" / "p.csv")
    back = read_csv(path)
    pd.testing.assert_frame_equal(back, tidy_table(t), check_dtype=False)
    assert back.y[0] == 1 / 3 and np.isnan(back.y[1])
    assert path.read_text().splitlines()[0].startswith(",".join(COLUMNS))


def test_write_is_atomic(tmp_path, monkeypatch):
    path = write_csv([dict(figure=1, panel="a", series="s", x_name="x", x=1.0, y_name="y", y=2.0)],
                     tmp_path / "p.csv")
    before = path.read_text()

    def boom(self, *args, **kwargs):
        with open(args[0], "w") as fh:
            fh.write("figure,pan")                        # half written, then the writer dies
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", boom)
    with pytest.raises(OSError, match="disk full"):
        write_csv([dict(figure=1, panel="b", series="s", x_name="x", x=3.0, y_name="y", y=4.0)], path)
    assert path.read_text() == before                     # the old file, whole
    assert [p.name for p in tmp_path.iterdir()] == ["p.csv"]  # no temporary file left


@pytest.mark.parametrize("table, match", [
    ([dict(figure=1, panel="a", series="s", x=1.0, y_name="y", y=2.0)], "lacks the column.*x_name"),
    ([dict(figure=1, panel="a", series="s", x_name="x", x=1.0, y_name="y", y=2.0, colour=3)], "unknown column.*colour"),
    ([dict(figure=1, panel="a", series="s", x_name="x", x="one", y_name="y", y=2.0)], "'x' must hold numbers"),
    ({"x": [1]}, "DataFrame or a list"),
])
def test_bad_tables_are_refused(table, match):
    with pytest.raises((TypeError, ValueError), match=match):
        tidy_table(table)


def test_bad_inputs_are_refused(tmp_path):
    with pytest.raises(TypeError, match="matplotlib Figure"):
        figure_table("fig")
    with pytest.raises(ValueError, match=r"\.csv"):
        write_csv([dict(figure=1, panel="a", series="s", x_name="x", x=1.0, y_name="y", y=2.0)], tmp_path / "p.txt")
    with pytest.raises(ValueError, match="size"):
        provenance_line([], "huge", build=BUILD)
    with pytest.raises(TypeError, match="sidecar is a dict"):
        provenance_line(["x"], "ci", build=BUILD)
    with pytest.raises(ValueError, match="page name"):
        Page("../fig", "ci", out_dir=tmp_path)
    (tmp_path / "list.json").write_text("[1]")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ValueError, match="does not exist"):
        read_sidecars([tmp_path / "missing.json"])
    with pytest.raises(ValueError, match="not an object"):
        read_sidecars([tmp_path / "list.json"])
    with pytest.raises(ValueError, match="cannot be read as JSON"):
        read_sidecars([tmp_path / "bad.json"])


def test_provenance_line_counts_commits_machines_and_dates():
    cars = ([sidecar()] * 3 + [sidecar(commit="feedfacecafebeef", dirty=True, date="2026-12-01T08:00:00+00:00")] * 2
            + [sidecar(commit="feedfacecafebeef", backend="cuda", device="NVIDIA H200",
                       date="2026-11-30T08:00:00+00:00")])
    line = provenance_line(cars, "default", build=("0123456789abcdef", True, "2026-12-02T00:00:00+00:00"))
    assert line == ("Provenance: size default; data: 6 stored results, made by commits 12345678 (3), "
                    "feedface+dirty (2), feedface (1), between 2026-11-24 and 2026-12-01, on CPU AMD EPYC (5), "
                    "GPU NVIDIA H200 (1); page executed at commit 01234567+dirty on 2026-12-02.")


def test_provenance_line_lists_a_few_and_counts_the_rest():
    cars = [sidecar(commit=f"{i:08x}feedbeef") for i in range(7) for _ in range(i + 1)]
    line = provenance_line(cars, "paper", build=BUILD)
    assert "00000006 (7), 00000005 (6), 00000004 (5), 00000003 (4) and 3 more commits (6)" in line
    old = {"git_commit": "unknown", "git_dirty": None, "backend": "cpu", "device": "cpu"}  # before cpu records
    line = provenance_line([old], "ci", build=BUILD)
    assert "made by commit unknown, on an unrecorded date, on CPU (model not recorded)" in line
    assert provenance_line([], "ci", build=BUILD) == (
        "Provenance: size ci; data: computed on this page, none from the store; page executed at commit aaaaaaaa "
        "on 2026-12-01.")
    assert machine(sidecar(backend="cuda", device="NVIDIA H200")) == "GPU NVIDIA H200"


def test_read_log_records_cached_and_resolver_loads(tmp_path):
    from meso_kernels.campaign import Resolver, Store, Task
    from meso_kernels.campaign.task import KINDS, Kind, register, execute
    register(Kind("report_demo", "report_demo", "data", lambda task, params, load, progress: {"x": [params["a"]]}))
    try:
        store = Store(tmp_path / "data", tmp_path / "scratch")
        task = Task.make("report_demo", {"a": 1.0})
        execute(task, store)                               # before the log: not recorded
        with ReadLog() as log:
            cached("c", {"T": 1}, lambda: {"y": [2.0]}, root=tmp_path)      # computed and stored
            cached("c", {"T": 1}, lambda: {"y": [2.0]}, root=tmp_path)      # read: the same sidecar once
            Resolver(store).load(task)
        cached("c", {"T": 2}, lambda: {"y": [2.0]}, root=tmp_path)          # after: not recorded
        assert [p.parent.name for p in log.paths] == ["c", "report_demo"]
        assert not log.active
        metas = read_sidecars(log.paths)
        assert [m["campaign"] for m in metas] == ["c", "report_demo"]
    finally:
        KINDS.pop("report_demo")


def test_page_writes_csv_link_and_provenance(tmp_path, fig, capsys):
    page = Page("figXX", "ci", out_dir=tmp_path / "out", page_dir=tmp_path / "book" / "executed")
    cached("c", {"T": 1}, lambda: {"y": [2.0]}, root=tmp_path / "store")
    page.add(fig)
    page.add([dict(figure=2, panel="extra", series="s", x_name="x", x=1.0, y_name="y", y=2.0)])
    assert page.finish() is None
    path, line = page.written, page.line
    assert path == tmp_path / "out" / "figXX_ci_plotted.csv"
    t = read_csv(path)
    assert t.figure.unique().tolist() == [1, 2] and len(t) == len(figure_table(fig)) + 1
    assert "size ci; data: 1 stored result, made by commit" in line
    assert not page.log.active
    link = link_markdown(path, tmp_path / "book" / "executed")
    assert link == "[figXX_ci_plotted.csv](../../out/figXX_ci_plotted.csv)"
    with pytest.raises(ValueError, match="no figure added"):
        Page("figYY", "ci", out_dir=tmp_path).finish(show=False)


def test_module_reads_json_the_store_writes(tmp_path):
    cached("c", {"T": 1}, lambda: {"y": [2.0]}, root=tmp_path)
    [path] = tmp_path.glob("c/*.json")
    meta = json.loads(path.read_text())
    assert report.machine(meta).startswith("CPU ")


def test_every_figure_page_reports_its_numbers_and_provenance():
    """Each figure page builds one Page before loading anything, adds every figure it shows, and finishes last."""
    import re
    pages = sorted((report.REPO_ROOT / "notebooks").glob("fig*.py"))
    assert len(pages) >= 11
    for py in pages:
        text = py.read_text()
        name = py.name.split("_")[0]
        assert f'page = Page("{name}", size)' in text, py.name
        assert text.count("page.add(fig)") == text.count("plt.show()") >= 1, py.name
        code = [c for c in re.split(r"^# %%", text, flags=re.M) if not c.startswith(" [markdown]")]
        assert code[-1].strip().endswith("page.finish()"), f"{py.name}: page.finish() must end the last cell"


def test_book_turns_markdown_links_to_files_into_downloads():
    import yaml
    cfg = yaml.safe_load((report.REPO_ROOT / "_config.yml").read_text())
    assert cfg["sphinx"]["config"]["nb_render_markdown_format"] == "myst"
    assert report.PAGE_DIR == report.REPO_ROOT / "book" / "executed"
