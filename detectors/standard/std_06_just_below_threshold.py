"""just_below_threshold: invoices kept, or split, under the approval limit."""

from __future__ import annotations

import math

import ibis
import pandas as pd

from analyses.standard.posted_totals import invoice_totals
from audit.common import combine_traces, month_of, saturating
from audit.detector import MAX_RELATED, Detector, empty_findings, related_ids
from audit.membership import among
from audit.policy import DEFAULTS
from detectors.standard.support import excess_p_value
from detectors.wording import just_below_threshold


class JustBelowThreshold(Detector):
    """Invoices without approver just under ``[thresholds] approval_amount``, or one sale split to stay under it.

    What it finds
    -------------
    Nothing when ``approval_amount`` is 0 (no approval rule). Otherwise, among posted invoices without
    ``approved_by``:

    - **Splits**: one customer's invoices, each under the limit, dated on the same or consecutive days
      (at most ``split_days`` apart) and together at or above it, counting only the parts that are not
      the bill of an order of their own: parts that bill the same order as another part, or that name no
      order where most invoices name one (``routine_share``). The finding is on the invoice that took
      the total over the limit; money at risk = the whole
      split (the sale that escaped approval).
    - **Concentration just under the limit**: invoices in the band ``band_pct`` % under the limit, for a
      salesperson whose share of invoices in that band (against the band of the same width just above
      the limit) is far above the other salespeople's: at least ``min_count`` unapproved ones and a
      binomial p-value below ``alpha``. Amounts just under a limit occur naturally, so one such invoice alone is
      not flagged; a salesperson who lands there far more often than everyone else is steering amounts.

    Why it matters
    --------------
    The approval limit is where a manager checks price, credit and the customer. Splitting a sale or
    trimming it just under the limit avoids that check — for a discount the manager would refuse, credit
    beyond the limit, or a customer the manager would not accept.

    Flagged
    -------
    With an approval limit of 5,000,000,000: customer C000120 billed 2,900,000,000 and 2,800,000,000 on
    2025-04-07 for the same order O00001234, neither approved: flagged on the second invoice, money at
    risk 5,700,000,000. A salesperson with 14 unapproved invoices between 4,500,000,000 and 5,000,000,000
    and 2 between 5,000,000,000 and 5,500,000,000, where the ledger has about as many above as below.

    Not flagged
    -----------
    Two bills of one order for the same amount: a copy, which ``duplicate_invoice`` (STD-02) reports. A wholesaler that orders every day: two invoices on consecutive days that add up to more than the
    limit, each billing its own order. An invoice of 4,900,000,000 from a salesperson whose invoices fall
    as often just above the limit (and get approved) as just under it. Anything when the limit is 0.

    Evidence
    --------
    Splits: the parts (number, date, amount, order), their total against the limit, the traces.
    Concentration: the band, the salesperson's counts under and over the limit against the ledger's
    share, the p-value, and the invoice's own amount and distance to the limit.
    """

    code = "STD-06"
    pattern = "just_below_threshold"
    wording = just_below_threshold.words
    entity_type = "invoice"
    family = "standard"
    requires = {
        "invoices": ("invoice_id", "invoice_no", "invoice_date", "customer_id", "salesperson_id"),
        "invoice_lines": ("invoice_id", "quantity", "unit_price"),
    }
    uses = {"invoices": ("status", "order_id", "approved_by"), "invoice_lines": ("discount_pct",)}
    # Findings sit right under the limit, so their amounts are large by construction, while the loss if
    # true is what the skipped approval would have stopped (a discount, extra credit), a fraction of the
    # sale: a quarter weight. See docs/ranking.md.
    rank_weight = 0.25

    def __init__(self, approval_amount: float = DEFAULTS.thresholds.approval_amount, band_pct: float = 10.0, split_days: int = 1,
                 alpha: float = 0.001, min_count: int = 5, routine_share: float = 0.5):
        self.approval_amount = approval_amount
        self.band_pct = band_pct
        self.split_days = split_days
        self.alpha = alpha
        self.min_count = min_count
        # A missing order is a trace only where at least this share of invoices name one.
        self.routine_share = routine_share

    @classmethod
    def params_from_policy(cls, policy):
        return {"approval_amount": policy.thresholds.approval_amount}

    def _unapproved(self, data) -> ibis.Table:
        invoices = invoice_totals(data, extra=("order_id", "approved_by"))
        return invoices.filter(invoices.approved_by.isnull() & (invoices.amount > 0))

    # ------------------------------------------------------------ splits
    def _split_groups(self, data) -> ibis.Table:
        limit = self.approval_amount
        under = self._unapproved(data)
        under = under.filter(under.amount < limit)
        by_customer = ibis.window(group_by=under.customer_id, order_by=[under.invoice_date, under.invoice_id])
        previous = under.invoice_date.lag().over(by_customer)
        gap = (under.invoice_date.date() - previous.date()).cast("int64")
        starts = under.mutate(new_run=ibis.ifelse(previous.isnull() | (gap > self.split_days), 1, 0))
        running = ibis.window(group_by=starts.customer_id, order_by=[starts.invoice_date, starts.invoice_id],
                              preceding=None, following=0)
        runs = starts.mutate(run=starts.new_run.sum().over(running))
        totals = runs.group_by(["customer_id", "run"]).aggregate(n_parts=runs.count(), total=runs.amount.sum())
        totals = totals.filter((totals.n_parts >= 2) & (totals.total >= limit))
        return runs.join(totals, ["customer_id", "run"]).select(runs, totals.n_parts, totals.total)

    def _counts(self, data) -> tuple[float, pd.DataFrame]:
        """In one pass over the posted invoices (each query sums the whole ledger's lines again): the share
        of them naming an order, and per salesperson with invoices in the band around the limit, how many
        are in the band (``n``), under the limit (``below``) and under it without approval."""
        limit, band = self.approval_amount, self.approval_amount * self.band_pct / 100.0
        invoices = invoice_totals(data, extra=("order_id", "approved_by"))
        near = (invoices.amount >= limit - band) & (invoices.amount < limit + band)
        below = near & (invoices.amount < limit)
        counts = data.execute(invoices.group_by("salesperson_id").aggregate(
            invoices_=invoices.count(), named_=invoices.order_id.notnull().sum(), n=ibis.ifelse(near, 1, 0).sum(),
            below=ibis.ifelse(below, 1, 0).sum(),
            unapproved_below=ibis.ifelse(below & invoices.approved_by.isnull(), 1, 0).sum()))
        n = int(counts["invoices_"].sum())
        order_share = int(counts["named_"].sum()) / n if n else 0.0
        band_counts = counts.loc[counts["n"] > 0, ["salesperson_id", "n", "below", "unapproved_below"]]
        return order_share, band_counts.astype({c: "int64" for c in ("n", "below", "unapproved_below")})

    def _splits(self, data, order_share: float) -> list[dict]:
        parts = data.execute(self._split_groups(data))
        if parts.empty:
            return []
        parts = parts.sort_values(["customer_id", "run", "invoice_date", "invoice_id"], ignore_index=True)
        parts = self._split_parts(parts, order_share)
        findings = []
        for _, run in parts.groupby(["customer_id", "run"], sort=True):
            findings.extend(self._split_findings(run[run["is_part"]], run.loc[run["shared_order"], "order_id"],
                                                 run.loc[run["shared_order"] | run["no_order"], "no_order"],
                                                 order_share))
        return findings

    def _split_parts(self, parts: pd.DataFrame, order_share: float) -> pd.DataFrame:
        """The runs that hold a split, with each invoice's role, found for all runs at once (a frequent
        buyer has thousands of runs of separate purchases): ``shared_order`` (it bills the same order as
        another invoice of its run), ``no_order`` (it names none where most invoices do) and ``is_part``."""
        run_key = ["customer_id", "run"]
        orders = parts["order_id"]
        shared = orders.notna() & parts.duplicated([*run_key, "order_id"], keep=False)
        no_order = orders.isna() & (order_share >= self.routine_share)
        # Only the parts that are not each the bill of an order of their own make up the split; a part with
        # its own order is a separate purchase, whatever its date. A second bill of one order for the same
        # amount is a copy (STD-02's duplicate), not a part.
        candidates = parts[shared | no_order]
        copy = candidates["order_id"].notna() & candidates.duplicated([*run_key, "order_id", "amount"], keep="first")
        is_part = (shared | no_order) & ~copy.reindex(parts.index, fill_value=False)
        parts = parts.assign(shared_order=shared, no_order=no_order, is_part=is_part)
        sizes = parts[parts["is_part"]].groupby(run_key)["amount"].agg(["size", "sum"])
        kept = sizes[(sizes["size"] >= 2) & (sizes["sum"] >= self.approval_amount)].index
        return parts[pd.MultiIndex.from_frame(parts[run_key]).isin(kept)]

    def _split_findings(self, run: pd.DataFrame, shared: pd.Series, no_order: pd.Series, order_share: float):
        limit = self.approval_amount
        run = run.reset_index(drop=True)
        crossing = int((run["amount"].cumsum() >= limit).idxmax())
        entity = run.iloc[crossing]
        total = float(run["amount"].sum())
        closeness = 1 - min(1.0, (total - limit) / limit)  # a split of an amount just over the limit
        traces = {"parts_under_limit": 0.4, "same_order": 0.6 if not shared.empty else 0.0,
                  "part_without_order": 0.4 if no_order.any() else 0.0,
                  "one_salesperson": 0.2 if run["salesperson_id"].nunique() == 1 else 0.0,
                  "total_near_limit": 0.3 * closeness}
        evidence = {
            "kind": "split", "approval_amount": limit, "split_days": self.split_days, "total": total,
            "parts": run[["invoice_id", "invoice_no", "invoice_date", "amount", "order_id",
                          "salesperson_id"]].to_dict(orient="records"),
            "shared_orders": sorted(set(shared)), "share_of_invoices_naming_an_order": order_share,
            "traces": {k: round(v, 4) for k, v in traces.items()},
        }
        ids = [entity.invoice_id] + [i for i in run["invoice_id"] if i != entity.invoice_id]
        return [{
            "entity_id": entity.invoice_id, "salesperson_id": entity.salesperson_id,
            "customer_id": entity.customer_id, "period": month_of(entity.invoice_date),
            "score": combine_traces(traces.values()), "risk_amount": total,
            "evidence": evidence,
            "facts": {"invoice_no": entity.invoice_no, "parts_without_order": int(no_order.sum())},
            "related": related_ids(("invoice", ids), ("customer", [entity.customer_id]),
                                   ("salesperson", run["salesperson_id"].unique()),
                                   ("order", run["order_id"].dropna().unique())),
        }]

    # ------------------------------------------------------------ concentration just under the limit
    def _concentrated(self, data, already: set, counts: pd.DataFrame) -> list[dict]:
        """``counts``: the band's invoices per salesperson (:meth:`_counts`)."""
        if counts.empty:
            return []
        counts = counts.sort_values("salesperson_id", ignore_index=True)
        # Share of the band's invoices that fall under the limit among the other salespeople (so one
        # salesperson's own habit does not set the yardstick), Laplace-smoothed.
        below_all, n_all = int(counts["below"].sum()), int(counts["n"].sum())
        counts["others_share"] = (below_all - counts["below"] + 1) / (n_all - counts["n"] + 2)
        counts["p_value"] = [excess_p_value(int(r.below), int(r.n), r.others_share) for r in counts.itertuples()]
        hot = counts[(counts["unapproved_below"] >= self.min_count) & (counts["p_value"] < self.alpha)]
        if hot.empty:
            return []
        limit, band = self.approval_amount, self.approval_amount * self.band_pct / 100.0
        invoices = self._unapproved(data)
        invoices = invoices.filter((invoices.amount >= limit - band) & (invoices.amount < limit)
                                   & among(invoices.salesperson_id, list(hot["salesperson_id"])))
        found = data.execute(invoices).sort_values("invoice_id", ignore_index=True)
        stats = hot.set_index("salesperson_id")
        findings = []
        for invoice in found.itertuples(index=False):
            if invoice.invoice_id in already:
                continue
            s = stats.loc[invoice.salesperson_id]
            below, n, share = int(s["below"]), int(s["n"]), float(s["others_share"])
            strength = saturating(math.log10(self.alpha / max(float(s["p_value"]), 1e-300)), 3.0)
            closeness = 1 - (limit - invoice.amount) / band
            traces = {"salesperson_concentration": 0.5 + 0.3 * strength, "closeness_to_limit": 0.3 * closeness}
            peers = found.loc[(found["salesperson_id"] == invoice.salesperson_id)
                              & (found["invoice_id"] != invoice.invoice_id), "invoice_id"]
            evidence = {
                "kind": "just_below", "approval_amount": limit, "band_pct": self.band_pct,
                "amount": invoice.amount, "under_limit_by": limit - invoice.amount,
                "salesperson_band": {"below": below, "above": n - below,
                                     "unapproved_below": int(s["unapproved_below"]), "p_value": float(s["p_value"])},
                "other_salespeople_share_below": share,
                "traces": {k: round(v, 4) for k, v in traces.items()},
            }
            findings.append({
                "entity_id": invoice.invoice_id, "salesperson_id": invoice.salesperson_id,
                "customer_id": invoice.customer_id, "period": month_of(invoice.invoice_date),
                "score": combine_traces(traces.values()), "risk_amount": invoice.amount,
                "evidence": evidence,
                "facts": {"invoice_no": invoice.invoice_no, "invoice_date": invoice.invoice_date},
                "related": related_ids(("invoice", [invoice.invoice_id]), ("customer", [invoice.customer_id]),
                                       ("salesperson", [invoice.salesperson_id]),
                                       ("invoice", peers.head(MAX_RELATED - 3))),
            })
        return findings

    def find(self, data) -> pd.DataFrame:
        self.n_splits_ = 0
        if not self.approval_amount or self.approval_amount <= 0:
            return empty_findings()
        order_share, band_counts = self._counts(data)
        splits = self._splits(data, order_share)
        self.n_splits_ = len(splits)
        already = {i.split(":", 1)[1] for f in splits for i in f["related"] if i.startswith("invoice:")}
        findings = splits + self._concentrated(data, already, band_counts)
        if not findings:
            return empty_findings()
        return pd.DataFrame(findings).drop_duplicates("entity_id").sort_values("entity_id", ignore_index=True)
