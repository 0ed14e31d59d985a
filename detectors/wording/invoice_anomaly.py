"""Wording of invoice_anomaly: an invoice unlike the others (ANO-03)."""

from __future__ import annotations

from audit.i18n import t
from audit.wording import Words, day, ending_with, money, sentences
from detectors.wording.anomaly_drivers import (
    comparison,
    driver_short,
    drivers_sentence,
    feature_words,
    money_sentence,
)


def words(finding) -> Words:
    evidence, facts = finding["evidence"], finding["facts"]
    median = evidence["customer_median"]
    values = dict(invoice=evidence["invoice_no"], date=day(facts["invoice_date"]), customer=finding["customer_id"],
                  salesperson=finding["salesperson_id"], net=money(evidence["net"]),
                  population=feature_words(evidence["population_unit"]), comparison=comparison(finding),
                  drivers=drivers_sentence(finding))
    opening = (t("Invoice %(invoice)s of %(date)s to customer %(customer)s (salesperson %(salesperson)s), %(net)s "
                 "net, is unlike the other %(population)s %(comparison)s: %(drivers)s; the customer's median invoice "
                 "is %(median)s.", median=money(median), **values) if median is not None else
               t("Invoice %(invoice)s of %(date)s to customer %(customer)s (salesperson %(salesperson)s), %(net)s "
                 "net, is unlike the other %(population)s %(comparison)s: %(drivers)s; the customer has too few "
                 "invoices for a usual amount.", **values))
    explanation = sentences(
        opening, money_sentence(finding),
        t("An unusual invoice is a lead for review, not a proof: compare it with its order, its delivery and the "
          "customer's confirmation."))
    check_next = t("Pull the order and delivery note of invoice %(invoice)s, and ask customer %(customer)s's buyer "
                   "to confirm the goods and the %(net)s it bills.", invoice=evidence["invoice_no"],
                   customer=finding["customer_id"], net=money(evidence["net"]))
    return ending_with(t("Invoice %(invoice)s: unusual — %(driver)s", invoice=evidence["invoice_no"],
                         driver=driver_short(facts["drivers"][0])), explanation, check_next)
