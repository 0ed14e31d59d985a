"""Feedback that tunes: what reviewers decided, per detector and per salesperson, and for a detector with
enough decisions the policy change that would have removed most of its false positives while keeping the
confirmed findings. Suggestions only: a person copies one into ``policy.toml`` or leaves it.

How a suggestion is found: each of the detector's policy-set parameters (its ``params_from_policy``) that
is a number is a limit a measured value must exceed to be flagged (``hand_in_days``, ``max_maturity_days``,
``tolerance_pct``, ``geofence_m``...). The measured value is read from the findings' evidence: the numeric
key with the same unit (the name's last word: days, pct, m) whose values all exceed the limit in force,
preferring one that names the same thing (``maturity_days`` for ``max_maturity_days``). The new limit is the
largest false positive's value below the smallest confirmed value: every confirmed finding stays flagged.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from django.db.models import QuerySet

from desk.models import Finding, Run

MIN_DECISIONS = 5


@dataclass
class Suggestion:
    detector: str
    parameter: str
    policy_key: str  # "[cheques] hand_in_days"
    current: float
    proposed: float
    measured_by: str  # the evidence key holding each finding's measured value
    false_positives_removed: int
    false_positives: int
    confirmed_kept: int
    confirmed: int
    undecided_removed: int
    undecided: int

    @property
    def text(self) -> str:
        return (f"{self.detector}: set {self.policy_key} = {_number(self.proposed)} (now {_number(self.current)}): "
                f"{self.false_positives_removed} of {self.false_positives} false positives would not have been "
                f"flagged, {self.confirmed_kept} of {self.confirmed} confirmed still would; "
                f"{self.undecided_removed} of {self.undecided} undecided findings would drop too "
                f"(measured by evidence.{self.measured_by}).")


@dataclass
class Feedback:
    by_detector: list[dict] = field(default_factory=list)
    by_salesperson: list[dict] = field(default_factory=list)
    suggestions: list[Suggestion] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    min_decisions: int = MIN_DECISIONS

    def to_dict(self) -> dict:
        return {"by_detector": self.by_detector, "by_salesperson": self.by_salesperson,
                "suggestions": [asdict(s) | {"text": s.text} for s in self.suggestions], "notes": self.notes}


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _counts(rows: list[Finding], key: str) -> list[dict]:
    table: dict[str, dict] = {}
    for f in rows:
        name = getattr(f, key) or "(none)"
        entry = table.setdefault(name, {key: name, "findings": 0, "decided": 0, "confirmed": 0,
                                        "false_positive": 0, "explained": 0, "needs_information": 0})
        entry["findings"] += 1
        if f.decision:
            entry[f.decision] += 1
            entry["decided"] += f.decision != "needs_information"
    for entry in table.values():
        judged = entry["confirmed"] + entry["false_positive"]
        entry["false_positive_share"] = round(entry["false_positive"] / judged, 3) if judged else None
    return sorted(table.values(), key=lambda e: (-e["decided"], e[key]))


def _policy_sections(policy_dict: dict) -> dict[str, str]:
    """parameter name -> "[section] name" for every key of the policy file."""
    keys = {}
    for section, values in policy_dict.items():
        if isinstance(values, dict):
            for name in values:
                keys.setdefault(name, f"[{section}] {name}")
        else:
            keys.setdefault(section, section)
    return keys


def _numeric_evidence(finding: Finding) -> dict[str, float]:
    try:
        evidence = json.loads(finding.evidence)
    except ValueError:
        return {}
    if not isinstance(evidence, dict):
        return {}
    return {k: abs(float(v)) for k, v in evidence.items()
            if isinstance(v, int | float) and not isinstance(v, bool)}


def _suggest(code: str, rows: list[Finding], policy) -> tuple[Suggestion | None, str]:
    from audit.registry import get_detector

    try:
        cls = get_detector(code)
    except Exception:
        return None, f"{code}: no such detector in this installation"
    params = {k: v for k, v in cls.params_from_policy(policy).items()
              if isinstance(v, int | float) and not isinstance(v, bool)}
    if not params:
        return None, f"{code}: the policy sets no numeric limit of this detector"
    keys = _policy_sections(policy.to_dict())
    measured = [(f, _numeric_evidence(f)) for f in rows]
    best: Suggestion | None = None
    for parameter, current in sorted(params.items()):
        unit = parameter.rsplit("_", 1)[-1]
        stem = parameter.removeprefix("max_").removeprefix("min_").rsplit("_", 1)[0]
        candidates = sorted({k for _, values in measured for k in values
                             if k != parameter and k.rsplit("_", 1)[-1] == unit},
                            key=lambda k: (stem not in k, k))
        for key in candidates:
            values = [(f, v[key]) for f, v in measured if key in v]
            if len(values) < len(measured) or any(value <= current for _, value in values):
                continue  # not the quantity the limit is applied to
            confirmed = [v for f, v in values if f.decision == "confirmed"]
            false = [v for f, v in values if f.decision == "false_positive"]
            undecided = [v for f, v in values if f.decision not in ("confirmed", "false_positive", "explained")]
            below = [v for v in false if not confirmed or v < min(confirmed)]
            if not below:
                continue
            proposed = max(below)
            suggestion = Suggestion(code, parameter, keys.get(parameter, parameter), float(current), float(proposed),
                                    key, sum(v <= proposed for v in false), len(false),
                                    sum(v > proposed for v in confirmed), len(confirmed),
                                    sum(v <= proposed for v in undecided), len(undecided))
            if best is None or suggestion.false_positives_removed > best.false_positives_removed:
                best = suggestion
            break
    if best is None:
        return None, (f"{code}: no limit the policy sets separates its false positives from the confirmed "
                      "findings (they differ in something the policy does not set)")
    return best, ""


def feedback(findings: QuerySet, min_decisions: int = MIN_DECISIONS) -> Feedback:
    from audit.policy import load_policy, policy_from_dict

    rows = list(findings.select_related("last_run"))
    report = Feedback(by_detector=_counts(rows, "detector"), by_salesperson=_counts(rows, "salesperson_id"),
                      min_decisions=min_decisions)
    latest = Run.objects.order_by("-started_at").first()
    policy = policy_from_dict(latest.manifest.get("policy") or {}) if latest else load_policy(None)
    for entry in report.by_detector:
        code = entry["detector"]
        judged = entry["confirmed"] + entry["false_positive"]
        if judged < min_decisions or not entry["false_positive"]:
            if entry["false_positive"]:
                report.notes.append(f"{code}: {judged} findings judged confirmed or false positive; a suggestion "
                                    f"needs at least {min_decisions}")
            continue
        suggestion, note = _suggest(code, [f for f in rows if f.detector == code], policy)
        if suggestion:
            report.suggestions.append(suggestion)
        else:
            report.notes.append(note)
    return report
