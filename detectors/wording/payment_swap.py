"""Wording of payment_swap (PAY-01): a receipt showing the marks of a swapped payment or of lapping."""

from __future__ import annotations

from audit.i18n import N_, t
from audit.wording import Words, clauses, day, ending_with, figure, items, money, sentences
from detectors.wording import text

TITLE_BITS = {"drawer_not_the_customer": N_("cheque not the customer's"),
              "paid_before_the_cheque": N_("paid before its cheque"),
              "paid_another_customers_invoices": N_("applied to another customer"),
              "amount_of_another_customers_open_invoice": N_("another customer's amount"),
              "lapping_over_one_buyer": N_("lapping rather than one buyer"),
              "late_cash_in_lapping": N_("late cash beside a lapping cheque"),
              "relatives_on_several_customers": N_("the salesperson's family pays for several customers"),
              "drawer_on_several_customers": N_("one drawer pays for several customers"),
              "customer_confirmed_paid_earlier": N_("the customer confirmed paying earlier")}
# Traces of a stranger's cheque that the data could not show.
NOT_CHECKED_WORDS = {"drawer_on_several_customers": N_("whether the drawer's account pays for other customers (no "
                                                       "drawer accounts on the cheques)"),
                     "customer_confirmed_paid_earlier": N_("whether the customer confirmed paying earlier (no "
                                                           "balance confirmations)")}

LAPPING_WORDS = {"drawer_paid_late": N_("that customer's own invoices then went unpaid past their due date"),
                 "drawer_invoice_of_the_cheques_amount": N_("one of them for the cheque's amount"),
                 "posted_late": N_("the receipt was booked late"),
                 "one_collector": N_("the same salesperson collects that customer's payments"),
                 "payees_overdue_invoices": N_("it paid this customer's invoices already past due")}
ONE_BUYER_WORDS = {"shared_phone": N_("a shared phone"), "shared_address": N_("a shared address"),
                   "shared_bank_account": N_("a shared bank account"),
                   "shared_owner_name": N_("a shared owner's name"),
                   "delivery_point": N_("goods delivered at the other's place"),
                   "received_by": N_("goods received by the other's owner"),
                   "complementary_timing": N_("taking turns buying"),
                   "paid_with_the_others_cheques": N_("most of this customer's payments made with the other's "
                                                      "cheques")}


def _readings_words(readings) -> str:
    """The lapping reading against the one-buyer reading of a cheque drawn on another customer, with weights."""
    lapping = [t(LAPPING_WORDS[k]) for k in readings["lapping_traces"] if k in LAPPING_WORDS]
    shared = [t(ONE_BUYER_WORDS[k]) for k in readings["one_buyer_traces"] if k in ONE_BUYER_WORDS]
    return t("read as lapping of %(drawer)s's money (weight %(lapping)s: %(lapping_traces)s) rather than one buyer "
             "under two names (weight %(one_buyer)s: %(shared)s)", drawer=readings["drawer_customer"],
             lapping=figure(readings["lapping"], ".2f"), lapping_traces=items(lapping),
             one_buyer=figure(readings["one_buyer"], ".2f"),
             shared=clauses(shared) if shared else t("nothing shared beyond the cheque"))


def _trace_words(evidence, facts) -> list[str]:
    """One phrase per trace the receipt shows, in the order the traces were found."""
    traces, phrases = evidence["traces"], []
    if "drawer_not_the_customer" in traces:
        phrases.append(t("cheque %(cheque)s was %(drawer)s", cheque=facts["cheque_no"], drawer=facts["drawer_words"]))
    spread = evidence.get("drawer_spread") or {}
    if "relatives_on_several_customers" in traces:
        phrases.append(t("the collecting salesperson or relatives of the salesperson drew cheques for other customers "
                         "of the salesperson too (%(customers)s)", customers=items(spread.get("relatives_on_several_customers", [])[:5])))
    if "drawer_on_several_customers" in traces:
        phrases.append(t("the same drawer's account paid for other customers of the same salesperson, and for nobody "
                         "else's (%(customers)s)", customers=items(spread.get("drawer_on_several_customers", [])[:5])))
    if "customer_confirmed_paid_earlier" in traces:
        phrases.append(t("in the %(days)s days before the receipt's date the customer confirmed owing less than the "
                         "ledger (%(confirmations)s): it had paid before the receipt says",
                         days=figure(evidence["confirmation_lookback_days"]), confirmations=clauses(
                             t("on %(date)s, %(gap)s less", date=day(c["as_of_date"]), gap=money(c["gap"]))
                             for c in evidence["confirmations_before_receipt"][:4])))
    if "paid_before_the_cheque" in traces:
        phrases.append(t("the customer's receipt is dated %(dated)s, %(days)s working days before the cheque booked "
                         "for it was received (%(received)s): the customer paid before that cheque existed, as with "
                         "cash replaced by a later cheque", dated=day(evidence["receipt_date"]),
                         days=figure(evidence["receipt_before_cheque_working_days"]),
                         received=day(evidence["cheque_received"])))
    if "paid_another_customers_invoices" in traces:
        crossed = evidence["other_customers_invoices"]
        others = sorted({i["invoice_customer"] for i in crossed})
        older = any(i["invoice_date"] <= evidence["receipt_date"] for i in crossed)
        values = dict(amount=money(sum(i["amount"] for i in crossed)),
                      invoices=items(i["invoice_id"] for i in crossed[:5]), customers=items(others[:5]))
        phrases.append(t("%(amount)s of it was applied to invoice(s) %(invoices)s of another customer "
                         "(%(customers)s), dated before the receipt", **values) if older else
                       t("%(amount)s of it was applied to invoice(s) %(invoices)s of another customer "
                         "(%(customers)s)", **values))
    if "amount_of_another_customers_open_invoice" in traces:
        first = evidence["matching_open_invoices"][0]
        phrases.append(t("its amount is exactly that of invoice %(invoice)s of customer %(customer)s (%(date)s), "
                         "still unpaid on the receipt's date: that customer's money appears to have been booked here",
                         invoice=first["invoice_id"], customer=first["invoice_customer"],
                         date=day(first["invoice_date"])))
    if "lapping_over_one_buyer" in traces:
        phrases.append(_readings_words(evidence["readings"]))
    if "late_cash_in_lapping" in traces:
        phrases.append(t("cash booked late by the salesperson whose receipt %(receipt)s reads as lapping, for one of "
                         "its two customers and near its date: the money the lapping covered",
                         receipt=evidence["lapping_receipt"]))
    if "posted_late" in traces:
        phrases.append(t("it was booked on %(date)s, %(days)s working days after the customer's receipt (%(allowed)s "
                         "allowed)", date=day(evidence["posted_date"]), days=figure(evidence["late_working_days"]),
                         allowed=figure(evidence["hand_in_days"])))
    if "confirmation_below_ledger" in traces:
        phrases.append(t("balance confirmations show customers owing less than the ledger while this money was out: "
                         "%(confirmations)s", confirmations=clauses(
                             t("%(customer)s on %(date)s, %(gap)s less", customer=c["customer_id"],
                               date=day(c["as_of_date"]), gap=money(c["gap"]))
                             for c in evidence["confirmations"][:4])))
    return phrases


def words(finding) -> Words:
    evidence, facts = finding["evidence"], finding["facts"]
    salesperson, caveats = text(finding["salesperson_id"]), facts["caveats"]
    values = dict(receipt=finding["entity_id"], amount=money(evidence["amount"]), customer=finding["customer_id"],
                  traces=clauses(_trace_words(evidence, facts)))
    explanation = sentences(
        t("Receipt %(receipt)s of %(amount)s from customer %(customer)s, collected by %(salesperson)s: %(traces)s.",
          salesperson=salesperson, **values) if salesperson else
        t("Receipt %(receipt)s of %(amount)s from customer %(customer)s: %(traces)s.", **values),
        t("These are the marks of a payment swap: the customer's money kept by the salesperson and replaced by a "
          "personal cheque or by another customer's money, which hides the shortfall until the chain breaks."),
        t("Confidence is lower: %(caveats)s.", caveats=clauses(t(c) for c in caveats)) if caveats else "",
        t("Not checked for want of data: %(what)s.", what=clauses(
            t(NOT_CHECKED_WORDS[k]) for k in evidence.get("not_checked", []) if k in NOT_CHECKED_WORDS))
        if any(k in NOT_CHECKED_WORDS for k in evidence.get("not_checked", [])) else "")
    title = t("Receipt %(receipt)s: %(traces)s", receipt=finding["entity_id"], traces=items(
        t(bit) for key, bit in TITLE_BITS.items() if key in evidence["traces"]))
    cheque = facts.get("cheque_no")
    proof = (t("the bank statement showing cheque %(cheque)s cleared (whose account it came from)", cheque=cheque)
             if isinstance(cheque, str) and cheque else t("its bank or cash book entry"))
    check_values = dict(receipt=finding["entity_id"], proof=proof, customer=finding["customer_id"],
                        salesperson=salesperson)
    check_next = (t("Pull the customer's copy of receipt %(receipt)s and %(proof)s, confirm the balance with customer "
                    "%(customer)s, and ask the treasury who handed the money in for salesperson %(salesperson)s.",
                    **check_values) if salesperson else
                  t("Pull the customer's copy of receipt %(receipt)s and %(proof)s, confirm the balance with customer "
                    "%(customer)s, and ask the treasury who handed the money in.", **check_values))
    return ending_with(title, explanation, check_next)
