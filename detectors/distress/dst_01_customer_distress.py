"""customer_distress: customers showing the signs that come before a failure, ranked by exposure at risk."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analyses.distress.history import (
    SIGN_SOURCES,
    DistressSettings,
    default_horizon_days,
    distress_history,
    stop_supply_days,
    unmeasurable_signs,
)
from analyses.distress.scoring import SIGNS, ScoreSettings, default_probability
from analyses.distress.signals import BOUNCED_STATUSES, SignalSettings, payment_status_known
from analyses.receivables.open_items import load_ledger, open_items
from audit.detector import Detector, empty_findings, related_ids
from audit.membership import isin
from detectors.wording import customer_distress


class CustomerDistress(Detector):
    """Customers showing the signs that come before a failure, scored month by month and ranked by exposure.

    What it finds
    -------------
    For every customer and month end of the data, a distress score (0-1) adding up, as log-odds points,
    the source's pre-failure signs as the ledger shows them by that day: payments later than the
    customer's own habit and days of sales outstanding beyond its terms; the open invoices migrating
    into the overdue buckets; invoices paid only in part; orders far above its usual months and brands it
    never bought (counted only while it pays late: a growing customer orders more too); payments moved
    to post-dated cheques dated beyond its terms; bounced, returned or replaced cheques; promises to pay
    that were broken; a change of owner or manager, the accountant resigning, the owner often absent and
    the other ``customer_events``; no goods taken for longer than usual while money is overdue (the
    source's "three months without shipments but an open balance"); exposure above the credit limit;
    and the financial statements (``audit.methods.financials.statement_distress``, with the interest and
    young-company flags). Every score uses only what was on record at that month end.

    Without receipts allocated to invoices the data does not say what was paid: the signs that rest on
    the open balance (overdue and aged invoices, days of sales outstanding, stopped shipments "while
    money is overdue", the credit limit, and the order signs that count only while the customer pays
    late) are not measured, nothing is called overdue, and the run says so (``note_``,
    ``unknown_traces_``; ``eligible_records_`` is 0 when no sign at all can be measured). Customers
    without payment terms get ``[collections] default_terms_days``.

    Findings: one per customer and distress episode (months at or above ``watch_level``, ended by
    ``recovery_months`` months in a row below it). The alert supersedes the early warning: the finding
    is the first month of the episode at ``alert_level``, or at ``watch_level`` when the episode never
    reached the alert, so the customer's exposure is counted once; the evidence keeps the first warning
    month and the alert month. ``report_levels`` adds ``high_level`` as a level above the alert, and
    "latest" reports an episode still open at the end of the data at its latest month (useful for a
    monthly run restricted with ``--period``). Each finding's period is the month whose end its score
    describes; the evidence holds every month's score. The finding's ``score`` is the calibrated probability
    of default within ``horizon_days`` (the policy's last collection step) and its risk the exposure, so it
    ranks by expected loss; the distress score is ``evidence["score"]``.

    Why it matters
    --------------
    A customer that fails takes its whole open balance and its pending post-dated cheques with it. The
    signs come months before (a default is preceded by later payments, bounced cheques and broken
    promises); seen early, supply can be stopped and collection started while there is still money.

    Flagged
    -------
    A shop that paid 5 days after its 30-day terms pays 48 days late from April, its cheques bounce twice,
    a promise to pay 40,000,000 by 2025-06-15 is broken, its accountant resigns and its open balance of
    380,000,000 exceeds the 250,000,000 credit limit: score 0.97 at the end of June, ranked by its
    380,000,000 exposure.

    Not flagged
    -----------
    A customer whose last yearly statement is weak (thin equity, interest above 5 % of sales) but who pays
    on time, keeps its terms and shows no event: without at least ``min_ledger_points`` from the ledger
    and the events, weak books are not a finding (the score stays in the history view). A growing customer whose orders double through the year while it keeps paying on time or early (the
    order signs count only while a customer pays late); a customer whose one cheque bounced and was
    replaced the next week (a replaced cheque counts half, one is not enough).

    Evidence
    --------
    ``traces``: each sign's points (log-odds) at that month; ``measurements`` behind them; the statement
    used (period end, failure probability, drivers, flags, Altman Z''); exposure (open balance, pending
    cheques, credit limit); ``history``: score and exposure of every month; the first watch and alert
    months; signs that could not be measured.
    """

    code = "DST-01"
    reads_analyses = ("RCV-00", "DST-H1")
    pattern = "customer_distress"
    wording = customer_distress.words
    entity_type = "customer"
    family = "distress"
    requires = {"customers": ("customer_id",)}
    uses = {
        "customers": ("assigned_salesperson_id", "credit_limit", "payment_terms_days", "established_date", "name"),
        "invoices": ("invoice_id", "invoice_date", "customer_id", "salesperson_id", "due_date", "status"),
        "invoice_lines": ("invoice_id", "product_id", "quantity", "unit_price", "discount_pct"),
        "receipts": ("receipt_id", "customer_id", "receipt_date", "posted_date", "method", "cheque_id"),
        "receipt_allocations": ("receipt_id", "invoice_id", "amount", "cash_discount_amount"),
        "credit_notes": ("credit_note_id", "credit_date", "customer_id", "amount", "invoice_id"),
        "cheques": ("cheque_id", "customer_id", "amount", "due_date", "received_date", "status", "status_date",
                    "replaces_cheque_id"),
        "customer_events": ("customer_id", "event_date", "event_type", "amount"),
        "shipments": ("customer_id", "ship_date"),
        "products": ("product_id", "brand"),
        "customer_financials": ("customer_id", "period_end", "total_assets", "equity", "ebit", "sales"),
    }

    def __init__(self, watch_level: float = 0.2, alert_level: float = 0.5, high_level: float = 0.9,
                 grace_days: int = 30, recent_days: int = 90, spike_days: int = 60, partial_days: int = 180,
                 memory_days: int = 365, migration_months: int = 3, base_log_odds: float = -4.0,
                 statement_weight: float = 1.5, statement_reference: float = 0.032, statement_credit: float = 0.3,
                 statement_lag_days: int = 0, max_history_in_words: int = 12,
                 report_levels: tuple[str, ...] = ("watch", "alert"), min_ledger_points: float = 1.0,
                 recovery_months: int = 3, horizon_days: int = 180):
        self.watch_level = watch_level
        self.alert_level = alert_level
        self.high_level = high_level
        self.grace_days = grace_days
        self.recent_days = recent_days
        self.spike_days = spike_days
        self.partial_days = partial_days
        self.memory_days = memory_days
        self.migration_months = migration_months
        self.base_log_odds = base_log_odds
        self.statement_weight = statement_weight
        self.statement_reference = statement_reference
        self.statement_credit = statement_credit
        self.statement_lag_days = statement_lag_days
        self.max_history_in_words = max_history_in_words
        # Which months become findings (any of "watch", "alert", "high", "latest"). The default gives the
        # early warning and the alert only: later months of the same customer repeat a warning already
        # given and, once the customer has failed, predict nothing; their scores stay in the evidence.
        self.report_levels = tuple(report_levels)
        # An episode ends after this many months in a row below the watch level; a customer that falls
        # back within it is still the same episode (one finding, its exposure counted once).
        self.recovery_months = recovery_months
        # The finding's score is the calibrated probability of default within this many days
        # (``analyses.distress.scoring.default_probability``), so priority = probability x exposure.
        self.horizon_days = horizon_days
        # Weak books alone are not a warning about a customer whose ledger is clean: a month becomes a
        # finding only when the ledger and the events give at least this many points (without a ledger,
        # e.g. statements only, the statements decide alone).
        self.min_ledger_points = min_ledger_points

    @classmethod
    def params_from_policy(cls, policy):
        # Overdue beyond the ladder's stop-supply step counts as aged; its last step is the horizon.
        return {"grace_days": stop_supply_days(policy), "horizon_days": default_horizon_days(policy)}

    def settings(self) -> DistressSettings:
        return DistressSettings(
            signals=SignalSettings(recent_days=self.recent_days, spike_days=self.spike_days,
                                   partial_days=self.partial_days, memory_days=self.memory_days,
                                   grace_days=self.grace_days, migration_months=self.migration_months),
            score=ScoreSettings(base_log_odds=self.base_log_odds, statement_weight=self.statement_weight,
                                statement_reference=self.statement_reference,
                                statement_credit=self.statement_credit,
                                statement_lag_days=self.statement_lag_days))

    def history(self, data) -> pd.DataFrame:
        """The monthly scores: the ``distress_history`` view when it was computed with these settings and
        a watch level no higher than ours, else computed here."""
        settings = self.settings()
        view = getattr(data, "views", {}).get("distress_history")
        if (isinstance(view, pd.DataFrame) and view.attrs.get("settings") == settings.key()
                and view.attrs.get("watch_level", np.inf) <= self.watch_level):
            return view
        return distress_history(data, settings)

    # ------------------------------------------------------------ findings
    def episodes(self, rows: pd.DataFrame) -> list[tuple[int, int, int, str]]:
        """(start, end, position, kind) of each distress episode of one customer's rows in month order.

        An episode runs from a month at or above the watch level to the last such month before
        ``recovery_months`` months in a row below it (or the end of the data). It gets one finding: the first
        month at the highest level of ``report_levels`` it reached ("watch", "alert", "high"; with "alert"
        but not "high", a month past the high level is the alert), so the alert supersedes the early warning
        and the customer's exposure is counted once. With "latest", an episode still open at the end of the
        data is reported at its latest month instead."""
        raw = rows["score"].to_numpy(dtype=float)
        scores = np.where(rows["eligible"].to_numpy(dtype=bool), raw, 0.0) if "eligible" in rows else raw
        # The episode is the score's own: a month too thin on ledger signs to be a finding (not eligible)
        # neither starts a finding nor ends the episode.
        above = np.flatnonzero(raw >= self.watch_level)
        if not len(above):
            return []
        spans, start = [], int(above[0])
        for previous, current in zip(above[:-1], above[1:], strict=True):
            if current - previous - 1 >= self.recovery_months:
                spans.append((start, int(previous)))
                start = int(current)
        spans.append((start, int(above[-1])))
        levels = [(kind, level) for kind, level in
                  (("watch", self.watch_level), ("alert", self.alert_level), ("high", self.high_level))
                  if kind in self.report_levels]
        if "alert" in self.report_levels and "high" not in self.report_levels:
            levels = [(kind, level) for kind, level in levels if kind != "high"]
        final = len(scores) - 1
        found = []
        for first, end in spans:
            warned = first + np.flatnonzero(scores[first:end + 1] >= self.watch_level)
            if not len(warned):
                continue
            start = int(warned[0])
            window = scores[start:end + 1]
            reached = [(kind, level) for kind, level in levels if (window >= level).any()]
            if "latest" in self.report_levels and end == final and scores[final] >= self.watch_level:
                found.append((start, end, final, "latest"))
            elif reached:
                kind, level = reached[-1]
                found.append((start, end, start + int(np.flatnonzero(window >= level)[0]), kind))
        return found

    def emitted_months(self, rows: pd.DataFrame) -> list[tuple[int, str]]:
        """(position, kind) of the months that get a finding: one per episode (:meth:`episodes`)."""
        return [(position, kind) for _, _, position, kind in self.episodes(rows)]

    def _eligible(self, data, history: pd.DataFrame) -> pd.Series:
        """Months that may become findings: enough points from the ledger and the events."""
        if not data.has("invoices", ("invoice_id", "customer_id")):
            return pd.Series(True, index=history.index)
        statement_only = ("points_statements", "points_young_company")
        ledger = [c for c in history.columns if c.startswith("points_") and c not in statement_only
                  and not c.startswith("points_flag_")]
        points = history[ledger].astype("float64").clip(lower=0.0).fillna(0.0).sum(axis=1)
        return points >= self.min_ledger_points

    def _coverage(self, data, history: pd.DataFrame) -> None:
        """What this run could judge: ``unknown_traces_``, ``eligible_records_`` (customers scored on at
        least one measurable sign) and a ``note_`` when the data records no payments."""
        unknown = []
        if not payment_status_known(data):
            unknown.append("payment status (no receipts allocated to invoices): nothing is known to be overdue")
        unknown += unmeasurable_signs(data)
        if not data.has("customer_financials", ("customer_id", "period_end")):
            unknown.append("financial statements")
        self.unknown_traces_ = unknown
        measurable = len(unmeasurable_signs(data)) < len(SIGN_SOURCES) or data.has(
            "customer_financials", ("customer_id", "period_end"))
        self.eligible_records_ = self.n_customers_scored_ if measurable else 0
        if not payment_status_known(data):
            self.note_ = ("The data records no payments (receipts allocated to invoices): overdue amounts, "
                          "days of sales outstanding, aging and stopped shipments were not checked"
                          + ("; no other sign of distress is recorded either." if not measurable else "."))

    def find(self, data) -> pd.DataFrame:
        history = self.history(data)
        self.n_customers_scored_ = int(history["customer_id"].nunique()) if len(history) else 0
        self._coverage(data, history)
        if history.empty:
            return empty_findings()
        history = history.assign(eligible=self._eligible(data, history))
        watched = history.loc[(history["score"] >= self.watch_level) & history["eligible"], "customer_id"].unique()
        self.n_watched_ = len(watched)
        if not len(watched):
            return empty_findings()
        names = {}
        if data.has("customers", ("customer_id", "name")):
            frame = data.frame_columns("customers", ["customer_id", "name"])  # not the whole table
            names = dict(zip(frame["customer_id"].astype("object"), frame["name"].astype("object"), strict=True))
        records = _Records(data, sorted(watched), self.memory_days)
        findings = []
        for customer_id, rows in history[isin(history["customer_id"], watched)].groupby("customer_id", sort=True):
            rows = rows.reset_index(drop=True)
            for start, end, position, kind in self.episodes(rows):
                findings.append(self._finding(rows, position, kind, names.get(customer_id), records, start, end))
        return pd.DataFrame(findings) if findings else empty_findings()

    def _finding(self, rows: pd.DataFrame, position: int, kind: str, name, records, start: int = 0,
                 end: int | None = None) -> dict:
        row = rows.iloc[position]
        customer_id = row["customer_id"]
        month_end = pd.Timestamp(row["month_end"])
        traces = {sign.name: float(row.get(f"points_{sign.name}", 0.0) or 0.0) for sign in SIGNS}
        for column in rows.columns:
            if column.startswith("points_") and column.removeprefix("points_") not in traces:
                value = row[column]
                traces[column.removeprefix("points_")] = 0.0 if pd.isna(value) else float(value)
        # the episode's and later months' periods and scores as column slices (not frames of every column)
        periods, scores = rows["period"], rows["score"]
        stop = len(rows) if end is None else end + 1
        episode_periods, episode_scores = periods.iloc[start:stop], scores.iloc[start:stop].to_numpy()
        above_watch = episode_periods[episode_scores >= self.watch_level]
        above_alert = episode_periods[episode_scores >= self.alert_level]
        history = [{"period": p, "score": round(float(s), 4), "exposure": round(float(e or 0.0), 2)}
                   for p, s, e in zip(rows["period"], rows["score"], rows.get("exposure", pd.Series(0.0, index=rows.index)),
                                      strict=True)]
        exposure = float(row.get("exposure") or 0.0) if pd.notna(row.get("exposure")) else 0.0
        balance = row.get("balance")
        pending = row.get("pending_cheques")
        limit = row.get("credit_limit")
        not_measured = row.get("not_measured") or ""
        later_periods, later_scores = periods.iloc[position + 1:], scores.iloc[position + 1:]
        facts = {"customer_name": name if isinstance(name, str) else None, "points": traces,
                 "event_dates": {event: records.last_event(customer_id, event, month_end)
                                 for event in (t.removeprefix("event_") for t, points in traces.items()
                                              if t.startswith("event_") and abs(points) >= 0.05)},
                 "grace_days": self.grace_days, "recent_days": self.recent_days, "spike_days": self.spike_days,
                 "max_history_in_words": self.max_history_in_words,
                 "latest": {"period": later_periods.iloc[-1], "score": float(later_scores.iloc[-1])}
                 if len(later_periods) else None}
        probability = float(default_probability(float(row["log_odds"]), self.horizon_days))
        statement = {}
        if pd.notna(row.get("statement_period_end", np.nan)):
            statement = {"period_end": row["statement_period_end"],
                         "failure_probability": row.get("statement_probability"),
                         "log_odds": row.get("statement_log_odds"), "drivers": row.get("statement_drivers"),
                         "flags": row.get("statement_flags"), "altman_z2": row.get("statement_altman_z2"),
                         "missing_ratios": row.get("statement_missing_ratios")}
        measurements = {column: row.get(column) for column in (
            "lateness_recent_days", "lateness_baseline_days", "dso_days", "terms_days", "aged_share",
            "overdue", "overdue_over_grace", "partial_invoices", "order_spike_ratio", "invoiced_recent",
            "invoiced_baseline", "new_brand_share", "cheque_share_recent", "cheque_share_baseline",
            "maturity_recent_days", "maturity_baseline_days", "bounced_cheques", "replaced_cheques",
            "bounced_amount", "promises", "promises_broken", "days_without_shipment", "usual_gap_days",
            "age_years") if column in row.index}
        evidence = {
            "kind": kind, "month_end": month_end, "score": float(row["score"]), "log_odds": float(row["log_odds"]),
            "base_log_odds": self.base_log_odds, "traces": {k: round(v, 4) for k, v in traces.items()},
            "measurements": measurements, "statement": statement,
            "exposure": {"open_balance": balance, "pending_cheques": pending, "exposure": exposure,
                         "credit_limit": limit},
            "first_watch_period": above_watch.iloc[0] if len(above_watch) else None,
            "first_alert_period": above_alert.iloc[0] if len(above_alert) else None,
            "episode": {"first_period": episode_periods.iloc[0], "last_period": episode_periods.iloc[-1]},
            "history": history, "not_measured": [w for w in not_measured.split(", ") if w],
            "levels": {"watch": self.watch_level, "alert": self.alert_level},
            "default_probability": probability, "horizon_days": self.horizon_days,
        }
        cheques, invoices = records.for_customer(customer_id, month_end)
        salesperson = row.get("salesperson_id")
        return {
            "entity_id": customer_id, "salesperson_id": salesperson if isinstance(salesperson, str) else None,
            "customer_id": customer_id, "period": row["period"], "score": probability,
            "risk_amount": exposure, "evidence": evidence, "facts": facts,
            "related": related_ids(("customer", [customer_id]), ("salesperson", [salesperson]),
                                   ("cheque", cheques), ("invoice", invoices)),
        }


class _Records:
    """The records behind the findings of the watched customers: bounced cheques, overdue invoices, events."""

    def __init__(self, data, customers: list[str], memory_days: int):
        self.memory = pd.Timedelta(days=memory_days)
        self.ledger = load_ledger(data)
        self.customers = set(customers)
        self.cheques = pd.DataFrame(columns=["cheque_id", "customer_id", "when"])
        if data.has("cheques", ("cheque_id", "customer_id", "status")):
            # the columns read, not the whole table (banks, drawers, collectors: a gigabyte at 10M lines)
            frame = data.frame_columns("cheques", ["cheque_id", "customer_id", "status", "status_date", "due_date"])
            bad = frame[frame["status"].isin(BOUNCED_STATUSES) & frame["customer_id"].isin(self.customers)]
            when = bad["status_date"] if data.has("cheques", ("status_date",)) else bad["due_date"]
            self.cheques = pd.DataFrame({"cheque_id": bad["cheque_id"].astype("object"),
                                         "customer_id": bad["customer_id"].astype("object"),
                                         "when": pd.to_datetime(when).fillna(pd.to_datetime(bad["due_date"]))})
        self.events = pd.DataFrame(columns=["customer_id", "event_type", "event_date"])
        if data.has("customer_events", ("customer_id", "event_date", "event_type")):
            frame = data.frame_columns("customer_events", ["customer_id", "event_type", "event_date"])
            frame = frame[frame["customer_id"].isin(self.customers)]
            self.events = pd.DataFrame({"customer_id": frame["customer_id"].astype("object"),
                                        "event_type": frame["event_type"].astype("object").str.strip().str.lower(),
                                        "event_date": pd.to_datetime(frame["event_date"])})
        # Per customer, plain lists: pandas' fixed cost per operation on tiny frames came to 10 ms a finding.
        self._overdue: dict[pd.Timestamp, dict] = {}  # month end -> customer -> overdue invoice ids
        self._cheques_of: dict = {}
        for cheque_id, customer_id, when in zip(self.cheques["cheque_id"], self.cheques["customer_id"],
                                                self.cheques["when"], strict=True):
            self._cheques_of.setdefault(customer_id, []).append((when, cheque_id))
        self._events_of: dict = {}
        for customer_id, kind, when in zip(self.events["customer_id"], self.events["event_type"],
                                           self.events["event_date"], strict=True):
            self._events_of.setdefault((customer_id, kind), []).append(when)

    def for_customer(self, customer_id, month_end) -> tuple[list[str], list[str]]:
        since = month_end - self.memory
        cheques = sorted(cheque_id for when, cheque_id in self._cheques_of.get(customer_id, ())
                         if since < when <= month_end)  # NaT compares false: an undated cheque is left out
        if month_end not in self._overdue:
            # Split once per month end: filtering all open items again for each finding costs seconds.
            items = open_items(self.ledger, month_end)
            items = items[(items["kind"] == "invoice") & (items["days_past_due"] > 0)
                          & isin(items["customer_id"], self.customers)]
            items = items.sort_values(["customer_id", "invoice_date", "item_id"])
            self._overdue[month_end] = items.groupby("customer_id", sort=False)["item_id"].agg(list).to_dict()
        return cheques, list(self._overdue[month_end].get(customer_id, []))

    def last_event(self, customer_id, kind, month_end):
        dates = [when for when in self._events_of.get((customer_id, kind), ()) if when <= month_end]
        return max(dates) if dates else None
