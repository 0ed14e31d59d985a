"""Wording of unbilled_shipment (SHP-01): goods shipped that no invoice bills."""

from __future__ import annotations

import pandas as pd

from audit.i18n import t
from audit.wording import Words, clauses, day, ending_with, figure, money, sentences


def words(finding) -> Words:
    evidence = finding["evidence"]
    lines, linked = evidence["lines"], evidence["linked_invoice"]
    shipped = clauses(t("%(product)s: shipped %(shipped)s, billed %(billed)s", product=line["product_id"],
                        shipped=figure(line["shipped_qty"], "g"), billed=figure(line["billed_qty"], "g"))
                      for line in lines[:5])
    if linked is None:
        link_words = t("names no invoice and no posted invoice of its order or customer matches it")
    elif evidence["linked_invoice_status"] == "cancelled":
        link_words = t("names invoice %(invoice)s, which was cancelled", invoice=linked)
    else:
        link_words = t("names invoice %(invoice)s, which bills less than was shipped", invoice=linked)
    explanation = sentences(
        t("Shipment %(shipment)s to customer %(customer)s on %(date)s %(link)s: %(lines)s.",
          shipment=finding["entity_id"], customer=finding["customer_id"], date=day(evidence["ship_date"]),
          link=link_words, lines=shipped),
        t("Unbilled goods worth about %(amount)s left the warehouse with no receivable behind them, so nobody will "
          "ever ask for the money.", amount=money(finding["risk_amount"])),
        t("Some products have no known price, so the value is understated.")
        if any(pd.isna(line["unit_value"]) for line in lines) else "")
    units = sum(line["unbilled_qty"] for line in lines)
    values = dict(shipment=finding["entity_id"], customer=finding["customer_id"], invoice=linked)
    check_next = (t("Pull the delivery note of shipment %(shipment)s signed by customer %(customer)s and invoice "
                    "%(invoice)s, and ask the warehouse and the billing office why it was not billed.", **values)
                  if linked is not None else
                  t("Pull the delivery note of shipment %(shipment)s signed by customer %(customer)s, and ask the "
                    "warehouse and the billing office why it was not billed.", **values))
    return ending_with(t("Shipment %(shipment)s: %(units)s units shipped without an invoice",
                         shipment=finding["entity_id"], units=figure(units, "g")), explanation, check_next)
