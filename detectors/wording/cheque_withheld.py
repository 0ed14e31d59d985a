"""Wording of cheque_withheld: a cheque kept back (CHQ-01) or cash booked late (CHQ-03)."""

from __future__ import annotations

from audit.common import day, money
from audit.wording import Words, ending_with
from detectors.wording import text


def words(finding) -> Words:
    return _cash(finding) if finding["detector"] == "CHQ-03" else _cheque(finding)


def _confirmation(evidence, during: str, paid: str) -> str:
    if not evidence["confirmations"]:
        return ""
    first = evidence["confirmations"][0]
    return (f" On {day(first['as_of_date'])}, {during}, the customer confirmed a balance of "
            f"{money(first['confirmed_balance'])}, {money(first['gap'])} less than the ledger's "
            f"{money(first['ledger_balance'])}: {paid}.")


def _cheque(finding) -> Words:
    evidence, facts = finding["evidence"], finding["facts"]
    number, held, calendar_days = facts["cheque_no"], evidence["working_days"], evidence["calendar_days"]
    start_words = (f"the customer's receipt for it is dated {day(evidence['held_from'])}, before the recorded "
                   f"receipt on {day(evidence['received_date'])}" if facts["from_receipt"]
                   else f"it was received on {day(evidence['held_from'])}")
    if evidence["never_handed_in"]:
        held_words = (f"it has not been handed in to the treasury; by {day(evidence['held_until'])} it has been "
                      f"held {held} working days ({calendar_days} calendar days)")
    elif facts["hand_in_recorded"]:
        held_words = (f"it was handed in on {day(evidence['held_until'])}, {held} working days later "
                      f"({calendar_days} calendar days)")
    else:
        held_words = (f"no hand-in date is recorded and its receipt was booked on {day(evidence['held_until'])}, "
                      f"{held} working days later ({calendar_days} calendar days)")
    salesperson = text(finding["salesperson_id"])
    explanation = (
        f"Cheque {number} of {money(evidence['amount'])} from customer {finding['customer_id']}"
        + (f", collected by {salesperson}" if salesperson else "")
        + f": {start_words}; {held_words}. The policy allows {evidence['hand_in_days']} working days (weekends "
        f"and holidays not counted), so it was held {evidence['working_days_over']} working days too long."
        f"{_confirmation(evidence, 'while the cheque was held', 'the customer had paid')} A cheque kept by a "
        f"salesperson is money outside the company's control: it can be cashed elsewhere or used to cover "
        f"another customer's debt."
    )
    title = (f"Cheque {number}: not handed in after {held} working days" if evidence["never_handed_in"]
             else f"Cheque {number}: handed in after {held} working days ({evidence['hand_in_days']} allowed)")
    holder = f"salesperson {salesperson}" if salesperson else "whoever collected it"
    if evidence["never_handed_in"]:
        check_next = (f"Ask {holder} to hand cheque {number} in now, and ask the customer's bank (through "
                      f"customer {finding['customer_id']}) whether it has been presented elsewhere.")
    else:
        check_next = (f"Pull the customer's receipt for cheque {number} and the treasury's hand-in record of "
                      f"{day(evidence['held_until'])}, and ask {holder} where the cheque was from "
                      f"{day(evidence['held_from'])} to then.")
    return ending_with(title, explanation, check_next)


def _cash(finding) -> Words:
    evidence, caveats = finding["evidence"], finding["facts"]["caveats"]
    held, invoices = evidence["working_days"], evidence["invoices"]
    salesperson = text(finding["salesperson_id"])
    invoice_words = f" It paid invoice(s) {', '.join(invoices[:5])}." if invoices else ""
    explanation = (
        f"Cash receipt {finding['entity_id']} of {money(evidence['amount'])} from customer {finding['customer_id']}"
        + (f", collected by {salesperson}" if salesperson else "")
        + f": the customer's receipt is dated {day(evidence['receipt_date'])} but the money was booked on "
        f"{day(evidence['posted_date'])}, {held} working days later ({evidence['calendar_days']} calendar days), "
        f"where the policy allows {evidence['hand_in_days']}.{invoice_words}"
        f"{_confirmation(evidence, 'before the booking', 'it had already paid')} The customer had paid; the "
        f"company did not have the money for {evidence['working_days_over']} working days too many, which is how "
        f"collected cash is used privately or to cover another gap."
        + (f" Confidence is lower: {'; '.join(caveats)}." if caveats else "")
    )
    check_next = (f"Pull the customer's copy of receipt {finding['entity_id']} dated "
                  f"{day(evidence['receipt_date'])} and the cash book of {day(evidence['posted_date'])}, and ask the "
                  f"cashier" + (f" and salesperson {salesperson}" if salesperson else "")
                  + f" where the {money(evidence['amount'])} was in between.")
    return ending_with(f"Cash receipt {finding['entity_id']}: booked {held} working days after the customer's "
                       f"receipt", explanation, check_next)
