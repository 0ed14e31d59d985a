"""Import run folders (the output of ``audit run``) into the case store.

A run is imported once (by its ``run_id``). Each finding is keyed by its ``exception_id``: a finding seen
in an earlier run keeps its decisions, assignment and version; its text, rank and scores become those of
the latest run (by the manifest's start time). The salespeople table (id, name, manager_id) is read from
the ledger the manifest names, so that a manager's scope by ``manager_id`` follows the ledger; when the
ledger is not reachable from here, the earlier import's table is kept and the import says so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from django.db import transaction

from desk.models import Appearance, Finding, Run, Salesperson


class ImportProblem(ValueError):
    """A folder that is not a run folder, with what is missing."""


@dataclass
class Imported:
    run_id: str
    folder: Path
    findings: int = 0
    new_findings: int = 0
    skipped: bool = False
    notes: list[str] = field(default_factory=list)


def is_run_folder(folder: Path) -> bool:
    return (folder / "manifest.json").is_file() and any(
        (folder / name).is_file() for name in ("exceptions.parquet", "exceptions.csv"))


def run_folders(root: Path) -> list[Path]:
    """Every run folder at or under ``root``, oldest run first (manifest start time, then path)."""
    root = Path(root)
    if not root.is_dir():
        raise ImportProblem(f"{root} is not a folder: pass a run folder (`audit run --out`) or a folder of them")
    candidates = [root] if is_run_folder(root) else []
    candidates += sorted(p.parent for p in root.rglob("manifest.json") if p.parent != root and is_run_folder(p.parent))

    def started(folder: Path) -> tuple[str, str]:
        try:
            return json.loads((folder / "manifest.json").read_text(encoding="utf-8")).get("started_at") or "", str(folder)
        except ValueError:
            return "", str(folder)
    return sorted(candidates, key=started)


def _exceptions(folder: Path) -> pd.DataFrame:
    if (folder / "exceptions.parquet").is_file():
        frame = pd.read_parquet(folder / "exceptions.parquet")
    else:
        frame = pd.read_csv(folder / "exceptions.csv", dtype=str, keep_default_na=False, na_values=[""])
    needed = ["exception_id", "detector", "pattern", "score", "risk_amount", "entity_type", "entity_id", "title",
              "explanation", "rank"]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ImportProblem(f"{folder}: the exceptions file lacks column(s) {', '.join(missing)}; is it the output "
                            "of `audit run`?")
    return frame


def _text(value) -> str:
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA else str(value)


def _salespeople(manifest: dict) -> tuple[pd.DataFrame | None, str]:
    """The ledger's salespeople table, read from the file the manifest recorded (else the whole --data)."""
    origin = next((i.get("origin") for i in manifest.get("inputs", []) if i.get("table") == "salespeople"), None)
    try:
        if origin and Path(origin).is_file() and Path(origin).suffix.lower() in (".csv", ".parquet"):
            path = Path(origin)
            frame = (pd.read_parquet(path) if path.suffix.lower() == ".parquet"
                     else pd.read_csv(path, dtype=str, keep_default_na=False))
        elif manifest.get("data"):
            from audit.loading import load

            loaded = load(manifest["data"], lazy=True)  # only the salespeople file is read
            table = loaded.tables["salespeople"].read([]) if "salespeople" in loaded.tables else None
            if table is None:
                return None, f"the ledger at {manifest['data']} has no salespeople table"
            frame = table.frame
        else:
            return None, "the manifest does not say where the ledger is"
    except Exception as exc:  # an unreachable database or a moved folder: scope by listed salespeople only
        return None, f"the ledger's salespeople could not be read ({type(exc).__name__}: {exc})"
    if "salesperson_id" not in frame.columns:
        return None, "the ledger's salespeople table has no salesperson_id column"
    return frame, ""


def import_run(folder: str | Path) -> Imported:
    folder = Path(folder)
    if not is_run_folder(folder):
        raise ImportProblem(f"{folder} is not a run folder: it needs manifest.json and exceptions.parquet or "
                            "exceptions.csv (the output of `audit run --out`)")
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ImportProblem(f"{folder / 'manifest.json'} is not valid JSON ({exc})") from None
    run_id = str(manifest.get("run_id") or "")
    if not run_id:
        raise ImportProblem(f"{folder / 'manifest.json'} has no run_id")
    result = Imported(run_id, folder)
    if Run.objects.filter(run_id=run_id).exists():
        result.skipped = True
        return result
    frame = _exceptions(folder)
    people, note = _salespeople(manifest)
    if note:
        result.notes.append(note + "; managers see the salespeople listed for them (`audit users add --salespeople`)")
    with transaction.atomic():
        run = Run.objects.create(run_id=run_id, period=_text(manifest.get("period")), folder=str(folder.resolve()),
                                 data=_text(manifest.get("data")), started_at=_text(manifest.get("started_at")),
                                 findings=len(frame), manifest=manifest)
        if people is not None:
            for row in people.to_dict(orient="records"):
                Salesperson.objects.update_or_create(
                    salesperson_id=_text(row.get("salesperson_id")),
                    defaults={"name": _text(row.get("name")), "manager_id": _text(row.get("manager_id"))})
        existing = {f.exception_id: f for f in Finding.objects.select_related("last_run").filter(exception_id__in=list(frame["exception_id"]))}
        for row in frame.to_dict(orient="records"):
            values = {"detector": _text(row["detector"]), "pattern": _text(row["pattern"]),
                      "entity_type": _text(row["entity_type"]), "entity_id": _text(row["entity_id"]),
                      "salesperson_id": _text(row.get("salesperson_id")), "customer_id": _text(row.get("customer_id")),
                      "period": _text(row.get("period")), "score": float(row["score"]),
                      "risk_amount": float(row["risk_amount"]), "title": _text(row["title"]),
                      "explanation": _text(row["explanation"]), "check_next": _text(row.get("check_next")),
                      "evidence": _text(row.get("evidence")) or "{}",
                      "related": _text(row.get("related")) or "[]", "rank": int(row["rank"]),
                      "run_status": _text(row.get("status")) or "new", "last_run": run}
            finding = existing.get(row["exception_id"])
            if finding is None:
                finding = Finding.objects.create(exception_id=_text(row["exception_id"]), **values)
                result.new_findings += 1
            elif finding.last_run.started_at <= run.started_at:  # an older run imported late keeps the newer text
                Finding.objects.filter(pk=finding.pk).update(**values)
            Appearance.objects.create(finding=finding, run=run, rank=values["rank"], status=values["run_status"],
                                      score=values["score"], risk_amount=values["risk_amount"])
        result.findings = len(frame)
    return result


def import_all(root: str | Path) -> list[Imported]:
    return [import_run(folder) for folder in run_folders(Path(root))]
