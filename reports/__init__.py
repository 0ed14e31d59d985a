"""Writers and views of a run. Each reads a :class:`audit.result.RunResult` and computes nothing.

``WRITERS`` is what the ``sales_audit.writers`` entry point exposes to the core.
"""

from reports.tables import write_csv, write_manifest, write_parquet

WRITERS = {"csv": write_csv, "parquet": write_parquet, "manifest": write_manifest}
