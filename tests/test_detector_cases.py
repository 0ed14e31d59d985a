"""YAML fixture cases per detector (like sqlfluff's rule cases): each flags its fraud and spares its
legitimate look-alike. Cases live in tests/detector_cases/<code>.yaml, one file per detector code."""

from __future__ import annotations

from pathlib import Path

import pytest

import audit.detector
from audit.registry import detector_classes, get_detector
from audit.testing import load_cases, run_detector
from audit.wording_check import contradictions

CASES_DIR = Path(__file__).parent / "detector_cases"
CASE_FILES = sorted(CASES_DIR.glob("[!_]*.yaml"))


def _cases():
    for path in CASE_FILES:
        code, cases = load_cases(path)
        for case in cases:
            yield pytest.param(code, case, id=f"{path.stem}: {case.name}")


@pytest.mark.parametrize("code, case", list(_cases()))
def test_case(code, case, monkeypatch):
    cls = get_detector(code)
    worded = []
    real_word = audit.detector.word

    def capturing(wording, row, detector):
        words = real_word(wording, row, detector)
        worded.append((detector, dict(row), words))
        return words

    monkeypatch.setattr(audit.detector, "word", capturing)
    found = run_detector(cls, case.audit_tables(), case.audit_policy())
    # every finding's wording states only figures its own evidence holds (issue 21)
    for detector, row, words in worded:
        assert contradictions(row, words.title, words.explanation, words.check_next) == [], (
            f"{case.name}: {detector} {row['entity_id']}: {words.explanation}")
    flagged = set(found["entity_id"])
    for entity in case.flagged:
        assert entity in flagged, f"{case.name}: {entity} not flagged"
    for entity in case.not_flagged:
        assert entity not in flagged, f"{case.name}: {entity} flagged: {found['explanation'].tolist()}"
    for entity, amount in case.expect_risk_amount.items():
        risk = found.loc[found["entity_id"] == entity, "risk_amount"].iloc[0]
        assert risk == pytest.approx(amount), f"{case.name}: risk {risk} != {amount}"


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: p.stem)
def test_case_file_is_named_by_its_detector_code(path):
    code, _ = load_cases(path)
    assert path.stem == code, f"{path.name} holds the cases of {code}: name it {code}.yaml"


@pytest.mark.parametrize("cls", detector_classes(), ids=lambda c: c.code)
def test_every_detector_has_flagged_and_not_flagged_cases(cls):
    path = CASES_DIR / f"{cls.code}.yaml"
    assert path.is_file(), f"{cls.code} has no fixture cases at {path}"
    _, cases = load_cases(path)
    assert any(c.flagged for c in cases) and any(c.not_flagged for c in cases)
