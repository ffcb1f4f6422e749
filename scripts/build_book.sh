#!/usr/bin/env bash
# Build the book into _build/html: execute every figure notebook (default size) and run jupyter-book with -W.
#
#   bash scripts/build_book.sh                      # all notebooks at the default size
#   bash scripts/build_book.sh --size ci            # quick, from scratch
#   bash scripts/build_book.sh fig12_gr_potentials  # one notebook (the others keep their last executed version)
#
# Arguments go to scripts/run_notebooks.py (see its --help). Creates .venv and installs the package when needed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"

extra=(--size default)
for arg in "$@"; do
    case "$arg" in --size|--size=*) extra=() ;; esac
done

status=0
# a default-size page computes its data when data/ lacks it (Fig. 12: ~20 min on 2 cores): allow hours per cell
python scripts/run_notebooks.py --timeout 14400 "${extra[@]}" "$@" || status=$?
if [ "$status" -ne 0 ]; then
    echo "[build_book] some notebooks failed (see above); building the book with what is in book/executed/" >&2
fi
jupyter-book build . --all -W -n --keep-going || status=$?
if [ "$status" -eq 0 ]; then
    echo "[build_book] done: open _build/html/index.html"
fi
exit "$status"
