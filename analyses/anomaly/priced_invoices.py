"""ANO-00: posted invoices priced once for the three behaviour-anomaly detectors.

salesperson_anomaly (ANO-01), customer_anomaly (ANO-02) and invoice_anomaly (ANO-03) all start from the same
per-invoice sums of the priced lines (gross, net, discount beyond the volume tiers, valid list value, price
deviation). Joining every invoice line with the price list is the larger part of their relational work, so it
runs once here and the three read its result instead of each running it again.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import pyarrow as pa

from audit.analysis import Analysis
from audit.ledger import line_net, posted_invoices, with_class_and_product_price

PRICED_INVOICES_VIEW = "priced_invoices"
# The contract's default volume tiers, (min_quantity, pct); the policy's replace them.
DEFAULT_TIERS = ((100.0, 3.0), (500.0, 6.0))


def tier_pct(quantity: ibis.Value, volume_tiers) -> ibis.Value:
    """The volume-tier discount (%) a line of ``quantity`` earns under the policy's tiers."""
    earned = ibis.literal(0.0)
    for min_quantity, pct in sorted(volume_tiers):
        earned = (quantity >= min_quantity).ifelse(float(pct), earned)
    return earned


def priced_lines(data, volume_tiers=(), invoices: ibis.Table | None = None) -> ibis.Table:
    """Posted invoice lines with their gross, net, discount beyond the volume tiers and valid list price.

    ``excess_discount`` is the money of the line's discount beyond the volume tier its quantity earns
    (``volume_tiers``: (min_quantity, pct) pairs of the policy) on lines no one approved
    (``discount_approved_by`` blank): a wholesaler's tier discount, an approved manager discount or a
    documented promotion is not the salesperson's behaviour.

    The valid price is the customer class's price-list row on the invoice date, else the general
    row, else the line's ``list_price``, else the product's (the same order as the price_deviation
    detector, without its excuses: here a deviation is behaviour, not a verdict). ``invoices``: the
    posted invoices whose lines are wanted (default: all of them).
    """
    lines = data.table("invoice_lines")
    invoices = posted_invoices(data) if invoices is None else invoices
    base = lines.join(invoices, "invoice_id").select(
        lines.invoice_id, lines.line_no, lines.product_id, lines.quantity, lines.unit_price,
        line_list_price=lines.list_price, net=line_net(lines),
        excess_discount=lines.discount_approved_by.isnull().ifelse(
            lines.quantity * lines.unit_price * ibis.greatest(
                lines.discount_pct.fill_null(0) - tier_pct(lines.quantity, volume_tiers), 0) / 100.0, 0.0),
        invoice_date=invoices.invoice_date,
        customer_id=invoices.customer_id, salesperson_id=invoices.salesperson_id)
    base = with_class_and_product_price(data, base)
    valid = ibis.coalesce(base.line_list_price, base.product_list_price)
    if data.has("price_list"):
        prices = data.table("price_list")
        # The valid price depends on the product, the class and the day, not on the line: it is looked up
        # once per product (and class) and invoice date the lines need, then joined to the lines by equality
        # (a range join per line cost most of the features' time).
        needed = base.select(p_product="product_id", p_class="customer_class", p_day="invoice_date").distinct()

        def valid_on(keys, class_match):
            joined = keys.join(prices, [
                keys.p_product == prices.product_id, prices.valid_from <= keys.p_day,
                prices.valid_to.isnull() | (keys.p_day <= prices.valid_to), class_match(keys)])
            by = [c for c in ("p_product", "p_class", "p_day") if c in keys.columns]
            return joined.group_by(by).aggregate(price=joined.unit_price.argmax(joined.valid_from))

        general = valid_on(needed.select("p_product", "p_day").distinct(),
                           lambda keys: prices.customer_class.isnull()).rename(general_price="price")
        by_class = valid_on(needed.filter(needed.p_class.notnull()),
                            lambda keys: prices.customer_class == keys.p_class).rename(class_price="price")
        base = base.left_join(general, [base.product_id == general.p_product, base.invoice_date == general.p_day]
                              ).drop("p_product", "p_day")
        base = base.left_join(by_class, [base.product_id == by_class.p_product,
                                         base.customer_class == by_class.p_class,
                                         base.invoice_date == by_class.p_day]).drop("p_product", "p_class", "p_day")
        valid = ibis.coalesce(base.class_price, base.general_price, base.line_list_price, base.product_list_price)
    gross = base.quantity * base.unit_price
    priced = valid.notnull()
    return base.mutate(
        gross=gross,
        list_value=priced.ifelse(base.quantity * valid, ibis.null("float64")),
        priced_gross=priced.ifelse(gross, ibis.null("float64")),
        deviation_abs=priced.ifelse((base.unit_price - valid).abs() * base.quantity, ibis.null("float64")),
    )


def invoice_totals(data, volume_tiers=(), invoices: ibis.Table | None = None) -> ibis.Table:
    """One row per posted invoice with lines: gross, net, excess discount, list value, priced gross,
    deviation, lines (``invoices``: only these posted invoices)."""
    lines = priced_lines(data, volume_tiers, invoices)
    return lines.group_by(["invoice_id", "invoice_date", "customer_id", "salesperson_id"]).aggregate(
        gross=lines.gross.sum(), net=lines.net.sum(), excess_discount=lines.excess_discount.sum(),
        list_value=lines.list_value.sum(),
        priced_gross=lines.priced_gross.sum(), deviation_abs=lines.deviation_abs.sum(), n_lines=lines.count())


@dataclass(frozen=True)
class PricedInvoices:
    """What ANO-00 hands the anomaly detectors: :func:`invoice_totals` of every posted invoice as an Arrow table
    (small: one row per invoice) and the volume tiers it was priced with. Not a table of the report: released
    after its last reader."""

    table: pa.Table
    volume_tiers: tuple


class PricedInvoiceTotals(Analysis):
    """One row per posted invoice with lines: gross, net, discount beyond the policy's volume tiers
    (``[discounts] volume_tiers``) on unapproved lines, valid list value, priced gross, price deviation and
    number of lines (:func:`invoice_totals`). Shared by ANO-01, ANO-02 and ANO-03, released after them."""

    code = "ANO-00"
    title = "Posted invoices priced for the behaviour anomalies"
    outputs = (PRICED_INVOICES_VIEW,)
    requires = {
        "invoices": ("invoice_id", "invoice_date", "customer_id", "salesperson_id"),
        "invoice_lines": ("invoice_id", "line_no", "product_id", "quantity", "unit_price"),
    }
    uses = {
        "invoices": ("status",),
        "invoice_lines": ("discount_pct", "discount_approved_by", "list_price"),
        "price_list": ("product_id", "valid_from", "valid_to", "unit_price", "customer_class"),
        "products": ("list_price",),
        "customers": ("customer_class",),
    }

    def __init__(self, volume_tiers: tuple = DEFAULT_TIERS):
        self.volume_tiers = volume_tiers

    @classmethod
    def params_from_policy(cls, policy):
        return {"volume_tiers": volume_tiers_of(policy)}

    def compute(self, data) -> dict:
        table = invoice_totals(data, self.volume_tiers).to_pyarrow()
        return {PRICED_INVOICES_VIEW: PricedInvoices(table, _tiers(self.volume_tiers))}


def volume_tiers_of(policy) -> tuple:
    """The policy's volume tiers as (min_quantity, pct) pairs."""
    return tuple((float(t.min_quantity), float(t.pct)) for t in policy.discounts.volume_tiers)


def shared_invoice_totals(data, volume_tiers=()) -> ibis.Table:
    """:func:`invoice_totals` of every posted invoice: ANO-00's result when the run made it with the same
    ``volume_tiers`` (a component that reads ANO-00), else the same expression on the ledger."""
    shared = data.views.get(PRICED_INVOICES_VIEW)
    if isinstance(shared, PricedInvoices) and shared.volume_tiers == _tiers(volume_tiers):
        return data.engine.arrow_table(shared.table)
    return invoice_totals(data, volume_tiers)


def _tiers(volume_tiers) -> tuple:
    return tuple((float(min_quantity), float(pct)) for min_quantity, pct in volume_tiers)
