"""cheque_maturity_over_policy: post-dated cheques accepted beyond the maximum maturity."""

from __future__ import annotations

import ibis
import pandas as pd

from audit.common import month_of, saturating
from audit.detector import Detector, empty_findings, related_ids
from audit.membership import among
from audit.policy import DEFAULTS
from detectors.wording import cheque_maturity_over_policy


class ChequeMaturityOverPolicy(Detector):
    """Post-dated cheques whose due date is further from receipt than the policy allows.

    What it finds
    -------------
    Cheques whose ``due_date - received_date`` exceeds ``[cheques] max_maturity_days``, unless the
    customer's own credit terms (``customers.payment_terms_days``) allow that long. When receipts and
    allocations link the cheque to invoices, it also notes how far the cheque matures past those
    invoices' due dates (the invoice's terms).

    Why it matters
    --------------
    A salesperson who accepts long post-dated cheques to close a sale extends credit the company never
    granted: the money is at risk for months longer, and a customer in trouble buys time this way.

    Flagged
    -------
    A 76,000,000 cheque received on 2025-04-20 and due on 2025-09-15 (148 days; policy 90) from a
    customer with 60-day terms: flagged, 58 days over policy.

    Not flagged
    -----------
    The same cheque from a customer whose record grants 150-day terms (a longer maturity approved for
    that customer); a cheque due 90 days after receipt.

    Evidence
    --------
    Received and due dates, maturity days, the policy maximum and the customer's terms, days over;
    the invoices the cheque paid and how far past their due dates it matures.
    """

    code = "CHQ-02"
    pattern = "cheque_maturity_over_policy"
    wording = cheque_maturity_over_policy.words
    entity_type = "cheque"
    family = "cheques"
    requires = {
        "cheques": ("cheque_id", "cheque_no", "customer_id", "amount", "due_date", "received_date"),
    }
    uses = {
        "customers": ("payment_terms_days", "assigned_salesperson_id"),
        "cheques": ("collected_by", "status"),
        "receipts": ("receipt_id", "cheque_id"),
        "receipt_allocations": ("receipt_id", "invoice_id", "amount"),
        "invoices": ("invoice_id", "due_date", "salesperson_id"),
    }

    def __init__(self, max_maturity_days: int = DEFAULTS.cheques.max_maturity_days, full_score_excess_days: int = 90):
        self.max_maturity_days = max_maturity_days
        self.full_score_excess_days = full_score_excess_days

    @classmethod
    def params_from_policy(cls, policy):
        return {"max_maturity_days": policy.cheques.max_maturity_days}

    def _over_policy(self, data) -> ibis.Table:
        cheques = data.table("cheques")
        maturity = (cheques.due_date.date() - cheques.received_date.date()).cast("int64")
        table = cheques.mutate(maturity_days=maturity).filter(maturity > self.max_maturity_days)
        if data.has("customers"):
            customers = data.table("customers").select(
                "customer_id", "payment_terms_days", salesperson_of_customer="assigned_salesperson_id")
            table = table.left_join(customers, "customer_id").drop("customer_id_right")
            allowed = ibis.greatest(ibis.literal(self.max_maturity_days),
                                    table.payment_terms_days.fill_null(0).cast("int64"))
            table = table.mutate(allowed_days=allowed).filter(table.maturity_days > allowed)
        else:
            table = table.mutate(payment_terms_days=ibis.null("int64"),
                                 salesperson_of_customer=ibis.null("string"),
                                 allowed_days=ibis.literal(self.max_maturity_days))
        return table

    def _paid_invoices(self, data, cheque_ids: list[str]) -> pd.DataFrame:
        needed = (("receipts", ("receipt_id", "cheque_id")), ("receipt_allocations", ("receipt_id", "invoice_id")),
                  ("invoices", ("invoice_id",)))
        if not cheque_ids or not all(data.has(t, c) for t, c in needed):
            return pd.DataFrame(columns=["cheque_id", "receipt_id", "invoice_id", "invoice_due_date",
                                         "invoice_salesperson"])
        receipts = data.table("receipts")
        receipts = receipts.filter(among(receipts.cheque_id, cheque_ids))
        allocations = data.table("receipt_allocations")
        invoices = data.table("invoices")
        joined = receipts.join(allocations, "receipt_id").join(invoices, "invoice_id")
        return data.execute(joined.select(
            receipts.cheque_id, receipts.receipt_id, allocations.invoice_id, invoice_due_date=invoices.due_date,
            invoice_salesperson=invoices.salesperson_id,
        ).order_by(["cheque_id", "receipt_id", "invoice_id"]))

    def _replacements(self, data, cheque_ids: list[str]) -> dict[str, list[str]]:
        """Cheques that replaced each cheque (after a bounce), followed down the chain."""
        if not data.has("cheques", ("replaces_cheque_id",)):
            return {}
        links = data.frame("cheques")[["cheque_id", "replaces_cheque_id"]].dropna()
        children = {key: sorted(group["cheque_id"]) for key, group in links.groupby("replaces_cheque_id")}
        chains = {}
        for cheque_id in cheque_ids:
            chain, todo = [], list(children.get(cheque_id, []))
            while todo:
                current = todo.pop(0)
                if current not in chain and current != cheque_id:
                    chain.append(current)
                    todo.extend(children.get(current, []))
            if chain:
                chains[cheque_id] = chain
        return chains

    def find(self, data) -> pd.DataFrame:
        over = data.execute(self._over_policy(data).order_by("cheque_id"))
        self.n_over_policy_ = len(over)
        if over.empty:
            return empty_findings()
        # A bounced cheque's replacement carries its debt: its receipt and invoices are this cheque's too.
        replaced_by = self._replacements(data, sorted(over["cheque_id"]))
        chained = {r for chain in replaced_by.values() for r in chain}
        paid = self._paid_invoices(data, sorted(set(over["cheque_id"]) | chained))
        findings = []
        for row in over.itertuples():
            replacements = replaced_by.get(row.cheque_id, [])
            mine = paid[paid["cheque_id"].isin([row.cheque_id, *replacements])]
            findings.append(self._finding(row, mine if len(mine) else None, replacements))
        return pd.DataFrame(findings)

    def _finding(self, cheque, invoices: pd.DataFrame | None, replacements: list[str] | None = None) -> dict:
        excess_days = int(cheque.maturity_days - cheque.allowed_days)
        score = 0.5 + 0.5 * saturating(excess_days, self.full_score_excess_days)
        past_invoice_terms = []
        if invoices is not None and len(invoices):
            late = (pd.Timestamp(cheque.due_date) - invoices["invoice_due_date"]).dt.days
            past_invoice_terms = [(inv, int(d)) for inv, d in zip(invoices["invoice_id"], late, strict=True)
                                  if pd.notna(d) and d > 0]
        if past_invoice_terms:
            score = min(1.0, score + 0.1)
        salesperson = cheque.collected_by if isinstance(cheque.collected_by, str) else None
        if salesperson is None and invoices is not None and len(invoices):
            salesperson = invoices["invoice_salesperson"].dropna().iloc[0] if invoices[
                "invoice_salesperson"].notna().any() else None
        if salesperson is None:
            salesperson = cheque.salesperson_of_customer
        terms = cheque.payment_terms_days
        evidence = {
            "received_date": cheque.received_date, "due_date": cheque.due_date,
            "maturity_days": int(cheque.maturity_days), "max_maturity_days": self.max_maturity_days,
            "customer_terms_days": None if pd.isna(terms) else int(terms), "days_over": excess_days,
            "amount": cheque.amount, "status": cheque.status,
            "invoices_paid": [{"invoice_id": i, "days_past_invoice_due": d} for i, d in past_invoice_terms],
            "traces": {"maturity_over_policy": round(0.5 + 0.5 * saturating(excess_days,
                                                                            self.full_score_excess_days), 4),
                       "beyond_invoice_terms": 0.1 if past_invoice_terms else 0.0},
        }
        invoice_ids = [] if invoices is None else invoices["invoice_id"].unique().tolist()
        receipt_ids = [] if invoices is None else invoices["receipt_id"].unique().tolist()
        replacements = replacements or []
        evidence["replacement_cheques"] = replacements
        return {
            "entity_id": cheque.cheque_id, "salesperson_id": salesperson, "customer_id": cheque.customer_id,
            "period": month_of(cheque.received_date), "score": score, "risk_amount": cheque.amount,
            "evidence": evidence,
            "facts": {"cheque_no": cheque.cheque_no, "allowed_days": int(cheque.allowed_days)},
            "related": related_ids(("cheque", [cheque.cheque_id]), ("customer", [cheque.customer_id]),
                                   ("salesperson", [salesperson]), ("invoice", invoice_ids),
                                   ("cheque", replacements), ("receipt", receipt_ids)),
        }
