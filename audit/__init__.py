"""sales-audit: ``audit.run(data, policy=...)`` audits a sales ledger and returns the run's result.

The import is lazy so that ``import audit`` (e.g. by the CLI for ``--help``) does not load pandas,
Ibis and DuckDB until an audit actually runs.
"""

from __future__ import annotations

__all__ = ["run"]


def __getattr__(name: str):
    if name == "run":
        from audit.runner import run

        return run
    raise AttributeError(f"module 'audit' has no attribute {name!r}")
