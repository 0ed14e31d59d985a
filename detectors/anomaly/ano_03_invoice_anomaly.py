"""invoice_anomaly (ANO-03): an invoice unlike the ledger's other invoices."""

from __future__ import annotations

import pandas as pd

from audit.common import month_of
from audit.detector import related_ids
from detectors.anomaly.base import DEFAULT_TIERS, BehaviourAnomaly
from detectors.anomaly.features import INVOICE_FEATURES, invoice_features
from detectors.wording import invoice_anomaly


class InvoiceAnomaly(BehaviourAnomaly):
    """A posted invoice whose amount, discount, prices, lines, dates or terms stand out from all others.

    What it finds
    -------------
    One row per posted invoice with lines, described by: its amount against the customer's median
    invoice (customers with at least ``min_customer_invoices`` invoices), its amount against the
    company's median invoice and its largest line quantity against the product's average line (absolute
    size: a customer's own history says nothing of its largest-ever invoice), the discount beyond the
    policy's volume tiers, the price against the valid list price (class price list, else general,
    else the line's or product's list price; either way), the number of lines, the days from its
    order to it (either way: an invoice before its order is as odd as a late one), whether it names
    no order, whether it is dated on a weekend or holiday of the policy, and its due date beyond the
    customer's payment terms. Missing tables or columns leave their features empty. The anomaly
    ensemble (``audit.methods.anomaly``, seeded by ``random_state``, median of the member ranks) is fitted on
    every invoice; those in the top ``contamination`` share with a score of at least ``min_score`` and
    at least one feature in its population's outer 1 % are reported, at most ``max_findings`` (the most
    anomalous). Only the suspicious side of a feature counts. Below ``min_rows`` invoices nothing is
    reported (``not_enough_data_`` says why).

    Why it matters
    --------------
    Added items, secret discounts, prices for a friend, invoices keyed on a day off or given terms
    nobody approved each break a habit of the ledger. The specific detectors test each rule on its own;
    an invoice that is odd on several counts at once, or on one count no rule covers, is worth opening.
    The anomaly is a lead, not a proof.

    Flagged
    -------
    Invoice INV-0000838 of 2025-01-18 to customer C000897: unapproved discount beyond the volume tiers
    11.5 % against a typical 0.0 % (top 0.1 % of invoices); net 7,991,550: money at risk 1,038,450 (the
    discount beyond the typical on the gross). Invoice INV-0017233 with 13 lines against a typical 3
    (top 0.1 %) and 3.9 × the customer's median amount: flagged, but volume carries no money at risk,
    so it is listed after the findings with money.

    Not flagged
    -----------
    A wholesaler's large invoice with its tier discount (its own median is large and the tier discount
    is not counted); an invoice priced at the customer class's list price; an invoice with fewer lines
    or a smaller amount than usual (the harmless side); an invoice odd only as a combination of
    ordinary values; any invoice of a ledger with fewer than ``min_rows`` invoices.

    Evidence
    --------
    The anomaly score and cut-off, the population size, the three drivers (feature, value, typical
    value = population median, percentile, contribution = -log10 of the two-sided tail probability,
    money), every feature's value, the invoice's net and gross amounts and the customer's median, and
    each ensemble member's normalised rank in ``traces``. Money at risk: the unapproved discount
    beyond the typical one times the invoice's gross, and the price deviation beyond the typical one
    times its list value; at most the invoice's net amount. A larger amount or more lines than usual
    (volume), days and flags carry none: more goods sold are not a loss by themselves.
    ``rank_weight`` 0.001 (docs/anomaly.md): a lead, listed after the specific findings; an invoice
    that breaks a rule is priced at full weight by that rule's detector.
    """

    code = "ANO-03"
    pattern = "invoice_anomaly"
    wording = invoice_anomaly.words
    entity_type = "invoice"
    family = "anomaly"
    rank_weight = 0.001
    requires = {
        "invoices": ("invoice_id", "invoice_no", "invoice_date", "customer_id", "salesperson_id"),
        "invoice_lines": ("invoice_id", "line_no", "product_id", "quantity", "unit_price"),
    }
    uses = {
        "invoices": ("status", "due_date", "order_id"),
        "invoice_lines": ("discount_pct", "list_price"),
        "price_list": ("product_id", "valid_from", "valid_to", "unit_price", "customer_class"),
        "products": ("list_price",),
        "customers": ("customer_class", "payment_terms_days"),
        "orders": ("order_id", "order_date"),
    }
    features = INVOICE_FEATURES
    population_words = "invoices"
    cap_words = "invoice's net amount"

    def __init__(self, contamination: float = 0.01, min_score: float = 0.9, min_rows: int = 30,
                 max_findings: int = 25, min_surprise: float = 2.0, random_state: int = 0,
                 volume_tiers: tuple = DEFAULT_TIERS, combine: str = "median_rank",
                 min_customer_invoices: int = 3):
        super().__init__(contamination=contamination, min_score=min_score, min_rows=min_rows,
                         max_findings=max_findings, min_surprise=min_surprise, random_state=random_state,
                         volume_tiers=volume_tiers, combine=combine)
        self.min_customer_invoices = min_customer_invoices

    def _population(self, data) -> pd.DataFrame:
        return invoice_features(data, self.min_customer_invoices, self.volume_tiers)

    def _findings(self, data, flagged: pd.DataFrame) -> list[dict]:
        found = []
        for _, row in flagged.iterrows():
            anomaly = row["_anomaly"]
            drivers = anomaly["_drivers"]
            risk = self.risk_amount(row, drivers)
            median = row["customer_median"]
            evidence = self.evidence(row, anomaly, risk)
            evidence.update({"invoice_no": row["invoice_no"], "net": float(row["net"]), "gross": float(row["gross"]),
                             "customer_median": None if pd.isna(median) else float(median),
                             "order_id": row["order_id"] if isinstance(row["order_id"], str) else None})
            found.append({
                "entity_id": row["invoice_id"], "salesperson_id": row["salesperson_id"],
                "customer_id": row["customer_id"], "period": month_of(row["invoice_date"]),
                "score": anomaly["_score"], "risk_amount": risk,
                "evidence": evidence, "facts": self.facts(anomaly, invoice_date=row["invoice_date"]),
                "related": related_ids(("invoice", [row["invoice_id"]]), ("customer", [row["customer_id"]]),
                                       ("salesperson", [row["salesperson_id"]]),
                                       ("order", [row["order_id"]] if isinstance(row["order_id"], str) else [])),
            })
        return found
