"""Early-warning figures of a run against distress labels (the quality bar of ``docs/distress.md``).

Each customer's score is the best customer_distress finding (entity ``customer``) whose period ends at
least ``lead_days`` before its default (``simulator.evaluation``'s rule; customers that never default count
every finding). From that:

- ROC AUC over every customer of the data (no finding = 0), as ``audit evaluate`` computes it but
  without the salesperson-level (DST-02) findings, which are not customers;
- the share of defaulters among the top ``top_share`` of customers (ties at 0 never count as top);
- the decoys (look-alikes of the pattern) in that top group.

Usage::

    python -m simulator.distress_measure --run RUN_DIR --data DATA_DIR [--labels L] [--decoys D]
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pandas as pd
from sklearn.metrics import roc_auc_score

from simulator.evaluation import DISTRESS, LEAD_DAYS, read_exceptions, read_labels


def customer_scores(exceptions: pd.DataFrame, labels: pd.DataFrame, customers: list[str],
                    lead_days: int = LEAD_DAYS) -> pd.Series:
    """Best usable customer_distress score per customer (index: every customer; 0 without a finding)."""
    findings = exceptions[(exceptions["pattern"] == DISTRESS) & (exceptions["entity_type"] == "customer")]
    defaults = labels[labels["pattern"] == DISTRESS].groupby("entity_id")["event_date"].min()
    universe = sorted(set(customers) | set(defaults.index) | set(findings["entity_id"]))
    if findings.empty:
        return pd.Series(0.0, index=universe)
    ends = pd.PeriodIndex(findings["period"], freq="M").end_time.normalize()
    cutoff = pd.to_datetime(findings["entity_id"].map(defaults)) - pd.Timedelta(days=lead_days)
    usable = findings[cutoff.isna().to_numpy() | (ends <= cutoff).to_numpy()]
    return usable.groupby("entity_id")["score"].max().reindex(universe).fillna(0.0)


def early_warning_figures(exceptions: pd.DataFrame, labels: pd.DataFrame, decoys: pd.DataFrame,
                          customers: list[str], top_share: float = 0.05, lead_days: int = LEAD_DAYS) -> dict:
    scores = customer_scores(exceptions, labels, customers, lead_days)
    defaulters = set(labels.loc[labels["pattern"] == DISTRESS, "entity_id"])
    lookalikes = set(decoys.loc[decoys["pattern"] == DISTRESS, "entity_id"]) if len(decoys) else set()
    truth = scores.index.isin(defaulters).astype(int)
    size = math.ceil(top_share * len(scores))
    ordered = scores.sort_values(ascending=False, kind="mergesort")
    top = set(ordered.index[:size][ordered.iloc[:size] > 0])
    return {
        "customers": len(scores), "defaulters": len(defaulters), "decoys": len(lookalikes),
        "auc": float(roc_auc_score(truth, scores.to_numpy())) if 0 < truth.sum() < len(truth) else float("nan"),
        "top_size": size, "defaulters_in_top": len(top & defaulters),
        "defaulters_in_top_share": len(top & defaulters) / len(defaulters) if defaulters else float("nan"),
        "decoys_in_top": sorted(top & lookalikes),
        "customers_with_findings": int((scores > 0).sum()),
    }


def customer_ids(folder: Path) -> list[str]:
    """The customer ids of a data folder (customers.csv or customers.parquet)."""
    if (folder / "customers.parquet").is_file():
        return pd.read_parquet(folder / "customers.parquet", columns=["customer_id"])["customer_id"].astype(str).tolist()
    return pd.read_csv(folder / "customers.csv", dtype=str)["customer_id"].tolist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True, help="the simulated data folder (customers table)")
    parser.add_argument("--labels", type=Path)
    parser.add_argument("--decoys", type=Path)
    parser.add_argument("--top-share", type=float, default=0.05)
    arguments = parser.parse_args()
    labels = read_labels(arguments.labels or arguments.data / "labels.csv")
    decoys = read_labels(arguments.decoys or arguments.data / "decoys.csv")
    customers = customer_ids(arguments.data)
    figures = early_warning_figures(read_exceptions(arguments.run), labels, decoys, customers, arguments.top_share)
    for key, value in figures.items():
        print(f"{key}: {value:.4f}" if isinstance(value, float) else f"{key}: {value}")


if __name__ == "__main__":
    main()
