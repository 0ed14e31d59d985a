"""The twelve salesperson fraud patterns, duplicate invoices and invoice-number gaps.

About a fifth of the active salespeople are dishonest; the twelve patterns are dealt out among them (every
pattern is used by at least one) and each dishonest salesperson commits two to five of them, a few times
each, on the accounts of their own portfolio. Every instance leaves a random part of the traces listed
in ``patterns.md`` (the label's note says which) and is written to ``labels.csv``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from audit.contract import SALESPERSON_PATTERNS

from . import names
from .arrays import isin_ints, order_by
from .context import ConfirmationGap, SimContext
from .ids import format_id, id_token, salesperson_staff
from .payments import BOUNCE_REPLACED
from .pricing import (
    CLASS_CHAIN,
    CLASS_RETAIL,
    DISCOUNT_MANUAL,
    DISCOUNT_NONE,
    DISCOUNT_PROMO,
    DISCOUNT_VOLUME,
    honest_discounts,
    round_price,
)
from .sales import (
    POSTED,
    REASON_NOT_ORDERED,
    REASON_RETURN,
    add_credit_note,
    add_sale,
    add_shipment,
    invoice_amounts,
    line_net,
    products_outside,
    typical_lines,
)
from .visits import VISIT_DONE, VISIT_MISSED, SlotBook, add_visit
from .workdays import NULL, PERIOD_END_DAY, PERIOD_START_DAY, SECONDS_PER_DAY, iso_date
from .world import (
    KIND_ALIAS,
    KIND_FICTITIOUS,
    KIND_GENUINE,
    METHOD_CASH,
    METHOD_CHEQUE,
    METHOD_TRANSFER,
    ROLE_PLAIN,
    STATUS_INACTIVE,
    offset_position,
    point_at_distance,
)

# Share of the withheld and over-long cheques that bounce and are replaced (the label stays on the first).
BOUNCE_SHARE = 0.1

# Where the world shape asks for it (``WorldShape.trace_subsets``), each instance of these patterns keeps
# each optional trace with this probability, drawn independently (where a pattern has several optional
# traces at least one of them is kept; the core of the pattern, named in parentheses, always is). A dropped trace is
# replaced by what an honest record would show. The label is written whatever is kept; its note lists
# what is there. Patterns not listed here have a single trace (their core) and keep it.
TRACE_KEEP: dict[str, dict[str, float]] = {
    # (account created by a salesperson shortly before its first invoice)
    "fictitious_customer": {
        "shared_identifiers": 0.5,      # phone/address/account shared with staff or another customer
        "no_tax_id": 0.6,               # else it has a (made-up) tax id
        "created_by_salesperson": 0.6,  # else a master-data clerk keyed it in
        "delivered_elsewhere": 0.5,     # else received at the recorded address by a relative
        "payment_trace": 0.6,           # unpaid then dormant, or cash collected by the same salesperson;
                                        # else paid like an ordinary account
        "not_visited_on_site": 0.6,     # never visited, or check-ins far away; else a visit on site
    },
    # (an account buying the buyer's usual basket)
    "multi_name_invoicing": {
        "shared_identifiers": 0.6,      # phone/address/account/owner shared with the buyer; else none
        "delivered_to_buyer": 0.5,
        "paid_by_buyer_cheques": 0.5,
        "buyer_purchases_stop": 0.6,    # the buyer's own purchases stop in the weeks the alias buys
    },
    # (a tier quantity far above the booker's usual)
    "split_volume_discount": {
        "shipped_to_others": 0.6,       # delivery points or receivers of other customers; else the booker
        "co_buyers_purchases_stop": 0.6,
    },
    # (invoice lines beyond the signed order)
    "added_invoice_items": {
        "customer_objects": 0.5,        # a 'not ordered' credit note or an exact short payment, with the
                                        # customer's confirmation lower meanwhile; else unnoticed
        "only_ordered_goods_shipped": 0.4,
    },
    # (money handed in beyond the policy's working days)
    "cheque_withheld": {"confirmation_lower": 0.5},
    # (cash booked as a cheque of the salesperson or a relative; lapping: money posted late against
    # another customer's invoice)
    "payment_swap": {
        "receipt_dated_before_cheque": 0.5,  # the customer's receipt keeps the day the cash was paid
        "confirmation_lower": 0.5,
    },
    "payment_swap (lapping)": {
        "booked_under_previous_customer": 0.5,  # else booked under the customer who paid
        "confirmation_lower": 0.5,
    },
    # (a discount beyond authority or matching no rule)
    "unauthorized_discount": {"favoured_customer": 0.5},  # else any account of the portfolio
}


def trace_draw(ctx: SimContext, pattern: str) -> dict[str, bool] | None:
    """Which optional traces this instance keeps (``TRACE_KEEP``), or None where every trace is left as the
    default world leaves it. Drawn from the traces stream, so the other streams do not shift."""
    if not ctx.shape.trace_subsets:
        return None
    rng = ctx.rng("traces")
    keep = {trace: bool(rng.random() < p) for trace, p in TRACE_KEEP[pattern].items()}
    if len(keep) > 1 and not any(keep.values()):
        keep[list(keep)[int(rng.integers(0, len(keep)))]] = True
    return keep


@dataclass
class FraudPlan:
    dishonest: list[int]
    work: list[tuple[int, str, int]]  # (salesperson, pattern, instances), in a fixed order
    victims: dict[int, np.ndarray]  # salesperson -> genuine plain accounts of their portfolio
    fictitious: list[dict] = field(default_factory=list)
    alias_groups: list[dict] = field(default_factory=list)
    splits: list[dict] = field(default_factory=list)
    lapping: list[dict] = field(default_factory=list)
    used_invoices: set[int] = field(default_factory=set)


def heavy_factor(rng, sigma: float = 0.7) -> float:
    """A multiplier with a heavy right tail (median 1)."""
    return float(rng.lognormal(0.0, sigma))


def working_day(ctx: SimContext, rng, lo: int, hi: int) -> int:
    lo = max(lo, PERIOD_START_DAY)
    hi = min(max(hi, lo), PERIOD_END_DAY)
    return int(ctx.calendar.sample_period_days(rng, np.array([lo]), np.array([hi]))[0])


def weekend_day_near(ctx: SimContext, day: int) -> int | None:
    """The first non-working day (weekend or holiday) on or after ``day`` within the period; None in the
    period's last days, after its last day off (a record labelled as posted on a day off must be dated on
    one, and a copy cannot move before its original)."""
    for d in range(day, min(day + 10, PERIOD_END_DAY + 1)):
        if not ctx.calendar.is_working_day(d):
            return d
    return None


# Sales-side injectors by pattern: ``inject(ctx, rng, plan, salesperson)`` plants one instance of the
# pattern for a dishonest salesperson who was given it (``plan.work``) and labels it. A new salesperson
# pattern registers its injector here with ``@injects("pattern")``.
SALES_INJECTORS: dict = {}


def injects(pattern: str):
    def register(function):
        if pattern in SALES_INJECTORS:
            raise ValueError(f"two simulator injectors for {pattern}")
        SALES_INJECTORS[pattern] = function
        return function
    return register


def _week_keys(customer: int, days) -> np.ndarray:
    return customer * 64 + (np.asarray(days) - PERIOD_START_DAY) // 7


# ---------------------------------------------------------------------------------------------- planning
def plan_fraud(ctx: SimContext, excluded_customers: np.ndarray) -> FraudPlan:
    """Choose the dishonest salespeople and their patterns; create the made-up accounts (before sales)."""
    rng = ctx.rng("fraud")
    world = ctx.world
    cust = world.customers
    eligible = ((cust["kind"] == KIND_GENUINE) & (cust["role"] == ROLE_PLAIN)
                & (cust["customer_class"] != CLASS_CHAIN)
                & (cust["window_end"] == PERIOD_END_DAY)
                & ~isin_ints(np.arange(len(cust)), excluded_customers))
    assigned = cust["assigned_salesperson_id"]
    victims = {}
    active = np.flatnonzero(world.salespeople["active"])
    for s in active:
        v = np.flatnonzero(eligible & (assigned == s))
        if len(v) >= 4:
            victims[int(s)] = v
    candidates = np.array(sorted(victims))
    n_dishonest = min(len(candidates), max(2, int(round(ctx.shape.dishonest_share * len(active)))))
    dishonest = sorted(int(s) for s in rng.choice(candidates, n_dishonest, replace=False))
    patterns = list(SALESPERSON_PATTERNS)
    order = rng.permutation(len(patterns))
    chosen: dict[int, list[str]] = {s: [] for s in dishonest}
    for i, p in enumerate(order):
        chosen[dishonest[i % n_dishonest]].append(patterns[p])
    for s in dishonest:
        want = int(rng.integers(2, 6))
        extra = [p for p in patterns if p not in chosen[s]]
        rng.shuffle(extra)
        chosen[s].extend(extra[:max(0, want - len(chosen[s]))])
    work = []
    for s in dishonest:
        for p in patterns:
            if p in chosen[s]:
                work.append((s, p, 1 + int(rng.poisson(1.0))))
    plan = FraudPlan(dishonest, work, {s: victims[s] for s in dishonest}, used_invoices=ctx.used_invoices)
    for s, pattern, count in work:
        for _ in range(count):
            if pattern == "fictitious_customer":
                _plan_fictitious(ctx, rng, plan, s)
            elif pattern == "multi_name_invoicing":
                _plan_aliases(ctx, rng, plan, s)
            elif pattern == "split_volume_discount":
                _plan_split(ctx, rng, plan, s)
    world.commit_customers()
    return plan


def _fresh_text(ctx: SimContext, used: set[int], make) -> int:
    """Pool code of a newly made text not in ``used``."""
    while True:
        code = ctx.pool.code(make())
        if code not in used:
            used.add(code)
            return code


def _fresh_account(ctx: SimContext, rng) -> int:
    """Pool code of a new bank account no one has, registered with its bank."""
    used = _identifier_sets(ctx)["bank_account"]
    while True:
        texts, bank = names.bank_accounts(rng, 1)
        code = ctx.pool.code(texts[0])
        if code not in used:
            used.add(code)
            ctx.world.account_bank[int(code)] = ctx.pool.code(names.BANKS[int(bank[0])][0])
            return int(code)


def _identifier_sets(ctx: SimContext) -> dict[str, set[int]]:
    if ctx.used_identifiers is None:
        w = ctx.world
        out = {"tax_id": set(w.customers["tax_id"].tolist())}
        for column in ("phone", "address", "bank_account"):
            out[column] = set(w.customers[column].tolist()) | set(w.employees[column].tolist()) | set(
                w.salespeople[column].tolist())
        out["bank_account"] |= set(w.account_bank)
        ctx.used_identifiers = out
    return ctx.used_identifiers


def _new_customer_row(ctx: SimContext, template: int) -> dict:
    rows = ctx.world.template_customer(template)
    rows["ramp"] = False
    rows["role"] = ROLE_PLAIN
    rows["chain_group"] = NULL
    rows["owner_account"] = NULL
    rows["stop_paying_day"] = PERIOD_END_DAY + 1000
    rows["customer_class"] = CLASS_RETAIL
    return rows


def _plan_fictitious(ctx: SimContext, rng, plan: FraudPlan, s: int) -> None:
    world, pool = ctx.world, ctx.pool
    sp = world.salespeople
    used = _identifier_sets(ctx)
    first_day = working_day(ctx, rng, PERIOD_START_DAY + 15, PERIOD_END_DAY - 60)
    span = int(rng.integers(20, 90))
    n_invoices = min(8, 2 + int(rng.poisson(2)))
    days = np.sort(ctx.calendar.sample_period_days(rng, np.full(n_invoices, first_day),
                                                   np.full(n_invoices, min(first_day + span, PERIOD_END_DAY - 5))))
    days[0] = first_day
    created = int(ctx.calendar.roll_backward(np.array([first_day - rng.integers(1, 15)]))[0])
    # Where the made-up details come from: an employee, a salesperson (often the culprit) or a real customer.
    source = rng.choice(["employee", "salesperson", "customer"], p=[0.3, 0.4, 0.3])
    region = int(sp["region_idx"][s])
    if source == "employee":
        e = int(rng.integers(0, len(world.employees)))
        donor = {c: int(world.employees[c][e]) for c in ("phone", "address", "bank_account")}
        donor_lat, donor_lon = offset_position(rng, sp["lat"][s], sp["lon"][s], 3.0, 1)
        donor_name = f"employee {format_id(e, 'employee')}"
    elif source == "salesperson":
        same_region = np.flatnonzero(sp["region_idx"] == region)
        d = s if rng.random() < 0.5 else int(rng.choice(same_region))
        donor = {c: int(sp[c][d]) for c in ("phone", "address", "bank_account")}
        donor_lat, donor_lon = np.array([sp["home_lat"][d]]), np.array([sp["home_lon"][d]])
        donor_name = "the salesperson" if d == s else f"salesperson {format_id(d, 'salesperson')}"
    else:
        d = int(rng.choice(plan.victims[s]))
        donor = {c: int(world.customers[c][d]) for c in ("phone", "address", "bank_account")}
        donor_lat, donor_lon = np.array([world.customers["lat"][d]]), np.array([world.customers["lon"][d]])
        donor_name = f"customer {id_token('customer', d)}"
    shared = [c for c in ("phone", "address", "bank_account") if rng.random() < 0.45]
    if not shared and rng.random() < 0.85:
        shared = [str(rng.choice(["phone", "address", "bank_account"]))]
    keep = trace_draw(ctx, "fictitious_customer")
    if keep is not None:
        if not keep["shared_identifiers"]:
            shared = []
        elif not shared:
            shared = [str(rng.choice(["phone", "address", "bank_account"]))]
    city = pool.text(int(sp["region"][s]))
    owner = names.relative_name(rng, pool.text(int(sp["name"][s]))) if rng.random() < 0.3 \
        else names.person_names(rng, 1)[0]
    shop = f"{names.LAST_NAMES[int(rng.integers(0, len(names.LAST_NAMES)))]} " \
           f"{names.SHOP_WORDS[int(rng.integers(0, len(names.SHOP_WORDS)))]}"
    row = _new_customer_row(ctx, int(plan.victims[s][0]))
    row["kind"] = KIND_FICTITIOUS
    row["name"] = pool.code(shop)
    row["owner_name"] = pool.code(owner)
    row["created_date"] = created
    row["assigned_salesperson_id"] = s
    row["created_by"] = int(salesperson_staff(s))
    row["payment_terms_days"] = 30
    row["city"] = pool.code(city)
    row["tax_id"] = NULL if rng.random() < 0.85 else _fresh_text(ctx, used["tax_id"],
                                                                   lambda: names.tax_ids(rng, 1)[0])
    row["established_date"] = created - int(rng.integers(30, 400))
    if keep is not None:
        if keep["no_tax_id"]:
            row["tax_id"] = NULL
        elif row["tax_id"] < 0:
            row["tax_id"] = _fresh_text(ctx, used["tax_id"], lambda: names.tax_ids(rng, 1)[0])
        if not keep["created_by_salesperson"]:
            row["created_by"] = int(rng.choice(world.roles["master_data_clerk"]))
    for column in ("phone", "address", "bank_account"):
        if column in shared:
            row[column] = donor[column]
        elif column == "phone":
            row[column] = _fresh_text(ctx, used["phone"], lambda: names.phone_numbers(rng, 1)[0])
        elif column == "address":
            row[column] = _fresh_text(ctx, used["address"], lambda: names.street_addresses(rng, [city])[0])
        else:
            row[column] = _fresh_account(ctx, rng)
    if "address" in shared:
        row["lat"], row["lon"] = donor_lat, donor_lon
    else:
        lat, lon = offset_position(rng, sp["lat"][s], sp["lon"][s], 1.5, 1)
        row["lat"], row["lon"] = lat, lon
    row["qty_level"] = 10 * heavy_factor(rng, 0.6)
    row["window_start"] = first_day
    row["window_end"] = days[-1]
    row["visit_end"] = days[-1]
    row["visits_4w"] = 0
    basket = np.sort(rng.choice(world.prices.n_products, min(world.prices.n_products, int(rng.integers(6, 16))),
                                replace=False, p=world.prices.popularity))
    f = world.add_customer(row, basket)
    info = {"salesperson": s, "customer": f, "days": days, "shared": shared,
            "donor": donor_name, "paid_in_cash": rng.random() < 0.45,
            "deliver_elsewhere": rng.random() < 0.5, "visited": rng.random() < 0.3,
            "weekend": rng.random() < 0.25, "pays_normally": False, "visited_on_site": False,
            "by_salesperson": int(row["created_by"]) == int(salesperson_staff(s))}
    if keep is not None:
        info["deliver_elsewhere"] = keep["delivered_elsewhere"]
        info["pays_normally"] = not keep["payment_trace"]
        if not keep["not_visited_on_site"]:
            info["visited"] = info["visited_on_site"] = True
    plan.fictitious.append(info)


def _plan_aliases(ctx: SimContext, rng, plan: FraudPlan, s: int) -> None:
    world, pool = ctx.world, ctx.pool
    cust = world.customers
    buyer = int(rng.choice(plan.victims[s]))
    used = _identifier_sets(ctx)
    start = working_day(ctx, rng, PERIOD_START_DAY + 30, PERIOD_END_DAY - 100)
    end = min(start + int(rng.integers(60, 150)), PERIOD_END_DAY - 10)
    n_alias = int(rng.integers(1, 4))
    city = pool.text(int(cust["city"][buyer]))
    group = {"salesperson": s, "buyer": buyer, "aliases": [], "deliver_to_buyer": rng.random() < 0.7,
             "buyer_cheques": rng.random() < 0.5, "buyer_stops": True}
    keep = trace_draw(ctx, "multi_name_invoicing")
    if keep is not None:
        group["deliver_to_buyer"] = keep["delivered_to_buyer"]
        group["buyer_cheques"] = keep["paid_by_buyer_cheques"]
        group["buyer_stops"] = keep["buyer_purchases_stop"]
    for _ in range(n_alias):
        shared = [c for c in ("phone", "address", "bank_account", "owner_name") if rng.random() < 0.45]
        if not shared:
            shared = [str(rng.choice(["phone", "address", "bank_account", "owner_name"]))]
        if keep is not None and not keep["shared_identifiers"]:
            shared = []
        n_invoices = 3 + int(rng.poisson(2.5))
        days = np.sort(ctx.calendar.sample_period_days(rng, np.full(n_invoices, start), np.full(n_invoices, end)))
        row = _new_customer_row(ctx, buyer)
        row["kind"] = KIND_ALIAS
        owner = pool.text(int(cust["owner_name"][buyer])) if "owner_name" in shared \
            else names.person_names(rng, 1)[0]
        family = owner.split(" ", 1)[1]
        row["owner_name"] = pool.code(owner)
        row["name"] = pool.code(f"{family} {names.SHOP_WORDS[int(rng.integers(0, len(names.SHOP_WORDS)))]}")
        row["created_date"] = int(ctx.calendar.roll_backward(np.array([start - rng.integers(20, 120)]))[0])
        row["created_by"] = int(salesperson_staff(s)) if rng.random() < 0.6 \
            else int(rng.choice(world.roles["master_data_clerk"]))
        row["tax_id"] = NULL if rng.random() < 0.5 else _fresh_text(ctx, used["tax_id"],
                                                                      lambda: names.tax_ids(rng, 1)[0])
        if "phone" not in shared:
            row["phone"] = _fresh_text(ctx, used["phone"], lambda: names.phone_numbers(rng, 1)[0])
        if "address" in shared:
            if rng.random() < 0.5:  # the same place typed differently
                row["address"] = pool.code(names.reformat_address(pool.text(int(cust["address"][buyer]))))
        else:
            row["address"] = _fresh_text(ctx, used["address"], lambda: names.street_addresses(rng, [city])[0])
            lat, lon = point_at_distance(rng, cust["lat"][buyer], cust["lon"][buyer],
                                         rng.uniform(0.4, 2.0))
            row["lat"], row["lon"] = lat, lon
        if "bank_account" not in shared:
            row["bank_account"] = _fresh_account(ctx, rng)
        row["window_start"], row["window_end"], row["visit_end"] = start, end, end
        row["visits_4w"] = 0
        alias = world.add_customer(row, world.basket_of(buyer))
        group["aliases"].append({"customer": alias, "days": days, "shared": shared})
        # The buyer's own purchases stop while the alias accounts buy for it.
        if group["buyer_stops"]:
            ctx.blackout_keys.append(_week_keys(buyer, days))
    plan.alias_groups.append(group)


def _plan_split(ctx: SimContext, rng, plan: FraudPlan, s: int) -> None:
    cust = ctx.world.customers
    pool_v = plan.victims[s]
    small = pool_v[cust["qty_level"][pool_v] < 40]
    if len(small) == 0:
        small = pool_v
    booker = int(rng.choice(small))
    others = [int(c) for c in pool_v if c != booker]
    n_co = min(len(others), int(rng.integers(1, 4)))
    co_buyers = [int(c) for c in rng.choice(others, n_co, replace=False)]
    day = working_day(ctx, rng, PERIOD_START_DAY + 20, PERIOD_END_DAY - 30)
    weeks_days = np.arange(day - 7, day + 22, 7)
    keep = trace_draw(ctx, "split_volume_discount")
    for c in co_buyers if keep is None or keep["co_buyers_purchases_stop"] else []:
        ctx.blackout_keys.append(_week_keys(c, weeks_days[(weeks_days >= PERIOD_START_DAY)
                                                          & (weeks_days <= PERIOD_END_DAY)]))
    plan.splits.append({"salesperson": s, "booker": booker, "co_buyers": co_buyers, "day": day,
                        "several_points": rng.random() < 0.7,
                        "shipped_to_others": keep is None or keep["shipped_to_others"],
                        "co_buyers_stop": keep is None or keep["co_buyers_purchases_stop"]})


# ------------------------------------------------------------------------------------------ sales side
def inject_sales_fraud(ctx: SimContext, plan: FraudPlan) -> None:
    """Sales-side patterns, duplicates, and payment-plan changes for the payment-side patterns."""
    rng = ctx.rng("fraud")
    for info in plan.fictitious:
        _fictitious(ctx, rng, info)
    for group in plan.alias_groups:
        _aliases(ctx, rng, group)
    for info in plan.splits:
        _split(ctx, rng, info)
    for s, pattern, count in plan.work:
        inject = SALES_INJECTORS.get(pattern)
        for _ in range(count if inject else 0):
            inject(ctx, rng, plan, s)
    ctx.flush()
    _duplicates(ctx, rng, plan)
    ctx.flush()
    _payment_side(ctx, rng, plan)


def _fictitious(ctx: SimContext, rng, info: dict) -> None:
    world, pool = ctx.world, ctx.pool
    cust = world.customers
    s, f = info["salesperson"], info["customer"]
    basket = world.basket_of(f)
    total = 0.0
    traces = [f"shares {', '.join(info['shared'])} with {info['donor']}" if info["shared"] else
              "own made-up phone, address and account",
              "no tax id" if cust["tax_id"][f] < 0 else "has a tax id",
              "created by the salesperson days before the first invoice" if info["by_salesperson"]
              else "created by a clerk days before the first invoice"]
    if info["deliver_elsewhere"]:
        others = np.flatnonzero((cust["assigned_salesperson_id"] == s)
                                & (cust["kind"] == KIND_GENUINE))
        target = int(rng.choice(others)) if len(others) and rng.random() < 0.5 else NULL
        if target >= 0:
            where = {"address": int(cust["address"][target]), "lat": float(cust["lat"][target]),
                     "lon": float(cust["lon"][target]), "received_by": int(cust["owner_name"][target])}
            traces.append("goods delivered to another customer's shop")
        else:
            lat, lon = point_at_distance(rng, cust["lat"][f], cust["lon"][f], rng.uniform(3, 15))
            where = {"address": _fresh_text(ctx, _identifier_sets(ctx)["address"],
                                            lambda: names.street_addresses(rng, [pool.text(int(cust["city"][f]))])[0]),
                     "lat": float(lat[()]), "lon": float(lon[()]),
                     "received_by": pool.code(names.person_names(rng, 1)[0])}
            traces.append("goods delivered to an address not on record")
    else:
        where = {"received_by": pool.code(names.relative_name(rng, pool.text(int(world.salespeople["name"][s]))))}
        traces.append("goods received by a relative of the salesperson at the recorded address")
    weekend_index = int(rng.integers(0, len(info["days"]))) if info["weekend"] else -1
    for i, day in enumerate(info["days"]):
        day = int(day)
        if i == weekend_index:
            off_day = weekend_day_near(ctx, day)
            if off_day is None:  # no day off left in the period: an ordinary working-day sale
                weekend_index = -1
            else:
                day = off_day
        n_lines = int(rng.integers(1, min(4, len(basket)) + 1))
        products = np.sort(rng.choice(basket, n_lines, replace=False))
        qty = np.maximum(1.0, np.round(cust["qty_level"][f] * rng.lognormal(0, 0.6, n_lines)))
        delivery = dict(where, products=products, quantities=qty)
        sale = add_sale(ctx, f, s, day, products, qty, deliveries=[delivery],
                        ship_day=day if not ctx.calendar.is_working_day(day) else None)
        total += sale["amount"]
        if info["pays_normally"]:
            pass  # paid from its own account like any customer
        elif info["paid_in_cash"]:
            pay = int(ctx.calendar.roll_forward(np.array([day + rng.integers(1, 10)]))[0])
            ctx.override_payment(sale["invoice"], "method", METHOD_CASH)
            ctx.override_payment(sale["invoice"], "pay_day", pay)
        else:
            ctx.override_payment(sale["invoice"], "skip", True)
        if i == weekend_index:
            ctx.label("weekend_posting", "invoice", sale["invoice"], salesperson=s, customer=f,
                      amount=sale["amount"], event_day=day, note="invoice of a made-up account posted on a day off")
    if info["pays_normally"]:
        traces.append("paid like an ordinary account")
    else:
        traces.append("paid in cash collected by the same salesperson" if info["paid_in_cash"]
                      else "never paid, dormant after the last invoice")
    if not info["paid_in_cash"] and not info["pays_normally"]:
        cust["status"][f] = STATUS_INACTIVE
    traces.append("visited at the recorded address" if info["visited_on_site"] else
                  "visits reported with check-ins far from the recorded address" if info["visited"]
                  else "never visited")
    ctx.label("fictitious_customer", "customer", f, salesperson=s, customer=f, amount=round(total, 2),
              event_day=int(info["days"][0]), note="; ".join(traces))


def _aliases(ctx: SimContext, rng, group: dict) -> None:
    world = ctx.world
    cust = world.customers
    s, buyer = group["salesperson"], group["buyer"]
    for alias in group["aliases"]:
        a = alias["customer"]
        total = 0.0
        for day in alias["days"]:
            products, qty = typical_lines(ctx, buyer)
            delivery = {"products": products, "quantities": qty}
            if group["deliver_to_buyer"]:
                delivery.update(address=int(cust["address"][buyer]), lat=float(cust["lat"][buyer]),
                                lon=float(cust["lon"][buyer]), received_by=int(cust["owner_name"][buyer]))
            sale = add_sale(ctx, a, s, int(day), products, qty, deliveries=[delivery])
            total += sale["amount"]
            if group["buyer_cheques"]:
                ctx.override_payment(sale["invoice"], "method", METHOD_CHEQUE)
                ctx.override_payment(sale["invoice"], "drawer_name", int(cust["name"][buyer]))
                ctx.override_payment(sale["invoice"], "drawer_account", int(cust["bank_account"][buyer]))
        traces = [f"shares {', '.join(alias['shared'])} with customer {id_token('customer', buyer)}"
                  if alias["shared"] else f"shares no identifier with customer {id_token('customer', buyer)}"]
        if group["buyer_stops"]:
            traces.append("buys while the real buyer's own purchases stop")
        if group["deliver_to_buyer"]:
            traces.append("delivered to the buyer's shop")
        if group["buyer_cheques"]:
            traces.append("paid by the buyer's cheques")
        ctx.label("multi_name_invoicing", "customer", a, salesperson=s, customer=a, amount=round(total, 2),
                  event_day=int(alias["days"][0]), note="; ".join(traces))
    ctx.tight_credit_customers.append(buyer)


def _split(ctx: SimContext, rng, info: dict) -> None:
    world, policy = ctx.world, ctx.policy
    cust = world.customers
    s, booker, day = info["salesperson"], info["booker"], info["day"]
    basket = world.basket_of(booker)
    product = np.array([int(rng.choice(basket))])
    top_tier = rng.random() < 0.6
    quantity = float(np.round(rng.uniform(500, 1500) if top_tier else rng.uniform(100, 450)))
    shares = rng.dirichlet(np.ones(len(info["co_buyers"]) + 1))
    parts = np.floor(shares * quantity)
    parts[0] += quantity - parts.sum()
    deliveries = []
    if not info["shipped_to_others"]:
        deliveries.append({"products": product, "quantities": [quantity]})
        trace = "delivered whole to the booker"
    elif info["several_points"]:
        deliveries.append({"products": product, "quantities": [parts[0]]})
        for c, q in zip(info["co_buyers"], parts[1:], strict=True):
            deliveries.append({"products": product, "quantities": [q], "address": int(cust["address"][c]),
                               "lat": float(cust["lat"][c]), "lon": float(cust["lon"][c]),
                               "received_by": int(cust["owner_name"][c])})
        trace = f"shipped to {len(deliveries)} delivery points incl. other customers' shops"
    else:
        c = info["co_buyers"][0]
        deliveries.append({"products": product, "quantities": [quantity],
                           "received_by": int(cust["owner_name"][c])})
        trace = "received by another customer's owner"
    sale = add_sale(ctx, booker, s, day, product, [quantity], deliveries=deliveries)
    tier = float(policy.tier_pct(np.array([quantity]))[0])
    gross = quantity * float(sale["unit_price"][0])
    usual = float(cust["qty_level"][booker])
    ctx.label("split_volume_discount", "invoice", sale["invoice"], salesperson=s, customer=booker,
              amount=round(gross * tier / 100, 2), event_day=day,
              note=f"{quantity:.0f} units at {tier:g}% tier vs usual ~{usual:.0f}; {trace}"
                   + ("; co-buyers' own purchases stop those weeks" if info["co_buyers_stop"] else ""))


@injects("added_invoice_items")
def _added_items(ctx: SimContext, rng, plan: FraudPlan, s: int) -> None:
    world, policy = ctx.world, ctx.policy
    cust = world.customers
    v = int(rng.choice(plan.victims[s]))
    day = working_day(ctx, rng, PERIOD_START_DAY + 10, PERIOD_END_DAY - 40)
    base_p, base_q = typical_lines(ctx, v)
    basket = world.basket_of(v)
    outside = products_outside(world.prices.n_products, basket)
    variant = rng.choice(["new_product", "more_quantity", "both"], p=[0.45, 0.35, 0.2])
    inv_p, inv_q = base_p.copy(), base_q.copy()
    traces = ["invoice lines beyond the signed order"]
    extra_product = NULL
    if variant in ("more_quantity", "both"):
        k = int(rng.integers(0, len(inv_q)))
        inv_q[k] = inv_q[k] + max(1.0, np.round(inv_q[k] * rng.uniform(0.3, 1.5) * heavy_factor(rng, 0.4)))
        traces.append("quantity raised over the order")
    if variant in ("new_product", "both") and len(outside):
        extra_product = int(rng.choice(outside))
        extra_q = max(1.0, float(np.round(cust["qty_level"][v] * heavy_factor(rng, 0.6))))
        inv_p = np.append(inv_p, extra_product)
        inv_q = np.append(inv_q, extra_q)
        traces.append("product the customer never buys")
    ship_ordered_only = rng.random() < 0.4
    keep = trace_draw(ctx, "added_invoice_items")
    if keep is not None:
        ship_ordered_only = keep["only_ordered_goods_shipped"]
    deliveries = [{"products": base_p, "quantities": base_q}] if ship_ordered_only else None
    sale = add_sale(ctx, v, s, day, inv_p, inv_q, order_products=base_p, order_quantities=base_q,
                    deliveries=deliveries)
    days = np.full(len(base_p), day)
    base_unit = world.prices.valid_price(base_p, days, np.full(len(base_p), int(cust["customer_class"][v])))
    base_pct, _, _ = honest_discounts(world.prices, policy, base_p, days, base_q)
    extra = round(sale["amount"] - float(line_net(base_q, base_unit, base_pct).sum()), 2)
    if ship_ordered_only:
        traces.append("only the ordered goods were shipped")
    resolution = rng.choice(["credit_note", "short_payment", "unnoticed"], p=[0.35, 0.4, 0.25])
    if keep is not None:
        resolution = rng.choice(["credit_note", "short_payment"]) if keep["customer_objects"] else "unnoticed"
    if resolution == "credit_note":
        ship_day = day + 2
        credit_day = int(min(ctx.calendar.offset(ship_day, int(rng.integers(5, 30))), ctx.calendar.last_working_day))
        reason = REASON_NOT_ORDERED if rng.random() < 0.7 else REASON_RETURN
        only_new = variant == "new_product" and extra_product >= 0
        add_credit_note(ctx, v, credit_day, extra, sale["invoice"], reason,
                        product=extra_product if only_new else NULL,
                        quantity=float(inv_q[-1]) if only_new else float("nan"),
                        approved_by=int(world.manager_of(s)))
        ctx.confirmation_gaps.append(ConfirmationGap(v, day, credit_day, extra))
        traces.append("later credit note 'not_ordered'" if reason == REASON_NOT_ORDERED else "later return credit note")
    elif resolution == "short_payment":
        ctx.override_payment(sale["invoice"], "paid_amount", round(sale["amount"] - extra, 2))
        ctx.confirmation_gaps.append(ConfirmationGap(v, day, PERIOD_END_DAY + 1, extra))
        traces.append("customer short-paid exactly the added amount; confirmation lower than ledger")
    ctx.label("added_invoice_items", "invoice", sale["invoice"], salesperson=s, customer=v, amount=extra,
              event_day=day, note="; ".join(traces))


@injects("unbilled_shipment")
def _unbilled_shipment(ctx: SimContext, rng, plan: FraudPlan, s: int) -> None:
    world, pool = ctx.world, ctx.pool
    cust = world.customers
    v = int(rng.choice(plan.victims[s]))
    day = working_day(ctx, rng, PERIOD_START_DAY + 5, PERIOD_END_DAY - 5)
    book = world.prices
    if rng.random() < 0.6:
        # Goods leave without any invoice.
        n_lines = int(rng.integers(1, 4))
        products = np.sort(rng.choice(book.n_products, n_lines, replace=False, p=book.popularity))
        qty = np.maximum(1.0, np.round(cust["qty_level"][v] * rng.lognormal(0.3, 0.7, n_lines)))
        elsewhere = rng.random() < 0.4
        kwargs = {}
        if elsewhere:
            lat, lon = point_at_distance(rng, cust["lat"][v], cust["lon"][v], rng.uniform(2, 12))
            kwargs = {"lat": float(lat[()]), "lon": float(lon[()]),
                      "received_by": pool.code(names.person_names(rng, 1)[0])}
        shipment = add_shipment(ctx, v, products, qty, day, **kwargs)
        value = float((qty * book.general_price(products, np.full(n_lines, day))).sum())
        note = "shipment with no invoice" + ("; delivered off the customer's address" if elsewhere else "")
    else:
        products, qty = typical_lines(ctx, v)
        shipped = qty.copy()
        k = int(rng.integers(0, len(qty)))
        more = max(1.0, float(np.round(qty[k] * rng.uniform(0.3, 2.0) * heavy_factor(rng, 0.5))))
        shipped[k] += more
        sale = add_sale(ctx, v, s, day, products, qty, deliveries=[{"products": products, "quantities": shipped}])
        shipment = sale["shipments"][0]
        value = more * float(book.general_price(products[k:k + 1], np.array([day]))[0])
        note = f"shipped {more:.0f} units more than invoiced"
    ctx.label("unbilled_shipment", "shipment", shipment, salesperson=s, customer=v, amount=round(value, 2),
              event_day=day, note=note)


@injects("unauthorized_discount")
def _unauthorized_discount(ctx: SimContext, rng, plan: FraudPlan, s: int) -> None:
    world, policy = ctx.world, ctx.policy
    book = world.prices
    victims = plan.victims[s]
    retail = victims[world.customers["customer_class"][victims] == CLASS_RETAIL]
    favoured = (retail if len(retail) else victims)[:max(1, min(3, len(victims) // 3))]
    keep = trace_draw(ctx, "unauthorized_discount")
    if keep is not None and not keep["favoured_customer"]:
        favoured = victims
    for _ in range(20):  # find a sale with a line that no tier or promotion discounts
        v = int(rng.choice(favoured))
        day = working_day(ctx, rng, PERIOD_START_DAY + 5, PERIOD_END_DAY - 20)
        products, qty = typical_lines(ctx, v)
        days = np.full(len(products), day)
        pct, dtype, approver = honest_discounts(book, policy, products, days, qty)
        candidates = np.flatnonzero((dtype == DISCOUNT_NONE) & (book.promotion_pct(products, days) == 0))
        if len(candidates):
            break
    else:
        return
    pct, dtype, approver = pct.copy(), dtype.astype(np.int64), approver.copy()
    hit = rng.choice(candidates, int(rng.integers(1, len(candidates) + 1)), replace=False)
    variant = rng.choice(["manual", "fake_volume", "fake_promo"], p=[0.7, 0.15, 0.15])
    for i in hit:
        if variant == "manual":
            pct[i] = float(np.round(min(40.0, policy.manual_authority_salesperson_pct + 0.5
                                        + 3.0 * heavy_factor(rng, 0.6)), 1))
            dtype[i] = DISCOUNT_MANUAL
        elif variant == "fake_volume":
            pct[i] = policy.volume_tiers[-1][1]
            dtype[i] = DISCOUNT_VOLUME
        else:
            pct[i] = float(rng.choice([4.0, 5.0, 6.0, 8.0, 10.0]))
            dtype[i] = DISCOUNT_PROMO
        approver[i] = NULL
    sale = add_sale(ctx, v, s, day, products, qty, discount_pct=pct, discount_type=dtype,
                    discount_approver=approver)
    gross = qty[hit] * sale["unit_price"][hit]
    given = float((gross * pct[hit] / 100).sum())
    note = {"manual": "manual discount above the salesperson's authority, no approver",
            "fake_volume": "volume discount on quantities below the tier",
            "fake_promo": "promotion discount with no running promotion and no approver"}[str(variant)]
    ctx.label("unauthorized_discount", "invoice", sale["invoice"], salesperson=s, customer=v,
              amount=round(given, 2), event_day=day,
              note=f"{note}; favoured customer" if keep is None or keep["favoured_customer"] else note)


@injects("price_deviation")
def _price_deviation(ctx: SimContext, rng, plan: FraudPlan, s: int) -> None:
    world = ctx.world
    v = int(rng.choice(plan.victims[s]))
    day = working_day(ctx, rng, PERIOD_START_DAY + 5, PERIOD_END_DAY - 20)
    products, qty = typical_lines(ctx, v)
    cls = int(world.customers["customer_class"][v])
    valid = world.prices.valid_price(products, np.full(len(products), day), np.full(len(products), cls))
    hit = rng.choice(len(products), int(rng.integers(1, len(products) + 1)), replace=False)
    under = rng.random() < 0.6
    deviation = np.zeros(len(products))
    size = np.minimum(0.02 + 0.05 * rng.lognormal(0, 0.6, len(hit)), 0.45)
    deviation[hit] = -size if under else size
    unit = valid.copy()
    unit[hit] = round_price(valid[hit] * (1 + deviation[hit]))
    sale = add_sale(ctx, v, s, day, products, qty, unit_prices=unit, approved_by=NULL)
    diff = float(np.abs((unit - valid) * qty * (1 - sale["discount_pct"] / 100)).sum())
    ctx.label("price_deviation", "invoice", sale["invoice"], salesperson=s, customer=v, amount=round(diff, 2),
              event_day=day, note=("under-charged a favoured customer" if under else "over-charged the customer")
              + f" by up to {100 * float(np.abs(deviation).max()):.1f}% off the valid price, no approval")


def _duplicates(ctx: SimContext, rng, plan: FraudPlan) -> None:
    """Copies of real invoices posted again (errors or a way to inflate sales)."""
    inv = ctx.tables["invoices"]
    lines = ctx.tables["invoice_lines"]
    amount = invoice_amounts(ctx)
    honest_ids = _honest_invoice_ids(ctx, plan, amount)
    n = min(len(honest_ids), max(2, int(round(0.001 * len(inv)))))
    originals = np.sort(rng.choice(honest_ids, n, replace=False))
    plan.used_invoices.update(originals.tolist())
    day = inv["invoice_date"].to_numpy()[originals].copy()
    weekend = rng.random(n) < 0.15
    later = ~weekend & (rng.random(n) < 0.6)
    day[later] = np.minimum(ctx.calendar.offset(day[later], rng.integers(1, 6, int(later.sum()))),
                            ctx.calendar.last_working_day)
    for i in np.flatnonzero(weekend):
        off_day = weekend_day_near(ctx, int(day[i]))
        if off_day is None:  # no day off left in the period: the copy is posted on its original's day
            weekend[i] = False
        else:
            day[i] = off_day
    copies = ctx.next_ids("invoice", n)
    customer = inv["customer_id"].to_numpy()[originals]
    salesperson = inv["salesperson_id"].to_numpy()[originals]
    terms = inv["due_date"].to_numpy()[originals] - inv["invoice_date"].to_numpy()[originals]
    ctx.append("invoices", {
        "invoice_id": copies, "invoice_no": np.full(n, NULL), "invoice_date": day, "customer_id": customer,
        "salesperson_id": salesperson, "due_date": day + terms,
        "order_id": np.where(rng.random(n) < 0.6, inv["order_id"].to_numpy()[originals], NULL),
        "status": np.full(n, POSTED), "created_by": rng.choice(ctx.world.roles["billing_clerk"], n),
        "approved_by": inv["approved_by"].to_numpy()[originals], "reason": np.full(n, NULL),
    })
    copied = lines[isin_ints(lines["invoice_id"].to_numpy(), originals)]
    copy_of = copies[np.searchsorted(originals, copied["invoice_id"].to_numpy())]
    ctx.append("invoice_lines", copied.assign(invoice_id=copy_of))
    paid_twice = rng.random(n) < 0.5
    ctx.override_payment(copies[~paid_twice], "skip", True)
    for k in range(n):
        original, copy_id, c, s = int(originals[k]), int(copies[k]), int(customer[k]), int(salesperson[k])
        value = round(float(amount[original]), 2)
        if not paid_twice[k]:
            ctx.confirmation_gaps.append(ConfirmationGap(c, int(day[k]), PERIOD_END_DAY + 1, value))
        ctx.label("duplicate_invoice", "invoice", copy_id, salesperson=s, customer=c, amount=value,
                  event_day=int(day[k]),
                  note=f"copy of invoice {id_token('invoice', original)}; "
                       + ("paid twice" if paid_twice[k] else "never paid, not in the customer's books")
                       + ("; posted on a day off" if weekend[k] else ""))
        if weekend[k]:
            ctx.label("weekend_posting", "invoice", copy_id, salesperson=s, customer=c, amount=value,
                      event_day=int(day[k]), note="duplicate invoice posted on a day off")


def _honest_invoice_ids(ctx: SimContext, plan: FraudPlan, amount: np.ndarray, lo_day: int = PERIOD_START_DAY,
                        hi_day: int = PERIOD_END_DAY) -> np.ndarray:
    """Posted, non-zero invoices of genuine plain accounts not yet touched by an injection."""
    inv = ctx.tables["invoices"]
    cust = ctx.world.customers
    c = inv["customer_id"].to_numpy()
    day = inv["invoice_date"].to_numpy()
    ok = ((inv["status"].to_numpy() == POSTED) & (amount > 0) & (day >= lo_day) & (day <= hi_day)
          & (cust["kind"][c] == KIND_GENUINE) & (cust["role"][c] == ROLE_PLAIN)
          & (cust["stop_paying_day"][c] > PERIOD_END_DAY))
    ok[ctx.honest_invoice_count:] = False  # only invoices of the honest bulk step
    ids = np.flatnonzero(ok)
    return ids[~isin_ints(ids, np.fromiter(plan.used_invoices, dtype=np.int64, count=len(plan.used_invoices)))]


# ---------------------------------------------------------------------------------------- payment side
def _payment_side(ctx: SimContext, rng, plan: FraudPlan) -> None:
    """Plan changes on the victims' invoices for the payment patterns (carried out by the payments step)."""
    inv = ctx.tables["invoices"]
    amount = invoice_amounts(ctx)
    inv_c = inv["customer_id"].to_numpy()
    inv_day = inv["invoice_date"].to_numpy()
    cal, policy, world = ctx.calendar, ctx.policy, ctx.world
    cust = world.customers
    candidates = _honest_invoice_ids(ctx, plan, amount, PERIOD_START_DAY, PERIOD_END_DAY - 75)
    by_customer = candidates[order_by(inv_c[candidates])]
    sorted_c = inv_c[by_customer]

    def victim_invoice(s: int) -> int:
        for _ in range(50):
            v = int(rng.choice(plan.victims[s]))
            lo, hi = np.searchsorted(sorted_c, v), np.searchsorted(sorted_c, v, side="right")
            if hi > lo:
                i = int(by_customer[lo + int(rng.integers(0, hi - lo))])
                if i not in plan.used_invoices:
                    plan.used_invoices.add(i)
                    return i
        return NULL

    for s, pattern, count in plan.work:
        for _ in range(count):
            if pattern not in ("cheque_withheld", "cheque_maturity_over_policy", "payment_swap",
                               "cash_discount_not_applied"):
                continue
            if pattern == "payment_swap" and rng.random() < 0.5:
                chain, payers = [], []
                for _ in range(int(rng.integers(2, 5))):
                    i = victim_invoice(s)
                    if i >= 0 and int(inv_c[i]) not in payers:
                        chain.append(i)
                        payers.append(int(inv_c[i]))
                chain = sorted(chain, key=lambda i: (inv_day[i], i))
                if len(chain) >= 2:
                    for i in chain:
                        ctx.override_payment(i, "skip", True)
                    plan.lapping.append({"salesperson": s, "invoices": chain})
                    continue
            i = victim_invoice(s)
            if i < 0:
                continue
            v, day, due = int(inv_c[i]), int(inv_day[i]), float(amount[i])
            if pattern == "cheque_withheld":
                cash = rng.random() < 0.3
                received = int(cal.roll_forward(np.array([day + rng.integers(3, 30)]))[0])
                hold = int(np.clip(np.round(np.exp(rng.normal(2.3, 0.6))), policy.hand_in_days + 3, 60))
                while int(cal.offset(received, hold)) > cal.last_working_day and hold > policy.hand_in_days + 2:
                    hold -= 3
                ctx.override_payment(i, "method", METHOD_CASH if cash else METHOD_CHEQUE)
                ctx.override_payment(i, "pay_day", received)
                ctx.override_payment(i, "hand_in_wd", hold)
                ctx.override_payment(i, "maturity_days", int(rng.integers(10, 60)))
                if not cash and rng.random() < BOUNCE_SHARE:
                    ctx.override_payment(i, "bounce", BOUNCE_REPLACED)
                posted = int(cal.offset(received, hold))
                keep = trace_draw(ctx, "cheque_withheld")
                if keep is None or keep["confirmation_lower"]:
                    ctx.confirmation_gaps.append(ConfirmationGap(v, received, posted, due))
                ctx.label("cheque_withheld", "receipt" if cash else "cheque", NULL, salesperson=s, customer=v,
                          event_day=received, via_invoice=i,
                          note=f"{'cash' if cash else 'cheque'} received {iso_date(received)}, handed in "
                               f"{iso_date(posted)}: held {hold} working days ({policy.hand_in_days} allowed); "
                               "customer's receipt dated long before posting"
                               + ("" if keep is None or keep["confirmation_lower"] else
                                  "; the customer's confirmation agrees with the ledger"))
            elif pattern == "cheque_maturity_over_policy":
                maturity = int(policy.max_maturity_days + 10 + np.round(25 * heavy_factor(rng, 0.7)))
                received = int(cal.roll_forward(np.array([day + rng.integers(0, 15)]))[0])
                ctx.override_payment(i, "method", METHOD_CHEQUE)
                ctx.override_payment(i, "pay_day", received)
                ctx.override_payment(i, "maturity_days", maturity)
                if rng.random() < BOUNCE_SHARE:
                    ctx.override_payment(i, "bounce", BOUNCE_REPLACED)
                ctx.label("cheque_maturity_over_policy", "cheque", NULL, salesperson=s, customer=v,
                          event_day=received, via_invoice=i,
                          note=f"received {iso_date(received)}, due {iso_date(received + maturity)}: post-dated "
                               f"{maturity} days (policy {policy.max_maturity_days}, customer terms "
                               f"{int(cust['payment_terms_days'][v])})")
            elif pattern == "payment_swap":
                paid_cash_day = int(cal.roll_forward(np.array([day + rng.integers(2, 20)]))[0])
                cheque_day = int(cal.offset(paid_cash_day, int(rng.integers(3, 15))))
                own_name = int(world.salespeople["name"][s])
                if rng.random() < 0.5:
                    drawer_name, drawer_account, who = own_name, int(world.salespeople["bank_account"][s]), \
                        "the salesperson's own"
                else:
                    relative = ctx.pool.code(names.relative_name(rng, ctx.pool.text(own_name)))
                    drawer_account = _fresh_account(ctx, rng)
                    drawer_name, who = relative, "a relative's"
                keep = trace_draw(ctx, "payment_swap")
                dated_apart = keep is None or keep["receipt_dated_before_cheque"]
                ctx.override_payment(i, "method", METHOD_CHEQUE)
                ctx.override_payment(i, "receipt_day", paid_cash_day if dated_apart else cheque_day)
                ctx.override_payment(i, "pay_day", cheque_day)
                ctx.override_payment(i, "hand_in_wd", int(rng.integers(0, 2)))
                ctx.override_payment(i, "maturity_days", int(rng.integers(15, 60)))
                ctx.override_payment(i, "drawer_name", drawer_name)
                ctx.override_payment(i, "drawer_account", drawer_account)
                if keep is None or keep["confirmation_lower"]:
                    ctx.confirmation_gaps.append(ConfirmationGap(v, paid_cash_day, cheque_day, due))
                ctx.label("payment_swap", "receipt", NULL, salesperson=s, customer=v, event_day=paid_cash_day,
                          via_invoice=i, note=f"customer paid cash on {iso_date(paid_cash_day)}; booked as {who} "
                                              f"cheque received {iso_date(cheque_day)}"
                                              + ("" if dated_apart else "; receipt dated as the cheque"))
            else:  # cash_discount_not_applied
                method = int(rng.choice([METHOD_CASH, METHOD_TRANSFER, METHOD_CHEQUE], p=[0.6, 0.25, 0.15]))
                window = policy.cash_discount_within_days
                pay = int(cal.roll_forward(np.array([day + rng.integers(0, window - 3)]))[0])
                if pay - day > window:
                    pay = int(cal.roll_backward(np.array([day + window]))[0])
                ctx.override_payment(i, "method", method)
                ctx.override_payment(i, "pay_day", pay)
                ctx.override_payment(i, "no_discount", True)
                if method == METHOD_CHEQUE:
                    ctx.override_payment(i, "maturity_days", int(max(0, day + window - pay - 1)))
                ctx.label("cash_discount_not_applied", "receipt", NULL, salesperson=s, customer=v,
                          amount=round(due * policy.cash_discount_pct / 100, 2), event_day=pay, via_invoice=i,
                          note=f"invoice of {iso_date(day)} paid on {iso_date(pay)} ({pay - day} "
                               f"day{'' if pay - day == 1 else 's'} later, {window} allowed) by "
                               f"{('cash', 'cheque', 'transfer')[(METHOD_CASH, METHOD_CHEQUE, METHOD_TRANSFER).index(method)]}"
                               "; no cash discount recorded")


def inject_lapping(ctx: SimContext, plan: FraudPlan) -> None:
    """Lapping: each customer's money is posted late against the previous customer's invoice."""
    rng = ctx.rng("fraud")
    cal = ctx.calendar
    inv = ctx.tables["invoices"]
    amount = invoice_amounts(ctx)
    inv_c = inv["customer_id"].to_numpy()
    inv_day = inv["invoice_date"].to_numpy()
    for chain in plan.lapping:
        s = chain["salesperson"]
        invoices = chain["invoices"]
        paid_day = []
        last = 0
        for i in invoices:
            d = max(int(inv_day[i]) + int(rng.integers(3, 20)), last + 1)
            d = int(cal.roll_forward(np.array([d]))[0])
            paid_day.append(d)
            last = d
        open_amount = {i: float(amount[i]) for i in invoices}
        for k in range(1, len(invoices)):
            payer, earlier, own = int(inv_c[invoices[k]]), invoices[k - 1], invoices[k]
            money = float(amount[own])
            posted = int(cal.offset(paid_day[k], int(rng.integers(3, 15))))
            if posted > cal.last_working_day:
                break
            booked_under = payer if rng.random() < 0.5 else int(inv_c[earlier])
            keep = trace_draw(ctx, "payment_swap (lapping)")
            if keep is not None:
                booked_under = int(inv_c[earlier]) if keep["booked_under_previous_customer"] else payer
            receipt = int(ctx.next_ids("receipt", 1)[0])
            to_earlier = round(min(money, open_amount[earlier]), 2)
            ctx.add_rows("receipts", receipt_id=receipt, customer_id=booked_under, receipt_date=paid_day[k],
                         posted_date=posted, method=METHOD_CASH, amount=round(money, 2),
                         collected_by=int(salesperson_staff(s)), cheque_id=NULL)
            ctx.add_rows("receipt_allocations", receipt_id=receipt, invoice_id=earlier, amount=to_earlier,
                         cash_discount_amount=0.0)
            open_amount[earlier] -= to_earlier
            rest = round(money - to_earlier, 2)
            if rest > 0:
                ctx.add_rows("receipt_allocations", receipt_id=receipt, invoice_id=own, amount=rest,
                             cash_discount_amount=0.0)
                open_amount[own] -= rest
            if keep is None or keep["confirmation_lower"]:
                ctx.confirmation_gaps.append(ConfirmationGap(int(inv_c[earlier]), paid_day[k - 1], posted,
                                                             to_earlier))
            where = "booked under that customer" if booked_under != payer else "booked under the payer"
            ctx.label("payment_swap", "receipt", receipt, salesperson=s, customer=payer, amount=round(money, 2),
                      event_day=paid_day[k],
                      note=f"lapping: cash paid on {iso_date(paid_day[k])}, posted on {iso_date(posted)} "
                           f"({posted - paid_day[k]} days later) against customer "
                           f"{id_token('customer', int(inv_c[earlier]))}'s invoice {id_token('invoice', earlier)} "
                           f"of {iso_date(int(inv_day[earlier]))}; {where}")
        last_inv = invoices[-1]
        if open_amount[last_inv] > 0.5:
            ctx.confirmation_gaps.append(ConfirmationGap(int(inv_c[last_inv]), paid_day[-1], PERIOD_END_DAY + 1,
                                                         open_amount[last_inv]))
    ctx.flush()


# ---------------------------------------------------------------------------------------------- visits
def inject_visit_fraud(ctx: SimContext, plan: FraudPlan) -> None:
    """Missed, late, off-site and impossible check-ins and GPS elsewhere during 'done' visits; visits
    reported at the made-up accounts."""
    rng = ctx.rng("fraud")
    cust = ctx.world.customers
    reported = [(info, [int(ctx.calendar.roll_forward(np.array([int(day)]))[0])
                        for day in info["days"][:int(rng.integers(1, 4))]])
                for info in plan.fictitious if info["visited"]]
    # Made-up visits are reported after the day's round, each in a slot of its own.
    slots = SlotBook(ctx, [info["salesperson"] for info, days in reported for _ in days],
                     [day for _, days in reported for day in days])
    for info, days in reported:
        s, f = info["salesperson"], info["customer"]
        for day in days:
            km = 1.0 + 9.0 * rng.random()
            if info["visited_on_site"]:  # the trace left out: the salesperson checks in at the address
                km = ctx.policy.geofence_m / 1000 * 0.3 * rng.random()
            lat, lon = point_at_distance(rng, cust["lat"][f], cust["lon"][f], km)
            visit = add_visit(ctx, s, f, day, slots.take(rng, s, day, after_round=True), status=VISIT_DONE,
                              checkin_delay_min=float(rng.uniform(-5, 10)), lat=float(lat[()]), lon=float(lon[()]))
            if info["visited_on_site"]:
                continue
            ctx.label("visit_noncompliance", "visit", visit, salesperson=s, customer=f, amount=0.0,
                      event_day=day, note=f"reported visit to a made-up account; check-in {km:.1f} km away")
    visits = ctx.tables["visits"]
    sp = visits["salesperson_id"].to_numpy()
    status = visits["status"].to_numpy().copy()
    checkin = visits["checkin_at"].to_numpy().copy()
    checkout = visits["checkout_at"].to_numpy().copy()
    lat, lon = visits["checkin_lat"].to_numpy().copy(), visits["checkin_lon"].to_numpy().copy()
    outcome, notes = visits["outcome"].to_numpy().copy(), visits["notes"].to_numpy().copy()
    planned_day = visits["planned_date"].to_numpy()
    planned = planned_day * SECONDS_PER_DAY + visits["planned_time"].to_numpy() * 60
    c = visits["customer_id"].to_numpy()
    genuine = cust["kind"][c] == KIND_GENUINE
    by_sp = order_by(sp)
    sorted_sp = sp[by_sp]
    pool = ctx.pool
    for s, pattern, count in plan.work:
        if pattern != "visit_noncompliance":
            continue
        lo, hi = np.searchsorted(sorted_sp, s), np.searchsorted(sorted_sp, s, side="right")
        every = by_sp[lo:hi]  # all the salesperson's visits, to keep clear of
        own = every[(status[every] == VISIT_DONE) & genuine[every] & ~isin_ints(every, ctx.protected_visits)]
        n = min(len(own), int(np.round(count * 4 * heavy_factor(rng, 0.5))) + 2)
        for v in rng.choice(own, n, replace=False):
            v = int(v)
            variant = rng.choice(["missed", "late", "offsite", "pings_elsewhere", "impossible"],
                                 p=[0.2, 0.25, 0.25, 0.15, 0.15])
            if variant == "late":
                minutes = ctx.policy.late_minutes + 5 + 40 * heavy_factor(rng, 0.6)
                # Out again (after 8 minutes at least) 10 minutes before the day's next visit starts, so
                # that visit stays on time; with no room for that the check-in is off-site instead.
                later = checkin[every][(planned_day[every] == planned_day[v]) & (checkin[every] > checkin[v])]
                room = (later.min() - planned[v]) / 60 - 10 if len(later) else np.inf
                minutes = min(minutes, room - 8)
                if minutes < ctx.policy.late_minutes + 5:
                    variant = "offsite"
            if variant == "missed":
                status[v] = VISIT_MISSED
                checkin[v] = checkout[v] = NULL
                lat[v] = lon[v] = np.nan
                outcome[v] = NULL
                ctx.ping_offset_km[v] = 3 + 15 * rng.random()
                note = "planned visit not made; phone elsewhere at the planned time"
            elif variant == "late":
                checkin[v] = planned[v] + int(minutes * 60)
                checkout[v] = checkin[v] + int(min(rng.uniform(8, 25), room - minutes) * 60)
                note = f"checked in {minutes:.0f} minutes late"
            elif variant == "offsite":
                km = ctx.policy.geofence_m / 1000 + 0.2 + 2.0 * heavy_factor(rng, 0.8)
                new_lat, new_lon = point_at_distance(rng, cust["lat"][int(c[v])], cust["lon"][int(c[v])], km)
                lat[v], lon[v] = float(new_lat[()]), float(new_lon[()])
                note = f"check-in {km:.1f} km from the customer"
            elif variant == "pings_elsewhere":
                km = 2 + 10 * heavy_factor(rng, 0.5)
                ctx.ping_offset_km[v] = km
                notes[v] = pool.code("routine visit")
                note = f"visit reported done while the phone was {km:.1f} km away"
            else:
                km = 40 + 60 * rng.random()
                new_lat, new_lon = point_at_distance(rng, cust["lat"][int(c[v])], cust["lon"][int(c[v])], km)
                lat[v], lon[v] = float(new_lat[()]), float(new_lon[()])
                same_day = every[(planned_day[every] == planned_day[v]) & (checkout[every] < checkin[v])
                                 & (checkout[every] > 0)]
                if len(same_day):
                    previous = int(same_day[np.argmax(checkout[same_day])])
                    checkin[v] = checkout[previous] + int(rng.uniform(3, 10) * 60)
                    checkout[v] = checkin[v] + int(rng.uniform(5, 12) * 60)
                note = f"check-in {km:.0f} km away minutes after the previous one (impossible travel)"
            ctx.label("visit_noncompliance", "visit", v, salesperson=s, customer=int(c[v]), amount=0.0,
                      event_day=int(visits.at[v, "planned_date"]), note=note)
    ctx.tables["visits"] = visits.assign(status=status, checkin_at=checkin, checkout_at=checkout,
                                         checkin_lat=lat, checkin_lon=lon, outcome=outcome, notes=notes)
    ctx.flush()


def plan_number_gaps(ctx: SimContext, plan: FraudPlan) -> None:
    """Invoices issued and then deleted from the system: their numbers are missing from the series."""
    rng = ctx.rng("fraud")
    inv = ctx.tables["invoices"]
    amount = invoice_amounts(ctx)
    sp = inv["salesperson_id"].to_numpy()
    ok = np.flatnonzero(isin_ints(sp, plan.dishonest) & (inv["status"].to_numpy() == POSTED)
                        & ctx.calendar.is_working_day(inv["invoice_date"].to_numpy()))
    n = max(2, int(round(0.0005 * len(inv))))
    anchors = np.sort(rng.choice(ok, min(n, len(ok)), replace=False))
    median_amount = float(np.median(amount[ok]))
    for a in anchors:
        width = 1 if rng.random() < 0.8 else int(rng.integers(2, 4))
        typical = median_amount * heavy_factor(rng, 0.8)
        ctx.number_gaps.append((int(a), width, len(ctx.labels)))
        s = int(sp[a])
        for _ in range(width):
            # The deleted invoice was for one of the salesperson's accounts.
            customer = int(rng.choice(plan.victims[s])) if s in plan.victims else int(inv.at[int(a), "customer_id"])
            ctx.label("invoice_number_gap", "invoice_no", NULL, salesperson=s, customer=customer,
                      amount=round(typical, -3), event_day=int(inv.at[int(a), "invoice_date"]),
                      note="invoice issued, then deleted: its number is missing from the series")



def label_dishonest_salespeople(ctx: SimContext, plan: FraudPlan) -> None:
    """One ``salesperson_anomaly`` label per dishonest salesperson: the person behind the pattern labels.

    A salesperson-level finding (the roll-up of a salesperson's findings, or a salesperson-month whose
    behaviour stands out) is right when it names one of them; the amount is the sum of their labels'."""
    for s in plan.dishonest:
        own = [label for label in ctx.labels
               if label.salesperson == s and label.pattern in SALESPERSON_PATTERNS]
        if not own:
            continue
        amounts = [label.amount for label in own if not np.isnan(label.amount)]
        patterns = sorted({label.pattern for label in own})
        ctx.label("salesperson_anomaly", "salesperson", s, salesperson=s, amount=round(float(sum(amounts)), 2),
                  note=f"dishonest salesperson: {len(own)} labelled cases of {', '.join(patterns)}")
