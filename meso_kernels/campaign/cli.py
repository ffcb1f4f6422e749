"""``meso campaign run | status | plan``: the command line of the campaign layer (wired into :mod:`meso_kernels.cli`).

- ``run``: compute what the chosen figures need at a run size, on a local Dask cluster of single-threaded workers
  (default: one per core), on an existing Dask cluster (``--scheduler``), or in this process (``--serial``).
  Stored results are skipped, so a run killed at any moment resumes where it stopped. ``--backend cuda`` computes
  the steps that have a device route on the GPU (:mod:`.execution`; the others on the CPU, as each sidecar records);
  it changes no task's key, so results stored on either backend are shared.
- ``status``: per figure and task kind, what is done, what is missing and its estimated CPU time; then the
  checkpoints of tasks killed in mid-run, if any.
- ``plan``: the estimated CPU-hours of every figure at a run size (normally ``paper``), from the wall times stored
  at the default size; GPU-hours where a GPU benchmark is stored.

``--checkpoints DIR`` (all three; default ``$MESO_CHECKPOINT_DIR``, else ``SCRATCH/checkpoints``) puts the checkpoints
of long liquid and parents tasks in a folder that outlives the machine (committed to git between sessions, or on a
shared file system), so that a task longer than one session or job continues where it stopped (:mod:`.checkpoint`).

``status`` and ``plan`` read sidecars only. Exit status: 0 success, 1 a task failed, 2 bad input (unknown figure,
size or model key, unwritable data, scratch or checkpoints folder, unreachable scheduler), in which case nothing is
changed.
"""
import sys
import time

FIGURES_HELP = "comma-separated figures (default: all with a task set: {})"


def add_parser(sub, error_class):
    """Add the ``campaign`` command to the ``meso`` subparsers ``sub``."""
    from .figures import FIGURES
    pc = sub.add_parser(
        "campaign", help="run the campaigns behind the figures (Dask), or show their status and cost",
        description="The expensive results behind the figures, as keyed, resumable tasks (meso_kernels.campaign). "
                    "'run' computes what is missing (a local Dask cluster by default, or --scheduler ADDRESS), "
                    "'status' shows what is done and missing, 'plan' estimates the CPU-hours of a run size.")
    csub = pc.add_subparsers(dest="action", metavar="ACTION", title="actions")
    for name, help_, func in (("run", "compute what is missing", _run),
                              ("status", "done, missing and estimated cost per figure and task kind", _status),
                              ("plan", "estimated CPU-hours per figure at a run size", _plan)):
        p = csub.add_parser(name, help=help_, description=help_)
        p.add_argument("--size", default="paper" if name == "plan" else "default",
                       help=f"run size: ci, default or paper (default: {'paper' if name == 'plan' else 'default'})")
        p.add_argument("--figures", default=",".join(FIGURES), help=FIGURES_HELP.format(",".join(FIGURES)))
        p.add_argument("--models", default=None,
                       help="comma-separated model keys to restrict to (ipl,mblj,ss0.6,ss0.7,ss0.95,sw,ipl2d; "
                            "default all)")
        p.add_argument("--data", default=None, help="data folder (default: data/, or build/ci-data for --size ci)")
        p.add_argument("--scratch", default=None,
                       help="scratch folder for raw arrays (default: build/campaign-scratch/SIZE)")
        p.add_argument("--checkpoints", default=None, metavar="DIR",
                       help="folder of the periodic checkpoints of long liquid and parents tasks (default: "
                            "$MESO_CHECKPOINT_DIR, else SCRATCH/checkpoints). Give one that survives the machine, "
                            "e.g. a folder committed to git between sessions (data/checkpoints) or on a shared file "
                            "system, so that a task longer than a session or a job continues where it stopped")
        if name == "run":
            p.add_argument("--workers", default=None,
                           help="local Dask workers, one single-threaded process each (default: one per core)")
            p.add_argument("--scheduler", default=None,
                           help="address (tcp://host:port) or scheduler file of a running Dask cluster to use "
                                "instead of a local one")
            p.add_argument("--serial", action="store_true", help="no Dask: run the tasks one by one in this process")
            p.add_argument("--no-progress", action="store_true", help="no progress bar")
            p.add_argument("--backend", default="cpu",
                           help="cpu (default) or cuda: compute MD, FIRE quenches and the CG solves of G and kappa "
                                "on the GPU where a task has a device route (the rest on the CPU); task keys do not "
                                "depend on it")
        p.set_defaults(func=func, _error=error_class)
    pc.set_defaults(func=lambda args: _no_action(pc), _error=error_class)


def _no_action(parser):
    parser.print_help(sys.stderr)
    return 2


def _common(args):
    """Validated (size, figures, models, store) of ``args``; ValueError naming the bad argument otherwise."""
    from ..presets import check_size
    from ..statepoints import check_key
    from .figures import check_figures
    from .task import Store
    try:
        size = check_size(args.size)
    except ValueError as exc:
        raise ValueError(f"argument --size: {exc}") from None
    figures = [f for f in args.figures.split(",") if f.strip()]
    if not figures:
        raise ValueError("argument --figures: give at least one figure")
    try:
        figures = check_figures(figures)
    except ValueError as exc:
        raise ValueError(f"argument --figures: {exc}") from None
    models = None
    if args.models is not None:
        try:
            models = [check_key(k.strip()) for k in args.models.split(",") if k.strip()]
        except ValueError as exc:
            raise ValueError(f"argument --models: {exc}") from None
        if not models:
            raise ValueError("argument --models: give at least one model key")
    return size, figures, models, Store.for_size(size, data=args.data, scratch=args.scratch,
                                                 checkpoints=args.checkpoints)


def _status(args):
    from .status import status_text
    size, figures, models, store = _common(args)
    print(status_text(size, figures, store, models=models))
    return 0


def _plan(args):
    from .status import plan_text
    from .task import Store
    size, figures, models, store = _common(args)
    print(plan_text(size, figures, store, models=models, reference=Store.for_size("default")))
    return 0


def _run(args):
    from .figures import run_figures
    from .runner import connect, local_cluster
    from .task import CampaignError
    size, figures, models, store = _common(args)
    workers = None
    if args.workers is not None:
        try:
            workers = int(args.workers)
        except ValueError:
            workers = 0
        if workers < 1:
            raise ValueError(f"argument --workers: must be a positive integer, got {args.workers!r}")
    if args.serial and (args.scheduler or workers):
        raise ValueError("argument --serial: cannot be combined with --scheduler or --workers")
    from .execution import check, check_name
    try:     # with --scheduler the tasks run on the cluster's workers: their GPUs are checked once connected
        backend = check_name(args.backend) if args.scheduler else check(args.backend)
    except (ValueError, RuntimeError) as exc:
        raise ValueError(f"argument --backend: {exc}") from None
    try:
        store.check_writable()
    except CampaignError as exc:
        raise ValueError(str(exc)) from None
    cluster = client = None
    try:
        if args.scheduler:
            try:
                client = connect(args.scheduler)
            except CampaignError as exc:
                raise ValueError(str(exc)) from None
            try:
                check(backend, client)
            except RuntimeError as exc:
                raise ValueError(f"argument --backend: {exc}") from None
        elif not args.serial:
            from distributed import Client
            cluster = local_cluster(workers)
            client = Client(cluster)
        if client is not None:
            n = len(client.scheduler_info().get("workers", {}))
            print(f"Dask: {n} workers; dashboard {client.dashboard_link}", flush=True)
        if backend != "cpu":
            from ..cuda import device_name
            here = "the cluster's workers" if args.scheduler else f"{device_name()} here"
            print(f"backend: {backend} ({here}; every worker must see a GPU)", flush=True)
        t0 = time.perf_counter()
        try:
            out = run_figures(size, figures, store, client=client, models=models, progress=not args.no_progress,
                              log=lambda line: print(line, flush=True), backend=backend)
        except CampaignError as exc:
            print(f"meso: error: {exc}", file=sys.stderr)
            return 1
        for p in out["pending"]:
            print(f"still pending: {p}")
        print(f"done: {len(out['computed'])} tasks computed in {time.perf_counter() - t0:.0f} s; "
              f"'meso campaign status --size {size}' shows the store", flush=True)
        return 0
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
