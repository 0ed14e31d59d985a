"""Write a run's tables: the ranked exceptions (CSV, Parquet), data quality, detector status, manifest.

Every CSV passes through :func:`audit.formula_safety.neutralise` (a cell a spreadsheet would run as a
formula gets a leading quote); Parquet keeps the exact values."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from audit.evidence import frame_as_text
from audit.formula_safety import neutralise
from audit.result import RunResult

# Fixed float rendering so two runs on the same inputs give byte-identical files.
_CSV = {"index": False, "lineterminator": "\n", "float_format": "%.6g", "encoding": "utf-8"}


def _exceptions_for_csv(result: RunResult) -> pd.DataFrame:
    frame = frame_as_text(result.exceptions)
    frame["risk_amount"] = frame["risk_amount"].map(lambda v: f"{v:.2f}")
    frame["score"] = frame["score"].map(lambda v: f"{v:.4f}")
    return frame


def write_csv(result: RunResult, out: Path) -> list[Path]:
    paths = {
        "exceptions.csv": _exceptions_for_csv(result),
        "data_quality.csv": result.data_quality,
        "detectors.csv": result.detector_runs,
        "resolved.csv": frame_as_text(result.resolved),
    }
    written = []
    for name, frame in paths.items():
        path = out / name
        neutralise(frame).to_csv(path, **_CSV)
        written.append(path)
    return written


def write_parquet(result: RunResult, out: Path) -> list[Path]:
    path = out / "exceptions.parquet"
    frame = frame_as_text(result.exceptions)
    frame["rank"] = frame["rank"].astype("int64")
    frame.to_parquet(path, index=False)
    return [path]


def write_manifest(result: RunResult, out: Path) -> list[Path]:
    path = out / "manifest.json"
    path.write_text(json.dumps(result.manifest, indent=2, sort_keys=True, default=str, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    return [path]
