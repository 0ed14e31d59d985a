"""Last touches before writing: ids renumbered in date order (so injected records do not stand out by
their ids), the invoice-number series with its gaps, cheque numbers, and labels pointed at final ids."""

from __future__ import annotations

import numpy as np

from audit.contract import TABLES

from . import names
from .arrays import order_by
from .context import ID_COLUMNS, SimContext
from .ids import TABLE_ENTITY, resolve_tokens
from .workdays import NULL

# entity -> (table, sort columns): new ids follow these dates.
RENUMBERED = {
    "customer": ("customers", ["created_date"]),
    "order": ("orders", ["order_date"]),
    "invoice": ("invoices", ["invoice_date"]),
    "shipment": ("shipments", ["ship_date"]),
    "credit_note": ("credit_notes", ["credit_date"]),
    "receipt": ("receipts", ["posted_date"]),
    "cheque": ("cheques", ["received_date"]),
    "visit": ("visits", ["planned_date", "planned_time"]),
}
KEY_COLUMN = {"customer": "customer_id", **{e: ID_COLUMNS[t] for e, (t, _) in RENUMBERED.items() if t in ID_COLUMNS}}


def entity_columns() -> dict[str, list[tuple[str, str]]]:
    """Every (table, column) holding an id of each renumbered entity, read off the contract."""
    out: dict[str, list[tuple[str, str]]] = {e: [] for e in RENUMBERED}
    for table in TABLES.values():
        own = TABLE_ENTITY.get(table.name)
        for col in table.columns:
            entity = None
            if own is not None and table.key and col.name == table.key[0]:
                entity = own
            elif col.references is not None:
                entity = TABLE_ENTITY.get(col.references[0])
            if entity in out:
                out[entity].append((table.name, col.name))
    return out


def finalize(ctx: SimContext) -> None:
    ctx.cache.clear()  # ids change below: derived arrays would be indexed wrongly
    ctx.tables["customers"] = ctx.world.customers.to_frame()
    for table, id_col in ID_COLUMNS.items():
        ids = ctx.tables[table][id_col].to_numpy()
        if not np.array_equal(ids, np.arange(len(ids))):
            raise AssertionError(f"{table} ids are not their row numbers")
    mappings = {}
    for entity, (table, keys) in RENUMBERED.items():
        frame = ctx.tables[table]
        old = frame[KEY_COLUMN[entity]].to_numpy()
        order = order_by(*[frame[k].to_numpy() for k in keys], old)
        new_of_old = np.empty(len(old), dtype=np.int64)
        new_of_old[old[order]] = np.arange(len(old))
        mappings[entity] = new_of_old
    for entity, places in entity_columns().items():
        mapping = mappings[entity]
        for table, column in places:
            if table not in ctx.tables:
                continue
            frame = ctx.tables[table]
            values = frame[column].to_numpy()
            frame[column] = np.where(values >= 0, mapping[np.maximum(values, 0)], values)
    for label in ctx.labels + ctx.decoys:
        label.note = resolve_tokens(label.note, mappings)
        if label.entity in mappings and label.entity_id >= 0:
            label.entity_id = int(mappings[label.entity][label.entity_id])
        if label.customer >= 0:
            label.customer = int(mappings["customer"][label.customer])
        if label.via_invoice >= 0:
            label.via_invoice = int(mappings["invoice"][label.via_invoice])
    ctx.number_gaps = [(int(mappings["invoice"][a]), w, i) for a, w, i in ctx.number_gaps]
    _sort_tables(ctx)
    _number_invoices(ctx)
    _resolve_payment_labels(ctx)
    _number_cheques(ctx)


def _sort_tables(ctx: SimContext) -> None:
    sort_keys = {
        "customers": ["customer_id"], "orders": ["order_id"], "order_lines": ["order_id", "line_no"],
        "invoices": ["invoice_id"], "invoice_lines": ["invoice_id", "line_no"], "shipments": ["shipment_id"],
        "shipment_lines": ["shipment_id", "product_id"], "credit_notes": ["credit_note_id"],
        "receipts": ["receipt_id"], "receipt_allocations": ["receipt_id", "invoice_id"],
        "cheques": ["cheque_id"], "visits": ["visit_id"], "customer_events": ["customer_id", "event_date"],
        "customer_financials": ["customer_id", "period_end"], "confirmations": ["customer_id", "as_of_date"],
    }
    for table, keys in sort_keys.items():
        frame = ctx.tables[table]
        first = frame[keys[0]].to_numpy()
        if table in ID_COLUMNS or table == "customers":
            # ids are a permutation of the row numbers: invert it instead of sorting
            order = np.empty(len(first), dtype=np.int64)
            order[first] = np.arange(len(first))
        else:
            order = order_by(*[frame[k].to_numpy() for k in keys])
        ctx.tables[table] = frame.iloc[order].reset_index(drop=True)


def _number_invoices(ctx: SimContext) -> None:
    """Numbers follow invoice order; after each gap anchor some numbers are skipped (deleted invoices)."""
    inv = ctx.tables["invoices"]
    n = len(inv)
    shift = np.zeros(n + 1, dtype=np.int64)
    anchors = []
    for anchor, width, first_label in ctx.number_gaps:
        position = min(anchor, n - 2)  # a gap needs a later number to be visible
        shift[position + 1] += width
        anchors.append((position, width, first_label))
    numbers = np.arange(n, dtype=np.int64) + np.cumsum(shift[:n])
    inv["invoice_no"] = numbers
    for position, width, first_label in anchors:
        base = int(numbers[position])
        # Several gaps after one invoice: they share one run of missing numbers, in label order.
        earlier = sum(w for p, w, f in anchors if p == position and f < first_label)
        for k in range(width):
            ctx.labels[first_label + k].entity_id = base + earlier + k + 1
    for label in ctx.decoys:
        if label.entity == "invoice_no" and label.via_invoice >= 0:
            label.entity_id = int(numbers[label.via_invoice])
            label.via_invoice = NULL


def _resolve_payment_labels(ctx: SimContext) -> None:
    """Receipt and cheque labels made from a plan change point at the receipt that paid the invoice, or at
    its cheque (the first one given, when that bounced and was replaced; the payments step already points
    most cheque labels there)."""
    alloc = ctx.tables["receipt_allocations"]
    rec = ctx.tables["receipts"]
    chq = ctx.tables["cheques"]
    a_inv = alloc["invoice_id"].to_numpy()
    order = order_by(a_inv)
    sorted_inv = a_inv[order]
    kept_labels, kept_decoys = [], []
    for source, kept in ((ctx.labels, kept_labels), (ctx.decoys, kept_decoys)):
        for label in source:
            if label.via_invoice >= 0 and label.entity in ("receipt", "cheque"):
                pos = np.searchsorted(sorted_inv, label.via_invoice)
                if pos >= len(sorted_inv) or sorted_inv[pos] != label.via_invoice:
                    continue  # not paid inside the period: nothing to point at
                receipt = int(alloc["receipt_id"].to_numpy()[order[pos]])
                if label.entity == "receipt":
                    label.entity_id = receipt
                    amount = float(rec.at[receipt, "amount"])
                else:
                    label.entity_id = int(rec.at[receipt, "cheque_id"])
                    if label.entity_id < 0:
                        continue
                    # The receipt holds the cheque that finally paid; the label is about the first one.
                    while int(chq.at[label.entity_id, "replaces_cheque_id"]) >= 0:
                        label.entity_id = int(chq.at[label.entity_id, "replaces_cheque_id"])
                    amount = float(chq.at[label.entity_id, "amount"])
                if np.isnan(label.amount):
                    label.amount = amount
            if label.entity_id < 0:
                continue
            kept.append(label)
    ctx.labels, ctx.decoys = kept_labels, kept_decoys


def _number_cheques(ctx: SimContext) -> None:
    """Each drawer account's cheques come from one cheque book: consecutive numbers."""
    chq = ctx.tables["cheques"]
    account = chq["drawer_account"].to_numpy()
    order = order_by(account, chq["received_date"].to_numpy(), chq["cheque_id"].to_numpy())
    sorted_account = account[order]
    first = np.r_[True, sorted_account[1:] != sorted_account[:-1]]
    group = np.cumsum(first) - 1
    start = np.flatnonzero(first)
    seq = np.arange(len(order)) - start[group]
    rng = ctx.rng("finalize")
    books = names.unique_numbers(rng, len(start), 100_000, 999_999) * 1000
    numbers = np.empty(len(order), dtype=np.int64)
    numbers[order] = books[group] + 1 + seq
    chq["cheque_no"] = numbers

