"""What a figure page reports about itself: its plotted numbers as a CSV file offered for download, and one
provenance line saying which size, code, date and machine produced its data.

One definition, used by every page of the book (``notebooks/fig*.py``)::

    page = Page("fig03", size)   # first cell, before anything is loaded: starts a ReadLog
    ...                          # load, compute, draw
    page.add(fig)                # after drawing each figure (before plt.show()): its plotted numbers
    ...
    page.finish()                # last cell: writes the CSV, shows its download link and the provenance line

The plotted numbers are read from the matplotlib figure itself (:func:`figure_table`), so the CSV holds what was
drawn and nothing else: a *tidy* (long) table with one row per plotted point and the columns :data:`COLUMNS`
(``figure``, ``panel``, ``series``, ``x_name``, ``x``, ``y_name``, ``y``), followed by those of :data:`OPTIONAL`
that some row has (error bars as interval ends, arrows, colour values).

The provenance comes from the JSON sidecars (:func:`meso_kernels.io.provenance`) of the stored results the page
used, which :class:`meso_kernels.store.ReadLog` collects wherever they were loaded (:func:`provenance_line`).

Where the file goes and how the link works: the CSV is written atomically to
``<data_root(size)>/figures/<page>_<size>_plotted.csv`` (``data/`` for default and paper, committed with the data;
``build/ci-data/`` for ci), and the link is a Markdown output (``text/markdown``) whose target is relative to the
executed notebook (``book/executed/``). Jupyter opens it from there; Jupyter Book, with
``nb_render_markdown_format: myst`` (``_config.yml``), turns a Markdown link to a local file into a download
reference and copies the file into ``_build/html/_downloads/`` (a broken link is a warning, so ``-W`` fails).

>>> line = provenance_line([{"git_commit": "0123456789ab", "git_dirty": False, "date": "2026-11-24T10:00:00+00:00",
...                          "backend": "cpu", "device": "cpu", "cpu": {"model": "AMD EPYC"}}], "ci",
...                         build=("fedcba9876543210", False, "2026-12-01"))
>>> for part in line.split("; "):           # one line, printed here in its three parts
...     print(part)
Provenance: size ci
data: 1 stored result, made by commit 01234567, on 2026-11-24, on CPU AMD EPYC
page executed at commit fedcba98 on 2026-12-01.
"""
import datetime as _dt
import json
import os
from collections import Counter
from pathlib import Path

import numpy as np

from .io import atomic_path, git_state
from .store import REPO_ROOT, ReadLog, data_root

#: the columns every plotted-numbers table has, in this order
COLUMNS = ("figure", "panel", "series", "x_name", "x", "y_name", "y")
#: optional columns, in this order, present when some row has them: interval ends of error bars (x_lo <= x <= x_hi,
#: y_lo <= y <= y_hi), arrow components (quiver) and the value a colour shows (scatter, discs, coloured segments)
OPTIONAL = ("x_lo", "x_hi", "y_lo", "y_hi", "u", "v", "value_name", "value")
_TEXT = ("panel", "series", "x_name", "y_name", "value_name")

#: where executed figure pages live (``scripts/run_notebooks.py --out-dir``): links are relative to it
PAGE_DIR = REPO_ROOT / "book" / "executed"
#: the most commits / machines a provenance line lists one by one (the rest are counted)
MAX_LISTED = 4


# ---------------------------------------------------------------------------------------------- plotted numbers

def _floats(values):
    try:
        return np.asarray(values, dtype=float).ravel()
    except (TypeError, ValueError):
        return None


def _axes_names(ax, index):
    """(panel, x_name, y_name) of an axes; a twin without title or x label takes its sibling's."""
    siblings = [a for a in ax.figure.axes if a is not ax and a.get_position().bounds == ax.get_position().bounds]
    title = ax.get_title() or next((t for t in (a.get_title() for a in siblings) if t), "")
    xlabel = ax.get_xlabel() or next((t for t in (a.get_xlabel() for a in siblings) if t), "")
    return title or f"axes {index}", xlabel, ax.get_ylabel()


def _series(artist, n):
    label = artist.get_label() if hasattr(artist, "get_label") else None
    return label if label and not str(label).startswith("_") else f"unlabelled {n}"


def _colour_name(mappable):
    bar = getattr(mappable, "colorbar", None)
    label = bar.ax.get_ylabel() or bar.ax.get_xlabel() if bar is not None else ""
    return label or "colour value"


def _in_data_coords(transform, ax):
    """Whether ``transform`` (an artist's, or a collection's offset transform) is the axes' data coordinates (not
    that of a reference line such as axhline/axvline, which mixes data and axes coordinates)."""
    return transform is ax.transData or transform == ax.transData


def _errorbar_rows(container, base, n):
    from matplotlib.collections import LineCollection
    data_line, _caps, bars = container.lines
    if data_line is None:
        return [], n
    x, y = _floats(data_line.get_xdata()), _floats(data_line.get_ydata())
    if x is None or y is None:
        return [], n
    cols = {"x": x, "y": y}
    kinds = (([("x_lo", "x_hi", 0)] if container.has_xerr else [])
             + ([("y_lo", "y_hi", 1)] if container.has_yerr else []))
    for (lo, hi, axis), coll in zip(kinds, [b for b in bars if isinstance(b, LineCollection)]):
        segs = coll.get_segments()
        if len(segs) != len(x):  # errorevery or non-finite errors: ends cannot be matched to points safely
            continue
        ends = np.array([[s[0][axis], s[-1][axis]] if len(s) else [np.nan, np.nan] for s in segs], dtype=float)
        cols[lo], cols[hi] = ends.min(axis=1), ends.max(axis=1)
    label = container.get_label()
    series = label if label and not label.startswith("_") else _series(data_line, n)
    return [dict(base, series=series, **{k: v[i] for k, v in cols.items()}) for i in range(len(x))], n + 1


def _collection_rows(coll, ax, base, n):
    """Rows of a scatter (PathCollection), quiver, patch collection (discs: their centres) or coloured line
    collection (segment midpoints); other collections (filled bands, polygons) give none."""
    from matplotlib.collections import LineCollection, PatchCollection, PathCollection, PolyCollection
    from matplotlib.quiver import Quiver
    values = coll.get_array()
    values = None if values is None else _floats(np.ma.filled(np.ma.asarray(values, dtype=float), np.nan))
    extra = {}
    if isinstance(coll, Quiver):
        x, y = _floats(coll.X), _floats(coll.Y)
        extra = {"u": _floats(coll.U), "v": _floats(coll.V)}
        values = None
    elif isinstance(coll, PathCollection):
        if not _in_data_coords(coll.get_offset_transform(), ax):
            return [], n
        off = np.asarray(coll.get_offsets(), dtype=float).reshape(-1, 2)
        x, y = off[:, 0], off[:, 1]
    elif isinstance(coll, PatchCollection):
        if not _in_data_coords(coll.get_transform(), ax):
            return [], n
        centres = np.array([0.5 * (p.vertices.min(axis=0) + p.vertices.max(axis=0)) for p in coll.get_paths()])
        if not len(centres):
            return [], n
        x, y = centres[:, 0], centres[:, 1]
    elif isinstance(coll, LineCollection) and not isinstance(coll, PolyCollection):
        if not _in_data_coords(coll.get_transform(), ax) or values is None:
            return [], n
        mids = np.array([0.5 * (np.asarray(s)[0] + np.asarray(s)[-1]) for s in coll.get_segments()])
        if not len(mids):
            return [], n
        x, y = mids[:, 0], mids[:, 1]
    else:
        return [], n
    if values is not None and len(values) == len(x):
        extra.update(value_name=[_colour_name(coll)] * len(x), value=values)
    series = _series(coll, n)
    return [dict(base, series=series, x=x[i], y=y[i], **{k: v[i] for k, v in extra.items()})
            for i in range(len(x))], n + 1


def figure_table(fig, figure=1):
    """The numbers a matplotlib figure plots, as a tidy :class:`pandas.DataFrame` (one row per point; columns
    :data:`COLUMNS` and the :data:`OPTIONAL` ones some row has).

    Read per axes (colour bars skipped): lines in data coordinates (``plot``, ``loglog``, ``step``...: their
    original data, whatever the scale); error bars (the data line with ``x_lo``/``x_hi``/``y_lo``/``y_hi``, the ends
    of its bars); bar containers (bar centre, height); scatter points, quiver arrows (``u``, ``v``), patch collections
    (disc centres) and coloured line collections (segment midpoints), with the colour ``value`` and its colour-bar
    label as ``value_name``. Not read: reference lines in axes coordinates (``axhline``, ``axvline``), single patches,
    images, texts and filled bands. ``panel`` is the axes' title (a twin axes takes its sibling's; else
    ``"axes <n>"``), ``x_name``/``y_name`` its axis labels, ``series`` the artist's legend label (else
    ``"unlabelled <n>"``). ``figure``: the number written into the ``figure`` column."""
    import pandas as pd
    from matplotlib.container import BarContainer, ErrorbarContainer
    from matplotlib.figure import Figure
    if not isinstance(fig, Figure):
        raise TypeError(f"figure_table needs a matplotlib Figure, got {type(fig).__name__}")
    rows = []
    for index, ax in enumerate(fig.axes, start=1):
        if getattr(ax, "_colorbar", None) is not None:
            continue
        panel, x_name, y_name = _axes_names(ax, index)
        base = {"figure": figure, "panel": panel, "x_name": x_name, "y_name": y_name}
        used, n = set(), 1
        for c in ax.containers:
            if isinstance(c, ErrorbarContainer):
                new, n = _errorbar_rows(c, base, n)
                rows += new
                data_line, caps, bars = c.lines
                used.update(id(a) for a in (data_line, *caps, *bars) if a is not None)
            elif isinstance(c, BarContainer):
                label = c.get_label()
                series = label if label and not label.startswith("_") else f"unlabelled {n}"
                for p in c.patches:
                    bx, by, w, h = p.get_x(), p.get_y(), p.get_width(), p.get_height()
                    x, y = (bx + 0.5 * w, by + h) if c.orientation == "vertical" else (bx + w, by + 0.5 * h)
                    rows.append(dict(base, series=series, x=x, y=y))
                n += 1
        for line in ax.lines:
            if id(line) in used or not _in_data_coords(line.get_transform(), ax):
                continue
            x, y = _floats(line.get_xdata()), _floats(line.get_ydata())
            if x is None or y is None or len(x) != len(y) or not len(x):
                continue
            series = _series(line, n)
            n += 1
            rows += [dict(base, series=series, x=x[i], y=y[i]) for i in range(len(x))]
        for coll in ax.collections:
            if id(coll) in used:
                continue
            new, n = _collection_rows(coll, ax, base, n)
            rows += new
    table = pd.DataFrame(rows, columns=list(COLUMNS)) if not rows else pd.DataFrame(rows)
    table = table[np.isfinite(table["x"].astype(float)) & np.isfinite(table["y"].astype(float))]  # gaps: not drawn
    return tidy_table(table)


def tidy_table(table):
    """Check a plotted-numbers table (a :class:`pandas.DataFrame`, or a list of row dicts) and return it with its
    columns in the standard order: :data:`COLUMNS` (all required), then the :data:`OPTIONAL` ones present; no other
    columns. ``x``, ``y`` and the optional numeric columns must be numbers (NaN allowed: a gap in a curve)."""
    import pandas as pd
    if isinstance(table, list):
        table = pd.DataFrame(table)
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"a plotted-numbers table is a pandas DataFrame or a list of row dicts, got "
                        f"{type(table).__name__}")
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"plotted-numbers table lacks the column(s) {', '.join(missing)}; it needs "
                         f"{', '.join(COLUMNS)}")
    unknown = [c for c in table.columns if c not in COLUMNS + OPTIONAL]
    if unknown:
        raise ValueError(f"plotted-numbers table has unknown column(s) {', '.join(map(str, unknown))}; allowed: "
                         f"{', '.join(COLUMNS + OPTIONAL)}")
    out = table[[c for c in COLUMNS + OPTIONAL if c in table.columns]].copy()
    for c in out.columns:
        if c in _TEXT:
            out[c] = out[c].fillna("").astype(str)
        elif c != "figure":
            try:
                out[c] = pd.to_numeric(out[c], errors="raise").astype(float)
            except (TypeError, ValueError):
                raise ValueError(f"plotted-numbers column {c!r} must hold numbers") from None
    return out.reset_index(drop=True)


def write_csv(table, path):
    """Write a plotted-numbers table (:func:`tidy_table`) to ``path`` as CSV, atomically (temporary file, then
    rename: a reader never sees half a file); numbers in full precision (they read back exactly). Returns the path."""
    table = tidy_table(table)
    path = Path(path)
    if path.suffix != ".csv":
        raise ValueError(f"plotted numbers go to a .csv file, got {str(path)!r}")
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)
    return path


def read_csv(path):
    """A plotted-numbers CSV read back as written (text columns as strings; empty text is '')."""
    import pandas as pd
    table = pd.read_csv(path, keep_default_na=False, na_values={c: ["", "NaN", "nan"] for c in
                                                                ("x", "y") + OPTIONAL if c not in _TEXT})
    return tidy_table(table)


def link_markdown(path, page_dir=PAGE_DIR, text=None):
    """Markdown of a link to the file ``path``, relative to the folder of the page (``page_dir``) that shows it."""
    path = Path(path).absolute()
    rel = Path(os.path.relpath(path, Path(page_dir).absolute())).as_posix()
    return f"[{text or path.name}]({rel.replace(' ', '%20')})"


def show_markdown(markdown, plain=None):
    """Display Markdown as a notebook output (``text/markdown``, with ``plain`` as ``text/plain``)."""
    from IPython.display import display
    display({"text/markdown": markdown, "text/plain": plain or markdown}, raw=True)


# ---------------------------------------------------------------------------------------------- provenance

def read_sidecars(paths):
    """The sidecars (dicts) at ``paths``; ``ValueError`` naming a file that is missing or not a JSON object."""
    out = []
    for p in paths:
        try:
            meta = json.loads(Path(p).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ValueError(f"sidecar {p} does not exist") from None
        except (OSError, ValueError) as exc:
            raise ValueError(f"sidecar {p} cannot be read as JSON ({exc})") from None
        if not isinstance(meta, dict):
            raise ValueError(f"sidecar {p} holds a JSON {type(meta).__name__}, not an object")
        out.append(meta)
    return out


def _commit(meta):
    commit = meta.get("git_commit")
    if not commit or commit == "unknown":
        return "unknown"
    return str(commit)[:8] + ("+dirty" if meta.get("git_dirty") else "")


def machine(meta):
    """Where a result was made, from its sidecar: ``"GPU <device>"`` for the CUDA backend, else
    ``"CPU <model>"`` (``"CPU (model not recorded)"`` for sidecars older than the CPU record)."""
    if meta.get("backend") == "cuda":
        return f"GPU {meta.get('device') or 'unknown'}"
    cpu = meta.get("cpu")
    model = cpu.get("model") if isinstance(cpu, dict) else cpu if isinstance(cpu, str) else None
    return f"CPU {model}" if model else "CPU (model not recorded)"


def _counted(counter, noun):
    """``a (3), b (1)`` by decreasing count (no count when there is one kind), at most MAX_LISTED named."""
    items = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    if len(items) == 1:
        return items[0][0]
    named = ", ".join(f"{k} ({v})" for k, v in items[:MAX_LISTED])
    rest = items[MAX_LISTED:]
    if rest:
        named += f" and {len(rest)} more {noun} ({sum(v for _, v in rest)})"
    return named


def _dates(sidecars):
    days = sorted({str(m["date"])[:10] for m in sidecars if m.get("date")})
    if not days:
        return "on an unrecorded date"
    return f"on {days[0]}" if len(days) == 1 else f"between {days[0]} and {days[-1]}"


def provenance_line(sidecars, size, build=None):
    """One line saying what produced a page's data, from the sidecars (dicts) of the results it used: the size, the
    commits (short hashes, ``+dirty`` where the checkout had uncommitted changes), the dates, the CPUs or GPUs
    (:func:`machine`), each with its count when there are several, and the commit and date of the page's own
    execution (``build``: ``(commit, dirty, date)``; default: this checkout now). No sidecars: the page computed
    everything itself, which the line says."""
    from .presets import check_size
    check_size(size)
    sidecars = list(sidecars)
    for m in sidecars:
        if not isinstance(m, dict):
            raise TypeError(f"a sidecar is a dict (the JSON of a stored result), got {type(m).__name__}")
    if build is None:
        commit, dirty = git_state()
        build = (commit, dirty, _dt.datetime.now(_dt.timezone.utc).date().isoformat())
    b_commit, b_dirty, b_date = build
    page = (f"page executed at commit {_commit({'git_commit': b_commit, 'git_dirty': b_dirty})} "
            f"on {str(b_date)[:10]}")
    if not sidecars:
        return f"Provenance: size {size}; data: computed on this page, none from the store; {page}."
    n = len(sidecars)
    commits = Counter(_commit(m) for m in sidecars)
    machines = Counter(machine(m) for m in sidecars)
    c_word = "commit" if len(commits) == 1 else "commits"
    return (f"Provenance: size {size}; data: {n} stored result{'s' if n > 1 else ''}, made by {c_word} "
            f"{_counted(commits, 'commits')}, {_dates(sidecars)}, on {_counted(machines, 'machines')}; {page}.")


# ---------------------------------------------------------------------------------------------- the page

class Page:
    """What one figure page reports: construct it in the page's first cell (it starts a
    :class:`~meso_kernels.store.ReadLog`, so construct it before loading anything), :meth:`add` each figure once
    drawn, and call :meth:`finish` in the last cell.

    name: the page's short name (``"fig03"``); size: its run size. out_dir: where the CSV goes (default
    ``<data_root(size)>/figures``); page_dir: the folder of the executed page, for the link (default
    :data:`PAGE_DIR`)."""

    def __init__(self, name, size, out_dir=None, page_dir=PAGE_DIR):
        from .presets import check_size
        check_size(size)
        if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
            raise ValueError(f"a page name is a plain file-name part such as 'fig03', got {name!r}")
        self.name, self.size = name, size
        self.out_dir = Path(out_dir) if out_dir is not None else data_root(size) / "figures"
        self.page_dir = Path(page_dir)
        self.tables = []
        self.written = self.line = None
        self.log = ReadLog().start()

    @property
    def csv_path(self):
        return self.out_dir / f"{self.name}_{self.size}_plotted.csv"

    def add(self, what):
        """Add a figure's plotted numbers (a matplotlib Figure, read by :func:`figure_table`), or a table of rows
        (:func:`tidy_table`) for numbers drawn some other way. Figures are numbered in the order added."""
        from matplotlib.figure import Figure
        number = len(self.tables) + 1
        if isinstance(what, Figure):
            table = figure_table(what, figure=number)
        else:
            table = tidy_table(what)
        self.tables.append(table)
        return table

    def table(self):
        import pandas as pd
        if not self.tables:
            raise ValueError(f"page {self.name!r}: no figure added (Page.add(fig) after drawing it)")
        return tidy_table(pd.concat(self.tables, ignore_index=True))

    def sidecars(self):
        return read_sidecars(self.log.paths)

    def provenance(self):
        return provenance_line(self.sidecars(), self.size)

    def finish(self, show=True):
        """Write the CSV, stop recording reads, and (``show``) display the download link and the provenance line.
        Sets :attr:`written` (the CSV's path) and :attr:`line` (the provenance line); returns None (so that a
        notebook cell ending with it shows nothing more)."""
        table = self.table()
        path = write_csv(table, self.csv_path)
        self.log.stop()
        line = self.provenance()
        self.written, self.line = path, line
        if show:
            shown = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path
            show_markdown(f"Plotted numbers of this page ({len(table)} rows, one per plotted point): "
                          f"{link_markdown(path, self.page_dir)} (CSV)",
                          f"plotted numbers written to {shown} ({len(table)} rows)")
            show_markdown(line)
