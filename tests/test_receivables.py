"""Receivables analyses: open items (FIFO credits), aging that reconciles exactly, the collections ladder,
the bad-debt reserve, credit exposure, problem receivables and confirmation differences."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analyses.receivables.aging import ReceivablesAging, aging_table, assign_buckets, bucket_labels
from analyses.receivables.collections import CollectionsLadder, ladder_actions
from analyses.receivables.confirmations import ConfirmationDifferences
from analyses.receivables.exposure import CreditExposure
from analyses.receivables.open_items import ledger_end_date, load_ledger, open_items
from analyses.receivables.problems import ProblemReceivables
from analyses.receivables.reserve import BadDebtReserve
from audit.data import AuditData
from audit.engine import Engine
from audit.ledger import balances_as_of
from audit.policy import Policy, policy_from_dict
from audit.testing import tables_from_frames

AS_OF = pd.Timestamp("2025-06-30")

MASTER = {
    "salespeople": [
        {"salesperson_id": "S1", "name": "Ali Rezaei", "region": "North"},
        {"salesperson_id": "S2", "name": "Sara Karimi", "region": "South"},
        {"salesperson_id": "S3", "name": "No Region"},
    ],
    "customers": [
        {"customer_id": "C1", "name": "Parsa Market", "created_date": "2023-01-10", "assigned_salesperson_id": "S1",
         "credit_limit": "30000000", "payment_terms_days": "30"},
        {"customer_id": "C2", "name": "Golden Wholesale", "created_date": "2022-05-02",
         "assigned_salesperson_id": "S2", "credit_limit": "500000000", "payment_terms_days": "60"},
        {"customer_id": "C3", "name": "Quiet Shop", "created_date": "2022-05-02", "assigned_salesperson_id": "S3",
         "payment_terms_days": "30"},
    ],
    "products": [{"product_id": "P1", "name": "Tea", "list_price": "100000"}],
}


def _invoice(invoice_id, day, customer, amount, salesperson="S1", due=None, status="posted"):
    row = {"invoice_id": invoice_id, "invoice_no": invoice_id.replace("I", "10"), "invoice_date": day,
           "customer_id": customer, "salesperson_id": salesperson, "status": status}
    if due:
        row["due_date"] = due
    line = {"invoice_id": invoice_id, "line_no": "1", "product_id": "P1", "quantity": str(amount // 100000),
            "unit_price": "100000"}
    return row, line


def _ledger_frames() -> dict[str, pd.DataFrame]:
    """A small ledger with every kind of settlement: full, partial, cash discount, a credit note naming its
    invoice, an unallocated credit note (FIFO), an over-payment, a payment to a cancelled invoice, a
    cross-customer allocation and a payment dated after the as-of day."""
    invoices, lines = zip(*[
        _invoice("I1", "2025-01-05", "C1", 10_000_000),                      # paid in full
        _invoice("I2", "2025-02-01", "C1", 20_000_000),                      # partly paid, FIFO credit
        _invoice("I3", "2025-03-01", "C1", 15_000_000),                      # open, old
        _invoice("I4", "2025-06-20", "C1", 5_000_000),                       # recent
        _invoice("I5", "2025-01-15", "C2", 40_000_000, "S2"),                # over-paid
        _invoice("I6", "2025-05-10", "C2", 30_000_000, "S2", due="2025-06-09"),
        _invoice("I7", "2025-04-01", "C2", 8_000_000, "S2", status="cancelled"),
        _invoice("I8", "2024-10-01", "C3", 12_000_000, "S3"),                # over 180 days
        _invoice("I9", "2025-06-25", "C3", 3_000_000, "S1"),                 # another salesperson
    ], strict=True)
    frames = {
        **MASTER,
        "invoices": list(invoices), "invoice_lines": list(lines),
        "receipts": [
            {"receipt_id": "R1", "customer_id": "C1", "receipt_date": "2025-02-01", "posted_date": "2025-02-01",
             "method": "cash", "amount": "9800000"},
            {"receipt_id": "R2", "customer_id": "C1", "receipt_date": "2025-03-10", "posted_date": "2025-03-10",
             "method": "cash", "amount": "6000000"},
            {"receipt_id": "R3", "customer_id": "C2", "receipt_date": "2025-02-20", "posted_date": "2025-02-20",
             "method": "transfer", "amount": "45000000"},
            {"receipt_id": "R4", "customer_id": "C2", "receipt_date": "2025-04-10", "posted_date": "2025-04-10",
             "method": "cash", "amount": "8000000"},
            {"receipt_id": "R5", "customer_id": "C2", "receipt_date": "2025-05-02", "posted_date": "2025-05-02",
             "method": "cash", "amount": "2000000"},
            {"receipt_id": "R6", "customer_id": "C1", "receipt_date": "2025-07-05", "posted_date": "2025-07-05",
             "method": "cash", "amount": "5000000"},
        ],
        "receipt_allocations": [
            {"receipt_id": "R1", "invoice_id": "I1", "amount": "9800000", "cash_discount_amount": "200000"},
            {"receipt_id": "R2", "invoice_id": "I2", "amount": "6000000", "cash_discount_amount": "0"},
            {"receipt_id": "R3", "invoice_id": "I5", "amount": "45000000", "cash_discount_amount": "0"},
            {"receipt_id": "R4", "invoice_id": "I7", "amount": "8000000", "cash_discount_amount": "0"},
            {"receipt_id": "R5", "invoice_id": "I3", "amount": "2000000", "cash_discount_amount": "0"},
            {"receipt_id": "R6", "invoice_id": "I4", "amount": "5000000", "cash_discount_amount": "0"},
        ],
        "credit_notes": [
            {"credit_note_id": "CN1", "credit_date": "2025-03-05", "customer_id": "C1", "amount": "1000000",
             "invoice_id": "I3", "reason": "damaged"},
            {"credit_note_id": "CN2", "credit_date": "2025-04-01", "customer_id": "C1", "amount": "4000000",
             "reason": "price_adjustment"},
        ],
    }
    return {name: pd.DataFrame(rows).astype(str).replace({"nan": ""}) for name, rows in frames.items()}


def _data(frames, policy: Policy | None = None) -> AuditData:
    policy = policy or Policy()
    return AuditData(tables_from_frames(frames, policy), policy, Engine("duckdb"), "2025-06")


@pytest.fixture(scope="module")
def data():
    audit_data = _data(_ledger_frames())
    yield audit_data
    audit_data.engine.close()


def test_open_items_settle_invoices_and_apply_loose_credits_first_in_first_out(data):
    items = open_items(load_ledger(data), AS_OF).set_index("item_id")
    assert "I1" not in items.index                                   # paid in full with its cash discount
    # C1's unapplied credit note CN2 (4,000,000) goes to its oldest open invoice I2 first
    assert items.at["I2", "fifo_credit"] == pytest.approx(4_000_000)
    assert items.at["I2", "open_amount"] == pytest.approx(20_000_000 - 6_000_000 - 4_000_000)
    # I3: credit note naming it and another customer's (C2's) allocation (the invoices' view)
    assert items.at["I3", "open_amount"] == pytest.approx(15_000_000 - 1_000_000 - 2_000_000)
    assert items.at["I4", "open_amount"] == pytest.approx(5_000_000)  # paid only after the as-of day
    # C2 over-paid I5 by 5,000,000 and paid 8,000,000 to a cancelled invoice: FIFO onto I6
    assert items.at["I6", "fifo_credit"] == pytest.approx(13_000_000)
    assert items.at["I6", "open_amount"] == pytest.approx(17_000_000)
    assert items.at["I8", "age_days"] == (AS_OF - pd.Timestamp("2024-10-01")).days
    # due date from the customer's terms when the invoice has none
    assert items.at["I4", "due_date"] == pd.Timestamp("2025-07-20")


def test_credit_left_after_every_invoice_is_cleared_stays_as_a_credit_item():
    frames = _ledger_frames()
    frames["credit_notes"] = pd.concat([frames["credit_notes"], pd.DataFrame([{
        "credit_note_id": "CN3", "credit_date": "2025-06-01", "customer_id": "C2", "amount": "50000000",
        "invoice_id": "", "reason": "other"}])], ignore_index=True).fillna("")
    audit_data = _data(frames)
    try:
        items = open_items(load_ledger(audit_data), AS_OF)
    finally:
        audit_data.engine.close()
    c2 = items[items["customer_id"] == "C2"]
    assert list(c2["kind"]) == ["credit"]
    assert c2["open_amount"].iloc[0] == pytest.approx(-(50_000_000 + 13_000_000 - 30_000_000))


def test_a_payment_before_its_invoice_exists_is_credit_until_then_and_items_keep_their_order():
    frames = _ledger_frames()
    frames["receipts"] = pd.concat([frames["receipts"], pd.DataFrame([{
        "receipt_id": "R7", "customer_id": "C3", "receipt_date": "2025-06-10", "posted_date": "2025-06-10",
        "method": "cash", "amount": "20000000"}])], ignore_index=True).fillna("")
    frames["receipt_allocations"] = pd.concat([frames["receipt_allocations"], pd.DataFrame([{
        "receipt_id": "R7", "invoice_id": "I9", "amount": "20000000", "cash_discount_amount": "0"}])],
        ignore_index=True)
    audit_data = _data(frames)
    try:
        ledger = load_ledger(audit_data)
        before, after = open_items(ledger, pd.Timestamp("2025-06-20")), open_items(ledger, AS_OF)
    finally:
        audit_data.engine.close()
    # On 20 June I9 (25 June) does not exist: R7 is C3's credit, first in first out onto I8 (12,000,000).
    c3 = before[before["customer_id"] == "C3"].set_index("item_id")
    assert list(c3.index) == ["credit:C3"] and c3.at["credit:C3", "open_amount"] == pytest.approx(-8_000_000)
    # Once I9 exists R7 settles it (3,000,000 of 20,000,000); the over-payment clears I8 in full.
    c3 = after[after["customer_id"] == "C3"].set_index("item_id")
    assert list(c3.index) == ["credit:C3"] and c3.at["credit:C3", "open_amount"] == pytest.approx(-5_000_000)
    for items in (before, after):  # customer, its credit before its invoices, then invoice date and id
        expected = items.sort_values(["customer_id", "kind", "invoice_date", "item_id"], kind="mergesort")
        assert items["item_id"].tolist() == expected["item_id"].tolist()


def test_aging_totals_reconcile_exactly_with_open_items_and_the_ledger(data):
    ledger = load_ledger(data)
    items = open_items(ledger, AS_OF)
    views = ReceivablesAging().compute(data)
    total = items["open_amount"].sum()
    for name, key in (("aging_by_customer", "customer_id"), ("aging_by_salesperson", "salesperson_id"),
                      ("aging_by_region", "region")):
        view = views[name]
        assert view[key].is_unique, name
        assert view["total"].sum() == pytest.approx(total, abs=0.005), name
        buckets = bucket_labels((30, 60, 90, 180))
        assert (view[buckets].sum(axis=1) + view["unapplied_credit"] - view["total"]).abs().max() < 0.005
    per_customer = items.groupby("customer_id")["open_amount"].sum()
    by_customer = views["aging_by_customer"].set_index("customer_id")["total"]
    pd.testing.assert_series_equal(by_customer.sort_index(), per_customer.round(2).sort_index(),
                                   check_names=False)
    per_salesperson = items.groupby("salesperson_id")["open_amount"].sum()
    by_salesperson = views["aging_by_salesperson"].set_index("salesperson_id")["total"]
    assert by_salesperson["S1"] == pytest.approx(per_salesperson["S1"])   # C3's invoice I9 is S1's
    assert set(views["aging_by_region"]["region"]) == {"North", "South", "(no region)"}
    # grand total = invoices − allocations − cash discounts − credit notes up to the as-of day (contract)
    points = pd.DataFrame({"customer_id": data.frame("customers")["customer_id"],
                           "as_of_date": pd.Timestamp(AS_OF).as_unit("us")})
    assert balances_as_of(data, points)["ledger_balance"].sum() == pytest.approx(total, abs=0.01)


def test_aging_buckets_and_weighted_average_age():
    assert bucket_labels((30, 60, 90, 180)) == ["0-30", "31-60", "61-90", "91-180", "over_180"]
    ages = pd.Series([0.0, 30.0, 31.0, 90.0, 91.0, 180.0, 181.0, -3.0])
    assert list(assign_buckets(ages, (30, 60, 90, 180))) == [
        "0-30", "0-30", "31-60", "61-90", "91-180", "91-180", "over_180", "not_due"]
    items = pd.DataFrame({
        "item_id": ["A", "B"], "kind": "invoice", "customer_id": "C", "salesperson_id": "S",
        "invoice_date": pd.to_datetime(["2025-06-20", "2025-03-02"]), "due_date": pd.to_datetime(
            ["2025-07-20", "2025-04-01"]), "open_amount": [100.0, 300.0], "age_days": [10.0, 120.0],
        "days_past_due": [-20.0, 90.0]})
    table = aging_table(items, ["customer_id"])
    assert table.loc[0, "avg_age_days"] == pytest.approx((100 * 10 + 300 * 120) / 400, abs=0.05)
    assert table.loc[0, "0-30"] == 100 and table.loc[0, "91-180"] == 300 and table.loc[0, "overdue"] == 300
    by_due = aging_table(items, ["customer_id"], basis="due_date")
    assert by_due.loc[0, "not_due"] == 100 and by_due.loc[0, "61-90"] == 300


def test_collections_ladder_step_due_for_each_overdue_invoice():
    ladder = dict(Policy().collections.ladder_days)
    due = pd.Timestamp("2025-03-01")
    items = pd.DataFrame({
        "item_id": ["A", "B", "C", "D", "E"], "kind": "invoice", "invoice_no": "n", "customer_id": "C1",
        "salesperson_id": "S1", "invoice_date": due - pd.Timedelta(days=30), "due_date": due,
        "open_amount": 1000.0, "days_past_due": [-1.0, 0.0, 29.0, 45.0, 200.0]})
    actions = ladder_actions(items, ladder, due).set_index("invoice_id")
    assert "A" not in actions.index                                       # not yet due
    assert actions.at["B", "step_due"] == "reminder" and actions.at["B", "next_step"] == "letter_1"
    assert actions.at["B", "next_step_date"] == due + pd.Timedelta(days=15)
    assert actions.at["C", "step_due"] == "letter_1" and not actions.at["C", "stop_supply"]
    assert actions.at["D", "step_due"] == "letter_2_stop_supply" and actions.at["D", "stop_supply"]
    assert actions.at["D", "next_step"] == "letter_3"
    assert actions.at["D", "next_step_date"] == due + pd.Timedelta(days=60)
    assert actions.at["E", "step_due"] == "legal" and pd.isna(actions.at["E", "next_step"])
    assert list(actions.index) == ["E", "D", "C", "B"]                   # latest step first


def test_collections_view_follows_the_policy_ladder():
    # A ladder of three of the contract's steps, at the company's own days (unknown steps are refused).
    policy = policy_from_dict({"collections": {"ladder_days": {"reminder": 0, "letter_2_stop_supply": 10,
                                                               "legal": 40}}})
    audit_data = _data(_ledger_frames(), policy)
    try:
        actions = CollectionsLadder.from_policy(policy).compute(audit_data)["collections_actions"]
    finally:
        audit_data.engine.close()
    steps = actions.set_index("invoice_id")
    assert steps.at["I8", "step_due"] == "legal"
    assert set(steps["step_due"]) <= {"reminder", "letter_2_stop_supply", "legal"}
    # I3 (C1) was due 2025-03-31: supply should have stopped on 2025-04-10; I4 was invoiced after that
    assert steps.at["I3", "stop_supply"] and steps.at["I3", "supply_after_stop"] == 1
    assert steps.at["I3", "invoiced_after_stop"] == pytest.approx(5_000_000)


def test_bad_debt_reserve_uses_the_datas_own_loss_rates(data):
    table = BadDebtReserve(outcome_days=60).compute(data)["aging_reserve"].set_index("bucket")
    rates = table.drop(index="total")["loss_rate"]
    assert rates.is_monotonic_increasing
    assert table.loc["total", "reserve"] == pytest.approx(table.drop(index="total")["reserve"].sum())
    body = table.drop(index="total")
    assert (body["reserve"] - body["open_amount"] * body["loss_rate"]).abs().max() < 1.0
    assert "still unpaid" in table["loss_definition"].iloc[0]


def test_credit_exposure_adds_pending_cheques():
    frames = _ledger_frames()
    frames["cheques"] = pd.DataFrame([
        {"cheque_id": "Q1", "cheque_no": "1", "customer_id": "C1", "amount": "7000000", "received_date": "2025-06-10",
         "due_date": "2025-08-10", "status": "pending"},
        {"cheque_id": "Q2", "cheque_no": "2", "customer_id": "C1", "amount": "9000000", "received_date": "2025-05-10",
         "due_date": "2025-06-10", "status": "cleared", "status_date": "2025-06-11"},
    ]).fillna("")
    audit_data = _data(frames)
    try:
        table = CreditExposure().compute(audit_data)["credit_exposure"].set_index("customer_id")
        items = open_items(load_ledger(audit_data), AS_OF)
    finally:
        audit_data.engine.close()
    balance = items.loc[items["customer_id"] == "C1", "open_amount"].sum()
    assert table.at["C1", "pending_cheques"] == pytest.approx(7_000_000)
    assert table.at["C1", "exposure"] == pytest.approx(balance + 7_000_000)
    assert table.at["C1", "over_limit"] and table.at["C1", "headroom"] < 0
    assert table.index[0] == "C1"                                        # most over its limit first


def test_problem_receivables_dormant_terms_and_disputes():
    frames = _ledger_frames()
    frames["confirmations"] = pd.DataFrame([{"customer_id": "C2", "as_of_date": "2025-06-30",
                                             "confirmed_balance": "10000000"}])
    audit_data = _data(frames)
    try:
        table = ProblemReceivables.from_policy(Policy()).compute(audit_data)["problem_receivables"]
    finally:
        audit_data.engine.close()
    problems = set(zip(table["customer_id"], table["problem"], strict=True))
    assert ("C1", "terms_not_kept") in problems                           # I2, I3 long past due
    assert ("C2", "disputed") in problems
    disputed = table[(table["customer_id"] == "C2") & (table["problem"] == "disputed")]
    # C2's ledger balance (the payers' view): 40m + 30m invoiced − 45m − 8m − 2m paid = 15m; it confirms 10m
    assert disputed["amount"].iloc[0] == pytest.approx(15_000_000 - 10_000_000)
    # C2 last invoiced 2025-05-10, 51 days: not yet three months without goods
    assert ("C2", "no_shipments_open_balance") not in problems


def test_confirmation_differences_per_customer_and_salesperson():
    frames = _ledger_frames()
    frames["confirmations"] = pd.DataFrame([
        {"customer_id": "C1", "as_of_date": "2025-06-30", "confirmed_balance": "0"},
        {"customer_id": "C2", "as_of_date": "2025-06-30", "confirmed_balance": "15000000"},
    ])
    audit_data = _data(frames)
    try:
        views = ConfirmationDifferences().compute(audit_data)
    finally:
        audit_data.engine.close()
    table = views["confirmation_differences"].set_index("customer_id")
    assert not table.at["C1", "agrees"] and table.at["C1", "difference"] > 0
    assert table.at["C2", "agrees"]
    people = views["confirmation_differences_by_salesperson"].set_index("salesperson_id")
    assert people.at["S1", "disagreeing"] == 1 and people.at["S2", "disagreeing"] == 0


def test_analyses_run_on_the_mini_ledger_without_optional_tables(mini_tables, mini_policy):
    audit_data = AuditData(mini_tables, mini_policy, Engine("duckdb"))
    try:
        for cls in (ReceivablesAging, CollectionsLadder, BadDebtReserve, CreditExposure, ProblemReceivables):
            views = cls.from_policy(mini_policy).compute(audit_data)
            assert views and all(isinstance(v, pd.DataFrame) for v in views.values()), cls.code
        items = open_items(load_ledger(audit_data), ledger_end_date(audit_data))
        aging = ReceivablesAging().compute(audit_data)["aging_by_customer"]
        assert aging["total"].sum() == pytest.approx(items["open_amount"].sum(), abs=0.005)
    finally:
        audit_data.engine.close()


def test_month_end_peaks_read_the_same_exposure_as_the_full_table():
    """RCV-04's peaks work out exposure and over-limit alone each month: the same customers and values as
    the full table of that day."""
    from analyses.receivables.exposure import _exposure_only, exposure_on
    from analyses.receivables.open_items import customer_master

    frames = _ledger_frames()
    frames["cheques"] = pd.DataFrame([
        {"cheque_id": "Q1", "cheque_no": "1", "customer_id": "C1", "amount": "7000000", "received_date": "2025-04-10",
         "due_date": "2025-08-10", "status": "pending"},
        {"cheque_id": "Q3", "cheque_no": "3", "customer_id": "C3", "amount": "5000000", "received_date": "2025-03-10",
         "due_date": "2025-09-10", "status": "pending"},
    ]).fillna("")
    audit_data = _data(frames)
    try:
        ledger = load_ledger(audit_data)
        customers = customer_master(audit_data)
        limits = customers.set_index("customer_id")["credit_limit"]
        for day in pd.date_range("2025-01-31", AS_OF, freq="ME"):
            full = exposure_on(audit_data, ledger, customers, day)[["customer_id", "exposure", "over_limit"]]
            alone = _exposure_only(audit_data, ledger, limits, day)
            pd.testing.assert_frame_equal(alone.sort_values("customer_id", ignore_index=True),
                                          full.sort_values("customer_id", ignore_index=True), check_exact=True)
        assert alone["over_limit"].any() and (alone["exposure"] > 0).sum() >= 2
    finally:
        audit_data.engine.close()


def test_the_receivables_ledger_keeps_one_object_per_customer_and_salesperson_id(data):
    """The run's receivables ledger holds a customer's or salesperson's id as one Python object on all its
    invoices and settlements (not one string per row), with the same values as before."""
    from analyses.receivables.open_items import build_ledger
    from audit.memory import one_object_per_text

    ledger = build_ledger(data)
    for frame, column in ((ledger.invoices, "customer_id"), (ledger.invoices, "salesperson_id"),
                          (ledger.settlements, "customer_id")):
        values = [v for v in frame[column] if v is not None]
        assert frame[column].dtype == object and len(values) > len(set(values))
        assert len({id(v) for v in values}) == len(set(values)), column
    text = pd.Series(["a", None, "b", "a", float("nan")], index=[5, 6, 7, 8, 9], dtype="str")
    out = one_object_per_text(text)
    assert out.tolist() == ["a", None, "b", "a", None] and list(out.index) == [5, 6, 7, 8, 9]
    assert out.iloc[0] is out.iloc[3]


def test_open_items_keep_the_invoices_order_not_a_sorted_copy_of_them(data):
    """The ledger remembers its invoices' first-in-first-out order as row places (not a second, sorted
    frame of every invoice) and open items on a day come out as when they were taken from such a copy."""
    from analyses.receivables.open_items import build_ledger

    ledger = build_ledger(data)
    items = open_items(ledger, AS_OF)
    cached = {name: value for name, value in vars(ledger).items() if name not in ("invoices", "settlements",
                                                                                 "loose_credits", "customers")}
    assert not [name for name, value in cached.items() if isinstance(value, pd.DataFrame)]
    assert isinstance(ledger.fifo_order, np.ndarray) and len(ledger.fifo_order) == len(ledger.invoices)
    fifo = ledger.invoices.sort_values(["customer_id", "invoice_date", "invoice_id"], kind="mergesort")
    assert list(ledger.fifo_order) == list(fifo.index)
    opened = items[items["kind"] == "invoice"]
    # each customer's invoices in first-in-first-out order
    for _, group in opened.groupby("customer_id", sort=False):
        assert list(group["item_id"]) == [i for i in fifo["invoice_id"] if i in set(group["item_id"])]
    assert len(opened) >= 2


def test_sums_by_code_are_pandas_groupby_sums_to_the_last_bit():
    """Open items sum each invoice's and customer's settlements on integer codes (counting for codes with one
    or two rows, a groupby for the others): the sums equal pandas' compensated groupby sums bit for bit, in
    row order, with codes without rows 0 and blank codes (-1) left out."""
    from analyses.receivables.open_items import _sums_by_code

    rng = np.random.default_rng(7)
    n_codes = 500
    codes = rng.integers(-1, n_codes - 100, 20_000)  # codes 400..499 have no rows; -1 is blank
    codes[:50] = 3  # a code with many rows, where the compensation changes the last bits
    values = {"a": rng.normal(0, 1e7, len(codes)).round(2) * rng.choice([1e-6, 1.0, 1e6], len(codes)),
              "b": rng.uniform(-1, 1, len(codes)) * 1e-3}
    got = _sums_by_code(codes, values, n_codes)
    known = codes >= 0
    frame = pd.DataFrame({name: column[known] for name, column in values.items()})
    expected = frame.groupby(pd.Categorical.from_codes(codes[known], categories=pd.RangeIndex(n_codes)),
                             observed=False).sum()
    for name in values:
        assert got[name].dtype == np.float64 and len(got[name]) == n_codes
        assert got[name].tobytes() == expected[name].to_numpy().tobytes(), name
    naive = np.bincount(codes[known], weights=values["a"][known], minlength=n_codes)
    assert (naive != expected["a"].to_numpy()).any()  # plain addition would not do for the larger codes
    # with a blank value the groupby (which skips it) answers
    values["a"][5] = np.nan
    expected = pd.DataFrame({"a": values["a"][known]}).groupby(
        pd.Categorical.from_codes(codes[known], categories=pd.RangeIndex(n_codes)), observed=False).sum()
    assert _sums_by_code(codes, {"a": values["a"]}, n_codes)["a"].tobytes() == expected["a"].to_numpy().tobytes()


def test_the_receivables_ledger_keeps_invoice_numbers_and_receipt_ids_compact(data):
    """The ledger keeps its invoice numbers and receipt ids as Arrow-backed texts (no Python object per row,
    kept for the whole run), a settlement's invoice id is the invoice's own object, and the readers get
    what they got before: open items and DST-02's invoices hand the invoice numbers out as objects (blank:
    None)."""
    from analyses.receivables.open_items import build_ledger, compact_texts, texts_as_objects

    ledger = build_ledger(data)
    assert isinstance(ledger.invoices["invoice_no"].dtype, pd.StringDtype)
    assert isinstance(ledger.settlements["source_id"].dtype, pd.StringDtype)
    assert ledger.invoices["invoice_id"].dtype == object and ledger.settlements["invoice_id"].dtype == object
    own = dict(zip(ledger.invoices["invoice_id"], ledger.invoices["invoice_id"], strict=True))
    named = [v for v in ledger.settlements["invoice_id"] if v is not None]
    assert named and all(v is own[v] for v in named)
    items = open_items(ledger, AS_OF)
    assert items["invoice_no"].dtype == object
    numbers = dict(zip(ledger.invoices["invoice_id"], ledger.invoices["invoice_no"], strict=True))
    for kind, item_id, number in zip(items["kind"], items["item_id"], items["invoice_no"], strict=True):
        assert number is None if kind == "credit" else (type(number) is str and number == numbers[item_id])
    # texts round-trip; anything but texts stays as Python objects, numbers do not become texts
    texts = pd.Series(["10", None, "x"], dtype="object")
    assert texts_as_objects(compact_texts(texts)).tolist() == ["10", None, "x"]
    mixed = pd.Series([10, None, "x"], dtype="object")
    assert compact_texts(mixed).dtype == object and compact_texts(mixed).tolist() == [10, None, "x"]
    assert compact_texts(pd.Series([1, 2])).tolist() == [1, 2]


def test_first_in_first_out_order_without_sorting_the_ids_is_the_sorted_order(monkeypatch):
    """The ledger's first-in-first-out order, taken on customer ranks and dates when the invoices come in id
    order, is the order of sorting by customer, date and id (blank customers and dates last)."""
    from analyses.receivables.open_items import Ledger

    invoices = pd.DataFrame({
        "invoice_id": ["A1", "A2", "A3", "A4", "A5", "A6", "A7"],
        "customer_id": pd.Series(["C2", "C1", None, "C2", "C1", "C10", "C2"], dtype="object"),
        "invoice_date": pd.to_datetime(["2025-01-03", "2025-01-05", "2025-01-01", None, "2025-01-05",
                                        "2025-01-02", "2025-01-01"]),
        "amount": 1.0})
    empty = pd.DataFrame({"invoice_id": pd.Series(dtype="object"), "customer_id": pd.Series(dtype="object"),
                          "date": pd.Series(dtype="datetime64[us]")})
    ledger = Ledger(invoices, empty, empty[["customer_id", "date"]], pd.DataFrame())
    expected = invoices.sort_values(["customer_id", "invoice_date", "invoice_id"], kind="mergesort").index
    with monkeypatch.context() as patched:  # no sort of the frame (and its text ids)
        patched.setattr(pd.DataFrame, "sort_values", lambda *args, **kwargs: pytest.fail("frame sorted"))
        order = ledger.fifo_order
    assert list(order) == list(expected) == [1, 4, 5, 6, 0, 3, 2]
    shuffled = Ledger(invoices.iloc[::-1].reset_index(drop=True), empty, empty[["customer_id", "date"]],
                      pd.DataFrame())  # not in id order: sorted as before
    assert list(shuffled.fifo_order) == list(shuffled.invoices.sort_values(
        ["customer_id", "invoice_date", "invoice_id"], kind="mergesort").index)


def test_open_item_amounts_are_the_open_items_without_their_texts(data):
    """The distress signs read a month end's open items without their texts: the same rows in the same order
    and the same amounts, dates and days past due as open_items, the customer as its code in the ledger's
    keys; on days with credit left (loose credit notes, over-payments) and before any invoice."""
    from analyses.receivables.open_items import build_ledger, open_item_amounts

    ledger = build_ledger(data)
    days = [pd.Timestamp("2024-09-30"), *pd.date_range("2024-10-31", "2025-07-31", freq="ME")]
    kinds = set()
    for day in days:
        items = open_items(ledger, day)
        lean = open_item_amounts(ledger, day)
        kinds |= set(items["kind"])
        ids = np.append(ledger.keys.customer_ids, None)[lean["customer_code"].to_numpy()]
        assert list(ids) == list(items["customer_id"]), day
        # (the dates' unit may differ: open_items' follows its concatenation with the credits' blank dates)
        for column in ("kind", "invoice_date", "paid", "cash_discount", "open_amount", "days_past_due"):
            left, right = lean[column], items[column]
            if column == "invoice_date":
                left, right = left.astype("datetime64[ns]"), right.astype("datetime64[ns]")
            pd.testing.assert_series_equal(left, right, check_exact=True, check_dtype=False,
                                           obj=f"{column} on {day:%Y-%m-%d}")
    assert kinds == {"invoice", "credit"}
