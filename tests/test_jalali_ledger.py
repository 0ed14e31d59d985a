"""A whole ledger dated in the Persian (Jalali) calendar audits exactly like the same ledger dated in
the Gregorian one: every date and time column of every table rewritten as Jalali text (half of the
tables in Persian digits, one with Arabic-Indic digits, slashes and dashes both), ``calendar = "jalali"``
in the policy, and the findings are the same, figures, periods and wording included."""

from __future__ import annotations

import shutil
import tomllib

import jdatetime
import pandas as pd
import pytest

from audit.contract import DATE, TABLES, TIMESTAMP
from audit.policy import load_policy
from audit.problems import InputError
from audit.runner import run
from simulator import simulate

SEED = 7
PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
# Compared column by column; the run id, exception ids and input digests name the files, which differ.
SAME = ["detector", "pattern", "entity_type", "entity_id", "salesperson_id", "customer_id", "period", "score",
        "risk_amount", "title", "explanation", "check_next", "evidence", "related"]


def _jalali(text: str, separator: str) -> str:
    """``2025-03-21`` → ``1404{sep}01{sep}01``; a time after the day is kept as written."""
    day, _, time = text.partition(" ")
    gregorian = pd.Timestamp(day).date()
    converted = jdatetime.date.fromgregorian(date=gregorian)
    out = f"{converted.year:04d}{separator}{converted.month:02d}{separator}{converted.day:02d}"
    return f"{out} {time}" if time else out


def _to_jalali(folder) -> int:
    """Rewrite every contract date and timestamp column of the CSV files in ``folder``; the values rewritten."""
    rewritten = 0
    for index, (name, spec) in enumerate(sorted(TABLES.items())):
        path = folder / f"{name}.csv"
        if not path.exists():
            continue
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        digits = PERSIAN if index % 2 else (ARABIC_INDIC if index % 5 == 0 else None)
        separator = "/" if index % 3 else "-"
        for column in spec.columns:
            if column.type not in (DATE, TIMESTAMP) or column.name not in frame.columns:
                continue
            given = frame[column.name] != ""
            values = frame.loc[given, column.name].map(lambda v, sep=separator: _jalali(v.replace("T", " "), sep))
            if digits is not None:
                values = values.str.translate(digits)
            frame.loc[given, column.name] = values
            rewritten += int(given.sum())
        frame.to_csv(path, index=False)
    return rewritten


@pytest.fixture(scope="module")
def ledgers(tmp_path_factory):
    gregorian = tmp_path_factory.mktemp("gregorian") / "ledger"
    simulate(gregorian, scale="tiny", seed=SEED)
    jalali = tmp_path_factory.mktemp("jalali") / "ledger"
    shutil.copytree(gregorian, jalali)
    rewritten = _to_jalali(jalali)
    policy_path = jalali / "policy.toml"
    policy = policy_path.read_text()
    assert tomllib.loads(policy)["calendar"] == "gregorian"  # holidays stay ISO dates under either calendar
    policy_path.write_text(policy.replace('calendar = "gregorian"', 'calendar = "jalali"'))
    assert tomllib.loads(policy_path.read_text())["calendar"] == "jalali"
    return gregorian, jalali, rewritten


def test_the_jalali_ledger_is_really_jalali(ledgers):
    gregorian, jalali, rewritten = ledgers
    assert rewritten > 10_000
    invoices = pd.read_csv(jalali / "invoices.csv", dtype=str)
    assert invoices["invoice_date"].str.match(r"^[۰-۹٠-٩0-9]{4}[/-]").all()
    assert not invoices["invoice_date"].str.startswith("20").any()
    # A Jalali ledger read as Gregorian is refused, not silently misdated.
    gregorian_policy = load_policy(jalali / "policy.toml").model_copy(update={"calendar": "gregorian"})
    with pytest.raises(InputError) as refused:
        run(jalali, gregorian_policy)
    assert "invoice_date" in str(refused.value)

def test_a_jalali_ledger_gives_the_gregorian_ledgers_findings(ledgers):
    gregorian, jalali, _ = ledgers
    expected = run(gregorian).exceptions
    found = run(jalali).exceptions
    assert len(expected) > 20  # every pattern of the tiny ledger
    assert expected["pattern"].nunique() >= 12
    pd.testing.assert_frame_equal(found[SAME].reset_index(drop=True), expected[SAME].reset_index(drop=True))
