"""Input handling shared by the per-frame observables (g(r), S(q)): a frame list and the species pairs to resolve.

>>> import numpy as np
>>> from meso_kernels.system import System
>>> s = System(np.random.default_rng(0).random((10, 3)) * 5.0, [5.0] * 3, types=[0] * 9 + [1])
>>> resolve_pairs(s, "all", same_min=2), resolve_pairs(s, "all", same_min=1), resolve_pairs(s, [(1, 0), (0, 1)])
(((0, 0), (0, 1)), ((0, 0), (0, 1), (1, 1)), ((0, 1),))
"""
from ..system import System


def as_frames(systems):
    """A non-empty list of :class:`System` from one System or an iterable of them (ValueError otherwise)."""
    frames = [systems] if isinstance(systems, System) else list(systems)
    if not frames:
        raise ValueError("systems must be a System or a non-empty iterable of System, got an empty iterable")
    for k, s in enumerate(frames):
        if not isinstance(s, System):
            raise ValueError(f"systems[{k}] must be a meso_kernels.system.System, got {type(s).__name__}")
    return frames


def resolve_pairs(system, pairs, same_min=1):
    """Species pairs (a, b), a <= b, unique and in order. ``pairs="all"``: every pair of species 0..n_types-1 of
    ``system`` with N_a >= 1, N_b >= 1 and, for a = b, N_a >= ``same_min``; otherwise a list of (a, b) pairs."""
    import numpy as np
    counts = np.bincount(system.types, minlength=system.n_types)
    if isinstance(pairs, str):
        if pairs != "all":
            raise ValueError(f"pairs={pairs!r} is not allowed; allowed: 'all' or a list of (a, b) species pairs")
        n = system.n_types
        return tuple((a, b) for a in range(n) for b in range(a, n)
                     if counts[a] >= 1 and counts[b] >= (same_min if a == b else 1))
    out = []
    try:
        for p in pairs:
            a, b = (int(x) for x in p)
            out.append((min(a, b), max(a, b)))
    except (TypeError, ValueError):
        raise ValueError(f"pairs must be 'all' or a list of (a, b) integer species pairs, got {pairs!r}") from None
    if not out:
        raise ValueError("pairs is an empty list; give at least one (a, b) pair or 'all'")
    if min(min(p) for p in out) < 0:
        raise ValueError(f"species indices must be >= 0, got pairs={pairs!r}")
    return tuple(dict.fromkeys(out))  # unique, in order
