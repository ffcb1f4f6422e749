"""One entry point for every pair potential, selected by an integer kind, so that the force, Hessian and
virial drivers are compiled once (and cached) for all models. Each potential is defined once, in its module."""
from numba import njit

from . import ipl, lj, sticky, sw

#: LJ: shifted-energy Lennard-Jones (no square root), LJ_SF: shifted-force Lennard-Jones
IPL, LJ, STICKY, SW, LJ_SF = 0, 1, 2, 3, 4
KIND_NAMES = {IPL: "ipl", LJ: "lj", STICKY: "sticky", SW: "sw", LJ_SF: "lj_sf"}


@njit(cache=True, inline="always")
def pair_eval(kind, r2, p):
    """``(u, s, u2)`` of the pair potential ``kind`` at squared distance ``r2`` with parameter row ``p``."""
    if kind == IPL:
        return ipl.pair(r2, p)
    elif kind == LJ:
        return lj.pair(r2, p)
    elif kind == LJ_SF:
        return lj.pair_sf(r2, p)
    elif kind == STICKY:
        return sticky.pair(r2, p)
    else:
        return sw.pair(r2, p)
