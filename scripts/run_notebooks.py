#!/usr/bin/env python3
"""Execute the figure notebooks: Jupytext ``.py`` -> ``build/ipynb/<name>.ipynb`` -> papermill -> ``book/executed/``.

    python scripts/run_notebooks.py --size ci                  # every notebooks/*.py (figures, your_glass)
    python scripts/run_notebooks.py fig12_gr_potentials --size default -p seed 3 --timeout 3600

Every notebook must have a cell tagged ``parameters`` that defines ``size``; passing a parameter the notebook does not
define is an error (papermill itself would only warn). Notebooks run with the repository root as working directory.
The executed notebook replaces ``book/executed/<name>.ipynb`` only when the run succeeded (written to a temporary
file, then renamed); a failed run leaves its partial notebook, with the traceback, in ``build/failed/<name>.ipynb``.
All notebooks are tried; the exit code is 1 if any failed. The book itself is built by the shell scripts in scripts/.
"""
import argparse
import ast
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

from meso_kernels.presets import SIZE_NAMES

REPO = Path(__file__).resolve().parent.parent
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
#: pages that run after all others, in this order: they read the results the figure pages record
RUN_LAST = ("claims",)


class NotebookError(Exception):
    """A notebook that cannot be run as asked (missing, no parameters cell, unknown parameter)."""


def parse_value(text):
    """Command-line text to a Python value, as papermill's ``-p`` does: True/False/None, int, float, else str; and a
    Python literal for text that opens a list, dict or tuple (``-p models '["ipl", "mblj"]'``,
    ``-p temperatures '{"sw": [0.025, 0.023]}'``), since several pages take those."""
    if text[:1] in ("[", "{", "("):
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError) as exc:
            raise NotebookError(f"-p value {text!r} opens a list, dict or tuple but is not a Python literal "
                                f"({type(exc).__name__}: {exc}); quote it for the shell, e.g. '[\"ipl\", \"mblj\"]'") \
                from None
    if text in ("True", "False", "None"):
        return {"True": True, "False": False, "None": None}[text]
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def find_notebooks(names, notebooks_dir):
    """Paths of the notebooks to run: every ``*.py`` in ``notebooks_dir`` (the figure pages ``fig*.py`` and the other
    pages, e.g. ``your_glass.py``), or the given names/paths; in :func:`run_order` (``claims`` last)."""
    notebooks_dir = Path(notebooks_dir)
    if not names:
        return run_order(sorted(notebooks_dir.glob("*.py")))
    paths = []
    for name in names:
        path = Path(name)
        candidates = [path, notebooks_dir / path, notebooks_dir / f"{path.name}.py"]
        for cand in candidates:
            if cand.suffix == ".py" and cand.is_file():
                paths.append(cand)
                break
        else:
            raise NotebookError(f"notebook {name!r} not found (looked for "
                                f"{', '.join(str(c) for c in candidates)})")
    return run_order(paths)


def run_order(paths):
    """``paths`` in the order they run: as given, except that the pages of :data:`RUN_LAST` (which read what the
    others wrote: the claims page reads every figure page's records) come last, in that order (a stable sort)."""
    return sorted(paths, key=lambda p: RUN_LAST.index(Path(p).stem) if Path(p).stem in RUN_LAST else -1)


def to_ipynb(py_path, ipynb_dir):
    """Convert a Jupytext notebook to ``ipynb_dir/<name>.ipynb`` with the python3 kernel set; return its path."""
    import jupytext

    from meso_kernels.io import atomic_write_text

    nb = jupytext.read(py_path)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata.setdefault("language_info", {"name": "python"})
    out = Path(ipynb_dir) / f"{Path(py_path).stem}.ipynb"
    atomic_write_text(out, jupytext.writes(nb, fmt="ipynb"))
    return out


def check_parameters(ipynb_path, parameters):
    """Refuse parameters that the notebook's ``parameters`` cell does not define (papermill only warns)."""
    import papermill

    name = Path(ipynb_path).stem
    declared = papermill.inspect_notebook(str(ipynb_path))
    if not declared:
        raise NotebookError(f"{name}: no cell tagged 'parameters' defining any name; it cannot take "
                            f"{', '.join(sorted(parameters))}")
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise NotebookError(f"{name}: unknown parameter{'s' if len(unknown) > 1 else ''} "
                            f"{', '.join(repr(u) for u in unknown)}; the notebook's parameters cell defines: "
                            f"{', '.join(sorted(declared))}")
    return declared


def _hide_injected_cell(nb):
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")


def execute(ipynb_path, out_path, parameters, timeout, cwd, failed_dir):
    """Run one notebook with papermill; on success replace ``out_path`` atomically, on failure keep the partial
    notebook in ``failed_dir``. Raises on failure."""
    import nbformat
    import papermill

    from meso_kernels.io import atomic_write_text

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_path.parent, prefix=f".{out_path.stem}.", suffix=".tmp.ipynb")
    os.close(fd)
    tmp = Path(tmp)
    # The kernel inherits our environment: MPLBACKEND=Agg (set for scripts and tests) would make plt.show() draw
    # nothing into the notebook, so the kernel gets the inline backend.
    saved_backend = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = INLINE_BACKEND
    try:
        try:
            papermill.execute_notebook(str(ipynb_path), str(tmp), parameters=parameters, kernel_name="python3",
                                       execution_timeout=timeout, cwd=str(cwd), progress_bar=False,
                                       log_output=False)
        except BaseException:
            if tmp.exists() and tmp.stat().st_size > 0:
                failed = Path(failed_dir) / out_path.name
                failed.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, failed)
            raise
        nb = nbformat.read(tmp, as_version=4)
        _hide_injected_cell(nb)
        atomic_write_text(out_path, nbformat.writes(nb))
    finally:
        if saved_backend is None:
            os.environ.pop("MPLBACKEND", None)
        else:
            os.environ["MPLBACKEND"] = saved_backend
        if tmp.exists():
            tmp.unlink()


def _toc_files(toc_path):
    """Every ``file:`` entry of a Jupyter Book ``_toc.yml`` (without suffix)."""
    import yaml

    files = set()

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("file", "root") and isinstance(value, str):
                    files.add(str(Path(value).with_suffix("")) if Path(value).suffix in (".md", ".ipynb")
                              else value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(yaml.safe_load(Path(toc_path).read_text(encoding="utf-8")))
    return files


def toc_problems(names, out_dir, toc_path):
    """``{name: message}`` for executed notebooks the book would not show: inside ``_build/``, or not listed in
    ``_toc.yml`` (with ``only_build_toc_files: true`` Sphinx skips them silently). Executed notebooks written outside
    the book root (scratch runs, tests) are not checked."""
    toc_path = Path(toc_path)
    book_root = toc_path.resolve().parent
    out_dir = Path(out_dir).resolve()
    try:
        rel_dir = out_dir.relative_to(book_root)
    except ValueError:
        return {}  # executed elsewhere on purpose (tests, scratch runs): not part of this book
    if rel_dir.parts and rel_dir.parts[0] == "_build":
        return {"--out-dir": f"executed notebooks would go to {out_dir}, inside _build/, where the book cannot use "
                             f"them; pick another --out-dir"}
    if not toc_path.exists():
        return {toc_path.name: f"{toc_path} does not exist"}
    listed = _toc_files(toc_path)
    return {name: f"{name}: {(rel_dir / name).as_posix()} is not listed in {toc_path.name}; add "
                  f"'- file: {(rel_dir / name).as_posix()}' to it or the book will not show this notebook"
            for name in names if (rel_dir / name).as_posix() not in listed}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("notebooks", nargs="*", help="notebook names or paths (default: every notebooks/*.py)")
    ap.add_argument("--size", choices=SIZE_NAMES, default="ci", help="run size passed as parameter 'size'")
    ap.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                    help="extra parameter (repeatable); the notebook must define NAME in its parameters cell. "
                         "VALUE: True/False/None, a number, a Python list/dict/tuple literal, else a string")
    ap.add_argument("--timeout", type=float, default=1800.0, help="per-cell execution timeout in s (default 1800)")
    ap.add_argument("--notebooks-dir", type=Path, default=REPO / "notebooks")
    ap.add_argument("--ipynb-dir", type=Path, default=REPO / "build" / "ipynb")
    ap.add_argument("--out-dir", type=Path, default=REPO / "book" / "executed")
    ap.add_argument("--failed-dir", type=Path, default=REPO / "build" / "failed")
    ap.add_argument("--toc", type=Path, default=REPO / "_toc.yml", help="checked to list every executed notebook")
    ap.add_argument("--cwd", type=Path, default=REPO, help="working directory of the notebooks (default: repo root)")
    args = ap.parse_args(argv)
    if args.timeout <= 0:
        ap.error("--timeout must be positive")

    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    parameters = {"size": args.size}
    for name, value in args.parameter:
        if name == "size":
            ap.error("give the size with --size, not -p size")
        try:
            parameters[name] = parse_value(value)
        except NotebookError as exc:
            ap.error(f"-p {name}: {exc}")

    try:
        notebooks = find_notebooks(args.notebooks, args.notebooks_dir)
    except NotebookError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 2
    if not notebooks:
        print(f"no notebooks (*.py) in {args.notebooks_dir}; nothing to run")
        return 0

    failures = toc_problems([p.stem for p in notebooks], args.out_dir, args.toc)
    for problem in failures.values():
        print(f"ERROR: {problem}", file=sys.stderr)

    times = {}
    shown = ", ".join(f"{k}={v!r}" for k, v in parameters.items())
    print(f"running {len(notebooks)} notebook(s) with {shown}, cell timeout {args.timeout:g} s", flush=True)
    for py in notebooks:
        name = py.stem
        partial = args.failed_dir / f"{name}.ipynb"
        if partial.exists():
            partial.unlink()  # from an earlier run: never report a stale one
        t0 = time.perf_counter()
        try:
            ipynb = to_ipynb(py, args.ipynb_dir)
            check_parameters(ipynb, parameters)
            execute(ipynb, args.out_dir / f"{name}.ipynb", parameters, args.timeout, args.cwd, args.failed_dir)
        except Exception as exc:  # report, go on with the next notebook
            times[name] = time.perf_counter() - t0
            msg = str(exc).strip().splitlines()
            short = "\n    ".join(msg[-12:]) if msg else type(exc).__name__
            failures[name] = f"{failures[name]}; {short}" if name in failures else short
            print(f"FAILED {name} after {times[name]:.1f} s ({type(exc).__name__}):\n    {short}", file=sys.stderr,
                  flush=True)
            if partial.exists():
                print(f"    partial notebook: {partial}", file=sys.stderr)
            continue
        times[name] = time.perf_counter() - t0
        print(f"ok     {name}  {times[name]:8.1f} s  -> {args.out_dir / (name + '.ipynb')}", flush=True)

    print("\nwall time per notebook:")
    for name, seconds in times.items():
        print(f"  {name:40s} {seconds:8.1f} s  {'FAILED' if name in failures else 'ok'}")
    print(f"  {'total':40s} {sum(times.values()):8.1f} s")
    if failures:
        print(f"\n{len(failures)} problem(s): {', '.join(failures)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
