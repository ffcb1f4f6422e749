"""The device neighbour list (meso_kernels.cuda.neighbors) against the CPU NeighborList: the same set of pairs, and a
rebuild exactly when the skin criterion (some particle moved more than skin/2 since the build) asks for one."""
import numpy as np
import pytest

from cuda_cases import KEYS, device_case, needs_cuda

from meso_kernels.neighbors import NeighborList

pytestmark = needs_cuda


def cpu_pairs(rcut, box, skin, x, types):
    """Ordered pairs (i, j) of the CPU full list."""
    nl = NeighborList(rcut, box, skin=skin, half=False)
    nl.build(x, types)
    return {(i, int(j)) for i in range(len(x)) for j in nl.nlist[i, :nl.counts[i]]}


def pairs_within(x, box, rc, types):
    """Ordered pairs closer than rc[t_i, t_j] (minimum image, all pairs)."""
    dr = x[None, :, :] - x[:, None, :]
    dr -= box * np.round(dr / box)
    r2 = (dr**2).sum(-1)
    inside = r2 < rc[types[:, None], types[None, :]] ** 2
    np.fill_diagonal(inside, False)
    return set(zip(*(a.tolist() for a in np.nonzero(inside))))


@pytest.mark.parametrize("key", KEYS)
def test_same_pairs_as_cpu(key):
    """The list the device force field built equals the CPU full list (pairs within r_c + skin)."""
    m, s, cpu, dev, ff = device_case(key)
    got = ff.nl.pairs()
    want = cpu_pairs(m.rcut, s.box, ff.nl.skin, s.positions, s.types)
    assert got == want
    assert all((j, i) in got for i, j in got)            # full list: both orders
    assert pairs_within(s.positions, s.box, m.rcut, s.types) <= got
    _, counts = ff.nl.to_host()
    assert counts.sum() == len(got)                       # no duplicates


@pytest.mark.parametrize("box, rc, ncell", [
    ((6.0, 6.0, 6.0), 1.6, (3, 3, 3)),                    # 3^3 stencil
    ((7.2, 5.0, 6.0), 1.1, (5, 3, 4)),                    # non-cubic, unequal cell counts
    ((6.0, 9.0), 1.2, (4, 6, 1)),                         # 2D
])
def test_cell_list_geometries(box, rc, ncell):
    """Two species with different cut-offs, particles anywhere (also outside the box: positions are not wrapped)."""
    from meso_kernels.cuda.neighbors import DeviceNeighborList
    box = np.asarray(box)
    rng = np.random.default_rng(len(box) + int(10 * rc))
    n = 60
    x = rng.uniform(-1.0, 1.5, (n, box.size)) * box
    types = rng.integers(0, 2, n)
    rcut = rc * np.array([[1.0, 0.8], [0.8, 0.6]])
    nl = DeviceNeighborList(rcut, box, skin=0.3)
    assert tuple(nl.ncell) == ncell
    nl.build(x, types)
    assert nl.pairs() == cpu_pairs(rcut, box, 0.3, x, types)


def test_overflow_grows_arrays():
    """Cells and rows longer than their padded arrays are counted, the arrays enlarged and the kernels rerun."""
    from numba import cuda

    from meso_kernels.cuda.neighbors import DeviceNeighborList
    box = np.full(3, 6.0)
    x = np.random.default_rng(5).uniform(0, 6, (60, 3))
    types = np.zeros(60, np.int32)
    nl = DeviceNeighborList(np.array([[1.6]]), box, skin=0.3)
    nl._allocate(60)
    nl.max_per_cell = 1
    nl._d_cell_members = cuda.device_array((nl.n_cells, 1), np.int32)
    nl.nlist = cuda.device_array((60, 2), np.int32)
    nl.build(x, types)
    assert nl.max_per_cell > 1 and nl.max_neighbors > 2
    assert nl.pairs() == cpu_pairs(np.array([[1.6]]), box, 0.3, x, types)


def test_rebuild_by_skin_criterion():
    """No rebuild while every particle stays within skin/2 of its build position (minimum image: a jump by a box
    length is no move), a rebuild as soon as one moves further; the kept list still holds every pair within r_c."""
    from meso_kernels.cuda.neighbors import DeviceNeighborList
    m, s, cpu, dev, ff = device_case("ss0.6")
    skin = 0.3
    nl = DeviceNeighborList(m.rcut, s.box, skin=skin)
    x = s.positions.copy()
    assert nl.update(x, s.types) and nl.n_builds == 1
    rng = np.random.default_rng(1)
    u = rng.normal(size=x.shape)
    u /= np.linalg.norm(u, axis=1)[:, None]
    y = x + 0.49 * skin * u                               # every particle just inside skin/2
    y[5] += s.box                                         # and particle 5 in another periodic image
    assert np.isclose(np.sqrt(nl.max_displacement2(y)), 0.49 * skin, rtol=1e-12)
    assert not nl.update(y, s.types) and nl.n_builds == 1
    assert pairs_within(y, s.box, m.rcut, s.types) <= nl.pairs()
    y[7] += 0.02 * skin * u[7]                            # one particle now 0.51 skin from its build position
    assert nl.update(y, s.types) and nl.n_builds == 2
    assert nl.pairs() == cpu_pairs(m.rcut, s.box, skin, y, s.types)
