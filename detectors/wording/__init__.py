"""Wording of findings, one module per pattern: ``words(finding) -> audit.wording.Words`` writes a finding's
title and explanation from what its detector's ``find`` computed (see :mod:`audit.wording`)."""

from __future__ import annotations

import pandas as pd


def text(value):
    """A text field of a finding, ``None`` when missing (a frame may hold NaN where ``find`` gave None)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value
