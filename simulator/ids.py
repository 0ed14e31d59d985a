"""Identifiers and strings: how the simulator's integer ids are written, and its string pool.

Inside the simulator every id is a 0-based ``int`` (row number of its table) and every free-text value
is a code into one :class:`StringPool`; the writer turns them into text only when a table is written.
Staff references (``created_by``, ``approved_by``, ...) may name an employee or a salesperson: a staff
code below :data:`SALESPERSON_STAFF_BASE` is an employee, at or above it a salesperson.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SALESPERSON_STAFF_BASE = 10_000_000

# entity -> (prefix, digits); ids are written 1-based.
ID_FORMATS: dict[str, tuple[str, int]] = {
    "salesperson": ("S", 4),
    "employee": ("E", 4),
    "customer": ("C", 6),
    "product": ("P", 5),
    "order": ("O", 8),
    "invoice": ("I", 8),
    "invoice_no": ("INV-", 7),
    "shipment": ("SH", 8),
    "credit_note": ("CN", 7),
    "receipt": ("R", 8),
    "cheque": ("Q", 7),
    "visit": ("V", 8),
    "warehouse": ("WH", 2),
}

# Contract table -> the entity its key column names.
TABLE_ENTITY = {
    "salespeople": "salesperson", "employees": "employee", "customers": "customer",
    "products": "product", "orders": "order", "invoices": "invoice", "shipments": "shipment",
    "credit_notes": "credit_note", "receipts": "receipt", "cheques": "cheque", "visits": "visit",
}


def salesperson_staff(salesperson: np.ndarray | int):
    return np.asarray(salesperson) + SALESPERSON_STAFF_BASE


def format_ids(values, entity: str) -> pa.Array:
    """Integer ids (negative = null) as the entity's text ids."""
    prefix, digits = ID_FORMATS[entity]
    values = np.asarray(values, dtype=np.int64)
    null = values < 0
    numbers = pa.array(np.where(null, 0, values) + 1, type=pa.int64())
    text = pc.utf8_lpad(pc.cast(numbers, pa.string()), width=digits, padding="0")
    text = pc.binary_join_element_wise(pa.scalar(prefix), text, "")
    if null.any():
        text = pc.if_else(pa.array(null), pa.scalar(None, pa.string()), text)
    return text


def format_id(value: int, entity: str) -> str:
    prefix, digits = ID_FORMATS[entity]
    return f"{prefix}{int(value) + 1:0{digits}d}"


_TOKEN = re.compile(r"<(customer|invoice|order|shipment|receipt|cheque|visit|credit_note):(\d+)>")


def id_token(entity: str, internal_id: int) -> str:
    """A token standing for an id inside a note, written out once ids are final."""
    return f"<{entity}:{int(internal_id)}>"


def resolve_tokens(text: str, mappings: dict[str, np.ndarray]) -> str:
    """Replace :func:`id_token` tokens by the final text ids."""
    return _TOKEN.sub(lambda m: format_id(int(mappings[m.group(1)][int(m.group(2))]), m.group(1)), text)


def take_text(table: pa.Array, codes) -> pa.Array:
    """``table[codes]`` with negative codes as nulls."""
    codes = np.asarray(codes, dtype=np.int64)
    null = codes < 0
    return table.take(pa.array(np.where(null, 0, codes), mask=null if null.any() else None))


class IdText:
    """Text ids of each entity, formatted once and then looked up (much faster than formatting every
    column's millions of values)."""

    def __init__(self):
        self._formatted: dict[str, pa.Array] = {}

    def ids(self, values, entity: str) -> pa.Array:
        values = np.asarray(values, dtype=np.int64)
        needed = int(values.max()) + 1 if len(values) else 0
        table = self._formatted.get(entity)
        if table is None or len(table) < needed:
            table = format_ids(np.arange(max(needed, 1)), entity)
            self._formatted[entity] = table
        return take_text(table, values)

    def staff(self, codes) -> pa.Array:
        codes = np.asarray(codes, dtype=np.int64)
        is_salesperson = codes >= SALESPERSON_STAFF_BASE
        employees = self.ids(np.where(is_salesperson | (codes < 0), -1, codes), "employee")
        salespeople = self.ids(np.where(is_salesperson, codes - SALESPERSON_STAFF_BASE, -1), "salesperson")
        return pc.if_else(pa.array(is_salesperson), salespeople, employees)


class StringPool:
    """Append-only list of strings; columns hold int codes into it (-1 = null)."""

    def __init__(self):
        self.strings: list[str] = []
        self._codes: dict[str, int] = {}
        self._arrow: pa.Array | None = None

    def code(self, text: str) -> int:
        found = self._codes.get(text)
        if found is None:
            found = len(self.strings)
            self.strings.append(text)
            self._codes[text] = found
        return found

    def codes(self, texts) -> np.ndarray:
        lookup, strings = self._codes, self.strings
        get = lookup.get
        out = [get(text, -1) for text in texts]
        for i, found in enumerate(out):
            if found < 0:
                text = texts[i]
                found = get(text, -1)  # may have been added earlier in this batch
                if found < 0:
                    found = lookup[text] = len(strings)
                    strings.append(text)
                out[i] = found
        return np.array(out, dtype=np.int64)

    def text(self, code: int) -> str:
        return self.strings[code]

    def arrow(self, codes) -> pa.Array:
        if self._arrow is None or len(self._arrow) != len(self.strings):
            self._arrow = pa.array(self.strings, type=pa.string())
        return take_text(self._arrow, codes)
