"""detectors.customers.facts: the whole-ledger facts CUS-01 and CUS-02 both read are computed once per run."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from audit.data import AuditData
from audit.engine import Engine
from audit.runner import run_detectors
from audit.testing import load_cases
from detectors.customers import facts

CASES_DIR = Path(__file__).parent / "detector_cases"


def _case(code):
    return next(case for case in load_cases(CASES_DIR / f"{code}.yaml")[1] if case.flagged)


def test_the_customer_detectors_sum_the_ledger_once_per_run(monkeypatch):
    calls = {"invoice_summary": 0, "balances": 0}
    for name in calls:
        original = getattr(facts, f"_{name}")

        def counted(*args, _name=name, _original=original):
            calls[_name] += 1
            return _original(*args)
        monkeypatch.setattr(facts, f"_{name}", counted)
    case = _case("CUS-02")
    data = AuditData(case.audit_tables(), case.audit_policy(), Engine("duckdb"))
    try:
        found, statuses = run_detectors(data, ["CUS-01", "CUS-02"], raise_errors=True)
    finally:
        data.engine.close()
    assert {"CUS-01", "CUS-02"} <= set(statuses["detector"])
    assert (statuses.set_index("detector").loc[["CUS-01", "CUS-02"], "status"] == "ran").all()
    assert calls == {"invoice_summary": 1, "balances": 1}


def test_a_shared_fact_is_each_callers_own():
    case = _case("CUS-02")
    data = AuditData(case.audit_tables(), case.audit_policy(), Engine("duckdb"))
    try:
        first = facts.invoice_summary(data)
        first.loc[:, "invoiced"] = -1.0  # one reader's change is not the next reader's fact
        first_balance = facts.balances(data)
        first_balance.iloc[:] = 0.0
        again, balance = facts.invoice_summary(data), facts.balances(data)
        fresh = facts._invoice_summary(data)
        pd.testing.assert_frame_equal(again, fresh)
        pd.testing.assert_series_equal(balance, facts._balances(data, None))
        assert (again["invoiced"] != -1.0).all()
        # a balance as of a day is not the run's shared one
        day = pd.Timestamp(fresh["first_invoice"].min())
        assert not facts.balances(data, day).equals(balance)
    finally:
        data.engine.close()
