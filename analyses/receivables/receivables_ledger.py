"""RCV-00: the run's receivables ledger, the one fact the receivable views and the distress signs share."""

from __future__ import annotations

from analyses.receivables.open_items import LEDGER_VIEW, build_ledger
from audit.analysis import Analysis


class ReceivablesLedger(Analysis):
    """The invoices with their amounts and due dates, what settled each (allocations, cash discounts,
    credit notes) and the credits that name no invoice, fetched once per run.

    Aging, collections, reserve, exposure, problem receivables and the distress signs all read it
    (``reads_analyses = ("RCV-00",)``), so open items on a day are worked out once however many of them
    ask for that day. It is not a table of the report.
    """

    code = "RCV-00"
    outputs = ("receivables_ledger",)
    title = "Receivables ledger"
    requires = {"customers": ("customer_id",)}

    def compute(self, data) -> dict:
        return {LEDGER_VIEW: build_ledger(data)}
