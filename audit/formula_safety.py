"""Text cells that a spreadsheet would run as a formula, made inert in the CSV files the tool writes.

A CSV opened in Excel or LibreOffice runs a cell beginning ``=``, ``+``, ``-``, ``@``, tab or carriage
return as a formula (``=HYPERLINK("http://x","id")`` as a customer id becomes a live link; other
formulas can fetch or run things). As OWASP's "CSV Injection" advice says, such a cell gets a leading
single quote, which spreadsheets read as "this is text" and do not show. Numbers are left alone, also
as text (``-5``, ``+1.5e3``): a negative amount stays a number. Cells already beginning with quotes
before such a character get one more, so :func:`restore` gives back exactly the value written.
Parquet, JSON Lines and the Excel workbook (written with typed cells, never formulas) keep values as
they are.
"""

from __future__ import annotations

import re

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_RISKY = re.compile(r"'*[=+\-@\t\r]")
_ESCAPED = re.compile(r"'+[=+\-@\t\r]")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def neutralise_text(value):
    """``value`` with a leading ``'`` when a spreadsheet would read it as a formula; anything else as is."""
    if isinstance(value, str) and _RISKY.match(value) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def restore_text(value):
    """The inverse of :func:`neutralise_text`, for reading back a CSV the tool wrote."""
    if isinstance(value, str) and _ESCAPED.match(value):
        return value[1:]
    return value


def _text_columns(frame: pd.DataFrame) -> list:
    return [c for c in frame.columns
            if pd.api.types.is_object_dtype(frame[c]) or pd.api.types.is_string_dtype(frame[c])]


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells and column names a spreadsheet will not run."""
    columns = _text_columns(frame)
    safe = frame.copy()
    for column in columns:
        safe[column] = frame[column].map(neutralise_text)
    return safe.rename(columns=lambda c: neutralise_text(c) if isinstance(c, str) else c)


def restore(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as read from a CSV written by :func:`neutralise`, with the original text back."""
    restored = frame.rename(columns=lambda c: restore_text(c) if isinstance(c, str) else c)
    for column in _text_columns(restored):
        restored[column] = restored[column].map(restore_text)
    return restored
