"""Benford statistics: the published SPY figures, the sample-size-aware verdict, digit extraction, chart."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from audit.methods import benford
from audit.methods.benford import (
    ACCEPTABLE,
    ALL_TESTS,
    CLOSE,
    FIRST_DIGIT,
    FIRST_THREE,
    FIRST_TWO,
    LAST_TWO,
    MARGINAL,
    NONCONFORMITY,
    SECOND_DIGIT,
    benford_by_group,
    benford_test,
    benford_tests,
    conformity_level,
    expected_mad,
    expected_proportions,
    extract_digits,
)

from .conftest import SHARED

SPY_CSV = SHARED / "data" / "benford-spy" / "SPY.csv"
# Published figures are given to 6 decimals; any value that rounds to them is within 5e-7.
PUBLISHED_TOLERANCE = 5e-7

needs_spy = pytest.mark.skipif(not SPY_CSV.exists(), reason=f"{SPY_CSV} not available")


def spy_series(rounding: str = "truncate") -> np.ndarray:
    """The benford_py demo series: |ln(Close_t / Close_t-1)| * 1e8 as an integer, zeros dropped.

    The README says "round"; the published figures come from benford_py, which truncates
    (``(abs(x) * 10**decimals).astype(int)``). Truncation reproduces every figure; rounding gives the
    same first-digit figures but not the others (see test_spy_rounding_does_not_reproduce).
    """
    close = pd.read_csv(SPY_CSV)["Close"].to_numpy(dtype=np.float64)
    scaled = np.abs(np.log(close[1:] / close[:-1])) * 1e8
    integers = (np.trunc(scaled) if rounding == "truncate" else np.round(scaled)).astype(np.int64)
    return integers[integers != 0]


@pytest.fixture(scope="module")
def spy() -> dict[str, benford.BenfordTest]:
    return benford_tests(spy_series(), (FIRST_DIGIT, FIRST_TWO, SECOND_DIGIT, LAST_TWO), bootstrap_draws=0)


# --- the published SPY figures (benford_py demo notebook, /work/shared/data/benford-spy/README.md) ---

@needs_spy
def test_spy_series_has_the_published_size():
    assert spy_series().size == 5968


@needs_spy
def test_spy_first_digit(spy):
    result = spy[FIRST_DIGIT]
    assert result.n == 5968
    assert result.counts.tolist() == [1835, 949, 668, 534, 494, 447, 386, 345, 310]
    assert result.mad == pytest.approx(0.008337, abs=PUBLISHED_TOLERANCE)
    assert result.chi2 == pytest.approx(43.563426, abs=PUBLISHED_TOLERANCE)
    assert result.chi2_dof == 8
    assert stats.chi2.ppf(0.95, result.chi2_dof) == pytest.approx(15.507, abs=5e-4)
    assert result.ks == pytest.approx(0.031075, abs=PUBLISHED_TOLERANCE)
    assert result.ks_critical_95 == pytest.approx(1.36 / math.sqrt(5968))
    assert result.level == ACCEPTABLE


@needs_spy
def test_spy_first_two_digits(spy):
    result = spy[FIRST_TWO]
    assert result.n == 5968
    assert result.mad == pytest.approx(0.001432, abs=PUBLISHED_TOLERANCE)
    assert result.chi2 == pytest.approx(158.705636, abs=PUBLISHED_TOLERANCE)
    assert result.chi2_dof == 89


@needs_spy
def test_spy_second_digit(spy):
    result = spy[SECOND_DIGIT]
    assert result.mad == pytest.approx(0.004151, abs=PUBLISHED_TOLERANCE)
    assert result.chi2 == pytest.approx(13.908828, abs=PUBLISHED_TOLERANCE)
    assert result.chi2_dof == 9


@needs_spy
def test_spy_last_two_digits(spy):
    result = spy[LAST_TWO]
    assert result.n == 5968  # every value is >= 1,000
    assert result.mad == pytest.approx(0.000997, abs=PUBLISHED_TOLERANCE)
    assert result.level is None  # no Nigrini table for this test
    # The published chi-square uses benford_py's expected proportion 1/99 per pair (100 pairs, so the
    # "expected" sums to 100/99). From our counts with that convention we get the published value...
    counts, n = result.counts, result.n
    benford_py_expected_counts = n / 99
    benford_py_chi2 = ((counts - benford_py_expected_counts) ** 2 / benford_py_expected_counts).sum()
    assert benford_py_chi2 == pytest.approx(98.139062, abs=PUBLISHED_TOLERANCE)
    # ...and with the correct uniform 1/100 (what this module reports) the statistic is:
    assert result.chi2 == pytest.approx(98.521448, abs=PUBLISHED_TOLERANCE)
    assert np.abs(counts / n - 1 / 99).mean() == pytest.approx(0.000997, abs=PUBLISHED_TOLERANCE)


@needs_spy
def test_spy_rounding_does_not_reproduce():
    """Why spy_series truncates: rounding changes low-order digits and misses the published figures."""
    rounded = benford_tests(spy_series("round"), (FIRST_DIGIT, SECOND_DIGIT), bootstrap_draws=0)
    assert rounded[FIRST_DIGIT].mad == pytest.approx(0.008337, abs=PUBLISHED_TOLERANCE)
    assert abs(rounded[SECOND_DIGIT].mad - 0.004151) > 1e-5


@needs_spy
def test_spy_is_not_flagged_despite_significant_chi_square(spy):
    # First digit: chi-square 43.6 on 8 dof is far beyond 15.507, yet the excess MAD is small.
    result = spy[FIRST_DIGIT]
    assert result.chi2_p < 1e-5
    assert result.excess_mad < result.materiality_mad
    assert not result.flagged


# --- expected proportions and the expected MAD ---

def test_expected_proportions_sum_to_one_and_match_known_values():
    for test in ALL_TESTS:
        assert expected_proportions(test).sum() == pytest.approx(1.0, abs=1e-12)
    assert expected_proportions(FIRST_DIGIT)[0] == pytest.approx(0.30103, abs=5e-6)
    second = expected_proportions(SECOND_DIGIT)
    assert second[0] == pytest.approx(0.11968, abs=5e-6)  # Nigrini's second-digit table
    assert second[9] == pytest.approx(0.08500, abs=5e-6)
    assert np.all(np.diff(second) < 0)
    assert np.all(expected_proportions(LAST_TWO) == 0.01)


@pytest.mark.parametrize("n", [300, 1000, 5968, 200_000])
def test_expected_mad_first_two_matches_nigrini_approximation(n):
    # Nigrini: E[MAD] ~ 1 / sqrt(158.8 n) for the first two digits (large n).
    assert expected_mad(FIRST_TWO, n) == pytest.approx(1 / math.sqrt(158.8 * n), rel=0.01)


@pytest.mark.parametrize("test, n", [(FIRST_DIGIT, 50), (FIRST_THREE, 300), (LAST_TWO, 2000)])
def test_expected_mad_matches_simulation(test, n):
    rng = np.random.default_rng(7)
    p = expected_proportions(test)
    simulated = np.abs(rng.multinomial(n, p, size=5_000) / n - p).mean(axis=1)
    standard_error = simulated.std() / math.sqrt(simulated.size)
    assert abs(expected_mad(test, n) - simulated.mean()) < 4 * standard_error


def test_minimum_sample_sizes_are_where_noise_reaches_the_materiality_limit():
    for test in ALL_TESTS:
        minimum = benford.MINIMUM_SAMPLE[test]
        materiality = benford.DEFAULT_MATERIALITY_MAD[test]
        assert benford.asymptotic_expected_mad(test, minimum) <= materiality
        assert benford.asymptotic_expected_mad(test, minimum - 1) > materiality
    assert benford.MINIMUM_SAMPLE[FIRST_DIGIT] >= 300
    assert benford.MINIMUM_SAMPLE[FIRST_TWO] >= 1000


def test_conformity_levels_use_nigrini_limits_inclusively():
    assert conformity_level(FIRST_DIGIT, 0.006) == CLOSE
    assert conformity_level(FIRST_DIGIT, 0.0061) == ACCEPTABLE
    assert conformity_level(FIRST_TWO, 0.0022) == MARGINAL
    assert conformity_level(FIRST_THREE, 0.00051) == NONCONFORMITY
    assert conformity_level(SECOND_DIGIT, 0.0095) == ACCEPTABLE
    assert conformity_level(LAST_TWO, 0.5) is None


# --- digit extraction ---

def test_extraction_excludes_and_counts_invalid_and_small_amounts():
    amounts = pd.Series([1234.56, 7.5, 0.0, -3.0, np.nan, None, 55.0, 100.0], dtype="Float64")
    sample = extract_digits(amounts, FIRST_TWO)
    assert sample.digits.tolist() == [12, 55, 10]
    assert (sample.n_missing, sample.n_zero, sample.n_negative, sample.n_below_minimum) == (2, 1, 1, 1)
    assert sample.n_input == 8 and sample.n_invalid == 4


def test_extraction_of_each_test():
    amounts = [98765.43, 1000.0, 4321.0, 12.0, 5.0]
    assert extract_digits(amounts, FIRST_DIGIT).digits.tolist() == [9, 1, 4, 1, 5]
    assert extract_digits(amounts, FIRST_TWO).digits.tolist() == [98, 10, 43, 12]
    assert extract_digits(amounts, FIRST_THREE).digits.tolist() == [987, 100, 432]
    assert extract_digits(amounts, SECOND_DIGIT).digits.tolist() == [8, 0, 3, 2]
    # Last two digits of the integer part, amounts >= 1,000 only.
    assert extract_digits(amounts, LAST_TWO).digits.tolist() == [65, 0, 21]


def test_extraction_is_exact_at_powers_of_ten_and_ignores_float_noise():
    powers = [10.0**k for k in range(0, 16)]
    assert set(extract_digits(powers, FIRST_DIGIT).digits.tolist()) == {1}
    assert set(extract_digits(powers[3:], FIRST_THREE).digits.tolist()) == {100}
    noisy_thousand = sum([0.1] * 10) * 1000  # 999.9999999999999, meant as 1,000
    assert noisy_thousand < 1000
    assert extract_digits([noisy_thousand], FIRST_TWO).digits.tolist() == [10]


def test_unknown_test_and_non_numeric_amounts_raise():
    with pytest.raises(ValueError, match="unknown Benford test"):
        benford_test([1.0, 2.0], "first_four")
    with pytest.raises(ValueError):
        extract_digits(["12", "abc"], FIRST_DIGIT)


# --- Z statistics ---

def test_nigrini_z_with_continuity_correction():
    # 40 ones in 100 amounts: |0.40 - 0.30103| = 0.09897, minus 1/(2*100), over sqrt(p(1-p)/n).
    amounts = [1] * 40 + [2] * 20 + [5] * 40
    result = benford_test(amounts, FIRST_DIGIT, bootstrap_draws=0)
    p = math.log10(2)
    assert result.z[0] == pytest.approx((0.4 - p - 0.005) / math.sqrt(p * (1 - p) / 100))
    # A difference smaller than the correction is not corrected below zero.
    assert np.all(result.z >= 0)


# --- the sample-size-aware verdict ---

@pytest.fixture(scope="module")
def large_benford_sample() -> np.ndarray:
    rng = np.random.default_rng(20240601)
    return 10 ** rng.uniform(0, 7, 200_000)  # log-uniform amounts 1..10,000,000 are exactly Benford


def test_large_benford_sample_is_not_flagged(large_benford_sample):
    results = benford_tests(large_benford_sample)
    for result in results.values():
        assert result.n > 100_000
        assert not result.flagged, result.verdict
        assert result.warning is None
        assert abs(result.excess_mad) < 0.2 * result.materiality_mad


def test_large_nearly_benford_population_is_not_flagged_for_being_large(large_benford_sample):
    # 2 % of amounts moved to 4,900-4,999: chi-square rejects Benford outright at n = 200,000, but the
    # deviation is immaterial, and the verdict says so.
    rng = np.random.default_rng(3)
    amounts = large_benford_sample.copy()
    amounts[: 4000] = rng.uniform(4900, 4999.99, 4000)
    result = benford_test(amounts, FIRST_TWO)
    assert result.chi2_p < 1e-10
    assert not result.flagged
    assert result.verdict.startswith("deviation real but immaterial")


def test_uniform_amounts_are_flagged():
    amounts = np.random.default_rng(11).uniform(100, 10_000, 3000)
    results = benford_tests(amounts)
    assert results[FIRST_DIGIT].flagged and results[FIRST_TWO].flagged
    assert results[FIRST_DIGIT].level == NONCONFORMITY
    # Their last two digits are uniform, as the law expects: not flagged.
    assert not results[LAST_TWO].flagged


def test_amounts_clustered_just_below_5000_are_flagged():
    rng = np.random.default_rng(12)
    clustered = rng.uniform(4800, 4999.99, 600)
    results = benford_tests(clustered, (FIRST_DIGIT, FIRST_TWO))
    assert results[FIRST_DIGIT].flagged and results[FIRST_TWO].flagged
    assert results[FIRST_DIGIT].warning is None  # 600 amounts are enough for the first digit
    # A salesperson with 3,000 genuine invoices plus 20 % split just below the approval limit.
    mixed = np.concatenate([10 ** rng.uniform(2, 5, 2400), rng.uniform(4900, 4999.99, 600)])
    result = benford_test(mixed, FIRST_TWO)
    assert result.flagged
    spike = result.digit_table().set_index("digit").loc[49]
    assert spike["z_significant_95"] and spike["difference"] > 0


def test_tiny_samples_get_the_warning_and_are_not_flagged_for_noise():
    amounts = 10 ** np.random.default_rng(5).uniform(1, 5, 60)
    results = benford_tests(amounts)
    for result in results.values():
        assert result.warning is not None and "only" in result.warning
        assert not result.flagged
    # Pure noise pushes the plain first-two MAD far past Nigrini's nonconformity limit at this n.
    assert results[FIRST_TWO].level == NONCONFORMITY
    assert results[FIRST_TWO].expected_mad > 0.0022


def test_no_usable_amounts_gives_an_empty_result():
    result = benford_test([5.0, 0.0, -10.0, np.nan], FIRST_TWO)
    assert result.n == 0 and not result.flagged
    assert math.isnan(result.mad) and result.level is None
    assert result.counts.sum() == 0 and result.warning.startswith("no usable amounts")


def test_chi_square_verdict_when_bootstrap_is_off():
    amounts = np.random.default_rng(11).uniform(100, 10_000, 3000)
    result = benford_test(amounts, FIRST_DIGIT, bootstrap_draws=0)
    assert result.mad_p_value is None and result.significance_p == result.chi2_p
    assert result.flagged and "chi-square p" in result.verdict


# --- per group ---

def test_benford_by_group_flags_only_the_fabricating_salesperson():
    rng = np.random.default_rng(21)
    honest = pd.DataFrame({"salesperson_id": "S1", "amount": 10 ** rng.uniform(1, 6, 4000)})
    fabricated = pd.DataFrame({"salesperson_id": "S2", "amount": rng.uniform(1000, 9999, 4000)})
    tiny = pd.DataFrame({"salesperson_id": "S3", "amount": 10 ** rng.uniform(1, 6, 40)})
    missing = pd.DataFrame({"salesperson_id": [None], "amount": [123.0]})
    ledger = pd.concat([honest, fabricated, tiny, missing], ignore_index=True)
    ledger.loc[0, "amount"] = -50.0  # a credit: excluded and counted

    table = benford_by_group(ledger, "amount", "salesperson_id")
    assert list(table.columns) == ["salesperson_id", *benford.GROUP_RESULT_COLUMNS]
    assert len(table) == 3 * 4  # three groups x the four default tests
    by_key = table.set_index(["salesperson_id", "test"])
    assert by_key.loc[("S2", FIRST_DIGIT), "flagged"] and by_key.loc[("S2", FIRST_TWO), "flagged"]
    assert not by_key.loc["S1", "flagged"].any()
    assert not by_key.loc["S3", "flagged"].any() and by_key.loc["S3", "warning"].notna().all()
    assert by_key.loc[("S1", FIRST_DIGIT), "n"] == 3999
    assert by_key.loc[("S1", FIRST_DIGIT), "n_excluded"] == 1
    assert table["flagged"].dtype == bool


def test_benford_by_group_stops_bootstrapping_a_test_most_groups_fail():
    # Every shop prices in whole hundreds (last two digits 00): the ledger's trait, not one shop's; one shop
    # also invents its amounts (first digits flat).
    rng = np.random.default_rng(5)
    shops = [pd.DataFrame({"customer_id": f"C{i:02d}", "amount": np.round(10 ** rng.uniform(3, 7, 300), -2)})
             for i in range(12)]
    invented = pd.DataFrame({"customer_id": "C99", "amount": np.round(rng.uniform(1000, 9999, 300), -2)})
    ledger = pd.concat([*shops, invented], ignore_index=True)
    options = dict(tests=(FIRST_DIGIT, LAST_TWO), bootstrap_only_material=True)

    full = benford_by_group(ledger, "amount", "customer_id", **options)
    lazy = benford_by_group(ledger, "amount", "customer_id", **options, stop_above_share=0.5)

    last_two = lazy[lazy["test"] == LAST_TWO]
    assert full.loc[full["test"] == LAST_TWO, "flagged"].all()  # all 13 deviate
    # judged until more than half were flagged, the rest left unjudged: still more than half
    assert last_two["flagged"].sum() == 7 and last_two["flagged"].mean() > 0.5
    assert last_two["verdict"].str.startswith("not judged").sum() == 6
    assert last_two.loc[~last_two["flagged"], "mad_p_value"].isna().all()
    # the other test is judged in full, exactly as without the option
    pd.testing.assert_frame_equal(full[full["test"] == FIRST_DIGIT], lazy[lazy["test"] == FIRST_DIGIT],
                                  check_exact=True)
    assert lazy.set_index(["customer_id", "test"]).loc[("C99", FIRST_DIGIT), "flagged"]


# --- chart ---

def test_benford_figure_has_observed_bars_and_expected_line():
    from reports.benford_chart import benford_figure

    result = benford_test(10 ** np.random.default_rng(1).uniform(0, 5, 2000), FIRST_DIGIT)
    figure = benford_figure(result)
    assert [trace.type for trace in figure.data] == ["bar", "scatter"]
    assert [trace.name for trace in figure.data] == ["observed", "expected"]
    assert list(figure.data[0].x) == [str(d) for d in range(1, 10)]
    assert np.allclose(figure.data[1].y, expected_proportions(FIRST_DIGIT))
    assert f"MAD {result.mad:.6f}" in figure.layout.title.text
    assert result.level in figure.layout.title.text

    last_two = benford_figure(benford_test(np.arange(1000, 3000), LAST_TWO, bootstrap_draws=0))
    assert last_two.data[0].x[0] == "00" and "no Nigrini table" in last_two.layout.title.text
    empty = benford_figure(benford_test([1.0], FIRST_THREE))
    assert len(empty.data) == 2 and "no usable amounts" in empty.layout.title.text


def test_groups_judged_at_once_equal_each_group_judged_alone():
    # benford_by_group works out every group's statistics without the bootstrap in one pass over all groups;
    # each field must be exactly what the one-group arithmetic gives (a group with no usable amounts too).
    rng = np.random.default_rng(8)
    amounts = np.concatenate([10 ** rng.uniform(0, 6, 3000), rng.uniform(1000, 9999, 500), [0.5, np.nan, -2.0]])
    codes = np.concatenate([rng.integers(0, 6, 3000), np.full(500, 6), [7, 7, 7]])
    for test in (FIRST_DIGIT, SECOND_DIGIT, FIRST_TWO, LAST_TWO):
        counts, infos = benford._group_samples(amounts, codes, 8, test)
        at_once = benford._tests_without_bootstrap(test, counts, infos, materiality_mad=0.006, alpha=0.05)
        alone = [benford._test_from_counts(test, c, info, materiality_mad=0.006, alpha=0.05, bootstrap_draws=0,
                                           seed=None) for c, info in zip(counts, infos, strict=True)]
        assert at_once[7].n == 0 and (at_once[6].flagged or test != FIRST_DIGIT)
        for a, b in zip(at_once, alone, strict=True):
            for field in dataclasses.fields(benford.BenfordTest):
                x, y = getattr(a, field.name), getattr(b, field.name)
                if isinstance(x, np.ndarray):
                    assert np.array_equal(x, y, equal_nan=True), (test, field.name)
                else:
                    assert x == y or (x != x and y != y), (test, field.name, x, y)
