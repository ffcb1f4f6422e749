"""Dipole stiffnesses κ_ij of an inherent structure (paper Eqs. A2-A4; MODELS.md section 7).

For an interacting pair (i, j) with n̂ = r_ij / |r_ij|, the normalised force dipole d̂^ij = (1/√2) dr_ij/dx is
+n̂/√2 on j, -n̂/√2 on i (|d̂| = 1). Its linear response is z^ij = M⁺ d̂^ij and

    κ_ij = z·M·z / z·z = d̂·z / z·z                                  (energy/length²)

The two forms are equal for an exact z; their difference is the solver's error, so both are reported
(``kappa`` uses d̂·z / z·z, ``kappa_zmz`` uses z·M·z / z·z with M z computed from the sparse Hessian).

Two independent routes (:mod:`meso_kernels.linsolve`): ``solver="dense"`` (Cholesky pseudo-inverse: every κ_ij is
then a few rows of M⁺, the fastest route when many pairs of a glass of up to a few thousand particles are wanted) and
``solver="cg"`` (block conjugate gradients on the sparse Hessian, memory ∝ N, for large glasses or few pairs).
``"auto"`` picks dense when n d <= ``dense_max`` (default 12000, i.e. 4000 particles in 3D) and the number of pairs is
at least n d / 50, otherwise cg (see ``benchmarks/kappa.py`` for the measurements behind this rule).

Rattlers (fewer than d + 1 interacting pairs, found iteratively) are removed before solving; their pairs get no κ.
Pairs whose solve did not converge are kept and flagged (``converged``), never dropped.

>>> from meso_kernels.models import get_model
>>> from meso_kernels.initial import random_configuration
>>> from meso_kernels.quench import quench
>>> from meso_kernels.dipole import DipoleStiffness
>>> m = get_model("ipl", dim=2)
>>> ihs, _ = quench(random_configuration(m, 100, 0.86, seed=2), m, method="cg", ftol=1e-10)
>>> a = DipoleStiffness(solver="dense").compute(ihs, m)
>>> b = DipoleStiffness(solver="cg").compute(ihs, m)
>>> bool(abs(a.kappa / b.kappa - 1).max() < 1e-8), bool(a.converged.all())
(True, True)
>>> a.local_kappa.shape
(100,)
"""
import numpy as np
from numba import njit, prange

from .hessian import bsr_matmat, build_terms, hessian_matrix, solvable_terms
from .linsolve import DenseInverse, _bsr, cg_solve

SOLVERS = ("auto", "dense", "cg")


@njit(cache=True, parallel=True)
def _dipoles(pi, pj, nhat, d, nd, D):
    """Columns of D (n d, k): the normalised dipoles of the pairs (pi, pj) with unit vectors nhat (k, d)."""
    s = 1.0 / np.sqrt(2.0)
    for c in prange(pi.size):
        for r in range(nd):
            D[r, c] = 0.0
        for a in range(d):
            D[pj[c] * d + a, c] = s * nhat[c, a]
            D[pi[c] * d + a, c] = -s * nhat[c, a]


@njit(cache=True, parallel=True)
def _dense_response(inv, pi, pj, nhat, d, Z):
    """Z (n d, k) = A⁻¹ D using rows of the symmetric A⁻¹ (only 2 d of them per pair)."""
    s = 1.0 / np.sqrt(2.0)
    nd = inv.shape[0]
    k = pi.size
    Zt = np.zeros((k, nd))
    for c in prange(k):
        for a in range(d):
            w = s * nhat[c, a]
            rj = pj[c] * d + a
            ri = pi[c] * d + a
            for r in range(nd):
                Zt[c, r] += w * (inv[rj, r] - inv[ri, r])
    for r in prange(nd):
        for c in range(k):
            Z[r, c] = Zt[c, r]


@njit(cache=True)
def _kappas(D, Z, MZ):
    """κ by both forms of Eq. A4 and the relative residual ‖d - M z‖ per column."""
    nd, k = D.shape
    dz = np.zeros(k)
    zz = np.zeros(k)
    zmz = np.zeros(k)
    rr = np.zeros(k)
    dd = np.zeros(k)
    for r in range(nd):
        for c in range(k):
            z = Z[r, c]
            dz[c] += D[r, c] * z
            zz[c] += z * z
            zmz[c] += z * MZ[r, c]
            t = D[r, c] - MZ[r, c]
            rr[c] += t * t
            dd[c] += D[r, c] * D[r, c]
    return dz / zz, zmz / zz, np.sqrt(rr / dd)


class DipoleStiffness:
    """κ_ij for a set of interacting pairs of one inherent structure, and the local κ_i.

    Parameters
    ----------
    solver : "auto", "dense" or "cg" (see the module docstring)
    rtol : relative residual of the CG solves (default 1e-12); a κ is flagged unconverged when its final true
        residual ‖d̂ - M z‖ exceeds 10 rtol (cg) or 1e-8 (dense)
    force_tol : largest max_i |F_i| (force units) accepted as an inherent structure (default 1e-8)
    batch : right-hand sides solved together (cg) or processed together (dense)
    dense_max : largest n d for which "auto" may choose the dense route
    progress : show a tqdm progress bar over batches
    precondition : cg only: block-Jacobi preconditioning (inverse d×d diagonal blocks of M), default True
    backend : "cpu" (default) or "cuda": where the CG solves run (:func:`meso_kernels.cuda.linsolve.block_cg` on a
        :class:`meso_kernels.cuda.hessian.DeviceHessian`; shear = 0). With "cuda" the solver must be
        "cg" or "auto" (which then means cg); the term list, rattlers and pair selection stay on the CPU.

    After :meth:`compute`: ``pairs (k, 2)`` (particle indices of the input system), ``kappa (k,)``,
    ``kappa_zmz (k,)``, ``residual (k,)``, ``converged (k,)``, ``local_kappa (N,)`` (mean κ_ij over the computed
    pairs of each particle; NaN where there are none, e.g. rattlers), ``mean`` (mean of ``kappa``), ``rattlers``
    (bool (N,)), ``solver_used``, ``n_iter`` (cg iterations per pair, zeros for dense), ``max_force``.
    """

    def __init__(self, solver="auto", rtol=1e-12, force_tol=1e-8, batch=64, dense_max=12000, progress=False,
                 precondition=True, backend="cpu"):
        if solver not in SOLVERS:
            raise ValueError(f"unknown solver={solver!r}; allowed: {', '.join(SOLVERS)}")
        if backend != "cpu":
            from .cuda import check_backend
            check_backend(backend)
            if solver == "dense":
                raise ValueError("solver='dense' is not available with backend='cuda'; allowed with "
                                 "backend='cuda': solver='cg' or 'auto' (cg)")
        self.backend = backend
        if not (np.isfinite(rtol) and 0 < rtol < 1):
            raise ValueError(f"rtol must lie in (0, 1), got {rtol!r}")
        if int(batch) < 1:
            raise ValueError(f"batch must be a positive integer, got {batch!r}")
        self.solver = solver
        self.rtol = float(rtol)
        self.force_tol = float(force_tol)
        self.batch = int(batch)
        self.dense_max = int(dense_max)
        self.progress = progress
        self.precondition = bool(precondition)
        self._done = False

    # ---------------------------------------------------------------------------------------------------------
    def compute(self, system, model, pairs="all", n_random=None, seed=None, terms=None, shear=0.0):
        """Compute κ_ij for ``pairs``: "all" interacting pairs (default), an array (k, 2) of particle index pairs
        (each must interact: within the cut-off, and neither a rattler), or ``n_random`` pairs drawn without
        replacement from all interacting pairs with ``seed``. Returns self."""
        terms = build_terms(system, model, shear=shear) if terms is None else terms
        t, rat, self.max_force = solvable_terms(terms, self.force_tol)
        n, d = terms.n, terms.d
        new = np.full(n, -1, np.int64)
        new[~rat] = np.arange(t.n)
        all_pairs = t.pairs                              # compact indices
        rvec = t.pv_r[:t.n_pair]
        sel = self._select(pairs, n_random, seed, all_pairs, terms, new, rat)
        pi, pj = all_pairs[sel, 0], all_pairs[sel, 1]
        nhat = rvec[sel] / np.linalg.norm(rvec[sel], axis=1)[:, None]
        nd = t.n * d
        k = sel.size
        if self.backend == "cuda":
            return self._compute_cuda(system, model, t, rat, n, d, sel, pi, pj, shear)
        M = _bsr(hessian_matrix(t), d)
        solver = self.solver
        if solver == "auto":
            solver = "dense" if (nd <= self.dense_max and k >= nd / 50) else "cg"
        kap = np.empty(k)
        kap2 = np.empty(k)
        res = np.empty(k)
        conv = np.empty(k, bool)
        nit = np.zeros(k, np.int64)
        inv = DenseInverse(M, d).inverse if solver == "dense" else None
        indptr, indices = M.indptr.astype(np.int64), M.indices.astype(np.int64)
        starts = range(0, k, self.batch)
        if self.progress:
            from tqdm.auto import tqdm
            starts = tqdm(starts, desc=f"kappa ({solver})", unit="batch")
        for s0 in starts:
            s1 = min(s0 + self.batch, k)
            D = dipole_matrix(t, sel[s0:s1])
            if solver == "dense":
                Z = np.empty_like(D)
                _dense_response(inv, pi[s0:s1], pj[s0:s1], nhat[s0:s1], d, Z)
            else:
                r = cg_solve(M, d, D, rtol=self.rtol, precondition=self.precondition)
                Z = r.x
                nit[s0:s1] = r.n_iter
            MZ = np.empty_like(Z)
            bsr_matmat(indptr, indices, M.data, np.ascontiguousarray(Z), MZ)
            kap[s0:s1], kap2[s0:s1], res[s0:s1] = _kappas(D, Z, MZ)
        conv[:] = res <= (10 * self.rtol if solver == "cg" else 1e-8)
        return self._store(t, pi, pj, kap, kap2, res, conv, rat, n, solver, nit)

    def _compute_cuda(self, system, model, t, rat, n, d, sel, pi, pj, shear):
        """The CG solves on the device (see ``backend``)."""
        from .cuda.hessian import DeviceHessian, check_supported
        from .cuda.linsolve import block_cg
        check_supported(model, shear)
        H = DeviceHessian(system, model, exclude=rat)
        rows = (np.nonzero(~rat)[0][:, None] * d + np.arange(d)).ravel()   # compact row -> full row
        k = sel.size
        kap, kap2, res = np.empty(k), np.empty(k), np.empty(k)
        nit = np.zeros(k, np.int64)
        starts = range(0, k, self.batch)
        if self.progress:
            from tqdm.auto import tqdm
            starts = tqdm(starts, desc="kappa (cg, cuda)", unit="batch")
        for s0 in starts:
            s1 = min(s0 + self.batch, k)
            D = dipole_matrix(t, sel[s0:s1])
            Df = np.zeros((n * d, s1 - s0))
            Df[rows] = D
            r = block_cg(H, Df, rtol=self.rtol, precondition=self.precondition)
            nit[s0:s1] = r.n_iter
            MZ = H.matvec(r.x)
            kap[s0:s1], kap2[s0:s1], res[s0:s1] = _kappas(D, np.ascontiguousarray(r.x[rows]),
                                                          np.ascontiguousarray(MZ[rows]))
        conv = res <= 10 * self.rtol
        return self._store(t, pi, pj, kap, kap2, res, conv, rat, n, "cg", nit)

    def _store(self, t, pi, pj, kap, kap2, res, conv, rat, n, solver, nit):
        orig = t.index
        self._pairs = np.stack([orig[pi], orig[pj]], axis=1)
        self._kappa, self._kappa_zmz, self._residual, self._converged = kap, kap2, res, conv
        self._rattlers = rat
        self._n = n
        self.solver_used = solver
        self.n_iter = nit
        self._done = True
        return self

    def _select(self, pairs, n_random, seed, all_pairs, terms, new, rat):
        npairs = all_pairs.shape[0]
        if n_random is not None:
            if isinstance(pairs, str) and pairs == "all":
                n_random = int(n_random)
                if not 1 <= n_random <= npairs:
                    raise ValueError(f"n_random must lie in 1..{npairs} (the interacting pairs), got {n_random}")
                rng = np.random.default_rng(seed)
                return np.sort(rng.choice(npairs, size=n_random, replace=False))
            raise ValueError("give either pairs or n_random, not both")
        if isinstance(pairs, str):
            if pairs != "all":
                raise ValueError(f"pairs must be 'all' or an array of shape (k, 2), got {pairs!r}")
            return np.arange(npairs)
        req = np.asarray(pairs)
        if req.ndim != 2 or req.shape[1] != 2 or not np.issubdtype(req.dtype, np.integer):
            raise ValueError(f"pairs must be an integer array of shape (k, 2), got shape {req.shape}")
        if req.size and (req.min() < 0 or req.max() >= terms.n):
            raise ValueError(f"pairs: particle indices must lie in 0..{terms.n - 1}")
        key = {}
        for p, (a, b) in enumerate(all_pairs):
            key[(a, b)] = p
            key[(b, a)] = p
        out = []
        for a, b in req:
            if rat[a] or rat[b]:
                raise ValueError(f"pairs: particle {a if rat[a] else b} of pair ({a}, {b}) is a rattler "
                                 f"(fewer than d + 1 interacting neighbours); its κ is not defined")
            p = key.get((new[a], new[b]))
            if p is None:
                raise ValueError(f"pairs: particles ({a}, {b}) do not interact (not within the cut-off); "
                                 f"κ_ij is defined for interacting pairs only")
            out.append(p)
        return np.asarray(out, np.int64)

    # ---------------------------------------------------------------------------------------------------------
    def _need(self):
        if not self._done:
            raise RuntimeError("call compute() first")

    @property
    def pairs(self):
        self._need()
        return self._pairs

    @property
    def kappa(self):
        self._need()
        return self._kappa

    @property
    def kappa_zmz(self):
        self._need()
        return self._kappa_zmz

    @property
    def residual(self):
        self._need()
        return self._residual

    @property
    def converged(self):
        self._need()
        return self._converged

    @property
    def unconverged_pairs(self):
        """(k', 2) pairs whose solve did not reach the tolerance (their κ is still reported)."""
        return self.pairs[~self.converged]

    @property
    def rattlers(self):
        self._need()
        return self._rattlers

    @property
    def mean(self):
        """Mean κ over the computed pairs (energy/length²)."""
        return float(self.kappa.mean())

    @property
    def local_kappa(self):
        """κ_i: mean of κ_ij over the computed pairs of particle i (N,), NaN where particle i has none."""
        self._need()
        s = np.bincount(self._pairs.ravel(), weights=np.repeat(self._kappa, 2), minlength=self._n)
        c = np.bincount(self._pairs.ravel(), minlength=self._n)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(c > 0, s / np.maximum(c, 1), np.nan)


def dipole_matrix(terms, pairs):
    """Unit force dipoles d̂^ij of the interacting pairs with indices ``pairs`` (into ``terms.pairs``) as the
    columns of an (n d, k) array: +n̂/√2 on j, -n̂/√2 on i, n̂ = r_ij/|r_ij| (Eq. A2)."""
    sel = np.asarray(pairs, dtype=np.int64)
    r = terms.pv_r[sel]
    nhat = np.ascontiguousarray(r / np.linalg.norm(r, axis=1)[:, None])
    D = np.empty((terms.n * terms.d, sel.size))
    _dipoles(terms.pv_i[sel], terms.pv_j[sel], nhat, terms.d, terms.n * terms.d, D)
    return D


def dipole_response(system, model, i, j, solver="cg", rtol=1e-12, force_tol=1e-8, terms=None):
    """The response z^ij = M⁺ d̂^ij (N, d) of the inherent structure to the unit force dipole pushing the
    interacting particles i and j apart (+n̂/√2 on j, n̂ = r_ij/|r_ij|; zero on rattlers), and κ_ij.
    Returns ``(z, kappa)``."""
    if solver not in ("cg", "dense"):
        raise ValueError(f"unknown solver={solver!r}; allowed: cg, dense")
    terms = build_terms(system, model) if terms is None else terms
    t, rat, _ = solvable_terms(terms, force_tol)
    new = np.where(rat, -1, np.cumsum(~rat) - 1)
    p = DipoleStiffness()._select(np.array([[i, j]]), None, None, t.pairs, terms, new, rat)[0]
    sign = 1.0 if t.pairs[p, 0] == new[i] else -1.0          # orient the dipole i -> j
    D = sign * dipole_matrix(t, [p])[:, 0].reshape(t.n, t.d)
    M = hessian_matrix(t)
    z = DenseInverse(M, t.d).solve(D) if solver == "dense" else cg_solve(M, t.d, D, rtol=rtol).x
    out = np.zeros((terms.n, t.d))
    out[~rat] = z
    return out, float((D * z).sum() / (z * z).sum())
