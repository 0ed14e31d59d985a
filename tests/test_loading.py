"""Every input source gives the same checked tables, and every bad input gives a message, not a traceback.

Sources: a folder of CSV / Parquet / XLSX files, one workbook with a sheet per table, a DuckDB file and a
real PostgreSQL server that the tests start themselves. Then Persian digits and Jalali dates, the bad
files a company actually sends, the five-problem dataset through the CLI, the row accounting of a run
and a run without an optional table.
"""

from __future__ import annotations

import datetime as dt
import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from audit.cli import app
from audit.contract import DATE, FLOAT, INT, TABLES
from audit.loading import load
from audit.policy import load_policy, policy_from_dict
from audit.problems import FATAL, ROW, WARNING, InputError
from audit.registry import detector_classes
from audit.runner import run
from audit.validation import load_and_validate, parse_column, validate

from .conftest import MINI

runner = CliRunner()
PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def _cli(*args):
    # catch_exceptions=False: an exception escaping the CLI fails the test instead of being captured.
    result = runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
    return result, " ".join(result.output.split())  # Rich wraps long lines; compare on words


def _raw_mini() -> dict[str, pd.DataFrame]:
    """The mini tables exactly as text, the way a CSV export holds them."""
    return {path.stem: pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
            for path in sorted(MINI.glob("*.csv"))}


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False)


def _assert_same_frames(actual, expected) -> None:
    assert sorted(actual.frames) == sorted(expected.frames)
    for name, frame in expected.frames.items():
        pd.testing.assert_frame_equal(actual.frames[name], frame, obj=f"table {name}")


def _problems(tables_or_error, severity=None) -> list:
    problems = tables_or_error.problems
    return [p for p in problems if severity is None or p.severity == severity]


# ------------------------------------------------------------------ the baseline and its other forms

@pytest.fixture(scope="module")
def baseline(mini_policy):
    tables = load_and_validate(MINI, mini_policy)
    assert not tables.problems
    # Non-trivial: every CSV table is there with its rows, so "identical" below means something.
    assert sorted(tables.frames) == sorted(p.stem for p in MINI.glob("*.csv"))
    assert all(len(frame) for frame in tables.frames.values())
    return tables


@pytest.fixture(scope="module")
def typed_mini(baseline) -> dict[str, pd.DataFrame]:
    """The checked tables with real types (dates, numbers), only the columns the CSV files have."""
    return {name: frame[[c for c in frame.columns if c in baseline.present_columns[name]]].copy()
            for name, frame in baseline.frames.items()}


def _csv_bom_crlf(target: Path, raw, typed) -> Path:
    folder = target / "csv"
    folder.mkdir()
    for name, frame in raw.items():
        frame.to_csv(folder / f"{name}.csv", index=False, encoding="utf-8-sig", lineterminator="\r\n")
    assert (folder / "invoices.csv").read_bytes().startswith(b"\xef\xbb\xbfinvoice_id,")
    return folder


def _parquet_typed(target: Path, raw, typed) -> Path:
    folder = target / "parquet"
    folder.mkdir()
    for name, frame in typed.items():
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    return folder


def _parquet_text(target: Path, raw, typed) -> Path:
    folder = target / "parquet_text"
    folder.mkdir()
    for name, frame in raw.items():
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    return folder


def _xlsx_files(target: Path, raw, typed) -> Path:
    folder = target / "xlsx"
    folder.mkdir()
    for name, frame in typed.items():  # numbers as numbers, dates as dates, as Excel users keep them
        frame.to_excel(folder / f"{name}.xlsx", index=False)
    return folder


def _workbook(target: Path, raw, typed) -> Path:
    path = target / "ledger.xlsx"
    with pd.ExcelWriter(path) as writer:
        for name, frame in raw.items():
            frame.to_excel(writer, sheet_name=name, index=False)
    return path


def _duckdb_file(target: Path, raw, typed) -> Path:
    path = target / "ledger.duckdb"
    with duckdb.connect(str(path)) as connection:
        for name, frame in typed.items():
            connection.register("incoming", frame)
            connection.execute(f'create table "{name}" as select * from incoming')
            connection.unregister("incoming")
        assert connection.execute(
            "select data_type from information_schema.columns "
            "where table_name = 'invoices' and column_name = 'invoice_date'").fetchone()[0].startswith("TIMESTAMP")
    return path


SOURCES = {
    "csv folder (BOM, CRLF)": _csv_bom_crlf,
    "parquet folder (typed)": _parquet_typed,
    "parquet folder (text)": _parquet_text,
    "xlsx folder": _xlsx_files,
    "xlsx workbook": _workbook,
    "duckdb file": _duckdb_file,
}


@pytest.mark.parametrize("kind", list(SOURCES))
def test_every_file_source_gives_the_same_frames(kind, baseline, typed_mini, mini_policy, tmp_path):
    source = SOURCES[kind](tmp_path, _raw_mini(), typed_mini)
    tables = load_and_validate(source, mini_policy)
    assert not tables.problems, [p.describe() for p in tables.problems]
    _assert_same_frames(tables, baseline)
    assert tables.present_columns == baseline.present_columns


# ------------------------------------------------------------------ a real PostgreSQL server

def _postgres_bin_dir() -> Path | None:
    """Where initdb and pg_ctl live: on PATH, else the newest Debian /usr/lib/postgresql/<v>/bin."""
    found = shutil.which("initdb")
    if found:
        folder = Path(found).resolve().parent
        if (folder / "pg_ctl").exists():
            return folder
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                    key=lambda p: [int(x) for x in re.findall(r"\d+", p.split("/")[4])])
    return Path(debian[-1]).parent if debian else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_server():
    """A throw-away PostgreSQL on 127.0.0.1, a free port and a temporary data directory.

    Yields a function giving the SQLAlchemy URL of a database; the server is stopped and its files
    removed at the end of the session."""
    bin_dir = _postgres_bin_dir()
    if bin_dir is None:
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl) on PATH or under /usr/lib/postgresql/*/bin; "
                    "install the postgresql package (.ci/postgres.sh)")
    prefix: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="sales-audit-pg-"))  # not under pytest's 0700 tmp: the server user reads it
    if os.geteuid() == 0:  # initdb refuses to run as root: run the server as an unprivileged user
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            user = pwd.getpwnam("nobody")
        os.chown(root, user.pw_uid, user.pw_gid)
        if shutil.which("runuser"):
            prefix = ["runuser", "-u", user.pw_name, "--"]
        else:
            prefix = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups"]
    data_dir, log = root / "data", root / "server.log"

    def call(*args: str) -> None:
        done = subprocess.run([*prefix, *args], capture_output=True, text=True, timeout=120)
        if done.returncode:
            server_log = log.read_text() if log.exists() else ""
            raise RuntimeError(f"{' '.join(args[:2])} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}\n"
                               f"{server_log}")

    call(str(bin_dir / "initdb"), "-D", str(data_dir), "-U", "postgres", "-A", "trust", "-E", "UTF8",
         "--no-locale", "--no-sync")
    port = None
    for _ in range(3):  # another process may take the free port between the probe and the start
        candidate = _free_port()
        try:
            call(str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-l", str(log), "-w", "-t", "60", "-o",
                 f"-F -p {candidate} -k {root} -c listen_addresses=127.0.0.1", "start")
        except RuntimeError:
            time.sleep(0.2)
            continue
        port = candidate
        break
    if port is None:
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"PostgreSQL did not start:\n{log.read_text() if log.exists() else ''}")
    try:
        yield lambda database: f"postgresql+psycopg://postgres@127.0.0.1:{port}/{database}"
    finally:
        subprocess.run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-m", "immediate", "-w", "stop"],
                       capture_output=True, timeout=120)
        shutil.rmtree(root, ignore_errors=True)


def _sql_types(name: str, frame: pd.DataFrame) -> dict:
    # The types an ERP schema would use: DATE, NUMERIC money, INTEGER counts, TEXT.
    kinds = {c.name: c.type for c in TABLES[name].columns}
    mapping = {DATE: sa.Date(), FLOAT: sa.Numeric(18, 2), INT: sa.Integer()}
    return {c: mapping.get(kinds[c], sa.Text()) for c in frame.columns}


@pytest.fixture(scope="module")
def postgres_mini(postgres_server, typed_mini):
    """Two databases: the mini tables with SQL types, and as plain text columns (``invoices`` as a view)."""
    admin = sa.create_engine(postgres_server("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        for database in ("mini_typed", "mini_text"):
            connection.execute(sa.text(f"drop database if exists {database}"))
            connection.execute(sa.text(f"create database {database}"))
    admin.dispose()
    typed = sa.create_engine(postgres_server("mini_typed"))
    with typed.begin() as connection:
        for name, frame in typed_mini.items():
            frame.to_sql(name, connection, index=False, dtype=_sql_types(name, frame))
    typed.dispose()
    text = sa.create_engine(postgres_server("mini_text"))
    with text.begin() as connection:
        for name, frame in _raw_mini().items():
            frame.to_sql(f"erp_{name}" if name == "invoices" else name, connection, index=False)
        connection.execute(sa.text("create view invoices as select * from erp_invoices"))
    text.dispose()
    return postgres_server


@pytest.mark.postgres
@pytest.mark.parametrize("database", ["mini_typed", "mini_text"])
def test_postgresql_url_gives_the_same_frames(postgres_mini, database, baseline, mini_policy):
    url = postgres_mini(database)
    tables = load_and_validate(url, mini_policy)
    assert not tables.problems, [p.describe() for p in tables.problems]
    _assert_same_frames(tables, baseline)
    assert tables.sources["invoices"].origin.endswith(f"/{database}/invoices")


@pytest.mark.postgres
def test_postgresql_problem_rows_are_named_by_id(postgres_server, typed_mini, mini_policy):
    # A database row has no line number: the problem names the record instead.
    admin = sa.create_engine(postgres_server("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text("drop database if exists mini_bad"))
        connection.execute(sa.text("create database mini_bad"))
    admin.dispose()
    engine = sa.create_engine(postgres_server("mini_bad"))
    with engine.begin() as connection:
        for name, frame in typed_mini.items():
            frame.to_sql(name, connection, index=False, dtype=_sql_types(name, frame))
        connection.execute(sa.text("update invoice_lines set quantity = -40 where invoice_id = 'I2' and line_no = 1"))
    engine.dispose()
    tables = validate(load(postgres_server("mini_bad")), mini_policy)
    negative = [p for p in tables.problems if p.table == "invoice_lines" and p.column == "quantity"]
    assert [(p.severity, p.row, p.record_id, p.problem) for p in negative] == [
        (ROW, None, "I2/1", "must not be negative")]
    assert len(tables.frames["invoice_lines"]) == len(typed_mini["invoice_lines"]) - 1


# ------------------------------------------------------------------ Persian digits and Jalali dates

def test_persian_and_arabic_indic_digits_in_numbers():
    values = pd.Series(["۱٬۲۳۴٫۵", "١٢٣٤", "۱۲۳۴", "٤٥٫٢٥", "1,234,567", " ۷ ", "۱۲٬۳۴", None])
    parsed = parse_column(values, FLOAT)
    assert parsed.tolist()[:6] == [1234.5, 1234.0, 1234.0, 45.25, 1234567.0, 7.0]
    assert parsed[6:].isna().all()  # "12,34" is not a number with thousands separators; blank stays blank
    assert parse_column(pd.Series(["۱۵۰", "٣", "۲٫۵"]), INT).tolist() == [150, 3, pd.NA]


@pytest.mark.parametrize(("jalali", "gregorian"), [
    ("1403/01/01", "2024-03-20"),  # Nowruz 1403
    ("۱۴۰۳/۰۱/۱۵", "2024-04-03"),
    ("١٤٠٣/٠١/١٥", "2024-04-03"),
    ("1402/12/29", "2024-03-19"),
    ("1403/12/30", "2025-03-20"),  # 1403 is a leap year
    ("1404/01/01", "2025-03-21"),
    ("1404-01-01", "2025-03-21"),
    ("1399/10/11", "2020-12-31"),
])
def test_known_jalali_conversions(jalali, gregorian):
    assert parse_column(pd.Series([jalali]), DATE, "jalali")[0] == pd.Timestamp(gregorian)


def test_jalali_timestamps_and_bad_jalali_dates():
    stamps = parse_column(pd.Series(["۱۴۰۳/۰۱/۱۵ ۰۹:۴۵:۰۰", "1404/01/01 23:59:59", "1404/01/01T08:00:00"]),
                          "timestamp", "jalali")
    assert stamps.tolist() == [pd.Timestamp("2024-04-03 09:45:00"), pd.Timestamp("2025-03-21 23:59:59"),
                               pd.Timestamp("2025-03-21 08:00:00")]
    # Not Jalali dates: day 30 of Esfand in a common year, month 13, and a Gregorian date.
    bad = parse_column(pd.Series(["1402/12/30", "1403/13/01", "2024-03-20", "hello"]), DATE, "jalali")
    assert bad.isna().all()


def test_persian_digits_in_gregorian_dates():
    parsed = parse_column(pd.Series(["۲۰۲۵-۰۳-۰۳", "٢٠٢٥-٠٤-٠٧"]), DATE)
    assert parsed.tolist() == [pd.Timestamp("2025-03-03"), pd.Timestamp("2025-04-07")]


def _to_jalali(value, digits):
    import jdatetime

    if pd.isna(value):
        return value
    date = jdatetime.date.fromgregorian(date=dt.date.fromisoformat(value))
    return date.strftime("%Y/%m/%d").translate(digits)


def _persian_number(value):
    if pd.isna(value):
        return value
    number = float(value)
    text = f"{number:,.0f}" if number == int(number) else f"{number:,}"
    return text.replace(",", "٬").replace(".", "٫").translate(PERSIAN)


def _jalali_copy(target: Path) -> Path:
    """The mini ledger as an Iranian ERP exports it: Jalali dates, Persian and Arabic-Indic digits."""
    target.mkdir()
    for name, frame in _raw_mini().items():
        digits = ARABIC_INDIC if name == "cheques" else PERSIAN
        for column in TABLES[name].columns:
            if column.name not in frame.columns:
                continue
            if column.type == DATE:
                frame[column.name] = frame[column.name].map(lambda v, d=digits: _to_jalali(v, d))
            elif column.type in (FLOAT, INT) and name == "invoice_lines":
                frame[column.name] = frame[column.name].map(_persian_number)
            elif column.type in (FLOAT, INT):
                frame[column.name] = frame[column.name].map(lambda v, d=digits: v if pd.isna(v) else v.translate(d))
        if name == "invoices":
            frame["invoice_no"] = frame["invoice_no"].str.translate(PERSIAN)
        _write_csv(frame, target / f"{name}.csv")
    (target / "visits.csv").write_text(
        "visit_id,salesperson_id,customer_id,planned_date,planned_time,checkin_at,status\n"
        "V1,S1,C1,۱۴۰۳/۰۱/۱۵,09:30,۱۴۰۳/۰۱/۱۵ ۰۹:۴۵:۰۰,done\n", encoding="utf-8")
    policy = (MINI / "policy.toml").read_text().replace('currency = "IRR"', 'currency = "IRR"\ncalendar = "jalali"')
    (target / "policy.toml").write_text(policy, encoding="utf-8")
    return target


def test_jalali_ledger_with_persian_digits_gives_the_gregorian_frames(tmp_path, baseline):
    folder = _jalali_copy(tmp_path / "jalali")
    sample = (folder / "invoice_lines.csv").read_text(encoding="utf-8")
    assert "۱٬۴۵۰٬۰۰۰" in sample and "۱۴۰۳" in (folder / "invoices.csv").read_text(encoding="utf-8")
    assert "٢٠٢٥" not in (folder / "cheques.csv").read_text(encoding="utf-8")  # cheque dates are Jalali too
    policy = load_policy(folder / "policy.toml")
    assert policy.calendar == "jalali"
    # Policy holidays stay ISO (Gregorian) whatever the data's calendar: 2025-03-21 is Nowruz 1404.
    assert policy.holidays == (dt.date(2025, 3, 21),)
    tables = load_and_validate(folder, policy)
    assert not tables.problems, [p.describe() for p in tables.problems]
    visits = tables.frames.pop("visits")  # the Jalali copy writes its own visits, with a Jalali timestamp
    assert sorted(tables.frames) == sorted(set(baseline.frames) - {"visits"})
    for name, frame in tables.frames.items():
        pd.testing.assert_frame_equal(frame, baseline.frames[name], obj=f"table {name}")
    assert visits.loc[0, "planned_date"] == pd.Timestamp("2024-04-03")
    assert visits.loc[0, "checkin_at"] == pd.Timestamp("2024-04-03 09:45:00")


def test_gregorian_date_in_a_jalali_ledger_is_a_row_problem(tmp_path):
    folder = _jalali_copy(tmp_path / "jalali")
    invoices = pd.read_csv(folder / "invoices.csv", dtype=str, keep_default_na=False, na_values=[""])
    invoices.loc[2, "invoice_date"] = "2025-04-08"  # read as Jalali this would be the year 2646
    _write_csv(invoices, folder / "invoices.csv")
    tables = validate(load(folder), load_policy(folder / "policy.toml"))
    [problem] = [p for p in tables.problems if p.column == "invoice_date"]
    assert (problem.severity, problem.table, problem.row, problem.value) == (ROW, "invoices", 4, "2025-04-08")
    assert "Jalali calendar (YYYY/MM/DD)" in problem.problem
    assert "I3" not in set(tables.frames["invoices"]["invoice_id"])


def test_jalali_dates_without_jalali_policy_stop_with_the_fix(tmp_path, mini_policy):
    folder = _jalali_copy(tmp_path / "jalali")
    (folder / "policy.toml").unlink()
    with pytest.raises(InputError) as caught:
        load_and_validate(folder, mini_policy)  # calendar = "gregorian": 1403/12/12 is not year 1403
    fatal = {(p.table, p.column) for p in _problems(caught.value, FATAL)}
    assert ("invoices", "invoice_date") in fatal and ("customers", "created_date") in fatal
    assert 'calendar = "jalali"' in str(caught.value)


# ------------------------------------------------------------------ bad input: message, never a traceback

def _replace(name: str, content: bytes):
    def setup(folder: Path) -> Path:
        (folder / f"{name}.csv").write_bytes(content)
        return folder
    return setup


def _swap(name: str, filename: str, content: bytes):
    def setup(folder: Path) -> Path:
        (folder / f"{name}.csv").unlink()
        (folder / filename).write_bytes(content)
        return folder
    return setup


def _file(filename: str, content: bytes):
    def setup(folder: Path) -> Path:
        (folder / filename).write_bytes(content)
        return folder / filename
    return setup


INVOICES = (MINI / "invoices.csv").read_text(encoding="utf-8")
HEADER = INVOICES.splitlines()[0]
PERSIAN_INVOICES = INVOICES.replace("U1", "کاربر")
BIG_CP1256 = "\n".join([HEADER] + INVOICES.splitlines()[1:] * 3000 + [
    "I9,1009,2025-04-09,C1,S1,2025-05-09,,posted,کاربر,"]) + "\n"

# (case, setup(folder) -> source, table named, file named, words of the message, words of the fix)
BAD_INPUTS = [
    ("empty file", _replace("invoices", b""), "invoices", "invoices.csv", "is empty", "header row"),
    ("binary file", _replace("invoices", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))),
     "invoices", "invoices.csv", "is binary, not CSV text", "UTF-8 comma-separated"),
    ("semicolons", _replace("invoices", INVOICES.replace(",", ";").encode()), "invoices", "invoices.csv",
     "separated by semicolons", "comma-separated"),
    ("tabs", _replace("invoices", INVOICES.replace(",", "\t").encode()), "invoices", "invoices.csv",
     "separated by tabs", "comma-separated"),
    ("cp1256", _replace("invoices", PERSIAN_INVOICES.encode("cp1256")), "invoices", "invoices.csv",
     "is not UTF-8 text", "save the file as UTF-8"),
    ("cp1256 after 64 KB", _replace("invoices", BIG_CP1256.encode("cp1256")), "invoices", "invoices.csv",
     "is not UTF-8 text", "save the file as UTF-8"),
    ("utf-16", _replace("invoices", INVOICES.encode("utf-16")), "invoices", "invoices.csv",
     "is UTF-16 text", "UTF-8"),
    ("header only", _replace("invoices", (HEADER + "\n").encode()), "invoices", "invoices.csv",
     "has a header but no data rows", "export invoices again with its rows"),
    ("header only, no newline", _replace("invoices", HEADER.encode()), "invoices", "invoices.csv",
     "has a header but no data rows", "export invoices again with its rows"),
    ("ragged row", _replace("invoices", (INVOICES + "I9,1009,2025-04-09,C1,S1,2025-05-09,,posted,U1,,extra\n")
                            .encode()), "invoices", "invoices.csv", "line 6", "quote values that contain commas"),
    ("broken parquet", _swap("invoices", "invoices.parquet", b"PAR1\x15\x04 this is not parquet PAR1"),
     "invoices", "invoices.parquet", "could not be read", "valid PARQUET file"),
    ("non-workbook xlsx in a folder", _swap("invoices", "invoices.xlsx", b"invoice_id,invoice_no\nI1,1\n"),
     "invoices", "invoices.xlsx", "could not be read", "valid XLSX file"),
    ("non-workbook xlsx source", _file("ledger.xlsx", b"<html>not a workbook</html>"), "(workbook)",
     "ledger.xlsx", "could not be read as an Excel workbook", "save it as .xlsx"),
    ("not a duckdb file", _file("ledger.duckdb", b"this is not a database\n" * 20), "(database)",
     "ledger.duckdb", "is not a DuckDB database", "written by DuckDB"),
    ("missing path", lambda folder: folder / "no-such-folder", "(input)", "no-such-folder", "does not exist",
     "pass a folder of table files"),
    ("unsupported file", _file("ledger.json", b'{"invoices": []}'), "(input)", "ledger.json",
     "is not a supported source", "pass a folder of table files"),
]


@pytest.mark.parametrize(("case", "setup", "table", "named", "message", "fix"), BAD_INPUTS,
                         ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_is_named_with_its_fix(case, setup, table, named, message, fix, mini_copy, mini_policy):
    source = setup(mini_copy)
    with pytest.raises(InputError) as caught:
        load_and_validate(source, mini_policy)
    fatal = _problems(caught.value, FATAL)
    assert fatal, case
    first = fatal[0]
    assert first.table == table
    assert named in first.problem and message in first.problem
    assert fix in first.fix
    assert f"Fix: {first.fix}" in str(caught.value)


@pytest.mark.parametrize(("case", "setup", "table", "named", "message", "fix"), BAD_INPUTS,
                         ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_through_the_cli(case, setup, table, named, message, fix, mini_copy):
    source = setup(mini_copy)
    result, words = _cli("validate", "--data", source, "--policy", MINI / "policy.toml")
    assert result.exit_code == 1, words
    assert "Traceback" not in result.output
    assert f"fatal {table}" in words and named in words and message in words and fix in words


def test_unreachable_database_url(mini_policy):
    port = _free_port()  # closed again: nothing listens there
    url = f"postgresql+psycopg://auditor:s3cret@127.0.0.1:{port}/ledger"
    with pytest.raises(InputError) as caught:
        load_and_validate(url, mini_policy)
    [problem] = caught.value.problems
    assert problem.table == "(database)"
    assert f"could not read postgresql+psycopg://auditor:***@127.0.0.1:{port}/ledger" in problem.problem
    assert "server is running" in problem.fix
    assert "s3cret" not in str(caught.value)
    result, words = _cli("validate", "--data", url)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "could not read postgresql+psycopg://auditor:***@" in words and "s3cret" not in words


def test_bad_input_in_a_real_process_prints_no_traceback(tmp_path):
    audit = Path(sys.executable).with_name("audit")
    (tmp_path / "invoices.csv").write_bytes(b"")
    done = subprocess.run([str(audit), "validate", "--data", str(tmp_path)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    assert "invoices.csv is empty" in " ".join(done.stderr.split())


def test_duckdb_table_that_cannot_be_read_is_named(tmp_path, typed_mini, mini_policy):
    path = _duckdb_file(tmp_path, _raw_mini(), typed_mini)
    with duckdb.connect(str(path)) as connection:  # a view over a table that was dropped since
        connection.execute("create table old_cheques as select * from cheques")
        connection.execute("drop table cheques")
        connection.execute("create view cheques as select * from old_cheques")
        connection.execute("drop table old_cheques")
    with pytest.raises(InputError) as caught:
        load_and_validate(path, mini_policy)
    [problem] = caught.value.problems
    assert problem.table == "cheques" and "ledger.duckdb: table cheques could not be read" in problem.problem
    result, words = _cli("validate", "--data", path)
    assert result.exit_code == 1 and "table cheques could not be read" in words


def test_utf8_bom_and_upper_case_suffix_are_read(mini_copy, baseline, mini_policy):
    (mini_copy / "invoices.csv").write_bytes(b"\xef\xbb\xbf" + INVOICES.encode())
    (mini_copy / "customers.csv").rename(mini_copy / "customers.CSV")
    tables = load_and_validate(mini_copy, mini_policy)
    assert not tables.problems, [p.describe() for p in tables.problems]
    _assert_same_frames(tables, baseline)


def test_table_in_a_format_that_cannot_be_read_is_named(mini_copy, mini_policy):
    (mini_copy / "cheques.csv").rename(mini_copy / "cheques.xls")
    tables = validate(load(mini_copy), mini_policy)
    [problem, unchecked] = tables.problems
    assert (problem.severity, problem.table, problem.action) == (WARNING, "cheques", "file ignored")
    assert "cheques.xls" in problem.problem and "cheques.csv" in problem.fix
    assert "cheques" not in tables.frames
    # the receipts that name a cheque are kept, with a warning that the reference went unchecked
    assert (unchecked.severity, unchecked.table, unchecked.column) == (WARNING, "receipts", "cheque_id")
    assert "table cheques is absent" in unchecked.problem
    assert len(tables.frames["receipts"]) == 8


def test_optional_table_with_only_a_header_is_kept_with_a_warning(mini_copy, mini_policy):
    header = (MINI / "confirmations.csv").read_text().splitlines()[0]
    (mini_copy / "confirmations.csv").write_text(header + "\n")
    tables = load_and_validate(mini_copy, mini_policy)
    [problem] = tables.problems
    assert (problem.severity, problem.table) == (WARNING, "confirmations")
    assert "confirmations.csv has a header but no data rows" in problem.problem
    assert len(tables.frames["confirmations"]) == 0 and tables.has("confirmations", ("confirmed_balance",))


# ------------------------------------------------------------------ rows named where the user sees them

def test_csv_rows_are_numbered_as_lines_despite_blank_lines_and_line_breaks(mini_copy, mini_policy):
    lines = (MINI / "invoice_lines.csv").read_text().splitlines()
    lines[4] = lines[4].replace(",P1,", ",P404,")  # I2/2, line 5 of the file as shipped
    lines.insert(3, "")  # a blank line: I2/2 is now on line 6
    (mini_copy / "invoice_lines.csv").write_text("\n".join(lines) + "\n\n")
    customers = (MINI / "customers.csv").read_text().replace("12 Azadi St", '"12 Azadi St\nFloor 2"')
    customers = customers.replace("C3,Sun Shop,2024-02-20,S2", "C3,Sun Shop,2024-02-20,S404")  # now line 5
    (mini_copy / "customers.csv").write_text(customers)
    tables = validate(load(mini_copy), mini_policy)
    first = {(p.table, p.column): p for p in reversed(tables.problems)}
    assert first["invoice_lines", "product_id"].row == 6
    assert first["invoice_lines", "product_id"].value == "P404"
    assert first["customers", "assigned_salesperson_id"].row == 5
    assert tables.frames["customers"].loc[0, "address"] == "12 Azadi St\nFloor 2"


def test_every_blank_required_value_of_a_row_is_listed(mini_copy, mini_policy):
    with (mini_copy / "invoices.csv").open("a") as handle:
        handle.write("I9,,,,S1,,,posted,,\n")
    tables = validate(load(mini_copy), mini_policy)
    blank = {p.column for p in tables.problems if p.table == "invoices" and p.row == 6}
    assert blank == {"invoice_no", "invoice_date", "customer_id"}


def test_duplicate_of_a_key_of_several_columns_is_listed_once(mini_copy, mini_policy):
    with (mini_copy / "invoice_lines.csv").open("a") as handle:
        handle.write("I1,1,P1,5,100000,100000,0,none,\n")
    tables = validate(load(mini_copy), _lenient(mini_policy))
    duplicates = [p for p in tables.problems if "duplicate" in p.problem]
    assert [(p.table, p.column, p.row, p.record_id) for p in duplicates] == [
        ("invoice_lines", "invoice_id, line_no", 9, "I1/1")]


def test_numeric_ids_with_blanks_still_match_their_parents(tmp_path, typed_mini, mini_policy):
    # A nullable integer id column comes out of Parquet or a database as float (1.0, NaN).
    folder = tmp_path / "numeric_ids"
    folder.mkdir()
    number = {"I1": 1, "I2": 2, "I3": 3, "I4": 4}
    for name, frame in typed_mini.items():
        frame = frame.copy()
        if "invoice_id" in frame.columns:
            frame["invoice_id"] = frame["invoice_id"].map(number).astype("float64" if name == "shipments" else "int64")
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    assert pd.read_parquet(folder / "shipments.parquet")["invoice_id"].dtype == "float64"
    tables = load_and_validate(folder, mini_policy)
    assert not tables.problems, [p.describe() for p in tables.problems]
    assert tables.frames["shipments"]["invoice_id"].tolist()[:3] == ["1", "2", "3"]
    assert tables.frames["shipments"]["invoice_id"].isna().tolist() == [False, False, False, True]


# ------------------------------------------------------------------ the five-problem dataset

def _lenient(policy):
    """``policy`` letting a table lose any share of its rows: a tiny ledger's one bad row is 25 % of it."""
    return policy_from_dict({**policy.to_dict(), "data": {"max_set_aside_pct": 100}})


def _with_problems(folder: Path, missing_column: bool = True) -> Path:
    """Row problems in customers, invoices and invoice_lines; optionally a missing required column.

    The folder's policy lets tables lose any share of their rows (tests of the share are further down)."""
    with (folder / "policy.toml").open("a") as handle:
        handle.write("\n[data]\nmax_set_aside_pct = 100\n")
    raw = _raw_mini()
    customers = raw["customers"]
    duplicate = customers.iloc[[1]].assign(name="Golden Wholesale (copy)")
    _write_csv(pd.concat([customers, duplicate], ignore_index=True), folder / "customers.csv")  # C2 again, row 5
    invoices = raw["invoices"]
    invoices.loc[2, "invoice_date"] = "2025-04-31"  # I3, row 4: April has 30 days
    invoices.loc[3, "customer_id"] = "C9"  # I4, row 5: no such customer
    _write_csv(invoices, folder / "invoices.csv")
    lines = raw["invoice_lines"]
    lines.loc[2, "quantity"] = "-40"  # I2/1, row 4
    _write_csv(lines, folder / "invoice_lines.csv")
    if missing_column:
        _write_csv(raw["shipment_lines"].drop(columns=["quantity"]), folder / "shipment_lines.csv")
    return folder


FIVE_PROBLEMS = [  # (severity, table, column, row, words of the problem)
    (FATAL, "shipment_lines", "quantity", None, "required column quantity is missing"),
    (ROW, "invoices", "invoice_date", 4, "not a date"),
    (ROW, "invoice_lines", "quantity", 4, "must not be negative"),
    (ROW, "customers", "customer_id", 5, "duplicate customer_id"),
    (ROW, "invoices", "customer_id", 5, "refers to customers C9, which does not exist"),
]


def test_five_problems_are_all_listed_by_the_library(mini_copy, mini_policy):
    tables = validate(load(_with_problems(mini_copy)), _lenient(mini_policy))
    for severity, table, column, row, words in FIVE_PROBLEMS:
        found = [p for p in tables.problems if (p.severity, p.table, p.column, p.row) == (severity, table, column, row)]
        assert len(found) == 1 and words in found[0].problem and found[0].fix, (table, column, row, found)
    with pytest.raises(InputError):
        load_and_validate(mini_copy, mini_policy)


def test_validate_lists_all_five_problems_and_fails(mini_copy):
    result, words = _cli("validate", "--data", _with_problems(mini_copy))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    for severity, table, column, row, problem in FIVE_PROBLEMS:
        where = f"{table}, column {column}" + (f", row {row}" if row else "")
        assert re.search(rf"{severity} {re.escape(where)}\b[^.]*{re.escape(problem)}", words), (where, words)
    assert "1 fatal" in words and "cannot be audited" in words


def test_run_stops_says_why_and_writes_no_exceptions(mini_copy, tmp_path):
    out = tmp_path / "out"
    result, words = _cli("run", "--data", _with_problems(mini_copy), "--out", out)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "the data cannot be audited (1 fatal problem(s)); no detector ran" in words
    assert "shipment_lines, column quantity: required column quantity is missing" in words
    assert not list(out.rglob("exceptions*"))


# ------------------------------------------------------------------ no row silently dropped

SET_ASIDE = {  # table -> source rows the row problems of _with_problems(missing_column=False) set aside
    "customers": {5},  # the repeated C2
    "invoices": {4, 5},  # I3 (bad date), I4 (unknown customer)
    "invoice_lines": {4, 6, 7, 8},  # I2/1 negative; I3 and I4 lines follow their invoices
    "shipments": {4},  # SH3 ships invoice I3
    "shipment_lines": {6, 7},  # SH3's lines
    "receipt_allocations": {3, 7},  # R2 and R6 pay I3
}


def test_every_row_set_aside_is_in_data_quality_and_counted(mini_copy, mini_policy):
    result = run(_with_problems(mini_copy, missing_column=False), _lenient(mini_policy))
    quality = result.data_quality
    assert not (quality["severity"] == FATAL).any()
    rows = quality[quality["severity"] == ROW]
    assert rows["row"].notna().all() and (rows["action"] == "row excluded").all()
    listed = {table: set(group["row"].astype(int)) for table, group in rows.groupby("table")}
    assert listed == SET_ASIDE
    inputs = {i["table"]: i for i in result.manifest["inputs"]}
    assert set(inputs) == {p.stem for p in mini_copy.glob("*.csv")}
    for table, entry in inputs.items():
        lines = len((mini_copy / f"{table}.csv").read_text().splitlines()) - 1
        assert entry["rows_read"] == lines
        assert entry["rows_read"] == entry["rows_used"] + len(SET_ASIDE.get(table, ())), table
        assert entry["rows_used"] == len(result.tables.frames[table])
    kept = set(result.tables.frames["invoices"]["invoice_id"])
    assert kept == {"I1", "I2"}


# ------------------------------------------------------------------ an optional table missing

def test_run_without_an_optional_table_skips_what_needs_it(mini_copy, mini_policy):
    (mini_copy / "cheques.csv").unlink()
    result = run(mini_copy, mini_policy)
    statuses = result.detector_runs.set_index("detector")
    need_cheques = {cls.code for cls in detector_classes() if "cheques" in cls.requires}
    assert need_cheques, "no registered detector needs cheques: this test would prove nothing"
    for code in need_cheques:
        assert statuses.loc[code, "status"] == "not run"
        assert "needs cheques" in statuses.loc[code, "reason"]
    assert (statuses.drop(index=list(need_cheques))["status"] != "failed").all()
    assert (statuses["status"] == "ran").any()
    assert "cheques" not in {i["table"] for i in result.manifest["inputs"]}
    assert {d["detector"]: d["status"] for d in result.manifest["detectors"]} == statuses["status"].to_dict()


def test_evaluate_reads_only_the_customers_file_of_the_audited_data(monkeypatch):
    import audit.loading as loading
    from audit.cli import _customer_ids

    read, original = [], loading._read_rows

    def counted(path, table, problems):
        read.append(table)
        return original(path, table, problems)

    monkeypatch.setattr(loading, "_read_rows", counted)
    assert _customer_ids(MINI) == ["C1", "C2", "C3"]
    assert read == ["customers"]  # not the whole ledger for one column
