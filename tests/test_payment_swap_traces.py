"""PAY-01 on a cheque of a stranger or of the salesperson's relative: the drawer's spread over one
salesperson's customers and a confirmation before the receipt add up with the drawer; none counts alone,
and what the data cannot show is listed as not checked, never read as evidence."""

from __future__ import annotations

import copy
from pathlib import Path

from audit.i18n import use_language
from audit.registry import get_detector
from audit.testing import load_cases, run_detector

CASES = Path(__file__).parent / "detector_cases"


def _case(starts: str):
    _, cases = load_cases(CASES / "PAY-01.yaml")
    return copy.deepcopy(next(c for c in cases if c.name.startswith(starts)))


def _run(case):
    return run_detector(get_detector("PAY-01"), case.audit_tables(), case.audit_policy()).set_index("entity_id")


def test_the_salespersons_family_on_several_customers_adds_to_the_relative():
    found = _run(_case("relatives of the salesperson drawing cheques for two"))
    evidence = found.loc["R1", "evidence"]
    assert evidence["traces"] == {"drawer_not_the_customer": 0.45, "relatives_on_several_customers": 0.2}
    assert evidence["drawer_spread"] == {"relatives_on_several_customers": ["C2"]}
    assert evidence["not_checked"] == ["customer_confirmed_paid_earlier"]  # the case holds no confirmations
    assert "customer:C2" in found.loc["R1", "related"]
    assert ("the collecting salesperson or relatives of the salesperson drew cheques for other customers of the "
            "salesperson too (C2)") in found.loc["R1", "explanation"]
    assert "the salesperson's family pays for several customers" in found.loc["R1", "title"]


def test_a_stranger_on_several_customers_with_an_earlier_confirmation():
    found = _run(_case("a stranger's account paying for two customers of one salesperson"))
    evidence = found.loc["R1", "evidence"]
    assert set(evidence["traces"]) == {"drawer_not_the_customer", "drawer_on_several_customers",
                                       "customer_confirmed_paid_earlier"}
    assert evidence["traces"]["customer_confirmed_paid_earlier"] == 0.25
    assert [c["gap"] for c in evidence["confirmations_before_receipt"]] == [1100000.0]
    explanation = found.loc["R1", "explanation"]
    assert "the same drawer's account paid for other customers of the same salesperson" in explanation
    assert "in the 30 days before the receipt's date the customer confirmed owing less than the ledger" in explanation


def test_missing_drawer_accounts_and_confirmations_are_not_checked_not_evidence():
    # the flagged stranger above, without drawer accounts or confirmations: neither trace can be seen,
    # so the stranger's cheque alone is not reported
    case = _case("a stranger's account paying for two customers of one salesperson")
    case.tables["cheques"] = [{k: v for k, v in row.items() if k != "drawer_account"} for row in case.tables["cheques"]]
    del case.tables["confirmations"]
    assert _run(case).empty
    # a relative's cheques on two customers still add up; the finding lists what was not checked
    case = _case("relatives of the salesperson drawing cheques for two")
    case.tables["cheques"] = [{k: v for k, v in row.items() if k != "drawer_account"} for row in case.tables["cheques"]]
    found = _run(case)
    evidence = found.loc["R1", "evidence"]
    assert evidence["not_checked"] == ["drawer_on_several_customers", "customer_confirmed_paid_earlier"]
    assert set(evidence["traces"]) == {"drawer_not_the_customer", "relatives_on_several_customers"}
    assert "Not checked for want of data: whether the drawer's account pays for other customers" in \
        found.loc["R1", "explanation"]


def test_the_new_traces_are_worded_in_persian_and_chinese():
    case = _case("a stranger's account paying for two customers of one salesperson")
    for language, words in (("fa", "همان حساب صادرکننده"), ("zh", "同一出票人账户")):
        with use_language(language):
            assert words in _run(case).loc["R1", "explanation"]
