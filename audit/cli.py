"""The ``audit`` command: validate data, run an audit, list detectors, run the demo."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from audit.engine import EngineError
from audit.policy import PolicyError, load_policy, policy_beside
from audit.problems import FATAL, ROW, InputError, Problem

app = typer.Typer(help="sales-audit: find what sales staff do to get around sales management, and customers "
                       "about to fail, in a distributor's sales ledger.", no_args_is_help=True,
                  pretty_exceptions_enable=False, rich_markup_mode="rich")
console = Console()
err = Console(stderr=True)


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
    for name, what in (("report.html", "HTML report"), ("report.xlsx", "Excel workbook"),
                       ("export.zip", "Compliance export (check it with `audit verify-export`)")):
        if name in names:
            console.print(f"{what}: {names[name]}")


PolicyOption = Annotated[Path | None, typer.Option(
    "--policy", "-p", help="policy.toml with the company's rules. Default: policy.toml inside the --data folder "
                           "if there is one, else the contract's defaults.", dir_okay=False)]


def _policy_path(data: str, policy: Path | None) -> Path | None:
    if policy is not None:
        return policy
    return policy_beside(data)


def _report_problems(problems: list[Problem], limit: int = 200) -> None:
    if not problems:
        return
    order = {FATAL: 0, ROW: 1}
    for p in sorted(problems, key=lambda p: order.get(p.severity, 2))[:limit]:
        style = {FATAL: "bold red", ROW: "yellow"}.get(p.severity, "dim")
        err.print(f"[{style}]{p.severity:>7}[/] {p.describe()}", highlight=False, soft_wrap=True)
    if len(problems) > limit:
        err.print(f"... and {len(problems) - limit} more (all of them are in data_quality.csv)")


def _fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


@app.command()
def validate(
    data: DataOption,
    policy: PolicyOption = None,
    out: Annotated[Path | None, typer.Option(help="Also write data_quality.csv into this folder.")] = None,
    strict: Annotated[bool, typer.Option(help="Exit non-zero when any row had to be set aside, too.")] = False,
) -> None:
    """Check the data against the contract and list every problem at once: table, column, row, value, fix.

    Exits 1 when a required table or column is unusable (or, with --strict, when any row is)."""
    from audit.loading import load
    from audit.problems import data_quality_frame
    from audit.validation import validate as check

    try:
        rules = load_policy(_policy_path(data, policy))
        tables = check(load(data), rules)
    except (PolicyError, InputError) as exc:
        if isinstance(exc, InputError):
            _report_problems(exc.problems)
        _fail(str(exc).splitlines()[0] if isinstance(exc, InputError) else str(exc), 1)
    _report_problems(tables.problems)
    counts = pd.Series([p.severity for p in tables.problems]).value_counts().to_dict()
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        data_quality_frame(tables.problems).to_csv(out / "data_quality.csv", index=False)
    rows = {name: len(frame) for name, frame in tables.frames.items()}
    console.print(f"Tables read: {', '.join(f'{n} ({r:,} rows)' for n, r in sorted(rows.items()))}")
    console.print(f"Problems: {counts.get(FATAL, 0)} fatal, {counts.get(ROW, 0)} rows set aside, "
                  f"{counts.get('warning', 0)} warnings.")
    if tables.fatal or (strict and counts.get(ROW, 0)):
        err.print("[bold red]The data cannot be audited as it is: fix the fatal problems above.[/]"
                  if tables.fatal else "[bold red]Rows were set aside (--strict).[/]")
        raise typer.Exit(1)
    console.print("[green]The data can be audited.[/]")


def _progress_bar():
    return Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                    TimeElapsedColumn(), console=err, transient=True)


def _execute(data: str, policy: Path | None, period: str | None, out: Path, engine: str,
             previous: Path | None = None, suppressions: Path | None = None, strict: bool = False,
             detectors: list[str] | None = None, formats: tuple[str, ...] = ("csv", "parquet", "manifest"),
             cases: str | None = None):
    from audit.runner import run

    with _progress_bar() as bar:
        task = bar.add_task("starting", total=1)

        def progress(step: str, done: int, total: int) -> None:
            bar.update(task, description=step, completed=done, total=max(total, 1))

        try:
            result = run(data, _policy_path(data, policy), period=period, engine=engine, detectors=detectors,
                         previous=previous, suppressions=suppressions, strict=strict, progress=progress,
                         cases=cases)
        except InputError as exc:
            bar.stop()
            _report_problems(exc.problems)
            fatal = [p for p in exc.problems if p.severity == FATAL]
            why = f"{len(fatal)} fatal problem(s)" if fatal else "rows had to be set aside (--strict)"
            _fail(f"the data cannot be audited ({why}); no detector ran. Fix the problems above "
                  "(`audit validate` lists them all).", 1)
        except (PolicyError, EngineError, FileNotFoundError, ValueError) as exc:
            bar.stop()
            _fail(str(exc))
        bar.update(task, description="writing outputs")
        written = result.write(out, formats)
    return result, written


def _print_summary(result, out: Path) -> None:
    ran = result.detector_runs
    table = Table(title=f"Run {result.run_id}", header_style="bold")
    for column in ("pattern", "findings", "money at risk"):
        table.add_column(column, justify="right" if column != "pattern" else "left")
    for row in result.summary_by_pattern().itertuples():
        table.add_row(row.pattern, f"{row.findings:,}", f"{row.risk_amount:,.0f}")
    console.print(table)
    for row in ran[ran["status"] != "ran"].itertuples():
        colour = "red" if row.status == "failed" else "yellow"
        console.print(f"[{colour}]{row.status}: {row.detector} ({row.pattern}) — {row.reason}[/]")
    problems = result.data_quality
    if len(problems):
        console.print(f"Data quality: {int((problems['severity'] == ROW).sum())} rows set aside, "
                      f"{int((problems['severity'] == 'warning').sum())} warnings (data_quality.csv).")
    console.print(f"[bold]{len(result.exceptions):,} ranked exceptions written to {out / 'exceptions.csv'}[/] "
                  f"(also exceptions.parquet, manifest.json).")


@app.command("run")
def run_command(
    data: DataOption,
    policy: PolicyOption = None,
    period: Annotated[str | None, typer.Option(help="Audit month YYYY-MM: keep the findings of that month "
                                                    "(detectors still read the whole history).")] = None,
    out: Annotated[Path, typer.Option(help="Folder for the outputs.")] = Path("audit-output"),
    engine: Annotated[EngineName, typer.Option(help="Where relational work runs: in-process DuckDB, or "
                                                    "Apache Spark (needs `sales-audit[spark]` and Java).")]
    = EngineName.duckdb,
    previous: Annotated[Path | None, typer.Option(help="An earlier run's output folder: findings seen there are "
                                                       "marked 'repeat', and those gone are listed in "
                                                       "resolved.csv.")] = None,
    suppressions: Annotated[Path | None, typer.Option(help="CSV with an exception_id column: findings reviewed "
                                                           "and accepted, marked 'suppressed'.")] = None,
    strict: Annotated[bool, typer.Option(help="Stop when any row has to be set aside.")] = False,
    detector: Annotated[list[str] | None, typer.Option(help="Run only this detector (code or pattern); "
                                                            "repeat for several.")] = None,
    format: Annotated[str, typer.Option("--format", help=FORMAT_HELP)] = RUN_FORMATS,
    cases: Annotated[str | None, typer.Option(help="A review desk's case store (its --db URL): false positive and "
                                                   "explained findings come back 'suppressed', confirmed ones "
                                                   "'confirmed', with the decision, author and comment.")] = None,
) -> None:
    """Audit the data: run every detector whose tables are present and write the ranked exceptions."""
    formats = _formats(format)
    result, written = _execute(data, policy, period, out, engine.value, previous, suppressions, strict, detector,
                               formats, cases)
    _print_summary(result, out)
    _print_written(written)


@app.command("verify-export")
def verify_export(
    folder: Annotated[Path, typer.Argument(help="A compliance export folder (holding SHA256SUMS) or its zip.")],
) -> None:
    """Check a compliance export against its SHA256SUMS: any changed, missing or added file fails (exit 1)."""
    from audit.integrity import IntegrityError, verify

    try:
        check = verify(folder)
    except (IntegrityError, FileNotFoundError) as exc:
        _fail(str(exc), 1)
    if check.ok:
        console.print(f"[green]OK[/]: all {check.checked} files in {folder} match SHA256SUMS.")
        return
    for line in check.problems():
        err.print(f"[bold red]{line}[/]", highlight=False)
    _fail(f"{folder} does not match its SHA256SUMS: {len(check.changed)} changed, {len(check.missing)} missing, "
          f"{len(check.added)} added.", 1)


@app.command()
def detectors(
    code: Annotated[str | None, typer.Argument(help="Show one detector's full documentation.")] = None,
) -> None:
    """The catalogue of detectors, generated from their documentation."""
    from audit.registry import detector_classes, get_detector

    if code:
        cls = get_detector(code)
        console.rule(f"{cls.code} · {cls.pattern} · entity {cls.entity_type}")
        params = ", ".join(f"{k}={v!r}" for k, v in cls().get_params().items()) or "none"
        console.print(f"[bold]Parameters[/] (defaults; the policy sets its limits): {params}")
        needs = "; ".join(f"{t}({', '.join(c)})" for t, c in cls.requires.items())
        console.print(f"[bold]Needs[/]: {needs}")
        if cls.uses:
            console.print("[bold]Uses when present[/]: "
                          + "; ".join(f"{t}({', '.join(c)})" for t, c in cls.uses.items()))
        for section, text in cls.doc_sections().items():
            console.print(f"\n[bold]{section}[/]\n{text}")
        return
    table = Table(title="sales-audit detectors", header_style="bold", show_lines=True)
    for column in ("code", "pattern", "entity", "needs", "what it finds"):
        table.add_column(column, overflow="fold")
    for cls in detector_classes():
        table.add_row(cls.code, cls.pattern, cls.entity_type, ", ".join(cls.requires), cls.summary())
    console.print(table)
    console.print("`audit detectors CODE` shows one detector's documentation.")


def _print_evaluation(evaluation) -> None:
    table = Table(title="Evaluation against the labels", header_style="bold")
    table.add_column("pattern", no_wrap=True)
    for column in ("labels", "found", "recall", "prec.", "decoys", "decoys above real"):
        table.add_column(column, justify="right")

    def figure(value) -> str:
        return "–" if pd.isna(value) else f"{value:.2f}"

    for row in evaluation.per_pattern.itertuples():
        table.add_row(row.pattern, str(row.labels), str(row.findings), figure(row.recall), figure(row.precision),
                      str(row.decoy_hits), str(row.decoys_above_real))
    console.print(table)
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

    loaded = load(data)
    if "customers" not in loaded.tables:
        return None
    return loaded.tables["customers"].frame["customer_id"].astype(str).tolist()


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
    from audit.evaluation import evaluate_run

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
) -> None:
    """Simulate a distributor's ledger with labelled fraud (labels.csv) and look-alikes (decoys.csv)."""
    from audit.simulator import simulate as run_simulation

    size: str | int = int(scale) if scale.isdigit() else scale
    with _progress_bar() as bar:
        bar.add_task(f"simulating {scale}", total=None)
        summary = run_simulation(out, scale=size, seed=seed, clean=clean, fmt=format)
    rows = sum(summary.rows.values())
    console.print(f"Simulated {rows:,} rows in {len(summary.rows)} tables ({summary.seconds:.1f} s), "
                  f"{summary.n_labels:,} labels and {summary.n_decoys:,} look-alikes, into {out}")


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the demo data and the audit outputs.")] = Path("audit-demo"),
    engine: Annotated[EngineName, typer.Option(help="duckdb or spark.")] = EngineName.duckdb,
    format: Annotated[str, typer.Option("--format", help=FORMAT_HELP)] = DEMO_FORMATS,
) -> None:
    """Audit the bundled demo ledger end to end and say where the ranked exceptions went."""
    from audit.demo import write_demo_data
    from audit.evaluation import evaluate_run

    formats = _formats(format)
    data_dir = write_demo_data(out / "data")
    console.print(f"Demo ledger (simulated distributor with labelled fraud) in {data_dir}")
    result, written = _execute(str(data_dir), None, None, out / "run", engine.value, formats=formats)
    if {"csv", "parquet"} & set(formats):  # the evaluation reads the run's exceptions file
        evaluation = evaluate_run(out / "run", data_dir / "labels.csv", data_dir / "decoys.csv",
                                  result.tables.frames["customers"]["customer_id"].tolist())
        evaluation.write(out / "run" / "evaluation.json")
        _print_evaluation(evaluation)
    _print_summary(result, out / "run")
    _print_written(written)


# the review desk's commands (users add, serve, import, verify-cases, tune) are defined in desk/cli.py, which
# imports only typer at this point: Django is imported inside those commands when one of them runs
__import__("desk.cli").cli.register(app)


if __name__ == "__main__":  # `python -m audit.cli`, used by the benchmarks
    app()
