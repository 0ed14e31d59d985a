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


class Component:
    """Base of :class:`audit.detector.Detector` and :class:`audit.analysis.Analysis`."""

    code: ClassVar[str]
    requires: ClassVar[Mapping[str, tuple[str, ...]]] = {}

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
