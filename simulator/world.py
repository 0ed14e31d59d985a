"""Master data: regions, managers and staff, salespeople with territories, customers with portfolios,
products and the price list.

Customer sizes are lognormal (a few wholesalers and chains buy most); every customer carries its buying
and paying habits as extra columns the later steps read (they are not written out).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import names
from .arrays import order_by, unique_ints
from .context import SimContext
from .ids import salesperson_staff
from .pricing import CLASS_CHAIN, CLASS_RETAIL, CLASS_WHOLESALE, PriceBook, build_price_book
from .workdays import NULL, PERIOD_END_DAY, PERIOD_START_DAY, day_number

KM_PER_DEGREE = 111.2
CUSTOMER_STATUSES = ("active", "inactive", "blocked", "legal")
STATUS_ACTIVE, STATUS_INACTIVE, STATUS_BLOCKED, STATUS_LEGAL = range(4)
# Kinds of customer record: a real business, or accounts a dishonest salesperson made up.
KIND_GENUINE, KIND_FICTITIOUS, KIND_ALIAS = range(3)
PAY_METHODS = ("cash", "cheque", "transfer", "card")
METHOD_CASH, METHOD_CHEQUE, METHOD_TRANSFER, METHOD_CARD = range(4)


def offset_position(rng, lat, lon, sd_km, n=None):
    """Points scattered around (lat, lon) with a Gaussian spread of ``sd_km``."""
    n = len(np.atleast_1d(lat)) if n is None else n
    dlat = rng.normal(0.0, 1.0, n) * sd_km / KM_PER_DEGREE
    dlon = rng.normal(0.0, 1.0, n) * sd_km / (KM_PER_DEGREE * np.cos(np.radians(lat)))
    return lat + dlat, lon + dlon


def point_at_distance(rng, lat, lon, distance_km):
    """Points exactly ``distance_km`` from (lat, lon) in random directions."""
    lat, lon, distance_km = np.broadcast_arrays(np.asarray(lat, float), np.asarray(lon, float),
                                                np.asarray(distance_km, float))
    angle = rng.uniform(0, 2 * np.pi, lat.shape)
    new_lat = lat + np.sin(angle) * distance_km / KM_PER_DEGREE
    new_lon = lon + np.cos(angle) * distance_km / (KM_PER_DEGREE * np.cos(np.radians(lat)))
    return new_lat, new_lon


class ColumnTable:
    """A table as a dict of numpy columns: fast scalar and vector access for the injections."""

    def __init__(self, data: dict[str, np.ndarray]):
        self.data = {name: np.asarray(values) for name, values in data.items()}

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> ColumnTable:
        return cls({name: frame[name].to_numpy().copy() for name in frame.columns})

    def __getitem__(self, column: str) -> np.ndarray:
        return self.data[column]

    def __setitem__(self, column: str, values) -> None:
        self.data[column] = np.broadcast_to(np.asarray(values), (len(self),)).copy()

    def __len__(self) -> int:
        return len(next(iter(self.data.values())))

    @property
    def columns(self) -> list[str]:
        return list(self.data)

    def row(self, index: int) -> dict:
        return {name: values[index].item() for name, values in self.data.items()}

    def extend(self, rows: list[dict]) -> None:
        for name, values in self.data.items():
            self.data[name] = np.concatenate([values, np.array([r[name] for r in rows], dtype=values.dtype)])

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.data)


@dataclass
class World:
    regions: pd.DataFrame  # region name, lat, lon, weight
    employees: ColumnTable
    salespeople: ColumnTable
    customers: ColumnTable
    prices: PriceBook
    basket_products: np.ndarray  # customers' usual products, flat; customers' basket_start/len index it
    account_bank: dict[int, int]  # pool code of an account -> pool code of its bank's name
    roles: dict[str, np.ndarray]  # role -> employee ids
    pending_customers: list[dict] = field(default_factory=list)
    pending_baskets: list[np.ndarray] = field(default_factory=list)

    @property
    def n_customers(self) -> int:
        return len(self.customers)

    def manager_of(self, salesperson) -> np.ndarray:
        return self.salespeople["manager_id"][np.asarray(salesperson)]

    def template_customer(self, customer: int) -> dict:
        """A copy of a customer's row (all world columns), to be edited into a new account."""
        return self.customers.row(customer)

    def add_customer(self, row: dict, basket: np.ndarray) -> int:
        """Reserve an id for a new account; it joins the table at :meth:`commit_customers`."""
        customer_id = len(self.customers) + len(self.pending_customers)
        row = {name: (np.asarray(v).reshape(-1)[0] if np.ndim(v) else v) for name, v in row.items()}
        row["customer_id"] = customer_id
        self.pending_customers.append(row)
        self.pending_baskets.append(np.asarray(basket, dtype=np.int64))
        return customer_id

    def commit_customers(self) -> None:
        if not self.pending_customers:
            return
        offset = len(self.basket_products)
        for row, basket in zip(self.pending_customers, self.pending_baskets, strict=True):
            row["basket_start"], row["basket_len"] = offset, len(basket)
            offset += len(basket)
        self.basket_products = np.concatenate([self.basket_products, *self.pending_baskets]).astype(np.int64)
        self.customers.extend(self.pending_customers)
        self.pending_customers, self.pending_baskets = [], []

    def basket_of(self, customer: int) -> np.ndarray:
        start = int(self.customers["basket_start"][customer])
        return self.basket_products[start:start + int(self.customers["basket_len"][customer])]


def _employees(ctx: SimContext, rng, n_regions: int, n_salespeople: int, region_names):
    pool = ctx.pool
    roles: list[tuple[str, int]] = [
        ("sales_director", 1), ("marketing_manager", 1), ("regional_manager", n_regions),
        ("area_manager", max(0, math.ceil(n_salespeople / 10) - n_regions)),
        ("billing_clerk", max(2, n_salespeople // 6)), ("master_data_clerk", max(1, n_salespeople // 25)),
        ("treasury_cashier", max(1, n_salespeople // 15)), ("credit_controller", max(1, n_salespeople // 20)),
        ("warehouse_keeper", n_regions),
    ]
    role_of = [r for r, k in roles for _ in range(k)]
    n = len(role_of)
    people = names.person_names(rng, n)
    cities = [region_names[i % n_regions] for i in range(n)]
    frame = pd.DataFrame({
        "employee_id": np.arange(n, dtype=np.int64),
        "name": pool.codes(people),
        "role": pool.codes(role_of),
    })
    role_ids = {r: np.flatnonzero(np.array(role_of) == r).astype(np.int64) for r, _ in roles}
    return frame, role_ids, cities


def build_world(ctx: SimContext) -> World:
    rng = ctx.rng("world")
    pool, params = ctx.pool, ctx.params
    cal = ctx.calendar

    # Regions: the largest cities, one warehouse each.
    cities = sorted(names.CITIES, key=lambda c: -c[3])[:params.n_regions]
    regions = pd.DataFrame({
        "region": [c[0] for c in cities], "lat": [c[1] for c in cities], "lon": [c[2] for c in cities],
        "weight": [c[3] for c in cities],
    })
    region_names = regions["region"].tolist()

    # Employees (managers, clerks, treasury, warehouse).
    employees, roles, employee_cities = _employees(
        ctx, rng, params.n_regions, params.n_salespeople, region_names)
    managers = np.concatenate([roles["regional_manager"], roles["area_manager"]])

    # Salespeople: territories inside their region's city; a few former salespeople stay on file.
    n_active = params.n_salespeople
    n_former = max(1, n_active // 20)
    n_sp = n_active + n_former
    weight = regions["weight"].to_numpy()
    region_of = np.concatenate([np.arange(params.n_regions),
                                rng.choice(params.n_regions, n_sp - params.n_regions, p=weight / weight.sum())])
    region_of = rng.permutation(region_of)
    # Each manager leads salespeople of one region: regional managers first, area managers share out the rest.
    manager_region = np.concatenate([np.arange(params.n_regions),
                                     rng.choice(params.n_regions, len(roles["area_manager"]),
                                                p=weight / weight.sum())])
    manager_of = np.empty(n_sp, dtype=np.int64)
    for r in range(params.n_regions):
        in_region = np.flatnonzero(region_of == r)
        region_managers = managers[manager_region == r]
        manager_of[in_region] = region_managers[np.arange(len(in_region)) % len(region_managers)]
    reg_lat, reg_lon = regions["lat"].to_numpy()[region_of], regions["lon"].to_numpy()[region_of]
    terr_lat, terr_lon = offset_position(rng, reg_lat, reg_lon, 4.0)
    home_lat, home_lon = offset_position(rng, reg_lat, reg_lon, 6.0)
    hire = rng.integers(day_number("2010-01-01"), day_number("2024-06-30"), n_sp)
    is_former = np.zeros(n_sp, dtype=bool)
    is_former[rng.choice(n_sp, n_former, replace=False)] = True
    termination = np.where(is_former, rng.integers(day_number("2023-01-01"), day_number("2024-12-15"), n_sp),
                           NULL)
    hire = np.where(is_former, np.minimum(hire, termination - 200), hire)
    sp_people = names.person_names(rng, n_sp)

    # Identifiers of staff: phones, addresses, accounts and national ids all distinct.
    n_staff = len(employees) + n_sp
    phones = names.phone_numbers(rng, n_staff)
    nids = names.national_ids(rng, n_staff)
    staff_cities = employee_cities + [region_names[r] for r in region_of]
    staff_addresses = names.street_addresses(rng, staff_cities)
    account_bank: dict[int, int] = {}
    acct_text, acct_bank = names.bank_accounts(rng, n_staff)
    acct_codes = pool.codes(acct_text)
    for code, b in zip(acct_codes, acct_bank, strict=True):
        account_bank[int(code)] = pool.code(names.BANKS[b][0])
    ne = len(employees)
    employees["phone"] = pool.codes(phones[:ne])
    employees["address"] = pool.codes(staff_addresses[:ne])
    employees["bank_account"] = acct_codes[:ne]
    employees["national_id"] = pool.codes(nids[:ne])
    salespeople = pd.DataFrame({
        "salesperson_id": np.arange(n_sp, dtype=np.int64),
        "name": pool.codes(sp_people),
        "hire_date": hire.astype(np.int64),
        "termination_date": termination.astype(np.int64),
        "region": pool.codes([region_names[r] for r in region_of]),
        "manager_id": manager_of,
        "phone": pool.codes(phones[ne:]),
        "address": pool.codes(staff_addresses[ne:]),
        "bank_account": acct_codes[ne:],
        "national_id": pool.codes(nids[ne:]),
        # simulator-only columns
        "region_idx": region_of.astype(np.int64), "lat": terr_lat, "lon": terr_lon,
        "home_lat": home_lat, "home_lon": home_lon, "active": ~is_former,
    })

    customers = _customers(ctx, rng, salespeople, roles, cal)

    book = build_price_book(rng, pool, params.n_products, cal, int(roles["marketing_manager"][0]),
                            central=ctx.shape.cross_lookalikes)
    basket_flat, starts, lens = _baskets(rng, customers, book)
    customers["basket_start"] = starts
    customers["basket_len"] = lens
    customer_cities = [region_names[r] for r in
                       salespeople["region_idx"].to_numpy()[customers["assigned_salesperson_id"].to_numpy()]]
    customers, account_bank = _customer_identifiers(ctx, rng, customers, account_bank, set(staff_addresses),
                                                    customer_cities, set(phones))
    return World(regions, ColumnTable.from_frame(employees), ColumnTable.from_frame(salespeople),
                 ColumnTable.from_frame(customers), book, basket_flat, account_bank, roles)


def _customers(ctx, rng, salespeople, roles, cal):
    """Customer population: classes, chains, sizes, habits, portfolios (identifiers come later)."""
    n = ctx.params.n_customers
    active_sp = np.flatnonzero(salespeople["active"].to_numpy())
    n_sp = len(active_sp)
    # Portfolios: every salesperson gets at least four accounts; the rest by a lognormal workload.
    workload = rng.lognormal(0, 0.3, n_sp)
    assigned = np.concatenate([np.repeat(active_sp, 4),
                               rng.choice(active_sp, n - 4 * n_sp, p=workload / workload.sum())])
    assigned = rng.permutation(assigned)

    shape = ctx.shape
    cls = np.full(n, CLASS_RETAIL)
    cls[rng.random(n) < shape.wholesale_share] = CLASS_WHOLESALE
    # Declared chains: groups of 3-6 branches of one owner, each branch in its own salesperson's territory.
    chain_group = np.full(n, NULL)
    n_chain_target = max(3, int(shape.chain_share * n))
    candidates = rng.permutation(np.flatnonzero(cls == CLASS_RETAIL))
    group, pos = 0, 0
    while pos < n_chain_target:
        size = int(rng.integers(3, 7))
        members = candidates[pos:pos + size]
        # branches of one chain stay in one region
        region = salespeople["region_idx"].to_numpy()[assigned[members[0]]]
        same_region = active_sp[salespeople["region_idx"].to_numpy()[active_sp] == region]
        assigned[members] = rng.choice(same_region, len(members))
        chain_group[members] = group
        cls[members] = CLASS_CHAIN
        group += 1
        pos += size

    size = rng.lognormal(0.0, shape.size_sigma, n) * np.select([cls == CLASS_WHOLESALE, cls == CLASS_CHAIN], [6.0, 2.0], 1.0)
    sp_lat = salespeople["lat"].to_numpy()[assigned]
    sp_lon = salespeople["lon"].to_numpy()[assigned]
    lat, lon = offset_position(rng, sp_lat, sp_lon, 1.5)

    established = rng.integers(day_number("1988-01-01"), day_number("2022-06-30"), n)
    created = np.maximum(established, day_number("2012-01-01")) + rng.integers(0, 400, n)
    created = np.minimum(created, day_number("2024-12-20"))
    created = cal.roll_backward(created)

    # Paying habits: method mix by class, some customers early (cash-discount) payers, some slow.
    method_p = np.select(
        [cls[:, None] == CLASS_WHOLESALE, cls[:, None] == CLASS_CHAIN],
        [np.array([0.05, 0.60, 0.35, 0.0]), np.array([0.0, 0.30, 0.70, 0.0])],
        np.array([0.30, 0.40, 0.22, 0.08]))
    method_p = method_p * rng.uniform(0.5, 1.5, (n, 4))
    method_p /= method_p.sum(axis=1, keepdims=True)
    terms = np.select([cls == CLASS_WHOLESALE, cls == CLASS_CHAIN],
                      [rng.choice([45, 60, 90], n, p=[0.3, 0.5, 0.2]), np.full(n, 60)],
                      rng.choice([30, 45, 60], n, p=[0.6, 0.3, 0.1]))
    early_prob = np.where(rng.random(n) < 0.25, rng.uniform(0.5, 0.95, n), rng.uniform(0.0, 0.1, n))
    slow = rng.random(n) < 0.2
    late_mean = np.where(slow, rng.uniform(5, 25, n), rng.uniform(-8, 2, n))
    late_sd = rng.uniform(2, 8, n)

    # Visit cadence per four weeks grows with the account's size.
    size_rank = np.argsort(np.argsort(size)) / max(n - 1, 1)
    visits_4w = np.select([size_rank > 0.85, size_rank > 0.5], [4, 2], 1)
    visits_4w = np.where(cls != CLASS_RETAIL, np.maximum(visits_4w, 2), visits_4w)

    # Activity window: most buy all year; ~3 % stop during the year and settle up.
    window_start = np.full(n, PERIOD_START_DAY)
    window_end = np.full(n, PERIOD_END_DAY)
    churn = rng.random(n) < 0.03
    window_end = np.where(churn, rng.integers(day_number("2025-05-01"), day_number("2025-11-30"), n),
                          window_end)

    frame = pd.DataFrame({
        "customer_id": np.arange(n, dtype=np.int64),
        "created_date": created.astype(np.int64),
        "assigned_salesperson_id": assigned.astype(np.int64),
        "created_by": np.full(n, NULL, dtype=np.int64),
        "credit_limit": np.full(n, np.nan),
        "payment_terms_days": terms.astype(np.int64),
        "lat": lat, "lon": lon,
        "established_date": established.astype(np.int64),
        "customer_class": cls.astype(np.int64),
        "status": np.where(churn, STATUS_INACTIVE, STATUS_ACTIVE).astype(np.int64),
        # simulator-only columns
        "kind": np.full(n, KIND_GENUINE), "chain_group": chain_group.astype(np.int64),
        "size": size, "lines_lambda": np.clip(0.8 + 0.9 * np.log1p(size), 0.5, 7.0),
        "qty_level": np.select([cls == CLASS_WHOLESALE, cls == CLASS_CHAIN],
                               [150 * size ** 0.3, 20 * size ** 0.4], 7 * size ** 0.4),
        "window_start": window_start.astype(np.int64), "window_end": window_end.astype(np.int64),
        "visit_end": window_end.astype(np.int64),
        "p_cash": method_p[:, 0], "p_cheque": method_p[:, 1], "p_transfer": method_p[:, 2],
        "p_card": method_p[:, 3], "early_prob": early_prob, "late_mean": late_mean, "late_sd": late_sd,
        "visits_4w": visits_4w.astype(np.int64), "ramp": np.zeros(n, dtype=bool),
        "role": np.zeros(n, dtype=np.int64),  # see ROLE_* below
        "owner_account": np.full(n, NULL, dtype=np.int64),
        "stop_paying_day": np.full(n, PERIOD_END_DAY + 1000, dtype=np.int64),
        "basket_start": np.zeros(n, dtype=np.int64), "basket_len": np.zeros(n, dtype=np.int64),
        "name": np.full(n, NULL, dtype=np.int64), "tax_id": np.full(n, NULL, dtype=np.int64),
        "phone": np.full(n, NULL, dtype=np.int64), "address": np.full(n, NULL, dtype=np.int64),
        "city": np.full(n, NULL, dtype=np.int64), "bank_account": np.full(n, NULL, dtype=np.int64),
        "owner_name": np.full(n, NULL, dtype=np.int64),
    })
    frame["created_by"] = rng.choice(roles["master_data_clerk"], n)
    _assign_roles(rng, frame)
    return frame


# Roles a genuine customer can play in the simulation (decoys of the look-alike patterns).
ROLE_PLAIN, ROLE_NEW_SHOP, ROLE_BULK_WHOLESALER, ROLE_LONG_TERMS, ROLE_OWNER_CHEQUES, ROLE_GROWING = range(6)
ROLE_SISTER_BUSINESS = 6  # one of two shops of one owner (crosslooks.py; harder world shapes only)


def _assign_roles(rng, frame: pd.DataFrame) -> None:
    n = len(frame)
    cls = frame["customer_class"].to_numpy()
    role = np.zeros(n, dtype=np.int64)
    free = np.ones(n, dtype=bool)

    def pick(mask, share, minimum):
        pool_ids = np.flatnonzero(mask & free)
        k = min(len(pool_ids), max(minimum, int(round(share * n))))
        chosen = rng.choice(pool_ids, k, replace=False) if k else np.array([], dtype=np.int64)
        free[chosen] = False
        return np.sort(chosen)

    retail = cls == CLASS_RETAIL
    new_shop = pick(retail, 0.02, 2)
    bulk = pick(cls == CLASS_WHOLESALE, 0.015, 1)
    long_terms = pick(cls != CLASS_CHAIN, 0.015, 2)
    owner_cheques = pick(retail, 0.03, 2)
    growing = pick(retail, 0.015, 2)
    role[new_shop], role[bulk], role[long_terms] = ROLE_NEW_SHOP, ROLE_BULK_WHOLESALER, ROLE_LONG_TERMS
    role[owner_cheques], role[growing] = ROLE_OWNER_CHEQUES, ROLE_GROWING
    frame["role"] = role

    # New small shops open during the year (their record is created days before the first sale).
    k = len(new_shop)
    frame.loc[new_shop, "window_start"] = rng.integers(day_number("2025-02-01"), day_number("2025-09-30"), k)
    frame.loc[new_shop, ["window_end", "visit_end"]] = PERIOD_END_DAY
    frame.loc[new_shop, "status"] = STATUS_ACTIVE
    frame.loc[new_shop, "established_date"] = frame.loc[new_shop, "window_start"] - rng.integers(20, 200, k)
    frame.loc[new_shop, "size"] = rng.uniform(0.2, 0.6, k)
    frame.loc[new_shop, "qty_level"] = rng.uniform(3, 6, k)
    frame.loc[new_shop, "lines_lambda"] = 1.0
    frame.loc[new_shop, "visits_4w"] = 2
    frame.loc[new_shop, "created_by"] = salesperson_staff(frame.loc[new_shop, "assigned_salesperson_id"])
    # Wholesalers that genuinely buy in bulk every month.
    frame.loc[bulk, "qty_level"] = rng.uniform(120, 220, len(bulk))
    frame.loc[bulk, ["window_start", "window_end", "visit_end"]] = [PERIOD_START_DAY, PERIOD_END_DAY,
                                                                     PERIOD_END_DAY]
    frame.loc[bulk, "status"] = STATUS_ACTIVE
    # Longer credit terms approved on the customer record; they pay by long post-dated cheques.
    frame.loc[long_terms, "payment_terms_days"] = rng.choice([120, 150, 180], len(long_terms))
    frame.loc[long_terms, ["p_cash", "p_cheque", "p_transfer", "p_card"]] = [0.0, 0.9, 0.1, 0.0]
    frame.loc[long_terms, "early_prob"] = 0.0
    frame.loc[long_terms, "late_mean"] = -5.0
    frame.loc[long_terms, ["window_start", "window_end", "visit_end"]] = [PERIOD_START_DAY, PERIOD_END_DAY,
                                                                   PERIOD_END_DAY]
    frame.loc[long_terms, "status"] = STATUS_ACTIVE
    # Owners who often pay by a cheque from their personal account.
    frame.loc[owner_cheques, ["p_cash", "p_cheque", "p_transfer", "p_card"]] = [0.1, 0.8, 0.1, 0.0]
    frame.loc[owner_cheques, ["window_start", "window_end", "visit_end"]] = [PERIOD_START_DAY, PERIOD_END_DAY,
                                                                   PERIOD_END_DAY]
    frame.loc[owner_cheques, "status"] = STATUS_ACTIVE
    # Growing customers: orders rise through the year, paid on time.
    frame.loc[growing, "ramp"] = True
    frame.loc[growing, "early_prob"] = rng.uniform(0.5, 0.9, len(growing))
    frame.loc[growing, "late_mean"] = -5.0
    frame.loc[growing, ["window_start", "window_end", "visit_end"]] = [PERIOD_START_DAY, PERIOD_END_DAY,
                                                                   PERIOD_END_DAY]
    frame.loc[growing, "status"] = STATUS_ACTIVE
    frame.loc[growing, "size"] = frame.loc[growing, "size"] * 2.0


def _baskets(rng, customers: pd.DataFrame, book: PriceBook):
    """Each customer's usual products: drawn by popularity, more of them for bigger accounts."""
    n = len(customers)
    cls = customers["customer_class"].to_numpy()
    n_products = book.n_products
    want = np.select([cls == CLASS_WHOLESALE, cls == CLASS_CHAIN],
                     [rng.integers(30, 80, n), rng.integers(20, 50, n)], rng.integers(8, 25, n))
    want = np.minimum(want, max(3, n_products // 2))
    owner = np.repeat(np.arange(n), want)
    product = rng.choice(n_products, len(owner), p=book.popularity)
    key = unique_ints(owner * n_products + product)  # sorted by customer, then product; duplicates dropped
    flat = key % n_products
    owner_of = key // n_products
    lens = np.bincount(owner_of, minlength=n)
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    # Shuffle products inside each basket so a prefix is a random subset.
    order = order_by(owner_of, rng.integers(0, 1 << 20, len(flat)))
    return flat[order].astype(np.int64), starts.astype(np.int64), lens.astype(np.int64)


def _customer_identifiers(ctx, rng, customers: pd.DataFrame, account_bank: dict, taken_addresses: set,
                          cities: list[str], staff_phones: set[str]):
    """Names, owners, phones, addresses, accounts, tax ids. Only branches of a declared chain share (their
    owner and, for some chains, the head-office account)."""
    pool = ctx.pool
    n = len(customers)
    cls = customers["customer_class"].to_numpy()
    chain_group = customers["chain_group"].to_numpy()
    owners = names.person_names(rng, n)
    n_groups = int(chain_group.max()) + 1 if (chain_group >= 0).any() else 0
    chain_owner = names.person_names(rng, n_groups)
    n_brands = len(names.CHAIN_BRANDS)
    chain_brand = [names.CHAIN_BRANDS[g % n_brands] + (f" {g // n_brands + 1}" if g >= n_brands else "")
                   for g in range(n_groups)]
    addresses = names.street_addresses(rng, cities, taken_addresses)
    shop_word = rng.integers(0, len(names.SHOP_WORDS), n)
    wholesale_word = rng.integers(0, len(names.WHOLESALE_WORDS), n)
    uses_owner_family = rng.random(n) < 0.6
    other_family = rng.integers(0, len(names.LAST_NAMES), n)
    customer_names, owner_names = [], []
    for i in range(n):
        if chain_group[i] >= 0:
            street = addresses[i].split(", ")[2].replace(" St.", "")
            customer_names.append(f"{chain_brand[chain_group[i]]} - {street} Branch")
            owner_names.append(chain_owner[chain_group[i]])
            continue
        family = owners[i].split(" ", 1)[1] if uses_owner_family[i] else names.LAST_NAMES[other_family[i]]
        word = (names.WHOLESALE_WORDS[wholesale_word[i]] if cls[i] == CLASS_WHOLESALE
                else names.SHOP_WORDS[shop_word[i]])
        customer_names.append(f"{family} {word}")
        owner_names.append(owners[i])
    # Phones and accounts are drawn apart from the staff's: drop any clash.
    phones = [p for p in names.phone_numbers(rng, n + 4096) if p not in staff_phones][:n]
    acct_text, acct_bank = names.bank_accounts(rng, n + n_groups + 4096)
    acct_codes = pool.codes(acct_text)
    keep = np.flatnonzero([int(c) not in account_bank for c in acct_codes])[:n + n_groups]
    acct_codes, acct_bank = acct_codes[keep], acct_bank[keep]
    for code, b in zip(acct_codes, acct_bank, strict=True):
        account_bank[int(code)] = pool.code(names.BANKS[b][0])
    bank = acct_codes[:n].copy()
    shared_chain_account = rng.random(n_groups) < 0.6
    group_account = acct_codes[n:n + n_groups]
    in_shared_chain = (chain_group >= 0) & shared_chain_account[np.maximum(chain_group, 0)]
    bank[in_shared_chain] = group_account[chain_group[in_shared_chain]]
    has_tax = np.where(cls == CLASS_RETAIL, rng.random(n) < 0.93, True)
    has_tax = np.where(customers["role"].to_numpy() == ROLE_NEW_SHOP, rng.random(n) < 0.7, has_tax)
    taxes = names.tax_ids(rng, n)
    customers["name"] = pool.codes(customer_names)
    customers["owner_name"] = pool.codes(owner_names)
    customers["phone"] = pool.codes(phones)
    customers["address"] = pool.codes(addresses)
    customers["city"] = pool.codes(cities)
    customers["bank_account"] = bank
    customers["tax_id"] = np.where(has_tax, pool.codes(taxes), NULL)
    # The owner's personal account is on record for owners who pay from it.
    owner_cheques = np.flatnonzero(customers["role"].to_numpy() == ROLE_OWNER_CHEQUES)
    personal, personal_bank = names.bank_accounts(rng, len(owner_cheques) + 64)
    personal_codes = pool.codes(personal)
    fresh = [i for i, c in enumerate(personal_codes) if int(c) not in account_bank][:len(owner_cheques)]
    for i in fresh:
        account_bank[int(personal_codes[i])] = pool.code(names.BANKS[personal_bank[i]][0])
    customers.loc[owner_cheques, "owner_account"] = personal_codes[fresh]
    return customers, account_bank
