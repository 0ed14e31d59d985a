"""A cheque drawn on another customer's account read two ways, lapping or one buyer: the reading with the
larger weight is reported (PAY-01 or CUS-02) and the explanation names the other with its weight."""

from __future__ import annotations

from pathlib import Path

from audit.registry import get_detector
from audit.testing import load_cases, run_detector

CASES = Path(__file__).parent / "detector_cases"


def _case(code: str, starts: str):
    _, cases = load_cases(CASES / f"{code}.yaml")
    return next(c for c in cases if c.name.startswith(starts))


def _found(code: str, starts: str):
    case = _case(code, starts)
    return run_detector(get_detector(code), case.audit_tables(), case.audit_policy())


def test_lapping_is_reported_with_the_one_buyer_reading_weighed():
    found = _found("PAY-01", "lapping, not one buyer").set_index("entity_id")
    evidence = found.loc["R1", "evidence"]
    readings = evidence["readings"]
    assert readings["reported"] == "lapping"
    assert readings["lapping"] > readings["one_buyer"] == 0.0
    assert {"drawer_paid_late", "one_collector", "payees_overdue_invoices"} <= set(readings["lapping_traces"])
    explanation = found.loc["R1", "explanation"]
    assert f"weight {readings['lapping']:.2f}" in explanation
    assert "rather than one buyer under two names (weight 0.00: nothing shared beyond the cheque)" in explanation
    # the drawer's own cash booked late by the same salesperson is the money the lapping covered
    assert found.loc["R2", "evidence"]["lapping_receipt"] == "R1"
    assert "late cash beside a lapping cheque" in found.loc["R2", "title"]


def test_one_buyer_is_reported_with_the_lapping_reading_weighed():
    found = _found("CUS-02", "one buyer, not lapping")
    pair = found.iloc[0]["evidence"]["pairs"][0]
    readings = pair["readings"]
    assert readings["reported"] == "one_buyer" and readings["one_buyer"] > readings["lapping"]
    assert f"one buyer weighs {readings['one_buyer']:.2f}" in found.iloc[0]["explanation"]
    assert f"lapping weighs {readings['lapping']:.2f}" in found.iloc[0]["explanation"]


def test_the_lapping_cash_is_not_withheld_cash():
    assert _found("CHQ-03", "cash booked late by the salesperson who laps").empty


def test_a_related_business_paying_now_and_then_is_a_third_reading():
    """Two established shops of one owner, one paying one of the other's invoices with its own cheque:
    not one buyer (nothing beyond the cheque and the owner's name, neither account new) and not lapping.
    At the default bar nothing is reported; with a bar so low that the owner's name alone would flag the
    pair, the explanation says the cheque was read as a related payment and not counted."""
    from detectors.customers.cus_02_multi_name_invoicing import MultiNameInvoicing

    starts = "a related payment, not one buyer"
    assert _found("CUS-02", starts).empty

    class LowBar(MultiNameInvoicing):
        code = "CUS-02"

        @classmethod
        def params_from_policy(cls, policy):
            return super().params_from_policy(policy) | {"min_score": 0.15}

    case = _case("CUS-02", starts)
    found = run_detector(LowBar, case.audit_tables(), case.audit_policy())
    assert len(found) == 1
    pair = found.iloc[0]["evidence"]["pairs"][0]
    assert pair["readings"]["reported"] == "related_payment"
    assert set(pair["traces"]) == {"shared_owner_name"}  # the cheque is no link
    assert "reads as one related business paying for the other now and then" in found.iloc[0]["explanation"]
    assert "receipt R8" in found.iloc[0]["explanation"]


def test_drawer_invoices_and_payments_read_as_arrays_answer_as_the_pandas_filters():
    # lapping_traces reads a drawer's invoices and an invoice's payments once as arrays; each case's window
    # and "paid by the cheque's date" must keep what pandas' comparisons kept (a missing date never inside,
    # a missing amount summing as 0), and the day the payments covered the invoice is that of the date order.
    import numpy as np
    import pandas as pd

    from detectors.payments.readings import _DrawerInvoices, _Payments

    invoices = pd.DataFrame({"invoice_id": ["I1", "I2", "I3", "I4"],
                             "invoice_date": pd.to_datetime(["2024-01-01", "2024-02-01", None, "2024-01-10"]),
                             "due": pd.to_datetime(["2024-02-01", "2024-05-20", "2024-02-01", "9999-12-31"]),
                             "amount": [100.0, 50.0, 70.0, 10.0]})
    when = pd.Timestamp("2024-02-15")
    window = (pd.Timedelta(days=30), pd.Timedelta(days=60))
    chosen = _DrawerInvoices(invoices).around(when, *window)
    expected = invoices[(invoices["invoice_date"] <= when) & (invoices["due"] >= when - window[0])
                        & (invoices["due"] <= when + window[1])]
    assert [row.invoice_id for row in chosen] == list(expected["invoice_id"]) == ["I1"]

    payments = pd.DataFrame({"invoice_id": "I1", "amount": [40.0, np.nan, 35.0, 30.0],
                             "receipt_date": pd.to_datetime(["2024-03-01", "2024-01-20", "2024-01-25", None])})
    paid = _Payments(payments)
    assert paid.paid_by(when) == float(payments.loc[payments["receipt_date"] <= when, "amount"].sum()) == 35.0
    assert paid.paid_by(pd.Timestamp("2023-12-31")) == 0.0
    assert paid.settled(70.0) == pd.Timestamp("2024-03-01")  # 35 by 25 January, 75 by 1 March
    assert paid.settled(200.0) is None


def test_cus_02_and_pay_01_ask_the_engine_for_the_same_cheques_once(monkeypatch):
    # Both read a cheque drawn on another customer's account as lapping or one buyer, from the same receipts:
    # the cases and their invoices are asked of the engine once per run, and the findings are those of
    # asking twice.
    from pathlib import Path

    from audit.data import AuditData
    from audit.engine import Engine
    from audit.runner import run_detectors
    from audit.testing import load_cases
    from detectors.payments import readings

    case = next(c for c in load_cases(Path(__file__).parent / "detector_cases" / "PAY-01.yaml")[1]
                if c.name.startswith("lapping, not one buyer"))
    calls = []
    for name in ("_cheque_cases", "_case_invoices"):
        original = getattr(readings, name)
        monkeypatch.setattr(readings, name, lambda *args, _n=name, _o=original: calls.append(_n) or _o(*args))

    def run(shared: bool):
        data = AuditData(case.audit_tables(), case.audit_policy(), Engine("duckdb"))
        if not shared:
            data.shared_fact = lambda name, compute: compute()
        try:
            return run_detectors(data, ["CUS-02", "PAY-01"], raise_errors=True)[0]
        finally:
            data.engine.close()

    once = run(shared=True)
    assert sorted(calls) == ["_case_invoices", "_cheque_cases"]
    calls.clear()
    twice = run(shared=False)
    assert sorted(calls) == ["_case_invoices", "_case_invoices", "_cheque_cases", "_cheque_cases"]
    assert len(once) and once.drop(columns=["exception_id"], errors="ignore").astype(str).equals(
        twice.drop(columns=["exception_id"], errors="ignore").astype(str))
