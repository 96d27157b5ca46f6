"""Estimators from import paths, and the automatic preprocessing put in front of them.

The preprocessing lives inside the saved sklearn Pipeline, so training and every later scoring
apply the same imputation and encoding. Values are first given a canonical form by
`prepare_features` (numbers as float64, categories as text), which keeps the artifact free of
any mlmon code: it loads with sklearn alone.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterable, Sequence
from difflib import get_close_matches
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import is_classifier

from mlmon.errors import NodeError, did_you_mean
from mlmon.metrics.labels import canonical_label
from mlmon.metrics.task import Task

__all__ = [
    "EstimatorError",
    "Task",
    "PREPROCESS_STEP",
    "MAX_CATEGORIES",
    "MISSING_CATEGORY",
    "build_estimator",
    "make_pipeline",
    "task_of",
    "column_kinds",
    "pipeline_columns",
    "prepare_features",
]

# The step name marks a pipeline mlmon built, so scoring can recover which columns are numeric.
PREPROCESS_STEP = "mlmon_preprocess"
MODEL_STEP = "model"
MAX_CATEGORIES = 50  # per column; rarer categories share one "infrequent" column
MISSING_CATEGORY = "__missing__"


class EstimatorError(NodeError):
    """The estimator named in a model cannot be built (bad import path, unknown or bad param).

    A NodeError so a training fails alone; the project loader may turn it into a ConfigError
    with the YAML location when it validates models before a build.
    """


def _public_names(module: Any) -> list[str]:
    return [n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n, None))]


def _sklearn_hint(name: str) -> str | None:
    """Where a class of that name really lives in sklearn, for paths like `sklearn.LogisticRegression`."""
    from sklearn.utils import all_estimators

    paths = {cls.__name__: f"{_public_module(cls)}.{cls.__name__}" for _, cls in all_estimators()}
    close = get_close_matches(name, list(paths), n=1, cutoff=0.6)
    return f"did you mean '{paths[close[0]]}'?" if close else None


def _public_module(cls: type) -> str:
    # sklearn.ensemble._forest.RandomForestClassifier is exported as sklearn.ensemble.X.
    public: list[str] = []
    for part in cls.__module__.split("."):
        if part.startswith("_"):
            break
        public.append(part)
    return ".".join(public)


def _resolve(import_path: str) -> Any:
    module_name, _, attr = import_path.rpartition(".")
    if not module_name or not attr:
        raise EstimatorError(
            f"estimator '{import_path}' is not an import path",
            hint="write it as module.ClassName, e.g. sklearn.ensemble.HistGradientBoostingClassifier",
        )
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # a user's module may fail with anything while it is imported
        hint = _sklearn_hint(attr) if import_path.startswith("sklearn") and isinstance(exc, ImportError) else None
        raise EstimatorError(f"cannot import module '{module_name}' for estimator '{import_path}': {exc}", hint=hint) from exc
    if not hasattr(module, attr):
        hint = did_you_mean(attr, _public_names(module))
        if hint:
            hint = hint.replace("'", f"'{module_name}.", 1)
        elif module_name.startswith("sklearn"):
            hint = _sklearn_hint(attr)
        raise EstimatorError(f"module '{module_name}' has no estimator '{attr}'", hint=hint)
    return getattr(module, attr)


def _param_names(factory: Any) -> list[str] | None:
    """The keyword arguments a factory takes, or None when it takes any (**kwargs)."""
    if isinstance(factory, type) and hasattr(factory, "_get_param_names"):
        return list(factory._get_param_names())
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    return [p.name for p in parameters if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]


def build_estimator(import_path: str, params: dict[str, Any] | None = None) -> Any:
    """An unfitted estimator from `module.Name`: a class, or a function returning an estimator
    (a full Pipeline, for instance), called with `params` as keyword arguments."""
    params = dict(params or {})
    factory = _resolve(import_path)
    if not callable(factory):
        raise EstimatorError(f"'{import_path}' is not a class or function")
    known = _param_names(factory)
    if known is not None:
        for name in params:
            if name not in known:
                raise EstimatorError(
                    f"estimator '{import_path}' has no parameter '{name}'",
                    hint=did_you_mean(name, known) or f"its parameters: {', '.join(sorted(known))}",
                )
    try:
        estimator = factory(**params)
    except (TypeError, ValueError) as exc:
        raise EstimatorError(f"cannot build estimator '{import_path}' with params {params}: {exc}") from exc
    if not (hasattr(estimator, "fit") and (hasattr(estimator, "predict") or hasattr(estimator, "predict_proba"))):
        raise EstimatorError(f"'{import_path}' did not give an estimator (no fit/predict methods)")
    validate = getattr(estimator, "_validate_params", None)
    if callable(validate):
        # sklearn checks values only in fit(); checking now reports them before any data is read.
        try:
            validate()
        except (TypeError, ValueError) as exc:
            raise EstimatorError(f"bad params for estimator '{import_path}': {exc}") from exc
    return estimator


def column_kinds(
    frame: pd.DataFrame, features: Sequence[str], categorical: Iterable[str] = (), *, strict: bool = True
) -> tuple[list[str], list[str]]:
    """Split features into (numeric, categorical), keeping the frame's order.

    A numeric dtype is numeric unless listed in `categorical`; strings, booleans and pandas
    categories are categorical. Dates have no automatic encoding: they must be excluded or
    listed as categorical (with `strict=False` they count as categorical).
    """
    forced = list(categorical)
    unknown = [c for c in forced if c not in features]
    if unknown:
        hint = did_you_mean(unknown[0], features)
        raise NodeError(f"categorical column(s) {', '.join(map(repr, unknown))} are not features of the model", hint=hint)
    numeric: list[str] = []
    cats: list[str] = []
    for name in features:
        dtype = frame[name].dtype
        if name in forced:
            cats.append(name)
        elif pd.api.types.is_bool_dtype(dtype):
            cats.append(name)
        elif pd.api.types.is_numeric_dtype(dtype):
            numeric.append(name)
        elif strict and (pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype)):
            raise NodeError(
                f"feature '{name}' has type {dtype}, which has no automatic preprocessing",
                hint="add it to `exclude:`, list it under `categorical:`, or derive a numeric column from it",
            )
        else:
            cats.append(name)
    return numeric, cats


def make_pipeline(estimator: Any, numeric: Sequence[str], categorical: Sequence[str]) -> Any:
    """The estimator behind automatic preprocessing; a Pipeline given as estimator is used as is.

    numeric: median imputation then standard scaling. categorical: missing values become their
    own category, then one-hot encoding with at most MAX_CATEGORIES columns per feature, where
    rare and unseen categories share the "infrequent" column so new values at scoring time work.
    """
    # Imported here: scoring (this module's other users) needs none of them.
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    if isinstance(estimator, Pipeline):
        return estimator
    transformers = []
    if numeric:
        transformers.append(
            ("numeric", Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]), list(numeric))
        )
    if categorical:
        encoder = OneHotEncoder(
            handle_unknown="infrequent_if_exist", max_categories=MAX_CATEGORIES, sparse_output=False
        )
        transformers.append(
            (
                "categorical",
                Pipeline(
                    [("impute", SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY)), ("encode", encoder)]
                ),
                list(categorical),
            )
        )
    # Dense output: several estimators (HistGradientBoosting among them) refuse sparse input.
    preprocess = ColumnTransformer(transformers, remainder="drop", sparse_threshold=0.0)
    return Pipeline([(PREPROCESS_STEP, preprocess), (MODEL_STEP, estimator)])


def pipeline_columns(pipeline: Any) -> tuple[list[str], list[str]] | None:
    """(numeric, categorical) of a pipeline made by `make_pipeline`; None for a user's pipeline."""
    steps = getattr(pipeline, "steps", None)
    if not steps or steps[0][0] != PREPROCESS_STEP:
        return None
    kinds: dict[str, list[str]] = {"numeric": [], "categorical": []}
    for name, _, columns in steps[0][1].transformers:
        if name in kinds:
            kinds[name] = list(columns)
    return kinds["numeric"], kinds["categorical"]


def task_of(estimator: Any, y: Sequence[Any] | pd.Series | np.ndarray) -> Task:
    """binary / multiclass for a classifier (by the number of distinct labels), else regression."""
    if not is_classifier(estimator):
        return "regression"
    return "binary" if pd.Series(y).dropna().nunique() <= 2 else "multiclass"


def _as_numbers(name: str, values: pd.Series) -> np.ndarray:
    if pd.api.types.is_bool_dtype(values.dtype) or pd.api.types.is_numeric_dtype(values.dtype):
        return _finite(name, values.astype("float64").to_numpy(dtype=np.float64, na_value=np.nan))
    try:
        # Object columns of Decimal (DuckDB DECIMAL) or numbers are fine; text is not.
        numbers = pd.to_numeric(values, errors="raise").astype("float64").to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise NodeError(
            f"column '{name}' has type {values.dtype} but the model was trained on it as a number: {exc}"
        ) from exc
    return _finite(name, numbers)


def _finite(name: str, numbers: np.ndarray) -> np.ndarray:
    # An infinity is no measurement a model can use; silently making it missing would hide a
    # broken upstream computation (a division by zero), so the user decides.
    infinite = np.isinf(numbers)
    if infinite.any():
        raise NodeError(
            f"column '{name}' holds {int(infinite.sum()):,} infinite value(s): a model can neither learn from nor score them",
            hint=f"make them NULL (read as missing) where the data is prepared, e.g. "
                 f"CASE WHEN isinf({name}) THEN NULL ELSE {name} END AS {name}",
        )
    return numbers


def _as_text(values: pd.Series) -> np.ndarray:
    # Text with NaN for missing: the imputer sees one missing marker, and 1, 1.0 and "1" are
    # the same category whether the column came in as INTEGER, DOUBLE or VARCHAR.
    missing = values.isna().to_numpy(dtype=bool)
    if pd.api.types.is_string_dtype(values.dtype) and not isinstance(values.dtype, pd.CategoricalDtype):
        out = values.to_numpy(dtype=object, na_value=np.nan)
        if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
            return out
    out = values.astype(object).to_numpy(dtype=object)
    out = np.array([np.nan if m else canonical_label(v) for v, m in zip(out, missing)], dtype=object)
    return out


def prepare_features(frame: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str]) -> pd.DataFrame:
    """The model's input: numeric columns as float64 (NaN for missing), categorical as text.

    Columns come numeric first, then categorical, whatever the frame's order: sklearn refuses a
    frame whose columns are ordered differently from the one it was fitted on.
    """
    data: dict[str, Any] = {name: _as_numbers(name, frame[name]) for name in numeric}
    # object, not pandas' inferred "str": the dtype sklearn's encoders are written for.
    data.update({name: pd.Series(_as_text(frame[name]), dtype=object) for name in categorical})
    return pd.DataFrame(data, index=pd.RangeIndex(len(frame)))
