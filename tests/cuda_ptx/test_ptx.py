"""Every CUDA kernel compiles to PTX for the real target (compute capability 9.0, H100/H200), without a GPU.

The simulator runs kernels as Python and accepts code the CUDA compiler rejects (an unsupported NumPy call, a
type the device cannot hold, a Python object); this test compiles each kernel that the host classes launch, for
every model, with ``numba.cuda.compile_ptx`` and the kernel's explicit signature (the one the host classes launch it
with: on a GPU the kernel is compiled for that signature only; in the simulator the launches are checked against it).

It needs NVIDIA's NVVM and NVRTC libraries (the ``numba-cuda[cu12]`` extra), not a GPU, and runs in the main test
pass: numba's simulator must be off (it has no compiler).
"""
import numba
import pytest

from meso_kernels.statepoints import MODEL_KEYS, model_for

CC = (9, 0)


def all_kernels():
    """name -> KernelSpec of every kernel of meso_kernels.cuda for the dynamics models and the 2D IPL."""
    from meso_kernels.cuda import kernels_for
    specs = {}
    for key in MODEL_KEYS + ("ipl2d",):
        for k in kernels_for(model_for(key)):
            specs.setdefault(k.name, k)
    return specs


@pytest.fixture(scope="module")
def nvvm():
    if numba.config.ENABLE_CUDASIM:
        pytest.skip("the CUDA simulator is on (NUMBA_ENABLE_CUDASIM=1): it cannot compile PTX; run without it")
    from numba import cuda

    def probe(a):
        a[0] = 1.0
    try:
        cuda.compile_ptx(probe, (numba.float64[::1],), cc=CC)
    except Exception as err:  # the CUDA toolkit's libraries are missing
        pytest.skip(f"cannot compile PTX ({type(err).__name__}: {str(err).splitlines()[0]}); "
                    "install NVIDIA's compiler wheels: pip install 'numba-cuda[cu12]'")


@pytest.mark.parametrize("name", sorted(all_kernels()))
def test_compiles_to_ptx(nvvm, name):
    spec = all_kernels()[name]
    ptx = spec.ptx(CC)
    assert f".target sm_{CC[0]}{CC[1]}" in ptx
    assert ".visible .entry" in ptx
