"""STD-00: the posted invoices' amounts read once for the digit and roundness tests (STD-01/04/07/08)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analyses.standard import posted_totals
from audit.data import AuditData
from audit.engine import Engine
from audit.registry import get_detector
from audit.runner import run_detectors
from audit.testing import load_cases

READERS = ("STD-01", "STD-04", "STD-07", "STD-08")
CASES_DIR = Path(__file__).parent / "detector_cases"


def _flagging_case(code):
    return next(case for case in load_cases(CASES_DIR / f"{code}.yaml")[1] if case.flagged)


def _counted(monkeypatch) -> list:
    queries = []
    original = posted_totals._executed
    monkeypatch.setattr(posted_totals, "_executed", lambda data: queries.append(1) or original(data))
    return queries


@pytest.mark.parametrize("code", READERS)
def test_a_reader_finds_through_the_shared_totals_what_it_finds_alone(code):
    case = _flagging_case(code)
    tables, policy = case.audit_tables(), case.audit_policy()
    data = AuditData(tables, policy, Engine("duckdb"))
    try:
        alone = get_detector(code).from_policy(policy).run(data)  # no STD-00: it runs the query itself
    finally:
        data.engine.close()
    data = AuditData(tables, policy, Engine("duckdb"))
    try:
        together, statuses = run_detectors(data, [code], raise_errors=True)
    finally:
        data.engine.close()
    assert list(statuses["detector"]) == ["STD-00", code]
    assert len(alone) > 0
    columns = ["entity_id", "period", "score", "risk_amount"]
    pd.testing.assert_frame_equal(together[columns].reset_index(drop=True), alone[columns].reset_index(drop=True),
                                  check_dtype=False)
    assert [str(e) for e in together["evidence"]] == [str(e) for e in alone["evidence"]]


def test_the_four_tests_read_the_posted_invoices_once(monkeypatch):
    case = _flagging_case("STD-04")
    queries = _counted(monkeypatch)
    data = AuditData(case.audit_tables(), case.audit_policy(), Engine("duckdb"))
    try:
        found, statuses = run_detectors(data, list(READERS), raise_errors=True)
    finally:
        data.engine.close()
    assert len(queries) == 1
    assert list(statuses["detector"]) == ["STD-00", *READERS] and len(found) > 0


def test_a_reader_run_alone_reads_the_ledger_itself():
    case = _flagging_case("STD-01")
    data = AuditData(case.audit_tables(), case.audit_policy(), Engine("duckdb"))
    try:
        own = posted_totals.posted_totals(data)
        shared = posted_totals.PostedTotals(own.iloc[:3])
        scoped = data.scoped({posted_totals.POSTED_TOTALS_VIEW: shared}, pd.DataFrame())
        assert posted_totals.posted_totals(scoped) is shared.frame
        assert list(own["invoice_id"]) == sorted(own["invoice_id"]) and len(own) > 3
    finally:
        data.engine.close()
