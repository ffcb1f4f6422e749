#!/usr/bin/env python
"""Run the campaigns behind the figures on a SLURM cluster: an example to copy and adapt.

The script starts a Dask scheduler in its own process (run it on a login node inside tmux or screen, or in a small
SLURM job of its own), submits ``--jobs`` SLURM jobs through ``dask_jobqueue.SLURMCluster``, each holding one
single-threaded Dask worker process per core (numba and BLAS at one thread), and then computes what the chosen
figures need at the chosen size, exactly like ``meso campaign run``: stored results are skipped, the task sets are
declared again until nothing new appears (Fig. 5 declares its IHS trajectories once the liquids are stored), and a
run killed at any moment resumes where it stopped when started again.

    python scripts/campaign_slurm.py --dry-run --queue compute --account myproj          # prints, submits nothing
    python scripts/campaign_slurm.py --queue compute --account myproj --cores 32 --jobs 4 \\
        --size paper --figures 3,5 --scratch /shared/$USER/meso-scratch

Requirements on the cluster:

- the repository and its virtual environment on a file system the compute nodes see (the job script activates
  ``--venv``, by default the environment running this script);
- ``--data`` and ``--scratch`` (and ``--checkpoints``, if given) on a shared file system: the workers write their
  results there, and the script checks that a worker sees what it writes before the campaign starts. Where scratch
  is purged or node-local, give ``--checkpoints`` a folder that outlives the jobs: a liquid or parents task stopped
  by the walltime then continues from its last checkpoint in the next job;
- ``--walltime`` longer than the longest task (``meso campaign plan`` estimates the cost of each kind). Workers retire
  gracefully 10 minutes before the walltime (dask-worker ``--lifetime``, as dask-jobqueue's documentation advises)
  and the cluster submits replacement jobs (adaptive scaling held at ``--jobs``); a task interrupted that way runs
  again elsewhere, from its start, or from its last checkpoint for a liquid or parents task.

Security: Dask's default transport (tcp://) is unauthenticated and unencrypted: anyone who can reach the scheduler's
port on the cluster network can run code as you. ``--tls`` switches to ``tls://`` with a temporary, self-signed
certificate authority made for this run (``distributed.security.Security.temporary()``, passed as
``SLURMCluster(security=...)``, which sets ``protocol="tls://"``); the workers' certificate and key are written,
readable by you only, to ``<scratch>/dask-tls`` (which the nodes must see), and removed when the script ends. It
needs the ``cryptography`` package (``pip install cryptography``). With certificates of your own, pass
``security=Security(tls_ca_file=..., tls_scheduler_cert=..., tls_scheduler_key=..., tls_worker_cert=...,
tls_worker_key=..., tls_client_cert=..., tls_client_key=..., require_encryption=True)`` in :func:`make_cluster`
instead. The dashboard listens on 127.0.0.1 of the node running this script only (reach it with
``ssh -L 8787:localhost:8787 login-node``).

Exit status: 0 done, 1 a task failed (the others ran; rerun to retry), 2 bad input (nothing submitted).
"""
import argparse
import gc
import os
import re
import shlex
import sys
import tempfile
from pathlib import Path

PROG = "campaign_slurm.py"
#: seconds before the walltime at which workers retire, and the spread of their retirements
LIFETIME_MARGIN = 600
LIFETIME_STAGGER = 240


class ArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose usage errors are one line (``campaign_slurm.py: error: argument --x: ...``), exit 2."""

    def error(self, message):
        self.exit(2, f"{PROG}: error: {message}\n")


def default_venv():
    """The virtual environment running this script, or "" if it runs outside one."""
    if os.environ.get("VIRTUAL_ENV"):
        return os.environ["VIRTUAL_ENV"]
    return sys.prefix if sys.prefix != sys.base_prefix else ""


def build_parser():
    from meso_kernels.campaign import FIGURES
    p = ArgumentParser(
        prog=PROG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description=__doc__.split("\n\n")[0] + "\n\n" + "\n\n".join(__doc__.split("\n\n")[1:3]),
        epilog="Security: Dask's default transport is unauthenticated; use --tls on any shared network "
               "(distributed.security.Security / SLURMCluster(security=...), protocol tls://). See the module "
               "docstring for certificates of your own.")
    g = p.add_argument_group("campaign")
    g.add_argument("--size", default="default", help="run size: ci, default or paper (default: default)")
    g.add_argument("--figures", default=",".join(FIGURES),
                   help=f"comma-separated figures (default: all with a task set: {','.join(FIGURES)})")
    g.add_argument("--models", default=None, help="comma-separated model keys to restrict to (default: all)")
    g.add_argument("--data", default=None,
                   help="data folder, on a shared file system (default: data/ of the repository, or build/ci-data "
                        "for --size ci)")
    g.add_argument("--scratch", default=None,
                   help="scratch folder for raw arrays; must be on a file system every compute node sees "
                        "(default: build/campaign-scratch/SIZE in the repository)")
    g.add_argument("--checkpoints", default=None, metavar="DIR",
                   help="folder of the periodic checkpoints of long liquid and parents tasks, on a file system "
                        "every compute node sees and that outlives the jobs (default: $MESO_CHECKPOINT_DIR, else "
                        "SCRATCH/checkpoints): a task longer than --walltime continues there in the next job")
    g.add_argument("--backend", default="cpu",
                   help="cpu (default) or cuda: compute on the workers' GPUs where a step has a device route (every "
                        "worker must see a GPU: ask for them with --sbatch=--gres=gpu:1 and fewer --cores); results "
                        "are shared with the CPU backend")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    s = p.add_argument_group("SLURM jobs (one single-threaded Dask worker per core)")
    s.add_argument("--queue", default=None, help="partition (sbatch -p; default: the site's default)")
    s.add_argument("--account", default=None, help="account to charge (sbatch -A)")
    s.add_argument("--cores", type=int, default=32, help="cores per SLURM job = Dask workers per job (default 32)")
    s.add_argument("--memory", default=None,
                   help="memory per SLURM job, e.g. 64GB (default: 2GB per core); each worker gets memory/cores")
    s.add_argument("--walltime", default="24:00:00",
                   help="walltime per SLURM job, SLURM format ([D-]HH:MM:SS or MM; default 24:00:00)")
    s.add_argument("--jobs", type=int, default=1,
                   help="SLURM jobs to keep running (replaced when they reach their walltime; default 1)")
    s.add_argument("--interface", default=None,
                   help="network interface of scheduler and workers, e.g. ib0 (default: dask-jobqueue's choice)")
    s.add_argument("--venv", default=default_venv(),
                   help="virtual environment the job script activates ('' for none; default: the running one, "
                        "%(default)s)")
    s.add_argument("--sbatch", action="append", default=[], metavar="OPTION",
                   help="extra #SBATCH option, repeatable, e.g. --sbatch=--qos=long --sbatch=--constraint=avx2")
    s.add_argument("--log-directory", default=None,
                   help="folder of the workers' SLURM logs (default: SCRATCH/slurm-logs)")
    s.add_argument("--tls", action="store_true",
                   help="encrypt and authenticate all Dask traffic (tls://) with a temporary certificate "
                        "authority (Security.temporary(); needs the cryptography package)")
    s.add_argument("--dry-run", action="store_true",
                   help="print the SLURM job script and the campaign call, submit nothing, write nothing")
    return p


def walltime_seconds(text):
    """Seconds of a SLURM time limit: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS."""
    m = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", text.strip())
    if not m:
        raise ValueError(f"not a SLURM time limit: {text!r}; use [D-]HH:MM:SS, e.g. 24:00:00 or 2-00:00:00")
    days, a, b, c = m.groups()
    a, b, c = int(a), int(b or 0), int(c or 0)
    if days is not None:                          # D-HH, D-HH:MM, D-HH:MM:SS
        return int(days) * 86400 + a * 3600 + b * 60 + c
    if m.group(4) is not None:                    # HH:MM:SS
        return a * 3600 + b * 60 + c
    return a * 60 + b                             # MM or MM:SS


def parse_args(argv=None):
    """Parsed and validated options; exit 2 with a one-line message naming the argument if one is bad."""
    from dask.utils import parse_bytes

    from meso_kernels.campaign import check_figures
    from meso_kernels.presets import check_size
    from meso_kernels.statepoints import check_key
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        check_size(args.size)
    except ValueError as exc:
        parser.error(f"argument --size: {exc}")
    figures = [f for f in args.figures.split(",") if f.strip()]
    if not figures:
        parser.error("argument --figures: give at least one figure")
    try:
        args.figures = check_figures(figures)
    except ValueError as exc:
        parser.error(f"argument --figures: {exc}")
    if args.models is not None:
        try:
            args.models = [check_key(k.strip()) for k in args.models.split(",") if k.strip()]
        except ValueError as exc:
            parser.error(f"argument --models: {exc}")
        if not args.models:
            parser.error("argument --models: give at least one model key")
    from meso_kernels.campaign.execution import check_name
    try:                # this process need not see a GPU: the workers' GPUs are checked once they have started
        check_name(args.backend)
    except ValueError as exc:
        parser.error(f"argument --backend: {exc}")
    for name in ("cores", "jobs"):
        if getattr(args, name) < 1:
            parser.error(f"argument --{name}: must be a positive integer, got {getattr(args, name)}")
    if args.memory is None:
        args.memory = f"{2 * args.cores}GB"
    try:
        if parse_bytes(args.memory) < args.cores * 2 ** 27:
            raise ValueError(f"{args.memory!r} is less than 128 MiB per worker")
    except ValueError as exc:
        parser.error(f"argument --memory: {str(exc).splitlines()[0]}")
    try:
        args.walltime_s = walltime_seconds(args.walltime)
    except ValueError as exc:
        parser.error(f"argument --walltime: {exc}")
    if args.walltime_s < 60:
        parser.error(f"argument --walltime: {args.walltime!r} is less than a minute")
    if args.venv and not (Path(args.venv) / "bin" / "activate").is_file():
        parser.error(f"argument --venv: {args.venv!r} has no bin/activate")
    return args


def store_of(args):
    """The campaign store, with absolute paths (the workers do not run in this process's folder)."""
    from meso_kernels.campaign import Store
    store = Store.for_size(args.size, data=args.data, scratch=args.scratch, checkpoints=args.checkpoints)
    checkpoints = None if store.checkpoints is None else Path(store.checkpoints).expanduser().resolve()
    return Store(Path(store.data).expanduser().resolve(), Path(store.scratch).expanduser().resolve(), checkpoints)


def job_script_prologue(venv):
    """What every SLURM job runs before its Dask workers: the venv, one thread for numba and BLAS (the campaign's
    :data:`~meso_kernels.campaign.WORKER_ENV`), and this process's numba cache folder, if it has one."""
    from meso_kernels.campaign import WORKER_ENV
    lines = [f"source {shlex.quote(str(Path(venv) / 'bin' / 'activate'))}"] if venv else []
    lines.append("export " + " ".join(f"{k}={v}" for k, v in WORKER_ENV.items()))
    if os.environ.get("NUMBA_CACHE_DIR"):
        lines.append(f"export NUMBA_CACHE_DIR={shlex.quote(os.environ['NUMBA_CACHE_DIR'])}")
    return lines


def make_cluster(args, log_dir, tls_dir=None):
    """The ``SLURMCluster`` of ``args`` (starts a scheduler here; submits nothing until it is scaled). log_dir: the
    workers' SLURM logs (dask-jobqueue creates it); tls_dir: where the workers' certificates go with ``--tls``."""
    from dask_jobqueue import SLURMCluster
    kwargs = {}
    if args.tls:
        from distributed.security import Security
        try:
            security = Security.temporary()
        except ImportError:
            raise ValueError("argument --tls: needs the 'cryptography' package (pip install cryptography)") from None
        Path(tls_dir).mkdir(mode=0o700, parents=True, exist_ok=True)
        kwargs.update(security=security, protocol="tls://", shared_temp_directory=str(tls_dir))
    lifetime = []
    if args.walltime_s >= 3 * LIFETIME_MARGIN:
        lifetime = ["--lifetime", f"{args.walltime_s - LIFETIME_MARGIN}s", "--lifetime-stagger",
                    f"{LIFETIME_STAGGER}s"]
    return SLURMCluster(
        queue=args.queue, account=args.account, cores=args.cores, processes=args.cores, memory=args.memory,
        walltime=args.walltime, interface=args.interface, job_name="meso-campaign",
        job_script_prologue=job_script_prologue(args.venv), job_extra_directives=list(args.sbatch),
        worker_extra_args=lifetime, local_directory="${TMPDIR:-/tmp}",
        log_directory=str(log_dir), scheduler_options={"dashboard_address": "127.0.0.1:8787"},
        silence_logs="error", **kwargs)


def campaign_call(args, store, scheduler="<scheduler-address>"):
    """The campaign this script runs, as the Python call and as the equivalent ``meso campaign run`` line."""
    models = "" if args.models is None else f", models={args.models!r}"
    backend = "" if args.backend == "cpu" else f", backend={args.backend!r}"
    ckpts = "" if store.checkpoints is None else f", checkpoints={str(store.checkpoints)!r}"
    py = (f"run_figures({args.size!r}, {args.figures!r}, Store(data={str(store.data)!r}, "
          f"scratch={str(store.scratch)!r}{ckpts}), client=Client(SLURMCluster(...)){models}{backend})")
    cli = ["meso", "campaign", "run", "--size", args.size, "--figures", ",".join(args.figures), "--data",
           str(store.data), "--scratch", str(store.scratch), "--scheduler", scheduler]
    if store.checkpoints is not None:
        cli += ["--checkpoints", str(store.checkpoints)]
    if args.models is not None:
        cli += ["--models", ",".join(args.models)]
    if args.backend != "cpu":
        cli += ["--backend", args.backend]
    return py, shlex.join(cli)


def check_shared(client, store, log=print):
    """Wait for a first worker and check that it sees a file written here in data/ and in scratch/ (and in the
    checkpoints folder, when it is set); :class:`~meso_kernels.campaign.CampaignError` naming the folder otherwise."""
    import secrets

    from meso_kernels.campaign import CampaignError
    log("waiting for the first SLURM job to start (squeue --me shows the queue) ...")
    for name in ("data", "scratch", "checkpoints"):
        if getattr(store, name) is None:  # checkpoints under scratch
            continue
        folder = Path(getattr(store, name))
        token = secrets.token_hex(8)
        probe = folder / f".meso-shared-probe.{token}"
        probe.write_text(token)
        try:                        # a stdlib callable: workers can unpickle it wherever this script lives
            seen = client.submit(Path.read_text, probe, pure=False).result()
        except OSError as exc:
            seen = f"{type(exc).__name__}: {exc}"
        finally:
            probe.unlink(missing_ok=True)
        if seen != token:
            raise CampaignError(f"the {name} folder {str(folder)!r} is not visible from the workers ({seen}); give "
                                f"--{name} on a file system that the compute nodes share")


def main(argv=None):
    args = parse_args(argv)
    from meso_kernels.campaign import CampaignError, run_figures
    store = store_of(args)
    log_dir = Path(args.log_directory or Path(store.scratch) / "slurm-logs").expanduser().resolve()
    tls_dir = Path(store.scratch) / "dask-tls"
    if args.dry_run:
        # dask-jobqueue creates the log folder and writes the certificates: give it a temporary folder, and print
        # the script with the real folders
        with tempfile.TemporaryDirectory(prefix="meso-dry-run-") as tmp:
            try:
                cluster = make_cluster(args, Path(tmp) / "logs", tls_dir=Path(tmp) / "tls")
            except ValueError as exc:
                print(f"{PROG}: error: {exc}", file=sys.stderr)
                return 2
            try:
                script = cluster.job_script()
            finally:
                cluster.close()
            del cluster             # its temporary certificate files go with it, before their folder
            gc.collect()
            script = script.replace(str(Path(tmp) / "logs"), str(log_dir)).replace(str(Path(tmp) / "tls"),
                                                                                  str(tls_dir))
        print(f"# SLURM job script, submitted {args.jobs} time(s) (the scheduler address and port, and the "
              f"certificates' file names, change every run)")
        print(script)
        py, cli = campaign_call(args, store)
        print(f"# the campaign, run in this process on {args.jobs} job(s) x {args.cores} workers:")
        print(py)
        print("# the same from the command line, against this script's scheduler"
              + (" (not with --tls: `meso campaign run --scheduler` has no TLS options):" if args.tls else ":"))
        print(cli)
        return 0

    try:
        store.check_writable()
    except CampaignError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    log_dir.mkdir(parents=True, exist_ok=True)
    from distributed import Client
    try:
        cluster = make_cluster(args, log_dir, tls_dir=tls_dir)
    except ValueError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    client = None
    try:
        client = Client(cluster)
        cluster.adapt(minimum_jobs=args.jobs, maximum_jobs=args.jobs)
        print(f"Dask scheduler {cluster.scheduler_address}; dashboard {client.dashboard_link} (this node only); "
              f"{args.jobs} SLURM job(s) x {args.cores} workers", flush=True)
        print("campaign, equivalent to: " + campaign_call(args, store, cluster.scheduler_address)[1], flush=True)
        check_shared(client, store)
        out = run_figures(args.size, args.figures, store, client=client, models=args.models,
                          progress=not args.no_progress, backend=args.backend)
        for line in out["pending"]:
            print(f"still pending: {line}")
        print(f"done: {len(out['computed'])} tasks computed in {out['rounds']} round(s); "
              f"'meso campaign status --size {args.size} --data {store.data} --scratch {store.scratch}"
              f"{'' if store.checkpoints is None else f' --checkpoints {store.checkpoints}'}' shows the store",
              flush=True)
        return 0
    except (CampaignError, RuntimeError) as exc:   # RuntimeError: --backend cuda on workers without a GPU
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; stored results are kept, run again to resume", file=sys.stderr)
        return 130
    finally:
        if client is not None:
            client.close()
        cluster.close()                 # cancels the SLURM jobs


if __name__ == "__main__":
    sys.exit(main())
