"""Verlet neighbour list (meso_kernels.neighbors.NeighborList) against an O(N^2) minimum-image brute force.

A pair (i, j) must be listed iff r_ij < r_c(t_i, t_j) + skin. Half lists hold each unordered pair exactly once
(in either order), full lists hold both orders. No assumption is made on the order of j within a row.
"""
import numpy as np
import pytest

from meso_kernels.neighbors import NeighborList

RCUT2 = np.array([[1.0, 1.25], [1.25, 1.5]])  # per-species cut-offs, all different
SKIN = 0.3


def brute_pairs(x, types, box, rcut, skin, ordered):
    """Set of pairs within r_c(t_i, t_j) + skin by minimum image: frozensets (half) or (i, j) tuples (full)."""
    dr = x[None, :, :] - x[:, None, :]
    dr -= box * np.round(dr / box)
    r = np.sqrt((dr**2).sum(-1))
    cut = rcut[types[:, None], types[None, :]] + skin
    hit = r < cut
    np.fill_diagonal(hit, False)
    i, j = np.nonzero(hit)
    if ordered:
        return {(int(a), int(b)) for a, b in zip(i, j)}
    return {frozenset((int(a), int(b))) for a, b in zip(i, j) if a < b}


def listed_pairs(nl, ordered):
    """Pairs stored in the list; asserts no self pairs and no duplicate entries."""
    n = nl.counts.shape[0]
    entries = []
    for i in range(n):
        c = int(nl.counts[i])
        assert 0 <= c <= nl.nlist.shape[1]
        for j in nl.nlist[i, :c]:
            j = int(j)
            assert 0 <= j < n and j != i, f"bad entry {j} in row {i}"
            entries.append((i, j))
    if ordered:
        out = set(entries)
    else:
        out = {frozenset(e) for e in entries}
    assert len(out) == len(entries), "a pair is listed more than once"
    return out


def random_system(rng, n, box, ntypes=2, unwrapped=True):
    d = len(box)
    x = rng.uniform(0, 1, (n, d)) * box
    types = rng.integers(0, ntypes, n).astype(np.int64)
    if unwrapped:
        # positions need not be wrapped: shift some particles by whole and half box lengths
        shift = rng.integers(-2, 3, (n, d)) * box
        x = x + shift
        # and put a few right at the faces of the box
        x[:5, 0] = np.array([0.0, 1e-12, -1e-12, box[0] - 1e-12, box[0]])
    return x, types


# (dimension, box, N): box side / (r_c,max + skin) from 2.06 (all-pairs search) through 2.5-3 (a cell grid whose
# stencil just wraps around the box) to > 4 (a roomy cell grid); reach = 1.5 + 0.3 = 1.8
CASES = [
    pytest.param(3, np.array([4.6, 4.8, 5.3]), 150, id="3d-tight-cells"),
    pytest.param(2, np.array([4.6, 5.0]), 40, id="2d-tight-cells"),
    pytest.param(3, np.array([7.5, 8.0, 9.0]), 500, id="3d-cells"),
    pytest.param(3, np.array([5.5, 7.5, 5.6]), 250, id="3d-3cells"),  # side / reach 3.05, 4.2, 3.1
    pytest.param(3, np.array([3.7, 4.0, 3.8]), 120, id="3d-small"),
    pytest.param(3, np.array([3.7, 9.0, 9.0]), 300, id="3d-mixed"),  # all-pairs along one side only
    pytest.param(2, np.array([9.0, 12.0]), 400, id="2d-cells"),
    pytest.param(2, np.array([3.7, 4.1]), 30, id="2d-small"),
    # dense enough for cells of side reach/2 (a 5^d stencil, nsub = 2): a roomy grid, and one of 5 cells per side
    # whose stencil columns wrap around the box from either end
    pytest.param(3, np.array([7.3, 8.0, 8.6]), 1800, id="3d-dense"),
    pytest.param(3, np.array([4.6, 5.0, 5.3]), 440, id="3d-dense-tight"),
    pytest.param(2, np.array([9.5, 10.0]), 320, id="2d-dense"),
    pytest.param(2, np.array([4.6, 5.3]), 80, id="2d-dense-tight"),
]


@pytest.mark.parametrize("half", [True, False], ids=["half", "full"])
@pytest.mark.parametrize("d, box, n", CASES)
def test_pairs_match_brute_force(d, box, n, half):
    rng = np.random.default_rng(11 * d + n)
    x, types = random_system(rng, n, box)
    nl = NeighborList(RCUT2, box, skin=SKIN, half=half)
    nl.build(x, types)
    got = listed_pairs(nl, ordered=not half)
    want = brute_pairs(x, types, box, RCUT2, SKIN, ordered=not half)
    assert len(want) > n // 2  # the test is not vacuous
    assert got == want, f"missing {len(want - got)}, extra {len(got - want)}"
    if not half:
        assert all((j, i) in got for (i, j) in got)
    # per-species cut-offs matter: some pair lies between the smallest and the largest cut-off
    dr = x[None] - x[:, None]
    dr -= box * np.round(dr / box)
    r = np.sqrt((dr**2).sum(-1))
    between = (r > RCUT2.min() + SKIN) & (r < RCUT2.max() + SKIN)
    assert between.any()


@pytest.mark.parametrize("d, box, n", CASES)
def test_update_matches_brute_force_after_rebuild(d, box, n):
    """update() on a fresh list and after large moves gives the brute-force list for the new positions."""
    rng = np.random.default_rng(5 + n)
    x, types = random_system(rng, n, box)
    nl = NeighborList(RCUT2, box, skin=SKIN, half=True)
    assert nl.update(x, types) is True
    x2 = x + rng.normal(0, 0.5, x.shape)
    assert nl.update(x2, types) is True
    assert listed_pairs(nl, False) == brute_pairs(x2, types, box, RCUT2, SKIN, False)


def test_clustered_configuration_grows_rows():
    """A dense cluster needs far more neighbours per row than the density estimate: the list must still be exact."""
    rng = np.random.default_rng(3)
    box = np.array([10.0, 10.0, 10.0])
    n = 400
    x = rng.uniform(0, 10, (n, 3))
    x[:200] = 5.0 + rng.uniform(-0.3, 0.3, (200, 3))  # 200 particles in a 0.6^3 cube
    types = rng.integers(0, 2, n)
    for half in (True, False):
        nl = NeighborList(RCUT2, box, skin=SKIN, half=half)
        nl.build(x, types)
        assert int(nl.counts.max()) >= 199 if not half else int(nl.counts.max()) >= 100
        assert listed_pairs(nl, not half) == brute_pairs(x, types, box, RCUT2, SKIN, not half)


def test_single_species_scalar_like_cutoff():
    rng = np.random.default_rng(8)
    box = np.full(3, 8.0)
    x = rng.uniform(0, 8, (300, 3))
    types = np.zeros(300, np.int64)
    rc = np.array([[1.8]])
    nl = NeighborList(rc, box, skin=0.2, half=False)
    nl.build(x, types)
    assert listed_pairs(nl, True) == brute_pairs(x, types, box, rc, 0.2, True)


@pytest.mark.parametrize("d, box, n", [CASES[0], CASES[2], CASES[6]])
def test_rebuild_only_after_half_skin(d, box, n):
    rng = np.random.default_rng(21)
    x, types = random_system(rng, n, box, unwrapped=False)
    nl = NeighborList(RCUT2, box, skin=SKIN, half=True)
    assert nl.update(x, types) is True
    assert nl.update(x, types) is False  # nothing moved

    # every particle moves by just under skin/2 in a random direction: no rebuild, and no pair within r_c is lost
    u = rng.normal(size=x.shape)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    y = x + 0.49 * SKIN * u
    assert nl.update(y, types) is False
    within = brute_pairs(y, types, box, RCUT2, 0.0, False)
    assert within <= listed_pairs(nl, False)

    # wrapping positions back into the box is not a displacement
    z = x.copy()
    z[:10] += box * rng.integers(-3, 4, (10, d))
    assert nl.update(z, types) is False
    z = x % box
    assert nl.update(z, types) is False

    # one particle moves by just over skin/2: rebuild (also when the move crosses the periodic boundary)
    y = x.copy()
    k = int(np.argmin(x[:, 0]))
    y[k, 0] -= 0.51 * SKIN
    assert nl.update(y, types) is True
    assert nl.update(y, types) is False
    assert listed_pairs(nl, False) == brute_pairs(y, types, box, RCUT2, SKIN, False)
    y2 = y.copy()
    y2[3, 1] += 0.49 * SKIN
    assert nl.update(y2, types) is False
    y2[3, 1] += 0.02 * SKIN  # cumulative displacement since the last build now exceeds skin/2
    assert nl.update(y2, types) is True


def test_rebuild_keeps_exactness_along_a_trajectory():
    """Random-walk the particles; at every step the list (rebuilt only when update() says so) contains every pair
    within r_c."""
    rng = np.random.default_rng(2)
    box = np.full(3, 7.5)
    x, types = random_system(rng, 300, box, unwrapped=False)
    nl = NeighborList(RCUT2, box, skin=SKIN, half=True)
    rebuilt = []
    for _ in range(30):
        x = x + rng.normal(0, 0.03, x.shape)
        rebuilt.append(nl.update(x, types))
        assert brute_pairs(x, types, box, RCUT2, 0.0, False) <= listed_pairs(nl, False)
    assert any(rebuilt[1:]) and not all(rebuilt)


@pytest.mark.parametrize("box, rc, skin", [
    (np.full(3, 4.5), 2.0, 0.3),          # 2.3 > 2.25
    (np.array([10.0, 10.0, 4.0]), 1.8, 0.3),  # only the smallest side is too short
    (np.full(2, 3.0), 1.5, 0.1),
])
def test_box_too_small_raises(box, rc, skin):
    with pytest.raises(ValueError):
        NeighborList(np.array([[rc]]), box, skin=skin)


def test_box_just_large_enough_is_accepted():
    """r_c + skin = L/2 exactly is allowed, and such a list still finds the pair at the cut-off."""
    nl = NeighborList(np.array([[2.0]]), np.full(3, 4.6), skin=0.3)
    assert nl.reach == pytest.approx(2.3)
    x = np.array([[0.1, 0.1, 0.1], [2.09, 0.1, 0.1]])
    nl.build(x, np.zeros(2, np.int64))
    assert nl.n_pairs == 1
    assert NeighborList(RCUT2, np.full(2, 3.7), skin=0.3).reach <= 3.7 / 2


@pytest.mark.parametrize("skin", [0.0, -0.1, np.nan, np.inf])
def test_bad_skin_raises(skin):
    with pytest.raises(ValueError):
        NeighborList(np.array([[1.0]]), np.full(3, 10.0), skin=skin)


@pytest.mark.parametrize("box", [
    np.full(4, 10.0), np.full(1, 10.0), np.full((3, 3), 10.0), np.array([10.0, -10.0, 10.0]),
    np.array([10.0, 0.0, 10.0]), np.array([10.0, np.nan, 10.0]), np.array([10.0, np.inf, 10.0]),
])
def test_bad_box_raises(box):
    with pytest.raises(ValueError):
        NeighborList(np.array([[1.0]]), box, skin=0.3)
