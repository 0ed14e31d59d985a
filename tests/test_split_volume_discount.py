"""The usual quantity of split_volume_discount (DSC-01), worked out for all tier lines at once."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from detectors.discounts.dsc_01_split_volume_discount import SplitVolumeDiscount


def usual_by_hand(tier: pd.DataFrame, history: pd.DataFrame, first_tier_quantity: float) -> pd.DataFrame:
    """The definition, one tier line at a time: the median of the customer's other invoices' lines, and
    the months other than the invoice's in which those other invoices have a line at tier quantity."""
    usual, months = [], []
    for customer, invoice_id, when in zip(tier["customer_id"], tier["invoice_id"], tier["invoice_date"], strict=True):
        other = history[(history["customer_id"] == customer) & (history["invoice_id"] != invoice_id)]
        usual.append(float(np.median(other["quantity"])) if len(other) else np.nan)
        bulk = set(other.loc[other["quantity"] >= first_tier_quantity, "invoice_date"].dt.to_period("M"))
        bulk.discard(pd.Timestamp(when).to_period("M"))
        months.append(len(bulk))
    return tier.assign(usual_quantity=usual, multiple=tier["quantity"].to_numpy() / np.array(usual),
                       other_bulk_months=np.array(months, dtype=int))


def random_history(seed: int) -> pd.DataFrame:
    """Customers with 1 to 11 invoices of 1 to 5 lines: repeated quantities, odd and even counts."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(60):
        for i in range(int(rng.integers(1, 12))):
            date = pd.Timestamp("2025-01-01") + pd.Timedelta(days=int(rng.integers(0, 400)))
            for _ in range(int(rng.integers(1, 6))):
                quantity = float(rng.choice([1, 2, 5, 8, 8, 10, 100, 150, 700]))
                rows.append((f"C{c:03d}", f"I{c:03d}-{i}", date, quantity))
    return pd.DataFrame(rows, columns=["customer_id", "invoice_id", "invoice_date", "quantity"])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_usual_quantity_and_bulk_months_match_the_definition(seed):
    history = random_history(seed)
    tier = history[history["quantity"] >= 100].sample(frac=1.0, random_state=seed)
    # A customer with no history at all has no usual quantity.
    stranger = pd.DataFrame({"customer_id": ["C999"], "invoice_id": ["I999"],
                             "invoice_date": [pd.Timestamp("2025-03-03")], "quantity": [500.0]}, index=[-1])
    tier = pd.concat([tier, stranger])
    detector = SplitVolumeDiscount(first_tier_quantity=100.0)
    found = detector._with_usual(tier, history)
    pd.testing.assert_frame_equal(found, usual_by_hand(tier, history, 100.0), check_exact=True)
    assert found["usual_quantity"].isna().sum() >= 1 and (found["other_bulk_months"] > 0).any()


def test_a_customers_only_invoice_has_no_usual_quantity():
    history = pd.DataFrame({"customer_id": ["C1", "C1"], "invoice_id": ["I1", "I1"],
                            "invoice_date": pd.to_datetime(["2025-01-05", "2025-01-05"]), "quantity": [700.0, 3.0]})
    found = SplitVolumeDiscount()._with_usual(history.iloc[[0]], history)
    assert np.isnan(found["usual_quantity"].iloc[0]) and found["other_bulk_months"].iloc[0] == 0


def _portfolio_ledger(stopped: tuple[str, ...], everyone_quiet: bool = False):
    """One salesperson, a booker (C1, 10 units a line) and six regular neighbours (two invoices a week
    each, all year). On 2025-06-16 C1 is invoiced 600 units at the tier and takes the whole delivery
    itself. The ``stopped`` neighbours buy nothing from a week before to four weeks after; with
    ``everyone_quiet`` every neighbour buys only in one week of those five (the salesperson away), while
    another salesperson's customers buy as usual."""
    from audit.testing import tables_from_frames

    neighbours = [f"N{k}" for k in range(1, 7)]
    customers = pd.DataFrame({"customer_id": ["C1", *neighbours], "name": ["Booker", *neighbours],
                              "created_date": pd.Timestamp("2023-01-01"), "assigned_salesperson_id": "S1",
                              "customer_class": "retail", "address": [f"{k} Azadi St" for k in range(7)],
                              "owner_name": [f"Owner {k}" for k in range(7)]})
    window = (pd.Timestamp("2025-06-09"), pd.Timestamp("2025-07-14"))
    invoices, lines = [], []

    def invoice(customer, when, quantity, discount=0.0):
        invoice_id = f"I{len(invoices) + 1:05d}"
        invoices.append((invoice_id, invoice_id, when, customer, "S1", "posted"))
        lines.append((invoice_id, 1, "P1", quantity, 10000.0, discount, "volume" if discount else None))

    # another salesperson's twelve customers buy as usual all year: the ledger as a whole is not quiet
    others = [f"M{k}" for k in range(1, 13)]
    customers = pd.concat([customers, customers.iloc[[1] * 12].assign(
        customer_id=others, name=others, assigned_salesperson_id="S2",
        address=[f"{k} Vali Asr St" for k in range(12)], owner_name=[f"Other {k}" for k in range(12)])],
        ignore_index=True)
    for when in pd.date_range("2025-01-06", "2025-12-22", freq="W-MON"):
        for customer in others:
            invoices.append((f"J{len(invoices) + 1:05d}", f"J{len(invoices) + 1:05d}", when, customer, "S2", "posted"))
            lines.append((invoices[-1][0], 1, "P1", 8.0, 10000.0, 0.0, None))
        invoice("C1", when, 10.0)
        for k, customer in enumerate(neighbours):
            for offset in (0, 3):
                day = when + pd.Timedelta(days=offset + k % 2)
                inside = window[0] <= day <= window[1]
                quiet_week = pd.Timestamp("2025-06-23") <= day < pd.Timestamp("2025-06-30")
                if inside and (customer in stopped or (everyone_quiet and not quiet_week)):
                    continue
                invoice(customer, day, 8.0)
    invoice("C1", pd.Timestamp("2025-06-16"), 600.0, discount=6.0)
    big = invoices[-1][0]
    frames = {
        "customers": customers,
        "invoices": pd.DataFrame(invoices, columns=["invoice_id", "invoice_no", "invoice_date", "customer_id",
                                                    "salesperson_id", "status"]),
        "invoice_lines": pd.DataFrame(lines, columns=["invoice_id", "line_no", "product_id", "quantity", "unit_price",
                                                      "discount_pct", "discount_type"]),
        "shipments": pd.DataFrame({"shipment_id": ["SH1"], "invoice_id": [big], "ship_date": [pd.Timestamp("2025-06-17")],
                                   "customer_id": ["C1"], "delivery_address": ["0 Azadi St"],
                                   "received_by": ["Owner 0"]}),
        "shipment_lines": pd.DataFrame({"shipment_id": ["SH1"], "line_no": [1], "product_id": ["P1"],
                                        "quantity": [600.0]}),
        "products": pd.DataFrame({"product_id": ["P1"], "name": ["Rice"], "list_price": [10000.0]}),
        "salespeople": pd.DataFrame({"salesperson_id": ["S1", "S2"], "name": ["Sales One", "Sales Two"]}),
    }
    return tables_from_frames(frames), big


def _split_findings(tables):
    from audit.testing import run_detector

    return run_detector(SplitVolumeDiscount, tables)


def test_co_buyers_that_no_delivery_names_are_found_among_the_salespersons_customers():
    tables, big = _portfolio_ledger(stopped=("N2", "N5"))
    found = _split_findings(tables)
    assert list(found["entity_id"]) == [big]
    evidence = found.iloc[0]["evidence"]
    unnamed = evidence["unnamed_co_buyers"]
    assert [d["customer_id"] for d in unnamed["dipped"]] == ["N2", "N5"]
    assert unnamed["neighbours_tested"] == 6 and unnamed["strength"] > 0
    assert evidence["traces"]["salesperson_customers_stop"] > 0 and evidence["traces"]["shipped_to_others"] == 0
    assert "bought far less in the same weeks" in found.iloc[0]["explanation"]
    assert "N2, N5 what they received" in found.iloc[0]["check_next"]


def test_a_big_order_while_the_other_customers_buy_as_usual_is_not_flagged():
    tables, _ = _portfolio_ledger(stopped=())
    assert _split_findings(tables).empty


def test_the_whole_portfolio_buying_less_those_weeks_is_no_co_buyer_sign():
    """Every neighbour buying in only one of those five weeks (the salesperson away, a route changed):
    each one's fall is the portfolio's, not a co-buyer's share of the big order."""
    tables, _ = _portfolio_ledger(stopped=(), everyone_quiet=True)
    assert _split_findings(tables).empty


def test_a_neighbours_pace_in_numpy_is_the_pandas_reading_of_its_dates():
    from detectors.discounts.dsc_01_split_volume_discount import _neighbour_pace, _window_pace

    rng = np.random.default_rng(3)
    for trial in range(40):
        # dates across a year end, some with a time of day, some repeated, bursts and gaps
        days = np.sort(rng.choice(np.arange(-40, 400), size=int(rng.integers(1, 60))))
        dates = pd.Series(pd.Timestamp("2024-12-01") + pd.to_timedelta(days, unit="D")
                          + pd.to_timedelta(rng.integers(0, 2, days.size) * 13, unit="h"))
        when = pd.Timestamp("2025-03-01") + pd.Timedelta(days=int(rng.integers(-60, 60)))
        start, end, window = when - pd.Timedelta(days=14), when + pd.Timedelta(days=21), 36
        inside, expected, outside = _window_pace(dates, start, end, window)
        got = _neighbour_pace(dates.to_numpy(dtype="datetime64[ns]").astype(np.int64), start, end, window)
        assert got[0] == int(inside) and got[1] == expected, trial
        if expected is not None:
            weekly = outside.dt.to_period("W").value_counts().reindex(
                pd.period_range(outside.min(), outside.max(), freq="W"), fill_value=0)
            spread = max(1.0, float(weekly.var() / weekly.mean())) if len(weekly) > 1 and weekly.mean() > 0 else 1.0
            assert got[2] == spread, trial
