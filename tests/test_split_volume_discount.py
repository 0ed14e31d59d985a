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
