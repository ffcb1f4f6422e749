"""Device energy, forces and virial (meso_kernels.cuda.forces) against the CPU ForceField, for every model.

Norms, each <= 1e-12:
- energy and virial: relative, |U_dev - U_cpu| / |U_cpu| and |W_dev - W_cpu| / |W_cpu|;
- forces: max_i |F_dev,i - F_cpu,i| relative to the pair-force scale max_i sum_j |f_ij| (the magnitudes summed
  into a force: rounding is relative to them, and near mechanical balance |F_i| is far smaller; SS's large
  polynomial coefficients make its pair forces cancel to ~1e-13 of themselves). max_i |dF_i| / max_i |F_i| is
  printed too (run with -s).
The two sides sum the same pair terms in different orders (the device evaluates each pair twice, once per member,
and sums per particle), so they agree to rounding, not bits.
"""
import doctest

import numpy as np
import pytest

from cuda_cases import KEYS, device_case, needs_cuda

from meso_kernels import cuda as mcuda

pytestmark = needs_cuda

TOL = 1e-12


def pair_force_scale(m, s):
    """max_i sum_j |f_ij| over the pairs within r_c (minimum image, all pairs; two-body terms)."""
    x, L, t = s.positions, s.box, s.types
    dr = x[None, :, :] - x[:, None, :]
    dr -= L * np.round(dr / L)
    r = np.sqrt((dr**2).sum(-1))
    tot = np.zeros(s.N)
    for a in range(m.n_types):
        for b in range(m.n_types):
            sel = (t[:, None] == a) & (t[None, :] == b) & (r < m.rcut[a, b]) & (r > 0)
            _, sv, _ = m.phi(r[sel], a, b)
            np.add.at(tot, np.nonzero(sel)[0], np.abs(sv) * r[sel])
    return tot.max()


@pytest.mark.parametrize("key", KEYS)
def test_matches_cpu(key):
    m, s, cpu, dev, ff = device_case(key)
    (U, F, W), (Ud, Fd, Wd) = cpu, dev
    assert Fd.shape == F.shape
    eU = abs(Ud - U) / abs(U)
    eW = abs(Wd - W) / abs(W)
    dF = np.linalg.norm(Fd - F, axis=1).max()
    scale = pair_force_scale(m, s)
    eF = dF / scale
    print(f"{key}: N={s.N} U={U:.6g} W={W:.6g} max|F_i|={np.linalg.norm(F, axis=1).max():.3g} "
          f"max sum|f_ij|={scale:.3g} | rel. err. U {eU:.1e} W {eW:.1e} F {eF:.1e} "
          f"(F relative to max|F_i|: {dF / np.linalg.norm(F, axis=1).max():.1e})")
    assert eU <= TOL and eW <= TOL and eF <= TOL, (eU, eW, eF)
    # Newton's third law holds to rounding (the device sums each particle's own row: no exact cancellation)
    assert np.abs(dev[1].sum(axis=0)).max() <= 1e-12 * np.abs(dev[1]).sum()
    # per-particle halves add up to the totals
    e = ff.energies.copy_to_host()
    w = ff.virials.copy_to_host()
    assert abs(e.sum() - dev[0]) <= 1e-13 * np.abs(e).sum() and abs(w.sum() - dev[2]) <= 1e-13 * np.abs(w).sum()


def test_deterministic_and_list_reuse():
    """A second evaluation at the same positions reuses the list (no rebuild) and gives bit-identical results."""
    m, s, cpu, dev, ff = device_case("sw")
    builds = ff.nl.n_builds
    again = ff.compute(s.positions, s.types)
    assert ff.nl.n_builds == builds
    assert again[0] == dev[0] and again[2] == dev[2] and np.array_equal(again[1], dev[1])


def test_rejects_bad_input():
    from meso_kernels.cuda.forces import DeviceForceField
    m, s, cpu, dev, ff = device_case("ipl")
    with pytest.raises(ValueError, match="box must have shape"):
        DeviceForceField(m, s.box[:2])
    with pytest.raises(ValueError, match="positions must have shape"):
        ff.compute(s.positions[:, :2], s.types)
    with pytest.raises(ValueError, match="types must lie in"):
        ff.compute(s.positions, np.full(s.N, 2))
    with pytest.raises(ValueError, match="types must have shape"):
        ff.compute(s.positions, s.types[:-1])


def test_require_without_gpu(monkeypatch):
    monkeypatch.setattr(mcuda.cuda, "is_available", lambda: False)
    assert not mcuda.available()
    msg = ("no CUDA GPU found (numba.cuda.is_available() is False); use backend='cpu' (the default), or set "
           "NUMBA_ENABLE_CUDASIM=1 to run the kernels in numba's simulator, slowly")
    with pytest.raises(RuntimeError) as err:
        mcuda.check_backend("cuda")
    assert str(err.value) == msg
    assert mcuda.check_backend("cpu") == "cpu"
    assert mcuda.device_name().startswith("numba CUDA simulator") or mcuda.device_name() == "none"


def test_check_backend():
    assert mcuda.check_backend("cuda") == "cuda"
    for bad in ("gpu", "CUDA", None, 1):
        with pytest.raises(ValueError, match=r"backend=.* is not allowed; allowed values: 'cpu', 'cuda'"):
            mcuda.check_backend(bad)
    assert mcuda.device_name() != "none"


def test_signature_check():
    """In the simulator a launch with other argument types than the kernel's signature (the one compiled to PTX)
    fails, so the simulator tests run what the PTX test compiles."""
    if not mcuda.simulator():
        pytest.skip("the argument check is the simulator's (a GPU compiles for the signature only)")
    from meso_kernels.cuda.forces import sum_kernel
    k = sum_kernel()
    with pytest.raises(TypeError, match="argument 0 has type"):
        k[1, 64](mcuda.cuda.to_device(np.zeros(4, np.float32)), mcuda.cuda.to_device(np.zeros(4)),
                 mcuda.cuda.to_device(np.zeros(2)))


@pytest.mark.parametrize("module", ["meso_kernels.cuda", "meso_kernels.cuda.forces", "meso_kernels.cuda.neighbors"])
def test_docstring_examples(module):
    """The modules' examples with the device on (the main doctest pass runs them without one)."""
    import importlib
    res = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert res.failed == 0 and res.attempted > 0
