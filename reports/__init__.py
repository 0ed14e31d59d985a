"""Writers and views of a run. Each reads a :class:`audit.result.RunResult` and computes nothing.

``WRITERS`` is what the ``sales_audit.writers`` entry point exposes to the core: ``html`` (the
self-contained report), ``excel`` (the workbook) and ``export`` (the compliance folder and zip with its
SHA256SUMS) and ``views`` (the analyses' tables as Parquet, so a reopened run keeps them) beside the tables.
"""

from reports.excel import write_excel
from reports.export import write_export
from reports.html import write_html
from reports.runs import write_views
from reports.tables import write_csv, write_manifest, write_parquet

WRITERS = {"csv": write_csv, "parquet": write_parquet, "manifest": write_manifest, "html": write_html,
           "excel": write_excel, "export": write_export, "views": write_views}
