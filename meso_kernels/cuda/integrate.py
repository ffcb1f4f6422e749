"""Molecular dynamics on the device: velocity-Verlet NVE and Nosé–Hoover-chain NVT steps whose state (positions,
velocities, forces, thermostat chain) stays on the GPU; the device twins of :class:`meso_kernels.integrate.NVE` and
:class:`meso_kernels.integrate.NoseHoover` (same equations, parameters, units: MODELS.md section 5; unit masses).

One step, as the CPU ``_md_loop`` (same order of operations; ``s`` the pending thermostat scaling of the
velocities, applied lazily and fused into the next velocity pass as on the CPU):

1. ``nhc_begin`` (one thread): s <- pending * NHC_half(ke2) (chain over dt/2 by
   :func:`meso_kernels.integrate._nhc_half`, the CPU's own ``@njit`` function: no second copy of the chain);
2. ``kick_drift`` (one thread per particle): v <- s v + dt/2 F; x <- x + dt v;
3. forces (:class:`~meso_kernels.cuda.forces.DeviceForceField`; the neighbour list is rebuilt by its skin
   criterion);
4. ``kick_ke`` (one thread per particle): v <- v + dt/2 F; k_i = |v_i|^2;
5. ``nhc_end`` (one block): ke2 = sum_i k_i (fixed order: thread t sums i = t, t + RB, ..., then thread 0 sums
   the RB partial sums in order: one barrier, cheap in the simulator),
   then one thread: pending <- NHC_half(ke2), ke2 <- pending^2 ke2.

The chain (xi, p_xi, Q) and the scalars (pending, ke2) live in small device arrays and are updated by steps 1 and
5 on the device: nothing is read back per step except the one float of the neighbour list's skin test
(:meth:`~meso_kernels.cuda.neighbors.DeviceNeighborList.needs_update`, a host decision: rebuild or not). Positions
are not wrapped (the device kernels take minimum images), so :attr:`DeviceNVE.x` is the unwrapped trajectory.

Differences from the CPU integrator (why trajectories agree only to rounding, then diverge as any chaotic
trajectory does): the device sums the force of a pair twice (once per member of the full list) and reduces
kinetic energies and potential energies in another order than the CPU's threads; particles are not reordered.
Checkpoints (``state``/``from_state``) and Lees–Edwards shear are not implemented on the device.

Provenance: :attr:`DeviceNVE.backend` is ``"cuda"``, :attr:`DeviceNVE.device` the device's name
(:func:`meso_kernels.cuda.device_name`).

Example (runs only with a GPU or the simulator):

>>> import numpy as np
>>> from meso_kernels import cuda as mcuda
>>> from meso_kernels.models import get_model
>>> from meso_kernels.initial import random_configuration
>>> m = get_model("ipl")
>>> if mcuda.available():
...     from meso_kernels.cuda.integrate import DeviceNoseHoover
...     sim = DeviceNoseHoover(random_configuration(m, 100, 0.82, seed=1), m, dt=0.002, T=1.0, tau=0.2, seed=1)
...     sim.run(2)
...     steps = sim.step
... else:
...     steps = 2
>>> steps
2
"""
import functools
import math

import numpy as np
from numba import cuda, float64, njit, types

from ..integrate import NVE, check_nve_parameters, check_nvt_parameters, nhc_chain
from ..integrate import _nhc_half as _nhc_half_cpu
from . import F1, F2, TPB, KernelSpec, blocks, device_function, device_name, require
from .forces import RB, DeviceForceField


#: the CPU chain half step, the same Python function compiled with IR inlining (as the models' scalar potentials
#: are): numba-cuda then types it inside the kernel, where a separately compiled device function would ask the
#: driver for the current GPU (and so could not be compiled to PTX without one)
_nhc_half = njit(inline="always")(_nhc_half_cpu.py_func)

# layout of the device scalars ``th``: the pending velocity scaling, sum (s v)^2, the scaling of the current step
_PENDING, _KE2, _SCALE = 0, 1, 2


@functools.lru_cache(maxsize=None)
def chain_half_step(chain):
    """The device function ``half(ke2, xi (M,), pxi (M,), Q (M,), g, T, dt) -> s`` for a chain of ``chain`` = M
    thermostats (compile time): :func:`meso_kernels.integrate._nhc_half` on a thread's local copies of the chain,
    then xi and pxi written back; returns the velocity scaling s. (Local copies: on the GPU registers; in the
    simulator NumPy arrays, which the CPU-compiled ``_nhc_half`` accepts where it rejects the simulator's device
    arrays.) Shared by the kernels of :func:`nhc_begin_kernel` and :func:`nhc_end_kernel`."""
    M = int(chain)

    @device_function
    def half(ke2, xi, pxi, Q, g, T, dt):
        lx = cuda.local.array(M, float64)
        lp = cuda.local.array(M, float64)
        lq = cuda.local.array(M, float64)
        for k in range(M):
            lx[k] = xi[k]
            lp[k] = pxi[k]
            lq[k] = Q[k]
        s = _nhc_half(ke2, lx, lp, lq, g, T, dt)
        for k in range(M):
            xi[k] = lx[k]
            pxi[k] = lp[k]
        return s

    return half


@functools.lru_cache(maxsize=None)
def nhc_begin_kernel(chain, thermostat):
    """``nhc_begin(th (3,), xi (M,), pxi (M,), Q (M,), g, T, dt)``, one thread: th[SCALE] = th[PENDING] times (with
    a thermostat) the scaling of the chain's half step :func:`meso_kernels.integrate._nhc_half` from
    ke2 = th[KE2]; th[PENDING] = 1. ``chain`` = M (compile time)."""
    M, THERMO = int(chain), bool(thermostat)
    half = chain_half_step(M)

    def nhc_begin(th, xi, pxi, Q, g, T, dt):
        if cuda.grid(1) != 0:
            return
        s = th[_PENDING]
        if THERMO:
            s *= half(th[_KE2], xi, pxi, Q, g, T, dt)
        th[_SCALE] = s
        th[_PENDING] = 1.0

    name = f"nhc_begin_M{M}" if THERMO else "nve_begin"
    return KernelSpec(name, nhc_begin, types.void(F1, F1, F1, F1, float64, float64, float64))


@functools.lru_cache(maxsize=None)
def nhc_end_kernel(chain, thermostat):
    """``nhc_end(k (N,), th (3,), xi, pxi, Q, g, T, dt)``, one block of :data:`RB` threads: ke2 = sum k (fixed
    order), then (with a thermostat) th[PENDING] = :func:`~meso_kernels.integrate._nhc_half` (ke2, ...) and
    ke2 *= th[PENDING]^2; th[KE2] = ke2."""
    M, THERMO = int(chain), bool(thermostat)
    half = chain_half_step(M)

    def nhc_end(ke, th, xi, pxi, Q, g, T, dt):
        t = cuda.threadIdx.x
        nt = cuda.blockDim.x   # <= RB
        buf = cuda.shared.array(RB, float64)
        a = 0.0
        for i in range(t, ke.shape[0], nt):
            a += ke[i]
        buf[t] = a
        cuda.syncthreads()
        if t == 0:
            ke2 = 0.0
            for q in range(nt):
                ke2 += buf[q]
            if THERMO:
                s = half(ke2, xi, pxi, Q, g, T, dt)
                th[_PENDING] = s
                ke2 *= s * s
            th[_KE2] = ke2

    name = f"nhc_end_M{M}" if THERMO else "nve_end"
    return KernelSpec(name, nhc_end, types.void(F1, F1, F1, F1, F1, float64, float64, float64))


@functools.lru_cache(maxsize=None)
def kick_drift_kernel(dim):
    """``kick_drift(x (N, d), v (N, d), F (N, d), th (3,), h, dt)``: v = th[SCALE] v + h F; x += dt v (one thread
    per particle; the CPU's ``_kick_drift``)."""
    D = int(dim)

    def kick_drift(x, v, F, th, h, dt):
        i = cuda.grid(1)
        if i >= x.shape[0]:
            return
        s = th[_SCALE]
        for k in range(D):
            vk = s * v[i, k] + h * F[i, k]
            v[i, k] = vk
            x[i, k] += dt * vk

    return KernelSpec(f"kick_drift_{D}d", kick_drift, types.void(F2, F2, F2, F1, float64, float64))


@functools.lru_cache(maxsize=None)
def kick_ke_kernel(dim):
    """``kick_ke(v (N, d), F (N, d), h, k (N,))``: v += h F; k_i = |v_i|^2 (the CPU's ``_kick_ke`` before the sum)."""
    D = int(dim)

    def kick_ke(v, F, h, ke):
        i = cuda.grid(1)
        if i >= v.shape[0]:
            return
        a = 0.0
        for k in range(D):
            vk = v[i, k] + h * F[i, k]
            v[i, k] = vk
            a += vk * vk
        ke[i] = a

    return KernelSpec(f"kick_ke_{D}d", kick_ke, types.void(F2, F2, float64, F1))


def launch_sizes(n):
    """``(blocks, threads per block, threads of the one-block reductions)`` for ``n`` particles: the package's
    :data:`~meso_kernels.cuda.TPB` and :data:`~meso_kernels.cuda.forces.RB`, or one warp (32) for n <= 32 (the
    simulator's cost is per thread launched)."""
    tpb = 32 if n <= 32 else TPB
    return blocks(n, tpb), tpb, (32 if n <= 32 else RB)


def kernels(dim, chains=(3,)):
    """Every kernel of this module for dimension ``dim`` and the given chain lengths (NVE's too; for the PTX
    compile test)."""
    out = [kick_drift_kernel(dim), kick_ke_kernel(dim), nhc_begin_kernel(1, False), nhc_end_kernel(1, False)]
    for m in chains:
        out += [nhc_begin_kernel(m, True), nhc_end_kernel(m, True)]
    return out


class DeviceNVE:
    """Velocity-Verlet integration at constant N, V, E on the device (the twin of
    :class:`meso_kernels.integrate.NVE`; same parameters).

    Parameters
    ----------
    system : :class:`meso_kernels.system.System` with velocities (copied to the device)
    model : :class:`meso_kernels.models.Model`
    dt : time step (model time units), > 0
    skin : Verlet skin (length units)

    Raises ``RuntimeError`` (:func:`meso_kernels.cuda.require`) without a GPU or the simulator. ``x``, ``v``,
    ``forces`` copy the device state to the host (in the caller's particle order: the device does not reorder).
    """

    thermostat = False
    backend = "cuda"

    def __init__(self, system, model, dt, skin=0.3):
        require()
        self.dt = check_nve_parameters(system, model, dt)
        self.device = device_name()
        self.model = model
        self.box = np.asarray(system.box, dtype=float).copy()
        self._types_h = np.ascontiguousarray(system.types, dtype=np.int32).copy()
        v = np.ascontiguousarray(system.velocities, dtype=float).copy()
        if self.thermostat:
            v -= v.mean(axis=0)
        self.ff = DeviceForceField(model, self.box, skin=skin)
        n, d = v.shape
        self._x = cuda.to_device(np.ascontiguousarray(system.positions, dtype=float))
        self._v = cuda.to_device(v)
        self._types = cuda.to_device(self._types_h)
        self._ke = cuda.device_array(n, np.float64)
        self._setup_thermostat(n, d)
        self._th = cuda.to_device(np.array([1.0, float(np.sum(v**2)), 1.0]))
        self._d_xi = cuda.to_device(self.xi)
        self._d_pxi = cuda.to_device(self.pxi)
        self._d_Q = cuda.to_device(self.Q)
        M = self.Q.size
        self._k_begin = nhc_begin_kernel(M, self.thermostat)
        self._k_end = nhc_end_kernel(M, self.thermostat)
        self._k_kd = kick_drift_kernel(d)
        self._k_kk = kick_ke_kernel(d)
        self.step = 0
        self.wall_time = 0.0
        self._sums, self._F = self.ff.compute_device(self._x, self._types)
        U = self.potential_energy()
        if not math.isfinite(U):
            raise FloatingPointError("non-finite potential energy: overlapping particles?")

    def _setup_thermostat(self, n, d):
        self.xi = np.zeros(1)
        self.pxi = np.zeros(1)
        self.Q = np.ones(1)
        self.g = d * (n - 1)
        self.T = 0.0

    @property
    def N(self):
        return self._x.shape[0]

    def _host_scalars(self):
        th = self._th.copy_to_host()
        if self.thermostat:
            self.xi = self._d_xi.copy_to_host()
            self.pxi = self._d_pxi.copy_to_host()
        return th

    @property
    def x(self):
        """Positions (N, d), unwrapped (continuous in time), as a host copy."""
        return self._x.copy_to_host()

    @property
    def v(self):
        """Velocities (N, d) (the pending thermostat scaling applied), as a host copy."""
        return self._v.copy_to_host() * self._th.copy_to_host()[_PENDING]

    @property
    def types(self):
        return self._types_h.copy()

    @property
    def forces(self):
        """Forces (N, d) at the current positions, as a host copy."""
        return self._F.copy_to_host()

    # the same definitions as on the CPU (they read the properties above)
    time = NVE.time
    system = NVE.system

    def potential_energy(self):
        return float(self._sums.copy_to_host()[0])

    def virial(self):
        return float(self._sums.copy_to_host()[1])

    def kinetic_energy(self):
        """K = ke2 / 2 with ke2 = sum |v_i|^2 as reduced on the device after the last kick."""
        return 0.5 * float(self._th.copy_to_host()[_KE2])

    kinetic_temperature = NVE.kinetic_temperature

    def pressure(self):
        """Virial pressure P = (2K + W) / (d V) (energy/volume), W = sum r_ij . f_ij."""
        return (2.0 * self.kinetic_energy() + self.virial()) / (self.box.size * np.prod(self.box))

    def conserved(self):
        """The conserved quantity: total energy (NVE) or the Nosé–Hoover extended energy (NVT)."""
        return self.potential_energy() + self.kinetic_energy()

    # advance in blocks with callbacks and a progress bar, exactly as on the CPU (it calls :meth:`_advance`)
    run = NVE.run

    def _advance(self, n):
        nb, tpb, nr = launch_sizes(self.N)
        h, dt = 0.5 * self.dt, self.dt
        g, T = float(self.g), float(self.T)
        chain = (self._th, self._d_xi, self._d_pxi, self._d_Q, g, T, dt)
        for _ in range(n):
            self._k_begin[1, 1](*chain)
            self._k_kd[nb, tpb](self._x, self._v, self._F, self._th, h, dt)
            self._sums, self._F = self.ff.compute_device(self._x, self._types)
            self._k_kk[nb, tpb](self._v, self._F, h, self._ke)
            self._k_end[1, nr](self._ke, *chain)
            self.step += 1
        if not math.isfinite(self.potential_energy()):
            raise FloatingPointError(f"non-finite energy at step {self.step}: the time step dt = {self.dt} may be "
                                     "too large or particles overlap")

    @property
    def n_builds(self):
        """Neighbour-list builds so far."""
        return self.ff.nl.n_builds


class DeviceNoseHoover(DeviceNVE):
    """Nosé–Hoover-chain NVT integration on the device (the twin of :class:`meso_kernels.integrate.NoseHoover`:
    same chain, masses Q_1 = g T tau^2, Q_k = T tau^2, g = d (N - 1), same extended energy).

    Parameters
    ----------
    system, model, dt, skin : as for :class:`DeviceNVE`
    T : target temperature (energy units, k_B = 1), > 0
    tau : thermostat coupling time (time units), > 0
    chain : number of thermostats in the chain (>= 1), default 3
    seed : if the system has no velocities, draw Maxwell–Boltzmann velocities at T with this seed
    """

    thermostat = True

    def __init__(self, system, model, dt, T, tau, chain=3, skin=0.3, seed=None):
        self._T, self._tau, self._chain = check_nvt_parameters(T, tau, chain)
        if system.velocities is None:
            from ..initial import maxwell_boltzmann
            system = system.copy()
            system.velocities = maxwell_boltzmann(system.N, system.dim, T, seed)
        super().__init__(system, model, dt, skin=skin)

    def _setup_thermostat(self, n, d):
        self.T = self._T
        self.g, self.xi, self.pxi, self.Q = nhc_chain(d, n, self.T, self._tau, self._chain)

    def chain_state(self):
        """``(xi, pxi)`` of the chain, host copies."""
        self._host_scalars()
        return self.xi.copy(), self.pxi.copy()

    def conserved(self):
        """H = K + U + sum_k p_k^2 / (2 Q_k) + g T xi_1 + T sum_{k>=2} xi_k (as the CPU ``NoseHoover``)."""
        xi, pxi = self.chain_state()
        ext = float(np.sum(pxi**2 / (2 * self.Q)) + self.g * self.T * xi[0] + self.T * np.sum(xi[1:]))
        return self.potential_energy() + self.kinetic_energy() + ext
