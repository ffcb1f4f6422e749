"""The ``meso`` command line (meso_kernels.cli): outputs, agreement with the library, provenance, and clear errors."""
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np
import pytest

from meso_kernels.cli import main
from meso_kernels.dipole import DipoleStiffness
from meso_kernels.elasticity import shear_modulus
from meso_kernels.initial import random_configuration
from meso_kernels.models import available_models, get_model
from meso_kernels.quench import quench
from meso_kernels.system import System, read_type_names

#: name -> (model name, options, N, density): small inherent structures
GLASSES = {
    "ipl2d": ("ipl", {"dim": 2}, 80, 0.86),
    "ipl3d": ("ipl", {}, 128, 0.82),
    "sw": ("sw", {}, 64, 0.52),
}
FAST = ["--no-progress", "--threads", "1"]


@pytest.fixture(scope="module")
def glasses(tmp_path_factory):
    """GSD files: inherent structures of GLASSES (CG to 1e-11) and an unminimised 2D IPL configuration ("liquid")."""
    root = tmp_path_factory.mktemp("glasses")
    old = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        out = {}
        for name, (model, opts, N, rho) in GLASSES.items():
            m = get_model(model, **opts)
            ihs, res = quench(random_configuration(m, N, rho, seed=7), m, method="cg", ftol=1e-11)
            assert res.converged
            out[name] = root / f"{name}.gsd"
            ihs.to_gsd(out[name])
        m = get_model("ipl", dim=2)
        out["liquid"] = root / "liquid.gsd"
        random_configuration(m, 80, 0.86, seed=3).to_gsd(out["liquid"])
    finally:
        numba.set_num_threads(old)
    return out


def run(capsys, *argv):
    """main(argv) -> (exit code, stdout, stderr)."""
    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def read_csv(path):
    """(header lines starting with '#', structured array) of an output CSV."""
    lines = Path(path).read_text().splitlines()
    header = [ln for ln in lines if ln.startswith("#")]
    assert lines[:len(header)] == header, "all '#' lines come first"
    assert f"skip_header={len(header)}" in header[-1]
    data = np.genfromtxt(path, delimiter=",", names=True, skip_header=len(header), dtype=None, encoding="utf-8")
    return header, np.atleast_1d(data)


def provenance_of(header):
    line = next(ln for ln in header if ln.startswith("# provenance: "))
    return json.loads(line[len("# provenance: "):])


# --- help -------------------------------------------------------------------------------------------------------
def test_help_lists_commands_options_and_units(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "mechanics" in out and "models" in out
    code, out, _ = run(capsys, "mechanics", "--help")
    assert code == 0
    for word in ("--model", "--option", "--quench", "--n-random", "--seed", "--solver", "--force-tol", "--out-dir",
                 "energy/length^2", "kappa.csv", "local_kappa.csv", "mechanics.json", *available_models()):
        assert word in out, word
    code, out, _ = run(capsys, "models")
    assert code == 0 and all(name in out for name in available_models()) and "dim=3 (one of 2, 3)" in out
    code, _, err = run(capsys)
    assert code == 2 and "mechanics" in err


# --- results ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["ipl2d", "sw"])
def test_outputs_match_the_library(glasses, tmp_path, capsys, name):
    model_name, opts, N, _ = GLASSES[name]
    args = [f"{k}={v}" for k, v in opts.items()]
    code, out, err = run(capsys, "mechanics", glasses[name], "--model", model_name,
                         *sum((["--option", a] for a in args), []), "--out-dir", tmp_path, *FAST)
    assert code == 0, err
    stem = tmp_path / name
    for suffix in (".kappa.csv", ".local_kappa.csv", ".mechanics.json"):
        assert (Path(f"{stem}{suffix}")).is_file()
    assert not list(tmp_path.glob(".*tmp")), "no temporary files left"

    m = get_model(model_name, **opts)
    system = System.from_gsd(glasses[name])
    G = shear_modulus(system, m)
    ds = DipoleStiffness().compute(system, m)

    res = json.loads(Path(f"{stem}.mechanics.json").read_text())
    assert res["G"] == pytest.approx(G.G, rel=1e-10)
    assert res["born"] == pytest.approx(G.born, rel=1e-12)
    assert res["nonaffine"] == pytest.approx(G.nonaffine, rel=1e-10)
    assert res["kappa_mean"] == pytest.approx(ds.mean, rel=1e-10)
    assert res["n_pairs"] == ds.kappa.size == res["n_interacting_pairs"]
    assert res["n_unconverged"] == 0 and res["n_rattlers"] == int(ds.rattlers.sum())
    assert res["N"] == N and res["dim"] == m.dim and res["max_force"] < 1e-8
    assert res["units"]["G"] == f"energy/length^{m.dim}" and res["units"]["kappa"] == "energy/length^2"
    assert set(res["timings_s"]) >= {"read", "G", "kappa", "total"}

    header, pairs = read_csv(f"{stem}.kappa.csv")
    assert pairs.dtype.names == ("i", "j", "type_i", "type_j", "kappa", "kappa_zmz", "residual", "converged")
    np.testing.assert_array_equal(np.stack([pairs["i"], pairs["j"]], 1), ds.pairs)
    np.testing.assert_allclose(pairs["kappa"], ds.kappa, rtol=1e-10)
    np.testing.assert_allclose(pairs["kappa_zmz"], ds.kappa_zmz, rtol=1e-8)
    np.testing.assert_array_equal(pairs["type_i"], system.types[ds.pairs[:, 0]])
    assert pairs["converged"].all()

    # provenance header: input and its sha256, model, solver, command line, version, date, units
    prov = provenance_of(header)
    sha = hashlib.sha256(Path(glasses[name]).read_bytes()).hexdigest()
    assert prov["input"]["sha256"] == sha and prov["input"]["path"] == str(glasses[name])
    assert prov["params"]["model"] == model_name and prov["params"]["model_options"] == m.options
    assert prov["command_line"].startswith("meso mechanics ") and prov["git_commit"] and prov["date"]
    assert prov["versions"]["mesoelastic"]
    assert any(ln.startswith("# units:") and "energy/length^2" in ln for ln in header)
    assert res["provenance"]["input"]["sha256"] == sha

    header2, loc = read_csv(f"{stem}.local_kappa.csv")
    axes = "xyz"[:m.dim]
    assert loc.dtype.names == ("i", "type", *axes, "kappa_i", "n_pairs", "rattler")
    assert provenance_of(header2)["input"]["sha256"] == sha
    np.testing.assert_allclose(np.stack([loc[a] for a in axes], 1), system.positions, rtol=0, atol=0)
    # local kappa_i = mean of kappa_ij over the pairs of i (from the pair file)
    ij = np.stack([pairs["i"], pairs["j"]], 1).ravel()
    s = np.bincount(ij, weights=np.repeat(pairs["kappa"], 2), minlength=N)
    c = np.bincount(ij, minlength=N)
    np.testing.assert_array_equal(loc["n_pairs"], c)
    np.testing.assert_allclose(loc["kappa_i"][c > 0], (s / np.maximum(c, 1))[c > 0], rtol=1e-12)
    assert np.isnan(loc["kappa_i"][c == 0]).all()
    np.testing.assert_allclose(loc["kappa_i"], ds.local_kappa, rtol=1e-10)

    # the human summary
    assert f"N = {N}, d = {m.dim}" in out and f"{G.G:.6g}" in out and f"{ds.mean:.6g}" in out
    assert "unconverged pairs = 0" in out and "wall time" in out


def test_default_output_folder_and_stem(glasses, tmp_path, capsys):
    cfg = tmp_path / "my glass.gsd"
    cfg.write_bytes(Path(glasses["ipl3d"]).read_bytes())
    code, out, err = run(capsys, "mechanics", cfg, "-m", "ipl", "--n-random", 50, "-q", *FAST)
    assert code == 0, err
    assert out == ""                                   # --quiet
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "my glass.gsd", "my glass.kappa.csv", "my glass.local_kappa.csv", "my glass.mechanics.json"]
    code, _, err = run(capsys, "mechanics", cfg, "-m", "ipl", "--n-random", 50, "-q", "--stem", "other", *FAST)
    assert code == 0, err
    assert (tmp_path / "other.mechanics.json").is_file()


def test_n_random_is_reproducible(glasses, tmp_path, capsys):
    runs = {}
    for tag, seed in (("a", 5), ("b", 5), ("c", 6)):
        code, _, err = run(capsys, "mechanics", glasses["ipl3d"], "-m", "ipl", "--n-random", 40, "--seed", seed,
                           "--solver", "cg", "--out-dir", tmp_path / tag, *FAST)
        assert code == 0, err
        header, runs[tag] = read_csv(tmp_path / tag / "ipl3d.kappa.csv")
        assert runs[tag].size == 40
        assert provenance_of(header)["seed"] == seed
    np.testing.assert_array_equal(runs["a"], runs["b"])
    assert not np.array_equal(runs["a"][["i", "j"]], runs["c"][["i", "j"]])
    res = json.loads((tmp_path / "a" / "ipl3d.mechanics.json").read_text())
    assert res["n_pairs"] == 40 < res["n_interacting_pairs"] and res["kappa_solver"] == "cg"
    code, _, err = run(capsys, "mechanics", glasses["ipl3d"], "-m", "ipl", "--seed", 1, "--out-dir", tmp_path, *FAST)
    assert code == 2 and "--seed" in err and "--n-random" in err
    code, _, err = run(capsys, "mechanics", glasses["ipl3d"], "-m", "ipl", "--n-random", 10**6, "--out-dir",
                       tmp_path, *FAST)
    assert code == 2 and "--n-random" in err and "1..1" in err


# --- bad input ----------------------------------------------------------------------------------------------------
def test_unminimised_configuration_needs_quench(glasses, tmp_path, capsys):
    code, out, err = run(capsys, "mechanics", glasses["liquid"], "-m", "ipl", "-o", "dim=2", "--out-dir", tmp_path,
                         *FAST)
    assert code == 2 and out == ""
    assert err.startswith("meso: error: ") and "not an inherent structure" in err and "--quench" in err
    assert "Traceback" not in err and not list(tmp_path.iterdir())

    code, out, err = run(capsys, "mechanics", glasses["liquid"], "-m", "ipl", "-o", "dim=2", "--quench",
                         "--quench-max-steps", 3, "--out-dir", tmp_path, *FAST)
    assert code == 1 and "quench did not converge" in err and "--quench-max-steps" in err
    assert not list(tmp_path.iterdir())

    code, out, err = run(capsys, "mechanics", glasses["liquid"], "-m", "ipl", "-o", "dim=2", "--quench",
                         "--out-dir", tmp_path, *FAST)
    assert code == 0, err
    assert "quench" in out
    ihs = System.from_gsd(tmp_path / "liquid.ihs.gsd")
    res = json.loads((tmp_path / "liquid.mechanics.json").read_text())
    assert res["quench"]["converged"] and res["max_force"] <= 1e-10 and res["provenance"]["params"]["quench"]
    G = shear_modulus(ihs, get_model("ipl", dim=2))
    assert res["G"] == pytest.approx(G.G, rel=1e-10)


@pytest.mark.parametrize("argv, words", [
    (["-m", "lj"], ["--model", "unknown model", "ipl, mblj, ka, ss, sw"]),
    (["-m", "ipl", "-o", "foo=1"], ["--option", "'foo'", "allowed parameters", "dim"]),
    (["-m", "ipl", "-o", "dim=4"], ["--option", "dim=4", "allowed values", "(2, 3)"]),
    (["-m", "ka", "-o", "shift=both"], ["--option", "'both'", "'energy', 'force'"]),
    (["-m", "ipl", "-o", "dim"], ["--option", "KEY=VALUE"]),
    (["-m", "ipl", "-o", "dim=3", "-o", "dim=2"], ["--option", "dim given twice"]),
    (["-m", "ipl", "--solver", "lu"], ["--solver", "auto", "dense", "cg"]),
    (["-m", "ipl", "--frame", "4"], ["--frame", "allowed: -1..0"]),
])
def test_bad_arguments_name_the_parameter_and_allowed_values(glasses, tmp_path, capsys, argv, words):
    code, out, err = run(capsys, "mechanics", glasses["ipl3d"], *argv, "--out-dir", tmp_path, *FAST)
    assert code == 2 and out == ""
    assert "error:" in err and "Traceback" not in err
    for w in words:
        assert w in err, (w, err)
    assert not list(tmp_path.iterdir())


def test_model_configuration_mismatch(glasses, tmp_path, capsys):
    code, _, err = run(capsys, "mechanics", glasses["ipl2d"], "-m", "ipl", "--out-dir", tmp_path, *FAST)
    assert code == 2 and "does not match --model ipl" in err and "3D" in err and "2D" in err
    assert "--option dim=2" in err                      # the fix is suggested
    code, _, err = run(capsys, "mechanics", glasses["ipl3d"], "-m", "sw", "--out-dir", tmp_path, *FAST)
    assert code == 2 and "does not match --model sw" in err and "species" in err and "--model mblj" in err
    assert not list(tmp_path.iterdir())


def test_unreadable_configuration(tmp_path, capsys):
    bad = tmp_path / "bad.gsd"
    bad.write_text("not a gsd file\n")
    code, _, err = run(capsys, "mechanics", bad, "-m", "ipl", *FAST)
    assert code == 2 and "CONFIG" in err and "GSD" in err
    code, _, err = run(capsys, "mechanics", tmp_path / "missing.gsd", "-m", "ipl", *FAST)
    assert code == 2 and "no such file" in err


# --- atomic writes ----------------------------------------------------------------------------------------------
def test_unwritable_output_folder_is_refused_before_computing(glasses, tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    code, _, err = run(capsys, "mechanics", glasses["ipl3d"], "-m", "ipl", "--out-dir", blocker / "sub", *FAST)
    assert code == 2 and "--out-dir" in err and "meso: error:" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


def test_failed_write_leaves_no_partial_file(glasses, tmp_path, capsys, monkeypatch):
    real_replace = os.replace

    def failing_replace(src, dst, *a, **k):
        if str(dst).endswith(".local_kappa.csv"):
            raise OSError(28, "No space left on device")
        return real_replace(src, dst, *a, **k)

    monkeypatch.setattr(os, "replace", failing_replace)
    code, out, err = run(capsys, "mechanics", glasses["ipl3d"], "-m", "ipl", "--out-dir", tmp_path, *FAST)
    assert code == 1 and out == ""
    assert "meso: error: writing the outputs" in err and "No space left" in err and "Traceback" not in err
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["ipl3d.kappa.csv"], names         # written before the failure; no temp file, no JSON
    assert read_csv(tmp_path / "ipl3d.kappa.csv")[1].size > 0


# --- extended XYZ: meso convert and meso mechanics on .xyz -------------------------------------------------------
def test_convert_gsd_extxyz_gsd_is_exact(tmp_path, capsys):
    pytest.importorskip("ase")
    rng = np.random.default_rng(4)
    for d in (2, 3):
        box = np.array([4.3, 5.1, 3.7][:d])
        s = System(rng.random((20, d)) * box, box, types=rng.integers(0, 2, 20),
                   velocities=rng.standard_normal((20, d)), image=rng.integers(-2, 3, (20, d)))
        gsd0, xyz, gsd1 = tmp_path / f"a{d}.gsd", tmp_path / f"a{d}.xyz", tmp_path / f"b{d}.gsd"
        s.to_gsd(gsd0, type_names=["small", "large"])
        code, out, err = run(capsys, "convert", gsd0, xyz)
        assert code == 0 and err == "" and "species=small,large" in out
        code, out, err = run(capsys, "convert", xyz, gsd1)
        assert code == 0 and err == ""
        a, x, b = System.from_gsd(gsd0), System.from_extxyz(xyz), System.from_gsd(gsd1)
        for r in (x, b):                                   # to the last bit
            assert r.positions.tobytes() == a.positions.tobytes() and r.velocities.tobytes() == a.velocities.tobytes()
            assert r.box.tobytes() == a.box.tobytes() and r.dim == d
            assert np.array_equal(r.types, a.types) and np.array_equal(r.image, a.image)
        assert read_type_names(gsd1) == read_type_names(xyz) == ["small", "large"]
    assert not list(tmp_path.glob(".*tmp"))
    code, out, err = run(capsys, "convert", gsd0, tmp_path / "c.extxyz", "--frame", 0, "--type-names", "P,Q")
    assert code == 0 and read_type_names(tmp_path / "c.extxyz") == ["P", "Q"]
    code, _, err = run(capsys, "convert", tmp_path / "c.extxyz", tmp_path / "d.gsd", "--type-names", "P")
    assert code == 2 and "species ['Q'] are missing" in err and "allowed species: P" in err
    code, out, err = run(capsys, "convert", "--help")
    assert code == 0 and all(w in out for w in (".gsd", ".xyz", ".extxyz", "--frame", "species", "pbc"))


def test_mechanics_reads_extxyz(glasses, tmp_path, capsys):
    pytest.importorskip("ase")
    xyz = tmp_path / "ipl2d.xyz"
    assert run(capsys, "convert", glasses["ipl2d"], xyz)[0] == 0
    opts = ["-m", "ipl", "-o", "dim=2", "--n-random", 30, "--seed", 1, *FAST]
    code, out, err = run(capsys, "mechanics", glasses["ipl2d"], *opts, "--out-dir", tmp_path / "gsd")
    assert code == 0, err
    code, out, err = run(capsys, "mechanics", xyz, *opts, "--quench")  # outputs next to the .xyz, stem without .xyz
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "gsd", "ipl2d.ihs.xyz", "ipl2d.kappa.csv", "ipl2d.local_kappa.csv", "ipl2d.mechanics.json", "ipl2d.xyz"]
    a = json.loads((tmp_path / "gsd" / "ipl2d.mechanics.json").read_text())
    b = json.loads((tmp_path / "ipl2d.mechanics.json").read_text())
    assert b["input"]["path"].endswith("ipl2d.xyz") and b["N"] == a["N"] and b["dim"] == 2
    assert b["G"] == pytest.approx(a["G"], rel=1e-10) and b["kappa_mean"] == pytest.approx(a["kappa_mean"], rel=1e-10)
    ihs = System.from_extxyz(tmp_path / "ipl2d.ihs.xyz")
    assert ihs.N == a["N"] and read_type_names(tmp_path / "ipl2d.ihs.xyz") == read_type_names(glasses["ipl2d"])
    code, out, _ = run(capsys, "mechanics", "--help")
    assert ".xyz" in out and ".extxyz" in out


def test_configuration_format_errors(glasses, tmp_path, capsys, monkeypatch):
    allowed = "allowed suffixes: .gsd, .xyz, .extxyz"
    dat = tmp_path / "conf.dat"
    dat.write_bytes(Path(glasses["ipl3d"]).read_bytes())
    code, out, err = run(capsys, "mechanics", dat, "-m", "ipl", *FAST)
    assert code == 2 and "argument CONFIG" in err and allowed in err and "Traceback" not in err
    code, _, err = run(capsys, "convert", dat, tmp_path / "x.gsd")
    assert code == 2 and "argument IN" in err and allowed in err
    code, _, err = run(capsys, "convert", glasses["ipl3d"], tmp_path / "x.pdb")
    assert code == 2 and "argument OUT" in err and "'.pdb'" in err and allowed in err
    code, _, err = run(capsys, "convert", tmp_path / "missing.gsd", tmp_path / "x.xyz")
    assert code == 2 and "no such file" in err
    code, _, err = run(capsys, "convert", glasses["ipl3d"], glasses["ipl3d"])
    assert code == 2 and "is the input file" in err
    code, _, err = run(capsys, "convert", glasses["ipl3d"], tmp_path / "x.xyz", "--frame", 3)
    assert code == 2 and "--frame" in err and "allowed: -1..0" in err
    if importlib.util.find_spec("ase") is not None:
        bad = tmp_path / "bad.xyz"
        bad.write_text("not an extended xyz file\n")
        code, _, err = run(capsys, "mechanics", bad, "-m", "ipl", *FAST)
        assert code == 2 and "argument CONFIG" in err and "not a readable extended XYZ file" in err
        gsd_as_xyz = tmp_path / "g.xyz"
        gsd_as_xyz.write_bytes(Path(glasses["ipl3d"]).read_bytes())
        code, _, err = run(capsys, "convert", gsd_as_xyz, tmp_path / "y.gsd")
        assert code == 2 and "is a GSD file, not an extended XYZ file" in err
    for name in ("ase", "ase.io", "ase.io.extxyz"):      # ASE missing: a clear error, not a traceback
        monkeypatch.setitem(sys.modules, name, None)
    code, _, err = run(capsys, "convert", glasses["ipl3d"], tmp_path / "x.xyz")
    assert code == 2 and "argument OUT" in err and "pip install 'mesoelastic[io]'" in err and "Traceback" not in err
    (tmp_path / "c.xyz").write_text("1\nProperties=species:S:1:pos:R:3\nA 0 0 0\n")
    code, _, err = run(capsys, "mechanics", tmp_path / "c.xyz", "-m", "ipl", *FAST)
    assert code == 2 and "argument CONFIG" in err and "ASE, which is not installed" in err
    assert not (tmp_path / "x.xyz").exists() and not list(tmp_path.glob(".*tmp"))


# --- the installed entry point ------------------------------------------------------------------------------------
def test_entry_point_in_a_subprocess(glasses, tmp_path):
    env = dict(os.environ)
    cmd = [sys.executable, "-m", "meso_kernels.cli", "mechanics", str(glasses["ipl3d"]), "--model", "ipl",
           "--out-dir", str(tmp_path), *FAST]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "<kappa>" in p.stdout and "G " in p.stdout and (tmp_path / "ipl3d.mechanics.json").is_file()
    p = subprocess.run(cmd[:5] + ["--model", "nope"], capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 2 and "meso: error: argument --model" in p.stderr
    script = Path(sys.executable).parent / "meso"
    if not script.exists():
        pytest.skip("the 'meso' console script is not installed (pip install -e .)")
    p = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0 and p.stdout.startswith("meso (mesoelastic ")
