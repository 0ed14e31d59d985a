"""price_deviation: invoice prices that differ from the valid list price."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analyses.pricing.priced_lines import (
    PRICE_DEVIATIONS_VIEW,
    PRICING_REQUIRES,
    PRICING_USES,
    NeedsPriceSource,
)
from audit.common import month_of, saturating
from audit.detector import Detector, empty_findings, related_ids
from audit.policy import DEFAULTS
from detectors.pricing.list_steps import explained, implied_prices, list_steps
from detectors.wording import price_deviation


class PriceDeviation(NeedsPriceSource, Detector):
    """Invoice lines priced outside the valid list price plus or minus the policy tolerance, unapproved.

    What it finds
    -------------
    Posted invoices with lines whose ``unit_price`` (before the line's discount) differs from the price
    valid for that product, customer class and invoice date by more than ``[pricing] tolerance_pct``,
    with no approver of the price on the line (``discount_approved_by`` on a line whose discount is not
    a promotion, volume or cash discount: approving one of those approves that discount, not a price
    off the list). The valid price is the customer class's price-list row when there is one, else the
    general price-list row, else the line's own ``list_price``, else the product's ``list_price``.
    When the invoice names an order (``invoices.order_id``) dated at most ``order_price_days`` (of the PRC-00 analysis that prices the lines) before
    it, the price valid on the order date is accepted too: the customer was quoted that price when it
    ordered, and a price-list change in between is not a deviation.

    Why it matters
    --------------
    A salesperson who over-charges pockets the difference or hides a kickback; one who under-charges
    gives a friend the company's margin. Either way the buyer is not given the real price.

    Flagged
    -------
    Rice listed at 1,500,000 invoiced to a retail shop at 1,380,000 (8 % below list, tolerance 0.5 %),
    no approver: flagged, money at risk 120,000 per bag. The same line with a promotion discount a
    manager approved: flagged too, the approval covers the promotion.

    Not flagged
    -----------
    An invoice dated on the day the price list changed that still carries the previous price; an
    invoice two days after a price increase priced as on the date of its order; a
    wholesale customer invoiced at the wholesale class price; a line whose price an approver signed;
    a zero-value document (sample, replacement) that gives its reason. Nothing at all when most lines
    (over ``max_deviating_share``, from ``min_lines_to_judge_source`` lines) are off the price source:
    it is then not the list the company sells at (a suggested retail price), and the run says so.

    Evidence
    --------
    Per deviating line: product, quantity, invoiced and valid unit price, where the valid price came
    from, deviation in percent and money; the invoice's total over- and under-charge.
    """

    code = "PRC-01"
    pattern = "price_deviation"
    wording = price_deviation.words
    entity_type = "invoice"
    family = "pricing"
    reads_analyses = ("PRC-00",)
    requires = PRICING_REQUIRES
    uses = PRICING_USES

    def __init__(self, tolerance_pct: float = DEFAULTS.pricing.tolerance_pct, full_score_deviation_pct: float = 10.0,
                 max_deviating_share: float = 0.5, min_lines_to_judge_source: int = 30):
        self.tolerance_pct = tolerance_pct
        self.full_score_deviation_pct = full_score_deviation_pct
        self.max_deviating_share = max_deviating_share
        self.min_lines_to_judge_source = min_lines_to_judge_source

    @classmethod
    def params_from_policy(cls, policy):
        return {"tolerance_pct": policy.pricing.tolerance_pct}

    # ------------------------------------------------------------ per-invoice part
    def find(self, data) -> pd.DataFrame:
        self.unknown_traces_ = [] if data.has("price_list", ("product_id", "unit_price")) else [
            "dated list prices (no price_list: the line's or product's list price, which may be out of date)"]
        self.approvals_recorded_ = data.holds_values("invoice_lines", "discount_approved_by")
        if not self.approvals_recorded_:
            self.unknown_traces_.append("price approvals (invoice_lines.discount_approved_by not recorded): whether "
                                        "a price off the list was signed off")
        deviations = data.views[PRICE_DEVIATIONS_VIEW]
        lines, counts = deviations.lines, deviations.counts
        self.n_lines_outside_tolerance_, self.n_excused_ = deviations.n_lines_outside_tolerance, deviations.n_excused
        n_lines = data.rows("invoice_lines")
        outside = getattr(self, "n_lines_outside_tolerance_", 0)
        if outside >= self.min_lines_to_judge_source and outside / n_lines > self.max_deviating_share:
            # Most lines off the price source: it is not the list the company sells at (a suggested retail
            # price, a list never kept up to date), so no single invoice can be judged against it.
            self.eligible_records_ = 0
            self.note_ = (f"{outside:,} of {n_lines:,} invoice lines ({outside / n_lines:.0%}) are off the price "
                          "source by more than the tolerance: it does not describe the prices charged, so no "
                          "invoice was judged against it")
            return empty_findings()
        if lines.empty:
            return empty_findings()
        # The same step against the list across customers and salespeople is a gap in the price list
        # (price_list_gap reports it once), not a deviation per invoice.
        steps = list_steps(lines, counts)
        in_step = explained(lines, steps)
        self.n_in_list_steps_ = int(in_step.sum())
        lines = lines[~in_step]
        implied = implied_prices(lines, steps)
        on_step = implied.notna() & ((lines["unit_price"] - implied).abs() <= implied * self.tolerance_pct / 100.0)
        lines = lines[~on_step].copy()
        implied = implied[~on_step]
        if lines.empty:
            return empty_findings()
        lines["valid_price"] = implied.where(implied.notna(), lines["valid_price"])
        lines["source"] = np.where(implied.notna(), "list price × the step the price list misses", lines["source"])
        lines = lines.assign(
            deviation_pct=(lines["unit_price"] / lines["valid_price"] - 1) * 100,
            deviation_amount=(lines["unit_price"] - lines["valid_price"]) * lines["quantity"],
        )
        return pd.DataFrame([self._finding(invoice_id, group) for invoice_id, group in
                             lines.groupby("invoice_id", sort=True)])

    def _finding(self, invoice_id, lines: pd.DataFrame) -> dict:
        first = lines.iloc[0]
        over = lines.loc[lines["deviation_amount"] > 0, "deviation_amount"].sum()
        under = -lines.loc[lines["deviation_amount"] < 0, "deviation_amount"].sum()
        worst_pct = lines["deviation_pct"].abs().max()
        excess_pct = worst_pct - self.tolerance_pct
        # Any line beyond tolerance scores at least 0.5; the rest grows with the size of the gap.
        score = 0.5 + 0.5 * saturating(excess_pct, self.full_score_deviation_pct)
        fallback_only = (lines["source"] == "product list_price").all()
        if fallback_only:
            score *= 0.8  # no dated price list: the product's list price may be out of date
        evidence = {
            "tolerance_pct": self.tolerance_pct, "over_charge": over, "under_charge": under,
            "worst_deviation_pct": worst_pct,
            "lines": lines[["line_no", "product_id", "quantity", "unit_price", "valid_price", "source",
                            "deviation_pct", "deviation_amount"]].head(20).to_dict(orient="records"),
            "traces": {"price_outside_tolerance": round(score, 4)},
        }
        return {
            "entity_id": invoice_id, "salesperson_id": first.salesperson_id, "customer_id": first.customer_id,
            "period": month_of(first.invoice_date), "score": score, "risk_amount": over + under,
            "evidence": evidence,
            "facts": {"invoice_no": first.invoice_no, "invoice_date": first.invoice_date, "n_lines": len(lines),
                      "fallback_only": bool(fallback_only), "approvals_recorded": self.approvals_recorded_},
            "related": related_ids(("invoice", [invoice_id]), ("customer", [first.customer_id]),
                                   ("salesperson", [first.salesperson_id]),
                                   ("product", lines["product_id"].unique())),
        }
