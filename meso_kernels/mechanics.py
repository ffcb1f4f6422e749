"""The mechanics of one inherent structure, as ``meso mechanics`` computes it: one function that the command line
(:mod:`meso_kernels.cli`) and the book's "your glass" page both call.

:func:`analyse` takes a :class:`~meso_kernels.system.System` and a model and

1. quenches it when asked (``quench=True``), or when ``quench="auto"`` and it is not an inherent structure
   (max_i |F_i| above ``force_tol``): conjugate gradients to max_i |F_i| < ``quench_ftol``;
2. builds the energy terms (Hessian blocks) and refuses a configuration that is not an inherent structure
   (:class:`NotInherentStructure`);
3. computes the athermal shear modulus G = Born − non-affine (paper Eq. A1; :func:`~meso_kernels.elasticity.
   shear_modulus`);
4. computes the dipole stiffnesses κ_ij of all interacting pairs, or of ``n_random`` of them drawn with ``seed``
   (Eqs. A2–A4; :class:`~meso_kernels.dipole.DipoleStiffness`), and with them the local κ_i (mean of κ_ij over
   each particle's computed pairs).

It returns a :class:`Mechanics` with everything the command line writes. Units: the model's reduced units (G,
Born, non-affine and the residual shear stress in energy/length^d, κ in energy/length², forces in energy/length).

:func:`command_line` gives the ``meso mechanics`` command that computes the same thing from a file, and
:func:`describe_system` one line about a configuration (N, d, box, density, species counts).

Errors: bad input raises :class:`MechanicsInputError` (a ``ValueError``; its ``stage`` says where: ``"quench"``,
``"terms"``, ``"inherent"``, ``"kappa"``), a quench that does not converge :class:`QuenchNotConverged` (a
``RuntimeError``), a quench that blows up ``FloatingPointError``.

>>> from meso_kernels.initial import random_configuration
>>> from meso_kernels.models import get_model
>>> model = get_model("ipl", dim=2)
>>> r = analyse(random_configuration(model, 64, 0.86, seed=1), model, quench="auto")
>>> r.quenched, r.initial_max_force > FORCE_TOL >= r.max_force, r.G > 0, r.kappa_mean > r.G
(True, True, True, True)
>>> command_line("glass.gsd", model, quench=True)
'meso mechanics glass.gsd --model ipl --option dim=2 --quench'
"""
from __future__ import annotations

import os
import shlex
import sys
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

__all__ = ["FORCE_TOL", "SOLVERS", "Mechanics", "MechanicsInputError", "NotInherentStructure", "QuenchNotConverged",
           "analyse", "max_force", "describe_system", "command_line", "option_value", "parse_options"]

#: Default largest max_i |F_i| (energy/length) accepted as an inherent structure, as in the rest of the library.
FORCE_TOL = 1e-8
#: Linear solvers for κ: "dense" (Cholesky pseudo-inverse), "cg" (conjugate gradients) or "auto" (by size).
SOLVERS = ("auto", "dense", "cg")
#: Defaults of :func:`analyse` that :func:`command_line` leaves out (they are also the command's defaults).
RTOL = 1e-12
QUENCH_MAX_STEPS = 200_000


class MechanicsInputError(ValueError):
    """A configuration or an option :func:`analyse` refuses; ``stage`` names the step that refused it."""

    def __init__(self, message, stage):
        super().__init__(message)
        self.stage = stage


class NotInherentStructure(MechanicsInputError):
    """The configuration (after the quench, if one was run: ``quenched``) is not a minimum of the energy:
    ``max_force`` = max_i |F_i| exceeds ``force_tol`` (energy/length)."""

    def __init__(self, message, max_force, force_tol, quenched):
        super().__init__(message, "inherent")
        self.max_force, self.force_tol, self.quenched = max_force, force_tol, quenched


class QuenchNotConverged(RuntimeError):
    """The quench stopped at its iteration limit above its force tolerance; ``result`` is the minimiser's."""

    def __init__(self, message, result):
        super().__init__(message)
        self.result = result


@dataclass
class Mechanics:
    """What :func:`analyse` computed for one configuration.

    Attributes
    ----------
    system : System
        The inherent structure analysed (the quenched one when ``quenched``).
    model : Model
    shear : meso_kernels.elasticity.ShearModulus
        ``G``, ``born``, ``nonaffine`` (G = born − nonaffine), residual shear ``stress`` (energy/length^d), solver,
        residual, converged flag.
    dipoles : meso_kernels.dipole.DipoleStiffness
        ``pairs`` (k, 2), ``kappa`` (k,), ``kappa_zmz``, ``residual``, ``converged``, ``local_kappa`` (N,; NaN for
        rattlers and particles without a computed pair), ``rattlers`` (bool, N), ``solver_used``.
    terms : meso_kernels.hessian.Terms
        The energy terms of ``system`` (rattlers included).
    max_force : float
        max_i |F_i| of ``system`` (energy/length).
    initial_max_force : float or None
        max_i |F_i| of the input before the quench (None when no quench was considered: ``quench=False``).
    quenched : bool
        Whether the input was quenched (``quench=True``, or ``"auto"`` on a configuration that needed it).
    quench_result : MinimizeResult or None
        The quench's ``converged``, ``n_iter``, ``max_force``, ``energy``.
    n_interacting : int
        Interacting pairs without the rattlers (κ_ij is computed for all of them, or for ``n_random``).
    settings : dict
        The options used: solver, rtol, force_tol, quench_ftol, quench_max_steps, n_random, seed, backend.
    timings : dict
        Wall time of each stage in s: ``quench``, ``terms``, ``G``, ``kappa``.
    """

    system: object
    model: object
    shear: object
    dipoles: object
    terms: object
    max_force: float
    initial_max_force: float | None
    quenched: bool
    quench_result: object
    n_interacting: int
    settings: dict
    timings: dict = field(default_factory=dict)

    @property
    def G(self):
        """Athermal shear modulus (energy/length^d), Eq. A1."""
        return float(self.shear.G)

    @property
    def kappa_mean(self):
        """⟨κ⟩: mean κ_ij over the computed pairs (energy/length²)."""
        return float(self.dipoles.mean)

    @property
    def local_kappa(self):
        """κ_i (N,), energy/length²: mean κ_ij over the computed pairs of particle i (NaN where none)."""
        return self.dipoles.local_kappa

    def summary(self):
        """A few lines: the quench, max |F_i|, G with its parts, ⟨κ⟩ and the checks."""
        s, ds = self.shear, self.dipoles
        units = f"energy/length^{self.system.dim}"
        lines = []
        if self.quench_result is not None:
            q = self.quench_result
            lines.append(f"quench     cg: {q.n_iter} iterations, E = {q.energy:.12g}, max |F_i| = {q.max_force:.2e}"
                         + (f" (from {self.initial_max_force:.2e})" if self.initial_max_force is not None else ""))
        lines.append(f"max |F_i|  {self.max_force:.2e} (force_tol {self.settings['force_tol']:g})")
        lines.append(f"G          {s.G:.6g} {units} (Born {s.born:.6g} - non-affine {s.nonaffine:.6g}; residual "
                     f"stress {s.stress:.3g}; {s.solver}, residual {s.residual:.1e}"
                     f"{'' if s.converged else ', NOT converged'})")
        n_random, seed = self.settings["n_random"], self.settings["seed"]
        sel = "all" if n_random is None else f"{n_random} random (seed {seed}) of {self.n_interacting}"
        lines.append(f"<kappa>    {ds.mean:.6g} energy/length^2 over {ds.kappa.size} pairs ({sel}; solver "
                     f"{ds.solver_used})")
        lines.append(f"checks     unconverged pairs = {int((~ds.converged).sum())}, rattlers = "
                     f"{int(ds.rattlers.sum())}, max kappa residual = {ds.residual.max():.1e}")
        return "\n".join(lines)


# --- small helpers ----------------------------------------------------------------------------------------------
def max_force(system, model, terms=None):
    """max_i |F_i| (energy/length) of ``system`` under ``model`` (0 for an empty system)."""
    from .hessian import build_terms

    terms = build_terms(system, model) if terms is None else terms
    f = terms.forces()
    return float(np.sqrt((f * f).sum(1)).max()) if terms.n else 0.0


def describe_system(system, type_names=None):
    """One line: N, d, box, number density and the count of each species (named by ``type_names`` if given).

    >>> from meso_kernels.system import System
    >>> describe_system(System([[0.5, 0.5], [1.5, 1.5], [2.5, 0.5]], [4.0, 4.0], [0, 1, 1]), ["A", "B"])
    'N = 3, d = 2, box = 4 x 4, density = 0.1875, species A: 1, B: 2'
    """
    counts = np.bincount(np.asarray(system.types), minlength=system.n_types)
    names = (list(type_names) if type_names is not None and len(type_names) >= counts.size
             else [str(k) for k in range(counts.size)])
    box = " x ".join(f"{b:.6g}" for b in system.box)
    species = ", ".join(f"{names[k]}: {int(c)}" for k, c in enumerate(counts))
    return f"N = {system.N}, d = {system.dim}, box = {box}, density = {system.density:.6g}, species {species}"


def _check_settings(solver, rtol, force_tol, quench, quench_ftol, quench_max_steps, n_random, seed):
    if solver not in SOLVERS:
        raise MechanicsInputError(f"unknown solver={solver!r}; allowed: {', '.join(SOLVERS)}", "settings")
    if not (np.isfinite(rtol) and 0 < rtol < 1):
        raise MechanicsInputError(f"rtol must lie in (0, 1), got {rtol!r}", "settings")
    if not (np.isfinite(force_tol) and 0 < force_tol < 1):
        raise MechanicsInputError(f"force_tol must lie in (0, 1) (energy/length; typically 1e-8), got {force_tol!r}",
                                  "settings")
    if quench not in (True, False, "auto"):
        raise MechanicsInputError(f"quench must be True, False or 'auto', got {quench!r}", "settings")
    if not (np.isfinite(quench_ftol) and 0 < quench_ftol <= force_tol):
        raise MechanicsInputError(f"quench_ftol must lie in (0, force_tol = {force_tol:g}], got {quench_ftol!r}: a "
                                  f"looser quench would not pass the inherent-structure check", "settings")
    if isinstance(quench_max_steps, bool) or int(quench_max_steps) != quench_max_steps or quench_max_steps < 1:
        raise MechanicsInputError(f"quench_max_steps must be a positive integer, got {quench_max_steps!r}",
                                  "settings")
    if n_random is not None and (isinstance(n_random, bool) or int(n_random) != n_random or n_random < 1):
        raise MechanicsInputError(f"n_random must be a positive integer or None (all pairs), got {n_random!r}",
                                  "settings")
    if n_random is None and seed is not None:
        raise MechanicsInputError("seed is only meaningful with n_random (the random pair selection)", "settings")


def _quench(system, model, ftol, max_steps, progress):
    """CG quench with an optional tqdm bar on stderr; non-convergence is the caller's to report."""
    from .quench import quench

    options, bar = {}, None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(desc="quench (cg)", unit="it", file=sys.stderr)

        def callback(k, x, E, F):
            bar.update(1)
            if k % 25 == 0:
                bar.set_postfix_str(f"max|F|={np.sqrt((F * F).sum(1)).max():.2e} > {ftol:.0e}", refresh=False)
            return False
        options["callback"] = callback
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="cg did not converge", category=RuntimeWarning)
            return quench(system, model, method="cg", ftol=ftol, max_steps=max_steps, **options)
    finally:
        if bar is not None:
            bar.close()


class _Stage:
    def __init__(self, timings, name, log, text):
        self.timings, self.name = timings, name
        if log is not None and text:
            log(text)

    def __enter__(self):
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.timings[self.name] = self.timings.get(self.name, 0.0) + time.perf_counter() - self.t0
        return False


# --- the pipeline -----------------------------------------------------------------------------------------------
def analyse(system, model, quench=False, quench_ftol=None, quench_max_steps=QUENCH_MAX_STEPS, force_tol=FORCE_TOL,
            solver="auto", rtol=RTOL, n_random=None, seed=None, backend="cpu", progress=False, log=None):
    """G, κ_ij and κ_i of one configuration: the computation of ``meso mechanics`` (module docstring).

    Parameters
    ----------
    system : System
        2D or 3D, orthorhombic periodic box, species matching ``model`` (``System.check_model``).
    model : Model
        From :func:`meso_kernels.models.get_model`.
    quench : bool or "auto"
        True: minimise the energy first (conjugate gradients); False: the input must be an inherent structure
        (else :class:`NotInherentStructure`); "auto": quench only when max_i |F_i| > ``force_tol``.
    quench_ftol : float or None
        Force tolerance of the quench (energy/length); default min(1e-10, force_tol / 10).
    quench_max_steps : int
        Iteration limit of the quench (:class:`QuenchNotConverged` when reached).
    force_tol : float
        Largest max_i |F_i| (energy/length) accepted as an inherent structure, in (0, 1).
    solver : "auto", "dense" or "cg"
        For κ (:class:`~meso_kernels.dipole.DipoleStiffness`); G uses dense when ``solver == "dense"``, else cg.
    rtol : float
        Relative residual of the CG solves.
    n_random, seed : int or None
        κ_ij of ``n_random`` interacting pairs drawn without replacement with ``seed`` (default 0); None: all pairs.
    backend : "cpu" or "cuda"
        Where the G and κ solves run (the quench runs on the CPU either way); "cuda" needs solver "auto" or "cg".
    progress : bool
        tqdm bars (on stderr) for the quench and the κ solves.
    log : callable or None
        Called with a short message at the start of each stage and after the quench.

    Returns
    -------
    Mechanics
    """
    from .dipole import DipoleStiffness
    from .elasticity import shear_modulus
    from .hessian import build_terms, check_inherent_structure

    if quench_ftol is None:
        quench_ftol = min(1e-10, force_tol / 10)
    _check_settings(solver, rtol, force_tol, quench, quench_ftol, quench_max_steps, n_random, seed)
    try:
        system.check_model(model)
    except ValueError as exc:
        raise MechanicsInputError(str(exc), "model") from None
    seed_used = (0 if seed is None else int(seed)) if n_random is not None else None
    timings = {}

    def terms_of(s):
        with _Stage(timings, "terms", log, "evaluating the energy terms (Hessian blocks)"):
            try:
                return build_terms(s, model)
            except ValueError as exc:
                raise MechanicsInputError(str(exc), "terms") from None

    # --- quench (always, or only when needed) ---
    terms, initial = None, None
    do_quench = bool(quench) if quench != "auto" else None
    if do_quench is None:
        terms = terms_of(system)
        initial = max_force(system, model, terms)
    elif do_quench:  # only reported: a configuration whose terms cannot be built goes to the quench as before
        try:
            initial = max_force(system, model)
        except ValueError:
            initial = None
    if do_quench is None:
        do_quench = initial > force_tol
        if log is not None:
            log(f"max |F_i| = {initial:.3g} {'exceeds' if do_quench else 'is within'} force_tol {force_tol:g}: "
                + ("not an inherent structure, quenching it" if do_quench else "an inherent structure, no quench"))
    qres = None
    if do_quench:
        with _Stage(timings, "quench", log, f"quenching (cg to max|F_i| < {quench_ftol:g})"):
            try:
                system, qres = _quench(system, model, quench_ftol, int(quench_max_steps), progress)
            except ValueError as exc:
                raise MechanicsInputError(str(exc), "quench") from None
        if not qres.converged:
            raise QuenchNotConverged(f"the quench did not converge: {qres.summary()}", qres)
        if log is not None:
            log(qres.summary())
        terms = None

    # --- terms and the inherent-structure check ---
    if terms is None:
        terms = terms_of(system)
    try:
        fmax = check_inherent_structure(terms, force_tol)
    except ValueError:
        fmax = max_force(system, model, terms)
        what = "the quenched configuration" if do_quench else "the configuration"
        hint = ("lower quench_ftol or raise force_tol" if do_quench else
                "quench it first (quench=True, or 'auto'), or raise force_tol")
        raise NotInherentStructure(f"{what} is not an inherent structure of model {model.name}: max |F_i| = "
                                   f"{fmax:.3g} exceeds force_tol {force_tol:g}; {hint}", fmax, force_tol,
                                   do_quench) from None

    # --- G (Eq. A1) ---
    g_solver = "dense" if solver == "dense" else "cg"
    with _Stage(timings, "G", log, f"shear modulus G ({g_solver})"):
        G = shear_modulus(system, model, solver=g_solver, force_tol=force_tol, rtol=rtol, terms=terms,
                          backend=backend)

    # --- kappa_ij and kappa_i (Eqs. A2-A4) ---
    with _Stage(timings, "kappa", log, "dipole stiffnesses kappa_ij"):
        ds = DipoleStiffness(solver=solver, rtol=rtol, force_tol=force_tol, progress=progress, backend=backend)
        try:
            if n_random is not None:
                ds.compute(system, model, n_random=int(n_random), seed=seed_used, terms=terms)
            else:
                ds.compute(system, model, pairs="all", terms=terms)
        except ValueError as exc:
            raise MechanicsInputError(str(exc), "kappa") from None
    n_interacting = int(terms.without(ds.rattlers).n_pair) if ds.rattlers.any() else int(terms.n_pair)
    settings = {"solver": solver, "rtol": float(rtol), "force_tol": float(force_tol),
                "quench": quench, "quench_ftol": float(quench_ftol), "quench_max_steps": int(quench_max_steps),
                "n_random": None if n_random is None else int(n_random), "seed": seed_used, "backend": backend}
    return Mechanics(system, model, G, ds, terms, float(fmax), initial, do_quench, qres, n_interacting, settings,
                     timings)


def option_value(text):
    """A model option's value from text, as ``meso mechanics --option KEY=VALUE`` parses it: ``"2"`` -> 2,
    ``"0.6"`` -> 0.6, ``"3.0"`` -> 3 (integral numbers become ints), anything else stays a str."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return text
    if np.isfinite(value) and value == int(value):
        return int(value)
    return value


def parse_options(options):
    """Model options as a dict: a dict (returned as a copy), None (no options), or text ``"KEY=VALUE[,KEY=VALUE]"``
    (each value parsed by :func:`option_value`; e.g. from a notebook parameter given on the command line).

    >>> parse_options("dim=2"), parse_options({"rho": 0.7}), parse_options(None), parse_options("rho=0.6, x=a")
    ({'dim': 2}, {'rho': 0.7}, {}, {'rho': 0.6, 'x': 'a'})
    """
    if options is None:
        return {}
    if isinstance(options, dict):
        return dict(options)
    if not isinstance(options, str):
        raise ValueError(f"options must be a dict, None or text KEY=VALUE[,KEY=VALUE], got {options!r}")
    out = {}
    for item in filter(None, (part.strip() for part in options.split(","))):
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise ValueError(f"options: expected KEY=VALUE (e.g. dim=2), got {item!r} in {options!r}")
        if key in out:
            raise ValueError(f"options: {key} given twice in {options!r}")
        out[key] = option_value(value)
    return out


def _explicit_options(model):
    """The options of ``model`` that differ from its factory's defaults (those a command line must give)."""
    import inspect

    from .models import registry

    entry = registry._REGISTRY.get(model.name)
    defaults = {} if entry is None else {k: v.default for k, v in inspect.signature(entry[0]).parameters.items()}
    return {k: v for k, v in model.options.items() if k not in defaults or defaults[k] != v}


def command_line(config, model, quench=False, n_random=None, seed=None, solver="auto", rtol=RTOL,
                 force_tol=FORCE_TOL, quench_ftol=None, quench_max_steps=QUENCH_MAX_STEPS, frame=-1, out_dir=None,
                 stem=None):
    """The ``meso mechanics`` command (a shell-quoted string) that computes what :func:`analyse` computes with these
    settings, for the configuration file ``config`` (frame ``frame``) and ``model`` (a Model: its name and options
    become ``--model`` and ``--option``); options at their defaults are left out. ``quench`` must be a bool here
    (the command has no "auto": pass whether the configuration was quenched, ``Mechanics.quenched``).

    >>> from meso_kernels.models import get_model
    >>> command_line("my glass.gsd", get_model("ss", rho=0.7), n_random=500, seed=3, out_dir="results")
    "meso mechanics 'my glass.gsd' --model ss --option rho=0.7 --n-random 500 --seed 3 --out-dir results"
    """
    if quench not in (True, False):
        raise ValueError(f"quench must be True or False (whether the configuration is quenched), got {quench!r}")
    argv = ["meso", "mechanics", os.fspath(config), "--model", model.name]
    for key, value in _explicit_options(model).items():
        argv += ["--option", f"{key}={value!r}" if isinstance(value, float) else f"{key}={value}"]
    if frame != -1:
        argv += ["--frame", str(int(frame))]
    if quench:
        argv.append("--quench")
        if quench_ftol is not None:
            argv += ["--quench-ftol", f"{quench_ftol:g}"]
        if quench_max_steps != QUENCH_MAX_STEPS:
            argv += ["--quench-max-steps", str(int(quench_max_steps))]
    if n_random is not None:
        argv += ["--n-random", str(int(n_random))]
        if seed is not None:
            argv += ["--seed", str(int(seed))]
    if solver != "auto":
        argv += ["--solver", solver]
    if rtol != RTOL:
        argv += ["--rtol", f"{rtol:g}"]
    if force_tol != FORCE_TOL:
        argv += ["--force-tol", f"{force_tol:g}"]
    if out_dir is not None:
        argv += ["--out-dir", os.fspath(out_dir)]
    if stem is not None:
        argv += ["--stem", stem]
    return shlex.join(argv)
