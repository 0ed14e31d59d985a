"""Open items: what each invoice still owes on a date; the basis of aging, collections, reserve and distress.

Definitions (``docs/distress.md``, "Open items"):

- An invoice's amount is its net amount (``audit.ledger.invoice_amounts``: posted, not cancelled).
- It is settled by the receipt allocations naming it (``amount + cash_discount_amount``), dated by the
  receipt's ``posted_date`` (the day the company booked the money, as in ``ledger_movements``), and by
  the credit notes naming it, dated ``credit_date``. Only movements dated on or before the as-of day count.
- Credits that cannot sit on an invoice of their own are the customer's *unapplied credit*: credit
  notes without an invoice (or naming an invoice that is not a posted invoice of the ledger), allocations
  to an invoice that is not a posted invoice (or not yet issued on the as-of day), and what an invoice was
  over-settled by. The unapplied credit of a customer is applied first-in-first-out to its open invoices,
  oldest invoice date first (ties by invoice id); what is left after every invoice is cleared stays as one
  negative ``credit`` item of the customer.
- A settlement is attributed to the invoice it names even when the receipt is another customer's (the
  lapping case): the open items are the invoices' view, the ledger balance of ``audit.ledger`` is the
  payers' view. Their grand totals are equal; per customer they differ by such cross-customer allocations.
- Allocations whose receipt is missing have no date and are left out, as in ``ledger_movements``.
- An invoice's due date is ``invoices.due_date``, else ``invoice_date + customers.payment_terms_days``,
  else the invoice date.

Amounts are rounded to cents; items that round to zero are not open.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from audit.ledger import data_end_date, invoice_amounts
from audit.memory import one_object_per_text

ITEM_COLUMNS = ("item_id", "kind", "invoice_no", "customer_id", "salesperson_id", "invoice_date", "due_date",
                "amount", "paid", "cash_discount", "credited", "fifo_credit", "open_amount", "age_days",
                "days_past_due")
OPEN_ITEMS_KEPT = 14


@dataclass(frozen=True)
class Ledger:
    """The receivable movements of a run, fetched once (see :func:`load_ledger`).

    ``invoices``: invoice_id, invoice_no, customer_id, salesperson_id, invoice_date, due_date (filled as the
    module docstring says), amount. ``settlements``: invoice_id, customer_id (the payer), date, paid,
    cash_discount, credited (one of the three non-zero per row), source_id. ``loose_credits``: credits that
    name no posted invoice: customer_id, date, amount, kind, source_id. ``customers``: customer_id, name,
    assigned_salesperson_id, credit_limit, payment_terms_days (blank when absent). ``n_undated_allocations``:
    allocations left out because their receipt is missing.
    """

    invoices: pd.DataFrame
    settlements: pd.DataFrame
    loose_credits: pd.DataFrame
    customers: pd.DataFrame
    n_undated_allocations: int = 0
    # open items by as-of day: aging, exposure, reserve and distress ask for the same month ends
    open_items_by_day: dict = field(default_factory=dict, compare=False, repr=False)
    # per-cheque dates (booked, due, closed), worked out on first use: exposure asks month by month
    cheque_dates_memo: dict = field(default_factory=dict, compare=False, repr=False)

    @functools.cached_property
    def fifo_order(self) -> np.ndarray:
        """The invoices' row places in first-in-first-out order (customer, date, invoice), sorted once per
        run: a day's invoices are a filter of it, already in order. Places, not a sorted copy of the
        invoices (which held every column of them for the rest of the run)."""
        ids = pd.Index(self.invoices["invoice_id"])
        dates = self.invoices["invoice_date"].to_numpy()
        if len(ids) and dates.dtype.kind == "M" and not ids.hasnans and ids.is_monotonic_increasing:
            # the invoices come in id order: sorting by customer and date alone keeps it among equal ones;
            # on the customers' ranks and the dates as numbers (blank customer and date last, as pandas puts
            # them), not a sort of the text ids
            dates = dates.view("int64")
            dates = np.where(dates == np.iinfo("int64").min, np.iinfo("int64").max, dates)  # NaT last
            customer = self.keys.customer_rank[self.keys.customer]
            return np.lexsort((np.arange(len(ids)), dates, customer))
        keys = self.invoices[["customer_id", "invoice_date", "invoice_id"]].reset_index(drop=True)
        return keys.sort_values(["customer_id", "invoice_date", "invoice_id"], kind="mergesort").index.to_numpy()

    @functools.cached_property
    def fifo_dates(self) -> pd.Series:
        """The invoice dates in :attr:`fifo_order`."""
        return pd.Series(self.invoices["invoice_date"].to_numpy()[self.fifo_order])

    @functools.cached_property
    def keys(self) -> _LedgerKeys:
        """Integer codes of the ledger's invoice and customer ids, worked out once per run: grouping and
        joining month after month on text ids cost most of each month end's open items."""
        return _LedgerKeys.of(self)


@dataclass(frozen=True)
class _LedgerKeys:
    """``invoice``: the code of each invoice row's id (shared by rows with one id); ``issued_on``: for each
    settlement row, the first date of the invoice it names (NaT when no invoice has that id);
    ``settlement_invoice``: each settlement's invoice code; ``customer``: the code of each invoice row's
    customer (-1 when blank), ``customer_ids``: the id of each customer code, ``customer_rank``: each
    code's place in the sorted ids (blank last); ``settlement_customer``, ``loose_customer``: the customer
    code of each settlement and loose credit row (-1 when blank)."""

    invoice: np.ndarray
    settlement_invoice: np.ndarray
    issued_on: np.ndarray
    customer: np.ndarray
    customer_ids: np.ndarray
    customer_rank: np.ndarray
    settlement_customer: np.ndarray
    loose_customer: np.ndarray

    @property
    def n_invoice_codes(self) -> int:
        """How many invoice codes there are (codes are 0 .. n - 1)."""
        return int(max(self.invoice.max(initial=-1), self.settlement_invoice.max(initial=-1)) + 1)

    @classmethod
    def of(cls, ledger: Ledger) -> _LedgerKeys:
        invoices, settlements = ledger.invoices, ledger.settlements
        # use_na_sentinel=False: a blank id matches a blank id, as Series.isin does
        codes, _ = pd.factorize(pd.concat([invoices["invoice_id"], settlements["invoice_id"]], ignore_index=True)
                                .astype("object"), use_na_sentinel=False)
        invoice, settlement_invoice = codes[:len(invoices)], codes[len(invoices):]
        first = pd.Series(invoices["invoice_date"].to_numpy()).groupby(invoice).min()
        issued_on = first.reindex(settlement_invoice).to_numpy(dtype="datetime64[ns]")
        customers = pd.concat([invoices["customer_id"], settlements["customer_id"],
                               ledger.loose_credits["customer_id"]], ignore_index=True).astype("object")
        customer_codes, customer_ids = pd.factorize(customers)
        order = np.argsort(np.asarray(customer_ids, dtype="object"), kind="mergesort")
        rank = np.empty(len(customer_ids) + 1, dtype="int64")
        rank[order] = np.arange(len(customer_ids))
        rank[-1] = len(customer_ids)  # code -1 (blank) sorts last
        n_invoices, n_settlements = len(invoices), len(settlements)
        return cls(invoice, settlement_invoice, issued_on, customer_codes[:n_invoices],
                   np.asarray(customer_ids, dtype="object"), rank,
                   customer_codes[n_invoices:n_invoices + n_settlements], customer_codes[n_invoices + n_settlements:])


def _sums_by_code(codes: np.ndarray, columns: dict[str, np.ndarray], n_codes: int) -> dict[str, np.ndarray]:
    """Per code 0 .. ``n_codes`` - 1, the sum of each column's rows with that code (0 without rows; codes
    below 0 left out), to the last bit what pandas' groupby sum gives in row order: its compensated
    summation adds one or two numbers exactly as plain addition does, so codes with at most two rows are
    summed by counting (``np.bincount``) and only codes with more rows by a groupby. A groupby of every
    row (text ids hashed at every as-of day) cost most of each month end's open items."""
    keep = codes >= 0
    if not keep.all():
        codes, columns = codes[keep], {name: values[keep] for name, values in columns.items()}
    if any(np.isnan(values).any() for values in columns.values()):  # the groupby skips blanks
        sums = pd.DataFrame(columns).groupby(pd.Categorical.from_codes(codes, categories=pd.RangeIndex(n_codes)),
                                             observed=False).sum()
        return {name: sums[name].to_numpy(dtype="float64") for name in columns}
    few = np.bincount(codes, minlength=n_codes)[codes] <= 2
    out = {name: np.bincount(codes[few], weights=values[few], minlength=n_codes).astype("float64")
           for name, values in columns.items()}
    if not few.all():
        many = ~few
        sums = pd.DataFrame({name: values[many] for name, values in columns.items()}).groupby(codes[many]).sum()
        for name in columns:
            out[name][sums.index.to_numpy()] = sums[name].to_numpy()
    return out


def texts_as_objects(values: pd.Series) -> pd.Series:
    """``values`` as Python objects, blanks as None (what the ledger's readers get for its text columns)."""
    return values.astype("object").where(values.notna(), None)


def compact_texts(values: pd.Series) -> pd.Series:
    """Texts kept in pandas' Arrow-backed ``str`` dtype (one buffer, no Python object per row: the receivables
    ledger holds its invoice numbers and receipt ids for the whole run); values that are not all texts as
    Python objects (:func:`texts_as_objects`), so that no number becomes a text. :func:`texts_as_objects`
    gives back what the ledger held before."""
    if not isinstance(values.dtype, pd.StringDtype) and not (
            values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty")):
        return texts_as_objects(values)
    return values.astype(pd.StringDtype("pyarrow", na_value=np.nan))


def _empty(columns) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})


def default_terms_days(data) -> int:
    """The policy's payment terms for customers whose own are not recorded."""
    policy = getattr(data, "policy", None)
    return int(policy.collections.default_terms_days) if policy is not None else 30


def customer_master(data) -> pd.DataFrame:
    """customer_id, name, assigned_salesperson_id, credit_limit, payment_terms_days, established_date."""
    columns = ("customer_id", "name", "assigned_salesperson_id", "credit_limit", "payment_terms_days",
               "established_date")
    if not data.has("customers", ("customer_id",)):
        return _empty(columns)
    frame = data.frame_columns("customers", columns)
    out = pd.DataFrame({"customer_id": frame["customer_id"].astype("object")})
    for column in columns[1:]:
        out[column] = frame[column].to_numpy() if data.has("customers", (column,)) else None
    out["credit_limit"] = pd.to_numeric(out["credit_limit"], errors="coerce").astype("float64")
    out["payment_terms_days"] = pd.to_numeric(out["payment_terms_days"], errors="coerce").astype("float64")
    # A customer whose terms are not recorded has the policy's default terms, not 0 days.
    out["terms_from_policy"] = out["payment_terms_days"].isna()
    out["payment_terms_days"] = out["payment_terms_days"].fillna(float(default_terms_days(data)))
    out["established_date"] = pd.to_datetime(out["established_date"], errors="coerce")
    for column in ("customer_id", "name", "assigned_salesperson_id"):
        out[column] = out[column].astype("object").where(out[column].notna(), None)
    return out.drop_duplicates("customer_id").reset_index(drop=True)


LEDGER_VIEW = "receivables_ledger"


def load_ledger(data) -> Ledger:
    """The run's receivables ledger: the RCV-00 analysis' output when the component declared it (a run
    computes it once), else built here from ``data`` (a function called on its own)."""
    shared = data.views.get(LEDGER_VIEW)
    if shared is not None:
        return shared
    return build_ledger(data)


def build_ledger(data) -> Ledger:
    """Fetch the invoices, settlements and loose credits of ``data``."""
    customers = customer_master(data)
    if data.has("invoices", ("invoice_id", "invoice_date", "customer_id")) and data.has(
            "invoice_lines", ("invoice_id", "quantity", "unit_price")):
        invoices = data.execute(invoice_amounts(data).order_by("invoice_id"))
    else:
        invoices = _empty(("invoice_id", "invoice_no", "customer_id", "salesperson_id", "invoice_date",
                           "due_date", "amount"))
    invoices = invoices[["invoice_id", "invoice_no", "customer_id", "salesperson_id", "invoice_date",
                         "due_date", "amount"]].copy()
    invoices["invoice_id"] = texts_as_objects(invoices["invoice_id"])  # one per invoice
    # the invoice numbers are read only for the open items: kept in one Arrow buffer, not an object per row
    invoices["invoice_no"] = compact_texts(invoices["invoice_no"])
    for column in ("customer_id", "salesperson_id"):
        invoices[column] = one_object_per_text(invoices[column])
    invoices["invoice_date"] = pd.to_datetime(invoices["invoice_date"])
    terms = invoices["customer_id"].map(customers.set_index("customer_id")["payment_terms_days"]) \
        if len(customers) else pd.Series(np.nan, index=invoices.index)
    implied = invoices["invoice_date"] + pd.to_timedelta(pd.to_numeric(terms, errors="coerce").fillna(0), unit="D")
    invoices["due_date"] = pd.to_datetime(invoices["due_date"]).fillna(implied)
    invoices["amount"] = invoices["amount"].astype("float64").fillna(0.0)

    parts, loose = [], []
    n_undated = 0
    if data.has("receipt_allocations", ("receipt_id", "invoice_id", "amount")) and data.has(
            "receipts", ("receipt_id", "customer_id", "posted_date")):
        allocations = data.table("receipt_allocations")
        receipts = data.table("receipts")
        discount = (allocations.cash_discount_amount.fill_null(0) if data.has(
            "receipt_allocations", ("cash_discount_amount",)) else allocations.amount * 0)
        joined = allocations.join(receipts, "receipt_id")
        paid = data.execute(joined.select(
            invoice_id=allocations.invoice_id, customer_id=receipts.customer_id, date=receipts.posted_date,
            paid=allocations.amount.fill_null(0), cash_discount=discount, source_id=allocations.receipt_id,
        ).order_by(["source_id", "invoice_id"]))
        n_undated = int(data.rows("receipt_allocations") - len(paid))
        paid["customer_id"] = one_object_per_text(paid["customer_id"])  # the payers: a few per many receipts
        paid["credited"] = 0.0
        parts.append(paid)
    if data.has("credit_notes", ("credit_note_id", "credit_date", "customer_id", "amount")):
        notes = data.frame("credit_notes")
        invoice_id = notes["invoice_id"] if data.has("credit_notes", ("invoice_id",)) else None
        parts.append(pd.DataFrame({
            "invoice_id": invoice_id.astype("object").to_numpy() if invoice_id is not None else None,
            "customer_id": notes["customer_id"].astype("object").to_numpy(),
            "date": notes["credit_date"].to_numpy(), "paid": 0.0, "cash_discount": 0.0,
            "credited": pd.to_numeric(notes["amount"], errors="coerce").fillna(0.0).to_numpy(),
            "source_id": notes["credit_note_id"].astype("object").to_numpy()}))
    columns = ["invoice_id", "customer_id", "date", "paid", "cash_discount", "credited", "source_id"]
    settlements = pd.concat([p[columns] for p in parts], ignore_index=True) if parts else _empty(columns)
    settlements["date"] = pd.to_datetime(settlements["date"])
    for column in ("paid", "cash_discount", "credited"):
        settlements[column] = pd.to_numeric(settlements[column], errors="coerce").astype("float64").fillna(0.0)
    # a settlement names its invoice by the invoice's own text object, not a copy per settlement (one object
    # per id, as audit.memory.one_object_per_text), and the codes tell which settlements name a posted invoice
    n_invoices = len(invoices)
    codes, distinct = pd.factorize(pd.concat([invoices["invoice_id"], settlements["invoice_id"]], ignore_index=True))
    objects = np.empty(len(distinct) + 1, dtype="object")  # the last place (code -1): a blank
    objects[:-1] = np.asarray(distinct, dtype="object")
    invoices["invoice_id"] = pd.Series(objects[codes[:n_invoices]], index=invoices.index, dtype="object")
    settlements["invoice_id"] = pd.Series(objects[codes[n_invoices:]], index=settlements.index, dtype="object")
    posted = np.zeros(len(objects), dtype=bool)
    posted[codes[:n_invoices]] = True  # a blank id matches a blank id, as Series.isin does
    names_posted = pd.Series(posted[codes[n_invoices:]], index=settlements.index)
    del codes, distinct, objects
    settlements["source_id"] = compact_texts(settlements["source_id"])  # not read by the views: not objects
    settlements["customer_id"] = one_object_per_text(settlements["customer_id"])  # payments' and notes' alike
    settlements = settlements.dropna(subset=["date"])
    attached = names_posted.loc[settlements.index]  # a posted invoice's (no set of every id)
    loose_rows = settlements[~attached]
    loose.append(pd.DataFrame({
        "customer_id": loose_rows["customer_id"], "date": loose_rows["date"],
        "amount": loose_rows["paid"] + loose_rows["cash_discount"] + loose_rows["credited"],
        "kind": np.where(loose_rows["credited"] != 0, "credit_note", "payment"),
        "source_id": loose_rows["source_id"]}))
    loose_credits = pd.concat(loose, ignore_index=True)
    ledger = Ledger(invoices.reset_index(drop=True), settlements[attached].reset_index(drop=True),
                    loose_credits.reset_index(drop=True), customers, n_undated)
    return ledger


def open_items(ledger: Ledger, as_of) -> pd.DataFrame:
    """The open items on ``as_of`` (movements dated on or before it), one row per open invoice plus one
    ``credit`` row per customer with unapplied credit left; columns :data:`ITEM_COLUMNS`."""
    items = kept_open_items(ledger, as_of).copy()  # callers may add columns
    if isinstance(items["invoice_no"].dtype, pd.StringDtype):  # kept compact: the callers get objects
        items["invoice_no"] = texts_as_objects(items["invoice_no"])
    return items


@dataclass(frozen=True)
class _OpenAmounts:
    """The open items on a day as arrays: the open invoices (``places``: their rows in the ledger, in
    first-in-first-out order; ``customer``: their customer codes; their amounts) and the customers' credit
    left (``left``: by customer id, sorted; ``left_codes``: their customer codes), not yet rounded."""

    places: np.ndarray
    customer: np.ndarray
    paid: np.ndarray
    cash_discount: np.ndarray
    credited: np.ndarray
    open_amount: np.ndarray
    fifo_credit: np.ndarray
    left: pd.Series
    left_codes: np.ndarray
    issued_any: bool  # whether any invoice was issued by the day (open or not)


def kept_open_items(ledger: Ledger, as_of) -> pd.DataFrame:
    """The open items on ``as_of`` as the run keeps them (worked out and kept on first use): not a copy, to
    be read and not changed, the invoice numbers in their compact dtype. For readers of a few columns (the
    distress signs), which need no copy of every column nor a text object per invoice number."""
    as_of = pd.Timestamp(as_of).normalize()
    cache = ledger.open_items_by_day
    if as_of not in cache:
        if len(cache) >= OPEN_ITEMS_KEPT:
            cache.pop(next(iter(cache)))  # the oldest asked: a year of month ends stays
        cache[as_of] = _open_items(ledger, as_of)
    return cache[as_of]


def _open_items(ledger: Ledger, as_of: pd.Timestamp) -> pd.DataFrame:
    amounts = _open_amounts(ledger, as_of)
    keys, invoices = ledger.keys, ledger.invoices
    # (taken rows are a new frame, and with copy on write columns added to it never reach the ledger's: no
    # copies of the open invoices' rows, which at ten million lines were a month end's peak)
    items = invoices.iloc[amounts.places]
    items["paid"] = amounts.paid
    items["cash_discount"] = amounts.cash_discount
    items["credited"] = amounts.credited
    items["open_amount"] = amounts.open_amount
    items["fifo_credit"] = amounts.fifo_credit
    items = items.assign(kind="invoice", item_id=items["invoice_id"])
    rank = keys.customer_rank[amounts.customer]
    left = amounts.left
    if len(left):
        master = ledger.customers.set_index("customer_id")["assigned_salesperson_id"] if len(
            ledger.customers) else pd.Series(dtype="object")
        credits = pd.DataFrame({
            "item_id": ["credit:" + str(c) for c in left.index], "kind": "credit", "invoice_no": None,
            "customer_id": left.index.astype("object"), "salesperson_id": left.index.map(master).astype("object"),
            "invoice_date": pd.NaT, "due_date": pd.NaT, "amount": 0.0, "paid": 0.0, "cash_discount": 0.0,
            "credited": 0.0, "fifo_credit": 0.0, "open_amount": -left.to_numpy()})
        credits["salesperson_id"] = credits["salesperson_id"].where(credits["salesperson_id"].notna(), None)
        if isinstance(invoices["invoice_no"].dtype, pd.StringDtype):  # one dtype: the texts stay compact
            credits["invoice_no"] = credits["invoice_no"].astype(invoices["invoice_no"].dtype)
        credits["open_amount"] = credits["open_amount"].astype("float64").round(2)
        credit_kept = (credits["open_amount"] != 0).to_numpy()
        rank = np.concatenate([rank, keys.customer_rank[amounts.left_codes][credit_kept]])
        items = pd.concat([items, credits[credit_kept]], ignore_index=True) if amounts.issued_any else credits[
            credit_kept]
    items["invoice_date"] = pd.to_datetime(items["invoice_date"])
    items["due_date"] = pd.to_datetime(items["due_date"])
    items["age_days"] = (as_of - items["invoice_date"]).dt.days.astype("float64")
    items["days_past_due"] = (as_of - items["due_date"]).dt.days.astype("float64")
    # Customer, then its credit before its invoices; the invoices are already in date and id order.
    is_invoice = (items["kind"] == "invoice").to_numpy()
    order = np.lexsort((np.arange(len(items)), is_invoice, rank))
    return items.loc[:, list(ITEM_COLUMNS)].iloc[order].reset_index(drop=True)


def open_item_amounts(ledger: Ledger, as_of) -> pd.DataFrame:
    """The rows of :func:`open_items` on ``as_of``, in its order and with its values, without the texts:
    ``customer_code`` (the customer's code in :attr:`Ledger.keys`, -1 when blank), kind, invoice_date, paid,
    cash_discount, open_amount, days_past_due. For readers that only sum and count amounts per customer
    month after month (the distress signs): the open invoices' rows with their texts took more memory than
    the rest of a month end's work at ten million lines."""
    as_of = pd.Timestamp(as_of).normalize()
    amounts = _open_amounts(ledger, as_of)
    left_open = np.round((-amounts.left.to_numpy()).astype("float64"), 2)
    credit_codes = amounts.left_codes[left_open != 0]
    left_open = left_open[left_open != 0]
    n_invoices, n_credits = len(amounts.places), len(credit_codes)
    customer = np.concatenate([amounts.customer, credit_codes])
    is_invoice = np.arange(n_invoices + n_credits) < n_invoices
    dates = {column: np.concatenate([ledger.invoices[column].to_numpy()[amounts.places],
                                     np.full(n_credits, np.datetime64("NaT"))]) for column in ("invoice_date", "due_date")}
    zeros = np.zeros(n_credits)
    items = pd.DataFrame({
        "customer_code": customer, "kind": np.where(is_invoice, "invoice", "credit"),
        "invoice_date": pd.to_datetime(dates["invoice_date"]),
        "paid": np.concatenate([amounts.paid, zeros]), "cash_discount": np.concatenate([amounts.cash_discount, zeros]),
        "open_amount": np.concatenate([amounts.open_amount, left_open]),
        "days_past_due": (as_of - pd.to_datetime(dates["due_date"])).days.astype("float64")})
    # Customer, then its credit before its invoices, as open_items orders them.
    order = np.lexsort((np.arange(len(items)), is_invoice, ledger.keys.customer_rank[customer]))
    return items.iloc[order].reset_index(drop=True)


def _open_amounts(ledger: Ledger, as_of: pd.Timestamp) -> _OpenAmounts:
    # Worked out on the amounts alone (arrays over the invoices issued by then): the invoices' texts are
    # taken by the callers for the open ones only (copying every issued invoice's row each month end cost
    # most of the time).
    keys = ledger.keys
    invoices = ledger.invoices
    # (arrays the length of every invoice or settlement are let go once read: a month end's peak at ten
    # million lines)
    rows = np.flatnonzero((ledger.fifo_dates <= as_of).to_numpy())  # places in the first-in-first-out order
    issued_any = len(rows) > 0
    places = ledger.fifo_order[rows]  # the invoices' rows, in that order
    del rows
    positions = invoices.index.to_numpy()[places]  # the ledger's row positions: index into the keys
    index = pd.Index(positions)
    on_day = (ledger.settlements["date"] <= as_of).to_numpy()
    settlements = ledger.settlements
    issued = keys.issued_on[on_day] <= np.datetime64(as_of)  # the invoice it names exists by then
    amounts = {c: settlements[c].to_numpy()[on_day] for c in ("paid", "cash_discount", "credited")}
    # paid before the invoice's own date: a credit until the invoice exists
    early_customer = keys.settlement_customer[on_day][~issued]
    early_amount = (amounts["paid"] + amounts["cash_discount"] + amounts["credited"])[~issued]
    # each invoice code's sums (0 without settlements), on the codes (not the ids hashed at every as-of day)
    settled_codes = keys.settlement_invoice[on_day][issued]
    del on_day
    settled = _sums_by_code(settled_codes, {c: amounts.pop(c)[issued] for c in list(amounts)}, keys.n_invoice_codes)
    del settled_codes, issued
    codes = keys.invoice[positions]
    paid, cash_discount, credited = (pd.Series(settled.pop(c)[codes], index=index)
                                     for c in ("paid", "cash_discount", "credited"))
    del codes, settled
    open_amount = pd.Series(invoices["amount"].to_numpy()[places], index=index) - paid - cash_discount - credited
    customer = keys.customer[positions]
    is_over = (open_amount < 0).to_numpy()
    over_rows = np.argsort(positions[is_over], kind="stable")  # in the ledger's row order
    over_customer = customer[is_over][over_rows]
    over_amount = -open_amount.to_numpy()[is_over][over_rows]
    loose = (ledger.loose_credits["date"] <= as_of).to_numpy()
    # each customer's credit: its loose credits, what its invoices were over-settled by and what it paid
    # early, each summed, then the three added in that order
    n_customers = len(keys.customer_ids)
    parts = [(keys.loose_customer[loose], ledger.loose_credits["amount"].to_numpy(dtype="float64")[loose]),
             (over_customer, over_amount), (early_customer, early_amount)]
    part_codes, part_sums = [], []
    for part_customer, part_amount in parts:
        known = part_customer >= 0
        if not known.any():
            continue
        present = np.bincount(part_customer[known], minlength=n_customers) > 0
        part_codes.append(np.flatnonzero(present))
        part_sums.append(_sums_by_code(part_customer, {"amount": part_amount}, n_customers)["amount"][present])
    has_credit = np.zeros(n_customers, dtype=bool)
    credit = np.zeros(n_customers)
    if part_codes:
        all_codes = np.concatenate(part_codes)
        has_credit[all_codes] = True
        credit = _sums_by_code(all_codes, {"amount": np.concatenate(part_sums)}, n_customers)["amount"]
    open_amount = open_amount.clip(lower=0.0)

    # First in, first out: each customer's unapplied credit clears its oldest open invoices.
    credit_of_code = np.append(np.where(has_credit, credit, np.nan), np.nan)
    available = pd.Series(credit_of_code[customer], index=index).fillna(0.0)  # code -1 reads the NaN
    before = open_amount.groupby(customer, sort=False).cumsum() - open_amount
    before = before.where(customer >= 0)  # a blank customer has no group
    fifo_credit = (available - before).clip(lower=0.0).clip(upper=open_amount)
    fifo_credit = fifo_credit.where(available > 0, 0.0)
    del available, before
    open_amount = open_amount - fifo_credit
    used = _sums_by_code(customer, {"amount": fifo_credit.to_numpy(dtype="float64")}, n_customers)["amount"]
    left_of_code = credit - used
    left_codes = np.flatnonzero(has_credit & (np.round(left_of_code, 2) > 0))
    left_codes = left_codes[np.argsort(keys.customer_rank[left_codes], kind="stable")]  # by id
    left = pd.Series(left_of_code[left_codes], index=pd.Index(keys.customer_ids[left_codes], dtype="object",
                                                               name="customer_id"))

    # only the invoices still open after rounding are kept
    open_amount = open_amount.astype("float64").round(2)
    kept = (open_amount != 0).to_numpy()
    return _OpenAmounts(places[kept], customer[kept], paid.to_numpy()[kept], cash_discount.to_numpy()[kept],
                        credited.to_numpy()[kept], open_amount.to_numpy()[kept], fifo_credit.to_numpy()[kept],
                        left, left_codes, issued_any)


def month_ends(start, end) -> list[pd.Timestamp]:
    """Every month's last day from ``start``'s month up to ``end`` (a month counts when it ends by ``end``)."""
    if start is None or end is None or pd.isna(start) or pd.isna(end):
        return []
    first = pd.Period(pd.Timestamp(start), "M")
    last = pd.Period(pd.Timestamp(end), "M")
    ends = [p.end_time.normalize() for p in pd.period_range(first, last, freq="M")]
    return [e for e in ends if e <= pd.Timestamp(end).normalize()]


def ledger_end_date(data) -> pd.Timestamp | None:
    """The as-of day of the receivable views: the run's period end, else the latest movement in the data
    (invoices, receipts, credit notes, cheques, shipments, events); ``None`` when nothing is dated."""
    if data.period_end is not None:
        return data.period_end
    if data.has("invoices", ("invoice_date",)) and data.rows("invoices"):
        return pd.Timestamp(data_end_date(data)).normalize()
    latest = []
    for table, column in (("invoices", "invoice_date"), ("receipts", "posted_date"), ("credit_notes", "credit_date"),
                          ("cheques", "received_date"), ("shipments", "ship_date"),
                          ("customer_events", "event_date"), ("customer_financials", "period_end")):
        if data.has(table, (column,)) and data.rows(table):
            latest.append(data.latest(table, column))
    latest = [d for d in latest if pd.notna(d)]
    return pd.Timestamp(max(latest)).normalize() if latest else None


def pending_cheques(data, as_of) -> pd.DataFrame:
    """Post-dated cheques in hand on ``as_of``: received (and booked, when a receipt names them) by then,
    maturing after it, not bounced, returned, replaced or cleared by then. They already lowered the ledger
    balance but may still bounce, so they are part of the exposure. Columns: cheque_id, customer_id,
    amount, received_date, due_date."""
    columns = ["cheque_id", "customer_id", "amount", "received_date", "due_date"]
    if not data.has("cheques", ("cheque_id", "customer_id", "amount", "due_date", "received_date")):
        return _empty(columns)
    as_of = pd.Timestamp(as_of)
    booked, due, closed_on = _cheque_dates(data)
    frame = _cheque_memo(data)["frame"]
    keep = (booked <= as_of) & (due > as_of) & ~(closed_on <= as_of)
    out = frame.loc[keep, columns].copy()
    for column in ("cheque_id", "customer_id"):
        out[column] = out[column].astype("object")
    out["amount"] = pd.to_numeric(out["amount"], errors="coerce").fillna(0.0).astype("float64")
    return out.sort_values("cheque_id", kind="mergesort", ignore_index=True)


def _cheque_memo(data) -> dict:
    """Where the cheques' dates and the columns :func:`pending_cheques` returns are kept: with the run's
    ledger (exposure asks month by month); a lone call works them out afresh. Only those columns of the
    cheques are read (the whole table, with its banks, drawers and collectors, took 1 GB at 10M lines)."""
    shared = data.views.get(LEDGER_VIEW)
    memo = shared.cheque_dates_memo if shared is not None else {}
    if "frame" not in memo:
        memo["frame"] = data.frame_columns("cheques", ["cheque_id", "customer_id", "amount", "received_date",
                                                       "due_date", "status", "status_date"])
    return memo


def _cheque_dates(data) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Per cheque: booked (first receipt naming it, else received), due, and closed (cleared, bounced,
    returned or replaced: its status date, else NaT). Worked out once per run: exposure asks month by month."""
    memo = _cheque_memo(data)
    if "dates" in memo:
        return memo["dates"]
    frame = memo["frame"]
    received = pd.to_datetime(frame["received_date"])
    booked = received
    if data.has("receipts", ("cheque_id", "posted_date")):
        receipts = data.frame_columns("receipts", ["cheque_id", "posted_date"]).dropna()
        first = receipts.groupby(receipts["cheque_id"].astype("object"))["posted_date"].min()
        booked = pd.to_datetime(frame["cheque_id"].astype("object").map(first)).fillna(received)
    closed_on = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us]")
    if data.has("cheques", ("status", "status_date")):
        closed = frame["status"].isin(("cleared", "bounced", "returned", "replaced"))
        closed_on = pd.to_datetime(frame["status_date"]).where(closed)
    dates = (booked, pd.to_datetime(frame["due_date"]), closed_on)
    memo["dates"] = dates
    return dates


def salesperson_master(data) -> pd.DataFrame:
    """salesperson_id, salesperson_name, region (blank when absent)."""
    columns = ["salesperson_id", "salesperson_name", "region"]
    if not data.has("salespeople", ("salesperson_id",)):
        return _empty(columns)
    frame = data.frame("salespeople")
    out = pd.DataFrame({"salesperson_id": frame["salesperson_id"].astype("object")})
    out["salesperson_name"] = frame["name"].astype("object") if data.has("salespeople", ("name",)) else None
    out["region"] = frame["region"].astype("object") if data.has("salespeople", ("region",)) else None
    out = out.astype("object").where(out.notna(), None)
    return out.drop_duplicates("salesperson_id").reset_index(drop=True)
