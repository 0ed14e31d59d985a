"""The evaluator's matching rule and figures on hand-made labels: perfect, empty, partial, decoys."""

from __future__ import annotations

import pandas as pd
import pytest

from simulator.evaluation import evaluate, read_labels

LABELS = pd.DataFrame([
    ("price_deviation", "invoice", "I1", 100.0, None),
    ("price_deviation", "invoice", "I2", 300.0, None),
    ("unbilled_shipment", "shipment", "SH1", 600.0, None),
    ("customer_distress", "customer", "C7", 1000.0, "2025-06-15"),
], columns=["pattern", "entity_type", "entity_id", "amount", "event_date"])
LABELS["event_date"] = pd.to_datetime(LABELS["event_date"])
DECOYS = pd.DataFrame([("price_deviation", "invoice", "I9", 0.0, None)],
                      columns=["pattern", "entity_type", "entity_id", "amount", "event_date"])


def _finding(rank, pattern, entity_type, entity_id, related=(), period="2025-03", score=0.9):
    return {"exception_id": f"{rank:016x}", "rank": rank, "pattern": pattern, "entity_type": entity_type,
            "entity_id": entity_id, "related": list(related), "period": period, "score": score,
            "risk_amount": 1.0}


def _exceptions(*findings):
    return pd.DataFrame(list(findings), columns=["exception_id", "rank", "pattern", "entity_type", "entity_id",
                                                 "related", "period", "score", "risk_amount"])


def test_perfect_answer_scores_one():
    perfect = _exceptions(*[_finding(i + 1, r.pattern, r.entity_type, r.entity_id, period="2025-04")
                            for i, r in enumerate(LABELS.itertuples())])
    result = evaluate(perfect, LABELS, DECOYS, customers=["C1", "C2", "C7"])
    assert (result.per_pattern["recall"] == 1).all() and (result.per_pattern["precision"] == 1).all()
    assert result.overall["precision_at_50"] == 1 and result.overall["money_share_top_100"] == 1
    assert result.overall["customer_distress_auc"] == 1


def test_empty_answer_scores_zero():
    result = evaluate(_exceptions(), LABELS, DECOYS)
    assert (result.per_pattern["recall"] == 0).all() and (result.per_pattern["precision"] == 0).all()
    assert result.overall["recall"] == 0 and result.overall["precision_at_100"] == 0


def test_match_through_related_and_pattern_must_agree():
    found = _exceptions(
        _finding(1, "price_deviation", "salesperson", "S1", related=["invoice:I2"]),
        _finding(2, "unbilled_shipment", "invoice", "I1"),  # right entity, wrong pattern
    )
    per = evaluate(found, LABELS).per_pattern.set_index("pattern")
    assert per.at["price_deviation", "recall"] == 0.5 and per.at["price_deviation", "precision"] == 1
    assert per.at["unbilled_shipment", "precision"] == 0


def test_distress_needs_thirty_days_lead():
    late = _exceptions(_finding(1, "customer_distress", "customer", "C7", period="2025-06"))
    early = _exceptions(_finding(1, "customer_distress", "customer", "C7", period="2025-04"))
    assert evaluate(late, LABELS).per_pattern.set_index("pattern").at["customer_distress", "recall"] == 0
    assert evaluate(early, LABELS).per_pattern.set_index("pattern").at["customer_distress", "recall"] == 1


def test_decoy_ranked_above_a_real_case_is_counted():
    found = _exceptions(_finding(1, "price_deviation", "invoice", "I9"), _finding(2, "price_deviation", "invoice",
                                                                                   "I1"))
    per = evaluate(found, LABELS, DECOYS).per_pattern.set_index("pattern")
    assert per.at["price_deviation", "decoy_hits"] == 1 and per.at["price_deviation", "decoys_above_real"] == 1


def test_labels_file_needs_its_columns(tmp_path):
    (tmp_path / "labels.csv").write_text("pattern,entity\nprice_deviation,I1\n")
    with pytest.raises(ValueError, match="entity_type"):
        read_labels(tmp_path / "labels.csv")


def test_distress_auc_reads_customer_scores_only():
    # a salesperson-level distress finding (distress or collusion) must not become a customer score
    found = _exceptions(
        _finding(1, "customer_distress", "customer", "C7", period="2025-04", score=0.9),
        _finding(2, "customer_distress", "customer", "C1", period="2025-04", score=0.2),
        _finding(3, "customer_distress", "salesperson", "C2", period="2025-04", score=0.99),
    )
    assert evaluate(found, LABELS, customers=["C1", "C2", "C7"]).overall["customer_distress_auc"] == 1
