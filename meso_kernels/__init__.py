"""mesoelastic: the kernels behind the reproduction of Kapteijns et al., J. Chem. Phys. (2021), arXiv:2103.11404.

Models, neighbour lists, forces, dynamics and quenches to inherent structures, in numba (CPU) kernels.

Developers: numba's on-disk cache (``cache=True``) is keyed by each function's own source file, so a compiled kernel
keeps stale copies of functions it calls from *other* files. The scripts in ``scripts/`` point ``NUMBA_CACHE_DIR``
at a folder keyed by a hash of the whole package; when running Python by hand after editing a kernel, do the same or
delete the ``__pycache__/*.nbi``/``*.nbc`` files.
"""
__version__ = "0.1.0"
