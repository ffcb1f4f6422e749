import numpy as np
import pytest

from meso_kernels.presets import SIZE_NAMES
from meso_kernels.statepoints import ALL_KEYS, MODEL_KEYS, SCHEDULES, check_key, label, model_for, schedule


def test_every_model_has_every_size():
    for size in SIZE_NAMES:
        assert set(SCHEDULES[size]) == set(ALL_KEYS)


@pytest.mark.parametrize("size", SIZE_NAMES)
@pytest.mark.parametrize("key", MODEL_KEYS)
def test_schedules_cool_down_and_measure_longer(size, key):
    s = schedule(size, key)
    T = np.array(s.temperatures)
    assert len(T) >= 2 and np.all(np.diff(T) < 0), "temperatures are listed from hot to cold"
    for p in s.points:
        assert p.prod_steps >= 2 * p.equil_steps / 5 and p.prod_steps >= 2_000
    prod = [p.prod_steps for p in s.points]
    assert prod == sorted(prod), "colder state points measure at least as long"
    assert s.at(T[-1]).T == T[-1]


def test_model_for_and_labels():
    assert model_for("ss0.7").state_point.rho == 0.7
    assert model_for("mblj").name == "mblj"
    assert label("ss0.95") == "SS ρ=0.95" and label("sw") == "SW"
    assert schedule("paper", "ipl").N == 2000 and schedule("paper", "sw").N == 8000


def test_errors_name_what_is_allowed():
    with pytest.raises(ValueError, match="allowed: ipl, mblj, ss0.6, ss0.7, ss0.95, sw"):
        check_key("ss0.8")
    with pytest.raises(ValueError, match="allowed sizes"):
        schedule("big", "ipl")
    with pytest.raises(ValueError, match="scheduled"):
        schedule("ci", "ipl").at(0.123)
