"""RCV-03: bad-debt reserve by aging bucket from the data's own loss history (view ``aging_reserve``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analyses.receivables.aging import assign_buckets, bucket_labels, item_ages
from analyses.receivables.open_items import ledger_end_date, load_ledger, month_ends, open_items
from audit.analysis import Analysis
from audit.policy import CollectionsPolicy


def loss_history(ledger, as_of, edges: tuple[int, ...], basis: str, outcome_days: int) -> tuple[pd.DataFrame, dict]:
    """Per bucket: the open amount at past month ends and the part of it still unpaid on ``as_of``.

    Snapshots are the month ends at least ``outcome_days`` before ``as_of`` (so every amount had that
    long to be paid); when the data is shorter, the earliest month end is used and ``note`` says how
    long the outcome could be watched. An amount's loss is ``min(open then, open on as_of)`` of the same
    invoice: what was owed then and has still not been paid.
    """
    as_of = pd.Timestamp(as_of)
    first = ledger.invoices["invoice_date"].min()
    ends = [e for e in month_ends(first, as_of) if e < as_of]
    eligible = [e for e in ends if e <= as_of - pd.Timedelta(days=outcome_days)]
    note = f"month ends at least {outcome_days} days before {as_of.date()}"
    if not eligible and ends:
        eligible = ends[:1]
        note = (f"short history: only {(as_of - ends[0]).days} days after {ends[0].date()} could be watched, "
                f"fewer than the {outcome_days} days of the definition; the rates understate the losses")
    final = open_items(ledger, as_of)
    final = final[final["kind"] == "invoice"].set_index("item_id")["open_amount"]
    rows = []
    for end in eligible:
        items = open_items(ledger, end)
        items = items[(items["kind"] == "invoice") & (items["open_amount"] > 0)].copy()
        items["bucket"] = assign_buckets(item_ages(items, basis), edges)
        items["lost"] = np.minimum(items["open_amount"], items["item_id"].map(final).fillna(0.0).clip(lower=0))
        rows.append(items.groupby("bucket")[["open_amount", "lost"]].sum())
    labels = (["not_due"] if basis == "due_date" else []) + bucket_labels(edges)
    if rows:
        history = pd.concat(rows).groupby(level=0).sum().reindex(labels).fillna(0.0)
    else:
        history = pd.DataFrame({"open_amount": 0.0, "lost": 0.0}, index=labels)
    info = {"snapshots": len(eligible), "first": eligible[0] if eligible else None,
            "last": eligible[-1] if eligible else None, "note": note}
    return history, info


class BadDebtReserve(Analysis):
    """A bad-debt reserve per aging bucket from the data's own loss rates (view ``aging_reserve``).

    Loss, as measured here: an invoice amount open at a past month end that is still unpaid on the
    audit's end date, at least ``outcome_days`` later (default: the ladder's last step, legal at 180
    days: an amount not collected by the time it would go to court is treated as lost). This covers the
    defaulted customers (they never pay again) and amounts never paid after 180 days; the contract has no
    write-off record, so written-off amounts cannot be seen separately. For each bucket (as in
    ``aging_by_*``, same ``bucket_edges`` and ``basis``) the loss rate is lost / open over every eligible
    month end, made non-decreasing with age (an older bucket never reserves at a lower rate than a
    younger one); the reserve is today's open amount in the bucket times its rate. A ``total`` row sums
    the reserve. Customers' unapplied credits are not reserved against.
    """

    code = "RCV-03"
    outputs = ("aging_reserve",)
    reads_analyses = ("RCV-00",)
    title = "Bad-debt reserve"
    requires = {"invoices": ("invoice_id", "invoice_date", "customer_id"),
                "invoice_lines": ("invoice_id", "quantity", "unit_price")}

    def __init__(self, bucket_edges: tuple[int, ...] = (30, 60, 90, 180), basis: str = "invoice_date",
                 outcome_days: int | None = None):
        self.bucket_edges = tuple(bucket_edges)
        self.basis = basis
        # None: the contract's default ladder's last step
        self.outcome_days = outcome_days if outcome_days is not None else max(CollectionsPolicy().ladder_days.values())

    @classmethod
    def params_from_policy(cls, policy):
        ladder = dict(policy.collections.ladder_days)
        return {"outcome_days": int(max(ladder.values())) if ladder else None}

    def compute(self, data) -> dict[str, pd.DataFrame]:
        as_of = ledger_end_date(data)
        if as_of is None:
            return {}
        ledger = load_ledger(data)
        history, info = loss_history(ledger, as_of, self.bucket_edges, self.basis, self.outcome_days)
        today = open_items(ledger, as_of)
        today = today[(today["kind"] == "invoice") & (today["open_amount"] > 0)].copy()
        today["bucket"] = assign_buckets(item_ages(today, self.basis), self.bucket_edges)
        open_now = today.groupby("bucket")["open_amount"].sum().reindex(history.index).fillna(0.0)
        raw = (history["lost"] / history["open_amount"].where(history["open_amount"] > 0))
        rate = raw.ffill().fillna(0.0).cummax().round(4)
        table = pd.DataFrame({
            "bucket": history.index, "open_amount": open_now.to_numpy(), "loss_rate": rate.to_numpy().round(4),
            "reserve": (open_now * rate).round(2).to_numpy(), "history_open": history["open_amount"].to_numpy(),
            "history_lost": history["lost"].to_numpy(), "observed_loss_rate": raw.to_numpy().round(4)})
        total = pd.DataFrame([{"bucket": "total", "open_amount": table["open_amount"].sum(),
                               "loss_rate": (table["reserve"].sum() / table["open_amount"].sum())
                               if table["open_amount"].sum() else 0.0,
                               "reserve": table["reserve"].sum(), "history_open": table["history_open"].sum(),
                               "history_lost": table["history_lost"].sum(), "observed_loss_rate": np.nan}])
        table = pd.concat([table, total], ignore_index=True)
        table.insert(0, "as_of", pd.Timestamp(as_of))
        table["snapshots"] = info["snapshots"]
        table["snapshot_first"] = info["first"]
        table["snapshot_last"] = info["last"]
        table["loss_definition"] = (f"open at a month end and still unpaid on {pd.Timestamp(as_of).date()} "
                                    f"({info['note']})")
        return {"aging_reserve": table}
