"""Wording of added_invoice_items: goods billed beyond what the customer ordered (INV-01)."""

from __future__ import annotations

from audit.common import day, money
from audit.wording import Words, ending_with


def words(finding) -> Words:
    evidence, facts = finding["evidence"], finding["facts"]
    traces, lines, added_value = evidence["traces"], evidence["lines"], evidence["added_value"]
    said = []
    if "beyond_order" in traces:
        parts = []
        for line in lines[:6]:
            if line["ordered"] + line["amended"] == 0:
                parts.append(f"{line['product_id']} is not on the order ({line['invoiced']:g} billed, "
                             f"worth {money(line['added_value'])})")
            else:
                amended = f" plus {line['amended']:g} amended" if line["amended"] else ""
                parts.append(f"{line['product_id']}: {line['ordered']:g} ordered{amended}, {line['invoiced']:g} "
                             f"billed (+{line['added_qty']:g}, worth {money(line['added_value'])})")
        said.append(f"it bills more than order {evidence['order_id']} holds: {'; '.join(parts)}")
    if "never_bought" in traces:
        new_products = [line["product_id"] for line in lines if line["never_bought"]]
        said.append(f"the customer has never bought {', '.join(new_products[:5])} on any other invoice")
    if "credit_note_not_ordered" in traces:
        not_ordered = [n for n in evidence["credit_notes"] if n["reason"] == "not_ordered"]
        said.append("credit note " + ", ".join(
            f"{n['credit_note_id']} of {day(n['credit_date'])} for {money(n['amount'])}" for n in not_ordered)
            + " reverses goods the customer says it did not order")
    elif "credit_note_return_of_added_value" in traces:
        said.append("return credit note " + ", ".join(
            f"{n['credit_note_id']} of {day(n['credit_date'])}" for n in facts["matching_returns"])
            + f" gives back exactly the added {money(added_value)}")
    if "short_payment_of_added_value" in traces:
        said.append(f"the customer paid {money(evidence['paid'])} of {money(evidence['invoice_amount'])}, short by "
                    f"{money(evidence['shortfall'])}: exactly the added value")
    confirmation = evidence["confirmation"]
    if confirmation is not None and confirmation["gap"] > 0 and (
            "confirmation_lower_by_added_value" in traces or "confirmation_lower_than_ledger" in traces):
        said.append(f"the customer's confirmation at {day(confirmation['as_of_date'])} shows "
                    f"{money(float(confirmation['gap']))} less owed than the ledger")
    lower = "" if facts["compared_with_order"] else (
        " Confidence is lower: there is no order to compare the invoice with, so the added value is taken "
        "from the credit note.")
    explanation = (
        f"Invoice {facts['invoice_no']} of {day(facts['invoice_date'])} to customer {finding['customer_id']} "
        f"(salesperson {finding['salesperson_id']}), {money(evidence['invoice_amount'])} in all: "
        + "; ".join(said) + ". "
        f"Goods added to an invoice without the customer's order, worth {money(added_value)}, inflate sales "
        "and are later returned, refused or paid for by a customer who never wanted them." + lower)
    added = ", ".join(line["product_id"] for line in lines[:3]) or "the added goods"
    documents = (f"order {evidence['order_id']} and the delivery note of invoice {facts['invoice_no']}"
                 if facts["compared_with_order"] and evidence["order_id"] is not None
                 else f"the delivery note of invoice {facts['invoice_no']} and its credit notes")
    check_next = (f"Pull {documents}, and ask customer {finding['customer_id']}'s buyer whether they ordered "
                  f"and received {added}.")
    return ending_with(f"Invoice {facts['invoice_no']}: {money(added_value)} billed beyond the customer's order",
                       explanation, check_next)
