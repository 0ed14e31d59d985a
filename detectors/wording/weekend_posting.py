"""Wording of weekend_posting: an invoice (STD-05), receipt (STD-09) or cheque (STD-10) dated on a day off."""

from __future__ import annotations

import pandas as pd

from audit.i18n import N_, t
from audit.wording import Words, both, clauses, day, ending_with, figure, money, sentences
from detectors.wording import method_words, share

WEEKDAYS = {"Monday": N_("Monday"), "Tuesday": N_("Tuesday"), "Wednesday": N_("Wednesday"),
            "Thursday": N_("Thursday"), "Friday": N_("Friday"), "Saturday": N_("Saturday"), "Sunday": N_("Sunday")}


def words(finding) -> Words:
    return {"STD-05": _invoice, "STD-09": _receipt, "STD-10": _cheque}[finding["detector"]](finding)


def _day_words(when, weekend) -> str:
    when = pd.Timestamp(when)
    values = dict(date=day(when), weekday=t(WEEKDAYS[when.strftime("%A")]))
    if when.strftime("%a") in weekend:
        return t("%(date)s, a %(weekday)s (the policy weekend)", **values)
    return t("%(date)s, a %(weekday)s that the policy lists as a holiday", **values)


def _share_of_records(facts, evidence, records: str) -> str:
    values = dict(off=figure(facts["off_day_records"], ","), total=figure(facts["records"], ","),
                  share=share(evidence["off_day_share"]))
    if records == "receipts":
        return t("%(off)s of the %(total)s receipts (%(share)s) carry such a date.", **values)
    return t("%(off)s of the %(total)s cheques (%(share)s) carry such a date.", **values)


def _invoice(finding) -> Words:
    evidence, facts = finding["evidence"], finding["facts"]
    traces, salesperson = evidence["traces"], finding["salesperson_id"]
    also = []
    if traces["no_order"]:
        also.append(t("it names no order (%(share)s of invoices do)", share=share(facts["order_share"])))
    if traces["not_shipped"]:
        also.append(t("no shipment names it (%(share)s of invoices have one)", share=share(facts["ship_share"])))
    repeats = evidence["salesperson_other_off_day_invoices"]
    if repeats:
        also.append(t("salesperson %(salesperson)s has %(count)s other invoice(s) dated on days off",
                      salesperson=salesperson, count=figure(repeats)))
    explanation = sentences(
        t("Invoice %(invoice)s to customer %(customer)s (salesperson %(salesperson)s) for %(amount)s is dated "
          "%(day)s, when the company does not work: %(off)s of its %(total)s invoices (%(share)s) carry such a date.",
          invoice=facts["invoice_no"], customer=finding["customer_id"], salesperson=salesperson,
          amount=money(evidence["amount"]), day=_day_words(evidence["date"], evidence["policy_weekend"]),
          off=figure(facts["off_day_records"], ","), total=figure(facts["records"], ","),
          share=share(evidence["off_day_share"])),
        t("Besides, %(reasons)s.", reasons=clauses(also)) if also else "",
        t("An invoice dated on a closed day was made up after the fact or keyed outside normal control (a backdated "
          "sale, a copy, a sale to a made-up account)."))
    check_next = t("Pull the order and delivery note of invoice %(invoice)s, and ask salesperson %(salesperson)s's "
                   "manager and the billing office who keyed it on %(date)s and why.", invoice=facts["invoice_no"],
                   salesperson=salesperson, date=day(evidence["date"]))
    return ending_with(t("Invoice %(invoice)s dated on a day off (%(date)s)", invoice=facts["invoice_no"],
                         date=day(evidence["date"])), explanation, check_next)


def _receipt(finding) -> Words:
    evidence, facts = finding["evidence"], finding["facts"]
    weekend, collector = evidence["policy_weekend"], evidence["collected_by"]
    which = []
    if evidence["receipt_date_off"]:
        which.append(t("the customer's receipt is dated %(day)s", day=_day_words(evidence["receipt_date"], weekend)))
    if evidence["posted_date_off"]:
        which.append(t("it was booked on %(day)s", day=_day_words(evidence["posted_date"], weekend)))
    values = dict(method=method_words(evidence["method"]), receipt=finding["entity_id"],
                  amount=money(evidence["amount"]), customer=finding["customer_id"], collector=collector,
                  which=both(which))
    explanation = sentences(
        t("A %(method)s receipt %(receipt)s of %(amount)s from customer %(customer)s, collected by %(collector)s: "
          "%(which)s.", **values) if collector else
        t("A %(method)s receipt %(receipt)s of %(amount)s from customer %(customer)s: %(which)s.", **values),
        _share_of_records(facts, evidence, "receipts"),
        t("Money taken or booked while the office is closed is outside the cash routine: a backdated receipt "
          "covering a late hand-in, or cash handled off the books."))
    check_values = dict(receipt=finding["entity_id"], date=day(evidence["posted_date"]), collector=collector)
    check_next = (t("Pull the customer's copy of receipt %(receipt)s and the cash book of %(date)s, and ask the "
                    "cashier and %(collector)s who took the money and when.", **check_values) if collector else
                  t("Pull the customer's copy of receipt %(receipt)s and the cash book of %(date)s, and ask the "
                    "cashier who took the money and when.", **check_values))
    return ending_with(t("Receipt %(receipt)s dated or booked on a day off", receipt=finding["entity_id"]),
                       explanation, check_next)


def _cheque(finding) -> Words:
    evidence, facts = finding["evidence"], finding["facts"]
    weekend, collector = evidence["policy_weekend"], evidence["collected_by"]
    which = []
    if evidence["received_off"]:
        which.append(t("it was received from the customer on %(day)s",
                       day=_day_words(evidence["received_date"], weekend)))
    if evidence["handed_in_off"]:
        which.append(t("handed in to treasury on %(day)s", day=_day_words(evidence["handed_in_date"], weekend)))
    values = dict(cheque=facts["cheque_no"], id=finding["entity_id"], amount=money(evidence["amount"]),
                  customer=finding["customer_id"], due=day(evidence["due_date"]), collector=collector,
                  which=both(which))
    explanation = sentences(
        t("Cheque %(cheque)s (%(id)s) of %(amount)s from customer %(customer)s, due %(due)s, collected by "
          "%(collector)s: %(which)s.", **values) if collector else
        t("Cheque %(cheque)s (%(id)s) of %(amount)s from customer %(customer)s, due %(due)s: %(which)s.", **values),
        _share_of_records(facts, evidence, "cheques"),
        t("Treasury is closed on days off, so the date was keyed after the fact — often to make a cheque that was "
          "held back look handed in on time."))
    check_values = dict(cheque=facts["cheque_no"], collector=collector)
    check_next = (t("Pull the treasury's hand-in record of cheque %(cheque)s and the customer's receipt for it, and "
                    "ask the treasury and %(collector)s when the cheque really changed hands.", **check_values)
                  if collector else
                  t("Pull the treasury's hand-in record of cheque %(cheque)s and the customer's receipt for it, and "
                    "ask the treasury when the cheque really changed hands.", **check_values))
    return ending_with(t("Cheque %(cheque)s received or handed in on a day off", cheque=facts["cheque_no"]),
                       explanation, check_next)
