"""A FIRE quench on the device: positions, velocities, forces and the FIRE controls (dt, alpha, the count of
downhill steps) stay on the GPU; the device twin of ``quench(system, model, method="fire")``
(:func:`meso_kernels.quench.quench`, :func:`meso_kernels.minimize.fire`: FIRE 2.0, semi-implicit Euler, half step
back on P < 0, initial delay, cap ``max_step`` on any particle's displacement; same parameters and defaults).

One iteration k (kernels; N = one thread per particle, B = one block of RB threads, fixed-order sums):

1. ``control`` (B), after the force evaluation of iteration k - 1: the sums P = F.v, F.F, v.v and max_i |F_i|^2;
   if max_i |F_i|^2 < ftol^2 it flags convergence and changes nothing; otherwise one thread updates (dt, alpha,
   n_pos) as the CPU's FIRE does and writes the coefficients of step 2. |v + dt F| (the norm after the kick) is
   sqrt(v.v + 2 dt F.v + dt^2 F.F) (v = 0 after a step back), a sum of non-negative terms when P >= 0: no
   cancellation;
2. ``velocity`` (N): on P < 0, dx <- -dx/2, x <- x + dx, v <- 0; then v <- (1 - alpha)(v + dt F) +
   alpha |v + dt F| / |F| F; dx = dt v; d_i = |dx_i|^2;
3. ``max_step`` (B): scale = max_step / max_i |dx_i| if that exceeds max_step, else 1;
4. ``move`` (N): dx <- scale dx; x <- x + dx;
5. energy and forces (:class:`~meso_kernels.cuda.forces.DeviceForceField`, list rebuilt by the skin criterion).

Per iteration the host reads back a few floats (the converged flag, max |F_i|^2 and the energy: the stop decision)
and the neighbour list's skin test. The result is a :class:`meso_kernels.minimize.MinimizeResult` (``x`` copied
back once at the end). Only FIRE and orthorhombic boxes (no shear) are implemented on the device.

The device sums in another order than the CPU and evaluates each pair force twice (full list), so the path of a
quench agrees with the CPU's to rounding at first, then separates; from a start near a minimum both end in the
same minimum (tests/cuda/test_quench.py).
"""
import functools
import math
import warnings

import numpy as np
from numba import cuda, float64, types

from ..minimize import MinimizeResult, _validate, check_fire_parameters
from . import F1, F2, KernelSpec, device_name, require
from .forces import RB, DeviceForceField
from .integrate import launch_sizes
from .neighbors import as_device


# layout of the FIRE state ``st`` on the device
(S_DT, S_ALPHA, S_NPOS, S_K, S_BACK, S_A, S_B, S_SCALE, S_F2MAX, S_E, S_DONE, S_P) = range(12)
N_STATE = 12
# layout of the parameters ``pr``
(P_DTMAX, P_NMIN, P_FINC, P_FDEC, P_ALPHA0, P_FALPHA, P_MAXSTEP, P_DTMIN, P_FTOL2) = range(9)
N_PARAMS = 9


@functools.lru_cache(maxsize=None)
def control_kernel(dim):
    """``control(F (N, d), v (N, d), sums (2,), pr (9,), st (12,))``, one block of RB threads: the FIRE control
    update of one iteration (see the module)."""
    D = int(dim)

    def fire_control(F, v, sums, pr, st):
        t = cuda.threadIdx.x
        nt = cuda.blockDim.x   # <= RB
        bp = cuda.shared.array(RB, float64)
        bf = cuda.shared.array(RB, float64)
        bv = cuda.shared.array(RB, float64)
        bm = cuda.shared.array(RB, float64)
        p = 0.0
        ff = 0.0
        vv = 0.0
        fm = 0.0
        for i in range(t, F.shape[0], nt):
            a = 0.0
            for k in range(D):
                p += F[i, k] * v[i, k]
                a += F[i, k] * F[i, k]
                vv += v[i, k] * v[i, k]
            ff += a
            if a > fm or a != a:   # propagate a nan
                fm = a
        bp[t] = p
        bf[t] = ff
        bv[t] = vv
        bm[t] = fm
        cuda.syncthreads()
        if t != 0:
            return
        P = 0.0
        FF = 0.0
        VV = 0.0
        f2max = 0.0
        for q in range(nt):
            P += bp[q]
            FF += bf[q]
            VV += bv[q]
            if bm[q] > f2max or bm[q] != bm[q]:
                f2max = bm[q]
        st[S_F2MAX] = f2max
        st[S_E] = sums[0]
        st[S_P] = P
        if f2max < pr[P_FTOL2]:
            st[S_DONE] = 1.0
            return
        k = st[S_K] + 1.0
        st[S_K] = k
        dt = st[S_DT]
        alpha = st[S_ALPHA]
        back = 0.0
        if P > 0.0:
            st[S_NPOS] += 1.0
            if st[S_NPOS] > pr[P_NMIN]:
                dt = min(dt * pr[P_FINC], pr[P_DTMAX])
                alpha *= pr[P_FALPHA]
        elif P < 0.0:
            st[S_NPOS] = 0.0
            if k > pr[P_NMIN]:
                dt = max(dt * pr[P_FDEC], pr[P_DTMIN])
            alpha = pr[P_ALPHA0]
            back = 1.0
        if back == 1.0:
            w2 = dt * dt * FF
        else:
            w2 = VV + 2.0 * dt * P + dt * dt * FF
        fnorm = math.sqrt(FF)
        if fnorm > 0.0:
            st[S_A] = 1.0 - alpha
            st[S_B] = alpha * math.sqrt(max(w2, 0.0)) / fnorm
        else:
            st[S_A] = 1.0
            st[S_B] = 0.0
        st[S_DT] = dt
        st[S_ALPHA] = alpha
        st[S_BACK] = back

    return KernelSpec(f"fire_control_{D}d", fire_control, types.void(F2, F2, F1, F1, F1))


@functools.lru_cache(maxsize=None)
def velocity_kernel(dim):
    """``velocity(x, v, F, dx (N, d), d2 (N,), st (12,))``: the step back (if flagged), kick and mixing of one
    FIRE iteration, dx = dt v and d2_i = |dx_i|^2 (one thread per particle)."""
    D = int(dim)

    def fire_velocity(x, v, F, dx, d2, st):
        i = cuda.grid(1)
        if i >= x.shape[0]:
            return
        dt = st[S_DT]
        a = st[S_A]
        b = st[S_B]
        back = st[S_BACK] == 1.0
        r2 = 0.0
        for k in range(D):
            vk = v[i, k]
            if back:
                h = -0.5 * dx[i, k]
                x[i, k] += h
                vk = 0.0
            vk += dt * F[i, k]
            vk = vk * a + b * F[i, k]
            v[i, k] = vk
            dk = vk * dt
            dx[i, k] = dk
            r2 += dk * dk
        d2[i] = r2

    return KernelSpec(f"fire_velocity_{D}d", fire_velocity, types.void(F2, F2, F2, F2, F1, F1))


@functools.lru_cache(maxsize=None)
def max_step_kernel():
    """``max_step(d2 (N,), pr, st)``, one block: st[SCALE] = max_step / max_i |dx_i| when that is > max_step,
    else 1."""

    def fire_max_step(d2, pr, st):
        t = cuda.threadIdx.x
        nt = cuda.blockDim.x   # <= RB
        bm = cuda.shared.array(RB, float64)
        m = 0.0
        for i in range(t, d2.shape[0], nt):
            if d2[i] > m:
                m = d2[i]
        bm[t] = m
        cuda.syncthreads()
        if t == 0:
            for q in range(nt):
                if bm[q] > m:
                    m = bm[q]
            dmax = math.sqrt(m)
            if dmax > pr[P_MAXSTEP]:
                st[S_SCALE] = pr[P_MAXSTEP] / dmax
            else:
                st[S_SCALE] = 1.0

    return KernelSpec("fire_max_step", fire_max_step, types.void(F1, F1, F1))


@functools.lru_cache(maxsize=None)
def move_kernel(dim):
    """``move(x, dx (N, d), st)``: dx *= st[SCALE] (when not 1); x += dx."""
    D = int(dim)

    def fire_move(x, dx, st):
        i = cuda.grid(1)
        if i >= x.shape[0]:
            return
        s = st[S_SCALE]
        for k in range(D):
            d = dx[i, k]
            if s != 1.0:
                d *= s
                dx[i, k] = d
            x[i, k] += d

    return KernelSpec(f"fire_move_{D}d", fire_move, types.void(F2, F2, F1))


def kernels(dim):
    """Every kernel of this module for dimension ``dim`` (for the PTX compile test)."""
    return [control_kernel(dim), velocity_kernel(dim), max_step_kernel(), move_kernel(dim)]


def fire(ff, x0, types_, ftol=1e-10, max_steps=200_000, dt_start=0.1, dt_max=0.4, n_min=5, f_inc=1.1, f_dec=0.5,
         alpha_start=0.1, f_alpha=0.99, max_step=0.1, dt_min=None):
    """FIRE on the device with the :class:`~meso_kernels.cuda.forces.DeviceForceField` ``ff`` from positions
    ``x0 (N, d)`` (host or device; not modified) of species ``types_``; parameters, defaults and result as
    :func:`meso_kernels.minimize.fire` (no callback). Returns a :class:`~meso_kernels.minimize.MinimizeResult`
    (``x`` on the host, unwrapped)."""
    require()
    x_h = _validate(lambda x: None, x0.copy_to_host() if hasattr(x0, "copy_to_host") else x0, ftol, max_steps,
                    max_step)
    dt_min = check_fire_parameters(dt_start, dt_max, dt_min, n_min, f_inc, f_dec, alpha_start, f_alpha)

    n, d = x_h.shape
    x = cuda.to_device(x_h)
    types_ = as_device(types_, np.int32, "types", (n,))
    v = cuda.to_device(np.zeros((n, d)))
    dx = cuda.to_device(np.zeros((n, d)))
    d2 = cuda.device_array(n, np.float64)
    pr = cuda.to_device(np.array([dt_max, n_min, f_inc, f_dec, alpha_start, f_alpha,
                                  math.inf if max_step is None else max_step, dt_min, float(ftol) ** 2], float))
    st0 = np.zeros(N_STATE)
    st0[S_DT], st0[S_ALPHA], st0[S_SCALE] = dt_start, alpha_start, 1.0
    st = cuda.to_device(st0)
    k_ctl, k_vel, k_max, k_move = control_kernel(d), velocity_kernel(d), max_step_kernel(), move_kernel(d)
    nb, tpb, nr = launch_sizes(n)

    def evaluate(k):
        sums, F = ff.compute_device(x, types_)
        k_ctl[1, nr](F, v, sums, pr, st)
        h = st.copy_to_host()
        if not (math.isfinite(h[S_E]) and math.isfinite(h[S_F2MAX])):
            raise ValueError(f"non-finite energy or force at iteration {k}: overlapping particles?")
        return F, h

    F, h = evaluate(0)
    nfev = 1
    converged, message, k = False, f"max_steps={max_steps} reached", 0
    if h[S_DONE] == 1.0:
        converged, message = True, "initial configuration already converged"
    else:
        for k in range(1, max_steps + 1):
            k_vel[nb, tpb](x, v, F, dx, d2, st)
            k_max[1, nr](d2, pr, st)
            k_move[nb, tpb](x, dx, st)
            F, h = evaluate(k)
            nfev += 1
            if h[S_DONE] == 1.0:
                converged, message = True, "max|F_i| < ftol"
                break
    f2max = float(h[S_F2MAX])
    if not converged:
        warnings.warn(f"fire (device) did not converge: {message}; max|F_i| = {math.sqrt(f2max):.3e} >= "
                      f"ftol = {ftol:.1e}", RuntimeWarning, stacklevel=2)
    return MinimizeResult(x=x.copy_to_host(), energy=float(h[S_E]), max_force=math.sqrt(f2max), n_iter=k,
                          n_force_evals=nfev, converged=converged, method="fire", ftol=float(ftol), message=message)


def quench(system, model, method="fire", ftol=1e-10, max_steps=200_000, skin=0.3, **options):
    """``quench(..., backend="cuda")`` of :func:`meso_kernels.quench.quench`: minimise the potential energy from
    ``system`` at fixed (orthorhombic) box with FIRE on the device. Returns ``(System, MinimizeResult)`` as the CPU
    quench (positions wrapped into [0, L)^d); the result also carries ``backend = "cuda"`` and ``device`` (the
    device's name) for provenance. ``method`` must be ``"fire"`` (no device CG)."""
    require()
    if method != "fire":
        raise ValueError(f"method={method!r} is not available with backend='cuda'; the device quench is 'fire'")
    from ..system import System
    system.check_model(model)
    ff = DeviceForceField(model, system.box, skin=skin)
    types_ = np.ascontiguousarray(system.types, dtype=np.int32)
    if types_.size and (types_.min() < 0 or types_.max() >= model.n_types):
        raise ValueError(f"types must lie in 0..{model.n_types - 1} for model {model.name!r}")
    res = fire(ff, np.asarray(system.positions, dtype=float), types_, ftol=ftol, max_steps=max_steps, **options)
    res.backend = "cuda"
    res.device = device_name()
    box = np.asarray(system.box, dtype=float)
    return System(np.mod(res.x, box), system.box, system.types), res
