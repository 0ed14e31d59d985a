"""Price-list gaps: the same step against the list for a product across customers and salespeople.

When the price list lacks a change (a price list kept without history, a rise never entered), every
invoice of the period differs from the list by the same step, whoever sold it to whomever. That is one
fact about the price list, not a fraud per invoice. :func:`list_steps` recognises it among the lines
that deviate from the list (``price_deviation`` excuses them and ``price_list_gap`` reports them once):

- a **product step**: at least ``min_lines`` lines of one product charged one same price off the list,
  by at least ``min_customers`` customers and ``min_salespeople`` salespeople, making up at least ``min_share`` of
  the product's lines between the first and the last of them;
- a **company-wide step**: product steps of at least ``min_products`` products whose ratio to the list
  agrees within ``ratio_tolerance_pct`` (a list missing a general price change); a product's lines at
  that ratio, inside the step's dates, belong to it even when they are too few to be a product step
  on their own (a product sold once in the period), and so do a product's lines at that ratio to its
  own later step price (a product whose list price was never charged).

A fraud is one salesperson's price for favoured customers: it is neither across salespeople nor most of
the product's lines. A line of a product inside a step's dates but at another price is still judged, against
the list price times the step (``implied_price``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

STEP_COLUMNS = ("step_id", "product_id", "unit_price", "ratio", "first", "last", "lines", "customers",
                "salespeople", "share", "company_step")


@dataclass(frozen=True)
class StepSettings:
    min_customers: int = 2
    min_salespeople: int = 2
    min_lines: int = 3
    min_share: float = 0.6
    min_products: int = 3
    ratio_tolerance_pct: float = 1.5
    max_salesperson_share: float = 0.8


def _groups(lines: pd.DataFrame, counts: pd.DataFrame) -> pd.DataFrame:
    """One row per (product, charged price) among the deviating lines, with its share of the product's lines
    dated between its first and last line (``counts``: product_id, invoice_date, n = all its lines that day)."""
    keyed = lines.assign(price_key=lines["unit_price"].round(4))
    grouped = keyed.groupby(["product_id", "price_key"], sort=True)
    groups = grouped.agg(first=("invoice_date", "min"), last=("invoice_date", "max"), lines=("line_no", "size"),
                         customers=("customer_id", "nunique"), salespeople=("salesperson_id", "nunique"),
                         valid_price=("valid_price", "median")).reset_index()
    top_share = keyed.groupby(["product_id", "price_key", "salesperson_id"]).size().groupby(
        level=[0, 1]).max().rename("top_salesperson_lines").reset_index()
    groups = groups.merge(top_share, on=["product_id", "price_key"], how="left")
    totals = []
    by_product = {p: g for p, g in counts.groupby("product_id", sort=False)}
    for row in groups.itertuples(index=False):
        days = by_product.get(row.product_id)
        if days is None:
            totals.append(row.lines)
            continue
        inside = days[(days["invoice_date"] >= row.first) & (days["invoice_date"] <= row.last)]
        totals.append(max(int(inside["n"].sum()), row.lines))
    groups["share"] = groups["lines"] / np.asarray(totals, dtype=float)
    groups["ratio"] = groups["price_key"] / groups["valid_price"]
    return groups.rename(columns={"price_key": "unit_price"})


def list_steps(lines: pd.DataFrame, counts: pd.DataFrame, settings: StepSettings = StepSettings()) -> pd.DataFrame:
    """The steps the price list misses (see the module docstring), one row per (product, price).

    ``lines``: deviating lines with product_id, line_no, invoice_date, customer_id, salesperson_id, unit_price,
    valid_price. ``counts``: every priced line per product and day (product_id, invoice_date, n).
    """
    if lines.empty:
        return pd.DataFrame(columns=list(STEP_COLUMNS))
    s = settings
    groups = _groups(lines, counts)
    spread = groups["top_salesperson_lines"] / groups["lines"]
    product_step = ((groups["customers"] >= s.min_customers) & (groups["salespeople"] >= s.min_salespeople)
                    & (groups["lines"] >= s.min_lines) & (groups["share"] >= s.min_share)
                    & (spread <= s.max_salesperson_share))
    groups["company_step"] = pd.Series(None, index=groups.index, dtype=object)
    # Company-wide steps: product steps of several products at one ratio (clustered in ratio order).
    steps = groups[product_step].sort_values("ratio", kind="mergesort")
    tolerance = s.ratio_tolerance_pct / 100.0
    clusters: list[list[int]] = []
    for index, ratio in zip(steps.index, steps["ratio"], strict=True):
        if clusters and abs(ratio / groups.at[clusters[-1][0], "ratio"] - 1) <= tolerance:
            clusters[-1].append(index)
        else:
            clusters.append([index])
    kept = product_step.copy()
    for members in clusters:
        member_rows = groups.loc[members]
        if member_rows["product_id"].nunique() < s.min_products:
            continue
        centre = float(np.average(member_rows["ratio"], weights=member_rows["lines"]))
        first, last = member_rows["first"].min(), member_rows["last"].max()
        name = f"{centre:.3f}"
        joins = ((groups["ratio"] / centre - 1).abs() <= tolerance) & (groups["first"] >= first) & (
            groups["last"] <= last) & (groups["share"] >= s.min_share)
        groups.loc[joins | groups.index.isin(members), "company_step"] = name
        kept |= joins
        # A product whose list price was never charged: its earlier price is the general step applied to
        # its own later step price (the list says 13; 12.40 was charged, then 15.50 = 12.40 / 0.80).
        for index in groups.index[~kept & (groups["share"] >= s.min_share)]:
            row = groups.loc[index]
            if not (first <= row["first"] and row["last"] <= last):
                continue
            own = groups[product_step & (groups["product_id"] == row["product_id"]) & (groups.index != index)]
            if ((row["unit_price"] / own["unit_price"] / centre - 1).abs() <= tolerance).any():
                groups.at[index, "company_step"] = name
                kept.at[index] = True
    found = groups[kept].copy().reset_index(drop=True)
    found["step_id"] = [f"{p}@{u:g}" for p, u in zip(found["product_id"], found["unit_price"], strict=True)]
    return found[list(STEP_COLUMNS)]


def step_spans(steps: pd.DataFrame) -> pd.DataFrame:
    """Per product: the dates a step covers and the ratio to the list there (the company-wide step's dates
    for its members), used to judge the product's other lines against ``list × ratio``."""
    if steps.empty:
        return pd.DataFrame(columns=["product_id", "first", "last", "ratio"])
    rows = []
    company = steps[steps["company_step"].notna()]
    spans = company.groupby("company_step").agg(first=("first", "min"), last=("last", "max"))
    for row in steps.itertuples(index=False):
        first, last = row.first, row.last
        if isinstance(row.company_step, str):
            first, last = spans.at[row.company_step, "first"], spans.at[row.company_step, "last"]
        rows.append({"product_id": row.product_id, "first": first, "last": last, "ratio": row.ratio})
    return pd.DataFrame(rows).sort_values(["product_id", "first"], kind="mergesort", ignore_index=True)


def explained(lines: pd.DataFrame, steps: pd.DataFrame) -> pd.Series:
    """Which deviating lines are a recognised step (their product's step price)."""
    if steps.empty or lines.empty:
        return pd.Series(False, index=lines.index)
    keys = set(zip(steps["product_id"], steps["unit_price"].round(4), strict=True))
    return pd.Series([(p, round(float(u), 4)) in keys for p, u in zip(lines["product_id"], lines["unit_price"],
                                                                        strict=True)], index=lines.index)


def implied_prices(lines: pd.DataFrame, steps: pd.DataFrame) -> pd.Series:
    """Per line: the list price times the step in force for its product and date (NaN outside any step)."""
    implied = pd.Series(np.nan, index=lines.index)
    spans = step_spans(steps)
    for span in spans.itertuples(index=False):
        inside = ((lines["product_id"] == span.product_id) & (lines["invoice_date"] >= span.first)
                  & (lines["invoice_date"] <= span.last) & implied.isna())
        implied[inside] = lines.loc[inside, "valid_price"] * span.ratio
    return implied
