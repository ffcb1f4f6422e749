#!/usr/bin/env bash
# Everything CI checks: the test suite, every figure notebook executed at the ci size, and the book built with -W.
# Creates .venv and installs the package when needed. Extra arguments go to pytest.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"

failed=()
step() { printf '\n===== %s =====\n' "$*"; }

step "pytest"
pytest_args=(-q)
# CUDA kernels are tested in the simulator, which must be switched on before numba is imported: own process.
[ -d tests/cuda ] && pytest_args+=(--ignore=tests/cuda)
python -m pytest "${pytest_args[@]}" "$@" || failed+=("pytest")

if [ -d tests/cuda ]; then
    step "pytest tests/cuda (NUMBA_ENABLE_CUDASIM=1)"
    rc=0
    NUMBA_ENABLE_CUDASIM=1 python -m pytest -q tests/cuda "$@" || rc=$?
    # exit 5 = no tests collected: not a failure of the simulator suite
    [ "$rc" -eq 0 ] || [ "$rc" -eq 5 ] || failed+=("pytest tests/cuda")
fi

step "notebooks at size ci"
python scripts/run_notebooks.py --size ci || failed+=("notebooks")

step "jupyter-book build -W"
jupyter-book build . --all -W -n --keep-going || failed+=("book")

if [ "${#failed[@]}" -gt 0 ]; then
    printf '\nFAILED: %s\n' "${failed[*]}" >&2
    exit 1
fi
printf '\nall steps passed: pytest, notebooks (ci), book\n'
