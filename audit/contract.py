"""The data contract (``shared/data-contract.md``) as data: tables, columns, types, keys, references.

Everything that knows about the input tables (the pandera schemas, the loaders, the simulator, the
docs) reads this one description, so the contract is written down exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from audit.i18n import N_, t

# Logical column types. "date" values are calendar days, "timestamp" carries a time of day.
STR, INT, FLOAT, DATE, TIMESTAMP, BOOL = "str", "int", "float", "date", "timestamp", "bool"


@dataclass(frozen=True)
class Column:
    name: str
    type: str = STR
    required: bool = False
    # Known values; a value outside them is an error unless the vocabulary is extendable.
    allowed: tuple[str, ...] | None = None
    extendable: bool = False
    non_negative: bool = False
    # (table, column) this column refers to; blank values are allowed unless the column is required.
    references: tuple[str, str] | None = None


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    required: bool = False
    description: str = ""
    group: str = "transactions"
    extra: dict = field(default_factory=dict)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")


def _c(name, type=STR, required=False, **kw) -> Column:
    return Column(name, type, required, **kw)


def _r(name, type=STR, **kw) -> Column:
    return Column(name, type, True, **kw)


CUSTOMER_CLASSES = ("retail", "wholesale", "chain")
EVENT_TYPES = (
    "ownership_change", "management_change", "accountant_resigned", "promise_to_pay",
    "promise_broken", "payment_method_change", "bankruptcy_filing", "legal_action", "complaint",
    "address_change", "bank_change", "owner_often_absent", "competitor_brands_increase",
)

TABLES: dict[str, Table] = {t.name: t for t in [
    Table("salespeople", (
        _r("salesperson_id"), _r("name"), _c("hire_date", DATE), _c("termination_date", DATE),
        _c("region"), _c("manager_id"), _c("phone"), _c("address"), _c("bank_account"), _c("national_id"),
    ), key=("salesperson_id",), required=True, group="master",
        description="The field sales force."),
    Table("employees", (
        _r("employee_id"), _r("name"), _c("role"), _c("phone"), _c("address"), _c("bank_account"),
        _c("national_id"),
    ), key=("employee_id",), group="master", description="Other staff (office, warehouse, treasury)."),
    Table("customers", (
        _r("customer_id"), _r("name"), _r("created_date", DATE),
        _r("assigned_salesperson_id", references=("salespeople", "salesperson_id")),
        _c("created_by"), _c("credit_limit", FLOAT, non_negative=True),
        _c("payment_terms_days", INT, non_negative=True), _c("tax_id"), _c("phone"), _c("address"),
        _c("city"), _c("lat", FLOAT), _c("lon", FLOAT), _c("bank_account"), _c("owner_name"),
        _c("established_date", DATE), _c("customer_class", allowed=CUSTOMER_CLASSES, extendable=True),
        _c("status"),
    ), key=("customer_id",), required=True, group="master", description="Buyers on credit."),
    Table("products", (
        _r("product_id"), _r("name"), _c("brand"), _c("category"), _c("unit"),
        _c("list_price", FLOAT, non_negative=True),
    ), key=("product_id",), group="master", description="Product master."),
    Table("price_list", (
        _r("product_id", references=("products", "product_id")), _r("valid_from", DATE),
        _r("unit_price", FLOAT, non_negative=True), _c("valid_to", DATE),
        _c("customer_class", allowed=CUSTOMER_CLASSES, extendable=True),
    ), key=("product_id", "valid_from", "customer_class"), group="master",
        description="List prices by validity period; rows with a customer_class are that class's prices."),
    Table("orders", (
        _r("order_id"), _r("customer_id", references=("customers", "customer_id")),
        _r("salesperson_id", references=("salespeople", "salesperson_id")), _r("order_date", DATE),
        _c("source", allowed=("salesperson", "phone", "portal", "edi")), _c("signed_by_customer", BOOL),
    ), key=("order_id",), description="Customer orders."),
    Table("order_lines", (
        _r("order_id", references=("orders", "order_id")), _r("line_no", INT),
        _r("product_id", references=("products", "product_id")),
        _r("quantity", FLOAT, non_negative=True),
    ), key=("order_id", "line_no"), description="What the customer ordered."),
    Table("invoices", (
        _r("invoice_id"), _r("invoice_no"), _r("invoice_date", DATE),
        _r("customer_id", references=("customers", "customer_id")),
        _r("salesperson_id", references=("salespeople", "salesperson_id")), _c("due_date", DATE),
        _c("order_id", references=("orders", "order_id")), _c("status", allowed=("posted", "cancelled")),
        _c("created_by"), _c("approved_by"),
        # Added to the contract: why a document has zero value (sample, replacement, ...).
        _c("reason"),
    ), key=("invoice_id",), required=True, description="Sales invoices."),
    Table("invoice_lines", (
        _r("invoice_id", references=("invoices", "invoice_id")), _r("line_no", INT),
        _r("product_id", references=("products", "product_id")),
        _r("quantity", FLOAT, non_negative=True), _r("unit_price", FLOAT, non_negative=True),
        _c("list_price", FLOAT, non_negative=True), _c("discount_pct", FLOAT, non_negative=True),
        _c("discount_type", allowed=("none", "volume", "cash", "promo", "manual")),
        _c("discount_approved_by"),
    ), key=("invoice_id", "line_no"), required=True, description="Invoice lines."),
    Table("shipments", (
        _r("shipment_id"), _r("ship_date", DATE), _r("customer_id", references=("customers", "customer_id")),
        _c("invoice_id", references=("invoices", "invoice_id")),
        _c("order_id", references=("orders", "order_id")), _c("warehouse_id"), _c("delivery_address"),
        _c("delivery_lat", FLOAT), _c("delivery_lon", FLOAT), _c("received_by"),
    ), key=("shipment_id",), description="Goods leaving the warehouse."),
    Table("shipment_lines", (
        _r("shipment_id", references=("shipments", "shipment_id")),
        _r("product_id", references=("products", "product_id")),
        _r("quantity", FLOAT, non_negative=True),
    ), description="What each shipment carried."),
    Table("credit_notes", (
        _r("credit_note_id"), _r("credit_date", DATE),
        _r("customer_id", references=("customers", "customer_id")),
        _r("amount", FLOAT, non_negative=True), _c("invoice_id", references=("invoices", "invoice_id")),
        _c("reason", allowed=("return", "price_adjustment", "not_ordered", "damaged", "discount", "other")),
        _c("product_id", references=("products", "product_id")), _c("quantity", FLOAT, non_negative=True),
        _c("approved_by"),
    ), key=("credit_note_id",), description="Credit notes (returns, adjustments)."),
    Table("receipts", (
        _r("receipt_id"), _r("customer_id", references=("customers", "customer_id")),
        _r("receipt_date", DATE), _r("posted_date", DATE),
        _r("method", allowed=("cash", "cheque", "transfer", "card")),
        _r("amount", FLOAT, non_negative=True), _c("collected_by"),
        _c("cheque_id", references=("cheques", "cheque_id")),
    ), key=("receipt_id",), description="Money received from customers."),
    Table("receipt_allocations", (
        _r("receipt_id", references=("receipts", "receipt_id")),
        _r("invoice_id", references=("invoices", "invoice_id")),
        _r("amount", FLOAT, non_negative=True), _c("cash_discount_amount", FLOAT, non_negative=True),
    ), description="Which invoices each receipt paid."),
    Table("cheques", (
        _r("cheque_id"), _r("cheque_no"), _r("customer_id", references=("customers", "customer_id")),
        _r("amount", FLOAT, non_negative=True), _r("due_date", DATE), _r("received_date", DATE),
        _c("handed_in_date", DATE), _c("issue_date", DATE), _c("bank"), _c("drawer_account"),
        _c("drawer_name"), _c("collected_by"),
        _c("status", allowed=("pending", "cleared", "bounced", "returned", "replaced")),
        _c("status_date", DATE), _c("replaces_cheque_id", references=("cheques", "cheque_id")),
    ), key=("cheque_id",), description="Customer cheques, most of them post-dated."),
    Table("visits", (
        _r("visit_id"), _r("salesperson_id", references=("salespeople", "salesperson_id")),
        _r("customer_id", references=("customers", "customer_id")), _r("planned_date", DATE),
        _c("planned_time"), _c("checkin_at", TIMESTAMP), _c("checkout_at", TIMESTAMP),
        _c("checkin_lat", FLOAT), _c("checkin_lon", FLOAT),
        _c("status", allowed=("planned", "done", "missed", "cancelled")), _c("outcome"), _c("notes"),
    ), key=("visit_id",), description="Planned customer visits and their check-ins."),
    Table("gps_pings", (
        _r("salesperson_id", references=("salespeople", "salesperson_id")),
        _r("recorded_at", TIMESTAMP), _r("lat", FLOAT), _r("lon", FLOAT),
    ), description="Salespeople's phone positions."),
    Table("customer_events", (
        _r("customer_id", references=("customers", "customer_id")), _r("event_date", DATE),
        _r("event_type", allowed=EVENT_TYPES, extendable=True), _c("amount", FLOAT), _c("due_date", DATE),
        _c("notes"), _c("reported_by"),
    ), description="Things learned about a customer (promises, changes, legal steps)."),
    Table("customer_financials", (
        _r("customer_id", references=("customers", "customer_id")), _r("period_end", DATE),
        _c("total_assets", FLOAT), _c("current_assets", FLOAT), _c("current_liabilities", FLOAT),
        _c("total_liabilities", FLOAT), _c("equity", FLOAT), _c("retained_earnings", FLOAT),
        _c("ebit", FLOAT), _c("sales", FLOAT), _c("interest_expense", FLOAT), _c("receivables", FLOAT),
        _c("inventory", FLOAT), _c("fixed_assets", FLOAT),
    ), key=("customer_id", "period_end"), description="Customers' financial statements."),
    Table("confirmations", (
        _r("customer_id", references=("customers", "customer_id")), _r("as_of_date", DATE),
        _r("confirmed_balance", FLOAT), _c("reply_date", DATE),
    ), key=("customer_id", "as_of_date"), description="Customers' own statements of what they owe."),
]}

# Parent tables before children, so a quarantined parent row can cascade to its children.
LOAD_ORDER: list[str] = list(TABLES)

# Pattern families: what kind of conclusion a finding of the pattern is, for ranking, reports and coverage.
SALESPERSON_FRAUD = "salesperson fraud"  # a salesperson gets around sales management
DISTRESS = "distress"  # a customer (or a portfolio) about to fail
STANDARD_TEST = "standard test"  # a broad test of the records (Benford, duplicates, gaps, ...)
LEAD = "lead"  # an unusual entity worth a look, not a conclusion
DATA_FINDING = "data finding"  # a fact about the data itself (e.g. a price list missing a change)


@dataclass(frozen=True)
class Pattern:
    """One ``pattern`` of the contract's vocabulary: its human name, the entity type its labels and most of
    its findings name (a detector may report the pattern on another entity, e.g. Benford per customer),
    and its family."""

    name: str
    label: str
    entity_type: str
    family: str


# The contract's pattern vocabulary, in one place; patterns are added here, never renamed.
PATTERN_TABLE: dict[str, Pattern] = {p.name: p for p in (
    Pattern("added_invoice_items", N_("Items added to invoices"), "invoice", SALESPERSON_FRAUD),
    Pattern("fictitious_customer", N_("Made-up buyer"), "customer", SALESPERSON_FRAUD),
    Pattern("multi_name_invoicing", N_("One buyer under several names"), "customer", SALESPERSON_FRAUD),
    Pattern("split_volume_discount", N_("Volume discount split among buyers"), "invoice", SALESPERSON_FRAUD),
    Pattern("cheque_withheld", N_("Cheque or cash held back"), "cheque", SALESPERSON_FRAUD),
    Pattern("cheque_maturity_over_policy", N_("Cheque post-dated beyond policy"), "cheque", SALESPERSON_FRAUD),
    Pattern("payment_swap", N_("Customer payment swapped for the salesperson's own"), "receipt", SALESPERSON_FRAUD),
    Pattern("unbilled_shipment", N_("Shipment without an invoice"), "shipment", SALESPERSON_FRAUD),
    Pattern("visit_noncompliance", N_("Missed or fake visits"), "visit", SALESPERSON_FRAUD),
    Pattern("cash_discount_not_applied", N_("Cash discount withheld"), "receipt", SALESPERSON_FRAUD),
    Pattern("unauthorized_discount", N_("Discount beyond authority"), "invoice", SALESPERSON_FRAUD),
    Pattern("price_deviation", N_("Price off the list"), "invoice", SALESPERSON_FRAUD),
    Pattern("customer_distress", N_("Customer about to fail"), "customer", DISTRESS),
    Pattern("portfolio_distress", N_("Distressed customers gathered in one portfolio"), "salesperson", DISTRESS),
    Pattern("duplicate_invoice", N_("Duplicate invoice"), "invoice", STANDARD_TEST),
    Pattern("invoice_number_gap", N_("Gap in invoice numbers"), "invoice_no", STANDARD_TEST),
    Pattern("benford_deviation", N_("First digits off Benford's law"), "salesperson", STANDARD_TEST),
    Pattern("round_amount", N_("Round amounts"), "salesperson", STANDARD_TEST),
    Pattern("weekend_posting", N_("Posted on a day off"), "invoice", STANDARD_TEST),
    Pattern("just_below_threshold", N_("Amounts just under the approval limit"), "invoice", STANDARD_TEST),
    Pattern("salesperson_anomaly", N_("Unusual salesperson"), "salesperson", LEAD),
    Pattern("customer_anomaly", N_("Unusual customer"), "customer", LEAD),
    Pattern("invoice_anomaly", N_("Unusual invoice"), "invoice", LEAD),
    Pattern("price_list_gap", N_("Price list missing a change"), "product", DATA_FINDING),
    Pattern("reversed_large_invoice", N_("Very large invoice reversed soon after"), "invoice", STANDARD_TEST),
)}
PATTERNS: tuple[str, ...] = tuple(PATTERN_TABLE)
SALESPERSON_PATTERNS: tuple[str, ...] = tuple(p.name for p in PATTERN_TABLE.values() if p.family == SALESPERSON_FRAUD)
# Patterns whose findings are about the data, not a fraud or a failing customer: evaluation does not count
# them as findings (they are neither true nor false alarms).
DATA_PATTERNS: tuple[str, ...] = tuple(p.name for p in PATTERN_TABLE.values() if p.family == DATA_FINDING)


def pattern_label(name: str) -> str:
    """The human name of a pattern ("Price off the list") in the active language (:mod:`audit.i18n`), or the
    name itself when it is not in the table."""
    pattern = PATTERN_TABLE.get(name)
    return t(pattern.label) if pattern else str(name).replace("_", " ")

EXCEPTION_COLUMNS: tuple[str, ...] = (
    "exception_id", "run_id", "rank", "detector", "pattern", "score", "risk_amount", "entity_type",
    "entity_id", "salesperson_id", "customer_id", "period", "title", "explanation", "evidence", "related",
    "status",
    # added: the review decision behind a suppressed or confirmed status (the case store's, or the
    # --suppressions file's "suppressed"), who made it and why
    "decision", "decided_by", "reason",
    # added: what to check next (the document to pull, the person to ask), the explanation's last sentence
    "check_next",
)
EXCEPTION_STATUSES = ("new", "repeat", "suppressed", "confirmed")

LABEL_COLUMNS: tuple[str, ...] = (
    "pattern", "entity_type", "entity_id", "salesperson_id", "customer_id", "amount", "event_date", "note",
)
