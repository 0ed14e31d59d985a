"""Computing apart from wording: ``find`` returns computed rows, the pattern's wording function writes their
title and explanation, and evidence and related stay Python data until a writer makes JSON text of them."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

import audit
from audit.data import AuditData
from audit.detector import Detector, check_class_attributes
from audit.engine import Engine
from audit.evidence import frame_from_text, json_text
from audit.ranking import exceptions_schema
from audit.registry import detector_classes
from audit.runner import _read_previous, run_detectors
from audit.wording import WordingError, Words, check_wording, ending_with
from detectors.wording import cheque_withheld, unbilled_shipment
from reports.runs import load_run

from .conftest import MINI

given = []


def words(finding) -> Words:
    given.append(dict(finding))
    return ending_with(f"Shipment {finding['entity_id']} ({finding['facts']['label']})",
                       f"{finding['detector']} saw {finding['evidence']['units']} units on "
                       f"{finding['evidence']['shipped']:%Y-%m-%d}.", f"Pull the delivery note of {finding['entity_id']}.")


def _row(**changes) -> dict:
    return {"entity_id": "SH1", "salesperson_id": "S1", "customer_id": "C1", "period": "2025-04", "score": 0.5,
            "risk_amount": 10.0, "related": ["shipment:SH1"], "facts": {"label": "not evidence"},
            "evidence": {"units": np.int64(3), "shipped": pd.Timestamp("2025-04-01"), "gap": float("nan")},
            **changes}


class Worded(Detector):
    """Test detector: one shipment, worded by this module's ``words``."""

    code = "ZZZ-20"
    pattern = "unbilled_shipment"
    entity_type = "shipment"
    family = "shipments"
    wording = words

    def find(self, data) -> pd.DataFrame:
        return pd.DataFrame([_row()])


def _run(cls, mini_tables, mini_policy) -> pd.DataFrame:
    data = AuditData(mini_tables, mini_policy, Engine("duckdb"))
    try:
        found, _ = run_detectors(data, [cls.code], extra=(cls,), raise_errors=True)
    finally:
        data.engine.close()
    return found[found["detector"] == cls.code]


def test_the_wording_function_writes_title_and_explanation_from_what_find_computed(mini_tables, mini_policy):
    given.clear()
    found = _run(Worded, mini_tables, mini_policy)
    row = found.iloc[0]
    assert row["title"] == "Shipment SH1 (not evidence)"
    assert row["explanation"] == "ZZZ-20 saw 3 units on 2025-04-01. Pull the delivery note of SH1."
    assert row["check_next"] == "Pull the delivery note of SH1."
    # the function saw the detector's code and the values find returned (before cleaning)
    assert given[0]["detector"] == "ZZZ-20" and isinstance(given[0]["evidence"]["shipped"], pd.Timestamp)
    # facts serve the wording only; evidence stays a dict, cleaned (dates as text, NaN as null, keys sorted)
    assert "facts" not in found.columns
    assert row["evidence"] == {"gap": None, "shipped": "2025-04-01", "units": 3}
    assert list(row["evidence"]) == ["gap", "shipped", "units"] and row["related"] == ["shipment:SH1"]


def test_find_that_words_its_findings_itself_is_refused_when_the_pattern_has_a_wording_function(
        mini_tables, mini_policy):
    class WordsTwice(Worded):
        """Test detector that also writes a title."""

        code = "ZZZ-21"

        def find(self, data) -> pd.DataFrame:
            return pd.DataFrame([_row(title="mine", explanation="written in find")])

    with pytest.raises(ValueError, match="ZZZ-21 returned title, explanation from find"):
        _run(WordsTwice, mini_tables, mini_policy)


def test_a_wording_function_must_return_words(mini_tables, mini_policy):
    def no_words(finding):
        return ("a title", "an explanation")

    class BadWording(Worded):
        """Test detector whose wording returns a tuple."""

        code = "ZZZ-22"
        wording = no_words

    with pytest.raises(WordingError, match="ZZZ-22: .*no_words returned .* for 'SH1'"):
        _run(BadWording, mini_tables, mini_policy)


@pytest.mark.parametrize("returned, problem", [
    (Words("Shipment SH1", "Goods left unbilled.", ""), "check_next is ''"),
    (Words("Shipment SH1", "Goods left unbilled. Pull the note.", "Ask the warehouse."),
     "explanation must end with what to check next"),
    (Words("Shipment SH1", "", "Ask the warehouse."), "explanation is ''"),
])
def test_a_wording_function_must_say_what_to_check_next_at_the_end_of_its_explanation(
        mini_tables, mini_policy, returned, problem):
    class NoCheckNext(Worded):
        """Test detector whose wording leaves out what to check next, or puts it elsewhere."""

        code = "ZZZ-23"
        wording = staticmethod(lambda finding: returned)

    with pytest.raises(WordingError, match=re.escape(problem)):
        _run(NoCheckNext, mini_tables, mini_policy)


def test_a_detector_is_worded_by_its_own_patterns_module():
    class Elsewhere(Worded):
        """Test detector worded by a function outside detectors/wording."""

    class OtherPattern(Worded):
        """Test detector worded by another pattern's module."""

        wording = cheque_withheld.words

    class Own(Worded):
        """Test detector worded by its pattern's module."""

        wording = unbilled_shipment.words

    assert "detectors.wording.unbilled_shipment.words" in check_wording(Elsewhere)[0]
    assert "detectors.wording.cheque_withheld.words" in check_wording(OtherPattern)[0]
    assert check_wording(Own) == []
    assert any("wording" in p for p in check_class_attributes(OtherPattern))


def test_every_detector_has_its_patterns_wording():
    assert {cls.code: check_wording(cls) for cls in detector_classes() if check_wording(cls)} == {}


def test_json_text_is_the_written_form_of_evidence():
    value = {"b": np.int64(2), "a": pd.Timestamp("2025-04-01"), "f": np.float64(1 / 3), "n": float("nan"),
             "t": np.True_, "l": (1, "x"), "ö": "ß"}
    assert json_text(value) == '{"a":"2025-04-01","b":2,"f":0.333333,"l":[1,"x"],"n":null,"t":"True","ö":"ß"}'


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    result = audit.run(MINI, policy=MINI / "policy.toml")
    out = tmp_path_factory.mktemp("run")
    result.write(out, ("csv", "parquet", "manifest"))
    return result, out


def test_a_run_holds_evidence_as_data_and_its_files_hold_json_text(written):
    result, out = written
    exceptions = result.exceptions
    assert len(exceptions) and all(isinstance(e, dict) for e in exceptions["evidence"])
    assert all(isinstance(r, list) for r in exceptions["related"])
    exceptions_schema().validate(exceptions)
    on_disk = pd.read_csv(out / "exceptions.csv", dtype=str, keep_default_na=False)
    assert on_disk["evidence"].tolist() == [json_text(e) for e in exceptions["evidence"]]
    assert on_disk["related"].tolist() == [json_text(r) for r in exceptions["related"]]
    exceptions_schema(written=True).validate(pd.read_parquet(out / "exceptions.parquet"))
    with pytest.raises(Exception, match="evidence"):
        exceptions_schema(written=True).validate(exceptions)  # in memory it is not text


def test_an_earlier_run_is_parsed_once_when_read(written, tmp_path):
    result, out = written
    previous = _read_previous(out)
    assert previous["evidence"].tolist() == result.exceptions["evidence"].tolist()
    assert previous["related"].tolist() == result.exceptions["related"].tolist()
    reopened = load_run(out, data=MINI)
    assert reopened.exceptions["evidence"].tolist() == result.exceptions["evidence"].tolist()
    broken = pd.DataFrame({"evidence": ['{"a":1}', "not json"], "related": ["[]", "[]"]})
    with pytest.raises(ValueError, match=r"old.csv: row 3, column evidence is not JSON"):
        frame_from_text(broken, "old.csv")
