"""Findings worded in Persian and Chinese (issue 21, item 4): every YAML detector case's findings, worded in
``fa`` and ``zh`` by the pattern's own wording function through the catalogues, read as whole sentences in that
language (no English sentence left), end with what to check next, and in Persian state the same figures as in
English, in Persian digits (read back with ``parse_number``)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

import audit
import audit.detector
from audit import i18n
from audit.registry import get_detector
from audit.testing import load_cases, run_detector

CASES_DIR = Path(__file__).parent / "detector_cases"
# A figure as any language writes it: digits (Western, Persian, Arabic-Indic) with their separators.
FIGURE = re.compile(r"[0-9۰-۹٠-٩](?:[0-9۰-۹٠-٩,٬،.٫]*[0-9۰-۹٠-٩])?")
PERSIAN_DIGIT = re.compile("[۰-۹]")
ENGLISH_WORD = re.compile(r"^[(\"'“]*[A-Za-z]+(?:['’][a-z]+)?[)\"'”,.;:!?]*$")


def _worded_cases():
    """(case id, [(detector, row, wording), ...]) for every case with findings, worded once in English."""
    for path in sorted(CASES_DIR.glob("[!_]*.yaml")):
        code, cases = load_cases(path)
        for case in cases:
            yield pytest.param(code, case, id=f"{path.stem}: {case.name}")


REAL_WORD = audit.detector.word


def _capture(code, case, monkeypatch) -> list[tuple[str, dict, object]]:
    worded = []
    real_word = REAL_WORD

    def capturing(wording, row, detector):
        worded.append((detector, dict(row), wording))
        return real_word(wording, row, detector)

    monkeypatch.setattr(audit.detector, "word", capturing)
    run_detector(get_detector(code), case.audit_tables(), case.audit_policy())
    return worded


def _strings(value) -> list[str]:
    """Every text inside a finding's row (names, ids, codes): what the words may quote as it is."""
    if isinstance(value, str):  # an entity reference ("employee:E1") is quoted by its parts
        return [value, *value.split(":")] if ":" in value else [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


def english_runs(text: str, quoted: list[str]) -> list[str]:
    """Runs of 4 or more English words in ``text`` once the finding's own texts (names, ids) are taken out."""
    for value in sorted((q for q in quoted if len(q) > 2), key=len, reverse=True):
        text = text.replace(value, " ")
    runs, current = [], []
    for token in text.split():
        if ENGLISH_WORD.match(token):
            current.append(token)
            continue
        if len(current) >= 4:
            runs.append(" ".join(current))
        current = []
    if len(current) >= 4:
        runs.append(" ".join(current))
    return runs


def english_free(text: str, quoted: list[str]) -> str:
    """``text`` without the finding's own texts (ids, codes, names)."""
    for value in sorted((q for q in quoted if q), key=len, reverse=True):
        text = text.replace(value, " ")
    return text


def figures(text: str, persian_only: bool = False) -> Counter:
    found = Counter()
    for match in FIGURE.finditer(text):
        if persian_only and not PERSIAN_DIGIT.search(match.group(0)):
            continue
        found[i18n.parse_number(match.group(0))] += 1
    return found


def test_the_english_word_runs_and_figures_are_found():
    assert english_runs("فاکتور INV-7 the customer has never bought it", []) == [
        "the customer has never bought it"]
    assert english_runs("مشتری Acme Trading Company Ltd بدهکار است", ["Acme Trading Company Ltd"]) == []
    assert figures("۱٬۲۳۴٫۵ و INV-0007 و 2025", persian_only=True) == Counter({1234.5: 1})
    assert figures("1,234.5 on INV-0007.") == Counter({1234.5: 1, 7: 1})


@pytest.mark.parametrize("code, case", list(_worded_cases()))
def test_findings_read_in_persian_and_chinese(code, case, monkeypatch):
    worded = _capture(code, case, monkeypatch)
    for detector, row, wording in worded:
        english = REAL_WORD(wording, row, detector)
        quoted = _strings(row)
        for language in ("fa", "zh"):
            with i18n.use_language(language):
                words = REAL_WORD(wording, row, detector)
            for field in ("title", "explanation", "check_next"):
                text = getattr(words, field)
                assert text.strip(), f"{detector} {row['entity_id']} {language}: empty {field}"
                assert text != getattr(english, field), f"{detector} {language}: {field} left in English: {text}"
                assert english_runs(text, quoted) == [], f"{detector} {language} {field}: {text}"
            assert words.explanation.endswith(words.check_next)
            if language == "fa":
                # every figure keeps its meaning: the Persian digits read back as the English figures, and ids
                # and codes (Western digits in both) account for the rest
                persian = words.title + " " + words.explanation
                assert figures(persian) == figures(english.title + " " + english.explanation), (
                    f"{detector} {row['entity_id']}:\n{english.explanation}\n{words.explanation}")
                # and the figures are written in Persian digits: Western digits are left only in ids and codes
                assert not re.search("[0-9]", english_free(persian, quoted)), f"{detector}: {words.explanation}"


def test_figures_dates_and_lists_in_each_language():
    from audit import wording

    assert wording.figure(1234567.891, ",.2f") == "1,234,567.89"
    assert wording.money(1234567.4) == "1,234,567" and wording.day("2024-04-03") == "2024-04-03"
    with i18n.presentation("en", "jalali"):  # English text keeps ISO dates: the wording checks read them
        assert wording.day("2024-04-03") == "2024-04-03" and wording.month("2024-04") == "2024-04"
    with i18n.presentation("fa", "jalali"):
        assert wording.figure(0.125, ".1%") == "۱۲٫۵٪"
        assert wording.money(1234567.4) == "۱٬۲۳۴٬۵۶۷"
        assert i18n.parse_number(wording.money(1234567.4)) == 1234567
        assert wording.day("2024-04-03") == "۱۴۰۳/۰۱/۱۵"
        assert wording.month("2024-04") == "۱۴۰۳/۰۱–۱۴۰۳/۰۲"
        assert wording.items(["a", "b"]) == "a، b" and wording.both(["a", "b", "c"]) == "a و b و c"
        assert wording.sentences("الف.", "ب.") == "الف. ب."
    with i18n.presentation("zh", "gregorian"):
        assert wording.day("2024-04-03") == "2024-04-03" and wording.clauses(["a", "b"]) == "a；b"
        assert wording.sentences("甲。", "乙。") == "甲。乙。"


def test_the_runners_reasons_and_steps_in_the_reports_language():
    from audit.runner import reason_words

    reasons = "DSC-01: needs invoice_lines.discount_type; ran over 0 eligible records"
    assert reason_words(reasons) == reasons  # English: the text itself
    with i18n.use_language("fa"):
        assert reason_words(reasons) == ("DSC-01: به invoice_lines.discount_type نیاز دارد; "
                                         "روی ۰ رکورد واجد شرایط اجرا شد")
        assert reason_words("too little data to say what is usual") == "too little data to say what is usual"
    with i18n.use_language("zh"):
        assert reason_words("needs values in cheques.drawer_name") == "需要 cheques.drawer_name 中有值"


def test_progress_steps_are_named_in_the_runs_language():
    from .conftest import MINI

    steps = []
    audit.run(MINI, language="zh", progress=lambda step, done, total: steps.append(step))
    assert steps[0] == "读取并检查数据" and steps[-1] == "检测器已完成"
    assert any(step.startswith("检测器 ") for step in steps)


def test_persian_findings_date_in_the_jalali_calendar_when_the_policy_does(monkeypatch):
    code, cases = load_cases(CASES_DIR / "CHQ-02.yaml")
    worded = _capture(code, next(c for c in cases if c.flagged), monkeypatch)
    detector, row, wording = next(w for w in worded if w[0] == "CHQ-02")
    received = row["evidence"]["received_date"]
    with i18n.presentation("fa", "jalali"):
        words = REAL_WORD(wording, row, detector)
    jalali = i18n.format_date(received, "jalali", "fa")
    assert jalali.startswith("۱۴") and jalali in words.explanation
    assert i18n.format_date(received, "gregorian", "fa") not in words.explanation
