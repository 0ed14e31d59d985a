"""Wording of multi_name_invoicing (CUS-02): one buyer invoiced under several names."""

from __future__ import annotations

import pandas as pd

from audit.common import day, money
from audit.wording import Words, ending_with

WORDS = {"shared_phone": "phone", "shared_address": "address", "shared_bank_account": "bank account",
         "cheque_drawer": "cheque drawer", "shared_owner_name": "owner"}


def _pair_words(pair) -> str:
    parts = []
    for kind, info in sorted(pair["shared"].items()):
        value = info["value"] if info["value"] == info["other_value"] else f"{info['value']} / {info['other_value']}"
        if kind == "cheque_drawer":
            parts.append(f"{info['from']} paid with cheques drawn on {info['to']}'s account or name ({value})")
        else:
            parts.append(f"the same {WORDS[kind]} ({value})")
    for d in sorted(pair["delivered"], key=lambda d: (d["kind"], d["from"])):
        if d["kind"] == "delivery_point":
            where = f" at {d['value']}" if d.get("value") else ""
            parts.append(f"{d['share']:.0%} of {d['from']}'s shipments delivered at {d['to']}'s place{where}")
        else:
            parts.append(f"{d['share']:.0%} of {d['from']}'s shipments received by {d['value']}, {d['to']}'s owner")
    t = pair["timing"]
    if t.get("strength", 0) > 0:
        parts.append(f"{pair['older']} bought in {t['older_monthly_rate']:.0%} of months but in "
                     f"{t['observed_overlap']} of the {t['months_tested']} months {pair['newer']} bought "
                     f"(about {t['expected_overlap']:g} expected)")
    readings = pair.get("readings")
    if readings:
        parts.append(_readings_words(readings))
    return f"{pair['newer']} and {pair['older']}: " + "; ".join(parts)


LAPPING_WORDS = {"drawer_paid_late": "the drawer's own invoices went late",
                 "drawer_invoice_of_the_cheques_amount": "one of them for the cheque's amount",
                 "posted_late": "the receipt was booked late",
                 "one_collector": "one salesperson collects from both",
                 "payees_overdue_invoices": "it paid overdue invoices of the payee"}


def _readings_words(readings) -> str:
    """The two readings of a cheque drawn on the other account, with their weights."""
    lapping = [LAPPING_WORDS[k] for k in readings["lapping_traces"] if k in LAPPING_WORDS]
    lapping_words = f"lapping weighs {readings['lapping']:.2f}" + (f" ({', '.join(lapping)})" if lapping else "")
    one_buyer_words = f"one buyer weighs {readings['one_buyer']:.2f} on the traces beyond the cheque"
    if readings["reported"] == "one_buyer":
        return (f"the cheque could also be lapping (receipt {readings['lapping_receipt']}), but {one_buyer_words} "
                f"and {lapping_words}")
    return (f"the cheque itself (receipt {readings['lapping_receipt']}) reads as lapping, not as one buyer: "
            f"{lapping_words}, {one_buyer_words}; it is left to payment_swap and not counted here")


def words(finding) -> Words:
    evidence = finding["evidence"]
    accounts = evidence["accounts"]
    anchor, others = accounts[0], accounts[1:]
    above = evidence["above_limit"]
    if pd.notna(above) and above > 0:
        risk_words = (f"together the accounts owed up to {money(evidence['peak_balance'])} on "
                      f"{day(evidence['peak_date'])}, {money(above)} above {anchor['customer_id']}'s credit limit "
                      f"of {money(evidence['credit_limit'])}")
    else:
        limit_words = (f" (within {anchor['customer_id']}'s credit limit of {money(evidence['credit_limit'])})"
                       if pd.notna(evidence["credit_limit"]) else "")
        risk_words = f"the group's open balance is {money(evidence['open_balance'])}{limit_words}"
    said = [_pair_words(pair) for pair in evidence["pairs"][:6]]
    listed = ", ".join(f"{a['customer_id']} {a['name']} opened {day(a['created_date'])}" for a in others)
    explanation = (
        f"Customer {anchor['customer_id']} ({anchor['name']}, on record since {day(anchor['created_date'])}) and "
        f"{len(others)} other account(s) ({listed}) look like one buyer invoiced under several names: "
        + " | ".join(said)
        + f". The accounts were invoiced {money(sum(a['invoiced'] for a in accounts))} in all; {risk_words}. "
          f"Several names for one buyer get round its credit limit and per-customer caps, so the company carries "
          f"more exposure on it than it agreed to.")
    check_next = (f"Pull the account-opening files of {anchor['customer_id']} and "
                  f"{', '.join(a['customer_id'] for a in others[:4])} with their credit approvals, and ask the credit "
                  f"controller and the salesperson who opened them whether they are one buyer.")
    return ending_with(f"Customer {anchor['customer_id']} and {len(others)} other account(s) look like one buyer",
                       explanation, check_next)
