"""The demo ledger: the simulator's small distributor, with its labels, so the demo can be scored."""

from __future__ import annotations

from pathlib import Path

DEMO_SEED = 2025
DEMO_SCALE = "small"


def write_demo_data(folder: Path) -> Path:
    """Simulate the demo company into ``folder`` (once: an existing complete demo is reused)."""
    from simulator import simulate

    folder = Path(folder)
    if not (folder / "labels.csv").is_file():
        simulate(folder, scale=DEMO_SCALE, seed=DEMO_SEED, fmt="csv")
    return folder
