"""Wording of price_list_gap: price changes the price list misses (PRC-02)."""

from __future__ import annotations

from audit.common import day
from audit.wording import Words, ending_with


def words(finding) -> Words:
    evidence, facts = finding["evidence"], finding["facts"]
    parts = [f"{step['products']} products charged {float(step['step']):.2f} × the list from "
             f"{day(step['first'])} to {day(step['last'])}" for step in facts["company_steps"]]
    single = facts["single_steps"]
    for step in single:
        parts.append(f"product {step['product_id']} charged {step['unit_price']:g} ({step['ratio']:.2f} × the list) "
                     f"from {day(step['first'])} to {day(step['last'])} by {step['customers']} customers and "
                     f"{step['salespeople']} salespeople")
    if facts["n_single_steps"] > len(single):
        parts.append(f"{facts['n_single_steps'] - len(single)} more products")
    explanation = (
        f"The price list misses price changes: {'; '.join(parts)}. In those dates the same price off the "
        f"list was charged by different salespeople to different customers for most of each product's "
        f"lines ({evidence['lines']} lines on {evidence['invoices']} invoices), which is how a list "
        f"kept without history or a change never entered shows. These lines are not reported as price "
        f"deviations; complete the price list for these dates to audit their prices.")
    named = [step["product_id"] for step in single[:3]]
    products = f"products {', '.join(named)}" if named else f"the {evidence['products']} products"
    check_next = (f"Ask whoever keeps the price list for the price notices of {products} between "
                  f"{day(evidence['first'])} and {day(evidence['last'])}, and enter them in the list.")
    return ending_with(f"Price list misses changes for {evidence['products']} product(s) between "
                       f"{day(evidence['first'])} and {day(evidence['last'])}", explanation, check_next)
