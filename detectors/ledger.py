"""Shared relational building blocks over the ledger, written once with Ibis.

Every detector that needs an invoice's amount, a customer's balance on a date or what a receipt paid
uses these, so the contract's definitions ("Meaning of amounts and dates") live in one place:

- a line's net amount is quantity × unit_price × (1 − discount_pct / 100);
- an invoice's amount is the sum of its lines; only posted (not cancelled) invoices count;
- a customer's ledger balance = net invoice amounts − allocations − cash_discount_amount − credit notes.
"""

from __future__ import annotations

import ibis
import pandas as pd


def line_net(lines: ibis.Table) -> ibis.Value:
    return lines.quantity * lines.unit_price * (1 - lines.discount_pct.fill_null(0) / 100.0)


def posted_invoices(data) -> ibis.Table:
    invoices = data.table("invoices")
    return invoices.filter(invoices.status.isnull() | (invoices.status != "cancelled"))


def invoice_amounts(data) -> ibis.Table:
    """Posted invoices with their net amount: invoice_id, customer_id, salesperson_id, dates, amount."""
    lines = data.table("invoice_lines")
    totals = lines.group_by("invoice_id").aggregate(amount=line_net(lines).sum(), n_lines=lines.count())
    invoices = posted_invoices(data)
    return invoices.join(totals, "invoice_id").select(
        invoices.invoice_id, invoices.invoice_no, invoices.customer_id, invoices.salesperson_id,
        invoices.invoice_date, invoices.due_date, totals.amount, totals.n_lines)


def ledger_movements(data) -> ibis.Table:
    """Every movement of customers' balances: customer_id, date, amount (+ owed, − paid), kind."""
    invoices = invoice_amounts(data)
    parts = [invoices.select(customer_id=invoices.customer_id, date=invoices.invoice_date,
                             amount=invoices.amount, kind=ibis.literal("invoice"))]
    if data.has("receipts") and data.has("receipt_allocations"):
        allocations = data.table("receipt_allocations")
        receipts = data.table("receipts")
        paid = allocations.join(receipts, "receipt_id")
        parts.append(paid.select(
            customer_id=receipts.customer_id, date=receipts.posted_date,
            amount=-(allocations.amount + allocations.cash_discount_amount.fill_null(0)),
            kind=ibis.literal("payment")))
    if data.has("credit_notes"):
        notes = data.table("credit_notes")
        parts.append(notes.select(customer_id=notes.customer_id, date=notes.credit_date, amount=-notes.amount,
                                  kind=ibis.literal("credit_note")))
    movements = parts[0]
    for part in parts[1:]:
        movements = movements.union(part)
    return movements


def balances_as_of(data, points: pd.DataFrame) -> pd.DataFrame:
    """Ledger balance of each (customer_id, as_of_date) point, movements up to and including that day.

    Reduces the movements to one row per customer and day in the engine, then accumulates in pandas.
    """
    if points.empty:
        return points.assign(ledger_balance=pd.Series(dtype=float))
    movements = ledger_movements(data)
    customers = sorted(points["customer_id"].dropna().unique())
    daily = movements.filter(movements.customer_id.isin(customers)).group_by(["customer_id", "date"]).aggregate(
        amount=movements.amount.sum())
    daily = data.execute(daily).sort_values(["customer_id", "date"], ignore_index=True)
    daily["balance"] = daily.groupby("customer_id")["amount"].cumsum()
    ordered = points.reset_index().sort_values("as_of_date")
    merged = pd.merge_asof(ordered, daily[["customer_id", "date", "balance"]].sort_values("date"),
                           left_on="as_of_date", right_on="date", by="customer_id", direction="backward")
    merged["ledger_balance"] = merged["balance"].fillna(0.0)
    merged = merged.set_index("index").sort_index().drop(columns=["date", "balance"])
    merged.index.name = points.index.name
    return merged


def data_end_date(data) -> pd.Timestamp:
    """The audit's 'today': the period's last day, else the latest transaction date in the data."""
    if data.period_end is not None:
        return data.period_end
    latest = [data.frame("invoices")["invoice_date"].max()]
    for table, column in (("receipts", "posted_date"), ("cheques", "received_date"), ("shipments", "ship_date")):
        if data.has(table, (column,)):
            latest.append(data.frame(table)[column].max())
    latest = [d for d in latest if pd.notna(d)]
    return max(latest) if latest else pd.Timestamp("1970-01-01")
