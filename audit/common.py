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


EARTH_RADIUS_M = 6_371_000.0


def haversine_m(lat1, lon1, lat2, lon2):
    """Great-circle distance in metres between points (scalars or numpy/pandas arrays; NaN stays NaN)."""
    import numpy as np

    lat1, lon1, lat2, lon2 = (np.radians(np.asarray(v, dtype=float)) for v in (lat1, lon1, lat2, lon2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def combine_traces(contributions) -> float:
    """Several independent traces, each in [0, 1], as one score: 1 − ∏(1 − c) (any one can carry it)."""
    remaining = 1.0
    for value in contributions:
        if value is None or pd.isna(value):
            continue
        remaining *= 1.0 - min(max(float(value), 0.0), 1.0)
    return 1.0 - remaining


def tier_pct(volume_tiers, quantity: float) -> float:
    """The volume discount (pct) a line's quantity earns under the policy's ``[[discounts.volume_tiers]]``."""
    earned = 0.0
    for min_quantity, pct in sorted(volume_tiers):
        if quantity >= min_quantity:
            earned = pct
    return earned
