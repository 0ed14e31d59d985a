"""Receipts, allocations and cheques, generated from a per-invoice payment plan.

Each customer has a method mix (cash, post-dated cheque, transfer, card), a share of early (cash-discount)
payments and a lateness; invoices paid on one day by one method share a receipt (and a cheque).
Injections change the plan of single invoices (``SimContext.override_payment``) before it is carried out.
Honest rules: cash and cheques are posted within ``hand_in_days`` working days, cheques mature within
``max_maturity_days`` (or the customer's longer approved terms), the cash discount is given exactly when
the payment date falls in the window, ~1 % of cheques bounce and are replaced.
"""

from __future__ import annotations

import numpy as np

from .arrays import combined_key, groups
from .context import SimContext
from .ids import id_token, salesperson_staff
from .sales import POSTED, invoice_amounts
from .workdays import CONFIRMATION_DAYS, NULL, PERIOD_END_DAY, iso_date
from .world import (
    METHOD_CARD,
    METHOD_CASH,
    METHOD_CHEQUE,
    METHOD_TRANSFER,
    ROLE_LONG_TERMS,
    ROLE_OWNER_CHEQUES,
)

CHEQUE_STATUSES = ("pending", "cleared", "bounced", "returned", "replaced")
CHEQUE_PENDING, CHEQUE_CLEARED, CHEQUE_BOUNCED, CHEQUE_RETURNED, CHEQUE_REPLACED = range(5)
# Plan bounce codes: no bounce, bounce then a replacement clears, bounce unreplaced, replacement bounces too.
BOUNCE_NONE, BOUNCE_REPLACED, BOUNCE_UNREPLACED, BOUNCE_TWICE = range(4)

# Plan fields and their "not overridden" value.
PLAN_FIELDS = {
    "method": NULL, "pay_day": NULL, "receipt_day": NULL, "maturity_days": NULL, "hand_in_wd": NULL,
    "paid_amount": np.nan, "no_discount": False, "solo": False, "skip": False, "drawer_name": NULL,
    "drawer_account": NULL, "bounce": NULL, "collected_by": NULL,
}


def credit_per_invoice(ctx: SimContext, n_invoices: int) -> np.ndarray:
    cn = ctx.tables.get("credit_notes")
    if cn is None or not len(cn):
        return np.zeros(n_invoices)
    inv = cn["invoice_id"].to_numpy()
    ok = inv >= 0
    return np.bincount(inv[ok], weights=cn["amount"].to_numpy()[ok], minlength=n_invoices)


def build_plan(ctx: SimContext, n_invoices: int) -> dict[str, np.ndarray]:
    plan = {}
    for name, default in PLAN_FIELDS.items():
        dtype = bool if isinstance(default, bool) else (float if isinstance(default, float) else np.int64)
        plan[name] = np.full(n_invoices, default, dtype=dtype)
    plan["overridden"] = np.zeros(n_invoices, dtype=bool)
    for ids, name, values in ctx.payment_overrides:
        plan[name][ids] = values
        plan["overridden"][ids] = True
    return plan


def generate_payments(ctx: SimContext) -> None:
    rng = ctx.rng("payments")
    cal, policy, world = ctx.calendar, ctx.policy, ctx.world
    cust = world.customers
    inv = ctx.tables["invoices"]
    n_all = len(inv)
    plan = build_plan(ctx, n_all)
    amount = invoice_amounts(ctx)
    due_amount = np.round(amount - credit_per_invoice(ctx, n_all), 2)
    status = inv["status"].to_numpy()
    eligible = (status == POSTED) & (due_amount > 0.5) & ~plan["skip"]
    idx = np.flatnonzero(eligible)
    n = len(idx)
    c = inv["customer_id"].to_numpy()[idx]
    day = inv["invoice_date"].to_numpy()[idx]
    sp = inv["salesperson_id"].to_numpy()[idx]
    terms = cust["payment_terms_days"][c]
    overridden = plan["overridden"][idx]

    # Method from the customer's mix unless the plan says otherwise.
    probs = np.column_stack([cust[m][c] for m in ("p_cash", "p_cheque", "p_transfer", "p_card")])
    drawn = (rng.random(n)[:, None] > np.cumsum(probs, axis=1)).sum(axis=1)
    method = np.where(plan["method"][idx] >= 0, plan["method"][idx], np.minimum(drawn, 3))

    early = rng.random(n) < cust["early_prob"][c]
    lateness = np.round(rng.normal(cust["late_mean"][c], cust["late_sd"][c]))
    on_terms_day = day + np.maximum(terms + lateness, 1)
    is_cheque = method == METHOD_CHEQUE
    # Cash / transfer / card: paid early in the window or around the due date.
    pay_day = np.where(early, day + rng.integers(0, 9, n), on_terms_day)
    # Cheques: handed to the salesperson on a visit, dated for around the due date.
    cheque_received = np.where(early, day + rng.integers(0, 6, n),
                               day + (rng.random(n) * np.minimum(20, np.maximum(terms - 5, 1))).astype(np.int64))
    pay_day = np.where(is_cheque, cheque_received, pay_day)
    pay_day = np.where(plan["pay_day"][idx] >= 0, plan["pay_day"][idx], cal.roll_forward(pay_day))
    long_terms = cust["role"][c] == ROLE_LONG_TERMS
    maturity_cap = np.where(long_terms, terms, policy.max_maturity_days)
    maturity = np.where(early, rng.integers(0, 5, n), np.clip(on_terms_day - pay_day, 0, maturity_cap))
    maturity = np.where(plan["maturity_days"][idx] >= 0, plan["maturity_days"][idx], maturity)

    # Payments after the period end or after a customer stopped paying are not in the books.
    stop = cust["stop_paying_day"][c]
    paid = (pay_day <= PERIOD_END_DAY) & (pay_day < stop)
    keep = np.flatnonzero(paid)
    idx, c, day, sp, method, pay_day, maturity, overridden = (
        a[keep] for a in (idx, c, day, sp, method, pay_day, maturity, overridden))
    n = len(idx)

    # Receipts: one per customer, method and day (single invoices when the plan says solo).
    solo_key = np.where(plan["solo"][idx] | overridden, idx + 1, 0)
    order, group_of, starts = groups(combined_key(c, method, pay_day, solo_key))
    n_groups = len(starts)
    first = order[starts]
    g_cust, g_method, g_day, g_sp = c[first], method[first], pay_day[first], sp[first]
    g_inv = idx[first]
    g_maturity = np.minimum.reduceat(maturity[order], starts)
    g_overridden = overridden[first]

    hand_in = rng.choice([0, 0, 0, 1, 1, 2], n_groups)
    hand_in = np.where(np.isin(g_method, (METHOD_TRANSFER, METHOD_CARD)), rng.choice([0, 0, 1], n_groups), hand_in)
    hand_in = np.where(plan["hand_in_wd"][g_inv] >= 0, plan["hand_in_wd"][g_inv], hand_in)
    posted = cal.offset(g_day, hand_in)
    honest = ~g_overridden
    posted = np.where(honest, np.minimum(posted, cal.last_working_day), posted)
    for as_of in CONFIRMATION_DAYS:
        # Treasury posts everything received before a confirmation date by that date.
        straddle = honest & (g_day <= as_of) & (posted > as_of)
        posted = np.where(straddle, g_day, posted)
    receipt_day = np.where(plan["receipt_day"][g_inv] >= 0, plan["receipt_day"][g_inv], g_day)
    collected = np.where(np.isin(g_method, (METHOD_CASH, METHOD_CHEQUE)), salesperson_staff(g_sp), NULL)
    collected = np.where(plan["collected_by"][g_inv] >= 0, plan["collected_by"][g_inv], collected)

    # Cheques: drawn on the customer's account, or (for some owners) on the owner's personal account.
    g_cheque = g_method == METHOD_CHEQUE
    drawer_name = cust["name"][g_cust].copy()
    drawer_account = cust["bank_account"][g_cust].copy()
    owner_pays = (cust["role"][g_cust] == ROLE_OWNER_CHEQUES) & (rng.random(n_groups) < 0.5)
    drawer_name = np.where(owner_pays, cust["owner_name"][g_cust], drawer_name)
    drawer_account = np.where(owner_pays, cust["owner_account"][g_cust], drawer_account)
    drawer_name = np.where(plan["drawer_name"][g_inv] >= 0, plan["drawer_name"][g_inv], drawer_name)
    drawer_account = np.where(plan["drawer_account"][g_inv] >= 0, plan["drawer_account"][g_inv], drawer_account)
    due = g_day + g_maturity
    bounce = np.where(g_cheque & (due <= PERIOD_END_DAY - 10) & (rng.random(n_groups) < 0.01),
                      BOUNCE_REPLACED, BOUNCE_NONE)
    bounce = np.where(plan["bounce"][g_inv] >= 0, plan["bounce"][g_inv], bounce)
    # A cheque can only be seen bouncing if the bank had it (due and handed in) inside the period.
    bounce = np.where(g_cheque & (np.maximum(due, posted) + 1 <= cal.last_working_day), bounce, BOUNCE_NONE)

    cheque_rows, cheque_group, finals = _cheques(ctx, rng, g_cheque, g_cust, g_day, posted, due, bounce,
                                                 drawer_name, drawer_account, collected)
    final_cheque, final_received, final_posted, final_due, settled_by_cheque, first_cheque = finals
    # Where a bounced cheque was replaced, the receipt is the replacement's.
    receipt_day = np.where(g_cheque & (bounce != BOUNCE_NONE), final_received, receipt_day)
    posted = np.where(g_cheque, final_posted, posted)
    recorded = np.where(g_cheque, settled_by_cheque, True) & (posted <= PERIOD_END_DAY)

    # Allocations, with the cash discount when the payment date falls in the window.
    pay_date_for_discount = np.where(g_cheque, final_due, g_day)[group_of]
    within = (pay_date_for_discount - day) <= policy.cash_discount_within_days
    settled = np.where(np.isnan(plan["paid_amount"][idx]), due_amount[idx], plan["paid_amount"][idx])
    discount_on = within & ~plan["no_discount"][idx]
    rate = policy.cash_discount_pct / 100.0
    alloc = np.where(discount_on, np.round(settled / (1 + rate)), np.round(settled, 2))
    discount = np.where(discount_on, np.round(settled - alloc, 2), 0.0)
    g_amount = np.round(np.bincount(group_of, weights=alloc, minlength=n_groups), 2)
    cheque_rows["amount"] = g_amount[cheque_group]
    ctx.append("cheques", cheque_rows)

    rec_groups = np.flatnonzero(recorded)
    receipt_ids = np.full(n_groups, NULL, dtype=np.int64)
    receipt_ids[rec_groups] = ctx.next_ids("receipt", len(rec_groups))
    ctx.append("receipts", {
        "receipt_id": receipt_ids[rec_groups], "customer_id": g_cust[rec_groups],
        "receipt_date": receipt_day[rec_groups], "posted_date": posted[rec_groups],
        "method": g_method[rec_groups].astype(np.int64), "amount": g_amount[rec_groups],
        "collected_by": collected[rec_groups].astype(np.int64),
        "cheque_id": np.where(g_cheque, final_cheque, NULL)[rec_groups].astype(np.int64),
    })
    members = np.flatnonzero(recorded[group_of])
    ctx.append("receipt_allocations", {
        "receipt_id": receipt_ids[group_of[members]], "invoice_id": idx[members],
        "amount": alloc[members], "cash_discount_amount": discount[members],
    })
    ctx.flush()
    _point_cheque_labels(ctx, idx, first_cheque[group_of], final_cheque[group_of], g_amount[group_of])


def _point_cheque_labels(ctx: SimContext, paid_invoices, first_cheque, final_cheque, amounts) -> None:
    """Cheque labels made from a plan change point at the cheque the invoice was first paid with: the one
    held, or post-dated too long. When it bounced and was replaced, the note names the replacement (which
    settled the debt and carries the receipt)."""
    received = ctx.tables["cheques"]["received_date"].to_numpy()
    for label in ctx.labels + ctx.decoys:
        if label.entity != "cheque" or label.via_invoice < 0:
            continue
        pos = int(np.searchsorted(paid_invoices, label.via_invoice))
        if pos >= len(paid_invoices) or paid_invoices[pos] != label.via_invoice or first_cheque[pos] < 0:
            continue  # not paid by cheque inside the period: left for finalize to drop
        original, final = int(first_cheque[pos]), int(final_cheque[pos])
        label.entity_id, label.via_invoice = original, NULL
        if np.isnan(label.amount):
            label.amount = float(amounts[pos])
        if final != original:
            label.note += (f"; the cheque bounced and was replaced on {iso_date(int(received[final]))} by "
                           f"cheque {id_token('cheque', final)}")


def account_banks(ctx: SimContext, accounts) -> np.ndarray:
    """Pool code of the bank of each account (pool code)."""
    accounts = np.asarray(accounts, dtype=np.int64)
    known = np.fromiter(ctx.world.account_bank.keys(), dtype=np.int64, count=len(ctx.world.account_bank))
    banks = np.fromiter(ctx.world.account_bank.values(), dtype=np.int64, count=len(known))
    order = np.argsort(known)
    known, banks = known[order], banks[order]
    at = np.minimum(np.searchsorted(known, accounts), len(known) - 1)
    return np.where(known[at] == accounts, banks[at], NULL)


def _cheques(ctx, rng, g_cheque, g_cust, g_day, posted, due, bounce, drawer_name, drawer_account, collected):
    """Cheque rows for the cheque receipts, with bounces and replacements.

    Returns the cheque rows (amounts still to fill), the payment group of each row, and per payment group:
    the cheque that finally settled it, its received, posted and due days, whether a cheque settled the
    group within the period, and the group's first cheque (the one the customer first gave).
    The bank clears or bounces a cheque the working day after it is both due and handed in.
    """
    cal = ctx.calendar
    n_groups = len(g_cheque)
    gi = np.flatnonzero(g_cheque)
    m = len(gi)
    ids = ctx.next_ids("cheque", m)
    first_due = due[gi]
    deposited = np.maximum(first_due, posted[gi])
    bounced = bounce[gi] != BOUNCE_NONE
    bounce_day = cal.roll_forward(deposited + 1)
    status = np.where(deposited + 1 > PERIOD_END_DAY, CHEQUE_PENDING, CHEQUE_CLEARED)
    status_day = np.where(status == CHEQUE_CLEARED, cal.roll_forward(deposited + 1), NULL)
    status = np.where(status_day > PERIOD_END_DAY, CHEQUE_PENDING, status)
    status_day = np.where(status_day > PERIOD_END_DAY, NULL, status_day)
    status = np.where(bounced, CHEQUE_BOUNCED, status)
    status_day = np.where(bounced, bounce_day, status_day)

    # Replacements for bounced cheques (BOUNCE_REPLACED and BOUNCE_TWICE).
    replace = bounced & np.isin(bounce[gi], (BOUNCE_REPLACED, BOUNCE_TWICE))
    ri = np.flatnonzero(replace)
    r_received = cal.offset(bounce_day[ri], rng.integers(3, 13, len(ri)))
    r_posted = cal.offset(r_received, rng.choice([0, 1, 2], len(ri)))
    r_due = r_received + rng.integers(0, 31, len(ri))
    r_in_period = r_posted <= PERIOD_END_DAY
    ri, r_received, r_posted, r_due = ri[r_in_period], r_received[r_in_period], r_posted[r_in_period], r_due[r_in_period]
    r_ids = ctx.next_ids("cheque", len(ri))
    twice = bounce[gi][ri] == BOUNCE_TWICE
    r_deposited = np.maximum(r_due, r_posted)
    r_status = np.where(r_deposited + 1 > PERIOD_END_DAY, CHEQUE_PENDING, CHEQUE_CLEARED)
    r_status_day = np.where(r_status == CHEQUE_CLEARED, cal.roll_forward(r_deposited + 1), NULL)
    r_status = np.where(r_status_day > PERIOD_END_DAY, CHEQUE_PENDING, r_status)
    r_status_day = np.where(r_status_day > PERIOD_END_DAY, NULL, r_status_day)
    r_status = np.where(twice & (r_deposited + 1 <= PERIOD_END_DAY - 2), CHEQUE_BOUNCED, r_status)
    r_status_day = np.where(r_status == CHEQUE_BOUNCED, cal.roll_forward(r_deposited + 1), r_status_day)
    status[ri] = CHEQUE_REPLACED
    status_day[ri] = r_received

    group_ids = np.concatenate([gi, gi[ri]])
    chq = {
        "cheque_id": np.concatenate([ids, r_ids]),
        "cheque_no": np.full(m + len(ri), NULL, dtype=np.int64),
        "customer_id": g_cust[group_ids],
        "amount": np.zeros(m + len(ri)),
        "due_date": np.concatenate([first_due, r_due]),
        "received_date": np.concatenate([g_day[gi], r_received]),
        "handed_in_date": np.concatenate([posted[gi], r_posted]),
        "issue_date": np.concatenate([g_day[gi], r_received]),
        "bank": account_banks(ctx, drawer_account[group_ids]),
        "drawer_account": drawer_account[group_ids],
        "drawer_name": drawer_name[group_ids],
        "collected_by": collected[group_ids].astype(np.int64),
        "status": np.concatenate([status, r_status]).astype(np.int64),
        "status_date": np.concatenate([status_day, r_status_day]).astype(np.int64),
        "replaces_cheque_id": np.concatenate([np.full(m, NULL, dtype=np.int64), ids[ri]]),
    }

    final_cheque = np.full(n_groups, NULL, dtype=np.int64)
    first_cheque = np.full(n_groups, NULL, dtype=np.int64)
    first_cheque[gi] = ids
    final_received = g_day.copy()
    final_posted = posted.copy()
    final_due = due.copy()
    settled = np.zeros(n_groups, dtype=bool)
    final_cheque[gi] = ids
    settled[gi] = ~bounced
    rg = gi[ri]
    final_cheque[rg] = r_ids
    final_received[rg] = r_received
    final_posted[rg] = r_posted
    final_due[rg] = r_due
    settled[rg] = r_status != CHEQUE_BOUNCED
    return chq, group_ids, (final_cheque, final_received, final_posted, final_due, settled, first_cheque)
