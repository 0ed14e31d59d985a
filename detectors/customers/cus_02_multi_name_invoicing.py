"""multi_name_invoicing: several customer accounts that are one buyer (to get round limits and caps)."""

from __future__ import annotations

import functools
import math

import ibis
import networkx as nx
import pandas as pd
from scipy.stats import binom

from analyses.links.graph import links_for, text_key
from audit.common import month_of
from audit.detector import Detector, empty_findings, related_ids
from audit.ledger import data_end_date
from audit.membership import among
from audit.policy import DEFAULTS
from detectors.customers import facts
from detectors.customers.cus_01_fictitious_customer import FictitiousCustomer
from detectors.payments import readings
from detectors.wording import multi_name_invoicing

IDENTITY = ("shared_phone", "shared_address", "shared_bank_account", "cheque_drawer", "shared_owner_name")
DELIVERY = ("delivery_point", "received_by")
# One-buyer traces that a related business (a sister shop of the same owner) paying the other's invoices
# also shows: alone, with two established accounts, they do not make the cheque a link (see _weigh_readings).
RELATION_ONLY = frozenset({"shared_owner_name", "paid_with_the_others_cheques"})


class MultiNameInvoicing(Detector):
    """Groups of customer accounts that behave as one buyer: shared details, one delivery place, taking turns.

    What it finds
    -------------
    Pairs of customer accounts linked in the ``entity_links`` view (LNK-01), each trace adding its
    weight (``WEIGHTS``) to the pair's score: a shared phone, address or bank account; a cheque drawer
    (one paying with cheques drawn on the other's account or in its name, or both with one account's
    cheques); one delivery location (the share of an account's shipments delivered at the other's
    place, or received by the other's owner, when it is at least ``min_delivery_share``); the same
    owner in the same city (alone not enough: common names repeat); complementary purchase timing (the
    older account buys in far fewer of the months in which the newer one buys than its overall
    monthly rate makes likely: a binomial test over at least ``min_timing_months`` months whose
    probability, multiplied by the number of pairs tested, starts to count at
    ``10 ** -timing_from_log10`` and counts fully at ``10 ** -timing_full_log10``); and, only in
    support of a link already there, the same salesperson invoicing both and the newer account opened
    at most ``new_account_days`` before its first invoice. Each listed trace alone reaches the default
    ``min_score``; flagged pairs that touch form one group and one finding, whose entity is the oldest
    account (the buyer) and whose ``related`` list holds every account of the group.
    A cheque drawer link is weighed against the other reading of such a cheque, lapping
    (``detectors.payments.readings``: the drawer's own invoices going late, late posting, one
    salesperson collecting from both, the cheque applied to the payee's overdue invoices), read cheque by
    cheque and averaged over the pair's cheques by amount (each cheque lapping moves leaves a hole in the
    drawer's own account; a drawer paying its own invoices on time while its cheques keep paying the other
    account is one buyer paying for both): when lapping
    weighs more than the pair's one-buyer traces beyond the cheque (shared details, delivery, timing),
    the cheque is no link here (PAY-01 reports the swap), and a pair linked by nothing else is dropped.
    Nor is it a link when nothing beyond the cheques themselves and the owner's name speaks for one buyer
    and neither account was opened just before it was first invoiced: two established shops of one owner
    (or friends) paying each other's invoices now and then are a third reading, a related payment.
    Left out: links between branches of a declared chain (``customer_class`` "chain", same owner),
    details shared with a salesperson or an employee, and accounts that CUS-01 finds made up (this
    detector runs after the others and reads CUS-01's findings, or asks CUS-01 when it did not run):
    those are the marks of an invented customer, not of a second name for a real buyer.

    Why it matters
    --------------
    Invoicing one buyer under several names gets round its credit limit and the per-customer caps of
    promotions: the company carries more exposure on one buyer than it agreed to, without knowing.

    Flagged
    -------
    Zolfaghari Grocery (customer since 2023) and three accounts opened in 2025: one with its phone, one
    with its address typed differently, one with its owner; their goods delivered at the grocery and
    received by its owner, paid with its cheques: flagged as one group, money at risk the group's
    exposure above the grocery's credit limit (else the group's open balance).

    Not flagged
    -----------
    Branches of a declared chain: the same owner and head-office bank account, customer_class "chain",
    each delivered and visited at its own address; two unrelated shops whose owners happen to share a
    common name; a made-up account that borrowed a real customer's phone (CUS-01 reports it); a
    customer's overdue invoice paid with another customer's cheque while that customer's own invoice
    goes late, collected by one salesperson, nothing else shared (lapping: PAY-01 reports it).
    Two long-standing shops of one owner, each with its own address, phone, deliveries and purchases,
    one paying some of the other's invoices with a cheque on its own account (a related payment).

    Evidence
    --------
    The group's accounts (opened, invoiced, credit limit) and for each flagged pair the details shared
    (with the values as written on each side), the delivery shares, the timing test (months, rate,
    expected and observed overlap, probability) and each trace's contribution; the group's peak combined
    balance and its date, the credit limit it is compared with, the excess and the open balance;
    ``traces``: the contributions of the best pair; for a pair with a cheque drawer, ``readings``: the
    one-buyer and lapping weights with their traces and the reading reported.
    """

    code = "CUS-02"
    reads_analyses = ("LNK-01",)
    # an account that CUS-01 finds made up is reported there, not as a second name
    reads_findings = ("CUS-01",)
    pattern = "multi_name_invoicing"
    wording = multi_name_invoicing.words
    entity_type = "customer"
    family = "customers"
    requires = {
        "customers": ("customer_id", "created_date"),
        "invoices": ("invoice_id", "invoice_date", "customer_id", "salesperson_id"),
        "invoice_lines": ("invoice_id", "quantity", "unit_price"),
    }
    uses = {
        "customers": ("phone", "address", "bank_account", "owner_name", "customer_class", "credit_limit", "lat",
                      "lon", "name", "city", "assigned_salesperson_id", "payment_terms_days"),
        "salespeople": ("salesperson_id", "name", "phone", "address", "bank_account"),
        "employees": ("employee_id", "name", "phone", "address", "bank_account"),
        "shipments": ("customer_id", "delivery_address", "delivery_lat", "delivery_lon", "received_by"),
        # receipts, their cheques and the invoices' due dates also weigh the lapping reading of a cheque
        # drawn on another customer's account (detectors.payments.readings)
        "cheques": ("cheque_id", "customer_id", "drawer_account", "drawer_name", "amount", "collected_by"),
        "receipts": ("receipt_id", "customer_id", "receipt_date", "posted_date", "amount", "cheque_id",
                     "collected_by"),
        "receipt_allocations": ("receipt_id", "invoice_id", "amount", "cash_discount_amount"),
        "credit_notes": ("customer_id", "amount", "credit_note_id", "invoice_id", "credit_date"),
        "invoices": ("due_date",),
    }
    # What each trace adds to a pair's score: a shared detail its weight; a delivery trace its weight
    # times the share of the account's shipments; complementary timing its weight times its strength.
    # Each listed trace on its own reaches the default min_score (0.3): a shared phone, address, bank
    # account or cheque drawer, or most of an account's goods delivered at the other's place or to its
    # owner. An owner's name alone does not (common names repeat); it adds to the others.
    # Two facts only support a link already there: the same salesperson invoices both accounts, and the
    # newer one was opened at most ``new_account_days`` before its first invoice.
    WEIGHTS = {"shared_phone": 0.30, "shared_address": 0.30, "shared_bank_account": 0.35, "cheque_drawer": 0.40,
               "shared_owner_name": 0.20, "received_by": 0.40, "delivery_point": 0.40, "complementary_timing": 0.50,
               "same_salesperson": 0.05, "new_account": 0.05}

    def __init__(self, geofence_m: float = float(DEFAULTS.visits.geofence_m), min_score: float = 0.3, min_delivery_share: float = 0.5,
                 timing_from_log10: float = 1.0, timing_full_log10: float = 3.0, min_timing_months: int = 3,
                 new_account_days: int = 180, hand_in_days: int = DEFAULTS.cheques.hand_in_days,
                 default_terms_days: int = DEFAULTS.collections.default_terms_days,
                 drawer_late_days: int = readings.first_letter_days(DEFAULTS.collections.ladder_days)):
        self.geofence_m = geofence_m
        self.min_score = min_score
        self.min_delivery_share = min_delivery_share
        self.timing_from_log10 = timing_from_log10
        self.timing_full_log10 = timing_full_log10
        self.min_timing_months = min_timing_months
        self.new_account_days = new_account_days
        self.hand_in_days = hand_in_days
        self.default_terms_days = default_terms_days
        self.drawer_late_days = drawer_late_days

    @classmethod
    def params_from_policy(cls, policy):
        return {"geofence_m": float(policy.visits.geofence_m), "hand_in_days": policy.cheques.hand_in_days,
                "default_terms_days": policy.collections.default_terms_days,
                "drawer_late_days": readings.first_letter_days(policy.collections.ladder_days)}

    # ------------------------------------------------------------------ candidate pairs
    def _pairs(self, links: pd.DataFrame, shipments: pd.Series, cities: dict) -> dict[tuple[str, str], dict]:
        """(a, b) sorted -> identity kinds with their values, and delivery shares each way. An owner's
        name shared across two cities is two people (the goods of one buyer go to one place)."""
        if links.empty:
            return {}
        staff_identifiers = set()
        for row in links.itertuples(index=False):
            if not row.target.startswith("customer:") or not row.source.startswith("customer:"):
                evidence = row.evidence
                staff_identifiers.add(evidence.get("identifier"))
        chosen = links[links["source"].str.startswith("customer:") & links["target"].str.startswith("customer:")
                       & links["kind"].isin((*IDENTITY, *DELIVERY)) & ~links["declared_chain"].astype(bool)]
        pairs: dict[tuple[str, str], dict] = {}
        for row in chosen.itertuples(index=False):
            evidence = row.evidence
            if evidence.get("identifier") in staff_identifiers:
                continue  # a detail that is a staff member's: a made-up account, not a second name
            source, target = row.source.split(":", 1)[1], row.target.split(":", 1)[1]
            if row.kind == "shared_owner_name" and cities.get(source) and cities.get(target) and \
                    cities[source] != cities[target]:
                continue
            key = tuple(sorted((source, target)))
            pair = pairs.setdefault(key, {"kinds": {}, "delivered": {}})
            if row.kind in DELIVERY:
                count = float(evidence.get("source_count") or evidence.get("shipments") or 0.0)
                total = float(shipments.get(source, 0.0))
                share = count / total if total > 0 else 0.0
                if share < self.min_delivery_share:
                    continue
                value = evidence.get("source_value") or evidence.get("delivery_address")
                best = pair["delivered"].get((row.kind, source))
                if best is None or share > best["share"]:
                    pair["delivered"][(row.kind, source)] = {
                        "kind": row.kind, "from": source, "to": target, "share": round(min(share, 1.0), 4),
                        "shipments": count, "value": value}
            else:
                pair["kinds"].setdefault(row.kind, {"from": source, "to": target,
                                                    "value": evidence.get("source_value"),
                                                    "other_value": evidence.get("target_value"),
                                                    "similarity": row.similarity})
        return {k: v for k, v in pairs.items() if v["kinds"] or v["delivered"]}

    def _timing(self, older_months: set, newer_months: set, older_first: int, last_month: int,
                tests: int) -> dict:
        """Does the older account stop buying in the months the newer one buys? A binomial test on
        months (shorter periods only measure visit cadences): under no relation the older account buys
        in any month of its span at its overall rate, so few purchases in the newer account's months
        are improbable; the probability is multiplied by the number of pairs tested (Bonferroni),
        since chance alone produces small probabilities among many pairs. Needs at least
        ``min_timing_months`` months with and without the newer account's purchases."""
        span = set(range(older_first, last_month + 1))
        tested = newer_months & span
        k = len(tested)
        if k < self.min_timing_months or len(span - newer_months) < self.min_timing_months:
            return {"months_tested": k, "strength": 0.0}
        rate = len(older_months & span) / len(span)
        overlap = len(older_months & tested)
        probability = float(binom.cdf(overlap, k, rate)) if rate > 0 else 1.0
        surprise = -math.log10(max(min(1.0, probability * max(tests, 1)), 1e-300))
        strength = min(1.0, max(0.0, (surprise - self.timing_from_log10)
                                / max(self.timing_full_log10 - self.timing_from_log10, 1e-9)))
        return {"months_tested": k, "older_monthly_rate": round(rate, 4), "expected_overlap": round(k * rate, 2),
                "observed_overlap": overlap, "probability": probability, "pairs_tested": tests,
                "strength": round(strength, 4)}

    # ------------------------------------------------------------------ finding
    def find(self, data) -> pd.DataFrame:
        links = links_for(data)
        shipments = facts.shipment_counts(data)
        customers = data.frame("customers")
        cities = {}
        if "city" in customers.columns and len(links):
            # the cities of the linked customers only (keying every customer's city grew with the customers)
            linked = {e.split(":", 1)[1] for e in pd.concat([links["source"], links["target"]]).unique()
                      if isinstance(e, str) and e.startswith("customer:")}
            chosen = customers[customers["customer_id"].isin(linked)]
            cities = {c: text_key(v) for c, v in zip(chosen["customer_id"], chosen["city"], strict=True)
                      if text_key(v)}
        pairs = self._pairs(links, shipments, cities)
        self.n_candidate_pairs_ = len(pairs)
        if not pairs:
            return empty_findings()
        members = sorted({c for key in pairs for c in key})
        master = data.frame("customers")
        master = master[master["customer_id"].isin(members)].set_index("customer_id")
        summary = facts.invoice_summary(data).set_index("customer_id")
        invoices = facts.customer_invoices(data, members)
        start = summary["first_invoice"].min()  # months are counted from the ledger's first invoice
        end = data_end_date(data)

        def month(dates):
            return (dates.dt.year - start.year) * 12 + dates.dt.month - start.month

        invoice_months = month(invoices["invoice_date"]).astype(int)
        months_of = {c: set(m.tolist()) for c, m in invoice_months.groupby(invoices["customer_id"], sort=False)
                     .unique().items()}
        last_month = int((end.year - start.year) * 12 + end.month - start.month)

        # the members' creation and first invoice dates as dicts: a pandas look-up per customer cost more
        created_of = master["created_date"].to_dict()
        first_of = summary["first_invoice"].reindex(members).to_dict()

        @functools.cache  # a sort key, asked many times per customer
        def age(c):
            created = created_of.get(c)
            first = first_of.get(c, pd.NaT)
            return (pd.Timestamp(created) if pd.notna(created) else pd.Timestamp.max,
                    first if pd.notna(first) else pd.Timestamp.max, c)

        w = self.WEIGHTS
        made_up = self._made_up(data)
        by_salesperson = invoices.groupby(["customer_id", "salesperson_id"])["amount"].sum().reset_index()
        by_salesperson = by_salesperson.sort_values(["customer_id", "amount", "salesperson_id"],
                                                    ascending=[True, False, True]).drop_duplicates("customer_id")
        main_salesperson = dict(zip(by_salesperson["customer_id"], by_salesperson["salesperson_id"], strict=True))
        opened_before_first = {}
        for c in members:
            created, first = created_of.get(c), first_of.get(c)
            if pd.notna(created) and pd.notna(first):
                opened_before_first[c] = (pd.Timestamp(first) - pd.Timestamp(created)).days
        lapping = self._lapping_readings(data, pairs)
        scored = []
        for (a, b), pair in sorted(pairs.items()):
            older, newer = sorted((a, b), key=age)
            traces = {kind: w[kind] for kind in pair["kinds"]}
            for kind in DELIVERY:
                shares = [d["share"] for d in pair["delivered"].values() if d["kind"] == kind]
                if shares:
                    traces[kind] = w[kind] * max(shares)
            timing = {"months_tested": 0, "strength": 0.0}
            if older in months_of and newer in months_of and traces:
                timing = self._timing(months_of[older], months_of[newer], min(months_of[older]), last_month,
                                      len(pairs))
            if timing["strength"] > 0:
                traces["complementary_timing"] = w["complementary_timing"] * timing["strength"]
            if traces and main_salesperson.get(newer) is not None and \
                    main_salesperson.get(newer) == main_salesperson.get(older):
                traces["same_salesperson"] = w["same_salesperson"]
            lead = opened_before_first.get(newer)
            if traces and lead is not None and lead <= self.new_account_days:
                traces["new_account"] = w["new_account"]
            pair["readings"] = None
            if "cheque_drawer" in pair["kinds"] and (a, b) in lapping:
                traces = self._weigh_readings(pair, traces, lapping[(a, b)])
            if newer in made_up:
                traces["account_made_up"] = -min(1.0, sum(traces.values()))
            score = max(0.0, min(1.0, sum(traces.values())))
            scored.append({"older": older, "newer": newer, "score": score, "traces": traces, "timing": timing,
                           **pair})
        self.readings_ = {(p["older"], p["newer"]): p["readings"] for p in scored if p["readings"]}
        self.pairs_ = pd.DataFrame([{k: v for k, v in p.items() if k in ("older", "newer", "score")}
                                    | p["traces"] for p in scored])
        flagged = [p for p in scored if p["score"] >= self.min_score]
        if not flagged:
            return empty_findings()
        graph = nx.Graph()
        for p in flagged:
            graph.add_edge(p["older"], p["newer"], pair=p)
        groups = sorted(sorted(component, key=age) for component in nx.connected_components(graph))
        invoices_by = {c: g for c, g in invoices.groupby("customer_id")}
        group_members = sorted({c for g in groups for c in g})
        daily = facts.daily_movements(data, group_members)
        # split once: filtering every movement again for each group grew with groups x movements
        movements = {c: g for c, g in daily.groupby("customer_id", sort=False)}
        balance = facts.balances(data)
        rows = []
        for group in groups:
            edges = [graph.edges[u, v]["pair"] for u, v in graph.subgraph(group).edges]
            edges.sort(key=lambda p: (-p["score"], p["older"], p["newer"]))
            rows.append(self._finding(group, edges, master, summary, invoices_by, movements, balance, end))
        return pd.DataFrame(rows)

    def _lapping_readings(self, data, pairs) -> dict[tuple[str, str], dict]:
        """(a, b) -> the strongest lapping reading of the receipts one of them paid with cheques drawn on
        the other's account or name (``detectors.payments.readings``): weight, traces, facts, receipt_id."""
        # both paying with a third party's cheques is no cheque of one drawn on the other's account
        candidates = [(key, pair["kinds"]["cheque_drawer"]) for key, pair in pairs.items()
                      if "cheque_drawer" in pair["kinds"]
                      and pair["kinds"]["cheque_drawer"]["to"] != pair["kinds"]["cheque_drawer"]["from"]]
        if not candidates:
            return {}
        # each named customer's own account and names: a cheque drawn on one of them is that customer's
        # (worked out for the customers of these pairs only: compacting every customer's texts cost seconds)
        own = self._own_texts(data, {c for _, info in candidates for c in (info["from"], info["to"])})
        drawn_rows = []
        for key, info in candidates:
            value = facts.compact_key(info["value"])
            if value not in own.get(info["to"], set()):
                continue
            drawn_rows.append((key, info["from"], info["to"], value))
        if not drawn_rows or not data.has("cheques", ("cheque_id",)) or not data.has("receipts", ("cheque_id",)):
            return {}
        cheques = self._payees_cheques(data, sorted({payee for _, payee, _, _ in drawn_rows}))
        account, name = cheques["drawer_account"].map(facts.compact_key), cheques["drawer_name"].map(facts.compact_key)
        drawn = []
        for key, payee, drawer, value in drawn_rows:
            # the payee's own cheques (its account or name) are no other customer's, whatever else they match
            own_cheque = account.isin(own.get(payee, set())) | name.isin(own.get(payee, set()))
            mine = (cheques["customer_id"] == payee) & ((account == value) | (name == value)) & ~own_cheque
            drawn += [{"cheque_id": q, "drawer_customer": drawer, "pair": key} for q in cheques.loc[mine, "cheque_id"]]
        if not drawn:
            return {}
        drawn = pd.DataFrame(drawn)
        cases = readings.cheque_cases(data, drawn)
        if cases.empty:
            return {}
        invoices = readings.case_invoices(data, cases)
        found = readings.lapping_traces(data, cases, invoices, self.hand_in_days, self.default_terms_days,
                                        self.drawer_late_days)
        shares = {(r, d): share for r, d, share in cases[["receipt_id", "drawer_customer", "drawer_share"]].itertuples(
            index=False)}
        pair_of = {(q, d): key for q, d, key in drawn[["cheque_id", "drawer_customer", "pair"]].itertuples(index=False)}
        cheque_of = dict(zip(cases["receipt_id"], cases["cheque_id"], strict=True))
        amount_of = dict(zip(cases["receipt_id"], cases["amount"].astype(float), strict=True))
        best: dict[tuple[str, str], dict] = {}
        weighed: dict[tuple[str, str], list[float]] = {}
        for (receipt_id, drawer), reading in found.items():
            key = pair_of[(cheque_of[receipt_id], drawer)]
            weight = readings.lapping_weight(reading["traces"])
            amount = max(amount_of.get(receipt_id, 0.0), 0.0)
            sums = weighed.setdefault(key, [0.0, 0.0, 0.0])
            sums[0], sums[1], sums[2] = sums[0] + weight * amount, sums[1] + amount, sums[2] + 1
            if key not in best or weight > best[key]["strongest"]:
                best[key] = {"strongest": round(weight, 4), "receipt_id": receipt_id,
                             "drawer_share": shares[(receipt_id, drawer)],
                             "traces": {k: round(v, 4) for k, v in reading["traces"].items()},
                             "facts": reading["facts"]}
        # Lapping is read cheque by cheque: each cheque it moves leaves a hole in the drawer's own account. A
        # drawer whose cheques keep paying the other account while its own invoices are paid on time is one
        # buyer paying for both, so the pair's lapping weight is the receipts' weights averaged by amount; one
        # cheque among many that met a late invoice of the drawer does not make them all lapping.
        for key, (weighted, amount, count) in weighed.items():
            best[key]["weight"] = round(weighted / amount, 4) if amount > 0 else best[key]["strongest"]
            best[key]["receipts"] = int(count)
        return best

    @staticmethod
    def _own_texts(data, customer_ids: set) -> dict[str, set[str]]:
        """customer_id -> its bank account, name and owner's name, compacted (``facts.compact_key``)."""
        customers = data.frame("customers")
        customers = customers[customers["customer_id"].isin(customer_ids)]
        own: dict[str, set[str]] = {}
        for field in ("bank_account", "name", "owner_name"):
            if field in customers.columns:
                for c, v in zip(customers["customer_id"], customers[field], strict=True):
                    if facts.compact_key(v):
                        own.setdefault(c, set()).add(facts.compact_key(v))
        return own

    @staticmethod
    def _payees_cheques(data, payees: list) -> pd.DataFrame:
        """cheque_id, customer_id, drawer_account, drawer_name of the payees' cheques (in cheque order),
        from the engine: the other customers' cheques are not read."""
        table = data.table("cheques")
        drawer = {c: table[c] if c in table.columns else ibis.null("string") for c in ("drawer_account", "drawer_name")}
        chosen = table.filter(among(table.customer_id, payees))
        return data.execute(chosen.select("cheque_id", "customer_id", **drawer).order_by("cheque_id"))

    def _weigh_readings(self, pair, traces: dict, lapping: dict) -> dict:
        """A cheque drawn on the other account reads as lapping or as one buyer: the reading with the
        larger weight stands. When lapping does, the cheque is no link between the accounts (PAY-01
        reports the swap), and the traces that only support a link go when nothing else is left."""
        # paying mostly with the other's cheques speaks for one buyer in this weighing (the pair's score
        # already counts the cheque)
        weighed = traces | readings.others_cheques_trace(lapping["drawer_share"])
        one_buyer = readings.one_buyer_weight(weighed)
        pair["readings"] = {"one_buyer": round(one_buyer, 4), "lapping": lapping["weight"],
                            "lapping_strongest": lapping["strongest"], "lapping_receipts": lapping["receipts"],
                            "one_buyer_traces": {k: round(v, 4) for k, v in weighed.items()
                                                 if k in readings.ONE_BUYER_KINDS},
                            "lapping_traces": lapping["traces"], "lapping_receipt": lapping["receipt_id"],
                            "reported": "one_buyer" if one_buyer >= lapping["weight"] else "lapping"}
        if pair["readings"]["reported"] == "one_buyer":
            beyond = {k for k, v in weighed.items() if k in readings.ONE_BUYER_KINDS and v > 0} - RELATION_ONLY
            if beyond or "new_account" in traces:
                return traces
            # Nothing but the cheques (and perhaps the owner's name) links two established accounts: a
            # related or friendly business paying for the other now and then, which is neither one buyer
            # nor lapping. The cheque is no link here; PAY-01 judges the payment itself.
            pair["readings"]["reported"] = "related_payment"
        # the cheque is the lapping's (or a related business's payment), not a detail the accounts share
        pair["kinds"] = {k: v for k, v in pair["kinds"].items() if k != "cheque_drawer"}
        kept = {k: v for k, v in traces.items() if k != "cheque_drawer"}
        if not any(k in readings.ONE_BUYER_KINDS for k in kept):
            return {}
        return kept

    def _made_up(self, data) -> set[str]:
        """Accounts CUS-01 finds made up (its findings, which the runner hands over)."""
        found = data.findings
        if found.empty:
            return set()
        return set(found.loc[found["detector"] == FictitiousCustomer.code, "entity_id"].astype(str))

    def _exposure(self, group, master, movements, balance) -> dict:
        # the group's daily movements in customer order, as a filter of the customer-sorted movements gives
        parts = [movements[c] for c in sorted(group) if c in movements]
        chosen = pd.concat(parts) if parts else pd.DataFrame(columns=["customer_id", "date", "amount"])
        daily = chosen.groupby("date")["amount"].sum().sort_index().cumsum() if len(chosen) else pd.Series(dtype=float)
        peak = float(daily.max()) if len(daily) else 0.0
        peak_date = daily.idxmax() if len(daily) else None
        limits = pd.to_numeric(master["credit_limit"].reindex(group), errors="coerce") \
            if "credit_limit" in master.columns else pd.Series(dtype=float)
        limit = limits.get(group[0])
        if pd.isna(limit):
            limit = limits.max() if len(limits.dropna()) else float("nan")
        open_balance = float(sum(max(float(balance.get(c, 0.0)), 0.0) for c in group))
        above = peak - limit if pd.notna(limit) else float("nan")
        return {"peak_balance": peak, "peak_date": peak_date, "credit_limit": limit, "above_limit": above,
                "open_balance": open_balance}

    def _finding(self, group, edges, master, summary, invoices_by, movements, balance, end) -> dict:
        anchor = group[0]
        others = group[1:]
        exposure = self._exposure(group, master, movements, balance)
        above = exposure["above_limit"]
        risk = above if pd.notna(above) and above > 0 else exposure["open_balance"]
        best = edges[0]
        traces = {k: round(v, 4) for k, v in best["traces"].items()}
        names = {c: master["name"].get(c) if "name" in master.columns else None for c in group}
        created = {c: master["created_date"].get(c) for c in group}
        invoiced = {c: float(summary["invoiced"].get(c, 0.0)) for c in group}
        alias_first = min((summary["first_invoice"].get(c) for c in others if c in summary.index), default=None)
        salesperson = None
        alias_invoices = pd.concat([invoices_by[c] for c in others if c in invoices_by]) if any(
            c in invoices_by for c in others) else pd.DataFrame(columns=["invoice_id", "salesperson_id"])
        if len(alias_invoices):
            salesperson = alias_invoices.groupby("salesperson_id")["amount"].sum().sort_values(
                ascending=False, kind="mergesort").index[0]
        evidence = {
            "accounts": [{"customer_id": c, "name": names[c], "created_date": created[c], "invoiced": invoiced[c],
                          "credit_limit": master["credit_limit"].get(c) if "credit_limit" in master.columns else None}
                         for c in group],
            "pairs": [{"older": p["older"], "newer": p["newer"], "score": round(p["score"], 4),
                       "shared": p["kinds"], "delivered": list(p["delivered"].values()), "timing": p["timing"],
                       "traces": {k: round(v, 4) for k, v in p["traces"].items()},
                       "readings": p["readings"]} for p in edges[:20]],
            **exposure, "audit_end": end, "traces": traces,
        }
        return {
            "entity_id": anchor, "salesperson_id": salesperson, "customer_id": anchor,
            "period": month_of(alias_first), "score": best["score"], "risk_amount": max(float(risk), 0.0),
            "evidence": evidence,
            "related": related_ids(("customer", group), ("salesperson", [salesperson]),
                                   ("invoice", alias_invoices["invoice_id"].tolist())),
        }
