"""Figure panels drawn the same way on several book pages (matplotlib; the notebooks own the layout).

>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import matplotlib.pyplot as plt
>>> fig, (a, b) = plt.subplots(1, 2)
>>> collapse_panels(a, b, {})                       # empty: only the reference lines and labels
>>> a.get_xlabel(), b.get_ylabel()
('t / t0', 'F_s(q_max, t)')
"""
import numpy as np


def collapse_panels(ax_msd, ax_fs, chosen, labels=None):
    """The species-averaged MSD/a0² (log-log, with free flight 3 (t/t0)² dashed) and F_s(q_max, t) (semi-log, with
    the level 0.2 dotted) against t/t0 of the state points in ``chosen`` (dict key -> StatePointDynamics), one colour
    each: the collapse test of the paper's Figs 10–11. ``labels``: dict key -> legend text (default: the key)."""
    for n, (key, r) in enumerate(chosen.items()):
        x = r.corr.t / r.t0
        text = (labels or {}).get(key, key)
        ax_msd.loglog(x, r.corr.msd_total / r.a0 ** 2, color=f"C{n}", label=f"{text}, T = {r.T:g}")
        ax_fs.semilogx(x, r.corr.fs_total, color=f"C{n}")
    tt = np.geomspace(1e-3, 0.3, 10)
    ax_msd.loglog(tt, 3 * tt ** 2, "k--", lw=0.8)
    ax_msd.set(xlabel="t / t0", ylabel="MSD / a0²")
    if chosen:
        ax_msd.legend(fontsize=8, frameon=False)
    ax_fs.axhline(0.2, color="k", ls=":", lw=0.8)
    ax_fs.set(xlabel="t / t0", ylabel="F_s(q_max, t)", ylim=(-0.02, 1.02))
