"""Wording of unauthorized_discount: discounts on an invoice beyond what the policy allowed (DSC-02)."""

from __future__ import annotations

from audit.i18n import N_, t
from audit.wording import Words, clauses, day, ending_with, figure, items, localised, money, sentences

# How the explanation names an approver's authority level (``evidence["lines"][i]["level"]``).
LEVEL_WORDS = {"none": N_("no discount authority"), "salesperson": N_("a salesperson"), "manager": N_("a manager"),
               "director": N_("a director"), "unknown": N_("not in the staff lists")}
# A line's discount type (the contract's invoice_lines.discount_type, none read as manual).
KIND_WORDS = {"manual": N_("manual"), "volume": N_("volume"), "promo": N_("promo"), "cash": N_("cash")}
# Why a line was allowed what it was (detectors/discounts/dsc_02_unauthorized_discount.py).
WHY_WORDS = {why: why for why in (
    N_("a cash discount belongs to the payment, not the invoice line"),
    N_("a discount commonly given on this category"),
    N_("a salesperson's own authority or the volume tier (approvals are not recorded)"),
    N_("a salesperson's own authority, without a valid approval"),
    N_("matches a running promotion"),
    N_("no approval and no running promotion matches: only the volume tier"),
    N_("no running promotion matches: only the volume tier"),
    N_("promotion approved by an authorised person"),
    N_("the approver's authority for manual discounts"),
    N_("the volume tier the line's quantity earns"))}


def _known(words: dict, value) -> str:
    return t(words[value]) if value in words else str(value)


def words(finding) -> Words:
    evidence, facts = finding["evidence"], finding["facts"]
    invoice_no, salesperson, customer = facts["invoice_no"], finding["salesperson_id"], finding["customer_id"]
    lines, traces = evidence["lines"], evidence["traces"]
    approvals_recorded = facts["approvals_recorded"]
    described = []
    for line in lines[:5]:
        approver = line["approved_by"]
        approver_words = (t("approved by %(approver)s, %(level)s", approver=approver,
                            level=_known(LEVEL_WORDS, line["level"])) if isinstance(approver, str) else
                          t("no approver") if approvals_recorded else t("approval not recorded"))
        described.append(t(
            "%(product)s: %(quantity)s units, %(kind)s discount %(pct)s %% (%(approver)s) where %(allowed)s %% was "
            "allowed (%(why)s); %(excess)s beyond", product=line["product_id"], quantity=figure(line["quantity"], "g"),
            kind=_known(KIND_WORDS, line["kind"]), pct=figure(line["discount_pct"], "g"), approver=approver_words,
            allowed=figure(line["allowed_pct"], "g"), why=_known(WHY_WORDS, line["allowed_why"]),
            excess=money(line["excess_amount"])))
    said = clauses(described)
    if len(lines) > 5:
        said = t("%(lines)s and %(count)s more lines", lines=said, count=figure(len(lines) - 5))
    context = []
    if "salesperson_far_above_peers" in traces:
        rate, peer_median = evidence["salesperson_discount_rate"], evidence["peer_median_rate"]
        context.append(t("Salesperson %(salesperson)s gives discounts outside the volume and promotion rules worth "
                         "%(rate)s of sales, %(ratio)s times the peers' median %(median)s.", salesperson=salesperson,
                         rate=localised(f"{rate * 100:.2f} %"), ratio=figure(facts["peer_ratio"], ".1f"),
                         median=localised(f"{peer_median * 100:.2f} %")))
    repeats = evidence["customer_invoices_with_unallowed_discounts"]
    if repeats > 1:
        context.append(t("The same customer got unallowed discounts on %(count)s other invoice(s) (%(invoices)s).",
                         count=figure(repeats - 1), invoices=items(facts["other_invoices"][:5])))
    unknown = any(line["level"] == "unknown" for line in lines)
    if approvals_recorded:
        approvals = ""
    elif all(line["kind"] == "manual" for line in lines):
        approvals = t("Discount approvals are not recorded in this data, so whether someone with authority approved "
                      "it was not checked; it is listed because the salesperson gives far more discount than the "
                      "peers.")
    else:
        approvals = t("Discount approvals are not recorded in this data, so whether someone with authority approved "
                      "it was not checked; its discount type's own rule does not allow it.")
    explanation = sentences(
        t("Invoice %(invoice)s of %(date)s to customer %(customer)s (salesperson %(salesperson)s): %(lines)s.",
          invoice=invoice_no, date=day(facts["invoice_date"]), customer=customer, salesperson=salesperson,
          lines=said),
        *context,
        t("In all %(amount)s of discount was given beyond what the policy allowed; a discount without authority or "
          "disguised as a tier or promotion gives the company's margin away, often to a favoured customer.",
          amount=money(evidence["excess_amount"])),
        t("Confidence is lower: an approver could not be found in the staff lists and was taken as a manager.")
        if unknown and not facts["employees_known"] and approvals_recorded else "",
        approvals)
    worst = max(line["excess_pct"] for line in lines)
    approvers = sorted({line["approved_by"] for line in lines if isinstance(line["approved_by"], str)})
    asked = (t("approver %(approvers)s and salesperson %(salesperson)s's manager", approvers=items(approvers[:2]),
               salesperson=salesperson) if approvers
             else t("salesperson %(salesperson)s's manager", salesperson=salesperson))
    check_next = t("Pull the discount approval (or request) for invoice %(invoice)s, and ask %(asked)s who allowed "
                   "the %(pct)s %% on %(product)s.", invoice=invoice_no, asked=asked,
                   pct=figure(lines[0]["discount_pct"], "g"), product=lines[0]["product_id"])
    return ending_with(t("Invoice %(invoice)s: %(worst)s points of discount beyond what was allowed",
                         invoice=invoice_no, worst=figure(worst, ".1f")), explanation, check_next)
