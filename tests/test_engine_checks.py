"""The contract checks in DuckDB (audit.engine_checks) against the checks in pandas (audit.validation).

A Parquet table with no problem is checked and staged by DuckDB; any table with a problem, or with a
value DuckDB could read differently, goes through pandas. Either way the staged tables, the problems and
the sources must be the ones the pandas checks alone give: each case below is a mini ledger as Parquet
with one kind of defect (or of value), validated both ways and compared.
"""

from __future__ import annotations

import datetime as dt
import shutil

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from audit.contract import DATE, INT, TABLES
from audit.loading import load
from audit.policy import load_policy
from audit.validation import load_and_validate, validate
from tests.conftest import MINI

RUN_DATE = dt.date(2026, 1, 1)


def _arrow(name: str, frame: pd.DataFrame) -> pa.Table:
    """A table as an export writes it: dates as date32, whole numbers as int64, text as strings."""
    spec = TABLES[name]
    arrays, names = [], []
    for column in frame.columns:
        values = frame[column]
        kind = spec.column(column).type if column in spec.column_names else None
        if kind == DATE:
            array = pa.array([None if pd.isna(v) else v.date() for v in values], type=pa.date32())
        elif kind == INT:
            array = pa.array([None if pd.isna(v) else int(v) for v in values], type=pa.int64())
        elif pd.api.types.is_datetime64_any_dtype(values):
            array = pa.array(values.astype("datetime64[ms]"))
        elif pd.api.types.is_float_dtype(values):
            array = pa.array(values.to_numpy(), type=pa.float64(), from_pandas=True)
        else:
            array = pa.array([None if pd.isna(v) else v for v in values], type=pa.string())
        arrays.append(array)
        names.append(column)
    return pa.Table.from_arrays(arrays, names=names)


@pytest.fixture(scope="module")
def mini_frames():
    tables = load_and_validate(MINI, load_policy(MINI / "policy.toml"))
    return {name: tables.frames[name].copy() for name in tables.frames}


def _ledger(tmp_path, frames, edits=None) -> str:
    """The mini ledger as Parquet files, with ``edits`` {table: function(arrow table) -> arrow table}."""
    folder = tmp_path / "ledger"
    folder.mkdir(parents=True)
    shutil.copy(MINI / "policy.toml", folder / "policy.toml")
    for name, frame in frames.items():
        table = _arrow(name, frame)
        if edits and name in edits:
            table = edits[name](table)
        pq.write_table(table, folder / f"{name}.parquet")
    return str(folder)


def _both_ways(folder: str):
    policy = load_policy(MINI / "policy.toml")
    results = []
    for engine in (False, True):
        results.append(validate(load(folder, lazy=True), policy, RUN_DATE, consume=True, stage=True,
                                engine_checks=engine))
    return results


def _same(pandas_checked, engine_checked) -> None:
    assert list(pandas_checked.frames) == list(engine_checked.frames)
    for name in pandas_checked.frames:
        pd.testing.assert_frame_equal(pandas_checked.frames[name], engine_checked.frames[name], check_exact=True,
                                      obj=name)
    assert [p.__dict__ for p in pandas_checked.problems] == [p.__dict__ for p in engine_checked.problems]
    assert pandas_checked.present_columns == engine_checked.present_columns
    for name, source in pandas_checked.sources.items():
        other = engine_checked.sources[name]
        assert (source.origin, source.sha256, source.rows) == (other.origin, other.sha256, other.rows)


def _replace(column: str, values) -> callable:
    def edit(table: pa.Table) -> pa.Table:
        field = table.schema.field(column)
        array = pa.array(values(table.column(column).to_pylist()), type=field.type)
        return table.set_column(table.schema.get_field_index(column), field, array)
    return edit


def _retype(column: str, array_of) -> callable:
    def edit(table: pa.Table) -> pa.Table:
        array = array_of(table.column(column).to_pylist())
        return table.set_column(table.schema.get_field_index(column), pa.field(column, array.type), array)
    return edit


def _add(column: str, array_of) -> callable:
    def edit(table: pa.Table) -> pa.Table:
        return table.append_column(column, array_of(table.num_rows))
    return edit


def test_a_clean_ledger_is_checked_in_the_engine_and_staged_as_pandas_would(tmp_path, mini_frames):
    pandas_checked, engine_checked = _both_ways(_ledger(tmp_path, mini_frames))
    _same(pandas_checked, engine_checked)
    assert engine_checked.checked_in_engine == set(engine_checked.frames)  # every table took the engine's path
    assert pandas_checked.checked_in_engine == set()
    # the staged file of a conforming table was written by DuckDB, with pandas' dtypes kept
    assert engine_checked.frames["invoice_lines"]["line_no"].dtype == "Int64"
    assert engine_checked.frames["invoices"]["invoice_date"].dtype == "datetime64[us]"


CASES = {
    "padded text": ("customers", _replace("name", lambda v: [f" {v[0]}"] + v[1:]), "customers"),
    "blank required text": ("invoices", _replace("status", lambda v: [""] + v[1:]), "invoices"),
    "missing required value": ("invoices", _replace("customer_id", lambda v: [None] + v[1:]), "invoices"),
    "Persian digits in an id": ("products", _replace("name", lambda v: ["کالا ۱۲"] + v[1:]), "products"),
    "non-breaking space at the end": ("products", _replace("brand", lambda v: [f"{v[0]}\u00a0"] + v[1:]), "products"),
    "negative amount": ("receipts", _replace("amount", lambda v: [-v[0]] + v[1:]), "receipts"),
    "infinite amount": ("receipts", _replace("amount", lambda v: [float("inf")] + v[1:]), "receipts"),
    "NaN amount (a blank)": ("receipt_allocations", _replace("cash_discount_amount", lambda v: [float("nan")] + v[1:]),
                             "receipt_allocations"),
    "amount beyond the policy's bound": ("receipts", _replace("amount", lambda v: [1e19] + v[1:]), "receipts"),
    "code outside the vocabulary": ("receipts", _replace("method", lambda v: ["barter"] + v[1:]), "receipts"),
    "repeated key": ("invoices", _replace("invoice_id", lambda v: [v[1]] + v[1:]), "invoices"),
    "unknown customer": ("invoices", _replace("customer_id", lambda v: ["C-NOBODY"] + v[1:]), "invoices"),
    "customer id written in other case": ("invoices", _replace("customer_id", lambda v: [v[0].lower()] + v[1:]),
                                          "invoices"),
    "date outside the window": ("invoices", _replace("invoice_date", lambda v: [dt.date(1980, 1, 1)] + v[1:]),
                                "invoices"),
    "header in capitals": ("products", lambda t: t.rename_columns([c.upper() if c == "brand" else c
                                                                   for c in t.column_names]), "products"),
    "timestamps with a time zone": ("visits", _retype("checkin_at", lambda v: pa.array(
        [None if x is None else pd.Timestamp(x).tz_localize("Asia/Tehran") for x in v],
        type=pa.timestamp("us", tz="Asia/Tehran"))), "visits"),
    "whole numbers as float": ("customers", _retype("payment_terms_days", lambda v: pa.array(
        [None if x is None else float(x) for x in v])), "customers"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_table_with_a_problem_goes_through_pandas_with_the_same_outcome(tmp_path, mini_frames, case):
    table, edit, checked_by_pandas = CASES[case]
    pandas_checked, engine_checked = _both_ways(_ledger(tmp_path, mini_frames, {table: edit}))
    _same(pandas_checked, engine_checked)
    assert checked_by_pandas not in engine_checked.checked_in_engine
    # the tables without the defect kept the engine's path (those that refer to a table set aside excepted)
    assert {"salespeople", "products", "employees"} - {checked_by_pandas} <= engine_checked.checked_in_engine


VALUE_CASES = {
    "dates as text": ("visits", _retype("planned_date", lambda v: pa.array([None if x is None else x.isoformat()
                                                                             for x in v]))),
    "amounts as text": ("invoice_lines", _retype("quantity", lambda v: pa.array([str(x) for x in v]))),
    "ids written as whole numbers": ("employees", _retype("employee_id", lambda v: pa.array(
        list(range(1, len(v) + 1)), type=pa.int64()))),
    "an extra text column": ("invoices", _add("branch", lambda n: pa.array(["north"] * n))),
    "an extra whole-number column without blanks": ("invoices", _add("batch", lambda n: pa.array(range(n),
                                                                                                  pa.int64()))),
    "an extra whole-number column with blanks": ("invoices", _add("batch", lambda n: pa.array(
        [None] + list(range(n - 1)), pa.int64()))),
    "an extra true/false column with blanks": ("invoices", _add("exported", lambda n: pa.array(
        [None] + [True] * (n - 1), pa.bool_()))),
    "an extra date column": ("invoices", _add("printed", lambda n: pa.array([dt.date(2025, 1, 2)] * n,
                                                                             pa.date32()))),
    "an extra timestamp column in seconds": ("invoices", _add("printed_at", lambda n: pa.array(
        [dt.datetime(2025, 1, 2, 3, 4, 5)] * n, pa.timestamp("s")))),
    "timestamps in milliseconds for a date column": ("invoices", _retype("due_date", lambda v: pa.array(
        [None if x is None else dt.datetime.combine(x, dt.time(13, 30)) for x in v], pa.timestamp("ms")))),
    "an optional column absent": ("invoices", lambda t: t.drop_columns(["approved_by"])),
    "a value outside an extendable vocabulary": ("customers", _replace(
        "customer_class", lambda v: ["export", "export"] + v[2:])),
    # orders are absent from the mini ledger: its ids cannot be checked (a warning)
    "an optional reference to an absent table": ("invoices", _retype("order_id", lambda v: pa.array(
        ["O1"] * len(v), pa.string()))),
}


# pandas reads a whole-number or true/false column with blanks as float or objects: such extra columns are
# left to the pandas checks, which keep them as pandas reads them
LEFT_TO_PANDAS = {"an extra whole-number column with blanks", "an extra true/false column with blanks"}


@pytest.mark.parametrize("case", sorted(VALUE_CASES))
def test_values_the_engine_reads_as_pandas_does(tmp_path, mini_frames, case):
    table, edit = VALUE_CASES[case]
    pandas_checked, engine_checked = _both_ways(_ledger(tmp_path, mini_frames, {table: edit}))
    _same(pandas_checked, engine_checked)
    assert (table in engine_checked.checked_in_engine) == (case not in LEFT_TO_PANDAS)


def test_the_fallback_reasons_are_not_vacuous(tmp_path, mini_frames):
    """The defect cases above do reach pandas' problems (so comparing them compares something)."""
    unknown = _both_ways(_ledger(tmp_path / "unknown", mini_frames, {"invoices": CASES["unknown customer"][1]}))[1]
    assert any(p.table == "invoices" and p.column == "customer_id" for p in unknown.problems)
    absent = _both_ways(_ledger(tmp_path / "absent", mini_frames,
                                {"invoices": VALUE_CASES["an optional reference to an absent table"][1]}))[1]
    assert any(p.table == "invoices" and p.column == "order_id" and p.kind == "references not checked"
               for p in absent.problems)


def test_a_large_float_key_stays_in_pandas(tmp_path, mini_frames):
    edit = _retype("line_no", lambda v: pa.array([float(2**53 + 2)] + [float(x) for x in v[1:]]))
    pandas_checked, engine_checked = _both_ways(_ledger(tmp_path, mini_frames, {"invoice_lines": edit}))
    _same(pandas_checked, engine_checked)
    assert "invoice_lines" not in engine_checked.checked_in_engine


# ---------------------------------------------------------------- CSV files, as written by other software

def _csv_ledger(tmp_path, edits=None, policy_lines=()) -> str:
    """The mini ledger's CSV files with ``edits`` {file: function(text) -> text}."""
    folder = tmp_path / "csv"
    shutil.copytree(MINI, folder)
    for name, edit in (edits or {}).items():
        path = folder / f"{name}.csv"
        path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    if policy_lines:
        policy = folder / "policy.toml"
        policy.write_text("\n".join(policy_lines) + "\n" + policy.read_text(encoding="utf-8"), encoding="utf-8")
    return str(folder)


def _csv_both_ways(folder: str):
    policy = load_policy(f"{folder}/policy.toml")
    return [validate(load(folder, lazy=True), policy, RUN_DATE, consume=True, stage=True, engine_checks=engine)
            for engine in (False, True)]


def _cell(row: int, column: str, value: str):
    """Replace one value (data row ``row``, 0-based) of a plain CSV file."""
    def edit(text: str) -> str:
        lines = text.splitlines()
        header = lines[0].split(",")
        cells = lines[row + 1].split(",")
        cells[header.index(column)] = value
        lines[row + 1] = ",".join(cells)
        return "\n".join(lines) + "\n"
    return edit


CSV_CASES = {  # case: (file, edit, stays in the engine)
    "amount with an exponent": ("receipts", _cell(0, "amount", "1.5e+06"), True),
    "amount with a long decimal": ("receipts", _cell(0, "amount", "1234.5678901234567890123"), True),
    "amount with a thousands separator": ("receipts", _cell(0, "amount", '"1,500,000"'), False),
    "amount with a plus sign": ("receipts", _cell(0, "amount", "+1500"), False),
    "whole number written 30.0": ("customers", _cell(0, "payment_terms_days", "30.0"), True),
    "whole number written 30.5": ("customers", _cell(0, "payment_terms_days", "30.5"), False),
    "time written with T": ("visits", _cell(0, "checkin_at", "2025-03-03T10:05:00"), True),
    "time without seconds": ("visits", _cell(0, "checkin_at", "2025-03-03 10:05"), True),
    "time with an offset": ("visits", _cell(0, "checkin_at", "2025-03-03T10:05:00+03:30"), False),
    "date with a time of day": ("invoices", _cell(0, "due_date", "2025-04-02 15:00:00"), True),
    "date that does not exist": ("invoices", _cell(0, "due_date", "2025-02-30"), False),
    "date day/month/year": ("invoices", _cell(0, "due_date", "02/04/2025"), False),
    "hour 24": ("visits", _cell(0, "checkin_at", "2025-03-03 24:00:00"), False),
    "padded id": ("invoices", _cell(0, "customer_id", " C1"), False),
    "quoted blank": ("invoices", _cell(0, "approved_by", '""'), True),  # a blank both ways
    "repeated column": ("products", lambda text: text.replace("brand", "name", 1), False),
    "a line with a value too many": ("products", lambda text: text.rstrip("\n") + ",extra\n", False),
    "a blank line": ("products", lambda text: text.replace("\n", "\n\n", 1), None),
    "a header in capitals": ("products", lambda text: text.replace("brand", "Brand", 1), False),
    "a quoted value with a comma and a line break": ("employees", _cell(0, "address", '"Street 1,\nTehran"'), True),
}


@pytest.mark.parametrize("case", sorted(CSV_CASES))
def test_csv_files_read_as_pandas_reads_them(tmp_path, case):
    table, edit, in_engine = CSV_CASES[case]
    pandas_checked, engine_checked = _csv_both_ways(_csv_ledger(tmp_path, {table: edit}))
    _same(pandas_checked, engine_checked)
    if in_engine is not None:
        assert (table in engine_checked.checked_in_engine) == in_engine
    assert "salespeople" in engine_checked.checked_in_engine


def test_text_dates_in_the_jalali_calendar_are_left_to_pandas(tmp_path):
    folder = _csv_ledger(tmp_path, {"invoices": _cell(0, "invoice_date", "1403/12/13")},
                         policy_lines=['calendar = "jalali"'])
    pandas_checked, engine_checked = _csv_both_ways(folder)
    _same(pandas_checked, engine_checked)
    assert "invoices" not in engine_checked.checked_in_engine
    assert "products" in engine_checked.checked_in_engine  # no dates: the calendar does not matter


def test_numbers_written_as_text_parse_to_the_same_double(tmp_path):
    """pandas and DuckDB round every plain decimal, long or with an exponent, to the same double."""
    rng = np.random.default_rng(7)
    values = np.concatenate([rng.random(2000) * 10.0 ** rng.integers(-12, 15, 2000), rng.normal(0, 1e9, 2000)])
    texts = [f"{abs(v):.10g}" for v in values] + [repr(abs(float(v))) for v in values] + [
        f"{abs(v):.22f}" for v in values[:500]]
    frame = pd.read_csv(MINI / "receipt_allocations.csv", dtype=str)
    rows = pd.concat([frame.iloc[[0]]] * len(texts), ignore_index=True)
    rows["amount"] = texts
    folder = _csv_ledger(tmp_path)
    rows.to_csv(f"{folder}/receipt_allocations.csv", index=False)
    pandas_checked, engine_checked = _csv_both_ways(folder)
    _same(pandas_checked, engine_checked)
    assert "receipt_allocations" in engine_checked.checked_in_engine


def test_the_variable_turns_the_engine_checks_on(tmp_path, mini_frames, monkeypatch):
    folder = _ledger(tmp_path, mini_frames)
    policy = load_policy(MINI / "policy.toml")
    monkeypatch.delenv("SALES_AUDIT_ENGINE_CHECKS", raising=False)  # off by default (docs/engines.md)
    assert validate(load(folder, lazy=True), policy, RUN_DATE, consume=True, stage=True).checked_in_engine == set()
    monkeypatch.setenv("SALES_AUDIT_ENGINE_CHECKS", "0")
    assert validate(load(folder, lazy=True), policy, RUN_DATE, consume=True, stage=True).checked_in_engine == set()
    monkeypatch.setenv("SALES_AUDIT_ENGINE_CHECKS", "1")
    assert "invoices" in validate(load(folder, lazy=True), policy, RUN_DATE, consume=True, stage=True).checked_in_engine


def test_a_table_checked_in_the_engine_is_never_read_into_pandas(tmp_path, mini_frames):
    loaded = load(_ledger(tmp_path, mini_frames), lazy=True)
    read = []
    for name, source in loaded.tables.items():
        source.reader = lambda problems, read_file=source.reader, name=name: read.append(name) or read_file(problems)
    checked = validate(loaded, load_policy(MINI / "policy.toml"), RUN_DATE, consume=True, stage=True,
                       engine_checks=True)
    assert read == [] and checked.checked_in_engine == set(checked.frames)
