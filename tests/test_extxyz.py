"""Extended XYZ through ASE: exact round trips (2D, 3D), the file conventions, tolerant reading of files written
elsewhere (OVITO, LAMMPS), atomic writes and the errors (meso_kernels.extxyz, System.from_extxyz / to_extxyz)."""
import os
import sys

import numpy as np
import pytest

from meso_kernels.system import System, file_format, read_type_names


@pytest.fixture
def aseio():
    """ase.io, or skip (ASE is the optional 'io' extra)."""
    pytest.importorskip("ase")
    import ase.io

    return ase.io


def _random_system(d, N=50, seed=0, n_types=2, velocities=True):
    rng = np.random.default_rng(seed)
    box = np.array([5.3, 4.1, 6.7][:d]) * (1 + rng.random(d) / 3)  # not round numbers
    pos = rng.random((N, d)) * box
    pos[0, 0] = np.nextafter(box[0], 0)  # the largest position below L
    pos[1, 1] = 5e-324                    # a subnormal
    types = rng.integers(0, n_types, N)
    vel = rng.standard_normal((N, d)) * 10.0 ** rng.integers(-12, 3, (N, d)) if velocities else None
    image = rng.integers(-3, 4, (N, d))
    return System(pos, box, types=types, velocities=vel, image=image)


def _write(path, text):
    path.write_text(text)
    return path


# --- round trips ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("d", [2, 3])
def test_round_trip_is_bitwise(aseio, tmp_path, d):
    s = _random_system(d, seed=d, n_types=3)
    path = tmp_path / "conf.xyz"
    s.to_extxyz(path, type_names=["small", "large", "x1"])
    r = System.from_extxyz(path)
    assert r.dim == d and r.N == s.N
    assert r.box.tobytes() == s.box.tobytes()
    assert r.positions.tobytes() == s.positions.tobytes()      # to the last bit
    assert r.velocities.tobytes() == s.velocities.tobytes()
    assert np.array_equal(r.types, s.types) and np.array_equal(r.image, s.image)
    assert read_type_names(path) == ["small", "large", "x1"]
    # twice round is the same file
    r.to_extxyz(tmp_path / "again.xyz", type_names=read_type_names(path))
    assert (tmp_path / "again.xyz").read_text() == path.read_text()


def test_round_trip_without_velocities_and_default_names(aseio, tmp_path):
    s = _random_system(3, seed=5, velocities=False)
    path = tmp_path / "ihs.extxyz"
    s.to_extxyz(path)
    r = System.from_extxyz(path)
    assert r.velocities is None and r.positions.tobytes() == s.positions.tobytes()
    assert read_type_names(path) == ["A", "B"]
    assert "vel" not in path.read_text().splitlines()[1]


def test_unused_species_keep_their_index(aseio, tmp_path):
    s = System([[0.5, 0.5], [1.0, 1.5]], [2.0, 2.0], types=[2, 2])
    path = tmp_path / "c.xyz"
    s.to_extxyz(path, type_names=["A", "B", "C"])
    assert System.from_extxyz(path).types.tolist() == [2, 2] and read_type_names(path) == ["A", "B", "C"]


@pytest.mark.parametrize("d", [2, 3])
def test_gsd_and_extxyz_agree(aseio, tmp_path, d):
    s = _random_system(d, seed=7)
    s.write(tmp_path / "c.gsd", type_names=["small", "large"])
    s.write(tmp_path / "c.xyz", type_names=["small", "large"])
    g, x = System.read(tmp_path / "c.gsd"), System.read(tmp_path / "c.xyz")
    assert np.allclose(g.positions, x.positions, rtol=0, atol=1e-14) and np.array_equal(g.types, x.types)
    assert np.array_equal(g.velocities, x.velocities) and np.array_equal(g.box, x.box)
    assert read_type_names(tmp_path / "c.gsd") == read_type_names(tmp_path / "c.xyz") == ["small", "large"]


def test_append_and_frames(aseio, tmp_path):
    path = tmp_path / "traj.xyz"
    a, b = _random_system(3, seed=1), _random_system(3, seed=2, velocities=False)
    a.to_extxyz(path)
    b.to_extxyz(path, mode="a")
    assert System.from_extxyz(path, frame=0).positions.tobytes() == a.positions.tobytes()
    assert System.from_extxyz(path, frame=1).positions.tobytes() == b.positions.tobytes()
    assert System.from_extxyz(path).velocities is None  # the last frame
    with pytest.raises(ValueError, match=r"frame=2 out of range .*2 frames \(allowed: -2..1\)"):
        System.from_extxyz(path, frame=2)


# --- the file ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("d", [2, 3])
def test_file_conventions(aseio, tmp_path, d):
    s = _random_system(d, N=4, seed=3)
    path = tmp_path / "c.xyz"
    s.to_extxyz(path, type_names=["small", "large"])
    lines = path.read_text().splitlines()
    assert lines[0] == "4" and len(lines) == 6
    head = lines[1]
    assert "Properties=species:S:1:pos:R:3:vel:R:3:image:I:3" in head
    assert f"dim={d}" in head and ('pbc="T T F"' if d == 2 else 'pbc="T T T"') in head
    cell = np.ones(3)
    cell[:d] = s.box
    assert f'Lattice="{float(cell[0])!r} 0.0 0.0 0.0 {float(cell[1])!r} 0.0 0.0 0.0 {float(cell[2])!r}"' in head
    cols = [ln.split() for ln in lines[2:]]
    assert [c[0] for c in cols] == [["small", "large"][t] for t in s.types]
    pos = np.array([[float(v) for v in c[1:4]] for c in cols])
    assert np.array_equal(pos[:, :d], s.positions)
    if d == 2:
        assert not pos[:, 2].any() and all(c[6] == "0" for c in cols)  # z and v_z
    # plain ASE reads it with the parser that keeps non-element species names
    from meso_kernels.extxyz import SPECIES_ARRAY, properties_parser

    atoms = aseio.read(path, format="extxyz", properties_parser=properties_parser)
    assert list(atoms.arrays[SPECIES_ARRAY]) == [["small", "large"][t] for t in s.types]
    assert atoms.info["type_names"] == ["small", "large"] and np.array_equal(atoms.positions[:, :d], s.positions)


def test_file_format_by_suffix():
    assert [file_format(p) for p in ("a.gsd", "b.XYZ", "c.extxyz")] == ["gsd", "extxyz", "extxyz"]
    with pytest.raises(ValueError, match=r"'\.dump'.*allowed suffixes: \.gsd, \.xyz, \.extxyz"):
        file_format("x.dump")
    with pytest.raises(ValueError, match=r"\(none\).*allowed suffixes"):
        System.read("noext")


# --- files written elsewhere ------------------------------------------------------------------------------------------
def test_reads_ovito_style_names_without_table(aseio, tmp_path):
    path = _write(tmp_path / "ovito.xyz", (
        "3\n"
        'Lattice="4.0 0.0 0.0 0.0 5.0 0.0 0.0 0.0 6.0" Origin="0 0 0" Properties=species:S:1:pos:R:3:velo:R:3 '
        'Time=10.0 pbc="T T T"\n'
        "B 1.0 2.0 3.0 0.1 0.2 0.3\n"
        "A -0.5 5.5 1.0 0 0 0\n"         # outside the box: wrapped, images counted
        "B 3.0 1.0 2.0 -1 -2 -3\n"))
    s = System.from_extxyz(path)
    assert s.dim == 3 and s.types.tolist() == [1, 0, 1] and read_type_names(path) == ["A", "B"]  # names sorted
    assert np.allclose(s.positions[1], [3.5, 0.5, 1.0]) and s.image[1].tolist() == [-1, 1, 0]
    assert np.allclose(s.velocities[0], [0.1, 0.2, 0.3])
    s = System.from_extxyz(path, type_names=["B", "A"])  # an explicit table
    assert s.types.tolist() == [0, 1, 0]


def test_reads_lammps_style_type_columns_and_2d_without_dim_key(aseio, tmp_path):
    path = _write(tmp_path / "lammps.xyz", (
        "3\n"
        'Lattice="4.0 0.0 0.0 0.0 5.0 0.0 0.0 0.0 0.0" Properties=pos:R:3:type:I:1:vel:R:3 pbc="T T F"\n'
        "1.0 2.0 0.0 1 0.5 0.5 0\n"
        "2.0 3.0 0.0 2 0.5 0.5 0\n"
        "3.0 4.0 0.0 2 0.5 0.5 0\n"))
    s = System.from_extxyz(path)
    assert s.dim == 2 and np.array_equal(s.box, [4.0, 5.0]) and s.types.tolist() == [0, 1, 1]  # 1-based -> 0-based
    assert read_type_names(path) is None and s.velocities.shape == (3, 2)
    path = _write(tmp_path / "numeric.xyz", (
        "2\n"
        'Lattice="4.0 0.0 0.0 0.0 5.0 0.0 0.0 0.0 6.0" Properties=species:S:1:pos:R:3\n'
        "2 1.0 2.0 3.0\n"
        "3 1.0 1.0 1.0\n"))
    s = System.from_extxyz(path)
    assert s.dim == 3 and s.types.tolist() == [1, 2] and read_type_names(path) == ["1", "2", "3"]
    path = _write(tmp_path / "typeid.xyz", (
        "2\n"
        'Lattice="4.0 0.0 0.0 0.0 5.0 0.0 0.0 0.0 6.0" Properties=species:S:1:pos:R:3:typeid:I:1\n'
        "Cu 1.0 2.0 3.0 1\n"
        "Zr 1.0 1.0 1.0 0\n"))
    s = System.from_extxyz(path)
    assert s.types.tolist() == [1, 0] and read_type_names(path) == ["Zr", "Cu"]


# --- errors ---------------------------------------------------------------------------------------------------------
HEAD = 'Lattice="4.0 0.0 0.0 0.0 5.0 0.0 0.0 0.0 6.0" Properties=species:S:1:pos:R:3'


@pytest.mark.parametrize("text, match", [
    ('1\nLattice="4.0 0.0 0.0 1.0 5.0 0.0 0.0 0.0 6.0" Properties=species:S:1:pos:R:3\nA 1 1 1\n',
     r"the cell \(Lattice\) \[\[4\.0, 0\.0, 0\.0\], \[1\.0, 5\.0, 0\.0\], \[0\.0, 0\.0, 6\.0\]\] is not orthorhombic"),
    ("1\nProperties=species:S:1:pos:R:3\nA 1 1 1\n", "has no periodic cell"),
    ("1\n" + HEAD + ' pbc="F T T"\nA 1 1 1\n', r'pbc="F T T" but a 3D system must be periodic along x, y and z'),
    ('1\nLattice="4.0 0.0 0.0 0.0 5.0 0.0 0.0 0.0 6.0" Properties=pos:R:3\n1 1 1\n', "no species"),
    ('1\nLattice="4.0 0.0 0.0 0.0 5.0 0.0 0.0 0.0 6.0" Properties=species:S:1\nA\n', "no 'pos' column"),
    ("1\n" + HEAD + ' dim=4\nA 1 1 1\n', "dim=4; allowed: 2, 3"),
    ("1\n" + HEAD + ' dim="2 3"\nA 1 1 1\n', r"dim=\[2 3\]; allowed: 2, 3"),
    ("1\n" + HEAD + ':type:I:1\nA 1 1 1 0\n', "'type' column holds 0; allowed: >= 1"),
    ("1\n" + HEAD + ' type_names="_JSON [\\"A\\"]"\nB 1 1 1\n', r"species \['B'\] are missing .* \['A'\]"),
    ("garbage\n", "is not a readable extended XYZ file.*Expected xyz header.*expected extended XYZ"),
    ("3\n" + HEAD + "\nA 1 1 1\n", "is not a readable extended XYZ file"),
    ("", "holds no frames"),
])
def test_read_errors_name_the_file_and_the_problem(aseio, tmp_path, text, match):
    path = _write(tmp_path / "bad.xyz", text)
    with pytest.raises(ValueError, match=match) as info:
        System.from_extxyz(path)
    assert "bad.xyz" in str(info.value)


def test_wrong_kind_of_file(aseio, tmp_path):
    _random_system(2).to_gsd(tmp_path / "c.gsd")
    os.replace(tmp_path / "c.gsd", tmp_path / "c.xyz")
    with pytest.raises(ValueError, match=r"c\.xyz' is a GSD file, not an extended XYZ file.*from_gsd"):
        System.from_extxyz(tmp_path / "c.xyz")
    (tmp_path / "bin.xyz").write_bytes(bytes(range(256)))
    with pytest.raises(ValueError, match=r"bin\.xyz' is not a readable extended XYZ file"):
        System.from_extxyz(tmp_path / "bin.xyz")
    with pytest.raises(FileNotFoundError, match="missing.xyz"):
        System.from_extxyz(tmp_path / "missing.xyz")
    with pytest.raises(ValueError, match="is a folder"):
        System.from_extxyz(tmp_path)


def test_missing_species_in_type_names_argument(aseio, tmp_path):
    s = _random_system(3, n_types=2)
    s.to_extxyz(tmp_path / "c.xyz")
    with pytest.raises(ValueError, match=r"species \['B'\] are missing from the type_names argument \['A'\].*"
                                         r"allowed species: A"):
        System.from_extxyz(tmp_path / "c.xyz", type_names=["A"])


def test_write_errors(aseio, tmp_path):
    s = _random_system(2)
    with pytest.raises(ValueError, match="mode='x' is not allowed"):
        s.to_extxyz(tmp_path / "x.xyz", mode="x")
    with pytest.raises(ValueError, match="type_names must name all 2 species"):
        s.to_extxyz(tmp_path / "x.xyz", type_names=["A"])
    with pytest.raises(ValueError, match="must not contain white space"):
        s.to_extxyz(tmp_path / "x.xyz", type_names=["A", "big one"])
    with pytest.raises(ValueError, match="distinct non-empty"):
        s.to_extxyz(tmp_path / "x.xyz", type_names=["A", "A"])
    assert os.listdir(tmp_path) == []


def test_write_is_atomic(aseio, tmp_path, monkeypatch):
    path = tmp_path / "c.xyz"
    first = _random_system(3, seed=1)
    first.to_extxyz(path)
    assert os.listdir(tmp_path) == ["c.xyz"]

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(aseio, "write", fail)
    with pytest.raises(OSError, match="disk full"):
        _random_system(3, seed=2).to_extxyz(path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["c.xyz"]  # no temporary file; the old file intact
    assert System.from_extxyz(path).positions.tobytes() == first.positions.tobytes()


def test_missing_ase_is_a_clear_error(tmp_path, monkeypatch):
    for name in ("ase", "ase.io", "ase.io.extxyz"):
        monkeypatch.setitem(sys.modules, name, None)  # "import ase" raises ImportError
    s = _random_system(2)
    with pytest.raises(ImportError, match=r"ASE, which is not installed.*pip install 'mesoelastic\[io\]'"):
        s.to_extxyz(tmp_path / "c.xyz")
    (tmp_path / "c.xyz").write_text("1\nProperties=species:S:1:pos:R:3\nA 0 0 0\n")
    with pytest.raises(ImportError, match="ASE, which is not installed"):
        System.from_extxyz(tmp_path / "c.xyz")
    assert sorted(os.listdir(tmp_path)) == ["c.xyz"]
