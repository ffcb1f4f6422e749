"""Molecular dynamics: velocity-Verlet (NVE) and Nosé–Hoover-chain (NVT) integrators with their conserved
quantities (MODELS.md section 5). Masses are 1; units are the model's reduced units (time in its t-unit).

Nosé–Hoover chain (Martyna, Klein & Tuckerman, J. Chem. Phys. 97, 2635 (1992); Trotter splitting of
Martyna et al., Mol. Phys. 87, 1117 (1996)) with M thermostats, masses Q_1 = g T tau^2 and Q_k = T tau^2,
g = d (N - 1) degrees of freedom (the total momentum is removed at the start and conserved). The extended energy

    H = K + U + sum_k p_k^2 / (2 Q_k) + g T xi_1 + T sum_{k>=2} xi_k

is conserved by the exact flow; the integrator keeps it to O(dt^2).

The whole step loop (thermostat, kicks, drift, neighbour-list check and rebuild, forces) runs compiled, so the
Python overhead per step is nil.

>>> import numpy as np
>>> from meso_kernels.models import get_model
>>> from meso_kernels.initial import random_configuration
>>> from meso_kernels.integrate import NoseHoover
>>> m = get_model("ipl")
>>> sys0 = random_configuration(m, 256, 0.82, seed=1)
>>> sim = NoseHoover(sys0, m, dt=0.002, T=1.0, tau=0.2, seed=1)
>>> sim.run(200)
>>> sim.step
200
"""
import math
import time

import numba
import numpy as np
from numba import njit

from .forces import compute_any, pair_loop_flag
from .neighbors import _cell_sort, build_into, image_table

_DONE, _NEED_GROW = 0, 1


@njit(cache=True)
def _nhc_half(ke2, xi, pxi, Q, g, T, dt):
    """Propagate the chain over dt/2 (MTK/Trotter; one Suzuki–Yoshida weight) given ke2 = sum m v^2; return the
    factor s by which the velocities must be scaled (the caller applies it, fused with its next velocity pass)."""
    M = xi.size
    dt2 = 0.5 * dt
    dt4 = 0.25 * dt
    dt8 = 0.125 * dt
    # backward sweep
    if M > 1:
        pxi[M - 1] += dt4 * (pxi[M - 2] ** 2 / Q[M - 2] - T)
    for k in range(M - 2, -1, -1):
        sc = math.exp(-dt8 * pxi[k + 1] / Q[k + 1])
        G = ke2 - g * T if k == 0 else pxi[k - 1] ** 2 / Q[k - 1] - T
        pxi[k] = (pxi[k] * sc + dt4 * G) * sc
    if M == 1:
        pxi[0] += dt4 * (ke2 - g * T)
    # velocity scaling and chain positions
    s = math.exp(-dt2 * pxi[0] / Q[0])
    ke2 *= s * s
    for k in range(M):
        xi[k] += dt2 * pxi[k] / Q[k]
    # forward sweep
    for k in range(M - 1):
        sc = math.exp(-dt8 * pxi[k + 1] / Q[k + 1])
        G = ke2 - g * T if k == 0 else pxi[k - 1] ** 2 / Q[k - 1] - T
        pxi[k] = (pxi[k] * sc + dt4 * G) * sc
    if M > 1:
        pxi[M - 1] += dt4 * (pxi[M - 2] ** 2 / Q[M - 2] - T)
    else:
        pxi[0] += dt4 * (ke2 - g * T)
    return s


@njit(cache=True)
def _kick_ke(v, F, h):
    """v += h F; return sum v^2 (twice the kinetic energy, unit masses)."""
    ke2 = 0.0
    for i in range(v.shape[0]):
        for k in range(v.shape[1]):
            v[i, k] += h * F[i, k]
            ke2 += v[i, k] * v[i, k]
    return ke2


@njit(cache=True)
def _kick_drift(x, v, F, s, h, dt, xref):
    """v = s v + h F; x += dt v; return the largest squared displacement from ``xref`` (same frame: no images)."""
    m = 0.0
    for i in range(x.shape[0]):
        r2 = 0.0
        for k in range(x.shape[1]):
            v[i, k] = s * v[i, k] + h * F[i, k]
            x[i, k] += dt * v[i, k]
            t = x[i, k] - xref[i, k]
            r2 += t * t
        if r2 > m:
            m = r2
    return m


@njit(cache=True)
def _wrap(x, img, box):
    """Wrap positions into [0, L), counting the box lengths removed in ``img`` (x + img L stays unwrapped)."""
    for i in range(x.shape[0]):
        for k in range(x.shape[1]):
            n = math.floor(x[i, k] / box[k])
            x[i, k] -= n * box[k]
            img[i, k] += int(n)


@njit(cache=True)
def _reorder(x, v, types, ids, img, box, ncell):
    """Permute the particles into cell order (memory locality for the neighbour build and the force loop).
    ``ids`` and ``img`` follow the permutation so that the caller can restore the original order."""
    start, order, cell = _cell_sort(x, box, ncell)
    x[:, :] = x[order]
    v[:, :] = v[order]
    types[:] = types[order]
    ids[:] = ids[order]
    img[:, :] = img[order]


@njit(cache=True)
def _md_loop(nsteps, resume, x, v, vstate, F, en, types, ids, img, box, dt, nl, image, counts, xref, skin, cutsq, ncell,
             nbr, kind, params, rcsq, tb, nchunks, branch, thermostat, xi, pxi, Q, g, T):
    """Run up to nsteps steps. ``en = [U, W, n_builds]`` is updated in place (U and W of the last step). Returns
    (steps done, status); status _NEED_GROW means the neighbour list must be widened and the current step
    finished by the caller (positions already drifted). With ``resume`` the first step starts after the drift.
    Positions are wrapped into the box at every list build, which is then the build frame of the list (offset
    zero).
    ``vstate = [s, ke2]``: the true velocities are s * v (the last thermostat scaling is applied lazily, fused into
    the next velocity pass) and ke2 = sum (s v)^2; both persist between calls so that splitting a run into blocks
    gives bitwise the same trajectory."""
    half = tb.size == 0
    lim = 0.25 * skin * skin
    tab = image_table(box)  # image shifts of the (unsheared) box, once per call
    pending = vstate[0]
    ke2 = vstate[1]
    for step in range(nsteps):
        if not (resume and step == 0):
            s = pending
            if thermostat:
                s *= _nhc_half(ke2, xi, pxi, Q, g, T, dt)
            pending = 1.0
            if _kick_drift(x, v, F, s, 0.5 * dt, dt, xref) > lim:
                _wrap(x, img, box)
                if nbr.shape[0] > 0:
                    _reorder(x, v, types, ids, img, box, ncell)
                over = build_into(x, box, types, cutsq, ncell, nbr, half, nl, image, counts)
                if over > 0:
                    vstate[0] = pending
                    vstate[1] = ke2
                    return step, _NEED_GROW
                xref[:, :] = x
                en[2] += 1
        # U and W only at the last step, the only one whose values are kept (the forces are the same bits either
        # way): the pair driver is about 20 % faster without them
        last = step == nsteps - 1
        e, f, w = compute_any(x, tab, types, nl, image, counts, kind, params, rcsq, tb, nchunks, branch, last)
        F[:, :] = f
        if last:
            en[0] = e
            en[1] = w
        ke2 = _kick_ke(v, F, 0.5 * dt)
        if thermostat:
            pending = _nhc_half(ke2, xi, pxi, Q, g, T, dt)
            ke2 *= pending * pending
    vstate[0] = pending
    vstate[1] = ke2
    return nsteps, _DONE


def check_nve_parameters(system, model, dt):
    """Validate the inputs of :class:`NVE` (the system fits the model, dt > 0, the system has velocities;
    ValueError saying which) and return ``float(dt)``. Shared by :class:`NVE` and the device
    :class:`meso_kernels.cuda.integrate.DeviceNVE`."""
    system.check_model(model)
    if not (np.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a positive time step, got {dt!r}")
    if system.velocities is None:
        raise ValueError("system.velocities is None: NVE needs initial velocities "
                         "(meso_kernels.initial.maxwell_boltzmann)")
    return float(dt)


def check_nvt_parameters(T, tau, chain):
    """Validate the Nosé–Hoover parameters (as :class:`NoseHoover` documents them; ValueError naming the bad one)
    and return them as ``(float(T), float(tau), int(chain))``. Shared by :class:`NoseHoover` and the device
    :class:`meso_kernels.cuda.integrate.DeviceNoseHoover`."""
    if not (np.isfinite(T) and T > 0):
        raise ValueError(f"T must be a positive temperature, got {T!r}")
    if not (np.isfinite(tau) and tau > 0):
        raise ValueError(f"tau must be a positive coupling time, got {tau!r}")
    if int(chain) < 1:
        raise ValueError(f"chain must be a positive number of thermostats, got {chain!r}")
    return float(T), float(tau), int(chain)


def nhc_chain(d, n, T, tau, chain):
    """The initial Nosé–Hoover chain of ``n`` particles in ``d`` dimensions at temperature ``T``: ``(g, xi, pxi,
    Q)`` with g = d (n - 1) degrees of freedom, positions xi and momenta pxi zero, masses Q_1 = g T tau^2,
    Q_k = T tau^2 (module docstring). Shared by :class:`NoseHoover` and
    :class:`meso_kernels.cuda.integrate.DeviceNoseHoover`."""
    g = d * (n - 1)
    Q = np.full(chain, T * tau**2)
    Q[0] *= g
    return g, np.zeros(chain), np.zeros(chain), Q


class NVE:
    """Velocity-Verlet integration at constant N, V, E.

    Parameters
    ----------
    system : :class:`meso_kernels.system.System` with velocities (copied; the integrator owns its state)
    model : :class:`meso_kernels.models.Model`
    dt : time step (model time units), > 0
    skin : Verlet skin (length units)
    backend : ``"cpu"`` (default: this class) or ``"cuda"``: the constructor then returns a
        :class:`meso_kernels.cuda.integrate.DeviceNVE` (state on the GPU; ``RuntimeError`` from
        :func:`meso_kernels.cuda.require` without one). :attr:`backend` says which ran (for provenance, with
        ``meso_kernels.cuda.device_name()``; the device classes carry it as ``device``).

    Internally particles are kept in cell order (permuted at each neighbour-list build); ``x``, ``v``, ``types``,
    ``forces`` and ``system`` are always returned in the caller's original order.
    """

    thermostat = False
    backend = "cpu"

    def __new__(cls, *args, backend="cpu", **kwargs):
        if backend != "cpu":
            from .cuda import check_backend
            check_backend(backend)   # ValueError for an unknown backend, RuntimeError without a GPU
            from .cuda.integrate import DeviceNoseHoover, DeviceNVE
            return (DeviceNoseHoover if cls.thermostat else DeviceNVE)(*args, **kwargs)
        return super().__new__(cls)

    def __init__(self, system, model, dt, skin=0.3, backend="cpu"):
        from .forces import ForceField
        self.dt = check_nve_parameters(system, model, dt)
        self.model = model
        self.box = np.asarray(system.box, dtype=float).copy()
        self._types = np.ascontiguousarray(system.types, dtype=np.int64).copy()
        self._x = np.ascontiguousarray(system.positions, dtype=float).copy()
        self._v = np.ascontiguousarray(system.velocities, dtype=float).copy()
        self._ids = np.arange(self._x.shape[0], dtype=np.int64)
        self._img = np.zeros(self._x.shape, np.int64)
        self._vstate = np.array([1.0, float(np.sum(self._v**2))])
        _wrap(self._x, self._img, self.box)
        self.ff = ForceField(model, self.box, skin=skin)
        self.step = 0
        self.wall_time = 0.0
        self._setup_thermostat()
        U, F, W = self.ff.compute(self._x, self._types)
        self._F = F
        self.en = np.array([U, W, 1.0])

    def _setup_thermostat(self):
        self.xi = np.zeros(1)
        self.pxi = np.zeros(1)
        self.Q = np.ones(1)
        self.g = self._x.shape[1] * (self._x.shape[0] - 1)
        self.T = 0.0

    def _original(self, a):
        out = np.empty_like(a)
        out[self._ids] = a
        return out

    @property
    def N(self):
        return self._x.shape[0]

    @property
    def x(self):
        """Positions (N, d), unwrapped (continuous in time), in the original particle order (a copy)."""
        return self._original(self._x + self._img * self.box)

    def _velocities(self):
        return self._v * self._vstate[0]

    @property
    def v(self):
        """Velocities (N, d) in the original particle order (a copy)."""
        return self._original(self._velocities())

    @property
    def types(self):
        return self._original(self._types)

    @property
    def forces(self):
        """Forces (N, d) at the current positions, original order (a copy)."""
        return self._original(self._F)

    @property
    def time(self):
        return self.step * self.dt

    @property
    def system(self):
        """The current state as a new :class:`~meso_kernels.system.System` (positions wrapped into the box)."""
        from .system import System
        return System(self.x % self.box, self.box, self.types, self.v)

    def potential_energy(self):
        return float(self.en[0])

    def kinetic_energy(self):
        return 0.5 * float(np.sum(self._velocities()**2))

    def kinetic_temperature(self):
        """2K / g with g = d (N - 1)."""
        return 2.0 * self.kinetic_energy() / self.g

    def pressure(self):
        """Virial pressure P = (2K + W) / (d V) (energy/volume), W = sum r_ij . f_ij."""
        d = self._x.shape[1]
        return (2.0 * self.kinetic_energy() + self.en[1]) / (d * np.prod(self.box))

    def configurational_temperature(self):
        """|F|^2 / lap U of the current configuration (pair models)."""
        return float(np.sum(self._F**2) / self.ff.laplacian(self._x, self._types))

    def conserved(self):
        """The conserved quantity: total energy (NVE) or the Nosé–Hoover extended energy (NVT)."""
        return self.potential_energy() + self.kinetic_energy()

    def run(self, nsteps, callback=None, every=None, progress=False):
        """Advance ``nsteps`` steps. With ``callback`` and ``every``, ``callback(self)`` is called after each block
        of ``every`` steps. ``progress=True`` shows a tqdm bar."""
        nsteps = int(nsteps)
        if nsteps < 0:
            raise ValueError(f"nsteps must be >= 0, got {nsteps}")
        if every is not None and int(every) < 1:
            raise ValueError(f"every must be a positive number of steps, got {every}")
        block = nsteps if every is None else int(every)
        bar = None
        if progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=nsteps, desc=type(self).__name__, unit="step")
        done = 0
        t0 = time.perf_counter()
        while done < nsteps:
            n = min(block, nsteps - done)
            self._advance(n)
            done += n
            if bar is not None:
                bar.update(n)
            if callback is not None:
                callback(self)
        self.wall_time += time.perf_counter() - t0
        if bar is not None:
            bar.close()

    def _advance(self, n):
        nl = self.ff.nl
        resume = False
        if nl.xref is None or np.any(nl.offset != 0.0):
            # the compiled loop needs the list built in the frame of the wrapped positions (offset zero)
            _wrap(self._x, self._img, self.box)
            nl.build(self._x, self._types)
        while n > 0:
            done, status = _md_loop(n, resume, self._x, self._v, self._vstate, self._F, self.en, self._types,
                                    self._ids, self._img, self.box, self.dt, nl.nlist, nl.image, nl.counts, nl.xref,
                                    nl.skin, nl.cutsq, nl.ncell, nl.cell_nbr, self.model.kind, self.model.params,
                                    self.ff.rcsq, self.model.three_body_array, numba.get_num_threads(),
                                    pair_loop_flag(), self.thermostat, self.xi, self.pxi, self.Q, float(self.g), self.T)
            self.step += done
            nl.n_builds = int(self.en[2])
            n -= done
            resume = False
            if status == _NEED_GROW:  # positions were just wrapped and reordered by the loop
                nl.resize(self.N, 2 * nl.nlist.shape[1] + 8)
                nl.build(self._x, self._types)
                self.en[2] += 1
                resume = True
        if not math.isfinite(self.en[0]):
            raise FloatingPointError(f"non-finite energy at step {self.step}: the time step dt = {self.dt} may be "
                                     "too large or particles overlap")

    # --- checkpoints -------------------------------------------------------------------------------------------
    def state(self):
        """Everything the integrator needs to continue, as a flat dict of numpy arrays (copies; ``np.savez``-able):
        the internal (cell-ordered) positions ``x`` (wrapped) with their image counts ``img`` and the permutation
        ``ids``, velocities ``v`` and ``vstate`` (the pending thermostat scaling and sum v²), forces ``F``, ``en``
        (U, W, list builds), ``step``, ``wall_time``, the thermostat chain ``xi``, ``pxi``, ``Q``, ``g``, ``T`` (and
        T, τ, chain length of a :class:`NoseHoover`), the model's name, the skin, and the neighbour list
        (``nl.*``: :meth:`~meso_kernels.neighbors.NeighborList.state`, pairs in their build order).

        :meth:`from_state` rebuilds an integrator that continues bit-identically to this one (same machine, same
        numba thread count: the force sums are split over threads), since the list is restored, not rebuilt."""
        nl = self.ff.nl
        out = {"class": np.array(type(self).__name__), "model": np.array(self.model.name),
               "model_params": np.array(self.model.params, dtype=float), "dt": np.array(self.dt),
               "box": self.box.copy(), "types": self._types.copy(), "x": self._x.copy(), "v": self._v.copy(),
               "ids": self._ids.copy(), "img": self._img.copy(), "vstate": self._vstate.copy(), "F": self._F.copy(),
               "en": self.en.copy(), "step": np.array(self.step, dtype=np.int64), "wall_time": np.array(self.wall_time),
               "xi": self.xi.copy(), "pxi": self.pxi.copy(), "Q": self.Q.copy(), "g": np.array(self.g, dtype=np.int64),
               "T": np.array(self.T), "skin": np.array(nl.skin), "shear": np.array(self.ff.shear),
               "n_evals": np.array(self.ff.n_evals, dtype=np.int64)}
        if self.thermostat:
            out.update(nh_T=np.array(self._T), nh_tau=np.array(self._tau), nh_chain=np.array(self._chain))
        out.update({f"nl.{k}": v for k, v in nl.state().items()})
        return out

    @classmethod
    def from_state(cls, state, model):
        """The integrator saved by :meth:`state` (a dict of arrays, e.g. loaded from an npz), for ``model`` (the
        one it ran; checked by name and parameters). It continues exactly where that one was."""
        from .forces import ForceField
        if str(state["class"]) != cls.__name__:
            raise ValueError(f"the state is of a {state['class']} integrator, not of a {cls.__name__}")
        if str(state["model"]) != model.name or not np.array_equal(np.asarray(state["model_params"]), model.params):
            raise ValueError(f"the state is of model {str(state['model'])!r}, not of {model.name!r} (or its "
                             "parameters differ)")
        self = cls.__new__(cls)
        self.model = model
        self.dt = float(state["dt"])
        self.box = np.array(state["box"], dtype=float)
        if self.box.shape != (model.dim,):
            raise ValueError(f"the state's box {self.box.shape} does not fit model {model.name!r} (d = {model.dim})")

        def arr(name, dtype):
            return np.ascontiguousarray(state[name], dtype=dtype).copy()

        self._types, self._x, self._v = arr("types", np.int64), arr("x", float), arr("v", float)
        self._ids, self._img, self._vstate = arr("ids", np.int64), arr("img", np.int64), arr("vstate", float)
        self._F, self.en = arr("F", float), arr("en", float)
        n, d = self._x.shape
        if d != model.dim or any(a.shape != (n, d) for a in (self._v, self._img, self._F)) \
                or self._types.shape != (n,) or self._ids.shape != (n,) or self._vstate.shape != (2,):
            raise ValueError("inconsistent integrator state: the particle arrays do not match")
        self.ff = ForceField(model, self.box, skin=float(state["skin"]), shear=float(state["shear"]))
        self.ff.nl.set_state({k[3:]: v for k, v in state.items() if k.startswith("nl.")})
        self.ff.n_evals = int(state["n_evals"])
        self.step = int(state["step"])
        self.wall_time = float(state["wall_time"])
        self.xi, self.pxi, self.Q = arr("xi", float), arr("pxi", float), arr("Q", float)
        self.g = int(state["g"])
        self.T = float(state["T"])
        if cls.thermostat:
            self._T, self._tau, self._chain = float(state["nh_T"]), float(state["nh_tau"]), int(state["nh_chain"])
        return self


class NoseHoover(NVE):
    """Nosé–Hoover-chain NVT integration (see the module docstring).

    Parameters
    ----------
    system, model, dt, skin : as for :class:`NVE`
    T : target temperature (energy units, k_B = 1), > 0
    tau : thermostat coupling time (time units), > 0; the paper's tau_NH (model.state_point.tau_nh)
    chain : number of thermostats in the chain (>= 1), default 3
    seed : if the system has no velocities, draw Maxwell–Boltzmann velocities at T with this seed
    backend : ``"cpu"`` (default) or ``"cuda"`` (returns a :class:`meso_kernels.cuda.integrate.DeviceNoseHoover`:
        the same chain with positions, velocities, forces and the chain on the GPU)
    """

    thermostat = True

    def __init__(self, system, model, dt, T, tau, chain=3, skin=0.3, seed=None, backend="cpu"):
        self._T, self._tau, self._chain = check_nvt_parameters(T, tau, chain)
        if system.velocities is None:
            from .initial import maxwell_boltzmann
            system = system.copy()
            system.velocities = maxwell_boltzmann(system.N, system.dim, T, seed)
        super().__init__(system, model, dt, skin=skin)
        self._v -= self._v.mean(axis=0)
        self._vstate[1] = float(np.sum(self._v**2))

    def _setup_thermostat(self):
        n, d = self._x.shape
        self.T = self._T
        self.g, self.xi, self.pxi, self.Q = nhc_chain(d, n, self.T, self._tau, self._chain)

    def conserved(self):
        ext = float(np.sum(self.pxi**2 / (2 * self.Q)) + self.g * self.T * self.xi[0] + self.T * np.sum(self.xi[1:]))
        return self.potential_energy() + self.kinetic_energy() + ext


def thermalize(system, model, T, nsteps, dt=None, tau=None, seed=0, relax_ftol=1.0, progress=False, backend="cpu"):
    """Bring a (freshly generated) configuration to temperature T: a loose FIRE quench removes close contacts
    (max |F_i| < ``relax_ftol``; ``relax_ftol=None`` skips it, for a configuration that is already a liquid's),
    then Maxwell–Boltzmann velocities at T (``seed``) and ``nsteps`` Nosé–Hoover
    steps with the model's dt and tau_NH unless given. Returns the running :class:`NoseHoover` integrator.
    Whether ``nsteps`` suffices is the caller's to check (MSD and F_s time-translation invariant).
    ``backend="cuda"`` runs the quench and the integrator on the GPU."""
    from .initial import maxwell_boltzmann
    from .quench import quench
    sp = model.state_point
    dt = sp.dt if dt is None else dt
    tau = sp.tau_nh if tau is None else tau
    if relax_ftol is None:
        relaxed = system.copy()
    else:
        relaxed, _ = quench(system, model, method="fire", ftol=relax_ftol, max_steps=20_000, backend=backend)
    relaxed.velocities = maxwell_boltzmann(relaxed.N, relaxed.dim, T, seed)
    sim = NoseHoover(relaxed, model, dt=dt, T=T, tau=tau, backend=backend)
    sim.run(nsteps, progress=progress)
    return sim
