"""Shared fixtures: small inherent structures (instantaneous quenches of random configurations) of every model,
made once per test session."""
import functools

import numba
import numpy as np
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


#: Every pair of a test glass keeps at least this distance (length units) from its cut-off. mBLJ (shifted force:
#: phi'' jumps at r_c) and KA (shifted energy: phi' jumps) are not smooth there, and the finite-difference checks of
#: test_hessian and test_elasticity move pair distances by up to ~2.5e-6 (steps h <= 1e-6, stencils to 2h, affine
#: shear r n_x n_y h); a stencil that straddles r_c compares the analytic derivative with a difference across the jump.
#: Which glass a quench from a random start reaches depends on the CPU (rounding), and ~3% of the mBLJ glasses have a
#: pair within 1e-5 of r_c (seen: 1.9e-6 -> a 1e-3 error in the FD Hessian); such glasses are skipped. (IPL, SS and SW
#: are smooth through phi'' at r_c and keep whatever glass their seed gives.)
CUTOFF_GAP = 1e-5


def kinked_at_cutoff(model):
    """Whether phi' or phi'' of some species pair does not vanish just inside r_c (a jump at the cut-off)."""
    for a in range(model.n_types):
        for b in range(model.n_types):
            _, s, u2 = model.phi(np.array([model.rcut[a, b] * (1 - 1e-12)]), a, b)
            if abs(s[0]) + abs(u2[0]) > 1e-6:
                return True
    return False


def cutoff_gap(model, system):
    """min over pairs of | r_ij - r_c(t_i, t_j) | (minimum image, all pairs: the test glasses are small)."""
    x, L = system.positions, system.box
    dr = x[None, :, :] - x[:, None, :]
    dr -= L * np.round(dr / L)
    r = np.sqrt((dr ** 2).sum(-1))
    rc = model.rcut[system.types[:, None], system.types[None, :]]
    iu = np.triu_indices(system.N, 1)
    return float(np.abs(r - rc)[iu].min())


@functools.lru_cache(maxsize=None)
def make_glass(name, seed=7):
    """(model, inherent structure) of the small glass ``name`` (a key of GLASSES), quenched by CG to 1e-11 from the
    random configuration of ``seed``; for a model with a jump at its cut-offs whose glass has a pair within
    CUTOFF_GAP of its cut-off, from that of ``seed + 1000``, ``seed + 2000``, ... instead."""
    args, kw, N, rho = GLASSES[name]
    m = get_model(*args, **kw)
    old = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        for attempt in range(20):
            ihs, res = quench(random_configuration(m, N, rho, seed=seed + 1000 * attempt), m, method="cg",
                              ftol=1e-11)
            assert res.converged, res.summary()
            if not kinked_at_cutoff(m) or cutoff_gap(m, ihs) >= CUTOFF_GAP:
                return m, ihs
    finally:
        numba.set_num_threads(old)
    raise AssertionError(f"{name}: no glass without a pair within {CUTOFF_GAP} of its cut-off in 20 tries")


def neighbouring_minimum(model, glass, min_gap=1e-6):
    """(B, E_A, E_B): an inherent structure next to ``glass`` (A): A pushed along one of its softest normal modes
    (not translations nor rattlers), farther until a CG quench (to 1e-11) falls into another minimum, one whose
    energy differs by more than ``min_gap`` and no particle of which moved more than 1 (minimum image).
    ``pytest.fail`` if none is found along the 8 softest modes."""
    from meso_kernels.hessian import build_terms, hessian_matrix
    from meso_kernels.system import System
    a = glass
    terms = build_terms(a, model)
    w, v = np.linalg.eigh(hessian_matrix(terms).toarray())
    for j in [j for j in np.argsort(w) if w[j] > 1e-6 * w.max()][:8]:
        vec = v[:, j].reshape(a.N, a.dim)
        vec /= np.linalg.norm(vec, axis=1).max()
        for amp in (0.3, 0.45, 0.6, 0.8):
            for sign in (1.0, -1.0):
                b, res = quench(System.wrapped(a.positions + sign * amp * vec, a.box, a.types), model,
                                method="cg", ftol=1e-11)
                assert res.converged, res.summary()
                d = b.positions - a.positions
                d -= a.box * np.round(d / a.box)
                if abs(res.energy - terms.energy) > min_gap and np.linalg.norm(d, axis=1).max() < 1.0:
                    return b, terms.energy, res.energy
    pytest.fail("no neighbouring inherent structure found along the softest modes")


@pytest.fixture(scope="session", autouse=True)
def _no_checkpoint_dir():
    """Campaign checkpoints under each test store's scratch, whatever ``MESO_CHECKPOINT_DIR`` the shell exports (it
    would otherwise send them to that folder, e.g. a committed data/checkpoints); tests that need it set it."""
    mp = pytest.MonkeyPatch()
    mp.delenv("MESO_CHECKPOINT_DIR", raising=False)
    yield
    mp.undo()


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
