"""Small helpers shared by detectors: wording of money and dates, score shaping."""

from __future__ import annotations

import math

import pandas as pd


def money(amount: float) -> str:
    """An amount as people read it in a report: thousands separated, no decimals for large sums."""
    if amount is None or pd.isna(amount):
        return "unknown"
    return f"{amount:,.0f}" if abs(amount) >= 100 else f"{amount:,.2f}"


def month_of(when) -> str | None:
    if when is None or pd.isna(when):
        return None
    return pd.Timestamp(when).strftime("%Y-%m")


def day(when) -> str:
    if when is None or pd.isna(when):
        return "unknown date"
    return pd.Timestamp(when).strftime("%Y-%m-%d")


def saturating(excess: float, full_at: float) -> float:
    """0 at no excess, about 0.95 at ``full_at``: a smooth way to turn 'how far over' into [0, 1]."""
    if excess is None or pd.isna(excess) or excess <= 0:
        return 0.0
    return 1.0 - math.exp(-3.0 * excess / full_at)
