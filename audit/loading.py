"""Read the contract's tables from wherever the company keeps them.

``--data`` may be a folder of ``<table>.csv|.parquet|.xlsx`` files, one ``.xlsx`` workbook with a
sheet per table, a ``.duckdb`` file, or a database URL (PostgreSQL at least) whose tables or views
carry the contract's names. Values are read as they are; parsing and checking happen in
:mod:`audit.validation`, so that every problem can be reported with its row.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from audit.contract import TABLES
from audit.integrity import sha256_file
from audit.problems import FATAL, WARNING, InputError, Problem

FILE_SUFFIXES = (".csv", ".parquet", ".xlsx")
EVALUATION_FILES = ("labels", "decoys")
# CSV line 1 is the header; spreadsheet row 1 likewise: data row i (0-based) is source row i + 2.
HEADER_ROWS = 2


def _empty_like(frame: pd.DataFrame) -> pd.DataFrame:
    """No rows, the same columns and types; unlike ``frame.iloc[:0]`` it does not keep the frame's Arrow
    buffers alive (a zero-length slice of an Arrow string column still holds the whole column)."""
    if not len(frame.columns):
        return frame.iloc[:0]
    return pd.concat([pd.Series([], dtype=dtype, name=name) for name, dtype in frame.dtypes.items()], axis=1)


@dataclass
class SourceTable:
    name: str
    frame: pd.DataFrame | None  # None while a lazily loaded file is not read (see ``reader``)
    origin: str  # file path, sheet or database table the rows came from
    sha256: str
    first_row: int | None = HEADER_ROWS  # source row number of frame row 0; None where rows have no number
    # Source row number of each frame row where they are not consecutive (a CSV with blank lines or
    # line breaks inside quoted values); None when ``first_row`` + position is right.
    row_numbers: list[int] | None = None
    rows: int = field(init=False)  # rows read, kept when the frame is released after checking
    # A file not read yet (``load(..., lazy=True)``): ``frame`` is None until :meth:`read` returns the table
    # read; the reader appends what stops it to the problems it is given and returns None.
    reader: Callable[[list[Problem]], SourceTable | None] | None = field(default=None, repr=False, compare=False)
    problem_slot: int | None = field(default=None, repr=False, compare=False)  # where a read failure is listed

    def __post_init__(self):
        self.rows = 0 if self.frame is None else len(self.frame)

    @property
    def pending(self) -> bool:
        return self.reader is not None

    def read(self, problems: list[Problem]) -> SourceTable | None:
        """This table with its rows: itself when read already, else the file read now (None when it cannot be)."""
        return self if self.reader is None else self.reader(problems)

    def frame_released(self) -> SourceTable:
        """This source without its frame but with its row numbers (problems still name source rows)."""
        light = copy.copy(self)
        light.frame = _empty_like(self.frame)
        return light

    def without_frame(self) -> SourceTable:
        """This source's description (origin, digest, row count) without its frame, to free its memory."""
        light = self.frame_released()
        light.row_numbers = None
        return light


@dataclass
class LoadedData:
    source: str
    tables: dict[str, SourceTable] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def _sha256_frame(frame: pd.DataFrame) -> str:
    # Database tables have no file: hash a canonical CSV rendering of the rows as read.
    digest = hashlib.sha256()
    digest.update(",".join(map(str, frame.columns)).encode())
    for start in range(0, len(frame), 200_000):
        chunk = frame.iloc[start:start + 200_000]
        digest.update(chunk.to_csv(index=False, header=False, lineterminator="\n").encode())
    return digest.hexdigest()


def _empty_file_problem(path: Path, table: str) -> Problem:
    """A file without even a header: fatal for a table the audit needs, else the table is left out."""
    if table in TABLES and not TABLES[table].required:
        return Problem(WARNING, table, f"{path.name} is empty (not even a header row): the table is not used",
                       "fine if there are none; otherwise export the table again with its header row and rows "
                       "(checks that need it are not run)", action="table ignored", kind="empty file")
    return Problem(FATAL, table, f"{path.name} is empty", "export the table again with its header row",
                   kind="empty file")


def _csv_problem(path: Path, table: str) -> Problem | None:
    """Catch files that are not the comma-separated UTF-8 text they claim to be."""
    with path.open("rb") as handle:  # only the start: the file may be gigabytes
        head = handle.read(65536)
    if not head.strip():
        return _empty_file_problem(path, table)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return Problem(FATAL, table, f"{path.name} is UTF-16 text, not UTF-8",
                       "save the file as UTF-8 comma-separated text (in Excel: CSV UTF-8)")
    if b"\x00" in head:
        return Problem(FATAL, table, f"{path.name} is binary, not CSV text",
                       "export the table as UTF-8 comma-separated text")
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # A cut multi-byte character at the end of the sample is not an encoding problem.
        if exc.start < len(head) - 4:
            return Problem(FATAL, table, f"{path.name} is not UTF-8 text (byte {exc.start})",
                           "save the file as UTF-8")
        text = head[:exc.start].decode("utf-8-sig")
    header = text.splitlines()[0] if text.splitlines() else ""
    if "," not in header:
        for name, sep in (("semicolons", ";"), ("tabs", "\t"), ("pipes", "|")):
            if sep in header:
                return Problem(FATAL, table, f"{path.name} is separated by {name}, not commas",
                               "save it as comma-separated CSV")
        expected = TABLES[table].column_names if table in TABLES else []
        if len(expected) > 1 and header.strip() not in expected:
            return Problem(FATAL, table, f"{path.name} has no comma-separated header row",
                           f"the first line must name the columns: {', '.join(expected)}")
    return None


def _read_csv(path: Path, table: str) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8-sig",
                        skipinitialspace=False)
    return _with_header_as_written(frame, lambda: csv_header(path))


def csv_header(path: Path) -> list:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return next(csv.reader(handle), [])


def _excel_header(path: Path, sheet) -> list:
    import openpyxl

    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = workbook.worksheets[sheet] if isinstance(sheet, int) else workbook[sheet]
        return list(next(sheet.iter_rows(max_row=1, values_only=True), ()))
    finally:
        workbook.close()


_MANGLED = re.compile(r"^(.*)\.(\d+)$")


def _with_header_as_written(frame: pd.DataFrame, header) -> pd.DataFrame:
    """Undo pandas' renaming of a repeated column name (``name``, ``name.1``), so that validation can
    name the repeated column instead of ignoring ``name.1`` as an unknown column.

    ``header`` reads the names as the file writes them; it is called only when a name looks renamed."""
    names = [str(c) for c in frame.columns]
    if not any((m := _MANGLED.match(n)) and m.group(1) in names for n in names):
        return frame
    written = header()
    if len(written) != len(names):
        return frame
    frame.columns = [n if w is None or str(w) == "" else str(w) for n, w in zip(names, written, strict=True)]
    return frame


def _count_lines(path: Path) -> int:
    lines, last = 0, b"\n"
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            lines += block.count(b"\n")
            last = block[-1:]
    return lines + (last != b"\n")


def _csv_row_numbers(path: Path, rows: int) -> list[int] | None:
    """The line each data row starts on, when that is not simply row + 2.

    pandas skips blank lines and a quoted value may span lines, so counting rows would name the wrong
    line. Only such files pay for this second pass; None when the numbering is plain (or unclear)."""
    if _count_lines(path) == rows + 1:
        return None
    numbers: list[int] = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        next(reader, None)  # header
        start = reader.line_num + 1
        for record in reader:
            if len(record) > 1 or (record and record[0].strip()):  # pandas skips blank lines
                numbers.append(start)
            start = reader.line_num + 1
    return numbers if len(numbers) == rows else None


def _readable(path: Path, table: str, problems: list[Problem]) -> bool:
    """The checks that need only the start of a file (empty, not UTF-8 comma-separated text)."""
    if path.stat().st_size == 0:
        problems.append(_empty_file_problem(path, table))
        return False
    if path.suffix.lower() == ".csv":
        problem = _csv_problem(path, table)
        if problem:
            problems.append(problem)
            return False
    return True


def _read_file(path: Path, table: str, problems: list[Problem]) -> SourceTable | None:
    return _read_rows(path, table, problems) if _readable(path, table, problems) else None


def _read_rows(path: Path, table: str, problems: list[Problem]) -> SourceTable | None:
    """Read a file that passed :func:`_readable`; a failure is a problem naming the file."""
    kind = path.suffix.lower()
    row_numbers = None
    try:
        if kind == ".csv":
            frame = _read_csv(path, table)
            row_numbers = _csv_row_numbers(path, len(frame))
        elif kind == ".parquet":
            # Dates as datetime64, not one Python date object per value (parsing those took seconds).
            frame = pd.read_parquet(path, to_pandas_kwargs={"date_as_object": False})
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # openpyxl warns about styles it does not read
                frame = pd.read_excel(path, sheet_name=0, dtype=str, engine="openpyxl")
            frame = _with_header_as_written(frame, lambda: _excel_header(path, 0))
    except pd.errors.ParserError as exc:  # e.g. "Expected 10 fields in line 7, saw 11"
        problems.append(Problem(FATAL, table, f"{path.name} could not be read: {str(exc).strip()}",
                                "every line needs as many values as the header: quote values that contain "
                                "commas or line breaks"))
        return None
    except UnicodeDecodeError as exc:  # past the sample _csv_problem looked at
        problems.append(Problem(FATAL, table, f"{path.name} is not UTF-8 text (past its first 64 KB: "
                                f"{exc.reason} {exc.object[exc.start:exc.start + 1]!r})",
                                "save the file as UTF-8"))
        return None
    except Exception as exc:  # any reader failure becomes a message naming the file
        problems.append(Problem(FATAL, table, f"{path.name} could not be read: {type(exc).__name__}: {exc}",
                                f"check that {path.name} is a valid {kind[1:].upper()} file"))
        return None
    return SourceTable(table, frame, str(path), sha256_file(path), row_numbers=row_numbers)


def _pending_file(path: Path, table: str, slot: int) -> SourceTable:
    """A table file checked at its start but not read: read when validation comes to it, so that one
    table at a time is in memory. ``slot`` is where in the load's problems a read failure belongs."""
    return SourceTable(table, None, str(path), "", reader=lambda problems: _read_rows(path, table, problems),
                       problem_slot=slot)


def _load_folder(folder: Path, data: LoadedData, lazy: bool = False) -> None:
    files = {p for p in folder.iterdir() if p.is_file()}
    for table in TABLES:
        candidates = sorted(p for p in files if p.stem == table and p.suffix.lower() in FILE_SUFFIXES)
        if len(candidates) > 1:
            data.problems.append(Problem(
                WARNING, table, f"several files for one table ({', '.join(p.name for p in candidates)}); "
                f"using {candidates[0].name}", "keep one file per table", action="others ignored"))
        if candidates and lazy:
            if _readable(candidates[0], table, data.problems):
                data.tables[table] = _pending_file(candidates[0], table, len(data.problems))
        elif candidates:
            loaded = _read_file(candidates[0], table, data.problems)
            if loaded is not None:
                data.tables[table] = loaded
        else:
            for path in sorted(p for p in files if p.stem == table):
                data.problems.append(Problem(
                    WARNING, table, f"{path.name} is not a format that can be read",
                    f"save {table} as {table}.csv (UTF-8), {table}.parquet or {table}.xlsx",
                    action="file ignored"))
    # Ground truth for `audit evaluate` may sit beside the tables; it is never audit input.
    known = set(TABLES) | set(EVALUATION_FILES)
    for path in sorted(files):
        if path.suffix.lower() in FILE_SUFFIXES and path.stem not in known:
            data.problems.append(Problem(WARNING, path.stem, f"{path.name} is not a contract table",
                                         "rename it to a contract table name if it should be read",
                                         action="file ignored"))


def _load_workbook(path: Path, data: LoadedData) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sheets = pd.read_excel(path, sheet_name=None, dtype=str, engine="openpyxl")
    except Exception as exc:
        raise InputError([Problem(FATAL, "(workbook)", f"{path.name} could not be read as an Excel workbook: "
                                  f"{type(exc).__name__}: {exc}", "save it as .xlsx")]) from None
    digest = sha256_file(path)
    for sheet, frame in sheets.items():
        name = str(sheet).strip()
        if name in TABLES:
            frame = _with_header_as_written(frame, lambda sheet=sheet: _excel_header(path, sheet))
            data.tables[name] = SourceTable(name, frame, f"{path}#{sheet}", digest)
        else:
            data.problems.append(Problem(WARNING, name, f"sheet {sheet!r} is not a contract table",
                                         "rename the sheet to a contract table name if it should be read",
                                         action="sheet ignored"))


def _load_sql(url: str, data: LoadedData, label: str) -> None:
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(url)
        with engine.connect() as connection:
            inspector = sa.inspect(connection)
            names = set(inspector.get_table_names()) | set(inspector.get_view_names())
            for table in TABLES:
                if table not in names:
                    continue
                frame = pd.read_sql_table(table, connection)
                data.tables[table] = SourceTable(table, frame, f"{label}/{table}", _sha256_frame(frame),
                                                 first_row=None)
        engine.dispose()
    except sa.exc.SQLAlchemyError as exc:
        raise InputError([Problem(FATAL, "(database)", f"could not read {label}: {exc.__class__.__name__}: "
                                  f"{str(exc).splitlines()[0]}",
                                  "check the URL, that the server is running and the user may read")]) from None


def _load_duckdb(path: Path, data: LoadedData) -> None:
    import duckdb

    try:
        connection = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise InputError([Problem(FATAL, "(database)", f"{path.name} is not a DuckDB database: {exc}",
                                  "pass a .duckdb file written by DuckDB")]) from None
    with connection:
        names = {row[0] for row in connection.execute(
            "select table_name from information_schema.tables").fetchall()}
        for table in TABLES:
            if table in names:
                try:
                    frame = connection.execute(f'select * from "{table}"').df()
                except duckdb.Error as exc:  # e.g. a view over a table that is gone
                    raise InputError([Problem(FATAL, table, f"{path.name}: table {table} could not be read: "
                                              f"{str(exc).splitlines()[0]}",
                                              f"check {table} in {path.name} with DuckDB")]) from None
                data.tables[table] = SourceTable(table, frame, f"{path}#{table}", _sha256_frame(frame),
                                                 first_row=None)


def redact_url(url: str) -> str:
    import sqlalchemy as sa

    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]


def load(source: str | Path, lazy: bool = False) -> LoadedData:
    """Read every contract table present at ``source``; problems found while reading are collected.

    With ``lazy``, the files of a folder are only checked at their start (empty, encoding, separator) and
    each is read when :func:`audit.validation.validate` comes to it (``SourceTable.read``), so a run holds
    one raw table at a time; a file that then fails to read gets its problem where reading it here would
    have put it. Workbooks and databases are read here either way."""
    text = str(source)
    if text.startswith("postgres://"):  # the scheme Heroku and others print; SQLAlchemy wants postgresql
        text = "postgresql://" + text[len("postgres://"):]
    if "://" in text:
        label = redact_url(text)
        data = LoadedData(label)
        _load_sql(text, data, label)
        return data
    path = Path(source)
    data = LoadedData(str(path))
    if not path.exists():
        raise InputError([Problem(FATAL, "(input)", f"{path} does not exist",
                                  "pass a folder of table files, an .xlsx workbook, a .duckdb file or a database URL")])
    if path.is_dir():
        _load_folder(path, data, lazy)
    elif path.suffix.lower() == ".xlsx":
        _load_workbook(path, data)
    elif path.suffix.lower() in (".duckdb", ".db"):
        _load_duckdb(path, data)
    else:
        raise InputError([Problem(FATAL, "(input)", f"{path.name} is not a supported source",
                                  "pass a folder of table files, an .xlsx workbook, a .duckdb file or a database URL")])
    return data
