"""The compliance export and `audit verify-export`: a clean export verifies; a changed, a deleted and an
added file each fail, in the folder and in the zip."""

from __future__ import annotations

import hashlib
import json
import shutil
import stat
import subprocess
import zipfile

import pandas as pd
import pytest
from typer.testing import CliRunner

import audit
from audit.cli import app
from audit.integrity import SIGNATURE_NAME, SUMS_NAME, IntegrityError, parse_sums, verify
from audit.signing import PRIVATE_KEY_NAME, PUBLIC_KEY_NAME, load_private_key, load_public_key
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


# ------------------------------------------------------------------------------------------ signed exports


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keys") / "audit-keys"
    outcome = runner.invoke(app, ["keys", "create", str(folder)])
    assert outcome.exit_code == 0, outcome.output
    return folder / PRIVATE_KEY_NAME, folder / PUBLIC_KEY_NAME


@pytest.fixture
def signed(result, keys, tmp_path):
    write_export(result, tmp_path, signing_key=load_private_key(keys[0]))
    return tmp_path / "export"


def _verify_with(target, public_key):
    return runner.invoke(app, ["verify-export", str(target), "--public-key", str(public_key)])


def test_keys_create_makes_a_private_key_only_its_owner_reads(keys):
    private, public = keys
    assert stat.S_IMODE(private.stat().st_mode) == 0o600 and stat.S_IMODE(private.parent.stat().st_mode) == 0o700
    assert b"PRIVATE KEY" in private.read_bytes() and b"PUBLIC KEY" in public.read_bytes()
    again = runner.invoke(app, ["keys", "create", str(private.parent)])
    assert again.exit_code != 0 and "never overwritten" in again.output


def test_keys_inside_git_are_warned_about(tmp_path):
    (tmp_path / ".git").mkdir()
    outcome = runner.invoke(app, ["keys", "create", str(tmp_path / "keys")])
    assert outcome.exit_code == 0 and "never commit" in outcome.output


def test_signed_export_verifies_with_its_public_key(signed, keys):
    assert (signed / SIGNATURE_NAME).is_file()
    for target in (signed, signed.parent / "export.zip"):
        outcome = _verify_with(target, keys[1])
        assert outcome.exit_code == 0, outcome.output
        assert "signature is valid" in outcome.output
    outcome = _verify(signed)  # without the public key: hashes checked, the signature is said to be unchecked
    assert outcome.exit_code == 0 and "NOT checked" in outcome.output


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="GNU coreutils' sha256sum is not installed")
def test_forged_export_with_recomputed_sums_fails(signed, keys):
    csv_file = signed / "exceptions.csv"
    csv_file.write_text(csv_file.read_text().replace("new", "old", 1))
    names = sorted(p.name for p in signed.iterdir() if p.name not in {SUMS_NAME, SIGNATURE_NAME})
    sums = subprocess.run(["sha256sum", *names], cwd=signed, capture_output=True, text=True, check=True).stdout
    (signed / SUMS_NAME).write_text(sums)
    assert verify(signed).ok  # the hashes alone are fooled...
    outcome = _verify_with(signed, keys[1])
    assert outcome.exit_code == 1, outcome.output  # ...the signature is not
    assert "listing was changed after it was signed" in outcome.output
    (signed / SIGNATURE_NAME).unlink()  # dropping the signature does not help either
    outcome = _verify_with(signed, keys[1])
    assert outcome.exit_code == 1 and "not signed" in outcome.output


def test_forged_zip_with_recomputed_sums_fails(signed, keys, tmp_path):
    forged = tmp_path / "forged.zip"
    with zipfile.ZipFile(signed.parent / "export.zip") as source, zipfile.ZipFile(forged, "w") as target:
        files = {i.filename: source.read(i) for i in source.infolist()}
        files["export/resolved.csv"] += b"extra,row\n"
        listing = "".join(f"{hashlib.sha256(content).hexdigest()}  {name.removeprefix('export/')}\n"
                          for name, content in sorted(files.items())
                          if not name.endswith((SUMS_NAME, SIGNATURE_NAME)))
        files[f"export/{SUMS_NAME}"] = listing.encode()
        for name, content in files.items():
            target.writestr(name, content)
    assert verify(forged).ok
    outcome = _verify_with(forged, keys[1])
    assert outcome.exit_code == 1 and "signature" in outcome.output


def test_export_signed_by_another_key_fails(signed, tmp_path):
    other = tmp_path / "other-keys"
    assert runner.invoke(app, ["keys", "create", str(other)]).exit_code == 0
    outcome = _verify_with(signed, other / PUBLIC_KEY_NAME)
    assert outcome.exit_code == 1 and "another key" in outcome.output


def test_unsigned_export_says_so_plainly_and_fails_a_key_check(exported, keys):
    outcome = _verify(exported)
    assert outcome.exit_code == 0 and "UNSIGNED" in outcome.output and "anyone" in outcome.output
    outcome = _verify_with(exported, keys[1])
    assert outcome.exit_code == 1 and "not signed" in outcome.output


def test_empty_or_repeating_listing_is_an_error(exported):
    (exported / SUMS_NAME).write_text("")
    outcome = _verify(exported)
    assert outcome.exit_code == 1 and "lists no files" in outcome.output
    line = f"{'0' * 64}  exceptions.csv\n"
    with pytest.raises(IntegrityError, match="second time"):
        parse_sums(line + line)


def test_zip_with_a_member_twice_is_an_error(exported, tmp_path):
    forged = tmp_path / "twice.zip"
    with zipfile.ZipFile(exported.parent / "export.zip") as source, zipfile.ZipFile(forged, "w") as target:
        for info in source.infolist():
            target.writestr(info, source.read(info))
        with pytest.warns(UserWarning, match="Duplicate name"):
            target.writestr("export/exceptions.csv", b"rank,title\n1,forged\n")
    outcome = _verify(forged)
    assert outcome.exit_code == 1 and "more than one member named export/exceptions.csv" in outcome.output


def test_run_signs_its_export_and_refuses_a_key_others_can_read(keys, tmp_path):
    out = tmp_path / "run"
    outcome = runner.invoke(app, ["run", "--data", str(MINI), "--out", str(out), "--detector", "SHP-01",
                                  "--format", "csv", "--signing-key", str(keys[0])])
    assert outcome.exit_code == 0, outcome.output
    assert _verify_with(out / "export.zip", keys[1]).exit_code == 0
    loose = tmp_path / "loose.key"
    loose.write_bytes(keys[0].read_bytes())
    loose.chmod(0o644)
    outcome = runner.invoke(app, ["run", "--data", str(MINI), "--out", str(tmp_path / "run2"),
                                  "--signing-key", str(loose)])
    assert outcome.exit_code == 2 and "can be read by others" in outcome.output and not (tmp_path / "run2").exists()


def test_library_export_signs_with_a_key_file(result, keys, tmp_path):
    written = result.export(tmp_path, signing_key=keys[0])
    assert SIGNATURE_NAME in {p.name for p in written}
    check = verify(tmp_path / "export.zip", load_public_key(keys[1]))
    assert check.ok and check.signature == "valid"
