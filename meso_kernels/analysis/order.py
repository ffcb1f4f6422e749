"""Local bond-order detection of diamond-like (crystalline) particles: ten Wolde-Frenkel bond order with l = 3.

Detects crystallisation of the one-species Stillinger-Weber liquid (diamond ground state), one configuration at a
time. For particle i with neighbours j closer than ``r_cut`` (N_b(i) of them),

    q_lm(i) = (1 / N_b(i)) sum_j Y_lm(r_ij / |r_ij|),        m = -l..l,   r_ij = r_j - r_i (minimum image),

q^_l(i) = q_l(i) / |q_l(i)| with |q_l|^2 = sum_m |q_lm|^2, and for each neighbour pair the bond dot product

    s_ij = Re sum_m q^_lm(i) q^_lm(j)^*     (in [-1, 1]).

This is the local bond-order construction of ten Wolde, Ruiz-Montero & Frenkel [J. Chem. Phys. 104, 9932 (1996)]
(there with l = 6, s_ij > 0.5 "connected" and >= 7 connections for close-packed crystals). For tetrahedral
crystals one uses l = 3 instead: l is odd and the neighbour shell of one diamond sublattice is the inversion of the
other's, so q_3(j) = -q_3(i) for every nearest-neighbour pair, s_ij = -1 exactly ("staggered" bonds). A particle is
diamond-like with >= 3 staggered bonds (``min_bonds``), which also accepts hexagonal diamond (three staggered bonds
and one eclipsed bond, s_ij ~ -0.1) and a cubic-diamond particle that lost one bond to thermal noise.

The default threshold, staggered when s_ij < -0.8, is the one of the CHILL algorithm for SW-type tetrahedral models
[Moore, de la Llave, Welke, Scherlis & Molinero, Phys. Chem. Chem. Phys. 12, 4124 (2010); kept in CHILL+, Nguyen &
Molinero, J. Phys. Chem. B 119, 9369 (2015)]. A permissive threshold such as s_ij < -0.23 can be chosen
(``bond_threshold=-0.23``) but is no crystal detector with this cut-off: a neighbour pair shares the bond i-j, which
enters q_3(i) and q_3(j) with opposite signs (l odd), so s_ij leans negative even without order, and with ~7
neighbours three chance "staggered" bonds are common. Measured with r_cut = 1.5 and >= 3 bonds: ideal gas at
rho = 0.52 (N = 1000, ~7.4 neighbours) 0.69 +- 0.02 "crystalline" with -0.23 but 0.001 +- 0.001 with -0.8; fcc with
small noise 0.95 with -0.23 and ~0.02 with -0.8 (both in tests/analysis/test_order.py); SW (lambda = 18.75) liquid
configurations at rho = 0.52, T = 0.025-0.06 (campaign output, 10 frames), ~0.6 with -0.23 and <= 0.002 with -0.8; a
diamond lattice with Gaussian noise of 0.08 (0.1) nearest-neighbour distances per coordinate still 0.99 (0.90) with
-0.8. Note that this SW liquid has a second g(r) peak near r = 1.5 (a fifth neighbour between the diamond shells),
so the neighbour count N_b depends on ``r_cut``; the default -0.8 keeps the liquid baseline near 0 for r_cut = 1.3-1.6.

Conventions: lengths in the model's units (SW: sigma; diamond nearest-neighbour distance 2^(1/6), second shell
2^(1/6) sqrt(8/3) ~ 1.83, hence the default ``r_cut = 1.5`` between the shells). Periodic orthorhombic box, positions
wrapped into ``[0, L)`` (positions outside are wrapped here). The neighbour search is scipy's periodic ``cKDTree``
(pairs with distance <= r_cut), the spherical harmonics scipy's (complex, orthonormal, Condon-Shortley phase; s_ij
does not depend on the phase convention). A particle without neighbours, or whose q_l vanishes (|q_l| < 1e-8, e.g.
any centrosymmetric environment such as perfect fcc, where every odd-l q_lm is zero) has no direction q^_l: its
s_ij are 0, so it has no staggered bonds.

>>> import numpy as np
>>> basis = np.array([[0, 0, 0], [0, .5, .5], [.5, 0, .5], [.5, .5, 0]])
>>> cell = np.vstack([basis, basis + 0.25])                 # conventional diamond cell, lattice constant 1
>>> a = 2 ** (1 / 6) * 4 / np.sqrt(3)                       # nearest-neighbour distance a sqrt(3)/4 = 2^(1/6)
>>> n = np.array([[i, j, k] for i in range(2) for j in range(2) for k in range(2)])
>>> pos = ((n[:, None, :] + cell[None]).reshape(-1, 3)) * a
>>> box = np.full(3, 2 * a)
>>> op = DiamondOrder().compute(pos, box)
>>> op.fraction, op.n_neighbours[:3].tolist(), op.staggered_bonds[:3].tolist(), bool(op.crystalline.all())
(1.0, [4, 4, 4], [4, 4, 4], True)
>>> crystalline_fraction(pos, box, bond_threshold=-0.99)
1.0
"""
import numbers

import numpy as np
from scipy.spatial import cKDTree

#: |q_l(i)| = sqrt(sum_m |q_lm(i)|^2) below this counts as zero (no direction q^_l(i)); it is <= sqrt((2l+1)/(4 pi)).
QL_ZERO = 1e-8


def _sph_harm(l, m, theta, phi):
    """Y_l^m(theta polar, phi azimuth), complex, orthonormal, Condon-Shortley phase (scipy >= 1.15 or older)."""
    import scipy.special as sp

    if hasattr(sp, "sph_harm_y"):
        return sp.sph_harm_y(l, m, theta, phi)
    return sp.sph_harm(m, l, phi, theta)  # pragma: no cover - scipy < 1.15: (m, n, azimuth, polar)


def spherical_harmonics(l, unit_vectors):
    """Y_lm of unit vectors, shape (M, 2l + 1), columns m = -l..l."""
    u = np.asarray(unit_vectors, dtype=np.float64).reshape(-1, 3)
    theta = np.arccos(np.clip(u[:, 2], -1.0, 1.0))
    phi = np.arctan2(u[:, 1], u[:, 0])
    m = np.arange(-l, l + 1)
    return _sph_harm(l, m[None, :], theta[:, None], phi[:, None])


def _is_int(x):
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _is_real(x):
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and np.isfinite(x)


class DiamondOrder:
    """Per-particle diamond-like flags from l = 3 local bond order (ten Wolde-Frenkel; see the module docstring).

    Parameters
    ----------
    r_cut : float
        Neighbour cut-off (length, model units), > 0 and < min(box)/2 of every box computed on; default 1.5
        (SW: between the diamond first shell at 2^(1/6) ~ 1.12 and the second at ~ 1.83).
    l : int
        Spherical-harmonic degree, >= 1; default 3 (diamond; with even l the staggered-bond criterion is meaningless).
    bond_threshold : float
        A bond i-j is staggered when s_ij < bond_threshold; in [-1, 1], default -0.8 (CHILL; see the module
        docstring for why not the permissive -0.23).
    min_bonds : int
        A particle is diamond-like with >= min_bonds staggered bonds; 1..12, default 3.

    ``compute`` returns ``self``; results (``n_neighbours``, ``staggered_bonds``, ``crystalline``, ``fraction``,
    ``qlm``, ``ql``) are read-only properties that raise ``RuntimeError`` before the first ``compute``.
    """

    def __init__(self, r_cut=1.5, l=3, bond_threshold=-0.8, min_bonds=3):
        if not _is_real(r_cut) or r_cut <= 0:
            raise ValueError(f"r_cut must be a positive finite distance, got {r_cut!r}")
        if not _is_int(l) or l < 1:
            raise ValueError(f"l must be a positive integer, got {l!r}")
        if not _is_real(bond_threshold) or not -1.0 <= bond_threshold <= 1.0:
            raise ValueError(f"bond_threshold must be a finite number in [-1, 1] (s_ij lies there), "
                             f"got {bond_threshold!r}")
        if not _is_int(min_bonds) or not 1 <= min_bonds <= 12:
            raise ValueError(f"min_bonds must be an integer in 1..12, got {min_bonds!r}")
        self.r_cut = float(r_cut)
        self.l = int(l)
        self.bond_threshold = float(bond_threshold)
        self.min_bonds = int(min_bonds)
        self._res = None

    def __repr__(self):
        return (f"DiamondOrder(r_cut={self.r_cut}, l={self.l}, bond_threshold={self.bond_threshold}, "
                f"min_bonds={self.min_bonds})")

    # --- input -------------------------------------------------------------------------------------------------
    def _inputs(self, system_or_positions, box):
        from ..system import System

        if isinstance(system_or_positions, System):
            if box is not None:
                raise ValueError("box must be None when a System is given (its own box is used)")
            s = system_or_positions
            if s.dim != 3:
                raise ValueError(f"positions must be 3D, got a {s.dim}D System")
            positions, box = s.positions, s.box
        elif box is None:
            raise ValueError("box is required with a positions array: compute(positions, box)")
        else:
            positions = system_or_positions
        try:
            pos = np.array(positions, dtype=np.float64, copy=True)
        except (TypeError, ValueError):
            raise ValueError(f"positions must be an (N, 3) array of numbers, got {type(positions).__name__}") \
                from None
        if pos.ndim != 2 or pos.shape[1] != 3:
            raise ValueError(f"positions must have shape (N, 3) (3D), got {pos.shape}")
        if pos.shape[0] == 0:
            raise ValueError("positions is empty: the system has no particles")
        if not np.all(np.isfinite(pos)):
            raise ValueError("positions must be finite")
        try:
            L = np.array(box, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise ValueError(f"box must be 3 box lengths, got {box!r}") from None
        if L.shape != (3,) or not np.all(np.isfinite(L)) or np.any(L <= 0):
            raise ValueError(f"box must be 3 positive finite box lengths, got {np.asarray(box).tolist()}")
        if self.r_cut >= 0.5 * L.min():
            raise ValueError(f"r_cut={self.r_cut} must be < min(box)/2 = {0.5 * L.min()} (minimum image)")
        pos -= L * np.floor(pos / L)
        pos[pos >= L] = 0.0  # x - L floor(x / L) can round to L for tiny negative x; that point is 0 (mod L)
        return pos, L

    # --- computation -------------------------------------------------------------------------------------------
    def compute(self, system_or_positions, box=None):
        """Compute the flags of one configuration.

        Parameters
        ----------
        system_or_positions : System or array (N, 3)
            A 3D :class:`~meso_kernels.system.System` (then ``box`` must be None), or positions (length).
        box : array (3,), optional
            Orthorhombic box lengths (length), with a positions array.

        Returns
        -------
        DiamondOrder
            ``self``.
        """
        pos, L = self._inputs(system_or_positions, box)
        N = pos.shape[0]
        tree = cKDTree(pos, boxsize=L)
        ij = tree.query_pairs(self.r_cut, output_type="ndarray")
        i, j = ij[:, 0], ij[:, 1]
        dr = pos[j] - pos[i]
        dr -= L * np.round(dr / L)
        r = np.sqrt(np.einsum("ij,ij->i", dr, dr))
        if np.any(r == 0):
            k = int(np.flatnonzero(r == 0)[0])
            raise ValueError(f"positions: particles {int(i[k])} and {int(j[k])} coincide (bond direction undefined)")
        y = spherical_harmonics(self.l, dr / r[:, None])  # Y_lm(r^_ij); r^_ji = -r^_ij gives (-1)^l Y_lm(r^_ij)
        nb = np.bincount(i, minlength=N) + np.bincount(j, minlength=N)
        qlm = np.zeros((N, 2 * self.l + 1), dtype=np.complex128)
        np.add.at(qlm, i, y)
        np.add.at(qlm, j, (-1) ** self.l * y)
        has = nb > 0
        qlm[has] /= nb[has, None]
        norm = np.sqrt(np.sum(np.abs(qlm) ** 2, axis=1))
        ok = norm >= QL_ZERO
        qhat = np.zeros_like(qlm)
        qhat[ok] = qlm[ok] / norm[ok, None]
        s = np.real(np.sum(qhat[i] * np.conj(qhat[j]), axis=1))
        stag = s < self.bond_threshold
        n_stag = np.bincount(i[stag], minlength=N) + np.bincount(j[stag], minlength=N)
        self._res = dict(n_neighbours=nb, staggered_bonds=n_stag, crystalline=n_stag >= self.min_bonds, qlm=qlm,
                         ql=np.sqrt(4 * np.pi / (2 * self.l + 1)) * norm, bonds=ij, s=s)
        return self

    # --- results -----------------------------------------------------------------------------------------------
    def _get(self, name):
        if self._res is None:
            raise RuntimeError(f"{name} is not available before compute()")
        out = self._res[name].view()
        out.flags.writeable = False
        return out

    @property
    def n_neighbours(self):
        """Neighbours within r_cut, N_b(i), shape (N,), int."""
        return self._get("n_neighbours")

    @property
    def staggered_bonds(self):
        """Number of neighbours j with s_ij < bond_threshold, shape (N,), int."""
        return self._get("staggered_bonds")

    @property
    def crystalline(self):
        """Diamond-like flags, staggered_bonds >= min_bonds, shape (N,), bool."""
        return self._get("crystalline")

    @property
    def fraction(self):
        """Fraction of diamond-like particles (dimensionless, in [0, 1])."""
        return float(np.mean(self._get("crystalline")))

    @property
    def qlm(self):
        """q_lm(i), shape (N, 2l + 1), complex, columns m = -l..l (zeros for particles without neighbours)."""
        return self._get("qlm")

    @property
    def ql(self):
        """Steinhardt q_l(i) = sqrt(4 pi / (2l + 1) sum_m |q_lm(i)|^2), shape (N,) (as freud.order.Steinhardt)."""
        return self._get("ql")

    @property
    def bonds(self):
        """Neighbour pairs (i, j), i < j, shape (n_bonds, 2); each pair once."""
        return self._get("bonds")

    @property
    def bond_products(self):
        """s_ij of each pair in ``bonds``, shape (n_bonds,) (0 where either particle has no direction q^_l)."""
        return self._get("s")


def crystalline_fraction(positions, box, **kw):
    """Fraction of diamond-like particles of one configuration: ``DiamondOrder(**kw).compute(positions, box).fraction``.

    ``positions`` may also be a 3D System (then ``box`` must be None).
    """
    return DiamondOrder(**kw).compute(positions, box).fraction
