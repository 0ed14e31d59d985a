"""Wording of portfolio_distress: a salesperson's portfolio gathering distressed customers, or a salesperson
still supplying them past the credit limit or the stop-supply step (DST-02)."""

from __future__ import annotations

from audit.common import day, money
from audit.wording import Words, ending_with
from detectors.wording import text


def words(finding) -> Words:
    evidence, facts = finding["evidence"], finding["facts"]
    name = text(facts["salesperson_name"])
    salesperson = finding["entity_id"]
    who = f"Salesperson {salesperson}" + (f" ({name})" if name else "")
    count, size, rate = evidence["distressed_customers"], evidence["portfolio_customers"], evidence["company_rate"]
    customer_words = ", ".join(f"{c['customer_id']} (score {c['best_score']:.2f} from {c['first_alert']}, exposure "
                               f"{money(c['exposure'])})" for c in evidence["customers"][:8])
    parts = []
    if evidence["clustered"]:
        parts.append(f"{count} of the {size} customers of {who} reached the distress alert level "
                     f"({customer_words}); company-wide {rate:.1%} of customers did, so {evidence['expected']:.1f} "
                     f"were expected, and the chance of {count} or more is {evidence['binomial_tail_p']:.2%}")
    elif count:
        parts.append(f"{count} of the {size} customers of {who} reached the distress alert level "
                     f"({customer_words})")
    supplied = facts["supplied_by_customer"]
    if supplied:
        supply_words = []
        for customer in supplied:
            reasons = []
            if customer["over_limit"]:
                reasons.append(f"over its credit limit of {money(customer['credit_limit'])}")
            if customer["after_stop"]:
                reasons.append(f"with invoices more than {facts['grace_days']} days overdue "
                               f"(up to {customer['oldest_overdue_days']:.0f} days)")
            supply_words.append(
                f"{customer['invoices']} invoice(s) worth {money(customer['amount'])} to {customer['customer_id']} "
                f"between {day(customer['first_date'])} and {day(customer['last_date'])}, " + " and ".join(reasons))
        parts.append(f"{who} kept selling on credit to customers that later reached the alert level: "
                     + "; ".join(supply_words))
    explanation = (
        ". ".join(parts) + f". The distressed customers owe {money(finding['risk_amount'])}. Failures gathering "
        "around one salesperson, or goods still shipped on credit to a customer that stopped paying, mean either "
        "credit given against the rules to chase volume or collusion with the customers: review that portfolio's "
        "credit decisions, the deliveries and who approved them.")
    past = len(evidence["invoices_past_limits"])
    title = (f"{who}: {count} distressed customer(s) of {size}"
             + (f", {past} invoice(s) past the credit limit or stop-supply" if past else "")
             + " - distress or collusion?")
    customers = [c["customer_id"] for c in evidence["customers"][:3]]
    invoices = [i["invoice_no"] for i in evidence["invoices_past_limits"][:3]]
    pull = (f"the credit approvals and delivery notes of invoices {', '.join(invoices)}" if invoices
            else f"the credit files of customers {', '.join(customers)}")
    check_next = (f"Pull {pull} and the latest statements of account of {', '.join(customers)}, and ask "
                  f"salesperson {salesperson}'s manager and the credit controller who approved selling to them on credit.")
    return ending_with(title, explanation, check_next)
