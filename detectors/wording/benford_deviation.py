"""Wording of benford_deviation: a salesperson's (STD-01) or customer's (STD-07) invoice amounts off Benford's law."""

from __future__ import annotations

from audit.common import day, money
from audit.methods.benford import LAST_TWO, TEST_TITLES
from audit.wording import Words, ending_with

GROUP_WORDS = {"STD-01": "salesperson", "STD-07": "customer"}


def _digit_label(test: str, digit: int) -> str:
    return f"{int(digit):02d}" if test == LAST_TWO else str(int(digit))


def words(finding) -> Words:
    evidence, facts = finding["evidence"], finding["facts"]
    group_word, group = GROUP_WORDS[finding["detector"]], finding["entity_id"]
    tests = evidence["tests"]
    described = []
    for test in tests:
        digits_words = ", ".join(
            f"{_digit_label(test['test'], h['digit'])} ({h['count']} amounts against {h['expected_count']:.0f} "
            f"expected)" for h in evidence["over_represented"][test["test"]][:3]) or "no single digit stands out"
        described.append(f"{test['title'].lower()}: too many amounts at {digits_words}")
    small = [f"{test['title'].lower()} used {test['n']:,} amounts, fewer than the {test['minimum_sample']:,} at "
             f"which it is fully reliable" for test in tests if test["warning"]]
    unit = evidence["amount_unit"]
    unit_words = (f" Amounts are read in units of {unit:,} (at least {facts['unit_share']:.0%} of the ledger's "
                  f"amounts are whole multiples of it)." if unit > 1 else "")
    sample = facts["largest_invoice_nos"]
    explanation = (
        f"The {evidence['group']['n_invoices']:,} posted invoices of {group_word} {group} from "
        f"{day(evidence['group']['first_date'])} to {day(evidence['group']['last_date'])} do not have the digit "
        f"pattern that natural amounts follow (Benford's law), by more than the chance variation of that many "
        f"invoices explains — {'; '.join(described)}. Amounts that are made up, or steered to a level such as just "
        f"under a limit, leave this kind of trace. The invoices in those digits beyond what chance allows are worth "
        f"about {money(finding['risk_amount'])} (surplus count above its 95 % bound × the digit's mean amount); "
        f"start sampling with the {len(sample)} largest of them ({', '.join(sample)}).{unit_words}"
        + (f" Caution, small sample: the {'; the '.join(small)} — the verdict allows for the sample size, "
           f"but the picture is rougher." if small else "")
        + " This is a statistical screen, not proof: it says where to look."
    )
    title = (f"{group_word.capitalize()} {group}: invoice amounts off Benford's law "
             f"({', '.join(TEST_TITLES[test['test']].lower() for test in tests)})")
    who = (f"salesperson {group}'s manager how those amounts were set" if group_word == "salesperson"
           else f"customer {group}'s buyer to confirm them")
    check_next = (f"Pull invoice(s) {', '.join(sample[:3])} with their orders and delivery notes, and ask "
                  f"{who}.")
    return ending_with(title, explanation, check_next)
