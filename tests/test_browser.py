"""The HTML report in a real browser: headless Chromium (Debian's ``chromium``) driven by Playwright.

Opened from file:// with the network unused: no console errors, no request leaves the file, the filters
change the visible rows, sorting and the detail row work, entity pages draw their timelines, and the
ledger's text cannot run script. Screenshots go to pytest's tmp_path.
"""

from __future__ import annotations

import copy
import re
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

import audit

from .conftest import MINI

CHROMIUM = Path("/usr/bin/chromium")
# Playwright's own browser downloads are not used: it drives the system's Chromium with these flags.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
HOSTILE = '<img src=x onerror="alert(1)">'

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium (Debian packages: chromium "
                                                     "fonts-liberation)"),
]


@pytest.fixture(scope="module")
def report_result():
    result = audit.run(MINI, policy=MINI / "policy.toml")
    tables = copy.deepcopy(result.tables)
    customers = tables.frames["customers"]
    customers.loc[customers["customer_id"] == "C2", "name"] = HOSTILE
    # wider and longer than the screen
    wide = pd.DataFrame({f"column_number_{i}": [123_456_789.0 * (i + row) for row in range(200)] for i in range(30)})
    views = {"aging_by_customer": pd.DataFrame({"customer_id": ["C1", "C3"], "current": [1.5e6, 0.0],
                                                "days_31_60": [0.0, 2.0e6]}),
             "aging_wide": wide,
             "entity_links": pd.DataFrame({"source": ["customer:C1", "customer:C3"],
                                           "target": ["customer:C3", "salesperson:S2"],
                                           "kind": ["shared_phone", "shared_address"]})}
    return replace(result, tables=tables, views=views)


def test_report_filters_sorts_and_draws_offline(report_result, tmp_path):
    from playwright.sync_api import sync_playwright

    exceptions = report_result.exceptions
    path = report_result.to_html(tmp_path / "report.html")
    errors: list[str] = []
    requests: list[str] = []
    dialogs: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: None if r.url.startswith(("file:", "data:", "blob:"))
                    else requests.append(r.url))
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

            page.goto(path.as_uri())
            page.wait_for_selector("#summary [data-fig='fig-pattern'] .main-svg")
            assert page.locator("#summary [data-fig='fig-trend'].js-plotly-plot").count() == 1
            page.screenshot(path=tmp_path / "summary.png", full_page=True)
            # the first screen is the worklist: above the totals, within the first view
            worklist = page.locator("#worklist").bounding_box()
            assert worklist["y"] < page.locator(".card.risk").bounding_box()["y"] and worklist["y"] < 400
            assert page.locator("#t-worklist tbody tr").count() == min(20, len(exceptions))
            # no plotly toolbar over the charts' top bars, even under the pointer
            page.hover("#summary [data-fig='fig-pattern']")
            assert page.locator("#summary .modebar").count() == 0
            # a worklist line opens its finding in the exception list
            first = exceptions[exceptions["status"] != "suppressed"].sort_values("rank").iloc[0]
            page.locator("#t-worklist a.finding-link").first.click()
            assert page.locator("#exceptions").is_visible()
            assert first["explanation"][:60] in page.locator("#exc-table tr.detail").inner_text()
            page.click("#tabs a[href='#summary']")

            page.click("#tabs a[href='#exceptions']")
            rows = page.locator("#exc-table tbody tr.exc-row")
            assert rows.count() == len(exceptions)
            page.select_option("#f-pattern", "unbilled_shipment")
            shipments = exceptions[exceptions["pattern"] == "unbilled_shipment"]
            assert rows.count() == len(shipments) < len(exceptions)
            assert page.locator("#exc-table tbody tr.exc-row td:nth-child(3)").all_inner_texts() == \
                ["Shipment without an invoice"] * len(shipments)  # the pattern's human name
            assert page.inner_text("#exc-count") == f"{len(shipments)} of {len(exceptions)} findings"
            page.select_option("#f-pattern", "")
            page.select_option("#f-region", "North")  # region comes from the salespeople table
            assert rows.count() == int((exceptions["salesperson_id"] == "S1").sum())
            page.click("#f-reset")
            page.select_option("#f-status", "new")
            assert rows.count() == int((exceptions["status"] == "new").sum())
            page.click("#f-reset")
            assert rows.count() == len(exceptions)

            money = page.locator("#exc-table th[data-key='risk_amount']")
            money.click()  # most money first
            money.click()  # then least
            shown = [float(t.replace(",", "")) for t in
                     page.locator("#exc-table tbody tr.exc-row td:nth-child(10)").all_inner_texts()]
            assert shown == sorted(exceptions["risk_amount"].round().tolist())

            # The title cell: a click on the salesperson or customer cell follows that link instead.
            rows.first.locator("td").nth(3).click()
            detail = page.locator("#exc-table tr.detail")
            assert detail.count() == 1
            first = exceptions.sort_values("risk_amount", kind="mergesort").iloc[0]
            assert first["explanation"][:60] in detail.inner_text()
            page.screenshot(path=tmp_path / "exceptions.png", full_page=True)

            page.evaluate("location.hash = '#customer-C3'")
            page.wait_for_selector("#customer-C3[open] .chart .main-svg")
            own = exceptions[exceptions["customer_id"] == "C3"]
            assert page.locator("#customer-C3 .entity-findings tbody tr").count() == len(own)
            page.screenshot(path=tmp_path / "customer.png", full_page=True)
            page.locator("#customer-C3 .entity-findings a", has_text="in the exception list").click()
            assert page.locator("#exceptions").is_visible() and rows.count() == len(own)

            page.click("#tabs a[href='#links']")
            page.wait_for_selector("#links .chart .main-svg")
            page.click("#tabs a[href='#analyses']")
            assert page.locator("#view-aging_by_customer tbody tr").count() == 2
            # a wide, long table scrolls inside its card: nothing runs past the card's right edge, and its
            # scroll bar is on the screen, not 200 rows down
            page.click("#view-aging_wide > summary")
            card = page.locator("#view-aging_wide").bounding_box()
            wrap = page.locator("#view-aging_wide .table-wrap")
            box = wrap.bounding_box()
            assert box["x"] + box["width"] <= card["x"] + card["width"] + 1
            assert wrap.evaluate("w => w.scrollWidth > w.clientWidth && w.scrollHeight > w.clientHeight")
            assert box["height"] <= 0.8 * page.viewport_size["height"]
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        finally:
            browser.close()
    assert errors == [], errors
    assert requests == [], f"the report fetched {requests}"
    assert dialogs == [], "text from the ledger ran as script"
    for name in ("summary.png", "exceptions.png", "customer.png"):
        assert (tmp_path / name).stat().st_size > 20_000


@pytest.mark.parametrize("language", ["en", "fa"])
def test_english_and_persian_reports_open_on_the_worklist(report_result, language, tmp_path):
    """The report in English and in Persian (right to left, its own font, Persian digits, Jalali dates):
    each opens on the worklist, draws without console errors, and sorts its numbers."""
    from playwright.sync_api import sync_playwright

    from audit.i18n import parse_number

    policy = report_result.policy.model_copy(update={"language": language, "calendar": "jalali"
                                                     if language == "fa" else "gregorian"})
    path = replace(report_result, policy=policy).to_html(tmp_path / f"report-{language}.html")
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(path.as_uri())
            page.wait_for_selector("#summary [data-fig='fig-pattern'] .main-svg")
            page.screenshot(path=tmp_path / f"report-{language}.png", full_page=True)
            # the worklist is the summary's first section, above the totals and on the first screen
            first = page.evaluate("document.querySelector('#summary h1').nextElementSibling.id")
            assert first == "worklist"
            worklist = page.locator("#worklist").bounding_box()
            assert worklist["y"] < page.locator(".card.risk").bounding_box()["y"] and worklist["y"] < 400
            assert page.locator("#t-worklist tbody tr").count() == min(20, len(report_result.exceptions))
            direction = page.evaluate("getComputedStyle(document.body).direction")
            money = page.locator("#t-worklist tbody tr td:nth-child(4)").all_inner_texts()
            if language == "fa":
                assert direction == "rtl"
                assert page.evaluate("document.fonts.check('16px Vazirmatn')")
                assert page.evaluate("[...document.fonts].some(f => f.family.includes('Vazirmatn') && "
                                     "f.status === 'loaded')")
                assert all(re.search("[۰-۹]", m) for m in money)
                # mirrored: the worklist's first column (rank) is at the right
                cells = page.locator("#t-worklist tbody tr").first.locator("td")
                assert cells.nth(0).bounding_box()["x"] > cells.nth(4).bounding_box()["x"]
                assert page.locator("#t-worklist th").nth(1).inner_text() == "چه کسی"
            else:
                assert direction == "ltr"
            worklist_rows = report_result.exceptions[report_result.exceptions["status"] != "suppressed"]
            assert sorted(parse_number(m) for m in money) == sorted(
                worklist_rows.sort_values("rank")["risk_amount"].round().head(20).tolist())
            # the exception list sorts by money in the report's own digits
            page.click("#tabs a[href='#exceptions']")
            page.locator("#exc-table th[data-key='risk_amount']").click()
            shown = [parse_number(t) for t in
                     page.locator("#exc-table tbody tr.exc-row td:nth-child(10)").all_inner_texts()]
            assert shown == sorted(shown, reverse=True) and len(shown) == len(report_result.exceptions)
            page.click("#tabs a[href='#customers']")
            page.evaluate("location.hash = '#customer-C3'")
            page.wait_for_selector("#customer-C3[open] .chart .main-svg")
            page.screenshot(path=tmp_path / f"customer-{language}.png", full_page=True)
        finally:
            browser.close()
    assert errors == [], errors
    assert (tmp_path / f"report-{language}.png").stat().st_size > 20_000
