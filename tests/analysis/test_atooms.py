"""F_s and MSD against atooms-pp (atooms.postprocessing) on the same random-walk trajectory, written as xyz.

Definitions compared (atooms-pp 4.4, read from its source):
- ``SelfIntermediateScattering`` averages exp(i k . dr) over *all* wave vectors of the reciprocal lattice with
  ||k| - q| < dk (both k and -k), keeps at most ``nk`` of them (a random sample, seed 1), averages over all time
  origins (``norigins=-1``) and normalises by its t = 0 value (exactly 1 for the self part). The real part of
  exp(i k . dr), summed over +-k, is our cos(k . dr) over one of each pair: identical when the shells coincide.
  Our shell is |k| in [q - pi/L, q + pi/L] (closed), atooms' is open with width dk: with dk = pi/L and q = 2 pi / L
  no lattice vector lies on an edge (|n| = 0.5 or 1.5), so both use the same 18 (atooms) / 9 (ours) vectors.
- atooms reads the *wrapped* positions for F_s (fine: k on the reciprocal lattice) and unfolds them itself for the
  MSD (``pos-unf``); we give ours the unwrapped positions. Its MSD is the plain window average over origins, ours is
  freud's FFT window MSD in float32: agreement ~1e-6 relative.
"""
import numpy as np
import pytest

pp = pytest.importorskip("atooms.postprocessing")
from atooms.trajectory import TrajectoryXYZ  # noqa: E402  (atooms-pp depends on atooms)

from meso_kernels.analysis.isf import SelfISF, fs_per_particle  # noqa: E402
from meso_kernels.analysis.msd import MSD  # noqa: E402

N, F, L, D, DT = 200, 30, 6.3, 0.15, 0.2


@pytest.fixture(scope="module")
def trajectory(tmp_path_factory):
    """A 3D random walk of N particles (species A = 0, B = 1), F equally spaced frames; unwrapped positions and the
    path of an xyz file with the wrapped ones (12 decimals: the rounding is negligible here)."""
    rng = np.random.default_rng(0)
    steps = rng.normal(0.0, np.sqrt(2 * D * DT), size=(F, N, 3))
    steps[0] = 0.0
    unwrapped = rng.random((N, 3)) * L - L / 2 + np.cumsum(steps, axis=0)
    wrapped = unwrapped - L * np.round(unwrapped / L)            # atooms cells are centred on the origin
    assert np.any(np.abs(unwrapped) > L / 2)                      # some particles do cross the box
    types = (np.arange(N) % 5 == 0).astype(int)
    path = tmp_path_factory.mktemp("atooms") / "walk.xyz"
    with open(path, "w") as fh:
        for k in range(F):
            fh.write(f"{N}\nstep:{k} columns:species,position dt:{DT} cell:{L},{L},{L}\n")
            for i in range(N):
                fh.write("%s %.12f %.12f %.12f\n" % ("AB"[types[i]], *wrapped[k, i]))
    return unwrapped, types, str(path)


def _tgrid():
    return [DT * k for k in range(F)]


def test_self_isf_agrees_with_atooms_on_the_same_shell(trajectory):
    pos, types, path = trajectory
    q = 2 * np.pi / L
    ours = SelfISF(q, max_vectors=1000).compute(pos, DT * np.arange(F), [L, L, L], types)
    assert len(ours.wave_vectors) == 9
    with TrajectoryXYZ(path) as th:
        ref = pp.SelfIntermediateScattering(th, kgrid=[q], dk=np.pi / L, nk=10000, tgrid=_tgrid(), norigins=-1)
        ref.compute()
        part = pp.Partial(pp.SelfIntermediateScattering, ["A", "B"], th, kgrid=[q], dk=np.pi / L, nk=10000,
                          tgrid=_tgrid(), norigins=-1)
        part.compute()
    # the same wave vectors (up to sign): 18 = 2 x 9
    kv = np.array(ref.kvectors[0])
    assert len(kv) == 18
    assert {tuple(np.round(k * L / (2 * np.pi)).astype(int)) for k in np.concatenate([ours.wave_vectors,
                                                                                      -ours.wave_vectors])} \
        == {tuple(np.round(k * L / (2 * np.pi)).astype(int)) for k in kv}
    assert np.allclose(ref.grid[1][1:], ours.t, rtol=1e-12)
    assert ref.value[0][0] == pytest.approx(1.0)
    assert np.max(np.abs(np.array(ref.value[0][1:]) - ours.fs_total)) < 1e-9
    for name, s in (("A", 0), ("B", 1)):
        assert np.max(np.abs(np.array(part.partial[name].value[0][1:]) - ours.fs[s])) < 1e-9
    assert ours.fs_total[-1] < 0.5                                 # a decay was compared, not only F_s ~ 1


def test_fs_per_particle_agrees_with_atooms_own_wave_vectors(trajectory):
    """atooms' default selection (8 random vectors near q = 7.2, dk = 0.1) fed to our fs_per_particle with a
    window average over origins."""
    pos, types, path = trajectory
    with TrajectoryXYZ(path) as th:
        ref = pp.SelfIntermediateScattering(th, kgrid=[7.2], tgrid=_tgrid(), norigins=-1)
        ref.compute()
    kv = np.array(ref.kvectors[0])
    assert kv.shape == (8, 3)
    ours = [np.mean([fs_per_particle(pos[j + m] - pos[j], kv).mean() for j in range(F - m)]) for m in range(1, F)]
    assert np.max(np.abs(np.array(ref.value[0][1:]) - ours)) < 1e-9


def test_msd_agrees_with_atooms(trajectory):
    pos, types, path = trajectory
    ours = MSD().compute(pos, DT * np.arange(F), [L, L, L], types)
    with TrajectoryXYZ(path) as th:
        ref = pp.MeanSquareDisplacement(th, tgrid=_tgrid(), norigins=-1)
        ref.compute()
        part = pp.Partial(pp.MeanSquareDisplacement, ["A", "B"], th, tgrid=_tgrid(), norigins=-1)
        part.compute()
    assert np.allclose(ref.grid[1:], ours.t, rtol=1e-12) and ref.value[0] == 0.0
    # freud's window MSD works in float32
    assert np.allclose(ref.value[1:], ours.msd_total, rtol=5e-6, atol=0)
    for name, s in (("A", 0), ("B", 1)):
        assert np.allclose(part.partial[name].value[1:], ours.msd[s], rtol=5e-6, atol=0)
    assert ours.msd_total[-1] > 0.25 * L                          # well beyond the first image jumps
