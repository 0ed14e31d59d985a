"""Where relational work runs: Ibis expressions over in-process DuckDB (default) or Apache Spark.

Detectors write their joins, windows and aggregates once, as Ibis expressions over
``engine.table(name)``; :meth:`Engine.execute` runs them on the chosen backend and returns pandas.
Spark runs in local mode unless ``SPARK_MASTER`` names a cluster; its session time zone is UTC so
that dates do not shift between backends.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref

import ibis
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from audit.memory import default_engine_limit
from audit.stage import stage_parent

ENGINES = ("duckdb", "spark")
# DuckDB's memory limit, e.g. "6GB"; default: a quarter of the machine, at most 4 GB (audit.memory)
MEMORY_LIMIT_VARIABLE = "SALES_AUDIT_ENGINE_MEMORY"
ALLOCATOR_FLUSH_THRESHOLD = "32MB"  # freed memory DuckDB may keep for reuse
# What DuckDB may keep after freeing a large result at once (its default, 512 MB, kept 0.25 GB per process
# for the rest of a 1M-line run after the price joins; 0 costs 1.6 CPU s of page faults at 1M, 128 MB 0.6 s).
ALLOCATOR_BULK_FLUSH_THRESHOLD = "128MB"


class EngineError(RuntimeError):
    """The chosen engine cannot start; the message says what to install."""


def _spark_session():
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise EngineError("the spark engine needs PySpark: pip install 'sales-audit[spark]' "
                          "(and a Java 17+ runtime)") from None
    builder = (
        SparkSession.builder.master(os.environ.get("SPARK_MASTER", "local[2]"))
        .appName("sales-audit")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", os.environ.get("SPARK_SHUFFLE_PARTITIONS", "4"))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.driver.memory", os.environ.get("SPARK_DRIVER_MEMORY", "4g"))
    )
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # Java missing or misconfigured
        raise EngineError(f"Spark could not start ({type(exc).__name__}: {str(exc).splitlines()[0]}); "
                          "it needs a Java 17+ runtime on PATH or JAVA_HOME") from None
    session.sparkContext.setLogLevel("ERROR")
    return session


def _spark_ready(frame: pd.DataFrame) -> pd.DataFrame:
    # Spark's pandas conversion wants plain object strings and nanosecond-free timestamps.
    converted = {}
    for column, dtype in frame.dtypes.items():
        if isinstance(dtype, pd.StringDtype) or pd.api.types.is_object_dtype(dtype):
            converted[column] = frame[column].astype(object).where(frame[column].notna(), None)
        elif isinstance(dtype, pd.BooleanDtype):
            converted[column] = frame[column].astype(object).where(frame[column].notna(), None)
        elif pd.api.types.is_integer_dtype(dtype) and not isinstance(dtype, pd.Int64Dtype):
            converted[column] = frame[column].astype("Int64")
    return frame.assign(**converted) if converted else frame


class Engine:
    """One backend connection holding the run's tables."""

    def __init__(self, name: str = "duckdb", memory_limit: str | None = None):
        if name not in ENGINES:
            raise EngineError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
        self.name = name
        self.memory_limit = None
        self.scratch_directory = None
        if name == "duckdb":
            self.memory_limit = memory_limit or os.environ.get(MEMORY_LIMIT_VARIABLE) or default_engine_limit()
            # Beyond its limit DuckDB spills joins, sorts and aggregates to disk here instead of failing.
            self.scratch_directory = tempfile.mkdtemp(prefix="sales-audit-spill-")
            try:
                # DuckDB's allocator keeps what a query freed (0.5 GB after the price joins at 1M lines)
                # unless it is flushed: a background thread hands it back to the system.
                self.backend = ibis.duckdb.connect(memory_limit=self.memory_limit,
                                                   temp_directory=self.scratch_directory,
                                                   allocator_background_threads=True,
                                                   allocator_flush_threshold=ALLOCATOR_FLUSH_THRESHOLD,
                                                   allocator_bulk_deallocation_flush_threshold=(
                                                       ALLOCATOR_BULK_FLUSH_THRESHOLD))
            except Exception as exc:  # duckdb.InvalidInputException on a limit it cannot read
                shutil.rmtree(self.scratch_directory, ignore_errors=True)
                raise EngineError(f"DuckDB did not accept the memory limit {self.memory_limit!r} "
                                  f"({str(exc).splitlines()[0]}); give it as e.g. 4GB or 800MB") from None
        else:
            self.backend = ibis.pyspark.connect(_spark_session())
            # Where tables handed over as pandas (not staged by a run) are written for Spark to read: Parquet
            # files Spark scans per query, so the driver's heap never holds them (a DataFrame made from
            # pandas lives in it whole).
            self.scratch_directory = tempfile.mkdtemp(prefix="sales-audit-spark-", dir=stage_parent())
        self._tables: dict[str, ibis.Table] = {}
        self._arrow: dict[str, pa.Table] = {}  # what the DuckDB views read; kept alive with them
        self._arrow_files: dict[int, ibis.Table] = {}  # Spark: Arrow tables of components, as files

    def register(self, name: str, frame: pd.DataFrame) -> ibis.Table:
        if self.name == "spark":
            # Through a Parquet file Spark reads itself (see __init__), typed from the checked frame because an
            # all-blank column has no type Spark could infer.
            path = os.path.join(self.scratch_directory, f"{name}.parquet")
            typed = ibis.memtable(frame).schema().to_pyarrow()
            pq.write_table(pa.Table.from_pandas(_spark_ready(frame), schema=typed, preserve_index=False), path)
            return self.register_file(name, path)
        # A view over the frame's own Arrow buffers, not a copy: DuckDB reads them in place, which saves memory
        # the size of the tables (450 MB at a million invoice lines).
        self._arrow[name] = pa.Table.from_pandas(frame, preserve_index=False)
        self.backend.con.register(name, self._arrow[name])
        self._tables[name] = self.backend.table(name)
        return self._tables[name]

    def register_file(self, name: str, path) -> ibis.Table:
        """A table from a Parquet file (a staged checked table), read by the engine itself: DuckDB through a
        view that decodes the file per query (within its memory limit), Spark by scanning it per query."""
        if self.name == "spark":
            from ibis.backends.pyspark.datatypes import PySparkSchema

            # typed from the file's own schema (written from the checked frame)
            typed = ibis.Schema.from_pyarrow(pq.read_schema(path).remove_metadata())
            self.backend._session.read.schema(PySparkSchema.from_ibis(typed)).parquet(str(path)) \
                .createOrReplaceTempView(name)
        else:
            quoted = str(path).replace("'", "''")
            self.backend.con.execute(f'create or replace view "{name}" as select * from read_parquet(\'{quoted}\')')
        self._tables[name] = self.backend.table(name)
        return self._tables[name]

    def table(self, name: str) -> ibis.Table:
        return self._tables[name]

    def arrow_table(self, table: pa.Table) -> ibis.Table:
        """An engine table over an Arrow table a component made (an analysis' reduced result its readers
        query): DuckDB reads its buffers in place; Spark scans it from a Parquet file in the scratch folder,
        written once per Arrow table and removed with it, so the caller keeps the Arrow table while it queries
        this one (a DataFrame made from Arrow would hold it in the
        driver's heap, and pyspark cannot convert chunked columns: it falls back to Python rows)."""
        if self.name != "spark":
            return ibis.memtable(table)
        key = id(table)
        if key not in self._arrow_files:
            path = os.path.join(self.scratch_directory, f"arrow_{len(self._arrow_files)}_{key}.parquet")
            pq.write_table(table, path)
            name = os.path.splitext(os.path.basename(path))[0]
            self._arrow_files[key] = self.register_file(name, path)
            weakref.finalize(table, self._forget_arrow, key, name, path)
        return self._arrow_files[key]

    def _forget_arrow(self, key: int, name: str, path: str) -> None:
        self._arrow_files.pop(key, None)
        self._tables.pop(name, None)
        try:
            os.remove(path)
        except OSError:  # the scratch folder went first (engine closed)
            pass

    def set_threads(self, threads: int | None) -> None:
        """Change how many threads DuckDB runs each query on (None: as many as the machine has cores, its
        default); a run that shares the cores with a worker process gives each process its share."""
        if self.name == "duckdb":
            self.backend.con.execute("RESET threads" if threads is None else f"SET threads = {int(threads)}")

    def set_memory_limit(self, limit: str | None) -> None:
        """Change DuckDB's memory limit for the queries to come (a run that shares the machine with a worker
        process gives each half); nothing to do for Spark or without a limit."""
        if self.name == "duckdb" and limit:
            self.backend.con.execute(f"SET memory_limit = '{limit}'")
            self.memory_limit = limit

    def execute(self, expr: ibis.Expr) -> pd.DataFrame:
        result = self.backend.execute(expr)
        if isinstance(result, pd.Series):
            result = result.to_frame()
        return result

    def close(self) -> None:
        if self.name == "spark":
            for name in self._tables:  # the views read files that go with the stage folder
                self.backend._session.catalog.dropTempView(name)
        self._tables.clear()
        self._arrow.clear()
        if self.name == "duckdb":
            self.backend.disconnect()
        if self.scratch_directory:
            shutil.rmtree(self.scratch_directory, ignore_errors=True)
