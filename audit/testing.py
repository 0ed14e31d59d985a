"""Checks every detector must pass, in the spirit of scikit-learn's ``check_estimator``.

Plug-in authors call :func:`check_detector` on their own classes; the test suite calls it on every
registered detector. Data for the checks goes through the real loading and validation path.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Mapping

import pandas as pd

from audit.data import AuditData
from audit.detector import Detector, DetectorInputError, check_class_attributes
from audit.engine import Engine
from audit.loading import LoadedData, SourceTable
from audit.policy import Policy
from audit.problems import FATAL
from audit.runner import finalise
from audit.scoring import exceptions_schema
from audit.validation import AuditTables, validate


class DetectorCheckError(AssertionError):
    pass


def tables_from_frames(frames: Mapping[str, pd.DataFrame], policy: Policy | None = None) -> AuditTables:
    """Validate in-memory frames exactly as files would be (fatal problems raise)."""
    loaded = LoadedData("memory")
    for name, frame in frames.items():
        digest = hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()
        loaded.tables[name] = SourceTable(name, frame, f"memory:{name}", digest)
    tables = validate(loaded, policy or Policy())
    fatal = [p.describe() for p in tables.problems if p.severity == FATAL]
    if fatal:
        raise DetectorCheckError("test data is not usable: " + "; ".join(fatal))
    return tables


def run_detector(cls: type[Detector], tables: AuditTables, policy: Policy | None = None,
                 engine: str = "duckdb") -> pd.DataFrame:
    """Run one detector and finalise its rows like a real run (ids, ranks, exception columns)."""
    policy = policy or Policy()
    data = AuditData(tables, policy, Engine(engine))
    try:
        found = cls.from_policy(policy).run(data)
    finally:
        data.engine.close()
    return finalise(found, "check", None, None, set())[0]


def _snapshot(tables: AuditTables) -> dict[str, pd.DataFrame]:
    return {name: frame.copy(deep=True) for name, frame in tables.frames.items()}


def _empty_like(tables: AuditTables) -> AuditTables:
    frames = {name: frame.iloc[0:0].copy() for name, frame in tables.frames.items()}
    return AuditTables(frames, dict(tables.present_columns), [], {})


def _without_column(tables: AuditTables, table: str, column: str) -> AuditTables:
    present = dict(tables.present_columns)
    present[table] = frozenset(present[table] - {column})
    frames = dict(tables.frames)
    frames[table] = frames[table].drop(columns=[column])
    return AuditTables(frames, present, [], {})


def check_detector(cls: type[Detector], tables: AuditTables, policy: Policy | None = None,
                   engines: tuple[str, ...] = ("duckdb",)) -> pd.DataFrame:
    """Assert the detector contract on ``tables``; return its findings on the first engine."""
    policy = policy or Policy()
    problems = check_class_attributes(cls)
    if problems:
        raise DetectorCheckError("; ".join(problems))
    params = cls.from_policy(policy).get_params()
    if cls(**params).get_params() != params:
        raise DetectorCheckError(f"{cls.code}: get_params does not round-trip through __init__")
    for name in cls._param_names():
        if inspect.signature(cls.__init__).parameters[name].default is inspect.Parameter.empty:
            raise DetectorCheckError(f"{cls.code}: parameter {name} has no default")

    before = _snapshot(tables)
    first = run_detector(cls, tables, policy, engines[0])
    for name, frame in before.items():
        try:
            pd.testing.assert_frame_equal(tables.frames[name], frame)
        except AssertionError as exc:
            raise DetectorCheckError(f"{cls.code} modified its input table {name}: {exc}") from None
    exceptions_schema().validate(first)
    if (first["pattern"] != cls.pattern).any() or (first["entity_type"] != cls.entity_type).any():
        raise DetectorCheckError(f"{cls.code}: findings carry another pattern or entity type")

    again = run_detector(cls, tables, policy, engines[0])
    pd.testing.assert_frame_equal(first, again, obj=f"{cls.code} on a second run")

    for engine in engines[1:]:
        other = run_detector(cls, tables, policy, engine)
        pd.testing.assert_frame_equal(first, other, obj=f"{cls.code} on {engine} vs {engines[0]}")

    empty = run_detector(cls, _empty_like(tables), policy, engines[0])
    exceptions_schema().validate(empty)
    if len(empty):
        raise DetectorCheckError(f"{cls.code} found something in empty tables")

    for table, columns in cls.requires.items():
        column = columns[-1]
        if table not in tables.frames or column not in tables.frames[table].columns:
            continue
        try:
            run_detector(cls, _without_column(tables, table, column), policy, engines[0])
        except DetectorInputError as exc:
            if f"{table}.{column}" not in str(exc):
                raise DetectorCheckError(f"{cls.code}: the missing-column error does not name "
                                         f"{table}.{column}: {exc}") from None
        else:
            raise DetectorCheckError(f"{cls.code} ran without its required column {table}.{column}")
    return first
