"""The shortcuts validation takes on a table that conforms give what the full checks give.

Text that needs no stripping (audit.validation._text_bytes), typed numbers and dates usable as they are
(_usable_as_typed) and a schema with nothing to report (_schema_holds) skip passes over the columns. Each mini
ledger of tests/test_engine_checks.py (clean, or with one kind of defect or value) and a few more are validated
with the shortcuts and with them turned off: problems, staged tables and sources must be the same.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa
import pytest

import audit.validation as validation
from audit.loading import load
from audit.policy import load_policy
from tests.conftest import MINI
from tests.test_engine_checks import (
    CASES,
    RUN_DATE,
    VALUE_CASES,
    _ledger,
    _replace,
    _retype,
    _same,
    mini_frames,
)

__all__ = ["mini_frames"]  # the fixture, shared

MORE_CASES = {
    "whole number beyond float precision": ("invoice_lines", _replace("line_no", lambda v: [2**53 + 1] + v[1:])),
    "date before the earliest year": ("invoices", _replace("invoice_date", lambda v: [dt.date(1403, 1, 15)] + v[1:])),
    "founding date long before the window": ("customers", _replace(
        "established_date", lambda v: [dt.date(1950, 3, 1)] + v[1:])),
    "last plausible day and the day after": ("invoices", _replace(
        "due_date", lambda v: [dt.date(2027, 1, 1), dt.date(2027, 1, 2)] + v[2:])),
    "rows not in key order": ("invoices", lambda t: t.take(list(range(t.num_rows))[::-1])),
    "key repeated out of order": ("invoices", _replace("invoice_id", lambda v: v[:-1] + [v[0]])),
    "negative zero amount": ("receipts", _replace("amount", lambda v: [-0.0] + v[1:])),
    "text with a space inside only": ("products", _replace("brand", lambda v: [f"{v[0]} x"] + v[1:])),
    "blank text in an optional column": ("invoices", _replace("approved_by", lambda v: [""] + v[1:])),
    "ideographic space around an id": ("invoices", _replace("customer_id", lambda v: [f"\u3000{v[0]}"] + v[1:])),
    "timestamps in nanoseconds": ("visits", _retype("checkin_at", lambda v: pa.array(
        [None if x is None else pd.Timestamp(x) for x in v], type=pa.timestamp("ns")))),
}
ALL_CASES = {**{case: (table, edit) for case, (table, edit, _) in CASES.items()}, **VALUE_CASES, **MORE_CASES,
             "clean": (None, None)}


def _validate(folder: str):
    return validation.validate(load(folder, lazy=True), load_policy(MINI / "policy.toml"), RUN_DATE, consume=True,
                               stage=True, engine_checks=False)


def _without_shortcuts(folder: str, monkeypatch):
    with monkeypatch.context() as patched:
        patched.setattr(validation, "_text_bytes", lambda column: (False, False))
        patched.setattr(validation, "_usable_as_typed", lambda *args: None)
        patched.setattr(validation, "_schema_holds", lambda spec, frame: False)
        return _validate(folder)


@pytest.mark.parametrize("case", sorted(ALL_CASES))
def test_shortcuts_give_what_the_full_checks_give(tmp_path, mini_frames, monkeypatch, case):
    table, edit = ALL_CASES[case]
    folder = _ledger(tmp_path, mini_frames, {table: edit} if table else None)
    _same(_without_shortcuts(folder, monkeypatch), _validate(folder))


def test_a_clean_ledger_takes_the_shortcuts(tmp_path, mini_frames, monkeypatch):
    taken = {"text": 0, "typed": 0}
    schema_held = set()

    def counted(name, function, took):
        def wrapper(*args):
            result = function(*args)
            taken[name] += bool(took(result))
            return result
        monkeypatch.setattr(validation, function.__name__, wrapper)

    counted("text", validation._text_bytes, lambda result: all(result))
    counted("typed", validation._usable_as_typed, lambda result: result is not None)
    holds = validation._schema_holds
    monkeypatch.setattr(validation, "_schema_holds",
                        lambda spec, frame: holds(spec, frame) and not schema_held.add(spec.name))
    tables = _validate(_ledger(tmp_path, mini_frames))
    assert not tables.problems
    assert taken["text"] > 20 and taken["typed"] > 20
    # a price list's key has blanks (prices for every class): pandera says whether it repeats
    assert schema_held == set(tables.frames) - {"price_list"}
