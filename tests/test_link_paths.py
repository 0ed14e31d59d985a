"""Issue 22 (speed and memory): the cheaper paths give what the plain ones gave.

``compute_links`` projects only the identifiers two or more entities share, from plain dicts, and hands the
table back through its pickle; projecting the full networkx graph (``build_graph``) must give the same
table, row for row. DSC-01's weekly spread is worked out in numpy as pandas' ``Series.var``/``mean`` do.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analyses.links.graph import LinkSettings, build_graph, compute_links, project_links
from detectors.discounts.dsc_01_split_volume_discount import DAY_NS, _neighbour_pace
from tests.test_entity_links import _inputs


def _world():
    rng = np.random.default_rng(7)
    first = ["Ali", "Reza", "Sara", "Mina", "Omid", "Hadi"]
    last = ["Karimi", "Hosseini", "Hoseini", "Rezaei", "Parsa", "Zand"]
    customers = [{"customer_id": f"C{i:03d}", "owner_name": f"{rng.choice(first)} {rng.choice(last)}",
                  "name": f"Shop {i % 7}", "phone": f"0912 000 {i % 23:04d}", "bank_account": f"IR{i % 17:07d}",
                  "address": f"No. {i % 9}, Azadi St., Tehran", "lat": 35.6 + (i % 5) * 0.01, "lon": 51.3,
                  "customer_class": "chain" if i % 11 == 0 else "retail"} for i in range(120)]
    staff = [{"entity": "employee:E1", "name": "Ali Karimi", "phone": "0912 000 0003", "address": None,
              "bank_account": "IR0000005"},
             {"entity": "salesperson:S1", "name": "Sara Zand", "phone": None, "address": "No. 4, Azadi St.",
              "bank_account": None}]
    deliveries = [{"customer_id": f"C{i:03d}", "delivery_address": f"No. {(i * 3) % 9}, Azadi Street, Tehran",
                   "received_by": f"{rng.choice(first)} {rng.choice(last)}", "lat": 35.6 + (i % 4) * 0.01,
                   "lon": 51.3, "shipments": int(i % 4 + 1), "first_date": pd.Timestamp("2025-01-01"),
                   "last_date": pd.Timestamp("2025-02-01") + pd.Timedelta(days=i)} for i in range(0, 120, 2)]
    drawers = [{"customer_id": f"C{i:03d}", "drawer_account": f"IR{(i + 1) % 17:07d}" if i % 3 else None,
                "drawer_name": f"{rng.choice(first)} {rng.choice(last)}", "cheques": 2, "amount": 1000.0 * i}
               for i in range(0, 120, 3)]
    return _inputs(customers, staff, deliveries, drawers)


def test_links_without_the_graph_are_the_links_of_the_full_graph():
    inputs, settings = _world(), LinkSettings(max_shared=12)
    fast = compute_links(inputs, settings)
    full = project_links(build_graph(inputs, settings), inputs, settings)
    assert len(fast) > 50 and set(fast["kind"]) >= {"shared_phone", "shared_owner_name", "delivery_point"}
    pd.testing.assert_frame_equal(fast, full)
    assert fast.attrs["stats"] == full.attrs["stats"]
    assert fast.attrs["stats"]["placeholder_identifiers"] > 0


def test_the_weekly_spread_is_pandas_variance_over_mean():
    rng = np.random.default_rng(3)
    for _ in range(300):
        days = np.sort(rng.choice(400, size=int(rng.integers(2, 60)), replace=True)) + 19_000
        dates = days.astype(np.int64) * DAY_NS
        _, _, spread = _neighbour_pace(dates, pd.Timestamp("2030-01-01"), pd.Timestamp("2030-01-02"), 2)
        weeks = (days + 3) // 7
        weekly = pd.Series(np.bincount(weeks - weeks.min()))
        expected = max(1.0, float(weekly.var() / weekly.mean())) if len(weekly) > 1 and weekly.mean() > 0 else 1.0
        assert spread == expected
