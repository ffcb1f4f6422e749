# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Fig. 6: sticky spheres at three densities
#
# In the sticky-sphere liquid at its usual density (ρ = 0.6) the paper finds that the dipole stiffness of the glass
# does not predict the activation energy (Fig. 4). Compressing the same liquid makes the repulsive cores dominate
# and the landscape less granular (Fig. 5); the paper reports that Eq. 3 then holds again, and that the local
# correlation between soft κ and mobility returns with it. This page tests the first half of that statement:
# panels (a1–a3) fit Eq. 3 to τ_α and κ(T) at ρ = 0.6, 0.7 and 0.95, with the same criterion as Fig. 4 and the
# same comparison against the shoving model's G.
#
# Panels (b) and (c) of the paper (the distribution and rank of local κ among mobile and immobile particles) need
# isoconfigurational ensembles; they are not on this page yet.
#
# The data are the campaign tasks of `meso_kernels.campaign.figures.fig04_tasks` for the three densities: one
# liquid per scheduled temperature and a mechanics ensemble at each (T_p = T). `meso campaign run --figures 6`
# computes the missing ones on every core.

# %% tags=["parameters", "remove-cell"]
size = "ci"
seed = 0
densities = ["ss0.6", "ss0.7", "ss0.95"]  # SS model keys of meso_kernels.statepoints
activated_from = "auto"  # tau_alpha/t0 where the fits start; "auto": 10 (the activated regime), 0 at ci
temperatures = None  # {model key: [T, ...]}: a subset of a schedule (None: every scheduled temperature)
compute_missing = True  # False: a missing liquid or ensemble raises an error saying how to compute it
n_resamples = 2000  # bootstrap resamples of every interval
require_stationary = "auto"  # leave points that fail the stationarity check out of the fits; "auto": not at ci

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import numpy as np

from meso_kernels.analysis.activation import EQ3_CRITERION
from meso_kernels.campaign.series import (analyse_models, comparison_table, ensemble_table,
                                          fit_table, points_table, verdict_lines)
from meso_kernels.io import atomic_path, git_state
from meso_kernels.presets import check_size
from meso_kernels.statepoints import check_key, label, schedule
from meso_kernels.store import REPO_ROOT, data_root

check_size(size)
densities = [check_key(k) for k in densities]
if not all(k.startswith("ss") for k in densities):
    raise ValueError(f"densities must be sticky-sphere keys (ss0.6, ss0.7, ss0.95), got {densities}")
print(f"run size {size!r}, seed {seed}, code {git_state()[0][:12]}")
print(EQ3_CRITERION)

series, analyses = analyse_models(size, densities, seed=seed, temperatures=temperatures,
                                  compute_missing=compute_missing, activated_from=activated_from,
                                  require_stationary=require_stationary, n_resamples=n_resamples)
for k, s in series.items():
    print(f"{label(k)} (N = {schedule(size, k).N}): "
          + ", ".join(f"T={T:g}: {x:.3g}" for T, x in zip(s.T, s.tau_over_t0)) + "  (tau_alpha/t0)")

# %% tags=["hide-input"]
fig, axes = plt.subplots(2, len(densities), figsize=(4.2 * len(densities), 7.2), squeeze=False)
for n, k in enumerate(densities):
    a = analyses[k]
    for row, name, colour, text in ((0, "kappa", "C3", "κ"), (1, "G", "C0", "G")):
        ax = axes[row, n]
        f, v = a.fits[name], a.verdicts[name]
        x_all = a.series.means(name) / a.series.T
        tau = a.series.tau_over_t0
        rest, bad = ~a.activated & a.stationary, ~a.stationary
        ax.plot(x_all[rest], np.log(tau[rest]), "o", mfc="none", color=colour)
        ax.plot(x_all[bad], np.log(tau[bad]), "x", color="C1", ms=7)
        ax.errorbar(f.x, f.y, xerr=f.x_err, yerr=f.sigma, fmt="o", color=colour, capsize=2, ms=4)
        xx = np.linspace(x_all.min(), x_all.max(), 50)
        extra = f", ℓ̃ = {f.l_tilde:.2g}" if name == "kappa" else ""
        ax.plot(xx, f.slope * xx + f.intercept, "k-", lw=1,
                label=f"t̃ = {f.t_tilde:.2g}{extra}\n{'holds' if v.holds else 'fails'} (p = {f.p_value:.2g})")
        ax.set(xlabel=f"{text} / T", ylabel="ln(τ_α / t0)",
               title=f"({'a' if row == 0 else 'G'}{n + 1}) {label(k)}: " + ("Eq. 3" if row == 0 else "Eq. 2"))
        ax.legend(fontsize=8, frameon=False)
fig.tight_layout()
plt.show()

# %% [markdown]
# Top row: the paper's panels (a1–a3), Eq. 3 with κ. Bottom row: the shoving model (Eq. 2) on the same τ_α, which
# the paper does not show. Open symbols are state points outside the activated regime, crosses those that fail the
# stationarity check of the Fig. 9 and 11 pages; neither is fitted.

# %% tags=["hide-input"]
fits = fit_table(analyses.values(), label=label)
print(fits.to_string(float_format=lambda x: f"{x:.3g}"))
print(verdict_lines(analyses.values(), label=label))
print()
print(comparison_table(analyses.values(), label=label).to_string(float_format=lambda x: f"{x:.3g}"))
print()
print(ensemble_table(analyses.values(), label=label).to_string(float_format=lambda x: f"{x:.3g}"))

out_dir = data_root(size) / "figures"
for k, a in analyses.items():
    with atomic_path(out_dir / f"fig06_{size}_{k}_points.csv") as tmp:  # temporary file, then rename
        points_table(a).to_csv(tmp, index=False, float_format="%.6g")
with atomic_path(out_dir / f"fig06_{size}_fits.csv") as tmp:
    fits.join(comparison_table(analyses.values(), label=label).drop(columns="points")).to_csv(tmp)
shown = out_dir.relative_to(REPO_ROOT) if out_dir.is_relative_to(REPO_ROOT) else out_dir
print(f"\nplotted numbers written to {shown}/fig06_{size}_*.csv (size {size!r}, code {git_state()[0][:12]})")

# %% [markdown]
# ## Panels (b) and (c): not yet computed
#
# The paper's panels (b1–b3) and (c1–c3) compare the local dipole stiffness κ_i of the particles that an
# isoconfigurational ensemble finds most and least mobile. They need the isoconfigurational campaign (many MD runs
# from each of many inherent structures at the Fig. 11 state points) and local κ_i from all pairs; both are
# planned and will appear here. Nothing is drawn in their place.
