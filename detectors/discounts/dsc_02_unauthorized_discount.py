"""unauthorized_discount: discounts beyond the giver's authority, unapproved, or matching no rule."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from audit.common import combine_traces, month_of, saturating, tier_pct
from audit.detector import Detector, empty_findings, related_ids
from audit.ledger import posted_invoices
from detectors.wording import unauthorized_discount

# Roles (employees.role) whose approval carries authority; matched case-insensitively.
DIRECTOR_ROLES = re.compile(r"director|chief|\bceo\b|general manager|president|owner", re.IGNORECASE)
MANAGER_ROLES = re.compile(r"manager|supervisor|\bhead\b", re.IGNORECASE)
# Approval levels, lowest first (the wording names them).
NONE, SALESPERSON, MANAGER, DIRECTOR, UNKNOWN = "none", "salesperson", "manager", "director", "unknown"
# Trace weights (combined as 1 − ∏(1 − c)).
BASE_BREACH = 0.6          # any discount beyond what was allowed
SIZE_WEIGHT = 0.3          # grows with how far beyond (full at ``full_excess_pct``)
PEER_WEIGHT = 0.3          # the salesperson's own discounts far above peers'
FAVOURED_WEIGHT = 0.2      # the same customer gets unallowed discounts again and again
UNAPPROVED_UNKNOWN_WEIGHT = 0.3  # beyond tiers and common discounts where approvals are not recorded
FLOAT_SLACK = 1e-6         # percentages compared with this slack (stored values are rounded)



def _each_distinct(values: pd.Series, function) -> pd.Series:
    """``values.map(function)``, calling ``function`` once per distinct value (a few approvers and
    quantities over hundreds of thousands of lines)."""
    codes, distinct = pd.factorize(values, use_na_sentinel=False)
    results = [function(value) for value in distinct]
    return pd.Series(results, dtype=object).take(codes).set_axis(values.index).infer_objects()

class UnauthorizedDiscount(Detector):
    """Invoice discounts beyond the giver's authority or matching no tier or promotion.

    What it finds
    -------------
    Posted invoice lines whose ``discount_pct`` exceeds what was allowed for that line:

    - manual (or untyped) discounts: ``[discounts] manual_authority_pct.salesperson`` without an
      approver; ``.manager`` when a manager approved (``employees.role`` says manager, or the approver
      is a ``salespeople.manager_id``); no limit when a director approved. An approver with no
      authority (a clerk, a salesperson) does not raise the limit. An approver the data cannot place
      (no employees table) counts as a manager, with lower confidence;
    - 'volume' discounts: the tier the line's quantity earns (``[discounts] volume_tiers``);
    - 'promo' discounts: documented promotions only. The contract has no promotions table; in the
      simulated data (and in practice) a promotion line is documented by its approver (marketing), and a
      running promotion shows as the same percentage on the same product category approved for at
      least ``promo_min_customers`` customers over a period. A promo line is allowed when it is
      approved by someone with authority, or when it matches such a running promotion (same category
      and percentage, inside the period); otherwise only the tier its quantity earns;
    - 'cash' discounts on an invoice line: the cash discount belongs to the payment
      (``receipt_allocations.cash_discount_amount``), so on the line it is allowed only with a
      manager's or director's approval (up to their limit).

    Traces in the score: the breach and its size; the salesperson's discounts outside the rules, as a
    share of sales, at least ``peer_multiple`` times the median of peers; and the customer receiving
    unallowed discounts on several invoices (favoured customers). Lines within ``min_excess_pct`` are
    ignored.

    When the data records no approval at all (``discount_approved_by`` absent or blank everywhere), who
    approved a discount is unknown, not "nobody": the run says so once (``note_``, ``unknown_traces_``).
    Typed discounts keep their own rules (tier, running promotion, cash on the line); a manual or
    untyped discount beyond the salesperson's authority and the tier, and not commonly given on its
    category (``promo_min_customers`` customers or more), is a finding only when the salesperson's
    discounts are ``peer_multiple`` times the peers' median, and its explanation says the approval was
    not checked.

    Why it matters
    --------------
    A secret discount gives away the company's margin, often to a favoured customer in exchange for a
    kickback; disguising it as a volume tier or a promotion avoids the approval that would stop it.

    Flagged
    -------
    A manual 8.2 % discount on 12 cartons of tea (gross 30,000,000) with no approver, where a
    salesperson may give 5 %: flagged, money at risk 960,000 (the 3.2 % beyond authority). A 6 %
    'volume' discount on 40 units, where the first tier starts at 100: the whole 6 % is at risk.

    Not flagged
    -----------
    An 8 % manual discount approved by the regional manager (within the manager's 10 %); a 100 %
    replacement approved by the sales director; a 4 % 'promo' discount on beverages during the summer
    promotion approved by marketing; a 3 % volume discount on 150 units.

    Evidence
    --------
    Per line: product, quantity, gross amount, discount type and percent, approver and the authority
    level found for them, the percent allowed and why, the excess and its amount; the salesperson's
    discount rate against peers; the customer's other unallowed discounts; each trace's contribution.
    """

    code = "DSC-02"
    pattern = "unauthorized_discount"
    wording = unauthorized_discount.words
    entity_type = "invoice"
    family = "discounts"
    requires = {
        "invoices": ("invoice_id", "invoice_date", "customer_id", "salesperson_id"),
        "invoice_lines": ("invoice_id", "line_no", "product_id", "quantity", "unit_price", "discount_pct"),
    }
    uses = {
        "invoices": ("status", "invoice_no"),
        "invoice_lines": ("discount_type", "discount_approved_by"),
        "products": ("category",),
        "employees": ("employee_id", "role"),
        "salespeople": ("salesperson_id", "manager_id"),
    }

    def __init__(self, salesperson_pct: float = 5.0, manager_pct: float = 10.0,
                 volume_tiers: tuple = ((100, 3.0), (500, 6.0)), promo_min_customers: int = 3,
                 min_excess_pct: float = 0.0, full_excess_pct: float = 5.0, peer_multiple: float = 2.0):
        self.salesperson_pct = salesperson_pct
        self.manager_pct = manager_pct
        self.volume_tiers = volume_tiers
        self.promo_min_customers = promo_min_customers
        self.min_excess_pct = min_excess_pct
        self.full_excess_pct = full_excess_pct
        self.peer_multiple = peer_multiple

    @classmethod
    def params_from_policy(cls, policy):
        discounts = policy.discounts
        return {"salesperson_pct": discounts.manual_authority_pct.salesperson,
                "manager_pct": discounts.manual_authority_pct.manager,
                "volume_tiers": tuple((t.min_quantity, t.pct) for t in discounts.volume_tiers)}

    # ------------------------------------------------------------ relational part
    def _discounted_lines(self, data) -> pd.DataFrame:
        lines = data.table("invoice_lines")
        invoices = posted_invoices(data)
        joined = lines.join(invoices, "invoice_id")
        extra = {}
        if data.has("invoice_lines", ("discount_type",)):
            extra["discount_type"] = lines.discount_type
        if data.has("invoice_lines", ("discount_approved_by",)):
            extra["approved_by"] = lines.discount_approved_by
        if data.has("invoices", ("invoice_no",)):
            extra["invoice_no"] = invoices.invoice_no
        selected = joined.filter(lines.discount_pct > 0).select(
            lines.invoice_id, lines.line_no, lines.product_id, lines.quantity, lines.unit_price, lines.discount_pct,
            invoices.invoice_date, invoices.customer_id, invoices.salesperson_id, **extra)
        if data.has("products", ("category",)):
            products = data.table("products").select("product_id", "category")
            selected = selected.left_join(products, "product_id").drop("product_id_right")
        frame = data.execute(selected.order_by(["invoice_id", "line_no"]))
        for column in ("discount_type", "approved_by", "invoice_no", "category"):
            if column not in frame:
                frame[column] = None
        return frame

    def _salesperson_rates(self, data) -> pd.DataFrame:
        """Per salesperson: gross sales and discounts given outside the volume and promotion rules."""
        lines = data.table("invoice_lines")
        invoices = posted_invoices(data)
        joined = lines.join(invoices, "invoice_id")
        gross = lines.quantity * lines.unit_price
        if data.has("invoice_lines", ("discount_type",)):
            outside_rules = lines.discount_type.isnull() | ~lines.discount_type.isin(["volume", "promo"])
        else:
            outside_rules = lines.discount_pct.notnull()
        given = outside_rules.ifelse(gross * lines.discount_pct.fill_null(0) / 100.0, 0.0)
        rates = joined.group_by(invoices.salesperson_id).aggregate(gross=gross.sum(), given=given.sum())
        frame = data.execute(rates.order_by("salesperson_id"))
        frame["rate"] = np.where(frame["gross"] > 0, frame["given"] / frame["gross"].where(frame["gross"] > 0), 0.0)
        return frame.set_index("salesperson_id")

    # ------------------------------------------------------------ who may approve what
    def _levels(self, data) -> dict:
        """Approval level of every person the data can place."""
        levels: dict[str, str] = {}
        if data.has("salespeople", ("salesperson_id",)):
            for person in data.frame("salespeople")["salesperson_id"].dropna():
                levels[person] = SALESPERSON
        if data.has("employees", ("employee_id",)):
            employees = data.frame("employees")
            roles = employees["role"] if "role" in employees else pd.Series(None, index=employees.index)
            for person, role in zip(employees["employee_id"], roles, strict=True):
                if not isinstance(role, str):
                    levels.setdefault(person, UNKNOWN)
                elif DIRECTOR_ROLES.search(role):
                    levels[person] = DIRECTOR
                elif MANAGER_ROLES.search(role):
                    levels[person] = MANAGER
                else:
                    levels[person] = NONE
        if data.has("salespeople", ("manager_id",)):
            for person in data.frame("salespeople")["manager_id"].dropna():
                if levels.get(person) not in (DIRECTOR,):
                    levels[person] = MANAGER
        return levels

    def _level_of(self, approver, levels: dict, employees_known: bool) -> str:
        if not isinstance(approver, str) or not approver.strip():
            return NONE
        if approver in levels:
            return levels[approver]
        # Someone the master data does not know: with an employee list, not an authority.
        return NONE if employees_known else UNKNOWN

    def _limit(self, level: str) -> float:
        return {DIRECTOR: float("inf"), MANAGER: self.manager_pct, UNKNOWN: self.manager_pct}.get(
            level, self.salesperson_pct)

    def _running_promotions(self, lines: pd.DataFrame, approved: pd.Series) -> pd.DataFrame:
        """Promotions the ledger documents: (category, pct) approved for several customers, with dates."""
        key = lines["category"].where(lines["category"].notna(), lines["product_id"])
        promo = lines[(lines["discount_type"] == "promo") & approved].assign(key=key)
        if promo.empty:
            return pd.DataFrame(columns=["key", "discount_pct", "first", "last", "customers"])
        spans = promo.groupby(["key", "discount_pct"]).agg(
            first=("invoice_date", "min"), last=("invoice_date", "max"), customers=("customer_id", "nunique"))
        return spans[spans["customers"] >= self.promo_min_customers].reset_index()

    def _allowed(self, lines: pd.DataFrame, levels: dict, employees_known: bool) -> pd.DataFrame:
        level = _each_distinct(lines["approved_by"], lambda a: self._level_of(a, levels, employees_known))
        limit = _each_distinct(level, self._limit)
        tier = _each_distinct(lines["quantity"], lambda quantity: tier_pct(self.volume_tiers, quantity))
        kind = lines["discount_type"].fillna("manual").replace({"none": "manual"})
        with_authority = level.isin([MANAGER, DIRECTOR, UNKNOWN])
        running = self._running_promotions(lines, with_authority)
        key = lines["category"].where(lines["category"].notna(), lines["product_id"])
        in_promotion = pd.Series(False, index=lines.index)
        for promo in running.itertuples():
            in_promotion |= ((key == promo.key) & (np.abs(lines["discount_pct"] - promo.discount_pct) <= FLOAT_SLACK)
                             & (lines["invoice_date"] >= promo.first) & (lines["invoice_date"] <= promo.last))
        approved_limit = limit.where(with_authority, 0.0)
        allowed = pd.Series(0.0, index=lines.index)
        why = pd.Series("", index=lines.index, dtype=object)
        manual = kind == "manual"
        allowed[manual] = np.maximum(limit[manual], tier[manual])
        why[manual] = np.where(level[manual].isin([MANAGER, DIRECTOR, UNKNOWN]),
                               "the approver's authority for manual discounts",
                               "a salesperson's own authority, without a valid approval")
        volume = kind == "volume"
        allowed[volume] = np.maximum(tier[volume], approved_limit[volume])
        why[volume] = "the volume tier the line's quantity earns"
        promo = kind == "promo"
        documented = promo & (with_authority | in_promotion)
        allowed[documented] = lines.loc[documented, "discount_pct"]
        why[documented] = np.where(with_authority[documented], "promotion approved by an authorised person",
                                   "matches a running promotion")
        undocumented = promo & ~documented
        allowed[undocumented] = tier[undocumented]
        why[undocumented] = "no approval and no running promotion matches: only the volume tier"
        other = ~(manual | volume | promo)  # 'cash' on the line, or any other type
        allowed[other] = np.maximum(approved_limit[other], 0.0)
        why[other] = "a cash discount belongs to the payment, not the invoice line"
        return lines.assign(level=level, tier_pct=tier, kind=kind, allowed_pct=allowed, allowed_why=why,
                            in_promotion=in_promotion)

    # ------------------------------------------------------------ per-invoice part
    def _without_approvals(self, lines: pd.DataFrame) -> pd.DataFrame:
        """Allowed percent when the data records no approval at all. Typed discounts keep their rules (a
        'volume' discount the quantity does not earn, 'cash' on the line, a 'promo' matching no running
        promotion). A manual (or untyped) discount is allowed up to the salesperson's own authority, the
        volume tier, or a common discount (same category and percent for ``promo_min_customers`` customers
        or more); whether a manager approved more is unknown."""
        tier = _each_distinct(lines["quantity"], lambda quantity: tier_pct(self.volume_tiers, quantity))
        kind = lines["discount_type"].fillna("manual").replace({"none": "manual"})
        key = lines["category"].where(lines["category"].notna(), lines["product_id"])

        def matches(candidates: pd.DataFrame) -> pd.Series:
            running = self._running_promotions(candidates, pd.Series(True, index=candidates.index))
            hit = pd.Series(False, index=lines.index)
            for promo in running.itertuples():
                hit |= ((key == promo.key) & (np.abs(lines["discount_pct"] - promo.discount_pct) <= FLOAT_SLACK)
                        & (lines["invoice_date"] >= promo.first) & (lines["invoice_date"] <= promo.last))
            return hit

        manual = kind == "manual"
        common = matches(lines[manual].assign(discount_type="promo")) & manual
        promo = kind == "promo"
        running = matches(lines[promo]) & promo
        volume = kind == "volume"
        allowed = pd.Series(0.0, index=lines.index)
        why = pd.Series("a cash discount belongs to the payment, not the invoice line", index=lines.index,
                        dtype=object)
        allowed[manual] = np.maximum(tier[manual], self.salesperson_pct)
        why[manual] = "a salesperson's own authority or the volume tier (approvals are not recorded)"
        allowed[common] = lines.loc[common, "discount_pct"]
        why[common] = "a discount commonly given on this category"
        allowed[volume] = tier[volume]
        why[volume] = "the volume tier the line's quantity earns"
        allowed[promo] = np.where(running[promo], lines.loc[promo, "discount_pct"], tier[promo])
        why[promo] = np.where(running[promo], "matches a running promotion",
                              "no running promotion matches: only the volume tier")
        return lines.assign(level=UNKNOWN, tier_pct=tier, kind=kind, allowed_pct=allowed, allowed_why=why,
                            in_promotion=common | running)

    def find(self, data) -> pd.DataFrame:
        lines = self._discounted_lines(data)
        self.n_discounted_lines_ = len(lines)
        self.eligible_records_ = len(lines)
        # asked of the engine: reading every invoice line into pandas for one column cost 2.7 GB at 10M lines
        self.approvals_recorded_ = data.holds_values("invoice_lines", "discount_approved_by")
        self.unknown_traces_ = [] if self.approvals_recorded_ else [
            "discount approvals (not recorded): whether someone with authority approved a discount"]
        if not self.approvals_recorded_:
            self.note_ = ("No discount approval is recorded (invoice_lines.discount_approved_by absent or blank): "
                          "authority was not checked; discounts were judged against the volume tiers, the "
                          "discounts commonly given and the salesperson's peers only.")
        if lines.empty:
            return empty_findings()
        employees_known = data.has("employees", ("employee_id",))
        if self.approvals_recorded_:
            lines = self._allowed(lines, self._levels(data), employees_known)
        else:
            lines = self._without_approvals(lines)
        lines["excess_pct"] = lines["discount_pct"] - lines["allowed_pct"]
        lines["gross"] = lines["quantity"] * lines["unit_price"]
        lines["excess_amount"] = lines["gross"] * lines["excess_pct"].clip(lower=0) / 100
        breaches = lines[(lines["excess_pct"] > self.min_excess_pct + FLOAT_SLACK) & (lines["excess_amount"] > 0)]
        rates = self._salesperson_rates(data)
        peer_median = float(rates.loc[rates["gross"] > 0, "rate"].median()) if (rates["gross"] > 0).any() else 0.0
        if not self.approvals_recorded_:
            # Without approvals a discount beyond the rules is no breach by itself: only a salesperson who
            # gives far more than the peers makes it a finding.
            far_above = [p for p in rates.index if peer_median > 0
                         and rates.at[p, "rate"] / peer_median >= self.peer_multiple]
            breaches = breaches[(breaches["kind"] != "manual") | breaches["salesperson_id"].isin(far_above)]
        self.n_breaching_lines_ = len(breaches)
        if breaches.empty:
            return empty_findings()
        favoured = breaches.groupby(["salesperson_id", "customer_id"])["invoice_id"].nunique()
        return pd.DataFrame([
            self._finding(invoice_id, group, rates, peer_median, favoured, breaches, employees_known)
            for invoice_id, group in breaches.groupby("invoice_id", sort=True)])

    def _finding(self, invoice_id, group, rates, peer_median, favoured, breaches, employees_known) -> dict:
        first = group.iloc[0]
        customer, salesperson, when = first["customer_id"], first["salesperson_id"], first["invoice_date"]
        excess = float(group["excess_amount"].sum())
        worst = float(group["excess_pct"].max())
        if self.approvals_recorded_:
            traces = {"discount_beyond_allowed": BASE_BREACH + SIZE_WEIGHT * saturating(worst, self.full_excess_pct)}
        else:
            # approvals unknown: a manual discount beyond the tiers and common discounts is not proven beyond
            # authority; a typed discount its rule does not allow (tier, promotion, cash) still is a breach
            manual_only = bool((group["kind"] == "manual").all())
            traces = {"discount_beyond_rules": UNAPPROVED_UNKNOWN_WEIGHT} if manual_only else {
                "discount_beyond_allowed": BASE_BREACH + SIZE_WEIGHT * saturating(worst, self.full_excess_pct)}
        rate = float(rates.at[salesperson, "rate"]) if salesperson in rates.index else 0.0
        peer_ratio = rate / peer_median if peer_median > 0 else (np.inf if rate > 0 else 0.0)
        if peer_ratio >= self.peer_multiple:
            traces["salesperson_far_above_peers"] = PEER_WEIGHT
        repeats = int(favoured.get((salesperson, customer), 1))
        if repeats > 1:
            traces["favoured_customer"] = FAVOURED_WEIGHT
        score = combine_traces(traces.values())
        others = []
        if repeats > 1:
            others = sorted(set(breaches.loc[(breaches["salesperson_id"] == salesperson)
                                             & (breaches["customer_id"] == customer), "invoice_id"]) - {invoice_id})
        evidence = {
            "excess_amount": excess, "authority_pct": {"salesperson": self.salesperson_pct,
                                                       "manager": self.manager_pct},
            "lines": group[["line_no", "product_id", "quantity", "gross", "kind", "discount_pct", "approved_by",
                            "level", "tier_pct", "allowed_pct", "allowed_why", "excess_pct",
                            "excess_amount"]].to_dict(orient="records"),
            "salesperson_discount_rate": rate, "peer_median_rate": peer_median,
            "customer_invoices_with_unallowed_discounts": repeats,
            "traces": {k: round(v, 4) for k, v in traces.items()},
        }
        if not self.approvals_recorded_:
            evidence["not_checked"] = ["discount approvals (not recorded)"]
        approvers = [a for a in group["approved_by"] if isinstance(a, str)]
        invoice_no = first.get("invoice_no") if isinstance(first.get("invoice_no"), str) else invoice_id
        facts = {"invoice_no": invoice_no, "invoice_date": when, "peer_ratio": peer_ratio, "other_invoices": others,
                 "approvals_recorded": self.approvals_recorded_, "employees_known": employees_known}
        return {
            "entity_id": invoice_id, "salesperson_id": salesperson, "customer_id": customer,
            "period": month_of(when), "score": score, "risk_amount": excess,
            "evidence": evidence, "facts": facts,
            "related": related_ids(("invoice", [invoice_id]), ("customer", [customer]), ("salesperson", [salesperson]),
                                   ("employee", approvers), ("product", group["product_id"])),
        }
