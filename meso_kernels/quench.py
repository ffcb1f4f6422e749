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

from .forces import ForceField, wrap_sheared
from .minimize import cg, fire
from .system import System

METHODS = {"fire": fire, "cg": cg}


def quench(system, model, method="fire", ftol=1e-10, max_steps=200_000, skin=0.3, shear=0.0, backend="cpu",
           **options):
    """Minimise the potential energy from ``system`` at fixed box (and fixed shear strain).

    Parameters
    ----------
    system : System (velocities are ignored); with ``shear`` its positions are lab-frame positions in the sheared
        cell (e.g. ``wrap_sheared(affine_shear(x, shear), box, shear)`` of an unsheared configuration ``x``)
    model : :class:`~meso_kernels.models.Model` matching the system
    method : "fire" or "cg"
    ftol : convergence on max_i |F_i| (force units), default 1e-10 (tight enough for Hessians)
    max_steps : iteration limit; options are passed to the minimiser
    skin : Verlet skin (length units)
    shear : simple-shear strain gamma of the Lees–Edwards cell, |gamma| <= 0.1 (see
        :class:`~meso_kernels.forces.ForceField`): the periodic lattice is L_x e_x, L_y (gamma e_x + e_y), L_z e_z
        and the minimisation is at this fixed strain.
    backend : ``"cpu"`` (default) or ``"cuda"``: FIRE on the GPU (:func:`meso_kernels.cuda.quench.quench`; method
        "fire" and shear = 0 only; ``RuntimeError`` from :func:`meso_kernels.cuda.require` without a GPU). Its
        result also carries ``backend`` and ``device`` (:func:`meso_kernels.cuda.device_name`) for provenance.

    Returns
    -------
    (System, MinimizeResult): the inherent structure (no velocities) and what the minimiser did (``converged``,
    ``n_iter``, ``max_force``, ``energy``). Positions are wrapped into the box [0, L)^d: with shear = 0 as
    x mod L; with a shear by translations of the sheared lattice (:func:`~meso_kernels.forces.wrap_sheared`: y
    first, shifting x by -gamma L_y per crossing, then x and z), so they are the same configuration in the sheared
    cell. The returned ``System`` carries the orthorhombic ``box`` only: the shear is the caller's to keep (and
    ``System.wrap``/``System.wrapped``, which wrap y alone, must not be applied to sheared positions).

    Example: re-minimised states at fixed strains +-g from an inherent structure ``ihs`` (finite-strain route to
    the athermal shear modulus)::

        x = wrap_sheared(affine_shear(ihs.positions, g), ihs.box, g)
        ihs_g, res_g = quench(System(x, ihs.box, ihs.types), model, "cg", shear=g)
    """
    if backend != "cpu":
        from .cuda import check_backend
        check_backend(backend)   # ValueError for an unknown backend, RuntimeError without a GPU
    if method not in METHODS:
        raise ValueError(f"unknown method={method!r}; allowed: {', '.join(METHODS)}")
    if backend == "cuda":
        if shear != 0.0:
            raise ValueError(f"shear={shear!r}: the device force field has no Lees–Edwards cell; use backend='cpu'")
        from .cuda.quench import quench as device_quench
        return device_quench(system, model, method=method, ftol=ftol, max_steps=max_steps, skin=skin, **options)
    system.check_model(model)
    ff = ForceField(model, system.box, skin=skin, shear=shear)
    gamma = ff.shear
    types = np.asarray(system.types, dtype=np.int64)

    def energy_forces(x):
        e, f, _ = ff.compute(x, types, check=False)
        if not np.isfinite(e):
            raise FloatingPointError("non-finite energy during the quench: overlapping particles?")
        return e, f

    res = METHODS[method](energy_forces, np.asarray(system.positions, dtype=float), ftol=ftol,
                          max_steps=max_steps, **options)
    box = np.asarray(system.box, dtype=float)
    if gamma == 0.0:
        x = np.mod(res.x, box)
    else:
        x = wrap_sheared(res.x, box, gamma)
    ihs = System(x, system.box, system.types)
    return ihs, res
