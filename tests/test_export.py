"""The compliance export and `audit verify-export`: a clean export verifies; a changed, a deleted and an
added file each fail, in the folder and in the zip."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import zipfile

import pandas as pd
import pytest
from typer.testing import CliRunner

import audit
from audit.cli import app
from audit.integrity import SUMS_NAME, IntegrityError, parse_sums, verify
from reports.export import write_export

from .conftest import MINI

runner = CliRunner()
EXPORTED = {"exceptions.csv", "exceptions.parquet", "exceptions.jsonl", "manifest.json", "data_quality.csv",
            "detectors.csv", "resolved.csv", SUMS_NAME}


@pytest.fixture(scope="module")
def result():
    return audit.run(MINI, policy=MINI / "policy.toml", detectors=["CHQ-02", "SHP-01"])  # any findings will do


@pytest.fixture
def exported(result, tmp_path):
    write_export(result, tmp_path)
    return tmp_path / "export"


def _verify(target):
    return runner.invoke(app, ["verify-export", str(target)])


def test_export_holds_every_format_the_manifest_and_true_sums(result, exported):
    assert {p.name for p in exported.iterdir()} == EXPORTED
    sums = parse_sums((exported / SUMS_NAME).read_text())
    assert set(sums) == EXPORTED - {SUMS_NAME}
    for name, digest in sums.items():
        assert hashlib.sha256((exported / name).read_bytes()).hexdigest() == digest
    lines = (exported / "exceptions.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["exception_id"] for r in rows] == result.exceptions["exception_id"].tolist()
    assert all(isinstance(r["evidence"], dict) and isinstance(r["related"], list) for r in rows)
    assert pd.read_parquet(exported / "exceptions.parquet")["exception_id"].tolist() == [r["exception_id"]
                                                                                         for r in rows]
    manifest = json.loads((exported / "manifest.json").read_text())
    assert manifest["run_id"] == result.run_id and all(len(i["sha256"]) == 64 for i in manifest["inputs"])
    with zipfile.ZipFile(exported.parent / "export.zip") as archive:
        assert {n.removeprefix("export/") for n in archive.namelist()} == EXPORTED
        assert archive.read(f"export/{SUMS_NAME}") == (exported / SUMS_NAME).read_bytes()


def test_clean_export_verifies(exported):
    for target in (exported, exported.parent / "export.zip"):
        outcome = _verify(target)
        assert outcome.exit_code == 0, outcome.output
        assert "OK" in outcome.output and f"all {len(EXPORTED) - 1} files" in outcome.output


@pytest.mark.parametrize(("tamper", "expected"), [
    (lambda d: (d / "exceptions.csv").write_text((d / "exceptions.csv").read_text().replace("new", "old", 1)),
     "changed: exceptions.csv"),
    (lambda d: (d / "manifest.json").unlink(), "missing: manifest.json"),
    (lambda d: (d / "notes.txt").write_text("added later\n"), "added: notes.txt"),
], ids=["changed", "deleted", "added"])
def test_tampered_export_fails(exported, tamper, expected):
    tamper(exported)
    outcome = _verify(exported)
    assert outcome.exit_code == 1, outcome.output
    assert expected in outcome.output
    assert len(verify(exported).problems()) == 1


def test_tampered_zip_fails(exported, tmp_path):
    original, forged = exported.parent / "export.zip", tmp_path / "forged.zip"
    with zipfile.ZipFile(original) as source, zipfile.ZipFile(forged, "w") as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == "export/resolved.csv":
                content += b"extra,row\n"
            target.writestr(info, content)
        target.writestr("export/README.txt", "slipped in")
    outcome = _verify(forged)
    assert outcome.exit_code == 1
    assert "changed: resolved.csv" in outcome.output and "added: README.txt" in outcome.output


def test_no_or_broken_listing_is_an_error(exported, tmp_path):
    outcome = _verify(tmp_path / "nowhere")
    assert outcome.exit_code == 1 and "does not exist" in outcome.output
    (exported / SUMS_NAME).write_text("not a listing\n")
    with pytest.raises(IntegrityError, match="line 1"):
        verify(exported)
    assert _verify(exported).exit_code == 1
    (exported / SUMS_NAME).unlink()
    outcome = _verify(exported)
    assert outcome.exit_code == 1 and SUMS_NAME in outcome.output


def test_listing_cannot_point_outside_the_folder():
    with pytest.raises(IntegrityError, match="outside"):
        parse_sums("0" * 64 + "  ../etc/passwd\n")


def test_export_again_replaces_a_stale_folder(result, exported):
    (exported / "old.csv").write_text("left over\n")
    write_export(result, exported.parent)
    assert verify(exported).ok and not (exported / "old.csv").exists()


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="GNU coreutils' sha256sum is not installed")
def test_listing_is_what_sha256sum_checks(exported):
    check = subprocess.run(["sha256sum", "--check", "--strict", SUMS_NAME], cwd=exported, capture_output=True,
                           text=True)
    assert check.returncode == 0, check.stdout + check.stderr
