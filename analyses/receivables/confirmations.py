"""RCV-06: customers' balance confirmations against the ledger, per customer and salesperson (view ``confirmation_differences``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analyses.receivables.open_items import customer_master, salesperson_master
from audit.analysis import Analysis
from audit.ledger import confirmation_gaps


class ConfirmationDifferences(Analysis):
    """Balance confirmations (the customer's own statement of what it owes) against the ledger.

    View ``confirmation_differences``: one row per confirmation with the customer, its assigned
    salesperson and region, the confirmed and ledger balances on the confirmation day (the contract's
    ledger balance: invoices − allocations − cash discounts − credit notes, ``audit.ledger``), the
    difference (ledger − confirmed: positive when the customer says it owes less), that difference as a
    share of the ledger, and ``agrees`` (within ``tolerance_share`` of the ledger). View
    ``confirmation_differences_by_salesperson``: per salesperson, confirmations received, how many
    disagree, the sum of the differences and of their absolute values, and the largest one; a
    salesperson whose customers' confirmations keep falling short of the books is where cheques or cash
    may be held back.
    """

    code = "RCV-06"
    outputs = ("confirmation_differences", "confirmation_differences_by_salesperson")
    title = "Confirmation differences"
    requires = {"confirmations": ("customer_id", "as_of_date", "confirmed_balance")}

    def __init__(self, tolerance_share: float = 0.005):
        self.tolerance_share = tolerance_share

    def compute(self, data) -> dict[str, pd.DataFrame]:
        gaps = confirmation_gaps(data)
        customers = customer_master(data).set_index("customer_id")
        people = salesperson_master(data).set_index("salesperson_id")
        table = gaps.rename(columns={"gap": "difference"}).copy()
        table["confirmed_balance"] = pd.to_numeric(table["confirmed_balance"], errors="coerce")
        table["ledger_balance"] = pd.to_numeric(table["ledger_balance"], errors="coerce")
        table["difference"] = pd.to_numeric(table["difference"], errors="coerce").round(2)
        table.insert(1, "name", table["customer_id"].map(customers["name"]) if len(customers) else None)
        table.insert(2, "salesperson_id",
                     table["customer_id"].map(customers["assigned_salesperson_id"]) if len(customers) else None)
        table.insert(3, "region", table["salesperson_id"].map(people["region"]) if len(people) else None)
        if data.has("confirmations", ("reply_date",)) and len(table):
            replies = data.frame("confirmations")[["customer_id", "as_of_date", "reply_date"]].astype(
                {"customer_id": "object"})
            table = table.merge(replies.drop_duplicates(["customer_id", "as_of_date"]),
                                on=["customer_id", "as_of_date"], how="left")
        else:
            table["reply_date"] = pd.NaT
        ledger = table["ledger_balance"].abs()
        table["difference_share"] = (table["difference"] / ledger.where(ledger > 0)).round(4)
        table["agrees"] = table["difference"].abs() <= self.tolerance_share * ledger
        table = table.sort_values(["customer_id", "as_of_date"], kind="mergesort", ignore_index=True)
        grouped = table.assign(disagrees=~table["agrees"], absolute=table["difference"].abs()).groupby(
            table["salesperson_id"].fillna("(none)"))
        by_salesperson = pd.DataFrame({
            "confirmations": grouped.size(), "disagreeing": grouped["disagrees"].sum(),
            "difference": grouped["difference"].sum().round(2), "absolute_difference": grouped["absolute"].sum().round(2),
            "largest_difference": grouped["difference"].apply(
                lambda d: d.loc[d.abs().idxmax()] if len(d) else np.nan),
        }).rename_axis("salesperson_id").reset_index()
        by_salesperson.insert(1, "name", by_salesperson["salesperson_id"].map(people["salesperson_name"])
                              if len(people) else None)
        by_salesperson = by_salesperson.sort_values(["absolute_difference", "salesperson_id"],
                                                    ascending=[False, True], kind="mergesort", ignore_index=True)
        return {"confirmation_differences": table, "confirmation_differences_by_salesperson": by_salesperson}
