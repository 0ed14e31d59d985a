"""STD-09: receipts dated or booked on a day off."""

from __future__ import annotations

import pandas as pd

from audit.common import combine_traces, month_of
from audit.detector import Detector, empty_findings, related_ids
from detectors.standard.std_05_weekend_posting import _off_day_records, _unusual
from detectors.standard.support import off_day
from detectors.wording import weekend_posting


class WeekendReceipt(Detector):
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

    def __init__(self, routine_share: float = 0.02, routine_count: int = 10):
        self.routine_share = routine_share
        self.routine_count = routine_count

    def find(self, data) -> pd.DataFrame:
        receipts = data.table("receipts")
        if data.has("cheques", ("cheque_id",)):
            cheques = data.table("cheques")
            with_cheque = receipts.semi_join(cheques, receipts.cheque_id == cheques.cheque_id)
            receipts = receipts.anti_join(with_cheque.select("receipt_id"), "receipt_id")
        found, n_all = _off_day_records(data, receipts, "receipt_id", ("posted_date", "receipt_date"))
        if found is None:
            self.off_day_share_ = 0.0
            return empty_findings()
        self.off_day_share_ = len(found) / n_all
        unusual = _unusual(len(found), n_all, self.routine_share, self.routine_count)
        if found.empty or unusual == 0:
            return empty_findings()
        posted_off = off_day(data, found["posted_date"]).to_numpy()
        receipt_off = off_day(data, found["receipt_date"]).to_numpy()
        rows = []
        for k, receipt in enumerate(found.itertuples(index=False)):
            collector = receipt.collected_by if isinstance(receipt.collected_by, str) else None
            salesperson = collector or receipt.assigned_salesperson_id
            traces = {"booked_on_day_off": 0.5 * unusual if posted_off[k] else 0.0,
                      "receipt_dated_on_day_off": 0.4 * unusual if receipt_off[k] else 0.0}
            rows.append({
                "entity_id": receipt.receipt_id, "salesperson_id": salesperson, "customer_id": receipt.customer_id,
                "period": month_of(receipt.posted_date if posted_off[k] else receipt.receipt_date),
                "score": combine_traces(traces.values()), "risk_amount": receipt.amount,
                "facts": {"off_day_records": len(found), "records": n_all},
                "evidence": {"receipt_date": receipt.receipt_date, "posted_date": receipt.posted_date,
                             "receipt_date_off": bool(receipt_off[k]), "posted_date_off": bool(posted_off[k]),
                             "method": receipt.method, "amount": receipt.amount, "collected_by": collector,
                             "policy_weekend": list(data.policy.weekend), "off_day_share": self.off_day_share_,
                             "routine_share": self.routine_share,
                             "traces": {k2: round(v, 4) for k2, v in traces.items()}},
                "related": related_ids(("receipt", [receipt.receipt_id]), ("customer", [receipt.customer_id]),
                                       ("salesperson", [salesperson])),
            })
        return pd.DataFrame(rows)
