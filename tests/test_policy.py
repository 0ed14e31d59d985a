"""policy.toml: every key and default of the contract, and errors that name the key and the fix."""

from __future__ import annotations

import datetime as dt
from importlib.metadata import version

import pytest
from packaging.version import Version

from audit.policy import Policy, PolicyError, load_policy, policy_from_dict

CONTRACT_DEFAULTS = """
currency = "IRR"
calendar = "gregorian"
weekend = ["Sat", "Sun"]
holidays = []
[cheques]
max_maturity_days = 90
hand_in_days = 2
[discounts]
manual_authority_pct = { salesperson = 5.0, manager = 10.0 }
cash_discount = { within_days = 10, pct = 2.0 }
volume_tiers = [ { min_quantity = 100, pct = 3.0 }, { min_quantity = 500, pct = 6.0 } ]
[pricing]
tolerance_pct = 0.5
[visits]
geofence_m = 300
late_minutes = 30
[collections]
ladder_days = { reminder = 0, letter_1 = 15, letter_2_stop_supply = 30, letter_3 = 60, letter_4 = 90, agency = 120, legal = 180 }
[thresholds]
approval_amount = 0
"""


def test_contract_policy_parses_to_the_defaults(tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text(CONTRACT_DEFAULTS)
    assert load_policy(path) == Policy() == load_policy(None)


def test_values_are_read():
    policy = policy_from_dict({"weekend": ["Fri"], "holidays": ["2025-03-21", "2025-03-20"],
                               "cheques": {"hand_in_days": 3},
                               "discounts": {"volume_tiers": [{"min_quantity": 500, "pct": 6},
                                                              {"min_quantity": 100, "pct": 3}]}})
    assert policy.weekmask == "1111011"
    assert policy.holidays == (dt.date(2025, 3, 20), dt.date(2025, 3, 21))
    assert policy.cheques.hand_in_days == 3 and policy.cheques.max_maturity_days == 90
    assert [policy.discounts.volume_tier_pct(q) for q in (99, 100, 499, 500)] == [0, 3, 3, 6]


@pytest.mark.parametrize("values, words", [
    ({"cheque": {}}, ["unknown key 'cheque'", "did you mean 'cheques'"]),
    ({"pricing": {"tolerance": 1}}, ["unknown key 'pricing.tolerance'", "pricing.tolerance_pct"]),
    ({"cheques": {"hand_in_days": "two"}}, ["cheques.hand_in_days", "integer", "'two'"]),
    ({"calendar": "lunar"}, ["calendar", "gregorian", "jalali"]),
    ({"weekend": ["Fry"]}, ["'Fry' is not a weekday"]),
    ({"holidays": ["2025-02-30"]}, ["holidays"]),
    ({"pricing": {"tolerance_pct": -1}}, ["pricing.tolerance_pct", "greater than or equal to 0"]),
])
def test_bad_policy_names_the_key(values, words):
    with pytest.raises(PolicyError) as caught:
        policy_from_dict(values)
    for word in words:
        assert word in str(caught.value)


def test_unreadable_policy_file(tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text("[cheques\nmax = 1")
    with pytest.raises(PolicyError, match="not valid TOML"):
        load_policy(path)
    with pytest.raises(PolicyError, match="does not exist"):
        load_policy(tmp_path / "missing.toml")


def test_pinned_engine_versions():
    # Ibis 12 generates broken DDL with sqlglot >= 30.18; its PySpark backend needs pyspark < 4.1.
    assert Version(version("ibis-framework")).major == 12
    assert Version(version("sqlglot")) < Version("30.18")
    assert Version(version("pyspark")) < Version("4.1")
    assert Version(version("pandas")).major == 3


def test_jalali_holiday_is_refused():
    with pytest.raises(PolicyError, match="looks like a Jalali date"):
        policy_from_dict({"holidays": ["1404-01-01"]})
