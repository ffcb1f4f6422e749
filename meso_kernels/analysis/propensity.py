"""Propensity for motion and its correlation with the local dipole stiffness (paper Sec. III C, Figs 2, 6 and 7;
MODELS.md section 9).

- Isoconfigurational ensemble (Widmer-Cooper, Harrowell & Fynewever, PRL 93, 135701 (2004)): n_runs NVT runs from
  one configuration, each with fresh Maxwell–Boltzmann velocities; the mobility (propensity) of particle i is the
  mean over runs of |dr_i(t)|, with t = tau_alpha / 10 in the paper (Sec. III C; 240 IHS x 20 runs).
- Neighbour-relative ("cage-relative") displacement (Fig. 2; Shiba et al., PRL 117, 245701 (2016)):
  dr_i - (1 / n_i) sum_{j in nb(i)} dr_j with the neighbours nb(i) taken in the initial configuration.
- Per IHS, among the large particles, those most (least) mobile in the sphere of radius r_cut^BB around themselves,
  then the 5 most (least) mobile of those (Fig. 6 b, c).
- Local kappa ranks per species in [0, 1] (Fig. 6 c, Fig. 7), Spearman C_s between rank(1 / kappa_i) and
  rank(mobility_i) per species, and its species mean (Fig. 7).

Units: lengths (displacements, mobility, radius, cutoff) in the model's length unit; kappa in energy / length^2.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> kappa = rng.uniform(10.0, 50.0, 200)
>>> types = np.repeat([0, 1], 100)
>>> mob = 1.0 / kappa + 0.002 * rng.random(200)          # soft particles move more
>>> C = spearman_by_species(kappa, mob, types)
>>> sorted(C, key=str), bool(C["mean"] > 0.9)
([0, 1, 'mean'], True)
>>> r = species_ranks(kappa, types)
>>> float(r[types == 0].min()), float(r[types == 0].max())
(0.0, 1.0)
"""
import warnings

import numpy as np
from scipy.spatial import cKDTree
from scipy.stats import rankdata, spearmanr


# --- input checks -------------------------------------------------------------------------------------------------
def _float(value, name, ndim=None, shape=None):
    try:
        a = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of numbers, got {type(value).__name__}") from None
    if ndim is not None and a.ndim not in np.atleast_1d(ndim):
        raise ValueError(f"{name} must have {' or '.join(str(n) for n in np.atleast_1d(ndim))} dimensions, got "
                         f"shape {a.shape}")
    if shape is not None and a.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {a.shape}")
    return a


def _types(types, N):
    t = np.asarray(types)
    if t.ndim != 1 or t.shape[0] != N:
        raise ValueError(f"types must have shape ({N},) (one species per particle), got {t.shape}")
    if t.dtype == bool or not np.issubdtype(t.dtype, np.integer):
        raise ValueError(f"types must hold integer species indices, got dtype {t.dtype}")
    return t


def _box(box, d):
    b = _float(box, "box", ndim=1)
    if b.shape != (d,) or not np.all(np.isfinite(b)) or np.any(b <= 0):
        raise ValueError(f"box must be {d} positive finite side lengths (the dimension of the positions), got "
                         f"{b.tolist()}")
    return b


def _radius(r, name, box):
    if isinstance(r, bool) or not isinstance(r, (int, float, np.integer, np.floating)) or not np.isfinite(r) \
            or r <= 0:
        raise ValueError(f"{name} must be a positive finite distance, got {r!r}")
    half = 0.5 * float(np.min(box))
    if r >= half:
        raise ValueError(f"{name}={r} must be < min(box)/2 = {half} (minimum image); allowed: {name} < {half}")
    return float(r)


def _pairs(x, box, r):
    """Unordered pairs (i, j) with minimum-image distance < r, shape (P, 2)."""
    w = np.mod(x, box)
    w[w >= box] = 0.0  # mod can round up to L
    return cKDTree(w, boxsize=box).query_pairs(r, output_type="ndarray")


# --- isoconfigurational ensemble ------------------------------------------------------------------------------------
def isoconfigurational_displacements(system, model, T, nsteps, n_runs, dt=None, tau=None, seed=0, progress=False,
                                     backend="cpu"):
    """Displacements of every particle in an isoconfigurational ensemble: ``n_runs`` Nosé–Hoover NVT runs of
    ``nsteps`` steps from the same positions, each with fresh Maxwell–Boltzmann velocities.

    Parameters
    ----------
    system : System
        The initial configuration (an equilibrium configuration or its inherent structure); its velocities, if any,
        are ignored.
    model : meso_kernels.models.Model
    T : float
        Temperature (energy, k_B = 1), > 0: of the velocities and of the thermostat.
    nsteps : int
        MD steps per run, >= 0 (the paper: t = tau_alpha / 10, i.e. ``round(tau_alpha / (10 dt))``).
    n_runs : int
        Number of runs, >= 1 (the paper: 20).
    dt, tau : float, optional
        Time step and Nosé–Hoover coupling time (model time units); default ``model.state_point.dt`` and
        ``.tau_nh``.
    seed : int
        Run r draws its velocities with ``numpy.random.SeedSequence(seed).spawn(n_runs)[r]``: deterministic for a
        seed, different between runs, and run r does not depend on n_runs.
    progress : bool
        Show a tqdm bar over runs.
    backend : str
        ``"cpu"`` (default) or ``"cuda"``: where the Nosé–Hoover runs are integrated
        (:class:`~meso_kernels.integrate.NoseHoover`); the velocities are drawn on the host either way.

    Returns
    -------
    numpy.ndarray, shape (n_runs, N, d)
        Unwrapped displacements r_i(t) - r_i(0) (length), particles in the system's order.
    """
    from ..initial import maxwell_boltzmann
    from ..integrate import NoseHoover
    from ..system import System

    if not isinstance(system, System):
        raise ValueError(f"system must be a meso_kernels.system.System, got {type(system).__name__}")
    system.check_model(model)
    for name, v in (("nsteps", nsteps), ("n_runs", n_runs)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < (0 if name == "nsteps" else 1):
            raise ValueError(f"{name} must be an integer >= {0 if name == 'nsteps' else 1}, got {v!r}")
    if isinstance(T, bool) or not isinstance(T, (int, float, np.integer, np.floating)) or not np.isfinite(T) or T <= 0:
        raise ValueError(f"T must be a positive finite temperature, got {T!r}")
    sp = model.state_point
    dt = sp.dt if dt is None else dt
    tau = sp.tau_nh if tau is None else tau
    seeds = np.random.SeedSequence(seed).spawn(int(n_runs))
    out = np.empty((int(n_runs), system.N, system.dim))
    runs = range(int(n_runs))
    if progress:
        from tqdm.auto import tqdm
        runs = tqdm(runs, desc="isoconfigurational runs", unit="run")
    for r in runs:
        s = System(system.positions, system.box, system.types,
                   velocities=maxwell_boltzmann(system.N, system.dim, float(T), seeds[r]))
        sim = NoseHoover(s, model, dt=dt, T=float(T), tau=tau, backend=backend)
        x0 = sim.x
        sim.run(int(nsteps))
        out[r] = sim.x - x0
    return out


def mobility(displacements):
    """Mobility (propensity for motion) of every particle: the mean over runs of |dr_i|.

    Parameters
    ----------
    displacements : array_like, shape (n_runs, N, d) (or (N, d) for a single run)
        Displacements (length), e.g. from :func:`isoconfigurational_displacements`.

    Returns
    -------
    numpy.ndarray, shape (N,)
        <|dr_i|> over runs (length).
    """
    d = _float(displacements, "displacements", ndim=(2, 3))
    if d.ndim == 2:
        d = d[None]
    if d.shape[0] < 1 or d.shape[1] < 1 or d.shape[2] not in (2, 3):
        raise ValueError(f"displacements must have shape (n_runs, N, d) with d = 2 or 3, got {d.shape}")
    return np.sqrt(np.sum(d * d, axis=-1)).mean(axis=0)


def neighbour_relative_displacements(x0, x1, box, cutoff):
    """Neighbour-relative (cage-relative) displacements dr_i - (1/n_i) sum_{j in nb(i)} dr_j (Fig. 2; Shiba et al.
    2016), with dr = x1 - x0 and nb(i) the particles j != i with minimum-image |r_ij| < ``cutoff`` in ``x0``.

    Parameters
    ----------
    x0 : array_like, shape (N, d)
        Initial positions (length); wrapped or not (they are wrapped to find neighbours).
    x1 : array_like, shape (N, d) or (n_runs, N, d)
        Later *unwrapped* positions (length), continuous with ``x0``: dr = x1 - x0 is the true displacement. With
        several runs the same neighbour lists serve every run.
    box : array_like, shape (d,)
        Periodic box side lengths (length).
    cutoff : float
        Neighbour distance (length), 0 < cutoff < min(box)/2.

    Returns
    -------
    numpy.ndarray, shape of ``x1``
        Neighbour-relative displacements (length); a particle without neighbours keeps dr_i.
    """
    x0 = _float(x0, "x0", ndim=2)
    N, d = x0.shape
    x1 = _float(x1, "x1", ndim=(2, 3))
    if x1.shape[-2:] != (N, d):
        raise ValueError(f"x1 must have shape ({N}, {d}) or (n_runs, {N}, {d}) like x0, got {x1.shape}")
    box = _box(box, d)
    cutoff = _radius(cutoff, "cutoff", box)
    if not (np.all(np.isfinite(x0)) and np.all(np.isfinite(x1))):
        raise ValueError("x0 and x1 must be finite")
    ij = _pairs(x0, box, cutoff)
    i, j = ij[:, 0], ij[:, 1]
    n = np.bincount(i, minlength=N) + np.bincount(j, minlength=N)
    dr = x1 - x0
    flat = dr.reshape(-1, N, d)
    out = np.empty_like(flat)
    for r in range(flat.shape[0]):
        s = np.zeros((N, d))
        np.add.at(s, i, flat[r, j])
        np.add.at(s, j, flat[r, i])
        mean = s / np.maximum(n, 1)[:, None]
        out[r] = flat[r] - np.where(n[:, None] > 0, mean, 0.0)
    return out.reshape(dr.shape)


# --- ranks, extremes, correlation ---------------------------------------------------------------------------------
def species_ranks(values, types):
    """Rank of each particle's value among the particles of its own species, scaled to [0, 1].

    0 is the smallest and 1 the largest value of the species; ties get their average rank (scipy.stats.rankdata);
    a species with one particle gets 0.5. Non-finite values (e.g. the NaN local kappa of rattlers) are left out of
    the ranking and get NaN.

    Parameters
    ----------
    values : array_like, shape (N,)
    types : array_like of int, shape (N,)

    Returns
    -------
    numpy.ndarray, shape (N,)
    """
    v = _float(values, "values", ndim=1)
    t = _types(types, v.shape[0])
    out = np.full(v.shape, np.nan)
    for s in np.unique(t):
        idx = np.flatnonzero((t == s) & np.isfinite(v))
        if idx.size == 1:
            out[idx] = 0.5
        elif idx.size > 1:
            out[idx] = (rankdata(v[idx], method="average") - 1.0) / (idx.size - 1)
    return out


def local_extremes(positions, box, mobility, types, species, radius, n_keep=5):
    """The most and the least mobile particles of ``species`` that are local extremes of the mobility (Sec. III C).

    A particle i of ``species`` is a local maximum (minimum) if its mobility is strictly larger (smaller) than that
    of every other particle of the same species within ``radius`` of it (minimum image). Of the local maxima the
    ``n_keep`` most mobile are kept, of the local minima the ``n_keep`` least mobile. The paper uses radius =
    r_cut of the large-large pair (``model.rcut[model.large, model.large]``), the large species and n_keep = 5.

    Parameters
    ----------
    positions : array_like, shape (N, d)
        Positions (length) of the initial configuration.
    box : array_like, shape (d,)
    mobility : array_like, shape (N,)
    types : array_like of int, shape (N,)
    species : int
        One of the species present in ``types``.
    radius : float
        0 < radius < min(box)/2 (length).
    n_keep : int
        >= 1.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Particle indices (into the full system): ``most`` ordered by decreasing mobility and ``least`` by increasing
        mobility; each has at most ``n_keep`` entries (fewer if there are fewer local extremes).
    """
    x = _float(positions, "positions", ndim=2)
    N, d = x.shape
    box = _box(box, d)
    m = _float(mobility, "mobility", shape=(N,))
    t = _types(types, N)
    present = sorted(int(s) for s in np.unique(t))
    if isinstance(species, bool) or not isinstance(species, (int, np.integer)) or int(species) not in present:
        raise ValueError(f"species={species!r} is not present; allowed: one of {present}")
    radius = _radius(radius, "radius", box)
    if isinstance(n_keep, bool) or not isinstance(n_keep, (int, np.integer)) or n_keep < 1:
        raise ValueError(f"n_keep must be an integer >= 1, got {n_keep!r}")
    if not np.all(np.isfinite(m)):
        raise ValueError("mobility must be finite")
    idx = np.flatnonzero(t == species)
    ms = m[idx]
    ij = _pairs(x[idx], box, radius)
    nmax = np.full(idx.size, -np.inf)
    nmin = np.full(idx.size, np.inf)
    if ij.size:
        i, j = ij[:, 0], ij[:, 1]
        np.maximum.at(nmax, i, ms[j])
        np.maximum.at(nmax, j, ms[i])
        np.minimum.at(nmin, i, ms[j])
        np.minimum.at(nmin, j, ms[i])
    top = np.flatnonzero(ms > nmax)
    bottom = np.flatnonzero(ms < nmin)
    top = top[np.argsort(-ms[top], kind="stable")][:n_keep]
    bottom = bottom[np.argsort(ms[bottom], kind="stable")][:n_keep]
    return idx[top], idx[bottom]


def spearman_by_species(local_kappa, mobility, types):
    """Spearman rank correlation C_s between 1/kappa_i and the mobility, per species, and their mean (Fig. 7).

    C_s = scipy.stats.spearmanr(1 / kappa_i, mobility_i) over the particles of species s; a positive C_s means
    soft particles (small kappa) are mobile. Particles with a non-finite local kappa (rattlers: no interacting pair,
    NaN from :attr:`meso_kernels.dipole` ``local_kappa``) or non-finite mobility are excluded. A species with fewer
    than 3 remaining particles gets NaN.

    Parameters
    ----------
    local_kappa : array_like, shape (N,)
        Local dipole stiffness kappa_i (energy / length^2), > 0 where finite.
    mobility : array_like, shape (N,)
    types : array_like of int, shape (N,)

    Returns
    -------
    dict
        ``{species: C_s}`` for every species present, and ``"mean"``: the mean of the finite C_s over species (the
        paper's species-averaged C_s; NaN if none is finite).
    """
    k = _float(local_kappa, "local_kappa", ndim=1)
    N = k.shape[0]
    m = _float(mobility, "mobility", shape=(N,))
    t = _types(types, N)
    ok = np.isfinite(k) & np.isfinite(m)
    if np.any(k[ok] <= 0):
        raise ValueError(f"local_kappa must be > 0 where finite (1/kappa is ranked), got minimum {k[ok].min()!r}")
    out = {}
    for s in np.unique(t):
        sel = ok & (t == s)
        if np.count_nonzero(sel) < 3:
            out[int(s)] = np.nan
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # constant input: nan
            out[int(s)] = float(spearmanr(1.0 / k[sel], m[sel]).statistic)
    vals = [v for v in out.values() if np.isfinite(v)]
    out["mean"] = float(np.mean(vals)) if vals else np.nan
    return out
