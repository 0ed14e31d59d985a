"""Unsupervised anomaly scoring of a numeric matrix by an ensemble of pyod detectors.

Each row of the matrix (one transaction, customer or salesperson, as the caller built it) gets a
score in [0, 1]: higher means more anomalous. The score is the combination of several detectors
that look at "unusual" in different ways:

* ``iforest``  Isolation Forest: rows that random axis-parallel cuts isolate quickly;
* ``ecod``     empirical-CDF tails: rows far out in the tail of one or more single columns;
* ``mcd``      robust Mahalanobis distance (Minimum Covariance Determinant): rows that break the
               correlation structure of the bulk of the data, even when no single value is extreme;
* ``knn``      distance to the 5th nearest neighbour: rows in empty regions of the space;
* ``cblof``    cluster-based local outlier factor: rows far from any large k-means cluster.

``copod``, ``hbos``, ``lof``, ``pca``, ``gmm``, ``inne`` and ``loda`` can be added by name.

How a score is made
-------------------
1. Missing values (NaN, +-inf) are replaced by the training median of their column, so a gap
   neither raises nor lowers suspicion; if missingness itself is a signal, add an indicator
   column upstream. Columns constant in training carry no information and are dropped.
2. Every column is robust-scaled with the training median and a robust standard deviation
   (IQR / 1.349, or the 1-99 % range / 4.653 for mostly-constant columns), so distance-based
   members (knn, cblof) are not dominated by the column with the largest unit. Tree- and
   rank-based members (iforest, ecod, hbos) and the affine-equivariant mcd are unaffected.
3. Each member scores the rows; its raw score is turned into a normalised rank: the fraction of
   the *training* rows that this member scored lower (ties count half). Ranks put members with
   incomparable raw scales (path lengths, log-probabilities, distances) on one [0, 1] scale and
   are taken against the training scores, not against the batch being scored. (pyod's ecod and
   copod still pool the scored rows with the training rows to estimate their tails, so their raw
   scores move slightly with the batch; the effect fades when the batch is small next to the
   training set, and vanishes when the training set itself is scored.)
4. The member ranks are combined (``combine``): ``mean_rank`` (default) averages them,
   ``median_rank`` takes their median, ``max_rank`` their maximum and ``trimmed_rank`` drops the
   highest and the lowest before averaging (with 4 or more members).

Speed: neighbour-, cluster- and covariance-based members are fitted on a seeded random sample of
the training rows (``max_fit_rows``) and then score every row: fit + score of 100k rows x 30
columns took 17 s of CPU (49 s wall clock on 2 cores shared with other jobs). Members whose score of a
row depends on that row alone score each distinct row once (``ROW_WISE_DETECTORS``): the same scores,
and about half the work on an invoice ledger. Scoring the matrix the ensemble was fitted on
(``training=True``, as the behaviour detectors do) reuses the iforest scores its fit computed, and ECOD's
pooled scores are counted in the training columns sorted once instead of pyod sorting training and batch
again (value for value pyod's; on the 304,280 invoices of a million-line ledger ECOD's scoring fell from
2.6 s to 0.8 s of CPU). iforest and ecod are fitted value for value as pyod fits them, from the distinct
rows scored once and from the columns sorted once (pyod's forest scored every training row twice). The
behaviour detectors ask only for the top of the scores (``top_tail``): the neighbour search runs on the
rows that can still reach it once the other members have ranked every row (ANO-03 on the 2,977,812-line
ledger: 34.6 s -> about 10 s, the same findings), and only on those that can still reach the least the
top's quantile can be (22,879 of its 905,962 invoices instead of 102,755). The distinct rows of the
training matrix are found once, ranks of many scores are searched in sorted order, and the training
matrix is imputed (and, column-major, scaled) in place when the caller made it for the fit
(``fit(X, copy=False)``): the same scores. Everything random is seeded from ``random_state``. pyod (with
numba, llvmlite and matplotlib) is imported when the first member is made (``_pyod``), not with this module: importing the tool cost every
process about 100 MB and a second of CPU for it, most of them fitting no anomaly model.

Benchmark (ADBench, 10 classical datasets): see ``docs/anomaly.md``.
"""

from __future__ import annotations

import functools
import itertools
import types
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
from scipy.stats import skew
from sklearn.utils import check_array

if TYPE_CHECKING:
    from pyod.models.base import BaseDetector
    from pyod.models.ecod import ECOD
    from pyod.models.iforest import IForest


# The modules ``_pyod`` imports that pull numba, llvmlite and matplotlib: the anomaly detectors declare them
# (``imports``), so a worker process imports them while the data is read (audit.lanes).
PYOD_MODULES = ("pyod.models.cblof", "pyod.models.copod", "pyod.models.ecod", "pyod.models.iforest",
                "pyod.models.knn", "pyod.models.mcd")


@functools.cache
def _pyod() -> types.SimpleNamespace:
    """pyod's detector classes (and the ensemble's own CBLOF), imported when the first member is made.

    Importing pyod imports numba and llvmlite (its numba kernels), matplotlib.pyplot (COPOD) and scikit-learn's
    estimator checks with pytest (CBLOF): about 117 MB and 0.85 s of CPU in every process that imports the
    tool, most of which never fits an anomaly model. The same classes, hence the same scores.
    """
    from pyod.models.cblof import CBLOF
    from pyod.models.copod import COPOD
    from pyod.models.ecod import ECOD
    from pyod.models.gmm import GMM
    from pyod.models.hbos import HBOS
    from pyod.models.iforest import IForest
    from pyod.models.inne import INNE
    from pyod.models.knn import KNN
    from pyod.models.loda import LODA
    from pyod.models.lof import LOF
    from pyod.models.mcd import MCD
    from pyod.models.pca import PCA
    from pyod.utils import stat_models

    _cache_pyod_kernels(stat_models)
    own_cblof = type("_CBLOF", (CBLOF,), {
        "__doc__": _CBLOF_DOC, "__module__": __name__, "__qualname__": "_CBLOF",
        "_decision_function": _cblof_decision_function})
    return types.SimpleNamespace(
        CBLOF=CBLOF, COPOD=COPOD, ECOD=ECOD, GMM=GMM, HBOS=HBOS, IForest=IForest, INNE=INNE, KNN=KNN, LODA=LODA,
        LOF=LOF, MCD=MCD, PCA=PCA, _CBLOF=own_cblof)


def __getattr__(name: str):
    # ``_CBLOF`` exists once pyod is imported (its base class is pyod's); pickles of fitted ensembles find it here.
    if name == "_CBLOF":
        return _pyod()._CBLOF
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _cache_pyod_kernels(stat_models) -> None:
    """Keep pyod's numba kernels compiled on disk (numba's own cache, keyed on their source and types).

    pyod declares them without ``cache=True``, so every new process compiled CBLOF's distance kernel
    again: about 4 s of each audit (the ensemble's own CBLOF, ``_CBLOF``, no longer calls it). Where no cache directory is writable numba refuses, and they are
    compiled per process as before.
    """
    for name in ("_pairwise_distances_no_broadcast_helper", "ecdf_terminate_equals_inplace"):
        kernel = getattr(stat_models, name, None)
        if hasattr(kernel, "enable_caching"):
            try:
                kernel.enable_caching()
            except RuntimeError:  # "cannot cache function ...: no locator available"
                pass


DEFAULT_DETECTORS = ("iforest", "ecod", "mcd", "knn", "cblof")

# name -> factory(random_state) for each detector the ensemble can hold (pyod default settings).
DETECTOR_FACTORIES: dict[str, Callable[[int], BaseDetector]] = {
    "iforest": lambda seed: _pyod().IForest(random_state=seed),
    "ecod": lambda seed: _pyod().ECOD(),
    "copod": lambda seed: _pyod().COPOD(),
    "hbos": lambda seed: _pyod().HBOS(),
    "mcd": lambda seed: _pyod().MCD(random_state=seed),
    # Neighbour queries spread over every core: each row's distances, hence the scores, do not change.
    "knn": lambda seed: _pyod().KNN(n_jobs=-1),
    "lof": lambda seed: _pyod().LOF(),
    "cblof": lambda seed: _pyod()._CBLOF(random_state=seed),
    "pca": lambda seed: _pyod().PCA(random_state=seed),
    "gmm": lambda seed: _pyod().GMM(random_state=seed),
    "inne": lambda seed: _pyod().INNE(random_state=seed),
    "loda": lambda seed: _pyod().LODA(random_state=seed),
}

# Most rows a member is fitted on. Neighbour searches grow with n^2 and scikit-learn's FastMCD
# switches to a much slower multi-subset search above 500 rows; a random sample of this size
# keeps their picture of "normal" while scoring stays linear in the rows scored.
DEFAULT_MAX_FIT_ROWS: dict[str, int] = {
    "knn": 5_000,
    "lof": 5_000,
    "cblof": 20_000,
    "mcd": 500,
    "gmm": 20_000,
}

# Members whose score of a row depends on that row alone. They score each distinct row once: ledgers repeat
# rows (half the invoices of a medium ledger share their features with another once the harmless sides are
# set to the median), and neighbour queries are the ensemble's largest cost. ecod and copod pool the scored
# rows into their tails, so they always see the batch as given.
ROW_WISE_DETECTORS = frozenset({"iforest", "mcd", "knn", "cblof", "lof", "hbos", "pca", "gmm", "inne", "loda"})

# Members whose ``decision_scores_`` after fitting on all the rows are what ``decision_function`` gives those rows
# (pyod's IForest computes both with the same call): scoring the training matrix again reuses them.
TRAINING_SCORED_DETECTORS = frozenset({"iforest"})

# Neighbour searches, the ensemble's largest cost: ``top_tail`` runs them only on the rows that can still
# reach the top once the other members have ranked every row.
LATE_DETECTORS = frozenset({"knn", "lof"})

# From this many raw scores on, ``_ranked`` sorts them before searching the training scores (far fewer cache misses).
SORTED_SEARCH_ROWS = 50_000

COMBINE_RULES = ("mean_rank", "median_rank", "max_rank", "trimmed_rank")

# feature_contributions: share of each side of a column modelled by a fitted exponential tail,
# and the smallest tail probability reported (a surprise of 15 means "effectively impossible").
TAIL_FRACTION = 0.05
SMALLEST_TAIL = 1e-15


class AnomalyEnsemble:
    """Ensemble of pyod detectors combined on normalised ranks (scikit-learn style).

    Parameters
    ----------
    detectors:
        Names of the members, from ``DETECTOR_FACTORIES``.
    combine:
        How member ranks are combined: one of ``COMBINE_RULES`` (see the module docstring).
    random_state:
        Seed of every random member (pyod ``random_state``) and of the fitting samples; same seed,
        same data, same scores.
    max_fit_rows:
        Per-detector caps on the rows a member is fitted on, overriding ``DEFAULT_MAX_FIT_ROWS``
        (``None`` as a value: no cap for that detector).

    Attributes (after ``fit``)
    --------------------------
    n_features_in_: columns of the matrix given to ``fit``.
    medians_, scales_: per-column training median and robust scale (NaN imputation, scaling).
    kept_columns_: indices of the columns that were not constant in training.
    members_: dict name -> fitted pyod detector.
    reference_scores_: dict name -> sorted raw training scores (the base of the normalised rank).
    skipped_detectors_: dict name -> reason, for members that could not be fitted on this data.
    sorted_columns_: per-column sorted training values (imputed, unscaled), for
        ``feature_contributions``.
    """

    def __init__(
        self,
        detectors: Sequence[str] = DEFAULT_DETECTORS,
        combine: str = "mean_rank",
        random_state: int = 0,
        max_fit_rows: dict[str, int | None] | None = None,
    ):
        self.detectors = detectors
        self.combine = combine
        self.random_state = random_state
        self.max_fit_rows = max_fit_rows

    # ----------------------------------------------------------------------------------- fitting
    def fit(self, X, *, copy: bool = True) -> AnomalyEnsemble:
        """Learn the imputation, scaling and every member on ``X`` (labels are never used).

        ``copy=False``: ``X``, a writable float64 array the caller made for the fit, receives the imputed
        values itself instead of a copy of it (a matrix less). A column-major ``X`` with no constant column
        then becomes the scaled training matrix itself (another matrix less): score it with
        ``training=True`` and no ``X``, and rebuild any of its rows the caller wants to score again.
        """
        self._check_params()
        given = X
        X = _as_matrix(X)
        if X.shape[0] < 10:
            raise ValueError(f"need at least 10 rows to fit, got {X.shape[0]}")
        self.n_features_in_ = X.shape[1]

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # "All-NaN slice": handled just below
            medians = np.nanmedian(np.where(np.isfinite(X), X, np.nan), axis=0)
        # A column with no finite value at all has no median; 0 makes it constant, hence dropped.
        self.medians_ = np.where(np.isfinite(medians), medians, 0.0)
        if not copy and X is given and X.flags.writeable:
            np.copyto(X, self.medians_, where=~np.isfinite(X))  # what _impute gives, in place
        else:
            X = self._impute(X)
        # Column-major, so that each column's binary searches in _tails run on contiguous memory.
        self.sorted_columns_ = np.asfortranarray(np.sort(X, axis=0))

        self.scales_ = _robust_scales(X)
        self.kept_columns_ = np.flatnonzero(self.scales_ > 0)
        if self.kept_columns_.size == 0:
            raise ValueError("every column is constant (after imputing NaN): nothing to score")
        if X is given and not copy and self.kept_columns_.size == X.shape[1] and X.flags.f_contiguous:
            # what _scale gives (the columns' copy of a column-major matrix is column-major), in place
            X -= self.medians_
            X /= self.scales_
            Z = X
        else:
            Z = self._scale(X)
        # Scoring the training matrix starts from it (ECOD holds it anyway): no second imputed, scaled copy.
        self._training_matrix = Z
        # Its distinct rows (as indices), found once for the iforest fit and the row-wise members' scores.
        self._training_distinct: tuple[np.ndarray, np.ndarray] | None = None

        caps = {**DEFAULT_MAX_FIT_ROWS, **(self.max_fit_rows or {})}
        self.n_fit_rows_ = X.shape[0]
        self.sampled_members_: set[str] = set()
        self._ecod_sorted: np.ndarray | None = None
        self._ecod_training_scores: np.ndarray | None = None
        self.members_: dict[str, BaseDetector] = {}
        self.reference_scores_: dict[str, np.ndarray] = {}
        self.skipped_detectors_: dict[str, str] = {}
        for position, name in enumerate(self.detectors):
            cap = caps.get(name)
            Z_fit = Z
            if cap is not None and Z.shape[0] > cap:
                # Its own seeded stream per member, so two sampled members do not share one sample.
                sampler = np.random.default_rng([self.random_state, position])
                Z_fit = Z[np.sort(sampler.choice(Z.shape[0], cap, replace=False))]
                self.sampled_members_.add(name)
            detector = DETECTOR_FACTORIES[name](self.random_state)
            try:
                with warnings.catch_warnings():
                    # MCD warns on rank-deficient data and still returns usable distances.
                    warnings.simplefilter("ignore", RuntimeWarning)
                    warnings.filterwarnings("ignore", message=".*covariance matrix.*not full rank.*")
                    if name == "iforest" and type(detector) is _pyod().IForest:
                        _fit_iforest(detector, Z_fit, self._distinct_training_rows() if Z_fit is Z else None)
                    elif name == "ecod" and type(detector) is _pyod().ECOD and detector.n_jobs == 1:
                        # Scaling keeps each column's order: the sorted training columns, scaled, are Z's sorted.
                        # Not kept when made so (a matrix the size of the training one): ``_ecod_scores`` makes
                        # them again, value for value, if a batch other than the training matrix is scored.
                        self._ecod_sorted, self._ecod_training_scores = _fit_ecod(
                            detector, Z_fit, self._scaled_sorted_columns() if Z_fit is Z else None)
                        if Z_fit is Z:
                            self._ecod_sorted = None
                    else:
                        detector.fit(Z_fit)
            except (ValueError, np.linalg.LinAlgError) as error:
                # e.g. CBLOF cannot split clusters into large and small on some data; the other
                # members still score, and the reason is kept for the report.
                self.skipped_detectors_[name] = str(error)
                warnings.warn(f"anomaly detector {name!r} skipped: {error}", stacklevel=2)
                continue
            self.members_[name] = detector
            self.reference_scores_[name] = np.sort(_finite_scores(detector.decision_scores_))
        if not self.members_:
            raise ValueError(f"no detector could be fitted: {self.skipped_detectors_}")
        return self

    def _check_params(self) -> None:
        if isinstance(self.detectors, str) or not self.detectors:
            raise ValueError("detectors must be a non-empty sequence of names")
        unknown = [name for name in self.detectors if name not in DETECTOR_FACTORIES]
        if unknown:
            raise ValueError(f"unknown detectors {unknown}; known: {sorted(DETECTOR_FACTORIES)}")
        if len(set(self.detectors)) != len(self.detectors):
            raise ValueError(f"detectors repeat a name: {list(self.detectors)}")
        if self.combine not in COMBINE_RULES:
            raise ValueError(f"combine must be one of {COMBINE_RULES}, got {self.combine!r}")

    # ----------------------------------------------------------------------------------- scoring
    def member_ranks(self, X, training: bool = False) -> dict[str, np.ndarray]:
        """Per member, each row's normalised rank among that member's training scores, in [0, 1].

        ``training``: ``X`` is the matrix ``fit`` was given, so members that scored every row of it while
        fitting (``TRAINING_SCORED_DETECTORS``) reuse those scores instead of scoring it again (the same
        ranks)."""
        Z = self._prepared(X, training)
        distinct = []
        return {name: self._rank(name, Z, training, distinct) for name in self.members_}

    def top_tail(self, X, share: float, at_least: float, training: bool = False) -> tuple[np.ndarray, float]:
        """The scores of ``score_samples`` where they can reach the top, and the cut-off of the top.

        The cut-off is ``max(at_least, quantile(scores, 1 - share))``, the same as ``score_samples`` gives.
        Every combination rule rises with each member's rank, so a row whose score stays below the bar even
        if the neighbour members (``LATE_DETECTORS``, the ensemble's largest cost) ranked it highest is not
        scored by them; its score is NaN here. The bar is ``at_least``, or higher where the quantile is sure
        to be: each row's score is at least what it gets when the neighbour members rank it 0, so the
        quantile is at least that of those lowest scores (taken two rows lower, so that it falls among the
        rows above the bar). Whether the quantile falls among scores below the bar is decided by how many
        there are, not by their values, except when it falls between the largest of them and the smallest
        above: then every row is scored as ``score_samples`` does. ``X`` None with ``training``: the matrix
        fit was given (which it may have scaled in place). On the invoices of a million-line ledger
        the neighbour search runs on one row in thirty (one in nine with ``at_least`` alone).
        """
        Z = self._prepared(X, training)
        distinct = []
        early = [name for name in self.members_ if name not in LATE_DETECTORS]
        late = [name for name in self.members_ if name in LATE_DETECTORS]
        ranks = {name: self._rank(name, Z, training, distinct) for name in early}
        bar = at_least
        if late:
            # The highest score a row can get: every late member ranks it 1; the lowest: every one ranks it 0.
            bound = self._combined({name: ranks.get(name, 1.0) for name in self.members_}, Z.shape[0])
            sure = int(np.floor((Z.shape[0] - 1) * (1.0 - share))) - 2
            if sure >= 0:
                lowest = self._combined({name: ranks.get(name, 0.0) for name in self.members_}, Z.shape[0])
                bar = max(at_least, float(np.partition(lowest, sure)[sure]))
                del lowest
            reach = bound >= bar
            rows = np.flatnonzero(reach)
            for name in late:
                ranks[name] = np.full(Z.shape[0], np.nan)
                ranks[name][rows] = self._rank(name, Z[rows], False, []) if rows.size else []
        else:
            reach = np.ones(Z.shape[0], dtype=bool)
        scores = np.full(Z.shape[0], np.nan)
        # In the members' order: a mean sums them in that order, as score_samples does.
        scores[reach] = self._combined({name: ranks[name][reach] for name in self.members_}, int(reach.sum()))
        if not reach.all():
            stand_in = np.where(reach, scores, 0.0)
            below = int((stand_in < bar).sum())
            position = (stand_in.size - 1) * (1.0 - share)
            # Above the bar the quantile is among rows scored in full. Below it only where the bar is at_least
            # (the cut-off is then at_least); a higher bar is chosen so that the quantile cannot fall there.
            if np.floor(position) > below or (bar == at_least and np.floor(position) < below - 2):
                return scores, max(at_least, float(np.quantile(stand_in, 1.0 - share)))
            # interpolated across the bar (with a margin): the late members rank the other rows too
            rest = np.flatnonzero(~reach)
            for name in late:
                ranks[name][rest] = self._rank(name, Z[rest], False, [])
            scores = self._combined({name: ranks[name] for name in self.members_}, Z.shape[0])
        return scores, max(at_least, float(np.quantile(scores, 1.0 - share)))

    def _prepared(self, X, training: bool) -> np.ndarray:
        if training and X is None:  # the training matrix itself (fit may have scaled the caller's in place)
            return self._training_matrix
        X = self._checked(X)
        if training and X.shape[0] != self.n_fit_rows_:
            raise ValueError(f"training=True needs the {self.n_fit_rows_} rows fit was given, got {X.shape[0]}")
        return self._training_matrix if training else self._scale(self._impute(X))

    def _rank(self, name: str, Z: np.ndarray, training: bool, distinct: list) -> np.ndarray:
        """One member's normalised ranks of the rows of the scaled matrix ``Z`` (``distinct`` caches the
        distinct rows of ``Z`` for the members that score row by row; ``training``: ``Z`` is the training
        matrix, whose distinct rows fit found)."""
        detector = self.members_[name]
        if training and name in TRAINING_SCORED_DETECTORS and name not in self.sampled_members_:
            raw = _finite_scores(detector.decision_scores_)
        elif name == "ecod" and isinstance(detector, _pyod().ECOD) and detector.n_jobs == 1:
            raw = _finite_scores(self._ecod_scores(detector, Z, training and name not in self.sampled_members_))
        elif name in ROW_WISE_DETECTORS:
            if not distinct:
                distinct.extend(self._distinct_training_rows() if training else _distinct_rows(Z))
            rows, inverse = distinct
            # each distinct row ranked once, then spread to the rows that repeat it
            return self._ranked(name, _finite_scores(detector.decision_function(rows)))[inverse]
        else:
            raw = _finite_scores(detector.decision_function(Z))
        return self._ranked(name, raw)

    def _ranked(self, name: str, raw: np.ndarray) -> np.ndarray:
        """Normalised ranks of raw scores among the member's training scores (ties count half)."""
        reference = self.reference_scores_[name]
        if raw.size < SORTED_SEARCH_ROWS:
            below = np.searchsorted(reference, raw, side="left")
            not_above = np.searchsorted(reference, raw, side="right")
            return (below + not_above) / (2.0 * reference.size)
        # Many scores: searched in their sorted order (each search starts where the last ended, on memory just
        # read) and put back in place, the same counts.
        order = np.argsort(raw, kind="stable")
        ordered = raw[order]
        ranks = np.empty(raw.size)
        ranks[order] = (np.searchsorted(reference, ordered, side="left")
                        + np.searchsorted(reference, ordered, side="right")) / (2.0 * reference.size)
        return ranks

    def _distinct_training_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """``_distinct_rows`` of the training matrix, its indices found once and kept (not the rows)."""
        if self._training_distinct is None:
            self._training_distinct = _distinct_index(self._training_matrix)
        first, inverse = self._training_distinct
        return np.ascontiguousarray(self._training_matrix[first]), inverse

    def _scaled_sorted_columns(self) -> _ScaledColumns:
        """``_scale(sorted_columns_)`` (the training matrix's columns sorted), made one column at a time where
        read: not a matrix the size of the training one beside it."""
        return _ScaledColumns(self.sorted_columns_, self.kept_columns_, self.medians_, self.scales_)

    def _ecod_scores(self, detector: ECOD, Z: np.ndarray, training: bool = False) -> np.ndarray:
        """pyod ECOD's ``decision_function(Z)``, value for value, without sorting the training rows again.

        ECOD scores a batch pooled with its training rows (``_ecod_outlyingness``). A value's place among
        the pooled values is its count among the training columns, sorted once at fit, plus its count in
        the batch. ``training``: ``Z`` is the matrix ECOD was fitted on, whose scores fit computed from the
        counts it had made (every count twice).
        """
        if training and self._ecod_training_scores is not None:
            return self._ecod_training_scores
        trained = self._ecod_sorted
        if trained is None:
            # fit let go of them when they were the sorted training columns, scaled (value for value Z's sorted)
            trained = self._scaled_sorted_columns() if detector.X_train is self._training_matrix else None
        if trained is None:
            trained = self._ecod_sorted = np.asfortranarray(np.sort(detector.X_train, axis=0))
        Z = np.ascontiguousarray(Z, dtype=np.float64)
        if training:
            below, under = _ecod_counts(trained, Z)
            return _ecod_outlyingness(2 * below, 2 * under, 2 * Z.shape[0], _doubled_skew_sign(Z))
        below, under = _ecod_counts(trained, Z, np.sort(Z, axis=0))
        pooled = _column_skew(detector.X_train, Z)  # of the training rows and Z's together
        return _ecod_outlyingness(below, under, detector.X_train.shape[0] + Z.shape[0], np.sign(np.nan_to_num(pooled)))

    def score_samples(self, X, training: bool = False) -> np.ndarray:
        """Anomaly score of each row of ``X``, in [0, 1]; higher = more anomalous (``training``: see
        ``member_ranks``)."""
        X = self._checked(X)
        return self._combined(self.member_ranks(X, training), X.shape[0])

    def _combined(self, ranks: dict[str, np.ndarray | float], n_rows: int) -> np.ndarray:
        """The members' ranks (arrays of ``n_rows``, or one number for every row) combined by ``combine``.

        In blocks of rows (each row's combination is its own): the members' ranks side by side, and the copies
        a median or sort makes of them, would take several matrices the size of a rank per member."""
        members = [np.broadcast_to(r, (n_rows,)) for r in ranks.values()]
        combined = np.empty(n_rows)
        for start in range(0, n_rows, ECOD_CHUNK_ROWS):
            rows = slice(start, start + ECOD_CHUNK_ROWS)
            block = np.column_stack([r[rows] for r in members])
            if self.combine == "mean_rank":
                combined[rows] = block.mean(axis=1)
            elif self.combine == "median_rank":
                combined[rows] = np.median(block, axis=1)
            elif self.combine == "max_rank":
                combined[rows] = block.max(axis=1)
            else:  # trimmed_rank
                trim = 1 if block.shape[1] >= 4 else 0
                combined[rows] = np.sort(block, axis=1)[:, trim: block.shape[1] - trim].mean(axis=1)
        return np.clip(combined, 0.0, 1.0, out=combined)

    # ------------------------------------------------------------------------------- explanation
    def feature_contributions(self, X) -> np.ndarray:
        """How far out each value of each row lies, per feature: shape (n_rows, n_features).

        The value is the "surprise" ``-log10(p)`` of the two-sided tail probability ``p`` of the
        value among the training values of its column (ECOD's per-feature view): 0 for a value
        at the median, about 1 for a value as rare as the outer 10 %, 2 for the outer 1 %, 3 for
        the outer 0.1 %, at most 15. In the body of a column ``p`` is the empirical (add-one
        smoothed) tail share; beyond its outer 5 % on either side, an exponential tail fitted to
        the training values there (see ``_exponential_tail``), so a value far beyond the
        training data still ranks by its distance. Missing values are imputed with the median and
        so contribute 0, as do columns constant in training unless the row differs from the
        constant. Use ``describe_drivers`` for the same information in words.
        """
        return self._tails(self._impute(self._checked(X)))[0]

    def describe_drivers(
        self,
        X,
        feature_names: Sequence[str] | None = None,
        top_k: int = 3,
        min_surprise: float = 2.0,
    ) -> list[list[str]]:
        """Per row, up to ``top_k`` plain-words reasons, strongest first.

        Only features with a surprise of at least ``min_surprise`` (default: outer 1 %) are named,
        e.g. ``"discount_pct unusually high (above 99.9 % of reference rows)"``. A row flagged
        only for its combination of ordinary values gets an empty list: no single feature
        explains it (the mcd/knn/cblof members see combinations, this view does not).
        """
        X = self._impute(self._checked(X))
        names = list(feature_names) if feature_names is not None else [
            f"feature_{j}" for j in range(self.n_features_in_)]
        if len(names) != self.n_features_in_:
            raise ValueError(f"{len(names)} feature names for {self.n_features_in_} features")
        surprise, high = self._tails(X)
        n_ref = self.sorted_columns_.shape[0]
        order = np.argsort(-surprise, axis=1, kind="stable")[:, :top_k]
        described = []
        for i in range(X.shape[0]):
            reasons = []
            for j in order[i]:
                if surprise[i, j] < min_surprise:
                    break
                column = self.sorted_columns_[:, j]
                if high[i, j]:
                    share = np.searchsorted(column, X[i, j], side="left") / n_ref
                    reasons.append(f"{names[j]} unusually high (above {100 * share:.1f} % of reference rows)")
                else:
                    share = (n_ref - np.searchsorted(column, X[i, j], side="right")) / n_ref
                    reasons.append(f"{names[j]} unusually low (below {100 * share:.1f} % of reference rows)")
            described.append(reasons)
        return described

    def _tails(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Surprise -log10(two-sided tail probability) per value, and whether it is the upper tail."""
        X = np.asfortranarray(X)
        n_ref = self.sorted_columns_.shape[0]
        surprise = np.empty_like(X, dtype=float)
        high = np.empty(X.shape, dtype=bool)
        for j in range(X.shape[1]):
            column = self.sorted_columns_[:, j]
            at_or_below = np.searchsorted(column, X[:, j], side="right")
            at_or_above = n_ref - np.searchsorted(column, X[:, j], side="left")
            # Add-one smoothing: a value beyond every training value is rare, not impossible.
            lower = _exponential_tail(-X[:, j], -column[::-1], (at_or_below + 1) / (n_ref + 1))
            upper = _exponential_tail(X[:, j], column, (at_or_above + 1) / (n_ref + 1))
            tail = np.clip(2.0 * np.minimum(lower, upper), SMALLEST_TAIL, 1.0)
            surprise[:, j] = -np.log10(tail)
            high[:, j] = upper < lower
        return surprise, high

    # ------------------------------------------------------------------------------ preparation
    def _checked(self, X) -> np.ndarray:
        if not hasattr(self, "members_"):
            raise RuntimeError("AnomalyEnsemble is not fitted: call fit(X) first")
        X = _as_matrix(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, the ensemble was fitted on {self.n_features_in_}")
        return X

    def _impute(self, X: np.ndarray) -> np.ndarray:
        return np.where(np.isfinite(X), X, self.medians_)

    def _scale(self, X: np.ndarray) -> np.ndarray:
        kept = self.kept_columns_
        # (X - median) / scale, in the copy the columns' selection makes (no temporaries the matrix's size)
        scaled = X[:, kept].astype(np.float64, copy=False)
        scaled -= self.medians_[kept]
        scaled /= self.scales_[kept]
        return scaled


def ensemble_scores(X_train, X_score=None, **params) -> np.ndarray:
    """Fit an ``AnomalyEnsemble(**params)`` on ``X_train`` and score ``X_score`` (default: ``X_train``).

    Returns one score per row in [0, 1], higher = more anomalous.
    """
    model = AnomalyEnsemble(**params).fit(X_train)
    return model.score_samples(X_train if X_score is None else X_score)


_CBLOF_DOC = """pyod's CBLOF, value for value, with each row's distance to its large cluster's centre summed by numpy in
the order pyod's numba kernel sums it (column after column): loading that compiled kernel cost about a
second of CPU in every process that fitted a CBLOF."""


def _cblof_decision_function(self, X, labels):
    """``_CBLOF._decision_function`` (see ``_CBLOF_DOC``)."""
    from scipy.spatial.distance import cdist

    scores = np.zeros([X.shape[0], ])
    small_indices = np.where(np.isin(labels, self.small_cluster_labels_))[0]
    large_indices = np.where(np.isin(labels, self.large_cluster_labels_))[0]
    if small_indices.shape[0] != 0:
        scores[small_indices] = np.min(cdist(X[small_indices, :], self._large_cluster_centers), axis=1)
    # in blocks of rows, each row's distance alone (pyod takes every row's centre at once: two more matrices)
    for start in range(0, large_indices.shape[0], ECOD_CHUNK_ROWS):
        rows = large_indices[start: start + ECOD_CHUNK_ROWS]
        scores[rows] = _row_distances(X[rows, :], self.cluster_centers_[labels[rows]])
    if self.use_weights:
        scores = scores * self.cluster_sizes_[labels]
    return scores.ravel()


def _row_distances(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Euclidean distance of each row of ``X`` to the same row of ``Y``, as pyod's
    ``pairwise_distances_no_broadcast`` computes it (its numba kernel sums the squares one column after the
    other; numpy's own row sums would pair them and differ in the last bits)."""
    X, Y = check_array(X), check_array(Y)
    if X.shape != Y.shape:
        raise ValueError(f"row distances of matrices with different shapes {X.shape} and {Y.shape}")
    squares = np.square(Y - X)
    total = squares[:, 0].copy()
    for j in range(1, squares.shape[1]):
        total += squares[:, j]
    return np.sqrt(total)


def _fit_iforest(detector: IForest, X: np.ndarray,
                 distinct: tuple[np.ndarray, np.ndarray] | None = None) -> None:
    """pyod ``IForest.fit``, value for value, with each distinct row scored once instead of every row twice.

    scikit-learn's forest, given pyod's contamination, scores every training row to place its offset,
    and pyod then scores them all again for ``decision_scores_``. The forest is grown the same (the
    contamination only moves the offset), the distinct rows are scored once, and offset and
    ``decision_scores_`` follow from those scores with pyod's arithmetic (decision = score - offset,
    inverted): on a million-line ledger's invoices a quarter of the work. ``distinct``: ``_distinct_rows(X)``,
    if the caller has them.
    """
    from pyod.utils.utility import invert_order
    from sklearn.ensemble import IsolationForest

    X = check_array(X)
    detector._set_n_classes(None)
    detector.detector_ = IsolationForest(
        n_estimators=detector.n_estimators, max_samples=detector.max_samples, contamination="auto",
        max_features=detector.max_features, bootstrap=detector.bootstrap, n_jobs=detector.n_jobs,
        random_state=detector.random_state, verbose=detector.verbose)
    detector.detector_.fit(X=X, y=None, sample_weight=None)
    rows, inverse = _distinct_rows(X) if distinct is None else distinct
    scores = detector.detector_.score_samples(rows)[inverse]
    detector.detector_.contamination = detector.contamination
    detector.detector_.offset_ = np.percentile(scores, 100.0 * detector.contamination)
    detector.decision_scores_ = invert_order(scores - detector.detector_.offset_)
    detector._process_decision_scores()


def _fit_ecod(detector: ECOD, X: np.ndarray, trained: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """pyod ``ECOD.fit``, value for value, from the training columns sorted once (``trained``: ``X``'s columns
    sorted, if the caller has them: an array, or ``_ScaledColumns`` made where read).

    Returns the sorted columns (a batch's values are counted among them) and pyod's ``decision_function``
    of the training matrix itself (pooled with itself: the same counts twice), made from the counts
    fitting made.
    """
    X = check_array(X)
    detector._set_n_classes(None)
    # Column-major: each column's binary searches run on contiguous memory.
    # the skewness first: its temporaries do not land on top of the counts
    single = np.nan_to_num(_column_skew(X))
    trained = np.asfortranarray(np.sort(X, axis=0)) if trained is None else trained
    below, under = _ecod_counts(trained, X)
    detector.decision_scores_ = _ecod_outlyingness(below, under, X.shape[0], np.sign(single))
    detector.X_train = X
    detector._process_decision_scores()
    below *= 2
    under *= 2
    return trained, _ecod_outlyingness(below, under, 2 * X.shape[0], _doubled_skew_sign(X, single))


class _ScaledColumns:
    """The columns of ``_scale(columns)`` one at a time (``[:, j]``), each value what ``_scale`` gives: the
    arithmetic is element by element."""

    def __init__(self, columns: np.ndarray, kept: np.ndarray, medians: np.ndarray, scales: np.ndarray):
        self.columns, self.kept, self.medians, self.scales = columns, kept, medians, scales
        self.shape = (columns.shape[0], kept.size)

    def __getitem__(self, key) -> np.ndarray:
        rows, j = key
        if rows != slice(None):
            raise IndexError("only whole columns ([:, j])")
        column = self.columns[:, self.kept[j]] - self.medians[self.kept[j]]
        column /= self.scales[self.kept[j]]
        return column


def _ecod_counts(trained: np.ndarray, Z: np.ndarray, batch: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Per value of ``Z``: how many of the sorted training column's values (plus the sorted ``batch``'s)
    are at or below it, and how many are below it (row-major: ECOD sums each row's outlyingness in that order;
    32-bit where twice the pooled rows fit, the counts of a whole ledger's invoices taking half the memory)."""
    pooled = trained.shape[0] + (0 if batch is None else batch.shape[0])
    dtype = np.int32 if 2 * pooled < np.iinfo(np.int32).max else np.intp
    below = np.empty(Z.shape, dtype=dtype)
    under = np.empty(Z.shape, dtype=dtype)
    for j in range(Z.shape[1]):
        column, ordered = Z[:, j], trained[:, j]
        counted = _counts_among_sorted(ordered, column) if batch is None else None
        if counted is not None:
            below[:, j], under[:, j] = counted
            continue
        below[:, j] = np.searchsorted(ordered, column, side="right")
        under[:, j] = np.searchsorted(ordered, column, side="left")
        if batch is not None:
            below[:, j] += np.searchsorted(batch[:, j], column, side="right")
            under[:, j] += np.searchsorted(batch[:, j], column, side="left")
    return below, under


def _counts_among_sorted(ordered: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Per value, how many of the sorted ``ordered`` are at or below it and how many below it, when every value is
    one of them (None otherwise): the ends and starts of its run of equal values, found by one binary search
    among the distinct values instead of two among all (a few dozen distinct values in a column of flags, days or
    counts). The same counts as ``searchsorted`` right and left."""
    if ordered.size == 0:
        return None
    new = np.empty(ordered.shape, dtype=bool)
    new[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    distinct = ordered[starts]
    ends = np.append(starts[1:], ordered.size)
    where = np.searchsorted(distinct, values, side="left")
    np.minimum(where, distinct.size - 1, out=where)
    if not np.array_equal(distinct[where], values):  # a value not among them (or NaN): count it the long way
        return None
    return ends[where], starts[where]


def _column_skew(X: np.ndarray, below: np.ndarray | None = None) -> np.ndarray:
    """``scipy.stats.skew(X, axis=0)`` (of ``X`` with the rows ``below`` stacked under it, if given), value for
    value, two or three columns at a time: over the whole matrix it makes several n×d temporaries (a gigabyte
    for three million invoices). A block of two or more columns is summed in the same order as the whole
    matrix; one column alone would be summed pairwise and differ in the last bits."""
    if X.ndim != 2:
        return skew(X if below is None else np.concatenate((X, below)), axis=0)
    n_columns = X.shape[1]
    bounds = [*range(0, n_columns - 2 if n_columns % 2 else n_columns, 2), n_columns] if n_columns >= 4 else [0, None]

    def block(first, last):
        return X[:, first:last] if below is None else np.concatenate((X[:, first:last], below[:, first:last]), axis=0)

    return np.concatenate([skew(block(first, last), axis=0) for first, last in itertools.pairwise(bounds)])


def _doubled_skew_sign(X: np.ndarray, single: np.ndarray | None = None) -> np.ndarray:
    """The sign of the skewness of ``X`` stacked on itself, as pyod takes it when ECOD scores its training
    matrix: the same sign as ``X``'s own, which rounding cannot flip unless the skewness is nearly 0 (then
    taken of the stacked matrix as pyod does)."""
    single = np.nan_to_num(_column_skew(X)) if single is None else single
    sign = np.sign(single)
    near_zero = np.abs(single) < 1e-9
    if near_zero.any():
        # only those columns stacked, with one more beside a lone one (two or more columns sum in the same order)
        columns = np.flatnonzero(near_zero)
        if columns.size == 1 and X.shape[1] > 1:
            columns = np.array(sorted({int(columns[0]), 0 if columns[0] else 1}))
        stacked = np.concatenate((X[:, columns], X[:, columns]), axis=0)
        doubled = np.nan_to_num(_column_skew(stacked))
        sign[columns] = np.where(near_zero[columns], np.sign(doubled), sign[columns])
    return sign


# Rows whose ECOD outlyingness (and CBLOF's distances) are computed at a time: the intermediate matrices of
# a whole ledger's invoices would take a gigabyte at ten million lines; each row's value is the same.
ECOD_CHUNK_ROWS = 65_536


def _ecod_outlyingness(at_or_below: np.ndarray, under: np.ndarray, n_pooled: int,
                       skewness: np.ndarray) -> np.ndarray:
    """ECOD's outlyingness of each row, as pyod computes it, from each value's counts among the
    ``n_pooled`` pooled values (at or below it; below it).

    Per column the empirical CDF of the pooled values (pyod's ``column_ecdf``: ``linspace(1/N, 1, N)`` at
    the last of a run of equal values) from both ends, the sign of the pooled skewness choosing the side,
    summed over the columns, in pyod's order.
    """
    probabilities = np.linspace(np.ones(1) / n_pooled, np.ones(1), n_pooled)[:, 0]
    scores = np.empty(at_or_below.shape[0])
    for start in range(0, at_or_below.shape[0], ECOD_CHUNK_ROWS):
        rows = slice(start, start + ECOD_CHUNK_ROWS)
        U_l = -1 * np.log(probabilities[at_or_below[rows] - 1])
        U_r = -1 * np.log(probabilities[n_pooled - under[rows] - 1])
        U_skew = U_l * -1 * np.sign(skewness - 1) + U_r * np.sign(skewness + 1)
        outlying = np.maximum(U_l, U_r)
        outlying = np.maximum(U_skew, outlying)
        scores[rows] = outlying.sum(axis=1).ravel()
    return scores


def _as_matrix(X) -> np.ndarray:
    """``X`` (numpy array, pandas DataFrame or nested lists) as a float64 2-D array: the array itself when it
    is one (nothing here writes into it), else a copy."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (rows x features), got {X.ndim}-D")
    if X.shape[1] == 0:
        raise ValueError("X has no columns")
    return X


def _distinct_rows(Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of ``Z`` and, per row of ``Z``, its index among them.

    Rows are compared byte for byte, so only rows a member cannot tell apart are merged (0.0 and -0.0
    stay two rows).
    """
    Z = np.ascontiguousarray(Z)
    first, inverse = _distinct_index(Z)
    return Z[first], inverse


def _distinct_index(Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per distinct row of ``Z`` (byte for byte) the index of its first row, and per row of ``Z`` the index of
    its distinct row: what ``np.unique(keys, return_index=True, return_inverse=True)`` gives (the distinct rows
    in the order of their bytes), by its own steps without the copy of every row it flattens first."""
    Z = np.ascontiguousarray(Z)
    keys = Z.view(np.dtype((np.void, Z.dtype.itemsize * Z.shape[1]))).ravel()
    order = keys.argsort(kind="mergesort")  # stable: each distinct row's first index comes first
    new = np.empty(order.shape, dtype=bool)
    new[:1] = True
    # each row against the one before it in that order, a block at a time (the rows in order: another matrix)
    for start in range(1, order.size, ECOD_CHUNK_ROWS):
        ordered = keys[order[start - 1: start + ECOD_CHUNK_ROWS]]
        new[start: start + ECOD_CHUNK_ROWS] = ordered[1:] != ordered[:-1]
    first = order[new]
    inverse = np.empty(order.shape, dtype=np.intp)
    inverse[order] = np.cumsum(new) - 1
    return first, inverse


def _exponential_tail(values: np.ndarray, sorted_reference: np.ndarray, ecdf_tail: np.ndarray) -> np.ndarray:
    """Upper-tail probability of ``values``: the empirical one in the body, a fitted tail beyond.

    Beyond the reference's upper ``TAIL_FRACTION`` quantile ``u`` the probability is
    ``P(X > u) * exp(-(x - u) / mean excess over u)`` (peaks over threshold with an exponential
    tail). The empirical probability alone cannot fall below 1 / n, nor tell a value 3 sigma out
    from one 30 sigma out, and a cluster of equally extreme rows makes each look only as rare as
    the cluster is large; the fitted tail keeps ranking them by how far out they are.
    """
    n_ref = sorted_reference.size
    threshold = sorted_reference[int(np.ceil((1.0 - TAIL_FRACTION) * n_ref)) - 1]
    excess = sorted_reference[sorted_reference > threshold] - threshold
    if excess.size == 0:  # nothing above the threshold (a mostly-constant column): no tail to fit
        return ecdf_tail
    at_threshold = (excess.size + 1) / (n_ref + 1)
    beyond = values > threshold
    fitted = at_threshold * np.exp(-(values[beyond] - threshold) / excess.mean())
    tail = ecdf_tail.copy()
    tail[beyond] = fitted
    return tail


def _robust_scales(X: np.ndarray) -> np.ndarray:
    """Per column a robust standard deviation; 0 marks a column constant in ``X``.

    IQR / 1.349 where the IQR is positive; for columns that are mostly one value (IQR 0, e.g. a
    count that is usually zero) the 1st-99th percentile range / 4.653, then the standard deviation.
    (Both ratios equal the standard deviation for normal data.) Measured on ADBench, falling back
    straight to the standard deviation let such sparse columns dominate the neighbour distances.
    """
    q01, q25, q75, q99 = np.percentile(X, [1, 25, 75, 99], axis=0)
    scales = (q75 - q25) / 1.349
    scales = np.where(scales > 0, scales, (q99 - q01) / 4.653)
    return np.where(scales > 0, scales, X.std(axis=0))


def _finite_scores(scores: np.ndarray) -> np.ndarray:
    """Raw member scores with NaN as least and +-inf clipped, so ranks stay well defined."""
    scores = np.asarray(scores, dtype=np.float64).ravel()
    largest = np.finfo(np.float64).max
    return np.nan_to_num(scores, nan=-largest, posinf=largest, neginf=-largest)
