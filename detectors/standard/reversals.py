"""Which invoice each credit note reverses: named (``credit_notes.invoice_id``) or inferred.

Exports rarely carry the invoice a credit note reverses. A credit note without ``invoice_id`` (or naming
no posted invoice) is matched to the invoice it most likely reverses: a posted invoice of the same
customer, dated on or up to ``window_days`` before the credit note, whose amount the credit note's
amount equals within ``amount_tolerance_pct``; the latest such invoice (then the closest amount, then the
lowest id), each invoice taken by at most one inferred credit note. The match says it was inferred.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from audit.ledger import invoice_amounts
from audit.membership import among

REVERSAL_COLUMNS = ("credit_note_id", "invoice_id", "customer_id", "credit_date", "credit_amount", "invoice_date",
                    "invoice_amount", "days_after", "inferred")


def credit_note_reversals(data, window_days: int = 30, amount_tolerance_pct: float = 1.0) -> pd.DataFrame:
    """One row per credit note tied to an invoice: the invoice it names, else the one it most likely
    reverses (``inferred`` True). Credit notes matching nothing are left out."""
    empty = pd.DataFrame({c: pd.Series(dtype="object") for c in REVERSAL_COLUMNS})
    if not (data.has("credit_notes", ("credit_note_id", "credit_date", "customer_id", "amount"))
            and data.has("invoices", ("invoice_id", "invoice_date", "customer_id"))
            and data.has("invoice_lines", ("invoice_id", "quantity", "unit_price"))):
        return empty
    notes = data.frame("credit_notes")
    notes = pd.DataFrame({
        "credit_note_id": notes["credit_note_id"].astype("object"),
        "customer_id": notes["customer_id"].astype("object"),
        "credit_date": pd.to_datetime(notes["credit_date"]),
        "credit_amount": pd.to_numeric(notes["amount"], errors="coerce").astype("float64"),
        "named": notes["invoice_id"].astype("object") if data.has("credit_notes", ("invoice_id",)) else None,
    }).dropna(subset=["credit_note_id", "customer_id", "credit_date", "credit_amount"])
    if notes.empty:
        return empty
    # Only the invoices a credit note can reach (the engine picks them; the whole ledger's invoices were
    # 3 million rows at 10 million lines): those named, then the invoices of the customers whose credit
    # notes name no posted invoice (most exports name them all: that second query is then not run).
    amounts = invoice_amounts(data)

    def reachable(condition) -> pd.DataFrame:
        found = data.execute(amounts.filter(condition).select("invoice_id", "customer_id", "invoice_date", "amount"))
        found["invoice_date"] = pd.to_datetime(found["invoice_date"])
        return found.rename(columns={"amount": "invoice_amount"})

    named_ids = sorted(set(notes["named"].dropna()))
    invoices = reachable(among(amounts.invoice_id, named_ids)) if named_ids else None
    by_id = invoices.set_index("invoice_id") if invoices is not None else pd.DataFrame(
        columns=["customer_id", "invoice_date", "invoice_amount"], index=pd.Index([], name="invoice_id"))
    loose = notes[~notes["named"].isin(by_id.index)]
    if len(loose):
        invoices = reachable(among(amounts.customer_id, sorted(set(loose["customer_id"]))))
    named_notes = notes[notes["named"].isin(by_id.index)]
    named_invoices = by_id.loc[named_notes["named"], ["invoice_date", "invoice_amount"]]
    named = pd.DataFrame({
        "credit_note_id": named_notes["credit_note_id"].to_numpy(), "invoice_id": named_notes["named"].to_numpy(),
        "customer_id": named_notes["customer_id"].to_numpy(), "credit_date": named_notes["credit_date"].to_numpy(),
        "credit_amount": named_notes["credit_amount"].to_numpy(),
        "invoice_date": named_invoices["invoice_date"].to_numpy(),
        "invoice_amount": named_invoices["invoice_amount"].to_numpy(), "inferred": False,
    })
    rows = []  # the inferred matches
    loose = loose.sort_values(["credit_date", "credit_note_id"], kind="mergesort")
    if len(loose):
        taken = set(named["invoice_id"])
        tolerance = amount_tolerance_pct / 100.0
        window = pd.Timedelta(days=window_days)
        candidates = invoices[invoices["customer_id"].isin(set(loose["customer_id"]))]
        of_customer = {c: g.sort_values(["invoice_date", "invoice_id"], kind="mergesort")
                       for c, g in candidates.groupby("customer_id", sort=False)}
        for note in loose.itertuples(index=False):
            pool = of_customer.get(note.customer_id)
            if pool is None:
                continue
            near = pool[(pool["invoice_date"] <= note.credit_date) & (pool["invoice_date"] >= note.credit_date - window)
                        & ((pool["invoice_amount"] - note.credit_amount).abs()
                           <= np.maximum(pool["invoice_amount"].abs(), note.credit_amount) * tolerance)
                        & ~pool["invoice_id"].isin(taken)]
            if near.empty:
                continue
            near = near.assign(gap=(near["invoice_amount"] - note.credit_amount).abs())
            best = near.sort_values(["invoice_date", "gap", "invoice_id"], ascending=[False, True, True],
                                    kind="mergesort").iloc[0]
            taken.add(best["invoice_id"])
            rows.append({"credit_note_id": note.credit_note_id, "invoice_id": best["invoice_id"],
                         "customer_id": note.customer_id, "credit_date": note.credit_date,
                         "credit_amount": note.credit_amount, "invoice_date": best["invoice_date"],
                         "invoice_amount": best["invoice_amount"], "inferred": True})
    if rows:  # as one frame of records, as the named ones alone are (the same columns and types)
        out = pd.DataFrame(named.to_dict("records") + rows)
    elif len(named):
        out = named
    else:
        return empty
    out["days_after"] = (out["credit_date"] - out["invoice_date"]).dt.days
    return out[list(REVERSAL_COLUMNS)].sort_values(["invoice_id", "credit_note_id"], kind="mergesort",
                                                   ignore_index=True)
