"""Each customer's distress score month by month (view ``distress_history``), shared by DST-01 and DST-02.

:func:`distress_history` runs the signals (:mod:`.signals`), the points (:mod:`.scoring`) and the
statement model for every customer and month end of the data. With no ledger at all (statements only,
e.g. the Polish benchmark file) it scores each customer's latest statement at the data's end date.
"""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd

from analyses.distress.scoring import (
    EVENT_WEIGHTS,
    ScoreSettings,
    combine,
    engineered_values,
    latest_statements,
    sign_points,
    statement_points,
    young_points,
)
from analyses.distress.signals import (
    SIGNAL_COLUMNS,
    SignalSettings,
    load_inputs,
    month_signals,
    prepare_signals,
    signal_rows,
)
from audit.analysis import Analysis
from audit.membership import among, isin
from audit.memory import release_unused
from audit.methods.financials import altman_z2
from audit.policy import CollectionsPolicy
from audit.stage import stage_parent


@dataclass(frozen=True)
class DistressSettings:
    """Every parameter of the distress score (the detector's ``__init__`` parameters)."""

    signals: SignalSettings = SignalSettings()
    score: ScoreSettings = ScoreSettings()

    def key(self) -> str:
        return repr(sorted({**asdict(self.signals), **asdict(self.score)}.items()))


def stop_supply_days(policy) -> int:
    """The collections ladder's stop-supply step (days overdue), the grace period of the distress signs;
    when the policy's ladder names no stop-supply step, the contract's default ladder's."""
    for ladder in (dict(policy.collections.ladder_days), dict(CollectionsPolicy().ladder_days)):
        stops = [days for name, days in ladder.items() if "stop" in name]
        if stops:
            return int(min(stops))
    return 0


def default_horizon_days(policy) -> int:
    """The horizon of "about to default": the collections ladder's last step (the contract's "legal",
    180 days overdue), by which an unpaid customer has defaulted; the contract's default ladder's when the
    policy's ladder is empty."""
    for ladder in (dict(policy.collections.ladder_days), dict(CollectionsPolicy().ladder_days)):
        if ladder:
            return int(max(ladder.values()))
    return 180


# The fetched inputs only the month ends read (distress_history lets them go once coded).
RELEASED_INPUTS = ("payments", "cheques", "events", "shipments", "brands")

# Columns of the view beside the points (the measurements the explanations quote).
HISTORY_MEASUREMENTS = (
    "balance", "pending_cheques", "exposure", "credit_limit", "overdue", "overdue_over_grace",
    "lateness_recent_days", "lateness_baseline_days", "dso_days", "terms_days", "aged_share", "partial_invoices",
    "order_spike_ratio", "invoiced_recent", "invoiced_baseline", "new_brand_share", "cheque_share_recent",
    "cheque_share_baseline", "maturity_recent_days", "maturity_baseline_days", "bounced_cheques",
    "replaced_cheques", "bounced_amount", "promises", "promises_broken", "days_without_shipment", "usual_gap_days",
    "age_years", "paying_late",
)


def _salespeople(data, customers: pd.Series) -> pd.Series:
    """The customer's assigned salesperson, else the one who invoiced it most."""
    assigned = pd.Series(dtype="object")
    if data.has("customers", ("customer_id", "assigned_salesperson_id")):
        frame = data.frame_columns("customers", ["customer_id", "assigned_salesperson_id"])
        assigned = pd.Series(frame["assigned_salesperson_id"].astype("object").to_numpy(),
                             index=frame["customer_id"].astype("object").to_numpy())
        assigned = assigned[~assigned.index.duplicated()]
    result = customers.map(assigned)
    if result.isna().any() and data.has("invoices", ("customer_id", "salesperson_id")):
        # invoices per customer and salesperson counted by the engine, for the customers without one assigned
        table = data.table("invoices")
        missing = sorted(set(customers[result.isna()].dropna()))
        table = table.filter(among(table.customer_id, missing) & table.salesperson_id.notnull())
        counts = data.execute(table.group_by(["customer_id", "salesperson_id"]).aggregate(count=table.count()))
        counts = counts.astype({"customer_id": "object", "salesperson_id": "object"}).sort_values(
            ["customer_id", "count", "salesperson_id"], ascending=[True, False, True], kind="mergesort")
        main = counts.drop_duplicates("customer_id").set_index("customer_id")["salesperson_id"]
        result = result.where(result.notna(), customers.map(main))  # fillna would downcast the object dtype
    return result.astype("object").where(result.notna(), None)


def _statement_rows(inputs, end) -> pd.DataFrame:
    """Statements-only data: one row per customer with a statement, at the data's end."""
    financials = inputs.financials
    frame = pd.DataFrame({"customer_id": sorted(set(financials["customer_id"].dropna().astype("object")))})
    frame["month_end"] = pd.Period(end, "M").end_time.normalize() if end is not None else pd.NaT
    for column in SIGNAL_COLUMNS:
        frame[column] = np.nan
    if len(inputs.customers) and "established_date" in inputs.customers:
        founded = pd.to_datetime(frame["customer_id"].map(
            inputs.customers.set_index("customer_id")["established_date"]))
        frame["age_years"] = ((frame["month_end"] - founded).dt.days / 365.25).where(founded <= frame["month_end"])
    return frame


# Customer months scored at a time (a slice of whole customers; each row's score is its own).
SCORING_CHUNK_ROWS = 50_000
# From this many customer months (about 70 MB of measurements) they are written to a temporary folder.
SPILL_CUSTOMER_MONTHS = 200_000


def _scored_statements(financials: pd.DataFrame, inputs, settings: DistressSettings) -> pd.DataFrame | None:
    """Every financial statement's points in the score (None without statements)."""
    if not len(financials):
        return None
    founded = None
    if len(inputs.customers) and "established_date" in inputs.customers:
        founded = financials["customer_id"].astype("object").map(
            inputs.customers.set_index("customer_id")["established_date"])
    scored = statement_points(financials, settings.score, established_date=founded, as_of=financials["period_end"])
    scored["statement_altman_z2"] = altman_z2(financials)
    return scored


def _scored(signals: pd.DataFrame, financials: pd.DataFrame, settings: DistressSettings,
            statements: pd.DataFrame | None):
    """The measurements, points and score of each row of ``signals`` (customer months), and the statement
    each month reads (None without statements). Row by row: a slice of months scores as it does among all."""
    values = engineered_values(signals, grace_days=float(settings.signals.grace_days))
    points = sign_points(values, EVENT_WEIGHTS)
    points["points_young_company"] = young_points(values["age_years"], settings.score)
    history_statements = None
    if statements is not None:
        latest = latest_statements(financials, statements,
                                   signals[["customer_id", "month_end"]], settings.score.statement_lag_days)
        for column in latest.columns:
            if column.startswith("points_"):
                points[column] = latest[column].astype("float64")
        history_statements = latest[[c for c in latest.columns if not c.startswith("points_")]]
    return values, points, combine(points, settings.score.base_log_odds), history_statements


def _history_rows(signals: pd.DataFrame, financials: pd.DataFrame, settings: DistressSettings,
                  statements: pd.DataFrame | None, watch_level: float | None) -> pd.DataFrame:
    """The view's rows of ``signals`` (whole customers' months): score, log-odds, points, measurements and
    statement; with ``watch_level``, only the customers whose score reaches it in some month."""
    values, points, combined, history_statements = _scored(signals, financials, settings, statements)
    if watch_level is not None:
        watched = signals.loc[combined["score"].to_numpy() >= watch_level, "customer_id"].unique()
        kept = isin(signals["customer_id"], watched).to_numpy()
        if not kept.all():
            # each row is scored on its own: the watched customers' rows of the slice are what they score alone
            signals, values, points, combined = signals[kept], values[kept], points[kept], combined[kept]
            history_statements = history_statements[kept] if history_statements is not None else None
    frame = pd.concat([signals[["customer_id", "month_end"]], combined, points], axis=1)
    for column in HISTORY_MEASUREMENTS:
        frame[column] = values[column] if column in values else np.nan
    if history_statements is not None and len(history_statements.columns):
        frame = pd.concat([frame, history_statements.set_index(frame.index)], axis=1)
    return frame


def distress_history(data, settings: DistressSettings = DistressSettings(),
                     watch_level: float | None = None, slice_rows: int | None = None,
                     spill_rows: int | None = None) -> pd.DataFrame:
    """One row per customer and month end: score, log-odds, every sign's points, the statement used,
    the measurements, exposure and what could not be measured. Sorted by customer and month. With
    ``watch_level``, only the customers whose score reaches it in some month (all their months).

    Customers are scored a slice at a time (whole customers, about ``slice_rows`` customer months each,
    default :data:`SCORING_CHUNK_ROWS`): every month's measurements and points of every customer at once
    took gigabytes at ten million lines, and only the watched customers' rows are kept. With at least
    ``spill_rows`` customer months (default :data:`SPILL_CUSTOMER_MONTHS`) the months' measurements wait in
    a temporary folder (removed on return) while the months are measured, not in memory."""
    with contextlib.ExitStack() as files:  # the temporary folder, when one is made, goes on return
        return _distress_history(data, settings, watch_level, slice_rows, spill_rows, files)


def _distress_history(data, settings: DistressSettings, watch_level: float | None, slice_rows: int | None,
                      spill_rows: int | None, files: contextlib.ExitStack) -> pd.DataFrame:
    inputs = load_inputs(data)
    prepared = prepare_signals(inputs)
    # the month ends read the coded copies: the fetched frames go now, not after every month is measured
    inputs = replace(inputs, **{name: getattr(inputs, name).iloc[:0] for name in RELEASED_INPUTS})
    release_unused()
    months = None
    if prepared is not None:
        spill = len(prepared.customers) * len(prepared.ends) >= (
            SPILL_CUSTOMER_MONTHS if spill_rows is None else spill_rows)
        spill_to = files.enter_context(tempfile.TemporaryDirectory(prefix="sales-audit-distress-", dir=stage_parent())) if spill else None
        months = month_signals(prepared, settings.signals, spill_to=spill_to)
    del prepared
    financials = inputs.financials.reset_index(drop=True)
    if months is None:
        if len(inputs.financials) and inputs.end is not None:
            signals = _statement_rows(inputs, inputs.end)
        else:
            signals = pd.DataFrame()
        if signals.empty:
            return pd.DataFrame(columns=["customer_id", "salesperson_id", "month_end", "period", "score",
                                         "log_odds"])
    statements = _scored_statements(financials, inputs, settings)
    if months is None:
        frame = _history_rows(signals.reset_index(drop=True), financials, settings, statements, watch_level)
        del signals
    else:
        # Slices of whole customers (codes in the customers' sorted order): the view's rows come out sorted.
        n_customers = len(months.customers)
        step = max(1, (slice_rows or SCORING_CHUNK_ROWS) // max(1, len(months.frames)))
        pieces = [_history_rows(signal_rows(months, first, min(first + step, n_customers)), financials, settings,
                                statements, watch_level) for first in range(0, n_customers, step)]
        del months
        frame = pd.concat(pieces, ignore_index=True) if len(pieces) > 1 else pieces[0].reset_index(drop=True)
        del pieces
    frame["not_measured"] = _not_measured(data, frame)
    frame["salesperson_id"] = _salespeople(data, frame["customer_id"])
    frame["period"] = pd.to_datetime(frame["month_end"]).dt.strftime("%Y-%m")
    first = ["customer_id", "salesperson_id", "month_end", "period", "score", "log_odds"]
    frame = frame[first + [c for c in frame.columns if c not in first]]
    frame.attrs["settings"] = settings.key()
    return frame.sort_values(["customer_id", "month_end"], kind="mergesort", ignore_index=True)


# Which tables (and columns) each sign reads; a sign whose source is absent cannot be measured at all.
# Signs that rest on the open balance (what is paid, what is overdue) need the receipts allocated to invoices.
_PAID = (("receipts", ("receipt_id", "customer_id", "posted_date")),
         ("receipt_allocations", ("receipt_id", "invoice_id", "amount")))
SIGN_SOURCES: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "payments_later": (("receipts", ("posted_date",)), ("receipt_allocations", ("invoice_id",))),
    "partial_payments": (("receipts", ("posted_date",)), ("receipt_allocations", ("invoice_id",))),
    "cheque_switch": (("receipts", ("posted_date",)), ("receipt_allocations", ("invoice_id",))),
    "longer_maturities": (("receipts", ("cheque_id",)), ("cheques", ("due_date", "received_date"))),
    "dso": (("invoices", ("invoice_date",)), *_PAID),
    "aging_migration": (("invoices", ("invoice_date",)), *_PAID),
    # orders and new brands count only while the customer pays late
    "order_spike": (("invoices", ("invoice_date",)), *_PAID),
    "new_brands": (("products", ("brand",)), *_PAID),
    "bounced_cheques": (("cheques", ("status",)),),
    "broken_promises": (("customer_events", ("event_type",)),),
    "repeated_promises": (("customer_events", ("event_type",)),),
    "shipments_stopped": (("invoices", ("invoice_date",)), *_PAID),
    "credit_limit_breach": (("customers", ("credit_limit",)), *_PAID),
    "events": (("customer_events", ("event_type",)),),
    "young_company": (("customers", ("established_date",)),),
}


def unmeasurable_signs(data) -> list[str]:
    """Signs whose source table or column is absent from the data (plain words)."""
    return [name.replace("_", " ") for name, sources in SIGN_SOURCES.items()
            if not all(data.has(table, columns) for table, columns in sources)]


def _not_measured(data, frame: pd.DataFrame) -> list[str]:
    """Per row: the signs the data cannot show, plus the statements when the customer has none."""
    absent = unmeasurable_signs(data)
    has_statement = frame["statement_period_end"].notna() if "statement_period_end" in frame else pd.Series(
        False, index=frame.index)
    return [", ".join(absent + ([] if known else ["financial statements"])) for known in has_statement]


class DistressHistory(Analysis):
    """Each customer's distress score and its signs month by month (view ``distress_history``).

    One row per customer and month end of the data: ``score`` (0-1), ``log_odds``, every sign's points
    (``points_*``, log-odds), the measurements behind them, the financial statement used (its period end,
    the statement model's probability, drivers, flags and Altman Z''), exposure (open balance + pending
    cheques) against the credit limit, and ``not_measured`` (signs the data could not show). Only
    customers whose score reaches ``watch_level`` in some month are kept, with all their months, so the
    trend before the warning is visible. The parameters are those of DST-01 (customer_distress).
    """

    code = "DST-H1"
    outputs = ("distress_history",)
    reads_analyses = ("RCV-00",)
    title = "Customer distress history"
    requires = {"customers": ("customer_id",)}

    def __init__(self, grace_days: int = 30, watch_level: float = 0.2):
        self.grace_days = grace_days
        self.watch_level = watch_level

    @classmethod
    def params_from_policy(cls, policy):
        return {"grace_days": stop_supply_days(policy)}

    def compute(self, data) -> dict[str, pd.DataFrame]:
        settings = DistressSettings(signals=SignalSettings(grace_days=self.grace_days))
        history = distress_history(data, settings, watch_level=self.watch_level)
        history.attrs["watch_level"] = self.watch_level
        return {"distress_history": history}

