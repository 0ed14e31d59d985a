"""benford_deviation: a salesperson's or customer's invoice amounts whose digits do not follow Benford's law."""

from __future__ import annotations

import abc
import math

import numpy as np
import pandas as pd
from scipy.stats import binom

from analyses.standard.posted_totals import posted_totals
from audit.common import combine_traces, saturating
from audit.detector import Detector, empty_findings, related_ids
from audit.membership import isin
from audit.methods.benford import (
    DEFAULT_ALPHA,
    DEFAULT_BOOTSTRAP_DRAWS,
    FIRST_DIGIT,
    FIRST_THREE,
    FIRST_TWO,
    LAST_TWO,
    MINIMUM_AMOUNT,
    MINIMUM_SAMPLE,
    SECOND_DIGIT,
    Z_CRITICAL_95,
    BenfordTest,
    benford_by_group,
    benford_test,
    benford_tests,
    extract_digits,
)
from detectors.standard.support import amount_unit, group_period, most_common
from detectors.wording import benford_deviation

# Tests read from the leading digits: they assume amounts spread over several orders of magnitude.
LEADING_DIGIT_TESTS = (FIRST_DIGIT, FIRST_TWO, FIRST_THREE, SECOND_DIGIT)


def test_evidence(result: BenfordTest) -> dict:
    """The digit table and figures of one test, as stored in a finding's evidence (JSON-ready)."""
    return {
        "test": result.test, "title": result.title, "n": result.n, "mad": result.mad, "level": result.level,
        "chi2": result.chi2, "chi2_dof": result.chi2_dof, "chi2_p": result.chi2_p, "ks": result.ks,
        "ks_critical_95": result.ks_critical_95, "expected_mad": result.expected_mad,
        "excess_mad": result.excess_mad, "mad_p_value": result.mad_p_value,
        "materiality_mad": result.materiality_mad, "alpha": result.alpha, "flagged": result.flagged,
        "verdict": result.verdict, "warning": result.warning, "minimum_sample": result.minimum_sample,
        "n_input": result.n_input, "n_missing": result.n_missing, "n_zero": result.n_zero,
        "n_negative": result.n_negative, "n_below_minimum": result.n_below_minimum,
        "digits": [int(d) for d in result.digits], "counts": [int(c) for c in result.counts],
        "observed": [float(v) for v in result.observed], "expected": [float(v) for v in result.expected],
        "z": [float(v) for v in result.z],
    }


def test_from_evidence(stored: dict) -> BenfordTest:
    """Rebuild the :class:`~audit.methods.benford.BenfordTest` of one stored test (``evidence["tests"][i]``), so
    ``reports.benford_chart.benford_figure`` can draw a finding's chart from the exceptions table alone."""
    def array(key, dtype=float):
        return np.array([np.nan if v is None else v for v in stored[key]], dtype=dtype)

    def number(key):
        value = stored.get(key)
        return math.nan if value is None else float(value)

    return BenfordTest(
        test=stored["test"], n=int(stored["n"]), digits=array("digits", np.int64),
        counts=array("counts", np.int64), observed=array("observed"), expected=array("expected"),
        mad=number("mad"), level=stored.get("level"), chi2=number("chi2"), chi2_dof=int(stored["chi2_dof"]),
        chi2_p=number("chi2_p"), ks=number("ks"), ks_critical_95=number("ks_critical_95"), z=array("z"),
        expected_mad=number("expected_mad"), excess_mad=number("excess_mad"),
        mad_p_value=stored.get("mad_p_value"), materiality_mad=number("materiality_mad"),
        alpha=number("alpha"), flagged=bool(stored["flagged"]), verdict=stored["verdict"],
        minimum_sample=int(stored["minimum_sample"]), warning=stored.get("warning"),
        n_input=int(stored.get("n_input") or 0), n_missing=int(stored.get("n_missing") or 0),
        n_zero=int(stored.get("n_zero") or 0), n_negative=int(stored.get("n_negative") or 0),
        n_below_minimum=int(stored.get("n_below_minimum") or 0),
    )


class _BenfordDeviation(Detector):
    """Shared logic of the per-salesperson and per-customer Benford tests (not registered: abstract)."""

    pattern = "benford_deviation"
    wording = benford_deviation.words
    family = "standard"
    requires = {
        "invoices": ("invoice_id", "invoice_no", "invoice_date", "customer_id", "salesperson_id"),
        "invoice_lines": ("invoice_id", "quantity", "unit_price"),
    }
    uses = {"invoices": ("status",), "invoice_lines": ("discount_pct",)}
    # every posted invoice's amount, read once for STD-01, STD-04, STD-07 and STD-08
    reads_analyses = ("STD-00",)
    # A broad statistical screen over a whole group: its money at risk is the value of dozens of invoices
    # (a share of a year's sales), not of one document, and most deviations come from the customer mix
    # rather than fraud. See docs/ranking.md.
    rank_weight = 0.001

    def __init__(self, tests: tuple[str, ...] = (FIRST_DIGIT, SECOND_DIGIT, FIRST_TWO, LAST_TWO),
                 first_three_min_n: int = MINIMUM_SAMPLE[FIRST_THREE], min_group_size: int = 50,
                 min_span_decades: float = 1.5, unit_share: float = 0.99, alpha: float = DEFAULT_ALPHA,
                 bootstrap_draws: int = DEFAULT_BOOTSTRAP_DRAWS, max_listed_invoices: int = 40,
                 shared_share: float = 0.5, mix_customers: int = 1):
        self.tests = tuple(tests)
        self.first_three_min_n = first_three_min_n
        self.min_group_size = min_group_size
        self.min_span_decades = min_span_decades
        self.unit_share = unit_share
        self.alpha = alpha
        self.bootstrap_draws = bootstrap_draws
        self.max_listed_invoices = max_listed_invoices
        self.shared_share = shared_share
        self.mix_customers = mix_customers

    @property
    @abc.abstractmethod
    def group_column(self) -> str:
        """The invoice column that defines a group (salesperson_id or customer_id)."""

    # ------------------------------------------------------------ tests on the groups
    def find(self, data) -> pd.DataFrame:
        col = self.group_column
        frame = posted_totals(data)
        frame = frame[frame[col].notna()]
        self.n_groups_tested_ = 0
        if frame.empty:
            return empty_findings()
        unit = amount_unit(frame["amount"], self.unit_share)
        frame = frame.assign(units=frame["amount"] / unit)
        tests = list(self.tests)
        # The first three digits need a large sample: added only where there are enough invoices.
        with_first_three = FIRST_THREE not in tests
        population_tests = tests + ([FIRST_THREE] if with_first_three and len(frame) >= self.first_three_min_n
                                    else [])
        population = benford_tests(frame["units"], population_tests, alpha=self.alpha,
                                   bootstrap_draws=self.bootstrap_draws, seed=0)
        sizes = frame.groupby(col).size()
        eligible = sizes[sizes >= self.min_group_size].index
        frame = frame[isin(frame[col], eligible)]
        self.n_groups_tested_ = len(eligible)
        if frame.empty:
            return empty_findings()
        # A test more than shared_share of the groups fail is held against none of them (below): once that
        # many are flagged, the rest of its bootstraps could change nothing and are not run.
        kwargs = dict(alpha=self.alpha, bootstrap_draws=self.bootstrap_draws, seed=0, bootstrap_only_material=True,
                      stop_above_share=self.shared_share)
        results = [benford_by_group(frame, "units", col, tests=tests, **kwargs)]
        large = sizes[sizes >= max(self.first_three_min_n, self.min_group_size)].index
        if with_first_three and len(large):
            results.append(benford_by_group(frame[isin(frame[col], large)], "units", col, tests=(FIRST_THREE,),
                                            **kwargs))
        table = pd.concat(results, ignore_index=True)
        # A deviation most groups share (prices in round thousands, one dominant product) is the ledger's,
        # not one group's: such a test is not held against anybody.
        shared = table.groupby("test")["flagged"].agg(["mean", "size"])
        company_wide = set(shared.index[(shared["size"] >= 2) & (shared["mean"] > self.shared_share)])
        self.company_wide_deviations_ = sorted(company_wide)
        self.explained_by_customer_mix_ = {}
        self.explained_by_customer_bands_ = {}
        flagged = table[table["flagged"] & ~table["test"].isin(company_wide)]
        findings = []
        # Split once, only the flagged groups: comparing the whole ledger per group took seconds.
        invoices_of = dict(tuple(frame[isin(frame[col], set(flagged[col]))].groupby(col, sort=False)))
        for group, rows in flagged.groupby(col, sort=True):
            finding = self._finding(data, group, invoices_of[group], list(rows["test"]), unit,
                                    population, company_wide)
            if finding is not None:
                findings.append(finding)
        return pd.DataFrame(findings) if findings else empty_findings()

    # ------------------------------------------------------------ one group
    def _customer_mix(self, invoices: pd.DataFrame, units: np.ndarray, test: str, hot_ids) -> list[str]:
        """For a salesperson: the customers whose regular orders make the deviation. The
        ``mix_customers`` customers with the most invoices in the over-represented digits are left out
        and the test is run again; if it then passes, the deviation is their buying pattern (one
        wholesaler's standing order), not the salesperson's amounts. Empty when the deviation stays."""
        if self.group_column != "salesperson_id" or self.mix_customers <= 0 or len(hot_ids) == 0:
            return []
        counts = invoices.loc[invoices["invoice_id"].isin(hot_ids), "customer_id"].value_counts()
        counts = counts.sort_index().sort_values(ascending=False, kind="mergesort")
        top = list(counts.index[:self.mix_customers])
        rest = units[~invoices["customer_id"].isin(top).to_numpy()]
        if len(rest) < self.min_group_size:
            return []  # too little left to tell the customer's pattern from the salesperson's
        again = benford_test(rest, test, alpha=self.alpha, bootstrap_draws=self.bootstrap_draws, seed=0)
        return [] if again.flagged else top

    def _customer_bands(self, customers: np.ndarray, digits: np.ndarray, result: BenfordTest,
                        hot_digits: set) -> dict | None:
        """For a salesperson: is the deviation one its customers share, or a few customers' order sizes?

        Each customer buys in a band of sizes of its own (one shop's orders seldom span an order of
        magnitude), so a salesperson's leading digits are first of all which customers it serves: with a
        few large accounts, their bands alone make the digits depart from Benford's law, however honest the
        amounts. The customers, not the invoices, are then the independent units: a customer whose invoices
        mostly carry the over-represented digits has a band there by chance with at most the digits' Benford
        probability (a narrow band lands on a digit with that probability; a wider one seldom has most of it
        there). So the number of such customers is compared with a binomial of that probability over the
        salesperson's customers, the tail times the number of digits the test has (the over-represented ones
        were picked from the data). Returns the figures when the customers do not share the deviation beyond
        ``alpha`` (it is their order sizes), None when they do (or for a customer group). When no digit is
        over-represented beyond chance on its own, the digits above their Benford share are read."""
        if self.group_column != "salesperson_id" or len(digits) == 0:
            return None
        if not hot_digits:
            # no digit is over-represented beyond chance on its own: the digits above their share are read
            hot_digits = {int(d) for d in result.digits[result.observed > result.expected]}
        frame = pd.DataFrame({"customer": customers, "hot": np.isin(digits, list(hot_digits))})
        shares = frame.groupby("customer", sort=True)["hot"].mean()
        probability = float(result.expected[np.isin(result.digits, list(hot_digits))].sum())
        mostly = int((shares > 0.5).sum())
        tail = float(binom.sf(mostly - 1, len(shares), probability)) * len(result.digits)
        if tail < self.alpha:
            return None
        return {"customers": int(len(shares)), "customers_mostly_in_those_digits": mostly,
                "digits": sorted(int(d) for d in hot_digits), "benford_probability": round(probability, 4),
                "p_value": round(min(tail, 1.0), 4)}

    def _finding(self, data, group, invoices: pd.DataFrame, flagged_tests: list[str], unit: int,
                 population: dict, company_wide: set) -> dict | None:
        amounts = invoices["amount"].to_numpy(dtype=float)
        positive = amounts[amounts > 0]
        # numpy's percentile is what pandas' quantile computes, without its per-call cost (seconds over
        # the flagged customers)
        low, high = np.percentile(positive, [0.05 * 100.0, 0.95 * 100.0]) if len(positive) else (0.0, 0.0)
        span = math.log10(high / low) if len(positive) and low > 0 else 0.0
        narrow = span < self.min_span_decades
        # Leading digits follow Benford's law only when amounts spread over orders of magnitude; a shop
        # that always buys the same basket has amounts in a narrow band and is left out of those tests.
        tests = [t for t in flagged_tests if not (narrow and t in LEADING_DIGIT_TESTS)]
        if not tests:
            return None
        units = invoices["units"].to_numpy(dtype=float)
        judged, mix, bands = [], {}, {}
        for test in tests:
            result = benford_test(units, test, alpha=self.alpha, bootstrap_draws=self.bootstrap_draws, seed=0)
            used = np.isfinite(units) & (units > 0)
            used &= np.floor(np.round(np.where(used, units, 0), 6)) >= MINIMUM_AMOUNT[test]
            digits = extract_digits(units[used], test).digits
            over = (result.z > Z_CRITICAL_95) & (result.observed > result.expected)
            hot = []
            for index in np.flatnonzero(over):
                digit = int(result.digits[index])
                in_bin = digits == digit
                p = float(result.expected[index])
                expected_count = result.n * p
                surplus = float(result.counts[index] - expected_count)
                # The part of the surplus chance cannot explain: above the 95 % upper bound of the count.
                beyond_noise = max(0.0, surplus - Z_CRITICAL_95 * math.sqrt(result.n * p * (1 - p)))
                mean_amount = float(amounts[used][in_bin].mean()) if in_bin.any() else 0.0
                hot.append({"digit": digit, "count": int(result.counts[index]),
                            "expected_count": expected_count, "surplus": surplus,
                            "surplus_beyond_noise": beyond_noise, "z": float(result.z[index]),
                            "mean_amount": mean_amount, "surplus_value": beyond_noise * mean_amount})
            hot.sort(key=lambda h: -h["z"])
            hot_digits = {h["digit"] for h in hot}
            hot_ids = invoices["invoice_id"].to_numpy()[used][np.isin(digits, list(hot_digits))]
            explained = self._customer_mix(invoices, units, test, hot_ids)
            if explained:
                mix[test] = explained
                continue
            bands_only = self._customer_bands(invoices["customer_id"].to_numpy()[used], digits, result, hot_digits)
            if bands_only is not None:
                bands[test] = bands_only
                continue
            strength = saturating(result.excess_mad - result.materiality_mad, result.materiality_mad)
            judged.append({"result": result, "hot": hot, "hot_ids": hot_ids, "strength": strength,
                           "risk": sum(h["surplus_value"] for h in hot)})
        self.explained_by_customer_mix_[group] = mix
        self.explained_by_customer_bands_[group] = bands
        if not judged:
            return None
        judged.sort(key=lambda j: (-j["strength"], j["result"].test))
        main = judged[0]
        # A screen is never more than moderately sure: 0.4 at the materiality limit, at most 0.8.
        score = 0.4 + 0.4 * combine_traces(j["strength"] for j in judged)
        risk = max(j["risk"] for j in judged)
        hot_invoices = invoices[invoices["invoice_id"].isin(main["hot_ids"])].sort_values(
            ["amount", "invoice_id"], ascending=[False, True])
        first_day, last_day = invoices["invoice_date"].min(), invoices["invoice_date"].max()
        salesperson = group if self.group_column == "salesperson_id" else most_common(invoices["salesperson_id"])
        customer = group if self.group_column == "customer_id" else None
        warnings = [j["result"].warning for j in judged if j["result"].warning]
        evidence = {
            "group": {"column": self.group_column, "id": group, "n_invoices": len(invoices),
                      "first_date": first_day, "last_date": last_day, "total_amount": float(invoices["amount"].sum()),
                      "span_decades": span},
            "amount_unit": unit,
            "tests": [test_evidence(j["result"]) for j in judged],
            "over_represented": {j["result"].test: j["hot"] for j in judged},
            "risk_basis": "in each over-represented digit, the surplus count beyond its 95 % chance bound times the "
                          "mean amount of that digit's invoices; the largest over the flagged tests",
            "minimum_sample_warnings": warnings,
            "tests_left_out": {
                "shared_by_most_groups": sorted(company_wide),
                "narrow_range": [t for t in flagged_tests if t not in tests],
                "explained_by_customer_mix": mix,
                "explained_by_customer_bands": bands,
            },
            "population": {t: {"n": r.n, "excess_mad": r.excess_mad, "flagged": r.flagged, "verdict": r.verdict}
                           for t, r in population.items()},
            "traces": {f"excess_{j['result'].test}": round(j["strength"], 4) for j in judged},
        }
        kind = "salesperson" if self.group_column == "salesperson_id" else "customer"
        return {
            "entity_id": group, "salesperson_id": salesperson, "customer_id": customer,
            "period": group_period(data, invoices["invoice_date"]), "score": score, "risk_amount": risk,
            "evidence": evidence,
            "facts": {"unit_share": self.unit_share,
                      "largest_invoice_nos": hot_invoices["invoice_no"].astype(str).head(5).tolist()},
            "related": related_ids((kind, [group]), ("salesperson", [salesperson]), ("customer", [customer]),
                                   ("invoice", hot_invoices["invoice_id"].head(self.max_listed_invoices))),
        }


class BenfordDeviation(_BenfordDeviation):
    """A salesperson's invoice amounts whose digits depart from Benford's law beyond sampling noise.

    What it finds
    -------------
    For every salesperson with at least ``min_group_size`` posted invoices, the net invoice amounts
    (``audit.ledger`` definition) go through the digit tests of ``audit.methods.benford``: first digit,
    second digit, first two digits, last two digits, and first three digits when the salesperson has at
    least ``first_three_min_n`` invoices. A salesperson is flagged only on the sample-size-aware verdict
    (excess MAD above Nigrini's materiality limit and a bootstrap p-value below ``alpha``). Amounts are
    read in the ledger's unit (the largest power of ten dividing ``unit_share`` of all amounts); a test
    that more than ``shared_share`` of the salespeople fail is the ledger's own trait and is held
    against none of them; the leading-digit tests are not judged for a salesperson whose amounts span
    less than ``min_span_decades`` orders of magnitude (5th to 95th percentile); and a deviation that
    goes away when the ``mix_customers`` customers with the most invoices in the over-represented
    digits are left out is their buying pattern (a wholesaler's standing order), not the salesperson's.
    Nor is a deviation the salesperson's customers do not share: each customer buys in a band of sizes of
    its own, so with a few large accounts the leading digits say which customers a salesperson serves.
    The customers are then the units: the number of customers whose invoices mostly carry the
    over-represented digits must be improbable for bands placed by Benford's law (binomial tail times
    the test's number of digits, below ``alpha``).

    Why it matters
    --------------
    Invented amounts, amounts pushed just under a limit and repeated copies do not follow the digit
    law of natural amounts. The test does not prove fraud; it tells the auditor whose invoices, and
    which amounts, to sample first.

    Flagged
    -------
    A salesperson with 1,300 invoices, 21 % of them starting with 4 (Benford: 9.7 %), because orders
    are split to stay just under a 5,000,000,000 approval limit: first-digit excess MAD 0.018 against
    the 0.012 limit, p = 0.001; money at risk = the ~140 surplus invoices at 4 beyond what chance
    allows, times their mean amount.

    Not flagged
    -----------
    A whole ledger priced in thousands of rials (most amounts end in 000): the last-two-digits test is
    read in the ledger's unit, and a deviation most salespeople share is not pinned on one. A salesperson
    whose surplus of invoices starting with 2 is one wholesaler's weekly order of about 20,000,000,000:
    without that customer the digits conform. A salesperson with 60 invoices whose MAD looks poor only
    because 60 amounts are noisy. A key-account salesperson with five customers, one of which buys 95 %
    of the invoices at 10,000,000,000 to 19,000,000,000: the surplus of 1s is that one account's band,
    and the other four do not share it.

    Evidence
    --------
    Per flagged test the full digit table (digits, counts, observed and expected proportions, Z) and
    figures (MAD, excess MAD, p-value, verdict, minimum-sample warning) — rebuild the chart with
    ``test_from_evidence`` and ``reports.benford_chart.benford_figure`` —, the over-represented digits
    with their surplus and value, the amount unit, the tests left out and why, the whole ledger's results.
    """

    code = "STD-01"
    entity_type = "salesperson"
    group_column = "salesperson_id"
