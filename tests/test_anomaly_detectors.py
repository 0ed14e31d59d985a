"""Behaviour-anomaly detectors (ANO-01..03) on a simulated ledger: an injected outlier is flagged with the
right driver named, ordinary entities are not, optional tables may be missing, DuckDB and Spark agree."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audit.data import AuditData
from audit.engine import Engine
from audit.policy import load_policy
from audit.validation import AuditTables, load_and_validate
from detectors.anomaly.ano_01_salesperson_anomaly import SalespersonBehaviourAnomaly
from detectors.anomaly.ano_02_customer_anomaly import CustomerBehaviourAnomaly
from detectors.anomaly.ano_03_invoice_anomaly import InvoiceAnomaly
from detectors.anomaly.features import invoice_features, monthly_features
from simulator import simulate

from .conftest import java_available


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    """A clean simulated ledger (no fraud, no distress; the legitimate look-alikes stay): ~1,000 invoices."""
    folder = tmp_path_factory.mktemp("tiny_clean")
    simulate(folder, scale="tiny", seed=5, clean=True)
    policy = load_policy(folder / "policy.toml")
    return load_and_validate(folder, policy), policy


def _tables(tables: AuditTables, changed: dict[str, pd.DataFrame] | None = None,
            dropped: tuple[str, ...] = ()) -> AuditTables:
    frames = {name: frame for name, frame in tables.frames.items() if name not in dropped}
    frames.update(changed or {})
    present = {name: cols for name, cols in tables.present_columns.items() if name not in dropped}
    return AuditTables(frames, present, [], {})


def _run(detector, tables: AuditTables, policy) -> pd.DataFrame:
    data = AuditData(tables, policy, Engine("duckdb"))
    try:
        found = detector.run(data)
    finally:
        data.engine.close()
    return found.assign(drivers=[e["drivers"] for e in found["evidence"]])


def _month_invoices(tables, salesperson_month=None, customer_month=None) -> pd.Series:
    invoices = tables.frames["invoices"]
    month = invoices["invoice_date"].dt.strftime("%Y-%m")
    if salesperson_month:
        who, period = salesperson_month
        return invoices.loc[(invoices["salesperson_id"] == who) & (month == period), "invoice_id"]
    who, period = customer_month
    return invoices.loc[(invoices["customer_id"] == who) & (month == period), "invoice_id"]


def _busiest(tables, column: str, period: str, rank: int = 0) -> str:
    invoices = tables.frames["invoices"]
    in_month = invoices[invoices["invoice_date"].dt.strftime("%Y-%m") == period]
    counts = in_month.groupby(column)["invoice_id"].count().sort_values(ascending=False, kind="stable")
    return counts.index[rank]


# ------------------------------------------------------------------ ANO-01 salesperson-months
def _with_secret_discount(tables, salesperson: str, period: str, pct: float = 12.0) -> AuditTables:
    lines = tables.frames["invoice_lines"].copy()
    target = lines["invoice_id"].isin(set(_month_invoices(tables, salesperson_month=(salesperson, period))))
    lines.loc[target, "discount_pct"] = pct
    lines.loc[target, "discount_type"] = "manual"
    lines.loc[target, "discount_approved_by"] = None
    return _tables(tables, {"invoice_lines": lines})


def test_salesperson_month_with_secret_discounts_is_flagged_with_discount_named(ledger):
    tables, policy = ledger
    salesperson = _busiest(tables, "salesperson_id", "2025-06")
    ordinary = _busiest(tables, "salesperson_id", "2025-06", rank=1)
    found = _run(SalespersonBehaviourAnomaly.from_policy(policy), _with_secret_discount(tables, salesperson, "2025-06"),
                 policy)
    mine = found[(found["entity_id"] == salesperson) & (found["period"] == "2025-06")]
    assert len(mine) == 1, found[["entity_id", "period", "title"]]
    finding = mine.iloc[0]
    top = finding["drivers"][0]
    assert top["feature"] == "discount_rate"
    assert top["value"] > 0.08 and top["typical"] < 0.01 and top["percentile"] > 99
    assert "unapproved discount rate beyond the volume tiers" in finding["explanation"]
    # a typical rate that rounds to 0.0 % is said as "where most ... have none", never "a typical 0.0 %"
    typical_words = "against a typical" if round(top["typical"] * 100, 1) else "have none"
    assert typical_words in finding["explanation"] and "typical 0.0 %" not in finding["explanation"]
    # Money at risk: the discount beyond the typical rate on the month's gross sales, a large share of 12 %.
    population = monthly_features(AuditData(_with_secret_discount(tables, salesperson, "2025-06"), policy),
                                  "salesperson_id", volume_tiers=SalespersonBehaviourAnomaly.from_policy(policy)
                                  .volume_tiers)
    row = population[(population["key"] == salesperson) & (population["ym"] == 202506)].iloc[0]
    assert finding["risk_amount"] == pytest.approx((top["value"] - top["typical"]) * row["gross"], rel=1e-3)
    assert finding["rank_weight"] == pytest.approx(0.001)
    assert f"salesperson:{salesperson}" == finding["related"][0]
    assert not ((found["entity_id"] == ordinary) & (found["period"] == "2025-06")).any()


def test_the_same_salesperson_month_untouched_is_not_flagged(ledger):
    tables, policy = ledger
    salesperson = _busiest(tables, "salesperson_id", "2025-06")
    found = _run(SalespersonBehaviourAnomaly.from_policy(policy), tables, policy)
    assert not ((found["entity_id"] == salesperson) & (found["period"] == "2025-06")).any()
    assert len(found) <= 5  # a clean ledger raises at most a handful of leads
    pd.testing.assert_frame_equal(found, _run(SalespersonBehaviourAnomaly.from_policy(policy), tables, policy))


def test_an_approved_discount_is_not_the_salespersons_behaviour(ledger):
    tables, policy = ledger
    salesperson = _busiest(tables, "salesperson_id", "2025-06")
    changed = _with_secret_discount(tables, salesperson, "2025-06")
    lines = changed.frames["invoice_lines"].copy()
    target = lines["invoice_id"].isin(set(_month_invoices(tables, salesperson_month=(salesperson, "2025-06"))))
    lines.loc[target, "discount_approved_by"] = "E0001"
    found = _run(SalespersonBehaviourAnomaly.from_policy(policy), _tables(changed, {"invoice_lines": lines}), policy)
    assert not ((found["entity_id"] == salesperson) & (found["period"] == "2025-06")).any()


def test_missing_optional_tables_leave_features_empty_and_the_outlier_is_still_found(ledger):
    tables, policy = ledger
    salesperson = _busiest(tables, "salesperson_id", "2025-06")
    dropped = ("cheques", "receipts", "receipt_allocations", "credit_notes", "visits", "price_list", "orders")
    reduced = _tables(_with_secret_discount(tables, salesperson, "2025-06"), dropped=dropped)
    population = monthly_features(AuditData(reduced, policy), "salesperson_id")
    for column in ("cheque_hold_days", "cheque_maturity_days", "visit_compliance", "payment_lateness",
                   "cash_share", "posting_delay", "credit_share"):
        assert population[column].isna().all(), column
    found = _run(SalespersonBehaviourAnomaly.from_policy(policy), reduced, policy)
    mine = found[(found["entity_id"] == salesperson) & (found["period"] == "2025-06")]
    assert mine.iloc[0]["drivers"][0]["feature"] == "discount_rate"


def test_too_few_rows_give_no_finding_and_say_why(mini_tables, mini_policy):
    detector = SalespersonBehaviourAnomaly.from_policy(mini_policy)
    data = AuditData(mini_tables, mini_policy, Engine("duckdb"))
    assert detector.run(data).empty
    assert detector.n_rows_ < 30 and "fewer than the 30" in detector.not_enough_data_


# ------------------------------------------------------------------ ANO-02 customer-months
def test_customer_month_with_a_big_order_on_a_long_cheque_is_flagged_with_both_named(ledger):
    """The source's sign before a collapse: a sudden big order paid by a long post-dated cheque."""
    tables, policy = ledger
    invoices = tables.frames["invoices"]
    months = invoices.assign(m=invoices["invoice_date"].dt.strftime("%Y-%m")).groupby("customer_id")["m"].nunique()
    regular = months[months >= 10].index
    in_july = invoices[(invoices["invoice_date"].dt.strftime("%Y-%m") == "2025-07")
                       & invoices["customer_id"].isin(regular)]
    customer, other = sorted(in_july["customer_id"].unique())[:2]
    lines = tables.frames["invoice_lines"].copy()
    target = lines["invoice_id"].isin(set(_month_invoices(tables, customer_month=(customer, "2025-07"))))
    lines.loc[target, "quantity"] = lines.loc[target, "quantity"] * 20
    cheques = tables.frames["cheques"]
    cheque = cheques[cheques["customer_id"] == customer].iloc[[0]].assign(
        cheque_id="QX1", cheque_no="999", received_date=pd.Timestamp("2025-07-15"),
        due_date=pd.Timestamp("2026-01-20"), handed_in_date=pd.Timestamp("2025-07-16"), status="pending")
    changed = _tables(tables, {"invoice_lines": lines, "cheques": pd.concat([cheques, cheque], ignore_index=True)})
    found = _run(CustomerBehaviourAnomaly.from_policy(policy), changed, policy)
    mine = found[(found["entity_id"] == customer) & (found["period"] == "2025-07")]
    assert len(mine) == 1, found[["entity_id", "period", "title"]]
    drivers = {d["feature"]: d for d in mine.iloc[0]["drivers"]}
    assert list(drivers)[0] == "cheque_maturity_days" and "sales_vs_median" in drivers
    assert drivers["cheque_maturity_days"]["value"] > 100  # days beyond the customer's payment terms
    assert "× the usual" in mine.iloc[0]["explanation"] and "cheque:QX1" in mine.iloc[0]["related"]
    # Volume and time put no money at risk (more sales are not a loss by themselves).
    assert mine.iloc[0]["risk_amount"] == 0
    assert not ((found["entity_id"] == other) & (found["period"] == "2025-07")).any()
    untouched = _run(CustomerBehaviourAnomaly.from_policy(policy), tables, policy)
    assert not ((untouched["entity_id"] == customer) & (untouched["period"] == "2025-07")).any()


# ------------------------------------------------------------------ ANO-03 invoices
def _padded_invoice(tables, extra_lines: int = 12):
    """An ordinary invoice of a regular customer with lines added, as added items would look."""
    invoices = tables.frames["invoices"]
    counts = invoices.groupby("customer_id")["invoice_id"].transform("size")
    invoice_id = sorted(invoices.loc[counts >= 10, "invoice_id"])[len(invoices) // 4]
    lines = tables.frames["invoice_lines"]
    first = lines[lines["invoice_id"] == invoice_id].iloc[[0]]
    start = int(lines.loc[lines["invoice_id"] == invoice_id, "line_no"].max())
    added = pd.concat([first.assign(line_no=start + k) for k in range(1, extra_lines + 1)], ignore_index=True)
    return invoice_id, pd.concat([lines, added], ignore_index=True)


def test_an_invoice_with_many_added_lines_is_flagged_with_the_lines_named(ledger):
    tables, policy = ledger
    invoice_id, lines = _padded_invoice(tables)
    found = _run(InvoiceAnomaly.from_policy(policy), _tables(tables, {"invoice_lines": lines}), policy)
    mine = found[found["entity_id"] == invoice_id]
    assert len(mine) == 1, found[["entity_id", "title"]]
    named = [d["feature"] for d in mine.iloc[0]["drivers"]]
    assert named[0] in ("n_lines", "amount_vs_customer") and {"n_lines", "amount_vs_customer"} <= set(named)
    assert "number of lines" in mine.iloc[0]["explanation"]
    assert mine.iloc[0]["risk_amount"] == 0  # volume only: no money put on it


def test_an_invoice_due_sooner_than_the_terms_is_the_harmless_side(ledger):
    """Every invoice here is due exactly on its customer's terms; one due on the day is stricter than agreed.
    Only the suspicious side (later than the terms) is scored, so it is not a lead."""
    tables, policy = ledger
    invoice_id, _ = _padded_invoice(tables)
    invoices = tables.frames["invoices"].copy()
    target = invoices["invoice_id"] == invoice_id
    invoices.loc[target, "due_date"] = invoices.loc[target, "invoice_date"]
    changed = _tables(tables, {"invoices": invoices})
    features = invoice_features(AuditData(changed, policy))
    assert features.loc[features["invoice_id"] == invoice_id, "terms_excess_days"].iloc[0] < -20
    found = _run(InvoiceAnomaly.from_policy(policy), changed, policy)
    assert invoice_id not in set(found["entity_id"])


def test_only_the_suspicious_side_of_a_feature_is_scored():
    detector = InvoiceAnomaly()
    raw = pd.DataFrame({f.name: [0.0, 1.0, 2.0, 3.0, np.nan] for f in detector.features})
    raw["terms_excess_days"] = [-60.0, 0.0, 0.0, 0.0, 200.0]      # high side only
    raw["price_deviation"] = [-0.3, 0.0, 0.0, 0.0, 0.3]           # either way
    matrix = pd.DataFrame(detector._matrix(raw, raw.median()), columns=raw.columns)
    assert matrix["terms_excess_days"].tolist() == [0.0, 0.0, 0.0, 0.0, 200.0]
    assert matrix["price_deviation"].tolist() == [-0.3, 0.0, 0.0, 0.0, 0.3]
    assert matrix["n_lines"].iloc[:4].tolist() == [1.5, 1.5, 2.0, 3.0] and np.isnan(matrix["n_lines"].iloc[4])
    compliance = SalespersonBehaviourAnomaly()
    raw = pd.DataFrame({f.name: [0.5, 0.9, 1.0, 1.0] for f in compliance.features})
    matrix = pd.DataFrame(compliance._matrix(raw, raw.median()), columns=raw.columns)
    assert matrix["visit_compliance"].tolist() == [0.5, 0.9, 0.95, 0.95]  # low side only


def test_invoice_discount_beyond_the_volume_tier_only(ledger):
    tables, policy = ledger
    features = invoice_features(AuditData(tables, policy), volume_tiers=((100.0, 3.0), (500.0, 6.0)))
    lines = tables.frames["invoice_lines"]
    tiered = lines[(lines["discount_type"] == "volume") & lines["discount_approved_by"].isna()]
    assert len(tiered) > 0
    within = features[features["invoice_id"].isin(set(tiered["invoice_id"]))
                      & ~features["invoice_id"].isin(set(lines.loc[lines["discount_type"] != "volume", "invoice_id"]))]
    assert (within["discount_rate"].abs() < 1e-9).all()  # tier discounts are not counted


# ------------------------------------------------------------------ engines
@pytest.mark.spark
@pytest.mark.skipif(not java_available(), reason="Spark needs a Java runtime")
def test_duckdb_and_spark_build_identical_features(ledger):
    tables, policy = ledger
    built = {}
    for engine in ("duckdb", "spark"):
        data = AuditData(tables, policy, Engine(engine))
        try:
            built[engine] = (monthly_features(data, "salesperson_id"), monthly_features(data, "customer_id"),
                             invoice_features(data))
        finally:
            data.engine.close()
    for duck, spark in zip(built["duckdb"], built["spark"], strict=True):
        assert len(duck) > 30
        numeric = [c for c in duck.columns if pd.api.types.is_numeric_dtype(duck[c])]
        assert (duck.drop(columns=numeric).astype(str).to_numpy() == spark.drop(columns=numeric).astype(str)
                .to_numpy()).all()
        np.testing.assert_allclose(duck[numeric].to_numpy(dtype=float), spark[numeric].to_numpy(dtype=float),
                                   rtol=1e-12, equal_nan=True)


def test_too_little_data_is_said_in_the_run_status(mini_policy):
    from audit.runner import run

    from .conftest import MINI

    result = run(MINI, mini_policy, detectors=["ANO-01", "ANO-02", "ANO-03"])
    runs = result.detector_runs.set_index("detector")
    for code in ("ANO-01", "ANO-02", "ANO-03"):
        assert runs.at[code, "status"] == "ran" and runs.at[code, "findings"] == 0
        assert "fewer than the 30 needed" in runs.at[code, "reason"], runs.at[code, "reason"]


# ------------------------------------------------------------------ shared priced invoices (ANO-00)
def test_the_three_detectors_price_the_invoices_once_and_find_what_each_finds_alone(ledger, monkeypatch):
    from analyses.anomaly import priced_invoices
    from audit.runner import run_detectors

    tables, policy = ledger
    tables = _with_secret_discount(tables, _busiest(tables, "salesperson_id", "2025-03"), "2025-03")
    detectors = (SalespersonBehaviourAnomaly, CustomerBehaviourAnomaly, InvoiceAnomaly)
    alone = {cls.code: _run(cls.from_policy(policy), tables, policy) for cls in detectors}
    priced = []
    original = priced_invoices.invoice_totals
    monkeypatch.setattr(priced_invoices, "invoice_totals", lambda *a, **k: priced.append(a) or original(*a, **k))
    data = AuditData(tables, policy, Engine("duckdb"))
    try:
        together, statuses = run_detectors(data, [cls.code for cls in detectors], raise_errors=True)
    finally:
        data.engine.close()
    assert len(priced) == 1  # ANO-00 priced every posted invoice; the detectors and their records read it
    assert list(statuses["detector"]) == ["ANO-00", "ANO-01", "ANO-02", "ANO-03"]
    assert sum(len(found) for found in alone.values()) > 0
    columns = ["entity_id", "period", "score", "risk_amount"]
    for code, found in alone.items():
        mine = together[together["detector"] == code].reset_index(drop=True)
        pd.testing.assert_frame_equal(mine[columns], found[columns].reset_index(drop=True))
        assert [e["drivers"] for e in mine["evidence"]] == list(found["drivers"])
        assert list(mine["related"]) == list(found["related"])


def test_detectors_with_other_volume_tiers_price_the_invoices_themselves(ledger):
    from analyses.anomaly.priced_invoices import PRICED_INVOICES_VIEW, PricedInvoices, shared_invoice_totals

    tables, policy = ledger
    data = AuditData(tables, policy, Engine("duckdb"))
    try:
        shared = PricedInvoices(shared_invoice_totals(data, ((100, 3),)).to_pyarrow(), ((100.0, 3.0),))
        scoped = data.scoped({PRICED_INVOICES_VIEW: shared}, pd.DataFrame())
        assert shared_invoice_totals(scoped, ((100.0, 3.0),)).op().__class__.__name__ == "InMemoryTable"
        own = shared_invoice_totals(scoped, ((100.0, 3.0), (500.0, 6.0)))  # not what ANO-00 priced with
        assert own.op().__class__.__name__ != "InMemoryTable"
        assert len(own.execute()) == shared.table.num_rows
    finally:
        data.engine.close()


def test_related_records_grouped_once_are_those_each_finding_filtered_for_itself():
    # ANO-01/02 group their related records by (key, month) once; each finding's groups must be the same ids in the
    # same order as filtering the whole frame for it (keys compared as strings, months as integers).
    from detectors.anomaly.records import pair_records, records_by_pair, related_for

    records = pd.DataFrame({
        "key": ["S1", "S2", "S1", "S1", "S2", "S1", "S1"],
        "ym": np.array([202501, 202501, 202502, 202501, 202501, 202501, 202501], dtype="int64"),
        "kind": ["invoice", "invoice", "invoice", "invoice", "cheque", "invoice", "cheque"],
        "record_id": ["I3", "I7", "I9", "I1", "C2", "I4", "C5"],
        "measure": ["discount", "net", "net", "net", "maturity", "discount", "maturity"],
        "value": [5.0, 2.0, 9.0, 4.0, 30.0, 0.0, 12.0],
    })
    drivers = [{"feature": "discount_rate"}, {"feature": "cheque_maturity_days"}]
    by_pair = records_by_pair(records)
    assert sorted(by_pair) == [("S1", 202501), ("S1", 202502), ("S2", 202501)]
    for key, ym in [("S1", 202501), ("S1", 202502), ("S2", 202501), ("S3", 202501)]:
        assert related_for(records, key, ym, drivers, by_pair) == related_for(records, key, ym, drivers)
    assert related_for(records, "S1", 202501, drivers, by_pair) == [
        ("invoice", ["I3"]), ("cheque", ["C5"]), ("invoice", ["I1"])]
    assert pair_records(records, by_pair, "S3", 202501).empty
    assert records_by_pair(records.iloc[:0]) == {}
