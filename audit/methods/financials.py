"""Financial-statement component of the customer distress score: ratios, Altman Z'', a fitted score, flags.

Pure computation on a ``customer_financials`` frame (the data contract's columns: total_assets,
current_assets, current_liabilities, total_liabilities, equity, retained_earnings, ebit, sales,
interest_expense, receivables, inventory, fixed_assets; one row per customer statement). No I/O.

Public API
----------
:func:`financial_ratios`    the ratios used, per row, clipped to documented bounds.
:func:`altman_z2`           Altman's Z'' (lower = worse), from the raw (unclipped) ratios.
:func:`statement_distress`  a failure probability in [0, 1] (higher = worse), each signal's contribution
                            in log-odds, the top drivers in plain words, and the source's flags.
:func:`ratio_contributions` the model's part of it: each signal's contribution, from ratios.

How inputs are cleaned (:func:`financial_ratios`)
-------------------------------------------------
* Every amount is read with ``pd.to_numeric(errors="coerce")``: blanks, ``None``, ``pd.NA`` and
  unparseable text become missing; a contract column absent from the frame is missing for every row.
* Amounts that cannot be negative on a balance sheet or income statement (total_assets, current_assets,
  current_liabilities, total_liabilities, sales, receivables, inventory, fixed_assets) are treated as
  missing when negative: a negative stock is a data error, not information about the customer.
  ``interest_expense`` is used by magnitude, because ledgers export costs with either sign.
* Ratios over total assets need total_assets > 0; otherwise they are missing.
* Other ratios (x / sales, x / liabilities, x / fixed assets) with a zero denominator take the value of
  their clip bound in the direction of the numerator's sign (receivables with no sales are "365 days",
  equity with no liabilities is "10x liabilities"); 0 / 0 is missing.
* Every ratio is then clipped to :data:`RATIO_BOUNDS`. The bounds are economic, not percentiles of any
  sample, so the same statement gets the same ratios whatever file it comes in: beyond them a ratio says
  nothing more (equity at -300 % of assets is no worse than at -100 %), and clipping keeps absurd values
  (this sample has liabilities of 72x assets) from dominating.

The model (:func:`statement_distress`)
--------------------------------------
An additive logistic model: ``log-odds = INTERCEPT + sum of per-signal contributions``. Each signal is a
clipped ratio turned into a monotone piecewise-linear risk curve: the ratio's range is cut at a few
fixed knots and each segment carries a non-negative weight, the log-odds added when the ratio crosses
that whole segment in the worse direction. A contribution is therefore 0 at the ratio's healthiest
value and never falls as the ratio worsens. Which way is worse is economic, set by hand in
:data:`CANDIDATE_TERMS` (less profit, less liquidity, more short-term debt = worse), never read off the
data. Only ratios are used, never the absolute size of a company, so the score does not depend on
currency or scale.

Which candidates enter (:data:`MODEL_RATIOS`, hence :data:`MODEL_TERMS`) is set by hand: six
well-known ratios (Altman's working capital, retained earnings and EBIT over assets, own capital over
assets, short-term debt over assets, EBIT over sales), so that profit, accumulated losses, liquidity and
leverage each have a say. How strongly the weights are penalised (:data:`L2_PENALTY`), the weights, the
intercept and what a missing ratio is given (:data:`MISSING_SEGMENT_EXPOSURE`) were chosen and fitted by
``benchmarks/fit_financial_distress.py`` on the UCI "Polish companies bankruptcy" 5th-year file (5,910
companies, 410 failed within a year): the strongest L2 penalty within 0.005 of the best 5-fold
cross-validated AUC, a logistic fit with the weights bounded at 0 (scipy L-BFGS-B, deterministic), and
a calibration slope fitted on cross-validated log-odds. Re-running that script prints the block below;
its ``--nested`` option measures the whole procedure by nested cross-validation. The terms used to be
chosen by forward selection on the same file; trained on one kind of company (by size or asset
turnover) and scored on another, the fixed six held up better (``benchmarks/distress_polish.py
--splits``). Figures are in ``docs/financial-distress.md``.

Missing values
--------------
A ratio that cannot be computed contributes its signal's *average* contribution in the fitting sample
(:data:`MISSING_SEGMENT_EXPOSURE`: what is expected when nothing is known, which is more than a median
company's contribution because risk sits in the tails), and every row with at least one missing model
ratio also gets the fitted ``contrib_missing_data`` term (incomplete statements failed more often in the
sample). So a blank never reads as healthy. ``n_missing_ratios`` says how many model ratios were
missing, and a flag whose ratio is missing is ``<NA>`` (unknown), not ``False``.

Flags
-----
The source's "signs on the books before a customer collapses", with thresholds in
:data:`FLAG_THRESHOLDS` (overridable per call). They are reported beside the score, not added into it:
interest costs are zero in nearly every row of the fitting sample and it has no founding dates, so
their weight cannot be measured there; the caller decides how to combine them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

AMOUNT_COLUMNS: tuple[str, ...] = (
    "total_assets", "current_assets", "current_liabilities", "total_liabilities", "equity",
    "retained_earnings", "ebit", "sales", "interest_expense", "receivables", "inventory", "fixed_assets",
)
# Items that cannot be negative: a negative value is a data error and is read as missing.
NON_NEGATIVE_COLUMNS: tuple[str, ...] = (
    "total_assets", "current_assets", "current_liabilities", "total_liabilities", "sales",
    "receivables", "inventory", "fixed_assets",
)
DAYS_PER_YEAR = 365.0

# ratio name -> (lower clip, upper clip); units: "_to_" ratios are fractions (0.2 = 20 %), "_days" are
# days of annual sales, current_ratio / quick_ratio / asset_turnover / equity_to_* are multiples.
RATIO_BOUNDS: dict[str, tuple[float, float]] = {
    "working_capital_to_assets": (-1.0, 1.0),       # (current assets - current liabilities) / TA
    "retained_earnings_to_assets": (-1.0, 1.0),
    "ebit_to_assets": (-0.5, 0.5),
    "ebit_to_liabilities": (-1.0, 3.0),
    "ebit_margin": (-1.0, 0.5),                     # EBIT / sales
    "equity_to_assets": (-1.0, 1.0),
    "equity_to_liabilities": (-1.0, 10.0),          # Altman's BVE / TL (book value of equity)
    "liabilities_to_assets": (0.0, 2.0),
    "current_liabilities_to_assets": (0.0, 2.0),
    "current_ratio": (0.0, 10.0),                   # current assets / current liabilities
    "quick_ratio": (0.0, 10.0),                     # (current assets - inventory) / current liabilities
    "receivables_to_assets": (0.0, 1.0),
    "receivable_days": (0.0, 365.0),                # receivables / sales x 365
    "inventory_to_assets": (0.0, 1.0),
    "inventory_days": (0.0, 365.0),                 # inventory / sales x 365 (sales, not cost of sales)
    "fixed_assets_to_assets": (0.0, 1.0),
    "equity_to_fixed_assets": (-5.0, 20.0),         # how far own capital pays for the fixed assets
    "interest_to_sales": (0.0, 1.0),
    "asset_turnover": (0.0, 5.0),                   # sales / TA
}

# Plain words for findings: what each ratio is, with its unit.
RATIO_LABELS: dict[str, str] = {
    "working_capital_to_assets": "working capital / total assets",
    "retained_earnings_to_assets": "retained earnings / total assets",
    "ebit_to_assets": "EBIT / total assets",
    "ebit_to_liabilities": "EBIT / total liabilities",
    "ebit_margin": "EBIT / sales",
    "equity_to_assets": "own capital / total assets",
    "equity_to_liabilities": "own capital / total liabilities",
    "liabilities_to_assets": "total liabilities / total assets",
    "current_liabilities_to_assets": "short-term liabilities / total assets",
    "current_ratio": "current ratio (current assets / short-term liabilities)",
    "quick_ratio": "quick ratio ((current assets - inventory) / short-term liabilities)",
    "receivables_to_assets": "receivables / total assets",
    "receivable_days": "receivables in days of sales",
    "inventory_to_assets": "inventory / total assets",
    "inventory_days": "inventory in days of sales",
    "fixed_assets_to_assets": "fixed assets / total assets",
    "equity_to_fixed_assets": "own capital / fixed assets",
    "interest_to_sales": "interest expense / sales",
    "asset_turnover": "sales / total assets",
}


@dataclass(frozen=True)
class Term:
    """One signal of the model: a clipped ratio and the knots of its piecewise-linear risk curve.

    ``shape``: ``"lower_worse"``, ``"higher_worse"`` or ``"band"`` (risk rises on both sides of
    ``healthy``, which must be one of the knots). The knots span the ratio's clip bounds.
    """

    ratio: str
    shape: str
    knots: tuple[float, ...]
    healthy: float | None = None

    def segment_worse_upwards(self) -> list[bool]:
        """For each segment, True when risk rises as the ratio rises through it."""
        ends = zip(self.knots[:-1], self.knots[1:], strict=True)
        if self.shape == "higher_worse":
            return [True for _ in ends]
        if self.shape == "lower_worse":
            return [False for _ in ends]
        if self.shape == "band":
            return [low >= self.healthy for low, _ in ends]
        raise ValueError(f"unknown shape {self.shape!r} for {self.ratio}")


# The candidates (chosen by hand, not fitted): which ratios may enter the model, which way each is
# worse, where the knots of its risk curve are. Directions are economic (more leverage, less profit,
# less liquidity = worse), never read off the data; a ratio whose sign the data contradicts simply
# gets zero weights. Few knots, at round values where practitioners read the ratio, so that each
# curve has at most five slopes to fit. MODEL_RATIOS below says which of them the model uses. EBIT /
# total liabilities is not a candidate although it ranks best alone: for a loss-making company more debt moves it towards 0, i.e. towards
# health, so the score would fall as leverage rises (tested: no amount moves the score the wrong way).
CANDIDATE_TERMS: tuple[Term, ...] = (
    Term("ebit_to_assets", "lower_worse", (-0.5, -0.1, 0.0, 0.1, 0.5)),
    Term("ebit_margin", "lower_worse", (-1.0, -0.1, 0.0, 0.05, 0.5)),
    Term("retained_earnings_to_assets", "lower_worse", (-1.0, -0.2, 0.0, 0.2, 1.0)),
    Term("working_capital_to_assets", "lower_worse", (-1.0, -0.2, 0.0, 0.2, 1.0)),
    Term("equity_to_assets", "lower_worse", (-1.0, 0.0, 0.2, 0.5, 1.0)),
    Term("current_liabilities_to_assets", "higher_worse", (0.0, 0.3, 0.6, 1.0, 2.0)),
    Term("current_ratio", "lower_worse", (0.0, 0.5, 1.0, 2.0, 10.0)),
    Term("quick_ratio", "lower_worse", (0.0, 0.5, 1.0, 2.0, 10.0)),
    Term("equity_to_fixed_assets", "lower_worse", (-5.0, 0.0, 1.0, 2.0, 20.0)),
    Term("asset_turnover", "lower_worse", (0.0, 0.5, 1.0, 2.0, 5.0)),
    Term("receivable_days", "higher_worse", (0.0, 60.0, 120.0, 365.0)),
    Term("inventory_days", "higher_worse", (0.0, 60.0, 120.0, 365.0)),
)

# The model's ratios, chosen by hand among the candidates, not selected on the data: Altman's three ratios
# over assets (working capital, retained earnings, EBIT), own capital over assets (the book-value,
# bounded form of Altman's fourth), short-term debt over assets and EBIT over sales. Profit, accumulated
# losses, liquidity and leverage each have a say, so no single ratio whose meaning drifts between
# samples carries the score. (The forward selection used before picked four terms that fitted the
# fitting file as well but held up worse when trained on one kind of company and scored on another.)
MODEL_RATIOS: tuple[str, ...] = (
    "ebit_to_assets",
    "ebit_margin",
    "retained_earnings_to_assets",
    "working_capital_to_assets",
    "equity_to_assets",
    "current_liabilities_to_assets",
)
# ---- Fitted by benchmarks/fit_financial_distress.py on the Polish 5th-year file (do not edit by hand) ----
# The L2 penalty chosen by cross-validation.
L2_PENALTY = 0.003
# The weights and intercept below include the calibration (step 4): the penalised fit's log-odds
# x 1.123 +0.261.
# Per ratio and segment, the mean exposure in the fitting sample: what a missing ratio is given,
# so that it contributes the signal's average contribution.
MISSING_SEGMENT_EXPOSURE: dict[str, tuple[float, ...]] = {
    'ebit_to_assets': (0.0368, 0.1426, 0.4619, 0.9024,),
    'ebit_margin': (0.0207, 0.134, 0.3963, 0.9153,),
    'retained_earnings_to_assets': (0.0452, 0.143, 0.7365, 0.957,),
    'working_capital_to_assets': (0.0284, 0.1207, 0.3309, 0.8402,),
    'equity_to_assets': (0.0229, 0.0949, 0.2938, 0.7715,),
    'current_liabilities_to_assets': (0.8031, 0.3412, 0.0861, 0.0162,),
}
# Log-odds of failure within a year when every ratio is at its healthiest value.
INTERCEPT = -4.593
# Per ratio, per segment between consecutive knots: log-odds added when the ratio crosses the
# whole segment in the worse direction (all >= 0).
SEGMENT_WEIGHTS: dict[str, tuple[float, ...]] = {
    'ebit_to_assets': (0.489, 0.637, 0.204, 0.0,),
    'ebit_margin': (0.351, 0.596, 0.384, 0.0,),
    'retained_earnings_to_assets': (0.0, 0.125, 0.572, 0.138,),
    'working_capital_to_assets': (0.186, 0.262, 0.325, 0.0,),
    'equity_to_assets': (0.109, 0.0, 0.218, 0.046,),
    'current_liabilities_to_assets': (0.063, 0.363, 0.142, 0.108,),
}
# Added when any model ratio is missing (incomplete statements failed more often).
MISSING_DATA_WEIGHT = 0.12
# ---- end of fitted block ----
# The model's terms: the candidates of MODEL_RATIOS, in CANDIDATE_TERMS order.
MODEL_TERMS: tuple[Term, ...] = tuple(term for term in CANDIDATE_TERMS if term.ratio in MODEL_RATIOS)

# Default flag thresholds (the source names the signs but gives a number only for interest).
FLAG_THRESHOLDS: dict[str, float] = {
    # own capital below 20 % of total assets (negative equity included): the common "thin capital" line
    "thin_capital_equity_to_assets": 0.20,
    # customers take more than a quarter of a year of sales to pay
    "high_receivable_days": 90.0,
    # more than 60 % of the balance sheet tied up in fixed assets
    "large_fixed_assets_to_assets": 0.60,
    # more than four months of sales sitting in stock
    "large_inventory_days": 120.0,
    # the source: interest (and discount) costs above 5 % of sales
    "interest_to_sales": 0.05,
    # the source: a company younger than two years
    "young_company_years": 2.0,
}
FLAG_COLUMNS: tuple[str, ...] = (
    "flag_thin_capital", "flag_high_receivables", "flag_large_fixed_assets", "flag_large_inventory",
    "flag_interest_over_5pct_sales", "flag_young_company",
)


def _amounts(frame: pd.DataFrame) -> dict[str, pd.Series]:
    """The contract's amounts as float Series (missing = NaN), with impossible negatives made missing."""
    amounts: dict[str, pd.Series] = {}
    for column in AMOUNT_COLUMNS:
        if column in frame.columns:
            values = pd.to_numeric(frame[column], errors="coerce").astype("float64")
        else:
            values = pd.Series(np.nan, index=frame.index, dtype="float64")
        values = values.where(np.isfinite(values))
        if column in NON_NEGATIVE_COLUMNS:
            values = values.where(values >= 0)
        amounts[column] = values
    amounts["interest_expense"] = amounts["interest_expense"].abs()
    return amounts


def _per_assets(numerator: pd.Series, total_assets: pd.Series) -> pd.Series:
    return numerator / total_assets.where(total_assets > 0)


def _divide(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """numerator / denominator; x / 0 is +-inf (clipped later to the bound), 0 / 0 and blanks are NaN."""
    with np.errstate(divide="ignore", invalid="ignore"):
        quotient = numerator.to_numpy() / denominator.to_numpy()
    quotient = pd.Series(quotient, index=numerator.index)
    return quotient.where(~((numerator == 0) & (denominator == 0)))


def financial_ratios(frame: pd.DataFrame) -> pd.DataFrame:
    """The ratios of :data:`RATIO_BOUNDS`, one row per statement (same index as ``frame``), clipped.

    Missing or uncomputable ratios are NaN (see the module docstring for the rules on zeros, negatives
    and blanks). Units: ``*_to_*`` are fractions, ``*_days`` days of annual sales, the rest multiples.
    """
    a = _amounts(frame)
    total_assets = a["total_assets"]
    working_capital = a["current_assets"] - a["current_liabilities"]
    ratios = pd.DataFrame(index=frame.index)
    ratios["working_capital_to_assets"] = _per_assets(working_capital, total_assets)
    ratios["retained_earnings_to_assets"] = _per_assets(a["retained_earnings"], total_assets)
    ratios["ebit_to_assets"] = _per_assets(a["ebit"], total_assets)
    ratios["ebit_to_liabilities"] = _divide(a["ebit"], a["total_liabilities"])
    ratios["ebit_margin"] = _divide(a["ebit"], a["sales"])
    ratios["equity_to_assets"] = _per_assets(a["equity"], total_assets)
    ratios["equity_to_liabilities"] = _divide(a["equity"], a["total_liabilities"])
    ratios["liabilities_to_assets"] = _per_assets(a["total_liabilities"], total_assets)
    ratios["current_liabilities_to_assets"] = _per_assets(a["current_liabilities"], total_assets)
    ratios["current_ratio"] = _divide(a["current_assets"], a["current_liabilities"])
    ratios["quick_ratio"] = _divide(a["current_assets"] - a["inventory"], a["current_liabilities"])
    ratios["receivables_to_assets"] = _per_assets(a["receivables"], total_assets)
    ratios["receivable_days"] = _divide(a["receivables"] * DAYS_PER_YEAR, a["sales"])
    ratios["inventory_to_assets"] = _per_assets(a["inventory"], total_assets)
    ratios["inventory_days"] = _divide(a["inventory"] * DAYS_PER_YEAR, a["sales"])
    ratios["fixed_assets_to_assets"] = _per_assets(a["fixed_assets"], total_assets)
    ratios["equity_to_fixed_assets"] = _divide(a["equity"], a["fixed_assets"])
    ratios["interest_to_sales"] = _divide(a["interest_expense"], a["sales"])
    ratios["asset_turnover"] = _per_assets(a["sales"], total_assets)
    for name, (low, high) in RATIO_BOUNDS.items():
        # clip maps +-inf (x / 0) to the bounds and keeps NaN as NaN
        ratios[name] = ratios[name].clip(low, high).astype("float64")
    return ratios


def altman_z2(frame: pd.DataFrame) -> pd.Series:
    """Altman's Z'' = 6.56 WC/TA + 3.26 RE/TA + 6.72 EBIT/TA + 1.05 BVE/TL (lower = worse).

    Computed from the raw ratios, not clipped (the published formula; clipping changes the ranking),
    so absurd statements give absurd Z values. NaN when an input is missing, total_assets <= 0 or
    total_liabilities is 0 (BVE/TL undefined). Conventional zones (Altman 2000, non-manufacturers):
    distress below 1.1, grey 1.1-2.6, safe above 2.6.
    """
    a = {column: pd.to_numeric(frame[column], errors="coerce").astype("float64")
         if column in frame.columns else pd.Series(np.nan, index=frame.index)
         for column in ("total_assets", "current_assets", "current_liabilities", "total_liabilities",
                        "equity", "retained_earnings", "ebit")}
    total_assets = a["total_assets"].where(a["total_assets"] > 0)
    total_liabilities = a["total_liabilities"].where(a["total_liabilities"] != 0)
    z = (6.56 * (a["current_assets"] - a["current_liabilities"]) / total_assets
         + 3.26 * a["retained_earnings"] / total_assets
         + 6.72 * a["ebit"] / total_assets
         + 1.05 * a["equity"] / total_liabilities)
    return z.where(np.isfinite(z)).rename("altman_z2")


def segment_exposure(values: pd.Series, term: Term) -> np.ndarray:
    """Per row and segment of ``term``: how far (0-1) the ratio has gone into that segment in the
    worse direction; NaN rows stay NaN. A contribution is these exposures times the segment weights."""
    values = values.to_numpy(dtype="float64")
    columns = []
    ends = zip(term.knots[:-1], term.knots[1:], strict=True)
    for (low, high), upwards in zip(ends, term.segment_worse_upwards(), strict=True):
        inside = np.clip(values, low, high)
        travelled = (inside - low) if upwards else (high - inside)
        columns.append(travelled / (high - low))
    return np.column_stack(columns)


def design_matrix(ratios: pd.DataFrame, missing_exposure: Mapping[str, tuple[float, ...]],
                  terms: tuple[Term, ...] | None = None) -> tuple[np.ndarray, list[tuple[str, int]]]:
    """The model's inputs: the segment exposures of every term (:func:`segment_exposure`), then one
    last column, 1.0 when any model ratio is missing.

    A missing ratio gets ``missing_exposure[ratio]``, the average exposure of each segment in the
    fitting sample, so its contribution is that signal's average contribution there: what is expected
    of a statement we know nothing about. Returns the matrix and, per column, (ratio, segment number);
    the last column is labelled ("missing_data", 0). ``terms`` defaults to :data:`MODEL_TERMS`; the fit
    script passes candidate sets.
    """
    terms = MODEL_TERMS if terms is None else terms
    blocks: list[np.ndarray] = []
    labels: list[tuple[str, int]] = []
    for term in terms:
        exposure = segment_exposure(ratios[term.ratio], term)
        missing = np.isnan(exposure[:, 0])
        exposure[missing] = np.asarray(missing_exposure[term.ratio], dtype="float64")
        blocks.append(exposure)
        labels += [(term.ratio, number) for number in range(exposure.shape[1])]
    any_missing = ratios[[term.ratio for term in terms]].isna().any(axis=1)
    blocks.append(any_missing.to_numpy(dtype="float64")[:, None])
    labels.append(("missing_data", 0))
    return np.hstack(blocks), labels


def _as_dates(value, index: pd.Index) -> pd.Series:
    """A scalar, array or Series of dates as a datetime Series on ``index`` (unparseable = NaT)."""
    if value is None:
        return pd.Series(pd.NaT, index=index, dtype="datetime64[ns]")
    if isinstance(value, pd.Series):
        value = value.reindex(index)
    elif np.ndim(value) == 0:
        value = pd.Series([value] * len(index), index=index)
    else:
        value = pd.Series(list(value), index=index)
    return pd.to_datetime(value, errors="coerce").astype("datetime64[ns]")


def _flag(values: pd.Series, condition: pd.Series) -> pd.Series:
    """A nullable boolean flag: <NA> where the ratio it tests is missing."""
    return condition.astype("boolean").mask(values.isna())


def _drivers(contributions: pd.DataFrame, ratios: pd.DataFrame, top: int = 3) -> pd.Series:
    """The largest contributions of each row in plain words, e.g. 'EBIT / sales -0.12 (+0.85)'."""
    names = [name.removeprefix("contrib_") for name in contributions.columns]
    values = contributions.to_numpy()
    shown = np.column_stack([ratios[name].to_numpy(dtype="float64") if name in ratios.columns
                             else np.full(len(ratios), np.nan) for name in names])
    order = np.argsort(-values, axis=1, kind="stable")[:, :top]
    texts = []
    for row_values, row_shown, row_order in zip(values, shown, order, strict=True):
        parts = []
        for position in row_order:
            added = row_values[position]
            if added < 0.05:  # below 0.05 log-odds (5 % more odds) a signal explains nothing
                break
            if names[position] == "missing_data":
                parts.append(f"incomplete statement (+{added:.2f})")
                continue
            value = "missing" if np.isnan(row_shown[position]) else f"{row_shown[position]:.3g}"
            parts.append(f"{RATIO_LABELS[names[position]]} {value} (+{added:.2f})")
        texts.append("; ".join(parts))
    return pd.Series(texts, index=contributions.index, dtype="object")


def ratio_contributions(ratios: pd.DataFrame) -> pd.DataFrame:
    """Per row of :func:`financial_ratios`' result, the log-odds each signal of :data:`MODEL_TERMS` adds
    (``contrib_<ratio>``, 0 at the ratio's healthiest value) and ``contrib_missing_data``; the log-odds of
    failure are :data:`INTERCEPT` plus their sum."""
    matrix, labels = design_matrix(ratios, MISSING_SEGMENT_EXPOSURE)
    weights = np.array([SEGMENT_WEIGHTS[ratio][number] if ratio != "missing_data" else MISSING_DATA_WEIGHT
                        for ratio, number in labels])
    weighted = matrix * weights
    contribution_names = [f"contrib_{term.ratio}" for term in MODEL_TERMS] + ["contrib_missing_data"]
    owners = np.array([ratio for ratio, _ in labels])
    return pd.DataFrame(
        {name: weighted[:, owners == name.removeprefix("contrib_")].sum(axis=1) for name in contribution_names},
        index=ratios.index)


def statement_distress(frame: pd.DataFrame, established_date=None, as_of=None,
                       thresholds: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Distress score of each financial statement, its explanation, and the source's flags.

    Parameters
    ----------
    frame:
        ``customer_financials`` rows (other columns are ignored). The result has the same index.
    established_date:
        The company's founding date: a scalar for every row, or a Series aligned on ``frame``'s index
        (e.g. ``customers.established_date`` mapped by customer_id). ``None`` uses a
        ``frame["established_date"]`` column if there is one; otherwise the age flag is ``<NA>``.
    as_of:
        The date at which the age is measured (scalar or Series); ``None`` uses ``frame["period_end"]``.
    thresholds:
        Overrides of :data:`FLAG_THRESHOLDS`; an unknown key raises ``ValueError``.

    Returns
    -------
    DataFrame with
    ``distress_probability``  fitted probability of failure within a year, in [0, 1]; calibrated on the
                              Polish sample (6.9 % failed), so read it as a ranking elsewhere.
    ``distress_log_odds``     INTERCEPT + the sum of the contributions.
    ``contrib_<ratio>``       log-odds added by each signal of :data:`MODEL_TERMS` (0 = healthiest value);
    ``contrib_missing_data``  added when any model ratio is missing.
    ``drivers``               the (up to) three largest contributions in plain words with the ratio's value.
    ``n_missing_ratios``      how many model ratios were missing (and replaced by a typical value).
    ``flag_*``                nullable booleans (:data:`FLAG_COLUMNS`); ``<NA>`` = the input is missing.
    ``n_flags``               how many flags are True.
    """
    limits = dict(FLAG_THRESHOLDS)
    if thresholds:
        unknown = sorted(set(thresholds) - set(FLAG_THRESHOLDS))
        if unknown:
            raise ValueError(f"unknown flag threshold(s) {unknown}; known: {sorted(FLAG_THRESHOLDS)}")
        limits.update(thresholds)

    ratios = financial_ratios(frame)
    contributions = ratio_contributions(ratios)
    log_odds = INTERCEPT + contributions.sum(axis=1)

    result = pd.DataFrame(index=frame.index)
    result["distress_probability"] = 1.0 / (1.0 + np.exp(-log_odds))
    result["distress_log_odds"] = log_odds
    result = pd.concat([result, contributions], axis=1)
    result["drivers"] = _drivers(contributions, ratios)
    result["n_missing_ratios"] = ratios[[term.ratio for term in MODEL_TERMS]].isna().sum(axis=1).astype("int64")

    equity_share = ratios["equity_to_assets"]
    result["flag_thin_capital"] = _flag(equity_share, equity_share < limits["thin_capital_equity_to_assets"])
    receivable_days = ratios["receivable_days"]
    result["flag_high_receivables"] = _flag(receivable_days, receivable_days > limits["high_receivable_days"])
    fixed_share = ratios["fixed_assets_to_assets"]
    result["flag_large_fixed_assets"] = _flag(fixed_share, fixed_share > limits["large_fixed_assets_to_assets"])
    inventory_days = ratios["inventory_days"]
    result["flag_large_inventory"] = _flag(inventory_days, inventory_days > limits["large_inventory_days"])
    interest_share = ratios["interest_to_sales"]
    result["flag_interest_over_5pct_sales"] = _flag(interest_share, interest_share > limits["interest_to_sales"])

    if established_date is None and "established_date" in frame.columns:
        established_date = frame["established_date"]
    if as_of is None and "period_end" in frame.columns:
        as_of = frame["period_end"]
    founded = _as_dates(established_date, frame.index)
    measured_at = _as_dates(as_of, frame.index)
    age_years = (measured_at - founded).dt.days / 365.25
    # a founding date after the statement date is a data error: unknown, not young
    known_age = age_years.where(age_years >= 0)
    result["flag_young_company"] = _flag(known_age, known_age < limits["young_company_years"])

    result["n_flags"] = result[list(FLAG_COLUMNS)].fillna(False).astype("int64").sum(axis=1)
    return result
