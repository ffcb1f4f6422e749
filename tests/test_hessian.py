"""The Hessian of every model (meso_kernels.hessian): against central finite differences of the forces of
:class:`~meso_kernels.forces.ForceField` (an independent code path), symmetry, translation zero modes, positive
semi-definiteness at an inherent structure, the matrix-free product, and rattler removal."""
import numpy as np
import pytest

from meso_kernels.forces import ForceField
from meso_kernels.hessian import (build_terms, bsr_matmat, find_rattlers, hessian_matrix, hessian_vector_product,
                                  _rattlers)
from meso_kernels.system import System

from conftest import make_glass


pytestmark = pytest.mark.usefixtures("one_thread")


def fd_hessian(model, system, h=1e-6):
    """Dense Hessian by 4-point central differences of the forces (4 N d force evaluations). A small step: SS
    splices its potential at x_min with a jump in phi''' that spoils larger steps."""
    ff = ForceField(model, system.box)
    x0 = system.positions.copy()
    n, d = x0.shape
    H = np.empty((n * d, n * d))
    for c in range(n * d):
        cols = []
        for s in (-2, -1, 1, 2):
            x = x0.copy()
            x.flat[c] += s * h
            cols.append(-ff.compute(x, system.types)[1].ravel())
        H[:, c] = (cols[0] - 8 * cols[1] + 8 * cols[2] - cols[3]) / (12 * h)
    return H


def smooth_columns(model, system, h=1e-6):
    """Columns of the FD Hessian whose stencil (coordinate moved by up to 2h) keeps every pair distance on one side of
    its cut-off, with a factor 5 of margin. mBLJ (phi'' jumps at r_c) and KA (phi' jumps) are not smooth there: a
    stencil straddling r_c differences across the jump. Which configurations meet such a pair is a matter of the CPU
    (a quench from a random start, or a random displacement of it, lands elsewhere): the affected particles are
    left out rather than assumed absent."""
    x, L = system.positions, system.box
    dr = x[None, :, :] - x[:, None, :]
    dr -= L * np.round(dr / L)
    r = np.sqrt((dr ** 2).sum(-1))
    rc = model.rcut[system.types[:, None], system.types[None, :]]
    near = np.abs(r - rc) < 10 * h
    np.fill_diagonal(near, False)
    bad = near.any(axis=1)
    return np.repeat(~bad, system.dim)


def test_hessian_matches_finite_differences(glass):
    name, m, ihs = glass
    M = hessian_matrix(build_terms(ihs, m)).toarray()
    H = fd_hessian(m, ihs)
    scale = np.abs(M).max()
    ok = smooth_columns(m, ihs)
    assert ok.mean() > 0.9, name                # the comparison covers (nearly) every column
    assert np.abs(M - H)[:, ok].max() < 2e-7 * scale, (name, np.abs(M - H)[:, ok].max() / scale)


def test_hessian_away_from_a_minimum(glass):
    """The analytic Hessian holds at any configuration, not only at force balance (a random displacement)."""
    name, m, ihs = glass
    rng = np.random.default_rng(1)
    x = ihs.positions + 0.02 * rng.standard_normal(ihs.positions.shape)
    s = System(np.mod(x, ihs.box), ihs.box, ihs.types)
    M = hessian_matrix(build_terms(s, m)).toarray()
    H = fd_hessian(m, s)
    ok = smooth_columns(m, s)
    assert ok.mean() > 0.9, name
    assert np.abs(M - H)[:, ok].max() < 2e-7 * np.abs(M).max(), name


def test_terms_reproduce_energy_and_forces(glass):
    name, m, ihs = glass
    t = build_terms(ihs, m)
    rng = np.random.default_rng(2)
    s = System(np.mod(ihs.positions + 0.05 * rng.standard_normal(ihs.positions.shape), ihs.box), ihs.box, ihs.types)
    t = build_terms(s, m)
    e, f, _ = ForceField(m, s.box).compute(s.positions, s.types)
    assert t.energy == pytest.approx(e, rel=1e-12, abs=1e-12)
    assert np.abs(t.forces() - f).max() < 1e-10 * max(1.0, np.abs(f).max())


def test_symmetric_translation_free_and_positive_at_minimum(glass):
    name, m, ihs = glass
    t = build_terms(ihs, m)
    M = hessian_matrix(t)
    d = t.d
    assert M.blocksize == (d, d)
    A = M.toarray()
    scale = np.abs(A).max()
    assert np.abs(A - A.T).max() < 1e-12 * scale
    for a in range(d):
        u = np.zeros((t.n, d))
        u[:, a] = 1.0
        assert np.abs(A @ u.ravel()).max() < 1e-10 * scale
    w = np.linalg.eigvalsh(A)
    assert w[0] > -1e-9 * scale, (name, w[:4])
    if not find_rattlers(t).any():
        # exactly d zero modes (the translations), the next one clearly positive
        assert np.all(np.abs(w[:d]) < 1e-9 * scale) and w[d] > 1e-6 * scale, (name, w[:d + 2])


def test_matrix_free_product_and_block_product(glass):
    name, m, ihs = glass
    t = build_terms(ihs, m)
    M = hessian_matrix(t)
    rng = np.random.default_rng(3)
    v = rng.standard_normal((t.n, t.d))
    ref = M @ v.ravel()
    assert np.allclose(hessian_vector_product(t, v).ravel(), ref, rtol=0, atol=1e-11 * np.abs(ref).max())
    assert np.allclose(hessian_vector_product(t, v.ravel()), ref, rtol=0, atol=1e-11 * np.abs(ref).max())
    X = rng.standard_normal((t.n * t.d, 5))
    Y = np.empty_like(X)
    M.sort_indices()
    bsr_matmat(M.indptr.astype(np.int64), M.indices.astype(np.int64), M.data, X, Y)
    assert np.allclose(Y, M @ X, rtol=0, atol=1e-11 * np.abs(Y).max())


def test_interacting_pairs_are_those_within_the_cutoff(glass):
    name, m, ihs = glass
    t = build_terms(ihs, m)
    x, L = ihs.positions, ihs.box
    dx = x[None, :, :] - x[:, None, :]
    dx -= L * np.round(dx / L)
    r = np.sqrt((dx ** 2).sum(-1))
    rc = m.rcut[ihs.types[:, None], ihs.types[None, :]]
    iu = np.triu_indices(len(x), 1)
    expected = {(i, j) for i, j in zip(*iu) if r[i, j] < rc[i, j]}
    got = {tuple(sorted(p)) for p in t.pairs.tolist()}
    assert got == expected
    assert np.allclose(np.linalg.norm(t.pv_r[:t.n_pair], axis=1), r[t.pairs[:, 0], t.pairs[:, 1]])


def test_removing_particles_equals_rebuilding_without_them():
    """Terms.without(mask) gives the Hessian of the configuration with those particles deleted (pair and SW)."""
    for name in ("ipl3d", "sw"):
        m, ihs = make_glass(name)
        drop = np.zeros(ihs.N, bool)
        drop[[0, 5, 17]] = True
        t = build_terms(ihs, m).without(drop)
        s = System(ihs.positions[~drop], ihs.box, ihs.types[~drop])
        ref = hessian_matrix(build_terms(s, m)).toarray()
        assert np.abs(hessian_matrix(t).toarray() - ref).max() < 1e-11 * np.abs(ref).max(), name
        assert np.array_equal(t.index, np.flatnonzero(~drop))


def test_rattler_detection_is_iterative():
    # 2D: particle 4 has two contacts (< d + 1 = 3): a rattler; after its removal particle 3 has two left
    pi = np.array([0, 0, 0, 1, 1, 2, 3, 3, 3], np.int64)
    pj = np.array([1, 2, 3, 2, 3, 3, 4, 4, 4], np.int64)[:9]
    pi = np.array([0, 0, 1, 1, 2, 3, 3], np.int64)
    pj = np.array([1, 2, 2, 3, 3, 4, 4], np.int64)
    # contacts: 0:2 1:3 2:3 3:4 4:2 -> 0 and 4 go; then 1:2, 2:2, 3:2 -> all go
    assert _rattlers(5, 2, pi, pj).tolist() == [True] * 5
    # a triangle-free dense cluster of 4 mutually connected particles survives in 2D
    pi = np.array([0, 0, 0, 1, 1, 2, 3], np.int64)
    pj = np.array([1, 2, 3, 2, 3, 3, 4], np.int64)
    assert _rattlers(5, 2, pi, pj).tolist() == [False, False, False, False, True]


def test_glasses_have_no_rattlers_or_they_are_found(glass):
    name, m, ihs = glass
    t = build_terms(ihs, m)
    rat = find_rattlers(t)
    c = t.without(rat).contacts() if rat.any() else t.contacts()
    assert c.min() >= t.d + 1
