"""Wording of invoice_anomaly: an invoice unlike the others (ANO-03)."""

from __future__ import annotations

from audit.common import day, money
from audit.wording import Words, ending_with
from detectors.wording.anomaly_drivers import comparison, driver_short, drivers_sentence, money_sentence


def words(finding) -> Words:
    evidence, facts = finding["evidence"], finding["facts"]
    median = evidence["customer_median"]
    usual = (f"; the customer's median invoice is {money(median)}" if median is not None
             else "; the customer has too few invoices for a usual amount")
    explanation = (
        f"Invoice {evidence['invoice_no']} of {day(facts['invoice_date'])} to customer {finding['customer_id']} "
        f"(salesperson {finding['salesperson_id']}), {money(evidence['net'])} net, is unlike the other "
        f"{evidence['population_unit']} {comparison(finding)}: "
        + drivers_sentence(finding) + f"{usual}. "
        + money_sentence(finding)
        + " An unusual invoice is a lead for review, not a proof: compare it with its order, "
          "its delivery and the customer's confirmation."
    )
    check_next = (f"Pull the order and delivery note of invoice {evidence['invoice_no']}, and ask customer "
                  f"{finding['customer_id']}'s buyer to confirm the goods and the {money(evidence['net'])} it bills.")
    return ending_with(f"Invoice {evidence['invoice_no']}: unusual — {driver_short(facts['drivers'][0])}",
                       explanation, check_next)
