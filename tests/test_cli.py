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
