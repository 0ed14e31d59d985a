"""duplicate_invoice: the same sale billed twice to one customer."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd

from analyses.standard.posted_totals import invoice_totals
from audit.common import combine_traces, month_of
from audit.detector import Detector, empty_findings, related_ids
from audit.ledger import line_net
from audit.membership import among
from detectors.standard.reversals import credit_note_reversals
from detectors.wording import duplicate_invoice

PAIR_COLUMNS = ("invoice_id", "invoice_no", "invoice_date", "amount", "n_lines", "order_id")


class DuplicateInvoice(Detector):
    """A posted invoice that repeats another posted invoice of the same customer days earlier.

    What it finds
    -------------
    Pairs of posted invoices of one customer dated at most ``window_days`` calendar days apart whose
    amounts differ by at most ``amount_tolerance_pct`` %. The later one is a duplicate when its lines are
    identical to the earlier one's (same products, quantities, prices and discounts), or nearly so (at
    least ``min_line_similarity`` of the value on the same products) with a trace that it is not a sale
    of its own: it bills the same order as the earlier one, names no order where invoices normally do,
    or no shipment names it while the earlier one was shipped. A later invoice backed by an order of
    its own and by its own shipment is a repeat order, not a copy. Cancelled invoices are not posted and
    never pair, and a pair one of whose invoices a credit note reverses in full is a corrected bill (a
credit note without ``invoice_id`` is matched to the invoice of its customer and amount dated up to
``reversal_window_days`` before it: ``detectors.standard.reversals``).

    Why it matters
    --------------
    A second bill for one sale inflates the salesperson's figures (targets, commission) and the
    customer's balance. If the customer pays it, the company owes the money back; if not, it sits in
    receivables until written off — or someone pockets a payment against it.

    Flagged
    -------
    Invoice INV-0000088 of 2025-01-03, 3 lines, 41,272,000, to customer C000580 repeats INV-0000022 of
    2025-01-01 line for line; it names no order (99.9 % of invoices do) and nothing was shipped
    against it: flagged, money at risk 41,272,000.

    Not flagged
    -----------
    The reissue of a cancelled invoice for the same order: the earlier copy is cancelled, so only one
    invoice is posted. A wholesaler that orders the same basket every week: each invoice bills its own
    order and its own shipment. An invoice reversed by a credit note and billed again.

    Evidence
    --------
    Both invoices (number, date, amount, lines, order, shipments), the days between them, whether the
    lines are identical or their value similarity, the order and shipment traces with the company's
    share of invoices that name an order or a shipment, and each trace's contribution to the score.
    """

    code = "STD-02"
    pattern = "duplicate_invoice"
    wording = duplicate_invoice.words
    entity_type = "invoice"
    family = "standard"
    requires = {
        "invoices": ("invoice_id", "invoice_no", "invoice_date", "customer_id", "salesperson_id"),
        "invoice_lines": ("invoice_id", "product_id", "quantity", "unit_price"),
    }
    uses = {
        "invoices": ("status", "order_id"),
        "invoice_lines": ("discount_pct",),
        "orders": ("order_id",),
        "shipments": ("shipment_id", "invoice_id", "ship_date"),
        "credit_notes": ("credit_note_id", "credit_date", "customer_id", "amount", "invoice_id"),
    }
    # A specific fraud pattern whose money at risk is an observed amount (the copy's): full weight.
    rank_weight = 1.0

    def __init__(self, window_days: int = 14, amount_tolerance_pct: float = 1.0, min_line_similarity: float = 0.9,
                 routine_share: float = 0.5, reversal_window_days: int = 30):
        self.window_days = window_days
        self.amount_tolerance_pct = amount_tolerance_pct
        self.min_line_similarity = min_line_similarity
        # A missing order or shipment is a trace only where most invoices name one (this share or more).
        self.routine_share = routine_share
        # A credit note without invoice_id reverses an invoice of its customer and amount this many days before.
        self.reversal_window_days = reversal_window_days

    # ------------------------------------------------------------ relational part
    def _pairs(self, data) -> ibis.Table:
        invoices = invoice_totals(data, extra=("order_id",))
        invoices = invoices.filter(invoices.amount > 0)
        # Dates in blocks of window_days + 1 days: an invoice at most window_days later lies in the earlier
        # one's block or the next, so the join compares a customer's invoices of two blocks, not all of them
        # (a customer with 3,800 invoices a year made 14 million pairs to test).
        block_seconds = 86400 * (self.window_days + 1)
        invoices = invoices.mutate(block=(invoices.invoice_date.epoch_seconds() // block_seconds).cast("int64"))
        keep = ("customer_id", "salesperson_id", *PAIR_COLUMNS)
        earlier = invoices.select(**{f"e_{c}": invoices[c] for c in keep}, e_block=invoices.block)
        earlier = earlier.mutate(e_key=earlier.e_block).union(earlier.mutate(e_key=earlier.e_block + 1))
        other = invoices.view()
        later = other.select(**{f"l_{c}": other[c] for c in keep}, l_block=other.block)
        tolerance = self.amount_tolerance_pct / 100.0
        pairs = earlier.join(later, [
            earlier.e_customer_id == later.l_customer_id,
            earlier.e_key == later.l_block,
            later.l_invoice_date >= earlier.e_invoice_date,
            later.l_invoice_date <= earlier.e_invoice_date + ibis.interval(days=self.window_days),
            (later.l_invoice_date > earlier.e_invoice_date) | (later.l_invoice_id > earlier.e_invoice_id),
            (later.l_amount - earlier.e_amount).abs() <= ibis.greatest(later.l_amount, earlier.e_amount) * tolerance,
        ])
        return pairs.select(*[f"e_{c}" for c in keep], *[f"l_{c}" for c in keep])

    def _shares(self, data) -> dict:
        invoices = data.table("invoices")
        posted = invoices.filter(invoices.status.isnull() | (invoices.status != "cancelled"))
        counts = data.execute(posted.aggregate(n=posted.count(), with_order=posted.order_id.notnull().sum()))
        n = int(counts["n"].iloc[0] or 0)
        shares = {"order": (int(counts["with_order"].iloc[0] or 0) / n) if n else 0.0, "shipment": 0.0}
        if n and data.has("shipments", ("invoice_id",)):
            shipments = data.table("shipments")
            named = shipments.filter(shipments.invoice_id.notnull())
            shipped = posted.semi_join(named, posted.invoice_id == named.invoice_id)
            shares["shipment"] = int(data.execute(shipped.aggregate(n=shipped.count()))["n"].iloc[0] or 0) / n
        return shares

    def _lines(self, data, ids: list) -> pd.DataFrame:
        lines = data.table("invoice_lines")
        lines = lines.filter(among(lines.invoice_id, ids))
        return data.execute(lines.select(
            "invoice_id", "product_id", "quantity", "unit_price",
            discount_pct=lines.discount_pct.fill_null(0), net=line_net(lines)))

    def _shipments(self, data, ids: list) -> pd.DataFrame:
        if not data.has("shipments", ("invoice_id",)):
            return pd.DataFrame(columns=["shipment_id", "invoice_id", "ship_date"])
        shipments = data.table("shipments")
        shipments = shipments.filter(among(shipments.invoice_id, ids))
        return data.execute(shipments.select("shipment_id", "invoice_id", "ship_date")).sort_values(
            ["invoice_id", "shipment_id"])

    def _credited(self, data, ids: list) -> dict:
        """Credit notes per invoice: those naming it, and those without an invoice matched to the invoice
        they most likely reverse (same customer, amount, within ``reversal_window_days``)."""
        reversals = credit_note_reversals(data, self.reversal_window_days, self.amount_tolerance_pct)
        reversals = reversals[reversals["invoice_id"].isin(set(ids))]
        self.n_inferred_reversals_ = int(reversals["inferred"].astype(bool).sum())
        # a dict: the pairs look each invoice up, and a Series' get costs a hundred times a dict's
        return reversals.groupby("invoice_id")["credit_amount"].sum().astype(float).to_dict()

    def _known_orders(self, data, pairs: pd.DataFrame) -> set | None:
        if not data.has("orders", ("order_id",)):
            return None
        orders = data.table("orders")
        named = sorted(set(pairs["l_order_id"].dropna()))
        found = data.execute(orders.filter(among(orders.order_id, named)).select("order_id"))
        return set(found["order_id"])

    # ------------------------------------------------------------ per-pair part
    def find(self, data) -> pd.DataFrame:
        pairs = data.execute(self._pairs(data))
        self.n_candidate_pairs_ = len(pairs)
        if pairs.empty:
            return empty_findings()
        pairs = pairs.sort_values(["l_invoice_id", "e_invoice_id"], ignore_index=True)
        # Python strings at once: itertuples over Arrow-backed text makes one call per value
        pairs = pairs.astype({c: object for c, dtype in pairs.dtypes.items() if isinstance(dtype, pd.StringDtype)})
        # The pairs' self-join is the costly query: run once, its invoice ids are passed on as a list.
        ids = sorted(set(pairs["e_invoice_id"]) | set(pairs["l_invoice_id"]))
        lines = self._lines(data, ids).sort_values(["invoice_id", "product_id", "quantity", "unit_price",
                                                     "discount_pct"], ignore_index=True)
        keys = (lines["product_id"].astype(str) + "|" + lines["quantity"].round(6).astype(str) + "|"
                + lines["unit_price"].round(6).astype(str) + "|" + lines["discount_pct"].round(6).astype(str))
        # each invoice's line keys in order: lines are sorted by invoice, so each invoice is one slice
        invoice_ids = lines["invoice_id"].to_numpy(dtype=object)
        key_list = keys.to_numpy(dtype=object).tolist()
        starts = np.flatnonzero(np.r_[True, invoice_ids[1:] != invoice_ids[:-1]]) if len(lines) else np.array([], int)
        bounds = [*starts.tolist(), len(lines)]
        signature = {invoice_ids[start]: tuple(key_list[start:end])
                     for start, end in zip(bounds[:-1], bounds[1:], strict=True)}
        products_of: dict[str, dict] = {}
        for (invoice_id, product_id), value in lines.groupby(["invoice_id", "product_id"])["net"].sum().items():
            products_of.setdefault(invoice_id, {})[product_id] = value
        shipments = self._shipments(data, ids)
        shipped: dict[str, list] = {}
        for invoice_id, shipment_id in zip(shipments["invoice_id"].tolist(), shipments["shipment_id"].tolist(),
                                           strict=True):
            shipped.setdefault(invoice_id, []).append(shipment_id)
        credited = self._credited(data, ids)
        known_orders = self._known_orders(data, pairs)
        shares = self._shares(data)
        self.unknown_traces_ = [words for known, words in (
            (shares["order"] > 0, "whether a copy bills an order of its own (no invoice names an order)"),
            (data.has("shipments", ("invoice_id",)), "whether a copy was shipped (no shipments naming invoices)"),
        ) if not known]
        self.shares_ = shares
        tolerance = self.amount_tolerance_pct / 100.0

        candidates = []
        for pair in pairs.itertuples(index=False):
            e, ll = pair.e_invoice_id, pair.l_invoice_id
            if any(credited.get(i, 0.0) >= (1 - tolerance) * amount
                   for i, amount in ((e, pair.e_amount), (ll, pair.l_amount))):
                continue  # one of them was reversed by a credit note: a corrected bill, not a copy
            identical = signature.get(e) is not None and signature.get(e) == signature.get(ll)
            if identical:
                similarity = 1.0
            else:
                a, b = products_of.get(e, {}), products_of.get(ll, {})
                overlap = float(sum(min(a[k], b[k]) for k in a.keys() & b.keys()))
                similarity = overlap / max(pair.e_amount, pair.l_amount)
            same_order = isinstance(pair.l_order_id, str) and pair.l_order_id == pair.e_order_id
            no_order = not isinstance(pair.l_order_id, str)
            own_order = not same_order and not no_order and (known_orders is None or pair.l_order_id in known_orders)
            later_shipped = ll in shipped
            earlier_shipped = e in shipped
            shipment_data = shares["shipment"] >= self.routine_share
            own_shipment = later_shipped and not (set(shipped.get(ll, [])) & set(shipped.get(e, [])))
            if own_order and (not shipment_data or own_shipment):
                continue  # an order of its own, delivered on its own: a repeat purchase
            traces = {
                "identical_lines": 0.7 if identical else 0.0,
                "similar_lines": 0.0 if identical else 0.5 * similarity,
                "same_order": 0.6 if same_order else 0.0,
                "no_order": 0.4 if no_order and shares["order"] >= self.routine_share else 0.0,
                "not_shipped": 0.5 if shipment_data and earlier_shipped and not later_shipped else 0.0,
                "days_apart": 0.3 * max(0.0, 1 - (pair.l_invoice_date - pair.e_invoice_date).days / self.window_days),
            }
            corroborated = traces["same_order"] or traces["no_order"] or traces["not_shipped"]
            if not identical and (similarity < self.min_line_similarity or not corroborated):
                continue
            candidates.append({"pair": pair, "identical": identical, "similarity": similarity,
                               "same_order": same_order, "no_order": no_order, "own_order": own_order,
                               "later_shipped": later_shipped, "earlier_shipped": earlier_shipped,
                               "traces": traces, "score": combine_traces(traces.values())})
        self.n_duplicates_ = len(candidates)
        if not candidates:
            return empty_findings()
        best = {}
        for c in candidates:
            key = c["pair"].l_invoice_id
            rank = (c["identical"], c["similarity"], -(c["pair"].l_invoice_date - c["pair"].e_invoice_date).days)
            if key not in best or rank > best[key][0]:
                best[key] = (rank, c)
        return pd.DataFrame([self._finding(best[k][1], shipped, shares, signature) for k in sorted(best)])

    def _finding(self, c: dict, ship: dict, shares: dict, signature: dict) -> dict:
        p = c["pair"]
        days = (p.l_invoice_date - p.e_invoice_date).days

        def invoice_evidence(prefix):
            invoice_id = getattr(p, f"{prefix}_invoice_id")
            return {"invoice_id": invoice_id, "invoice_no": getattr(p, f"{prefix}_invoice_no"),
                    "invoice_date": getattr(p, f"{prefix}_invoice_date"), "amount": getattr(p, f"{prefix}_amount"),
                    "n_lines": getattr(p, f"{prefix}_n_lines"), "order_id": getattr(p, f"{prefix}_order_id"),
                    "shipments": ship.get(invoice_id, [])}

        evidence = {
            "duplicate": invoice_evidence("l"), "original": invoice_evidence("e"), "days_apart": days,
            "window_days": self.window_days, "identical_lines": c["identical"],
            "line_value_similarity": c["similarity"],
            "lines": [dict(zip(("product_id", "quantity", "unit_price", "discount_pct"), x.split("|"), strict=True))
                      for x in signature.get(p.l_invoice_id, ())][:20],
            "same_order": c["same_order"], "names_no_order": c["no_order"],
            "share_of_invoices_naming_an_order": shares["order"],
            "share_of_invoices_with_a_shipment": shares["shipment"],
            "traces": {k: round(v, 4) for k, v in c["traces"].items()},
        }
        orders = [o for o in (p.l_order_id, p.e_order_id) if isinstance(o, str)]
        return {
            "entity_id": p.l_invoice_id, "salesperson_id": p.l_salesperson_id, "customer_id": p.l_customer_id,
            "period": month_of(p.l_invoice_date), "score": c["score"], "risk_amount": p.l_amount,
            "evidence": evidence, "facts": {"routine_share": self.routine_share},
            "related": related_ids(("invoice", [p.l_invoice_id, p.e_invoice_id]), ("customer", [p.l_customer_id]),
                                   ("salesperson", [p.l_salesperson_id, p.e_salesperson_id]), ("order", orders),
                                   ("shipment", ship.get(p.e_invoice_id, []) + ship.get(p.l_invoice_id, []))),
        }
