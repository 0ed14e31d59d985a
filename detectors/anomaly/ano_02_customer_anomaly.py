"""customer_anomaly (ANO-02): a customer-month whose buying and paying is unlike every other's."""

from __future__ import annotations

import pandas as pd

from audit.detector import related_ids
from detectors.anomaly.base import DEFAULT_TIERS, BehaviourAnomaly
from detectors.anomaly.features import CUSTOMER_FEATURES, monthly_features, period_of
from detectors.anomaly.records import (
    FEATURE_RECORDS,
    month_records,
    names_of,
    pair_records,
    records_by_pair,
    related_for,
)
from detectors.wording import customer_anomaly


class CustomerBehaviourAnomaly(BehaviourAnomaly):
    """A customer-month whose purchases, discounts, payments or cheques stand out from all others.

    What it finds
    -------------
    One row per customer and month with posted purchases, described by: the month's purchases against
    the customer's own median of the six months before (months with purchases, at least three; either
    way: a sudden big order and a sudden stop both count), discount rate, mean price deviation from the
    valid list price, payment lateness (days past due of what was paid that month, amount-weighted),
    credit notes as a share of purchases, mean cheque maturity, the number of salespeople invoicing it,
    and the cash share of its payments. Missing tables or columns leave their features empty. The anomaly
    ensemble (``audit.methods.anomaly``, seeded by ``random_state``, median of the member ranks) is fitted on
    every customer-month; those in the top ``contamination`` share with a score of at least
    ``min_score`` and at least one feature in its population's outer 1 % (or as rare as a small
    population can show) are reported, at most ``max_findings``. Discount earned by the policy's volume
    tiers or signed by an approver is not counted; cheque maturity counts the days beyond the customer's
    own payment terms. Below ``min_rows`` customer-months nothing is reported (``not_enough_data_`` says
    why).

    Why it matters
    --------------
    The source's signs before a customer collapses — abnormal purchasing, late payments that get later,
    a switch to long post-dated cheques — and a salesperson's favours to one customer (deep discounts,
    returns, several salespeople billing one account) show as a month unlike the customer's own past and
    unlike the other customers. The finding points the auditor at the account and the month to look at.

    Flagged
    -------
    Customer C000412 in 2025-08: cheque maturity beyond its payment terms 118 days against a typical 0
    (top 0.1 % of customer-months), sales against its own 6-month median 6.3 × the usual against a
    typical 1.1 × (top 0.2 %), payment lateness 41 days against a typical 0 (top 1 %). None of these
    is money the company gives up, so no money is put on it; it is listed after the findings with money,
    by score. Customer C000143 in 2025-09 with 18.7 % of its purchases credited back against a typical
    0 %: money at risk 92,180,000, weighted 0.001 in the ranking.

    Not flagged
    -----------
    A growing customer whose purchases rise month by month and who keeps paying on time (its own median
    rises with it and nothing else stands out); a wholesaler that always buys in bulk (its own median is
    large); a customer that pays early or takes no discount (the harmless side is not scored); a month
    unusual only as a combination of ordinary values.

    Evidence
    --------
    The anomaly score and cut-off, the population size, the three drivers (feature, value, typical
    value = population median, percentile, contribution = -log10 of the two-sided tail probability,
    money), every feature's value, the customer's usual monthly purchases, and each ensemble member's
    normalised rank in ``traces``. Money at risk: for each driver that is money the company gives up
    (unapproved discount, price deviation, credit notes), its excess over the typical share times that
    money, at most the month's purchases; purchases beyond the customer's own median (volume), days and
    counts carry none. ``rank_weight`` 0.001 (docs/anomaly.md): a lead, listed after the specific findings.
    """

    code = "ANO-02"
    pattern = "customer_anomaly"
    wording = customer_anomaly.words
    entity_type = "customer"
    family = "anomaly"
    rank_weight = 0.001
    requires = {
        "invoices": ("invoice_id", "invoice_date", "customer_id", "salesperson_id"),
        "invoice_lines": ("invoice_id", "line_no", "product_id", "quantity", "unit_price"),
    }
    uses = {
        "invoices": ("status", "due_date"),
        "invoice_lines": ("discount_pct", "list_price"),
        "price_list": ("product_id", "valid_from", "valid_to", "unit_price", "customer_class"),
        "products": ("list_price",),
        "customers": ("name", "customer_class"),
        "credit_notes": ("credit_date", "amount"),
        "cheques": ("amount", "received_date", "due_date"),
        "receipts": ("receipt_date", "method", "amount"),
        "receipt_allocations": ("receipt_id", "invoice_id", "amount"),
    }
    features = CUSTOMER_FEATURES
    population_words = "customer-months"
    cap_words = "month's purchases"

    def __init__(self, contamination: float = 0.01, min_score: float = 0.9, min_rows: int = 30,
                 max_findings: int = 25, min_surprise: float = 2.0, random_state: int = 0,
                 volume_tiers: tuple = DEFAULT_TIERS, combine: str = "median_rank"):
        super().__init__(contamination=contamination, min_score=min_score, min_rows=min_rows,
                         max_findings=max_findings, min_surprise=min_surprise, random_state=random_state,
                         volume_tiers=volume_tiers, combine=combine)

    def _population(self, data) -> pd.DataFrame:
        return monthly_features(data, "customer_id", volume_tiers=self.volume_tiers)

    def _findings(self, data, flagged: pd.DataFrame) -> list[dict]:
        kinds = {FEATURE_RECORDS.get(d["feature"], ("invoice", ""))[0]
                 for a in flagged["_anomaly"] for d in a["_drivers"]} | {"invoice"}
        records = month_records(data, "customer_id", flagged[["key", "ym"]], kinds, self.volume_tiers)
        names = names_of(data, "customers", "customer_id", flagged["key"])
        by_pair = records_by_pair(records)
        found = []
        periods = period_of(flagged["ym"])  # once for all the findings
        for index, row in flagged.iterrows():
            anomaly = row["_anomaly"]
            drivers = anomaly["_drivers"]
            risk = self.risk_amount(row, drivers)
            period = periods[index]
            customer = row["key"]
            name = names.get(customer)
            mine = pair_records(records, by_pair, customer, row["ym"])
            mine = mine[(mine["kind"] == "invoice") & (mine["measure"] == "net")]
            sellers = mine["salesperson_id"].dropna().drop_duplicates().tolist()
            usual = row.get("usual_sales")
            evidence = self.evidence(row, anomaly, risk)
            evidence["usual_monthly_purchases"] = None if pd.isna(usual) else float(usual)
            evidence["salespeople"] = sellers
            found.append({
                "entity_id": customer, "salesperson_id": sellers[0] if len(sellers) == 1 else None,
                "customer_id": customer, "period": period, "score": anomaly["_score"], "risk_amount": risk,
                "evidence": evidence,
                "facts": self.facts(anomaly, name=name, n_invoices=int(row["n_invoices"]), net=row["net"]),
                "related": related_ids(("customer", [customer]), *related_for(records, customer, row["ym"], drivers, by_pair),
                                       ("salesperson", sellers)),
            })
        return found

