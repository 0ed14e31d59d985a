"""Wording of reversed_large_invoice: a very large invoice reversed by credit notes soon after (STD-11)."""

from __future__ import annotations

from audit.common import day, money
from audit.wording import Words, ending_with


def words(finding) -> Words:
    evidence, facts = finding["evidence"], finding["facts"]
    invoice, notes, multiple = evidence["invoice"], evidence["credit_notes"], evidence["multiple_of_median"]
    described = "; ".join(
        f"credit note {n['credit_note_id']} of {day(n['credit_date'])}, {money(n['credit_amount'])}, "
        f"{n['days_after']} day(s) later"
        + (" (it names no invoice: matched by customer, amount and date)" if n["inferred"] else "")
        for n in notes)
    explanation = (
        f"Invoice {invoice['invoice_no']} of {day(invoice['invoice_date'])} to customer {finding['customer_id']} "
        f"(salesperson {finding['salesperson_id']}), {money(invoice['amount'])}, is {multiple:.0f} times the "
        f"company's median invoice ({money(evidence['company_median'])}) and above {facts['company_quantile']:.0%} "
        f"of all invoices, and was reversed soon after: {described}. A very large invoice taken back within days "
        "inflates its month's sales without a sale behind it, or is a keying error that reached the books.")
    days = max(int(n["days_after"]) for n in notes)
    check_next = (f"Pull the order and delivery note of invoice {invoice['invoice_no']} and the reason given "
                  f"for credit note(s) {', '.join(n['credit_note_id'] for n in notes[:3])}, and ask salesperson "
                  f"{finding['salesperson_id']}'s manager who approved the reversal.")
    return ending_with(f"Invoice {invoice['invoice_no']}: {money(invoice['amount'])}, {multiple:.0f} × the median, "
                       f"reversed {days} day(s) later", explanation, check_next)
