"""Wording of salesperson_anomaly: one salesperson behind findings of several kinds (SPR-01).

ANO-01 (salesperson behaviour anomaly) shares the pattern and still words its findings in ``find``."""

from __future__ import annotations

from audit.common import money
from audit.wording import Words


def words(finding) -> Words:
    if finding["detector"] != "SPR-01":
        raise ValueError(f"salesperson_anomaly has no wording for {finding['detector']}'s findings yet")
    return _rollup(finding)


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
    return Words(f"Salesperson {salesperson}: {evidence['findings']} findings across {len(patterns)} patterns, "
                 f"mostly {dominant}", explanation)
