"""Tests of the anomaly-model ensemble (audit.methods.anomaly)."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from audit.methods.anomaly import COMBINE_RULES, AnomalyEnsemble, ensemble_scores

ADBENCH_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "adbench"
PLANTED_COLUMN = 5


def blob_matrix(rows: int = 600, columns: int = 6, seed: int = 1) -> np.ndarray:
    """Three Gaussian blobs of sizes 3:2:1, shuffled: structure every default member can fit."""
    rng = np.random.default_rng(seed)
    sizes = [rows // 2, rows // 3, rows - rows // 2 - rows // 3]
    X = np.vstack([rng.standard_normal((n, columns)) + 4.0 * k for k, n in enumerate(sizes)])
    return X[rng.permutation(rows)]


def planted_matrix() -> tuple[np.ndarray, np.ndarray]:
    """Correlated normal data; 12 rows carry a value 7 sigma high in PLANTED_COLUMN only."""
    rng = np.random.default_rng(7)
    latent = rng.standard_normal((1500, 1))
    X = 0.6 * latent + 0.8 * rng.standard_normal((1500, 8))
    outliers = rng.choice(1500, 12, replace=False)
    X[outliers, PLANTED_COLUMN] += 7.0
    y = np.zeros(1500, dtype=int)
    y[outliers] = 1
    return X, y


def test_same_random_state_gives_identical_scores():
    X = blob_matrix()
    first = AnomalyEnsemble(random_state=3).fit(X)
    second = AnomalyEnsemble(random_state=3).fit(X)
    assert list(first.members_) == ["iforest", "ecod", "mcd", "knn", "cblof"]
    np.testing.assert_array_equal(first.score_samples(X), second.score_samples(X))
    # The sampled members (knn, cblof, mcd above their caps) draw the same sample too.
    capped = {"knn": 100, "cblof": 200, "mcd": 150}
    np.testing.assert_array_equal(
        AnomalyEnsemble(max_fit_rows=capped).fit(X).score_samples(X),
        AnomalyEnsemble(max_fit_rows=capped).fit(X).score_samples(X),
    )


def ledger_like_matrix(rows: int = 900, seed: int = 5) -> np.ndarray:
    """Columns as a ledger gives them: many ties (counts, flags, a value most rows share), zeros of both
    signs, a skewed money share and a continuous column."""
    rng = np.random.default_rng(seed)
    X = np.column_stack([
        rng.integers(1, 6, rows).astype(float),
        (rng.random(rows) < 0.05).astype(float),
        np.where(rng.random(rows) < 0.8, 0.0, rng.exponential(0.03, rows)),
        rng.standard_normal(rows),
        np.where(rng.random(rows) < 0.5, -0.0, rng.integers(-3, 4, rows).astype(float)),
    ])
    return X


@pytest.mark.parametrize("chunk_rows", [262_144, 100])
@pytest.mark.parametrize("batch", ["training", "part", "one row", "new rows"])
def test_ecod_scores_are_pyods_value_for_value(batch, chunk_rows, monkeypatch):
    monkeypatch.setattr("audit.methods.anomaly.ECOD_CHUNK_ROWS", chunk_rows)  # rows summed in chunks alike
    X = ledger_like_matrix()
    model = AnomalyEnsemble().fit(X)
    Z = model._scale(model._impute(X))
    rows = {"training": Z, "part": Z[::7], "one row": Z[3:4],
            "new rows": model._scale(model._impute(ledger_like_matrix(50, seed=9)))}[batch]
    ecod = model.members_["ecod"]
    np.testing.assert_array_equal(model._ecod_scores(ecod, rows), ecod.decision_function(rows))
    if batch == "training":  # the shortcut for the matrix it was fitted on
        np.testing.assert_array_equal(model._ecod_scores(ecod, rows, training=True), ecod.decision_function(rows))


def test_training_scores_reuse_what_fit_scored_and_equal_a_fresh_score():
    X = ledger_like_matrix()
    model = AnomalyEnsemble(combine="median_rank").fit(X)
    iforest = model.members_["iforest"]
    np.testing.assert_array_equal(iforest.decision_scores_,
                                  iforest.decision_function(model._scale(model._impute(X))))
    np.testing.assert_array_equal(model.score_samples(X, training=True), model.score_samples(X))
    with pytest.raises(ValueError, match="training=True needs the 900 rows"):
        model.score_samples(X[:10], training=True)


def test_a_column_major_matrix_fitted_without_copy_becomes_the_training_matrix_with_the_same_scores():
    X = ledger_like_matrix()
    X[::50, 2] = np.nan
    copied = AnomalyEnsemble(combine="median_rank").fit(X)
    given = np.asfortranarray(X)
    model = AnomalyEnsemble(combine="median_rank").fit(given, copy=False)
    assert model._training_matrix is given  # imputed and scaled in place: no second matrix
    np.testing.assert_array_equal(given, copied._training_matrix)
    for got, expected in zip(model.top_tail(None, 0.05, 0.5, training=True),
                             copied.top_tail(X, 0.05, 0.5, training=True), strict=True):
        np.testing.assert_array_equal(got, expected)
    rows = np.ascontiguousarray(X[::9])
    for name, ranks in copied.member_ranks(rows).items():
        np.testing.assert_array_equal(model.member_ranks(rows)[name], ranks)


def test_forest_and_ecod_fitted_from_distinct_or_sorted_rows_are_pyods_value_for_value():
    from pyod.models.ecod import ECOD
    from pyod.models.iforest import IForest

    X = AnomalyEnsemble().fit(ledger_like_matrix())._scale(ledger_like_matrix())  # repeated rows, ties
    model = AnomalyEnsemble(detectors=("iforest", "ecod")).fit(ledger_like_matrix())
    ours, theirs = model.members_["iforest"], IForest(random_state=0).fit(X)
    np.testing.assert_array_equal(ours.decision_scores_, theirs.decision_scores_)
    assert ours.detector_.offset_ == theirs.detector_.offset_ and ours.threshold_ == theirs.threshold_
    np.testing.assert_array_equal(ours.decision_function(X[:50]), theirs.decision_function(X[:50]))
    ours, theirs = model.members_["ecod"], ECOD().fit(X)
    np.testing.assert_array_equal(ours.decision_scores_, theirs.decision_scores_)
    np.testing.assert_array_equal(ours.X_train, theirs.X_train)
    assert ours.threshold_ == theirs.threshold_


@pytest.mark.parametrize("chunk_rows", [65_536, 333])
def test_cblof_without_the_numba_kernel_is_pyods_value_for_value(monkeypatch, chunk_rows):
    from pyod.models.cblof import CBLOF

    from audit.methods.anomaly import _CBLOF

    monkeypatch.setattr("audit.methods.anomaly.ECOD_CHUNK_ROWS", chunk_rows)  # distances in blocks of rows alike
    X = np.vstack([blob_matrix(2000, seed=5), ledger_like_matrix(2000)[:, :1].repeat(6, axis=1)])
    ours, theirs = _CBLOF(random_state=0).fit(X), CBLOF(random_state=0).fit(X)
    assert len(ours.small_cluster_labels_) and len(ours.large_cluster_labels_)  # both kinds of distance
    np.testing.assert_array_equal(ours.decision_scores_, theirs.decision_scores_)
    batch = blob_matrix(500, seed=6) * 3.0
    np.testing.assert_array_equal(ours.decision_function(batch), theirs.decision_function(batch))


@pytest.mark.parametrize("combine", COMBINE_RULES)
@pytest.mark.parametrize("share, at_least", [(0.01, 0.9), (0.05, 0.5), (0.3, 0.6), (0.01, 0.0)])
def test_top_tail_keeps_every_row_and_cutoff_score_samples_gives(combine, share, at_least):
    # Neighbour members run only on rows that can still reach at_least; the top must not change.
    X = np.vstack([blob_matrix(2000, seed=3), ledger_like_matrix(2000)[:, :1].repeat(6, axis=1)])
    model = AnomalyEnsemble(combine=combine).fit(X)
    full = model.score_samples(X, training=True)
    expected_cutoff = max(at_least, float(np.quantile(full, 1.0 - share)))
    scores, cutoff = model.top_tail(X, share, at_least, training=True)
    assert cutoff == expected_cutoff
    reached = ~np.isnan(scores)
    np.testing.assert_array_equal(scores[reached], full[reached])
    assert np.all(full[~reached] < cutoff)  # below at_least, or below where the quantile is sure to be
    np.testing.assert_array_equal(np.flatnonzero(scores >= cutoff), np.flatnonzero(full >= expected_cutoff))
    if combine == "median_rank" and at_least >= 0.9:
        assert (~reached).sum() > 0.5 * len(X)  # the point: most rows skip the neighbour search


def test_top_tail_skips_the_neighbour_search_below_where_the_quantile_is_sure_to_be():
    # The top 1 % lies well above at_least: a row that reaches at_least but not the lowest the quantile can be
    # (every neighbour member ranking every row 0) cannot be in the top either, and is not searched.
    X = np.vstack([blob_matrix(2000, seed=3), ledger_like_matrix(2000)[:, :1].repeat(6, axis=1)])
    model = AnomalyEnsemble(combine="median_rank").fit(X)
    full = model.score_samples(X, training=True)
    scores, cutoff = model.top_tail(X, 0.01, 0.5, training=True)
    assert cutoff == max(0.5, float(np.quantile(full, 0.99))) > 0.5
    reaching = full >= 0.5
    assert (np.isnan(scores) & reaching).sum() > 0.5 * reaching.sum()
    np.testing.assert_array_equal(np.flatnonzero(scores >= cutoff), np.flatnonzero(full >= cutoff))


def test_top_tail_scores_every_row_when_the_quantile_falls_at_the_bar():
    # The quantile interpolates between the largest score below at_least and the smallest above: it needs
    # the exact value of a row the shortcut would not score.
    X = blob_matrix(2000, seed=4)
    model = AnomalyEnsemble(combine="median_rank").fit(X)
    full = model.score_samples(X, training=True)
    ordered = np.sort(full)
    for share in (0.02, 0.05, 0.1):
        position = int(np.floor((len(full) - 1) * (1.0 - share)))
        at_least = float((ordered[position] + ordered[position + 1]) / 2.0)
        if ordered[position] < at_least <= ordered[position + 1]:
            break
    scores, cutoff = model.top_tail(X, share, at_least, training=True)
    assert cutoff == max(at_least, float(np.quantile(full, 1.0 - share)))
    np.testing.assert_array_equal(scores, full)  # every row scored


def test_scores_and_contributions_have_expected_shape_and_range():
    X = blob_matrix()
    model = AnomalyEnsemble().fit(X[:400])
    scores = model.score_samples(X[400:])
    assert scores.shape == (200,)
    assert np.all((scores >= 0) & (scores <= 1))
    contributions = model.feature_contributions(X[400:])
    assert contributions.shape == (200, 6)
    assert np.all(np.isfinite(contributions)) and np.all(contributions >= 0)
    assert set(model.member_ranks(X[:5])) == {"iforest", "ecod", "mcd", "knn", "cblof"}


def test_every_combination_rule_stays_in_unit_interval():
    X = blob_matrix(rows=300)
    model = AnomalyEnsemble(detectors=("iforest", "ecod", "copod", "mcd")).fit(X)
    ranks = np.column_stack(list(model.member_ranks(X).values()))
    for combine in COMBINE_RULES:
        model.combine = combine  # the rule only acts at scoring time: no refit needed
        scores = model.score_samples(X)
        assert scores.shape == (300,)
        assert np.all((scores >= 0) & (scores <= 1))
    np.testing.assert_allclose(scores, np.sort(ranks, axis=1)[:, 1:3].mean(axis=1))  # trimmed_rank
    np.testing.assert_array_equal(ensemble_scores(X, detectors=("ecod",)), ranks[:, 1])


def test_missing_values_are_imputed_with_the_training_median():
    X = blob_matrix()
    X[::7, 2] = np.nan
    X[::11, 4] = np.inf
    X[:, 5] = np.nan  # a column with no value at all is dropped, not an error
    model = AnomalyEnsemble().fit(X)
    scores = model.score_samples(X)
    assert np.all(np.isfinite(scores)) and np.all((scores >= 0) & (scores <= 1))

    row = np.array([[0.5, -0.2, np.nan, 0.1, 0.3, np.nan]])
    filled = row.copy()
    filled[0, 2] = model.medians_[2]
    filled[0, 5] = model.medians_[5]
    np.testing.assert_allclose(model.score_samples(row), model.score_samples(filled))
    assert model.feature_contributions(row)[0, 2] == pytest.approx(0.0, abs=0.01)
    assert model.feature_contributions(row)[0, 5] == 0.0


def test_feature_contributions_point_at_the_planted_column():
    X, y = planted_matrix()
    model = AnomalyEnsemble().fit(X)
    assert roc_auc_score(y, model.score_samples(X)) > 0.95
    contributions = model.feature_contributions(X[y == 1])
    assert np.all(contributions.argmax(axis=1) == PLANTED_COLUMN)
    # At the outer 1 % or beyond, against a typical value of the other columns.
    assert np.all(contributions[:, PLANTED_COLUMN] > 2.0)
    names = [f"col{j}" for j in range(8)]
    reasons = model.describe_drivers(X[y == 1], feature_names=names, top_k=2)
    assert all(r and r[0].startswith(f"col{PLANTED_COLUMN} unusually high") for r in reasons)


def test_contributions_keep_growing_beyond_the_training_range():
    X = np.random.default_rng(2).standard_normal((400, 6))
    model = AnomalyEnsemble(detectors=("ecod",)).fit(X)
    probes = np.zeros((4, 6))
    probes[:, 0] = [0.0, 3.0, 10.0, -30.0]
    surprise = model.feature_contributions(probes)[:, 0]
    assert surprise[0] < 0.5 < surprise[1] < surprise[2] < surprise[3] <= 15.0
    assert model.describe_drivers(probes[3:], feature_names=list("abcdef"))[0][0].startswith("a unusually low")


def test_detector_that_cannot_fit_is_skipped_with_a_reason():
    # Eight equal, well-separated blobs: CBLOF finds no split into large and small clusters.
    rng = np.random.default_rng(0)
    centres = np.repeat(np.eye(8) * 50.0, 60, axis=0)
    X = centres + rng.normal(scale=0.1, size=centres.shape)
    with pytest.warns(UserWarning, match="cblof"):
        model = AnomalyEnsemble(detectors=("ecod", "cblof")).fit(X)
    assert "cblof" in model.skipped_detectors_ and list(model.members_) == ["ecod"]
    assert model.score_samples(X).shape == (480,)


def test_pyods_compiled_kernels_are_kept_on_disk_for_the_next_run(tmp_path):
    # Each audit is a new process; without numba's cache every run compiled pyod's kernels again (~4 s). The
    # ensemble's CBLOF calls none (it sums the distances as the kernel does): only COPOD's is compiled and kept.
    script = (
        "import numpy as np\n"
        "from audit.methods.anomaly import AnomalyEnsemble\n"
        "rng = np.random.default_rng(1)\n"
        "X = np.vstack([rng.standard_normal((300, 4)) + 4.0 * k for k in (0, 0, 1, 2)])\n"
        "AnomalyEnsemble(detectors=('cblof', 'copod')).fit(X)\n"  # ECOD is fitted without pyod's kernel
    )
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=300)
    kept = sorted(path.name.split("-")[0] for path in tmp_path.rglob("*.nbi"))
    assert kept == ["stat_models.ecdf_terminate_equals_inplace"]


def test_importing_the_tool_does_not_import_pyod_until_a_model_is_fitted():
    # pyod pulls numba, llvmlite and matplotlib.pyplot (~117 MB, ~0.85 s of CPU) into every process, most of
    # which fit no anomaly model: they are imported when the first member is made. A fresh process, so that
    # nothing imported by other tests hides it.
    script = (
        "import pickle, sys\n"
        "import numpy as np\n"
        "from audit.registry import analysis_classes, detector_classes\n"
        "detector_classes(); analysis_classes()\n"
        "heavy = ('pyod', 'numba', 'llvmlite', 'matplotlib')\n"
        "print(sorted(name for name in heavy if name in sys.modules))\n"
        "from audit.methods.anomaly import AnomalyEnsemble\n"
        "rng = np.random.default_rng(1)\n"
        "X = np.vstack([rng.standard_normal((300, 4)) + 4.0 * k for k in (0, 0, 1, 2)])\n"
        "model = AnomalyEnsemble().fit(X)\n"
        "print(sorted(name for name in ('pyod', 'numba') if name in sys.modules))\n"
        "again = pickle.loads(pickle.dumps(model))\n"  # the ensemble's own CBLOF is found by its module's name
        "print(type(again.members_['cblof']).__name__,"
        " np.array_equal(again.score_samples(X[:50]), model.score_samples(X[:50])))\n"
    )
    lines = subprocess.run([sys.executable, "-c", script], check=True, timeout=300, capture_output=True,
                           text=True).stdout.splitlines()
    assert lines == ["[]", "['numba', 'pyod']", "_CBLOF True"]


def test_repeated_rows_score_exactly_as_each_member_scores_them_directly():
    # Row-wise members score each distinct row once; the ranks must be those of scoring every row.
    X = blob_matrix()
    model = AnomalyEnsemble(detectors=("iforest", "ecod", "mcd", "knn", "cblof", "hbos")).fit(X)
    batch = np.vstack([X[:200], X[:200], X[100:300]])
    batch[0, 0] = -0.0  # told apart from 0.0 byte for byte
    Z = model._scale(model._impute(batch))
    ranks = model.member_ranks(batch)
    assert set(ranks) == set(model.members_)
    for name, member in model.members_.items():
        reference = model.reference_scores_[name]
        raw = member.decision_function(Z)
        expected = (np.searchsorted(reference, raw, "left") + np.searchsorted(reference, raw, "right")) / (
            2.0 * reference.size)
        np.testing.assert_array_equal(ranks[name], expected, err_msg=name)


def test_invalid_use_raises():
    X = blob_matrix()
    with pytest.raises(ValueError, match="unknown detectors"):
        AnomalyEnsemble(detectors=("iforest", "nope")).fit(X)
    with pytest.raises(ValueError, match="combine"):
        AnomalyEnsemble(combine="vote").fit(X)
    with pytest.raises(RuntimeError, match="not fitted"):
        AnomalyEnsemble().score_samples(X)
    model = AnomalyEnsemble(detectors=("ecod",)).fit(X)
    with pytest.raises(ValueError, match="features"):
        model.score_samples(X[:, :3])


# Floors: ROC AUC (%) measured on the seed-0 split of each file with the default ensemble
# (thyroid 99.43, cardio 90.22, Wilt 57.58 when written), minus a 3-point margin for drift in
# pyod / scikit-learn (k-means and tree randomness).
ADBENCH_FLOORS = {"38_thyroid.npz": 96.4, "6_cardio.npz": 87.2, "44_Wilt.npz": 54.5}


@pytest.mark.skipif(not ADBENCH_DIR.is_dir(), reason="shared ADBench data not present")
@pytest.mark.parametrize("file_name", sorted(ADBENCH_FLOORS))
def test_adbench_auc_is_at_least_the_measured_floor(file_name):
    with np.load(ADBENCH_DIR / file_name) as data:
        X, y = data["X"].astype(float), data["y"].astype(int)
    X_train, X_test, _, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    scores = ensemble_scores(X_train, X_test, random_state=0)
    assert 100 * roc_auc_score(y_test, scores) >= ADBENCH_FLOORS[file_name]


@pytest.mark.parametrize("n_columns", [1, 2, 3, 4, 5, 8, 11])
def test_skewness_a_few_columns_at_a_time_is_scipys_value_for_value(n_columns):
    from scipy.stats import skew

    from audit.methods.anomaly import _column_skew

    rng = np.random.default_rng(n_columns)
    X = np.column_stack([rng.lognormal(size=50_000) * 10 ** (j % 4) for j in range(n_columns)])
    X[::5, 0] = 0.0  # a column with many equal values
    for layout in (X, np.asfortranarray(X)):
        assert np.array_equal(_column_skew(layout), skew(layout, axis=0))  # bit for bit: the same signs, always
    batch = X[:300] * 3.0  # rows scored later, pooled with the training rows
    assert np.array_equal(_column_skew(X, batch), skew(np.concatenate((X, batch)), axis=0))


@pytest.mark.parametrize("n_columns", [1, 2, 5])
def test_the_doubled_skewness_sign_of_near_symmetric_columns_is_the_stacked_matrixs(n_columns):
    from scipy.stats import skew

    from audit.methods.anomaly import _doubled_skew_sign

    rng = np.random.default_rng(n_columns)
    X = rng.lognormal(size=(20_000, n_columns))
    X[:, -1] = np.where(np.arange(20_000) % 2 == 0, 1.0, -1.0)  # skewness about 0: the stacked matrix decides
    X[:, 0] = 5.0 if n_columns > 2 else X[:, 0]  # a constant column too
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        single = np.nan_to_num(skew(X, axis=0))
        near_zero = np.abs(single) < 1e-9
        expected = np.sign(single)
        expected[near_zero] = np.sign(np.nan_to_num(skew(np.concatenate((X, X)), axis=0)))[near_zero]
        assert near_zero.any()
        assert np.array_equal(_doubled_skew_sign(X, single), expected)
