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


def activation_row(axes, analysis, label=None):
    """One row of the paper's Fig. 4 from a :class:`~meso_kernels.campaign.series.SeriesAnalysis`, on four axes:

    1. F_s(q_max, t) of the large species against t/t0 at every T (colour from hot to cold), the level 0.2 dotted;
    2. τ_α/t0 against 1/T (filled: the activated points used by the fits; crosses: points that fail the
       stationarity check, left out of the fits);
    3. the relative change X(T_p)/X(T_p,max) − 1 of κ and G against 1/T_p with 90 % bootstrap intervals;
    4. ln(τ_α/t0) against κ/T with the Eq. 3 line over the activated points (legend: t̃, ℓ̃ and the verdict).
    """
    import matplotlib.pyplot as plt
    s = analysis.series
    label = label or s.key
    a1, a2, a3, a4 = axes
    colours = plt.cm.viridis(np.linspace(0.0, 0.9, len(s.T)))
    for c, p in zip(colours, s.points):
        a1.semilogx(p.corr.t / p.t0, p.corr.fs[p.large], color=c, lw=1.2, label=f"T = {p.T:g}")
    a1.axhline(0.2, color="k", ls=":", lw=0.8)
    a1.set(xlabel="t / t0", ylabel="F_s(q_max, t)", ylim=(-0.02, 1.02), title=f"{label}: F_s")
    a1.legend(fontsize=6, frameon=False, ncol=2)
    tau = s.tau_over_t0
    act = analysis.activated
    bad = ~analysis.stationary if analysis.stationary is not None else np.zeros(len(s.T), bool)
    a2.semilogy(1 / s.T[~act & ~bad], tau[~act & ~bad], "o", mfc="none", color="C0", label="not fitted")
    a2.semilogy(1 / s.T[act], tau[act], "o", color="C0", label=f"fitted (τ_α/t0 ≥ {analysis.activated_from:g})")
    if bad.any():
        a2.semilogy(1 / s.T[bad], tau[bad], "x", color="C1", ms=7, label="not stationary")
    a2.set(xlabel="1 / T", ylabel="τ_α / t0", title=f"{label}: τ_α")
    a2.legend(fontsize=7, frameon=False)
    for name, marker, colour, text in (("kappa", "o", "C3", "κ"), ("G", "s", "C0", "G")):
        rc = analysis.change[name]
        y = 100 * rc.value
        a3.errorbar(1 / rc.T, y, yerr=100 * np.array([rc.value - rc.low, rc.high - rc.value]), marker=marker,
                    color=colour, capsize=2, ms=4, label=text)
    a3.axhline(0, color="grey", lw=0.5)
    a3.set(xlabel="1 / T_p", ylabel="X(T_p)/X(T_p,max) − 1 (%)", title=f"{label}: κ and G")
    a3.legend(fontsize=7, frameon=False)
    f, v = analysis.fits["kappa"], analysis.verdicts["kappa"]
    x_all = s.means("kappa") / s.T
    a4.plot(x_all[~act & ~bad], np.log(tau[~act & ~bad]), "o", mfc="none", color="C3")
    a4.plot(x_all[bad], np.log(tau[bad]), "x", color="C1", ms=7)
    a4.errorbar(f.x, f.y, xerr=f.x_err, yerr=f.sigma, fmt="o", color="C3", capsize=2, ms=4)
    xx = np.linspace(min(x_all.min(), f.x.min()), max(x_all.max(), f.x.max()), 50)
    a4.plot(xx, f.slope * xx + f.intercept, "k-", lw=1,
            label=f"t̃ = {f.t_tilde:.2g}, ℓ̃ = {f.l_tilde:.2g}\nEq. 3 {'holds' if v.holds else 'fails'}")
    a4.set(xlabel="κ / T", ylabel="ln(τ_α / t0)", title=f"{label}: Eq. 3")
    a4.legend(fontsize=7, frameon=False)


def slab_mask(positions, box, thickness, axis=2, centre=None):
    """Which particles have their centre within ``thickness``/2 of the plane ``x[axis] = centre`` (minimum image;
    default centre: the mid-plane box[axis]/2). positions (N, 3) and box (3,) in length units; returns bool (N,).

    >>> slab_mask([[0, 0, 4.9], [0, 0, 5.6], [0, 0, 9.9]], [10, 10, 10], thickness=1.4).tolist()
    [True, True, False]
    """
    x = np.asarray(positions, dtype=float)
    box = np.asarray(box, dtype=float)
    if x.ndim != 2 or x.shape[1] != 3 or box.shape != (3,):
        raise ValueError(f"positions must have shape (N, 3) and box (3,) (a 3D configuration), got {x.shape} and "
                         f"{box.shape}")
    if axis not in (0, 1, 2):
        raise ValueError(f"axis must be 0, 1 or 2, got {axis!r}")
    L = box[axis]
    if not (np.isfinite(thickness) and 0 < thickness <= L):
        raise ValueError(f"thickness must be in (0, {L}] (the box side along axis {axis}), got {thickness!r}")
    c = 0.5 * L if centre is None else float(centre)
    dz = np.mod(x[:, axis] - c + 0.5 * L, L) - 0.5 * L
    return np.abs(dz) <= 0.5 * thickness


def slab_map(ax, positions, box, values, diameters, thickness, axis=2, centre=None, cmap="coolwarm", vmin=0.0,
             vmax=1.0):
    """A particle map of a slab of a 3D periodic configuration: the particles whose centres lie within
    ``thickness``/2 of the plane ``x[axis] = centre`` (:func:`slab_mask`), drawn as discs of their diameter in the
    two other coordinates (wrapped into the box), coloured by ``values`` (NaN: light grey), the deepest first.

    positions (N, 3), box (3,), diameters (N,), thickness: length units; values (N,). Returns (the
    ``PatchCollection``, the mask of the particles drawn).

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> pc, shown = slab_map(ax, [[1, 1, 5], [3, 3, 0]], [6, 6, 10], [0.2, 0.8], [1.0, 1.4], thickness=1.4)
    >>> shown.tolist(), len(pc.get_paths())
    ([True, False], 1)
    """
    import matplotlib.pyplot as plt
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import Circle

    x = np.asarray(positions, dtype=float)
    mask = slab_mask(x, box, thickness, axis=axis, centre=centre)
    box = np.asarray(box, dtype=float)
    v = np.asarray(values, dtype=float)
    d = np.asarray(diameters, dtype=float)
    if v.shape != (x.shape[0],) or d.shape != (x.shape[0],):
        raise ValueError(f"values and diameters must have shape ({x.shape[0]},), got {v.shape} and {d.shape}")
    plane = [a for a in range(3) if a != axis]
    w = np.mod(x[:, plane], box[plane])
    c = 0.5 * box[axis] if centre is None else float(centre)
    depth = np.mod(x[:, axis] - c + 0.5 * box[axis], box[axis])
    idx = np.flatnonzero(mask)
    idx = idx[np.argsort(depth[idx], kind="stable")]  # the front of the slab (largest depth) drawn last
    pc = PatchCollection([Circle(tuple(w[i]), 0.5 * d[i]) for i in idx], edgecolor="k", linewidth=0.3)
    pc.set_cmap(plt.get_cmap(cmap).with_extremes(bad="lightgrey"))
    pc.set_array(np.ma.masked_invalid(v[idx]))
    pc.set_clim(vmin, vmax)
    ax.add_collection(pc)
    ax.set(xlim=(0, box[plane[0]]), ylim=(0, box[plane[1]]), aspect="equal",
           xlabel="xyz"[plane[0]], ylabel="xyz"[plane[1]])
    return pc, mask


def particle_map(ax, positions, box, values, diameters, norm=None, cmap="viridis", thickness=None, axis=2,
                 centre=None):
    """Particles drawn as discs of their diameter, coloured by ``values`` through ``norm`` (a matplotlib ``Normalize``
    such as ``LogNorm(vmin, vmax)``; default: linear over the finite values); NaN values light grey.

    2D (positions (N, 2), box (2,)): every particle, wrapped into the box. 3D: the slab of ``thickness`` around the
    plane ``x[axis] = centre`` (:func:`slab_map`; ``thickness`` is then required). Lengths in the model's units.
    Returns (the ``PatchCollection``, the bool mask (N,) of the particles drawn).

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from matplotlib.colors import LogNorm
    >>> fig, ax = plt.subplots()
    >>> pc, shown = particle_map(ax, [[1, 1], [3, 5]], [6, 6], [0.5, 20.0], [1.0, 1.4], norm=LogNorm(0.1, 100))
    >>> int(shown.sum()), len(pc.get_paths()), pc.norm.vmax
    (2, 2, 100.0)
    """
    import matplotlib.pyplot as plt
    from matplotlib.collections import PatchCollection
    from matplotlib.colors import Normalize
    from matplotlib.patches import Circle

    x = np.asarray(positions, dtype=float)
    box = np.asarray(box, dtype=float)
    v = np.asarray(values, dtype=float)
    d = np.asarray(diameters, dtype=float)
    if x.ndim != 2 or x.shape[1] not in (2, 3) or box.shape != (x.shape[1],):
        raise ValueError(f"positions must have shape (N, 2) or (N, 3) and box (d,), got {x.shape} and {box.shape}")
    if v.shape != (x.shape[0],) or d.shape != (x.shape[0],):
        raise ValueError(f"values and diameters must have shape ({x.shape[0]},), got {v.shape} and {d.shape}")
    if norm is None:
        finite = v[np.isfinite(v)]
        norm = Normalize(*(finite.min(), finite.max()) if finite.size else (0.0, 1.0))
    if x.shape[1] == 3:
        if thickness is None:
            raise ValueError("a 3D configuration is drawn as a slab: give thickness (length)")
        pc, mask = slab_map(ax, x, box, v, d, thickness, axis=axis, centre=centre, cmap=cmap)
        pc.set_norm(norm)
        return pc, mask
    w = np.mod(x, box)
    pc = PatchCollection([Circle(tuple(p), 0.5 * di) for p, di in zip(w, d)], edgecolor="k", linewidth=0.3)
    pc.set_cmap(plt.get_cmap(cmap).with_extremes(bad="lightgrey"))
    pc.set_array(np.ma.masked_invalid(v))
    pc.set_norm(norm)
    ax.add_collection(pc)
    ax.set(xlim=(0, box[0]), ylim=(0, box[1]), aspect="equal", xlabel="x", ylabel="y")
    return pc, np.ones(x.shape[0], dtype=bool)


def mode_arrows(ax, positions, box, field, diameters, centre, half_width, thickness=None, axis=2, longest=1.5,
                colour="k"):
    """A displacement field (e.g. a pseudoharmonic mode, (N, d)) as arrows on the particles, in a square window of
    half-width ``half_width`` around the point ``centre`` (d,), periodic images folded around it (minimum image).

    2D: every particle in the window. 3D: those within ``thickness``/2 of the plane through ``centre``
    perpendicular to ``axis``, with the field's two in-plane components. Particles are grey discs of their
    diameter; the longest arrow drawn is ``longest`` lengths long (the field's scale is arbitrary). Returns the
    ``Quiver`` and the bool mask (N,) of the particles drawn; the axes' coordinates are relative to ``centre``.

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> q, shown = mode_arrows(ax, [[1, 1], [9, 1], [5, 5]], [10, 10], [[1, 0], [0, 1], [0, 0.1]], [1, 1, 1],
    ...                        centre=[0, 1], half_width=2)
    >>> shown.tolist(), q.U.tolist()
    ([True, True, False], [1.0, 0.0])
    """
    import matplotlib.pyplot as plt

    x = np.asarray(positions, dtype=float)
    box = np.asarray(box, dtype=float)
    u = np.asarray(field, dtype=float)
    d = np.asarray(diameters, dtype=float)
    c = np.asarray(centre, dtype=float)
    dim = x.shape[1] if x.ndim == 2 else 0
    if dim not in (2, 3) or box.shape != (dim,) or u.shape != x.shape or c.shape != (dim,) or d.shape != (x.shape[0],):
        raise ValueError(f"positions and field must have shape (N, 2) or (N, 3), box and centre (d,), diameters "
                         f"(N,); got {x.shape}, {u.shape}, {box.shape}, {c.shape}, {d.shape}")
    if not (np.isfinite(half_width) and half_width > 0):
        raise ValueError(f"half_width must be a positive length, got {half_width!r}")
    rel = np.mod(x - c + 0.5 * box, box) - 0.5 * box
    plane = [0, 1] if dim == 2 else [a for a in range(3) if a != axis]
    mask = np.all(np.abs(rel[:, plane]) <= half_width + 0.5 * d[:, None], axis=1)
    if dim == 3:
        if thickness is None or not (np.isfinite(thickness) and thickness > 0):
            raise ValueError(f"a 3D field is drawn on a slab: give a positive thickness (length), got {thickness!r}")
        mask &= np.abs(rel[:, axis]) <= 0.5 * thickness
    idx = np.flatnonzero(mask)
    p, w = rel[idx][:, plane], u[idx][:, plane]
    for (px, py), di in zip(p, d[idx]):
        ax.add_patch(plt.Circle((px, py), 0.5 * di, fc="0.93", ec="0.7", lw=0.4))
    size = np.sqrt((w * w).sum(1))
    scale = longest / size.max() if size.size and size.max() > 0 else 1.0
    q = ax.quiver(p[:, 0], p[:, 1], w[:, 0], w[:, 1], angles="xy", scale_units="xy", scale=1 / scale,
                  width=0.005, color=colour)
    ax.set(xlim=(-half_width, half_width), ylim=(-half_width, half_width), aspect="equal")
    return q, mask
