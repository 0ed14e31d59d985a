"""Stable ids and the ranking of findings.

**Ranking.** Each finding's priority is ``rank_weight × score × risk_amount``: the money at risk,
discounted by how sure the detector is and by how specific the detector is (specific fraud patterns
weigh 1; broad statistical tests weigh less, see each detector's ``rank_weight``). Findings are
ordered by priority, then score, then money at risk, then id, so the order is total and repeatable.
Findings with no money at risk (e.g. a missed visit) follow, ordered by score.

**Ids.** ``exception_id`` hashes the detector code, entity and period: the same finding keeps its id
from run to run (month over month), whatever else changes.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from audit.contract import EXCEPTION_COLUMNS


def exception_ids(findings: pd.DataFrame) -> pd.Series:
    keys = (findings["detector"] + "|" + findings["entity_type"] + "|" + findings["entity_id"] + "|"
            + findings["period"].fillna(""))
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


def empty_exceptions() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in EXCEPTION_COLUMNS})
