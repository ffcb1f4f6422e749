"""Climbing-image nudged elastic band: saddles of the Müller–Brown surface against a Newton solve of grad E = 0, a
periodic analytic landscape, a transition between two neighbouring inherent structures of a small 2D IPL glass, and
the refusals."""
import numpy as np
import pytest

from conftest import make_glass, neighbouring_minimum
from meso_kernels.hessian import build_terms, hessian_matrix
from meso_kernels.neb import muller_brown, neb
from meso_kernels.system import System

pytestmark = pytest.mark.usefixtures("one_thread")

#: Müller–Brown band options: FIRE's time step scaled to the surface's curvatures (up to ~2e3)
MB = {"n_images": 9, "spring": 10.0, "dt_max": 0.02}


def _gradient(p):
    return -muller_brown(p)[1]


def _jacobian(p, h=1e-6):
    """Central differences of the analytic gradient (no Hessian code of the library involved)."""
    return np.column_stack([(_gradient(p + h * e) - _gradient(p - h * e)) / (2 * h) for e in np.eye(2)])


def _stationary(guess):
    """Newton's method on grad E = 0 from a literature estimate; returns the point and its Hessian eigenvalues."""
    p = np.array(guess, dtype=float)
    for _ in range(50):
        step = np.linalg.solve(_jacobian(p), _gradient(p))
        p -= step
        if np.abs(step).max() < 1e-14:
            break
    assert np.linalg.norm(_gradient(p)) < 1e-10
    return p, np.linalg.eigvalsh(0.5 * (_jacobian(p) + _jacobian(p).T))


#: the three minima, from literature estimates (Müller & Brown 1979)
MINIMA = {name: _stationary(guess)[0] for name, guess in
          (("A", (-0.558, 1.442)), ("B", (0.623, 0.028)), ("C", (-0.050, 0.467)))}


def _energy(p):
    return float(muller_brown(p)[0])


@pytest.mark.parametrize("ends, guess, e_lit", [(("A", "C"), (-0.822, 0.624), -40.665),
                                                (("C", "B"), (0.212, 0.293), -72.249)], ids=["A-C", "C-B"])
def test_muller_brown_saddles(ends, guess, e_lit):
    saddle, curvatures = _stationary(guess)
    assert curvatures[0] < 0 < curvatures[1]                 # a first-order saddle
    e_ref = _energy(saddle)
    assert abs(e_ref - e_lit) < 1e-3                         # the literature's saddle, not another stationary point
    a, b = (MINIMA[k] for k in ends)
    res = neb(a, b, energy_forces=muller_brown, ftol=1e-8, **MB)
    assert res.converged, res.summary()
    assert np.abs(res.saddle - saddle).max() < 1e-6
    assert abs(res.saddle_energy - e_ref) < 1e-6
    assert abs(res.barrier_forward - (e_ref - _energy(a))) < 1e-6
    assert abs(res.barrier_backward - (e_ref - _energy(b))) < 1e-6
    assert res.barrier_forward > 0 and res.barrier_backward > 0
    assert np.array_equal(res.path[0], a) and np.array_equal(res.path[-1], b)


def test_muller_brown_climbing_image_is_the_converged_maximum():
    # A -> B passes minimum C: the band holds both saddles and the climbing image takes the higher one
    ftol = 1e-8
    res = neb(MINIMA["A"], MINIMA["B"], energy_forces=muller_brown, ftol=ftol, **{**MB, "n_images": 11})
    assert res.converged, res.summary()
    assert res.climbing_force < ftol
    assert res.max_perpendicular_force < ftol              # one "particle": |F_perp| <= |F_NEB|
    assert int(np.argmax(res.energies)) == res.saddle_index
    assert 0 < res.saddle_index < res.n_images - 1
    saddle, _ = _stationary((-0.822, 0.624))
    assert np.abs(res.saddle - saddle).max() < 1e-6
    assert res.energies.shape == (11,) and res.path.shape == (11, 2)
    assert np.allclose(res.energies, [_energy(p) for p in res.path], rtol=0, atol=1e-12)
    s = res.path_coordinate
    assert s[0] == 0 and np.all(np.diff(s) > 0)
    assert np.isclose(s[-1], np.linalg.norm(np.diff(res.path, axis=0), axis=1).sum())
    assert s[-1] > np.linalg.norm(MINIMA["B"] - MINIMA["A"])
    with pytest.raises(ValueError, match="system"):
        res.system(0)                                       # no box: a callable landscape
    # without climbing the highest image only approximates the saddle, from below
    plain = neb(MINIMA["A"], MINIMA["B"], energy_forces=muller_brown, climb=False, ftol=1e-5,
                **{**MB, "n_images": 11})
    assert plain.converged, plain.summary()
    assert plain.saddle_energy < res.saddle_energy and plain.climbing_force > 1e-3


def test_periodic_callable_landscape_follows_the_displacement():
    # E = -cos(6 pi x) + 5 y^2, periodic in x with period 1: minima at x = 0, 1/3, 2/3. Between 0 and 2/3 the minimum
    # image goes backwards through one barrier, at x = -1/6 (E = 1).
    def energy_forces(p):
        return -np.cos(6 * np.pi * p[0]) + 5 * p[1] ** 2, -np.array([6 * np.pi * np.sin(6 * np.pi * p[0]), 10 * p[1]])

    def displacement(a, b):
        d = b - a
        d[..., 0] -= np.round(d[..., 0])
        return d

    res = neb([0.0, 0.0], [2 / 3, 0.0], energy_forces=energy_forces, displacement=displacement, n_images=7,
              spring=10.0, ftol=1e-9, dt_max=0.05)
    assert res.converged, res.summary()
    assert abs(res.saddle[0] + 1 / 6) < 1e-8 and abs(res.saddle[1]) < 1e-8
    assert abs(res.saddle_energy - 1.0) < 1e-12 and abs(res.barrier_forward - 2.0) < 1e-12
    assert np.allclose(res.path[-1], [-1 / 3, 0.0], rtol=0, atol=1e-15)   # continuous: the end, one period back
    assert np.isclose(res.path_coordinate[-1], 1 / 3)


# ---------------------------------------------------------------------------------------------------------------------
# a small periodic glass
# ---------------------------------------------------------------------------------------------------------------------

def _min_image(d, box):
    return d - box * np.round(d / box)


@pytest.fixture(scope="module")
def neighbours():
    """Two neighbouring inherent structures of the 2D IPL glass (N = 80): quench the glass pushed along one of its
    softest normal modes, farther until it falls into another minimum. Both are then translated so that the particle
    that moves most crosses the box boundary between them. Returns (model, start, end, E_start, E_end)."""
    m, a = make_glass("ipl2d")
    b, e_a, e_b = neighbouring_minimum(m, a)
    d = _min_image(b.positions - a.positions, a.box)
    p = int(np.argmax(np.linalg.norm(d, axis=1)))
    k = int(np.argmax(np.abs(d[p])))
    shift = np.zeros(a.dim)
    shift[k] = -(a.positions[p, k] + 0.5 * d[p, k])   # p's midway point onto the boundary
    start = System.wrapped(a.positions + shift, a.box, a.types)
    end = System.wrapped(b.positions + shift, b.box, b.types)
    assert abs(end.positions[p, k] - start.positions[p, k]) > 0.5 * a.box[k]   # crosses the box
    return m, start, end, e_a, e_b


def test_glass_transition_between_neighbouring_inherent_structures(neighbours):
    m, start, end, e_start, e_end = neighbours
    ftol = 1e-8
    res = neb(start, end, m, n_images=7, ftol=ftol, max_steps=10_000)
    assert res.converged, res.summary()
    assert res.climbing_force < ftol
    assert np.isclose(res.energies[0], e_start, rtol=1e-12) and np.isclose(res.energies[-1], e_end, rtol=1e-12)
    assert res.barrier_forward >= 0 and res.barrier_backward >= 0
    assert np.isclose(res.barrier_forward - res.barrier_backward, e_end - e_start, rtol=0, atol=1e-9)
    assert int(np.argmax(res.energies)) == res.saddle_index
    # continuous under the minimum image; the end points are the given minima
    L = start.box
    assert res.path.shape == (7, start.N, 2)
    assert np.abs(np.diff(res.path, axis=0)).max() < 0.5 * L.min()
    assert np.abs(_min_image(res.system(0).positions - start.positions, L)).max() < 1e-12
    assert np.abs(_min_image(res.system(-1).positions - end.positions, L)).max() < 1e-12
    assert np.array_equal(res.system(3).types, start.types)
    # the climbing image is a first-order saddle: one negative Hessian eigenvalue
    saddle = res.system(res.saddle_index)
    w = np.linalg.eigvalsh(hessian_matrix(build_terms(saddle, m)).toarray())
    tol = 1e-7 * np.abs(w).max()
    assert w[0] < -tol and w[1] > -tol, w[:4]


# ---------------------------------------------------------------------------------------------------------------------
# refusals
# ---------------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, match", [
    ({"n_images": 2}, "n_images must be an integer >= 3"),
    ({"n_images": 4.0}, "n_images"),
    ({"spring": 0.0}, "spring must be a finite number > 0"),
    ({"spring": -1.0}, "spring"),
    ({"ftol": 0.0}, "ftol"),
    ({"max_steps": 0}, "max_steps"),
    ({"end_ftol": -1.0}, "end_ftol"),
    ({"climb": "yes"}, "climb"),
    ({"callback": print}, "unknown option.*allowed"),
    ({"monitor": 1.0}, "monitor must be None or callable"),
])
def test_refuses_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        neb(MINIMA["A"], MINIMA["C"], energy_forces=muller_brown, **kwargs)


def test_refuses_end_points_that_are_not_distinct_minima():
    with pytest.raises(ValueError, match=r"start is not a minimum: max_i \|F_i\| = .* exceeds end_ftol"):
        neb([-0.6, 1.4], MINIMA["C"], energy_forces=muller_brown)
    with pytest.raises(ValueError, match="end is not a minimum"):
        neb(MINIMA["A"], MINIMA["C"] + 1e-3, energy_forces=muller_brown)
    with pytest.raises(ValueError, match="coincides"):
        neb(MINIMA["A"], MINIMA["A"] + 1e-9, energy_forces=muller_brown, end_ftol=1e-3)
    with pytest.raises(ValueError, match="shape"):
        neb(MINIMA["A"], [0.0, 0.0, 0.0], energy_forces=muller_brown)
    with pytest.raises(ValueError, match="exactly one of model"):
        neb(MINIMA["A"], MINIMA["C"])
    with pytest.raises(ValueError, match="energy_forces must be callable"):
        neb(MINIMA["A"], MINIMA["C"], energy_forces=1.0)


def test_not_converged_warns():
    with pytest.warns(RuntimeWarning, match="neb did not converge"):
        res = neb(MINIMA["A"], MINIMA["C"], energy_forces=muller_brown, max_steps=3, **MB)
    assert not res.converged and res.n_iter == 3 and "max_steps" in res.message


def test_monitor_sees_the_energies_and_stops_the_band():
    """``monitor(energies)`` is called after every iteration with the M image energies; True stops the band there,
    not converged; a monitor that never stops leaves the band as without it (to the bit)."""
    seen = []

    def monitor(E):
        seen.append(E)
        return len(seen) == 5

    with pytest.warns(RuntimeWarning, match="stopped by monitor"):
        res = neb(MINIMA["A"], MINIMA["C"], energy_forces=muller_brown, monitor=monitor, **MB)
    assert not res.converged and res.n_iter == 5 and len(seen) == 5 and seen[0].shape == (9,)
    assert np.array_equal(seen[-1], res.energies)
    free = neb(MINIMA["A"], MINIMA["C"], energy_forces=muller_brown, monitor=lambda E: False, **MB)
    plain = neb(MINIMA["A"], MINIMA["C"], energy_forces=muller_brown, **MB)
    assert free.converged and np.array_equal(free.path, plain.path) and free.n_iter == plain.n_iter


def test_refuses_mismatched_or_unquenched_systems():
    m, a = make_glass("ipl2d")
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="N=79 particles but start has N=80"):
        neb(a, System(a.positions[:-1], a.box, a.types[:-1]), m)
    types = a.types.copy()
    types[0] = 1 - types[0]
    with pytest.raises(ValueError, match="types differ"):
        neb(a, System(a.positions, a.box, types), m)
    with pytest.raises(ValueError, match="box"):
        neb(a, System(a.positions, 1.01 * a.box, a.types), m)
    hot = System.wrapped(a.positions + 1e-3 * rng.standard_normal(a.positions.shape), a.box, a.types)
    with pytest.raises(ValueError, match="end is not a minimum.*quench"):
        neb(a, hot, m)
    with pytest.raises(ValueError, match="start is not a minimum.*quench"):
        neb(hot, a, m, end_ftol=1e-4)
    with pytest.raises(ValueError, match="start must be a System"):
        neb(a.positions, a, m)
    with pytest.raises(ValueError, match="displacement"):
        neb(a, a, m, displacement=lambda x, y: y - x)
    with pytest.raises(ValueError, match="coincides"):
        neb(a, a, m)
