"""Shared fixtures: small inherent structures (instantaneous quenches of random configurations) of every model,
made once per test session."""
import functools

import numba
import pytest

from meso_kernels.initial import random_configuration
from meso_kernels.models import get_model
from meso_kernels.quench import quench

#: name -> (get_model arguments, N, density): the smallest boxes that hold r_c + skin <= L/2 with some margin
GLASSES = {
    "ipl2d": (("ipl",), {"dim": 2}, 80, 0.86),
    "ipl3d": (("ipl",), {}, 128, 0.82),
    "mblj": (("mblj",), {}, 160, 1.2),
    "ka": (("ka",), {}, 250, 1.2),
    "ss": (("ss",), {"rho": 0.6}, 128, 0.6),
    "sw": (("sw",), {}, 64, 0.52),
}


@functools.lru_cache(maxsize=None)
def make_glass(name, seed=7):
    """(model, inherent structure) of the small glass ``name`` (a key of GLASSES), quenched by CG to 1e-11."""
    args, kw, N, rho = GLASSES[name]
    m = get_model(*args, **kw)
    old = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        ihs, res = quench(random_configuration(m, N, rho, seed=seed), m, method="cg", ftol=1e-11)
    finally:
        numba.set_num_threads(old)
    assert res.converged, res.summary()
    return m, ihs


@pytest.fixture
def one_thread():
    """Run a test on one numba thread: tests make many small kernel calls, and on a loaded 2-core machine the cost
    of a parallel region (OpenMP layer) dominates at these sizes."""
    n = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(n)


@pytest.fixture(params=sorted(GLASSES))
def glass(request):
    """Every model's small glass in turn: (name, model, inherent structure)."""
    m, ihs = make_glass(request.param)
    return request.param, m, ihs
