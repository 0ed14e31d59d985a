"""The ledger's pre-failure signs of each customer at each month end (what :mod:`.scoring` weighs).

Everything here is *causal*: the value at a month end uses only what was on record by that day (payments
by their posting date, cheques by their status date, events by their date), so a month's score is what
an auditor could have seen then, and the first month above the alert level is a real early warning.

Inputs are fetched once with Ibis (:func:`load_inputs`, each table only when present) and reduced to a
few small frames; the monthly work is pandas over those frames. :func:`monthly_signals` returns one row
per customer and month end with the raw measurements listed in :data:`SIGNAL_COLUMNS` (NaN = not
measurable: the table is absent or the customer has no such history).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyses.receivables.open_items import (
    Ledger,
    customer_master,
    kept_open_items,
    load_ledger,
    month_ends,
    open_item_amounts,
)
from audit.contract import EVENT_TYPES
from audit.ledger import line_net, posted_invoices
from audit.membership import isin
from audit.memory import release_unused

# Cheque statuses that mean the money did not come in.
BOUNCED_STATUSES = ("bounced", "returned", "replaced")

# Raw measurements per customer and month end (units in the name); scoring.SIGNALS turns them into
# log-odds contributions.
SIGNAL_COLUMNS = (
    "balance", "pending_cheques", "exposure", "credit_limit", "overdue", "overdue_over_grace",
    "lateness_recent_days", "lateness_baseline_days", "lateness_rise_days", "dso_days", "terms_days",
    "dso_excess_days", "aged_share", "aged_share_before", "aged_share_rise", "partial_invoices",
    "invoiced_recent", "invoiced_baseline", "order_spike_ratio", "new_brand_share", "cheque_share_recent",
    "cheque_share_baseline", "cheque_share_rise", "maturity_recent_days", "maturity_baseline_days",
    "maturity_rise_days", "bounced_cheques", "replaced_cheques", "bounced_amount", "promises", "promises_broken",
    "days_without_shipment", "usual_gap_days", "credit_over_share", "age_years", "payment_status_known",
    *(f"event_{kind}" for kind in EVENT_TYPES),
)

# Without receipts and their allocations the ledger cannot say which invoices were paid: every invoice
# would look open and overdue. The measurements that rest on the open balance are then unknown (NaN).
PAYMENT_STATUS_TABLES = ("receipts", "receipt_allocations")
PAYMENT_STATUS_MEASUREMENTS = (
    "balance", "exposure", "overdue", "overdue_over_grace", "aged_share", "aged_share_before", "aged_share_rise",
    "dso_days", "dso_excess_days", "credit_over_share",
)


def payment_status_known(data) -> bool:
    """Whether the data records which invoices were paid (receipts allocated to invoices)."""
    return (data.has("receipt_allocations", ("receipt_id", "invoice_id", "amount"))
            and data.has("receipts", ("receipt_id", "customer_id", "posted_date")))


@dataclass(frozen=True)
class DistressInputs:
    """What the monthly signals are computed from (frames may be empty; ``has`` says what was present)."""

    customers: pd.DataFrame
    ledger: Ledger
    payments: pd.DataFrame      # customer_id, known_date, pay_date, due_date, amount, is_cheque, maturity_days
    cheques: pd.DataFrame       # customer_id, amount, received_date, due_date, status, status_date, posted
    #                             (one row per cheque, in cheque id order)
    events: pd.DataFrame        # customer_id, event_date, event_type, amount
    shipments: pd.DataFrame     # customer_id, date (one row per customer and shipping day)
    brands: pd.DataFrame        # customer_id, brand (its place in the brands' text order, or the brand), date,
    #                             amount (net invoiced per brand and day), sorted by customer, brand and date
    financials: pd.DataFrame    # customer_financials rows as given
    end: pd.Timestamp | None
    has: frozenset
    # invoiced per customer and calendar month, every month, and each customer code's first purchase of a
    # brand (set by _with_fixed_columns)
    monthly_invoiced: pd.Series | None = None
    first_purchase: np.ndarray | None = None


def _typed_empty(columns: dict[str, str]) -> pd.DataFrame:
    """An empty frame whose columns already have their types (dates stay dates when a table is absent)."""
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in columns.items()})


def _fetched(expr, ids: tuple[str, ...] = ()) -> pd.DataFrame:
    """The rows of ``expr`` as pandas, from the engine's Arrow result a column at a time: numbers and dates
    straight to numpy (dates as datetime64[ns]; blanks NaN and NaT), the text columns of ``ids`` as
    categories (:func:`_sorted_categories`), other columns as pandas converts them. The engine's own
    conversion made a Python object of every value of a column with a blank (the payments' cheque dates) and
    a text per row of every id: gigabytes at ten million lines, and the heap they left stayed with the
    process."""
    table = expr.to_pyarrow()
    columns = {}
    for name in table.column_names:
        column = table.column(name)
        table = table.drop_columns([name])  # each column's Arrow buffers go once converted
        kind = column.type
        if name in ids and (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            columns[name] = _sorted_categories(column)
        elif pa.types.is_date(kind) or (pa.types.is_timestamp(kind) and kind.tz is None):
            columns[name] = pc.cast(column, pa.timestamp("ns")).to_numpy()
        elif pa.types.is_floating(kind) or pa.types.is_integer(kind) or (
                pa.types.is_boolean(kind) and not column.null_count):
            columns[name] = column.to_numpy()
        else:
            columns[name] = column.to_pandas()
        del column
    return pd.DataFrame(columns)


def _sorted_categories(texts: pa.ChunkedArray) -> pd.Categorical:
    """Texts as a categorical whose categories are the distinct texts sorted (sorting on it sorts the texts;
    blanks are NaN): a code per row, a Python string per distinct text only."""
    names = np.array(sorted(pc.unique(texts).drop_null().to_pylist()), dtype="object")
    codes = pc.index_in(texts, value_set=pa.array(names, type=texts.type)).fill_null(-1)
    return pd.Categorical.from_codes(codes.to_numpy(), categories=pd.Index(names, dtype="object"))


# (the invoice ids are read to find each payment's invoice, and not kept: nothing after reads them)
PAYMENT_TYPES = {"customer_id": "object", "known_date": "datetime64[ns]",
                 "pay_date": "datetime64[ns]", "due_date": "datetime64[ns]", "amount": "float64", "is_cheque": "bool",
                 "maturity_days": "float64"}
CHEQUE_TYPES = {"customer_id": "object", "amount": "float64", "received_date": "datetime64[ns]",
                "due_date": "datetime64[ns]", "status": "object", "status_date": "datetime64[ns]",
                "posted": "datetime64[ns]"}
EVENT_COLUMN_TYPES = {"customer_id": "object", "event_date": "datetime64[ns]", "event_type": "object",
                      "amount": "float64"}
BRAND_TYPES = {"customer_id": "object", "brand": "object", "date": "datetime64[ns]", "amount": "float64"}


def _frame(data, table: str, columns: tuple[str, ...], optional: tuple[str, ...] = ()) -> pd.DataFrame | None:
    """``columns`` and those of ``optional`` the table has (not the whole table); None without ``columns``."""
    if not data.has(table, columns):
        return None
    return data.frame_columns(table, [*columns, *optional])


def _payments(data, ledger: Ledger) -> pd.DataFrame:
    columns = list(PAYMENT_TYPES)
    if not (data.has("receipt_allocations", ("receipt_id", "invoice_id", "amount"))
            and data.has("receipts", ("receipt_id", "customer_id", "posted_date"))):
        return _typed_empty(PAYMENT_TYPES)
    allocations = data.table("receipt_allocations")
    receipts = data.table("receipts")
    discount = (allocations.cash_discount_amount.fill_null(0) if data.has(
        "receipt_allocations", ("cash_discount_amount",)) else ibis.literal(0.0))
    joined = allocations.join(receipts, "receipt_id")
    method = receipts.method if data.has("receipts", ("method",)) else ibis.null("string")
    paid_on = receipts.receipt_date if data.has("receipts", ("receipt_date",)) else receipts.posted_date
    cheque = receipts.cheque_id if data.has("receipts", ("cheque_id",)) else ibis.null("string")
    picked = joined.select(invoice_id=allocations.invoice_id, receipt_id=allocations.receipt_id,
                           known_date=receipts.posted_date, paid_on=paid_on,
                           by_cheque=(method == "cheque").fill_null(False), cheque_id=cheque,
                           amount=allocations.amount.fill_null(0) + discount)
    if data.has("cheques", ("cheque_id", "due_date", "received_date")) and data.has("receipts", ("cheque_id",)):
        cheques = data.table("cheques").select("cheque_id", cheque_due="due_date", cheque_received="received_date")
        picked = picked.left_join(cheques, "cheque_id").drop("cheque_id_right")
    else:
        picked = picked.mutate(cheque_due=ibis.null("timestamp"), cheque_received=ibis.null("timestamp"))
    invoices = ledger.invoices.set_index("invoice_id")
    # the Arrow table is kept here while its engine table is queried (Spark reads it from a file removed with it)
    arrow_places = _invoice_places(data, ledger) if invoices.index.is_unique else None
    places = None if arrow_places is None else data.engine.arrow_table(arrow_places)
    dropped = ["receipt_id", "cheque_id"]
    if places is not None:
        # each payment's invoice found by the engine: its row in the ledger comes back as a number, not
        # the invoice id as a text per payment looked up in pandas (ten million texts at ten million lines)
        picked = picked.join(places, picked.invoice_id == places.ledger_invoice_id)
        dropped += ["invoice_id", "ledger_invoice_id"]
    # sorted by the engine, and without the texts pandas does not read (each costs a conversion)
    frame = _fetched(picked.order_by(["receipt_id", "invoice_id"]).drop(*dropped))
    is_cheque = frame["by_cheque"].astype(bool) | frame["cheque_due"].notna()
    # When the money is really there: a post-dated cheque's maturity, otherwise the day on the receipt.
    frame["pay_date"] = frame["paid_on"].where(~is_cheque | frame["cheque_due"].isna(), frame["cheque_due"])
    frame["is_cheque"] = is_cheque.astype(bool)
    frame["maturity_days"] = (frame["cheque_due"] - frame["cheque_received"]).dt.days.astype("float64")
    if places is not None:
        if frame.empty:
            return _typed_empty(PAYMENT_TYPES)
        position = frame["ledger_place"].to_numpy(dtype="int64")
        frame["customer_id"] = invoices["customer_id"].to_numpy()[position]
        frame["due_date"] = pd.to_datetime(invoices["due_date"].to_numpy()[position])
    elif invoices.index.is_unique:
        # one look-up of each payment's invoice (membership and both columns), not three
        position = invoices.index.get_indexer(frame["invoice_id"].astype("object"))
        found = position >= 0
        frame = frame[found].copy()
        if frame.empty:
            return _typed_empty(PAYMENT_TYPES)
        frame["customer_id"] = invoices["customer_id"].to_numpy()[position[found]]
        frame["due_date"] = pd.to_datetime(invoices["due_date"].to_numpy()[position[found]])
    else:
        frame = frame[isin(frame["invoice_id"], invoices.index)].copy()
        if frame.empty:
            # pandas cannot map through an empty datetime Series
            return _typed_empty(PAYMENT_TYPES)
        frame["customer_id"] = frame["invoice_id"].map(invoices["customer_id"])
        frame["due_date"] = pd.to_datetime(frame["invoice_id"].map(invoices["due_date"]))
    frame["amount"] = frame["amount"].astype("float64")
    frame = frame[columns].dropna(subset=["known_date", "pay_date"]).reset_index(drop=True)
    return frame.astype(PAYMENT_TYPES) if len(frame) else _typed_empty(PAYMENT_TYPES)


def _invoice_places(data, ledger: Ledger):
    """An Arrow table of the ledger's invoice ids and their rows (``ledger_invoice_id``, ``ledger_place``),
    for the engine to find each payment's invoice; None when the ids are not all texts (the payments'
    invoice ids are then looked up in pandas)."""
    ids = ledger.invoices["invoice_id"]
    if not data.has("receipt_allocations", ("invoice_id",)) or not data.table(
            "receipt_allocations").invoice_id.type().is_string():
        return None
    try:
        texts = pa.array(ids.to_numpy(dtype="object"), type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # ids that are not texts
        return None
    if texts.null_count:
        return None
    return pa.table({"ledger_invoice_id": texts, "ledger_place": pa.array(np.arange(len(ids), dtype="int64"))})


def _cheques(data) -> pd.DataFrame:
    if not data.has("cheques", ("cheque_id", "customer_id", "amount", "due_date", "received_date")):
        return _typed_empty(CHEQUE_TYPES)
    # the columns read, from the engine (not the whole table as pandas), in cheque id order
    table = data.table("cheques")
    optional = {"status": ibis.null("string"), "status_date": ibis.null("timestamp")}
    picked = table.select("cheque_id", "customer_id", "amount", "received_date", "due_date",
                          **{c: table[c] if data.has("cheques", (c,)) else empty for c, empty in optional.items()})
    # The day the cheque's receipt was booked (it lowered the ledger balance then); NaT without a receipt.
    if data.has("receipts", ("cheque_id", "posted_date")):
        receipts = data.table("receipts")
        receipts = receipts.filter(receipts.cheque_id.notnull() & receipts.posted_date.notnull())
        first_posted = receipts.group_by("cheque_id").aggregate(posted=receipts.posted_date.min())
        picked = picked.left_join(first_posted, "cheque_id").drop("cheque_id_right")
    else:
        picked = picked.mutate(posted=picked.received_date)
    frame = _fetched(picked.order_by("cheque_id").drop("cheque_id"), ids=("customer_id", "status"))
    if frame.empty:
        return _typed_empty(CHEQUE_TYPES)
    customer_id = frame["customer_id"]
    out = pd.DataFrame({
        "customer_id": customer_id if isinstance(customer_id.dtype, pd.CategoricalDtype) else customer_id.astype(
            "object"),
        "amount": pd.to_numeric(frame["amount"], errors="coerce").astype("float64"),
        "received_date": pd.to_datetime(frame["received_date"]), "due_date": pd.to_datetime(frame["due_date"]),
        "status": frame["status"] if data.has("cheques", ("status",)) else None,
        "status_date": pd.to_datetime(frame["status_date"]) if data.has("cheques", ("status_date",)) else pd.NaT,
        "posted": pd.to_datetime(frame["posted"]),
    })
    if not isinstance(out["status"].dtype, pd.CategoricalDtype):
        out["status"] = out["status"].astype("object").where(out["status"].notna(), None)
    return out


def _events(data) -> pd.DataFrame:
    frame = _frame(data, "customer_events", ("customer_id", "event_date", "event_type"), ("amount",))
    if frame is None or frame.empty:
        return _typed_empty(EVENT_COLUMN_TYPES)
    out = pd.DataFrame({
        "customer_id": frame["customer_id"].astype("object"), "event_date": pd.to_datetime(frame["event_date"]),
        "event_type": frame["event_type"].astype("object").str.strip().str.lower(),
        "amount": pd.to_numeric(frame["amount"], errors="coerce") if data.has(
            "customer_events", ("amount",)) else np.nan})
    return out.dropna(subset=["customer_id", "event_date", "event_type"]).sort_values(
        ["customer_id", "event_date", "event_type"], kind="mergesort", ignore_index=True)


def _shipping_days(data, ledger: Ledger) -> pd.DataFrame:
    """One row per customer and day goods left for it (shipments; without them, invoice dates)."""
    if data.has("shipments", ("customer_id", "ship_date")):
        # the distinct days, sorted, by the engine
        shipments = data.table("shipments")
        shipments = shipments.filter(shipments.customer_id.notnull() & shipments.ship_date.notnull())
        days = shipments.select("customer_id", date=shipments.ship_date).distinct()
        frame = _fetched(days.order_by(["customer_id", "date"]), ids=("customer_id",))
        if not isinstance(frame["customer_id"].dtype, pd.CategoricalDtype):  # ids that are not texts
            frame["customer_id"] = frame["customer_id"].astype("object")
        frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[ns]")
        return frame
    frame = ledger.invoices[["customer_id", "invoice_date"]].rename(columns={"invoice_date": "date"})
    frame = frame.dropna().drop_duplicates()
    frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[ns]")
    frame["customer_id"] = frame["customer_id"].astype("object")
    return frame.sort_values(["customer_id", "date"], kind="mergesort", ignore_index=True)


def _brand_days(data) -> pd.DataFrame:
    columns = list(BRAND_TYPES)
    if not (data.has("products", ("product_id", "brand")) and data.has(
            "invoice_lines", ("invoice_id", "product_id", "quantity", "unit_price"))
            and data.has("invoices", ("invoice_id", "invoice_date", "customer_id"))):
        return _typed_empty(BRAND_TYPES)
    lines = data.table("invoice_lines")
    lines = lines.mutate(net=line_net(lines))
    products = data.table("products").select("product_id", "brand")
    if products.brand.type().is_string():
        # Each brand as its place among the brands in text order: the rows come back with a number, not a
        # text per customer, brand and day, and in the same order (texts sort by their code points in both).
        names = data.execute(products.filter(products.brand.notnull()).select("brand").distinct())["brand"]
        names = sorted(names.astype("object"))
        # kept in this function while the query runs (Spark reads it from a file removed with it)
        arrow_places = pa.table({"brand_name": pa.array(names, type=pa.string()),
                                 "brand_place": np.arange(len(names), dtype="int64")})
        places = data.engine.arrow_table(arrow_places)
        products = products.join(places, products.brand == places.brand_name).select(
            "product_id", brand=places.brand_place)
    invoices = posted_invoices(data).select("invoice_id", "customer_id", "invoice_date")
    joined = lines.join(invoices, "invoice_id").join(products, "product_id")
    joined = joined.filter(joined.brand.notnull())
    reduced = joined.group_by(["customer_id", "brand", "invoice_date"]).aggregate(amount=joined.net.sum())
    # sorted by the engine (one row per key: no ties to keep in order)
    frame = _fetched(reduced.order_by(["customer_id", "brand", "invoice_date"]), ids=("customer_id",)).rename(
        columns={"invoice_date": "date"})
    frame["date"] = pd.to_datetime(frame["date"])
    return frame[columns]


def load_inputs(data) -> DistressInputs:
    """Fetch everything the signals need, each table only when the data has it."""
    from analyses.receivables.open_items import ledger_end_date

    ledger = load_ledger(data)
    financials = data.frame("customer_financials") if data.has(
        "customer_financials", ("customer_id", "period_end")) else pd.DataFrame()
    present = frozenset(t for t in ("invoices", "receipts", "receipt_allocations", "cheques", "customer_events",
                                    "shipments", "products", "customer_financials", "credit_notes")
                        if data.has(t))
    # A table at a time, what each query and its conversion freed handed back before the next one; the
    # engine's work on every invoice line (the brands) first, while the least is held.
    brands = _brand_days(data)
    release_unused()
    payments = _payments(data, ledger)
    release_unused()
    cheques = _cheques(data)
    release_unused()
    shipments = _shipping_days(data, ledger)
    release_unused()
    return DistressInputs(customer_master(data), ledger, payments, cheques, _events(data), shipments, brands,
                          financials, ledger_end_date(data), present)


def _distinct_ids(ids: pd.Series) -> set:
    """The distinct ids of a column (blanks left out), of a categorical one its categories in use."""
    if isinstance(ids.dtype, pd.CategoricalDtype):
        codes = ids.cat.codes.to_numpy()
        return set(ids.cat.categories[np.unique(codes[codes >= 0])])
    return set(ids.dropna().unique())


def _per_customer(values, customers, n: int, how: str = "sum") -> pd.Series:
    """Per customer code ``0 .. n - 1`` (the index): ``how`` (sum, median, max) of ``values`` over the rows
    of that code (``customers``; -1 is no customer's), NaN (NaT) for a code without rows. pandas' grouped
    operation (a sum is compensated and in row order) with the codes as categories: what grouping on the
    codes gives, without hashing every row's code again at each month end."""
    codes = np.asarray(customers, dtype="int64")
    groups = pd.Categorical.from_codes(codes, categories=pd.RangeIndex(n))
    result = getattr(pd.Series(np.asarray(values)).groupby(groups, observed=False), how)().to_numpy()
    if how == "sum":  # a sum over no rows is 0: no rows is "none" here, as when grouping on the codes
        result = np.where(np.bincount(codes[codes >= 0], minlength=n) == 0, np.nan, result)
    return pd.Series(result, index=pd.RangeIndex(n, name="customer_id"))


def _counts(customers, n: int) -> pd.Series:
    """The rows of each customer code ``0 .. n - 1`` (the index), as floats (0 without rows)."""
    codes = np.asarray(customers, dtype="int64")
    return pd.Series(np.bincount(codes[codes >= 0], minlength=n).astype("float64"),
                     index=pd.RangeIndex(n, name="customer_id"))


def _weighted_mean(values, weights, keys, n: int) -> pd.Series:
    """Per customer code ``0 .. n - 1`` (``keys``): the mean of ``values`` weighted by ``weights`` (negative
    ones count as 0); NaN without rows or weight."""
    weights = np.asarray(weights, dtype="float64")
    weights = np.where(weights < 0, 0.0, weights)  # as Series.clip(lower=0): NaN and -0.0 stay
    weighted = _per_customer(np.asarray(values, dtype="float64") * weights, keys, n)
    total = _per_customer(weights, keys, n)
    return (weighted / total.where(total > 0)).astype("float64")


@dataclass(frozen=True)
class SignalSettings:
    """Windows of the monthly measurements (days); see :class:`~.customer_distress.CustomerDistress`."""

    recent_days: int = 90          # "recent" behaviour: payments, cheques, orders in the last 90 days
    spike_days: int = 60           # an order spike is judged on the last 60 days
    partial_days: int = 180        # partial payments looked at over half a year
    memory_days: int = 365         # bounced cheques and broken promises are remembered a year
    grace_days: int = 30           # overdue beyond this is "aged" (the ladder's stop-supply step)
    migration_months: int = 3      # aging migration compares with three month ends earlier
    min_baseline_payments: int = 3  # a baseline needs this many earlier payments
    min_baseline_months: int = 3   # an order baseline needs this many earlier months with invoices


def monthly_signals(inputs: DistressInputs, settings: SignalSettings = SignalSettings(),
                    start=None) -> pd.DataFrame:
    """One row per customer (with any ledger activity) and month end: the raw measurements of
    :data:`SIGNAL_COLUMNS`. ``start`` (default: the first invoice) is the first month scored."""
    return signals_of(prepare_signals(inputs, start), settings)


@dataclass(frozen=True)
class PreparedInputs:
    """What the month ends read (:func:`prepare_signals`): the inputs coded by customer with the columns
    that do not depend on the month end, the run's own ledger (its open items are shared with the
    receivable views), the customers (sorted; a customer's code is its place) and the month ends."""

    coded: DistressInputs
    ledger: Ledger
    customers: list
    ends: list


def prepare_signals(inputs: DistressInputs, start=None) -> PreparedInputs | None:
    """The month ends and the coded inputs of :func:`signals_of` (``None``: nothing to score). The
    caller may let ``inputs`` go afterwards: nothing here refers to its frames but the shared ledger."""
    ledger = inputs.ledger
    if inputs.end is None:
        return None
    first = start if start is not None else ledger.invoices["invoice_date"].min()
    if first is None or pd.isna(first):
        return None
    ends = month_ends(first, inputs.end)
    # the ledger's customers are its keys' (worked out once per run), the cheques' and events' their distinct ids
    customers = sorted(set(ledger.keys.customer_ids).union(
        *(_distinct_ids(frame["customer_id"]) for frame in (inputs.cheques, inputs.events))))
    if not ends or not customers:
        return None
    # Integer codes for customers: grouping on them is many times faster than on text ids.
    return PreparedInputs(_with_fixed_columns(_encoded(inputs, customers), len(customers)), ledger, customers, ends)


def signals_of(prepared: PreparedInputs | None, settings: SignalSettings = SignalSettings()) -> pd.DataFrame:
    """The rows of :func:`monthly_signals` from :func:`prepare_signals`' coded inputs."""
    if prepared is None:
        return pd.DataFrame(columns=["customer_id", "month_end", *SIGNAL_COLUMNS])
    months = month_signals(prepared, settings)
    return signal_rows(months, 0, len(months.customers), release=True)


@dataclass(frozen=True)
class MonthSignals:
    """Every month end's measurements of every customer (:func:`month_signals`): ``frames[m]`` maps
    ``month_end`` and each of :data:`SIGNAL_COLUMNS` to a Series with one row per customer code (the
    customers' sorted order); :func:`signal_rows` takes a range of customers' rows from them. With
    ``spilled[m]`` (a file and its columns), the month's float columns are in that file instead, one row
    of them per customer code, and are read back a range of customers at a time."""

    customers: list
    frames: list
    spilled: list | None = None


# The open items' columns a month end reads (its own and an earlier month end's, for the aging migration).
MONTH_ITEM_COLUMNS = ("customer_id", "kind", "invoice_date", "paid", "cash_discount", "open_amount", "days_past_due")


def month_signals(prepared: PreparedInputs, settings: SignalSettings = SignalSettings(),
                  spill_to: str | None = None) -> MonthSignals:
    """Each month end's measurements of every customer. ``spill_to``: a folder where each month's float
    columns are written as the month is done (they are read back a slice of customers at a time), so that
    only one month's measurements are in memory (every month of 200,000 customers took a gigabyte)."""
    coded, ledger, customers, ends = prepared.coded, prepared.ledger, prepared.customers, prepared.ends
    master = coded.customers.set_index("customer_id")
    # Open items of the run's own ledger: the day's shared ones when a receivable view asked for it already;
    # else worked out here without their texts and not kept for the run (a year of month ends took a
    # gigabyte at ten million lines), but for the last month end, the day the receivable views read.
    positions = pd.Index(customers, dtype="object")
    # the place in ``customers`` of each of the ledger's customer codes (code -1, a blank: the last, -1)
    place_of_code = np.append(positions.get_indexer(np.asarray(ledger.keys.customer_ids, dtype="object")), -1)
    snapshots = {}
    rows, spilled = [], [] if spill_to is not None else None
    for position, end in enumerate(ends):
        if end in ledger.open_items_by_day or position == len(ends) - 1:
            # the columns read (a new frame: the run's kept one is not changed), kept for later month ends
            items = kept_open_items(ledger, end)[list(MONTH_ITEM_COLUMNS)]
            items["customer_id"] = positions.get_indexer(items["customer_id"].astype("object"))
        else:
            items = open_item_amounts(ledger, end)
            items.insert(0, "customer_id", place_of_code[items.pop("customer_code").to_numpy()])
        snapshots[end] = items
        earlier = ends[position - settings.migration_months] if position >= settings.migration_months else None
        month = _one_month(coded, settings, len(customers), end, snapshots, earlier, master)
        columns = {column: month[column] for column in ("month_end", *SIGNAL_COLUMNS)}
        del month
        if spill_to is not None:
            floats = [c for c, values in columns.items() if values.dtype == np.float64]
            path = os.path.join(spill_to, f"month-{position}.f8")
            np.column_stack([columns.pop(c).to_numpy() for c in floats]).tofile(path)
            spilled.append((path, floats))
        rows.append(columns)
        # only the month ends a later month still compares with are kept (not every month's open items)
        oldest_needed = position + 1 - settings.migration_months
        if oldest_needed > 0:
            for done in [e for e in snapshots if e < ends[oldest_needed]]:
                del snapshots[done]
        release_unused()  # the month's temporaries, before the next month's peak lands on top
    snapshots.clear()
    return MonthSignals(customers, rows, spilled)


def signal_rows(months: MonthSignals, first: int, stop: int, release: bool = False) -> pd.DataFrame:
    """The rows of the customers ``first`` to ``stop - 1`` (codes), sorted by customer and month end.

    Every month's frame has one row per customer code, in code order: sorted by customer and month end,
    customer c's row of month m is the months' concatenation's row m * n + c. Taken column by column, so
    that the sorted rows are made once, not concatenated, copied and sorted. ``release``: each month's
    column is let go once taken (the months cannot be read again)."""
    n, count = stop - first, len(months.frames)
    order = (np.arange(count)[None, :] * n + np.arange(n)[:, None]).ravel()
    frame = pd.DataFrame({"customer_id": np.asarray(months.customers[first:stop], dtype="object")[
        np.repeat(np.arange(n), count)]})
    whole = first == 0 and stop == len(months.customers)
    read = [{} for _ in range(count)]
    for m, (path, columns) in enumerate(months.spilled or ()):
        block = np.fromfile(path, dtype=np.float64, count=n * len(columns),
                            offset=first * len(columns) * 8).reshape(n, len(columns))
        read[m] = {column: pd.Series(block[:, k]) for k, column in enumerate(columns)}
    for column in ("month_end", *SIGNAL_COLUMNS):
        parts = []
        for month, spilled in zip(months.frames, read, strict=True):
            if column in spilled:
                parts.append(spilled[column])
            else:
                part = month.pop(column) if release else month[column]
                parts.append(part if whole else part.iloc[first:stop])
        if all(isinstance(part.dtype, np.dtype) and part.dtype == parts[0].dtype for part in parts):
            # numpy columns of one type: joined and reordered as arrays (the same values, no index built)
            frame[column] = np.concatenate([part.to_numpy() for part in parts]).take(order)
        else:
            frame[column] = pd.concat(parts, ignore_index=True).take(order).reset_index(drop=True)
        del parts
    if release:
        months.frames.clear()
    return frame


def _encoded(inputs: DistressInputs, customers: list) -> DistressInputs:
    """The inputs with ``customer_id`` replaced by its position in ``customers`` (rows of others dropped),
    with only the columns the month ends read. The coded ledger holds the invoices alone (the open items
    are the run's own ledger's)."""
    positions = pd.Index(customers, dtype="object")

    def encode(frame: pd.DataFrame) -> pd.DataFrame:
        # each distinct id looked up once: no Python string made for every row of the engine's text columns
        ids = frame["customer_id"]
        if isinstance(ids.dtype, pd.CategoricalDtype):
            ids, distinct = ids.cat.codes.to_numpy(), ids.cat.categories
        else:
            ids, distinct = pd.factorize(ids)
        codes = np.append(positions.get_indexer(np.asarray(distinct, dtype="object")), -1)[ids]
        known = codes >= 0  # -1: not one of ``customers`` (or blank)
        # a new frame (copy on write: the caller's stays as it is); every row kept, its other columns are
        # the caller's, not copies. Codes as int32: the month ends hold ten million brand days and payments.
        codes = codes.astype("int32")
        return frame.assign(customer_id=codes) if known.all() else frame[known].assign(customer_id=codes[known])

    ledger = inputs.ledger
    invoices = encode(ledger.invoices[["customer_id", "invoice_date", "amount"]])
    coded_ledger = Ledger(invoices, ledger.settlements.iloc[:0], ledger.loose_credits.iloc[:0],
                          encode(ledger.customers), ledger.n_undated_allocations)
    payments = inputs.payments[["customer_id", "known_date", "pay_date", "due_date", "amount", "is_cheque",
                                "maturity_days"]]
    return DistressInputs(encode(inputs.customers), coded_ledger, encode(payments), encode(inputs.cheques),
                          encode(inputs.events), encode(inputs.shipments), encode(inputs.brands), inputs.financials,
                          inputs.end, inputs.has)


def _with_fixed_columns(inputs: DistressInputs, n_customers: int) -> DistressInputs:
    """Add the columns that do not depend on the month end, so that each month only filters and groups.

    A brand's (and a customer's) first purchase among the rows known by a month end is its first purchase
    overall: the earliest row is known whenever any later one is.
    """
    # Only the columns the months read: each month filters these frames, and every column is copied then.
    payments = inputs.payments.assign(
        late_days=(inputs.payments["pay_date"] - inputs.payments["due_date"]).dt.days.astype("float64"))
    payments = payments[["customer_id", "known_date", "amount", "is_cheque", "maturity_days", "late_days"]]
    cheques = inputs.cheques
    statuses = cheques["status"]
    cheques = cheques.assign(
        booked=cheques["posted"].fillna(cheques["received_date"]),
        settled_on=cheques["status_date"].where(statuses.isin(BOUNCED_STATUSES + ("cleared",))),
        bounced_on=cheques["status_date"].fillna(cheques["due_date"]).where(statuses.isin(BOUNCED_STATUSES)))
    cheques = cheques[["customer_id", "amount", "due_date", "status", "booked", "settled_on", "bounced_on"]]
    brands = inputs.brands
    buyer = brands["customer_id"].to_numpy()
    brand = pd.factorize(brands["brand"])[0]  # comparing codes, not texts
    brands = brands.assign(first_bought=_first_of_runs(brands["date"], buyer, brand))
    brands = brands[["customer_id", "date", "amount", "first_bought"]]
    # each customer's first purchase, per code (not repeated on each of its rows)
    first_purchase = np.full(n_customers, np.datetime64("NaT"), dtype=brands["date"].dtype)
    first_purchase[buyer] = _first_of_runs(brands["date"], buyer)
    ledger = inputs.ledger
    # A new Ledger, not dataclasses.replace: that would share the old one's open-items cache.
    # The calendar month as a whole number: grouping on it is many times faster than on pandas Periods.
    invoices = ledger.invoices[["customer_id", "invoice_date", "amount"]]
    invoices = invoices.assign(month=invoices["invoice_date"].dt.year * 12 + invoices["invoice_date"].dt.month)
    with_months = Ledger(invoices, ledger.settlements, ledger.loose_credits, ledger.customers,
                         ledger.n_undated_allocations)
    # A customer's whole months, summed once: a month end's order baseline takes the months before its
    # cut-off's month from here (the same rows, in the same order) and sums only the cut-off's month again.
    monthly_invoiced = invoices.groupby(["customer_id", "month"])["amount"].sum()
    # the days since the customer's previous shipping day; one known by a month end follows one known then
    shipments = inputs.shipments.assign(gap_days=inputs.shipments.groupby("customer_id")["date"].diff().dt.days)
    return replace(inputs, ledger=with_months, payments=payments, cheques=cheques, brands=brands,
                   shipments=shipments, monthly_invoiced=monthly_invoiced, first_purchase=first_purchase)


def _first_of_runs(dates: pd.Series, *keys: np.ndarray) -> np.ndarray:
    """Per row, the earliest of ``dates`` (NaT skipped) among the rows of its run: consecutive rows with equal
    ``keys``. On rows sorted by the keys, what grouping on them and taking each group's minimum gives,
    without grouping millions of rows (the brands' days at ten million lines)."""
    values = dates.to_numpy()
    if not len(values):
        return values
    changed = np.zeros(len(values), dtype=bool)
    changed[0] = True
    for key in keys:
        changed[1:] |= key[1:] != key[:-1]
    starts = np.flatnonzero(changed)
    stamps = values.view("int64")
    latest = np.iinfo("int64").max
    earliest = np.minimum.reduceat(np.where(np.isnat(values), latest, stamps), starts)
    earliest[earliest == latest] = np.iinfo("int64").min  # a run of blanks only: NaT
    return np.repeat(earliest, np.diff(np.append(starts, len(values)))).view(values.dtype)


def _months_invoiced_by(inputs: DistressInputs, cutoff: pd.Timestamp) -> pd.Series:
    """Invoiced per customer and calendar month, counting the invoices dated by ``cutoff`` (a month's
    invoices past the cut-off left out): the months before the cut-off's month from the whole months'
    sums, the cut-off's own month summed from its invoices by then."""
    invoices = inputs.ledger.invoices
    month = cutoff.year * 12 + cutoff.month
    if inputs.monthly_invoiced is None:  # inputs not prepared by _with_fixed_columns
        return invoices[invoices["invoice_date"] <= cutoff].groupby(["customer_id", "month"])["amount"].sum()
    whole = inputs.monthly_invoiced
    whole = whole[whole.index.get_level_values("month") < month]
    part = invoices[(invoices["month"] == month) & (invoices["invoice_date"] <= cutoff)]
    return pd.concat([whole, part.groupby(["customer_id", "month"])["amount"].sum()])


def _one_month(inputs, settings, n_customers, end, snapshots, earlier_end, master) -> pd.DataFrame:
    s = settings
    out = pd.DataFrame({"month_end": end}, index=pd.RangeIndex(n_customers, name="customer_id"))
    day = pd.Timedelta(days=1)
    recent_start = end - s.recent_days * day

    # ---- balance, overdue and aging (open items)
    items = snapshots[end]
    n = n_customers
    out["balance"] = _per_customer(items["open_amount"], items["customer_id"], n)
    invoices = items[items["kind"] == "invoice"]
    overdue_items = invoices[invoices["days_past_due"] > 0]
    out["overdue"] = _per_customer(overdue_items["open_amount"], overdue_items["customer_id"], n)
    aged = invoices[invoices["days_past_due"] > s.grace_days]
    out["overdue_over_grace"] = _per_customer(aged["open_amount"], aged["customer_id"], n)
    positive = _per_customer(invoices["open_amount"], invoices["customer_id"], n)
    out["aged_share"] = (out["overdue_over_grace"].fillna(0) / positive.reindex(out.index)).where(
        positive.reindex(out.index) > 0)
    if earlier_end is not None:
        before = snapshots[earlier_end]
        before = before[before["kind"] == "invoice"]
        old_items = before[before["days_past_due"] > s.grace_days]
        old = _per_customer(old_items["open_amount"], old_items["customer_id"], n)
        base = _per_customer(before["open_amount"], before["customer_id"], n)
        out["aged_share_before"] = (old.reindex(out.index).fillna(0) / base.reindex(out.index)).where(
            base.reindex(out.index) > 0)
    else:
        out["aged_share_before"] = np.nan
    out["aged_share_rise"] = (out["aged_share"].fillna(0) - out["aged_share_before"].fillna(0)).where(
        out["aged_share"].notna())
    partly = invoices[(invoices["paid"] + invoices["cash_discount"] > 0)
                      & (invoices["invoice_date"] > end - s.partial_days * day)]
    out["partial_invoices"] = _counts(partly["customer_id"], n)
    if "receipt_allocations" not in inputs.has:
        out["partial_invoices"] = np.nan

    # ---- pending cheques: received and booked, not yet matured (they may still bounce)
    cheques = inputs.cheques
    if len(cheques):
        pending = cheques[(cheques["booked"] <= end) & (cheques["due_date"] > end) & ~(cheques["settled_on"] <= end)]
        out["pending_cheques"] = _per_customer(pending["amount"], pending["customer_id"], n)
    else:
        out["pending_cheques"] = np.nan
    out["pending_cheques"] = out["pending_cheques"].fillna(0.0)
    out["balance"] = out["balance"].fillna(0.0)
    out["exposure"] = out["balance"].clip(lower=0) + out["pending_cheques"]
    limit = master["credit_limit"].reindex(out.index) if "credit_limit" in master else np.nan
    out["credit_limit"] = limit
    out["credit_over_share"] = (out["exposure"] / out["credit_limit"].where(out["credit_limit"] > 0) - 1.0)

    # ---- lateness: recent payments and still-open overdue items against earlier payments
    # (the payments' columns as arrays, the rows taken by masks: the same rows in the same order as a filter of
    # the frame, without copying every payment known by then)
    payments = inputs.payments
    known_date = payments["known_date"].to_numpy()
    paid_by_end = known_date <= end.to_datetime64()
    is_recent = known_date > recent_start.to_datetime64()
    recent, earlier = paid_by_end & is_recent, paid_by_end & ~is_recent
    late_days, payer, paid = (payments[c].to_numpy() for c in ("late_days", "customer_id", "amount"))
    out["lateness_recent_days"] = _weighted_mean(
        np.concatenate([late_days[recent], overdue_items["days_past_due"].to_numpy()]),
        np.concatenate([paid[recent], overdue_items["open_amount"].to_numpy()]),
        np.concatenate([payer[recent], overdue_items["customer_id"].to_numpy()]), n)
    counts = _counts(payer[earlier], n)
    baseline = _weighted_mean(late_days[earlier], paid[earlier], payer[earlier], n)
    out["lateness_baseline_days"] = baseline.where(counts.reindex(baseline.index) >= s.min_baseline_payments)
    out["lateness_rise_days"] = out["lateness_recent_days"] - out["lateness_baseline_days"].fillna(0).clip(lower=0)
    if "receipt_allocations" not in inputs.has:
        out["lateness_recent_days"] = out["lateness_rise_days"] = out["lateness_baseline_days"] = np.nan

    # ---- DSO against the customer's terms
    invoices_all = inputs.ledger.invoices
    invoiced_on, invoiced, buyer = (invoices_all[c].to_numpy() for c in ("invoice_date", "amount", "customer_id"))
    invoiced_by_end = invoiced_on <= end.to_datetime64()
    window = invoiced_by_end & (invoiced_on > recent_start.to_datetime64())
    sold = _per_customer(invoiced[window], buyer[window], n).fillna(0.0)
    balance = out["balance"].clip(lower=0)
    dso = (balance / sold.where(sold > 0) * s.recent_days)
    out["dso_days"] = dso.where(sold > 0, np.where(balance > 0, float(s.memory_days), 0.0)).clip(
        upper=float(s.memory_days))
    terms = master["payment_terms_days"].reindex(out.index) if "payment_terms_days" in master else np.nan
    out["terms_days"] = terms
    out["dso_excess_days"] = out["dso_days"] - pd.Series(terms, index=out.index).fillna(0)

    # ---- order spike against the customer's own months, and brands never bought before
    cutoff = end - s.spike_days * day
    monthly = _months_invoiced_by(inputs, cutoff)
    month_customers = monthly.index.get_level_values(0).to_numpy()
    months_known = _counts(month_customers, n)
    typical = _per_customer(monthly.to_numpy(), month_customers, n, "median").where(
        months_known >= s.min_baseline_months)
    spike_window = invoiced_by_end & (invoiced_on > (end - s.spike_days * day).to_datetime64())
    spike_amount = _per_customer(invoiced[spike_window], buyer[spike_window], n).fillna(0.0)
    out["invoiced_recent"] = spike_amount
    out["invoiced_baseline"] = typical.reindex(out.index)
    month_share = s.spike_days / 30.4375
    out["order_spike_ratio"] = spike_amount / (out["invoiced_baseline"] * month_share)
    brands = inputs.brands
    if len(brands):
        # the rows of the window only (not a copy of every row known by then): the same rows in the same order
        bought_on = brands["date"].to_numpy()
        spike_start = (end - s.spike_days * day).to_datetime64()
        in_window = (bought_on <= end.to_datetime64()) & (bought_on > spike_start)
        brand_amount, brand_buyer = brands["amount"].to_numpy()[in_window], brands["customer_id"].to_numpy()[in_window]
        # a brand first bought in the window, by a customer who had bought before the recent window
        new = (brands["first_bought"].to_numpy()[in_window] > spike_start) & (
            inputs.first_purchase[brand_buyer] <= (end - s.recent_days * day).to_datetime64())
        window_total = _per_customer(brand_amount, brand_buyer, n)
        new_total = _per_customer(brand_amount[new], brand_buyer[new], n)
        out["new_brand_share"] = (new_total.reindex(out.index).fillna(0) / window_total.reindex(out.index)).where(
            window_total.reindex(out.index) > 0)
    else:
        out["new_brand_share"] = np.nan

    # ---- payment method: more cheques, longer maturities
    if paid_by_end.any():
        is_cheque = payments["is_cheque"].to_numpy(dtype=bool)
        cheque_amount = np.where(is_cheque, paid, 0.0)
        r = pd.DataFrame({"a": _per_customer(paid[recent], payer[recent], n),
                          "q": _per_customer(cheque_amount[recent], payer[recent], n)})
        b = pd.DataFrame({"a": _per_customer(paid[earlier], payer[earlier], n),
                          "q": _per_customer(cheque_amount[earlier], payer[earlier], n)})
        out["cheque_share_recent"] = (r["q"] / r["a"].where(r["a"] > 0)).reindex(out.index)
        base_share = (b["q"] / b["a"].where(b["a"] > 0)).where(counts.reindex(b.index) >= s.min_baseline_payments)
        out["cheque_share_baseline"] = base_share.reindex(out.index)
        out["cheque_share_rise"] = out["cheque_share_recent"] - out["cheque_share_baseline"]
        maturity = payments["maturity_days"].to_numpy()
        cheque_rows = is_cheque & ~np.isnan(maturity)
        recent_cheques, earlier_cheques = recent & cheque_rows, earlier & cheque_rows
        out["maturity_recent_days"] = _weighted_mean(
            maturity[recent_cheques], paid[recent_cheques], payer[recent_cheques], n).reindex(out.index)
        base_maturity = _weighted_mean(maturity[earlier_cheques], paid[earlier_cheques], payer[earlier_cheques], n)
        out["maturity_baseline_days"] = base_maturity.reindex(out.index)
        # Against the longer of the customer's own earlier cheques and its terms: approved long terms are normal.
        reference = pd.concat([out["maturity_baseline_days"], pd.Series(terms, index=out.index)], axis=1).max(axis=1)
        out["maturity_rise_days"] = out["maturity_recent_days"] - reference.fillna(0)
    else:
        for column in ("cheque_share_recent", "cheque_share_baseline", "cheque_share_rise", "maturity_recent_days",
                       "maturity_baseline_days", "maturity_rise_days"):
            out[column] = np.nan

    # ---- bounced / returned / replaced cheques in the last year
    if len(cheques):
        bad = cheques[(cheques["bounced_on"] <= end) & (cheques["bounced_on"] > end - s.memory_days * day)]
        out["bounced_cheques"] = _counts(bad["customer_id"], n)
        replaced = bad[bad["status"] == "replaced"]
        out["replaced_cheques"] = _counts(replaced["customer_id"], n)
        out["bounced_amount"] = _per_customer(bad["amount"], bad["customer_id"], n).fillna(0.0)
    else:
        out["bounced_cheques"] = out["replaced_cheques"] = out["bounced_amount"] = np.nan

    # ---- promises to pay, and promises broken, in the last year
    events = inputs.events
    if "customer_events" in inputs.has:
        remembered = events[(events["event_date"] <= end) & (events["event_date"] > end - s.memory_days * day)]
        kinds = remembered.groupby(["customer_id", "event_type"]).size().unstack(fill_value=0)
        for column, kind in (("promises", "promise_to_pay"), ("promises_broken", "promise_broken")):
            out[column] = (kinds[kind] if kind in kinds else pd.Series(dtype="float64")).reindex(
                out.index).fillna(0).astype("float64")
        # Other events: how fresh the latest of each kind is (1 today, 0 a memory ago).
        latest = remembered.groupby(["customer_id", "event_type"])["event_date"].max().unstack()
        age_days = (end - latest) // pd.Timedelta(days=1)  # whole days, as Timedelta.days; NaN where none
        freshness = (1.0 - age_days.astype("float64") / s.memory_days).clip(0.0, 1.0).reindex(out.index).fillna(0.0)
        for kind in EVENT_TYPES:
            out[f"event_{kind}"] = freshness[kind] if kind in freshness.columns else 0.0
    else:
        out["promises"] = out["promises_broken"] = np.nan
        for kind in EVENT_TYPES:
            out[f"event_{kind}"] = np.nan

    # ---- goods stopped while money is owed: days since the last shipment, against the usual gap
    shipped_on = inputs.shipments["date"].to_numpy()
    ships = shipped_on <= end.to_datetime64()
    receiver = inputs.shipments["customer_id"].to_numpy()[ships]
    last = _per_customer(shipped_on[ships], receiver, n, "max")
    out["days_without_shipment"] = (end - last).dt.days.astype("float64")
    out["usual_gap_days"] = _per_customer(inputs.shipments["gap_days"].to_numpy()[ships], receiver, n, "median")

    # ---- what rests on the open balance is unknown when the data does not record payments
    known = all(table in inputs.has for table in PAYMENT_STATUS_TABLES)
    out["payment_status_known"] = 1.0 if known else 0.0
    if not known:
        for column in PAYMENT_STATUS_MEASUREMENTS:
            out[column] = np.nan

    # ---- company age (the source: younger than two years)
    if "established_date" in master:
        founded = pd.to_datetime(master["established_date"].reindex(out.index))
        out["age_years"] = ((end - founded).dt.days / 365.25).where(founded <= end)
    else:
        out["age_years"] = np.nan
    out.index.name = "customer_id"
    return out
