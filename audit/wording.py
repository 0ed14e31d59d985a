"""Computing apart from wording: a detector's ``find`` computes findings; the pattern's wording function
writes their title and explanation.

Each pattern has one wording module, ``detectors/wording/<pattern>.py``, with ``words(finding) -> Words``.
``finding`` is a read-only mapping with the row ``find`` returned (``entity_id``, ``salesperson_id``,
``customer_id``, ``period``, ``score``, ``risk_amount``, ``evidence``, ``related`` and, when ``find``
gave one, ``facts``: values the text needs that are not evidence, never written out) plus ``detector``,
the code of the detector that found it, so a pattern found by several detectors words each its own way.
The values are those ``find`` returned (dates as timestamps, amounts as numbers), before cleaning.

A detector names its pattern's function in its class attribute ``wording``; that attribute is the
lookup from pattern to wording (:func:`check_wording` checks that it is the pattern's own ``words``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

WORDING_PACKAGE = "detectors.wording"


@dataclass(frozen=True)
class Words:
    """What a reader sees of a finding: a one-line title and an explanation in full sentences."""

    title: str
    explanation: str


Wording = Callable[[Mapping[str, Any]], Words]


class WordingError(ValueError):
    """A wording function returned something other than :class:`Words` with text in both fields."""


def word(wording: Wording, row: Mapping[str, Any], detector: str) -> Words:
    """The title and explanation of one row of ``find``, by the pattern's wording function."""
    words = wording(MappingProxyType({**row, "detector": detector}))
    if not isinstance(words, Words) or not isinstance(words.title, str) or not isinstance(words.explanation, str) \
            or not words.title or not words.explanation:
        raise WordingError(f"{detector}: {getattr(wording, '__module__', '?')}.{getattr(wording, '__name__', '?')} "
                           f"returned {words!r} for {row.get('entity_id')!r}; it must return Words(title, explanation)"
                           f" with text in both")
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
