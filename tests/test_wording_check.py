"""The wording checker (audit.wording_check) catches explanations whose figures their own evidence
contradicts, including the contradictions issue 21 found, and the wording functions no longer write them."""

from __future__ import annotations

import pandas as pd
import pytest

from audit.wording_check import contradictions
from detectors.wording import customer_distress
from detectors.wording.anomaly_drivers import driver_sentence, driver_short, value_words

HISTORY = [{"period": "2025-01", "score": 0.54, "exposure": 1_200_000.0},
           {"period": "2025-02", "score": 0.31, "exposure": 1_500_000.0},
           {"period": "2025-03", "score": 0.45, "exposure": 1_800_000.0},
           {"period": "2025-04", "score": 0.81, "exposure": 2_500_000.0}]


def _distress(period="2025-04", first_alert="2025-01") -> dict:
    return {"entity_id": "C7", "customer_id": "C7", "period": period, "risk_amount": 2_500_000.0,
            "evidence": {"kind": "alert", "score": 0.81, "first_alert_period": first_alert,
                         "first_watch_period": "2025-01", "levels": {"watch": 0.2, "alert": 0.5},
                         "month_end": pd.Timestamp("2025-04-30"), "history": HISTORY,
                         "exposure": {"exposure": 2_500_000.0, "credit_limit": 2_000_000.0}},
            "facts": {}}


GOOD = ("Customer C7 shows signs that come before a customer fails, at the end of 2025-04: score 0.81. "
        "The company stands to lose 2,500,000, against a credit limit of 2,000,000 (25 % above it). "
        "Monthly score: 2025-01 0.54, 2025-02 0.31, 2025-03 0.45, 2025-04 0.81. Pull its statement at 2025-04-30.")


def test_an_explanation_stating_only_its_evidence_passes():
    assert contradictions(_distress(), "Customer C7: alert in 2025-04", GOOD) == []


@pytest.mark.parametrize("broken, caught", [
    # issue 21: "first month above the alert level" in 2025-04 while 2025-01 was above it already
    (GOOD.replace("score 0.81.", "score 0.81 (first month above the alert level)."), "first_alert_period 2025-01"),
    (GOOD.replace("2,500,000,", "2,600,000,"), "states 2,600,000"),
    (GOOD.replace("2025-04-30", "2025-04-29"), "states date 2025-04-29"),
    (GOOD.replace("at the end of 2025-04", "at the end of 2025-05"), "states period 2025-05"),
    (GOOD.replace("2025-03 0.45", "2025-03 0.55"), "states 2025-03 at 0.55; its evidence has 0.45"),
    (GOOD.replace("25 % above", "35 % above"), "states 35 %"),
    (GOOD.replace("score 0.81.", "score 0.87."), "states 0.87"),
    # issue 21: an anomaly "0.0 % against a typical 0.0 %" and distress "usually every 0"
    (GOOD + " Credit notes 0.0 % against a typical 0.0 %.", "typical 0 %"),
    (GOOD + " No goods taken for 79 days (usually every 0).", "every 0"),
    # a missing baseline written as a figure ("against nan before")
    (GOOD + " Payments 33 days past due, against nan before.", "missing value"),
])
def test_the_checker_catches_a_deliberately_broken_explanation(broken, caught):
    found = contradictions(_distress(), "Customer C7: alert in 2025-04", broken)
    assert any(caught in problem for problem in found), found


def test_the_distress_wording_names_the_earlier_month_above_the_level():
    finding = _distress()
    words = customer_distress.kind_words(finding["evidence"], "2025-04")
    assert "first month above the alert level" not in words.split(" of ")[0] or "2025-01" in words
    assert "2025-01 was above it already at 0.54" in words
    assert contradictions(finding, "", f"At the end of 2025-04: score 0.81 ({words}).") == []
    # when the finding's month is the first above the level, it says so plainly
    assert customer_distress.kind_words(_distress(first_alert="2025-04")["evidence"], "2025-04") == (
        "first month above the alert level")


SAME_DAY = "at least half of its earlier deliveries came on the same day as another, so no usual interval shows"


@pytest.mark.parametrize("gap, words", [(0.0, SAME_DAY), (0.4, SAME_DAY),
                                        (1.0, "usually every 1 day"), (14.6, "usually every 15 days"),
                                        (float("nan"), "too few earlier deliveries to say what is usual")])
def test_the_usual_gap_never_reads_every_0(gap, words):
    assert customer_distress.usual_gap_words(gap) == words


def test_an_anomaly_driver_whose_typical_value_is_zero_says_most_have_none():
    driver = {"words": "credit notes and returns as a share of purchases", "unit": "share", "direction": "high",
              "value": 0.116, "typical": 0.0, "rarer_share": 0.003}
    sentence = driver_sentence(driver, "customer-months")
    assert sentence == ("credit notes and returns as a share of purchases 11.6 % where most customer-months have "
                        "none (top 0.3 % of customer-months)")
    assert driver_short(driver).endswith("11.6 % (most have none)")
    # a share too small for one decimal keeps two significant digits instead of reading "0.0 %"
    assert value_words("share", 0.0003) == "0.03 %"
    typical = {**driver, "typical": 0.021}
    assert "against a typical 2.1 %" in driver_sentence(typical, "customer-months")


def test_a_distress_sign_without_an_earlier_baseline_says_so():
    evidence = {"measurements": {"lateness_recent_days": 33.0, "lateness_baseline_days": float("nan"),
                                 "maturity_recent_days": 79.0, "maturity_baseline_days": float("nan"),
                                 "terms_days": 60.0, "cheque_share_recent": 0.8, "cheque_share_baseline": None},
                "statement": {}, "exposure": {"exposure": 0.0, "credit_limit": None}}
    facts = {"points": {"payments_later": 0.6, "longer_maturities": 0.26, "cheque_switch": 0.3}, "grace_days": 30,
             "recent_days": 90, "spike_days": 60, "event_dates": {}}
    said = dict((words.split(" (")[0], points) for points, words in customer_distress._sign_words(evidence, facts))
    assert set(said) == {"payments 33 days past due on average in the last 90 days, with no earlier payments to compare",
                         "cheques dated 79 days ahead, with no earlier cheques to compare, against 60-day terms",
                         "80% of recent payments by post-dated cheque with no earlier payments to compare"}
