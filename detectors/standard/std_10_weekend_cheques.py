"""STD-10: cheques received or handed in on a day off."""

from __future__ import annotations

import pandas as pd

from audit.common import combine_traces, month_of
from audit.detector import Detector, empty_findings, related_ids
from detectors.standard.std_05_weekend_posting import _off_day_records, _unusual
from detectors.standard.support import off_day
from detectors.wording import weekend_posting


class WeekendCheque(Detector):
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

    def __init__(self, routine_share: float = 0.02, routine_count: int = 10):
        self.routine_share = routine_share
        self.routine_count = routine_count

    def find(self, data) -> pd.DataFrame:
        cheques = data.table("cheques")
        found, n_all = _off_day_records(data, cheques, "cheque_id", ("received_date", "handed_in_date"))
        if found is None:
            self.off_day_share_ = 0.0
            return empty_findings()
        self.off_day_share_ = len(found) / n_all
        unusual = _unusual(len(found), n_all, self.routine_share, self.routine_count)
        if found.empty or unusual == 0:
            return empty_findings()
        received_off = off_day(data, found["received_date"]).to_numpy()
        handed_off = off_day(data, found["handed_in_date"]).to_numpy()
        rows = []
        for k, cheque in enumerate(found.itertuples(index=False)):
            collector = cheque.collected_by if isinstance(cheque.collected_by, str) else None
            salesperson = collector or cheque.assigned_salesperson_id
            traces = {"handed_in_on_day_off": 0.5 * unusual if handed_off[k] else 0.0,
                      "received_on_day_off": 0.3 * unusual if received_off[k] else 0.0}
            rows.append({
                "entity_id": cheque.cheque_id, "salesperson_id": salesperson, "customer_id": cheque.customer_id,
                "period": month_of(cheque.handed_in_date if handed_off[k] else cheque.received_date),
                "score": combine_traces(traces.values()), "risk_amount": cheque.amount,
                "facts": {"cheque_no": cheque.cheque_no, "off_day_records": len(found), "records": n_all},
                "evidence": {"received_date": cheque.received_date, "handed_in_date": cheque.handed_in_date,
                             "due_date": cheque.due_date, "received_off": bool(received_off[k]),
                             "handed_in_off": bool(handed_off[k]), "amount": cheque.amount,
                             "collected_by": collector, "policy_weekend": list(data.policy.weekend),
                             "off_day_share": self.off_day_share_, "routine_share": self.routine_share,
                             "traces": {k2: round(v, 4) for k2, v in traces.items()}},
                "related": related_ids(("cheque", [cheque.cheque_id]), ("customer", [cheque.customer_id]),
                                       ("salesperson", [salesperson])),
            })
        return pd.DataFrame(rows)
