"""The records behind a flagged entity-month, so a finding's ``related`` lists what the auditor opens.

Only the flagged (key, month) pairs are looked up, one query per kind of record, after the ensemble has
chosen them. Each record kind is ordered by how much it carries the driver it supports (the most
discounted invoices first for a discount rate, the longest-held cheques first for holding time).
"""

from __future__ import annotations

import ibis
import pandas as pd

from analyses.anomaly.priced_invoices import PRICED_INVOICES_VIEW, invoice_totals, shared_invoice_totals
from audit.ledger import posted_invoices
from audit.membership import among
from detectors.anomaly.features import _attributed, _days, _month_key

PER_KIND = 10

# feature -> (record kind, the measure that orders the records)
FEATURE_RECORDS = {
    "discount_rate": ("invoice", "discount"),
    "price_deviation": ("invoice", "deviation_abs"),
    "new_customer_share": ("invoice", "new_net"),
    "sales_vs_median": ("invoice", "net"),
    "n_salespeople": ("invoice", "net"),
    "credit_share": ("credit_note", "amount"),
    "cheque_hold_days": ("cheque", "held_days"),
    "cheque_maturity_days": ("cheque", "maturity"),
    "cash_share": ("receipt", "cash"),
    "posting_delay": ("receipt", "delay"),
    "payment_lateness": ("receipt", "late"),
    "visit_compliance": ("visit", "missed"),
}


def _pairs_filter(table: ibis.Table, pairs: pd.DataFrame) -> ibis.Table:
    keys = sorted(pairs["key"].astype(str).unique())
    months = sorted(int(m) for m in pairs["ym"].unique())
    return table.filter(among(table.key, keys) & among(table.ym, months))


def _exact(frame: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    wanted = pairs[["key", "ym"]].astype({"key": str, "ym": "int64"}).drop_duplicates()
    frame = frame.astype({"key": str, "ym": "int64"})
    return frame.merge(wanted, on=["key", "ym"])


def month_records(data, by: str, pairs: pd.DataFrame, kinds: set[str], volume_tiers=(),
                  new_customer_days: int = 90) -> pd.DataFrame:
    """Records of the flagged (key, ym) ``pairs``: columns key, ym, kind, record_id, measure name, value,
    customer_id and salesperson_id (where the record has them)."""
    parts = []
    if "invoice" in kinds:
        keys, months = sorted(pairs["key"].astype(str).unique()), sorted(int(m) for m in pairs["ym"].unique())
        if PRICED_INVOICES_VIEW in data.views:  # priced once for the run (ANO-00): only its rows are chosen
            invoices = shared_invoice_totals(data, volume_tiers)
            invoices = invoices.filter(among(invoices[by], keys) & among(_month_key(invoices.invoice_date), months))
        else:  # only the flagged keys' invoices of the flagged months are priced (not every line of the ledger)
            posted = posted_invoices(data)
            posted = posted.filter(among(posted[by], keys) & among(_month_key(posted.invoice_date), months))
            invoices = invoice_totals(data, volume_tiers, posted)
        invoices = invoices.mutate(key=invoices[by], ym=_month_key(invoices.invoice_date))
        if data.has("customers", ("created_date",)):
            created = data.table("customers").select(c_id="customer_id", created_date="created_date")
            invoices = invoices.left_join(created, invoices.customer_id == created.c_id).drop("c_id")
            age = _days(invoices.invoice_date, invoices.created_date)
            new_net = (invoices.created_date.notnull() & (age >= 0) & (age <= new_customer_days)).ifelse(
                invoices.net, 0.0)
        else:
            new_net = ibis.literal(0.0)
        frame = data.execute(invoices.mutate(new_net=new_net).select(
            "key", "ym", "invoice_id", "customer_id", "salesperson_id", "invoice_date", "gross", "net",
            "excess_discount", "deviation_abs", "new_net"))
        frame = _exact(frame, pairs)
        frame["discount"] = frame["excess_discount"]
        for measure in ("discount", "deviation_abs", "new_net", "net"):
            parts.append(frame.assign(kind="invoice", record_id=frame["invoice_id"], measure=measure,
                                      value=frame[measure].astype(float)))
    if "credit_note" in kinds and data.has("credit_notes", ("customer_id", "credit_date", "amount")):
        notes = data.table("credit_notes")
        if by == "salesperson_id":
            sellers = data.table("invoices").select(n_invoice_id="invoice_id", seller="salesperson_id")
            notes = notes.left_join(sellers, notes.invoice_id == sellers.n_invoice_id).drop("n_invoice_id")
            notes = _attributed(data, notes, by, "seller")
        else:
            notes = notes.mutate(key=notes.customer_id)
        notes = _pairs_filter(notes.mutate(ym=_month_key(notes.credit_date)), pairs)
        frame = _exact(data.execute(notes.select("key", "ym", "credit_note_id", "customer_id", "amount")), pairs)
        parts.append(frame.assign(kind="credit_note", record_id=frame["credit_note_id"], measure="amount",
                                  value=frame["amount"].astype(float)))
    if "cheque" in kinds and data.has("cheques", ("customer_id", "amount", "due_date", "received_date")):
        cheques = data.table("cheques")
        collector = "collected_by" if data.has("cheques", ("collected_by",)) else None
        cheques = _attributed(data, cheques, by, collector)
        cheques = _pairs_filter(cheques.mutate(ym=_month_key(cheques.received_date)), pairs)
        cheques = cheques.mutate(maturity=_days(cheques.due_date, cheques.received_date),
                                 held_days=_days(cheques.handed_in_date, cheques.received_date)
                                 if data.has("cheques", ("handed_in_date",)) else ibis.null("int64"))
        frame = _exact(data.execute(cheques.select("key", "ym", "cheque_id", "customer_id", "maturity",
                                                   "held_days")), pairs)
        for measure in ("maturity", "held_days"):
            parts.append(frame.assign(kind="cheque", record_id=frame["cheque_id"], measure=measure,
                                      value=pd.to_numeric(frame[measure], errors="coerce").astype(float)))
    if "receipt" in kinds and data.has("receipts", ("customer_id", "receipt_date", "amount")):
        receipts = data.table("receipts")
        collector = "collected_by" if data.has("receipts", ("collected_by",)) else None
        receipts = _attributed(data, receipts, by, collector)
        receipts = _pairs_filter(receipts.mutate(ym=_month_key(receipts.receipt_date)), pairs)
        receipts = receipts.mutate(
            cash=(receipts.method == "cash").ifelse(receipts.amount, 0.0),
            delay=_days(receipts.posted_date, receipts.receipt_date) if data.has("receipts", ("posted_date",))
            else ibis.null("int64"))
        frame = _exact(data.execute(receipts.select("key", "ym", "receipt_id", "customer_id", "cash", "delay",
                                                    "amount")), pairs)
        for measure in ("cash", "delay"):
            parts.append(frame.assign(kind="receipt", record_id=frame["receipt_id"], measure=measure,
                                      value=pd.to_numeric(frame[measure], errors="coerce").astype(float)))
        parts.append(frame.assign(kind="receipt", record_id=frame["receipt_id"], measure="late",
                                  value=frame["amount"].astype(float)))
    if "visit" in kinds and by == "salesperson_id" and data.has("visits", ("salesperson_id", "planned_date")):
        visits = data.table("visits")
        visits = visits.mutate(key=visits.salesperson_id, ym=_month_key(visits.planned_date))
        visits = _pairs_filter(visits, pairs)
        frame = _exact(data.execute(visits.select("key", "ym", "visit_id", "customer_id", "status")), pairs)
        frame = frame[frame["status"].notna() & ~frame["status"].isin(["done", "cancelled"])]
        parts.append(frame.assign(kind="visit", record_id=frame["visit_id"], measure="missed", value=1.0))
    parts = [p for p in parts if len(p)]
    columns = ["key", "ym", "kind", "record_id", "measure", "value", "customer_id", "salesperson_id"]
    if not parts:
        return pd.DataFrame(columns=columns)
    records = pd.concat([p.reindex(columns=columns) for p in parts], ignore_index=True)
    return records.sort_values(["key", "ym", "kind", "measure", "value", "record_id"],
                               ascending=[True, True, True, True, False, True], ignore_index=True)


def records_by_pair(records: pd.DataFrame) -> dict[tuple[str, int], pd.DataFrame]:
    """The records of each (key, ym), in their order: each flagged pair's found once instead of the whole frame
    filtered again for every finding."""
    if records.empty:
        return {}
    pairs = [records["key"].astype(str), records["ym"].astype("int64")]
    return {(key, int(ym)): part for (key, ym), part in records.groupby(pairs, sort=False)}


def pair_records(records: pd.DataFrame, by_pair: dict, key: str, ym: int) -> pd.DataFrame:
    """The records of one (key, ym) (``by_pair``: ``records_by_pair(records)``)."""
    return by_pair.get((str(key), int(ym)), records.iloc[:0])


def related_for(records: pd.DataFrame, key: str, ym: int, drivers: list[dict],
                by_pair: dict | None = None) -> list[tuple[str, list[str]]]:
    """(entity_type, ids) groups for one flagged key-month: the records of each driver, strongest first
    (``by_pair``: ``records_by_pair(records)``, if the caller has it)."""
    if by_pair is not None:
        mine = pair_records(records, by_pair, key, ym)
    else:
        mine = records[(records["key"].astype(str) == str(key)) & (records["ym"].astype("int64") == int(ym))]
    groups = []
    for driver in drivers:
        kind, measure = FEATURE_RECORDS.get(driver["feature"], ("invoice", "net"))
        chosen = mine[(mine["kind"] == kind) & (mine["measure"] == measure) & (mine["value"] > 0)]
        groups.append((kind, chosen["record_id"].head(PER_KIND).tolist()))
    invoices = mine[(mine["kind"] == "invoice") & (mine["measure"] == "net")]
    groups.append(("invoice", invoices["record_id"].head(PER_KIND).tolist()))
    return groups


def names_of(data, table: str, id_column: str, ids) -> dict:
    """id -> name of the given ids only (empty where the table has no ``name``)."""
    if not data.has(table, (id_column, "name")):
        return {}
    rows = data.table(table)
    rows = rows.filter(among(rows[id_column], sorted({str(i) for i in ids})))
    found = data.execute(rows.select(id_column, "name"))
    return dict(zip(found[id_column], found["name"], strict=True))
