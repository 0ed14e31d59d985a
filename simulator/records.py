"""Customer records built on the finished ledger: credit limits, customer events, yearly financial
statements and external balance confirmations."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .arrays import isin_ints, order_by
from .context import SimContext
from .ids import salesperson_staff
from .pricing import CLASS_RETAIL
from .sales import POSTED, invoice_amounts
from .workdays import CONFIRMATION_DAYS, NULL, PERIOD_END_DAY, PERIOD_START_DAY, day_number
from .world import KIND_FICTITIOUS, KIND_GENUINE, ROLE_GROWING, ROLE_PLAIN

HONEST_EVENTS = (("complaint", 0.45, "complaint about a late delivery"),
                 ("promise_to_pay", 0.25, "promised to pay the open invoices at the end of the month"),
                 ("management_change", 0.07, "new shop manager introduced"),
                 ("competitor_brands_increase", 0.05, "stocking a competitor's new line"),
                 ("bank_change", 0.18, "customer moved its business account"))


def balance_movements(ctx: SimContext):
    """Every movement of customers' ledger balances: (customer, day, amount; + raises the balance)."""
    version = tuple((len(ctx.tables[t]), id(ctx.tables[t])) for t in
                    ("invoices", "invoice_lines", "credit_notes", "receipts", "receipt_allocations"))
    cached = ctx.cache.get("balance_movements")
    if cached is not None and cached[0] == version:
        return cached[1]
    inv = ctx.tables["invoices"]
    amount = invoice_amounts(ctx)
    posted = inv["status"].to_numpy() == POSTED
    cn = ctx.tables["credit_notes"]
    rec = ctx.tables["receipts"]
    alloc = ctx.tables["receipt_allocations"]
    inv_c = inv["customer_id"].to_numpy()
    a_inv = alloc["invoice_id"].to_numpy()
    posted_day = rec["posted_date"].to_numpy()[alloc["receipt_id"].to_numpy()]
    customer = np.concatenate([inv_c[posted], cn["customer_id"].to_numpy(), inv_c[a_inv]])
    day = np.concatenate([inv["invoice_date"].to_numpy()[posted], cn["credit_date"].to_numpy(), posted_day])
    delta = np.concatenate([amount[posted], -cn["amount"].to_numpy(),
                            -(alloc["amount"].to_numpy() + alloc["cash_discount_amount"].to_numpy())])
    ctx.cache["balance_movements"] = (version, (customer, day, delta))
    return customer, day, delta


def ledger_at(ctx: SimContext, as_of: int) -> np.ndarray:
    customer, day, delta = balance_movements(ctx)
    keep = day <= as_of
    return np.bincount(customer[keep], weights=delta[keep], minlength=ctx.world.n_customers)


def fill_distress_exposure(ctx: SimContext, trajectories) -> None:
    """The money at risk of a failing customer: its ledger balance on the default day."""
    if not trajectories:
        return
    customer, day, delta = balance_movements(ctx)
    failing = np.array([t.customer for t in trajectories])
    keep = isin_ints(customer, failing)
    customer, day, delta = customer[keep], day[keep], delta[keep]
    for t in trajectories:
        mine = (customer == t.customer) & (day <= t.default_day)
        ctx.labels[t.label_index].amount = round(float(delta[mine].sum()), 2)


def peak_exposure(ctx: SimContext, before_day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Highest balance of each customer over the year, and before ``before_day`` (per customer)."""
    n = ctx.world.n_customers
    customer, day, delta = balance_movements(ctx)
    order = order_by(customer, day, delta < 0)  # same day: invoices before payments
    customer, day, delta = customer[order], day[order], delta[order]
    running = np.cumsum(delta)
    starts = np.searchsorted(customer, np.arange(n))
    has = np.bincount(customer, minlength=n) > 0
    base = np.where(starts > 0, running[np.maximum(starts - 1, 0)], 0.0)
    balance = running - base[customer]
    peak = np.zeros(n)
    np.maximum.at(peak, customer, balance)
    early = day < before_day[customer]
    peak_before = np.zeros(n)
    np.maximum.at(peak_before, customer[early], balance[early])
    return np.where(has, peak, 0.0), peak_before


def set_credit_limits(ctx: SimContext, trajectories) -> None:
    rng = ctx.rng("records")
    cust = ctx.world.customers
    n = len(cust)
    cutoff = np.full(n, PERIOD_END_DAY + 1)
    breach = np.zeros(n, dtype=bool)
    for t in trajectories:
        cutoff[t.customer] = t.first_signal_day
        breach[t.customer] = "credit_limit_breach" in t.signals
    peak, peak_before = peak_exposure(ctx, cutoff)
    inv = ctx.tables["invoices"]
    yearly = np.bincount(inv["customer_id"].to_numpy(), weights=invoice_amounts(ctx), minlength=n)
    limit = np.maximum(peak * rng.uniform(1.3, 2.0, n), yearly / 6)
    tight = np.zeros(n, dtype=bool)
    tight[ctx.tight_credit_customers] = True
    limit = np.where(tight, peak * 1.02, limit)
    limit = np.where(breach, np.minimum(np.maximum(peak_before * 1.1, yearly / 12), peak * 0.8), limit)
    step = 10_000_000.0
    cust["credit_limit"] = np.maximum(np.ceil(limit / step), 5) * step


def build_events(ctx: SimContext) -> None:
    rng = ctx.rng("records")
    cal, world = ctx.calendar, ctx.world
    cust = world.customers
    genuine = np.flatnonzero((cust["kind"] == KIND_GENUINE) & (cust["role"] == ROLE_PLAIN)
                             & (cust["stop_paying_day"] > PERIOD_END_DAY))
    counts = rng.poisson(0.25, len(genuine))
    who = np.repeat(genuine, counts)
    kinds = rng.choice(len(HONEST_EVENTS), len(who), p=[e[1] for e in HONEST_EVENTS])
    day = cal.sample_period_days(rng, np.full(len(who), PERIOD_START_DAY), np.full(len(who), PERIOD_END_DAY - 20))
    # A customer moving its account does so before the year's cheques (the record shows the new one).
    day = np.where(kinds == 4, cal.roll_forward(np.full(len(who), PERIOD_START_DAY + 3)), day)
    sp = cust["assigned_salesperson_id"][who]
    yearly_typical = cust["qty_level"][who] * 2_000_000.0
    promise = kinds == 1
    frame = pd.DataFrame({
        "customer_id": who, "event_date": day,
        "event_type": [HONEST_EVENTS[k][0] for k in kinds],
        "amount": np.where(promise, np.round(yearly_typical * rng.uniform(1, 4, len(who)), -4), np.nan),
        "due_date": np.where(promise, day + 14, NULL),
        "notes": ctx.pool.codes([HONEST_EVENTS[k][2] for k in kinds]),
        "reported_by": salesperson_staff(sp).astype(np.int64),
    })
    injected = pd.DataFrame(ctx.events, columns=frame.columns) if ctx.events else frame.iloc[:0]
    events = pd.concat([frame, injected], ignore_index=True)
    events["customer_id"] = events["customer_id"].astype(np.int64)
    events["event_date"] = events["event_date"].astype(np.int64)
    events["due_date"] = events["due_date"].astype(np.int64)
    events["reported_by"] = events["reported_by"].astype(np.int64)
    events["notes"] = events["notes"].astype(np.int64)
    ctx.tables["customer_events"] = events


# Share of the surviving customers with statements whose books look weak too (thin capital, heavy
# borrowing, stock and receivables): many small traders live like that for years without failing, so a
# weak statement is a sign, not a verdict. Their weakness is chronic (about the same both years).
WEAK_SURVIVOR_SHARE = 0.10


def build_financials(ctx: SimContext, trajectories) -> None:
    """Yearly statements for part of the customers. Failing customers with the weak-statements sign are
    thin on equity, heavy on receivables, stock and fixed assets, with interest above 5 % of sales (low
    Altman Z''), and worse in 2024 than in 2023; the other failing customers' statements look normal.
    About :data:`WEAK_SURVIVOR_SHARE` of the surviving customers with statements look weak as well
    (chronically: as weak in 2023 as in 2024), so statements inform without giving the answer away."""
    rng = ctx.rng("records")
    cust = ctx.world.customers
    n = len(cust)
    weak = np.zeros(n, dtype=bool)
    failing = np.zeros(n, dtype=bool)
    for t in trajectories:
        weak[t.customer] = "weak_financials" in t.signals
        failing[t.customer] = True
    genuine = cust["kind"] == KIND_GENUINE
    cls = cust["customer_class"]
    size = cust["size"]
    rank = np.argsort(np.argsort(size)) / max(n - 1, 1)
    share = np.where(cls != CLASS_RETAIL, 0.7, np.where(rank > 0.7, 0.4, 0.1))
    # Failing customers with the weak-statements sign always have statements; the other failing ones have
    # them at least as often as not (normal-looking statements: the sign is not always there).
    has = genuine & ((rng.random(n) < np.where(failing, np.maximum(share, 0.5), share)) | weak)
    # Weakness of each customer's 2024 statement (0 healthy, 1 distressed) and how much of it 2023 had.
    weakness = weak.astype(float)
    weakness_2023 = weak * 0.5
    # (not the growing customers: they are the look-alike that keeps paying and must stay clear)
    survivors = np.flatnonzero(has & ~failing & (cust["role"] != ROLE_GROWING))
    n_weak = min(len(survivors), max(1, int(round(WEAK_SURVIVOR_SHARE * len(survivors)))))
    weak_survivors = rng.choice(survivors, n_weak, replace=False) if n_weak else survivors[:0]
    weakness[weak_survivors] = rng.uniform(0.5, 1.0, n_weak)
    weakness_2023[weak_survivors] = np.clip(weakness[weak_survivors] * rng.uniform(0.85, 1.15, n_weak), 0, 1)
    yearly = np.bincount(ctx.tables["invoices"]["customer_id"].to_numpy(), weights=invoice_amounts(ctx),
                         minlength=n)
    rows = []
    # (period end, each customer's weakness that year, that year's sales relative to 2024)
    for period_end, year_weakness, sales_level in ((day_number("2023-12-31"), weakness_2023, 0.85),
                                                    (day_number("2024-12-31"), weakness, 1.0)):
        ids = np.flatnonzero(has & (cust["established_date"] < period_end - 200))
        k = len(ids)
        distress = year_weakness[ids]  # 0 healthy, 0.5 deteriorating, 1 distressed
        # Our share of the customer's purchases is 15-40 %; it sells at a 20 % mark-up.
        sales = np.maximum(yearly[ids], 1e8) / rng.uniform(0.15, 0.4, k) * 1.2 * sales_level

        def mix(healthy_lo, healthy_hi, weak_lo, weak_hi, k=k, distress=distress):
            """A ratio drawn between its healthy and its distressed range by each customer's weakness."""
            h = rng.uniform(healthy_lo, healthy_hi, k)
            w = rng.uniform(weak_lo, weak_hi, k)
            return h * (1 - distress) + w * distress

        total_assets = sales * mix(0.45, 0.9, 0.9, 1.3)
        receivables = total_assets * mix(0.12, 0.22, 0.28, 0.36)
        inventory = total_assets * mix(0.15, 0.25, 0.30, 0.38)
        cash = total_assets * mix(0.06, 0.12, 0.005, 0.02)
        fixed = total_assets * mix(0.22, 0.32, 0.26, 0.36)
        current_assets = receivables + inventory + cash
        fixed = np.minimum(fixed, total_assets - current_assets)
        equity = total_assets * mix(0.35, 0.6, 0.02, 0.10)
        total_liabilities = total_assets - equity
        current_liabilities = total_liabilities * mix(0.45, 0.65, 0.80, 0.95)
        retained = total_assets * mix(0.12, 0.3, -0.10, 0.01)
        ebit = total_assets * mix(0.06, 0.14, -0.04, 0.02)
        interest = sales * mix(0.003, 0.02, 0.055, 0.10)
        rows.append(pd.DataFrame({
            "customer_id": ids, "period_end": np.full(k, period_end, dtype=np.int64),
            "total_assets": total_assets, "current_assets": current_assets,
            "current_liabilities": current_liabilities, "total_liabilities": total_liabilities,
            "equity": equity, "retained_earnings": retained, "ebit": ebit, "sales": sales,
            "interest_expense": interest, "receivables": receivables, "inventory": inventory,
            "fixed_assets": fixed,
        }))
    frame = pd.concat(rows, ignore_index=True)
    money = [c for c in frame.columns if c not in ("customer_id", "period_end")]
    frame[money] = np.round(frame[money].to_numpy(), -3)
    ctx.tables["customer_financials"] = frame


def build_confirmations(ctx: SimContext) -> None:
    """Half-year and year-end confirmations: honest customers confirm the ledger; where money or goods
    went astray the customer's own figure is lower."""
    rng = ctx.rng("records")
    cal = ctx.calendar
    cust = ctx.world.customers
    n = len(cust)
    kind = cust["kind"]
    stop = cust["stop_paying_day"]
    gaps = ctx.confirmation_gaps
    frames = []
    for as_of in CONFIRMATION_DAYS:
        ledger = ledger_at(ctx, as_of)
        gap = np.zeros(n)
        for g in gaps:
            if g.from_day <= as_of < g.to_day:
                gap[g.customer] += g.amount
        asked = (rng.random(n) < 0.3) | ((gap > 0) & (rng.random(n) < 0.7))
        # Made-up accounts cannot answer, and failed customers no longer do.
        ok = asked & (kind != KIND_FICTITIOUS) & (stop > as_of) & (np.abs(ledger) > 1) \
            & (cust["created_date"] <= as_of)
        ids = np.flatnonzero(ok)
        reply = cal.roll_forward(as_of + rng.integers(10, 45, len(ids)))
        frames.append(pd.DataFrame({
            "customer_id": ids, "as_of_date": np.full(len(ids), as_of, dtype=np.int64),
            "confirmed_balance": np.round(ledger[ids] - gap[ids], 2), "reply_date": reply.astype(np.int64),
        }))
    ctx.tables["confirmations"] = pd.concat(frames, ignore_index=True)
