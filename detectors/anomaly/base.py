"""What the three behaviour-anomaly detectors share: fit the ensemble, pick the tail, name the drivers.

A subclass builds its population (one row per entity, ``_population``), says which columns are its
features (``features``) and computes the findings of the kept rows (``_findings``; the pattern's wording
module writes their text). This module turns the population into
the ensemble's matrix (harmless sides set to the median), fits :class:`audit.methods.anomaly.AnomalyEnsemble`
on every row, keeps the top tail, and for each kept row names the features that drove it, with the
value, the population's typical value, how rare the value is, and the money it puts at risk.
"""

from __future__ import annotations

import abc
import warnings
from typing import ClassVar

import numpy as np
import pandas as pd

from analyses.anomaly.priced_invoices import DEFAULT_TIERS, volume_tiers_of
from audit.detector import Detector, empty_findings
from audit.methods.anomaly import PYOD_MODULES, AnomalyEnsemble
from detectors.anomaly.features import Feature

# A driver must be at least this surprising (-log10 of its two-sided tail probability: 1 = the outer
# 10 %) to be named beside the strongest one.
DRIVER_MIN_SURPRISE = 1.0
TOP_DRIVERS = 3


class BehaviourAnomaly(Detector):
    """Base of the anomaly detectors (abstract: not registered itself)."""

    family = "anomaly"
    # An anomaly is a lead for review, not a proven loss; see the subclasses' docstrings and docs/anomaly.md.
    rank_weight = 0.001
    features: ClassVar[tuple[Feature, ...]] = ()
    population_words: ClassVar[str] = "rows"
    # The column that caps the money at risk (the entity's own sales value).
    cap_column: ClassVar[str] = "net"
    cap_words: ClassVar[str] = "month's net sales"
    # The posted invoices priced once for all three (the price-list join is most of their relational work).
    reads_analyses = ("ANO-00",)
    # pyod's models are imported when the ensemble is first fitted (audit.methods.anomaly): a worker process
    # imports them while the data is read and runs the anomaly detectors first (audit.lanes).
    imports = PYOD_MODULES

    def __init__(self, contamination: float = 0.01, min_score: float = 0.9, min_rows: int = 30,
                 max_findings: int = 25, min_surprise: float = 2.0, random_state: int = 0,
                 volume_tiers: tuple = DEFAULT_TIERS, combine: str = "median_rank"):
        self.contamination = contamination
        self.min_score = min_score
        self.min_rows = min_rows
        self.max_findings = max_findings
        self.min_surprise = min_surprise
        self.random_state = random_state
        self.volume_tiers = volume_tiers
        # The median of the five members' ranks: a row needs three members to agree. The mean lets one
        # member that cannot see a value drag it down: robust covariance collapses on near-constant
        # columns (one invoice due 170 days late among thousands due on their terms: rank 0.16).
        self.combine = combine

    @classmethod
    def params_from_policy(cls, policy):
        # Discount earned by the policy's volume tiers is not behaviour: only the discount beyond it counts.
        return {"volume_tiers": volume_tiers_of(policy)}

    # ------------------------------------------------------------ what a subclass provides
    @abc.abstractmethod
    def _population(self, data) -> pd.DataFrame:
        """One row per entity, sorted by a stable key, with every column of ``features``."""

    @abc.abstractmethod
    def _findings(self, data, flagged: pd.DataFrame) -> list[dict]:
        """The findings of the flagged rows (``flagged`` holds the population columns and ``_anomaly``)."""

    def feature_words(self, feature: Feature) -> str:
        return feature.words

    # ------------------------------------------------------------ the shared part
    def find(self, data) -> pd.DataFrame:
        population = self._population(data)
        self.n_rows_ = len(population)
        self.eligible_records_ = len(population)
        self.not_enough_data_ = self.note_ = ""
        self.skipped_members_ = {}
        if len(population) < self.min_rows:
            self.eligible_records_ = 0  # too few to say what is usual: nothing was judged
            self.not_enough_data_ = (f"{len(population)} {self.population_words}, fewer than the {self.min_rows} "
                                     "needed to say what is usual: no anomaly reported")
            self.note_ = self.not_enough_data_
            return empty_findings()
        raw = _Features(population, [f.name for f in self.features])
        typical = pd.Series({name: raw.median(name) for name in raw.names}, dtype=float)
        X = self._matrix(raw, typical)
        model = AnomalyEnsemble(combine=self.combine, random_state=self.random_state)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # a member that cannot fit is skipped, kept below
                # X is made for it: imputed and scaled in place, it becomes the model's training matrix
                model.fit(X, copy=False)
        except ValueError as error:  # every feature constant or missing: nothing to compare
            self.eligible_records_ = 0
            self.not_enough_data_ = self.note_ = f"no usable feature ({error})"
            return empty_findings()
        del X
        self.skipped_members_ = dict(model.skipped_detectors_)
        # The matrix it was fitted on; rows that cannot reach the cut-off score NaN (never candidates).
        scores, cutoff = model.top_tail(None, self.contamination, self.min_score, training=True)
        self.score_cutoff_ = cutoff
        candidates = np.flatnonzero(scores >= cutoff)
        if candidates.size == 0:
            return empty_findings()
        # The candidates' rows of the matrix made again (row-major, as rows taken from it were): fit scaled it
        chosen = np.ascontiguousarray(self._matrix(_Features(population.iloc[candidates], raw.names), typical))
        surprise = model.feature_contributions(chosen)
        member_ranks = model.member_ranks(chosen)
        # A value alone beyond every other of n rows has a two-sided tail of about 4 / (n + 1): in a small
        # population even the rarest value cannot reach the outer 1 %, so ask for what n rows can show.
        required = min(self.min_surprise, float(np.log10((len(population) + 1) / 4.0)))
        self.required_surprise_ = required
        kept = []
        for position, row in enumerate(candidates):
            if np.nanmax(surprise[position]) < required:
                continue  # unusual only as a combination: no feature to name, nothing an auditor can check
            kept.append((row, position))
        # The most anomalous first; ties by the population's order (its stable key).
        kept.sort(key=lambda item: (-round(float(scores[item[0]]), 12), item[0]))
        kept = kept[: self.max_findings]
        self.n_flagged_ = len(kept)
        if not kept:
            return empty_findings()
        rows = []
        for row, position in kept:
            drivers = self._drivers(population.iloc[row], raw, typical, surprise[position])
            rows.append({
                "_row": row, "_score": float(scores[row]), "_drivers": drivers,
                "_members": {name: round(float(ranks[position]), 4) for name, ranks in member_ranks.items()},
            })
        flagged = population.iloc[[r["_row"] for r in rows]].reset_index(drop=True)
        flagged["_anomaly"] = rows
        context = {"population": len(population), "cutoff": cutoff, "contamination": self.contamination}
        self.context_ = context
        found = self._findings(data, flagged)
        return pd.DataFrame(found) if found else empty_findings()

    def _matrix(self, raw: _Features | pd.DataFrame, typical: pd.Series) -> np.ndarray:
        """The ensemble's input: each feature's harmless side set to the population median (NaN stays NaN,
        for the ensemble to impute). Column-major, one column at a time (no frame of the features beside it)."""
        if isinstance(raw, pd.DataFrame):
            raw = _Features(raw, [f.name for f in self.features])
        matrix = np.empty((raw.n_rows, len(self.features)), dtype=float, order="F")
        for j, feature in enumerate(self.features):
            values = raw.column(feature.name)
            middle = typical[feature.name]
            if feature.direction == "high":
                values = np.where(values < middle, middle, values)
            elif feature.direction == "low":
                values = np.where(values > middle, middle, values)
            matrix[:, j] = values
        return matrix

    def _drivers(self, row: pd.Series, raw: _Features, typical: pd.Series, surprise: np.ndarray) -> list[dict]:
        order = np.argsort(-surprise, kind="stable")
        drivers = []
        for j in order:
            feature = self.features[j]
            value = row[feature.name]
            if pd.isna(value) or not np.isfinite(float(value)):
                continue
            if drivers and surprise[j] < DRIVER_MIN_SURPRISE:
                break
            column = raw.column(feature.name)
            column = column[~np.isnan(column)]
            middle = float(typical[feature.name])
            high = feature.direction == "high" or (feature.direction == "both" and value >= middle)
            rarer = (column >= value).mean() if high else (column <= value).mean()
            drivers.append({
                "feature": feature.name, "words": self.feature_words(feature), "unit": feature.unit,
                "direction": "high" if high else "low", "value": float(value), "typical": middle,
                "percentile": round(100.0 * (column < value).mean() + 50.0 * (column == value).mean(), 2),
                "rarer_share": float(rarer), "contribution": round(float(surprise[j]), 4),
                "money": self._money(feature, row, float(value), middle),
            })
            if len(drivers) == TOP_DRIVERS:
                break
        return drivers

    @staticmethod
    def _money(feature: Feature, row: pd.Series, value: float, typical: float) -> float:
        """The money a driver moves beyond the typical share (0 for features that are not shares of money)."""
        if feature.money is None:
            return 0.0
        base = row.get(feature.money)
        if base is None or pd.isna(base):
            return 0.0
        excess = abs(value - typical) if feature.direction == "both" else max(0.0, value - typical)
        return float(excess * max(0.0, float(base)))

    def risk_amount(self, row: pd.Series, drivers: list[dict]) -> float:
        total = sum(d["money"] for d in drivers)
        cap = row.get(self.cap_column)
        if cap is not None and pd.notna(cap):
            total = min(total, max(0.0, float(cap)))
        return float(total)

    def evidence(self, row: pd.Series, anomaly: dict, risk: float) -> dict:
        drivers = [{k: d[k] for k in ("feature", "words", "value", "typical", "percentile", "contribution",
                                      "direction", "money")} for d in anomaly["_drivers"]]
        return {
            "anomaly_score": anomaly["_score"], "score_cutoff": self.context_["cutoff"],
            "population": self.context_["population"], "population_unit": self.population_words,
            "contamination": self.contamination, "drivers": drivers,
            "features": {f.name: (None if pd.isna(row[f.name]) else float(row[f.name])) for f in self.features},
            "risk_amount": risk, "rank_weight": self.rank_weight,
            "skipped_members": sorted(self.skipped_members_),
            "traces": anomaly["_members"],
        }

    def facts(self, anomaly: dict, **more) -> dict:
        """What the wording needs beyond the evidence: the drivers in full (with unit and how rare the
        value is) and what caps the money at risk (``detectors/wording/anomaly_drivers.py``)."""
        return {"drivers": anomaly["_drivers"], "cap_words": self.cap_words, **more}


class _Features:
    """The population's feature columns as floats with +-inf read as missing, one column at a time: the matrix
    is the ensemble's only copy of them all."""

    def __init__(self, population: pd.DataFrame, names: list[str]):
        self.population = population
        self.names = names
        self.n_rows = len(population)

    def column(self, name: str) -> np.ndarray:
        values = self.population[name].to_numpy(dtype=float, na_value=np.nan)
        infinite = np.isinf(values)
        return np.where(infinite, np.nan, values) if infinite.any() else values

    def median(self, name: str) -> float:
        return float(pd.Series(self.column(name)).median(skipna=True))
