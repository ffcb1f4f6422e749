"""The paper's claims with a number or a direction, and what each figure page found for them.

One registry (:data:`CLAIMS`) holds, per claim, the figure it belongs to, the statement (in this project's words), the
paper's value and the quantity that tests it. The registry is the only place where numbers are typed by hand, and
they are the *paper's* numbers; the book's own numbers come from the figure pages. Each figure page, in a cell near
its end, calls :func:`record` once for every claim registered for its figure, with the number it computed, its
interval and the verdict of the criterion stated on that page. :func:`record` writes one small JSON file per figure
and size, ``<data_root(size)>/figures/figNN_<size>_claims.json`` (atomically: temporary file, then rename), and the
claims page (``notebooks/claims.py``) reads them all into one table (:func:`claims_table`, :func:`markdown_table`).

Verdicts (:data:`VERDICTS`): "reproduced", "not reproduced", or "not resolvable at this size" where the page says its
size cannot decide the claim (the ``ci`` size of most pages) or where the interval of the number straddles the
paper's bound. Two helpers turn a page's criterion into a verdict the same way on every page: :func:`interval_test`
(is an interval entirely on one side of a bound?) and :func:`decide` (the size's say).

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> ok = interval_test(0.12, 0.30, 0.0, "above")      # an interval entirely above 0
>>> path = record("fig07.cs_dense_positive", "default", 0.2, 0.12, 0.30, verdict=decide(ok, "default"), root=root)
>>> read_records("default", root=root)["fig07.cs_dense_positive"]["verdict"]
'reproduced'
>>> decide(ok, "ci")                                   # the ci size resolves nothing unless a page says so
'not resolvable at this size'
"""
import datetime as _dt
import json
import math
import numbers
import re
from dataclasses import dataclass
from pathlib import Path

from .io import git_state, write_json
from .store import REPO_ROOT, data_root

#: the three verdicts a record may carry
REPRODUCED, NOT_REPRODUCED, NOT_RESOLVABLE = "reproduced", "not reproduced", "not resolvable at this size"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, NOT_RESOLVABLE)
#: sizes whose runs a page may read against the paper unless it says otherwise (``ci`` exercises the code)
RESOLVING_SIZES = ("default", "paper")
#: where the figure pages live (``notebooks/figNN_<topic>.py``) and where their executed notebooks go
NOTEBOOKS = REPO_ROOT / "notebooks"


@dataclass(frozen=True)
class Claim:
    """One claim of the paper. id: ``figNN.<name>``; figure: its figure number (1-12); statement: the claim in this
    project's words; paper_value: what the paper gives (a number, a range or a direction, as text); quantity: the
    number a page records to test it (with units)."""
    id: str
    figure: int
    statement: str
    paper_value: str
    quantity: str

    @property
    def page(self):
        """The figure page's name (``fig04_mesoelastic_fit``), or None while no page exists for the figure."""
        return figure_page(self.figure)


def _c(id, statement, paper_value, quantity):
    return Claim(id, int(id[3:5]), statement, paper_value, quantity)


_MODELS4 = (("ipl", "IPL"), ("mblj", "mBLJ"), ("ss0.6", "SS ρ=0.6"), ("sw", "SW"))
_EQ3_PAPER = {"ipl": ("holds", "holds, (t̃, ℓ̃) = (0.1, 0.4)"), "mblj": ("holds", "holds, (t̃, ℓ̃) = (0.02, 0.4)"),
              "ss0.6": ("fails", "fails (t̃ many decades below any reduced time)"),
              "sw": ("fails", "fails (t̃ many decades below any reduced time)"),
              "ss0.7": ("fails", "fails (Fig. 6 a2)"), "ss0.95": ("holds", "holds (Fig. 6 a3)")}
#: Eq. 3 per model as the paper finds it ("holds" or "fails"), for the pages' verdicts
EQ3_PAPER = {k: v[0] for k, v in _EQ3_PAPER.items()}
#: q_max of the large species, the paper's Tables I and III (1 / length)
QMAX_PAPER = {"ipl": 6.35, "mblj": 7.25, "ss0.6": 5.47, "sw": 6.28, "ss0.7": 5.87, "ss0.95": 6.40}
#: the Stokes-Einstein breakdown exponent range of the paper (Fig. 9, Appendix D 1)
XI_PAPER = (0.74, 0.79)

CLAIMS = (
    _c("fig01.mode_like_dipole", "A soft quasilocalised mode of a 2D IPL glass looks like the glass's response to a "
       "force dipole at the mode's core", "similar (shown side by side, no number)",
       "overlap |π·ẑ| of the softest mode with the normalised dipole response at its core"),
    _c("fig02.propensity_kappa", "The propensity for motion of a 2D IPL liquid (T = 0.48) is correlated with the "
       "local dipole stiffness of its inherent structure: soft where mobile", "highly correlated (no number)",
       "Spearman C_s(1/κ_i, neighbour-relative propensity), ensemble mean"),
    _c("fig02.qlm_cores_soft", "The cores of the softest quasilocalised modes sit where the local dipole stiffness "
       "is low", "soft κ at the circled QLM cores (no number)",
       "mean rank of κ_i at the 12 softest mode cores (0 softest, 0.5 random)"),
    _c("fig03.kappa_vs_G", "Annealing (lower parent temperature T_p) raises the mean dipole stiffness κ much more "
       "than the shear modulus G (3D IPL)", "κ: ≈ +100 %, G: +26 % (ratio ≈ 3.8)",
       "relative change of κ from the hottest to the coldest T_p (%)"),
    *(_c(f"fig04.kappa_vs_G_{k}", f"κ increases more than G on annealing ({name})", "Δκ/κ > ΔG/G > 0",
         "relative change of κ from the hottest to the coldest T_p (%)") for k, name in _MODELS4),
    *(_c(f"fig04.eq3_{k}", f"Eq. 3, ln(τ_α/t0) = (ℓ̃a0)²κ(T)/T + ln t̃, {_EQ3_PAPER[k][0]} for {name}",
         _EQ3_PAPER[k][1], "t̃ (t0) of the Eq. 3 fit; ℓ̃ (a0) in the detail") for k, name in _MODELS4),
    _c("fig05.rate_order", "SS and SW liquids hop between inherent structures more often than IPL and mBLJ at "
       "comparable viscosity", "SS, SW > IPL, mBLJ",
       "reduced transition rate ratio min(SS, SW) / max(IPL, mBLJ)"),
    _c("fig05.rate_gap", "... by at least an order of magnitude", "≥ 10×",
       "reduced transition rate ratio min(SS, SW) / max(IPL, mBLJ)"),
    _c("fig05.rate_mblj_ipl", "mBLJ hops about an order of magnitude more often than IPL", "≈ 10× (≥ 10)",
       "reduced transition rate ratio mBLJ / IPL"),
    _c("fig05.rate_density_order", "Compressing SS lowers its transition rate at fixed viscosity",
       "rate(ρ=0.6) > rate(ρ=0.95)", "reduced transition rate ratio SS ρ=0.6 / SS ρ=0.95"),
    _c("fig05.rate_density_gap", "... by over two decades from ρ = 0.6 to ρ = 0.95", "> 100×",
       "reduced transition rate ratio SS ρ=0.6 / SS ρ=0.95"),
    *(_c(f"fig06.eq3_{k}", f"Eq. 3 {_EQ3_PAPER[k][0]} for SS at ρ = {k[2:]}", _EQ3_PAPER[k][1],
         "t̃ (t0) of the Eq. 3 fit; ℓ̃ (a0) in the detail") for k in ("ss0.6", "ss0.7", "ss0.95")),
    _c("fig06.rank_gap_order", "The κ ranks of the most and least mobile SS particles separate more at higher "
       "density", "gap largest at ρ = 0.95, smallest at ρ = 0.6",
       "rank gap (mean immobile − mean mobile κ rank) at ρ = 0.95; all three in the detail"),
    _c("fig07.cs_trend", "The rank correlation C_s between 1/κ_i and mobility in SS decreases as the density is "
       "lowered", "C_s falls from ρ = 0.95 to 0.7 to 0.6",
       "C_s(ρ=0.95) − C_s(ρ=0.6); the three C_s in the detail"),
    _c("fig07.cs_dense_positive", "At ρ = 0.95 the correlation C_s is clearly positive", "C_s > 0 (clearly)",
       "C_s at ρ = 0.95, ensemble mean"),
    _c("fig08.granular_landscape", "The landscapes of SS and SW are granular (many sub-basins separated by low "
       "barriers), those of IPL and mBLJ are not", "cartoon (no number)",
       "fraction of NEB barriers below T, SS ρ=0.6 and SW minus IPL and mBLJ"),
    _c("fig09.ballistic_end", "The ballistic regime of the MSD ends near 0.1 t0 in all models", "≈ 0.1 t0",
       "t_ballistic/t0, median over models and state points (range in brackets)"),
    *(_c(f"fig09.se_xi_{k}", f"Stokes–Einstein breaks down as D ∝ τ_α^−ξ with ξ in 0.74–0.79 ({name})",
         "ξ = 0.74–0.79", "ξ of the fit of ln D against ln τ_α") for k, name in _MODELS4),
    *(_c(f"fig10.qmax_{k}", f"q_max, the first peak of the large species' S(q), {name} (Table I)",
         f"{QMAX_PAPER[k]:.2f}", "first peak of S(q) of the large species (1/length)") for k, name in _MODELS4),
    *(_c(f"fig11.qmax_{k}", f"q_max of SS at ρ = {k[2:]} (Table III)", f"{QMAX_PAPER[k]:.2f}",
         "first peak of S(q) of the large species (1/length)") for k in ("ss0.7", "ss0.95")),
    _c("fig12.ipl_repulsive", "IPL: every interaction is repulsive", "all repulsive",
       "share of first-shell glass pairs with an attractive pair force"),
    _c("fig12.mblj_aa_repulsive", "mBLJ: the frequent AA pairs are dominantly repulsive", "dominantly repulsive",
       "share of first-shell AA glass pairs with an attractive pair force"),
    _c("fig12.mblj_ab_well", "mBLJ: the AB pairs sit dominantly in the attractive well", "dominantly attractive",
       "share of first-shell AB glass pairs with φ < 0"),
    _c("fig12.ss_well", "SS: a significant share of pairs uses the deep attractive well", "significant share",
       "share of first-shell glass pairs with φ < 0 (mean over AA, AB, BB)"),
    _c("fig12.sw_well", "SW: virtually all first neighbours sit in the attractive well", "virtually all",
       "share of first-shell glass pairs with φ < 0"),
)
_BY_ID = {c.id: c for c in CLAIMS}
if len(_BY_ID) != len(CLAIMS):  # pragma: no cover - a typing error in the registry
    raise RuntimeError("duplicate claim ids in meso_kernels.claims.CLAIMS")


def get_claim(claim_id):
    """The :class:`Claim` of ``claim_id``; ValueError naming the registered ids if there is none."""
    try:
        return _BY_ID[claim_id]
    except (KeyError, TypeError):
        raise ValueError(f"unknown claim id {claim_id!r}; registered ids: {', '.join(_BY_ID)}") from None


def claims_of(figure):
    """The claims registered for figure number ``figure`` (1-12), in registry order."""
    return [c for c in CLAIMS if c.figure == int(figure)]


def figure_page(figure, notebooks_dir=NOTEBOOKS):
    """Name of the page of figure ``figure`` (``notebooks/figNN_*.py`` without suffix), or None if none exists."""
    found = sorted(Path(notebooks_dir).glob(f"fig{int(figure):02d}_*.py"))
    return found[0].stem if found else None


# ---------------------------------------------------------------------------------------------- verdicts

def interval_test(lo, hi, bound, side="above"):
    """Is the interval [lo, hi] entirely on ``side`` ("above" or "below") of ``bound``? True if so, False if it is
    entirely on the other side, None if it contains the bound or is not finite (undecided)."""
    if side not in ("above", "below"):
        raise ValueError(f"side must be 'above' or 'below', got {side!r}")
    lo, hi, bound = _number(lo, "lo"), _number(hi, "hi"), _number(bound, "bound")
    if lo is None or hi is None or math.isnan(lo) or math.isnan(hi) or lo > hi:
        return None
    if side == "above":
        return True if lo > bound else False if hi < bound else None
    return True if hi < bound else False if lo > bound else None


def decide(passed, size, resolved_at=RESOLVING_SIZES):
    """The verdict of a page's criterion: ``passed`` True -> reproduced, False -> not reproduced, None (the
    criterion cannot tell) -> not resolvable; and "not resolvable at this size" whenever ``size`` is not among
    ``resolved_at`` (the sizes the page says can be read against the paper)."""
    from .presets import check_size
    check_size(size)
    if size not in resolved_at or passed is None:
        return NOT_RESOLVABLE
    return REPRODUCED if bool(passed) else NOT_REPRODUCED



def qmax_check(key, runs, size, table, tolerance=0.2):
    """The q_max claim of model ``key`` (Figs. 10 and 11): the first peak of the large species' S(q), pooled over the
    final configurations of ``runs`` (its :class:`~meso_kernels.campaign.liquid.StatePointDynamics`), against the
    paper's ``table`` value :data:`QMAX_PAPER` (1/length). Returns the keyword arguments of :func:`record` after
    ``claim_id, size``: reproduced when the peak lies within ``tolerance`` of the paper's value (at the sizes of
    :func:`decide`)."""
    from .campaign.liquid import structure_factor_peak
    if key not in QMAX_PAPER:
        raise ValueError(f"key {key!r} has no q_max in the paper's tables; allowed: {', '.join(QMAX_PAPER)}")
    q_peak, n_conf = structure_factor_peak(runs)
    return dict(value=q_peak, interval="none",
                verdict=decide(bool(abs(q_peak - QMAX_PAPER[key]) <= tolerance), size),
                detail=f"{100 * (q_peak / QMAX_PAPER[key] - 1):+.1f} % from {table}; S(q) of {n_conf} "
                       f"configurations, N = {int(runs[0].arrays['N'])}")

# ---------------------------------------------------------------------------------------------- records

def records_path(figure, size, root=None):
    """``<root>/figures/figNN_<size>_claims.json``; root: :func:`meso_kernels.store.data_root` of ``size``."""
    from .presets import check_size
    check_size(size)
    root = data_root(size) if root is None else Path(root)
    return root / "figures" / f"fig{int(figure):02d}_{size}_claims.json"


def _number(x, name):
    if x is None:
        return None
    if isinstance(x, bool) or not isinstance(x, numbers.Real):  # numpy scalars are Real; str, bool are refused
        raise ValueError(f"{name} must be a number or None, got {x!r}")
    return float(x)


def record(claim_id, size, value, lo=None, hi=None, *, verdict, detail="", interval="90 % CI", root=None):
    """Record what a figure page found for claim ``claim_id`` at run size ``size``: ``value`` (a number, nan if it
    could not be computed) with the interval [``lo``, ``hi``] (None where there is none; ``interval`` says what kind,
    default "90 % CI"), the ``verdict`` (one of :data:`VERDICTS`, decided on the page by its stated criterion) and a
    short ``detail`` (the criterion's numbers). Merged into the figure's JSON file (:func:`records_path`), written
    atomically. Returns the file's path.

    Raises ValueError for an unknown claim id or verdict (naming the allowed ones), a non-numeric value or bound, or
    lo > hi."""
    claim = get_claim(claim_id)
    if verdict not in VERDICTS:
        raise ValueError(f"unknown verdict {verdict!r}; allowed: {', '.join(repr(v) for v in VERDICTS)}")
    value, lo, hi = _number(value, "value"), _number(lo, "lo"), _number(hi, "hi")
    if value is None:
        raise ValueError("value must be a number (nan if it could not be computed), got None")
    if lo is not None and hi is not None and lo > hi:
        raise ValueError(f"lo must not exceed hi, got lo = {lo!r}, hi = {hi!r}")
    if not isinstance(detail, str) or not isinstance(interval, str):
        raise ValueError("detail and interval must be strings")
    path = records_path(claim.figure, size, root)
    data = _read(path) or {"figure": claim.figure, "size": size, "claims": {}}
    commit, dirty = git_state()
    data["claims"][claim_id] = {"value": value, "lo": lo, "hi": hi, "interval": interval, "verdict": verdict,
                                "detail": detail, "size": size, "commit": commit, "dirty": dirty,
                                "recorded": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    write_json(path, data)
    return path


def _read(path):
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    return json.loads(text)


def read_records(size, root=None, figures=range(1, 13)):
    """``{claim_id: record dict}`` of every stored record of ``size`` (records of ids no longer registered are
    left out)."""
    out = {}
    for fig in figures:
        data = _read(records_path(fig, size, root))
        if data:
            out.update({k: v for k, v in data.get("claims", {}).items() if k in _BY_ID})
    return out


def missing_records(size, root=None, notebooks_dir=NOTEBOOKS):
    """``{figure: [claim ids]}``: the registered claims of every figure that *has* a page in ``notebooks_dir`` but
    no record at ``size``. Empty when every existing page recorded every claim of its figure."""
    have = read_records(size, root)
    out = {}
    for fig in sorted({c.figure for c in CLAIMS}):
        if figure_page(fig, notebooks_dir) is None:
            continue
        lacking = [c.id for c in claims_of(fig) if c.id not in have]
        if lacking:
            out[fig] = lacking
    return out


# ---------------------------------------------------------------------------------------------- the table

def _fmt(x):
    if x is None:
        return "–"
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    return f"{x:.3g}"


def ours_text(rec):
    """``value [lo, hi] (interval kind); detail`` of one record, as the table shows it."""
    text = _fmt(rec["value"])
    if rec.get("lo") is not None or rec.get("hi") is not None:
        text += f" [{_fmt(rec.get('lo'))}, {_fmt(rec.get('hi'))}]"
        if rec.get("interval") and rec["interval"] != "90 % CI":
            text += f" ({rec['interval']})"
    if rec.get("detail"):
        text += f"; {rec['detail']}"
    return text


def claims_table(size, root=None, notebooks_dir=NOTEBOOKS, missing="error"):
    """One row per registered claim: figure, id, statement, paper, ours, size, verdict, page (None if no page).
    A figure without a page gets verdict "pending (Fig. N)". A page that exists but lacks records: with
    ``missing="error"`` (the default, and what the book and CI use) a RuntimeError lists every such figure and claim;
    with ``missing="list"`` (a partial build that ran only some pages) their rows say "not run at this size"."""
    if missing not in ("error", "list"):
        raise ValueError(f"missing must be 'error' or 'list', got {missing!r}")
    lacking = missing_records(size, root, notebooks_dir)
    if lacking and missing == "error":
        lines = "; ".join(f"Fig. {f} ({figure_page(f, notebooks_dir)}): {', '.join(ids)}"
                          for f, ids in lacking.items())
        raise RuntimeError(f"figure pages exist whose claims are not recorded at size {size!r}: {lines}. Run those "
                           f"pages at this size (scripts/run_notebooks.py --size {size}) before the claims page, "
                           f"and make each call meso_kernels.claims.record for every claim of its figure")
    have = read_records(size, root)
    rows = []
    for c in CLAIMS:
        page = figure_page(c.figure, notebooks_dir)
        if page is None:
            rows.append({"figure": c.figure, "id": c.id, "claim": c.statement, "paper": c.paper_value,
                         "quantity": c.quantity, "ours": "–", "size": "–", "verdict": f"pending (Fig. {c.figure})",
                         "page": None})
            continue
        rec = have.get(c.id)
        if rec is None:
            rows.append({"figure": c.figure, "id": c.id, "claim": c.statement, "paper": c.paper_value,
                         "quantity": c.quantity, "ours": "–", "size": "–", "verdict": "not run at this size",
                         "page": page})
            continue
        rows.append({"figure": c.figure, "id": c.id, "claim": c.statement, "paper": c.paper_value,
                     "quantity": c.quantity, "ours": ours_text(rec), "size": rec["size"], "verdict": rec["verdict"],
                     "page": page})
    return rows


def _cell(text):
    return re.sub(r"\s+", " ", str(text)).replace("|", "\\|")


def markdown_table(rows, link=True):
    """The rows of :func:`claims_table` as a Markdown table; ``link``: the page column links to the executed page
    (``<page>.ipynb``, next to the claims page in ``book/executed/``)."""
    out = ["| Fig. | claim | paper | ours [90 % interval] | size | verdict | page |",
           "|---|---|---|---|---|---|---|"]
    for r in rows:
        page = "–" if r["page"] is None else (f"[Fig. {r['figure']}]({r['page']}.ipynb)" if link else r["page"])
        ours = r["ours"] if r["ours"] == "–" else f"{r['quantity']}: {r['ours']}"
        out.append("| " + " | ".join(_cell(x) for x in (r["figure"], r["claim"], r["paper"], ours, r["size"],
                                                         r["verdict"], page)) + " |")
    return "\n".join(out)


def verdict_counts(rows):
    """``{verdict: count}`` over the rows, pending ones counted as "pending"."""
    counts = {}
    for r in rows:
        key = "pending" if r["verdict"].startswith("pending") else r["verdict"]
        counts[key] = counts.get(key, 0) + 1
    return counts


def figure_summary(figure, size, root=None):
    """Text, one line per registered claim of ``figure``: its id, verdict and recorded number (or "not recorded"),
    for a page to print after its :func:`record` calls."""
    have = read_records(size, root, figures=[int(figure)])
    return "\n".join(f"{c.id}: " + (f"{have[c.id]['verdict']} ({ours_text(have[c.id])})" if c.id in have
                                    else "NOT RECORDED") for c in claims_of(figure))
