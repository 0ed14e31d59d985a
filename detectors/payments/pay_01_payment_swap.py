"""payment_swap: the customer's cheque or cash swapped for the salesperson's own (lapping, teeming and lading)."""

from __future__ import annotations

import ibis
import pandas as pd

from audit.common import combine_traces, month_of, saturating
from audit.detector import Detector, empty_findings, related_ids
from audit.ledger import confirmation_gaps
from audit.membership import among
from audit.policy import DEFAULTS
from detectors.payments.evidence import (
    OWN_KINDS,
    confirmations_during,
    cross_customer_allocations,
    drawer_identity,
    first_text,
    open_invoices_matching,
)
from detectors.wording import payment_swap

# How much each kind of drawer says about a swap, before the other traces.
DRAWER_WEIGHTS = {"staff_account": 0.75, "staff_name": 0.65, "salesperson_relative": 0.45, "unknown": 0.2,
                  "other_customer": 0.1}


class PaymentSwap(Detector):
    """Receipts where the customer's money was swapped or applied to another customer (lapping).

    What it finds
    -------------
    Receipts showing any of: a cheque drawn by someone other than the customer, especially a
    salesperson or employee (same bank account, or a name that matches by fuzzy comparison) or a
    salesperson's relative (the collector's family name); a customer's receipt dated more than
    ``[cheques] hand_in_days`` working days before the cheque booked against it was received (cash on
    the customer's receipt, booked later as a cheque); money allocated to another customer's invoices
    (not an account of the same owner); a late-posted receipt whose amount is exactly another customer's
    invoice that was still unpaid (that customer's money applied here). Late posting and a balance
    confirmation below the ledger while the money was out add to the score. Each trace adds to one
    score (1 − the product of 1 − each trace); receipts scoring at least ``min_score`` are reported.

    Why it matters
    --------------
    In lapping the salesperson keeps one customer's payment and covers the hole with the next customer's
    money, for months; swapping a customer's cash for a personal post-dated cheque gives the salesperson
    free use of the cash and leaves the company with a cheque that may bounce.

    Flagged
    -------
    The customer's receipt says 12,828,000 paid on 2025-05-10; the receipt was booked on 2025-05-17
    against a cheque received that day and drawn by Forough Hosseini-Pour on an account not on record,
    who shares the family name of the collecting salesperson Raheleh Hosseini-Pour.

    Not flagged
    -----------
    A cheque drawn by Elham Rashidi, the owner on the customer's record, from her personal account (or
    by someone of her family name); a payment of one chain branch applied to another branch of the same
    owner; a third party's cheque passed on by the customer with nothing else unusual (common in
    trade); the customer's own cheque recorded days after its receipt (kept back: CHQ-01's finding).

    Evidence
    --------
    The cheque's drawer and who it matched, the receipt, cheque and posting dates and working days
    between them, the other customers' invoices paid or matched, the confirmations that show the gap,
    and each trace's contribution.
    """

    code = "PAY-01"
    pattern = "payment_swap"
    wording = payment_swap.words
    entity_type = "receipt"
    family = "payments"
    requires = {"receipts": ("receipt_id", "customer_id", "receipt_date", "posted_date", "amount")}
    uses = {
        "receipts": ("method", "collected_by", "cheque_id"),
        "receipt_allocations": ("receipt_id", "invoice_id", "amount"),
        "cheques": ("cheque_id", "cheque_no", "received_date", "drawer_account", "drawer_name", "collected_by"),
        "customers": ("assigned_salesperson_id", "bank_account", "name", "owner_name"),
        "salespeople": ("name", "bank_account"),
        "employees": ("name", "bank_account", "role"),
        "invoices": ("invoice_id", "customer_id", "invoice_date", "salesperson_id"),
        "confirmations": ("customer_id", "as_of_date", "confirmed_balance"),
    }

    def __init__(self, hand_in_days: int = DEFAULTS.cheques.hand_in_days, name_match_score: float = 90.0, amount_tolerance: float = 1.0,
                 min_score: float = 0.5, full_score_excess_days: int = 10):
        self.hand_in_days = hand_in_days
        self.name_match_score = name_match_score
        self.amount_tolerance = amount_tolerance
        self.min_score = min_score
        self.full_score_excess_days = full_score_excess_days

    @classmethod
    def params_from_policy(cls, policy):
        return {"hand_in_days": policy.cheques.hand_in_days}

    # ------------------------------------------------------------ relational part
    def _receipts(self, data) -> ibis.Table:
        """Receipts with their cheque, the days between dates, and whether they may be a candidate."""
        receipts = data.table("receipts").select(
            "receipt_id", "customer_id", "receipt_date", "posted_date", "method", "amount", "collected_by",
            "cheque_id")
        if data.has("cheques"):
            cheques = data.table("cheques").select(
                "cheque_id", "cheque_no", cheque_received="received_date", drawer_account="drawer_account",
                drawer_name="drawer_name", cheque_collector="collected_by")
            receipts = receipts.left_join(cheques, "cheque_id").drop("cheque_id_right")
        else:
            receipts = receipts.mutate(cheque_no=ibis.null("string"), cheque_received=ibis.null("timestamp"),
                                       drawer_account=ibis.null("string"), drawer_name=ibis.null("string"),
                                       cheque_collector=ibis.null("string"))
        if data.has("customers"):
            customers = data.table("customers").select("customer_id", assigned="assigned_salesperson_id",
                                                       customer_account="bank_account")
            receipts = receipts.left_join(customers, "customer_id").drop("customer_id_right")
        else:
            receipts = receipts.mutate(assigned=ibis.null("string"), customer_account=ibis.null("string"))
        late = (receipts.posted_date.date() - receipts.receipt_date.date()).cast("int64")
        before_cheque = (receipts.cheque_received.date() - receipts.receipt_date.date()).cast("int64")
        has_drawer = receipts.drawer_account.notnull() | receipts.drawer_name.notnull()
        foreign_account = receipts.customer_account.isnull() | receipts.drawer_account.isnull() | (
            receipts.drawer_account != receipts.customer_account)
        return receipts.mutate(
            late_days=late, before_cheque_days=before_cheque,
            candidate=(late > self.hand_in_days) | (before_cheque.fill_null(0) > self.hand_in_days)
            | (has_drawer & foreign_account),
        )

    def find(self, data) -> pd.DataFrame:
        table = self._receipts(data)
        crossed = cross_customer_allocations(data, self.name_match_score)
        wanted = table.candidate
        if len(crossed):
            wanted = wanted | among(table.receipt_id, sorted(set(crossed["receipt_id"])))
        base = data.execute(table.filter(wanted).drop("candidate").order_by("receipt_id"))
        self.n_candidates_ = len(base)
        if base.empty:
            return empty_findings()
        base["salesperson_id"] = [first_text(a, b, c) for a, b, c in
                                  zip(base["collected_by"], base["cheque_collector"], base["assigned"], strict=True)]
        calendar = data.calendar
        base["late_working_days"] = calendar.working_days_between(base["receipt_date"], base["posted_date"])
        base["before_cheque_working_days"] = calendar.working_days_between(base["receipt_date"],
                                                                           base["cheque_received"])
        with_cheque = base[base["drawer_account"].notna() | base["drawer_name"].notna()]
        drawers = drawer_identity(data, with_cheque, self.name_match_score).set_index("cheque_id").to_dict("index")
        late = base[base["late_working_days"] > self.hand_in_days]
        matched = open_invoices_matching(data, late, self.amount_tolerance)
        by_receipt_crossed = {k: g for k, g in crossed.groupby("receipt_id")}
        by_receipt_matched = {k: g for k, g in matched.groupby("receipt_id")}
        suspects = []
        for row in base.itertuples():
            drawer = drawers.get(row.cheque_id) if isinstance(row.cheque_id, str) else None
            crossed_here, matched_here = by_receipt_crossed.get(row.receipt_id), by_receipt_matched.get(row.receipt_id)
            traces, related = self._traces(row, drawer, crossed_here, matched_here)
            if set(traces) - {"posted_late"}:
                suspects.append((row, drawer, crossed_here, matched_here, traces, related))
        self.n_suspects_ = len(suspects)
        self.caveats_ = self._caveats(data)
        # Confirmations only add weight, so they are looked up for the suspects alone.
        involved = {row.customer_id for row, *_ in suspects} | set(crossed["invoice_customer"]) | set(
            matched["invoice_customer"])
        gaps = confirmation_gaps(data, sorted(involved))
        findings = [f for f in (self._finding(*suspect, gaps, data) for suspect in suspects) if f is not None]
        self.n_found_ = len(findings)
        return pd.DataFrame(findings) if findings else empty_findings()

    # ------------------------------------------------------------ per-receipt part
    def _traces(self, r, drawer, crossed, matched) -> tuple[dict[str, float], list[tuple[str, list]]]:
        """Each trace the receipt shows (weight) and the records it rests on."""
        traces: dict[str, float] = {}
        related: list[tuple[str, list]] = []
        kind = drawer["drawer_kind"] if drawer is not None else None
        # Without a drawer on record a late-recorded cheque reads as one kept back: CHQ-01 reports it.
        someone_else = kind is not None and kind not in OWN_KINDS
        if kind in DRAWER_WEIGHTS:
            traces["drawer_not_the_customer"] = DRAWER_WEIGHTS[kind]
            if isinstance(drawer["drawer_person"], str):
                related.append((drawer["drawer_person_type"], [drawer["drawer_person"]]))
        before = r.before_cheque_working_days
        if pd.notna(before) and before > self.hand_in_days and someone_else:
            excess = int(before) - self.hand_in_days
            traces["paid_before_the_cheque"] = 0.5 + 0.2 * saturating(excess, self.full_score_excess_days)
        if crossed is not None and len(crossed):
            others = sorted(set(crossed["invoice_customer"]))
            older = crossed[crossed["invoice_date"] <= r.receipt_date]
            traces["paid_another_customers_invoices"] = 0.55 + (0.15 if len(older) else 0.0)
            related += [("invoice", crossed["invoice_id"].tolist()), ("customer", others)]
        if matched is not None and len(matched):
            traces["amount_of_another_customers_open_invoice"] = 0.4
            related += [("invoice", matched["invoice_id"].tolist()), ("customer", matched["invoice_customer"].tolist())]
        late = r.late_working_days
        if pd.notna(late) and late > self.hand_in_days:
            traces["posted_late"] = 0.3 * (0.5 + 0.5 * saturating(int(late) - self.hand_in_days,
                                                                  self.full_score_excess_days))
        return traces, related

    def _finding(self, r, drawer, crossed, matched, traces, related, gaps, data) -> dict | None:
        kind = drawer["drawer_kind"] if drawer is not None else None
        late, before = r.late_working_days, r.before_cheque_working_days
        # The customer paid before the booking; a customer whose invoice this money paid had paid before it
        # too; the customer whose money this is (same amount) is owed a payment from then on.
        confirmations = confirmations_during(gaps, r.customer_id, r.receipt_date, r.posted_date)
        for other in ([] if crossed is None else crossed.itertuples()):
            confirmations += confirmations_during(gaps, other.invoice_customer, other.invoice_date, r.posted_date)
        for other in ([] if matched is None else matched.itertuples()):
            confirmations += confirmations_during(gaps, other.invoice_customer, r.receipt_date, None)
        confirmations = list({(c["customer_id"], c["as_of_date"]): c for c in confirmations}.values())
        if confirmations:
            covered = min(1.0, max(c["gap"] for c in confirmations) / r.amount) if r.amount else 1.0
            traces["confirmation_below_ledger"] = 0.2 * covered
            related.append(("customer", [c["customer_id"] for c in confirmations]))
        score = combine_traces(traces.values())
        if score < self.min_score:
            return None
        evidence = {
            "amount": r.amount, "method": r.method, "receipt_date": r.receipt_date, "posted_date": r.posted_date,
            "late_working_days": None if pd.isna(late) else int(late), "hand_in_days": self.hand_in_days,
            "cheque_id": r.cheque_id, "cheque_received": r.cheque_received,
            "receipt_before_cheque_working_days": None if pd.isna(before) else int(before),
            "drawer_name": r.drawer_name, "drawer_account": r.drawer_account, "drawer_kind": kind,
            "drawer_matched": None if drawer is None else drawer["drawer_person"],
            "other_customers_invoices": [] if crossed is None else crossed[
                ["invoice_id", "invoice_customer", "invoice_date", "amount"]].to_dict(orient="records"),
            "matching_open_invoices": [] if matched is None else matched[
                ["invoice_id", "invoice_customer", "invoice_date", "invoice_amount"]].to_dict(orient="records"),
            "confirmations": confirmations,
            "traces": {k: round(v, 4) for k, v in traces.items()},
        }
        own_invoices = self._own_invoices(data, r.receipt_id)
        return {
            "entity_id": r.receipt_id, "salesperson_id": r.salesperson_id, "customer_id": r.customer_id,
            "period": month_of(r.receipt_date), "score": score, "risk_amount": r.amount,
            "evidence": evidence,
            "facts": {"cheque_no": r.cheque_no if isinstance(r.cheque_no, str) else r.cheque_id,
                      "drawer_words": None if drawer is None else drawer["drawer_words"],
                      "caveats": list(self.caveats_)},
            "related": related_ids(("receipt", [r.receipt_id]), ("cheque", [r.cheque_id]),
                                   ("customer", [r.customer_id]), ("salesperson", [r.salesperson_id]),
                                   ("invoice", own_invoices), *related),
        }

    @staticmethod
    def _caveats(data) -> list[str]:
        caveats = []
        if not data.has("cheques", ("drawer_account", "drawer_name")):
            caveats.append("the cheques' drawers are not available, so swapped cheques cannot be recognised")
        elif not data.has("customers", ("owner_name", "bank_account")):
            caveats.append("the customers' owners or bank accounts are not on record, so an owner's own cheque "
                           "cannot be told apart")
        if not data.has("receipt_allocations"):
            caveats.append("receipt allocations are not available, so money applied to another customer's "
                           "invoices cannot be seen")
        return caveats

    @staticmethod
    def _own_invoices(data, receipt_id: str) -> list[str]:
        if not data.has("receipt_allocations"):
            return []
        allocations = data.frame("receipt_allocations")
        return sorted(allocations.loc[allocations["receipt_id"] == receipt_id, "invoice_id"].tolist())
