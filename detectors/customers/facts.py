"""Per-customer facts shared by the customer detectors, reduced in the engine (Ibis) first.

Every function returns a small pandas frame sorted by its keys, so that DuckDB and Spark give the
same rows in the same order.
"""

from __future__ import annotations

import functools

import ibis
import numpy as np
import pandas as pd

from analyses.links.graph import text_key
from audit.ledger import invoice_amounts, ledger_movements
from audit.membership import among


@functools.lru_cache(maxsize=65536)  # a pure function of the text: the same accounts and names recur
def compact_key(value) -> str | None:
    """An account number or name compared as its letters and digits (spaces and punctuation vary)."""
    key = "".join(ch for ch in (text_key(value, join=True) or "") if ch.isalnum())
    return key or None


def _shared(data, name: str, compute):
    """A fact of the whole ledger, computed once per run (``AuditData.shared_fact``) where the data keeps them."""
    keep = getattr(data, "shared_fact", None)
    return compute() if keep is None else keep(f"{__name__}.{name}", compute)


def invoice_summary(data) -> pd.DataFrame:
    """customer_id, first_invoice, last_invoice, invoices, invoiced (posted, net amounts). CUS-01 and CUS-02
    both read it: the engine sums every invoice line for it once per run."""
    return _shared(data, "invoice_summary", lambda: _invoice_summary(data))


def _invoice_summary(data) -> pd.DataFrame:
    invoices = invoice_amounts(data)
    reduced = invoices.group_by("customer_id").aggregate(
        first_invoice=invoices.invoice_date.min(), last_invoice=invoices.invoice_date.max(),
        invoices=invoices.count(), invoiced=invoices.amount.sum())
    frame = data.execute(reduced)
    for column in ("first_invoice", "last_invoice"):
        frame[column] = pd.to_datetime(frame[column])
    return frame.sort_values("customer_id", ignore_index=True)


def invoicing_salespeople(data) -> pd.DataFrame:
    """customer_id, salesperson_id, invoices, invoiced: who invoiced each customer and how much."""
    invoices = invoice_amounts(data)
    reduced = invoices.group_by(["customer_id", "salesperson_id"]).aggregate(
        invoices=invoices.count(), invoiced=invoices.amount.sum())
    return data.execute(reduced).sort_values(["customer_id", "salesperson_id"], ignore_index=True)


def main_salesperson(data) -> pd.Series:
    """The salesperson who invoiced the most to each customer (index customer_id)."""
    by = invoicing_salespeople(data)
    if by.empty:
        return pd.Series(dtype="object")
    by = by.sort_values(["customer_id", "invoiced", "salesperson_id"], ascending=[True, False, True])
    return by.drop_duplicates("customer_id").set_index("customer_id")["salesperson_id"]


def customer_invoices(data, customer_ids) -> pd.DataFrame:
    """The posted invoices of some customers: invoice_id, invoice_no, customer_id, salesperson_id,
    invoice_date, due_date, amount."""
    customer_ids = sorted(set(customer_ids))
    if not customer_ids:
        return pd.DataFrame(columns=["invoice_id", "invoice_no", "customer_id", "salesperson_id", "invoice_date",
                                     "due_date", "amount"])
    invoices = invoice_amounts(data)
    frame = data.execute(invoices.filter(among(invoices.customer_id, customer_ids)).select(
        "invoice_id", "invoice_no", "customer_id", "salesperson_id", "invoice_date", "due_date", "amount"))
    frame["invoice_date"] = pd.to_datetime(frame["invoice_date"])
    return frame.sort_values(["customer_id", "invoice_date", "invoice_id"], ignore_index=True)


def balances(data, as_of=None) -> pd.Series:
    """Each customer's ledger balance (invoices − payments − cash discounts − credit notes), up to
    ``as_of`` when given (index customer_id). Without ``as_of``, computed once per run (CUS-01 and CUS-02
    both read it)."""
    if as_of is None:
        return _shared(data, "balances", lambda: _balances(data, None))
    return _balances(data, as_of)


def _balances(data, as_of) -> pd.Series:
    movements = ledger_movements(data)
    if as_of is not None:
        movements = movements.filter(movements.date <= as_of)
    reduced = movements.group_by("customer_id").aggregate(balance=movements.amount.sum())
    frame = data.execute(reduced).sort_values("customer_id")
    return frame.set_index("customer_id")["balance"]


def daily_movements(data, customer_ids) -> pd.DataFrame:
    """customer_id, date, amount: the ledger movements of some customers summed per day."""
    customer_ids = sorted(set(customer_ids))
    if not customer_ids:
        return pd.DataFrame(columns=["customer_id", "date", "amount"])
    movements = ledger_movements(data)
    chosen = movements.filter(among(movements.customer_id, customer_ids))
    reduced = chosen.group_by(["customer_id", "date"]).aggregate(amount=chosen.amount.sum())
    frame = data.execute(reduced)
    frame["date"] = pd.to_datetime(frame["date"])
    return frame.sort_values(["customer_id", "date"], ignore_index=True)


def receipts_by_collector(data) -> pd.DataFrame:
    """customer_id, method, collected_by, receipts, amount, last_receipt: how each customer paid."""
    columns = ["customer_id", "method", "collected_by", "receipts", "amount", "last_receipt"]
    if not data.has("receipts", ("customer_id", "method", "amount")):
        return pd.DataFrame(columns=columns)
    receipts = data.table("receipts")
    reduced = receipts.group_by(["customer_id", "method", "collected_by"]).aggregate(
        receipts=receipts.count(), amount=receipts.amount.sum(), last_receipt=receipts.receipt_date.max())
    frame = data.execute(reduced)
    frame["last_receipt"] = pd.to_datetime(frame["last_receipt"])
    return frame.loc[:, columns].sort_values(["customer_id", "method", "collected_by"], ignore_index=True,
                                             na_position="last")


def monthly_payments(data, customer_ids) -> pd.DataFrame:
    """customer_id, month, method, collected_by, drawer_account, amount: some customers' receipts summed
    per calendar month of the receipt, with the account their cheque was drawn on (when the cheques say)."""
    columns = ["customer_id", "month", "method", "collected_by", "drawer_account", "amount"]
    customer_ids = sorted(set(customer_ids))
    if not customer_ids or not data.has("receipts", ("customer_id", "receipt_date", "method", "amount")):
        return pd.DataFrame(columns=columns)
    receipts = data.table("receipts")
    receipts = receipts.filter(among(receipts.customer_id, customer_ids))
    if "collected_by" not in receipts.columns:
        receipts = receipts.mutate(collected_by=ibis.null("string"))
    if data.has("receipts", ("cheque_id",)) and data.has("cheques", ("cheque_id", "drawer_account")):
        cheques = data.table("cheques").select("cheque_id", "drawer_account")
        receipts = receipts.left_join(cheques, "cheque_id")
    else:
        receipts = receipts.mutate(drawer_account=ibis.null("string"))
    receipts = receipts.mutate(month=receipts.receipt_date.truncate("M"))
    reduced = receipts.group_by(["customer_id", "month", "method", "collected_by", "drawer_account"]).aggregate(
        amount=receipts.amount.sum())
    frame = data.execute(reduced)
    frame["month"] = pd.to_datetime(frame["month"]).dt.to_period("M")
    return frame.loc[:, columns].sort_values(columns[:5], ignore_index=True, na_position="last")


def shipment_counts(data) -> pd.Series:
    """Number of shipments per customer (index customer_id)."""
    if not data.has("shipments"):
        return pd.Series(dtype="float64")
    ships = data.table("shipments")
    frame = data.execute(ships.group_by("customer_id").aggregate(shipments=ships.count()))
    return frame.sort_values("customer_id").set_index("customer_id")["shipments"].astype(float)


def done_visits(data, customer_ids) -> pd.DataFrame:
    """visit_id, customer_id, salesperson_id, planned_date, status, checkin_lat, checkin_lon of some
    customers' visits."""
    columns = ["visit_id", "customer_id", "salesperson_id", "planned_date", "status", "checkin_lat", "checkin_lon"]
    customer_ids = sorted(set(customer_ids))
    if not customer_ids or not data.has("visits", ("visit_id", "customer_id")):
        return pd.DataFrame(columns=columns)
    visits = data.table("visits")
    frame = data.execute(visits.filter(among(visits.customer_id, customer_ids)).select(*columns))
    return frame.sort_values(["customer_id", "visit_id"], ignore_index=True)


def pings_near(data, places: pd.DataFrame, radius_m: float) -> pd.Series:
    """GPS pings of each place's salesperson within ``radius_m`` of it (index: the places' index).

    ``places`` has salesperson_id, lat, lon. The engine returns only the pings inside a box around
    each place (one filter per salesperson); the exact distance is measured here.
    """
    from audit.common import haversine_m

    counts = pd.Series(0, index=places.index, dtype="int64")
    usable = places.dropna(subset=["salesperson_id", "lat", "lon"])
    if usable.empty or not data.has("gps_pings", ("salesperson_id", "lat", "lon")):
        return counts
    pings = data.table("gps_pings")
    dlat = radius_m / 111_000.0
    boxes = []
    for row in usable.itertuples():
        dlon = radius_m / (111_000.0 * max(np.cos(np.radians(row.lat)), 0.01))
        boxes.append((row.salesperson_id, row.lat - dlat, row.lat + dlat, row.lon - dlon, row.lon + dlon))
    boxes = pd.DataFrame(boxes, columns=["salesperson_id", "lat_low", "lat_high", "lon_low", "lon_high"])
    boxes["salesperson_id"] = boxes["salesperson_id"].astype(object)
    schema = {"salesperson_id": pings.salesperson_id.type().copy(nullable=True), "lat_low": "float64",
              "lat_high": "float64", "lon_low": "float64", "lon_high": "float64"}
    # Each group of 100 places keeps the pings inside any of its boxes, each ping once per group (as when a
    # group was one query with a condition per place); the boxes are joined on the salesperson instead of
    # every ping being tested against a hundred conditions.
    chunk = 100
    parts = []
    for start in range(0, len(boxes), chunk):
        group = ibis.memtable(boxes.iloc[start:start + chunk], schema=schema)
        inside = pings.semi_join(group, [pings.salesperson_id == group.salesperson_id,
                                         pings.lat.between(group.lat_low, group.lat_high),
                                         pings.lon.between(group.lon_low, group.lon_high)])
        parts.append(inside.select("salesperson_id", "lat", "lon"))
    found = data.execute(ibis.union(*parts, distinct=False) if len(parts) > 1 else parts[0])
    if found.empty:
        return counts
    of_salesperson = dict(list(found.groupby("salesperson_id", sort=False)))
    for salesperson, group in usable.groupby("salesperson_id"):
        own = of_salesperson.get(salesperson)
        if own is None:
            continue
        for index, row in group.iterrows():
            near = haversine_m(own["lat"], own["lon"], row["lat"], row["lon"]) <= radius_m
            counts[index] = int(near.sum())
    return counts
