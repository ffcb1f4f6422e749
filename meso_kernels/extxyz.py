"""Extended XYZ in and out, read and written through ASE (``ase.io``, the optional ``io`` extra).

Used by :meth:`meso_kernels.system.System.from_extxyz` and :meth:`~meso_kernels.system.System.to_extxyz`; the
``meso convert`` command converts between GSD and extended XYZ. Lengths and velocities are stored as they are, in
the model's reduced units (ASE's Ångström/eV conventions do not apply); masses are 1 and are not written.

The file this module writes for a 2D system of two particles (one frame; ``mode="a"`` appends frames; the comment
line, the second, is wrapped here)::

    2
    Lattice="2.0 0.0 0.0 0.0 3.0 0.0 0.0 0.0 1.0" Properties=species:S:1:pos:R:3:vel:R:3:image:I:3 dim=2
        type_names="_JSON [\\"A\\", \\"B\\"]" pbc="T T F"
    A  0.57999999999999996 1.2 0 0.10000000000000001 -0.5 0        0        0        0
    B  1.5 1 0 0.29999999999999999 0 0        0        0        0

Conventions
-----------
* **Cell**: orthorhombic only, ``Lattice`` = diag(Lx, Ly, Lz); positions are wrapped into ``[0, L)``.
* **Species**: the ``species`` column holds the *type names* (default "A", "B", ..., as ``particles/types`` of
  :meth:`~meso_kernels.system.System.to_gsd`), which are model species, not chemical elements; the info key
  ``type_names`` lists all names in index order, so ``types`` = index of the name (also for species without
  particles). Names must be non-empty and free of white space.
* **2D**: the cell is still 3×3: ``Lattice`` = diag(Lx, Ly, 1), z coordinates and z velocities 0,
  ``pbc="T T F"`` and the info key ``dim=2``.
* **Velocities**: the ``vel`` column (absent when ``velocities`` is None); **images**: the ``image`` column.
* **Precision**: ASE writes real columns with ``%16.8f`` (8 decimals); this module has ASE write them with
  ``%.17g`` instead, so positions and velocities round-trip to the last bit (the lattice and info values are
  written by ASE with Python's shortest round-trip repr already).

Reading is tolerant of files written by OVITO, LAMMPS or ASE: species are taken from, in this order, the
``type_names`` argument or info key (names in the ``species`` column mapped to their index), a ``typeid`` integer
column (0-based, HOOMD's convention), a ``type`` integer column (1-based, LAMMPS' convention: index = type − 1),
the ``species`` column alone (integer names n → n − 1, otherwise the sorted distinct names → 0, 1, ...) or the
``Z`` column (chemical symbols, sorted). A 2D file is one with ``dim=2``, or with ``pbc="T T F"`` and all z = 0.
Velocities come from a ``vel``, ``velo`` or ``velocities`` column.

ASE itself cannot read a ``species`` column that is not a chemical element (``ase.io.read`` raises KeyError);
:func:`properties_parser` lets it: ``ase.io.read(path, properties_parser=properties_parser)`` returns Atoms with
dummy numbers and the names in ``atoms.arrays["type_name"]``.

>>> import tempfile, pathlib, numpy as np, pytest
>>> _ = pytest.importorskip("ase")  # the optional io extra (pip install 'mesoelastic[io]')
>>> from meso_kernels.system import System
>>> s = System([[0.1, 0.2], [1.5, 1.0]], [2.0, 3.0], types=[0, 1], velocities=[[0.1, -0.2], [0.3, 0.0]])
>>> path = pathlib.Path(tempfile.mkdtemp()) / "glass.xyz"
>>> s.to_extxyz(path, type_names=["small", "large"])
>>> r, names = read_extxyz(path)
>>> np.array_equal(r.positions, s.positions), np.array_equal(r.velocities, s.velocities), r.dim, names
(True, True, 2, ['small', 'large'])
"""
import contextlib
import os
import re
import threading
import warnings

import numpy as np

from .io import atomic_path

#: ASE versions this module is written for (``output_column_format`` of ``ase.io.extxyz``).
ASE_REQUIREMENT = "ase>=3.23"
INSTALL_HINT = f"pip install 'mesoelastic[io]' (or pip install '{ASE_REQUIREMENT}', conda install -c conda-forge ase)"
#: Printf format of real columns: 17 significant digits round-trip any float64.
FLOAT_FORMAT = "%.17g"
#: Name under which :func:`properties_parser` hands the ``species`` column to ASE (kept as strings).
SPECIES_ARRAY = "type_name"
VELOCITY_COLUMNS = ("vel", "velo", "velocities")
_GSD_MAGIC = bytes.fromhex("df65df65df65df65")  # gsd files start with the uint64 0x65DF65DF65DF65DF (LE)
_LOCK = threading.Lock()


def require_ase():
    """Import and return ``ase.io``, or raise ImportError saying how to install ASE."""
    try:
        import ase
        import ase.io
        import ase.io.extxyz  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"extended XYZ files are read and written with ASE, which is not installed ({exc}); "
                          f"install it with {INSTALL_HINT}") from None
    return ase.io


def _is_gsd(path):
    try:
        with open(path, "rb") as fh:
            return fh.read(8) == _GSD_MAGIC
    except OSError:
        return False


def _check_type_names(type_names, n_types, what="type_names"):
    """Validated list of species names, default "A", "B", ... ("T26", ... beyond Z)."""
    if type_names is None:
        return [chr(ord("A") + k) if k < 26 else f"T{k}" for k in range(n_types)]
    if isinstance(type_names, str):
        raise ValueError(f"{what} must be a sequence of names, e.g. ['A', 'B'], got the string {type_names!r}")
    names = [str(t) for t in type_names]
    if len(names) < n_types:
        raise ValueError(f"{what} must name all {n_types} species (types 0..{n_types - 1}), "
                         f"got {len(names)}: {names}")
    if len(set(names)) != len(names) or any(not t for t in names):
        raise ValueError(f"{what} must be distinct non-empty strings, got {names}")
    bad = [t for t in names if re.search(r"\s", t)]
    if bad:
        raise ValueError(f"{what} must not contain white space (extended XYZ columns are separated by it), "
                         f"got {bad}")
    return names


# --- writing --------------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _exact_floats():
    """Make ASE's extxyz writer format real columns with :data:`FLOAT_FORMAT` while the context is open.

    ASE (3.23-3.29) fixes the column format at ``%16.8f`` inside ``ase.io.extxyz.output_column_format`` and offers no
    option; the wrapper replaces the fixed-point formats in the printf template it returns. The yielded dict counts
    the replacements, so that a future ASE that no longer goes through this function is noticed.
    """
    import ase.io.extxyz as ext

    state = {"replaced": 0}
    original = getattr(ext, "output_column_format", None)
    if original is None:
        yield state
        return

    def exact(*args, **kwargs):
        comment, ncols, dtype, fmt = original(*args, **kwargs)
        new, n = re.subn(r"%-?\d*\.\d+f", FLOAT_FORMAT, fmt)
        state["replaced"] += n
        return comment, ncols, dtype, new

    with _LOCK:
        ext.output_column_format = exact
        try:
            yield state
        finally:
            ext.output_column_format = original


def to_atoms(system, type_names=None):
    """An ``ase.Atoms`` holding ``system`` in the conventions of this module (see the module docstring).

    The numbers are 0 (ASE's dummy element X); the ``species`` column is ``atoms.arrays["symbols"]`` (type names),
    velocities ``atoms.arrays["vel"]`` (length/time), images ``atoms.arrays["image"]``.
    """
    require_ase()
    from ase import Atoms

    names = _check_type_names(type_names, system.n_types)
    d, N = system.dim, system.N
    pos = np.zeros((N, 3))
    pos[:, :d] = system.positions
    cell = np.ones(3)
    cell[:d] = system.box
    atoms = Atoms(numbers=np.zeros(N, dtype=int), positions=pos, cell=np.diag(cell), pbc=[k < d for k in range(3)])
    atoms.info["dim"] = int(d)
    atoms.info["type_names"] = list(names)
    atoms.arrays["symbols"] = np.array([names[t] for t in system.types], dtype=str)  # the species column
    if system.velocities is not None:
        vel = np.zeros((N, 3))
        vel[:, :d] = system.velocities
        atoms.arrays["vel"] = vel
    img = np.zeros((N, 3), dtype=np.int32)
    img[:, :d] = system.image
    atoms.arrays["image"] = img
    return atoms


def write_extxyz(system, path, type_names=None, mode="w"):
    """Write ``system`` as one frame of an extended XYZ file through ``ase.io.write`` (conventions: module docstring).

    Parameters
    ----------
    system : meso_kernels.system.System
    path : str or os.PathLike
        Destination file (any suffix; ``.xyz`` or ``.extxyz`` by convention).
    type_names : sequence of str, optional
        Names of the species, at least ``n_types`` of them, distinct, without white space; default "A", "B", ...
    mode : {"w", "a"}
        "w" writes a new file atomically (temporary file in the same folder, then ``os.replace``); "a" appends a
        frame to an existing file (or creates it), not atomically.

    Raises
    ------
    ImportError
        when ASE is not installed (the message says how to install it).
    ValueError
        for a bad ``mode`` or ``type_names``.
    """
    if mode not in ("w", "a"):
        raise ValueError(f"mode={mode!r} is not allowed; allowed values: 'w' (atomic new file), 'a' (append)")
    aseio = require_ase()
    atoms = to_atoms(system, type_names)
    columns = ["symbols", "positions"] + [c for c in ("vel", "image") if c in atoms.arrays]
    path = os.fspath(path)
    with _exact_floats() as state:
        if mode == "a":
            aseio.write(path, atoms, format="extxyz", columns=columns, append=True)
        else:
            with atomic_path(path) as tmp:
                with open(tmp, "w", encoding="utf-8") as fh:
                    aseio.write(fh, atoms, format="extxyz", columns=columns)
    if state["replaced"] == 0:
        import ase

        warnings.warn(f"ase {ase.__version__} wrote {path!r} with its default float format (8 decimals), not "
                      f"{FLOAT_FORMAT}: reading it back will not reproduce positions and velocities to the last bit "
                      f"(this module was written for {ASE_REQUIREMENT}, <= 3.29)", RuntimeWarning, stacklevel=2)


# --- reading --------------------------------------------------------------------------------------------------------
def properties_parser(line, record=None):
    """Parse an extended XYZ comment line like ASE's ``key_val_str_to_dict``, renaming the ``species`` column to
    :data:`SPECIES_ARRAY` so that ASE keeps the names as strings instead of looking them up as chemical elements.

    ``record`` (a dict, optional) receives the original ``Properties`` string under "properties".
    Usage: ``ase.io.read(path, format="extxyz", properties_parser=properties_parser)``.
    """
    from ase.io.extxyz import key_val_str_to_dict

    info = key_val_str_to_dict(line)
    props = info.get("Properties", "species:S:1:pos:R:3")
    fields = props.split(":") if isinstance(props, str) else []
    if record is not None:
        record["properties"] = props
        if "pos" not in fields[0::3]:
            raise ValueError(f"no 'pos' column (Properties={props})")
    if fields and len(fields) % 3 == 0:
        fields[0::3] = [SPECIES_ARRAY if name == "species" else name for name in fields[0::3]]
        info["Properties"] = ":".join(fields)
    return info


def _property_names(props):
    fields = props.split(":") if isinstance(props, str) else []
    return dict(zip(fields[0::3], fields[1::3]))


def _types_and_names(atoms, props, path, type_names):
    """(types, type_names or None) of a frame: see the module docstring for the order of the sources."""
    arrays = atoms.arrays
    names = arrays.get(SPECIES_ARRAY)
    if names is None and "Z" in props:
        names = np.array(atoms.get_chemical_symbols(), dtype=object)
    if names is not None:
        names = np.asarray([str(x) for x in names], dtype=object)
    table = type_names if type_names is not None else atoms.info.get("type_names")
    if table is not None:
        where = "type_names argument" if type_names is not None else "type_names info key"
        if isinstance(table, str) and type_names is None:  # a hand-written type_names="A B" info key
            table = table.split()
        table = _check_type_names(table if isinstance(table, str) else list(table), 0,
                                  what=f"the {where} of {path!r}")
        if names is not None:
            index = {t: k for k, t in enumerate(table)}
            missing = sorted(set(names) - set(index))
            if missing:
                raise ValueError(f"{path!r}: species {missing} are missing from the {where} {table} (allowed "
                                 f"species: {', '.join(table)}); pass type_names listing every species")
            return np.array([index[t] for t in names], dtype=np.int64), table
    for column, base in (("typeid", 0), ("type", 1)):
        if column in props:
            if props[column] != "I":
                raise ValueError(f"{path!r}: the {column!r} column must hold integers (type I), got type "
                                 f"{props[column]}")
            types = np.asarray(arrays[column], dtype=np.int64).reshape(-1) - base
            if types.min() < 0:
                raise ValueError(f"{path!r}: the {column!r} column holds {types.min() + base}; allowed: >= {base} "
                                 f"({'0-based HOOMD typeid' if base == 0 else '1-based LAMMPS type'})")
            if table is not None and types.max() >= len(table):
                raise ValueError(f"{path!r}: the {column!r} column has species index {types.max()} but only "
                                 f"{len(table)} type names {table}")
            if table is None and names is not None:
                pairs = {(int(t), n) for t, n in zip(types, names)}
                by_type = {}
                for t, n in pairs:
                    by_type.setdefault(t, set()).add(n)
                if all(len(v) == 1 for v in by_type.values()) and len(by_type) == types.max() + 1:
                    table = [by_type[k].pop() for k in range(len(by_type))]
            return types, table
    if names is None:
        raise ValueError(f"{path!r}: no species: expected a 'species' string column (or 'Z'), or a 'typeid' or "
                         f"'type' integer column; the file has columns {', '.join(props)}")
    try:
        numeric = np.array([int(n) for n in names], dtype=np.int64)
    except ValueError:
        numeric = None
    if numeric is not None:  # LAMMPS numeric types written as species "1", "2", ...
        if numeric.min() < 1:
            raise ValueError(f"{path!r}: numeric species names are read as 1-based LAMMPS types; got "
                             f"{numeric.min()} (allowed: >= 1), or pass type_names")
        return numeric - 1, [str(k + 1) for k in range(int(numeric.max()))]
    table = sorted(set(names))
    index = {t: k for k, t in enumerate(table)}
    return np.array([index[t] for t in names], dtype=np.int64), table


def read_extxyz(path, frame=-1, type_names=None):
    """Read one frame of an extended XYZ file through ``ase.io.read`` (conventions: module docstring).

    Parameters
    ----------
    path : str or os.PathLike
    frame : int
        Frame index, negative counts from the end (default -1, the last frame).
    type_names : sequence of str, optional
        Species names in index order: the name in the ``species`` column is mapped to its index here (overrides the
        file's ``type_names`` info key); any species not listed is an error.

    Returns
    -------
    (System, list of str or None)
        The system (positions wrapped into ``[0, L)``, images counted) and the species names in index order
        (None when the file does not name them, e.g. a bare ``type`` column).

    Raises
    ------
    ImportError
        when ASE is not installed.
    FileNotFoundError
        when ``path`` does not exist.
    ValueError
        naming the file: not an extended XYZ file (e.g. a GSD file), frame out of range, no periodic cell, a
        non-orthorhombic cell (the cell is printed), periodicity missing along an axis, no species, a species
        missing from ``type_names``, no positions.
    """
    from .system import System

    aseio = require_ase()
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such file: {path!r}")
    if os.path.isdir(path):
        raise ValueError(f"{path!r} is a folder, not an extended XYZ file")
    if _is_gsd(path):
        raise ValueError(f"{path!r} is a GSD file, not an extended XYZ file; read it with System.from_gsd (or give "
                         f"it the suffix .gsd)")
    if not isinstance(frame, (int, np.integer)) or isinstance(frame, bool):
        raise ValueError(f"frame must be an integer, got {frame!r}")
    record = {}

    def parser(line):
        return properties_parser(line, record)

    expected = ("expected extended XYZ: a line with the number of particles N, a comment line with "
                "Lattice=\"...\" Properties=species:S:1:pos:R:3..., then N lines of columns")
    try:
        atoms = aseio.read(path, index=int(frame), format="extxyz", properties_parser=parser)
    except (IndexError, StopIteration):  # ASE: IndexError for -n-1, StopIteration for n
        try:
            n = len(aseio.read(path, index=":", format="extxyz", properties_parser=parser))
        except Exception:  # noqa: BLE001 - only the count for the message
            n = None
        if n == 0:
            raise ValueError(f"extended XYZ file {path!r} holds no frames") from None
        allowed = f" (allowed: {-n}..{n - 1})" if n else ""
        raise ValueError(f"frame={frame} out of range for {path!r} with {n} frames{allowed}") from None
    except (KeyboardInterrupt, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001 - ASE raises XYZError, ValueError, KeyError, UnicodeDecodeError, ...
        raise ValueError(f"{path!r} is not a readable extended XYZ file ({type(exc).__name__}: {exc}); "
                         f"{expected}") from None
    props = _property_names(record.get("properties", "species:S:1:pos:R:3"))

    cell = np.asarray(atoms.cell.array, dtype=np.float64)
    pbc = np.asarray(atoms.pbc, dtype=bool)
    if not cell.any():
        raise ValueError(f"{path!r} has no periodic cell: the comment line needs Lattice=\"Lx 0 0 0 Ly 0 0 0 Lz\" "
                         f"(an orthorhombic periodic box); {expected}")
    if np.any(cell != np.diag(np.diag(cell))):
        raise ValueError(f"{path!r}: the cell (Lattice) {cell.tolist()} is not orthorhombic; only orthorhombic "
                         f"cells (diagonal Lattice, all tilts 0) are supported")
    pos = np.asarray(atoms.positions, dtype=np.float64)
    dim = atoms.info.get("dim")
    if dim is None:
        dim = 2 if (pbc.tolist() == [True, True, False] and not pos[:, 2].any()) else 3
    if isinstance(dim, np.generic):
        dim = dim.item()
    if isinstance(dim, bool) or not isinstance(dim, int) or dim not in (2, 3):
        raise ValueError(f"{path!r}: info key dim={dim}; allowed: 2, 3")
    dim = int(dim)
    if not pbc[:dim].all():
        flags = " ".join("T" if p else "F" for p in pbc)
        allowed = 'pbc="T T F" or "T T T"' if dim == 2 else 'pbc="T T T"'
        raise ValueError(f"{path!r}: pbc=\"{flags}\" but a {dim}D system must be periodic along "
                         f"{'x and y' if dim == 2 else 'x, y and z'} (allowed: {allowed})")
    box = np.diag(cell)[:dim].copy()
    types, names = _types_and_names(atoms, props, path, type_names)
    vel = None
    for column in VELOCITY_COLUMNS:
        if column in atoms.arrays:
            vel = np.asarray(atoms.arrays[column], dtype=np.float64)
            if vel.ndim != 2 or vel.shape[1] < dim:
                raise ValueError(f"{path!r}: the {column!r} column must have at least {dim} components, got "
                                 f"shape {vel.shape}")
            vel = vel[:, :dim].copy()
            break
    img = None
    if "image" in atoms.arrays:
        img = np.asarray(atoms.arrays["image"])
        if img.ndim != 2 or img.shape[1] < dim or img.dtype.kind != "i":
            raise ValueError(f"{path!r}: the 'image' column must hold {dim} integers per particle, got "
                             f"{img.dtype} of shape {img.shape}")
        img = img[:, :dim].astype(np.int64)
    system = System.wrapped(pos[:, :dim].copy(), box, types=types, velocities=vel, image=img)
    return system, (list(names) if names is not None else None)
