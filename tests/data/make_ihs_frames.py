"""How tests/data/ihs_frames_*.npz were made (run once, on one machine; the tests read the stored frames so that every
CPU quenches the same configurations: a re-recorded trajectory would visit other basins on another CPU).

    python tests/data/make_ihs_frames.py

Each file holds ``frames`` (F, N, 3) float32 positions wrapped into the box (the stored values are the frames: they
are cast to float64 before use), ``times`` (F,), ``box`` (3,), ``types`` (N,) and the recipe (model, rho, T,
thermalisation steps, seed). Recipe: random configuration -> Nosé–Hoover thermalisation -> record_trajectory with
the paper's IHS time step (footnote 83)."""
import sys
from pathlib import Path

import numpy as np

from meso_kernels.analysis.ihs import ihs_time_step, record_trajectory
from meso_kernels.cpuinfo import cpu_record
from meso_kernels.initial import random_configuration
from meso_kernels.integrate import thermalize
from meso_kernels.io import save_npz
from meso_kernels.models import get_model

RECIPES = {
    # name: model, model options, N, rho, T, thermalisation steps, frames, seed. The SS seed was picked (among 2-5)
    # for a trajectory with back-and-forth transitions inside blocks of 8 frames, which bisection misses.
    "ipl": ("ipl", {}, 128, 0.82, 0.8, 3000, 120, 1),
    "ss": ("ss", {"rho": 0.6}, 128, 0.6, 1.5, 2000, 150, 2),
}


def make(name):
    key, opts, N, rho, T, nsteps, nframes, seed = RECIPES[name]
    m = get_model(key, **opts)
    sim = thermalize(random_configuration(m, N, rho, seed=seed), m, T, nsteps, seed=seed)
    tr = record_trajectory(sim.system, m, T, nframes, ihs_time_step(m))
    frames = tr.frames.astype(np.float32)
    frames[frames >= tr.box.astype(np.float32)] = 0.0           # float32 rounding may reach L: fold back
    path = Path(__file__).with_name(f"ihs_frames_{name}.npz")
    save_npz(path, frames=frames, times=tr.times, box=tr.box, types=tr.types.astype(np.int32),
             model=np.array(key), rho=np.array(rho), T=np.array(T), thermalisation_steps=np.array(nsteps),
             seed=np.array(seed), cpu=np.array(cpu_record()["model"]))
    return path


if __name__ == "__main__":
    for name in sys.argv[1:] or RECIPES:
        print(make(name))
