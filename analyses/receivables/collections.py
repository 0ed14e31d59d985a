"""RCV-02: the collections ladder: which step is due for each overdue invoice (view ``collections_actions``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analyses.receivables.open_items import customer_master, ledger_end_date, load_ledger, open_items
from audit.analysis import Analysis
from audit.membership import isin
from audit.policy import DEFAULTS


def ladder_steps(ladder: dict[str, int]) -> list[tuple[str, int]]:
    """The policy's steps ordered by their days overdue (ties keep the policy's order)."""
    return sorted(((str(name), int(days)) for name, days in ladder.items()), key=lambda step: step[1])


def stop_supply_step(steps: list[tuple[str, int]]) -> tuple[str, int] | None:
    """The first step whose name says supply stops (``letter_2_stop_supply`` in the contract's ladder)."""
    for name, days in steps:
        if "stop" in name:
            return name, days
    return None


def ladder_actions(items: pd.DataFrame, ladder: dict[str, int], as_of) -> pd.DataFrame:
    """For each open invoice at least the first step's days past due on ``as_of``: the step due now,
    since when, the next step and its date, and whether supply should be stopped.

    A step is due once the invoice is that many days past its due date (``days_past_due >= days``; the
    reminder at 0 days is due on the due date itself). Sorted by step (latest first), then amount.
    """
    columns = ["invoice_id", "invoice_no", "customer_id", "salesperson_id", "invoice_date", "due_date",
               "open_amount", "days_past_due", "step_due", "step_number", "step_due_since", "next_step",
               "next_step_date", "stop_supply"]
    steps = ladder_steps(ladder)
    if not steps:
        return pd.DataFrame(columns=columns)
    invoices = items[(items["kind"] == "invoice") & (items["open_amount"] > 0)
                     & (items["days_past_due"] >= steps[0][1])].copy()
    if invoices.empty:
        return pd.DataFrame(columns=columns)
    thresholds = np.array([days for _, days in steps], dtype=float)
    names = np.array([name for name, _ in steps], dtype=object)
    position = np.searchsorted(thresholds, invoices["days_past_due"].to_numpy(dtype=float), side="right") - 1
    invoices["step_due"] = names[position]
    invoices["step_number"] = position + 1
    invoices["step_due_since"] = invoices["due_date"] + pd.to_timedelta(thresholds[position], unit="D")
    has_next = position + 1 < len(steps)
    following = np.minimum(position + 1, len(steps) - 1)
    invoices["next_step"] = np.where(has_next, names[following], None)
    next_date = invoices["due_date"] + pd.to_timedelta(thresholds[following], unit="D")
    invoices["next_step_date"] = next_date.where(has_next)
    stop = stop_supply_step(steps)
    invoices["stop_supply"] = invoices["days_past_due"] >= stop[1] if stop else False
    invoices = invoices.rename(columns={"item_id": "invoice_id"})
    return invoices[columns].sort_values(["step_number", "open_amount", "invoice_id"],
                                         ascending=[False, False, True], kind="mergesort", ignore_index=True)


class CollectionsLadder(Analysis):
    """Which step of the policy's collections ladder is due for each overdue invoice (view ``collections_actions``).

    For every open invoice past its due date on the audit's end date (open items as in
    ``analyses.receivables.open_items``): days past due, the step of ``[collections] ladder_days`` due
    now (the highest step whose days it has reached: reminder at the due date, letters at 15/30/60/90
    days, stop supply from the stop-supply step, agency, legal), since when, the next step and its
    date, and the customer's name. ``supply_after_stop``: invoices issued to the same customer after the
    day supply should have stopped for this invoice (goods still sold on credit against the ladder), with
    ``invoiced_after_stop`` their amount; ``shipments_after_stop`` counts the shipments (when the data
    has them).
    """

    code = "RCV-02"
    outputs = ("collections_actions",)
    reads_analyses = ("RCV-00",)
    title = "Collections ladder"
    requires = {"invoices": ("invoice_id", "invoice_date", "customer_id"),
                "invoice_lines": ("invoice_id", "quantity", "unit_price")}

    def __init__(self, ladder_days: dict = DEFAULTS.collections.ladder_days):
        self.ladder_days = ladder_days  # kept as given: scikit-learn's clone compares parameters

    @classmethod
    def params_from_policy(cls, policy):
        return {"ladder_days": dict(policy.collections.ladder_days)}

    def compute(self, data) -> dict[str, pd.DataFrame]:
        as_of = ledger_end_date(data)
        if as_of is None:
            return {}
        ledger = load_ledger(data)
        ladder = dict(self.ladder_days)
        actions = ladder_actions(open_items(ledger, as_of), ladder, as_of)
        customers = customer_master(data).set_index("customer_id")
        actions.insert(3, "customer_name", actions["customer_id"].map(customers["name"]) if len(customers) else None)
        stop = stop_supply_step(ladder_steps(ladder))
        actions["supply_after_stop"] = 0
        actions["invoiced_after_stop"] = 0.0
        actions["shipments_after_stop"] = np.nan
        if stop is not None and len(actions):
            stop_day = actions["due_date"] + pd.Timedelta(days=stop[1])
            invoices = ledger.invoices[isin(ledger.invoices["customer_id"], set(actions["customer_id"]))]
            later = actions[["invoice_id", "customer_id"]].assign(stop_day=stop_day).merge(
                invoices[["customer_id", "invoice_date", "amount"]], on="customer_id")
            later = later[(later["invoice_date"] > later["stop_day"]) & (later["invoice_date"] <= as_of)]
            counts = later.groupby("invoice_id").agg(n=("amount", "size"), amount=("amount", "sum"))
            actions["supply_after_stop"] = actions["invoice_id"].map(counts["n"]).fillna(0).astype("int64")
            actions["invoiced_after_stop"] = actions["invoice_id"].map(counts["amount"]).fillna(0.0)
            if data.has("shipments", ("customer_id", "ship_date")):
                ships = data.frame_columns("shipments", ["customer_id", "ship_date"]).dropna().astype(
                    {"customer_id": "object"})
                shipped = actions[["invoice_id", "customer_id"]].assign(stop_day=stop_day).merge(ships, on="customer_id")
                shipped = shipped[(shipped["ship_date"] > shipped["stop_day"]) & (shipped["ship_date"] <= as_of)]
                actions["shipments_after_stop"] = actions["invoice_id"].map(
                    shipped.groupby("invoice_id").size()).fillna(0).astype("int64")
            actions.loc[~actions["stop_supply"], ["supply_after_stop", "invoiced_after_stop"]] = 0
            if actions["shipments_after_stop"].notna().any():
                actions.loc[~actions["stop_supply"], "shipments_after_stop"] = 0
        actions.insert(0, "as_of", pd.Timestamp(as_of))
        return {"collections_actions": actions}
