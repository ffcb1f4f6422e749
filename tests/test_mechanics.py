"""meso_kernels.mechanics: the pipeline that ``meso mechanics`` and the "your glass" page share (same G and κ as the
command), its errors, the equivalent command line, the bundled examples and the page's input checks."""
import json
import shlex

import numba
import numpy as np
import pytest

from meso_kernels.cli import build_parser, main
from meso_kernels.examples import EXAMPLES, ExampleRecipe, example_path, make_example
from meso_kernels.initial import random_configuration
from meso_kernels.mechanics import (FORCE_TOL, MechanicsInputError, NotInherentStructure, QuenchNotConverged,
                                    analyse, command_line, describe_system, max_force, parse_options)
from meso_kernels.models import get_model
from meso_kernels.quench import quench
from meso_kernels.store import REPO_ROOT
from meso_kernels.system import System

FAST = ["--no-progress", "--threads", "1", "--quiet"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A 2D IPL inherent structure (N = 80) and an unminimised 2D IPL configuration, as GSD files."""
    root = tmp_path_factory.mktemp("mech")
    m = get_model("ipl", dim=2)
    old = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        ihs, res = quench(random_configuration(m, 80, 0.86, seed=7), m, method="cg", ftol=1e-11)
    finally:
        numba.set_num_threads(old)
    assert res.converged
    ihs.to_gsd(root / "ihs.gsd")
    random_configuration(m, 80, 0.86, seed=3).to_gsd(root / "liquid.gsd")
    return root


def cli_json(tmp_path, config, *extra):
    assert main(["mechanics", str(config), "--model", "ipl", "--option", "dim=2", "--out-dir", str(tmp_path), *FAST,
                 *extra]) == 0
    return json.loads(next(tmp_path.glob("*.mechanics.json")).read_text())


def assert_same(result, mech):
    """Same G (and parts) and κ as the command wrote (the same code path: equal to roundoff of the thread count).
    After a quench the two inherent structures agree only to the quench tolerance (max |F_i| < 1e-8: CG paths that
    differ in roundoff, e.g. on another instruction set, end at points ~1e-8 / stiffness apart), so G and κ then
    agree to 1e-6 relative, not to roundoff."""
    rel = 1e-6 if mech.quenched else 1e-10
    for key, value in (("G", mech.G), ("born", mech.shear.born), ("nonaffine", mech.shear.nonaffine),
                       ("kappa_mean", mech.kappa_mean)):
        assert result[key] == pytest.approx(value, rel=rel, abs=1e-14), key
    # after a quench, max |F_i| is a tolerance-level number that depends on the numba thread count (roundoff)
    assert result["max_force"] == pytest.approx(mech.max_force, rel=1e-10, abs=1e-10 if mech.quenched else 1e-14)
    assert result["n_pairs"] == mech.dipoles.kappa.size
    assert result["n_interacting_pairs"] == mech.n_interacting
    assert result["n_rattlers"] == int(mech.dipoles.rattlers.sum())


def test_pipeline_gives_the_cli_numbers(files, tmp_path):
    m = get_model("ipl", dim=2)
    mech = analyse(System.read(files / "ihs.gsd"), m)
    assert_same(cli_json(tmp_path, files / "ihs.gsd"), mech)
    assert not mech.quenched and mech.quench_result is None and mech.initial_max_force is None
    assert mech.G > 0 and mech.kappa_mean > 0 and mech.max_force <= FORCE_TOL
    assert mech.local_kappa.shape == (80,)
    assert set(mech.timings) == {"terms", "G", "kappa"}
    assert "Born" in mech.summary() and "<kappa>" in mech.summary()


def test_quench_auto_and_n_random_match_the_cli(files, tmp_path):
    m = get_model("ipl", dim=2)
    liquid = System.read(files / "liquid.gsd")
    mech = analyse(liquid, m, quench="auto", n_random=40, seed=5)
    assert mech.quenched and mech.initial_max_force > FORCE_TOL >= mech.max_force
    assert mech.dipoles.kappa.size == 40 and mech.settings["seed"] == 5
    assert_same(cli_json(tmp_path, files / "liquid.gsd", "--quench", "--n-random", "40", "--seed", "5"), mech)
    # an inherent structure is left alone by "auto"
    ihs = System.read(files / "ihs.gsd")
    again = analyse(ihs, m, quench="auto")
    assert not again.quenched and again.initial_max_force <= FORCE_TOL
    np.testing.assert_array_equal(again.system.positions, ihs.positions)


def test_not_an_inherent_structure_and_a_failed_quench(files):
    m = get_model("ipl", dim=2)
    liquid = System.read(files / "liquid.gsd")
    with pytest.raises(NotInherentStructure, match="not an inherent structure.*quench") as info:
        analyse(liquid, m)
    assert info.value.max_force == pytest.approx(max_force(liquid, m)) and not info.value.quenched
    assert isinstance(info.value, ValueError) and info.value.stage == "inherent"
    with pytest.raises(QuenchNotConverged, match="did not converge") as info:
        analyse(liquid, m, quench=True, quench_max_steps=3)
    assert not info.value.result.converged


@pytest.mark.parametrize("kwargs, words", [
    ({"solver": "lu"}, "solver"), ({"rtol": 2.0}, "rtol"), ({"force_tol": 0.0}, "force_tol"),
    ({"quench": "yes"}, "quench"), ({"quench_ftol": 1e-6}, "quench_ftol"), ({"n_random": 0}, "n_random"),
    ({"seed": 3}, "seed"), ({"n_random": 10 ** 6}, "n_random"),
])
def test_bad_settings_name_the_parameter(files, kwargs, words):
    with pytest.raises(MechanicsInputError, match=words):
        analyse(System.read(files / "ihs.gsd"), get_model("ipl", dim=2), **kwargs)


def test_model_errors_are_clear(files):
    ihs = System.read(files / "ihs.gsd")
    with pytest.raises(MechanicsInputError, match="3D but the system is 2D") as info:
        analyse(ihs, get_model("ipl"))
    assert info.value.stage == "model"
    with pytest.raises(ValueError, match="dim"):
        get_model("ipl", dim=4)  # what the page does with a wrong option: the error lists the allowed values
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_options("dim")
    assert parse_options("dim=2,") == {"dim": 2} and parse_options({"rho": 0.7}) == {"rho": 0.7}


def test_command_line_parses_back(tmp_path):
    m = get_model("ipl", dim=2)
    cmd = command_line(tmp_path / "my glass.gsd", m, quench=True, n_random=100, seed=2, solver="cg", frame=3)
    argv = shlex.split(cmd)
    assert argv[:2] == ["meso", "mechanics"]
    args = build_parser().parse_args(argv[1:])
    assert (args.config, args.model, args.option, args.quench, args.n_random, args.seed, args.solver, args.frame) \
        == (str(tmp_path / "my glass.gsd"), "ipl", [("dim", 2)], True, 100, 2, "cg", 3)
    # options at their defaults are left out; others are given exactly
    assert command_line("a.gsd", get_model("ipl")) == "meso mechanics a.gsd --model ipl"
    assert command_line("a.gsd", get_model("sw", lam=21.0)) == "meso mechanics a.gsd --model sw --option lam=21.0"
    with pytest.raises(ValueError, match="quench"):
        command_line("a.gsd", m, quench="auto")


def test_describe_system():
    s = System([[0.5, 0.5, 0.5], [1.5, 1.5, 1.5]], [2.0, 2.0, 4.0], [1, 1])
    assert describe_system(s) == "N = 2, d = 3, box = 2 x 2 x 4, density = 0.125, species 0: 0, 1: 2"


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_bundled_examples_are_small_inherent_structures(name):
    path = example_path(name)
    assert path.exists(), f"{path} missing: python scripts/make_examples.py {name}"
    assert path.stat().st_size < 500_000
    r = EXAMPLES[name]
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["recipe"] == json.loads(json.dumps(r.__dict__)), "the sidecar's recipe is the one in EXAMPLES"
    s = System.read(path)
    m = get_model(r.model, **r.options)
    s.check_model(m)
    assert s.N == r.N and s.density == pytest.approx(r.rho, rel=1e-12)
    assert max_force(s, m) <= FORCE_TOL


def test_make_example_recipe_is_an_inherent_structure():
    s, info = make_example(ExampleRecipe("ipl", {"dim": 2}, N=64, rho=0.86, T=0.8, steps=50, seed=2))
    assert s.N == 64 and s.dim == 2 and info["max_force"] < 1e-10
    with pytest.raises(ValueError, match="unknown example"):
        example_path("nope")


def _page_setup(**params):
    """Run the your_glass page's parameters and set-up cells (reading and checking the input) with ``params``."""
    import jupytext

    nb = jupytext.read(REPO_ROOT / "notebooks" / "your_glass.py")
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    ns = {}
    exec(code[0].source, ns)
    ns.update(params)
    exec(code[1].source, ns)
    return ns


def test_page_reads_the_example_and_refuses_bad_input(tmp_path, capsys):
    ns = _page_setup(out_dir=str(tmp_path))
    assert ns["system"].N == EXAMPLES["ipl2d_N400"].N and "species A: " in capsys.readouterr().out
    with pytest.raises(FileNotFoundError, match="no such file"):
        _page_setup(config=str(tmp_path / "missing.gsd"), out_dir=str(tmp_path))
    (tmp_path / "glass.dat").write_text("1 2 3\n")
    with pytest.raises(ValueError, match="allowed suffixes"):
        _page_setup(config=str(tmp_path / "glass.dat"), out_dir=str(tmp_path))
    with pytest.raises(ValueError, match="allowed"):
        _page_setup(options={"dim": 4}, out_dir=str(tmp_path))
    with pytest.raises(ValueError, match="do not match.*options"):
        _page_setup(options="dim=3", out_dir=str(tmp_path))


def test_page_parameters_are_all_visible_to_papermill(tmp_path):
    """papermill silently drops a parameter line it cannot parse (e.g. '=' in its comment); then ``-p NAME`` would be
    refused as unknown. Every parameter of the page must be listed."""
    import importlib.util

    import papermill

    spec = importlib.util.spec_from_file_location("run_notebooks", REPO_ROOT / "scripts" / "run_notebooks.py")
    rn = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rn)
    declared = papermill.inspect_notebook(str(rn.to_ipynb(REPO_ROOT / "notebooks" / "your_glass.py", tmp_path)))
    assert set(declared) == {"size", "config", "frame", "model", "options", "quench", "seed", "n_random", "n_starts",
                             "out_dir", "backend"}
