"""Convert the public "Classic Models" sample database (the MySQL tutorial's ``mysqlsampledatabase.sql``) into
the data contract's tables, so the audit can be measured on a real-shaped ledger nobody here wrote.

Classic Models is a scale-model wholesaler: 23 employees in 7 offices, 122 customers, 110 products, 326 orders
with 2,996 lines (2003-01 to 2005-05) and 273 payments by cheque. It is sample data nobody planted fraud in, but
it is a tutorial's generated data, not a company's export: every priceEach is MSRP times 0.80 to 1.00 in steps of
0.01, spread evenly, and 77 of the 98 customers with orders paid exactly what they were invoiced.

Usage::

    python benchmarks/real_ledgers/classicmodels.py mysqlsampledatabase.sql OUT_FOLDER

The converter reads only the ``INSERT`` statements of the dump (MySQL quoting: ``'...'`` with backslash escapes,
``NULL``) and writes one CSV per contract table plus ``policy.toml`` into OUT_FOLDER.

How the source maps:

- employees whose jobTitle is "Sales Rep" → ``salespeople`` (salesperson_id = employeeNumber, name = first and
  last name, manager_id = reportsTo, region = the office's territory). The President, the VPs and the three
  sales managers sell to nobody and are not salespeople.
- customers → ``customers``: created_date (required, absent in the source) = the customer's first order date;
  assigned_salesperson_id = salesRepEmployeeNumber; credit_limit = creditLimit; phone; address = addressLine1
  and addressLine2; city; country (an added column). The 24 customers without any order (22 of them also without
  a sales rep) have no created_date and nothing to audit, so they are left out and their count is printed; a
  customer with orders but no sales rep is an error.
- products → ``products`` (name, category = productLine, brand = productVendor, list_price = MSRP);
  ``price_list`` holds each product's MSRP from the first order date on, because the source keeps no price
  history.
- orders → ``orders`` and ``invoices`` (one invoice per order: invoice_id = invoice_no = order_id =
  orderNumber, invoice_date = orderDate, salesperson = the customer's sales rep, because orders carry no
  salesperson; status cancelled for the 6 Cancelled orders, posted for every other status — Shipped, Resolved,
  Disputed, On Hold, In Process); orderdetails → ``order_lines`` and ``invoice_lines`` (line_no =
  orderLineNumber, quantity = quantityOrdered, unit_price = priceEach as charged, list_price = MSRP).
- orders with a shippedDate → ``shipments`` and ``shipment_lines`` (shipment_id = orderNumber, ship_date =
  shippedDate, every ordered line shipped in full). Two Cancelled orders carry a shippedDate in the source
  (their comments say the goods had left); they are kept as shipments of a cancelled invoice.
- payments → ``receipts`` (receipt_id = checkNumber, method cheque, receipt_date = posted_date = paymentDate,
  amount, cheque_id = checkNumber) and ``cheques`` (cheque_id = cheque_no = checkNumber, amount,
  received_date = due_date = paymentDate, status cleared): the source records a cheque only when it is paid.

What the source does not have, so these columns and tables are absent (not blank): receipt allocations (which
invoices a payment paid), invoice and discount approvers, discount percentages and types (priceEach is the
price charged, usually below MSRP, with no record of why), payment terms and due dates (requiredDate is the
delivery date the customer asked for, not a payment date), price history, cheque hand-in, issue and maturity
dates, credit notes, visits, GPS, customer events, financial statements, confirmations, other employees.
Offices, product lines, stock and buy prices, order comments and requiredDate are not mapped.

``policy.toml`` sets only the currency (USD); every other key is the contract's default.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from pathlib import Path

INSERT = re.compile(r"insert\s+into\s+`(\w+)`\s*\(([^)]*)\)\s*values\s*", re.IGNORECASE)
ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "0": "\0", "Z": "\x1a"}
EXPECTED_TABLES = ("customers", "employees", "offices", "orderdetails", "orders", "payments", "products")


class DumpError(ValueError):
    """The SQL file is not the Classic Models dump this converter knows."""


def _values(text: str, start: int, table: str) -> tuple[list[list[str | None]], int]:
    """Read ``(v, v, ...), (...);`` from ``start``: the rows and the position after the closing ``;``."""
    rows: list[list[str | None]] = []
    i, n = start, len(text)
    while True:
        while i < n and text[i] in " \t\r\n,":
            i += 1
        if i >= n:
            raise DumpError(f"{table}: the INSERT statement ends without ';'")
        if text[i] == ";":
            return rows, i + 1
        if text[i] != "(":
            raise DumpError(f"{table}: expected '(' at character {i}, found {text[i]!r}")
        i += 1
        row: list[str | None] = []
        while True:
            while text[i] in " \t\r\n":
                i += 1
            if text[i] == "'":
                i += 1
                chars = []
                while text[i] != "'" or text[i + 1 : i + 2] == "'":
                    if text[i] == "\\":
                        chars.append(ESCAPES.get(text[i + 1], text[i + 1]))
                        i += 2
                    elif text[i] == "'":  # '' inside a string is one quote
                        chars.append("'")
                        i += 2
                    else:
                        chars.append(text[i])
                        i += 1
                row.append("".join(chars))
                i += 1
            else:
                j = i
                while text[j] not in ",)":
                    j += 1
                token = text[i:j].strip()
                row.append(None if token.upper() == "NULL" else token)
                i = j
            while text[i] in " \t\r\n":
                i += 1
            if text[i] == ",":
                i += 1
                continue
            if text[i] == ")":
                i += 1
                break
            raise DumpError(f"{table}: expected ',' or ')' at character {i}, found {text[i]!r}")
        rows.append(row)


def read_dump(path: Path) -> dict[str, list[dict[str, str | None]]]:
    """Every INSERT statement of the dump, as table name → list of rows (column name → text or None)."""
    text = path.read_text(encoding="utf-8")
    tables: dict[str, list[dict[str, str | None]]] = {}
    pos = 0
    while (match := INSERT.search(text, pos)) is not None:
        table = match.group(1)
        columns = [c.strip().strip("`") for c in match.group(2).split(",")]
        rows, pos = _values(text, match.end(), table)
        for number, row in enumerate(rows, 1):
            if len(row) != len(columns):
                raise DumpError(f"{table} row {number}: {len(row)} values for {len(columns)} columns")
        tables.setdefault(table, []).extend(dict(zip(columns, row, strict=True)) for row in rows)
    missing = [t for t in EXPECTED_TABLES if t not in tables]
    if missing:
        raise DumpError(f"{path}: no INSERT statement for {', '.join(missing)}; is this mysqlsampledatabase.sql?")
    return tables


def _write(folder: Path, name: str, columns: list[str], rows: list[dict]) -> None:
    with (folder / f"{name}.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({c: ("" if row.get(c) is None else row[c]) for c in columns})


def convert(dump: Path, out: Path) -> dict[str, int]:
    """Write the contract tables for ``dump`` into ``out``; return the number of rows of each table."""
    src = read_dump(dump)
    offices = {o["officeCode"]: o for o in src["offices"]}
    employees = {e["employeeNumber"]: e for e in src["employees"]}
    products = {p["productCode"]: p for p in src["products"]}
    orders = sorted(src["orders"], key=lambda o: int(o["orderNumber"]))
    details = src["orderdetails"]
    customers = {c["customerNumber"]: c for c in src["customers"]}

    first_order: dict[str, str] = {}
    for o in orders:
        cust = o["customerNumber"]
        if cust not in customers:
            raise DumpError(f"orders row {o['orderNumber']}: customer {cust} is not in customers")
        if cust not in first_order or o["orderDate"] < first_order[cust]:
            first_order[cust] = o["orderDate"]

    reps = {k: e for k, e in employees.items() if e["jobTitle"] == "Sales Rep"}
    salespeople = [{
        "salesperson_id": k, "name": f"{e['firstName']} {e['lastName']}", "manager_id": e["reportsTo"],
        "region": offices[e["officeCode"]]["territory"],
    } for k, e in reps.items()]

    kept_customers, left_out = [], []
    for k, c in customers.items():
        rep = c["salesRepEmployeeNumber"]
        if k not in first_order:  # no created_date to give it, and nothing of it to audit
            left_out.append(k)
            continue
        if rep is None:
            raise DumpError(f"customers row {k}: has orders but no salesRepEmployeeNumber")
        if rep not in reps:
            raise DumpError(f"customers row {k}: salesRepEmployeeNumber {rep} is not a Sales Rep")
        kept_customers.append({
            "customer_id": k, "name": c["customerName"], "created_date": first_order[k],
            "assigned_salesperson_id": rep, "credit_limit": c["creditLimit"], "phone": c["phone"],
            "address": ", ".join(p for p in (c["addressLine1"], c["addressLine2"]) if p),
            "city": c["city"].strip(), "country": c["country"].strip(),
        })

    product_rows = [{
        "product_id": k, "name": p["productName"], "brand": p["productVendor"], "category": p["productLine"],
        "list_price": p["MSRP"],
    } for k, p in products.items()]
    start = min(o["orderDate"] for o in orders)
    price_list = [{"product_id": k, "valid_from": start, "unit_price": p["MSRP"]} for k, p in products.items()]

    lines_of: dict[str, list[dict]] = {}
    for d in details:
        if d["productCode"] not in products:
            raise DumpError(f"orderdetails row {d['orderNumber']}/{d['productCode']}: unknown product")
        lines_of.setdefault(d["orderNumber"], []).append(d)

    order_rows, order_lines, invoices, invoice_lines, shipments, shipment_lines = [], [], [], [], [], []
    for o in orders:
        number, cust = o["orderNumber"], o["customerNumber"]
        rep = customers[cust]["salesRepEmployeeNumber"]
        lines = sorted(lines_of.get(number, []), key=lambda d: int(d["orderLineNumber"]))
        if not lines:
            raise DumpError(f"orders row {number}: no orderdetails")
        order_rows.append({"order_id": number, "customer_id": cust, "salesperson_id": rep,
                           "order_date": o["orderDate"]})
        invoices.append({
            "invoice_id": number, "invoice_no": number, "invoice_date": o["orderDate"], "customer_id": cust,
            "salesperson_id": rep, "order_id": number,
            "status": "cancelled" if o["status"] == "Cancelled" else "posted",
        })
        for d in lines:
            order_lines.append({"order_id": number, "line_no": d["orderLineNumber"],
                                "product_id": d["productCode"], "quantity": d["quantityOrdered"]})
            invoice_lines.append({
                "invoice_id": number, "line_no": d["orderLineNumber"], "product_id": d["productCode"],
                "quantity": d["quantityOrdered"], "unit_price": d["priceEach"],
                "list_price": products[d["productCode"]]["MSRP"],
            })
        if o["shippedDate"] is not None:
            shipments.append({"shipment_id": number, "ship_date": o["shippedDate"], "customer_id": cust,
                              "invoice_id": number, "order_id": number})
            shipment_lines.extend({"shipment_id": number, "product_id": d["productCode"],
                                   "quantity": d["quantityOrdered"]} for d in lines)

    receipts, cheques, seen = [], [], set()
    for p in src["payments"]:
        check, cust = p["checkNumber"], p["customerNumber"]
        if check in seen:
            raise DumpError(f"payments row {cust}/{check}: checkNumber {check} appears twice")
        seen.add(check)
        if cust not in first_order:
            raise DumpError(f"payments row {cust}/{check}: customer {cust} has no orders")
        receipts.append({"receipt_id": check, "customer_id": cust, "receipt_date": p["paymentDate"],
                         "posted_date": p["paymentDate"], "method": "cheque", "amount": p["amount"],
                         "cheque_id": check})
        cheques.append({"cheque_id": check, "cheque_no": check, "customer_id": cust, "amount": p["amount"],
                        "due_date": p["paymentDate"], "received_date": p["paymentDate"], "status": "cleared"})

    out.mkdir(parents=True, exist_ok=True)
    tables = {
        "salespeople": (["salesperson_id", "name", "region", "manager_id"], salespeople),
        "customers": (["customer_id", "name", "created_date", "assigned_salesperson_id", "credit_limit", "phone",
                       "address", "city", "country"], kept_customers),
        "products": (["product_id", "name", "brand", "category", "list_price"], product_rows),
        "price_list": (["product_id", "valid_from", "unit_price"], price_list),
        "orders": (["order_id", "customer_id", "salesperson_id", "order_date"], order_rows),
        "order_lines": (["order_id", "line_no", "product_id", "quantity"], order_lines),
        "invoices": (["invoice_id", "invoice_no", "invoice_date", "customer_id", "salesperson_id", "order_id",
                      "status"], invoices),
        "invoice_lines": (["invoice_id", "line_no", "product_id", "quantity", "unit_price", "list_price"],
                          invoice_lines),
        "shipments": (["shipment_id", "ship_date", "customer_id", "invoice_id", "order_id"], shipments),
        "shipment_lines": (["shipment_id", "product_id", "quantity"], shipment_lines),
        "cheques": (["cheque_id", "cheque_no", "customer_id", "amount", "due_date", "received_date", "status"],
                    cheques),
        "receipts": (["receipt_id", "customer_id", "receipt_date", "posted_date", "method", "amount", "cheque_id"],
                     receipts),
    }
    for name, (columns, rows) in tables.items():
        _write(out, name, columns, rows)
    (out / "policy.toml").write_text('currency = "USD"\n', encoding="utf-8")
    counts = {name: len(rows) for name, (_, rows) in tables.items()}
    counts["customers left out (no orders)"] = len(left_out)
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dump", type=Path, help="mysqlsampledatabase.sql")
    parser.add_argument("out", type=Path, help="folder for the contract tables")
    args = parser.parse_args(argv)
    try:
        counts = convert(args.dump, args.out)
    except (DumpError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for name, count in counts.items():
        print(f"{name}: {count}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
