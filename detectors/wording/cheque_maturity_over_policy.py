"""Wording of cheque_maturity_over_policy (CHQ-02): a cheque accepted with a longer maturity than allowed."""

from __future__ import annotations

from audit.i18n import t
from audit.wording import Words, day, ending_with, figure, items, money, sentences


def words(finding) -> Words:
    evidence, facts = finding["evidence"], finding["facts"]
    number, maturity, over = facts["cheque_no"], figure(evidence["maturity_days"]), figure(evidence["days_over"])
    terms = evidence["customer_terms_days"]
    values = dict(cheque=number, amount=money(evidence["amount"]), customer=finding["customer_id"],
                  received=day(evidence["received_date"]), due=day(evidence["due_date"]), days=maturity, over=over,
                  allowed=figure(facts["allowed_days"]), maximum=figure(evidence["max_maturity_days"]))
    if terms is not None:
        opening = t("Cheque %(cheque)s of %(amount)s from customer %(customer)s was received on %(received)s and is "
                    "due on %(due)s: %(days)s days, %(over)s more than the %(allowed)s allowed (policy maximum "
                    "%(maximum)s; the customer's terms are %(terms)s days).", terms=figure(terms), **values)
    else:
        opening = t("Cheque %(cheque)s of %(amount)s from customer %(customer)s was received on %(received)s and is "
                    "due on %(due)s: %(days)s days, %(over)s more than the %(allowed)s allowed (policy maximum "
                    "%(maximum)s).", **values)
    past_terms = evidence["invoices_paid"]
    invoice_words = ""
    if past_terms:
        worst = max(i["days_past_invoice_due"] for i in past_terms)
        invoice_words = t("It pays %(count)s invoice(s) and matures up to %(days)s days after their due dates, "
                          "beyond the invoices' terms.", count=figure(len(past_terms)), days=figure(worst))
    replacements = evidence["replacement_cheques"]
    explanation = sentences(
        opening, invoice_words,
        t("Accepting a cheque this long extends credit the company did not grant and keeps the money at risk "
          "longer."),
        t("It was later replaced by cheque(s) %(cheques)s, which carry the same debt.", cheques=items(replacements))
        if replacements else "")
    check_next = t("Pull cheque %(cheque)s's copy (due %(due)s) and any approval of its maturity, and ask the "
                   "treasury who accepted a %(days)s-day cheque from customer %(customer)s.", cheque=number,
                   due=day(evidence["due_date"]), days=maturity, customer=finding["customer_id"])
    return ending_with(t("Cheque %(cheque)s: %(days)s-day maturity, %(over)s days over policy", cheque=number,
                         days=maturity, over=over), explanation, check_next)
