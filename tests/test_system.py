"""System: validation, wrapping, kinetic quantities and GSD (HOOMD schema) round trips."""
import os

import gsd.hoomd
import numpy as np
import pytest

from meso_kernels.models import get_model
from meso_kernels.system import System


def _random_system(d, N=50, seed=0, n_types=2, velocities=True):
    rng = np.random.default_rng(seed)
    box = np.array([5.3, 4.1, 6.7][:d])
    pos = rng.random((N, d)) * box
    types = rng.integers(0, n_types, N)
    vel = rng.standard_normal((N, d)) if velocities else None
    image = rng.integers(-3, 4, (N, d))
    return System(pos, box, types=types, velocities=vel, image=image)


def test_properties():
    s = System([[0.5, 0.5, 0.5], [1.5, 1.0, 2.5]], [2.0, 3.0, 4.0], types=[0, 2])
    assert (s.N, s.dim, s.volume, s.n_types) == (2, 3, 24.0, 3)
    assert s.density == pytest.approx(2 / 24)
    assert s.positions.dtype == np.float64 and s.box.dtype == np.float64 and s.types.dtype == np.int32
    assert s.velocities is None and s.image.shape == (2, 3) and not s.image.any()
    assert np.array_equal(System([[0.1, 0.2]], [1.0, 1.0]).types, [0])


@pytest.mark.parametrize("kwargs, match", [
    (dict(positions=np.zeros((3, 2)), box=[1.0]), "box must have 2 or 3"),
    (dict(positions=np.zeros((3, 4)), box=[1.0] * 4), "box must have 2 or 3"),
    (dict(positions=np.zeros((3, 2)), box=[1.0, 0.0]), "box side lengths must be > 0"),
    (dict(positions=np.zeros((3, 2)), box=[1.0, -2.0]), "box side lengths must be > 0"),
    (dict(positions=np.zeros((3, 2)), box=[1.0, np.nan]), "box must be finite"),
    (dict(positions=np.zeros((3, 3)), box=[1.0, 1.0]), r"positions must have shape \(any, 2\)"),
    (dict(positions=np.zeros(3), box=[1.0, 1.0, 1.0]), "positions must have shape"),
    (dict(positions=np.zeros((0, 2)), box=[1.0, 1.0]), "at least one particle"),
    (dict(positions=[[0.1, np.inf]], box=[1.0, 1.0]), "positions must be finite"),
    (dict(positions=[[0.1, 1.5]], box=[1.0, 1.0]), "positions must lie in the box"),
    (dict(positions=[[-0.01, 0.5]], box=[1.0, 1.0]), "positions must lie in the box"),
    (dict(positions=np.zeros((2, 2)), box=[1.0, 1.0], types=[0, -1]), "types must be non-negative"),
    (dict(positions=np.zeros((2, 2)), box=[1.0, 1.0], types=[0, 0.5]), "types must hold integers"),
    (dict(positions=np.zeros((2, 2)), box=[1.0, 1.0], types=[True, False]), "types must hold integers"),
    (dict(positions=np.zeros((2, 2)), box=[1.0, 1.0], types=[0, 1, 1]), r"types must have shape \(2,\)"),
    (dict(positions=np.zeros((2, 2)), box=[1.0, 1.0], velocities=np.zeros((2, 3))), "velocities must have shape"),
    (dict(positions=np.zeros((2, 2)), box=[1.0, 1.0], velocities=[[0, 0], [np.nan, 0]]), "velocities must be finite"),
    (dict(positions=np.zeros((2, 2)), box=[1.0, 1.0], image=np.zeros((2, 3), int)), "image must have shape"),
    (dict(positions=np.zeros((2, 2)), box=[1.0, 1.0], image=[[0, 0.5], [0, 0]]), "image must hold integers"),
])
def test_validation_errors_name_the_parameter(kwargs, match):
    with pytest.raises(ValueError, match=match):
        System(**kwargs)


def test_exactly_L_and_tiny_negative_are_wrapped_with_image():
    L = 3.0
    s = System([[L, 1.0], [-1e-12, 2.0], [1.0, 2.0]], [L, L])
    assert np.all((s.positions >= 0) & (s.positions < L))
    assert s.positions[0, 0] == 0.0 and s.image[0, 0] == 1
    assert s.image[1, 0] == -1
    # unwrapped positions are unchanged
    assert np.allclose(s.unwrapped_positions(), [[L, 1.0], [-1e-12, 2.0], [1.0, 2.0]], atol=1e-15)
    # -1e-17 + L rounds to L: the wrapped position is 0 in the original image
    t = System([[-1e-17, 1.0]], [L, L])
    assert t.positions[0, 0] == 0.0 and t.image[0, 0] == 0
    assert np.allclose(t.unwrapped_positions(), [[0.0, 1.0]], atol=1e-15)


def test_inputs_are_copied():
    pos = np.array([[0.5, 0.5]])
    s = System(pos, [1.0, 1.0])
    pos[0, 0] = 0.9
    assert s.positions[0, 0] == 0.5
    c = s.copy()
    c.positions[0, 0] = 0.1
    assert s.positions[0, 0] == 0.5


def test_wrap_keeps_unwrapped_positions():
    s = _random_system(3, seed=1)
    before = s.unwrapped_positions()
    s.positions += np.array([12.0, -7.5, 0.3])  # an integrator moved them in place, the images do not know
    moved = s.positions + s.image * s.box
    w = s.wrap()
    assert np.all((w.positions >= 0) & (w.positions < w.box))
    assert np.allclose(w.unwrapped_positions(), moved, atol=1e-12)
    assert not np.allclose(w.unwrapped_positions(), before)
    assert np.array_equal(w.types, s.types) and np.array_equal(w.velocities, s.velocities)


def test_wrapped_constructor():
    s = System.wrapped([[-0.25, 7.5]], [2.0, 2.0])
    assert np.allclose(s.positions, [[1.75, 1.5]]) and s.image.tolist() == [[-1, 3]]


def test_check_model():
    s2 = System([[0.1, 0.2], [0.3, 0.4]], [1.0, 1.0], types=[0, 1])
    s2.check_model(get_model("ipl", dim=2))
    with pytest.raises(ValueError, match="3D but the system is 2D"):
        s2.check_model(get_model("ipl", dim=3))
    with pytest.raises(ValueError, match=r"allowed types: 0..0"):
        System([[0.1, 0.2, 0.3], [0.3, 0.4, 0.5]], [1.0] * 3, types=[0, 1]).check_model(get_model("sw"))


def test_kinetic_energy_and_temperature():
    v = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0], [0.0, -2.0]])
    s = System(np.full((4, 2), 0.5), [1.0, 1.0], velocities=v)
    assert s.kinetic_energy() == pytest.approx(5.0)
    assert s.temperature() == pytest.approx(2 * 5.0 / (2 * 3))  # d(N-1) = 6 degrees of freedom
    with pytest.raises(ValueError, match="no velocities"):
        System(np.full((4, 2), 0.5), [1.0, 1.0]).temperature()


# --- GSD ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("d", [2, 3])
def test_gsd_round_trip_double(tmp_path, d):
    s = _random_system(d, seed=d)
    path = tmp_path / "conf.gsd"
    s.to_gsd(path, type_names=["small", "large"])
    r = System.from_gsd(path)
    assert r.dim == d and np.array_equal(r.box, s.box)
    assert np.allclose(r.positions, s.positions, rtol=0, atol=1e-14)
    assert np.array_equal(r.types, s.types) and np.array_equal(r.image, s.image)
    assert np.array_equal(r.velocities, s.velocities)
    assert np.allclose(r.unwrapped_positions(), s.unwrapped_positions(), rtol=0, atol=1e-13)


@pytest.mark.parametrize("d", [2, 3])
def test_gsd_file_follows_hoomd_schema(tmp_path, d):
    s = _random_system(d, seed=10 + d)
    path = tmp_path / "conf.gsd"
    s.to_gsd(path, type_names=["small", "large"], precision="single")
    with gsd.hoomd.open(path, "r") as t:
        f = t[0]
        assert t.file.schema == "hoomd"
    box = np.asarray(f.configuration.box)
    assert int(f.configuration.dimensions) == d
    expect = np.zeros(6)
    expect[:d] = s.box
    assert np.allclose(box, expect, rtol=1e-7)  # Lz = 0 in 2D, no tilt
    pos = np.asarray(f.particles.position)
    assert pos.shape == (s.N, 3) and pos.dtype == np.float32
    half = (0.5 * s.box).astype(np.float32)
    assert np.all(pos[:, :d] >= -half) and np.all(pos[:, :d] < half)
    if d == 2:
        assert not pos[:, 2].any() and not np.asarray(f.particles.velocity)[:, 2].any()
    assert np.allclose(pos[:, :d] + 0.5 * s.box, s.positions, atol=1e-6)
    assert list(f.particles.types) == ["small", "large"]
    assert np.array_equal(f.particles.typeid, s.types)
    r = System.from_gsd(path)
    assert np.allclose(r.positions, s.positions, atol=1e-5) and np.allclose(r.velocities, s.velocities, atol=1e-6)


def test_gsd_single_precision_rounding_at_half_box_keeps_unwrapped_positions(tmp_path):
    L = 3.3
    x = np.nextafter(L, 0.0)  # x - L/2 rounds to +L/2 in float32: must be written as -L/2 with one more image
    s = System([[x, 1.0], [1.0, 1.0]], [L, L])
    path = tmp_path / "edge.gsd"
    s.to_gsd(path, precision="single")
    with gsd.hoomd.open(path, "r") as t:
        pos = np.asarray(t[0].particles.position)
    assert pos[0, 0] < np.float32(L / 2)
    r = System.from_gsd(path)
    assert np.all((r.positions >= 0) & (r.positions < r.box))
    assert np.allclose(r.unwrapped_positions(), s.unwrapped_positions(), atol=1e-6)


def test_gsd_reads_old_style_2d_file_without_velocities(tmp_path):
    f = gsd.hoomd.Frame()
    f.configuration.box = [4.0, 6.0, 1.0, 0, 0, 0]  # HOOMD 2 wrote Lz = 1 in 2D
    f.configuration.dimensions = 2
    f.particles.N = 3
    f.particles.types = ["A", "B"]
    f.particles.typeid = [0, 1, 1]
    f.particles.position = np.array([[-2.0, -3.0, 0], [0.0, 0.0, 0], [1.9, 2.9, 0]], dtype=np.float32)
    path = tmp_path / "old.gsd"
    with gsd.hoomd.open(path, "w") as t:
        t.append(f)
    s = System.from_gsd(path)
    assert s.dim == 2 and np.array_equal(s.box, [4.0, 6.0])
    assert s.velocities is None and s.types.tolist() == [0, 1, 1]
    assert np.allclose(s.positions, [[0.0, 0.0], [2.0, 3.0], [3.9, 5.9]], atol=1e-6)


def test_gsd_append_and_frames(tmp_path):
    path = tmp_path / "traj.gsd"
    a, b = _random_system(3, seed=1), _random_system(3, seed=2, velocities=False)
    a.to_gsd(path)
    b.to_gsd(path, mode="a")
    assert np.allclose(System.from_gsd(path, frame=0).positions, a.positions, atol=1e-14)
    assert np.allclose(System.from_gsd(path, frame=-1).positions, b.positions, atol=1e-14)
    assert np.allclose(System.from_gsd(path, frame=1).positions, b.positions, atol=1e-14)
    with pytest.raises(ValueError, match=r"frame=2 out of range .*allowed: -2..1"):
        System.from_gsd(path, frame=2)


def test_gsd_write_errors(tmp_path):
    s = _random_system(2)
    with pytest.raises(ValueError, match="mode='x' is not allowed"):
        s.to_gsd(tmp_path / "x.gsd", mode="x")
    with pytest.raises(ValueError, match="precision='half' is not allowed"):
        s.to_gsd(tmp_path / "x.gsd", precision="half")
    with pytest.raises(ValueError, match="type_names must name all 2 species"):
        s.to_gsd(tmp_path / "x.gsd", type_names=["A"])
    assert os.listdir(tmp_path) == []


def test_gsd_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "conf.gsd"
    first = _random_system(3, seed=1)
    first.to_gsd(path)
    assert os.listdir(tmp_path) == ["conf.gsd"]  # no temporary file left behind

    def fail(self, frame):
        raise OSError("disk full")

    monkeypatch.setattr(gsd.hoomd.HOOMDTrajectory, "append", fail)
    with pytest.raises(OSError, match="disk full"):
        _random_system(3, seed=2).to_gsd(path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["conf.gsd"]
    assert np.allclose(System.from_gsd(path).positions, first.positions, atol=1e-14)  # old file intact
