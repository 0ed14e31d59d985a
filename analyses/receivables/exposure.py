"""RCV-04: each customer's exposure (open balance + pending cheques) against its credit limit (view ``credit_exposure``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analyses.receivables.open_items import (
    customer_master,
    ledger_end_date,
    load_ledger,
    open_items,
    pending_cheques,
)
from audit.analysis import Analysis


class CreditExposure(Analysis):
    """Exposure against the credit limit per customer on the audit's end date (view ``credit_exposure``).

    ``open_balance``: the customer's open items (``analyses.receivables.open_items``, unapplied credits
    included); ``pending_cheques``: post-dated cheques in hand, not yet due (they lowered the balance when
    booked but may still bounce); ``exposure`` = open balance (when positive) + pending cheques;
    ``headroom`` = credit limit − exposure; ``utilisation`` = exposure / limit; ``over_limit``.
    ``peak_exposure`` / ``months_over_limit``: the highest month-end exposure and how many month ends of
    the data it was above the limit. Customers with no exposure today and never over their limit are left
    out; sorted by the amount over the limit, then exposure.
    """

    code = "RCV-04"
    outputs = ("credit_exposure",)
    reads_analyses = ("RCV-00",)
    title = "Credit exposure"
    requires = {"customers": ("customer_id",),
                "invoices": ("invoice_id", "invoice_date", "customer_id"),
                "invoice_lines": ("invoice_id", "quantity", "unit_price")}

    def __init__(self, history_months: int = 12):
        self.history_months = history_months

    def compute(self, data) -> dict[str, pd.DataFrame]:
        as_of = ledger_end_date(data)
        if as_of is None:
            return {}
        ledger = load_ledger(data)
        customers = customer_master(data)
        table = exposure_on(data, ledger, customers, as_of)
        ends = [pd.Timestamp(as_of) - pd.offsets.MonthEnd(k) for k in range(1, self.history_months)]
        ends = [pd.Timestamp(as_of)] + [e for e in ends if e >= ledger.invoices["invoice_date"].min()]
        limits = customers.set_index("customer_id")["credit_limit"] if len(customers) else pd.Series(dtype="float64")
        peaks = pd.concat([_exposure_only(data, ledger, limits, end) for end in ends],
                          ignore_index=True) if len(ends) else pd.DataFrame()
        if len(peaks):
            grouped = peaks.groupby("customer_id")
            table["peak_exposure"] = table["customer_id"].map(grouped["exposure"].max())
            table["months_over_limit"] = table["customer_id"].map(grouped["over_limit"].sum()).fillna(0).astype("int64")
        if "months_over_limit" in table:
            table = table[(table["exposure"] > 0) | (table["months_over_limit"] > 0)]
        else:
            table = table[table["exposure"] > 0]
        over = (table["exposure"] - table["credit_limit"]).clip(lower=0).fillna(0.0)
        table = table.assign(_over=over).sort_values(["_over", "exposure", "customer_id"],
                                                     ascending=[False, False, True], kind="mergesort")
        table = table.drop(columns="_over").reset_index(drop=True)
        table.insert(0, "as_of", pd.Timestamp(as_of))
        return {"credit_exposure": table}


def exposure_on(data, ledger, customers: pd.DataFrame, as_of) -> pd.DataFrame:
    """customer_id, name, assigned_salesperson_id, credit_limit, open_balance, overdue, pending_cheques,
    exposure, headroom, utilisation, over_limit on one day."""
    items = open_items(ledger, as_of)
    balance = items.groupby("customer_id")["open_amount"].sum()
    overdue = items[(items["kind"] == "invoice") & (items["days_past_due"] > 0)].groupby(
        "customer_id")["open_amount"].sum()
    cheques = pending_cheques(data, as_of).groupby("customer_id")["amount"].sum()
    ids = sorted(set(customers["customer_id"]) | set(balance.index) | set(cheques.index))
    master = customers.set_index("customer_id")
    table = pd.DataFrame({"customer_id": pd.Series(ids, dtype="object")})
    for column in ("name", "assigned_salesperson_id", "credit_limit"):
        table[column] = table["customer_id"].map(master[column]) if len(master) else None
    table["credit_limit"] = pd.to_numeric(table["credit_limit"], errors="coerce")
    table["open_balance"] = table["customer_id"].map(balance).fillna(0.0)
    table["overdue"] = table["customer_id"].map(overdue).fillna(0.0)
    table["pending_cheques"] = table["customer_id"].map(cheques).fillna(0.0)
    table["exposure"] = (table["open_balance"].clip(lower=0) + table["pending_cheques"]).round(2)
    limit = table["credit_limit"].where(table["credit_limit"] > 0)
    table["headroom"] = (table["credit_limit"] - table["exposure"]).round(2)
    table["utilisation"] = (table["exposure"] / limit).round(4)
    table["over_limit"] = (table["exposure"] > limit).fillna(False).astype(bool) & limit.notna()
    table.loc[limit.isna(), "utilisation"] = np.nan
    return table


def _exposure_only(data, ledger, limits: pd.Series, as_of) -> pd.DataFrame:
    """customer_id, exposure, over_limit on one day, as :func:`exposure_on` works them out (the same
    customers, sums and rounding), without the names and the other columns: the peaks ask month by month."""
    items = open_items(ledger, as_of)
    balance = items.groupby("customer_id")["open_amount"].sum()
    cheques = pending_cheques(data, as_of).groupby("customer_id")["amount"].sum()
    ids = pd.Index(limits.index, dtype="object").union(balance.index.astype("object")).union(
        cheques.index.astype("object"))
    exposure = (balance.reindex(ids).fillna(0.0).clip(lower=0) + cheques.reindex(ids).fillna(0.0)).round(2)
    limit = pd.to_numeric(limits.reindex(ids), errors="coerce")
    limit = limit.where(limit > 0)
    over_limit = (exposure > limit).fillna(False).astype(bool) & limit.notna()
    return pd.DataFrame({"customer_id": pd.Series(ids, dtype="object"), "exposure": exposure.to_numpy(),
                         "over_limit": over_limit.to_numpy()})
