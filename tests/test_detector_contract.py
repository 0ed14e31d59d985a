"""Every registered detector passes the common contract (like scikit-learn's check_estimator)."""

from __future__ import annotations

import pytest

from audit.detector import DOC_SECTIONS
from audit.registry import detector_classes
from audit.testing import check_detector

from .conftest import java_available

DETECTORS = detector_classes()


def test_registry_finds_the_foundation_detectors():
    patterns = {cls.pattern for cls in DETECTORS}
    assert {"price_deviation", "cheque_maturity_over_policy", "unbilled_shipment"} <= patterns
    assert len({cls.code for cls in DETECTORS}) == len(DETECTORS)


@pytest.mark.parametrize("cls", DETECTORS, ids=lambda c: c.code)
def test_detector_contract_on_mini_ledger(cls, mini_tables, mini_policy):
    findings = check_detector(cls, mini_tables, mini_policy)
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
    check_detector(cls, mini_tables, mini_policy, engines=("duckdb", "spark"))
