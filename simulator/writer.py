"""Writing the dataset: every contract table as ``<table>.csv`` or ``<table>.parquet``, ``policy.toml``,
``labels.csv`` and ``decoys.csv``. Integer ids, pool codes and day numbers become text and dates here."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from audit.contract import BOOL, DATE, FLOAT, INT, LABEL_COLUMNS, STR, TABLES, TIMESTAMP

from .context import Label, SimContext
from .ids import TABLE_ENTITY, IdText, format_id, take_text
from .payments import CHEQUE_STATUSES
from .pricing import CUSTOMER_CLASSES, DISCOUNT_TYPES
from .sales import CREDIT_REASONS, INVOICE_STATUSES, ORDER_SOURCES
from .visits import VISIT_STATUSES
from .workdays import iso_date
from .world import CUSTOMER_STATUSES, PAY_METHODS

STAFF_COLUMNS = {"created_by", "approved_by", "discount_approved_by", "collected_by", "reported_by", "manager_id"}
ENUM_COLUMNS = {
    ("customers", "customer_class"): CUSTOMER_CLASSES, ("customers", "status"): CUSTOMER_STATUSES,
    ("price_list", "customer_class"): CUSTOMER_CLASSES, ("orders", "source"): ORDER_SOURCES,
    ("invoices", "status"): INVOICE_STATUSES, ("invoice_lines", "discount_type"): DISCOUNT_TYPES,
    ("credit_notes", "reason"): CREDIT_REASONS, ("receipts", "method"): PAY_METHODS,
    ("cheques", "status"): CHEQUE_STATUSES, ("visits", "status"): VISIT_STATUSES,
}
FORMATTED_IDS = {("invoices", "invoice_no"): "invoice_no", ("shipments", "warehouse_id"): "warehouse"}


def _enum(codes: np.ndarray, vocabulary) -> pa.Array:
    return take_text(pa.array(list(vocabulary), type=pa.string()), codes)


def _hhmm(minutes: np.ndarray) -> pa.Array:
    minutes = np.asarray(minutes, dtype=np.int64)
    hours = pc.utf8_lpad(pc.cast(pa.array(minutes // 60), pa.string()), width=2, padding="0")
    mins = pc.utf8_lpad(pc.cast(pa.array(minutes % 60), pa.string()), width=2, padding="0")
    return pc.binary_join_element_wise(hours, mins, ":")


def _column(ctx: SimContext, ids: IdText, table: str, column, values: np.ndarray) -> pa.Array:
    name = column.name
    if column.type == DATE:
        values = np.asarray(values, dtype=np.int64)
        return pa.array(values.astype(np.int32), type=pa.int32(), mask=values < 0).cast(pa.date32())
    if column.type == TIMESTAMP:
        values = np.asarray(values, dtype=np.int64)
        return pa.array(values, type=pa.int64(), mask=values < 0).cast(pa.timestamp("s"))
    if column.type == FLOAT:
        # Coordinates to ~0.1 m, everything else (money, quantities) to the cent.
        digits = 6 if name.endswith(("lat", "lon")) else 2
        values = np.round(np.asarray(values, dtype=float), digits)
        return pa.array(values, type=pa.float64(), mask=np.isnan(values))
    if column.type == INT:
        return pa.array(np.asarray(values, dtype=np.int64), type=pa.int64())
    if column.type == BOOL:
        return pa.array(np.asarray(values, dtype=bool), type=pa.bool_())
    if (table, name) in ENUM_COLUMNS:
        return _enum(values, ENUM_COLUMNS[(table, name)])
    if (table, name) in FORMATTED_IDS:
        return ids.ids(values, FORMATTED_IDS[(table, name)])
    if (table, name) == ("cheques", "cheque_no"):
        return pc.cast(pa.array(np.asarray(values, dtype=np.int64)), pa.string())
    if (table, name) == ("visits", "planned_time"):
        return _hhmm(values)
    if (table, name) == ("customer_events", "event_type"):
        return pa.array(list(values), type=pa.string())
    if name in STAFF_COLUMNS:
        return ids.staff(values)
    own = TABLE_ENTITY.get(table)
    spec = TABLES[table]
    if own is not None and spec.key and name == spec.key[0]:
        return ids.ids(values, own)
    if column.references is not None and column.references[0] in TABLE_ENTITY:
        return ids.ids(values, TABLE_ENTITY[column.references[0]])
    return ctx.pool.arrow(values)


def arrow_table(ctx: SimContext, ids: IdText, table: str) -> pa.Table:
    frame = ctx.tables[table]
    spec = TABLES[table]
    missing = [c.name for c in spec.columns if c.name not in frame.columns]
    if missing:
        raise KeyError(f"simulated {table} lacks contract columns {missing}")
    return pa.table({c.name: _column(ctx, ids, table, c, frame[c.name].to_numpy()) for c in spec.columns})


def _dictionary_columns(table: str) -> list[str]:
    """Columns worth dictionary-encoding: repeated values (not per-row ids, timestamps or coordinates)."""
    spec = TABLES[table]
    own = TABLE_ENTITY.get(table)
    unique_per_row = {"order", "invoice", "shipment", "credit_note", "receipt", "cheque", "visit"}
    out = []
    for c in spec.columns:
        entity = own if (spec.key and c.name == spec.key[0]) else (
            TABLE_ENTITY.get(c.references[0]) if c.references else None)
        if c.type == STR and entity not in unique_per_row and c.name not in ("invoice_no", "cheque_no"):
            out.append(c.name)
        elif c.name in ("line_no", "quantity", "unit_price", "list_price", "discount_pct"):
            out.append(c.name)
    return out


def write_dataset(ctx: SimContext, out_dir: Path, fmt: str) -> dict[str, int]:
    """Write every table (freeing each after it is written) and return row counts."""
    out_dir.mkdir(parents=True, exist_ok=True)
    ids = IdText()

    def convert_and_write(table: str) -> int:
        data = arrow_table(ctx, ids, table)
        ctx.tables.pop(table)
        if fmt == "parquet":
            pq.write_table(data, out_dir / f"{table}.parquet", compression="snappy",
                           use_dictionary=_dictionary_columns(table), write_statistics=False)
        else:
            pa_csv.write_csv(data, out_dir / f"{table}.csv", pa_csv.WriteOptions(quoting_style="needed"))
        return data.num_rows

    # Two tables at a time (numpy and Arrow release the GIL): the files do not depend on each other.
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {table: pool.submit(convert_and_write, table) for table in TABLES}
        rows = {table: future.result() for table, future in futures.items()}
    (out_dir / "policy.toml").write_text(ctx.policy.to_toml(), encoding="utf-8")
    labels_frame(ctx.labels).to_csv(out_dir / "labels.csv", index=False)
    labels_frame(ctx.decoys).to_csv(out_dir / "decoys.csv", index=False)
    return rows


def labels_frame(labels: list[Label]) -> pd.DataFrame:
    records = []
    for label in labels:
        if label.entity == "invoice_no":
            entity_id = format_id(label.entity_id, "invoice_no")
        else:
            entity_id = format_id(label.entity_id, label.entity)
        records.append({
            "pattern": label.pattern, "entity_type": label.entity, "entity_id": entity_id,
            "salesperson_id": format_id(label.salesperson, "salesperson") if label.salesperson >= 0 else "",
            "customer_id": format_id(label.customer, "customer") if label.customer >= 0 else "",
            "amount": "" if np.isnan(label.amount) else f"{label.amount:.2f}",
            "event_date": iso_date(label.event_day) if label.event_day >= 0 else "",
            "note": label.note,
        })
    frame = pd.DataFrame(records, columns=list(LABEL_COLUMNS))
    return frame.sort_values(["pattern", "entity_type", "entity_id"], kind="stable").reset_index(drop=True)

