"""Wording of just_below_threshold (STD-06): a sale split under the approval limit, or an amount just under it."""

from __future__ import annotations

from audit.common import day, money
from audit.wording import Words, ending_with
from detectors.standard.support import share_words


def words(finding) -> Words:
    return _split(finding) if finding["evidence"]["kind"] == "split" else _just_below(finding)


def _split(finding) -> Words:
    evidence, facts = finding["evidence"], finding["facts"]
    limit, total, parts = evidence["approval_amount"], evidence["total"], evidence["parts"]
    parts_words = "; ".join(f"{p['invoice_no']} of {day(p['invoice_date'])}, {money(p['amount'])}"
                            + (f" (order {p['order_id']})" if isinstance(p["order_id"], str) else " (no order)")
                            for p in parts[:6])
    reasons = []
    if evidence["shared_orders"]:
        reasons.append(f"they bill the same order ({', '.join(evidence['shared_orders'])})")
    if facts["parts_without_order"]:
        reasons.append(f"{facts['parts_without_order']} of them name no order, while "
                       f"{share_words(evidence['share_of_invoices_naming_an_order'])} of invoices do")
    explanation = (
        f"Customer {finding['customer_id']} was billed {len(parts)} invoices within {evidence['split_days']} day(s) "
        f"of each other, each under the approval limit of {money(limit)} and none approved, together "
        f"{money(total)}: {parts_words}. They are not separate purchases: {' and '.join(reasons)}. Splitting a sale "
        f"keeps it away from the manager who must approve invoices of {money(limit)} or more. Money at risk: the "
        f"whole split, {money(total)}."
    )
    check_next = (f"Pull the orders and delivery notes of invoices "
                  f"{', '.join(p['invoice_no'] for p in parts[:4])}, and ask salesperson {finding['salesperson_id']}'s "
                  f"manager whether this {money(total)} sale to customer {finding['customer_id']} should have come to "
                  f"them for approval.")
    return ending_with(f"Invoice {facts['invoice_no']}: one sale of {money(total)} split into {len(parts)} invoices "
                       "under the approval limit", explanation, check_next)


def _just_below(finding) -> Words:
    evidence, facts = finding["evidence"], finding["facts"]
    limit, amount, band_pct = evidence["approval_amount"], evidence["amount"], evidence["band_pct"]
    band = evidence["salesperson_band"]
    explanation = (
        f"Invoice {facts['invoice_no']} of {day(facts['invoice_date'])} to customer {finding['customer_id']}, "
        f"{money(amount)}, is {money(evidence['under_limit_by'])} under the approval limit of {money(limit)} and has "
        f"no approver. Salesperson {finding['salesperson_id']} has {band['below']} invoices in the {band_pct:g} % "
        f"just under the limit and only {band['above']} in the {band_pct:g} % just over it; for the other "
        f"salespeople {share_words(evidence['other_salespeople_share_below'])} of such invoices fall under it. "
        f"Landing just under the limit this often avoids the manager's approval — a price, discount or credit the "
        f"manager would refuse."
    )
    check_next = (f"Pull the order and price sheet of invoice {facts['invoice_no']}, and ask salesperson "
                  f"{finding['salesperson_id']}'s manager why {band['below']} of this salesperson's invoices land just "
                  f"under the {money(limit)} limit.")
    return ending_with(f"Invoice {facts['invoice_no']}: {money(amount)}, just under the approval limit", explanation,
                       check_next)
