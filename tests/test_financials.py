"""audit.methods.financials: the Polish-file AUCs and calibration, monotonicity, robustness to bad inputs, missing values,
and every flag."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from audit.methods import financials
from audit.methods.financials import (
    FLAG_COLUMNS,
    MODEL_TERMS,
    RATIO_BOUNDS,
    altman_z2,
    financial_ratios,
    statement_distress,
)

from .conftest import SHARED

POLISH = SHARED / "data" / "polish-bankruptcy-5year"
FIT_SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "fit_financial_distress.py"
needs_polish = pytest.mark.skipif(not (POLISH / "customer_financials.csv").exists(),
                                  reason=f"{POLISH} not available")

# A sound trading company: 60 % own capital, current ratio 2.4, EBIT 12 % of assets, customers pay in
# 36.5 days, 45.6 days of stock, fixed assets 40 % of assets, interest 0.5 % of sales.
HEALTHY = {
    "customer_id": "C-OK", "period_end": "2024-12-31",
    "total_assets": 1000.0, "current_assets": 600.0, "current_liabilities": 250.0,
    "total_liabilities": 400.0, "equity": 600.0, "retained_earnings": 300.0, "ebit": 120.0,
    "sales": 2000.0, "interest_expense": 10.0, "receivables": 200.0, "inventory": 250.0,
    "fixed_assets": 400.0,
}


def statement(**changes) -> dict:
    return {**HEALTHY, **changes}


def frame(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame(list(rows))


# ---------------------------------------------------------------- the Polish file

@pytest.fixture(scope="module")
def polish():
    statements = pd.read_csv(POLISH / "customer_financials.csv")
    labels = pd.read_csv(POLISH / "labels.csv")
    failed = labels.loc[labels["pattern"] == "customer_distress", "customer_id"]
    return statements, statements["customer_id"].isin(failed).to_numpy(dtype=int)


@needs_polish
def test_altman_z2_auc_reproduces_the_published_figure(polish):
    statements, failed = polish
    z = altman_z2(statements)
    assert z.isna().sum() == 22  # rows without current assets or liabilities: left at the median Z
    auc = roc_auc_score(failed, -z.fillna(z.median()))
    assert auc == pytest.approx(0.764, abs=0.002)


@needs_polish
def test_statement_distress_beats_altman_by_five_points(polish):
    statements, failed = polish
    result = statement_distress(statements)
    auc = roc_auc_score(failed, result["distress_probability"])
    z = altman_z2(statements)
    altman_auc = roc_auc_score(failed, -z.fillna(z.median()))
    assert auc >= 0.814
    assert auc >= altman_auc + 0.05
    # calibrated on this file: the mean probability is the failure rate (6.9 %)
    assert result["distress_probability"].mean() == pytest.approx(failed.mean(), abs=0.005)


DOCS = Path(__file__).resolve().parent.parent / "docs" / "financial-distress.md"


@needs_polish
@pytest.mark.skipif(not DOCS.exists(), reason="docs/ not beside tests/")
def test_documented_aucs_on_the_polish_file_are_what_the_model_gives(polish):
    """docs/financial-distress.md's table of measured figures: the shipped model's in-sample AUC and
    Altman Z'' on the same file, as the code computes them today (to the third decimal shown)."""
    statements, failed = polish
    table = DOCS.read_text(encoding="utf-8")
    documented = {}
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[2].startswith("**") and cells[2].endswith("**"):
            documented[cells[0]] = float(cells[2].strip("*"))
    auc = roc_auc_score(failed, statement_distress(statements)["distress_probability"])
    z = altman_z2(statements)
    altman_auc = roc_auc_score(failed, -z.fillna(z.median()))
    shipped = next(value for name, value in documented.items() if name.startswith("shipped model"))
    altman = next(value for name, value in documented.items() if name.startswith("Altman"))
    assert auc == pytest.approx(shipped, abs=0.0015)
    assert altman_auc == pytest.approx(altman, abs=0.0015)


@needs_polish
@pytest.mark.skipif(not (FIT_SCRIPT.parent / "distress_polish.py").exists(), reason="benchmarks/ not beside tests/")
def test_benchmark_scores_another_file_of_contract_tables(polish, capsys, tmp_path):
    """``distress_polish.py --other DIR``: the shipped model and Altman Z'' on any file of contract tables
    (here a quarter of the Polish file, which must give the AUCs computed directly)."""
    spec = importlib.util.spec_from_file_location("distress_polish", FIT_SCRIPT.parent / "distress_polish.py")
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    statements, failed = polish
    part = statements.iloc[::4]
    part.to_csv(tmp_path / "customer_financials.csv", index=False)
    labels = pd.read_csv(POLISH / "labels.csv")
    labels[labels["customer_id"].isin(part["customer_id"])].to_csv(tmp_path / "labels.csv", index=False)
    benchmark.other_file(tmp_path)
    printed = capsys.readouterr().out
    auc = roc_auc_score(failed[::4], statement_distress(part)["distress_probability"])
    z = altman_z2(part)
    assert f"{len(part)} statements, {failed[::4].sum()} failed" in printed
    assert f"statement_distress {auc:.4f}, Altman Z'' {roc_auc_score(failed[::4], -z.fillna(z.median())):.4f}" in printed


def fit_script():
    spec = importlib.util.spec_from_file_location("fit_financial_distress", FIT_SCRIPT)
    script = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = script  # its dataclasses look their module up there
    spec.loader.exec_module(script)
    return script


needs_fit_script = pytest.mark.skipif(not FIT_SCRIPT.exists(), reason="benchmarks/ not beside tests/")


@needs_polish
@needs_fit_script
def test_shipped_coefficients_are_what_the_fit_script_derives(polish):
    script = fit_script()
    statements, failed = polish
    model = script.fit(financial_ratios(statements), failed, list(financials.MODEL_RATIOS), financials.L2_PENALTY)
    assert model.names == [term.ratio for term in MODEL_TERMS]
    shipped = [financials.INTERCEPT] + [w for term in MODEL_TERMS for w in financials.SEGMENT_WEIGHTS[term.ratio]]
    np.testing.assert_allclose(model.parameters, shipped + [financials.MISSING_DATA_WEIGHT], atol=2e-3)
    for ratio, values in model.fill.items():
        np.testing.assert_allclose(values, financials.MISSING_SEGMENT_EXPOSURE[ratio], atol=1e-4)


@needs_polish
@needs_fit_script
def test_model_beats_altman_on_every_held_out_fold(polish):
    """The shipped terms and penalty refitted on 4/5 of the file, scored on the other fifth (the full
    nested CV, selection included, is benchmarks/fit_financial_distress.py --nested)."""
    script = fit_script()
    statements, failed = polish
    exposures = script.Exposures(financial_ratios(statements))
    altman = script.altman_risk(statements)
    out_of_fold = np.zeros(len(failed))
    folds = StratifiedKFold(5, shuffle=True, random_state=1).split(statements, failed)
    for train, test in folds:
        model = script.fit_terms(exposures, train, failed, list(financials.MODEL_RATIOS), financials.L2_PENALTY)
        out_of_fold[test] = model.log_odds(exposures, test)
        assert roc_auc_score(failed[test], out_of_fold[test]) > roc_auc_score(failed[test], altman[test])
    assert roc_auc_score(failed, out_of_fold) >= roc_auc_score(failed, altman) + 0.04


@needs_polish
def test_probabilities_are_calibrated_on_the_fitting_file(polish):
    statements, failed = polish
    probability = statement_distress(statements)["distress_probability"].to_numpy()
    order = np.argsort(probability, kind="stable")
    quintiles = np.array_split(order, 5)
    predicted = [probability[q].mean() for q in quintiles]
    observed = [failed[q].mean() for q in quintiles]
    # the riskier the quintile, the more failures, and the predicted rate close to the observed one (the
    # penalty alone would flatten them: 19.7 % predicted vs 23.0 % observed in the riskiest fifth; the
    # calibration step brings it to 22.2 %)
    assert all(later > earlier for earlier, later in zip(observed, observed[1:], strict=False))
    np.testing.assert_allclose(predicted, observed, atol=0.01, rtol=0.2)
    assert observed[-1] > 3 * failed.mean()


# ---------------------------------------------------------------- the model's structure

# Which way each candidate ratio is worse, written down independently of the module: the economic sense.
ECONOMICALLY_WORSE = {
    "ebit_to_assets": "lower_worse", "ebit_to_liabilities": "lower_worse", "ebit_margin": "lower_worse",
    "retained_earnings_to_assets": "lower_worse", "working_capital_to_assets": "lower_worse",
    "equity_to_assets": "lower_worse", "current_liabilities_to_assets": "higher_worse",
    "current_ratio": "lower_worse", "quick_ratio": "lower_worse", "equity_to_fixed_assets": "lower_worse",
    "asset_turnover": "lower_worse", "receivable_days": "higher_worse", "inventory_days": "higher_worse",
}


def test_model_terms_are_few_consistent_and_go_the_economic_way():
    assert 2 <= len(MODEL_TERMS) <= 6
    assert {term.ratio for term in MODEL_TERMS} <= {term.ratio for term in financials.CANDIDATE_TERMS}
    assert [term.ratio for term in MODEL_TERMS] == list(financials.MODEL_RATIOS)
    for term in financials.CANDIDATE_TERMS:
        low, high = RATIO_BOUNDS[term.ratio]
        assert (term.knots[0], term.knots[-1]) == (low, high), term.ratio
        assert list(term.knots) == sorted(set(term.knots)), term.ratio
        assert len(term.knots) - 1 <= 5, term.ratio
        assert term.shape == ECONOMICALLY_WORSE[term.ratio], term.ratio
    for term in MODEL_TERMS:
        weights = financials.SEGMENT_WEIGHTS[term.ratio]
        assert len(weights) == len(term.knots) - 1 == len(financials.MISSING_SEGMENT_EXPOSURE[term.ratio])
        assert min(weights) >= 0 and sum(weights) > 0, term.ratio
    assert financials.MISSING_DATA_WEIGHT >= 0


@pytest.mark.parametrize(("amount", "worse_values"), [
    ("ebit", np.linspace(400, -600, 60)),                                # less profit
    ("retained_earnings", np.linspace(800, -900, 60)),                   # accumulated losses
    ("current_liabilities", np.linspace(0, 1900, 60)),                   # more short-term debt
    ("current_assets", np.linspace(900, 0, 60)),                         # less liquidity
    ("total_liabilities", np.linspace(0, 1900, 60)),                     # more leverage
    ("equity", np.linspace(900, -900, 60)),                              # less own capital
])
def test_each_amount_moves_the_score_the_economic_way_only(amount, worse_values):
    """Sweep one amount of a statement from sound to bad: the score never falls, and it rises overall
    for the amounts the model reads."""
    for base in (HEALTHY, statement(ebit=-50.0, equity=100.0, total_liabilities=900.0)):
        rows = [{**base, amount: value} for value in worse_values]
        probability = statement_distress(frame(*rows))["distress_probability"].to_numpy()
        assert np.all(np.diff(probability) >= -1e-12), (amount, base["customer_id"])
    read = {"ebit": "ebit_to_assets", "retained_earnings": "retained_earnings_to_assets",
            "current_liabilities": "current_liabilities_to_assets", "current_assets": "working_capital_to_assets",
            "equity": "equity_to_assets"}
    if read.get(amount) in financials.MODEL_RATIOS:
        assert probability[-1] > probability[0] + 0.01, amount


def test_raising_any_risk_ratio_never_lowers_the_score():
    """Each term on its own: sweep the ratio across its bounds from healthy to worse (the economic
    direction, written down above independently of the module) with the other ratios held at random
    values, missing ones included; its contribution and the log-odds never fall, and they rise overall."""
    rng = np.random.default_rng(5)
    bases = pd.DataFrame({name: rng.uniform(low, high, 40) for name, (low, high) in RATIO_BOUNDS.items()})
    bases.iloc[::4, 2] = np.nan  # some rows miss another ratio
    for term in MODEL_TERMS:
        low, high = RATIO_BOUNDS[term.ratio]
        sweep = np.linspace(high, low, 201) if ECONOMICALLY_WORSE[term.ratio] == "lower_worse" \
            else np.linspace(low, high, 201)
        for _, base in bases.iterrows():
            ratios = pd.DataFrame([base] * len(sweep)).reset_index(drop=True)
            ratios[term.ratio] = sweep
            contributions = financials.ratio_contributions(ratios)
            log_odds = financials.INTERCEPT + contributions.sum(axis=1).to_numpy()
            own = contributions[f"contrib_{term.ratio}"].to_numpy()
            assert np.all(np.diff(own) >= -1e-12), term.ratio
            assert np.all(np.diff(log_odds) >= -1e-12), term.ratio
            assert own[-1] - own[0] >= 0.3, term.ratio  # every term carries real weight
        # a missing ratio is never read as healthier than the healthiest value of it
        blank = bases.iloc[:1].copy()
        blank[term.ratio] = np.nan
        assert financials.ratio_contributions(blank)[f"contrib_{term.ratio}"].iloc[0] > 0


def test_contributions_add_up_and_drivers_name_the_largest():
    sick = statement(ebit=-150.0, retained_earnings=-200.0, equity=50.0, total_liabilities=950.0,
                     current_liabilities=800.0)
    result = statement_distress(frame(HEALTHY, sick))
    contributions = result.filter(like="contrib_")
    assert list(contributions.columns) == [f"contrib_{t.ratio}" for t in MODEL_TERMS] + ["contrib_missing_data"]
    assert (contributions >= 0).all().all()
    np.testing.assert_allclose(financials.INTERCEPT + contributions.sum(axis=1), result["distress_log_odds"])
    np.testing.assert_allclose(1 / (1 + np.exp(-result["distress_log_odds"])), result["distress_probability"])
    healthy_probability, sick_probability = result["distress_probability"]
    assert healthy_probability < 0.02  # the sample's failure rate is 6.9 %, its safest tenth below 1.7 %
    assert sick_probability > 0.2 and sick_probability > 10 * healthy_probability
    largest = contributions.iloc[1].idxmax().removeprefix("contrib_")
    assert result["drivers"].iloc[1].startswith(financials.RATIO_LABELS[largest])
    assert result["drivers"].iloc[1].count("(+") == 3


def test_worse_profit_never_lowers_the_score():
    rows = [statement(ebit=ebit) for ebit in np.linspace(300, -600, 40)]
    probability = statement_distress(frame(*rows))["distress_probability"].to_numpy()
    assert np.all(np.diff(probability) >= -1e-12)
    assert probability[-1] > probability[0]


def test_score_does_not_depend_on_the_size_or_currency_of_the_company():
    amounts = list(financials.AMOUNT_COLUMNS)
    big = {k: (v * 1e6 if k in amounts else v) for k, v in statement(ebit=-30.0).items()}
    result = statement_distress(frame(statement(ebit=-30.0), big))
    assert result["distress_probability"].iloc[0] == pytest.approx(result["distress_probability"].iloc[1])


# ---------------------------------------------------------------- robustness: zeros, blanks, negatives

def test_zeros_blanks_negatives_and_outliers_do_not_crash_and_stay_in_range():
    rows = [
        {c: 0.0 for c in HEALTHY if c not in ("customer_id", "period_end")},        # all zeros
        {c: np.nan for c in HEALTHY if c not in ("customer_id", "period_end")},     # all blank
        {c: "" for c in HEALTHY if c not in ("customer_id", "period_end")},         # empty strings
        statement(equity="n/a", sales=None, ebit=pd.NA),                            # unparseable
        statement(equity=-400.0, retained_earnings=-900.0, ebit=-300.0),           # negative equity
        statement(total_assets=-1000.0),                                            # impossible negative
        statement(receivables=-5.0, inventory=-1.0, fixed_assets=-3.0),
        statement(sales=0.0),                                                       # no sales
        statement(total_liabilities=0.0, current_liabilities=0.0, equity=1000.0),  # no debt
        statement(total_liabilities=1e15, current_liabilities=1e15, equity=-1e15, ebit=-1e14),  # absurd
        statement(total_assets=np.inf, ebit=-np.inf),
    ]
    result = statement_distress(frame(*rows))
    probability = result["distress_probability"]
    assert probability.notna().all()
    assert ((probability > 0) & (probability < 1)).all()
    assert (result.filter(like="contrib_") >= 0).all().all()
    for column in FLAG_COLUMNS:
        assert result[column].dtype == "boolean"
    ratios = financial_ratios(frame(*rows))
    for name, (low, high) in RATIO_BOUNDS.items():
        known = ratios[name].dropna()
        assert ((known >= low) & (known <= high)).all(), name
    # the absurd statement is clipped, not extrapolated: it scores like a very sick company, no worse
    assert 0.2 < probability.iloc[9] < 0.9
    assert result["flag_thin_capital"].iloc[9]


def test_frame_without_contract_columns_is_scored_as_unknown():
    result = statement_distress(pd.DataFrame({"customer_id": ["A", "B"]}))
    assert (result["n_missing_ratios"] == len(MODEL_TERMS)).all()
    assert result[list(FLAG_COLUMNS)].isna().all().all()
    assert (result["n_flags"] == 0).all()


def test_ratio_rules_for_zero_and_negative_denominators():
    ratios = financial_ratios(frame(
        statement(sales=0.0),                                            # receivables but no sales
        statement(total_liabilities=0.0, current_liabilities=0.0, equity=1000.0),
        statement(total_assets=0.0),
        statement(inventory=-10.0),
        statement(receivables=0.0, sales=0.0),
        statement(equity=-5000.0, total_liabilities=6000.0),
    ))
    assert ratios.loc[0, "receivable_days"] == 365.0                      # clipped "infinite" days
    assert ratios.loc[0, "inventory_days"] == 365.0
    assert ratios.loc[1, "equity_to_liabilities"] == 10.0                 # no debt at all
    assert ratios.loc[1, "current_ratio"] == 10.0
    assert math.isnan(ratios.loc[2, "equity_to_assets"])                  # no assets: meaningless
    assert math.isnan(ratios.loc[3, "inventory_days"])                    # negative stock = data error
    assert math.isnan(ratios.loc[4, "receivable_days"])                   # 0 / 0
    assert ratios.loc[5, "equity_to_assets"] == -1.0                      # -500 % clipped to -100 %
    assert ratios.loc[0, "interest_to_sales"] == 1.0


def test_missing_values_never_make_a_statement_look_healthier():
    complete = statement_distress(frame(HEALTHY))["distress_probability"].iloc[0]
    amounts = list(financials.AMOUNT_COLUMNS)
    blanked = frame(*[statement(**{column: np.nan}) for column in amounts])
    result = statement_distress(blanked)
    assert (result["distress_probability"] >= complete).all()
    incomplete = result["n_missing_ratios"] > 0
    assert (result.loc[incomplete, "contrib_missing_data"] == financials.MISSING_DATA_WEIGHT).all()
    # a wholly blank statement scores above the sound one and says why
    blank = statement_distress(frame({c: np.nan for c in amounts}))
    assert blank["distress_probability"].iloc[0] > 2 * complete
    assert "missing" in blank["drivers"].iloc[0]


def test_missing_input_makes_its_flag_unknown_not_false():
    result = statement_distress(frame(statement(receivables=np.nan, equity=None, interest_expense="")))
    assert result["flag_high_receivables"].isna().iloc[0]
    assert result["flag_thin_capital"].isna().iloc[0]
    assert result["flag_interest_over_5pct_sales"].isna().iloc[0]
    assert result["flag_large_inventory"].tolist() == [False]


# ---------------------------------------------------------------- the source's flags

@pytest.mark.parametrize(("flag", "flagged", "not_flagged"), [
    # own capital 10 % of assets vs 60 %
    ("flag_thin_capital", statement(equity=100.0, total_liabilities=900.0), HEALTHY),
    # negative equity is thin capital too
    ("flag_thin_capital", statement(equity=-50.0, total_liabilities=1050.0), statement(equity=250.0,
                                                                                       total_liabilities=750.0)),
    # 109.5 days of sales owed vs 36.5
    ("flag_high_receivables", statement(receivables=600.0), HEALTHY),
    # fixed assets 70 % of assets vs 40 %
    ("flag_large_fixed_assets", statement(fixed_assets=700.0), HEALTHY),
    # 146 days of stock vs 45.6
    ("flag_large_inventory", statement(inventory=800.0), HEALTHY),
    # interest 7.5 % of sales vs 2.5 %
    ("flag_interest_over_5pct_sales", statement(interest_expense=150.0), statement(interest_expense=50.0)),
    # interest exported as a negative cost is still a cost
    ("flag_interest_over_5pct_sales", statement(interest_expense=-150.0), HEALTHY),
])
def test_each_flag_on_hand_made_statements(flag, flagged, not_flagged):
    result = statement_distress(frame(flagged, not_flagged))
    assert result[flag].tolist() == [True, False]
    others = [c for c in FLAG_COLUMNS if c not in (flag, "flag_young_company")]
    assert not result.loc[1, others].any()


def test_young_company_flag():
    rows = frame(statement(period_end="2024-12-31"), statement(period_end="2024-12-31"),
                 statement(period_end="2024-12-31"), statement(period_end="2024-12-31"))
    founded = pd.Series(["2023-06-30", "2019-01-15", None, "2025-03-01"], index=rows.index)
    result = statement_distress(rows, established_date=founded)
    # 1.5 years: young; 6 years: not; unknown date: unknown; founded after the statement: data error
    assert result["flag_young_company"].tolist() == [True, False, pd.NA, pd.NA]
    assert result["n_flags"].tolist() == [1, 0, 0, 0]

    # a scalar date and an explicit as_of
    assert statement_distress(frame(HEALTHY), established_date="2023-06-30",
                              as_of="2026-01-01")["flag_young_company"].tolist() == [False]
    # an established_date column in the frame is used when no argument is given
    with_column = frame(statement(established_date="2024-01-01"))
    assert statement_distress(with_column)["flag_young_company"].tolist() == [True]
    # no date given at all: unknown
    assert statement_distress(frame(HEALTHY))["flag_young_company"].isna().iloc[0]


def test_flags_do_not_move_the_score_and_thresholds_can_be_overridden():
    young = statement_distress(frame(HEALTHY), established_date="2024-06-01")
    old = statement_distress(frame(HEALTHY), established_date="1990-06-01")
    assert young["distress_probability"].iloc[0] == old["distress_probability"].iloc[0]

    strict = statement_distress(frame(HEALTHY), thresholds={"high_receivable_days": 30.0})
    assert strict["flag_high_receivables"].tolist() == [True]
    with pytest.raises(ValueError, match="unknown flag threshold"):
        statement_distress(frame(HEALTHY), thresholds={"receivable_days": 30.0})
