"""Components shared between two processes (audit/lanes.py): the same findings, order and statuses as one
process; a worker that dies loses no work."""

from __future__ import annotations

import multiprocessing
import os
import time

import pandas as pd
import pytest

from audit import lanes, runner
from audit.data import AuditData
from audit.detector import Detector
from audit.engine import Engine
from audit.loading import load
from audit.policy import load_policy, policy_beside
from audit.problems import InputError
from audit.runner import plan, run, run_detectors
from audit.validation import validate
from simulator import simulate

SEED = 7


@pytest.fixture(scope="module")
def tiny_ledger(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lanes") / "ledger"
    simulate(folder, scale="tiny", seed=SEED)
    return folder


def staged(folder) -> AuditData:
    policy = load_policy(policy_beside(folder))
    return AuditData(validate(load(folder, lazy=True), policy, consume=True, stage=True), policy, Engine("duckdb"))


def without_seconds(statuses: pd.DataFrame) -> pd.DataFrame:
    return statuses.drop(columns="seconds").reset_index(drop=True)


def test_groups_keep_readers_with_what_they_read_and_the_rollup_after_them():
    steps = plan()
    groups, final = lanes.lanes(steps)
    codes = [[c.code for c in group] for group in groups]
    assert [c.code for c in final] == ["SPR-01"]  # reads findings of detectors in several groups
    assert sorted([code for group in codes for code in group] + ["SPR-01"]) == sorted(c.code for c in steps)
    group_of = {code: i for i, group in enumerate(codes) for code in group}
    for cls in steps:  # an analysis and its readers, a detector and the findings it reads: one group
        if cls.code == "SPR-01":
            continue
        for read in (*cls.reads_analyses, *cls.upstream_detectors([c for c in steps if hasattr(c, "pattern")])):
            assert group_of[read] == group_of[cls.code], (cls.code, read)
    order = [c.code for c in steps]
    for group in codes:  # each group in the plan's order
        assert group == sorted(group, key=order.index)
    costs = [lanes._cost(group) for group in groups]
    assert costs == sorted(costs, reverse=True)  # the largest first
    # the two largest: the entity links and their readers (DSC-01 reads CUS-01's findings), and distress
    links, distress = {"LNK-01", "CUS-01", "DSC-01"}, {"RCV-00", "DST-H1", "DST-01", "DST-02", "RCV-04"}
    assert (links <= set(codes[0]) and distress <= set(codes[1])) or (
        distress <= set(codes[0]) and links <= set(codes[1]))
    assert group_of["LNK-01"] == group_of["CUS-01"] == group_of["PAY-01"] == group_of["CHQ-03"] == group_of["DSC-01"]


def test_two_processes_find_what_one_finds_in_the_same_order(tiny_ledger):
    one = run(tiny_ledger, workers=1)
    two = run(tiny_ledger, workers=2)
    assert len(one.exceptions) > 50
    pd.testing.assert_frame_equal(one.exceptions, two.exceptions)
    pd.testing.assert_frame_equal(without_seconds(one.detector_runs), without_seconds(two.detector_runs))
    assert one.manifest["coverage"] == two.manifest["coverage"]
    assert set(one.views) == set(two.views)
    for name in one.views:
        pd.testing.assert_frame_equal(one.views[name], two.views[name], check_dtype=False, obj=name)


class DeadWorkerContext:
    """A process context whose worker claims the largest group and dies before sending anything back."""

    real = multiprocessing.get_context("spawn")

    def Array(self, *args, **kwargs):
        return self.real.Array(*args, **kwargs)

    def Queue(self):
        return self.real.Queue()

    class Process:
        def __init__(self, target, name, daemon, args):
            self.claimed = args[1]
            self.exitcode = None

        def start(self):
            self.claimed[0] = 1  # it took group 0 (the largest), then was killed
            self.exitcode = -9

        def is_alive(self):
            return False

        def join(self, timeout=None):
            return None

        def terminate(self):
            return None


def test_a_worker_that_dies_loses_no_work_and_the_status_says_so(tiny_ledger, monkeypatch):
    expected, expected_statuses = run_detectors(staged(tiny_ledger), workers=1)
    assert len(expected) > 50  # the rerun groups find something: a lost group would show
    monkeypatch.setattr(lanes, "_process_context", DeadWorkerContext)
    found, statuses = run_detectors(staged(tiny_ledger), workers=2)
    pd.testing.assert_frame_equal(expected, found)
    largest = [c.code for c in lanes.lanes(plan())[0][0]]
    rerun = statuses[statuses["detector"].isin(largest)]
    assert len(rerun) == len(largest) and (rerun["status"] == "ran").all()
    assert rerun["reason"].str.contains(r"run again in the main process: the worker process stopped \(exit code -9\)").all()
    others = statuses[~statuses["detector"].isin(largest)]
    assert not others["reason"].fillna("").str.contains("run again").any()


def test_groups_needing_a_library_the_main_process_lacks_go_to_the_worker_first(monkeypatch):
    groups, _ = lanes.lanes(plan())
    for group in groups:  # the anomaly detectors' own (pyod) aside: this test names what is imported
        for cls in group:
            if cls.imports:
                monkeypatch.setattr(cls, "imports", ())
    heavy = next(cls for cls in groups[2] if issubclass(cls, Detector))  # not the largest group
    monkeypatch.setattr(heavy, "imports", ("json", "a_module_this_process_never_imported"))
    main_order, worker_order = lanes._orders(groups)
    assert worker_order[0] == 2 and 2 not in main_order  # the worker's own, first
    assert main_order == worker_order[1:] == [i for i in range(len(groups)) if i != 2]  # else by cost
    monkeypatch.setattr(heavy, "imports", ("json",))  # imported here already: no preference
    assert lanes._orders(groups) == (list(range(len(groups))), list(range(len(groups))))
    claims = shared_claims(groups=3, budget_gb=float("inf"))
    assert claims.claim([2, 0, 1]) == 2 and claims.claim([0, 2]) == 0
    assert claims.claim([2, 0]) is None and claims.claim([1]) == 1


def shared_claims(groups: int, budget_gb: float) -> lanes.Claims:
    context = multiprocessing.get_context("spawn")
    return lanes.Claims(context.Array("b", groups), context.Array("d", 2, lock=False), budget_gb)


def test_a_component_waits_while_the_other_process_runs_one_it_would_exceed_the_budget_with():
    claims = shared_claims(groups=1, budget_gb=5.0)
    assert claims.enter(lanes.MAIN, peak_gb=2.5, resident_gb=1.0) and claims.running[lanes.MAIN] == 3.5
    # beside the main process's expected 3.5 GB, the worker (at 1 GB) may start 0.5 GB more, not 2 GB
    assert not claims.enter(lanes.WORKER, peak_gb=2.0, resident_gb=1.0) and claims.running[lanes.WORKER] == 0
    assert claims.enter(lanes.WORKER, peak_gb=0.5, resident_gb=1.0) and claims.running[lanes.WORKER] == 1.5
    claims.leave(lanes.WORKER)
    claims.leave(lanes.MAIN)  # the main process's component ended: the 2 GB one may start
    assert claims.enter(lanes.WORKER, peak_gb=2.0, resident_gb=1.0)
    # a component heavier than the budget alone still runs, when the other process runs none
    claims.leave(lanes.WORKER)
    assert claims.enter(lanes.MAIN, peak_gb=6.0, resident_gb=0.5)
    assert not claims.enter(lanes.WORKER, peak_gb=0.1, resident_gb=0.5)
    # the expected peak is per million invoice lines, scaled to the ledger
    assert lanes.peak_gb("DST-H1", 10_000_000) == 10 * lanes.peak_gb("DST-H1", 1_000_000) > 0


def test_with_no_two_components_fitting_together_the_findings_are_those_of_one_process(tiny_ledger,
                                                                                         monkeypatch):
    expected, expected_statuses = run_detectors(staged(tiny_ledger), workers=1)
    # every component's peak alone takes the whole budget: each process waits while the other runs one
    monkeypatch.setattr(lanes, "UNLISTED_PEAK_GB_PER_MILLION_LINES", 1e6)
    monkeypatch.setattr(lanes, "PEAK_GB_PER_MILLION_LINES", {})
    monkeypatch.setattr(lanes, "peak_budget_gb", lambda: 1.0)
    enter, leave, entries = lanes.Claims.enter, lanes.Claims.leave, []

    def counted(self, me, peak_gb, resident_gb):
        entries.append(enter(self, me, peak_gb, resident_gb))
        return entries[-1]

    def after_the_first_until_the_worker_runs_one(self, me):
        leave(self, me)
        if me == lanes.MAIN and len(entries) == 1:  # the worker starts slower than a tiny ledger's components
            deadline = time.monotonic() + 120
            while self.running[lanes.WORKER] == 0 and time.monotonic() < deadline:
                time.sleep(0.01)

    monkeypatch.setattr(lanes.Claims, "enter", counted)
    monkeypatch.setattr(lanes.Claims, "leave", after_the_first_until_the_worker_runs_one)
    found, statuses = run_detectors(staged(tiny_ledger), workers=2)
    pd.testing.assert_frame_equal(expected, found)
    pd.testing.assert_frame_equal(without_seconds(expected_statuses), without_seconds(statuses))
    assert len(expected) > 50 and not all(entries)  # the main process waited while the worker ran one


COMMAND_LINE_WORKER = """
import sys
from audit import lanes
from audit.cli import app

started, given = [], []
early_worker, run_in_lanes = lanes.early_worker, lanes.run_in_lanes

def first_of_all(*args):
    started.append(sorted(m for m in ("pandas", "ibis", "sklearn", "duckdb", "audit.registry") if m in sys.modules))
    return early_worker(*args)

def shared(data, steps, detector_steps, state, workers, progress, raise_errors, worker=None):
    given.append(worker)
    return run_in_lanes(data, steps, detector_steps, state, workers, progress, raise_errors, worker)

lanes.early_worker, lanes.run_in_lanes = first_of_all, shared
try:
    app(["run", "--data", sys.argv[1], "--out", sys.argv[2], "--workers", "2", "--format", "csv"])
except SystemExit as exit:
    print("exit", exit.code)
print("started", started, "the run used it", len(given) == 1 and given[0] is not None)
"""


def test_the_command_line_starts_the_worker_before_the_tool_s_libraries_load(tiny_ledger, tmp_path):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", COMMAND_LINE_WORKER, str(tiny_ledger), str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-2:] == ["exit 0", "started [[]] the run used it True"]
    assert (tmp_path / "run" / "exceptions.csv").is_file()


def test_one_process_for_small_ledgers_tables_in_memory_and_plug_ins(tiny_ledger, mini_tables, mini_policy,
                                                                     monkeypatch):
    monkeypatch.delenv(lanes.WORKERS_VARIABLE, raising=False)
    data = staged(tiny_ledger)
    steps = plan()
    assert data.rows("invoice_lines") < lanes.MIN_LINES_FOR_WORKERS
    assert lanes.worker_count(data, steps, (), None) == 1  # too small to pay for a second process
    assert lanes.worker_count(data, steps, (), 2) == 2
    monkeypatch.setattr(lanes, "MIN_LINES_FOR_WORKERS", 10)
    monkeypatch.setattr(lanes.os, "cpu_count", lambda: 2)
    monkeypatch.setattr("audit.memory.physical_memory_bytes", lambda: 16 * 1024**3)
    assert lanes.worker_count(data, steps, (), None) == 2
    monkeypatch.setattr("audit.memory.physical_memory_bytes", lambda: 4 * 1024**3)
    assert lanes.worker_count(data, steps, (), None) == 1  # two processes peak higher than one
    monkeypatch.setattr("audit.memory.physical_memory_bytes", lambda: 16 * 1024**3)
    monkeypatch.setattr(lanes.os, "cpu_count", lambda: 1)
    assert lanes.worker_count(data, steps, (), None) == 1
    monkeypatch.setattr(lanes.os, "cpu_count", lambda: 2)
    monkeypatch.setenv(lanes.WORKERS_VARIABLE, "1")
    assert lanes.worker_count(data, steps, (), None) == 1
    in_memory = AuditData(mini_tables, mini_policy, Engine("duckdb"))
    assert lanes.worker_count(in_memory, steps, (), 2) == 1  # a second process could not read pandas frames
    assert lanes.worker_count(data, steps, (object,), 2) == 1  # an unregistered component: not in the worker


@pytest.mark.parametrize("given, half", [("4096MB", "2048MB"), ("6GB", "3072MB"), ("1.5GiB", "768MB"),
                                         ("200MB", "128MB"), (None, None)])
def test_each_process_gets_half_the_engine_memory(given, half):
    assert lanes._half_limit(given) == half


def test_each_process_gets_half_the_cores_for_its_engine_and_the_main_process_all_of_them_after(
        tiny_ledger, monkeypatch):
    def threads(engine):
        return engine.backend.con.sql("select current_setting('threads')").fetchall()[0][0]

    for cores, share in ((1, 1), (2, 1), (3, 1), (8, 4)):
        monkeypatch.setattr(lanes.os, "cpu_count", lambda cores=cores: cores)
        assert lanes._half_threads() == share
    monkeypatch.undo()
    data = staged(tiny_ledger)
    alone = threads(data.engine)
    worker_data = lanes._open_ledger(lanes.ledger_spec(data, "256MB", 1))
    try:
        assert threads(worker_data.engine) == 1
    finally:
        worker_data.engine.close()
    monkeypatch.setattr(lanes, "_half_threads", lambda: 1)
    seen = []
    real = runner.run_steps

    def spy(data, steps, *args, **kwargs):
        seen.append((tuple(c.code for c in steps), threads(data.engine)))
        return real(data, steps, *args, **kwargs)

    monkeypatch.setattr(runner, "run_steps", spy)
    run_detectors(data, ["CHQ-02", "STD-05", "SPR-01"], workers=2)
    shared = [count for codes, count in seen if "SPR-01" not in codes]
    assert shared and set(shared) == {1}  # the groups the main process ran beside the worker
    assert [count for codes, count in seen if "SPR-01" in codes] == [alone] == [threads(data.engine)]


@pytest.mark.parametrize("given", ["3", "0", "two", "1.5"])
def test_a_bad_worker_count_is_a_clear_error_before_the_data_is_read(given, tmp_path, monkeypatch):
    monkeypatch.setenv(lanes.WORKERS_VARIABLE, given)
    with pytest.raises(ValueError, match=r"SALES_AUDIT_WORKERS=.*give 1 \(one process\) or 2"):
        run(tmp_path / "no-such-ledger")
    monkeypatch.delenv(lanes.WORKERS_VARIABLE)
    with pytest.raises(ValueError, match="workers=3: give 1"):
        run(tmp_path / "no-such-ledger", workers=3)


def test_the_cli_takes_one_or_two_workers(tmp_path):
    from typer.testing import CliRunner

    from audit.cli import app

    result = CliRunner().invoke(app, ["run", "--data", str(tmp_path), "--workers", "3", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "--workers 3: give 1" in result.output and "Traceback" not in result.output


def test_a_large_ledger_starts_its_worker_before_the_data_is_read(tiny_ledger, tmp_path, monkeypatch):
    monkeypatch.delenv(lanes.WORKERS_VARIABLE, raising=False)
    lines = len(pd.read_csv(tiny_ledger / "invoice_lines.csv")) if (tiny_ledger / "invoice_lines.csv").exists() \
        else len(pd.read_parquet(tiny_ledger / "invoice_lines.parquet"))
    assert abs(lanes._lines_in_files(tiny_ledger) - lines) <= 0.02 * lines  # counted without reading the table
    as_parquet = tmp_path / "parquet"
    as_parquet.mkdir()
    pd.DataFrame({"invoice_id": range(1234)}).to_parquet(as_parquet / "invoice_lines.parquet")
    assert lanes._lines_in_files(as_parquet) == 1234
    assert lanes._lines_in_files(tmp_path / "book.xlsx") == 0
    assert lanes.early_worker(tiny_ledger, "duckdb", None) is None  # too small: no second process
    assert lanes.early_worker(tiny_ledger, "duckdb", 1) is None
    assert lanes.early_worker(tiny_ledger, "spark", 2) is None
    monkeypatch.setattr(lanes, "MIN_LINES_FOR_WORKERS", lines)
    monkeypatch.setattr(lanes, "_machine_fits_two", lambda: True)
    worker = lanes.early_worker(tiny_ledger, "duckdb", None)
    try:
        assert worker is not None and worker.process.is_alive()
    finally:
        worker.stop()
    assert not worker.process.is_alive()


KILLED_RUN = """
import time
from audit.lanes import Worker
worker = Worker.start()
print(worker.process.pid, flush=True)
time.sleep(120)
"""


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as status:
            return not any(line.startswith("State:") and "Z" in line.split()[1] for line in status)
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads process states from /proc")
def test_a_worker_ends_when_its_run_is_killed_outright():
    import signal
    import subprocess
    import sys
    import time

    run_process = subprocess.Popen([sys.executable, "-c", KILLED_RUN], stdout=subprocess.PIPE, text=True)
    try:
        worker_pid = int(run_process.stdout.readline())
        time.sleep(1)
        assert _running(worker_pid)
    finally:
        run_process.send_signal(signal.SIGKILL)  # no chance to stop its worker
        run_process.wait()
    deadline = time.monotonic() + 30
    while _running(worker_pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _running(worker_pid)


def test_an_early_worker_is_stopped_when_the_run_ends_without_it(tiny_ledger, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "invoices.csv").write_text("not,a,contract,table\n1,2,3,4\n")
    with pytest.raises(InputError):
        run(broken, workers=2)
    assert not [p for p in multiprocessing.active_children() if p.name == "sales-audit-worker"]
    found_one = run(tiny_ledger, workers=2, detectors=["CHQ-02"])  # one component: one process
    assert len(found_one.exceptions) > 0
    assert not [p for p in multiprocessing.active_children() if p.name == "sales-audit-worker"]
