"""The HTML report, the Excel workbook, month over month in both, the Python API and `audit run --format`."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from dataclasses import replace

import numpy as np
import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

import audit
from audit.cli import app
from audit.contract import PATTERNS, pattern_label
from audit.registry import writers
from audit.result import RunResult
from reports import html as html_report
from reports import summaries
from reports.excel import readable_sheet_name, write_excel
from reports.html import render_html, write_html
from reports.runs import load_run
from reports.timeline import _iso_text

from .conftest import MINI

runner = CliRunner()
HOSTILE = '</script><img src=x onerror="alert(1)">'


def _json_block(page: str, block_id: str):
    match = re.search(rf'<script type="application/json" id="{block_id}">(.*?)</script>', page, re.S)
    assert match, block_id
    return json.loads(match.group(1))


@pytest.fixture(scope="module")
def mini_result() -> RunResult:
    return audit.run(MINI, policy=MINI / "policy.toml")


@pytest.fixture(scope="module")
def rich_result(mini_result) -> RunResult:
    """The mini run with analysis views (aging, collections, entity links) and a hostile customer name."""
    tables = copy.deepcopy(mini_result.tables)
    customers = tables.frames["customers"]
    customers.loc[customers["customer_id"] == "C3", "name"] = HOSTILE
    views = {
        "collections_ladder": pd.DataFrame({"customer_id": ["C3"], "step": ["letter_1"], "days_overdue": [20]}),
        "aging_by_customer": pd.DataFrame({"customer_id": ["C1", "C3"], "current": [1.5e6, 0.0],
                                           "days_31_60": [0.0, 2.0e6]}),
        "entity_links": pd.DataFrame({"source": ["customer:C1", "customer:C3", "customer:C2"],
                                      "target": ["customer:C3", "salesperson:S2", "customer:C9"],
                                      "kind": ["shared_phone", "shared_address", "cheque_drawer"],
                                      "similarity": [1.0, 0.93, 1.0]}),
    }
    return replace(mini_result, tables=tables, views=views)


def test_html_is_self_contained_with_plotly_embedded_once(mini_result, tmp_path):
    path = write_html(mini_result, tmp_path)[0]
    page = path.read_text(encoding="utf-8")
    from plotly.offline import get_plotlyjs

    banner = get_plotlyjs()[:40]
    assert page.count(banner) == 1
    # Nothing is fetched: no external scripts, stylesheets, images or fonts.
    assert not re.search(r'<(script|link|img|iframe)[^>]+(src|href)="(https?:)?//', page)
    assert "@import" not in page and "url(http" not in page
    data = _json_block(page, "data-exceptions")
    assert [row[0] for row in data["rows"]] == mini_result.exceptions["rank"].tolist()
    assert {row[data["fields"].index("pattern")] for row in data["rows"]} == set(mini_result.exceptions["pattern"])


def test_summary_money_by_pattern_and_salesperson_trend_and_not_run(mini_result):
    page = render_html(mini_result)
    figures = _json_block(page, "data-figures")
    by_pattern = figures["fig-pattern"]["data"][0]
    expected = mini_result.summary_by_pattern()
    assert dict(zip(by_pattern["customdata"], by_pattern["x"], strict=True)) == dict(
        zip(expected["pattern"], expected["risk_amount"], strict=True))
    people = figures["fig-salesperson"]["data"][0]
    assert set(people["customdata"]) == {"S1", "S2"}
    assert figures["fig-trend"]["data"][0]["x"] == ["2025-04"]
    # A detector that could not run is listed with what it needs.
    statuses = mini_result.detector_runs.copy()
    statuses.loc[statuses["detector"] == "CHQ-02", ["status", "reason"]] = ["not run", "needs cheques.due_date"]
    without_cheque_check = replace(mini_result, detector_runs=statuses)
    assert "needs cheques.due_date" in render_html(without_cheque_check)
    # Each salesperson and customer with findings has a page with its timeline.
    for entity in ("salesperson-S1", "salesperson-S2", "customer-C2", "customer-C3"):
        assert f'id="{entity}"' in page and f"tl-{entity}" in figures
    timeline = figures["tl-customer-C3"]
    lanes = {trace["name"] for trace in timeline["data"]}
    assert {"Invoices", "Cheques", "Shipments"} <= lanes
    invoices = next(t for t in timeline["data"] if t["name"] == "Invoices")
    assert invoices["marker"]["line"]["width"] == [3]  # invoice I3 is in a finding: outlined


def test_views_rendered_generically_and_links_drawn(rich_result):
    page = render_html(rich_result)
    aging, collections = page.index('id="view-aging_by_customer"'), page.index('id="view-collections_ladder"')
    assert aging < collections  # aging first, then collections, then the rest
    # a known analysis table under its name in words, any other under its own name
    assert "<h2>Aging by customer</h2>" in page and "<h2>collections_ladder</h2>" in page
    figures = _json_block(page, "data-figures")
    network = figures["fig-network"]
    nodes = {x for trace in network["data"] if trace["mode"].startswith("markers") and "hovertext" in trace
             for x in trace["hovertext"]}
    assert len(nodes) == 5 and any("customer:C3" in n and "named in a finding" in n for n in nodes)
    assert {t["name"] for t in network["data"] if t["mode"] == "lines"} == {"shared_phone", "shared_address",
                                                                           "cheque_drawer"}


def test_summary_opens_on_the_worklist_then_the_headline(rich_result):
    page = render_html(rich_result)
    summary = page[page.index('<section class="page" id="summary">'):page.index('<section class="page" id="exceptions">')]
    # the findings to act on come first, then the totals, then the charts
    assert summary.index("Act on these first") < summary.index('class="card risk"') < summary.index("fig-pattern")
    work = summaries.worklist(rich_result)
    rows = re.findall(r'<tr data-id="([0-9a-f]+)">', summary)
    assert rows == work["exception_id"].tolist() and len(rows) == min(20, len(rich_result.exceptions))
    first = summary[summary.index(f'<tr data-id="{rows[0]}">'):]
    first = first[:first.index("</tr>")]
    assert work["what"].iloc[0] in first and f'{work["risk_amount"].iloc[0]:,.0f}' in first
    assert 'class="finding-link"' in first
    headline = summaries.headline(rich_result.exceptions).money_at_risk
    card = re.search(r'<div class="card risk"><div class="v">([\d,]+)</div>', summary).group(1)
    assert card == f"{headline:,.0f}"


def test_patterns_by_their_human_names_and_no_toolbar_over_the_charts(rich_result):
    page = render_html(rich_result)
    lookup = _json_block(page, "data-lookup")
    assert lookup["patterns"]["price_deviation"] == "Price off the list"
    figures = _json_block(page, "data-figures")
    assert "Price off the list" in figures["fig-pattern"]["data"][0]["y"]
    assert "price_deviation" in figures["fig-pattern"]["data"][0]["customdata"]  # the click still filters
    trend = [t for t in figures["fig-trend"]["data"] if t["type"] == "bar"]
    assert {t["meta"] for t in trend} == set(rich_result.exceptions["pattern"])
    assert {t["name"] for t in trend} == {pattern_label(p) for p in rich_result.exceptions["pattern"]}
    by_pattern = page[page.index('id="t-patterns"'):]
    by_pattern = by_pattern[:by_pattern.index("</table>")]
    assert 'data-value="price_deviation">Price off the list</a>' in by_pattern
    assert ">price_deviation<" not in by_pattern
    assert "displayModeBar: false" in page


def test_entity_graph_names_its_nodes_and_its_counts_agree(rich_result):
    links = rich_result.views["entity_links"]
    doubled = pd.concat([links, links.assign(kind="shared_name")], ignore_index=True)  # two kinds per pair
    page = render_html(replace(rich_result, views={**rich_result.views, "entity_links": doubled}))
    section = page[page.index('<section class="page" id="links">'):]
    assert "6 links (shared phone" in section and "join 5 entities in 3 pairs" in section
    assert "All 6 links" in section
    network = _json_block(page, "data-figures")["fig-network"]
    labels = [text for trace in network["data"] if trace.get("mode") == "markers+text" for text in trace["text"]]
    names = rich_result.tables.frames["customers"].set_index("customer_id")["name"]
    assert names["C1"] in labels  # the customer's name, not its id
    assert "C9" in labels  # a node the ledger does not name keeps its id


def test_node_labels_are_shortened():
    from reports.network import short_label

    assert short_label("Ghorbani Distribution Company") == "Ghorbani Distribu…"  # 18 characters
    assert short_label("Zargar-Moghaddam Store Number 2") == "Zargar-Moghaddam…"  # cut at a word
    assert short_label("  Day   Mart ") == "Day Mart"


def test_ledger_text_cannot_break_out_of_the_page(rich_result):
    page = render_html(rich_result)
    assert HOSTILE not in page and "<img src=x" not in page
    lookup = _json_block(page, "data-lookup")
    assert lookup["customers"]["C3"]["name"] == HOSTILE  # intact once parsed


def test_five_thousand_findings_stay_a_few_megabytes(mini_result):
    n = 5000
    rng = np.random.default_rng(7)
    base = mini_result.exceptions.iloc[np.arange(n) % len(mini_result.exceptions)].reset_index(drop=True)
    many = base.assign(exception_id=[f"{i:016x}" for i in range(n)], rank=np.arange(1, n + 1),
                       pattern=[PATTERNS[i % len(PATTERNS)] for i in range(n)],
                       customer_id=[f"K{i:04d}" for i in rng.integers(0, 1500, n)],
                       risk_amount=np.sort(rng.gamma(2.0, 1e6, n))[::-1],
                       status=rng.choice(["new", "repeat", "suppressed"], n))
    page = render_html(replace(mini_result, exceptions=many))
    # explanations end with what to check next (about 160 characters more each: 11.7 -> 12.5 MB here)
    assert len(page.encode()) < 13_000_000
    assert len(_json_block(page, "data-exceptions")["rows"]) == n
    assert page.count('data-kind="customer"') == html_report.MAX_ENTITY_PAGES
    assert f"Pages for the {html_report.MAX_ENTITY_PAGES} customers" in page


def _pattern_rows(sheet) -> list[dict]:
    header = [c.value for c in sheet[1]]
    return [dict(zip(header, (c.value for c in row), strict=True)) for row in sheet.iter_rows(min_row=2)]


def test_workbook_sheets_frozen_filtered_formatted_and_linked(rich_result, tmp_path):
    result = replace(rich_result, exceptions=rich_result.exceptions.assign(
        title=rich_result.exceptions["title"].where(rich_result.exceptions["pattern"] != "price_deviation", "=1+1")))
    book = openpyxl.load_workbook(write_excel(result, tmp_path)[0])
    patterns = result.summary_by_pattern()["pattern"].tolist()
    sheet_of = {p: readable_sheet_name(pattern_label(p)) for p in patterns}  # the human names
    assert book.sheetnames[:2] == ["Summary", "Exceptions"]
    assert book.sheetnames[2:2 + len(patterns)] == [sheet_of[p] for p in patterns]
    assert {"Resolved", "Detectors", "Data quality", "Aging by customer", "Entity links"} <= set(book.sheetnames)
    for name in ["Exceptions", *patterns]:
        sheet = book[sheet_of.get(name, name)]
        rows = _pattern_rows(sheet)
        expected = result.exceptions if name == "Exceptions" else result.exceptions[result.exceptions["pattern"] == name]
        assert [r["exception_id"] for r in rows] == expected["exception_id"].tolist()
        assert sheet.freeze_panes == "A2"
        assert sheet.auto_filter.ref == f"A1:{sheet.cell(1, sheet.max_column).column_letter}{len(rows) + 1}"
        header = [c.value for c in sheet[1]]
        assert sheet.cell(2, header.index("risk_amount") + 1).number_format == "#,##0"
        assert sheet.cell(2, header.index("score") + 1).number_format == "0.00"
    # Text from the ledger is never a formula.
    detectors = _pattern_rows(book["Detectors"])
    assert {r["what"] for r in detectors if r["pattern"] == "price_deviation"} == {"Price off the list"}
    price_sheet = book["Price off the list"]
    price = _pattern_rows(price_sheet)
    assert {r["what"] for r in price} == {"Price off the list"}
    cell = price_sheet.cell(2, [c.value for c in price_sheet[1]].index("title") + 1)
    assert price[0]["title"] == "=1+1" and cell.data_type == "s"
    summary = book["Summary"]
    links = {c.value: c.hyperlink.location for row in summary.iter_rows() for c in row if c.hyperlink}
    for pattern in patterns:
        assert links[pattern_label(pattern)] == f"'{sheet_of[pattern]}'!A1"
    # Each top finding links to its own row on its pattern sheet.
    for record in result.exceptions.to_dict(orient="records"):
        location = links[f"{pattern_label(record['pattern'])} #{record['rank']}"]
        sheet_name, cell_ref = location.rsplit("!", 1)
        target = book[sheet_name.strip("'")]
        row = int(cell_ref[1:])
        header = [c.value for c in target[1]]
        assert target.cell(row, header.index("exception_id") + 1).value == record["exception_id"]
    money = next(row for row in summary.iter_rows() if row[0].value == "money at risk (each record once)")
    assert money[1].value == pytest.approx(summaries.headline(result.exceptions).money_at_risk)
    # The summary opens on the worklist: its first lines are the top findings, linked to their rows.
    cells = [row[0].value for row in summary.iter_rows(max_col=1)]
    start = cells.index("Act on these first")
    assert start < cells.index("Totals") < cells.index("What this audit could and could not check")
    work = summaries.worklist(result)
    first = summary.cell(start + 3, 1)
    assert first.value.startswith(work["what"].iloc[0])
    sheet_name, cell_ref = first.hyperlink.location.rsplit("!", 1)
    target = book[sheet_name.strip("'")]
    header = [c.value for c in target[1]]
    assert target.cell(int(cell_ref[1:]), header.index("exception_id") + 1).value == work["exception_id"].iloc[0]


def test_sheet_names_are_readable_short_and_unique():
    from reports.excel import _sheet_names

    long = ["confirmation_differences_by_salesperson", "confirmation_differences_by_customer",
            "aging_by_customer", "Aging by customer"]
    names = _sheet_names(long, {"Summary"})
    assert names["confirmation_differences_by_salesperson"] == "Confirmation diffs by salesp."
    assert names["confirmation_differences_by_customer"] == "Confirmation diffs by customer"
    assert names["aging_by_customer"] == "Aging by customer"
    assert names["Aging by customer"] == "Aging by customer (2)"
    assert readable_sheet_name("Customer payment swapped for the salesperson's own") == \
        "Customer payment swapped…"
    assert len(readable_sheet_name("x" * 60)) == 31 and readable_sheet_name("odd[name]") == "Odd-name-"


def test_month_over_month_status_and_resolved_in_report_and_workbook(mini_copy, tmp_path):
    # Only the two detectors the story needs: cheque maturity (Q1 new, Q2 repeat) and unbilled shipments (SH4).
    chosen = ["CHQ-02", "SHP-01"]
    march = audit.run(mini_copy, policy=mini_copy / "policy.toml", detectors=chosen)
    march.write(tmp_path / "march")
    for table in ("shipments", "shipment_lines"):  # SH4 disappears: its finding is resolved
        frame = pd.read_csv(mini_copy / f"{table}.csv", dtype=str)
        frame[frame["shipment_id"] != "SH4"].to_csv(mini_copy / f"{table}.csv", index=False)
    cheques = pd.read_csv(mini_copy / "cheques.csv", dtype=str)  # Q1 now matures in 173 days: a new finding
    cheques.loc[cheques["cheque_id"] == "Q1", "due_date"] = "2025-08-30"
    cheques.to_csv(mini_copy / "cheques.csv", index=False)
    april = audit.run(mini_copy, policy=mini_copy / "policy.toml", previous=tmp_path / "march", detectors=chosen)
    status = dict(zip(april.exceptions["exception_id"], april.exceptions["status"], strict=True))
    by_entity = april.exceptions.set_index(["pattern", "entity_id"])["status"]
    assert by_entity["cheque_maturity_over_policy", "Q1"] == "new"
    assert by_entity["cheque_maturity_over_policy", "Q2"] == "repeat"
    assert april.resolved["entity_id"].tolist() == ["SH4"]

    page = april.to_html(tmp_path / "april.html").read_text(encoding="utf-8")
    data = _json_block(page, "data-exceptions")
    shown = {row[data["fields"].index("exception_id")]: row[data["fields"].index("status")] for row in data["rows"]}
    assert shown == status
    resolved_section = page[page.index('<section class="page" id="resolved">'):page.index('id="salespeople"')]
    assert "SH4" in resolved_section and april.resolved["exception_id"].iloc[0] in resolved_section

    book = openpyxl.load_workbook(april.to_excel(tmp_path / "april.xlsx"))
    assert [r["entity_id"] for r in _pattern_rows(book["Resolved"])] == ["SH4"]
    assert {r["exception_id"]: r["status"] for r in _pattern_rows(book["Exceptions"])} == status
    facts = {row[0].value: row[1].value for row in book["Summary"].iter_rows(max_col=2) if row[0].value}
    counts = april.exceptions["status"].value_counts()
    assert facts["new"] == counts["new"] >= 1 and facts["repeat"] == counts["repeat"] >= 1
    assert facts["resolved since the last run"] == 1


def test_python_api_writes_through_the_registry(mini_result, tmp_path):
    result = mini_result  # made by audit.run(MINI, policy=...)
    assert isinstance(result, RunResult)
    assert {"html", "excel", "export"} <= set(writers())
    (tmp_path / "report.html").write_text("an earlier report")
    assert result.to_html(tmp_path / "r.html") == tmp_path / "r.html" and (tmp_path / "r.html").stat().st_size
    assert (tmp_path / "report.html").read_text() == "an earlier report"  # a file path touches nothing else
    assert result.to_html(tmp_path / "folder") == tmp_path / "folder" / "report.html"
    assert result.to_excel(tmp_path / "w.xlsx") == tmp_path / "w.xlsx"
    assert openpyxl.load_workbook(tmp_path / "w.xlsx").sheetnames[0] == "Summary"
    written = result.export(tmp_path / "e")
    assert {p.name for p in written} >= {"SHA256SUMS", "export.zip", "exceptions.jsonl"}
    shown = result._repr_html_()
    assert result.run_id in shown and "cheque_maturity_over_policy" in shown


def test_reopened_run_renders_the_same_findings(rich_result, tmp_path):
    mini_result = rich_result
    mini_result.write(tmp_path, formats=("csv", "parquet", "manifest", "views"))
    reopened = load_run(tmp_path, data=MINI)
    pd.testing.assert_frame_equal(reopened.exceptions, mini_result.exceptions)
    assert set(reopened.views) == set(mini_result.views)
    pd.testing.assert_frame_equal(reopened.views["entity_links"], mini_result.views["entity_links"])
    assert set(reopened.tables.frames) == set(mini_result.tables.frames)
    assert reopened.policy == mini_result.policy
    data = _json_block(render_html(reopened), "data-exceptions")
    assert len(data["rows"]) == len(mini_result.exceptions)


def test_cli_run_writes_report_and_workbook_by_default(tmp_path):
    quick = ["--detector", "PRC-01"]  # the formats are under test, not the detectors
    result = runner.invoke(app, ["run", "--data", str(MINI), "--out", str(tmp_path / "all"), *quick])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "all" / "report.html").is_file() and (tmp_path / "all" / "report.xlsx").is_file()
    assert "report.html" in result.output
    only = runner.invoke(app, ["run", "--data", str(MINI), "--out", str(tmp_path / "csv"), "--format", "csv", *quick])
    assert only.exit_code == 0, only.output
    assert sorted(p.name for p in (tmp_path / "csv").iterdir()) == ["data_quality.csv", "detectors.csv",
                                                                    "exceptions.csv", "resolved.csv"]
    bad = runner.invoke(app, ["run", "--data", str(MINI), "--out", str(tmp_path / "bad"), "--format", "csv,pdf"])
    assert bad.exit_code == 2 and "pdf" in bad.output and "excel" in bad.output
    assert not (tmp_path / "bad").exists()  # refused before any work


def test_a_run_without_findings_still_reports(mini_result, tmp_path):
    from audit.ranking import empty_exceptions

    quiet = replace(mini_result, exceptions=empty_exceptions(), tables=None, views={})
    page = write_html(quiet, tmp_path)[0].read_text(encoding="utf-8")
    assert _json_block(page, "data-exceptions")["rows"] == [] and "No findings." in page
    book = openpyxl.load_workbook(write_excel(quiet, tmp_path)[0])
    assert book.sheetnames == ["Summary", "Exceptions", "Resolved", "Detectors", "Data quality"]
    assert book["Exceptions"].max_row == 1 and book["Exceptions"].freeze_panes == "A2"


NETWORK_IN_A_FRESH_PROCESS = """
import json, pandas as pd
from reports.network import link_graph, network_figure
# 60 pairs and 60 stars of five: more nodes than the drawing keeps, so it keeps whole components
links = [{"source": f"customer:C{i}", "target": f"customer:D{i}", "kind": "shared_phone"} for i in range(60)]
links += [{"source": f"salesperson:S{i}", "target": f"customer:E{i}-{j}", "kind": "shared_address"}
          for i in range(60) for j in range(4)]
figure = network_figure(link_graph(pd.DataFrame(links)), flagged={"customer:C3"}, max_nodes=150)
print(json.dumps(figure, sort_keys=True))
"""


def test_a_capped_network_is_drawn_the_same_in_every_process():
    # The set of kept nodes iterates in an order that follows each process's string hashing; the layout
    # must not, or two renderings of one run would differ.
    drawings = []
    for hash_seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run([sys.executable, "-c", NETWORK_IN_A_FRESH_PROCESS], env=env, capture_output=True,
                              text=True, check=True)
        drawings.append(done.stdout)
    figure = json.loads(drawings[0])
    shown = {x for trace in figure["data"] if trace["mode"].startswith("markers") and "hovertext" in trace
             for x in trace["hovertext"]}
    assert 100 < len(shown) <= 150 and "more nodes in smaller components" in figure["layout"]["title"]["text"]
    assert drawings[1] == drawings[0] and drawings[2] == drawings[0]


@pytest.mark.parametrize("dates", [
    pd.Series(pd.to_datetime(["2025-01-02 13:45:59", "1999-12-31 00:00:00", None, "1850-06-01 23:59:00"])),
    pd.Series(pd.to_datetime(["2025-03-21 00:30:00", None])).dt.tz_localize("Asia/Tehran"),
    pd.Series([], dtype="datetime64[ns]"),
    pd.Series(pd.to_datetime([None, None])),
], ids=["naive", "zoned", "empty", "all-missing"])
def test_timeline_dates_are_written_as_strftime_writes_them(dates):
    for unit, pattern in (("m", "%Y-%m-%d %H:%M"), ("D", "%Y-%m-%d")):
        expected = dates.dt.strftime(pattern).to_numpy(dtype=object)
        assert pd.Series(_iso_text(dates, unit), dtype=object).equals(pd.Series(expected, dtype=object))


LINK = '<a href="https://x">click</a>'


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def test_chart_labels_are_text_not_markup(mini_result):
    """plotly renders <a href> in labels and hover text: ledger text in every figure must arrive escaped."""
    tables = copy.deepcopy(mini_result.tables)
    people = tables.frames["salespeople"]
    people.loc[people["salesperson_id"] == "S1", "name"] = LINK
    invoices = tables.frames["invoices"]
    invoices["invoice_no"] = invoices["invoice_no"].astype(str) + LINK
    views = {"entity_links": pd.DataFrame({"source": ["customer:C1"], "target": [f"customer:{LINK}"],
                                           "kind": [f"shared_{LINK}"], "note": [LINK]})}
    figures = _json_block(render_html(replace(mini_result, tables=tables, views=views)), "data-figures")
    texts = list(_strings(figures))
    assert not [t for t in texts if "<a" in t.lower()], "a ledger value became a link in a chart"
    escaped = "&lt;a href=\"https://x\"&gt;click&lt;/a&gt;"
    for figure_id in ("fig-salesperson", "fig-network"):
        assert any(escaped in t for t in _strings(figures[figure_id])), figure_id
    timelines = [f for key, f in figures.items() if key.startswith("tl-")]
    assert any(escaped in t for f in timelines for t in _strings(f))
