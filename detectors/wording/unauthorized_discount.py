"""Wording of unauthorized_discount: discounts on an invoice beyond what the policy allowed (DSC-02)."""

from __future__ import annotations

from audit.common import day, money
from audit.wording import Words, ending_with

# How the explanation names an approver's authority level (``evidence["lines"][i]["level"]``).
LEVEL_WORDS = {"none": "no discount authority", "salesperson": "a salesperson", "manager": "a manager",
               "director": "a director", "unknown": "not in the staff lists"}


def words(finding) -> Words:
    evidence, facts = finding["evidence"], finding["facts"]
    invoice_no, salesperson, customer = facts["invoice_no"], finding["salesperson_id"], finding["customer_id"]
    lines, traces = evidence["lines"], evidence["traces"]
    approvals_recorded = facts["approvals_recorded"]
    described = []
    for line in lines[:5]:
        approver = line["approved_by"]
        approver_words = (f"approved by {approver}, {LEVEL_WORDS.get(line['level'], line['level'])}"
                          if isinstance(approver, str) else
                          "no approver" if approvals_recorded else "approval not recorded")
        described.append(
            f"{line['product_id']}: {line['quantity']:g} units, {line['kind']} discount {line['discount_pct']:g} % "
            f"({approver_words}) where {line['allowed_pct']:g} % was allowed ({line['allowed_why']}); "
            f"{money(line['excess_amount'])} beyond")
    more = f" and {len(lines) - 5} more lines" if len(lines) > 5 else ""
    said = "; ".join(described) + more
    context = []
    if "salesperson_far_above_peers" in traces:
        rate, peer_median = evidence["salesperson_discount_rate"], evidence["peer_median_rate"]
        context.append(f"salesperson {salesperson} gives discounts outside the volume and promotion rules worth "
                       f"{rate * 100:.2f} % of sales, {facts['peer_ratio']:.1f} times the peers' median "
                       f"{peer_median * 100:.2f} %")
    repeats = evidence["customer_invoices_with_unallowed_discounts"]
    if repeats > 1:
        context.append(f"the same customer got unallowed discounts on {repeats - 1} other invoice(s) "
                       f"({', '.join(facts['other_invoices'][:5])})")
    unknown = any(line["level"] == "unknown" for line in lines)
    explanation = (
        f"Invoice {invoice_no} of {day(facts['invoice_date'])} to customer {customer} (salesperson {salesperson}): "
        f"{said}. "
        + (" ".join(c[0].upper() + c[1:] + "." for c in context) + " " if context else "")
        + f"In all {money(evidence['excess_amount'])} of discount was given beyond what the policy allowed; a "
        "discount without authority or disguised as a tier or promotion gives the company's margin away, often to a "
        "favoured customer."
        + (" Confidence is lower: an approver could not be found in the staff lists and was taken as a "
           "manager." if unknown and not facts["employees_known"] and approvals_recorded else "")
        + ("" if approvals_recorded else
           " Discount approvals are not recorded in this data, so whether someone with authority approved "
           "it was not checked"
           + ("; it is listed because the salesperson gives far more discount than the peers."
              if all(line["kind"] == "manual" for line in lines) else "; its discount type's own rule does not allow "
                                                                      "it.")))
    worst = max(line["excess_pct"] for line in lines)
    approvers = sorted({line["approved_by"] for line in lines if isinstance(line["approved_by"], str)})
    asked = (f"approver {', '.join(approvers[:2])} and salesperson {salesperson}'s manager" if approvers
             else f"salesperson {salesperson}'s manager")
    check_next = (f"Pull the discount approval (or request) for invoice {invoice_no}, and ask {asked} who "
                  f"allowed the {lines[0]['discount_pct']:g} % on {lines[0]['product_id']}.")
    return ending_with(f"Invoice {invoice_no}: {worst:.1f} points of discount beyond what was allowed", explanation,
                       check_next)
