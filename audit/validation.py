"""Check the loaded tables against the data contract and turn them into typed frames.

Three steps, every problem collected before anything stops:

1. **Parse** each contract column to its type (Persian/Arabic-Indic digits normalised, Jalali dates
   converted when the policy says so). A value that does not parse sets its row aside when the column
   is required, and is blanked with a warning when it is optional.
2. **Check** each table with its pandera schema: required values present, non-negative amounts,
   known vocabulary, unique keys.
3. **Resolve references** between tables, parents first, so a row whose parent was set aside is set
   aside too (and says why).

A missing required table or column, or a required column where most values do not parse, is fatal.
"""

from __future__ import annotations

import graphlib
import re
from dataclasses import dataclass, field

import jdatetime
import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow.compute as pc

from audit.contract import BOOL, DATE, FLOAT, INT, STR, TABLES, TIMESTAMP, Table
from audit.loading import LoadedData, SourceTable
from audit.membership import arrow_text, isin
from audit.policy import Policy
from audit.problems import FATAL, ROW, WARNING, InputError, Problem

# Persian (U+06F0..) and Arabic-Indic (U+0660..) digits, Arabic decimal and thousands separators.
_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩٫٬", "01234567890123456789.,")
_NON_ASCII_DIGIT = re.compile("[۰-۹٠-٩٫٬]")
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}
# Jalali years of a ledger are about 1300-1410 and Gregorian ones 1900-2100: a Jalali date read as
# Gregorian lands before EARLIEST_YEAR, a Gregorian one read as Jalali at or after LATEST_JALALI_YEAR.
EARLIEST_YEAR = 1600
LATEST_JALALI_YEAR = 1700
_JALALI_LOOKING = re.compile(r"^\s*1[2-4]\d\d[/-]\d{1,2}[/-]\d{1,2}")
# Above this share of unparseable values a required column is unusable rather than a few bad rows.
UNUSABLE_SHARE = 0.5
TYPE_WORDS = {
    INT: "a whole number", FLOAT: "a number", DATE: "a date (YYYY-MM-DD)",
    TIMESTAMP: "a date and time (YYYY-MM-DD HH:MM:SS)", BOOL: "true or false", STR: "text",
}


@dataclass
class AuditTables:
    """Typed, checked tables ready for the detectors, with what was set aside and why."""

    frames: dict[str, pd.DataFrame]
    present_columns: dict[str, frozenset[str]]
    problems: list[Problem] = field(default_factory=list)
    sources: dict[str, SourceTable] = field(default_factory=dict)

    @property
    def fatal(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == FATAL]

    def has(self, table: str, columns=()) -> bool:
        present = self.present_columns.get(table)
        return present is not None and all(c in present for c in columns)


# ---------------------------------------------------------------- parsing

def _maybe_non_ascii(text: pd.Series) -> bool:
    """False when every value is plain ASCII (then no Persian or Arabic digit can be there): Arrow checks
    that in one pass, far faster than the digit pattern over a million values."""
    column = arrow_text(text)
    return column is None or pc.all(pc.string_is_ascii(column)).as_py() is False


def _as_text(values: pd.Series) -> pd.Series:
    text = values.astype("str").str.strip()
    text = text.mask(text == "")
    if _maybe_non_ascii(text) and text.str.contains(_NON_ASCII_DIGIT, na=False).any():
        text = text.str.translate(_DIGITS)
    return text


def _parse_text(values: pd.Series) -> pd.Series:
    # An id column with blanks comes out of a database or Parquet file as float: 7.0 must read "7", as in
    # the tables that refer to it.
    if pd.api.types.is_float_dtype(values):
        given = values.dropna()
        if len(given) and (np.isfinite(given) & (given.abs() < 2**53) & (given == np.floor(given))).all():
            values = values.astype("Int64")
    return _as_text(values)


def _map_unique(text: pd.Series, parse_one) -> pd.Series:
    # Dates and codes repeat a lot: parse each distinct value once.
    uniques = text.dropna().unique()
    mapping = {value: parse_one(value) for value in uniques}
    return text.map(mapping)


def _parse_number(values: pd.Series, integer: bool) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        parsed = pd.to_numeric(values, errors="coerce")
    else:
        text = _as_text(values)
        text = text.where(~text.str.match(_THOUSANDS, na=False), text.str.replace(",", "", regex=False))
        parsed = pd.to_numeric(text, errors="coerce")
    if integer:
        whole = parsed.notna() & (parsed == np.floor(parsed))
        parsed = parsed.where(whole)
        return parsed.astype("Int64")
    return parsed.astype("float64")


def _jalali_to_gregorian(value: str):
    date_part, _, time_part = value.replace("T", " ").partition(" ")
    year, month, day = (int(p) for p in re.split("[/-]", date_part))
    if year >= LATEST_JALALI_YEAR:
        raise ValueError(f"{value} is not a Jalali date")
    gregorian = jdatetime.date(year, month, day).togregorian()
    return pd.Timestamp(f"{gregorian.isoformat()} {time_part}".strip())


def _parse_when(values: pd.Series, calendar: str, with_time: bool) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values.dt.tz_localize(None) if getattr(values.dt, "tz", None) is not None else values
    elif calendar == "jalali":
        def parse_one(value):
            try:
                return _jalali_to_gregorian(value)
            except (ValueError, TypeError):
                return pd.NaT
        parsed = pd.to_datetime(_map_unique(_as_text(values), parse_one))
    else:
        def parse_one(value):
            try:
                stamp = pd.Timestamp(value)
            except (ValueError, TypeError):
                return pd.NaT
            return stamp.tz_convert(None) if stamp.tzinfo is not None else stamp
        if values.dtype == object and values.map(lambda v: hasattr(v, "year"), na_action="ignore").any():
            parsed = pd.to_datetime(values, errors="coerce")
        else:
            parsed = pd.to_datetime(_map_unique(_as_text(values), parse_one))
    parsed = parsed.astype("datetime64[us]")
    parsed = parsed.where(parsed.dt.year >= EARLIEST_YEAR)  # e.g. 1403-01-15: a Jalali date, not year 1403
    return parsed if with_time else parsed.dt.normalize()


def _parse_bool(values: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(values):
        return values.astype("boolean")
    text = _as_text(values).str.lower()
    parsed = pd.Series(pd.NA, index=values.index, dtype="boolean")
    parsed[text.isin(_TRUE)] = True
    parsed[text.isin(_FALSE)] = False
    return parsed


def parse_column(values: pd.Series, kind: str, calendar: str = "gregorian") -> pd.Series:
    """Parse one column to its contract type; values that do not parse become missing."""
    if kind in (INT, FLOAT):
        return _parse_number(values, integer=kind == INT)
    if kind in (DATE, TIMESTAMP):
        return _parse_when(values, calendar, with_time=kind == TIMESTAMP)
    if kind == BOOL:
        return _parse_bool(values)
    return _parse_text(values)


# ---------------------------------------------------------------- helpers

class _TableCheck:
    """Collects one table's problems and the rows to set aside."""

    def __init__(self, spec: Table, source: SourceTable, frame: pd.DataFrame):
        self.spec = spec
        self.source = source
        self.frame = frame
        self.problems: list[Problem] = []
        self.excluded = pd.Series(False, index=frame.index)
        self.reported: set[tuple] = set()  # (row index, column) already given a problem

    def source_row(self, index) -> int | None:
        if self.source.row_numbers is not None:
            return self.source.row_numbers[int(index)]
        if self.source.first_row is None:
            return None
        return int(index) + self.source.first_row

    def record_id(self, index) -> str | None:
        key = [c for c in self.spec.key if c in self.frame.columns] or self.spec.column_names[:1]
        parts = [self.frame.at[index, c] for c in key if c in self.frame.columns]
        parts = ["" if pd.isna(p) else str(p) for p in parts]
        return "/".join(parts) if any(parts) else None

    def add(self, severity, index, column, value, problem, fix):
        if severity == ROW:
            self.excluded.at[index] = True
        self.reported.add((index, column))
        shown = None if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)
        self.problems.append(Problem(severity, self.spec.name, problem, fix, column, self.source_row(index),
                                     self.record_id(index), shown))


def _normalise_headers(frame: pd.DataFrame) -> pd.DataFrame:
    renamed = {c: str(c).strip().lstrip("\ufeff").lower() for c in frame.columns}
    return frame.rename(columns=renamed)


def _parse_table(spec: Table, source: SourceTable, policy: Policy, problems: list[Problem]):
    raw = _normalise_headers(source.frame).reset_index(drop=True)
    missing = [c for c in spec.required_columns if c not in raw.columns]
    for column in missing:
        problems.append(Problem(FATAL, spec.name, f"required column {column} is missing",
                                f"add a {column} column to {spec.name} ({TYPE_WORDS[spec.column(column).type]})",
                                column))
    if missing:
        return None
    frame = raw.copy(deep=False)  # every contract column is replaced by its parsed copy
    check = _TableCheck(spec, source, raw)
    for column in spec.columns:
        if column.name not in raw.columns:
            continue
        original = raw[column.name]
        parsed = parse_column(original, column.type, policy.calendar)
        frame[column.name] = parsed
        if column.type == STR:
            continue
        given = original.notna()
        if pd.api.types.is_object_dtype(original.dtype) or isinstance(original.dtype, pd.StringDtype):
            # blank text is not a value; typed columns (Parquet, databases) have no blanks to strip
            given &= original.astype("str").str.strip() != ""
        failed = given & parsed.isna()
        if not failed.any():
            continue
        calendar_hint = " in the Jalali calendar (YYYY/MM/DD)" if policy.calendar == "jalali" and column.type in (
            DATE, TIMESTAMP) else ""
        expected = TYPE_WORDS[column.type] + calendar_hint
        if policy.calendar != "jalali" and column.type in (DATE, TIMESTAMP) and original[failed].astype(
                "str").str.translate(_DIGITS).str.match(_JALALI_LOOKING).any():
            expected += '; Persian-calendar dates need calendar = "jalali" in policy.toml'
        if column.required and failed.sum() > UNUSABLE_SHARE * max(given.sum(), 1) and given.sum() > 2:
            sample = original[failed].astype("str").head(3).tolist()
            problems.append(Problem(FATAL, spec.name, f"column {column.name} is unusable: {int(failed.sum())} of "
                                    f"{int(given.sum())} values are not {expected} (e.g. {', '.join(sample)})",
                                    f"write {column.name} as {expected}", column.name))
            continue
        severity = ROW if column.required else WARNING
        for index in failed[failed].index:
            check.add(severity, index, column.name, original.at[index], f"not {expected}",
                      f"correct the value to {expected}" if column.required
                      else f"correct the value to {expected}; it was left blank for this run")
    return frame, check


def _schema(spec: Table) -> pa.DataFrameSchema:
    columns = {}
    for column in spec.columns:
        checks = []
        if column.non_negative:
            checks.append(pa.Check.ge(0, name="non_negative"))
        if column.allowed and not column.extendable:
            checks.append(pa.Check.isin(list(column.allowed), name="vocabulary"))
        columns[column.name] = pa.Column(nullable=not column.required, checks=checks, required=False,
                                         title=column.name)
    key = list(spec.key) if spec.key else None
    return pa.DataFrameSchema(columns, unique=key, report_duplicates="exclude_first", name=spec.name)


def _check_schema(spec: Table, frame: pd.DataFrame, check: _TableCheck) -> None:
    try:
        _schema(spec).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        for case in cases.itertuples(index=False):
            if pd.isna(case.index):
                continue
            index = int(case.index)
            if case.check == "not_nullable":
                if (index, case.column) in check.reported:
                    continue  # already reported as unparseable
                check.add(ROW, index, case.column, None, "required value is blank",
                          f"fill {case.column} for this row")
            elif "uniqueness" in str(case.check) or "unique" in str(case.check):
                key = ", ".join(spec.key)
                if (index, key) in check.reported:
                    continue  # a key of several columns fails once per column
                check.add(ROW, index, key, check.record_id(index), f"duplicate {key}: this id appears earlier",
                          "give each record its own id, or remove the repeated row")
            elif str(case.check).startswith("greater_than_or_equal_to"):
                check.add(ROW, index, case.column, case.failure_case, "must not be negative",
                          "record returns and corrections as credit notes, not negative values")
            elif str(case.check).startswith("isin"):
                allowed = spec.column(case.column).allowed
                check.add(ROW, index, case.column, case.failure_case,
                          f"unknown value; expected one of {', '.join(allowed)}", "use the contract's vocabulary")
    for column in spec.columns:
        if column.allowed and column.extendable and column.name in frame.columns:
            unknown = frame[column.name].notna() & ~frame[column.name].isin(column.allowed)
            for value in sorted(frame.loc[unknown, column.name].unique()):
                count = int((frame[column.name] == value).sum())
                check.problems.append(Problem(
                    WARNING, spec.name, f"value outside the standard vocabulary ({count} rows)",
                    "fine if intended: the vocabulary is extendable", column.name, value=str(value),
                    action="kept"))


def _reference_order() -> list[str]:
    graph = graphlib.TopologicalSorter()
    for spec in TABLES.values():
        parents = {c.references[0] for c in spec.columns if c.references and c.references[0] != spec.name}
        graph.add(spec.name, *parents)
    return list(graph.static_order())


def _check_references(spec: Table, frame: pd.DataFrame, check: _TableCheck, clean: dict[str, pd.DataFrame],
                      excluded_keys: dict[str, set], present: set[str], problems: list[Problem]) -> None:
    for column in spec.columns:
        if not column.references or column.name not in frame.columns:
            continue
        parent, parent_column = column.references
        values = frame[column.name]
        if parent not in present:
            if values.notna().any():
                problems.append(Problem(WARNING, spec.name, f"references to {parent} cannot be checked: "
                                        f"table {parent} is absent", f"provide {parent} to check them",
                                        column.name, action="kept"))
            continue
        # The parent's column itself, not a Python set of it: millions of ids are tested in Arrow.
        if parent == spec.name:
            known = frame.loc[~check.excluded, parent_column].dropna()
        else:
            known = clean[parent][parent_column].dropna()
        dangling = values.notna() & ~isin(values, known) & ~check.excluded
        for index in dangling[dangling].index:
            value = values.at[index]
            if value in excluded_keys.get(parent, set()):
                reason = f"refers to {parent} {value}, which was set aside (its own problem is listed under {parent})"
            else:
                reason = f"refers to {parent} {value}, which does not exist"
            check.add(ROW, index, column.name, value, reason,
                      f"add {parent} {value} or correct {column.name}")


def _empty_table(spec: Table, source: SourceTable, problems: list[Problem]) -> bool:
    """Report a table without rows; True when it should still be checked (it has its header)."""
    where = source.origin.replace("\\", "/").rsplit("/", 1)[-1] if source.first_row is not None \
        else source.origin
    has_header = len(source.frame.columns) > 0
    what = f"{where} has a header but no data rows" if has_header else f"{where} is empty"
    if spec.required:
        problems.append(Problem(FATAL, spec.name, what, f"export {spec.name} again with its rows: the audit "
                                f"needs it (columns {', '.join(spec.required_columns)})"))
        return False
    problems.append(Problem(WARNING, spec.name, what, "fine if there are none; otherwise export it again "
                            "with its rows", action="kept" if has_header else "table ignored"))
    return has_header


def validate(loaded: LoadedData, policy: Policy) -> AuditTables:
    """Parse and check every loaded table; never raises for bad data (see ``AuditTables.fatal``)."""
    problems: list[Problem] = list(loaded.problems)
    for spec in TABLES.values():
        if spec.required and spec.name not in loaded.tables and not any(
                p.table == spec.name and p.severity == FATAL for p in problems):
            problems.append(Problem(FATAL, spec.name, f"required table {spec.name} is missing",
                                    f"provide {spec.name} with columns {', '.join(spec.required_columns)}"))
    parsed: dict[str, tuple[pd.DataFrame, _TableCheck]] = {}
    for name, source in loaded.tables.items():
        if len(source.frame) == 0 and not _empty_table(TABLES[name], source, problems):
            continue
        result = _parse_table(TABLES[name], source, policy, problems)
        if result is not None:
            parsed[name] = result
    clean: dict[str, pd.DataFrame] = {}
    excluded_keys: dict[str, set] = {}
    present = set(parsed)
    for name in _reference_order():
        if name not in parsed:
            continue
        spec = TABLES[name]
        frame, check = parsed[name]
        _check_schema(spec, frame, check)
        _check_references(spec, frame, check, clean, excluded_keys, present, problems)
        problems.extend(check.problems)
        if spec.key and len(spec.key) == 1:
            # Only a key whose every row was set aside counts as gone (a duplicate keeps its first row).
            gone = frame.loc[check.excluded, spec.key[0]]
            excluded_keys[name] = set(gone[~isin(gone, frame.loc[~check.excluded, spec.key[0]])])
        kept_frame = frame.loc[~check.excluded].reset_index(drop=True)
        for column in spec.columns:  # absent optional columns exist, empty, so detectors can rely on names
            if column.name not in kept_frame.columns:
                kept_frame[column.name] = parse_column(pd.Series([None] * len(kept_frame), dtype="str"),
                                                       column.type)
        clean[name] = kept_frame
    present_columns = {name: frozenset(_normalise_headers(loaded.tables[name].frame).columns) for name in parsed}
    # The raw frames are not needed once checked (problems carry their source rows): free them.
    sources = {name: source.without_frame() for name, source in loaded.tables.items()}
    return AuditTables(clean, present_columns, problems, sources)


def load_and_validate(source, policy: Policy, strict: bool = False) -> AuditTables:
    """Load and validate; raise :class:`InputError` when the data cannot be audited."""
    from audit.loading import load

    tables = validate(load(source), policy)
    if tables.fatal or (strict and any(p.severity == ROW for p in tables.problems)):
        raise InputError(tables.problems)
    return tables
