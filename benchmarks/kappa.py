"""Dipole stiffnesses κ_ij and the Hessian of an inherent structure: our routes against plain SciPy / finite
differences, measured in the same run on the same machine.

Tasks (issue acceptance point 6):

1. κ_ij of *all* interacting pairs of one N = 2000 IPL inherent structure (ρ = 0.82): our routes
   (``DipoleStiffness(solver="dense")`` and ``solver="cg"``; the faster one is "ours (fastest)") against
   ``scipy.sparse.linalg.cg`` called once per pair on the same Hessian (CSR), with κ = d̂·z / z·z.
2. The Hessian of the same inherent structure: ``build_terms`` + ``hessian_matrix`` against a central
   finite-difference Hessian from our force field (2 force evaluations per coordinate, 6N in all: what LAMMPS's
   ``dynamical_matrix`` does).
3. Optional (``--large``): one N = 8000 mBLJ (ρ = 1.2) or SW (ρ = 0.52) inherent structure: quench (reported, not
   benchmarked), terms + Hessian, G (``shear_modulus``), κ of 1000 random pairs by cg and, if memory allows, dense.

Usage (from the repository root)::

    NUMBA_CACHE_DIR=/tmp/nc_bench .venv/bin/python benchmarks/kappa.py              # 1 and 2 threads (~10 min)
    .venv/bin/python benchmarks/kappa.py --quick                                     # fewer sampled pairs
    .venv/bin/python benchmarks/kappa.py --threads 2 --baseline-pairs all            # every pair by SciPy (~15 min)
    .venv/bin/python benchmarks/kappa.py --large --large-model mblj                  # + the N = 8000 part (~10 min)

Protocol
--------
- The inherent structures are instantaneous quenches (``quench(..., method="cg", ftol=1e-10)``) of
  ``random_configuration`` (seed ``--seed``), cached as GSD in ``benchmarks/_work/`` (``--fresh`` remakes them).
- Every route runs in its own subprocess (this script with the hidden ``--route`` option) whose environment sets
  NUMBA_NUM_THREADS = OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = MKL_NUM_THREADS = the thread count before numpy
  is imported. Numba kernels are compiled (or loaded from the cache) in an untimed warm-up on a small inherent
  structure of the same model. Only the Hessian routes use a fresh, empty numba cache, so that their first call
  measures the compilation, which is reported separately.
- Peak memory: the subprocess resets its peak resident set size (``/proc/self/clear_refs`` = 5) just before the
  timed part and reads ``VmHWM`` after it; reported as that peak and as its increase over the resident set size at
  the start of the timed part (interpreter, numpy, numba and the loaded configuration excluded). Where
  clear_refs is unavailable, ``ru_maxrss`` of the subprocess is used (then the peak includes the warm-up).
- SciPy baseline: per pair, d̂ (+n̂/√2 on j, -n̂/√2 on i) as a flat vector, ``cg(M_csr, d, rtol=rtol, atol=0)``
  (no preconditioner), κ = d̂·z / z·z. M is singular (the d translations) but d̂ is translation-free, so CG works.
  Every rtol of ``--baseline-rtols`` is timed on the same ``--baseline-pairs`` random pairs; the main table uses
  the loosest rtol whose κ agree with our dense route to ``--agree`` (1e-8), i.e. the fastest admissible baseline.
  Its time for all pairs is the measured time per pair times the number of pairs (labelled "extrapolated").
- Our cg route is timed on ``--cg-pairs`` of the same random pairs and extrapolated the same way.
- Finite-difference Hessian: H[:, k] = -(F(x + h e_k) - F(x - h e_k)) / 2h with ``ForceField.compute`` (h =
  ``--fd-step``, 1e-5 minimises the max-norm error for IPL), into a dense (3N)² array. Difference reported as
  max|H_fd - M| / max|M|.
- Shared machine: as in ``md_throughput.py`` every subprocess waits (``--idle-timeout``) for other processes to
  use less than ``--max-others`` cores, the load of others during the run is measured from /proc/stat and a
  disturbed run is retried (``--retries``) or flagged ``*``.

Results: Markdown printed and written to ``benchmarks/_work/kappa.md``, raw numbers to ``benchmarks/_work/kappa.json``.
"""
import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work"
sys.path.insert(0, str(HERE.parent))

# name -> model, N, ρ (the paper's state points; mBLJ and SW as in md_throughput.py)
SYSTEMS = {
    "ipl": dict(model="ipl", N=2000, rho=0.82),
    "mblj": dict(model="mblj", N=8000, rho=1.2),
    "sw": dict(model="sw", N=8000, rho=0.52),
}
WARM_N = 256          # particles of the small warm-up inherent structure


# ---------------------------------------------------------------------------------------------------------------
# helpers (parent and child)
# ---------------------------------------------------------------------------------------------------------------
def _status(key):
    """A /proc/self/status entry in MB (VmRSS, VmHWM), or None."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


class PeakMemory:
    """Peak resident set size of this process over a block of code (see the module docstring)."""

    def __enter__(self):
        import gc
        gc.collect()
        self.reset = False
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            self.reset = True
        except OSError:
            pass
        self.start = _status("VmRSS")
        return self

    def __exit__(self, *exc):
        hwm = _status("VmHWM") if self.reset else None
        self.peak = hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        self.delta = self.peak - self.start if (self.reset and self.start is not None) else float("nan")
        return False

    def as_dict(self):
        return dict(peak_mb=self.peak, delta_mb=self.delta, method="VmHWM after clear_refs" if self.reset
                    else "ru_maxrss")


def gsd_path(name, N, rho, seed):
    return WORK / f"kappa_ihs_{name}_N{N}_rho{rho:g}_s{seed}.gsd"


def make_ihs(name, N, rho, seed, fresh, log):
    """The cached inherent structure (GSD) and what its quench did (JSON sidecar); makes them if needed."""
    from meso_kernels.initial import random_configuration
    from meso_kernels.models import get_model
    from meso_kernels.quench import quench

    path = gsd_path(name, N, rho, seed)
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists() and not fresh:
        return path, json.loads(meta.read_text())
    m = get_model(SYSTEMS[name]["model"])
    log(f"[{name}] quenching N = {N}, rho = {rho} (seed {seed}) ...")
    t = time.perf_counter()
    ihs, res = quench(random_configuration(m, N, rho, seed=seed), m, method="cg", ftol=1e-10)
    sec = time.perf_counter() - t
    if not res.converged:
        raise RuntimeError(f"quench of {name} N={N} did not converge (max force {res.max_force:.3g})")
    ihs.to_gsd(path)
    info = dict(seconds=sec, n_iter=int(res.n_iter), max_force=float(res.max_force), energy_per_particle=float(
        res.energy) / N, threads=_numba_threads(), made=time.strftime("%Y-%m-%d %H:%M"))
    meta.write_text(json.dumps(info, indent=1))
    log(f"[{name}] quenched in {sec:.1f} s ({res.n_iter} CG iterations, max |F| = {res.max_force:.2g})")
    return path, info


def _numba_threads():
    import numba
    return numba.get_num_threads()


def pair_subset(npairs, n, seed):
    """The same random pairs (indices into terms.pairs) for every route: a prefix of one permutation."""
    perm = np.random.default_rng(seed).permutation(npairs)
    return np.sort(perm[:min(n, npairs)])


def pair_keys(pairs, n):
    p = np.sort(np.asarray(pairs), axis=1)
    return p[:, 0].astype(np.int64) * n + p[:, 1]


def lookup(keys_ref, vals_ref, keys):
    """vals_ref at keys (NaN where absent)."""
    order = np.argsort(keys_ref)
    ks = keys_ref[order]
    pos = np.clip(np.searchsorted(ks, keys), 0, max(ks.size - 1, 0))
    out = np.full(keys.size, np.nan)
    hit = ks[pos] == keys if ks.size else np.zeros(keys.size, bool)
    out[hit] = vals_ref[order][pos[hit]]
    return out


def ok(r):
    """A route result that did not fail."""
    return r is not None and "error" not in r


def maxrel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.nanmax(np.abs(a / b - 1.0))) if a.size else float("nan")


# ---------------------------------------------------------------------------------------------------------------
# routes (run in a subprocess each: python kappa.py --route NAME --route-args JSON)
# ---------------------------------------------------------------------------------------------------------------
def _load(a):
    from meso_kernels.models import get_model
    from meso_kernels.system import System
    return get_model(SYSTEMS[a["system"]]["model"]), System.from_gsd(a["gsd"])


def _warm_system(a):
    from meso_kernels.system import System
    return System.from_gsd(a["warm_gsd"])


def route_hess_ours(a):
    """build_terms + hessian_matrix; first call with an empty numba cache = compilation."""
    from meso_kernels.hessian import build_terms, hessian_matrix
    m, ihs = _load(a)
    t0 = time.perf_counter()
    hessian_matrix(build_terms(ihs, m))
    first = time.perf_counter() - t0
    best = None
    with PeakMemory() as mem:
        for _ in range(a["repeats"]):
            t0 = time.perf_counter()
            terms = build_terms(ihs, m)
            t1 = time.perf_counter()
            M = hessian_matrix(terms)
            t2 = time.perf_counter()
            if best is None or t2 - t0 < best[0]:
                best = (t2 - t0, t1 - t0, t2 - t1)
    return dict(seconds=best[0], t_terms=best[1], t_assemble=best[2], first_call=first,
                compile_estimate=first - best[0], repeats=a["repeats"], n_pair=int(terms.n_pair),
                nnz_blocks=int(M.data.shape[0]), memory=mem.as_dict())


def route_hess_fd(a):
    """Central finite differences of our forces, 2 evaluations per coordinate, into a dense array."""
    from meso_kernels.forces import ForceField
    from meso_kernels.hessian import build_terms, hessian_matrix
    m, ihs = _load(a)
    x0 = np.ascontiguousarray(ihs.positions, dtype=float)
    types = np.ascontiguousarray(ihs.types, dtype=np.int64)
    n, d = x0.shape
    h = a["fd_step"]
    t0 = time.perf_counter()
    ForceField(m, ihs.box).compute(x0, types)                # compile (empty cache) and first neighbour build
    first = time.perf_counter() - t0
    with PeakMemory() as mem:
        t0 = time.perf_counter()
        ff = ForceField(m, ihs.box)
        H = np.empty((n * d, n * d), order="F")
        x = x0.copy()
        for i in range(n):
            for k in range(d):
                x[i, k] = x0[i, k] + h
                fp = ff.compute(x, types, check=False)[1]
                x[i, k] = x0[i, k] - h
                fm = ff.compute(x, types, check=False)[1]
                x[i, k] = x0[i, k]
                H[:, i * d + k] = (fm - fp).ravel() * (0.5 / h)
        sec = time.perf_counter() - t0
    n_evals = ff.n_evals
    per_eval = sec / n_evals
    M = hessian_matrix(build_terms(ihs, m)).toarray()
    scale = np.abs(M).max()
    diff = np.abs(H - M)
    big = np.abs(M) > 1e-6 * scale
    return dict(seconds=sec, first_call=first, per_eval=per_eval, n_evals=int(n_evals), fd_step=h,
                maxrel_maxnorm=float(diff.max() / scale),
                maxrel_entries=float((diff[big] / np.abs(M[big])).max()),
                asym=float(np.abs(H - H.T).max() / scale), memory=mem.as_dict())


def _dense_phases(ihs, m, terms, batch):
    """Our dense route step by step (a copy of DenseInverse and DipoleStiffness.compute as of commit 0c6c368, for a
    breakdown; the end-to-end time is measured on the real route)."""
    import scipy.linalg.lapack as lapack
    from meso_kernels.dipole import _dense_response, _dipoles, _kappas
    from meso_kernels.hessian import bsr_matmat, check_inherent_structure, find_rattlers, hessian_matrix
    from meso_kernels.linsolve import _bsr, _symmetrize_lower
    ph = {}
    t = time.perf_counter()
    check_inherent_structure(terms, 1e-8)
    rat = find_rattlers(terms)
    tt = terms.without(rat) if rat.any() else terms
    M = _bsr(hessian_matrix(tt), tt.d)
    d, n = tt.d, tt.n
    nd = n * d
    r = tt.pv_r[:tt.n_pair]
    nhat = r / np.linalg.norm(r, axis=1)[:, None]
    pi, pj = tt.pairs[:, 0].copy(), tt.pairs[:, 1].copy()
    ph["checks, rattlers, Hessian"] = time.perf_counter() - t
    t = time.perf_counter()
    A = M.toarray(order="F")
    ph["toarray (dense copy)"] = time.perf_counter() - t
    t = time.perf_counter()
    for a in range(d):
        A[a::d, a::d] += 1.0 / n
    ph["+ translation projector"] = time.perf_counter() - t
    t = time.perf_counter()
    c, info = lapack.dpotrf(A, lower=1, overwrite_a=1, clean=0)
    ph["Cholesky (dpotrf)"] = time.perf_counter() - t
    t = time.perf_counter()
    inv, info2 = lapack.dpotri(c, lower=1, overwrite_c=1)
    ph["inverse from factor (dpotri)"] = time.perf_counter() - t
    t = time.perf_counter()
    _symmetrize_lower(inv)
    ph["symmetrize"] = time.perf_counter() - t
    indptr, indices = M.indptr.astype(np.int64), M.indices.astype(np.int64)
    tD = tR = tM = tK = 0.0
    k = pi.size
    for s0 in range(0, k, batch):
        s1 = min(s0 + batch, k)
        t = time.perf_counter()
        D = np.empty((nd, s1 - s0))
        _dipoles(pi[s0:s1], pj[s0:s1], nhat[s0:s1], d, nd, D)
        tD += time.perf_counter() - t
        t = time.perf_counter()
        Z = np.empty_like(D)
        _dense_response(inv, pi[s0:s1], pj[s0:s1], nhat[s0:s1], d, Z)
        tR += time.perf_counter() - t
        t = time.perf_counter()
        MZ = np.empty_like(Z)
        bsr_matmat(indptr, indices, M.data, np.ascontiguousarray(Z), MZ)
        tM += time.perf_counter() - t
        t = time.perf_counter()
        _kappas(D, Z, MZ)
        tK += time.perf_counter() - t
    ph["dipole vectors (_dipoles)"] = tD
    ph["response z = A^-1 d (_dense_response)"] = tR
    ph["residual check M z (bsr_matmat)"] = tM
    ph["kappa sums (_kappas)"] = tK
    return ph


def _cg_phases(ihs, m, terms, sel, rtol, batch):
    """Our cg route step by step, and its kernels per iteration (one batch of ``batch`` columns)."""
    from meso_kernels.dipole import _dipoles, _kappas
    from meso_kernels.hessian import bsr_matmat, hessian_matrix
    from meso_kernels.linsolve import _block_diag_inverse, _bsr, _coldot, _precondition, _project, cg_solve
    ph = {}
    M = _bsr(hessian_matrix(terms), terms.d)
    d, n = terms.d, terms.n
    nd = n * d
    r = terms.pv_r[:terms.n_pair]
    nhat = r / np.linalg.norm(r, axis=1)[:, None]
    pi, pj = terms.pairs[sel, 0].copy(), terms.pairs[sel, 1].copy()
    nhat = nhat[sel]
    indptr, indices = M.indptr.astype(np.int64), M.indices.astype(np.int64)
    tD = tS = tM = tK = 0.0
    iters = []
    for s0 in range(0, sel.size, batch):
        s1 = min(s0 + batch, sel.size)
        t = time.perf_counter()
        D = np.empty((nd, s1 - s0))
        _dipoles(pi[s0:s1], pj[s0:s1], nhat[s0:s1], d, nd, D)
        tD += time.perf_counter() - t
        t = time.perf_counter()
        res = cg_solve(M, d, D, rtol=rtol)
        tS += time.perf_counter() - t
        iters.append(int(res.n_iter.max()))
        Z = res.x
        t = time.perf_counter()
        MZ = np.empty_like(Z)
        bsr_matmat(indptr, indices, M.data, np.ascontiguousarray(Z), MZ)
        tM += time.perf_counter() - t
        t = time.perf_counter()
        _kappas(D, Z, MZ)
        tK += time.perf_counter() - t
    ph["dipole vectors (_dipoles)"] = tD
    ph["cg_solve (PCG iterations + its own true residual)"] = tS
    ph["residual check M z (bsr_matmat)"] = tM
    ph["kappa sums (_kappas)"] = tK
    # kernels of one PCG iteration at k = batch columns (the PCG loop runs max(n_iter) of the batch iterations)
    k = min(batch, sel.size)
    rng = np.random.default_rng(0)
    X = rng.random((nd, k))
    Y = np.empty_like(X)
    pinv = _block_diag_inverse(indptr, indices, M.data)
    out = np.empty(k)

    def per_call(f, *args, rep=30):
        f(*args)
        t = time.perf_counter()
        for _ in range(rep):
            f(*args)
        return (time.perf_counter() - t) / rep

    kern = {"bsr_matmat (1 per iteration)": per_call(bsr_matmat, indptr, indices, M.data, X, Y),
            "_precondition (1 per iteration)": per_call(_precondition, pinv, X, Y),
            "_project (1 per iteration, +1 every 50)": per_call(_project, X, d),
            "_coldot (3 per iteration)": per_call(_coldot, X, Y, out)}
    return ph, kern, iters, k


def route_kappa(a):
    """DipoleStiffness with solver a["solver"] on all pairs (dense) or on the sampled pairs (cg)."""
    from meso_kernels.dipole import DipoleStiffness
    from meso_kernels.hessian import build_terms
    m, ihs = _load(a)
    warm = _warm_system(a)
    terms = build_terms(ihs, m)
    solver = a["solver"]
    # warm-up: compile or load every kernel of the route on the small inherent structure
    DipoleStiffness(solver=solver, rtol=a["rtol"], batch=a["batch"]).compute(warm, m, n_random=2 * a["batch"],
                                                                             seed=0)
    sel = None if a["pairs"] == "all" else pair_subset(terms.n_pair, a["pairs"], a["seed"])
    pairs = "all" if sel is None else terms.pairs[sel]
    with PeakMemory() as mem:
        t0 = time.perf_counter()
        ds = DipoleStiffness(solver=solver, rtol=a["rtol"], batch=a["batch"]).compute(ihs, m, pairs=pairs,
                                                                                      terms=terms)
        sec = time.perf_counter() - t0
    np.savez(a["npz"], pairs=ds.pairs, kappa=ds.kappa, kappa_zmz=ds.kappa_zmz, residual=ds.residual,
             converged=ds.converged, n_iter=ds.n_iter)
    out = dict(seconds=sec, n_pairs=int(ds.kappa.size), n_pairs_total=int(terms.n_pair),
               per_pair=sec / ds.kappa.size, all_pairs_seconds=sec / ds.kappa.size * terms.n_pair,
               extrapolated=sel is not None, solver_used=ds.solver_used, converged=int(ds.converged.sum()),
               max_residual=float(ds.residual.max()), zmz_maxrel=maxrel(ds.kappa_zmz, ds.kappa),
               n_iter_mean=float(ds.n_iter.mean()), n_iter_max=int(ds.n_iter.max()),
               n_rattlers=int(ds.rattlers.sum()), mean_kappa=float(ds.kappa.mean()), memory=mem.as_dict())
    if a["phases"]:
        try:
            if solver == "dense":
                out["phases"] = _dense_phases(ihs, m, terms, a["batch"])
            else:
                ph, kern, iters, k = _cg_phases(ihs, m, terms, sel[:a["phase_pairs"]], a["rtol"], a["batch"])
                out.update(phases=ph, kernels=kern, kernel_columns=k, phase_pairs=int(min(a["phase_pairs"],
                                                                                          sel.size)),
                           phase_batch_iters=iters)
        except Exception as e:   # private helpers may change under us: the breakdown is optional
            out["phases_error"] = f"{type(e).__name__}: {e}"
    return out


def route_kappa_scipy(a):
    """Per-pair scipy.sparse.linalg.cg on the CSR Hessian, for every rtol, on the sampled pairs."""
    import scipy.sparse.linalg as spla
    from meso_kernels.hessian import build_terms, hessian_matrix
    m, ihs = _load(a)
    terms = build_terms(ihs, m)
    M = hessian_matrix(terms)
    t0 = time.perf_counter()
    Mc = M.tocsr()
    t_csr = time.perf_counter() - t0
    n, d = terms.n, terms.d
    nd = n * d
    sel = pair_subset(terms.n_pair, a["pairs"], a["seed"])
    pairs = terms.pairs[sel]
    rvec = terms.pv_r[:terms.n_pair][sel]
    nhat = rvec / np.linalg.norm(rvec, axis=1)[:, None]
    ref = np.load(a["ref_npz"])
    kref = lookup(pair_keys(ref["pairs"], n), ref["kappa"], pair_keys(pairs, n))
    s = 1.0 / np.sqrt(2.0)
    # warm-up (first call of scipy's cg)
    dv = np.zeros(nd)
    dv[pairs[0, 1] * d:(pairs[0, 1] + 1) * d] = s * nhat[0]
    dv[pairs[0, 0] * d:(pairs[0, 0] + 1) * d] = -s * nhat[0]
    spla.cg(Mc, dv, rtol=1e-6, atol=0.0)
    runs = []
    with PeakMemory() as mem:
        for rtol in a["rtols"]:
            kap = np.empty(sel.size)
            nit = np.zeros(sel.size, np.int64)
            info = np.zeros(sel.size, np.int64)
            count = [0]

            def cb(_xk):
                count[0] += 1

            t0 = time.perf_counter()
            for p in range(sel.size):
                i, j = pairs[p]
                dv = np.zeros(nd)
                dv[j * d:(j + 1) * d] = s * nhat[p]
                dv[i * d:(i + 1) * d] = -s * nhat[p]
                count[0] = 0
                z, info[p] = spla.cg(Mc, dv, rtol=rtol, atol=0.0, maxiter=10 * nd, callback=cb)
                nit[p] = count[0]
                kap[p] = (dv @ z) / (z @ z)
            sec = time.perf_counter() - t0
            runs.append(dict(rtol=rtol, seconds=sec, n_pairs=int(sel.size), per_pair=sec / sel.size,
                             all_pairs_seconds=sec / sel.size * terms.n_pair, n_iter_mean=float(nit.mean()),
                             n_iter_max=int(nit.max()), not_converged=int((info != 0).sum()),
                             maxrel_vs_dense=maxrel(kap, kref)))
            np.savez(a["npz_prefix"] + f"_{rtol:g}.npz", pairs=pairs, kappa=kap, n_iter=nit)
    return dict(runs=runs, seconds=sum(r["seconds"] for r in runs), t_csr=t_csr, n_pairs_total=int(terms.n_pair),
                memory=mem.as_dict())


def route_large(a):
    """N = 8000: terms + Hessian, G (cg), κ of random pairs by cg (or dense)."""
    from meso_kernels.dipole import DipoleStiffness
    from meso_kernels.elasticity import shear_modulus
    from meso_kernels.hessian import build_terms, hessian_matrix
    m, ihs = _load(a)
    warm = _warm_system(a)
    solver = a["solver"]
    wt = build_terms(warm, m)
    hessian_matrix(wt)
    shear_modulus(warm, m, terms=wt)
    DipoleStiffness(solver=solver, batch=a["batch"]).compute(warm, m, terms=wt, n_random=8, seed=0)
    out = {}
    with PeakMemory() as mem:
        if solver == "cg":
            t0 = time.perf_counter()
            terms = build_terms(ihs, m)
            t1 = time.perf_counter()
            M = hessian_matrix(terms)
            t2 = time.perf_counter()
            g = shear_modulus(ihs, m, terms=terms)
            t3 = time.perf_counter()
            out.update(t_terms=t1 - t0, t_hessian=t2 - t1, t_G=t3 - t2, G=g.G, G_residual=g.residual,
                       G_converged=g.converged, n_pair=int(terms.n_pair), nnz_blocks=int(M.data.shape[0]),
                       n_rattlers=g.n_rattlers)
        else:
            terms = build_terms(ihs, m)
        t0 = time.perf_counter()
        ds = DipoleStiffness(solver=solver, batch=a["batch"]).compute(ihs, m, terms=terms, n_random=a["pairs"],
                                                                     seed=0)
        out.update(t_kappa=time.perf_counter() - t0, n_pairs=int(ds.kappa.size),
                   n_iter_mean=float(ds.n_iter.mean()), n_iter_max=int(ds.n_iter.max()),
                   max_residual=float(ds.residual.max()), converged=int(ds.converged.sum()),
                   zmz_maxrel=maxrel(ds.kappa_zmz, ds.kappa), mean_kappa=float(ds.kappa.mean()))
    np.savez(a["npz"], pairs=ds.pairs, kappa=ds.kappa)
    out["memory"] = mem.as_dict()
    out["seconds"] = out["t_kappa"] + out.get("t_terms", 0.0) + out.get("t_hessian", 0.0) + out.get("t_G", 0.0)
    return out


ROUTES = {"hess_ours": route_hess_ours, "hess_fd": route_hess_fd, "kappa": route_kappa,
          "kappa_scipy": route_kappa_scipy, "large": route_large}


class RouteFailed(RuntimeError):
    pass


def run_child(route, args_dict, threads, fresh_cache, log):
    """Run one route in a subprocess with ``threads`` threads; returns its result dict."""
    env = dict(os.environ)
    for k in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[k] = str(threads)
    tmp = None
    if fresh_cache:
        tmp = tempfile.mkdtemp(prefix="kappa_bench_numba_")
        env["NUMBA_CACHE_DIR"] = tmp
    fd, out = tempfile.mkstemp(prefix="kappa_route_", suffix=".json", dir=WORK)
    os.close(fd)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--route", route, "--route-args",
           json.dumps(args_dict), "--route-out", out]
    try:
        p = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if p.returncode != 0:
            how = (f"killed by signal {-p.returncode}" if p.returncode < 0 else f"exit status {p.returncode}")
            raise RouteFailed(f"route {route} ({threads} threads) failed, {how}:\n"
                              + "\n".join((p.stdout + p.stderr).splitlines()[-25:]))
        res = json.loads(Path(out).read_text())
    finally:
        Path(out).unlink(missing_ok=True)
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    res["threads"] = threads
    return res


def child_main(route, args_json, out):
    import numba
    a = json.loads(args_json)
    res = ROUTES[route](a)
    res["numba_threads"] = numba.get_num_threads()
    res["threading_layer"] = _threading_layer()
    Path(out).write_text(json.dumps(res, default=float))


def _threading_layer():
    try:
        import numba
        return numba.threading_layer()
    except Exception:
        return "?"


# ---------------------------------------------------------------------------------------------------------------
# driver
# ---------------------------------------------------------------------------------------------------------------
def fmt_t(s):
    if s is None or not np.isfinite(s):
        return "–"
    if s >= 100:
        return f"{s:.0f} s"
    if s >= 1:
        return f"{s:.2f} s"
    return f"{s * 1e3:.1f} ms"


def fmt_mem(mem):
    if not mem:
        return "–"
    d = mem.get("delta_mb", float("nan"))
    return f"{mem['peak_mb']:.0f} MB" + (f" (+{d:.0f})" if np.isfinite(d) else "")


def mem_available_gb():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 1024 ** 2
    except OSError:
        pass
    return float("nan")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", default="1,2", help="comma list of thread counts (numba and BLAS)")
    ap.add_argument("--quick", action="store_true",
                    help="fewer sampled pairs (baseline 100, cg 128), rtols 1e-8,1e-10 only, no phase breakdown")
    ap.add_argument("--baseline-pairs", default="500",
                    help="random pairs solved by SciPy per rtol (or 'all'); its all-pairs time is extrapolated")
    ap.add_argument("--baseline-rtols", default="1e-6,1e-8,1e-10,1e-12", help="comma list of SciPy cg rtols")
    ap.add_argument("--agree", type=float, default=1e-8,
                    help="required max relative κ difference between the baseline and ours")
    ap.add_argument("--cg-pairs", default="512", help="random pairs for our cg route (or 'all')")
    ap.add_argument("--rtol", type=float, default=1e-12, help="rtol of our cg route")
    ap.add_argument("--batch", type=int, default=64, help="DipoleStiffness batch")
    ap.add_argument("--fd-step", type=float, default=1e-5, help="finite-difference step (length units)")
    ap.add_argument("--hess-repeats", type=int, default=5, help="repeats of our Hessian assembly (fastest kept)")
    ap.add_argument("--no-phases", action="store_true", help="skip the per-phase breakdown of our routes")
    ap.add_argument("--skip", default="", help="comma list of tasks to skip: kappa, hessian")
    ap.add_argument("--large", action="store_true", help="also the N = 8000 system (slow)")
    ap.add_argument("--large-model", default="mblj", choices=["mblj", "sw"])
    ap.add_argument("--large-pairs", type=int, default=1000, help="random pairs for κ at N = 8000")
    ap.add_argument("--large-dense", default="auto", choices=["auto", "yes", "no"],
                    help="dense κ at N = 8000 (auto: if MemAvailable > 2.5 (3N)^2 doubles)")
    ap.add_argument("--large-threads", type=int, default=None, help="threads for the N = 8000 part (default max)")
    ap.add_argument("--large-dense-threads", type=int, default=1,
                    help="threads for dense κ at N = 8000 (default 1: the Cholesky dpotrf of the pip OpenBLAS "
                         "0.3.30/0.3.31 segfaults for n >= 23170 (3N = 24000) with 2 threads, see README)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the random configurations")
    ap.add_argument("--pair-seed", type=int, default=0, help="seed of the sampled pairs")
    ap.add_argument("--fresh", action="store_true", help="remake the cached inherent structures")
    ap.add_argument("--max-others", type=float, default=None,
                    help="a run during which other processes used more CPU cores than this is retried or flagged "
                         "(default: ncpu - threads - 0.25, at least 0.25)")
    ap.add_argument("--repeats", type=int, default=1,
                    help="run each route this many times (undisturbed runs preferred), keep the fastest")
    ap.add_argument("--retries", type=int, default=1, help="extra runs allowed per measurement when disturbed")
    ap.add_argument("--idle-timeout", type=float, default=60.0,
                    help="seconds to wait for a quiet machine before each run (then run anyway)")
    ap.add_argument("--out", default=str(WORK / "kappa.md"))
    ap.add_argument("--json", default=str(WORK / "kappa.json"))
    ap.add_argument("--from-json", default=None,
                    help="only print the report of a saved JSON (needs the .npz files of that run in _work/)")
    ap.add_argument("--route", help=argparse.SUPPRESS)
    ap.add_argument("--route-args", help=argparse.SUPPRESS)
    ap.add_argument("--route-out", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.route:
        return child_main(args.route, args.route_args, args.route_out)
    if args.from_json:
        saved = json.loads(Path(args.from_json).read_text())
        print(report(saved["table"], saved.get("large"), args, saved["ihs"]["ipl"], saved))
        return None

    sys.path.insert(0, str(HERE))
    from md_throughput import LoadMonitor

    WORK.mkdir(exist_ok=True)

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    threads_list = [int(t) for t in args.threads.split(",") if t.strip()]
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    nb = 100 if args.quick and args.baseline_pairs == "500" else args.baseline_pairs
    ncg = 128 if args.quick and args.cg_pairs == "512" else args.cg_pairs
    rtols = [float(r) for r in args.baseline_rtols.split(",")]
    if args.quick and args.baseline_rtols == "1e-6,1e-8,1e-10,1e-12":
        rtols = [1e-8, 1e-10]
    phases = not (args.no_phases or args.quick)
    big = 10 ** 9

    def npairs(v):
        return big if str(v) == "all" else int(v)

    sysd = SYSTEMS["ipl"]
    gsd, qinfo = make_ihs("ipl", sysd["N"], sysd["rho"], args.seed, args.fresh, log)
    warm_gsd, _ = make_ihs("ipl", WARM_N, sysd["rho"], args.seed, args.fresh, log)
    base = dict(system="ipl", gsd=str(gsd), warm_gsd=str(warm_gsd), seed=args.pair_seed, batch=args.batch,
                rtol=args.rtol)
    mon = LoadMonitor(args.max_others, args.idle_timeout, log)
    results = dict(machine=dict(cpus=os.cpu_count(), uptime=_uptime()), ihs=dict(ipl=qinfo), runs=[],
                   args=vars(args))

    def measure(label, route, a, th, fresh_cache=False):
        tol = mon.set_threads(th)
        log(f"[{label}] {th} thread(s) ...")
        try:
            (sec, res), load, flag = mon.measure(
                label, lambda: (lambda r: (r.get("seconds", 0.0), r))(run_child(route, a, th, fresh_cache, log)),
                args.repeats, args.retries)
        except RouteFailed as e:
            log(str(e))
            res = dict(error=str(e).splitlines()[0], threads=th, label=label)
            results["runs"].append(res)
            return res
        res.update(label=label, others_load=load, disturbed=flag, tolerance=tol)
        log(f"[{label}] {th} thread(s): {fmt_t(sec)}  (other processes: {load:.2f} cores{' *' if flag else ''})")
        results["runs"].append(res)
        return res

    table = []
    for th in threads_list:
        row = dict(threads=th)
        if "kappa" not in skip:
            dense_npz = str(WORK / f"kappa_dense_t{th}.npz")
            row["dense"] = measure("kappa dense (all pairs)", "kappa",
                                   dict(base, solver="dense", pairs="all", npz=dense_npz, phases=phases), th)
            row["cg"] = measure(f"kappa cg ({ncg} pairs)", "kappa",
                                dict(base, solver="cg", pairs=npairs(ncg), npz=str(WORK / f"kappa_cg_t{th}.npz"),
                                     phases=phases, phase_pairs=2 * args.batch), th)
            row["scipy"] = measure(f"kappa scipy cg ({nb} pairs x {len(rtols)} rtols)", "kappa_scipy",
                                   dict(base, pairs=npairs(nb), rtols=rtols, ref_npz=dense_npz,
                                        npz_prefix=str(WORK / f"kappa_scipy_t{th}")), th)
            # cg against dense on its pairs
            if not (ok(row["dense"]) and ok(row["cg"])):
                table.append(row)
                continue
            dn = np.load(dense_npz)
            cgz = np.load(WORK / f"kappa_cg_t{th}.npz")
            n = sysd["N"]
            kd = lookup(pair_keys(dn["pairs"], n), dn["kappa"], pair_keys(cgz["pairs"], n))
            row["cg"]["maxrel_vs_dense"] = maxrel(cgz["kappa"], kd)
        if "hessian" not in skip:
            row["hess_ours"] = measure("Hessian ours", "hess_ours", dict(base, repeats=args.hess_repeats), th,
                                       fresh_cache=True)
            row["hess_fd"] = measure("Hessian finite differences", "hess_fd", dict(base, fd_step=args.fd_step), th,
                                     fresh_cache=True)
        table.append(row)

    large = None
    if args.large:
        name = args.large_model
        sd = SYSTEMS[name]
        lgsd, linfo = make_ihs(name, sd["N"], sd["rho"], args.seed, args.fresh, log)
        lwarm, _ = make_ihs(name, WARM_N, sd["rho"], args.seed, args.fresh, log)
        results["ihs"][name] = linfo
        lth = args.large_threads or max(threads_list)
        la = dict(system=name, gsd=str(lgsd), warm_gsd=str(lwarm), batch=args.batch, pairs=args.large_pairs)
        large = dict(name=name, threads=lth, quench=linfo)
        large["cg"] = measure(f"N={sd['N']} {name}: Hessian, G, kappa cg", "large",
                              dict(la, solver="cg", npz=str(WORK / f"kappa_large_{name}_cg.npz")), lth)
        nd = sd["N"] * 3
        need = 2.5 * nd * nd * 8 / 1024 ** 3
        avail = mem_available_gb()
        if args.large_dense == "yes" or (args.large_dense == "auto" and avail > need):
            large["dense"] = measure(f"N={sd['N']} {name}: kappa dense", "large",
                                     dict(la, solver="dense", npz=str(WORK / f"kappa_large_{name}_dense.npz")),
                                     args.large_dense_threads)
            if ok(large["dense"]) and ok(large["cg"]):
                a1 = np.load(WORK / f"kappa_large_{name}_cg.npz")
                a2 = np.load(WORK / f"kappa_large_{name}_dense.npz")
                large["dense"]["maxrel_vs_cg"] = maxrel(a2["kappa"], lookup(pair_keys(a1["pairs"], sd["N"]), a1["kappa"],
                                                                            pair_keys(a2["pairs"], sd["N"])))
        else:
            large["dense_skipped"] = f"MemAvailable {avail:.1f} GB < {need:.1f} GB" if args.large_dense == "auto" \
                else "--large-dense no"
        results["large"] = large

    results["machine"]["uptime_end"] = _uptime()
    results["date"] = time.strftime("%Y-%m-%d %H:%M")
    Path(args.json).write_text(json.dumps(dict(results, table=table, large=large), indent=1, default=float))
    md = report(table, large, args, qinfo, results)
    print(md)
    Path(args.out).write_text(md + "\n")
    log(f"written {args.out} and {args.json}")


def _uptime():
    try:
        return Path("/proc/loadavg").read_text().split()[:3]
    except OSError:
        return None


def choose_baseline(sc, agree):
    """The loosest rtol whose κ agree with ours to ``agree`` (else the tightest one)."""
    good = [r for r in sc["runs"] if r["maxrel_vs_dense"] <= agree and r["not_converged"] == 0]
    if good:
        return max(good, key=lambda r: r["rtol"]), True
    return min(sc["runs"], key=lambda r: r["rtol"]), False


def report(table, large, args, qinfo, results):
    star = lambda r: "*" if r.get("disturbed") else ""   # noqa: E731
    md = ["## κ_ij and Hessian: ours against SciPy / finite differences", "",
          f"One IPL inherent structure, N = 2000, ρ = 0.82 (instantaneous CG quench of a random configuration, seed "
          f"{args.seed}: {qinfo['n_iter']} iterations, max |F| = {qinfo['max_force']:.2g}).", "",
          "| task | threads | baseline | baseline time | ours | ours time | ratio | max rel. diff | "
          "peak memory baseline / ours (+ over start) |", "|---|---|---|---|---|---|---|---|---|"]
    for row in table:
        th = row["threads"]
        if "dense" in row and not all(ok(row.get(k)) for k in ("dense", "cg", "scipy")):
            errs = "; ".join(row[k]["error"] for k in ("dense", "cg", "scipy") if not ok(row.get(k)))
            md.append(f"| κ_ij all pairs | {th} | scipy cg | – | ours | – | – | – | failed: {errs} |")
        elif "dense" in row:
            dn, cg, sc = row["dense"], row["cg"], row["scipy"]
            b, agrees = choose_baseline(sc, args.agree)
            fast = min((dn, cg), key=lambda r: r["all_pairs_seconds"])
            fname = "dense" if fast is dn else f"cg rtol {args.rtol:g}"
            ext = " (extrap. from %d pairs)" % cg["n_pairs"] if fast is cg and cg["extrapolated"] else ""
            # agreement of the fastest route with the chosen baseline on the sampled pairs (matched by pair)
            kb = np.load(WORK / f"kappa_scipy_t{th}_{b['rtol']:g}.npz")
            fz = np.load(WORK / (f"kappa_dense_t{th}.npz" if fast is dn else f"kappa_cg_t{th}.npz"))
            n = SYSTEMS["ipl"]["N"]
            kf = lookup(pair_keys(fz["pairs"], n), fz["kappa"], pair_keys(kb["pairs"], n))
            diff = maxrel(kf, kb["kappa"])
            row["fastest"] = dict(route=fname, seconds=fast["all_pairs_seconds"], maxrel_vs_baseline=diff,
                                  baseline_rtol=b["rtol"], ratio=b["all_pairs_seconds"] / fast["all_pairs_seconds"],
                                  baseline_agrees=agrees)
            md.append(f"| κ_ij all {dn['n_pairs_total']} pairs | {th} | scipy cg per pair, rtol {b['rtol']:g}"
                      f"{'' if agrees else ' (NO rtol agreed)'} (extrap. from {b['n_pairs']} pairs) | "
                      f"{fmt_t(b['all_pairs_seconds'])}{star(sc)} | {fname}{ext} | "
                      f"{fmt_t(fast['all_pairs_seconds'])}{star(fast)} | "
                      f"**{b['all_pairs_seconds'] / fast['all_pairs_seconds']:.0f}** | {diff:.1e} "
                      f"(on {b['n_pairs']} pairs) | {fmt_mem(sc['memory'])} / {fmt_mem(fast['memory'])} |")
        if "hess_ours" in row and not (ok(row["hess_ours"]) and ok(row["hess_fd"])):
            errs = "; ".join(row[k]["error"] for k in ("hess_ours", "hess_fd") if not ok(row[k]))
            md.append(f"| Hessian (3N)² | {th} | finite differences | – | ours | – | – | – | failed: {errs} |")
        elif "hess_ours" in row:
            ho, hf = row["hess_ours"], row["hess_fd"]
            md.append(f"| Hessian (3N)² | {th} | finite differences, {hf['n_evals']} force evaluations, "
                      f"h = {hf['fd_step']:g} | {fmt_t(hf['seconds'])}{star(hf)} | build_terms + hessian_matrix | "
                      f"{fmt_t(ho['seconds'])}{star(ho)} | **{hf['seconds'] / ho['seconds']:.0f}** | "
                      f"{hf['maxrel_maxnorm']:.1e} (max-norm) | {fmt_mem(hf['memory'])} / {fmt_mem(ho['memory'])} |")
    if any(r.get("disturbed") for r in results["runs"]):
        md += ["", "\\* disturbed: other processes used more CPU than tolerated during every attempt (see the "
               "load column below)."]
    md += ["", f"Targets: κ ratio ≥ 50 at agreement ≤ {args.agree:g}; Hessian ratio ≥ 10. Memory: peak resident "
           "set of the route's subprocess over the timed part (VmHWM after resetting it), in brackets its increase "
           "over the resident set at the start of the timed part."]

    md += ["", "### κ routes in detail", "",
           "| threads | route | pairs timed | time | per pair | all pairs | CG iterations mean / max | max residual "
           "| max rel. diff vs dense | max rel. diff κ vs κ_zmz | peak memory | others' load |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in table:
        if not all(ok(row.get(k)) for k in ("dense", "cg", "scipy")):
            continue
        th = row["threads"]
        for nm, r in (("ours dense", row["dense"]), (f"ours cg rtol {args.rtol:g}", row["cg"])):
            its = "–" if nm == "ours dense" else f"{r['n_iter_mean']:.0f} / {r['n_iter_max']}"
            dv = "–" if nm == "ours dense" else f"{r.get('maxrel_vs_dense', float('nan')):.1e}"
            md.append(f"| {th} | {nm} | {r['n_pairs']} | {fmt_t(r['seconds'])} | {fmt_t(r['per_pair'])} | "
                      f"{fmt_t(r['all_pairs_seconds'])}{' (extrap.)' if r['extrapolated'] else ''} | {its} | "
                      f"{r['max_residual']:.1e} | {dv} | {r['zmz_maxrel']:.1e} | {fmt_mem(r['memory'])} | "
                      f"{r['others_load']:.2f}{star(r)} |")
        sc = row["scipy"]
        for r in sc["runs"]:
            md.append(f"| {th} | scipy cg rtol {r['rtol']:g} | {r['n_pairs']} | {fmt_t(r['seconds'])} | "
                      f"{fmt_t(r['per_pair'])} | {fmt_t(r['all_pairs_seconds'])} (extrap.) | "
                      f"{r['n_iter_mean']:.0f} / {r['n_iter_max']} | – | {r['maxrel_vs_dense']:.1e} | – | "
                      f"{fmt_mem(sc['memory'])} | {sc['others_load']:.2f}{star(sc)} |")
    ph_rows = []
    for row in table:
        for key, nm in (("dense", "dense, all pairs"), ("cg", "cg")):
            r = row.get(key)
            if not ok(r) or "phases" not in r:
                if r and "phases_error" in r:
                    ph_rows.append(f"| {row['threads']} | {nm} | breakdown failed: {r['phases_error']} | – |")
                continue
            label = nm if key == "dense" else f"cg, {r['phase_pairs']} pairs (batches of {args.batch})"
            for k, v in r["phases"].items():
                ph_rows.append(f"| {row['threads']} | {label} | {k} | {fmt_t(v)} |")
            ph_rows.append(f"| {row['threads']} | {label} | **sum** | {fmt_t(sum(r['phases'].values()))} |")
            if "kernels" in r:
                its = r["phase_batch_iters"]
                per_it = r["phases"]["cg_solve (PCG iterations + its own true residual)"] / max(sum(its), 1)
                ph_rows.append(f"| {row['threads']} | {label} | PCG: one iteration of {r['kernel_columns']} "
                               f"columns (cg_solve time / Σ batch iterations {sum(its)}) | {fmt_t(per_it)} |")
                for k, v in r["kernels"].items():
                    ph_rows.append(f"| {row['threads']} | {label} | kernel {k}, {r['kernel_columns']} columns | "
                                   f"{fmt_t(v)} |")
        if ok(row.get("hess_ours")) and ok(row.get("hess_fd")):
            ho, hf = row["hess_ours"], row["hess_fd"]
            ph_rows += [f"| {row['threads']} | Hessian ours | build_terms (neighbour list + terms) | "
                        f"{fmt_t(ho['t_terms'])} |",
                        f"| {row['threads']} | Hessian ours | hessian_matrix (BSR assembly) | "
                        f"{fmt_t(ho['t_assemble'])} |",
                        f"| {row['threads']} | Hessian ours | first call with an empty numba cache (compilation) | "
                        f"{fmt_t(ho['first_call'])} |",
                        f"| {row['threads']} | Hessian FD | one force evaluation (FD time / evaluations) | {fmt_t(hf['per_eval'])} |",
                        f"| {row['threads']} | Hessian FD | first force call with an empty numba cache | "
                        f"{fmt_t(hf['first_call'])} |"]
    if ph_rows:
        md += ["", "### Phases of our routes (a step-by-step copy of the route, timed after the end-to-end run)", "",
               "| threads | route | phase | time |", "|---|---|---|---|"] + ph_rows
    for row in table:
        if ok(row.get("hess_fd")):
            hf = row["hess_fd"]
            md += ["", f"Finite-difference Hessian ({row['threads']} thr.): max |H_fd − M| / max |M| = "
                   f"{hf['maxrel_maxnorm']:.1e}; entrywise max relative difference over |M_ij| > 1e-6 max|M| = "
                   f"{hf['maxrel_entries']:.1e}; asymmetry max |H_fd − H_fdᵀ| / max |M| = {hf['asym']:.1e}."]
            break
    if large:
        cg = large["cg"]
        nm = large["name"]
        q = large["quench"]
        md += ["", f"### N = {SYSTEMS[nm]['N']} {nm} (ρ = {SYSTEMS[nm]['rho']}), {large['threads']} threads", "",
               f"Quench (not benchmarked; CG, ftol 1e-10, {q['threads']} threads, made {q['made']}): "
               f"{fmt_t(q['seconds'])}, {q['n_iter']} iterations.", "",
               "| step | time | notes |", "|---|---|---|"]
        if ok(cg):
            md += [f"| build_terms | {fmt_t(cg['t_terms'])} | {cg['n_pair']} interacting pairs |",
                   f"| hessian_matrix | {fmt_t(cg['t_hessian'])} | {cg['nnz_blocks']} 3×3 blocks |",
                   f"| shear_modulus (cg, rtol 1e-12) | {fmt_t(cg['t_G'])} | G = {cg['G']:.6g}, residual "
                   f"{cg['G_residual']:.1e}, {cg['n_rattlers']} rattlers |",
                   f"| κ cg, {cg['n_pairs']} random pairs | {fmt_t(cg['t_kappa'])} | iterations "
                   f"{cg['n_iter_mean']:.0f} / {cg['n_iter_max']}, max residual {cg['max_residual']:.1e}, "
                   f"{cg['converged']} converged |",
                   f"| peak memory (all of the above) | {fmt_mem(cg['memory'])} | others' load "
                   f"{cg['others_load']:.2f}{star(cg)} |"]
        else:
            md += [f"| Hessian, G, κ cg | – | failed: {cg['error']} |"]
        dn = large.get("dense")
        if dn is None:
            md += [f"| κ dense | – | skipped: {large['dense_skipped']} |"]
        elif not ok(dn):
            md += [f"| κ dense, same pairs | – | failed: {dn['error']} |"]
        else:
            md += [f"| κ dense, same {dn['n_pairs']} pairs, {dn['threads']} thread(s) (build_terms excluded) | "
                   f"{fmt_t(dn['t_kappa'])} | "
                   f"max residual {dn['max_residual']:.1e}, max rel. diff vs cg "
                   f"{dn.get('maxrel_vs_cg', float('nan')):.1e}, others' load {dn['others_load']:.2f}{star(dn)} |",
                   f"| peak memory dense | {fmt_mem(dn['memory'])} | |"]
    from meso_kernels.cpuinfo import cpu_record
    thl = {r.get("threading_layer") for r in results["runs"]}
    md += ["", f"Machine: {cpu_record()['model']} ({cpu_record()['isa_level']}), {os.cpu_count()} logical CPUs; numba "
           f"threading layer {', '.join(sorted(map(str, thl)))}; load average at start / end "
           f"{results['machine']['uptime']} / {results['machine']['uptime_end']}; "
           f"{results.get('date', time.strftime('%Y-%m-%d %H:%M'))}."
           " Each route ran in its own subprocess with NUMBA_NUM_THREADS = OPENBLAS_NUM_THREADS = threads; numba "
           "compilation (or cache load) is excluded from every time."]
    return "\n".join(md)


if __name__ == "__main__":
    main()
