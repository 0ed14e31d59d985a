"""PRC-00 prices every line on its invoice date and only the lines outside the tolerance on the day before
and the order date: the same lines, with the same prices and excuses, as pricing every line on every day."""

from __future__ import annotations

import ibis
import pandas as pd
import pytest

from analyses.pricing.priced_lines import _outside_tolerance, priced_lines
from audit.data import AuditData
from audit.engine import Engine
from audit.loading import load
from audit.policy import load_policy, policy_beside
from audit.validation import validate
from simulator import simulate


@pytest.fixture(scope="module")
def tiny_ledger(tmp_path_factory):
    folder = tmp_path_factory.mktemp("priced") / "ledger"
    simulate(folder, scale="tiny", seed=7)
    return folder


@pytest.mark.parametrize("tolerance_pct", [0.0, 2.0])
def test_lines_outside_the_tolerance_are_those_of_every_line_priced_on_every_day(tiny_ledger, tolerance_pct):
    policy = load_policy(policy_beside(tiny_ledger))
    data = AuditData(validate(load(tiny_ledger, lazy=True), policy, consume=True, stage=True), policy,
                     Engine("duckdb"))
    try:
        everything = priced_lines(data, 14)
        valid = ibis.coalesce(everything.class_price, everything.general_price, everything.line_list_price,
                              everything.product_list_price)
        expected = data.execute(everything.mutate(valid_price=valid).filter(
            ((everything.unit_price - valid).abs() > valid * (tolerance_pct / 100.0)) & valid.notnull()))
        found = _outside_tolerance(data, tolerance_pct, 14)
    finally:
        data.engine.close()
    assert len(expected) > 0
    # the excuses are looked up for these lines: some have a price the day before or on the order date
    assert expected["previous_price"].notna().any() and expected["order_day_price"].notna().any()
    assert list(found.columns) == list(expected.columns)
    order = ["invoice_id", "line_no"]
    pd.testing.assert_frame_equal(found.sort_values(order, ignore_index=True),
                                  expected.sort_values(order, ignore_index=True))
