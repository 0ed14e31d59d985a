"""Salesperson roll-up: one finding per salesperson whose fraud findings add up across patterns."""

from __future__ import annotations

import numpy as np
import pandas as pd

from audit.common import combine_traces
from audit.contract import SALESPERSON_PATTERNS
from audit.detector import Detector, empty_findings, related_ids
from detectors.wording import salesperson_anomaly

# The contract has no roll-up pattern. A roll-up must not carry one of the twelve salesperson patterns:
# the evaluation would count it as a second finding of that pattern (matching the same labels through
# ``related``). ``salesperson_anomaly`` is the contract's word for salesperson-level findings (entity
# ``salesperson``); change it here if the contract gains a roll-up pattern. The pattern with the
# largest money at risk is reported in the evidence and title ("dominant_pattern").
ROLLUP_PATTERN = "salesperson_anomaly"


class SalespersonRollup(Detector):
    """Salespeople whose findings across the salesperson fraud patterns add up (a roll-up run last).

    What it finds
    -------------
    Reads the findings of every detector of the salesperson fraud patterns (``data.findings``; the runner
    runs those first) and groups them by salesperson. A salesperson is reported when their findings span at least ``min_patterns``
    patterns or number at least ``min_findings``. The score combines the strongest finding of each
    pattern (1 − ∏(1 − best score per pattern)); the money at risk is the sum of the findings' money at
    risk. ``rank_weight`` is small: the roll-up summarises findings already ranked on their own.

    Why it matters
    --------------
    One salesperson behind several kinds of irregularity (added items, secret discounts, withheld
    cheques, false visits) is the source's profile of a dishonest salesperson; looking at the person,
    not one document at a time, tells the auditor whose work to review first.

    Flagged
    -------
    Salesperson S0012 with two unauthorised discounts (7,400,000 beyond authority), three invoices with
    added items (1,180,000,000) and two false visit reports: three patterns, seven findings, flagged with
    1,187,400,000 at risk, dominant pattern added_invoice_items.

    Not flagged
    -----------
    A salesperson with a single late visit, or a single price off the list: one finding of one pattern
    is that finding, not a pattern of behaviour. Findings of customer-level patterns (customer distress,
    Benford tests) are not counted against the salesperson.

    Evidence
    --------
    Per pattern: the number of findings, their money at risk and best score, and the top findings (id,
    entity, score, money); the totals; the dominant pattern; each pattern's contribution in ``traces``.
    """

    code = "SPR-01"
    reads_only_findings = True  # the salesperson fraud detectors' findings, added up
    pattern = ROLLUP_PATTERN
    wording = salesperson_anomaly.words
    entity_type = "salesperson"
    family = "rollup"
    rank_weight = 0.1
    requires = {"salespeople": ("salesperson_id", "name")}
    uses = {"salespeople": ("region", "manager_id")}

    def __init__(self, min_patterns: int = 2, min_findings: int = 3, top_per_pattern: int = 5):
        self.min_patterns = min_patterns
        self.min_findings = min_findings
        self.top_per_pattern = top_per_pattern

    @classmethod
    def upstream_detectors(cls, detectors) -> tuple[str, ...]:
        """Every detector of a salesperson fraud pattern (the pattern table's family), itself excepted."""
        return tuple(sorted(d.code for d in detectors if d.pattern in SALESPERSON_PATTERNS and d.code != cls.code))

    def find(self, data) -> pd.DataFrame:
        findings = data.findings
        if findings.empty:
            return empty_findings()
        findings = findings[findings["pattern"].isin(SALESPERSON_PATTERNS) & findings["salesperson_id"].notna()
                            & (findings["detector"] != self.code)]
        if findings.empty:
            return empty_findings()
        findings = findings.assign(exposure=findings["score"] * findings["risk_amount"])
        people = data.frame("salespeople").set_index("salesperson_id")
        # One sort and one grouping of all the findings: by salesperson, and within one as their list is
        # ordered (a sort and a grouping per salesperson took 8 s at ten million lines).
        ordered = findings.sort_values(["salesperson_id", "exposure", "score", "exception_id"],
                                       ascending=[True, False, False, True], ignore_index=True)
        n_patterns = ordered.groupby("salesperson_id")["pattern"].nunique()
        first = ordered.groupby(["salesperson_id", "pattern"], sort=False).head(self.top_per_pattern)
        top: dict[tuple, list] = {}
        for key, record in zip(zip(first["salesperson_id"], first["pattern"], strict=True),
                               first[["exception_id", "entity_type", "entity_id", "score", "risk_amount"]].to_dict(
                                   orient="records"), strict=True):
            top.setdefault(key, []).append(record)
        salespeople = ordered["salesperson_id"].to_numpy()
        starts = np.flatnonzero(np.r_[True, salespeople[1:] != salespeople[:-1]])
        ends = np.r_[starts[1:], len(ordered)]
        rows = []
        for begin, stop in zip(starts, ends, strict=True):
            salesperson = salespeople[begin]
            if n_patterns[salesperson] < self.min_patterns and stop - begin < self.min_findings:
                continue
            rows.append(self._finding(salesperson, ordered.iloc[begin:stop], top, people))
        self.n_salespeople_ = len(rows)
        return pd.DataFrame(rows) if rows else empty_findings()

    def _finding(self, salesperson, group: pd.DataFrame, top: dict, people: pd.DataFrame) -> dict:
        """One salesperson's finding from their findings (``group``, in the list's order) and the first of
        each pattern (``top``)."""
        # summed per salesperson: one grouping of every finding adds the same amounts up differently in the
        # last digit
        by_pattern = group.groupby("pattern").agg(findings=("exception_id", "size"), risk=("risk_amount", "sum"),
                                                  best_score=("score", "max"), exposure=("exposure", "sum"))
        by_pattern = by_pattern.sort_values(["risk", "findings"], ascending=False)
        dominant = by_pattern.index[0]
        traces = {pattern: round(float(row.best_score), 4) for pattern, row in by_pattern.iterrows()}
        score = combine_traces(traces.values())
        total = float(group["risk_amount"].sum())
        name = people.at[salesperson, "name"] if salesperson in people.index else None
        region = people.at[salesperson, "region"] if salesperson in people.index and "region" in people else None
        periods = sorted(p for p in group["period"].dropna().unique())
        evidence = {
            "dominant_pattern": dominant, "total_risk": total, "findings": len(group),
            "patterns": {pattern: {
                "findings": int(row.findings), "risk_amount": float(row.risk), "best_score": float(row.best_score),
                "top": top[(salesperson, pattern)]}
                for pattern, row in by_pattern.iterrows()},
            "traces": traces,
        }
        entities = [f"{t}:{e}" for t, e in zip(group["entity_type"], group["entity_id"], strict=True)]
        return {
            "entity_id": salesperson, "salesperson_id": salesperson, "customer_id": None,
            "period": periods[-1] if periods else None, "score": score, "risk_amount": total,
            "evidence": evidence, "facts": {"name": name, "region": region, "periods": periods},
            "related": related_ids(("salesperson", [salesperson]), *[
                (entity.split(":", 1)[0], [entity.split(":", 1)[1]]) for entity in entities]),
        }
