"""What detectors and analyses share: a code, what they read, parameters set from the policy.

A component declares everything it reads, and the runner (:mod:`audit.runner`) hands it exactly that:

- ``requires``: tables and columns that must be present, else the component is "not run: needs …";
- ``uses``: tables and columns read when present (a trace of the conclusion is unknown without them);
- ``needs_values``: columns that must hold at least one value for the conclusion to mean anything (an
  approver column that is present but blank everywhere records no approvals), else "not run";
- ``reads_analyses``: codes of the analyses whose tables it reads (``data.views``);
- ``reads_findings``: codes of the detectors whose findings it reads (``data.findings``);
  ``reads_only_findings`` when its conclusion rests on them alone (a roll-up);
- ``imports``: modules it imports only when it runs (heavy libraries; see :mod:`audit.lanes`).

While finding, a component may set learned state that becomes the run's coverage: ``unknown_traces_``
(the traces it could not judge in this run, in plain words), ``eligible_records_`` (how many records it
judged; 0 is "ran over 0 eligible records", not "0 findings") and ``note_`` (one sentence about the run).

Parameters are scikit-learn estimator parameters (``get_params``, ``set_params``, ``clone``): every
``__init__`` argument is stored under its own name, and ``from_policy`` fills them from the policy.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, ClassVar

from sklearn.base import BaseEstimator

if TYPE_CHECKING:
    from audit.data import AuditData
    from audit.policy import Policy


def missing_inputs(requires: Mapping[str, tuple[str, ...]], data: AuditData) -> list[str]:
    """``table.column`` names (or ``table``) in ``requires`` that the data lacks."""
    missing = []
    for table, columns in requires.items():
        if not data.has(table):
            missing.append(table)
            continue
        missing.extend(f"{table}.{c}" for c in columns if not data.has(table, (c,)))
    return missing


def blank_columns(needs_values: Mapping[str, tuple[str, ...]], data: AuditData) -> list[str]:
    """``table.column`` names in ``needs_values`` that are absent or hold no value in any row."""
    blank = []
    for table, columns in needs_values.items():
        for column in columns:
            if not data.holds_values(table, column):
                blank.append(f"{table}.{column}")
    return blank


class Component(BaseEstimator):
    """Base of :class:`audit.detector.Detector` and :class:`audit.analysis.Analysis`."""

    code: ClassVar[str]
    requires: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    uses: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    needs_values: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    reads_analyses: ClassVar[tuple[str, ...]] = ()
    reads_findings: ClassVar[tuple[str, ...]] = ()
    # True when the conclusion is a reading of other detectors' findings alone (a roll-up): it checked
    # nothing when none of them checked anything. A detector that only refines its own test with another's
    # findings (e.g. leaves out what CUS-01 reports) keeps its coverage, with the unknown trace said.
    reads_only_findings: ClassVar[bool] = False
    # Modules the component imports only when it runs (heavy libraries the tool does not import up front, e.g.
    # pyod's models): a worker process imports them while the main process reads the data, and takes the
    # groups that need them first (``audit.lanes``), so the main process need not import them at all.
    imports: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def params_from_policy(cls, policy: Policy) -> dict:
        """The ``__init__`` arguments this policy sets; classes with limits override this."""
        return {}

    @classmethod
    def from_policy(cls, policy: Policy):
        return cls(**cls.params_from_policy(policy))

    @classmethod
    def summary(cls) -> str:
        return (inspect.getdoc(cls) or "").split("\n\n", 1)[0].replace("\n", " ")

    @classmethod
    def missing_inputs(cls, data: AuditData) -> list[str]:
        """``table.column`` names (or ``table``) this class needs and the data lacks."""
        return missing_inputs(cls.requires, data)

    @classmethod
    def blank_inputs(cls, data: AuditData) -> list[str]:
        """``table.column`` names whose values this class's conclusion needs and the data does not hold."""
        return blank_columns(cls.needs_values, data)

    @classmethod
    def upstream_detectors(cls, detectors: Iterable[type]) -> tuple[str, ...]:
        """Codes of the detectors whose findings this class reads, chosen among ``detectors`` (the
        registered ones). The default is ``reads_findings``; a roll-up may choose by pattern family."""
        return tuple(cls.reads_findings)
