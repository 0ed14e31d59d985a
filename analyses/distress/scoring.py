"""The customer distress score: each pre-failure sign as log-odds points, summed, and read as a probability.

``log-odds = base + Σ contributions``, ``score = 1 / (1 + e^-log-odds)``. Every ledger sign is a raw
measurement of :mod:`.signals` turned into points by a ramp: 0 up to ``start``, rising linearly to the
sign's full ``weight`` at ``full`` and staying there (:class:`Sign`, :data:`SIGNS`). Events of
``customer_events`` add their kind's weight (:data:`EVENT_WEIGHTS`), fading linearly over the memory
window. The financial statements add the fitted statement model of :mod:`audit.methods.financials`
(``statement_distress``) relative to a typical company (:func:`statement_points`), plus the two signs
the source names that the statement model cannot weigh (interest above 5 % of sales, a company younger
than two years).

A sign that cannot be measured (its table is absent, the customer has no history for it) adds nothing,
so the score only rises with evidence; what could not be measured is listed beside the score. With
statements alone (no ledger at all), the score is a monotone function of the statement model's log-odds,
so it ranks companies exactly as ``statement_distress`` does (see ``benchmarks/distress_polish.py``).

The weights are set by hand from the source's list and from what the signs mean in days and amounts;
they were checked (not fitted) on simulated seeds 1-3, see ``docs/distress.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit.contract import EVENT_TYPES
from audit.methods.financials import FLAG_THRESHOLDS, statement_distress


@dataclass(frozen=True)
class Sign:
    """One ledger sign: which measurement, its ramp (``start`` → ``full``) and its full weight (log-odds)."""

    name: str
    column: str
    start: float
    full: float
    weight: float
    label: str
    unit: str = ""
    gate: str | None = None   # a [0, 1] column the points are multiplied by (the look-alike rule)

    def points(self, values: pd.Series, gate: pd.Series | None = None) -> pd.Series:
        ramp = _clip_unit((values.astype("float64").to_numpy() - self.start) / (self.full - self.start))
        if gate is not None:
            ramp = ramp * _blank_zero(_clip_unit(gate.astype("float64").to_numpy()))
        return pd.Series(_blank_zero(ramp * self.weight), index=values.index, name=values.name)


def _clip_unit(values: np.ndarray) -> np.ndarray:
    """``values`` clipped to [0, 1], blanks kept: what ``Series.clip(0.0, 1.0)`` gives, on arrays (the
    Series' clip cost most of the points' time)."""
    blank = np.isnan(values)
    return np.where(blank | (values <= 1.0), np.where(blank | (values >= 0.0), values, 0.0), 1.0)


def _blank_zero(values: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(values), 0.0, values)


# The ledger signs (values come from ``engineered_values``). Ramps are in the measurement's own unit.
SIGNS: tuple[Sign, ...] = (
    Sign("payments_later", "lateness_rise_days", 15.0, 60.0, 1.5,
         "payments later than the customer's own habit", "days"),
    Sign("dso", "dso_excess_days", 30.0, 150.0, 0.5, "days of sales outstanding beyond the terms", "days"),
    Sign("aging_migration", "aged_share", 0.1, 0.6, 1.5,
         "share of the open invoices overdue beyond the grace period", "share"),
    Sign("partial_payments", "partial_invoices", 0.0, 3.0, 1.0, "invoices paid only in part and still open",
         "invoices"),
    # Orders rising is what a growing customer does too: these count only as far as it pays late now.
    Sign("order_spike", "order_spike_ratio", 1.5, 4.0, 0.5, "orders far above the customer's usual months",
         "times usual", gate="paying_late"),
    Sign("new_brands", "new_brand_share_in_spike", 0.2, 0.6, 0.5,
         "a spike of brands the customer never bought before", "share", gate="paying_late"),
    # More cheques is a shift only when they are dated beyond the terms (cash to long post-dated cheques).
    Sign("cheque_switch", "cheque_share_rise", 0.3, 0.8, 0.7, "payments moved to post-dated cheques", "share",
         gate="cheques_beyond_terms"),
    Sign("longer_maturities", "maturity_rise_days", 10.0, 45.0, 1.0,
         "cheques dated further ahead than before and than the terms", "days"),
    Sign("bounced_cheques", "bounced_weighted", 0.0, 2.0, 1.5,
         "bounced or returned cheques (a replaced one counts half)", "cheques"),
    Sign("broken_promises", "promises_broken", 0.0, 1.0, 1.5, "promises to pay that were broken", "promises"),
    Sign("repeated_promises", "promises", 1.0, 3.0, 0.4, "repeated promises to pay", "promises"),
    Sign("shipments_stopped", "silence_beyond_usual_days", 0.0, 60.0, 1.5,
         "no goods taken for longer than usual while money is overdue", "days"),
    Sign("credit_limit_breach", "credit_over_share", 0.0, 0.5, 1.5, "exposure above the credit limit",
         "share over"),
)

# Points (log-odds at the day of the event, fading to 0 over the memory window) per event kind. Events
# that mark the failure itself weigh most; those frequent in healthy trading (a complaint, a bank
# change, a new manager) little. A kind not listed adds nothing (the vocabulary is extendable).
EVENT_WEIGHTS: dict[str, float] = {
    "bankruptcy_filing": 5.0, "legal_action": 3.0, "accountant_resigned": 1.5, "ownership_change": 1.2,
    "owner_often_absent": 1.2, "payment_method_change": 0.8, "management_change": 0.6,
    "competitor_brands_increase": 0.4, "address_change": 0.3, "bank_change": 0.2, "complaint": 0.0,
    "promise_to_pay": 0.0, "promise_broken": 0.0,  # promises are weighed by the promise signs above
}
EVENT_LABELS: dict[str, str] = {kind: kind.replace("_", " ") for kind in EVENT_TYPES}

STATEMENT_FLAG_WEIGHTS: dict[str, float] = {
    # the source: interest (and discount) costs above 5 % of sales; not weighable on the fitting file
    "flag_interest_over_5pct_sales": 1.0,
}
YOUNG_COMPANY_WEIGHT = 0.8   # the source: a company younger than two years (from established_date)


@dataclass(frozen=True)
class ScoreSettings:
    """The combination's constants (documented parameters of the detector)."""

    base_log_odds: float = -4.0          # a customer showing nothing: about 1.8 %
    statement_weight: float = 1.5        # multiplies the statement model's log-odds above the reference
    statement_reference: float = 0.032   # failure probability of a typical company (median of the fit file)
    statement_credit: float = 0.3        # share of the below-reference log-odds credited to sound books
    statement_lag_days: int = 0          # a statement counts from this many days after its period end
    young_company_years: float = FLAG_THRESHOLDS["young_company_years"]


def engineered_values(signals: pd.DataFrame, spike_start: float | None = None,
                      grace_days: float = 30.0) -> pd.DataFrame:
    """The measurements the signs read, derived from :func:`.signals.monthly_signals` columns."""
    out = signals.copy(deep=False)  # the new columns only: copy-on-write keeps ``signals`` unchanged
    spike_start = spike_start if spike_start is not None else next(s.start for s in SIGNS if s.name == "order_spike")
    out["new_brand_share_in_spike"] = signals["new_brand_share"].where(signals["order_spike_ratio"] >= spike_start,
                                                                       0.0)
    out["paying_late"] = (signals["lateness_recent_days"] / grace_days).clip(0.0, 1.0).fillna(0.0)
    reference = pd.concat([signals["maturity_baseline_days"], signals["terms_days"]], axis=1).max(axis=1)
    out["cheques_beyond_terms"] = (signals["maturity_recent_days"] > reference.fillna(0)).astype("float64")
    out["bounced_weighted"] = signals["bounced_cheques"] - 0.5 * signals["replaced_cheques"]
    usual = (2.0 * signals["usual_gap_days"]).clip(lower=grace_days).fillna(grace_days)
    silence = (signals["days_without_shipment"] - usual).where(signals["overdue"].fillna(0) > 0, 0.0)
    # "while money is overdue" cannot be judged where the data records no payments
    status_known = signals["payment_status_known"] != 0 if "payment_status_known" in signals else True
    out["silence_beyond_usual_days"] = silence.where(signals["days_without_shipment"].notna() & status_known)
    return out


def sign_points(values: pd.DataFrame, event_weights: Mapping[str, float] = EVENT_WEIGHTS) -> pd.DataFrame:
    """``points_<sign>`` per row for every ledger sign and ``points_event_<kind>`` per event kind."""
    points = {}  # the columns first, the frame once (a column set at a time cost a third of the time)
    for sign in SIGNS:
        column = values[sign.column] if sign.column in values else pd.Series(np.nan, index=values.index)
        gate = values[sign.gate] if sign.gate and sign.gate in values else None
        points[f"points_{sign.name}"] = sign.points(column, gate).to_numpy()
    for kind, weight in event_weights.items():
        column = f"event_{kind}"
        if column in values and weight:
            points[f"points_event_{kind}"] = _blank_zero(values[column].astype("float64").to_numpy()) * weight
    return pd.DataFrame(points, index=values.index)


def statement_points(statements: pd.DataFrame, settings: ScoreSettings = ScoreSettings(),
                     established_date=None, as_of=None) -> pd.DataFrame:
    """Per statement row: the statement model's result and its points in the customer score.

    ``points_statements`` = ``statement_weight`` × (log-odds − reference) above the reference, and
    ``statement_credit`` × that below it (sound books lower the score a little: they are a year old at
    best and cannot outweigh what the ledger shows now); ``points_flag_*`` adds the source's interest
    flag. Monotone in the model's log-odds, so statements alone rank as the model does.
    """
    scored = statement_distress(statements, established_date=established_date, as_of=as_of)
    reference = np.log(settings.statement_reference / (1.0 - settings.statement_reference))
    excess = scored["distress_log_odds"] - reference
    out = pd.DataFrame(index=statements.index)
    out["statement_probability"] = scored["distress_probability"]
    out["statement_log_odds"] = scored["distress_log_odds"]
    out["statement_drivers"] = scored["drivers"]
    out["statement_missing_ratios"] = scored["n_missing_ratios"]
    out["points_statements"] = settings.statement_weight * excess.where(excess > 0, settings.statement_credit * excess)
    for flag, weight in STATEMENT_FLAG_WEIGHTS.items():
        out[f"points_{flag}"] = scored[flag].fillna(False).astype("float64") * weight
    flags = [c for c in scored.columns if c.startswith("flag_")]
    out["statement_flags"] = [", ".join(f.removeprefix("flag_").replace("_", " ") for f in flags if row[f] is True)
                              for row in scored[flags].astype("object").to_dict("records")]
    return out


def latest_statements(financials: pd.DataFrame, points: pd.DataFrame, keys: pd.DataFrame,
                      lag_days: int = 0) -> pd.DataFrame:
    """For each (customer_id, month_end) of ``keys``, the latest statement's points dated by then."""
    columns = list(points.columns) + ["statement_period_end"]
    if financials.empty or keys.empty:
        return pd.DataFrame(index=keys.index, columns=columns)
    statements = pd.concat([financials[["customer_id", "period_end"]].reset_index(drop=True),
                            points.reset_index(drop=True)], axis=1)
    statements["customer_id"] = statements["customer_id"].astype("object")
    statements["available"] = pd.to_datetime(statements["period_end"]) + pd.Timedelta(days=lag_days)
    statements = statements.dropna(subset=["customer_id", "available"]).sort_values("available", kind="mergesort")
    left = keys[["customer_id", "month_end"]].copy()
    left["customer_id"] = left["customer_id"].astype("object")
    left["month_end"] = pd.to_datetime(left["month_end"]).astype(statements["available"].dtype)
    left["_row"] = np.arange(len(left))
    merged = pd.merge_asof(left.sort_values("month_end", kind="mergesort"), statements, left_on="month_end",
                           right_on="available", by="customer_id", direction="backward")
    merged = merged.sort_values("_row").set_index(keys.index)
    merged["statement_period_end"] = merged["period_end"]
    return merged[columns]


# The distress score is a sum of log-odds points, not a probability of default: its calibration to "defaults
# within the horizon" (Platt scaling of the month's log-odds) was fitted on the months that can be findings
# (at or above the watch level, with enough ledger points) of the simulator's small ledgers of seeds 1-6:
# 205 customer-months whose horizon lies inside the data, 163 followed by a default within 180 days
# (docs/distress.md, "Calibration"; fitted on every month instead, the probabilities of the findings came out
# far too low: 0.06 predicted where 0.62 defaulted).
CALIBRATION_HORIZON_DAYS = 180
CALIBRATION_INTERCEPT = 0.4720
CALIBRATION_SLOPE = 0.4214


def default_probability(log_odds, horizon_days: float = CALIBRATION_HORIZON_DAYS,
                        intercept: float = CALIBRATION_INTERCEPT, slope: float = CALIBRATION_SLOPE):
    """Probability that a customer with this month's distress log-odds defaults within ``horizon_days``: the
    calibration at its own horizon, and for another horizon the same monthly hazard over a longer or
    shorter time (1 - (1 - p) ** (horizon / calibrated horizon))."""
    calibrated = 1.0 / (1.0 + np.exp(-(intercept + slope * np.asarray(log_odds, dtype="float64"))))
    return 1.0 - (1.0 - calibrated) ** (float(horizon_days) / CALIBRATION_HORIZON_DAYS)


def combine(points: pd.DataFrame, base_log_odds: float) -> pd.DataFrame:
    """``log_odds`` and ``score`` from every ``points_*`` column (missing points count 0)."""
    columns = [c for c in points.columns if c.startswith("points_")]
    total = points[columns].astype("float64").fillna(0.0).sum(axis=1)
    log_odds = base_log_odds + total
    return pd.DataFrame({"log_odds": log_odds, "score": 1.0 / (1.0 + np.exp(-log_odds))}, index=points.index)


def young_points(age_years: pd.Series, settings: ScoreSettings = ScoreSettings()) -> pd.Series:
    return ((age_years < settings.young_company_years) & age_years.notna()).astype("float64") * YOUNG_COMPANY_WEIGHT


def statement_only_scores(financials: pd.DataFrame, customers: pd.DataFrame | None = None, as_of=None,
                          settings: ScoreSettings = ScoreSettings()) -> pd.DataFrame:
    """The customer score from financial statements alone (no ledger), e.g. the Polish benchmark file.

    One row per customer: its latest statement (on or before ``as_of`` when given), the statement points,
    the young-company points when ``customers.established_date`` is known, ``log_odds`` and ``score``.
    """
    frame = financials.copy()
    frame["period_end"] = pd.to_datetime(frame["period_end"], errors="coerce")
    if as_of is not None:
        frame = frame[frame["period_end"] <= pd.Timestamp(as_of)]
    frame = frame.sort_values(["customer_id", "period_end"], kind="mergesort").drop_duplicates(
        "customer_id", keep="last").reset_index(drop=True)
    founded = None
    if customers is not None and "established_date" in customers:
        founded = frame["customer_id"].map(customers.set_index("customer_id")["established_date"])
    points = statement_points(frame, settings, established_date=founded, as_of=frame["period_end"])
    if founded is not None:
        age = (frame["period_end"] - pd.to_datetime(founded, errors="coerce")).dt.days / 365.25
        points["points_young_company"] = young_points(age.where(age >= 0), settings)
    result = pd.concat([frame[["customer_id", "period_end"]], points, combine(points, settings.base_log_odds)],
                       axis=1)
    return result
