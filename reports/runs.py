"""Reopen a finished run from its output folder, for notebooks and re-rendering reports.

A run folder holds the exceptions, data quality, detector status, resolved findings and the manifest,
but not the ledger: :func:`load_run` reads the ledger again from where the manifest says it came from
(or from ``data``), under the policy recorded in the manifest, and warns when an input's SHA-256 no
longer matches the one the run hashed. The analyses' views (aging, collections, entity links) come back
when the run was written with the ``views`` format (``views/<name>.parquet``, see :func:`write_views`);
otherwise the reopened result has none.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pandas as pd
import pyarrow as pa

from audit.evidence import frame_from_text, json_text
from audit.formula_safety import restore
from audit.policy import policy_from_dict
from audit.ranking import typed_exceptions
from audit.result import RunResult
from audit.validation import load_and_validate

VIEWS_FOLDER = "views"


def write_views(result: RunResult, out: Path) -> list[Path]:
    """``views/<name>.parquet`` for every analysis table of the run (the ``views`` format)."""
    folder = Path(out) / VIEWS_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in sorted((result.views or {}).items()):
        if not isinstance(frame, pd.DataFrame):
            continue
        path = folder / f"{name}.parquet"
        table = frame.copy(deep=False)
        table.attrs = {}  # analyses' own notes (numpy counts) are not part of the table
        try:
            table.to_parquet(path, index=False)
        except (pa.ArrowException, TypeError, ValueError):
            # A column mixing Python types (dicts, lists, numbers) has no Parquet type: keep it as text.
            mixed = [c for c in table.columns if table[c].dtype == object]
            table[mixed] = table[mixed].apply(lambda c: c.map(lambda v: v if v is None or isinstance(v, str)
                                                              else json_text(v)))
            table.to_parquet(path, index=False)
        written.append(path)
    return written


def _read_views(folder: Path) -> dict[str, pd.DataFrame]:
    views_folder = folder / VIEWS_FOLDER
    if not views_folder.is_dir():
        return {}
    return {path.stem: pd.read_parquet(path) for path in sorted(views_folder.glob("*.parquet"))}


def _csv(path: Path) -> pd.DataFrame:
    if not path.is_file():
        return pd.DataFrame()
    try:
        return restore(pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""]))
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def load_run(run_dir: str | Path, data: str | Path | None = None) -> RunResult:
    """The :class:`RunResult` of the run written to ``run_dir``, with the ledger tables re-read.

    ``data`` overrides where the ledger is read from (e.g. the run was made on another machine).
    """
    folder = Path(run_dir)
    manifest_path = folder / "manifest.json"
    if not manifest_path.is_file():
        raise FileNotFoundError(f"no manifest.json in {folder}: pass a run's output folder (`audit run --out`)")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if (folder / "exceptions.parquet").is_file():
        exceptions_path = folder / "exceptions.parquet"
        exceptions = pd.read_parquet(exceptions_path)
    else:
        exceptions_path = folder / "exceptions.csv"
        exceptions = restore(pd.read_csv(exceptions_path, dtype=str, keep_default_na=False, na_values=[""]))
        exceptions = exceptions.astype({"rank": "int64", "score": "float64", "risk_amount": "float64"})
    exceptions = typed_exceptions(frame_from_text(exceptions, str(exceptions_path)))
    policy = policy_from_dict(manifest.get("policy") or {}, source=str(manifest_path))
    source = data if data is not None else manifest.get("data")
    tables = load_and_validate(source, policy) if source else None
    if tables is not None:
        recorded = {i["table"]: i.get("sha256") for i in manifest.get("inputs", [])}
        changed = sorted(name for name, table in tables.sources.items()
                         if name in recorded and recorded[name] != table.sha256)
        if changed:
            warnings.warn(f"the ledger changed since run {manifest.get('run_id')}: {', '.join(changed)} no longer "
                          "match the manifest's SHA-256; timelines show today's data", stacklevel=2)
    detectors = _csv(folder / "detectors.csv")
    for column in ("findings", "seconds"):
        if column in detectors:
            detectors[column] = pd.to_numeric(detectors[column])
    data_quality = _csv(folder / "data_quality.csv")
    resolved = frame_from_text(_csv(folder / "resolved.csv"), str(folder / "resolved.csv"))
    for column, dtype in (("risk_amount", "float64"), ("score", "float64")):
        if column in resolved:
            resolved[column] = resolved[column].astype(dtype)
    return RunResult(manifest.get("run_id", folder.name), exceptions, data_quality, detectors, manifest, policy,
                     resolved, tables, _read_views(folder))
