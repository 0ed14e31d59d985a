"""Two readings of a payment drawn on another customer's account: lapping, or one buyer under two names.

A customer's invoice paid with a cheque drawn on another customer's account fits two patterns:

- **lapping** (payment_swap, PAY-01): the salesperson kept the payee's money and covered its invoice
  with the drawer's cheque; the drawer's own invoices then go unpaid or late, the money is booked
  late, one salesperson collects from both, and the cheque is applied to the payee's older invoices;
- **one buyer** (multi_name_invoicing, CUS-02): the two accounts are one buyer, who pays the invoices
  of its second name with its own cheques; the accounts then share more than the cheque (phone,
  address, owner, bank account), their goods go to one place, and they take turns buying.

This module weighs the lapping reading (``lapping_traces``: each trace and its weight, combined as
``1 − ∏(1 − weight)``) and the one-buyer reading as far as the entity links show it
(``one_buyer_traces``: each identity or delivery trace beyond the cheque with CUS-02's weight, summed
and capped at 1). CUS-02 adds complementary timing to its own one-buyer weight. The reading with the
larger weight is the one reported; the other is named with its weight.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from audit.common import combine_traces
from audit.ledger import line_net, posted_invoices
from audit.membership import among

# What each trace of lapping adds. The drawer's own invoices going late is the mark of lapping (its
# money went elsewhere); one salesperson collecting both is common in a territory, so it weighs little.
LAPPING_WEIGHTS = {"drawer_paid_late": 0.35, "drawer_invoice_of_the_cheques_amount": 0.15, "posted_late": 0.25,
                   "one_collector": 0.15, "payees_overdue_invoices": 0.25}
# The drawer's invoices whose lateness speaks for lapping: due from this many days before the cheque to
# this many after it (the payment the cheque was for); a customer late on older debts is only slow.
DRAWER_DUE_WINDOW_DAYS = (30, 60)
# What each trace beyond the cheque adds to the one-buyer reading (CUS-02's weights, the cheque left out).
ONE_BUYER_KINDS = ("shared_phone", "shared_address", "shared_bank_account", "shared_owner_name", "delivery_point",
                   "received_by", "complementary_timing", "paid_with_the_others_cheques")
# One buyer pays for its second name with its own cheques, most of the time; a lapping salesperson, or a
# sister shop helping out, uses another's cheque now and then. Counted from this share of the payee's
# receipts (by amount), with this weight times the share.
OTHERS_CHEQUES_MIN_SHARE = 0.5
OTHERS_CHEQUES_WEIGHT = 0.4


def others_cheques_trace(share: float) -> dict[str, float]:
    """The one-buyer trace of a payee paying mostly with the drawer's cheques (``OTHERS_CHEQUES_*``)."""
    if pd.isna(share) or share < OTHERS_CHEQUES_MIN_SHARE:
        return {}
    return {"paid_with_the_others_cheques": round(OTHERS_CHEQUES_WEIGHT * min(float(share), 1.0), 4)}


def one_buyer_weight(traces: dict[str, float]) -> float:
    """The one-buyer reading's weight: its traces beyond the cheque, summed as CUS-02 sums them."""
    return float(min(1.0, sum(v for k, v in traces.items() if k in ONE_BUYER_KINDS)))


def lapping_weight(traces: dict[str, float]) -> float:
    return float(combine_traces(traces.values())) if traces else 0.0


def one_buyer_traces(links: pd.DataFrame, shipments: pd.Series, weights: dict[str, float],
                     min_delivery_share: float) -> dict[tuple[str, str], dict[str, float]]:
    """(a, b) sorted -> the one-buyer traces beyond the cheque the entity links show between two customers:
    a shared phone, address, bank account or owner with its weight, a delivery at the other's place or to
    its owner with its weight times the share of the account's shipments (from ``min_delivery_share``)."""
    out: dict[tuple[str, str], dict[str, float]] = {}
    if links.empty:
        return out
    chosen = links[links["source"].str.startswith("customer:") & links["target"].str.startswith("customer:")
                   & links["kind"].isin(ONE_BUYER_KINDS) & ~links["declared_chain"].astype(bool)]
    for row in chosen.itertuples(index=False):
        source, target = row.source.split(":", 1)[1], row.target.split(":", 1)[1]
        weight = weights[row.kind]
        if row.kind in ("delivery_point", "received_by"):
            evidence = row.evidence
            count = float(evidence.get("source_count") or evidence.get("shipments") or 0.0)
            total = float(shipments.get(source, 0.0))
            share = min(count / total, 1.0) if total > 0 else 0.0
            if share < min_delivery_share:
                continue
            weight *= share
        traces = out.setdefault(tuple(sorted((source, target))), {})
        traces[row.kind] = max(traces.get(row.kind, 0.0), weight)
    return out


def _due_dates(invoices: pd.DataFrame, customers: pd.DataFrame, default_terms_days: int) -> pd.Series:
    due = pd.to_datetime(invoices["due_date"], errors="coerce") if "due_date" in invoices else \
        pd.Series(pd.NaT, index=invoices.index)
    terms = pd.Series(float(default_terms_days), index=invoices.index)
    if "payment_terms_days" in customers.columns:
        own = pd.to_numeric(customers.set_index("customer_id")["payment_terms_days"], errors="coerce")
        terms = invoices["customer_id"].map(own).fillna(float(default_terms_days))
    return due.fillna(invoices["invoice_date"] + pd.to_timedelta(terms, unit="D"))


def first_letter_days(ladder_days: dict) -> int:
    """Days past due at which the policy's collections ladder sends its first letter (after the reminder):
    a payment later than that is late, not just slow."""
    steps = [int(v) for v in ladder_days.values() if int(v) > 0]
    return min(steps) if steps else 0


def lapping_traces(data, cases: pd.DataFrame, invoices: pd.DataFrame, hand_in_days: int,
                   default_terms_days: int, drawer_late_days: int, amount_tolerance: float = 1.0
                   ) -> dict[tuple[str, str], dict]:
    """(receipt_id, drawer_customer) -> the traces of lapping a payment drawn on another customer's account
    shows.

    ``cases``: receipt_id, customer_id (the payee), drawer_customer, receipt_date, amount, salesperson_id
    (who collected it), late_working_days (receipt to posting). ``invoices``: invoice_id, customer_id,
    invoice_date, due_date, amount (posted invoices). Traces (``LAPPING_WEIGHTS``):

    - ``drawer_paid_late``: an invoice of the drawer, open on the cheque's date and due around it
      (``DRAWER_DUE_WINDOW_DAYS``), was then paid more than ``drawer_late_days`` after its due date or not
      at all (the drawer's money went elsewhere), with no more left unpaid then than the cheque's amount
      (a diverted cheque leaves a hole of at most its amount; a larger one is the drawer's own shortfall); ``drawer_invoice_of_the_cheques_amount`` when such an invoice carries the
      cheque's amount (the cheque was meant for it);
    - ``posted_late``: the receipt was booked more than ``hand_in_days`` working days after its date;
    - ``one_collector``: the salesperson who collected it collects the drawer's own payments (or looks
      after the drawer, when the drawer's receipts do not say who collected them);
    - ``payees_overdue_invoices``: it was applied to invoices of the payee already past due on its date.

    Each value holds ``traces`` (name -> weight) and ``facts`` (the records behind them).
    """
    out: dict[tuple[str, str], dict] = {}
    if cases.empty:
        return out
    customers = data.frame("customers") if data.has("customers") else pd.DataFrame(columns=["customer_id"])
    drawers = set(cases["drawer_customer"])
    # Only what the cases read, asked of the engine: the drawers' invoices and their payments, the cases'
    # own receipts' allocations (reading and grouping every receipt and invoice took seconds at 1M lines).
    allocated_ids = _allocations_of(data, sorted(set(cases["receipt_id"])))
    invoices = invoices[invoices["customer_id"].isin(drawers) | invoices["invoice_id"].isin(
        set(allocated_ids["invoice_id"]))].copy()
    invoices["due"] = _due_dates(invoices, customers, default_terms_days)
    drawer_invoices = invoices[invoices["customer_id"].isin(drawers)]
    paid = _payments_of(data, sorted(set(drawer_invoices["invoice_id"])))
    paid = paid.merge(invoices[["invoice_id"]], on="invoice_id")
    receipts = data.table("receipts")
    collectors = {}
    if "collected_by" in receipts.columns:
        known = data.execute(receipts.filter(among(receipts.customer_id, sorted(drawers))
                                             & receipts.collected_by.notnull()).select("customer_id", "collected_by"))
        collectors = {c: set(g["collected_by"].astype(str)) for c, g in known.groupby("customer_id")}
    assigned = {}
    if "assigned_salesperson_id" in customers.columns:
        assigned = dict(zip(customers["customer_id"], customers["assigned_salesperson_id"], strict=True))
    end = pd.Timestamp(data.execute(receipts.receipt_date.max()))
    # Each drawer's invoices and each invoice's payments as arrays, read once: a case compares its date
    # with them (pandas filters per case and invoice cost milliseconds each).
    invoices_of = {c: _DrawerInvoices(g) for c, g in drawer_invoices.groupby("customer_id")}
    paid_of = {i: _Payments(g) for i, g in paid.groupby("invoice_id")}
    allocated = {r: g for r, g in allocated_ids.groupby("receipt_id")}
    due_of = dict(zip(invoices["invoice_id"], invoices["due"], strict=True))
    customer_of = dict(zip(invoices["invoice_id"], invoices["customer_id"], strict=True))
    w = LAPPING_WEIGHTS
    before_days, after_days = DRAWER_DUE_WINDOW_DAYS
    for case in cases.itertuples(index=False):
        traces, facts = {}, {}
        when = pd.Timestamp(case.receipt_date)
        late_invoices = []
        own = invoices_of.get(case.drawer_customer)
        chosen_invoices = [] if own is None else own.around(when, pd.Timedelta(days=before_days),
                                                            pd.Timedelta(days=after_days))
        for inv in chosen_invoices:
            payments = paid_of.get(inv.invoice_id)
            before = 0.0 if payments is None else payments.paid_by(when)
            if inv.amount - before <= amount_tolerance:
                continue  # paid by the cheque's date
            settled = None if payments is None else payments.settled(inv.amount - amount_tolerance)
            late_from = inv.due + pd.Timedelta(days=drawer_late_days)
            if (settled is not None and settled > late_from) or (settled is None and end > late_from):
                # The hole a diverted cheque leaves is at most its amount: an invoice left open by more than
                # the cheque could have paid when it became late is the drawer's own shortfall, not this cheque's.
                paid_by_then = 0.0 if payments is None else payments.paid_by(late_from)
                if inv.amount - paid_by_then > case.amount + amount_tolerance:
                    continue
                late_invoices.append({"invoice_id": inv.invoice_id, "due_date": inv.due, "paid_on": settled,
                                      "open_on_cheque_date": round(inv.amount - before, 2)})
        if late_invoices:
            traces["drawer_paid_late"] = w["drawer_paid_late"]
            facts["drawer_late_invoices"] = late_invoices[:5]
            if any(abs(i["open_on_cheque_date"] - case.amount) <= amount_tolerance for i in late_invoices):
                traces["drawer_invoice_of_the_cheques_amount"] = w["drawer_invoice_of_the_cheques_amount"]
        late = case.late_working_days
        if pd.notna(late) and late > hand_in_days:
            traces["posted_late"] = w["posted_late"]
            facts["late_working_days"] = int(late)
        collector = case.salesperson_id
        drawer_collectors = collectors.get(case.drawer_customer) or (
            {str(assigned[case.drawer_customer])} if pd.notna(assigned.get(case.drawer_customer)) else set())
        if isinstance(collector, str) and collector in drawer_collectors:
            traces["one_collector"] = w["one_collector"]
            facts["collector"] = collector
        chosen = allocated.get(case.receipt_id)
        overdue = [] if chosen is None else [
            i for i in chosen["invoice_id"] if customer_of.get(i) not in (None, case.drawer_customer)
            and pd.notna(due_of.get(i)) and due_of[i] < when]
        if overdue:
            traces["payees_overdue_invoices"] = w["payees_overdue_invoices"]
            facts["payees_overdue_invoices"] = overdue[:5]
        out[(case.receipt_id, case.drawer_customer)] = {"traces": traces, "facts": facts}
    return out


class _DrawerInvoices:
    """A drawer's invoices (rows of ``lapping_traces``' invoices, in their order) and their dates as arrays."""

    def __init__(self, frame: pd.DataFrame):
        self.rows = list(frame.itertuples(index=False))
        self.invoice_date = _datetimes(frame["invoice_date"])
        self.due = _datetimes(frame["due"])

    def around(self, when: pd.Timestamp, before: pd.Timedelta, after: pd.Timedelta) -> list:
        """The invoices dated by ``when`` and due from ``before`` it to ``after`` it (what pandas' comparisons
        keep: a missing date is never inside)."""
        moment = _datetime(when)
        inside = (self.invoice_date <= moment) & (self.due >= _datetime(when - before)) & (
            self.due <= _datetime(when + after))
        return [self.rows[i] for i in np.flatnonzero(inside)]


class _Payments:
    """One invoice's payments (amount, receipt_date): paid by a day, and the day they covered an amount."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame
        self.receipt_date = _datetimes(frame["receipt_date"])
        self.amount = frame["amount"].to_numpy(dtype=float)
        self._settled: dict[float, object] = {}

    def paid_by(self, when: pd.Timestamp) -> float:
        chosen = self.amount[self.receipt_date <= _datetime(when)]
        return float(np.where(np.isnan(chosen), 0.0, chosen).sum())  # pandas' sum: missing amounts count 0

    def settled(self, amount: float):
        """The first receipt date by which the payments, in date order, add up to ``amount`` (None if never);
        the same for every case that reads this invoice, so worked out once."""
        if amount not in self._settled:
            running = self.frame.sort_values("receipt_date")
            covered = running["amount"].cumsum() >= amount
            self._settled[amount] = running.loc[covered, "receipt_date"].min() if covered.any() else None
        return self._settled[amount]


def _datetimes(values: pd.Series) -> np.ndarray:
    """Dates as numpy microseconds (the engine's resolution; nanoseconds end in 2262, a due date may not)."""
    return pd.to_datetime(values).to_numpy(dtype="datetime64[us]")


def _datetime(value: pd.Timestamp) -> np.datetime64:
    return np.datetime64(pd.Timestamp(value).as_unit("us").asm8) if pd.notna(value) else np.datetime64("NaT", "us")


def _allocations_of(data, receipt_ids: list) -> pd.DataFrame:
    """receipt_id, invoice_id of the allocations of some receipts (receipt and invoice order)."""
    if not receipt_ids or not data.has("receipt_allocations"):
        return pd.DataFrame({"receipt_id": pd.Series(dtype="object"), "invoice_id": pd.Series(dtype="object")})
    allocations = data.table("receipt_allocations")
    return data.execute(allocations.filter(among(allocations.receipt_id, receipt_ids))
                        .select("receipt_id", "invoice_id").order_by(["receipt_id", "invoice_id"]))


def _payments_of(data, invoice_ids: list) -> pd.DataFrame:
    """invoice_id, amount, receipt_date of what settled some invoices: their allocations (receipt and invoice
    order), then the credit notes on them dated as ``receipt_date``. An allocation settles its money plus the
    cash discount granted on it, and a credit note (a return, a price adjustment) its amount: the ledger's
    definition, so an invoice paid early at its discount or partly returned is paid, not left open."""
    if not invoice_ids or not data.has("receipt_allocations"):
        return pd.DataFrame({"invoice_id": pd.Series(dtype="object"), "amount": pd.Series(dtype="float64"),
                             "receipt_date": pd.Series(dtype="datetime64[ns]")})
    allocations = data.table("receipt_allocations")
    receipts = data.table("receipts").select("receipt_id", "receipt_date")
    settled = allocations.amount
    if data.has("receipt_allocations", ("cash_discount_amount",)):
        settled = settled + allocations.cash_discount_amount.fill_null(0)
    chosen = allocations.filter(among(allocations.invoice_id, invoice_ids)).mutate(settled=settled).join(
        receipts, "receipt_id")
    paid = data.execute(chosen.select("receipt_id", "invoice_id", "settled", "receipt_date")
                        .order_by(["receipt_id", "invoice_id"]))
    paid = paid.rename(columns={"settled": "amount"})[["invoice_id", "amount", "receipt_date"]]
    if data.has("credit_notes", ("invoice_id", "credit_date", "amount")):
        # a return or price adjustment on the invoice settles that much of it on its date, as a payment does
        notes = data.table("credit_notes")
        credited = data.execute(notes.filter(among(notes.invoice_id, invoice_ids))
                                .select("credit_note_id", "invoice_id", "amount", receipt_date=notes.credit_date)
                                .order_by(["credit_note_id"]))[["invoice_id", "amount", "receipt_date"]]
        credited["receipt_date"] = pd.to_datetime(credited["receipt_date"])
        paid = pd.concat([paid, credited], ignore_index=True) if len(credited) else paid
    return paid


def _once_per_run(data, name: str, compute):
    """What CUS-02 and PAY-01 both ask of the engine for the same cheques, computed once per run where the data
    keeps such facts (``AuditData.shared_fact``); each caller gets its own copy."""
    keep = getattr(data, "shared_fact", None)
    return compute() if keep is None else keep(f"{__name__}.{name}", compute)


def case_invoices(data, cases: pd.DataFrame) -> pd.DataFrame:
    """The posted invoices ``lapping_traces`` reads for ``cases``: the drawers' own and those the cases'
    receipts paid (invoice_id, customer_id, invoice_date, due_date, amount), from the engine."""
    key = repr((sorted(map(str, set(cases["drawer_customer"]))), sorted(map(str, set(cases["receipt_id"])))))
    return _once_per_run(data, f"case_invoices {key}", lambda: _case_invoices(data, cases))


def _case_invoices(data, cases: pd.DataFrame) -> pd.DataFrame:
    # The invoices are chosen before their lines are summed (as invoice_amounts sums them): summing every
    # line of the ledger for a few hundred invoices took most of this query at a million lines.
    invoices = posted_invoices(data)
    wanted = among(invoices.customer_id, sorted(set(cases["drawer_customer"])))
    if data.has("receipt_allocations") and len(cases):
        allocations = data.table("receipt_allocations")
        paid = allocations.filter(among(allocations.receipt_id, sorted(set(cases["receipt_id"]))))
        wanted = wanted | invoices.invoice_id.isin(paid.invoice_id)
    chosen = invoices.filter(wanted)
    lines = data.table("invoice_lines")
    lines = lines.filter(lines.invoice_id.isin(chosen.invoice_id))
    totals = lines.group_by("invoice_id").aggregate(amount=line_net(lines).sum())
    joined = chosen.join(totals, "invoice_id")
    return data.execute(joined.select(chosen.invoice_id, chosen.customer_id, chosen.invoice_date, chosen.due_date,
                                      totals.amount).order_by("invoice_id"))


def cheque_cases(data, drawn: pd.DataFrame) -> pd.DataFrame:
    """The receipts paid with the cheques in ``drawn`` (cheque_id, drawer_customer), as ``lapping_traces``
    reads them: receipt_id, customer_id, drawer_customer, receipt_date, amount, salesperson_id,
    late_working_days, drawer_share (the share of the payee's receipts, by amount, paid with cheques
    drawn on this drawer: ``others_cheques_trace``) and cheque_id."""
    pairs = sorted({(str(q), str(d)) for q, d in zip(drawn["cheque_id"], drawn["drawer_customer"], strict=True)}) \
        if len(drawn) else []
    return _once_per_run(data, f"cheque_cases {pairs!r}", lambda: _cheque_cases(data, drawn))


def _cheque_cases(data, drawn: pd.DataFrame) -> pd.DataFrame:
    columns = ["receipt_id", "customer_id", "drawer_customer", "receipt_date", "amount", "salesperson_id",
               "late_working_days"]
    if drawn.empty or not data.has("receipts", ("cheque_id",)):
        return pd.DataFrame(columns=[*columns, "drawer_share", "cheque_id"])
    table = data.table("receipts")
    # only the receipts of these cheques, and then their payees' receipts for the shares, from the engine
    receipts = data.execute(table.filter(among(table.cheque_id, sorted(set(drawn["cheque_id"].dropna()))))
                            .order_by("receipt_id"))
    chosen = receipts.merge(drawn[["cheque_id", "drawer_customer"]].drop_duplicates(), on="cheque_id")
    if chosen.empty:
        return pd.DataFrame(columns=[*columns, "drawer_share", "cheque_id"])
    collector = chosen["collected_by"] if "collected_by" in chosen.columns else pd.Series(None, index=chosen.index)
    if data.has("cheques", ("collected_by",)):
        cheques = data.table("cheques")
        cheques = data.execute(cheques.filter(among(cheques.cheque_id, sorted(set(chosen["cheque_id"]))))
                               .select("cheque_id", "collected_by")).set_index("cheque_id")["collected_by"]
        collector = collector.where(collector.notna(), chosen["cheque_id"].map(cheques))
    chosen = chosen.assign(salesperson_id=collector.astype("object"),
                           late_working_days=data.calendar.working_days_between(chosen["receipt_date"],
                                                                                chosen["posted_date"]))
    # the share of the payee's receipts (by amount) paid with cheques drawn on this drawer
    payees = data.execute(table.filter(among(table.customer_id, sorted(set(chosen["customer_id"].dropna()))))
                          .select("receipt_id", "customer_id", "amount").order_by("receipt_id"))
    totals = payees.groupby("customer_id")["amount"].sum()
    drawn_amount = chosen.groupby(["customer_id", "drawer_customer"])["amount"].transform("sum")
    chosen["drawer_share"] = (drawn_amount / chosen["customer_id"].map(totals)).astype(float)
    return chosen[[*columns, "drawer_share", "cheque_id"]].sort_values(["receipt_id", "drawer_customer"],
                                                                      ignore_index=True)
