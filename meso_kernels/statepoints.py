"""The liquid state points of the dynamics figures (Figs 4, 5, 9, 10, 11): for each model and run size, the
temperatures and how long to equilibrate and to measure at each.

The paper gives no temperature list (its legends are images; MODELS.md section 10). Ours were chosen from the
relaxation times measured on this machine (MODELS.md section 10) so that τ_α/t0 spans about 1 to 10³ at the
default size. The first points of each default schedule start from random configurations, equilibrate ≳ 10 τ_α and
measure ≳ 25 τ_α; the deep ones start from the final configuration of the previous, hotter point (``cooled``),
equilibrate ~6 τ_α and measure ~24 τ_α in 8 blocks of time origins, whose scatter gives the error bars of the
stationarity check (:func:`meso_kernels.analysis.logtime.equilibration_check`). (A first try with ~4 and ~12 τ_α
failed that check at τ_α/t0 ≈ 500–1300: the early origins relaxed up to 3 times slower than the late ones.) Model keys: ``ipl``, ``mblj``,
``ss0.6``, ``ss0.7``, ``ss0.95`` (sticky spheres at ρ = 0.6, 0.7, 0.95) and ``sw`` (:data:`MODEL_KEYS`, the 3D
models of the dynamics figures), and ``ipl2d``, the 2D IPL at ρ = 0.86 of Fig. 2 (:data:`FIG02_KEYS`).

>>> sched = schedule("default", "ipl")
>>> sched.N, sched.temperatures[:3]
(1000, (1.0, 0.8, 0.7))
>>> model_for("ss0.95").state_point.rho
0.95
>>> schedule("ci", "lj")
Traceback (most recent call last):
...
ValueError: unknown model key 'lj'; allowed: ipl, mblj, ss0.6, ss0.7, ss0.95, sw, ipl2d
>>> label("ipl2d"), model_for("ipl2d").dim, model_for("ipl2d").state_point.rho
('2D IPL', 2, 0.86)
"""
from dataclasses import dataclass, replace

from .presets import check_size

#: the 3D models of the dynamics figures (Figs 4, 5, 9-11): the figures, the status tables and ``meso dynamics``
#: iterate over these
MODEL_KEYS = ("ipl", "mblj", "ss0.6", "ss0.7", "ss0.95", "sw")
#: models of one figure only, kept out of :data:`MODEL_KEYS` so that nothing that loops over the dynamics models
#: starts computing them: ``ipl2d``, the 2D IPL (ρ = 0.86, N = 400) of Fig. 2
FIG02_KEYS = ("ipl2d",)
#: every model key the campaign layer accepts
ALL_KEYS = MODEL_KEYS + FIG02_KEYS


@dataclass(frozen=True)
class StatePoint:
    """One temperature of a schedule: T (energy units), equil_steps and prod_steps (MD steps of the model's δt);
    blocks: blocks of time origins kept apart for the stationarity check (>= 4 gives it error bars); cooled: start
    from the final configuration of the schedule's previous (hotter) point instead of a random one (used as it is);
    n_open: time origins per longest lag (the run has about 2 n_open origins)."""
    T: float
    equil_steps: int
    prod_steps: int
    blocks: int = 2
    cooled: bool = False
    n_open: int = 10


@dataclass(frozen=True)
class Schedule:
    """All state points of one model at one run size; N particles at the model's Table-I density."""
    key: str
    N: int
    points: tuple

    @property
    def temperatures(self):
        return tuple(p.T for p in self.points)

    def at(self, T):
        """The :class:`StatePoint` at temperature ``T`` (ValueError listing the scheduled ones otherwise)."""
        for p in self.points:
            if abs(p.T - T) < 1e-12:
                return p
        raise ValueError(f"T={T!r} is not scheduled for {self.key}; scheduled: {list(self.temperatures)}")


def _s(key, N, *pts):
    return Schedule(key, N, tuple(StatePoint(float(T), int(e), int(p), *rest) for T, e, p, *rest in pts))


#: a deep point: 8 blocks of time origins (80 origins), cooled from the previous point
_DEEP = (8, True, 40)
#: a new hot point: 8 blocks, random start
_HOT = (8, False)


#: size -> model key -> Schedule. ci: N = 256 and fast temperatures (seconds each); default: N = 1000 down to
#: τ_α/t0 ≈ 10³ for IPL, mBLJ and SS ρ = 0.6, ≈ 300 for SS ρ = 0.7 and 0.95, and SW as deep as it stays amorphous
#: (about 10 CPU-hours in all); paper: Table-I N, same temperatures, twice the steps.
SCHEDULES = {
    "ci": {
        "ipl": _s("ipl", 256, (1.2, 4_000, 12_000), (1.0, 4_000, 15_000), (0.85, 6_000, 25_000)),
        "mblj": _s("mblj", 256, (1.5, 4_000, 12_000), (1.1, 4_000, 15_000), (0.9, 6_000, 20_000)),
        "ss0.6": _s("ss0.6", 256, (2.0, 4_000, 12_000), (1.6, 4_000, 15_000), (1.3, 6_000, 25_000)),
        "ss0.7": _s("ss0.7", 256, (3.0, 3_000, 10_000, 4), (2.5, 4_000, 15_000), (2.2, 6_000, 30_000, 4, True)),
        "ss0.95": _s("ss0.95", 256, (12.0, 3_000, 10_000, 4), (10.0, 4_000, 20_000),
                     (8.0, 6_000, 30_000, 4, True)),
        "sw": _s("sw", 256, (0.08, 1_500, 2_500), (0.06, 1_500, 3_000), (0.045, 1_500, 4_000)),
    },
    "default": {
        # the points of the first schedule (random start, two halves of origins) keep their stored results; each
        # deep point starts from the previous one, equilibrates ~6 τ_α and measures ~24 τ_α in 8 blocks of 3 τ_α
        # (τ_α from a first, shorter run where there was one, else extrapolated in 1/T). mBLJ's last point is
        # T = 0.475, not 0.48: 0.48 was extrapolated to τ_α/t0 ≈ 320, short of 10³. SS ρ = 0.6 at T = 0.9 failed
        # the stationarity check after ~6 τ_α of equilibration (z = −4.3): it and 0.85 equilibrate ~12 τ_α.
        # SW at T = 0.02 was first run with 150 000 + 600 000 steps, extrapolated from τ_α/t0 ≈ 30 at 0.023 and
        # 213 at 0.021; it measured τ_α/t0 ≈ 1480 (~70 000 steps), so that run equilibrated 2 τ_α and failed the
        # stationarity check (z = −4.25, the late origins slower). It now equilibrates 6.4 τ_α and measures 26.
        "ipl": _s("ipl", 1000, (1.0, 20_000, 50_000), (0.8, 30_000, 100_000), (0.7, 100_000, 300_000),
                  (0.65, 300_000, 1_000_000), (0.6, 570_000, 2_300_000, *_DEEP),
                  (0.57, 2_200_000, 8_700_000, *_DEEP)),
        "mblj": _s("mblj", 1000, (1.0, 20_000, 50_000), (0.8, 30_000, 100_000), (0.7, 50_000, 150_000),
                   (0.6, 100_000, 300_000), (0.55, 200_000, 600_000), (0.52, 300_000, 1_000_000),
                   (0.49, 770_000, 3_100_000, *_DEEP), (0.475, 3_000_000, 12_000_000, *_DEEP)),
        "ss0.6": _s("ss0.6", 1000, (1.5, 20_000, 50_000), (1.2, 50_000, 200_000), (1.0, 150_000, 600_000),
                    (0.95, 300_000, 1_200_000), (0.9, 900_000, 1_800_000, *_DEEP),
                    (0.85, 2_500_000, 6_000_000, *_DEEP)),
        "ss0.7": _s("ss0.7", 1000, (3.2, 20_000, 50_000, *_HOT), (2.6, 30_000, 100_000, *_HOT),
                    (2.2, 50_000, 200_000), (2.0, 100_000, 300_000), (1.85, 300_000, 800_000),
                    (1.72, 500_000, 2_000_000, *_DEEP)),
        "ss0.95": _s("ss0.95", 1000, (11.0, 20_000, 50_000, *_HOT), (9.5, 30_000, 100_000, *_HOT),
                     (8.0, 50_000, 200_000), (7.0, 100_000, 300_000), (6.5, 300_000, 800_000),
                     (6.0, 260_000, 1_060_000, *_DEEP)),
        "sw": _s("sw", 1000, (0.06, 10_000, 20_000), (0.045, 10_000, 20_000), (0.035, 10_000, 30_000),
                 (0.03, 20_000, 50_000), (0.027, 30_000, 80_000), (0.025, 50_000, 100_000),
                 (0.023, 25_000, 100_000, *_DEEP), (0.021, 60_000, 240_000, *_DEEP),
                 (0.02, 450_000, 1_800_000, *_DEEP)),
    },
}
# every ci point keeps 4 blocks of time origins, so that the stationarity check runs in CI
SCHEDULES["ci"] = {k: Schedule(k, s.N, tuple(replace(p, blocks=max(p.blocks, 4)) for p in s.points))
                   for k, s in SCHEDULES["ci"].items()}
_PAPER_N = {"ipl": 2000, "mblj": 8000, "ss0.6": 3000, "ss0.7": 4000, "ss0.95": 4000, "sw": 8000}
SCHEDULES["paper"] = {k: Schedule(k, _PAPER_N[k], tuple(StatePoint(p.T, 2 * p.equil_steps, 2 * p.prod_steps, 8,
                                                                   p.cooled)
                                                        for p in s.points))
                      for k, s in SCHEDULES["default"].items()}

#: Fig. 2: 2D IPL (ρ = 0.86, N = 400 like the author's snapshot and Fig. 1) at one temperature per size.
#: ci: T = 0.8, where τ_α ≈ 20 (4000 MD steps): equilibrates in seconds. default: the paper's T = 0.48. Three
#: exploratory runs at N = 400, one trajectory continued (equilibration + measured MD steps: 1e6 + 2e6 from a random
#: start, then 2e6 + 4e6, then 0 + 1.2e7) gave τ_α ≈ 5e3 (still ageing), > 1e4 (F_s = 0.43 at the longest lag, 1e4)
#: and 2.0e4 (F_s = 0.42 at 1e4, 0.05 at 3e4): τ_α ≈ 2e4 (τ_α/t0 ≈ 1.3e4, 4e6 MD steps), a very viscous point. The
#: default run equilibrates 10 τ_α from a random start and measures 16 τ_α in 8 blocks of 2 τ_α (80 time origins),
#: about 1e8 MD steps (~2 CPU-hours). paper: twice the steps.
_FIG02 = {
    "ci": _s("ipl2d", 400, (0.8, 24_000, 30_000, 4)),
    "default": _s("ipl2d", 400, (0.48, 40_000_000, 64_000_000, 8, False, 40)),
}
_FIG02["paper"] = Schedule("ipl2d", 400, tuple(replace(p, equil_steps=2 * p.equil_steps, prod_steps=2 * p.prod_steps)
                                               for p in _FIG02["default"].points))
for _size, _sched in _FIG02.items():
    SCHEDULES[_size]["ipl2d"] = _sched


def check_key(key):
    """Return ``key`` if it is one of :data:`ALL_KEYS`, else raise ValueError naming the allowed keys."""
    if key not in ALL_KEYS:
        raise ValueError(f"unknown model key {key!r}; allowed: {', '.join(ALL_KEYS)}")
    return key


def schedule(size, key):
    """The :class:`Schedule` of model ``key`` at run size ``size`` (ci, default, paper)."""
    check_size(size)
    return SCHEDULES[size][check_key(key)]


def model_for(key):
    """The model of a key: ``ss0.7`` -> ``get_model("ss", rho=0.7)``, ``ipl2d`` -> ``get_model("ipl", dim=2)``
    etc."""
    from .models import get_model
    check_key(key)
    if key == "ipl2d":
        return get_model("ipl", dim=2)
    if key.startswith("ss"):
        return get_model("ss", rho=float(key[2:]))
    return get_model(key)


def label(key):
    """A plot label: 'IPL', 'mBLJ', 'SS ρ=0.6', 'SW', '2D IPL'."""
    check_key(key)
    return {"ipl": "IPL", "mblj": "mBLJ", "sw": "SW", "ipl2d": "2D IPL"}.get(key, f"SS ρ={key[2:]}")
