"""Shared cases of the CUDA tests: the kernels against the CPU drivers, in numba's simulator (or on a GPU).

Run in a process of their own with the simulator on from the start (numba reads NUMBA_ENABLE_CUDASIM when it is
first imported):

    NUMBA_ENABLE_CUDASIM=1 python -m pytest -q tests/cuda

Without the simulator and without a GPU every test here is skipped (``pytestmark = needs_cuda`` in each module, with
the reason). The simulator runs each CUDA thread as a Python thread: sizes stay tiny (N <= 128) and kernel launches
few. Configurations and device results are made once per session (:func:`device_case`) and shared by test_forces and
test_neighbors.

This is deliberately not a ``conftest.py``: a second conftest module (tests/ is not a package) replaces
``sys.modules["conftest"]`` when pytest collects this folder, and the ``from conftest import make_glass`` of
tests/test_dipole.py, test_elasticity.py, test_hessian.py then fails in any run that collects tests/cuda and those
files together (e.g. a plain ``pytest``).
"""
import functools
import os
import warnings

import numba
import pytest

from meso_kernels import cuda as mcuda
from meso_kernels.forces import ForceField
from meso_kernels.initial import random_configuration
from meso_kernels.quench import quench
from meso_kernels.statepoints import MODEL_KEYS, model_for

SKIP_REASON = ("no CUDA device and the simulator is off: run these tests as "
               "`NUMBA_ENABLE_CUDASIM=1 python -m pytest tests/cuda` (scripts/run_tests.sh does)")

#: model key -> N: small N (at the model's density) whose box still holds r_c,max + skin <= L/2
SIZES = {"ipl": 100, "mblj": 128, "ss0.6": 64, "ss0.7": 64, "ss0.95": 96, "sw": 64, "ipl2d": 32}
#: every 3D model of the dynamics figures, and the 2D IPL (a 2D kernel)
KEYS = MODEL_KEYS + ("ipl2d",)


#: mark of every test module here: skipped, with the reason, without a GPU and without the simulator
needs_cuda = pytest.mark.skipif(not mcuda.available(), reason=SKIP_REASON)

#: mark of the end-to-end SW solves (κ_ij and G by CG through the three-body device Hessian): the simulator runs
#: each of their ~90 CG iterations as Python threads, minutes per solve, so in the simulator they run only with
#: MESO_FULL_SIM=1; on a GPU always. The pieces they compose are simulated in every run: the SW Hessian-vector
#: product, its diagonal blocks and exclusions (test_hessian.py), and block CG with the same solver path on a pair
#: model (ipl2d here).
full_sim_only = pytest.mark.skipif(mcuda.simulator() and os.environ.get("MESO_FULL_SIM") != "1",
                                   reason="end-to-end SW solve: minutes in the simulator; set MESO_FULL_SIM=1 "
                                          "(always run on a GPU)")


@functools.lru_cache(maxsize=None)
def configuration(key, seed=3):
    """(model, System) of ``key``: a random configuration (no close pairs) relaxed by a short FIRE quench to
    max |F_i| < 2 (forces of order 1, pair forces of order 10-100: not an inherent structure)."""
    m = model_for(key)
    s = random_configuration(m, SIZES[key], m.state_point.rho, seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # a short quench need not converge
        s, _ = quench(s, m, method="fire", ftol=2.0, max_steps=300)
    return m, s


@functools.lru_cache(maxsize=None)
def device_case(key):
    """(model, System, CPU (U, F, W), device (U, F, W), DeviceForceField) at :func:`configuration` ``(key)``: one
    device evaluation per model per session."""
    from meso_kernels.cuda.forces import DeviceForceField
    m, s = configuration(key)
    old = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        cpu = ForceField(m, s.box).compute(s.positions, s.types)
    finally:
        numba.set_num_threads(old)
    ff = DeviceForceField(m, s.box)
    dev = ff.compute(s.positions, s.types)
    return m, s, cpu, dev, ff
