"""Campaigns: every expensive result behind the figures as a keyed, resumable task (DESIGN.md, "campaign layer").

- :mod:`.task` — :class:`Task` (kind, parameters, seed, the tasks it reads), :class:`Store` (data, scratch and
  checkpoints folders), :func:`execute` (compute one task into the store unless stored);
- :mod:`.checkpoint` — periodic checkpoints of long tasks (``liquid``, ``parents``): a task killed in mid-run
  continues from its last checkpoint (every ``MESO_CHECKPOINT_SECONDS`` of wall time, default 600; 0 switches them
  off), kept in ``<scratch>/checkpoints`` or a folder of one's choice (``--checkpoints``, ``MESO_CHECKPOINT_DIR``);
- :mod:`.execution` — the execution backend (``backend="cpu"`` or ``"cuda"`` of :func:`run`, :func:`load`,
  ``meso campaign run --backend``): how a task is computed, never part of its key; the sidecar records where each
  step ran;
- kinds: ``liquid`` (:mod:`.liquid`), ``ihs`` (:mod:`.trajectories`), ``parents`` / ``mechanics_ihs`` / ``mechanics``
  (:mod:`.mechanics`), ``iso`` / ``iso_mobility`` (:mod:`.iso`); local ensembles of κ_i and mobility and
  ``bond_map`` (κ_ij of every pair and the softest pseudoharmonic modes of one inherent structure) (:mod:`.local`,
  Figs 2, 6(b, c), 7; imported here so that every worker knows its kinds);
- :mod:`.runner` — :func:`run` a task set serially or on Dask, :func:`load` what a notebook needs;
- :mod:`.figures` — the task set of each figure; :mod:`.status` — done, missing and cost from sidecars;
- ``meso campaign run | status | plan`` (:mod:`meso_kernels.cli`) on the command line.

>>> from meso_kernels.campaign import equilibrium_dynamics, correlator
>>> out = equilibrium_dynamics("ipl", T=1.2, N=256, equil_steps=500, prod_steps=2000, seed=1)
>>> corr = correlator(out)
>>> bool(corr.fs[1][0] > 0.9 and corr.msd_total[-1] > corr.msd_total[0])
True
"""
from .task import KINDS, CampaignError, Kind, Resolver, Store, Task, execute, register  # noqa: F401  (first)
from .liquid import (DYNAMICS_VERSION, StatePointDynamics, correlator, dynamics, equilibrium_dynamics,  # noqa: F401
                     final_system, liquid_task, match_viscosity, scheduled_liquid, structure_factor_peak,
                     structure_factor_table)
from .trajectories import IHS_VERSION, ihs_tasks, ihs_trajectories  # noqa: F401
from .mechanics import KAPPA_EDGES, mechanics_tasks, parents_task  # noqa: F401
from .iso import iso_from, iso_tasks  # noqa: F401
from .local import bond_map_task, fig02_ensemble, fig02_tasks, local_ensemble, local_tasks  # noqa: F401
from .runner import WORKER_ENV, Plan, connect, load, load_one, local_cluster, run  # noqa: F401
from .figures import FIGURES, check_figures, declared, figure_tasks, run_figures  # noqa: F401
from .status import CostModel, plan_text, status_text  # noqa: F401
