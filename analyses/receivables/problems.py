"""RCV-05: problem receivables: disputed, dormant with an open balance, terms not kept (view ``problem_receivables``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analyses.receivables.collections import ladder_steps
from analyses.receivables.open_items import customer_master, ledger_end_date, load_ledger, open_items
from audit.analysis import Analysis
from audit.common import day, money
from audit.ledger import confirmation_gaps
from audit.membership import isin

COLUMNS = ["as_of", "customer_id", "name", "salesperson_id", "problem", "amount", "open_balance", "since", "detail"]


def first_letter_days(ladder: dict[str, int]) -> int:
    """Days past due of the first ladder step after the reminder: the tolerance for 'terms not kept'
    (0 when the ladder has no later step: any delay breaks the terms)."""
    later = [days for _, days in ladder_steps(ladder) if days > 0]
    return later[0] if later else 0


class ProblemReceivables(Analysis):
    """Problem receivables per customer on the audit's end date (view ``problem_receivables``).

    One row per customer and problem, with the amount concerned, the customer's open balance, since
    when, and the details in words:

    - ``disputed``: the customer's latest balance confirmation is below the ledger on that day by more
      than ``dispute_tolerance_share`` of the ledger (amount: the difference), or a complaint was
      recorded in the last ``recent_days`` while money is owed (amount: the complaint's amount if given);
    - ``no_shipments_open_balance``: no goods taken (shipments; without them, invoices) for at least
      ``quiet_days`` (the source's three months) while the balance is open (amount: the open balance);
    - ``terms_not_kept``: open invoices more than ``tolerance_days`` past due (the ladder's first letter)
      (amount: those invoices' open amounts), with the invoices paid that late in the last ``recent_days``;
    - ``bounced_cheques``: cheques bounced or returned and not replaced (amount: the cheques);
    - ``broken_promises``: promises to pay broken in the last year (amount: the promised sums).
    """

    code = "RCV-05"
    outputs = ("problem_receivables",)
    reads_analyses = ("RCV-00",)
    title = "Problem receivables"
    requires = {"invoices": ("invoice_id", "invoice_date", "customer_id"),
                "invoice_lines": ("invoice_id", "quantity", "unit_price")}

    def __init__(self, quiet_days: int = 90, tolerance_days: int = 15, recent_days: int = 90,
                 memory_days: int = 365, dispute_tolerance_share: float = 0.005):
        self.quiet_days = quiet_days
        self.tolerance_days = tolerance_days
        self.recent_days = recent_days
        self.memory_days = memory_days
        self.dispute_tolerance_share = dispute_tolerance_share

    @classmethod
    def params_from_policy(cls, policy):
        return {"tolerance_days": first_letter_days(dict(policy.collections.ladder_days))}

    def compute(self, data) -> dict[str, pd.DataFrame]:
        as_of = ledger_end_date(data)
        if as_of is None:
            return {}
        as_of = pd.Timestamp(as_of)
        ledger = load_ledger(data)
        items = open_items(ledger, as_of)
        balance = items.groupby("customer_id")["open_amount"].sum()
        owing = balance[balance > 0]
        rows: list[dict] = []
        rows += self._disputes(data, as_of, owing)
        rows += self._dormant(data, ledger, as_of, owing)
        rows += self._terms(ledger, items, as_of)
        rows += self._cheques(data, as_of)
        rows += self._promises(data, as_of)
        table = pd.DataFrame(rows, columns=[c for c in COLUMNS if c not in ("as_of", "name", "salesperson_id",
                                                                            "open_balance")])
        customers = customer_master(data).set_index("customer_id")
        table.insert(0, "as_of", as_of)
        table.insert(2, "name", table["customer_id"].map(customers["name"]) if len(customers) else None)
        table.insert(3, "salesperson_id",
                     table["customer_id"].map(customers["assigned_salesperson_id"]) if len(customers) else None)
        table.insert(6, "open_balance", table["customer_id"].map(balance).fillna(0.0))
        table = table[COLUMNS].sort_values(["problem", "amount", "customer_id"], ascending=[True, False, True],
                                           kind="mergesort", ignore_index=True)
        return {"problem_receivables": table}

    def _disputes(self, data, as_of, owing: pd.Series) -> list[dict]:
        rows = []
        gaps = confirmation_gaps(data)
        if len(gaps):
            gaps = gaps[pd.to_datetime(gaps["as_of_date"]) <= as_of].sort_values(["customer_id", "as_of_date"])
            latest = gaps.groupby("customer_id").tail(1)
            disputed = latest[latest["gap"] > self.dispute_tolerance_share * latest["ledger_balance"].abs()]
            for row in disputed.itertuples():
                rows.append({"customer_id": row.customer_id, "problem": "disputed", "amount": float(row.gap),
                             "since": pd.Timestamp(row.as_of_date),
                             "detail": f"the customer confirmed {money(row.confirmed_balance)} owed on "
                                       f"{day(row.as_of_date)}; the ledger shows {money(row.ledger_balance)}"})
        if data.has("customer_events", ("customer_id", "event_date", "event_type")):
            events = data.frame("customer_events")
            complaints = events[(events["event_type"].astype("object").str.strip().str.lower() == "complaint")
                                & (events["event_date"] <= as_of)
                                & (events["event_date"] > as_of - pd.Timedelta(days=self.recent_days))
                                & isin(events["customer_id"], set(owing.index))]
            for row in complaints.sort_values(["customer_id", "event_date"]).itertuples():
                amount = getattr(row, "amount", None)
                notes = getattr(row, "notes", None)
                rows.append({"customer_id": row.customer_id, "problem": "disputed",
                             "amount": float(amount) if pd.notna(amount) else float("nan"),
                             "since": pd.Timestamp(row.event_date),
                             "detail": f"complaint on {day(row.event_date)}"
                                       + (f": {notes}" if isinstance(notes, str) and notes else "")
                                       + f" while {money(owing[row.customer_id])} is owed"})
        return rows

    def _dormant(self, data, ledger, as_of, owing: pd.Series) -> list[dict]:
        if data.has("shipments", ("customer_id", "ship_date")):
            frame = data.frame_columns("shipments", ["customer_id", "ship_date"])
            last = frame[frame["ship_date"] <= as_of].groupby(frame["customer_id"].astype("object"))["ship_date"].max()
            what = "shipment"
        else:
            invoices = ledger.invoices[ledger.invoices["invoice_date"] <= as_of]
            last = invoices.groupby("customer_id")["invoice_date"].max()
            what = "invoice"
        rows = []
        # each owing customer's last day looked up at once, not one .get per customer (NaT when none)
        lasts = last.reindex(owing.index)  # a groupby's index: one row per customer
        for (customer_id, amount), when in zip(owing.items(), lasts.to_numpy(dtype="object"), strict=True):
            idle = (as_of - pd.Timestamp(when)).days if when is not None and pd.notna(when) else None
            if idle is None or idle >= self.quiet_days:
                rows.append({"customer_id": customer_id, "problem": "no_shipments_open_balance",
                             "amount": float(amount), "since": pd.Timestamp(when) if idle is not None else pd.NaT,
                             "detail": (f"last {what} on {day(when)}, {idle} days ago" if idle is not None
                                        else f"no {what} on record") + f", while {money(amount)} is open"})
        return rows

    def _terms(self, ledger, items: pd.DataFrame, as_of) -> list[dict]:
        late = items[(items["kind"] == "invoice") & (items["open_amount"] > 0)
                     & (items["days_past_due"] > self.tolerance_days)]
        recent = ((ledger.settlements["paid"] > 0) & (ledger.settlements["date"] <= as_of)
                  & (ledger.settlements["date"] > as_of - pd.Timedelta(days=self.recent_days))).to_numpy()
        payments = ledger.settlements[recent]
        keys = ledger.keys  # the ledger's integer codes of the invoice ids (worked out once per run)
        invoice_rows = np.bincount(keys.invoice, minlength=keys.n_invoice_codes)
        if (invoice_rows <= 1).all():  # ids unique
            # each payment's invoice looked up once for its due date and customer (not three maps), by its
            # code (not a hash table of every invoice's id text)
            row_of_code = np.full(keys.n_invoice_codes, -1, dtype="int64")
            row_of_code[keys.invoice] = np.arange(len(keys.invoice))
            at = row_of_code[keys.settlement_invoice[recent]]
            found = at >= 0
            due_of = pd.Series(ledger.invoices["due_date"].to_numpy()[at], index=payments.index).where(found)
            customer = pd.Series(ledger.invoices["customer_id"].to_numpy(dtype="object")[at],
                                 index=payments.index).where(found)
        else:
            invoices = ledger.invoices.set_index("invoice_id")
            due_of = payments["invoice_id"].map(invoices["due_date"])
            customer = payments["invoice_id"].map(invoices["customer_id"])
        paid = pd.DataFrame({"invoice_id": payments["invoice_id"], "customer_id": customer,
                             "late": (payments["date"] - due_of).dt.days > self.tolerance_days})
        paid_late_count = paid[paid["late"]].drop_duplicates("invoice_id")["customer_id"].value_counts()
        paid_count = paid.drop_duplicates("invoice_id")["customer_id"].value_counts()
        rows = []
        for customer_id, group in late.groupby("customer_id", sort=True):
            words = (f"{len(group)} open invoice(s) more than {self.tolerance_days} days past due (oldest "
                     f"{group['days_past_due'].max():.0f} days)")
            if customer_id in paid_count:
                words += (f"; {int(paid_late_count.get(customer_id, 0))} of the {int(paid_count[customer_id])} "
                          f"invoices paid in the last {self.recent_days} days were paid that late")
            rows.append({"customer_id": customer_id, "problem": "terms_not_kept",
                         "amount": float(group["open_amount"].sum()), "since": group["due_date"].min(),
                         "detail": words})
        return rows

    def _cheques(self, data, as_of) -> list[dict]:
        if not data.has("cheques", ("cheque_id", "customer_id", "amount", "status")):
            return []
        frame = data.frame_columns("cheques", ["cheque_id", "customer_id", "amount", "status", "due_date",
                                               "status_date", "replaces_cheque_id"])
        replaced = set(frame["replaces_cheque_id"].dropna()) if data.has("cheques", ("replaces_cheque_id",)) else set()
        when = frame["status_date"] if data.has("cheques", ("status_date",)) else frame["due_date"]
        bad = frame[frame["status"].isin(("bounced", "returned")) & ~frame["cheque_id"].isin(replaced)
                    & (pd.to_datetime(when).fillna(frame["due_date"]) <= as_of)]
        rows = []
        for customer_id, group in bad.groupby(bad["customer_id"].astype("object"), sort=True):
            rows.append({"customer_id": customer_id, "problem": "bounced_cheques", "amount": float(group["amount"].sum()),
                         "since": pd.to_datetime(group["due_date"]).min(),
                         "detail": f"{len(group)} cheque(s) bounced or returned and not replaced: "
                                   + ", ".join(sorted(group["cheque_id"].astype(str)))})
        return rows

    def _promises(self, data, as_of) -> list[dict]:
        if not data.has("customer_events", ("customer_id", "event_date", "event_type")):
            return []
        events = data.frame("customer_events")
        broken = events[(events["event_type"].astype("object").str.strip().str.lower() == "promise_broken")
                        & (events["event_date"] <= as_of)
                        & (events["event_date"] > as_of - pd.Timedelta(days=self.memory_days))]
        rows = []
        for customer_id, group in broken.groupby(broken["customer_id"].astype("object"), sort=True):
            amount = pd.to_numeric(group["amount"], errors="coerce").sum() if "amount" in group else float("nan")
            rows.append({"customer_id": customer_id, "problem": "broken_promises", "amount": float(amount),
                         "since": pd.Timestamp(group["event_date"].min()),
                         "detail": f"{len(group)} promise(s) to pay broken, the last on {day(group['event_date'].max())}"})
        return rows
