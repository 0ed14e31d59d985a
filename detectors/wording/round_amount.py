"""Wording of round_amount: a salesperson's (STD-04) or customer's (STD-08) amounts in round figures."""

from __future__ import annotations

from audit.common import money
from audit.wording import Words, ending_with
from detectors.standard.support import share_words

GROUP_WORDS = {"STD-04": "salesperson", "STD-08": "customer"}


def words(finding) -> Words:
    evidence = finding["evidence"]
    group = f"{GROUP_WORDS[finding['detector']].capitalize()} {finding['entity_id']}"
    described = []
    for name, rows, noun in (("invoices", evidence["round_invoices"], "invoices"),
                             ("cash_receipts", evidence["round_cash_receipts"], "cash receipts")):
        test = evidence["tests"][name]
        if not test["flagged"]:
            continue
        examples = ", ".join(f"{money(row['amount'])}" for row in rows[:4])
        described.append(
            f"{test['k']} of its {test['n']:,} {noun} are in round figures ({share_words(test['rate'])}, "
            f"against {share_words(test['population_rate'])} in the rest of the ledger; e.g. {examples})")
    explanation = (
        f"{group}: " + "; ".join(described) + ". Round totals are typed in, "
        f"not computed from prices and quantities — invoices whose lines are themselves round (a round "
        f"price list) are not counted. A figure chosen by someone can hide an invented sale, a quantity "
        f"tuned to reach a number, or cash kept back to a round sum. The round amounts beyond the rest of the "
        f"ledger's rate are worth about {money(finding['risk_amount'])}. This is a screen: it says which records to "
        f"look at."
    )
    invoices = [row["invoice_no"] for row in evidence["round_invoices"][:3]]
    receipts = [row["receipt_id"] for row in evidence["round_cash_receipts"][:3]]
    pull = " and ".join(bit for bit in (
        f"the orders and price sheets of invoices {', '.join(invoices)}" if invoices else "",
        f"the customers' copies of cash receipts {', '.join(receipts)}" if receipts else "") if bit)
    who = (f"salesperson {finding['entity_id']}'s manager" if finding["detector"] == "STD-04"
           else f"customer {finding['entity_id']}'s buyer")
    check_next = f"Pull {pull or 'the round records'}, and ask {who} how those round sums were arrived at."
    return ending_with(f"{group}: unusually many round amounts", explanation, check_next)
