"""Analyses: computed views of the ledger that are not findings (aging, collections, link graphs), and
the facts several components share (the receivables ledger, the entity links).

An analysis is a class like a detector — a stable ``code``, what it reads (see :mod:`audit.component`),
parameters in ``__init__`` filled from the policy — whose one method ``compute(data)`` returns its
declared ``outputs`` by name. The runner stores the tables among them in ``RunResult.views`` for the
reports; a component that declares ``reads_analyses = (code,)`` runs after it and reads them in
``data.views``.
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
    # the names ``compute`` returns (unique across analyses), e.g. ("aging_by_customer", ...)
    outputs: ClassVar[tuple[str, ...]] = ()

    @abc.abstractmethod
    def compute(self, data: AuditData) -> dict[str, pd.DataFrame]:
        """Return named tables (names unique across analyses, e.g. ``aging_by_customer``)."""
