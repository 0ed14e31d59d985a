"""The customer distress score on financial statements alone: the Polish bankruptcy file.

Data: the UCI "Polish companies bankruptcy" 5th-year file as contract tables
(``shared/data/polish-bankruptcy-5year``: customers.csv, customer_financials.csv, labels.csv; 5,910
companies, 410 bankrupt within a year). It has no ledger at all (no invoices, salespeople...), so
``audit run`` refuses it; this script loads it through the same loader and checks, then

1. runs the DST-01 path (``detectors.distress.history.distress_history``, what the detector scores)
   on the loaded tables, and the pure function ``detectors.distress.scoring.statement_only_scores``,
   and checks they agree;
2. reports the ROC AUC of the distress score, of ``audit.financials.statement_distress`` alone and of
   Altman's Z'' (lower = worse; uncomputable rows at the median);
3. with ``--cv``, the stratified 5-fold out-of-fold AUC: the statement model is refitted inside each
   training fold (``benchmarks/fit_financial_distress.py``) and its held-out log-odds go through the same
   combination as in the detector. The shipped statement coefficients were fitted on this very file, so
   the in-sample figure flatters; the out-of-fold one is the honest comparison with Altman.

Usage (from the repository root)::

    python benchmarks/distress_polish.py [--data DIR] [--cv] [--seeds 0 1 2 3 4]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from audit import financials
from audit.data import AuditData
from audit.engine import Engine
from audit.loading import load
from audit.policy import Policy
from audit.validation import validate
from detectors.distress.customer_distress import CustomerDistress
from detectors.distress.scoring import STATEMENT_FLAG_WEIGHTS, ScoreSettings, statement_only_scores

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


def cross_validated(statements: pd.DataFrame, failed: np.ndarray, seeds: list[int]) -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    import fit_financial_distress as fitting

    ratios = financials.financial_ratios(statements)
    flag = statement_distress_flags(statements)
    settings = ScoreSettings()
    combined_aucs, model_aucs = [], []
    for seed in seeds:
        combined = np.zeros(len(failed))
        model = np.zeros(len(failed))
        for train, test in StratifiedKFold(5, shuffle=True, random_state=seed).split(ratios, failed):
            fill, parameters, _ = fitting.fit(ratios.iloc[train], failed[train])
            matrix, _ = financials.design_matrix(ratios.iloc[test], fill)
            model[test] = parameters[0] + matrix @ parameters[1:]
            combined[test] = combined_from_log_odds(model[test], flag[test], settings)
        model_aucs.append(roc_auc_score(failed, model))
        combined_aucs.append(roc_auc_score(failed, combined))
        print(f"seed {seed}: out-of-fold AUC statement model {model_aucs[-1]:.4f}, distress score "
              f"{combined_aucs[-1]:.4f}")
    print(f"mean out-of-fold AUC: statement model {np.mean(model_aucs):.4f}, distress score "
          f"{np.mean(combined_aucs):.4f} (min {np.min(combined_aucs):.4f})")


def statement_distress_flags(statements: pd.DataFrame) -> np.ndarray:
    scored = financials.statement_distress(statements)
    return scored["flag_interest_over_5pct_sales"].fillna(False).to_numpy(dtype=float)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--cv", action="store_true", help="also the 5-fold out-of-fold AUC (refits the model)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
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
    if arguments.cv:
        cross_validated(statements, failed, arguments.seeds)


if __name__ == "__main__":
    main()
