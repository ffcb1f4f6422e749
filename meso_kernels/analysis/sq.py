"""Static structure factor S(q), total and per species pair, and the position of its first peak (q_max of Table I;
MODELS.md section 9).

The computation is freud's (``freud.diffraction.StaticStructureFactorDirect``): for wave vectors k of the periodic
box's reciprocal lattice, k = 2 pi (n_x / L_x, n_y / L_y, n_z / L_z), with |k| in a bin, it averages

    S_ab(k) = (N_a N_b)^(-1/2) Re[ rho_a(k) rho_b(k)^* ],    rho_a(k) = sum_{i in a} exp(i k . r_i)

over the vectors of the bin, per frame, and we average over frames. This is the **Ashcroft–Langreth** convention:
S_aa is the structure factor of species a alone (-> 1 at large q), S_ab -> 0 for a != b, and the total (all particles
regardless of species) is

    S(q) = sum_{a, b} sqrt(x_a x_b) S_ab(q),      x_a = N_a / N    (sum over ordered pairs).

freud returns (1/N) Re[rho_a rho_b^*] (its partials tend to x_a delta_ab at large q); we rescale them by
N / sqrt(N_a N_b).
The Faber–Ziman partials, S^FZ_ab = 1 + (S_ab - delta_ab) / sqrt(x_a x_b) (all -> 1 at large q), are available as
:attr:`StructureFactor.S_faber_ziman`.

Notes on freud (3.4): it samples only wave vectors with non-negative integer components n_x, n_y, n_z >= 0 (the
positive octant, axes included; glotzerlab/freud#1306 notes that not all k points are used). For an isotropic liquid
every S(k) is an unbiased estimate of S(|k|), so the average is unbiased but noisier than a full-shell average; for
a crystal the bin weights differ from a full-shell average. It works in float32 (S to ~1e-6 relative). freud has no
2D direct method: a 2D system is embedded in a 3D box of height pi / q_max, so that only k_z = 0 vectors fall below
q_max (the 2D reciprocal lattice exactly). Bins that hold no wave vector are nan (at low q, where the reciprocal
lattice is sparse); values below ``min_valid_q`` = 2 pi / min(L) are meaningless and nan or absent. Noise: a bin
of width dq at q holds about (pi / 2) q^2 dq (L / 2 pi)^3 vectors (3D), e.g. ~30 for dq = 0.1 at q = 6 and N = 1000
at rho = 0.82, so a smooth S(q) needs many independent frames.

Units: q in 1 / length (the model's reduced units), S dimensionless.

>>> import numpy as np
>>> from meso_kernels.system import System
>>> rng = np.random.default_rng(0)
>>> s = System(rng.random((400, 3)) * 8.0, [8.0, 8.0, 8.0], types=rng.integers(0, 2, 400))
>>> sf = StructureFactor(q_max=12.0, bins=24).compute(s)
>>> sf.q.shape, sf.S_total.shape, sorted(sf.S)
((24,), (24,), [(0, 0), (0, 1), (1, 1)])
>>> high = sf.q > 6.0                                            # an ideal gas: S_aa ~ 1, S_ab ~ 0
>>> bool(abs(np.nanmean(sf.S[0, 0][high]) - 1) < 0.1), bool(abs(np.nanmean(sf.S[0, 1][high])) < 0.1)
(True, True)
"""
import numpy as np

from .frames import as_frames, resolve_pairs
from .rdf import _PairMap


def _positive_number(value, name, allow_zero=False):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        allowed = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {allowed}, got {value!r}")
    return float(value)


class StructureFactor:
    """Static structure factor S(q), total and per species pair (Ashcroft–Langreth), averaged over frames; computed
    by freud (see the module docstring for the formula, the conventions and freud's sampling of wave vectors).

    Parameters
    ----------
    q_max : float
        Largest wave number (1 / length), > 0.
    bins : int
        Number of equal bins on [q_min, q_max], >= 1.
    q_min : float, optional
        Smallest wave number (1 / length), 0 <= q_min < q_max; default None: 0. The k = 0 vector (the forward
        scattering S(0) = N) is always excluded.

    ``compute`` returns ``self``; results (``S_total``, ``S``, ``S_faber_ziman``, ``pairs``, ``n_frames``,
    ``min_valid_q``, ``first_peak``) raise ``RuntimeError`` before the first ``compute``. The grid (``q``,
    ``bin_edges``) is available at once. Reference: MODELS.md section 9 (q_max of the large species, Table I).
    """

    def __init__(self, q_max, bins, q_min=None):
        q_max = _positive_number(q_max, "q_max")
        if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
            raise ValueError(f"bins must be an integer >= 1, got {bins!r}")
        if q_min is None:
            q_min = 0.0
        else:
            q_min = _positive_number(q_min, "q_min", allow_zero=True)
            if q_min >= q_max:
                raise ValueError(f"q_min={q_min} must be < q_max={q_max}; allowed: 0 <= q_min < q_max")
        self.q_max, self.q_min, self.bins = q_max, q_min, int(bins)
        self._edges = np.linspace(q_min, q_max, self.bins + 1)
        self._sum = None

    # --- grid ------------------------------------------------------------------------------------------------
    @property
    def bin_edges(self):
        """Bin edges, shape (bins + 1,) (1 / length)."""
        return self._edges.copy()

    @property
    def q(self):
        """Bin centres, shape (bins,) (1 / length)."""
        return 0.5 * (self._edges[1:] + self._edges[:-1])

    # --- computation -------------------------------------------------------------------------------------------
    def compute(self, systems, pairs="all", reset=True):
        """Compute S(q) of one or more frames (all in the same box) and average them.

        Parameters
        ----------
        systems : System or iterable of System
            Frames, 2D or 3D, all with the same box (and the same box as earlier frames when ``reset=False``).
        pairs : "all" or sequence of (a, b)
            Species pairs to resolve. "all": every pair a <= b of species 0..n_types-1 of the first frame that are
            present (N_a >= 1, N_b >= 1). An explicit pair whose species are absent raises.
        reset : bool
            True (default) discards earlier frames; False adds these frames to the average (same box and pairs).

        Returns
        -------
        StructureFactor
            ``self``.
        """
        import freud

        frames = as_frames(systems)
        box = frames[0].box
        if not reset and self._sum is not None:
            box = self._box
        for k, s in enumerate(frames):
            if s.box.shape != box.shape or not np.array_equal(s.box, box):
                raise ValueError(f"systems must share one fixed box: frame {k} has box {s.box.tolist()}, expected "
                                 f"{box.tolist()} (allowed: the same box in every frame)")
        wanted = resolve_pairs(frames[0], pairs, same_min=1)
        if reset or self._sum is None:
            self._sum = {p: np.zeros(self.bins) for p in wanted}
            self._sum_total, self._n, self._pairs, self._box = np.zeros(self.bins), 0, wanted, box.copy()
        elif wanted != self._pairs:
            raise ValueError(f"pairs={pairs!r} resolves to {wanted}, but the accumulated average holds {self._pairs}; "
                             f"use reset=True or the same pairs")
        k_min = max(self.q_min, 1e-9 * self.q_max)  # excludes k = 0
        sf = freud.diffraction.StaticStructureFactorDirect(bins=self.bins, k_max=self.q_max, k_min=k_min)
        for k, s in enumerate(frames):
            fbox, pts = self._freud_frame(freud, s)
            N = s.N
            counts = np.bincount(s.types, minlength=max(max(p) for p in self._pairs) + 1)
            for a, b in self._pairs:
                if counts[a] < 1 or counts[b] < 1:
                    raise ValueError(f"species pair ({a}, {b}) is undefined in frame {k}: species counts "
                                     f"{counts.tolist()} (need N_a >= 1 and N_b >= 1)")
            sf.compute((fbox, pts))
            self._sum_total += sf.S_k
            for a, b in self._pairs:
                pa, pb = pts[s.types == a], pts[s.types == b]
                sf.compute((fbox, pa), query_points=pb, N_total=N)
                self._sum[(a, b)] += sf.S_k * (N / np.sqrt(float(counts[a]) * counts[b]))
            self._n += 1
        self._fractions = {a: np.count_nonzero(frames[-1].types == a) / frames[-1].N
                           for p in self._pairs for a in p}
        return self

    def _freud_frame(self, freud, s):
        """(freud box, float32 points (N, 3) centred in it); 2D systems get a box of height pi / q_max."""
        L = s.box
        pts = np.zeros((s.N, 3), dtype=np.float32)
        pts[:, :s.dim] = s.positions - 0.5 * L
        if s.dim == 2:
            fbox = freud.box.Box(L[0], L[1], np.pi / self.q_max, is2D=False)
        else:
            fbox = freud.box.Box(L[0], L[1], L[2])
        return fbox, pts

    # --- results -----------------------------------------------------------------------------------------------
    def _require(self):
        if self._sum is None:
            raise RuntimeError("StructureFactor results are not available before compute(); call "
                               "sf.compute(systems) first")

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
    def min_valid_q(self):
        """2 pi / min(L) (1 / length): the smallest non-zero wave number of the box; S below it is meaningless."""
        self._require()
        return float(2 * np.pi / self._box.min())

    @property
    def S_total(self):
        """Total S(q) of all particles regardless of species, averaged over frames, shape (bins,); nan in bins that
        hold no wave vector."""
        self._require()
        return self._sum_total / self._n

    @property
    def S(self):
        """Ashcroft–Langreth partials S_ab(q) averaged over frames: a read-only mapping ``(a, b) -> array (bins,)``;
        ``S[a, a]`` is the structure factor of species a alone; ``S[b, a]`` is ``S[a, b]``."""
        self._require()
        return _PairMap({p: v / self._n for p, v in self._sum.items()})

    @property
    def S_faber_ziman(self):
        """Faber–Ziman partials 1 + (S_ab - delta_ab) / sqrt(x_a x_b) (x_a: the species fractions of the last frame),
        same mapping as :attr:`S`; all tend to 1 at large q."""
        self._require()
        x = self._fractions
        return _PairMap({(a, b): 1.0 + (v / self._n - (a == b)) / np.sqrt(x[a] * x[b])
                         for (a, b), v in self._sum.items()})

    def first_peak(self, species=None, q_range=None):
        """Position and height of the first (main) peak of S(q): ``(q_peak, S_peak)``.

        The peak is the highest maximum beyond the first minimum: over the bins with a finite S and q >=
        ``min_valid_q`` (and within ``q_range``), the first minimum is the first bin from the left after which S
        rises; the peak bin is the largest S beyond it. For a liquid this is the first peak (it is the highest), and
        unlike "the first local maximum" it is not fooled by noise wiggles on the rise. The height is refined by the
        parabola through the peak bin and its two neighbours (when both hold wave vectors; otherwise the bin centre
        and value are returned).

        Parameters
        ----------
        species : None or int
            None: the total S(q); a: the partial S_aa (the structure factor of species a alone, e.g. ``model.large``
            for q_max of Table I).
        q_range : None or (float, float)
            Restrict the search to q_lo <= q <= q_hi (1 / length), e.g. to skip a noisy or rising S(q -> 0) of a
            demixing system, or to stay below the second shell of a crystal.

        Returns
        -------
        (float, float)
            q_peak (1 / length) and S_peak.
        """
        self._require()
        if species is None:
            S = self.S_total
        else:
            present = sorted({a for p in self._pairs if p[0] == p[1] for a in p})
            try:
                a = int(species)
                if isinstance(species, bool) or a != species:
                    raise ValueError
            except (TypeError, ValueError):
                a = None
            if a not in present:
                raise ValueError(f"species={species!r} was not computed; allowed: None (total) or one of {present}")
            S = self.S[a, a]
        q = self.q
        keep = np.isfinite(S) & (q >= self.min_valid_q * (1 - 1e-9))
        if q_range is not None:
            try:
                lo, hi = (float(v) for v in q_range)
            except (TypeError, ValueError):
                raise ValueError(f"q_range must be None or a pair (q_lo, q_hi), got {q_range!r}") from None
            if not lo < hi:
                raise ValueError(f"q_range must have q_lo < q_hi, got {q_range!r}")
            keep &= (q >= lo) & (q <= hi)
        idx = np.flatnonzero(keep)
        if idx.size < 3:
            raise ValueError(f"too few finite bins (>= 3 needed) above min_valid_q={self.min_valid_q:.4g} and in "
                             f"q_range={q_range!r} to find a peak")
        v = S[idx]
        rise = np.flatnonzero(np.diff(v) > 0)
        if rise.size == 0:
            raise ValueError(f"S(q) only decreases on [{q[idx[0]]:.4g}, {q[idx[-1]]:.4g}]: no peak; raise q_max or "
                             f"set q_range")
        first_min = rise[0]
        i = idx[first_min + np.argmax(v[first_min:])]
        if i == idx[-1]:
            raise ValueError(f"the largest S(q) beyond the first minimum is at the last bin q={q[i]:.4g}: the peak "
                             f"lies beyond the grid; raise q_max or set q_range")
        if 0 < i < self.bins - 1 and np.isfinite(S[i - 1]) and np.isfinite(S[i + 1]):
            s0, s1, s2 = S[i - 1], S[i], S[i + 1]
            curv = s0 - 2 * s1 + s2
            if curv < 0:
                h = q[1] - q[0]
                off = 0.5 * (s0 - s2) / curv
                return float(q[i] + h * off), float(s1 - 0.25 * (s0 - s2) * off)
        return float(q[i]), float(S[i])
