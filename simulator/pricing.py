"""Products, the price list (general and customer-class prices with changes during the year), promotions
and the discount rules every honest invoice line follows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import names
from .workdays import NULL, SimulatedPolicy, WorkCalendar, day_number

CUSTOMER_CLASSES = ("retail", "wholesale", "chain")
DISCOUNT_TYPES = ("none", "volume", "cash", "promo", "manual")
DISCOUNT_NONE, DISCOUNT_VOLUME, DISCOUNT_CASH, DISCOUNT_PROMO, DISCOUNT_MANUAL = range(5)
CLASS_RETAIL, CLASS_WHOLESALE, CLASS_CHAIN = range(3)

# The list in force before the simulated year, and the dates of the year's price changes.
BASE_PRICE_DAY = day_number("2024-09-21")
PRICE_CHANGE_DAYS = tuple(day_number(d) for d in ("2025-02-01", "2025-04-05", "2025-06-22",
                                                  "2025-09-06", "2025-11-15"))
# Documented promotions: (category, first day, last day, pct).
PROMOTIONS = (
    ("Confectionery", "2025-02-15", "2025-03-15", 5.0),
    ("Beverages", "2025-06-22", "2025-07-31", 4.0),
    ("Detergents", "2025-10-01", "2025-10-31", 3.5),
    ("Tea", "2025-12-01", "2025-12-20", 4.0),
)
# Trade promotions announced centrally (a circular to every salesperson; marketing's approval keyed on only
# some of the lines), in the world shapes with cross-pattern look-alikes: same layout as PROMOTIONS.
CENTRAL_PROMOTIONS = (
    ("Rice & grains", "2025-05-03", "2025-05-31", 6.0),
    ("Cooking oil", "2025-08-02", "2025-08-30", 5.0),
)
# Promotional list prices in the same world shapes: (category, first day, last day, pct below the list
# price), a general price-list row for the weeks of the promotion, the old price back after it.
PROMOTIONAL_PRICES = (
    ("Pasta", "2025-10-04", "2025-10-25", 10.0),
    ("Spices", "2025-04-19", "2025-05-10", 8.0),
)
_DAY_BITS = 20  # day numbers (~20,000) fit in 20 bits of a lookup key


def round_price(values) -> np.ndarray:
    """Prices are whole thousands of rials."""
    return np.maximum(np.round(np.asarray(values) / 1000.0), 1.0) * 1000.0


@dataclass
class PriceBook:
    products: pd.DataFrame  # contract columns (string columns as pool codes) + category_idx, brand_idx
    popularity: np.ndarray
    price_list: pd.DataFrame  # product_id, valid_from, unit_price, valid_to, customer_class (code, -1 = general)
    promotions: list[tuple[int, int, int, float]]  # (category_idx, first day, last day, pct)
    marketing_approver: int
    # Promotions announced centrally (also in ``promotions``): their lines carry no approver.
    central_promotions: tuple[tuple[int, int, int, float], ...] = ()
    # Promotional list prices: (category_idx, first day, last day, pct below), in the price list.
    promotional_prices: tuple[tuple[int, int, int, float], ...] = ()

    def __post_init__(self):
        pl = self.price_list
        general = pl[pl["customer_class"] < 0]
        self._general_keys = (general["product_id"].to_numpy() << _DAY_BITS) | general["valid_from"].to_numpy()
        self._general_price = general["unit_price"].to_numpy()
        order = np.argsort(self._general_keys, kind="stable")
        self._general_keys, self._general_price = self._general_keys[order], self._general_price[order]
        cls = pl[pl["customer_class"] >= 0]
        n_products = len(self.products)
        group = cls["customer_class"].to_numpy() * n_products + cls["product_id"].to_numpy()
        self._class_keys = (group << _DAY_BITS) | cls["valid_from"].to_numpy()
        self._class_price = cls["unit_price"].to_numpy()
        order = np.argsort(self._class_keys, kind="stable")
        self._class_keys, self._class_price = self._class_keys[order], self._class_price[order]
        self.n_products = n_products
        self.category = self.products["category_idx"].to_numpy()
        self.brand = self.products["brand_idx"].to_numpy()
        # Promotion pct by (category, day), for constant-time lookups.
        self._promo_first_day = min(first for _, first, _, _ in self.promotions)
        span = max(last for _, _, last, _ in self.promotions) - self._promo_first_day + 1
        self._promo = np.zeros((int(self.category.max()) + 1, span))
        for cat, first, last, pct in self.promotions:
            self._promo[cat, first - self._promo_first_day:last - self._promo_first_day + 1] = pct
        self._central = np.zeros(self._promo.shape, dtype=bool)
        for cat, first, last, _ in self.central_promotions:
            self._central[cat, first - self._promo_first_day:last - self._promo_first_day + 1] = True

    def general_price(self, product, day) -> np.ndarray:
        product, day = np.asarray(product, dtype=np.int64), np.asarray(day, dtype=np.int64)
        idx = np.searchsorted(self._general_keys, (product << _DAY_BITS) | day, side="right") - 1
        return self._general_price[idx]

    def class_price(self, product, day, customer_class) -> tuple[np.ndarray, np.ndarray]:
        """The class's own price where the list has one (and a mask of where it has)."""
        product, day = np.asarray(product, dtype=np.int64), np.asarray(day, dtype=np.int64)
        group = np.asarray(customer_class, dtype=np.int64) * self.n_products + product
        keys = (group << _DAY_BITS) | day
        idx = np.searchsorted(self._class_keys, keys, side="right") - 1
        safe = np.maximum(idx, 0)
        found = (idx >= 0) & ((self._class_keys[safe] >> _DAY_BITS) == group)
        return np.where(found, self._class_price[safe], np.nan), found

    def valid_price(self, product, day, customer_class) -> np.ndarray:
        """The price an honest invoice line carries: the class price if any, else the general price."""
        general = self.general_price(product, day)
        cls_price, found = self.class_price(product, day, customer_class)
        return np.where(found, cls_price, general)

    def promotion_pct(self, product, day) -> np.ndarray:
        product, day = np.asarray(product, dtype=np.int64), np.asarray(day, dtype=np.int64)
        offset = day - self._promo_first_day
        inside = (offset >= 0) & (offset < self._promo.shape[1])
        return np.where(inside, self._promo[self.category[product], np.clip(offset, 0, self._promo.shape[1] - 1)],
                        0.0)

    def central_promotion(self, product, day) -> np.ndarray:
        """Whether a centrally announced promotion runs on the product that day."""
        product, day = np.asarray(product, dtype=np.int64), np.asarray(day, dtype=np.int64)
        offset = day - self._promo_first_day
        inside = (offset >= 0) & (offset < self._central.shape[1])
        return inside & self._central[self.category[product], np.clip(offset, 0, self._central.shape[1] - 1)]


def honest_discounts(book: PriceBook, policy: SimulatedPolicy, product, day, quantity):
    """Discount every honest line gets by rule: the better of its volume tier and a running promotion."""
    tier = policy.tier_pct(np.asarray(quantity, dtype=float))
    promo = book.promotion_pct(product, day)
    pct = np.maximum(tier, promo)
    kind = np.where(pct == 0, DISCOUNT_NONE, np.where(promo > tier, DISCOUNT_PROMO, DISCOUNT_VOLUME))
    approver = np.where(kind == DISCOUNT_PROMO, book.marketing_approver, NULL)
    if book.central_promotions:
        # Announced to everyone by a circular: marketing's approval is keyed on about a third of the lines
        # (a fixed rule of product and day), the others carry none.
        unkeyed = (np.asarray(product) + np.asarray(day)) % 3 != 0
        approver = np.where((kind == DISCOUNT_PROMO) & book.central_promotion(product, day) & unkeyed, NULL,
                            approver)
    return pct, kind.astype(np.int8), approver.astype(np.int64)


def build_price_book(rng: np.random.Generator, pool, n_products: int, calendar: WorkCalendar,
                     marketing_approver: int, central: bool = False) -> PriceBook:
    """Products, the price list and the promotions (with the centrally announced ones when ``central``)."""
    n_categories = len(names.CATEGORIES)
    # Each brand sells in a few categories.
    brand_categories = [rng.choice(n_categories, size=int(rng.integers(2, 5)), replace=False)
                        for _ in names.BRANDS]
    brand = rng.integers(0, len(names.BRANDS), n_products)
    category = np.array([brand_categories[b][int(rng.integers(0, len(brand_categories[b])))] for b in brand])
    variant = rng.integers(0, len(names.PRODUCT_VARIANTS), n_products)
    size_code = rng.integers(1, 6, n_products)
    seen: dict[str, int] = {}
    product_names = []
    for b, c, v, s in zip(brand, category, variant, size_code, strict=True):
        text = f"{names.BRANDS[b]} {names.CATEGORIES[c][0]} {names.PRODUCT_VARIANTS[v]} {s * 250}g"
        seen[text] = seen.get(text, 0) + 1
        product_names.append(text if seen[text] == 1 else f"{text} ({seen[text]})")
    median = np.array([names.CATEGORIES[c][2] for c in category], dtype=float)
    base_price = round_price(median * rng.lognormal(0.0, 0.35, n_products))
    popularity = 1.0 / np.arange(1, n_products + 1) ** 0.9
    popularity = rng.permutation(popularity)
    popularity /= popularity.sum()

    # General price periods: the base list and 1-3 increases on the year's change dates.
    change_days = calendar.roll_forward(np.array(PRICE_CHANGE_DAYS))
    rows_product, rows_from, rows_price = [], [], []
    n_changes = rng.integers(1, 4, n_products)
    for p in range(n_products):
        picked = np.sort(rng.choice(len(change_days), size=n_changes[p], replace=False))
        price = base_price[p]
        rows_product.append(p)
        rows_from.append(BASE_PRICE_DAY)
        rows_price.append(price)
        for k in picked:
            price = round_price(price * (1 + rng.uniform(0.05, 0.18)))
            rows_product.append(p)
            rows_from.append(int(change_days[k]))
            rows_price.append(float(price))
    general = pd.DataFrame({"product_id": np.array(rows_product, dtype=np.int64),
                            "valid_from": np.array(rows_from, dtype=np.int64),
                            "unit_price": np.array(rows_price, dtype=float)})
    category_index = {c[0]: i for i, c in enumerate(names.CATEGORIES)}
    promotional_prices = tuple((category_index[cat], calendar.roll_forward(np.array([day_number(a)]))[0].item(),
                                day_number(b), pct) for cat, a, b, pct in (PROMOTIONAL_PRICES if central else ()))
    if promotional_prices:
        general = _with_promotional_prices(general, category, promotional_prices)
    nxt = general.groupby("product_id")["valid_from"].shift(-1)
    general["valid_to"] = np.where(nxt.isna(), NULL, nxt.fillna(0).to_numpy() - 1).astype(np.int64)
    general["customer_class"] = np.int64(-1)

    # Class prices: wholesale on ~60 % of products, chain on ~40 %, a fixed ratio below the general price.
    parts = [general]
    for cls, share, lo, hi in ((CLASS_WHOLESALE, 0.6, 0.93, 0.96), (CLASS_CHAIN, 0.4, 0.95, 0.98)):
        has = rng.random(n_products) < share
        ratio = rng.uniform(lo, hi, n_products)
        rows = general[has[general["product_id"].to_numpy()]].copy()
        rows["unit_price"] = round_price(rows["unit_price"].to_numpy() * ratio[rows["product_id"].to_numpy()])
        rows["customer_class"] = np.int64(cls)
        parts.append(rows)
    price_list = pd.concat(parts, ignore_index=True).sort_values(
        ["product_id", "customer_class", "valid_from"], kind="stable").reset_index(drop=True)

    last_general = general.groupby("product_id")["unit_price"].last().to_numpy()
    products = pd.DataFrame({
        "product_id": np.arange(n_products, dtype=np.int64),
        "name": pool.codes(product_names),
        "brand": pool.codes([names.BRANDS[b] for b in brand]),
        "category": pool.codes([names.CATEGORIES[c][0] for c in category]),
        "unit": pool.codes([names.CATEGORIES[c][1] for c in category]),
        "list_price": last_general,
        "category_idx": category.astype(np.int64),
        "brand_idx": brand.astype(np.int64),
    })
    promotions = [(category_index[cat], calendar.roll_forward(np.array([day_number(a)]))[0].item(),
                   day_number(b), pct) for cat, a, b, pct in PROMOTIONS]
    central_promotions = tuple((category_index[cat], calendar.roll_forward(np.array([day_number(a)]))[0].item(),
                                day_number(b), pct) for cat, a, b, pct in (CENTRAL_PROMOTIONS if central else ()))
    return PriceBook(products, popularity, price_list, promotions + list(central_promotions), marketing_approver,
                     central_promotions, promotional_prices)


def _with_promotional_prices(general: pd.DataFrame, category: np.ndarray, promotional_prices) -> pd.DataFrame:
    """General price rows with a lower price for the weeks of each promotion (products of its category whose
    price does not change during it), the price in force before it coming back the day after."""
    added = []
    for cat, first, last, pct in promotional_prices:
        for p in np.flatnonzero(category == cat):
            rows = general[general["product_id"] == p]
            if ((rows["valid_from"] > first) & (rows["valid_from"] <= last + 1)).any():
                continue
            before = float(rows.loc[rows["valid_from"] <= first, "unit_price"].iloc[-1])
            added.append((p, first, float(round_price(before * (1 - pct / 100)))))
            added.append((p, last + 1, before))
    extra = pd.DataFrame(added, columns=["product_id", "valid_from", "unit_price"]).astype(
        {"product_id": np.int64, "valid_from": np.int64})
    return pd.concat([general, extra], ignore_index=True).sort_values(
        ["product_id", "valid_from"], kind="stable").reset_index(drop=True)
