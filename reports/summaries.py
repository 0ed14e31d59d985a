"""Roll-ups of a run's exceptions for the reports and notebooks: by pattern, salesperson, customer, month.

Money at risk is the sum of ``risk_amount`` over findings that are not suppressed (a reviewed and
accepted finding is no longer at risk); counts include every status so nothing disappears. The roll-ups
by pattern, salesperson, customer and month say how much the findings put at risk, not a netted exposure.
The headline (:func:`headline`) counts each record once: salesperson roll-ups are shown beside it, and a
customer's distress episode (its early warning and its alert) counts once, at its largest finding.
:func:`worklist` is the first screen of the report and the workbook: the findings to act on first.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from audit.contract import EXCEPTION_STATUSES, pattern_label
from audit.result import RunResult
from audit.runner import pattern_coverage


def _frame(result: RunResult, table: str) -> pd.DataFrame | None:
    frames = getattr(result.tables, "frames", None) or {}
    return frames.get(table)


def _at_risk(exceptions: pd.DataFrame) -> pd.Series:
    return exceptions["risk_amount"].where(exceptions["status"] != "suppressed", 0.0).fillna(0.0)


def salesperson_info(result: RunResult) -> pd.DataFrame:
    """Salespeople by id with name and region ('' when the ledger has none)."""
    frame = _frame(result, "salespeople")
    if frame is None or frame.empty:
        return pd.DataFrame(columns=["name", "region"], index=pd.Index([], name="salesperson_id"))
    info = frame.drop_duplicates("salesperson_id").set_index("salesperson_id")
    return pd.DataFrame({"name": info["name"].fillna("").astype(str),
                         "region": info["region"].fillna("").astype(str) if "region" in info else ""},
                        index=info.index)


def customer_info(result: RunResult) -> pd.DataFrame:
    """Customers by id with name, class, city, assigned salesperson and credit limit when known."""
    frame = _frame(result, "customers")
    columns = ["name", "customer_class", "city", "assigned_salesperson_id", "credit_limit", "payment_terms_days"]
    if frame is None or frame.empty:
        return pd.DataFrame(columns=columns, index=pd.Index([], name="customer_id"))
    info = frame.drop_duplicates("customer_id").set_index("customer_id")
    return pd.DataFrame({c: info[c] if c in info else None for c in columns}, index=info.index)


def _status_columns(exceptions: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    counts = pd.crosstab([exceptions[k] for k in keys], exceptions["status"])
    return counts.reindex(columns=list(EXCEPTION_STATUSES), fill_value=0)


def by_pattern(result: RunResult) -> pd.DataFrame:
    """pattern, findings, risk_amount (not suppressed), new, repeat, suppressed; most money first."""
    exceptions = result.exceptions
    columns = ["pattern", "findings", "risk_amount", *EXCEPTION_STATUSES]
    if exceptions.empty:
        return pd.DataFrame(columns=columns)
    grouped = (exceptions.assign(_risk=_at_risk(exceptions)).groupby("pattern")
               .agg(findings=("exception_id", "size"), risk_amount=("_risk", "sum")))
    table = grouped.join(_status_columns(exceptions, ["pattern"])).reset_index()
    return table.sort_values(["risk_amount", "findings", "pattern"], ascending=[False, False, True],
                             ignore_index=True)[columns]


def by_salesperson(result: RunResult) -> pd.DataFrame:
    """salesperson_id, name, region, findings, risk_amount, patterns, new/repeat/suppressed."""
    exceptions = result.exceptions[result.exceptions["salesperson_id"].notna()]
    columns = ["salesperson_id", "name", "region", "findings", "risk_amount", "patterns", *EXCEPTION_STATUSES]
    if exceptions.empty:
        return pd.DataFrame(columns=columns)
    grouped = (exceptions.assign(_risk=_at_risk(exceptions)).groupby("salesperson_id")
               .agg(findings=("exception_id", "size"), risk_amount=("_risk", "sum"),
                    patterns=("pattern", lambda p: ", ".join(sorted(set(p))))))
    table = grouped.join(_status_columns(exceptions, ["salesperson_id"])).join(salesperson_info(result))
    table = table.reset_index().fillna({"name": "", "region": ""})
    return table.sort_values(["risk_amount", "findings", "salesperson_id"], ascending=[False, False, True],
                             ignore_index=True)[columns]


def by_customer(result: RunResult) -> pd.DataFrame:
    """customer_id, name, assigned salesperson, findings, risk_amount, patterns, statuses."""
    exceptions = result.exceptions[result.exceptions["customer_id"].notna()]
    columns = ["customer_id", "name", "assigned_salesperson_id", "findings", "risk_amount", "patterns",
               *EXCEPTION_STATUSES]
    if exceptions.empty:
        return pd.DataFrame(columns=columns)
    grouped = (exceptions.assign(_risk=_at_risk(exceptions)).groupby("customer_id")
               .agg(findings=("exception_id", "size"), risk_amount=("_risk", "sum"),
                    patterns=("pattern", lambda p: ", ".join(sorted(set(p))))))
    info = customer_info(result)[["name", "assigned_salesperson_id"]]
    table = grouped.join(_status_columns(exceptions, ["customer_id"])).join(info).reset_index()
    table["name"] = table["name"].fillna("")
    return table.sort_values(["risk_amount", "findings", "customer_id"], ascending=[False, False, True],
                             ignore_index=True)[columns]


def by_period(result: RunResult) -> pd.DataFrame:
    """period, pattern, findings, risk_amount: the month-by-month trend (findings without a period: '')."""
    exceptions = result.exceptions
    if exceptions.empty:
        return pd.DataFrame(columns=["period", "pattern", "findings", "risk_amount"])
    return (exceptions.assign(_risk=_at_risk(exceptions), period=exceptions["period"].fillna(""))
            .groupby(["period", "pattern"], as_index=False)
            .agg(findings=("exception_id", "size"), risk_amount=("_risk", "sum"))
            .sort_values(["period", "pattern"], ignore_index=True))


def status_counts(result: RunResult) -> dict[str, int]:
    """Findings per status (every status present, zero when none) plus ``resolved``."""
    counts = result.exceptions["status"].value_counts()
    figures = {status: int(counts.get(status, 0)) for status in EXCEPTION_STATUSES}
    figures["resolved"] = len(result.resolved)
    return figures


def money_at_risk(result: RunResult) -> float:
    """The plain sum over findings not suppressed (roll-ups and repeated warnings included); the report's
    headline is :func:`headline`."""
    return float(_at_risk(result.exceptions).sum()) if len(result.exceptions) else 0.0


# Detectors whose findings add up other findings (their money is already in those findings): SPR-01 sums a
# salesperson's fraud findings, DST-02 a salesperson's portfolio of distressed customers.
ROLLUP_DETECTORS = frozenset({"SPR-01", "DST-02"})
# Patterns whose findings on one customer are stages of one episode (early warning, alert): counted once.
EPISODE_PATTERNS = frozenset({"customer_distress"})


@dataclass(frozen=True)
class Headline:
    """The money at risk of a run counted once per record.

    ``money_at_risk``: findings not suppressed, less the roll-ups, with each customer's episode counted at
    its largest finding; ``rollups``: what the roll-up findings sum (shown beside, never added);
    ``episode_repeats``: what the other stages of episodes would have added; ``findings_counted``: how many
    findings the headline sums."""

    money_at_risk: float
    rollups: float
    rollup_findings: int
    episode_repeats: float
    findings_counted: int


def _is_rollup(exceptions: pd.DataFrame) -> pd.Series:
    return exceptions["detector"].isin(ROLLUP_DETECTORS)


def _episode_key(exceptions: pd.DataFrame) -> pd.Series:
    """pattern|customer for the findings that are a stage of a customer's episode, else the finding's id."""
    staged = exceptions["pattern"].isin(EPISODE_PATTERNS) & (exceptions["entity_type"] == "customer") \
        & exceptions["customer_id"].notna()
    key = exceptions["pattern"].astype(str) + "|" + exceptions["customer_id"].astype(str)
    return key.where(staged, "id|" + exceptions["exception_id"].astype(str))


def headline(exceptions: pd.DataFrame) -> Headline:
    """The headline money at risk of ``exceptions`` (a run's findings), each record counted once."""
    if exceptions.empty:
        return Headline(0.0, 0.0, 0, 0.0, 0)
    live = exceptions[exceptions["status"] != "suppressed"]
    risk = live["risk_amount"].astype(float).fillna(0.0)
    rollup = _is_rollup(live)
    counted = live[~rollup].assign(_risk=risk[~rollup], _key=_episode_key(live[~rollup]))
    largest = counted.groupby("_key", sort=False)["_risk"].max()
    return Headline(money_at_risk=float(largest.sum()), rollups=float(risk[rollup].sum()),
                    rollup_findings=int(rollup.sum()),
                    episode_repeats=float(counted["_risk"].sum() - largest.sum()),
                    findings_counted=len(largest))


WORKLIST_SIZE = 20
WORKLIST_COLUMNS = ["rank", "exception_id", "pattern", "what", "salesperson_id", "salesperson", "customer_id",
                    "customer", "risk_amount", "check_next", "rollup"]


def _blank(value) -> bool:
    return value is None or (not isinstance(value, str) and pd.isna(value)) or not str(value).strip()


def check_next(sentence, title) -> str:
    """What to check next for a finding: its ``check_next`` column (written by the pattern's wording), else
    its title (a run written before the column existed)."""
    if not _blank(sentence):
        return str(sentence).strip()
    return "" if _blank(title) else str(title)


def worklist(result: RunResult, size: int = WORKLIST_SIZE) -> pd.DataFrame:
    """The findings to act on first, one line each: the top ``size`` of the ranked list that are not
    suppressed, a customer's episode once (its highest-ranked stage). Columns: rank, exception_id, pattern,
    what (the pattern's human name), salesperson_id, salesperson (name), customer_id, customer (name),
    risk_amount, check_next, rollup (True for a roll-up finding, whose money is not added to the headline)."""
    exceptions = result.exceptions
    if exceptions.empty:
        return pd.DataFrame(columns=WORKLIST_COLUMNS)
    live = exceptions[exceptions["status"] != "suppressed"].sort_values("rank", kind="mergesort")
    live = live[~_episode_key(live).duplicated()].head(size)
    people = salesperson_info(result)["name"]
    customers = customer_info(result)["name"]

    def name(names: pd.Series, key) -> str:
        value = names.get(key) if isinstance(key, str) else None
        return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)

    rows = [{"rank": int(r["rank"]), "exception_id": r["exception_id"], "pattern": r["pattern"],
             "what": pattern_label(r["pattern"]),
             "salesperson_id": r["salesperson_id"] if isinstance(r["salesperson_id"], str) else "",
             "salesperson": name(people, r["salesperson_id"]),
             "customer_id": r["customer_id"] if isinstance(r["customer_id"], str) else "",
             "customer": name(customers, r["customer_id"]),
             "risk_amount": float(r["risk_amount"]) if pd.notna(r["risk_amount"]) else 0.0,
             "check_next": check_next(r.get("check_next"), r["title"]), "rollup": r["detector"] in ROLLUP_DETECTORS}
            for r in live.to_dict(orient="records")]
    return pd.DataFrame(rows, columns=WORKLIST_COLUMNS)


def data_quality_summary(result: RunResult) -> pd.DataFrame:
    """The data-quality rows grouped: severity, table, column, problem, action, rows."""
    problems = result.data_quality
    keys = ["severity", "table", "column", "problem", "action"]
    if problems is None or problems.empty:
        return pd.DataFrame(columns=[*keys, "rows"])
    present = [k for k in keys if k in problems]
    order = {"fatal": 0, "row": 1, "warning": 2}
    table = problems[present].fillna("").groupby(present, as_index=False).size().rename(columns={"size": "rows"})
    table["_order"] = table["severity"].map(order).fillna(3) if "severity" in table else 0
    return table.sort_values(["_order", "rows"], ascending=[True, False], ignore_index=True).drop(columns="_order")


COVERAGE_COLUMNS = ["pattern", "coverage", "detectors", "unknown", "why"]


def coverage(result: RunResult) -> pd.DataFrame:
    """What the audit could and could not check, per pattern: the manifest's coverage (or, for a run read
    back without one, the same worked out from the detectors' statuses), human pattern names first."""
    rows = (result.manifest or {}).get("coverage")
    if rows is None:
        runs = result.detector_runs if result.detector_runs is not None else pd.DataFrame()
        rows = pattern_coverage(runs)
    frame = pd.DataFrame(rows, columns=["label", *COVERAGE_COLUMNS])
    order = {"not checked": 0, "partly checked": 1, "checked": 2}
    frame = frame.sort_values("coverage", key=lambda s: s.map(order), kind="mergesort")
    return frame.drop(columns="pattern").rename(columns={"label": "pattern"}).reset_index(drop=True)
