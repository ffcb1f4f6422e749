"""Checks of the stored liquids that the book shows next to the results: is each state point stationary
(equilibrated), and is the SW liquid still amorphous?

- :func:`equilibration_table`: per state point, τ_α from the first and the second half of the time origins and, where
  the run kept >= 4 blocks of origins, the difference of the two halves' F_s at τ_α in units of its standard error
  (:func:`~meso_kernels.analysis.logtime.equilibration_check`). Runs with two blocks (stored before blocks existed)
  give the two τ_α without an error bar.
- :func:`crystallinity_table`: per state point, the potential energy per particle over the measured run and the
  fraction of diamond-like particles in the final configuration (:class:`~meso_kernels.analysis.order.DiamondOrder`),
  the two signs of crystallisation of the SW liquid (diamond ground state).
"""
import numpy as np


def _tau_or_nan(t, f):
    from ..analysis.isf import tau_alpha
    ok = np.isfinite(f)
    try:
        return tau_alpha(t[ok], f[ok])
    except ValueError:
        return float("nan")


def equilibration_table(runs, label=str, false_alarm=0.01):
    """A :class:`pandas.DataFrame`, one row per state point of ``runs`` (dict key -> list of
    :class:`~meso_kernels.campaign.liquid.StatePointDynamics`): T, τ_α/t0, τ_α of each half of the origins in units
    of t0, blocks, z (difference of the halves at τ_α over its error; NaN with 2 blocks), the bound on |z| and the
    verdict ("stationary", "NOT stationary", or "no error bars (2 blocks)")."""
    import pandas as pd
    from ..analysis.logtime import equilibration_check
    rows = []
    for key, rs in runs.items():
        for r in rs:
            row = {"model": label(key), "T": r.T, "tau/t0": r.tau_alpha / r.t0, "blocks": r.corr.n_blocks}
            if r.corr.n_blocks >= 4:
                try:
                    chk = equilibration_check(r.corr, r.large, false_alarm=false_alarm)
                except ValueError as err:
                    row.update({"verdict": f"no check: {err}"})
                else:
                    row.update({"tau early/t0": chk.tau_early / r.t0, "tau late/t0": chk.tau_late / r.t0,
                                "z": chk.z, "|z| bound": chk.z_max,
                                "verdict": "stationary" if chk.passed else "NOT stationary"})
            else:
                early, late = r.corr.fs_halves(r.large)
                row.update({"tau early/t0": _tau_or_nan(r.corr.t, early) / r.t0,
                            "tau late/t0": _tau_or_nan(r.corr.t, late) / r.t0, "z": np.nan, "|z| bound": np.nan,
                            "verdict": "no error bars (2 blocks)"})
            rows.append(row)
    return pd.DataFrame(rows)


def crystallinity_table(runs, label=str, r_cut=1.5):
    """A :class:`pandas.DataFrame`, one row per state point of ``runs``: T, ⟨U⟩/N over the measured run with its
    drift (last third minus first third of the samples), and the diamond-like fraction of the final configuration
    (``r_cut`` in the model's length units; 1.5 lies between the first and second shell of SW)."""
    import pandas as pd
    from ..analysis.order import DiamondOrder
    from .liquid import final_system
    rows = []
    for key, rs in runs.items():
        for r in rs:
            u = np.asarray(r.arrays["potential_energy"], dtype=float)
            third = max(1, len(u) // 3)
            order = DiamondOrder(r_cut=r_cut).compute(final_system(r.arrays))
            rows.append({"model": label(key), "T": r.T, "tau/t0": r.tau_alpha / r.t0, "U/N": u.mean(),
                         "U/N drift": u[-third:].mean() - u[:third].mean(), "diamond-like fraction": order.fraction})
    return pd.DataFrame(rows)
