"""Wording of just_below_threshold (STD-06): a sale split under the approval limit, or an amount just under it."""

from __future__ import annotations

from audit.i18n import t
from audit.wording import Words, both, clauses, day, ending_with, figure, items, localised, money, sentences
from detectors.wording import share


def words(finding) -> Words:
    return _split(finding) if finding["evidence"]["kind"] == "split" else _just_below(finding)


def _split(finding) -> Words:
    evidence, facts = finding["evidence"], finding["facts"]
    limit, total, parts = evidence["approval_amount"], evidence["total"], evidence["parts"]
    parts_words = clauses(
        t("%(invoice)s of %(date)s, %(amount)s (order %(order)s)", invoice=p["invoice_no"],
          date=day(p["invoice_date"]), amount=money(p["amount"]), order=p["order_id"])
        if isinstance(p["order_id"], str) else
        t("%(invoice)s of %(date)s, %(amount)s (no order)", invoice=p["invoice_no"], date=day(p["invoice_date"]),
          amount=money(p["amount"])) for p in parts[:6])
    reasons = []
    if evidence["shared_orders"]:
        reasons.append(t("they bill the same order (%(orders)s)", orders=items(evidence["shared_orders"])))
    if facts["parts_without_order"]:
        reasons.append(t("%(count)s of them name no order, while %(share)s of invoices do",
                         count=figure(facts["parts_without_order"]),
                         share=share(evidence["share_of_invoices_naming_an_order"])))
    explanation = sentences(
        t("Customer %(customer)s was billed %(count)s invoices within %(days)s day(s) of each other, each under the "
          "approval limit of %(limit)s and none approved, together %(total)s: %(parts)s.",
          customer=finding["customer_id"], count=figure(len(parts)), days=figure(evidence["split_days"]),
          limit=money(limit), total=money(total), parts=parts_words),
        t("They are not separate purchases: %(reasons)s.", reasons=both(reasons)),
        t("Splitting a sale keeps it away from the manager who must approve invoices of %(limit)s or more.",
          limit=money(limit)),
        t("Money at risk: the whole split, %(total)s.", total=money(total)))
    check_next = t("Pull the orders and delivery notes of invoices %(invoices)s, and ask salesperson "
                   "%(salesperson)s's manager whether this %(total)s sale to customer %(customer)s should have come "
                   "to them for approval.", invoices=items(p["invoice_no"] for p in parts[:4]),
                   salesperson=finding["salesperson_id"], total=money(total), customer=finding["customer_id"])
    return ending_with(t("Invoice %(invoice)s: one sale of %(total)s split into %(count)s invoices under the approval "
                         "limit", invoice=facts["invoice_no"], total=money(total), count=figure(len(parts))),
                       explanation, check_next)


def _just_below(finding) -> Words:
    evidence, facts = finding["evidence"], finding["facts"]
    limit, amount, band_pct = evidence["approval_amount"], evidence["amount"], evidence["band_pct"]
    band = evidence["salesperson_band"]
    band_words = localised(f"{band_pct:g} %")
    explanation = sentences(
        t("Invoice %(invoice)s of %(date)s to customer %(customer)s, %(amount)s, is %(under)s under the approval "
          "limit of %(limit)s and has no approver.", invoice=facts["invoice_no"], date=day(facts["invoice_date"]),
          customer=finding["customer_id"], amount=money(amount), under=money(evidence["under_limit_by"]),
          limit=money(limit)),
        t("Salesperson %(salesperson)s has %(below)s invoices in the %(band)s just under the limit and only "
          "%(above)s in the %(band)s just over it; for the other salespeople %(share)s of such invoices fall under "
          "it.", salesperson=finding["salesperson_id"], below=figure(band["below"]), band=band_words,
          above=figure(band["above"]), share=share(evidence["other_salespeople_share_below"])),
        t("Landing just under the limit this often avoids the manager's approval — a price, discount or credit the "
          "manager would refuse."))
    check_next = t("Pull the order and price sheet of invoice %(invoice)s, and ask salesperson %(salesperson)s's "
                   "manager why %(below)s of this salesperson's invoices land just under the %(limit)s limit.",
                   invoice=facts["invoice_no"], salesperson=finding["salesperson_id"], below=figure(band["below"]),
                   limit=money(limit))
    return ending_with(t("Invoice %(invoice)s: %(amount)s, just under the approval limit", invoice=facts["invoice_no"],
                         amount=money(amount)), explanation, check_next)
