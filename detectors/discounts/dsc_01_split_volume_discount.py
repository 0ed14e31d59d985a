"""split_volume_discount: one big tier-discounted order booked under one customer, shared among several."""

from __future__ import annotations

import functools
import re

import ibis
import numpy as np
import pandas as pd
from scipy.stats import binom, poisson

from audit.common import haversine_m, month_of, saturating
from audit.detector import Detector, empty_findings, related_ids
from audit.ledger import posted_invoices
from audit.membership import among, isin
from audit.policy import DEFAULTS
from detectors.wording import split_volume_discount

# How the traces add up (weights sum to 1): the quantity is the core of the pattern; the shipments
# say where the goods went; the co-buyers' dip is the confirmation.
WEIGHT_QUANTITY = 0.45
WEIGHT_SHIPMENTS = 0.40
WEIGHT_DIP = 0.15
# Strength of the shipment trace: deliveries reaching other customers (their address or their owner);
# several delivery points; a single delivery elsewhere or to a stranger (diverted, but not shown shared).
SHARED_WITH_CUSTOMERS, SEVERAL_POINTS, ELSEWHERE_ONLY = 1.0, 0.8, 0.4
# With no shipment data, only the quantity speaks: its contribution is scaled down by this factor.
NO_SHIPMENT_CONFIDENCE = 0.6
# When no delivery names the co-buyers (the goods went whole to the booker, or nothing is recorded), the
# salesperson's other customers are searched for them: more of them stopping buying in the same weeks
# than chance allows adds up to this weight (scaled by how improbable the stops are).
WEIGHT_UNNAMED_DIP = 0.25


# Months as integers (year * 12 + month), and a span that keeps (customer, month) pairs apart in one integer.
MONTH_SPAN = 1 << 20


def _month_numbers(dates: pd.Series) -> np.ndarray:
    dates = pd.to_datetime(dates)
    # An undated invoice gets a month of its own, inside its customer's span.
    return (dates.dt.year * 12 + dates.dt.month - 1).fillna(MONTH_SPAN - 1).to_numpy(dtype=np.int64)


def _window_pace(dates: pd.Series, start, end, window_days: int, counts=None) -> tuple[float, float | None, pd.Series]:
    """Records dated inside [start, end], and how many a window of ``window_days`` holds at the pace of
    the records outside it (None when there are none outside); also the dates outside. ``counts`` weighs
    each date (a day's number of invoices) instead of counting it once."""
    inside_mask = ((dates >= start) & (dates <= end)).to_numpy()
    weights = np.ones(len(dates)) if counts is None else np.asarray(counts, dtype=float)
    inside = weights[inside_mask].sum()
    outside = dates[~inside_mask]
    if outside.empty:
        return inside, None, outside
    span = max((outside.max() - outside.min()).days + 1, window_days)
    total = len(outside) if counts is None else float(weights[~inside_mask].sum())
    return inside, total / max(span - window_days, window_days) * window_days, outside


DAY_NS = 86_400 * 10**9


def _neighbour_pace(dates_ns: np.ndarray, start, end, window_days: int) -> tuple[int, float | None, float]:
    """``_window_pace`` of one neighbour's invoice dates (nanoseconds since the epoch, as numpy integers: this
    runs for every neighbour of every candidate), and the spread of its weekly counts outside the window
    (variance over mean of the Monday-to-Sunday weeks from its first to its last date, at least 1)."""
    start_ns, end_ns = pd.Timestamp(start).as_unit("ns").value, pd.Timestamp(end).as_unit("ns").value
    inside_mask = (dates_ns >= start_ns) & (dates_ns <= end_ns)
    inside = int(inside_mask.sum())
    outside = dates_ns[~inside_mask]
    if outside.size == 0:
        return inside, None, 1.0
    days = outside // DAY_NS
    span = max(int(outside.max() - outside.min()) // DAY_NS + 1, window_days)
    expected = outside.size / max(span - window_days, window_days) * window_days
    weeks = (days + 3) // 7  # 1970-01-01 was a Thursday: weeks start on Monday, as pandas' "W" periods
    # variance (n - 1) over mean of the weekly counts, worked out as pandas' Series.var and .mean do (in numpy:
    # a Series per neighbour of every candidate cost more than the counting)
    weekly = np.bincount(weeks - weeks.min()).astype(np.float64)
    mean = weekly.sum() / weekly.size
    spread = 1.0
    if weekly.size > 1 and mean > 0:
        spread = max(1.0, float(((mean - weekly) ** 2).sum() / (weekly.size - 1) / mean))
    return inside, expected, spread


def _normal_text(value) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return _normalised(value)


@functools.lru_cache(maxsize=1 << 16)
def _normalised(value: str) -> str | None:
    # every customer's address and owner are read for the directory and again for its own entry
    return re.sub(r"[^0-9a-z\u0600-\u06ff]+", " ", value.lower()).strip() or None


class SplitVolumeDiscount(Detector):
    """Tier-discounted invoice lines far above the customer's usual quantity, the goods shared out.

    What it finds
    -------------
    Posted invoice lines that earned a volume-tier discount (``[discounts] volume_tiers``: quantity at or
    above the first tier, a volume or untyped discount; a promotion line at tier quantity is looked at
    too, since a promotion that beats the tier hides it) with a quantity at least ``usual_multiple``
    times the customer's usual line quantity (the median of its other invoice lines). Traces combined
    into the score: how far above usual the quantity is; the invoice's shipments reaching other
    customers (their address, or received by their owner), else going to several delivery points, else
    a single delivery elsewhere or to a stranger (a weaker sign: diverted, not shown shared); and those
    other customers' own purchases dipping from ``dip_days_before`` days before the invoice to
    ``dip_days_after`` days after it (at most ``dip_ratio`` of their usual number of invoices). When no
    delivery names other customers (the goods went whole to the booker, or no shipment is recorded), the
    co-buyers are looked for among the salesperson's other regular customers (at least
    ``min_expected_invoices`` in a window of that length): each one's invoices in the window against its
    own pace, scaled by how the whole ledger and the rest of the salesperson's customers bought in those
    weeks (a holiday, a salesperson away) and read on the scale of its own week-to-week variation; more
    of them stopping than chance allows (a binomial tail on the k-th most improbable stop, multiplied by
    the number of invoices tested) adds up to ``WEIGHT_UNNAMED_DIP``, from ``10 ** -dip_from_log10`` to
    ``10 ** -dip_full_log10``. Without shipment data the quantity otherwise speaks alone, with lower
    confidence. Findings below ``min_score`` are dropped. Left out: the invoices of accounts CUS-01 finds
    made up (this detector reads its findings): an account that exists only on paper books no order for
    others; its goods went elsewhere, and fictitious_customer reports them.

    Why it matters
    --------------
    Small shops pool their orders under one account so that the total crosses a volume tier; the
    salesperson books it, the shops share a discount none of them earned, and the company loses the
    tier discount on goods that were never one bulk sale.

    Flagged
    -------
    A retail shop that usually buys 8 units per line is invoiced 703 bags of rice at the 6 % tier; the
    shipment is split into four deliveries, three of them to other customers' shops, whose own
    purchases stop for the next three weeks: flagged, money at risk the 6 % discount (2,240,000 on
    37,300,000 of goods).

    Not flagged
    -----------
    A wholesaler that buys 600 to 900 units at the tier every month and takes delivery at its own
    address: its tier-level purchases recur in ``regular_bulk_months`` or more other months, so a bulk
    order is its usual business. A growing shop's big order delivered to itself scores on quantity
    alone, below ``min_score``, while the salesperson's other customers buy as usual; so does one taken
    in weeks when all of them buy less.

    Evidence
    --------
    Per tier line: quantity, the customer's usual quantity and the multiple, discount and goods value
    (money at risk is the volume discount; a promotion line's discount is not at risk, since the
    promotion applied whatever the quantity); the shipments (address, receiver, quantity) and the other customers they reached; each
    co-buyer's invoices in the window against its usual rate; each trace's contribution in ``traces``.
    """

    code = "DSC-01"
    # an account CUS-01 finds made up books no order for others: its goods went elsewhere (CUS-01 reports it)
    reads_findings = ("CUS-01",)
    pattern = "split_volume_discount"
    wording = split_volume_discount.words
    entity_type = "invoice"
    family = "discounts"
    requires = {
        "invoices": ("invoice_id", "invoice_date", "customer_id", "salesperson_id"),
        "invoice_lines": ("invoice_id", "line_no", "product_id", "quantity", "unit_price", "discount_pct"),
    }
    uses = {
        "invoices": ("status", "invoice_no", "order_id"),
        "invoice_lines": ("discount_type",),
        "shipments": ("shipment_id", "invoice_id", "ship_date", "delivery_address", "delivery_lat", "delivery_lon",
                      "received_by"),
        "shipment_lines": ("shipment_id", "product_id", "quantity"),
        "customers": ("address", "owner_name", "lat", "lon", "customer_class"),
    }

    def __init__(self, first_tier_quantity: float = 100.0, usual_multiple: float = 5.0,
                 regular_bulk_months: int = 3, same_place_m: float = DEFAULTS.visits.geofence_m, dip_days_before: int = 7,
                 dip_days_after: int = 28, dip_ratio: float = 0.5, min_score: float = 0.5,
                 min_expected_invoices: float = 2.0, dip_from_log10: float = 1.0, dip_full_log10: float = 3.0):
        self.first_tier_quantity = first_tier_quantity
        self.usual_multiple = usual_multiple
        self.regular_bulk_months = regular_bulk_months
        self.same_place_m = same_place_m
        self.dip_days_before = dip_days_before
        self.dip_days_after = dip_days_after
        self.dip_ratio = dip_ratio
        self.min_score = min_score
        # the unnamed co-buyers' test: neighbours that buy at least this often in a window of the dip's
        # length, and the improbability (log10, after the number of invoices tested) from which their
        # stops start to count and at which they count fully
        self.min_expected_invoices = min_expected_invoices
        self.dip_from_log10 = dip_from_log10
        self.dip_full_log10 = dip_full_log10

    @classmethod
    def params_from_policy(cls, policy):
        tiers = policy.discounts.volume_tiers
        params = {"same_place_m": policy.visits.geofence_m}
        if tiers:
            params["first_tier_quantity"] = min(t.min_quantity for t in tiers)
        return params

    # ------------------------------------------------------------ relational part
    def _tier_lines(self, data) -> pd.DataFrame:
        lines = data.table("invoice_lines")
        invoices = posted_invoices(data)
        joined = lines.join(invoices, "invoice_id")
        tiered = (lines.quantity >= self.first_tier_quantity) & (lines.discount_pct.fill_null(0) > 0)
        if data.has("invoice_lines", ("discount_type",)):
            tiered = tiered & (lines.discount_type.isnull() | lines.discount_type.isin(["volume", "promo"]))
            extra_lines = {"discount_type": lines.discount_type}
        else:
            extra_lines = {"discount_type": ibis.null("string")}
        extra = {"invoice_no": invoices.invoice_no} if data.has("invoices", ("invoice_no",)) else {}
        if data.has("invoices", ("order_id",)):
            extra["order_id"] = invoices.order_id
        selected = joined.filter(tiered).select(
            lines.invoice_id, lines.line_no, lines.product_id, lines.quantity, lines.unit_price, lines.discount_pct,
            invoices.invoice_date, invoices.customer_id, invoices.salesperson_id, **extra_lines, **extra)
        return data.execute(selected.order_by(["invoice_id", "line_no"]))

    def _customer_lines(self, data, customers) -> pd.DataFrame:
        """Every posted line of the given customers: its quantity, invoice and date."""
        lines = data.table("invoice_lines")
        invoices = posted_invoices(data)
        # the distinct ids first: a set of every tier line's id iterates the column in Python
        invoices = invoices.filter(among(invoices.customer_id, sorted(set(customers.drop_duplicates()))))
        joined = lines.join(invoices, "invoice_id").select(
            invoices.customer_id, lines.invoice_id, invoices.invoice_date, lines.quantity)
        return data.execute(joined)

    # ------------------------------------------------------------ per-invoice part
    def find(self, data) -> pd.DataFrame:
        tier = self._tier_lines(data)
        self.n_tier_lines_ = len(tier)
        if tier.empty:
            return empty_findings()
        # Reduce first: a line cannot be far above usual unless it is well above the customer's overall
        # median (the median of the other invoices moves little when one invoice is left out).
        history = self._customer_lines(data, tier["customer_id"])
        overall = history.groupby("customer_id")["quantity"].median()
        rough = tier["quantity"] / tier["customer_id"].map(overall)
        tier = tier[rough.isna() | (rough >= self.usual_multiple / 2)]
        if tier.empty:
            return empty_findings()
        history = history[isin(history["customer_id"], tier["customer_id"])]  # medians ignore row order
        tier = self._with_usual(tier, history)
        candidates = tier[tier["multiple"].isna() | (tier["multiple"] >= self.usual_multiple)]
        candidates = candidates[candidates["other_bulk_months"] < self.regular_bulk_months]
        made_up = self._made_up(data)
        candidates = candidates[~candidates["customer_id"].isin(made_up)]
        self.n_far_above_usual_ = int(candidates["invoice_id"].nunique())
        if candidates.empty:
            return empty_findings()
        invoice_ids = sorted(set(candidates["invoice_id"]))
        shipments = self._shipments(data, invoice_ids)
        customers = data.frame("customers") if data.has("customers") else None
        keys = self._normal_keys(customers)
        self._places_ = self._directory(customers, keys)
        self._own_ = {} if customers is None else dict(zip(
            keys["customer_id"], zip(keys["address"], keys["owner_name"], strict=True), strict=True))
        # each customer's first row in the master data, found once (a scan of every customer per candidate
        # grew with candidates x customers)
        self._customer_row_ = {}
        for position, customer_id in enumerate(keys["customer_id"]):
            if customer_id == customer_id:  # a missing id (NaN) is no customer's, as == found none
                self._customer_row_.setdefault(customer_id, position)
        activity = self._activity(data, shipments, customers, candidates)
        # each co-buyer's invoice dates, split once (a scan of every reached customer's invoices per co-buyer)
        self._activity_of_ = dict(list(activity.groupby("customer_id", sort=False)["invoice_date"])) \
            if len(activity) else {}
        self._neighbours_ = self._neighbour_activity(data, candidates)
        self._n_tested_ = int(candidates["invoice_id"].nunique())
        findings = []
        for invoice_id, group in candidates.groupby("invoice_id", sort=True):
            finding = self._finding(invoice_id, group, shipments, customers, activity, data)
            if finding is not None:
                findings.append(finding)
        return pd.DataFrame(findings) if findings else empty_findings()

    def _with_usual(self, tier: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
        """The customer's usual line quantity (median of its other invoices' lines) and its bulk months
        (months other than the invoice's with a line at tier quantity), for every tier line at once.

        Each customer's quantities are sorted once; leaving an invoice out removes a few known positions
        from that sorted run, so the median of the rest is read at shifted positions instead of sorting
        the rest again for every invoice (which cost seconds per 100,000 lines).
        """
        history = history[history["customer_id"].notna()]
        if history.empty:
            return tier.assign(usual_quantity=np.nan, multiple=np.nan, other_bulk_months=0)
        codes, customers = pd.factorize(history["customer_id"])
        quantities = history["quantity"].to_numpy(dtype=float)
        order = np.lexsort((quantities, codes))  # by customer, then quantity (NaN last)
        sorted_quantities = quantities[order]
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        n_lines = np.bincount(codes, minlength=len(customers))
        first = np.concatenate([[0], np.cumsum(n_lines)[:-1]]).astype(np.int64)
        n_missing = np.bincount(codes, weights=np.isnan(quantities), minlength=len(customers))
        months = _month_numbers(history["invoice_date"])
        bulk = quantities >= self.first_tier_quantity
        bulk_months = pd.unique(codes[bulk] * MONTH_SPAN + months[bulk])
        bulk_month_count = np.bincount(bulk_months // MONTH_SPAN, minlength=len(customers))
        bulk_month_set = pd.Index(bulk_months)

        pairs = tier[["customer_id", "invoice_id", "invoice_date"]].drop_duplicates(["customer_id", "invoice_id"])
        pairs = pairs.reset_index(drop=True)
        pair_customer = customers.get_indexer(pairs["customer_id"])
        # The invoice's own lines in its customer's sorted run (local positions, ascending per invoice).
        own = pd.DataFrame({"customer_id": history["customer_id"].to_numpy(), "invoice_id": history["invoice_id"].to_numpy(),
                            "local": rank - first[codes], "missing": np.isnan(quantities)})
        own = own.merge(pairs[["customer_id", "invoice_id"]].assign(pair=np.arange(len(pairs))),
                        on=["customer_id", "invoice_id"]).sort_values(["pair", "local"], kind="mergesort")
        n_own = np.bincount(own["pair"], minlength=len(pairs))
        own_missing = np.bincount(own["pair"], weights=own["missing"], minlength=len(pairs))
        width = int(n_own.max()) if len(own) else 0
        removed = np.full((len(pairs), width), np.iinfo(np.int64).max)
        removed[own["pair"].to_numpy(), own.groupby("pair").cumcount().to_numpy()] = own["local"].to_numpy()

        known = pair_customer >= 0
        customer = np.where(known, pair_customer, 0)
        rest = np.where(known, n_lines[customer] - n_own, 0)

        def kept_at(k: np.ndarray) -> np.ndarray:
            """The quantity at position k of the customer's sorted run once the invoice's lines are removed."""
            position = k.copy()
            for column in range(width):  # removed positions ascending: each at or before moves k one on
                position += removed[:, column] <= position
            return sorted_quantities[first[customer] + np.minimum(position, n_lines[customer] - 1)]

        has_rest = known & (rest > 0)
        lower, upper = kept_at(np.maximum(rest - 1, 0) // 2), kept_at(np.maximum(rest, 0) // 2)
        usual = np.where(has_rest, (lower + upper) / 2.0, np.nan)
        usual[has_rest & (n_missing[customer] - own_missing > 0)] = np.nan  # np.median of a NaN is NaN
        own_month = customer * MONTH_SPAN + _month_numbers(pairs["invoice_date"])
        in_own_month = bulk_month_set.get_indexer(own_month) >= 0
        other_months = np.where(has_rest, bulk_month_count[customer] - in_own_month, 0)

        line_pair = pd.MultiIndex.from_frame(pairs[["customer_id", "invoice_id"]]).get_indexer(
            pd.MultiIndex.from_arrays([tier["customer_id"], tier["invoice_id"]]))
        usual_of_line = usual[line_pair]
        return tier.assign(usual_quantity=usual_of_line, multiple=tier["quantity"].to_numpy() / usual_of_line,
                           other_bulk_months=other_months[line_pair].astype(int))

    def _shipments(self, data, invoice_ids) -> pd.DataFrame:
        columns = ["shipment_id", "invoice_id", "ship_date", "delivery_address", "delivery_lat", "delivery_lon",
                   "received_by", "quantity"]
        if not data.has("shipments", ("shipment_id", "invoice_id")):
            return pd.DataFrame(columns=columns)
        shipments = data.frame_among("shipments", "invoice_id", invoice_ids)  # the candidates' only
        for column in columns[:-1]:
            if column not in shipments:
                shipments = shipments.assign(**{column: None})
        shipments = shipments[columns[:-1]]
        if data.has("shipment_lines", ("shipment_id", "quantity")):
            lines = data.frame_among("shipment_lines", "shipment_id", shipments["shipment_id"])
            quantity = lines.groupby("shipment_id")["quantity"].sum()
            shipments = shipments.assign(quantity=shipments["shipment_id"].map(quantity))
        else:
            shipments = shipments.assign(quantity=np.nan)
        return shipments.sort_values(["invoice_id", "shipment_id"]).reset_index(drop=True)

    @staticmethod
    def _normal_keys(customers) -> dict[str, list]:
        """Each customer's id, normalised address and normalised owner name (None where missing), as lists:
        read once for the directory and for each customer's own entry."""
        if customers is None:
            return {"customer_id": [], "address": [], "owner_name": []}
        keys = {"customer_id": customers["customer_id"].tolist()}
        for column in ("address", "owner_name"):
            keys[column] = ([_normal_text(value) for value in customers[column].tolist()] if column in customers
                            else [None] * len(customers))
        return keys

    @staticmethod
    def _directory(customers, keys: dict[str, list]) -> dict:
        """Customers by normalised address and by normalised owner name (``keys``: ``_normal_keys``)."""
        directory = {"address": {}, "owner_name": {}}
        if customers is None:
            return directory
        for column in directory:
            if column in customers:
                for key, customer_id in zip(keys[column], keys["customer_id"], strict=True):
                    if key:
                        directory[column].setdefault(key, set()).add(customer_id)
        return directory

    def _other_customers(self, shipment, customer_id) -> list[str]:
        """Other customers a delivery reached: delivered at another customer's address (not this one's),
        or received by another customer's owner (not this customer's own owner, who may own several)."""
        own_address, own_owner = self._own_.get(customer_id, (None, None))
        address = _normal_text(shipment.get("delivery_address"))
        receiver = _normal_text(shipment.get("received_by"))
        found = set()
        if address and address != own_address:
            found |= self._places_["address"].get(address, set())
        if receiver and receiver != own_owner:
            found |= self._places_["owner_name"].get(receiver, set())
        found.discard(customer_id)
        return sorted(found)

    def _activity(self, data, shipments, customers, candidates) -> pd.DataFrame:
        """Posted invoices (customer, date) of every customer the candidate shipments reached."""
        reached = set()
        owner = candidates.drop_duplicates("invoice_id").set_index("invoice_id")["customer_id"]
        for shipment in shipments.to_dict(orient="records"):
            reached |= set(self._other_customers(shipment, owner.get(shipment["invoice_id"])))
        if not reached:
            return pd.DataFrame(columns=["customer_id", "invoice_date"])
        invoices = posted_invoices(data)
        invoices = invoices.filter(among(invoices.customer_id, sorted(reached)))
        return data.execute(invoices.select("customer_id", "invoice_date"))

    def _dip(self, customer_id, when, activity) -> dict:
        """The co-buyer's invoices in the window against its usual rate outside the window."""
        own = self._activity_of_.get(customer_id)
        if own is None:
            own = activity["invoice_date"].iloc[:0]
        start, end, window_days = self._window(when)
        inside, expected, _ = _window_pace(own, start, end, window_days)
        inside = int(inside)
        if expected is None:
            return {"customer_id": customer_id, "in_window": inside, "expected": None, "dipped": False}
        dipped = expected >= 1 and inside <= self.dip_ratio * expected
        return {"customer_id": customer_id, "in_window": inside, "expected": round(expected, 2),
                "dipped": bool(dipped)}

    def _window(self, when) -> tuple[pd.Timestamp, pd.Timestamp, int]:
        """The dip's window around an invoice date: its first and last day and its length in days."""
        return (when - pd.Timedelta(days=self.dip_days_before), when + pd.Timedelta(days=self.dip_days_after),
                self.dip_days_before + self.dip_days_after + 1)

    def _neighbour_activity(self, data, candidates) -> dict:
        """The posted invoices (customer, salesperson, date) of the candidates' salespeople, and the whole
        ledger's invoices per day (a window where everyone buys less, a holiday, lowers every expectation)."""
        salespeople = sorted({s for s in candidates["salesperson_id"] if isinstance(s, str)})
        invoices = posted_invoices(data)
        mine = invoices.filter(among(invoices.salesperson_id, salespeople) & invoices.invoice_date.notnull())
        rows = data.execute(mine.select("customer_id", "salesperson_id", "invoice_date"))
        dated = invoices.filter(invoices.invoice_date.notnull())
        daily = data.execute(dated.group_by("invoice_date").aggregate(n=dated.count()))
        daily = daily.set_index(pd.to_datetime(daily["invoice_date"]))["n"].sort_index()
        rows = rows.assign(invoice_date=pd.to_datetime(rows["invoice_date"]))
        # each salesperson's customers and their invoice dates, grouped once for every candidate invoice
        by_salesperson = {salesperson: [(c, dates.to_numpy(dtype="datetime64[ns]").astype(np.int64))
                                        for c, dates in group.groupby("customer_id", sort=True)["invoice_date"]]
                          for salesperson, group in rows.groupby("salesperson_id", sort=False)}
        return {"by_salesperson": by_salesperson, "daily": daily}

    def _unnamed_dip(self, customer, salesperson, when) -> dict:
        """The booker's fellow customers (same salesperson) that stop buying in the dip's window: how many
        of the regular ones dipped, and how improbable that many stops are by chance. Each neighbour's
        expected invoices come from its own rate outside the window, scaled by how the whole ledger bought
        in the window; the chance of each one's dip is Poisson, the chance of that many dips their exact
        sum, multiplied by the number of invoices tested."""
        empty = {"neighbours_tested": 0, "dipped": [], "probability": 1.0, "strength": 0.0}
        if not isinstance(salesperson, str):
            return empty
        start, end, window_days = self._window(when)
        daily = self._neighbours_["daily"]
        inside_all, ledger_expected, _ = _window_pace(daily.index.to_series(), start, end, window_days, daily.to_numpy())
        if ledger_expected is None:
            return empty
        ledger_ratio = min(1.0, inside_all / ledger_expected) if ledger_expected > 0 else 1.0
        # Each regular neighbour's invoices in the window and its rate outside it (scaled by the ledger's)
        measured = []
        for neighbour, dates in self._neighbours_["by_salesperson"].get(salesperson, []):
            if neighbour == customer:
                continue
            # A buyer whose weeks vary more than chance (bursts, quiet months) makes a stop less telling:
            # its counts are read on the scale of that variation (quasi-Poisson).
            inside, expected, spread = _neighbour_pace(dates, start, end, window_days)
            if expected is None:
                continue
            expected = expected * ledger_ratio
            if expected < self.min_expected_invoices:
                continue  # too irregular a buyer for a stop to mean anything
            measured.append((neighbour, inside, expected, spread))
        dipped, chances = [], []
        all_inside = sum(m[1] for m in measured)
        all_expected = sum(m[2] for m in measured)
        for neighbour, inside, expected, spread in measured:
            # The salesperson's other customers in the same weeks: when they all buy less (the salesperson
            # away, a route changed), one more stopping is that, not a co-buyer.
            others_expected = all_expected - expected
            portfolio = min(1.0, (all_inside - inside) / others_expected) if others_expected > 0 else 1.0
            expected = expected * portfolio
            if expected < self.min_expected_invoices / 2:
                continue
            chance = float(poisson.cdf(np.floor(inside / spread), expected / spread))
            chances.append(chance)
            if inside <= self.dip_ratio * expected:
                dipped.append({"customer_id": neighbour, "in_window": inside, "expected": round(expected, 2),
                               "spread": round(spread, 2), "portfolio_ratio": round(portfolio, 4),
                               "chance": chance})
        tested = len(chances)
        if not dipped:
            return {**empty, "neighbours_tested": tested}
        # At least k of the n regular neighbours as improbable as the k-th most improbable dip: a binomial
        # tail at that level, the smallest over k, for the k tried and the invoices tested.
        levels = sorted(d["chance"] for d in dipped)
        probability = min(float(binom.sf(k - 1, tested, level)) for k, level in enumerate(levels, start=1))
        probability = min(1.0, probability * len(levels))
        surprise = -np.log10(max(min(1.0, probability * max(self._n_tested_, 1)), 1e-300))
        strength = min(1.0, max(0.0, (surprise - self.dip_from_log10)
                                / max(self.dip_full_log10 - self.dip_from_log10, 1e-9)))
        return {"neighbours_tested": tested, "dipped": dipped, "ledger_ratio": round(ledger_ratio, 4),
                "probability": probability, "one_in": round(1 / probability) if probability > 0 else None,
                "invoices_tested": self._n_tested_, "strength": round(strength, 4)}

    @staticmethod
    def _made_up(data) -> set:
        """Accounts CUS-01 finds made up (its findings, which the runner hands over)."""
        found = data.findings
        if found.empty or "detector" not in found.columns:
            return set()
        return set(found.loc[found["detector"] == "CUS-01", "entity_id"].astype(str))

    def _finding(self, invoice_id, group, shipments, customers, activity, data) -> dict | None:
        first = group.iloc[0]
        customer, salesperson, when = first["customer_id"], first["salesperson_id"], first["invoice_date"]
        row = self._customer_row_.get(customer) if customers is not None else None
        own = None if row is None else customers.iloc[row]
        # Trace 1: quantity far above the customer's usual (unknown usual: a first purchase at tier level).
        multiple = group["multiple"].max()
        if pd.isna(multiple):
            quantity_trace = 0.5
        else:
            quantity_trace = 0.6 + 0.4 * saturating(multiple / self.usual_multiple - 1, 3.0)
        # Trace 2: where the goods went.
        sent = shipments[shipments["invoice_id"] == invoice_id]
        others, places, foreign = [], set(), 0
        for shipment in sent.to_dict(orient="records"):
            reached = self._other_customers(shipment, customer)
            others.extend(reached)
            address = _normal_text(shipment.get("delivery_address"))
            if address:
                places.add(address)
            off_address = own is not None and address and _normal_text(own.get("address")) not in (None, address)
            far = own is not None and pd.notna(shipment.get("delivery_lat")) and pd.notna(own.get("lat")) and float(
                haversine_m(own["lat"], own["lon"], shipment["delivery_lat"], shipment["delivery_lon"])
            ) > self.same_place_m
            other_receiver = own is not None and _normal_text(shipment.get("received_by")) not in (
                None, _normal_text(own.get("owner_name")))
            if off_address or far or other_receiver or reached:
                foreign += 1
        others = sorted(set(others))
        if sent.empty:
            shipment_trace = None
        elif others:
            shipment_trace = SHARED_WITH_CUSTOMERS
        elif len(places) > 1:
            shipment_trace = SEVERAL_POINTS
        elif foreign:
            shipment_trace = ELSEWHERE_ONLY
        else:
            shipment_trace = 0.0
        # Trace 3: the co-buyers' own purchases dip in the same weeks.
        dips = [self._dip(c, when, activity) for c in others]
        dip_trace = float(np.mean([d["dipped"] for d in dips])) if dips else 0.0
        # Trace 3 without named co-buyers: the salesperson's other customers stopping in those weeks.
        unnamed = self._unnamed_dip(customer, salesperson, when) if not others else None
        if shipment_trace is None:
            traces = {"quantity_far_above_usual": round(NO_SHIPMENT_CONFIDENCE * quantity_trace, 4)}
        else:
            traces = {"quantity_far_above_usual": round(WEIGHT_QUANTITY * quantity_trace, 4),
                      "shipped_to_others": round(WEIGHT_SHIPMENTS * shipment_trace, 4),
                      "co_buyers_purchases_dip": round(WEIGHT_DIP * dip_trace, 4)}
        if unnamed is not None and unnamed["strength"] > 0:
            traces["salesperson_customers_stop"] = round(WEIGHT_UNNAMED_DIP * unnamed["strength"], 4)
        score = sum(traces.values())
        if score < self.min_score:
            return None
        gross = group["quantity"] * group["unit_price"]
        # A promotion would have applied whatever the quantity: only volume (or untyped) discounts were
        # earned by booking the volume under one account.
        by_volume = group["discount_type"].fillna("volume") != "promo"
        discount = float((gross * group["discount_pct"] / 100)[by_volume].sum())
        goods = float((gross * (1 - group["discount_pct"] / 100)).sum())
        evidence = {
            "discount_granted": discount, "goods_value": goods, "usual_multiple": self.usual_multiple,
            "lines": group[["line_no", "product_id", "quantity", "unit_price", "discount_pct", "discount_type",
                            "usual_quantity",
                            "multiple", "other_bulk_months"]].to_dict(orient="records"),
            "shipments": sent.to_dict(orient="records"), "other_customers": others, "co_buyers": dips,
            "unnamed_co_buyers": unnamed, "traces": traces,
        }
        order_id = first.get("order_id")
        return {
            "entity_id": invoice_id, "salesperson_id": salesperson, "customer_id": customer,
            "period": month_of(when), "score": score, "risk_amount": discount,
            "evidence": evidence,
            "facts": {"invoice_no": first.get("invoice_no", invoice_id), "invoice_date": when,
                      "shipment_trace": shipment_trace},
            "related": related_ids(("invoice", [invoice_id]), ("customer", [customer]), ("salesperson", [salesperson]),
                                   ("order", [order_id] if isinstance(order_id, str) else []),
                                   ("shipment", sent["shipment_id"]), ("customer", others),
                                   ("product", group["product_id"])),
        }
