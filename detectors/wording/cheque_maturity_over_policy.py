"""Wording of cheque_maturity_over_policy (CHQ-02): a cheque accepted with a longer maturity than allowed."""

from __future__ import annotations

from audit.common import day, money
from audit.wording import Words, ending_with


def words(finding) -> Words:
    evidence, facts = finding["evidence"], finding["facts"]
    number, maturity, over = facts["cheque_no"], evidence["maturity_days"], evidence["days_over"]
    terms = evidence["customer_terms_days"]
    terms_words = f"; the customer's terms are {terms} days" if terms is not None else ""
    past_terms = evidence["invoices_paid"]
    invoice_words = ""
    if past_terms:
        worst = max(i["days_past_invoice_due"] for i in past_terms)
        invoice_words = (f" It pays {len(past_terms)} invoice(s) and matures up to {worst} days after their due "
                         f"dates, beyond the invoices' terms.")
    explanation = (
        f"Cheque {number} of {money(evidence['amount'])} from customer {finding['customer_id']} was received on "
        f"{day(evidence['received_date'])} and is due on {day(evidence['due_date'])}: {maturity} days, {over} more "
        f"than the {facts['allowed_days']} allowed (policy maximum {evidence['max_maturity_days']}{terms_words})."
        f"{invoice_words} Accepting a cheque this long extends credit the company did not grant and keeps the "
        f"money at risk longer."
    )
    replacements = evidence["replacement_cheques"]
    if replacements:
        explanation += f" It was later replaced by cheque(s) {', '.join(replacements)}, which carry the same debt."
    check_next = (f"Pull cheque {number}'s copy (due {day(evidence['due_date'])}) and any approval of its "
                  f"maturity, and ask the treasury who accepted a {maturity}-day cheque from customer "
                  f"{finding['customer_id']}.")
    return ending_with(f"Cheque {number}: {maturity}-day maturity, {over} days over policy", explanation, check_next)
