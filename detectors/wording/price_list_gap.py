"""Wording of price_list_gap: price changes the price list misses (PRC-02)."""

from __future__ import annotations

from audit.i18n import t
from audit.wording import Words, clauses, day, ending_with, figure, items, sentences


def words(finding) -> Words:
    evidence, facts = finding["evidence"], finding["facts"]
    parts = [t("%(count)s products charged %(ratio)s × the list from %(first)s to %(last)s",
               count=figure(step["products"]), ratio=figure(float(step["step"]), ".2f"), first=day(step["first"]),
               last=day(step["last"])) for step in facts["company_steps"]]
    single = facts["single_steps"]
    for step in single:
        parts.append(t("product %(product)s charged %(price)s (%(ratio)s × the list) from %(first)s to %(last)s by "
                       "%(customers)s customers and %(salespeople)s salespeople", product=step["product_id"],
                       price=figure(step["unit_price"], "g"), ratio=figure(step["ratio"], ".2f"),
                       first=day(step["first"]), last=day(step["last"]), customers=figure(step["customers"]),
                       salespeople=figure(step["salespeople"])))
    if facts["n_single_steps"] > len(single):
        parts.append(t("%(count)s more products", count=figure(facts["n_single_steps"] - len(single))))
    explanation = sentences(
        t("The price list misses price changes: %(changes)s.", changes=clauses(parts)),
        t("In those dates the same price off the list was charged by different salespeople to different customers "
          "for most of each product's lines (%(lines)s lines on %(invoices)s invoices), which is how a list kept "
          "without history or a change never entered shows.", lines=figure(evidence["lines"]),
          invoices=figure(evidence["invoices"])),
        t("These lines are not reported as price deviations; complete the price list for these dates to audit their "
          "prices."))
    named = [step["product_id"] for step in single[:3]]
    products = (t("products %(products)s", products=items(named)) if named
                else t("the %(count)s products", count=figure(evidence["products"])))
    check_next = t("Ask whoever keeps the price list for the price notices of %(products)s between %(first)s and "
                   "%(last)s, and enter them in the list.", products=products, first=day(evidence["first"]),
                   last=day(evidence["last"]))
    return ending_with(t("Price list misses changes for %(count)s product(s) between %(first)s and %(last)s",
                         count=figure(evidence["products"]), first=day(evidence["first"]),
                         last=day(evidence["last"])), explanation, check_next)
