"""Every registered detector passes the common contract (like scikit-learn's check_estimator)."""

from __future__ import annotations

import pandas as pd
import pytest

from audit.data import AuditData
from audit.detector import DOC_SECTIONS
from audit.engine import Engine
from audit.registry import detector_classes
from audit.testing import check_detector, tables_from_frames

from .conftest import java_available

DETECTORS = detector_classes()


def test_registry_finds_the_foundation_detectors():
    patterns = {cls.pattern for cls in DETECTORS}
    assert {"price_deviation", "cheque_maturity_over_policy", "unbilled_shipment"} <= patterns
    assert len({cls.code for cls in DETECTORS}) == len(DETECTORS)


def _fed(cls, tables, policy):
    """The mini ledger, plus a credit note for the detectors that need one (the mini ledger has none)."""
    data = AuditData(tables, policy, Engine("duckdb"))
    try:
        if not cls.missing_inputs(data):
            return tables
    finally:
        data.engine.close()
    frames = {name: frame.astype("object").astype(str).replace({"None": "", "nan": "", "NaT": ""})
              for name, frame in tables.frames.items()}
    frames["credit_notes"] = pd.DataFrame([{"credit_note_id": "CN1", "credit_date": "2025-04-20",
                                            "customer_id": "C1", "amount": "1000", "invoice_id": "I1",
                                            "reason": "return"}])
    return tables_from_frames(frames, policy)


@pytest.mark.parametrize("cls", DETECTORS, ids=lambda c: c.code)
def test_detector_contract_on_mini_ledger(cls, mini_tables, mini_policy):
    findings = check_detector(cls, _fed(cls, mini_tables, mini_policy), mini_policy)
    assert set(findings["detector"]) <= {cls.code}


@pytest.mark.parametrize("cls", DETECTORS, ids=lambda c: c.code)
def test_documentation_has_every_section(cls):
    sections = cls.doc_sections()
    for section in DOC_SECTIONS:
        assert len(sections.get(section, "")) > 30, f"{cls.code}: section {section} too thin"


@pytest.mark.spark
@pytest.mark.skipif(not java_available(), reason="Spark needs a Java runtime")
@pytest.mark.parametrize("cls", DETECTORS, ids=lambda c: c.code)
def test_duckdb_and_spark_give_identical_findings(cls, mini_tables, mini_policy):
    check_detector(cls, _fed(cls, mini_tables, mini_policy), mini_policy, engines=("duckdb", "spark"))
