"""weekend_posting: invoices, receipts and cheques dated on the policy weekend or a policy holiday."""

from __future__ import annotations

import pandas as pd

from analyses.standard.posted_totals import invoice_totals
from audit.common import combine_traces, month_of
from audit.detector import Detector, empty_findings, related_ids
from audit.membership import among
from detectors.standard.off_days import DEFAULTS, days_off, unusual_share
from detectors.wording import weekend_posting


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

    def __init__(self, routine_share: float = DEFAULTS.off_days.routine_pct / 100,
                 routine_count: int = DEFAULTS.off_days.routine_count, majority_share: float = 0.5):
        self.routine_share = routine_share
        self.routine_count = routine_count
        # A missing order or shipment is a trace only where at least this share of invoices have one.
        self.majority_share = majority_share

    @classmethod
    def params_from_policy(cls, policy):
        return {"routine_share": policy.off_days.routine_pct / 100, "routine_count": policy.off_days.routine_count}

    def find(self, data) -> pd.DataFrame:
        invoices = invoice_totals(data, extra=("order_id", "created_by"))
        # the invoices per date, and how many name an order, in one query (each sums every line again)
        counts = data.execute(invoices.group_by("invoice_date").aggregate(
            n=invoices.count(), with_order=invoices.order_id.notnull().sum()))
        with_order = int(counts["with_order"].sum())
        dates, n_off, n_all = days_off(data, counts[counts["invoice_date"].notna()].reset_index(drop=True),
                                       "invoice_date")
        self.off_day_share_ = n_off / n_all if n_all else 0.0
        unusual = unusual_share(n_off, n_all, self.routine_share, self.routine_count)
        if not dates or unusual == 0:
            return empty_findings()
        found = data.execute(invoices.filter(invoices.invoice_date.isin(dates)))
        found = found.sort_values("invoice_id", ignore_index=True)
        order_share = with_order / n_all
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
