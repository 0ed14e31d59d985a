"""Languages and calendars: the catalogues are complete, Persian reports are right to left with their own
font, digits and calendar, the figures keep their meaning in every language, and --lang picks the language."""

from __future__ import annotations

import base64
import datetime as dt
import re
from dataclasses import replace
from importlib.resources import files
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from typer.testing import CliRunner

import audit
from audit import i18n
from audit.cli import app
from audit.policy import PolicyError, policy_from_dict
from reports import summaries
from reports.html import render_html

from .conftest import MINI

ROOT = Path(__file__).resolve().parent.parent
PERSIAN_DIGIT = re.compile("[۰-۹]")
PERSIAN_LETTERS = re.compile("[\u0600-\u06ff]")
CHINESE_LETTERS = re.compile("[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def mini_run():
    return audit.run(MINI, policy=MINI / "policy.toml")


def _presented(result, language: str, calendar: str = "gregorian"):
    return replace(result, policy=result.policy.model_copy(update={"language": language, "calendar": calendar}))


@pytest.fixture(scope="module")
def persian_html(mini_run) -> str:
    return render_html(_presented(mini_run, "fa", "jalali"))


# ---------------------------------------------------------------------------------------------- catalogues

def _extracted() -> set:
    """Every message the code and the report template mark, found as `pybabel extract -F babel.cfg` does."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config)
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), **i18n.EXTRACT_KEYWORDS}
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=keywords):
        found.add(message)
    return {m for m in found if m}


@pytest.mark.parametrize("language", ["fa", "zh"])
def test_every_marked_message_is_translated(language):
    with i18n.catalogue_path(language).open("rb") as source:
        catalog = read_po(source, locale=language)
    translated = {m.id: m for m in catalog if m.id}
    marked = _extracted()
    assert len(marked) > 200  # the report, the workbook, the console and the pattern names
    missing = sorted(str(m) for m in marked if m not in translated)
    assert not missing, f"not in the {language} catalogue (run pybabel update, see docs/languages.md): {missing}"
    empty = sorted(str(m.id) for m in translated.values()
                   if m.fuzzy or not (all(m.string) if isinstance(m.string, tuple) else m.string))
    assert not empty, f"untranslated or fuzzy in {language}: {empty}"
    # every translation keeps the placeholders of its source (Babel's python-format check)
    problems = [(str(message.id), [str(e) for e in errors]) for message, errors in catalog.check()]
    assert not problems, problems


def test_english_is_the_source_and_other_languages_translate():
    with i18n.use_language("fa"):
        assert i18n.t("Summary") == "خلاصه"
        assert i18n.tn("%(num)s finding", "%(num)s findings", 3, num=3) == "۳ یافته"
        assert audit.contract.pattern_label("cheque_withheld") == "چک یا وجه نقد نگه داشته‌شده"
    with i18n.use_language("zh"):
        assert i18n.t("Summary") == "摘要"
    assert i18n.t("Summary") == "Summary"
    assert audit.contract.pattern_label("cheque_withheld") == "Cheque or cash held back"


# ---------------------------------------------------------------------------------------------- numbers, dates

def test_numbers_in_each_language_and_back():
    assert i18n.format_number(1234567.5, 1, "fa") == "۱٬۲۳۴٬۵۶۷٫۵"
    assert i18n.format_number(1234567, 0, "zh") == "1,234,567"
    assert i18n.parse_number(i18n.format_money(-9876543.4, "fa")) == -9876543
    for value in (0, 7, 1234.5, 86_940_000, 35_400_000_000.25):
        for language in i18n.LANGUAGES:
            assert i18n.parse_number(i18n.format_number(value, 2, language)) == pytest.approx(value)
    assert i18n.parse_number("٣٬٤٥٦") == 3456  # Arabic-Indic digits too


def test_jalali_dates_and_months():
    assert i18n.format_date("2024-04-03", "jalali", "fa") == "۱۴۰۳/۰۱/۱۵"
    assert i18n.format_date(pd.Timestamp("2024-04-03"), "jalali", "en") == "1403/01/15"
    assert i18n.format_date(dt.date(2024, 4, 3), "gregorian", "zh") == "2024-04-03"
    assert i18n.format_date(None, "jalali") == ""
    # a Gregorian month straddles two Jalali months
    assert i18n.format_period("2024-04", "jalali", "en") == "1403/01–1403/02"
    assert i18n.format_period("2024-04", "gregorian", "en") == "2024-04"
    assert i18n.format_period("no month", "jalali", "fa") == "no month"


def test_unknown_language_and_calendar_are_clear_errors():
    with pytest.raises(i18n.LanguageError, match="choose one of en .*fa .*zh"):
        i18n.check_language("de")
    assert i18n.check_language("fa_IR") == "fa"
    with pytest.raises(PolicyError, match="language"):
        policy_from_dict({"language": "de"})
    assert policy_from_dict({"language": "zh"}).language == "zh"
    assert policy_from_dict({}).language == "en"


# ---------------------------------------------------------------------------------------------- the report

def test_persian_report_is_right_to_left_with_its_own_font(persian_html):
    assert '<html lang="fa" dir="rtl">' in persian_html
    font = re.search(r'@font-face \{ font-family: "Vazirmatn";.*?base64,([A-Za-z0-9+/=]+)\)', persian_html)
    assert font, "the Persian font is not embedded"
    shipped = files("reports").joinpath("fonts", "Vazirmatn-NL-wght.woff2").read_bytes()
    assert base64.b64decode(font.group(1)) == shipped
    assert '"Vazirmatn"' in re.search(r"--font: ([^;]+);", persian_html).group(1)
    assert "<h2>اول به این‌ها رسیدگی کنید</h2>" in persian_html  # "Act on these first"
    assert "Act on these first" not in persian_html
    card = re.search(r'<div class="card risk"><div class="v">([^<]+)</div>', persian_html).group(1)
    assert PERSIAN_DIGIT.search(card) and not re.search("[0-9]", card)


def test_english_and_chinese_reports(mini_run):
    english = render_html(mini_run)
    assert '<html lang="en" dir="ltr">' in english and "@font-face" not in english
    chinese = render_html(_presented(mini_run, "zh"))
    assert '<html lang="zh" dir="ltr">' in chinese and "<h2>优先处理</h2>" in chinese
    assert "Noto Sans CJK SC" in chinese and "@font-face" not in chinese
    card = re.search(r'<div class="card risk"><div class="v">([^<]+)</div>', chinese).group(1)
    assert not PERSIAN_DIGIT.search(card) and re.search("[0-9]", card)


def test_jalali_dates_in_the_report_with_the_gregorian_on_hover(mini_run, persian_html):
    customers = mini_run.tables.frames["customers"]
    created = pd.Timestamp(customers["created_date"].dropna().iloc[0])
    iso = created.strftime("%Y-%m-%d")
    shown = i18n.format_date(created, "jalali", "fa")
    assert f'<time datetime="{iso}" title="{iso}">{shown}</time>' in persian_html
    english = render_html(mini_run)
    assert f'<time datetime="{iso}" title="{iso}">{iso}</time>' in english
    jalali_english = render_html(_presented(mini_run, "en", "jalali"))
    assert f'<time datetime="{iso}" title="{iso}">{i18n.format_date(created, "jalali", "en")}</time>' in \
        jalali_english


def _cells(html: str, table_id: str) -> list[list[str]]:
    body = re.search(rf'<table class="grid[^"]*" id="{table_id}">.*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    return [[re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)]


def test_persian_report_figures_read_back(mini_run, persian_html):
    """Numbers keep their meaning in every language: the Persian report's figures, read back from Persian
    digits, are the run's own."""
    headline = summaries.headline(mini_run.exceptions)
    cards = re.findall(r'<div class="card[^"]*"><div class="v">([^<]+)</div>', persian_html)
    assert i18n.parse_number(cards[0]) == round(headline.money_at_risk)
    assert str(len(mini_run.exceptions)) not in cards  # written in Persian digits ...
    assert len(mini_run.exceptions) in [i18n.parse_number(c) for c in cards]  # ... and the same number
    worklist = summaries.worklist(mini_run)
    rows = _cells(persian_html, "t-worklist")
    assert len(rows) == len(worklist) > 0
    for row, expected in zip(rows, worklist.to_dict(orient="records"), strict=True):
        assert PERSIAN_DIGIT.search(row[3])
        assert i18n.parse_number(row[0]) == expected["rank"]
        assert i18n.parse_number(row[3]) == round(expected["risk_amount"])
    by_pattern = summaries.by_pattern(mini_run)
    table = _cells(persian_html, "t-patterns")
    assert [i18n.parse_number(r[1]) for r in table] == by_pattern["findings"].tolist()
    assert [i18n.parse_number(r[2]) for r in table] == by_pattern["risk_amount"].round().tolist()


# ---------------------------------------------------------------------------------------------- the workbook

def test_persian_workbook_is_right_to_left_with_jalali_beside_real_dates(mini_run, tmp_path):
    path = _presented(mini_run, "fa", "jalali").to_excel(tmp_path / "report.xlsx")
    book = openpyxl.load_workbook(path)
    assert book.sheetnames[0] == "خلاصه" and "یافته‌ها" in book.sheetnames
    assert all(sheet.sheet_view.rightToLeft for sheet in book.worksheets)
    assert all(len(name) <= 31 for name in book.sheetnames)
    assert len({name.lower() for name in book.sheetnames}) == len(book.sheetnames)
    ranked = book["یافته‌ها"]
    headers = [c.value for c in ranked[1]]
    assert "مبلغ در معرض خطر" in headers and "risk_amount" not in headers
    period = headers.index("دوره")
    assert headers[period + 1] == "دوره (شمسی)"
    for row in ranked.iter_rows(min_row=2, values_only=True):
        if row[period]:
            assert row[period + 1] == i18n.format_period(row[period], "jalali", "fa")
    aging = book["سنی بدهی به تفکیک مشتری"]
    headers = [c.value for c in aging[1]]
    as_of = headers.index("تا تاریخ")
    assert headers[as_of + 1] == "تا تاریخ (شمسی)"
    real, jalali = aging.cell(2, as_of + 1).value, aging.cell(2, as_of + 2).value
    assert isinstance(real, dt.datetime)  # the real date stays a date: sorting and filters work
    assert jalali == i18n.format_date(real, "jalali", "fa")


def test_english_workbook_stays_left_to_right_without_jalali(mini_run, tmp_path):
    book = openpyxl.load_workbook(mini_run.to_excel(tmp_path / "report.xlsx"))
    assert book.sheetnames[0] == "Summary"
    assert not any(sheet.sheet_view.rightToLeft for sheet in book.worksheets)
    assert not any("Jalali" in str(c.value) for c in book["Exceptions"][1])


# ---------------------------------------------------------------------------------------------- the command line

runner = CliRunner()


def test_lang_overrides_the_policy_and_data_stays_iso(tmp_path):
    policy = tmp_path / "policy.toml"  # the mini ledger's policy, in Chinese
    policy.write_text('language = "zh"\n' + (MINI / "policy.toml").read_text(encoding="utf-8"), encoding="utf-8")
    chinese = runner.invoke(app, ["run", "--data", str(MINI), "--policy", str(policy), "--out",
                                  str(tmp_path / "zh"), "--format", "csv,html"])
    assert chinese.exit_code == 0, chinese.output
    assert "摘要" in (tmp_path / "zh" / "report.html").read_text(encoding="utf-8")
    assert "项排序后的异常已写入" in chinese.output  # the console speaks the policy's language
    persian = runner.invoke(app, ["run", "--data", str(MINI), "--policy", str(policy), "--out",
                                  str(tmp_path / "fa"), "--format", "csv,html", "--lang", "fa"])
    assert persian.exit_code == 0, persian.output
    assert '<html lang="fa" dir="rtl">' in (tmp_path / "fa" / "report.html").read_text(encoding="utf-8")
    assert "یافتهٔ رتبه‌بندی‌شده" in persian.output
    # the exceptions file is the same but for the findings' own words (title, explanation, check_next), which
    # are written in the run's language: ids, ISO dates, amounts, evidence and English pattern names included
    persian_rows, chinese_rows = (pd.read_csv(tmp_path / lang / "exceptions.csv", dtype=str, keep_default_na=False)
                                  for lang in ("fa", "zh"))
    worded = ["title", "explanation", "check_next"]
    pd.testing.assert_frame_equal(persian_rows.drop(columns=worded), chinese_rows.drop(columns=worded))
    assert not persian_rows.drop(columns=worded).apply(lambda c: c.str.contains(PERSIAN_DIGIT)).any().any()
    assert all(PERSIAN_LETTERS.search(text) for text in persian_rows["explanation"])
    assert all(CHINESE_LETTERS.search(text) for text in chinese_rows["explanation"])


def test_unknown_lang_is_a_one_line_error(tmp_path):
    result = runner.invoke(app, ["run", "--data", str(MINI), "--out", str(tmp_path / "x"), "--lang", "klingon"])
    assert result.exit_code == 2
    assert "--lang: unknown language 'klingon'; choose one of en (English), fa" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "x").exists()


def test_language_does_not_change_the_run_id():
    english = audit.run(MINI, policy=MINI / "policy.toml", detectors=["STD-02"])
    persian = audit.run(MINI, policy=MINI / "policy.toml", detectors=["STD-02"], language="fa")
    assert persian.policy.language == "fa"
    assert persian.run_id == english.run_id
    assert persian.exceptions.equals(english.exceptions)


def test_failure_notice_in_the_run_language(mini_run):
    runs = mini_run.detector_runs.copy()
    runs.loc[runs["detector"] == "SHP-01", ["status", "reason"]] = ["failed", "boom"]
    broken = replace(mini_run, detector_runs=runs)
    assert broken.failure_notice().startswith("INCOMPLETE RUN: 1 component(s) failed (SHP-01)")
    with i18n.use_language("fa"):
        assert broken.failure_notice().startswith("اجرای ناقص: ۱ جزء ناموفق بود (SHP-01)")
    assert "اجرای ناقص" in render_html(_presented(broken, "fa"))
