"""Score a run's exceptions against ground-truth labels (simulated data, or a company's own cases).

Matching rule (the data contract's): a finding matches a label when the label's
``entity_type:entity_id`` is the finding's entity or is in its ``related`` list, and the patterns
agree. For ``customer_distress`` a finding counts only if its period ends at least
``lead_days`` (30) days before the label's ``event_date`` (the default).

Findings of the data patterns (``audit.contract.DATA_PATTERNS``: a price list missing a change) are
facts about the data, not frauds: they are left out of every figure and counted in ``data_findings``.

Figures: per pattern recall, precision and decoy hits (findings that match a legitimate look-alike),
decoys ranked above the worst-ranked real case of their pattern; precision at 50 and 100 of the
ranked list; the share of labelled money at risk found in the top 100; ROC AUC of customer_distress.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from audit.contract import DATA_PATTERNS, LABEL_COLUMNS
from audit.evidence import frame_from_text

DISTRESS = "customer_distress"
LEAD_DAYS = 30


@dataclass
class Evaluation:
    per_pattern: pd.DataFrame
    overall: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"overall": self.overall, "per_pattern": self.per_pattern.to_dict(orient="records")}

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)  # `audit evaluate --out` may name a new folder
        path.write_text(json.dumps(_plain(self.to_dict()), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return path


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return None if np.isnan(value) else round(float(value), 4)
    if isinstance(value, np.integer):
        return int(value)
    return value


def read_labels(path: str | Path | None) -> pd.DataFrame:
    if path is None:
        return pd.DataFrame(columns=list(LABEL_COLUMNS))
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    missing = [c for c in ("pattern", "entity_type", "entity_id") if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: labels need columns pattern, entity_type, entity_id (missing {missing})")
    frame["amount"] = pd.to_numeric(frame.get("amount"), errors="coerce")
    frame["event_date"] = pd.to_datetime(frame.get("event_date"), errors="coerce")
    return frame


def read_exceptions(run_dir: str | Path) -> pd.DataFrame:
    folder = Path(run_dir)
    if (folder / "exceptions.parquet").is_file():
        return frame_from_text(pd.read_parquet(folder / "exceptions.parquet"), str(folder / "exceptions.parquet"))
    if (folder / "exceptions.csv").is_file():
        from audit.formula_safety import restore

        return frame_from_text(restore(pd.read_csv(folder / "exceptions.csv", dtype={"entity_id": str, "period": str})),
                               str(folder / "exceptions.csv"))
    raise FileNotFoundError(f"{folder} holds no exceptions.parquet or exceptions.csv: pass a run's output folder")


def _period_ends(periods: pd.Series) -> pd.DatetimeIndex:
    valid = periods.where(periods.astype("str").str.fullmatch(r"\d{4}-\d{2}"), None)
    return pd.PeriodIndex(valid, freq="M").end_time.normalize()


def _finding_keys(exceptions: pd.DataFrame) -> pd.DataFrame:
    """One row per (finding, entity key it rests on): its own entity and every related record."""
    rows = []
    ends = _period_ends(exceptions["period"]) if len(exceptions) else []
    for finding, period_end in zip(exceptions.itertuples(index=False), ends, strict=True):
        keys = {f"{finding.entity_type}:{finding.entity_id}"}
        keys.update(finding.related if isinstance(finding.related, list) else [])
        rows.extend({"exception_id": finding.exception_id, "pattern": finding.pattern, "key": key,
                     "period_end": period_end} for key in keys)
    return pd.DataFrame(rows, columns=["exception_id", "pattern", "key", "period_end"])


def _matches(keys: pd.DataFrame, truth: pd.DataFrame, lead_days: int) -> pd.DataFrame:
    """(exception_id, label index) pairs that match under the contract's rule."""
    if truth.empty or keys.empty:
        return pd.DataFrame(columns=["exception_id", "label"])
    labelled = truth.assign(key=truth["entity_type"] + ":" + truth["entity_id"], label=truth.index)
    pairs = keys.merge(labelled[["key", "pattern", "label", "event_date"]], on=["key", "pattern"])
    distress = pairs["pattern"] == DISTRESS
    early_enough = pairs["period_end"] <= pairs["event_date"] - pd.Timedelta(days=lead_days)
    pairs = pairs[~distress | early_enough.fillna(False)]
    return pairs[["exception_id", "label"]].drop_duplicates()


def _distress_auc(exceptions: pd.DataFrame, labels: pd.DataFrame, customers: list[str] | None,
                  lead_days: int) -> float:
    findings = exceptions[exceptions["pattern"] == DISTRESS]
    if "entity_type" in findings:
        # a salesperson-level distress finding (distress or collusion) is not a score of a customer
        findings = findings[findings["entity_type"] == "customer"]
    defaulted = labels[labels["pattern"] == DISTRESS]
    if defaulted.empty:
        return float("nan")
    default_date = defaulted.groupby("entity_id")["event_date"].min()
    universe = set(customers or []) | set(default_date.index) | set(findings["entity_id"])
    if findings.empty:
        scores = pd.Series(0.0, index=sorted(universe))
    else:
        period_end = pd.Series(_period_ends(findings["period"]), index=findings.index)
        cutoff = pd.to_datetime(findings["entity_id"].map(default_date)) - pd.Timedelta(days=lead_days)
        usable = findings[cutoff.isna() | (period_end <= cutoff)]
        scores = usable.groupby("entity_id")["score"].max().reindex(sorted(universe)).fillna(0.0)
    truth = scores.index.isin(default_date.index).astype(int)
    if truth.min() == truth.max():
        return float("nan")
    return float(roc_auc_score(truth, scores.to_numpy()))


def evaluate(exceptions: pd.DataFrame, labels: pd.DataFrame, decoys: pd.DataFrame | None = None,
             customers: list[str] | None = None, lead_days: int = LEAD_DAYS) -> Evaluation:
    """Compare ranked exceptions with labels (and decoys); see the module docstring for the figures."""
    decoys = decoys if decoys is not None else pd.DataFrame(columns=list(LABEL_COLUMNS))
    labels, decoys = (frame.reset_index(drop=True).assign(
        event_date=lambda f: pd.to_datetime(f.get("event_date"), errors="coerce")) for frame in (labels, decoys))
    exceptions = exceptions.sort_values("rank", kind="mergesort").reset_index(drop=True)
    # Findings about the data (a price list missing a change) are neither a caught fraud nor a false alarm.
    about_data = exceptions["pattern"].isin(DATA_PATTERNS)
    n_data_findings = int(about_data.sum())
    exceptions = exceptions[~about_data].reset_index(drop=True)
    keys = _finding_keys(exceptions)
    label_hits = _matches(keys, labels.reset_index(drop=True), lead_days)
    decoy_hits = _matches(keys, decoys.reset_index(drop=True), lead_days)
    true_findings = set(label_hits["exception_id"])
    decoy_findings = set(decoy_hits["exception_id"]) - true_findings
    found_labels = set(label_hits["label"])
    rank_of = exceptions.set_index("exception_id")["rank"]

    rows = []
    for pattern in sorted(set(labels["pattern"]) | set(exceptions["pattern"]) | set(decoys["pattern"])):
        pattern_labels = labels.index[labels["pattern"] == pattern]
        pattern_findings = exceptions.loc[exceptions["pattern"] == pattern, "exception_id"]
        true_ids = [e for e in pattern_findings if e in true_findings]
        decoy_ids = [e for e in pattern_findings if e in decoy_findings]
        worst_true_rank = max((rank_of[e] for e in true_ids), default=0)
        rows.append({
            "pattern": pattern, "labels": len(pattern_labels), "findings": len(pattern_findings),
            "recall": (len(set(pattern_labels) & found_labels) / len(pattern_labels))
            if len(pattern_labels) else float("nan"),
            "precision": len(true_ids) / len(pattern_findings) if len(pattern_findings) else
            (0.0 if len(pattern_labels) else float("nan")),
            "decoy_hits": len(decoy_ids),
            "decoys_above_real": sum(rank_of[e] < worst_true_rank for e in decoy_ids),
        })
    per_pattern = pd.DataFrame(rows, columns=["pattern", "labels", "findings", "recall", "precision",
                                              "decoy_hits", "decoys_above_real"])

    def precision_at(k: int) -> float:
        top = exceptions["exception_id"].head(k)
        return float(top.isin(true_findings).mean()) if len(top) else 0.0

    top100_labels = set(label_hits.loc[label_hits["exception_id"].isin(set(exceptions["exception_id"].head(100))),
                                       "label"])
    amounts = labels["amount"].fillna(0.0) if "amount" in labels else pd.Series(0.0, index=labels.index)
    total_amount = float(amounts.sum())
    overall = {
        "findings": len(exceptions), "data_findings": n_data_findings, "labels": len(labels), "decoys": len(decoys),
        "recall": len(found_labels) / len(labels) if len(labels) else float("nan"),
        "precision": len(true_findings) / len(exceptions) if len(exceptions) else 0.0,
        "precision_at_50": precision_at(50), "precision_at_100": precision_at(100),
        "money_share_top_100": float(amounts.loc[sorted(top100_labels)].sum()) / total_amount
        if total_amount else float("nan"),
        "decoy_hits": len(decoy_findings),
        "customer_distress_auc": _distress_auc(exceptions, labels, customers, lead_days),
    }
    return Evaluation(per_pattern, overall)


def evaluate_run(run_dir: str | Path, labels_path: str | Path, decoys_path: str | Path | None = None,
                 customers: list[str] | None = None) -> Evaluation:
    return evaluate(read_exceptions(run_dir), read_labels(labels_path), read_labels(decoys_path)
                    if decoys_path else None, customers)
