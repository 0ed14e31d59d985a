"""payment_swap: the customer's cheque or cash swapped for the salesperson's own (lapping, teeming and lading)."""

from __future__ import annotations

import ibis
import pandas as pd

from analyses.links.graph import links_for
from audit.common import combine_traces, month_of, saturating
from audit.detector import Detector, empty_findings, related_ids
from audit.i18n import N_
from audit.ledger import confirmation_gaps
from audit.membership import among
from audit.policy import DEFAULTS
from detectors.customers import facts
from detectors.customers.cus_02_multi_name_invoicing import MultiNameInvoicing
from detectors.payments import readings
from detectors.payments.evidence import (
    OWN_KINDS,
    confirmations_during,
    cross_customer_allocations,
    drawer_identity,
    first_text,
    open_invoices_matching,
)
from detectors.wording import payment_swap

# How much each kind of drawer says about a swap, before the other traces.
DRAWER_WEIGHTS = {"staff_account": 0.75, "staff_name": 0.65, "salesperson_relative": 0.45, "unknown": 0.2,
                  "other_customer": 0.1}
# Drawers who are neither the customer's side nor another customer: the salesperson's own, a relative, or a
# stranger (an endorsed third-party cheque looks like this too, so each trace alone stays below min_score).
STRANGER_KINDS = ("staff_account", "staff_name", "salesperson_relative", "unknown")
# What the drawer's other cheques and the customer's confirmations add to such a cheque. One salesperson's
# family drawing cheques for several of the salesperson's customers, or one stranger's account paying for
# several customers of one salesperson (and nobody else's), is a personal account standing in for customers'
# money; a confirmation before the receipt's date owing less by its amount says the customer paid earlier.
SPREAD_WEIGHTS = {"relatives_on_several_customers": 0.2, "drawer_on_several_customers": 0.2}
CONFIRMED_EARLIER_WEIGHT = 0.25


def _python_text(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its text columns as Python objects (the same values, missing ones NaN): the candidates
    are read row by row several times, and an Arrow-backed column hands out each value slowly (half a second
    for the 15,000 candidates at a million lines)."""
    text = {c: object for c in frame.columns if isinstance(frame[c].dtype, pd.StringDtype)}
    return frame.astype(text) if text else frame


class PaymentSwap(Detector):
    """Receipts where the customer's money was swapped or applied to another customer (lapping).

    What it finds
    -------------
    Receipts showing any of: a cheque drawn by someone other than the customer, especially a
    salesperson or employee (same bank account, or a name that matches by fuzzy comparison) or a
    salesperson's relative (the collector's family name); a customer's receipt dated more than
    ``[cheques] hand_in_days`` working days before the cheque booked against it was received (cash on
    the customer's receipt, booked later as a cheque); money allocated to another customer's invoices
    (not an account of the same owner); a late-posted receipt whose amount is exactly another customer's
    invoice that was still unpaid (that customer's money applied here). A cheque drawn on another
    customer's account is weighed two ways (``detectors.payments.readings``): as lapping (the drawer's
    own invoices then going unpaid past their due date, late posting, one salesperson collecting from
    both, the cheque applied to the payee's overdue invoices) and as one buyer under two names (phone,
    address, owner, bank account or delivery place shared beyond the cheque, in the entity links of
    LNK-01, or CUS-02 finding the two accounts one buyer); when lapping weighs more its weight counts
    here, and cash the same salesperson booked late for either customer within ``chain_window_days``
    of that cheque counts as the money the lapping covered. A cheque of a stranger or a relative weighs more
    when the same drawer's account pays for several customers of one salesperson and nobody else's, when
    the salesperson's family draws cheques for several of the salesperson's customers, and when the
    customer confirmed owing less by the receipt's amount in the ``confirmation_lookback_days`` before the
    receipt's date (it paid before the receipt says); none of them alone reaches ``min_score``, and one
    that cannot be checked (no drawer account, no confirmations) is listed as not checked. Late posting and a balance
    confirmation below the ledger while the money was out add to the score. Each trace adds to one
    score (1 − the product of 1 − each trace); receipts scoring at least ``min_score`` are reported.

    Why it matters
    --------------
    In lapping the salesperson keeps one customer's payment and covers the hole with the next customer's
    money, for months; swapping a customer's cash for a personal post-dated cheque gives the salesperson
    free use of the cash and leaves the company with a cheque that may bounce.

    Flagged
    -------
    The customer's receipt says 12,828,000 paid on 2025-05-10; the receipt was booked on 2025-05-17
    against a cheque received that day and drawn by Forough Hosseini-Pour on an account not on record,
    who shares the family name of the collecting salesperson Raheleh Hosseini-Pour.

    Two cheques of two customers of salesperson Somayeh Hashemi-Pour, drawn by Nader and Zahra Hashemi-Pour,
    each dated the day it was received: her family drawing for several of her customers.

    Another customer's cheque, drawn on Golden Wholesale's account, booked on Parsa Market's overdue
    invoice by the salesperson who collects from both, while Golden Wholesale's own invoice of the
    cheque's amount went unpaid for weeks; the two share nothing else (lapping weighs 0.65, one buyer 0).

    Not flagged
    -----------
    A cheque drawn on the account of a second shop of the buyer (same phone and owner, goods delivered
    at the buyer's shop): one buyer weighs more than lapping, CUS-02 reports it. A cheque drawn by Elham Rashidi, the owner on the customer's record, from her personal account (or
    by someone of her family name); a single cheque of someone who shares the collecting salesperson's family
    name and nothing else; a payment of one chain branch applied to another branch of the same
    owner; a third party's cheque passed on by the customer with nothing else unusual (common in
    trade); the customer's own cheque recorded days after its receipt (kept back: CHQ-01's finding).

    Evidence
    --------
    The cheque's drawer and who it matched, the receipt, cheque and posting dates and working days
    between them, the other customers' invoices paid or matched, the confirmations that show the gap,
    ``readings`` (for a cheque drawn on another customer: both readings' weights and traces, and which
    is reported), and each trace's contribution.
    """

    code = "PAY-01"
    # a cheque drawn on another customer's account reads as lapping or as one buyer: the entity links
    # weigh the one-buyer reading, and a pair CUS-02 reports as one buyer is not lapping
    reads_analyses = ("LNK-01",)
    reads_findings = ("CUS-02",)
    pattern = "payment_swap"
    wording = payment_swap.words
    entity_type = "receipt"
    family = "payments"
    requires = {"receipts": ("receipt_id", "customer_id", "receipt_date", "posted_date", "amount")}
    uses = {
        "receipts": ("method", "collected_by", "cheque_id"),
        "receipt_allocations": ("receipt_id", "invoice_id", "amount", "cash_discount_amount"),
        # a drawer's invoice settled by a return or price adjustment is no invoice left unpaid (readings)
        "credit_notes": ("credit_note_id", "invoice_id", "credit_date", "amount"),
        "cheques": ("cheque_id", "cheque_no", "received_date", "drawer_account", "drawer_name", "collected_by"),
        "customers": ("assigned_salesperson_id", "bank_account", "name", "owner_name", "payment_terms_days"),
        "salespeople": ("name", "bank_account"),
        "employees": ("name", "bank_account", "role"),
        "invoices": ("invoice_id", "customer_id", "invoice_date", "salesperson_id", "due_date"),
        "shipments": ("customer_id",),
        "confirmations": ("customer_id", "as_of_date", "confirmed_balance"),
    }

    # a late cash receipt of the customers of a cheque read as lapping, collected by the same salesperson
    CHAIN_WEIGHT = 0.4

    def __init__(self, hand_in_days: int = DEFAULTS.cheques.hand_in_days, name_match_score: float = 90.0, amount_tolerance: float = 1.0,
                 min_score: float = 0.5, full_score_excess_days: int = 10,
                 default_terms_days: int = DEFAULTS.collections.default_terms_days, min_delivery_share: float = 0.5,
                 chain_window_days: int = 90, confirmation_lookback_days: int = 30,
                 drawer_late_days: int = readings.first_letter_days(DEFAULTS.collections.ladder_days)):
        self.hand_in_days = hand_in_days
        self.name_match_score = name_match_score
        self.amount_tolerance = amount_tolerance
        self.min_score = min_score
        self.full_score_excess_days = full_score_excess_days
        self.default_terms_days = default_terms_days
        self.min_delivery_share = min_delivery_share
        self.chain_window_days = chain_window_days
        self.confirmation_lookback_days = confirmation_lookback_days
        self.drawer_late_days = drawer_late_days

    @classmethod
    def params_from_policy(cls, policy):
        return {"hand_in_days": policy.cheques.hand_in_days,
                "default_terms_days": policy.collections.default_terms_days,
                "drawer_late_days": readings.first_letter_days(policy.collections.ladder_days)}

    # ------------------------------------------------------------ relational part
    def _receipts(self, data) -> ibis.Table:
        """Receipts with their cheque, the days between dates, and whether they may be a candidate."""
        receipts = data.table("receipts").select(
            "receipt_id", "customer_id", "receipt_date", "posted_date", "method", "amount", "collected_by",
            "cheque_id")
        if data.has("cheques"):
            cheques = data.table("cheques").select(
                "cheque_id", "cheque_no", cheque_received="received_date", drawer_account="drawer_account",
                drawer_name="drawer_name", cheque_collector="collected_by")
            receipts = receipts.left_join(cheques, "cheque_id").drop("cheque_id_right")
        else:
            receipts = receipts.mutate(cheque_no=ibis.null("string"), cheque_received=ibis.null("timestamp"),
                                       drawer_account=ibis.null("string"), drawer_name=ibis.null("string"),
                                       cheque_collector=ibis.null("string"))
        if data.has("customers"):
            customers = data.table("customers").select("customer_id", assigned="assigned_salesperson_id",
                                                       customer_account="bank_account")
            receipts = receipts.left_join(customers, "customer_id").drop("customer_id_right")
        else:
            receipts = receipts.mutate(assigned=ibis.null("string"), customer_account=ibis.null("string"))
        late = (receipts.posted_date.date() - receipts.receipt_date.date()).cast("int64")
        before_cheque = (receipts.cheque_received.date() - receipts.receipt_date.date()).cast("int64")
        has_drawer = receipts.drawer_account.notnull() | receipts.drawer_name.notnull()
        foreign_account = receipts.customer_account.isnull() | receipts.drawer_account.isnull() | (
            receipts.drawer_account != receipts.customer_account)
        return receipts.mutate(
            late_days=late, before_cheque_days=before_cheque,
            candidate=(late > self.hand_in_days) | (before_cheque.fill_null(0) > self.hand_in_days)
            | (has_drawer & foreign_account),
        )

    def find(self, data) -> pd.DataFrame:
        table = self._receipts(data)
        crossed = cross_customer_allocations(data, self.name_match_score)
        wanted = table.candidate
        if len(crossed):
            wanted = wanted | among(table.receipt_id, sorted(set(crossed["receipt_id"])))
        base = _python_text(data.execute(table.filter(wanted).drop("candidate").order_by("receipt_id")))
        self.n_candidates_ = len(base)
        if base.empty:
            return empty_findings()
        base["salesperson_id"] = [first_text(a, b, c) for a, b, c in
                                  zip(base["collected_by"], base["cheque_collector"], base["assigned"], strict=True)]
        calendar = data.calendar
        base["late_working_days"] = calendar.working_days_between(base["receipt_date"], base["posted_date"])
        base["before_cheque_working_days"] = calendar.working_days_between(base["receipt_date"],
                                                                           base["cheque_received"])
        with_cheque = base[base["drawer_account"].notna() | base["drawer_name"].notna()]
        drawers = _python_text(drawer_identity(data, with_cheque, self.name_match_score)).set_index(
            "cheque_id").to_dict("index")
        late = base[base["late_working_days"] > self.hand_in_days]
        matched = open_invoices_matching(data, late, self.amount_tolerance)
        self.readings_ = self._readings(data, base, drawers)
        chains = self._chains(base, self.readings_)
        self.spread_ = spread = self._drawer_spread(base, drawers)
        self.not_checked_ = self._not_checked(data)
        by_receipt_crossed = {k: g for k, g in crossed.groupby("receipt_id")}
        by_receipt_matched = {k: g for k, g in matched.groupby("receipt_id")}
        suspects = []
        for row in base.itertuples():
            drawer = drawers.get(row.cheque_id) if isinstance(row.cheque_id, str) else None
            crossed_here, matched_here = by_receipt_crossed.get(row.receipt_id), by_receipt_matched.get(row.receipt_id)
            traces, related = self._traces(row, drawer, crossed_here, matched_here, self.readings_.get(row.receipt_id),
                                           chains.get(row.receipt_id), spread.get(row.receipt_id))
            if set(traces) - {"posted_late"}:
                suspects.append((row, drawer, crossed_here, matched_here, traces, related,
                                 self.readings_.get(row.receipt_id), chains.get(row.receipt_id)))
        self.n_suspects_ = len(suspects)
        self.caveats_ = self._caveats(data)
        # Confirmations only add weight, so they are looked up for the suspects alone.
        involved = {row.customer_id for row, *_ in suspects} | set(crossed["invoice_customer"]) | set(
            matched["invoice_customer"])
        gaps = _Gaps(confirmation_gaps(data, sorted(involved)))
        self.own_invoices_ = self._own_invoices(data, [row.receipt_id for row, *_ in suspects])
        findings = [f for f in (self._finding(*suspect, gaps, data) for suspect in suspects) if f is not None]
        self.n_found_ = len(findings)
        return pd.DataFrame(findings) if findings else empty_findings()

    # ------------------------------------------------------------ per-receipt part
    def _readings(self, data, base: pd.DataFrame, drawers: dict) -> dict[str, dict]:
        """receipt_id -> the two readings of a cheque drawn on another customer's account: lapping
        (``readings.lapping_traces``) and one buyer (the entity links beyond the cheque, or CUS-02's
        finding of the two accounts as one buyer), each with its weight and traces, and the one reported."""
        drawn = [{"cheque_id": row.cheque_id, "drawer_customer": drawers[row.cheque_id]["drawer_person"]}
                 for row in base.itertuples() if isinstance(row.cheque_id, str) and row.cheque_id in drawers
                 and drawers[row.cheque_id]["drawer_kind"] == "other_customer"]
        if not drawn:
            return {}
        cases = readings.cheque_cases(data, pd.DataFrame(drawn))
        cases = cases[cases["receipt_id"].isin(base["receipt_id"])]
        if cases.empty:
            return {}
        invoices = readings.case_invoices(data, cases)
        lapping = readings.lapping_traces(data, cases, invoices, self.hand_in_days, self.default_terms_days,
                                          self.drawer_late_days, self.amount_tolerance)
        one_buyer = readings.one_buyer_traces(links_for(data), facts.shipment_counts(data),
                                              MultiNameInvoicing.WEIGHTS, self.min_delivery_share)
        reported = self._one_buyer_pairs(data)
        out = {}
        for case in cases.itertuples(index=False):
            key = tuple(sorted((case.customer_id, case.drawer_customer)))
            buyer_traces = {k: round(v, 4) for k, v in one_buyer.get(key, {}).items()} | \
                readings.others_cheques_trace(case.drawer_share)
            found = lapping[(case.receipt_id, case.drawer_customer)]
            lap, buyer = readings.lapping_weight(found["traces"]), readings.one_buyer_weight(buyer_traces)
            if key in reported:  # CUS-02 weighed both readings with timing too, and found one buyer
                buyer = max(buyer, reported[key])
            out[case.receipt_id] = {
                "drawer_customer": case.drawer_customer, "salesperson_id": case.salesperson_id,
                "receipt_date": case.receipt_date, "lapping": round(lap, 4), "one_buyer": round(buyer, 4),
                "lapping_traces": {k: round(v, 4) for k, v in found["traces"].items()},
                "lapping_facts": found["facts"], "one_buyer_traces": buyer_traces,
                "reported_by_cus_02": key in reported,
                "reported": "lapping" if lap > buyer and key not in reported else "one_buyer"}
        return out

    @staticmethod
    def _one_buyer_pairs(data) -> dict[tuple[str, str], float]:
        """Pairs of accounts CUS-02 reports as one buyer with the cheque among their links -> its weight."""
        found = data.findings
        if found.empty:
            return {}
        pairs = {}
        for evidence in found.loc[found["detector"] == MultiNameInvoicing.code, "evidence"]:
            evidence = evidence if isinstance(evidence, dict) else {}
            for pair in evidence.get("pairs", []):
                if "cheque_drawer" in pair.get("shared", {}):
                    weight = (pair.get("readings") or {}).get("one_buyer", pair.get("score", 0.0))
                    pairs[tuple(sorted((pair["older"], pair["newer"])))] = float(weight)
        return pairs

    def _chains(self, base: pd.DataFrame, found: dict[str, dict]) -> dict[str, str]:
        """Late cash receipts of the two customers of a cheque read as lapping, collected by the same
        salesperson within ``chain_window_days`` of it -> that cheque's receipt: the cash the lapping hid."""
        chains: dict[str, str] = {}
        lapping = [(r, f) for r, f in found.items() if f["reported"] == "lapping"]
        if not lapping:
            return chains
        cash = base[(base["method"] == "cash") & (base["late_working_days"] > self.hand_in_days)]
        window = pd.Timedelta(days=self.chain_window_days)
        for receipt_id, reading in lapping:
            near = cash[cash["customer_id"].isin((base.loc[base["receipt_id"] == receipt_id, "customer_id"].iloc[0],
                                                  reading["drawer_customer"]))
                        & (cash["salesperson_id"] == reading["salesperson_id"])
                        & ((cash["receipt_date"] - pd.Timestamp(reading["receipt_date"])).abs() <= window)]
            for other in near["receipt_id"]:
                chains.setdefault(other, receipt_id)
        return chains

    @staticmethod
    def _drawer_spread(base: pd.DataFrame, drawers: dict) -> dict[str, dict[str, list]]:
        """receipt_id -> {trace: the customers it rests on} for cheques of a stranger or a relative:
        ``relatives_on_several_customers`` when the collecting salesperson's family (relatives by family name,
        or the salesperson by own name or account) drew cheques for two or more of the salesperson's customers; ``drawer_on_several_customers`` when the drawer's account is on
        cheques of two or more customers, all collected by one salesperson."""
        rows = [(row.receipt_id, row.customer_id, row.salesperson_id, drawers[row.cheque_id]["drawer_kind"],
                 drawers[row.cheque_id]["drawer_person"], facts.compact_key(row.drawer_account))
                for row in base.itertuples() if isinstance(row.cheque_id, str) and row.cheque_id in drawers
                and drawers[row.cheque_id]["drawer_kind"] in STRANGER_KINDS]
        out: dict[str, dict[str, list]] = {}
        if not rows:
            return out
        frame = pd.DataFrame(rows, columns=["receipt_id", "customer_id", "salesperson_id", "kind", "person", "account"])
        # the collecting salesperson's family: relatives by family name, and the salesperson's own name or account
        family = frame[(frame["kind"] == "salesperson_relative") | (
            frame["kind"].isin(("staff_name", "staff_account")) & (frame["person"] == frame["salesperson_id"]))]
        for _, group in family.groupby("salesperson_id"):
            customers = sorted(set(group["customer_id"].dropna()))
            if len(customers) >= 2:
                for receipt_id in group["receipt_id"]:
                    out.setdefault(receipt_id, {})["relatives_on_several_customers"] = customers
        for _, group in frame[frame["account"].notna()].groupby("account"):
            customers = sorted(set(group["customer_id"].dropna()))
            collectors = set(group["salesperson_id"].dropna())
            if len(customers) >= 2 and len(collectors) == 1 and group["salesperson_id"].notna().all():
                for receipt_id in group["receipt_id"]:
                    out.setdefault(receipt_id, {})["drawer_on_several_customers"] = customers
        return out

    @staticmethod
    def _not_checked(data) -> list[str]:
        """The traces of a stranger's cheque the data cannot show (a missing column is no evidence either way)."""
        missing = []
        if not data.has("cheques", ("drawer_account",)):
            missing.append("drawer_on_several_customers")
        if not data.has("confirmations", ("customer_id", "as_of_date", "confirmed_balance")):
            missing.append("customer_confirmed_paid_earlier")
        return missing

    def _traces(self, r, drawer, crossed, matched, reading=None, chain=None, spread=None
                ) -> tuple[dict[str, float], list[tuple[str, list]]]:
        """Each trace the receipt shows (weight) and the records it rests on."""
        traces: dict[str, float] = {}
        related: list[tuple[str, list]] = []
        kind = drawer["drawer_kind"] if drawer is not None else None
        # Without a drawer on record a late-recorded cheque reads as one kept back: CHQ-01 reports it.
        someone_else = kind is not None and kind not in OWN_KINDS
        if kind in DRAWER_WEIGHTS:
            traces["drawer_not_the_customer"] = DRAWER_WEIGHTS[kind]
            if isinstance(drawer["drawer_person"], str):
                related.append((drawer["drawer_person_type"], [drawer["drawer_person"]]))
        for name, customers in (spread or {}).items():
            traces[name] = SPREAD_WEIGHTS[name]
            related.append(("customer", [c for c in customers if c != r.customer_id]))
        before = r.before_cheque_working_days
        if pd.notna(before) and before > self.hand_in_days and someone_else:
            excess = int(before) - self.hand_in_days
            traces["paid_before_the_cheque"] = 0.5 + 0.2 * saturating(excess, self.full_score_excess_days)
        if crossed is not None and len(crossed):
            others = sorted(set(crossed["invoice_customer"]))
            older = crossed[crossed["invoice_date"] <= r.receipt_date]
            traces["paid_another_customers_invoices"] = 0.55 + (0.15 if len(older) else 0.0)
            related += [("invoice", crossed["invoice_id"].tolist()), ("customer", others)]
        if matched is not None and len(matched):
            traces["amount_of_another_customers_open_invoice"] = 0.4
            related += [("invoice", matched["invoice_id"].tolist()), ("customer", matched["invoice_customer"].tolist())]
        if reading is not None and reading["reported"] == "lapping":
            # the lapping reading outweighs one buyer: its traces (the late posting among them) count here
            traces["lapping_over_one_buyer"] = reading["lapping"]
            related.append(("customer", [reading["drawer_customer"]]))
        if chain is not None:
            traces["late_cash_in_lapping"] = self.CHAIN_WEIGHT
            related.append(("receipt", [chain]))
        late = r.late_working_days
        lapping_counted = reading is not None and reading["reported"] == "lapping" and \
            "posted_late" in reading["lapping_traces"]
        if pd.notna(late) and late > self.hand_in_days and not lapping_counted:
            traces["posted_late"] = 0.3 * (0.5 + 0.5 * saturating(int(late) - self.hand_in_days,
                                                                  self.full_score_excess_days))
        return traces, related

    def _finding(self, r, drawer, crossed, matched, traces, related, reading, chain, gaps, data) -> dict | None:
        kind = drawer["drawer_kind"] if drawer is not None else None
        late, before = r.late_working_days, r.before_cheque_working_days
        # The customer paid before the booking; a customer whose invoice this money paid had paid before it
        # too; the customer whose money this is (same amount) is owed a payment from then on.
        confirmations = confirmations_during(gaps.of(r.customer_id), r.customer_id, r.receipt_date, r.posted_date)
        for other in ([] if crossed is None else crossed.itertuples()):
            confirmations += confirmations_during(gaps.of(other.invoice_customer), other.invoice_customer,
                                                  other.invoice_date, r.posted_date)
        for other in ([] if matched is None else matched.itertuples()):
            confirmations += confirmations_during(gaps.of(other.invoice_customer), other.invoice_customer,
                                                  r.receipt_date, None)
        confirmations = list({(c["customer_id"], c["as_of_date"]): c for c in confirmations}.values())
        earlier = []
        if kind in STRANGER_KINDS and pd.notna(r.receipt_date):
            # the customer's books owed less than the ledger shortly before the receipt: it paid before then
            start = pd.Timestamp(r.receipt_date) - pd.Timedelta(days=self.confirmation_lookback_days)
            earlier = confirmations_during(gaps.of(r.customer_id), r.customer_id, start, r.receipt_date)
        if earlier:
            covered = min(1.0, max(c["gap"] for c in earlier) / r.amount) if r.amount else 1.0
            traces["customer_confirmed_paid_earlier"] = CONFIRMED_EARLIER_WEIGHT * covered
        if confirmations:
            covered = min(1.0, max(c["gap"] for c in confirmations) / r.amount) if r.amount else 1.0
            traces["confirmation_below_ledger"] = 0.2 * covered
            related.append(("customer", [c["customer_id"] for c in confirmations]))
        score = combine_traces(traces.values())
        if score < self.min_score:
            return None
        evidence = {
            "amount": r.amount, "method": r.method, "receipt_date": r.receipt_date, "posted_date": r.posted_date,
            "late_working_days": None if pd.isna(late) else int(late), "hand_in_days": self.hand_in_days,
            "cheque_id": r.cheque_id, "cheque_received": r.cheque_received,
            "receipt_before_cheque_working_days": None if pd.isna(before) else int(before),
            "drawer_name": r.drawer_name, "drawer_account": r.drawer_account, "drawer_kind": kind,
            "drawer_matched": None if drawer is None else drawer["drawer_person"],
            "other_customers_invoices": [] if crossed is None else crossed[
                ["invoice_id", "invoice_customer", "invoice_date", "amount"]].to_dict(orient="records"),
            "matching_open_invoices": [] if matched is None else matched[
                ["invoice_id", "invoice_customer", "invoice_date", "invoice_amount"]].to_dict(orient="records"),
            "confirmations": confirmations,
            "confirmations_before_receipt": earlier,
            "confirmation_lookback_days": self.confirmation_lookback_days,
            "drawer_spread": {k: [c for c in customers if c != r.customer_id]
                              for k, customers in self.spread_.get(r.receipt_id, {}).items()},
            "not_checked": [] if kind not in STRANGER_KINDS else list(self.not_checked_),
            "readings": None if reading is None else {k: v for k, v in reading.items() if k != "receipt_date"},
            "lapping_receipt": chain,
            "traces": {k: round(v, 4) for k, v in traces.items()},
        }
        own_invoices = self.own_invoices_.get(r.receipt_id, [])
        return {
            "entity_id": r.receipt_id, "salesperson_id": r.salesperson_id, "customer_id": r.customer_id,
            "period": month_of(r.receipt_date), "score": score, "risk_amount": r.amount,
            "evidence": evidence,
            "facts": {"cheque_no": r.cheque_no if isinstance(r.cheque_no, str) else r.cheque_id,
                      "drawer_words": None if drawer is None else drawer["drawer_words"],
                      "caveats": list(self.caveats_)},
            "related": related_ids(("receipt", [r.receipt_id]), ("cheque", [r.cheque_id]),
                                   ("customer", [r.customer_id]), ("salesperson", [r.salesperson_id]),
                                   ("invoice", own_invoices), *related),
        }

    @staticmethod
    def _caveats(data) -> list[str]:
        caveats = []
        if not data.has("cheques", ("drawer_account", "drawer_name")):
            caveats.append(N_("the cheques' drawers are not available, so swapped cheques cannot be recognised"))
        elif not data.has("customers", ("owner_name", "bank_account")):
            caveats.append(N_("the customers' owners or bank accounts are not on record, so an owner's own cheque "
                           "cannot be told apart"))
        if not data.has("receipt_allocations"):
            caveats.append(N_("receipt allocations are not available, so money applied to another customer's "
                           "invoices cannot be seen"))
        return caveats

    @staticmethod
    def _own_invoices(data, receipt_ids: list[str]) -> dict[str, list[str]]:
        """receipt_id -> the invoices it paid (sorted), for some receipts, from the engine."""
        if not data.has("receipt_allocations") or not receipt_ids:
            return {}
        allocations = data.table("receipt_allocations")
        paid = data.execute(allocations.filter(among(allocations.receipt_id, sorted(set(receipt_ids))))
                            .select("receipt_id", "invoice_id"))
        return {r: sorted(g.tolist()) for r, g in paid["invoice_id"].groupby(paid["receipt_id"], sort=False)}



class _Gaps:
    """The confirmation gaps split by customer once (each finding reads a few customers' gaps)."""

    def __init__(self, gaps: pd.DataFrame):
        self.empty = gaps.iloc[:0]
        self.by_customer = {c: g for c, g in gaps.groupby("customer_id", sort=False)} if len(gaps) else {}

    def of(self, customer_id) -> pd.DataFrame:
        return self.by_customer.get(customer_id, self.empty)
