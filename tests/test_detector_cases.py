"""YAML fixture cases per detector (like sqlfluff's rule cases): each flags its fraud and spares its
legitimate look-alike. Cases live in tests/detector_cases/<pattern>.yaml; every registered detector
must have at least one flagged and one not-flagged case."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from audit.policy import policy_from_dict
from audit.registry import detector_classes, get_detector
from audit.testing import run_detector, tables_from_frames

CASES_DIR = Path(__file__).parent / "detector_cases"
BASE = yaml.safe_load((CASES_DIR / "_base.yaml").read_text())


def _cases():
    for path in sorted(CASES_DIR.glob("[!_]*.yaml")):
        spec = yaml.safe_load(path.read_text())
        for case in spec["cases"]:
            yield pytest.param(spec["detector"], case, id=f"{path.stem}: {case['name']}")


def _frames(case) -> dict[str, pd.DataFrame]:
    tables = {**BASE, **case.get("tables", {})}
    return {name: pd.DataFrame(rows).astype(str).replace("None", "") for name, rows in tables.items()}


@pytest.mark.parametrize("detector, case", list(_cases()))
def test_case(detector, case):
    cls = get_detector(detector)
    policy = policy_from_dict(case.get("policy", {}))
    found = run_detector(cls, tables_from_frames(_frames(case), policy), policy)
    flagged = set(found["entity_id"])
    for entity in case.get("flagged", []):
        assert entity in flagged, f"{case['name']}: {entity} not flagged"
    for entity in case.get("not_flagged", []):
        assert entity not in flagged, f"{case['name']}: {entity} flagged: {found['explanation'].tolist()}"
    for entity, amount in case.get("expect_risk_amount", {}).items():
        risk = found.loc[found["entity_id"] == entity, "risk_amount"].iloc[0]
        assert risk == pytest.approx(amount), f"{case['name']}: risk {risk} != {amount}"


@pytest.mark.parametrize("cls", detector_classes(), ids=lambda c: c.code)
def test_every_detector_has_flagged_and_not_flagged_cases(cls):
    path = CASES_DIR / f"{cls.pattern}.yaml"
    assert path.is_file(), f"{cls.code} has no fixture cases at {path}"
    cases = [c for c in yaml.safe_load(path.read_text())["cases"]]
    assert any(c.get("flagged") for c in cases) and any(c.get("not_flagged") for c in cases)
