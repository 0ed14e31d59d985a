"""Customer distress (DST-01), distress or collusion (DST-02) and the statements-only score."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from analyses.distress.history import DistressHistory, default_horizon_days, distress_history
from analyses.distress.scoring import (
    CALIBRATION_HORIZON_DAYS,
    SIGNS,
    ScoreSettings,
    default_probability,
    engineered_values,
    sign_points,
    statement_only_scores,
    statement_points,
)
from analyses.distress.signals import SIGNAL_COLUMNS
from audit.contract import PATTERN_TABLE
from audit.data import AuditData
from audit.engine import Engine
from audit.loading import LoadedData, SourceTable
from audit.methods import financials
from audit.policy import Policy
from audit.ranking import exception_ids
from audit.testing import tables_from_frames
from audit.validation import validate
from detectors.distress.dst_01_customer_distress import CustomerDistress
from detectors.distress.dst_02_distress_or_collusion import DistressOrCollusion
from detectors.wording import customer_distress

from .conftest import SHARED

POLISH = SHARED / "data" / "polish-bankruptcy-5year"
MASTER = {
    "salespeople": [{"salesperson_id": "S1", "name": "Ali Rezaei", "region": "North"},
                    {"salesperson_id": "S2", "name": "Sara Karimi", "region": "South"}],
    "products": [{"product_id": "P1", "name": "Tea", "list_price": "100000"}],
}


def _frames(tables: dict) -> dict[str, pd.DataFrame]:
    return {name: pd.DataFrame(rows).astype(str).replace({"nan": "", "None": ""}) for name, rows in tables.items()}


def _failing_ledger() -> dict:
    """C1 pays on time, then later and later, goes over its limit, bounces cheques, breaks a promise."""
    months = pd.date_range("2025-01-10", periods=9, freq="MS") + pd.Timedelta(days=9)
    invoices, lines, receipts, allocations = [], [], [], []
    for k, day in enumerate(months, start=1):
        invoices.append({"invoice_id": f"I{k}", "invoice_no": str(1000 + k), "invoice_date": day.date(),
                         "customer_id": "C1", "salesperson_id": "S1",
                         "due_date": (day + pd.Timedelta(days=30)).date(), "status": "posted"})
        lines.append({"invoice_id": f"I{k}", "line_no": 1, "product_id": "P1", "quantity": 200,
                      "unit_price": 100000})
        if k <= 3:  # paid on time at first
            paid = day + pd.Timedelta(days=28)
            receipts.append({"receipt_id": f"R{k}", "customer_id": "C1", "receipt_date": paid.date(),
                             "posted_date": paid.date(), "method": "cash", "amount": 20000000})
            allocations.append({"receipt_id": f"R{k}", "invoice_id": f"I{k}", "amount": 20000000,
                                "cash_discount_amount": 0})
    healthy = [{"customer_id": f"H{k}", "name": f"Healthy {k}", "created_date": "2020-01-01",
                "assigned_salesperson_id": "S2", "credit_limit": 900000000, "payment_terms_days": 30}
               for k in range(1, 4)]
    for k in range(1, 4):
        invoices.append({"invoice_id": f"J{k}", "invoice_no": str(2000 + k), "invoice_date": "2025-02-01",
                         "customer_id": f"H{k}", "salesperson_id": "S2", "due_date": "2025-03-03",
                         "status": "posted"})
        lines.append({"invoice_id": f"J{k}", "line_no": 1, "product_id": "P1", "quantity": 50, "unit_price": 100000})
        receipts.append({"receipt_id": f"RJ{k}", "customer_id": f"H{k}", "receipt_date": "2025-03-01",
                         "posted_date": "2025-03-01", "method": "transfer", "amount": 5000000})
        allocations.append({"receipt_id": f"RJ{k}", "invoice_id": f"J{k}", "amount": 5000000,
                            "cash_discount_amount": 0})
    return {
        **MASTER,
        "customers": [{"customer_id": "C1", "name": "Parsa Market", "created_date": "2023-01-10",
                       "assigned_salesperson_id": "S1", "credit_limit": 60000000, "payment_terms_days": 30},
                      *healthy],
        "invoices": invoices, "invoice_lines": lines, "receipts": receipts, "receipt_allocations": allocations,
        "cheques": [
            {"cheque_id": "Q1", "cheque_no": "9001", "customer_id": "C1", "amount": 20000000,
             "received_date": "2025-05-02", "due_date": "2025-06-01", "status": "bounced", "status_date": "2025-06-02"},
            {"cheque_id": "Q2", "cheque_no": "9002", "customer_id": "C1", "amount": 20000000,
             "received_date": "2025-06-20", "due_date": "2025-07-15", "status": "returned", "status_date": "2025-07-16"},
        ],
        "customer_events": [
            {"customer_id": "C1", "event_date": "2025-06-10", "event_type": "promise_to_pay", "amount": 20000000},
            {"customer_id": "C1", "event_date": "2025-06-25", "event_type": "promise_broken", "amount": 20000000},
            {"customer_id": "C1", "event_date": "2025-07-05", "event_type": "accountant_resigned"},
        ],
    }


def _data(tables: dict, policy: Policy | None = None, period: str | None = None) -> AuditData:
    policy = policy or Policy()
    return AuditData(tables_from_frames(_frames(tables), policy), policy, Engine("duckdb"), period)


def test_failing_customer_scores_rise_and_findings_mark_the_early_warning():
    data = _data(_failing_ledger())
    try:
        detector = CustomerDistress()
        history = detector.history(data)
        found = detector.find(data)
        findings = detector.worded(found)
    finally:
        data.engine.close()
    c1 = history[history["customer_id"] == "C1"].set_index("period")
    assert c1.loc["2025-02", "score"] < detector.watch_level
    assert c1.loc["2025-08", "score"] >= detector.high_level
    assert c1["score"].iloc[-1] > c1["score"].iloc[0]
    assert set(findings["entity_id"]) == {"C1"}
    first = c1.index[c1["score"] >= detector.watch_level][0]
    alert = c1.index[c1["score"] >= detector.alert_level][0]
    assert list(findings["period"]) == [alert]                          # one episode, one finding: the alert
    top = findings.iloc[0]
    evidence = top["evidence"]
    assert evidence["first_watch_period"] == first and evidence["first_alert_period"] == alert
    # an alert that came after an earlier warning says when the warning could have been given
    earlier = {**found.iloc[0].to_dict(), "evidence": {**evidence, "first_watch_period": "2025-05"},
               "detector": "DST-01"}
    assert "early warning could have been given at the end of 2025-05" in customer_distress.words(earlier).explanation
    assert "early warning" not in top["explanation"]
    for sign in ("payments_later", "bounced_cheques", "broken_promises", "credit_limit_breach"):
        assert sign in evidence["traces"]
    assert evidence["traces"]["bounced_cheques"] > 0 and evidence["traces"]["broken_promises"] > 0
    assert len(evidence["history"]) == len(c1)
    assert "cheque:Q1" in top["related"] and "customer:C1" in top["related"]
    assert "bounced" in top["explanation"] and "credit limit" in top["explanation"]
    assert top["risk_amount"] == pytest.approx(c1.loc[top["period"], "exposure"])


def test_a_months_score_uses_only_what_was_on_record_by_its_end():
    """The warning is real: cutting the data after April leaves January-April scores unchanged."""
    full = _failing_ledger()
    cut = pd.Timestamp("2025-04-30")

    def before(rows, column):
        return [r for r in rows if pd.Timestamp(r[column]) <= cut]

    truncated = {**full, "invoices": before(full["invoices"], "invoice_date"),
                 "receipts": before(full["receipts"], "posted_date"),
                 "cheques": before(full["cheques"], "received_date"),
                 "customer_events": before(full["customer_events"], "event_date")}
    ids = {r["invoice_id"] for r in truncated["invoices"]}
    truncated["invoice_lines"] = [r for r in full["invoice_lines"] if r["invoice_id"] in ids]
    receipts = {r["receipt_id"] for r in truncated["receipts"]}
    truncated["receipt_allocations"] = [r for r in full["receipt_allocations"] if r["receipt_id"] in receipts]
    scores = []
    for tables, period in ((full, None), (truncated, "2025-04")):
        data = _data(tables, period=period)
        try:
            history = distress_history(data)
        finally:
            data.engine.close()
        scores.append(history[history["month_end"] <= cut].set_index(["customer_id", "period"])["score"])
    assert len(scores[0]) == 12                                          # 4 customers x February-April
    pd.testing.assert_series_equal(scores[0], scores[1].reindex(scores[0].index))


def test_one_finding_per_episode_the_alert_supersedes_the_warning():
    default = CustomerDistress(watch_level=0.2, alert_level=0.5, high_level=0.9)
    rows = pd.DataFrame({"score": [0.05, 0.25, 0.3, 0.6, 0.95, 0.97, 0.4]})
    assert default.episodes(rows) == [(1, 6, 3, "alert")]               # not the warning in month 1 too
    assert default.emitted_months(rows) == [(3, "alert")]
    levels = CustomerDistress(watch_level=0.2, alert_level=0.5, high_level=0.9,
                              report_levels=("watch", "alert", "high"))
    assert levels.emitted_months(rows) == [(4, "high")]
    latest = CustomerDistress(watch_level=0.2, alert_level=0.5, high_level=0.9,
                              report_levels=("watch", "alert", "high", "latest"))
    assert latest.emitted_months(rows) == [(6, "latest")]               # still open at the end of the data
    jump = pd.DataFrame({"score": [0.05, 0.92, 0.1]})
    assert default.emitted_months(jump) == [(1, "alert")]               # straight past the alert level
    assert latest.emitted_months(jump) == [(1, "high")]                 # recovered: no latest finding
    # a warning that never became an alert stays a warning; a new episode after three quiet months
    twice = pd.DataFrame({"score": [0.3, 0.1, 0.1, 0.1, 0.6, 0.1]})
    assert default.emitted_months(twice) == [(0, "watch"), (4, "alert")]
    assert CustomerDistress(recovery_months=4).emitted_months(twice) == [(4, "alert")]
    assert default.emitted_months(pd.DataFrame({"score": [0.1, 0.15]})) == []
    # months above the watch level but too thin on ledger signs to be findings do not end the episode
    thin = pd.DataFrame({"score": [0.6, 0.4, 0.4, 0.4, 0.7], "eligible": [True, False, False, False, True]})
    assert default.episodes(thin) == [(0, 4, 0, "alert")]
    assert default.episodes(thin.assign(score=[0.6, 0.1, 0.1, 0.1, 0.7])) == [(0, 0, 0, "alert"), (4, 4, 4, "alert")]
    assert default.episodes(thin.assign(eligible=[False, True, True, True, True])) == [(1, 4, 4, "alert")]


def test_order_signs_count_only_while_the_customer_pays_late():
    signals = pd.DataFrame({column: [np.nan, np.nan] for column in SIGNAL_COLUMNS})
    signals["order_spike_ratio"] = [5.0, 5.0]
    signals["new_brand_share"] = [0.8, 0.8]
    signals["lateness_recent_days"] = [-4.0, 40.0]      # growing and paying early / paying 40 days late
    points = sign_points(engineered_values(signals))
    assert points.loc[0, "points_order_spike"] == 0 and points.loc[0, "points_new_brands"] == 0
    spike = next(s for s in SIGNS if s.name == "order_spike")
    assert points.loc[1, "points_order_spike"] == pytest.approx(spike.weight)


def test_statement_points_are_monotone_in_the_statement_model():
    rng = np.random.default_rng(0)
    assets = rng.uniform(1e6, 1e8, 200)
    frame = pd.DataFrame({
        "customer_id": [f"X{k}" for k in range(200)], "period_end": "2024-12-31", "total_assets": assets,
        "current_assets": assets * rng.uniform(0.2, 0.8, 200), "current_liabilities": assets * rng.uniform(0.1, 0.9, 200),
        "total_liabilities": assets * rng.uniform(0.2, 1.1, 200), "equity": assets * rng.uniform(-0.2, 0.7, 200),
        "retained_earnings": assets * rng.uniform(-0.3, 0.3, 200), "ebit": assets * rng.uniform(-0.2, 0.2, 200),
        "sales": assets * rng.uniform(0.3, 3.0, 200), "interest_expense": 0.0,
        "receivables": assets * rng.uniform(0.05, 0.4, 200), "inventory": assets * rng.uniform(0.05, 0.4, 200),
        "fixed_assets": assets * rng.uniform(0.1, 0.6, 200)})
    points = statement_points(frame)
    model = financials.statement_distress(frame)["distress_log_odds"]
    order = np.argsort(model.to_numpy(), kind="stable")
    assert np.all(np.diff(points["points_statements"].to_numpy()[order]) >= -1e-12)
    scores = statement_only_scores(frame).set_index("customer_id")["score"].reindex(frame["customer_id"])
    assert roc_auc_score(model > model.median(), scores.to_numpy()) == pytest.approx(
        roc_auc_score(model > model.median(), model))


def _statement_tables(statements: pd.DataFrame, customers: pd.DataFrame) -> AuditData:
    loaded = LoadedData("memory")
    for name, frame in (("customers", customers), ("customer_financials", statements)):
        loaded.tables[name] = SourceTable(name, frame.astype(str), f"memory:{name}", name)
    return AuditData(validate(loaded, Policy()), Policy(), Engine("duckdb"))


@pytest.mark.skipif(not (POLISH / "customer_financials.csv").is_file(), reason="shared Polish data not present")
def test_polish_statements_only_beats_altman():
    statements = pd.read_csv(POLISH / "customer_financials.csv")
    customers = pd.read_csv(POLISH / "customers.csv")
    labels = pd.read_csv(POLISH / "labels.csv")
    failed = statements["customer_id"].isin(set(labels["customer_id"])).to_numpy()
    scores = statement_only_scores(statements, customers).set_index("customer_id")["score"]
    auc = roc_auc_score(failed, scores.reindex(statements["customer_id"]).to_numpy())
    z = financials.altman_z2(statements)
    altman = roc_auc_score(failed, -z.fillna(z.median()))
    assert altman == pytest.approx(0.764, abs=0.002)
    assert auc >= altman + 0.05
    # the detector's own path on statements alone (no ledger tables at all) gives the same scores
    sample = statements.iloc[::25].reset_index(drop=True)
    data = _statement_tables(sample, customers[customers["customer_id"].isin(sample["customer_id"])])
    try:
        detector = CustomerDistress()
        history = detector.history(data)
        findings = detector.worded(detector.find(data))
    finally:
        data.engine.close()
    pure = statement_only_scores(sample, customers).set_index("customer_id")["score"]
    mine = history.set_index("customer_id")["score"]
    assert np.allclose(mine.reindex(pure.index).to_numpy(), pure.to_numpy())
    assert len(findings) and all(e["score"] >= detector.watch_level for e in findings["evidence"])
    assert "financial statements" in findings["explanation"].iloc[0]


def test_history_view_is_reused_by_the_detector():
    data = _data(_failing_ledger())
    try:
        view = DistressHistory().compute(data)["distress_history"]
        handed = data.scoped(views={"distress_history": view}, findings=pd.DataFrame())
        assert set(view["customer_id"]) == {"C1"}                       # only customers on the watch list
        detector = CustomerDistress()
        assert detector.history(handed) is view
        assert CustomerDistress(base_log_odds=-3.0).history(handed) is not view
    finally:
        data.engine.close()


def test_history_of_watched_customers_is_the_full_history_of_those_customers():
    data = _data(_failing_ledger())
    try:
        full = distress_history(data)
        watched = distress_history(data, watch_level=0.2)
    finally:
        data.engine.close()
    kept = full[full["customer_id"].isin(full.loc[full["score"] >= 0.2, "customer_id"])].reset_index(drop=True)
    assert set(full["customer_id"]) == {"C1", "H1", "H2", "H3"} and set(watched["customer_id"]) == {"C1"}
    # the same rows, columns and values as filtering the whole history afterwards (keeping only the watched
    # customers early is how the analysis saves time and memory)
    pd.testing.assert_frame_equal(watched, kept)
    assert watched.attrs["settings"] == full.attrs["settings"]



def test_history_scored_a_customer_at_a_time_is_the_history_scored_at_once():
    """The customers are scored in slices of whole customers, their months' measurements waiting in files
    (memory at ten million lines): slices of one customer each, read back from the files, give the same
    rows, columns, types and values as one slice of every customer held in memory."""
    from analyses.distress import history as module

    written = []
    month_signals = module.month_signals

    def spying(*args, **kwargs):
        months = month_signals(*args, **kwargs)
        written.extend(path for path, _ in months.spilled or ())
        return months

    data = _data(_failing_ledger())
    try:
        module.month_signals = spying
        for watch_level in (None, 0.2):
            whole = distress_history(data, watch_level=watch_level, spill_rows=10**9)
            assert not written
            sliced = distress_history(data, watch_level=watch_level, slice_rows=1, spill_rows=0)
            spilled = distress_history(data, watch_level=watch_level, spill_rows=0)
            assert len(written) == 2 * whole["month_end"].nunique()  # one file a month, each run
            assert not any(os.path.exists(path) for path in written)  # the files go with the run
            written.clear()
            assert whole["customer_id"].nunique() == (4 if watch_level is None else 1)
            for other in (sliced, spilled):
                pd.testing.assert_frame_equal(other, whole, check_exact=True)
                assert other.attrs == whole.attrs
    finally:
        module.month_signals = month_signals
        data.engine.close()

def _portfolio_tables() -> dict:
    customers = [{"customer_id": f"C{k}", "name": f"Shop {k}", "created_date": "2020-01-01",
                  "assigned_salesperson_id": "S1" if k <= 4 else "S2", "credit_limit": 10000000,
                  "payment_terms_days": 30} for k in range(1, 41)]
    invoices, lines = [], []
    for k, day in enumerate(["2025-01-10", "2025-02-10", "2025-03-10", "2025-04-10"], start=1):
        invoices.append({"invoice_id": f"I{k}", "invoice_no": str(100 + k), "invoice_date": day, "customer_id": "C1",
                         "salesperson_id": "S1", "status": "posted"})
        lines.append({"invoice_id": f"I{k}", "line_no": 1, "product_id": "P1", "quantity": 80, "unit_price": 100000})
    return {**MASTER, "customers": customers, "invoices": invoices, "invoice_lines": lines}


def _distress_findings(rows) -> pd.DataFrame:
    frame = pd.DataFrame([{"detector": "DST-01", "pattern": "customer_distress", "entity_type": "customer",
                           "entity_id": c, "customer_id": c, "salesperson_id": s, "period": p, "score": score,
                           "risk_amount": risk, "title": "", "explanation": "", "evidence": {}, "related": []}
                          for c, s, p, score, risk in rows])
    return frame.assign(exception_id=exception_ids(frame))


def test_distress_clustering_in_one_portfolio_and_supply_past_the_limit():
    data = _data(_portfolio_tables())
    data.findings = _distress_findings([("C1", "S1", "2025-05", 0.95, 32e6), ("C2", "S1", "2025-06", 0.8, 5e6),
                                        ("C3", "S1", "2025-06", 0.7, 1e6), ("C9", "S2", "2025-06", 0.9, 2e6)])
    try:
        detector = DistressOrCollusion()
        found = detector.find(data)
    finally:
        data.engine.close()
    assert list(found["entity_id"]) == ["S1"]                            # S2: one failure in 36 customers
    finding = found.iloc[0]
    evidence = finding["evidence"]
    assert evidence["clustered"] and evidence["distressed_customers"] == 3 and evidence["portfolio_customers"] == 4
    assert evidence["binomial_tail_p"] < detector.cluster_p
    # C1's limit is 10m: the 2nd, 3rd and 4th invoices of 8m each took it over
    assert [i["invoice_id"] for i in evidence["invoices_past_limits"]] == ["I2", "I3", "I4"]
    assert {"customer:C1", "customer:C2", "customer:C3"} <= set(finding["related"])
    assert finding["related"][0] == "salesperson:S1"
    assert evidence["traces"]["cluster"] > 0 and evidence["traces"]["continued_supply"] > 0
    # a pattern of its own, about a salesperson: never read as a score of one customer
    assert detector.pattern == "portfolio_distress" and detector.entity_type == "salesperson"
    assert PATTERN_TABLE["portfolio_distress"].entity_type == "salesperson"
    assert PATTERN_TABLE["portfolio_distress"].family == PATTERN_TABLE["customer_distress"].family
    worded = detector.worded(found).iloc[0]
    assert worded["title"].startswith("Salesperson S1 (Ali Rezaei): 3 distressed customer(s) of 4, 3 invoice(s) past")
    assert "C1 (score 0.95 from 2025-05" in worded["explanation"]


def test_one_distressed_customer_within_its_limit_is_not_a_finding():
    data = _data(_portfolio_tables())
    data.findings = _distress_findings([("C9", "S2", "2025-06", 0.9, 2e6)])
    try:
        assert DistressOrCollusion().find(data).empty
    finally:
        data.engine.close()


def test_score_settings_defaults_are_documented():
    settings = ScoreSettings()
    assert settings.base_log_odds < 0 and 0 < settings.statement_reference < 1
    assert set(CustomerDistress().get_params()) >= {"watch_level", "alert_level", "high_level", "grace_days"}


def test_the_finding_scores_the_calibrated_probability_of_default_and_risks_the_exposure():
    log_odds = np.array([-4.0, -1.0, 0.0, 2.0, 5.0])
    at_horizon = default_probability(log_odds)
    assert np.all(np.diff(at_horizon) > 0) and np.all((at_horizon > 0) & (at_horizon < 1))
    # the calibration is the fitted one: log-odds 0 (a score of 0.5) is a 62 % chance of default in 180 days
    assert at_horizon[2] == pytest.approx(1 / (1 + np.exp(-0.4720)), abs=1e-4)
    longer = default_probability(log_odds, 2 * CALIBRATION_HORIZON_DAYS)
    assert np.all(longer > at_horizon) and np.allclose(1 - longer, (1 - at_horizon) ** 2)
    shorter = default_probability(log_odds, CALIBRATION_HORIZON_DAYS / 2)
    assert np.all(shorter < at_horizon)
    policy = Policy()
    assert default_horizon_days(policy) == 180                          # the ladder's "legal" step
    assert CustomerDistress.params_from_policy(policy)["horizon_days"] == 180
    data = _data(_failing_ledger())
    try:
        detector = CustomerDistress(horizon_days=90)
        found = detector.worded(detector.find(data))
    finally:
        data.engine.close()
    finding = found.iloc[0]
    evidence = finding["evidence"]
    assert finding["score"] == pytest.approx(default_probability(evidence["log_odds"], 90))
    assert evidence["default_probability"] == pytest.approx(finding["score"])
    assert evidence["score"] >= detector.alert_level and evidence["horizon_days"] == 90
    assert finding["risk_amount"] == pytest.approx(evidence["exposure"]["exposure"])
    assert "chance of default within 90 days" in finding["title"]


def test_a_policy_with_a_shorter_ladder_has_a_shorter_horizon():
    policy = Policy()
    shorter = policy.model_copy(update={"collections": policy.collections.model_copy(
        update={"ladder_days": {"reminder": 0, "letter_2_stop_supply": 20, "legal": 90}})})
    assert default_horizon_days(shorter) == 90
    assert CustomerDistress.params_from_policy(shorter) == {"grace_days": 20, "horizon_days": 90}


def test_monthly_signals_are_every_months_rows_sorted_by_customer_and_month():
    """The rows are taken column by column from the months' frames: the same as concatenating the months
    and sorting them by customer and month end."""
    from analyses.distress import signals as module
    from analyses.receivables.open_items import open_items

    data = _data(_failing_ledger())
    try:
        inputs = module.load_inputs(data)
        frame = module.monthly_signals(inputs)
        prepared = module.prepare_signals(inputs)
        settings = module.SignalSettings()
        positions = pd.Index(prepared.customers, dtype="object")
        snapshots, months = {}, []
        for k, end in enumerate(prepared.ends):
            items = open_items(prepared.ledger, end)
            items["customer_id"] = positions.get_indexer(items["customer_id"].astype("object"))
            snapshots[end] = items
            earlier = prepared.ends[k - settings.migration_months] if k >= settings.migration_months else None
            months.append(module._one_month(prepared.coded, settings, len(positions), end, snapshots, earlier,
                                            prepared.coded.customers.set_index("customer_id")))
    finally:
        data.engine.close()
    expected = pd.concat(months).reset_index()
    expected["customer_id"] = positions.to_numpy()[expected["customer_id"].to_numpy()]
    expected = expected[["customer_id", "month_end", *SIGNAL_COLUMNS]].sort_values(
        ["customer_id", "month_end"], kind="mergesort", ignore_index=True)
    assert len(prepared.customers) > 1 and len(prepared.ends) > 3
    pd.testing.assert_frame_equal(frame, expected, check_exact=True)


def test_per_customer_sums_medians_and_latest_equal_grouping_on_the_customer_codes():
    """The month ends group on the customer codes as categories: the same values (sums compensated, in row
    order) as grouping on the codes, NaN for a customer without rows, 0 for one whose rows are all blank."""
    from analyses.distress import signals as module

    rng = np.random.default_rng(7)
    n = 40
    codes = rng.integers(-1, n - 5, 2000)  # -1: no customer's; the last five codes have no rows
    values = rng.normal(0, 1e6, 2000) * 10.0 ** rng.integers(-3, 4, 2000)
    values[codes == 3] = np.nan  # customer 3: rows, every one blank
    values[rng.random(2000) < 0.05] = np.nan
    dates = pd.Timestamp("2025-01-01").to_datetime64() + rng.integers(0, 400, 2000).astype("timedelta64[D]")
    index = pd.RangeIndex(n, name="customer_id")
    for how in ("sum", "median"):
        expected = getattr(pd.Series(values).groupby(codes), how)().reindex(index)
        pd.testing.assert_series_equal(module._per_customer(values, codes, n, how), expected, check_names=False,
                                       check_exact=True)
    assert module._per_customer(values, codes, n)[3] == 0.0 and np.isnan(module._per_customer(values, codes, n)[n - 1])
    latest = pd.Series(dates).groupby(codes).max().reindex(index)
    pd.testing.assert_series_equal(module._per_customer(dates, codes, n, "max"), latest, check_names=False)
    counts = pd.Series(codes).groupby(codes).size().reindex(index).fillna(0).astype("float64")
    pd.testing.assert_series_equal(module._counts(codes, n), counts, check_names=False)
    weights = np.abs(rng.normal(0, 10, 2000))
    weights[::7] *= -1  # negative weights count as 0
    mean = module._weighted_mean(values, weights, codes, n)
    kept = codes == 10
    clipped = np.where(weights[kept] < 0, 0.0, weights[kept])
    finite = ~np.isnan(values[kept])
    assert mean[10] == pytest.approx((values[kept][finite] * clipped[finite]).sum() / clipped[~np.isnan(clipped)].sum())


def test_the_engine_finds_each_payments_invoice_as_pandas_did(monkeypatch):
    """The payments' invoices are found by the engine (the ledger's row numbers): the same frame as looking
    the invoice ids up in pandas."""
    from analyses.distress import signals as module
    from analyses.receivables.open_items import build_ledger

    data = _data(_failing_ledger())
    try:
        ledger = build_ledger(data)
        assert module._invoice_places(data, ledger) is not None
        found = module._payments(data, ledger)
        monkeypatch.setattr(module, "_invoice_places", lambda data, ledger: None)
        looked_up = module._payments(data, ledger)
    finally:
        data.engine.close()
    assert len(found) == 6 and set(found["customer_id"]) == {"C1", "H1", "H2", "H3"}
    pd.testing.assert_frame_equal(found, looked_up, check_exact=True)


def test_brand_days_come_back_as_places_in_the_brands_text_order():
    """Each brand comes back from the engine as its place among the brand names sorted as texts; the rows
    are in customer, brand (as text) and day order, and each brand's amounts are its own."""
    from analyses.distress import signals as module

    tables = _failing_ledger()
    names = ["Zagros", "Alborz", "Ärzte", "alborz"]  # capitals before small letters, accents after both
    tables["products"] = [{"product_id": f"P{k}", "name": f"Item {k}", "list_price": "100000", "brand": brand}
                          for k, brand in enumerate(names, start=1)]
    for k, line in enumerate(tables["invoice_lines"]):
        line["product_id"] = f"P{k % 4 + 1}"
    data = _data(tables)
    try:
        days = module._brand_days(data)
    finally:
        data.engine.close()
    ordered = sorted(names)
    texts = [ordered[place] for place in days["brand"]]
    keys = list(zip(days["customer_id"], texts, days["date"], strict=True))
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    lines = pd.DataFrame(tables["invoice_lines"])
    lines["brand"] = lines["product_id"].map(dict(zip((f"P{k}" for k in range(1, 5)), names, strict=True)))
    expected = (lines["quantity"] * lines["unit_price"]).astype("float64").groupby(lines["brand"]).sum()
    assert pd.Series(days["amount"].to_numpy(), index=texts).groupby(level=0).sum().to_dict() == expected.to_dict()


def test_sign_points_on_arrays_are_the_series_ramp_to_the_last_bit():
    """The signs' points are worked out on arrays (Series.clip cost most of their time): every value,
    blank, negative zero, below and above the ramp, with and without a gate, gives the points the Series
    formula gave, bit for bit, and the frame has the same columns in the same order."""
    from analyses.distress.scoring import SIGNS, sign_points

    rng = np.random.default_rng(3)
    n = 4_000
    raw = rng.normal(0, 50, n)
    raw[::7] = np.nan
    raw[1::11] = -0.0
    gate = pd.Series(rng.uniform(-0.5, 1.5, n), index=np.arange(n) * 2)
    gate.iloc[::5] = np.nan
    values = pd.Series(raw, index=gate.index, name="v")
    for sign in SIGNS:
        ramp = ((values.astype("float64") - sign.start) / (sign.full - sign.start)).clip(0.0, 1.0)
        for g in (None, gate):
            gated = ramp * g.astype("float64").clip(0.0, 1.0).fillna(0.0) if g is not None else ramp
            expected = (gated * sign.weight).fillna(0.0)
            got = sign.points(values, g)
            assert got.index.equals(expected.index) and got.dtype == np.float64
            assert got.to_numpy().tobytes() == expected.to_numpy().tobytes(), sign.name
    frame = pd.DataFrame({sign.column: raw for sign in SIGNS} | {"paying_late": gate.to_numpy(),
                         "cheques_beyond_terms": gate.to_numpy(), "event_legal_action": raw}, index=gate.index)
    points = sign_points(frame)
    assert list(points.columns) == [f"points_{s.name}" for s in SIGNS] + ["points_event_legal_action"]
    assert points.index.equals(frame.index)
    expected = frame["event_legal_action"].astype("float64").fillna(0.0) * 3.0
    assert points["points_event_legal_action"].to_numpy().tobytes() == expected.to_numpy().tobytes()


def test_first_of_runs_is_each_groups_earliest_date_on_sorted_rows():
    """The brands' first purchases are taken run by run on rows sorted by customer and brand: the same dates as
    grouping on the keys and taking each group's minimum (blank dates skipped, a group of blanks blank)."""
    from analyses.distress.signals import _first_of_runs

    rng = np.random.default_rng(3)
    customer = np.sort(rng.integers(0, 30, 3000)).astype("int32")
    brand = rng.integers(0, 4, 3000)
    order = np.lexsort((brand, customer))
    customer, brand = customer[order], brand[order]
    dates = pd.Series(pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 365, 3000), unit="D"))
    dates[rng.random(3000) < 0.1] = pd.NaT
    dates[(customer == 5) & (brand == 2)] = pd.NaT  # a group of blanks only
    for keys in ((customer, brand), (customer,)):
        expected = dates.groupby(list(keys)).transform("min").to_numpy()
        got = _first_of_runs(dates, *keys)
        assert got.dtype == expected.dtype and np.array_equal(got, expected, equal_nan=True)
    assert np.isnat(_first_of_runs(dates, customer, brand)[(customer == 5) & (brand == 2)]).all()
