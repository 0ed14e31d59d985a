"""cheque_withheld (cash): cash a salesperson collected and booked long after the customer's receipt."""

from __future__ import annotations

import pandas as pd

from audit.common import combine_traces, month_of, saturating
from audit.detector import Detector, empty_findings, related_ids
from audit.i18n import N_
from audit.ledger import confirmation_gaps
from audit.membership import among
from audit.policy import DEFAULTS
from detectors.payments.evidence import (
    confirmations_during,
    cross_customer_allocations,
    first_text,
    open_invoices_matching,
)
from detectors.wording import cheque_withheld


class CashWithheld(Detector):
    """Cash receipts posted more working days after the customer's receipt than the hand-in limit.

    What it finds
    -------------
    Cash receipts whose ``posted_date`` (the day the company booked the money) is more than
    ``[cheques] hand_in_days`` working days after ``receipt_date`` (the date on the receipt the customer
    holds), the policy's weekend and holidays not counted. A balance confirmation in which the customer
    owes less than the ledger while the cash was held strengthens the finding. Receipts that also show
    lapping (paying another customer's invoices, or carrying exactly another customer's unpaid invoice
    amount), and any other receipt PAY-01 reports (cash booked late by the salesperson beside a cheque
    of one of the two customers read as lapping), are left to PAY-01 (payment_swap); this detector reads
    PAY-01's findings. Cheques kept back are found by CHQ-01.

    Why it matters
    --------------
    The customer paid and holds a receipt; the company did not have the money for weeks. Cash held this
    way is used privately or to cover a gap elsewhere, and may never arrive at all.

    Flagged
    -------
    A cash receipt of 37,500,000 dated 2025-04-22 on the customer's copy, booked on 2025-05-14: 16
    working days, 14 more than the 2 allowed.

    Not flagged
    -----------
    Cash collected on the eve of a two-day public holiday and a weekend, booked on the second working day
    after them; a receipt booked the next working day.

    Evidence
    --------
    Receipt and posting dates, calendar and working days, the policy limit and the days over it, the
    invoices paid, confirmations showing the gap, and each trace's contribution to the score.
    """

    code = "CHQ-03"
    # a late cash receipt PAY-01 reports (lapping) is a payment swap, not cash withheld
    reads_findings = ("PAY-01",)
    pattern = "cheque_withheld"
    wording = cheque_withheld.words
    entity_type = "receipt"
    family = "cheques"
    requires = {"receipts": ("receipt_id", "customer_id", "receipt_date", "posted_date", "method", "amount")}
    uses = {
        "receipts": ("collected_by",),
        "receipt_allocations": ("receipt_id", "invoice_id", "amount"),
        "invoices": ("invoice_id", "customer_id", "invoice_date", "salesperson_id"),
        "customers": ("assigned_salesperson_id", "owner_name"),
        "confirmations": ("customer_id", "as_of_date", "confirmed_balance"),
    }

    def __init__(self, hand_in_days: int = DEFAULTS.cheques.hand_in_days, full_score_excess_days: int = 10, confirmation_weight: float = 0.4,
                 name_match_score: float = 90.0, amount_tolerance: float = 1.0):
        self.hand_in_days = hand_in_days
        self.full_score_excess_days = full_score_excess_days
        self.confirmation_weight = confirmation_weight
        self.name_match_score = name_match_score
        self.amount_tolerance = amount_tolerance

    @classmethod
    def params_from_policy(cls, policy):
        return {"hand_in_days": policy.cheques.hand_in_days}

    def find(self, data) -> pd.DataFrame:
        receipts = data.table("receipts")
        late = (receipts.posted_date.date() - receipts.receipt_date.date()).cast("int64")
        candidates = receipts.filter((receipts.method == "cash") & (late > self.hand_in_days))
        if data.has("customers"):
            customers = data.table("customers").select("customer_id", assigned="assigned_salesperson_id")
            candidates = candidates.left_join(customers, "customer_id").drop("customer_id_right")
        else:
            candidates = candidates.mutate(assigned=candidates.collected_by)
        cash = data.execute(candidates.select("receipt_id", "customer_id", "receipt_date", "posted_date", "amount",
                                              "collected_by", "assigned").order_by("receipt_id"))
        self.n_candidates_ = len(cash)
        if cash.empty:
            return empty_findings()
        cash["working_days"] = data.calendar.working_days_between(cash["receipt_date"], cash["posted_date"])
        cash = cash[cash["working_days"] > self.hand_in_days].reset_index(drop=True)
        if cash.empty:
            return empty_findings()
        cash["salesperson_id"] = [first_text(a, b) for a, b in zip(cash["collected_by"], cash["assigned"],
                                                                   strict=True)]
        # Lapping (another customer's money or invoices) is payment_swap's: PAY-01 reports it.
        crossed = set(cross_customer_allocations(data, self.name_match_score, cash["receipt_id"])["receipt_id"])
        matched = set(open_invoices_matching(data, cash, self.amount_tolerance)["receipt_id"])
        swapped = self._reported_as_swaps(data)
        self.n_left_to_payment_swap_ = len(set(cash["receipt_id"]) & (crossed | matched | swapped))
        cash = cash[~cash["receipt_id"].isin(crossed | matched | swapped)].reset_index(drop=True)
        if cash.empty:
            return empty_findings()
        self.caveats_ = [] if data.has("receipt_allocations") else [  # worded (translated) by cheque_withheld
            N_("receipt allocations are not available, so lapping (money applied to another customer) cannot be "
               "ruled out")]
        gaps = confirmation_gaps(data, cash["customer_id"].unique())
        invoices = self._invoices(data, cash["receipt_id"].tolist())
        return pd.DataFrame([self._finding(row, gaps, invoices.get(row.receipt_id, [])) for row in cash.itertuples()])

    @staticmethod
    def _reported_as_swaps(data) -> set[str]:
        """Receipts PAY-01 reports: cash booked late beside a cheque read as lapping among them."""
        found = data.findings
        if found.empty:
            return set()
        return set(found.loc[found["detector"] == "PAY-01", "entity_id"].astype(str))

    def _invoices(self, data, receipt_ids: list[str]) -> dict[str, list[str]]:
        if not data.has("receipt_allocations"):
            return {}
        allocations = data.table("receipt_allocations")
        paid = data.execute(allocations.filter(among(allocations.receipt_id, receipt_ids)).select(
            "receipt_id", "invoice_id").order_by(["receipt_id", "invoice_id"]))
        return {key: group["invoice_id"].tolist() for key, group in paid.groupby("receipt_id")}

    def _finding(self, receipt, gaps: pd.DataFrame, invoices: list[str]) -> dict:
        held, excess = int(receipt.working_days), int(receipt.working_days) - self.hand_in_days
        calendar_days = int((receipt.posted_date - receipt.receipt_date).days)
        hold_trace = 0.5 + 0.4 * saturating(excess, self.full_score_excess_days)
        confirmations = confirmations_during(gaps, receipt.customer_id, receipt.receipt_date, receipt.posted_date)
        confirmation_trace = 0.0
        if confirmations:
            covered = min(1.0, max(c["gap"] for c in confirmations) / receipt.amount) if receipt.amount else 1.0
            confirmation_trace = self.confirmation_weight * covered
        score = combine_traces([hold_trace, confirmation_trace])
        salesperson = receipt.salesperson_id
        evidence = {
            "amount": receipt.amount, "receipt_date": receipt.receipt_date, "posted_date": receipt.posted_date,
            "calendar_days": calendar_days, "working_days": held, "hand_in_days": self.hand_in_days,
            "working_days_over": excess, "collected_by": receipt.collected_by, "invoices": invoices,
            "confirmations": confirmations,
            "traces": {"posted_beyond_hand_in_days": round(hold_trace, 4),
                       "confirmation_below_ledger": round(confirmation_trace, 4)},
        }
        return {
            "entity_id": receipt.receipt_id, "salesperson_id": salesperson, "customer_id": receipt.customer_id,
            "period": month_of(receipt.receipt_date), "score": score, "risk_amount": receipt.amount,
            "evidence": evidence, "facts": {"caveats": list(self.caveats_)},
            "related": related_ids(("receipt", [receipt.receipt_id]), ("customer", [receipt.customer_id]),
                                   ("salesperson", [salesperson]), ("invoice", invoices)),
        }
