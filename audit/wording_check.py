"""Does a finding's wording state only figures its own evidence holds?

:func:`contradictions` reads the figures a title and explanation state — dates (YYYY-MM-DD), periods
(YYYY-MM), money and counts with thousands separators, percentages, decimals (scores, levels, ratios),
whole days, and "YYYY-MM 0.53" monthly scores — and looks each up among the values of the finding
``find`` returned (``evidence``, ``facts``, ``period``, ``risk_amount``, ``score``), formatted the way
:mod:`audit.common` and the wording functions format them (``money``, ``day``, ``month_of``, fixed
decimals, per cent of a share). A figure none of those values gives is a contradiction, and so are
claims the evidence denies ("first month above the alert level" while ``first_alert_period`` is an
earlier month) and wordings that cannot hold when the typical value is zero ("a typical 0.0 %",
"usually every 0 days").

Values derived from two numbers of one record (their difference, ratio, ratio less one) and sums over
a list of records count as the evidence's own: wordings state such figures ("42 % above the credit limit").
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from audit.common import money

# Figures the wording functions write as fixed words of a rule, not values of a finding.
FIXED_FIGURES = {
    "5 %",  # "interest costs above 5 % of its sales" (the statements' flag's own threshold)
    "95 %",  # "surplus count above its 95 % bound" (Benford's confidence bound)
}
MAX_PAIRED_NUMBERS = 40  # a record with more numbers than this gives no pairwise derived values

DATE = re.compile(r"(?<![\d-])(\d{4}-\d{2}-\d{2})(?![\d-])")
PERIOD = re.compile(r"(?<![\d-])(\d{4}-\d{2})(?![\d-])")
MONEY = re.compile(r"(?<![\w.,-])(-?\d{1,3}(?:,\d{3})+(?:\.\d+)?)(?!\d|,\d)")
PERCENT = re.compile(r"(?<![\w.,-])(-?\d+(?:\.\d+)?) ?%")
DECIMAL = re.compile(r"(?<![\w.,:-])(-?\d+\.\d+)(?!\d|[.,]\d| ?%)")
DAYS = re.compile(r"(?<![\w.,-])(\d+) (?:working |calendar )?days?\b")
MONTH_SCORE = re.compile(r"(?<![\d-])(\d{4}-\d{2}) (\d\.\d\d)(?![\d])")
FORBIDDEN = (
    (re.compile(r"typical -?0(?:\.0+)? ?%"), "states a typical 0 % (say that most have none)"),
    (re.compile(r"every 0(?:\.0+)?\b"), "states 'every 0' (say what was seen when the usual gap is under a day)"),
    (re.compile(r"\b(?:nan|NaT|inf)\b"), "states a missing value as a figure"),
)


class _Values:
    """The numbers, dates and periods one finding's values hold, with the figures derived from them: sums
    and differences (amounts and days), ratios (per cents, "times the usual")."""

    def __init__(self, roots: Iterable[Any]):
        self.numbers: list[float] = []  # as held
        self.sums: list[float] = []  # over a list of records, and differences of two numbers of one record
        self.ratios: list[float] = []  # of two numbers of one record, and those less one
        self.days: set[str] = set()
        self.periods: set[str] = set()
        self.month_scores: dict[str, set[float]] = {}
        self.literals: set[str] = set()  # figures written inside the evidence's own text (a statement's drivers)
        for root in roots:
            self._walk(root)
        self._forms: dict[tuple[str, int], set[str]] = {}

    @staticmethod
    def _number(value) -> float | None:
        if isinstance(value, bool | np.bool_):
            return None
        if isinstance(value, int | float | np.integer | np.floating):
            number = float(value)
            return number if math.isfinite(number) else None
        return None

    def _date(self, value) -> None:
        stamp = pd.Timestamp(value)
        self.days.add(stamp.strftime("%Y-%m-%d"))
        self.periods.add(stamp.strftime("%Y-%m"))

    def _walk(self, value) -> None:
        if isinstance(value, Mapping):
            numbers = [n for n in (self._number(v) for v in value.values()) if n is not None]
            if value.get("unit") == "ratio":  # anomaly drivers keep ratios as log2; the text shows 2 ** value
                self.numbers += [2.0 ** n for n in (self._number(value.get(k)) for k in ("value", "typical"))
                                 if n is not None]
            self._pairs(numbers)
            if isinstance(value.get("period"), str) and self._number(value.get("score")) is not None:
                self.month_scores.setdefault(value["period"], set()).add(float(value["score"]))
            for item in value.values():
                self._walk(item)
        elif isinstance(value, list | tuple | np.ndarray):
            items = list(value)
            records = [item for item in items if isinstance(item, Mapping)]
            for key in {k for r in records for k in r}:
                column = [n for n in (self._number(r.get(key)) for r in records) if n is not None]
                if len(column) > 1:
                    self.sums.append(sum(column))
            flat = [n for n in (self._number(item) for item in items) if n is not None]
            if len(flat) > 1:
                self.sums.append(sum(flat))
            for item in items:
                self._walk(item)
        elif isinstance(value, pd.Timestamp | dt.date | np.datetime64):
            if not pd.isna(value):
                self._date(value)
        elif isinstance(value, str):
            self.literals.update(re.findall(r"(?<![\w.-])-?\d+(?:,\d{3})*(?:\.\d+)?", value))
            if re.fullmatch(r"\d{4}-\d{2}", value):
                self.periods.add(value)
            elif re.match(r"\d{4}-\d{2}-\d{2}", value):
                try:
                    self._date(value[:10])
                except ValueError:
                    pass
        else:
            number = self._number(value)
            if number is not None:
                self.numbers.append(number)

    def _pairs(self, numbers: list[float]) -> None:
        """Differences and ratios of two numbers of one record (a shortfall, "times the usual", "% above")."""
        if len(numbers) > MAX_PAIRED_NUMBERS:
            return
        for i, a in enumerate(numbers):
            for b in numbers[i + 1:]:
                self.sums += [a - b, b - a]
                if b:
                    self.ratios += [a / b, a / b - 1]
                if a:
                    self.ratios += [b / a, b / a - 1]

    def forms(self, kind: str, decimals: int) -> set[str]:
        """The values that can be written as a figure of ``kind`` ("money", "percent", "decimal", "days"),
        each with ``decimals`` decimals."""
        key = (kind, decimals)
        if key not in self._forms:
            if kind == "percent":
                values = [*self.numbers, *(100 * n for n in self.numbers), *(100 * r for r in self.ratios)]
            elif kind == "decimal":
                values = [*self.numbers, *(n / 1000 for n in self.numbers), *(n * 60 for n in self.numbers),
                          *self.ratios]
            else:  # money, days
                values = [*self.numbers, *self.sums]
            forms = set()
            for n in values:
                if math.isfinite(n):
                    forms.update((f"{n:.{decimals}f}", f"{abs(n):.{decimals}f}"))
            self._forms[key] = forms
        return self._forms[key]

    def has(self, kind: str, figure: str) -> bool:
        """``figure`` (without thousands separators or a per cent sign) is one of the values, as written."""
        return figure in self.literals or figure.replace(",", "") in self.forms(kind, _decimals(figure))

    def has_money(self, text: str) -> bool:
        if self.has("money", text):
            return True
        return any(money(n) == text or money(abs(n)) == text for n in (*self.numbers, *self.sums))


def _decimals(text: str) -> int:
    return len(text.split(".")[1]) if "." in text else 0


def contradictions(finding: Mapping[str, Any], title: str, explanation: str,
                   check_next: str | None = None) -> list[str]:
    """The figures and claims of a finding's wording that its own values contradict (empty when none).

    ``finding`` is the row ``find`` returned (``evidence``, ``facts``, ``period``, ``risk_amount``, ...)."""
    values = _Values([finding.get("evidence"), finding.get("facts"), finding.get("period"),
                      finding.get("risk_amount"), finding.get("score")])
    found: list[str] = []
    for where, text in (("title", title), ("explanation", explanation), ("check_next", check_next or "")):
        stripped = DATE.sub(lambda m: " " * len(m.group(0)), text)
        for pattern, why in FORBIDDEN:
            for match in pattern.finditer(text):
                found.append(f"{where} {why}: {match.group(0)!r}")
        for match in DATE.finditer(text):
            if match.group(1) not in values.days:
                found.append(f"{where} states date {match.group(1)}, in none of its evidence's dates")
        for match in PERIOD.finditer(stripped):
            if match.group(1) not in values.periods:
                found.append(f"{where} states period {match.group(1)}, in none of its evidence's periods")
        for match in MONTH_SCORE.finditer(text):
            period, score = match.group(1), match.group(2)
            scores = values.month_scores.get(period)
            if scores is not None and score not in {f"{s:.2f}" for s in scores}:
                found.append(f"{where} states {period} at {score}; its evidence has "
                             f"{', '.join(f'{s:.2f}' for s in sorted(scores))}")
        for match in MONEY.finditer(stripped):
            if not values.has_money(match.group(1)):
                found.append(f"{where} states {match.group(1)}, which none of its evidence's amounts gives")
        for match in PERCENT.finditer(stripped):
            figure = match.group(1)
            if f"{figure} %" in FIXED_FIGURES or "," in figure:
                continue
            if not values.has("percent", figure):
                found.append(f"{where} states {figure} %, which none of its evidence's values gives")
        for match in DECIMAL.finditer(stripped):
            figure = match.group(1)
            if not values.has("decimal", figure):
                found.append(f"{where} states {figure}, which none of its evidence's values gives")
        for match in DAYS.finditer(stripped):
            if not values.has("days", match.group(1)):
                found.append(f"{where} states {match.group(0)!r}, which none of its evidence's values gives")
    found += _claims(finding, explanation)
    return found


def _claims(finding: Mapping[str, Any], explanation: str) -> list[str]:
    """Claims about which month a finding is that the evidence denies."""
    evidence, period = finding.get("evidence") or {}, finding.get("period")
    found = []
    for words, key in (("first month above the alert level", "first_alert_period"),
                       ("first month on the watch list", "first_watch_period")):
        first = evidence.get(key) if isinstance(evidence, Mapping) else None
        if f"({words})" in explanation and first and first != period:
            found.append(f"explanation calls {period} the {words}, but its evidence has {key} {first}")
    return found
