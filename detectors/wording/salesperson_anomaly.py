"""Wording of salesperson_anomaly: one salesperson behind findings of several kinds (SPR-01), or a
salesperson-month unlike the others (ANO-01)."""

from __future__ import annotations

from audit.common import money
from audit.wording import Words, ending_with
from detectors.wording.anomaly_drivers import comparison, driver_short, drivers_sentence, money_sentence


def words(finding) -> Words:
    return _rollup(finding) if finding["detector"] == "SPR-01" else _unusual_month(finding)


def _unusual_month(finding) -> Words:
    facts, salesperson, period = finding["facts"], finding["entity_id"], finding["period"]
    name = facts["name"]
    who = f"Salesperson {salesperson}" + (f" ({name})" if isinstance(name, str) else "")
    explanation = (
        f"{who} in {period} behaved unlike the other {finding['evidence']['population_unit']} {comparison(finding)}: "
        + drivers_sentence(finding) + ". "
        f"That month: {facts['n_invoices']} invoices, {money(facts['net'])} net sales. "
        + money_sentence(finding)
        + " An unusual month is a lead for review, not a proof: look first at the records listed with it."
    )
    check_next = (f"Pull salesperson {salesperson}'s {period} invoices and the records listed with this "
                  f"finding, and ask the salesperson's manager what drove the {facts['drivers'][0]['words']} that "
                  f"month.")
    return ending_with(f"Salesperson {salesperson}, {period}: unusual month — {driver_short(facts['drivers'][0])}",
                       explanation, check_next)


def _rollup(finding) -> Words:
    evidence, facts = finding["evidence"], finding["facts"]
    salesperson, name, region, periods = finding["entity_id"], facts["name"], facts["region"], facts["periods"]
    patterns, dominant = evidence["patterns"], evidence["dominant_pattern"].replace("_", " ")
    parts = [f"{pattern.replace('_', ' ')}: {info['findings']} finding(s), {money(info['risk_amount'])} at risk"
             for pattern, info in patterns.items()]
    who = f"Salesperson {salesperson}" + (f" ({name}" + (f", {region}" if isinstance(region, str) else "")
                                          + ")" if isinstance(name, str) else "")
    explanation = (
        f"{who} is behind {evidence['findings']} finding(s) of {len(patterns)} kind(s) "
        + (f"in {periods[0]}" if len(periods) == 1 else f"between {periods[0]} and {periods[-1]}" if periods
           else "") + ": " + "; ".join(parts)
        + f". In all {money(evidence['total_risk'])} is at risk, most of it as {dominant}. Several kinds of "
        "irregularity by one person are a pattern of behaviour: review this salesperson's accounts as a whole.")
    top = patterns.get(evidence["dominant_pattern"], {}).get("top") or []
    first = ", ".join(f"{t['entity_type']} {t['entity_id']}" for t in top[:2])
    check_next = (f"Pull the records of the largest {dominant} finding(s)"
                  + (f" ({first})" if first else "")
                  + f" and ask salesperson {salesperson}'s manager to review the accounts of this salesperson as a "
                  f"whole.")
    return ending_with(f"Salesperson {salesperson}: {evidence['findings']} findings across {len(patterns)} patterns, "
                       f"mostly {dominant}", explanation, check_next)
