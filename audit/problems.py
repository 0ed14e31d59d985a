"""Problems found in the input, and the data-quality table they become.

A problem is ``fatal`` when a required table or column is unusable (the run stops before any detector),
``row`` when one row cannot be used (the row is set aside and listed, never silently dropped), and
``warning`` when a value was blanked or something unexpected was kept.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas is imported when the table is made: the command line starts without it
    import pandas as pd

FATAL, ROW, WARNING = "fatal", "row", "warning"
ACTIONS = {FATAL: "run stopped", ROW: "row excluded", WARNING: "kept"}
DATA_QUALITY_COLUMNS = (
    "severity", "table", "column", "row", "record_id", "value", "problem", "fix", "action",
)


@dataclass(frozen=True)
class Problem:
    severity: str
    table: str
    problem: str
    fix: str = ""
    column: str | None = None
    # 1-based row as the user sees it in the source (CSV line number, sheet row), or None.
    row: int | None = None
    record_id: str | None = None
    value: str | None = None
    action: str | None = None
    # The problem's type without its values ("must not be negative", "refers to a missing parent"), to
    # count problems by type; None when the problem text is itself the type.
    kind: str | None = None

    @property
    def category(self) -> str:
        return self.kind or self.problem

    def describe(self) -> str:
        where = [self.table]
        if self.column:
            where.append(f"column {self.column}")
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.record_id:
            where.append(f"id {self.record_id}")
        value = f" (value {self.value!r})" if self.value is not None else ""
        fix = f" Fix: {self.fix}" if self.fix else ""
        return f"{', '.join(where)}: {self.problem}{value}.{fix}"


class InputError(Exception):
    """The input cannot be audited; ``problems`` holds every reason found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        fatal = [p for p in problems if p.severity == FATAL] or problems
        super().__init__("\n".join(p.describe() for p in fatal))


def data_quality_frame(problems: list[Problem]) -> pd.DataFrame:
    import pandas as pd

    rows = []
    for p in problems:
        record = asdict(p)
        record.pop("kind")
        record["action"] = p.action or ACTIONS[p.severity]
        rows.append(record)
    frame = pd.DataFrame(rows, columns=list(DATA_QUALITY_COLUMNS))
    frame["row"] = frame["row"].astype("Int64")
    return frame
