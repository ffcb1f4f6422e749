"""``meso campaign``: bad input is refused in one line with exit status 2 and changes nothing; run, status and plan
work end to end at the ci size."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from meso_kernels.cli import main

MESO = [sys.executable, "-m", "meso_kernels.cli"]


def listing(folder):
    return sorted((p.relative_to(folder).as_posix(), p.stat().st_mtime_ns) for p in Path(folder).rglob("*"))


@pytest.mark.parametrize("args, message", [
    (["status", "--size", "huge"], "argument --size: unknown size 'huge'; allowed sizes: ci, default, paper"),
    (["status", "--figures", "3,8"],
     "argument --figures: unknown figure '8'; figures with a task set: 2, 3, 4, 5, 6, 7, 9"),
    (["plan", "--models", "ipl,lj"], "argument --models: unknown model key 'lj'; allowed: ipl, mblj, ss0.6"),
    (["run", "--size", "ci", "--workers", "0"], "argument --workers: must be a positive integer, got '0'"),
    (["run", "--size", "ci", "--serial", "--workers", "2"], "argument --serial: cannot be combined"),
])
def test_bad_input_is_one_line_with_status_2(args, message, capsys, tmp_path):
    rc = main(["campaign", *args, "--data", str(tmp_path / "d"), "--scratch", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "d").exists() and not (tmp_path / "s").exists()


def test_unwritable_checkpoints_folder(capsys, tmp_path):
    """--checkpoints under a regular file: one line naming --checkpoints, status 2, and no folder left behind."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    rc = main(["campaign", "run", "--size", "ci", "--figures", "9", "--serial", "--data", str(tmp_path / "d"),
               "--scratch", str(tmp_path / "s"), "--checkpoints", str(blocker / "sub")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1, err
    assert f"the checkpoints folder '{blocker / 'sub'}' is not writable" in err and "--checkpoints" in err, err
    assert not (tmp_path / "d").exists() and not (tmp_path / "s").exists()


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_status_lists_checkpoints(how, capsys, tmp_path, monkeypatch):
    """``status`` ends with one line naming the checkpoints in the checkpoints folder (--checkpoints, else
    MESO_CHECKPOINT_DIR): kind, key, phase, step and wall time so far."""
    from meso_kernels.campaign.checkpoint import Checkpoint
    from meso_kernels.campaign.task import ENV_CHECKPOINT_DIR
    ckpts = tmp_path / "ckpts"
    ck = Checkpoint(ckpts / "dynamics" / "0123456789abcdef.npz", key="0123456789abcdef", every_steps=1)
    assert ck.save({"x": [0.0] * 10}, step=1200, wall_time_s=7200.0, phase="production")
    common = ["campaign", "status", "--size", "ci", "--figures", "9", "--models", "sw", "--data", str(tmp_path / "d"),
              "--scratch", str(tmp_path / "s")]
    monkeypatch.delenv(ENV_CHECKPOINT_DIR, raising=False)
    assert main(common) == 0
    assert "checkpoints in" not in capsys.readouterr().out  # none under scratch
    if how == "argument":
        monkeypatch.setenv(ENV_CHECKPOINT_DIR, str(tmp_path / "elsewhere"))  # the argument wins
        assert main([*common, "--checkpoints", str(ckpts)]) == 0
    else:
        monkeypatch.setenv(ENV_CHECKPOINT_DIR, str(ckpts))
        assert main(common) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith(f", checkpoints {ckpts}"), lines[0]
    assert lines[-1] == f"checkpoints in {ckpts}: 1: liquid 0123456789abcdef (production, step 1200, 2.00 h so far)"
    assert lines[-2].startswith("missing work in all:")


def test_unreachable_scheduler(tmp_path):
    out = subprocess.run(MESO + ["campaign", "run", "--size", "ci", "--figures", "9", "--scheduler",
                                 "tcp://127.0.0.1:9", "--data", str(tmp_path / "d"), "--scratch", str(tmp_path / "s")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert "cannot reach the Dask scheduler at --scheduler 'tcp://127.0.0.1:9'" in out.stderr
    assert not list((tmp_path / "d").rglob("*.npz"))


def _read_only(folder, command):
    """``command`` run with ``folder`` read-only: by permissions for an ordinary user; for root (whom permissions do
    not stop) on a read-only bind mount in a private mount namespace."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return command
    import shlex
    import shutil
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True) if shutil.which("unshare") else None
    if probe is None or probe.returncode != 0:
        pytest.skip("running as root without mount namespaces: no way to make a folder read-only for root")
    q = shlex.quote(str(folder))
    return ["unshare", "-m", "sh", "-c", f"mount --bind -o ro {q} {q} && exec {shlex.join(command)}"]


def test_read_only_data_folder(tmp_path):
    data = tmp_path / "data"
    (data / "dynamics").mkdir(parents=True)
    (data / "dynamics" / "keep.json").write_text("{}")
    before = listing(data)
    command = _read_only(data, MESO + ["campaign", "run", "--size", "ci", "--figures", "9", "--serial", "--data",
                                       str(data), "--scratch", str(tmp_path / "scratch")])
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=120)
    finally:
        data.chmod(0o755)
    assert out.returncode == 2, out.stderr
    assert out.stderr.count("\n") == 1 and f"the data folder '{data}' is not writable" in out.stderr, out.stderr
    assert listing(data) == before and not (tmp_path / "scratch").exists()


@pytest.mark.slow
def test_run_then_status_at_ci_size(tmp_path):
    common = ["--size", "ci", "--figures", "9", "--models", "sw", "--data", str(tmp_path / "d"),
              "--scratch", str(tmp_path / "s")]
    env = dict(os.environ, NUMBA_NUM_THREADS="1")
    out = subprocess.run(MESO + ["campaign", "run", "--workers", "2", *common], capture_output=True, text=True,
                         timeout=600, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "dashboard http://127.0.0.1:" in out.stdout and "campaign tasks" in out.stderr  # tqdm bar over tasks
    assert "round 1: 3 tasks to compute" in out.stdout and "done: 3 tasks computed" in out.stdout
    status = subprocess.run(MESO + ["campaign", "status", *common], capture_output=True, text=True, timeout=120)
    row = next(line.split() for line in status.stdout.splitlines() if line.split()[:2] == ["9", "liquid"])
    assert row[2:4] == ["3", "0"], status.stdout
    again = subprocess.run(MESO + ["campaign", "run", "--serial", *common], capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0 and "done: 0 tasks computed" in again.stdout
