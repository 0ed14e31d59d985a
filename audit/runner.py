"""Run an audit: load and check the data, run every registered detector, rank what they find."""

from __future__ import annotations

import datetime as dt
import getpass
import graphlib
import hashlib
import json
import platform
import re
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import MappingProxyType

import pandas as pd

from audit import lanes
from audit.collector import long_lived_frozen
from audit.contract import EXCEPTION_COLUMNS, PATTERN_TABLE
from audit.data import AuditData
from audit.decisions import CLOSING_DECISIONS, SUPPRESSING_DECISIONS, latest_decisions, read_decisions
from audit.detector import Detector, DetectorInputError
from audit.engine import Engine
from audit.evidence import frame_from_text
from audit.formula_safety import restore
from audit.i18n import N_, check_language, presentation, t, use_language
from audit.loading import load, redact_url
from audit.memory import release_unused
from audit.policy import Policy, load_policy, policy_beside
from audit.problems import ROW, InputError, data_quality_frame
from audit.ranking import empty_exceptions, exception_ids, rank, typed_exceptions
from audit.registry import RegistryError, analysis_classes, detector_classes
from audit.result import RunResult
from audit.validation import AuditTables, validate

# progress(step, done, total): the CLI draws bars with it; the library stays silent.
Progress = Callable[[str, int, int], None]
LIBRARIES = ("pandas", "numpy", "ibis-framework", "duckdb", "pyspark", "pandera", "pyod", "networkx",
             "rapidfuzz", "scikit-learn")


def tool_version() -> str:
    try:
        return version("sales-audit")
    except PackageNotFoundError:
        return "0+unknown"


def _library_versions() -> dict[str, str]:
    found = {}
    for name in LIBRARIES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _input_manifest(tables: AuditTables) -> list[dict]:
    rows_used = {name: tables.rows(name) for name in tables.frames}
    return [{"table": name, "origin": src.origin, "sha256": src.sha256, "rows_read": src.rows,
             "rows_used": rows_used.get(name, 0)} for name, src in sorted(tables.sources.items())]


def _run_id(inputs: list[dict], policy: Policy, period: str | None, detectors: list[str]) -> str:
    # Content-derived, so that the same inputs and policy give byte-identical exceptions.
    # The language is presentation only: a run read in Persian is the same run as in English.
    rules = {k: v for k, v in policy.to_dict().items() if k != "language"}
    material = json.dumps({"inputs": [(i["table"], i["sha256"]) for i in inputs], "policy": rules,
                           "period": period, "tool": tool_version(), "detectors": detectors}, sort_keys=True)
    return hashlib.sha256(material.encode()).hexdigest()[:12]


_PREVIOUS_TEXT = ("exception_id", "entity_id", "period", "customer_id", "salesperson_id", "run_id")


def _read_previous(previous: str | Path | None) -> pd.DataFrame | None:
    if previous is None:
        return None
    folder = Path(previous)
    if not folder.is_dir():
        raise FileNotFoundError(f"--previous {folder} is not a folder: pass an earlier run's output folder")
    for name in ("exceptions.parquet", "exceptions.csv"):
        path = folder / name
        if path.is_file():
            try:
                frame = (pd.read_parquet(path) if name.endswith("parquet")
                         else restore(pd.read_csv(path, dtype={c: str for c in _PREVIOUS_TEXT})))
            except Exception as exc:  # pyarrow, the CSV parser and the OS each raise their own kinds
                raise ValueError(f"--previous: {path} cannot be read ({type(exc).__name__}: {exc}); pass an "
                                 "earlier run's output folder with its exceptions file intact") from exc
            missing = [c for c in ("exception_id", "period") if c not in frame.columns]
            if missing:
                raise ValueError(f"--previous: {path} has no {' or '.join(missing)} column, so it is not an "
                                 "exceptions file written by `audit run`; pass an earlier run's output folder")
            return frame_from_text(frame, str(path))
    raise FileNotFoundError(f"no exceptions.parquet or exceptions.csv in {folder}: pass an earlier run's folder")


def _read_suppressions(path: str | Path | None) -> pd.DataFrame:
    """exception_id, reason, suppressed_by of a --suppressions CSV (reason and author kept as given)."""
    columns = ["exception_id", "reason", "suppressed_by"]
    if path is None:
        return pd.DataFrame(columns=columns)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    if "exception_id" not in frame.columns:
        raise ValueError(f"{path} needs an exception_id column (and preferably reason, suppressed_by)")
    frame = frame.reindex(columns=columns).dropna(subset=["exception_id"])
    return frame.drop_duplicates("exception_id", keep="last").reset_index(drop=True)


class UnknownComponentError(ValueError):
    """``--detector`` named a code or pattern that no registered component has."""


def _closest(word: str, names: dict[str, str], limit: int = 3) -> list[str]:
    """The ``limit`` names most like ``word`` (case-insensitive); ``names`` maps lower case to shown form."""
    from rapidfuzz import fuzz, process

    matches = process.extract(word.lower(), list(names), scorer=fuzz.WRatio, limit=limit * 3)
    return list(dict.fromkeys(names[m[0]] for m in matches))[:limit]


def resolve_selection(select: list[str], classes: dict[str, type]) -> list[str]:
    """Codes of the components named in ``select`` by code, pattern or class name (any case); an unknown
    name raises :class:`UnknownComponentError` naming the closest detectors."""
    names: dict[str, set[str]] = {}
    for code, cls in classes.items():
        for name in (code, getattr(cls, "pattern", ""), cls.__name__):
            if name:
                names.setdefault(str(name).casefold(), set()).add(code)
    codes, unknown = [], []
    for word in select:
        found = names.get(word.strip().casefold())
        if found is None:
            unknown.append(word)
        codes.extend(sorted((found or set()) - set(codes)))
    if unknown:
        shown = {name: f"{code} ({getattr(classes[code], 'pattern', '') or 'analysis'})"
                 for name, found in names.items() for code in sorted(found)[:1]}
        raise UnknownComponentError("; ".join(
            f"no detector {word!r}; the closest: {', '.join(_closest(word, shown))}" for word in unknown)
            + " (`audit detectors` lists them all)")
    return codes


def _timed(status: dict, work, raise_errors: bool = False) -> tuple[object, dict]:
    started = time.perf_counter()
    try:
        output = work()
    except DetectorInputError as exc:
        return None, {**status, "status": "not run", "reason": str(exc), "findings": 0, "seconds": 0.0}
    except Exception as exc:  # one broken detector must not lose the others' findings
        if raise_errors:
            raise
        return None, {**status, "status": "failed", "reason": f"{type(exc).__name__}: {exc}", "findings": 0,
                      "seconds": round(time.perf_counter() - started, 3)}
    return output, {**status, "status": "ran", "reason": "", "seconds": round(time.perf_counter() - started, 3)}


def _dependencies(classes: dict[str, type]) -> dict[str, tuple[str, ...]]:
    """Each component's declared inputs among the registered components (analyses and detectors)."""
    detectors = [c for c in classes.values() if issubclass(c, Detector)]
    deps = {}
    for code, cls in classes.items():
        wanted = tuple(cls.reads_analyses) + tuple(cls.upstream_detectors(detectors))
        unknown = [d for d in wanted if d not in classes]
        if unknown:
            raise RegistryError(f"{code} reads {', '.join(unknown)}, which no registered component is")
        deps[code] = tuple(dict.fromkeys(d for d in wanted if d != code))
    return deps


def plan(select: list[str] | None = None, extra: tuple[type, ...] = ()) -> list[type]:
    """The components to run, in an order where each comes after everything it reads (``graphlib``).

    ``select`` names components by code, pattern or class name (case-insensitive); the plan then holds
    them and what they read, nothing else. Unknown names raise :class:`UnknownComponentError` with the closest codes.
    ``extra`` adds classes that are not registered (a plug-in author checking their own detector).
    """
    classes = {c.code: c for c in (*analysis_classes(), *detector_classes(), *extra)}
    deps = _dependencies(classes)
    if select:
        wanted, stack = set(), resolve_selection(select, classes)
        while stack:  # the selected components and, transitively, what they read
            code = stack.pop()
            if code not in wanted:
                wanted.add(code)
                stack.extend(deps[code])
    else:
        wanted = set(classes)
    sorter = graphlib.TopologicalSorter({code: [d for d in deps[code] if d in wanted] for code in wanted})
    sorter.prepare()  # raises graphlib.CycleError naming the cycle
    order, ready = [], set()
    while sorter.is_active():
        ready.update(sorter.get_ready())
        # One at a time, so that what an analysis produced is read soon after it is made and can be released
        # (see ``_release_after``): first what reads an analysis already made, then the detectors that read
        # none, and a new analysis only when nothing else can run; by code within each, so the order repeats.
        code = min(ready, key=lambda code: (_schedule_rank(classes[code]), code))
        ready.discard(code)
        order.append(classes[code])
        sorter.done(code)
    return order


def _release(outputs: dict[str, dict[str, object]], codes) -> None:
    for code in codes:
        if code in outputs:
            outputs[code] = {name: value for name, value in outputs[code].items() if isinstance(value, pd.DataFrame)}


def _schedule_rank(cls: type) -> int:
    if cls.reads_analyses:
        return 0
    return 1 if issubclass(cls, Detector) else 2


def _release_after(steps: list[type]) -> dict[int, list[str]]:
    """For each step, the analyses whose last reader it is: after it ran, their outputs that are not tables
    (the receivables ledger, the link inputs) are released; tables stay for the reports. An analysis that
    nothing in the plan reads keeps everything (it was asked for itself)."""
    last: dict[str, int] = {}
    for index, cls in enumerate(steps):
        for code in cls.reads_analyses:
            last[code] = index
    after: dict[int, list[str]] = {}
    for code, index in last.items():
        after.setdefault(index, []).append(code)
    return after


def _coverage(status: dict, instance) -> dict:
    """What one component could judge in this run: checked, partly checked (which traces were unknown), or
    not checked (and why)."""
    unknown = list(getattr(instance, "unknown_traces_", []) or []) if instance is not None else []
    eligible = getattr(instance, "eligible_records_", None) if instance is not None else None
    if status["status"] != "ran":
        coverage = "not checked"
    elif eligible is not None and int(eligible) == 0:
        coverage = "not checked"
        status = {**status, "reason": "; ".join(r for r in ("ran over 0 eligible records", status["reason"]) if r)}
    elif unknown:
        coverage = "partly checked"
    else:
        coverage = "checked"
    return {**status, "coverage": coverage, "unknown": "; ".join(unknown),
            "eligible_records": None if eligible is None else int(eligible)}


def run_detectors(data: AuditData, select: list[str] | None = None, progress: Progress | None = None, *,
                  extra: tuple[type, ...] = (), raise_errors: bool = False,
                  workers: int | None = None, worker: lanes.Worker | None = None
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run the planned components (:func:`plan`) once each, every one after what it reads; return
    (findings, one status row per component, with its coverage). Each component sees only what it
    declared (``data.scoped``). ``raise_errors`` lets a component's exception through (tests).

    ``workers``: processes that share the components (``audit.lanes``; None: as ``lanes.worker_count``
    decides from the ledger's size and the machine). Groups of components that read each other run in one
    process; the findings, their order and the statuses are those of one process. ``worker`` is a second
    process started before the data was read (``lanes.early_worker``): used if the run shares its components,
    else stopped."""
    steps = plan(select, extra)
    detector_steps = [c for c in steps if issubclass(c, Detector)]
    state = RunState()
    count = lanes.worker_count(data, steps, extra, workers)
    if count == 1 and worker is not None:
        worker.stop()
    with long_lived_frozen():  # the collector walks only what the components make
        if count > 1:
            lanes.run_in_lanes(data, steps, detector_steps, state, count, progress, raise_errors, worker)
        else:
            run_steps(data, steps, detector_steps, state, progress, raise_errors)
    if progress:
        progress(t("detectors done"), len(steps), len(steps))
    order = [c.code for c in steps]
    outputs = {code: state.outputs[code] for code in order if code in state.outputs}
    data.outputs_by_component = outputs  # every analysis' outputs, tables or not (the common checks read them)
    # the reports read the analyses' tables; shared facts that are not tables (the receivables ledger) end here
    data.views = MappingProxyType({name: value for named in outputs.values() for name, value in named.items()
                                   if isinstance(value, pd.DataFrame)})
    found = [state.found_by[code] for code in order if code in state.found_by and len(state.found_by[code])]
    combined = pd.concat(found, ignore_index=True).drop(columns="exception_id") if found else pd.DataFrame()
    frame = pd.DataFrame([state.statuses[code] for code in order if code in state.statuses])
    if "eligible_records" in frame:  # whole numbers, blank where the component did not say
        frame["eligible_records"] = frame["eligible_records"].astype("Int64")
    return combined, frame


class RunState:
    """What the components of a run made so far: analysis code -> its named outputs, detector code -> its
    findings (with ids), code -> its status row."""

    def __init__(self):
        self.outputs: dict[str, dict[str, object]] = {}
        self.found_by: dict[str, pd.DataFrame] = {}
        self.statuses: dict[str, dict] = {}

    def update(self, other: RunState) -> None:
        self.outputs.update(other.outputs)
        self.found_by.update(other.found_by)
        self.statuses.update(other.statuses)


def run_steps(data: AuditData, steps: list[type], detector_steps: list[type], state: RunState,
              progress: Progress | None = None, raise_errors: bool = False, done: int = 0,
              total: int | None = None, gate=None) -> None:
    """Run ``steps`` in their order into ``state`` (which holds what they read from earlier steps);
    ``detector_steps`` are the run's detectors (a reader of findings reads those among them). ``done`` and
    ``total`` place these steps in the run's progress. ``gate`` (``audit.lanes.MemoryGate``) is asked before
    each component that runs, when another process shares the run's memory."""
    total = len(steps) if total is None else total
    outputs, found_by, statuses = state.outputs, state.found_by, state.statuses
    release = _release_after(steps)
    for index, cls in enumerate(steps):
        _release(outputs, release.get(index - 1, ()))  # the previous step was their last reader, run or not
        is_detector = issubclass(cls, Detector)
        if progress:
            progress(t("detector %(code)s", code=cls.code) if is_detector else t("analysis %(code)s", code=cls.code),
                     done + index, total)
        status = {"kind": "detector" if is_detector else "analysis", "detector": cls.code,
                  "pattern": getattr(cls, "pattern", ""), "family": getattr(cls, "family", "analysis"),
                  "version": getattr(cls, "version", "1.0")}
        missing = cls.missing_inputs(data)
        blank = [] if missing else cls.blank_inputs(data)
        lacking = [f"{code} ({statuses[code]['status']}: {statuses[code]['reason']})"
                   for code in cls.reads_analyses if code not in outputs]
        if missing or blank or lacking:
            reason = "; ".join(part for part in (
                f"needs {', '.join(missing)}" if missing else "",
                f"needs values in {', '.join(blank)}" if blank else "",
                f"needs {', '.join(lacking)}" if lacking else "") if part)
            statuses[cls.code] = _coverage({**status, "status": "not run", "reason": reason, "findings": 0,
                                            "seconds": 0.0}, None)
            continue
        upstream = cls.upstream_detectors(detector_steps)
        earlier = [found_by[code] for code in upstream if code in found_by and len(found_by[code])]
        scoped = data.scoped(
            views={name: value for code in cls.reads_analyses for name, value in outputs[code].items()},
            findings=pd.concat(earlier, ignore_index=True) if earlier else pd.DataFrame())
        instance = cls.from_policy(data.policy)
        if gate is not None:
            gate.enter(cls.code)
        try:
            if is_detector:
                found, status = _timed(status, lambda instance=instance, scoped=scoped: instance.run(scoped),
                                       raise_errors)
                if found is not None:
                    found_by[cls.code] = _with_ids(found)
            else:
                found, status = _timed(status, lambda instance=instance, scoped=scoped: instance.compute(scoped),
                                       raise_errors)
                if found is not None:
                    outputs[cls.code] = dict(found)
            if status["status"] == "ran" and getattr(instance, "note_", ""):
                status["reason"] = instance.note_  # e.g. too little data to say what is usual
            not_run = [code for code in upstream if code in statuses and statuses[code]["status"] != "ran"]
            if not_run and status["status"] == "ran":
                traces = list(getattr(instance, "unknown_traces_", []) or [])
                instance.unknown_traces_ = [*traces, f"findings of {', '.join(not_run)} (not run)"]
            data.tables.release_frames()  # staged tables read back for this component
            release_unused()  # the component's temporaries, before the next one's peak lands on top
        finally:
            if gate is not None:
                gate.leave()  # after the release (what the component held is handed back), or on an error
        count = len(found) if is_detector and found is not None else 0
        statuses[cls.code] = _coverage({**status, "findings": count}, instance)
        judged = [code for code in upstream if code in statuses and statuses[code]["coverage"] != "not checked"]
        if cls.reads_only_findings and upstream and not judged and statuses[cls.code]["coverage"] != "not checked":
            # a reading of other detectors' findings checks nothing when none of them checked anything
            reason = f"the findings it reads ({', '.join(upstream)}) were not checked"
            statuses[cls.code] = {**statuses[cls.code], "coverage": "not checked",
                                  "reason": "; ".join(r for r in (reason, statuses[cls.code]["reason"]) if r)}
    _release(outputs, release.get(len(steps) - 1, ()))


# The shapes of the reasons the runner writes in the detector and coverage tables (English in the data files),
# and how the report words them in its language.
_REASON_FORMS = (
    (re.compile(r"^needs values in (.+)$", re.S), N_("needs values in %(what)s")),
    (re.compile(r"^needs (.+)$", re.S), N_("needs %(what)s")),
    (re.compile(r"^findings of (.+) \(not run\)$", re.S), N_("findings of %(what)s (not run)")),
    (re.compile(r"^ran over 0 eligible records$"), N_("ran over 0 eligible records")),
)
_REASON_SOURCE = re.compile(r"^([A-Z]{2,4}-[A-Z0-9]{1,3}): (.*)$", re.S)


def reason_words(text) -> str:
    """A reason of the detector or coverage table (``needs invoices.x; ran over 0 eligible records``, or
    ``CODE: reason; ...``) in the active language: the runner's own shapes are translated, a detector's own
    note is left as it is. English: the text itself."""
    if not isinstance(text, str) or not text:
        return text
    parts = []
    for part in text.split("; "):
        source = _REASON_SOURCE.match(part)
        prefix, body = (f"{source.group(1)}: ", source.group(2)) if source else ("", part)
        for form, message in _REASON_FORMS:
            match = form.match(body)
            if match:
                body = t(message, what=match.group(1)) if match.groups() else t(message)
                break
        parts.append(prefix + body)
    return "; ".join(parts)


def pattern_coverage(statuses: pd.DataFrame) -> list[dict]:
    """Per pattern of the contract that a detector of the run covers: checked, partly checked (which traces
    were unknown) or not checked in this run, and why."""
    rows = []
    if statuses.empty or "coverage" not in statuses:
        return rows
    detectors = statuses[statuses["kind"] == "detector"]
    for name, pattern in PATTERN_TABLE.items():
        own = detectors[detectors["pattern"] == name]
        if own.empty:
            continue
        states = set(own["coverage"])
        if states == {"checked"}:
            coverage = "checked"
        elif states & {"checked", "partly checked"}:
            coverage = "partly checked"
        else:
            coverage = "not checked"
        why = [f"{row.detector}: {row.reason}" for row in own.itertuples()
               if row.coverage != "checked" and row.reason]
        unknown = [f"{row.detector}: {row.unknown}" for row in own.itertuples() if row.unknown]
        rows.append({"pattern": name, "label": pattern.label, "family": pattern.family, "coverage": coverage,
                     "detectors": ", ".join(own["detector"]), "unknown": "; ".join(unknown),
                     "why": "; ".join(why)})
    return rows


def _with_ids(findings: pd.DataFrame) -> pd.DataFrame:
    return findings.assign(exception_id=exception_ids(findings)) if len(findings) else findings


def _review_columns(exceptions: pd.DataFrame, suppressed, decisions: pd.DataFrame | None) -> pd.DataFrame:
    """Status and the added columns decision, decided_by, reason from the suppressions file and the case
    store's latest decision per finding (the case store wins where both speak)."""
    if isinstance(suppressed, set | frozenset | list | tuple):
        suppressed = pd.DataFrame({"exception_id": sorted(suppressed)})
    exceptions = exceptions.assign(decision=None, decided_by=None, reason=None)
    if suppressed is not None and len(suppressed):
        rows = suppressed.set_index("exception_id")
        hit = exceptions["exception_id"].isin(rows.index)
        ids = exceptions.loc[hit, "exception_id"]
        exceptions.loc[hit, "status"] = "suppressed"
        exceptions.loc[hit, "decision"] = "suppressed"
        for column, source in (("reason", "reason"), ("decided_by", "suppressed_by")):
            if source in rows:
                exceptions.loc[hit, column] = ids.map(rows[source]).to_numpy()
    if decisions is not None and len(decisions):
        rows = decisions.set_index("exception_id")
        hit = exceptions["exception_id"].isin(rows.index)
        ids = exceptions.loc[hit, "exception_id"]
        decision = ids.map(rows["decision"])
        exceptions.loc[hit, "decision"] = decision.to_numpy()
        exceptions.loc[hit, "decided_by"] = ids.map(rows["decided_by"]).to_numpy()
        exceptions.loc[hit, "reason"] = ids.map(rows["reason"]).to_numpy()
        hit_index = ids.index
        exceptions.loc[hit_index[(decision == "confirmed").to_numpy()], "status"] = "confirmed"
        exceptions.loc[hit_index[decision.isin(SUPPRESSING_DECISIONS).to_numpy()], "status"] = "suppressed"
    return exceptions


def finalise(findings: pd.DataFrame, run_id: str, period: str | None, previous: pd.DataFrame | None,
             suppressed, decisions: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Ids, period filter, status, rank: the exceptions table and the findings resolved since last run.

    Ids are given over every finding before the period filter, so a finding's id does not depend on
    ``--period``. A previous finding is ``repeat`` when listed again, and ``resolved`` when no detector
    finds it any more, whatever its period: one of an earlier month that is still found is neither.
    ``suppressed`` is the --suppressions table (or a set of ids); ``decisions`` the case store's latest
    decision per finding (:func:`audit.decisions.read_decisions`).
    """
    found_ids: set[str] = set()
    found_keys: set[tuple] = set()
    if findings.empty:
        exceptions = empty_exceptions()
    else:
        exceptions = findings.copy()
        exceptions["exception_id"] = exception_ids(exceptions)
        found_ids, found_keys = set(exceptions["exception_id"]), set(_finding_keys(exceptions))
        if period:
            exceptions = exceptions[exceptions["period"] == period]
        exceptions["run_id"] = run_id
        seen_ids = set(previous["exception_id"]) if previous is not None else set()
        # runs made before ids left out the period are matched by detector, entity and period
        seen_keys = set(_finding_keys(previous)) if previous is not None and len(previous) else set()
        repeat = exceptions["exception_id"].isin(seen_ids) | pd.Series(
            [k in seen_keys for k in _finding_keys(exceptions)], index=exceptions.index, dtype=bool)
        exceptions["status"] = repeat.map({True: "repeat", False: "new"})
        exceptions = _review_columns(exceptions, suppressed, decisions)
        exceptions = typed_exceptions(rank(exceptions))
    resolved = pd.DataFrame(columns=list(EXCEPTION_COLUMNS))
    if previous is not None and len(previous):
        still = previous["exception_id"].isin(found_ids) | pd.Series(
            [k in found_keys for k in _finding_keys(previous)], index=previous.index, dtype=bool)
        resolved = previous[~still].reset_index(drop=True)
    return exceptions.reset_index(drop=True), resolved


def _finding_keys(frame: pd.DataFrame) -> list[tuple]:
    columns = ["detector", "entity_type", "entity_id", "period"]
    if not set(columns) <= set(frame.columns):
        return [None] * len(frame)
    values = frame[columns].astype("object").where(frame[columns].notna(), "")
    return list(values.itertuples(index=False, name=None))


def run(data, policy: Policy | str | Path | None = None, *, period: str | None = None, engine: str = "duckdb",
        detectors: list[str] | None = None, previous: str | Path | None = None,
        suppressions: str | Path | None = None, strict: bool = False,
        progress: Progress | None = None, cases: str | None = None, language: str | None = None,
        engine_memory: str | None = None, workers: int | None = None,
        worker: lanes.Worker | None = None) -> RunResult:
    """Audit ``data`` (a folder, workbook, .duckdb file or database URL) under ``policy`` (default: the
    data folder's ``policy.toml`` if it has one, else the contract's defaults).

    ``language`` (``en``, ``fa``, ``zh``) overrides the policy's ``language``: the reports' language, active
    while the detectors word their findings.

    ``engine_memory`` is DuckDB's memory limit (e.g. "6GB"; default: the ``SALES_AUDIT_ENGINE_MEMORY``
    environment variable, else a quarter of the machine up to 4 GB); beyond it DuckDB spills to disk.

    ``workers`` is how many processes share the components (1 or 2; default: ``audit.lanes.worker_count``
    decides from the ledger's size and the machine's cores); the findings are the same either way.

    ``worker`` is a second process the caller started early (``audit.lanes.early_worker``, before its own
    imports); the run uses or stops it. Without it, the run starts one itself when the ledger is large.

    ``cases`` is a review desk's case store (database URL): its decisions mark findings ``suppressed``
    (false positive, explained) or ``confirmed``, with the decision, its author and comment.

    Raises :class:`~audit.problems.InputError` when a required table or column is unusable (or, with
    ``strict``, when any row had to be set aside): no detector runs on such data.
    """
    started = _now()
    if period is not None:
        pd.Period(period, "M")  # raises a clear ValueError for a malformed YYYY-MM
    lanes.asked_workers(workers)  # a bad --workers or SALES_AUDIT_WORKERS is said before the data is read
    if policy is None:
        policy = policy_beside(data)  # like the CLI: the data folder's own policy.toml, else the defaults
    policy = policy if isinstance(policy, Policy) else load_policy(policy)
    if language is not None:
        policy = policy.model_copy(update={"language": check_language(language)})
    if progress:
        with use_language(policy.language):
            progress(t("reading and checking the data"), 0, 1)
    # a second process for a large ledger starts now: its imports overlap the reading of the data
    if worker is None:
        worker = lanes.early_worker(data, engine, workers)
    try:
        # One table at a time: each file read when its turn comes, checked, and staged as soon as it is final
        # (the ledger goes to the engine; Python reads a table back only while a component needs it).
        tables = validate(load(data, lazy=True), policy, consume=True, stage=True, engine_memory=engine_memory)
        if tables.fatal or (strict and any(p.severity == ROW for p in tables.problems)):
            raise InputError(tables.problems)
        previous_exceptions = _read_previous(previous)
        suppressed = _read_suppressions(suppressions)
        history = read_decisions(cases) if cases else None
        audit_data = AuditData(tables, policy, Engine(engine, engine_memory), period)
        try:
            # wording functions translate into the run's language and show dates in its calendar
            with presentation(policy.language, policy.calendar):
                findings, statuses = run_detectors(audit_data, detectors, progress, workers=workers, worker=worker)
        finally:
            audit_data.engine.close()
    finally:
        if worker is not None:
            worker.stop()  # unused, done (closing its engine), or left behind by a failure
    inputs = _input_manifest(tables)
    run_id = _run_id(inputs, policy, period, sorted(statuses["detector"]) if len(statuses) else [])
    exceptions, resolved = finalise(findings, run_id, period, previous_exceptions, suppressed,
                                    latest_decisions(history) if history is not None else None)
    manifest = {
        "run_id": run_id, "tool": "sales-audit", "tool_version": tool_version(), "engine": engine,
        "engine_memory_limit": audit_data.engine.memory_limit,
        "data": _data_label(data), "period": period, "inputs": inputs,
        "policy": policy.to_dict(), "detectors": _json_records(statuses),
        "libraries": _library_versions(), "python": platform.python_version(), "user": _user(),
        "host": platform.node(), "started_at": started, "finished_at": _now(),
        "coverage": pattern_coverage(statuses),
        "findings": len(exceptions), "data_quality_rows": len(tables.problems),
        "suppressions": _suppressions_manifest(suppressions, suppressed, exceptions),
        "cases": _cases_manifest(cases, latest_decisions(history) if history is not None else None, exceptions),
    }
    return RunResult(run_id, exceptions, data_quality_frame(tables.problems), statuses, manifest, policy,
                     resolved, tables, audit_data.views,
                     decisions=_decisions_on(history, exceptions) if history is not None else None)


def _suppressions_manifest(path, suppressed: pd.DataFrame, exceptions: pd.DataFrame) -> dict | None:
    if path is None:
        return None
    return {"file": str(Path(path).resolve()), "sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest(),
            "rows": len(suppressed), "applied": int(exceptions["exception_id"].isin(suppressed["exception_id"]).sum())}


def _decisions_on(history: pd.DataFrame, exceptions: pd.DataFrame) -> pd.DataFrame:
    return history[history["exception_id"].isin(exceptions["exception_id"])].reset_index(drop=True)


def _cases_manifest(cases: str | None, decisions: pd.DataFrame | None, exceptions: pd.DataFrame) -> dict | None:
    if not cases:
        return None
    closing = decisions[decisions["decision"].isin(CLOSING_DECISIONS)] if decisions is not None else None
    applied = exceptions["exception_id"].isin(closing["exception_id"]) if closing is not None else []
    return {"store": redact_url(cases) if "://" in cases else str(Path(cases).resolve()),
            "decisions_read": 0 if decisions is None else len(decisions), "decisions_applied": int(sum(applied))}


def _json_records(frame: pd.DataFrame) -> list[dict]:
    """The rows as plain JSON values: blanks (NaN, <NA>) as null, numpy numbers as Python numbers."""
    return json.loads(frame.to_json(orient="records")) if len(frame) else []


def _data_label(data) -> str:
    text = str(data)
    return redact_url(text) if "://" in text else str(Path(text).resolve())


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
