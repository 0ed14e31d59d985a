"""What detectors and analyses share: a code, the inputs they require, parameters set from the policy."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

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
            if not data.has(table, (column,)) or not data.frame(table)[column].notna().any():
                blank.append(f"{table}.{column}")
    return blank


class Component:
    """Base of :class:`audit.detector.Detector` and :class:`audit.analysis.Analysis`."""

    code: ClassVar[str]
    requires: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    # Columns whose values the conclusion needs: absent or blank everywhere, the component is not run.
    # While finding it may set ``unknown_traces_`` (traces it could not judge, in plain words) and
    # ``eligible_records_`` (records judged: 0 is "ran over 0 eligible records", not "0 findings").
    needs_values: ClassVar[Mapping[str, tuple[str, ...]]] = {}

    @classmethod
    def params_from_policy(cls, policy: Policy) -> dict:
        """The ``__init__`` arguments this policy sets; classes with limits override this."""
        return {}

    @classmethod
    def from_policy(cls, policy: Policy):
        return cls(**cls.params_from_policy(policy))

    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [p.name for p in signature.parameters.values()
                if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]

    def get_params(self) -> dict:
        return {name: getattr(self, name) for name in self._param_names()}

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"

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
