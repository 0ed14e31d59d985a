"""cheque_withheld: collected cheques kept by the salesperson instead of being handed in."""

from __future__ import annotations

import ibis
import pandas as pd

from audit.common import combine_traces, month_of, saturating
from audit.detector import Detector, empty_findings, related_ids
from audit.ledger import confirmation_gaps, data_end_date
from audit.membership import among
from audit.policy import DEFAULTS
from detectors.payments.evidence import OWN_KINDS, confirmations_during, drawer_identity, first_text
from detectors.wording import cheque_withheld


class ChequeWithheld(Detector):
    """Cheques a salesperson kept for longer than the policy's hand-in days (or never handed in).

    What it finds
    -------------
    Cheques whose ``handed_in_date`` (else the posting date of their receipt) is more than
    ``[cheques] hand_in_days`` working days after ``received_date``, counting neither the policy's
    weekend nor its holidays; cheques with no hand-in at all that are older than that on the audit's
    end date and not yet seen by the bank (status pending or blank; only when the data records hand-in
    dates). When the customer's own copy of
    the receipt is dated before the recorded ``received_date`` and the cheque is the customer's (own
    account, name or owner), the hold is counted from the receipt's date. A balance confirmation in
    which the customer owes less than the ledger while the cheque was held strengthens the finding.
    Cash kept back is found by CHQ-03.

    Why it matters
    --------------
    A cheque in a salesperson's pocket is money the company does not control: it can be cashed through
    a friend, used to cover another customer's shortfall (lapping) or lost. The customer believes it has
    paid; the books still show the debt.

    Flagged
    -------
    A 46,175,000 cheque received on Tuesday 2025-04-01 and handed in on Thursday 2025-04-10 (weekend
    Saturday and Sunday): 7 working days, 5 more than the 2 allowed; the customer's confirmation at
    2025-04-05 is lower than the ledger by that amount.

    Not flagged
    -----------
    A cheque received on the eve of a public holiday and a weekend and handed in on the second working
    day after them (2 working days, though 5 calendar days passed); a cheque without a hand-in date
    that the bank has already cleared.

    Evidence
    --------
    Received, receipt and hand-in dates, calendar and working days held, the policy limit and the days
    over it, the cheque's drawer, the receipts and invoices it paid, the confirmations that show the
    gap, and each trace's contribution to the score.
    """

    code = "CHQ-01"
    pattern = "cheque_withheld"
    wording = cheque_withheld.words
    entity_type = "cheque"
    family = "cheques"
    requires = {"cheques": ("cheque_id", "customer_id", "amount", "received_date")}
    uses = {
        "cheques": ("cheque_no", "handed_in_date", "collected_by", "status", "drawer_account", "drawer_name",
                    "replaces_cheque_id"),
        "receipts": ("receipt_id", "cheque_id", "receipt_date", "posted_date", "collected_by"),
        "receipt_allocations": ("receipt_id", "invoice_id"),
        "customers": ("assigned_salesperson_id", "bank_account", "name", "owner_name"),
        "salespeople": ("name", "bank_account"),
        "employees": ("name", "bank_account"),
        "confirmations": ("customer_id", "as_of_date", "confirmed_balance"),
    }

    def __init__(self, hand_in_days: int = DEFAULTS.cheques.hand_in_days, full_score_excess_days: int = 10, name_match_score: float = 90.0,
                 confirmation_weight: float = 0.4):
        self.hand_in_days = hand_in_days
        self.full_score_excess_days = full_score_excess_days
        self.name_match_score = name_match_score
        self.confirmation_weight = confirmation_weight

    @classmethod
    def params_from_policy(cls, policy):
        return {"hand_in_days": policy.cheques.hand_in_days}

    # ------------------------------------------------------------ relational part
    def _candidates(self, data, end: pd.Timestamp) -> ibis.Table:
        """Cheques held more calendar days than the working-day limit (a necessary condition)."""
        cheques = data.table("cheques").select(
            "cheque_id", "cheque_no", "customer_id", "amount", "due_date", "received_date", "handed_in_date",
            "collected_by", "status", "drawer_account", "drawer_name")
        if data.has("receipts", ("cheque_id",)):
            receipts = data.table("receipts")
            receipts = receipts.filter(receipts.cheque_id.notnull())
            per_cheque = receipts.group_by("cheque_id").aggregate(
                receipt_date=receipts.receipt_date.min(), posted_date=receipts.posted_date.max(),
                receipt_collector=receipts.collected_by.max())
            cheques = cheques.left_join(per_cheque, "cheque_id").drop("cheque_id_right")
        else:
            cheques = cheques.mutate(receipt_date=ibis.null("timestamp"), posted_date=ibis.null("timestamp"),
                                     receipt_collector=ibis.null("string"))
        if data.has("customers"):
            customers = data.table("customers").select("customer_id", assigned="assigned_salesperson_id")
            cheques = cheques.left_join(customers, "customer_id").drop("customer_id_right")
        else:
            cheques = cheques.mutate(assigned=ibis.null("string"))
        handed = ibis.coalesce(cheques.handed_in_date, cheques.posted_date)
        start = ibis.least(cheques.received_date, ibis.coalesce(cheques.receipt_date, cheques.received_date))
        until = ibis.coalesce(handed.date(), ibis.literal(end.date()))
        held = (until - start.date()).cast("int64")
        return cheques.mutate(handed=handed).filter(held > self.hand_in_days)

    # ------------------------------------------------------------ per-cheque part
    def find(self, data) -> pd.DataFrame:
        end = data_end_date(data)
        cheques = data.execute(self._candidates(data, end).order_by("cheque_id"))
        self.n_candidates_ = len(cheques)
        if cheques.empty:
            return empty_findings()
        cheques["salesperson_id"] = [first_text(a, b, c) for a, b, c in
                                     zip(cheques["collected_by"], cheques["receipt_collector"], cheques["assigned"],
                                         strict=True)]
        never = cheques["handed"].isna()
        seen_by_bank = cheques["status"].notna() & (cheques["status"] != "pending")
        # "Never handed in" needs hand-in dates to be recorded at all.
        unknowable = never & (not data.has("cheques", ("handed_in_date",)))
        cheques = cheques[~(never & seen_by_bank) & ~unknowable].reset_index(drop=True)
        if cheques.empty:
            return empty_findings()
        # The customer's copy of the receipt counts only when the cheque is the customer's own.
        earlier_receipt = cheques["receipt_date"].notna() & (cheques["receipt_date"] < cheques["received_date"])
        drawers = drawer_identity(data, cheques[earlier_receipt], self.name_match_score)
        own = set(drawers.loc[drawers["drawer_kind"].isin(OWN_KINDS), "cheque_id"])
        cheques["from_receipt"] = earlier_receipt & cheques["cheque_id"].isin(own)
        cheques["start"] = cheques["received_date"].where(~cheques["from_receipt"], cheques["receipt_date"])
        cheques["until"] = cheques["handed"].fillna(end)
        cheques["working_days"] = data.calendar.working_days_between(cheques["start"], cheques["until"])
        cheques = cheques[cheques["working_days"] > self.hand_in_days].reset_index(drop=True)
        self.n_held_ = len(cheques)
        if cheques.empty:
            return empty_findings()
        gaps = confirmation_gaps(data, cheques["customer_id"].unique())
        links = self._links(data, cheques["cheque_id"].tolist())
        return pd.DataFrame([self._finding(row, gaps, links) for row in cheques.itertuples()])

    def _links(self, data, cheque_ids: list[str]) -> dict[str, dict[str, list[str]]]:
        """Receipts, invoices and replacement cheques of each cheque."""
        links: dict[str, dict[str, list[str]]] = {c: {"receipt": [], "invoice": [], "cheque": []} for c in cheque_ids}
        if data.has("receipts", ("cheque_id",)):
            receipts = data.table("receipts")
            receipts = receipts.filter(among(receipts.cheque_id, cheque_ids)).select("receipt_id", "cheque_id")
            if data.has("receipt_allocations"):
                allocations = data.table("receipt_allocations").select("receipt_id", "invoice_id")
                receipts = receipts.left_join(allocations, "receipt_id").drop("receipt_id_right")
            else:
                receipts = receipts.mutate(invoice_id=ibis.null("string"))
            for row in data.execute(receipts.order_by(["cheque_id", "receipt_id", "invoice_id"])).itertuples():
                links[row.cheque_id]["receipt"].append(row.receipt_id)
                if isinstance(row.invoice_id, str):
                    links[row.cheque_id]["invoice"].append(row.invoice_id)
        if data.has("cheques", ("replaces_cheque_id",)):
            cheques = data.table("cheques")
            replacements = data.execute(cheques.filter(among(cheques.replaces_cheque_id, cheque_ids)).select(
                "cheque_id", "replaces_cheque_id").order_by("cheque_id"))
            for row in replacements.itertuples():
                links[row.replaces_cheque_id]["cheque"].append(row.cheque_id)
        return links

    def _finding(self, cheque, gaps: pd.DataFrame, links: dict) -> dict:
        held, excess = int(cheque.working_days), int(cheque.working_days) - self.hand_in_days
        calendar_days = int((cheque.until - cheque.start).days)
        never = pd.isna(cheque.handed)
        hold_trace = 0.5 + 0.4 * saturating(excess, self.full_score_excess_days)
        confirmations = confirmations_during(gaps, cheque.customer_id, cheque.start,
                                             None if never else cheque.handed)
        confirmation_trace = 0.0
        if confirmations:
            covered = min(1.0, max(c["gap"] for c in confirmations) / cheque.amount) if cheque.amount else 1.0
            confirmation_trace = self.confirmation_weight * covered
        score = combine_traces([hold_trace, confirmation_trace])
        salesperson = cheque.salesperson_id
        mine = links.get(cheque.cheque_id, {"receipt": [], "invoice": [], "cheque": []})
        evidence = {
            "amount": cheque.amount, "received_date": cheque.received_date, "receipt_date": cheque.receipt_date,
            "held_from": cheque.start, "handed_in_date": cheque.handed_in_date, "posted_date": cheque.posted_date,
            "held_until": cheque.until, "never_handed_in": bool(never), "calendar_days": calendar_days,
            "working_days": held, "hand_in_days": self.hand_in_days, "working_days_over": excess,
            "status": cheque.status, "drawer_name": cheque.drawer_name, "drawer_account": cheque.drawer_account,
            "confirmations": confirmations, "receipts": mine["receipt"], "invoices": mine["invoice"],
            "replacement_cheques": mine["cheque"],
            "traces": {"held_beyond_hand_in_days": round(hold_trace, 4),
                       "confirmation_below_ledger": round(confirmation_trace, 4)},
        }
        return {
            "entity_id": cheque.cheque_id, "salesperson_id": salesperson, "customer_id": cheque.customer_id,
            "period": month_of(cheque.start), "score": score, "risk_amount": cheque.amount,
            "evidence": evidence,
            "facts": {"cheque_no": cheque.cheque_no if isinstance(cheque.cheque_no, str) else cheque.cheque_id,
                      "from_receipt": bool(cheque.from_receipt), "hand_in_recorded": pd.notna(cheque.handed_in_date)},
            "related": related_ids(("cheque", [cheque.cheque_id]), ("receipt", mine["receipt"]),
                                   ("cheque", mine["cheque"]), ("customer", [cheque.customer_id]),
                                   ("salesperson", [salesperson]), ("invoice", mine["invoice"])),
        }
