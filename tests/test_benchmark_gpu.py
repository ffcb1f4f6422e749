"""benchmarks/gpu.py without a GPU: its arguments and run plans, the tiling of start states, the budget, the gamdpy
IPL pair function against our model, the report, and the message it exits with when there is no GPU.

The script's --simulate mode (every code path in numba's CUDA simulator) takes minutes (one CPU compilation of the
MD, quench and Hessian kernels, and the simulator itself), so it is not run here: see benchmarks/README.md.
"""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(name):
    spec = importlib.util.spec_from_file_location(f"_benchmark_{name}", ROOT / "benchmarks" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


gpu = _load("gpu")
SYSTEMS = _load("md_throughput").SYSTEMS


def plan_for(*argv):
    return gpu.make_plan(gpu.parse_args(list(argv)), SYSTEMS)


def test_default_plan_sizes_and_parts():
    plan = plan_for()
    assert plan["mode"] == "default" and plan["budget"] == 330.0
    assert plan["parts"] == ["md", "gamdpy", "cpu", "kappa"]
    assert plan["sizes"]["ka"] == plan["sizes"]["mblj"] == [8000, 64000, 512000, 1000000]
    assert plan["sizes"]["ipl"] == [2000] and plan["sizes"]["sw"] == [8000]     # the paper's N
    assert plan["cpu_max_n"] == 64000
    assert plan["kappa"]["system"] == ["mblj", {}, 8000, 1.2] and plan["kappa"]["gpu_pairs"] == "all"


def test_quick_simulate_and_overrides():
    quick = plan_for("--quick")
    assert quick["sizes"]["ka"] == [8000, 64000] and quick["budget"] == 110.0
    sim = plan_for("--dry-run", "--systems", "mblj,sw")
    assert sim["mode"] == "simulate" and sim["systems"] == ["mblj", "sw"]
    assert sim["sizes"] == {"mblj": [128, 1024], "sw": [64]} and sim["steps"] == 2
    assert sim["budget"] == float("inf")
    p = plan_for("--sizes", "8000,216000", "--seconds", "1.5", "--budget", "600", "--parts", "kappa,md",
                 "--kappa-gpu-pairs", "5000", "--cpu-max-n", "8000")
    assert p["sizes"]["ka"] == [8000, 216000] and p["seconds"] == 1.5 and p["budget"] == 600.0
    assert p["parts"] == ["kappa", "md"] and p["kappa"]["gpu_pairs"] == 5000 and p["cpu_max_n"] == 8000
    # a plan is a copy: PLANS itself is unchanged
    assert gpu.PLANS["default"]["kappa"]["gpu_pairs"] == "all"


def test_bad_arguments():
    with pytest.raises(ValueError, match="not a k x k x k copy"):
        plan_for("--sizes", "10000")
    with pytest.raises(ValueError, match="unknown system"):
        plan_for("--systems", "ka,lj")
    with pytest.raises(SystemExit):
        gpu.parse_args(["--parts", "md,gpu"])
    with pytest.raises(SystemExit):
        gpu.parse_args(["--quick", "--simulate"])
    with pytest.raises(SystemExit):
        gpu.parse_args(["--kappa-gpu-pairs", "many"])


def test_tile_copies_the_configuration():
    rng = np.random.default_rng(0)
    box = np.array([2.0, 3.0, 4.0])
    x = rng.random((5, 3)) * box
    types = np.array([0, 1, 0, 0, 1])
    xt, bt, tt = gpu.tile(x, box, types, 2)
    assert xt.shape == (40, 3) and np.allclose(bt, 2 * box) and tt.shape == (40,)
    assert np.all((xt >= 0) & (xt < bt))
    assert np.allclose(xt[:5], x) and np.array_equal(tt[:5], types)
    # every copy is the original shifted by a lattice vector of the old box, with the same species
    for c in range(8):
        shift = xt[5 * c:5 * c + 5] - x
        assert np.allclose(shift, shift[0]) and np.allclose(np.round(shift[0] / box) * box, shift[0])
        assert np.array_equal(tt[5 * c:5 * c + 5], types)
    assert gpu.tile_factor(8000, 1_000_000) == 5
    with pytest.raises(ValueError):
        gpu.tile_factor(8000, 100_000)


def test_budget_is_shared_over_the_selected_parts():
    b = gpu.Budget(100.0, ["md", "kappa"])
    share = gpu.PART_SHARES
    md = share["md"] / (share["md"] + share["kappa"])
    assert b.deadline["md"] - b.t0 == pytest.approx(100 * md)
    assert b.deadline["kappa"] - b.t0 == pytest.approx(100.0)
    assert b.fits("kappa", 10.0) and not b.fits("md", 1e6) and b.fits("md", None)
    assert gpu.estimate_ours(None, 8000, plan_for(), "cuda") is None
    prev = dict(N=8000, mps=100.0)          # 100 Matom-steps/s: 12 500 steps/s at N = 8000
    est = gpu.estimate_ours(prev, 64000, plan_for(), "cuda")
    assert est == pytest.approx(2.0 + 2e-6 * 64000 + 100 / (1e8 / 64000) + 2.0 * 1.3)


def test_gamdpy_ipl_function_is_our_ipl():
    """The IPL pair function handed to gamdpy (float32, called here on the CPU like gamdpy's own) reproduces our
    get_model("ipl").phi to float32 accuracy on every species pair."""
    from meso_kernels.models import get_model
    m = get_model("ipl")
    f = gpu.gamdpy_ipl_function()
    for a in range(2):
        for b in range(2):
            p = m.params[a, b]
            params = np.array([p[0], 1 / np.sqrt(p[1]), p[2], p[3], p[4], p[5], m.rcut[a, b]], np.float32)
            r = np.linspace(0.8 / np.sqrt(p[1]), m.rcut[a, b] * (1 - 1e-6), 50)
            got = np.array([f(np.float32(x), params) for x in r], float).T
            want = np.array(m.phi(r, a, b))
            err = np.abs(got - want).max(axis=1) / np.abs(want).max(axis=1)
            assert np.all(err < 1e-5), (a, b, err)


def test_report_renders_every_table():
    plan = plan_for("--quick")
    info = dict(date="2026-12-01 00:00 UTC", gpu="NVIDIA H200", compute_capability="9.0", gpu_memory_gib=139.8,
                cuda_driver="12.8", cuda_runtime="12.9", cpu="Some CPU", cpu_isa="x86-64-v4", logical_cpus=16,
                numba_threads=16, python="3.11", numpy="2", numba="0.68", numba_cuda="0.30", commit="abc")
    md_row = dict(steps=1000, seconds=1.0, u_start=-6.0, u_end=-6.1, T_end=1.0, builds=10, setup_s=1.0, warm_s=2.0,
                  status="ok")
    res = dict(md=[dict(md_row, system="ka", N=8000, backend="cuda", mps=400.0, threads=None),
                   dict(md_row, system="ka", N=64000, backend="cuda", mps=600.0, threads=None),
                   dict(md_row, system="ka", N=8000, backend="cpu", mps=20.0, threads=16),
                   dict(system="mblj", N=8000, backend="cuda", status="skipped (budget)")],
               gamdpy=dict(version="0.8.3", status="ok", rows={
                   ("ka", 8000): dict(md_row, system="ka", N=8000, mps=300.0, mps_events=310.0,
                                      compute_plan={"pb": 64}, matched="LJ", pair_check=dict(u=1e-7, s=1e-7)),
                   ("ka", 64000): dict(md_row, system="ka", N=64000, mps=700.0, mps_events=710.0)}),
               kappa=dict(system="mblj", N=8000, rho=1.2, rtol=1e-12, n_pairs=1000, rattlers=3, max_force=1e-11,
                          quench=dict(n_iter=4000), build_terms_s=0.02,
                          gpu=dict(pairs=1000, seconds=10.0, per_pair=0.01, all_pairs_s=10.0, extrapolated=False,
                                   batch=256, iters_mean=450.0, iters_max=480, converged=1000),
                          cpu=dict(pairs=64, seconds=6.4, per_pair=0.1, all_pairs_s=100.0, solver="cg", threads=16,
                                   converged=64),
                          compare=dict(pairs=64, max_rel_diff=3e-12, mean_kappa_gpu=40.0)),
               elapsed=100.0)
    plan["systems"] = ["ka", "mblj"]
    text = gpu.report(res, plan, SYSTEMS, info)
    assert "| ka | 8000 | 400 | 300 | 1.33 | met | 20 (16) | 20 |" in text
    assert "| ka | 64000 | 600 | 700 | 0.857 | **not met** |" in text
    assert "| mblj | 8000 | skipped (budget) |" in text
    assert "Target (ours ≥ gamdpy on the LJ mixtures): NOT met (1 of 2 rows)." in text
    assert "| all 1000 κ_ij | 10.0 s |" in text and "| 10 |" in text and "3.0e-12 (64)" in text
    res["gamdpy"] = dict(version=None, status="not installed (pip install gamdpy)", rows={})
    text = gpu.report(res, plan, SYSTEMS, info)
    assert "| ka | 8000 | 400 | not installed |" in text
    plan["systems"] = ["sw"]
    assert "| sw | 8000 | – | no three-body term |" in gpu.report(res, plan, SYSTEMS, info)


def test_exits_with_a_message_without_a_gpu():
    from meso_kernels import cuda as mcuda
    if mcuda.available():
        pytest.skip("a GPU (or the simulator) is available here: the script would run, not exit")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu.py"), "--quick"], capture_output=True,
                       text=True, env=env, cwd=ROOT, timeout=300)
    assert r.returncode != 0
    assert "no CUDA GPU found" in r.stderr and "--simulate" in r.stderr
