"""The detector contract, in the style of scikit-learn estimators.

A detector is a class with

- class attributes: a stable ``code``, the contract ``pattern`` it finds, the ``entity_type`` of its
  findings, its ``family``, the tables and columns it ``requires`` and those it ``uses`` when present;
- parameters with defaults in ``__init__`` (their values come from the policy via ``from_policy``);
- learned state in attributes ending in ``_`` (set by ``find``);
- one method, ``find(data)``, returning one row per finding (see :data:`FINDING_COLUMNS`).

Its docstring is its documentation, in numpydoc-style sections: What it finds, Why it matters,
Flagged, Not flagged, Evidence. ``audit detectors`` prints the catalogue from it.
"""

from __future__ import annotations

import abc
import inspect
import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pandas as pd

from audit.component import Component
from audit.contract import PATTERNS, TABLES

if TYPE_CHECKING:
    from audit.data import AuditData

# What ``find`` returns; the runner adds detector, pattern, entity_type, ids, rank and status.
FINDING_COLUMNS = (
    "entity_id", "salesperson_id", "customer_id", "period", "score", "risk_amount", "title", "explanation",
    "evidence", "related",
)
DOC_SECTIONS = ("What it finds", "Why it matters", "Flagged", "Not flagged", "Evidence")
MAX_RELATED = 50


class DetectorInputError(ValueError):
    """The data lacks a table or column the detector needs."""


class Detector(Component, abc.ABC):
    code: ClassVar[str]
    pattern: ClassVar[str]
    entity_type: ClassVar[str]
    family: ClassVar[str]
    version: ClassVar[str] = "1.0"
    requires: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    uses: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    # Multiplies score x money at risk when ranking; below 1 for broad statistical tests.
    rank_weight: ClassVar[float] = 1.0
    # ``find`` may set ``note_``: one sentence about this run (e.g. too little data), shown in detectors.csv.
    # Later stages run after the earlier ones and read their findings in ``data.findings`` (roll-ups).
    stage: ClassVar[int] = 1

    # ------------------------------------------------------------ documentation
    @classmethod
    def doc_sections(cls) -> dict[str, str]:
        return parse_doc_sections(inspect.getdoc(cls) or "")

    # ------------------------------------------------------------ running
    @abc.abstractmethod
    def find(self, data: AuditData) -> pd.DataFrame:
        """Return one row per finding, with :data:`FINDING_COLUMNS`."""

    def run(self, data: AuditData) -> pd.DataFrame:
        """Check inputs, call ``find`` and normalise its rows into the exceptions layout."""
        missing = self.missing_inputs(data)
        if missing:
            raise DetectorInputError(f"{self.code} ({self.pattern}) needs {', '.join(missing)}")
        blank = self.blank_inputs(data)
        if blank:
            raise DetectorInputError(f"{self.code} ({self.pattern}) needs values in {', '.join(blank)}")
        found = self.find(data)
        return normalise_findings(found, self)


def parse_doc_sections(doc: str) -> dict[str, str]:
    """Split a numpydoc-style docstring into its underlined sections (the intro is ``Summary``)."""
    lines = doc.splitlines()
    sections: dict[str, list[str]] = {"Summary": []}
    current = "Summary"
    index = 0
    while index < len(lines):
        line = lines[index]
        underline = lines[index + 1] if index + 1 < len(lines) else ""
        if line.strip() and re.fullmatch(r"-{3,}", underline.strip()):
            current = line.strip()
            sections[current] = []
            index += 2
            continue
        sections[current].append(line)
        index += 1
    return {name: "\n".join(body).strip() for name, body in sections.items()}


def _json(value) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=_json_default, separators=(",", ":"))


def _json_default(value):
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return pd.Timestamp(value).strftime("%Y-%m-%d")
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return round(float(value), 6)
    if value is pd.NA or value is pd.NaT:
        return None
    return str(value)


def _clean_json(value):
    """Round floats and turn missing values into null so evidence is stable text."""
    if isinstance(value, dict):
        return {str(k): _clean_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean_json(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return None if np.isnan(value) else round(float(value), 6)
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return None if pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d")
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    return value


def related_ids(*groups) -> list[str]:
    """``entity_type:entity_id`` strings from (entity_type, ids) pairs, unique, in the given order."""
    seen: dict[str, None] = {}
    for entity_type, ids in groups:
        if ids is None:
            continue
        if isinstance(ids, str) or not hasattr(ids, "__iter__"):
            ids = [ids]
        for value in ids:
            if value is None or (not isinstance(value, str) and pd.isna(value)):
                continue
            seen.setdefault(f"{entity_type}:{value}", None)
    return list(seen)[:MAX_RELATED]


def empty_findings() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in FINDING_COLUMNS})


def normalise_findings(found: pd.DataFrame, detector: Detector) -> pd.DataFrame:
    missing = [c for c in FINDING_COLUMNS if c not in found.columns]
    if missing:
        raise ValueError(f"{detector.code} returned findings without {', '.join(missing)}")
    frame = found.loc[:, list(FINDING_COLUMNS)].copy()
    frame.insert(0, "detector", detector.code)
    frame.insert(1, "pattern", detector.pattern)
    frame.insert(2, "entity_type", detector.entity_type)
    frame["entity_id"] = frame["entity_id"].astype("str")
    for column in ("salesperson_id", "customer_id"):
        frame[column] = frame[column].astype("str").where(frame[column].notna(), None)
    frame["score"] = frame["score"].astype(float).clip(0, 1).round(4)
    frame["risk_amount"] = frame["risk_amount"].astype(float).fillna(0).clip(lower=0).round(2)
    frame["evidence"] = [_json(_clean_json(e)) for e in frame["evidence"]]
    frame["related"] = [_json(list(r)[:MAX_RELATED]) for r in frame["related"]]
    frame["rank_weight"] = detector.rank_weight
    return frame.reset_index(drop=True)


def check_class_attributes(cls: type[Detector]) -> list[str]:
    """What a detector class gets wrong about the contract (empty when it is well formed)."""
    problems = []
    for attribute in ("code", "pattern", "entity_type", "family"):
        if not isinstance(getattr(cls, attribute, None), str):
            problems.append(f"{cls.__name__} has no {attribute}")
    if getattr(cls, "pattern", None) not in PATTERNS:
        problems.append(f"{cls.__name__}.pattern {getattr(cls, 'pattern', None)!r} is not in the contract")
    for table, columns in {**cls.requires, **cls.uses}.items():
        if table not in TABLES:
            problems.append(f"{cls.__name__} names unknown table {table}")
            continue
        unknown = set(columns) - set(TABLES[table].column_names)
        if unknown:
            problems.append(f"{cls.__name__} names unknown columns {table}.{sorted(unknown)}")
    sections = cls.doc_sections()
    for section in DOC_SECTIONS:
        if not sections.get(section):
            problems.append(f"{cls.__name__} docstring lacks a '{section}' section")
    return problems
