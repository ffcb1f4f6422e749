"""Shared figure helpers: the slab of a 3D configuration drawn by the Fig. 7 page."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from meso_kernels.plots import slab_map, slab_mask  # noqa: E402


def test_slab_mask_is_periodic():
    box = [10.0, 8.0, 6.0]
    x = np.array([[1, 1, 3.0], [1, 1, 3.69], [1, 1, 2.31], [1, 1, 3.71], [1, 1, 0.2], [1, 1, 5.9], [1, 1, -0.1]])
    assert slab_mask(x, box, 1.4).tolist() == [True, True, True, False, False, False, False]
    # a slab around z = 0 reaches across the boundary (and unwrapped positions are wrapped)
    assert slab_mask(x, box, 1.0, centre=0.0).tolist() == [False, False, False, False, True, True, True]
    assert slab_mask(x[:, ::-1], box[::-1], 1.4, axis=0).tolist() == slab_mask(x, box, 1.4).tolist()
    assert slab_mask(x, box, 6.0).all()


def test_slab_map_draws_the_slab():
    rng = np.random.default_rng(0)
    box = np.array([5.0, 5.0, 5.0])
    x = rng.random((200, 3)) * box + np.array([0.0, 0.0, 10.0])  # shifted by two boxes along z: still wrapped
    values = rng.random(200)
    values[0] = np.nan
    fig, ax = plt.subplots()
    pc, shown = slab_map(ax, x, box, values, np.full(200, 0.8), thickness=1.0)
    assert shown.sum() == len(pc.get_paths()) == np.count_nonzero(np.abs(np.mod(x[:, 2], 5.0) - 2.5) <= 0.5)
    centres = np.array([p.vertices.mean(axis=0) for p in pc.get_paths()])
    assert centres.size and np.all((centres > -0.5) & (centres < 5.5))
    plt.close(fig)
    with pytest.raises(ValueError, match=r"thickness must be in \(0, 5.0\]"):
        slab_mask(x, box, 0.0)
    with pytest.raises(ValueError, match="a 3D configuration"):
        slab_mask(x[:, :2], box[:2], 1.0)
    with pytest.raises(ValueError, match=r"values and diameters must have shape \(200,\)"):
        slab_map(ax, x, box, values[:3], np.ones(200), 1.0)
