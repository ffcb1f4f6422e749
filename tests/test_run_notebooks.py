"""The notebook runner (scripts/run_notebooks.py) on tiny notebooks written in tmp_path."""
import importlib.util
import json
import os
import textwrap
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("run_notebooks", REPO / "scripts" / "run_notebooks.py")
rn = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rn)

PARAMS_CELL = '''\
# %% tags=["parameters"]
size = "default"
seed = 0
'''


def write_nb(folder, name, body, params=PARAMS_CELL):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    path.write_text(params + "\n# %%\n" + textwrap.dedent(body))
    return path


def run(tmp_path, *args):
    """main() with every output folder inside tmp_path (outside the repository's book)."""
    return rn.main([*map(str, args),
                    "--notebooks-dir", str(tmp_path / "nbs"), "--ipynb-dir", str(tmp_path / "ipynb"),
                    "--out-dir", str(tmp_path / "out"), "--failed-dir", str(tmp_path / "failed"),
                    "--cwd", str(tmp_path)])


def outputs_text(nb_path):
    nb = json.loads(Path(nb_path).read_text())
    texts = []
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            texts.append(out.get("text", "") if isinstance(out.get("text", ""), str) else "".join(out["text"]))
    return nb, "".join(texts)


def test_parse_value():
    assert rn.parse_value("3") == 3 and type(rn.parse_value("3")) is int
    assert rn.parse_value("0.5") == 0.5
    assert rn.parse_value("1e-3") == 1e-3
    assert rn.parse_value("True") is True and rn.parse_value("False") is False and rn.parse_value("None") is None
    assert rn.parse_value("ipl") == "ipl"
    assert rn.parse_value('["ipl", "mblj"]') == ["ipl", "mblj"]
    assert rn.parse_value('{"sw": [0.025, 0.023]}') == {"sw": [0.025, 0.023]}


def test_parse_value_bad_literal_names_the_parameter(tmp_path, capsys):
    write_nb(tmp_path / "nbs", "fig01_tiny", 'print("ran")\n')
    with pytest.raises(SystemExit) as exc:
        run(tmp_path, "fig01_tiny", "--size", "ci", "-p", "seed", "[ipl, mblj]")
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "-p seed" in err and "not a Python literal" in err
    assert not (tmp_path / "out" / "fig01_tiny.ipynb").exists()


def test_unknown_parameter_is_refused(tmp_path, capsys):
    write_nb(tmp_path / "nbs", "fig01_tiny", 'print("ran")\n')
    assert run(tmp_path, "fig01_tiny", "--size", "ci", "-p", "sede", "3") == 1
    err = capsys.readouterr().err
    assert "fig01_tiny" in err
    assert "'sede'" in err
    assert "seed" in err and "size" in err  # the allowed names
    assert not (tmp_path / "out" / "fig01_tiny.ipynb").exists()


def test_check_parameters_directly(tmp_path):
    ipynb = rn.to_ipynb(write_nb(tmp_path / "nbs", "fig01_tiny", "pass\n"), tmp_path / "ipynb")
    declared = rn.check_parameters(ipynb, {"size": "ci", "seed": 2})
    assert set(declared) == {"size", "seed"}
    with pytest.raises(rn.NotebookError, match=r"unknown parameters 'a', 'b'.*defines: seed, size"):
        rn.check_parameters(ipynb, {"size": "ci", "b": 1, "a": 2})


def test_notebook_without_parameters_cell_is_refused(tmp_path, capsys):
    write_nb(tmp_path / "nbs", "fig02_noparams", "x = 1\n", params="# %%\ny = 2\n")
    assert run(tmp_path, "fig02_noparams", "--size", "ci") == 1
    err = capsys.readouterr().err
    assert "fig02_noparams" in err and "parameters" in err and "size" in err


def test_executes_a_tiny_notebook(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")  # as scripts/_env.sh sets it: figures must still reach the notebook
    write_nb(tmp_path / "nbs", "fig03_tiny", '''\
        import os
        import matplotlib.pyplot as plt
        print(f"size={size} seed={seed!r}")
        print("cwd=" + os.getcwd())
        plt.plot([0, 1], [1, 0])
        plt.show()
    ''')
    assert run(tmp_path, "--size", "ci", "-p", "seed", "7", "--timeout", "120") == 0  # all fig*.py of nbs/
    out = tmp_path / "out" / "fig03_tiny.ipynb"
    nb, text = outputs_text(out)
    assert "size=ci seed=7" in text
    assert any("image/png" in o.get("data", {}) for c in nb["cells"] for o in c.get("outputs", []))
    assert os.environ["MPLBACKEND"] == "Agg"  # restored after the run
    assert f"cwd={tmp_path}" in text
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    assert nb["metadata"]["papermill"]["parameters"] == {"size": "ci", "seed": 7}
    injected = [c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert len(injected) == 1 and "remove-cell" in injected[0]["metadata"]["tags"]
    assert (tmp_path / "ipynb" / "fig03_tiny.ipynb").exists()
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["fig03_tiny.ipynb"]  # no temporary files left
    stdout = capsys.readouterr().out
    assert "fig03_tiny" in stdout and "wall time" in stdout


def test_failure_is_reported_after_trying_all(tmp_path, capsys):
    write_nb(tmp_path / "nbs", "fig04_fails", 'raise ValueError("boom in the notebook")\n')
    write_nb(tmp_path / "nbs", "fig05_works", 'print("fine")\n')
    old = tmp_path / "out" / "fig04_fails.ipynb"
    old.parent.mkdir(parents=True)
    old.write_text("earlier good run")
    assert run(tmp_path, "--size", "ci") == 1
    err = capsys.readouterr().err
    assert "FAILED fig04_fails" in err and "boom in the notebook" in err
    assert "fig05_works" not in err.split("problem(s):")[0].replace("fig04_fails", "")
    assert (tmp_path / "out" / "fig05_works.ipynb").exists()  # the next notebook still ran
    assert old.read_text() == "earlier good run"  # a failed run never replaces the executed notebook
    _, text = outputs_text(tmp_path / "failed" / "fig04_fails.ipynb")  # the partial notebook is kept
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["fig04_fails.ipynb", "fig05_works.ipynb"]


def test_cell_timeout_is_enforced(tmp_path, capsys):
    write_nb(tmp_path / "nbs", "fig06_slow", "import time\ntime.sleep(120)\n")
    assert run(tmp_path, "fig06_slow", "--timeout", "3") == 1
    err = capsys.readouterr().err
    assert "FAILED fig06_slow" in err
    assert "timed out" in err.lower() or "timeout" in err.lower()
    assert not (tmp_path / "out" / "fig06_slow.ipynb").exists()


def test_missing_notebook_and_bad_size(tmp_path, capsys):
    (tmp_path / "nbs").mkdir()
    assert run(tmp_path, "fig99_nothere") == 2
    assert "fig99_nothere" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run(tmp_path, "--size", "huge")
    with pytest.raises(SystemExit):
        run(tmp_path, "-p", "size", "ci")


def test_toc_problems(tmp_path):
    (tmp_path / "_toc.yml").write_text(yaml.safe_dump(
        {"format": "jb-book", "root": "book/intro",
         "parts": [{"caption": "Figures", "chapters": [{"file": "book/executed/fig_a"}]}]}))
    toc = tmp_path / "_toc.yml"
    assert rn.toc_problems(["fig_a"], tmp_path / "book" / "executed", toc) == {}
    problems = rn.toc_problems(["fig_a", "fig_b"], tmp_path / "book" / "executed", toc)
    assert list(problems) == ["fig_b"] and "book/executed/fig_b" in problems["fig_b"]
    assert "_build" in " ".join(rn.toc_problems(["fig_a"], tmp_path / "_build" / "x", toc).values())
    assert rn.toc_problems(["fig_b"], tmp_path.parent / "elsewhere", toc) == {}


def test_repository_book_lists_every_figure_notebook():
    """Each notebooks/*.py (figure pages and your_glass) must have its executed notebook in _toc.yml (else the book
    silently drops it)."""
    names = [p.stem for p in sorted((REPO / "notebooks").glob("*.py"))]
    assert "your_glass" in names
    assert rn.toc_problems(names, REPO / "book" / "executed", REPO / "_toc.yml") == {}
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    assert (REPO / f"{toc['root']}.md").exists()
    for entry in rn._toc_files(REPO / "_toc.yml"):
        assert not entry.startswith("_build"), entry


def test_repository_book_config():
    cfg = yaml.safe_load((REPO / "_config.yml").read_text())
    assert cfg["execute"]["execute_notebooks"] == "off"
    assert cfg["only_build_toc_files"] is True
    for pattern in (".venv", ".*", "**/.*", "build", "_build", "data", "benchmarks", "tests", "README.md"):
        assert pattern in cfg["exclude_patterns"], pattern


def test_environment_yml_mirrors_pyproject():
    """environment.yml (conda) lists the same requirements as pyproject.toml's dependencies, book and test extras."""
    import re
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"])
    for extra in ("book", "test"):
        wanted += project["optional-dependencies"][extra]
    conda_names = {"freud-analysis": "freud"}  # PyPI name -> conda-forge name

    def split(req):
        name, spec = re.match(r"^\s*([A-Za-z0-9_.\[\]-]+)\s*(.*)$", req).groups()
        return re.sub(r"\[.*\]", "", name).lower(), spec.replace(" ", "")

    env = yaml.safe_load((REPO / "environment.yml").read_text())
    have = {}
    for dep in env["dependencies"]:
        # conda packages are strings; pip-only packages sit in a {"pip": [...]} entry (minus the editable install)
        for item in ([dep] if isinstance(dep, str) else [p for p in dep.get("pip", []) if not p.startswith("-e")]):
            name, spec = split(item)
            have[name] = spec
    for req in wanted:
        name, spec = split(req)
        name = conda_names.get(name, name)
        assert name in have, f"{name} is in pyproject.toml but not in environment.yml"
        assert have[name] == spec, f"{name}: pyproject.toml says {spec!r}, environment.yml {have[name]!r}"


def test_every_notebook_takes_a_backend_parameter(tmp_path):
    """Every notebook with a parameters cell declares ``backend = "cpu"`` (the book builds on the CPU by default;
    ``-p backend cuda`` computes missing results on a GPU) and passes it on to what it computes with."""
    import papermill

    pages = [p for p in sorted((REPO / "notebooks").glob("*.py")) if 'tags=["parameters"' in p.read_text()]
    assert len(pages) >= 11
    computes_nothing = {"claims"}  # reads the records of the other pages: nothing to compute, no backend
    for py in pages:
        if py.stem in computes_nothing:
            continue
        declared = papermill.inspect_notebook(str(rn.to_ipynb(py, tmp_path)))
        assert declared.get("backend", {}).get("default") == '"cpu"', (py.name, declared.get("backend"))
        assert "backend=backend" in py.read_text(), f"{py.name} declares backend but does not pass it on"
