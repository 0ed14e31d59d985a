"""The one object a run produces; every writer and view reads it and nothing else."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from audit.policy import Policy


@dataclass
class RunResult:
    run_id: str
    exceptions: pd.DataFrame  # the contract's exceptions table, ranked
    data_quality: pd.DataFrame  # every problem found in the input, with the action taken
    detector_runs: pd.DataFrame  # one row per detector: ran / not run (needs ...) / failed, findings, seconds
    manifest: dict  # what was run on what: inputs and their SHA-256, policy, versions, times
    policy: Policy
    resolved: pd.DataFrame = field(default_factory=pd.DataFrame)  # earlier findings gone since
    tables: object = None  # audit.validation.AuditTables, for views that need the ledger itself
    views: dict[str, pd.DataFrame] = field(default_factory=dict)  # analyses' tables (aging, links, ...)
    decisions: pd.DataFrame | None = None  # with a case store (--cases): every decision on these findings

    @property
    def not_run(self) -> pd.DataFrame:
        return self.detector_runs[self.detector_runs["status"] != "ran"]

    def summary_by_pattern(self) -> pd.DataFrame:
        active = self.exceptions[self.exceptions["status"] != "suppressed"]
        return (active.groupby("pattern", as_index=False)
                .agg(findings=("exception_id", "size"), risk_amount=("risk_amount", "sum"))
                .sort_values(["risk_amount", "pattern"], ascending=[False, True], ignore_index=True))

    def write(self, out_dir: str | Path, formats: tuple[str, ...] = ("csv", "parquet", "manifest")) -> list[Path]:
        """Write the run with the registered writers (``reports`` provides them)."""
        from audit.registry import writers

        available = writers()
        unknown = [f for f in formats if f not in available]
        if unknown:
            raise ValueError(f"unknown output format(s) {unknown}; available: {sorted(available)}")
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        for name in formats:
            written.extend(available[name](self, out))
        return written

    def to_html(self, path: str | Path) -> Path:
        """Write the self-contained HTML report to ``path`` (a ``.html`` file, or a folder for report.html)."""
        return self._write_one("html", path, ".html")

    def to_excel(self, path: str | Path) -> Path:
        """Write the Excel workbook to ``path`` (a ``.xlsx`` file, or a folder for report.xlsx)."""
        return self._write_one("excel", path, ".xlsx")

    def export(self, out_dir: str | Path) -> list[Path]:
        """Write the compliance export (folder with SHA256SUMS, and its zip) into ``out_dir``."""
        return self.write(out_dir, formats=("export",))

    def _write_one(self, fmt: str, path: str | Path, suffix: str) -> Path:
        # Writers write a fixed name into a folder. For a file path they write into a scratch folder beside
        # it, then the file is moved: a report.html already next to ``path`` is left alone.
        import tempfile

        path = Path(path)
        if path.suffix.lower() != suffix:
            return self.write(path, formats=(fmt,))[0]
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=path.parent, prefix=".sales-audit-") as scratch:
            return self.write(scratch, formats=(fmt,))[0].replace(path)

    def _repr_html_(self) -> str:
        """Notebook display: the run's figures, money at risk by pattern and the ten highest-ranked findings."""
        statuses = self.exceptions["status"].value_counts()
        ran = int((self.detector_runs["status"] == "ran").sum()) if "status" in self.detector_runs else 0
        money = {"risk_amount": "{:,.0f}".format, "score": "{:.2f}".format}
        top = self.exceptions.head(10)[["rank", "status", "pattern", "score", "risk_amount", "entity_type",
                                        "entity_id", "title"]]
        status_text = ", ".join(f"{statuses.get(s, 0)} {s}" for s in ("new", "repeat", "suppressed"))
        # DataFrame.to_html escapes cell text: titles come from the ledger.
        return (f"<h4>sales-audit run {self.run_id}</h4><p>{len(self.exceptions)} findings ({status_text}), "
                f"{len(self.resolved)} resolved since the previous run; {ran} detectors ran, {len(self.not_run)} "
                f"not run; {len(self.data_quality)} data-quality rows.</p><b>Money at risk by pattern</b>"
                + self.summary_by_pattern().to_html(index=False, formatters=money)
                + "<b>Top findings</b>" + top.to_html(index=False, formatters=money))
