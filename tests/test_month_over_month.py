"""Month over month: a finding keeps its id across periods, is `repeat` when seen again and `resolved` when no
detector finds it any more, whatever --period says; --suppressions keeps its reason and author."""

from __future__ import annotations

import pandas as pd

import audit
from audit.ranking import exception_ids, exceptions_schema
from audit.runner import finalise

from .conftest import MINI


def _finding(detector, entity_type, entity_id, period, salesperson="S1", amount=1000.0):
    return {"detector": detector, "pattern": "payment_swap", "score": 0.9, "risk_amount": amount,
            "entity_type": entity_type, "entity_id": entity_id, "salesperson_id": salesperson, "customer_id": None,
            "period": period, "title": f"{entity_type} {entity_id}", "explanation": "x" * 40 + f" Ask about {entity_id}.",
            "check_next": f"Ask about {entity_id}.", "evidence": {}, "related": []}


def test_an_entity_keeps_its_id_when_later_months_are_flagged():
    march = pd.DataFrame([_finding("DST-01", "customer", "C1", "2025-03")])
    later = pd.DataFrame([_finding("DST-01", "customer", "C1", "2025-03"),
                          _finding("DST-01", "customer", "C1", "2025-05")])
    first, = exception_ids(march)
    again, may = exception_ids(later)
    assert first == again and may != first
    # the same entity seen next month (a roll-up's period moves with the run) keeps its id
    assert exception_ids(pd.DataFrame([_finding("SPR-01", "salesperson", "S1", "2025-03")])).iloc[0] == \
        exception_ids(pd.DataFrame([_finding("SPR-01", "salesperson", "S1", "2025-04")])).iloc[0]


def test_previous_month_is_repeat_or_resolved_whatever_the_period():
    march_found = pd.DataFrame([_finding("SPR-01", "salesperson", "S1", "2025-03"),
                                _finding("PAY-01", "receipt", "R1", "2025-03"),
                                _finding("PAY-01", "receipt", "R5", "2025-03")])
    march, _ = finalise(march_found, "march", "2025-03", None, set())
    april_found = pd.DataFrame([_finding("SPR-01", "salesperson", "S1", "2025-04"),
                                _finding("PAY-01", "receipt", "R1", "2025-03"),  # still found, out of scope
                                _finding("PAY-01", "receipt", "R9", "2025-04")])
    april, resolved = finalise(april_found, "april", "2025-04", march, set())
    assert dict(zip(april["entity_id"], april["status"], strict=True)) == {"S1": "repeat", "R9": "new"}
    assert resolved["entity_id"].tolist() == ["R5"]  # R1 is still found: not resolved
    exceptions_schema().validate(april)


def test_suppressions_keep_reason_and_author(tmp_path):
    first = audit.run(MINI, policy=MINI / "policy.toml")
    target = first.exceptions["exception_id"].iloc[2]
    pd.DataFrame({"exception_id": [target], "reason": ["approved by phone"], "suppressed_by": ["auditor 7"]}).to_csv(
        tmp_path / "s.csv", index=False)
    second = audit.run(MINI, policy=MINI / "policy.toml", suppressions=tmp_path / "s.csv")
    row = second.exceptions.set_index("exception_id").loc[target]
    assert (row["status"], row["decision"], row["decided_by"], row["reason"]) == (
        "suppressed", "suppressed", "auditor 7", "approved by phone")
    assert second.manifest["suppressions"]["rows"] == 1 and second.manifest["suppressions"]["applied"] == 1
    assert second.manifest["cases"] is None
    others = second.exceptions[second.exceptions["exception_id"] != target]
    assert others["decision"].isna().all() and set(others["status"]) == {"new"}
