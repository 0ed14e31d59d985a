"""STD-00: every posted invoice with its net amount, read once for the digit and roundness tests.

benford_deviation (STD-01 per salesperson, STD-07 per customer) and round_amount (STD-04 per salesperson,
STD-08 per customer) each start from every posted invoice's net amount; the query and its conversion to
pandas run once here and the four read the result.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import pandas as pd

from audit.analysis import Analysis
from audit.ledger import line_net, posted_invoices

POSTED_TOTALS_VIEW = "posted_invoice_totals"
REQUIRES = {
    "invoices": ("invoice_id", "invoice_no", "invoice_date", "customer_id", "salesperson_id"),
    "invoice_lines": ("invoice_id", "quantity", "unit_price"),
}
USES = {"invoices": ("status",), "invoice_lines": ("discount_pct",)}


def invoice_totals(data, extra: tuple[str, ...] = ()) -> ibis.Table:
    """Posted invoices with their net amount (the ledger's definition) and ``extra`` invoice columns.

    Columns: invoice_id, invoice_no, invoice_date, customer_id, salesperson_id, amount, n_lines, *extra.
    """
    lines = data.table("invoice_lines")
    totals = lines.group_by("invoice_id").aggregate(amount=line_net(lines).sum(), n_lines=lines.count())
    invoices = posted_invoices(data)
    columns = ["invoice_id", "invoice_no", "invoice_date", "customer_id", "salesperson_id", *extra]
    return invoices.join(totals, "invoice_id").select(
        *[invoices[c] for c in columns], totals.amount, totals.n_lines)


@dataclass(frozen=True)
class PostedTotals:
    """What STD-00 hands its readers: :func:`invoice_totals` of every posted invoice, by invoice_id, in
    pandas (read-only: the readers share it). Not a table of the report: released after its last reader."""

    frame: pd.DataFrame


class PostedInvoiceTotals(Analysis):
    """Every posted invoice with lines: its number, date, customer, salesperson, net amount and number of
    lines, ordered by invoice_id. Shared by STD-01, STD-04, STD-07 and STD-08, released after them."""

    code = "STD-00"
    title = "Posted invoices and their net amounts"
    outputs = (POSTED_TOTALS_VIEW,)
    requires = REQUIRES
    uses = USES

    def compute(self, data) -> dict:
        return {POSTED_TOTALS_VIEW: PostedTotals(_executed(data))}


def posted_totals(data) -> pd.DataFrame:
    """:func:`invoice_totals` of every posted invoice in pandas, by invoice_id: STD-00's frame when the
    component reads it (treat it as read-only), else the same query run here."""
    shared = data.views.get(POSTED_TOTALS_VIEW)
    if isinstance(shared, PostedTotals):
        return shared.frame
    return _executed(data)


def _executed(data) -> pd.DataFrame:
    return data.execute(invoice_totals(data).order_by("invoice_id"))
