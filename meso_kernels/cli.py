"""The ``meso`` command line: point the library at your own glass.

``meso mechanics CONFIG --model NAME`` reads one frame of a HOOMD-schema GSD file (or an extended XYZ file, .xyz or
.extxyz, through ASE), checks that it is an inherent
structure of the model (or quenches it with ``--quench``), computes the athermal shear modulus G (paper Eq. A1), the
dipole stiffnesses κ_ij of the interacting pairs (Eqs. A2-A4) and the local κ_i (mean of κ_ij over each particle's
pairs), writes them next to the input (or to ``--out-dir``) with a provenance header, and prints a summary. The
computation itself is :func:`meso_kernels.mechanics.analyse`, which the book's "your glass" page calls too; this
module parses the arguments, reads the file, maps the library's errors to messages about the options, and writes.
``meso models`` lists the models and their options; ``meso convert IN OUT`` converts a configuration between GSD and
extended XYZ. ``meso campaign run | status | plan`` runs the campaigns behind
the figures (:mod:`meso_kernels.campaign.cli`). Run ``meso --help`` or ``meso mechanics --help`` for the
details.

Every output file is written atomically (temporary file + rename, :mod:`meso_kernels.io`); ``<stem>.mechanics.json``
is written last, so its presence marks a complete set. Exit status: 0 success, 1 the computation or a write failed,
2 bad input (unknown model or option, model/configuration mismatch, not an inherent structure, unreadable file, ...).

>>> main(["--version"])  # doctest: +ELLIPSIS
meso (mesoelastic ...)
0
"""
import argparse
import hashlib
import json
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .mechanics import FORCE_TOL, SOLVERS  # the defaults of the pipeline the command shares with the library
from .mechanics import option_value as _option_value

PROG = "meso"


class CLIError(Exception):
    """An error reported as ``meso: error: <message>`` with exit status ``status`` (no traceback)."""

    def __init__(self, message, status=2):
        super().__init__(message)
        self.status = status


# --- argument parsing ---------------------------------------------------------------------------------------------
def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (np.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _key_value(text):
    key, sep, value = text.partition("=")
    key, value = key.strip(), value.strip()
    if not sep or not key or not value:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE (e.g. dim=2), got {text!r}")
    return key, _option_value(value)


def _model_table():
    """[(name, n_types, {option: (allowed, default)})] of the registered models (for help texts and ``meso models``)."""
    import inspect

    from .models import registry

    rows = []
    for name in registry.available_models():
        factory, allowed, n_types = registry._REGISTRY[name]
        sig = inspect.signature(factory).parameters
        opts = {k: (v, sig[k].default if k in sig else None) for k, v in allowed.items()}
        rows.append((name, n_types, opts))
    return rows


def _describe_option(key, allowed, default):
    what = "a positive number" if allowed is float else "one of " + ", ".join(map(str, allowed))
    return f"{key}={default} ({what})"


def _models_text():
    from .models import get_model

    lines = []
    for name, n_types, opts in _model_table():
        dims = sorted({get_model(name, **({"dim": d} if "dim" in opts else {})).dim
                       for d in (opts["dim"][0] if "dim" in opts else (None,))})
        o = "; ".join(_describe_option(k, *v) for k, v in opts.items()) or "none"
        lines.append(f"  {name:5s} d = {'/'.join(map(str, dims))}, {n_types} species; options: {o}")
    return "\n".join(lines)


MECHANICS_EPILOG = """\
input: CONFIG is a HOOMD-schema GSD file (.gsd) or an extended XYZ file (.xyz, .extxyz; read with ASE, the optional
  'io' extra: pip install 'mesoelastic[io]'), chosen by its suffix; 2D or 3D, orthorhombic periodic box; species =
  GSD typeid, or the extended XYZ species names (see 'meso convert --help'). Positions in the model's reduced units.

outputs (in --out-dir, default the folder of CONFIG; STEM = --stem, default the file name of CONFIG without its
  suffix .gsd, .xyz or .extxyz):
  STEM.kappa.csv        one row per pair: i, j, type_i, type_j, kappa, kappa_zmz, residual, converged
                        kappa = d.z / z.z and kappa_zmz = z.M.z / z.z (energy/length^2; they agree when the solve is
                        exact), residual = |d - M z| / |d|, converged = 1 when the residual is within tolerance
  STEM.local_kappa.csv  one row per particle: i, type, x, y[, z] (length), kappa_i (energy/length^2; mean of kappa_ij
                        over the computed pairs of i, nan for rattlers and particles without pairs), n_pairs, rattler
  STEM.mechanics.json   G, Born and non-affine parts, residual shear stress (energy/length^d), <kappa>, pair,
                        unconverged and rattler counts, max |F_i|, wall times, provenance; written last
  STEM.ihs.gsd          with --quench only: the inherent structure that was analysed (STEM.ihs.xyz for an extended
                        XYZ CONFIG; species names kept)
  The CSV files start with '#' lines (provenance: input file and sha256, model and options, solver, command line,
  package version and git commit, date; units). Read them with pandas.read_csv(path, comment='#') or
  numpy.genfromtxt(path, delimiter=',', names=True, skip_header=K) with K given in the header.

units: the model's reduced units (lengths in sigma, energies in epsilon, unit masses; k_B = 1).

examples:
  meso mechanics my_ihs.gsd --model mblj
  meso mechanics glass2d.gsd --model ipl --option dim=2 --n-random 2000 --seed 1 --out-dir results/
  meso mechanics liquid.gsd --model ss --option rho=0.6 --quench
  meso mechanics my_ihs.xyz --model ka                 # extended XYZ (e.g. exported by OVITO)

exit status: 0 success; 1 the computation or writing an output failed; 2 bad input.
"""


CONVERT_EPILOG = """\
extended XYZ written by meso (and System.to_extxyz):
  Lattice="Lx 0 0 0 Ly 0 0 0 Lz" Properties=species:S:1:pos:R:3[:vel:R:3]:image:I:3 dim=D type_names=[...] pbc=...
  species = the type names (not chemical elements), positions in [0, L), reals with 17 significant digits (exact
  float64 round trip). 2D: Lattice diag(Lx, Ly, 1), z = 0, pbc="T T F", dim=2. Only orthorhombic cells.
reading extended XYZ from elsewhere (OVITO, LAMMPS): species from the type_names info key, a 'typeid' (0-based) or
  'type' (1-based, LAMMPS) integer column, or the species column (numeric names n -> n - 1, other names sorted);
  velocities from a vel, velo or velocities column.

examples:
  meso convert glass.gsd glass.xyz
  meso convert traj.gsd frame10.extxyz --frame 10
  meso convert ovito_export.xyz glass.gsd --type-names A,B

exit status: 0 success; 1 writing OUT failed; 2 bad input (unknown suffix, unreadable file, missing ASE, ...).
"""


def build_parser():
    """The argparse parser of ``meso`` (subcommands ``mechanics`` and ``models``)."""
    from . import __version__
    from .models import available_models

    parser = argparse.ArgumentParser(
        prog=PROG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="mesoelastic: mesoscopic elasticity of computer glasses (Kapteijns et al., J. Chem. Phys. 2021).\n"
                    "Computes the athermal shear modulus G, the dipole stiffnesses kappa_ij and the local kappa_i of "
                    "an inherent structure\nstored in a HOOMD-schema GSD file or an extended XYZ file. All "
                    "quantities are in the model's reduced units.",
        epilog="run 'meso COMMAND --help' for the options of a command, e.g. 'meso mechanics --help'.")
    parser.add_argument("--version", action="version", version=f"{PROG} (mesoelastic {__version__})")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")

    p = sub.add_parser(
        "mechanics", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=MECHANICS_EPILOG,
        help="G, kappa_ij and local kappa_i of a configuration (GSD or extended XYZ)",
        description="Read one frame of CONFIG (a HOOMD-schema GSD file or an extended XYZ file), check that it is "
                    "an inherent\nstructure of the model (max_i |F_i| <= --force-tol; or minimise it first with "
                    "--quench), compute the athermal\nshear modulus G (Eq. A1), the dipole stiffnesses kappa_ij of the "
                    "interacting pairs (Eqs. A2-A4) and the local\nkappa_i, write them with a provenance header and "
                    "print a summary.")
    p.add_argument("config", metavar="CONFIG", help="HOOMD-schema GSD file (.gsd) or extended XYZ file (.xyz, .extxyz; "
                   "needs ASE); 2D or 3D, orthorhombic box; species index of the model = GSD typeid or extxyz species")
    p.add_argument("--model", "-m", required=True, metavar="NAME",
                   help=f"interaction model, one of: {', '.join(available_models())} (see 'meso models')")
    p.add_argument("--option", "-o", action="append", type=_key_value, default=[], metavar="KEY=VALUE",
                   help="model option, repeatable, e.g. --option dim=2 (ipl in 2D), --option rho=0.6 (ss), "
                        "--option lam=20 (sw); numbers are parsed")
    p.add_argument("--frame", type=int, default=-1,
                   help="frame of CONFIG to read; negative counts from the end (default: %(default)s, the last)")
    q = p.add_argument_group("quench")
    q.add_argument("--quench", action="store_true",
                   help="minimise the energy (conjugate gradients) before the analysis and also write STEM.ihs.gsd (or "
                        "STEM.ihs.xyz for an extended XYZ CONFIG); "
                        "needed when CONFIG is not an inherent structure (e.g. a liquid snapshot)")
    q.add_argument("--quench-ftol", type=_positive_float, default=None, metavar="F",
                   help="force tolerance of the quench, max_i |F_i| (energy/length) [default: min(1e-10, "
                        "--force-tol / 10)]")
    q.add_argument("--quench-max-steps", type=_positive_int, default=200_000, metavar="N",
                   help="iteration limit of the quench (default: %(default)s)")
    k = p.add_argument_group("pairs and solver")
    sel = k.add_mutually_exclusive_group()
    sel.add_argument("--pairs", choices=("all",), default="all",
                     help="compute kappa_ij for all interacting pairs (within the cut-off, rattlers excluded; the "
                          "default)")
    sel.add_argument("--n-random", type=_positive_int, default=None, metavar="K",
                     help="compute kappa_ij for K interacting pairs drawn at random without replacement")
    k.add_argument("--seed", type=int, default=None, help="seed of the random pair selection (with --n-random; "
                                                         "default: 0)")
    k.add_argument("--solver", choices=SOLVERS, default="auto",
                   help="linear solver for kappa: dense (Cholesky pseudo-inverse; fast for many pairs of up to a few "
                        "thousand particles), cg (conjugate gradients, memory ~ N), auto (choose by size; default); G "
                        "uses dense with --solver dense, else cg")
    k.add_argument("--rtol", type=_positive_float, default=1e-12,
                   help="relative residual of the CG solves (dimensionless; default: %(default)g)")
    k.add_argument("--force-tol", type=_positive_float, default=FORCE_TOL, metavar="F",
                   help="largest max_i |F_i| (energy/length) accepted as an inherent structure (default: "
                        "%(default)g)")
    o = p.add_argument_group("output")
    o.add_argument("--out-dir", type=Path, default=None, metavar="DIR",
                   help="folder of the outputs (created if needed) [default: the folder of CONFIG]")
    o.add_argument("--stem", default=None, help="file-name stem of the outputs [default: CONFIG's name without "
                                                 "its suffix .gsd, .xyz or .extxyz]")
    o.add_argument("--threads", type=_positive_int, default=None, metavar="N",
                   help="numba threads (default: NUMBA_NUM_THREADS or all cores; 1 is often faster on a busy "
                        "machine)")
    o.add_argument("--no-progress", action="store_true",
                   help="no progress bars or stage messages on stderr")
    o.add_argument("--quiet", "-q", action="store_true", help="do not print the summary on stdout")
    p.set_defaults(func=_mechanics)

    pc = sub.add_parser(
        "convert", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=CONVERT_EPILOG,
        help="convert a configuration between GSD and extended XYZ",
        description="Read one frame of IN and write it to OUT (atomically), each format chosen by the file suffix: "
                    ".gsd (HOOMD schema) or .xyz / .extxyz\n(extended XYZ, read and written with ASE: pip install "
                    "'mesoelastic[io]'). Positions, velocities, box, images and species names\nare kept; GSD -> "
                    "extxyz -> GSD gives back the same float64 positions and velocities.")
    pc.add_argument("input", metavar="IN", help="configuration file to read (.gsd, .xyz, .extxyz)")
    pc.add_argument("output", metavar="OUT", help="file to write (.gsd, .xyz, .extxyz); replaced if it exists")
    pc.add_argument("--frame", type=int, default=-1,
                    help="frame of IN to convert; negative counts from the end (default: %(default)s, the last)")
    pc.add_argument("--type-names", default=None, metavar="A,B,...",
                    help="comma-separated species names in index order: names for OUT, and for an extended XYZ IN "
                         "the mapping of its species column to indices [default: the names stored in IN, else A, "
                         "B, ...]")
    pc.set_defaults(func=_convert)

    pm = sub.add_parser("models", help="list the models and their options",
                        description="List the interaction models (for --model) and their options (for --option).")
    pm.set_defaults(func=_models)

    pd = sub.add_parser(
        "dynamics", help="run (or resume) the liquid-dynamics campaign of Figs 9-11 and print tau_alpha, D",
        description="Equilibrate and measure F_s(q_max, t), MSD and P(|dr|) at every scheduled state point "
                    "(meso_kernels.statepoints) of the given models; results go to data/dynamics (size default, "
                    "paper) or build/ci-data/dynamics (ci) with provenance. State points already stored are "
                    "skipped, so a killed campaign resumes where it stopped.")
    pd.add_argument("--size", default="default", help="run size: ci, default or paper (default: default)")
    pd.add_argument("--models", default="ipl,mblj,ss0.6,ss0.7,ss0.95,sw",
                    help="comma-separated model keys (default: all six: ipl,mblj,ss0.6,ss0.7,ss0.95,sw)")
    pd.add_argument("--seed", type=int, default=0, help="random seed of the initial configurations (default 0)")
    pd.add_argument("--no-progress", action="store_true", help="no progress bars")
    pd.set_defaults(func=_dynamics)

    from .campaign.cli import add_parser as add_campaign
    add_campaign(sub, CLIError)
    return parser


# --- helpers --------------------------------------------------------------------------------------------------------
def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _check_out_dir(out_dir):
    """Create ``out_dir`` if needed and make sure a file can be created in it (before any long computation)."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=out_dir, prefix=".meso-probe.", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise CLIError(f"argument --out-dir: cannot write to {os.fspath(out_dir)!r}: "
                       f"{exc.strerror or exc}") from None


def _build_model(name, options):
    from .models import get_model

    opts = {}
    for key, value in options:
        if key in opts:
            raise CLIError(f"argument --option: {key} given twice ({opts[key]!r} and {value!r})")
        opts[key] = value
    try:
        get_model(name)  # an unknown name: the registry's message lists the allowed ones
    except ValueError as exc:
        raise CLIError(f"argument --model: {exc}") from None
    try:
        return get_model(name, **opts)
    except ValueError as exc:
        raise CLIError(f"argument --option: {exc}") from None


def _mismatch_hint(system):
    """Which registered models (with which options) accept a system of this dimension and number of species."""
    from .models import get_model

    fits = []
    for name, n_types, opts in _model_table():
        if n_types < system.n_types:
            continue
        if "dim" in opts:
            for d in opts["dim"][0]:
                if get_model(name, dim=d).dim == system.dim:
                    fits.append(f"--model {name} --option dim={d}")
        elif get_model(name).dim == system.dim:
            fits.append(f"--model {name}")
    if not fits:
        return ""
    return f"; models for a {system.dim}D configuration with {system.n_types} species: {', '.join(fits)}"


def _model_note(system, model):
    """A hint that the model may be the wrong one: fewer species than the model, or a density far from its
    state point (both legal, so only mentioned when the configuration is refused)."""
    notes = []
    if system.n_types < model.n_types:
        notes.append(f"the configuration has {system.n_types} species, model {model.name!r} has {model.n_types}")
    rho = model.state_point.rho
    if abs(system.density / rho - 1) > 0.1:
        notes.append(f"its density {system.density:.4g} differs from the state point of model {model.name!r} "
                     f"(rho = {rho:g})")
    return f" (note: {'; '.join(notes)}: is --model right?)" if notes else ""


class _Progress:
    """Stage messages on stderr (unless disabled) and the wall time of each stage."""

    def __init__(self, enabled):
        self.enabled = enabled
        self.times = {}

    def say(self, text):
        if self.enabled:
            print(f"{PROG}: {text}", file=sys.stderr, flush=True)

    def stage(self, name, text):
        self.say(text)
        return _Timer(self.times, name)


class _Timer:
    def __init__(self, times, name):
        self.times, self.name = times, name

    def __enter__(self):
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.times[self.name] = time.perf_counter() - self.t0
        return False


def _config_format(what, path):
    """"gsd" or "extxyz" from the suffix of ``path``, or a CLIError naming the argument and the allowed suffixes."""
    from .system import file_format

    try:
        return file_format(path)
    except ValueError as exc:
        raise CLIError(f"argument {what}: {exc}") from None


def _read_config(what, path, fmt, frame, type_names=None):
    """(System, species names or None) of one frame of ``path`` in format ``fmt``; CLIError (status 2) when it
    cannot be read (the message names the argument, the file and the expected format)."""
    from .system import System, read_type_names

    kind = "a GSD file" if fmt == "gsd" else "an extended XYZ file"
    try:
        if fmt == "extxyz":
            from .extxyz import read_extxyz

            system, names = read_extxyz(path, frame=frame, type_names=type_names)
        else:
            system, names = System.from_gsd(path, frame=frame), read_type_names(path, frame)
    except ImportError as exc:
        raise CLIError(f"argument {what}: {exc}") from None
    except ValueError as exc:
        raise CLIError(f"argument {what}{'/--frame' if str(exc).startswith('frame') else ''}: {exc}") from None
    except (OSError, RuntimeError) as exc:
        raise CLIError(f"argument {what}: cannot read {os.fspath(path)!r} as {kind}: {exc}") from None
    return system, (names if names is not None and len(names) >= system.n_types else None)


def _fmt(x):
    """A float with round-trip precision (17 significant digits), 'nan' for NaN."""
    return "nan" if not np.isfinite(x) else repr(float(x))


def _csv_text(title, units, prov, summary, columns, rows):
    """The text of a CSV file with '#' header lines (title, units, provenance) and a column-name line."""
    head = [f"# {title}"]
    head += [f"# units: {u}" for u in units]
    head += [f"# {k}: {v}" for k, v in summary]
    head.append("# provenance: " + json.dumps(prov, sort_keys=True, ensure_ascii=False, default=str))
    n_head = len(head) + 1  # plus the reading hint itself
    head.append(f"# read with pandas.read_csv(path, comment='#') or numpy.genfromtxt(path, delimiter=',', "
                f"names=True, skip_header={n_head})")
    return "\n".join(head + [",".join(columns)] + [",".join(r) for r in rows]) + "\n"


# --- commands ---------------------------------------------------------------------------------------------------
def _models(args):
    print("models (--model NAME) and their options (--option KEY=VALUE, default shown):")
    print(_models_text())
    return 0


def _convert(args):
    src, dst = Path(args.input), Path(args.output)
    if not src.exists():
        raise CLIError(f"argument IN: no such file: {args.input!r}")
    if src.is_dir():
        raise CLIError(f"argument IN: {args.input!r} is a folder; give a GSD or extended XYZ file")
    fin = _config_format("IN", src)
    _config_format("OUT", dst)  # before reading: an unknown suffix is refused at once
    if dst.exists() and dst.resolve() == src.resolve():
        raise CLIError(f"argument OUT: {args.output!r} is the input file; give another name")
    names = None
    if args.type_names is not None:
        names = [t.strip() for t in args.type_names.split(",")]
        if not all(names):
            raise CLIError(f"argument --type-names: expected comma-separated non-empty names, e.g. A,B; got "
                           f"{args.type_names!r}")
    system, stored = _read_config("IN", src, fin, args.frame, names if fin == "extxyz" else None)
    names = names if names is not None else stored  # None: A, B, ...
    try:
        system.write(dst, type_names=names)
    except ImportError as exc:
        raise CLIError(f"argument OUT: {exc}") from None
    except ValueError as exc:
        raise CLIError(f"argument {'--type-names' if args.type_names is not None else 'OUT'}: {exc}") from None
    except OSError as exc:
        raise CLIError(f"writing {args.output!r} failed: {exc}", status=1) from None
    print(f"{PROG} convert: {args.input} (frame {args.frame}, N={system.N}, d={system.dim}, "
          f"species={','.join(names) if names else system.n_types}) -> {args.output}")
    return 0


def _dynamics(args):
    from .campaign import StatePointDynamics, dynamics
    from .statepoints import schedule

    keys = [k.strip() for k in args.models.split(",") if k.strip()]
    if not keys:
        raise CLIError("argument --models: give at least one model key")
    scheds = [schedule(args.size, k) for k in keys]  # validates size and keys before any work
    print(f"{'model':>7s} {'T':>7s} {'tau_a/t0':>9s} {'D t0/a0^2':>10s} {'wall/s':>8s}")
    for key, sched in zip(keys, scheds):
        for T in sched.temperatures:
            r = StatePointDynamics(key, dynamics(args.size, key, T, seed=args.seed, progress=not args.no_progress))
            print(f"{key:>7s} {T:7.4g} {r.tau_alpha / r.t0:9.3g} {r.D * r.t0 / r.a0 ** 2:10.3g} "
                  f"{float(r.arrays['wall_time']):8.1f}  {r.note[:70]}", flush=True)
    return 0


def _mechanics(args):
    import numba

    old = numba.get_num_threads()
    try:
        if args.threads is not None:
            if args.threads > numba.config.NUMBA_NUM_THREADS:
                raise CLIError(f"argument --threads: {args.threads} exceeds the {numba.config.NUMBA_NUM_THREADS} "
                               f"threads numba was started with (allowed: 1..{numba.config.NUMBA_NUM_THREADS})")
            numba.set_num_threads(args.threads)
        return _run_mechanics(args)
    finally:
        numba.set_num_threads(old)


def _run_mechanics(args):
    import numba

    from .io import atomic_write_text, provenance, write_json
    from .mechanics import MechanicsInputError, NotInherentStructure, QuenchNotConverged, analyse

    t_start = time.perf_counter()
    prog = _Progress(not args.no_progress)
    config = Path(args.config)
    if not config.exists():
        raise CLIError(f"argument CONFIG: no such file: {args.config!r}")
    if config.is_dir():
        raise CLIError(f"argument CONFIG: {args.config!r} is a folder; give a GSD or extended XYZ file")
    fmt = _config_format("CONFIG", config)
    if args.n_random is None and args.seed is not None:
        raise CLIError("argument --seed: only meaningful with --n-random K")
    if args.seed is None:
        args.seed = 0
    quench_ftol = args.quench_ftol if args.quench_ftol is not None else min(1e-10, args.force_tol / 10)
    if args.quench_ftol is not None and not args.quench:
        raise CLIError("argument --quench-ftol: only meaningful with --quench")
    if args.quench and quench_ftol > args.force_tol:
        raise CLIError(f"argument --quench-ftol: {quench_ftol:g} exceeds --force-tol {args.force_tol:g}; the "
                       f"quenched configuration would not pass the inherent-structure check (allowed: <= "
                       f"{args.force_tol:g})")
    if not args.force_tol < 1:
        raise CLIError(f"argument --force-tol: {args.force_tol:g} is too loose for a Hessian (allowed: < 1, "
                       f"typically 1e-8)")
    if not args.rtol < 1:
        raise CLIError(f"argument --rtol: must lie in (0, 1), got {args.rtol:g}")
    stem = args.stem if args.stem is not None else config.stem
    if not stem or os.sep in stem or (os.altsep and os.altsep in stem) or stem in (".", ".."):
        raise CLIError(f"argument --stem: must be a plain file-name stem without folders, got {stem!r}")
    out_dir = args.out_dir if args.out_dir is not None else config.parent
    model = _build_model(args.model, args.option)

    # --- read ---
    with prog.stage("read", f"reading {args.config} (frame {args.frame})"):
        system, type_names = _read_config("CONFIG", config, fmt, args.frame)
        sha = _sha256(config)
    try:
        system.check_model(model)
    except ValueError as exc:
        raise CLIError(f"configuration {args.config!r} does not match --model {args.model}: {exc}"
                       f"{_mismatch_hint(system)}") from None
    _check_out_dir(out_dir)  # before any long computation

    # --- quench, inherent-structure check, G and kappa: the library's pipeline (meso_kernels.mechanics) ---
    try:
        mech = analyse(system, model, quench=args.quench, quench_ftol=quench_ftol,
                       quench_max_steps=args.quench_max_steps, force_tol=args.force_tol, solver=args.solver,
                       rtol=args.rtol, n_random=args.n_random, seed=args.seed if args.n_random is not None else None,
                       progress=prog.enabled, log=prog.say if prog.enabled else None)
    except FloatingPointError as exc:
        raise CLIError(f"the quench failed: {exc}", status=1) from None
    except QuenchNotConverged as exc:
        raise CLIError(f"the quench did not converge: {exc.result.summary()}; raise --quench-max-steps or "
                       f"--quench-ftol", status=1) from None
    except NotInherentStructure as exc:
        what = "the quenched configuration" if exc.quenched else f"configuration {args.config!r} (frame {args.frame})"
        hint = ("lower --quench-ftol or raise --force-tol" if exc.quenched else
                "rerun with --quench to minimise its energy first (conjugate gradients), or raise --force-tol")
        raise CLIError(f"{what} is not an inherent structure of model {args.model}: max |F_i| = {exc.max_force:.3g} "
                       f"exceeds --force-tol {args.force_tol:g}; {hint}{_model_note(system, model)}") from None
    except MechanicsInputError as exc:
        msg = str(exc)
        if exc.stage in ("quench", "terms"):
            raise CLIError(f"configuration {args.config!r} with --model {args.model}: {msg}") from None
        if msg.startswith("n_random"):
            raise CLIError(f"argument --n-random: {msg}") from None
        raise CLIError(msg) from None
    prog.times.update(mech.timings)
    system, G, ds, qres, terms = mech.system, mech.shear, mech.dipoles, mech.quench_result, mech.terms
    max_force, n_interacting = mech.max_force, mech.n_interacting

    # --- provenance ---
    cmd = shlex.join([PROG, *args._argv])
    params = {
        "command": "mechanics", "model": model.name, "model_options": dict(model.options), "frame": args.frame,
        "quench": ({"method": "cg", "ftol": quench_ftol, "max_steps": args.quench_max_steps} if args.quench
                   else None),
        "pairs": "all" if args.n_random is None else {"n_random": args.n_random},
        "solver": args.solver, "rtol": args.rtol, "force_tol": args.force_tol,
    }
    prov = provenance(params, args.seed if args.n_random is not None else None,
                      wall_time=time.perf_counter() - t_start,
                      command_line=cmd, numba_threads=numba.get_num_threads(),
                      input={"path": os.fspath(args.config), "sha256": sha, "frame": args.frame})
    dimension_units = f"energy/length^{system.dim}"
    summary_lines = [
        ("input", f"{args.config} (frame {args.frame}, sha256 {sha})"),
        ("system", f"N={system.N}, d={system.dim}, box={system.box.tolist()}, n_types={system.n_types}"
                   + (" (quenched with --quench)" if args.quench else "")),
        ("model", model.describe()),
        ("solver", f"{ds.solver_used} (requested {args.solver}), rtol={args.rtol:g}, force_tol={args.force_tol:g}"),
        ("command", cmd),
        ("version", f"mesoelastic {prov['versions']['mesoelastic']}, git {prov['git_commit']}"
                    + (" (dirty)" if prov["git_dirty"] else "")),
        ("date", prov["date"]),
    ]

    # --- write (atomically; the JSON last) ---
    files = {}
    t_write = time.perf_counter()
    try:
        if args.quench:
            files["ihs"] = out_dir / f"{stem}.ihs.{'xyz' if fmt == 'extxyz' else 'gsd'}"
            system.write(files["ihs"], type_names=type_names)
        types = system.types
        pairs = ds.pairs
        rows = ([str(i), str(j), str(types[i]), str(types[j]), _fmt(k), _fmt(kz), _fmt(r), str(int(c))]
                for (i, j), k, kz, r, c in zip(pairs.tolist(), ds.kappa, ds.kappa_zmz, ds.residual, ds.converged))
        files["kappa"] = out_dir / f"{stem}.kappa.csv"
        atomic_write_text(files["kappa"], _csv_text(
            "meso mechanics: dipole stiffnesses kappa_ij of interacting pairs (i, j) (paper Eqs. A2-A4)",
            ["i, j: particle indices (0-based, order of CONFIG); type_i, type_j: species",
             "kappa = d.z/z.z, kappa_zmz = z.M.z/z.z: energy/length^2; residual = |d - M z|/|d| (dimensionless); "
             "converged: 1 if the residual is within tolerance, else 0"],
            prov, summary_lines, ["i", "j", "type_i", "type_j", "kappa", "kappa_zmz", "residual", "converged"],
            rows))
        lk = ds.local_kappa
        counts = np.bincount(pairs.ravel(), minlength=system.N)
        axes = "xyz"[:system.dim]
        rows = ([str(i), str(types[i]), *(_fmt(v) for v in system.positions[i]), _fmt(lk[i]), str(counts[i]),
                 str(int(ds.rattlers[i]))] for i in range(system.N))
        files["local_kappa"] = out_dir / f"{stem}.local_kappa.csv"
        atomic_write_text(files["local_kappa"], _csv_text(
            "meso mechanics: local dipole stiffness kappa_i = mean of kappa_ij over the computed pairs of particle i",
            [f"{', '.join(axes)}: positions (length) in [0, L) of the analysed configuration"
             + (" (the quenched one)" if args.quench else ""),
             "kappa_i: energy/length^2 (nan for rattlers and particles without computed pairs); n_pairs: computed "
             "pairs of i; rattler: 1 if i has fewer than d + 1 interacting pairs (removed from the Hessian)"],
            prov, summary_lines, ["i", "type", *axes, "kappa_i", "n_pairs", "rattler"], rows))
        prog.times["write"] = time.perf_counter() - t_write
        prog.times["total"] = time.perf_counter() - t_start
        result = {
            "input": {"path": os.fspath(args.config), "sha256": sha, "frame": args.frame},
            "N": system.N, "dim": system.dim, "box": system.box.tolist(), "n_types": system.n_types,
            "density": system.density,
            "model": {"name": model.name, "options": dict(model.options), "n_types": model.n_types},
            "G": G.G, "born": G.born, "nonaffine": G.nonaffine, "stress": G.stress,
            "G_solver": G.solver, "G_residual": G.residual, "G_converged": G.converged,
            "kappa_mean": ds.mean,
            "kappa_median": float(np.median(ds.kappa)),
            "kappa_solver": ds.solver_used,
            "n_pairs": int(ds.kappa.size), "n_interacting_pairs": n_interacting,
            "n_unconverged": int((~ds.converged).sum()),
            "kappa_max_residual": float(ds.residual.max()) if ds.residual.size else None,
            "n_rattlers": int(ds.rattlers.sum()),
            "max_force": max_force,
            "quench": (None if qres is None else {"converged": qres.converged, "n_iter": qres.n_iter,
                                                  "max_force": qres.max_force, "energy": qres.energy}),
            "energy": terms.energy,
            "units": {"G": dimension_units, "born": dimension_units, "nonaffine": dimension_units,
                      "stress": dimension_units, "kappa": "energy/length^2", "max_force": "energy/length",
                      "energy": "energy", "box": "length", "timings_s": "seconds"},
            "timings_s": dict(prog.times),
            "files": {k: v.name for k, v in files.items()},
            "provenance": prov,
        }
        files["mechanics"] = out_dir / f"{stem}.mechanics.json"
        write_json(files["mechanics"], result)
    except OSError as exc:
        raise CLIError(f"writing the outputs to {os.fspath(out_dir)!r} failed: {exc}", status=1) from None

    if not args.quiet:
        _print_summary(args, system, model, G, ds, qres, prog.times, files, max_force, dimension_units,
                       n_interacting)
    return 0


def _print_summary(args, system, model, G, ds, qres, times, files, max_force, gunits, n_interacting):
    box = " x ".join(f"{b:.6g}" for b in system.box)
    print(f"{PROG} mechanics: {args.config} (frame {args.frame})")
    print(f"  system     N = {system.N}, d = {system.dim}, box = {box}, rho = {system.density:.6g}, "
          f"species = {system.n_types}")
    print(f"  model      {model.describe()}")
    if qres is not None:
        print(f"  quench     cg: {qres.n_iter} iterations, E = {qres.energy:.12g}, max |F_i| = {qres.max_force:.2e}")
    print(f"  max |F_i|  {max_force:.2e} (force_tol {args.force_tol:g})")
    print(f"  G          {G.G:.6g} {gunits} (Born {G.born:.6g} - non-affine {G.nonaffine:.6g}; residual stress "
          f"{G.stress:.3g}; {G.solver}, residual {G.residual:.1e}{'' if G.converged else ', NOT converged'})")
    sel = "all" if args.n_random is None else f"{args.n_random} random (seed {args.seed}) of {n_interacting}"
    print(f"  <kappa>    {ds.mean:.6g} energy/length^2 over {ds.kappa.size} pairs ({sel}; solver {ds.solver_used})")
    print(f"  checks     unconverged pairs = {int((~ds.converged).sum())}, rattlers = {int(ds.rattlers.sum())}, "
          f"max kappa residual = {ds.residual.max():.1e}")
    order = ["read", "quench", "terms", "G", "kappa", "write", "total"]
    print("  wall time  " + ", ".join(f"{k} {times[k]:.2f} s" for k in order if k in times))
    print("  wrote      " + ", ".join(os.fspath(f) for f in files.values()))


# --- entry point ------------------------------------------------------------------------------------------------
def main(argv=None):
    """Run ``meso`` with the arguments ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors: argparse has printed its message
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    args._argv = argv
    try:
        return args.func(args)
    except CLIError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return exc.status
    except ValueError as exc:  # any other refusal of the library: bad input
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
