"""Local dipole stiffness against isoconfigurational mobility over an ensemble of configurations (paper Sec. III C,
Figs 6(b, c) and 7; MODELS.md section 9).

Everything here works on plain arrays, configuration c = 0 .. n_conf-1 and particle i = 0 .. N-1, with the same
particles (and species) in every configuration:

- ``local_kappa`` (n_conf, N): κ_i of the inherent structure of each configuration (energy / length²; NaN for
  rattlers, which have no interacting pair);
- ``mobility`` (n_conf, N): the isoconfigurational mobility <|Δr_i(t_obs)|> of each particle (length);
- ``positions`` (n_conf, N, d) and ``box`` (d,): the configurations the runs start from (length);
- ``types`` (N,): integer species.

What it computes:

- :func:`extreme_populations`: the paper's mobile and immobile populations (per configuration, the local extremes of
  the mobility among the particles of one species within a radius, then the ``n_keep`` most and least mobile of
  them, pooled over configurations) and the "total" population (every particle of that species), each with
  κ_i/<κ>_c and the per-species rank of κ_i in its configuration;
- :class:`PopulationHistograms`: P(κ/<κ>) of the three populations and the rank distributions of the mobile and
  immobile ones on fixed grids (Fig. 6(b, c));
- :func:`ensemble_spearman`: the species-averaged Spearman C_s between rank(1/κ_i) and rank(mobility_i), per
  configuration, its ensemble mean and a bootstrap interval over configurations (Fig. 7);
- :func:`null_spearman`: the same statistic with κ taken from another configuration or shuffled within species,
  which must average to zero.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> n_conf, N, L = 6, 400, 8.0
>>> types = np.repeat([0, 1], N // 2)
>>> kappa = rng.uniform(10.0, 50.0, (n_conf, N))
>>> mob = 1.0 / kappa                                  # soft particles are the mobile ones
>>> x = rng.random((n_conf, N, 3)) * L
>>> pops = extreme_populations(x, [L, L, L], kappa, mob, types, species=1, radius=1.5)
>>> len(pops.mobile), len(pops.immobile), len(pops.total)
(30, 30, 1200)
>>> bool(pops.mobile.kappa_rank.max() < 0.2), bool(pops.immobile.kappa_rank.min() > 0.8)
(True, True)
>>> C = ensemble_spearman(kappa, mob, types, seed=1)
>>> round(C.mean, 12), C.per_config.shape
(1.0, (6,))
>>> null = null_spearman(kappa, mob, types, method="shuffle", seed=1)
>>> bool(abs(null.mean) < 0.2)
True
"""
from dataclasses import dataclass

import numpy as np

from .propensity import _box, _float, _radius, _types, local_extremes, spearman_by_species, species_ranks
from .stats import CONFIDENCE, mean_ci

#: fewest configurations for a bootstrap interval over configurations
MIN_CONF_INTERVAL = 3
#: the reference averages <κ>_c that κ_i is divided by (see :func:`kappa_ratio`)
AVERAGES = ("all", "species")
#: the null controls of :func:`null_spearman`
NULL_METHODS = ("other", "shuffle")


# --- input checks -------------------------------------------------------------------------------------------------
def _fields(local_kappa, mobility, types):
    """Checked (n_conf, N) κ and mobility arrays and (N,) types."""
    k = _float(local_kappa, "local_kappa", ndim=2)
    if k.shape[0] < 1 or k.shape[1] < 1:
        raise ValueError(f"local_kappa must have shape (n_conf, N) with n_conf, N >= 1, got {k.shape}")
    m = _float(mobility, "mobility", shape=k.shape)
    t = _types(types, k.shape[1])
    finite = np.isfinite(k)
    if np.any(k[finite] <= 0):
        raise ValueError(f"local_kappa must be > 0 where finite (NaN marks rattlers), got minimum "
                         f"{k[finite].min()!r}")
    if not np.all(np.isfinite(m)):
        c, i = np.argwhere(~np.isfinite(m))[0]
        raise ValueError(f"mobility must be finite, got {float(m[c, i])!r} at configuration {c}, particle {i}")
    return k, m, t


def _species(species, types):
    present = sorted(int(s) for s in np.unique(types))
    if isinstance(species, bool) or not isinstance(species, (int, np.integer)) or int(species) not in present:
        raise ValueError(f"species={species!r} is not present in types; allowed: one of {present}")
    return int(species)


def _average(average):
    if average not in AVERAGES:
        raise ValueError(f"average must be one of {', '.join(repr(a) for a in AVERAGES)}, got {average!r}")
    return average


# --- kappa ratio and populations ----------------------------------------------------------------------------------
def kappa_ratio(local_kappa, types, average="all"):
    """κ_i / <κ>_c: each κ_i divided by an average of κ over its own configuration.

    Parameters
    ----------
    local_kappa : array_like, shape (n_conf, N)
        κ_i (energy / length²), NaN for rattlers.
    types : array_like of int, shape (N,)
    average : {"all", "species"}
        ``"all"``: <κ>_c is the arithmetic mean of the finite κ_i over *every* particle of configuration c (the bulk
        average of the configuration; the paper's "bulk average"); ``"species"``: the mean over the particles of
        i's own species in configuration c (then every species is centred on 1).

    Returns
    -------
    numpy.ndarray, shape (n_conf, N)
        Dimensionless; NaN where κ_i is NaN.

    >>> kappa_ratio([[1.0, 3.0, 2.0, 2.0]], [0, 0, 1, 1]).tolist()
    [[0.5, 1.5, 1.0, 1.0]]
    >>> kappa_ratio([[1.0, 3.0, 2.0, 4.0]], [0, 0, 1, 1], average="species").tolist()
    [[0.5, 1.5, 0.6666666666666666, 1.3333333333333333]]
    """
    k = _float(local_kappa, "local_kappa", ndim=2)
    t = _types(types, k.shape[1])
    average = _average(average)
    out = np.full(k.shape, np.nan)
    groups = [np.ones(t.shape, bool)] if average == "all" else [t == s for s in np.unique(t)]
    for sel in groups:
        sub = k[:, sel]
        n = np.isfinite(sub).sum(axis=1)
        if np.any(n == 0):
            c = int(np.flatnonzero(n == 0)[0])
            raise ValueError(f"configuration {c} has no finite local_kappa"
                             + ("" if average == "all" else f" in species {int(t[sel][0])}")
                             + " to average over")
        mean = np.nansum(sub, axis=1) / n
        out[:, sel] = sub / mean[:, None]
    return out


def kappa_ranks(local_kappa, types):
    """Per configuration, the rank of κ_i among the particles of its species, in [0, 1] (0: the lowest κ of that
    species in that configuration, 1: the highest; ties averaged; NaN for rattlers, which are not ranked).

    Parameters
    ----------
    local_kappa : array_like, shape (n_conf, N)
    types : array_like of int, shape (N,)

    Returns
    -------
    numpy.ndarray, shape (n_conf, N)

    >>> kappa_ranks([[3.0, 1.0, 2.0, 5.0, 4.0]], [0, 0, 0, 1, 1]).tolist()
    [[1.0, 0.0, 0.5, 1.0, 0.0]]
    """
    k = _float(local_kappa, "local_kappa", ndim=2)
    t = _types(types, k.shape[1])
    return np.array([species_ranks(row, t) for row in k]).reshape(k.shape)


@dataclass(frozen=True)
class Population:
    """Particles pooled over configurations: ``config`` and ``particle`` (int, shape (n,)) locate each one;
    ``mobility`` (length), ``kappa_ratio`` (κ_i/<κ>_c, dimensionless) and ``kappa_rank`` (per-species rank of κ_i in
    its configuration, [0, 1]) are its values, shape (n,). Rattlers keep NaN in ``kappa_ratio`` and
    ``kappa_rank``."""
    name: str
    config: np.ndarray
    particle: np.ndarray
    mobility: np.ndarray
    kappa_ratio: np.ndarray
    kappa_rank: np.ndarray

    def __len__(self):
        return int(self.config.size)

    @property
    def n_rattlers(self):
        """How many members have no κ_i (NaN: no interacting pair); histograms leave them out."""
        return int(np.count_nonzero(~np.isfinite(self.kappa_ratio)))


@dataclass(frozen=True)
class Populations:
    """The mobile, immobile and total populations of :func:`extreme_populations` and how they were chosen."""
    mobile: Population
    immobile: Population
    total: Population
    species: int
    radius: float
    n_keep: int
    average: str
    n_conf: int

    def __iter__(self):
        return iter((self.mobile, self.immobile, self.total))


def extreme_populations(positions, box, local_kappa, mobility, types, species, radius, n_keep=5, average="all"):
    """The mobile, immobile and total populations of an ensemble (Sec. III C, Fig. 6(b, c)).

    Per configuration c, a particle of ``species`` is a local maximum (minimum) of the mobility if it is strictly
    more (less) mobile than every other particle of ``species`` within ``radius`` of it (minimum image; see
    :func:`~meso_kernels.analysis.propensity.local_extremes`); the ``n_keep`` most mobile local maxima join the
    *mobile* population and the ``n_keep`` least mobile local minima the *immobile* one. The paper: the large
    species, radius = r_cut^BB (``model.rcut[model.large, model.large]``), n_keep = 5, so 5 x n_conf of each.

    The *total* population is every particle of ``species`` in every configuration: the mobile and immobile
    particles are drawn from that species only, so the reference distribution they are compared with is that of the
    same species (the other species has a different κ distribution, e.g. through its coordination).

    Parameters
    ----------
    positions : array_like, shape (n_conf, N, d)
        The configurations the isoconfigurational runs start from (length).
    box : array_like, shape (d,)
        Periodic box (length), the same for every configuration.
    local_kappa : array_like, shape (n_conf, N)
        κ_i of the inherent structure of each configuration (energy / length²), NaN for rattlers.
    mobility : array_like, shape (n_conf, N)
        Isoconfigurational mobility (length), finite.
    types : array_like of int, shape (N,)
    species : int
        The species the populations are drawn from (present in ``types``).
    radius : float
        Radius of the neighbourhood of a local extreme (length), 0 < radius < min(box)/2.
    n_keep : int
        Local extremes kept per configuration and population, >= 1.
    average : {"all", "species"}
        The <κ>_c of ``kappa_ratio`` (:func:`kappa_ratio`): the mean of κ_i over all particles of configuration c,
        or over the particles of ``species`` in it.

    Returns
    -------
    Populations
        ``mobile`` (ordered by configuration, then by decreasing mobility), ``immobile`` (by configuration, then by
        increasing mobility) and ``total`` (by configuration, then particle index), each a :class:`Population`.
    """
    k, m, t = _fields(local_kappa, mobility, types)
    n_conf, N = k.shape
    x = _float(positions, "positions", ndim=3)
    if x.shape[:2] != (n_conf, N) or x.shape[2] not in (2, 3):
        raise ValueError(f"positions must have shape ({n_conf}, {N}, d) with d = 2 or 3 (one configuration per row "
                         f"of local_kappa), got {x.shape}")
    b = _box(box, x.shape[2])
    species = _species(species, t)
    radius = _radius(radius, "radius", b)
    if isinstance(n_keep, bool) or not isinstance(n_keep, (int, np.integer)) or n_keep < 1:
        raise ValueError(f"n_keep must be an integer >= 1, got {n_keep!r}")
    average = _average(average)
    ratio = kappa_ratio(k, t, average)
    rank = kappa_ranks(k, t)
    found = {"mobile": ([], []), "immobile": ([], [])}
    for c in range(n_conf):
        most, least = local_extremes(x[c], b, m[c], t, species, radius, n_keep=int(n_keep))
        for name, idx in (("mobile", most), ("immobile", least)):
            found[name][0].append(np.full(idx.size, c))
            found[name][1].append(idx)

    def population(name, conf, part):
        conf = np.concatenate(conf).astype(int)
        part = np.concatenate(part).astype(int)
        return Population(name, conf, part, m[conf, part], ratio[conf, part], rank[conf, part])

    of_species = np.flatnonzero(t == species)
    total = population("total", [np.repeat(np.arange(n_conf), of_species.size)], [np.tile(of_species, n_conf)])
    return Populations(population("mobile", *found["mobile"]), population("immobile", *found["immobile"]), total,
                       species, radius, int(n_keep), average, n_conf)


# --- histograms ---------------------------------------------------------------------------------------------------
def _edges(edges, name, lo=None, hi=None):
    e = _float(edges, name, ndim=1)
    if e.size < 2 or not np.all(np.isfinite(e)) or np.any(np.diff(e) <= 0):
        raise ValueError(f"{name} must be >= 2 finite, strictly increasing bin edges, got {e.tolist()}")
    if lo is not None and (e[0] > lo or e[-1] < hi):
        raise ValueError(f"{name} must cover [{lo}, {hi}], got [{e[0]}, {e[-1]}]")
    return e


def density(values, edges):
    """Probability density of ``values`` on the bins ``edges``: counts / (n x bin width), with n the number of
    finite values, *including* those outside the grid (so the density integrates to the fraction inside it).

    Returns (density, fraction outside the grid); density is NaN everywhere when there is no finite value.

    >>> d, out = density([0.1, 0.2, 0.3, 5.0], [0.0, 0.5, 1.0])
    >>> d.tolist(), out
    ([1.5, 0.0], 0.25)
    """
    e = _edges(edges, "edges")
    v = _float(values, "values").ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return np.full(e.size - 1, np.nan), np.nan
    counts, _ = np.histogram(v, bins=e)
    return counts / (v.size * np.diff(e)), float(1.0 - counts.sum() / v.size)


class PopulationHistograms:
    """P(κ/<κ>) of the mobile, immobile and total populations and the distribution of the κ rank of the mobile and
    immobile ones (Fig. 6(b, c)), on fixed grids (freud style: ``compute`` returns ``self``).

    Parameters
    ----------
    ratio_edges : array_like, shape (n_ratio + 1,)
        Bin edges of κ/<κ> (dimensionless), strictly increasing. Values outside are counted in the normalisation
        (the density integrates to the fraction inside) and reported by ``outside``.
    rank_edges : array_like, shape (n_rank + 1,)
        Bin edges of the rank, covering [0, 1] (default: 10 bins of 0.1).

    Results (``RuntimeError`` before ``compute``): ``ratio`` and ``rank``: ``{population name: density}`` (ratio for
    "mobile", "immobile", "total"; rank for "mobile" and "immobile"); ``counts``: members with a finite κ per
    population; ``outside``: fraction of each population's finite κ/<κ> outside ``ratio_edges``.

    >>> import numpy as np
    >>> h = PopulationHistograms(np.linspace(0.0, 2.0, 5))
    >>> h.ratio_centres.tolist(), h.rank_centres.size
    ([0.25, 0.75, 1.25, 1.75], 10)
    """

    def __init__(self, ratio_edges, rank_edges=None):
        self.ratio_edges = _edges(ratio_edges, "ratio_edges")
        self.rank_edges = _edges(np.linspace(0.0, 1.0, 11) if rank_edges is None else rank_edges, "rank_edges",
                                 0.0, 1.0)
        self._ratio = None

    @property
    def ratio_centres(self):
        return 0.5 * (self.ratio_edges[1:] + self.ratio_edges[:-1])

    @property
    def rank_centres(self):
        return 0.5 * (self.rank_edges[1:] + self.rank_edges[:-1])

    def compute(self, populations):
        """Histogram the :class:`Populations` of :func:`extreme_populations`; returns ``self``."""
        if not isinstance(populations, Populations):
            raise ValueError(f"populations must be the Populations of extreme_populations, got "
                             f"{type(populations).__name__}")
        self._ratio, self._rank, self._counts, self._outside = {}, {}, {}, {}
        for p in populations:
            self._ratio[p.name], self._outside[p.name] = density(p.kappa_ratio, self.ratio_edges)
            self._counts[p.name] = len(p) - p.n_rattlers
            if p.name != "total":
                self._rank[p.name], _ = density(p.kappa_rank, self.rank_edges)
        return self

    def _need(self):
        if self._ratio is None:
            raise RuntimeError("PopulationHistograms: call compute(populations) first")

    @property
    def ratio(self):
        self._need()
        return dict(self._ratio)

    @property
    def rank(self):
        self._need()
        return dict(self._rank)

    @property
    def counts(self):
        self._need()
        return dict(self._counts)

    @property
    def outside(self):
        self._need()
        return dict(self._outside)


# --- Spearman C_s over an ensemble --------------------------------------------------------------------------------
@dataclass(frozen=True)
class EnsembleSpearman:
    """The species-averaged Spearman C_s of every configuration and their ensemble mean.

    per_config (n_conf,): C_s of each configuration averaged over species (:func:`spearman_by_species`);
    per_species: ``{species: (n_conf,)}``; mean: the mean of ``per_config``; low, high: its bootstrap interval
    (BCa, resampling configurations) at ``confidence``; label: what κ was paired with the mobility."""
    per_config: np.ndarray
    per_species: dict
    mean: float
    low: float
    high: float
    confidence: float
    label: str

    @property
    def n_conf(self):
        return int(self.per_config.size)

    @property
    def median_config(self):
        """The configuration whose C_s is closest to the ensemble median (the lowest index among ties): a rule for
        a representative configuration."""
        return int(np.argmin(np.abs(self.per_config - np.median(self.per_config))))


def _interval(per_config, confidence, n_resamples, seed):
    if per_config.size < MIN_CONF_INTERVAL:
        raise ValueError(f"a bootstrap interval over configurations needs n_conf >= {MIN_CONF_INTERVAL}, got "
                         f"{per_config.size}")
    if isinstance(confidence, bool) or not (0.0 < confidence < 1.0):
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, (int, np.integer)) or n_resamples < 100:
        raise ValueError(f"n_resamples must be an integer >= 100, got {n_resamples!r}")
    return mean_ci(per_config, confidence=confidence, n_resamples=int(n_resamples), seed=seed)


def _spearman(kappa_of, m, t, confidence, n_resamples, seed, label):
    """EnsembleSpearman of mobility row c against the κ row ``kappa_of(c)``."""
    species = [int(s) for s in np.unique(t)]
    per_species = {s: np.empty(m.shape[0]) for s in species}
    per_config = np.empty(m.shape[0])
    for c in range(m.shape[0]):
        C = spearman_by_species(kappa_of(c), m[c], t)
        if not np.isfinite(C["mean"]):
            raise ValueError(f"configuration {c}: no species has 3 or more particles with a finite local_kappa, so "
                             f"C_s is undefined there")
        for s in species:
            per_species[s][c] = C[s]
        per_config[c] = C["mean"]
    mean, low, high = _interval(per_config, confidence, n_resamples, seed)
    return EnsembleSpearman(per_config, per_species, mean, low, high, float(confidence), label)


def ensemble_spearman(local_kappa, mobility, types, confidence=CONFIDENCE, n_resamples=2000, seed=None):
    """Ensemble mean of the species-averaged Spearman C_s between rank(1/κ_i) and rank(mobility_i) (Fig. 7).

    Per configuration, C_s of each species over its particles with a finite κ_i, averaged over species
    (:func:`~meso_kernels.analysis.propensity.spearman_by_species`); then the mean over configurations with a
    bootstrap (BCa) interval that resamples configurations (:func:`~meso_kernels.analysis.stats.mean_ci`).
    C_s = 1: the softest particles are exactly the most mobile ones; 0: no rank correlation.

    Parameters
    ----------
    local_kappa : array_like, shape (n_conf, N)
        κ_i (energy / length²), NaN for rattlers; n_conf >= :data:`MIN_CONF_INTERVAL`.
    mobility : array_like, shape (n_conf, N)
        Mobility (length).
    types : array_like of int, shape (N,)
    confidence : float
        Of the interval, in (0, 1); default 0.9 (the paper's 90 %).
    n_resamples : int
        Bootstrap resamples, >= 100.
    seed : int or None
        Of the bootstrap.

    Returns
    -------
    EnsembleSpearman
    """
    k, m, t = _fields(local_kappa, mobility, types)
    return _spearman(lambda c: k[c], m, t, confidence, n_resamples, seed, "same configuration")


def null_spearman(local_kappa, mobility, types, method="shuffle", offset=1, seed=0, confidence=CONFIDENCE,
                  n_resamples=2000):
    """A null control of :func:`ensemble_spearman`: C_s of each configuration's mobility against a κ field that
    carries no information about it. Its ensemble mean should be 0 within its interval.

    method="shuffle": the κ_i of configuration c permuted at random among the particles of the same species (the
    rattlers, NaN, stay where they are), with ``numpy.random.default_rng(seed)``. Under this null the C_s of every
    species has exactly the distribution of Spearman's statistic for independent samples (mean 0, variance
    1/(n_s - 1)), whatever the true correlation.

    method="other": the κ field of configuration (c + offset) mod n_conf against the mobility of configuration c.
    This is a null only if the configurations are independent of each other: configurations sampled from one
    trajectory less than about τ_α apart still share part of their structure, and then this C_s measures that
    memory rather than zero.

    Parameters
    ----------
    local_kappa, mobility, types : as for :func:`ensemble_spearman`
    method : {"shuffle", "other"}
    offset : int
        For method="other": 1 <= offset < n_conf.
    seed : int
        For method="shuffle" (the permutations) and the bootstrap.
    confidence, n_resamples : as for :func:`ensemble_spearman`

    Returns
    -------
    EnsembleSpearman
        ``label`` says which null it is.
    """
    k, m, t = _fields(local_kappa, mobility, types)
    n_conf = k.shape[0]
    if method not in NULL_METHODS:
        raise ValueError(f"method must be one of {', '.join(repr(x) for x in NULL_METHODS)}, got {method!r}")
    if method == "other":
        if n_conf < 2:
            raise ValueError(f"method='other' needs n_conf >= 2 (another configuration to pair with), got {n_conf}")
        if isinstance(offset, bool) or not isinstance(offset, (int, np.integer)) or not 1 <= offset < n_conf:
            raise ValueError(f"offset must be an integer with 1 <= offset < n_conf = {n_conf}, got {offset!r}")
        return _spearman(lambda c: k[(c + offset) % n_conf], m, t, confidence, n_resamples, seed,
                         f"kappa of configuration c+{int(offset)}")
    rng = np.random.default_rng(seed)
    shuffled = k.copy()
    for c in range(n_conf):
        for s in np.unique(t):
            idx = np.flatnonzero((t == s) & np.isfinite(k[c]))
            shuffled[c, idx] = k[c, rng.permutation(idx)]
    return _spearman(lambda c: shuffled[c], m, t, confidence, n_resamples, seed, "kappa shuffled within species")
