"""The command line as a user runs it: validate, run (twice, byte-identical), detectors, policy errors."""

from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

from audit.cli import app
from audit.ranking import exceptions_schema

from .conftest import MINI

runner = CliRunner()


def _run(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_run_writes_ranked_exceptions_and_manifest(tmp_path):
    result = _run("run", "--data", MINI, "--out", tmp_path)
    assert result.exit_code == 0, result.output
    assert "exceptions.csv" in result.output
    assert "Price off the list" in result.output and "price_deviation" not in result.output  # human names
    exceptions = pd.read_parquet(tmp_path / "exceptions.parquet")
    exceptions_schema(written=True).validate(exceptions)
    assert exceptions["rank"].tolist() == list(range(1, len(exceptions) + 1))
    assert {"price_deviation", "cheque_maturity_over_policy", "unbilled_shipment"} <= set(exceptions["pattern"])
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    hashed = {i["table"]: i for i in manifest["inputs"]}
    assert len(hashed["invoices"]["sha256"]) == 64 and hashed["invoices"]["rows_read"] == 4
    assert manifest["policy"]["cheques"]["max_maturity_days"] == 90
    assert manifest["policy"]["weekend"] == ["Fri"]  # the data folder's policy.toml was used
    assert {d["detector"] for d in manifest["detectors"]} >= {"PRC-01", "CHQ-02", "SHP-01"}


def test_two_runs_give_byte_identical_exceptions(tmp_path):
    for name in ("a", "b"):
        assert _run("run", "--data", MINI, "--out", tmp_path / name).exit_code == 0
    for name in ("exceptions.csv", "exceptions.parquet", "data_quality.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_period_keeps_that_month_only(tmp_path):
    assert _run("run", "--data", MINI, "--out", tmp_path, "--period", "2025-04").exit_code == 0
    exceptions = pd.read_csv(tmp_path / "exceptions.csv")
    assert set(exceptions["period"]) == {"2025-04"}


def test_previous_run_marks_repeats_and_resolved(tmp_path, mini_copy):
    assert _run("run", "--data", mini_copy, "--out", tmp_path / "march").exit_code == 0
    shipments = pd.read_csv(mini_copy / "shipments.csv", dtype=str)
    shipments[shipments["shipment_id"] != "SH4"].to_csv(mini_copy / "shipments.csv", index=False)
    lines = pd.read_csv(mini_copy / "shipment_lines.csv", dtype=str)
    lines[lines["shipment_id"] != "SH4"].to_csv(mini_copy / "shipment_lines.csv", index=False)
    assert _run("run", "--data", mini_copy, "--out", tmp_path / "april", "--previous",
                tmp_path / "march").exit_code == 0
    april = pd.read_csv(tmp_path / "april" / "exceptions.csv")
    assert set(april["status"]) == {"repeat"}
    resolved = pd.read_csv(tmp_path / "april" / "resolved.csv")
    assert resolved["entity_id"].tolist() == ["SH4"]


def test_suppressed_findings_keep_their_row(tmp_path):
    assert _run("run", "--data", MINI, "--out", tmp_path / "first").exit_code == 0
    first = pd.read_csv(tmp_path / "first" / "exceptions.csv")
    target = first.loc[first["pattern"] == "price_deviation", "exception_id"].iloc[0]
    pd.DataFrame({"exception_id": [target], "reason": ["approved by phone"]}).to_csv(tmp_path / "s.csv",
                                                                                     index=False)
    assert _run("run", "--data", MINI, "--out", tmp_path / "second", "--suppressions",
                tmp_path / "s.csv").exit_code == 0
    second = pd.read_csv(tmp_path / "second" / "exceptions.csv").set_index("exception_id")
    assert second.at[target, "status"] == "suppressed" and len(second) == len(first)


def test_unknown_policy_key_is_named_with_the_closest(tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text("[cheques]\nmax_maturity_dayz = 60\n")
    result = runner.invoke(app, ["run", "--data", str(MINI), "--policy", str(policy), "--out", str(tmp_path / "run")])
    assert result.exit_code != 0
    assert "max_maturity_dayz" in result.output and "cheques.max_maturity_days" in result.output


def test_detectors_catalogue_comes_from_docstrings():
    result = _run("detectors")
    assert result.exit_code == 0 and "price_deviation" in result.output
    one = _run("detectors", "PRC-01")
    assert "Not flagged" in one.output and "tolerance_pct" in one.output


def test_validate_ok_on_clean_data():
    result = _run("validate", "--data", MINI)
    assert result.exit_code == 0 and "can be audited" in result.output


def test_bad_period_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["run", "--data", str(MINI), "--period", "2025-13", "--out", str(tmp_path)])
    assert result.exit_code != 0 and "Traceback" not in result.output


def test_help_texts_print_clean():
    top = _run("--help")
    assert top.exit_code == 0 and "install-completion" not in top.output and "notebook" in top.output
    run_help = runner.invoke(app, ["run", "--help"], terminal_width=200)
    assert "sales-audit[spark]" in run_help.output  # the brackets are text, not Rich markup


def test_detector_catalogue_prints_no_restructuredtext():
    catalogue = _run("detectors")
    assert "``" not in catalogue.output and "Made-up buyer" in catalogue.output  # the human name
    one = _run("detectors", "PRC-01")
    assert "``" not in one.output and ":class:" not in one.output
    assert "lines whose unit_price (before" in " ".join(one.output.split())


def test_doc_text_takes_out_inline_markup_and_keeps_brackets():
    from audit.cli import doc_text

    shown = doc_text("``unit_price`` from :class:`Policy` and `x` [bold]kept[/bold]")
    assert shown.plain == "unit_price from Policy and x [bold]kept[/bold]"
    assert [(shown.plain[s.start:s.end], s.style) for s in shown.spans] == [("unit_price", "bold")]


def _small_run(folder):
    done = _run("run", "--data", MINI, "--out", folder, "--format", "csv,parquet,manifest")
    assert done.exit_code == 0, done.output
    return folder


def test_notebook_writes_a_parameterised_copy_and_says_where(tmp_path):
    import nbformat

    run = _small_run(tmp_path / "runs" / "april")
    done = _run("notebook", "customer_deep_dive", "--run", run, "--entity", "C3")
    written = tmp_path / "runs" / "notebooks" / "customer_deep_dive-C3.ipynb"
    assert done.exit_code == 0, done.output
    assert str(written) in " ".join(done.output.split()).replace(" ", "") or written.name in done.output
    assert "jupyter lab" in done.output
    notebook = nbformat.read(written, as_version=4)
    injected = [c for c in notebook.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1
    assert f"run_dir = {str(run.resolve())!r}" in injected[0].source.replace('"', "'")
    assert "customer_id = 'C3'" in injected[0].source.replace('"', "'")
    # the monthly review is given the ledger and month the run read
    review = _run("notebook", "monthly_review", "--run", run, "--out", tmp_path / "review.ipynb")
    assert review.exit_code == 0, review.output
    source = nbformat.read(tmp_path / "review.ipynb", as_version=4)
    injected = next(c for c in source.cells if "injected-parameters" in c.metadata.get("tags", [])).source
    assert str(MINI) in injected


def test_notebook_user_errors_are_clear(tmp_path):
    run = _small_run(tmp_path / "run")
    unknown = _run("notebook", "nope", "--run", run)
    assert unknown.exit_code == 2 and "customer_deep_dive" in unknown.output and "Traceback" not in unknown.output
    not_a_run = _run("notebook", "customer_deep_dive", "--run", tmp_path)
    assert not_a_run.exit_code == 2 and "manifest.json" in not_a_run.output
    no_entity = _run("notebook", "monthly_review", "--run", run, "--entity", "C3")
    assert no_entity.exit_code == 2 and "takes no --entity" in no_entity.output


def test_notebook_executed_on_a_run_shows_its_customer(tmp_path):
    import nbformat

    run = _small_run(tmp_path / "run")
    out = tmp_path / "c3.ipynb"
    done = _run("notebook", "customer_deep_dive", "--run", run, "--entity", "C3", "--out", out, "--execute")
    assert done.exit_code == 0, done.output
    outputs = [o for c in nbformat.read(out, as_version=4).cells for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("C3" in str(o.get("data", o.get("text", ""))) for o in outputs)


def test_demo_folder_is_ignored_by_git():
    import shutil
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    if shutil.which("git") is None or not (root / ".git").exists():
        import pytest

        pytest.skip("not a git checkout")
    ignored = subprocess.run(["git", "check-ignore", "-q", "audit-demo/run/report.html"], cwd=root)
    assert ignored.returncode == 0


def test_error_messages_keep_their_brackets(tmp_path):
    done = runner.invoke(app, ["run", "--data", str(MINI), "--out", str(tmp_path / "x"), "--format", "csv,[pdf]"])
    assert done.exit_code == 2 and "[pdf]" in done.output  # Rich does not read it as markup
