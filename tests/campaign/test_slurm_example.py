"""scripts/campaign_slurm.py, the SLURM example (no SLURM here): its options, its one-line errors, and the job
script that --dry-run prints without submitting or writing anything."""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("dask_jobqueue")

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "campaign_slurm.py"


@pytest.fixture(scope="module")
def slurm():
    spec = importlib.util.spec_from_file_location("campaign_slurm_example", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_defaults(slurm):
    from meso_kernels.campaign import FIGURES
    args = slurm.parse_args([])
    assert args.size == "default" and args.figures == list(FIGURES) and args.models is None
    assert (args.cores, args.jobs, args.memory, args.walltime, args.walltime_s) == (32, 1, "64GB", "24:00:00", 86400)
    assert not args.tls and not args.dry_run and args.sbatch == []
    args = slurm.parse_args(["--figures", "fig03,5", "--cores", "4", "--size", "ci", "--models", "ipl"])
    assert args.figures == ["3", "5"] and args.memory == "8GB" and args.models == ["ipl"]


@pytest.mark.parametrize("argv, name", [
    (["--size", "huge"], "--size"),
    (["--figures", "3,8"], "--figures"),
    (["--models", "lj"], "--models"),
    (["--cores", "0"], "--cores"),
    (["--jobs", "-1"], "--jobs"),
    (["--memory", "lots"], "--memory"),
    (["--walltime", "1 day"], "--walltime"),
    (["--venv", "/nonexistent/venv"], "--venv"),
    (["--backend", "gpu"], "--backend"),
])
def test_bad_value_exits_2_with_one_line(slurm, capsys, argv, name):
    with pytest.raises(SystemExit) as exc:
        slurm.parse_args(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("campaign_slurm.py: error: argument " + name), err
    assert argv[1].split(",")[-1].lstrip("-") in err


@pytest.mark.parametrize("text, seconds", [("30", 1800), ("30:15", 1815), ("24:00:00", 86400), ("2-00", 172800),
                                           ("1-02:03", 93780), ("1-02:03:04", 93784)])
def test_walltime_formats(slurm, text, seconds):
    assert slurm.walltime_seconds(text) == seconds


def test_dry_run_prints_job_script_and_touches_nothing(tmp_path):
    data, scratch = tmp_path / "data", tmp_path / "scratch"
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba-cache"))
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--dry-run", "--queue", "compute", "--account", "proj", "--cores", "4",
         "--jobs", "3", "--walltime", "02:00:00", "--size", "ci", "--figures", "3", "--interface", "lo",
         "--sbatch=--qos=long", "--data", str(data), "--scratch", str(scratch), "--backend", "cuda"],
        capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    for line in ("#SBATCH -p compute", "#SBATCH -A proj", "#SBATCH --cpus-per-task=4", "#SBATCH -t 02:00:00",
                 "#SBATCH --qos=long", f"#SBATCH -e {scratch / 'slurm-logs'}"):
        assert line in text, line
    worker = next(line for line in text.splitlines() if "distributed.cli.dask_worker" in line)
    # one single-threaded worker process per core, retiring 10 minutes before the walltime
    assert "--nthreads 1" in worker and "--nworkers 4" in worker and "--lifetime 6600s" in worker
    assert "export NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1" in text
    assert f"export NUMBA_CACHE_DIR={tmp_path / 'numba-cache'}" in text
    assert f"source {Path(sys.prefix) / 'bin' / 'activate'}" in text or sys.prefix == sys.base_prefix
    assert text.index("NUMBA_NUM_THREADS=1") < text.index("distributed.cli.dask_worker")
    assert f"meso campaign run --size ci --figures 3 --data {data} --scratch {scratch}" in text
    # --backend cuda needs no GPU here (the workers' GPUs are checked once they run) and reaches the campaign call
    assert "backend='cuda')" in text and text.rstrip().endswith("--backend cuda")
    assert not data.exists() and not scratch.exists() and not (tmp_path / "numba-cache").exists()


def test_checkpoints_folder_reaches_the_store_and_the_campaign_call(slurm, tmp_path, monkeypatch):
    monkeypatch.delenv("MESO_CHECKPOINT_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    args = slurm.parse_args(["--size", "ci", "--figures", "3", "--checkpoints", "ckpts"])
    store = slurm.store_of(args)
    assert store.checkpoints == store.checkpoint_folder == tmp_path / "ckpts"
    py, cli = slurm.campaign_call(args, store)
    assert f"checkpoints={str(tmp_path / 'ckpts')!r})" in py and f"--checkpoints {tmp_path / 'ckpts'}" in cli
    plain = slurm.store_of(slurm.parse_args(["--size", "ci"]))
    py, cli = slurm.campaign_call(args, plain)
    assert plain.checkpoints is None and "checkpoints=" not in py and "--checkpoints" not in cli


def test_tls_without_cryptography_is_a_clear_error(slurm, capsys, tmp_path):
    try:
        import cryptography  # noqa: F401
        pytest.skip("cryptography is installed: --tls works")
    except ImportError:
        pass
    assert slurm.main(["--dry-run", "--tls", "--interface", "lo", "--scratch", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "argument --tls" in err and "cryptography" in err
