"""What keeps the audit's memory bounded: readers of an analysis run right after it and its non-table
outputs are released after the last one; raw tables are released once checked; DuckDB has a memory limit
and a spill folder."""

from __future__ import annotations

import gc
import shutil
import weakref
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from audit.analysis import Analysis
from audit.data import AuditData
from audit.detector import Detector, empty_findings
from audit.engine import Engine, EngineError
from audit.loading import load
from audit.runner import plan, run, run_detectors
from audit.stage import StagedTables
from audit.validation import validate
from detectors.wording import price_deviation

from .conftest import java_available

MINI = Path(__file__).parent / "data" / "mini"


def test_the_readers_of_an_analysis_run_right_after_it_and_analyses_come_last():
    order = [cls.code for cls in plan()]
    links = order.index("LNK-01")
    # everything that reads the links runs before the next analysis is made
    next_analysis = min(order.index(code) for code in ("RCV-00",))
    assert links < order.index("CUS-01") < next_analysis
    assert links < order.index("CUS-02") < order.index("PAY-01") < next_analysis
    # detectors that read no analysis run before any analysis is made
    assert order.index("STD-02") < order.index("ANO-00") and order.index("SHP-01") < order.index("ANO-00")
    assert order.index("CUS-01") < order.index("DSC-01")  # it leaves out the accounts CUS-01 finds made up
    # the readers of the shared invoice totals right after them (ANO-00: the first analysis by code)
    assert order.index("ANO-00") < order.index("ANO-01") < order.index("ANO-03") < links
    assert order.index("STD-00") < order.index("STD-01") < order.index("STD-08")


def test_an_analysis_non_table_output_is_released_after_its_last_reader(mini_tables, mini_policy):
    seen = {}

    class Producer(Analysis):
        """Test analysis with one table and one non-table output."""

        code = "ZZA-01"
        outputs = ("zz_table", "zz_object")

        def compute(self, data):
            return {"zz_table": pd.DataFrame({"a": [1]}), "zz_object": {"big": list(range(10))}}

    def reader(code):
        class Reader(Detector):
            """Test detector reading the producer."""

            pattern = "price_deviation"
            entity_type = "invoice"
            family = "pricing"
            reads_analyses = ("ZZA-01",)
            wording = staticmethod(price_deviation.words)

            def find(self, data):
                seen[self.code] = set(data.views)
                return empty_findings()

        Reader.code = code
        return Reader

    first, second = reader("ZZR-01"), reader("ZZR-02")
    data = AuditData(mini_tables, mini_policy, Engine("duckdb"))
    try:
        run_detectors(data, ["ZZR-01", "ZZR-02"], extra=(Producer, first, second), raise_errors=True)
    finally:
        data.engine.close()
    assert seen == {"ZZR-01": {"zz_table", "zz_object"}, "ZZR-02": {"zz_table", "zz_object"}}
    # after the last reader only the table is kept (the reports read it)
    assert set(data.outputs_by_component["ZZA-01"]) == {"zz_table"}
    assert set(data.views) == {"zz_table"}


def test_an_analysis_nobody_reads_keeps_all_its_outputs(mini_tables, mini_policy):
    from analyses.receivables.receivables_ledger import ReceivablesLedger
    from audit.testing import run_analysis

    outputs = run_analysis(ReceivablesLedger, mini_tables, mini_policy)
    assert "receivables_ledger" in outputs and not isinstance(outputs["receivables_ledger"], pd.DataFrame)


def test_consuming_validation_gives_the_same_tables_and_releases_the_raw_ones(mini_policy):
    kept = validate(load(MINI), mini_policy)
    loaded = load(MINI)
    consumed = validate(loaded, mini_policy, consume=True)
    assert set(kept.frames) == set(consumed.frames)
    for name, frame in kept.frames.items():
        pd.testing.assert_frame_equal(frame, consumed.frames[name])
    assert [p.message for p in kept.problems] == [p.message for p in consumed.problems]
    assert all(len(source.frame) == 0 for source in loaded.tables.values())
    # rows read are still known (the set-aside share and the manifest use them)
    assert {n: s.rows for n, s in consumed.sources.items()} == {n: s.rows for n, s in kept.sources.items()}


def test_a_lazy_load_reads_each_table_when_validation_comes_to_it_and_stages_it_before_the_next(
        mini_policy, monkeypatch):
    loaded = load(MINI, lazy=True)
    assert loaded.tables and all(s.pending and s.frame is None for s in loaded.tables.values())
    events, raw = [], []
    for name, source in loaded.tables.items():
        def reader(problems, read=source.reader, name=name):
            gc.collect()
            # every raw table read before this one is gone: only its description (origin, rows) is kept
            assert all(ref() is None for ref in raw), f"a raw table is still held when {name} is read"
            table = read(problems)
            raw.append(weakref.ref(table.frame))
            events.append(("read", name))
            return table
        source.reader = reader
    add = StagedTables.add

    def staged(self, name, frame, background=False):
        events.append(("staged", name))
        add(self, name, frame, background)

    monkeypatch.setattr(StagedTables, "add", staged)
    # the checks in pandas (with the engine's, a table without problems is never read into pandas at all:
    # tests/test_engine_checks.py)
    tables = validate(loaded, mini_policy, consume=True, stage=True, engine_checks=False)
    assert isinstance(tables.frames, StagedTables)
    # parents first, and each checked table is in the stage before the next file is read
    assert events == [event for name in tables.frames for event in (("read", name), ("staged", name))]
    assert tables.frames.held() == []
    in_memory = validate(load(MINI), mini_policy)
    assert list(tables.frames) == list(in_memory.frames)
    for name, frame in in_memory.frames.items():
        pd.testing.assert_frame_equal(tables.frames[name], frame, check_exact=True)
    assert _described(tables.sources) == _described(in_memory.sources) and tables.problems == in_memory.problems


def _described(sources) -> dict:
    return {name: (s.origin, s.sha256, s.rows, s.first_row, list(s.frame.columns)) for name, s in sources.items()}


def _dirty_mini(folder: Path) -> Path:
    """The mini ledger with problems of every stage: a customers file whose bad line lies past the start a
    lazy load looks at, a duplicate id, an unknown status, a day/month date and a missing product."""
    shutil.copytree(MINI, folder)
    customers = (folder / "customers.csv").read_text(encoding="utf-8").splitlines()
    extra = [f"C{i},Shop {i},2023-01-10,S1,1000000,30,TX-{i},021-555-{i:04d},{i} Azadi St,retail,Owner {i}"
             for i in range(100, 1600)]
    (folder / "customers.csv").write_text("\n".join([*customers, *extra, "C9999,Bad,line,with,too,many,fields,"
                                                     "a,b,c,d,e,f"]) + "\n", encoding="utf-8")
    assert (folder / "customers.csv").stat().st_size > 65536
    invoices = (folder / "invoices.csv").read_text(encoding="utf-8")
    invoices = invoices.replace("I2,1002,2025-04-07", "I1,1002,07/04/2025").replace(",posted,U1,\n", ",lost,U1,\n", 1)
    (folder / "invoices.csv").write_text(invoices, encoding="utf-8")
    lines = (folder / "invoice_lines.csv").read_text(encoding="utf-8")
    (folder / "invoice_lines.csv").write_text(lines.replace("I1,2,P3,", "I1,2,P77,"), encoding="utf-8")
    return folder


def test_a_lazy_load_lists_every_problem_as_an_eager_one_even_a_file_that_fails_when_read(tmp_path, mini_policy):
    folder = _dirty_mini(tmp_path / "dirty")
    eager = validate(load(folder), mini_policy)
    loaded = load(folder, lazy=True)
    # the bad line is past the start the lazy load checks: customers fails only when validation reads it
    assert "customers" in loaded.tables and not loaded.problems
    lazy = validate(loaded, mini_policy, consume=True, stage=True)
    assert [p.kind or p.problem for p in lazy.problems if p.table == "customers"][0].startswith(
        "customers.csv could not be read")
    assert any(p.problem == "references to customers cannot be checked: table customers could not be read"
               for p in lazy.problems)
    assert {p.kind for p in lazy.problems} >= {"duplicate id", "unknown value", "refers to a missing record",
                                               "date not in ISO 8601 (day/month order)"}
    assert lazy.problems == eager.problems
    assert loaded.problems == load(folder).problems  # the failure is recorded where an eager load puts it
    assert "customers" not in loaded.tables and _described(lazy.sources) == _described(eager.sources)
    assert lazy.present_columns == eager.present_columns
    for name, frame in eager.frames.items():
        pd.testing.assert_frame_equal(lazy.frames[name], frame, check_exact=True)


def test_a_released_source_does_not_keep_its_arrow_buffers(tmp_path):
    frame = pd.DataFrame({"invoice_id": [f"I{i:07d}-with-some-text" for i in range(200_000)]}, dtype="str")
    (tmp_path / "invoices.csv").write_text(frame.to_csv(index=False))
    loaded = load(tmp_path)
    source = loaded.tables["invoices"]
    gc.collect()
    holding = pa.total_allocated_bytes()
    light = source.frame_released()
    described = source.without_frame()
    del source, loaded
    gc.collect()
    # the column's several MB are freed although the light copies keep its columns and types
    assert pa.total_allocated_bytes() < holding - 2_000_000
    assert list(light.frame.columns) == list(described.frame.columns) == ["invoice_id"]
    assert light.rows == described.rows == 200_000


def test_duckdb_runs_under_a_memory_limit_with_a_spill_folder(monkeypatch):
    engine = Engine("duckdb", "512MB")
    try:
        limit, spill = engine.backend.raw_sql(
            "select current_setting('memory_limit'), current_setting('temp_directory')").fetchone()
        assert limit in ("488.2 MiB", "512.0 MB", "488.2MiB")
        assert Path(spill).is_dir() and "sales-audit-spill" in spill
    finally:
        engine.close()
    assert not Path(spill).exists()  # the spill folder goes with the engine
    monkeypatch.setenv("SALES_AUDIT_ENGINE_MEMORY", "300MB")
    engine = Engine("duckdb")
    try:
        assert engine.memory_limit == "300MB"
    finally:
        engine.close()


def test_a_memory_limit_duckdb_cannot_read_is_a_clear_error():
    with pytest.raises(EngineError, match="memory limit 'lots'.*e.g. 4GB"):
        Engine("duckdb", "lots")


def test_the_manifest_records_the_engine_memory_limit(mini_policy):
    result = run(MINI, mini_policy, engine_memory="700MB", detectors=["PRC-01"])
    assert result.manifest["engine_memory_limit"] == "700MB"


def test_a_run_stages_the_checked_tables_and_reads_them_back_unchanged(mini_policy):
    from audit.stage import StagedTables

    in_memory = validate(load(MINI), mini_policy)
    result = run(MINI, mini_policy, detectors=["PRC-01"])
    staged = result.tables.frames
    assert isinstance(staged, StagedTables)
    assert set(staged) == set(in_memory.frames)
    for name, frame in in_memory.frames.items():
        assert staged.rows(name) == len(frame)
        pd.testing.assert_frame_equal(staged[name], frame, check_exact=True)
    staged.release()
    assert staged.held() == []
    directory = staged.directory
    staged.close()
    assert not directory.exists()


def test_staged_and_in_memory_tables_give_the_same_findings(mini_policy):
    """The run's path (tables staged, the engine reading the files) against the detectors' check path
    (tables in pandas, the engine reading their Arrow buffers): the same findings, every column."""
    in_memory = validate(load(MINI), mini_policy)
    data = AuditData(in_memory, mini_policy, Engine("duckdb"))
    try:
        expected, _ = run_detectors(data)
    finally:
        data.engine.close()
    staged_tables = validate(load(MINI), mini_policy)
    staged_tables.stage()
    staged = AuditData(staged_tables, mini_policy, Engine("duckdb"))
    try:
        found, _ = run_detectors(staged)
    finally:
        staged.engine.close()
    assert len(expected) > 10  # the mini ledger has findings of many detectors
    pd.testing.assert_frame_equal(found, expected)
    assert staged_tables.frames.held() == []  # every table read back was released after its component


@pytest.mark.spark
@pytest.mark.skipif(not java_available(), reason="Spark needs a Java runtime")
def test_spark_reads_the_staged_files_and_finds_what_duckdb_finds(mini_policy):
    on_duckdb = run(MINI, mini_policy)
    on_spark = run(MINI, mini_policy, engine="spark")
    assert len(on_duckdb.exceptions) > 10
    assert (on_spark.detector_runs["status"] != "failed").all()
    columns = [c for c in on_duckdb.exceptions.columns if c not in ("run_id",)]
    pd.testing.assert_frame_equal(on_spark.exceptions[columns], on_duckdb.exceptions[columns])


def test_a_deep_copy_of_staged_tables_is_in_memory_and_outlives_the_stage(mini_policy):
    import copy

    result = run(MINI, mini_policy, detectors=["PRC-01"])
    copied = copy.deepcopy(result.tables)
    assert isinstance(copied.frames, dict)
    copied.frames["customers"].loc[0, "name"] = "edited"
    result.tables.frames.close()  # the stage goes; the copy does not need it
    assert copied.frames["customers"].loc[0, "name"] == "edited"
    assert len(copied.frames["salespeople"]) > 0
    assert copy.copy(result.tables.frames) is result.tables.frames


def test_inputs_and_the_data_end_are_answered_by_the_engine_without_reading_tables_back(mini_policy):
    """Whether a column holds values (every component's coverage check), a table's rows and its latest
    date are engine questions: a staged table is not read into pandas for them, and the answers are the
    ones pandas gives."""
    from audit.component import blank_columns
    from audit.ledger import data_end_date

    in_memory = validate(load(MINI), mini_policy)
    tables = validate(load(MINI), mini_policy)
    tables.stage()
    data = AuditData(tables, mini_policy, Engine("duckdb"))
    try:
        lines = in_memory.frames["invoice_lines"]
        for column in lines.columns:
            assert data.holds_values("invoice_lines", column) == bool(lines[column].notna().any()), column
        assert not data.holds_values("invoice_lines", "no_such_column")
        blank = blank_columns({"invoice_lines": tuple(lines.columns), "products": ("list_price",)}, data)
        assert blank == [f"invoice_lines.{c}" for c in lines.columns if lines[c].isna().all()] + (
            [] if in_memory.frames["products"]["list_price"].notna().any() else ["products.list_price"])
        assert data.rows("invoice_lines") == len(lines)
        expected_end = max(in_memory.frames[t][c].max() for t, c in (
            ("invoices", "invoice_date"), ("receipts", "posted_date"), ("cheques", "received_date"),
            ("shipments", "ship_date")))
        assert data_end_date(data) == expected_end
        assert tables.frames.held() == []  # nothing was read back into pandas
    finally:
        data.engine.close()
        tables.frames.close()


def _in_memory_and_staged(in_memory, policy):
    """The mini ledger on DuckDB twice: from the checked frames in memory, and from staged files."""
    staged_tables = validate(load(MINI), policy)
    staged_tables.stage()
    return (AuditData(in_memory, policy, Engine("duckdb")), AuditData(staged_tables, policy, Engine("duckdb")),
            staged_tables)


def test_a_staged_table_gives_the_rows_among_values_without_being_read_whole(mini_policy):
    """``frame_among`` filters a staged table while its file is read: the same rows, order and types as
    filtering the frame, and the table is not held in pandas afterwards."""
    in_memory = validate(load(MINI), mini_policy)
    lines = in_memory.frames["invoice_lines"]
    wanted = list(lines["invoice_id"].drop_duplicates().iloc[[0, -1]]) + ["no such invoice", None]
    expected = lines[lines["invoice_id"].isin(wanted[:2])]
    assert 0 < len(expected) < len(lines)
    memory_data, staged_data, staged_tables = _in_memory_and_staged(in_memory, mini_policy)
    try:
        for data in (memory_data, staged_data):
            found = data.frame_among("invoice_lines", "invoice_id", wanted)
            pd.testing.assert_frame_equal(found.reset_index(drop=True), expected.reset_index(drop=True))
            none = data.frame_among("invoice_lines", "invoice_id", [])
            assert none.empty and list(none.columns) == list(lines.columns)
            assert list(none.dtypes) == list(lines.dtypes)
        assert staged_tables.frames.held() == []
    finally:
        memory_data.engine.close()
        staged_data.engine.close()


def test_a_table_staged_in_the_background_is_read_whole_and_a_failed_write_is_raised(tmp_path):
    frame = pd.DataFrame({"invoice_id": [f"I{i:07d}" for i in range(300_000)], "amount": range(300_000)})
    stage = StagedTables(directory=tmp_path / "stage")
    stage.add("invoices", frame, background=True)
    # asked at once, before the thread has finished: the file is complete when it is read
    assert stage.rows("invoices") == 300_000
    pd.testing.assert_frame_equal(stage["invoices"], frame)
    assert pd.read_parquet(stage.path("invoices")).shape == (300_000, 2)
    stage.add("bad", pd.DataFrame({"mixed": [1, "a", object()]}), background=True)  # Arrow cannot write it
    with pytest.raises((pa.ArrowTypeError, pa.ArrowInvalid)):
        stage.finish()
    stage.close()


def test_a_staged_table_gives_only_the_columns_asked_without_holding_the_table(mini_policy):
    """``frame_columns``: the columns asked that the table has, in that order, with the types, rows and
    index of the whole frame; a staged table is read for those columns alone and not kept."""
    in_memory = validate(load(MINI), mini_policy)
    shipments = in_memory.frames["shipments"]
    asked = ["ship_date", "customer_id", "no_such_column"]
    expected = shipments[["ship_date", "customer_id"]]
    memory_data, staged_data, staged_tables = _in_memory_and_staged(in_memory, mini_policy)
    try:
        for data in (memory_data, staged_data):
            pd.testing.assert_frame_equal(data.frame_columns("shipments", asked), expected, check_exact=True)
        assert staged_tables.frames.held() == []
        staged_data.frame("shipments")  # once a component holds the whole table, it is not read again
        assert staged_data.frame_columns("shipments", asked) is not None
        assert staged_tables.frames.held() == ["shipments"]
    finally:
        memory_data.engine.close()
        staged_data.engine.close()


def test_receivables_visits_and_discounts_read_only_the_columns_they_use(mini_policy, monkeypatch):
    """RCV-02, RCV-04, RCV-05, VIS-01 and DSC-02 read a few columns of the large tables (shipments,
    cheques, receipts, visits, customers, invoice lines), never a whole table into pandas, and find
    what they found with the whole tables in memory."""
    from audit.stage import StagedTables

    read_whole = []
    original = StagedTables.__getitem__

    def recording(self, name):
        read_whole.append(name)
        return original(self, name)

    codes = ["RCV-02", "RCV-04", "RCV-05", "VIS-01", "DSC-02"]
    in_memory = validate(load(MINI), mini_policy)
    memory_data = AuditData(in_memory, mini_policy, Engine("duckdb"))
    staged_tables = validate(load(MINI), mini_policy)
    staged_tables.stage()
    staged_data = AuditData(staged_tables, mini_policy, Engine("duckdb"))
    try:
        expected, _ = run_detectors(memory_data, codes, raise_errors=True, workers=1)
        monkeypatch.setattr(StagedTables, "__getitem__", recording)
        found, statuses = run_detectors(staged_data, codes, raise_errors=True, workers=1)
    finally:
        memory_data.engine.close()
        staged_data.engine.close()
    assert set(statuses["status"]) == {"ran"}
    assert len(found) > 0
    pd.testing.assert_frame_equal(found.drop(columns=["title", "explanation", "check_next"], errors="ignore"),
                                  expected.drop(columns=["title", "explanation", "check_next"], errors="ignore"))
    for name in ("collections_actions", "credit_exposure", "problem_receivables"):
        pd.testing.assert_frame_equal(staged_data.views[name], memory_data.views[name], check_exact=True)
    assert not {"shipments", "cheques", "receipts", "visits", "customers", "invoice_lines"} & set(read_whole)



def test_visit_statuses_are_one_object_per_status_with_blanks_as_they_were():
    from detectors.visits.vis_01_visit_noncompliance import _status_objects

    for status in (pd.Series(["done", None, "missed", "done", "done"], dtype="str", index=[3, 4, 5, 6, 7]),
                   pd.Series(["done", None, "missed", "done", float("nan")], dtype="object")):
        out = _status_objects(status)
        expected = status.astype("object")
        assert out.dtype == object and list(out.index) == list(status.index)
        assert [repr(v) for v in out] == [repr(v) for v in expected]  # NaN stays NaN, None stays None
        assert out.iloc[0] is out.iloc[3]


@pytest.mark.skipif(not java_available(), reason="Spark needs a Java runtime")
def test_spark_reads_a_components_arrow_table_from_a_file_removed_with_it():
    engine = Engine("spark")
    try:
        # chunked columns, as an engine result brought to Arrow has: pyspark cannot convert those itself
        table = pa.table({"invoice_id": pa.chunked_array([["I1", "I2"], ["I3"]]), "net": [1.0, 2.0, 3.0]})
        expression = engine.arrow_table(table)
        assert engine.arrow_table(table) is expression  # written once
        assert len(list(Path(engine.scratch_directory).glob("arrow_*.parquet"))) == 1
        found = engine.execute(expression.filter(expression.net > 1.5))
        assert sorted(found["invoice_id"]) == ["I2", "I3"]
        del table
        gc.collect()
        assert not list(Path(engine.scratch_directory).glob("arrow_*.parquet"))
    finally:
        engine.close()
    on_duckdb = Engine("duckdb")
    try:
        assert on_duckdb.execute(on_duckdb.arrow_table(pa.table({"a": [1, 2]})))["a"].tolist() == [1, 2]
    finally:
        on_duckdb.close()
