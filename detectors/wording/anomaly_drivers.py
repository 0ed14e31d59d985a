"""Sentences the three behaviour-anomaly patterns share (salesperson_anomaly's ANO-01, customer_anomaly,
invoice_anomaly): the drivers of an unusual row and the money they put at risk. Not a pattern's module.

A driver is one of the dicts ``detectors.anomaly.base.BehaviourAnomaly`` puts in a finding's
``facts["drivers"]``: ``words``, ``unit``, ``direction``, ``value``, ``typical``, ``rarer_share``, ``money``.
"""

from __future__ import annotations

import re

import numpy as np

from audit.i18n import N_, t
from audit.wording import clauses, figure, items, localised, money

# The features' words (detectors/anomaly/features.py), the populations and the caps, marked for translation:
# the evidence keeps them in English, the text shows them in the run's language.
FEATURE_WORDS = (
    N_("unapproved discount rate beyond the volume tiers"), N_("price deviation from list (either way)"),
    N_("credit notes and returns as a share of sales"), N_("cheque holding time (received to handed in)"),
    N_("cheque maturity beyond the customers' payment terms"), N_("visit compliance (done / planned)"),
    N_("customers' payment lateness (days past due, amount-weighted)"), N_("cash share of receipts"),
    N_("receipt posting delay (receipt date to posting)"), N_("sales against the customer's own 6-month median"),
    N_("payment lateness (days past due, amount-weighted)"), N_("credit notes and returns as a share of purchases"),
    N_("cheque maturity beyond its payment terms"), N_("number of salespeople invoicing the customer"),
    N_("cash share of payments"), N_("amount against the customer's median invoice"),
    N_("amount against the company's median invoice"),
    N_("largest line quantity against the product's average line"), N_("unapproved discount beyond the volume tiers"),
    N_("price against the valid list price"), N_("number of lines"), N_("days from order to invoice"),
    N_("names no order"), N_("dated on a weekend or holiday"), N_("due date beyond the customer's payment terms"),
    N_("salesperson-months"), N_("customer-months"), N_("invoices"), N_("rows"), N_("month's net sales"),
    N_("month's purchases"), N_("invoice's net amount"),
)
_NEW_CUSTOMERS = re.compile(r"^share of sales to customers created in the previous (\d+) days$")


def feature_words(words: str) -> str:
    """A feature's (or population's) words in the active language."""
    match = _NEW_CUSTOMERS.match(words)
    if match:
        return t("share of sales to customers created in the previous %(days)s days",
                 days=localised(match.group(1)))
    return t(words)


def share_words(share: float) -> str:
    """0.004 -> '0.4 %', 0.03 -> '3 %' (how rare a value is among the population)."""
    percent = 100.0 * share
    if percent < 1:
        return localised(f"{max(percent, 0.1):.1f} %")
    if percent < 10:
        return localised(f"{percent:.1f} %".replace(".0 %", " %"))
    return localised(f"{percent:.0f} %")


def value_words(unit: str, value: float) -> str:
    """A feature's value as read in its unit (``share``, ``days``, ``ratio`` stored as log2, ``flag``, ``count``)."""
    if value is None or not np.isfinite(value):
        return t("unknown")
    if unit == "share":
        # a share under 0.05 % keeps two significant digits: "0.0 %" would read as none
        return localised(f"{100 * value:.2g} %" if 0 < abs(100 * value) < 0.05 else f"{100 * value:.1f} %")
    if unit == "days":
        return t("%(days)s days", days=figure(value, ".1f"))
    if unit == "ratio":
        return t("%(times)s × the usual", times=figure(2.0 ** value, ".1f"))
    if unit == "flag":
        return t("yes") if value >= 0.5 else t("no")
    return figure(value, "g") if float(value).is_integer() else figure(value, ".1f")


def typical_is_none(driver: dict) -> bool:
    """The typical (median) value is zero as read in its unit: at least half of the population has none of it,
    which "a typical 0.0 %" would misstate as a level."""
    typical = driver["typical"]
    if driver["unit"] in ("ratio", "flag") or typical is None or not np.isfinite(typical):
        return False
    return round(float(typical) * (100 if driver["unit"] == "share" else 1), 1) == 0


def driver_sentence(driver: dict, population_words: str) -> str:
    values = dict(feature=feature_words(driver["words"]), value=value_words(driver["unit"], driver["value"]),
                  share=share_words(driver["rarer_share"]), population=feature_words(population_words))
    top = driver["direction"] == "high"
    if typical_is_none(driver):
        return (t("%(feature)s %(value)s where most %(population)s have none (top %(share)s of %(population)s)",
                  **values) if top else
                t("%(feature)s %(value)s where most %(population)s have none (bottom %(share)s of %(population)s)",
                  **values))
    values["typical"] = value_words(driver["unit"], driver["typical"])
    return (t("%(feature)s %(value)s against a typical %(typical)s (top %(share)s of %(population)s)", **values)
            if top else
            t("%(feature)s %(value)s against a typical %(typical)s (bottom %(share)s of %(population)s)", **values))


def driver_short(driver: dict) -> str:
    """For a title: 'discount rate 14.2 % (typical 3.1 %)', or '(most have none)' when the typical is zero."""
    values = dict(feature=feature_words(driver["words"]), value=value_words(driver["unit"], driver["value"]))
    if typical_is_none(driver):
        return t("%(feature)s %(value)s (most have none)", **values)
    return t("%(feature)s %(value)s (typical %(typical)s)", typical=value_words(driver["unit"], driver["typical"]),
             **values)


def drivers_sentence(finding) -> str:
    """'<driver>; <driver>' against the population the finding was compared with."""
    population_words = finding["evidence"]["population_unit"]
    return clauses(driver_sentence(d, population_words) for d in finding["facts"]["drivers"])


def comparison(finding) -> str:
    """'(N compared; anomaly score S, top C % cut-off X)'."""
    evidence = finding["evidence"]
    return t("(%(count)s compared; anomaly score %(score)s, top %(share)s cut-off %(cutoff)s)",
             count=figure(evidence["population"]), score=figure(evidence["anomaly_score"], ".3f"),
             share=localised(f"{100 * evidence['contamination']:g} %"), cutoff=figure(evidence["score_cutoff"], ".3f"))


def money_sentence(finding) -> str:
    drivers, risk = finding["facts"]["drivers"], finding["risk_amount"]
    priced = [d for d in drivers if d["money"] > 0]
    if priced and risk <= 0:
        return t("Its amount is 0, so no money at risk is put on it.")
    if not priced:
        return t("None of these drivers is money the company gives up (they measure volume, time or counts), so no "
                 "money at risk is put on it: it ranks after the findings that have some.")
    parts = items(f"{feature_words(d['words'])} {money(d['money'])}" for d in priced)
    return t("Money at risk %(amount)s: the money these shares move beyond the typical ones (%(parts)s), at most "
             "the %(cap)s.", amount=money(risk), parts=parts, cap=feature_words(finding["facts"]["cap_words"]))
