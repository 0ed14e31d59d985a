"""Computing apart from wording: a detector's ``find`` computes findings; the pattern's wording function
writes their title, explanation and what to check next.

Each pattern has one wording module, ``detectors/wording/<pattern>.py``, with ``words(finding) -> Words``.
``finding`` is a read-only mapping with the row ``find`` returned (``entity_id``, ``salesperson_id``,
``customer_id``, ``period``, ``score``, ``risk_amount``, ``evidence``, ``related`` and, when ``find``
gave one, ``facts``: values the text needs that are not evidence, never written out) plus ``detector``,
the code of the detector that found it, so a pattern found by several detectors words each its own way.
The values are those ``find`` returned (dates as timestamps, amounts as numbers), before cleaning.

``check_next`` is the sentence the auditor acts on: the document to pull and the person to ask, written from
the finding's own records (never one sentence for every finding). The explanation ends with it; the
exceptions carry it in their own ``check_next`` column (the report's worklist shows it).

A detector names its pattern's function in its class attribute ``wording``; that attribute is the
lookup from pattern to wording (:func:`check_wording` checks that it is the pattern's own ``words``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import pandas as pd

from audit import common, i18n

WORDING_PACKAGE = "detectors.wording"


@dataclass(frozen=True)
class Words:
    """What a reader sees of a finding: a one-line title, an explanation in full sentences, and what to check
    next (the document to pull, the person to ask), the explanation's last sentence."""

    title: str
    explanation: str
    check_next: str


def ending_with(title: str, explanation: str, check_next: str) -> Words:
    """Words whose explanation ends with ``check_next`` (appended after a space; in Chinese, without one)."""
    return Words(title, sentences(explanation, check_next), check_next)


# ---------------------------------------------------------------- figures and lists in the active language
# A wording function formats each figure as English always has (so English text is unchanged and the wording
# checks read it), then writes it in the active language's digits: Persian digits and separators in Persian.

_PERSIAN_FIGURE = str.maketrans({**{str(d): i18n.PERSIAN_DIGITS[d] for d in range(10)},
                                 ",": "٬", ".": "٫", "%": "٪"})
# How a list of items and a list of clauses are joined in each language.
_SEPARATORS = {"en": (", ", "; "), "fa": ("، ", "؛ "), "zh": ("、", "；")}


def localised(text: str) -> str:
    """A figure formatted the English way (``1,234.5``, ``12 %``) in the active language's digits and
    separators (``۱٬۲۳۴٫۵``, ``۱۲ ٪`` in Persian; unchanged in English and Chinese). Only for figures: ids and
    codes keep their own characters."""
    return text.translate(_PERSIAN_FIGURE) if i18n.current_language() in i18n.PERSIAN_DIGIT_LANGUAGES else text


def figure(value, spec: str = "") -> str:
    """``value`` formatted with the format ``spec`` (``".2f"``, ``",.0f"``, ``".0%"``, ``"g"``), in the active
    language's digits."""
    return localised(format(value, spec))


def money(amount) -> str:
    """:func:`audit.common.money` in the active language's digits ('unknown' translated)."""
    if amount is None or pd.isna(amount):
        return i18n.t("unknown")
    return localised(common.money(amount))


def day(when) -> str:
    """A date in a finding's text: ISO in English, as always (the wording checks read it); in the other
    languages as the report shows dates (:func:`audit.i18n.format_date`: the Jalali calendar when it is the
    active one, Persian digits in Persian)."""
    if when is None or pd.isna(when):
        return i18n.t("unknown date")
    if i18n.current_language() == i18n.DEFAULT_LANGUAGE:
        return common.day(when)
    return i18n.format_date(pd.Timestamp(when))


def month(period) -> str:
    """A month (``YYYY-MM``) in a finding's text: as it is in English; in the other languages as the report
    shows months (:func:`audit.i18n.format_period`)."""
    if period is None or i18n.current_language() == i18n.DEFAULT_LANGUAGE:
        return period
    return i18n.format_period(period)


def items(values) -> str:
    """Items joined as a list in the active language (``a, b`` / ``a، b`` / ``a、b``)."""
    return _SEPARATORS.get(i18n.current_language(), _SEPARATORS["en"])[0].join(str(v) for v in values)


def clauses(values) -> str:
    """Clauses joined in one sentence in the active language (``a; b`` / ``a؛ b`` / ``a；b``)."""
    return _SEPARATORS.get(i18n.current_language(), _SEPARATORS["en"])[1].join(str(v) for v in values)


def both(values) -> str:
    """Items joined with 'and' in the active language (``a and b and c``)."""
    values = [str(v) for v in values]
    joined = values[0] if values else ""
    for value in values[1:]:
        joined = i18n.t("%(first)s and %(second)s", first=joined, second=value)
    return joined


def sentences(*values: str) -> str:
    """Whole sentences one after the other (a space between them in English and Persian, none in Chinese)."""
    joiner = "" if i18n.current_language() == "zh" else " "
    return joiner.join(v for v in values if v)


Wording = Callable[[Mapping[str, Any]], Words]


class WordingError(ValueError):
    """A wording function returned something other than :class:`Words` with text in every field, or an
    explanation that does not end with what to check next."""


def words_problems(words) -> list[str]:
    """What is wrong with a wording function's answer (empty when it is :class:`Words` with text in every field
    and an explanation that ends with its ``check_next`` sentence)."""
    if not isinstance(words, Words):
        return ["it must return Words(title, explanation, check_next)"]
    problems = [f"its {field} is {getattr(words, field)!r}: it must be text" for field in ("title", "explanation",
                                                                                         "check_next")
                if not isinstance(getattr(words, field), str) or not getattr(words, field).strip()]
    if not problems and not words.explanation.rstrip().endswith(words.check_next.strip()):
        problems.append(f"its explanation must end with what to check next ({words.check_next!r})")
    return problems


def word(wording: Wording, row: Mapping[str, Any], detector: str) -> Words:
    """The title, explanation and what to check next of one row of ``find``, by the pattern's wording
    function (:func:`words_problems` must find nothing wrong)."""
    words = wording(MappingProxyType({**row, "detector": detector}))
    problems = words_problems(words)
    if problems:
        raise WordingError(f"{detector}: {getattr(wording, '__module__', '?')}.{getattr(wording, '__name__', '?')} "
                           f"returned {words!r} for {row.get('entity_id')!r}; {'; '.join(problems)}")
    return words


def check_wording(cls) -> list[str]:
    """What is wrong with a detector class's ``wording`` (empty when it is its pattern's ``words``)."""
    wording = getattr(cls, "wording", None)
    if wording is None:
        return [f"{cls.__name__} has no wording: set wording = {WORDING_PACKAGE}.{getattr(cls, 'pattern', '?')}.words"]
    expected = f"{WORDING_PACKAGE}.{getattr(cls, 'pattern', None)}"
    if not callable(wording):
        return [f"{cls.__name__}.wording is not a function"]
    if getattr(wording, "__module__", None) != expected or getattr(wording, "__name__", None) != "words":
        return [f"{cls.__name__}.wording is {getattr(wording, '__module__', '?')}."
                f"{getattr(wording, '__name__', '?')}; a {cls.pattern} finding is worded by {expected}.words"]
    return []
