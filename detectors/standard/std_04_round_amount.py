"""round_amount: a salesperson's or customer's invoices and cash receipts in suspiciously round figures."""

from __future__ import annotations

import abc
import math

import numpy as np
import pandas as pd

from analyses.standard.posted_totals import posted_totals
from audit.common import saturating
from audit.detector import MAX_RELATED, Detector, empty_findings, related_ids
from audit.ledger import line_net
from audit.membership import among, isin
from detectors.standard.support import (
    amount_unit,
    excess_p_value,
    group_period,
    most_common,
    significant_digits,
)
from detectors.wording import round_amount


class _RoundAmount(Detector):
    """Shared logic of the per-salesperson and per-customer round-amount tests (abstract)."""

    pattern = "round_amount"
    wording = round_amount.words
    family = "standard"
    requires = {
        "invoices": ("invoice_id", "invoice_no", "invoice_date", "customer_id", "salesperson_id"),
        "invoice_lines": ("invoice_id", "quantity", "unit_price"),
    }
    uses = {"invoices": ("status",), "invoice_lines": ("discount_pct",),
            "receipts": ("receipt_id", "customer_id", "receipt_date", "method", "amount", "collected_by"),
            "customers": ("assigned_salesperson_id",)}
    # every posted invoice's amount, read once for STD-01, STD-04, STD-07 and STD-08
    reads_analyses = ("STD-00",)
    # A statistical screen over many records: it points at where to look rather than at a loss.
    rank_weight = 0.25

    def __init__(self, max_significant_digits: int = 2, min_zero_digits: int = 2, unit_share: float = 0.99,
                 alpha: float = 0.001, min_round_count: int = 3, min_ratio: float = 3.0,
                 receipt_methods: tuple[str, ...] = ("cash",)):
        self.max_significant_digits = max_significant_digits
        self.min_zero_digits = min_zero_digits
        self.unit_share = unit_share
        self.alpha = alpha
        self.min_round_count = min_round_count
        self.min_ratio = min_ratio
        self.receipt_methods = tuple(receipt_methods)

    @property
    @abc.abstractmethod
    def group_column(self) -> str:
        """salesperson_id or customer_id."""

    # ------------------------------------------------------------ which amounts are round
    def _roundness(self, amounts: pd.Series, unit: int) -> pd.DataFrame:
        n_digits, significant = significant_digits(amounts, unit)
        zeros = n_digits - significant
        eligible = n_digits >= self.max_significant_digits + self.min_zero_digits
        is_round = eligible & (significant <= self.max_significant_digits) & (zeros >= self.min_zero_digits)
        step = np.where(is_round, unit * (10.0 ** zeros), np.nan)
        return pd.DataFrame({"eligible": eligible, "round": is_round, "step": step}, index=amounts.index)

    def _invoices(self, data) -> tuple[pd.DataFrame, int]:
        invoices = posted_totals(data)
        unit = amount_unit(invoices["amount"], self.unit_share)
        invoices = invoices.join(self._roundness(invoices["amount"], unit))
        invoices["suspicious"] = invoices["round"]
        candidates = invoices.loc[invoices["round"], "invoice_id"].tolist()
        if candidates:
            lines = data.table("invoice_lines")
            lines = lines.filter(among(lines.invoice_id, candidates))
            nets = data.execute(lines.select("invoice_id", net=line_net(lines)))
            # the round invoices' steps only (mapping through every invoice's id cost a whole-ledger index)
            step = nets["invoice_id"].map(invoices.loc[invoices["round"], ["invoice_id", "step"]].set_index(
                "invoice_id")["step"])
            # A round total whose every line is itself a multiple of the total's rounding step got its
            # roundness from the prices (a round price list): it is not a figure someone chose.
            remainder = np.abs(np.round(nets["net"] / step) * step - nets["net"])
            inherited = (remainder <= 0.5).groupby(nets["invoice_id"]).all()
            invoices.loc[isin(invoices["invoice_id"], set(inherited.index[inherited.to_numpy(dtype=bool)])),
                         "suspicious"] = False
        return invoices, unit

    def _receipts(self, data) -> tuple[pd.DataFrame, int]:
        if not data.has("receipts", ("receipt_id", "customer_id", "receipt_date", "method", "amount")):
            empty = pd.DataFrame({c: pd.Series(dtype=object) for c in (
                "receipt_id", "customer_id", "receipt_date", "amount", "salesperson_id")})
            return empty.assign(**{c: pd.Series(dtype=bool) for c in ("eligible", "round", "suspicious")}), 1
        receipts = data.table("receipts")
        receipts = receipts.filter(receipts.method.isin(list(self.receipt_methods)))
        if data.has("customers", ("assigned_salesperson_id",)):
            customers = data.table("customers").select("customer_id", "assigned_salesperson_id")
            receipts = receipts.left_join(customers, "customer_id").drop("customer_id_right")
            owner = receipts.assigned_salesperson_id
        else:
            owner = receipts.collected_by
        receipts = receipts.select("receipt_id", "customer_id", "receipt_date", "method", "amount",
                                   salesperson_id=receipts.collected_by.fill_null(owner))
        frame = data.execute(receipts.order_by("receipt_id"))
        unit = amount_unit(frame["amount"], self.unit_share)
        frame = frame.join(self._roundness(frame["amount"], unit))
        frame["suspicious"] = frame["round"]
        return frame, unit

    # ------------------------------------------------------------ test per group
    @staticmethod
    def _counts(records: pd.DataFrame) -> tuple[int, int]:
        """(round and suspicious, eligible) among ``records``."""
        eligible = records.loc[records["eligible"].astype(bool)]
        return int(eligible["suspicious"].astype(bool).sum()), len(eligible)

    @staticmethod
    def _counts_by(records: pd.DataFrame, col: str) -> dict:
        """:meth:`_counts` of each group of ``records`` by ``col``, counted at once (one pass, not a filter
        per group)."""
        eligible = records["eligible"].astype(bool).to_numpy()
        suspicious = eligible & records["suspicious"].astype(bool).to_numpy()
        counts = pd.DataFrame({"k": suspicious, "n": eligible}).groupby(records[col].to_numpy(), sort=False).sum()
        return {group: (int(k), int(n)) for group, k, n in zip(counts.index, counts["k"], counts["n"], strict=True)}

    def _test(self, counts: tuple[int, int], population: tuple[int, int]) -> dict | None:
        k, n = counts
        population_k, population_n = population
        # The rate of the rest of the ledger (the group's own records left out, so its habit does not set
        # the yardstick), Laplace-smoothed so a ledger with no round amount at all still has a rate.
        rate = (population_k - k + 1) / (population_n - n + 2)
        p_value = excess_p_value(k, n, rate)
        expected = n * rate
        flagged = (k >= self.min_round_count and p_value < self.alpha and k >= self.min_ratio * expected)
        return {"n": n, "k": k, "rate": k / n if n else 0.0, "population_rate": rate, "expected": expected,
                "p_value": p_value, "flagged": bool(flagged)}

    def find(self, data) -> pd.DataFrame:
        col = self.group_column
        invoices, invoice_unit = self._invoices(data)
        receipts, receipt_unit = self._receipts(data)
        self.population_ = {"invoices": (int(invoices["suspicious"].sum()), int(invoices["eligible"].sum())),
                            "receipts": (int(receipts["suspicious"].sum()), int(receipts["eligible"].sum()))}
        groups = sorted(set(invoices.loc[invoices["suspicious"], col].dropna())
                        | set(receipts.loc[receipts["suspicious"].astype(bool), col].dropna()))
        # Counted and split once: per group, scanning the whole ledger again took seconds.
        population = {"invoices": self._counts(invoices), "cash_receipts": self._counts(receipts)}
        # Only the groups with a round amount are tested: splitting every customer's rows took seconds.
        mine_invoices = invoices[isin(invoices[col], groups)]
        mine_receipts = receipts[isin(receipts[col], groups)]
        invoice_counts = self._counts_by(mine_invoices, col)
        receipt_counts = self._counts_by(mine_receipts, col)
        findings = []
        invoices_of = receipts_of = None
        for group in groups:
            tests = {"invoices": self._test(invoice_counts.get(group, (0, 0)), population["invoices"]),
                     "cash_receipts": self._test(receipt_counts.get(group, (0, 0)), population["cash_receipts"])}
            if not any(t["flagged"] for t in tests.values()):
                continue
            if invoices_of is None:  # split only when a group is flagged
                invoices_of = dict(tuple(mine_invoices.groupby(col, sort=False)))
                receipts_of = dict(tuple(mine_receipts.groupby(col, sort=False)))
            mine_inv = invoices_of.get(group, invoices.iloc[:0])
            mine_rec = receipts_of.get(group, receipts.iloc[:0])
            findings.append(self._finding(data, group, mine_inv, mine_rec, tests, invoice_unit, receipt_unit))
        self.n_groups_flagged_ = len(findings)
        return pd.DataFrame(findings) if findings else empty_findings()

    def _finding(self, data, group, invoices, receipts, tests, invoice_unit, receipt_unit) -> dict:
        round_inv = invoices[invoices["suspicious"]].sort_values(["amount", "invoice_id"], ascending=[False, True])
        round_rec = receipts[receipts["suspicious"].astype(bool)].sort_values(["amount", "receipt_id"],
                                                                             ascending=[False, True])
        risk, strengths = 0.0, []
        for test, rows in ((tests["invoices"], round_inv), (tests["cash_receipts"], round_rec)):
            if not test["flagged"]:
                continue
            # Only the round amounts beyond what the rest of the ledger's rate would give are at risk: their
            # share (k - expected) / k of the round total.
            excess_share = max(0.0, 1 - test["expected"] / test["k"])
            test["excess_value"] = float(rows["amount"].sum()) * excess_share
            risk += test["excess_value"]
            strengths.append(saturating(math.log10(self.alpha / max(test["p_value"], 1e-300)), 3.0))
        score = 0.5 + 0.4 * max(strengths)
        salesperson = group if self.group_column == "salesperson_id" else most_common(
            pd.concat([invoices["salesperson_id"], receipts.get("salesperson_id", pd.Series(dtype=object))]))
        customers = pd.concat([round_inv["customer_id"], round_rec["customer_id"]]).dropna().unique()
        customer = group if self.group_column == "customer_id" else (customers[0] if len(customers) == 1 else None)
        evidence = {
            "group": {"column": self.group_column, "id": group},
            "rule": {"max_significant_digits": self.max_significant_digits, "min_zero_digits": self.min_zero_digits,
                     "invoice_unit": invoice_unit, "receipt_unit": receipt_unit},
            "tests": tests,
            "round_invoices": round_inv[["invoice_id", "invoice_no", "invoice_date", "amount"]].head(20).to_dict(
                orient="records"),
            "round_cash_receipts": round_rec[["receipt_id", "receipt_date", "amount"]].head(20).to_dict(
                orient="records"),
            "risk_basis": "sum of the round amounts x (round count - count expected at the rest of the "
                          "ledger's rate) / round count",
            "traces": {name: round(s, 4) for name, s in zip([n for n, t in tests.items() if t["flagged"]], strengths,
                                                            strict=True)},
        }
        kind = "salesperson" if self.group_column == "salesperson_id" else "customer"
        room = MAX_RELATED - 3
        listed_inv = round_inv["invoice_id"].head(room).tolist()
        listed_rec = round_rec["receipt_id"].head(max(0, room - len(listed_inv))).tolist()
        dates = pd.concat([invoices["invoice_date"], receipts.get("receipt_date", pd.Series(dtype="datetime64[ns]"))])
        return {
            "entity_id": group, "salesperson_id": salesperson, "customer_id": customer,
            "period": group_period(data, dates), "score": score, "risk_amount": risk,
            "evidence": evidence,
            "related": related_ids((kind, [group]), ("salesperson", [salesperson]), ("customer", [customer]),
                                   ("invoice", listed_inv), ("receipt", listed_rec)),
        }


class RoundAmount(_RoundAmount):
    """A salesperson whose invoices or cash receipts are in round figures far more often than the ledger's.

    What it finds
    -------------
    An amount is round when, counted in the ledger's unit (the largest power of ten dividing
    ``unit_share`` of the amounts), it has at most ``max_significant_digits`` significant digits followed
    by at least ``min_zero_digits`` zeros (45,000,000 in a ledger kept in rials). A round invoice total
    whose every line is itself a multiple of the same round step inherits its roundness from the prices
    and is not counted. Per salesperson (receipts: the collector, else the customer's salesperson), the
    number of round invoices and of round ``receipt_methods`` receipts is compared with the rate of the
    rest of the ledger (the other salespeople): flagged when there are at least ``min_round_count``, at
    least ``min_ratio`` times the expected number, with a binomial p-value below ``alpha``.

    Why it matters
    --------------
    Amounts that come from prices and quantities are rarely round; amounts someone chose are. Round
    invoice totals point at invented sales or quantities tuned to a number; round cash receipts at cash
    kept back to a round sum or payments made up.

    Flagged
    -------
    A salesperson with 6 invoices out of 900 at 50,000,000, 80,000,000, 120,000,000 … whose lines
    are not round (quantities adjusted to reach the total), where 0.1 % of the ledger's invoices are:
    flagged, money at risk the round amounts beyond the 0.9 expected.

    Not flagged
    -----------
    A company whose price list is in round figures: 10 cartons at 5,000,000 make a round 50,000,000
    whose roundness comes from the price, so it is not counted; and when round amounts are common in
    the whole ledger, one salesperson having many of them is not unusual. One round invoice.

    Evidence
    --------
    Per test (invoices, cash receipts): round and eligible counts, the salesperson's and the ledger's
    rates, the expected count, the p-value and the excess value; the rule and units; the round records.
    """

    code = "STD-04"
    entity_type = "salesperson"
    group_column = "salesperson_id"
