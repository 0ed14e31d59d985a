"""added_invoice_items: items or quantity billed to a customer that the customer did not order."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd

from audit.common import combine_traces, month_of, tier_pct
from audit.detector import Detector, empty_findings, related_ids
from audit.ledger import confirmation_gaps, invoice_settlements, posted_invoices
from audit.membership import among
from detectors.wording import added_invoice_items

# How much each trace says on its own (combined as 1 − ∏(1 − weight × strength)).
WEIGHT_BEYOND_ORDER = 0.6       # the invoice bills more than its order (and no amendment covers it)
WEIGHT_NEVER_BOUGHT = 0.3       # an added product the customer has never bought before or since
WEIGHT_NOT_ORDERED_NOTE = 0.7   # a later credit note 'not_ordered' on the invoice
WEIGHT_RETURN_MATCH = 0.5       # a later return credit note for exactly the added value
WEIGHT_SHORT_PAYMENT = 0.6      # the customer paid the invoice short by exactly the added value
WEIGHT_CONFIRMATION = 0.4       # the customer's confirmation is lower than the ledger by the added value


class AddedInvoiceItems(Detector):
    """Invoices billing products or quantities beyond the customer's order, no amendment covering them.

    What it finds
    -------------
    Posted invoices that bill a product the invoice's order (``invoices.order_id`` → ``order_lines``)
    does not hold, or more of a product than ordered, where no other, unbilled order of the same
    customer dated within ``amendment_days`` before the invoice (an amendment) covers the extra. The
    traces of ``patterns.md`` are combined into the score: the lines beyond the order; an added product
    the customer never buys on any other invoice; a later credit note 'not_ordered' (or a return for
    exactly the added value); the customer paying the invoice short by exactly the added value
    (``amount_match_pct``); a balance confirmation lower than the ledger by the added value
    (``audit.ledger.confirmation_gaps``). Invoices without an order are judged only when a
    'not_ordered' credit note names them, with lower confidence. Findings scoring below ``min_score``
    are dropped.

    Why it matters
    --------------
    A salesperson who adds goods to a customer's invoice inflates sales (and commission) or takes the
    extra goods; the customer either sends them back, refuses to pay the difference, or pays for goods
    it never wanted and loses trust in the company.

    Flagged
    -------
    Order O-77 asks for 10 cartons of tea; invoice INV-1204 bills 17 cartons of tea and 5 bags of rice
    the shop has never bought. Three weeks later a credit note 'not_ordered' reverses 5,600,000: flagged,
    money at risk 5,600,000 (the added lines' net value).

    Not flagged
    -----------
    The customer phoned the next day to add 5 bags of rice: a second order of that customer, not billed
    on its own, dated before the invoice, holds them, so the invoice matches the two orders together.
    An invoice whose extra line is free (zero net value) adds nothing to the customer's bill.

    Evidence
    --------
    The order compared with, per product the ordered, amended and invoiced quantities, the added
    quantity and its net value, whether the customer ever bought it elsewhere; credit notes on the
    invoice, what was paid against it and the shortfall, the first confirmation after it and its gap;
    each trace's contribution in ``traces``.
    """

    code = "INV-01"
    pattern = "added_invoice_items"
    wording = added_invoice_items.words
    entity_type = "invoice"
    family = "invoices"
    requires = {
        "invoices": ("invoice_id", "invoice_date", "customer_id", "salesperson_id"),
        "invoice_lines": ("invoice_id", "line_no", "product_id", "quantity", "unit_price"),
    }
    uses = {
        "invoices": ("order_id", "status", "invoice_no"),
        "invoice_lines": ("discount_pct", "discount_type"),
        "orders": ("order_id", "customer_id", "order_date"),
        "order_lines": ("order_id", "product_id", "quantity"),
        "credit_notes": ("credit_note_id", "credit_date", "invoice_id", "amount", "reason"),
        "receipt_allocations": ("receipt_id", "invoice_id", "amount", "cash_discount_amount"),
        "confirmations": ("customer_id", "as_of_date", "confirmed_balance"),
    }

    def __init__(self, amendment_days: int = 7, amount_match_pct: float = 1.0, min_score: float = 0.5,
                 volume_tiers: tuple = ((100, 3.0), (500, 6.0))):
        self.amendment_days = amendment_days
        self.amount_match_pct = amount_match_pct
        self.min_score = min_score
        self.volume_tiers = volume_tiers

    @classmethod
    def params_from_policy(cls, policy):
        # The tiers price what was ordered: a quantity raised into a tier changes the line's discount.
        return {"volume_tiers": tuple((t.min_quantity, t.pct) for t in policy.discounts.volume_tiers)}

    @classmethod
    def missing_inputs(cls, data) -> list[str]:
        # Nothing to compare with: neither the orders the invoices bill nor 'not_ordered' credit notes.
        missing = super().missing_inputs(data)
        orders = (data.holds_values("invoices", "order_id")
                  and data.has("orders", ("order_id", "customer_id", "order_date"))
                  and data.has("order_lines", ("order_id", "product_id", "quantity")))
        notes = data.has("credit_notes", ("credit_note_id", "credit_date", "invoice_id", "reason"))
        nothing_invoiced = data.has("invoices") and data.rows("invoices") == 0
        if not (orders or notes or nothing_invoiced):
            missing.append("orders and order_lines that invoices.order_id names, or credit_notes with reason "
                           "(something to compare the invoices with)")
        return missing

    # ------------------------------------------------------------ relational part
    def _has_orders(self, data) -> bool:
        return (data.has("invoices", ("order_id",)) and data.has("orders", ("order_id", "customer_id", "order_date"))
                and data.has("order_lines", ("order_id", "product_id", "quantity")))

    def _beyond_order(self, data) -> pd.DataFrame:
        """(invoice, product) pairs billed beyond the invoice's order and any amendment of it."""
        lines = data.table("invoice_lines")
        invoices = posted_invoices(data)
        invoices = invoices.filter(invoices.order_id.notnull())
        # summed per (invoice, product) before the invoice's columns join: fewer and narrower group keys
        per_product = lines.group_by(["invoice_id", "product_id"]).aggregate(invoiced=lines.quantity.sum())
        billed = per_product.join(invoices, "invoice_id").select(
            per_product.invoice_id, invoices.order_id, invoices.customer_id, invoices.invoice_date,
            per_product.product_id, per_product.invoiced)
        order_lines = data.table("order_lines")
        ordered = order_lines.group_by(["order_id", "product_id"]).aggregate(ordered=order_lines.quantity.sum())
        known_orders = order_lines.select("order_id").distinct()
        billed = billed.join(known_orders, "order_id")
        compared = billed.left_join(ordered, [billed.order_id == ordered.order_id,
                                              billed.product_id == ordered.product_id]).select(
            billed.invoice_id, billed.order_id, billed.customer_id, billed.invoice_date, billed.product_id,
            billed.invoiced, ordered=ordered.ordered.fill_null(0))
        # Computed once and kept by the engine: the amendments and the result both read it (as a shared
        # subquery the engine summed every invoice line and order line twice).
        beyond = compared.filter(compared.invoiced > compared.ordered).cache()
        try:
            return self._amended(data, beyond)
        finally:
            beyond.release()

    def _amended(self, data, beyond: ibis.Table) -> pd.DataFrame:
        """The lines billed beyond their order, less what amendments of the order (orders of the same
        customer that no posted invoice bills, dated shortly before) added."""
        order_lines = data.table("order_lines")
        orders = data.table("orders")
        all_posted = posted_invoices(data)
        billed_orders = all_posted.filter(all_posted.order_id.notnull()).select(billed_order=all_posted.order_id)
        unbilled = orders.anti_join(billed_orders, orders.order_id == billed_orders.billed_order)
        amended_lines = unbilled.join(order_lines, "order_id").select(
            amendment_order=unbilled.order_id, amendment_customer=unbilled.customer_id,
            amendment_date=unbilled.order_date, amendment_product=order_lines.product_id,
            amendment_qty=order_lines.quantity)
        window = ibis.interval(days=self.amendment_days)
        matched = beyond.join(amended_lines, [
            beyond.customer_id == amended_lines.amendment_customer,
            beyond.product_id == amended_lines.amendment_product,
            amended_lines.amendment_date <= beyond.invoice_date,
            amended_lines.amendment_date >= beyond.invoice_date - window,
            amended_lines.amendment_order != beyond.order_id,
        ])
        amended = matched.group_by(["invoice_id", "product_id"]).aggregate(
            amended=matched.amendment_qty.sum(), amendment_orders=matched.amendment_order.collect(distinct=True))
        result = beyond.left_join(amended, ["invoice_id", "product_id"]).select(
            beyond.invoice_id, beyond.order_id, beyond.product_id, beyond.invoiced, beyond.ordered,
            amended=amended.amended.fill_null(0), amendment_orders=amended.amendment_orders)
        frame = data.execute(result.order_by(["invoice_id", "product_id"]))
        frame["added_qty"] = frame["invoiced"] - frame["ordered"] - frame["amended"]
        return frame[frame["added_qty"] > 0].reset_index(drop=True)

    def _not_ordered_notes(self, data) -> pd.DataFrame:
        if not data.has("credit_notes", ("invoice_id", "reason")):
            return pd.DataFrame(columns=["invoice_id"])
        notes = data.table("credit_notes")
        notes = notes.filter((notes.reason == "not_ordered") & notes.invoice_id.notnull())
        return data.execute(notes.select("invoice_id").distinct().order_by("invoice_id"))

    # ------------------------------------------------------------ per-invoice part
    def find(self, data) -> pd.DataFrame:
        has_orders = self._has_orders(data)
        beyond = self._beyond_order(data) if has_orders else pd.DataFrame(
            columns=["invoice_id", "order_id", "product_id", "invoiced", "ordered", "amended",
                     "amendment_orders", "added_qty"])
        # Invoices with no order to compare with are judged on a 'not_ordered' credit note alone.
        noted = self._not_ordered_notes(data)["invoice_id"]
        candidates = sorted(set(beyond["invoice_id"]) | self._judged_on_note(data, noted, has_orders))
        self.n_beyond_order_ = int(beyond["invoice_id"].nunique())
        if not candidates:
            return empty_findings()
        # only the candidates' invoices and lines are read into pandas, not the ledger's
        invoices = data.frame_among("invoices", "invoice_id", candidates)
        posted = invoices[invoices["status"].fillna("posted") != "cancelled"] if data.has("invoices", ("status",)) \
            else invoices
        lines = data.frame_among("invoice_lines", "invoice_id", candidates)
        head = posted.set_index("invoice_id").loc[candidates]
        history = self._purchase_history(data, head)
        settlements = invoice_settlements(data, candidates).set_index("invoice_id")
        notes = self._credit_notes(data, candidates)
        receipts = self._receipts(data, candidates)
        confirmations = confirmation_gaps(data, sorted(set(head["customer_id"])))
        findings = []
        for invoice_id in candidates:
            finding = self._finding(invoice_id, head.loc[invoice_id], lines[lines["invoice_id"] == invoice_id],
                                    beyond[beyond["invoice_id"] == invoice_id], history, settlements,
                                    notes[notes["invoice_id"] == invoice_id],
                                    receipts[receipts["invoice_id"] == invoice_id], confirmations, has_orders)
            if finding is not None:
                findings.append(finding)
        return pd.DataFrame(findings) if findings else empty_findings()

    def _judged_on_note(self, data, noted: pd.Series, has_orders: bool) -> set:
        """The invoices a 'not_ordered' credit note names that are posted and bill no order on file (no
        order_id, or one that no order line carries)."""
        if noted.empty:
            return set()
        invoices = data.table("invoices")
        if data.has("invoices", ("status",)):
            invoices = invoices.filter(invoices.status.isnull() | (invoices.status != "cancelled"))
        invoices = invoices.filter(among(invoices.invoice_id, list(noted)))
        if has_orders:
            ordered = data.table("order_lines").select("order_id")
            invoices = invoices.anti_join(ordered, invoices.order_id == ordered.order_id)
        return set(data.execute(invoices.select("invoice_id"))["invoice_id"])

    def _purchase_history(self, data, head: pd.DataFrame) -> pd.DataFrame:
        """Distinct (customer, product, invoice) bought by the candidate customers on posted invoices."""
        invoices = posted_invoices(data)
        invoices = invoices.filter(among(invoices.customer_id, sorted(set(head["customer_id"]))))
        lines = data.table("invoice_lines")
        bought = lines.join(invoices, "invoice_id").select(invoices.customer_id, lines.product_id,
                                                            lines.invoice_id).distinct()
        return data.execute(bought)

    def _credit_notes(self, data, candidates) -> pd.DataFrame:
        columns = ["credit_note_id", "credit_date", "invoice_id", "amount", "reason"]
        if not data.has("credit_notes", ("invoice_id",)):
            return pd.DataFrame(columns=columns)
        notes = data.frame_among("credit_notes", "invoice_id", candidates)
        for column in columns:
            if column not in notes:
                notes = notes.assign(**{column: None})
        return notes[columns].sort_values(["invoice_id", "credit_date", "credit_note_id"])

    def _receipts(self, data, candidates) -> pd.DataFrame:
        if not data.has("receipt_allocations", ("receipt_id", "invoice_id")):
            return pd.DataFrame(columns=["invoice_id", "receipt_id"])
        return data.frame_among("receipt_allocations", "invoice_id", candidates)[["invoice_id", "receipt_id"]]

    def _added_lines(self, lines: pd.DataFrame, beyond: pd.DataFrame) -> pd.DataFrame:
        """Per added product: the added quantity and its net value at the invoice's price and discount.

        What was ordered is priced as the invoice prices it, with the volume tier the ordered quantity
        earns when the line's discount is a volume discount; the added value is the difference."""
        pct = lines["discount_pct"].fillna(0.0) if "discount_pct" in lines else pd.Series(0.0, index=lines.index)
        kind = lines["discount_type"] if "discount_type" in lines else pd.Series(None, index=lines.index)
        priced = lines.assign(pct=pct, kind=kind, gross=lines["quantity"] * lines["unit_price"])
        grouped = priced.groupby("product_id", sort=True)
        per_product = grouped.agg(invoiced=("quantity", "sum"), gross=("gross", "sum"), pct=("pct", "max"))
        # each product's net and volume from its rows' positions (per-group lambdas in ``agg`` took
        # tens of milliseconds an invoice); the net is summed as the product's own Series sums
        net_of_line = priced["gross"] * (1 - priced["pct"] / 100)
        volume_line = (priced["kind"] == "volume").fillna(False).to_numpy(dtype=bool)
        rows_of = grouped.indices
        per_product.insert(2, "net", [float(net_of_line.iloc[rows_of[p]].sum()) for p in per_product.index])
        per_product["volume"] = [bool(volume_line[rows_of[p]].any()) for p in per_product.index]
        rows = []
        for item in beyond.itertuples():
            product = per_product.loc[item.product_id]
            unit = product["gross"] / product["invoiced"] if product["invoiced"] else 0.0
            kept = item.ordered + item.amended
            kept_pct = tier_pct(self.volume_tiers, kept) if product["volume"] else product["pct"]
            added_value = product["net"] - kept * unit * (1 - kept_pct / 100)
            rows.append({"product_id": item.product_id, "ordered": item.ordered, "amended": item.amended,
                         "invoiced": item.invoiced, "added_qty": item.added_qty, "unit_price": unit,
                         "added_value": max(0.0, float(added_value)),
                         "amendment_orders": sorted(item.amendment_orders) if isinstance(
                             item.amendment_orders, (list, tuple, np.ndarray)) else []})
        return pd.DataFrame(rows, columns=["product_id", "ordered", "amended", "invoiced", "added_qty",
                                           "unit_price", "added_value", "amendment_orders"])

    def _matches(self, amount: float, target: float) -> bool:
        return target > 0 and abs(amount - target) <= max(1.0, target * self.amount_match_pct / 100.0)

    def _finding(self, invoice_id, head, lines, beyond, history, settlements, notes, receipts, confirmations,
                 has_orders) -> dict | None:
        customer, salesperson = head["customer_id"], head["salesperson_id"]
        invoice_day = head["invoice_date"]
        pct = lines["discount_pct"].fillna(0.0) if "discount_pct" in lines else 0.0
        invoice_amount = float((lines["quantity"] * lines["unit_price"] * (1 - pct / 100)).sum())
        added = self._added_lines(lines, beyond)
        added_value = float(added["added_value"].sum())
        not_ordered = notes[notes["reason"] == "not_ordered"]
        if added.empty:  # no order to compare with: the 'not_ordered' credit note says what was added
            added_value = float(not_ordered["amount"].sum())
        if added_value <= 0:
            return None
        traces = {}

        # Trace: billed beyond the order.
        order_id = head.get("order_id")
        if not added.empty:
            traces["beyond_order"] = WEIGHT_BEYOND_ORDER

        # Trace: products the customer never buys.
        others = history[(history["customer_id"] == customer) & (history["invoice_id"] != invoice_id)]
        bought = set(others["product_id"])
        off_order = added[(added["ordered"] + added["amended"]) == 0] if not added.empty else added
        new_products = [p for p in off_order["product_id"] if p not in bought]
        if new_products:
            traces["never_bought"] = WEIGHT_NEVER_BOUGHT

        # Trace: a later credit note 'not_ordered', or a return of exactly the added value.
        returns = notes[(notes["reason"] == "return") & notes["amount"].map(lambda a: self._matches(a, added_value))]
        if len(not_ordered):
            traces["credit_note_not_ordered"] = WEIGHT_NOT_ORDERED_NOTE
        elif len(returns):
            traces["credit_note_return_of_added_value"] = WEIGHT_RETURN_MATCH

        # Trace: short payment of exactly the added value.
        paid = credited = 0.0
        if invoice_id in settlements.index:
            settled = settlements.loc[invoice_id]
            paid = float(settled["allocated"] + settled["cash_discount"])
            credited = float(settled["credited"])
        shortfall = invoice_amount - paid - credited
        if paid > 0 and self._matches(shortfall, added_value):
            traces["short_payment_of_added_value"] = WEIGHT_SHORT_PAYMENT

        # Trace: the customer's confirmation lower than the ledger by the added value.
        confirmation = None
        if len(confirmations):
            own = confirmations[(confirmations["customer_id"] == customer)
                                & (confirmations["as_of_date"] >= invoice_day)].sort_values("as_of_date")
            if len(own):
                confirmation = own.iloc[0]
                gap = float(confirmation["gap"])
                if self._matches(gap, added_value):
                    traces["confirmation_lower_by_added_value"] = WEIGHT_CONFIRMATION
                elif gap >= added_value * (1 - self.amount_match_pct / 100.0):
                    traces["confirmation_lower_than_ledger"] = WEIGHT_CONFIRMATION / 2

        score = combine_traces(traces.values())
        if score < self.min_score:
            return None
        amendment_orders = sorted({o for orders in added["amendment_orders"] for o in orders}) \
            if not added.empty else []
        evidence = {
            "order_id": order_id if isinstance(order_id, str) else None, "invoice_amount": invoice_amount,
            "added_value": added_value, "amendment_days": self.amendment_days,
            "lines": added.drop(columns="amendment_orders").assign(
                never_bought=added["product_id"].isin(new_products)).to_dict(orient="records"),
            "credit_notes": notes.to_dict(orient="records"), "paid": paid, "credited": credited,
            "shortfall": shortfall,
            "confirmation": None if confirmation is None else {
                "as_of_date": confirmation["as_of_date"], "confirmed_balance": confirmation["confirmed_balance"],
                "ledger_balance": confirmation["ledger_balance"], "gap": confirmation["gap"]},
            "traces": {k: round(v, 4) for k, v in traces.items()},
        }
        return {
            "entity_id": invoice_id, "salesperson_id": salesperson, "customer_id": customer,
            "period": month_of(invoice_day), "score": score, "risk_amount": added_value,
            "evidence": evidence,
            "facts": {"invoice_no": head.get("invoice_no", invoice_id), "invoice_date": invoice_day,
                      "compared_with_order": bool(has_orders and not added.empty),
                      "matching_returns": returns[["credit_note_id", "credit_date"]].to_dict(orient="records")},
            "related": related_ids(("invoice", [invoice_id]), ("customer", [customer]),
                                   ("salesperson", [salesperson]),
                                   ("order", [order_id] if isinstance(order_id, str) else []),
                                   ("order", amendment_orders), ("credit_note", notes["credit_note_id"]),
                                   ("receipt", sorted(set(receipts["receipt_id"]))),
                                   ("product", added["product_id"] if not added.empty else [])),
        }
