"""Sorting and set primitives on integer arrays, fast at ten million rows.

numpy's hash-based ``unique`` (and ``isin``, which calls it) and multi-key ``lexsort`` are many times
slower than one ``sort``/``argsort`` of a combined key, so the simulator uses these instead.
"""

from __future__ import annotations

import numpy as np


def unique_ints(values) -> np.ndarray:
    """Sorted distinct values."""
    ordered = np.sort(np.asarray(values, dtype=np.int64))
    if len(ordered) == 0:
        return ordered
    return ordered[np.r_[True, ordered[1:] != ordered[:-1]]]


def isin_ints(values, members) -> np.ndarray:
    """``values`` in ``members``, element-wise."""
    values = np.asarray(values, dtype=np.int64)
    members = unique_ints(members)
    if len(members) == 0:
        return np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(members, values), len(members) - 1)
    return members[at] == values


def combined_key(*keys) -> np.ndarray | None:
    """One int64 that sorts like the tuple of integer ``keys`` (first key most significant), or None when
    their ranges do not fit in 62 bits."""
    total_bits = 0
    key = np.zeros(len(keys[0]), dtype=np.int64)
    for k in keys:
        k = np.asarray(k, dtype=np.int64)
        if len(k):
            k = k - k.min()
        bits = max(int(k.max()).bit_length(), 1) if len(k) else 1
        total_bits += bits
        if total_bits > 62:
            return None
        key = (key << bits) | k
    return key


def order_by(*keys) -> np.ndarray:
    """Row order sorting by ``keys`` (first key most significant); ties keep row order."""
    key = combined_key(*keys)
    if key is None:
        return np.lexsort(tuple(reversed(keys)))
    return np.argsort(key, kind="stable")


def groups(key) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group rows by an integer key: (row order grouping equal keys, group of each row, group starts in
    that order); groups are numbered in key order."""
    key = np.asarray(key, dtype=np.int64)
    order = order_by(key)
    ordered = key[order]
    new = np.r_[True, ordered[1:] != ordered[:-1]] if len(key) else np.zeros(0, dtype=bool)
    starts = np.flatnonzero(new)
    group_of = np.empty(len(key), dtype=np.int64)
    group_of[order] = np.cumsum(new) - 1
    return order, group_of, starts
