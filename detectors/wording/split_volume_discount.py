"""Wording of split_volume_discount (DSC-01): a volume discount on goods shared among several buyers."""

from __future__ import annotations

import pandas as pd

from audit.common import day, money
from audit.wording import Words, ending_with


def _line_words(line) -> str:
    return (f"{line['product_id']}: {line['quantity']:g} units at {line['discount_pct']:g} % "
            f"{'promotion' if line['discount_type'] == 'promo' else 'tier'} discount"
            + (f", {line['multiple']:.0f} times the customer's usual {line['usual_quantity']:g}"
               if pd.notna(line["multiple"]) else ", with no earlier purchases to compare"))


def words(finding) -> Words:
    evidence, facts = finding["evidence"], finding["facts"]
    sent, others, dips = evidence["shipments"], evidence["other_customers"], evidence["co_buyers"]
    shipment_trace = facts["shipment_trace"]
    said = ["; ".join(_line_words(line) for line in evidence["lines"])]
    if shipment_trace is None:
        said.append("no shipment of the invoice is on record, so where the goods went cannot be checked")
    elif shipment_trace > 0:
        deliveries = "; ".join(
            f"{s['shipment_id']} ({s['quantity']:g} units) to {s.get('delivery_address') or 'unknown address'}"
            f", received by {s.get('received_by') or 'unknown'}" for s in sent[:6])
        who = f", reaching other customers {', '.join(others[:8])}" if others else ""
        said.append(f"the goods left in {len(sent)} shipment(s): {deliveries}{who}")
    if any(d["dipped"] for d in dips):
        said.append("their own purchases dipped in the same weeks (" + ", ".join(
            f"{d['customer_id']}: {d['in_window']} invoice(s) against about {d['expected']:g} usual"
            for d in dips if d["dipped"]) + ")")
    goods, discount = evidence["goods_value"], evidence["discount_granted"]
    promo_only = all(line["discount_type"] == "promo" for line in evidence["lines"])
    explanation = (
        f"Invoice {facts['invoice_no']} of {day(facts['invoice_date'])} to customer {finding['customer_id']} "
        f"(salesperson {finding['salesperson_id']}): " + "; ".join(said) + ". "
        + (f"A promotion covered these lines whatever the quantity, so booking the volume under one account "
           f"earned no extra discount here ({money(goods)} of goods); goods shared among several buyers under "
           "one account still hide who bought what (credit limits, per-customer terms)." if promo_only else
           f"The tier discount of {money(discount)} on {money(goods)} of goods is earned only by one big "
           "purchase; goods shared among several buyers under one account give that discount to shops that "
           "did not earn it.")
        + (" Confidence is lower: there is no shipment data." if shipment_trace is None else ""))
    title = (f"Invoice {facts['invoice_no']}: volume discount on {sum(line['quantity'] for line in evidence['lines']):g}"
             f" units booked under one customer"
             + (f", delivered to {len(others)} other customer(s)" if others else ""))
    shipments = ", ".join(s["shipment_id"] for s in sent[:3])
    pull = (f"the signed delivery notes of shipment(s) {shipments}" if shipments
            else f"the delivery records of invoice {facts['invoice_no']}")
    check_next = (f"Pull {pull}, and ask customer {finding['customer_id']}'s buyer whether it took all "
                  f"{sum(line['quantity'] for line in evidence['lines']):g} units itself"
                  + (f" (and {', '.join(others[:3])} what they received)" if others else "")
                  + f"; ask salesperson {finding['salesperson_id']}'s manager who approved the discount.")
    return ending_with(title, explanation, check_next)
