#!/usr/bin/env python3
"""(Re)make the small bundled example glasses in data/examples/ (meso_kernels.examples): each a GSD file with a JSON
sidecar (recipe, quench result, provenance).

    NUMBA_NUM_THREADS=1 python scripts/make_examples.py              # all of them (one thread: see below)
    NUMBA_NUM_THREADS=1 python scripts/make_examples.py ipl2d_N400   # one

Seeded and fixed: the same files bit for bit on the same machine with the same numba thread count; another CPU
gives another glass of the same kind (see meso_kernels/examples.py).
"""
import argparse
import sys

from meso_kernels.examples import EXAMPLE_DIR, EXAMPLES, write_example


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="*", help=f"examples to make (default: all: {', '.join(sorted(EXAMPLES))})")
    args = ap.parse_args(argv)
    names = args.names or sorted(EXAMPLES)
    unknown = [n for n in names if n not in EXAMPLES]
    if unknown:
        ap.error(f"unknown example(s) {', '.join(unknown)}; allowed: {', '.join(sorted(EXAMPLES))}")
    for name in names:
        path = write_example(name, EXAMPLE_DIR)
        print(f"wrote {path} ({path.stat().st_size / 1024:.0f} kB) and {path.with_suffix('.json').name}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
