"""The run as an Excel workbook (``report.xlsx``): a summary sheet, every exception, one sheet per pattern,
the findings resolved since the last run, detectors, data quality and the analysis views.

Every table sheet has a frozen header row, an autofilter and money / score number formats. The summary's
pattern names link to their sheets and its top findings link to their own row there.

Cells are written one by one with typed writes (``write_string`` / ``write_number``), never pandas'
``to_excel``: text from the ledger is never read as a formula (a customer called ``=HYPERLINK(...)`` stays
text), and a NaN becomes a blank cell.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pandas as pd
import xlsxwriter
from xlsxwriter.utility import xl_rowcol_to_cell

from audit import i18n
from audit.contract import pattern_label
from audit.evidence import frame_as_text, json_text
from audit.i18n import t, tn
from audit.result import RunResult
from reports import summaries

WORKBOOK_NAME = "report.xlsx"
TOP_FINDINGS = 100  # the summary's linked list of the highest-ranked findings
MAX_CELL = 32_767  # Excel's limit on characters in a cell
MONEY_COLUMNS = {"risk_amount", "amount", "credit_limit", "balance", "money_at_risk"}
EXCEPTION_SHEET_COLUMNS = ["rank", "status", "score", "risk_amount", "what", "pattern", "period", "salesperson_id",
                           "salesperson", "region", "customer_id", "customer", "entity_type", "entity_id",
                           "title", "explanation", "check_next", "detector", "exception_id", "related", "evidence"]
# The ranked sheet across patterns leaves out the long JSON columns: the pattern sheets carry them.
RANKED_SHEET_COLUMNS = [c for c in EXCEPTION_SHEET_COLUMNS if c not in {"related", "evidence"}]
WIDTHS = {"rank": 6, "status": 10, "score": 7, "risk_amount": 15, "what": 30, "pattern": 26, "period": 9, "title": 48,
          "explanation": 80, "check_next": 60, "evidence": 60, "related": 40, "exception_id": 18, "reason": 50,
          "problem": 50, "fix": 50}


class _Formats:
    def __init__(self, book: xlsxwriter.Workbook):
        self.header = book.add_format({"bold": True, "bg_color": "#DDE3EA", "border": 1, "text_wrap": True,
                                       "valign": "top"})
        self.money = book.add_format({"num_format": "#,##0"})
        self.score = book.add_format({"num_format": "0.00"})
        self.number = book.add_format({"num_format": "#,##0.##"})
        self.date = book.add_format({"num_format": "yyyy-mm-dd"})
        self.datetime = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
        self.wrap = book.add_format({"text_wrap": True, "valign": "top"})
        self.link = book.add_format({"font_color": "#1F5F99", "underline": 1})
        self.title = book.add_format({"bold": True, "font_size": 16})
        self.heading = book.add_format({"bold": True, "font_size": 12})
        self.label = book.add_format({"font_color": "#6B7785"})
        self.big_money = book.add_format({"num_format": "#,##0", "bold": True, "font_color": "#D1495B"})


def _is_money(column: str) -> bool:
    return column in MONEY_COLUMNS or column.endswith("_amount") or column.startswith("amount_")


def _write_value(sheet, row: int, col: int, value, column: str, formats: _Formats) -> None:
    if value is None or value is pd.NaT or (isinstance(value, float) and not math.isfinite(value)):
        sheet.write_blank(row, col, None)
        return
    if hasattr(value, "item") and not isinstance(value, pd.Timestamp):
        value = value.item()  # numpy scalar
    if isinstance(value, bool):
        sheet.write_boolean(row, col, value)
    elif isinstance(value, int | float):
        fmt = (formats.money if _is_money(column) else formats.score if column == "score"
               else None if isinstance(value, int) else formats.number)
        sheet.write_number(row, col, value, fmt)
    elif isinstance(value, pd.Timestamp | dt.datetime):
        stamp = pd.Timestamp(value)
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert("UTC").tz_localize(None)
        sheet.write_datetime(row, col, stamp.to_pydatetime(),
                             formats.date if stamp == stamp.normalize() else formats.datetime)
    elif isinstance(value, dt.date):
        sheet.write_datetime(row, col, dt.datetime(value.year, value.month, value.day), formats.date)
    else:
        text = json_text(value) if isinstance(value, dict | list) else str(value)
        sheet.write_string(row, col, text[:MAX_CELL], formats.wrap if column in {"explanation", "reason"} else None)


def _column_writer(sheet, series: pd.Series, column: str, formats: _Formats):
    """One write function per column, chosen from its dtype (5,000 findings are 100,000 cells: a type
    check per cell costs more than the writing)."""
    if pd.api.types.is_bool_dtype(series):
        return lambda row, col, v: (sheet.write_blank(row, col, None) if pd.isna(v)
                                    else sheet.write_boolean(row, col, bool(v)))
    if pd.api.types.is_numeric_dtype(series):
        fmt = (formats.money if _is_money(column) else formats.score if column == "score"
               else None if pd.api.types.is_integer_dtype(series) else formats.number)
        return lambda row, col, v: (sheet.write_number(row, col, v, fmt) if math.isfinite(v)
                                    else sheet.write_blank(row, col, None))
    if pd.api.types.is_string_dtype(series):  # for object columns pandas checks every value is text
        fmt = formats.wrap if column in {"explanation", "reason"} else None
        return lambda row, col, v: (sheet.write_string(row, col, v[:MAX_CELL], fmt) if isinstance(v, str)
                                    else sheet.write_blank(row, col, None))
    return lambda row, col, v: _write_value(sheet, row, col, v, column, formats)


def _is_dates(series: pd.Series) -> bool:
    return pd.api.types.is_datetime64_any_dtype(series) or (
        series.dtype == object and series.map(lambda v: isinstance(v, dt.date)).any())


def _with_jalali_dates(frame: pd.DataFrame) -> pd.DataFrame:
    """In the Jalali calendar, each date column gets a text column beside it with the Jalali date (the real
    date cell stays, so sorting and filtering by date work)."""
    if i18n.current_calendar() != "jalali":
        return frame
    shown = frame
    for column in [c for c in frame.columns if _is_dates(frame[c])]:
        if shown is frame:
            shown = frame.copy()
        jalali = frame[column].map(lambda v: i18n.format_date(v) if not pd.isna(v) else None)
        shown.insert(list(shown.columns).index(column) + 1, f"{column}{JALALI_SUFFIX}", jalali)
    if "period" in frame.columns:  # months (YYYY-MM) as the Jalali months they fall in
        if shown is frame:
            shown = frame.copy()
        shown.insert(list(shown.columns).index("period") + 1, f"period{JALALI_SUFFIX}",
                     frame["period"].map(lambda v: i18n.format_period(v) if isinstance(v, str) and v else None))
    return shown


JALALI_SUFFIX = " (jalali)"


def _header(column: str) -> str:
    from reports.html import label  # one list of column names in words, shared with the report

    if column.endswith(JALALI_SUFFIX):
        return t("%(column)s (Jalali)", column=_header(column[:-len(JALALI_SUFFIX)]))
    # English sheets keep the field names (scripts and filters read them); other languages show words
    return column if i18n.current_language() == i18n.DEFAULT_LANGUAGE else label(column)


def _table_sheet(book, formats: _Formats, name: str, frame: pd.DataFrame) -> None:
    """A sheet holding ``frame``: header row frozen, autofilter over all rows, typed cells; headers in the
    active language, right to left in Persian, and a Jalali text column beside each date in that calendar."""
    sheet = book.add_worksheet(name)
    if i18n.is_right_to_left():
        sheet.right_to_left()
    frame = _with_jalali_dates(frame)
    columns = [str(c) for c in frame.columns]
    for col, column in enumerate(columns):
        sheet.write_string(0, col, _header(column), formats.header)
        sheet.set_column(col, col, WIDTHS.get(column, max(10, min(len(column) + 2, 30))))
        series = frame.iloc[:, col]
        write = _column_writer(sheet, series, column, formats)
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            series = series.astype("float64")  # pd.NA and None become NaN, written blank
        for row, value in enumerate(series.tolist(), start=1):
            write(row, col, value)
    sheet.freeze_panes(1, 0)
    if columns:
        sheet.autofilter(0, 0, max(len(frame), 1), len(columns) - 1)


SHEET_CHARS = 31  # Excel's limit on a sheet name
# Long words of the analyses' table names, shortened in sheet names when the name is too long (those
# saving most first).
SHEET_WORDS = {"salesperson": "salesp.", "salespeople": "salesp.", "customers": "cust.", "customer": "cust.",
               "differences": "diffs", "difference": "diff.", "confirmation": "confirm.",
               "confirmations": "confirm.", "collections": "collect.", "statements": "stmts",
               "statement": "stmt", "receivables": "receiv.", "distribution": "distrib."}


SMALL_WORDS = {"a", "an", "the", "of", "for", "and", "or", "to", "in", "by", "on"}


def readable_sheet_name(name: str, chars: int = SHEET_CHARS) -> str:
    """``name`` as a readable sheet name of at most ``chars`` characters: ``aging_by_customer`` becomes
    "Aging by customer"; a longer one has its long words shortened ("Confirmation diffs by salesp.") and
    is cut after a whole word ("Customer payment swapped for…") only when that is not enough. Excel's
    forbidden characters []:*?/\\ become "-"."""
    text = " ".join(str(name).replace("_", " ").split())
    text = "".join("-" if c in "[]:*?/\\" else c for c in text).strip("'") or "sheet"
    words = text.split(" ")
    shortenable = [i for i, w in enumerate(words) if w.lower() in SHEET_WORDS]
    for index in sorted(shortenable, key=lambda i: (len(SHEET_WORDS[words[i].lower()]) - len(words[i]), -i)):
        if len(" ".join(words)) <= chars:
            break
        words[index] = SHEET_WORDS[words[index].lower()]
    if len(" ".join(words)) <= chars:
        text = " ".join(words)
    else:  # shortened words do not help: the whole words that fit, without a dangling "the"
        kept = text[:chars - 1].split(" ")
        kept = kept[:-1] if len(kept) > 1 else kept
        while len(kept) > 1 and kept[-1].lower() in SMALL_WORDS:
            kept.pop()
        text = " ".join(kept).rstrip(" ,;-'")[:chars - 1] + "…"
    return text[:1].upper() + text[1:]


def _sheet_names(names: list[str], taken: set[str], label=readable_sheet_name) -> dict[str, str]:
    """Readable Excel sheet names (``label``): at most 31 characters, none of []:*?/\\, none starting or
    ending with an apostrophe, and unique case-insensitively ("Aging by customer (2)" for a second)."""
    result = {}
    used = {t.lower() for t in taken}
    for name in names:
        base = label(name)
        candidate, n = base, 2
        while candidate.lower() in used:
            suffix = f" ({n})"
            candidate, n = base[:SHEET_CHARS - len(suffix)].rstrip() + suffix, n + 1
        used.add(candidate.lower())
        result[name] = candidate
    return result


def _pattern_sheet_name(pattern: str) -> str:
    return readable_sheet_name(pattern_label(pattern))


def _view_sheet_name(name: str) -> str:
    from reports.html import VIEW_TITLES

    return readable_sheet_name(t(VIEW_TITLES[name]) if name in VIEW_TITLES else name)


def _exceptions_frame(result: RunResult, frame: pd.DataFrame) -> pd.DataFrame:
    people = summaries.salesperson_info(result)
    customers = summaries.customer_info(result)
    shown = frame.assign(what=frame["pattern"].map(pattern_label),
                         salesperson=frame["salesperson_id"].map(people["name"]),
                         region=frame["salesperson_id"].map(people["region"]),
                         customer=frame["customer_id"].map(customers["name"]))
    return frame_as_text(shown[EXCEPTION_SHEET_COLUMNS])


def _with_pattern_names(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with a ``what`` column (the pattern's human name) before its ``pattern`` column."""
    if "pattern" not in frame or "what" in frame:
        return frame
    named = frame.copy()
    named.insert(list(frame.columns).index("pattern"), "what",
                 frame["pattern"].map(lambda p: pattern_label(p) if isinstance(p, str) and p else None))
    return named


def _link(sheet_name: str, row: int) -> str:
    return f"internal:'{sheet_name}'!{xl_rowcol_to_cell(row, 0)}"


def _created(result: RunResult) -> dt.datetime:
    # The workbook's creation date is the run's, so writing the same run twice gives the same properties.
    stamp = (result.manifest or {}).get("finished_at")
    try:
        return pd.Timestamp(stamp).tz_convert("UTC").tz_localize(None).to_pydatetime()
    except (TypeError, ValueError):
        return dt.datetime(2000, 1, 1)


def _summary_sheet(book, formats: _Formats, result: RunResult, pattern_sheets: dict[str, str],
                   row_of: dict[str, int]) -> None:
    sheet = book.add_worksheet(t("Summary"))
    if i18n.is_right_to_left():
        sheet.right_to_left()
    sheet.set_column(0, 0, 30)
    sheet.set_column(1, 1, 16)
    sheet.set_column(2, 2, 14)
    sheet.set_column(3, 4, 24)
    sheet.set_column(5, 6, 14)
    sheet.set_column(7, 7, 60)
    manifest = result.manifest or {}
    sheet.write_string(0, 0, t("Sales audit · run %(run)s", run=result.run_id), formats.title)
    row = _worklist(sheet, formats, result, pattern_sheets, row_of, 2)
    status = summaries.status_counts(result)
    headline = summaries.headline(result.exceptions)
    period = manifest.get("period")
    finished = manifest.get("finished_at") or ""
    facts = [(t("period"), (i18n.format_period(period) + (f" ({period})" if i18n.format_period(period) != period
                                                           else "")) if period else t("all months")),
             (t("data"), manifest.get("data") or ""),
             (t("finished"), (i18n.format_date(finished) + f" ({finished})") if finished
              and i18n.current_calendar() == "jalali" else finished),
             (t("tool"), f"{manifest.get('tool', 'sales-audit')} {manifest.get('tool_version', '')}"),
             (t("user"), manifest.get("user") or ""), (t("currency"), result.policy.currency if result.policy else ""),
             (t("findings"), len(result.exceptions)), (t("new"), status["new"]), (t("repeat"), status["repeat"]),
             (t("suppressed"), status["suppressed"]), (t("resolved since the last run"), status["resolved"])]
    row += 2
    sheet.write_string(row, 0, t("Totals"), formats.heading)
    row += 1
    sheet.write_string(row, 0, t("money at risk (each record once)"), formats.label)
    sheet.write_number(row, 1, headline.money_at_risk, formats.big_money)
    sheet.write_string(row, 2, t("not suppressed; roll-ups beside, not added; a customer's warnings once"),
                       formats.label)
    row += 1
    sheet.write_string(row, 0, t("in salesperson roll-ups (not added)"), formats.label)
    sheet.write_number(row, 1, headline.rollups, formats.money)
    sheet.write_string(row, 2, tn("%(count)s roll-up finding", "%(count)s roll-up findings",
                                  int(headline.rollup_findings), count=int(headline.rollup_findings)),
                       formats.label)
    for label, value in facts:
        row += 1
        sheet.write_string(row, 0, label, formats.label)
        _write_value(sheet, row, 1, value, "", formats)

    row += 2
    sheet.write_string(row, 0, t("What this audit could and could not check"), formats.heading)
    row += 1
    covered = summaries.coverage(result)
    for col, header in enumerate(covered.columns):
        sheet.write_string(row, col, _header(header), formats.header)
    for record in covered.to_dict(orient="records"):
        row += 1
        for col, key in enumerate(covered.columns):
            value = record[key]
            if key in ("pattern", "coverage") and isinstance(value, str) and value:
                value = t(value)  # the pattern's English name and the coverage word are catalogue entries
            _write_value(sheet, row, col, value, "reason" if key in ("why", "unknown") else key, formats)
    if covered.empty:
        row += 1
        sheet.write_string(row, 0, t("No detector was run."))

    row += 2
    sheet.write_string(row, 0, t("By pattern (click a pattern for its sheet)"), formats.heading)
    row += 1
    patterns = summaries.by_pattern(result)
    for col, header in enumerate(["pattern", "money at risk", "findings", "new", "repeat", "suppressed"]):
        sheet.write_string(row, col, t(header), formats.header)
    for record in patterns.to_dict(orient="records"):
        row += 1
        label = pattern_label(record["pattern"])
        sheet.write_url(row, 0, _link(pattern_sheets[record["pattern"]], 0), formats.link,
                        string=label, tip=t("all %(pattern)s findings", pattern=label))
        sheet.write_number(row, 1, float(record["risk_amount"]), formats.money)
        for col, key in enumerate(["findings", "new", "repeat", "suppressed"], start=2):
            sheet.write_number(row, col, int(record[key]))

    row += 2
    sheet.write_string(row, 0, t("By salesperson"), formats.heading)
    row += 1
    for col, header in enumerate(["salesperson", "money at risk", "findings", "name", "region", "new",
                                  "repeat", "patterns"]):
        sheet.write_string(row, col, t(header), formats.header)
    for record in summaries.by_salesperson(result).to_dict(orient="records"):
        row += 1
        patterns_text = ", ".join(pattern_label(p) for p in str(record["patterns"] or "").split(", ") if p)
        values = [record["salesperson_id"], float(record["risk_amount"]), int(record["findings"]), record["name"],
                  record["region"], int(record["new"]), int(record["repeat"]), patterns_text]
        for col, value in enumerate(values):
            _write_value(sheet, row, col, value, "risk_amount" if col == 1 else "", formats)

    row += 2
    top = result.exceptions.head(TOP_FINDINGS)
    sheet.write_string(row, 0, t("Top %(count)s findings (click to open the finding's row)", count=len(top)),
                       formats.heading)
    row += 1
    for col, header in enumerate(["finding", "money at risk", "rank", "score", "status", "salesperson",
                                  "customer", "title"]):
        sheet.write_string(row, col, t(header), formats.header)
    for record in top.to_dict(orient="records"):
        row += 1
        target = pattern_sheets[record["pattern"]]
        sheet.write_url(row, 0, _link(target, row_of[record["exception_id"]]), formats.link,
                        string=f"{pattern_label(record['pattern'])} #{record['rank']}",
                        tip=t("row of %(id)s", id=record["exception_id"]))
        sheet.write_number(row, 1, float(record["risk_amount"]), formats.money)
        sheet.write_number(row, 2, int(record["rank"]))
        sheet.write_number(row, 3, float(record["score"]), formats.score)
        for col, key in enumerate(["status", "salesperson_id", "customer_id", "title"], start=4):
            _write_value(sheet, row, col, t(record[key]) if key == "status" else record[key], key, formats)

    not_run = result.detector_runs[result.detector_runs["status"] != "ran"] if len(result.detector_runs) else []
    row += 2
    sheet.write_string(row, 0, t("Detectors not run"), formats.heading)
    row += 1
    if len(not_run) == 0:
        sheet.write_string(row, 0, t("Every registered detector ran."))
    else:
        for col, header in enumerate(["detector", "pattern", "status", "reason"]):
            sheet.write_string(row, col, t(header), formats.header)
        for record in not_run.to_dict(orient="records"):
            row += 1
            record = {**record, "pattern": pattern_label(record["pattern"]) if record.get("pattern") else None,
                      "status": t(record["status"])}
            for col, key in enumerate(["detector", "pattern", "status", "reason"]):
                _write_value(sheet, row, col, record.get(key), key, formats)
    sheet.activate()


def _worklist(sheet, formats: _Formats, result: RunResult, pattern_sheets: dict[str, str],
              row_of: dict[str, int], row: int) -> int:
    """The findings to act on first (``summaries.worklist``) from ``row``, each linked to its row on its
    pattern sheet; returns the last row written."""
    work = summaries.worklist(result)
    sheet.write_string(row, 0, t("Act on these first"), formats.heading)
    sheet.write_string(row, 2, t("the top of the ranked list, not suppressed, a customer's warnings once; "
                                 "click a line for the finding's row"), formats.label)
    row += 1
    if work.empty:
        sheet.write_string(row, 0, t("No finding to act on."))
        return row
    for col, header in enumerate(["what", "money at risk", "rank", "salesperson", "customer", "", "",
                                  "what to check"]):
        if header:
            sheet.write_string(row, col, t(header), formats.header)
    for record in work.to_dict(orient="records"):
        row += 1
        what = record["what"] + (" " + t("(roll-up, not added)") if record["rollup"] else "")
        sheet.write_url(row, 0, _link(pattern_sheets[record["pattern"]], row_of[record["exception_id"]]),
                        formats.link, string=what, tip=t("row of %(id)s", id=record["exception_id"]))
        sheet.write_number(row, 1, record["risk_amount"], formats.money)
        sheet.write_number(row, 2, record["rank"])
        for col, (name, key) in enumerate([("salesperson", "salesperson_id"), ("customer", "customer_id")],
                                          start=3):
            text = f"{record[name]} ({record[key]})" if record[name] else record[key]
            if text:
                sheet.write_string(row, col, text)
        sheet.write_string(row, 7, record["check_next"], formats.wrap)
    return row


def write_excel(result: RunResult, out: Path, language: str | None = None) -> list[Path]:
    """Write ``report.xlsx`` into ``out``, in ``language`` (default: the run's policy's) and the policy's
    calendar."""
    policy = result.policy
    language = i18n.check_language(language or getattr(policy, "language", None) or i18n.DEFAULT_LANGUAGE)
    with i18n.presentation(language, getattr(policy, "calendar", None) or "gregorian"):
        return _write_excel(result, out)


def _write_excel(result: RunResult, out: Path) -> list[Path]:
    path = Path(out) / WORKBOOK_NAME
    book = xlsxwriter.Workbook(str(path), {"nan_inf_to_errors": False, "strings_to_formulas": False,
                                           "strings_to_urls": False})
    book.set_properties({"title": f"Sales audit run {result.run_id}", "created": _created(result),
                         "comments": "written by sales-audit"})
    formats = _Formats(book)
    exceptions = result.exceptions
    order = summaries.by_pattern(result)["pattern"].tolist()
    names = {"Summary": t("Summary"), "Exceptions": t("Exceptions"), "Resolved": t("Resolved"),
             "Detectors": t("Detectors"), "Data quality": t("Data quality")}
    fixed = set(names.values())
    pattern_sheets = _sheet_names(order, fixed, label=_pattern_sheet_name)
    row_of = {}  # exception_id -> its 0-based row on its pattern sheet
    for pattern in order:
        ids = exceptions.loc[exceptions["pattern"] == pattern, "exception_id"]
        row_of.update({exception_id: row for row, exception_id in enumerate(ids, start=1)})
    _summary_sheet(book, formats, result, pattern_sheets, row_of)
    _table_sheet(book, formats, names["Exceptions"], _exceptions_frame(result, exceptions)[RANKED_SHEET_COLUMNS])
    for pattern in order:
        _table_sheet(book, formats, pattern_sheets[pattern],
                     _exceptions_frame(result, exceptions[exceptions["pattern"] == pattern]))
    _table_sheet(book, formats, names["Resolved"], frame_as_text(_with_pattern_names(result.resolved)))
    _table_sheet(book, formats, names["Detectors"], _with_pattern_names(result.detector_runs))
    _table_sheet(book, formats, names["Data quality"], result.data_quality)
    view_names = sorted(n for n, f in (result.views or {}).items() if isinstance(f, pd.DataFrame))
    for name, sheet_name in _sheet_names(view_names, fixed | set(pattern_sheets.values()),
                                         label=_view_sheet_name).items():
        _table_sheet(book, formats, sheet_name, result.views[name])
    book.close()
    return [path]
