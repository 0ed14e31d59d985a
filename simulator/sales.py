"""Orders, invoices, shipments and credit notes.

Honest trading is generated in bulk (vectorised): every order is invoiced with exactly its lines at the
valid price and the discounts the policy's rules give, and shipped in full to the customer's own address
within two working days. :func:`add_sale` records a single sale for the injections and look-alikes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .arrays import isin_ints, order_by, unique_ints
from .context import SimContext
from .ids import salesperson_staff
from .pricing import (
    CLASS_CHAIN,
    CLASS_WHOLESALE,
    DISCOUNT_MANUAL,
    DISCOUNT_NONE,
    honest_discounts,
)
from .workdays import NULL, PERIOD_END_DAY, PERIOD_START_DAY, day_number
from .world import KIND_GENUINE, ROLE_BULK_WHOLESALER

ORDER_SOURCES = ("salesperson", "phone", "portal", "edi")
SOURCE_SALESPERSON, SOURCE_PHONE, SOURCE_PORTAL, SOURCE_EDI = range(4)
INVOICE_STATUSES = ("posted", "cancelled")
POSTED, CANCELLED = range(2)
CREDIT_REASONS = ("return", "price_adjustment", "not_ordered", "damaged", "discount", "other")
REASON_RETURN, REASON_PRICE_ADJUSTMENT, REASON_NOT_ORDERED, REASON_DAMAGED = range(4)
HONEST_SHARE_OF_LINES = 0.985  # the rest of the target comes from look-alikes and injections


def line_net(quantity, unit_price, discount_pct) -> np.ndarray:
    """The contract's net line amount."""
    return np.asarray(quantity) * np.asarray(unit_price) * (1.0 - np.asarray(discount_pct) / 100.0)


def invoice_amounts(ctx: SimContext) -> np.ndarray:
    """Net amount of every invoice (indexed by invoice id); recomputed only when the tables changed."""
    lines = ctx.tables["invoice_lines"]
    version = (len(ctx.tables["invoices"]), len(lines), id(lines))
    cached = ctx.cache.get("invoice_amounts")
    if cached is not None and cached[0] == version:
        return cached[1]
    net = line_net(lines["quantity"].to_numpy(), lines["unit_price"].to_numpy(),
                   lines["discount_pct"].to_numpy())
    amounts = np.bincount(lines["invoice_id"].to_numpy(), weights=net, minlength=len(ctx.tables["invoices"]))
    amounts.setflags(write=False)
    ctx.cache["invoice_amounts"] = (version, amounts)
    return amounts


def usual_spread(rng: np.random.Generator, sigma: float, n: int) -> np.ndarray:
    """Lognormal order-to-order variation of a quantity, cut at 2.5 sigma: an honest order is never
    many times the customer's usual one."""
    return np.exp(sigma * np.clip(rng.standard_normal(n), -2.5, 2.5))


def last_working_day_by(ctx: SimContext, days) -> np.ndarray:
    """Dates after the period end are pulled back to the period's last working day."""
    return np.minimum(np.asarray(days), ctx.calendar.last_working_day)


def generate_honest_sales(ctx: SimContext) -> None:
    rng = ctx.rng("sales")
    world, cal, policy = ctx.world, ctx.calendar, ctx.policy
    book = world.prices
    cust = world.customers
    genuine = cust["kind"] == KIND_GENUINE
    ws, we = cust["window_start"], cust["window_end"]
    size = cust["size"]
    lam = cust["lines_lambda"]
    start_idx = np.searchsorted(cal.period_days, ws)
    end_idx = np.searchsorted(cal.period_days, we, side="right") - 1
    cdf = cal.period_cdf
    share = np.where(end_idx >= start_idx,
                     cdf[np.clip(end_idx, 0, len(cdf) - 1)] - np.where(start_idx > 0, cdf[np.maximum(start_idx - 1, 0)], 0),
                     0.0)
    share = np.where(genuine, share, 0.0)
    # Expected distinct products per invoice: 1 + Poisson(lambda) draws from the basket, repeats merged.
    basket = np.maximum(cust["basket_len"], 1)
    lines_per_invoice = np.maximum(1.0, basket * (1 - (1 - 1 / basket) ** (1 + lam)))
    scale = HONEST_SHARE_OF_LINES * ctx.params.target_lines / max(np.sum(size * share * lines_per_invoice), 1e-9)
    expected = scale * size * share
    n_invoices = rng.poisson(expected)
    # Every genuine account with a real window buys at least twice.
    n_invoices = np.where(genuine & (we - ws >= 30), np.maximum(n_invoices, 2), n_invoices)
    inv_cust = np.repeat(np.arange(len(cust)), n_invoices)
    inv_day = cal.sample_period_days(rng, ws[inv_cust], we[inv_cust], cust["ramp"][inv_cust])
    if ctx.blackout_keys:
        week = (inv_day - PERIOD_START_DAY) // 7
        keep = ~isin_ints(inv_cust * 64 + week, np.concatenate(ctx.blackout_keys))
        inv_cust, inv_day = inv_cust[keep], inv_day[keep]
    # Wholesalers that really buy in bulk: one top-tier purchase every month besides their usual orders.
    bulk = np.flatnonzero(cust["role"] == ROLE_BULK_WHOLESALER)
    month_start = np.array([day_number(f"2025-{m:02d}-01") for m in range(1, 13)])
    bulk_cust = np.repeat(bulk, 12)
    bulk_day = cal.sample_period_days(rng, np.tile(month_start, len(bulk)), np.tile(month_start + 27, len(bulk)))
    is_bulk = np.r_[np.zeros(len(inv_cust), dtype=bool), np.ones(len(bulk_cust), dtype=bool)]
    inv_cust, inv_day = np.r_[inv_cust, bulk_cust], np.r_[inv_day, bulk_day]
    order = order_by(inv_day, inv_cust)
    inv_cust, inv_day, is_bulk = inv_cust[order], inv_day[order], is_bulk[order]
    n_inv = len(inv_cust)

    # Lines: products from the customer's usual basket, one line per product.
    basket_start = cust["basket_start"][inv_cust]
    basket_len = cust["basket_len"][inv_cust]
    k = 1 + np.minimum(rng.poisson(lam[inv_cust]), basket_len - 1)
    k = np.where(is_bulk, np.minimum(k, 2), k)
    line_inv = np.repeat(np.arange(n_inv), k)
    pick = (rng.random(len(line_inv)) * basket_len[line_inv]).astype(np.int64)
    product = world.basket_products[basket_start[line_inv] + pick]
    n_products = book.n_products
    key = unique_ints(line_inv * n_products + product)
    del pick, product
    line_inv, product = key // n_products, key % n_products
    del key
    first_line = np.searchsorted(line_inv, np.arange(n_inv))
    line_no = np.arange(len(line_inv)) - first_line[line_inv] + 1
    lc = inv_cust[line_inv]
    day = inv_day[line_inv]
    growth = np.where(cust["ramp"][lc],
                      1.0 + 1.0 * (day - ws[lc]) / np.maximum(we[lc] - ws[lc], 1), 1.0)
    quantity = np.maximum(1.0, np.round(cust["qty_level"][lc] * growth
                                        * usual_spread(rng, 0.55, len(line_inv))))
    del growth
    bulk_line = is_bulk[line_inv]
    quantity[bulk_line] = np.round(rng.uniform(500, 900, int(bulk_line.sum())))
    del bulk_line
    _break_repeats(inv_cust, inv_day, first_line, product, quantity)

    cls = cust["customer_class"]
    unit_price = book.valid_price(product, day, cls[lc])
    list_price = book.general_price(product, day)
    pct, dtype, approver = honest_discounts(book, policy, product, day, quantity)
    salesperson = cust["assigned_salesperson_id"]
    manager = world.manager_of(salesperson)
    # Manual discounts: small ones within the salesperson's authority; a few larger ones the manager approved.
    u = rng.random(len(line_inv))
    plain = dtype == DISCOUNT_NONE
    small = plain & (u < 0.02)
    approved = plain & (u >= 0.02) & (u < 0.024)
    within = np.array([1.0, 2.0, 2.5, 3.0, 4.0, 5.0])
    within = within[within <= policy.manual_authority_salesperson_pct]
    pct = np.where(small, rng.choice(within, len(u)), pct)
    big = np.array([6.0, 7.0, 8.0, 10.0])
    big = big[big <= policy.manual_authority_manager_pct]
    pct = np.where(approved, rng.choice(big, len(u)), pct)
    dtype = np.where(small | approved, DISCOUNT_MANUAL, dtype).astype(np.int8)
    approver = np.where(approved, manager[lc], approver)
    del u, plain, small, approved, lc, day

    net = line_net(quantity, unit_price, pct)
    amount = np.bincount(line_inv, weights=net, minlength=n_inv)

    # Orders: a few working days before the invoice; source by class.
    order_day = cal.offset(inv_day, -rng.choice([0, 0, 1, 1, 2], n_inv), roll="backward")
    src_u = rng.random(n_inv)
    ic = cls[inv_cust]
    source = np.select(
        [ic == CLASS_CHAIN, ic == CLASS_WHOLESALE],
        [np.where(src_u < 0.5, SOURCE_EDI, np.where(src_u < 0.8, SOURCE_PORTAL, SOURCE_SALESPERSON)),
         np.where(src_u < 0.4, SOURCE_PHONE, np.where(src_u < 0.8, SOURCE_SALESPERSON, SOURCE_PORTAL))],
        np.where(src_u < 0.7, SOURCE_SALESPERSON, np.where(src_u < 0.95, SOURCE_PHONE, SOURCE_PORTAL)))
    signed = (source == SOURCE_SALESPERSON) & (rng.random(n_inv) < 0.95)
    inv_sp = salesperson[inv_cust]
    order_ids = ctx.next_ids("order", n_inv)
    ctx.append("orders", {
        "order_id": order_ids, "customer_id": inv_cust, "salesperson_id": inv_sp,
        "order_date": order_day, "source": source.astype(np.int64), "signed_by_customer": signed,
    })
    ctx.append("order_lines", {"order_id": order_ids[line_inv], "line_no": line_no, "product_id": product,
                               "quantity": quantity})

    # Cancelled and reissued invoices: the cancelled copy keeps its number; the reissue follows a day later.
    n_cancel = max(2, int(0.004 * n_inv))
    cancelled_src = np.sort(rng.choice(n_inv, n_cancel, replace=False))
    reissue_day = last_working_day_by(ctx, cal.offset(inv_day[cancelled_src], 1))
    cancelled_day = inv_day[cancelled_src].copy()
    inv_day[cancelled_src] = reissue_day

    created_by = np.where((source == SOURCE_SALESPERSON) & (rng.random(n_inv) < 0.6),
                          salesperson_staff(inv_sp), rng.choice(world.roles["billing_clerk"], n_inv))
    approved_by = np.where(amount >= policy.approval_amount, world.manager_of(inv_sp), NULL)
    invoice_ids = ctx.next_ids("invoice", n_inv)
    ctx.bulk_invoices = invoice_ids[is_bulk & ~isin_ints(np.arange(n_inv), cancelled_src)]
    terms = cust["payment_terms_days"][inv_cust]
    ctx.append("invoices", {
        "invoice_id": invoice_ids, "invoice_no": np.full(n_inv, NULL, dtype=np.int64),
        "invoice_date": inv_day, "customer_id": inv_cust, "salesperson_id": inv_sp,
        "due_date": inv_day + terms, "order_id": order_ids, "status": np.full(n_inv, POSTED, dtype=np.int64),
        "created_by": created_by.astype(np.int64), "approved_by": approved_by.astype(np.int64),
        "reason": np.full(n_inv, NULL, dtype=np.int64),
    })
    lines = pd.DataFrame({
        "invoice_id": invoice_ids[line_inv], "line_no": line_no, "product_id": product, "quantity": quantity,
        "unit_price": unit_price, "list_price": list_price, "discount_pct": pct,
        "discount_type": dtype.astype(np.int64), "discount_approved_by": approver.astype(np.int64),
    })
    ctx.append("invoice_lines", lines)
    del list_price, dtype, approver

    # The cancelled copies: same order, one quantity keyed wrongly, no shipment.
    c_ids = ctx.next_ids("invoice", n_cancel)
    ctx.append("invoices", {
        "invoice_id": c_ids, "invoice_no": np.full(n_cancel, NULL, dtype=np.int64),
        "invoice_date": cancelled_day, "customer_id": inv_cust[cancelled_src],
        "salesperson_id": inv_sp[cancelled_src], "due_date": cancelled_day + terms[cancelled_src],
        "order_id": order_ids[cancelled_src], "status": np.full(n_cancel, CANCELLED, dtype=np.int64),
        "created_by": created_by[cancelled_src].astype(np.int64),
        "approved_by": approved_by[cancelled_src].astype(np.int64),
        "reason": np.full(n_cancel, NULL, dtype=np.int64),
    })
    copy_mask = isin_ints(line_inv, cancelled_src)
    copied = lines[copy_mask].copy()
    remap = np.full(n_inv, NULL)
    remap[cancelled_src] = c_ids
    copied["invoice_id"] = remap[line_inv[copy_mask]]
    first = copied["line_no"].to_numpy() == 1
    copied.loc[first, "quantity"] = copied.loc[first, "quantity"].to_numpy() + rng.integers(1, 6, first.sum())
    ctx.append("invoice_lines", copied)
    ctx.cancelled_reissues = np.column_stack([c_ids, invoice_ids[cancelled_src]])

    # Shipments: one per posted invoice, to the customer's own address.
    ship_day = cal.offset(inv_day, rng.choice([0, 0, 1, 1, 2], n_inv))
    ship_day = np.where(ship_day > PERIOD_END_DAY, inv_day, ship_day)
    _append_own_shipments(ctx, rng, invoice_ids, order_ids, inv_cust, ship_day, line_inv, product, quantity)

    # Credit notes: returns, damaged goods and price adjustments on ~1.5 % of invoices.
    _honest_credit_notes(ctx, rng, invoice_ids, inv_cust, inv_sp, ship_day, first_line, line_counts(line_inv, n_inv),
                         product, quantity, unit_price, pct)


def _break_repeats(inv_cust, inv_day, first_line, product, quantity) -> None:
    """Two honest invoices of one customer within a week never carry exactly the same lines (that is the
    duplicate-invoice pattern): the later one gets one unit more on its first line."""
    for _ in range(10):
        line_hash = ((product * 1_000_003 + quantity.astype(np.int64)) * 0x9E3779B1) % (2**31 - 1)
        signature = np.add.reduceat(line_hash, first_line) % (2**31 - 1)
        order = order_by(inv_cust, signature, inv_day)
        c, sig, day = inv_cust[order], signature[order], inv_day[order]
        repeat = (c[1:] == c[:-1]) & (sig[1:] == sig[:-1]) & (day[1:] - day[:-1] <= 7)
        later = order[1:][repeat]
        if not len(later):
            return
        quantity[first_line[later]] += 1


def line_counts(line_inv: np.ndarray, n_inv: int) -> np.ndarray:
    return np.bincount(line_inv, minlength=n_inv)


def _append_own_shipments(ctx, rng, invoice_ids, order_ids, customer, ship_day, line_inv, product, quantity):
    world = ctx.world
    cust = world.customers
    n = len(invoice_ids)
    ids = ctx.next_ids("shipment", n)
    lat = cust["lat"][customer] + rng.normal(0, 8 / 111_200, n)
    lon = cust["lon"][customer] + rng.normal(0, 8 / 111_200, n)
    region = world.salespeople["region_idx"][cust["assigned_salesperson_id"][customer]]
    ctx.append("shipments", {
        "shipment_id": ids, "ship_date": ship_day, "customer_id": customer, "invoice_id": invoice_ids,
        "order_id": order_ids, "warehouse_id": region.astype(np.int64),
        "delivery_address": cust["address"][customer], "delivery_lat": lat, "delivery_lon": lon,
        "received_by": cust["owner_name"][customer],
    })
    ctx.append("shipment_lines", {"shipment_id": ids[line_inv], "product_id": product, "quantity": quantity})


def _honest_credit_notes(ctx, rng, invoice_ids, customer, salesperson, ship_day, first_line, n_lines,
                         product, quantity, unit_price, pct):
    n_inv = len(invoice_ids)
    chosen = np.flatnonzero(rng.random(n_inv) < 0.015)
    credit_day = ctx.calendar.offset(ship_day[chosen], rng.integers(2, 16, len(chosen)))
    ok = credit_day <= PERIOD_END_DAY
    chosen, credit_day = chosen[ok], credit_day[ok]
    line = first_line[chosen] + (rng.random(len(chosen)) * n_lines[chosen]).astype(np.int64)
    reason = rng.choice([REASON_RETURN, REASON_DAMAGED, REASON_PRICE_ADJUSTMENT], len(chosen), p=[0.55, 0.35, 0.1])
    back_qty = np.maximum(1.0, np.floor(quantity[line] * rng.uniform(0.05, 0.4, len(chosen))))
    net_unit = unit_price[line] * (1 - pct[line] / 100)
    adjust_share = rng.uniform(0.02, 0.05, len(chosen))
    amount = np.where(reason == REASON_PRICE_ADJUSTMENT, np.round(net_unit * quantity[line] * adjust_share),
                      back_qty * net_unit)
    ids = ctx.next_ids("credit_note", len(chosen))
    ctx.append("credit_notes", {
        "credit_note_id": ids, "credit_date": credit_day, "customer_id": customer[chosen],
        "amount": np.round(amount, 2), "invoice_id": invoice_ids[chosen], "reason": reason.astype(np.int64),
        "product_id": product[line],
        "quantity": np.where(reason == REASON_PRICE_ADJUSTMENT, np.nan, back_qty),
        "approved_by": ctx.world.manager_of(salesperson[chosen]).astype(np.int64),
    })


def add_sale(ctx: SimContext, customer: int, salesperson: int, day: int, products, quantities, *,
             order_products=None, order_quantities=None, make_order: bool = True, order_day: int | None = None,
             source: int = SOURCE_SALESPERSON, unit_prices=None, discount_pct=None, discount_type=None,
             discount_approver=None, deliveries=None, ship_day: int | None = None, created_by: int | None = None,
             approved_by: int | None = None, order_id: int | None = None, status: int = POSTED,
             reason: str | None = None) -> dict:
    """Record one sale (order, invoice, shipments) and return its ids and line amounts.

    Unless overridden, lines carry the valid price and the rule discounts, the order holds exactly the
    invoice's lines, and one shipment takes everything to the customer's address. ``deliveries`` is a
    list of dicts (products, quantities, and optionally address, lat, lon, received_by, day) for
    shipments that differ from the invoice; ``reason`` says why a document has zero value.
    """
    world, policy = ctx.world, ctx.policy
    book = world.prices
    cust = world.customers
    rng = ctx.rng("sales")
    products = np.asarray(products, dtype=np.int64)
    quantities = np.asarray(quantities, dtype=float)
    days = np.full(len(products), day, dtype=np.int64)
    cls = int(cust["customer_class"][customer])
    valid = book.valid_price(products, days, np.full(len(products), cls))
    general = book.general_price(products, days)
    pct, dtype, approver = honest_discounts(book, policy, products, days, quantities)
    if unit_prices is not None:
        valid = np.asarray(unit_prices, dtype=float)
    if discount_pct is not None:
        pct = np.asarray(discount_pct, dtype=float)
        dtype = np.asarray(discount_type, dtype=np.int64)
        approver = np.asarray(discount_approver, dtype=np.int64)
    net = line_net(quantities, valid, pct)
    amount = float(net.sum())
    if order_id is None and make_order:
        order_id = int(ctx.next_ids("order", 1)[0])
        o_day = int(ctx.calendar.offset(day, -int(rng.integers(0, 2)), roll="backward")) if order_day is None \
            else order_day
        ctx.add_rows("orders", order_id=order_id, customer_id=customer, salesperson_id=salesperson,
                     order_date=o_day, source=source, signed_by_customer=source == SOURCE_SALESPERSON)
        o_products = products if order_products is None else np.asarray(order_products, dtype=np.int64)
        o_qty = quantities if order_quantities is None else np.asarray(order_quantities, dtype=float)
        ctx.add_rows("order_lines", order_id=[order_id] * len(o_products),
                     line_no=list(range(1, len(o_products) + 1)), product_id=o_products, quantity=o_qty)
    invoice_id = int(ctx.next_ids("invoice", 1)[0])
    manager = int(world.manager_of(salesperson))
    if approved_by is None:
        approved_by = manager if amount >= policy.approval_amount else NULL
    if created_by is None:
        created_by = (int(salesperson_staff(salesperson)) if rng.random() < 0.5
                      else int(rng.choice(world.roles["billing_clerk"])))
    terms = int(cust["payment_terms_days"][customer])
    ctx.add_rows("invoices", invoice_id=invoice_id, invoice_no=NULL, invoice_date=day, customer_id=customer,
                 salesperson_id=salesperson, due_date=day + terms,
                 order_id=NULL if order_id is None else order_id, status=status, created_by=created_by,
                 approved_by=approved_by, reason=NULL if reason is None else ctx.pool.code(reason))
    ctx.add_rows("invoice_lines", invoice_id=[invoice_id] * len(products),
                 line_no=list(range(1, len(products) + 1)), product_id=products, quantity=quantities,
                 unit_price=valid, list_price=general, discount_pct=pct, discount_type=dtype.astype(np.int64),
                 discount_approved_by=approver.astype(np.int64))
    shipment_ids = []
    if deliveries is None:
        deliveries = [{"products": products, "quantities": quantities}] if status == POSTED else []
    if ship_day is None:
        ship_day = int(min(ctx.calendar.offset(day, int(rng.integers(0, 3))), ctx.calendar.last_working_day))
        ship_day = max(ship_day, day)
    region = int(world.salespeople["region_idx"][int(cust["assigned_salesperson_id"][customer])])
    for d in deliveries:
        shipment_ids.append(add_shipment(
            ctx, customer, d["products"], d["quantities"], d.get("day", ship_day), invoice_id=invoice_id,
            order_id=NULL if order_id is None else order_id, address=d.get("address"), lat=d.get("lat"),
            lon=d.get("lon"), received_by=d.get("received_by"), warehouse=region))
    return {"order": order_id, "invoice": invoice_id, "shipments": shipment_ids, "amount": amount,
            "line_net": net, "unit_price": valid, "general_price": general, "discount_pct": pct}


def add_shipment(ctx: SimContext, customer: int, products, quantities, day: int, *, invoice_id: int = NULL,
                 order_id: int = NULL, address=None, lat=None, lon=None, received_by=None,
                 warehouse: int | None = None) -> int:
    cust = ctx.world.customers
    rng = ctx.rng("sales")
    shipment_id = int(ctx.next_ids("shipment", 1)[0])
    if warehouse is None:
        sp = int(cust["assigned_salesperson_id"][customer])
        warehouse = int(ctx.world.salespeople["region_idx"][sp])
    ctx.add_rows("shipments", shipment_id=shipment_id, ship_date=int(day), customer_id=customer,
                 invoice_id=invoice_id, order_id=order_id, warehouse_id=warehouse,
                 delivery_address=int(cust["address"][customer]) if address is None else int(address),
                 delivery_lat=float(cust["lat"][customer] + rng.normal(0, 8 / 111_200)) if lat is None
                 else float(lat),
                 delivery_lon=float(cust["lon"][customer] + rng.normal(0, 8 / 111_200)) if lon is None
                 else float(lon),
                 received_by=int(cust["owner_name"][customer]) if received_by is None else int(received_by))
    products = np.asarray(products, dtype=np.int64)
    ctx.add_rows("shipment_lines", shipment_id=[shipment_id] * len(products), product_id=products,
                 quantity=np.asarray(quantities, dtype=float))
    return shipment_id


def add_credit_note(ctx: SimContext, customer: int, day: int, amount: float, invoice_id: int, reason: int,
                    product: int = NULL, quantity: float = float("nan"), approved_by: int = NULL) -> int:
    credit_id = int(ctx.next_ids("credit_note", 1)[0])
    ctx.add_rows("credit_notes", credit_note_id=credit_id, credit_date=int(day), customer_id=customer,
                 amount=round(float(amount), 2), invoice_id=invoice_id, reason=reason, product_id=product,
                 quantity=quantity, approved_by=approved_by)
    return credit_id


def products_outside(n_products: int, basket: np.ndarray) -> np.ndarray:
    """Products a customer never buys."""
    outside = np.ones(n_products, dtype=bool)
    outside[basket] = False
    return np.flatnonzero(outside)


def typical_lines(ctx: SimContext, customer: int, n_lines: int | None = None, qty_factor: float = 1.0):
    """Products and quantities like the customer's usual orders."""
    rng = ctx.rng("sales")
    cust = ctx.world.customers
    basket = ctx.world.basket_of(customer)
    if n_lines is None:
        n_lines = 1 + min(int(rng.poisson(cust["lines_lambda"][customer])), len(basket) - 1)
    n_lines = max(1, min(n_lines, len(basket)))
    products = np.sort(rng.choice(basket, n_lines, replace=False))
    quantities = np.maximum(1.0, np.round(cust["qty_level"][customer] * qty_factor
                                          * usual_spread(rng, 0.5, n_lines)))
    return products, quantities


