"""The run as one self-contained HTML file (``report.html``) that works offline.

plotly.js is embedded once; every chart is a JSON figure drawn when its page is first shown. The ranked
exceptions travel once as JSON and vanilla JavaScript filters, sorts and pages them (and lists each
salesperson's and customer's findings from the same rows), so 5,000 findings cost a few MB, not a
table per page. Per-entity pages exist for the salespeople and customers with findings (the
``MAX_ENTITY_PAGES`` with most money at risk of each); every other analysis table in ``result.views``
is rendered generically under its own name.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
from functools import cache
from importlib.resources import files
from pathlib import Path

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from audit.contract import PATTERN_TABLE, pattern_label
from audit.evidence import json_text
from audit.result import RunResult
from reports import summaries
from reports.chart_text import chart_text, chart_texts
from reports.network import link_graph, network_figure, node_names
from reports.timeline import EventTable, events, flagged_records

REPORT_NAME = "report.html"
MAX_ENTITY_PAGES = 300  # per entity type: the salespeople / customers with most money at risk
MAX_TABLE_ROWS = 500  # rows shown of a generic table (views, data quality, resolved); the files hold all
EVIDENCE_CHARS = 1500  # the CSV/Parquet keep the full evidence; the report shows its start
TOP_SALESPEOPLE_CHART = 20
# Columns whose values are salespeople / customers: the report links them to their pages.
REFERENCE_COLUMNS = {"salesperson_id": "salesperson", "assigned_salesperson_id": "salesperson",
                     "collected_by": "salesperson", "customer_id": "customer"}
LABELS = {"risk_amount": "money at risk", "salesperson_id": "salesperson", "customer_id": "customer",
          "assigned_salesperson_id": "assigned salesperson"}
EXCEPTION_FIELDS = ("rank", "exception_id", "status", "pattern", "detector", "score", "risk_amount",
                    "entity_type", "entity_id", "salesperson_id", "customer_id", "period", "title",
                    "explanation", "evidence", "related")


@cache
def _environment() -> Environment:
    env = Environment(loader=PackageLoader("reports", "templates"), autoescape=select_autoescape(["html", "j2"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["money"] = _money
    env.filters["count"] = lambda v: f"{int(v):,}"
    return env


@cache
def _asset(name: str) -> Markup:
    return Markup(files("reports").joinpath("templates", name).read_text(encoding="utf-8"))


@cache
def _plotly_js() -> Markup:
    from plotly.offline import get_plotlyjs

    return Markup(get_plotlyjs())


def _money(value) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return ""
    return f"{number:,.0f}" if math.isfinite(number) else ""


def _clean(value):
    """JSON-safe: NaN/NaT/None to null, numpy scalars to Python, timestamps to ISO text."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, bool | int | str):
        return value
    if hasattr(value, "item"):  # numpy scalar
        return _clean(value.item())
    if isinstance(value, pd.Timestamp | dt.date):
        return value.isoformat()
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def _script_json(value) -> Markup:
    """JSON for a <script type="application/json"> block: '<', '>' and '&' escaped so that no value from
    the ledger can close the script element."""
    text = json.dumps(_clean(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def _anchor(prefix: str, entity_id: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_-]", "_", entity_id)
    if slug != entity_id:  # two ids that slug alike must not share an anchor
        slug += "-" + hashlib.sha1(entity_id.encode()).hexdigest()[:6]
    return f"{prefix}-{slug}"


def _display(value, numeric: bool) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d") if value == value.normalize() else value.strftime("%Y-%m-%d %H:%M")
    if numeric and isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.4g}"
    if numeric and isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, dict | list):  # an analysis table's evidence (the entity links): data until written
        return json_text(value)
    return str(value)


def pattern_names(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its ``pattern`` column (and a comma-separated ``patterns`` column) in human names."""
    frame = frame.copy()
    if "pattern" in frame:
        frame["pattern"] = frame["pattern"].map(lambda p: pattern_label(p) if isinstance(p, str) and p else p)
    if "patterns" in frame:
        frame["patterns"] = frame["patterns"].map(
            lambda text: ", ".join(pattern_label(p.strip()) for p in text.split(",")) if isinstance(text, str)
            and text else text)
    return frame


def table(frame: pd.DataFrame | None, max_rows: int = MAX_TABLE_ROWS, filter_values: list | None = None) -> dict:
    """A frame as display strings: columns, rows, which columns are numeric, rows shown of total.
    ``filter_values``: per row, the value a link in the table's filter column filters on (when the shown
    text is not the value itself, e.g. a pattern's human name)."""
    if frame is None:
        frame = pd.DataFrame()
    frame = frame.reset_index(drop=True)
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
               for c in frame.columns]
    shown = frame.head(max_rows)
    rows = [[_display(v.item() if hasattr(v, "item") else v, n) for v, n in zip(row, numeric, strict=True)]
            for row in shown.itertuples(index=False, name=None)]
    return {"columns": [str(c) for c in frame.columns], "labels": [LABELS.get(str(c), str(c)) for c in frame.columns],
            "rows": rows, "numeric": numeric, "total": len(frame), "shown": len(rows),
            "filter_values": [str(v) for v in filter_values[:len(rows)]] if filter_values is not None else None}


def _bar_figure(labels: list[str], values: list[float], hover: list[str], keys: list[str], colour: str,
                height: int) -> dict:
    # Largest at the top; `customdata` carries the key the report filters on when a bar is clicked. Labels and
    # hover text are the callers' plain text, escaped here for plotly.
    return {"data": [{"type": "bar", "orientation": "h", "y": chart_texts(labels[::-1]), "x": values[::-1],
                      "customdata": keys[::-1], "hovertext": chart_texts(hover[::-1]), "hoverinfo": "text",
                      "marker": {"color": colour}}],
            "layout": {"height": height, "margin": {"l": 10, "r": 20, "t": 10, "b": 40},
                       "yaxis": {"automargin": True, "type": "category"},
                       "xaxis": {"title": {"text": "money at risk"}, "tickformat": ",.0f"},
                       "plot_bgcolor": "#ffffff"}}


def _summary_figures(result: RunResult, patterns: pd.DataFrame, people: pd.DataFrame) -> dict:
    figures = {}
    if len(patterns):
        labels = [pattern_label(p) for p in patterns["pattern"]]
        figures["fig-pattern"] = _bar_figure(
            labels, patterns["risk_amount"].astype(float).round(2).tolist(),
            [f"{p}: {_money(r)} in {f:,} finding(s)" for p, r, f in
             zip(labels, patterns["risk_amount"], patterns["findings"], strict=True)],
            patterns["pattern"].tolist(), "#33658a", 60 + 26 * len(patterns))
    if len(people):
        top = people.head(TOP_SALESPEOPLE_CHART)
        labels = [f"{n} ({i})" if n else i for i, n in zip(top["salesperson_id"], top["name"], strict=True)]
        figures["fig-salesperson"] = _bar_figure(
            labels, top["risk_amount"].astype(float).round(2).tolist(),
            [f"{label}, {region or 'no region'}: {_money(r)} in {f:,} finding(s)" for label, region, r, f in
             zip(labels, top["region"], top["risk_amount"], top["findings"], strict=True)],
            top["salesperson_id"].tolist(), "#f26419", 60 + 26 * len(top))
    trend = summaries.by_period(result)
    if len(trend):
        periods = sorted(trend["period"].unique())
        labels = chart_texts(p or "no period" for p in periods)
        data = []
        for pattern in summaries.by_pattern(result)["pattern"]:
            part = trend[trend["pattern"] == pattern].set_index("period")
            # the name comes in through %{fullData.name}: text in a hovertemplate would be read as a template
            # the name is the human one; ``meta`` carries the pattern the report filters on when clicked
            data.append({"type": "bar", "name": chart_text(pattern_label(pattern)), "meta": pattern, "x": labels,
                         "y": [round(float(part["risk_amount"].get(p, 0.0)), 2) for p in periods],
                         "customdata": [int(part["findings"].get(p, 0)) for p in periods],
                         "hovertemplate": "%{fullData.name}<br>%{x}: %{y:,.0f} in %{customdata} finding(s)"
                                          "<extra></extra>"})
        counts = trend.groupby("period")["findings"].sum()
        step = max(1, math.ceil(int(counts.max()) / 5))  # whole findings on the right axis
        data.append({"type": "scatter", "mode": "lines+markers", "name": "findings (right axis)", "x": labels,
                     "y": [int(counts.get(p, 0)) for p in periods], "yaxis": "y2",
                     "line": {"color": "#222222", "width": 2}})
        figures["fig-trend"] = {"data": data, "layout": {
            "barmode": "stack", "height": 380, "margin": {"l": 60, "r": 60, "t": 10, "b": 40},
            "xaxis": {"type": "category", "title": {"text": "period"}},
            "yaxis": {"title": {"text": "money at risk"}, "tickformat": ",.0f", "automargin": True},
            "yaxis2": {"title": {"text": "findings"}, "overlaying": "y", "side": "right", "rangemode": "tozero",
                       "dtick": step, "automargin": True, "showgrid": False},
            "legend": {"orientation": "h", "y": -0.2}, "plot_bgcolor": "#ffffff"}}
    return figures


def _exception_rows(result: RunResult) -> dict:
    frame = result.exceptions
    rows = []
    for record in frame[list(EXCEPTION_FIELDS)].to_dict(orient="records"):
        related = record["related"] if isinstance(record["related"], list) else []
        evidence = json_text(record["evidence"]) if isinstance(record["evidence"], dict) else ""
        if len(evidence) > EVIDENCE_CHARS:  # the page pretty-prints evidence that is whole JSON
            evidence = evidence[:EVIDENCE_CHARS] + "\n… (full evidence in exceptions.csv / .parquet)"
        record.update(related=related, evidence=evidence, score=round(float(record["score"]), 4),
                      risk_amount=round(float(record["risk_amount"]), 2))
        rows.append([record[f] for f in EXCEPTION_FIELDS])
    return {"fields": list(EXCEPTION_FIELDS), "rows": rows}


def _master(frame: pd.DataFrame | None, key: str) -> dict[str, dict]:
    if frame is None or key not in frame:
        return {}
    return {str(r[key]): r for r in frame.drop_duplicates(key).to_dict(orient="records")}


def _info(record: dict | None, columns: list[str]) -> list[tuple[str, str]]:
    if not record:
        return []
    shown = []
    for column in columns:
        value = record.get(column)
        text = _display(value, isinstance(value, float) and column != "payment_terms_days")
        if text:
            shown.append((column.replace("_", " "), text))
    return shown


def _entity_pages(result: RunResult, kind: str, rollup: pd.DataFrame, timeline: pd.DataFrame,
                  drawn: EventTable, figures: dict) -> list[dict]:
    frames = getattr(result.tables, "frames", None) or {}
    key = f"{kind}_id"
    if kind == "salesperson":
        master, columns = frames.get("salespeople"), ["region", "manager_id", "hire_date", "termination_date",
                                                      "phone"]
    else:
        master, columns = frames.get("customers"), ["customer_class", "city", "assigned_salesperson_id",
                                                    "credit_limit", "payment_terms_days", "created_date",
                                                    "status", "owner_name"]
    records = _master(master, key)
    positions = timeline.groupby(key).indices if len(timeline) else {}
    pages = []
    for row in rollup.head(MAX_ENTITY_PAGES).to_dict(orient="records"):
        entity_id = str(row[key])
        anchor = _anchor(kind, entity_id)
        own = positions.get(entity_id, ())
        fig_id = None
        if len(own):
            fig_id = f"tl-{anchor}"
            figures[fig_id] = drawn.figure(own)
        patterns = ", ".join(pattern_label(p) for p in str(row["patterns"] or "").split(", ") if p)
        pages.append({"id": entity_id, "name": row.get("name") or "", "anchor": anchor, "fig": fig_id,
                      "findings": row["findings"], "risk_amount": row["risk_amount"], "patterns": patterns,
                      "events": len(own), "flagged_events": int(drawn.flagged[own].sum()) if len(own) else 0,
                      "info": _info(records.get(entity_id), columns)})
    return pages


def _views(result: RunResult) -> list[dict]:
    def order(name: str) -> tuple[int, str]:
        return (0 if name.startswith("aging_") else 1 if name.startswith("collections_") else 2, name)

    shown = []
    for name in sorted((n for n in (result.views or {}) if n != "entity_links"), key=order):
        frame = result.views[name]
        if isinstance(frame, pd.DataFrame):
            shown.append({"name": name, "anchor": _anchor("view", name), "table": table(frame)})
    return shown


def _links(result: RunResult, figures: dict) -> dict | None:
    links = (result.views or {}).get("entity_links")
    if not isinstance(links, pd.DataFrame) or not {"source", "target"} <= set(links.columns):
        return None
    graph = link_graph(links)
    frames = getattr(result.tables, "frames", None) or {}
    figures["fig-network"] = network_figure(graph, flagged_records(result.exceptions), title="Entity links",
                                            names=node_names(frames))
    # one scope for every count: the links are the table's rows; a pair of entities can share several
    # things (phone and address), so the drawing joins fewer pairs than there are links
    return {"nodes": graph.number_of_nodes(), "pairs": graph.number_of_edges(), "table": table(links)}


def render_html(result: RunResult) -> str:
    """The report as one HTML string (see the module docstring for what it holds)."""
    manifest = result.manifest or {}
    patterns = summaries.by_pattern(result)
    people = summaries.by_salesperson(result)
    worklist = summaries.worklist(result)
    headline = summaries.headline(result.exceptions)
    customers = summaries.by_customer(result)
    figures = _summary_figures(result, patterns, people)
    timeline = events(result)
    drawn = EventTable(timeline)
    salesperson_pages = _entity_pages(result, "salesperson", people, timeline, drawn, figures)
    customer_pages = _entity_pages(result, "customer", customers, timeline, drawn, figures)
    links = _links(result, figures)
    sp_info = summaries.salesperson_info(result)
    cu_info = summaries.customer_info(result)
    sp_anchor = {p["id"]: p["anchor"] for p in salesperson_pages}
    cu_anchor = {p["id"]: p["anchor"] for p in customer_pages}
    ids = result.exceptions
    lookup = {
        "salespeople": {i: {"name": str(sp_info["name"].get(i, "") or ""),
                            "region": str(sp_info["region"].get(i, "") or ""), "anchor": sp_anchor.get(i)}
                        for i in sorted(set(ids["salesperson_id"].dropna()) | set(sp_anchor))},
        "customers": {i: {"name": "" if pd.isna(cu_info["name"].get(i)) else str(cu_info["name"].get(i)),
                          "anchor": cu_anchor.get(i)}
                      for i in sorted(set(ids["customer_id"].dropna()) | set(cu_anchor))},
        "currency": result.policy.currency if result.policy is not None else "",
        "patterns": {name: pattern_label(name) for name in [*PATTERN_TABLE, *ids["pattern"].dropna().unique()]},
    }
    detectors = result.detector_runs if result.detector_runs is not None else pd.DataFrame()
    not_run = detectors[detectors["status"] != "ran"] if "status" in detectors else detectors
    resolved_columns = [c for c in ("rank", "pattern", "title", "entity_type", "entity_id", "salesperson_id",
                                    "customer_id", "period", "risk_amount", "exception_id")
                        if c in result.resolved.columns]
    status = summaries.status_counts(result)
    inputs = pd.DataFrame(manifest.get("inputs", []))
    context = {
        # components that failed are said first, above everything: the totals leave their findings out
        "failure_notice": result.failure_notice(),
        "failed": [{key: _display(record.get(key), False) for key in ("detector", "pattern", "reason")}
                   for record in result.failed.to_dict(orient="records")],
        "run_id": result.run_id, "manifest": manifest, "period": manifest.get("period"),
        "currency": lookup["currency"], "status": status, "money_at_risk": headline.money_at_risk,
        "headline": headline, "worklist": worklist.to_dict(orient="records"),
        "worklist_size": summaries.WORKLIST_SIZE,
        "findings": len(result.exceptions),
        "detectors_ran": int((detectors["status"] == "ran").sum()) if "status" in detectors else 0,
        "detectors_not_run": int((detectors["status"] == "not run").sum()) if "status" in detectors else 0,
        "detectors_failed": int((detectors["status"] == "failed").sum()) if "status" in detectors else 0,
        "patterns": table(pattern_names(patterns), max_rows=10_000, filter_values=patterns["pattern"].tolist()),
        "people": table(pattern_names(people.drop(columns=["new", "repeat", "suppressed"]))),
        "not_run": table(pattern_names(not_run[[c for c in ("kind", "detector", "pattern", "status", "reason")
                                                if c in not_run]])),
        "detectors": table(pattern_names(detectors), max_rows=10_000),
        "coverage": table(summaries.coverage(result), max_rows=10_000),
        "dq_summary": table(summaries.data_quality_summary(result)), "dq_rows": table(result.data_quality),
        "resolved": table(pattern_names(result.resolved[resolved_columns])),
        "salesperson_pages": salesperson_pages, "customer_pages": customer_pages,
        "salespeople_with_findings": len(people), "customers_with_findings": len(customers),
        "max_entity_pages": MAX_ENTITY_PAGES,
        "views": _views(result), "links": links,
        "inputs": table(inputs.drop(columns=[c for c in ("sha256",) if c in inputs])),
        "input_hashes": inputs[["table", "sha256"]].to_dict(orient="records") if "sha256" in inputs else [],
        "policy_json": json.dumps(manifest.get("policy", result.policy.to_dict() if result.policy else {}),
                                  indent=2, ensure_ascii=False, default=str),
        "libraries": sorted((manifest.get("libraries") or {}).items()),
        "figures": figures, "refs": REFERENCE_COLUMNS,
        "exceptions_json": _script_json(_exception_rows(result)), "lookup_json": _script_json(lookup),
        "figures_json": _script_json(figures), "css": _asset("report.css"), "js": _asset("report.js"),
        "plotly_js": _plotly_js(),
    }
    return _environment().get_template("report.html.j2").render(**context)


def write_html(result: RunResult, out: Path) -> list[Path]:
    """Write ``report.html`` into ``out``."""
    path = Path(out) / REPORT_NAME
    path.write_text(render_html(result), encoding="utf-8", newline="\n")
    return [path]
