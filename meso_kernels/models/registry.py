"""The model registry: every model of the paper by name, with its parameter tables and the paper's state point.

>>> from meso_kernels.models import get_model
>>> m = get_model("ipl", dim=3)
>>> m.state_point.rho, m.n_types, round(m.rcut_max, 4)
(0.82, 2, 2.072)
>>> get_model("ss", rho=0.95).state_point.dt
0.002
"""
from dataclasses import dataclass, field

import numpy as np

from . import ipl, lj, sticky, sw
from .dispatch import IPL, LJ, LJ_SF, STICKY, SW, pair_eval


@dataclass(frozen=True)
class StatePoint:
    """A state point of the paper (Tables I and III; MODELS.md). Units are the model's reduced units.

    rho: number density N/V; N: particles; dt: MD time step; tau_nh: Nosé–Hoover coupling time; qmax: wave number of
    the first S(q) peak per species (nan where the paper gives none)."""
    rho: float
    N: int
    dt: float
    tau_nh: float
    qmax: tuple


@dataclass
class Model:
    """An interaction model: parameter tables for the compiled drivers plus descriptive data.

    ``kind`` selects the pair potential (:mod:`meso_kernels.models.dispatch`), ``params[a, b]`` is the parameter
    row of species pair (a, b), ``rcut[a, b]`` its cut-off (length). ``three_body`` is None or the SW triplet
    parameters. ``fractions`` is the composition, ``large`` the index of the large species (used for F_s, q_max)."""
    name: str
    dim: int
    kind: int
    params: np.ndarray
    rcut: np.ndarray
    fractions: tuple
    state_point: StatePoint
    large: int = 0
    three_body: np.ndarray | None = None
    options: dict = field(default_factory=dict)

    @property
    def n_types(self):
        return self.params.shape[0]

    @property
    def rcut_max(self):
        return float(self.rcut.max())

    @property
    def three_body_array(self):
        """The triplet parameters as a float array (empty when the model is pairwise), for compiled drivers."""
        return np.zeros(0) if self.three_body is None else self.three_body

    def phi(self, r, a=0, b=0):
        """Pair potential of species (a, b) on an array of distances: ``(u, s, u2)`` with s = -phi'/r, u2 = phi'',
        zero beyond the cut-off. For SW this is the two-body term only."""
        r = np.atleast_1d(np.asarray(r, dtype=float))
        out = np.zeros((3, r.size))
        p = self.params[a, b]
        for n, x in enumerate(r.ravel()):
            if x < self.rcut[a, b]:
                out[:, n] = pair_eval(self.kind, x * x, p)
        return out[0], out[1], out[2]

    def counts(self, N):
        """Particle numbers per species for N particles (rounded so that they sum to N)."""
        c = np.floor(np.asarray(self.fractions) * N + 0.5).astype(int)
        c[-1] = N - c[:-1].sum()
        return c

    def describe(self):
        return f"{self.name} (d = {self.dim}, {self.n_types} species, options {self.options})"


def _ipl(dim=3):
    if dim == 3:
        sp = StatePoint(rho=0.82, N=2000, dt=0.005, tau_nh=0.2, qmax=(6.88, 6.35))
    else:
        sp = StatePoint(rho=0.86, N=400, dt=0.005, tau_nh=0.2, qmax=(6.23, 5.91))
    params, rcut = ipl.pair_table()
    return Model("ipl", dim, IPL, params, rcut, (0.5, 0.5), sp, large=1, options={"dim": dim})


def _mblj(rc_bb=1.5):
    params, rcut = lj.pair_table(lj.mblj_cutoffs(rc_bb), shifted_force=True)
    sp = StatePoint(rho=1.2, N=8000, dt=0.005, tau_nh=0.2, qmax=(7.25, np.nan))
    return Model("mblj", 3, LJ_SF, params, rcut, (0.8, 0.2), sp, large=0, options={"rc_bb": rc_bb})


def _ka(shift="energy", rc_sigma=2.5):
    params, rcut = lj.pair_table(lj.ka_cutoffs(rc_sigma), shifted_force=(shift == "force"))
    sp = StatePoint(rho=1.2, N=8000, dt=0.005, tau_nh=0.2, qmax=(7.25, np.nan))
    return Model("ka", 3, LJ_SF if shift == "force" else LJ, params, rcut, (0.8, 0.2), sp, large=0,
                 options={"shift": shift, "rc_sigma": rc_sigma})


SS_STATE_POINTS = {  # rho: (N, dt, (qmax_A, qmax_B))
    0.6: (3000, 0.005, (6.44, 5.47)),
    0.7: (4000, 0.003, (6.86, 5.87)),
    0.8: (4000, 0.003, (6.86, 6.06)),
    0.95: (4000, 0.002, (7.35, 6.40)),
}


def _ss(rho=0.6):
    N, dt, q = SS_STATE_POINTS[rho]
    params, rcut = sticky.pair_table()
    sp = StatePoint(rho=rho, N=N, dt=dt, tau_nh=0.2, qmax=q)
    return Model("ss", 3, STICKY, params, rcut, (0.5, 0.5), sp, large=1, options={"rho": rho})


def _sw(lam=18.75):
    params, rcut = sw.pair_table()
    sp = StatePoint(rho=0.52, N=8000, dt=0.065, tau_nh=6.5, qmax=(6.28,))
    return Model("sw", 3, SW, params, rcut, (1.0,), sp, large=0, three_body=sw.triplet_params(lam),
                 options={"lam": lam})


# name -> (factory, {parameter: allowed values or a type}, number of species)
_REGISTRY = {
    "ipl": (_ipl, {"dim": (2, 3)}, 2),
    "mblj": (_mblj, {"rc_bb": float}, 2),
    "ka": (_ka, {"shift": ("energy", "force"), "rc_sigma": float}, 2),
    "ss": (_ss, {"rho": tuple(SS_STATE_POINTS)}, 2),
    "sw": (_sw, {"lam": float}, 1),
}


def available_models():
    """Names of the registered models."""
    return tuple(_REGISTRY)


def get_model(name, n_types=None, **params):
    """Build a model by name (see :func:`available_models`) with optional parameters:

    - ``ipl``: ``dim`` in (2, 3), default 3
    - ``mblj``: ``rc_bb`` (absolute BB cut-off, default 1.5; 1.32 is the RUMD-in-sigma reading, MODELS.md s. 2)
    - ``ka``: ``shift`` in ("energy", "force"), default "energy"; ``rc_sigma`` (default 2.5)
    - ``ss``: ``rho`` in (0.6, 0.7, 0.8, 0.95), default 0.6
    - ``sw``: ``lam`` (three-body strength, default 18.75)

    ``n_types``, if given, must equal the model's number of species. Anything else raises ``ValueError`` that lists
    what is allowed.
    """
    if name not in _REGISTRY:
        raise ValueError(f"unknown model name={name!r}; allowed: {', '.join(_REGISTRY)}")
    factory, allowed, nt = _REGISTRY[name]
    for key, value in params.items():
        if key not in allowed:
            raise ValueError(f"model {name!r} has no parameter {key!r}; allowed parameters: {sorted(allowed) or 'none'}")
        rule = allowed[key]
        if isinstance(rule, tuple):
            integral = all(isinstance(v, int) for v in rule)       # a dimension: 2.0 is not accepted for 2
            if (integral and (isinstance(value, bool) or not isinstance(value, (int, np.integer)))) or value not in rule:
                raise ValueError(f"model {name!r}: {key}={value!r} is not allowed; allowed values: {rule}")
        else:
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"model {name!r}: {key} must be a positive number, got {value!r}") from None
            if not np.isfinite(value) or value <= 0:
                raise ValueError(f"model {name!r}: {key} must be a positive number, got {value!r}")
            params[key] = value
    if n_types is not None and n_types != nt:
        raise ValueError(f"model {name!r} has {nt} species; got n_types={n_types} (allowed: {nt})")
    return factory(**params)
