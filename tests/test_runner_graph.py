"""The runner runs each component once, after what it declared it reads, and hands it only that."""

from __future__ import annotations

import graphlib
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from audit.analysis import Analysis
from audit.data import AuditData
from audit.detector import Detector, empty_findings
from audit.engine import Engine
from audit.registry import analysis_classes, detector_classes
from audit.runner import UnknownComponentError, pattern_coverage, plan, run_detectors
from audit.testing import load_cases
from detectors.wording import split_volume_discount

CASES_DIR = Path(__file__).parent / "detector_cases"
COMPONENTS = (*analysis_classes(), *detector_classes())


def _count_calls(monkeypatch) -> Counter:
    calls: Counter = Counter()
    for cls in COMPONENTS:
        method = "find" if issubclass(cls, Detector) else "compute"
        original = cls.__dict__.get(method) or getattr(cls, method)

        def counted(self, data, _original=original, _code=cls.code):
            calls[_code] += 1
            return _original(self, data)

        monkeypatch.setattr(cls, method, counted)
    return calls


def _clean_tables():
    # the cases' clean base data: master data and one honest invoice
    _, cases = load_cases(CASES_DIR / "PRC-01.yaml")
    base = next(c for c in cases if c.not_flagged)
    return base.audit_tables(), base.audit_policy()


@pytest.mark.parametrize("ledger", ["mini (with findings)", "clean (no findings)"])
def test_every_component_runs_once_per_audit(ledger, monkeypatch, mini_tables, mini_policy):
    tables, policy = (mini_tables, mini_policy) if ledger.startswith("mini") else _clean_tables()
    calls = _count_calls(monkeypatch)
    data = AuditData(tables, policy, Engine("duckdb"))
    try:
        findings, statuses = run_detectors(data)
    finally:
        data.engine.close()
    assert (len(findings) > 0) == ledger.startswith("mini")
    ran = set(statuses.loc[statuses["status"] == "ran", "detector"])
    assert ran, "nothing ran"
    assert {code: calls[code] for code in ran} == dict.fromkeys(ran, 1)
    assert not set(calls) - ran  # a component that was not run was not called either
    assert statuses["detector"].is_unique


def test_the_plan_puts_every_component_after_what_it_reads():
    order = [c.code for c in plan()]
    for position, cls in enumerate(plan()):
        for code in cls.reads_analyses:
            assert order.index(code) < position, f"{cls.code} runs before {code}"
    rollup = next(c for c in detector_classes() if c.code == "SPR-01")
    assert {"CUS-01", "CUS-02", "PRC-01"} <= set(rollup.upstream_detectors(detector_classes()))
    assert order.index("SPR-01") > max(order.index(c) for c in ("CUS-01", "CUS-02", "PRC-01"))


def test_a_selected_detector_runs_with_what_it_reads_and_nothing_else():
    assert [c.code for c in plan(["CUS-02"])] == ["LNK-01", "CUS-01", "CUS-02"]
    assert [c.code for c in plan(["price_deviation"])] == ["PRC-00", "PRC-01"]
    assert [c.code for c in plan(["dst-02"])] == ["RCV-00", "DST-H1", "DST-01", "DST-02"]


def test_an_unknown_selection_names_the_closest_codes():
    with pytest.raises(UnknownComponentError, match="PRC-01"):
        plan(["PRC-1"])


def test_a_cycle_in_the_declarations_is_refused(monkeypatch):
    class Left(Analysis):
        code = "ZZZ-01"
        outputs = ("left",)
        reads_analyses = ("ZZZ-02",)

        def compute(self, data):
            return {"left": pd.DataFrame()}

    class Right(Left):
        code = "ZZZ-02"
        reads_analyses = ("ZZZ-01",)

    with pytest.raises(graphlib.CycleError):
        plan(["ZZZ-01"], extra=(Left, Right))


def test_a_component_sees_only_the_analyses_and_findings_it_declared(mini_tables, mini_policy):
    seen = {}

    class Reader(Detector):
        """Test detector that records what it was handed."""

        code = "ZZZ-03"
        pattern = "price_deviation"
        entity_type = "invoice"
        family = "pricing"
        reads_analyses = ("RCV-01",)
        reads_findings = ("PRC-01",)

        def find(self, data):
            seen["views"] = set(data.views)
            seen["detectors"] = set(data.findings["detector"]) if len(data.findings) else set()
            return empty_findings()

    data = AuditData(mini_tables, mini_policy, Engine("duckdb"))
    try:
        _, statuses = run_detectors(data, ["ZZZ-03"], extra=(Reader,))
    finally:
        data.engine.close()
    assert seen["views"] == {"aging_by_customer", "aging_by_salesperson", "aging_by_region"}
    assert seen["detectors"] == {"PRC-01"}
    assert set(statuses["detector"]) == {"RCV-00", "RCV-01", "PRC-00", "PRC-01", "ZZZ-03"}


class NeedsApprover(Detector):
    """Test detector whose conclusion needs recorded approvers."""

    code = "ZZZ-04"
    pattern = "unauthorized_discount"
    entity_type = "invoice"
    family = "discounts"
    needs_values = {"invoices": ("approved_by",)}

    def find(self, data):
        self.unknown_traces_ = ["discount approvals (not recorded)"]
        return empty_findings()


def _without_approvers(mini_tables, mini_policy) -> AuditData:
    frames = dict(mini_tables.frames)
    frames["invoices"] = frames["invoices"].assign(approved_by=None)
    blank = type(mini_tables)(frames, dict(mini_tables.present_columns), [], {})
    return AuditData(blank, mini_policy, Engine("duckdb"))


def test_values_a_conclusion_needs_decide_whether_it_runs(mini_tables, mini_policy):
    data = _without_approvers(mini_tables, mini_policy)
    try:
        _, statuses = run_detectors(data, ["ZZZ-04"], extra=(NeedsApprover,))
    finally:
        data.engine.close()
    row = statuses.set_index("detector").loc["ZZZ-04"]
    assert row["status"] == "not run" and row["coverage"] == "not checked"
    assert "needs values in invoices.approved_by" in row["reason"]


def test_a_roll_up_of_findings_nobody_checked_checks_nothing_a_detector_refined_by_them_still_checks(
        mini_tables, mini_policy):
    class Refined(Detector):
        """Test detector with its own test, which leaves out what ZZZ-04 reports."""

        code = "ZZZ-06"
        pattern = "split_volume_discount"
        wording = split_volume_discount.words
        entity_type = "invoice"
        family = "discounts"
        requires = {"invoices": ("invoice_id",)}
        reads_findings = ("ZZZ-04",)

        def find(self, data):
            return empty_findings()

    class RollUp(Refined):
        """Test roll-up of ZZZ-04's findings alone."""

        code = "ZZZ-07"
        reads_only_findings = True

    data = _without_approvers(mini_tables, mini_policy)
    try:
        _, statuses = run_detectors(data, ["ZZZ-04", "ZZZ-06", "ZZZ-07"], extra=(NeedsApprover, Refined, RollUp))
    finally:
        data.engine.close()
    rows = statuses.set_index("detector")
    assert rows.loc["ZZZ-04", "coverage"] == "not checked"
    assert rows.loc["ZZZ-06", "coverage"] == "partly checked"  # its own test ran; ZZZ-04's part is unknown
    assert "findings of ZZZ-04 (not run)" in rows.loc["ZZZ-06", "unknown"]
    assert rows.loc["ZZZ-07", "coverage"] == "not checked"
    assert "the findings it reads (ZZZ-04) were not checked" in rows.loc["ZZZ-07", "reason"]


def test_coverage_per_pattern_says_checked_partly_or_not():
    statuses = pd.DataFrame([
        {"kind": "detector", "detector": "CHQ-01", "pattern": "cheque_withheld", "coverage": "checked",
         "reason": "", "unknown": ""},
        {"kind": "detector", "detector": "CHQ-03", "pattern": "cheque_withheld", "coverage": "not checked",
         "reason": "needs receipts", "unknown": ""},
        {"kind": "detector", "detector": "PRC-01", "pattern": "price_deviation", "coverage": "not checked",
         "reason": "needs price_list", "unknown": ""},
        {"kind": "detector", "detector": "DSC-02", "pattern": "unauthorized_discount", "coverage": "partly checked",
         "reason": "", "unknown": "discount approvals (not recorded)"},
    ])
    rows = {r["pattern"]: r for r in pattern_coverage(statuses)}
    assert rows["cheque_withheld"]["coverage"] == "partly checked"
    assert rows["price_deviation"]["coverage"] == "not checked" and "needs price_list" in rows["price_deviation"]["why"]
    assert rows["unauthorized_discount"]["coverage"] == "partly checked"
    assert "approvals" in rows["unauthorized_discount"]["unknown"]
    assert rows["price_deviation"]["label"] == "Price off the list"


def test_coverage_reaches_the_detector_list_the_manifest_the_report_and_the_workbook(mini_copy, tmp_path):
    import openpyxl

    import audit

    (mini_copy / "visits.csv").unlink()  # VIS-01 cannot check anything without visits
    result = audit.run(mini_copy)
    runs = result.detector_runs.set_index("detector")
    assert runs.loc["VIS-01", "coverage"] == "not checked" and "needs visits" in runs.loc["VIS-01", "reason"]
    # the mini ledger records no price approvals: prices were judged, approvals could not be
    assert runs.loc["PRC-01", "coverage"] == "partly checked" and "price approvals" in runs.loc["PRC-01", "unknown"]
    coverage = {row["pattern"]: row for row in result.manifest["coverage"]}
    assert coverage["visit_noncompliance"]["coverage"] == "not checked"
    assert "VIS-01: needs visits" in coverage["visit_noncompliance"]["why"]
    assert coverage["price_deviation"]["coverage"] == "partly checked"
    written = result.write(tmp_path / "run", formats=("csv", "manifest"))
    assert {"coverage", "unknown", "eligible_records"} <= set(pd.read_csv(tmp_path / "run" / "detectors.csv").columns)
    assert written
    html = result.to_html(tmp_path / "report.html").read_text()
    assert "What this audit could and could not check" in html
    assert html.index("What this audit could and could not check") < html.index("Money at risk by pattern")
    book = openpyxl.load_workbook(result.to_excel(tmp_path / "report.xlsx"))
    cells = [row[0] for row in book["Summary"].iter_rows(max_col=2, values_only=True)]
    start = cells.index("What this audit could and could not check")
    assert "Missed or fake visits" in cells[start:start + 30]
