"""Measure ``audit.methods.anomaly.AnomalyEnsemble`` on ten ADBench classical datasets, beside Table D4.

Protocol (the one of ADBench's Table D4): for each dataset and each of 3 seeds, a stratified
70/30 split (``train_test_split(stratify=y, random_state=seed)``); the ensemble is fitted on the
70 % without labels and scores the 30 %; ROC AUC in %, averaged over the seeds. The table puts
the ensemble beside the 14 single detectors of Table D4 (``table_d4_aucroc.csv``) on the same
datasets, with the mean over the datasets in the last row.

Usage::

    python benchmarks/adbench.py                       # default ensemble
    python benchmarks/adbench.py --members             # also each member alone, same splits
    python benchmarks/adbench.py --detectors iforest,ecod,copod,hbos --combine median_rank
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audit.methods.anomaly import COMBINE_RULES, DEFAULT_DETECTORS, AnomalyEnsemble  # noqa: E402

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "adbench"
TABLE_D4 = "table_d4_aucroc.csv"


def dataset_name(path: Path) -> str:
    """ADBench file '2_annthyroid.npz' -> Table D4 row name 'annthyroid'."""
    return path.stem.split("_", 1)[1]


def load_dataset(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path) as data:
        return data["X"].astype(np.float64), data["y"].astype(int)


def ensemble_auc(X: np.ndarray, y: np.ndarray, seeds: int, **params) -> tuple[float, float]:
    """Mean ROC AUC (%) over the seeds' stratified 70/30 splits, and the mean seconds per run."""
    aucs, seconds = [], []
    for seed in range(seeds):
        X_train, X_test, _, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)
        start = time.perf_counter()
        scores = AnomalyEnsemble(random_state=seed, **params).fit(X_train).score_samples(X_test)
        seconds.append(time.perf_counter() - start)
        aucs.append(100.0 * roc_auc_score(y_test, scores))
    return float(np.mean(aucs)), float(np.mean(seconds))


def run(data_dir: Path, detectors: tuple[str, ...], combine: str, seeds: int, members: bool) -> pd.DataFrame:
    """One row per dataset: shape, Table D4 single detectors, the ensemble (and its members)."""
    table_d4 = pd.read_csv(data_dir / TABLE_D4, na_values=["N/A"]).set_index("dataset")
    rows = []
    for path in sorted(data_dir.glob("*.npz"), key=lambda p: int(p.stem.split("_", 1)[0])):
        name = dataset_name(path)
        X, y = load_dataset(path)
        row = {"dataset": name, "rows": X.shape[0], "features": X.shape[1], "anomaly %": 100 * y.mean()}
        row.update(table_d4.loc[name].to_dict())
        if members:
            for detector in detectors:
                row[f"own {detector}"], _ = ensemble_auc(X, y, seeds, detectors=(detector,), combine=combine)
        row["ensemble"], row["seconds"] = ensemble_auc(X, y, seeds, detectors=detectors, combine=combine)
        print(f"{name:12s} ensemble {row['ensemble']:6.2f}  ({row['seconds']:.1f} s per run)", file=sys.stderr, flush=True)
        rows.append(row)
    table = pd.DataFrame(rows).set_index("dataset").astype(float)
    table.loc["mean"] = table.mean(numeric_only=True)
    table.loc["mean", ["rows", "features"]] = np.nan
    return table


def markdown_table(table: pd.DataFrame) -> str:
    """A GitHub-flavoured markdown table of ``table`` (index as first column, blanks for NaN)."""
    header = [table.index.name or ""] + [str(c) for c in table.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    counts = {"rows", "features"}
    for index, values in table.iterrows():
        cells = [
            "" if pd.isna(v) else f"{v:.0f}" if column in counts else f"{v:.2f}"
            for column, v in values.items()
        ]
        lines.append("| " + " | ".join([str(index), *cells]) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--detectors", default=",".join(DEFAULT_DETECTORS), help="comma-separated names")
    parser.add_argument("--combine", default="mean_rank", choices=COMBINE_RULES)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--members", action="store_true", help="also score each member alone")
    parser.add_argument("--markdown", type=Path, help="also write the table as a markdown file")
    args = parser.parse_args(argv)

    detectors = tuple(name.strip() for name in args.detectors.split(",") if name.strip())
    table = run(args.data_dir, detectors, args.combine, args.seeds, args.members)
    d4_columns = [c for c in pd.read_csv(args.data_dir / TABLE_D4, nrows=0).columns if c != "dataset"]
    best_single = table.loc["mean", d4_columns].astype(float).idxmax()
    shown = table.drop(columns=["anomaly %"]).round(2)
    with pd.option_context("display.width", 250, "display.max_columns", 40):
        print(shown.to_string(na_rep=""))
    ensemble_mean = table.loc["mean", "ensemble"]
    print(
        f"\nensemble {'+'.join(detectors)} / {args.combine}: mean {ensemble_mean:.2f}; "
        f"best Table D4 single detector: {best_single} {table.loc['mean', best_single]:.2f} "
        f"({ensemble_mean - table.loc['mean', best_single]:+.2f})"
    )
    if args.markdown:
        args.markdown.write_text(markdown_table(shown))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
