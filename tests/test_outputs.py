"""Outputs a user can trust (issue 19): a run folder is replaced whole or not at all (SIGKILL, full disk),
an unusable --out is refused before any detector runs, CSV cells a spreadsheet would run are neutralised,
failed components are said first with their own exit code, and user errors are one-line messages."""

from __future__ import annotations

import csv
import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import audit
from audit.cli import EXIT_COMPONENTS_FAILED, EXIT_USAGE, app
from audit.formula_safety import neutralise_text, restore_text
from audit.registry import get_detector, writers
from audit.runner import _read_previous
from reports.runs import load_run

from .conftest import MINI

runner = CliRunner()
FORMATS = ("csv", "parquet", "manifest", "html")


@pytest.fixture(scope="module")
def result():
    return audit.run(MINI, policy=MINI / "policy.toml", detectors=["CHQ-02", "SHP-01"])


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _partials(out: Path) -> list[Path]:
    return sorted(out.parent.glob(f".{out.name}.partial-*"))


# ------------------------------------------------------------------------------------------ atomic outputs

KILLED_WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import reports
    from audit.cli import app

    def slow_html(result, out):
        path = Path(out) / "report.html"
        with open(path, "w", encoding="utf-8") as stream:
            stream.write("<html>" + "x" * 100_000)  # half a report on disk, then the process is killed
            stream.flush()
            print("WRITING", flush=True)
            time.sleep(120)
        return [path]

    reports.WRITERS["html"] = slow_html
    app(["run", "--data", sys.argv[1], "--out", sys.argv[2], "--detector", "SHP-01",
         "--format", "csv,parquet,manifest,html"])
""")


ONLY_TABLES = textwrap.dedent("""
    import sys
    from audit.cli import app

    try:
        app(["run", "--data", sys.argv[1], "--out", sys.argv[2], "--detector", "SHP-01",
             "--format", "csv,parquet,manifest"], standalone_mode=False)
    finally:
        print(sorted(m for m in ("reports.tables", "reports.html", "reports.excel", "reports.export", "jinja2",
                                 "xlsxwriter") if m in sys.modules))
""")


def test_a_writer_module_is_imported_only_when_its_format_is_written(tmp_path):
    done = subprocess.run([sys.executable, "-c", ONLY_TABLES, str(MINI), str(tmp_path / "run")], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "['reports.tables']"  # no workbook, template or report code
    assert (tmp_path / "run" / "exceptions.csv").is_file() and (tmp_path / "run" / "manifest.json").is_file()


def test_sigkill_while_writing_leaves_the_whole_previous_run(result, tmp_path):
    out = tmp_path / "run"
    result.write(out, FORMATS)
    before = _snapshot(out)
    child = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(MINI), str(out)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        line = ""
        while "WRITING" not in line and time.monotonic() < deadline and child.poll() is None:
            line = child.stdout.readline()
        assert "WRITING" in line, child.stderr.read() if child.poll() is not None else "no progress"
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
        child.stdout.close()
        child.stderr.close()
    # The new run's csv, parquet and manifest were already written when it died: none of them is in --out.
    assert _snapshot(out) == before
    assert _partials(out), "the killed run's scratch folder is beside --out, not in it"
    # The next run removes the dead run's scratch folder and replaces the folder whole.
    result.write(out, ("csv",))
    assert sorted(p.name for p in out.iterdir()) == ["data_quality.csv", "detectors.csv", "exceptions.csv",
                                                     "resolved.csv"]
    assert not _partials(out)


def test_full_disk_while_writing_leaves_the_previous_run_and_no_scratch(result, tmp_path, monkeypatch):
    out = tmp_path / "run"
    assert runner.invoke(app, ["run", "--data", str(MINI), "--out", str(out), "--detector", "SHP-01",
                               "--format", ",".join(FORMATS)]).exit_code == 0
    before = _snapshot(out)

    def full_disk(result, folder):
        (Path(folder) / "report.html").write_text("<html>half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setitem(writers(), "html", full_disk)  # the registry's (cached) table of writers
    outcome = runner.invoke(app, ["run", "--data", str(MINI), "--out", str(out), "--detector", "CHQ-02",
                                  "--format", ",".join(FORMATS)])
    assert outcome.exit_code == EXIT_USAGE, outcome.output
    assert "No space left on device" in outcome.output and "left as it was" in outcome.output
    assert "Traceback" not in outcome.output
    assert _snapshot(out) == before and not _partials(out)


def test_a_finished_run_replaces_the_folder_whole_and_keeps_its_mode(result, tmp_path):
    out = tmp_path / "run"
    result.write(out, FORMATS)
    os.chmod(out, 0o750)
    written = result.write(out, ("csv", "manifest"))
    assert {p.parent for p in written} == {out}
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in written)  # old report.html gone
    assert oct(out.stat().st_mode & 0o777) == oct(0o750)


def test_a_link_to_a_run_folder_stays_a_link(result, tmp_path):
    target, link = tmp_path / "2025-04", tmp_path / "current"
    result.write(target, ("csv",))
    link.symlink_to(target, target_is_directory=True)
    result.write(link, ("manifest",))
    assert link.is_symlink() and [p.name for p in target.iterdir()] == ["manifest.json"]


def _no_detector_may_run(monkeypatch):
    import audit.runner

    def forbidden(*args, **kwargs):
        raise AssertionError("the audit ran although --out was unusable")

    monkeypatch.setattr(audit.runner, "run", forbidden)


def test_out_naming_a_file_is_refused_before_the_audit(tmp_path, monkeypatch):
    _no_detector_may_run(monkeypatch)
    target = tmp_path / "report.txt"
    target.write_text("not a folder")
    outcome = runner.invoke(app, ["run", "--data", str(MINI), "--out", str(target)])
    assert outcome.exit_code == EXIT_USAGE and "is a file, not a folder" in outcome.output
    assert target.read_text() == "not a folder"


def test_out_holding_someone_elses_files_is_refused(tmp_path, monkeypatch):
    _no_detector_may_run(monkeypatch)
    (tmp_path / "thesis.docx").write_text("years of work")
    outcome = runner.invoke(app, ["run", "--data", str(MINI), "--out", str(tmp_path)])
    assert outcome.exit_code == EXIT_USAGE and "thesis.docx" in outcome.output
    assert (tmp_path / "thesis.docx").read_text() == "years of work"


def _make_read_only(folder: Path) -> None:
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return
    # root writes through file modes; an immutable folder is read-only even for root
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(folder)]).returncode != 0:
        pytest.skip("running as root on a file system without chattr +i: no read-only folder possible")


def _make_writable(folder: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(folder)], check=False)
    folder.chmod(0o755)


@pytest.mark.parametrize("where", ["out", "parent"])
def test_read_only_out_is_refused_before_the_audit(tmp_path, monkeypatch, where):
    _no_detector_may_run(monkeypatch)
    parent = tmp_path / "runs"
    out = parent / "march"
    out.mkdir(parents=True)
    locked = out if where == "out" else parent
    _make_read_only(locked)
    try:
        target = out if where == "out" else parent / "april"
        outcome = runner.invoke(app, ["run", "--data", str(MINI), "--out", str(target)])
    finally:
        _make_writable(locked)
    assert outcome.exit_code == EXIT_USAGE, outcome.output
    assert ("read-only" in outcome.output if where == "out" else "not writable" in outcome.output)
    assert "Traceback" not in outcome.output


# -------------------------------------------------------------------------------------- formula-safe CSV

FORMULAS = ['=HYPERLINK("http://x","id")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1)", "\tcmd", "\rcmd",
            "'=already quoted"]


def test_neutralise_is_owasps_quote_and_restores_exactly():
    for text in FORMULAS:
        assert neutralise_text(text) == "'" + text
        assert restore_text(neutralise_text(text)) == text
    for text in ("-5", "+1.5e3", "-0.25", "C000012", "a=b", "", "'plain"):
        assert neutralise_text(text) == text and restore_text(text) == text


@pytest.fixture
def hostile(result):
    exceptions = result.exceptions.copy()
    exceptions.loc[0, "entity_id"] = FORMULAS[0]
    exceptions.loc[0, "title"] = FORMULAS[1]
    exceptions.loc[0, "customer_id"] = "-5"  # a number written as text stays a number
    exceptions.loc[0, "risk_amount"] = -12.5
    quality = pd.DataFrame({"severity": ["row"], "table": ["invoices"], "column": ["invoice_date"],
                            "row": [7], "value": ["@SUM(A1:A9)"], "problem": ["-2+3 is not a date"],
                            "fix": ["write ISO dates"], "action": ["row set aside"]})
    runs = result.detector_runs.copy()
    runs.loc[runs.index[0], "reason"] = "=1+1"
    resolved = exceptions.head(1).copy()
    resolved["entity_id"] = "\tcmd"
    return replace(result, exceptions=exceptions, data_quality=quality, detector_runs=runs, resolved=resolved)


def _cells(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as stream:
        return [cell for row in csv.reader(stream) for cell in row]


def test_every_csv_neutralises_formulas_and_keeps_numbers(hostile, tmp_path):
    hostile.write(tmp_path / "run", ("csv", "parquet", "export"))
    for folder in (tmp_path / "run", tmp_path / "run" / "export"):
        cells = {name: _cells(folder / name) for name in ("exceptions.csv", "data_quality.csv", "detectors.csv",
                                                          "resolved.csv")}
        for name, values in cells.items():
            risky = [v for v in values if v[:1] in ("=", "+", "@", "\t", "\r")
                     or (v[:1] == "-" and not re.fullmatch(r"-\d+(\.\d+)?", v))]
            assert not risky, (folder, name, risky)
        assert "'" + FORMULAS[0] in cells["exceptions.csv"] and "'" + FORMULAS[1] in cells["exceptions.csv"]
        assert "-5" in cells["exceptions.csv"] and "-12.50" in cells["exceptions.csv"]
        assert {"'@SUM(A1:A9)", "'-2+3 is not a date"} <= set(cells["data_quality.csv"])
        assert "'=1+1" in cells["detectors.csv"] and "'\tcmd" in cells["resolved.csv"]
    # Parquet and JSON Lines keep the exact values
    exact = pd.read_parquet(tmp_path / "run" / "exceptions.parquet")
    assert exact.loc[0, "entity_id"] == FORMULAS[0] and exact.loc[0, "risk_amount"] == -12.5
    first = json.loads((tmp_path / "run" / "export" / "exceptions.jsonl").read_text().splitlines()[0])
    assert first["entity_id"] == FORMULAS[0] and first["title"] == FORMULAS[1]


def test_csv_read_back_gives_the_original_text(hostile, tmp_path):
    (tmp_path / "run").mkdir()
    from reports.tables import write_csv, write_manifest

    write_csv(hostile, tmp_path / "run")
    write_manifest(hostile, tmp_path / "run")
    previous = _read_previous(tmp_path / "run")
    assert previous.loc[0, "entity_id"] == FORMULAS[0] and previous.loc[0, "customer_id"] == "-5"
    reopened = load_run(tmp_path / "run", data=MINI)
    assert reopened.exceptions.loc[0, "title"] == FORMULAS[1]
    assert reopened.resolved.loc[0, "entity_id"] == "\tcmd"


# ----------------------------------------------------------------------------------- failed components


def test_failed_components_are_said_first_and_exit_3(tmp_path, monkeypatch):
    def broken(self, data):
        raise MemoryError("Java heap space")

    monkeypatch.setattr(get_detector("SHP-01"), "find", broken)
    out = tmp_path / "run"
    outcome = runner.invoke(app, ["run", "--data", str(MINI), "--out", str(out)])
    assert outcome.exit_code == EXIT_COMPONENTS_FAILED, outcome.output
    assert outcome.stdout.lstrip().startswith("INCOMPLETE RUN: 1 component(s) failed (SHP-01)")
    # everything else was still written, and the report says so above everything
    exceptions = pd.read_csv(out / "exceptions.csv")
    assert len(exceptions) and "unbilled_shipment" not in set(exceptions["pattern"])
    assert "cheque_maturity_over_policy" in set(exceptions["pattern"])
    detectors = pd.read_csv(out / "detectors.csv")
    assert detectors.loc[detectors["detector"] == "SHP-01", "status"].tolist() == ["failed"]
    page = (out / "report.html").read_text(encoding="utf-8")
    banner = page.index('id="failed-run"')
    assert banner < page.index('<header class="top">') and "Java heap space" in page[banner:banner + 2000]
    assert (out / "report.xlsx").stat().st_size > 0


def test_run_help_documents_the_exit_codes():
    outcome = runner.invoke(app, ["run", "--help"], env={"COLUMNS": "200"})
    assert "Exit codes" in outcome.output and "3 some components failed" in outcome.output


# ------------------------------------------------------------------------------------------- user errors


def _error(args) -> str:
    outcome = runner.invoke(app, args)
    assert outcome.exit_code == EXIT_USAGE, outcome.output
    assert "Traceback" not in outcome.output
    assert outcome.exception is None or isinstance(outcome.exception, SystemExit)
    return outcome.output


def test_unknown_detector_names_the_closest_before_the_audit(tmp_path, monkeypatch):
    _no_detector_may_run(monkeypatch)
    output = _error(["run", "--data", str(MINI), "--out", str(tmp_path / "run"), "--detector", "CHQ-2"])
    assert "no detector 'CHQ-2'" in output and "CHQ-02" in output
    output = _error(["detectors", "XYZ-99"])
    assert "no detector 'XYZ-99'" in output and "the closest:" in output


def test_detector_codes_are_case_insensitive(tmp_path):
    outcome = runner.invoke(app, ["run", "--data", str(MINI), "--out", str(tmp_path / "run"), "--detector",
                                  "shp-01", "--format", "csv"])
    assert outcome.exit_code == 0, outcome.output
    assert set(pd.read_csv(tmp_path / "run" / "exceptions.csv")["detector"]) == {"SHP-01"}
    assert runner.invoke(app, ["detectors", "chq-02"]).exit_code == 0


def test_missing_database_driver_says_which_package(tmp_path):
    output = _error(["run", "--data", "mysql://auditor:secret@db.example/ledger", "--out", str(tmp_path / "r")])
    assert "pip install mysqlclient" in output and "secret" not in output


def test_bad_previous_folder_is_a_message(tmp_path):
    previous = tmp_path / "march"
    previous.mkdir()
    output = _error(["run", "--data", str(MINI), "--out", str(tmp_path / "run"), "--previous", str(previous)])
    assert "no exceptions.parquet or exceptions.csv" in output
    (previous / "exceptions.parquet").write_bytes(b"PAR1 this is not parquet")
    output = _error(["run", "--data", str(MINI), "--out", str(tmp_path / "run"), "--previous", str(previous)])
    assert "cannot be read" in output and "exceptions.parquet" in output
    (previous / "exceptions.parquet").unlink()
    (previous / "exceptions.csv").write_text("name,amount\nx,1\n")
    output = _error(["run", "--data", str(MINI), "--out", str(tmp_path / "run"), "--previous", str(previous)])
    assert "no exception_id or period column" in output


def test_messages_are_not_wrapped_when_not_a_terminal(tmp_path):
    long_name = tmp_path / ("a-very-long-folder-name-" * 4) / "report.txt"
    long_name.parent.mkdir()
    long_name.write_text("x")
    output = _error(["run", "--data", str(MINI), "--out", str(long_name)])
    line = next(line for line in output.splitlines() if line.startswith("error:"))
    assert str(long_name) in line and "is a file, not a folder" in line  # one line, longer than 80 columns
    assert len(line) > 120


def test_library_export_and_report_replace_only_their_own_files(result, tmp_path):
    # export() and to_html(folder) put their outputs beside other files; only a whole run replaces a folder
    (tmp_path / "notes.txt").write_text("mine")
    written = result.export(tmp_path)
    assert {p.name for p in written} >= {"SHA256SUMS", "export.zip"} and all(p.exists() for p in written)
    assert result.to_html(tmp_path) == tmp_path / "report.html"
    assert (tmp_path / "notes.txt").read_text() == "mine" and not list(tmp_path.glob(".sales-audit-*"))
