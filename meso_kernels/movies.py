"""Movies of inherent-structure (IHS) trajectories (the Fig. 5 page): where a transition happens and how the IHS
energy jumps.

Each frame of a movie shows, left, the IHS of one frame of the trajectory in the periodic box (3D; a 2D system is
drawn flat), every particle coloured by its minimum-image displacement from the IHS *before the most recent
transition* (in units of a0 = rho^(-1/d)), so a rearrangement lights up where it happens and stays lit until the
next one; particles that hardly moved are small and faint. Right, (U_IHS - U_IHS(0)) / T against the reduced time
N t / (N0 t_ballistic) of Fig. 5(a), with a marker at the current frame. The input is a stored Fig. 5 trajectory
(:func:`meso_kernels.campaign.trajectories.ihs_trajectories`; the first trajectory of each state point keeps its IHS
positions, ``ihs_positions``, float32) or any mapping with the same arrays.

Writers: MP4 (H.264, for the web page) through matplotlib's ``FFMpegWriter``, with the system ``ffmpeg`` or, where
there is none, the one shipped by ``imageio-ffmpeg`` (``pip install imageio-ffmpeg``, or the ``[book]`` extra). The
GIF fallback is converted from the MP4 by the same ffmpeg (smaller, one palette), or drawn by matplotlib's
``PillowWriter`` when only a GIF is asked for (no ffmpeg needed; Pillow comes with matplotlib). Files are written to
a temporary name and renamed, so a killed render never leaves a truncated movie under the final name.

>>> import numpy as np, tempfile, pathlib
>>> rng = np.random.default_rng(0)
>>> X = np.repeat(rng.uniform(0, 5, (1, 50, 3)), 4, axis=0).astype(np.float32)
>>> X[2:, :3] += 1.5                                      # frame 2: three particles move 1.5 (a0 = 1.36)
>>> traj = {"ihs_positions": X, "energies": [-3.0, -3.0, -3.5, -3.5], "times": [0.0, 0.005, 0.01, 0.015],
...         "box": [5.0, 5.0, 5.0], "T": 0.8}
>>> out = render_ihs_movie(traj, pathlib.Path(tempfile.mkdtemp()) / "demo", formats=("gif",), dpi=30)
>>> sorted(out), out["gif"].suffix, movie_frames(out["gif"])
(['gif'], '.gif', 4)
"""
import math
import numbers
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .analysis.rearrangements import (_box, _positions, _transitions, displacements, mean_spacing,
                                      rearrangement_sizes)

#: movie formats and the matplotlib writer each needs
FORMATS = ("mp4", "gif")
INSTALL_FFMPEG = ("pip install imageio-ffmpeg (it is in the book extra: pip install -e '.[book]'; conda: conda "
                  "install -c conda-forge imageio-ffmpeg), or install a system ffmpeg (apt-get install ffmpeg)")


class MovieError(RuntimeError):
    """A movie that cannot be made as asked: no writer for the format, or no stored IHS positions to draw."""


def ffmpeg_executable():
    """The ffmpeg program matplotlib's ``FFMpegWriter`` will run: ``ffmpeg`` on the PATH, else the binary of the
    ``imageio-ffmpeg`` package. Raises :class:`MovieError` saying what to install when there is neither."""
    exe = shutil.which("ffmpeg")
    if exe:
        return exe
    try:
        import imageio_ffmpeg
    except ImportError:
        raise MovieError(f"MP4 movies need ffmpeg, and there is no ffmpeg on the PATH and no imageio-ffmpeg: "
                         f"{INSTALL_FFMPEG}; or ask for formats=('gif',) only") from None
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as exc:  # the package is there but its binary is not (an unsupported platform)
        raise MovieError(f"imageio-ffmpeg has no ffmpeg binary here ({exc}): install a system ffmpeg "
                         f"(apt-get install ffmpeg)") from None


def check_formats(formats):
    """``formats`` as a tuple of distinct lowercase names from :data:`FORMATS`; ValueError otherwise."""
    if isinstance(formats, str):
        formats = (formats,)
    try:
        out = tuple(dict.fromkeys(str(f).lower().lstrip(".") for f in formats))
    except TypeError:
        raise ValueError(f"formats must be a sequence of {', '.join(FORMATS)}, got {formats!r}") from None
    bad = [f for f in out if f not in FORMATS]
    if not out or bad:
        raise ValueError(f"formats must be a non-empty selection of {', '.join(FORMATS)}, got {formats!r}")
    return out


def _writer(fmt, fps):
    from matplotlib import animation
    if fmt == "gif":
        return animation.PillowWriter(fps=fps)
    # faststart: the index at the front of the file, so a browser starts playing before the download ends;
    # -f mp4: the temporary name does not end in .mp4
    return animation.FFMpegWriter(fps=fps, codec="h264", bitrate=-1,
                                  extra_args=["-pix_fmt", "yuv420p", "-movflags", "+faststart", "-f", "mp4"])


def _scalar(trajectory, name, default=None):
    v = trajectory.get(name, default) if hasattr(trajectory, "get") else default
    return None if v is None else float(np.asarray(v))


def _inputs(trajectory, eps):
    """Validated arrays of a trajectory mapping: X (F, N, d), U (F,), times (F,), box (d,), T, rho, transitions."""
    from .analysis.ihs import transitions_from_energies
    if not hasattr(trajectory, "get"):
        raise ValueError(f"trajectory must be a mapping of arrays (a stored Fig. 5 trajectory), got "
                         f"{type(trajectory).__name__}")
    if trajectory.get("ihs_positions") is None:
        raise MovieError("this trajectory has no inherent-structure positions (ihs_positions): only the first "
                         "trajectory of each Fig. 5 state point keeps them (ihs_tasks(..., keep_positions=1)). Run "
                         "`meso campaign run --size default --figures 5` or the notebook fig05_ihs_transitions "
                         "(python scripts/run_notebooks.py fig05_ihs_transitions --size default) to store them")
    missing = [k for k in ("energies", "times", "box", "T") if trajectory.get(k) is None]
    if missing:
        raise ValueError(f"trajectory lacks {', '.join(missing)} (needed: ihs_positions, energies, times, box, T)")
    X = _positions(trajectory["ihs_positions"])
    F, N, d = X.shape
    box = _box(trajectory["box"], d)
    U = np.asarray(trajectory["energies"], dtype=float)
    times = np.asarray(trajectory["times"], dtype=float)
    if U.shape != (F,) or times.shape != (F,):
        raise ValueError(f"energies and times must have one entry per frame ({F},), got {U.shape} and {times.shape}")
    if not (np.all(np.isfinite(U)) and np.all(np.isfinite(times)) and np.all(np.diff(times) > 0)):
        raise ValueError("energies must be finite and times finite and strictly increasing")
    T = _scalar(trajectory, "T")
    if not (math.isfinite(T) and T > 0):
        raise ValueError(f"T must be a positive temperature, got {T!r}")
    rho = _scalar(trajectory, "rho", N / float(np.prod(box)))
    t = trajectory.get("transitions")
    t = transitions_from_energies(U, eps) if t is None else _transitions(t, F)
    return X, U, times, box, T, rho, t


def reference_frames(F, transitions):
    """For each frame k, the frame whose IHS it is compared with in a movie: the frame just before the most recent
    transition at or before k (the previous distinct IHS), or k itself before the first transition.

    >>> reference_frames(6, [2, 4]).tolist()
    [0, 1, 1, 1, 3, 3]
    """
    ref = np.arange(F)
    last = None
    t = set(int(k) for k in np.asarray(transitions).ravel())
    for k in range(F):
        if k in t:
            last = k - 1
        if last is not None:
            ref[k] = last
    return ref


def render_ihs_movie(trajectory, path, formats=FORMATS, fps=None, dpi=100, gif_dpi=50, max_frames=None,
                     threshold=0.2, vmax=0.6, label=None, eps=1e-5):
    """Render the movie of one IHS trajectory; returns ``{format: Path}`` of the files written.

    trajectory : mapping with ``ihs_positions`` (F, N, d; length units), ``energies`` (F,; extensive U_IHS, energy
        units), ``times`` (F,; time units), ``box`` (d,), ``T``; optional ``rho`` (default N / volume) and
        ``transitions`` (default: |ΔU_IHS| > ``eps``) — a stored Fig. 5 trajectory has them all
    path : output path without suffix (or ending in .mp4 or .gif, which is replaced): ``.mp4`` / ``.gif`` are
        appended (folders are created)
    formats : any of :data:`FORMATS` ("mp4": H.264 through ffmpeg; "gif": from the MP4 by ffmpeg, or by Pillow)
    fps : frames per second; default: the movie lasts about 8 s (4 to 15 frames per second)
    dpi, gif_dpi : resolution of the MP4 and of the (smaller) GIF; the figure is 9 x 4 inches
    max_frames : draw only the first ``max_frames`` frames (>= 2; default all)
    threshold : displacement (units of a0) from which a particle is drawn fully opaque and counted as moved
    vmax : top of the colour scale (units of a0)
    label : title text (e.g. the model and T)

    MovieError when no writer for a format is installed (what to install is in the message) or the trajectory has no
    stored positions (which command stores them); ValueError for bad parameters. Rendering costs ~0.1-0.2 s per
    frame at N = 1000 (two cores).
    """
    import matplotlib
    import matplotlib.pyplot as plt
    from matplotlib.colors import Normalize

    from .analysis.ihs import reduced_time

    formats = check_formats(formats)
    X, U, times, box, T, rho, trans = _inputs(trajectory, eps)
    F, N, d = X.shape
    if max_frames is not None:
        if isinstance(max_frames, bool) or int(max_frames) != max_frames or max_frames < 2:
            raise ValueError(f"max_frames must be an integer >= 2 or None, got {max_frames!r}")
        F = min(F, int(max_frames))
        X, U, times, trans = X[:F], U[:F], times[:F], trans[trans < F]
    if fps is None:
        fps = int(min(15, max(4, round(F / 8))))
    if isinstance(fps, bool) or not (isinstance(fps, numbers.Real) and 0 < fps <= 60):
        raise ValueError(f"fps must be a number of frames per second in (0, 60], got {fps!r}")
    for name, v in (("dpi", dpi), ("gif_dpi", gif_dpi)):
        if isinstance(v, bool) or not (isinstance(v, numbers.Real) and 10 <= v <= 600):
            raise ValueError(f"{name} must be a resolution in [10, 600] dots per inch, got {v!r}")
    for name, v in (("threshold", threshold), ("vmax", vmax)):
        if isinstance(v, bool) or not (isinstance(v, numbers.Real) and math.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be a positive displacement in units of a0, got {v!r}")
    exe = ffmpeg_executable() if "mp4" in formats else None
    path = Path(path)

    a0 = mean_spacing(N, box)
    ref = reference_frames(F, trans)
    disp = np.array([displacements(X, box, k, int(ref[k])) for k in range(F)]) / a0   # (F, N), units of a0
    sizes = dict(zip(trans.tolist(), rearrangement_sizes(X, box, trans, threshold=threshold).tolist()))
    x_red = reduced_time(times, N=N, rho=rho, T=T, dim=d)
    y = (U - U[0]) / T
    wrapped = np.mod(X.astype(float), box)
    cmap = plt.get_cmap("plasma")
    norm = Normalize(0.0, vmax)

    with matplotlib.rc_context({"animation.ffmpeg_path": exe or "ffmpeg"}):
        fig = plt.figure(figsize=(9, 4), dpi=dpi)
        try:
            if d == 3:
                ax = fig.add_axes([0.0, 0.02, 0.5, 0.86], projection="3d")
                ax.set(xlim=(0, box[0]), ylim=(0, box[1]), zlim=(0, box[2]))
                ax.set_box_aspect(tuple(box))
                ax.view_init(elev=18, azim=-60)
                ax.set_axis_off()       # panes, ticks and labels cost most of a frame: draw the box edges instead
                for a in range(3):
                    for u in (0.0, 1.0):
                        for v in (0.0, 1.0):
                            e = np.zeros((2, 3))
                            e[:, a] = (0.0, box[a])
                            e[:, (a + 1) % 3] = u * box[(a + 1) % 3]
                            e[:, (a + 2) % 3] = v * box[(a + 2) % 3]
                            ax.plot(*e.T, color="0.6", lw=0.6)
            else:
                ax = fig.add_axes([0.04, 0.1, 0.42, 0.76])
                ax.set(xlim=(0, box[0]), ylim=(0, box[1]), aspect="equal", xticks=[], yticks=[])
            bx = fig.add_axes([0.65, 0.15, 0.33, 0.7])
            bx.step(x_red, y, where="post", color="k", lw=1)
            for k in trans:
                bx.axvline(x_red[k], color="0.85", lw=0.6, zorder=0)
            (marker,) = bx.plot([x_red[0]], [y[0]], "o", color="C3", ms=7)
            bx.set(xlabel="N t / (N0 t_ballistic)", ylabel="(U_IHS − U_IHS(0)) / T",
                   xlim=(x_red[0], x_red[-1] + 1e-12))
            cax = fig.add_axes([0.47, 0.15, 0.012, 0.6])
            cb = fig.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap), cax=cax, extend="max")
            cb.set_label("|Δr| / a0 since the previous IHS", fontsize=7, labelpad=2)
            cb.ax.axhline(threshold, color="w", lw=1.5)
            cb.ax.tick_params(labelsize=6)
            fig.suptitle(label or "", fontsize=10, x=0.02, ha="left")
            head = fig.text(0.5, 0.94, "", ha="center", fontsize=9)
            state = {"sc": None}

            def draw(k):
                v = disp[k]
                w = np.clip(v / threshold, 0.0, 1.0) ** 2   # the elastic halo (< threshold) stays faint
                colours = cmap(norm(v))
                colours[:, 3] = 0.08 + 0.92 * w
                sizes_k = 2.0 + 30.0 * w
                order = np.argsort(v, kind="stable")      # movers drawn last, on top
                if state["sc"] is not None:
                    state["sc"].remove()
                p = wrapped[k][order]
                if d == 3:
                    state["sc"] = ax.scatter(p[:, 0], p[:, 1], p[:, 2], c=colours[order], s=sizes_k[order],
                                             depthshade=False, linewidths=0)
                else:
                    state["sc"] = ax.scatter(p[:, 0], p[:, 1], c=colours[order], s=sizes_k[order], linewidths=0)
                marker.set_data([x_red[k]], [y[k]])
                if k in sizes:
                    text = f"transition: {sizes[k]} particles moved > {threshold:g} a0"
                    head.set_color("C3")
                else:
                    moved = int(np.count_nonzero(v > threshold))
                    text = f"{moved} particles > {threshold:g} a0 since the previous IHS" if ref[k] != k else \
                        "no transition yet"
                    head.set_color("k")
                head.set_text(f"frame {k + 1}/{F}   {text}")

            stem = path.with_suffix("") if path.suffix.lower() in (".mp4", ".gif") else path  # keep "ss0.6"
            written = {fmt: stem.with_name(f"{stem.name}.{fmt}") for fmt in formats}
            first = "mp4" if "mp4" in formats else "gif"   # one draw per frame; a GIF next to an MP4 is made from it
            w = _writer(first, fps)
            with _atomic_work(written[first]) as work, w.saving(fig, work, dpi if first == "mp4" else gif_dpi):
                for k in range(F):
                    draw(k)
                    w.grab_frame()
            if "mp4" in formats and "gif" in formats:
                with _atomic_work(written["gif"]) as work:
                    _mp4_to_gif(exe, written["mp4"], work, fps, width=int(round(9 * gif_dpi)))
        finally:
            plt.close(fig)
    return written


@contextmanager
def _atomic_work(final):
    """A temporary file name ending in the suffix of ``final`` (the writers pick their format from it), renamed onto
    ``final`` on a clean exit (:func:`meso_kernels.io.atomic_path`) and removed on an error."""
    from .io import atomic_path
    with atomic_path(final) as tmp:
        work = f"{tmp}{Path(final).suffix}"
        try:
            yield work
            os.replace(work, tmp)
        finally:
            if os.path.exists(work):
                os.unlink(work)


def _mp4_to_gif(exe, mp4, gif, fps, width):
    """A small GIF of an MP4 with ffmpeg: scaled to ``width`` pixels, one 256-colour palette for the whole movie."""
    import subprocess
    graph = f"fps={fps},scale={width}:-1:flags=lanczos,split[a][b];[a]palettegen=stats_mode=diff[p];[b][p]paletteuse"
    res = subprocess.run([exe, "-nostdin", "-v", "error", "-y", "-i", str(mp4), "-vf", graph, "-loop", "0", "-f",
                          "gif", str(gif)], capture_output=True, text=True)
    if res.returncode != 0:
        raise MovieError(f"ffmpeg could not convert {mp4} to a GIF: {res.stderr.strip()[-500:]}")


def video_html(files, page_dir, caption="", width=900):
    """HTML that plays a rendered movie in a page at ``page_dir``: a ``<video>`` of the MP4 with the GIF as the
    fallback inside it (shown by a browser that cannot play the video), and a caption with a link to the GIF.

    files : ``{format: Path}`` as returned by :func:`render_ihs_movie` (an "mp4" entry is needed; "gif" optional)
    page_dir : folder of the page (the executed notebook, ``book/executed``); links are relative to it, and a
        ``?v=<mtime>`` query keeps a browser from showing a cached older render

    >>> from pathlib import Path
    >>> html = video_html({"mp4": Path("/r/_static/m/a.mp4")}, "/r/book/executed", caption="IPL")
    >>> 'src="../../_static/m/a.mp4' in html and "<figcaption>IPL</figcaption>" in html
    True
    """
    import html as _html
    if "mp4" not in files:
        raise ValueError(f"files must hold the 'mp4' written by render_ihs_movie, got {sorted(files)}")

    def link(p):
        p = Path(p)
        v = f"?v={int(p.stat().st_mtime)}" if p.exists() else ""
        return _html.escape(Path(os.path.relpath(p, page_dir)).as_posix() + v, quote=True)

    text = _html.escape(str(caption))
    gif = link(files["gif"]) if "gif" in files else None
    fallback = (f'<img src="{gif}" alt="{text}" style="max-width: 100%">' if gif else
                "Your browser cannot play this MP4 video.")
    more = f' (<a href="{gif}">GIF</a>)' if gif else ""
    return (f'<figure style="margin: 0 0 1.5em 0"><video controls loop muted playsinline preload="metadata" '
            f'style="width: 100%; max-width: {int(width)}px" title="{text}">'
            f'<source src="{link(files["mp4"])}" type="video/mp4">{fallback}</video>'
            f'<figcaption>{text}{more}</figcaption></figure>')


def movie_frames(path):
    """Number of frames of a GIF (Pillow) or MP4 (ffprobe-free: decoded with the ffmpeg of
    :func:`ffmpeg_executable`) file."""
    import subprocess
    path = Path(path)
    if path.suffix.lower() == ".gif":
        from PIL import Image
        with Image.open(path) as im:
            return int(im.n_frames)
    if path.suffix.lower() == ".mp4":
        out = subprocess.run([ffmpeg_executable(), "-nostdin", "-v", "error", "-i", str(path), "-map", "0:v:0",
                              "-c", "copy", "-f", "null", "-progress", "pipe:1", "-"],
                             capture_output=True, text=True, check=True).stdout
        frames = [int(line.split("=")[1]) for line in out.splitlines() if line.startswith("frame=")]
        return frames[-1]
    raise ValueError(f"movie_frames reads .gif and .mp4 files, got {path.name!r}")


def stored_movie_trajectory(size, key, T=None, root=None):
    """The stored Fig. 5 trajectory with IHS positions of model ``key`` (a key of
    :mod:`meso_kernels.statepoints`: ipl, mblj, ss0.6, ss0.7, ss0.95, sw, ...) at temperature ``T`` (default: the
    only one stored) from the data folder of ``size`` (or ``root``): a dict of its arrays plus ``sidecar`` (the
    provenance). Reads only what is stored; MovieError naming the command that stores it when there is none.

    Several stored temperatures and no ``T``: ValueError listing them.
    """
    import json

    from .campaign.trajectories import IHS_VERSION
    from .io import load_npz
    from .statepoints import check_key
    from .store import data_root, note_read
    check_key(key)
    folder = (data_root(size) if root is None else Path(root)) / "ihs_trajectories"
    found = {}
    for side in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            meta = json.loads(side.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        p = meta.get("params", {})
        if (p.get("key") == key and p.get("keep_positions") and p.get("index") == 0
                and p.get("version") == IHS_VERSION and side.with_suffix(".npz").exists()):
            found.setdefault(float(p["T"]), (side, meta))
    if T is not None:
        found = {t: v for t, v in found.items() if math.isclose(t, float(T), rel_tol=1e-9)}
    if not found:
        at = "" if T is None else f" at T = {T:g}"
        raise MovieError(f"no stored IHS trajectory with positions for model {key!r}{at} in {folder}: run "
                         f"`meso campaign run --size {size} --figures 5 --models {key}` (or the notebook: python "
                         f"scripts/run_notebooks.py fig05_ihs_transitions --size {size}) first")
    if len(found) > 1:
        raise ValueError(f"model {key!r} has stored trajectories at T = {sorted(found)}: pass T=")
    side, meta = next(iter(found.values()))
    arrays = dict(load_npz(side.with_suffix(".npz")))
    note_read(side)   # for the provenance line of a page (meso_kernels.store.ReadLog)
    arrays["sidecar"] = meta
    return arrays
