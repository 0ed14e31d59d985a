"""Wording of added_invoice_items: goods billed beyond what the customer ordered (INV-01)."""

from __future__ import annotations

from audit.i18n import t
from audit.wording import Words, clauses, day, ending_with, figure, items, money, sentences


def _line_words(line) -> str:
    if line["ordered"] + line["amended"] == 0:
        return t("%(product)s is not on the order (%(billed)s billed, worth %(value)s)", product=line["product_id"],
                 billed=figure(line["invoiced"], "g"), value=money(line["added_value"]))
    values = dict(product=line["product_id"], ordered=figure(line["ordered"], "g"),
                  billed=figure(line["invoiced"], "g"), added=figure(line["added_qty"], "g"),
                  value=money(line["added_value"]))
    if line["amended"]:
        return t("%(product)s: %(ordered)s ordered plus %(amended)s amended, %(billed)s billed (+%(added)s, worth "
                 "%(value)s)", amended=figure(line["amended"], "g"), **values)
    return t("%(product)s: %(ordered)s ordered, %(billed)s billed (+%(added)s, worth %(value)s)", **values)


def words(finding) -> Words:
    evidence, facts = finding["evidence"], finding["facts"]
    traces, lines, added_value = evidence["traces"], evidence["lines"], evidence["added_value"]
    said = []
    if "beyond_order" in traces:
        said.append(t("it bills more than order %(order)s holds: %(lines)s", order=evidence["order_id"],
                      lines=clauses(_line_words(line) for line in lines[:6])))
    if "never_bought" in traces:
        new_products = [line["product_id"] for line in lines if line["never_bought"]]
        said.append(t("the customer has never bought %(products)s on any other invoice",
                      products=items(new_products[:5])))
    if "credit_note_not_ordered" in traces:
        not_ordered = [n for n in evidence["credit_notes"] if n["reason"] == "not_ordered"]
        said.append(t("credit note %(notes)s reverses goods the customer says it did not order", notes=items(
            t("%(note)s of %(date)s for %(amount)s", note=n["credit_note_id"], date=day(n["credit_date"]),
              amount=money(n["amount"])) for n in not_ordered)))
    elif "credit_note_return_of_added_value" in traces:
        said.append(t("return credit note %(notes)s gives back exactly the added %(amount)s", notes=items(
            t("%(note)s of %(date)s", note=n["credit_note_id"], date=day(n["credit_date"]))
            for n in facts["matching_returns"]), amount=money(added_value)))
    if "short_payment_of_added_value" in traces:
        said.append(t("the customer paid %(paid)s of %(amount)s, short by %(shortfall)s: exactly the added value",
                      paid=money(evidence["paid"]), amount=money(evidence["invoice_amount"]),
                      shortfall=money(evidence["shortfall"])))
    confirmation = evidence["confirmation"]
    if confirmation is not None and confirmation["gap"] > 0 and (
            "confirmation_lower_by_added_value" in traces or "confirmation_lower_than_ledger" in traces):
        said.append(t("the customer's confirmation at %(date)s shows %(gap)s less owed than the ledger",
                      date=day(confirmation["as_of_date"]), gap=money(float(confirmation["gap"]))))
    explanation = sentences(
        t("Invoice %(invoice)s of %(date)s to customer %(customer)s (salesperson %(salesperson)s), %(amount)s in "
          "all: %(traces)s.", invoice=facts["invoice_no"], date=day(facts["invoice_date"]),
          customer=finding["customer_id"], salesperson=finding["salesperson_id"],
          amount=money(evidence["invoice_amount"]), traces=clauses(said)),
        t("Goods added to an invoice without the customer's order, worth %(amount)s, inflate sales and are later "
          "returned, refused or paid for by a customer who never wanted them.", amount=money(added_value)),
        "" if facts["compared_with_order"] else
        t("Confidence is lower: there is no order to compare the invoice with, so the added value is taken from "
          "the credit note."))
    added = items(line["product_id"] for line in lines[:3]) or t("the added goods")
    if facts["compared_with_order"] and evidence["order_id"] is not None:
        check_next = t("Pull order %(order)s and the delivery note of invoice %(invoice)s, and ask customer "
                       "%(customer)s's buyer whether they ordered and received %(products)s.",
                       order=evidence["order_id"], invoice=facts["invoice_no"], customer=finding["customer_id"],
                       products=added)
    else:
        check_next = t("Pull the delivery note of invoice %(invoice)s and its credit notes, and ask customer "
                       "%(customer)s's buyer whether they ordered and received %(products)s.",
                       invoice=facts["invoice_no"], customer=finding["customer_id"], products=added)
    return ending_with(t("Invoice %(invoice)s: %(amount)s billed beyond the customer's order",
                         invoice=facts["invoice_no"], amount=money(added_value)), explanation, check_next)
