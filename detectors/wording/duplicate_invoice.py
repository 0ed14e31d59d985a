"""Wording of duplicate_invoice: an invoice that bills again what an earlier one billed (STD-02)."""

from __future__ import annotations

from audit.i18n import t, tn
from audit.wording import Words, clauses, day, ending_with, figure, money, sentences
from detectors.wording import share


def words(finding) -> Words:
    evidence, routine_share = finding["evidence"], finding["facts"]["routine_share"]
    copy, original, days = evidence["duplicate"], evidence["original"], evidence["days_apart"]
    order_share, shipment_share = (evidence["share_of_invoices_naming_an_order"],
                                   evidence["share_of_invoices_with_a_shipment"])
    when = t("the same day") if days == 0 else tn("%(days)s day later", "%(days)s days later", days,
                                                   days=figure(days))
    if evidence["identical_lines"]:
        lines_words = (t("the same line — products, quantities, prices and discounts") if copy["n_lines"] == 1 else
                       t("the same %(count)s lines — products, quantities, prices and discounts",
                         count=figure(copy["n_lines"])))
    else:
        lines_words = t("nearly the same lines (%(share)s of the value on the same products)",
                        share=figure(evidence["line_value_similarity"], ".0%"))
    reasons = []
    if evidence["same_order"]:
        reasons.append(t("it bills order %(order)s, which %(original)s already billed", order=copy["order_id"],
                         original=original["invoice_no"]))
    elif evidence["names_no_order"] and order_share >= routine_share:
        reasons.append(t("it names no order, while %(share)s of invoices do", share=share(order_share)))
    if evidence["traces"]["not_shipped"]:
        reasons.append(t("no shipment names it, while %(original)s was shipped", original=original["invoice_no"]))
    explanation = sentences(
        t("Invoice %(copy)s of %(date)s to customer %(customer)s (salesperson %(salesperson)s), %(amount)s, repeats "
          "invoice %(original)s of %(original_date)s (%(original_amount)s) %(when)s: %(lines)s.",
          copy=copy["invoice_no"], date=day(copy["invoice_date"]), customer=finding["customer_id"],
          salesperson=finding["salesperson_id"], amount=money(copy["amount"]), original=original["invoice_no"],
          original_date=day(original["invoice_date"]), original_amount=money(original["amount"]), when=when,
          lines=lines_words),
        t("Besides, %(reasons)s.", reasons=clauses(reasons)) if reasons else "",
        t("A second bill for one sale inflates the salesperson's sales and the customer's balance: the customer pays "
          "twice or the amount stays in receivables. Money at risk: the copy's amount."),
        t("Confidence is lower: invoices here rarely name an order or a shipment.")
        if order_share < routine_share and shipment_share < routine_share else "")
    check_next = t("Pull the delivery notes of invoices %(original)s and %(copy)s, and ask customer %(customer)s's "
                   "buyer whether it received these goods twice and salesperson %(salesperson)s why %(copy)s was "
                   "issued.", original=original["invoice_no"], copy=copy["invoice_no"],
                   customer=finding["customer_id"], salesperson=finding["salesperson_id"])
    return ending_with(t("Invoice %(copy)s repeats %(original)s (%(amount)s, %(when)s)", copy=copy["invoice_no"],
                         original=original["invoice_no"], amount=money(copy["amount"]), when=when),
                       explanation, check_next)
