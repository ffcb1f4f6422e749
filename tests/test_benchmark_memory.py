"""benchmarks/md_memory.py without running it: the per-particle arithmetic of its table, the LAMMPS memory line it
reads, and its argument errors (the measurement itself runs LAMMPS for minutes: see benchmarks/README.md)."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load():
    spec = importlib.util.spec_from_file_location("_benchmark_md_memory", ROOT / "benchmarks" / "md_memory.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


mem = _load()


def row(system, N, lammps, ours, base=170.0):
    return dict(system=system, N=N, lammps_peak=lammps, lammps_estimate=lammps / 2, ours_peak=ours,
                ours_increment=ours - base, ours_base=base, width=50)


def test_table_marginal_bytes_per_particle():
    # LAMMPS grows by 56 MiB over 56 000 particles (1048.576 bytes each), ours by 112 MiB (twice that)
    rows = [row("ka", 8000, 30.0, 180.0), row("ka", 64000, 86.0, 292.0), row("sw", 8000, 25.0, 175.0)]
    text = mem.table(rows)
    assert "| ka | 8000–64000 | 1049 | 2097 | 2.00 |" in text
    assert "| ka | 64000 | 86.0 | 43.0 | 292.0 | 122.0 | 3.40 |" in text
    assert "| sw | 8000 |" in text and "| sw | 8000–" not in text      # one size: no marginal row


def test_lammps_memory_line():
    line = "Per MPI rank memory allocation (min/avg/max) = 3.712 | 3.712 | 3.712 Mbytes"
    assert [float(m.group(3)) for m in mem.MEM.finditer(line)] == [3.712]


@pytest.mark.parametrize("args, message", [
    (["--systems", "ka,lj"], "--systems: unknown lj; allowed: ipl, ka, mblj, sw"),
    (["--sizes", "8000,big"], "--sizes must be a comma list of positive integers"),
    (["--sizes", "50"], "--sizes must be a comma list of integers >= 100"),
    (["--steps", "0"], "--steps must be a positive integer, got 0"),
])
def test_bad_arguments(args, message):
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "md_memory.py"), *args, "--lmp", "/nonexistent"],
                         capture_output=True, text=True)
    assert out.returncode == 2 and message in out.stderr, out.stderr
