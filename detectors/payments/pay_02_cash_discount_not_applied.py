"""cash_discount_not_applied: payments inside the cash-discount window booked without the discount."""

from __future__ import annotations

import ibis
import pandas as pd

from audit.common import month_of
from audit.detector import Detector, empty_findings, related_ids
from audit.policy import DEFAULTS
from detectors.payments.evidence import cross_customer_allocations, first_text, open_invoices_matching
from detectors.wording import cash_discount_not_applied


class CashDiscountNotApplied(Detector):
    """Allocations paid within the cash-discount window whose discount is missing or short.

    What it finds
    -------------
    Receipt allocations whose payment date is at most ``[discounts] cash_discount.within_days`` days
    after the invoice date (inclusive) but whose ``cash_discount_amount`` is below
    ``cash_discount.pct`` % of the amount paid. The payment date is the receipt date for cash,
    transfers and cards, and the cheque's due date for cheques (a post-dated cheque pays when it
    matures). Cheques that bounced or were returned or replaced did not pay and are skipped; cheque
    receipts without their cheque cannot be dated and are skipped too, and so are invoices that already
    carry a cash discount on their lines (``discount_type`` cash). Receipts that show lapping
    (another customer's invoices or money) are left to PAY-01: their dates are not the customer's.

    Why it matters
    --------------
    A customer who pays early earns the discount. If it is not booked, the customer paid the full price
    while the books say the money came without the discount: the difference is pocketed or held back
    by whoever collected it, and the customer's goodwill suffers when it notices.

    Flagged
    -------
    An invoice of 2025-07-07 for 399,209,600 paid in cash on the same day, booked with no cash
    discount: the 2 % discount, 7,984,192, is missing.

    Not flagged
    -----------
    A post-dated cheque handed over 4 days after the invoice but due 45 days after it (outside the
    10-day window: no discount is due); a cash payment on day 10 with its 2 % discount booked; an
    invoice whose lines already give the cash discount.

    Evidence
    --------
    Per allocation: invoice, invoice date, payment date and what it was taken from, days after the
    invoice, amount paid, discount due, discount booked and the shortfall; the window and rate, and each
    trace's contribution.
    """

    code = "PAY-02"
    pattern = "cash_discount_not_applied"
    wording = cash_discount_not_applied.words
    entity_type = "receipt"
    family = "payments"
    requires = {
        "receipts": ("receipt_id", "customer_id", "receipt_date", "method", "amount"),
        "receipt_allocations": ("receipt_id", "invoice_id", "amount", "cash_discount_amount"),
    }
    uses = {
        "receipts": ("collected_by", "cheque_id", "posted_date"),
        "cheques": ("cheque_id", "due_date", "status", "cheque_no"),
        "invoices": ("invoice_id", "invoice_date", "salesperson_id", "invoice_no"),
        "customers": ("owner_name",),
    }

    def __init__(self, within_days: int = DEFAULTS.discounts.cash_discount.within_days,
                 pct: float = DEFAULTS.discounts.cash_discount.pct, tolerance_share: float = 0.05,
                 name_match_score: float = 90.0, amount_tolerance: float = 1.0, hand_in_days: int = DEFAULTS.cheques.hand_in_days):
        self.within_days = within_days
        self.pct = pct
        self.tolerance_share = tolerance_share
        self.name_match_score = name_match_score
        self.amount_tolerance = amount_tolerance
        self.hand_in_days = hand_in_days

    @classmethod
    def params_from_policy(cls, policy):
        discount = policy.discounts.cash_discount
        return {"within_days": discount.within_days, "pct": discount.pct, "hand_in_days": policy.cheques.hand_in_days}

    # ------------------------------------------------------------ relational part
    def _short_allocations(self, data) -> ibis.Table:
        allocations = data.table("receipt_allocations").select(
            "receipt_id", "invoice_id", paid="amount", discount="cash_discount_amount")
        receipts = data.table("receipts").select(
            "receipt_id", "customer_id", "receipt_date", "posted_date", "method", "collected_by", "cheque_id",
            receipt_amount="amount")
        invoices = data.table("invoices").select("invoice_id", "invoice_no", "invoice_date",
                                                 invoice_customer="customer_id", invoice_salesperson="salesperson_id")
        joined = allocations.join(receipts, "receipt_id").join(invoices, "invoice_id")
        if data.has("cheques", ("due_date",)):
            cheques = data.table("cheques").select("cheque_id", "cheque_no", cheque_due="due_date",
                                                   cheque_status="status")
            joined = joined.left_join(cheques, "cheque_id").drop("cheque_id_right")
        else:
            joined = joined.mutate(cheque_no=ibis.null("string"), cheque_due=ibis.null("timestamp"),
                                   cheque_status=ibis.null("string"))
        if data.has("invoice_lines", ("discount_type",)):
            lines = data.table("invoice_lines")
            on_invoice = lines.filter(lines.discount_type == "cash").select("invoice_id").distinct()
            joined = joined.anti_join(on_invoice, "invoice_id")
        is_cheque = joined.method == "cheque"
        paid_on = ibis.cases((is_cheque, joined.cheque_due), else_=joined.receipt_date)
        days = (paid_on.date() - joined.invoice_date.date()).cast("int64")
        due = joined.paid * (self.pct / 100.0)
        given = joined.discount.fill_null(0)
        bounced = joined.cheque_status.isin(["bounced", "returned", "replaced"]).fill_null(False)
        return joined.mutate(paid_on=paid_on, days_after_invoice=days, discount_due=due, discount_given=given).filter(
            paid_on.notnull() & (days <= self.within_days) & (given < due * (1 - self.tolerance_share))
            & (joined.paid > 0) & ~(is_cheque & bounced))

    # ------------------------------------------------------------ per-receipt part
    def find(self, data) -> pd.DataFrame:
        if self.pct <= 0:
            self.n_short_ = 0
            return empty_findings()
        short = data.execute(self._short_allocations(data).order_by(["receipt_id", "invoice_id"]))
        self.n_short_ = len(short)
        if short.empty:
            return empty_findings()
        # Lapping receipts carry another customer's money or invoices: their dates are not this customer's.
        crossed = set(cross_customer_allocations(data, self.name_match_score, short["receipt_id"])["receipt_id"])
        receipts = short.drop_duplicates("receipt_id")[["receipt_id", "customer_id", "receipt_date", "posted_date",
                                                        "receipt_amount", "collected_by"]]
        receipts = receipts.rename(columns={"receipt_amount": "amount"}).assign(salesperson_id=receipts["collected_by"])
        late = data.calendar.working_days_between(receipts["receipt_date"], receipts["posted_date"]) > self.hand_in_days
        matched = set(open_invoices_matching(data, receipts[late], self.amount_tolerance)["receipt_id"])
        self.n_left_to_payment_swap_ = len((crossed | matched) & set(receipts["receipt_id"]))
        short = short[~short["receipt_id"].isin(crossed | matched)]
        if short.empty:
            return empty_findings()
        return pd.DataFrame([self._finding(receipt_id, group) for receipt_id, group in
                             short.groupby("receipt_id", sort=True)])

    def _finding(self, receipt_id: str, lines: pd.DataFrame) -> dict:
        first = lines.iloc[0]
        shortfall = float((lines["discount_due"] - lines["discount_given"]).sum())
        # Deep inside the window is clearer than the last day (where dates may be argued).
        margin = float((self.within_days - lines["days_after_invoice"].clip(lower=0)).max()) / max(self.within_days, 1)
        window_trace = 0.6 + 0.25 * min(1.0, max(0.0, margin))
        nothing = bool((lines["discount_given"] <= 0).all())
        nothing_trace = 0.15 if nothing else 0.0
        score = min(1.0, window_trace + nothing_trace)
        is_cheque = first.method == "cheque"
        salesperson = first_text(first.collected_by, first.invoice_salesperson)
        allocation_rows = lines[["invoice_id", "invoice_date", "paid_on", "days_after_invoice", "paid", "discount_due",
                                 "discount_given"]].head(20).to_dict(orient="records")
        evidence = {
            "method": first.method, "cheque_id": first.cheque_id, "within_days": self.within_days, "pct": self.pct,
            "payment_date_from": "cheque due date" if is_cheque else "receipt date",
            "discount_due": float(lines["discount_due"].sum()), "discount_given": float(lines["discount_given"].sum()),
            "shortfall": shortfall, "allocations": allocation_rows,
            "traces": {"paid_within_window": round(window_trace, 4), "no_discount_at_all": nothing_trace},
        }
        return {
            "entity_id": receipt_id, "salesperson_id": salesperson, "customer_id": first.customer_id,
            "period": month_of(first.receipt_date), "score": score, "risk_amount": shortfall,
            "evidence": evidence, "facts": {"invoice_nos": lines["invoice_no"].head(5).tolist(), "lines": len(lines)},
            "related": related_ids(("receipt", [receipt_id]), ("cheque", [first.cheque_id]),
                                   ("customer", [first.customer_id]), ("salesperson", [salesperson]),
                                   ("invoice", lines["invoice_id"].tolist())),
        }
