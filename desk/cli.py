"""The desk's commands, added to ``audit``: users add, serve, import, verify-cases, tune.

``audit/cli.py`` registers them with one line; Django is imported inside each command only.
"""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console()
err = Console(stderr=True)

DbOption = Annotated[str, typer.Option("--db", help="The case store: sqlite:///path/cases.sqlite3 (a file; created "
                                                    "when missing) or postgresql://user@host/db.")]
users_app = typer.Typer(help="Desk users: auditors, managers, compliance.", no_args_is_help=True)


def _fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def _setup(db: str) -> None:
    from desk import setup
    from desk.store import StoreError

    try:
        setup(db)
    except StoreError as exc:
        _fail(str(exc))
    except Exception as exc:  # no server, wrong password, not a database: say which store and why
        from desk.store import redact

        _fail(f"cannot open the case store {redact(db)}: {type(exc).__name__}: {str(exc).splitlines()[0]}")


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="The user's login name.")],
    role: Annotated[str, typer.Option(help="auditor (sees and decides on everything), manager (their "
                                           "salespeople's findings) or compliance (reads everything, decides "
                                           "nothing).")],
    db: DbOption,
    salespeople: Annotated[str | None, typer.Option(help="A manager's salespeople: ID,ID,...")] = None,
    manager: Annotated[str | None, typer.Option(help="A manager's own id: every salesperson whose manager_id in "
                                                     "the ledger is this one.")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from standard "
                                                                          "input (one line).")] = False,
) -> None:
    """Add a desk user (or change an existing user's role, scope and password)."""
    if role not in ("auditor", "manager", "compliance"):
        _fail(f"--role {role!r}: choose auditor, manager or compliance")
    if role == "manager" and not (salespeople or manager):
        _fail("a manager needs --salespeople ID,ID or --manager ID (their id in the salespeople table's "
              "manager_id column)")
    if role != "manager" and (salespeople or manager):
        _fail(f"--salespeople and --manager are for managers; an {role} sees every finding")
    if not password_stdin:
        _fail("pass the password on standard input with --password-stdin (it is never taken from the "
              "command line, where other users could read it)")
    password = sys.stdin.readline().rstrip("\r\n")
    _setup(db)
    from django.contrib.auth import get_user_model
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError
    from django.db import transaction

    from desk.models import Reviewer

    model = get_user_model()
    user = model.objects.filter(username=name).first() or model(username=name)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        _fail("password refused: " + " ".join(exc.messages))
    with transaction.atomic():
        existed = user.pk is not None
        user.set_password(password)
        user.save()
        Reviewer.objects.update_or_create(user=user, defaults={
            "role": role, "salespeople": ",".join(s.strip() for s in (salespeople or "").split(",") if s.strip()),
            "manager_id": (manager or "").strip()})
    scope = "every finding" if role != "manager" else ", ".join(
        x for x in (f"salespeople {salespeople}" if salespeople else "",
                    f"salespeople managed by {manager}" if manager else "") if x)
    console.print(f"{'Updated' if existed else 'Added'} {role} {name}: sees {scope}.", highlight=False)


def _import_folders(paths: list[Path]) -> None:
    from desk.importer import ImportProblem, import_run, run_folders

    for root in paths:
        try:
            folders = run_folders(root)
        except ImportProblem as exc:
            _fail(str(exc))
        if not folders:
            console.print(f"No run folders (manifest.json + exceptions) under {root}.", highlight=False)
        for folder in folders:
            try:
                done = import_run(folder)
            except ImportProblem as exc:
                _fail(str(exc))
            if done.skipped:
                continue
            console.print(f"Imported run {done.run_id} from {folder}: {done.findings} findings "
                          f"({done.new_findings} not seen before).", highlight=False)
            for note in done.notes:
                err.print(f"[yellow]note:[/] {note}", highlight=False)


def import_command(
    run: Annotated[Path, typer.Argument(help="A run folder (`audit run --out`), or a folder of run folders.")],
    db: DbOption,
) -> None:
    """Import a run's findings into the case store (a run already imported is skipped)."""
    _setup(db)
    _import_folders([run])


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    db: DbOption,
    runs: Annotated[Path | None, typer.Option(help="Import every run folder under this folder not yet "
                                                   "imported, then serve.")] = None,
    host: Annotated[str, typer.Option(help="Address to listen on. Loopback unless you name another address "
                                           "here on purpose.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    threads: Annotated[int, typer.Option(help="Requests served at once (more threads contend for Python's "
                                              "lock: 8 measured best, docs/desk.md).")] = 8,
) -> None:
    """Serve the review desk (waitress, a production WSGI server), after importing new runs."""
    if not _loopback(host):
        # typer cannot tell a default from a value given, but the default is loopback: a non-loopback
        # address can only come from --host itself. Say so, so nobody opens the desk by accident.
        err.print(f"[yellow]warning:[/] serving on {host}, reachable from other machines: use HTTPS in front of "
                  "it (a reverse proxy) so that passwords and sessions do not cross the network in clear.")
    _setup(db)
    if runs is not None:
        _import_folders([runs])
    from waitress import create_server

    from desk.store import redact
    from desk.wsgi import application

    try:
        server = create_server(application, host=host, port=port, threads=threads, ident="sales-audit-desk")
    except OSError as exc:
        _fail(f"cannot listen on {host}:{port}: {exc}")
    console.print(f"Review desk on http://{host}:{server.effective_port}/ (case store {redact(db)}); Ctrl+C stops "
                  "it.", highlight=False)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


def verify_cases(db: DbOption) -> None:
    """Check the decisions' hash chain: a changed, deleted or inserted decision fails (exit 1)."""
    _setup(db)
    from desk.chain import verify_chain

    check = verify_chain()
    if check.ok:
        console.print(f"[green]OK[/]: {check.checked} decisions, hash chain intact.")
        return
    for problem in check.problems:
        err.print(f"[bold red]{problem}[/]", highlight=False)
    _fail(f"the case store's decisions were tampered with: {len(check.problems)} problem(s) in "
          f"{check.checked} decisions.", 1)


def tune(
    cases: Annotated[str, typer.Option("--cases", help="The case store (as --db of `audit serve`).")],
    min_decisions: Annotated[int, typer.Option(help="Findings of a detector judged confirmed or false positive "
                                                    "before a policy change is suggested.")] = 5,
) -> None:
    """What reviewers decided per detector and salesperson, and the policy changes that would have removed
    most false positives while keeping the confirmed findings. Nothing is changed: copy one into policy.toml."""
    from rich.table import Table

    _setup(cases)
    from desk.models import Finding
    from desk.tuning import feedback

    report = feedback(Finding.objects.all(), min_decisions=min_decisions)
    for title, rows, key in (("By detector", report.by_detector, "detector"),
                             ("By salesperson", report.by_salesperson, "salesperson_id")):
        table = Table(title=title, header_style="bold")
        for column in (key, "findings", "confirmed", "false positive", "explained", "needs information"):
            table.add_column(column, justify="left" if column == key else "right")
        for row in rows:
            table.add_row(row[key], *(str(row[c]) for c in ("findings", "confirmed", "false_positive", "explained",
                                                              "needs_information")))
        console.print(table)
    if report.suggestions:
        console.print("[bold]Suggested policy changes[/] (not applied):")
        for suggestion in report.suggestions:
            console.print(f"  {suggestion.text}", highlight=False)
    else:
        console.print("No policy change to suggest yet.")
    for note in report.notes:
        console.print(f"  [dim]{note}[/]", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the desk's commands to the ``audit`` command."""
    app.add_typer(users_app, name="users")
    app.command("serve")(serve)
    app.command("import")(import_command)
    app.command("verify-cases")(verify_cases)
    app.command("tune")(tune)
