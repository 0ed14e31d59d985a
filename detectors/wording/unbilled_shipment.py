"""Wording of unbilled_shipment (SHP-01): goods shipped that no invoice bills."""

from __future__ import annotations

import pandas as pd

from audit.common import day, money
from audit.wording import Words, ending_with


def words(finding) -> Words:
    evidence = finding["evidence"]
    lines, linked = evidence["lines"], evidence["linked_invoice"]
    items = "; ".join(f"{line['product_id']}: shipped {line['shipped_qty']:g}, billed {line['billed_qty']:g}"
                      for line in lines[:5])
    if linked is None:
        link_words = "names no invoice and no posted invoice of its order or customer matches it"
    elif evidence["linked_invoice_status"] == "cancelled":
        link_words = f"names invoice {linked}, which was cancelled"
    else:
        link_words = f"names invoice {linked}, which bills less than was shipped"
    explanation = (
        f"Shipment {finding['entity_id']} to customer {finding['customer_id']} on {day(evidence['ship_date'])} "
        f"{link_words}: {items}. Unbilled goods worth about {money(finding['risk_amount'])} left the warehouse with "
        f"no receivable behind them, so nobody will ever ask for the money."
    )
    if any(pd.isna(line["unit_value"]) for line in lines):
        explanation += " Some products have no known price, so the value is understated."
    units = sum(line["unbilled_qty"] for line in lines)
    invoice_words = f" and invoice {linked}" if linked is not None else ""
    check_next = (f"Pull the delivery note of shipment {finding['entity_id']} signed by customer "
                  f"{finding['customer_id']}{invoice_words}, and ask the warehouse and the billing office why it was "
                  f"not billed.")
    return ending_with(f"Shipment {finding['entity_id']}: {units:g} units shipped without an invoice", explanation,
                       check_next)
