"""Wording of customer_distress: a customer's signs of failure (DST-01)."""

from __future__ import annotations

import pandas as pd

from analyses.distress.scoring import EVENT_LABELS
from audit.common import day, money
from audit.wording import Words, ending_with
from detectors.wording import text

KIND_WORDS = {
    "watch": "first month on the watch list",
    "alert": "first month above the alert level",
    "high": "first month above the high level",
    "latest": "latest month of the data",
}
LEVEL_WORDS = {"watch": "the watch level", "alert": "the alert level"}
TITLE_KIND = {"watch": "early warning", "alert": "alert", "high": "high alert", "latest": "still distressed"}


def words(finding) -> Words:
    return _customer(finding)


def usual_gap_words(usual_gap_days) -> str:
    """How often the customer usually takes goods, in words ("usually every 15 days"); a median gap under
    a day means at least half of its deliveries came on the same day as the one before (split shipments),
    which shows no interval between purchases."""
    if usual_gap_days is None or pd.isna(usual_gap_days) or usual_gap_days < 0:
        return "too few earlier deliveries to say what is usual"
    days = round(float(usual_gap_days))
    if days < 1:
        return "at least half of its earlier deliveries came on the same day as another, so no usual interval shows"
    return f"usually every {days} day{'s' if days != 1 else ''}"


def kind_words(evidence, period: str) -> str:
    """Which month of the episode the finding is: the first month at its level, or, when an earlier month
    already scored above that level on too few signs from the ledger to be reported, the first reportable one."""
    kind = evidence["kind"]
    first = {"watch": evidence["first_watch_period"], "alert": evidence["first_alert_period"]}.get(kind)
    if not first or first == period:
        return KIND_WORDS[kind]
    earlier = next((h["score"] for h in evidence["history"] if h["period"] == first), None)
    level = evidence["levels"][kind]
    earlier_words = f" at {earlier:.2f}" if earlier is not None else ""
    return (f"the first month above {LEVEL_WORDS[kind]} of {level:g} on enough signs from the ledger itself to be "
            f"reported; {first} was above it already{earlier_words}, but on too few such signs")


def _customer(finding) -> Words:
    evidence, facts = finding["evidence"], finding["facts"]
    customer_id, period, score, kind = finding["customer_id"], finding["period"], evidence["score"], evidence["kind"]
    name = text(facts["customer_name"])
    who = f"{name} ({customer_id})" if name else f"Customer {customer_id}"
    signs = sorted(_sign_words(evidence, facts), key=lambda item: -item[0])
    signs_text = "; ".join(words for _, words in signs) if signs else "no single strong sign, several small ones"
    exposure = evidence["exposure"]
    at_risk, balance, pending, limit = (exposure["exposure"], exposure["open_balance"], exposure["pending_cheques"],
                                        exposure["credit_limit"])
    if at_risk > 0 and pending and pending > 0:
        money_text = (f"The company stands to lose {money(at_risk)}: open balance {money(balance or 0.0)} "
                      f"plus pending post-dated cheques {money(pending)}")
    elif at_risk > 0:
        money_text = f"The company stands to lose its open balance of {money(at_risk)}"
    else:
        money_text = "Nothing is owed at this month end, but further sales on credit would be at risk"
    if pd.notna(limit) and limit:
        money_text += f", against a credit limit of {money(limit)}"
    horizon, chance = evidence["horizon_days"], _percent(evidence["default_probability"])
    history = evidence["history"]
    position = next(i for i, month in enumerate(history) if month["period"] == period)
    recent = history[max(0, position + 1 - facts["max_history_in_words"]):position + 1]
    trend = ", ".join(f"{h['period']} {h['score']:.2f}" for h in recent)
    not_measured = ", ".join(evidence["not_measured"])
    confidence = (f" Not measurable in this data: {not_measured}; the score is built from less "
                  f"evidence than usual.") if not_measured else ""
    explanation = (
        f"{who} shows signs that come before a customer fails, at the end of {period}: score "
        f"{score:.2f} ({kind_words(evidence, period)}). What was seen: {signs_text}. {money_text}. "
        f"Monthly score: {trend}. Estimated chance that it defaults within {horizon} days: {chance}; the list "
        f"ranks it by that chance times the money at risk.{confidence}")
    first_watch, first_alert = evidence["first_watch_period"], evidence["first_alert_period"]
    if first_watch and first_watch != period:
        explanation += (f" The early warning could have been given at the end of {first_watch}"
                        + (f", the alert at the end of {first_alert}" if first_alert and first_alert != period else "")
                        + "; this finding supersedes it.")
    later = facts["latest"]
    if later is not None and kind != "latest":
        explanation += f" By {later['period']} the score was {later['score']:.2f}."
    return ending_with(f"{who}: signs of failure ({TITLE_KIND[kind]}) in {period}, {chance} chance of default "
                       f"within {horizon} days (score {score:.2f})", explanation, _check_next(finding, who))


def _check_next(finding, who: str) -> str:
    """The statement to pull, what to ask the credit controller, and the balance to confirm with the customer."""
    evidence, points = finding["evidence"], finding["facts"]["points"]
    measured, statement = evidence["measurements"], evidence["statement"]
    exposure = evidence["exposure"]["exposure"]
    ask = []
    if points.get("bounced_cheques", 0) > 0 and (measured.get("bounced_cheques") or 0) > 0:
        ask.append(f"the {measured['bounced_cheques']:.0f} bounced cheque(s)")
    if points.get("broken_promises", 0) > 0 or points.get("repeated_promises", 0) > 0:
        ask.append("the promises to pay it broke")
    else:
        ask.append("the account's payment promises")
    if points.get("credit_limit_breach", 0) > 0:
        ask.append("who let it past its credit limit")
    pull = f"{who}'s statement of account and aging at {day(evidence['month_end'])}"
    if statement and points.get("statements", 0) > 0:
        pull += f" and its financial statements after {day(statement['period_end'])}"
    confirm = (f"confirm the {money(exposure)} it owes with the customer before any further sale on credit"
               if exposure > 0 else "confirm with the customer that nothing is owed before any further sale on credit")
    return f"Pull {pull}, ask the credit controller about {' and '.join(ask)}, and {confirm}."


def _percent(probability: float) -> str:
    """A probability in words that never reads as certain or impossible ("below 1 %", "above 99 %")."""
    if probability < 0.01:
        return "below 1 %"
    if probability > 0.99:
        return "above 99 %"
    return f"{probability:.0%}".replace("%", " %")


def _sign_words(evidence, facts) -> list[tuple[float, str]]:
    """(points, plain words) for every sign that added at least a twentieth of a log-odds point."""
    measured = evidence["measurements"]
    statement = evidence["statement"]
    exposure = evidence["exposure"]
    points_of = facts["points"]
    g, recent_days, spike_days = facts["grace_days"], facts["recent_days"], facts["spike_days"]

    def v(name):
        return measured.get(name)

    def terms():
        return v("terms_days") if pd.notna(v("terms_days")) else 0

    texts = {
        "payments_later": lambda: (f"payments {v('lateness_recent_days'):.0f} days past due on average in the "
                                   f"last {recent_days} days, "
                                   + (f"against {max(v('lateness_baseline_days'), 0.0):.0f} before"
                                      if pd.notna(v("lateness_baseline_days")) else "with no earlier payments to "
                                                                                    "compare")),
        "dso": lambda: f"{v('dso_days'):.0f} days of sales outstanding against {terms():.0f}-day terms",
        "aging_migration": lambda: (f"{v('aged_share'):.0%} of its open invoices "
                                    f"({money(v('overdue_over_grace'))}) more than {g} days overdue"),
        "partial_payments": lambda: f"{v('partial_invoices'):.0f} invoices paid only in part and still open",
        "order_spike": lambda: (f"orders of {money(v('invoiced_recent'))} in the last {spike_days} days, "
                                f"{v('order_spike_ratio'):.1f} times its usual, while paying late"),
        "new_brands": lambda: f"{v('new_brand_share'):.0%} of those orders brands it never bought before",
        "cheque_switch": lambda: (f"{v('cheque_share_recent'):.0%} of recent payments by post-dated cheque "
                                  + (f"against {v('cheque_share_baseline'):.0%} before"
                                     if pd.notna(v("cheque_share_baseline")) else "with no earlier payments to "
                                                                                   "compare")),
        "longer_maturities": lambda: (f"cheques dated {v('maturity_recent_days'):.0f} days ahead, "
                                      + (f"against {v('maturity_baseline_days'):.0f} before and "
                                         if pd.notna(v("maturity_baseline_days")) else "with no earlier cheques to "
                                                                                       "compare, against ")
                                      + f"{terms():.0f}-day terms"),
        "bounced_cheques": lambda: (f"{v('bounced_cheques'):.0f} cheque(s) bounced or returned in the last year "
                                    f"({money(v('bounced_amount'))}; {v('replaced_cheques'):.0f} replaced)"),
        "broken_promises": lambda: f"{v('promises_broken'):.0f} promise(s) to pay broken",
        "repeated_promises": lambda: f"{v('promises'):.0f} promises to pay in a year",
        "shipments_stopped": lambda: (f"no goods taken for {v('days_without_shipment'):.0f} days "
                                      f"({usual_gap_words(v('usual_gap_days'))}) "
                                      f"while {money(v('overdue'))} is overdue"),
        "credit_limit_breach": lambda: (f"exposure {money(exposure['exposure'])} is "
                                        f"{exposure['exposure'] / exposure['credit_limit'] - 1:.0%} above the credit "
                                        f"limit of {money(exposure['credit_limit'])}"),
        "statements": lambda: (f"its financial statements of {day(statement['period_end'])} resemble those of "
                               f"companies that failed within a year (probability "
                               f"{statement['failure_probability']:.1%}: {statement['drivers'] or 'several ratios'})"
                               if points_of["statements"] > 0 else
                               f"its financial statements of {day(statement['period_end'])} look sound"),
        "flag_interest_over_5pct_sales": lambda: "interest costs above 5 % of its sales",
        "young_company": lambda: f"a company only {v('age_years'):.1f} years old",
    }
    words = []
    for name, points in points_of.items():
        if abs(points) < 0.05:
            continue
        if name.startswith("event_"):
            kind = name.removeprefix("event_")
            text_ = f"{EVENT_LABELS.get(kind, kind.replace('_', ' '))} on {day(facts['event_dates'].get(kind))}"
        elif name in texts:
            try:
                text_ = texts[name]()
            except (TypeError, ValueError, ZeroDivisionError, KeyError):
                text_ = name.replace("_", " ")
        else:
            text_ = name.replace("_", " ")
        words.append((points, f"{text_} ({points:+.2f})"))
    return words
