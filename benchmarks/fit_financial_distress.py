"""Fit (and measure) the financial-statement distress model of ``audit/methods/financials.py``.

Data: the UCI "Polish companies bankruptcy" 5th-year file as contract tables
(``shared/data/polish-bankruptcy-5year``: customer_financials.csv, labels.csv; 5,910 companies, 410
bankrupt within a year). The candidates (ratios, directions, knots) are set by hand in
``audit.methods.financials.CANDIDATE_TERMS``; this script chooses and fits the rest and prints it as the Python
block to paste into the module.

The procedure (:func:`choose_and_fit`), the same on any training set:

1. **Terms**: fixed by hand, not selected: ``audit.methods.financials.MODEL_RATIOS``, six well-known
   ratios (Altman's working capital, retained earnings and EBIT over assets, own capital over assets,
   short-term debt over assets, EBIT over sales). The previous procedure chose four of the candidates by
   forward selection (:func:`select_terms`, ``choose_and_fit(..., select=True)``): it fitted this file as
   well but held up worse when trained on one kind of company and scored on another
   (``benchmarks/distress_polish.py --splits``), and its choice varied from fold to fold.
2. **Penalty**: for those terms, a stratified 5-fold CV over ``PENALTIES``; the *largest* penalty
   whose CV AUC is within ``PENALTY_TOLERANCE`` of the best is kept (strong regularisation, at most
   that much AUC given up inside the training set).
3. **Fit**: per term, the mean segment exposure of the rows where the ratio is known (what a missing
   ratio is given), then an L2-penalised logistic regression (penalty on the mean log-loss, intercept
   not penalised) with every segment weight bounded below by 0, so each curve is monotone in its
   economic direction (scipy L-BFGS-B from zeros: deterministic).
4. **Calibration**: the penalty flattens the probabilities; a logistic regression of failure on the
   inner-CV held-out log-odds gives a slope and shift, applied to the intercept and weights (the slope
   is positive, so the curves stay monotone).

The figures are honest about where they come from: ``--nested`` runs the whole procedure (penalty,
fit and calibration; with ``--select`` the forward selection too) inside each training fold of a
repeated stratified 5-fold split and scores only the held-out fold (nested CV); the in-sample AUC is the
shipped model on the file it was fitted on. The six terms themselves were chosen by hand among a few
fixed designs compared on the same file, which no nested figure covers.

Usage (from the repository root; the fit takes a few seconds, with ``--select`` about 15 s; the nested
CV about 1 min, with ``--select`` about 4 min)::

    python benchmarks/fit_financial_distress.py [--data DIR] [--nested] [--repeats 3] [--select]
"""

from __future__ import annotations

import argparse
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedKFold
from threadpoolctl import threadpool_limits

from audit.methods import financials

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = Path(os.environ.get("SALES_AUDIT_SHARED", REPO.parent / "shared")) / "data" / "polish-bankruptcy-5year"

SELECTION_PENALTY = 1e-3
MIN_AUC_GAIN = 0.002
MAX_TERMS = 6
PENALTIES = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
PENALTY_TOLERANCE = 0.005
INNER_FOLDS = 5
SEED = 0


def load(data_dir: Path) -> tuple[pd.DataFrame, np.ndarray]:
    """The statements and a 0/1 array: 1 = the company is labelled customer_distress (went bankrupt)."""
    statements = pd.read_csv(data_dir / "customer_financials.csv")
    labels = pd.read_csv(data_dir / "labels.csv")
    failed = labels.loc[labels["pattern"] == "customer_distress", "customer_id"]
    return statements, statements["customer_id"].isin(failed).to_numpy(dtype="int64")


class Exposures:
    """Every candidate's segment exposures, computed once (NaN where the ratio is missing), so the many
    CV fits only slice arrays. The matrices equal ``financials.design_matrix`` for the same terms."""

    def __init__(self, ratios: pd.DataFrame, terms: tuple[financials.Term, ...] = financials.CANDIDATE_TERMS):
        self.terms = {term.ratio: term for term in terms}
        self.values = {term.ratio: financials.segment_exposure(ratios[term.ratio], term) for term in terms}

    def fill(self, rows: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
        """Per term, the mean exposure of each segment over ``rows`` where the ratio is known, rounded to
        4 decimals as shipped."""
        return {name: np.round(np.nanmean(self.values[name][rows], axis=0), 4) + 0.0 for name in names}

    def matrix(self, rows: np.ndarray, names: list[str], fill: dict[str, np.ndarray]) -> np.ndarray:
        blocks, missing = [], np.zeros(len(rows), dtype=bool)
        for name in names:
            exposure = self.values[name][rows].copy()
            absent = np.isnan(exposure[:, 0])
            exposure[absent] = fill[name]
            missing |= absent
            blocks.append(exposure)
        blocks.append(missing[:, None].astype("float64"))
        return np.hstack(blocks)


def fit_weights(matrix: np.ndarray, failed: np.ndarray, penalty: float) -> np.ndarray:
    """[intercept, weights...] minimising mean log-loss + penalty * |weights|^2 with weights >= 0."""
    rows, width = matrix.shape

    def loss_and_gradient(parameters: np.ndarray) -> tuple[float, np.ndarray]:
        log_odds = parameters[0] + matrix @ parameters[1:]
        residual = expit(log_odds) - failed
        loss = np.sum(np.logaddexp(0.0, log_odds) - failed * log_odds) / rows
        loss += penalty * np.sum(parameters[1:] ** 2)
        gradient = np.concatenate([[residual.sum() / rows],
                                   matrix.T @ residual / rows + 2.0 * penalty * parameters[1:]])
        return loss, gradient

    bounds = [(None, None)] + [(0.0, None)] * width
    solution = minimize(loss_and_gradient, np.zeros(width + 1), jac=True, method="L-BFGS-B", bounds=bounds,
                        options={"maxiter": 10_000, "ftol": 1e-12, "gtol": 1e-8})
    if not solution.success:
        raise RuntimeError(f"fit did not converge: {solution.message}")
    return solution.x


@dataclass
class Fitted:
    names: list[str]                 # selected ratios, in CANDIDATE_TERMS order
    penalty: float
    fill: dict[str, np.ndarray]
    parameters: np.ndarray           # [intercept, segment weights..., missing-data weight]
    slope: float = 1.0               # calibration applied (step 4): log-odds = shift + slope x penalised fit
    shift: float = 0.0

    def calibrated(self, slope: float, shift: float) -> Fitted:
        parameters = self.parameters * slope
        parameters[0] += shift
        return Fitted(self.names, self.penalty, self.fill, parameters, slope, shift)

    def log_odds(self, exposures: Exposures, rows: np.ndarray) -> np.ndarray:
        return self.parameters[0] + exposures.matrix(rows, self.names, self.fill) @ self.parameters[1:]


def fit_terms(exposures: Exposures, rows: np.ndarray, failed: np.ndarray, names: list[str],
              penalty: float) -> Fitted:
    """Step 3 only: the given terms and penalty fitted on ``rows``."""
    names = [name for name in exposures.terms if name in names]
    fill = exposures.fill(rows, names)
    return Fitted(names, penalty, fill, fit_weights(exposures.matrix(rows, names, fill), failed[rows], penalty))


def cv_log_odds(exposures: Exposures, rows: np.ndarray, failed: np.ndarray, names: list[str],
                penalty: float) -> np.ndarray:
    """Out-of-fold log-odds of a stratified 5-fold CV inside ``rows`` (everything refitted per fold)."""
    out_of_fold = np.zeros(len(rows))
    folds = StratifiedKFold(INNER_FOLDS, shuffle=True, random_state=SEED).split(rows, failed[rows])
    for train, test in folds:
        model = fit_terms(exposures, rows[train], failed, names, penalty)
        out_of_fold[test] = model.log_odds(exposures, rows[test])
    return out_of_fold


def cv_auc(exposures: Exposures, rows: np.ndarray, failed: np.ndarray, names: list[str], penalty: float) -> float:
    """Pooled out-of-fold ROC AUC of :func:`cv_log_odds`."""
    return roc_auc_score(failed[rows], cv_log_odds(exposures, rows, failed, names, penalty))


def select_terms(exposures: Exposures, rows: np.ndarray, failed: np.ndarray) -> list[str]:
    """Step 1: forward selection by inner-CV AUC."""
    chosen: list[str] = []
    best = 0.5
    while len(chosen) < MAX_TERMS:
        trials = [(cv_auc(exposures, rows, failed, chosen + [name], SELECTION_PENALTY), name)
                  for name in exposures.terms if name not in chosen]
        auc, name = max(trials, key=lambda trial: (trial[0], trial[1]))
        if auc - best < MIN_AUC_GAIN:
            break
        chosen.append(name)
        best = auc
    return chosen


def choose_penalty(exposures: Exposures, rows: np.ndarray, failed: np.ndarray, names: list[str]) -> float:
    """Step 2: the largest penalty within PENALTY_TOLERANCE of the best inner-CV AUC."""
    aucs = {penalty: cv_auc(exposures, rows, failed, names, penalty) for penalty in PENALTIES}
    best = max(aucs.values())
    return max(penalty for penalty, auc in aucs.items() if auc >= best - PENALTY_TOLERANCE)


def calibration(exposures: Exposures, rows: np.ndarray, failed: np.ndarray, names: list[str],
                penalty: float) -> tuple[float, float]:
    """Step 4: (slope, shift) of a logistic regression of failure on the inner-CV out-of-fold log-odds.

    The penalty shrinks every weight towards 0, so the penalised fit's probabilities are too flat (too
    high for the safest, too low for the riskiest). Its held-out log-odds, rescaled by this slope and
    shifted, are calibrated for new companies of the same population; the slope is positive, so the
    curves stay monotone.
    """
    out_of_fold = cv_log_odds(exposures, rows, failed, names, penalty)
    recalibration = LogisticRegression(C=1e6).fit(out_of_fold[:, None], failed[rows])
    slope = float(recalibration.coef_[0, 0])
    if slope <= 0:
        raise RuntimeError(f"held-out log-odds do not rank failures (calibration slope {slope:.3f})")
    return slope, float(recalibration.intercept_[0])


def choose_and_fit(exposures: Exposures, rows: np.ndarray, failed: np.ndarray, select: bool = False) -> Fitted:
    """The whole procedure on ``rows``: the shipped terms (or, with ``select``, terms chosen by forward
    selection among ``exposures``' candidates), then choose the penalty, fit, calibrate."""
    names = select_terms(exposures, rows, failed) if select else list(financials.MODEL_RATIOS)
    penalty = choose_penalty(exposures, rows, failed, names)
    model = fit_terms(exposures, rows, failed, names, penalty)
    slope, shift = calibration(exposures, rows, failed, names, penalty)
    return model.calibrated(slope, shift)


def fit(ratios: pd.DataFrame, failed: np.ndarray, names: list[str], penalty: float) -> Fitted:
    """The shipped terms and penalty refitted and calibrated on all rows (what the test compares the
    module with)."""
    exposures, rows = Exposures(ratios), np.arange(len(failed))
    model = fit_terms(exposures, rows, failed, names, penalty)
    return model.calibrated(*calibration(exposures, rows, failed, model.names, penalty))


@dataclass
class NestedResult:
    pooled_auc: list[float]          # per repeat, the AUC of the pooled out-of-fold log-odds
    fold_auc: list[float]            # per outer fold
    fold_altman: list[float]         # Altman Z'' on the same held-out folds
    out_of_fold: np.ndarray          # repeats x rows: held-out log-odds
    chosen: Counter                  # how often each term was selected
    penalties: Counter
    sizes: Counter


def altman_risk(statements: pd.DataFrame) -> np.ndarray:
    """-Z'' (higher = worse), uncomputable rows at the median Z (neither good nor bad)."""
    z = financials.altman_z2(statements)
    return -z.fillna(z.median()).to_numpy()


def nested_cv(exposures: Exposures, failed: np.ndarray, altman: np.ndarray, repeats: int = 3,
              folds: int = 5, seed: int = SEED, select: bool = False) -> NestedResult:
    """Repeated stratified k-fold; the whole procedure (penalty, fit, calibration; with ``select`` also
    the forward selection of terms) runs inside each training fold and only the held-out fold is scored."""
    rows = np.arange(len(failed))
    out_of_fold = np.zeros((repeats, len(failed)))
    result = NestedResult([], [], [], out_of_fold, Counter(), Counter(), Counter())
    splitter = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    for number, (train, test) in enumerate(splitter.split(rows, failed)):
        model = choose_and_fit(exposures, train, failed, select)
        out_of_fold[number // folds, test] = model.log_odds(exposures, test)
        result.fold_auc.append(roc_auc_score(failed[test], out_of_fold[number // folds, test]))
        result.fold_altman.append(roc_auc_score(failed[test], altman[test]))
        result.chosen.update(model.names)
        result.penalties[model.penalty] += 1
        result.sizes[len(model.names)] += 1
    result.pooled_auc = [roc_auc_score(failed, out_of_fold[repeat]) for repeat in range(repeats)]
    return result


def coefficient_block(model: Fitted) -> str:
    """The Python source of the fitted block of audit/methods/financials.py (weights rounded to 3 decimals)."""
    rounded = np.round(model.parameters, 3) + 0.0  # + 0.0 turns -0.0 into 0.0
    lines = ["# The L2 penalty chosen by cross-validation."]
    lines.append(f"L2_PENALTY = {model.penalty!r}")
    lines.append("# The weights and intercept below include the calibration (step 4): the penalised fit's log-odds")
    lines.append(f"# x {model.slope:.3f} {model.shift:+.3f}.")
    lines.append("# Per ratio and segment, the mean exposure in the fitting sample: what a missing ratio is given,")
    lines.append("# so that it contributes the signal's average contribution.")
    lines.append("MISSING_SEGMENT_EXPOSURE: dict[str, tuple[float, ...]] = {")
    lines += [f"    {name!r}: ({', '.join(repr(float(v)) for v in values)},)," for name, values in model.fill.items()]
    lines.append("}")
    lines.append("# Log-odds of failure within a year when every ratio is at its healthiest value.")
    lines.append(f"INTERCEPT = {float(rounded[0])!r}")
    lines.append("# Per ratio, per segment between consecutive knots: log-odds added when the ratio crosses the")
    lines.append("# whole segment in the worse direction (all >= 0).")
    lines.append("SEGMENT_WEIGHTS: dict[str, tuple[float, ...]] = {")
    position = 1
    for name in model.names:
        width = len(model.fill[name])
        weights = [float(w) for w in rounded[position:position + width]]
        lines.append(f"    {name!r}: ({', '.join(repr(w) for w in weights)},),")
        position += width
    lines.append("}")
    lines.append("# Added when any model ratio is missing (incomplete statements failed more often).")
    lines.append(f"MISSING_DATA_WEIGHT = {float(rounded[-1])!r}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--nested", action="store_true", help="also the nested cross-validation")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--select", action="store_true",
                        help="the previous procedure: choose the terms by forward selection (fit and nested CV)")
    arguments = parser.parse_args()

    statements, failed = load(arguments.data)
    ratios = financials.financial_ratios(statements)
    exposures = Exposures(ratios)
    altman = altman_risk(statements)
    print(f"{len(statements)} statements, {failed.sum()} failed ({failed.mean():.1%})")
    print(f"Altman Z'' ROC AUC (lower = worse, NaN -> median): {roc_auc_score(failed, altman):.4f}")

    everything = np.arange(len(failed))
    model = choose_and_fit(exposures, everything, failed, arguments.select)
    print(f"terms: {', '.join(model.names)}" + (" (forward selection)" if arguments.select else " (MODEL_RATIOS)"))
    print("\n" + coefficient_block(model) + "\n")
    rounded = np.round(model.parameters, 3)
    matrix = exposures.matrix(everything, model.names, model.fill)
    print(f"in-sample ROC AUC, printed coefficients: {roc_auc_score(failed, rounded[0] + matrix @ rounded[1:]):.4f}")
    shipped = financials.statement_distress(statements)["distress_probability"]
    print(f"in-sample ROC AUC, shipped audit.methods.financials: {roc_auc_score(failed, shipped):.4f}")

    if arguments.nested:
        result = nested_cv(exposures, failed, altman, repeats=arguments.repeats, select=arguments.select)
        print(f"nested CV, {arguments.repeats} x stratified 5-fold ({'selection + ' if arguments.select else ''}"
              f"penalty + fit + calibration inside each training fold):")
        print("  pooled out-of-fold AUC per repeat: " + ", ".join(f"{auc:.4f}" for auc in result.pooled_auc))
        ahead = sum(a > b for a, b in zip(result.fold_auc, result.fold_altman, strict=True))
        print(f"  per held-out fold: mean {np.mean(result.fold_auc):.4f} (min {np.min(result.fold_auc):.4f}, "
              f"max {np.max(result.fold_auc):.4f}); Altman Z'' on the same folds {np.mean(result.fold_altman):.4f}; "
              f"model beats Altman in {ahead} of {len(result.fold_auc)} folds")
        print(f"  terms selected (of {len(result.fold_auc)} folds): {dict(result.chosen.most_common())}")
        print(f"  penalties chosen: {dict(sorted(result.penalties.items()))}; number of terms: "
              f"{dict(sorted(result.sizes.items()))}")


if __name__ == "__main__":
    with threadpool_limits(1):  # many small fits: one BLAS thread is ~10x faster than several competing
        main()
