"""The compliance export: a folder (and a zip of it) that can be handed to an auditor or a regulator and
checked later with ``audit verify-export``.

``export/`` holds the exceptions as CSV, Parquet and JSON Lines, the findings resolved since the last run,
the data-quality and detector tables, the manifest (each input's SHA-256 and row counts, the policy,
versions, user, times), with a case store (``--cases``) ``decisions.csv`` (every review decision on the
run's findings, with its hash in the store's chain), and ``SHA256SUMS`` listing the SHA-256 of every other file. ``export.zip`` holds
the same folder. The listing is computed and checked by :mod:`audit.integrity`, in the core. Given a
signing key, ``SHA256SUMS.sig`` holds the listing's Ed25519 signature (:mod:`audit.signing`): without it
the hashes show only that the files agree with a listing anyone could recompute.
"""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path

import pandas as pd

from audit.evidence import JSON_COLUMNS, json_data
from audit.integrity import SIGNATURE_NAME, write_sums
from audit.result import RunResult
from reports.tables import write_csv, write_manifest, write_parquet

EXPORT_FOLDER = "export"
ZIP_NAME = "export.zip"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed member times: the same files give the same zip


def _json_value(value):
    if value is None or value is pd.NaT or (isinstance(value, float) and not math.isfinite(value)):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def write_jsonl(result: RunResult, out: Path) -> list[Path]:
    """``exceptions.jsonl``: one JSON object per finding, in rank order, ``evidence`` and ``related``
    as objects and lists (as in memory; their keys sorted, as in the CSV) rather than strings."""
    path = Path(out) / "exceptions.jsonl"
    with path.open("w", encoding="utf-8", newline="\n") as stream:
        for record in result.exceptions.to_dict(orient="records"):
            row = {key: json_data(value) if key in JSON_COLUMNS else _json_value(value)
                   for key, value in record.items()}
            stream.write(json.dumps(row, ensure_ascii=False, sort_keys=False, allow_nan=False) + "\n")
    return [path]


def write_decisions(result: RunResult, out: Path) -> list[Path]:
    """``decisions.csv`` when the run read a case store (``--cases``): every review decision on the run's
    findings, in the store's order, with each row's hash and its predecessor's (``audit verify-cases``
    checks the same chain in the store)."""
    decisions = getattr(result, "decisions", None)
    if decisions is None:
        return []
    path = Path(out) / "decisions.csv"
    decisions.to_csv(path, index=False, lineterminator="\n")
    return [path]


def _zip(folder: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(f"{folder.name}/{path.relative_to(folder).as_posix()}", date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with path.open("rb") as source, archive.open(info, "w") as member:
                while chunk := source.read(1 << 20):
                    member.write(chunk)
    return target


def write_export(result: RunResult, out: Path, signing_key=None) -> list[Path]:
    """Write ``export/`` (files + ``SHA256SUMS``, + ``SHA256SUMS.sig`` given an Ed25519 ``signing_key``)
    and ``export.zip`` into ``out``.

    An earlier export in the same place is replaced: a stale file left behind would fail verification.
    """
    folder = Path(out) / EXPORT_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    for stale in sorted(folder.rglob("*"), reverse=True):
        if stale.is_file():
            stale.unlink()
        elif stale.is_dir():
            stale.rmdir()
    files = [*write_csv(result, folder), *write_parquet(result, folder), *write_jsonl(result, folder),
             *write_manifest(result, folder), *write_decisions(result, folder)]
    listing = write_sums(folder)
    signed = []
    if signing_key is not None:
        from audit.signing import sign_listing

        signature = folder / SIGNATURE_NAME
        signature.write_text(sign_listing(listing.read_bytes(), signing_key), encoding="utf-8", newline="\n")
        signed.append(signature)
    archive = _zip(folder, Path(out) / ZIP_NAME)
    return [*files, listing, *signed, archive]
