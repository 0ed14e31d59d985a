"""The contract checks as DuckDB queries, for a Parquet or CSV table that holds no problem.

Most tables of a real export conform: every value already has its type, nothing is blank where it is
required, every id is known. For such a table the row-by-row check in pandas (:mod:`audit.validation`)
finds nothing, yet it reads the whole table into Python and writes it out again. Here DuckDB reads the file
itself and asks, in a few scans, every question the pandas check would: would a value fail to parse, or
parse to something other than itself (blank, padded, Persian digits)? Is a required value missing, an amount
negative, a code outside the vocabulary, a key repeated, an id unknown to its parent table, a date outside
the plausible window? When every answer is no, DuckDB writes the typed table to the stage with the column
types pandas would have written; the table never enters Python.

When any answer is yes, or the file has something this module does not read the same way as pandas (a
number with a thousands separator, a time zone, nanoseconds, Jalali dates as text, a column name written
in another case), it says so by returning None, and the table goes through the pandas check, which names
every row, column and fix. So the problems a run reports, and the tables it audits, do not depend on which
path a table took (``tests/test_engine_checks.py`` validates ledgers both ways, with every kind of defect
and value, and compares them).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from audit.contract import BOOL, DATE, FLOAT, INT, STR, TIMESTAMP, Table
from audit.loading import csv_header
from audit.problems import WARNING, Problem
from audit.validation import (
    EARLIEST_YEAR,
    FALSE_WORDS,
    TRUE_WORDS,
    empty_column,
    header_key,
    references_not_checked,
)

# A value with whitespace at either end, or no character at all, is not the text it parses to (pandas
# strips what Python's str.strip strips); a Persian or Arabic-Indic digit is translated.
_SPACES = "".join(chr(code) for code in range(0x3001) if chr(code).isspace())
_SPACE_CLASS = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in _SPACES) + "]"
_FOREIGN_DIGITS = "[\\x{6f0}-\\x{6f9}\\x{660}-\\x{669}\\x{66b}\\x{66c}]"
_NOT_ITSELF = f"^{_SPACE_CLASS}|{_SPACE_CLASS}$|{_FOREIGN_DIGITS}"
# The table being checked, read once from its file into DuckDB (its own, compressed, spilling storage).
_ROWS = "rows_checked"
# Numbers and dates written as text: only the plainest forms, which DuckDB and pandas read to the same
# value (both round a decimal to the nearest double, tests/test_engine_checks.py); any other form (a
# thousands separator, a plus sign, a decimal comma) goes to pandas.
_PLAIN_NUMBER = r"^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$"
_PLAIN_WHEN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?)?$"
_TRUE = ", ".join(f"'{word}'" for word in sorted(TRUE_WORDS))  # as the pandas check reads true/false
_FALSE = ", ".join(f"'{word}'" for word in sorted(FALSE_WORDS))
WHOLE_LIMIT = 2**53  # beyond it a whole number does not survive float64, as the pandas check reads it


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


@dataclass
class Conformed:
    """A table checked in the engine and written to the stage: what validation keeps of it."""

    rows: int
    columns: list[str]  # the file's columns (the header as resolved: all contract names written as such)
    staged_columns: list[str]  # those and the absent optional contract columns, empty
    problems: list[Problem] = field(default_factory=list)  # warnings only; a problem row sends it to pandas
    reference_problems: list[Problem] = field(default_factory=list)
    source: object = None  # the SourceTable validation keeps in its place (origin, digest, rows)


def _is_text(arrow_type: pa.DataType) -> bool:
    return pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)


def _typed_expression(kind: str, arrow_type: pa.DataType, column: str, calendar: str) -> str | None:
    """The SQL that gives the value the pandas check would, or None where it could read differently. Text
    (a CSV file, or a Parquet text column) is read with TRY_CAST: a value that does not parse is NULL, which
    :meth:`EngineChecks._failures` counts."""
    name = _quoted(column)
    if kind == STR:
        if _is_text(arrow_type):
            return name
        if pa.types.is_integer(arrow_type):
            return f"CAST({name} AS VARCHAR)"
        return None
    if _is_text(arrow_type):
        when = f"TRY_CAST(replace({name}, 'T', ' ') AS TIMESTAMP)"
        if kind in (DATE, TIMESTAMP) and calendar != "gregorian":
            return None  # Jalali dates are converted by the pandas check
        return {INT: f"TRY_CAST(TRY_CAST({name} AS DOUBLE) AS BIGINT)", FLOAT: f"TRY_CAST({name} AS DOUBLE)",
                DATE: f"date_trunc('day', {when})", TIMESTAMP: when,
                BOOL: f"CASE WHEN lower({name}) IN ({_TRUE}) THEN true WHEN lower({name}) IN ({_FALSE}) THEN false END",
                }.get(kind)
    if kind in (INT, FLOAT):
        if pa.types.is_integer(arrow_type):
            return f"CAST({name} AS {'BIGINT' if kind == INT else 'DOUBLE'})"
        if kind == FLOAT and pa.types.is_float64(arrow_type):
            return name
        return None
    if kind in (DATE, TIMESTAMP):
        if pa.types.is_date32(arrow_type):
            return f"CAST({name} AS TIMESTAMP)"
        if pa.types.is_timestamp(arrow_type) and arrow_type.tz is None and arrow_type.unit in ("s", "ms", "us"):
            return f"CAST({name} AS TIMESTAMP)" if kind == TIMESTAMP else f"date_trunc('day', CAST({name} AS TIMESTAMP))"
        return None
    if kind == BOOL:
        return name if pa.types.is_boolean(arrow_type) else None
    return None


_SQL_TYPES = {STR: "VARCHAR", INT: "BIGINT", FLOAT: "DOUBLE", DATE: "TIMESTAMP", TIMESTAMP: "TIMESTAMP", BOOL: "BOOLEAN"}
# pandas reads a date as datetime64[ms] and keeps a timestamp's unit; DuckDB's types of those units
_TIME_UNITS = {"s": "TIMESTAMP_S", "ms": "TIMESTAMP_MS", "us": "TIMESTAMP"}


def _passed_through_as(arrow_type: pa.DataType, name: str) -> str:
    if pa.types.is_date32(arrow_type):
        return f"CAST({_quoted(name)} AS TIMESTAMP_MS)"
    if pa.types.is_timestamp(arrow_type):
        return f"CAST({_quoted(name)} AS {_TIME_UNITS[arrow_type.unit]})"
    return _quoted(name)


def _passed_through(arrow_type: pa.DataType) -> bool:
    """A column the contract does not name, kept as read: only types pandas and DuckDB read alike."""
    return (pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or pa.types.is_boolean(arrow_type)
            or pa.types.is_float64(arrow_type) or pa.types.is_integer(arrow_type) or pa.types.is_date32(arrow_type)
            or (pa.types.is_timestamp(arrow_type) and arrow_type.tz is None and arrow_type.unit in ("s", "ms", "us")))


class EngineChecks:
    """One DuckDB connection that checks the run's Parquet tables and writes the conforming ones to the stage.

    ``window`` is the plausible dates (:meth:`audit.policy.DataPolicy.date_window`), ``history_dates`` the
    (table, column) pairs allowed back to ``history_earliest``, ``max_abs_number`` the policy's bound,
    ``memory_limit`` DuckDB's (as the run's engine), ``spill_directory`` where it spills beyond it and
    ``calendar`` the policy's (dates written as text in another calendar than the Gregorian go to pandas)."""

    def __init__(self, window: tuple[dt.date, dt.date], max_abs_number: float, history_dates, history_earliest: dt.date,
                 memory_limit: str, spill_directory: Path, calendar: str = "gregorian"):
        import duckdb

        self.window, self.max_abs_number, self.calendar = window, max_abs_number, calendar
        self.history_dates, self.history_earliest = set(history_dates), history_earliest
        # the run's engine limit; a large table beyond it spills into the stage folder (removed with it)
        self.con = duckdb.connect(config={"preserve_insertion_order": True, "memory_limit": memory_limit,
                                          "temp_directory": str(spill_directory)})

    def close(self) -> None:
        self.con.close()

    def _value(self, sql: str):
        rows = self.con.sql(sql).fetchall()
        return rows[0][0]

    # ------------------------------------------------------------------ the questions

    def _failures(self, spec: Table, typed: dict[str, str], arrow_types: dict[str, pa.DataType]) -> int:
        """Values that would be a problem (not parsed as themselves, blank where required, negative, outside
        the vocabulary or the window), counted in one scan."""
        earliest, latest = self.window
        tests = []
        for column in spec.columns:
            if column.name not in typed:
                continue
            raw, value = _quoted(column.name), typed[column.name]
            source = arrow_types[column.name]
            if column.type == STR and not pa.types.is_integer(source):
                # ASCII text first (a control character or space at either end), the pattern only for the rest
                tests.append(f"({raw} IS NOT NULL AND ({raw} = '' OR unicode({raw}) <= 32 OR unicode({raw}[-1]) <= 32 "
                             f"OR (strlen({raw}) <> length({raw}) AND regexp_matches({raw}, {_literal(_NOT_ITSELF)}))))")
            if column.type == STR and pa.types.is_integer(source):
                tests.append(f"(abs(CAST({raw} AS HUGEINT)) >= {WHOLE_LIMIT})")
            if column.type in (INT, FLOAT) and _is_text(source):
                number = f"TRY_CAST({raw} AS DOUBLE)"
                whole = f" OR {number} <> floor({number})" if column.type == INT else ""
                tests.append(f"({raw} IS NOT NULL AND (NOT regexp_matches({raw}, {_literal(_PLAIN_NUMBER)}) OR "
                             f"abs({number}) > {self.max_abs_number!r}{whole}))")
            elif column.type in (INT, FLOAT):
                bound = min(self.max_abs_number, WHOLE_LIMIT - 1) if column.type == INT or pa.types.is_integer(
                    source) else self.max_abs_number
                finite = "" if pa.types.is_integer(source) else f"NOT isfinite({raw}) OR "
                tests.append(f"({raw} IS NOT NULL AND ({finite}abs(CAST({raw} AS DOUBLE)) > {bound!r}))")
            if column.type in (DATE, TIMESTAMP, BOOL) and _is_text(source):
                plain = f"NOT regexp_matches({raw}, {_literal(_PLAIN_WHEN)}) OR " if column.type != BOOL else ""
                tests.append(f"({raw} IS NOT NULL AND ({plain}{value} IS NULL))")
            if column.type in (DATE, TIMESTAMP):
                low = min(earliest, self.history_earliest) if (spec.name, column.name) in self.history_dates else earliest
                low = max(low, dt.date(EARLIEST_YEAR, 1, 1))
                high = latest + dt.timedelta(days=1)
                # a typed file's own values against midnights: the same answer as the day or time they parse to
                kind = "DATE" if pa.types.is_date32(source) else "TIMESTAMP"
                when = value if _is_text(source) else raw
                tests.append(f"({when} < {kind} '{low.isoformat()}' OR {when} >= {kind} '{high.isoformat()}')")
            if column.required:
                tests.append(f"({raw} IS NULL)")
            if column.non_negative:
                tests.append(f"({value} < 0)")
            if column.allowed and not column.extendable:
                allowed = ", ".join(_literal(a) for a in column.allowed)
                tests.append(f"({value} IS NOT NULL AND {value} NOT IN ({allowed}))")
        if not tests:
            return 0
        sql = f"SELECT count(*) FILTER (WHERE {' OR '.join(tests)}) FROM {_ROWS}"
        return int(self._value(sql))

    def _repeated_keys(self, spec: Table, typed: dict[str, str]) -> int:
        if not spec.key or not all(c in typed for c in spec.key):
            return 0
        keys = ", ".join(typed[c] for c in spec.key)
        # GROUP BY counts blanks as one value, as pandas' duplicated does
        sql = (f"SELECT count(*) FROM (SELECT {keys} FROM {_ROWS} GROUP BY ALL "
               "HAVING count(*) > 1)")
        return int(self._value(sql))

    def _unknown_references(self, spec: Table, typed: dict[str, str], parents: dict[str, Path],
                            present: dict[str, frozenset], unread: set[str]) -> tuple[int, list[Problem]]:
        """Ids not found in their parent's checked table, and the warnings for parents that are absent."""
        unknown, warnings = 0, []
        source = _ROWS
        for column in spec.columns:
            if not column.references or column.name not in typed:
                continue
            parent, parent_column = column.references
            value = typed[column.name]
            if parent != spec.name and (parent not in present or parent_column not in present[parent]):
                given = self._value(f"SELECT count({value}) FROM {source}")
                if given:
                    warnings.append(references_not_checked(spec, column.name, present, unread))
                continue
            if parent == spec.name:
                known = f"(SELECT {typed[parent_column]} AS id FROM {source})"
            else:
                known = f"(SELECT {_quoted(parent_column)} AS id FROM read_parquet({_literal(str(parents[parent]))}))"
            sql = (f"SELECT count(*) FROM {source} AS child ANTI JOIN {known} AS parent "
                   f"ON {value.replace(_quoted(column.name), 'child.' + _quoted(column.name))} = parent.id "
                   f"WHERE child.{_quoted(column.name)} IS NOT NULL")
            unknown += int(self._value(sql))
        return unknown, warnings

    def _vocabulary_warnings(self, spec: Table, typed: dict[str, str]) -> list[Problem]:
        """The pandas check's warning per value outside an extendable vocabulary (kept, not a problem row)."""
        warnings = []
        for column in spec.columns:
            if not (column.allowed and column.extendable and column.name in typed):
                continue
            allowed = ", ".join(_literal(a) for a in column.allowed)
            value = typed[column.name]
            rows = self.con.sql(
                f"SELECT {value} AS v, count(*) FROM {_ROWS} "
                f"WHERE {value} IS NOT NULL AND {value} NOT IN ({allowed}) GROUP BY v").fetchall()
            for outside, count in sorted(rows):
                warnings.append(Problem(
                    WARNING, spec.name, f"value outside the standard vocabulary ({int(count)} rows)",
                    "fine if intended: the vocabulary is extendable", column.name, value=str(outside),
                    action="kept", kind="value outside the standard vocabulary"))
        return warnings

    # ------------------------------------------------------------------ the table

    def conform(self, spec: Table, path: Path, target: Path, parents: dict[str, Path],
                present: dict[str, frozenset], unread: set[str]) -> Conformed | None:
        """Check ``path`` (a Parquet or CSV file of ``spec``) and, when it holds no problem, write it typed to
        ``target``; None when it must go through the pandas check. ``parents`` are the staged files of the
        tables it refers to."""
        import duckdb

        csv = path.suffix.lower() == ".csv"
        # CSV as pandas reads it: every value text, commas, double quotes; a ragged line is an error here
        relation = (f"read_csv({_literal(str(path))}, header = true, all_varchar = true, delim = ',', quote = '\"', "
                    "escape = '\"', null_padding = false, strict_mode = true)" if csv
                    else f"read_parquet({_literal(str(path))})")
        try:
            if csv:
                names = [row[0] for row in self.con.sql(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
                if names != [str(name) for name in csv_header(path)]:
                    return None  # a repeated or unnamed column DuckDB renamed: the pandas check reports it
                arrow_types = {name: pa.string() for name in names}
                rows = None
            else:
                parquet = pq.ParquetFile(path)
                schema, rows = parquet.schema_arrow, parquet.metadata.num_rows
                names = list(schema.names)
                arrow_types = {n: schema.field(n).type for n in names}
        except (OSError, pa.ArrowException, duckdb.Error, StopIteration, UnicodeDecodeError):
            return None  # a file that cannot be read: the pandas check names the file and why
        if len(set(names)) != len(names) or any(header_key(n) != n or not n for n in names):
            return None  # header written in another case, padded or repeated: the pandas check reports it
        if rows == 0:
            return None
        contract = {c.name: c for c in spec.columns}
        if any(c not in names for c in spec.required_columns):
            return None
        typed: dict[str, str] = {}
        for name in names:
            if name in contract:
                expression = _typed_expression(contract[name].type, arrow_types[name], name, self.calendar)
            else:
                expression = _quoted(name) if _passed_through(arrow_types[name]) else None
            if expression is None:
                return None
            typed[name] = expression
        try:
            self.con.sql(f"CREATE OR REPLACE TEMP TABLE {_ROWS} AS SELECT * FROM {relation}")
            if rows is None:
                rows = int(self._value(f"SELECT count(*) FROM {_ROWS}"))
                if rows == 0:
                    return None
            return self._conformed(spec, target, parents, present, unread, names, rows, arrow_types, contract, typed)
        except duckdb.Error:
            return None  # a page or line DuckDB cannot read: the pandas check reads the file and reports it
        finally:
            self.con.sql(f"DROP TABLE IF EXISTS {_ROWS}")

    def _conformed(self, spec, target, parents, present, unread, names, rows, arrow_types, contract,
                   typed) -> Conformed | None:
        if self._failures(spec, typed, arrow_types) or self._repeated_keys(spec, typed):
            return None
        unknown, reference_warnings = self._unknown_references(spec, typed, parents, present, unread)
        if unknown:
            return None
        for name in names:  # pandas reads an extra whole-number column with blanks as float, true/false as objects
            if name not in contract and (pa.types.is_integer(arrow_types[name]) or pa.types.is_boolean(arrow_types[name])):
                if self._value(f"SELECT count(*) - count({_quoted(name)}) FROM {_ROWS}"):
                    return None
        vocabulary_warnings = self._vocabulary_warnings(spec, typed)
        self._write(spec, target, names, typed, arrow_types, contract)
        staged = names + [c.name for c in spec.columns if c.name not in names]
        return Conformed(rows, names, staged, vocabulary_warnings, reference_warnings)

    def _write(self, spec: Table, target: Path, names, typed, arrow_types, contract) -> None:
        """The typed table in the stage, written by DuckDB with pandas' metadata, so that reading it back gives
        the dtypes the pandas check gives (nullable whole numbers, true/false with blanks)."""
        columns: dict[str, pd.Series] = {}
        selected = []
        for name in names:
            if name in contract:
                columns[name] = empty_column(contract[name].type)
                selected.append(f"CAST({typed[name]} AS {_SQL_TYPES[contract[name].type]}) AS {_quoted(name)}")
            else:
                columns[name] = pa.schema([(name, arrow_types[name])]).empty_table().to_pandas(
                    date_as_object=False)[name]
                selected.append(f"{_passed_through_as(arrow_types[name], name)} AS {_quoted(name)}")
        for column in spec.columns:  # absent optional columns exist, empty, so detectors can rely on names
            if column.name not in names:
                columns[column.name] = empty_column(column.type)
                selected.append(f"CAST(NULL AS {_SQL_TYPES[column.type]}) AS {_quoted(column.name)}")
        metadata = pa.Schema.from_pandas(pd.DataFrame(columns), preserve_index=False).metadata[b"pandas"].decode()
        self.con.sql(f"COPY (SELECT {', '.join(selected)} FROM {_ROWS}) TO "
                         f"{_literal(str(target))} (FORMAT parquet, KV_METADATA {{pandas: {_literal(metadata)}}})")
