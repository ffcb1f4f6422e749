import pytest

from meso_kernels import presets
from meso_kernels.models import get_model
from meso_kernels.presets import SIZE_NAMES, SIZES_BY_FIGURE, RunSize, check_size, preset, sizes

PAPER_N = {"ipl": 2000, "mblj": 8000, "ss": 3000, "sw": 8000}  # Table I


def test_size_names():
    assert SIZE_NAMES == ("ci", "default", "paper")
    for name in SIZE_NAMES:
        assert check_size(name) == name


@pytest.mark.parametrize("bad", ["huge", "CI", "", None, 1])
def test_unknown_size_names_the_allowed_ones(bad):
    with pytest.raises(ValueError) as err:
        preset(bad)
    msg = str(err.value)
    assert repr(bad) in msg
    for name in SIZE_NAMES:
        assert name in msg


def test_every_entry_has_all_sizes():
    for fig, models in SIZES_BY_FIGURE.items():
        assert models, fig
        for model, per_size in models.items():
            assert set(per_size) == set(SIZE_NAMES), (fig, model)
            assert all(isinstance(r, RunSize) for r in per_size.values())


def test_sizes_grow_from_ci_to_paper():
    for fig, models in SIZES_BY_FIGURE.items():
        for model, s in models.items():
            for field in ("N", "equil_steps", "prod_steps", "n_ihs"):
                a, b, c = (getattr(s[k], field) for k in SIZE_NAMES)
                assert a <= b <= c, (fig, model, field, a, b, c)


def test_fig12_covers_the_four_models():
    assert set(sizes("fig12", "ci")) == {"ipl", "mblj", "ss", "sw"}


def test_fig12_ci_is_small():
    for model, r in sizes("fig12", "ci").items():
        assert 400 <= r.N <= 600, model
        assert r.equil_steps + r.prod_steps <= 10_000, model
        assert r.n_ihs >= 1, model


def test_fig12_default_is_larger():
    for model, r in sizes("fig12", "default").items():
        assert 1000 <= r.N <= 2000, model
        assert r.equil_steps + r.prod_steps >= 100_000, model


def test_fig12_paper_sizes_are_table_one_and_the_registry():
    for model, r in sizes("fig12", "paper").items():
        assert r.N == PAPER_N[model], model
        assert r.N == get_model(model).state_point.N, model


def test_preset_returns_a_fresh_table():
    a = preset("ci")
    a["fig12"]["ipl"] = None
    assert preset("ci")["fig12"]["ipl"] is not None
    assert preset("paper")["fig12"]["sw"] == SIZES_BY_FIGURE["fig12"]["sw"]["paper"]


def test_sizes_unknown_figure():
    with pytest.raises(ValueError, match="fig12"):
        sizes("fig99", "ci")
    with pytest.raises(ValueError, match="allowed sizes"):
        sizes("fig12", "big")


def test_runsize_validation():
    r = RunSize(N=100, equil_steps=10, prod_steps=100, n_ihs=4)
    assert r.ihs_interval == 25
    assert RunSize(10, 0, 0).ihs_interval == 0
    with pytest.raises(TypeError):
        RunSize(100.0, 10, 10)
    with pytest.raises(TypeError):
        RunSize(True, 10, 10)
    with pytest.raises(ValueError):
        RunSize(0, 10, 10)
    with pytest.raises(ValueError):
        RunSize(10, -1, 10)
    with pytest.raises(ValueError):
        RunSize(10, 10, 3, n_ihs=10)
    with pytest.raises(Exception):
        r.N = 5  # frozen


def test_doctest():
    import doctest
    assert doctest.testmod(presets).failed == 0
