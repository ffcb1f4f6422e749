"""mesoelastic: the kernels behind the reproduction of Kapteijns et al., J. Chem. Phys. (2021), arXiv:2103.11404.

Models, neighbour lists, forces, dynamics and quenches to inherent structures, in numba (CPU) kernels."""
__version__ = "0.1.0"
