"""What a detector sees: the checked tables, on an engine, with the policy and its calendar."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from types import MappingProxyType

import ibis
import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from audit.engine import Engine
from audit.membership import isin
from audit.policy import Policy
from audit.validation import AuditTables


class WorkCalendar:
    """Working days under the policy's weekend and holidays (numpy's business-day functions)."""

    def __init__(self, policy: Policy):
        self.weekmask = policy.weekmask
        self.holidays = np.array([np.datetime64(d, "D") for d in policy.holidays], dtype="datetime64[D]")

    def working_days_between(self, start: pd.Series, end: pd.Series) -> pd.Series:
        """Working days after ``start`` up to and including ``end`` (0 when handed in the same day)."""
        valid = start.notna() & end.notna()
        result = pd.Series(np.nan, index=start.index)
        if valid.any():
            begin = start[valid].to_numpy(dtype="datetime64[D]") + np.timedelta64(1, "D")
            finish = end[valid].to_numpy(dtype="datetime64[D]") + np.timedelta64(1, "D")
            forward = begin <= finish
            counts = np.zeros(len(begin), dtype=float)
            counts[forward] = np.busday_count(begin[forward], finish[forward], weekmask=self.weekmask,
                                              holidays=self.holidays)
            # Handed in before it was received: negative calendar days, not a working-day question.
            counts[~forward] = (finish[~forward] - begin[~forward]).astype(float)
            result[valid] = counts
        return result

    def is_working_day(self, dates: pd.Series) -> pd.Series:
        valid = dates.notna()
        result = pd.Series(pd.NA, index=dates.index, dtype="boolean")
        if valid.any():
            result[valid] = np.is_busday(dates[valid].to_numpy(dtype="datetime64[D]"), weekmask=self.weekmask,
                                         holidays=self.holidays)
        return result


class AuditData:
    """The run's tables, registered on the engine on first use."""

    def __init__(self, tables: AuditTables, policy: Policy, engine: Engine | None = None,
                 period: str | None = None):
        self.tables = tables
        self.policy = policy
        self.engine = engine or Engine("duckdb")
        self.calendar = WorkCalendar(policy)
        self.period = period
        self._registered: set[str] = set()
        # latest value of a (table, column), asked once per run: the scoped views share this dict
        self._latest: dict[tuple[str, str], pd.Timestamp] = {}
        self._holds_values: dict[tuple[str, str], bool] = {}
        # Whole-ledger facts several components compute alike (``shared_fact``): the scoped views share this dict
        self._shared_facts: dict[str, object] = {}
        # What a component declared it reads, handed over by the runner (see ``scoped``): the analyses'
        # outputs and the upstream detectors' findings. Empty for a run's shared data itself.
        self.views: Mapping[str, object] = MappingProxyType({})
        self.findings: pd.DataFrame = pd.DataFrame()
        # after a run: each analysis' named outputs, by code
        self.outputs_by_component: dict[str, dict[str, object]] = {}

    def scoped(self, views: Mapping[str, object], findings: pd.DataFrame) -> AuditData:
        """The same tables, engine and policy, seen by one component: only the analyses' outputs and the
        findings it declared (read-only mapping; pandas' copy-on-write keeps the frames unchanged)."""
        view = copy.copy(self)  # shares tables, engine and the engine's registrations
        view.views = MappingProxyType(dict(views))
        view.findings = findings
        return view

    def shared_fact(self, name: str, compute):
        """``compute()``'s frame or series, worked out once per run for every component that asks for ``name``
        (a fact of the whole ledger, the same whoever asks: two customer detectors read each customer's
        invoicing and balance); each caller gets its own copy."""
        if name not in self._shared_facts:
            self._shared_facts[name] = compute()
        return self._shared_facts[name].copy(deep=False)

    @property
    def period_end(self) -> pd.Timestamp | None:
        if not self.period:
            return None
        return pd.Period(self.period, "M").end_time.normalize()

    def has(self, table: str, columns=()) -> bool:
        return self.tables.has(table, columns)

    def frame(self, name: str) -> pd.DataFrame:
        """The pandas frame of a table; detectors must treat it as read-only."""
        return self.tables.frames[name]

    def frame_columns(self, name: str, columns) -> pd.DataFrame:
        """Only ``columns`` of a table (those it has, in the order asked), as pandas with the types ``frame``
        gives and its row order and index. A staged table's file is read for those columns alone: a
        component that needs two columns of the shipments does not read its addresses and receivers."""
        staged = getattr(self.tables.frames, "path", None)
        if staged is None or name in self.tables.frames.held():  # in pandas already
            frame = self.frame(name)
            return frame[[c for c in columns if c in frame.columns]]
        present = set(self.tables.frames.columns(name))
        return pd.read_parquet(staged(name), columns=[c for c in columns if c in present])

    def frame_among(self, name: str, column: str, values) -> pd.DataFrame:
        """The rows of a table whose ``column`` holds one of ``values``, as pandas with the types ``frame``
        gives, in the table's order (the index need not be the frame's). A staged table is filtered while
        its file is read: a component that needs a few invoices' lines does not read ten million into pandas."""
        values = list(dict.fromkeys(v for v in values if v is not None and not (isinstance(v, float) and np.isnan(v))))
        staged = getattr(self.tables.frames, "path", None)
        if staged is None or name in self.tables.frames.held():  # in pandas already
            frame = self.frame(name)
            return frame[isin(frame[column], values)]
        if not values:
            return pq.read_schema(staged(name)).empty_table().to_pandas()
        return pd.read_parquet(staged(name), filters=[(column, "in", values)])

    def rows(self, name: str) -> int:
        """The rows of a checked table, without reading it into pandas."""
        return self.tables.rows(name)

    def holds_values(self, table: str, column: str) -> bool:
        """Whether any row of ``table.column`` holds a value (not blank, not NaN); False when the column is
        absent. Asked of the engine once per run: a component's inputs are checked without reading the
        table into pandas."""
        key = (table, column)
        if key not in self._holds_values:
            if not self.has(table, (column,)):
                return False
            if not self._staged:  # a table held in pandas answers at once; a staged one is not read back
                self._holds_values[key] = bool(self.frame(table)[column].notna().any())
                return self._holds_values[key]
            values = self.table(table)[column]
            given = values.notnull()
            if values.type().is_floating():
                given = given & ~values.isnan()
            self._holds_values[key] = bool(self.execute(self.table(table).aggregate(n=given.sum()))["n"].iloc[0] or 0)
        return self._holds_values[key]

    @property
    def _staged(self) -> bool:
        """Whether the tables live in files the engine reads (a run), not in pandas frames (tests, notebooks)."""
        return getattr(self.tables.frames, "path", None) is not None

    def latest(self, table: str, column: str) -> pd.Timestamp:
        """The latest date or time in ``table.column`` (NaT when it holds none), asked of the engine once
        per run instead of reading the table into pandas in every component that needs the data's end."""
        key = (table, column)
        if key not in self._latest and not self._staged:
            value = self.frame(table)[column].max()
            self._latest[key] = pd.Timestamp(value) if pd.notna(value) else pd.NaT
        if key not in self._latest:
            dated = self.table(table)
            value = self.execute(dated.aggregate(latest=dated[column].max()))["latest"].iloc[0]
            self._latest[key] = pd.Timestamp(value) if value is not None and pd.notna(value) else pd.NaT
        return self._latest[key]

    def table(self, name: str) -> ibis.Table:
        if name not in self._registered:
            staged = getattr(self.tables.frames, "path", None)
            if staged is not None:  # the engine reads the table's file itself; Python does not hold it
                self.engine.register_file(name, staged(name))
            else:
                self.engine.register(name, self.tables.frames[name])
            self._registered.add(name)
        return self.engine.table(name)

    def execute(self, expr: ibis.Expr) -> pd.DataFrame:
        return self.engine.execute(expr)
