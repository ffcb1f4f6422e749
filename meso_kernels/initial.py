"""Initial conditions: random non-overlapping configurations and Maxwell–Boltzmann velocities.

>>> from meso_kernels.models import get_model
>>> s = random_configuration(get_model("ipl", dim=2), N=100, rho=0.86, seed=1)
>>> s.N, s.dim, round(s.density, 6), s.n_types
(100, 2, 0.86, 2)
>>> v = maxwell_boltzmann(100, 2, T=0.5, seed=2)
>>> v.shape, round(float((v ** 2).sum() / (2 * 99)), 12)
((100, 2), 0.5)
"""
import itertools
import warnings

import numpy as np

from .system import System

#: Defaults of the minimum insertion distance: ``MIN_DIST_FACTOR * d_ab`` with ``d_ab`` the distance at which the
#: pair potential reaches ``CONTACT_ENERGY`` (energy units of the model) coming in from large r.
MIN_DIST_FACTOR = 0.75
CONTACT_ENERGY = 5.0


def contact_distances(model, energy=CONTACT_ENERGY):
    """The "natural diameter" of every species pair: the largest r with ``phi_ab(r) >= energy``.

    Found by scanning ``model.phi`` inwards from the cut-off on a grid of 4000 points down to 1% of the cut-off,
    then bisecting to 1e-12 relative. For SW only the two-body term counts.

    Parameters
    ----------
    model : meso_kernels.models.Model
    energy : float
        Threshold energy (the model's energy unit), > 0.

    Returns
    -------
    numpy.ndarray, shape (n_types, n_types)
        Symmetric matrix of distances (length).
    """
    if not np.isfinite(energy) or energy <= 0:
        raise ValueError(f"energy must be a positive finite number, got {energy!r}")
    n = model.n_types
    out = np.zeros((n, n))
    for a in range(n):
        for b in range(a, n):
            rc = float(model.rcut[a, b])
            r = np.linspace(rc, 0.01 * rc, 4000)
            u = model.phi(r, a, b)[0]
            hit = np.flatnonzero(u >= energy)
            if hit.size == 0:
                raise ValueError(f"model {model.name!r}: the pair potential of species ({a}, {b}) never reaches "
                                 f"energy={energy} above r = {0.01 * rc:.3g}; choose a smaller energy")
            k = hit[0]
            if k == 0:
                raise ValueError(f"model {model.name!r}: phi({a}, {b}) >= energy={energy} at the cut-off {rc}")
            lo, hi = r[k], r[k - 1]  # phi(lo) >= energy > phi(hi)
            while hi - lo > 1e-12 * hi:
                mid = 0.5 * (lo + hi)
                if model.phi(mid, a, b)[0][0] >= energy:
                    lo = mid
                else:
                    hi = mid
            out[a, b] = out[b, a] = lo
    return out


def default_min_dist(model, factor=MIN_DIST_FACTOR, energy=CONTACT_ENERGY):
    """Minimum pair distances for random insertion: ``factor * contact_distances(model, energy)``, (n_types, n_types).

    With the defaults (0.75, 5) this is e.g. 0.64 for IPL small-small pairs and 0.67 for mBLJ AA pairs.
    """
    if not np.isfinite(factor) or factor <= 0:
        raise ValueError(f"factor must be a positive finite number, got {factor!r}")
    return factor * contact_distances(model, energy)


def _min_dist_matrix(model, min_dist):
    n = model.n_types
    if min_dist is None:
        return default_min_dist(model)
    m = np.asarray(min_dist, dtype=float)
    if m.ndim == 0:
        m = np.full((n, n), float(m))
    if m.shape != (n, n):
        raise ValueError(f"min_dist must be None, a number or an array of shape ({n}, {n}) (n_types of model "
                         f"{model.name!r}), got shape {m.shape}")
    if not np.all(np.isfinite(m)) or np.any(m < 0):
        raise ValueError(f"min_dist must be finite and >= 0, got {m.tolist()}")
    if not np.allclose(m, m.T):
        raise ValueError(f"min_dist must be symmetric, got {m.tolist()}")
    return m


def _insert(L, d, types, min_dist, rng, max_tries):
    """Random sequential insertion with a cell grid; returns positions (N, d) or None and the failing count."""
    N = types.size
    pos = np.zeros((N, d))
    md2 = min_dist ** 2
    cell = max(float(min_dist.max()), 1e-12)
    nc = int(L // cell)
    use_cells = nc >= 3
    if use_cells:
        cells = [[] for _ in range(nc ** d)]
        offsets = np.array(list(itertools.product((-1, 0, 1), repeat=d)))
        strides = nc ** np.arange(d - 1, -1, -1)
    # insert the species with the largest self-exclusion first: it fails first near jamming
    order = np.argsort(-np.diag(min_dist)[types], kind="stable")
    placed = []
    batch = np.empty((0, d))
    for count, i in enumerate(order):
        row = md2[types[i]]
        for _ in range(max_tries):
            if batch.shape[0] == 0:
                batch = rng.random((64, d)) * L
            x, batch = batch[0], batch[1:]
            if use_cells:
                c = np.minimum((x / L * nc).astype(np.int64), nc - 1)
                ids = (((c + offsets) % nc) @ strides).tolist()
                nb = [j for cid in ids for j in cells[cid]]
            else:
                nb = placed
            if nb:
                nb = np.asarray(nb)
                dr = pos[nb] - x
                dr -= L * np.round(dr / L)
                if np.any(np.einsum("ij,ij->i", dr, dr) < row[types[nb]]):
                    continue
            pos[i] = x
            placed.append(i)
            if use_cells:
                cells[int(c @ strides)].append(i)
            break
        else:
            return None, count
    return pos, N


def _lattice(L, d, N, rng):
    """N distinct sites of a simple cubic (square) lattice filling the box, jittered by +-5% of the spacing."""
    n = int(np.ceil(N ** (1.0 / d) - 1e-9))
    a = L / n
    sites = np.array(list(itertools.product(range(n), repeat=d)), dtype=float)
    chosen = sites[np.sort(rng.choice(sites.shape[0], size=N, replace=False))]
    pos = (chosen + 0.5 + rng.uniform(-0.05, 0.05, size=(N, d))) * a
    return pos % L, a


def random_configuration(model, N, rho, seed, min_dist=None, max_tries=1000):
    """A random configuration of ``model`` at density ``rho`` with no pair closer than a minimum distance.

    Random sequential insertion into a cubic (square in 2D) periodic box of side ``(N / rho)^(1/d)``: each particle
    is tried at uniform random positions (at most ``max_tries`` times) until no placed particle of species b lies
    closer than ``min_dist[a, b]``; a cell grid keeps each trial O(1). Species come from ``model.counts(N)`` and
    are shuffled over particle indices. If some particle cannot be placed, the configuration falls back to a
    jittered simple cubic (square) lattice and a ``RuntimeWarning`` says so (and whether the lattice still keeps
    the minimum distances). Deterministic for a seed.

    Parameters
    ----------
    model : meso_kernels.models.Model
        Gives the dimension d, the composition and (by default) the minimum distances.
    N : int
        Number of particles, >= 2.
    rho : float
        Number density N / V (length^-d), > 0.
    seed : int or numpy.random.SeedSequence
        Seed of a ``numpy.random.default_rng`` generator.
    min_dist : None, float or array_like (n_types, n_types)
        Minimum pair distances (length). Default :func:`default_min_dist`: 0.75 times the distance where the pair
        potential reaches 5 energy units coming in from large r (:func:`contact_distances`).
    max_tries : int
        Trials per particle before falling back to a lattice.

    Returns
    -------
    System
        Without velocities (use :func:`maxwell_boltzmann`).
    """
    N = _check_N(N)
    if not isinstance(rho, (int, float, np.integer, np.floating)) or not np.isfinite(rho) or rho <= 0:
        raise ValueError(f"rho must be a positive finite number density, got {rho!r}")
    if int(max_tries) < 1:
        raise ValueError(f"max_tries must be >= 1, got {max_tries!r}")
    d = model.dim
    md = _min_dist_matrix(model, min_dist)
    rng = np.random.default_rng(seed)
    types = rng.permutation(np.repeat(np.arange(model.n_types), model.counts(N))).astype(np.int32)
    L = (N / float(rho)) ** (1.0 / d)
    pos, placed = _insert(L, d, types, md, rng, int(max_tries))
    if pos is None:
        pos, a = _lattice(L, d, N, rng)
        gap = 0.9 * a  # smallest possible distance between jittered sites
        kept = "keeps" if gap >= md.max() else f"does NOT keep (largest min_dist {md.max():.4g} > {gap:.4g})"
        warnings.warn(f"random insertion placed only {placed} of N={N} particles at rho={rho} (max_tries="
                      f"{max_tries}); fell back to a jittered lattice of spacing {a:.4g}, which {kept} the minimum "
                      f"distances", RuntimeWarning, stacklevel=2)
    box = np.full(d, L)
    return System.wrapped(pos, box, types=types)


def _check_N(N):
    if isinstance(N, bool) or not isinstance(N, (int, np.integer)) or N < 2:
        raise ValueError(f"N must be an integer >= 2, got {N!r}")
    return int(N)


def maxwell_boltzmann(N, dim, T, seed):
    """Maxwell–Boltzmann velocities (unit masses) with zero total momentum at kinetic temperature exactly T.

    Draws Gaussian components, removes the mean velocity and rescales so that ``sum |v|^2 / (d (N - 1)) = T``
    (d(N - 1) degrees of freedom, as in :meth:`meso_kernels.system.System.temperature`).

    Parameters
    ----------
    N : int
        Number of particles, >= 2.
    dim : int
        Dimension d, 2 or 3.
    T : float
        Temperature (energy, k_B = 1), >= 0; T = 0 gives zero velocities.
    seed : int or numpy.random.SeedSequence
        Seed of a ``numpy.random.default_rng`` generator.

    Returns
    -------
    numpy.ndarray, shape (N, dim)
        Velocities (length / time).
    """
    N = _check_N(N)
    if dim not in (2, 3):
        raise ValueError(f"dim must be 2 or 3 (allowed: 2, 3), got {dim!r}")
    if not isinstance(T, (int, float, np.integer, np.floating)) or not np.isfinite(T) or T < 0:
        raise ValueError(f"T must be a finite temperature >= 0, got {T!r}")
    rng = np.random.default_rng(seed)
    v = rng.standard_normal((N, dim))
    v -= v.mean(axis=0)
    if T == 0:
        return np.zeros((N, dim))
    v *= np.sqrt(T * dim * (N - 1) / np.sum(v * v))
    v -= v.mean(axis=0)  # the rescaling keeps the mean at zero up to rounding; remove that rounding too
    return v
