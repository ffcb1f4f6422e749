"""Movies of IHS trajectories (meso_kernels.movies; the Fig. 5 page): files, frame counts, clear errors."""
import json
import sys

import matplotlib
import numpy as np
import pytest

from meso_kernels import movies
from meso_kernels.campaign.trajectories import IHS_VERSION
from meso_kernels.movies import (MovieError, check_formats, movie_frames, reference_frames, render_ihs_movie,
                                 stored_movie_trajectory, video_html)

matplotlib.use("Agg")


def tiny(F=5, N=30, d=3, seed=0):
    """A synthetic IHS trajectory: F frames of N particles, the IHS changes at frame 2 (four particles move 0.5)."""
    rng = np.random.default_rng(seed)
    box = np.full(d, 3.0)
    X = np.repeat(rng.uniform(0, 3.0, (1, N, d)), F, axis=0)
    X[2:, :4, 0] += 0.5
    U = np.array([-2.0, -2.0, -2.4, -2.4, -2.4])[:F]
    return {"ihs_positions": np.mod(X, box).astype(np.float32), "energies": U, "times": 0.005 * np.arange(F),
            "box": box, "T": np.array(0.5), "rho": np.array(N / 27.0), "N": np.array(N),
            "transitions": np.array([2])}


def no_ffmpeg(monkeypatch):
    """Neither a system ffmpeg nor imageio-ffmpeg."""
    monkeypatch.setattr(movies.shutil, "which", lambda name: None)
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)   # import raises ImportError


def test_mp4_and_gif_are_written_atomically_with_every_frame(tmp_path):
    out = render_ihs_movie(tiny(), tmp_path / "sub" / "ss0.6", dpi=40, gif_dpi=20, label="test")
    assert set(out) == {"mp4", "gif"}
    assert out["mp4"].name == "ss0.6.mp4" and out["gif"].name == "ss0.6.gif"   # "ss0.6" keeps its ".6"
    assert movie_frames(out["mp4"]) == 5 and movie_frames(out["gif"]) == 5
    assert out["mp4"].read_bytes()[4:8] == b"ftyp" and out["gif"].read_bytes()[:6] == b"GIF89a"
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["ss0.6.gif", "ss0.6.mp4"]   # no temporaries


def test_max_frames_and_a_gif_without_ffmpeg(tmp_path, monkeypatch):
    no_ffmpeg(monkeypatch)
    out = render_ihs_movie(tiny(), tmp_path / "m.gif", formats="gif", max_frames=3, dpi=40, gif_dpi=20)
    assert list(out) == ["gif"] and movie_frames(out["gif"]) == 3


def test_two_dimensional_and_transitions_from_energies(tmp_path):
    traj = tiny(d=2)
    del traj["transitions"], traj["rho"]
    out = render_ihs_movie(traj, tmp_path / "flat", formats=("gif",), gif_dpi=20)
    assert movie_frames(out["gif"]) == 5


def test_no_writer_says_what_to_install(tmp_path, monkeypatch):
    no_ffmpeg(monkeypatch)
    with pytest.raises(MovieError, match=r"pip install imageio-ffmpeg.*\[book\]"):
        render_ihs_movie(tiny(), tmp_path / "m")
    assert not any(tmp_path.iterdir())


def test_a_failed_render_leaves_no_file(tmp_path, monkeypatch):
    calls = []

    def broken(self, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return original(self, **kwargs)

    original = matplotlib.animation.FFMpegWriter.grab_frame
    monkeypatch.setattr(matplotlib.animation.FFMpegWriter, "grab_frame", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        render_ihs_movie(tiny(), tmp_path / "m", dpi=40)
    assert list(tmp_path.iterdir()) == []


def test_bad_parameters(tmp_path):
    for formats in ("avi", ("mp4", "webm"), ()):
        with pytest.raises(ValueError, match="formats must be a non-empty selection of mp4, gif"):
            render_ihs_movie(tiny(), tmp_path / "m", formats=formats)
    assert check_formats(["MP4", ".gif", "mp4"]) == ("mp4", "gif")
    for kwargs, match in (({"fps": 0}, "fps"), ({"dpi": 5}, "dpi"), ({"max_frames": 1}, "max_frames"),
                          ({"threshold": -0.2}, "threshold")):
        with pytest.raises(ValueError, match=match):
            render_ihs_movie(tiny(), tmp_path / "m", **kwargs)
    traj = tiny()
    traj["energies"] = traj["energies"][:3]
    with pytest.raises(ValueError, match="one entry per frame"):
        render_ihs_movie(traj, tmp_path / "m")
    with pytest.raises(ValueError, match="mapping"):
        render_ihs_movie(np.zeros((5, 3, 3)), tmp_path / "m")
    assert list(tmp_path.iterdir()) == []


def test_a_trajectory_without_positions_names_the_command(tmp_path):
    traj = tiny()
    del traj["ihs_positions"]
    with pytest.raises(MovieError, match=r"meso campaign run --size default --figures 5"):
        render_ihs_movie(traj, tmp_path / "m")


def test_reference_frames():
    assert reference_frames(7, [2, 5]).tolist() == [0, 1, 1, 1, 1, 4, 4]
    assert reference_frames(3, []).tolist() == [0, 1, 2]


def store_one(root, key="ipl", T=0.8, keep=True, version=IHS_VERSION):
    folder = root / "ihs_trajectories"
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{key}_{T:g}_{int(keep)}_{version}"
    arrays = {k: v for k, v in tiny().items() if keep or k != "ihs_positions"}
    np.savez_compressed(folder / f"{name}.npz", **arrays)
    params = {"key": key, "T": T, "index": 0, "keep_positions": keep, "version": version}
    (folder / f"{name}.json").write_text(json.dumps({"params": params, "git_commit": "abc"}))


def test_stored_movie_trajectory(tmp_path):
    with pytest.raises(ValueError, match="unknown model key 'lj'"):
        stored_movie_trajectory("default", "lj", root=tmp_path)
    with pytest.raises(MovieError, match=r"no stored IHS trajectory with positions for model 'ipl'.*"
                                         r"meso campaign run --size default --figures 5 --models ipl"):
        stored_movie_trajectory("default", "ipl", root=tmp_path)
    store_one(tmp_path, keep=False)                      # a trajectory without positions does not count
    store_one(tmp_path, version=IHS_VERSION - 1)         # nor one of an older computation
    with pytest.raises(MovieError, match="no stored IHS trajectory"):
        stored_movie_trajectory("default", "ipl", root=tmp_path)
    store_one(tmp_path, T=0.8)
    tr = stored_movie_trajectory("default", "ipl", root=tmp_path)
    assert tr["ihs_positions"].shape == (5, 30, 3) and tr["sidecar"]["git_commit"] == "abc"
    store_one(tmp_path, T=0.7)
    with pytest.raises(ValueError, match=r"T = \[0.7, 0.8\]: pass T="):
        stored_movie_trajectory("default", "ipl", root=tmp_path)
    assert float(stored_movie_trajectory("default", "ipl", T=0.7, root=tmp_path)["T"]) == 0.5   # tiny()'s T
    with pytest.raises(MovieError, match="at T = 0.9"):
        stored_movie_trajectory("default", "ipl", T=0.9, root=tmp_path)


def test_the_stored_default_trajectories_have_positions():
    """Every Fig. 5 model key has a stored default-size trajectory with IHS positions (the page's six movies)."""
    for key in ("ipl", "mblj", "ss0.6", "ss0.7", "ss0.95", "sw"):
        try:
            tr = stored_movie_trajectory("default", key)
        except ValueError:                               # SS rho = 0.6 is stored at two temperatures
            tr = stored_movie_trajectory("default", key, T=1.2)
        X = tr["ihs_positions"]
        assert X.dtype == np.float32 and X.shape[1:] == (1000, 3) and X.shape[0] == tr["energies"].shape[0]


def test_video_html_links_relative_to_the_page(tmp_path):
    out = render_ihs_movie(tiny(), tmp_path / "_static" / "movies" / "fig05_ci_ipl", formats="gif", gif_dpi=20)
    out["mp4"] = tmp_path / "_static" / "movies" / "fig05_ci_ipl.mp4"       # not rendered: no ?v= query
    html = video_html(out, tmp_path / "book" / "executed", caption="IPL & co, T = 0.8")
    assert '<source src="../../_static/movies/fig05_ci_ipl.mp4" type="video/mp4">' in html
    assert '<img src="../../_static/movies/fig05_ci_ipl.gif?v=' in html and "IPL &amp; co" in html
    with pytest.raises(ValueError, match="'mp4'"):
        video_html({"gif": out["gif"]}, tmp_path)
