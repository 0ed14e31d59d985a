"""Python's cycle collector paused around work that builds many small objects and no cycles.

The collector runs each time enough container objects (dicts, tuples, lists) have been made since it last
ran, and a full pass walks every object the process holds: the checked tables' metadata, the engine's
expressions, every component's results. A graph of a hundred thousand identifier records or a table of
thousands of digit tests triggers many passes that free nothing (a third of the entity links' time at a
million invoice lines). Pausing it there leaves no garbage behind: what the work drops is freed by
reference counting as usual, and the collector resumes afterwards.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused_cycle_collection() -> Iterator[None]:
    """Run the block with the cycle collector off (restored as it was, also on an error)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextlib.contextmanager
def long_lived_frozen() -> Iterator[None]:
    """Run the block with every object alive now (imported modules, the checked tables' metadata, the
    engine) moved out of the collector's sight (``gc.freeze``): its passes then walk only what the block
    makes. A run's components make millions of objects, and each full pass used to walk the whole process."""
    gc.freeze()  # no collection first: it cost more than it saved when a test suite runs the components often
    try:
        yield
    finally:
        gc.unfreeze()
