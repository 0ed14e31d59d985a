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

    def _repr_html_(self) -> str:
        top = self.exceptions.head(10)[["rank", "pattern", "score", "risk_amount", "entity_type", "entity_id",
                                        "title"]]
        return (f"<h4>sales-audit run {self.run_id}</h4><p>{len(self.exceptions)} findings, "
                f"{int((self.detector_runs['status'] == 'ran').sum())} detectors ran, "
                f"{len(self.not_run)} not run, {len(self.data_quality)} data-quality rows</p>"
                + top.to_html(index=False))
