# shellcheck shell=bash
# Shared set-up, sourced by scripts/build_book.sh and scripts/run_tests.sh (not run on its own).
#
# - creates .venv with `python3 -m venv` if it is missing or broken;
# - runs `pip install -e ".[book,test]"` when pyproject.toml changed since the last successful install (a hash of it
#   is kept in .venv/.mesoelastic-install-stamp);
# - exports single-threaded BLAS (a busy second core made 2-thread CG 17x slower), the Agg matplotlib backend and a
#   repository-local numba cache, and puts .venv/bin first on PATH.
# Set PYTHON to choose the interpreter that creates the venv (default: python3).

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO" || return 1

VENV="$REPO/.venv"
STAMP="$VENV/.mesoelastic-install-stamp"
PYTHON="${PYTHON:-python3}"

_log() { printf '[env] %s\n' "$*" >&2; }

_venv_ok() { [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -m pip --version >/dev/null 2>&1; }

_make_venv() {
    if ! command -v "$PYTHON" >/dev/null 2>&1; then
        _log "no '$PYTHON' on PATH: install Python >= 3.11 (or set PYTHON=/path/to/python3)"
        return 1
    fi
    if [ -e "$VENV" ]; then
        _log "removing the broken virtual environment $VENV (no working pip in it)"
        rm -rf "$VENV"
    fi
    _log "creating $VENV with $("$PYTHON" --version 2>&1)"
    if "$PYTHON" -m venv "$VENV"; then
        return 0
    fi
    rm -rf "$VENV"
    # Debian/Ubuntu ship the venv module (ensurepip) separately: install it when we are allowed to.
    if command -v apt-get >/dev/null 2>&1; then
        local pyver pkg
        pyver="$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
        for pkg in python3-venv "python${pyver}-venv"; do
            if [ "$(id -u)" = 0 ]; then
                _log "installing $pkg with apt-get"
                apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" || continue
            elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
                _log "installing $pkg with sudo apt-get"
                sudo -n apt-get update -qq && sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" \
                    || continue
            else
                _log "python's venv module is missing: run 'sudo apt-get install $pkg' and try again"
                return 1
            fi
            "$PYTHON" -m venv "$VENV" && return 0
            rm -rf "$VENV"
        done
    fi
    _log "could not create a virtual environment with $PYTHON"
    return 1
}

if ! _venv_ok; then
    _make_venv || return 1 2>/dev/null || exit 1
fi

_want="$(sha256sum "$REPO/pyproject.toml" | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$_want" ]; then
    _log "installing mesoelastic and its dependencies into .venv (pyproject.toml changed or first install)"
    if ! "$VENV/bin/python" -m pip install --disable-pip-version-check -q -e "${REPO}[book,test]"; then
        _log "pip install failed"
        return 1 2>/dev/null || exit 1
    fi
    printf '%s\n' "$_want" > "$STAMP"
fi
unset _want

export PATH="$VENV/bin:$PATH"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
export MPLBACKEND=Agg
# numba's cache is keyed by each function's own source file only: a cached kernel keeps stale copies of the functions
# it calls from other files. Key the cache folder by the whole package's source so that an edit anywhere recompiles.
_src_hash="$(find "$REPO/meso_kernels" -name '*.py' -print0 | sort -z | xargs -0 cat | sha256sum | cut -c1-16)"
export NUMBA_CACHE_DIR="$REPO/.numba_cache/$_src_hash"
find "$REPO/.numba_cache" -mindepth 1 -maxdepth 1 -type d ! -name "$_src_hash" -exec rm -rf {} + 2>/dev/null || true
unset _src_hash
