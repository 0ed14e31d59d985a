"""Writers and views of a run. Each reads a :class:`audit.result.RunResult` and computes nothing.

``WRITERS`` is what the ``sales_audit.writers`` entry point exposes to the core: ``html`` (the
self-contained report), ``excel`` (the workbook) and ``export`` (the compliance folder and zip with its
SHA256SUMS) and ``views`` (the analyses' tables as Parquet, so a reopened run keeps them) beside the tables.
Each writer's module is imported when that format is written: a run that writes CSV and Parquet does not
load the workbook, template and chart libraries.
"""

from __future__ import annotations

import importlib


def _on_call(module: str, name: str):
    """The writer ``module.name``, imported on its first call."""

    def write(*args, **kwargs):
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    write.__name__ = write.__qualname__ = name
    write.__doc__ = f"{module}.{name}, imported when first called."
    return write


WRITERS = {"csv": _on_call("reports.tables", "write_csv"), "parquet": _on_call("reports.tables", "write_parquet"),
           "manifest": _on_call("reports.tables", "write_manifest"), "html": _on_call("reports.html", "write_html"),
           "excel": _on_call("reports.excel", "write_excel"), "export": _on_call("reports.export", "write_export"),
           "views": _on_call("reports.runs", "write_views")}
