"""STD-09: receipts dated or booked on a day off."""

from __future__ import annotations

from detectors.standard.off_days import OffDayMoney
from detectors.wording import weekend_posting


class WeekendReceipt(OffDayMoney):
    """Receipts dated or booked on the policy weekend or a policy holiday, where that is not routine.

    What it finds
    -------------
    Receipts whose ``receipt_date`` (the date on the customer's copy) or ``posted_date`` (the day the
    company booked the money) is not a working day under the policy. Receipts paid by a cheque that is in
    the cheques table are left to STD-10, which judges the cheque's own dates. As for invoices, when at
    least ``routine_count`` receipts and ``routine_share`` of them carry such a date, the company works
    those days and nothing is flagged.

    Why it matters
    --------------
    Money booked on a day the office is closed, or a receipt written on such a day, is out of the normal
    cash-handling routine: a backdated receipt that covers a late hand-in, or cash taken outside the
    till.

    Flagged
    -------
    A cash receipt of 45,000,000 from customer C000120 dated Friday 2025-05-09 and booked on Friday
    2025-05-16, in a ledger where receipts are otherwise never dated on a Friday: flagged, money at risk
    45,000,000.

    Not flagged
    -----------
    A cheque receipt: the cheque's dates are judged by STD-10 (and a cheque's due date on a Friday is
    never a posting). A company whose receipts are routinely dated on Saturdays.

    Evidence
    --------
    Which of the two dates fell on a day off and why, the method and amount, the collector, the share of
    receipts with such dates, the traces.
    """

    code = "STD-09"
    pattern = "weekend_posting"
    wording = weekend_posting.words
    entity_type = "receipt"
    family = "standard"
    requires = {"receipts": ("receipt_id", "customer_id", "receipt_date", "posted_date", "method", "amount")}
    uses = {"receipts": ("collected_by", "cheque_id"), "cheques": ("cheque_id",),
            "customers": ("assigned_salesperson_id",)}
    rank_weight = 0.5

    key = "receipt_id"
    booked = ("posted_date", "booked_on_day_off", 0.5)
    given = ("receipt_date", "receipt_dated_on_day_off", 0.4)

    def records(self, data):
        receipts = data.table("receipts")
        if data.has("cheques", ("cheque_id",)):
            cheques = data.table("cheques")
            with_cheque = receipts.semi_join(cheques, receipts.cheque_id == cheques.cheque_id)
            receipts = receipts.anti_join(with_cheque.select("receipt_id"), "receipt_id")
        return receipts

    def record_evidence(self, receipt, booked_off, given_off):
        return {"receipt_date": receipt.receipt_date, "posted_date": receipt.posted_date,
                "receipt_date_off": given_off, "posted_date_off": booked_off,
                "method": receipt.method, "amount": receipt.amount}
