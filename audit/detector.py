"""The detector contract, in the style of scikit-learn estimators.

A detector is a class with

- class attributes: a stable ``code``, the contract ``pattern`` it finds, the ``entity_type`` of its
  findings, its ``family``, and what it reads (see :mod:`audit.component`): the tables and columns it
  ``requires``, those it ``uses`` when present, the columns whose values it ``needs_values``, the
  analyses it ``reads_analyses`` and the detectors whose findings it ``reads_findings``;
- parameters with defaults in ``__init__`` (their values come from the policy via ``from_policy``);
- learned state in attributes ending in ``_`` (set by ``find``);
- one method, ``find(data)``, returning one row per finding (see :data:`FIND_COLUMNS`): what it computed,
  with ``evidence`` a dict and ``related`` a list, and no wording;
- ``wording``: its pattern's wording function (``detectors/wording/<pattern>.py``, see :mod:`audit.wording`),
  which writes each finding's title, explanation and what to check next from that row.

Its docstring is its documentation, in numpydoc-style sections: What it finds, Why it matters,
Flagged, Not flagged, Evidence. ``audit detectors`` prints the catalogue from it.
"""

from __future__ import annotations

import abc
import inspect
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

import pandas as pd
from numpydoc.docscrape import NumpyDocString

from audit.component import Component
from audit.contract import PATTERNS, TABLES
from audit.evidence import json_data
from audit.wording import Wording, check_wording, word

if TYPE_CHECKING:
    from audit.data import AuditData

# What ``find`` returns (and optionally ``facts``: values the wording needs that are not evidence, a dict
# never written out).
FIND_COLUMNS = ("entity_id", "salesperson_id", "customer_id", "period", "score", "risk_amount", "evidence", "related")
# A finding after ``Detector.run``: worded; the runner adds detector, pattern, entity_type, ids, rank and status.
FINDING_COLUMNS = (*FIND_COLUMNS[:6], "title", "explanation", "check_next", *FIND_COLUMNS[6:])
WORDS_COLUMNS = ("title", "explanation", "check_next")
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
    # The pattern's wording function (``detectors.wording.<pattern>.words``). ``None`` only for detectors not
    # yet moved to it, whose ``find`` still writes title and explanation itself.
    wording: ClassVar[Wording | None] = None
    # ``find`` may set ``note_`` (one sentence about this run), ``unknown_traces_`` and ``eligible_records_``
    # (see audit.component): they become the run's coverage in detectors.csv, the manifest and the report.

    # ------------------------------------------------------------ documentation
    @classmethod
    def doc_sections(cls) -> dict[str, str]:
        return parse_doc_sections(inspect.getdoc(cls) or "")

    # ------------------------------------------------------------ running
    @abc.abstractmethod
    def find(self, data: AuditData) -> pd.DataFrame:
        """Return one row per finding, with :data:`FIND_COLUMNS` (and optionally ``facts``)."""

    def run(self, data: AuditData) -> pd.DataFrame:
        """Check inputs, call ``find``, word each row with the pattern's wording function, and normalise the
        rows into the exceptions layout (evidence and related stay Python data)."""
        missing = self.missing_inputs(data)
        if missing:
            raise DetectorInputError(f"{self.code} ({self.pattern}) needs {', '.join(missing)}")
        blank = self.blank_inputs(data)
        if blank:
            raise DetectorInputError(f"{self.code} ({self.pattern}) needs values in {', '.join(blank)}")
        return normalise_findings(self.worded(self.find(data)), self)

    def worded(self, found: pd.DataFrame) -> pd.DataFrame:
        """``found`` with the title, explanation and what to check next of each row, written by the pattern's
        wording function."""
        wording = type(self).wording
        if wording is None:
            raise TypeError(f"{self.code} has no wording function: set wording = detectors.wording."
                            f"{self.pattern}.words (see docs/writing-detectors.md)")
        given = [c for c in WORDS_COLUMNS if c in found.columns]
        if given:
            raise ValueError(f"{self.code} returned {', '.join(given)} from find; its wording function "
                             f"{wording.__module__}.{wording.__name__} writes them: leave them out of find")
        words = [word(wording, row, self.code) for row in found.to_dict(orient="records")]
        return found.assign(title=[w.title for w in words], explanation=[w.explanation for w in words],
                            check_next=[w.check_next for w in words])


def _numpydoc_key(section: str) -> str:
    # numpydoc capitalises every word of a section title ("Not flagged" -> "Not Flagged")
    return " ".join(word.capitalize() for word in section.split(" "))


class DetectorDocString(NumpyDocString):
    """numpydoc's parser, knowing the detector sections besides its standard ones."""

    sections = {**NumpyDocString.sections, **{_numpydoc_key(name): [] for name in DOC_SECTIONS}}


def parse_doc_sections(doc: str) -> dict[str, str]:
    """A detector docstring's sections by name (``Summary``: the summary and extended summary), parsed
    by numpydoc; a malformed section (a wrong underline) is a ``UserWarning`` from numpydoc."""
    parsed = DetectorDocString(doc)
    summary = parsed["Summary"] + ([""] + parsed["Extended Summary"] if parsed["Extended Summary"] else [])
    sections = {"Summary": "\n".join(summary).strip()}
    for name in DOC_SECTIONS:
        text = "\n".join(parsed[_numpydoc_key(name)]).strip()
        if text:
            sections[name] = text
    return sections


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
    """What ``find`` returns when it finds nothing."""
    return pd.DataFrame({c: pd.Series(dtype="object") for c in FIND_COLUMNS})


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
    frame["evidence"] = [json_data(e) for e in frame["evidence"]]
    frame["related"] = [json_data(list(r)[:MAX_RELATED]) for r in frame["related"]]
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
    problems += check_wording(cls)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sections = cls.doc_sections()
    problems.extend(f"{cls.__name__} docstring: {str(w.message).splitlines()[0].strip()}" for w in caught)
    for section in DOC_SECTIONS:
        if not sections.get(section):
            problems.append(f"{cls.__name__} docstring lacks a '{section}' section")
    return problems
