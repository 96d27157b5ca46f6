"""Multivariate data drift by domain classifier, and model feature importance.

A random forest learns to tell reference rows from current rows; its held-out accuracy is the
drift score (0.5: indistinguishable, 1.0: fully separable), and its impurity importances say
which features give the two samples away. The caller samples from the warehouse; these
functions take pandas frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import sparse

from mlmon.metrics.importance import permutation_importance_means, score_function
from mlmon.metrics.stats import binomial_pvalue_greater, wilson_interval
from mlmon.metrics.types import MetricValue

__all__ = [
    "DomainDriftResult",
    "data_drift",
    "model_importance",
    "importance_metrics",
    "MIN_ROWS_PER_SIDE",
    "MAX_CATEGORIES",
]

# Below this a 30% test split holds a handful of rows and the accuracy is pure noise.
MIN_ROWS_PER_SIDE = 10
# One-hot width per categorical feature; rarer levels share one "infrequent" column so that an
# ID-like column cannot blow the design matrix up to n × n.
MAX_CATEGORIES = 100
# Beyond this many encoded columns the matrix stays sparse to bound memory.
_DENSE_MAX_COLUMNS = 512
_TEST_SHARE = 0.3
_FOREST_SEED = 1337
_MISSING_LEVEL = "\x00<missing>"
# sklearn trees work in float32; larger magnitudes raise, so they are clipped.
_FLOAT32_LIMIT = float(np.finfo(np.float32).max) / 2.0
_IMPORTANCE_MAX_ROWS = 2_000
_IMPORTANCE_REPEATS = 3
# Training rows from which the forest's trees are grown on every core (below, thread start-up
# and hand-off cost more than they save, and on a busy machine far more).
_PARALLEL_MIN_ROWS = 10_000


@dataclass(frozen=True)
class DomainDriftResult:
    """Outcome of the domain classifier; `value` is None (with a `reason`) when it could not run."""

    value: float | None
    lower: float | None = None
    upper: float | None = None
    pvalue: float | None = None
    importance: Mapping[str, float] = field(default_factory=dict)
    n_per_side: int = 0
    n_test: int = 0
    n_correct: int = 0
    reason: str | None = None
    skipped_features: tuple[str, ...] = ()

    def metrics(self) -> list[MetricValue]:
        out = [
            MetricValue("data_drift", self.value, lower=self.lower, upper=self.upper),
            MetricValue("data_drift_pvalue", self.pvalue),
        ]
        out.extend(importance_metrics(self.importance, "drift_importance"))
        return out


def importance_metrics(importances: Mapping[str, float], metric: str) -> list[MetricValue]:
    """One per-feature metric row per importance (e.g. `drift_importance`, `model_importance`)."""
    return [MetricValue(metric, float(v), feature=f) for f, v in importances.items()]


def _numeric_block(frame: pd.DataFrame, columns: list[str], train: np.ndarray) -> np.ndarray:
    block = np.empty((len(frame), len(columns)), dtype=np.float64)
    for j, col in enumerate(columns):
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        values = np.where(np.isfinite(values), values, np.nan)
        # Impute with the training mean only, so test rows do not leak into the model; a column
        # with no value in training becomes 0 (constant, hence ignored by the forest).
        train_values = values[train]
        mean = float(np.nanmean(train_values)) if np.isfinite(train_values).any() else 0.0
        block[:, j] = np.clip(np.where(np.isnan(values), mean, values), -_FLOAT32_LIMIT, _FLOAT32_LIMIT)
    return block


def _categorical_levels(series: pd.Series) -> pd.Series:
    # Strings throughout: mixed types (1 vs "1") would otherwise break the level ordering, and
    # a missing value is a level of its own because missingness itself can be the drift.
    obj = series.astype(object)
    return obj.astype(str).where(obj.notna(), _MISSING_LEVEL).reset_index(drop=True)


def _one_hot(levels: pd.Series, train: np.ndarray) -> sparse.csr_matrix:
    """One-hot on the training rows' levels; levels first seen outside training encode as zeros.

    When training holds more than MAX_CATEGORIES levels the rarest share one last column.
    """
    counts = levels[train].value_counts(sort=False)
    if len(counts) > MAX_CATEGORIES:
        ranked = counts.sort_index().sort_values(ascending=False, kind="stable")
        frequent = ranked.index[: MAX_CATEGORIES - 1]
        rare = ranked.index[MAX_CATEGORIES - 1 :]
    else:
        frequent, rare = counts.index, counts.index[:0]
    frequent = frequent.sort_values()
    cols = pd.Index(frequent).get_indexer(levels)
    if len(rare):
        cols[levels.isin(rare).to_numpy()] = len(frequent)
    width = len(frequent) + (1 if len(rare) else 0)
    rows = np.flatnonzero(cols >= 0)
    data = np.ones(len(rows), dtype=np.float64)
    return sparse.csr_matrix((data, (rows, cols[rows])), shape=(len(levels), width))


def _design_matrix(
    frame: pd.DataFrame, numeric: list[str], categorical: list[str], train: np.ndarray
) -> tuple[Any, list[str]]:
    """Encoded matrix and, per encoded column, the original feature it came from."""
    blocks: list[Any] = []
    owners: list[str] = []
    if numeric:
        blocks.append(sparse.csr_matrix(_numeric_block(frame, numeric, train)))
        owners.extend(numeric)
    for col in categorical:
        encoded = _one_hot(_categorical_levels(frame[col]), train)
        blocks.append(encoded)
        owners.extend([col] * encoded.shape[1])
    matrix = sparse.hstack(blocks, format="csr")
    if matrix.shape[1] <= _DENSE_MAX_COLUMNS:
        matrix = matrix.toarray()
    return matrix, owners


def _cut(frame: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    if len(frame) == n:
        return frame.reset_index(drop=True)
    rows = np.sort(rng.choice(len(frame), size=n, replace=False))
    return frame.iloc[rows].reset_index(drop=True)


def data_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str],
    drift_sample: int = 10_000,
    seed: int = 1337,
) -> DomainDriftResult:
    """Domain-classifier drift between two samples (SPEC §4, "Data drift (global)")."""
    # Imported here: scikit-learn's ensemble package costs a third of a second, which an
    # evaluation with `data_drift: false` never needs.
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import train_test_split

    categorical_set = set(categorical)
    wanted_num = list(dict.fromkeys(c for c in numeric if c not in categorical_set))
    wanted_cat = list(dict.fromkeys(categorical))
    both = set(reference.columns) & set(current.columns)
    num = [c for c in wanted_num if c in both]
    cat = [c for c in wanted_cat if c in both]
    skipped = tuple(c for c in wanted_num + wanted_cat if c not in both)
    if not num and not cat:
        return DomainDriftResult(None, reason="no feature present on both sides", skipped_features=skipped)

    n = min(len(reference), len(current), int(drift_sample))
    if n < MIN_ROWS_PER_SIDE:
        return DomainDriftResult(
            None,
            n_per_side=n,
            reason=f"{n} rows on the smaller side (< {MIN_ROWS_PER_SIDE}): too few to train a domain classifier",
            skipped_features=skipped,
        )

    rng = np.random.default_rng(seed)
    features = num + cat
    combined = pd.concat(
        [_cut(reference[features], n, rng), _cut(current[features], n, rng)], ignore_index=True
    )
    labels = np.repeat(np.array([0, 1], dtype=np.int8), n)
    train, test = train_test_split(
        np.arange(2 * n), test_size=_TEST_SHARE, stratify=labels, random_state=seed
    )
    train_mask = np.zeros(2 * n, dtype=bool)
    train_mask[train] = True
    matrix, owners = _design_matrix(combined, num, cat, train_mask)

    # The trees are the same whatever n_jobs; threads only pay off on the larger samples.
    forest = RandomForestClassifier(
        n_estimators=100, max_depth=5, random_state=_FOREST_SEED,
        n_jobs=-1 if len(train) >= _PARALLEL_MIN_ROWS else 1,
    )
    forest.fit(matrix[train], labels[train])
    n_test = len(test)
    n_correct = int((forest.predict(matrix[test]) == labels[test]).sum())

    importance = dict.fromkeys(features, 0.0)
    for owner, imp in zip(owners, forest.feature_importances_):
        importance[owner] += float(imp)
    lower, upper = wilson_interval(n_correct, n_test)
    return DomainDriftResult(
        value=n_correct / n_test,
        lower=lower,
        upper=upper,
        pvalue=binomial_pvalue_greater(n_correct, n_test, 0.5),
        importance=importance,
        n_per_side=n,
        n_test=n_test,
        n_correct=n_correct,
        skipped_features=skipped,
    )


def model_importance(
    pipeline_or_estimator: Any,
    X: pd.DataFrame,
    y: Any,
    features: Sequence[str],
    seed: int = 0,
    scoring: str | None = None,
) -> dict[str, float]:
    """Permutation importance of each feature for a fitted model (any estimator or pipeline).

    The drop in the model's score (its own `score` unless `scoring` is given) when a feature is
    shuffled, averaged over 3 shuffles of at most 2,000 rows, floored at 0. Rows without a target
    are left out. Features the model does not read get 0; features absent from `X` are left out.
    """
    target = pd.Series(np.asarray(y), index=X.index)
    keep = target.notna().to_numpy()
    # Dropping the gaps of an object column leaves plain ints or strings, which the scorers need.
    X, target = X.loc[keep], target.loc[keep].infer_objects()
    if len(X) < 2:
        return {}
    if len(X) > _IMPORTANCE_MAX_ROWS:
        rows = np.sort(np.random.default_rng(seed).choice(len(X), _IMPORTANCE_MAX_ROWS, replace=False))
        X, target = X.iloc[rows], target.iloc[rows]

    # Give the model exactly the columns it was fitted on, so a pipeline's ColumnTransformer
    # finds what it expects and no time goes into shuffling columns it never reads.
    fitted_on = getattr(pipeline_or_estimator, "feature_names_in_", None)
    if fitted_on is not None and all(c in X.columns for c in fitted_on):
        columns = [str(c) for c in fitted_on]
    else:
        columns = [c for c in features if c in X.columns]
    if not columns:
        return {}
    # A model fitted on a bare array warns on every call if handed a DataFrame.
    data = X[columns] if fitted_on is not None else X[columns].to_numpy()
    score = score_function(pipeline_or_estimator) if scoring is None else None
    if score is not None:
        means = permutation_importance_means(pipeline_or_estimator, data, target.to_numpy(), _IMPORTANCE_REPEATS,
                                             seed, score)
    else:  # a model with a score of its own, or another scorer: scikit-learn's call per shuffle
        from sklearn.inspection import permutation_importance

        means = permutation_importance(pipeline_or_estimator, data, target.to_numpy(), scoring=scoring,
                                       n_repeats=_IMPORTANCE_REPEATS, random_state=seed).importances_mean
    # A negative mean drop is shuffling noise on a feature the model ignores, not "anti-importance".
    by_column = {c: max(0.0, float(v)) for c, v in zip(columns, means)}
    return {f: by_column.get(f, 0.0) for f in features if f in X.columns}
