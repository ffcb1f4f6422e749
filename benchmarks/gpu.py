"""GPU benchmarks of the CUDA backend, in one run on one machine with an NVIDIA GPU: our device MD against gamdpy and
against our CPU MD, and all dipole stiffnesses κ_ij of a glass on the GPU against our CPU route.

Usage (from the repository root, on a machine with an NVIDIA GPU)::

    .venv/bin/pip install -e '.[gpu]' gamdpy        # numba-cuda with NVIDIA's CUDA 12 wheels; gamdpy (optional)
    .venv/bin/python benchmarks/gpu.py                              # everything, ~6 min (--budget 330 s)
    .venv/bin/python benchmarks/gpu.py --quick                      # N <= 64000, short runs, ~2 min
    .venv/bin/python benchmarks/gpu.py --parts kappa --budget 600   # only (c), with time for all pairs
    .venv/bin/python benchmarks/gpu.py --simulate                   # every code path at tiny N in numba's CUDA
                                                                    # simulator, no GPU needed (times meaningless)

What is measured (tables printed in Markdown and written to ``benchmarks/_work/gpu.md``, raw numbers to
``gpu.json``; ``--simulate`` writes ``gpu_simulate.md``/``.json`` instead):

(a) NVT MD throughput (million atom-steps per second) of ``NoseHoover(..., backend="cuda")`` (a
    :class:`meso_kernels.cuda.integrate.DeviceNoseHoover`) and of gamdpy (``pip install gamdpy``; the numba-cuda MD
    package of the RUMD authors) on the same GPU, from the same start configuration and velocities: the Kob–Andersen
    (``ka``) and modified KA (``mblj``) mixtures at N = 8000, 64 000, 512 000 and 10^6 (ρ = 1.2, T = 1.0, δt = 0.005),
    and IPL (N = 2000) and Stillinger–Weber (N = 8000; gamdpy has no three-body term) at the paper's state points. The
    systems (model, N, ρ, T, δt, τ_NH, equilibration steps) are ``SYSTEMS`` of ``benchmarks/md_throughput.py``.
    Target: at least gamdpy's speed on the LJ mixtures (ours/gamdpy >= 1).
(b) the same runs with our CPU integrator (``backend="cpu"``, all numba threads) at N <= 64 000.
(c) κ_ij of every interacting pair of an N = 8000 mBLJ inherent structure (CG quench to max|F| < 1e-10) by
    ``DipoleStiffness(solver="cg", backend="cuda")`` against our CPU route (``DipoleStiffness(solver="auto")``, which
    is CG at this size), with the largest relative difference of κ over the pairs both computed. The CPU route runs
    on a random subset of the pairs and is extrapolated to all of them; the GPU runs all pairs when the time budget
    allows it, else a larger subset (including the CPU's pairs), also extrapolated (marked so in the table).

Protocol: a start state per system at its base N (our ``random_configuration``, then ``thermalize`` on the CPU: a
loose FIRE quench and the system's equilibration steps of Nosé–Hoover MD; cached in ``benchmarks/_work/``). Larger
N are k×k×k copies of the base state (N = base N × k³) with fresh Maxwell–Boltzmann velocities at T. Each measurement
builds its integrator (not timed: numba/CUDA compilation, first neighbour list, first forces), runs an untimed
warm-up, calibrates the step count on a short untimed run so that the timed run lasts about ``--seconds``, and times
that run by the wall clock (the GPU synchronised at both ends). gamdpy runs in a subprocess (isolation: a CUDA error
there cannot take this run down; its own ``numba.config`` changes stay there) with its documented API
(``Configuration``, ``PairPotential``, ``integrators.NVT``, ``Simulation(..., storage="memory")``,
``run_timeblocks``), one untimed warm-up timeblock, then timed timeblocks (wall clock; gamdpy's own CUDA-event
timing is reported too). ``--budget`` (seconds, all included) is split over the parts; the smallest N of every
system always runs, and a larger one whose estimated cost no longer fits is reported as "skipped (budget)".

Without a GPU (and without ``--simulate``) the script exits with a message. Without gamdpy, its columns say
"not installed". gamdpy's kernels do not run in numba's simulator: ``--simulate`` only builds its objects and checks
its pair functions against ours.
"""
import argparse
import gc
import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work"
REPO = HERE.parent

#: the LJ mixtures: the systems compared with gamdpy at several N (all copies of the base state)
LJ_SYSTEMS = ("ka", "mblj")
#: systems with a gamdpy counterpart (SW: gamdpy has no three-body interaction)
GAMDPY_SYSTEMS = ("ka", "mblj", "ipl")
PARTS = ("md", "gamdpy", "cpu", "kappa")
#: shares of --budget of the parts (start states and compilation included), renormalised over the selected parts
PART_SHARES = {"md": 0.30, "gamdpy": 0.28, "cpu": 0.14, "kappa": 0.28}

#: run plans. sizes: N per system; lj_sizes: N of ka and mblj (multiples base N × k³); seconds: timed part of a
#: measurement; warm: untimed warm-up steps (GPU, CPU); steps: fixed timed steps (no calibration) or None;
#: equil: equilibration steps of the start states (None: the system's own); cpu_max_n: largest N run on the CPU;
#: kappa: (model, kwargs, N, rho) of the glass, pairs on the CPU, pairs on the GPU ("all" or a number), batches,
#: rtol; gamdpy_blocks: timed timeblocks.
PLANS = {
    "default": dict(sizes={}, lj_sizes=(8000, 64000, 512000, 1000000), seconds=2.0, warm=(100, 50), steps=None,
                    equil=None, cpu_max_n=64000, budget=330.0,
                    kappa=dict(system=("mblj", {}, 8000, 1.2), cpu_pairs=256, gpu_pairs="all", cpu_batch=64,
                               gpu_batch=256, rtol=1e-12),
                    gamdpy_blocks=4),
    "quick": dict(sizes={}, lj_sizes=(8000, 64000), seconds=0.5, warm=(50, 20), steps=None, equil=None,
                  cpu_max_n=8000, budget=110.0,
                  kappa=dict(system=("mblj", {}, 8000, 1.2), cpu_pairs=128, gpu_pairs=2048, cpu_batch=64,
                             gpu_batch=256, rtol=1e-12),
                  gamdpy_blocks=2),
    # numba's CUDA simulator: tiny N (boxes that still hold r_c + skin <= L/2), a few steps, no calibration; mblj
    # also at 8 x its base N (the tiling path) and the CPU skips that size (the cpu_max_n path). κ on the 2D IPL
    # glass of N = 32 of tests/cuda, 8 pairs (a 3D glass of ~120 particles costs a minute per pair in the simulator).
    "simulate": dict(sizes={"ipl": 128, "ka": 250, "mblj": 128, "sw": 64}, lj_sizes={"ka": (250,),
                                                                                    "mblj": (128, 1024)},
                     seconds=0.0, warm=(1, 1), steps=2, equil=20, cpu_max_n=250, budget=float("inf"),
                     kappa=dict(system=("ipl", {"dim": 2}, 32, 0.86), cpu_pairs=4, gpu_pairs=8, cpu_batch=4,
                                gpu_batch=4, rtol=1e-12),
                     gamdpy_blocks=1),
}

_NO_GPU = ("no CUDA GPU found (numba.cuda.is_available() is False, or no working driver): run this benchmark on a "
           "machine with an NVIDIA GPU (pip install -e '.[gpu]'), or check every code path without one with "
           "--simulate (numba's CUDA simulator; times are meaningless there)")


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _import_paths():
    """The repository (meso_kernels) and benchmarks/ (md_throughput) on sys.path; done when the script runs, not on
    import (a test that imports this file keeps its sys.path)."""
    for p in (str(REPO), str(HERE)):
        if p not in sys.path:
            sys.path.insert(0, p)


# ---------------------------------------------------------------------------------------------------------------
# arguments and plan
# ---------------------------------------------------------------------------------------------------------------
def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="N <= 64000, 0.5 s per measurement (~2 min)")
    mode.add_argument("--simulate", "--dry-run", dest="simulate", action="store_true",
                      help="run every code path at tiny N in numba's CUDA simulator (sets NUMBA_ENABLE_CUDASIM=1; "
                           "no GPU needed; nothing is timed meaningfully)")
    ap.add_argument("--parts", default=",".join(PARTS),
                    help="comma list of parts: md (ours on the GPU), gamdpy, cpu (ours on the CPU), kappa")
    ap.add_argument("--systems", default="ka,mblj,ipl,sw", help="comma list of md_throughput SYSTEMS")
    ap.add_argument("--sizes", default=None,
                    help="comma list of N for ka and mblj (each base N × k³, base N = 8000: 8000, 64000, 216000, "
                         "512000, 1000000, ...)")
    ap.add_argument("--seconds", type=float, default=None, help="target length of each timed run (s)")
    ap.add_argument("--steps", type=int, default=None, help="fixed timed steps (no calibration)")
    ap.add_argument("--budget", type=float, default=None,
                    help="wall-clock budget of the whole run in seconds (default 330, --quick 110); measurements "
                         "that would not fit are skipped and reported so")
    ap.add_argument("--cpu-threads", type=int, default=None, help="numba threads of the CPU runs (default: all)")
    ap.add_argument("--cpu-max-n", type=int, default=None, help="largest N run on the CPU (default 64000)")
    ap.add_argument("--kappa-cpu-pairs", type=int, default=None, help="pairs of the CPU κ route (extrapolated)")
    ap.add_argument("--kappa-gpu-pairs", default=None, help="'all' (default) or a number of pairs on the GPU")
    ap.add_argument("--kappa-gpu-batch", type=int, default=None, help="right-hand sides per GPU block CG")
    ap.add_argument("--gamdpy-autotune", action="store_true",
                    help="let gamdpy autotune its compute plan (Simulation.autotune) before timing (slow: many "
                         "compilations)")
    ap.add_argument("--gamdpy-max-nbs", type=int, default=1000,
                    help="gamdpy PairPotential max_num_nbs (its Kob-Andersen example uses 1000)")
    ap.add_argument("--gamdpy-python", default=sys.executable, help="Python that runs the gamdpy subprocess")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--fresh", action="store_true", help="rebuild the cached start states and the glass")
    ap.add_argument("--out", default=None, help="Markdown output (default benchmarks/_work/gpu.md)")
    ap.add_argument("--work", default=None, help="folder for caches and outputs (default benchmarks/_work)")
    ap.add_argument("--gamdpy-child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    for p in args.parts:
        if p not in PARTS:
            ap.error(f"unknown part {p!r}; choose from {', '.join(PARTS)}")
    args.systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    if args.kappa_gpu_pairs is not None and args.kappa_gpu_pairs != "all":
        try:
            args.kappa_gpu_pairs = int(args.kappa_gpu_pairs)
        except ValueError:
            ap.error(f"--kappa-gpu-pairs must be 'all' or a number, got {args.kappa_gpu_pairs!r}")
    if args.sizes is not None:
        try:
            args.sizes = tuple(int(s) for s in args.sizes.split(",") if s.strip())
        except ValueError:
            ap.error(f"--sizes must be a comma list of integers, got {args.sizes!r}")
    return args


def make_plan(args, systems_table):
    """The run plan (a dict) from the mode's PLANS entry and the command line; raises ValueError for sizes that are
    not copies of a base state or unknown systems."""
    mode = "simulate" if args.simulate else ("quick" if args.quick else "default")
    plan = json.loads(json.dumps(PLANS[mode], default=str))      # a deep copy
    plan["mode"] = mode
    plan["budget"] = float(PLANS[mode]["budget"] if args.budget is None else args.budget)
    for name in args.systems:
        if name not in systems_table:
            raise ValueError(f"unknown system {name!r}; choose from {', '.join(systems_table)}")
    plan["systems"] = list(args.systems)
    base = {n: int(plan["sizes"].get(n, systems_table[n]["N"])) for n in args.systems}
    plan["base"] = base
    sizes = {}
    for n in args.systems:
        if n in LJ_SYSTEMS:
            if args.sizes is not None:
                want = args.sizes
            elif isinstance(PLANS[mode]["lj_sizes"], dict):
                want = PLANS[mode]["lj_sizes"].get(n, (base[n],))
            else:
                want = PLANS[mode]["lj_sizes"]
        else:
            want = (base[n],)
        for N in want:
            tile_factor(base[n], N)           # ValueError unless N = base × k³
        sizes[n] = sorted(set(int(N) for N in want))
    plan["sizes"] = sizes
    overrides = [(plan, name, getattr(args, name)) for name in ("seconds", "steps", "cpu_max_n")]
    overrides += [(plan["kappa"], name, getattr(args, "kappa_" + name)) for name in ("cpu_pairs", "gpu_pairs", "gpu_batch")]
    for target, name, value in overrides:
        if value is not None:
            target[name] = value
    plan["parts"] = list(args.parts)
    return plan


def tile_factor(base_n, N):
    """k with N = base_n × k³ (ValueError otherwise)."""
    k = int(round((N / base_n) ** (1.0 / 3.0)))
    if k < 1 or base_n * k ** 3 != N:
        allowed = ", ".join(str(base_n * j ** 3) for j in range(1, 6))
        raise ValueError(f"N = {N} is not a k x k x k copy of the base state of {base_n} particles; allowed: "
                         f"{allowed}, ...")
    return k


def tile(x, box, types, k):
    """k×k×k periodic copies of a configuration: positions (k³ n, d) in the box k L, types repeated."""
    x = np.asarray(x, float)
    box = np.asarray(box, float)
    d = x.shape[1]
    shifts = np.array(np.meshgrid(*[np.arange(k)] * d, indexing="ij")).reshape(d, -1).T * box
    xt = (x[None, :, :] + shifts[:, None, :]).reshape(-1, d)
    return xt, box * k, np.tile(np.asarray(types), k ** d)


# ---------------------------------------------------------------------------------------------------------------
# start states and measurements of our code
# ---------------------------------------------------------------------------------------------------------------
def start_state(name, cfg, N, seed, equil, fresh):
    """(x, box, types, v) of system ``name`` at its base N: random configuration, then ``thermalize`` on the CPU
    (loose FIRE quench, ``equil`` Nosé–Hoover steps); cached in benchmarks/_work/."""
    from meso_kernels.initial import random_configuration
    from meso_kernels.integrate import thermalize
    from meso_kernels.models import get_model
    path = WORK / f"gpu_start_{name}_N{N}_T{cfg['T']:g}_e{equil}_s{seed}.npz"
    if path.exists() and not fresh:
        d = np.load(path)
        log(f"[{name}] start state N = {N}: reusing {path.name}")
        return d["x"], d["box"], d["types"], d["v"]
    model = get_model(cfg["model"], **cfg["kw"])
    t = time.perf_counter()
    s0 = random_configuration(model, N, cfg["rho"], seed)
    sim = thermalize(s0, model, cfg["T"], equil, dt=cfg["dt"], tau=cfg["tau"], seed=seed, backend="cpu")
    s = sim.system
    x, box, types, v = (np.asarray(s.positions, float), np.asarray(s.box, float), np.asarray(s.types, np.int32),
                        np.asarray(s.velocities, float))
    np.savez(path, x=x, box=box, types=types, v=v)
    log(f"[{name}] start state N = {N}: random configuration + {equil} NVT steps (CPU) in "
        f"{time.perf_counter() - t:.1f} s, U/N = {sim.potential_energy() / N:.4f} -> {path.name}")
    return x, box, types, v


def sized_state(base_state, base_n, N, T, seed):
    """The start state at N: the base state itself, or k³ copies of it with fresh Maxwell–Boltzmann velocities."""
    from meso_kernels.initial import maxwell_boltzmann
    k = tile_factor(base_n, N)
    if k == 1:
        return base_state
    x, box, types, _ = base_state
    xt, bt, tt = tile(x, box, types, k)
    v = maxwell_boltzmann(N, xt.shape[1], T, seed + 1000 * k)
    return xt, bt, tt.astype(np.int32), np.asarray(v, float)


def _sync(backend):
    if backend == "cuda":
        from numba import cuda
        try:
            cuda.synchronize()
        except Exception:   # the simulator has nothing to synchronise
            pass


def _free_device():
    gc.collect()
    try:
        from numba import cuda
        from meso_kernels import cuda as mcuda
        if not mcuda.simulator() and mcuda.available():
            cuda.current_context().deallocations.clear()
    except Exception:
        pass


def run_ours(model, cfg, state, backend, plan, threads=None):
    """Time Nosé–Hoover NVT with our integrator. Returns a dict: steps, seconds, mps (Matom-steps/s), U/N at the
    start and end, T_kin at the end, setup/warm-up/calibration seconds, neighbour-list builds."""
    import numba
    from meso_kernels.integrate import NoseHoover
    from meso_kernels.system import System
    x, box, types, v = state
    N = len(x)
    if backend == "cpu" and threads is not None:
        numba.set_num_threads(threads)
    t0 = time.perf_counter()
    sim = NoseHoover(System(x, box, types, v), model, dt=cfg["dt"], T=cfg["T"], tau=cfg["tau"], backend=backend)
    u0 = sim.potential_energy() / N
    t1 = time.perf_counter()
    warm = plan["warm"][0 if backend == "cuda" else 1]
    sim.run(warm)
    _sync(backend)
    t2 = time.perf_counter()
    steps = plan["steps"]
    cal = 0.0
    if steps is None:                      # calibrate: runs of 10, 40, 160, ... steps until one lasts 10 % of target
        n = 10
        while True:
            a = time.perf_counter()
            sim.run(n)
            _sync(backend)
            dt_ = time.perf_counter() - a
            cal += dt_
            if dt_ >= 0.1 * plan["seconds"] or n >= 1_000_000:
                break
            n *= 4
        steps = int(min(max(plan["seconds"] * n / max(dt_, 1e-9), 20), 10_000_000))
    b0 = getattr(sim, "n_builds", None)
    b0 = sim.ff.nl.n_builds if b0 is None else b0
    _sync(backend)
    a = time.perf_counter()
    sim.run(steps)
    u1 = sim.potential_energy() / N        # a device-to-host copy: the GPU is done
    _sync(backend)
    sec = time.perf_counter() - a
    b1 = getattr(sim, "n_builds", None)
    b1 = sim.ff.nl.n_builds if b1 is None else b1
    out = dict(steps=int(steps), seconds=sec, mps=N * steps / sec / 1e6, u_start=u0, u_end=u1,
               T_end=float(sim.kinetic_temperature()), setup_s=t1 - t0, warm_s=t2 - t1, cal_s=cal,
               builds=int(b1 - b0), threads=(numba.get_num_threads() if backend == "cpu" else None),
               device=getattr(sim, "device", None))
    del sim
    if backend == "cuda":
        _free_device()
    return out


class Budget:
    """Deadlines of the selected parts (absolute perf_counter times): the budget is shared in the proportions of
    PART_SHARES among the selected parts, in the order of PARTS, and time a part leaves unused rolls over to the
    next ones (the deadlines are cumulative)."""

    def __init__(self, total, parts):
        self.t0 = time.perf_counter()
        self.total = total
        sel = [p for p in PARTS if p in parts]
        norm = sum(PART_SHARES[p] for p in sel) or 1.0
        acc = 0.0
        self.deadline = {}
        for p in PARTS:
            if p in sel:
                acc += PART_SHARES[p] / norm
            self.deadline[p] = self.t0 + total * acc

    def left(self, part):
        return self.deadline[part] - time.perf_counter()

    def fits(self, part, estimate):
        """Whether a measurement of ``estimate`` seconds (None: unknown) still fits before the part's deadline."""
        if estimate is None:
            return self.left(part) > 0
        return estimate <= self.left(part)

    def elapsed(self):
        return time.perf_counter() - self.t0


def estimate_ours(prev, N, plan, backend):
    """Seconds a measurement at N is expected to take, from the throughput of the previous (smaller) one of the same
    system and backend (None without one): set-up (system checks, host-to-device copies, first neighbour list and
    forces: ~2 s + 2 µs per particle), warm-up and calibration steps at that throughput, and the timed run."""
    if prev is None or not prev.get("mps"):
        return None
    rate = prev["mps"] * 1e6 / N                                  # steps per second at N
    warm = plan["warm"][0 if backend == "cuda" else 1]
    timed = plan["steps"] / rate if plan["steps"] is not None else plan["seconds"] * 1.3
    return 2.0 + 2e-6 * N + warm / rate + timed


# ---------------------------------------------------------------------------------------------------------------
# gamdpy (in a subprocess)
# ---------------------------------------------------------------------------------------------------------------
def gamdpy_version(python):
    code = "import importlib.metadata as m; print(m.version('gamdpy'))"
    try:
        r = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout.strip() if r.returncode == 0 and r.stdout.strip() else None


def gamdpy_pair_potential(gp, name, model, max_num_nbs):
    """(PairPotential, pair function, what was matched) of gamdpy for our system ``name``, with our model's parameter
    tables (no second copy of the numbers); None for a system gamdpy cannot run (SW: no three-body term)."""
    if name in ("ka", "mblj"):
        from meso_kernels.models.lj import EPSILON, SIGMA
        shifted_force = name == "mblj"
        wrap = gp.apply_shifted_force_cutoff if shifted_force else gp.apply_shifted_potential_cutoff
        func = wrap(gp.LJ_12_6_sigma_epsilon)
        params = [SIGMA.tolist(), EPSILON.tolist(), np.asarray(model.rcut).tolist()]
        what = ("LJ_12_6_sigma_epsilon + apply_shifted_force_cutoff (Toxvaerd–Dyre), r_c 1.5/2.0/1.5"
                if shifted_force else "LJ_12_6_sigma_epsilon + apply_shifted_potential_cutoff, r_c = 2.5 σ_ij")
        return gp.PairPotential(func, params=params, max_num_nbs=max_num_nbs), func, what
    if name == "ipl":
        func = gamdpy_ipl_function()
        p = np.asarray(model.params)                   # (eps, 1/lam^2, c0, c2, c4, c6) per species pair
        params = [p[:, :, 0].tolist(), (1.0 / np.sqrt(p[:, :, 1])).tolist()] + [p[:, :, c].tolist()
                                                                                 for c in range(2, 6)]
        params.append(np.asarray(model.rcut).tolist())
        what = "user pair function: our IPL n = 10 with its polynomial cut-off at 1.48 λ_ij (same formula, float32)"
        return gp.PairPotential(func, params=params, max_num_nbs=max_num_nbs), func, what
    return None


def gamdpy_ipl_function():
    """Our IPL pair term (meso_kernels.models.ipl.pair) as a gamdpy pair function ``(dist, params) -> (u, s, u'')``
    with params (eps, lam, c0, c2, c4, c6, r_c), written with float32 constants as gamdpy's own functions are. The
    r_c test is gamdpy's (its kernel calls the function only for dist < r_c)."""
    import numba

    def ipl_smooth(dist, params):  # pragma: no cover - compiled by gamdpy
        eps = params[0]
        lam = params[1]
        c2 = params[3]
        c4 = params[4]
        c6 = params[5]
        il2 = numba.float32(1.0) / (lam * lam)
        x2 = dist * dist * il2
        ix2 = numba.float32(1.0) / x2
        ix10 = ix2 * ix2 * ix2 * ix2 * ix2
        u = eps * (ix10 + params[2] + x2 * (c2 + x2 * (c4 + x2 * c6)))
        s = -eps * il2 * (numba.float32(-10.0) * ix10 * ix2 + numba.float32(2.0) * c2
                          + x2 * (numba.float32(4.0) * c4 + x2 * numba.float32(6.0) * c6))
        umm = eps * il2 * (numba.float32(110.0) * ix10 * ix2 + numba.float32(2.0) * c2
                           + x2 * (numba.float32(12.0) * c4 + x2 * numba.float32(30.0) * c6))
        return u, s, umm

    return ipl_smooth


def gamdpy_pair_check(pair_pot, func, model):
    """Largest difference of gamdpy's pair function (float32, called on the CPU) from our ``model.phi`` over r from
    0.9 times the contact distance (phi = 5) to r_c, relative to the largest |value| there: (u, s = -u'/r, u'')."""
    from meso_kernels.initial import contact_distances
    params, _ = pair_pot.convert_user_params()
    lo = 0.9 * contact_distances(model)
    worst = np.zeros(3)
    for a in range(model.n_types):
        for b in range(model.n_types):
            rc = float(model.rcut[a, b])
            r = np.linspace(lo[a, b], rc * (1 - 1e-6), 200)
            g = np.array([func(np.float32(x), params[a, b]) for x in r], dtype=float).T
            o = np.array(model.phi(r, a, b))
            worst = np.maximum(worst, np.abs(g - o).max(axis=1) / np.abs(o).max(axis=1))
    return dict(u=float(worst[0]), s=float(worst[1]), umm=float(worst[2]))


def gamdpy_child(jobfile):
    """Run the gamdpy jobs of ``jobfile`` (JSON written by :func:`run_gamdpy`); one JSON line per job (and a first
    line with the version) appended to the job's ``out`` file. Each job: configuration from our start state (npz),
    the matched pair potential, gamdpy's NVT (one Nosé–Hoover thermostat, leap-frog), Simulation in memory with
    MomentumReset(100) as in gamdpy's benchmark script; one untimed warm-up timeblock, then ``blocks`` timed ones."""
    spec = json.loads(Path(jobfile).read_text())
    out = Path(spec["out"])

    def emit(rec):
        with open(out, "a") as f:
            f.write(json.dumps(rec) + "\n")

    try:
        import gamdpy as gp
    except Exception as e:        # noqa: BLE001 - report whatever stops the import
        emit(dict(kind="header", status=f"gamdpy not importable: {type(e).__name__}: {e}"))
        return
    from numba import cuda

    from meso_kernels.models import get_model
    emit(dict(kind="header", status="ok", version=getattr(gp, "__version__", "?")))
    last = None                       # (set-up seconds, atom-steps per second) of the last job that ran
    for job in spec["jobs"]:
        rec = dict(kind="job", system=job["system"], N=job["N"])
        est = 0.0
        if last is not None:          # compilation, warm-up block and timed blocks at the last job's speed
            est = (1.2 * last[0] + 3e-6 * job["N"]
                   + (job["blocks"] + 1) * job["steps_per_block"] * job["N"] / last[1])
        if not job["always"] and time.time() + est > spec["deadline"]:
            rec["status"] = "skipped (budget)"
            emit(rec)
            continue
        try:
            model = get_model(job["model"], **job["kw"])
            made = gamdpy_pair_potential(gp, job["system"], model, spec["max_num_nbs"])
            if made is None:
                rec["status"] = "no counterpart"
                emit(rec)
                continue
            pair_pot, func, what = made
            rec["matched"] = what
            rec["pair_check"] = gamdpy_pair_check(pair_pot, func, model)
            d = np.load(job["npz"])
            x, box, types, v = d["x"], d["box"], d["types"], d["v"]
            conf = gp.Configuration(D=x.shape[1], N=len(x))
            conf["r"] = np.mod(x, box) - 0.5 * box          # gamdpy's box is [-L/2, L/2)
            conf.simbox = gp.Orthorhombic(x.shape[1], box.tolist())
            conf.ptype[:] = types
            conf["m"] = 1.0
            conf["v"] = v
            # Q_1 of our chain is g T τ_NH²; gamdpy's thermostat has ω² = 4π²/τ, i.e. Q = g T τ²/(4π²): τ = 2π τ_NH
            integrator = gp.integrators.NVT(temperature=job["T"], tau=2 * math.pi * job["tau"], dt=job["dt"])
            if spec["check_only"]:
                rec["status"] = "checked (objects built, pair function compared; not run in the simulator)"
                emit(rec)
                continue
            if job["start_energy"]:
                try:
                    ev = gp.Evaluator(conf, pair_pot, verbose=False)
                    ev.evaluate(conf)
                    rec["u_start"] = float(np.sum(conf["U"])) / len(x)
                except Exception as e:   # noqa: BLE001 - the energy check is optional
                    rec["u_start_error"] = f"{type(e).__name__}: {e}"
                made = gamdpy_pair_potential(gp, job["system"], model, spec["max_num_nbs"])
                pair_pot = made[0]
                conf["r"] = np.mod(x, box) - 0.5 * box
                conf["v"] = v
            t0 = time.perf_counter()
            sim = gp.Simulation(conf, [pair_pot], integrator, [gp.MomentumReset(100)],
                                num_timeblocks=job["blocks"], steps_per_timeblock=job["steps_per_block"],
                                storage="memory")
            rec["setup_s"] = time.perf_counter() - t0
            t1 = time.perf_counter()
            for _ in sim.run_timeblocks(num_timeblocks=1):
                pass
            if spec["autotune"]:
                sim.autotune()
                for _ in sim.run_timeblocks(num_timeblocks=1):
                    pass
            rec["warm_s"] = time.perf_counter() - t1
            rec["compute_plan"] = {k: (v_.item() if hasattr(v_, "item") else v_) for k, v_ in sim.compute_plan.items()}
            try:
                nb0 = int(pair_pot.nblist.d_nbflag.copy_to_host()[2])
            except Exception:     # noqa: BLE001 - internal counter, informative only
                nb0 = None
            cuda.synchronize()
            a = time.perf_counter()
            for _ in sim.run_timeblocks(num_timeblocks=job["blocks"]):
                pass
            cuda.synchronize()
            sec = time.perf_counter() - a
            steps = job["blocks"] * job["steps_per_block"]
            ev_sec = float(np.sum(sim.timing_numba_blocks)) / 1000.0
            rec.update(status="ok", steps=steps, seconds=sec, mps=len(x) * steps / sec / 1e6,
                       seconds_events=ev_sec, mps_events=len(x) * steps / ev_sec / 1e6,
                       u_end=float(np.sum(conf["U"])) / len(x),
                       T_end=float(2.0 * np.sum(conf["K"]) / (x.shape[1] * (len(x) - 1))))
            last = (rec["setup_s"], rec["mps"] * 1e6)
            if nb0 is not None:
                try:
                    rec["nb_updates"] = int(pair_pot.nblist.d_nbflag.copy_to_host()[2]) - nb0
                except Exception:  # noqa: BLE001
                    pass
            del sim
        except Exception as e:    # noqa: BLE001 - one failing job must not lose the others
            rec["status"] = f"error: {type(e).__name__}: {e}"[:300]
        emit(rec)
        gc.collect()


def run_gamdpy(jobs, plan, args, budget, simulate):
    """Run the gamdpy jobs in a subprocess until the gamdpy deadline; returns (header, {(system, N): record})."""
    WORK.mkdir(exist_ok=True)
    out = WORK / "gpu_gamdpy_results.jsonl"
    out.unlink(missing_ok=True)
    left = budget.left("gamdpy")
    spec = dict(out=str(out), jobs=jobs, deadline=time.time() + left, check_only=simulate,
                autotune=bool(args.gamdpy_autotune), max_num_nbs=args.gamdpy_max_nbs)
    jobfile = WORK / "gpu_gamdpy_jobs.json"
    jobfile.write_text(json.dumps(spec, indent=1))
    cmd = [args.gamdpy_python, str(Path(__file__).resolve()), "--gamdpy-child", str(jobfile)]
    log(f"gamdpy: {len(jobs)} job(s) in a subprocess (time left for this part: {left:.0f} s)")
    # the smallest N of each system runs even when the part's time is up; then at most 2 min past the deadline
    timeout = None if math.isinf(left) else max(left, 0) + 120.0
    proc = subprocess.Popen(cmd, cwd=str(REPO), stdout=sys.stderr)   # gamdpy's prints: not in our table
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        log("gamdpy: over its time budget, ending its subprocess")
        proc.kill()            # the child we started, by its handle
        proc.wait()
    header, rows = {"status": f"subprocess ended with code {proc.returncode} before reporting"}, {}
    if out.exists():
        for line in out.read_text().splitlines():
            rec = json.loads(line)
            if rec.get("kind") == "header":
                header = rec
            else:
                rows[(rec["system"], rec["N"])] = rec
    for job in jobs:
        rows.setdefault((job["system"], job["N"]), dict(system=job["system"], N=job["N"],
                                                        status="not reached (subprocess ended)"))
    for f in {job["npz"] for job in jobs}:
        Path(f).unlink(missing_ok=True)
    return header, rows


# ---------------------------------------------------------------------------------------------------------------
# (c) dipole stiffnesses
# ---------------------------------------------------------------------------------------------------------------
def glass(name, kw, N, rho, seed, fresh):
    """A CG-quenched inherent structure (max|F| < 1e-10), cached in benchmarks/_work/; returns (System, info)."""
    from meso_kernels.initial import random_configuration
    from meso_kernels.models import get_model
    from meso_kernels.quench import quench
    from meso_kernels.system import System
    m = get_model(name, **kw)
    tag = f"{name}{m.dim}d_N{N}_rho{rho:g}_s{seed}"
    path = WORK / f"gpu_glass_{tag}.npz"
    if path.exists() and not fresh:
        d = np.load(path)
        info = json.loads(str(d["info"]))
        log(f"[kappa] reusing the glass {path.name}")
        return m, System(d["x"], d["box"], d["types"]), info
    t = time.perf_counter()
    ihs, res = quench(random_configuration(m, N, rho, seed=seed), m, method="cg", ftol=1e-10)
    if not res.converged:
        raise RuntimeError(f"the quench of the {tag} glass did not converge (max|F| = {res.max_force:.3g})")
    info = dict(seconds=time.perf_counter() - t, n_iter=int(res.n_iter), max_force=float(res.max_force),
                energy_per_particle=float(res.energy) / N)
    np.savez(path, x=ihs.positions, box=ihs.box, types=ihs.types, info=json.dumps(info))
    log(f"[kappa] quenched the {tag} glass in {info['seconds']:.1f} s ({info['n_iter']} CG iterations)")
    return m, ihs, info


def kappa_part(plan, budget, seed, fresh):
    """All κ_ij on the GPU (or as many as the budget allows) against the CPU route on a subset; see the module."""
    from meso_kernels.dipole import DipoleStiffness
    from meso_kernels.hessian import build_terms, solvable_terms
    kp = plan["kappa"]
    name, kw, N, rho = kp["system"]
    out = dict(system=f"{name}" + ("" if kw.get("dim", 3) == 3 else f" {kw['dim']}D"), N=N, rho=rho, rtol=kp["rtol"])
    m, ihs, info = glass(name, kw, N, rho, seed, fresh)
    out["quench"] = info
    build_terms(ihs, m)                                         # compilation, untimed
    t = time.perf_counter()
    terms = build_terms(ihs, m)
    out["build_terms_s"] = time.perf_counter() - t
    tt, rat, fmax = solvable_terms(terms, 1e-8)
    allp = np.asarray(tt.index)[np.asarray(tt.pairs)]          # every interacting pair, particle indices
    npairs = len(allp)
    out.update(n_pairs=npairs, rattlers=int(rat.sum()), max_force=float(fmax))
    perm = np.random.default_rng(seed).permutation(npairs)

    def keyed(ds):
        p = np.sort(ds.pairs, axis=1)
        return {(int(a), int(b)): (k, bool(c)) for (a, b), k, c in zip(p, ds.kappa, ds.converged)}

    # CPU route on a random subset (warm-up on 2 pairs first: numba compilation)
    c = min(int(kp["cpu_pairs"]), npairs)
    cpu = DipoleStiffness(solver="auto", rtol=kp["rtol"], batch=kp["cpu_batch"])
    cpu.compute(ihs, m, terms=terms, pairs=allp[perm[:min(2, npairs)]])
    t = time.perf_counter()
    cpu.compute(ihs, m, terms=terms, pairs=allp[perm[:c]])
    tc = time.perf_counter() - t
    out["cpu"] = dict(pairs=c, seconds=tc, per_pair=tc / c, all_pairs_s=tc / c * npairs, solver=cpu.solver_used,
                      iters_mean=float(np.mean(cpu.n_iter)) if np.any(cpu.n_iter) else None,
                      converged=int(cpu.converged.sum()), threads=_numba_threads())
    log(f"[kappa] CPU ({cpu.solver_used}): {c} pairs in {tc:.3g} s ({tc / c * 1e3:.3g} ms per pair)")
    kc = keyed(cpu)

    # GPU: warm-up (compilation) on 2 pairs, a probe of one batch, then all pairs or what fits
    gb = int(kp["gpu_batch"])
    gpu = DipoleStiffness(solver="cg", backend="cuda", rtol=kp["rtol"], batch=gb)
    gpu.compute(ihs, m, terms=terms, pairs=allp[perm[:min(2, npairs)]])
    probe = min(gb, npairs)
    t = time.perf_counter()
    gpu.compute(ihs, m, terms=terms, pairs=allp[perm[:probe]])
    tp = time.perf_counter() - t
    per_pair = tp / probe
    want = npairs if kp["gpu_pairs"] == "all" else min(int(kp["gpu_pairs"]), npairs)
    fit = budget.left("kappa") - 5.0
    k = want
    if want * per_pair > fit:
        k = int(max(fit / per_pair // gb, 1) * gb)
        k = max(min(k, want), min(c, want), probe)
    log(f"[kappa] GPU probe: {probe} pairs in {tp:.2f} s; running {'all ' if k == npairs else ''}{k} of {npairs} pairs "
        f"(estimated {k * per_pair:.0f} s)")
    t = time.perf_counter()
    if k == npairs:
        gpu.compute(ihs, m, terms=terms, pairs="all")
    else:
        gpu.compute(ihs, m, terms=terms, pairs=allp[perm[:max(k, c)]])
    tg = time.perf_counter() - t
    kgpu = keyed(gpu)
    out["gpu"] = dict(pairs=len(kgpu), seconds=tg, per_pair=tg / len(kgpu), all_pairs_s=tg / len(kgpu) * npairs,
                      extrapolated=len(kgpu) < npairs, probe_pairs=probe, probe_s=tp, batch=gb,
                      iters_mean=float(np.mean(gpu.n_iter)), iters_max=int(np.max(gpu.n_iter)),
                      converged=int(gpu.converged.sum()))
    common = [p for p in kc if p in kgpu]
    a = np.array([kgpu[p][0] for p in common])
    b = np.array([kc[p][0] for p in common])
    out["compare"] = dict(pairs=len(common), max_rel_diff=float(np.max(np.abs(a / b - 1))) if common else None,
                          mean_kappa_gpu=float(np.mean([v[0] for v in kgpu.values()])))
    log(f"[kappa] GPU: {len(kgpu)} pairs in {tg:.2f} s; max rel. diff to the CPU on {len(common)} pairs "
        f"{out['compare']['max_rel_diff']:.2e}")
    return out


def _numba_threads():
    import numba
    return numba.get_num_threads()


# ---------------------------------------------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------------------------------------------
def machine_info(simulate):
    import numba
    from meso_kernels import cuda as mcuda
    from meso_kernels.cpuinfo import cpu_record
    info = dict(date=time.strftime("%Y-%m-%d %H:%M %Z"), python=platform.python_version(), numpy=np.__version__,
                numba=numba.__version__, cpu=cpu_record()["model"], cpu_isa=cpu_record()["isa_level"],
                logical_cpus=os.cpu_count(), numba_threads=numba.config.NUMBA_NUM_THREADS)
    try:
        import importlib.metadata as md
        info["numba_cuda"] = md.version("numba-cuda")
    except Exception:   # noqa: BLE001
        info["numba_cuda"] = "?"
    try:
        info["commit"] = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"],
                                        capture_output=True, text=True, timeout=30).stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):
        info["commit"] = "?"
    if simulate:
        info["gpu"] = mcuda.device_name()
        return info
    from numba import cuda
    dev = cuda.get_current_device()
    name = dev.name.decode() if isinstance(dev.name, bytes) else str(dev.name)
    info["gpu"] = name
    info["compute_capability"] = ".".join(map(str, dev.compute_capability))
    try:
        free, total = cuda.current_context().get_memory_info()
        info["gpu_memory_gib"] = round(total / 2**30, 1)
    except Exception:   # noqa: BLE001
        pass
    try:
        from numba.cuda.cudadrv.driver import driver
        v = driver.get_version()
        info["cuda_driver"] = f"{v[0]}.{v[1]}" if isinstance(v, tuple) else str(v)
    except Exception:   # noqa: BLE001
        pass
    try:
        v = cuda.runtime.get_version()
        info["cuda_runtime"] = f"{v[0]}.{v[1]}"
    except Exception:   # noqa: BLE001
        pass
    return info


def _f(x, fmt="{:.4g}"):
    """A number for the tables (4 significant digits by default), "–" for None."""
    return "–" if x is None else fmt.format(x)


def report(res, plan, systems_table, info):
    sim = plan["mode"] == "simulate"
    gamdpy_text = "not installed" if "gamdpy" in plan["parts"] else "not run"
    md = ["# GPU benchmarks (`benchmarks/gpu.py`)", ""]
    if sim:
        md += ["**numba CUDA simulator (`--simulate`): a check of the code paths at tiny N. The times below are "
               "meaningless.**", ""]
    md += [f"- date: {info['date']}; mode: {plan['mode']}; budget {plan['budget']:g} s, used "
           f"{res.get('elapsed', float('nan')):.0f} s",
           f"- GPU: {info['gpu']}" + (f" (compute capability {info['compute_capability']}, "
                                      f"{info.get('gpu_memory_gib', '?')} GiB, driver CUDA "
                                      f"{info.get('cuda_driver', '?')}, runtime {info.get('cuda_runtime', '?')})"
                                      if "compute_capability" in info else ""),
           f"- CPU: {info['cpu']} ({info['cpu_isa']}), {info['logical_cpus']} logical CPUs, numba threads "
           f"{info['numba_threads']}",
           f"- versions: Python {info['python']}, NumPy {info['numpy']}, numba {info['numba']}, numba-cuda "
           f"{info['numba_cuda']}, gamdpy {res['gamdpy']['version'] or gamdpy_text}; mesoelastic "
           f"{info['commit']}", ""]
    g = res["gamdpy"]
    rows = [r for r in res["md"] if r["backend"] == "cuda"]
    cpu = {(r["system"], r["N"]): r for r in res["md"] if r["backend"] == "cpu"}
    if "md" in plan["parts"] or "gamdpy" in plan["parts"] or "cpu" in plan["parts"]:
        md += ["## (a), (b): NVT MD throughput, million atom-steps per second", "",
               "| system | N | ours GPU | gamdpy GPU | ratio ours/gamdpy | target ours/gamdpy ≥ 1 (LJ) "
               "| ours CPU (threads) | ratio GPU/CPU |", "|---|---|---|---|---|---|---|---|"]
        keys = [(s, N) for s in plan["systems"] for N in plan["sizes"][s]]
        verdicts = []
        for s, N in keys:
            o = next((r for r in rows if r["system"] == s and r["N"] == N), None)
            om = o.get("mps") if o else None
            ot = _f(om) if om is not None else (o["status"] if o else "–")
            gr = g["rows"].get((s, N))
            if s not in GAMDPY_SYSTEMS:
                gt, gm = "no three-body term", None
            elif "gamdpy" not in plan["parts"]:
                gt, gm = "not run", None
            elif not g["version"]:
                gt, gm = "not installed", None
            elif gr is None:
                gt, gm = ("not run" if "gamdpy" in plan["parts"] else "–"), None
            else:
                gm = gr.get("mps")
                gt = _f(gm) if gm is not None else gr["status"]
            ratio = om / gm if (om and gm) else None
            target = "–"
            if s in LJ_SYSTEMS and ratio is not None:
                target = "met" if ratio >= 1.0 else "**not met**"
                verdicts.append(ratio >= 1.0)
            c = cpu.get((s, N))
            cm = c.get("mps") if c else None
            ct = (f"{cm:.4g} ({c['threads']})" if cm is not None else c["status"]) if c else (
                "– (N > cpu_max_n)" if N > plan["cpu_max_n"] else "–")
            gc_ = om / cm if (om and cm) else None
            md.append(f"| {s} | {N} | {ot} | {gt} | {_f(ratio, '{:.3g}')} | {target} | {ct} | "
                      f"{_f(gc_, '{:.3g}')} |")
        if verdicts:
            md += ["", f"Target (ours ≥ gamdpy on the LJ mixtures): {'met' if all(verdicts) else 'NOT met'} "
                       f"({sum(verdicts)} of {len(verdicts)} rows)."]
        md += ["", "What was matched between the codes:", "",
               "| system | potential (ours → gamdpy) | ρ | T | δt | thermostat | start |",
               "|---|---|---|---|---|---|---|"]
        for s in plan["systems"]:
            cfg = systems_table[s]
            match = next((r.get("matched") for (ss, _), r in g["rows"].items() if ss == s and r.get("matched")),
                         None)
            if s == "sw":
                match = "Stillinger–Weber λ = 18.75: no gamdpy counterpart (no three-body interactions)"
            pc = next((r.get("pair_check") for (ss, _), r in g["rows"].items() if ss == s and r.get("pair_check")),
                      None)
            if pc:
                match += f"; pair function vs ours: max rel. diff u {pc['u']:.1e}, s {pc['s']:.1e}"
            thermo = f"ours NHC M = 3, τ_NH = {cfg['tau']}"
            if s in GAMDPY_SYSTEMS:
                thermo += "; gamdpy NVT (one NH thermostat), τ = 2π τ_NH (same Q₁ = g T τ_NH²)"
            who = "ours GPU, CPU, gamdpy" if s in GAMDPY_SYSTEMS else "ours GPU and CPU"
            md.append(f"| {s} | {match or get_model_label(s)} | {cfg['rho']} | {cfg['T']} | {cfg['dt']} | {thermo} "
                      f"| same positions and velocities ({who}) |")
        md += ["", "Not matched, by design: precision (ours float64, gamdpy float32), integrator (ours velocity "
               "Verlet with the MTK chain splitting, gamdpy leap-frog), neighbour lists (ours: full Verlet list, "
               "skin 0.3, rebuilt when a particle moved skin/2; gamdpy: its default compute plan, below), "
               "gamdpy's MomentumReset(100) (as in its benchmark script). Times: wall clock of the timed steps, "
               "after an untimed warm-up (compilation, first neighbour list); N = base N × k³ are copies of the "
               "equilibrated base state with fresh Maxwell–Boltzmann velocities.", "",
               "Details:", "",
               "| code | system | N | steps | s | Matom-steps/s | U/N start | U/N end | T end | list builds | notes |",
               "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in res["md"]:
            if r.get("mps") is None:
                continue
            code = "ours GPU" if r["backend"] == "cuda" else f"ours CPU ({r['threads']} thr)"
            md.append(f"| {code} | {r['system']} | {r['N']} | {r['steps']} | {r['seconds']:.3g} | {r['mps']:.4g} | "
                      f"{r['u_start']:.4f} | {r['u_end']:.4f} | {r['T_end']:.3f} | {r['builds']} | setup "
                      f"{r['setup_s']:.1f} s, warm-up {r['warm_s']:.1f} s |")
        for (s, N), r in sorted(g["rows"].items()):
            if r.get("mps") is None:
                continue
            cp = r.get("compute_plan", {})
            md.append(f"| gamdpy | {s} | {N} | {r['steps']} | {r['seconds']:.3g} | {r['mps']:.4g} | "
                      f"{_f(r.get('u_start'), '{:.4f}')} | {r['u_end']:.4f} | {r['T_end']:.3f} | "
                      f"{r.get('nb_updates', '–')} | CUDA events {r['mps_events']:.4g} Matom-steps/s; "
                      f"setup {r['setup_s']:.1f} s; plan {json.dumps(cp)} |")
        if g["status"] != "ok":
            md += ["", f"gamdpy: {g['status']}"]
    if "kappa" in plan["parts"]:
        k = res.get("kappa")
        md += ["", "## (c) all dipole stiffnesses κ_ij of a glass, GPU against CPU", ""]
        if k is None or "error" in k:
            md.append(f"not run: {k.get('error') if k else 'not reached'}")
        else:
            gpu, cpu_ = k["gpu"], k["cpu"]
            gtxt = (f"{gpu['all_pairs_s']:.1f} s" + (f" (extrapolated from {gpu['pairs']} pairs, "
                                                      f"{gpu['seconds']:.1f} s)" if gpu["extrapolated"] else ""))
            ctxt = (f"{cpu_['all_pairs_s']:.1f} s (extrapolated from {cpu_['pairs']} pairs, {cpu_['seconds']:.3g} s;"
                    f" {cpu_['solver']}, {cpu_['threads']} threads)")
            md += [f"{k['system']} inherent structure, N = {k['N']}, ρ = {k['rho']}: {k['n_pairs']} interacting "
                   f"pairs, {k['rattlers']} rattlers, max|F| = {k['max_force']:.1e} (CG quench, "
                   f"{k['quench']['n_iter']} iterations); CG rtol {k['rtol']}.", "",
                   "| task | GPU (block CG, batch " + str(gpu["batch"]) + ") | CPU route | ratio CPU/GPU "
                   "| max rel. diff of κ (pairs) | converged GPU / CPU |", "|---|---|---|---|---|---|",
                   f"| all {k['n_pairs']} κ_ij | {gtxt} | {ctxt} | {cpu_['all_pairs_s'] / gpu['all_pairs_s']:.3g} | "
                   f"{_f(k['compare']['max_rel_diff'], '{:.1e}')} ({k['compare']['pairs']}) | "
                   f"{gpu['converged']}/{gpu['pairs']} / {cpu_['converged']}/{cpu_['pairs']} |", "",
                   f"Per pair: GPU {gpu['per_pair'] * 1e3:.3g} ms ({gpu['iters_mean']:.0f} CG iterations on average, "
                   f"at most {gpu['iters_max']}), CPU {cpu_['per_pair'] * 1e3:.3g} ms. build_terms (shared by both): "
                   f"{k['build_terms_s']:.3g} s. Compilation is excluded from both (an untimed run on 2 pairs "
                   f"first). Mean κ (GPU) {k['compare']['mean_kappa_gpu']:.3f}."]
    return "\n".join(md)


def get_model_label(name):
    return {"ka": "Kob–Andersen, r_c = 2.5 σ_ij, energy-shifted", "mblj": "modified KA, shifted force",
            "ipl": "IPL n = 10, smooth cut-off 1.48 λ_ij"}.get(name, name)


# ---------------------------------------------------------------------------------------------------------------
# driver
# ---------------------------------------------------------------------------------------------------------------
def _ensure_simulator(simulate):
    """Switch numba's CUDA simulator on for --simulate (it must be set before numba is first imported)."""
    if not simulate:
        return
    if "numba" in sys.modules:
        import numba
        if not numba.config.ENABLE_CUDASIM:
            sys.exit("--simulate needs NUMBA_ENABLE_CUDASIM=1 before numba is imported: run the script itself "
                     "(python benchmarks/gpu.py --simulate) or set the variable")
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"


def main(argv=None):
    args = parse_args(argv)
    _import_paths()
    if args.gamdpy_child:
        gamdpy_child(args.gamdpy_child)
        return 0
    _ensure_simulator(args.simulate)
    global WORK
    if args.work:
        WORK = Path(args.work).resolve()
    from md_throughput import SYSTEMS
    from meso_kernels import cuda as mcuda
    from meso_kernels.models import get_model
    try:
        plan = make_plan(args, SYSTEMS)
    except ValueError as e:
        sys.exit(f"gpu.py: {e}")
    if not mcuda.available():
        sys.exit(f"gpu.py: {_NO_GPU}")
    WORK.mkdir(exist_ok=True)
    simulate = plan["mode"] == "simulate"
    out_md = Path(args.out) if args.out else WORK / ("gpu_simulate.md" if simulate else "gpu.md")
    info = machine_info(simulate)
    log(f"GPU: {info['gpu']}; CPU: {info['cpu']}; mode {plan['mode']}, budget {plan['budget']:g} s, "
        f"parts {','.join(plan['parts'])}")
    budget = Budget(plan["budget"], plan["parts"])
    import numba
    cpu_threads = args.cpu_threads or numba.config.NUMBA_NUM_THREADS
    res = dict(md=[], gamdpy=dict(version=None, status="not run", rows={}), plan=plan, info=info)

    # start states at the base N of each system (CPU)
    states, models = {}, {}
    need_md = any(p in plan["parts"] for p in ("md", "gamdpy", "cpu"))
    if need_md:
        for s in plan["systems"]:
            cfg = SYSTEMS[s]
            models[s] = get_model(cfg["model"], **cfg["kw"])
            equil = plan["equil"] or cfg["equil"]
            states[s] = start_state(s, cfg, plan["base"][s], args.seed, equil, args.fresh)

    # (a) ours on the GPU
    ours_gpu = {}
    if "md" in plan["parts"]:
        for s in plan["systems"]:
            prev = None
            for N in plan["sizes"][s]:
                est = estimate_ours(prev, N, plan, "cuda")
                rec = dict(system=s, N=N, backend="cuda")
                if N != plan["sizes"][s][0] and not budget.fits("md", est):    # the smallest N always runs
                    rec["status"] = "skipped (budget)"
                    log(f"[{s}] GPU N = {N}: skipped (estimated {_f(est, '{:.0f}')} s, {budget.left('md'):.0f} s "
                        "left)")
                else:
                    try:
                        st = sized_state(states[s], plan["base"][s], N, SYSTEMS[s]["T"], args.seed)
                        r = run_ours(models[s], SYSTEMS[s], st, "cuda", plan)
                        rec.update(r, status="ok")
                        prev = dict(rec)
                        log(f"[{s}] GPU N = {N}: {r['mps']:.4g} Matom-steps/s ({r['steps']} steps in "
                            f"{r['seconds']:.2f} s; setup {r['setup_s']:.1f} s, warm-up {r['warm_s']:.1f} s)")
                    except Exception as e:   # noqa: BLE001 - report it in the table, go on with the others
                        rec["status"] = f"error: {type(e).__name__}: {e}"[:200]
                        log(f"[{s}] GPU N = {N}: {rec['status']}")
                        _free_device()
                res["md"].append(rec)
                ours_gpu[(s, N)] = rec

    # (a) gamdpy, in a subprocess
    if "gamdpy" in plan["parts"]:
        ver = gamdpy_version(args.gamdpy_python)
        res["gamdpy"]["version"] = ver
        if ver is None:
            res["gamdpy"]["status"] = "not installed (pip install gamdpy)"
            log("gamdpy: not installed")
        else:
            jobs = []
            for s in plan["systems"]:
                if s not in GAMDPY_SYSTEMS:
                    continue
                for N in plan["sizes"][s]:
                    o = ours_gpu.get((s, N), {})
                    if o.get("status", "").startswith("skipped"):
                        continue
                    rate = None
                    if o.get("mps"):
                        rate = o["mps"] * 1e6 / N                # our steps per second: size gamdpy's blocks
                    else:
                        known = [r for r in ours_gpu.values() if r["system"] == s and r.get("mps")]
                        if known:
                            rate = known[-1]["mps"] * 1e6 / N
                    if plan["steps"] is not None:
                        spb = max(1, plan["steps"] // plan["gamdpy_blocks"])
                    else:
                        rate = rate or 5e8 / N                   # no measurement of ours: 500 Matom-steps/s
                        spb = int(max(50, rate * plan["seconds"] / plan["gamdpy_blocks"]))
                    st = sized_state(states[s], plan["base"][s], N, SYSTEMS[s]["T"], args.seed)
                    npz = WORK / f"gpu_gamdpy_start_{s}_N{N}.npz"
                    np.savez(npz, x=st[0], box=st[1], types=st[2], v=st[3])
                    cfg = SYSTEMS[s]
                    jobs.append(dict(system=s, N=N, model=cfg["model"], kw=cfg["kw"], T=cfg["T"], dt=cfg["dt"],
                                     tau=cfg["tau"], npz=str(npz), steps_per_block=spb,
                                     blocks=plan["gamdpy_blocks"], start_energy=(N == plan["base"][s]),
                                     always=(N == plan["sizes"][s][0])))
            header, rows = run_gamdpy(jobs, plan, args, budget, simulate)
            res["gamdpy"]["status"] = header.get("status", "?")
            if header.get("version"):
                res["gamdpy"]["version"] = header["version"]
            res["gamdpy"]["rows"] = rows
            for (s, N), r in rows.items():
                log(f"[{s}] gamdpy N = {N}: " + (f"{r['mps']:.4g} Matom-steps/s ({r['steps']} steps in "
                                                 f"{r['seconds']:.2f} s)" if r.get("mps") else r["status"]))

    # (b) ours on the CPU
    if "cpu" in plan["parts"]:
        for s in plan["systems"]:
            prev = None
            for N in plan["sizes"][s]:
                if N > plan["cpu_max_n"]:
                    continue
                rec = dict(system=s, N=N, backend="cpu")
                est = estimate_ours(prev, N, plan, "cpu")
                if N != plan["sizes"][s][0] and not budget.fits("cpu", est):   # the smallest N always runs
                    rec["status"] = "skipped (budget)"
                    log(f"[{s}] CPU N = {N}: skipped (budget)")
                else:
                    try:
                        st = sized_state(states[s], plan["base"][s], N, SYSTEMS[s]["T"], args.seed)
                        r = run_ours(models[s], SYSTEMS[s], st, "cpu", plan, threads=cpu_threads)
                        rec.update(r, status="ok")
                        prev = dict(rec)
                        log(f"[{s}] CPU N = {N}: {r['mps']:.4g} Matom-steps/s ({r['steps']} steps in "
                            f"{r['seconds']:.2f} s, {r['threads']} threads)")
                    except Exception as e:   # noqa: BLE001
                        rec["status"] = f"error: {type(e).__name__}: {e}"[:200]
                        log(f"[{s}] CPU N = {N}: {rec['status']}")
                res["md"].append(rec)

    # (c) dipole stiffnesses
    if "kappa" in plan["parts"]:
        numba.set_num_threads(cpu_threads)
        try:
            res["kappa"] = kappa_part(plan, budget, args.seed, args.fresh)
        except Exception as e:   # noqa: BLE001
            res["kappa"] = dict(error=f"{type(e).__name__}: {e}"[:300])
            log(f"[kappa] {res['kappa']['error']}")

    res["elapsed"] = budget.elapsed()
    text = report(res, plan, SYSTEMS, info)
    print(text)
    out_md.write_text(text + "\n")
    raw = dict(res, gamdpy=dict(res["gamdpy"], rows=[dict(r) for r in res["gamdpy"]["rows"].values()]))
    out_md.with_suffix(".json").write_text(json.dumps(raw, indent=1, default=str) + "\n")
    log(f"done in {res['elapsed']:.0f} s: {out_md} and {out_md.with_suffix('.json').name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
