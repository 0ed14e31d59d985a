"""The one object a run produces; every writer and view reads it and nothing else."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from audit.policy import Policy


def _private_key(key):
    """A signing key given as a file is loaded (and checked) before anything is written."""
    if key is None or hasattr(key, "sign"):
        return key
    from audit.signing import load_private_key

    return load_private_key(key)


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

    @property
    def failed(self) -> pd.DataFrame:
        """The components (detectors and analyses) that raised during the run: their findings are missing."""
        runs = self.detector_runs
        if runs is None or "status" not in runs:
            return pd.DataFrame(columns=["detector", "pattern", "status", "reason"])
        return runs[runs["status"] == "failed"]

    def failure_notice(self) -> str:
        """One sentence for the top of the console and the report when components failed, else ''."""
        failed = self.failed
        if not len(failed):
            return ""
        from audit.i18n import t

        names = ", ".join(str(code) for code in failed["detector"])
        return t("INCOMPLETE RUN: %(count)s component(s) failed (%(names)s); their findings are missing, so the "
                 "ranked list and the totals leave them out. The reasons are in detectors.csv.",
                 count=len(failed), names=names)

    def write(self, out_dir: str | Path, formats: tuple[str, ...] = ("csv", "parquet", "manifest"),
              signing_key=None) -> list[Path]:
        """Write the run with the registered writers (``reports`` provides them) as the folder ``out_dir``.

        The outputs are written into a scratch folder beside ``out_dir`` that then replaces it whole
        (:mod:`audit.output_folder`): a crash or a full disk leaves the previous run as it was. ``out_dir``
        must be new, empty or an earlier run's folder. ``signing_key`` (a key file or a loaded Ed25519
        private key, see :mod:`audit.signing`) signs the compliance export.
        """
        from audit.output_folder import write_atomically

        writers = self._writers(formats)
        signing_key = _private_key(signing_key)
        return write_atomically(out_dir, lambda scratch: self._write_into(scratch, formats, writers, signing_key))

    def _writers(self, formats) -> dict:
        from audit.registry import writers

        available = writers()
        unknown = [f for f in formats if f not in available]
        if unknown:
            raise ValueError(f"unknown output format(s) {unknown}; available: {sorted(available)}")
        return available

    def _write_into(self, out: Path, formats, available: dict, signing_key=None) -> list[Path]:
        written: list[Path] = []
        for name in formats:
            if name == "export" and signing_key is not None:
                written.extend(available[name](self, out, signing_key=signing_key))
            else:
                written.extend(available[name](self, out))
        return written

    def to_html(self, path: str | Path) -> Path:
        """Write the self-contained HTML report to ``path`` (a ``.html`` file, or a folder for report.html)."""
        return self._write_one("html", path, ".html")[0]

    def to_excel(self, path: str | Path) -> Path:
        """Write the Excel workbook to ``path`` (a ``.xlsx`` file, or a folder for report.xlsx)."""
        return self._write_one("excel", path, ".xlsx")[0]

    def export(self, out_dir: str | Path, signing_key=None) -> list[Path]:
        """Write the compliance export (folder with SHA256SUMS, and its zip) into ``out_dir``; other files
        there stay. ``signing_key`` (a key file path or a loaded Ed25519 private key) signs its listing."""
        return self._write_one("export", out_dir, None, _private_key(signing_key))

    def _write_one(self, fmt: str, path: str | Path, suffix: str | None, signing_key=None) -> list[Path]:
        # Writers write fixed names into a folder; they write into a scratch folder and each entry is then
        # moved into place whole, so a half-written report never replaces a good one. For a file path the
        # file is renamed to it: a report.html already next to ``path`` is left alone.
        from audit.output_folder import write_beside

        path = Path(path)
        writers = self._writers((fmt,))
        if suffix is None or path.suffix.lower() != suffix:
            return write_beside(path, lambda scratch: self._write_into(scratch, (fmt,), writers, signing_key))
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=path.parent, prefix=".sales-audit-") as scratch:
            return [self._write_into(Path(scratch), (fmt,), writers)[0].replace(path)]

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
