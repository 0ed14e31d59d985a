"""Synthetic sales ledger of an Iranian FMCG distributor, with known fraud, distress and look-alikes.

The simulated company
    A distributor of fast-moving consumer goods (dairy, drinks, snacks, detergents, rice, oil, tea, ...)
    selling on credit to shops in up to 31 cities, each city a region with a warehouse and a regional
    manager (area managers when a region is large). Salespeople look after portfolios of ~60 accounts
    in a territory of their city; customers are retail shops, wholesalers and branches of declared
    chains, with lognormal sizes. The ledger covers 2025 (Gregorian dates, Friday weekend, Iranian
    public holidays, amounts in rials); customers, staff and the price list go back further, and the
    financial statements are for 2023 and 2024. Orders precede invoices by up to two working days,
    invoices are shipped within two, and prices follow a price list that rises on several dates
    during the year, with wholesale and chain class prices. Volume tiers, documented promotions, small
    manual discounts within authority (larger ones approved) and the cash discount (in
    ``receipt_allocations.cash_discount_amount``, when paid within the window) follow the policy
    written to ``policy.toml``. Payments are cash, transfers, cards and post-dated cheques
    (occasionally bouncing and replaced); visits are planned on a cadence with GPS check-ins and pings;
    some customers have yearly statements (about a tenth of the surviving ones look weak too, so a weak
    statement is a sign rather than the answer) and half-year and year-end balance confirmations.

Injected salesperson fraud (``fraud.py``; about a fifth of salespeople, every pattern at least once)
    added_invoice_items: invoice lines beyond the signed order (new product / more quantity), later a
        not-ordered credit note or an exact short payment, lower confirmation.
    fictitious_customer: account created by the salesperson days before its first invoice, details
        shared with staff or another customer, no tax id, goods delivered elsewhere, unpaid then dormant
        or paid in cash by the same salesperson, never visited or visited off-site.
    multi_name_invoicing: alias accounts sharing the real buyer's phone, address, account or owner,
        buying while the buyer's own purchases stop, delivered to the buyer, paid by its cheques.
    split_volume_discount: a top-tier quantity booked under a small customer, shipped to several other
        customers' shops whose own purchases stop those weeks.
    cheque_withheld: cheques or cash handed in weeks after receipt; lower confirmations meanwhile.
    cheque_maturity_over_policy: post-dated cheques beyond the policy maximum and the customer's terms.
        (A tenth of these cheques bounce and are replaced; the label is the first cheque, the one that
        broke the rule, and its note names the replacement.)
    payment_swap: cash booked later as the salesperson's (or a relative's) cheque; lapping chains where
        each customer's money is posted late against the previous customer's invoice.
    unbilled_shipment: shipments without an invoice, or shipping more than invoiced.
    visit_noncompliance: missed, late, off-site and impossible-travel check-ins, phone elsewhere.
    cash_discount_not_applied: paid inside the window, no discount recorded.
    unauthorized_discount: manual discounts above authority without approver, fake tiers and promotions,
        for a few favoured customers.
    price_deviation: unit prices off the valid price (under for friends, over to pocket), no approval.
Also ``duplicate_invoice`` (copies of real invoices, some on a day off, labelled ``weekend_posting``
too), ``invoice_number_gap`` (deleted invoices' numbers missing from the series) and
``customer_distress`` (``distress.py``: months of worsening signals before a default).

World shapes (``shapes.py``, ``simulate(world=...)``, ``audit simulate --world``)
    ``distributor`` (the default) is the company above; its files for a seed never change.
    ``key_accounts`` is a harder company: few large customers, many salespeople (about seven accounts
    each), a policy away from every default (Thursday-Friday weekend, closure days, hand-in, maturity,
    authority, tiers, cash discount, tolerance, geofence, ladder, approval limit) written to
    ``policy.toml``; each fraud instance keeps a random subset of its traces (``fraud.TRACE_KEEP``), and
    cross-pattern look-alikes are planted (``crosslooks.py``: sister shops paying each other's invoices,
    endorsed third-party cheques, cash booked after a long holiday, central trade promotions and
    promotional list prices).

Look-alikes (``decoys.py``; also in clean datasets): amended orders, new small shops, chain branches,
monthly bulk wholesalers, hand-ins delayed by holidays, long approved terms, owners' personal cheques,
zero-value samples and replacements, rescheduled visits, cheques due after the discount window,
approved and promotion discounts, price-list changes and class prices, growing customers, cancelled
and reissued invoices.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from .context import SCALES, ScaleParams, SimContext
from .crosslooks import list_promotion_lookalikes, plan_cross_payments, plan_sister_businesses
from .decoys import (
    fix_new_shop_dates,
    inject_sales_lookalikes,
    list_natural_lookalikes,
    plan_payment_lookalikes,
    reschedule_visits,
)
from .distress import inject_distress, plan_distress
from .finalize import finalize
from .fraud import (
    inject_lapping,
    inject_sales_fraud,
    inject_visit_fraud,
    label_dishonest_salespeople,
    plan_fraud,
    plan_number_gaps,
)
from .payments import generate_payments
from .records import (
    build_confirmations,
    build_events,
    build_financials,
    fill_distress_exposure,
    set_credit_limits,
)
from .sales import generate_honest_sales
from .shapes import DEFAULT_WORLD, WORLDS, world_shape
from .visits import generate_pings, generate_visits
from .world import build_world
from .writer import write_dataset

__all__ = ["DEFAULT_WORLD", "SCALES", "WORLDS", "SimulationSummary", "simulate"]

CSV_MAX_LINES = 100_000  # default format: CSV up to this many invoice lines, Parquet above


@dataclass
class SimulationSummary:
    out_dir: Path
    seed: int
    scale: str | int
    world: str = DEFAULT_WORLD
    rows: dict[str, int] = field(default_factory=dict)
    n_labels: int = 0
    n_decoys: int = 0
    seconds: float = 0.0
    step_seconds: dict[str, float] = field(default_factory=dict)  # wall time of each step
    step_cpu_seconds: dict[str, float] = field(default_factory=dict)  # CPU time of each step
    step_peak_rss_mb: dict[str, float] = field(default_factory=dict)  # process peak RSS after each step


def simulate(out_dir: Path, scale: str | int = "small", seed: int = 0, clean: bool = False,
             fmt: str | None = None, world: str = DEFAULT_WORLD) -> SimulationSummary:
    """Simulate a year of the distributor's ledger and write it (with labels and decoys) to ``out_dir``.

    ``scale`` is a name of :data:`SCALES` or a target number of invoice lines; ``clean`` leaves out all
    fraud and distress (the look-alikes stay); ``fmt`` is "csv" or "parquet" (default by size); ``world``
    a name of :data:`WORLDS` (``shapes.py``: the default distributor, or the harder ``key_accounts``).
    """
    started = time.perf_counter()
    shape = world_shape(world)
    if isinstance(scale, str):
        if scale not in SCALES:
            raise ValueError(f"unknown scale {scale!r}; choose one of {sorted(SCALES)} or a number of lines")
        target_lines = SCALES[scale]
    else:
        target_lines = int(scale)
    if fmt is None:
        fmt = "csv" if target_lines <= CSV_MAX_LINES else "parquet"
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"fmt must be 'csv' or 'parquet', not {fmt!r}")
    out_dir = Path(out_dir)
    steps: dict[str, float] = {}
    cpu_steps: dict[str, float] = {}
    peak_mb: dict[str, float] = {}
    clock = [time.perf_counter(), time.process_time()]

    def done(step: str) -> None:
        now, cpu = time.perf_counter(), time.process_time()
        steps[step] = round(now - clock[0], 2)
        cpu_steps[step] = round(cpu - clock[1], 2)
        peak_mb[step] = _peak_rss_mb()
        clock[0], clock[1] = now, cpu

    ctx = SimContext(seed=seed, params=ScaleParams.for_lines(target_lines, shape), clean=clean, shape=shape)
    ctx.world = build_world(ctx)
    if shape.cross_lookalikes:
        plan_sister_businesses(ctx)
    trajectories, plan = [], None
    if not clean:
        trajectories = plan_distress(ctx)
        plan = plan_fraud(ctx, [t.customer for t in trajectories])
    done("world")
    generate_honest_sales(ctx)
    ctx.flush()
    ctx.honest_invoice_count = len(ctx.tables["invoices"])
    done("sales")
    inject_sales_lookalikes(ctx)
    if plan is not None:
        inject_distress(ctx, trajectories)
        inject_sales_fraud(ctx, plan)
    fix_new_shop_dates(ctx)
    plan_payment_lookalikes(ctx)
    if shape.cross_lookalikes:
        plan_cross_payments(ctx)
    done("injections")
    generate_payments(ctx)
    if plan is not None:
        inject_lapping(ctx, plan)
    done("payments")
    generate_visits(ctx)
    reschedule_visits(ctx, plan.dishonest if plan is not None else [])
    if plan is not None:
        inject_visit_fraud(ctx, plan)
    generate_pings(ctx)
    done("visits")
    set_credit_limits(ctx, trajectories)
    fill_distress_exposure(ctx, trajectories)
    build_events(ctx)
    build_financials(ctx, trajectories)
    build_confirmations(ctx)
    list_natural_lookalikes(ctx)
    if shape.cross_lookalikes:
        list_promotion_lookalikes(ctx)
    if plan is not None:
        plan_number_gaps(ctx, plan)
    _master_tables(ctx)
    finalize(ctx)
    if plan is not None:
        label_dishonest_salespeople(ctx, plan)
    done("records")
    rows = write_dataset(ctx, out_dir, fmt)
    done("write")
    return SimulationSummary(out_dir=out_dir, seed=seed, scale=scale, world=world, rows=rows, n_labels=len(ctx.labels),
                             n_decoys=len(ctx.decoys), seconds=round(time.perf_counter() - started, 2),
                             step_seconds=steps, step_cpu_seconds=cpu_steps, step_peak_rss_mb=peak_mb)


def _peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    try:
        import resource
    except ImportError:  # not on Windows
        return float("nan")
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _master_tables(ctx: SimContext) -> None:
    world = ctx.world
    ctx.tables["salespeople"] = world.salespeople.to_frame()
    ctx.tables["employees"] = world.employees.to_frame()
    ctx.tables["products"] = world.prices.products
    ctx.tables["price_list"] = world.prices.price_list
