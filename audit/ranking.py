"""Stable ids and the ranking of findings.

**Ranking.** Each finding's priority is ``rank_weight × score × risk_amount``: the money at risk,
discounted by how sure the detector is and by how specific the detector is (specific fraud patterns
weigh 1; broad statistical tests weigh less, see each detector's ``rank_weight``). Findings are
ordered by priority, then score, then money at risk, then id, so the order is total and repeatable.
Findings with no money at risk (e.g. a missed visit) follow, ordered by score.

**Ids.** ``exception_id`` hashes the detector code and entity: the same finding keeps its id from run
to run and from month to month (a customer still in distress next month, a salesperson whose findings
still add up), whatever else changes. A detector that flags one entity in several months (a customer's
first warning month and first alert month, a salesperson's unusual months) gives the earliest of them
that id and each later one the id of detector, entity and period, so that ids stay unique and a later
month's finding never takes the earlier one's id.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from audit.contract import EXCEPTION_COLUMNS


def exception_ids(findings: pd.DataFrame) -> pd.Series:
    entity = findings["detector"] + "|" + findings["entity_type"] + "|" + findings["entity_id"]
    period = findings["period"].fillna("")
    # the earliest period of each detector and entity (blank first) keeps the entity's own id
    earliest = period.groupby(entity).transform("min")
    keys = entity.where(period == earliest, entity + "|" + period)
    return keys.map(lambda key: hashlib.sha256(key.encode()).hexdigest()[:16])


def priority(findings: pd.DataFrame) -> pd.Series:
    weight = findings["rank_weight"] if "rank_weight" in findings else 1.0
    return (weight * findings["score"] * findings["risk_amount"]).astype(float)


def rank(findings: pd.DataFrame) -> pd.DataFrame:
    """Order findings by priority and number them from 1."""
    ordered = findings.assign(_priority=priority(findings).round(6))
    ordered = ordered.sort_values(["_priority", "score", "risk_amount", "exception_id"],
                                  ascending=[False, False, False, True], kind="mergesort")
    ordered = ordered.drop(columns="_priority").reset_index(drop=True)
    ordered["rank"] = np.arange(1, len(ordered) + 1)
    return ordered


EXCEPTION_DTYPES = {c: "str" for c in EXCEPTION_COLUMNS} | {"rank": "int64", "score": "float64",
                                                            "risk_amount": "float64", "evidence": "object",
                                                            "related": "object"}


def typed_exceptions(frame: pd.DataFrame) -> pd.DataFrame:
    """The exceptions columns, in contract order, with one dtype each whatever the detectors returned;
    ``evidence`` (a dict) and ``related`` (a list) stay Python data."""
    typed = {}
    for column in EXCEPTION_COLUMNS:
        values = frame[column] if column in frame else pd.Series(index=frame.index, dtype="object")
        dtype = EXCEPTION_DTYPES[column]
        if dtype == "str":
            values = values.astype("object").where(values.notna(), None).astype("str")
        elif dtype == "object":
            values = values.astype("object")
        typed[column] = values.astype(dtype)
    return pd.DataFrame(typed, index=frame.index)


def empty_exceptions() -> pd.DataFrame:
    return typed_exceptions(pd.DataFrame(columns=list(EXCEPTION_COLUMNS)))


def exceptions_schema(written: bool = False):
    """The contract's exceptions table as a pandera schema (writers and tests check output with it).

    In memory (a run's ``exceptions``) ``evidence`` is a dict and ``related`` a list of text; in a
    written file (``written=True``) both are JSON text of those."""
    import json

    import pandera.pandas as pa

    from audit.contract import EXCEPTION_STATUSES, PATTERNS

    def holds(kind, item=None):
        def ok(value):
            if written:
                try:
                    value = json.loads(value)
                except (TypeError, ValueError):
                    return False
            return isinstance(value, kind) and (item is None or all(isinstance(v, item) for v in value))

        def check(values: pd.Series) -> pd.Series:
            return values.map(ok)
        form = "json_" if written else ""
        return pa.Check(check, element_wise=False, name=f"{form}{kind.__name__}")

    text = {"nullable": False}
    return pa.DataFrameSchema({
        "exception_id": pa.Column(str, pa.Check.str_matches(r"^[0-9a-f]{16}$"), unique=True, **text),
        "run_id": pa.Column(str, **text),
        "rank": pa.Column(int, pa.Check.ge(1), unique=True),
        "detector": pa.Column(str, **text),
        "pattern": pa.Column(str, pa.Check.isin(PATTERNS)),
        "score": pa.Column(float, pa.Check.in_range(0, 1)),
        "risk_amount": pa.Column(float, pa.Check.ge(0)),
        "entity_type": pa.Column(str, **text),
        "entity_id": pa.Column(str, **text),
        "salesperson_id": pa.Column(str, nullable=True),
        "customer_id": pa.Column(str, nullable=True),
        "period": pa.Column(str, pa.Check.str_matches(r"^\d{4}-\d{2}$"), nullable=True),
        "title": pa.Column(str, pa.Check.str_length(min_value=1)),
        "explanation": pa.Column(str, pa.Check.str_length(min_value=20)),
        "evidence": pa.Column(str if written else object, holds(dict)),
        "related": pa.Column(str if written else object, holds(list, str)),
        "status": pa.Column(str, pa.Check.isin(EXCEPTION_STATUSES)),
        "decision": pa.Column(str, nullable=True),
        "decided_by": pa.Column(str, nullable=True),
        "reason": pa.Column(str, nullable=True),
        "check_next": pa.Column(str, pa.Check.str_length(min_value=1)),
    }, strict=True, ordered=True, coerce=False, name="exceptions")
