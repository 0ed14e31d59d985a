"""The first screen's figures on constructed findings: the headline counts each record once, and the
worklist lists the findings to act on first, one line each."""

from __future__ import annotations

import pandas as pd
import pytest

from audit.ranking import typed_exceptions
from audit.result import RunResult
from reports import summaries

COLUMNS = ["exception_id", "rank", "detector", "pattern", "risk_amount", "entity_type", "entity_id",
           "salesperson_id", "customer_id", "title", "check_next", "status"]


def _findings(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame = frame.assign(run_id="r1", score=0.9, period="2025-04", explanation="", evidence=[{} for _ in rows],
                         related=[[] for _ in rows])
    return typed_exceptions(frame)


class _Tables:
    def __init__(self, frames):
        self.frames = frames


FINDINGS = _findings([
    # a salesperson's fraud findings and their roll-up (SPR-01), which adds them up again
    ("E1", 1, "INV-01", "added_invoice_items", 1_000.0, "invoice", "I1", "S1", "C1", "Items added to I1",
     "Pull the delivery note of I1 and ask C1 what it received.", "new"),
    ("E2", 2, "DSC-01", "unauthorized_discount", 500.0, "invoice", "I2", "S1", "C2", "Discount on I2", None, "new"),
    ("E3", 3, "SPR-01", "salesperson_anomaly", 1_500.0, "salesperson", "S1", "S1", None, "S1 rolls up", None,
     "new"),
    # one customer's distress episode: the early warning and the alert count once, at the larger
    ("E4", 4, "DST-01", "customer_distress", 8_000.0, "customer", "C3", "S2", "C3", "C3 alert", None, "new"),
    ("E5", 5, "DST-01", "customer_distress", 6_000.0, "customer", "C3", "S2", "C3", "C3 early warning", None,
     "repeat"),
    # another customer's single warning counts on its own
    ("E6", 6, "DST-01", "customer_distress", 2_000.0, "customer", "C4", "S2", "C4", "C4 early warning", None,
     "new"),
    # the portfolio finding (DST-02) is a roll-up too
    ("E7", 7, "DST-02", "customer_distress", 10_000.0, "salesperson", "S2", "S2", None, "S2 portfolio", None,
     "new"),
    # reviewed and accepted: not at risk and not on the worklist
    ("E8", 8, "PRC-01", "price_deviation", 99_999.0, "invoice", "I9", "S3", "C5", "Price on I9", None,
     "suppressed"),
])


@pytest.fixture()
def result() -> RunResult:
    frames = {"salespeople": pd.DataFrame({"salesperson_id": ["S1", "S2"], "name": ["Sara Ahmadi", "Reza Karimi"],
                                           "region": ["north", "south"]}),
              "customers": pd.DataFrame({"customer_id": ["C1", "C3"], "name": ["Kian Market", "Rose Shop"]})}
    return RunResult(run_id="r1", exceptions=FINDINGS, data_quality=pd.DataFrame(),
                     detector_runs=pd.DataFrame(), manifest={}, policy=None, tables=_Tables(frames))


def test_headline_counts_each_record_once():
    headline = summaries.headline(FINDINGS)
    # E1 + E2, the larger of C3's two distress findings, C4's warning; not the roll-ups, not the suppressed
    assert headline.money_at_risk == pytest.approx(1_000 + 500 + 8_000 + 2_000)
    assert headline.rollups == pytest.approx(1_500 + 10_000) and headline.rollup_findings == 2
    assert headline.episode_repeats == pytest.approx(6_000)
    assert headline.findings_counted == 4
    # the plain sum the tables by pattern add up counts E3, E5 and E7 again
    assert summaries.money_at_risk(_Result(FINDINGS)) == pytest.approx(1_000 + 500 + 1_500 + 8_000 + 6_000
                                                                       + 2_000 + 10_000)


def test_headline_of_no_findings_is_zero():
    assert summaries.headline(FINDINGS.iloc[:0]) == summaries.Headline(0.0, 0.0, 0, 0.0, 0)


def test_worklist_is_the_ranked_findings_to_act_on_one_line_each(result):
    work = summaries.worklist(result)
    # E5 is the second stage of C3's episode (listed once, at its highest-ranked finding); E8 is suppressed
    assert work["exception_id"].tolist() == ["E1", "E2", "E3", "E4", "E6", "E7"]
    first = work.iloc[0]
    assert (first["salesperson"], first["customer"], first["what"]) == ("Sara Ahmadi", "Kian Market",
                                                                         "Items added to invoices")
    assert first["risk_amount"] == 1_000.0
    # the finding's check_next sentence (written by its pattern's wording), else its title
    assert first["check_next"] == "Pull the delivery note of I1 and ask C1 what it received."
    assert work.set_index("exception_id").loc["E2", "check_next"] == "Discount on I2"
    assert work.set_index("exception_id")["rollup"].to_dict() == {"E1": False, "E2": False, "E3": True,
                                                                   "E4": False, "E6": False, "E7": True}
    # an id without a name in the ledger shows no name, never "nan"
    assert work.set_index("exception_id").loc["E6", "customer"] == ""
    assert summaries.worklist(result, size=2)["exception_id"].tolist() == ["E1", "E2"]


def test_check_next_falls_back_to_the_title_for_runs_written_before_the_column():
    assert summaries.check_next("Ask the cashier.", "title") == "Ask the cashier."
    assert summaries.check_next(float("nan"), "the title") == "the title"
    assert summaries.check_next(" ", "the title") == "the title"
    assert summaries.check_next(None, None) == ""


def test_the_worklist_of_a_run_without_the_check_next_column_shows_titles(result):
    old = typed_exceptions(FINDINGS.drop(columns="check_next"))  # as load_run reads an older run
    older = RunResult(run_id="r0", exceptions=old, data_quality=pd.DataFrame(), detector_runs=pd.DataFrame(),
                      manifest={}, policy=None, tables=result.tables)
    assert summaries.worklist(older)["check_next"].tolist()[:2] == ["Items added to I1", "Discount on I2"]


class _Result:
    def __init__(self, exceptions):
        self.exceptions = exceptions
