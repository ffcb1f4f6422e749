"""The particle system: positions, periodic orthorhombic box, species, velocities; GSD and extended XYZ in and out.

Conventions (DESIGN.md): unit masses, k_B = 1, lengths and times in the model's reduced units. Positions are stored
wrapped into the box, ``0 <= x < L`` per axis; ``image`` counts how many box lengths each particle has crossed, so
that the unwrapped position is ``positions + image * box`` (used for mean-square displacements).

>>> import numpy as np
>>> s = System(np.array([[0.5, 0.5], [1.5, 1.0]]), np.array([2.0, 2.0]), types=[0, 1])
>>> s.N, s.dim, s.volume, s.density, s.n_types
(2, 2, 4.0, 0.5, 2)
"""
import os

import numpy as np

from .io import atomic_path

#: Positions within this fraction of a box length outside ``[0, L)`` are accepted and wrapped on construction
#: (a position of exactly ``L`` is the common case: ``x - L * floor(x / L)`` can round to ``L`` for tiny negative x).
WRAP_TOLERANCE = 1e-8

#: Log chunk that holds the exact (float64) box next to HOOMD's float32 ``configuration/box``.
GSD_BOX_LOG = "meso_kernels/box"

#: Configuration file formats by suffix (lower case): GSD (HOOMD schema) and extended XYZ (through ASE, the optional
#: ``io`` extra; conventions in :mod:`meso_kernels.extxyz`).
FORMATS = {".gsd": "gsd", ".xyz": "extxyz", ".extxyz": "extxyz"}


def file_format(path):
    """The format of a configuration file from its suffix: "gsd" (.gsd) or "extxyz" (.xyz, .extxyz).

    >>> file_format("glass.gsd"), file_format("run/Glass.XYZ"), file_format("a.extxyz")
    ('gsd', 'extxyz', 'extxyz')
    """
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    try:
        return FORMATS[suffix]
    except KeyError:
        raise ValueError(f"cannot tell the format of {os.fspath(path)!r} from its suffix {suffix or '(none)'!r}; "
                         f"allowed suffixes: {', '.join(FORMATS)} (GSD: .gsd; extended XYZ: .xyz, .extxyz)") from None


def read_type_names(path, frame=-1):
    """The species names stored in a configuration file, in index order (``types`` k is named ``names[k]``).

    GSD: ``particles/types`` of the frame. Extended XYZ: the names :meth:`System.from_extxyz` used (the
    ``type_names`` info key, or the names of the ``species`` column); None when the file names no species.
    """
    if file_format(path) == "extxyz":
        from .extxyz import read_extxyz

        return read_extxyz(path, frame)[1]
    import gsd.hoomd

    with gsd.hoomd.open(os.fspath(path), mode="r") as traj:
        n = len(traj)
        if not -n <= frame < n:
            raise ValueError(f"frame={frame} out of range for {os.fspath(path)!r} with {n} frames "
                             f"(allowed: {-n}..{n - 1})")
        names = list(traj[frame % n].particles.types)
    return [str(t) for t in names] or None


def _float_array(value, name, shape):
    """Convert ``value`` to a float64 array of ``shape`` (entries may be None = any), finite, or raise naming it."""
    try:
        arr = np.array(value, dtype=np.float64, copy=True)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of numbers, got {type(value).__name__}") from None
    if arr.ndim != len(shape) or any(s is not None and s != n for s, n in zip(shape, arr.shape)):
        want = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{name} must have shape {want}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; {np.count_nonzero(~np.isfinite(arr))} entries are nan or inf")
    return arr


def _int_array(value, name, shape, dtype=np.int32):
    """Convert ``value`` to an integer array of ``shape``, refusing non-integral numbers and booleans."""
    arr = np.asarray(value)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"{name} must hold integers, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr) & (arr == np.round(arr))):
        raise ValueError(f"{name} must hold integers, got non-integral values")
    if arr.ndim != len(shape) or any(s != n for s, n in zip(shape, arr.shape)):
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    return np.array(arr, dtype=dtype, copy=True)


def _wrap(positions, box, image):
    """Wrap positions into ``[0, L)`` in place and update image counts; returns both."""
    shift = np.floor(positions / box)
    positions -= shift * box
    image += shift.astype(image.dtype)
    # x - L * floor(x / L) rounds to L for tiny negative x (and may be a hair below 0 for x just above a multiple of L)
    high = positions >= box
    positions[high] -= np.broadcast_to(box, positions.shape)[high]
    image[high] += 1
    positions[positions < 0.0] = 0.0
    return positions, image


def _gsd_open(path, mode, precision):
    """``gsd.hoomd.open`` with a float precision; gsd releases without the ``precision`` argument write float32."""
    import inspect

    import gsd.hoomd

    if "precision" in inspect.signature(gsd.hoomd.open).parameters:
        return gsd.hoomd.open(path, mode=mode, precision=precision)
    if precision == "double":
        import gsd.version

        raise ValueError(f"precision='double' needs gsd >= 5 (installed: {gsd.version.version}); "
                         f"allowed here: precision='single'")
    return gsd.hoomd.open(path, mode=mode)


class System:
    """N particles of unit mass in a periodic orthorhombic box (2D or 3D).

    Parameters
    ----------
    positions : array_like, shape (N, d)
        Particle positions (length), d = 2 or 3. Must lie in ``[0, L)`` per axis; positions within
        ``WRAP_TOLERANCE * L`` outside (notably exactly ``L``) are wrapped and their ``image`` updated.
    box : array_like, shape (d,)
        Side lengths ``L`` of the periodic box (length), all > 0.
    types : array_like of int, shape (N,), optional
        Species index of each particle (non-negative); default all 0. Stored as int32.
    velocities : array_like, shape (N, d), optional
        Velocities (length / time), or None when the system has none (e.g. an inherent structure).
    image : array_like of int, shape (N, d), optional
        Periodic image counts (default zeros): the unwrapped position is ``positions + image * box``.

    Attributes ``positions``, ``box``, ``types``, ``velocities``, ``image`` are copies of the inputs, owned by the
    system; integrators may update them in place and call :meth:`wrap` afterwards.

    Raises
    ------
    ValueError
        naming the offending parameter: wrong shape, non-finite values, box <= 0, positions outside the box,
        negative or non-integral types.
    """

    def __init__(self, positions, box, types=None, velocities=None, image=None):
        box = _float_array(box, "box", (None,))
        if box.shape[0] not in (2, 3):
            raise ValueError(f"box must have 2 or 3 entries (the dimension d; allowed: 2, 3), got {box.shape[0]}")
        if np.any(box <= 0):
            raise ValueError(f"box side lengths must be > 0, got {box.tolist()}")
        d = box.shape[0]
        positions = _float_array(positions, "positions", (None, d))
        N = positions.shape[0]
        if N < 1:
            raise ValueError("positions must hold at least one particle, got shape (0, d)")
        if types is None:
            types = np.zeros(N, dtype=np.int32)
        else:
            types = _int_array(types, "types", (N,))
            if np.any(types < 0):
                raise ValueError(f"types must be non-negative species indices, got minimum {types.min()}")
        if velocities is not None:
            velocities = _float_array(velocities, "velocities", (N, d))
        image = np.zeros((N, d), dtype=np.int32) if image is None else _int_array(image, "image", (N, d))

        tol = WRAP_TOLERANCE * box
        outside = (positions < -tol) | (positions >= box + tol)
        if np.any(outside):
            i, k = np.argwhere(outside)[0]
            raise ValueError(
                f"positions must lie in the box [0, L) per axis (box = {box.tolist()}); {int(outside.any(1).sum())} "
                f"particles do not, e.g. particle {i} axis {k} at {positions[i, k]!r}; use System.wrapped(...) "
                f"to wrap arbitrary positions")
        _wrap(positions, box, image)
        self.positions, self.box, self.types, self.velocities, self.image = positions, box, types, velocities, image

    @classmethod
    def wrapped(cls, positions, box, types=None, velocities=None, image=None):
        """Build a system from positions anywhere in space, wrapping them into the box and counting images.

        Same parameters as :class:`System`; positions need not lie in ``[0, L)``.
        """
        box_arr = _float_array(box, "box", (None,))
        if box_arr.shape[0] not in (2, 3) or np.any(box_arr <= 0):
            return cls(positions, box_arr, types, velocities, image)  # raises the constructor's error about box
        pos = _float_array(positions, "positions", (None, box_arr.shape[0]))
        img = np.zeros(pos.shape, dtype=np.int64) if image is None else _int_array(image, "image", pos.shape, np.int64)
        _wrap(pos, box_arr, img)
        return cls(pos, box_arr, types=types, velocities=velocities, image=img)

    # --- descriptive properties -------------------------------------------------------------------------------
    @property
    def N(self):
        """Number of particles."""
        return self.positions.shape[0]

    @property
    def dim(self):
        """Spatial dimension d (2 or 3)."""
        return self.box.shape[0]

    @property
    def volume(self):
        """Box volume (area in 2D), the product of the side lengths."""
        return float(np.prod(self.box))

    @property
    def density(self):
        """Number density N / V."""
        return self.N / self.volume

    @property
    def n_types(self):
        """Number of species, ``max(types) + 1``."""
        return int(self.types.max()) + 1

    def __repr__(self):
        v = "with" if self.velocities is not None else "without"
        return (f"System(N={self.N}, dim={self.dim}, box={self.box.tolist()}, n_types={self.n_types}, "
                f"density={self.density:.6g}, {v} velocities)")

    # --- copies ------------------------------------------------------------------------------------------------
    def copy(self):
        """A deep copy (all arrays copied)."""
        return System(self.positions, self.box, self.types, self.velocities, self.image)

    def wrap(self):
        """A copy with the current positions (possibly moved out of the box in place) wrapped into ``[0, L)``.

        ``image`` is updated so that the unwrapped positions are unchanged.
        """
        return System.wrapped(self.positions, self.box, self.types, self.velocities, self.image)

    def unwrapped_positions(self):
        """Unwrapped positions ``positions + image * box``, shape (N, d) (length)."""
        return self.positions + self.image * self.box

    # --- checks and kinetic quantities ---------------------------------------------------------------------------
    def check_model(self, model):
        """Raise ``ValueError`` unless ``model`` can act on this system: same dimension, every type < model.n_types."""
        if model.dim != self.dim:
            raise ValueError(f"model {model.name!r} is {model.dim}D but the system is {self.dim}D "
                             f"(allowed system dim: {model.dim})")
        if self.n_types > model.n_types:
            raise ValueError(f"system has species up to {self.n_types - 1} but model {model.name!r} has "
                             f"{model.n_types} species (allowed types: 0..{model.n_types - 1})")

    def _require_velocities(self):
        if self.velocities is None:
            raise ValueError("this system has no velocities (velocities=None); set them first, e.g. with "
                             "meso_kernels.initial.maxwell_boltzmann")
        return self.velocities

    def kinetic_energy(self):
        """Total kinetic energy ``sum_i |v_i|^2 / 2`` (energy; masses are 1)."""
        v = self._require_velocities()
        return 0.5 * float(np.sum(v * v))

    def temperature(self):
        """Kinetic temperature ``2 K / (d (N - 1))`` (energy, k_B = 1).

        The d(N - 1) degrees of freedom assume the total momentum is zero (it is conserved by the integrators and
        removed by :func:`meso_kernels.initial.maxwell_boltzmann`); the momentum itself is not checked.
        """
        if self.N < 2:
            raise ValueError(f"the kinetic temperature needs N >= 2 particles (d(N-1) degrees of freedom), "
                             f"got N={self.N}")
        return 2.0 * self.kinetic_energy() / (self.dim * (self.N - 1))

    # --- GSD ----------------------------------------------------------------------------------------------------
    @classmethod
    def from_gsd(cls, path, frame=-1):
        """Read one frame of a HOOMD-schema GSD file.

        Parameters
        ----------
        path : str or os.PathLike
            The GSD file.
        frame : int
            Frame index, negative counts from the end (default -1, the last frame).

        Returns
        -------
        System
            Positions are shifted from HOOMD's ``[-L/2, L/2)`` to ``[0, L)`` and wrapped (float32 rounding may put
            a particle at exactly ``+L/2``). In 2D (``configuration/dimensions`` = 2) only x, y are kept, whatever
            ``Lz`` says (0 in HOOMD >= 3, 1 in older files). The box comes from the exact float64 log chunk
            ``log/meso_kernels/box`` when this module wrote the file, else from ``configuration/box`` (float32).
            ``velocities`` is None when the file holds no ``particles/velocity`` chunk for the frame (nor frame 0,
            from which GSD readers fill missing chunks). Type names are not kept: ``types`` are ``typeid``.
        """
        import gsd.hoomd

        with gsd.hoomd.open(os.fspath(path), mode="r") as traj:
            n = len(traj)
            if n == 0:
                raise ValueError(f"GSD file {os.fspath(path)!r} holds no frames")
            if not -n <= frame < n:
                raise ValueError(f"frame={frame} out of range for {os.fspath(path)!r} with {n} frames "
                                 f"(allowed: {-n}..{n - 1})")
            idx = frame % n
            snap = traj[idx]
            has_velocity = any(traj.file.chunk_exists(frame=k, name="particles/velocity") for k in {idx, 0})
            has_image = any(traj.file.chunk_exists(frame=k, name="particles/image") for k in {idx, 0})

        cfg = snap.configuration
        dim = int(cfg.dimensions)
        if dim not in (2, 3):
            raise ValueError(f"GSD configuration/dimensions = {dim}; allowed: 2, 3")
        hbox = np.asarray(cfg.box, dtype=np.float64)
        if np.any(hbox[3:] != 0):
            raise ValueError(f"GSD box has tilt factors xy, xz, yz = {hbox[3:].tolist()}; only orthorhombic boxes "
                             f"(all 0) are supported")
        box = hbox[:dim].copy()
        exact = snap.log.get(GSD_BOX_LOG)
        if exact is not None and len(exact) == dim and np.allclose(exact, box, rtol=1e-6, atol=0):
            box = np.asarray(exact, dtype=np.float64).copy()
        N = int(snap.particles.N)
        pos = np.asarray(snap.particles.position, dtype=np.float64)[:, :dim] + 0.5 * box
        vel = np.asarray(snap.particles.velocity, dtype=np.float64)[:, :dim].copy() if has_velocity else None
        img = np.zeros((N, dim), np.int64)
        if has_image:
            img = np.asarray(snap.particles.image, dtype=np.int64)[:, :dim].copy()
        types = np.asarray(snap.particles.typeid, dtype=np.int64).reshape(N)
        return cls.wrapped(pos, box, types=types, velocities=vel, image=img)

    def to_gsd(self, path, mode="w", type_names=None, precision="double", step=0):
        """Write the system as one frame of a HOOMD-schema GSD file.

        Parameters
        ----------
        path : str or os.PathLike
            Destination file.
        mode : {"w", "a"}
            "w" writes a new one-frame file atomically (to a temporary file in the same directory, then
            ``os.replace``), so a reader never sees a partial file; "a" appends a frame to an existing file (or
            creates it), not atomically.
        type_names : sequence of str, optional
            Names of the species, at least ``n_types`` of them; default "A", "B", ... (``particles/types``).
        precision : {"double", "single"}
            Float precision of positions and velocities. "double" (default) writes float64 chunks (HOOMD
            schema 2; needs the ``precision`` argument of ``gsd.hoomd.open``, gsd >= 5): a round trip is exact up
            to the rounding of the half-box shift (~1e-16 L). "single" writes the classic float32 chunks (relative
            error ~1e-7: too coarse to restart a minimisation).
        step : int
            ``configuration/step``.

        Notes
        -----
        HOOMD's schema: ``configuration/box`` = [Lx, Ly, Lz, xy, xz, yz] (float32) with Lz = 0 and
        ``configuration/dimensions`` = 2 in 2D; positions are stored in ``[-L/2, L/2)`` with z = 0 in 2D;
        ``particles/typeid``, ``particles/types``, ``particles/velocity`` (when not None) and ``particles/image``.
        The exact float64 box is also written to the log chunk ``log/meso_kernels/box``, which :meth:`from_gsd`
        prefers.
        """
        import gsd.hoomd

        if mode not in ("w", "a"):
            raise ValueError(f"mode={mode!r} is not allowed; allowed values: 'w' (atomic new file), 'a' (append)")
        if precision not in ("double", "single"):
            raise ValueError(f"precision={precision!r} is not allowed; allowed values: 'double', 'single'")
        if type_names is None:
            type_names = [chr(ord("A") + k) if k < 26 else f"T{k}" for k in range(self.n_types)]
        type_names = [str(t) for t in type_names]
        if len(type_names) < self.n_types:
            raise ValueError(f"type_names must name all {self.n_types} species (types 0..{self.n_types - 1}), "
                             f"got {len(type_names)}: {type_names}")
        if len(set(type_names)) != len(type_names) or any(not t for t in type_names):
            raise ValueError(f"type_names must be distinct non-empty strings, got {type_names}")

        fdt = np.float64 if precision == "double" else np.float32
        d, N = self.dim, self.N
        frame = gsd.hoomd.Frame()
        frame.configuration.step = int(step)
        frame.configuration.dimensions = d
        frame.configuration.box = np.array([self.box[0], self.box[1], self.box[2] if d == 3 else 0.0, 0, 0, 0],
                                           dtype=np.float32)
        frame.particles.N = N
        frame.particles.types = type_names
        frame.particles.typeid = self.types.astype(np.uint32)
        pos = np.zeros((N, 3), dtype=np.float64)
        pos[:, :d] = self.positions - 0.5 * self.box
        # [-L/2, L/2) must also hold after rounding to the stored precision
        pos = pos.astype(fdt)
        half = (0.5 * self.box).astype(fdt)
        at_half = pos[:, :d] >= half
        pos[:, :d][at_half] = -np.broadcast_to(half, (N, d))[at_half]
        frame.particles.position = pos
        if self.velocities is not None:
            vel = np.zeros((N, 3), dtype=fdt)
            vel[:, :d] = self.velocities
            frame.particles.velocity = vel
        img = np.zeros((N, 3), dtype=np.int32)
        img[:, :d] = self.image + at_half  # +L/2 moved to -L/2: one more box crossed
        frame.particles.image = img
        frame.log[GSD_BOX_LOG] = self.box.astype(np.float64)

        path = os.fspath(path)
        if mode == "a":
            with _gsd_open(path, "a", precision) as traj:
                traj.append(frame)
            return
        with atomic_path(path) as tmp:
            with _gsd_open(tmp, "w", precision) as traj:
                traj.append(frame)

    # --- extended XYZ and format by suffix ------------------------------------------------------------------------
    @classmethod
    def from_extxyz(cls, path, frame=-1, type_names=None):
        """Read one frame of an extended XYZ file through ASE (``ase.io.read``; the optional ``io`` extra).

        Parameters
        ----------
        path : str or os.PathLike
            The file (any suffix).
        frame : int
            Frame index, negative counts from the end (default -1, the last frame).
        type_names : sequence of str, optional
            Species names in index order: a particle whose ``species`` is ``type_names[k]`` gets ``types`` k;
            default the file's ``type_names`` info key (written by :meth:`to_extxyz`), else the rules of
            :mod:`meso_kernels.extxyz` (``typeid`` / ``type`` columns, numeric or sorted names).

        Returns
        -------
        System
            Positions (length) wrapped into ``[0, L)``, velocities (length/time) or None, images; 2D when the file
            says ``dim=2`` (or has ``pbc="T T F"`` and all z = 0). Files written by :meth:`to_extxyz` round-trip
            positions, velocities and the box to the last bit. :func:`read_type_names` gives the species names.

        Raises
        ------
        ImportError
            when ASE is not installed (with the command that installs it).
        ValueError
            naming the file: not an extended XYZ file (a GSD file, garbage), frame out of range, no periodic cell,
            a non-orthorhombic cell, no species or a species missing from ``type_names``.

        >>> import tempfile, pathlib, pytest
        >>> _ = pytest.importorskip("ase")  # the optional io extra
        >>> s = System([[0.1, 0.2, 0.3], [1.5, 1.0, 0.5]], [2.0, 3.0, 1.5], types=[1, 0])
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "glass.xyz"
        >>> s.to_extxyz(path, type_names=["small", "large"])
        >>> r = System.from_extxyz(path)
        >>> r.types.tolist(), bool((r.positions == s.positions).all()), read_type_names(path)
        ([1, 0], True, ['small', 'large'])
        """
        from .extxyz import read_extxyz

        return read_extxyz(path, frame=frame, type_names=type_names)[0]

    def to_extxyz(self, path, type_names=None, mode="w"):
        """Write the system as one frame of an extended XYZ file through ASE (``ase.io.write``).

        Parameters
        ----------
        path : str or os.PathLike
            Destination file (``.xyz`` or ``.extxyz`` by convention).
        type_names : sequence of str, optional
            Names of the species (the ``species`` column), at least ``n_types``, distinct, without white space;
            default "A", "B", ... as in :meth:`to_gsd`.
        mode : {"w", "a"}
            "w" writes a new one-frame file atomically (temporary file, then ``os.replace``); "a" appends a frame.

        Notes
        -----
        Columns ``species:S:1:pos:R:3[:vel:R:3]:image:I:3``, ``Lattice`` = diag(Lx, Ly, Lz), info keys ``dim``
        and ``type_names``; in 2D ``Lattice`` = diag(Lx, Ly, 1), z = 0 and ``pbc="T T F"``. Reals are written with
        17 significant digits, so :meth:`from_extxyz` gives back the same bits. See :mod:`meso_kernels.extxyz`.
        """
        from .extxyz import write_extxyz

        write_extxyz(self, path, type_names=type_names, mode=mode)

    @classmethod
    def read(cls, path, frame=-1, type_names=None):
        """Read a GSD (.gsd) or extended XYZ (.xyz, .extxyz) file, chosen by suffix (:func:`file_format`).

        ``type_names`` applies to extended XYZ only (see :meth:`from_extxyz`); ValueError for an unknown suffix
        names the allowed ones.
        """
        if file_format(path) == "extxyz":
            return cls.from_extxyz(path, frame=frame, type_names=type_names)
        return cls.from_gsd(path, frame=frame)

    def write(self, path, type_names=None):
        """Write a one-frame GSD (.gsd) or extended XYZ (.xyz, .extxyz) file atomically, chosen by suffix."""
        if file_format(path) == "extxyz":
            self.to_extxyz(path, type_names=type_names)
        else:
            self.to_gsd(path, type_names=type_names)
