#!/usr/bin/env bash
# Everything CI checks: the test suite, every figure notebook executed at the ci size, and the book built with -W.
# Creates .venv and installs the package when needed. Extra arguments go to pytest.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"

failed=()
step() { printf '\n===== %s =====\n' "$*"; }

# Two cores are kept busy throughout; each phase pairs a multi-threaded pytest pass with a single-core job, whose
# log is printed when it ends:
#   1. the suite  +  the CUDA kernels' tests in numba's simulator (pure Python, one core);
#   2. the suite again on another instruction set  +  every notebook at the ci size (NUMBA_NUM_THREADS=1; by then the
#      numba cache is warm). Tests never write to the ci store (build/ci-data), which the notebooks fill.
# Set MESO_SKIP_SECOND_ISA=1 to leave the second pass out (e.g. when iterating on one test).
pytest_args=(-q --durations=15)
# CUDA kernels are tested in the simulator, which must be switched on before numba is imported: own process.
[ -d tests/cuda ] && pytest_args+=(--ignore=tests/cuda)

sim_pid=""
if [ -d tests/cuda ]; then
    sim_log="$(mktemp)"
    NUMBA_ENABLE_CUDASIM=1 python -m pytest -q tests/cuda "$@" >"$sim_log" 2>&1 &
    sim_pid=$!
fi
step "pytest"
python -m pytest "${pytest_args[@]}" "$@" || failed+=("pytest")

if [ -n "$sim_pid" ]; then
    step "pytest tests/cuda (NUMBA_ENABLE_CUDASIM=1; ran beside the first pass)"
    rc=0
    wait "$sim_pid" || rc=$?
    cat "$sim_log"
    # exit 5 = no tests collected: not a failure of the simulator suite
    [ "$rc" -eq 0 ] || [ "$rc" -eq 5 ] || failed+=("pytest tests/cuda")
fi

nb_log="$(mktemp)"
NUMBA_NUM_THREADS=1 python scripts/run_notebooks.py --size ci >"$nb_log" 2>&1 &
nb_pid=$!

# The same suite once more on another instruction set, so that a test that depends on the CPU (roundoff, or which
# basins a chaotic trajectory visits) fails here rather than on a user's machine:
# - numba compiles for a generic x86-64 (no AVX, no FMA: a different operation order and fusion), in its own cache;
# - numpy's run-time SIMD dispatch is switched off down to its baseline (SSE4.2 on x86-64). NumPy >= 2.4 groups its
#   dispatch targets as X86_V3 (AVX2, FMA3), X86_V4 (AVX-512 F/CD/BW/DQ/VL), AVX512_ICL and AVX512_SPR; older
#   numpy names the single features, which are listed as well (names a numpy does not know are ignored).
# (tests/cuda_ptx is left out there: PTX does not depend on the host CPU.)
NPY_OTHER_ISA_OFF="X86_V3 X86_V4 AVX512_ICL AVX512_SPR AVX2 FMA3 AVX512F AVX512CD AVX512_KNL AVX512_KNM AVX512_SKX \
AVX512_CLX AVX512_CNL"
if [ "${MESO_SKIP_SECOND_ISA:-0}" != 1 ]; then
    step "pytest again on another instruction set (NUMBA_CPU_NAME=generic, numpy SIMD dispatch off)"
    (
        export NUMBA_CPU_NAME=generic NUMBA_CACHE_DIR="$NUMBA_CACHE_DIR/generic" \
            NPY_DISABLE_CPU_FEATURES="$NPY_OTHER_ISA_OFF"
        python -c 'from meso_kernels.cpuinfo import cpu_record as c; r = c()
print("numba target:", r["numba_target"], "| numpy SIMD:", " ".join(r["numpy_simd"]))' \
            && python -m pytest "${pytest_args[@]}" --ignore=tests/cuda_ptx "$@"
    ) || failed+=("pytest (second instruction set)")
fi

step "notebooks at size ci (ran beside the second pass)"
rc=0
wait "$nb_pid" || rc=$?
cat "$nb_log"
[ "$rc" -eq 0 ] || failed+=("notebooks")

step "jupyter-book build -W"
jupyter-book build . --all -W -n --keep-going || failed+=("book")

if [ "${#failed[@]}" -gt 0 ]; then
    printf '\nFAILED: %s\n' "${failed[*]}" >&2
    exit 1
fi
printf '\nall steps passed: pytest, notebooks (ci), book\n'
