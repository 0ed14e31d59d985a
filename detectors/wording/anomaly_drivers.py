"""Sentences the three behaviour-anomaly patterns share (salesperson_anomaly's ANO-01, customer_anomaly,
invoice_anomaly): the drivers of an unusual row and the money they put at risk. Not a pattern's module.

A driver is one of the dicts ``detectors.anomaly.base.BehaviourAnomaly`` puts in a finding's
``facts["drivers"]``: ``words``, ``unit``, ``direction``, ``value``, ``typical``, ``rarer_share``, ``money``.
"""

from __future__ import annotations

import numpy as np

from audit.common import money


def share_words(share: float) -> str:
    """0.004 -> '0.4 %', 0.03 -> '3 %' (how rare a value is among the population)."""
    percent = 100.0 * share
    if percent < 1:
        return f"{max(percent, 0.1):.1f} %"
    if percent < 10:
        return f"{percent:.1f} %".replace(".0 %", " %")
    return f"{percent:.0f} %"


def value_words(unit: str, value: float) -> str:
    """A feature's value as read in its unit (``share``, ``days``, ``ratio`` stored as log2, ``flag``, ``count``)."""
    if value is None or not np.isfinite(value):
        return "unknown"
    if unit == "share":
        # a share under 0.05 % keeps two significant digits: "0.0 %" would read as none
        return f"{100 * value:.2g} %" if 0 < abs(100 * value) < 0.05 else f"{100 * value:.1f} %"
    if unit == "days":
        return f"{value:.1f} days"
    if unit == "ratio":
        return f"{2.0 ** value:.1f} × the usual"
    if unit == "flag":
        return "yes" if value >= 0.5 else "no"
    return f"{value:g}" if float(value).is_integer() else f"{value:.1f}"


def typical_is_none(driver: dict) -> bool:
    """The typical (median) value is zero as read in its unit: at least half of the population has none of it,
    which "a typical 0.0 %" would misstate as a level."""
    typical = driver["typical"]
    if driver["unit"] in ("ratio", "flag") or typical is None or not np.isfinite(typical):
        return False
    return round(float(typical) * (100 if driver["unit"] == "share" else 1), 1) == 0


def driver_sentence(driver: dict, population_words: str) -> str:
    side = "top" if driver["direction"] == "high" else "bottom"
    against = (f"where most {population_words} have none" if typical_is_none(driver)
               else f"against a typical {value_words(driver['unit'], driver['typical'])}")
    return (f"{driver['words']} {value_words(driver['unit'], driver['value'])} {against} ({side} "
            f"{share_words(driver['rarer_share'])} of {population_words})")


def driver_short(driver: dict) -> str:
    """For a title: 'discount rate 14.2 % (typical 3.1 %)', or '(most have none)' when the typical is zero."""
    typical = ("most have none" if typical_is_none(driver)
               else f"typical {value_words(driver['unit'], driver['typical'])}")
    return f"{driver['words']} {value_words(driver['unit'], driver['value'])} ({typical})"


def drivers_sentence(finding) -> str:
    """'<driver>; <driver>' against the population the finding was compared with."""
    population_words = finding["evidence"]["population_unit"]
    return "; ".join(driver_sentence(d, population_words) for d in finding["facts"]["drivers"])


def comparison(finding) -> str:
    """'(N compared; anomaly score S, top C % cut-off X)'."""
    evidence = finding["evidence"]
    return (f"({evidence['population']} compared; anomaly score {evidence['anomaly_score']:.3f}, top "
            f"{100 * evidence['contamination']:g} % cut-off {evidence['score_cutoff']:.3f})")


def money_sentence(finding) -> str:
    drivers, risk = finding["facts"]["drivers"], finding["risk_amount"]
    priced = [d for d in drivers if d["money"] > 0]
    if priced and risk <= 0:
        return "Its amount is 0, so no money at risk is put on it."
    if not priced:
        return ("None of these drivers is money the company gives up (they measure volume, time or "
                "counts), so no money at risk is put on it: it ranks after the findings that have some.")
    parts = ", ".join(f"{d['words']} {money(d['money'])}" for d in priced)
    return (f"Money at risk {money(risk)}: the money these shares move beyond the typical ones ({parts}), "
            f"at most the {finding['facts']['cap_words']}.")
