"""Distress or collusion: distressed customers gathering in one salesperson's portfolio, or still supplied."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import binom

from analyses.distress.history import stop_supply_days
from analyses.receivables.open_items import load_ledger, texts_as_objects
from audit.common import combine_traces, saturating
from audit.detector import Detector, empty_findings, related_ids
from audit.membership import isin
from detectors.distress.dst_01_customer_distress import CustomerDistress
from detectors.wording import portfolio_distress


class DistressOrCollusion(Detector):
    """Salespeople whose portfolio gathers distressed customers, or who keep selling to them past the limits.

    What it finds
    -------------
    A reading of the customer distress findings (DST-01, which the runner runs first). Per salesperson (the customers' assigned salesperson): (1) *cluster*: how many of their
    customers reached the alert level, against the company-wide share; the chance of that many or more
    under the company's rate (binomial tail) below ``cluster_p``, with at least ``min_cluster``
    customers; (2) *continued supply*: invoices the salesperson issued to a customer that later reached
    the alert level, dated when that customer's balance (with the invoice) was above its credit limit, or
    when it had an invoice more than the collections ladder's stop-supply days overdue; reported from
    ``min_supply_invoices`` such invoices. Continued supply alone scores at most 0.7 (a sale against
    policy); a cluster can carry the score to 1.

    Why it matters
    --------------
    Customers fail one by one for their own reasons. When failures gather around one salesperson, or a
    salesperson keeps shipping on credit to a customer that has stopped paying, either the salesperson
    is chasing volume with customers who will not pay, or is colluding with them (goods sold to accounts
    that were never going to pay, or to accomplices). Either way the credit decisions of that portfolio
    need review.

    Flagged
    -------
    Salesperson S0017 with 64 customers, 5 of them at the alert level when the company-wide share is
    1.6 % (1.0 expected; chance of 5 or more 0.4 %), who also invoiced 3 orders worth 2,400,000,000 to
    one of them after its balance passed its 1,500,000,000 credit limit.

    Not flagged
    -----------
    A salesperson with one distressed customer in a portfolio of sixty, invoiced within its credit limit
    and before anything was overdue beyond the stop-supply step: one failure is not a pattern, and the
    sales were within policy.

    Evidence
    --------
    Portfolio size, distressed customers (id, best score, first alert month, exposure), the company-wide
    share, expected count and binomial tail probability; the invoices past the limit or the stop-supply
    step (id, date, amount, balance before, limit, oldest overdue days); each trace's contribution.
    """

    code = "DST-02"
    reads_analyses = ("RCV-00",)
    reads_findings = ("DST-01",)
    reads_only_findings = True  # a reading of DST-01's customers alone
    pattern = "portfolio_distress"
    wording = portfolio_distress.words
    entity_type = "salesperson"
    family = "distress"
    # Its money at risk is the distressed customers' exposure, which their own DST-01 findings already
    # rank; this finding points at the portfolio, so it counts a tenth (like the roll-up SPR-01).
    rank_weight = 0.1
    requires = {"customers": ("customer_id", "assigned_salesperson_id")}
    uses = {**CustomerDistress.uses, "salespeople": ("salesperson_id", "name", "region")}

    def __init__(self, alert_level: float = 0.5, cluster_p: float = 0.01, min_cluster: int = 2,
                 grace_days: int = 30, min_supply_invoices: int = 3, full_supply_share: float = 1.0):
        self.alert_level = alert_level
        self.cluster_p = cluster_p
        self.min_cluster = min_cluster
        self.grace_days = grace_days
        self.min_supply_invoices = min_supply_invoices
        self.full_supply_share = full_supply_share

    @classmethod
    def params_from_policy(cls, policy):
        return {"grace_days": stop_supply_days(policy)}

    # ------------------------------------------------------------ the distress findings
    def _distressed(self, data) -> pd.DataFrame:
        """customer_id, best score, first alert period, latest exposure of customers at the alert level."""
        findings = data.findings
        if len(findings):
            findings = findings[findings["detector"] == CustomerDistress.code]
        if findings.empty:
            return pd.DataFrame(columns=["customer_id", "score", "first_alert", "exposure"])
        # DST-01's finding score is a probability of default; the alert level is on its distress score
        distress_score = pd.Series([e.get("score") if isinstance(e, dict) else None for e in findings["evidence"]],
                                   index=findings.index, dtype="float64").fillna(findings["score"])
        findings = findings.assign(score=distress_score)
        alerted = findings[findings["score"] >= self.alert_level]
        if alerted.empty:
            return pd.DataFrame(columns=["customer_id", "score", "first_alert", "exposure"])
        ordered = alerted.sort_values(["entity_id", "period"], kind="mergesort")
        grouped = ordered.groupby("entity_id")
        return pd.DataFrame({"score": grouped["score"].max(), "first_alert": grouped["period"].min(),
                             "exposure": grouped["risk_amount"].last()}).rename_axis("customer_id").reset_index()

    def _supplied_past_limits(self, data, distressed: pd.DataFrame) -> pd.DataFrame:
        """Invoices to distressed customers issued over the credit limit or after the stop-supply step."""
        columns = ["invoice_id", "invoice_no", "customer_id", "salesperson_id", "invoice_date", "amount",
                   "balance_before", "credit_limit", "oldest_overdue_days", "over_limit", "after_stop"]
        ledger = load_ledger(data)
        ids = set(distressed["customer_id"])
        invoices = ledger.invoices[isin(ledger.invoices["customer_id"], ids)].sort_values(
            ["customer_id", "invoice_date", "invoice_id"], kind="mergesort")
        if invoices.empty:
            return pd.DataFrame(columns=columns)
        invoices = invoices.assign(invoice_no=texts_as_objects(invoices["invoice_no"]))  # the ledger keeps them compact
        limits = ledger.customers.set_index("customer_id")["credit_limit"] if len(ledger.customers) else pd.Series(
            dtype="float64")
        settlements = ledger.settlements[isin(ledger.settlements["invoice_id"], set(invoices["invoice_id"]))]
        settled_amount = settlements["paid"] + settlements["cash_discount"] + settlements["credited"]
        settlements = settlements.assign(settled=settled_amount)
        by_invoice = {key: (group["date"].to_numpy(dtype="datetime64[ns]"), group["settled"].to_numpy())
                      for key, group in settlements.sort_values("date", kind="mergesort").groupby("invoice_id")}
        credits = ledger.loose_credits
        rows = []
        for customer_id, own in invoices.groupby("customer_id", sort=True):
            dates = own["invoice_date"].to_numpy(dtype="datetime64[ns]")
            dues = own["due_date"].to_numpy(dtype="datetime64[ns]")
            amounts = own["amount"].to_numpy(dtype=float)
            # open[j, i]: what invoice j still owed on invoice i's date (only earlier invoices count)
            open_on = np.zeros((len(own), len(own)))
            for j, invoice_id in enumerate(own["invoice_id"]):
                paid_dates, paid = by_invoice.get(invoice_id, (np.array([], dtype="datetime64[ns]"), np.array([])))
                done = np.concatenate([[0.0], np.cumsum(paid)])[np.searchsorted(paid_dates, dates, side="right")]
                open_on[j] = amounts[j] - done
            earlier = np.triu(np.ones((len(own), len(own)), dtype=bool), k=1)   # [j, i]: j before i (date order)
            open_on = np.where(earlier, open_on, 0.0)
            loose = credits[credits["customer_id"] == customer_id].sort_values("date", kind="mergesort")
            loose_dates = loose["date"].to_numpy(dtype="datetime64[ns]")
            loose_done = np.concatenate([[0.0], np.cumsum(loose["amount"].to_numpy(dtype=float))])[
                np.searchsorted(loose_dates, dates, side="right")]
            balance = open_on.sum(axis=0) - loose_done
            late = (dates[None, :] - dues[:, None]) / np.timedelta64(1, "D")
            overdue = np.where((open_on > 0.005) & (late > 0), late, 0.0)
            oldest = overdue.max(axis=0) if len(own) else np.array([])
            limit = float(limits.get(customer_id, np.nan))
            over = (balance + amounts > limit) if np.isfinite(limit) and limit > 0 else np.zeros(len(own), bool)
            after_stop = oldest > self.grace_days
            for position in np.flatnonzero(over | after_stop):
                invoice = own.iloc[position]
                rows.append({"invoice_id": invoice["invoice_id"], "invoice_no": invoice["invoice_no"],
                             "customer_id": customer_id, "salesperson_id": invoice["salesperson_id"],
                             "invoice_date": invoice["invoice_date"], "amount": float(amounts[position]),
                             "balance_before": float(balance[position]), "credit_limit": limit,
                             "oldest_overdue_days": float(oldest[position]), "over_limit": bool(over[position]),
                             "after_stop": bool(after_stop[position])})
        return pd.DataFrame(rows, columns=columns)

    def find(self, data) -> pd.DataFrame:
        distressed = self._distressed(data)
        self.n_distressed_ = len(distressed)
        if distressed.empty:
            return empty_findings()
        customers = data.frame_columns("customers", ["customer_id", "assigned_salesperson_id"])
        portfolio = pd.DataFrame({"customer_id": customers["customer_id"].astype("object"),
                                  "salesperson_id": customers["assigned_salesperson_id"].astype("object")})
        portfolio = portfolio.dropna().drop_duplicates("customer_id")
        if portfolio.empty:
            return empty_findings()
        distressed = distressed.merge(portfolio, on="customer_id", how="left")
        rate = len(distressed) / len(portfolio)
        sizes = portfolio.groupby("salesperson_id").size()
        counts = distressed.dropna(subset=["salesperson_id"]).groupby("salesperson_id").size().reindex(
            sizes.index).fillna(0).astype(int)
        tail = pd.Series(binom.sf(counts.to_numpy() - 1, sizes.to_numpy(), rate), index=sizes.index)
        clustered = set(tail[(tail < self.cluster_p) & (counts >= self.min_cluster)].index)
        supplied = self._supplied_past_limits(data, distressed)
        per_salesperson = supplied.groupby("salesperson_id").size()
        suppliers = set(per_salesperson[per_salesperson >= self.min_supply_invoices].index)
        people = data.frame("salespeople").set_index("salesperson_id") if data.has(
            "salespeople", ("salesperson_id",)) else pd.DataFrame()
        findings = []
        for salesperson in sorted(clustered | suppliers):
            findings.append(self._finding(
                salesperson, distressed[distressed["salesperson_id"] == salesperson],
                supplied[supplied["salesperson_id"] == salesperson], int(sizes.get(salesperson, 0)), rate,
                float(tail.get(salesperson, 1.0)), salesperson in clustered, people, data))
        self.n_clustered_, self.n_suppliers_ = len(clustered), len(suppliers)
        return pd.DataFrame(findings) if findings else empty_findings()

    def _finding(self, salesperson, mine: pd.DataFrame, supplied: pd.DataFrame, size: int, rate: float,
                 tail: float, clustered: bool, people: pd.DataFrame, data) -> dict:
        count = len(mine)
        expected = rate * size
        cluster_trace = saturating(-np.log10(max(tail, 1e-12)) - 1.0, 2.0) if clustered else 0.0
        supply_trace = 0.0
        if len(supplied):
            limits = supplied.groupby("customer_id")["credit_limit"].first().fillna(0.0).sum()
            past = float(supplied["amount"].sum())
            share = past / limits if limits > 0 else 1.0
            # a sale against the policy, not yet proof of collusion: at most 0.7 on its own
            supply_trace = 0.3 + 0.4 * saturating(share, self.full_supply_share)
        score = combine_traces([cluster_trace, supply_trace])
        name = people.at[salesperson, "name"] if len(people) and salesperson in people.index else None
        involved = sorted(set(mine["customer_id"]) | set(supplied["customer_id"]))
        exposure = float(mine.set_index("customer_id")["exposure"].reindex(involved).fillna(0.0).sum())
        listed = mine.sort_values(["exposure", "customer_id"], ascending=[False, True])
        supplied_by_customer = [{
            "customer_id": customer_id, "invoices": len(rows), "amount": float(rows["amount"].sum()),
            "first_date": rows["invoice_date"].min(), "last_date": rows["invoice_date"].max(),
            "over_limit": bool(rows["over_limit"].any()), "credit_limit": rows["credit_limit"].iloc[0],
            "after_stop": bool(rows["after_stop"].any()),
            "oldest_overdue_days": float(rows["oldest_overdue_days"].max())}
            for customer_id, rows in supplied.groupby("customer_id")]
        facts = {"salesperson_name": name if isinstance(name, str) else None, "grace_days": self.grace_days,
                 "supplied_by_customer": supplied_by_customer}
        periods = [p for p in list(mine["first_alert"]) if isinstance(p, str)]
        if len(supplied):
            periods.append(pd.Timestamp(supplied["invoice_date"].max()).strftime("%Y-%m"))
        period = data.period if data.period else (max(periods) if periods else None)
        evidence = {
            "portfolio_customers": size, "distressed_customers": count, "company_rate": rate,
            "expected": expected, "binomial_tail_p": tail, "clustered": clustered,
            "customers": [{"customer_id": r.customer_id, "best_score": r.score, "first_alert": r.first_alert,
                           "exposure": r.exposure} for r in listed.itertuples()],
            "invoices_past_limits": [{
                "invoice_id": r.invoice_id, "invoice_no": r.invoice_no, "customer_id": r.customer_id,
                "invoice_date": r.invoice_date, "amount": r.amount, "balance_before": r.balance_before,
                "credit_limit": r.credit_limit, "oldest_overdue_days": r.oldest_overdue_days,
                "over_limit": r.over_limit, "after_stop_supply": r.after_stop} for r in supplied.itertuples()],
            "traces": {"cluster": round(cluster_trace, 4), "continued_supply": round(supply_trace, 4)},
        }
        return {
            "entity_id": salesperson, "salesperson_id": salesperson, "customer_id": None, "period": period,
            "score": score, "risk_amount": exposure, "evidence": evidence, "facts": facts,
            "related": related_ids(("salesperson", [salesperson]), ("customer", involved),
                                   ("invoice", list(supplied["invoice_id"]))),
        }
