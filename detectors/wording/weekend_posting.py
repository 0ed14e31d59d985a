"""Wording of weekend_posting: an invoice (STD-05), receipt (STD-09) or cheque (STD-10) dated on a day off."""

from __future__ import annotations

import pandas as pd

from audit.common import day, money
from audit.wording import Words, ending_with
from detectors.standard.support import share_words


def words(finding) -> Words:
    return {"STD-05": _invoice, "STD-09": _receipt, "STD-10": _cheque}[finding["detector"]](finding)


def _day_words(when, weekend) -> str:
    when = pd.Timestamp(when)
    if when.strftime("%a") in weekend:
        return f"{day(when)}, a {when.strftime('%A')} (the policy weekend)"
    return f"{day(when)}, a {when.strftime('%A')} that the policy lists as a holiday"


def _invoice(finding) -> Words:
    evidence, facts = finding["evidence"], finding["facts"]
    traces, salesperson = evidence["traces"], finding["salesperson_id"]
    also = []
    if traces["no_order"]:
        also.append(f"it names no order ({share_words(facts['order_share'])} of invoices do)")
    if traces["not_shipped"]:
        also.append(f"no shipment names it ({share_words(facts['ship_share'])} of invoices have one)")
    repeats = evidence["salesperson_other_off_day_invoices"]
    if repeats:
        also.append(f"salesperson {salesperson} has {repeats} other invoice(s) dated on days off")
    explanation = (
        f"Invoice {facts['invoice_no']} to customer {finding['customer_id']} (salesperson {salesperson}) for "
        f"{money(evidence['amount'])} is dated {_day_words(evidence['date'], evidence['policy_weekend'])}, when the "
        f"company does not work: {facts['off_day_records']:,} of its {facts['records']:,} invoices "
        f"({share_words(evidence['off_day_share'])}) carry such a date."
        + (f" Besides, {'; '.join(also)}." if also else "")
        + " An invoice dated on a closed day was made up after the fact or keyed outside normal control "
          "(a backdated sale, a copy, a sale to a made-up account)."
    )
    check_next = (f"Pull the order and delivery note of invoice {facts['invoice_no']}, and ask salesperson "
                  f"{salesperson}'s manager and the billing office who keyed it on {day(evidence['date'])} and why.")
    return ending_with(f"Invoice {facts['invoice_no']} dated on a day off ({day(evidence['date'])})", explanation,
                       check_next)


def _receipt(finding) -> Words:
    evidence, facts = finding["evidence"], finding["facts"]
    weekend, collector = evidence["policy_weekend"], evidence["collected_by"]
    which = []
    if evidence["receipt_date_off"]:
        which.append(f"the customer's receipt is dated {_day_words(evidence['receipt_date'], weekend)}")
    if evidence["posted_date_off"]:
        which.append(f"it was booked on {_day_words(evidence['posted_date'], weekend)}")
    explanation = (
        f"A {evidence['method']} receipt {finding['entity_id']} of {money(evidence['amount'])} from customer "
        f"{finding['customer_id']}" + (f", collected by {collector}" if collector else "") + ": "
        + " and ".join(which) + f". {facts['off_day_records']:,} of the {facts['records']:,} receipts "
        f"({share_words(evidence['off_day_share'])}) carry such a date. Money taken or booked while the "
        "office is closed is outside the cash routine: a backdated receipt covering a late hand-in, "
        "or cash handled off the books."
    )
    check_next = (f"Pull the customer's copy of receipt {finding['entity_id']} and the cash book of "
                  f"{day(evidence['posted_date'])}, and ask the cashier"
                  + (f" and {collector}" if collector else "") + " who took the money and when.")
    return ending_with(f"Receipt {finding['entity_id']} dated or booked on a day off", explanation, check_next)


def _cheque(finding) -> Words:
    evidence, facts = finding["evidence"], finding["facts"]
    weekend, collector = evidence["policy_weekend"], evidence["collected_by"]
    which = []
    if evidence["received_off"]:
        which.append(f"it was received from the customer on {_day_words(evidence['received_date'], weekend)}")
    if evidence["handed_in_off"]:
        which.append(f"handed in to treasury on {_day_words(evidence['handed_in_date'], weekend)}")
    explanation = (
        f"Cheque {facts['cheque_no']} ({finding['entity_id']}) of {money(evidence['amount'])} from customer "
        f"{finding['customer_id']}, due {day(evidence['due_date'])}"
        + (f", collected by {collector}" if collector else "")
        + ": " + " and ".join(which) + f". {facts['off_day_records']:,} of the {facts['records']:,} cheques "
        f"({share_words(evidence['off_day_share'])}) carry such a date. Treasury is closed on days off, so "
        "the date was keyed after the fact — often to make a cheque that was held back look handed "
        "in on time."
    )
    check_next = (f"Pull the treasury's hand-in record of cheque {facts['cheque_no']} and the customer's receipt "
                  f"for it, and ask the treasury" + (f" and {collector}" if collector else "")
                  + " when the cheque really changed hands.")
    return ending_with(f"Cheque {facts['cheque_no']} received or handed in on a day off", explanation, check_next)
