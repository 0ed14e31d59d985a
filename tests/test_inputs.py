"""Inputs that cannot be trusted as they are (issue 19's probes, issue 17's ids and set-aside share).

Each test changes a copy of the mini ledger the way a probe did: infinite and absurd numbers, dates
written day/month/year, with an offset or centuries away, repeated and case-differing headers, ids
written differently in a child and its parent, a 0-byte table, and `audit validate`'s report of it all.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from audit.cli import app
from audit.loading import load
from audit.policy import policy_from_dict
from audit.problems import FATAL, ROW, WARNING, InputError
from audit.registry import detector_classes
from audit.runner import run
from audit.validation import load_and_validate, validate

from .conftest import MINI, SHARED

runner = CliRunner()


def _cli(*args):
    result = runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
    return result, " ".join(result.output.split())


def _read(folder: Path, table: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{table}.csv", dtype=str, keep_default_na=False, na_values=[""])


def _write(frame: pd.DataFrame, folder: Path, table: str) -> None:
    frame.to_csv(folder / f"{table}.csv", index=False)


def _set(folder: Path, table: str, row: int, column: str, value) -> None:
    """Set one cell; ``row`` is the 0-based data row (source row ``row + 2``)."""
    frame = _read(folder, table)
    frame.loc[row, column] = value
    _write(frame, folder, table)


def _policy(base, **data):
    """``base`` with keys of the [data] section changed."""
    return policy_from_dict({**base.to_dict(), "data": {**base.to_dict()["data"], **data}})


def _lenient(base):
    # A tiny ledger's one bad row is 25 % of its table: these tests look at the row, not the share.
    return _policy(base, max_set_aside_pct=100)


def _only(problems, **where):
    found = [p for p in problems if all(getattr(p, k) == v for k, v in where.items())]
    assert len(found) == 1, (where, [p.describe() for p in problems])
    return found[0]


# ------------------------------------------------------------------ numbers: inf, nan, 1e308

def test_infinite_and_absurd_quantities_are_set_aside_and_named(mini_copy, mini_policy):
    lines = _read(mini_copy, "invoice_lines")
    lines.loc[0, "quantity"] = "inf"  # I1/1, row 2
    lines.loc[1, "quantity"] = "1e308"  # I1/2, row 3
    lines.loc[2, "unit_price"] = "-inf"  # I2/1, row 4
    lines.loc[3, "quantity"] = "nan"  # I2/2, row 5
    lines.loc[4, "list_price"] = "Infinity"  # optional column: blanked, the row kept
    _write(lines, mini_copy, "invoice_lines")
    tables = validate(load(mini_copy), _lenient(mini_policy))
    for row, column, value, words in [(2, "quantity", "inf", "not a finite number"),
                                      (3, "quantity", "1e308", "implausibly large number"),
                                      (4, "unit_price", "-inf", "not a finite number"),
                                      (5, "quantity", "nan", "not a finite number")]:
        problem = _only(tables.problems, table="invoice_lines", row=row, column=column)
        assert problem.severity == ROW and problem.value == value and words in problem.problem
        assert problem.fix
    blanked = _only(tables.problems, table="invoice_lines", column="list_price")
    assert blanked.severity == WARNING and "not a finite number" in blanked.problem
    assert "max_abs_number" in _only(tables.problems, row=3, column="quantity").problem
    frame = tables.frames["invoice_lines"]
    assert len(frame) == 7 - 4
    numbers = frame[["quantity", "unit_price", "list_price", "discount_pct"]].astype("float64")
    assert np.isfinite(numbers.fillna(0)).all().all()


def test_no_finding_has_infinite_money_at_risk(mini_copy, mini_policy):
    _set(mini_copy, "invoice_lines", 0, "quantity", "inf")
    _set(mini_copy, "invoice_lines", 1, "unit_price", "1e308")
    result = run(mini_copy, _lenient(mini_policy))
    assert len(result.exceptions)
    assert np.isfinite(result.exceptions["risk_amount"].astype("float64")).all()


def test_typed_infinity_from_parquet_is_set_aside(tmp_path, mini_policy):
    folder = tmp_path / "parquet"
    folder.mkdir()
    for path in MINI.glob("*.csv"):
        frame = pd.read_csv(path)
        if path.stem == "invoice_lines":
            frame["quantity"] = frame["quantity"].astype("float64")
            frame.loc[0, "quantity"] = np.inf
        frame.to_parquet(folder / f"{path.stem}.parquet", index=False)
    tables = validate(load(folder), _lenient(mini_policy))
    problem = _only(tables.problems, table="invoice_lines", column="quantity")
    assert problem.severity == ROW and "not a finite number" in problem.problem and problem.record_id == "I1/1"


def test_the_bound_on_numbers_is_the_policy_s(mini_copy, mini_policy):
    _set(mini_copy, "invoice_lines", 0, "unit_price", "2e18")
    tables = validate(load(mini_copy), _lenient(mini_policy))
    assert "implausibly large" in _only(tables.problems, column="unit_price").problem
    tables = validate(load(mini_copy), _policy(mini_policy, max_abs_number=1e19))
    assert not tables.problems
    assert tables.frames["invoice_lines"].loc[0, "unit_price"] == 2e18


# ------------------------------------------------------------------ dates: ISO only, local day, window

def test_day_month_dates_are_named_never_guessed(mini_copy, mini_policy):
    _set(mini_copy, "invoices", 0, "invoice_date", "03/02/2025")  # I1, row 2
    _set(mini_copy, "invoices", 1, "invoice_date", "13/02/2025")  # I2, row 3
    tables = validate(load(mini_copy), _lenient(mini_policy))
    ambiguous = _only(tables.problems, table="invoices", row=2, column="invoice_date")
    assert ambiguous.severity == ROW and ambiguous.value == "03/02/2025"
    assert "ISO 8601" in ambiguous.problem and "day and month order cannot be told" in ambiguous.problem
    assert "2025-02-03 or 2025-03-02" in ambiguous.fix
    clear = _only(tables.problems, table="invoices", row=3, column="invoice_date")
    assert clear.severity == ROW and "YYYY-MM-DD" in clear.fix and "2025-02-13" in clear.fix
    assert set(tables.frames["invoices"]["invoice_id"]) == {"I3", "I4"}  # neither date was guessed


def test_a_column_of_day_month_dates_stops_with_the_fix(mini_copy, mini_policy):
    invoices = _read(mini_copy, "invoices")
    invoices["invoice_date"] = pd.to_datetime(invoices["invoice_date"]).dt.strftime("%d/%m/%Y")
    _write(invoices, mini_copy, "invoices")
    with pytest.raises(InputError) as caught:
        load_and_validate(mini_copy, mini_policy)
    fatal = _only(caught.value.problems, severity=FATAL, table="invoices", column="invoice_date")
    assert "unusable" in fatal.problem and "ISO 8601" in fatal.problem and "YYYY-MM-DD" in fatal.fix
    assert "for 03/03/2025: write the date as YYYY-MM-DD (ISO 8601)" in fatal.fix


def test_a_timestamp_with_an_offset_keeps_its_local_day_and_time(mini_copy, mini_policy):
    _set(mini_copy, "invoices", 0, "invoice_date", "2025-01-05T01:00:00+03:30")
    _set(mini_copy, "invoices", 1, "invoice_date", "2025-04-07T23:30:00Z")
    _set(mini_copy, "visits", 0, "checkin_at", "2025-03-03T10:05:00+03:30")
    tables = load_and_validate(mini_copy, mini_policy)
    assert not tables.problems, [p.describe() for p in tables.problems]
    dates = tables.frames["invoices"].set_index("invoice_id")["invoice_date"]
    assert dates["I1"] == pd.Timestamp("2025-01-05") and dates["I2"] == pd.Timestamp("2025-04-07")
    assert tables.frames["visits"].loc[0, "checkin_at"] == pd.Timestamp("2025-03-03 10:05:00")


@pytest.mark.parametrize(("table", "row", "column", "value"), [
    ("invoices", 2, "invoice_date", "2262-05-01"),
    ("receipts", 0, "receipt_date", "1650-01-01"),
    ("cheques", 1, "due_date", "2099-09-15"),
])
def test_dates_outside_the_plausible_window_are_set_aside(mini_copy, mini_policy, table, row, column, value):
    _set(mini_copy, table, row, column, value)
    tables = validate(load(mini_copy), _lenient(mini_policy))
    problem = _only(tables.problems, table=table, column=column)
    assert problem.severity == ROW and problem.row == row + 2 and problem.value == value
    assert "outside the plausible window 1990-01-01 to" in problem.problem
    assert "earliest_date" in problem.fix and "latest_date" in problem.fix


def test_no_component_fails_on_a_date_validation_accepted(mini_copy, mini_policy):
    # The probe: these dates passed validation, then distress and receivables components failed.
    _set(mini_copy, "invoices", 2, "due_date", "2262-05-01")
    _set(mini_copy, "receipts", 0, "posted_date", "1650-01-01")
    _set(mini_copy, "cheques", 1, "due_date", "2099-09-15")
    _set(mini_copy, "customers", 0, "created_date", "2262-12-31")
    result = run(mini_copy, _lenient(mini_policy))
    statuses = result.detector_runs
    assert (statuses["status"] == "ran").any()
    assert not (statuses["status"] == "failed").any(), statuses[statuses["status"] == "failed"].to_dict("records")
    for frame in result.tables.frames.values():
        for column in frame.select_dtypes("datetime").columns:
            assert frame[column].dropna().between("1990-01-01", "2200-01-01").all(), column


def test_the_window_is_the_policy_s_and_history_may_predate_it(mini_copy, mini_policy):
    _set(mini_copy, "invoices", 0, "invoice_date", "1985-06-01")
    customers = _read(mini_copy, "customers")
    customers["established_date"] = ["1975-04-01", "1989-12-31", "2001-01-01"]  # founded before the ledger
    _write(customers, mini_copy, "customers")
    tables = validate(load(mini_copy), _lenient(mini_policy))
    assert {(p.table, p.column) for p in tables.problems if p.kind != "refers to a row set aside"} == {
        ("invoices", "invoice_date")}
    assert tables.frames["customers"]["established_date"].notna().all()
    wide = _policy(mini_policy, earliest_date="1980-01-01", latest_date="2030-12-31")
    assert not validate(load(mini_copy), wide).problems
    _set(mini_copy, "invoices", 0, "invoice_date", "2031-01-01")
    late = _only(validate(load(mini_copy), _lenient(wide)).problems, column="invoice_date")
    assert "1980-01-01 to 2030-12-31" in late.problem


def test_the_window_ends_a_year_after_the_run_date(mini_policy):
    import datetime as dt

    assert mini_policy.data.date_window(dt.date(2025, 6, 30)) == (dt.date(1990, 1, 1), dt.date(2026, 6, 30))
    assert mini_policy.data.date_window(dt.date(2024, 2, 29))[1] == dt.date(2025, 2, 28)


# ------------------------------------------------------------------ headers

def test_name_and_Name_with_different_values_are_an_error_naming_both(mini_copy, mini_policy):
    customers = _read(mini_copy, "customers")
    customers["Name"] = customers["name"].str.upper()
    _write(customers, mini_copy, "customers")
    tables = validate(load(mini_copy), mini_policy)
    problem = _only(tables.problems, severity=FATAL, table="customers")
    assert "'name' and 'Name'" in problem.problem and "different values" in problem.problem
    assert "row 2" in problem.problem and problem.column == "name"
    result, words = _cli("validate", "--data", mini_copy)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "columns 'name' and 'Name' differ only in case or spaces" in words


def test_name_and_spaced_Name_with_equal_values_are_one_column(mini_copy, mini_policy):
    customers = _read(mini_copy, "customers")
    customers[" Name "] = customers["name"]
    _write(customers, mini_copy, "customers")
    tables = load_and_validate(mini_copy, mini_policy)
    problem = _only(tables.problems, table="customers")
    assert problem.severity == WARNING and "same values" in problem.problem and "' Name '" in problem.problem
    assert list(tables.frames["customers"].columns).count("name") == 1
    assert tables.frames["customers"]["name"].tolist()[0] == "Parsa Market"


def test_an_exactly_repeated_column_is_an_error_naming_it(mini_copy, mini_policy):
    text = (MINI / "invoices.csv").read_text().splitlines()
    text = [text[0] + ",customer_id"] + [line + ",C1" for line in text[1:]]
    (mini_copy / "invoices.csv").write_text("\n".join(text) + "\n")
    tables = validate(load(mini_copy), mini_policy)
    problem = _only(tables.problems, severity=FATAL, table="invoices")
    assert problem.problem == "column 'customer_id' appears 2 times in the header"
    assert "keep one column named 'customer_id'" in problem.fix
    # a repeated column the audit does not read is only a warning, the first copy kept
    text = (MINI / "products.csv").read_text().splitlines()
    text = [text[0] + ",note,note"] + [line + ",a,b" for line in text[1:]]
    (mini_copy / "products.csv").write_text("\n".join(text) + "\n")
    problem = _only(validate(load(mini_copy), mini_policy).problems, table="products")
    assert problem.severity == WARNING and "'note' appears 2 times" in problem.problem


def test_a_repeated_column_in_a_workbook_is_named(tmp_path, mini_policy):
    frames = {path.stem: pd.read_csv(path, dtype=str) for path in MINI.glob("*.csv")}
    salespeople = frames["salespeople"]
    frames["salespeople"] = pd.concat([salespeople, salespeople[["name"]]], axis=1)
    assert list(frames["salespeople"].columns).count("name") == 2
    with pd.ExcelWriter(tmp_path / "ledger.xlsx") as writer:
        for name, frame in frames.items():
            frame.to_excel(writer, sheet_name=name, index=False)
    tables = validate(load(tmp_path / "ledger.xlsx"), mini_policy)
    problem = _only(tables.problems, severity=FATAL, table="salespeople")
    assert "'name' appears 2 times" in problem.problem


# ------------------------------------------------------------------ ids written differently

def test_ids_differing_in_case_are_matched_with_a_warning(mini_copy, mini_policy):
    _set(mini_copy, "invoices", 2, "customer_id", "c3")  # I3 of customer C3
    tables = load_and_validate(mini_copy, mini_policy)
    problem = _only(tables.problems, table="invoices", column="customer_id")
    assert problem.severity == WARNING and "'c3' for 'C3'" in problem.problem and "case" in problem.problem
    invoices = tables.frames["invoices"].set_index("invoice_id")
    assert len(invoices) == 4 and invoices.loc["I3", "customer_id"] == "C3"


def test_ids_written_5_0_and_5_are_matched_and_the_run_finds_things(mini_copy, mini_policy):
    # Issue 17: salesperson ids written "5.0" in invoices and "5" in salespeople set aside every invoice.
    number = {"S1": "5", "S2": "6"}
    for table, column in [("salespeople", "salesperson_id"), ("customers", "assigned_salesperson_id")]:
        frame = _read(mini_copy, table)
        frame[column] = frame[column].map(number)
        _write(frame, mini_copy, table)
    for table in ("invoices", "visits"):
        frame = _read(mini_copy, table)
        frame["salesperson_id"] = frame["salesperson_id"].map(number) + ".0"
        _write(frame, mini_copy, table)
    result, words = _cli("validate", "--data", mini_copy)
    assert result.exit_code == 0, words
    assert "invoices: 4 read, 4 kept" in words
    assert "4 rows write salesperson_id differently from salespeople.salesperson_id" in words
    assert "'5.0' for '5'" in words and "a trailing .0" in words
    run_result = run(mini_copy)
    assert set(run_result.tables.frames["invoices"]["salesperson_id"]) == {"5", "6"}
    assert len(run_result.exceptions)


def test_zero_padded_ids_are_refused_saying_how_each_file_writes_them(mini_copy, mini_policy):
    customers = _read(mini_copy, "customers")
    customers["customer_id"] = ["49", "50", "51"]
    _write(customers, mini_copy, "customers")
    for table in ("invoices", "shipments", "receipts", "cheques", "confirmations"):
        frame = _read(mini_copy, table)
        frame["customer_id"] = frame["customer_id"].map({"C1": "000049", "C2": "000050", "C3": "000051"})
        _write(frame, mini_copy, table)
    with pytest.raises(InputError) as caught:
        load_and_validate(mini_copy, mini_policy)
    row = next(p for p in caught.value.problems if p.table == "invoices" and p.column == "customer_id")
    assert row.severity == ROW
    assert "invoices.customer_id writes '000049' where customers.customer_id writes '49'" in row.problem
    assert "leading zeros" in row.fix
    fatal = _only(caught.value.problems, severity=FATAL, table="invoices")
    assert "all 4 rows of invoices were set aside" in fatal.problem and "leading zeros" in fatal.problem


def test_ids_that_would_match_two_parents_are_refused(mini_copy, mini_policy):
    products = _read(mini_copy, "products")
    products.loc[len(products)] = ["Ab1", "Tea 1kg", "Golestan", "tea", "box", "190000"]
    products.loc[len(products)] = ["aB1", "Tea 2kg", "Golestan", "tea", "box", "370000"]  # another product
    _write(products, mini_copy, "products")
    _set(mini_copy, "shipment_lines", 2, "product_id", "AB1")  # SH2's line, row 4: which of the two?
    _set(mini_copy, "shipment_lines", 3, "product_id", "7.0")  # no product 7 at all
    tables = validate(load(mini_copy), _lenient(mini_policy))
    problem = _only(tables.problems, table="shipment_lines", column="product_id", row=4)
    assert problem.severity == ROW and problem.value == "AB1"
    assert "products.product_id has 'Ab1' and 'aB1'" in problem.problem and "not matched" in problem.problem
    assert "exactly as products.product_id writes it" in problem.fix
    missing = _only(tables.problems, table="shipment_lines", column="product_id", row=5)
    assert missing.problem == "refers to products 7.0, which does not exist"


# ------------------------------------------------------------------ set-aside share, empty after set-aside

def test_losing_more_than_the_policy_share_stops_before_any_detector(mini_copy, mini_policy):
    _set(mini_copy, "invoices", 3, "customer_id", "C9")  # 1 of 4 invoices (25 %), and its lines follow
    with pytest.raises(InputError) as caught:
        run(mini_copy, mini_policy)
    fatal = _only(caught.value.problems, severity=FATAL, table="invoices")
    assert "1 of 4 rows of invoices (25.0 %) were set aside" in fatal.problem
    assert "max_set_aside_pct of 5 %" in fatal.problem and "refers to a missing record" in fatal.problem
    assert "max_set_aside_pct" in fatal.fix
    # under a policy that accepts losing a quarter, the same data is audited
    assert len(run(mini_copy, _policy(mini_policy, max_set_aside_pct=50)).tables.frames["invoices"]) == 3


def test_a_required_table_left_empty_stops_with_the_cause(mini_copy, mini_policy):
    invoices = _read(mini_copy, "invoices")
    invoices["invoice_date"] = ["2025-03-03", "2025-04-07", "2025-04-31", "2025-02-30"]
    invoices.loc[:1, "customer_id"] = "C9"
    _write(invoices, mini_copy, "invoices")
    result, words = _cli("validate", "--data", mini_copy, "--policy", _toml(mini_copy, max_set_aside_pct=100))
    assert result.exit_code == 1
    assert re.search(r"fatal invoices: all 4 rows of invoices were set aside: nothing is left to audit; the "
                     r"commonest cause is '[^']+' in column \w+ \(2 row\(s\)", words), words
    with pytest.raises(InputError):
        run(mini_copy, mini_copy / "strict.toml")


def _toml(folder: Path, **data) -> Path:
    path = folder / "strict.toml"
    lines = (MINI / "policy.toml").read_text() + "\n[data]\n" + "".join(f"{k} = {v}\n" for k, v in data.items())
    path.write_text(lines)
    return path


# ------------------------------------------------------------------ 0-byte tables

def test_a_0_byte_optional_table_does_not_stop_the_run(mini_copy, mini_policy):
    (mini_copy / "cheques.csv").write_bytes(b"")
    result, words = _cli("validate", "--data", mini_copy)
    assert result.exit_code == 0, words
    assert "cheques.csv is empty (not even a header row): the table is not used" in words
    run_result = run(mini_copy, mini_policy)
    statuses = run_result.detector_runs.set_index("detector")
    need_cheques = {cls.code for cls in detector_classes() if "cheques" in cls.requires}
    assert need_cheques and (statuses.loc[sorted(need_cheques), "status"] == "not run").all()
    assert not (statuses["status"] == "failed").any()


@pytest.mark.parametrize("suffix", [".parquet", ".xlsx"])
def test_a_0_byte_optional_table_in_another_format_is_a_warning(mini_copy, mini_policy, suffix):
    (mini_copy / "confirmations.csv").unlink()
    (mini_copy / f"confirmations{suffix}").write_bytes(b"")
    tables = load_and_validate(mini_copy, mini_policy)
    problem = _only(tables.problems, table="confirmations")
    assert problem.severity == WARNING and problem.action == "table ignored"
    assert "confirmations" not in tables.frames


def test_a_0_byte_required_table_is_fatal(mini_copy, mini_policy):
    (mini_copy / "customers.csv").write_bytes(b"")
    with pytest.raises(InputError) as caught:
        load_and_validate(mini_copy, mini_policy)
    problem = _only(caught.value.problems, severity=FATAL, table="customers")
    assert problem.problem == "customers.csv is empty" and "header row" in problem.fix


# ------------------------------------------------------------------ validate: everything at once, summary first

def test_validate_reports_dangling_references_into_a_table_with_a_fatal_problem(mini_copy, mini_policy):
    customers = _read(mini_copy, "customers").drop(columns=["created_date"])
    _write(customers, mini_copy, "customers")
    _set(mini_copy, "invoices", 3, "customer_id", "C9")
    tables = validate(load(mini_copy), mini_policy)
    assert "required column created_date is missing" in _only(
        tables.problems, severity=FATAL, table="customers").problem
    dangling = _only(tables.problems, table="invoices", column="customer_id", row=5)
    assert dangling.severity == ROW and "refers to customers C9, which does not exist" in dangling.problem
    assert not [p for p in tables.problems if "cannot be checked" in p.problem]
    result, words = _cli("validate", "--data", mini_copy)
    assert result.exit_code == 1
    assert "customers, column created_date: required column created_date is missing" in words
    assert "invoices, column customer_id, row 5, id I4: refers to customers C9" in words


def test_validate_summarises_by_type_and_table_before_the_rows(mini_copy, tmp_path):
    invoices = _read(mini_copy, "invoices")
    extra = pd.DataFrame({"invoice_id": [f"X{i}" for i in range(250)], "invoice_no": range(5000, 5250),
                          "invoice_date": "2025-04-01", "customer_id": None, "salesperson_id": "S1"})
    _write(pd.concat([invoices, extra], ignore_index=True), mini_copy, "invoices")
    lines = _read(mini_copy, "invoice_lines")
    negative = pd.DataFrame({"invoice_id": "I1", "line_no": range(10, 310), "product_id": "P1",
                             "quantity": "-1", "unit_price": "100000"})
    _write(pd.concat([lines, negative], ignore_index=True), mini_copy, "invoice_lines")
    out = tmp_path / "report"
    result, words = _cli("validate", "--data", mini_copy, "--out", out)
    assert result.exit_code == 1
    summary = words.index("Problems by type and table")
    first_row = words.index("row invoices, column customer_id")
    assert summary < first_row
    head = words[summary:first_row]
    assert "row 300 invoice_lines.quantity: must not be negative" in head
    assert "row 250 invoices.customer_id: required value is blank" in head
    assert "fatal 1 invoice_lines: too many rows set aside" in head
    # examples of every type, not 200 lines of the first one
    assert "invoice_lines, column quantity, row 9, id I1/10: must not be negative" in words
    assert "invoices: 254 read, 4 kept (250 set aside)" in words
    assert "invoice_lines: 307 read, 7 kept (300 set aside)" in words
    written = out / "data_quality.csv"
    assert f"written to {written}" in words and f"more (all of them are in {written})" in words
    quality = pd.read_csv(written)
    assert len(quality) == len(quality.drop_duplicates()) >= 552
    assert (quality["problem"] == "must not be negative").sum() == 300


def test_validate_without_out_says_how_to_get_every_problem(mini_copy):
    lines = _read(mini_copy, "invoice_lines")
    negative = pd.DataFrame({"invoice_id": "I1", "line_no": range(10, 310), "product_id": "P1",
                             "quantity": "-1", "unit_price": "100000"})
    _write(pd.concat([lines, negative], ignore_index=True), mini_copy, "invoice_lines")
    result, words = _cli("validate", "--data", mini_copy)
    assert "`audit validate --out DIR` writes all of them to DIR/data_quality.csv" in words
    assert not list(mini_copy.parent.rglob("data_quality.csv"))


def test_problem_text_is_not_read_as_markup(mini_copy):
    _set(mini_copy, "invoices", 0, "invoice_date", "[bold]2025[/bold]")
    result, words = _cli("validate", "--data", mini_copy)
    assert "(value '[bold]2025[/bold]')" in words


# ------------------------------------------------------------------ issue 17 on the Northwind export

NORTHWIND = SHARED / "data" / "northwind"


@pytest.mark.skipif(not NORTHWIND.is_dir(), reason="shared/data/northwind is not beside the repository")
def test_northwind_with_ids_written_5_0_is_audited_and_zero_padded_ids_stop(tmp_path):
    folder = tmp_path / "northwind"
    shutil.copytree(NORTHWIND, folder)
    for table in ("invoices", "orders"):
        frame = _read(folder, table)
        frame["salesperson_id"] = frame["salesperson_id"] + ".0"  # as a spreadsheet writes a number
        _write(frame, folder, table)
    result, words = _cli("validate", "--data", folder)
    assert result.exit_code == 0, words
    assert "invoices: 830 read, 830 kept" in words
    assert "830 rows write salesperson_id differently from salespeople.salesperson_id" in words
    lines = _read(folder, "invoice_lines")
    lines["product_id"] = lines["product_id"].str.zfill(6)  # 11 -> 000011
    _write(lines, folder, "invoice_lines")
    result, words = _cli("validate", "--data", folder)
    assert result.exit_code == 1
    assert "fatal 1 invoice_lines: required table empty after set-aside" in words
    assert ("invoice_lines.product_id writes '000011' where products.product_id writes '11' (leading zeros "
            "differ)") in words


def test_validate_out_that_is_a_file_is_a_message(mini_copy, tmp_path):
    blocker = tmp_path / "taken"
    blocker.write_text("a file, not a folder")
    result, words = _cli("validate", "--data", mini_copy, "--out", blocker)
    assert result.exit_code != 0 and "Traceback" not in result.output
    squeezed = "".join(result.output.split())  # a long path may be wrapped
    assert f"cannotwrite{blocker / 'data_quality.csv'}:{blocker}isafile,notafolder" in squeezed
