"""Training one model version: feature selection, checks, seeded split, fit, held-out scoring.

The held-out rows with the model's predictions become the version's reference, so they are
returned whole (`test_frame`) alongside the test metrics.
"""

from __future__ import annotations

import math
import warnings as pywarnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import is_classifier
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from mlmon.errors import NodeError, did_you_mean
from mlmon.metrics.labels import canonical_label
from mlmon.metrics.performance import classification_metrics, positive_label, regression_metrics
from mlmon.ml.estimators import Task, build_estimator, column_kinds, make_pipeline, task_of
from mlmon.ml.fingerprints import data_fingerprint, fingerprint_columns, row_fingerprints
from mlmon.ml.scoring import PREDICTION_COLUMN, PROBA_PREFIX, model_input, predict_frame

__all__ = ["TrainSpec", "TrainedModel", "train"]

MINORITY_SHARE = 0.05  # below this share of rows a class gets a warning
MISSING_SHARE = 0.5  # above this share of missing values a feature gets a warning


@dataclass(frozen=True)
class TrainSpec:
    """What a `models:` entry asks for."""

    target: str
    features: Sequence[str] | None
    exclude: Sequence[str]
    estimator: str
    params: dict[str, Any]
    test_size: float = 0.2
    seed: int = 0
    categorical: Sequence[str] = ()
    positive_class: Any = None
    threshold: float = 0.5


@dataclass
class TrainedModel:
    """A fitted version: its pipeline, what it was trained on, and its held-out evaluation."""

    pipeline: Any
    task: Task
    features: list[str]
    numeric: list[str]
    categorical: list[str]
    classes: list[Any] | None  # as the model knows them (pipeline.classes_), native Python values
    target: str
    test_frame: pd.DataFrame  # held-out rows: features, target, proba_<class>..., prediction
    metrics: dict[str, float | None]
    n_train: int
    n_test: int
    warnings: list[str] = field(default_factory=list)
    positive_class: Any = None  # binary only: the resolved positive label
    threshold: float = 0.5
    # Row fingerprints (mlmon.ml.fingerprints) of the rows the model was fitted on, and a digest
    # of every labelled row it was given: what a fair champion/challenger comparison leaves out.
    train_fingerprints: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    data_fingerprint: str | None = None


def _select_features(frame: pd.DataFrame, spec: TrainSpec) -> list[str]:
    columns = [str(c) for c in frame.columns]
    if spec.features is not None:
        features = list(spec.features)
        missing = [c for c in features if c not in columns]
        if missing:
            hint = did_you_mean(missing[0], columns)
            raise NodeError(
                f"feature column(s) {', '.join(map(repr, missing))} are not in the training data; "
                f"its columns: {', '.join(columns)}",
                hint=hint,
            )
        if spec.target in features:
            raise NodeError(f"the target '{spec.target}' is also listed as a feature")
    else:
        excluded = set(spec.exclude) | {spec.target}
        features = [c for c in columns if c not in excluded]
    if not features:
        raise NodeError("the model has no feature column left", hint="check `features:` / `exclude:`")
    clashes = [c for c in features + [spec.target] if c == PREDICTION_COLUMN or c.startswith(PROBA_PREFIX)]
    if clashes:
        raise NodeError(
            f"column(s) {', '.join(map(repr, clashes))} clash with the model's output columns "
            f"({PROBA_PREFIX}<class>, {PREDICTION_COLUMN})",
            hint="rename them, or exclude them if they are an earlier model's output",
        )
    return features


def _class_labels(y: pd.Series) -> np.ndarray:
    """Labels in the form the model will keep: 0.0/1.0 read from a nullable column become 0/1."""
    if pd.api.types.is_bool_dtype(y.dtype):
        return y.to_numpy(dtype=bool)
    if pd.api.types.is_integer_dtype(y.dtype):
        return y.to_numpy(dtype=np.int64)
    if pd.api.types.is_float_dtype(y.dtype):
        values = y.to_numpy(dtype=np.float64)
        return values.astype(np.int64) if np.all(np.mod(values, 1) == 0) else values
    values = y.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(values, skipna=True) != "string":
        # Mixed types cannot be sorted into classes_; their text can.
        values = np.array([canonical_label(v) for v in values], dtype=object)
    return values


def _target_values(y: pd.Series, classifier: bool, target: str) -> np.ndarray:
    if classifier:
        return _class_labels(y)
    try:
        return pd.to_numeric(y, errors="raise").to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise NodeError(f"target '{target}' has type {y.dtype}; a regressor needs numbers") from exc


def _seed_estimator(estimator: Any, seed: int) -> None:
    """Give every unset `random_state` the model's seed, so a training is reproducible."""
    get_params = getattr(estimator, "get_params", None)
    if get_params is None:
        return
    unset = {k: seed for k, v in get_params(deep=True).items() if k.split("__")[-1] == "random_state" and v is None}
    if unset:
        estimator.set_params(**unset)


def _split(
    n: int, y: np.ndarray, spec: TrainSpec, classifier: bool, notes: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(spec.test_size, bool) or not (0.0 < float(spec.test_size) < 1.0):
        raise NodeError(f"test_size must be a fraction between 0 and 1, got {spec.test_size!r}")
    n_test = math.ceil(float(spec.test_size) * n)
    if n_test < 1 or n - n_test < 1:
        raise NodeError(f"{n} labelled rows are too few to hold out a test set of {spec.test_size:.0%}")
    stratify = None
    if classifier:
        _, counts = np.unique(y.astype(str) if y.dtype == object else y, return_counts=True)
        if counts.min() >= 2 and min(n_test, n - n_test) >= len(counts):
            stratify = y
        else:
            notes.append("the train/test split is not stratified: a class has too few rows")
    index = np.arange(n)
    train_idx, test_idx = train_test_split(index, test_size=float(spec.test_size), random_state=spec.seed, stratify=stratify)
    return np.sort(train_idx), np.sort(test_idx)


def _diagnostics(data: pd.DataFrame, features: list[str], y: np.ndarray, classifier: bool) -> list[str]:
    notes = []
    for name in features:
        share = float(data[name].isna().mean())
        if share > MISSING_SHARE:
            notes.append(f"feature '{name}' is missing in {share:.0%} of the training rows")
    if classifier:
        labels, counts = np.unique(y.astype(str) if y.dtype == object else y, return_counts=True)
        for label, count in zip(labels, counts):
            if count / len(y) < MINORITY_SHARE:
                notes.append(f"class {canonical_label(label)!r} is only {count / len(y):.1%} of the training rows")
    return notes


def train(frame: pd.DataFrame, spec: TrainSpec) -> TrainedModel:
    """Fit `spec.estimator` behind automatic preprocessing and evaluate it on a held-out split."""
    if frame is None or frame.shape[0] == 0 or frame.shape[1] == 0:
        raise NodeError("the training data is empty")
    columns = [str(c) for c in frame.columns]
    if spec.target not in columns:
        raise NodeError(
            f"target '{spec.target}' is not a column of the training data; its columns: {', '.join(columns)}",
            hint=did_you_mean(spec.target, columns),
        )
    features = _select_features(frame, spec)
    estimator = build_estimator(spec.estimator, spec.params)
    _seed_estimator(estimator, spec.seed)

    notes: list[str] = []
    present = frame[spec.target].notna().to_numpy(dtype=bool)
    if not present.any():
        raise NodeError(f"target '{spec.target}' is null in all {len(frame)} rows")
    if not present.all():
        notes.append(f"dropped {int((~present).sum())} of {len(frame)} rows whose target '{spec.target}' is null")
    data = frame.loc[present, features + [spec.target]].reset_index(drop=True)
    classifier = bool(is_classifier(estimator))
    if classifier and not hasattr(estimator, "predict_proba"):
        # Scores, ranking metrics, prediction drift and CBPE all read class probabilities.
        raise NodeError(
            f"{spec.estimator} gives no class probabilities (it has no predict_proba as configured)",
            hint="use a classifier with predict_proba, set probability: true (SVC), or wrap it in "
                 "sklearn.calibration.CalibratedClassifierCV",
        )
    y = _target_values(data[spec.target], classifier, spec.target)
    task = task_of(estimator, y)
    if classifier and len(pd.unique(y)) < 2:
        raise NodeError(
            f"target '{spec.target}' has a single class ({canonical_label(y[0])!r}) in {len(y)} rows; "
            "a classifier needs at least 2"
        )
    if spec.positive_class is not None and task != "binary":
        notes.append(f"positive_class is ignored: the model is {task}")
    # A user's pipeline does its own preprocessing; the kinds only tell drift how to compare columns.
    numeric, categorical = column_kinds(data, features, spec.categorical, strict=not isinstance(estimator, Pipeline))
    pipeline = make_pipeline(estimator, numeric, categorical)
    notes += _diagnostics(data, features, y, classifier)

    train_idx, test_idx = _split(len(data), y, spec, classifier, notes)
    if classifier and len(pd.unique(y[train_idx])) < 2:
        raise NodeError("the training split holds a single class: add rows of the other classes")
    train_rows = data.iloc[train_idx].reset_index(drop=True)
    fingerprints = row_fingerprints(data, fingerprint_columns(features, spec.target), spec.target)
    with pywarnings.catch_warnings(record=True) as caught:
        pywarnings.simplefilter("always")
        try:
            pipeline.fit(model_input(pipeline, train_rows, features), y[train_idx])
        except (ValueError, TypeError) as exc:
            raise NodeError(f"training {spec.estimator} failed: {exc}") from exc
    for message in dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught):
        notes.append(f"while fitting: {message}")

    classes = np.asarray(pipeline.classes_).tolist() if classifier else None
    positive = positive_label(classes, spec.positive_class) if task == "binary" else None
    test_rows = data.iloc[test_idx].reset_index(drop=True)
    test_rows[spec.target] = y[test_idx]
    scored = predict_frame(pipeline, test_rows, features, classes, task, spec.threshold, positive)
    test_frame = pd.concat([test_rows, scored], axis=1)

    if classifier:
        proba = scored[[c for c in scored.columns if c != PREDICTION_COLUMN]].to_numpy()
        values = classification_metrics(y[test_idx], proba, classes, spec.threshold, positive)
    else:
        values = regression_metrics(y[test_idx], scored[PREDICTION_COLUMN].to_numpy())
    return TrainedModel(
        pipeline=pipeline,
        task=task,
        features=features,
        numeric=numeric,
        categorical=categorical,
        classes=classes,
        target=spec.target,
        test_frame=test_frame,
        # Global metrics only: the registry keeps one value per name (per-class ones live in the store).
        metrics={m.metric: m.value for m in values if m.feature is None},
        n_train=len(train_idx),
        n_test=len(test_idx),
        warnings=notes,
        positive_class=positive,
        threshold=spec.threshold,
        train_fingerprints=fingerprints[train_idx],
        data_fingerprint=data_fingerprint(fingerprints),
    )
