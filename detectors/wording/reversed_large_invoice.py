"""Wording of reversed_large_invoice: a very large invoice reversed by credit notes soon after (STD-11)."""

from __future__ import annotations

from audit.i18n import t
from audit.wording import Words, clauses, day, ending_with, figure, items, money, sentences


def words(finding) -> Words:
    evidence, facts = finding["evidence"], finding["facts"]
    invoice, notes, multiple = evidence["invoice"], evidence["credit_notes"], evidence["multiple_of_median"]
    described = []
    for n in notes:
        values = dict(note=n["credit_note_id"], date=day(n["credit_date"]), amount=money(n["credit_amount"]),
                      days=figure(n["days_after"]))
        described.append(t("credit note %(note)s of %(date)s, %(amount)s, %(days)s day(s) later (it names no "
                           "invoice: matched by customer, amount and date)", **values) if n["inferred"] else
                          t("credit note %(note)s of %(date)s, %(amount)s, %(days)s day(s) later", **values))
    explanation = sentences(
        t("Invoice %(invoice)s of %(date)s to customer %(customer)s (salesperson %(salesperson)s), %(amount)s, is "
          "%(multiple)s times the company's median invoice (%(median)s) and above %(quantile)s of all invoices, and "
          "was reversed soon after: %(notes)s.", invoice=invoice["invoice_no"], date=day(invoice["invoice_date"]),
          customer=finding["customer_id"], salesperson=finding["salesperson_id"], amount=money(invoice["amount"]),
          multiple=figure(multiple, ".0f"), median=money(evidence["company_median"]),
          quantile=figure(facts["company_quantile"], ".0%"), notes=clauses(described)),
        t("A very large invoice taken back within days inflates its month's sales without a sale behind it, or is a "
          "keying error that reached the books."))
    days = max(int(n["days_after"]) for n in notes)
    check_next = t("Pull the order and delivery note of invoice %(invoice)s and the reason given for credit note(s) "
                   "%(notes)s, and ask salesperson %(salesperson)s's manager who approved the reversal.",
                   invoice=invoice["invoice_no"], notes=items(n["credit_note_id"] for n in notes[:3]),
                   salesperson=finding["salesperson_id"])
    return ending_with(t("Invoice %(invoice)s: %(amount)s, %(multiple)s × the median, reversed %(days)s day(s) later",
                         invoice=invoice["invoice_no"], amount=money(invoice["amount"]),
                         multiple=figure(multiple, ".0f"), days=figure(days)), explanation, check_next)
