"""The ``audit`` command: validate data, run an audit, list detectors, run the demo, open a notebook."""

from __future__ import annotations

import importlib.util
import json
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

# Only what every command needs is imported here; pandas, Ibis, the policy's pydantic models and the
# detectors are imported by the commands that use them, so that `audit run` can start its second process
# before they load (a second of imports on the benchmark machine) and `audit --help` answers at once.
from audit import i18n
from audit.i18n import t
from audit.problems import FATAL, ROW, InputError, Problem

app = typer.Typer(help="sales-audit: find what sales staff do to get around sales management, and customers "
                       "about to fail, in a distributor's sales ledger.", no_args_is_help=True,
                  pretty_exceptions_enable=False, rich_markup_mode="rich", add_completion=False)
keys_app = typer.Typer(help="Ed25519 keys that sign compliance exports (see `audit keys create --help`).",
                       no_args_is_help=True)
app.add_typer(keys_app, name="keys")

# Exit codes of `audit run` and `audit demo` (README, "Exit codes").
EXIT_DATA = 1  # the data cannot be audited (fatal problems, or --strict): nothing written
EXIT_USAGE = 2  # a user error: bad option, unknown detector, unusable --out, missing driver, bad --previous
EXIT_COMPONENTS_FAILED = 3  # the run finished and wrote its outputs, but some components failed


class _Console(Console):
    """A rich console that does not wrap lines when its output is not a terminal: a message piped into a
    log or read by a script stays one line, whole, whatever the width rich guesses."""

    def print(self, *objects, soft_wrap: bool | None = None, **kwargs) -> None:
        if soft_wrap is None:
            soft_wrap = not self.is_terminal
        super().print(*objects, soft_wrap=soft_wrap, **kwargs)


console = _Console()
err = _Console(stderr=True)


class EngineName(StrEnum):
    duckdb = "duckdb"
    spark = "spark"


DataOption = Annotated[str, typer.Option(
    "--data", "-d", help="A folder of <table>.csv/.parquet/.xlsx files, one .xlsx workbook with a sheet per "
                         "table, a .duckdb file, or a database URL such as postgresql://user@host/db.")]
RUN_FORMATS = "csv,parquet,manifest,html,excel"
DEMO_FORMATS = RUN_FORMATS + ",export"


FORMAT_HELP = ("Comma-separated outputs to write: csv, parquet, manifest, html (the report), excel (the "
               "workbook), export (the compliance folder + zip with SHA256SUMS).")


def _formats(text: str) -> tuple[str, ...]:
    """The --format list, checked against the registered writers before any work is done."""
    from audit.registry import RegistryError, writers

    wanted = tuple(dict.fromkeys(f.strip().lower() for f in text.split(",") if f.strip()))
    try:
        available = writers()
    except RegistryError as exc:
        _fail(str(exc))
    unknown = [f for f in wanted if f not in available]
    if unknown or not wanted:
        _fail(f"unknown output format(s) {', '.join(unknown) or '(none given)'}; choose from "
              f"{', '.join(sorted(available))}")
    return wanted


def _print_written(written: list[Path]) -> None:
    names = {p.name: p for p in written}
    for name, what in (("report.html", t("HTML report")), ("report.xlsx", t("Excel workbook")),
                       ("export.zip", t("Compliance export (check it with `audit verify-export`)"))):
        if name in names:
            console.print(Text(f"{what}: {names[name]}"))


PolicyOption = Annotated[Path | None, typer.Option(
    "--policy", "-p", help="policy.toml with the company's rules. Default: policy.toml inside the --data folder "
                           "if there is one, else the contract's defaults.", dir_okay=False)]


def _policy_path(data: str, policy: Path | None) -> Path | None:
    from audit.policy import policy_beside

    if policy is not None:
        return policy
    return policy_beside(data)


SEVERITY_ORDER = {FATAL: 0, ROW: 1}
SEVERITY_STYLE = {FATAL: "bold red", ROW: "yellow"}


def _problem_groups(problems: list[Problem]) -> list[tuple[tuple, list[Problem]]]:
    """Problems by (severity, table, column, type), fatal first, then the largest groups."""
    groups: dict[tuple, list[Problem]] = {}
    for p in problems:
        groups.setdefault((p.severity, p.table, p.column or "", p.category), []).append(p)
    return sorted(groups.items(), key=lambda item: (SEVERITY_ORDER.get(item[0][0], 2), -len(item[1]),
                                                    item[0][1:]))


def _report_problems(problems: list[Problem], limit: int = 200, written: Path | None = None,
                     per_type: int = 10) -> None:
    """A summary by type and table first, then examples of each type (every fatal problem), so that a
    type with thousands of rows is never hidden behind another one's first lines."""
    if not problems:
        return
    groups = _problem_groups(problems)
    err.print(f"[bold]Problems by type and table[/] ({len(problems):,} in all):", highlight=False)
    for (severity, table, column, category), members in groups:
        where = f"{table}.{column}" if column else table
        err.print(f"  [{SEVERITY_STYLE.get(severity, 'dim')}]{severity:>7}[/] {len(members):>9,}  "
                  f"{escape(where)}: {escape(category)}", highlight=False, soft_wrap=True)
    shown: list[Problem] = []
    for (severity, *_), members in groups:
        shown.extend(members if severity == FATAL else members[:per_type])
    shown = shown[:max(limit, sum(1 for p in problems if p.severity == FATAL))]
    err.print(f"[bold]Details[/] ({'all' if len(shown) == len(problems) else f'{len(shown):,} examples'}):",
              highlight=False)
    for p in shown:
        err.print(f"[{SEVERITY_STYLE.get(p.severity, 'dim')}]{p.severity:>7}[/] {escape(p.describe())}",
                  highlight=False, soft_wrap=True)
    if len(shown) < len(problems):
        where = f"all of them are in {written}" if written is not None else \
            "`audit validate --out DIR` writes all of them to DIR/data_quality.csv"
        err.print(f"... and {len(problems) - len(shown):,} more ({escape(where)})", highlight=False,
                  soft_wrap=True)


def _rows_read_and_kept(tables) -> None:
    """Rows read and rows kept per table: what the audit would work on."""
    console.print("[bold]Rows read and kept[/]:", highlight=False)
    for name in sorted(tables.sources):
        read = tables.sources[name].rows
        kept = tables.rows(name) if name in tables.frames else 0
        note = f" ({read - kept:,} set aside)" if read != kept and name in tables.frames else \
            "" if name in tables.frames else " (not used)"
        console.print(f"  {escape(name)}: {read:,} read, {kept:,} kept{note}", highlight=False, soft_wrap=True)


def _fail(message: str, code: int = EXIT_USAGE) -> None:
    prefix = t("error:")
    err.print(f"[bold red]{escape(prefix)}[/] {escape(message)}", highlight=False)  # brackets in it are text
    raise typer.Exit(code)


# Database drivers SQLAlchemy imports by module name, and the package that provides each.
DRIVER_PACKAGES = {"MySQLdb": "mysqlclient", "pymysql": "pymysql", "mysql": "mysql-connector-python",
                   "psycopg2": "psycopg2-binary", "psycopg": "psycopg[binary]", "asyncpg": "asyncpg",
                   "pg8000": "pg8000", "pyodbc": "pyodbc", "pymssql": "pymssql", "cx_Oracle": "oracledb",
                   "oracledb": "oracledb", "snowflake": "snowflake-sqlalchemy", "ibm_db": "ibm_db_sa",
                   "duckdb_engine": "duckdb-engine", "clickhouse_sqlalchemy": "clickhouse-sqlalchemy"}


def _driver_message(exc: ModuleNotFoundError, data: str) -> str:
    from audit.loading import redact_url

    module = (exc.name or "").split(".")[0]
    package = DRIVER_PACKAGES.get(module, module)
    return (f"the database driver for {redact_url(data)} is not installed (Python module {module!r} is missing): "
            f"install it with `pip install {package}` in the same environment as sales-audit, or export the "
            "tables to files and pass their folder")


def _resolve_detectors(wanted: list[str] | None) -> list[str] | None:
    """--detector values as registered codes (code, pattern or class name, any case); an unknown one is an
    error naming the closest, before any work is done."""
    if not wanted:
        return wanted
    from audit.registry import RegistryError, analysis_classes, detector_classes
    from audit.runner import UnknownComponentError, resolve_selection

    try:
        return resolve_selection(wanted, {c.code: c for c in (*analysis_classes(), *detector_classes())})
    except (UnknownComponentError, RegistryError) as exc:
        _fail(str(exc))


def _check_out(out: Path) -> None:
    from audit.output_folder import OutputError, check_output_folder

    try:
        check_output_folder(out)
    except OutputError as exc:
        _fail(str(exc))


def _signing_key(path: Path | None):
    if path is None:
        return None
    from audit.signing import SigningError, load_private_key

    try:
        return load_private_key(path)
    except SigningError as exc:
        _fail(str(exc))


@app.command()
def validate(
    data: DataOption,
    policy: PolicyOption = None,
    out: Annotated[Path | None, typer.Option(help="Also write data_quality.csv into this folder.")] = None,
    strict: Annotated[bool, typer.Option(help="Exit non-zero when any row had to be set aside, too.")] = False,
    lang: Annotated[str | None, typer.Option("--lang", help="Language of the messages: en, fa or zh (default: the "
                                                            "policy's language).")] = None,
) -> None:
    """Check the data against the contract and list every problem at once: table, column, row, value, fix.

    Exits 1 when a required table or column is unusable (or, with --strict, when any row is)."""
    with i18n.use_language(_language(lang, data, policy)):
        _validate(data, policy, out, strict)


def _validate(data: str, policy: Path | None, out: Path | None, strict: bool) -> None:
    import pandas as pd

    from audit.formula_safety import neutralise
    from audit.loading import load
    from audit.policy import PolicyError, load_policy
    from audit.problems import data_quality_frame
    from audit.validation import validate as check

    try:
        rules = load_policy(_policy_path(data, policy))
        tables = check(load(data, lazy=True), rules, consume=True, stage=True)  # one table in memory at a time
    except ModuleNotFoundError as exc:
        if "://" not in data:
            raise
        _fail(_driver_message(exc, data), EXIT_DATA)
    except (PolicyError, InputError) as exc:
        if isinstance(exc, InputError):
            _report_problems(exc.problems)
        _fail(str(exc).splitlines()[0] if isinstance(exc, InputError) else str(exc), 1)
    written = None
    if out is not None:
        written = out / "data_quality.csv"
        try:
            out.mkdir(parents=True, exist_ok=True)
            neutralise(data_quality_frame(tables.problems)).to_csv(written, index=False)
        except OSError as exc:
            why = f"{out} is a file, not a folder" if out.exists() and not out.is_dir() else exc.strerror or exc
            _fail(f"cannot write {written}: {why}; pass a folder you may write to as --out")
    counts = pd.Series([p.severity for p in tables.problems]).value_counts().to_dict()
    _rows_read_and_kept(tables)
    _report_problems(tables.problems, written=written)
    if written is not None:
        console.print(f"Data quality table ({len(tables.problems):,} problems) written to {escape(str(written))}",
                      highlight=False, soft_wrap=True)
    console.print(Text(t("Problems: %(fatal)s fatal, %(rows)s rows set aside, %(warnings)s warnings.",
                         fatal=counts.get(FATAL, 0), rows=counts.get(ROW, 0), warnings=counts.get("warning", 0))))
    if tables.fatal or (strict and counts.get(ROW, 0)):
        err.print(Text(t("The data cannot be audited as it is: fix the fatal problems above.") if tables.fatal
                       else t("Rows were set aside (--strict)."), style="bold red"))
        raise typer.Exit(1)
    console.print(Text(t("The data can be audited."), style="green"))


LANG_HELP = ("Language of the report, the workbook and these messages: en (English), fa (Persian, right to "
             "left), zh (Chinese). Default: the policy's language, else en.")


def _language(lang: str | None, data: str | None, policy: Path | None) -> str:
    """The run's language: --lang, else the policy's ``language``; an unknown one is a one-line error."""
    if lang is not None:
        try:
            return i18n.check_language(lang)
        except i18n.LanguageError as exc:
            _fail(f"--lang: {exc}")
    if data is None:
        return i18n.DEFAULT_LANGUAGE
    from audit.policy import PolicyError, load_policy

    try:
        return load_policy(_policy_path(data, policy)).language
    except PolicyError:
        return i18n.DEFAULT_LANGUAGE  # the run itself says what is wrong with the policy


def _progress_bar():
    return Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                    TimeElapsedColumn(), console=err, transient=True)


def _execute(data: str, policy: Path | None, period: str | None, out: Path, engine: str,
             previous: Path | None = None, suppressions: Path | None = None, strict: bool = False,
             detectors: list[str] | None = None, formats: tuple[str, ...] = ("csv", "parquet", "manifest"),
             signing_key: Path | None = None, cases: str | None = None, language: str | None = None,
             workers: int | None = None, worker=None):
    from audit.engine import EngineError
    from audit.output_folder import OutputError
    from audit.policy import PolicyError
    from audit.runner import run

    # Everything a user can get wrong is checked before the audit, not found out after it.
    _check_out(out)
    detectors = _resolve_detectors(detectors)
    key = _signing_key(signing_key)
    with _progress_bar() as bar:
        task = bar.add_task(i18n.t("starting"), total=1)

        def progress(step: str, done: int, total: int) -> None:
            bar.update(task, description=step, completed=done, total=max(total, 1))

        try:
            result = run(data, _policy_path(data, policy), period=period, engine=engine, detectors=detectors,
                         previous=previous, suppressions=suppressions, strict=strict, progress=progress,
                         cases=cases, language=language, workers=workers, worker=worker)
        except InputError as exc:
            bar.stop()
            _report_problems(exc.problems)
            fatal = [p for p in exc.problems if p.severity == FATAL]
            why = f"{len(fatal)} fatal problem(s)" if fatal else "rows had to be set aside (--strict)"
            _fail(f"the data cannot be audited ({why}); no detector ran. Fix the problems above "
                  "(`audit validate` lists them all).", EXIT_DATA)
        except ModuleNotFoundError as exc:
            if "://" not in str(data):
                raise
            bar.stop()
            _fail(_driver_message(exc, str(data)))
        except (PolicyError, EngineError, FileNotFoundError, ValueError) as exc:
            bar.stop()
            _fail(str(exc))
        bar.update(task, description="writing outputs")
        try:
            written = result.write(out, formats, signing_key=key)
        except OutputError as exc:
            bar.stop()
            _fail(str(exc))
    return result, written


def _say_failures_first(result) -> None:
    notice = result.failure_notice()
    if notice:
        console.print(f"[bold red]{escape(notice)}[/]", highlight=False)


def _exit_for_failures(result) -> None:
    if len(result.failed):
        err.print(f"[bold red]{len(result.failed)} component(s) failed[/] (listed above and in detectors.csv): "
                  f"exit code {EXIT_COMPONENTS_FAILED}. Fix the cause and run again for a complete audit.",
                  highlight=False)
        raise typer.Exit(EXIT_COMPONENTS_FAILED)


def _print_summary(result, out: Path) -> None:
    from audit.contract import pattern_label

    ran = result.detector_runs
    table = Table(title=t("Run %(run)s", run=result.run_id), header_style="bold")
    for column in ("pattern", "findings", "money at risk"):
        table.add_column(t(column), justify="right" if column != "pattern" else "left")
    for row in result.summary_by_pattern().itertuples():
        table.add_row(Text(pattern_label(row.pattern)), i18n.format_number(int(row.findings)),
                      i18n.format_money(row.risk_amount))
    console.print(table)
    for row in ran[ran["status"] != "ran"].itertuples():
        colour = "red" if row.status == "failed" else "yellow"
        console.print(f"[{colour}]{escape(f'{row.status}: {row.detector} ({row.pattern}) — {row.reason}')}[/]")
    problems = result.data_quality
    if len(problems):
        console.print(Text(t("Data quality: %(rows)s rows set aside, %(warnings)s warnings (data_quality.csv).",
                             rows=int((problems["severity"] == ROW).sum()),
                             warnings=int((problems["severity"] == "warning").sum()))))
    console.print(Text(t("%(count)s ranked exceptions written to %(path)s", count=len(result.exceptions),
                         path=str(out / "exceptions.csv")), style="bold")
                  + Text(" " + t("(also exceptions.parquet, manifest.json).")))


@app.command("run")
def run_command(
    data: DataOption,
    policy: PolicyOption = None,
    period: Annotated[str | None, typer.Option(help="Audit month YYYY-MM: keep the findings of that month "
                                                    "(detectors still read the whole history).")] = None,
    out: Annotated[Path, typer.Option(help="Folder for the outputs.")] = Path("audit-output"),
    engine: Annotated[EngineName, typer.Option(help="Where relational work runs: in-process DuckDB, or "
                                                    "Apache Spark (needs `sales-audit\\[spark]` and Java).")]
    = EngineName.duckdb,
    previous: Annotated[Path | None, typer.Option(help="An earlier run's output folder: findings seen there are "
                                                       "marked 'repeat', and those gone are listed in "
                                                       "resolved.csv.")] = None,
    suppressions: Annotated[Path | None, typer.Option(help="CSV with an exception_id column: findings reviewed "
                                                           "and accepted, marked 'suppressed'.")] = None,
    strict: Annotated[bool, typer.Option(help="Stop when any row has to be set aside.")] = False,
    detector: Annotated[list[str] | None, typer.Option(help="Run only this detector (code or pattern, any "
                                                            "case); repeat for several.")] = None,
    format: Annotated[str, typer.Option("--format", help=FORMAT_HELP)] = RUN_FORMATS,
    signing_key: Annotated[Path | None, typer.Option(
        help="Ed25519 private key (`audit keys create`) that signs the compliance export's SHA256SUMS; adds "
             "export to --format.", dir_okay=False)] = None,
    cases: Annotated[str | None, typer.Option(help="A review desk's case store (its --db URL): false positive and "
                                                   "explained findings come back 'suppressed', confirmed ones "
                                                   "'confirmed', with the decision, author and comment.")] = None,
    lang: Annotated[str | None, typer.Option("--lang", help=LANG_HELP)] = None,
    workers: Annotated[int | None, typer.Option(
        metavar="1|2", help="Processes that share the components (default: 2 for a ledger of 500,000 invoice "
                            "lines or more on a machine with two cores and 8 GB; also SALES_AUDIT_WORKERS).")] = None,
) -> None:
    """Audit the data: run every detector whose tables are present and write the ranked exceptions.

    --out is replaced whole at the end (new, empty or an earlier run's folder), so it always holds one
    complete run.

    Exit codes: 0 every component ran; 1 the data cannot be audited (nothing written); 2 a user error such
    as an unknown detector, an unusable --out, a missing database driver or a bad --previous (nothing
    written); 3 some components failed: the outputs were written without their findings, and the console
    and the report say so first.
    """
    if workers is not None and workers not in (1, 2):
        _fail(f"--workers {workers}: give 1 (one process) or 2 (the components shared with a second process)")
    worker = _early_worker(data, engine.value, workers)
    try:
        formats = _formats(format)
        if signing_key is not None and "export" not in formats:
            formats = (*formats, "export")
        language = _language(lang, data, policy)
        with i18n.use_language(language):
            result, written = _execute(data, policy, period, out, engine.value, previous, suppressions, strict,
                                       detector, formats, signing_key, cases, language=lang, workers=workers,
                                       worker=worker)
            _report_run(result, out, written)
    finally:
        if worker is not None:
            worker.stop()  # the run stopped it already unless it failed before the run began


def _early_worker(data: str, engine: str, workers: int | None):
    """The second process of a large run (``audit.lanes.early_worker``), started first of all: its imports
    overlap this process's, not only the reading of the data."""
    from audit import lanes

    try:
        return lanes.early_worker(data, engine, workers)
    except ValueError as exc:  # SALES_AUDIT_WORKERS is neither 1 nor 2
        _fail(str(exc))


def _report_run(result, out: Path, written: list[Path]) -> None:
    """What `audit run` says when it has written the run, in the run's language."""
    _say_failures_first(result)
    _print_summary(result, out)
    _print_written(written)
    _exit_for_failures(result)


@app.command("verify-export")
def verify_export(
    folder: Annotated[Path, typer.Argument(help="A compliance export folder (holding SHA256SUMS) or its zip.")],
    public_key: Annotated[Path | None, typer.Option(
        help="The signer's public key (export-signing.pub): the export must carry a valid signature by it.",
        dir_okay=False)] = None,
) -> None:
    """Check a compliance export against its SHA256SUMS: any changed, missing or added file fails (exit 1).

    With --public-key the listing's signature must be valid for that key, so an export whose files were
    changed and whose SHA256SUMS was recomputed fails too. Without it, an unsigned export is reported as
    such: its hashes show only that the files agree with a listing anyone could recompute."""
    from audit.integrity import IntegrityError, verify
    from audit.signing import SigningError, load_public_key

    try:
        key = load_public_key(public_key) if public_key is not None else None
        check = verify(folder, key)
    except (IntegrityError, SigningError, FileNotFoundError) as exc:
        _fail(str(exc), 1)
    if not check.ok:
        for line in check.problems():
            err.print(f"[bold red]{escape(line)}[/]", highlight=False)
        if check.changed or check.missing or check.added:
            _fail(f"{folder} does not match its SHA256SUMS: {len(check.changed)} changed, {len(check.missing)} "
                  f"missing, {len(check.added)} added" + (", and the signature is not valid"
                                                          if check.signature_problem else "") + ".", 1)
        _fail(f"{folder} fails the signature check: its files agree with SHA256SUMS, but that listing is not "
              "the one the key's holder signed, so files may have been changed and the listing recomputed.", 1)
    console.print(f"[green]OK[/]: all {check.checked} files in {escape(str(folder))} match SHA256SUMS.", highlight=False)
    if check.signature == "valid":
        console.print(f"[green]Signed[/] with key {check.signer}, and the signature is valid: whoever holds "
                      "that key's private half made or approved exactly these files.", highlight=False)
    elif check.signature == "signed":
        console.print(f"[yellow]Signed (key {check.signer}) but the signature was NOT checked[/]: pass "
                      "--public-key with the signer's public key to prove who made the export and that "
                      "nothing changed since.", highlight=False)
    else:
        console.print("[yellow]UNSIGNED[/]: anyone who changes a file can recompute SHA256SUMS, so this shows "
                      "only that the files agree with their listing, not who made the export nor that it is "
                      "unchanged. Sign exports with `audit run --signing-key` and verify with --public-key.",
                      highlight=False)


@keys_app.command("create")
def keys_create(
    folder: Annotated[Path, typer.Argument(help="Folder for the key pair, outside run folders and git "
                                                "(made with mode 0700 if new).")],
) -> None:
    """Make an Ed25519 key pair for signing exports: export-signing.key (private, mode 0600) and
    export-signing.pub (give it to whoever verifies).

    The private key is encrypted with the passphrase in SALES_AUDIT_KEY_PASSPHRASE when that is set.
    An existing key is never overwritten."""
    from audit.signing import SigningError, create_keys

    try:
        pair = create_keys(folder)
    except (SigningError, OSError) as exc:
        _fail(str(exc))
    console.print(f"Private key: {pair.private} (mode 0600{', encrypted' if pair.encrypted else ''}): sign with "
                  f"`audit run --signing-key {pair.private}`; keep it secret, outside run folders and "
                  "git, backed up.", highlight=False)
    console.print(f"Public key:  {pair.public} (fingerprint {pair.fingerprint}): give it to whoever checks "
                  "exports with `audit verify-export --public-key`.", highlight=False)
    if pair.git_repository is not None:
        err.print(f"[bold yellow]warning:[/] the keys are inside the git working tree {pair.git_repository}: "
                  f"never commit {pair.private.name}; move it out or add it to .gitignore.", highlight=False)


# reStructuredText in the detectors' docstrings: ``literal``, :role:`text` and `text` (shown plain, code bold)
_RST_INLINE = re.compile(r"``(?P<literal>.+?)``|:[\w:-]+:`(?P<role>[^`]+?)`|`(?P<plain>[^`]+?)`_{0,2}")


def doc_text(text: str) -> Text:
    """A docstring's text for the console: reStructuredText's inline markup taken out (a literal in bold),
    and nothing in it read as Rich markup (a Text is printed as it is, brackets included)."""
    shown = Text()
    position = 0
    for match in _RST_INLINE.finditer(text):
        shown.append(text[position:match.start()])
        if match.group("literal") is not None:
            shown.append(match.group("literal"), style="bold")
        else:
            role = match.group("role") or match.group("plain")
            shown.append(role.split(" <")[0] if role.endswith(">") else role)
        position = match.end()
    shown.append(text[position:])
    return shown


@app.command()
def detectors(
    code: Annotated[str | None, typer.Argument(help="Show one detector's full documentation.")] = None,
) -> None:
    """The catalogue of detectors, generated from their documentation."""
    from audit.contract import pattern_label
    from audit.registry import detector_classes, get_detector

    if code:
        found = [c for c in _resolve_detectors([code]) if c in {d.code for d in detector_classes()}]
        if not found:
            _fail(f"{code!r} is an analysis, not a detector (`audit detectors` lists the detectors)")
        cls = get_detector(found[0])
        console.rule(Text(f"{cls.code} · {pattern_label(cls.pattern)} ({cls.pattern}) · entity {cls.entity_type}"))
        params = ", ".join(f"{k}={v!r}" for k, v in cls().get_params().items()) or "none"
        console.print(Text.assemble(("Parameters", "bold"), f" (defaults; the policy sets its limits): {params}"))
        needs = "; ".join(f"{t}({', '.join(c)})" for t, c in cls.requires.items())
        console.print(Text.assemble(("Needs", "bold"), f": {needs}"))
        if cls.uses:
            console.print(Text.assemble(("Uses when present", "bold"), ": " + "; ".join(
                f"{t}({', '.join(c)})" for t, c in cls.uses.items())))
        for section, text in cls.doc_sections().items():
            console.print(Text.assemble("\n", (section, "bold"), "\n", doc_text(text)))
        return
    table = Table(title="sales-audit detectors", header_style="bold", show_lines=True)
    for column in ("code", "pattern", "entity", "needs", "what it finds"):
        table.add_column(column, overflow="fold")
    for cls in detector_classes():
        # the human name, and the pattern's name that --detector also takes
        pattern = Text(pattern_label(cls.pattern))
        pattern.append(f"\n{cls.pattern}", style="dim")
        table.add_row(Text(cls.code), pattern, Text(cls.entity_type),
                      Text(", ".join(cls.requires)), doc_text(cls.summary()))
    console.print(table)
    console.print("`audit detectors CODE` shows one detector's documentation.")


def _print_evaluation(evaluation) -> None:
    import pandas as pd

    table = Table(title="Evaluation against the labels", header_style="bold")
    table.add_column("pattern", no_wrap=True)
    for column in ("labels", "found", "recall", "precision", "look-alikes hit", "look-alikes above a real case"):
        table.add_column(column, justify="right", no_wrap=True)

    def figure(value) -> str:
        return "–" if pd.isna(value) else f"{value:.2f}"

    for row in evaluation.per_pattern.itertuples():
        table.add_row(row.pattern, str(row.labels), str(row.findings), figure(row.recall), figure(row.precision),
                      str(row.decoy_hits), str(row.decoys_above_real))
    # never cut: a narrow terminal or a pipe (80 columns) would turn the headers into "labe…"
    Console(width=max(console.width, 130)).print(table)
    overall = evaluation.overall
    console.print(
        f"Overall: recall {figure(overall['recall'])}, precision {figure(overall['precision'])}, "
        f"precision@50 {figure(overall['precision_at_50'])}, precision@100 {figure(overall['precision_at_100'])}, "
        f"money at risk found in the top 100 {figure(overall['money_share_top_100'])}, "
        f"customer_distress ROC AUC {figure(overall['customer_distress_auc'])}.")


def _customer_ids(data: Path | None) -> list[str] | None:
    if data is None:
        return None
    from audit.loading import load

    loaded = load(data, lazy=True)  # only the customers file is read
    customers = loaded.tables["customers"].read([]) if "customers" in loaded.tables else None
    if customers is None:
        return None
    return customers.frame["customer_id"].astype(str).tolist()


@app.command()
def evaluate(
    run: Annotated[Path, typer.Option("--run", help="A run's output folder (holding exceptions.parquet/csv).")],
    labels: Annotated[Path, typer.Option(help="labels.csv in the contract's Labels format.")],
    decoys: Annotated[Path | None, typer.Option(help="decoys.csv: legitimate look-alikes, same columns.")] = None,
    data: Annotated[Path | None, typer.Option(help="The audited data, so every customer counts in the "
                                                   "customer_distress ROC AUC.")] = None,
    out: Annotated[Path | None, typer.Option(help="Where to write evaluation.json (default: the run "
                                                  "folder).")] = None,
) -> None:
    """Score a run against ground-truth labels: recall, precision, decoy hits per pattern; precision@k."""
    from simulator.evaluation import evaluate_run

    try:
        evaluation = evaluate_run(run, labels, decoys, _customer_ids(data))
    except (FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
    _print_evaluation(evaluation)
    path = evaluation.write((out or run) / "evaluation.json")
    console.print(f"Evaluation written to {path}")


@app.command()
def simulate(
    out: Annotated[Path, typer.Option(help="Folder for the simulated contract tables.")],
    scale: Annotated[str, typer.Option(help="tiny, small, medium, large, or a number of invoice lines.")] = "small",
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives identical files.")] = 0,
    clean: Annotated[bool, typer.Option(help="No fraud and no distress: only honest records and the "
                                             "legitimate look-alikes.")] = False,
    format: Annotated[str | None, typer.Option("--format", help="csv or parquet (default: csv up to small, "
                                                                "parquet above).")] = None,
    world: Annotated[str, typer.Option(help="World shape: distributor (many small shops, the contract's "
                                            "policy) or key_accounts (few large customers, many salespeople, "
                                            "a non-default policy, partial traces, cross-pattern "
                                            "look-alikes).")] = "distributor",
) -> None:
    """Simulate a distributor's ledger with labelled fraud (labels.csv) and look-alikes (decoys.csv)."""
    from simulator import WORLDS
    from simulator import simulate as run_simulation

    if world not in WORLDS:
        _fail(f"--world {world!r} is not a world shape; choose one of {', '.join(sorted(WORLDS))}")
    size: str | int = int(scale) if scale.isdigit() else scale
    with _progress_bar() as bar:
        bar.add_task(f"simulating {scale}", total=None)
        summary = run_simulation(out, scale=size, seed=seed, clean=clean, fmt=format, world=world)
    rows = sum(summary.rows.values())
    console.print(f"Simulated {rows:,} rows in {len(summary.rows)} tables ({summary.seconds:.1f} s), "
                  f"{summary.n_labels:,} labels and {summary.n_decoys:,} look-alikes, into {out}")


# The notebooks' parameters: which one takes the run folder and which the entity (`audit notebook`).
NOTEBOOK_ENTITY = {"salesperson_deep_dive": "salesperson_id", "customer_deep_dive": "customer_id",
                   "entity_network": "entity"}
NOTEBOOK_RUN = {"salesperson_deep_dive": "run_dir", "customer_deep_dive": "run_dir", "entity_network": "run_dir"}


def notebooks_folder() -> Path:
    """The investigation notebooks: ``notebooks/`` of the checkout the tool is installed from."""
    return Path(__file__).resolve().parent.parent / "notebooks"


def notebook_parameters(name: str, run: Path, entity: str | None) -> dict:
    """The papermill parameters of notebook ``name`` for the run folder ``run`` (and ``entity``); the
    monthly review, which audits a ledger, is given the ledger and month that run read."""
    run = run.resolve()
    manifest_path = run / "manifest.json"
    if not manifest_path.is_file():
        _fail(f"--run {run} is not a run folder: it has no manifest.json; give the folder an `audit run --out` "
              "or `audit demo` wrote (the demo's is its run/ folder)")
    if name in NOTEBOOK_RUN:
        parameters = {NOTEBOOK_RUN[name]: str(run)}
    else:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        parameters = {"data": manifest.get("data"), "period": manifest.get("period")}
    if entity is not None:
        if name not in NOTEBOOK_ENTITY:
            _fail(f"the {name} notebook takes no --entity; the notebooks that do: "
                  f"{', '.join(sorted(NOTEBOOK_ENTITY))}")
        parameters[NOTEBOOK_ENTITY[name]] = entity
    return parameters


@app.command()
def notebook(
    name: Annotated[str, typer.Argument(help="monthly_review, salesperson_deep_dive, customer_deep_dive or "
                                             "entity_network.")],
    run: Annotated[Path, typer.Option("--run", help="The run folder the notebook opens (`audit run --out`; "
                                                    "the demo's is audit-demo/run).")],
    entity: Annotated[str | None, typer.Option(help="The salesperson id, customer id, or for entity_network a "
                                                    "node such as customer:C0012 (default: the one with most "
                                                    "money at risk).")] = None,
    out: Annotated[Path | None, typer.Option(help="Where to write the notebook (default: notebooks/NAME[-ENTITY]"
                                                  ".ipynb beside the run folder).", dir_okay=False)] = None,
    execute: Annotated[bool, typer.Option(help="Also run it top to bottom, so it opens with its outputs.")]
    = False,
) -> None:
    """Write a copy of an investigation notebook set to a run (and an entity), and say how to open it."""
    import papermill

    source = notebooks_folder() / f"{name}.ipynb"
    if not source.is_file():
        known = sorted(p.stem for p in notebooks_folder().glob("*.ipynb"))
        _fail(f"no notebook {name!r}" + (f"; choose one of {', '.join(known)}" if known else
                                         f": {notebooks_folder()} is missing (install from the repository)"))
    parameters = notebook_parameters(name, run, entity)
    if out is None:
        suffix = "-" + re.sub(r"[^A-Za-z0-9_-]", "_", entity) if entity else ""
        out = run.resolve().parent / "notebooks" / f"{name}{suffix}.ipynb"
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        papermill.execute_notebook(str(source), str(out), parameters=parameters, prepare_only=not execute,
                                   kernel_name="python3", cwd=str(out.parent), progress_bar=False)
    except papermill.PapermillExecutionError as exc:
        _fail(f"the notebook stopped in cell {exc.exec_count}: {exc.ename}: {exc.evalue} (the notebook with "
              f"its outputs so far is {out})", 1)
    console.print(Text(f"Notebook {name} for {run}" + (f", {entity}" if entity else "")
                       + f"{' (run, with its outputs)' if execute else ''} written to {out}"))
    console.print(Text(f"Open it with: jupyter lab {out}"))
    if importlib.util.find_spec("jupyterlab") is None:
        console.print(Text("JupyterLab is not installed here: pip install -e '.[notebooks]' installs it (or add "
                           "--execute for a copy run with its outputs, readable in any notebook viewer)."))


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the demo data and the audit outputs (git ignores "
                                           "audit-demo/).")] = Path("audit-demo"),
    engine: Annotated[EngineName, typer.Option(help="duckdb or spark.")] = EngineName.duckdb,
    format: Annotated[str, typer.Option("--format", help=FORMAT_HELP)] = DEMO_FORMATS,
    lang: Annotated[str | None, typer.Option("--lang", help=LANG_HELP)] = None,
) -> None:
    """Audit the bundled demo ledger end to end and say where the ranked exceptions went."""
    from simulator.demo import write_demo_data
    from simulator.evaluation import evaluate_run

    formats = _formats(format)
    language = _language(lang, None, None)
    with i18n.use_language(language):
        _demo(out, engine, formats, lang, write_demo_data, evaluate_run)


def _demo(out: Path, engine: EngineName, formats: tuple[str, ...], lang: str | None, write_demo_data,
          evaluate_run) -> None:
    _check_out(out / "run")
    data_dir = write_demo_data(out / "data")
    console.print(f"Demo ledger (simulated distributor with labelled fraud) in {data_dir}")
    result, written = _execute(str(data_dir), None, None, out / "run", engine.value, formats=formats,
                               language=lang)
    _say_failures_first(result)
    if {"csv", "parquet"} & set(formats):  # the evaluation reads the run's exceptions file
        evaluation = evaluate_run(out / "run", data_dir / "labels.csv", data_dir / "decoys.csv",
                                  result.tables.frames["customers"]["customer_id"].tolist())
        evaluation.write(out / "run" / "evaluation.json")
        _print_evaluation(evaluation)
    _print_summary(result, out / "run")
    _print_written(written)
    console.print(Text(f"The demo is in {out.resolve()}: data/ the simulated ledger, run/ the audit. Investigate "
                       f"a finding in a notebook: audit notebook customer_deep_dive --run {out / 'run'}"))
    _exit_for_failures(result)


# the review desk's commands (users add, serve, import, verify-cases, tune) are defined in desk/cli.py, which
# imports only typer at this point: Django is imported inside those commands when one of them runs
__import__("desk.cli").cli.register(app)


if __name__ == "__main__":  # `python -m audit.cli`, used by the benchmarks
    app()
