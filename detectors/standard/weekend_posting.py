"""weekend_posting: invoices, receipts and cheques dated on the policy weekend or a policy holiday."""

from __future__ import annotations

import ibis
import pandas as pd

from audit.detector import Detector, empty_findings, related_ids
from audit.membership import among
from detectors.common import combine_traces, month_of
from detectors.standard.support import invoice_totals, off_day
from detectors.wording import weekend_posting


def _off_dates(data, table: ibis.Table, column: str) -> tuple[list, int, int]:
    """The days off among the distinct dates of ``column``; the number of rows on days off, and of all rows.

    The calendar is applied to the distinct dates only (a few hundred), not to every record."""
    dated = table.filter(table[column].notnull())
    counts = data.execute(dated.group_by(column).aggregate(n=dated.count()))
    if counts.empty:
        return [], 0, 0
    mask = off_day(data, counts[column]).to_numpy()
    return sorted(counts.loc[mask, column]), int(counts.loc[mask, "n"].sum()), int(counts["n"].sum())


def _on_any(table: ibis.Table, days_by_column: dict) -> ibis.Value:
    """Rows whose date in any of the columns is one of that column's listed days."""
    condition = ibis.literal(False)
    for column, days in days_by_column.items():
        if days:
            condition = condition | table[column].isin(days)
    return condition


def _unusual(n_off: int, n_all: int, routine_share: float, routine_count: int) -> float:
    """How unusual a date on a day off is in this ledger: 0 when it is routine (at least ``routine_count``
    records and ``routine_share`` of them on days off: the company evidently works those days), else
    from 1 (never happens) down to 0.5 (just under the routine share)."""
    share = n_off / n_all if n_all else 0.0
    if n_off >= routine_count and share >= routine_share:
        return 0.0
    return 1 - 0.5 * min(1.0, share / routine_share) if routine_share > 0 else 1.0


def _off_day_records(data, table: ibis.Table, key: str, date_columns: tuple[str, str]):
    """Records with either date on a day off, with the customer's salesperson, and the table's row count.

    ``found`` is None when the table is empty or no record has either date on a day off."""
    first_days, _, _ = _off_dates(data, table, date_columns[0])
    second_days, _, _ = _off_dates(data, table, date_columns[1])
    n_all = int(data.execute(table.aggregate(n=table.count()))["n"].iloc[0] or 0)
    if not n_all or not (first_days or second_days):
        return None, n_all
    hits = table.filter(_on_any(table, {date_columns[0]: first_days, date_columns[1]: second_days}))
    if data.has("customers", ("assigned_salesperson_id",)):
        customers = data.table("customers").select("customer_id", "assigned_salesperson_id")
        hits = hits.left_join(customers, "customer_id").drop("customer_id_right")
    else:
        hits = hits.mutate(assigned_salesperson_id=ibis.null("string"))
    return data.execute(hits).sort_values(key, ignore_index=True), n_all


class WeekendPosting(Detector):
    """Invoices dated on the policy weekend or a policy holiday, where the company does not work those days.

    What it finds
    -------------
    Posted invoices whose ``invoice_date`` is not a working day under the policy (``weekend`` and
    ``holidays``, ``data.calendar.is_working_day``). Judged against the ledger: when at least
    ``routine_count`` invoices and ``routine_share`` of all invoices are dated on days off, the company
    evidently works those days and nothing is flagged; the more common such dates are, the lower the
    score. Traces that the invoice is not an ordinary sale add to the score: it names no order, or no
    shipment names it, where most invoices have one; its salesperson has several such invoices.

    Why it matters
    --------------
    Nobody should be billing while the office is closed. Invoices dated on a day off are made up after
    the fact (backdated to reach a target, a copy of another invoice, a sale to a made-up account) or
    were keyed outside normal control.

    Flagged
    -------
    Invoice INV-0002262 dated Friday 2025-02-14 (the policy weekend is Friday) for 271,326,000, with no
    order and no shipment, in a ledger where no other invoice is dated on a day off: flagged, money at
    risk 271,326,000.

    Not flagged
    -----------
    A company whose policy weekend is Saturday and Sunday but which invoices every Saturday (more than
    ``routine_share`` of its invoices on days off): nothing is flagged. A post-dated cheque that matures
    on a Friday (its due date is the drawer's choice, not a posting). Cancelled invoices.

    Evidence
    --------
    The invoice's date and why it is a day off, its amount, order and shipments, the share of the
    ledger's invoices dated on days off, the salesperson's other day-off invoices, the traces.
    """

    code = "STD-05"
    pattern = "weekend_posting"
    wording = weekend_posting.words
    entity_type = "invoice"
    family = "standard"
    requires = {
        "invoices": ("invoice_id", "invoice_no", "invoice_date", "customer_id", "salesperson_id"),
        "invoice_lines": ("invoice_id", "quantity", "unit_price"),
    }
    uses = {"invoices": ("status", "order_id", "created_by"), "invoice_lines": ("discount_pct",),
            "shipments": ("shipment_id", "invoice_id")}
    # The date alone is weak evidence of loss; corroborated cases also surface under their own pattern.
    rank_weight = 0.5

    def __init__(self, routine_share: float = 0.02, routine_count: int = 10, majority_share: float = 0.5):
        self.routine_share = routine_share
        self.routine_count = routine_count
        # A missing order or shipment is a trace only where at least this share of invoices have one.
        self.majority_share = majority_share

    def find(self, data) -> pd.DataFrame:
        invoices = invoice_totals(data, extra=("order_id", "created_by"))
        dates, n_off, n_all = _off_dates(data, invoices, "invoice_date")
        self.off_day_share_ = n_off / n_all if n_all else 0.0
        unusual = _unusual(n_off, n_all, self.routine_share, self.routine_count)
        if not dates or unusual == 0:
            return empty_findings()
        found = data.execute(invoices.filter(invoices.invoice_date.isin(dates)))
        found = found.sort_values("invoice_id", ignore_index=True)
        with_order = data.execute(invoices.aggregate(n=invoices.order_id.notnull().sum()))["n"].iloc[0]
        order_share = int(with_order or 0) / n_all
        shipped, ship_share = set(), 0.0
        if data.has("shipments", ("invoice_id",)):
            shipments = data.table("shipments").filter(lambda t: t.invoice_id.notnull())
            named = invoices.semi_join(shipments, invoices.invoice_id == shipments.invoice_id)
            ship_share = int(data.execute(named.aggregate(n=named.count()))["n"].iloc[0] or 0) / n_all
            mine = shipments.filter(among(shipments.invoice_id, list(found["invoice_id"])))
            shipped = set(data.execute(mine.select("invoice_id"))["invoice_id"])
        per_salesperson = found.groupby("salesperson_id")["invoice_id"].count()
        rows = []
        for invoice in found.itertuples(index=False):
            no_order = not isinstance(invoice.order_id, str) and (order_share or 0) >= self.majority_share
            not_shipped = invoice.invoice_id not in shipped and ship_share >= self.majority_share
            repeats = int(per_salesperson.get(invoice.salesperson_id, 1)) - 1
            traces = {"day_off": 0.5 * unusual, "no_order": 0.3 if no_order else 0.0,
                      "not_shipped": 0.3 if not_shipped else 0.0,
                      "salesperson_repeats": 0.2 if repeats else 0.0}
            rows.append({
                "entity_id": invoice.invoice_id, "salesperson_id": invoice.salesperson_id,
                "customer_id": invoice.customer_id, "period": month_of(invoice.invoice_date),
                "score": combine_traces(traces.values()), "risk_amount": invoice.amount,
                "facts": {"invoice_no": invoice.invoice_no, "off_day_records": n_off, "records": n_all,
                          "order_share": order_share, "ship_share": ship_share},
                "evidence": {"date": invoice.invoice_date, "weekday": pd.Timestamp(invoice.invoice_date).strftime("%A"),
                             "policy_weekend": list(data.policy.weekend),
                             "policy_holiday": pd.Timestamp(invoice.invoice_date).strftime("%a") not in data.policy.weekend,
                             "amount": invoice.amount, "order_id": invoice.order_id,
                             "created_by": invoice.created_by, "shipped": invoice.invoice_id in shipped,
                             "off_day_share": self.off_day_share_, "routine_share": self.routine_share,
                             "salesperson_other_off_day_invoices": repeats,
                             "traces": {k: round(v, 4) for k, v in traces.items()}},
                "related": related_ids(("invoice", [invoice.invoice_id]), ("customer", [invoice.customer_id]),
                                       ("salesperson", [invoice.salesperson_id]), ("order", [invoice.order_id])),
            })
        return pd.DataFrame(rows)


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
