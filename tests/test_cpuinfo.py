"""The CPU record in provenance sidecars (meso_kernels.cpuinfo)."""
import json
import os
import subprocess
import sys

import pytest

from meso_kernels import cpuinfo, io

V2 = "cx16 lahf_lm popcnt pni sse4_1 sse4_2 ssse3".split()
V3 = "avx avx2 bmi1 bmi2 f16c fma abm movbe xsave".split()
V4 = "avx512f avx512bw avx512cd avx512dq avx512vl".split()


@pytest.mark.parametrize("flags, level", [
    ([], "unknown"),
    (["fpu", "sse", "sse2"], "x86-64"),
    (V2, "x86-64-v2"),
    (V2 + V3[:-1], "x86-64-v2"),            # one v3 flag missing
    (V2 + V3, "x86-64-v3"),
    (V2 + V3 + V4, "x86-64-v4"),
    (V2 + V4, "x86-64-v2"),                 # AVX-512 without AVX2 is not v4
])
def test_isa_level(flags, level):
    assert cpuinfo.isa_level(flags) == level


def test_cpu_record_in_provenance():
    rec = cpuinfo.cpu_record()
    assert isinstance(rec["model"], str) and rec["model"]
    assert rec["numba_target"] != "unknown"
    assert json.loads(json.dumps(rec)) == rec
    assert io.provenance({}, seed=0)["cpu"] == rec


def test_cpu_record_follows_the_compile_target():
    """The record says what numba compiles for and which numpy SIMD targets are on, as set by the environment."""
    env = dict(os.environ, NUMBA_CPU_NAME="generic", NPY_DISABLE_CPU_FEATURES="X86_V3 X86_V4 AVX512_ICL AVX512_SPR")
    env.pop("NUMBA_CPU_FEATURES", None)
    out = subprocess.run([sys.executable, "-c", "import json; from meso_kernels.cpuinfo import cpu_record; "
                          "print(json.dumps(cpu_record()))"], env=env, capture_output=True, text=True, check=True)
    rec = json.loads(out.stdout.strip().splitlines()[-1])
    assert rec["numba_target"] == "generic" and rec["numba_cpu_features"] == ""
    assert not {"X86_V3", "X86_V4", "AVX512_ICL", "AVX512_SPR"} & set(rec["numpy_simd"])
