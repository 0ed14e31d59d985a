"""Wording of price_deviation: invoice lines priced off the valid list price without approval (PRC-01)."""

from __future__ import annotations

from audit.i18n import N_, t
from audit.wording import Words, both, clauses, day, ending_with, figure, items, localised, money, sentences

# Where a line's valid price came from (analyses/pricing/priced_lines.py, detectors/pricing/prc_01).
SOURCE_WORDS = {"class price list": N_("class price list"), "price list": N_("price list"),
                "invoice line list_price": N_("invoice line list_price"),
                "product list_price": N_("product list_price"),
                "list price × the step the price list misses": N_("list price × the step the price list misses")}


def words(finding) -> Words:
    evidence, facts = finding["evidence"], finding["facts"]
    invoice_no, n_lines = facts["invoice_no"], facts["n_lines"]
    described = []
    for line in evidence["lines"][:5]:
        values = dict(product=line["product_id"], quantity=figure(line["quantity"], "g"),
                      price=money(line["unit_price"]), valid=money(line["valid_price"]),
                      source=t(SOURCE_WORDS[line["source"]]) if line["source"] in SOURCE_WORDS else line["source"],
                      pct=localised(f"{abs(line['deviation_pct']):.1f} %"))
        described.append(t("%(product)s: %(quantity)s at %(price)s against %(valid)s (%(source)s), %(pct)s above",
                           **values) if line["deviation_amount"] > 0 else
                         t("%(product)s: %(quantity)s at %(price)s against %(valid)s (%(source)s), %(pct)s below",
                           **values))
    lines = clauses(described)
    if n_lines > 5:
        lines = t("%(lines)s and %(count)s more lines", lines=lines, count=figure(n_lines - 5))
    direction_words = []
    if evidence["over_charge"]:
        direction_words.append(t("over-charged by %(amount)s", amount=money(evidence["over_charge"])))
    if evidence["under_charge"]:
        direction_words.append(t("under-charged by %(amount)s", amount=money(evidence["under_charge"])))
    recorded = facts.get("approvals_recorded", True)
    values = dict(invoice=invoice_no, date=day(facts["invoice_date"]), customer=finding["customer_id"],
                  salesperson=finding["salesperson_id"], count=figure(n_lines),
                  tolerance=localised(f"{evidence['tolerance_pct']:g} %"), lines=lines)
    explanation = sentences(
        t("Invoice %(invoice)s of %(date)s to customer %(customer)s (salesperson %(salesperson)s) has %(count)s "
          "line(s) priced outside the valid list price ± %(tolerance)s with no approver: %(lines)s.", **values)
        if recorded else
        t("Invoice %(invoice)s of %(date)s to customer %(customer)s (salesperson %(salesperson)s) has %(count)s "
          "line(s) priced outside the valid list price ± %(tolerance)s (the data records no price approvals, so "
          "approval was not checked): %(lines)s.", **values),
        t("The customer was %(how)s.", how=both(direction_words)),
        t("Prices off the list without approval either over-charge the buyer or give away margin."),
        t("Confidence is lower: there is no dated price list, so the product's list price was used.")
        if facts["fallback_only"] else "")
    worst = localised(f"{evidence['worst_deviation_pct']:.1f} %")
    title = (t("Invoice %(invoice)s: prices %(pct)s off the list, unapproved", invoice=invoice_no, pct=worst)
             if recorded else t("Invoice %(invoice)s: prices %(pct)s off the list", invoice=invoice_no, pct=worst))
    check_next = t("Pull the price list valid on %(date)s and any price approval for invoice %(invoice)s, and ask "
                   "salesperson %(salesperson)s's manager who set the price of %(products)s.",
                   date=day(facts["invoice_date"]), invoice=invoice_no, salesperson=finding["salesperson_id"],
                   products=items(line["product_id"] for line in evidence["lines"][:3]))
    return ending_with(title, explanation, check_next)
