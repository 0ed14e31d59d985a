"""Records dated on a day off (the policy weekend or a holiday): what STD-05, STD-09 and STD-10 share.

Whether a date on a day off is unusual is judged against the ledger itself: a company whose records
routinely carry such dates works those days (``[off_days]`` in the policy says how many is routine).
"""

from __future__ import annotations

from abc import abstractmethod

import ibis
import pandas as pd

from audit.common import combine_traces, month_of
from audit.detector import Detector, empty_findings, related_ids
from audit.policy import DEFAULTS
from detectors.standard.support import off_day


def off_dates(data, table: ibis.Table, column: str) -> tuple[list, int, int]:
    """The days off among the distinct dates of ``column``; the number of rows on days off, and of all rows.

    The calendar is applied to the distinct dates only (a few hundred), not to every record."""
    dated = table.filter(table[column].notnull())
    return days_off(data, data.execute(dated.group_by(column).aggregate(n=dated.count())), column)


def days_off(data, counts: pd.DataFrame, column: str) -> tuple[list, int, int]:
    """:func:`off_dates` from ``counts``: one row per distinct non-missing date of ``column``, its rows in ``n``
    (for a caller that counts more per date in the same query)."""
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


def unusual_share(n_off: int, n_all: int, routine_share: float, routine_count: int) -> float:
    """How unusual a date on a day off is in this ledger: 0 when it is routine (at least ``routine_count``
    records and ``routine_share`` of them on days off: the company evidently works those days), else
    from 1 (never happens) down to 0.5 (just under the routine share)."""
    share = n_off / n_all if n_all else 0.0
    if n_off >= routine_count and share >= routine_share:
        return 0.0
    return 1 - 0.5 * min(1.0, share / routine_share) if routine_share > 0 else 1.0


def off_day_records(data, table: ibis.Table, key: str, date_columns: tuple[str, str]):
    """Records with either date on a day off, with the customer's salesperson, and the table's row count.

    ``found`` is None when the table is empty or no record has either date on a day off."""
    first_days, _, _ = off_dates(data, table, date_columns[0])
    second_days, _, _ = off_dates(data, table, date_columns[1])
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


class OffDayMoney(Detector):
    """Base of the detectors of money handled on a day off (receipts, cheques): one finding per record
    whose booking date or customer-side date falls on a day off, where that is not routine.

    A subclass names its table's key, its two dates (``booked``: the company's side, which weighs more and
    dates the finding; ``given``: the customer's side), the traces' names and weights, and writes the
    evidence particular to its records (:meth:`record_evidence`)."""

    key: str
    booked: tuple[str, str, float]  # (date column, trace name, weight)
    given: tuple[str, str, float]

    def __init__(self, routine_share: float = DEFAULTS.off_days.routine_pct / 100,
                 routine_count: int = DEFAULTS.off_days.routine_count):
        self.routine_share = routine_share
        self.routine_count = routine_count

    @classmethod
    def params_from_policy(cls, policy):
        return {"routine_share": policy.off_days.routine_pct / 100, "routine_count": policy.off_days.routine_count}

    @abstractmethod
    def records(self, data) -> ibis.Table:
        """The records to judge."""

    def record_facts(self, record) -> dict:
        return {}

    @abstractmethod
    def record_evidence(self, record, booked_off: bool, given_off: bool) -> dict:
        """The evidence particular to this kind of record, before what all share."""

    def find(self, data) -> pd.DataFrame:
        booked, given = self.booked[0], self.given[0]
        found, n_all = off_day_records(data, self.records(data), self.key, (given, booked))
        if found is None:
            self.off_day_share_ = 0.0
            return empty_findings()
        self.off_day_share_ = len(found) / n_all
        unusual = unusual_share(len(found), n_all, self.routine_share, self.routine_count)
        if found.empty or unusual == 0:
            return empty_findings()
        booked_off = off_day(data, found[booked]).to_numpy()
        given_off = off_day(data, found[given]).to_numpy()
        rows = []
        for k, record in enumerate(found.itertuples(index=False)):
            collector = record.collected_by if isinstance(record.collected_by, str) else None
            salesperson = collector or record.assigned_salesperson_id
            traces = {self.booked[1]: self.booked[2] * unusual if booked_off[k] else 0.0,
                      self.given[1]: self.given[2] * unusual if given_off[k] else 0.0}
            entity_id = getattr(record, self.key)
            rows.append({
                "entity_id": entity_id, "salesperson_id": salesperson, "customer_id": record.customer_id,
                "period": month_of(getattr(record, booked) if booked_off[k] else getattr(record, given)),
                "score": combine_traces(traces.values()), "risk_amount": record.amount,
                "facts": {**self.record_facts(record), "off_day_records": len(found), "records": n_all},
                "evidence": {**self.record_evidence(record, bool(booked_off[k]), bool(given_off[k])),
                             "collected_by": collector, "policy_weekend": list(data.policy.weekend),
                             "off_day_share": self.off_day_share_, "routine_share": self.routine_share,
                             "traces": {name: round(v, 4) for name, v in traces.items()}},
                "related": related_ids((self.entity_type, [entity_id]), ("customer", [record.customer_id]),
                                       ("salesperson", [salesperson])),
            })
        return pd.DataFrame(rows)
