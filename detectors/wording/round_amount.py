"""Wording of round_amount: a salesperson's (STD-04) or customer's (STD-08) amounts in round figures."""

from __future__ import annotations

from audit.i18n import t
from audit.wording import Words, both, clauses, ending_with, figure, items, money, sentences
from detectors.wording import share


def words(finding) -> Words:
    evidence = finding["evidence"]
    salesperson = finding["detector"] == "STD-04"
    group = (t("Salesperson %(salesperson)s", salesperson=finding["entity_id"]) if salesperson
             else t("Customer %(customer)s", customer=finding["entity_id"]))
    described = []
    for name, rows in (("invoices", evidence["round_invoices"]), ("cash_receipts", evidence["round_cash_receipts"])):
        test = evidence["tests"][name]
        if not test["flagged"]:
            continue
        values = dict(count=figure(test["k"]), total=figure(test["n"], ","), share=share(test["rate"]),
                      population=share(test["population_rate"]),
                      examples=items(money(row["amount"]) for row in rows[:4]))
        described.append(
            t("%(count)s of its %(total)s invoices are in round figures (%(share)s, against %(population)s in the "
              "rest of the ledger; e.g. %(examples)s)", **values) if name == "invoices" else
            t("%(count)s of its %(total)s cash receipts are in round figures (%(share)s, against %(population)s in "
              "the rest of the ledger; e.g. %(examples)s)", **values))
    explanation = sentences(
        t("%(group)s: %(tests)s.", group=group, tests=clauses(described)),
        t("Round totals are typed in, not computed from prices and quantities — invoices whose lines are themselves "
          "round (a round price list) are not counted."),
        t("A figure chosen by someone can hide an invented sale, a quantity tuned to reach a number, or cash kept "
          "back to a round sum."),
        t("The round amounts beyond the rest of the ledger's rate are worth about %(amount)s.",
          amount=money(finding["risk_amount"])),
        t("This is a screen: it says which records to look at."))
    invoices = [row["invoice_no"] for row in evidence["round_invoices"][:3]]
    receipts = [row["receipt_id"] for row in evidence["round_cash_receipts"][:3]]
    pull = both(bit for bit in (
        t("the orders and price sheets of invoices %(invoices)s", invoices=items(invoices)) if invoices else "",
        t("the customers' copies of cash receipts %(receipts)s", receipts=items(receipts)) if receipts else "")
        if bit)
    values = dict(pull=pull or t("the round records"), who=finding["entity_id"])
    check_next = (t("Pull %(pull)s, and ask salesperson %(who)s's manager how those round sums were arrived at.",
                    **values) if salesperson else
                  t("Pull %(pull)s, and ask customer %(who)s's buyer how those round sums were arrived at.", **values))
    return ending_with(t("%(group)s: unusually many round amounts", group=group), explanation, check_next)
