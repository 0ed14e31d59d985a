"""Run an audit: load and check the data, run every registered detector, rank what they find."""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import platform
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pandas as pd

from audit.contract import EXCEPTION_COLUMNS
from audit.data import AuditData
from audit.decisions import CLOSING_DECISIONS, SUPPRESSING_DECISIONS, latest_decisions, read_decisions
from audit.detector import Detector, DetectorInputError
from audit.engine import Engine
from audit.loading import load, redact_url
from audit.policy import Policy, load_policy, policy_beside
from audit.problems import ROW, InputError, data_quality_frame
from audit.registry import analysis_classes, detector_classes
from audit.result import RunResult
from audit.scoring import empty_exceptions, exception_ids, rank, typed_exceptions
from audit.validation import AuditTables, validate

# progress(step, done, total): the CLI draws bars with it; the library stays silent.
Progress = Callable[[str, int, int], None]
LIBRARIES = ("pandas", "numpy", "ibis-framework", "duckdb", "pyspark", "pandera", "pyod", "networkx",
             "rapidfuzz", "scikit-learn")


def tool_version() -> str:
    try:
        return version("sales-audit")
    except PackageNotFoundError:
        return "0+unknown"


def _library_versions() -> dict[str, str]:
    found = {}
    for name in LIBRARIES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _input_manifest(tables: AuditTables) -> list[dict]:
    rows_used = {name: len(frame) for name, frame in tables.frames.items()}
    return [{"table": name, "origin": src.origin, "sha256": src.sha256, "rows_read": src.rows,
             "rows_used": rows_used.get(name, 0)} for name, src in sorted(tables.sources.items())]


def _run_id(inputs: list[dict], policy: Policy, period: str | None, detectors: list[str]) -> str:
    # Content-derived, so that the same inputs and policy give byte-identical exceptions.
    material = json.dumps({"inputs": [(i["table"], i["sha256"]) for i in inputs], "policy": policy.to_dict(),
                           "period": period, "tool": tool_version(), "detectors": detectors}, sort_keys=True)
    return hashlib.sha256(material.encode()).hexdigest()[:12]


def _read_previous(previous: str | Path | None) -> pd.DataFrame | None:
    if previous is None:
        return None
    folder = Path(previous)
    for name in ("exceptions.parquet", "exceptions.csv"):
        if (folder / name).is_file():
            reader = pd.read_parquet if name.endswith("parquet") else pd.read_csv
            return reader(folder / name)
    raise FileNotFoundError(f"no exceptions.parquet or exceptions.csv in {folder}: pass an earlier run's folder")


def _read_suppressions(path: str | Path | None) -> pd.DataFrame:
    """exception_id, reason, suppressed_by of a --suppressions CSV (reason and author kept as given)."""
    columns = ["exception_id", "reason", "suppressed_by"]
    if path is None:
        return pd.DataFrame(columns=columns)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    if "exception_id" not in frame.columns:
        raise ValueError(f"{path} needs an exception_id column (and preferably reason, suppressed_by)")
    frame = frame.reindex(columns=columns).dropna(subset=["exception_id"])
    return frame.drop_duplicates("exception_id", keep="last").reset_index(drop=True)


def _timed(status: dict, work) -> tuple[object, dict]:
    started = time.perf_counter()
    try:
        output = work()
    except DetectorInputError as exc:
        return None, {**status, "status": "not run", "reason": str(exc), "findings": 0, "seconds": 0.0}
    except Exception as exc:  # one broken detector must not lose the others' findings
        return None, {**status, "status": "failed", "reason": f"{type(exc).__name__}: {exc}", "findings": 0,
                      "seconds": round(time.perf_counter() - started, 3)}
    return output, {**status, "status": "ran", "reason": "", "seconds": round(time.perf_counter() - started, 3)}


def run_detectors(data: AuditData, select: list[str] | None = None,
                  progress: Progress | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run the analyses, then the detectors stage by stage; return (findings, one status row each)."""
    detectors = [c for c in detector_classes() if not select or {c.code, c.pattern} & set(select)]
    analyses = list(analysis_classes())
    steps = analyses + sorted(detectors, key=lambda c: (c.stage, c.code))
    findings: list[tuple[int, pd.DataFrame]] = []
    findings_stage = 1
    statuses = []
    for index, cls in enumerate(steps):
        is_detector = issubclass(cls, Detector)
        if progress:
            progress(f"{'detector' if is_detector else 'analysis'} {cls.code}", index, len(steps))
        if is_detector and cls.stage > 1 and cls.stage != findings_stage:
            # a later stage reads every finding of the stages before it, e.g. the roll-up reads them all
            earlier = [f for stage, f in findings if stage < cls.stage and len(f)]
            data.findings = _with_ids(pd.concat(earlier, ignore_index=True)) if earlier else pd.DataFrame()
            findings_stage = cls.stage
        status = {"kind": "detector" if is_detector else "analysis", "detector": cls.code,
                  "pattern": getattr(cls, "pattern", ""), "family": getattr(cls, "family", "analysis"),
                  "version": getattr(cls, "version", "1.0")}
        missing = cls.missing_inputs(data)
        if missing:
            statuses.append({**status, "status": "not run", "reason": f"needs {', '.join(missing)}",
                             "findings": 0, "seconds": 0.0})
            continue
        if is_detector:
            instance = cls.from_policy(data.policy)
            found, status = _timed(status, lambda instance=instance: instance.run(data))
            if status["status"] == "ran" and getattr(instance, "note_", ""):
                status["reason"] = instance.note_  # e.g. too little data to say what is usual
            if found is not None:
                findings.append((cls.stage, found))
            statuses.append({**status, "findings": 0 if found is None else len(found)})
        else:
            views, status = _timed(status, lambda cls=cls: cls.from_policy(data.policy).compute(data))
            data.views.update(views or {})
            statuses.append({**status, "findings": 0})
    if progress:
        progress("detectors done", len(steps), len(steps))
    found = [f for _, f in findings if len(f)]
    combined = pd.concat(found, ignore_index=True) if found else pd.DataFrame()
    return combined, pd.DataFrame(statuses)


def _with_ids(findings: pd.DataFrame) -> pd.DataFrame:
    return findings.assign(exception_id=exception_ids(findings)) if len(findings) else findings


def _review_columns(exceptions: pd.DataFrame, suppressed, decisions: pd.DataFrame | None) -> pd.DataFrame:
    """Status and the added columns decision, decided_by, reason from the suppressions file and the case
    store's latest decision per finding (the case store wins where both speak)."""
    if isinstance(suppressed, set | frozenset | list | tuple):
        suppressed = pd.DataFrame({"exception_id": sorted(suppressed)})
    exceptions = exceptions.assign(decision=None, decided_by=None, reason=None)
    if suppressed is not None and len(suppressed):
        rows = suppressed.set_index("exception_id")
        hit = exceptions["exception_id"].isin(rows.index)
        ids = exceptions.loc[hit, "exception_id"]
        exceptions.loc[hit, "status"] = "suppressed"
        exceptions.loc[hit, "decision"] = "suppressed"
        for column, source in (("reason", "reason"), ("decided_by", "suppressed_by")):
            if source in rows:
                exceptions.loc[hit, column] = ids.map(rows[source]).to_numpy()
    if decisions is not None and len(decisions):
        rows = decisions.set_index("exception_id")
        hit = exceptions["exception_id"].isin(rows.index)
        ids = exceptions.loc[hit, "exception_id"]
        decision = ids.map(rows["decision"])
        exceptions.loc[hit, "decision"] = decision.to_numpy()
        exceptions.loc[hit, "decided_by"] = ids.map(rows["decided_by"]).to_numpy()
        exceptions.loc[hit, "reason"] = ids.map(rows["reason"]).to_numpy()
        hit_index = ids.index
        exceptions.loc[hit_index[(decision == "confirmed").to_numpy()], "status"] = "confirmed"
        exceptions.loc[hit_index[decision.isin(SUPPRESSING_DECISIONS).to_numpy()], "status"] = "suppressed"
    return exceptions


def finalise(findings: pd.DataFrame, run_id: str, period: str | None, previous: pd.DataFrame | None,
             suppressed, decisions: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Ids, period filter, status, rank: the exceptions table and the findings resolved since last run.

    Ids are given over every finding before the period filter, so a finding's id does not depend on
    ``--period``. A previous finding is ``repeat`` when listed again, and ``resolved`` when no detector
    finds it any more, whatever its period: one of an earlier month that is still found is neither.
    ``suppressed`` is the --suppressions table (or a set of ids); ``decisions`` the case store's latest
    decision per finding (:func:`audit.decisions.read_decisions`).
    """
    found_ids: set[str] = set()
    found_keys: set[tuple] = set()
    if findings.empty:
        exceptions = empty_exceptions()
    else:
        exceptions = findings.copy()
        exceptions["exception_id"] = exception_ids(exceptions)
        found_ids, found_keys = set(exceptions["exception_id"]), set(_finding_keys(exceptions))
        if period:
            exceptions = exceptions[exceptions["period"] == period]
        exceptions["run_id"] = run_id
        seen_ids = set(previous["exception_id"]) if previous is not None else set()
        # runs made before ids left out the period are matched by detector, entity and period
        seen_keys = set(_finding_keys(previous)) if previous is not None and len(previous) else set()
        repeat = exceptions["exception_id"].isin(seen_ids) | pd.Series(
            [k in seen_keys for k in _finding_keys(exceptions)], index=exceptions.index, dtype=bool)
        exceptions["status"] = repeat.map({True: "repeat", False: "new"})
        exceptions = _review_columns(exceptions, suppressed, decisions)
        exceptions = typed_exceptions(rank(exceptions))
    resolved = pd.DataFrame(columns=list(EXCEPTION_COLUMNS))
    if previous is not None and len(previous):
        still = previous["exception_id"].isin(found_ids) | pd.Series(
            [k in found_keys for k in _finding_keys(previous)], index=previous.index, dtype=bool)
        resolved = previous[~still].reset_index(drop=True)
    return exceptions.reset_index(drop=True), resolved


def _finding_keys(frame: pd.DataFrame) -> list[tuple]:
    columns = ["detector", "entity_type", "entity_id", "period"]
    if not set(columns) <= set(frame.columns):
        return [None] * len(frame)
    values = frame[columns].astype("object").where(frame[columns].notna(), "")
    return list(values.itertuples(index=False, name=None))


def run(data, policy: Policy | str | Path | None = None, *, period: str | None = None, engine: str = "duckdb",
        detectors: list[str] | None = None, previous: str | Path | None = None,
        suppressions: str | Path | None = None, strict: bool = False,
        progress: Progress | None = None, cases: str | None = None) -> RunResult:
    """Audit ``data`` (a folder, workbook, .duckdb file or database URL) under ``policy`` (default: the
    data folder's ``policy.toml`` if it has one, else the contract's defaults).

    ``cases`` is a review desk's case store (database URL): its decisions mark findings ``suppressed``
    (false positive, explained) or ``confirmed``, with the decision, its author and comment.

    Raises :class:`~audit.problems.InputError` when a required table or column is unusable (or, with
    ``strict``, when any row had to be set aside): no detector runs on such data.
    """
    started = _now()
    if period is not None:
        pd.Period(period, "M")  # raises a clear ValueError for a malformed YYYY-MM
    if policy is None:
        policy = policy_beside(data)  # like the CLI: the data folder's own policy.toml, else the defaults
    policy = policy if isinstance(policy, Policy) else load_policy(policy)
    if progress:
        progress("reading and checking the data", 0, 1)
    tables = validate(load(data), policy)
    if tables.fatal or (strict and any(p.severity == ROW for p in tables.problems)):
        raise InputError(tables.problems)
    previous_exceptions = _read_previous(previous)
    suppressed = _read_suppressions(suppressions)
    history = read_decisions(cases) if cases else None
    audit_data = AuditData(tables, policy, Engine(engine), period)
    try:
        findings, statuses = run_detectors(audit_data, detectors, progress)
    finally:
        audit_data.engine.close()
    inputs = _input_manifest(tables)
    run_id = _run_id(inputs, policy, period, sorted(statuses["detector"]) if len(statuses) else [])
    exceptions, resolved = finalise(findings, run_id, period, previous_exceptions, suppressed,
                                    latest_decisions(history) if history is not None else None)
    manifest = {
        "run_id": run_id, "tool": "sales-audit", "tool_version": tool_version(), "engine": engine,
        "data": _data_label(data), "period": period, "inputs": inputs,
        "policy": policy.to_dict(), "detectors": statuses.to_dict(orient="records"),
        "libraries": _library_versions(), "python": platform.python_version(), "user": _user(),
        "host": platform.node(), "started_at": started, "finished_at": _now(),
        "findings": len(exceptions), "data_quality_rows": len(tables.problems),
        "suppressions": _suppressions_manifest(suppressions, suppressed, exceptions),
        "cases": _cases_manifest(cases, latest_decisions(history) if history is not None else None, exceptions),
    }
    return RunResult(run_id, exceptions, data_quality_frame(tables.problems), statuses, manifest, policy,
                     resolved, tables, audit_data.views,
                     decisions=_decisions_on(history, exceptions) if history is not None else None)


def _suppressions_manifest(path, suppressed: pd.DataFrame, exceptions: pd.DataFrame) -> dict | None:
    if path is None:
        return None
    return {"file": str(Path(path).resolve()), "sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest(),
            "rows": len(suppressed), "applied": int(exceptions["exception_id"].isin(suppressed["exception_id"]).sum())}


def _decisions_on(history: pd.DataFrame, exceptions: pd.DataFrame) -> pd.DataFrame:
    return history[history["exception_id"].isin(exceptions["exception_id"])].reset_index(drop=True)


def _cases_manifest(cases: str | None, decisions: pd.DataFrame | None, exceptions: pd.DataFrame) -> dict | None:
    if not cases:
        return None
    closing = decisions[decisions["decision"].isin(CLOSING_DECISIONS)] if decisions is not None else None
    applied = exceptions["exception_id"].isin(closing["exception_id"]) if closing is not None else []
    return {"store": redact_url(cases) if "://" in cases else str(Path(cases).resolve()),
            "decisions_read": 0 if decisions is None else len(decisions), "decisions_applied": int(sum(applied))}


def _data_label(data) -> str:
    text = str(data)
    return redact_url(text) if "://" in text else str(Path(text).resolve())


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
