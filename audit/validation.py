"""Check the loaded tables against the data contract and turn them into typed frames.

Three steps, every problem collected before anything stops:

1. **Parse** each contract column to its type (Persian/Arabic-Indic digits normalised, Jalali dates
   converted when the policy says so). Dates are ISO 8601 only (``03/02/2025`` is named, never guessed);
   a timestamp with an offset keeps its local day and time. A value that does not parse, a number that
   is not finite or beyond the policy's ``[data] max_abs_number``, or a date outside the policy's
   plausible window sets its row aside when the column is required, and is blanked with a warning
   when it is optional.
2. **Check** each table with its pandera schema: required values present, non-negative amounts,
   known vocabulary, unique keys.
3. **Resolve references** between tables, parents first, so a row whose parent was set aside is set
   aside too (and says why). Ids written differently only by case or a trailing ``.0`` are matched
   with a warning when that is unambiguous; ids that differ by leading zeros, or would match two
   parents, are refused with a message saying how each table writes them.

A missing required table or column, a repeated column, a required column where most values do not
parse, a required table left without rows, or a table that loses more than the policy's
``[data] max_set_aside_pct`` of its rows is fatal. A table with a fatal problem is still checked as far
as it can be (its ids still serve to check references into it), so every problem is listed at once.
"""

from __future__ import annotations

import datetime as dt
import graphlib
import os
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import jdatetime
import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow
import pyarrow.compute as pc

from audit.contract import BOOL, DATE, FLOAT, INT, STR, TABLES, TIMESTAMP, Column, Table
from audit.integrity import sha256_file
from audit.loading import LoadedData, SourceTable
from audit.membership import arrow_text, isin
from audit.memory import release_unused
from audit.policy import Policy
from audit.problems import FATAL, ROW, WARNING, InputError, Problem

# Persian (U+06F0..) and Arabic-Indic (U+0660..) digits, Arabic decimal and thousands separators.
_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩٫٬", "01234567890123456789.,")
_NON_ASCII_DIGIT = re.compile("[۰-۹٠-٩٫٬]")
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
TRUE_WORDS = {"true", "t", "yes", "y", "1"}
FALSE_WORDS = {"false", "f", "no", "n", "0"}
# Jalali years of a ledger are about 1300-1410 and Gregorian ones 1900-2100: a Jalali date read as
# Gregorian lands before EARLIEST_YEAR, a Gregorian one read as Jalali at or after LATEST_JALALI_YEAR.
EARLIEST_YEAR = 1600
LATEST_JALALI_YEAR = 1700
_JALALI_LOOKING = re.compile(r"^\s*1[2-4]\d\d[/-]\d{1,2}[/-]\d{1,2}")
# ISO 8601 as ledgers write it: a date, optionally a time (T or space), optionally an offset.
_ISO_WHEN = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?))?"
                       r"\s*(?:Z|[+-]\d{2}(?::?\d{2})?)?$")
_DAY_MONTH = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})(?:[ T].*)?$")
# Columns that record when a business was founded or someone was hired may predate the ledger's window.
HISTORY_DATES = {("customers", "established_date"), ("salespeople", "hire_date")}
HISTORY_EARLIEST = dt.date(1900, 1, 1)
# Above this share of unparseable values a required column is unusable rather than a few bad rows.
UNUSABLE_SHARE = 0.5
TYPE_WORDS = {
    INT: "a whole number", FLOAT: "a number", DATE: "a date (YYYY-MM-DD)",
    TIMESTAMP: "a date and time (YYYY-MM-DD HH:MM:SS)", BOOL: "true or false", STR: "text",
}


@dataclass
class AuditTables:
    """Typed, checked tables ready for the detectors, with what was set aside and why."""

    frames: Mapping[str, pd.DataFrame]  # a dict, or StagedTables once a run moved them to disk
    present_columns: dict[str, frozenset[str]]
    problems: list[Problem] = field(default_factory=list)
    sources: dict[str, SourceTable] = field(default_factory=dict)
    checked_in_engine: set[str] = field(default_factory=set)  # tables DuckDB checked and staged (engine_checks)

    @property
    def fatal(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == FATAL]

    def has(self, table: str, columns=()) -> bool:
        present = self.present_columns.get(table)
        return present is not None and all(c in present for c in columns)

    def rows(self, table: str) -> int:
        """Rows of a checked table (without reading a staged one back)."""
        staged = getattr(self.frames, "rows", None)
        return staged(table) if staged is not None else len(self.frames[table])

    def stage(self, directory=None) -> None:
        """Move the checked tables out of Python into Parquet files (:class:`audit.stage.StagedTables`)."""
        from audit.stage import StagedTables

        if not isinstance(self.frames, StagedTables):  # validate(..., stage=...) staged them already
            self.frames = StagedTables(self.frames, directory)

    def release_frames(self) -> None:
        """Drop the staged tables read back into pandas (nothing to do for tables held in memory)."""
        release = getattr(self.frames, "release", None)
        if release is not None:
            release()


# ---------------------------------------------------------------- parsing

def _text_bytes(column: pyarrow.Array | pyarrow.ChunkedArray) -> tuple[bool, bool]:
    """(whether no value is blank or starts or ends with a space, a control character or a non-ASCII
    character, whether every byte is ASCII), read from the Arrow buffers in a few numpy passes.

    Most text columns of an export are plain ids, codes and names: then stripping them and blanking empty
    values changes nothing (every character Python's strip removes is a byte below 0x21 or part of a
    non-ASCII character), and no Persian or Arabic digit can be there. Either answer may be a cautious False
    (a null slot's bytes are looked at too); that only sends the column the long way."""
    if not (pyarrow.types.is_string(column.type) or pyarrow.types.is_large_string(column.type)):
        return False, False  # buffers laid out otherwise (string views)
    plain = ascii_only = True
    for chunk in column.chunks if isinstance(column, pyarrow.ChunkedArray) else [column]:
        if not len(chunk):
            continue
        _, offsets_buffer, data_buffer = chunk.buffers()
        width = 8 if pyarrow.types.is_large_string(chunk.type) else 4
        offsets = np.frombuffer(offsets_buffer, dtype=np.int64 if width == 8 else np.int32, count=len(chunk) + 1,
                                offset=chunk.offset * width)
        data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.zeros(0, np.uint8)
        starts, ends = offsets[:-1], offsets[1:]
        if chunk.null_count:
            given = chunk.is_valid().to_numpy(zero_copy_only=False)
            starts, ends = starts[given], ends[given]
        if plain and (ends <= starts).any():
            plain = False  # a blank value
        elif plain and len(starts):
            first, last = data[starts], data[ends - 1]
            plain = bool(min(first.min(), last.min()) > 0x20 and max(first.max(), last.max()) < 0x7f)
        if ascii_only and offsets[-1] > offsets[0]:
            ascii_only = bool(data[offsets[0]:offsets[-1]].max() < 0x80)
        if not plain and not ascii_only:
            break
    return plain, ascii_only


def _as_text(values: pd.Series) -> pd.Series:
    text = values.astype("str")
    column = arrow_text(text)
    plain, ascii_only = _text_bytes(column) if column is not None else (False, False)
    if not plain:
        text = text.str.strip()
        text = text.mask(text == "")
    if not ascii_only and text.str.contains(_NON_ASCII_DIGIT, na=False).any():
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


def _number_text(values: pd.Series) -> pd.Series:
    text = _as_text(values)
    return text.where(~text.str.match(_THOUSANDS, na=False), text.str.replace(",", "", regex=False))


def _parse_number(values: pd.Series, integer: bool) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        parsed = pd.to_numeric(values, errors="coerce").astype("float64")
    else:
        parsed = pd.to_numeric(_number_text(values), errors="coerce").astype("float64")
    parsed = parsed.where(np.isfinite(parsed))  # inf, -inf and the text "nan" are not amounts
    if integer:
        whole = parsed.notna() & (parsed.abs() < 2**53) & (parsed == np.floor(parsed))
        parsed = parsed.where(whole)
        return parsed.astype("Int64")
    return parsed


def _jalali_to_gregorian(value: str):
    date_part, _, time_part = value.replace("T", " ").partition(" ")
    year, month, day = (int(p) for p in re.split("[/-]", date_part))
    if year >= LATEST_JALALI_YEAR:
        raise ValueError(f"{value} is not a Jalali date")
    gregorian = jdatetime.date(year, month, day).togregorian()
    stamp = pd.Timestamp(f"{gregorian.isoformat()} {time_part}".strip())
    return stamp.tz_localize(None) if stamp.tzinfo is not None else stamp  # local time kept


def _parse_iso(text: pd.Series) -> pd.Series:
    """ISO 8601 dates and timestamps; anything else (03/02/2025, 2025/3/2, March 2) is missing.

    An offset (``+03:30``, ``Z``) is dropped, not applied: the local day and time are what the document
    says (``2025-01-05T01:00:00+03:30`` is 5 January, not 4 January in UTC)."""
    uniques = pd.Series(text.dropna().unique(), dtype="object")
    parts = uniques.str.extract(_ISO_WHEN)
    local = (parts[0] + (" " + parts[1].str.replace(",", ".", regex=False)).fillna("")).where(parts[0].notna())
    parsed = pd.to_datetime(local, format="ISO8601", errors="coerce")
    return text.map(dict(zip(uniques, parsed, strict=True)))


def _parse_when(values: pd.Series, calendar: str, with_time: bool) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values.dt.tz_localize(None) if getattr(values.dt, "tz", None) is not None else values
    else:
        if values.dtype == object and values.map(lambda v: hasattr(v, "year"), na_action="ignore").any():
            # date and datetime objects from a database or workbook: their ISO text, offset and all
            values = values.map(lambda v: v.isoformat() if hasattr(v, "isoformat") else v, na_action="ignore")
        if calendar == "jalali":
            def parse_one(value):
                try:
                    return _jalali_to_gregorian(value)
                except (ValueError, TypeError):
                    return pd.NaT
            parsed = pd.to_datetime(_map_unique(_as_text(values), parse_one))
        else:
            parsed = _parse_iso(_as_text(values))
    parsed = pd.to_datetime(parsed).astype("datetime64[us]")
    parsed = parsed.where(parsed.dt.year >= EARLIEST_YEAR)  # e.g. 1403-01-15: a Jalali date, not year 1403
    return parsed if with_time else parsed.dt.normalize()


def _parse_bool(values: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(values):
        return values.astype("boolean")
    text = _as_text(values).str.lower()
    parsed = pd.Series(pd.NA, index=values.index, dtype="boolean")
    parsed[text.isin(TRUE_WORDS)] = True
    parsed[text.isin(FALSE_WORDS)] = False
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

def _source_row(source: SourceTable, index) -> int | None:
    if source.row_numbers is not None:
        return source.row_numbers[int(index)]
    if source.first_row is None:
        return None
    return int(index) + source.first_row


class _TableCheck:
    """Collects one table's problems and the rows to set aside."""

    def __init__(self, spec: Table, source: SourceTable, frame: pd.DataFrame):
        self.spec = spec
        self.source = source
        self.frame = frame  # with a RangeIndex: a row's label is its position
        self.problems: list[Problem] = []
        self._excluded = np.zeros(len(frame), dtype=bool)
        self.reported: set[tuple] = set()  # (row index, column) already given a problem
        self._key_values: list[np.ndarray] | None = None

    @property
    def excluded(self) -> pd.Series:
        return pd.Series(self._excluded, index=self.frame.index)

    def source_row(self, index) -> int | None:
        return _source_row(self.source, index)

    def _record_columns(self) -> list[str]:
        key = [c for c in self.spec.key if c in self.frame.columns] or self.spec.column_names[:1]
        return [c for c in key if c in self.frame.columns]

    def keep_record_columns(self) -> None:
        """Keep of the raw frame only what names a record: its other columns are parsed and no longer needed."""
        self.frame = self.frame[self._record_columns()]

    def record_id(self, index) -> str | None:
        if self._key_values is None:  # plain arrays: thousands of problems, each naming its record
            self._key_values = [self.frame[c].to_numpy(dtype=object) for c in self._record_columns()]
        parts = [values[int(index)] for values in self._key_values]
        parts = ["" if pd.isna(p) else str(p) for p in parts]
        return "/".join(parts) if any(parts) else None

    def add(self, severity, index, column, value, problem, fix, kind=None):
        if severity == ROW:
            self._excluded[int(index)] = True
        self.reported.add((index, column))
        shown = None if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)
        self.problems.append(Problem(severity, self.spec.name, problem, fix, column, self.source_row(index),
                                     self.record_id(index), shown, kind=kind))


def header_key(name) -> str:
    return str(name).strip().lstrip("\ufeff").strip().lower()


def _normalise_headers(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.rename(columns={c: header_key(c) for c in frame.columns})


def _comparable(values: pd.Series) -> pd.Series:
    return values.astype("string").str.strip().fillna("")


def _resolve_headers(spec: Table, source: SourceTable, problems: list[Problem]) -> pd.DataFrame:
    """The frame with one column per name (lower case, spaces trimmed), every clash reported.

    ``Name`` beside ``name`` holding the same values is one column (a warning); holding different values
    it is fatal, naming both. A name written twice exactly is fatal for a contract column (which copy
    holds the data?) and a warning, first copy kept, for a column the audit does not read."""
    frame = source.frame
    written = [str(c) for c in frame.columns]
    positions: dict[str, list[int]] = {}
    for position, name in enumerate(written):
        positions.setdefault(header_key(name), []).append(position)
    keep = []
    for key, where in positions.items():
        keep.append(where[0])
        if len(where) == 1:
            continue
        names = [written[i] for i in where]
        contract = key in spec.column_names
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            times = max(names.count(n) for n in repeated)
            problems.append(Problem(
                FATAL if contract else WARNING, spec.name,
                f"column {repeated[0]!r} appears {times} times in the header",
                f"keep one column named {repeated[0]!r} in {spec.name} and delete the other (or give it its "
                "own name if it holds something else)", key, kind="repeated column",
                action=None if contract else "first kept"))
            continue
        first = _comparable(frame.iloc[:, where[0]])
        differ = pd.Series(False, index=frame.index)
        for other in where[1:]:
            differ |= first != _comparable(frame.iloc[:, other])
        both = " and ".join(repr(n) for n in names)
        if not differ.any():
            problems.append(Problem(WARNING, spec.name, f"columns {both} differ only in case or spaces and hold "
                                    f"the same values: read as one column {key}",
                                    f"delete the repeated column from {spec.name}", key,
                                    kind="same column twice", action="one kept"))
            continue
        index = differ.idxmax()
        row = _source_row(source, index)
        at = f"row {row}" if row is not None else f"record {int(index) + 1}"
        shown = ", ".join(repr(str(frame.iat[index, i])) for i in where)
        problems.append(Problem(FATAL, spec.name, f"columns {both} differ only in case or spaces but hold "
                                f"different values ({int(differ.sum())} rows differ, first at {at}: {shown})",
                                f"keep the right one of {both} in {spec.name} and delete or rename the other",
                                key, kind="clashing columns"))
    kept = frame.iloc[:, sorted(keep)]
    kept.columns = [header_key(written[i]) for i in sorted(keep)]
    return kept


def _first_number(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _day_month_fix(text: str) -> str | None:
    """The fix for a date written day/month/year or month/day/year: never guessed, at most suggested."""
    match = _DAY_MONTH.match(text)
    if not match:
        return None
    first, second, year = (int(g) for g in match.groups())
    if len(match.group(3)) == 2:
        return "write the date as YYYY-MM-DD (ISO 8601) with a four-digit year"
    options = []
    for day, month in ((first, second), (second, first)):
        try:
            options.append(dt.date(year, month, day).isoformat())
        except ValueError:
            pass
    options = list(dict.fromkeys(options))
    if len(options) == 2:
        return (f"write the date as YYYY-MM-DD (ISO 8601): {text} could be {options[0]} or {options[1]}, "
                "so day and month are not guessed")
    if options:
        return f"write the date as YYYY-MM-DD (ISO 8601), here probably {options[0]}"
    return "write the date as YYYY-MM-DD (ISO 8601)"


class _Unusable:
    """Why values of one column cannot be used: (kind, problem, fix) per row index."""

    def __init__(self):
        self.reasons: dict = {}

    def add(self, rows, kind: str, problem: str, fix: str) -> None:
        for index in rows:
            self.reasons.setdefault(index, (kind, problem, fix))


def _number_reasons(original: pd.Series, parsed: pd.Series, failed: pd.Series, bound: float,
                    expected: str) -> tuple[pd.Series, _Unusable]:
    """Reasons for the numbers that failed, and the numbers beyond ``bound`` made missing too."""
    unusable = _Unusable()
    if failed.any():
        typed = pd.api.types.is_numeric_dtype(original) and not pd.api.types.is_bool_dtype(original)
        text = original[failed] if typed else _number_text(original[failed])
        numbers = (text if typed else _map_unique(text, _first_number)).astype("float64")
        infinite = numbers.notna() & ~np.isfinite(numbers) | numbers.isna() & text.astype("str").str.lower().isin(
            {"nan", "+nan", "-nan"})
        unusable.add(infinite[infinite].index, "not a finite number", "not a finite number",
                     f"correct the value to {expected}: infinity and NaN are not amounts")
        huge = numbers.notna() & np.isfinite(numbers) & (numbers.abs() > bound)
        unusable.add(huge[huge].index, "implausibly large number",
                     f"implausibly large number (beyond {bound:g}, the policy's [data] max_abs_number)",
                     "correct the value; if such amounts are real, raise max_abs_number under [data] in policy.toml")
    beyond = parsed.notna() & (parsed.astype("float64").abs() > bound)
    if beyond.any():
        unusable.add(beyond[beyond].index, "implausibly large number",
                     f"implausibly large number (beyond {bound:g}, the policy's [data] max_abs_number)",
                     "correct the value; if such amounts are real, raise max_abs_number under [data] in policy.toml")
        parsed = parsed.mask(beyond)
    return parsed, unusable


def _date_window(table: str, column: str, window: tuple[dt.date, dt.date]) -> tuple[dt.date, dt.date]:
    """The plausible dates of one column (a founding or hiring date may predate the ledger's window)."""
    earliest, latest = window
    if (table, column) in HISTORY_DATES:
        earliest = min(earliest, HISTORY_EARLIEST)
    return earliest, latest


def _date_reasons(table: str, column: str, original: pd.Series, parsed: pd.Series, failed: pd.Series,
                  window: tuple[dt.date, dt.date], calendar: str) -> tuple[pd.Series, _Unusable]:
    """Reasons for dates written day/month/year, and dates outside the plausible window (made missing)."""
    unusable = _Unusable()
    if failed.any() and calendar != "jalali":
        text = _as_text(original[failed].map(lambda v: v.isoformat() if hasattr(v, "isoformat") else v,
                                            na_action="ignore"))
        for index, fix in _map_unique(text, _day_month_fix).dropna().items():
            unusable.add((index,), "date not in ISO 8601 (day/month order)",
                         "not a date in ISO 8601 (YYYY-MM-DD); day and month order cannot be told", fix)
    earliest, latest = _date_window(table, column, window)
    low, high = pd.Timestamp(earliest), pd.Timestamp(latest) + pd.Timedelta(days=1)
    outside = parsed.notna() & ((parsed < low) | (parsed >= high))
    if outside.any():
        unusable.add(outside[outside].index, "date outside the plausible window",
                     f"date outside the plausible window {earliest.isoformat()} to {latest.isoformat()}",
                     "correct the date; if such dates are real, set earliest_date / latest_date under [data] "
                     "in policy.toml")
        parsed = parsed.mask(outside)
    return parsed, unusable


def _usable_as_typed(table: str, column: Column, values: pd.Series, bound: float,
                     window: tuple[dt.date, dt.date]) -> pd.Series | None:
    """The parsed column when ``values`` already has the column's type (a Parquet or database column) and
    parsing would change no value and refuse none, shown by a minimum and maximum instead of the parse's
    many passes over the column; None when any value might be refused (the parse then says which)."""
    dtype = values.dtype
    if column.type == FLOAT and dtype == np.float64:
        numbers = values.to_numpy()
        low, high = np.fmin.reduce(numbers, initial=np.nan), np.fmax.reduce(numbers, initial=np.nan)  # blanks skipped
        usable = np.isnan(low) or (np.isfinite(low) and np.isfinite(high) and -bound <= low and high <= bound)
        return values if usable else None
    if column.type == INT and pd.api.types.is_integer_dtype(dtype):
        low, high = values.min(), values.max()
        usable = pd.isna(low) or max(-int(low), int(high)) <= min(bound, 2**53 - 1)  # whole in float64
        return values.astype("Int64") if usable else None
    if (column.type in (DATE, TIMESTAMP) and isinstance(dtype, np.dtype) and dtype.kind == "M"
            and np.datetime_data(dtype)[0] in ("s", "ms", "us")):
        when = values.to_numpy()
        first = np.fmin.reduce(when, initial=np.datetime64("NaT"))
        last = np.fmax.reduce(when, initial=np.datetime64("NaT"))
        if not np.isnat(first):
            earliest, latest = _date_window(table, column.name, window)
            earliest = max(earliest, dt.date(EARLIEST_YEAR, 1, 1))
            if first < np.datetime64(earliest) or last >= np.datetime64(latest + dt.timedelta(days=1)):
                return None
            if column.type == DATE and (when != when.astype("datetime64[D]"))[~np.isnat(when)].any():
                return None  # a time of day, which the parse drops
        return values.astype("datetime64[us]")
    return None


def _parse_table(spec: Table, source: SourceTable, policy: Policy, problems: list[Problem],
                 window: tuple[dt.date, dt.date]):
    """Parse a table's contract columns; a missing required column is fatal but the rest is still read."""
    raw = _resolve_headers(spec, source, problems).reset_index(drop=True)
    missing = [c for c in spec.required_columns if c not in raw.columns]
    for column in missing:
        problems.append(Problem(FATAL, spec.name, f"required column {column} is missing",
                                f"add a {column} column to {spec.name} ({TYPE_WORDS[spec.column(column).type]})",
                                column, kind="required column missing"))
    frame = raw.copy(deep=False)  # every contract column is replaced by its parsed copy
    check = _TableCheck(spec, source, raw)
    for column in spec.columns:
        if column.name not in raw.columns:
            continue
        original = raw[column.name]
        typed = None if column.type == STR else _usable_as_typed(spec.name, column, original,
                                                                  policy.data.max_abs_number, window)
        if typed is not None:
            frame[column.name] = typed
            continue
        parsed = parse_column(original, column.type, policy.calendar)
        if column.type == STR:
            frame[column.name] = parsed
            continue
        given = original.notna()
        if pd.api.types.is_object_dtype(original.dtype) or isinstance(original.dtype, pd.StringDtype):
            # blank text is not a value; typed columns (Parquet, databases) have no blanks to strip
            given &= original.astype("str").str.strip() != ""
        failed = given & parsed.isna()
        calendar_hint = " in the Jalali calendar (YYYY/MM/DD)" if policy.calendar == "jalali" and column.type in (
            DATE, TIMESTAMP) else ""
        expected = TYPE_WORDS[column.type] + calendar_hint
        if column.type in (INT, FLOAT):
            parsed, unusable = _number_reasons(original, parsed, failed, policy.data.max_abs_number, expected)
        elif column.type in (DATE, TIMESTAMP):
            parsed, unusable = _date_reasons(spec.name, column.name, original, parsed, failed, window,
                                             policy.calendar)
        else:
            unusable = _Unusable()
        frame[column.name] = parsed
        failed = given & parsed.isna()
        if not failed.any():
            continue
        if policy.calendar != "jalali" and column.type in (DATE, TIMESTAMP) and original[failed].astype(
                "str").str.translate(_DIGITS).str.match(_JALALI_LOOKING).any():
            expected += '; Persian-calendar dates need calendar = "jalali" in policy.toml'
        default = (f"not {expected}", f"not {expected}", f"correct the value to {expected}")
        if column.required and failed.sum() > UNUSABLE_SHARE * max(given.sum(), 1) and given.sum() > 2:
            causes = Counter(unusable.reasons.get(i, default)[1] for i in failed[failed].index)
            cause = causes.most_common(1)[0][0]
            sample = original[failed].astype("str").head(3).tolist()
            what = expected if cause == default[1] else f"usable ({cause})"
            fix = f"write {column.name} as {expected}"
            if cause != default[1]:
                first = next(i for i in failed[failed].index if unusable.reasons.get(i, default)[1] == cause)
                fix += f" (for {original.at[first]}: {unusable.reasons[first][2]})"
            problems.append(Problem(FATAL, spec.name, f"column {column.name} is unusable: {int(failed.sum())} of "
                                    f"{int(given.sum())} values are not {what} (e.g. {', '.join(sample)})",
                                    fix, column.name, kind="unusable column"))
            check.reported.update((i, column.name) for i in failed[failed].index)  # not "blank" row by row
            continue
        severity = ROW if column.required else WARNING
        for index in failed[failed].index:
            kind, problem, fix = unusable.reasons.get(index, default)
            if not column.required:
                fix += "; it was left blank for this run"
            check.add(severity, index, column.name, original.at[index], problem, fix, kind)
    check.keep_record_columns()
    return frame, check


def _schema(spec: Table, present) -> pa.DataFrameSchema:
    columns = {}
    for column in spec.columns:
        checks = []
        if column.non_negative:
            checks.append(pa.Check.ge(0, name="non_negative"))
        if column.allowed and not column.extendable:
            checks.append(pa.Check.isin(list(column.allowed), name="vocabulary"))
        columns[column.name] = pa.Column(nullable=not column.required, checks=checks, required=False,
                                         title=column.name)
    key = list(spec.key) if spec.key and all(c in present for c in spec.key) else None
    return pa.DataFrameSchema(columns, unique=key, report_duplicates="exclude_first", name=spec.name)


def _strictly_increasing(columns: list[pd.Series]) -> bool:
    """Whether the rows are in strictly increasing order of these columns, none blank: then no key repeats,
    shown in one comparison of neighbours (an export sorted by its key) instead of hashing every key."""
    increasing = equal = None
    for values in columns:
        if values.isna().any():
            return False
        column = arrow_text(values)
        if column is None:
            column = pyarrow.array(values.to_numpy())
        later, earlier = column[1:], column[:-1]
        above, same = pc.greater(later, earlier), pc.equal(later, earlier)
        increasing = above if increasing is None else pc.or_(increasing, pc.and_(equal, above))
        equal = same if equal is None else pc.and_(equal, same)
    return increasing is None or pc.all(increasing).as_py() is not False


def _schema_holds(spec: Table, frame: pd.DataFrame) -> bool:
    """True when :func:`_schema` finds nothing in ``frame``, asked in a few vectorised passes: most tables
    conform, and pandera's per-column machinery and its hashing of every key cost more than the rest of
    their check. False when anything might fail; the schema then names every failing row."""
    for column in spec.columns:
        if column.name not in frame.columns:
            continue
        values = frame[column.name]
        if column.required and values.isna().any():
            return False
        if column.non_negative and (values < 0).any():
            return False
        if column.allowed and not column.extendable and (values.notna() & ~isin(values, column.allowed)).any():
            return False
    if not spec.key or not all(c in frame.columns for c in spec.key) or len(frame) < 2:
        return True
    return _strictly_increasing([frame[c] for c in spec.key])


def _schema_failures(spec: Table, frame: pd.DataFrame, check: _TableCheck) -> None:
    """Each row the pandera schema fails, as a problem of ``check``."""
    try:
        # inplace: the checks change nothing (no coercion, no defaults), so no copy of the whole table
        _schema(spec, set(frame.columns)).validate(frame, lazy=True, inplace=True)
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
                          f"fill {case.column} for this row", "required value is blank")
            elif "uniqueness" in str(case.check) or "unique" in str(case.check):
                key = ", ".join(spec.key)
                if (index, key) in check.reported:
                    continue  # a key of several columns fails once per column
                check.add(ROW, index, key, check.record_id(index), f"duplicate {key}: this id appears earlier",
                          "give each record its own id, or remove the repeated row", "duplicate id")
            elif str(case.check).startswith("greater_than_or_equal_to"):
                check.add(ROW, index, case.column, case.failure_case, "must not be negative",
                          "record returns and corrections as credit notes, not negative values",
                          "must not be negative")
            elif str(case.check).startswith("isin"):
                allowed = spec.column(case.column).allowed
                check.add(ROW, index, case.column, case.failure_case,
                          f"unknown value; expected one of {', '.join(allowed)}", "use the contract's vocabulary",
                          "unknown value")


def _check_schema(spec: Table, frame: pd.DataFrame, check: _TableCheck) -> None:
    if not _schema_holds(spec, frame):
        _schema_failures(spec, frame, check)
    for column in spec.columns:
        if column.allowed and column.extendable and column.name in frame.columns:
            unknown = frame[column.name].notna() & ~frame[column.name].isin(column.allowed)
            for value in sorted(frame.loc[unknown, column.name].unique()):
                count = int((frame[column.name] == value).sum())
                check.problems.append(Problem(
                    WARNING, spec.name, f"value outside the standard vocabulary ({count} rows)",
                    "fine if intended: the vocabulary is extendable", column.name, value=str(value),
                    action="kept", kind="value outside the standard vocabulary"))


def _reference_order() -> list[str]:
    graph = graphlib.TopologicalSorter()
    for spec in TABLES.values():
        parents = {c.references[0] for c in spec.columns if c.references and c.references[0] != spec.name}
        graph.add(spec.name, *parents)
    return list(graph.static_order())


def _loose_ids(ids: pd.Series) -> pd.Series:
    """Ids as compared when only their writing differs: case, and a trailing .0 of a whole number."""
    return ids.astype("str").str.strip().str.casefold().str.replace(r"^([+-]?\d+)\.0+$", r"\1", regex=True)


def _unpadded_ids(ids: pd.Series) -> pd.Series:
    return _loose_ids(ids).str.replace(r"^0+(\d)", r"\1", regex=True)


def _parents_by(form, known: pd.Series, wanted: pd.Series) -> dict[str, list[str]]:
    """The parent ids whose ``form`` is one of the dangling values' forms, by that form."""
    forms = form(known)
    hit = forms.isin(set(wanted))
    groups: dict[str, list[str]] = {}
    for key, parent in zip(forms[hit], known[hit], strict=True):
        if parent not in groups.setdefault(key, []):
            groups[key].append(parent)
    return groups


def _how_written(child: str, parent: str) -> str:
    """What differs between two spellings of one id that match once case and a trailing .0 are ignored."""
    def whole(value: str) -> str:
        return re.sub(r"^([+-]?\d+)\.0+$", r"\1", value)

    differences = []
    if whole(child) != child or whole(parent) != parent:
        differences.append("a trailing .0")
    if whole(child) != whole(parent):
        differences.append("case")
    return " and ".join(differences) or "writing"


def _match_written_differently(spec: Table, column: str, parent: str, parent_column: str, dangling: pd.Series,
                               known: pd.Series) -> tuple[pd.Series, dict[str, tuple[str, str]]]:
    """Dangling ids that are a parent id written differently.

    Returns the parent's spelling for each dangling row that matches exactly one parent once case and a
    trailing ``.0`` are ignored, and for values that are refused (leading zeros, or two parents that
    would merge) the (problem, fix) that says how each table writes them."""
    values = pd.Series(dangling.dropna().unique(), dtype="object")
    known = pd.Series(known.unique(), dtype="object")
    loose = _parents_by(_loose_ids, known, _loose_ids(values))
    padded = _parents_by(_unpadded_ids, known, _unpadded_ids(values))
    spelling: dict[str, str] = {}
    refused: dict[str, tuple[str, str]] = {}
    for value, loose_form, unpadded_form in zip(values, _loose_ids(values), _unpadded_ids(values), strict=True):
        parents = loose.get(loose_form, [])
        if len(parents) == 1:
            spelling[value] = parents[0]
        elif len(parents) > 1:
            shown = " and ".join(repr(p) for p in parents[:3])
            refused[value] = (
                f"refers to {parent} {value}, which does not exist as written; {parent}.{parent_column} has "
                f"{shown}, which differ only in case or a trailing .0, so it is not matched to either",
                f"write {column} in {spec.name} exactly as {parent}.{parent_column} writes it")
        elif padded.get(unpadded_form):
            shown = " and ".join(repr(p) for p in padded[unpadded_form][:3])
            refused[value] = (
                f"refers to {parent} {value}, which does not exist as written: {spec.name}.{column} writes "
                f"{value!r} where {parent}.{parent_column} writes {shown} (leading zeros differ)",
                f"export {spec.name} and {parent} with their ids written the same way (leading zeros kept "
                "or dropped in both): ids with and without leading zeros are not matched")
    matched = dangling.map(spelling).dropna()
    return matched, refused


def references_not_checked(spec: Table, column: str, present: dict[str, frozenset], unread: set[str]) -> Problem:
    """The warning for ids of ``column`` whose parent table or column is not there to check them against."""
    parent, parent_column = spec.column(column).references
    why = (f"table {parent} could not be read" if parent in unread else f"table {parent} is absent"
           if parent not in present else f"{parent} has no column {parent_column}")
    return Problem(WARNING, spec.name, f"references to {parent} cannot be checked: {why}",
                   f"provide {parent} to check them", column, action="kept", kind="references not checked")


def _check_references(spec: Table, frame: pd.DataFrame, check: _TableCheck, clean: Mapping[str, Mapping[str, pd.Series]],
                      excluded_keys: dict[str, set], present: dict[str, frozenset], unread: set[str],
                      problems: list[Problem]) -> None:
    for column in spec.columns:
        if not column.references or column.name not in frame.columns:
            continue
        parent, parent_column = column.references
        values = frame[column.name]
        if parent not in present or parent_column not in present[parent]:
            if values.notna().any():
                problems.append(references_not_checked(spec, column.name, present, unread))
            continue
        # The parent's column itself, not a Python set of it: millions of ids are tested in Arrow.
        if parent == spec.name:
            known = frame.loc[~check.excluded, parent_column].dropna()
        else:
            known = clean[parent][parent_column].dropna()
        dangling = values.notna() & ~isin(values, known) & ~check.excluded
        if not dangling.any():
            continue
        gone = excluded_keys.get(parent, set())
        candidates = values[dangling & ~values.isin(gone)]
        matched, refused = _match_written_differently(spec, column.name, parent, parent_column, candidates, known)
        if len(matched):
            examples = dict(zip(values[matched.index], matched, strict=True))
            how = sorted({_how_written(c, p) for c, p in examples.items()})
            shown = ", ".join(f"{c!r} for {p!r}" for c, p in list(examples.items())[:3])
            problems.append(Problem(
                WARNING, spec.name, f"{len(matched):,} {'row writes' if len(matched) == 1 else 'rows write'} "
                f"{column.name} differently from "
                f"{parent}.{parent_column} (e.g. {shown}): matched once {' and '.join(how)} is ignored",
                f"check that these are the same {parent}, and export both tables with ids written the same "
                "way", column.name, action="kept (matched)", kind="ids written differently, matched"))
            frame.loc[matched.index, column.name] = matched
            dangling[matched.index] = False
        for index in dangling[dangling].index:
            value = values.at[index]
            if value in gone:
                reason = f"refers to {parent} {value}, which was set aside (its own problem is listed under {parent})"
                fix, kind = f"fix {parent} {value} (or correct {column.name})", "refers to a row set aside"
            elif value in refused:
                (reason, fix), kind = refused[value], "ids written differently, refused"
            else:
                reason, kind = f"refers to {parent} {value}, which does not exist", "refers to a missing record"
                fix = f"add {parent} {value} or correct {column.name}"
            check.add(ROW, index, column.name, value, reason, fix, kind)


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


def _main_cause(problems: list[Problem], table: str) -> str:
    """The commonest reason rows of ``table`` were set aside, with an example, for a fatal message."""
    rows = [p for p in problems if p.table == table and p.severity == ROW]
    if not rows:
        return ""
    counts = Counter((p.column, p.category) for p in rows)
    (column, category), count = counts.most_common(1)[0]
    example = next(p for p in rows if (p.column, p.category) == (column, category))
    others = f"; {len(counts) - 1} other kind(s) of problem" if len(counts) > 1 else ""
    return (f"; the commonest cause is {category!r} in column {column} ({count:,} row(s), e.g. "
            f"{example.describe()}){others}")


def _set_aside_checks(policy: Policy, loaded: LoadedData, kept_rows: dict[str, int],
                      problems: list[Problem]) -> None:
    """Stop a run that would audit what is left of a table that lost too many rows."""
    limit = policy.data.max_set_aside_pct
    fatal_tables = {p.table for p in problems if p.severity == FATAL}
    for name, kept in kept_rows.items():
        spec, read = TABLES[name], loaded.tables[name].rows
        lost = read - kept
        if not read or not lost or name in fatal_tables:
            continue
        share = 100 * lost / read
        if spec.required and not kept:
            problems.append(Problem(
                FATAL, name, f"all {read:,} rows of {name} were set aside: nothing is left to audit"
                f"{_main_cause(problems, name)}",
                f"fix the problems listed for {name} (`audit validate --out DIR` writes them all to "
                "data_quality.csv)", kind="required table empty after set-aside"))
        elif share > limit:
            problems.append(Problem(
                FATAL, name, f"{lost:,} of {read:,} rows of {name} ({share:.1f} %) were set aside, more than "
                f"the policy's [data] max_set_aside_pct of {limit:g} %{_main_cause(problems, name)}",
                f"fix the problems listed for {name}; if auditing the rest is acceptable, raise "
                "max_set_aside_pct under [data] in policy.toml", kind="too many rows set aside"))


def _with_read_failures(problems: list[Problem], failures: list[tuple[int, str, list[Problem]]]) -> list[Problem]:
    """The load's problems with those of files that failed when read lazily, each where an eager load lists it
    (its slot; tables sharing a slot in contract order)."""
    order = {name: i for i, name in enumerate(TABLES)}
    pending = sorted(failures, key=lambda f: (f[0], order.get(f[1], len(order))))
    merged: list[Problem] = []
    for slot in range(len(problems) + 1):
        while pending and pending[0][0] <= slot:
            merged.extend(pending.pop(0)[2])
        if slot < len(problems):
            merged.append(problems[slot])
    return merged


# 1 checks each Parquet or CSV table in DuckDB first (audit.engine_checks). Off by default: on this project's
# two-core benchmark machine it cost more than the pandas checks (1M lines: 40.4 s against 38.7 s; docs/benchmarks.md).
ENGINE_CHECKS_VARIABLE = "SALES_AUDIT_ENGINE_CHECKS"
# After staging a table this large, freed memory is handed back to the system (a few milliseconds each time).
RELEASE_AFTER_ROWS = 100_000
# The columns other tables refer to: of a checked table only these stay in memory to check references.
_REFERENCED = frozenset(column.references for spec in TABLES.values() for column in spec.columns
                        if column.references)


def validate(loaded: LoadedData, policy: Policy, run_date: dt.date | None = None, *,
             consume: bool = False, stage: bool | str | Path | None = None,
             engine_checks: bool | None = None, engine_memory: str | None = None) -> AuditTables:
    """Parse and check every loaded table; never raises for bad data (see ``AuditTables.fatal``).

    ``run_date`` (default today) ends the plausible dates a year later unless the policy sets
    ``[data] latest_date``. Tables are taken one at a time, parents before the tables that refer to them: each
    is read (when loaded lazily, ``load(..., lazy=True)``), parsed, checked and, with ``stage`` (True or a
    folder), written to the stage (:class:`audit.stage.StagedTables`) as soon as it is final; only the columns
    other tables refer to are kept to check their references. With ``consume`` each raw table is released
    from ``loaded`` once parsed (the caller must not read ``loaded``'s frames afterwards). With both, memory
    holds one table at a time instead of the raw and the checked ledger.

    With ``consume`` and ``stage``, a Parquet or CSV file is first checked by DuckDB (:mod:`audit.engine_checks`,
    within ``engine_memory``; when ``engine_checks`` is True, or None and the ``SALES_AUDIT_ENGINE_CHECKS``
    variable is 1): a table with no problem is written to the stage from there and never read into pandas;
    any other goes through the checks here, which name every row.

    Problems are listed as if every table had been read first and parsed in load order: the load's
    problems, missing tables, parsing problems by table, then each table's checks parents first."""
    from audit.stage import StagedTables

    unread = {p.table for p in loaded.problems if p.severity == FATAL}
    window = policy.data.date_window(run_date)
    load_order = list(loaded.tables)
    read_failures: list[tuple[int, str, list[Problem]]] = []
    parse_problems: dict[str, list[Problem]] = {}  # listed in load order
    check_problems: list[Problem] = []  # listed parents first
    present: dict[str, frozenset[str]] = {}
    clean: dict[str, pd.DataFrame] | StagedTables = (
        StagedTables(directory=None if stage is True else stage) if stage else {})
    referenced: dict[str, dict[str, pd.Series]] = {}
    excluded_keys: dict[str, set] = {}
    kept_rows: dict[str, int] = {}
    if engine_checks is None:
        engine_checks = os.environ.get(ENGINE_CHECKS_VARIABLE, "0").strip() == "1"
    in_engine = _engine_checks(policy, window, clean.directory, engine_memory) if stage and consume and engine_checks \
        else None
    checked_in_engine: set[str] = set()
    for name in _reference_order():
        if name not in loaded.tables:
            continue
        spec = TABLES[name]
        source = loaded.tables[name]
        conformed = _conformed_in_engine(in_engine, spec, source, clean, present, unread)
        if conformed is not None:
            parse_problems[name] = []
            present[name] = frozenset(conformed.columns)
            check_problems.extend(conformed.reference_problems)
            check_problems.extend(conformed.problems)
            if spec.key and len(spec.key) == 1 and spec.key[0] in present[name]:
                excluded_keys[name] = set()
            wanted = [column for table, column in _REFERENCED if table == name]
            kept = pd.read_parquet(clean.path(name), columns=wanted) if wanted else pd.DataFrame()
            referenced[name] = {column: kept[column] for column in wanted}
            kept_rows[name] = conformed.rows
            loaded.tables[name] = conformed.source
            checked_in_engine.add(name)
            continue
        if source.pending:  # read now; the name ``source`` is the only one left holding the raw frame
            failures: list[Problem] = []
            slot, source = source.problem_slot or 0, source.read(failures)
            if source is None:
                read_failures.append((slot, name, failures))
                unread.update(p.table for p in failures if p.severity == FATAL)
                del loaded.tables[name]
                continue
            loaded.tables[name] = source
        table_problems = parse_problems[name] = []
        if len(source.frame) == 0 and not _empty_table(spec, source, table_problems):
            continue
        frame, check = _parse_table(spec, source, policy, table_problems, window)
        if consume:
            check.source = loaded.tables[name] = source.frame_released()
        del source
        present[name] = frozenset(frame.columns)
        _check_schema(spec, frame, check)
        _check_references(spec, frame, check, referenced, excluded_keys, present, unread, check_problems)
        check_problems.extend(check.problems)
        if spec.key and len(spec.key) == 1 and spec.key[0] in frame.columns:
            # Only a key whose every row was set aside counts as gone (a duplicate keeps its first row); with
            # none set aside, nothing is gone (and the kept keys need not be hashed to say so).
            excluded_keys[name] = set()
            if check._excluded.any():
                gone = frame.loc[check.excluded, spec.key[0]]
                excluded_keys[name] = set(gone[~isin(gone, frame.loc[~check.excluded, spec.key[0]])])
        # a copy only when rows were set aside
        kept_frame = frame.loc[~check.excluded].reset_index(drop=True) if check._excluded.any() else frame
        del frame, check
        for column in spec.columns:  # absent optional columns exist, empty, so detectors can rely on names
            if column.name not in kept_frame.columns:
                kept_frame[column.name] = parse_column(pd.Series([None] * len(kept_frame), dtype="str"),
                                                       column.type)
        referenced[name] = {column: kept_frame[column].copy() for table, column in _REFERENCED
                            if table == name and column in kept_frame.columns}
        kept_rows[name] = len(kept_frame)
        if stage:  # written by a thread while the next table is read and checked
            clean.add(name, kept_frame, background=True)
        else:
            clean[name] = kept_frame
        del kept_frame
        if stage and kept_rows[name] >= RELEASE_AFTER_ROWS:
            release_unused()  # this table's raw and typed frames, before the next one's peak lands on top
    if stage:
        clean.finish()
    if in_engine is not None:
        in_engine.close()
    referenced.clear()
    problems = _with_read_failures(loaded.problems, read_failures)
    loaded.problems = list(problems)
    for spec in TABLES.values():
        if spec.required and spec.name not in loaded.tables and spec.name not in unread:
            problems.append(Problem(FATAL, spec.name, f"required table {spec.name} is missing",
                                    f"provide {spec.name} with columns {', '.join(spec.required_columns)}",
                                    kind="required table missing"))
    for name in load_order:
        problems.extend(parse_problems.get(name, ()))
    problems.extend(check_problems)
    _set_aside_checks(policy, loaded, kept_rows, problems)
    present_columns = {name: present[name] for name in load_order if name in present}
    # The raw frames are not needed once checked (problems carry their source rows): free them.
    sources = {name: source.without_frame() for name, source in loaded.tables.items()}
    return AuditTables(clean, present_columns, problems, sources, checked_in_engine)


def _engine_checks(policy: Policy, window, stage_directory: Path, engine_memory: str | None):
    from audit.engine import MEMORY_LIMIT_VARIABLE
    from audit.engine_checks import EngineChecks
    from audit.memory import default_engine_limit

    limit = engine_memory or os.environ.get(MEMORY_LIMIT_VARIABLE) or default_engine_limit()
    return EngineChecks(window, policy.data.max_abs_number, HISTORY_DATES, HISTORY_EARLIEST, limit,
                        stage_directory / "spill-checks", policy.calendar)


def empty_column(kind: str) -> pd.Series:
    """A contract type's column without rows, with the dtype the checks give it (and the stage keeps)."""
    return parse_column(pd.Series([], dtype="str"), kind)


def _conformed_in_engine(in_engine, spec: Table, source: SourceTable, clean, present: dict[str, frozenset],
                         unread: set[str]):
    """The table checked by DuckDB and staged from there (see :mod:`audit.engine_checks`), with the source
    it replaces in ``loaded``; None when it is to be checked here."""
    if in_engine is None or not source.pending or not source.origin.lower().endswith((".parquet", ".csv")):
        return None
    path = Path(source.origin)
    parents = {c.references[0]: clean.path(c.references[0]) for c in spec.columns
               if c.references and c.references[0] != spec.name and c.references[0] in clean}
    conformed = in_engine.conform(spec, path, clean.target(spec.name), parents, present, unread)
    if conformed is None:
        return None
    clean.added(spec.name, conformed.rows, conformed.staged_columns)
    described = SourceTable(spec.name, pd.DataFrame(columns=conformed.columns), str(path), sha256_file(path))
    described.rows = conformed.rows
    conformed.source = described
    return conformed


def load_and_validate(source, policy: Policy, strict: bool = False) -> AuditTables:
    """Load and validate; raise :class:`InputError` when the data cannot be audited."""
    from audit.loading import load

    tables = validate(load(source, lazy=True), policy, consume=True)
    if tables.fatal or (strict and any(p.severity == ROW for p in tables.problems)):
        raise InputError(tables.problems)
    return tables
