"""salesperson_anomaly (ANO-01): a salesperson-month whose behaviour is unlike every other's."""

from __future__ import annotations

import pandas as pd

from audit.detector import related_ids
from detectors.anomaly.base import DEFAULT_TIERS, BehaviourAnomaly
from detectors.anomaly.features import SALESPERSON_FEATURES, Feature, monthly_features, period_of
from detectors.anomaly.records import (
    FEATURE_RECORDS,
    month_records,
    names_of,
    pair_records,
    records_by_pair,
    related_for,
)
from detectors.wording import salesperson_anomaly


class SalespersonBehaviourAnomaly(BehaviourAnomaly):
    """A salesperson-month whose discounts, prices, returns, cheques, visits and collections stand out.

    What it finds
    -------------
    One row per salesperson and month with posted sales, described by behaviour features: discount
    rate (line discounts as a share of gross sales), mean price deviation from the valid list price
    (either way), credit notes and returns as a share of sales, share of sales to customers created
    in the previous ``new_customer_days`` days, cheque holding time (received to handed in) and
    maturity (received to due), visit compliance (done / planned), customers' payment lateness, cash
    share of receipts and receipt posting delay. Cheques and receipts count for the salesperson who
    collected them (else the customer's assigned salesperson); credit notes for the salesperson of
    the invoice they credit. Features whose tables or columns are missing stay empty (the ensemble
    fills them with the median). The anomaly ensemble (``audit.methods.anomaly``: isolation forest, ECOD,
    robust covariance, k nearest neighbours, CBLOF on normalised ranks, seeded by ``random_state``)
    (combined by the median of its members' ranks, ``combine``) is fitted on every salesperson-month;
    those in the top ``contamination`` share, with a score of at least ``min_score`` and at least one
    feature in its population's outer 1 % (``min_surprise`` 2; in populations under about 400 rows, as
    rare as the rarest value such a population can show), are reported, at most ``max_findings``.
    Only the suspicious side of a feature counts: less discount, fewer returns or more visits than
    usual are not leads. Discount earned by the policy's volume tiers (``[discounts] volume_tiers``)
    or signed by an approver is not counted. Below ``min_rows`` salesperson-months nothing is
    reported (``not_enough_data_`` says why).

    Why it matters
    --------------
    The specific detectors test one rule each. A salesperson who bends several habits at once —
    more discount than anyone, cheques held a week, cash instead of cheques, visits skipped — may
    stay under every single limit and still be the one whose accounts need a review. The anomaly is
    a lead, not a proof: the drivers say where to look.

    Flagged
    -------
    Salesperson S0007 in 2025-05: unapproved discount rate beyond the volume tiers 9.8 % against a
    typical 0.0 % (top 0.4 % of salesperson-months), cheque holding time 4.1 days against a typical
    0.7 days (top 1.2 %), cash share of receipts 41 % against a typical 6 % (top 1.7 %). Gross sales
    3,100,000,000: money at risk 303,800,000 (9.8 points of discount beyond the typical on the gross;
    holding time and cash share carry no money). With ``rank_weight`` 0.001 and score 0.99 its
    priority is 300,000: it is listed after the specific findings.

    Not flagged
    -----------
    A salesperson whose month is ordinary on every feature; one who gives no discount at all or whose
    visits are all done (the harmless side); a month unusual only as a combination of ordinary values
    (no single feature in its outer 1 %: nothing an auditor could check); any month when the ledger
    has fewer than ``min_rows`` salesperson-months.

    Evidence
    --------
    The anomaly score and the cut-off, the population size, the three drivers (feature, value,
    typical value = population median, percentile, contribution = -log10 of the two-sided tail
    probability, money), every feature's value, and each ensemble member's normalised rank in
    ``traces``. Money at risk: for each named driver that is money the company gives up, its excess
    over the typical share times that money (gross sales for the unapproved discount, list value for
    the price deviation, net sales for credit notes and for sales to new customers), at most the
    month's net sales; drivers in days, counts or volume carry none. ``rank_weight`` 0.001, as for
    benford_deviation: the figure is an upper bound spread over a month of documents, and an anomaly is
    a lead, not a proven loss. Anomalies are a second list, after the specific findings
    (docs/anomaly.md).
    """

    code = "ANO-01"
    pattern = "salesperson_anomaly"
    wording = salesperson_anomaly.words
    entity_type = "salesperson"
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
        "customers": ("created_date", "assigned_salesperson_id", "customer_class"),
        "credit_notes": ("credit_date", "amount", "invoice_id"),
        "cheques": ("amount", "received_date", "handed_in_date", "due_date", "collected_by"),
        "receipts": ("receipt_date", "posted_date", "method", "amount", "collected_by"),
        "receipt_allocations": ("receipt_id", "invoice_id", "amount"),
        "visits": ("salesperson_id", "planned_date", "status"),
        "salespeople": ("name",),
    }
    features = SALESPERSON_FEATURES
    population_words = "salesperson-months"

    def __init__(self, contamination: float = 0.02, min_score: float = 0.9, min_rows: int = 30,
                 max_findings: int = 20, min_surprise: float = 2.0, random_state: int = 0,
                 volume_tiers: tuple = DEFAULT_TIERS, combine: str = "median_rank",
                 new_customer_days: int = 90):
        super().__init__(contamination=contamination, min_score=min_score, min_rows=min_rows,
                         max_findings=max_findings, min_surprise=min_surprise, random_state=random_state,
                         volume_tiers=volume_tiers, combine=combine)
        self.new_customer_days = new_customer_days

    def feature_words(self, feature: Feature) -> str:
        return feature.words.format(new_days=self.new_customer_days)

    def _population(self, data) -> pd.DataFrame:
        return monthly_features(data, "salesperson_id", self.new_customer_days, self.volume_tiers)

    def _findings(self, data, flagged: pd.DataFrame) -> list[dict]:
        kinds = {FEATURE_RECORDS.get(d["feature"], ("invoice", ""))[0]
                 for a in flagged["_anomaly"] for d in a["_drivers"]} | {"invoice"}
        records = month_records(data, "salesperson_id", flagged[["key", "ym"]], kinds, self.volume_tiers,
                                self.new_customer_days)
        names = names_of(data, "salespeople", "salesperson_id", flagged["key"])
        by_pair = records_by_pair(records)
        found = []
        periods = period_of(flagged["ym"])  # once for all the findings
        for index, row in flagged.iterrows():
            anomaly = row["_anomaly"]
            drivers = anomaly["_drivers"]
            risk = self.risk_amount(row, drivers)
            period = periods[index]
            salesperson = row["key"]
            name = names.get(salesperson)
            groups = related_for(records, salesperson, row["ym"], drivers, by_pair)
            mine = pair_records(records, by_pair, salesperson, row["ym"])
            mine = mine[mine["kind"] == "invoice"]
            customers = mine.sort_values(["value", "record_id"], ascending=[False, True])["customer_id"]
            found.append({
                "entity_id": salesperson, "salesperson_id": salesperson, "customer_id": None, "period": period,
                "score": anomaly["_score"], "risk_amount": risk,
                "evidence": self.evidence(row, anomaly, risk),
                "facts": self.facts(anomaly, name=name, n_invoices=int(row["n_invoices"]), net=row["net"]),
                "related": related_ids(("salesperson", [salesperson]), *groups,
                                       ("customer", customers.drop_duplicates().head(10).tolist())),
            })
        return found
