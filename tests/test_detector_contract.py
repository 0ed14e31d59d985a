"""Every registered component passes the common contract (like scikit-learn's check_estimator), on data
where it finds something: a detector on its own flagged YAML case, an analysis on the mini ledger."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from audit.detector import DOC_SECTIONS, empty_findings
from audit.registry import analysis_classes, detector_classes
from audit.testing import DetectorCheckError, check_analysis, check_detector, load_cases

from .conftest import java_available

DETECTORS = detector_classes()
ANALYSES = analysis_classes()
CASES_DIR = Path(__file__).parent / "detector_cases"


def _cases(cls):
    return load_cases(CASES_DIR / f"{cls.code}.yaml")[1]


def test_registry_finds_the_foundation_detectors():
    patterns = {cls.pattern for cls in DETECTORS}
    assert {"price_deviation", "cheque_maturity_over_policy", "unbilled_shipment"} <= patterns
    assert len({cls.code for cls in DETECTORS}) == len(DETECTORS)


@pytest.mark.parametrize("cls", DETECTORS, ids=lambda c: c.code)
def test_detector_contract_on_its_cases(cls):
    findings = check_detector(cls, _cases(cls))
    assert len(findings) and set(findings["detector"]) == {cls.code}


# Analyses whose tables are empty on the mini ledger are checked on a detector's flagged case instead.
ANALYSIS_DATA = {"DST-H1": "DST-01", "RCV-02": "DST-01"}


def _analysis_data(cls, mini_tables, mini_policy):
    if cls.code not in ANALYSIS_DATA:
        return mini_tables, mini_policy
    case = next(c for c in load_cases(CASES_DIR / f"{ANALYSIS_DATA[cls.code]}.yaml")[1] if c.flagged)
    return case.audit_tables(), case.audit_policy()


@pytest.mark.parametrize("cls", ANALYSES, ids=lambda c: c.code)
def test_analysis_contract(cls, mini_tables, mini_policy):
    outputs = check_analysis(cls, *_analysis_data(cls, mini_tables, mini_policy))
    assert set(outputs) == set(cls.outputs)


def test_the_check_fails_a_detector_broken_to_find_nothing():
    price = next(c for c in DETECTORS if c.code == "PRC-01")

    class BrokenPriceDeviation(price):
        code = "PRC-99"

        def find(self, data) -> pd.DataFrame:
            return empty_findings()

    with pytest.raises(DetectorCheckError, match="found 0 finding"):
        check_detector(BrokenPriceDeviation, _cases(price))


def test_the_check_fails_a_detector_that_flags_its_look_alike():
    price = next(c for c in DETECTORS if c.code == "PRC-01")

    class EveryInvoice(price):
        code = "PRC-98"

        def find(self, data) -> pd.DataFrame:
            # every invoice as if one line were 1.0 over the list; worded by PRC-01's own wording function
            invoices = data.frame("invoices")
            line = {"line_no": 1, "product_id": "P", "quantity": 1.0, "unit_price": 2.0, "valid_price": 1.0,
                    "source": "product list_price", "deviation_pct": 100.0, "deviation_amount": 1.0}
            rows = [{"entity_id": i, "salesperson_id": None, "customer_id": None, "period": "2025-04", "score": 1.0,
                     "risk_amount": 1.0, "related": [],
                     "evidence": {"tolerance_pct": 0.5, "over_charge": 1.0, "under_charge": 0.0,
                                  "worst_deviation_pct": 100.0, "lines": [line], "traces": {}},
                     "facts": {"invoice_no": i, "invoice_date": when, "n_lines": 1, "fallback_only": True}}
                    for i, when in zip(invoices["invoice_id"], invoices["invoice_date"], strict=True)]
            return pd.DataFrame(rows) if rows else empty_findings()

    with pytest.raises(DetectorCheckError, match="not-flagged case"):
        check_detector(EveryInvoice, _cases(price))


@pytest.mark.parametrize("cls", DETECTORS, ids=lambda c: c.code)
def test_documentation_has_every_section(cls):
    sections = cls.doc_sections()
    for section in DOC_SECTIONS:
        assert len(sections.get(section, "")) > 30, f"{cls.code}: section {section} too thin"


@pytest.mark.spark
@pytest.mark.skipif(not java_available(), reason="Spark needs a Java runtime")
@pytest.mark.parametrize("cls", DETECTORS, ids=lambda c: c.code)
def test_duckdb_and_spark_give_identical_findings(cls):
    check_detector(cls, _cases(cls), engines=("duckdb", "spark"))


@pytest.mark.spark
@pytest.mark.skipif(not java_available(), reason="Spark needs a Java runtime")
@pytest.mark.parametrize("cls", ANALYSES, ids=lambda c: c.code)
def test_duckdb_and_spark_give_identical_analyses(cls, mini_tables, mini_policy):
    check_analysis(cls, *_analysis_data(cls, mini_tables, mini_policy), engines=("duckdb", "spark"))


def test_one_detector_per_module_named_by_its_code():
    modules: dict[str, list[str]] = {}
    for cls in DETECTORS:
        modules.setdefault(cls.__module__, []).append(cls.code)
    assert {m: codes for m, codes in modules.items() if len(codes) > 1} == {}
    for cls in DETECTORS:
        name = cls.__module__.rsplit(".", 1)[-1]
        assert name.startswith(cls.code.lower().replace("-", "_") + "_"), f"{cls.code} lives in {cls.__module__}"


def test_analyses_and_detectors_live_apart():
    assert all(cls.__module__.startswith("analyses.") for cls in ANALYSES)
    assert all(cls.__module__.startswith("detectors.") for cls in DETECTORS)
