"""Checks every component must pass, in the spirit of scikit-learn's ``check_estimator``.

Plug-in authors call :func:`check_detector` on their own classes with their YAML cases; the test suite
calls it on every registered detector with ``tests/detector_cases/<code>.yaml``, and
:func:`check_analysis` on every analysis. The checks run where the component finds something (its own
flagged case), so a broken detector that finds nothing fails them: comparing two empty outputs proves
nothing. Data goes through the real loading and validation path.

A case file holds ``detector: <code>`` and ``cases``: each with a ``name``, ``tables`` (rows that
replace the base tables of the same name, from ``_base.yaml`` beside the file), an optional ``policy``
(a partial policy), and ``flagged`` / ``not_flagged`` entity ids (and optionally
``expect_risk_amount``: entity id -> money at risk).
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml
from sklearn.base import clone

from audit.analysis import Analysis
from audit.data import AuditData
from audit.detector import Detector, DetectorInputError, check_class_attributes
from audit.engine import Engine
from audit.loading import LoadedData, SourceTable
from audit.policy import Policy, policy_from_dict
from audit.problems import FATAL
from audit.ranking import exceptions_schema
from audit.runner import finalise, run_detectors
from audit.validation import AuditTables, validate


class DetectorCheckError(AssertionError):
    pass


@dataclass
class Case:
    """One YAML case: tables to audit, the policy, and which entities must and must not be flagged."""

    name: str
    tables: dict[str, list[dict]]
    policy: dict = field(default_factory=dict)
    flagged: list[str] = field(default_factory=list)
    not_flagged: list[str] = field(default_factory=list)
    expect_risk_amount: dict[str, float] = field(default_factory=dict)

    def frames(self) -> dict[str, pd.DataFrame]:
        # written as text, as a CSV export would be: validation parses them like real files
        return {name: pd.DataFrame(rows).astype(str).replace("None", "") for name, rows in self.tables.items()}

    def audit_policy(self) -> Policy:
        return policy_from_dict(self.policy)

    def audit_tables(self) -> AuditTables:
        return tables_from_frames(self.frames(), self.audit_policy())


def load_cases(path: str | Path) -> tuple[str, list[Case]]:
    """The detector code and the cases of one YAML file (base tables from ``_base.yaml`` beside it)."""
    path = Path(path)
    base_file = path.parent / "_base.yaml"
    base = yaml.safe_load(base_file.read_text()) if base_file.is_file() else {}
    spec = yaml.safe_load(path.read_text())
    cases = [Case(name=c["name"], tables={**base, **c.get("tables", {})}, policy=c.get("policy", {}),
                  flagged=[str(e) for e in c.get("flagged", [])],
                  not_flagged=[str(e) for e in c.get("not_flagged", [])],
                  expect_risk_amount={str(k): v for k, v in c.get("expect_risk_amount", {}).items()})
             for c in spec["cases"]]
    return spec["detector"], cases


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
    """Run one detector as a run would (after the analyses and detectors it reads, through the runner)
    and finalise its rows like a real run (ids, ranks, exception columns). Raises
    :class:`DetectorInputError` when the data lacks what it needs, and whatever the detector raised."""
    policy = policy or Policy()
    data = AuditData(tables, policy, Engine(engine))
    try:
        found, statuses = run_detectors(data, [cls.code], extra=(cls,), raise_errors=True)
    finally:
        data.engine.close()
    own = statuses.set_index("detector").loc[cls.code]
    if own["status"] == "not run":
        raise DetectorInputError(f"{cls.code} ({cls.pattern}) {own['reason']}")
    if len(found):
        found = found[found["detector"] == cls.code]
    return finalise(found, "check", None, None, set())[0]


def run_analysis(cls: type[Analysis], tables: AuditTables, policy: Policy | None = None,
                 engine: str = "duckdb") -> dict:
    """Run one analysis after what it reads (through the runner); return its named outputs."""
    policy = policy or Policy()
    data = AuditData(tables, policy, Engine(engine))
    try:
        _, statuses = run_detectors(data, [cls.code], extra=(cls,), raise_errors=True)
        own = statuses.set_index("detector").loc[cls.code]
        if own["status"] != "ran":
            raise DetectorInputError(f"{cls.code} {own['status']}: {own['reason']}")
        return data.outputs_by_component[cls.code]
    finally:
        data.engine.close()


def _snapshot(tables: AuditTables) -> dict[str, pd.DataFrame]:
    return {name: frame.copy(deep=True) for name, frame in tables.frames.items()}


def _assert_untouched(code: str, tables: AuditTables, before: dict[str, pd.DataFrame]) -> None:
    for name, frame in before.items():
        try:
            pd.testing.assert_frame_equal(tables.frames[name], frame)
        except AssertionError as exc:
            raise DetectorCheckError(f"{code} modified its input table {name}: {exc}") from None


def _empty_like(tables: AuditTables) -> AuditTables:
    frames = {name: frame.iloc[0:0].copy() for name, frame in tables.frames.items()}
    return AuditTables(frames, dict(tables.present_columns), [], {})


def _without_column(tables: AuditTables, table: str, column: str) -> AuditTables:
    present = dict(tables.present_columns)
    present[table] = frozenset(present[table] - {column})
    frames = dict(tables.frames)
    frames[table] = frames[table].drop(columns=[column])
    return AuditTables(frames, present, [], {})


def _check_parameters(cls: type) -> None:
    policy = Policy()
    instance = cls.from_policy(policy)
    params = instance.get_params()
    if cls(**params).get_params() != params:
        raise DetectorCheckError(f"{cls.code}: get_params does not round-trip through __init__")
    if clone(instance).get_params() != params:
        raise DetectorCheckError(f"{cls.code}: sklearn.base.clone does not keep the parameters")
    defaults = cls().get_params()
    differ = {k: (defaults.get(k), v) for k, v in cls.params_from_policy(policy).items() if defaults.get(k) != v}
    if differ:
        raise DetectorCheckError(f"{cls.code}: the defaults of the parameters the policy sets are not the policy's "
                                 f"defaults (take them from audit.policy.DEFAULTS): {differ}")
    for name in cls._get_param_names():
        if inspect.signature(cls.__init__).parameters[name].default is inspect.Parameter.empty:
            raise DetectorCheckError(f"{cls.code}: parameter {name} has no default")


def check_detector(cls: type[Detector], cases: Sequence[Case],
                   engines: tuple[str, ...] = ("duckdb",)) -> pd.DataFrame:
    """Assert the detector contract on its own cases; return its findings on the first flagged case.

    On the first flagged case it must find the listed entities, leave its inputs untouched, give output
    of the exceptions schema, give the same findings twice and on every engine; on empty tables it finds
    nothing; without a required column it is not run, naming the column; on every not-flagged case it
    spares the listed entities.
    """
    problems = check_class_attributes(cls)
    if problems:
        raise DetectorCheckError("; ".join(problems))
    _check_parameters(cls)
    flagged = [c for c in cases if c.flagged]
    spared = [c for c in cases if c.not_flagged]
    if not flagged or not spared:
        raise DetectorCheckError(f"{cls.code} needs at least one flagged and one not-flagged case")

    case = flagged[0]
    policy, tables = case.audit_policy(), case.audit_tables()
    before = _snapshot(tables)
    first = run_detector(cls, tables, policy, engines[0])
    _assert_untouched(cls.code, tables, before)
    exceptions_schema().validate(first)
    missed = set(case.flagged) - set(first["entity_id"])
    if first.empty or missed:
        raise DetectorCheckError(f"{cls.code} found {len(first)} finding(s) on its flagged case "
                                 f"{case.name!r}; missed {sorted(missed)}")
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

    for case in spared:
        found = run_detector(cls, case.audit_tables(), case.audit_policy(), engines[0])
        wrong = set(case.not_flagged) & set(found["entity_id"])
        if wrong:
            raise DetectorCheckError(f"{cls.code} flagged {sorted(wrong)} in its not-flagged case {case.name!r}")
    return first


def _same_output(code: str, first: dict, other: dict, what: str) -> None:
    if set(first) != set(other):
        raise DetectorCheckError(f"{code} gave outputs {sorted(first)} then {sorted(other)} ({what})")
    for name, value in first.items():
        if isinstance(value, pd.DataFrame):
            pd.testing.assert_frame_equal(_common_time_unit(value), _common_time_unit(other[name]),
                                          obj=f"{code} {name} ({what})")


def _common_time_unit(frame: pd.DataFrame) -> pd.DataFrame:
    # Spark hands dates back in nanoseconds, DuckDB in microseconds: the values must agree, not the unit.
    dates = [c for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])
             and not isinstance(frame[c].dtype, pd.DatetimeTZDtype)]
    return frame.astype(dict.fromkeys(dates, "datetime64[ns]")) if dates else frame


def check_analysis(cls: type[Analysis], tables: AuditTables, policy: Policy | None = None,
                   engines: tuple[str, ...] = ("duckdb",)) -> dict:
    """Assert the analysis contract on ``tables``: it produces exactly its declared ``outputs``, at least
    one table with rows (so the checks compare something), text column names without duplicates, the
    same output twice and on every engine, its inputs untouched; it is not run without a required column."""
    _check_parameters(cls)
    if not getattr(cls, "outputs", ()):
        raise DetectorCheckError(f"{cls.code} declares no outputs")
    policy = policy or Policy()
    before = _snapshot(tables)
    first = run_analysis(cls, tables, policy, engines[0])
    _assert_untouched(cls.code, tables, before)
    if set(first) != set(cls.outputs):
        raise DetectorCheckError(f"{cls.code} produced {sorted(first)}, declares {sorted(cls.outputs)}")
    frames = {n: v for n, v in first.items() if isinstance(v, pd.DataFrame)}
    for name, frame in frames.items():
        if frame.columns.duplicated().any() or not all(isinstance(c, str) for c in frame.columns):
            raise DetectorCheckError(f"{cls.code} table {name} has duplicate or non-text column names")
    if frames and not any(len(f) for f in frames.values()):
        raise DetectorCheckError(f"{cls.code} produced only empty tables: check it on data where it finds rows")
    _same_output(cls.code, first, run_analysis(cls, tables, policy, engines[0]), "second run")
    for engine in engines[1:]:
        _same_output(cls.code, first, run_analysis(cls, tables, policy, engine), f"{engine} vs {engines[0]}")
    for table, columns in cls.requires.items():
        column = columns[-1]
        if table in tables.frames and column in tables.frames[table].columns:
            try:
                run_analysis(cls, _without_column(tables, table, column), policy, engines[0])
            except DetectorInputError:
                continue
            raise DetectorCheckError(f"{cls.code} ran without its required column {table}.{column}")
    return first
