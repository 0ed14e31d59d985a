"""The customer distress score on financial statements alone: the Polish bankruptcy file.

Data: the UCI "Polish companies bankruptcy" 5th-year file as contract tables
(``shared/data/polish-bankruptcy-5year``: customers.csv, customer_financials.csv, labels.csv; 5,910
companies, 410 bankrupt within a year). It has no ledger at all (no invoices, salespeople...), so
``audit run`` refuses it; this script loads it through the same loader and checks, then

1. runs the DST-01 path (``analyses.distress.history.distress_history``, what the detector scores)
   on the loaded tables, and the pure function ``analyses.distress.scoring.statement_only_scores``,
   and checks they agree;
2. reports the ROC AUC of the distress score, of ``audit.methods.financials.statement_distress`` alone and of
   Altman's Z'' (lower = worse; uncomputable rows at the median);
3. the calibration of the shipped model on this file (predicted vs observed failure rate by decile);
4. with ``--cv``, the nested cross-validation of ``benchmarks/fit_financial_distress.py`` (penalty, fit
   and calibration chosen inside each training fold; 3 x stratified 5-fold) of the shipped procedure and,
   on the same folds, of the previous one that also selected its terms inside each fold: pooled and
   per-fold out-of-fold AUC against Altman Z'' on the same folds, the detector's combination of the
   held-out log-odds, and the held-out calibration by decile. The shipped coefficients were fitted on
   this very file, so the in-sample figure flatters;
5. with ``--splits``, split tests: each procedure trained on one part of the companies and measured on
   the rest (random halves, the held-out half also resampled to 2 % and 15 % failures; shifts: thirds
   of size and of asset turnover, halves of the fixed-asset share), against Altman Z'' and the 12-term
   design shipped two versions ago, with mean predicted vs observed failure rate;
6. with ``--other DIR ...``, the shipped model on other files of contract tables (another year of the
   Polish data, other failure data): nothing of them was seen by the fit.

Usage (from the repository root)::

    python benchmarks/distress_polish.py [--data DIR] [--cv] [--repeats 3] [--splits] [--seeds 0 1 2 3 4]
        [--other DIR ...]

(``--cv --splits`` about 15 minutes on one core.)
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from analyses.distress.scoring import STATEMENT_FLAG_WEIGHTS, ScoreSettings, statement_only_scores
from audit.data import AuditData
from audit.engine import Engine
from audit.loading import load
from audit.methods import financials
from audit.policy import Policy
from audit.validation import validate
from detectors.distress.dst_01_customer_distress import CustomerDistress

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = Path(os.environ.get("SALES_AUDIT_SHARED", REPO.parent / "shared")) / "data" / "polish-bankruptcy-5year"
ALTMAN_PUBLISHED = 0.764   # the data's README


def detector_scores(data_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The detector's monthly history (one month here) and its findings, on the loaded contract tables."""
    tables = validate(load(data_dir), Policy())
    present = sorted(tables.frames)
    data = AuditData(tables, Policy(), Engine("duckdb"))
    try:
        detector = CustomerDistress.from_policy(Policy())
        history = detector.history(data)
        findings = detector.find(data)
    finally:
        data.engine.close()
    print(f"tables present: {', '.join(present)}; detector scored {history['customer_id'].nunique()} customers, "
          f"{len(findings)} findings (score >= {detector.watch_level})")
    return history, findings


def combined_from_log_odds(log_odds: np.ndarray, interest_flag: np.ndarray, settings: ScoreSettings) -> np.ndarray:
    """The detector's combination applied to statement log-odds (for refitted fold models)."""
    reference = np.log(settings.statement_reference / (1.0 - settings.statement_reference))
    excess = log_odds - reference
    points = settings.statement_weight * np.where(excess > 0, excess, settings.statement_credit * excess)
    points = points + interest_flag * STATEMENT_FLAG_WEIGHTS["flag_interest_over_5pct_sales"]
    return settings.base_log_odds + points


def fitting_module():
    sys.path.insert(0, str(REPO / "benchmarks"))
    import fit_financial_distress

    return fit_financial_distress


# The 12-term design shipped before (hand-set knots, every term kept, penalty 1e-3), refitted on the same
# training halves for comparison: "before" in the split tables.
PREVIOUS_TERMS: tuple[financials.Term, ...] = (
    financials.Term("working_capital_to_assets", "lower_worse", (-1.0, -0.5, -0.2, 0.0, 0.2, 0.5, 1.0)),
    financials.Term("retained_earnings_to_assets", "lower_worse", (-1.0, -0.3, -0.1, 0.0, 0.1, 0.3, 1.0)),
    financials.Term("ebit_to_assets", "lower_worse", (-0.5, -0.2, -0.05, 0.0, 0.05, 0.15, 0.5)),
    financials.Term("ebit_to_liabilities", "lower_worse", (-1.0, -0.2, 0.0, 0.1, 0.3, 1.0, 3.0)),
    financials.Term("ebit_margin", "lower_worse", (-1.0, -0.2, -0.05, 0.0, 0.03, 0.1, 0.5)),
    financials.Term("equity_to_assets", "lower_worse", (-1.0, -0.2, 0.0, 0.1, 0.2, 0.4, 0.6, 1.0)),
    financials.Term("current_liabilities_to_assets", "higher_worse", (0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.5, 2.0)),
    financials.Term("current_ratio", "lower_worse", (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)),
    financials.Term("receivable_days", "higher_worse", (0.0, 30.0, 60.0, 90.0, 120.0, 180.0, 365.0)),
    financials.Term("inventory_days", "band", (0.0, 15.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 365.0),
                    healthy=45.0),
    financials.Term("equity_to_fixed_assets", "lower_worse", (-5.0, 0.0, 0.5, 1.0, 2.0, 5.0, 20.0)),
    financials.Term("asset_turnover", "lower_worse", (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0)),
)
SPLIT_FAILURE_RATES = (0.02, 0.15)   # the held-out half resampled to these failure rates


def calibration_table(probability: np.ndarray, failed: np.ndarray, groups: int = 10) -> pd.DataFrame:
    """Per decile of predicted probability (safest first): rows, mean predicted and observed failure rate."""
    order = np.argsort(probability, kind="stable")
    decile = np.empty(len(order), dtype=int)
    decile[order] = np.arange(len(order)) * groups // len(order)
    frame = pd.DataFrame({"decile": decile + 1, "predicted": probability, "observed": failed})
    return frame.groupby("decile").agg(rows=("observed", "size"), predicted=("predicted", "mean"),
                                       observed=("observed", "mean"))


def print_calibration(title: str, table: pd.DataFrame) -> None:
    print(title)
    print("  decile  " + " ".join(f"{d:>6d}" for d in table.index))
    print("  predicted " + " ".join(f"{v:6.1%}" for v in table["predicted"]))
    print("  observed  " + " ".join(f"{v:6.1%}" for v in table["observed"]))


def resample_to_rate(rows: np.ndarray, failed: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    """A subset of ``rows`` (without replacement) whose failure rate is ``rate``: failures or survivors
    are dropped at random, whichever is in excess."""
    bad, good = rows[failed[rows] == 1], rows[failed[rows] == 0]
    if len(bad) / len(rows) > rate:
        bad = rng.choice(bad, size=int(round(rate * len(good) / (1.0 - rate))), replace=False)
    else:
        good = rng.choice(good, size=int(round(len(bad) * (1.0 - rate) / rate)), replace=False)
    return np.sort(np.concatenate([bad, good]))


def shift_splits(statements: pd.DataFrame, ratios: pd.DataFrame) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Train on one kind of company, test on another: thirds of total assets (size) and of sales / assets
    (asset turnover, a proxy for the line of business that needs no sector code), and halves of the
    fixed-asset share. No split of one file reproduces a shift between years, but a model that holds up
    across these is less tied to the sample it was fitted on."""
    rows = np.arange(len(statements))
    size = np.log10(pd.to_numeric(statements["total_assets"], errors="coerce").to_numpy())
    size = np.where(np.isfinite(size), size, np.nanmedian(size))
    turnover = ratios["asset_turnover"].fillna(ratios["asset_turnover"].median()).to_numpy()
    fixed = ratios["fixed_assets_to_assets"].fillna(ratios["fixed_assets_to_assets"].median()).to_numpy()
    splits: list[tuple[str, np.ndarray, np.ndarray]] = []
    for name, values in (("size", size), ("turnover", turnover)):
        third = np.digitize(values, np.quantile(values, [1 / 3, 2 / 3]))
        splits += [(f"{name}: lower 2/3 -> top 1/3", rows[third < 2], rows[third == 2]),
                   (f"{name}: upper 2/3 -> bottom 1/3", rows[third > 0], rows[third == 0]),
                   (f"{name}: bottom 1/3 -> top 1/3", rows[third == 0], rows[third == 2]),
                   (f"{name}: top 1/3 -> bottom 1/3", rows[third == 2], rows[third == 0])]
    fixed_low = fixed < np.median(fixed)
    splits += [("fixed-asset share: low -> high", rows[fixed_low], rows[~fixed_low]),
               ("fixed-asset share: high -> low", rows[~fixed_low], rows[fixed_low])]
    return splits


def split_tests(statements: pd.DataFrame, failed: np.ndarray, seeds: list[int]) -> None:
    """Train on one part of the companies, test on the rest: random halves whose held-out half is
    resampled to another failure rate, and the shifts of :func:`shift_splits`. The whole procedure
    (penalty, fit, calibration) runs on the training part only; so does the previous procedure, which
    also chose its terms by forward selection ("selected"); the 12-term design shipped before that and
    Altman Z'' are measured on the same held-out rows."""
    fitting = fitting_module()
    ratios = financials.financial_ratios(statements)
    exposures = fitting.Exposures(ratios)
    previous = fitting.Exposures(ratios, PREVIOUS_TERMS)
    altman = fitting.altman_risk(statements)
    rows = np.arange(len(failed))
    splits: list[tuple[str, np.ndarray, np.ndarray]] = []
    for seed in seeds:
        order = np.random.default_rng(seed).permutation(rows)
        splits.append((f"random half, seed {seed}", np.sort(order[: len(rows) // 2]), np.sort(order[len(rows) // 2:])))
    splits += shift_splits(statements, ratios)
    print("split tests (ROC AUC on the held-out part; mean predicted vs observed failure rate):")
    print(f"  {'split':36s} {'train/test fail':>15s}  {'model':>6s} {'select':>6s} {'12-term':>7s} {'Altman':>6s}"
          "  calibration")
    wins, shifted, random_halves = 0, [], []
    for name, train, test in splits:
        model = fitting.choose_and_fit(exposures, train, failed)
        selected = fitting.choose_and_fit(exposures, train, failed, select=True)
        before = fitting.fit_terms(previous, train, failed, [t.ratio for t in PREVIOUS_TERMS], 1e-3)
        tests = [("", test)]
        if name.startswith("random"):
            rng = np.random.default_rng(1000 + len(name))
            tests += [(f" at {rate:.0%}", resample_to_rate(test, failed, rate, rng)) for rate in SPLIT_FAILURE_RATES]
        for suffix, held in tests:
            log_odds = model.log_odds(exposures, held)
            aucs = (roc_auc_score(failed[held], log_odds),
                    roc_auc_score(failed[held], selected.log_odds(exposures, held)),
                    roc_auc_score(failed[held], before.log_odds(previous, held)),
                    roc_auc_score(failed[held], altman[held]))
            wins += aucs[0] > aucs[3]
            if not name.startswith("random"):
                shifted.append(aucs)
            elif not suffix:
                random_halves.append(aucs)
            predicted = float(np.mean(1.0 / (1.0 + np.exp(-log_odds))))
            print(f"  {name + suffix:36s} {failed[train].mean():6.1%}/{failed[held].mean():5.1%}    {aucs[0]:.4f} "
                  f"{aucs[1]:.4f} {aucs[2]:7.4f} {aucs[3]:.4f}  {predicted:5.1%} vs {failed[held].mean():5.1%}"
                  + ("" if suffix or name.startswith("random") else f"   selected: {', '.join(selected.names)}"))
    mean, same = np.mean(shifted, axis=0), np.mean(random_halves, axis=0)
    ahead = sum(model > selected for model, selected, _, _ in shifted)
    print(f"  mean over the {len(shifted)} shifted splits: model {mean[0]:.4f}, selected {mean[1]:.4f}, "
          f"12-term {mean[2]:.4f}, Altman {mean[3]:.4f}; model ahead of selected on {ahead} of {len(shifted)}")
    print(f"  drop from the random halves ({same[0]:.4f}, {same[1]:.4f}, {same[2]:.4f}, {same[3]:.4f}) to the shifts: "
          f"model {same[0] - mean[0]:.4f}, selected {same[1] - mean[1]:.4f}, 12-term {same[2] - mean[2]:.4f}, "
          f"Altman {same[3] - mean[3]:.4f}")
    print(f"  the model beats Altman Z'' on {wins} of the held-out sets")


def cross_validated(statements: pd.DataFrame, failed: np.ndarray, repeats: int) -> None:
    """Nested repeated CV of the statement model (``fit_financial_distress.nested_cv``) and, on the same
    folds, of the previous procedure that also selected its terms inside each fold; the detector's
    combination of the held-out log-odds, and the calibration of the held-out probabilities."""
    fitting = fitting_module()
    ratios = financials.financial_ratios(statements)
    exposures = fitting.Exposures(ratios)
    altman = fitting.altman_risk(statements)
    result = fitting.nested_cv(exposures, failed, altman, repeats=repeats)
    selected = fitting.nested_cv(exposures, failed, altman, repeats=repeats, select=True)
    flag = statement_distress_flags(statements)
    settings = ScoreSettings()
    combined = [roc_auc_score(failed, combined_from_log_odds(result.out_of_fold[r], flag, settings))
                for r in range(repeats)]
    print(f"nested CV ({repeats} x stratified 5-fold; penalty, fit and calibration inside each training fold):")
    for title, outcome in (("statement model (fixed terms)", result),
                           ("previous procedure (terms selected in each fold)", selected)):
        print(f"  {title}, pooled out-of-fold AUC per repeat: "
              + ", ".join(f"{auc:.4f}" for auc in outcome.pooled_auc) + f" (mean {np.mean(outcome.pooled_auc):.4f})")
        print(f"    per held-out fold: {np.mean(outcome.fold_auc):.4f} (min {np.min(outcome.fold_auc):.4f}), "
              f"Altman Z'' {np.mean(outcome.fold_altman):.4f}; ahead of Altman in "
              f"{sum(a > b for a, b in zip(outcome.fold_auc, outcome.fold_altman, strict=True))} of "
              f"{len(outcome.fold_auc)}; penalties {dict(sorted(outcome.penalties.items()))}")
    print(f"  terms the previous procedure chose: {dict(selected.chosen.most_common())}")
    print(f"  distress score (detector combination) pooled out-of-fold AUC: {np.mean(combined):.4f}")
    probability = 1.0 / (1.0 + np.exp(-result.out_of_fold[0]))
    print_calibration("  calibration of the held-out probabilities (repeat 1), by decile, safest first:",
                      calibration_table(probability, failed))


def other_file(data_dir: Path) -> None:
    """The shipped model, fitted on the 5th-year file, on another file of contract tables
    (``customer_financials.csv`` and ``labels.csv``; e.g. another year of the Polish data): nothing of
    that file was seen by the fit."""
    statements, failed = read_statements(data_dir)
    z = financials.altman_z2(statements)
    auc_model = roc_auc_score(failed, financials.statement_distress(statements)["distress_probability"])
    auc_altman = roc_auc_score(failed, -z.fillna(z.median()))
    print(f"other file {data_dir}: {len(statements)} statements, {failed.sum()} failed; ROC AUC statement_distress "
          f"{auc_model:.4f}, Altman Z'' {auc_altman:.4f}")


def read_statements(data_dir: Path) -> tuple[pd.DataFrame, np.ndarray]:
    statements = pd.read_csv(data_dir / "customer_financials.csv")
    labels = pd.read_csv(data_dir / "labels.csv")
    failed_ids = set(labels.loc[labels["pattern"] == "customer_distress", "customer_id"])
    return statements, statements["customer_id"].isin(failed_ids).to_numpy(dtype="int64")


def statement_distress_flags(statements: pd.DataFrame) -> np.ndarray:
    scored = financials.statement_distress(statements)
    return scored["flag_interest_over_5pct_sales"].fillna(False).to_numpy(dtype=float)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--cv", action="store_true", help="also the nested cross-validation (refits the model)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of the nested 5-fold CV")
    parser.add_argument("--splits", action="store_true", help="also the split tests (train on part, test on rest)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="random halves")
    parser.add_argument("--other", type=Path, nargs="*", default=[],
                        help="other files of contract tables to score with the shipped model (e.g. another year)")
    arguments = parser.parse_args()

    statements = pd.read_csv(arguments.data / "customer_financials.csv")
    customers = pd.read_csv(arguments.data / "customers.csv")
    labels = pd.read_csv(arguments.data / "labels.csv")
    failed_ids = set(labels.loc[labels["pattern"] == "customer_distress", "customer_id"])
    failed = statements["customer_id"].isin(failed_ids).to_numpy(dtype="int64")
    print(f"{len(statements)} statements, {failed.sum()} failed ({failed.mean():.1%})")

    history, findings = detector_scores(arguments.data)
    pure = statement_only_scores(statements, customers)
    by_customer = history.set_index("customer_id")["score"].reindex(statements["customer_id"])
    pure_score = pure.set_index("customer_id")["score"].reindex(statements["customer_id"])
    gap = float(np.nanmax(np.abs(by_customer.to_numpy() - pure_score.to_numpy())))
    print(f"detector history vs statement_only_scores: largest difference {gap:.2e}")

    z = financials.altman_z2(statements)
    auc_altman = roc_auc_score(failed, -z.fillna(z.median()))
    auc_model = roc_auc_score(failed, financials.statement_distress(statements)["distress_probability"])
    auc_score = roc_auc_score(failed, by_customer.fillna(0.0).to_numpy())
    flagged = set(findings["entity_id"]) if len(findings) else set()
    recall = len(flagged & failed_ids) / len(failed_ids)
    print(f"ROC AUC Altman Z'': {auc_altman:.4f} (README {ALTMAN_PUBLISHED})")
    print(f"ROC AUC statement_distress (in-sample: fitted on this file): {auc_model:.4f}")
    print(f"ROC AUC customer distress score (DST-01, in-sample): {auc_score:.4f}; beats Altman by "
          f"{auc_score - auc_altman:+.4f}")
    order = np.argsort(-by_customer.fillna(0.0).to_numpy(), kind="stable")
    top = order[: int(np.ceil(0.10 * len(order)))]
    print(f"riskiest 10 % hold {failed[top].sum() / failed.sum():.1%} of the failures; findings cover "
          f"{len(flagged)} companies, {recall:.1%} of the failures")
    scored = financials.statement_distress(statements)["distress_probability"].to_numpy()
    print_calibration("calibration of the shipped model on this file (in-sample), by decile, safest first:",
                      calibration_table(scored, failed))
    with threadpool_limits(1):  # many small fits: one BLAS thread is much faster than several competing
        if arguments.cv:
            cross_validated(statements, failed, arguments.repeats)
        if arguments.splits:
            split_tests(statements, failed, arguments.seeds)
    for other in arguments.other:
        other_file(other)


if __name__ == "__main__":
    main()
