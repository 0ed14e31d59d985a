"""Benford's-law digit tests for a vector of amounts: statistics only, no I/O.

Five tests, named by the keys of :data:`TEST_TITLES`:

``first_digit``   first significant digit, 1-9, Benford proportions log10(1 + 1/d).
``first_two``     first two digits, 10-99, log10(1 + 1/d).
``first_three``   first three digits, 100-999, log10(1 + 1/d).
``second_digit``  second digit, 0-9, Benford's second-digit law sum_{d1=1..9} log10(1 + 1/(10*d1 + d2)).
``last_two``      last two digits of the integer part, 00-99, uniform 1/100 (no Benford shape: what they
                  show is rounding and invented numbers).

Which amounts each test uses
----------------------------
Amounts that are missing (NaN, None, pd.NA, +-inf), zero or negative are excluded from every test and
counted (``n_missing``, ``n_zero``, ``n_negative``). Digits are read from the integer part of the amount
(cents are ignored), so a test only uses amounts large enough for its digits to be whole-unit digits:

=================  ==========  ==================================================================
test               minimum     why
=================  ==========  ==================================================================
``first_digit``    >= 1        the first digit of the integer part
``first_two``      >= 10       two integer digits (Nigrini's convention; 1.5 is not "15")
``first_three``    >= 100      three integer digits
``second_digit``   >= 10       the second integer digit
``last_two``       >= 1,000    the two digits are at least the third and fourth digits, where Benford's
                               law is already almost uniform (at 100-999 they would include the
                               strongly non-uniform second digit); same limit as benford_py
=================  ==========  ==================================================================

Positive amounts below a test's minimum are counted in ``n_below_minimum`` for that test.

Statistics per test (:class:`BenfordTest`)
------------------------------------------
MAD (mean absolute deviation of proportions) and Nigrini's conformity level; Pearson chi-square with
k - 1 degrees of freedom and its p-value; the Kolmogorov-Smirnov statistic (largest absolute difference
of the cumulative proportions, digits in natural order) with its 95 % critical value 1.36 / sqrt(n);
Nigrini's per-digit Z statistics with continuity correction; a minimum-sample warning; and a
sample-size-aware verdict (see :func:`expected_mad` and :class:`BenfordTest`).

References: M. J. Nigrini, *Forensic Analytics* (Wiley, 2011) and *Benford's Law* (Wiley, 2012) for the
MAD limits, the Z statistic and the first-two expected MAD 1/sqrt(158.8 n); the SPY figures of the
benford_py project (milcent/benford_py) are reproduced in ``tests/test_benford.py``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

from audit.collector import paused_cycle_collection

FIRST_DIGIT, FIRST_TWO, FIRST_THREE, SECOND_DIGIT, LAST_TWO = (
    "first_digit", "first_two", "first_three", "second_digit", "last_two",
)
TEST_TITLES: dict[str, str] = {
    FIRST_DIGIT: "First digit",
    FIRST_TWO: "First two digits",
    FIRST_THREE: "First three digits",
    SECOND_DIGIT: "Second digit",
    LAST_TWO: "Last two digits",
}
ALL_TESTS: tuple[str, ...] = tuple(TEST_TITLES)

# Smallest amount (currency units) whose integer part carries the digits of each test; see module doc.
MINIMUM_AMOUNT: dict[str, int] = {
    FIRST_DIGIT: 1, FIRST_TWO: 10, FIRST_THREE: 100, SECOND_DIGIT: 10, LAST_TWO: 1000,
}

CLOSE, ACCEPTABLE, MARGINAL, NONCONFORMITY = (
    "close conformity", "acceptable conformity", "marginally acceptable conformity", "nonconformity",
)
# Nigrini's MAD upper limits for close / acceptable / marginally acceptable conformity; above the last
# one the data are nonconforming. The last-two digits test has no such table.
NIGRINI_MAD_LIMITS: dict[str, tuple[float, float, float]] = {
    FIRST_DIGIT: (0.006, 0.012, 0.015),
    FIRST_TWO: (0.0012, 0.0018, 0.0022),
    FIRST_THREE: (0.00036, 0.00044, 0.00050),
    SECOND_DIGIT: (0.008, 0.010, 0.012),
}

# Excess MAD above which a deviation is material (see BenfordTest.flagged): Nigrini's upper limit of
# "acceptable conformity", i.e. after removing the sampling noise the data would be at best marginally
# acceptable. For the last two digits (no Nigrini table) we carry over the first-two limit at equal total
# absolute deviation: 0.0018 * 90 bins = 0.162 spread over 100 bins = 0.00162. About 8 % of amounts
# rounded to whole hundreds (all landing on "00") give that MAD.
DEFAULT_MATERIALITY_MAD: dict[str, float] = {
    **{test: limits[1] for test, limits in NIGRINI_MAD_LIMITS.items()},
    LAST_TWO: 0.0018 * 90 / 100,
}
DEFAULT_ALPHA = 0.01  # significance of the MAD under Benford; strict because groups x tests are many
DEFAULT_BOOTSTRAP_DRAWS = 999
KS_COEFFICIENT_95 = 1.36  # asymptotic Kolmogorov-Smirnov 95 % critical value times sqrt(n)
Z_CRITICAL_95 = 1.96
# Amounts are rounded to this many decimals before their integer part is taken, so that float noise
# from upstream arithmetic (999.9999999999999 meaning 1,000) does not change a digit.
_ROUND_DECIMALS = 6
# Integer parts must fit in int64 exactly; no sales amount comes near.
_MAX_AMOUNT = 1e18


def _check_test(test: str) -> None:
    if test not in TEST_TITLES:
        raise ValueError(f"unknown Benford test {test!r}; expected one of {', '.join(ALL_TESTS)}")


def digit_labels(test: str) -> np.ndarray:
    """The possible digit values of ``test`` in natural order (e.g. 10..99 for ``first_two``)."""
    _check_test(test)
    if test == FIRST_DIGIT:
        return np.arange(1, 10)
    if test == FIRST_TWO:
        return np.arange(10, 100)
    if test == FIRST_THREE:
        return np.arange(100, 1000)
    if test == SECOND_DIGIT:
        return np.arange(0, 10)
    return np.arange(0, 100)


def expected_proportions(test: str) -> np.ndarray:
    """Expected proportion of each digit value of ``test`` (aligned with :func:`digit_labels`).

    First, first-two and first-three digits: Benford, log10(1 + 1/d). Second digit: Benford's
    second-digit law, the first-two proportions summed over the first digit. Last two digits: uniform
    1/100 (benford_py uses 1/99, which does not sum to 1; see ``docs/benford.md``).
    """
    _check_test(test)
    if test == LAST_TWO:
        return np.full(100, 1 / 100)
    if test == SECOND_DIGIT:
        first_two = np.arange(10, 100)
        return np.log10(1 + 1 / first_two).reshape(9, 10).sum(axis=0)
    return np.log10(1 + 1 / digit_labels(test))


@dataclass(frozen=True, eq=False)
class DigitSample:
    """The digits of one test read from a vector of amounts, with what was left out and why."""

    test: str
    # One digit value per used amount (int64), in the input order of those amounts.
    digits: np.ndarray
    n_input: int
    n_missing: int
    n_zero: int
    n_negative: int
    # Positive amounts too small for the test (below MINIMUM_AMOUNT[test]).
    n_below_minimum: int

    @property
    def n(self) -> int:
        return int(self.digits.size)

    @property
    def n_invalid(self) -> int:
        """Amounts excluded from every test: missing, zero or negative."""
        return self.n_missing + self.n_zero + self.n_negative


def extract_digits(amounts: Iterable[float] | pd.Series | np.ndarray, test: str) -> DigitSample:
    """Read the digits of ``test`` from ``amounts`` (currency units; see the module doc for exclusions).

    >>> extract_digits([1234.56, 7.5, 0, -3, float("nan")], "first_two").digits
    array([12])
    """
    _check_test(test)
    values = _as_float_array(amounts)
    missing = ~np.isfinite(values)
    finite = np.where(missing, 1.0, values)  # stand-in value so the comparisons below ignore missing entries
    zero = ~missing & (finite == 0)
    negative = ~missing & (finite < 0)
    positive = values[~missing & (finite > 0)]
    if positive.size and positive.max() >= _MAX_AMOUNT:
        raise ValueError(f"amounts of {_MAX_AMOUNT:.0e} or more cannot be split into exact digits")
    integer_part = np.floor(np.round(positive, _ROUND_DECIMALS)).astype(np.int64)
    used = integer_part >= MINIMUM_AMOUNT[test]
    return DigitSample(
        test=test,
        digits=_digits_of_integers(integer_part[used], test),
        n_input=int(values.size),
        n_missing=int(missing.sum()),
        n_zero=int(zero.sum()),
        n_negative=int(negative.sum()),
        n_below_minimum=int((~used).sum()),
    )


def leading_digits(integers: np.ndarray, n_digits: int) -> np.ndarray:
    """The first ``n_digits`` digits of positive int64 values, each at least 10**(n_digits - 1)."""
    integers = np.asarray(integers, dtype=np.int64)
    if integers.size == 0:
        return integers.copy()
    # log10 can be off by one ulp at exact powers of ten (e.g. 1000 -> 2.9999999999999996); fix the
    # decimal exponent with exact integer comparisons.
    exponent = np.floor(np.log10(integers.astype(np.float64))).astype(np.int64)
    power = 10 ** exponent
    exponent = np.where(integers < power, exponent - 1, exponent)
    exponent = np.where(integers >= 10 * 10 ** exponent, exponent + 1, exponent)
    return integers // 10 ** (exponent - (n_digits - 1))


def _digits_of_integers(integers: np.ndarray, test: str) -> np.ndarray:
    if test == FIRST_DIGIT:
        return leading_digits(integers, 1)
    if test == FIRST_TWO:
        return leading_digits(integers, 2)
    if test == FIRST_THREE:
        return leading_digits(integers, 3)
    if test == SECOND_DIGIT:
        return leading_digits(integers, 2) % 10
    return integers % 100


@functools.lru_cache(maxsize=1 << 16)  # a pure function of (test, n): thousands of groups share their sizes
def expected_mad(test: str, n: int) -> float:
    """Expected MAD of a sample of ``n`` digits drawn from the test's own expected distribution.

    Each digit's count is binomial(n, p), and the mean absolute deviation of a binomial has de Moivre's
    closed form E|X - np| = 2 v C(n, v) p^v (1 - p)^(n - v + 1) with v = floor(np) + 1. So
    E[MAD] = mean over digits of E|X - np| / n, exact for every n (no normal approximation). For large n
    it equals sqrt(2 / (pi n)) * mean(sqrt(p (1 - p))), which for the first two digits is Nigrini's
    1 / sqrt(158.8 n). NaN for n = 0.
    """
    if n <= 0:
        return math.nan
    p = expected_proportions(test)
    v = np.floor(n * p) + 1
    log_mean_abs_dev = (
        np.log(2 * v) + special.gammaln(n + 1) - special.gammaln(v + 1) - special.gammaln(n - v + 1)
        + v * np.log(p) + (n - v + 1) * np.log1p(-p)
    )
    return float(np.exp(log_mean_abs_dev).mean() / n)


def asymptotic_expected_mad(test: str, n: int) -> float:
    """Large-sample E[MAD] = sqrt(2 / (pi n)) * mean(sqrt(p (1 - p))) (normal approximation)."""
    p = expected_proportions(test)
    return float(math.sqrt(2 / (math.pi * n)) * np.sqrt(p * (1 - p)).mean())


def minimum_sample_size(test: str) -> int:
    """Smallest n at which a perfectly conforming sample's expected MAD is within the materiality limit.

    Below it, sampling noise alone pushes the MAD past Nigrini's "acceptable conformity" limit (for the
    last two digits: past DEFAULT_MATERIALITY_MAD), so the plain MAD level says more about n than about
    the data. Derived from the large-sample E[MAD]: n_min = ceil((sqrt(2/pi) mean(sqrt(p(1-p))) / limit)^2).
    Values: first digit 384, first two 1,944, first three 3,293, second digit 571, last two 2,402
    (stricter than the rules of thumb of 300 records for the first digit and 1,000 for the first two
    that circulate without a derivation).
    """
    p = expected_proportions(test)
    noise_scale = math.sqrt(2 / math.pi) * float(np.sqrt(p * (1 - p)).mean())
    return math.ceil((noise_scale / DEFAULT_MATERIALITY_MAD[test]) ** 2 - 1e-9)


MINIMUM_SAMPLE: dict[str, int] = {test: minimum_sample_size(test) for test in ALL_TESTS}


def conformity_level(test: str, mad: float) -> str | None:
    """Nigrini's conformity level for a MAD (limits inclusive), or None for ``last_two`` or a NaN MAD."""
    limits = NIGRINI_MAD_LIMITS.get(test)
    if limits is None or math.isnan(mad):
        return None
    close, acceptable, marginal = limits
    if mad <= close:
        return CLOSE
    if mad <= acceptable:
        return ACCEPTABLE
    if mad <= marginal:
        return MARGINAL
    return NONCONFORMITY


def nigrini_z(observed: np.ndarray, expected: np.ndarray, n: int) -> np.ndarray:
    """Nigrini's Z per digit: (|po - pe| - 1/(2n)) / sqrt(pe (1 - pe) / n).

    The continuity correction 1/(2n) is only subtracted when it is smaller than |po - pe| (Nigrini), so
    Z is never negative; compare with 1.96 (5 %). The sign of the deviation is observed - expected.
    """
    abs_diff = np.abs(observed - expected)
    correction = 1 / (2 * n)
    corrected = np.where(abs_diff > correction, abs_diff - correction, abs_diff)
    return corrected / np.sqrt(expected * (1 - expected) / n)


def bootstrap_mad_p_value(test: str, n: int, mad: float, draws: int, seed: int | None) -> float:
    """Parametric bootstrap p-value of a MAD: share of ``draws`` Benford samples of size n with MAD >= it.

    Samples are multinomial(n, expected proportions); p = (1 + #{MAD* >= MAD}) / (draws + 1), so it is
    never 0. Exact in small samples, where the chi-square approximation fails (expected counts < 5).
    """
    simulated_mad = _simulated_mads(test, n, draws, seed) if seed is not None else \
        np.sort(_draw_mads(test, n, draws, seed))
    # Tolerance so a simulated sample identical to the observed one counts as "at least as extreme".
    at_least = draws - int(np.searchsorted(simulated_mad, mad - 1e-15, side="left"))
    return float((1 + at_least) / (draws + 1))


def _draw_mads(test: str, n: int, draws: int, seed: int | None) -> np.ndarray:
    p = expected_proportions(test)
    rng = np.random.default_rng(seed)
    simulated_counts = rng.multinomial(n, p, size=draws)
    return np.abs(simulated_counts / n - p).mean(axis=1)


@functools.lru_cache(maxsize=4096)
def _simulated_mads(test: str, n: int, draws: int, seed: int) -> np.ndarray:
    # Groups of equal size draw the same samples under one seed: per customer, sizes repeat a lot.
    mads = np.sort(_draw_mads(test, n, draws, seed))
    mads.flags.writeable = False
    return mads


@dataclass(frozen=True, eq=False)
class BenfordTest:
    """The result of one digit test on one set of amounts.

    Proportions are shares of ``n`` (the amounts the test used). The sample-size-aware verdict:
    ``expected_mad`` is the MAD a perfectly conforming sample of this n shows on average (pure sampling
    noise, large for small n, ~0 for large n), ``excess_mad = mad - expected_mad`` estimates the
    deviation of the population itself. ``flagged`` is True when the deviation is both material
    (``excess_mad > materiality_mad``) and not explainable by chance (``significance_p < alpha``, the
    bootstrap p-value of the MAD, or the chi-square p-value when no bootstrap was run). A large
    conforming population has excess MAD ~0 and is not flagged, however significant its chi-square; a
    small one is not flagged for noise its size makes inevitable.
    """

    test: str
    n: int
    digits: np.ndarray
    counts: np.ndarray
    observed: np.ndarray
    expected: np.ndarray
    mad: float
    # Nigrini level; None for last_two (no table) and for n = 0.
    level: str | None
    chi2: float
    chi2_dof: int
    chi2_p: float
    ks: float
    ks_critical_95: float
    # Nigrini's Z per digit, aligned with ``digits``.
    z: np.ndarray
    expected_mad: float
    excess_mad: float
    # Parametric bootstrap p-value of the MAD; None when no bootstrap draws were asked for.
    mad_p_value: float | None
    materiality_mad: float
    alpha: float
    flagged: bool
    verdict: str
    minimum_sample: int
    warning: str | None
    n_input: int = 0
    n_missing: int = 0
    n_zero: int = 0
    n_negative: int = 0
    n_below_minimum: int = 0

    @property
    def title(self) -> str:
        return TEST_TITLES[self.test]

    @property
    def significance_p(self) -> float:
        """The p-value the verdict uses: bootstrap p of the MAD if run, else chi-square p."""
        return self.chi2_p if self.mad_p_value is None else self.mad_p_value

    @property
    def ks_exceeds_critical(self) -> bool:
        return bool(self.n > 0 and self.ks > self.ks_critical_95)

    def digit_table(self) -> pd.DataFrame:
        """One row per digit value: count, observed and expected proportion, difference, Z."""
        return pd.DataFrame({
            "digit": self.digits,
            "count": self.counts,
            "observed": self.observed,
            "expected": self.expected,
            "difference": self.observed - self.expected,
            "z": self.z,
            "z_significant_95": self.z > Z_CRITICAL_95,
        })


def benford_test(
    amounts: Iterable[float] | pd.Series | np.ndarray,
    test: str,
    *,
    materiality_mad: float | None = None,
    alpha: float = DEFAULT_ALPHA,
    bootstrap_draws: int = DEFAULT_BOOTSTRAP_DRAWS,
    seed: int | None = 0,
    bootstrap_only_material: bool = False,
) -> BenfordTest:
    """Run one digit test on ``amounts`` (currency units).

    ``materiality_mad`` defaults to :data:`DEFAULT_MATERIALITY_MAD` for the test; ``bootstrap_draws=0``
    skips the bootstrap (the verdict then uses the chi-square p-value); ``seed`` makes the bootstrap
    reproducible. ``bootstrap_only_material=True`` runs it only when the excess MAD is material, the one
    case where its p-value can decide the flag (many groups: most conform, and their bootstrap is the cost).
    """
    _check_test(test)
    sample = extract_digits(amounts, test)
    return _test_from_sample(
        sample,
        materiality_mad=DEFAULT_MATERIALITY_MAD[test] if materiality_mad is None else materiality_mad,
        alpha=alpha, bootstrap_draws=bootstrap_draws, seed=seed,
        bootstrap_only_material=bootstrap_only_material,
    )


def benford_tests(
    amounts: Iterable[float] | pd.Series | np.ndarray,
    tests: Sequence[str] = ALL_TESTS,
    *,
    materiality_mad: Mapping[str, float] | None = None,
    alpha: float = DEFAULT_ALPHA,
    bootstrap_draws: int = DEFAULT_BOOTSTRAP_DRAWS,
    seed: int | None = 0,
    bootstrap_only_material: bool = False,
) -> dict[str, BenfordTest]:
    """Run several digit tests on the same amounts; keys are the test names, in the order given.

    ``materiality_mad`` overrides :data:`DEFAULT_MATERIALITY_MAD` per test (missing tests keep the
    default). See :func:`benford_test` for the other arguments.
    """
    values = _as_float_array(amounts)  # convert once, not once per test
    overrides = dict(materiality_mad or {})
    results = {}
    for test in tests:
        results[test] = benford_test(
            values, test, materiality_mad=overrides.get(test), alpha=alpha, bootstrap_draws=bootstrap_draws,
            seed=seed, bootstrap_only_material=bootstrap_only_material,
        )
    return results


GROUP_RESULT_COLUMNS: tuple[str, ...] = (
    "test", "n", "mad", "level", "chi2", "chi2_dof", "chi2_p", "ks", "ks_critical_95", "expected_mad",
    "excess_mad", "mad_p_value", "flagged", "verdict", "warning", "n_excluded",
)


def benford_by_group(
    frame: pd.DataFrame,
    value_col: str,
    group_col: str,
    tests: Sequence[str] = (FIRST_DIGIT, FIRST_TWO, SECOND_DIGIT, LAST_TWO),
    *,
    materiality_mad: Mapping[str, float] | None = None,
    alpha: float = DEFAULT_ALPHA,
    bootstrap_draws: int = DEFAULT_BOOTSTRAP_DRAWS,
    seed: int | None = 0,
    bootstrap_only_material: bool = False,
    stop_above_share: float | None = None,
) -> pd.DataFrame:
    """Digit tests per group (e.g. per salesperson or customer): one row per group and test.

    Columns: ``group_col``, then :data:`GROUP_RESULT_COLUMNS` (``n_excluded`` = missing, zero,
    negative and below-minimum amounts of that group for that test). Rows whose group is missing are
    left out. Every group gets the same bootstrap seed, so a group's result does not depend on the
    other groups. The default tests leave out ``first_three``, which needs ~11,000 amounts per group.

    ``stop_above_share``: for a caller that holds against nobody a deviation more than this share of
    the groups show (the ledger's own trait). Once more than that share is flagged on a test, the
    bootstrap of that test's remaining material groups is not run (the costly part): their rows are not
    flagged, have no ``mad_p_value`` and say so in ``verdict``. The test is then known to be the
    ledger's, and whether one more group deviates on it would change nothing. Groups are judged from
    the largest excess MAD down, so the share is passed early.
    """
    # Every group's digits are read and counted at once (one pass over the column per test); each group's
    # statistics are then the same arithmetic as benford_test's on that group alone.
    codes, groups = pd.factorize(frame[group_col], sort=True)
    grouped = codes >= 0  # rows without a group are left out (as groupby's dropna does)
    values = _as_float_array(frame[value_col][grouped])
    codes = codes[grouped]
    n_input = np.bincount(codes, minlength=len(groups))
    overrides = dict(materiality_mad or {})
    with paused_cycle_collection():  # thousands of small results, no cycles: see audit.collector
        results = _group_results(values, codes, len(groups), tests, overrides, alpha=alpha,
                                 bootstrap_draws=bootstrap_draws, seed=seed,
                                 bootstrap_only_material=bootstrap_only_material, stop_above_share=stop_above_share)
    rows = []
    for index, group in enumerate(groups):
        if not n_input[index]:
            continue
        for test in tests:
            result = results[test][index]
            rows.append({
                group_col: group,
                "test": result.test, "n": result.n, "mad": result.mad, "level": result.level,
                "chi2": result.chi2, "chi2_dof": result.chi2_dof, "chi2_p": result.chi2_p,
                "ks": result.ks, "ks_critical_95": result.ks_critical_95,
                "expected_mad": result.expected_mad, "excess_mad": result.excess_mad,
                "mad_p_value": result.mad_p_value, "flagged": result.flagged,
                "verdict": result.verdict, "warning": result.warning,
                "n_excluded": result.n_input - result.n,
            })
    columns = [group_col, *GROUP_RESULT_COLUMNS]
    table = pd.DataFrame(rows, columns=columns)
    return table.astype({"n": "int64", "chi2_dof": "int64", "flagged": "bool", "n_excluded": "int64"})


def _group_results(values: np.ndarray, codes: np.ndarray, n_groups: int, tests: Sequence[str], overrides: dict,
                   *, alpha: float, bootstrap_draws: int, seed: int | None, bootstrap_only_material: bool,
                   stop_above_share: float | None) -> dict[str, list[BenfordTest]]:
    """Each test's result for every group (see :func:`benford_by_group`)."""
    results: dict[str, list[BenfordTest]] = {}
    for test in tests:
        _check_test(test)
        samples = _group_samples(values, codes, n_groups, test)
        materiality = overrides.get(test)
        materiality = DEFAULT_MATERIALITY_MAD[test] if materiality is None else materiality
        if bootstrap_draws > 0 and not bootstrap_only_material:  # every group is bootstrapped
            results[test] = [_test_from_counts(test, counts, info, materiality_mad=materiality, alpha=alpha,
                                               bootstrap_draws=bootstrap_draws, seed=seed)
                             for counts, info in zip(*samples, strict=True)]
            continue
        # Without the bootstrap first (its p-value decides only material deviations), then the material
        # groups with it (largest excess first, until more than the share is flagged, when one is given).
        found = _tests_without_bootstrap(test, *samples, materiality_mad=materiality, alpha=alpha)
        material = [i for i, r in enumerate(found) if r.n and r.excess_mad > materiality]
        if bootstrap_draws <= 0:
            results[test] = found
            continue
        if stop_above_share is None:
            for i in material:
                found[i] = _test_from_counts(test, samples[0][i], samples[1][i], materiality_mad=materiality,
                                             alpha=alpha, bootstrap_draws=bootstrap_draws, seed=seed,
                                             bootstrap_only_material=True)
            results[test] = found
            continue
        material.sort(key=lambda i: (-found[i].excess_mad, i))
        flagged = 0
        for i in material:
            if flagged > stop_above_share * len(found):
                found[i] = dataclasses.replace(
                    found[i], mad_p_value=None, flagged=False,
                    verdict=f"not judged: more than {stop_above_share:.0%} of the groups deviate on this test")
                continue
            found[i] = _test_from_counts(test, samples[0][i], samples[1][i], materiality_mad=materiality,
                                         alpha=alpha, bootstrap_draws=bootstrap_draws, seed=seed,
                                         bootstrap_only_material=True)
            flagged += found[i].flagged
        results[test] = found
    return results


def _group_samples(values: np.ndarray, codes: np.ndarray, n_groups: int, test: str) -> tuple[np.ndarray, list]:
    """Per group (``codes``: the group of each value, -1 for none): the digit counts of ``test`` (one row
    per group) and what :func:`extract_digits` would count as left out of that group's values."""
    labels = digit_labels(test)
    grouped = codes >= 0
    values, codes = values[grouped], codes[grouped]
    missing = ~np.isfinite(values)
    finite = np.where(missing, 1.0, values)
    zero = ~missing & (finite == 0)
    negative = ~missing & (finite < 0)
    positive = ~missing & (finite > 0)
    if positive.any() and values[positive].max() >= _MAX_AMOUNT:
        raise ValueError(f"amounts of {_MAX_AMOUNT:.0e} or more cannot be split into exact digits")
    integer_part = np.floor(np.round(values[positive], _ROUND_DECIMALS)).astype(np.int64)
    used = integer_part >= MINIMUM_AMOUNT[test]
    positive_codes = codes[positive]
    digits = _digits_of_integers(integer_part[used], test)
    counts = np.bincount(positive_codes[used] * labels.size + (digits - labels[0]),
                         minlength=n_groups * labels.size).reshape(n_groups, labels.size).astype(np.int64)

    def per_group(mask, on=codes):
        return np.bincount(on[mask], minlength=n_groups)

    info = [dict(n_input=int(a), n_missing=int(b), n_zero=int(c), n_negative=int(d), n_below_minimum=int(e))
            for a, b, c, d, e in zip(np.bincount(codes, minlength=n_groups), per_group(missing), per_group(zero),
                                     per_group(negative), per_group(~used, positive_codes), strict=True)]
    return counts, info


def _test_from_sample(
    sample: DigitSample, *, materiality_mad: float, alpha: float, bootstrap_draws: int,
    seed: int | None, bootstrap_only_material: bool = False,
) -> BenfordTest:
    labels = digit_labels(sample.test)
    counts = np.bincount(sample.digits - labels[0], minlength=labels.size).astype(np.int64)
    counts_info = dict(
        n_input=sample.n_input, n_missing=sample.n_missing, n_zero=sample.n_zero,
        n_negative=sample.n_negative, n_below_minimum=sample.n_below_minimum,
    )
    return _test_from_counts(sample.test, counts, counts_info, materiality_mad=materiality_mad, alpha=alpha,
                             bootstrap_draws=bootstrap_draws, seed=seed,
                             bootstrap_only_material=bootstrap_only_material)


def _test_from_counts(
    test: str, counts: np.ndarray, counts_info: dict, *, materiality_mad: float, alpha: float,
    bootstrap_draws: int, seed: int | None, bootstrap_only_material: bool = False,
) -> BenfordTest:
    n = int(counts.sum())
    if n == 0:
        return _empty_result(test, counts, counts_info, materiality_mad, alpha)
    expected = expected_proportions(test)
    observed = counts / n
    mad = float(np.abs(observed - expected).mean())
    expected_counts = n * expected
    chi2 = float(((counts - expected_counts) ** 2 / expected_counts).sum())
    ks = float(np.abs(np.cumsum(observed) - np.cumsum(expected)).max())
    return _judged(test, counts, counts_info, n, observed, expected, mad, chi2, ks, nigrini_z(observed, expected, n),
                   materiality_mad=materiality_mad, alpha=alpha, bootstrap_draws=bootstrap_draws, seed=seed,
                   bootstrap_only_material=bootstrap_only_material)


def _tests_without_bootstrap(test: str, counts: np.ndarray, infos: list[dict], *, materiality_mad: float,
                             alpha: float) -> list[BenfordTest]:
    """``_test_from_counts(..., bootstrap_draws=0)`` of every row of ``counts`` (one group each), the
    arithmetic done for all rows at once: the same operations element by element, so the same numbers
    (thousands of customers made one small numpy call per statistic and group)."""
    expected = expected_proportions(test)
    sizes = counts.sum(axis=1)
    filled = sizes > 0
    n_rows = np.where(filled, sizes, 1)[:, None]  # empty groups are answered apart
    observed = counts / n_rows
    mads = np.abs(observed - expected).mean(axis=1)
    expected_counts = n_rows * expected
    chi2s = ((counts - expected_counts) ** 2 / expected_counts).sum(axis=1)
    kss = np.abs(np.cumsum(observed, axis=1) - np.cumsum(expected)).max(axis=1)
    zs = nigrini_z(observed, expected, n_rows)
    chi2_ps = special.chdtrc(expected.size - 1, chi2s)  # what stats.chi2.sf computes, without its checks
    results = []
    for row, info in enumerate(infos):
        if not filled[row]:
            results.append(_empty_result(test, counts[row], info, materiality_mad, alpha))
            continue
        results.append(_judged(test, counts[row], info, int(sizes[row]), observed[row], expected, float(mads[row]),
                               float(chi2s[row]), float(kss[row]), zs[row], materiality_mad=materiality_mad,
                               alpha=alpha, bootstrap_draws=0, seed=None, chi2_p=float(chi2_ps[row])))
    return results


def _empty_result(test: str, counts: np.ndarray, counts_info: dict, materiality_mad: float,
                  alpha: float) -> BenfordTest:
    digits = digit_labels(test)
    nan_per_digit = np.full(digits.size, np.nan)
    return BenfordTest(
        test=test, n=0, digits=digits, counts=counts, observed=nan_per_digit, expected=expected_proportions(test),
        mad=math.nan, level=None, chi2=math.nan, chi2_dof=digits.size - 1, chi2_p=math.nan, ks=math.nan,
        ks_critical_95=math.nan, z=nan_per_digit.copy(), expected_mad=math.nan, excess_mad=math.nan,
        mad_p_value=None, materiality_mad=materiality_mad, alpha=alpha, flagged=False,
        verdict="no amounts large enough for this test", minimum_sample=MINIMUM_SAMPLE[test],
        warning=f"no usable amounts (the test needs amounts >= {MINIMUM_AMOUNT[test]:,})",
        **counts_info,
    )


def _judged(test: str, counts: np.ndarray, counts_info: dict, n: int, observed: np.ndarray, expected: np.ndarray,
            mad: float, chi2: float, ks: float, z: np.ndarray, *, materiality_mad: float, alpha: float,
            bootstrap_draws: int, seed: int | None, bootstrap_only_material: bool = False,
            chi2_p: float | None = None) -> BenfordTest:
    """The result of a test on ``n > 0`` digits from its statistics: the p-values and the verdict."""
    digits = digit_labels(test)
    minimum = MINIMUM_SAMPLE[test]
    dof = digits.size - 1
    if chi2_p is None:
        chi2_p = float(special.chdtrc(dof, chi2))
    mad_noise = expected_mad(test, n)
    excess = mad - mad_noise
    material = excess > materiality_mad
    # Without a material deviation there is no flag whatever the p-value: the bootstrap may be skipped.
    bootstrap = bootstrap_draws > 0 and (material or not bootstrap_only_material)
    mad_p = bootstrap_mad_p_value(test, n, mad, bootstrap_draws, seed) if bootstrap else None
    significance_p = chi2_p if mad_p is None else mad_p
    significant = significance_p < alpha
    flagged = bool(material and significant)
    p_name = "chi-square p" if mad_p is None else "MAD bootstrap p"
    comparison = (
        f"excess MAD {excess:.6f} {'>' if material else '<='} materiality {materiality_mad:.6f}, "
        f"{p_name} {significance_p:.4f} {'<' if significant else '>='} {alpha:g}"
    )
    law = "uniform last two digits" if test == LAST_TWO else "Benford"
    if flagged:
        verdict = f"deviates from {law}: {comparison}"
    elif significant:
        verdict = f"deviation real but immaterial for this n: {comparison}"
    elif material:
        verdict = f"deviation within sampling noise for this n: {comparison}"
    else:
        verdict = f"consistent with {law} for this n: {comparison}"
    warning = None
    if n < minimum:
        warning = (
            f"only {n:,} amounts (< {minimum:,}): sampling noise alone gives an expected MAD of "
            f"{mad_noise:.6f}, so the plain MAD level is unreliable; rely on the excess MAD verdict"
        )
    return BenfordTest(
        test=test, n=n, digits=digits, counts=counts, observed=observed, expected=expected, mad=mad,
        level=conformity_level(test, mad), chi2=chi2, chi2_dof=dof, chi2_p=chi2_p, ks=ks,
        ks_critical_95=KS_COEFFICIENT_95 / math.sqrt(n), z=z,
        expected_mad=mad_noise, excess_mad=excess, mad_p_value=mad_p, materiality_mad=materiality_mad,
        alpha=alpha, flagged=flagged, verdict=verdict, minimum_sample=minimum, warning=warning,
        **counts_info,
    )


def _as_float_array(amounts: Iterable[float] | pd.Series | np.ndarray) -> np.ndarray:
    """Amounts as a float64 array; None and pd.NA become NaN. Non-numeric values raise."""
    if isinstance(amounts, np.ndarray) and amounts.dtype.kind in "fiu":
        return amounts.astype(np.float64, copy=False).ravel()
    series = amounts if isinstance(amounts, pd.Series) else pd.Series(list(amounts), dtype="object")
    if series.dtype == object:
        series = pd.to_numeric(series, errors="raise")
    return series.to_numpy(dtype=np.float64, na_value=np.nan)

