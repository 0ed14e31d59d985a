"""unbilled_shipment: goods shipped without an invoice."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd

from audit.common import month_of
from audit.detector import Detector, empty_findings, related_ids
from audit.membership import among
from audit.policy import DEFAULTS
from detectors.wording import unbilled_shipment


class UnbilledShipment(Detector):
    """Shipments, or shipped quantities, that no posted invoice bills.

    What it finds
    -------------
    For every shipment line, the quantity billed by the shipment's invoice (``shipments.invoice_id``),
    or when the shipment names none, by a posted invoice of the same order, or of the same customer and
    product dated from the ship date to ``[shipments] invoice_within_days`` after it that no other
    shipment names (an invoice its own shipment names bills that shipment). Shipped quantity
    beyond what is billed is unbilled; a shipment whose only invoice was cancelled is wholly unbilled.

    Why it matters
    --------------
    Goods that leave the warehouse without an invoice are given away: sold for cash that never reaches
    the company, or diverted. No receivable exists, so collections will never notice.

    Flagged
    -------
    A shipment of 3 bags of rice with no invoice, order or matching invoice within the window: flagged,
    money at risk 3 × the list price. A shipment of 8 bottles of oil against an invoice for 5: flagged
    for the 3 unbilled bottles.

    Not flagged
    -----------
    Free samples or replacements shipped against a zero-value invoice that gives its reason (the goods
    are documented; the price check judges the zero price); a shipment invoiced two days later under
    the same order.

    Evidence
    --------
    Per product: shipped and billed quantities, the unbilled quantity, the unit value used and where it
    came from; the invoice the shipment names and its status; delivery address and receiver.
    """

    code = "SHP-01"
    pattern = "unbilled_shipment"
    wording = unbilled_shipment.words
    entity_type = "shipment"
    family = "shipments"
    requires = {
        "shipments": ("shipment_id", "ship_date", "customer_id"),
        "shipment_lines": ("shipment_id", "product_id", "quantity"),
        "invoices": ("invoice_id", "invoice_date", "customer_id", "salesperson_id"),
        "invoice_lines": ("invoice_id", "product_id", "quantity", "unit_price"),
    }
    uses = {
        "shipments": ("invoice_id", "order_id", "delivery_address", "received_by"),
        "invoices": ("status", "order_id", "invoice_no"),
        "price_list": ("product_id", "valid_from", "valid_to", "unit_price", "customer_class"),
        "products": ("list_price",),
        "customers": ("assigned_salesperson_id",),
    }

    def __init__(self, invoice_within_days: int = DEFAULTS.shipments.invoice_within_days):
        self.invoice_within_days = invoice_within_days

    @classmethod
    def params_from_policy(cls, policy):
        return {"invoice_within_days": policy.shipments.invoice_within_days}

    def _billed(self, data, shipments: ibis.Table) -> ibis.Table:
        """Every posted invoice line billing one of ``shipments``, of any product, with the shipment it bills
        (shipment_id, product_id, invoice_id, quantity): the grouping by (shipment, product) that follows
        matches the products."""
        invoices = data.table("invoices")
        posted = invoices.filter(invoices.status.isnull() | (invoices.status != "cancelled"))
        # A shipment is billed by its own invoice, else by its order's invoices, else by nearby invoices: the
        # three cases exclude one another. Each joins on one document column, never on the product: given
        # the product as a second condition, DuckDB joined shipment lines to invoice lines on the product
        # alone (on a ledger without cancelled invoices: hundreds of millions of rows spilled until the disk
        # was full), and a key made of both columns cost a text per line on each side.
        linked = shipments.filter(shipments.invoice_id.notnull())
        by_link = linked.join(posted, linked.invoice_id == posted.invoice_id).select(
            linked.shipment_id, posted.invoice_id)
        unlinked = shipments.filter(shipments.invoice_id.isnull())
        ordered = unlinked.filter(unlinked.order_id.notnull())
        by_order = ordered.join(posted, ordered.order_id == posted.order_id).select(
            ordered.shipment_id, posted.invoice_id)
        nearby = unlinked.filter(unlinked.order_id.isnull())
        window = ibis.interval(days=self.invoice_within_days)
        close = nearby.join(posted, [nearby.customer_id == posted.customer_id,
                                     posted.invoice_date >= nearby.ship_date,
                                     posted.invoice_date <= nearby.ship_date + window]).select(
            nearby.shipment_id, posted.invoice_id)
        # An invoice that its own shipment names bills that shipment, not a nearby one: a large customer
        # invoiced for the same products every few days would otherwise cover any unbilled shipment.
        named = data.table("shipments")
        by_time = close.anti_join(named, close.invoice_id == named.invoice_id)
        billing = by_link.union(by_order).union(by_time)
        lines = data.table("invoice_lines")
        return billing.join(lines, "invoice_id").select(
            billing.shipment_id, lines.product_id, billing.invoice_id, lines.quantity)

    def _shipped_vs_billed(self, data) -> ibis.Table:
        """Shipment lines shipped beyond what their matched invoice lines bill (without the invoices that
        bill them: see :meth:`_billing_invoices`)."""
        shipments = data.table("shipments")
        lines = data.table("shipment_lines")
        billed = self._billed(data, shipments)
        # Shipped and billed quantities summed in one grouping of both kinds of lines: the matched invoice lines
        # grouped apart and joined back to the grouped shipment lines took 20 s of one thread at 10M lines
        # and spilled 0.8 GB under a 3 GB limit (this: about 8 s, in memory).
        shipped_type, billed_type = lines.quantity.type(), billed.quantity.type()
        quantities = lines.select("shipment_id", "product_id", shipped=lines.quantity,
                                  billed=ibis.null().cast(billed_type)).union(
            billed.select("shipment_id", "product_id", shipped=ibis.null().cast(shipped_type),
                          billed=billed.quantity))
        # a product billed but not shipped makes a group without a shipped quantity, never a gap
        totals = quantities.group_by(["shipment_id", "product_id"]).aggregate(
            shipped_qty=quantities.shipped.sum(), billed_qty=quantities.billed.sum().fill_null(0))
        gaps = totals.filter(totals.shipped_qty > totals.billed_qty)
        return gaps.join(shipments, "shipment_id").select(
            gaps.shipment_id, gaps.product_id, gaps.shipped_qty, shipments.ship_date, shipments.customer_id,
            linked_invoice=shipments.invoice_id, billed_qty=gaps.billed_qty)

    def _billing_invoices(self, data, shipments: pd.DataFrame) -> pd.DataFrame:
        """The invoices that bill each (shipment, product) of ``shipments`` (their rows, indexed by shipment_id),
        as lists (with products billed but not shipped). Asked for the gaps' shipments only: a list per
        shipment line of the whole ledger held 4 GB of the engine at 10M lines."""
        columns = ["shipment_id", "ship_date", "customer_id", "invoice_id", "order_id"]
        # the rows already read, handed back to the engine: filtered from the whole table, they were read
        # again for each of the three cases (0.6 s of 1.6 at 10M lines)
        chosen = ibis.memtable(shipments.reset_index()[columns],
                               schema=data.table("shipments").select(columns).schema())
        billed = self._billed(data, chosen)
        return data.execute(billed.group_by(["shipment_id", "product_id"]).aggregate(
            billing_invoices=billed.invoice_id.collect(distinct=True)))

    def _unit_values(self, data, products: list[str]) -> pd.DataFrame:
        """A unit value per product: its general list price, else the average invoiced price."""
        values = pd.DataFrame({"product_id": sorted(set(products))})
        values["unit_value"] = float("nan")
        values["value_source"] = None
        if data.has("products", ("list_price",)):
            listed = data.frame("products")[["product_id", "list_price"]]
            values = values.merge(listed, on="product_id", how="left")
            known = values["list_price"].notna()
            values.loc[known, "unit_value"] = values.loc[known, "list_price"]
            values.loc[known, "value_source"] = "product list price"
            values = values.drop(columns="list_price")
        unlisted = values.loc[values["unit_value"].isna(), "product_id"].tolist()
        if not unlisted:
            return values
        lines = data.table("invoice_lines")
        # only the unlisted products' lines (the gaps' products had 6.6 of 10 million lines), in the table's
        # order (the sums below add them up as before)
        priced = data.execute(lines.filter(among(lines.product_id, unlisted)
                                           & (lines.quantity > 0)).select("product_id", "quantity", "unit_price"))
        average = (priced.assign(amount=priced["quantity"] * priced["unit_price"])
                   .groupby("product_id")[["amount", "quantity"]].sum())
        average = (average["amount"] / average["quantity"]).rename("average_price")
        values = values.merge(average, left_on="product_id", right_index=True, how="left")
        fill = values["unit_value"].isna() & values["average_price"].notna()
        values.loc[fill, "unit_value"] = values.loc[fill, "average_price"]
        values.loc[fill, "value_source"] = "average invoiced price"
        return values.drop(columns="average_price")

    @staticmethod
    def _rows(data, table: str, key: str, ids: list) -> pd.DataFrame:
        """The rows of ``table`` whose ``key`` is one of ``ids``, indexed by it."""
        rows = data.table(table)
        return data.execute(rows.filter(among(rows[key], ids))).set_index(key)

    def find(self, data) -> pd.DataFrame:
        gaps = data.execute(self._shipped_vs_billed(data).order_by(["shipment_id", "product_id"]))
        self.n_unbilled_lines_ = len(gaps)
        if gaps.empty:
            return empty_findings()
        # Only the rows behind the gaps, asked of the engine (not the whole tables).
        shipment_ids = sorted(set(gaps["shipment_id"]))
        shipments = self._rows(data, "shipments", "shipment_id", shipment_ids)
        gaps = gaps.merge(self._billing_invoices(data, shipments), on=["shipment_id", "product_id"], how="left")
        gaps = gaps.merge(self._unit_values(data, gaps["product_id"].tolist()), on="product_id", how="left")
        gaps["unbilled_qty"] = gaps["shipped_qty"] - gaps["billed_qty"]
        gaps["unbilled_value"] = gaps["unbilled_qty"] * gaps["unit_value"].fillna(0)
        linked = sorted({i for i in shipments["invoice_id"] if isinstance(i, str)}) \
            if "invoice_id" in shipments else []
        invoices = self._rows(data, "invoices", "invoice_id", linked)
        customers = self._rows(data, "customers", "customer_id", sorted(set(shipments["customer_id"].dropna()))) \
            if data.has("customers") else None
        all_lines = data.table("shipment_lines")
        all_lines = all_lines.filter(among(all_lines.shipment_id, shipment_ids))
        shipped_products = data.execute(all_lines.group_by("shipment_id").aggregate(
            products=all_lines.product_id.nunique())).set_index("shipment_id")["products"]
        return pd.DataFrame([
            self._finding(shipment_id, group, shipments.loc[shipment_id], invoices, customers,
                          int(shipped_products.get(shipment_id, len(group))))
            for shipment_id, group in gaps.groupby("shipment_id", sort=True)])

    def _finding(self, shipment_id, gaps, shipment, invoices, customers, n_products) -> dict:
        linked = shipment.get("invoice_id")
        linked = linked if isinstance(linked, str) else None
        linked_status = None
        if linked is not None and linked in invoices.index:
            linked_status = invoices.at[linked, "status"]
        nothing_billed = bool((gaps["billed_qty"] == 0).all()) and len(gaps) == n_products
        unbilled_share = float((gaps["unbilled_qty"] / gaps["shipped_qty"]).mean())
        # A shipment nobody billed is the clear case; a short-billed one may be a counting slip.
        score = 1.0 if nothing_billed else 0.6 + 0.4 * unbilled_share
        salesperson = None
        if linked is not None and linked in invoices.index:
            salesperson = invoices.at[linked, "salesperson_id"]
        elif customers is not None and shipment["customer_id"] in customers.index:
            salesperson = customers.at[shipment["customer_id"], "assigned_salesperson_id"]
        value = float(gaps["unbilled_value"].sum())
        evidence = {
            "ship_date": shipment["ship_date"], "linked_invoice": linked, "linked_invoice_status": linked_status,
            "delivery_address": shipment.get("delivery_address"), "received_by": shipment.get("received_by"),
            "lines": gaps[["product_id", "shipped_qty", "billed_qty", "unbilled_qty", "unit_value",
                           "value_source", "unbilled_value"]].to_dict(orient="records"),
            "traces": {"nothing_billed": 1.0 if nothing_billed else 0.0,
                       "unbilled_share": round(unbilled_share, 4)},
        }
        billing = sorted({i for invs in gaps["billing_invoices"] if isinstance(invs, (list, tuple, np.ndarray))
                          for i in invs if isinstance(i, str)} | ({linked} if linked else set()))
        return {
            "entity_id": shipment_id, "salesperson_id": salesperson, "customer_id": shipment["customer_id"],
            "period": month_of(shipment["ship_date"]), "score": score, "risk_amount": value,
            "evidence": evidence,
            "related": related_ids(("shipment", [shipment_id]), ("customer", [shipment["customer_id"]]),
                                   ("salesperson", [salesperson]), ("invoice", billing),
                                   ("product", gaps["product_id"])),
        }
