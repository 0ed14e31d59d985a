"""Wording of salesperson_anomaly: one salesperson behind findings of several kinds (SPR-01), or a
salesperson-month unlike the others (ANO-01)."""

from __future__ import annotations

from audit import i18n
from audit.contract import pattern_label
from audit.i18n import t
from audit.wording import Words, clauses, ending_with, figure, items, money, month, sentences
from detectors.wording import entity_words
from detectors.wording.anomaly_drivers import (
    comparison,
    driver_short,
    drivers_sentence,
    feature_words,
    money_sentence,
)


def words(finding) -> Words:
    return _rollup(finding) if finding["detector"] == "SPR-01" else _unusual_month(finding)


def _pattern_words(pattern: str) -> str:
    """A pattern as the roll-up names it: its code's words in English, its human name in the other languages."""
    if i18n.current_language() == i18n.DEFAULT_LANGUAGE:
        return pattern.replace("_", " ")
    return pattern_label(pattern)


def _unusual_month(finding) -> Words:
    facts, salesperson, period = finding["facts"], finding["entity_id"], finding["period"]
    name = facts["name"]
    who = (t("Salesperson %(salesperson)s (%(name)s)", salesperson=salesperson, name=name) if isinstance(name, str)
           else t("Salesperson %(salesperson)s", salesperson=salesperson))
    explanation = sentences(
        t("%(who)s in %(period)s behaved unlike the other %(population)s %(comparison)s: %(drivers)s.", who=who,
          period=month(period), population=feature_words(finding["evidence"]["population_unit"]),
          comparison=comparison(finding), drivers=drivers_sentence(finding)),
        t("That month: %(count)s invoices, %(net)s net sales.", count=figure(facts["n_invoices"]),
          net=money(facts["net"])),
        money_sentence(finding),
        t("An unusual month is a lead for review, not a proof: look first at the records listed with it."))
    check_next = t("Pull salesperson %(salesperson)s's %(period)s invoices and the records listed with this finding, "
                   "and ask the salesperson's manager what drove the %(feature)s that month.",
                   salesperson=salesperson, period=month(period),
                   feature=feature_words(facts["drivers"][0]["words"]))
    return ending_with(t("Salesperson %(salesperson)s, %(period)s: unusual month — %(driver)s",
                         salesperson=salesperson, period=month(period), driver=driver_short(facts["drivers"][0])),
                       explanation, check_next)


def _rollup(finding) -> Words:
    evidence, facts = finding["evidence"], finding["facts"]
    salesperson, name, region, periods = finding["entity_id"], facts["name"], facts["region"], facts["periods"]
    patterns, dominant = evidence["patterns"], _pattern_words(evidence["dominant_pattern"])
    parts = [t("%(pattern)s: %(count)s finding(s), %(amount)s at risk", pattern=_pattern_words(pattern),
               count=figure(info["findings"]), amount=money(info["risk_amount"]))
             for pattern, info in patterns.items()]
    if not isinstance(name, str):
        who = t("Salesperson %(salesperson)s", salesperson=salesperson)
    elif isinstance(region, str):
        who = t("Salesperson %(salesperson)s (%(name)s, %(region)s)", salesperson=salesperson, name=name,
                region=region)
    else:
        who = t("Salesperson %(salesperson)s (%(name)s)", salesperson=salesperson, name=name)
    values = dict(who=who, findings=figure(evidence["findings"]), kinds=figure(len(patterns)), parts=clauses(parts))
    if len(periods) == 1:
        opening = t("%(who)s is behind %(findings)s finding(s) of %(kinds)s kind(s) in %(period)s: %(parts)s.",
                    period=month(periods[0]), **values)
    elif periods:
        opening = t("%(who)s is behind %(findings)s finding(s) of %(kinds)s kind(s) between %(first)s and %(last)s: "
                    "%(parts)s.", first=month(periods[0]), last=month(periods[-1]), **values)
    else:
        opening = t("%(who)s is behind %(findings)s finding(s) of %(kinds)s kind(s) : %(parts)s.", **values)
    explanation = sentences(
        opening,
        t("In all %(amount)s is at risk, most of it as %(pattern)s.", amount=money(evidence["total_risk"]),
          pattern=dominant),
        t("Several kinds of irregularity by one person are a pattern of behaviour: review this salesperson's accounts "
          "as a whole."))
    top = patterns.get(evidence["dominant_pattern"], {}).get("top") or []
    first = items(f"{entity_words(r['entity_type'])} {r['entity_id']}" for r in top[:2])
    check_next = (t("Pull the records of the largest %(pattern)s finding(s) (%(records)s) and ask salesperson "
                    "%(salesperson)s's manager to review the accounts of this salesperson as a whole.",
                    pattern=dominant, records=first, salesperson=salesperson) if first else
                  t("Pull the records of the largest %(pattern)s finding(s) and ask salesperson %(salesperson)s's "
                    "manager to review the accounts of this salesperson as a whole.", pattern=dominant,
                    salesperson=salesperson))
    return ending_with(t("Salesperson %(salesperson)s: %(findings)s findings across %(kinds)s patterns, mostly "
                         "%(pattern)s", salesperson=salesperson, findings=figure(evidence["findings"]),
                         kinds=figure(len(patterns)), pattern=dominant), explanation, check_next)
