"""Wording of benford_deviation: a salesperson's (STD-01) or customer's (STD-07) invoice amounts off Benford's law."""

from __future__ import annotations

from audit.i18n import N_, t
from audit.methods.benford import LAST_TWO
from audit.wording import Words, clauses, day, ending_with, figure, items, localised, money, sentences

# The tests' names as the text uses them (audit.methods.benford.TEST_TITLES, lower case).
TEST_WORDS = {"first_digit": N_("first digit"), "first_two": N_("first two digits"),
              "first_three": N_("first three digits"), "second_digit": N_("second digit"),
              "last_two": N_("last two digits")}


def _digit_label(test: str, digit: int) -> str:
    return f"{int(digit):02d}" if test == LAST_TWO else str(int(digit))


def _test_words(test: str, title: str) -> str:
    return t(TEST_WORDS[test]) if test in TEST_WORDS else title.lower()


def words(finding) -> Words:
    evidence, facts = finding["evidence"], finding["facts"]
    salesperson, group = finding["detector"] == "STD-01", finding["entity_id"]
    tests = evidence["tests"]
    described = []
    for test in tests:
        over = evidence["over_represented"][test["test"]][:3]
        digits_words = items(
            t("%(digit)s (%(count)s amounts against %(expected)s expected)",
              digit=localised(_digit_label(test["test"], h["digit"])), count=figure(h["count"]),
              expected=figure(h["expected_count"], ".0f")) for h in over)
        title = _test_words(test["test"], test["title"])
        described.append(t("%(test)s: too many amounts at %(digits)s", test=title, digits=digits_words) if over
                         else t("%(test)s: too many amounts at no single digit stands out", test=title))
    small = [t("the %(test)s used %(count)s amounts, fewer than the %(minimum)s at which it is fully reliable",
               test=_test_words(test["test"], test["title"]), count=figure(test["n"], ","),
               minimum=figure(test["minimum_sample"], ",")) for test in tests if test["warning"]]
    unit = evidence["amount_unit"]
    sample = facts["largest_invoice_nos"]
    group_values = dict(count=figure(evidence["group"]["n_invoices"], ","), group=group,
                        first=day(evidence["group"]["first_date"]), last=day(evidence["group"]["last_date"]),
                        tests=clauses(described))
    opening = (t("The %(count)s posted invoices of salesperson %(group)s from %(first)s to %(last)s do not have the "
                 "digit pattern that natural amounts follow (Benford's law), by more than the chance variation of "
                 "that many invoices explains — %(tests)s.", **group_values) if salesperson else
               t("The %(count)s posted invoices of customer %(group)s from %(first)s to %(last)s do not have the "
                 "digit pattern that natural amounts follow (Benford's law), by more than the chance variation of "
                 "that many invoices explains — %(tests)s.", **group_values))
    explanation = sentences(
        opening,
        t("Amounts that are made up, or steered to a level such as just under a limit, leave this kind of trace."),
        t("The invoices in those digits beyond what chance allows are worth about %(amount)s (surplus count above "
          "its 95 %% bound × the digit's mean amount); start sampling with the %(count)s largest of them "
          "(%(invoices)s).", amount=money(finding["risk_amount"]), count=figure(len(sample)),
          invoices=items(sample)),
        t("Amounts are read in units of %(unit)s (at least %(share)s of the ledger's amounts are whole multiples of "
          "it).", unit=figure(unit, ","), share=figure(facts["unit_share"], ".0%")) if unit > 1 else "",
        t("Caution, small sample: %(tests)s — the verdict allows for the sample size, but the picture is "
          "rougher.", tests=clauses(small)) if small else "",
        t("This is a statistical screen, not proof: it says where to look."))
    tests_words = items(_test_words(test["test"], test["title"]) for test in tests)
    if salesperson:
        title = t("Salesperson %(group)s: invoice amounts off Benford's law (%(tests)s)", group=group,
                  tests=tests_words)
        check_next = t("Pull invoice(s) %(invoices)s with their orders and delivery notes, and ask salesperson "
                       "%(group)s's manager how those amounts were set.", invoices=items(sample[:3]), group=group)
    else:
        title = t("Customer %(group)s: invoice amounts off Benford's law (%(tests)s)", group=group, tests=tests_words)
        check_next = t("Pull invoice(s) %(invoices)s with their orders and delivery notes, and ask customer "
                       "%(group)s's buyer to confirm them.", invoices=items(sample[:3]), group=group)
    return ending_with(title, explanation, check_next)
