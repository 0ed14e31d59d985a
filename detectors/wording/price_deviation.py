"""Wording of price_deviation: invoice lines priced off the valid list price without approval (PRC-01)."""

from __future__ import annotations

from audit.common import money
from audit.wording import Words, ending_with


def words(finding) -> Words:
    evidence, facts = finding["evidence"], finding["facts"]
    invoice_no, n_lines = facts["invoice_no"], facts["n_lines"]
    described = []
    for line in evidence["lines"][:5]:
        direction = "above" if line["deviation_amount"] > 0 else "below"
        described.append(f"{line['product_id']}: {line['quantity']:g} at {money(line['unit_price'])} against "
                         f"{money(line['valid_price'])} ({line['source']}), {abs(line['deviation_pct']):.1f} % "
                         f"{direction}")
    more = f" and {n_lines - 5} more lines" if n_lines > 5 else ""
    direction_words = []
    if evidence["over_charge"]:
        direction_words.append(f"over-charged by {money(evidence['over_charge'])}")
    if evidence["under_charge"]:
        direction_words.append(f"under-charged by {money(evidence['under_charge'])}")
    recorded = facts.get("approvals_recorded", True)
    approval = "with no approver" if recorded else "(the data records no price approvals, so approval was not checked)"
    explanation = (
        f"Invoice {invoice_no} of {facts['invoice_date']:%Y-%m-%d} to customer {finding['customer_id']} "
        f"(salesperson {finding['salesperson_id']}) has {n_lines} line(s) priced outside the valid list "
        f"price ± {evidence['tolerance_pct']:g} % {approval}: {'; '.join(described)}{more}. The customer was "
        f"{' and '.join(direction_words)}. Prices off the list without approval either over-charge the "
        f"buyer or give away margin."
        + (" Confidence is lower: there is no dated price list, so the product's list price was used."
           if facts["fallback_only"] else "")
    )
    title = f"Invoice {invoice_no}: prices {evidence['worst_deviation_pct']:.1f} % off the list"
    products = ", ".join(line["product_id"] for line in evidence["lines"][:3])
    check_next = (f"Pull the price list valid on {facts['invoice_date']:%Y-%m-%d} and any price approval for "
                  f"invoice {invoice_no}, and ask salesperson {finding['salesperson_id']}'s manager who set the price "
                  f"of {products}.")
    return ending_with(title + (", unapproved" if recorded else ""), explanation, check_next)
