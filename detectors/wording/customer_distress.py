"""Wording of customer_distress: a customer's signs of failure (DST-01)."""

from __future__ import annotations

import pandas as pd

from audit.i18n import N_, t, tn
from audit.wording import (
    Words,
    both,
    clauses,
    day,
    ending_with,
    figure,
    items,
    localised,
    money,
    month,
    sentences,
)
from detectors.wording import text

KIND_WORDS = {
    "watch": N_("first month on the watch list"),
    "alert": N_("first month above the alert level"),
    "high": N_("first month above the high level"),
    "latest": N_("latest month of the data"),
}
LEVEL_WORDS = {"watch": N_("the watch level"), "alert": N_("the alert level")}
TITLE_KIND = {"watch": N_("early warning"), "alert": N_("alert"), "high": N_("high alert"),
              "latest": N_("still distressed")}
EVENT_WORDS = {
    "ownership_change": N_("ownership change"), "management_change": N_("management change"),
    "accountant_resigned": N_("accountant resigned"), "promise_to_pay": N_("promise to pay"),
    "promise_broken": N_("promise broken"), "payment_method_change": N_("payment method change"),
    "bankruptcy_filing": N_("bankruptcy filing"), "legal_action": N_("legal action"), "complaint": N_("complaint"),
    "address_change": N_("address change"), "bank_change": N_("bank change"),
    "owner_often_absent": N_("owner often absent"), "competitor_brands_increase": N_("competitor brands increase"),
}
# The signs the data may not measure, by the name the distress history gives them.
SIGN_NAMES = {
    "payments later": N_("payments later"), "partial payments": N_("partial payments"),
    "cheque switch": N_("cheque switch"), "longer maturities": N_("longer maturities"), "dso": N_("dso"),
    "aging migration": N_("aging migration"), "order spike": N_("order spike"), "new brands": N_("new brands"),
    "bounced cheques": N_("bounced cheques"), "broken promises": N_("broken promises"),
    "repeated promises": N_("repeated promises"), "shipments stopped": N_("shipments stopped"),
    "credit limit breach": N_("credit limit breach"), "financial statements": N_("financial statements"),
    "statements": N_("statements"), "young company": N_("young company"),
}


def words(finding) -> Words:
    return _customer(finding)


def usual_gap_words(usual_gap_days) -> str:
    """How often the customer usually takes goods, in words ("usually every 15 days"); a median gap under
    a day means at least half of its deliveries came on the same day as the one before (split shipments),
    which shows no interval between purchases."""
    if usual_gap_days is None or pd.isna(usual_gap_days) or usual_gap_days < 0:
        return t("too few earlier deliveries to say what is usual")
    days = round(float(usual_gap_days))
    if days < 1:
        return t("at least half of its earlier deliveries came on the same day as another, so no usual interval "
                 "shows")
    return tn("usually every %(days)s day", "usually every %(days)s days", days, days=figure(days))


def kind_words(evidence, period: str) -> str:
    """Which month of the episode the finding is: the first month at its level, or, when an earlier month
    already scored above that level on too few signs from the ledger to be reported, the first reportable one."""
    kind = evidence["kind"]
    first = {"watch": evidence["first_watch_period"], "alert": evidence["first_alert_period"]}.get(kind)
    if not first or first == period:
        return t(KIND_WORDS[kind])
    earlier = next((h["score"] for h in evidence["history"] if h["period"] == first), None)
    values = dict(level_name=t(LEVEL_WORDS[kind]), level=figure(evidence["levels"][kind], "g"), first=month(first))
    if earlier is not None:
        return t("the first month above %(level_name)s of %(level)s on enough signs from the ledger itself to be "
                 "reported; %(first)s was above it already at %(earlier)s, but on too few such signs",
                 earlier=figure(earlier, ".2f"), **values)
    return t("the first month above %(level_name)s of %(level)s on enough signs from the ledger itself to be "
             "reported; %(first)s was above it already, but on too few such signs", **values)


def _money_sentence(exposure) -> str:
    at_risk, balance, pending, limit = (exposure["exposure"], exposure["open_balance"], exposure["pending_cheques"],
                                        exposure["credit_limit"])
    values = dict(at_risk=money(at_risk), balance=money(balance or 0.0), pending=money(pending))
    if pd.notna(limit) and limit:
        values["limit"] = money(limit)
        if at_risk > 0 and pending and pending > 0:
            return t("The company stands to lose %(at_risk)s: open balance %(balance)s plus pending post-dated "
                     "cheques %(pending)s, against a credit limit of %(limit)s.", **values)
        if at_risk > 0:
            return t("The company stands to lose its open balance of %(at_risk)s, against a credit limit of "
                     "%(limit)s.", **values)
        return t("Nothing is owed at this month end, but further sales on credit would be at risk, against a credit "
                 "limit of %(limit)s.", **values)
    if at_risk > 0 and pending and pending > 0:
        return t("The company stands to lose %(at_risk)s: open balance %(balance)s plus pending post-dated cheques "
                 "%(pending)s.", **values)
    if at_risk > 0:
        return t("The company stands to lose its open balance of %(at_risk)s.", **values)
    return t("Nothing is owed at this month end, but further sales on credit would be at risk.")


def _customer(finding) -> Words:
    evidence, facts = finding["evidence"], finding["facts"]
    customer_id, period, score, kind = finding["customer_id"], finding["period"], evidence["score"], evidence["kind"]
    name = text(facts["customer_name"])
    who = t("%(name)s (%(customer)s)", name=name, customer=customer_id) if name else t(
        "Customer %(customer)s", customer=customer_id)
    signs = sorted(_sign_words(evidence, facts), key=lambda item: -item[0])
    signs_text = clauses(words for _, words in signs) if signs else t("no single strong sign, several small ones")
    horizon, chance = figure(evidence["horizon_days"]), _percent(evidence["default_probability"])
    history = evidence["history"]
    position = next(i for i, month_ in enumerate(history) if month_["period"] == period)
    recent = history[max(0, position + 1 - facts["max_history_in_words"]):position + 1]
    trend = items(f"{month(h['period'])} {figure(h['score'], '.2f')}" for h in recent)
    not_measured = items(t(SIGN_NAMES[n]) if n in SIGN_NAMES else n for n in evidence["not_measured"])
    first_watch, first_alert = evidence["first_watch_period"], evidence["first_alert_period"]
    superseded = ""
    if first_watch and first_watch != period:
        superseded = (t("The early warning could have been given at the end of %(watch)s, the alert at the end of "
                        "%(alert)s; this finding supersedes it.", watch=month(first_watch), alert=month(first_alert))
                      if first_alert and first_alert != period else
                      t("The early warning could have been given at the end of %(watch)s; this finding supersedes "
                        "it.", watch=month(first_watch)))
    later = facts["latest"]
    explanation = sentences(
        t("%(who)s shows signs that come before a customer fails, at the end of %(period)s: score %(score)s "
          "(%(kind)s).", who=who, period=month(period), score=figure(score, ".2f"), kind=kind_words(evidence, period)),
        t("What was seen: %(signs)s.", signs=signs_text),
        _money_sentence(evidence["exposure"]),
        t("Monthly score: %(trend)s.", trend=trend),
        t("Estimated chance that it defaults within %(days)s days: %(chance)s; the list ranks it by that chance "
          "times the money at risk.", days=horizon, chance=chance),
        t("Not measurable in this data: %(signs)s; the score is built from less evidence than usual.",
          signs=not_measured) if evidence["not_measured"] else "",
        superseded,
        t("By %(period)s the score was %(score)s.", period=month(later["period"]), score=figure(later["score"], ".2f"))
        if later is not None and kind != "latest" else "")
    title = t("%(who)s: signs of failure (%(kind)s) in %(period)s, %(chance)s chance of default within %(days)s days "
              "(score %(score)s)", who=who, kind=t(TITLE_KIND[kind]), period=month(period), chance=chance,
              days=horizon, score=figure(score, ".2f"))
    return ending_with(title, explanation, _check_next(finding, who))


def _check_next(finding, who: str) -> str:
    """The statement to pull, what to ask the credit controller, and the balance to confirm with the customer."""
    evidence, points = finding["evidence"], finding["facts"]["points"]
    measured, statement = evidence["measurements"], evidence["statement"]
    exposure = evidence["exposure"]["exposure"]
    ask = []
    if points.get("bounced_cheques", 0) > 0 and (measured.get("bounced_cheques") or 0) > 0:
        ask.append(t("the %(count)s bounced cheque(s)", count=figure(measured["bounced_cheques"], ".0f")))
    if points.get("broken_promises", 0) > 0 or points.get("repeated_promises", 0) > 0:
        ask.append(t("the promises to pay it broke"))
    else:
        ask.append(t("the account's payment promises"))
    if points.get("credit_limit_breach", 0) > 0:
        ask.append(t("who let it past its credit limit"))
    values = dict(who=who, month_end=day(evidence["month_end"]), ask=both(ask), owed=money(exposure))
    if statement and points.get("statements", 0) > 0:
        values["statement_end"] = day(statement["period_end"])
        if exposure > 0:
            return t("Pull %(who)s's statement of account and aging at %(month_end)s and its financial statements "
                     "after %(statement_end)s, ask the credit controller about %(ask)s, and confirm the %(owed)s it "
                     "owes with the customer before any further sale on credit.", **values)
        return t("Pull %(who)s's statement of account and aging at %(month_end)s and its financial statements after "
                 "%(statement_end)s, ask the credit controller about %(ask)s, and confirm with the customer that "
                 "nothing is owed before any further sale on credit.", **values)
    if exposure > 0:
        return t("Pull %(who)s's statement of account and aging at %(month_end)s, ask the credit controller about "
                 "%(ask)s, and confirm the %(owed)s it owes with the customer before any further sale on credit.",
                 **values)
    return t("Pull %(who)s's statement of account and aging at %(month_end)s, ask the credit controller about "
             "%(ask)s, and confirm with the customer that nothing is owed before any further sale on credit.",
             **values)


def _percent(probability: float) -> str:
    """A probability in words that never reads as certain or impossible ("below 1 %", "above 99 %")."""
    if probability < 0.01:
        return t("below %(percent)s", percent=localised("1 %"))
    if probability > 0.99:
        return t("above %(percent)s", percent=localised("99 %"))
    return localised(f"{probability:.0%}".replace("%", " %"))


def _sign_words(evidence, facts) -> list[tuple[float, str]]:
    """(points, plain words) for every sign that added at least a twentieth of a log-odds point."""
    measured = evidence["measurements"]
    statement = evidence["statement"]
    exposure = evidence["exposure"]
    points_of = facts["points"]
    g, recent_days, spike_days = figure(facts["grace_days"]), figure(facts["recent_days"]), figure(facts["spike_days"])

    def v(name):
        return measured.get(name)

    def f(name, spec):
        return figure(v(name), spec)

    def terms():
        return figure(v("terms_days") if pd.notna(v("terms_days")) else 0, ".0f")

    texts = {
        "payments_later": lambda: (
            t("payments %(late)s days past due on average in the last %(days)s days, against %(before)s before",
              late=f("lateness_recent_days", ".0f"), days=recent_days,
              before=figure(max(v("lateness_baseline_days"), 0.0), ".0f"))
            if pd.notna(v("lateness_baseline_days")) else
            t("payments %(late)s days past due on average in the last %(days)s days, with no earlier payments to "
              "compare", late=f("lateness_recent_days", ".0f"), days=recent_days)),
        "dso": lambda: t("%(dso)s days of sales outstanding against %(terms)s-day terms", dso=f("dso_days", ".0f"),
                         terms=terms()),
        "aging_migration": lambda: t("%(share)s of its open invoices (%(amount)s) more than %(grace)s days overdue",
                                     share=f("aged_share", ".0%"), amount=money(v("overdue_over_grace")), grace=g),
        "partial_payments": lambda: t("%(count)s invoices paid only in part and still open",
                                      count=f("partial_invoices", ".0f")),
        "order_spike": lambda: t("orders of %(amount)s in the last %(days)s days, %(ratio)s times its usual, while "
                                 "paying late", amount=money(v("invoiced_recent")), days=spike_days,
                                 ratio=f("order_spike_ratio", ".1f")),
        "new_brands": lambda: t("%(share)s of those orders brands it never bought before",
                                share=f("new_brand_share", ".0%")),
        "cheque_switch": lambda: (
            t("%(share)s of recent payments by post-dated cheque against %(before)s before",
              share=f("cheque_share_recent", ".0%"), before=f("cheque_share_baseline", ".0%"))
            if pd.notna(v("cheque_share_baseline")) else
            t("%(share)s of recent payments by post-dated cheque with no earlier payments to compare",
              share=f("cheque_share_recent", ".0%"))),
        "longer_maturities": lambda: (
            t("cheques dated %(days)s days ahead, against %(before)s before and %(terms)s-day terms",
              days=f("maturity_recent_days", ".0f"), before=f("maturity_baseline_days", ".0f"), terms=terms())
            if pd.notna(v("maturity_baseline_days")) else
            t("cheques dated %(days)s days ahead, with no earlier cheques to compare, against %(terms)s-day terms",
              days=f("maturity_recent_days", ".0f"), terms=terms())),
        "bounced_cheques": lambda: t("%(count)s cheque(s) bounced or returned in the last year (%(amount)s; "
                                     "%(replaced)s replaced)", count=f("bounced_cheques", ".0f"),
                                     amount=money(v("bounced_amount")), replaced=f("replaced_cheques", ".0f")),
        "broken_promises": lambda: t("%(count)s promise(s) to pay broken", count=f("promises_broken", ".0f")),
        "repeated_promises": lambda: t("%(count)s promises to pay in a year", count=f("promises", ".0f")),
        "shipments_stopped": lambda: t("no goods taken for %(days)s days (%(usual)s) while %(overdue)s is overdue",
                                       days=f("days_without_shipment", ".0f"),
                                       usual=usual_gap_words(v("usual_gap_days")), overdue=money(v("overdue"))),
        "credit_limit_breach": lambda: t("exposure %(exposure)s is %(over)s above the credit limit of %(limit)s",
                                         exposure=money(exposure["exposure"]),
                                         over=figure(exposure["exposure"] / exposure["credit_limit"] - 1, ".0%"),
                                         limit=money(exposure["credit_limit"])),
        "statements": lambda: (
            t("its financial statements of %(date)s resemble those of companies that failed within a year "
              "(probability %(probability)s: %(drivers)s)", date=day(statement["period_end"]),
              probability=figure(statement["failure_probability"], ".1%"),
              drivers=statement["drivers"] or t("several ratios"))
            if points_of["statements"] > 0 else
            t("its financial statements of %(date)s look sound", date=day(statement["period_end"]))),
        "flag_interest_over_5pct_sales": lambda: t("interest costs above %(percent)s of its sales",
                                                   percent=localised("5 %")),
        "young_company": lambda: t("a company only %(years)s years old", years=f("age_years", ".1f")),
    }
    words = []
    for name, points in points_of.items():
        if abs(points) < 0.05:
            continue
        if name.startswith("event_"):
            kind = name.removeprefix("event_")
            text_ = t("%(event)s on %(date)s", event=t(EVENT_WORDS[kind]) if kind in EVENT_WORDS
                      else kind.replace("_", " "), date=day(facts["event_dates"].get(kind)))
        elif name in texts:
            try:
                text_ = texts[name]()
            except (TypeError, ValueError, ZeroDivisionError, KeyError):
                text_ = name.replace("_", " ")
        else:
            text_ = name.replace("_", " ")
        words.append((points, f"{text_} ({figure(points, '+.2f')})"))
    return words
