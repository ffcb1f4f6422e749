"""Quenches of a :class:`~meso_kernels.system.System` to its inherent structure (MODELS.md section 5): the
force field of the model plugged into the FIRE or CG minimiser of :mod:`meso_kernels.minimize`.

>>> from meso_kernels.models import get_model
>>> from meso_kernels.initial import random_configuration
>>> from meso_kernels.quench import quench
>>> m = get_model("ipl")
>>> ihs, res = quench(random_configuration(m, 200, 0.82, seed=3), m, ftol=1e-8)
>>> res.converged, res.max_force < 1e-8
(True, True)
"""
import numpy as np

from .forces import ForceField
from .minimize import cg, fire
from .system import System

METHODS = {"fire": fire, "cg": cg}


def quench(system, model, method="fire", ftol=1e-10, max_steps=200_000, skin=0.3, **options):
    """Minimise the potential energy from ``system`` at fixed box.

    Parameters
    ----------
    system : System (velocities are ignored)
    model : :class:`~meso_kernels.models.Model` matching the system
    method : "fire" or "cg"
    ftol : convergence on max_i |F_i| (force units), default 1e-10 (tight enough for Hessians)
    max_steps : iteration limit; options are passed to the minimiser

    Returns
    -------
    (System, MinimizeResult): the inherent structure (positions wrapped into the box, no velocities) and what the
    minimiser did (``converged``, ``n_iter``, ``max_force``, ``energy``).
    """
    if method not in METHODS:
        raise ValueError(f"unknown method={method!r}; allowed: {', '.join(METHODS)}")
    system.check_model(model)
    ff = ForceField(model, system.box, skin=skin)
    types = np.asarray(system.types, dtype=np.int64)

    def energy_forces(x):
        e, f, _ = ff.compute(x, types, check=False)
        if not np.isfinite(e):
            raise FloatingPointError("non-finite energy during the quench: overlapping particles?")
        return e, f

    res = METHODS[method](energy_forces, np.asarray(system.positions, dtype=float), ftol=ftol,
                          max_steps=max_steps, **options)
    ihs = System(np.mod(res.x, system.box), system.box, system.types)
    return ihs, res
