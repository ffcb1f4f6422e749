"""Radial distribution functions g(r), total and per species pair (Fig. 12; MODELS.md section 9).

For species a, b with N_a, N_b particles in a d-dimensional periodic box of volume V,

    g_ab(r) = V / (N_a N_b') < sum_{i in a} sum_{j in b, j != i} delta(r - r_ij) > / s_d(r),

with N_b' = N_b for a != b and N_a - 1 for a = b, and s_d(r) = 2 pi r (2D) or 4 pi r^2 (3D). With this finite-size
normalisation an ideal gas gives g = 1 exactly on average, and the total g relates to the partial ones by

    N (N - 1) g(r) = sum_{a, b} N_a N_b' g_ab(r)     (sum over ordered pairs (a, b)).

This is our own histogram (scipy ``cKDTree`` with periodic ``boxsize`` finds the pairs, minimum image gives the
distances), not freud: freud's RDF normalises by the density of one point set, which makes the a = a case awkward. The
tests compare the total g with ``freud.density.RDF(normalization_mode="finite_size")``.

>>> import numpy as np
>>> from meso_kernels.system import System
>>> s = System(np.random.default_rng(0).random((500, 3)) * 8.0, [8.0, 8.0, 8.0])
>>> rdf = RDF(r_max=3.0, bins=30).compute(s)
>>> rdf.r.shape, rdf.g_total.shape, sorted(rdf.g)
((30,), (30,), [(0, 0)])
"""
from collections.abc import Mapping

import numpy as np
from scipy.spatial import cKDTree

from .frames import as_frames, resolve_pairs


class _PairMap(Mapping):
    """Read-only mapping from a species pair (a, b) to an array; (b, a) finds the same entry."""

    def __init__(self, data):
        self._data = data

    def _key(self, key):
        try:
            a, b = key
            key = (min(int(a), int(b)), max(int(a), int(b)))
        except (TypeError, ValueError):
            raise KeyError(f"species pairs are (a, b) tuples of ints, got {key!r}; available: {list(self._data)}") \
                from None
        if key not in self._data:
            raise KeyError(f"species pair {key} was not computed; available: {list(self._data)}")
        return key

    def __getitem__(self, key):
        out = self._data[self._key(key)].view()
        out.flags.writeable = False
        return out

    def __iter__(self):
        return iter(self._data)

    def __len__(self):
        return len(self._data)

    def __repr__(self):
        return f"{{{', '.join(str(k) for k in self._data)}: arrays}}"


class RDF:
    """Radial distribution function, total and per species pair, averaged over frames (freud-style).

    Parameters
    ----------
    r_max : float
        Largest distance (length), > 0; must be < L/2 of every box it is computed on (minimum image).
    bins : int
        Number of equal bins on [0, r_max], >= 1.

    The average over frames is the mean of the per-frame g (each frame normalised with its own N_a, V).
    ``compute`` returns ``self``; results are properties (``g``, ``g_total``, ``n_frames``, ``pairs``) that raise
    ``RuntimeError`` before the first ``compute``. The grid (``r``, ``bin_edges``) is available at once.
    """

    def __init__(self, r_max, bins):
        if isinstance(r_max, bool) or not isinstance(r_max, (int, float, np.integer, np.floating)) \
                or not np.isfinite(r_max) or r_max <= 0:
            raise ValueError(f"r_max must be a positive finite distance, got {r_max!r}")
        if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
            raise ValueError(f"bins must be an integer >= 1, got {bins!r}")
        self.r_max = float(r_max)
        self.bins = int(bins)
        self._edges = np.linspace(0.0, self.r_max, self.bins + 1)
        self._sum = None

    # --- grid ------------------------------------------------------------------------------------------------
    @property
    def bin_edges(self):
        """Bin edges, shape (bins + 1,) (length)."""
        return self._edges.copy()

    @property
    def r(self):
        """Bin centres, shape (bins,) (length)."""
        return 0.5 * (self._edges[1:] + self._edges[:-1])

    # --- computation -------------------------------------------------------------------------------------------
    def compute(self, systems, pairs="all", reset=True):
        """Histogram one or more frames.

        Parameters
        ----------
        systems : System or iterable of System
            Frames; each must have ``r_max < min(box) / 2``.
        pairs : "all" or sequence of (a, b)
            Species pairs to resolve. "all": every pair a <= b of species 0..n_types-1 of the first frame that has
            enough particles (N_a >= 1, and N_a >= 2 when a = b). An explicit pair that lacks particles raises.
        reset : bool
            True (default) discards earlier frames; False adds these frames to the average (same ``pairs``).

        Returns
        -------
        RDF
            ``self``.
        """
        frames = as_frames(systems)
        wanted = resolve_pairs(frames[0], pairs, same_min=2)
        if reset or self._sum is None:
            self._sum, self._sum_total, self._n, self._pairs = {p: np.zeros(self.bins) for p in wanted}, \
                np.zeros(self.bins), 0, wanted
        elif wanted != self._pairs:
            raise ValueError(f"pairs={pairs!r} resolves to {wanted}, but the accumulated average holds {self._pairs}; "
                             f"use reset=True or the same pairs")
        for k, s in enumerate(frames):
            g_total, g = self._frame(s, k)
            self._sum_total += g_total
            for p in self._pairs:
                self._sum[p] += g[p]
            self._n += 1
        return self

    def _frame(self, s, k):
        half = 0.5 * float(s.box.min())
        if self.r_max >= half:
            raise ValueError(f"r_max={self.r_max} must be < min(box)/2 = {half} (frame {k}); allowed: r_max < {half}")
        n = max(s.n_types, max(max(p) for p in self._pairs) + 1)
        counts = np.bincount(s.types, minlength=n)
        for a, b in self._pairs:
            if counts[a] < 1 or counts[b] < (2 if a == b else 1):
                raise ValueError(f"species pair ({a}, {b}) is undefined in frame {k}: species counts "
                                 f"{counts.tolist()} (need N_a >= 2 for a = b, >= 1 each otherwise)")
        tree = cKDTree(s.positions, boxsize=s.box)
        ij = tree.query_pairs(self.r_max, output_type="ndarray")
        dr = s.positions[ij[:, 1]] - s.positions[ij[:, 0]]
        dr -= s.box * np.round(dr / s.box)
        r = np.sqrt(np.einsum("ij,ij->i", dr, dr))
        idx = np.floor(r / self.r_max * self.bins).astype(np.int64)
        keep = idx < self.bins
        idx, ta, tb = idx[keep], s.types[ij[keep, 0]], s.types[ij[keep, 1]]
        code = np.minimum(ta, tb).astype(np.int64) * n + np.maximum(ta, tb)
        hist = np.bincount(code * self.bins + idx, minlength=n * n * self.bins).reshape(n * n, self.bins)
        e = self._edges
        shell = np.pi * np.diff(e ** 2) if s.dim == 2 else 4.0 / 3.0 * np.pi * np.diff(e ** 3)
        V, N = s.volume, s.N
        g_total = V * hist.sum(axis=0) / (0.5 * N * (N - 1) * shell)
        g = {}
        for a, b in self._pairs:
            pairs_ab = 0.5 * counts[a] * (counts[a] - 1) if a == b else float(counts[a] * counts[b])
            g[(a, b)] = V * hist[a * n + b] / (pairs_ab * shell)
        return g_total, g

    # --- results -----------------------------------------------------------------------------------------------
    def _require(self):
        if self._sum is None:
            raise RuntimeError("RDF results are not available before compute(); call rdf.compute(systems) first")

    @property
    def n_frames(self):
        """Number of frames in the average."""
        self._require()
        return self._n

    @property
    def pairs(self):
        """The species pairs (a, b), a <= b, that were computed."""
        self._require()
        return self._pairs

    @property
    def g(self):
        """Partial g_ab(r) averaged over frames: a read-only mapping ``(a, b) -> array (bins,)``; ``g[b, a]`` is
        ``g[a, b]``."""
        self._require()
        return _PairMap({p: v / self._n for p, v in self._sum.items()})

    @property
    def g_total(self):
        """Total g(r) of all particles regardless of species, averaged over frames, shape (bins,)."""
        self._require()
        return self._sum_total / self._n
