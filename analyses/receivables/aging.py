"""RCV-01: receivables aging per customer, salesperson and region (views ``aging_by_*``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analyses.receivables.open_items import (
    customer_master,
    ledger_end_date,
    load_ledger,
    open_items,
    salesperson_master,
)
from audit.analysis import Analysis

BASES = ("invoice_date", "due_date")
UNKNOWN_REGION = "(no region)"


def bucket_labels(edges: tuple[int, ...]) -> list[str]:
    """Bucket names for upper edges, e.g. (30, 60, 90, 180) -> 0-30, 31-60, 61-90, 91-180, over_180."""
    labels, low = [], 0
    for high in edges:
        labels.append(f"{low}-{high}")
        low = high + 1
    labels.append(f"over_{edges[-1]}")
    return labels


def item_ages(items: pd.DataFrame, basis: str) -> pd.Series:
    """Each item's age in days on the chosen basis: since the invoice date, or past the due date."""
    if basis not in BASES:
        raise ValueError(f"aging basis must be one of {BASES}, not {basis!r}")
    return items["age_days"] if basis == "invoice_date" else items["days_past_due"]


def assign_buckets(ages: pd.Series, edges: tuple[int, ...]) -> pd.Series:
    """The bucket of each age (0-30 holds 0..30 days; negative ages, not yet due, get ``not_due``)."""
    labels = bucket_labels(edges)
    cut = pd.cut(ages, bins=[-np.inf, *[float(e) for e in edges], np.inf], labels=labels, right=True)
    out = cut.astype("object")
    return out.where(ages >= 0, "not_due")


def aging_table(items: pd.DataFrame, keys: list[str], edges: tuple[int, ...] = (30, 60, 90, 180),
                basis: str = "invoice_date") -> pd.DataFrame:
    """Open items summed per ``keys`` and bucket, with totals and the amount-weighted average age.

    Columns: keys, ``not_due`` (due-date basis only), one column per bucket, ``unapplied_credit``
    (customers' credits left after FIFO, negative), ``total`` (= buckets + unapplied credit = the open
    items' sum), ``overdue`` (open invoices past their due date), ``avg_age_days`` (open invoice amounts
    weighted, on the chosen basis), ``avg_days_past_due`` (amount-weighted, overdue invoices only),
    ``open_invoices``, ``oldest_invoice_date``.
    """
    labels = (["not_due"] if basis == "due_date" else []) + bucket_labels(edges)
    invoices = items[items["kind"] == "invoice"].copy()
    credits = items[items["kind"] != "invoice"]
    invoices["age"] = item_ages(invoices, basis)
    invoices["bucket"] = assign_buckets(invoices["age"], edges) if len(invoices) else pd.Series(dtype="object")
    invoices["weighted_age"] = invoices["open_amount"] * invoices["age"]
    overdue_mask = invoices["days_past_due"] > 0
    invoices["overdue"] = invoices["open_amount"].where(overdue_mask, 0.0)
    invoices["weighted_past_due"] = (invoices["open_amount"] * invoices["days_past_due"]).where(overdue_mask, 0.0)
    frames = []
    if len(invoices):
        pivot = invoices.pivot_table(index=keys, columns="bucket", values="open_amount", aggfunc="sum",
                                     fill_value=0.0, observed=True, dropna=False)
        grouped = invoices.groupby(keys, dropna=False)
        stats = pd.DataFrame({
            "overdue": grouped["overdue"].sum(), "weighted_age": grouped["weighted_age"].sum(),
            "positive": grouped["open_amount"].sum(), "weighted_past_due": grouped["weighted_past_due"].sum(),
            "open_invoices": grouped.size(), "oldest_invoice_date": grouped["invoice_date"].min()})
        frames.append(pivot.join(stats, how="outer"))
    if len(credits):
        frames.append(credits.groupby(keys, dropna=False)["open_amount"].sum().rename("unapplied_credit").to_frame())
    if not frames:
        return pd.DataFrame(columns=[*keys, *labels, "unapplied_credit", "total", "overdue", "avg_age_days",
                                     "avg_days_past_due", "open_invoices", "oldest_invoice_date"])
    table = pd.concat(frames, axis=1) if len(frames) > 1 else frames[0]
    for label in labels + ["unapplied_credit", "overdue", "weighted_age", "positive", "weighted_past_due",
                           "open_invoices"]:
        if label not in table:
            table[label] = 0.0
        table[label] = table[label].astype("float64").fillna(0.0)
    if "oldest_invoice_date" not in table:
        table["oldest_invoice_date"] = pd.NaT
    table["total"] = (table[labels].sum(axis=1) + table["unapplied_credit"]).round(2)
    table["avg_age_days"] = (table["weighted_age"] / table["positive"].where(table["positive"] > 0)).round(1)
    table["avg_days_past_due"] = (table["weighted_past_due"] / table["overdue"].where(table["overdue"] > 0)).round(1)
    table["open_invoices"] = table["open_invoices"].astype("int64")
    table = table.reset_index()
    ordered = [*keys, *labels, "unapplied_credit", "total", "overdue", "avg_age_days", "avg_days_past_due",
               "open_invoices", "oldest_invoice_date"]
    return table[ordered].sort_values(keys, kind="mergesort", ignore_index=True)


class ReceivablesAging(Analysis):
    """Aging of the open receivables per customer, salesperson and region, with the weighted average age.

    Views ``aging_by_customer``, ``aging_by_salesperson``, ``aging_by_region``: the open items on the
    audit's end date (the run's period end, else the data's last day; see
    ``analyses.receivables.open_items`` for how invoices, allocations, cash discounts and credit notes
    make an open item, and the FIFO rule for credits that name no invoice) summed into the buckets
    0-30, 31-60, 61-90, 91-180 and over 180 days (``bucket_edges``). ``basis`` "invoice_date" (default:
    the age of the invoice, as the source's buckets start at 0) or "due_date" (days past due, with a
    ``not_due`` column). Customers' unapplied credits are a column of their own, so that every table's
    ``total`` equals the sum of the open items exactly. An invoice belongs to its salesperson
    (``invoices.salesperson_id``), a credit to the customer's assigned salesperson; the region is the
    salesperson's.
    """

    code = "RCV-01"
    outputs = ("aging_by_customer", "aging_by_salesperson", "aging_by_region")
    reads_analyses = ("RCV-00",)
    title = "Receivables aging"
    requires = {"invoices": ("invoice_id", "invoice_date", "customer_id"),
                "invoice_lines": ("invoice_id", "quantity", "unit_price")}

    def __init__(self, bucket_edges: tuple[int, ...] = (30, 60, 90, 180), basis: str = "invoice_date"):
        self.bucket_edges = tuple(bucket_edges)
        self.basis = basis

    def compute(self, data) -> dict[str, pd.DataFrame]:
        as_of = ledger_end_date(data)
        if as_of is None:
            return {}
        items = open_items(load_ledger(data), as_of)
        return aging_views(data, items, as_of, self.bucket_edges, self.basis)


def aging_views(data, items: pd.DataFrame, as_of, edges, basis) -> dict[str, pd.DataFrame]:
    customers = customer_master(data)
    people = salesperson_master(data)
    region = people.set_index("salesperson_id")["region"] if len(people) else pd.Series(dtype="object")
    items = items.copy()
    items["region"] = items["salesperson_id"].map(region).fillna(UNKNOWN_REGION)
    items["salesperson_id"] = items["salesperson_id"].fillna("(none)")

    by_customer = aging_table(items, ["customer_id"], edges, basis)
    master = customers.set_index("customer_id")
    by_customer.insert(1, "name", by_customer["customer_id"].map(master["name"]) if len(master) else None)
    by_customer.insert(2, "assigned_salesperson_id",
                       by_customer["customer_id"].map(master["assigned_salesperson_id"]) if len(master) else None)
    by_customer.insert(3, "credit_limit",
                       by_customer["customer_id"].map(master["credit_limit"]) if len(master) else np.nan)

    by_salesperson = aging_table(items, ["salesperson_id"], edges, basis)
    names = people.set_index("salesperson_id")["salesperson_name"] if len(people) else pd.Series(dtype="object")
    by_salesperson.insert(1, "name", by_salesperson["salesperson_id"].map(names))
    by_salesperson.insert(2, "region", by_salesperson["salesperson_id"].map(region).fillna(UNKNOWN_REGION))

    by_region = aging_table(items, ["region"], edges, basis)
    for frame in (by_customer, by_salesperson, by_region):
        frame.insert(0, "as_of", pd.Timestamp(as_of))
        frame.attrs["basis"] = basis
    return {"aging_by_customer": by_customer, "aging_by_salesperson": by_salesperson, "aging_by_region": by_region}
