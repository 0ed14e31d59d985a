"""Wording of customer_anomaly: a customer-month unlike the others (ANO-02)."""

from __future__ import annotations

from audit.i18n import t
from audit.wording import Words, ending_with, figure, items, money, month, sentences
from detectors.wording.anomaly_drivers import (
    comparison,
    driver_short,
    drivers_sentence,
    feature_words,
    money_sentence,
)


def words(finding) -> Words:
    evidence, facts, customer, period = finding["evidence"], finding["facts"], finding["entity_id"], finding["period"]
    name, usual, sellers = facts["name"], evidence["usual_monthly_purchases"], evidence["salespeople"]
    who = (t("Customer %(customer)s (%(name)s)", customer=customer, name=name) if isinstance(name, str)
           else t("Customer %(customer)s", customer=customer))
    values = dict(count=figure(facts["n_invoices"]), net=money(facts["net"]), usual=money(usual),
                  sellers=items(sellers))
    if usual is not None:
        month_words = (t("That month: %(count)s invoice(s), %(net)s of purchases against a usual %(usual)s a month, "
                         "invoiced by %(sellers)s.", **values) if sellers else
                       t("That month: %(count)s invoice(s), %(net)s of purchases against a usual %(usual)s a month.",
                         **values))
    else:
        month_words = (t("That month: %(count)s invoice(s), %(net)s of purchases (too little history for a usual "
                         "month), invoiced by %(sellers)s.", **values) if sellers else
                       t("That month: %(count)s invoice(s), %(net)s of purchases (too little history for a usual "
                         "month).", **values))
    explanation = sentences(
        t("%(who)s in %(period)s looked unlike the other %(population)s %(comparison)s: %(drivers)s.", who=who,
          period=month(period), population=feature_words(evidence["population_unit"]),
          comparison=comparison(finding), drivers=drivers_sentence(finding)),
        month_words, money_sentence(finding),
        t("An unusual month is a lead for review, not a proof: a customer heading for trouble, or a salesperson's "
          "favours to it, look like this, and so does an honest one-off."))
    if len(sellers) == 1:
        asked = t("salesperson %(salesperson)s", salesperson=sellers[0])
    elif sellers:
        asked = t("salespeople %(salespeople)s", salespeople=items(sellers[:3]))
    else:
        asked = t("the account's salesperson")
    check_next = t("Pull customer %(customer)s's %(period)s invoices and its statement for the month, and ask "
                   "%(asked)s what changed (%(feature)s).", customer=customer, period=month(period), asked=asked,
                   feature=feature_words(facts["drivers"][0]["words"]))
    return ending_with(t("Customer %(customer)s, %(period)s: unusual month — %(driver)s", customer=customer,
                         period=month(period), driver=driver_short(facts["drivers"][0])), explanation, check_next)
