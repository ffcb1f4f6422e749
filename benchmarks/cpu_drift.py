"""How far two instruction sets' MD trajectories drift apart from the same start (benchmarks/README.md,
"Determinism across CPUs").

We cannot change the CPU, but we can change the code generation on this one:

- config **A** (host): the default environment. numba compiles for the host CPU (e.g. znver3 with AVX2 and FMA) and
  numpy uses its AVX2 (X86_V3) dispatch.
- config **B** (other ISA): ``NUMBA_CPU_NAME=generic`` (numba compiles for plain x86-64: SSE2, no AVX, no FMA; it
  gets its own ``NUMBA_CACHE_DIR`` under ``benchmarks/_work/``) and ``NPY_DISABLE_CPU_FEATURES="X86_V3 X86_V4
  AVX512_ICL AVX512_SPR"`` (numpy stays on its SSE4.2 / X86_V2 baseline).

Both must be set before numba and numpy are imported, so every run is a subprocess of this script (``--_worker``).
Config A runs twice: the rerun shows that one machine and one build give bit-identical trajectories. With
``--attribute`` three more configs say what changes the results: numba generic alone (``Bnumba``), numpy's baseline
alone (``Bnumpy``) and the host build with NUMBA_NUM_THREADS=2 (``Athreads2``: the force loop accumulates one buffer
per thread, so the summation order depends on the thread count).

For each model (IPL at T = 0.8 and SS at rho = 0.6, T = 1.2; N = 1000) the start is the final equilibrated state
(positions and velocities) of the stored liquid run ``final_system(dynamics("default", key, T))``, which is read
from data/dynamics and never recomputed. Each run integrates Nosé–Hoover NVT (``NoseHoover``, the model's dt and
tau_NH, chain of 3) for ``--steps`` steps with one numba thread, and saves the unwrapped positions at steps 1-10,
then every 10 steps up to 2000 and every 50 steps after that (to a temporary .npy). Splitting a run into blocks
gives bitwise the same trajectory as one call (integrate.py), so the saving does not perturb it.

Per saved step the script computes the largest particle displacement between two runs,
max_i |x_i^A - x_i^B| (Euclidean, minimum image), and reports the first saved step at which it exceeds 1e-6 and
0.1 length units (the length unit is the diameter of the small particles, lam_AA = sig_AA = 1; the large ones have
1.4), in steps and in t0 = a0 / sqrt(T), a0 = rho^(-1/3), and the difference after one step (round-off level). The
growth rate is a least-squares fit of ln(diff) against t over the saved steps with 1e-10 < diff < 1e-2 (the
exponential, Lyapunov, regime).

Usage (from the repository root, after ``source scripts/_env.sh``)::

    python benchmarks/cpu_drift.py                       # ipl and ss0.6, 20000 steps per run
    python benchmarks/cpu_drift.py --quick               # 3000 steps (0.1 is reached after ~2500 here)
    python benchmarks/cpu_drift.py --models ipl --steps 5000
    python benchmarks/cpu_drift.py --attribute           # also numba-generic-only, numpy-baseline-only, 2 threads

The table is printed in Markdown and written to ``benchmarks/_work/cpu_drift.md``.
"""
import argparse
import hashlib
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / "_work"

#: model key -> temperature of the stored default liquid run used as the start
MODELS = {"ipl": 0.8, "ss0.6": 1.2}
LEVELS = (1e-6, 0.1)
FIT_RANGE = (1e-10, 1e-2)
NPY_OFF = "X86_V3 X86_V4 AVX512_ICL AVX512_SPR"
#: config name -> (label, what it changes); "A2" is the rerun of A
CONFIGS = {
    "A": "host: numba for the host CPU, numpy with its X86_V3 (AVX2) dispatch",
    "A2": "host, run again (same environment as A)",
    "B": f"NUMBA_CPU_NAME=generic, NPY_DISABLE_CPU_FEATURES=\"{NPY_OFF}\"",
    "Bnumba": "NUMBA_CPU_NAME=generic only (numpy as in A)",
    "Bnumpy": f"NPY_DISABLE_CPU_FEATURES=\"{NPY_OFF}\" only (numba as in A)",
    "Athreads2": "host, NUMBA_NUM_THREADS=2 (the force loop sums 2 chunk buffers instead of 1)",
}


def save_steps(nsteps):
    """Steps 1-10, every 10 up to 2000, every 50 after that, and ``nsteps`` itself."""
    s = list(range(1, min(10, nsteps) + 1)) + list(range(20, min(2000, nsteps) + 1, 10))
    s += list(range(2050, nsteps + 1, 50)) + [nsteps]
    return np.unique(np.array([k for k in s if 1 <= k <= nsteps], dtype=np.int64))


def _generic_cache_dir():
    """numba cache for config B, keyed by the package source (as scripts/_env.sh does for the host cache)."""
    h = hashlib.sha256()
    for p in sorted((ROOT / "meso_kernels").rglob("*.py")):
        h.update(p.read_bytes())
    return WORK / "numba_cache_generic" / h.hexdigest()[:16]


def config_env(name):
    env = dict(os.environ)
    for k in ("NUMBA_CPU_NAME", "NUMBA_CPU_FEATURES", "NPY_DISABLE_CPU_FEATURES", "NPY_ENABLE_CPU_FEATURES"):
        env.pop(k, None)
    env.update(NUMBA_NUM_THREADS="2" if name == "Athreads2" else "1", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1")
    if name in ("B", "Bnumba"):
        env["NUMBA_CPU_NAME"] = "generic"
        env["NUMBA_CACHE_DIR"] = str(_generic_cache_dir())
    if name in ("B", "Bnumpy"):
        env["NPY_DISABLE_CPU_FEATURES"] = NPY_OFF
    return env


# ---------------------------------------------------------------------------------------------------------------
# worker: one run in one configuration
# ---------------------------------------------------------------------------------------------------------------
def worker(key, nsteps, out):
    sys.path.insert(0, str(ROOT))
    import numba
    from meso_kernels.campaign import dynamics, final_system
    from meso_kernels.cpuinfo import cpu_record
    from meso_kernels.integrate import NoseHoover
    from meso_kernels.statepoints import model_for

    T = MODELS[key]
    model = model_for(key)
    arrays = dynamics("default", key, T)
    start = final_system(arrays)
    sp = model.state_point
    sim = NoseHoover(start, model, dt=sp.dt, T=T, tau=sp.tau_nh, seed=0)
    steps = save_steps(nsteps)
    frames = np.empty((steps.size, start.N, start.dim))
    done = 0
    for k, s in enumerate(steps):
        sim.run(int(s) - done)
        done = int(s)
        frames[k] = sim.x              # unwrapped, original particle order
    np.save(out, frames)
    info = {"key": key, "T": T, "rho": float(arrays["rho"]), "N": int(start.N), "dt": float(sp.dt),
            "tau": float(sp.tau_nh), "box": [float(b) for b in start.box], "steps": steps.tolist(),
            "cpu": cpu_record(), "numba_cpu_name": numba.config.CPU_NAME,
            "numba_cpu_features": numba.config.CPU_FEATURES, "numba_threads": numba.get_num_threads(),
            "U_final": sim.potential_energy() / start.N, "T_kin_final": sim.kinetic_temperature()}
    Path(str(out) + ".json").write_text(json.dumps(info))


def run_config(name, key, nsteps, tmp):
    out = Path(tmp) / f"{key}_{name}.npy"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_worker", key, "--steps", str(nsteps), "--_out",
           str(out)]
    env = config_env(name)
    if "NUMBA_CACHE_DIR" in env:
        Path(env["NUMBA_CACHE_DIR"]).mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    r = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"config {name}, model {key} failed (rc {r.returncode}):\n{r.stderr[-4000:]}")
    info = json.loads(Path(str(out) + ".json").read_text())
    info["wall"] = time.perf_counter() - t
    return np.load(out), info


# ---------------------------------------------------------------------------------------------------------------
# analysis
# ---------------------------------------------------------------------------------------------------------------
def max_diff(a, b, box):
    """Per frame: max over particles of the minimum-image distance |a_i - b_i| (a, b: (F, N, d))."""
    d = a - b
    d -= box * np.round(d / box)
    return np.sqrt(np.max(np.sum(d * d, axis=2), axis=1))


def first_above(steps, diff, level):
    k = np.flatnonzero(diff > level)
    return int(steps[k[0]]) if k.size else None


def growth_rate(t, diff):
    """Slope of ln(diff) against t over the frames with FIT_RANGE[0] < diff < FIT_RANGE[1], up to the first frame
    above FIT_RANGE[1] (NaN if fewer than 5 such frames)."""
    above = np.flatnonzero(diff >= FIT_RANGE[1])
    stop = above[0] if above.size else diff.size
    m = np.zeros(diff.size, bool)
    m[:stop] = diff[:stop] > FIT_RANGE[0]
    if m.sum() < 5:
        return float("nan")
    return float(np.polyfit(t[m], np.log(diff[m]), 1)[0])


def _numpy_level(simd):
    """The highest x86 level numpy dispatches to (its list also names the single extensions, AVX etc., which stay
    listed when a level is disabled)."""
    on = [x for x in ("X86_V4", "X86_V3", "X86_V2") if x in simd]
    avx512 = [x for x in simd if x.startswith("AVX512")]
    return (on[0] if on else "baseline") + (f" (+{', '.join(avx512)})" if avx512 else "")


def fmt_step(step, dt, t0u):
    if step is None:
        return None
    return f"{step} ({step * dt / t0u:.3g} t0)"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(MODELS), help=f"comma list among {', '.join(MODELS)}")
    ap.add_argument("--steps", type=int, default=None, help="MD steps per run (default 20000, --quick 3000)")
    ap.add_argument("--quick", action="store_true", help="3000 steps (here just enough for 0.1 in both models)")
    ap.add_argument("--attribute", action="store_true",
                    help="also run numba-generic-only, numpy-baseline-only and 2-thread host configs "
                         "(what changes the results)")
    ap.add_argument("--out", default=str(WORK / "cpu_drift.md"))
    ap.add_argument("--_worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--_out", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    nsteps = args.steps if args.steps is not None else (3000 if args.quick else 20000)
    if nsteps < 1:
        ap.error("--steps must be >= 1")
    if args._worker is not None:
        worker(args._worker, nsteps, args._out)
        return 0
    keys = [k.strip() for k in args.models.split(",") if k.strip()]
    bad = [k for k in keys if k not in MODELS]
    if bad or not keys:
        ap.error(f"--models: unknown {bad}; allowed: {', '.join(MODELS)}")
    configs = ["A", "A2", "B"] + (["Bnumba", "Bnumpy", "Athreads2"] if args.attribute else [])

    sys.path.insert(0, str(ROOT))
    from meso_kernels.analysis.units import t0 as t0_unit

    WORK.mkdir(parents=True, exist_ok=True)
    lines = []

    def say(s=""):
        print(s, flush=True)
        lines.append(s)

    rows, curves, cpus = [], [], {}
    with tempfile.TemporaryDirectory(prefix="cpu_drift_") as tmp:
        for key in keys:
            runs = {}
            for c in configs:
                print(f"[cpu_drift] {key}: config {c} ({nsteps} steps) ...", file=sys.stderr, flush=True)
                runs[c] = run_config(c, key, nsteps, tmp)
                rec = runs[c][1]["cpu"]
                cpus.setdefault(c, (rec, runs[c][1]["numba_cpu_name"], runs[c][1]["numba_cpu_features"]))
            info = runs["A"][1]
            steps = np.array(info["steps"])
            box = np.array(info["box"])
            dt, T, rho = info["dt"], info["T"], info["rho"]
            t0u = t0_unit(rho, T)
            xa = runs["A"][0]
            rerun_equal = bool(np.array_equal(xa, runs["A2"][0]))
            rerun_max = float(np.max(max_diff(xa, runs["A2"][0], box)))
            for c in configs[2:]:
                diff = max_diff(xa, runs[c][0], box)
                row = {"key": key, "config": c, "T": T, "rho": rho, "N": info["N"], "dt": dt, "t0": t0u,
                       "rerun_equal": rerun_equal, "rerun_max": rerun_max, "step1": float(diff[0]),
                       "first": {lvl: first_above(steps, diff, lvl) for lvl in LEVELS},
                       "rate": growth_rate(steps * dt, diff), "final": float(diff[-1]), "nsteps": nsteps,
                       "UA": info["U_final"], "UB": runs[c][1]["U_final"],
                       "identical": bool(np.array_equal(xa, runs[c][0]))}
                rows.append(row)
                curves.append((key, c, steps, diff))
    # ---- report
    say("# Determinism across CPUs: config A (host) against other code generation")
    say()
    for c, (rec, cpu_name, feats) in cpus.items():
        say(f"- config {c}: CPU {rec['model']} ({rec['isa_level']}); numba target {rec['numba_target']} "
            f"(CPU_NAME={cpu_name!r}, CPU_FEATURES={feats!r}); numpy SIMD "
            f"{_numpy_level(rec['numpy_simd'])} -- {CONFIGS[c]}")
    say()
    say(f"N = 1000, Nosé–Hoover NVT, {nsteps} steps, 1 numba thread (unless said); differences are "
        "max_i |x_i^A - x_i^B| (minimum image, length unit = small-particle diameter).")
    say()
    say("| model | T | δt | t0 | rerun A vs A | A vs B after 1 step | first step > 1e-6 | first step > 0.1 | "
        "growth rate (1/t0) | A vs B at the end |")
    say("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        name = r["key"] if r["config"] == "B" else f"{r['key']} ({r['config']})"
        rerun = ("0 (bit-identical)" if r["rerun_equal"] else f"{r['rerun_max']:.3g} (NOT identical)")
        f6 = fmt_step(r["first"][1e-6], r["dt"], r["t0"]) or f"not within {r['nsteps']}"
        f1 = fmt_step(r["first"][0.1], r["dt"], r["t0"]) or f"not within {r['nsteps']} steps"
        rate = "n/a" if math.isnan(r["rate"]) else f"{r['rate'] * r['t0']:.2f}"
        say(f"| {name} | {r['T']:g} | {r['dt']:g} | {r['t0']:.4g} | {rerun} | {r['step1']:.2e} | {f6} | {f1} | "
            f"{rate} | {r['final']:.3g} |")
    say()
    say("Steps at which the difference first exceeds each decade (saved steps: 1-10, every 10 to 2000, every 50 "
        "after):")
    say()
    decades = [1e-15, 1e-12, 1e-9, 1e-6, 1e-3, 1e-1, 1.0]
    say("| model | config | " + " | ".join(f"{d:g}" for d in decades) + " |")
    say("|---|---|" + "---|" * len(decades))
    for key, c, steps, diff in curves:
        cells = [first_above(steps, diff, d) for d in decades]
        say(f"| {key} | {c} | " + " | ".join("–" if x is None else str(x) for x in cells) + " |")
    say()
    for r in rows:
        if r["identical"]:
            say(f"NOTE: {r['key']} config {r['config']} is bit-identical to A at every saved step: that change of "
                "code generation does not touch the arithmetic of this run.")
            continue
        if r["step1"] == 0.0:
            say(f"NOTE: {r['key']} config {r['config']} is identical to A after one step (it differs later).")
        if r["first"][0.1] is None:
            say(f"NOTE: {r['key']} config {r['config']}: the 0.1 level was not reached within {r['nsteps']} steps "
                f"(final difference {r['final']:.3g}); rerun with more --steps.")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"[cpu_drift] table written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
