"""Wording of cash_discount_not_applied (PAY-02): paid within the window, the cash discount not given."""

from __future__ import annotations

from audit.common import day, money
from audit.wording import Words, ending_with
from detectors.wording import text


def words(finding) -> Words:
    evidence, facts = finding["evidence"], finding["facts"]
    is_cheque = evidence["method"] == "cheque"
    salesperson = text(finding["salesperson_id"])
    described = [
        f"invoice {invoice_no} of {day(line['invoice_date'])}: {money(line['paid'])} paid "
        f"{'by a cheque due' if is_cheque else 'on'} {day(line['paid_on'])}, {int(line['days_after_invoice'])} "
        f"day(s) after the invoice, discount due {money(line['discount_due'])}, booked {money(line['discount_given'])}"
        for invoice_no, line in zip(facts["invoice_nos"], evidence["allocations"], strict=False)]
    more = f" and {facts['lines'] - 5} more" if facts["lines"] > 5 else ""
    method_words = "a cheque" if is_cheque else f"{evidence['method']}"
    shortfall = evidence["shortfall"]
    explanation = (
        f"Receipt {finding['entity_id']} from customer {finding['customer_id']} ({method_words}"
        + (f", collected by {salesperson}" if salesperson else "") + f"): {'; '.join(described)}{more}. "
        f"Payments within {evidence['within_days']} days of the invoice earn a {evidence['pct']:g} % cash discount, "
        f"so {money(shortfall)} of discount is missing: the customer paid in time but the discount was not given, "
        f"which is how the difference is pocketed or withheld."
    )
    proof = (f"the bank statement showing the cheque of receipt {finding['entity_id']} cleared"
             if is_cheque else f"the customer's copy of receipt {finding['entity_id']}")
    check_next = (f"Pull {proof} and invoice {facts['invoice_nos'][0]}, and ask customer "
                  f"{finding['customer_id']} whether it deducted the {money(shortfall)} discount"
                  + (f" and salesperson {salesperson} why it was not booked." if salesperson
                     else " and the cashier why it was not booked."))
    return ending_with(f"Receipt {finding['entity_id']}: paid within {evidence['within_days']} days, "
                       f"{money(shortfall)} cash discount not given", explanation, check_next)
