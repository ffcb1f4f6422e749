"""Run sizes of every figure: the three named sizes ``ci``, ``default`` and ``paper``.

- ``ci``: every figure computed from scratch, quickly (the whole book well under 20 minutes on 2 cores).
- ``default``: what the book shows; produced on one 2-core machine in at most a day, resumably.
- ``paper``: the system sizes of the paper's Table I (for a GPU or a cluster).

The table :data:`SIZES_BY_FIGURE` maps figure -> model -> size name -> :class:`RunSize`. To add a figure, add one entry
with a :class:`RunSize` for each of the three sizes (``tests/test_presets.py`` checks that every entry is complete).

>>> from meso_kernels.presets import preset, sizes
>>> preset("ci")["fig12"]["ipl"].N
500
>>> sizes("fig12", "paper")["mblj"].N
8000
>>> preset("huge")
Traceback (most recent call last):
...
ValueError: unknown size 'huge'; allowed sizes: ci, default, paper
"""
from dataclasses import dataclass

SIZE_NAMES = ("ci", "default", "paper")


@dataclass(frozen=True)
class RunSize:
    """How much to simulate for one model in one figure.

    N: number of particles. equil_steps: MD steps (of the model's time step) to equilibrate at the state point before
    anything is measured. prod_steps: MD steps of production run. n_ihs: number of inherent structures quenched from
    configurations evenly spaced over the production run (0 when the figure needs none)."""
    N: int
    equil_steps: int
    prod_steps: int
    n_ihs: int = 0

    def __post_init__(self):
        for name in ("N", "equil_steps", "prod_steps", "n_ihs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"RunSize.{name} must be an int, got {value!r}")
        if self.N < 1:
            raise ValueError(f"RunSize.N must be positive, got {self.N}")
        if self.equil_steps < 0 or self.prod_steps < 0 or self.n_ihs < 0:
            raise ValueError(f"RunSize step and IHS counts must be >= 0, got {self}")
        if self.n_ihs > self.prod_steps + 1:
            raise ValueError(f"RunSize: {self.n_ihs} inherent structures cannot be spread over {self.prod_steps} steps")

    @property
    def ihs_interval(self):
        """MD steps between two quenched configurations (the production run split evenly; 0 if n_ihs is 0)."""
        return self.prod_steps // self.n_ihs if self.n_ihs else 0


def _three(ci, default, paper):
    return {"ci": RunSize(*ci), "default": RunSize(*default), "paper": RunSize(*paper)}


# figure -> model -> size -> RunSize(N, equil_steps, prod_steps, n_ihs)
SIZES_BY_FIGURE = {
    # Fig. 12: g(r) of the liquid and of its inherent structures at a viscous state point, with phi(r) overlaid.
    # paper N is Table I; the paper does not say how many IHS or steps went into g(r): 100 IHS over 1e6 steps is ours.
    "fig12": {
        "ipl": _three((500, 3_000, 2_000, 4), (2000, 100_000, 100_000, 20), (2000, 1_000_000, 1_000_000, 100)),
        "mblj": _three((500, 3_000, 2_000, 4), (2000, 100_000, 100_000, 20), (8000, 1_000_000, 1_000_000, 100)),
        "ss": _three((500, 3_000, 2_000, 4), (2000, 100_000, 100_000, 20), (3000, 1_000_000, 1_000_000, 100)),
        "sw": _three((500, 3_000, 2_000, 4), (1000, 100_000, 100_000, 20), (8000, 1_000_000, 1_000_000, 100)),
    },
    # Fig. 1: one 2D IPL glass (N = 400 like the author's snapshot) quenched from the viscous liquid at T = 0.48.
    "fig01": {
        "ipl2d": _three((400, 20_000, 1_000, 1), (400, 1_000_000, 1_000, 1), (400, 4_000_000, 1_000, 1)),
    },
    # Fig. 3: 3D IPL inherent-structure ensembles per parent temperature (paper: 10000 IHS per T_p, Table II).
    "fig03": {
        "ipl": _three((500, 5_000, 4_000, 4), (2000, 300_000, 480_000, 24), (2000, 2_000_000, 10_000_000, 10_000)),
    },
}


def check_size(size):
    """Return ``size`` if it is one of :data:`SIZE_NAMES`, else raise ValueError naming the allowed sizes."""
    if not isinstance(size, str) or size not in SIZE_NAMES:
        raise ValueError(f"unknown size {size!r}; allowed sizes: {', '.join(SIZE_NAMES)}")
    return size


def preset(size):
    """All run sizes for one size name: ``{figure: {model: RunSize}}`` (a fresh dict; RunSize is immutable)."""
    check_size(size)
    return {fig: {model: per_size[size] for model, per_size in models.items()}
            for fig, models in SIZES_BY_FIGURE.items()}


def sizes(figure, size):
    """Run sizes of one figure: ``{model: RunSize}``. Unknown figure or size raises ValueError listing what exists."""
    check_size(size)
    if figure not in SIZES_BY_FIGURE:
        raise ValueError(f"no sizes for figure {figure!r}; figures with sizes: {', '.join(SIZES_BY_FIGURE)}")
    return {model: per_size[size] for model, per_size in SIZES_BY_FIGURE[figure].items()}
