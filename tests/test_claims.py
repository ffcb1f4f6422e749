"""The claims registry, the records the figure pages write, and the claims page's table (meso_kernels.claims)."""
import json
import math
import re

import pytest

from meso_kernels import claims
from meso_kernels.claims import (CLAIMS, NOT_REPRODUCED, NOT_RESOLVABLE, REPRODUCED, VERDICTS, claims_of,
                                 claims_table, decide, figure_page, get_claim, interval_test, markdown_table,
                                 missing_records, read_records, record, records_path)
from meso_kernels.store import REPO_ROOT

NOTEBOOKS = REPO_ROOT / "notebooks"

#: the claims the issue (15, part 3) asks for, at least: figure -> ids
REQUIRED = {
    1: ["fig01.mode_like_dipole"],
    2: ["fig02.propensity_kappa"],
    3: ["fig03.kappa_vs_G"],
    4: [f"fig04.{c}_{k}" for c in ("eq3", "kappa_vs_G") for k in ("ipl", "mblj", "ss0.6", "sw")],
    5: ["fig05.rate_order", "fig05.rate_gap", "fig05.rate_mblj_ipl", "fig05.rate_density_order",
        "fig05.rate_density_gap"],
    6: [f"fig06.eq3_{k}" for k in ("ss0.6", "ss0.7", "ss0.95")],
    7: ["fig07.cs_trend"],
    8: ["fig08.granular_landscape"],
    9: ["fig09.ballistic_end"] + [f"fig09.se_xi_{k}" for k in ("ipl", "mblj", "ss0.6", "sw")],
    10: [f"fig10.qmax_{k}" for k in ("ipl", "mblj", "ss0.6", "sw")],
    11: ["fig11.qmax_ss0.7", "fig11.qmax_ss0.95"],
    12: ["fig12.ipl_repulsive", "fig12.mblj_aa_repulsive", "fig12.mblj_ab_well", "fig12.ss_well", "fig12.sw_well"],
}


def _all_recorded(size, root):
    for c in CLAIMS:
        record(c.id, size, 1.0, 0.5, 2.0, verdict=REPRODUCED, root=root)


# ---------------------------------------------------------------------------------------------- the registry

def test_registry_lists_every_required_claim_of_figures_1_to_12():
    ids = {c.id for c in CLAIMS}
    for fig, wanted in REQUIRED.items():
        assert set(wanted) <= ids, f"Fig. {fig}: missing {sorted(set(wanted) - ids)}"
    assert {c.figure for c in CLAIMS} == set(range(1, 13))


def test_registry_entries_are_well_formed():
    for c in CLAIMS:
        assert re.fullmatch(r"fig(\d\d)\.[A-Za-z0-9_.]+", c.id), c.id
        assert int(c.id[3:5]) == c.figure
        assert c.statement and c.paper_value and c.quantity, c.id
    # the paper's numbers that the pages compare with (Tables I and III, Fig. 9)
    assert claims.QMAX_PAPER == {"ipl": 6.35, "mblj": 7.25, "ss0.6": 5.47, "sw": 6.28, "ss0.7": 5.87, "ss0.95": 6.40}
    assert claims.XI_PAPER == (0.74, 0.79)
    assert claims.EQ3_PAPER == {"ipl": "holds", "mblj": "holds", "ss0.6": "fails", "sw": "fails", "ss0.7": "fails",
                                "ss0.95": "holds"}


def test_get_claim_and_figure_pages():
    assert get_claim("fig03.kappa_vs_G").figure == 3
    with pytest.raises(ValueError, match="unknown claim id 'fig03.nope'.*fig03.kappa_vs_G"):
        get_claim("fig03.nope")
    assert figure_page(4) == "fig04_mesoelastic_fit"
    assert figure_page(4, NOTEBOOKS) == get_claim("fig04.eq3_ipl").page
    assert [c.id for c in claims_of(3)] == ["fig03.kappa_vs_G"]


# ---------------------------------------------------------------------------------------------- records

def test_record_and_read_round_trip(tmp_path):
    path = record("fig04.eq3_ipl", "default", 0.08, 0.02, 0.3, verdict=REPRODUCED, detail="l~ = 0.41", root=tmp_path)
    record("fig04.eq3_sw", "default", 1e-9, verdict=NOT_REPRODUCED, interval="none", root=tmp_path)
    record("fig05.rate_gap", "default", math.inf, 3.0, math.inf, verdict=NOT_RESOLVABLE, root=tmp_path)
    assert path == records_path(4, "default", tmp_path) == tmp_path / "figures" / "fig04_default_claims.json"
    assert not list(path.parent.glob(".*.tmp"))  # written by temporary file and rename
    data = json.loads(path.read_text())
    assert data["figure"] == 4 and data["size"] == "default" and set(data["claims"]) == {"fig04.eq3_ipl",
                                                                                         "fig04.eq3_sw"}
    got = read_records("default", root=tmp_path)
    assert got["fig04.eq3_ipl"]["value"] == 0.08 and got["fig04.eq3_ipl"]["lo"] == 0.02
    assert got["fig04.eq3_ipl"]["verdict"] == REPRODUCED and got["fig04.eq3_ipl"]["detail"] == "l~ = 0.41"
    assert got["fig04.eq3_sw"]["lo"] is None and got["fig04.eq3_sw"]["interval"] == "none"
    assert got["fig05.rate_gap"]["value"] == math.inf and got["fig05.rate_gap"]["size"] == "default"
    # a second record of the same claim replaces the first; other sizes are separate files
    record("fig04.eq3_ipl", "default", 0.1, verdict=NOT_RESOLVABLE, root=tmp_path)
    assert read_records("default", root=tmp_path)["fig04.eq3_ipl"]["value"] == 0.1
    assert read_records("ci", root=tmp_path) == {}


def test_record_refuses_bad_input(tmp_path):
    with pytest.raises(ValueError, match="unknown claim id 'fig04.eq3_lj'; registered ids: fig01"):
        record("fig04.eq3_lj", "ci", 1.0, verdict=REPRODUCED, root=tmp_path)
    with pytest.raises(ValueError, match="unknown verdict 'holds'; allowed: 'reproduced', 'not reproduced', "
                                         "'not resolvable at this size'"):
        record("fig04.eq3_ipl", "ci", 1.0, verdict="holds", root=tmp_path)
    with pytest.raises(ValueError, match="value must be a number"):
        record("fig04.eq3_ipl", "ci", "0.1", verdict=REPRODUCED, root=tmp_path)
    with pytest.raises(ValueError, match="value must be a number"):
        record("fig04.eq3_ipl", "ci", None, verdict=REPRODUCED, root=tmp_path)
    with pytest.raises(ValueError, match="lo must not exceed hi"):
        record("fig04.eq3_ipl", "ci", 1.0, 2.0, 0.5, verdict=REPRODUCED, root=tmp_path)
    with pytest.raises(ValueError, match="size"):
        record("fig04.eq3_ipl", "huge", 1.0, verdict=REPRODUCED, root=tmp_path)
    with pytest.raises(TypeError):
        record("fig04.eq3_ipl", "ci", 1.0)  # the verdict is required
    assert not (tmp_path / "figures").exists() or not list((tmp_path / "figures").iterdir())


def test_interval_test_and_decide():
    assert interval_test(1.2, 3.0, 1.0) is True
    assert interval_test(0.2, 0.8, 1.0) is False
    assert interval_test(0.5, 2.0, 1.0) is None
    assert interval_test(0.1, 0.3, 0.5, "below") is True and interval_test(0.6, 0.9, 0.5, "below") is False
    assert interval_test(None, 2.0, 1.0) is None and interval_test(math.nan, 2.0, 1.0) is None
    assert interval_test(20.0, math.inf, 10.0) is True
    with pytest.raises(ValueError, match="side"):
        interval_test(0, 1, 0.5, "left")
    assert decide(True, "default") == REPRODUCED and decide(False, "paper") == NOT_REPRODUCED
    assert decide(None, "default") == NOT_RESOLVABLE and decide(True, "ci") == NOT_RESOLVABLE
    assert decide(False, "ci", resolved_at=("ci", "default", "paper")) == NOT_REPRODUCED
    assert set(VERDICTS) == {REPRODUCED, NOT_REPRODUCED, NOT_RESOLVABLE}


# ---------------------------------------------------------------------------------------------- the table

def test_table_marks_figures_without_a_page_pending(tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    (notebooks / "fig03_kappa_G_vs_Tp.py").write_text("")
    record("fig03.kappa_vs_G", "ci", 12.0, 5.0, 20.0, verdict=NOT_RESOLVABLE, detail="G +3 %", root=tmp_path)
    rows = claims_table("ci", root=tmp_path, notebooks_dir=notebooks)
    assert len(rows) == len(CLAIMS)
    by_id = {r["id"]: r for r in rows}
    assert by_id["fig03.kappa_vs_G"]["verdict"] == NOT_RESOLVABLE
    assert by_id["fig03.kappa_vs_G"]["ours"] == "12 [5, 20]; G +3 %"
    assert by_id["fig03.kappa_vs_G"]["page"] == "fig03_kappa_G_vs_Tp"
    for c in CLAIMS:
        if c.figure != 3:
            assert by_id[c.id]["verdict"] == f"pending (Fig. {c.figure})" and by_id[c.id]["page"] is None
    text = markdown_table(rows)
    assert "[Fig. 3](fig03_kappa_G_vs_Tp.ipynb)" in text and "pending (Fig. 8)" in text
    assert text.count("\n") == len(CLAIMS) + 1


def test_table_raises_when_a_page_exists_but_did_not_record(tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    (notebooks / "fig05_ihs_transitions.py").write_text("")
    record("fig05.rate_order", "ci", 3.0, verdict=NOT_RESOLVABLE, root=tmp_path)  # four of its claims are missing
    assert missing_records("ci", root=tmp_path, notebooks_dir=notebooks) == {
        5: ["fig05.rate_gap", "fig05.rate_mblj_ipl", "fig05.rate_density_order", "fig05.rate_density_gap"]}
    with pytest.raises(RuntimeError, match=r"Fig\. 5 \(fig05_ihs_transitions\): fig05.rate_gap"):
        claims_table("ci", root=tmp_path, notebooks_dir=notebooks)
    rows = claims_table("ci", root=tmp_path, notebooks_dir=notebooks, missing="list")  # a partial build
    verdicts = {r["id"]: r["verdict"] for r in rows}
    assert verdicts["fig05.rate_order"] == NOT_RESOLVABLE and verdicts["fig05.rate_gap"] == "not run at this size"
    assert verdicts["fig04.eq3_ipl"] == "pending (Fig. 4)"
    with pytest.raises(ValueError, match="missing must be 'error' or 'list'"):
        claims_table("ci", root=tmp_path, notebooks_dir=notebooks, missing="ignore")
    (notebooks / "fig08_landscape_profiles.py").write_text("")  # a new page: its claims are now required too
    assert 8 in missing_records("ci", root=tmp_path, notebooks_dir=notebooks)


def test_table_of_the_repository_pages_with_every_record(tmp_path):
    _all_recorded("default", tmp_path)
    rows = claims_table("default", root=tmp_path)
    pending = {r["figure"] for r in rows if r["verdict"].startswith("pending")}
    assert pending == {f for f in range(1, 13) if figure_page(f) is None}
    assert claims.verdict_counts(rows)[REPRODUCED] == sum(1 for r in rows if r["page"] is not None)


# ---------------------------------------------------------------------------------------------- the pages

def _recorded_patterns(text):
    """The claim ids a notebook records, as regular expressions: string literals and f-string templates that look
    like claim ids (``f"fig04.eq3_{k}"`` -> ``fig04\\.eq3_.+``)."""
    out = []
    for lit in re.findall(r"""f?["'](fig\d\d\.[A-Za-z0-9_.{}]+)["']""", text):
        parts = re.split(r"\{[^{}]*\}", lit)
        out.append(re.compile(".+".join(re.escape(p) for p in parts) + r"\Z"))
    return out


def test_every_figure_page_records_every_claim_of_its_figure():
    pages = sorted(NOTEBOOKS.glob("fig*.py"))
    assert len(pages) >= 11
    for py in pages:
        figure = int(py.name[3:5])
        text = py.read_text(encoding="utf-8")
        assert "from meso_kernels.claims import" in text and "record(" in text, f"{py.name} records no claim"
        patterns = _recorded_patterns(text)
        for c in claims_of(figure):
            assert any(p.match(c.id) for p in patterns), f"{py.name} does not record {c.id}"
        # records come before page.finish(), the last cell
        assert text.rindex("record(") < text.rindex("page.finish()"), py.name


def test_claims_page_runs_last_and_is_in_the_book():
    import importlib.util
    spec = importlib.util.spec_from_file_location("run_notebooks", REPO_ROOT / "scripts" / "run_notebooks.py")
    rn = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rn)
    order = [p.stem for p in rn.find_notebooks([], NOTEBOOKS)]
    assert order[-1] == "claims" and order[:-1] == sorted(order[:-1])
    assert [p.stem for p in rn.find_notebooks(["claims", "fig03_kappa_G_vs_Tp"], NOTEBOOKS)] == \
        ["fig03_kappa_G_vs_Tp", "claims"]
    assert "book/executed/claims" in rn._toc_files(REPO_ROOT / "_toc.yml")
    text = (NOTEBOOKS / "claims.py").read_text(encoding="utf-8")
    assert 'tags=["parameters", "remove-cell"]\nsize = "ci"\n' in text
    assert "claims_table(size, missing=missing)" in text
