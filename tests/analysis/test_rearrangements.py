"""Rearrangement sizes between inherent structures (meso_kernels.analysis.rearrangements; the Fig. 5 movies)."""
import numpy as np
import pytest

from meso_kernels.analysis.rearrangements import displacements, mean_spacing, rearrangement_sizes, size_summary

BOX = np.array([4.0, 4.0, 4.0])


def lattice_frames(F=4):
    """F identical frames of 64 particles on a simple cubic lattice of spacing 1 in a 4 x 4 x 4 box (a0 = 1)."""
    g = np.arange(4) + 0.05
    x = np.stack(np.meshgrid(g, g, g, indexing="ij"), axis=-1).reshape(-1, 3)
    return np.repeat(x[None], F, axis=0)


def constructed():
    """Frames 0-1 one IHS, frame 2 another (transition at 2), frame 3 a third (transition at 3).

    At frame 2: particles 0-2 move 0.3 a0 (particle 0 across the face x = 0, so its raw coordinate difference is
    about L), particle 5 moves 0.1 a0 across x = 0 as well (raw difference ~L: counted only without the minimum
    image), every other particle 0.05 a0 (the elastic halo). At frame 3: one more particle moves 0.25 a0.
    """
    X = lattice_frames()
    X[2:, :, 1] += 0.05
    X[2:, 0, 0] -= 0.3                       # 0.05 -> -0.25: wraps to 3.75
    X[2:, 1, 2] += 0.3
    X[2:, 2, 0] += 0.3
    X[2:, 5, 0] -= 0.1                       # 0.05 -> -0.05: wraps to 3.95, a small move
    X[3:, 40, 2] += 0.25
    return np.mod(X, BOX)


def test_sizes_of_a_constructed_case_with_periodic_images():
    X = constructed()
    assert mean_spacing(64, BOX) == pytest.approx(1.0)
    assert rearrangement_sizes(X, BOX, [2, 3]).tolist() == [3, 1]
    # between frames of one IHS nothing moves
    assert rearrangement_sizes(X, BOX, [1]).tolist() == [0]
    d = displacements(X, BOX, 2, 1)
    assert d[0] == pytest.approx(np.hypot(0.3, 0.05)) and d[5] == pytest.approx(np.hypot(0.1, 0.05))
    # without the minimum image the wrapped particles 0 and 5 would have moved almost a box length
    raw = np.linalg.norm(X[2] - X[1], axis=1)
    assert raw[5] > 3.5 and np.count_nonzero(raw > 0.2) == 4


def test_threshold_a0_and_float32():
    X = constructed()
    assert rearrangement_sizes(X, BOX, [2], threshold=0.04).tolist() == [64]   # the halo counts too
    assert rearrangement_sizes(X, BOX, [2], threshold=0.35).tolist() == [0]
    assert rearrangement_sizes(X, BOX, [2], a0=2.0).tolist() == [0]           # 0.2 a0 = 0.4 > 0.3
    assert rearrangement_sizes(X.astype(np.float32), BOX, [2, 3]).tolist() == [3, 1]
    assert rearrangement_sizes(X, BOX, np.array([], dtype=np.int64)).tolist() == []


def test_sizes_do_not_depend_on_where_the_box_starts():
    """A rigid translation of every frame, wrapped back into the box, changes no displacement."""
    X = constructed()
    shifted = np.mod(X + np.array([1.93, -0.71, 3.02]), BOX)
    assert rearrangement_sizes(shifted, BOX, [2, 3]).tolist() == [3, 1]
    np.testing.assert_allclose(displacements(shifted, BOX, 2, 1), displacements(X, BOX, 2, 1), atol=1e-12)


def test_size_summary():
    assert size_summary([4, 0, 10, 2]) == (4, 3.0, 0, 10, 4.0)
    count, med, lo, hi, mean = size_summary([])
    assert count == 0 and np.isnan(med) and np.isnan(lo) and np.isnan(hi) and np.isnan(mean)


@pytest.mark.parametrize("transitions, match", [([0], r"\[1, 4\)"), ([4], r"\[1, 4\)"), ([1.5], "integer"),
                                                ([[1, 2]], "1-d")])
def test_bad_transitions(transitions, match):
    with pytest.raises(ValueError, match=match):
        rearrangement_sizes(constructed(), BOX, transitions)


def test_bad_inputs():
    X = constructed()
    with pytest.raises(ValueError, match=r"shape \(F, N, d\)"):
        rearrangement_sizes(X[0], BOX, [1])
    with pytest.raises(ValueError, match=r"F >= 2"):
        rearrangement_sizes(X[:1], BOX, [])
    with pytest.raises(ValueError, match="box must be 3 positive"):
        rearrangement_sizes(X, BOX[:2], [2])
    with pytest.raises(ValueError, match="threshold"):
        rearrangement_sizes(X, BOX, [2], threshold=0.0)
    with pytest.raises(ValueError, match="a0"):
        rearrangement_sizes(X, BOX, [2], a0=-1.0)
    bad = X.copy()
    bad[1, 3, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        rearrangement_sizes(bad, BOX, [2])
    with pytest.raises(ValueError, match=r"k must be a frame index in \[0, 4\)"):
        displacements(X, BOX, 4, 0)
