"""Wording of duplicate_invoice: an invoice that bills again what an earlier one billed (STD-02)."""

from __future__ import annotations

from audit.common import day, money
from audit.wording import Words, ending_with
from detectors.standard.support import share_words


def words(finding) -> Words:
    evidence, routine_share = finding["evidence"], finding["facts"]["routine_share"]
    copy, original, days = evidence["duplicate"], evidence["original"], evidence["days_apart"]
    order_share, shipment_share = (evidence["share_of_invoices_naming_an_order"],
                                   evidence["share_of_invoices_with_a_shipment"])
    when = "the same day" if days == 0 else f"{days} day{'s' if days != 1 else ''} later"
    if evidence["identical_lines"]:
        lines_words = ("the same line" if copy["n_lines"] == 1 else f"the same {copy['n_lines']} lines") + (
            " — products, quantities, prices and discounts")
    else:
        lines_words = f"nearly the same lines ({evidence['line_value_similarity']:.0%} of the value on the same products)"
    reasons = []
    if evidence["same_order"]:
        reasons.append(f"it bills order {copy['order_id']}, which {original['invoice_no']} already billed")
    elif evidence["names_no_order"] and order_share >= routine_share:
        reasons.append(f"it names no order, while {share_words(order_share)} of invoices do")
    if evidence["traces"]["not_shipped"]:
        reasons.append(f"no shipment names it, while {original['invoice_no']} was shipped")
    explanation = (
        f"Invoice {copy['invoice_no']} of {day(copy['invoice_date'])} to customer {finding['customer_id']} "
        f"(salesperson {finding['salesperson_id']}), {money(copy['amount'])}, repeats invoice "
        f"{original['invoice_no']} of {day(original['invoice_date'])} ({money(original['amount'])}) {when}: "
        f"{lines_words}."
        + (f" Besides, {'; '.join(reasons)}." if reasons else "")
        + " A second bill for one sale inflates the salesperson's sales and the customer's balance: the "
          "customer pays twice or the amount stays in receivables. Money at risk: the copy's amount."
    )
    if order_share < routine_share and shipment_share < routine_share:
        explanation += " Confidence is lower: invoices here rarely name an order or a shipment."
    check_next = (f"Pull the delivery notes of invoices {original['invoice_no']} and {copy['invoice_no']}, and "
                  f"ask customer {finding['customer_id']}'s buyer whether it received these goods twice and "
                  f"salesperson {finding['salesperson_id']} why {copy['invoice_no']} was issued.")
    return ending_with(f"Invoice {copy['invoice_no']} repeats {original['invoice_no']} ({money(copy['amount'])}, "
                       f"{when})", explanation, check_next)
