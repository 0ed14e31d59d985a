"""Components shared between processes: both cores at work on a large ledger.

Most components are single-threaded Python between engine queries, so one process keeps one core busy.
A run on a staged ledger (``audit run``: the checked tables are Parquet files the engine reads) can hand
groups of components to a second process, which opens the same files with its own engine:

* **Groups** (:func:`lanes`): a component joins the group of what it reads, so an analysis and its
  readers, or a detector and the detectors whose findings it reads, run in one process, in the plan's
  order. A component that reads only findings, of components in different groups (the salesperson
  rollup), runs in the main process after every group.
* **Scheduling**: the groups, largest first by their measured cost (``SECONDS_PER_MILLION_LINES``), go to
  whichever process is free: the main process works through them itself while a worker process takes
  one group at a time. Groups whose components import a heavy library when they run (``imports``, e.g.
  pyod) that the main process has not imported are the worker's, first: it imported them while the main
  process read the data, so the main process never pays for them (time and memory) unless the worker
  stops before running them.
* **Memory**: each component is expected to add its peak to its process while it runs
  (``PEAK_GB_PER_MILLION_LINES``, scaled to the ledger). Before a component starts, its process's memory
  now plus that peak, and what the other process is expected to reach with the component it runs, must stay
  within the budget together (``PEAK_SHARE_OF_MEMORY`` of the machine); else its process runs its next
  group meanwhile, or waits for the other's component to end when none is left (a component runs whatever
  its size when the other process runs none). At ten million lines the distress history and the invoice
  anomaly model side by side took the run to 6.7 GB; on a million lines every pair fits and nothing waits.
* **Results**: a worker hands back each component's findings, status and analysis outputs; the run puts
  them in the plan's order, so the findings, their ids and order, and the statuses are the same as in
  one process (``tests/test_lanes.py`` compares them).

Each process has its own DuckDB with half of the engine's memory limit and half of the cores (two DuckDBs
with a thread per core each ran four threads on two cores: 1M lines took 2.8 s longer and peaked 60 MB
higher). A worker that dies (out of
memory, killed) loses no work: its groups run again in the main process, and the run says so in their
status. Spark runs, ledgers held in pandas (tests, notebooks) and plug-in components that are not
registered run in one process.
"""

from __future__ import annotations

import multiprocessing
import os
import warnings
from dataclasses import dataclass

# Invoice lines from which a second process pays for its start (3.5 s of imports on the benchmark machine).
MIN_LINES_FOR_WORKERS = 500_000
# Machines with less memory keep one process: two together peak higher (1M lines: 1.89 GB against 1.13 GB).
MIN_MEMORY_FOR_WORKERS = 8 * 1024**3
# Component seconds on the million-line ledger, measured on the 2-core benchmark machine with two processes
# and a DuckDB thread each (session 15). They only decide which groups are handed out first; a component not
# listed counts 0.5.
SECONDS_PER_MILLION_LINES = {
    "DST-H1": 5.8, "ANO-03": 3.9, "STD-07": 2.2, "ANO-02": 2.1, "STD-01": 2.1, "PAY-01": 2.0, "VIS-01": 2.0,
    "DSC-01": 1.9, "SHP-01": 1.8, "ANO-01": 1.7, "INV-01": 1.6, "LNK-01": 1.5, "CUS-01": 1.5, "CHQ-03": 1.3,
    "ANO-00": 1.2, "CUS-02": 1.2, "DST-01": 1.1, "STD-02": 1.1, "PRC-00": 1.0, "STD-03": 1.0, "RCV-00": 0.9,
    "DST-02": 0.9, "SPR-01": 0.9, "DSC-02": 0.8, "RCV-04": 0.7, "RCV-05": 0.7, "PAY-02": 0.7, "STD-06": 0.7,
    "CHQ-01": 0.5, "RCV-06": 0.4, "STD-05": 0.4, "STD-11": 0.4, "STD-00": 0.3, "STD-04": 0.3, "STD-08": 0.3,
    "RCV-02": 0.2, "PRC-01": 0.2, "CHQ-02": 0.2, "STD-09": 0.2, "RCV-01": 0.1, "RCV-03": 0.1, "PRC-02": 0.1,
    "STD-10": 0.0,
}
# What a component adds to its process's RSS while it runs (its peak over the RSS it started from), in GB per
# million invoice lines, measured on the ten-million-line ledger (session 16); a component not listed counts
# UNLISTED_PEAK_GB_PER_MILLION_LINES. They decide only which groups may run side by side.
PEAK_GB_PER_MILLION_LINES = {
    "DST-H1": 0.2, "ANO-03": 0.2, "VIS-01": 0.21, "SHP-01": 0.12, "DSC-01": 0.19, "INV-01": 0.17,
    "DSC-02": 0.16, "LNK-01": 0.14, "STD-03": 0.13, "CUS-02": 0.12, "RCV-00": 0.12, "DST-01": 0.1,
    "ANO-00": 0.1, "PAY-02": 0.1, "ANO-02": 0.08, "STD-02": 0.08, "STD-06": 0.08, "STD-11": 0.08,
    "CUS-01": 0.07, "RCV-04": 0.07, "RCV-05": 0.07, "PRC-00": 0.07, "RCV-02": 0.06, "STD-04": 0.06,
    "STD-08": 0.06, "PAY-01": 0.06, "STD-07": 0.06,
}
UNLISTED_PEAK_GB_PER_MILLION_LINES = 0.05
# The share of the machine's memory that both processes together are expected to stay within (a quarter,
# as DuckDB's default limit: 6 GB on the 24 GB benchmark machine, 4 GB on a 16 GB laptop).
PEAK_SHARE_OF_MEMORY = 0.25
# How long a component that does not fit beside the other process's waits before it looks again.
WAIT_SECONDS = 0.2
MAIN, WORKER = 0, 1  # the processes' places in Claims.running
# Groups a run can share at most (one per component at most: 50 are registered).
MAX_GROUPS = 512
WORKERS_VARIABLE = "SALES_AUDIT_WORKERS"
# How long a worker that sent its last result may take to close its engine (remove its spill folder) and exit.
FINISHING_SECONDS = 10
# How often a worker checks that the run that started it is still there.
PARENT_CHECK_SECONDS = 1.0


def worker_count(data, steps: list[type], extra: tuple[type, ...], asked: int | None) -> int:
    """How many processes run the components: ``asked`` (or the ``SALES_AUDIT_WORKERS`` variable) if given,
    else two on a machine with two cores or more and 8 GB of memory or more when the ledger has
    ``MIN_LINES_FOR_WORKERS`` invoice lines.
    Always one where a second process cannot open the ledger (not staged, not DuckDB, unregistered
    components)."""
    asked = asked_workers(asked)
    if extra or not data._staged or data.engine.name != "duckdb" or not 2 <= len(steps) <= MAX_GROUPS:
        return 1
    if asked is not None:
        return asked
    lines = data.rows("invoice_lines") if data.has("invoice_lines") else 0
    return 2 if lines >= MIN_LINES_FOR_WORKERS and _machine_fits_two() else 1


def asked_workers(asked: int | None) -> int | None:
    """The processes asked for: ``asked``, else the ``SALES_AUDIT_WORKERS`` variable (None: neither says); a
    value other than 1 or 2 is a ValueError that says what to give."""
    where = "workers"
    if asked is None:
        text = os.environ.get(WORKERS_VARIABLE, "").strip()
        if not text:
            return None
        where, asked = WORKERS_VARIABLE, text
    try:
        count = int(asked)
    except (TypeError, ValueError):
        count = None
    if count not in (1, 2) or str(asked).strip() != str(count):
        raise ValueError(f"{where}={asked!r}: give 1 (one process) or 2 (the components shared with a second "
                         "process)")
    return count


def lanes(steps: list[type]) -> tuple[list[list[type]], list[type]]:
    """The groups of ``steps`` that can run in separate processes (each in the plan's order), and the steps
    that run after all of them in the main process (readers of findings from several groups)."""
    from audit.detector import Detector  # not at the top: the command line starts the worker before it loads

    detectors = [c for c in steps if issubclass(c, Detector)]
    group_of: dict[str, int] = {}
    parent: dict[int, int] = {}

    def root(group: int) -> int:
        while parent[group] != group:
            parent[group] = parent[parent[group]]
            group = parent[group]
        return group

    final: list[type] = []
    final_codes: set[str] = set()
    for cls in steps:
        analyses = [code for code in cls.reads_analyses if code in group_of]
        upstream = [code for code in cls.upstream_detectors(detectors) if code in group_of or code in final_codes]
        if any(code in final_codes for code in (*analyses, *upstream)):
            final.append(cls)
            final_codes.add(cls.code)
            continue
        groups = {root(group_of[code]) for code in (*analyses, *upstream)}
        if len(groups) > 1 and not analyses:
            final.append(cls)  # a reading of several groups' findings: after them all
            final_codes.add(cls.code)
            continue
        group = len(parent)
        parent[group] = group
        for other in groups:  # what reads an analysis runs beside it, and beside whatever else it reads
            parent[root(other)] = group
        group_of[cls.code] = group
    members: dict[int, list[type]] = {}
    for cls in steps:
        if cls.code in group_of:
            members.setdefault(root(group_of[cls.code]), []).append(cls)
    ordered = sorted(members.values(), key=lambda group: (-_cost(group), group[0].code))
    return ordered, final


def _cost(group: list[type]) -> float:
    return sum(SECONDS_PER_MILLION_LINES.get(cls.code, 0.5) for cls in group)


@dataclass(frozen=True)
class LedgerSpec:
    """What a worker process needs to open the run's staged ledger (the main process owns the files)."""

    directory: str
    paths: dict
    rows: dict
    columns: dict
    present_columns: dict
    policy: object
    period: str | None
    engine_memory: str | None
    engine_threads: int
    language: str
    calendar: str


def ledger_spec(data, engine_memory: str | None, engine_threads: int) -> LedgerSpec:
    from audit.i18n import current_calendar, current_language

    staged = data.tables.frames
    return LedgerSpec(str(staged.directory), {name: str(staged.path(name)) for name in staged},
                      {name: staged.rows(name) for name in staged}, {name: staged.columns(name) for name in staged},
                      dict(data.tables.present_columns), data.policy, data.period, engine_memory, engine_threads,
                      current_language(), current_calendar())


def _half_threads() -> int:
    """Each process's share of the cores for its engine's threads."""
    return max(1, (os.cpu_count() or 2) // 2)


def _open_ledger(spec: LedgerSpec):
    """The run's staged ledger, opened in the worker process with its own engine."""
    from audit.data import AuditData
    from audit.engine import Engine
    from audit.stage import StagedTables
    from audit.validation import AuditTables

    staged = StagedTables.borrowed(spec.directory, spec.paths, spec.rows, spec.columns)
    tables = AuditTables(frames=staged, present_columns=dict(spec.present_columns))
    engine = Engine("duckdb", spec.engine_memory)
    engine.set_threads(spec.engine_threads)
    return AuditData(tables, spec.policy, engine, spec.period)


def peak_gb(code: str, invoice_lines: int) -> float:
    """What component ``code`` is expected to add to its process on a ledger of ``invoice_lines``."""
    return PEAK_GB_PER_MILLION_LINES.get(code, UNLISTED_PEAK_GB_PER_MILLION_LINES) * invoice_lines / 1e6


def peak_budget_gb() -> float:
    """What both processes together are expected to stay within (infinite where the machine's memory is unknown)."""
    from audit.memory import physical_memory_bytes

    memory = physical_memory_bytes()
    return float("inf") if memory is None else memory / 1024**3 * PEAK_SHARE_OF_MEMORY


def resident_gb() -> float:
    """This process's memory now (0 where the system does not say)."""
    from audit.memory import resident_bytes

    return (resident_bytes() or 0) / 1024**3


@dataclass(frozen=True)
class Claims:
    """What both processes share: a flag per group (claimed), and what each process is expected to reach
    with the component it runs (``running``: 0 when it runs none; index 0 is the main process, 1 the
    worker) under a budget for the two together."""

    claimed: object
    running: object
    budget_gb: float

    def claim(self, order: list[int]) -> int | None:
        """The first group in ``order`` that no process has claimed yet, now claimed (None: all are taken)."""
        with self.claimed.get_lock():
            for index in order:
                if not self.claimed[index]:
                    self.claimed[index] = 1
                    return index
        return None

    def enter(self, me: int, peak_gb: float, resident_gb: float) -> bool:
        """Whether process ``me`` (at ``resident_gb`` now) may start a component expected to add ``peak_gb``:
        with what the other process is expected to reach, within the budget, or the other runs none. If
        so, it is counted as running until :meth:`leave`."""
        with self.claimed.get_lock():
            other = self.running[1 - me]
            if other and other + resident_gb + peak_gb > self.budget_gb:
                return False
            self.running[me] = resident_gb + peak_gb
            return True

    def leave(self, me: int) -> None:
        """Process ``me`` runs no component now (it finished one, or it is gone)."""
        with self.claimed.get_lock():
            self.running[me] = 0.0


@dataclass(frozen=True)
class MemoryGate:
    """What a process's :func:`~audit.runner.run_steps` asks before each component (``enter``) and says after
    it (``leave``): the component starts when it fits beside the other process's (see :class:`Claims`)."""

    claims: Claims
    me: int
    invoice_lines: int
    order: list  # this process's order of the groups
    # Runs a group (by its index): while a component waits, its process runs its next unclaimed group, whose
    # components pass this gate too, so what the waiting group holds is counted.
    run_group: object
    other_alive: object = None  # the main process's check that the worker still runs (a dead one runs nothing)

    def enter(self, code: str) -> None:
        import time

        while not self.claims.enter(self.me, peak_gb(code, self.invoice_lines), resident_gb()):
            if self.other_alive is not None and not self.other_alive():
                self.claims.leave(1 - self.me)
            index = self.claims.claim(self.order)
            if index is None:
                time.sleep(WAIT_SECONDS)
            else:
                self.run_group(index)

    def leave(self) -> None:
        self.claims.leave(self.me)


def _worker_first(groups: list[list[type]]) -> list[int]:
    """Groups with a component whose ``imports`` the main process has not imported: the worker's to take first."""
    import sys

    return [index for index, group in enumerate(groups)
            if any(module not in sys.modules for cls in group for module in cls.imports)]


def _orders(groups: list[list[type]]) -> tuple[list[int], list[int]]:
    """The groups the main process and the worker claim, in order: by cost, except that the groups needing
    what only the worker imported are the worker's, first (the main process runs them only if the worker
    stops before it has)."""
    preferred = _worker_first(groups)
    rest = [index for index in range(len(groups)) if index not in preferred]
    return rest, preferred + rest


def _preload_imports(classes) -> None:
    """Import what any component imports only when it runs (the worker does, while the data is read)."""
    import importlib

    for module in dict.fromkeys(module for cls in classes for module in cls.imports):
        importlib.import_module(module)


def _worker(spec: LedgerSpec, groups: list[list[str]], order: list[int], detector_codes: list[str],
            raise_errors: bool, budget_gb: float, claimed, running, results) -> None:
    """A worker process: claim the next group until none is left, run it, send back what it made."""
    import traceback

    from audit.collector import long_lived_frozen
    from audit.i18n import presentation
    from audit.registry import analysis_classes, detector_classes
    from audit.runner import RunState, run_steps

    # scikit-learn's neighbour search runs on one core here (the main process has the other) and says so
    warnings.filterwarnings("ignore", message="Loky-backed parallel loops cannot be called in a multiprocessing")
    try:
        classes = {c.code: c for c in (*analysis_classes(), *detector_classes())}
        data = _open_ledger(spec)
        detector_steps = [classes[code] for code in detector_codes]
        claims = Claims(claimed, running, budget_gb)

        def run_group(index: int) -> None:
            state = RunState()
            run_steps(data, [classes[code] for code in groups[index]], detector_steps, state,
                      raise_errors=raise_errors, gate=gate)
            results.put(("done", index, state))

        gate = MemoryGate(claims, WORKER, spec.rows.get("invoice_lines", 0), order, run_group)
        while (index := claims.claim(order)) is not None:
            with presentation(spec.language, spec.calendar), long_lived_frozen():
                run_group(index)
    except BaseException as exc:  # sent to the main process, which runs the unfinished groups itself
        results.put(("failed", -1, f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))
        return
    results.put(("end", -1, None))  # before the engine closes: the main process need not wait for that
    data.engine.close()


def _exit_with_parent(parent: int) -> None:
    """End this process when ``parent`` (the run that started it) is gone: a run killed outright cannot stop
    its worker, which would go on computing and holding memory for nobody."""
    import threading
    import time

    def watch():
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="sales-audit-parent-watch", daemon=True).start()


def _standing_worker(tasks, claimed, running, results, parent: int) -> None:
    """A worker process started before the ledger is read: it imports the tool and the libraries components
    import when they run (seconds of work) while the main process reads and checks the data, then runs the
    groups it is given. It ends with the run that started it."""
    _exit_with_parent(parent)
    from audit.registry import analysis_classes, detector_classes
    from audit.runner import run_steps  # noqa: F401  (imported now, while the main process reads the data)

    _preload_imports((*analysis_classes(), *detector_classes()))
    _worker(*tasks.get(), claimed, running, results)


def _process_context():
    return multiprocessing.get_context("spawn")  # a fresh interpreter: no engine threads or locks copied


class Worker:
    """The second process: started (``start``), then given its groups (``give``), or stopped unused."""

    def __init__(self):
        context = _process_context()
        # one flag per group, claimed by either process (the worker may start before the components are loaded)
        self.claimed = context.Array("b", MAX_GROUPS)
        # what each process is expected to reach with the group it runs, changed only under the flags' lock
        self.running = context.Array("d", 2, lock=False)
        self.results = context.Queue()
        self.tasks = context.Queue()
        self.ended = False  # it sent its last result and is closing its engine
        self.process = context.Process(target=_standing_worker, name="sales-audit-worker", daemon=True,
                                       args=(self.tasks, self.claimed, self.running, self.results, os.getpid()))

    @classmethod
    def start(cls) -> Worker:
        worker = cls()
        worker.process.start()
        return worker

    def give(self, spec: LedgerSpec, groups: list[list[str]], order: list[int], detector_codes: list[str],
             raise_errors: bool, budget_gb: float):
        self.tasks.put((spec, groups, order, detector_codes, raise_errors, budget_gb))

    def stop(self) -> None:
        """End the process if it still runs (unused, or left behind by a run that failed); one that sent its
        last result (``ended``) is given a few seconds to close its engine first."""
        if self.ended:
            self.process.join(timeout=FINISHING_SECONDS)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=10)


def early_worker(source, engine: str, asked: int | None) -> Worker | None:
    """A worker process started before ``source`` is read, when the run will likely share its components
    (``asked`` is 2, or the ledger's invoice lines as counted from its files reach ``MIN_LINES_FOR_WORKERS``
    on a machine fit for two processes), so that its imports overlap the reading of the data. The run stops
    it unused if it keeps to one process after all."""
    asked = asked_workers(asked)
    if engine != "duckdb" or asked == 1:
        return None
    if asked is None and not (_machine_fits_two() and _lines_in_files(source) >= MIN_LINES_FOR_WORKERS):
        return None
    return Worker.start()


def _machine_fits_two() -> bool:
    from audit.memory import physical_memory_bytes

    memory = physical_memory_bytes()
    return (os.cpu_count() or 1) >= 2 and (memory is None or memory >= MIN_MEMORY_FOR_WORKERS)


def _lines_in_files(source) -> int:
    """Invoice lines in a folder's ``invoice_lines`` file without reading it: a Parquet file's row count
    from its footer, a CSV file's size over the length of its first lines; 0 for anything else."""
    from pathlib import Path

    if not isinstance(source, (str, Path)) or not Path(source).is_dir():
        return 0
    for path in sorted(Path(source).glob("invoice_lines.*")):
        suffix = path.suffix.lower()
        try:
            if suffix == ".parquet":
                import pyarrow.parquet as pq

                return pq.read_metadata(path).num_rows
            if suffix == ".csv":
                with path.open("rb") as handle:
                    sample = handle.read(1 << 20)
                return int(path.stat().st_size * sample.count(b"\n") / max(len(sample), 1))
        except (OSError, ValueError, ImportError):  # unreadable here: the reading says why, in its own words
            return 0
    return 0


def run_in_lanes(data, steps: list[type], detector_steps: list[type], state, workers: int, progress,
                 raise_errors: bool, worker: Worker | None = None) -> None:
    """Run ``steps`` into ``state`` with a worker process beside the main one (``workers`` is 2): ``worker``
    if one was started early (:func:`early_worker`), else one started now."""
    import queue

    from audit.runner import run_steps

    groups, final = lanes(steps)
    total, done = len(steps), 0
    original_limit = data.engine.memory_limit
    half = _half_limit(original_limit)
    own = worker is None  # started here: stopped here; else its owner stops it (``runner.run``, at the run's end)
    worker = worker or Worker.start()
    results, process = worker.results, worker.process
    data.engine.set_memory_limit(half)
    threads = _half_threads()
    data.engine.set_threads(threads)
    main_order, worker_order = _orders(groups)
    spec = ledger_spec(data, half, threads)
    claims = Claims(worker.claimed, worker.running, peak_budget_gb())
    mine: set[int] = set()
    counted = [done]  # steps done, for the progress (a group may run while another waits for memory)

    def run_group(index: int) -> None:
        mine.add(index)
        run_steps(data, groups[index], detector_steps, state, progress, raise_errors, counted[0], total, gate=gate)
        counted[0] += len(groups[index])

    gate = MemoryGate(claims, MAIN, spec.rows.get("invoice_lines", 0), main_order, run_group,
                      other_alive=process.is_alive)
    worker.give(spec, [[c.code for c in group] for group in groups], worker_order, [c.code for c in detector_steps],
                raise_errors, claims.budget_gb)
    try:
        while (index := claims.claim(main_order)) is not None:
            run_group(index)
        done = counted[0]
        finished, failure = set(), ""
        while True:
            try:
                kind, index, payload = results.get(timeout=1.0)
            except queue.Empty:
                if process.is_alive():
                    continue
                failure = failure or f"the worker process stopped (exit code {process.exitcode})"
                break
            if kind == "done":
                state.update(payload)
                finished.add(index)
                done += len(groups[index])
                if progress:
                    progress(", ".join(c.code for c in groups[index]), done, total)
            elif kind == "failed":
                failure = payload.splitlines()[0]
                if raise_errors:
                    raise RuntimeError(f"worker process: {payload}")
            else:  # end: the worker closes its engine and exits while this process goes on
                worker.ended = True
                break
    finally:
        if own or not worker.ended:  # a worker that ended closes its engine while the run goes on
            worker.stop()
        data.engine.set_memory_limit(original_limit)
        data.engine.set_threads(None)  # the main process goes on alone
    for index in sorted(set(range(len(groups))) - mine - finished):  # a worker that stopped: the rest, here
        run_steps(data, groups[index], detector_steps, state, progress, raise_errors, done, total)
        for cls in groups[index]:
            if cls.code in state.statuses:
                note = f"run again in the main process: {failure}"
                reason = state.statuses[cls.code].get("reason") or ""
                state.statuses[cls.code]["reason"] = "; ".join(r for r in (reason, note) if r)
        done += len(groups[index])
    run_steps(data, final, detector_steps, state, progress, raise_errors, done, total)


def _half_limit(limit: str | None) -> str | None:
    """Half of a DuckDB memory limit such as ``4096MB`` or ``6GB`` (each process gets half)."""
    if not limit:
        return limit
    import re

    match = re.fullmatch(r"\s*([\d.]+)\s*([KMGT]?i?B)\s*", limit, re.IGNORECASE)
    if not match:
        return limit
    units = {"KB": 1 / 1024, "MB": 1, "GB": 1024, "TB": 1024 * 1024}
    unit = match.group(2).upper().replace("IB", "B")
    megabytes = float(match.group(1)) * units.get(unit, 1)
    return f"{max(int(megabytes / 2), 128)}MB"
