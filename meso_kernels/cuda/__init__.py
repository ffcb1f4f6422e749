"""The CUDA backend: numba-cuda kernels made by small factories from the same scalar potentials as the CPU drivers.

``backend="cpu"`` (numba on the CPU) is the default everywhere; ``backend="cuda"`` runs the kernels of this package
on an NVIDIA GPU, or, with ``NUMBA_ENABLE_CUDASIM=1`` set before numba is first imported, in numba's CUDA simulator
(pure Python, slow: for tests at tiny sizes).

- :mod:`meso_kernels.cuda.forces`: energy, forces and virial (:class:`~meso_kernels.cuda.forces.DeviceForceField`,
  the device twin of :class:`meso_kernels.forces.ForceField`);
- :mod:`meso_kernels.cuda.neighbors`: a full Verlet list with skin built on the device from a cell list
  (:class:`~meso_kernels.cuda.neighbors.DeviceNeighborList`);
- :mod:`meso_kernels.cuda.integrate`: velocity-Verlet NVE and Nosé–Hoover-chain NVT steps that stay on the device
  (``NVE(..., backend="cuda")``, ``NoseHoover(..., backend="cuda")``);
- :mod:`meso_kernels.cuda.quench`: FIRE on the device (``quench(..., method="fire", backend="cuda")``);
- :mod:`meso_kernels.cuda.hessian`: the matrix-free Hessian–vector product (pair models and SW's three-body term)
  and its block-Jacobi preconditioner; :mod:`meso_kernels.cuda.linsolve`: CG over many right-hand sides at once
  (``DipoleStiffness(solver="cg", backend="cuda")``, ``shear_modulus(..., backend="cuda")``).

:func:`kernels_for` lists every kernel a model uses (the PTX compile test compiles each of them).

One definition of each potential: the kernels call the models' ``@njit`` scalar functions
(:func:`meso_kernels.models.dispatch.pair_eval`, :func:`meso_kernels.models.sw.triplet`,
:func:`meso_kernels.models.sw.triplet_hessian`) directly; numba-cuda compiles an ``@njit`` function called from a
kernel for the device (and the simulator runs the CPU-compiled function). No formula is written a second time here.

Every kernel is a :class:`KernelSpec`: its Python function, the explicit numba signature the host classes launch it
with, and the launch itself. On a GPU the kernel is compiled for exactly that signature (so a launch with other
argument types fails instead of compiling something untested); in the simulator the argument types are checked
against it; :meth:`KernelSpec.ptx` compiles it to PTX without a GPU (``tests/cuda_ptx``).

>>> from meso_kernels.cuda import check_backend
>>> check_backend("cpu")
'cpu'
>>> check_backend("gpu")
Traceback (most recent call last):
...
ValueError: backend='gpu' is not allowed; allowed values: 'cpu', 'cuda'
"""
import math

import numba
from numba import cuda, float64, int32

__all__ = ["BACKENDS", "KernelSpec", "available", "check_backend", "device_function", "device_name", "kernels_for",
           "require", "simulator", "DeviceForceField", "DeviceNeighborList"]

#: the values of every ``backend=`` parameter
BACKENDS = ("cpu", "cuda")

#: threads per block of the one-thread-per-particle kernels
TPB = 64

#: the array types of the kernels' signatures (C-contiguous): float64 of 1, 2, 3 dimensions, int32 of 1, 2
F1, F2, F3 = float64[::1], float64[:, ::1], float64[:, :, ::1]
I1, I2 = int32[::1], int32[:, ::1]

_NO_GPU = ("no CUDA GPU found (numba.cuda.is_available() is False); use backend='cpu' (the default), or set "
           "NUMBA_ENABLE_CUDASIM=1 to run the kernels in numba's simulator, slowly")


def simulator():
    """True when numba's CUDA simulator is on (``NUMBA_ENABLE_CUDASIM=1`` was set before numba was imported)."""
    return bool(numba.config.ENABLE_CUDASIM)


def available():
    """True when CUDA kernels can run here: a usable NVIDIA GPU with its driver, or the simulator."""
    try:
        return bool(cuda.is_available())
    except Exception:  # a broken driver installation: no GPU for us
        return False


def require():
    """Raise ``RuntimeError`` (saying what to do instead) unless :func:`available`."""
    if not available():
        raise RuntimeError(_NO_GPU)


def device_name():
    """The device the kernels run on, for provenance records: the GPU's name and compute capability, the simulator,
    or ``"none"``."""
    if simulator():
        return "numba CUDA simulator (NUMBA_ENABLE_CUDASIM=1)"
    if not available():
        return "none"
    dev = cuda.get_current_device()
    name = dev.name.decode() if isinstance(dev.name, bytes) else str(dev.name)
    cc = dev.compute_capability
    return f"{name} (compute capability {cc[0]}.{cc[1]})"


def check_backend(backend):
    """Validate a ``backend`` parameter: ``"cpu"`` or ``"cuda"`` (returned as given). ``"cuda"`` without a GPU (or
    the simulator) raises the ``RuntimeError`` of :func:`require`; anything else raises ``ValueError``."""
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise ValueError(f"backend={backend!r} is not allowed; allowed values: 'cpu', 'cuda'")
    if backend == "cuda":
        require()
    return backend


def device_function(func):
    """``func`` as a device function that several kernels call (one definition of a piece of kernel code), made for
    the way the kernels run:

    - compiled (on a GPU, or by :meth:`KernelSpec.ptx` without one): ``numba.njit(inline="always")``, which
      numba-cuda types inside the calling kernel and inlines there at the IR level, as it does the models' scalar
      potentials. (A ``cuda.jit(device=True)`` function is compiled on its own for the compute capability of the
      current GPU, which it asks the driver for: no PTX without a GPU.) ``func`` may use ``cuda.local.array`` with
      sizes that are compile-time constants (closure variables of a factory);
    - in the simulator: ``cuda.jit(device=True)``, run as Python with the simulator's device arrays and its
      ``cuda.local`` (the CPU build of an ``njit`` function rejects both).

    The choice is made when ``func`` is defined: the simulator is on or off for the whole process."""
    if simulator():
        return cuda.jit(device=True)(func)
    return numba.njit(inline="always")(func)


def blocks(n, tpb=TPB):
    """Number of blocks of ``tpb`` threads that cover ``n`` threads (at least one)."""
    return max(1, math.ceil(n / tpb))


class KernelSpec:
    """A kernel made by a factory.

    ``name``: for messages; ``py_func``: the Python function (the kernel's source; closures over compile-time
    constants such as the dimension or the potential kind); ``signature``: the numba signature
    (``numba.types.void(...)``) with which the host classes launch it (float64 everywhere, int32 indices).

    ``spec[griddim, blockdim](*args)`` launches it. On a GPU the kernel is compiled on first use for ``signature``
    only; in the simulator the arguments' numba types are checked against ``signature`` (so the types the simulator
    tests run are the ones :meth:`ptx` compiles)."""

    def __init__(self, name, py_func, signature):
        self.name = name
        self.py_func = py_func
        self.signature = signature
        self._kernel = None

    @property
    def kernel(self):
        """The ``numba.cuda`` dispatcher (compiled on first access on a GPU)."""
        if self._kernel is None:
            if simulator():
                self._kernel = cuda.jit(self.py_func)
            else:
                self._kernel = cuda.jit(self.signature)(self.py_func)
        return self._kernel

    def check_args(self, args):
        """Raise ``TypeError`` unless the numba types of ``args`` are those of :attr:`signature`."""
        want = self.signature.args
        if len(args) != len(want):
            raise TypeError(f"kernel {self.name}: {len(args)} arguments, signature has {len(want)}")
        for k, (a, t) in enumerate(zip(args, want)):
            got = getattr(a, "_numba_type_", None) or numba.typeof(a)
            if isinstance(t, numba.types.Array):
                ok = isinstance(got, numba.types.Array) and (got.dtype, got.ndim, got.layout) == (t.dtype, t.ndim,
                                                                                                 t.layout)
            else:
                ok = got == t
            if not ok:
                raise TypeError(f"kernel {self.name}: argument {k} has type {got}, signature says {t}")

    def __getitem__(self, config):
        kernel = self.kernel[config]
        if not simulator():
            return kernel

        def launch(*args):
            self.check_args(args)
            return kernel(*args)
        return launch

    def ptx(self, cc=(9, 0)):
        """PTX for compute capability ``cc`` (needs NVVM, not a GPU; not available in the simulator)."""
        if simulator():
            raise RuntimeError("compile_ptx is not available in the CUDA simulator (unset NUMBA_ENABLE_CUDASIM)")
        ptx, _ = cuda.compile_ptx(self.py_func, self.signature.args, cc=cc)
        return ptx

    def __repr__(self):
        return f"KernelSpec({self.name!r}, {self.signature})"


def __getattr__(name):
    # the host classes, imported on first use so that `import meso_kernels.cuda` stays light
    if name == "DeviceForceField":
        from .forces import DeviceForceField
        return DeviceForceField
    if name == "DeviceNeighborList":
        from .neighbors import DeviceNeighborList
        return DeviceNeighborList
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def kernels_for(model):
    """Every :class:`KernelSpec` the device classes launch for ``model`` (forces, neighbour list, MD, FIRE, Hessian–
    vector product, CG), without duplicates: what ``tests/cuda_ptx`` compiles to PTX."""
    from . import forces, hessian, integrate, linsolve, neighbors, quench
    specs = {}
    for k in (forces.kernels_for(model) + neighbors.kernels(model.dim) + integrate.kernels(model.dim)
              + quench.kernels(model.dim) + hessian.kernels_for(model) + linsolve.kernels(model.dim)):
        specs.setdefault(k.name, k)
    return list(specs.values())
