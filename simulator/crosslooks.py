"""Cross-pattern look-alikes: honest records that show a trace of one pattern and belong to another or to none.

Planted only where the world shape asks for them (``WorldShape.cross_lookalikes``); each is listed in
``decoys.csv`` under the pattern it resembles (the note says what it really is):

- ``payment_swap`` and ``multi_name_invoicing``: sister businesses. Two shops of one owner (same
  ``owner_name``, own addresses, phones and accounts, not a declared chain); the sister pays some of the
  other's invoices with a cheque drawn on its own account (an account of another customer), handed in on
  time and allocated to the payee's own invoices.
- ``payment_swap``: endorsed third-party cheques. The customer pays with a cheque its own client drew
  (a stranger's name and account, nobody on the company's books) and endorsed over; on time, own invoice.
- ``cheque_withheld``: cash received on the eve of a long break (weekend plus public holidays or closure
  days) and booked after it: many calendar days between the customer's receipt and the posting, but
  within the policy's working days.
- ``unauthorized_discount``: a real trade promotion announced centrally (``pricing.CENTRAL_PROMOTIONS``):
  a 'promo' discount above the salesperson's authority with no approver on the line, on every customer's
  purchases of the category during the promotion (marketing's approval is keyed on about a third of them).
- ``price_deviation``: a real promotion given as a price (``pricing.PROMOTIONAL_PRICES``): for a few weeks
  the price list holds a lower general price for the category's products, and every invoice carries it:
  well below the price of the weeks before and after, no approval, yet the valid list price.
"""

from __future__ import annotations

import numpy as np

from . import names
from .arrays import isin_ints, order_by, unique_ints
from .context import SimContext
from .pricing import CLASS_CHAIN, DISCOUNT_PROMO
from .sales import POSTED, invoice_amounts
from .workdays import NULL, PERIOD_END_DAY, PERIOD_START_DAY, iso_date
from .world import (
    KIND_GENUINE,
    METHOD_CASH,
    METHOD_CHEQUE,
    ROLE_PLAIN,
    ROLE_SISTER_BUSINESS,
    STATUS_ACTIVE,
)

SISTER_PAIR_SHARE = 0.02  # of the customers, pairs of sister businesses (at least 2 pairs)
SISTER_CHEQUES = 3  # invoices of the payee each sister pays (at most)
ENDORSED_SHARE = 0.0015  # of the honest invoices, paid by an endorsed third-party cheque (at least 4)
HOLIDAY_CASH_SHARE = 0.0008  # of the honest invoices, paid in cash on the eve of a long break (at least 4)
MIN_BREAK_DAYS = 4  # calendar days from the eve to the next working day that make a "long break"


def plan_sister_businesses(ctx: SimContext) -> None:
    """Pair plain accounts as shops of one owner (before fraud and distress choose their accounts)."""
    rng = ctx.rng("crosslooks")
    cust = ctx.world.customers
    plain = np.flatnonzero((cust["kind"] == KIND_GENUINE) & (cust["role"] == ROLE_PLAIN)
                           & (cust["customer_class"] != CLASS_CHAIN))
    n_pairs = min(len(plain) // 2, max(2, int(round(SISTER_PAIR_SHARE * len(cust)))))
    chosen = rng.choice(plain, 2 * n_pairs, replace=False)
    ctx.sister_pairs = [(int(chosen[2 * k]), int(chosen[2 * k + 1])) for k in range(n_pairs)]
    for payer, payee in ctx.sister_pairs:
        cust["owner_name"][payee] = cust["owner_name"][payer]
        for c in (payer, payee):
            cust["role"][c] = ROLE_SISTER_BUSINESS
            cust["window_start"][c], cust["window_end"][c] = PERIOD_START_DAY, PERIOD_END_DAY
            cust["visit_end"][c] = PERIOD_END_DAY
            cust["status"][c] = STATUS_ACTIVE


def _open_honest_invoices(ctx: SimContext, customers: np.ndarray) -> np.ndarray:
    """Posted non-zero invoices of the honest bulk step of these customers, not used by any injection."""
    inv = ctx.tables["invoices"]
    amount = invoice_amounts(ctx)
    ok = (inv["status"].to_numpy() == POSTED) & (amount > 0) & isin_ints(inv["customer_id"].to_numpy(), customers)
    ok &= inv["invoice_date"].to_numpy() <= PERIOD_END_DAY - 60
    ok[ctx.honest_invoice_count:] = False
    ids = np.flatnonzero(ok)
    used = np.fromiter(ctx.used_invoices, dtype=np.int64, count=len(ctx.used_invoices))
    return ids[~isin_ints(ids, used)]


def plan_cross_payments(ctx: SimContext) -> None:
    """Payment-plan changes for the sister-business, endorsed-cheque and holiday-cash look-alikes."""
    from .fraud import _fresh_account  # a new account registered with its bank

    rng = ctx.rng("crosslooks")
    world, cal, policy, pool = ctx.world, ctx.calendar, ctx.policy, ctx.pool
    cust = world.customers
    inv = ctx.tables["invoices"]
    inv_c = inv["customer_id"].to_numpy()
    inv_sp = inv["salesperson_id"].to_numpy()
    inv_day = inv["invoice_date"].to_numpy()

    for payer, payee in ctx.sister_pairs:
        own = _open_honest_invoices(ctx, np.array([payee]))
        for i in np.sort(rng.choice(own, min(SISTER_CHEQUES, len(own)), replace=False)):
            i = int(i)
            ctx.used_invoices.add(i)
            ctx.override_payment(i, "method", METHOD_CHEQUE)
            ctx.override_payment(i, "drawer_name", int(cust["name"][payer]))
            ctx.override_payment(i, "drawer_account", int(cust["bank_account"][payer]))
            ctx.decoy("payment_swap", "receipt", NULL, salesperson=int(inv_sp[i]), customer=payee,
                      event_day=int(inv_day[i]), via_invoice=i,
                      note=f"cheque drawn on the account of the sister shop {pool.text(int(cust['name'][payer]))} "
                           "(same owner), handed in on time against the customer's own invoice")
        ctx.decoy("multi_name_invoicing", "customer", payee, salesperson=int(cust["assigned_salesperson_id"][payee]),
                  customer=payee, amount=0.0,
                  note=f"a second shop of the owner of {pool.text(int(cust['name'][payer]))}: own address, phone "
                       "and account; buys for itself; the sister sometimes pays its invoices")

    plain = np.flatnonzero((cust["kind"] == KIND_GENUINE) & (cust["role"] == ROLE_PLAIN)
                           & (cust["stop_paying_day"] > PERIOD_END_DAY))
    candidates = _open_honest_invoices(ctx, plain)
    n_endorsed = min(len(candidates), max(4, int(ENDORSED_SHARE * ctx.honest_invoice_count)))
    for i in np.sort(rng.choice(candidates, n_endorsed, replace=False)):
        i = int(i)
        c = int(inv_c[i])
        avoid = {pool.text(int(world.salespeople["name"][int(inv_sp[i])])).split(" ", 1)[1],
                 pool.text(int(cust["owner_name"][c])).split(" ", 1)[1]}
        drawer = next(n for n in names.person_names(rng, 16) if n.split(" ", 1)[1] not in avoid)
        ctx.used_invoices.add(i)
        ctx.override_payment(i, "method", METHOD_CHEQUE)
        ctx.override_payment(i, "drawer_name", pool.code(drawer))
        ctx.override_payment(i, "drawer_account", _fresh_account(ctx, rng))
        ctx.decoy("payment_swap", "receipt", NULL, salesperson=int(inv_sp[i]), customer=c,
                  event_day=int(inv_day[i]), via_invoice=i,
                  note=f"cheque of the customer's own client {drawer}, endorsed over to the company; handed in "
                       "on time against the customer's own invoice")

    # Cash received on the eve of a long break and booked after it, within the working days allowed.
    days = cal.period_days
    eves = days[:-1][np.diff(days) >= MIN_BREAK_DAYS]
    eves = eves[(eves > PERIOD_START_DAY + 30) & (eves < PERIOD_END_DAY - 30)]
    candidates = _open_honest_invoices(ctx, plain)
    candidates = candidates[order_by(inv_day[candidates])]
    candidate_days = inv_day[candidates]
    n_cash = max(4, int(HOLIDAY_CASH_SHARE * ctx.honest_invoice_count))
    for k in range(n_cash if len(eves) else 0):
        eve = int(eves[k % len(eves)])
        lo, hi = np.searchsorted(candidate_days, eve - 20), np.searchsorted(candidate_days, eve, side="right")
        if hi <= lo:
            continue
        i = int(candidates[lo + int(rng.integers(0, hi - lo))])
        if i in ctx.used_invoices:
            continue
        ctx.used_invoices.add(i)
        ctx.override_payment(i, "method", METHOD_CASH)
        ctx.override_payment(i, "pay_day", eve)
        ctx.override_payment(i, "hand_in_wd", policy.hand_in_days)
        posted = int(cal.offset(eve, policy.hand_in_days))
        ctx.decoy("cheque_withheld", "receipt", NULL, salesperson=int(inv_sp[i]), customer=int(inv_c[i]),
                  event_day=eve, via_invoice=i,
                  note=f"cash received {iso_date(eve)} before a long break, booked {iso_date(posted)}: "
                       f"{posted - eve} calendar days but {policy.hand_in_days} working days")


def list_promotion_lookalikes(ctx: SimContext) -> None:
    """A sample of the honest invoices with lines discounted by a centrally announced promotion (no approver on
    the line), and of those priced at a promotional list price."""
    rng = ctx.rng("crosslooks")
    book = ctx.world.prices
    inv = ctx.tables["invoices"]
    lines = ctx.tables["invoice_lines"]
    line_inv = lines["invoice_id"].to_numpy()
    day = inv["invoice_date"].to_numpy()[line_inv]
    central = book.central_promotion(lines["product_id"].to_numpy(), day)
    hit = (central & (lines["discount_type"].to_numpy() == DISCOUNT_PROMO)
           & (lines["discount_approved_by"].to_numpy() < 0) & (line_inv < ctx.honest_invoice_count))
    ids = unique_ints(line_inv[hit])
    cap = max(5, int(ctx.params.target_lines * 0.0002))
    for i in np.sort(rng.choice(ids, min(cap, len(ids)), replace=False)) if len(ids) else []:
        i = int(i)
        ctx.decoy("unauthorized_discount", "invoice", i, salesperson=int(inv.at[i, "salesperson_id"]),
                  customer=int(inv.at[i, "customer_id"]), amount=0.0, event_day=int(inv.at[i, "invoice_date"]),
                  note="trade promotion announced centrally: the same promo discount on every customer's "
                       "purchases of the category that month, no approver on this line (marketing's on others)")
    category = book.category[lines["product_id"].to_numpy()]
    for cat, first, last, pct in book.promotional_prices:
        hit = (category == cat) & (day >= first) & (day <= last) & (line_inv < ctx.honest_invoice_count)
        ids = unique_ints(line_inv[hit])
        for i in np.sort(rng.choice(ids, min(cap, len(ids)), replace=False)) if len(ids) else []:
            i = int(i)
            ctx.decoy("price_deviation", "invoice", i, salesperson=int(inv.at[i, "salesperson_id"]),
                      customer=int(inv.at[i, "customer_id"]), amount=0.0, event_day=int(inv.at[i, "invoice_date"]),
                      note=f"promotional list price {iso_date(first)} to {iso_date(last)}: {pct:g}% below the "
                           "price before and after, in the price list for every customer")
