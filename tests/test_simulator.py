"""The ledger simulator: determinism, contract shape, labels and decoys, integrity, money identities,
and that honest records never meet a fraud criterion (plain pandas rules, one function each)."""

from __future__ import annotations

import filecmp
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from audit.contract import LABEL_COLUMNS, PATTERNS, SALESPERSON_PATTERNS, TABLES
from simulator import SCALES, simulate

REQUIRED_PATTERNS = set(SALESPERSON_PATTERNS) | {"customer_distress", "duplicate_invoice", "invoice_number_gap"}
WEEKDAY_INDEX = {"Mon": 0, "Tue": 1, "Wed": 2, "Thu": 3, "Fri": 4, "Sat": 5, "Sun": 6}
DATE_COLUMNS = {t.name: [c.name for c in t.columns if c.type in ("date", "timestamp")] for t in TABLES.values()}


def read_dataset(folder: Path) -> dict[str, pd.DataFrame]:
    tables = {}
    for name in TABLES:
        frame = pd.read_csv(folder / f"{name}.csv", keep_default_na=True)
        for column in DATE_COLUMNS[name]:
            frame[column] = pd.to_datetime(frame[column])
        tables[name] = frame
    return tables


@pytest.fixture(scope="module")
def dirty_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sim_dirty")
    simulate(out, scale="tiny", seed=0)
    return out


@pytest.fixture(scope="module")
def clean_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sim_clean")
    simulate(out, scale="tiny", seed=0, clean=True)
    return out


@pytest.fixture(scope="module")
def dirty(dirty_dir):
    return read_dataset(dirty_dir)


@pytest.fixture(scope="module")
def clean(clean_dir):
    return read_dataset(clean_dir)


@pytest.fixture(scope="module")
def policy(clean_dir):
    return tomllib.loads((clean_dir / "policy.toml").read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------------- helpers
def busdaycal(policy) -> np.busdaycalendar:
    weekmask = [0 if day in policy["weekend"] else 1 for day in WEEKDAY_INDEX]
    return np.busdaycalendar(weekmask=weekmask, holidays=np.array(policy["holidays"], dtype="datetime64[D]"))


def working_days_between(start: pd.Series, end: pd.Series, policy) -> np.ndarray:
    return np.busday_count(start.to_numpy().astype("datetime64[D]"), end.to_numpy().astype("datetime64[D]"),
                           busdaycal=busdaycal(policy))


def distance_m(lat1, lon1, lat2, lon2) -> np.ndarray:
    lat1, lon1, lat2, lon2 = (np.radians(np.asarray(v, dtype=float)) for v in (lat1, lon1, lat2, lon2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_000 * np.arcsin(np.sqrt(a))


def line_net(lines: pd.DataFrame) -> pd.Series:
    return lines["quantity"] * lines["unit_price"] * (1 - lines["discount_pct"] / 100)


def invoice_net(t) -> pd.Series:
    lines = t["invoice_lines"]
    return line_net(lines).groupby(lines["invoice_id"]).sum()


def valid_prices(t, lines: pd.DataFrame) -> pd.Series:
    """The price list's valid price for each line: the customer's class price if any, else the general."""
    inv = t["invoices"].set_index("invoice_id")
    cls = t["customers"].set_index("customer_id")["customer_class"]
    frame = lines.assign(day=inv.loc[lines["invoice_id"], "invoice_date"].to_numpy(),
                         cls=cls.loc[inv.loc[lines["invoice_id"], "customer_id"]].to_numpy(), row=np.arange(len(lines)))
    pl = t["price_list"]
    end = pl["valid_to"].fillna(pd.Timestamp("2100-01-01"))

    def lookup(rows: pd.DataFrame, prices: pd.DataFrame, keys: list[str]) -> pd.Series:
        merged = rows.merge(prices, on=keys)
        merged = merged[(merged["valid_from"] <= merged["day"]) & (merged["day"] <= merged["valid_to_filled"])]
        return merged.set_index("row")["unit_price_list"]

    prices = pl.assign(valid_to_filled=end).rename(columns={"unit_price": "unit_price_list"})
    general = lookup(frame[["row", "product_id", "day"]], prices[prices["customer_class"].isna()].drop(
        columns="customer_class"), ["product_id"])
    by_class = lookup(frame[["row", "product_id", "day", "cls"]],
                      prices[prices["customer_class"].notna()].rename(columns={"customer_class": "cls"}),
                      ["product_id", "cls"])
    out = general.reindex(frame["row"])
    out.loc[by_class.index] = by_class
    return pd.Series(out.to_numpy(), index=lines.index)


def ledger_at(t, as_of) -> pd.Series:
    inv = t["invoices"]
    posted = inv[(inv["status"] == "posted") & (inv["invoice_date"] <= as_of)]
    net = invoice_net(t)
    owed = net.reindex(posted["invoice_id"]).fillna(0).groupby(posted["customer_id"].to_numpy()).sum()
    cn = t["credit_notes"][t["credit_notes"]["credit_date"] <= as_of]
    credits = cn.groupby("customer_id")["amount"].sum()
    alloc = t["receipt_allocations"].merge(t["receipts"][["receipt_id", "posted_date"]], on="receipt_id")
    alloc = alloc[alloc["posted_date"] <= as_of].merge(inv[["invoice_id", "customer_id"]], on="invoice_id")
    paid = (alloc["amount"] + alloc["cash_discount_amount"]).groupby(alloc["customer_id"]).sum()
    return owed.sub(credits, fill_value=0).sub(paid, fill_value=0)


# ------------------------------------------------------------------- fraud criteria (honest never meets)
def price_off_list(t, policy) -> pd.DataFrame:
    lines = t["invoice_lines"]
    valid = valid_prices(t, lines)
    off = (lines["unit_price"] - valid).abs() > valid * policy["pricing"]["tolerance_pct"] / 100
    return lines[off | valid.isna()]


def discount_off_rules(t, policy) -> pd.DataFrame:
    lines = t["invoice_lines"]
    tiers = sorted(policy["discounts"]["volume_tiers"], key=lambda x: x["min_quantity"])
    tier = pd.Series(0.0, index=lines.index)
    for x in tiers:
        tier[lines["quantity"] >= x["min_quantity"]] = x["pct"]
    authority = policy["discounts"]["manual_authority_pct"]["salesperson"]
    kind = lines["discount_type"]
    bad_volume = (kind == "volume") & (lines["discount_pct"] != tier)
    bad_manual = (kind == "manual") & (lines["discount_pct"] > authority) & lines["discount_approved_by"].isna()
    bad_promo = (kind == "promo") & lines["discount_approved_by"].isna()
    bad_none = (kind == "none") & (lines["discount_pct"] != 0)
    return lines[bad_volume | bad_manual | bad_promo | bad_none]


def invoice_beyond_orders(t) -> pd.DataFrame:
    """Invoiced quantity above the invoice's order plus the customer's uninvoiced (amendment) orders."""
    inv, orders, ol = t["invoices"], t["orders"], t["order_lines"]
    invoiced_orders = set(inv["order_id"].dropna())
    amendments = orders[~orders["order_id"].isin(invoiced_orders)]
    posted = inv[inv["status"] == "posted"]
    lines = t["invoice_lines"].merge(posted[["invoice_id", "order_id", "customer_id", "invoice_date"]],
                                     on="invoice_id")
    ordered = ol.groupby(["order_id", "product_id"])["quantity"].sum().rename("ordered").reset_index()
    lines = lines.merge(ordered, on=["order_id", "product_id"], how="left")
    extra = ol.merge(amendments[["order_id", "customer_id", "order_date"]], on="order_id")
    extra = extra.groupby(["customer_id", "product_id"])["quantity"].sum().rename("amended").reset_index()
    lines = lines.merge(extra, on=["customer_id", "product_id"], how="left")
    allowed = lines["ordered"].fillna(0) + lines["amended"].fillna(0)
    return lines[lines["order_id"].isna() | (lines["quantity"] > allowed)]


def cheque_over_maturity(t, policy) -> pd.DataFrame:
    chq = t["cheques"].merge(t["customers"][["customer_id", "payment_terms_days"]], on="customer_id")
    days = (chq["due_date"] - chq["received_date"]).dt.days
    allowed = np.maximum(policy["cheques"]["max_maturity_days"], chq["payment_terms_days"])
    return chq[days > allowed]


def cheque_late_hand_in(t, policy) -> pd.DataFrame:
    chq = t["cheques"]
    late = working_days_between(chq["received_date"], chq["handed_in_date"].fillna(chq["received_date"]), policy)
    return chq[(late > policy["cheques"]["hand_in_days"]) | chq["handed_in_date"].isna()]


def receipt_late_posting(t, policy) -> pd.DataFrame:
    rec = t["receipts"]
    late = working_days_between(rec["receipt_date"], rec["posted_date"], policy)
    return rec[late > policy["cheques"]["hand_in_days"]]


def cheque_receipt_dated_apart(t) -> pd.DataFrame:
    rec = t["receipts"].merge(t["cheques"][["cheque_id", "received_date"]], on="cheque_id")
    return rec[rec["receipt_date"] != rec["received_date"]]


def foreign_drawer(t) -> pd.DataFrame:
    """Cheques not drawn by the customer (its name or owner) or drawn on a staff or stranger's account."""
    cust = t["customers"].set_index("customer_id")
    chq = t["cheques"]
    own_name = chq["drawer_name"].to_numpy() == cust.loc[chq["customer_id"], "name"].to_numpy()
    owner = chq["drawer_name"].to_numpy() == cust.loc[chq["customer_id"], "owner_name"].to_numpy()
    own_account = chq["drawer_account"].to_numpy() == cust.loc[chq["customer_id"], "bank_account"].to_numpy()
    staff_accounts = set(t["salespeople"]["bank_account"]) | set(t["employees"]["bank_account"])
    other_customers = cust.reset_index().groupby("bank_account")["owner_name"].agg(set)
    account_owner_ok = [
        (acct not in staff_accounts) and (acct not in other_customers.index
                                          or other_customers[acct] == {cust.at[c, "owner_name"]})
        for acct, c in zip(chq["drawer_account"], chq["customer_id"], strict=True)]
    ok = (own_name & own_account) | (owner & np.array(account_owner_ok))
    return chq[~ok]


def cross_customer_allocation(t) -> pd.DataFrame:
    alloc = t["receipt_allocations"].merge(t["receipts"][["receipt_id", "customer_id"]], on="receipt_id")
    alloc = alloc.merge(t["invoices"][["invoice_id", "customer_id"]], on="invoice_id", suffixes=("", "_invoice"))
    return alloc[alloc["customer_id"] != alloc["customer_id_invoice"]]


def unbilled_shipments(t) -> pd.DataFrame:
    inv = t["invoices"]
    ship = t["shipments"].merge(inv[["invoice_id", "status"]], on="invoice_id", how="left")
    no_invoice = ship[ship["invoice_id"].isna() | (ship["status"] != "posted")]
    shipped = t["shipment_lines"].merge(t["shipments"][["shipment_id", "invoice_id"]], on="shipment_id")
    shipped = shipped.groupby(["invoice_id", "product_id"])["quantity"].sum().rename("shipped").reset_index()
    invoiced = t["invoice_lines"].groupby(["invoice_id", "product_id"])["quantity"].sum().rename("invoiced")
    both = shipped.merge(invoiced.reset_index(), on=["invoice_id", "product_id"], how="left")
    over = both[both["shipped"] > both["invoiced"].fillna(0)]
    return pd.concat([no_invoice[["shipment_id"]], over[["invoice_id"]]])


def delivery_off_site(t, policy) -> pd.DataFrame:
    ship = t["shipments"].merge(t["customers"][["customer_id", "address", "lat", "lon", "owner_name"]],
                                on="customer_id")
    far = distance_m(ship["delivery_lat"], ship["delivery_lon"], ship["lat"], ship["lon"]) > policy["visits"]["geofence_m"]
    return ship[far | (ship["delivery_address"] != ship["address"]) | (ship["received_by"] != ship["owner_name"])]


def split_tier_quantity(t, policy) -> pd.DataFrame:
    """Tier-discounted lines far above the customer's usual quantity."""
    lines = t["invoice_lines"].merge(t["invoices"][["invoice_id", "customer_id"]], on="invoice_id")
    usual = lines.groupby("customer_id")["quantity"].median()
    ratio = lines["quantity"] / usual.loc[lines["customer_id"]].to_numpy()
    return lines[(lines["discount_type"] == "volume") & (ratio > 8)]


def visits_noncompliant(t, policy) -> pd.DataFrame:
    v = t["visits"].merge(t["customers"][["customer_id", "lat", "lon"]], on="customer_id")
    done = v["status"] == "done"
    far = distance_m(v["checkin_lat"], v["checkin_lon"], v["lat"], v["lon"]) > policy["visits"]["geofence_m"]
    planned = v["planned_date"] + pd.to_timedelta(v["planned_time"] + ":00")
    late = (v["checkin_at"] - planned).dt.total_seconds() / 60 > policy["visits"]["late_minutes"]
    missed = v["status"] == "missed"
    return v[(done & (far | late)) | missed | (done & v["checkin_at"].isna())]


def impossible_travel(t) -> pd.DataFrame:
    v = t["visits"][t["visits"]["status"] == "done"].sort_values(["salesperson_id", "checkin_at"])
    prev = v.groupby("salesperson_id").shift(1)
    same_day = prev["checkin_at"].dt.date == v["checkin_at"].dt.date
    hours = (v["checkin_at"] - prev["checkout_at"]).dt.total_seconds() / 3600
    km = distance_m(prev["checkin_lat"], prev["checkin_lon"], v["checkin_lat"], v["checkin_lon"]) / 1000
    speed = km / np.maximum(hours, 1 / 60)
    return v[same_day & ((speed > 100) | (hours < 0))]


def visits_overlapping(t) -> pd.DataFrame:
    """Visits of one salesperson in the same slot of a day, or checked in before the salesperson's previous
    visit that day was checked out (both visits of each such pair are returned)."""
    v = t["visits"]
    live = v[v["status"] != "cancelled"]
    same_slot = live[live.duplicated(["salesperson_id", "planned_date", "planned_time"], keep=False)]
    done = v[v["checkin_at"].notna()].sort_values(["salesperson_id", "checkin_at", "visit_id"])
    previous = done.groupby("salesperson_id")[["visit_id", "checkin_at", "checkout_at"]].shift(1)
    overlap = (previous["checkin_at"].dt.date == done["checkin_at"].dt.date) & (
        done["checkin_at"] < previous["checkout_at"])
    pairs = set(done.loc[overlap, "visit_id"]) | set(previous.loc[overlap, "visit_id"])
    return pd.concat([same_slot, v[v["visit_id"].isin(pairs)]])


def pings_away_during_visits(t, policy) -> pd.DataFrame:
    v = t["visits"][t["visits"]["status"] == "done"].merge(t["customers"][["customer_id", "lat", "lon"]],
                                                           on="customer_id")
    pings = t["gps_pings"].merge(v[["salesperson_id", "checkin_at", "checkout_at", "lat", "lon", "visit_id"]],
                                 on="salesperson_id", suffixes=("", "_customer"))
    during = pings[(pings["recorded_at"] >= pings["checkin_at"]) & (pings["recorded_at"] <= pings["checkout_at"])]
    far = distance_m(during["lat"], during["lon"], during["lat_customer"], during["lon_customer"])
    return during[far > policy["visits"]["geofence_m"]]


def cash_discount_wrong(t, policy) -> pd.DataFrame:
    alloc = t["receipt_allocations"].merge(t["receipts"], on="receipt_id", suffixes=("", "_receipt"))
    alloc = alloc.merge(t["invoices"][["invoice_id", "invoice_date"]], on="invoice_id")
    alloc = alloc.merge(t["cheques"][["cheque_id", "due_date"]], on="cheque_id", how="left")
    paid_on = alloc["due_date"].where(alloc["method"] == "cheque", alloc["receipt_date"])
    within = (paid_on - alloc["invoice_date"]).dt.days <= policy["discounts"]["cash_discount"]["within_days"]
    expected = np.where(within, alloc["amount"] * policy["discounts"]["cash_discount"]["pct"] / 100, 0.0)
    return alloc[np.abs(alloc["cash_discount_amount"] - expected) > 1.0]


def shared_identifiers(t) -> pd.DataFrame:
    """Phones, addresses or accounts used by two parties (branches of one declared chain excepted)."""
    cust = t["customers"]
    parties = pd.concat([
        cust.assign(party=cust["customer_id"], chain=np.where(cust["customer_class"] == "chain", cust["owner_name"],
                                                              cust["customer_id"])),
        t["salespeople"].assign(party=t["salespeople"]["salesperson_id"], chain=t["salespeople"]["salesperson_id"]),
        t["employees"].assign(party=t["employees"]["employee_id"], chain=t["employees"]["employee_id"]),
    ])
    out = []
    for column in ("phone", "address", "bank_account"):
        groups = parties.dropna(subset=[column]).groupby(column)["chain"].nunique()
        out.append(parties[parties[column].isin(groups[groups > 1].index)])
    return pd.concat(out)


def customers_never_visited(t, policy) -> pd.DataFrame:
    v = t["visits"][t["visits"]["status"] == "done"].merge(t["customers"][["customer_id", "lat", "lon"]],
                                                           on="customer_id")
    near = distance_m(v["checkin_lat"], v["checkin_lon"], v["lat"], v["lon"]) <= policy["visits"]["geofence_m"]
    visited = set(v.loc[near, "customer_id"])
    buying = set(t["invoices"]["customer_id"])
    return t["customers"][t["customers"]["customer_id"].isin(buying - visited)]


def duplicate_invoices(t) -> pd.DataFrame:
    lines = t["invoice_lines"].sort_values(["invoice_id", "product_id"])
    signature = lines.assign(item=lines["product_id"] + ":" + lines["quantity"].astype(str) + ":"
                             + lines["unit_price"].astype(str)).groupby("invoice_id")["item"].agg("|".join)
    inv = t["invoices"][t["invoices"]["status"] == "posted"].assign(
        signature=lambda f: signature.loc[f["invoice_id"]].to_numpy())
    pairs = inv.merge(inv, on=["customer_id", "signature"])
    pairs = pairs[(pairs["invoice_id_x"] < pairs["invoice_id_y"])
                  & ((pairs["invoice_date_y"] - pairs["invoice_date_x"]).dt.days.abs() <= 7)]
    return pairs


def invoice_number_gaps(t) -> list[int]:
    numbers = sorted(int(n.split("-")[1]) for n in t["invoices"]["invoice_no"])
    return sorted(set(range(numbers[0], numbers[-1] + 1)) - set(numbers))


def postings_on_days_off(t, policy) -> pd.DataFrame:
    cal = busdaycal(policy)
    out = []
    for table, column in (("orders", "order_date"), ("invoices", "invoice_date"), ("shipments", "ship_date"),
                          ("receipts", "posted_date"), ("credit_notes", "credit_date"),
                          ("cheques", "handed_in_date"), ("visits", "planned_date")):
        days = t[table][column].dropna().to_numpy().astype("datetime64[D]")
        off = ~np.is_busday(days, busdaycal=cal)
        out.append(t[table][column].dropna()[off])
    return pd.concat(out)


def confirmation_differs(t) -> pd.DataFrame:
    conf = t["confirmations"]
    rows = []
    for as_of, group in conf.groupby("as_of_date"):
        ledger = ledger_at(t, as_of)
        diff = group["confirmed_balance"].to_numpy() - ledger.reindex(group["customer_id"]).fillna(0).to_numpy()
        rows.append(group[np.abs(diff) > 1.0])
    return pd.concat(rows)


def order_after_invoice(t) -> pd.DataFrame:
    inv = t["invoices"].merge(t["orders"][["order_id", "order_date"]], on="order_id")
    ship = t["shipments"].merge(t["invoices"][["invoice_id", "invoice_date"]], on="invoice_id")
    return pd.concat([inv[inv["order_date"] > inv["invoice_date"]][["invoice_id"]],
                      ship[ship["ship_date"] < ship["invoice_date"]][["invoice_id"]]])


def distress_events(t) -> pd.DataFrame:
    ev = t["customer_events"]
    return ev[ev["event_type"].isin(["bankruptcy_filing", "legal_action", "promise_broken", "accountant_resigned"])]


def not_ordered_credit_notes(t) -> pd.DataFrame:
    return t["credit_notes"][t["credit_notes"]["reason"] == "not_ordered"]


HONEST_CHECKS = {
    "price_off_list": lambda t, p: price_off_list(t, p),
    "discount_off_rules": lambda t, p: discount_off_rules(t, p),
    "invoice_beyond_orders": lambda t, p: invoice_beyond_orders(t),
    "cheque_over_maturity": lambda t, p: cheque_over_maturity(t, p),
    "cheque_late_hand_in": lambda t, p: cheque_late_hand_in(t, p),
    "receipt_late_posting": lambda t, p: receipt_late_posting(t, p),
    "cheque_receipt_dated_apart": lambda t, p: cheque_receipt_dated_apart(t),
    "foreign_drawer": lambda t, p: foreign_drawer(t),
    "cross_customer_allocation": lambda t, p: cross_customer_allocation(t),
    "unbilled_shipments": lambda t, p: unbilled_shipments(t),
    "delivery_off_site": lambda t, p: delivery_off_site(t, p),
    "split_tier_quantity": lambda t, p: split_tier_quantity(t, p),
    "visits_noncompliant": lambda t, p: visits_noncompliant(t, p),
    "impossible_travel": lambda t, p: impossible_travel(t),
    "visits_overlapping": lambda t, p: visits_overlapping(t),
    "pings_away_during_visits": lambda t, p: pings_away_during_visits(t, p),
    "cash_discount_wrong": lambda t, p: cash_discount_wrong(t, p),
    "shared_identifiers": lambda t, p: shared_identifiers(t),
    "customers_never_visited": lambda t, p: customers_never_visited(t, p),
    "duplicate_invoices": lambda t, p: duplicate_invoices(t),
    "postings_on_days_off": lambda t, p: postings_on_days_off(t, p),
    "confirmation_differs": lambda t, p: confirmation_differs(t),
    "order_after_invoice": lambda t, p: order_after_invoice(t),
    "distress_events": lambda t, p: distress_events(t),
    "not_ordered_credit_notes": lambda t, p: not_ordered_credit_notes(t),
}


@pytest.mark.parametrize("check", sorted(HONEST_CHECKS))
def test_clean_data_meets_no_fraud_criterion(clean, policy, check):
    hits = HONEST_CHECKS[check](clean, policy)
    assert len(hits) == 0, f"{check}: {len(hits)} honest records meet the criterion\n{hits.head()}"


def test_clean_data_has_no_number_gaps(clean):
    assert invoice_number_gaps(clean) == []


@pytest.mark.parametrize("check", ["price_off_list", "unbilled_shipments", "cheque_over_maturity",
                                   "visits_noncompliant", "duplicate_invoices", "shared_identifiers"])
def test_dirty_data_meets_the_criteria(dirty, policy, check):
    """The same rules do fire on the injected data (so the honest checks are not vacuous)."""
    assert len(HONEST_CHECKS[check](dirty, policy)) > 0


# ------------------------------------------------------------------------------------- the dataset
def test_same_seed_same_bytes(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    simulate(first, scale="tiny", seed=7)
    simulate(second, scale="tiny", seed=7)
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir())
    _, mismatch, errors = filecmp.cmpfiles(first, second, names, shallow=False)
    assert mismatch == [] and errors == []


def test_every_contract_table_with_all_columns(dirty_dir):
    for name, table in TABLES.items():
        header = pd.read_csv(dirty_dir / f"{name}.csv", nrows=0).columns.tolist()
        assert header == table.column_names, name
        assert len(pd.read_csv(dirty_dir / f"{name}.csv")) > 0, f"{name} is empty"
    assert (dirty_dir / "policy.toml").exists()


def test_optional_columns_filled(dirty):
    for name, table in TABLES.items():
        for column in table.column_names:
            assert dirty[name][column].notna().any(), f"{name}.{column} never filled"


def test_policy_matches_contract_keys(dirty_dir):
    from audit.policy import load_policy

    loaded = load_policy(dirty_dir / "policy.toml")
    assert loaded is not None


@pytest.fixture(scope="module")
def labels(dirty_dir) -> pd.DataFrame:
    return pd.read_csv(dirty_dir / "labels.csv", keep_default_na=False)


@pytest.fixture(scope="module")
def decoys(dirty_dir) -> pd.DataFrame:
    return pd.read_csv(dirty_dir / "decoys.csv", keep_default_na=False)


def test_labels_cover_patterns(labels):
    assert list(labels.columns) == list(LABEL_COLUMNS)
    assert REQUIRED_PATTERNS <= set(labels["pattern"])
    assert set(labels["pattern"]) <= set(PATTERNS)


def test_decoys_cover_patterns(decoys):
    assert list(decoys.columns) == list(LABEL_COLUMNS)
    assert REQUIRED_PATTERNS <= set(decoys["pattern"])


def test_clean_has_no_labels_but_decoys(clean_dir):
    assert pd.read_csv(clean_dir / "labels.csv").empty
    assert list(pd.read_csv(clean_dir / "labels.csv").columns) == list(LABEL_COLUMNS)
    assert len(pd.read_csv(clean_dir / "decoys.csv")) > 0


ENTITY_TABLE = {"invoice": ("invoices", "invoice_id"), "customer": ("customers", "customer_id"),
                "cheque": ("cheques", "cheque_id"), "receipt": ("receipts", "receipt_id"),
                "shipment": ("shipments", "shipment_id"), "visit": ("visits", "visit_id"),
                "salesperson": ("salespeople", "salesperson_id")}


def test_labels_point_at_records(dirty, labels, decoys):
    numbers = {int(n.split("-")[1]) for n in dirty["invoices"]["invoice_no"]}
    gaps = set(invoice_number_gaps(dirty))
    for frame in (labels, decoys):
        for row in frame.itertuples():
            if row.entity_type == "invoice_no":
                number = int(row.entity_id.split("-")[1])
                assert (number in gaps) if row.pattern == "invoice_number_gap" and frame is labels \
                    else (number in numbers), row
                continue
            table, key = ENTITY_TABLE[row.entity_type]
            assert row.entity_id in set(dirty[table][key]), row
            if row.salesperson_id:
                assert row.salesperson_id in set(dirty["salespeople"]["salesperson_id"])
            if row.customer_id:
                assert row.customer_id in set(dirty["customers"]["customer_id"])
    assert gaps == {int(e.split("-")[1]) for e in labels.loc[labels["pattern"] == "invoice_number_gap", "entity_id"]}


def test_each_dishonest_salesperson_is_labelled_once_with_their_cases(labels):
    people = labels[labels["pattern"] == "salesperson_anomaly"]
    assert len(people) >= 2 and people["entity_id"].is_unique
    assert (people["entity_type"] == "salesperson").all() and (people["entity_id"] == people["salesperson_id"]).all()
    fraud = labels[labels["pattern"].isin(SALESPERSON_PATTERNS)]
    assert set(people["entity_id"]) == set(fraud["salesperson_id"].dropna()) - {""}
    for row in people.itertuples():
        own = fraud.loc[fraud["salesperson_id"] == row.entity_id, "amount"].astype(float)
        assert float(row.amount) == pytest.approx(own.sum(), abs=0.01)


def test_distress_labels_have_default_after_signals(dirty, labels):
    distress = labels[labels["pattern"] == "customer_distress"]
    events = dirty["customer_events"]
    for row in distress.itertuples():
        default = pd.Timestamp(row.event_date)
        own = events[events["customer_id"] == row.customer_id]
        assert ((own["event_type"].isin(["legal_action", "bankruptcy_filing"])) & (own["event_date"] == default)).any()
        assert (own["event_date"] < default - pd.Timedelta(days=30)).any(), "no early warning signal"


def test_references_resolve(dirty):
    for name, table in TABLES.items():
        for column in table.columns:
            if column.references is None:
                continue
            target, key = column.references
            values = dirty[name][column.name].dropna()
            missing = set(values) - set(dirty[target][key])
            assert not missing, f"{name}.{column.name} -> {target}.{key}: {sorted(missing)[:5]}"


def test_money_identities(dirty, policy):
    rec, alloc, chq = dirty["receipts"], dirty["receipt_allocations"], dirty["cheques"]
    by_receipt = alloc.groupby("receipt_id")["amount"].sum()
    assert np.allclose(rec.set_index("receipt_id")["amount"], by_receipt.reindex(rec["receipt_id"]), atol=0.05)
    with_cheque = rec.dropna(subset=["cheque_id"]).merge(chq[["cheque_id", "amount"]], on="cheque_id",
                                                         suffixes=("", "_cheque"))
    assert np.allclose(with_cheque["amount"], with_cheque["amount_cheque"], atol=0.05)
    net = invoice_net(dirty)
    settled = (alloc["amount"] + alloc["cash_discount_amount"]).groupby(alloc["invoice_id"]).sum()
    credits = dirty["credit_notes"].groupby("invoice_id")["amount"].sum()
    open_amount = net.sub(settled, fill_value=0).sub(credits, fill_value=0)
    assert (open_amount > -1.0).all(), "an invoice is paid more than its amount"
    discounted = alloc[alloc["cash_discount_amount"] > 0]
    pct = policy["discounts"]["cash_discount"]["pct"]
    assert np.allclose(discounted["cash_discount_amount"], discounted["amount"] * pct / 100, atol=1.0)
    # The ledger identity: balances add up over customers to invoices - payments - discounts - credits.
    end = pd.Timestamp("2025-12-31")
    ledger = ledger_at(dirty, end)
    posted = dirty["invoices"][dirty["invoices"]["status"] == "posted"]["invoice_id"]
    total = net.reindex(posted).sum() - settled.sum() - dirty["credit_notes"]["amount"].sum()
    assert abs(ledger.sum() - total) < 1.0


def test_scales_are_named():
    assert SCALES["tiny"] < SCALES["small"] < SCALES["medium"] < SCALES["large"] == 10_000_000


def altman_z2(statements: pd.DataFrame) -> pd.Series:
    """Altman Z'' (non-manufacturers) from the contract's statement columns."""
    ta = statements["total_assets"]
    return (6.56 * (statements["current_assets"] - statements["current_liabilities"]) / ta
            + 3.26 * statements["retained_earnings"] / ta + 6.72 * statements["ebit"] / ta
            + 1.05 * statements["equity"] / statements["total_liabilities"])


def test_statements_inform_without_giving_the_answer(dirty, labels):
    """Failing customers' weak statements are weak (low Z'', interest above 5 % of sales), but so are a
    minority of the survivors': a weak statement is a sign, not the answer."""
    latest = dirty["customer_financials"].sort_values("period_end").groupby("customer_id").tail(1)
    failing = set(labels.loc[labels["pattern"] == "customer_distress", "customer_id"])
    z = altman_z2(latest).set_axis(latest["customer_id"])
    interest_share = (latest["interest_expense"] / latest["sales"]).set_axis(latest["customer_id"])
    healthy = ~z.index.isin(failing)
    assert z[healthy].median() > 2.6
    weak_looking = ((z < 1.1) | (interest_share > 0.05)).to_numpy()
    assert 0 < weak_looking[healthy].mean() < 0.25
    weak = z.index.isin(failing) & (z < 1.1).to_numpy()
    assert (interest_share[weak] > 0.05).all()
    balance = latest["total_assets"] - latest["total_liabilities"] - latest["equity"]
    assert np.allclose(balance, 0, atol=1e3)


def test_cheque_labels_rest_on_the_cheque_that_broke_the_rule(dirty, labels, policy):
    cheques = dirty["cheques"].set_index("cheque_id")
    broke = {"cheque_maturity_over_policy": set(cheque_over_maturity(dirty, policy)["cheque_id"]),
             "cheque_withheld": set(cheque_late_hand_in(dirty, policy)["cheque_id"])}
    on_cheques = labels[labels["entity_type"] == "cheque"]
    assert len(on_cheques)
    for row in on_cheques.itertuples():
        assert pd.isna(cheques.at[row.entity_id, "replaces_cheque_id"]), row
        assert row.entity_id in broke[row.pattern], row


def test_bounced_fraud_cheques_labelled_on_the_first_cheque(tmp_path, monkeypatch, policy):
    """A held or over-long cheque that bounced and was replaced: the label is the first cheque (the one
    that broke the rule), and its note names the replacement."""
    from simulator import fraud

    monkeypatch.setattr(fraud, "BOUNCE_SHARE", 1.0)
    simulate(tmp_path, scale="tiny", seed=0)
    t = read_dataset(tmp_path)
    labels = pd.read_csv(tmp_path / "labels.csv", keep_default_na=False)
    cheques = t["cheques"].set_index("cheque_id")
    broke = {"cheque_maturity_over_policy": set(cheque_over_maturity(t, policy)["cheque_id"]),
             "cheque_withheld": set(cheque_late_hand_in(t, policy)["cheque_id"])}
    replaced = 0
    for row in labels[labels["entity_type"] == "cheque"].itertuples():
        assert pd.isna(cheques.at[row.entity_id, "replaces_cheque_id"]) and row.entity_id in broke[row.pattern]
        successors = cheques.index[cheques["replaces_cheque_id"] == row.entity_id]
        if len(successors):
            replaced += 1
            assert cheques.at[row.entity_id, "status"] == "replaced"
            assert f"replaced on {cheques.at[successors[0], 'received_date']:%Y-%m-%d} by cheque {successors[0]}" \
                in row.note
            assert successors[0] not in broke[row.pattern]
    assert replaced > 0


def test_cheques_clear_or_bounce_after_hand_in(dirty):
    cheques = dirty["cheques"]
    seen = cheques[cheques["status"].isin(["cleared", "bounced"])]
    assert (seen["status_date"] > seen["handed_in_date"]).all()
    assert (seen["status_date"] > seen["due_date"]).all()


def test_rescheduled_visits_get_a_free_slot(tmp_path, monkeypatch, policy):
    """Many visits moved at the customers' request (the look-alike of visit_noncompliance): each new visit
    has a slot of its own in the salesperson's day, on time and on site."""
    from simulator import decoys

    monkeypatch.setattr(decoys, "RESCHEDULE_SHARE", 0.05)
    simulate(tmp_path, scale="tiny", seed=5, clean=True)
    t = read_dataset(tmp_path)
    assert t["visits"]["notes"].fillna("").str.startswith("rescheduled visit").sum() > 50
    for check in ("visits_overlapping", "visits_noncompliant", "impossible_travel", "pings_away_during_visits"):
        hits = HONEST_CHECKS[check](t, policy)
        assert len(hits) == 0, f"{check}: {len(hits)} honest visits meet the criterion\n{hits.head()}"


def test_visit_fraud_leaves_the_honest_visits_alone(dirty, labels):
    """Late, made-up and impossible visits do not overlap the salesperson's honest visits."""
    labelled = set(labels.loc[labels["pattern"] == "visit_noncompliance", "entity_id"])
    assert labelled
    hits = visits_overlapping(dirty)
    assert set(hits["visit_id"]) <= labelled, hits[~hits["visit_id"].isin(labelled)].head()


def test_quiet_defaulters_took_no_goods_for_three_months(dirty, labels):
    """Where "three months without shipments" is a failing customer's sign, it holds (with the balance
    open) at the last month end a warning can describe: 30 days before the default."""
    quiet = labels[(labels["pattern"] == "customer_distress") & labels["note"].str.contains("no_shipments_3_months")]
    assert len(quiet)
    ships = dirty["shipments"]
    for row in quiet.itertuples():
        cutoff = pd.Timestamp(row.event_date) - pd.Timedelta(days=30)
        month_end = (cutoff + pd.Timedelta(days=1)).to_period("M").to_timestamp() - pd.Timedelta(days=1)
        own = ships.loc[(ships["customer_id"] == row.customer_id) & (ships["ship_date"] <= month_end), "ship_date"]
        assert (month_end - own.max()).days >= 90, row
        assert ledger_at(dirty, month_end).get(row.customer_id, 0.0) > 0, row


def test_notes_write_dates_not_day_numbers(dirty, labels, decoys):
    notes = pd.concat([labels["note"], decoys["note"], dirty["visits"]["notes"].dropna(),
                       dirty["customer_events"]["notes"].dropna()])
    raw = notes[notes.str.contains(r"(?<![\w-])\d{5,}(?![\w-])", regex=True)]
    assert raw.empty, raw.head()
    lapping = labels[labels["note"].str.startswith("lapping")]
    assert len(lapping)
    for row in lapping.itertuples():
        assert f"cash paid on {row.event_date}" in row.note and "invoice I" in row.note, row


def test_parquet_output(tmp_path):
    simulate(tmp_path, scale="tiny", seed=3, fmt="parquet")
    for name, table in TABLES.items():
        assert pd.read_parquet(tmp_path / f"{name}.parquet").columns.tolist() == table.column_names
    assert (tmp_path / "labels.csv").exists() and (tmp_path / "decoys.csv").exists()


def test_a_record_put_on_a_day_off_lands_on_one_or_stays_on_its_working_day():
    # Medium seed 43 labelled a copy dated Sunday 2025-12-28 as posted on a day off: no Friday or holiday
    # follows it within the period, and the search gave back the working day it started from.
    from types import SimpleNamespace

    from simulator.fraud import weekend_day_near
    from simulator.workdays import PERIOD_END_DAY, PERIOD_START_DAY, SimulatedPolicy, WorkCalendar

    ctx = SimpleNamespace(calendar=WorkCalendar(SimulatedPolicy()))
    last_day_off = max(d for d in range(PERIOD_START_DAY, PERIOD_END_DAY + 1) if not ctx.calendar.is_working_day(d))
    for start in range(PERIOD_START_DAY, PERIOD_END_DAY + 1):
        moved = weekend_day_near(ctx, start)
        if start > last_day_off:
            assert moved is None, start
        else:  # never earlier: a copy stays after its original
            assert start <= moved < start + 10 and not ctx.calendar.is_working_day(moved), start


def test_day_off_labels_are_dated_on_days_off(dirty, labels, policy):
    posted = dirty["invoices"].set_index("invoice_id")["invoice_date"]
    weekend = labels[(labels["pattern"] == "weekend_posting") & (labels["entity_type"] == "invoice")]
    dates = pd.to_datetime(weekend["entity_id"].map(posted))
    holidays = {pd.Timestamp(h) for h in policy["holidays"]}
    off = dates.dt.strftime("%a").isin(policy["weekend"]) | dates.isin(holidays)
    assert len(weekend) and off.all(), weekend[~off.to_numpy()]
