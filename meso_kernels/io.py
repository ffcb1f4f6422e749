"""Atomic writes and provenance records.

Every write goes to a temporary file in the destination's directory, is flushed and fsync'ed, and then renamed over
the destination with :func:`os.replace`: a reader (or a campaign killed half way) sees either the old file or the new
one, never a truncated one.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> path = save_npz(d / "r.npz", x=[1.0, 2.0])
>>> load_npz(d / "r.npz")["x"].tolist()
[1.0, 2.0]
"""
import contextlib
import datetime as _dt
import io as _io
import json
import os
import platform
import re
import socket
import subprocess
import time
import tempfile
from importlib import metadata as _metadata
from pathlib import Path

import numpy as np

from .cpuinfo import cpu_record

BACKENDS = ("cpu", "cuda")
_REPO = Path(__file__).resolve().parent.parent


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: temporary files of :func:`atomic_path`: ``.<name>.<host>.<pid>.<random>.tmp`` next to the destination
_TMP = re.compile(r"^\.(?P<name>.+)\.(?P<host>[A-Za-z0-9_-]+)\.(?P<pid>[0-9]+)\.[A-Za-z0-9_]+\.tmp$")


def _host_tag():
    return re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname().split(".")[0]) or "host"


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def temporary_name(name):
    """The prefix of a temporary file for ``name`` written by this process: ``.<name>.<host>.<pid>.`` (a random
    part and ``.tmp`` follow), which :func:`stale_temporaries` recognises once the process is gone."""
    return f".{name}.{_host_tag()}.{os.getpid()}."


def stale_temporaries(folder, max_age_s=86400.0, recursive=True):
    """Temporary files left in ``folder`` (and its subfolders, unless ``recursive=False``) by writers of :func:`atomic_path` that died before renaming
    them (``kill -9``, a lost cluster node): those written on this host by a process that no longer exists, and any
    older than ``max_age_s`` seconds (a writer on another host). Files of a live writer are never listed."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    me, now, out = _host_tag(), time.time(), []
    for path in (folder.rglob(".*.tmp") if recursive else folder.glob(".*.tmp")):
        m = _TMP.match(path.name)
        if not m or not path.is_file():
            continue
        try:
            age = now - path.stat().st_mtime
        except FileNotFoundError:  # renamed meanwhile
            continue
        if (m["host"] == me and not _pid_alive(int(m["pid"]))) or age > max_age_s:
            out.append(path)
    return sorted(out)


def remove_stale_temporaries(folder, max_age_s=86400.0, recursive=True):
    """Delete :func:`stale_temporaries` of ``folder``; returns the removed paths."""
    removed = []
    for path in stale_temporaries(folder, max_age_s, recursive):
        try:
            path.unlink()
            removed.append(path)
        except FileNotFoundError:
            pass
    return removed


@contextlib.contextmanager
def atomic_path(path):
    """Context manager yielding a temporary path next to ``path`` (parent folders created); on a clean exit the
    temporary file is made durable (fsync) and renamed onto ``path``, on an error it is removed. For writers that
    need a file name (GSD, npz) rather than bytes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=temporary_name(path.name), suffix=".tmp")
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)


def atomic_write_bytes(path, data):
    """Write ``data`` (bytes) to ``path`` atomically (see :func:`atomic_path`). Returns the path."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"atomic_write_bytes needs bytes, got {type(data).__name__}")
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
    return Path(path)


def _fsync_dir(folder):
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_text(path, text, encoding="utf-8"):
    """Write the string ``text`` to ``path`` atomically (see :func:`atomic_write_bytes`)."""
    if not isinstance(text, str):
        raise TypeError(f"atomic_write_text needs a str, got {type(text).__name__}")
    return atomic_write_bytes(path, text.encode(encoding))


def _as_arrays(arrays, what="save_npz"):
    if not arrays:
        raise ValueError(f"{what}: no arrays given")
    out = {}
    for name, value in arrays.items():
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError(f"{what}: array names must be non-empty strings without '/', got {name!r}")
        try:
            arr = np.asarray(value)
        except Exception as exc:  # ragged lists and the like
            raise ValueError(f"{what}: {name!r} cannot be made into an array: {exc}") from None
        if arr.dtype.hasobject:
            raise ValueError(f"{what}: {name!r} would be stored as a Python-object array (type "
                             f"{type(value).__name__}); give numbers, booleans or strings of one shape")
        out[name] = arr
    return out


def save_npz(path, **arrays):
    """Save named arrays to a compressed ``.npz`` file atomically.

    Values are converted with :func:`numpy.asarray`; object arrays are refused (they would need pickle to load)."""
    arrays = _as_arrays(arrays)
    buf = _io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return atomic_write_bytes(path, buf.getvalue())


def load_npz(path):
    """Load an ``.npz`` file into a plain dict of arrays (without pickle)."""
    with np.load(path, allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"object of type {type(obj).__name__} is not JSON serialisable")


def write_json(path, obj, indent=2):
    """Write ``obj`` as JSON (sorted keys, trailing newline) atomically. numpy scalars/arrays and Paths are converted."""
    text = json.dumps(obj, indent=indent, sort_keys=True, default=_json_default, ensure_ascii=False)
    return atomic_write_text(path, text + "\n")


def _git(*args):
    try:
        res = subprocess.run(["git", "-C", str(_REPO), *args], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return res.stdout.strip() if res.returncode == 0 else None


def git_state():
    """``(commit, dirty)`` of the checkout holding this package: ``("unknown", None)`` outside a git checkout."""
    commit = _git("rev-parse", "HEAD")
    if not commit:
        return "unknown", None
    status = _git("status", "--porcelain", "--untracked-files=no")
    return commit, (None if status is None else bool(status))


def _version(dist):
    try:
        return _metadata.version(dist)
    except _metadata.PackageNotFoundError:
        return "not installed"


def provenance(params, seed, backend="cpu", wall_time=None, device=None, **extra):
    """A JSON-able record of how a result was made.

    params: the parameters (JSON-able; numpy scalars allowed). seed: the random seed (or None). backend: "cpu" or
    "cuda". wall_time: seconds, if known. device: e.g. the GPU name (defaults to "cpu" on the CPU backend).
    ``extra`` entries are added as they are. ``cpu`` records the CPU model, its x86-64 level and the SIMD targets of
    numba and numpy (:func:`meso_kernels.cpuinfo.cpu_record`), because roundoff, and with it a chaotic trajectory,
    depends on them. Nothing else host-specific (host name, user, absolute paths) is recorded."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; allowed: {', '.join(BACKENDS)}")
    if wall_time is not None:
        wall_time = float(wall_time)
    commit, dirty = git_state()
    record = {
        "params": json.loads(json.dumps(params, default=_json_default, sort_keys=True)),
        "seed": seed.item() if isinstance(seed, np.generic) else seed,
        "git_commit": commit,
        "git_dirty": dirty,
        "backend": backend,
        "device": device if device is not None else ("cpu" if backend == "cpu" else "unknown"),
        "versions": {
            "mesoelastic": _version("mesoelastic"),
            "numpy": np.__version__,
            "numba": _version("numba"),
            "scipy": _version("scipy"),
            "python": platform.python_version(),
        },
        "cpu": cpu_record(),
        "date": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        "wall_time_s": wall_time,
    }
    for key, value in extra.items():
        if key in record:
            raise ValueError(f"provenance: extra entry {key!r} would overwrite a standard one")
        record[key] = value
    return record
