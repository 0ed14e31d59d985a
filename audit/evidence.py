"""A finding's ``evidence`` (a dict) and ``related`` records (a list): Python data in memory, JSON text in
the files a run writes.

``Detector.run`` cleans what ``find`` returned with :func:`json_data` (floats rounded, dates as
``YYYY-MM-DD``, missing values as ``None``, keys sorted), so the exceptions frame and every component
that reads earlier findings hold plain JSON data. Only the writers make text, all with :func:`json_text`;
only the readers of an earlier run's files (``--previous``, reopening a run) parse it, once, with
:func:`frame_from_text`.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

JSON_COLUMNS = ("evidence", "related")


def json_data(value):
    """``value`` as plain JSON data: dicts (keys text, sorted), lists, text, numbers, booleans and ``None``.

    Floats are rounded to 6 places, NaN is ``None``, dates are ``YYYY-MM-DD``, numpy numbers are Python's;
    anything else becomes its text (as ``json.dumps(default=str)`` would)."""
    if isinstance(value, dict):
        return dict(sorted(((str(key), json_data(item)) for key, item in value.items()), key=lambda kv: kv[0]))
    if isinstance(value, (list, tuple)):
        return [json_data(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return None if np.isnan(value) else round(float(value), 6)
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return None if pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d")
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool) or type(value) is int:
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    return str(value)


def json_text(value) -> str:
    """The JSON text of evidence or related records in every written file (sorted keys, no spaces)."""
    return json.dumps(json_data(value), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def frame_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of an exceptions frame with ``evidence`` and ``related`` as JSON text (for writers)."""
    present = [c for c in JSON_COLUMNS if c in frame.columns]
    if not present:
        return frame
    return frame.assign(**{c: [None if _missing(v) else json_text(v) for v in frame[c]] for c in present})


def frame_from_text(frame: pd.DataFrame, source: str = "") -> pd.DataFrame:
    """An exceptions frame read from an earlier run's file, with ``evidence`` and ``related`` parsed back
    into Python data (once, when reading). Text that is not JSON names the file, row and column."""
    present = [c for c in JSON_COLUMNS if c in frame.columns]
    if not present:
        return frame
    parsed = {}
    for column in present:
        values = []
        for row, text in enumerate(frame[column], start=2):
            if _missing(text):
                values.append(None)
                continue
            if not isinstance(text, str):
                values.append(json_data(text))
                continue
            try:
                values.append(json.loads(text))
            except ValueError:
                raise ValueError(f"{source or 'exceptions'}: row {row}, column {column} is not JSON ({text[:60]!r});"
                                 f" pass the folder of a run written by sales-audit") from None
        parsed[column] = values
    return frame.assign(**parsed)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))
