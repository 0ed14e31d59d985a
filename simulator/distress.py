"""Customer failure trajectories: months of worsening signals, then a default.

For each failing customer (about 1 % of accounts) a default day D in the second half of the year and a
first-signal day S four to seven months earlier are drawn; each trajectory shows a random subset of the
source's pre-failure signs: an order spike with new brands right after S, payments later and later,
partial payments, a switch to long post-dated cheques, bounced and replaced cheques, promises to pay then
broken, accountant resigned / owner or manager change / owner often absent / competitor brands, three
months without shipments with the balance still open, a credit-limit breach, weak financial statements
and a young company. On D the company files legal action (or the customer files for bankruptcy) and the
customer never pays again.

The "three months without shipments" sign is real by the time it can count as a warning: the last
goods leave at least :data:`QUIET_DAYS` days before the last month end that is
:data:`WARNING_LEAD_DAYS` days before D (an evaluated warning's period must end that early), with an
invoice of the last weeks still unpaid. Such customers default from August (so that the quiet months and
the signs before them fit in the year) and their first signs come before the quiet months.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .arrays import isin_ints, order_by
from .context import SimContext
from .ids import salesperson_staff
from .payments import BOUNCE_REPLACED, BOUNCE_TWICE, BOUNCE_UNREPLACED
from .pricing import CLASS_CHAIN
from .sales import POSTED, add_sale, invoice_amounts, typical_lines
from .workdays import PERIOD_END_DAY, PERIOD_START_DAY, day_number
from .world import KIND_GENUINE, METHOD_CHEQUE, ROLE_PLAIN, STATUS_LEGAL

# The source's "three months without shipments" (days), and how long before the default a warning must
# be given to count (the labels' rule); invoices ship within two working days, a week at most over holidays.
QUIET_DAYS = 90
WARNING_LEAD_DAYS = 30
SHIP_LAG_DAYS = 7
QUIET_EARLIEST_DEFAULT = "2025-08-01"

SOFT_EVENTS = ("accountant_resigned", "ownership_change", "management_change", "owner_often_absent",
               "competitor_brands_increase")


def month_end_on_or_before(day: int) -> int:
    """The last day of a month that is ``day`` or before it (day numbers)."""
    next_day = np.datetime64(int(day) + 1, "D")
    return int(next_day.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)) - 1


@dataclass
class Trajectory:
    customer: int
    first_signal_day: int
    default_day: int
    signals: list[str] = field(default_factory=list)
    label_index: int = -1
    spike_invoices: list[int] = field(default_factory=list)


def plan_distress(ctx: SimContext) -> list[Trajectory]:
    """Choose the failing customers and their dates; shorten their buying window (before sales exist)."""
    rng = ctx.rng("distress")
    cal = ctx.calendar
    cust = ctx.world.customers
    size = cust["size"]
    rank = np.argsort(np.argsort(size)) / max(len(size) - 1, 1)
    eligible = np.flatnonzero((cust["kind"] == KIND_GENUINE) & (cust["role"] == ROLE_PLAIN)
                              & (cust["customer_class"] != CLASS_CHAIN) & (rank > 0.3)
                              & (cust["window_end"] == PERIOD_END_DAY))
    n = min(len(eligible), max(2, int(round(0.01 * len(cust)))))
    chosen = np.sort(rng.choice(eligible, n, replace=False))
    trajectories = []
    lo, hi = day_number("2025-06-15"), day_number("2025-12-10")
    for c in chosen:
        c = int(c)
        default_day = int(cal.roll_forward(np.array([rng.integers(lo, hi)]))[0])
        first = int(max(PERIOD_START_DAY + 20, default_day - rng.integers(120, 211)))
        signals = ["later_payments"]
        for name, p in (("order_spike", 0.75), ("partial_payments", 0.6), ("cheque_switch", 0.6),
                        ("bounced_cheques", 0.6), ("broken_promises", 0.7), ("soft_events", 0.8),
                        ("no_shipments_3_months", 0.7), ("credit_limit_breach", 0.6),
                        ("weak_financials", 0.75), ("young_company", 0.3)):
            if rng.random() < p:
                signals.append(name)
        if "no_shipments_3_months" in signals:
            if default_day < day_number(QUIET_EARLIEST_DEFAULT):
                default_day = int(cal.roll_forward(np.array([rng.integers(day_number(QUIET_EARLIEST_DEFAULT),
                                                                          hi)]))[0])
            # Last goods QUIET_DAYS before the last month end a warning can describe, and the first signs
            # (late payments, the spike) before that.
            last_goods = (month_end_on_or_before(default_day - WARNING_LEAD_DAYS) - QUIET_DAYS - SHIP_LAG_DAYS
                          - int(rng.integers(0, 21)))
            first = int(max(PERIOD_START_DAY + 20, min(first, last_goods - int(rng.integers(30, 75)))))
            assert last_goods >= first + 30, "no room for a quiet quarter before the default"
            window_end = last_goods
        else:
            window_end = max(default_day - int(rng.integers(5, 30)), first + 30)
        t = Trajectory(c, first, default_day, signals)
        cust["window_end"][c] = window_end
        cust["visit_end"][c] = default_day
        cust["stop_paying_day"][c] = default_day
        cust["early_prob"][c] = 0.0
        if "young_company" in signals:
            established = int(rng.integers(day_number("2023-03-01"), day_number("2024-03-01")))
            cust["established_date"][c] = established
            cust["created_date"][c] = int(cal.roll_forward(np.array([established + rng.integers(30, 200)]))[0])
        trajectories.append(t)
    return trajectories


def inject_distress(ctx: SimContext, trajectories: list[Trajectory]) -> None:
    """Spike sales, payment-plan changes and events for each trajectory (after honest sales exist)."""
    rng = ctx.rng("distress")
    cal, world = ctx.calendar, ctx.world
    cust = world.customers
    for t in trajectories:
        c, first, default_day = t.customer, t.first_signal_day, t.default_day
        sp = int(cust["assigned_salesperson_id"][c])
        sp_staff = int(salesperson_staff(sp))
        controller = int(rng.choice(world.roles["credit_controller"]))
        if "order_spike" in t.signals:
            # Sudden big orders, some of brands the customer never carried.
            basket = world.basket_of(c)
            brands_known = set(world.prices.brand[basket].tolist())
            new_brand = np.flatnonzero(~np.isin(world.prices.brand, list(brands_known)))
            spike_end = min(first + 60, int(cust["window_end"][c]))
            for _ in range(int(rng.integers(2, 5))):
                day = int(cal.sample_period_days(rng, np.array([first]), np.array([max(spike_end, first)]))[0])
                products, qty = typical_lines(ctx, c, qty_factor=float(rng.uniform(2.0, 4.0)))
                if len(new_brand) and rng.random() < 0.6:
                    extra = rng.choice(new_brand, min(len(new_brand), int(rng.integers(1, 4))), replace=False)
                    keep = ~np.isin(products, extra)
                    products = np.concatenate([products[keep], extra])
                    qty = np.concatenate([qty[keep], np.maximum(1.0, np.round(
                        cust["qty_level"][c] * rng.uniform(1.5, 3.0, len(extra))))])
                order = np.argsort(products)
                t.spike_invoices.append(add_sale(ctx, c, sp, day, products[order], qty[order])["invoice"])
            if len(new_brand):
                ctx.event(c, int(cal.roll_forward(np.array([spike_end + 5]))[0]), "competitor_brands_increase",
                          "customer suddenly stocking many new brands", sp_staff)
    ctx.flush()

    # Payment plans: later and later, partial, post-dated cheques, bounces.
    inv = ctx.tables["invoices"]
    amount = invoice_amounts(ctx)
    by_customer = order_by(inv["customer_id"].to_numpy())
    sorted_c = inv["customer_id"].to_numpy()[by_customer]
    for t in trajectories:
        c, first, default_day = t.customer, t.first_signal_day, t.default_day
        sp = int(cust["assigned_salesperson_id"][c])
        sp_staff = int(salesperson_staff(sp))
        lo, hi = np.searchsorted(sorted_c, c), np.searchsorted(sorted_c, c, side="right")
        ids = by_customer[lo:hi]
        inv_day = inv["invoice_date"].to_numpy()[ids]
        posted = inv["status"].to_numpy()[ids] == POSTED
        affected = ids[posted & (inv_day >= first - 20)]
        days = inv["invoice_date"].to_numpy()[affected]
        progress = np.clip((days - first) / max(default_day - first, 1), 0, 1)
        terms = int(cust["payment_terms_days"][c])
        delay = terms + np.round(progress * rng.uniform(30, 120, len(affected)) + rng.uniform(0, 10, len(affected)))
        pay_day = cal.roll_forward(days + delay.astype(np.int64))
        # The spike's goods and most purchases of the last months are never paid: the balance is open on
        # the default day.
        spike = isin_ints(affected, t.spike_invoices)
        never = ((progress > 0.25) | spike) & (rng.random(len(affected)) < 0.75)
        if "no_shipments_3_months" in t.signals:
            # The balance stays open through the quiet months: the last weeks' goods are never paid.
            never |= days >= int(cust["window_end"][c]) - 30
        pay_day = np.where(never, default_day + 30, pay_day)
        ctx.override_payment(affected, "pay_day", pay_day)
        switch_day = first + int(rng.integers(5, 20))
        if "cheque_switch" in t.signals:
            to_cheque = affected[days >= switch_day]
            ctx.override_payment(to_cheque, "method", METHOD_CHEQUE)
            ctx.override_payment(to_cheque, "maturity_days", rng.integers(60, ctx.policy.max_maturity_days + 1,
                                                                          len(to_cheque)))
            ctx.event(c, int(cal.roll_forward(np.array([switch_day]))[0]), "payment_method_change",
                      "asked to pay by long post-dated cheques instead of cash", sp_staff)
        if "partial_payments" in t.signals:
            late = progress > 0.4
            fraction = rng.uniform(0.3, 0.8, late.sum())
            ctx.override_payment(affected[late], "paid_amount", np.round(amount[affected[late]] * fraction, 2))
        if "bounced_cheques" in t.signals:
            # (among the invoices it pays at all: a bounced cheque is an attempt to pay)
            candidates = affected[(days >= switch_day) & (days < default_day - 100) & ~never]
            if len(candidates) == 0:
                candidates = affected[~never][:1] if (~never).any() else affected[:1]
            chosen = rng.choice(candidates, min(len(candidates), int(rng.integers(1, 4))), replace=False)
            ctx.override_payment(chosen, "method", METHOD_CHEQUE)
            ctx.override_payment(chosen, "maturity_days", rng.integers(20, 60, len(chosen)))
            ctx.override_payment(chosen, "bounce", rng.choice([BOUNCE_REPLACED, BOUNCE_TWICE, BOUNCE_UNREPLACED],
                                                               len(chosen)))
        if "broken_promises" in t.signals:
            for _ in range(int(rng.integers(1, 3))):
                promise_day = int(cal.roll_forward(np.array([rng.integers(first + 45, max(first + 46,
                                                                                          default_day - 25))]))[0])
                promise_due = promise_day + 14
                promised = float(np.round(amount[affected].sum() * rng.uniform(0.1, 0.3), -4))
                ctx.event(c, promise_day, "promise_to_pay", "owner promised to settle part of the overdue balance",
                          sp_staff, amount=promised, due_day=promise_due)
                ctx.event(c, int(cal.roll_forward(np.array([promise_due + rng.integers(1, 4)]))[0]),
                          "promise_broken", "promised payment not received", controller, amount=promised)
        if "soft_events" in t.signals:
            for kind in rng.choice(SOFT_EVENTS[:4], int(rng.integers(1, 4)), replace=False):
                day = int(cal.roll_forward(np.array([rng.integers(first, default_day - 10)]))[0])
                text = {"accountant_resigned": "the customer's accountant resigned suddenly",
                        "ownership_change": "shop changed hands; new owner not yet introduced",
                        "management_change": "new manager took over the shop",
                        "owner_often_absent": "owner not present at the last visits"}[str(kind)]
                ctx.event(c, day, str(kind), text, sp_staff)
        final_event = "legal_action" if rng.random() < 0.6 else "bankruptcy_filing"
        ctx.event(c, default_day, final_event,
                  "legal action started for the unpaid balance" if final_event == "legal_action"
                  else "customer filed for bankruptcy", controller)
        cust["status"][c] = STATUS_LEGAL
        t.label_index = len(ctx.labels)
        ctx.label("customer_distress", "customer", c, salesperson=sp, customer=c, event_day=default_day,
                  note="signals: " + ", ".join(t.signals) + f"; default by {final_event}")
