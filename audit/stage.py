"""The checked tables kept on disk, out of the Python process, and read back only when a component asks.

After the contract check, a run writes each checked table once as a Parquet file into a stage folder and
drops the pandas frame. The engine reads the files itself (DuckDB loads them into its own compressed
tables, Spark scans them per query), so the ledger lives in the engine, not in Python. A component that
asks for a table as pandas (``AuditData.frame``) gets it read back from its file; the runner releases
those frames after each component, so Python holds a table only while a component works on it.

pandas' own Parquet metadata brings every column back with the type the check gave it (text, whole
numbers with blanks, dates, true/false), so a frame read back equals the checked one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pandas as pd

# Where stage folders go (default: the system's temporary folder); on a Spark cluster a shared mount that
# every executor reads at the same path.
STAGE_VARIABLE = "SALES_AUDIT_STAGE"


def stage_parent() -> str | None:
    return os.environ.get(STAGE_VARIABLE) or None


class StagedTables(Mapping):
    """Checked tables as Parquet files in a stage folder: a read-only mapping name -> pandas frame that reads a
    table when asked and keeps it until :meth:`release`. The folder is removed with this object."""

    def __init__(self, frames: dict[str, pd.DataFrame] | None = None, directory: str | Path | None = None):
        self.directory = Path(directory or tempfile.mkdtemp(prefix="sales-audit-stage-", dir=stage_parent()))
        self.directory.mkdir(parents=True, exist_ok=True)
        self._paths: dict[str, Path] = {}
        self._rows: dict[str, int] = {}
        self._columns: dict[str, list[str]] = {}
        self._read: dict[str, pd.DataFrame] = {}
        self._writing: dict[str, Future] = {}
        self._writer: ThreadPoolExecutor | None = None
        self._cleanup = weakref.finalize(self, shutil.rmtree, str(self.directory), True)
        # one table at a time, each dropped from ``frames`` once written, so staging needs no second copy
        for name in list(frames or {}):
            self.add(name, frames.pop(name))

    @classmethod
    def borrowed(cls, directory, paths: dict, rows: dict, columns: dict) -> StagedTables:
        """The staged tables of another process' stage folder (a worker process of the same run): read the
        same, never removed by this object."""
        staged = cls.__new__(cls)
        staged.directory = Path(directory)
        staged._paths = {name: Path(path) for name, path in paths.items()}
        staged._rows, staged._columns, staged._read = dict(rows), dict(columns), {}
        staged._writing, staged._writer = {}, None
        staged._cleanup = weakref.finalize(staged, lambda: None)
        return staged

    def add(self, name: str, frame: pd.DataFrame, background: bool = False) -> None:
        """Write one checked table (validation stages each as soon as it is final, then drops it). With
        ``background`` the file is written by a thread while the caller goes on (Arrow writes without
        holding the interpreter: the next table is read and checked meanwhile); :meth:`finish` waits for
        the writes, and a table is never read before its file is complete."""
        path = self.directory / f"{name}.parquet"
        self._paths[name], self._rows[name], self._columns[name] = path, len(frame), list(frame.columns)
        self._read.pop(name, None)
        if not background:
            frame.to_parquet(path, index=False)
            return
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sales-audit-stage")
        self._writing[name] = self._writer.submit(frame.to_parquet, path, index=False)

    def target(self, name: str) -> Path:
        """Where a table's file goes, for a writer other than :meth:`add` (the engine's checks)."""
        return self.directory / f"{name}.parquet"

    def added(self, name: str, rows: int, columns: list[str]) -> None:
        """Take in a table another writer put at :meth:`target` (complete, with pandas' metadata)."""
        self._paths[name], self._rows[name], self._columns[name] = self.target(name), rows, list(columns)
        self._read.pop(name, None)

    def finish(self) -> None:
        """Wait for the tables written in the background; a write that failed (a full disk) raises here."""
        try:
            for name in list(self._writing):
                self._written(name)
        finally:
            if self._writer is not None:
                self._writer.shutdown(wait=True)
                self._writer = None

    def _written(self, name: str) -> None:
        future = self._writing.pop(name, None)
        if future is not None:
            future.result()

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in self._read:
            self._written(name)
            self._read[name] = pd.read_parquet(self._paths[name])
        return self._read[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)

    def __contains__(self, name: object) -> bool:
        return name in self._paths

    def __copy__(self) -> StagedTables:
        return self  # one stage folder, one owner: a copy that outlived it would read removed files

    def __deepcopy__(self, memo) -> dict[str, pd.DataFrame]:
        # An independent copy is the tables themselves, in memory (a notebook or test that edits one).
        return {name: self[name].copy(deep=True) for name in self}

    def path(self, name: str) -> Path:
        """The Parquet file of a table (for the engine to read itself)."""
        self._written(name)
        return self._paths[name]

    def rows(self, name: str) -> int:
        return self._rows[name]

    def columns(self, name: str) -> list[str]:
        return self._columns[name]

    def held(self) -> list[str]:
        """The tables read back into pandas and not yet released."""
        return sorted(self._read)

    def release(self) -> None:
        """Drop the frames read back (a component is done with them); the files stay."""
        self._read.clear()

    def close(self) -> None:
        self._read.clear()
        if self._writer is not None:
            self._writer.shutdown(wait=True, cancel_futures=True)
            self._writer = None
        self._cleanup()
