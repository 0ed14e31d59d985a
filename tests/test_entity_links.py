"""The entity-link graph (analyses.links.graph): phone formats, fuzzy names and addresses, blocking,
declared chains, and the LNK-01 analysis on the mini ledger."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analyses.links.entity_links import EntityLinks
from analyses.links.graph import (
    LINK_COLUMNS,
    LinkInputs,
    LinkSettings,
    address_parts,
    build_graph,
    compute_links,
    customer_groups,
    fuzzy_clusters,
    name_key,
    phone_key,
    same_tokens,
)
from audit.data import AuditData


def _customers(rows):
    columns = ["customer_id", "name", "owner_name", "phone", "address", "city", "lat", "lon", "bank_account",
               "customer_class"]
    return pd.DataFrame([{c: row.get(c) for c in columns} for row in rows], columns=columns)


def _inputs(customers, staff=(), deliveries=(), drawers=()):
    return LinkInputs(
        _customers(customers),
        pd.DataFrame(list(staff), columns=["entity", "name", "phone", "address", "bank_account"]),
        pd.DataFrame(list(deliveries), columns=["customer_id", "delivery_address", "received_by", "lat", "lon",
                                                "shipments", "first_date", "last_date"]),
        pd.DataFrame(list(drawers), columns=["customer_id", "drawer_account", "drawer_name", "cheques", "amount"]),
    )


def _kinds(links, source, target):
    pair = links[((links["source"] == source) & (links["target"] == target))
                 | ((links["source"] == target) & (links["target"] == source))]
    return set(pair["kind"])


# ------------------------------------------------------------------------------------------------ phones
@pytest.mark.parametrize("written", [
    "+98 912 345 6789", "0098 912 345 6789", "0912-345-6789", "09123456789", "989123456789", "(0912) 345 67 89",
    "912 345 6789",
])
def test_phone_formats_of_one_mobile_number_agree(written):
    assert phone_key(written) == "9123456789"


def test_landlines_keep_their_area_code_and_differ_from_other_numbers():
    assert phone_key("021-555-0001") == phone_key("+98 21 555 0001") == "215550001"
    assert phone_key("021-555-0002") != phone_key("021-555-0001")


@pytest.mark.parametrize("junk", [None, "", "  ", "-", "0", "000000000", "1111111", "12345", float("nan")])
def test_placeholders_and_short_strings_are_no_phone(junk):
    assert phone_key(junk) is None


def test_country_code_is_a_setting():
    settings = LinkSettings(country_code="86", national_digits=11)
    assert phone_key("+86 138 0013 8000", settings) == phone_key("13800138000", settings) == "13800138000"


# ------------------------------------------------------------------------------------------------- names
def test_names_normalise_case_order_hyphens_and_persian_letters():
    assert name_key("Shokri-Nia, Mahsa") == name_key("mahsa  SHOKRINIA") == "mahsa shokrinia"
    assert name_key("علي كريمي") == name_key("علی کریمی")


def test_fuzzy_names_accept_a_typo_but_not_a_different_person():
    assert same_tokens(name_key("Mohammad Hosseini"), name_key("Mohamad Hoseini"), 93)
    assert not same_tokens(name_key("Javad Mohammadi"), name_key("Mohammad Javadi"), 93)
    assert not same_tokens(name_key("Sina Karimi"), name_key("Tina Karimi"), 93)
    assert not same_tokens(name_key("Soheil Ahmadi"), name_key("Soheila Ahmadi"), 93)


def test_owners_typed_differently_are_linked():
    links = compute_links(_inputs([
        {"customer_id": "C1", "owner_name": "Mohammad Hosseini-Far", "customer_class": "retail"},
        {"customer_id": "C2", "owner_name": "Mohamad Hosseini Far", "customer_class": "retail"},
        {"customer_id": "C3", "owner_name": "Sara Ahmadi", "customer_class": "retail"},
    ]))
    assert _kinds(links, "customer:C1", "customer:C2") == {"shared_owner_name"}
    assert _kinds(links, "customer:C1", "customer:C3") == set()
    assert links.loc[links["kind"] == "shared_owner_name", "similarity"].iloc[0] < 1.0


# --------------------------------------------------------------------------------------------- addresses
def test_an_address_reordered_and_abbreviated_is_one_place():
    assert address_parts("No. 12, 5 Alley, Azadi St., Tehran") == address_parts("Azadi Street, 5 Alley, 12, Tehran")
    assert address_parts("No. 37, 11 Alley, Yas St., Tehran") != address_parts("No. 11, 37 Alley, Yas St., Tehran")


def test_addresses_match_fuzzily_on_words_but_exactly_on_numbers():
    links = compute_links(_inputs([
        {"customer_id": "C1", "address": "No. 12, 5 Alley, Azadi St., Tehran"},
        {"customer_id": "C2", "address": "No. 12, 5 Alley, Azady Street, Tehran"},   # a typo in the street
        {"customer_id": "C3", "address": "No. 13, 5 Alley, Azadi St., Tehran"},     # the next door
        {"customer_id": "C4", "address": "No. 12, 5 Alley, Hafez St., Tehran"},     # another street
    ]))
    assert _kinds(links, "customer:C1", "customer:C2") == {"shared_address"}
    for other in ("C3", "C4"):
        assert _kinds(links, "customer:C1", f"customer:{other}") == set()


# ---------------------------------------------------------------------------------------------- blocking
def test_blocking_compares_only_inside_blocks():
    units = pd.DataFrame({"key": ["a", "b", "c", "d"], "text": ["azadi", "azady", "azadi", "azadi"],
                          "blocks": [["x"], ["x"], ["y"], ["z"]]})
    clusters, stats = fuzzy_clusters(units, 80, 100)
    assert clusters["a"] == clusters["b"]
    assert len({clusters["a"], clusters["c"], clusters["d"]}) == 3  # same words, other blocks: never compared
    assert stats["comparisons"] == 1


def test_a_cluster_is_named_after_its_smallest_key_whatever_the_order_of_joining():
    # b and c join first (block x); a then joins their larger set (block y): the union's root is b or c
    units = pd.DataFrame({"key": ["c", "b", "a", "d"], "text": ["azadi"] * 4,
                          "blocks": [["x"], ["x", "y"], ["y"], ["z"]]})
    clusters, _ = fuzzy_clusters(units, 80, 100)
    assert clusters == {"a": "a", "b": "a", "c": "a", "d": "d"}


def test_oversized_blocks_are_skipped_and_counted():
    units = pd.DataFrame({"key": list("abc"), "text": ["x", "x", "x"], "blocks": [["k"]] * 3})
    clusters, stats = fuzzy_clusters(units, 90, 2)
    assert stats["oversized_blocks"] == 1 and len(set(clusters.values())) == 3


def test_work_grows_near_linearly_with_customers():
    rng = np.random.default_rng(0)
    first = ["Ali", "Reza", "Sara", "Mina", "Omid", "Hadi", "Nima", "Leila", "Zahra", "Amir"]
    last = [f"Family{i:03d}" for i in range(300)]
    streets = [f"Street{i:03d}" for i in range(200)]

    def comparisons(n):
        rows = [{"customer_id": f"C{i}", "owner_name": f"{rng.choice(first)} {rng.choice(last)}",
                 "address": f"No. {rng.integers(1, 200)}, {rng.integers(1, 40)} Alley, {rng.choice(streets)} St.",
                 "phone": f"0912{i:07d}"} for i in range(n)]
        stats = build_graph(_inputs(rows)).graph["stats"]
        return stats["names"]["comparisons"] + stats["addresses"]["comparisons"]

    small, large = comparisons(2_000), comparisons(8_000)
    # All-against-all would grow 16 times; blocked work grows about 4 to 8 times (blocks fill up slowly).
    assert large < 10 * max(small, 1)


# ---------------------------------------------------------------------------------------- declared chains
def test_declared_chain_branches_are_linked_as_a_chain_and_marked():
    links = compute_links(_inputs([
        {"customer_id": "C1", "owner_name": "Hamid Zand", "customer_class": "chain", "bank_account": "IR0012345",
         "address": "No. 1, Azadi St., Tehran"},
        {"customer_id": "C2", "owner_name": "Hamid Zand", "customer_class": "chain", "bank_account": "IR-001-2345",
         "address": "No. 9, Hafez St., Tehran"},
        {"customer_id": "C3", "owner_name": "Hamid Zand", "customer_class": "retail", "bank_account": "IR0012345"},
    ]))
    chain = links[(links["source"] == "customer:C1") & (links["target"] == "customer:C2")]
    assert {"declared_chain", "shared_owner_name", "shared_bank_account"} <= set(chain["kind"])
    assert chain["declared_chain"].all()
    # The same owner and account on a retail account is not covered by the declaration.
    other = links[links["target"] == "customer:C3"]
    assert len(other) and not other["declared_chain"].any()
    # The branches join one group only through the retail account, not through their declared link.
    assert customer_groups(links, ("shared_bank_account",)) == [["C1", "C2", "C3"]]
    assert customer_groups(links[links["target"] != "customer:C3"], ("shared_bank_account",)) == []


def test_declared_chain_links_are_left_out_of_groups():
    links = compute_links(_inputs([
        {"customer_id": "C1", "owner_name": "Hamid Zand", "customer_class": "chain", "phone": "0912 000 1111"},
        {"customer_id": "C2", "owner_name": "Hamid Zand", "customer_class": "chain", "phone": "0912 000 1111"},
    ]))
    assert customer_groups(links, ("shared_phone", "shared_owner_name")) == []
    assert customer_groups(links, ("shared_phone",), exclude_declared=False) == [["C1", "C2"]]


# --------------------------------------------------------------------------- staff, deliveries, cheques
def test_staff_deliveries_and_cheques_are_linked():
    staff = [{"entity": "employee:E1", "name": "Maryam Karimi", "phone": "0935 777 8888", "address": None,
              "bank_account": "IR7700001"},
             {"entity": "salesperson:S1", "name": "Ali Rezaei", "phone": None, "address": None, "bank_account": None}]
    customers = [
        {"customer_id": "C1", "owner_name": "Reza Parsa", "address": "No. 12, Azadi St., Tehran", "lat": 35.69,
         "lon": 51.39, "bank_account": "IR1100001"},
        {"customer_id": "C9", "owner_name": "Navid Shams", "phone": "+98 935 777 8888", "address": "No. 40, Bahar St.",
         "lat": 35.75, "lon": 51.45},
    ]
    deliveries = [
        {"customer_id": "C9", "delivery_address": "Azadi Street, 12, Tehran", "received_by": "Reza Parsa",
         "lat": 35.69, "lon": 51.39, "shipments": 3, "first_date": pd.Timestamp("2025-03-01"),
         "last_date": pd.Timestamp("2025-04-01")},
        {"customer_id": "C1", "delivery_address": "No. 12, Azadi St., Tehran", "received_by": "Ali Rezaei",
         "lat": 35.69, "lon": 51.39, "shipments": 1, "first_date": pd.Timestamp("2025-03-01"),
         "last_date": pd.Timestamp("2025-03-01")},
    ]
    drawers = [{"customer_id": "C9", "drawer_account": "IR 1100 001", "drawer_name": "Parsa Market", "cheques": 2,
                "amount": 5_000_000.0}]
    links = compute_links(_inputs(customers, staff, deliveries, drawers), LinkSettings(away_m=300))
    assert list(links.columns) == list(LINK_COLUMNS)
    assert _kinds(links, "customer:C9", "employee:E1") == {"shared_phone"}
    directed = links[(links["source"] == "customer:C9") & (links["target"] == "customer:C1")]
    assert {"delivery_point", "received_by", "cheque_drawer"} <= set(directed["kind"])
    evidence = directed.loc[directed["kind"] == "cheque_drawer", "evidence"].iloc[0]
    assert isinstance(evidence, dict)  # data in the view; only writers make text
    assert evidence["source_count"] == 2 and evidence["source_amount"] == 5_000_000.0
    # Goods received by the salesperson at the customer's own address: a link to the salesperson only.
    assert _kinds(links, "customer:C1", "salesperson:S1") == {"received_by"}


def test_location_links_need_a_delivery_away_from_home_and_at_another_customer():
    customers = [{"customer_id": "C1", "lat": 35.6900, "lon": 51.3900},
                 {"customer_id": "C2", "lat": 35.7500, "lon": 51.4500},
                 {"customer_id": "C3", "lat": 35.69005, "lon": 51.39005}]
    deliveries = [{"customer_id": "C2", "delivery_address": None, "received_by": None, "lat": 35.69001,
                   "lon": 51.39001, "shipments": 2, "first_date": pd.NaT, "last_date": pd.NaT},
                  {"customer_id": "C3", "delivery_address": None, "received_by": None, "lat": 35.69005,
                   "lon": 51.39005, "shipments": 1, "first_date": pd.NaT, "last_date": pd.NaT}]
    links = compute_links(_inputs(customers, deliveries=deliveries), LinkSettings(same_place_m=30, away_m=300))
    assert set(links.loc[links["source"] == "customer:C2", "target"]) == {"customer:C1", "customer:C3"}
    assert not (links["source"] == "customer:C3").any()  # delivered at its own place, beside C1: no link


# --------------------------------------------------------------------------------------------- analysis
def test_the_analysis_builds_the_view_on_the_mini_ledger(mini_tables, mini_policy):
    data = AuditData(mini_tables, mini_policy)
    analysis = EntityLinks.from_policy(mini_policy)
    assert analysis.geofence_m == mini_policy.visits.geofence_m
    views = analysis.compute(data)
    links = views["entity_links"]
    assert list(links.columns) == list(LINK_COLUMNS)
    assert links["source"].str.contains(":").all() if len(links) else True
    data.engine.close()


def test_empty_inputs_give_an_empty_view():
    links = compute_links(_inputs([]))
    assert links.empty and list(links.columns) == list(LINK_COLUMNS)


def test_pair_masks_never_skip_a_pair_that_makes_a_link():
    """The masks are a necessary condition for ``_pair_kinds``: over every combination of roles two entities
    can hold at an identifier, a pair the masks skip yields no link, and some pairs are skipped."""
    from itertools import chain, combinations, product

    from analyses.links.graph import _pair_kinds, _pair_masks

    roles_at = {"name": ("owner_name", "name", "shop_name", "received_by", "drawer_name"),
                "phone": ("phone",), "bank_account": ("bank_account", "drawer_account"),
                "address": ("address", "delivered_to")}
    skipped = 0
    for node_type, roles in roles_at.items():
        subsets = [set(s) for s in chain.from_iterable(combinations(roles, k) for k in range(1, len(roles) + 1))]
        for (first, second), (a, b) in product(product(subsets, repeat=2),
                                               (("customer:C1", "customer:C2"), ("customer:C1", "salesperson:S1"))):
            ra = {r: {"value": "x", "text": "x"} for r in first}
            rb = {r: {"value": "x", "text": "x"} for r in second}
            a_gives, a_takes = _pair_masks(node_type, ra)
            b_gives, b_takes = _pair_masks(node_type, rb)
            if not (a_gives & b_takes or b_gives & a_takes):
                skipped += 1
                assert list(_pair_kinds(node_type, a, ra, b, rb)) == [], (node_type, first, second)
    assert skipped > 0
