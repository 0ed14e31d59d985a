"""Keeping the audit's memory to what it uses: freed memory handed back, and the engine's own limit.

pandas and numpy free their arrays into glibc's heap, and Arrow (which backs pandas' strings) into its own
pool; both keep freed pages for reuse, so after a component that built large temporary frames the process
holds them until it ends and the next component's peak lands on top. :func:`release_unused` hands them back
to the operating system between components (a few milliseconds).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: the command line reads the machine's memory before they load
    import pandas as pd

# DuckDB's default is 80 % of the machine's memory; the audit's Python side needs room beside it.
DEFAULT_ENGINE_SHARE = 0.25
MAX_DEFAULT_ENGINE_BYTES = 4 * 1024**3


def _libc():
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


_LIBC = _libc()


def release_unused() -> None:
    """Return freed heap and Arrow pool memory to the operating system (no-op where libc lacks malloc_trim)."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def physical_memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def resident_bytes() -> int | None:
    """This process's resident memory now (Linux; None where /proc is not there)."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def default_engine_limit() -> str:
    """DuckDB's memory limit when the user sets none: a quarter of the machine, at most 4 GB (on a 16 GB
    laptop 4 GB, leaving the rest to Python and the reports); beyond it DuckDB spills to disk."""
    total = physical_memory_bytes()
    limit = MAX_DEFAULT_ENGINE_BYTES if total is None else min(MAX_DEFAULT_ENGINE_BYTES, int(total * DEFAULT_ENGINE_SHARE))
    return f"{max(limit // 1024**2, 256)}MB"


def one_object_per_text(values: pd.Series) -> pd.Series:
    """``values`` as Python objects (blank: None) where equal texts are one object, not one per row
    (``astype(object)`` makes a string per row, and freeing them later leaves the heap fragmented): the
    receivables ledger holds a customer's and a salesperson's id on every invoice and settlement for the
    whole run (0.6 GB at 10M lines), the visits a status each. Text columns are encoded as they are; only
    the distinct texts become objects."""
    import numpy as np
    import pandas as pd

    codes, distinct = pd.factorize(values, use_na_sentinel=True)
    objects = np.empty(len(distinct) + 1, dtype="object")  # the last place (code -1): a blank
    objects[:-1] = np.asarray(distinct, dtype="object")
    return pd.Series(objects[codes], index=values.index, dtype="object", name=values.name)
