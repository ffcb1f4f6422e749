"""Synthetic trajectories with known correlators, shared by the analysis tests: free flight (F_s =
exp(-q^2 T t^2 / 2), MSD = d T t^2) and Gaussian random walks (F_s = exp(-q^2 D t), MSD = 2 d D t)."""
import numpy as np


def free_flight(d, N, T, t, seed, rho=0.9):
    """x0 + v t with Maxwell-Boltzmann velocities at temperature T (m = k_B = 1): frames (F, N, d), v, box."""
    rng = np.random.default_rng(seed)
    L = (N / rho) ** (1 / d)
    x0 = rng.random((N, d)) * L
    v = rng.normal(0.0, np.sqrt(T), size=(N, d))
    return x0 + v * t[:, None, None], v, np.full(d, L)


def random_walk(d, N, D, dt, F, seed, rho=0.9):
    """Gaussian increments of variance 2 D dt per coordinate: unwrapped frames (F, N, d) and the box."""
    rng = np.random.default_rng(seed)
    L = (N / rho) ** (1 / d)
    steps = rng.normal(0.0, np.sqrt(2 * D * dt), size=(F, N, d))
    steps[0] = 0.0
    return rng.random((N, d)) * L + np.cumsum(steps, axis=0), np.full(d, L)
