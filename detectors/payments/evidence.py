"""Facts about receipts and cheques shared by the payment and cheque detectors.

- who drew a cheque: the customer, its owner (or the owner's family), a salesperson or employee (by
  bank account or name), a salesperson's relative (same family name), another customer, or nobody on
  record; names are compared with rapidfuzz;
- the signs of lapping: a receipt allocated to another customer's invoices, or a receipt whose amount
  is exactly another customer's invoice that was still unpaid on the receipt's date;
- which balance confirmations fall while money was in a salesperson's hands.
"""

from __future__ import annotations

import pandas as pd
from rapidfuzz import fuzz, process, utils

from analyses.links.graph import family_key
from audit.i18n import t
from audit.ledger import invoice_amounts
from audit.membership import among
from detectors.wording import entity_words

# Who drew a cheque; the first five are the customer's own side (legitimate).
OWN_KINDS = ("customer_account", "customer_name", "owner", "owner_family", "unstated")


def _text(value) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    text = str(value).strip()
    return text or None


def _clean(name) -> str:
    text = _text(name)
    return utils.default_process(text) if text else ""


def family_name(name) -> str:
    """The family part of a person's name, normalised as the entity links do (``family_key``): a compound
    family name stays whole, so "Ashrafi-Moghaddam" is not the family of "Izadi-Moghaddam"."""
    return family_key(name) or ""


def names_match(a, b, score: float) -> bool:
    a, b = _clean(a), _clean(b)
    return bool(a and b) and fuzz.token_sort_ratio(a, b) >= score


def staff(data) -> pd.DataFrame:
    """Salespeople and other employees: person_id, role, name, bank_account."""
    parts = []
    for table, key, role in (("salespeople", "salesperson_id", "salesperson"), ("employees", "employee_id", None)):
        if not data.has(table, (key, "name")):
            continue
        frame = data.frame(table)
        parts.append(pd.DataFrame({
            "person_id": frame[key].astype("object"),
            "role": role if role else frame["role"].fillna("employee").astype("object"),
            "name": frame["name"].astype("object"),
            "bank_account": frame["bank_account"].astype("object") if "bank_account" in frame else None,
        }))
    if not parts:
        return pd.DataFrame(columns=["person_id", "role", "name", "bank_account"])
    return pd.concat(parts, ignore_index=True)


def drawer_identity(data, cheques: pd.DataFrame, name_match_score: float) -> pd.DataFrame:
    """Who drew each cheque.

    ``cheques`` holds cheque_id, customer_id, drawer_account, drawer_name and salesperson_id (the
    salesperson who collected it or looks after the customer). Returns, in the same order, cheque_id,
    drawer_kind (see below), drawer_person (the id of the staff member or customer matched),
    drawer_person_type (customer, salesperson or employee) and drawer_words.

    Kinds: customer_account, customer_name, owner, owner_family (the owner's family name), unstated
    (no drawer recorded), staff_account, staff_name, salesperson_relative, other_customer, unknown.
    """
    columns = ["cheque_id", "drawer_kind", "drawer_person", "drawer_person_type", "drawer_words"]
    if cheques.empty:
        return pd.DataFrame(columns=columns)
    customers: dict[str, dict] = {}
    if data.has("customers"):
        frame = data.frame("customers")
        for customer_id, name, owner, account in zip(frame["customer_id"].tolist(), frame["name"].tolist(),
                                                     frame["owner_name"].tolist(), frame["bank_account"].tolist(),
                                                     strict=True):
            customers[customer_id] = {"name": name, "owner_name": owner, "bank_account": account}
    people = staff(data)
    staff_names = [_clean(n) for n in people["name"]]
    staff_by_account: dict[str, int] = {}
    for position, account in enumerate(people["bank_account"]):
        if _text(account):
            staff_by_account.setdefault(_text(account), position)
    staff_family = {row.person_id: family_name(row.name) for row in people.itertuples() if row.role == "salesperson"}
    other_by_account: dict[str, str] = {}
    other_by_name: dict[str, str] = {}
    for customer_id, row in customers.items():
        if _text(row["bank_account"]):
            other_by_account.setdefault(_text(row["bank_account"]), customer_id)
        for field in ("name", "owner_name"):
            if _clean(row[field]):
                other_by_name.setdefault(_clean(row[field]), customer_id)

    rows = []
    for cheque in cheques[["cheque_id", "customer_id", "drawer_account", "drawer_name", "salesperson_id"]].itertuples(
            index=False):
        kind, person, words = _identify(cheque, customers.get(cheque.customer_id, {}), people, staff_names,
                                        staff_by_account, staff_family, other_by_account, other_by_name,
                                        name_match_score)
        rows.append((cheque.cheque_id, kind, person, _person_type(kind, person, people), words))
    return pd.DataFrame(rows, columns=columns)


def _person_type(kind: str, person, people: pd.DataFrame) -> str | None:
    if person is None:
        return None
    if kind in ("staff_account", "staff_name"):
        role = people.loc[people["person_id"] == person, "role"]
        return "salesperson" if len(role) and role.iloc[0] == "salesperson" else "employee"
    return "salesperson" if kind == "salesperson_relative" else "customer"


def _identify(cheque, customer: dict, people, staff_names, staff_by_account, staff_family, other_by_account,
              other_by_name, score):
    account, name = _text(cheque.drawer_account), _text(cheque.drawer_name)
    if account is None and name is None:
        return "unstated", None, t("no drawer is recorded on the cheque")
    if account is not None and account == _text(customer.get("bank_account")):
        return "customer_account", cheque.customer_id, t("drawn on the customer's own account %(account)s", account=account)
    if names_match(name, customer.get("name"), score):
        return "customer_name", cheque.customer_id, t("drawn by the customer (%(name)s)", name=name)
    if names_match(name, customer.get("owner_name"), score):
        return "owner", cheque.customer_id, t("drawn by the customer's owner %(owner)s", owner=customer.get("owner_name"))
    if account is not None and account in staff_by_account:
        who = people.iloc[staff_by_account[account]]
        return "staff_account", who.person_id, t(
            "drawn on the bank account of %(role)s %(person)s (%(name)s), %(account)s", role=entity_words(who.role),
            person=who.person_id, name=who["name"], account=account)
    if name is not None and staff_names:
        best = process.extractOne(_clean(name), staff_names, scorer=fuzz.token_sort_ratio, score_cutoff=score)
        if best is not None:
            who = people.iloc[best[2]]
            return "staff_name", who.person_id, t(
                "drawn in the name of %(role)s %(person)s (%(name)s)", role=entity_words(who.role),
                person=who.person_id, name=who["name"])
    family = family_name(name)
    owner_family = family_name(customer.get("owner_name"))
    if family and owner_family and fuzz.ratio(family, owner_family) >= score:
        return "owner_family", cheque.customer_id, t(
            "drawn by %(name)s, of the owner's family (%(owner)s)", name=name, owner=customer.get("owner_name"))
    salesperson = _text(cheque.salesperson_id)
    salesperson_family = staff_family.get(salesperson, "")
    if family and salesperson_family and fuzz.ratio(family, salesperson_family) >= score:
        return "salesperson_relative", salesperson, t(
            "drawn by %(name)s, who shares the family name of salesperson %(salesperson)s", name=name,
            salesperson=salesperson)
    if account is not None and other_by_account.get(account) not in (None, cheque.customer_id):
        other = other_by_account[account]
        return "other_customer", other, t("drawn on the account of another customer, %(other)s (%(account)s)", other=other, account=account)
    if name is not None and other_by_name.get(_clean(name)) not in (None, cheque.customer_id):
        other = other_by_name[_clean(name)]
        return "other_customer", other, t("drawn by %(name)s, another customer (%(other)s)", name=name, other=other)
    return "unknown", None, (
        t("drawn by %(name)s on account %(account)s, neither the customer, its owner, nor anyone else on record",
          name=name or t("an unnamed drawer"), account=account) if account else
        t("drawn by %(name)s, neither the customer, its owner, nor anyone else on record",
          name=name or t("an unnamed drawer")))


def cross_customer_allocations(data, name_match_score: float, receipt_ids=None) -> pd.DataFrame:
    """Allocations of a receipt to another customer's invoices, except between accounts of one owner.

    Returns receipt_id, receipt_customer, invoice_id, invoice_customer, invoice_date, amount.
    """
    columns = ["receipt_id", "receipt_customer", "invoice_id", "invoice_customer", "invoice_date", "amount"]
    if not (data.has("receipts") and data.has("receipt_allocations")):
        return pd.DataFrame(columns=columns)
    receipts = data.table("receipts").select("receipt_id", receipt_customer="customer_id")
    if receipt_ids is not None:
        receipts = receipts.filter(among(receipts.receipt_id, sorted(set(receipt_ids))))
    allocations = data.table("receipt_allocations").select("receipt_id", "invoice_id", "amount")
    invoices = data.table("invoices").select("invoice_id", invoice_customer="customer_id",
                                             invoice_date="invoice_date")
    joined = allocations.join(receipts, "receipt_id").join(invoices, "invoice_id")
    crossed = joined.filter(joined.invoice_customer != joined.receipt_customer).select(*columns)
    found = data.execute(crossed.order_by(["receipt_id", "invoice_id"]))
    if found.empty or not data.has("customers", ("owner_name",)):
        return found
    owners = data.frame("customers").set_index("customer_id")["owner_name"]
    same_owner = [names_match(owners.get(a), owners.get(b), name_match_score)
                  for a, b in zip(found["receipt_customer"], found["invoice_customer"], strict=True)]
    return found[~pd.Series(same_owner, index=found.index, dtype=bool)].reset_index(drop=True)


def open_invoices_matching(data, receipts: pd.DataFrame, tolerance: float) -> pd.DataFrame:
    """Invoices of another customer whose amount is the receipt's, unpaid on the receipt's date.

    ``receipts``: receipt_id, customer_id, receipt_date, amount, salesperson_id. An invoice counts when
    it belongs to another customer of the same salesperson, is dated on or before the receipt, its
    amount equals the receipt's (within ``tolerance``), and no other receipt dated on or before this one
    paid it. Returns receipt_id, invoice_id, invoice_customer, invoice_date, invoice_amount.
    """
    columns = ["receipt_id", "invoice_id", "invoice_customer", "invoice_date", "invoice_amount"]
    receipts = receipts.dropna(subset=["salesperson_id", "amount"])
    if receipts.empty:
        return pd.DataFrame(columns=columns)
    invoices = invoice_amounts(data)
    invoices = invoices.filter(among(invoices.salesperson_id, sorted(set(receipts["salesperson_id"]))))
    invoices = data.execute(invoices.select("invoice_id", "customer_id", "salesperson_id", "invoice_date", "amount"))
    pairs = receipts[["receipt_id", "customer_id", "receipt_date", "amount", "salesperson_id"]].merge(
        invoices.rename(columns={"customer_id": "invoice_customer", "amount": "invoice_amount"}), on="salesperson_id")
    pairs = pairs[(pairs["invoice_customer"] != pairs["customer_id"]) & (pairs["invoice_date"] <= pairs["receipt_date"])
                  & ((pairs["invoice_amount"] - pairs["amount"]).abs() <= tolerance)]
    if pairs.empty:
        return pd.DataFrame(columns=columns)
    if data.has("receipt_allocations"):
        allocations = data.table("receipt_allocations")
        paid_by = allocations.filter(among(allocations.invoice_id, sorted(set(pairs["invoice_id"])))).join(
            data.table("receipts").select("receipt_id", paid_date="receipt_date"), "receipt_id")
        paid_by = data.execute(paid_by.select("invoice_id", "paid_date", payer_receipt="receipt_id"))
        earlier = pairs.merge(paid_by, on="invoice_id")
        earlier = earlier[(earlier["payer_receipt"] != earlier["receipt_id"])
                          & (earlier["paid_date"] <= earlier["receipt_date"])]
        paid_before = set(zip(earlier["receipt_id"], earlier["invoice_id"], strict=True))
        keep = [(r, i) not in paid_before for r, i in zip(pairs["receipt_id"], pairs["invoice_id"], strict=True)]
        pairs = pairs[keep]
    return pairs[columns].sort_values(["receipt_id", "invoice_id"], ignore_index=True)


def confirmations_during(gaps: pd.DataFrame, customer_id, start, end) -> list[dict]:
    """Confirmations of ``customer_id`` dated on or after ``start`` and before ``end`` (end missing: no end)
    in which the customer owes less than the ledger: customer_id, as_of_date, confirmed_balance,
    ledger_balance, gap."""
    if gaps.empty or start is None or pd.isna(start):
        return []
    mine = gaps[(gaps["customer_id"] == customer_id) & (gaps["as_of_date"] >= start) & (gaps["gap"] > 0)]
    if end is not None and pd.notna(end):
        mine = mine[mine["as_of_date"] < end]
    return [{"customer_id": customer_id, "as_of_date": row.as_of_date, "confirmed_balance": row.confirmed_balance,
             "ledger_balance": row.ledger_balance, "gap": row.gap} for row in mine.itertuples()]


def first_text(*values) -> str | None:
    """The first value that is a non-blank text (ids such as collected_by, assigned salesperson)."""
    for value in values:
        text = _text(value)
        if text is not None:
            return text
    return None
