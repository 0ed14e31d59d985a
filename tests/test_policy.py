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


@pytest.mark.parametrize("values, words", [
    # issue 19's probes: a boolean for days, a percentage of 250, an unknown collection-ladder step
    ({"cheques": {"max_maturity_days": True}}, ["cheques.max_maturity_days", "whole number", "got true",
                                                "max_maturity_days = 90"]),
    ({"cheques": {"hand_in_days": "2"}}, ["cheques.hand_in_days", "whole number", "'2'"]),
    ({"visits": {"geofence_m": False}}, ["visits.geofence_m", "must be a number", "got false"]),
    ({"discounts": {"cash_discount": {"pct": 250}}}, ["discounts.cash_discount.pct", "percentage",
                                                      "at most 100", "got 250"]),
    ({"discounts": {"manual_authority_pct": {"manager": 101}}}, ["manual_authority_pct.manager", "at most 100"]),
    ({"discounts": {"volume_tiers": [{"min_quantity": 10, "pct": 250}]}}, ["volume_tiers.0.pct", "at most 100"]),
    ({"pricing": {"tolerance_pct": 250}}, ["pricing.tolerance_pct", "at most 100"]),
    ({"collections": {"ladder_days": {"reminder": 0, "leter_1": 15}}},
     ["collections.ladder_days", "unknown collection-ladder step 'leter_1'", "did you mean 'letter_1'"]),
    ({"collections": {"ladder_days": {"court": 200}}}, ["unknown collection-ladder step 'court'", "legal"]),
    ({"discounts": {"volume_tiers": [{"min_quantity": 10, "pct": 2, "max": 3}]}},
     ["unknown key 'discounts.volume_tiers.0.max'"]),
    ({"data": {"max_set_aside": 10}}, ["unknown key 'data.max_set_aside'", "did you mean 'data.max_set_aside_pct'"]),
    ({"data": {"max_set_aside_pct": 250}}, ["data.max_set_aside_pct", "at most 100"]),
    ({"data": {"max_abs_number": 0}}, ["data.max_abs_number", "greater than 0"]),
    ({"data": {"earliest_date": "2300-01-01"}}, ["data.earliest_date = 2300-01-01", "1900-01-01 to 2199-12-31"]),
    ({"data": {"earliest_date": "2025-01-01", "latest_date": "2024-01-01"}}, ["must come after"]),
    ({"holidays": [20250321]}, ["holidays.0", "YYYY-MM-DD"]),
])
def test_wrong_types_shares_and_unknown_keys_are_refused(values, words):
    with pytest.raises(PolicyError) as caught:
        policy_from_dict(values)
    for word in words:
        assert word in str(caught.value)


def test_data_keys_are_read_from_toml(tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text("[data]\nmax_abs_number = 1e20\nearliest_date = 1980-01-01\nlatest_date = 2030-12-31\n"
                    "max_set_aside_pct = 12.5\n[collections]\nladder_days = { reminder = 0, legal = 90 }\n")
    policy = load_policy(path)
    assert policy.data.max_abs_number == 1e20 and policy.data.max_set_aside_pct == 12.5
    assert policy.data.date_window() == (dt.date(1980, 1, 1), dt.date(2030, 12, 31))
    assert policy.collections.ladder_days == {"reminder": 0, "legal": 90}
    assert Policy().data.max_set_aside_pct == 5.0 and Policy().data.max_abs_number == 1e18


def test_a_boolean_in_a_policy_file_is_refused_by_the_cli(tmp_path):
    from typer.testing import CliRunner

    from audit.cli import app

    from .conftest import MINI

    path = tmp_path / "policy.toml"
    path.write_text("[cheques]\nmax_maturity_days = true\n")
    result = CliRunner().invoke(app, ["validate", "--data", str(MINI), "--policy", str(path)])
    words = " ".join(result.output.split())
    assert result.exit_code == 1 and "Traceback" not in words
    assert "cheques.max_maturity_days must be a whole number" in words and "got true" in words
