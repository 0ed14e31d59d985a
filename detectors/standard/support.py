"""Helpers shared by the standard audit tests (this family only; ledger-wide definitions stay in
``audit.ledger`` and wording in ``audit.common``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from audit.common import month_of


def off_day(data, dates: pd.Series) -> pd.Series:
    """True where a date falls on the policy weekend or a policy holiday (missing dates: False)."""
    working = data.calendar.is_working_day(pd.to_datetime(dates))
    return (~working.fillna(True)).astype(bool)


def amount_unit(amounts, share: float) -> int:
    """The largest power of ten that divides at least ``share`` of the positive amounts (1 if none).

    A ledger priced in whole thousands has unit 1,000: its last digits say nothing about the amounts,
    and a round figure has to be round beyond that unit.
    """
    values = np.asarray(pd.to_numeric(pd.Series(amounts), errors="coerce"), dtype=float)
    values = values[np.isfinite(values) & (values >= 1)]
    if values.size == 0:
        return 1
    integers = np.round(values).astype(np.int64)
    unit = 1
    while unit < 10**15 and np.mean(integers % (unit * 10) == 0) >= share:
        unit *= 10
    return unit


def significant_digits(amounts, unit: int) -> tuple[np.ndarray, np.ndarray]:
    """Per amount, counted in ``unit``: the number of integer digits and of significant digits.

    45,000,000 in units of 1,000 is 45,000: 5 digits, 2 significant. Non-positive or missing: 0 and 0.
    """
    values = np.asarray(pd.to_numeric(pd.Series(amounts), errors="coerce"), dtype=float)
    scaled = np.where(np.isfinite(values) & (values > 0), np.round(values / unit), 0).astype(np.int64)
    n_digits = np.zeros(scaled.size, dtype=np.int64)
    trailing = np.zeros(scaled.size, dtype=np.int64)
    positive = scaled > 0
    rest = scaled.copy()
    while positive.any():
        n_digits[positive] += 1
        rest = np.where(positive, rest // 10, rest)
        positive = rest > 0
    rest = scaled.copy()
    zero_end = (rest > 0) & (rest % 10 == 0)
    while zero_end.any():
        trailing[zero_end] += 1
        rest = np.where(zero_end, rest // 10, rest)
        zero_end = (rest > 0) & (rest % 10 == 0)
    return n_digits, n_digits - trailing


def excess_p_value(k: int, n: int, p: float) -> float:
    """Chance of at least ``k`` hits in ``n`` tries at rate ``p`` (binomial upper tail)."""
    if n <= 0 or k <= 0:
        return 1.0
    p = min(max(float(p), 1e-12), 1.0)
    return float(stats.binom.sf(k - 1, n, p))


def group_period(data, dates) -> str | None:
    """The period a whole-history finding is filed under: the audited month if one was given, else the
    month of the group's latest record."""
    if data.period:
        return data.period
    dates = pd.to_datetime(pd.Series(dates)).dropna()
    return month_of(dates.max()) if len(dates) else None


def most_common(values: pd.Series):
    """The most frequent non-missing value (ties: the smallest), or None."""
    counts = values.dropna().astype(str).value_counts()
    if counts.empty:
        return None
    top = counts[counts == counts.max()].index
    return sorted(top)[0]


def share_words(value: float) -> str:
    """A share as a percentage that does not round 99.95 % up to 100 % (or 0.04 % down to 0 %)."""
    if 0.995 <= value < 1:
        return f"{value:.2%}"
    if 0 < value < 0.01:
        return f"{value:.2%}"
    return f"{value:.1%}"
