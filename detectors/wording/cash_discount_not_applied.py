"""Wording of cash_discount_not_applied (PAY-02): paid within the window, the cash discount not given."""

from __future__ import annotations

from audit.i18n import t
from audit.wording import Words, clauses, day, ending_with, figure, money, sentences
from detectors.wording import method_words, text


def words(finding) -> Words:
    evidence, facts = finding["evidence"], finding["facts"]
    is_cheque = evidence["method"] == "cheque"
    salesperson = text(finding["salesperson_id"])
    described = []
    for invoice_no, line in zip(facts["invoice_nos"], evidence["allocations"], strict=False):
        values = dict(invoice=invoice_no, date=day(line["invoice_date"]), paid=money(line["paid"]),
                      paid_on=day(line["paid_on"]), days=figure(int(line["days_after_invoice"])),
                      due=money(line["discount_due"]), booked=money(line["discount_given"]))
        described.append(
            t("invoice %(invoice)s of %(date)s: %(paid)s paid by a cheque due %(paid_on)s, %(days)s day(s) after the "
              "invoice, discount due %(due)s, booked %(booked)s", **values) if is_cheque else
            t("invoice %(invoice)s of %(date)s: %(paid)s paid on %(paid_on)s, %(days)s day(s) after the invoice, "
              "discount due %(due)s, booked %(booked)s", **values))
    lines = clauses(described)
    if facts["lines"] > 5:
        lines = t("%(lines)s and %(count)s more", lines=lines, count=figure(facts["lines"] - 5))
    method = t("a cheque") if is_cheque else method_words(evidence["method"])
    shortfall = evidence["shortfall"]
    values = dict(receipt=finding["entity_id"], customer=finding["customer_id"], method=method, lines=lines)
    explanation = sentences(
        t("Receipt %(receipt)s from customer %(customer)s (%(method)s, collected by %(salesperson)s): %(lines)s.",
          salesperson=salesperson, **values) if salesperson else
        t("Receipt %(receipt)s from customer %(customer)s (%(method)s): %(lines)s.", **values),
        t("Payments within %(days)s days of the invoice earn a %(pct)s %% cash discount, so %(shortfall)s of "
          "discount is missing: the customer paid in time but the discount was not given, which is how the "
          "difference is pocketed or withheld.", days=figure(evidence["within_days"]),
          pct=figure(evidence["pct"], "g"), shortfall=money(shortfall)))
    check_values = dict(receipt=finding["entity_id"], invoice=facts["invoice_nos"][0],
                        customer=finding["customer_id"], shortfall=money(shortfall), salesperson=salesperson)
    if is_cheque:
        check_next = (t("Pull the bank statement showing the cheque of receipt %(receipt)s cleared and invoice "
                        "%(invoice)s, and ask customer %(customer)s whether it deducted the %(shortfall)s discount "
                        "and salesperson %(salesperson)s why it was not booked.", **check_values) if salesperson else
                      t("Pull the bank statement showing the cheque of receipt %(receipt)s cleared and invoice "
                        "%(invoice)s, and ask customer %(customer)s whether it deducted the %(shortfall)s discount "
                        "and the cashier why it was not booked.", **check_values))
    else:
        check_next = (t("Pull the customer's copy of receipt %(receipt)s and invoice %(invoice)s, and ask customer "
                        "%(customer)s whether it deducted the %(shortfall)s discount and salesperson %(salesperson)s "
                        "why it was not booked.", **check_values) if salesperson else
                      t("Pull the customer's copy of receipt %(receipt)s and invoice %(invoice)s, and ask customer "
                        "%(customer)s whether it deducted the %(shortfall)s discount and the cashier why it was not "
                        "booked.", **check_values))
    return ending_with(t("Receipt %(receipt)s: paid within %(days)s days, %(shortfall)s cash discount not given",
                         receipt=finding["entity_id"], days=figure(evidence["within_days"]),
                         shortfall=money(shortfall)), explanation, check_next)
