"""The run as one self-contained HTML file (``report.html``) that works offline.

plotly.js is embedded once; every chart is a JSON figure drawn when its page is first shown. The ranked
exceptions travel once as JSON and vanilla JavaScript filters, sorts and pages them (and lists each
salesperson's and customer's findings from the same rows), so 5,000 findings cost a few MB, not a
table per page. Per-entity pages exist for the salespeople and customers with findings (the
``MAX_ENTITY_PAGES`` with most money at risk of each); every other analysis table in ``result.views``
is rendered generically under its own name.
"""

from __future__ import annotations

import base64
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

from audit import i18n
from audit.contract import PATTERN_TABLE, pattern_label
from audit.evidence import json_text
from audit.i18n import N_, t, tn
from audit.result import RunResult
from audit.runner import reason_words
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
# Column headers of the report's tables in words (translated when shown); other columns show their name.
LABELS = {"risk_amount": N_("money at risk"), "salesperson_id": N_("salesperson"), "customer_id": N_("customer"),
          "assigned_salesperson_id": N_("assigned salesperson"), "pattern": N_("pattern"),
          "findings": N_("findings"), "new": N_("new"), "repeat": N_("repeat"), "suppressed": N_("suppressed"),
          "confirmed": N_("confirmed"), "name": N_("name"), "region": N_("region"), "patterns": N_("patterns"),
          "coverage": N_("coverage"), "detectors": N_("detectors"), "unknown": N_("not known"),
          "why": N_("why"), "kind": N_("kind"), "detector": N_("detector"), "status": N_("status"),
          "reason": N_("reason"), "family": N_("family"), "version": N_("version"), "seconds": N_("seconds"),
          "eligible_records": N_("eligible records"), "severity": N_("severity"), "table": N_("table"),
          "column": N_("column"), "problem": N_("problem"), "action": N_("action"), "rows": N_("rows"),
          "row": N_("row"), "record_id": N_("record"), "value": N_("value"), "fix": N_("fix"),
          "origin": N_("origin"), "rows_read": N_("rows read"), "rows_used": N_("rows used"),
          "rank": N_("rank"), "title": N_("finding"), "entity_type": N_("entity type"), "entity_id": N_("entity"),
          "period": N_("period"), "exception_id": N_("exception id"), "score": N_("score"),
          "as_of": N_("as of"), "total": N_("total"), "overdue": N_("overdue"), "credit_limit": N_("credit limit"),
          "amount": N_("amount"), "open_balance": N_("open balance"), "source": N_("source"),
          "target": N_("target"), "similarity": N_("similarity"), "evidence": N_("evidence"),
          "city": N_("city"), "customer_class": N_("customer class"), "payment_terms_days": N_("payment terms (days)"),
          "created_date": N_("created"), "owner_name": N_("owner"), "manager_id": N_("manager"),
          "hire_date": N_("hired"), "termination_date": N_("left"), "phone": N_("phone"), "what": N_("what"),
          "explanation": N_("explanation"), "related": N_("records"), "salesperson": N_("salesperson name"),
          "customer": N_("customer name")}
# Words that are values of the report's tables (statuses, coverage, severities): shown translated.
VALUE_WORDS = {N_("checked"), N_("partly checked"), N_("not checked"), N_("ran"), N_("not run"), N_("failed"),
               N_("new"), N_("repeat"), N_("suppressed"), N_("confirmed"), N_("fatal"), N_("row"), N_("warning"),
               N_("detector"), N_("analysis"), N_("salesperson fraud"), N_("distress"), N_("standard test"),
               N_("lead"), N_("data finding"), N_("customer"), N_("salesperson"), N_("invoice"), N_("cheque"),
               N_("receipt"), N_("shipment"), N_("visit"), N_("product"), N_("invoice_no")}
WORD_COLUMNS = {"coverage", "status", "severity", "kind", "family", "entity_type"}
# Columns holding the runner's reasons (audit.runner.reason_words words their common shapes).
REASON_COLUMNS = {"why", "unknown"}
# The analyses' tables by name (the Analyses page and the workbook's sheets); others show their name.
VIEW_TITLES = {"aging_by_customer": N_("Aging by customer"), "aging_by_salesperson": N_("Aging by salesperson"),
               "aging_by_region": N_("Aging by region"), "aging_reserve": N_("Bad-debt reserve by age"),
               "collections_actions": N_("Collection actions due"), "credit_exposure": N_("Credit exposure"),
               "problem_receivables": N_("Problem receivables"),
               "confirmation_differences": N_("Confirmation differences"),
               "confirmation_differences_by_salesperson": N_("Confirmation differences by salesperson"),
               "distress_history": N_("Distress history"), "entity_links": N_("Entity links")}
# The report's fonts: Persian in Vazirmatn, shipped inside the report (reports/fonts, SIL OFL); Chinese in
# the system's CJK fonts (a CJK font is several MB, too big to embed); Latin in Liberation/DejaVu.
LATIN_FONTS = '"Liberation Sans", "DejaVu Sans", Arial, sans-serif'
FONT_STACKS = {"en": LATIN_FONTS, "fa": '"Vazirmatn", ' + LATIN_FONTS,
               "zh": '"Liberation Sans", "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", '
                     '"Microsoft YaHei", "WenQuanYi Micro Hei", "Droid Sans Fallback", sans-serif'}
PERSIAN_FONT = "Vazirmatn-NL-wght.woff2"
EXCEPTION_FIELDS = ("rank", "exception_id", "status", "pattern", "detector", "score", "risk_amount",
                    "entity_type", "entity_id", "salesperson_id", "customer_id", "period", "title",
                    "explanation", "evidence", "related")


@cache
def _environment() -> Environment:
    env = Environment(loader=PackageLoader("reports", "templates"), autoescape=select_autoescape(["html", "j2"]),
                      trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.i18n"])
    # the same catalogues as the rest of the tool, in the language active while rendering
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)
    env.filters["money"] = _money
    env.filters["count"] = lambda v: i18n.format_number(int(v), 0)
    return env


@cache
def _font_face(language: str) -> Markup:
    """The @font-face rules and body font of ``language``; Persian's font travels inside the report as
    base64, so the report reads the same offline on a machine without it."""
    rules = ""
    if language == "fa":
        data = base64.b64encode(files("reports").joinpath("fonts", PERSIAN_FONT).read_bytes()).decode("ascii")
        rules = ('@font-face { font-family: "Vazirmatn"; font-style: normal; font-weight: 100 900; '
                 f'font-display: swap; src: url(data:font/woff2;base64,{data}) format("woff2"); }}\n')
    return Markup(rules + f":root {{ --font: {FONT_STACKS.get(language, LATIN_FONTS)}; }}\n")


@cache
def _asset(name: str) -> Markup:
    return Markup(files("reports").joinpath("templates", name).read_text(encoding="utf-8"))


@cache
def _plotly_js() -> Markup:
    from plotly.offline import get_plotlyjs

    return Markup(get_plotlyjs())


def _money(value) -> str:
    return i18n.format_money(value)


def _time(iso: str, shown: str) -> Markup:
    """A date or month shown in the reader's calendar, the ISO (Gregorian) one on hover."""
    return Markup('<time datetime="{0}" title="{0}">{1}</time>').format(iso, shown)


def date_html(value) -> Markup | str:
    if value is None or value is pd.NaT or (not isinstance(value, str) and pd.isna(value)):
        return ""
    stamp = pd.Timestamp(value)
    iso = stamp.strftime("%Y-%m-%d")
    shown = i18n.format_date(stamp)
    if stamp != stamp.normalize():
        iso, shown = stamp.strftime("%Y-%m-%dT%H:%M"), shown + " " + i18n.localise_digits(stamp.strftime("%H:%M"))
    return _time(iso, shown)


def period_html(value) -> Markup | str:
    if not isinstance(value, str) or not value:
        return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)
    shown = i18n.format_period(value)
    return _time(value, shown) if shown != value or re.fullmatch(r"\d{4}-\d{2}", value) else value


def label(column: str) -> str:
    """A column's header in the active language."""
    return t(LABELS[column]) if column in LABELS else column


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


def _reasons_worded(frame: pd.DataFrame) -> pd.DataFrame:
    """A detector table with its runner's reasons in the report's language."""
    return frame.assign(reason=frame["reason"].map(reason_words)) if "reason" in frame else frame


def _display(value, numeric: bool, column: str = "") -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, pd.Timestamp | dt.date):
        return date_html(value)
    if isinstance(value, str) and (column == "period" or column.endswith("_period")):
        return period_html(value)
    if isinstance(value, str) and column in WORD_COLUMNS and value in VALUE_WORDS:
        return t(value)
    if isinstance(value, str) and column in REASON_COLUMNS:
        return reason_words(value)
    if numeric and isinstance(value, float):
        if abs(value) >= 1000 or value == 0:
            return i18n.format_number(value, 0)
        return i18n.format_number(float(f"{value:.4g}"), None)
    if numeric and isinstance(value, int):
        return i18n.format_number(value, 0)
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
    columns = [str(c) for c in frame.columns]
    rows = [[_display(v.item() if hasattr(v, "item") else v, n, c) for v, n, c in zip(row, numeric, columns,
                                                                                       strict=True)]
            for row in shown.itertuples(index=False, name=None)]
    return {"columns": columns, "labels": [label(c) for c in columns],
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
                       "xaxis": {"title": {"text": t("money at risk")}, "tickformat": ",.0f"},
                       "plot_bgcolor": "#ffffff"}}


def _summary_figures(result: RunResult, patterns: pd.DataFrame, people: pd.DataFrame) -> dict:
    figures = {}
    if len(patterns):
        labels = [pattern_label(p) for p in patterns["pattern"]]
        figures["fig-pattern"] = _bar_figure(
            labels, patterns["risk_amount"].astype(float).round(2).tolist(),
            [f"{p}: " + tn("%(amount)s in %(count)s finding", "%(amount)s in %(count)s findings", int(f),
                           amount=_money(r), count=int(f)) for p, r, f in
             zip(labels, patterns["risk_amount"], patterns["findings"], strict=True)],
            patterns["pattern"].tolist(), "#33658a", 60 + 26 * len(patterns))
    if len(people):
        top = people.head(TOP_SALESPEOPLE_CHART)
        labels = [f"{n} ({i})" if n else i for i, n in zip(top["salesperson_id"], top["name"], strict=True)]
        figures["fig-salesperson"] = _bar_figure(
            labels, top["risk_amount"].astype(float).round(2).tolist(),
            [f"{label}, {region or t('no region')}: " + tn("%(amount)s in %(count)s finding",
                                                               "%(amount)s in %(count)s findings", int(f),
                                                               amount=_money(r), count=int(f))
             for label, region, r, f in
             zip(labels, top["region"], top["risk_amount"], top["findings"], strict=True)],
            top["salesperson_id"].tolist(), "#f26419", 60 + 26 * len(top))
    trend = summaries.by_period(result)
    if len(trend):
        periods = sorted(trend["period"].unique())
        labels = chart_texts(i18n.format_period(p) if p else t("no period") for p in periods)
        data = []
        for pattern in summaries.by_pattern(result)["pattern"]:
            part = trend[trend["pattern"] == pattern].set_index("period")
            # the name comes in through %{fullData.name}: text in a hovertemplate would be read as a template
            # the name is the human one; ``meta`` carries the pattern the report filters on when clicked
            data.append({"type": "bar", "name": chart_text(pattern_label(pattern)), "meta": pattern, "x": labels,
                         "y": [round(float(part["risk_amount"].get(p, 0.0)), 2) for p in periods],
                         "customdata": [int(part["findings"].get(p, 0)) for p in periods],
                         # the period travels in the x value's label; the report maps it back when clicked
                         "hovertemplate": "%{fullData.name}<br>%{x}: "
                                          + t("%(amount)s in %(count)s finding(s)", amount="%{y:,.0f}",
                                              count="%{customdata}") + "<extra></extra>"})
        counts = trend.groupby("period")["findings"].sum()
        step = max(1, math.ceil(int(counts.max()) / 5))  # whole findings on the right axis
        data.append({"type": "scatter", "mode": "lines+markers", "name": t("findings (right axis)"), "x": labels,
                     "y": [int(counts.get(p, 0)) for p in periods], "yaxis": "y2",
                     "line": {"color": "#222222", "width": 2}})
        figures["fig-trend"] = {"data": data, "layout": {
            "barmode": "stack", "height": 380, "margin": {"l": 60, "r": 60, "t": 10, "b": 40},
            "xaxis": {"type": "category", "title": {"text": t("period")}},
            "yaxis": {"title": {"text": t("money at risk")}, "tickformat": ",.0f", "automargin": True},
            "yaxis2": {"title": {"text": t("findings")}, "overlaying": "y", "side": "right", "rangemode": "tozero",
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


def _info(record: dict | None, columns: list[str]) -> list[tuple[str, str, str]]:
    """(column, its label, the value shown) of an entity's master record."""
    if not record:
        return []
    shown = []
    for column in columns:
        value = record.get(column)
        text = _display(value, isinstance(value, float) and column != "payment_terms_days")
        if text:
            shown.append((column, t(LABELS[column]) if column in LABELS else column.replace("_", " "), text))
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
            shown.append({"name": name, "title": t(VIEW_TITLES[name]) if name in VIEW_TITLES else name,
                          "anchor": _anchor("view", name), "table": table(frame)})
    return shown


def _links(result: RunResult, figures: dict) -> dict | None:
    links = (result.views or {}).get("entity_links")
    if not isinstance(links, pd.DataFrame) or not {"source", "target"} <= set(links.columns):
        return None
    graph = link_graph(links)
    frames = getattr(result.tables, "frames", None) or {}
    figures["fig-network"] = network_figure(graph, flagged_records(result.exceptions), title=t("Entity links"),
                                            names=node_names(frames))
    # one scope for every count: the links are the table's rows; a pair of entities can share several
    # things (phone and address), so the drawing joins fewer pairs than there are links
    return {"nodes": graph.number_of_nodes(), "pairs": graph.number_of_edges(), "table": table(links)}


def render_html(result: RunResult, language: str | None = None) -> str:
    """The report as one HTML string (see the module docstring for what it holds), in ``language`` (default:
    the run's policy's) and the policy's calendar."""
    policy = result.policy
    language = i18n.check_language(language or getattr(policy, "language", None) or i18n.DEFAULT_LANGUAGE)
    with i18n.presentation(language, getattr(policy, "calendar", None) or "gregorian"):
        return _render(result, language)


JS_TEXTS = {  # the words the report's script writes (report.js), by key
    "findings": N_("%(count)s findings"), "of_findings": N_("%(shown)s of %(total)s findings"),
    "page": N_("%(first)s–%(last)s · page %(page)s of %(pages)s"), "nothing": N_("nothing matches"),
    "exception_id": N_("exception id"), "detector": N_("detector"), "entity": N_("entity"),
    "salesperson": N_("salesperson"), "customer": N_("customer"), "records": N_("records"),
    "evidence": N_("evidence"), "status": N_("status"), "pattern": N_("pattern"), "finding": N_("finding"),
    "period": N_("period"), "money": N_("money at risk"), "all_in_list": N_("all %(count)s in the exception list"),
    "first_by_rank": N_("The first %(count)s by rank; "), "no_period": N_("no period"),
}


def _render(result: RunResult, language: str) -> str:
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
        "statuses": {s: t(s) for s in ("new", "repeat", "suppressed", "confirmed")},
        "entity_types": {e: t(e) for e in ("customer", "salesperson", "invoice", "cheque", "receipt", "shipment",
                                           "visit", "product", "invoice_no")},
        # each period as shown (the Jalali months in that calendar) and back, for the trend chart's clicks
        "periods": {p: i18n.format_period(p) for p in sorted(ids["period"].dropna().unique())},
        "locale": {"en": "en-US", "fa": "fa-IR", "zh": "zh-CN"}[language],
    }
    lookup["period_keys"] = {shown: p for p, shown in lookup["periods"].items()}
    lookup["period_keys"][t("no period")] = ""
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
        "failed": [{key: _display(record.get(key), False, key) for key in ("detector", "pattern", "reason")}
                   for record in result.failed.to_dict(orient="records")],
        "run_id": result.run_id, "manifest": manifest, "period": manifest.get("period"),
        "lang": language, "direction": "rtl" if i18n.is_right_to_left(language) else "ltr",
        "period_text": i18n.format_period(manifest.get("period")) if manifest.get("period") else "",
        "period_html": period_html(manifest.get("period")),
        "finished_html": date_html(manifest.get("finished_at")) if manifest.get("finished_at") else "",
        "font_css": _font_face(language),
        "i18n_json": _script_json({key: t(text) for key, text in JS_TEXTS.items()}),
        "currency": lookup["currency"], "status": status, "money_at_risk": headline.money_at_risk,
        "headline": headline, "worklist": worklist.to_dict(orient="records"),
        "worklist_size": summaries.WORKLIST_SIZE,
        "findings": len(result.exceptions),
        "detectors_ran": int((detectors["status"] == "ran").sum()) if "status" in detectors else 0,
        "detectors_not_run": int((detectors["status"] == "not run").sum()) if "status" in detectors else 0,
        "detectors_failed": int((detectors["status"] == "failed").sum()) if "status" in detectors else 0,
        "patterns": table(pattern_names(patterns), max_rows=10_000, filter_values=patterns["pattern"].tolist()),
        "people": table(pattern_names(people.drop(columns=["new", "repeat", "suppressed"]))),
        "not_run": table(pattern_names(_reasons_worded(not_run[[c for c in ("kind", "detector", "pattern", "status",
                                                                            "reason") if c in not_run]]))),
        "detectors": table(pattern_names(_reasons_worded(detectors)), max_rows=10_000),
        # the coverage names each pattern by its English name (the manifest's): shown in the report's language
        "coverage": table(summaries.coverage(result).assign(
            pattern=lambda f: f["pattern"].map(lambda p: t(p) if isinstance(p, str) and p else p)), max_rows=10_000),
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
