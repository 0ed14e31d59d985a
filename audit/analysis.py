"""Analyses: computed views of the ledger that are not findings (aging, collections, link graphs).

An analysis is a class like a detector — a stable ``code``, the tables it ``requires``, parameters in
``__init__`` filled from the policy — whose one method ``compute(data)`` returns named tables. The
runner stores them in ``RunResult.views`` for the reports, and detectors may read them through
``data.views`` (analyses run first).
"""

from __future__ import annotations

import abc
import inspect
from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

import pandas as pd

from audit.detector import missing_inputs

if TYPE_CHECKING:
    from audit.data import AuditData
    from audit.policy import Policy


class Analysis(abc.ABC):
    code: ClassVar[str]
    title: ClassVar[str]
    requires: ClassVar[Mapping[str, tuple[str, ...]]] = {}

    @classmethod
    def params_from_policy(cls, policy: Policy) -> dict:
        return {}

    @classmethod
    def from_policy(cls, policy: Policy) -> Analysis:
        return cls(**cls.params_from_policy(policy))

    @classmethod
    def summary(cls) -> str:
        return (inspect.getdoc(cls) or "").split("\n\n", 1)[0].replace("\n", " ")

    @classmethod
    def missing_inputs(cls, data: AuditData) -> list[str]:
        return missing_inputs(cls.requires, data)

    @abc.abstractmethod
    def compute(self, data: AuditData) -> dict[str, pd.DataFrame]:
        """Return named tables (names unique across analyses, e.g. ``aging_by_customer``)."""
