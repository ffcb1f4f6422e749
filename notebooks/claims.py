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
# # Claims: the paper against this book
#
# Every statement of the paper that carries a number or a direction, one row each: the paper's value, the number
# this book computed for it with its 90 % interval (or the kind of interval it has), the run size that produced it,
# and a verdict. Nothing in the table is typed by hand except the paper's side (the registry
# `meso_kernels.claims.CLAIMS`): each figure page, in its last cells, records what it found for each claim of its
# figure (`meso_kernels.claims.record`), and this page only reads those records for its size.
#
# The verdicts are decided on the figure pages, each by a criterion stated there before the number is read:
#
# - **reproduced**: the criterion holds (for a bound, the whole 90 % interval lies on the paper's side of it);
# - **not reproduced**: the criterion fails (for a bound, the whole interval lies on the other side);
# - **not resolvable at this size**: the interval contains the bound, or the page states that its size cannot be
#   read against the paper (the `ci` size of most pages, which exists to exercise the code: small, hot systems);
# - **pending (Fig. N)**: the figure has no page yet.
#
# Follow the link in the last column for the data, the criterion and the caveats behind a row. This page is executed
# after all figure pages (`scripts/run_notebooks.py` runs it last) and fails if a page that exists did not record
# every claim of its figure at this size (with `missing = "list"`, for a build of some pages only, such rows say
# "not run at this size" instead).

# %% tags=["parameters", "remove-cell"]
size = "ci"
missing = "error"  # a figure page without records at this size: "error" (the book, CI) or "list" (a partial build)

# %% tags=["hide-input"]
from meso_kernels.claims import claims_table, markdown_table, verdict_counts
from meso_kernels.io import atomic_path
from meso_kernels.presets import check_size
from meso_kernels.report import link_markdown, show_markdown
from meso_kernels.store import data_root

check_size(size)
rows = claims_table(size, missing=missing)  # raises if a figure page exists but did not record its claims
counts = verdict_counts(rows)
show_markdown(f"**{len(rows)} claims at size `{size}`**: "
              + ", ".join(f"{n} {v}" for v, n in sorted(counts.items(), key=lambda kv: -kv[1])) + ".")
show_markdown(markdown_table(rows), markdown_table(rows, link=False))

# %% [markdown]
# The same table as CSV (one row per claim, with the claim's id and the quantity behind each number):

# %% tags=["hide-input"]
import pandas as pd

out = data_root(size) / "figures" / f"claims_{size}.csv"
with atomic_path(out) as tmp:  # temporary file, then rename
    pd.DataFrame(rows).to_csv(tmp, index=False)
show_markdown(f"Claims table: {link_markdown(out)} (CSV)", f"claims table written to {out}")
