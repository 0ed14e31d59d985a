"""Wording of split_volume_discount (DSC-01): a volume discount on goods shared among several buyers."""

from __future__ import annotations

import pandas as pd

from audit.i18n import t
from audit.wording import Words, clauses, day, ending_with, figure, items, money, sentences


def _line_words(line) -> str:
    values = dict(product=line["product_id"], quantity=figure(line["quantity"], "g"),
                  pct=figure(line["discount_pct"], "g"))
    promotion = line["discount_type"] == "promo"
    if pd.notna(line["multiple"]):
        values.update(multiple=figure(line["multiple"], ".0f"), usual=figure(line["usual_quantity"], "g"))
        return (t("%(product)s: %(quantity)s units at %(pct)s %% promotion discount, %(multiple)s times the "
                  "customer's usual %(usual)s", **values) if promotion else
                t("%(product)s: %(quantity)s units at %(pct)s %% tier discount, %(multiple)s times the customer's "
                  "usual %(usual)s", **values))
    return (t("%(product)s: %(quantity)s units at %(pct)s %% promotion discount, with no earlier purchases to "
              "compare", **values) if promotion else
            t("%(product)s: %(quantity)s units at %(pct)s %% tier discount, with no earlier purchases to compare",
              **values))


def words(finding) -> Words:
    evidence, facts = finding["evidence"], finding["facts"]
    sent, others, dips = evidence["shipments"], evidence["other_customers"], evidence["co_buyers"]
    shipment_trace = facts["shipment_trace"]
    said = [clauses(_line_words(line) for line in evidence["lines"])]
    if shipment_trace is None:
        said.append(t("no shipment of the invoice is on record, so where the goods went cannot be checked"))
    elif shipment_trace > 0:
        deliveries = clauses(
            t("%(shipment)s (%(quantity)s units) to %(address)s, received by %(receiver)s", shipment=s["shipment_id"],
              quantity=figure(s["quantity"], "g"), address=s.get("delivery_address") or t("unknown address"),
              receiver=s.get("received_by") or t("unknown")) for s in sent[:6])
        values = dict(count=figure(len(sent)), deliveries=deliveries, others=items(others[:8]))
        said.append(t("the goods left in %(count)s shipment(s): %(deliveries)s, reaching other customers %(others)s",
                      **values) if others else
                    t("the goods left in %(count)s shipment(s): %(deliveries)s", **values))
    if any(d["dipped"] for d in dips):
        said.append(t("their own purchases dipped in the same weeks (%(dips)s)", dips=items(
            t("%(customer)s: %(count)s invoice(s) against about %(expected)s usual", customer=d["customer_id"],
              count=figure(d["in_window"]), expected=figure(d["expected"], "g")) for d in dips if d["dipped"])))
    unnamed = evidence.get("unnamed_co_buyers") or {}
    stopped = list(unnamed.get("dipped", [])) if unnamed.get("strength", 0) > 0 else []
    if stopped:
        said.append(t("no delivery names other buyers, but %(count)s of the %(tested)s regular customers of the same "
                      "salesperson bought far less in the same weeks (%(dips)s), a chance of about 1 in %(odds)s "
                      "that so many stop at once", count=figure(len(stopped)), tested=figure(unnamed["neighbours_tested"]),
                      dips=items(t("%(customer)s: %(count)s invoice(s) against about %(expected)s usual",
                                   customer=d["customer_id"], count=figure(d["in_window"]),
                                   expected=figure(d["expected"], "g")) for d in stopped[:5]),
                      odds=figure(unnamed["one_in"])))
    goods, discount = evidence["goods_value"], evidence["discount_granted"]
    promo_only = all(line["discount_type"] == "promo" for line in evidence["lines"])
    explanation = sentences(
        t("Invoice %(invoice)s of %(date)s to customer %(customer)s (salesperson %(salesperson)s): %(said)s.",
          invoice=facts["invoice_no"], date=day(facts["invoice_date"]), customer=finding["customer_id"],
          salesperson=finding["salesperson_id"], said=clauses(said)),
        t("A promotion covered these lines whatever the quantity, so booking the volume under one account earned no "
          "extra discount here (%(goods)s of goods); goods shared among several buyers under one account still hide "
          "who bought what (credit limits, per-customer terms).", goods=money(goods)) if promo_only else
        t("The tier discount of %(discount)s on %(goods)s of goods is earned only by one big purchase; goods shared "
          "among several buyers under one account give that discount to shops that did not earn it.",
          discount=money(discount), goods=money(goods)),
        t("Confidence is lower: there is no shipment data.") if shipment_trace is None else "")
    units = figure(sum(line["quantity"] for line in evidence["lines"]), "g")
    title = (t("Invoice %(invoice)s: volume discount on %(units)s units booked under one customer, delivered to "
               "%(count)s other customer(s)", invoice=facts["invoice_no"], units=units, count=figure(len(others)))
             if others else
             t("Invoice %(invoice)s: volume discount on %(units)s units booked under one customer",
               invoice=facts["invoice_no"], units=units))
    shipments = items(s["shipment_id"] for s in sent[:3])
    pull = (t("the signed delivery notes of shipment(s) %(shipments)s", shipments=shipments) if shipments
            else t("the delivery records of invoice %(invoice)s", invoice=facts["invoice_no"]))
    asked = others or [d["customer_id"] for d in stopped]
    values = dict(pull=pull, customer=finding["customer_id"], units=units, others=items(asked[:3]),
                  salesperson=finding["salesperson_id"])
    check_next = (t("Pull %(pull)s, and ask customer %(customer)s's buyer whether it took all %(units)s units itself "
                    "(and %(others)s what they received); ask salesperson %(salesperson)s's manager who approved the "
                    "discount.", **values) if asked else
                  t("Pull %(pull)s, and ask customer %(customer)s's buyer whether it took all %(units)s units itself; "
                    "ask salesperson %(salesperson)s's manager who approved the discount.", **values))
    return ending_with(title, explanation, check_next)
