"""fictitious_customer: invoices issued to a customer who does not exist, the goods diverted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import rapidfuzz.process
from rapidfuzz import fuzz

from analyses.links.graph import (
    family_key,
    haversine_m,
    link_inputs_for,
    links_for,
    name_key,
    same_tokens,
)
from audit.common import month_of
from audit.detector import Detector, empty_findings, related_ids
from audit.ledger import data_end_date
from audit.policy import DEFAULTS
from detectors.customers import facts
from detectors.wording import fictitious_customer

STAFF_TYPES = ("salesperson", "employee")
MASTER_KINDS = ("shared_phone", "shared_address", "shared_bank_account")





class FictitiousCustomer(Detector):
    """Customer accounts that look made up: opened for the invoices, details borrowed, goods and money elsewhere.

    What it finds
    -------------
    Customers with invoices whose record and history carry the marks of an account that exists only
    on paper, each mark adding to the score (weights in ``WEIGHTS``):
    the account was opened at most ``new_account_days`` before its first invoice (more so when a
    salesperson opened it, ``created_by``); its phone, address or bank account is a salesperson's or
    an employee's, or another (non-chain) customer's (the ``entity_links`` view, LNK-01); nobody was
    ever there: no visit checked in within ``[visits] geofence_m`` of its position and no GPS ping of
    its salesperson near it (visits reported "done" with check-ins elsewhere count against it), or, half
    of that, its salesperson's pings passed near it but no visit was ever checked in there (passing by is
    no visit; not for an account that shares details with, or sends its goods to, another customer,
    which may be that customer's second name, visited under the other name); its
    deliveries went farther than the geofence from its position or to another customer's or staff
    member's address, or were received by someone who is not its owner (more so by someone bearing the
    salesperson's family name or a staff member's name); it left at least ``unpaid_share`` of its
    invoices unpaid and went quiet for ``dormant_days``, or it paid (at least ``cash_share`` of its
    payments) in cash collected by its own salesperson; it has no tax id; its owner has a staff member's
    name (weak: names repeat). What it paid itself (not in cash through its own salesperson), as a
    share of what it was invoiced, takes away from the score, in proportion to the calendar months it
    kept paying up to ``paid_months_full``: a real buyer pays for its goods month after month, while a
    made-up account can be paid for a few weeks to stay out of sight, so a month or two of payments does
    not cancel several other marks. Cheques drawn on its own bank account count twice what other
    payments do (transfers, cards, cash taken by someone else, other accounts' cheques). A visit
    checked in at its position when every delivery went to its own address, none signed for by a staff
    member or the salesperson's family, also takes away (a GPS ping near it only rules out "never
    there"; the check-in is the salesperson's own record, so with the goods in the salesperson's
    family's hands it shows the place, not a buyer). Goods that went to, or were received by the owner of,
    another customer that shares its phone, address or bank account or pays for it with its cheques
    are not counted as diverted: that is one buyer under two names (CUS-02). A
    finding needs a score of ``min_score``; the costly presence check (visits and GPS pings) is only
    made for customers the other marks could bring that far. Without visit records the presence mark
    is not scored and the explanation says confidence is lower.

    Why it matters
    --------------
    A salesperson who invents a customer can invoice goods to it and divert them (sell them on, keep
    them): the company ships real goods against a receivable nobody will pay, or that the salesperson
    settles with cash from the resale to stay out of sight.

    Flagged
    -------
    "Nouri Grocery", opened by salesperson S0014 on 2025-03-13 two days before its first invoice, with
    the phone, address and bank account of the treasury cashier, never visited, its eight deliveries
    received by a relative of the salesperson, 2,388,214,000 invoiced and paid in cash collected by
    S0014, no tax id: flagged, money at risk 2,388,214,000.

    Not flagged
    -----------
    A genuinely new small shop opened by its salesperson a week before its first order, visited there,
    its goods delivered at its own address to its owner, paying by transfer or cheque; an old customer
    that stopped paying (no new account, visited, delivered at home: a credit problem, not a made-up
    account); a second account of a real buyer, delivered at the buyer's shop that shares its phone or
    pays its invoices (CUS-02); a shop with a few thin marks (sharing a relative's phone, no tax id)
    that has paid by cheques on its own account for half a year.

    Evidence
    --------
    ``traces``: each mark's contribution to the score; the account's dates and who opened it; the links
    to staff and other customers (kind, other entity, value); visits and pings near its position;
    deliveries away from it and their receivers; invoiced, open balance and how it was paid (by
    cheques on its own account and otherwise, each with its months); the customers its goods went to
    that are linked to it. Money at risk is what was invoiced when the account was paid for (through
    the salesperson's hands or not), else its open balance.
    """

    code = "CUS-01"
    reads_analyses = ("LNK-01",)
    pattern = "fictitious_customer"
    wording = fictitious_customer.words
    entity_type = "customer"
    family = "customers"
    requires = {
        "customers": ("customer_id", "created_date", "assigned_salesperson_id"),
        "invoices": ("invoice_id", "invoice_date", "customer_id", "salesperson_id"),
        "invoice_lines": ("invoice_id", "quantity", "unit_price"),
    }
    uses = {
        "customers": ("created_by", "tax_id", "phone", "address", "bank_account", "lat", "lon", "owner_name",
                      "customer_class", "name"),
        "salespeople": ("salesperson_id", "name", "phone", "address", "bank_account"),
        "employees": ("employee_id", "name", "phone", "address", "bank_account"),
        "shipments": ("customer_id", "delivery_address", "delivery_lat", "delivery_lon", "received_by"),
        "visits": ("visit_id", "customer_id", "status", "checkin_lat", "checkin_lon"),
        "gps_pings": ("salesperson_id", "lat", "lon"),
        "receipts": ("customer_id", "method", "amount", "collected_by", "receipt_date"),
        "receipt_allocations": ("receipt_id", "invoice_id", "amount"),
        "credit_notes": ("customer_id", "amount"),
        "cheques": ("customer_id", "drawer_account", "drawer_name"),
        "invoices": ("status",),  # cancelled invoices are not sales (the ledger's net amounts)
        "invoice_lines": ("discount_pct",),
    }
    # What each mark adds to the score (the delivery marks together at most DELIVERY_CAP); paying for
    # its goods itself (not in cash through its salesperson) takes away, in proportion to what it paid.
    WEIGHTS = {
        "new_account": 0.15, "opened_by_salesperson": 0.05, "shares_with_staff": 0.35,
        "name_of_staff": 0.10, "shares_with_customer": 0.20, "no_presence": 0.20, "visits_off_site": 0.05,
        "never_checked_in": 0.10,
        "delivered_elsewhere": 0.25, "received_by_other": 0.15, "receiver_related_to_staff": 0.05,
        "unpaid_then_dormant": 0.20, "cash_by_own_collector": 0.15, "no_tax_id": 0.10,
        "paid_from_own_account": -0.50, "paid_by_customer": -0.25, "seen_at_its_address": -0.15,
    }
    DELIVERY_CAP = 0.30
    PRESENCE_KEYS = ("no_presence", "visits_off_site", "never_checked_in")

    def __init__(self, geofence_m: float = float(DEFAULTS.visits.geofence_m), new_account_days: int = 30, dormant_days: int = 60,
                 unpaid_share: float = 0.5, cash_share: float = 0.8, min_score: float = 0.55,
                 name_threshold: float = 93.0, paid_months_full: int = 6):
        self.geofence_m = geofence_m
        self.new_account_days = new_account_days
        self.dormant_days = dormant_days
        self.unpaid_share = unpaid_share
        self.cash_share = cash_share
        self.min_score = min_score
        self.name_threshold = name_threshold
        self.paid_months_full = paid_months_full

    @classmethod
    def params_from_policy(cls, policy):
        return {"geofence_m": float(policy.visits.geofence_m)}

    # ------------------------------------------------------------------ the facts, per customer
    def _customers(self, data) -> pd.DataFrame:
        master = data.frame("customers")
        keep = ["customer_id", "name", "created_date", "assigned_salesperson_id", "created_by", "tax_id", "lat",
                "lon", "owner_name", "customer_class", "phone", "address", "bank_account"]
        customers = master.loc[:, [c for c in keep if c in master.columns]].copy()
        summary = facts.invoice_summary(data)
        customers = customers.merge(summary, on="customer_id", how="inner")
        main = facts.main_salesperson(data)
        customers["salesperson_id"] = customers["customer_id"].map(main).fillna(customers["assigned_salesperson_id"])
        customers["lat"] = pd.to_numeric(customers["lat"], errors="coerce")
        customers["lon"] = pd.to_numeric(customers["lon"], errors="coerce")
        return customers.sort_values("customer_id", ignore_index=True)

    def _staff_names(self, data) -> dict[str, str]:
        names = {}
        for table, key, prefix in (("salespeople", "salesperson_id", "salesperson"),
                                   ("employees", "employee_id", "employee")):
            if data.has(table, (key, "name")):
                frame = data.frame(table)
                names.update({f"{prefix}:{k}": v for k, v in zip(frame[key], frame["name"], strict=True)})
        return names

    def _links(self, links: pd.DataFrame, customers: pd.DataFrame) -> dict[str, list[dict]]:
        """Per customer: its identity links to staff and to other customers (not its declared chain)."""
        if links.empty:
            return {}
        wanted = set("customer:" + customers["customer_id"].astype(str))
        chosen = links[links["kind"].isin((*MASTER_KINDS, "shared_name")) & ~links["declared_chain"].astype(bool)]
        out: dict[str, list[dict]] = {}
        for row in chosen.itertuples(index=False):
            for me, other in ((row.source, row.target), (row.target, row.source)):
                if me not in wanted:
                    continue
                other_type = other.split(":", 1)[0]
                if other_type == "customer" and row.kind == "shared_name":
                    continue
                evidence = row.evidence
                mine, theirs = (("source_value", "target_value") if me == row.source
                                else ("target_value", "source_value"))
                out.setdefault(me.split(":", 1)[1], []).append({
                    "kind": row.kind, "other": other, "other_type": other_type, "value": evidence.get(mine),
                    "other_value": evidence.get(theirs), "similarity": row.similarity})
        return out

    def _deliveries(self, inputs, links: pd.DataFrame, customers: pd.DataFrame,
                    staff_names: dict[str, str]) -> pd.DataFrame:
        """One row per (customer, delivery point, receiver): shipments, metres from the customer's
        position, delivered at another entity's address, received by someone other than its owner,
        and whether that someone is a staff member or bears its salesperson's family name."""
        columns = ["customer_id", "delivery_address", "received_by", "shipments", "metres_away", "away",
                   "other_receiver", "staff", "salesperson_family"]
        deliveries = inputs.deliveries
        if deliveries.empty:
            return pd.DataFrame(columns=columns)
        own = customers[["customer_id", "lat", "lon", "owner_name", "name", "salesperson_id"]].rename(
            columns={"lat": "own_lat", "lon": "own_lon"})
        rows = deliveries.merge(own, on="customer_id", how="inner")
        if rows.empty:
            return pd.DataFrame(columns=columns)
        rows["metres_away"] = haversine_m(rows["lat"], rows["lon"], rows["own_lat"], rows["own_lon"])
        elsewhere = set()
        if len(links):
            moved = links[(links["kind"] == "delivery_point") & links["source"].str.startswith("customer:")]
            for row in moved.itertuples(index=False):
                evidence = row.evidence
                if evidence.get("source_role") == "delivered_to":
                    elsewhere.add((row.source.split(":", 1)[1], evidence.get("source_value")))
        rows["away"] = (rows["metres_away"] > self.geofence_m) | pd.Series(
            [(c, a) in elsewhere for c, a in zip(rows["customer_id"], rows["delivery_address"], strict=True)],
            index=rows.index)
        # A receiver written exactly as the owner is the owner (their keys are equal): only the other rows'
        # names are keyed (most goods are signed for by their owner, so this spares most of the work).
        signed_by_owner = np.array([isinstance(r, str) and r == o for r, o in zip(
            rows["received_by"].tolist(), rows["owner_name"].tolist(), strict=True)], dtype=bool)
        others = rows[~signed_by_owner]
        keys = {v: name_key(v) for v in pd.unique(pd.concat([others["received_by"], others["owner_name"],
                                                               others["name"]]).dropna())}
        receiver = rows["received_by"].map(keys)
        owner, shop = rows["owner_name"].map(keys), rows["name"].map(keys)
        differs = receiver.notna() & owner.notna() & (receiver != owner) & (receiver != shop)
        # Exact keys differ: allow a typo before calling it someone else.
        typo = [any(same_tokens(r, k, self.name_threshold) for k in (o, n) if isinstance(k, str))
                for r, o, n in zip(receiver[differs], owner[differs], shop[differs], strict=True)]
        differs[rows.index[differs][np.array(typo, dtype=bool)]] = False
        rows["other_receiver"] = differs
        staff_keys = {name_key(v): k for k, v in staff_names.items() if name_key(v)}
        family = {k.split(":", 1)[1]: family_key(v) for k, v in staff_names.items() if k.startswith("salesperson:")}
        staff_of: dict[str, str | None] = {}  # a receiver signs for many shipments: match each name once
        # Staff names by their number of tokens (same_tokens needs as many), in staff order: a receiver's
        # first token is scored against all of theirs in one rapidfuzz call, and only those that pass are
        # compared in full (one Python comparison per staff member grew with the square of the ledger).
        by_length: dict[int, tuple[list[str], list[str], list[str]]] = {}
        for other, k in staff_keys.items():
            tokens = other.split()
            names, ids, firsts = by_length.setdefault(len(tokens), ([], [], []))
            names.append(other)
            ids.append(k)
            firsts.append(tokens[0] if tokens else "")

        def staff(key: str) -> str | None:
            if key not in staff_of:
                staff_of[key] = None
                tokens = key.split()
                names, ids, firsts = by_length.get(len(tokens), ([], [], []))
                if names and tokens:
                    scores = rapidfuzz.process.cdist([tokens[0]], firsts, scorer=fuzz.ratio, dtype=np.float64,
                                                     score_cutoff=self.name_threshold)[0]
                    staff_of[key] = next((ids[i] for i in np.flatnonzero(scores >= self.name_threshold)
                                          if same_tokens(key, names[i], self.name_threshold)), None)
                elif names:  # a blank name: same_tokens compares no tokens
                    staff_of[key] = next((ids[i] for i in range(len(names))
                                          if same_tokens(key, names[i], self.name_threshold)), None)
            return staff_of[key]

        flagged = differs.to_numpy()
        rows["staff"] = pd.Series([staff(r) if d else None for r, d in zip(receiver, flagged, strict=True)],
                                  index=rows.index, dtype=object)
        rows["salesperson_family"] = pd.Series(
            [bool(d) and (kin := family.get(s)) is not None and family_key(r) == kin
             for s, r, d in zip(rows["salesperson_id"], rows["received_by"], flagged, strict=True)],
            index=rows.index, dtype=bool)
        return rows.loc[:, columns]

    def _payments(self, data, customers: pd.DataFrame) -> pd.DataFrame:
        balance = facts.balances(data)
        out = customers[["customer_id", "salesperson_id", "assigned_salesperson_id", "invoiced"]].copy()
        out["balance"] = out["customer_id"].map(balance).fillna(0.0)
        receipts = facts.receipts_by_collector(data)
        paid = receipts.groupby("customer_id")["amount"].sum() if len(receipts) else pd.Series(dtype=float)
        out["received"] = out["customer_id"].map(paid).fillna(0.0)
        if len(receipts):
            merged = receipts.merge(out[["customer_id", "salesperson_id", "assigned_salesperson_id"]],
                                    on="customer_id")
            own_cash = merged[(merged["method"] == "cash") & (
                (merged["collected_by"] == merged["salesperson_id"])
                | (merged["collected_by"] == merged["assigned_salesperson_id"]))]
            cash = own_cash.groupby("customer_id")["amount"].sum()
            collectors = own_cash.groupby("customer_id")["collected_by"].first()
        else:
            cash, collectors = pd.Series(dtype=float), pd.Series(dtype=object)
        out["own_cash"] = out["customer_id"].map(cash).fillna(0.0)
        out["cash_collector"] = out["customer_id"].map(collectors)
        return out

    def _paid_itself(self, data, customers: pd.DataFrame, payments: pd.DataFrame) -> pd.DataFrame:
        """Per customer: what it paid itself (everything but cash through its own salesperson), as a share of
        what it was invoiced, and over how many calendar months: by cheques drawn on its own bank account,
        and otherwise (transfers, cards, cash taken by someone else, cheques of other accounts)."""
        out = pd.DataFrame({"customer_id": customers["customer_id"], "own_account": 0.0, "own_account_amount": 0.0,
                            "own_account_months": 0, "otherwise": 0.0, "otherwise_amount": 0.0,
                            "otherwise_months": 0}, index=customers.index)
        monthly = facts.monthly_payments(data, customers["customer_id"])
        if monthly.empty:
            return out
        own = customers[["customer_id", "salesperson_id", "assigned_salesperson_id"]].assign(
            account=customers["bank_account"].map(facts.compact_key) if "bank_account" in customers else None)
        monthly = monthly.merge(own, on="customer_id", how="inner")
        through_salesperson = (monthly["method"] == "cash") & (
            (monthly["collected_by"] == monthly["salesperson_id"])
            | (monthly["collected_by"] == monthly["assigned_salesperson_id"]))
        monthly = monthly[~through_salesperson]
        drawer = monthly["drawer_account"].map(facts.compact_key)
        on_own = (monthly["method"] == "cheque") & drawer.notna() & (drawer == monthly["account"])
        invoiced = payments.set_index("customer_id")["invoiced"]
        for column, rows in (("own_account", monthly[on_own]), ("otherwise", monthly[~on_own])):
            by = rows.groupby("customer_id")
            amount = by["amount"].sum()
            share = amount / invoiced.reindex(amount.index)
            out[f"{column}_amount"] = out["customer_id"].map(amount).fillna(0.0)
            out[column] = out["customer_id"].map(share.where(share > 0)).fillna(0.0).clip(upper=1.0)
            out[f"{column}_months"] = out["customer_id"].map(by["month"].nunique()).fillna(0).astype(int)
        return out

    def _one_buyer(self, all_links: pd.DataFrame, links: dict[str, list[dict]]) -> dict[str, list[str]]:
        """Customers whose goods went to (or were received by the owner of) another customer that shares its
        phone, address or bank account or paid for it with its cheques: one buyer under two names (CUS-02's
        reading), so those deliveries say nothing about a made-up account. customer -> those customers."""
        if all_links.empty:
            return {}
        moved = all_links[all_links["kind"].isin(("delivery_point", "received_by", "cheque_drawer"))
                          & all_links["source"].str.startswith("customer:")
                          & all_links["target"].str.startswith("customer:")]
        goods: dict[str, set[str]] = {}
        payers: dict[str, set[str]] = {}
        for row in moved.itertuples(index=False):
            me, other = row.source.split(":", 1)[1], row.target.split(":", 1)[1]
            (payers if row.kind == "cheque_drawer" else goods).setdefault(me, set()).add(other)
        out = {}
        for me, receivers in goods.items():
            linked = {link["other"].split(":", 1)[1] for link in links.get(me, [])
                      if link["other_type"] == "customer"} | payers.get(me, set())
            if receivers & linked:
                out[me] = sorted(receivers & linked)
        return out

    def _presence(self, data, customers: pd.DataFrame) -> pd.DataFrame:
        """Per customer: done visits, those checked in within the geofence, pings near its position."""
        visits = facts.done_visits(data, customers["customer_id"])
        out = customers[["customer_id", "salesperson_id", "assigned_salesperson_id", "lat", "lon"]].copy()
        if len(visits):
            done = visits[visits["status"].isna() | (visits["status"] == "done")].merge(
                out[["customer_id", "lat", "lon"]], on="customer_id")
            done["metres"] = haversine_m(done["checkin_lat"], done["checkin_lon"], done["lat"], done["lon"])
            near = done["metres"] <= self.geofence_m
            out["visits_done"] = out["customer_id"].map(done.groupby("customer_id").size()).fillna(0)
            out["visits_near"] = out["customer_id"].map(done[near].groupby("customer_id").size()).fillna(0)
            out["visit_ids_far"] = out["customer_id"].map(
                done[~near & done["metres"].notna()].groupby("customer_id")["visit_id"].agg(list))
            out["nearest_checkin_m"] = out["customer_id"].map(done.groupby("customer_id")["metres"].min())
        else:
            out["visits_done"] = 0.0
            out["visits_near"] = 0.0
            out["visit_ids_far"] = None
            out["nearest_checkin_m"] = float("nan")
        places = pd.concat([out[["salesperson_id", "lat", "lon"]],
                            out[["assigned_salesperson_id", "lat", "lon"]].rename(
                                columns={"assigned_salesperson_id": "salesperson_id"})], ignore_index=True)
        places = places.drop_duplicates()
        counts = facts.pings_near(data, places, self.geofence_m)
        places["pings"] = counts
        by_place = places.groupby(["lat", "lon"])["pings"].sum()
        out["pings_near"] = [by_place.get((lat, lon), 0) if pd.notna(lat) and pd.notna(lon) else 0
                             for lat, lon in zip(out["lat"], out["lon"], strict=True)]
        return out

    # ------------------------------------------------------------------ scoring
    def find(self, data) -> pd.DataFrame:
        customers = self._customers(data)
        self.n_customers_ = len(customers)
        if customers.empty:
            return empty_findings()
        end = data_end_date(data)
        w = self.WEIGHTS
        traces = pd.DataFrame(0.0, index=customers.index, columns=list(w))
        lead = (customers["first_invoice"] - pd.to_datetime(customers["created_date"])).dt.days
        customers["days_created_before_first_invoice"] = lead
        new = lead.notna() & (lead <= self.new_account_days)
        traces["new_account"] = w["new_account"] * new
        salespeople = set(data.frame("salespeople")["salesperson_id"]) if data.has("salespeople") else set()
        created_by = customers["created_by"] if "created_by" in customers else pd.Series(None, index=customers.index)
        by_salesperson = created_by.isin(salespeople) | (created_by == customers["salesperson_id"]) | (
            created_by == customers["assigned_salesperson_id"])
        traces["opened_by_salesperson"] = w["opened_by_salesperson"] * (new & by_salesperson)
        inputs = link_inputs_for(data)
        all_links = links_for(data)
        links = self._links(all_links, customers)
        staff_link = customers["customer_id"].map(lambda c: any(
            link["other_type"] in STAFF_TYPES and link["kind"] in MASTER_KINDS for link in links.get(c, [])))
        name_link = customers["customer_id"].map(lambda c: any(
            link["other_type"] in STAFF_TYPES and link["kind"] == "shared_name" for link in links.get(c, [])))
        customer_link = customers["customer_id"].map(lambda c: any(
            link["other_type"] == "customer" for link in links.get(c, [])))
        traces["shares_with_staff"] = w["shares_with_staff"] * staff_link
        traces["name_of_staff"] = w["name_of_staff"] * (name_link & ~staff_link)
        traces["shares_with_customer"] = w["shares_with_customer"] * (customer_link & ~staff_link)
        if data.has("customers", ("tax_id",)):
            traces["no_tax_id"] = w["no_tax_id"] * customers["tax_id"].isna()
        payments = self._payments(data, customers)
        unpaid = (payments["balance"] > 0) & (payments["balance"] >= self.unpaid_share * payments["invoiced"])
        dormant = (end - customers["last_invoice"]).dt.days >= self.dormant_days
        traces["unpaid_then_dormant"] = w["unpaid_then_dormant"] * (unpaid & dormant)
        cash_paid = (payments["received"] > 0) & (payments["own_cash"] >= self.cash_share * payments["received"])
        traces["cash_by_own_collector"] = w["cash_by_own_collector"] * cash_paid
        staff_names = self._staff_names(data)
        deliveries = self._deliveries(inputs, all_links, customers, staff_names)
        related_receiver = deliveries["other_receiver"] & (deliveries["staff"].notna()
                                                           | deliveries["salesperson_family"].astype(bool))
        per = deliveries.assign(
            away_n=deliveries["shipments"] * deliveries["away"],
            other_n=deliveries["shipments"] * deliveries["other_receiver"],
            related_n=deliveries["shipments"] * related_receiver,
        ).groupby("customer_id")[["shipments", "away_n", "other_n", "related_n"]].sum()
        shipped = customers["customer_id"].map(per["shipments"]).fillna(0.0)

        def share(column):
            return (customers["customer_id"].map(per[column]).fillna(0.0) / shipped.where(shipped > 0)).fillna(0.0)

        delivery = (w["delivered_elsewhere"] * share("away_n") + w["received_by_other"] * share("other_n")
                    + w["receiver_related_to_staff"] * share("related_n"))
        scale = (self.DELIVERY_CAP / delivery.where(delivery > self.DELIVERY_CAP)).fillna(1.0)
        traces["delivered_elsewhere"] = w["delivered_elsewhere"] * share("away_n") * scale
        traces["received_by_other"] = w["received_by_other"] * share("other_n") * scale
        traces["receiver_related_to_staff"] = w["receiver_related_to_staff"] * share("related_n") * scale
        # Goods that went to the very customer it shares details with (or that pays for it) are one buyer's
        # under two names: a real buyer got them, so they are no mark of a made-up account here.
        one_buyer = self._one_buyer(all_links, links)
        sold_to_linked = customers["customer_id"].isin(one_buyer)
        traces.loc[sold_to_linked, ["delivered_elsewhere", "received_by_other", "receiver_related_to_staff"]] = 0.0
        # What it paid itself speaks for a real buyer, the more so the longer it kept paying: a made-up account
        # can be paid for a while (with the resale's money) to stay out of sight, so a month or two of
        # payments does not outweigh its other marks; cheques on its own bank account count most, cash its
        # own salesperson brought in not at all. Worked out for the customers the other marks could flag.
        candidates = traces.sum(axis=1) + w["no_presence"] + w["visits_off_site"] >= self.min_score
        paid = self._paid_itself(data, customers[candidates], payments[candidates]).reindex(customers.index)
        paid = paid.fillna({"own_account": 0.0, "own_account_amount": 0.0, "own_account_months": 0, "otherwise": 0.0,
                            "otherwise_amount": 0.0, "otherwise_months": 0})
        full = max(int(self.paid_months_full), 1)
        traces["paid_from_own_account"] = w["paid_from_own_account"] * paid["own_account"] * (
            paid["own_account_months"].clip(upper=full) / full)
        traces["paid_by_customer"] = w["paid_by_customer"] * paid["otherwise"] * (
            paid["otherwise_months"].clip(upper=full) / full)
        # Presence is the dearest mark to measure: only for customers it could lift to the threshold.
        has_visits = data.has("visits", ("customer_id", "checkin_lat"))
        reachable = traces.sum(axis=1) + w["no_presence"] + w["visits_off_site"] >= self.min_score
        presence = pd.DataFrame()
        if has_visits and reachable.any():
            presence = self._presence(data, customers[reachable]).set_index("customer_id")
            candidates = customers.index[reachable]
            ids = customers.loc[candidates, "customer_id"]
            located = customers.loc[candidates, "lat"].notna() & customers.loc[candidates, "lon"].notna()
            near = ids.map(presence["visits_near"]).fillna(0) + ids.map(presence["pings_near"]).fillna(0)
            absent = located & (near == 0)
            traces.loc[candidates, "no_presence"] = w["no_presence"] * absent
            off_site = absent & (ids.map(presence["visits_done"]).fillna(0) > 0)
            traces.loc[candidates, "visits_off_site"] = w["visits_off_site"] * off_site
            # Its salesperson passed by (pings) but never checked in at an account that kept buying: half of
            # "never there". Not for an account that shares details with, or sends its goods to, another
            # customer: that one may be the other's second name, visited under the other name (CUS-02).
            checked_in = ids.map(presence["visits_near"]).fillna(0) > 0
            second_name = customer_link.loc[candidates] | sold_to_linked.loc[candidates]
            traces.loc[candidates, "never_checked_in"] = w["never_checked_in"] * (
                located & ~absent & ~checked_in & ~second_name)
            # A visit checked in at its own position, and every delivery went to its own address: a shop exists.
            # (A GPS ping near it only shows the salesperson passed by: it rules out "never there", no more.)
            # The visit is the salesperson's own record: when goods delivered there were signed for by the
            # salesperson's family or a staff member, it shows the place, not a buyer other than the staff.
            at_home = customers.loc[candidates, "customer_id"].map(per["away_n"]).fillna(0.0) == 0
            signed_by_staff = customers.loc[candidates, "customer_id"].map(per["related_n"]).fillna(0.0) > 0
            traces.loc[candidates, "seen_at_its_address"] = w["seen_at_its_address"] * (
                located & checked_in & at_home & ~signed_by_staff)
        # rounded: marks that add up to the threshold reach it (0.15 + 0.30 + 0.10 is 0.5499999999999999 in floats)
        score = traces.sum(axis=1).round(9).clip(lower=0.0, upper=1.0)
        self.scores_ = traces.assign(customer_id=customers["customer_id"], score=score).sort_values(
            "score", ascending=False, kind="mergesort")
        flagged = customers.index[score >= self.min_score]
        self.n_scored_ = int(reachable.sum())
        if len(flagged) == 0:
            return empty_findings()
        invoices = facts.customer_invoices(data, customers.loc[flagged, "customer_id"])
        by_customer = {k: g for k, g in invoices.groupby("customer_id")}
        rows = []
        for index in flagged:
            row = customers.loc[index]
            rows.append(self._finding(
                row, traces.loc[index], float(score[index]), links.get(row["customer_id"], []),
                payments.loc[index], deliveries[deliveries["customer_id"] == row["customer_id"]], presence.loc[row["customer_id"]] if row["customer_id"] in presence.index else None,
                by_customer.get(row["customer_id"]), staff_names, has_visits, end, paid.loc[index],
                one_buyer.get(row["customer_id"], [])))
        return pd.DataFrame(rows)

    # ------------------------------------------------------------------ one finding
    def _finding(self, row, traces, score, links, payment, delivery, presence, invoices, staff_names,
                 has_visits, end, paid, one_buyer) -> dict:
        customer_id = row["customer_id"]
        salesperson = row["salesperson_id"]
        lead = row["days_created_before_first_invoice"]
        shipments = float(delivery["shipments"].sum()) if len(delivery) else 0.0
        away = delivery[delivery["away"]] if len(delivery) else delivery
        others = delivery[delivery["other_receiver"]] if len(delivery) else delivery
        # the busiest delivery point elsewhere, and the busiest receiver other than the owner
        place = away.sort_values("shipments", ascending=False).iloc[0] if len(away) else None
        receiver = others.sort_values("shipments", ascending=False).iloc[0] if len(others) else None
        # Paid through the salesperson's hands, or paid for at all: the goods that left are what is at stake,
        # not the balance the payments closed.
        paid_case = traces["cash_by_own_collector"] > 0 or traces["paid_from_own_account"] < 0 \
            or traces["paid_by_customer"] < 0
        risk = float(payment["invoiced"]) if paid_case else max(float(payment["balance"]), 0.0)
        finding_facts = {
            "traces": {k: float(v) for k, v in traces.items()}, "name": row.get("name"),
            "owner_name": row.get("owner_name"), "geofence_m": self.geofence_m, "has_visits": has_visits,
            "staff_names": {link["other"]: staff_names[link["other"]] for link in links if link["other"] in staff_names},
            "nearest_checkin_m": None if presence is None else presence["nearest_checkin_m"],
            "cash_collector": payment["cash_collector"],
            "away": None if place is None else {
                "shipments": int(away["shipments"].sum()), "delivery_address": place["delivery_address"],
                "metres_away": place["metres_away"]},
            "received_by_other": None if receiver is None else {
                "shipments": int(others["shipments"].sum()), "received_by": receiver["received_by"],
                "staff": receiver["staff"], "salesperson_family": receiver["salesperson_family"]},
        }
        evidence = {
            "created_date": row["created_date"], "created_by": row.get("created_by"),
            "first_invoice": row["first_invoice"], "last_invoice": row["last_invoice"],
            "days_created_before_first_invoice": None if pd.isna(lead) else int(lead),
            "invoices": int(row["invoices"]), "invoiced": payment["invoiced"], "open_balance": payment["balance"],
            "received": payment["received"], "cash_collected_by_own_salesperson": payment["own_cash"],
            "paid_from_own_account": float(paid["own_account_amount"]),
            "paid_from_own_account_months": int(paid["own_account_months"]),
            "paid_otherwise": float(paid["otherwise_amount"]),
            "paid_otherwise_months": int(paid["otherwise_months"]),
            "paid_months_full": int(self.paid_months_full),
            "goods_to_linked_customers": list(one_buyer),
            "tax_id": row.get("tax_id"), "links": links[:20],
            "visits_done": None if presence is None else presence["visits_done"],
            "visits_near": None if presence is None else presence["visits_near"],
            "pings_near": None if presence is None else presence["pings_near"],
            "shipments": shipments,
            "deliveries": delivery[["delivery_address", "received_by", "shipments", "metres_away", "away",
                                    "other_receiver", "staff", "salesperson_family"]].head(10).to_dict(
                orient="records") if len(delivery) else [],
            "audit_end": end,
            "traces": {k: round(float(v), 4) for k, v in traces.items() if v != 0},
        }
        others = [link["other"] for link in links]
        invoice_ids = [] if invoices is None else invoices["invoice_id"].tolist()
        visit_ids = [] if presence is None or not isinstance(presence.get("visit_ids_far"), list) else \
            presence["visit_ids_far"]
        related = related_ids(("customer", [customer_id]), ("salesperson", [salesperson]),
                              *[(o.split(":", 1)[0], [o.split(":", 1)[1]]) for o in others],
                              ("visit", visit_ids[:5]), ("invoice", invoice_ids))
        return {
            "entity_id": customer_id, "salesperson_id": salesperson, "customer_id": customer_id,
            "period": month_of(row["first_invoice"]), "score": score, "risk_amount": risk,
            "evidence": evidence, "related": related, "facts": finding_facts,
        }
