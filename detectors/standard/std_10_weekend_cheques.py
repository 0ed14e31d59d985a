"""STD-10: cheques received or handed in on a day off."""

from __future__ import annotations

from detectors.standard.off_days import OffDayMoney
from detectors.wording import weekend_posting


class WeekendCheque(OffDayMoney):
    """Cheques received from a customer or handed in to treasury on the policy weekend or a holiday.

    What it finds
    -------------
    Cheques whose ``received_date`` (the salesperson got it) or ``handed_in_date`` (treasury got it) is
    not a working day under the policy, unless at least ``routine_count`` cheques and ``routine_share`` of
    them carry such dates.
    A hand-in on a closed day weighs more than a receipt from the customer on one.

    Why it matters
    --------------
    Treasury is closed on days off: a hand-in dated then was keyed after the fact, typically to make a
    cheque that was held back look handed in on time. A cheque "received" on a closed day may be dated
    to fit the customer's payment terms or a cash discount.

    Flagged
    -------
    A cheque of 120,000,000 received on Wednesday and recorded as handed in on Friday 2025-06-06 (the
    policy weekend), in a ledger where treasury never otherwise records a Friday: flagged, money at
    risk 120,000,000.

    Not flagged
    -----------
    A post-dated cheque whose due date (maturity) falls on a Friday or a holiday: the drawer chose it,
    nothing was posted that day. A company whose treasury routinely works Saturdays.

    Evidence
    --------
    Which date fell on a day off and why, the amount, collector, due date, the share of cheques with
    such dates, the traces.
    """

    code = "STD-10"
    pattern = "weekend_posting"
    wording = weekend_posting.words
    entity_type = "cheque"
    family = "standard"
    requires = {"cheques": ("cheque_id", "cheque_no", "customer_id", "amount", "due_date", "received_date")}
    uses = {"cheques": ("handed_in_date", "collected_by"), "customers": ("assigned_salesperson_id",)}
    rank_weight = 0.5

    key = "cheque_id"
    booked = ("handed_in_date", "handed_in_on_day_off", 0.5)
    given = ("received_date", "received_on_day_off", 0.3)

    def records(self, data):
        return data.table("cheques")

    def record_facts(self, cheque):
        return {"cheque_no": cheque.cheque_no}

    def record_evidence(self, cheque, booked_off, given_off):
        return {"received_date": cheque.received_date, "handed_in_date": cheque.handed_in_date,
                "due_date": cheque.due_date, "received_off": given_off, "handed_in_off": booked_off,
                "amount": cheque.amount}
