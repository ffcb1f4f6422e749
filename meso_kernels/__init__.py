"""mesoelastic: the kernels behind the reproduction of Kapteijns et al., J. Chem. Phys. 154, 081101 (2021).

Models, neighbour lists, forces, dynamics and quenches to inherent structures, in numba (CPU) kernels."""
__version__ = "0.1.0"
