"""Legitimate look-alikes of every pattern, present in clean and dirty datasets alike (decoys.csv).

Some are injected (amended orders, free samples and replacements, monthly bulk buys of wholesalers,
cheques received on the eve of a holiday, rescheduled visits); the rest occur naturally in the honest
data and a sample of them is listed (chain branches, new shops, long approved terms, owners' personal
cheques, cheques due after the cash-discount window, approved manual and promotion discounts,
price-list changes and class prices, growing customers, cancelled and reissued invoices).
"""

from __future__ import annotations

import numpy as np

from .arrays import isin_ints, order_by, unique_ints
from .context import SimContext
from .ids import salesperson_staff
from .payments import CHEQUE_BOUNCED
from .pricing import (
    CLASS_RETAIL,
    DISCOUNT_MANUAL,
    DISCOUNT_PROMO,
    PRICE_CHANGE_DAYS,
)
from .sales import POSTED, SOURCE_PHONE, add_sale, invoice_amounts, products_outside, typical_lines
from .visits import VISIT_CANCELLED, VISIT_DONE, SlotBook, add_visit
from .workdays import NULL, PERIOD_END_DAY, PERIOD_START_DAY, iso_date
from .world import (
    KIND_GENUINE,
    METHOD_CHEQUE,
    ROLE_GROWING,
    ROLE_LONG_TERMS,
    ROLE_NEW_SHOP,
    ROLE_OWNER_CHEQUES,
    ROLE_PLAIN,
)


def sample_cap(ctx: SimContext) -> int:
    """How many naturally occurring look-alikes of one kind are listed."""
    return max(5, int(ctx.params.target_lines * 0.0002))


def _plain_customers(ctx: SimContext) -> np.ndarray:
    cust = ctx.world.customers
    return np.flatnonzero((cust["kind"] == KIND_GENUINE) & (cust["role"] == ROLE_PLAIN)
                          & (cust["window_end"] == PERIOD_END_DAY)
                          & (cust["stop_paying_day"] > PERIOD_END_DAY))


def inject_sales_lookalikes(ctx: SimContext) -> None:
    rng = ctx.rng("decoys")
    world, cal = ctx.world, ctx.calendar
    cust = world.customers
    plain = _plain_customers(ctx)
    n_invoices = ctx.honest_invoice_count
    book = world.prices

    # An order amended by the customer: a second (phone) order adds lines; one invoice covers both.
    for _ in range(max(3, int(0.0006 * n_invoices))):
        c = int(rng.choice(plain))
        sp = int(cust["assigned_salesperson_id"][c])
        basket = world.basket_of(c)
        base_p, base_q = typical_lines(ctx, c)
        extra = basket[~np.isin(basket, base_p)]
        if len(extra) == 0:
            continue
        add_p = rng.choice(extra, min(len(extra), int(rng.integers(1, 3))), replace=False)
        add_q = np.maximum(1.0, np.round(cust["qty_level"][c] * rng.lognormal(0, 0.5, len(add_p))))
        day = int(cal.sample_period_days(rng, np.array([PERIOD_START_DAY + 5]), np.array([PERIOD_END_DAY - 5]))[0])
        first_order_day = int(cal.offset(day, -1, roll="backward"))
        inv_p = np.concatenate([base_p, add_p])
        inv_q = np.concatenate([base_q, add_q])
        sale = add_sale(ctx, c, sp, day, inv_p, inv_q, order_products=base_p, order_quantities=base_q,
                        order_day=first_order_day)
        amendment = int(ctx.next_ids("order", 1)[0])
        ctx.add_rows("orders", order_id=amendment, customer_id=c, salesperson_id=sp, order_date=day,
                     source=SOURCE_PHONE, signed_by_customer=False)
        ctx.add_rows("order_lines", order_id=[amendment] * len(add_p), line_no=list(range(1, len(add_p) + 1)),
                     product_id=add_p, quantity=add_q)
        ctx.decoy("added_invoice_items", "invoice", sale["invoice"], salesperson=sp, customer=c,
                  amount=0.0, event_day=day, note="customer amended the order by phone; the second order "
                                                  "holds the extra lines")

    # Free samples and free replacements: zero-value invoices (100 % approved discount) with a shipment.
    director = int(world.roles["sales_director"][0])
    for k in range(max(4, int(0.0004 * n_invoices))):
        c = int(rng.choice(plain))
        sp = int(cust["assigned_salesperson_id"][c])
        day = int(cal.sample_period_days(rng, np.array([PERIOD_START_DAY + 5]), np.array([PERIOD_END_DAY - 5]))[0])
        if k % 2 == 0:
            outside = products_outside(book.n_products, world.basket_of(c))
            product = np.array([int(rng.choice(outside))])
            qty = np.array([float(rng.integers(1, 6))])
            sale = add_sale(ctx, c, sp, day, product, qty, discount_pct=[100.0], discount_type=[DISCOUNT_PROMO],
                            discount_approver=[book.marketing_approver], reason="free sample of a new product")
            note = "free sample of a new product on a zero-value invoice approved by marketing"
        else:
            product, qty = typical_lines(ctx, c, n_lines=1, qty_factor=0.3)
            ctx.event(c, int(cal.offset(day, -1, roll="backward")), "complaint",
                      f"{int(qty[0])} units damaged in the last delivery; replaced free of charge",
                      int(salesperson_staff(sp)))
            sale = add_sale(ctx, c, sp, day, product, qty, discount_pct=[100.0], discount_type=[DISCOUNT_MANUAL],
                            discount_approver=[director], reason="free replacement of goods damaged in delivery")
            note = "free replacement of damaged goods on a zero-value invoice approved by the sales director"
        ctx.decoy("unbilled_shipment", "shipment", sale["shipments"][0], salesperson=sp, customer=c,
                  amount=0.0, event_day=day, note=note)

    ctx.flush()


def plan_payment_lookalikes(ctx: SimContext) -> None:
    """Cheques received on the eve of a holiday and handed in within the policy's working days."""
    rng = ctx.rng("decoys")
    cal, policy = ctx.calendar, ctx.policy
    inv = ctx.tables["invoices"]
    amount = invoice_amounts(ctx)
    plain = _plain_customers(ctx)
    c = inv["customer_id"].to_numpy()
    day = inv["invoice_date"].to_numpy()
    ok = (inv["status"].to_numpy() == POSTED) & (amount > 0) & isin_ints(c, plain)
    ok[ctx.honest_invoice_count:] = False
    eves = cal.holiday_eves()
    eves = eves[(eves > PERIOD_START_DAY + 30) & (eves < PERIOD_END_DAY - 40)]
    candidates = np.flatnonzero(ok)
    candidates = candidates[order_by(day[candidates])]
    candidate_days = day[candidates]
    n = max(3, int(0.0005 * ctx.honest_invoice_count))
    for k in range(n):
        eve = int(eves[k % len(eves)])
        lo, hi = np.searchsorted(candidate_days, eve - 25), np.searchsorted(candidate_days, eve, side="right")
        if hi <= lo:
            continue
        i = int(candidates[lo + int(rng.integers(0, hi - lo))])
        if i in ctx.used_invoices:
            continue
        ctx.used_invoices.add(i)
        terms = int(ctx.world.customers["payment_terms_days"][int(c[i])])
        ctx.override_payment(i, "method", METHOD_CHEQUE)
        ctx.override_payment(i, "pay_day", eve)
        ctx.override_payment(i, "hand_in_wd", policy.hand_in_days)
        ctx.override_payment(i, "maturity_days", int(min(policy.max_maturity_days,
                                                         max(0, day[i] + terms - eve))))
        handed = int(cal.offset(eve, policy.hand_in_days))
        ctx.decoy("cheque_withheld", "cheque", NULL, salesperson=int(inv.at[i, "salesperson_id"]),
                  customer=int(c[i]), amount=float("nan"), event_day=eve, via_invoice=i,
                  note=f"received {iso_date(eve)} before holidays, handed in {iso_date(handed)}: "
                       f"{handed - eve} calendar days but {policy.hand_in_days} working days")


# Share of the visits the customer asks to move to another day.
RESCHEDULE_SHARE = 0.0005


def reschedule_visits(ctx: SimContext, dishonest: list[int]) -> None:
    """Visits the customer asked to move: recorded as cancelled, with a new visit on the new day in a slot
    the salesperson has free that day (on time, at the customer)."""
    rng = ctx.rng("decoys")
    cal = ctx.calendar
    visits = ctx.tables["visits"]
    sp = visits["salesperson_id"].to_numpy()
    planned = visits["planned_date"].to_numpy()
    ok = np.flatnonzero((visits["status"].to_numpy() == VISIT_DONE) & ~isin_ints(sp, dishonest)
                        & (planned < PERIOD_END_DAY - 10))
    n = min(len(ok), max(3, int(RESCHEDULE_SHARE * len(visits))))
    chosen = np.sort(rng.choice(ok, n, replace=False))
    new_days = cal.offset(planned[chosen], rng.integers(1, 4, n))
    slots = SlotBook(ctx, sp[chosen], new_days)
    status = visits["status"].to_numpy().copy()
    notes = visits["notes"].to_numpy().copy()
    checkin, checkout = visits["checkin_at"].to_numpy().copy(), visits["checkout_at"].to_numpy().copy()
    lat, lon = visits["checkin_lat"].to_numpy().copy(), visits["checkin_lon"].to_numpy().copy()
    outcome = visits["outcome"].to_numpy().copy()
    status[chosen] = VISIT_CANCELLED
    checkin[chosen] = checkout[chosen] = NULL
    lat[chosen] = lon[chosen] = np.nan
    outcome[chosen] = NULL
    added = []
    for v, new_day in zip(chosen, new_days, strict=True):
        v, new_day = int(v), int(new_day)
        c = int(visits.at[v, "customer_id"])
        minutes = slots.take(rng, int(sp[v]), new_day)
        notes[v] = ctx.pool.code(f"rescheduled at the customer's request to {iso_date(new_day)} "
                                 f"{minutes // 60:02d}:{minutes % 60:02d}")
        added.append(add_visit(ctx, int(sp[v]), c, new_day, minutes, status=VISIT_DONE,
                               checkin_delay_min=float(rng.uniform(-5, 10)),
                               duration_min=float(rng.uniform(12, 40)),
                               notes=f"rescheduled visit (was {iso_date(int(planned[v]))})"))
        ctx.decoy("visit_noncompliance", "visit", v, salesperson=int(sp[v]), customer=c, amount=0.0,
                  event_day=int(planned[v]), note=f"visit moved to {iso_date(new_day)} at the customer's request")
    ctx.tables["visits"] = visits.assign(status=status, notes=notes, checkin_at=checkin, checkout_at=checkout,
                                         checkin_lat=lat, checkin_lon=lon, outcome=outcome)
    ctx.flush()
    ctx.protected_visits = np.concatenate([chosen, np.array(added, dtype=np.int64)])


def fix_new_shop_dates(ctx: SimContext) -> None:
    """New shops' records are created by their salesperson one to ten days before the first order."""
    rng = ctx.rng("decoys")
    cust = ctx.world.customers
    orders = ctx.tables["orders"]
    new_shops = np.flatnonzero(cust["role"] == ROLE_NEW_SHOP)
    first_order = np.full(len(cust), PERIOD_END_DAY + 1)
    np.minimum.at(first_order, orders["customer_id"].to_numpy(), orders["order_date"].to_numpy())
    created = ctx.calendar.roll_backward(first_order[new_shops] - rng.integers(1, 11, len(new_shops)))
    cust["created_date"][new_shops] = created
    cust["established_date"][new_shops] = np.minimum(cust["established_date"][new_shops], created - 10)


def list_natural_lookalikes(ctx: SimContext) -> None:
    """Sample the look-alikes that occur in honest trading (after payments exist)."""
    rng = ctx.rng("decoys")
    world, policy = ctx.world, ctx.policy
    cust = world.customers
    cap = sample_cap(ctx)
    role = cust["role"]
    sp_of = cust["assigned_salesperson_id"]

    def pick(ids, k=cap):
        ids = np.asarray(ids)
        return np.sort(rng.choice(ids, min(k, len(ids)), replace=False)) if len(ids) else ids

    for c in pick(np.flatnonzero(cust["chain_group"] >= 0), 3 * cap):
        ctx.decoy("multi_name_invoicing", "customer", int(c), salesperson=int(sp_of[c]), customer=int(c), amount=0.0,
                  note="branch of a declared chain: same owner, own address, visited there")
    for c in np.flatnonzero(role == ROLE_NEW_SHOP):
        ctx.decoy("fictitious_customer", "customer", int(c), salesperson=int(sp_of[c]), customer=int(c), amount=0.0,
                  event_day=int(cust["created_date"][int(c)]),
                  note="genuinely new small shop: created by its salesperson days before the first order, "
                       "visited, paid, delivered at its own address")
    for c in np.flatnonzero(role == ROLE_GROWING):
        ctx.decoy("customer_distress", "customer", int(c), salesperson=int(sp_of[c]), customer=int(c), amount=0.0,
                  note="growing customer: orders rise through the year, paid on time")

    inv = ctx.tables["invoices"]
    lines = ctx.tables["invoice_lines"]
    inv_day = inv["invoice_date"].to_numpy()
    inv_c = inv["customer_id"].to_numpy()
    inv_sp = inv["salesperson_id"].to_numpy()
    honest = np.zeros(len(inv), dtype=bool)
    honest[:ctx.honest_invoice_count] = True
    honest &= inv["status"].to_numpy() == POSTED
    line_inv = lines["invoice_id"].to_numpy()
    dtype = lines["discount_type"].to_numpy()
    pct = lines["discount_pct"].to_numpy()
    approver = lines["discount_approved_by"].to_numpy()
    approved_manual = unique_ints(line_inv[(dtype == DISCOUNT_MANUAL) & (pct > policy.manual_authority_salesperson_pct)
                                         & (approver >= 0)])
    promo = unique_ints(line_inv[(dtype == DISCOUNT_PROMO) & (pct < 100)])
    for ids, note in ((approved_manual, "manual discount above the salesperson's authority, approved by the manager"),
                      (promo, "discount of a documented promotion")):
        for i in pick(ids[honest[ids]]):
            ctx.decoy("unauthorized_discount", "invoice", int(i), salesperson=int(inv_sp[i]), customer=int(inv_c[i]),
                      amount=0.0, event_day=int(inv_day[i]), note=note)
    change_days = ctx.calendar.roll_forward(np.array(PRICE_CHANGE_DAYS))
    pl = world.prices.price_list
    changed = pl[(pl["customer_class"] < 0) & np.isin(pl["valid_from"], change_days)]
    change_key = changed["product_id"].to_numpy() * 100_000 + changed["valid_from"].to_numpy()
    line_key = lines["product_id"].to_numpy() * 100_000 + inv_day[line_inv]
    on_change = unique_ints(line_inv[isin_ints(line_key, change_key)])
    cls = cust["customer_class"][inv_c[line_inv]]
    class_priced = unique_ints(line_inv[(cls != CLASS_RETAIL)
                                      & (lines["unit_price"].to_numpy()
                                         < lines["list_price"].to_numpy() * (1 - policy.price_tolerance_pct / 100))])
    for ids, note in ((on_change, "new list price in force from that day"),
                      (class_priced, "customer-class price below the general list price")):
        for i in pick(ids[honest[ids]]):
            ctx.decoy("price_deviation", "invoice", int(i), salesperson=int(inv_sp[i]), customer=int(inv_c[i]),
                      amount=0.0, event_day=int(inv_day[i]), note=note)
    for i in pick(ctx.bulk_invoices, 3 * cap):
        ctx.decoy("split_volume_discount", "invoice", int(i), salesperson=int(inv_sp[i]), customer=int(inv_c[i]),
                  amount=0.0, event_day=int(inv_day[i]), note="wholesaler buying in bulk every month, delivered "
                                                               "to itself")
    for cancelled, reissue in ctx.cancelled_reissues:
        ctx.decoy("duplicate_invoice", "invoice", int(reissue), salesperson=int(inv_sp[reissue]),
                  customer=int(inv_c[reissue]), amount=0.0, event_day=int(inv_day[reissue]),
                  note="reissue of a cancelled invoice for the same order")
        ctx.decoy("invoice_number_gap", "invoice_no", NULL, salesperson=int(inv_sp[cancelled]),
                  customer=int(inv_c[cancelled]), amount=0.0, event_day=int(inv_day[cancelled]),
                  via_invoice=int(cancelled), note="number of a cancelled invoice (documented, not a gap)")

    chq = ctx.tables["cheques"]
    rec = ctx.tables["receipts"]
    alloc = ctx.tables["receipt_allocations"]
    q_c = chq["customer_id"].to_numpy()
    maturity = chq["due_date"].to_numpy() - chq["received_date"].to_numpy()
    long_ok = np.flatnonzero((role[q_c] == ROLE_LONG_TERMS) & (maturity > policy.max_maturity_days))
    for q in pick(long_ok):
        ctx.decoy("cheque_maturity_over_policy", "cheque", int(q), salesperson=int(sp_of[q_c[q]]),
                  customer=int(q_c[q]), amount=float(chq.at[int(q), "amount"]),
                  event_day=int(chq.at[int(q), "received_date"]),
                  note=f"{int(maturity[q])}-day cheque within the customer's approved "
                       f"{int(cust['payment_terms_days'][int(q_c[q])])}-day terms")
    # Receipts paid by a cheque the owner drew on the personal account on record.
    rec_cheque = rec["cheque_id"].to_numpy()
    has_cheque = rec_cheque >= 0
    owner_drawn = np.zeros(len(rec), dtype=bool)
    owner_drawn[has_cheque] = (chq["drawer_name"].to_numpy()[rec_cheque[has_cheque]]
                               == cust["owner_name"][rec["customer_id"].to_numpy()[has_cheque]])
    owner_drawn &= role[rec["customer_id"].to_numpy()] == ROLE_OWNER_CHEQUES
    for r in pick(np.flatnonzero(owner_drawn)):
        c = int(rec.at[int(r), "customer_id"])
        ctx.decoy("payment_swap", "receipt", int(r), salesperson=int(sp_of[c]), customer=c,
                  amount=float(rec.at[int(r), "amount"]), event_day=int(rec.at[int(r), "receipt_date"]),
                  note="cheque drawn by the customer's owner on a personal account")
    # Cheques handed over inside the cash-discount window but due after it: no discount is due.
    window = policy.cash_discount_within_days
    a_rec = alloc["receipt_id"].to_numpy()
    a_inv = alloc["invoice_id"].to_numpy()
    a_cheque = rec_cheque[a_rec]
    with_cheque = a_cheque >= 0
    received = np.where(with_cheque, chq["received_date"].to_numpy()[np.maximum(a_cheque, 0)], 0)
    due = np.where(with_cheque, chq["due_date"].to_numpy()[np.maximum(a_cheque, 0)], 0)
    status_ok = np.where(with_cheque, chq["status"].to_numpy()[np.maximum(a_cheque, 0)] != CHEQUE_BOUNCED, False)
    outside = (with_cheque & status_ok & (received - inv_day[a_inv] <= window) & (due - inv_day[a_inv] > window)
               & honest[a_inv])
    for r in pick(unique_ints(a_rec[outside])):
        c = int(rec.at[int(r), "customer_id"])
        ctx.decoy("cash_discount_not_applied", "receipt", int(r), salesperson=int(sp_of[c]), customer=c,
                  amount=0.0, event_day=int(rec.at[int(r), "receipt_date"]),
                  note="post-dated cheque handed over inside the window but due after it")
