"""Wording of payment_swap (PAY-01): a receipt showing the marks of a swapped payment or of lapping."""

from __future__ import annotations

from audit.common import day, money
from audit.wording import Words, ending_with
from detectors.wording import text

TITLE_BITS = {"drawer_not_the_customer": "cheque not the customer's",
              "paid_before_the_cheque": "paid before its cheque",
              "paid_another_customers_invoices": "applied to another customer",
              "amount_of_another_customers_open_invoice": "another customer's amount",
              "lapping_over_one_buyer": "lapping rather than one buyer",
              "late_cash_in_lapping": "late cash beside a lapping cheque"}

LAPPING_WORDS = {"drawer_paid_late": "that customer's own invoices then went unpaid past their due date",
                 "drawer_invoice_of_the_cheques_amount": "one of them for the cheque's amount",
                 "posted_late": "the receipt was booked late",
                 "one_collector": "the same salesperson collects that customer's payments",
                 "payees_overdue_invoices": "it paid this customer's invoices already past due"}
ONE_BUYER_WORDS = {"shared_phone": "a shared phone", "shared_address": "a shared address",
                   "shared_bank_account": "a shared bank account", "shared_owner_name": "a shared owner's name",
                   "delivery_point": "goods delivered at the other's place",
                   "received_by": "goods received by the other's owner", "complementary_timing": "taking turns buying",
                   "paid_with_the_others_cheques": "most of this customer's payments made with the other's cheques"}


def _readings_words(readings) -> str:
    """The lapping reading against the one-buyer reading of a cheque drawn on another customer, with weights."""
    lapping = [LAPPING_WORDS[k] for k in readings["lapping_traces"] if k in LAPPING_WORDS]
    shared = [ONE_BUYER_WORDS[k] for k in readings["one_buyer_traces"] if k in ONE_BUYER_WORDS]
    return (f"read as lapping of {readings['drawer_customer']}'s money (weight {readings['lapping']:.2f}: "
            + ", ".join(lapping) + ") rather than one buyer under two names (weight "
            f"{readings['one_buyer']:.2f}: "
            + ("; ".join(shared) if shared else "nothing shared beyond the cheque")
            + ")")


def _trace_words(evidence, facts) -> list[str]:
    """One phrase per trace the receipt shows, in the order the traces were found."""
    traces, phrases = evidence["traces"], []
    if "drawer_not_the_customer" in traces:
        phrases.append(f"cheque {facts['cheque_no']} was {facts['drawer_words']}")
    if "paid_before_the_cheque" in traces:
        phrases.append(f"the customer's receipt is dated {day(evidence['receipt_date'])}, "
                       f"{evidence['receipt_before_cheque_working_days']} working days before the cheque booked for "
                       f"it was received ({day(evidence['cheque_received'])}): the customer paid before that cheque "
                       f"existed, as with cash replaced by a later cheque")
    if "paid_another_customers_invoices" in traces:
        crossed = evidence["other_customers_invoices"]
        others = sorted({i["invoice_customer"] for i in crossed})
        older = any(i["invoice_date"] <= evidence["receipt_date"] for i in crossed)
        phrases.append(f"{money(sum(i['amount'] for i in crossed))} of it was applied to invoice(s) "
                       f"{', '.join(i['invoice_id'] for i in crossed[:5])} of another customer "
                       f"({', '.join(others[:5])})" + (", dated before the receipt" if older else ""))
    if "amount_of_another_customers_open_invoice" in traces:
        first = evidence["matching_open_invoices"][0]
        phrases.append(f"its amount is exactly that of invoice {first['invoice_id']} of customer "
                       f"{first['invoice_customer']} ({day(first['invoice_date'])}), still unpaid on the receipt's "
                       f"date: that customer's money appears to have been booked here")
    if "lapping_over_one_buyer" in traces:
        phrases.append(_readings_words(evidence["readings"]))
    if "late_cash_in_lapping" in traces:
        phrases.append(f"cash booked late by the salesperson whose receipt {evidence['lapping_receipt']} reads as "
                       f"lapping, for one of its two customers and near its date: the money the lapping covered")
    if "posted_late" in traces:
        phrases.append(f"it was booked on {day(evidence['posted_date'])}, {evidence['late_working_days']} working "
                       f"days after the customer's receipt ({evidence['hand_in_days']} allowed)")
    if "confirmation_below_ledger" in traces:
        phrases.append("balance confirmations show customers owing less than the ledger while this money was out: "
                       + "; ".join(f"{c['customer_id']} on {day(c['as_of_date'])}, {money(c['gap'])} less"
                                   for c in evidence["confirmations"][:4]))
    return phrases


def words(finding) -> Words:
    evidence, facts = finding["evidence"], finding["facts"]
    salesperson, caveats = text(finding["salesperson_id"]), facts["caveats"]
    explanation = (
        f"Receipt {finding['entity_id']} of {money(evidence['amount'])} from customer {finding['customer_id']}"
        + (f", collected by {salesperson}" if salesperson else "") + ": "
        + "; ".join(_trace_words(evidence, facts)) + ". "
        "These are the marks of a payment swap: the customer's money kept by the salesperson and replaced by "
        "a personal cheque or by another customer's money, which hides the shortfall until the chain breaks."
        + (f" Confidence is lower: {'; '.join(caveats)}." if caveats else "")
    )
    title = f"Receipt {finding['entity_id']}: " + ", ".join(
        bit for key, bit in TITLE_BITS.items() if key in evidence["traces"])
    cheque = facts.get("cheque_no")
    proof = (f"the bank statement showing cheque {cheque} cleared (whose account it came from)"
             if isinstance(cheque, str) and cheque else "its bank or cash book entry")
    check_next = (f"Pull the customer's copy of receipt {finding['entity_id']} and {proof}, confirm the balance "
                  f"with customer {finding['customer_id']}, and ask the treasury who handed the money in"
                  + (f" for salesperson {salesperson}." if salesperson else "."))
    return ending_with(title, explanation, check_next)
