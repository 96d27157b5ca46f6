"""Retrain nodes: train a new model version when named checks' latest status says so.

A retrain fires when the latest `mlmon.check_results` row of any check in `when:` has a status
in `on:`. It then trains the model on `data:` (recent labelled rows, typically) or on the
model's own data. With `promote: if_better` the new version is registered inactive, and both it
and the active version are scored on the new version's held-out rows; the new one is activated
only if it is strictly better on `promote_metric`. Both scores are kept in the new version's
`metrics` JSON (`promotion_candidate_score`, `promotion_active_score`,
`promotion_active_version`, `promoted`), so the decision can be audited later.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from mlmon.checks.evaluate import CheckStatus, format_value
from mlmon.errors import ConfigError, NodeError, did_you_mean
from mlmon.metrics.performance import BINARY_METRICS, MULTICLASS_METRICS, REGRESSION_METRICS
from mlmon.metrics.performance import classification_metrics, regression_metrics
from mlmon.nodes.base import Field, Node, NodeKind, NodeOutcome
from mlmon.nodes.models import headline, registry, train_version
from mlmon.warehouse.tables import SYSTEM_SCHEMA

if TYPE_CHECKING:  # skops and the training stack load only when a retrain fires
    from mlmon.ml.registry import ModelRegistry, ModelVersion
    from mlmon.ml.training import TrainedModel
    from mlmon.project.project import Project
    from mlmon.run.context import RunContext

__all__ = ["RetrainKind", "KIND", "CHECK_STATUSES", "LOWER_IS_BETTER", "latest_check_statuses", "score_version"]

CHECK_STATUSES = tuple(str(s) for s in CheckStatus)
PERFORMANCE_METRICS = tuple(dict.fromkeys(BINARY_METRICS + MULTICLASS_METRICS + REGRESSION_METRICS))
LOWER_IS_BETTER = frozenset({"log_loss", "brier_score", "mae", "mse", "rmse", "mape"})


class RetrainKind(NodeKind):
    key = "retrains"
    type = "retrain"
    runs_after_failed_check = True
    fields = (
        Field("model", (str,), required=True, refs=("model",)),
        Field("when", (list, str), required=True, refs=("check",), many=True, doc="checks whose status fires it"),
        Field("on", (list,), default=["ERROR"], doc="statuses that fire: [ERROR] or [ERROR, WARNING]"),
        Field("data", (str,), refs=("dataset", "score"), doc="train on this dataset instead of the model's own"),
        Field("promote", (str,), default="always", choices=("always", "if_better"),
              doc="if_better: activate the new version only if it beats the active one"),
        Field("promote_metric", (str,), doc="metric compared by if_better (default roc_auc, roc_auc_ovr or r2)"),
    )

    def validate(self, node: Node, project: "Project") -> list[ConfigError]:
        if isinstance(node.config["when"], str):
            node.config["when"] = [node.config["when"]]
        errors = []
        bad = [s for s in node.config["on"] if s not in CHECK_STATUSES]
        if bad:
            errors.append(node.error(f"`on` takes check statuses {', '.join(CHECK_STATUSES)}, got {', '.join(map(str, bad))}", "on"))
        metric = node.config.get("promote_metric")
        if metric is not None and metric not in PERFORMANCE_METRICS:
            errors.append(node.error(f"unknown promote_metric '{metric}'", "promote_metric",
                                     hint=did_you_mean(metric, PERFORMANCE_METRICS) or f"one of {', '.join(PERFORMANCE_METRICS)}"))
        return errors

    def execute(self, node: Node, ctx: "RunContext") -> NodeOutcome:
        config = node.config
        statuses = latest_check_statuses(ctx, config["when"])
        summary = ", ".join(f"{check} {status or 'never run'}" for check, status in statuses.items())
        firing = [check for check, status in statuses.items() if status in config["on"]]
        if not firing:
            return NodeOutcome("success", f"not fired ({summary})")
        model_node = ctx.project.nodes[config["model"]]
        cause = f"fired by {', '.join(f'{c} {statuses[c]}' for c in firing)}"
        if config["promote"] == "if_better":
            return _train_if_better(ctx, model_node, config, cause)
        version, trained = train_version(ctx, model_node, data=config.get("data"))
        return NodeOutcome(
            message=f"{cause}: trained {model_node.name} version {version.version} on {version.training_dataset} "
                    f"({headline(version.metrics)}), now active",
            rows=trained.n_train + trained.n_test, warnings=trained.warnings)


def latest_check_statuses(ctx: "RunContext", checks: list[str]) -> dict[str, str | None]:
    """Each check's status in its newest `mlmon.check_results` row (None if it never ran)."""
    rows = ctx.warehouse.con.execute(
        f'SELECT "check", status FROM {SYSTEM_SCHEMA}.check_results WHERE "check" IN ({", ".join("?" for _ in checks)}) '
        'QUALIFY row_number() OVER (PARTITION BY "check" ORDER BY checked_at DESC NULLS LAST) = 1', list(checks)).fetchall()
    found = {str(check): str(status) for check, status in rows}
    return {check: found.get(check) for check in checks}


_DEFAULT_PROMOTE_METRIC = {"binary": "roc_auc", "multiclass": "roc_auc_ovr", "regression": "r2"}


def _default_metric(version: "ModelVersion") -> str:
    return _DEFAULT_PROMOTE_METRIC.get(version.task, "roc_auc" if version.is_classifier else "r2")


def score_version(models: "ModelRegistry", version: "ModelVersion", frame: Any, metric: str) -> float | None:
    from mlmon.ml.scoring import PREDICTION_COLUMN, predict_frame

    """`metric` of a registered version on `frame` (which holds its features and target)."""
    pipeline = models.load(version)
    threshold = version.threshold if version.threshold is not None else 0.5
    scored = predict_frame(pipeline, frame, version.features, version.classes, version.task, threshold,
                           version.positive_class)
    truth = frame[version.target]
    if version.is_classifier:
        proba = scored[[c for c in scored.columns if c != PREDICTION_COLUMN]].to_numpy()
        values = classification_metrics(truth, proba, version.classes or [], threshold, version.positive_class)
    else:
        values = regression_metrics(truth, scored[PREDICTION_COLUMN].to_numpy())
    return _finite(next((m.value for m in values if m.metric == metric), None))


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _better(candidate: float | None, incumbent: float | None, metric: str) -> bool:
    """Strictly better; a score that cannot be computed never wins, and never blocks one that can."""
    if candidate is None:
        return False
    if incumbent is None:
        return True
    return candidate < incumbent if metric in LOWER_IS_BETTER else candidate > incumbent


def _train_if_better(ctx: "RunContext", model_node: Node, config: dict[str, Any], cause: str) -> NodeOutcome:
    models = registry(ctx)
    active = models.active(model_node.name)
    version, trained = train_version(ctx, model_node, data=config.get("data"), activate=active is None)
    rows = trained.n_train + trained.n_test
    trained_text = f"{cause}: trained {model_node.name} version {version.version} on {version.training_dataset}"
    if active is None:
        return NodeOutcome(message=f"{trained_text}; no active version to compare with, now active",
                           rows=rows, warnings=trained.warnings)
    metric = config.get("promote_metric") or _default_metric(version)
    if metric not in trained.metrics:
        raise NodeError(f"promote_metric '{metric}' is not a metric of a {version.task} model",
                        hint=f"one of {', '.join(trained.metrics)}")
    ctx.progress.update(f"scoring active version {active.version} on version {version.version}'s held-out rows")
    candidate = _finite(trained.metrics.get(metric))
    incumbent = score_version(models, active, trained.test_frame, metric)
    promoted = _better(candidate, incumbent, metric)
    _record_promotion(ctx, version, trained, candidate, incumbent, active.version, promoted)
    shown = (f"{metric} on its {trained.n_test} held-out rows: v{version.version} {_show(candidate)} "
             f"vs active v{active.version} {_show(incumbent)}")
    if promoted:
        models.activate(model_node.name, version.version)
        decision = f"promoted version {version.version}"
    else:
        decision = f"kept version {active.version} active (version {version.version} is registered, inactive)"
    return NodeOutcome(message=f"{trained_text}; {shown}: {decision}", rows=rows, warnings=trained.warnings)


def _show(value: float | None) -> str:
    return "n/a" if value is None else format_value(value)


def _record_promotion(ctx: "RunContext", version: "ModelVersion", trained: "TrainedModel", candidate: float | None,
                      incumbent: float | None, active_version: int, promoted: bool) -> None:
    metrics = {
        **trained.metrics,
        "promotion_candidate_score": candidate,
        "promotion_active_score": incumbent,
        "promotion_active_version": active_version,
        "promoted": 1.0 if promoted else 0.0,
    }
    ctx.warehouse.con.execute(
        f"UPDATE {SYSTEM_SCHEMA}.model_versions SET metrics = ? WHERE model = ? AND version = ?",
        [json.dumps(metrics, default=_json_number), version.model, version.version])


def _json_number(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


KIND = RetrainKind()
