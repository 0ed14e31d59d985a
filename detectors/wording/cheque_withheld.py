"""Wording of cheque_withheld: a cheque kept back (CHQ-01) or cash booked late (CHQ-03)."""

from __future__ import annotations

from audit.i18n import t
from audit.wording import Words, clauses, day, ending_with, figure, items, money, sentences
from detectors.wording import text


def words(finding) -> Words:
    return _cash(finding) if finding["detector"] == "CHQ-03" else _cheque(finding)


def _confirmation(evidence, paid_before_booking: bool) -> str:
    if not evidence["confirmations"]:
        return ""
    first = evidence["confirmations"][0]
    values = dict(date=day(first["as_of_date"]), confirmed=money(first["confirmed_balance"]), gap=money(first["gap"]),
                  ledger=money(first["ledger_balance"]))
    if paid_before_booking:
        return t("On %(date)s, before the booking, the customer confirmed a balance of %(confirmed)s, %(gap)s less "
                 "than the ledger's %(ledger)s: it had already paid.", **values)
    return t("On %(date)s, while the cheque was held, the customer confirmed a balance of %(confirmed)s, %(gap)s "
             "less than the ledger's %(ledger)s: the customer had paid.", **values)


def _cheque(finding) -> Words:
    evidence, facts = finding["evidence"], finding["facts"]
    number, held, calendar_days = facts["cheque_no"], figure(evidence["working_days"]), figure(evidence["calendar_days"])
    if facts["from_receipt"]:
        start_words = t("the customer's receipt for it is dated %(start)s, before the recorded receipt on %(received)s",
                        start=day(evidence["held_from"]), received=day(evidence["received_date"]))
    else:
        start_words = t("it was received on %(start)s", start=day(evidence["held_from"]))
    held_values = dict(until=day(evidence["held_until"]), held=held, calendar=calendar_days)
    if evidence["never_handed_in"]:
        held_words = t("it has not been handed in to the treasury; by %(until)s it has been held %(held)s working "
                       "days (%(calendar)s calendar days)", **held_values)
    elif facts["hand_in_recorded"]:
        held_words = t("it was handed in on %(until)s, %(held)s working days later (%(calendar)s calendar days)",
                       **held_values)
    else:
        held_words = t("no hand-in date is recorded and its receipt was booked on %(until)s, %(held)s working days "
                       "later (%(calendar)s calendar days)", **held_values)
    salesperson = text(finding["salesperson_id"])
    values = dict(cheque=number, amount=money(evidence["amount"]), customer=finding["customer_id"],
                  held=clauses([start_words, held_words]))
    opening = (t("Cheque %(cheque)s of %(amount)s from customer %(customer)s, collected by %(salesperson)s: "
                 "%(held)s.", salesperson=salesperson, **values) if salesperson else
               t("Cheque %(cheque)s of %(amount)s from customer %(customer)s: %(held)s.", **values))
    explanation = sentences(
        opening,
        t("The policy allows %(allowed)s working days (weekends and holidays not counted), so it was held %(over)s "
          "working days too long.", allowed=figure(evidence["hand_in_days"]),
          over=figure(evidence["working_days_over"])),
        _confirmation(evidence, False),
        t("A cheque kept by a salesperson is money outside the company's control: it can be cashed elsewhere or used "
          "to cover another customer's debt."))
    title = (t("Cheque %(cheque)s: not handed in after %(held)s working days", cheque=number, held=held)
             if evidence["never_handed_in"] else
             t("Cheque %(cheque)s: handed in after %(held)s working days (%(allowed)s allowed)", cheque=number,
               held=held, allowed=figure(evidence["hand_in_days"])))
    holder = t("salesperson %(salesperson)s", salesperson=salesperson) if salesperson else t("whoever collected it")
    if evidence["never_handed_in"]:
        check_next = t("Ask %(holder)s to hand cheque %(cheque)s in now, and ask the customer's bank (through "
                       "customer %(customer)s) whether it has been presented elsewhere.", holder=holder,
                       cheque=number, customer=finding["customer_id"])
    else:
        check_next = t("Pull the customer's receipt for cheque %(cheque)s and the treasury's hand-in record of "
                       "%(until)s, and ask %(holder)s where the cheque was from %(start)s to then.", cheque=number,
                       until=day(evidence["held_until"]), holder=holder, start=day(evidence["held_from"]))
    return ending_with(title, explanation, check_next)


def _cash(finding) -> Words:
    evidence, caveats = finding["evidence"], finding["facts"]["caveats"]
    held, invoices = figure(evidence["working_days"]), evidence["invoices"]
    salesperson = text(finding["salesperson_id"])
    values = dict(receipt=finding["entity_id"], amount=money(evidence["amount"]), customer=finding["customer_id"],
                  dated=day(evidence["receipt_date"]), booked=day(evidence["posted_date"]), held=held,
                  calendar=figure(evidence["calendar_days"]), allowed=figure(evidence["hand_in_days"]))
    opening = (t("Cash receipt %(receipt)s of %(amount)s from customer %(customer)s, collected by %(salesperson)s: "
                 "the customer's receipt is dated %(dated)s but the money was booked on %(booked)s, %(held)s working "
                 "days later (%(calendar)s calendar days), where the policy allows %(allowed)s.",
                 salesperson=salesperson, **values) if salesperson else
               t("Cash receipt %(receipt)s of %(amount)s from customer %(customer)s: the customer's receipt is dated "
                 "%(dated)s but the money was booked on %(booked)s, %(held)s working days later (%(calendar)s "
                 "calendar days), where the policy allows %(allowed)s.", **values))
    explanation = sentences(
        opening,
        t("It paid invoice(s) %(invoices)s.", invoices=items(invoices[:5])) if invoices else "",
        _confirmation(evidence, True),
        t("The customer had paid; the company did not have the money for %(over)s working days too many, which is "
          "how collected cash is used privately or to cover another gap.",
          over=figure(evidence["working_days_over"])),
        t("Confidence is lower: %(caveats)s.", caveats=clauses(t(c) for c in caveats)) if caveats else "")
    check_values = dict(receipt=finding["entity_id"], dated=day(evidence["receipt_date"]),
                        booked=day(evidence["posted_date"]), amount=money(evidence["amount"]))
    check_next = (t("Pull the customer's copy of receipt %(receipt)s dated %(dated)s and the cash book of "
                    "%(booked)s, and ask the cashier and salesperson %(salesperson)s where the %(amount)s was in "
                    "between.", salesperson=salesperson, **check_values) if salesperson else
                  t("Pull the customer's copy of receipt %(receipt)s dated %(dated)s and the cash book of "
                    "%(booked)s, and ask the cashier where the %(amount)s was in between.", **check_values))
    return ending_with(t("Cash receipt %(receipt)s: booked %(held)s working days after the customer's receipt",
                         receipt=finding["entity_id"], held=held), explanation, check_next)
