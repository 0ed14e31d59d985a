"""Analyses: computed views of the ledger that are not findings (aging, collections, link graphs).

An analysis is a class like a detector — a stable ``code``, the tables it ``requires``, parameters in
``__init__`` filled from the policy — whose one method ``compute(data)`` returns named tables. The
runner stores them in ``RunResult.views`` for the reports, and detectors may read them through
``data.views`` (analyses run first).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

import pandas as pd

from audit.component import Component

if TYPE_CHECKING:
    from audit.data import AuditData


class Analysis(Component, abc.ABC):
    code: ClassVar[str]
    title: ClassVar[str]
    requires: ClassVar[Mapping[str, tuple[str, ...]]] = {}

    @abc.abstractmethod
    def compute(self, data: AuditData) -> dict[str, pd.DataFrame]:
        """Return named tables (names unique across analyses, e.g. ``aging_by_customer``)."""
