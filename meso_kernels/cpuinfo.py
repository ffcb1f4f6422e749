"""What the CPU and the compilers made of it: the facts that decide roundoff, recorded in every provenance sidecar.

Results are bit-identical for a seed on one machine with one build, but numpy picks SIMD kernels by CPU at run time
(and obeys ``NPY_DISABLE_CPU_FEATURES``) and numba compiles for the host CPU (or ``NUMBA_CPU_NAME``), so a chaotic
trajectory on another CPU drifts apart from ours: positions differ by 1e-6 after about 1000 and by 0.1 after about
2000 MD steps at N = 1000 (``benchmarks/README.md``, "Determinism across CPUs"). :func:`cpu_record` says which case
a stored result was made in.

>>> rec = cpu_record()
>>> sorted(rec)
['isa_level', 'model', 'numba_cpu_features', 'numba_target', 'numpy_simd']
>>> rec["isa_level"] in ("x86-64", "x86-64-v2", "x86-64-v3", "x86-64-v4", "unknown")
True
"""
import functools
import platform

#: The x86-64 micro-architecture levels (psABI) and the /proc/cpuinfo flags each adds to the one before.
ISA_LEVELS = (
    ("x86-64-v2", ("cx16", "lahf_lm", "popcnt", "pni", "sse4_1", "sse4_2", "ssse3")),
    ("x86-64-v3", ("avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave")),
    ("x86-64-v4", ("avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl")),
)


def _cpuinfo_text():
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return ""


def _field(text, name):
    for line in text.splitlines():
        if line.split(":", 1)[0].strip() == name:
            return line.split(":", 1)[1].strip()
    return None


def isa_level(flags):
    """The highest x86-64 level (``"x86-64"``, ``"x86-64-v2"``, ``"-v3"``, ``"-v4"``) whose flags are all in
    ``flags`` (an iterable of /proc/cpuinfo flag names), or ``"unknown"`` when no flags are given.

    >>> isa_level(["avx512f"])                      # v4 needs v2 and v3 first
    'x86-64'
    >>> isa_level("cx16 lahf_lm popcnt pni sse4_1 sse4_2 ssse3 avx avx2 bmi1 bmi2 f16c fma abm movbe xsave".split())
    'x86-64-v3'
    """
    flags = set(flags)
    if not flags:
        return "unknown"
    level = "x86-64"
    for name, needed in ISA_LEVELS:
        if not set(needed) <= flags:
            break
        level = name
    return level


@functools.lru_cache(maxsize=1)
def cpu_record():
    """A JSON-able dict: ``model`` (the CPU's name), ``isa_level`` (:func:`isa_level` of its flags; on other
    architectures ``platform.machine()``), ``numba_target`` (the CPU numba compiles for: ``NUMBA_CPU_NAME`` or the
    host's LLVM name), ``numba_cpu_features`` (numba's feature string: ``""`` for a generic target, ``"host"`` for
    the host's) and ``numpy_simd`` (numpy's baseline SIMD extensions, then the dispatch targets it uses here after
    ``NPY_DISABLE_CPU_FEATURES``)."""
    text = _cpuinfo_text()
    model = _field(text, "model name") or platform.processor() or platform.machine() or "unknown"
    flags = (_field(text, "flags") or "").split()
    machine = platform.machine()
    level = isa_level(flags) if machine in ("x86_64", "AMD64") else (machine or "unknown")
    try:
        import numba
        target = numba.config.CPU_NAME or "host"
        features = numba.config.CPU_FEATURES
        features = "host" if features is None else features
        if target == "host":
            import llvmlite.binding as llvm
            target = f"host ({llvm.get_host_cpu_name()})"
    except Exception:                       # numba missing or broken: still record the rest
        target, features = "unknown", "unknown"
    try:
        from numpy._core import _multiarray_umath as mu
        simd = list(mu.__cpu_baseline__) + [f for f in mu.__cpu_dispatch__ if mu.__cpu_features__.get(f)]
    except (ImportError, AttributeError):
        simd = []
    return {"model": model, "isa_level": level, "numba_target": target,
            "numba_cpu_features": features, "numpy_simd": simd}
