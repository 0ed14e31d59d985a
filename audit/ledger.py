"""Shared relational building blocks over the ledger, written once with Ibis.

Every detector that needs an invoice's amount, a customer's balance on a date or what a receipt paid
uses these, so the contract's definitions ("Meaning of amounts and dates") live in one place:

- a line's net amount is quantity × unit_price × (1 − discount_pct / 100);
- an invoice's amount is the sum of its lines; only posted (not cancelled) invoices count;
- a customer's ledger balance = net invoice amounts − allocations − cash_discount_amount − credit notes
  (without an allocations table, − the receipts themselves).
"""

from __future__ import annotations

import ibis
import pandas as pd

from audit.membership import among


def line_net(lines: ibis.Table) -> ibis.Value:
    """A line's net amount: quantity × unit price less its discount (none recorded: no discount)."""
    gross = lines.quantity * lines.unit_price
    if "discount_pct" not in lines.columns:
        return gross
    return gross * (1 - lines.discount_pct.fill_null(0) / 100.0)


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
    elif data.has("receipts", ("customer_id", "amount")):
        # No allocations: the contract cannot say which invoice a receipt paid, but the customer paid it;
        # reading the balance from invoices alone would call every payer a debtor.
        receipts = data.table("receipts")
        paid_on = next((receipts[c] for c in ("posted_date", "receipt_date") if data.has("receipts", (c,))), None)
        if paid_on is not None:
            parts.append(receipts.select(customer_id=receipts.customer_id, date=paid_on, amount=-receipts.amount,
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
    daily = movements.filter(among(movements.customer_id, customers)).group_by(["customer_id", "date"]).aggregate(
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
    latest = [data.latest("invoices", "invoice_date")]
    for table, column in (("receipts", "posted_date"), ("cheques", "received_date"), ("shipments", "ship_date")):
        if data.has(table, (column,)):
            latest.append(data.latest(table, column))
    latest = [d for d in latest if pd.notna(d)]
    return max(latest) if latest else pd.Timestamp("1970-01-01")


def confirmation_gaps(data, customers=None) -> pd.DataFrame:
    """Customers' balance confirmations against the ledger on the same day.

    One row per confirmation: customer_id, as_of_date, confirmed_balance, ledger_balance and ``gap`` =
    ledger − confirmed (positive when the customer says it owes less than the books show). Empty when
    there are no confirmations. ``customers`` limits the customers looked at.
    """
    columns = ["customer_id", "as_of_date", "confirmed_balance", "ledger_balance", "gap"]
    if not data.has("confirmations", ("customer_id", "as_of_date", "confirmed_balance")):
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    if customers is not None and len(customers) == 0:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    confirmations = data.table("confirmations")
    if customers is not None:
        confirmations = confirmations.filter(among(confirmations.customer_id, sorted(set(customers))))
    points = data.execute(confirmations.select("customer_id", "as_of_date", "confirmed_balance"))
    points = points.dropna(subset=["customer_id", "as_of_date"]).sort_values(
        ["customer_id", "as_of_date"], ignore_index=True)
    if points.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    balances = balances_as_of(data, points)
    balances["gap"] = balances["ledger_balance"] - balances["confirmed_balance"]
    return balances[columns]


def invoice_settlements(data, invoice_ids=None) -> pd.DataFrame:
    """What settled each invoice: invoice_id, ``allocated`` (receipt allocations), ``cash_discount`` and
    ``credited`` (credit notes naming the invoice). Zero where the table is absent; ``invoice_ids``
    limits the invoices looked at."""
    columns = ["invoice_id", "allocated", "cash_discount", "credited"]
    ids = None if invoice_ids is None else sorted({i for i in invoice_ids if isinstance(i, str)})
    if ids is not None and not ids:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    parts = []
    if data.has("receipt_allocations", ("invoice_id", "amount")):
        allocations = data.table("receipt_allocations")
        if ids is not None:
            allocations = allocations.filter(among(allocations.invoice_id, ids))
        discount = (allocations.cash_discount_amount.fill_null(0) if data.has(
            "receipt_allocations", ("cash_discount_amount",)) else ibis.literal(0.0))
        parts.append(allocations.select(invoice_id=allocations.invoice_id, allocated=allocations.amount,
                                        cash_discount=discount, credited=ibis.literal(0.0)))
    if data.has("credit_notes", ("invoice_id", "amount")):
        notes = data.table("credit_notes")
        notes = notes.filter(notes.invoice_id.notnull())
        if ids is not None:
            notes = notes.filter(among(notes.invoice_id, ids))
        parts.append(notes.select(invoice_id=notes.invoice_id, allocated=ibis.literal(0.0),
                                  cash_discount=ibis.literal(0.0), credited=notes.amount))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    union = parts[0]
    for part in parts[1:]:
        union = union.union(part)
    totals = union.group_by("invoice_id").aggregate(
        allocated=union.allocated.sum(), cash_discount=union.cash_discount.sum(), credited=union.credited.sum())
    return data.execute(totals.order_by("invoice_id"))[columns]


def with_class_and_product_price(data, lines: ibis.Table) -> ibis.Table:
    """Invoice lines (with customer_id and product_id) plus the customer's class and the product's
    master list price (``customer_class``, ``product_list_price``; null where the data has none)."""
    if data.has("customers", ("customer_class",)):
        customers = data.table("customers").select("customer_id", "customer_class")
        lines = lines.left_join(customers, "customer_id").drop("customer_id_right")
    else:
        lines = lines.mutate(customer_class=ibis.null("string"))
    if data.has("products", ("list_price",)):
        products = data.table("products").select("product_id", product_list_price="list_price")
        lines = lines.left_join(products, "product_id").drop("product_id_right")
    else:
        lines = lines.mutate(product_list_price=ibis.null("float64"))
    return lines
