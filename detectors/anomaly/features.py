"""Behaviour features for the anomaly detectors: per salesperson-month, customer-month and invoice.

Relational work (joins, sums, counts) runs in Ibis on the engine; only sums and counts leave it, rounded,
and the rates are divided in pandas on the reduced per-entity result, so DuckDB and Spark give the same
features. Every optional table or column is used only when present (``data.has``); a feature whose
inputs are missing, or that has no denominator for a row (a month without receipts has no cash share),
stays NaN and the ensemble imputes it with the population median.

Each builder returns a frame sorted by its keys, with the key columns, the feature columns of its
``*_FEATURES`` list and the money columns the detectors use for the money at risk.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import numpy as np
import pandas as pd

from analyses.anomaly.priced_invoices import shared_invoice_totals
from audit.ledger import posted_invoices

# Money sums are rounded to this many decimals as they leave the engine: DuckDB and Spark may add floats
# in another order, and the last bits must not change a feature.
MONEY_DECIMALS = 2


@dataclass(frozen=True)
class Feature:
    """One behaviour feature: its column, its words, how it reads and which side is suspicious.

    ``unit``: ``share`` (a fraction, read as %), ``days``, ``ratio`` (stored as log2 of a ratio to the
    usual, read as "3.2 × the usual"), ``count`` or ``flag`` (0/1).
    ``direction``: ``high``, ``low`` or ``both``. On the harmless side a value is set to the population
    median before scoring: a salesperson who gives *less* discount than the others is not a lead.
    ``money``: the column of money the feature is a share of, for features whose excess is money the
    company gives up (unapproved discount, price off the list, credit notes, sales to brand-new
    customers): the excess over the typical share times that money is the money at risk. ``None`` for
    volume (bigger invoices, more lines, a sales spike: more sales are not a loss by themselves), time
    (days held, late, to maturity) and counts: they point at where to look but put no figure on a loss.
    """

    name: str
    words: str
    unit: str
    direction: str
    money: str | None = None


SALESPERSON_FEATURES: tuple[Feature, ...] = (
    Feature("discount_rate", "unapproved discount rate beyond the volume tiers", "share", "high", "gross"),
    Feature("price_deviation", "price deviation from list (either way)", "share", "high",
            "list_value"),
    Feature("credit_share", "credit notes and returns as a share of sales", "share", "high", "net"),
    Feature("new_customer_share", "share of sales to customers created in the previous {new_days} days",
            "share", "high", "net"),
    Feature("cheque_hold_days", "cheque holding time (received to handed in)", "days", "high"),
    Feature("cheque_maturity_days", "cheque maturity beyond the customers' payment terms", "days", "high"),
    Feature("visit_compliance", "visit compliance (done / planned)", "share", "low"),
    Feature("payment_lateness", "customers' payment lateness (days past due, amount-weighted)", "days", "high"),
    Feature("cash_share", "cash share of receipts", "share", "high"),
    Feature("posting_delay", "receipt posting delay (receipt date to posting)", "days", "high"),
)

CUSTOMER_FEATURES: tuple[Feature, ...] = (
    Feature("sales_vs_median", "sales against the customer's own 6-month median", "ratio", "both"),
    Feature("discount_rate", "unapproved discount rate beyond the volume tiers", "share", "high", "gross"),
    Feature("price_deviation", "price deviation from list (either way)", "share", "high",
            "list_value"),
    Feature("payment_lateness", "payment lateness (days past due, amount-weighted)", "days", "high"),
    Feature("credit_share", "credit notes and returns as a share of purchases", "share", "high", "net"),
    Feature("cheque_maturity_days", "cheque maturity beyond its payment terms", "days", "high"),
    Feature("n_salespeople", "number of salespeople invoicing the customer", "count", "high"),
    Feature("cash_share", "cash share of payments", "share", "high"),
)

INVOICE_FEATURES: tuple[Feature, ...] = (
    Feature("amount_vs_customer", "amount against the customer's median invoice", "ratio", "high"),
    # Absolute size, against the company's and the product's norms (a customer's own history says
    # nothing about its first or its largest-ever invoice).
    Feature("amount_vs_company", "amount against the company's median invoice", "ratio", "high"),
    Feature("quantity_vs_product", "largest line quantity against the product's average line", "ratio", "high"),
    Feature("discount_rate", "unapproved discount beyond the volume tiers", "share", "high", "gross"),
    Feature("price_deviation", "price against the valid list price", "share", "both", "list_value"),
    Feature("n_lines", "number of lines", "count", "high"),
    Feature("order_to_invoice_days", "days from order to invoice", "days", "both"),
    Feature("no_order", "names no order", "flag", "high"),
    Feature("off_day", "dated on a weekend or holiday", "flag", "high"),
    Feature("terms_excess_days", "due date beyond the customer's payment terms", "days", "high"),
)


# ------------------------------------------------------------------------------ shared relational parts
def _month_key(value: ibis.Value) -> ibis.Value:
    """A date's month as the integer YYYYMM (same on every engine)."""
    return value.year().cast("int64") * 100 + value.month().cast("int64")


def _days(later: ibis.Value, earlier: ibis.Value) -> ibis.Value:
    return (later.date() - earlier.date()).cast("int64")


def _customer_salesperson(data) -> ibis.Table | None:
    if not data.has("customers", ("customer_id", "assigned_salesperson_id")):
        return None
    customers = data.table("customers")
    return customers.select(c_customer_id=customers.customer_id, assigned=customers.assigned_salesperson_id)


def _attributed(data, table: ibis.Table, by: str, collector: str | None) -> ibis.Table:
    """``table`` (with customer_id) with a ``key`` column: the customer, or the salesperson who collected
    the record (``collector`` column when present and filled) else the customer's assigned salesperson."""
    if by == "customer_id":
        return table.mutate(key=table.customer_id)
    owners = _customer_salesperson(data)
    if owners is not None:
        table = table.left_join(owners, table.customer_id == owners.c_customer_id).drop("c_customer_id")
        fallback = table.assigned
    else:
        fallback = ibis.null("string")
    if collector is not None:
        return table.mutate(key=ibis.coalesce(table[collector], fallback))
    return table.mutate(key=fallback)


def _execute_sums(data, expr: ibis.Table) -> pd.DataFrame:
    frame = data.execute(expr)
    for column in frame.columns:
        if column not in ("key", "ym") and pd.api.types.is_float_dtype(frame[column]):
            frame[column] = frame[column].round(MONEY_DECIMALS)
    return frame


def _ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    numerator, denominator = numerator.astype(float), denominator.astype(float)
    return (numerator / denominator).where(denominator > 0)


def _merge(base: pd.DataFrame, part: pd.DataFrame | None) -> pd.DataFrame:
    if part is None or part.empty:
        return base
    return base.merge(part, on=["key", "ym"], how="left")


def period_of(ym: pd.Series) -> pd.Series:
    ym = ym.astype("int64")
    return (ym // 100).astype(str) + "-" + (ym % 100).astype(str).str.zfill(2)


# --------------------------------------------------------------------------------- monthly features
def monthly_features(data, by: str, new_customer_days: int = 90, volume_tiers=()) -> pd.DataFrame:
    """Features of each (salesperson or customer, month) with posted sales: ``by`` is the key column.

    Rows: every key-month with at least one posted invoice with lines. Columns: ``key``, ``ym``
    (YYYYMM), the money sums (gross, net, list_value, receipts_total) and the features of
    ``SALESPERSON_FEATURES`` or ``CUSTOMER_FEATURES`` (customer-level ones where ``by`` is customer_id).
    """
    invoices = shared_invoice_totals(data, volume_tiers)
    keyed = invoices.mutate(key=invoices[by], ym=_month_key(invoices.invoice_date))
    if data.has("customers", ("created_date",)):
        created = data.table("customers").select(c_id="customer_id", created_date="created_date")
        keyed = keyed.left_join(created, keyed.customer_id == created.c_id).drop("c_id")
        age = _days(keyed.invoice_date, keyed.created_date)
        is_new = keyed.created_date.notnull() & (age >= 0) & (age <= new_customer_days)
        new_net = is_new.ifelse(keyed.net, 0.0)
    else:
        new_net = ibis.null("float64")
    keyed = keyed.mutate(new_net=new_net)
    monthly = keyed.group_by(["key", "ym"]).aggregate(
        gross=keyed.gross.sum(), net=keyed.net.sum(), excess_discount=keyed.excess_discount.sum(),
        list_value=keyed.list_value.sum(), priced_gross=keyed.priced_gross.sum(), deviation_abs=keyed.deviation_abs.sum(),
        new_net=keyed.new_net.sum(), n_invoices=keyed.count(), n_salespeople=keyed.salesperson_id.nunique())
    frame = _execute_sums(data, monthly)
    frame = frame[frame["key"].notna()]
    for part in (_credit_notes(data, by), _cheques(data, by), _receipts(data, by), _lateness(data, by),
                 _visits(data, by)):
        frame = _merge(frame, part)
    frame = frame.sort_values(["key", "ym"], ignore_index=True)

    def column(name):
        return frame[name] if name in frame else pd.Series(np.nan, index=frame.index)

    features = pd.DataFrame({
        "key": frame["key"].astype(str), "ym": frame["ym"].astype("int64"),
        "gross": frame["gross"].astype(float), "net": frame["net"].astype(float),
        "list_value": frame["list_value"].astype(float),
        "receipts_total": column("receipts_total").astype(float),
        "n_invoices": frame["n_invoices"].astype("int64"),
        "discount_rate": _ratio(frame["excess_discount"], frame["gross"]),
        "price_deviation": _ratio(frame["deviation_abs"], frame["list_value"]),
        "credit_share": _ratio(column("credited").fillna(0.0), frame["net"])
        if "credited" in frame else pd.Series(np.nan, index=frame.index),
        "new_customer_share": _ratio(frame["new_net"], frame["net"]),
        "cheque_hold_days": _ratio(column("held_day_amount"), column("held_amount")),
        "cheque_maturity_days": _ratio(column("maturity_day_amount"), column("cheque_amount")),
        "visit_compliance": _ratio(column("visits_done"), column("visits_planned")),
        "payment_lateness": _ratio(column("late_day_amount"), column("allocated")),
        "cash_share": _ratio(column("cash_amount"), column("receipts_total")),
        "posting_delay": _ratio(column("delay_day_amount"), column("receipts_total")),
        "n_salespeople": frame["n_salespeople"].astype(float),
    })
    if by == "customer_id":
        features = _with_own_median(features)
    return features


def _with_own_median(features: pd.DataFrame, window: int = 6, min_months: int = 3) -> pd.DataFrame:
    """Add ``sales_vs_median`` (log2 of the month's sales over the median of the customer's sales in the
    ``window`` months before, months with purchases only, at least ``min_months`` of them) and
    ``sales_excess`` (the month's sales beyond that median, in money)."""
    month_index = (features["ym"] // 100) * 12 + (features["ym"] % 100) - 1
    medians = np.full(len(features), np.nan)
    order = np.lexsort((month_index.to_numpy(), features["key"].to_numpy()))
    keys = features["key"].to_numpy()[order]
    months = month_index.to_numpy()[order]
    sales = features["net"].to_numpy(dtype=float)[order]
    # One row per key and month, so a month's window holds at most the ``window`` rows just before it.
    n_rows = len(order)
    history = np.full((n_rows, window), np.inf)  # inf: no month there (sorts after every value)
    in_window = np.zeros((n_rows, window), dtype=bool)
    for lag in range(1, window + 1):
        rows = np.arange(lag, n_rows)
        before = rows - lag
        same = (keys[before] == keys[rows]) & (months[before] >= months[rows] - window)
        history[rows[same], lag - 1] = sales[before[same]]
        in_window[rows[same], lag - 1] = True
    count = in_window.sum(axis=1)
    ordered = np.sort(history, axis=1)
    low = ordered[np.arange(n_rows), np.maximum((count - 1) // 2, 0)]
    high = ordered[np.arange(n_rows), np.minimum(count // 2, window - 1)]
    # np.median's own rule: the middle value, or the mean of the two middle values; NaN if any is NaN.
    median = np.where(count % 2 == 1, low, (low + high) / 2)
    median[(np.isnan(history) & in_window).any(axis=1)] = np.nan
    enough = count >= min_months
    medians[order[enough]] = median[enough]
    usual = pd.Series(medians, index=features.index)
    ratio = features["net"] / usual
    return features.assign(
        sales_vs_median=np.log2(ratio.where((ratio > 0) & (usual > 0))),
        sales_excess=(features["net"] - usual).clip(lower=0.0),
        usual_sales=usual)


def _credit_notes(data, by: str) -> pd.DataFrame | None:
    if not data.has("credit_notes", ("customer_id", "credit_date", "amount")):
        return None
    notes = data.table("credit_notes")
    if by == "salesperson_id":
        if data.has("credit_notes", ("invoice_id",)):
            invoices = data.table("invoices").select(n_invoice_id="invoice_id", seller="salesperson_id")
            notes = notes.left_join(invoices, notes.invoice_id == invoices.n_invoice_id).drop("n_invoice_id")
            notes = _attributed(data, notes, by, "seller")
        else:
            notes = _attributed(data, notes, by, None)
    else:
        notes = notes.mutate(key=notes.customer_id)
    notes = notes.mutate(ym=_month_key(notes.credit_date))
    return _execute_sums(data, notes.group_by(["key", "ym"]).aggregate(credited=notes.amount.sum()))


def _cheques(data, by: str) -> pd.DataFrame | None:
    if not data.has("cheques", ("customer_id", "amount", "due_date", "received_date")):
        return None
    cheques = data.table("cheques")
    collector = "collected_by" if data.has("cheques", ("collected_by",)) else None
    cheques = _attributed(data, cheques, by, collector)
    if data.has("customers", ("payment_terms_days",)):
        terms = data.table("customers").select(t_id="customer_id", terms="payment_terms_days")
        cheques = cheques.left_join(terms, cheques.customer_id == terms.t_id).drop("t_id")
        allowed = cheques.terms.fill_null(0)
    else:
        allowed = ibis.literal(0)
    # Days of maturity beyond the customer's payment terms (the whole maturity where it has none).
    cheques = cheques.mutate(ym=_month_key(cheques.received_date),
                             maturity=ibis.greatest(_days(cheques.due_date, cheques.received_date) - allowed, 0))
    if data.has("cheques", ("handed_in_date",)):
        handed = cheques.handed_in_date.notnull()
        held_days = handed.ifelse(_days(cheques.handed_in_date, cheques.received_date), ibis.null("int64"))
        cheques = cheques.mutate(held_day_amount=held_days * cheques.amount,
                                 held_amount=handed.ifelse(cheques.amount, ibis.null("float64")))
    else:
        cheques = cheques.mutate(held_day_amount=ibis.null("float64"), held_amount=ibis.null("float64"))
    return _execute_sums(data, cheques.group_by(["key", "ym"]).aggregate(
        cheque_amount=cheques.amount.sum(), maturity_day_amount=(cheques.maturity * cheques.amount).sum(),
        held_amount=cheques.held_amount.sum(), held_day_amount=cheques.held_day_amount.sum()))


def _receipts(data, by: str) -> pd.DataFrame | None:
    if not data.has("receipts", ("customer_id", "receipt_date", "amount")):
        return None
    receipts = data.table("receipts")
    collector = "collected_by" if data.has("receipts", ("collected_by",)) else None
    receipts = _attributed(data, receipts, by, collector)
    receipts = receipts.mutate(ym=_month_key(receipts.receipt_date))
    cash = (receipts.method == "cash").ifelse(receipts.amount, 0.0) if data.has("receipts", ("method",)) \
        else ibis.null("float64")
    delay = (_days(receipts.posted_date, receipts.receipt_date) * receipts.amount
             if data.has("receipts", ("posted_date",)) else ibis.null("float64"))
    receipts = receipts.mutate(cash=cash, delay=delay)
    return _execute_sums(data, receipts.group_by(["key", "ym"]).aggregate(
        receipts_total=receipts.amount.sum(), cash_amount=receipts.cash.sum(),
        delay_day_amount=receipts.delay.sum()))


def _lateness(data, by: str) -> pd.DataFrame | None:
    """Amount-weighted days past the invoice's due date of what receipts paid, by month of payment."""
    if not (data.has("receipt_allocations", ("receipt_id", "invoice_id", "amount"))
            and data.has("receipts", ("receipt_id", "receipt_date")) and data.has("invoices", ("due_date",))):
        return None
    allocations = data.table("receipt_allocations")
    receipts = data.table("receipts").select(r_id="receipt_id", receipt_date="receipt_date")
    invoices = data.table("invoices").select(i_id="invoice_id", due_date="due_date", i_customer="customer_id",
                                             i_seller="salesperson_id")
    paid = allocations.join(receipts, allocations.receipt_id == receipts.r_id).join(
        invoices, allocations.invoice_id == invoices.i_id)
    paid = paid.filter(paid.due_date.notnull())
    late = ibis.greatest(_days(paid.receipt_date, paid.due_date), 0)
    paid = paid.mutate(key=paid.i_customer if by == "customer_id" else paid.i_seller,
                       ym=_month_key(paid.receipt_date), late_day_amount=late * paid.amount)
    return _execute_sums(data, paid.group_by(["key", "ym"]).aggregate(
        allocated=paid.amount.sum(), late_day_amount=paid.late_day_amount.sum()))


def _visits(data, by: str) -> pd.DataFrame | None:
    if by != "salesperson_id" or not data.has("visits", ("salesperson_id", "planned_date", "status")):
        return None
    visits = data.table("visits")
    visits = visits.filter(visits.status.isnull() | (visits.status != "cancelled"))
    visits = visits.mutate(key=visits.salesperson_id, ym=_month_key(visits.planned_date),
                           done=(visits.status == "done").ifelse(1, 0))
    return data.execute(visits.group_by(["key", "ym"]).aggregate(
        visits_planned=visits.count(), visits_done=visits.done.sum()))


# --------------------------------------------------------------------------------- invoice features
def _largest_quantity_ratio(data) -> pd.Series:
    """Per posted invoice: its largest line quantity over the product's average line quantity (rounded as
    it leaves the engine, so DuckDB and Spark agree), in the order of the invoice ids."""
    lines = data.table("invoice_lines")
    posted = posted_invoices(data).select("invoice_id")
    lines = lines.join(posted, "invoice_id").select("invoice_id", "product_id", "quantity")
    usual = lines.group_by("product_id").aggregate(usual=lines.quantity.mean())
    joined = lines.join(usual, "product_id")
    ratio = (joined.quantity / joined.usual.nullif(0)).round(6)
    per_invoice = joined.group_by("invoice_id").aggregate(ratio=ratio.max())
    frame = data.execute(per_invoice.order_by("invoice_id"))
    return frame.set_index("invoice_id")["ratio"].astype(float)


def invoice_features(data, min_customer_invoices: int = 3, volume_tiers=()) -> pd.DataFrame:
    """Features of each posted invoice with lines (``INVOICE_FEATURES``), sorted by invoice_id.

    Columns: invoice_id, invoice_no, invoice_date, customer_id, salesperson_id, order_id, ym, gross, net,
    list_value, customer_median, amount_excess and the features.
    """
    totals = shared_invoice_totals(data, volume_tiers)
    invoices = data.table("invoices").select(
        i_id="invoice_id", invoice_no="invoice_no", due_date="due_date", order_id="order_id")
    joined = totals.join(invoices, totals.invoice_id == invoices.i_id).drop("i_id")
    if data.has("orders", ("order_id", "order_date")) and data.has("invoices", ("order_id",)):
        orders = data.table("orders").select(o_id="order_id", order_date="order_date")
        joined = joined.left_join(orders, joined.order_id == orders.o_id).drop("o_id")
        order_days = _days(joined.invoice_date, joined.order_date)
    else:
        order_days = ibis.null("int64")
    if data.has("customers", ("payment_terms_days",)) and data.has("invoices", ("due_date",)):
        terms = data.table("customers").select(c_id="customer_id", terms="payment_terms_days")
        joined = joined.left_join(terms, joined.customer_id == terms.c_id).drop("c_id")
        terms_excess = _days(joined.due_date, joined.invoice_date) - joined.terms
    else:
        terms_excess = ibis.null("int64")
    joined = joined.mutate(order_to_invoice_days=order_days, terms_excess_days=terms_excess)
    frame = data.execute(joined.select(
        "invoice_id", "invoice_no", "invoice_date", "customer_id", "salesperson_id", "order_id", "gross", "net",
        "excess_discount", "list_value", "priced_gross", "n_lines", "order_to_invoice_days", "terms_excess_days"))
    for column in ("gross", "net", "excess_discount", "list_value", "priced_gross"):
        frame[column] = frame[column].astype(float).round(MONEY_DECIMALS)
    frame = frame.sort_values("invoice_id", ignore_index=True)
    frame["invoice_date"] = pd.to_datetime(frame["invoice_date"])
    frame["ym"] = frame["invoice_date"].dt.year * 100 + frame["invoice_date"].dt.month
    quantity_ratio = _largest_quantity_ratio(data)
    if len(quantity_ratio) == len(frame) and np.array_equal(quantity_ratio.index, frame["invoice_id"]):
        quantity_ratio = quantity_ratio.to_numpy()  # the same invoices in the same order: no look-up by id
    else:
        quantity_ratio = quantity_ratio.reindex(frame["invoice_id"]).to_numpy()
    company_median = float(frame["net"].median()) if len(frame) else np.nan
    company_ratio = frame["net"] / company_median if company_median and company_median > 0 else np.nan

    counts = frame.groupby("customer_id")["net"].transform("size")
    median = frame.groupby("customer_id")["net"].transform("median").where(counts >= min_customer_invoices)
    del counts
    ratio = frame["net"] / median
    names_orders = data.has("invoices", ("order_id",))
    # Added to the frame one by one (``assign`` would copy the whole frame, a second one of every invoice);
    # the engine's sums that only feed a rate go once it is made.
    frame["customer_median"] = median
    frame["amount_excess"] = (frame["net"] - median).clip(lower=0.0)
    frame["amount_vs_customer"] = np.log2(ratio.where((ratio > 0) & (median > 0)))
    del ratio, median
    frame["amount_vs_company"] = np.log2(pd.Series(company_ratio, index=frame.index).where(lambda r: r > 0))
    frame["quantity_vs_product"] = np.log2(pd.Series(quantity_ratio, index=frame.index, dtype=float).where(
        lambda r: r > 0))
    frame["discount_rate"] = _ratio(frame.pop("excess_discount"), frame["gross"])
    frame["price_deviation"] = _ratio(frame.pop("priced_gross"), frame["list_value"]) - 1.0
    frame["n_lines"] = frame["n_lines"].astype(float)
    frame["order_to_invoice_days"] = pd.to_numeric(frame["order_to_invoice_days"], errors="coerce").astype(float)
    frame["no_order"] = frame["order_id"].isna().astype(float) if names_orders else np.nan
    frame["off_day"] = ((~data.calendar.is_working_day(frame["invoice_date"]).astype(bool)).astype(float)
                        if len(frame) else pd.Series(dtype=float))
    frame["terms_excess_days"] = pd.to_numeric(frame["terms_excess_days"], errors="coerce").astype(float)
    return frame
