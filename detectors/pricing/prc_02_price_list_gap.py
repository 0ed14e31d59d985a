"""price_list_gap: a price list that misses a change (a data finding about the list, not a fraud)."""

from __future__ import annotations

import pandas as pd

from analyses.pricing.priced_lines import (
    PRICE_DEVIATIONS_VIEW,
    PRICING_REQUIRES,
    PRICING_USES,
    NeedsPriceSource,
)
from audit.common import month_of
from audit.detector import Detector, empty_findings, related_ids
from detectors.pricing.list_steps import explained, list_steps
from detectors.wording import price_list_gap

# Single-product steps the explanation names (the rest are counted).
MAX_STEPS_IN_WORDS = 8


class PriceListGap(NeedsPriceSource, Detector):
    """The price list misses a change: one step against the list for a product, whoever sold it to whomever.

    What it finds
    -------------
    Among the invoice lines priced outside the valid list price ± ``[pricing] tolerance_pct`` (the
    lines ``price_deviation`` would judge, after its excuses), a product charged one same price off
    the list by several customers and salespeople, for most of the product's lines between the first
    and the last such line — or a general change that the list misses for several products at once
    (the same ratio to the list across products; ``detectors.pricing.list_steps``). That is a fact
    about the price list (a list kept without history, a change never entered), reported ONCE, with
    each product's price charged, its ratio to the list and the dates. Those lines are not price
    deviations; a line of the same product and period at another price still is.

    Why it matters
    --------------
    A price list that misses a change makes every invoice of the period look mispriced and buries the
    real deviations; the list must be completed before prices can be audited for that period. It is a
    data finding: it carries no money at risk and ranks below every fraud finding.

    Flagged
    -------
    Every invoice of tea from 1996-09 to 1997-03 is charged 14.40, by six salespeople to thirty
    customers, where the list (kept without history) says 18.00; coffee, rice and 60 other products show
    the same 0.80 step in the same months: one finding, "the price list lacks the prices of 1996-09 to
    1997-03 (0.80 of the list) for 63 products".

    Not flagged
    -----------
    One salesperson charging a favoured customer 8 % below the list on several invoices: one seller, a
    fraction of the product's lines — a price deviation, not a list gap. Prices at the list.

    Evidence
    --------
    Per step: product, price charged, list price, ratio, first and last date, lines, customers,
    salespeople, share of the product's lines in those dates, and the company-wide step it belongs to.
    """

    code = "PRC-02"
    pattern = "price_list_gap"
    wording = price_list_gap.words
    entity_type = "price_list"
    family = "pricing"
    reads_analyses = ("PRC-00",)
    requires = PRICING_REQUIRES
    uses = PRICING_USES
    # A fact about the data, not a fraud: listed after every finding that carries money.
    rank_weight = 0.01

    def find(self, data) -> pd.DataFrame:
        deviations = data.views[PRICE_DEVIATIONS_VIEW]
        lines, counts = deviations.lines, deviations.counts
        self.n_lines_outside_tolerance_, self.n_excused_ = deviations.n_lines_outside_tolerance, deviations.n_excused
        steps = list_steps(lines, counts)
        self.n_steps_ = len(steps)
        if steps.empty:
            return empty_findings()
        lines_in = lines[explained(lines, steps)]
        steps = steps.sort_values(["first", "product_id"], kind="mergesort", ignore_index=True)
        first, last = steps["first"].min(), steps["last"].max()
        company = steps[steps["company_step"].notna()]
        # the steps the wording names: company-wide steps (one per ratio), then single products
        company_steps = [{"step": name, "products": group["product_id"].nunique(), "first": group["first"].min(),
                          "last": group["last"].max()}
                         for name, group in company.groupby("company_step", sort=True)]
        single = steps[steps["company_step"].isna()]
        single_steps = [row._asdict() for row in single.head(MAX_STEPS_IN_WORDS).itertuples(index=False)]
        evidence = {
            "first": first, "last": last, "products": int(steps["product_id"].nunique()),
            "lines": len(lines_in), "invoices": int(lines_in["invoice_id"].nunique()),
            "steps": steps.head(200).to_dict(orient="records"),
        }
        return pd.DataFrame([{
            "entity_id": "price_list", "salesperson_id": None, "customer_id": None, "period": month_of(first),
            "score": 0.9, "risk_amount": 0.0,
            "evidence": evidence,
            "facts": {"company_steps": company_steps, "single_steps": single_steps, "n_single_steps": len(single)},
            "related": related_ids(("product", steps["product_id"].unique())),
        }])
