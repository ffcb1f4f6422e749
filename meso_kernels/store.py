"""A small content-addressed store of computed results: ``data/<campaign>/<key>.npz`` plus a ``<key>.json`` sidecar.

The key is the first 16 hex digits of the SHA-256 of the canonical JSON of (campaign, parameters, seed, code version).
A result is computed once; later calls with the same parameters load it. The ``.npz`` is written first and the JSON
sidecar last, both atomically, so the sidecar marks a complete result: a run killed half way recomputes what it lost.

>>> import tempfile
>>> root = tempfile.mkdtemp()
>>> calls = []
>>> def compute():
...     calls.append(1)
...     return {"x": [0.0, 1.0]}
>>> cached("demo", {"T": 0.5}, compute, seed=1, root=root)["x"].tolist()
[0.0, 1.0]
>>> cached("demo", {"T": 0.5}, compute, seed=1, root=root)["x"].tolist(), len(calls)
([0.0, 1.0], 1)
"""
import hashlib
import json
import math
import re
import time
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .io import _as_arrays, load_npz, provenance, save_npz, write_json

#: Part of every key. Bump it when a change of the code changes stored numbers, so that old results are not reused.
#: A campaign can pass its own ``code_version`` to invalidate only its own results.
CODE_VERSION = "1"

_CAMPAIGN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def _canonical(obj, where="params"):
    """Plain JSON types from ``obj`` (numpy scalars and arrays become numbers and lists; tuples become lists).
    Raises TypeError/ValueError naming the offending entry."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        if not math.isfinite(obj):
            raise ValueError(f"{where} is {obj!r}: not-finite numbers cannot be part of a key")
        return obj
    if isinstance(obj, Mapping):
        out = {}
        for key, value in obj.items():
            if not isinstance(key, str):
                raise TypeError(f"{where} has a key {key!r} of type {type(key).__name__}; keys must be strings")
            out[key] = _canonical(value, f"{where}[{key!r}]")
        return out
    if isinstance(obj, np.ndarray):
        return [_canonical(v, f"{where}[{i}]") for i, v in enumerate(obj.tolist())]
    if isinstance(obj, (list, tuple)):
        return [_canonical(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    raise TypeError(f"{where} is of type {type(obj).__name__}, which has no canonical JSON form; "
                    f"use numbers, strings, booleans, None, lists and dicts with string keys")


_PLAIN = (str, int, float, bool, type(None))


def canonical_json(obj):
    """The canonical JSON text of ``obj``: sorted keys, no spaces, shortest float repr."""
    if type(obj) is dict and all(type(k) is str and type(v) in _PLAIN and (type(v) is not float or math.isfinite(v))
                                 for k, v in obj.items()):
        plain = obj  # a flat dict of exact built-in types is its own canonical form (fast path for many keys)
    elif type(obj) in _PLAIN and type(obj) is not float:
        plain = obj
    else:
        plain = _canonical(obj)
    return json.dumps(plain, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _check_campaign(campaign):
    if not isinstance(campaign, str) or not _CAMPAIGN.match(campaign):
        raise ValueError(f"campaign name {campaign!r} must be letters, digits, '_', '-', '.' (not starting with '.')")
    return campaign


def _payload(campaign, params, seed, code_version):
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a dict, got {type(params).__name__}")
    payload = {"campaign": _check_campaign(campaign), "params": _canonical(params), "code_version": str(code_version)}
    if seed is not None:
        payload["seed"] = _canonical(seed, "seed")
    return payload


def key_for(campaign, params, seed=None, code_version=CODE_VERSION):
    """The 16-hex-digit key of a result: SHA-256 of the canonical JSON of campaign, params, code version (and seed,
    when given). Note that 1 and 1.0 are different parameters."""
    text = json.dumps(_payload(campaign, params, seed, code_version), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def key_for_json(campaign, params_json, seed=None, code_version=CODE_VERSION):
    """:func:`key_for` from parameters already in canonical JSON (:func:`canonical_json`), without re-encoding them:
    the same text is hashed, so the same key results (faster for many keys)."""
    text = ('{"campaign":' + json.dumps(_check_campaign(campaign), ensure_ascii=False) + ',"code_version":'
            + json.dumps(str(code_version), ensure_ascii=False) + ',"params":' + params_json
            + ("" if seed is None else ',"seed":' + canonical_json(seed)) + "}")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def paths_for(campaign, key, root="data"):
    """``(npz path, json sidecar path)`` of a key."""
    folder = Path(root) / _check_campaign(campaign)
    return folder / f"{key}.npz", folder / f"{key}.json"


def is_stored(campaign, params, seed=None, root="data", code_version=CODE_VERSION):
    """Whether a complete result for these parameters is stored (its sidecar, written last, exists); reads nothing
    but the file system's directory."""
    key = key_for(campaign, params, seed=seed, code_version=code_version)
    npz_path, json_path = paths_for(campaign, key, root)
    return json_path.exists() and npz_path.exists()


class ReadLog:
    """The sidecars of the stored results used while it is active: read by :func:`cached`, by a campaign's
    :meth:`~meso_kernels.campaign.task.Resolver.load` (every loader of the book goes through one of the two), or
    computed and stored by :func:`cached`. A figure page keeps one open from its first cell to its last, so that it
    can say which results, made where and by which code, it drew (:mod:`meso_kernels.report`).

    ``paths``: the sidecar paths (absolute, each once, in the order first used). Use as a context manager, or
    :meth:`start` and :meth:`stop` (several logs may be active at once; each records every read).

    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> with ReadLog() as log:
    ...     _ = cached("demo", {"T": 0.5}, lambda: {"x": [1.0]}, root=root)
    >>> [p.name.endswith(".json") for p in log.paths]
    [True]
    """

    def __init__(self):
        self._paths = {}

    @property
    def paths(self):
        return list(self._paths)

    def start(self):
        if self not in _ACTIVE_LOGS:
            _ACTIVE_LOGS.append(self)
        return self

    def stop(self):
        if self in _ACTIVE_LOGS:
            _ACTIVE_LOGS.remove(self)
        return self

    @property
    def active(self):
        return self in _ACTIVE_LOGS

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def add(self, json_path):
        self._paths.setdefault(Path(json_path).absolute(), None)


_ACTIVE_LOGS = []


def note_read(json_path):
    """Tell the active :class:`ReadLog` objects that the result of this sidecar was used."""
    for log in _ACTIVE_LOGS:
        log.add(json_path)


def _load(npz_path, json_path, payload):
    """The stored arrays if both files are there, readable and the sidecar records the same payload; else None."""
    if not (npz_path.exists() and json_path.exists()):
        return None
    try:
        meta = json.loads(json_path.read_text(encoding="utf-8"))
        stored = {k: meta.get(k) for k in ("campaign", "params", "code_version")}
        if "seed" in payload:
            stored["seed"] = meta.get("seed")
        if canonical_json(stored) != canonical_json(payload):
            warnings.warn(f"{json_path} does not record the parameters of its key; recomputing", stacklevel=3)
            return None
        arrays = load_npz(npz_path)
        note_read(json_path)
        return arrays
    except (OSError, ValueError, TypeError) as exc:
        warnings.warn(f"cannot read stored result {npz_path} ({exc}); recomputing", stacklevel=3)
        return None


def cached(campaign, params, compute, seed=None, root="data", code_version=CODE_VERSION, backend="cpu", extra=None,
           device=None):
    """Return the stored result of ``compute`` for these parameters, computing and storing it if needed.

    campaign: folder name under ``root``. params: JSON-able dict (what the result depends on besides the seed).
    compute: a callable with no arguments returning a dict of arrays (name -> array-like of numbers/strings).
    Returns a dict of numpy arrays, the same on the first and on later calls. The sidecar ``<key>.json`` holds the
    provenance (:func:`meso_kernels.io.provenance`), the key, the wall time of ``compute``, the arrays' shapes and
    the entries of ``extra`` (a dict, e.g. the number of threads).

    backend, device: where ``compute`` ran, for the sidecar only (never part of the key: the same result is found
    whichever backend made it); ``device`` defaults to :func:`meso_kernels.cuda.device_name` for ``"cuda"``. Where
    that is known only once ``compute`` has run, ``compute`` may put ``"backend"`` and ``"device"`` into ``extra``
    (read after it returns), and those win (what the campaign's ``execute`` does)."""
    if not callable(compute):
        raise TypeError(f"compute must be a callable returning a dict of arrays, got {type(compute).__name__}")
    payload = _payload(campaign, params, seed, code_version)
    key = key_for(campaign, params, seed=seed, code_version=code_version)
    npz_path, json_path = paths_for(campaign, key, root)
    stored = _load(npz_path, json_path, payload)
    if stored is not None:
        return stored

    t0 = time.perf_counter()
    result = compute()
    wall = time.perf_counter() - t0
    if not isinstance(result, Mapping):
        raise TypeError(f"compute() for campaign {campaign!r} returned {type(result).__name__}; "
                        f"it must return a dict of arrays")
    arrays = _as_arrays(dict(result), what=f"compute() for campaign {campaign!r}")
    save_npz(npz_path, **arrays)
    extra = dict(extra or {})
    backend = extra.pop("backend", backend)
    device = extra.pop("device", device)
    if backend == "cuda" and device is None:
        from .cuda import device_name
        device = device_name()
    record = provenance(payload["params"], payload.get("seed"), backend=backend, device=device, wall_time=wall,
                        campaign=campaign, key=key, code_version=payload["code_version"],
                        arrays={k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in arrays.items()},
                        **extra)
    write_json(json_path, record)
    note_read(json_path)
    return arrays


REPO_ROOT = Path(__file__).resolve().parents[1]


def data_root(size):
    """Where results of a run size live: ``<repo>/data`` for ``default`` and ``paper`` (committed, with provenance),
    ``<repo>/build/ci-data`` for ``ci`` (never committed, so that a fresh clone computes ``ci`` from scratch)."""
    from .presets import check_size
    check_size(size)
    return REPO_ROOT / "build" / "ci-data" if size == "ci" else REPO_ROOT / "data"
