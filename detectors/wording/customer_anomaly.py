"""Wording of customer_anomaly: a customer-month unlike the others (ANO-02)."""

from __future__ import annotations

from audit.common import money
from audit.wording import Words, ending_with
from detectors.wording.anomaly_drivers import comparison, driver_short, drivers_sentence, money_sentence


def words(finding) -> Words:
    evidence, facts, customer, period = finding["evidence"], finding["facts"], finding["entity_id"], finding["period"]
    name, usual, sellers = facts["name"], evidence["usual_monthly_purchases"], evidence["salespeople"]
    who = f"Customer {customer}" + (f" ({name})" if isinstance(name, str) else "")
    usual_words = (f" against a usual {money(usual)} a month" if usual is not None else
                   " (too little history for a usual month)")
    explanation = (
        f"{who} in {period} looked unlike the other {evidence['population_unit']} {comparison(finding)}: "
        + drivers_sentence(finding) + ". "
        f"That month: {facts['n_invoices']} invoice(s), {money(facts['net'])} of purchases{usual_words}"
        + (f", invoiced by {', '.join(sellers)}" if sellers else "") + ". "
        + money_sentence(finding)
        + " An unusual month is a lead for review, not a proof: a customer heading for trouble, or a "
          "salesperson's favours to it, look like this, and so does an honest one-off."
    )
    asked = (f"salesperson {sellers[0]}" if len(sellers) == 1 else f"salespeople {', '.join(sellers[:3])}" if sellers
             else "the account's salesperson")
    check_next = (f"Pull customer {customer}'s {period} invoices and its statement for the month, and ask "
                  f"{asked} what changed ({facts['drivers'][0]['words']}).")
    return ending_with(f"Customer {customer}, {period}: unusual month — {driver_short(facts['drivers'][0])}",
                       explanation, check_next)
