"""Wording of multi_name_invoicing (CUS-02): one buyer invoiced under several names."""

from __future__ import annotations

import pandas as pd

from audit.i18n import N_, t
from audit.wording import Words, clauses, day, ending_with, figure, items, money, sentences

WORDS = {"shared_phone": N_("phone"), "shared_address": N_("address"), "shared_bank_account": N_("bank account"),
         "cheque_drawer": N_("cheque drawer"), "shared_owner_name": N_("owner")}


def _pair_words(pair) -> str:
    parts = []
    for kind, info in sorted(pair["shared"].items()):
        value = info["value"] if info["value"] == info["other_value"] else f"{info['value']} / {info['other_value']}"
        if kind == "cheque_drawer":
            parts.append(t("%(payer)s paid with cheques drawn on %(drawer)s's account or name (%(value)s)",
                           payer=info["from"], drawer=info["to"], value=value))
        else:
            parts.append(t("the same %(what)s (%(value)s)", what=t(WORDS[kind]), value=value))
    for d in sorted(pair["delivered"], key=lambda d: (d["kind"], d["from"])):
        values = dict(share=figure(d["share"], ".0%"), account=d["from"], other=d["to"], value=d.get("value"))
        if d["kind"] == "delivery_point":
            parts.append(t("%(share)s of %(account)s's shipments delivered at %(other)s's place at %(value)s",
                           **values) if d.get("value") else
                         t("%(share)s of %(account)s's shipments delivered at %(other)s's place", **values))
        else:
            parts.append(t("%(share)s of %(account)s's shipments received by %(value)s, %(other)s's owner",
                           **values))
    timing = pair["timing"]
    if timing.get("strength", 0) > 0:
        parts.append(t("%(older)s bought in %(rate)s of months but in %(overlap)s of the %(months)s months "
                       "%(newer)s bought (about %(expected)s expected)", older=pair["older"],
                       rate=figure(timing["older_monthly_rate"], ".0%"), overlap=figure(timing["observed_overlap"]),
                       months=figure(timing["months_tested"]), newer=pair["newer"],
                       expected=figure(timing["expected_overlap"], "g")))
    readings = pair.get("readings")
    if readings:
        parts.append(_readings_words(readings))
    return t("%(newer)s and %(older)s: %(parts)s", newer=pair["newer"], older=pair["older"], parts=clauses(parts))


LAPPING_WORDS = {"drawer_paid_late": N_("the drawer's own invoices went late"),
                 "drawer_invoice_of_the_cheques_amount": N_("one of them for the cheque's amount"),
                 "posted_late": N_("the receipt was booked late"),
                 "one_collector": N_("one salesperson collects from both"),
                 "payees_overdue_invoices": N_("it paid overdue invoices of the payee")}


def _readings_words(readings) -> str:
    """The two readings of a cheque drawn on the other account, with their weights."""
    lapping = [t(LAPPING_WORDS[k]) for k in readings["lapping_traces"] if k in LAPPING_WORDS]
    weight = figure(readings["lapping"], ".2f")
    lapping_words = (t("lapping weighs %(weight)s (%(traces)s)", weight=weight, traces=items(lapping)) if lapping
                     else t("lapping weighs %(weight)s", weight=weight))
    if readings.get("lapping_receipts", 1) > 1 and readings.get("lapping_strongest", 0) > readings["lapping"]:
        # the pair's weight is its cheques' average: say so, and what the strongest one showed
        lapping_words = t("lapping weighs %(weight)s averaged over its %(count)s cheques (at most %(strongest)s: "
                          "%(traces)s)", weight=weight, count=figure(readings["lapping_receipts"]),
                          strongest=figure(readings["lapping_strongest"], ".2f"), traces=items(lapping))
    one_buyer_words = t("one buyer weighs %(weight)s on the traces beyond the cheque",
                        weight=figure(readings["one_buyer"], ".2f"))
    if readings["reported"] == "one_buyer":
        return t("the cheque could also be lapping (receipt %(receipt)s), but %(one_buyer)s and %(lapping)s",
                 receipt=readings["lapping_receipt"], one_buyer=one_buyer_words, lapping=lapping_words)
    if readings["reported"] == "related_payment":
        return t("the cheque (receipt %(receipt)s) reads as one related business paying for the other now and "
                 "then: %(one_buyer)s, none of it beyond the cheques and the owner's name, neither account is "
                 "new, and %(lapping)s; it is not counted here", receipt=readings["lapping_receipt"],
                 one_buyer=one_buyer_words, lapping=lapping_words)
    return t("the cheque itself (receipt %(receipt)s) reads as lapping, not as one buyer: %(lapping)s, "
             "%(one_buyer)s; it is left to payment_swap and not counted here", receipt=readings["lapping_receipt"],
             one_buyer=one_buyer_words, lapping=lapping_words)


def words(finding) -> Words:
    evidence = finding["evidence"]
    accounts = evidence["accounts"]
    anchor, others = accounts[0], accounts[1:]
    above = evidence["above_limit"]
    if pd.notna(above) and above > 0:
        risk_words = t("together the accounts owed up to %(peak)s on %(date)s, %(above)s above %(customer)s's credit "
                       "limit of %(limit)s", peak=money(evidence["peak_balance"]), date=day(evidence["peak_date"]),
                       above=money(above), customer=anchor["customer_id"], limit=money(evidence["credit_limit"]))
    elif pd.notna(evidence["credit_limit"]):
        risk_words = t("the group's open balance is %(open)s (within %(customer)s's credit limit of %(limit)s)",
                       open=money(evidence["open_balance"]), customer=anchor["customer_id"],
                       limit=money(evidence["credit_limit"]))
    else:
        risk_words = t("the group's open balance is %(open)s", open=money(evidence["open_balance"]))
    said = [_pair_words(pair) for pair in evidence["pairs"][:6]]
    listed = items(t("%(customer)s %(name)s opened %(date)s", customer=a["customer_id"], name=a["name"],
                     date=day(a["created_date"])) for a in others)
    explanation = sentences(
        t("Customer %(customer)s (%(name)s, on record since %(date)s) and %(count)s other account(s) (%(listed)s) "
          "look like one buyer invoiced under several names: %(pairs)s.", customer=anchor["customer_id"],
          name=anchor["name"], date=day(anchor["created_date"]), count=figure(len(others)), listed=listed,
          pairs=" | ".join(said)),
        t("The accounts were invoiced %(amount)s in all; %(risk)s.",
          amount=money(sum(a["invoiced"] for a in accounts)), risk=risk_words),
        t("Several names for one buyer get round its credit limit and per-customer caps, so the company carries more "
          "exposure on it than it agreed to."))
    check_next = t("Pull the account-opening files of %(customer)s and %(others)s with their credit approvals, and "
                   "ask the credit controller and the salesperson who opened them whether they are one buyer.",
                   customer=anchor["customer_id"], others=items(a["customer_id"] for a in others[:4]))
    return ending_with(t("Customer %(customer)s and %(count)s other account(s) look like one buyer",
                         customer=anchor["customer_id"], count=figure(len(others))), explanation, check_next)
