"""reversed_large_invoice: a very large invoice reversed by a credit note soon after it was issued."""

from __future__ import annotations

import numpy as np
import pandas as pd

from audit.common import combine_traces, month_of
from audit.detector import Detector, empty_findings, related_ids
from audit.ledger import invoice_amounts
from detectors.standard.reversals import credit_note_reversals
from detectors.wording import reversed_large_invoice


class ReversedLargeInvoice(Detector):
    """A very large invoice that a credit note reverses (in full or nearly) within days of its issue.

    What it finds
    -------------
    Posted invoices at least ``large_multiple`` times the company's median invoice and above the
    ``company_quantile`` of all invoice amounts, that credit notes reverse for at least
    ``reversed_share`` of their amount within ``reversal_days`` days. The credit note either names the
    invoice or, without ``invoice_id``, is matched to it by customer, amount and date
    (``detectors.standard.reversals``; the evidence says when the match was inferred).

    Why it matters
    --------------
    An invoice far larger than anything the company sells, taken back days later, inflates the sales of
    its month (targets, commission, a customer's credit standing) without a sale behind it; at best it is
    a keying error that reached the books. Either way it should be explained. The issue's wholesaler had
    its two largest invoices of the year reversed within minutes, and nothing flagged them.

    Flagged
    -------
    Invoice 50311 of 2025-03-30, 4,200,000,000 (38 × the company's median invoice, the largest of the
    year), reversed in full by credit note CN-881 on 2025-04-01 that names no invoice: flagged, the
    credit note matched by customer and amount.

    Not flagged
    -----------
    A large invoice the customer keeps; a return of a few cartons from a large invoice (a part, not the
    invoice); an ordinary invoice reversed and billed again (not large).

    Evidence
    --------
    The invoice (number, date, amount, customer, salesperson), the company's median and quantile, the
    credit notes (id, date, amount, days after, whether the match was inferred) and the traces.
    """

    code = "STD-11"
    pattern = "reversed_large_invoice"
    wording = reversed_large_invoice.words
    entity_type = "invoice"
    family = "standard"
    requires = {
        "invoices": ("invoice_id", "invoice_no", "invoice_date", "customer_id", "salesperson_id"),
        "invoice_lines": ("invoice_id", "quantity", "unit_price"),
        "credit_notes": ("credit_note_id", "credit_date", "customer_id", "amount"),
    }
    uses = {"invoices": ("status",), "invoice_lines": ("discount_pct",), "credit_notes": ("invoice_id",)}
    # The amount is real, but a reversal may be an honest correction: below the specific patterns.
    rank_weight = 0.2

    def __init__(self, large_multiple: float = 10.0, company_quantile: float = 0.99, reversal_days: int = 7,
                 reversed_share: float = 0.9):
        self.large_multiple = large_multiple
        self.company_quantile = company_quantile
        self.reversal_days = reversal_days
        self.reversed_share = reversed_share

    def find(self, data) -> pd.DataFrame:
        invoices = data.execute(invoice_amounts(data).select(
            "invoice_id", "invoice_no", "invoice_date", "customer_id", "salesperson_id", "amount"))
        self.eligible_records_ = len(invoices)
        if invoices.empty:
            return empty_findings()
        median = float(invoices["amount"].median())
        quantile = float(invoices["amount"].quantile(self.company_quantile))
        large = invoices[(invoices["amount"] >= self.large_multiple * median) & (invoices["amount"] >= quantile)
                         & (invoices["amount"] > 0)]
        self.n_large_ = len(large)
        if large.empty:
            return empty_findings()
        reversals = credit_note_reversals(data, window_days=self.reversal_days)
        reversals = reversals[reversals["invoice_id"].isin(set(large["invoice_id"]))
                              & (reversals["days_after"] <= self.reversal_days) & (reversals["days_after"] >= 0)]
        if reversals.empty:
            return empty_findings()
        # dicts: a Series' get per large invoice cost a hundred times a dict's
        credited = reversals.groupby("invoice_id")["credit_amount"].sum().to_dict()
        notes_of = dict(tuple(reversals.groupby("invoice_id", sort=False)))
        findings = []
        for invoice in large.sort_values("invoice_id").itertuples(index=False):
            total = float(credited.get(invoice.invoice_id, 0.0))
            if total < self.reversed_share * invoice.amount:
                continue
            notes = notes_of[invoice.invoice_id]
            findings.append(self._finding(invoice, notes, total, median, quantile))
        return pd.DataFrame(findings) if findings else empty_findings()

    def _finding(self, invoice, notes: pd.DataFrame, credited: float, median: float, quantile: float) -> dict:
        multiple = invoice.amount / median if median > 0 else np.inf
        days = int(notes["days_after"].max())  # the latest credit note
        inferred = bool(notes["inferred"].astype(bool).any())
        traces = {"very_large": 0.5, "reversed_soon": 0.3 * (1 - days / (self.reversal_days + 1)),
                  "reversed_in_full": 0.2 if credited >= invoice.amount * 0.999 else 0.0}
        score = combine_traces(traces.values())
        evidence = {
            "invoice": {"invoice_id": invoice.invoice_id, "invoice_no": invoice.invoice_no,
                        "invoice_date": invoice.invoice_date, "amount": invoice.amount},
            "company_median": median, "company_quantile": quantile, "multiple_of_median": multiple,
            "credit_notes": notes[["credit_note_id", "credit_date", "credit_amount", "days_after",
                                   "inferred"]].to_dict(orient="records"),
            "credited": credited, "match_inferred": inferred,
            "traces": {k: round(v, 4) for k, v in traces.items()},
        }
        return {
            "entity_id": invoice.invoice_id, "salesperson_id": invoice.salesperson_id,
            "customer_id": invoice.customer_id, "period": month_of(invoice.invoice_date), "score": score,
            "risk_amount": float(invoice.amount),
            "evidence": evidence, "facts": {"company_quantile": self.company_quantile},
            "related": related_ids(("invoice", [invoice.invoice_id]), ("customer", [invoice.customer_id]),
                                   ("salesperson", [invoice.salesperson_id]),
                                   ("credit_note", notes["credit_note_id"])),
        }
