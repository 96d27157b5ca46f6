"""ML models: a build trains a new version, registers it and keeps its held-out reference."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlglot import exp

from mlmon.errors import ConfigError
from mlmon.nodes.base import BuildContext, Field, Node, NodeKind, NodeOutcome, ProjectView
from mlmon.run.lineage import read_inputs
from mlmon.warehouse import sql

if TYPE_CHECKING:  # scikit-learn and skops load only when a model is built (keeps `mlmon ls` fast)
    from mlmon.ml.registry import ModelRegistry, ModelVersion
    from mlmon.ml.training import TrainedModel

__all__ = ["ModelKind", "KIND", "registry", "train_version", "headline"]

DEFAULT_ESTIMATOR = "sklearn.ensemble.HistGradientBoostingClassifier"


class ModelKind(NodeKind):
    key = "models"
    type = "model"
    fields = (
        Field("data", (str,), required=True, refs=("dataset", "score"), doc="the training dataset"),
        Field("target", (str,), required=True, doc="the column to predict"),
        Field("features", (list,), doc="feature columns (default: every column but target and exclude)"),
        Field("exclude", (list,), default=[], doc="columns that are not features (ids, dates)"),
        Field("categorical", (list,), default=[], doc="numeric columns to treat as categories"),
        Field("estimator", (str,), default=DEFAULT_ESTIMATOR, doc="import path of a scikit-learn-style estimator"),
        Field("params", (dict,), default={}, doc="estimator parameters"),
        Field("test_size", (float,), default=0.2, doc="held-out share: the version's drift reference"),
        Field("seed", (int,), default=0),
        Field("positive_class", (str, int, float, bool), doc="binary: the class whose probability is scored"),
        Field("threshold", (float,), default=0.5, doc="binary: probability at which the positive class is predicted"),
    )

    def validate(self, node: Node, project: "ProjectView") -> list[ConfigError]:
        errors = []
        if node.config.get("features") and node.config.get("exclude"):
            errors.append(node.error("give `features:` or `exclude:`, not both", "exclude"))
        if not 0 < node.config["test_size"] < 1:
            errors.append(node.error("`test_size` must be between 0 and 1", "test_size"))
        if not 0 <= node.config["threshold"] <= 1:
            errors.append(node.error("`threshold` must be between 0 and 1", "threshold"))
        return errors


    def available(self, node: Node, ctx: "BuildContext") -> str | None:
        return None if registry(ctx).active(node.name) else "it has no trained version"

    def show_query(self, node: Node, root: Path) -> exp.Expression:
        headline_metrics = [
            f"round(try_cast(metrics ->> '{m}' AS DOUBLE), 4) AS {m}" for m in ("roc_auc", "accuracy", "r2", "rmse")
        ]
        # What each version learnt from (files, vars, rows, a digest of those rows) and why it
        # is or is not active (a retrain's decision).
        lineage = ["training_files", "training_vars", "data_fingerprint", "promotion ->> 'reason' AS promotion"]
        return (exp.select("version", "active", "date_trunc('second', trained_at) AS trained_at", "training_dataset",
                           "n_train", "n_test",
                           *headline_metrics, *lineage, "left(sha256, 12) AS sha256")
                .from_(sql.table("model_versions", "mlmon"))
                .where(exp.column("model").eq(exp.Literal.string(node.name))).order_by("version"))

    def execute(self, node: Node, ctx: "BuildContext") -> NodeOutcome:
        models = registry(ctx)
        active = models.active(node.name)
        if active is not None and node.name not in ctx.named and not ctx.config.full_refresh:
            models.verify(active)  # a tampered artifact must stop everything downstream
            return NodeOutcome("reused", f"active version {active.version} ({headline(active.metrics)})")
        version, trained = train_version(ctx, node)
        return NodeOutcome(message=f"trained version {version.version} ({headline(version.metrics)})",
                           rows=trained.n_train + trained.n_test, warnings=trained.warnings)


def registry(ctx: "BuildContext") -> "ModelRegistry":
    from mlmon.ml.registry import ModelRegistry

    return ModelRegistry(ctx.warehouse, ctx.project.root, fitted=ctx.fitted_models, known=ctx.model_versions)


def train_version(ctx: "BuildContext", node: Node, data: str | None = None,
                  activate: bool = True) -> tuple["ModelVersion", "TrainedModel"]:
    """Train `node` on its own data (or on `data`) and register the result as a new version."""
    from mlmon.ml.threads import native_threads
    from mlmon.ml.training import TrainSpec, train

    config = node.config
    dataset = data or config["data"]
    ctx.progress.update(f"reading {dataset}")
    frame = ctx.warehouse.query_df(f"SELECT * FROM {ctx.relation_sql(dataset)}")
    spec = TrainSpec(
        target=config["target"], features=config.get("features"), exclude=config.get("exclude") or [],
        estimator=config["estimator"], params=dict(config.get("params") or {}), test_size=config["test_size"],
        seed=config["seed"], categorical=config.get("categorical") or [],
        positive_class=config.get("positive_class"), threshold=config["threshold"],
    )
    ctx.progress.update(f"training {node.name} on {len(frame):,} rows")
    with native_threads(len(frame)):
        trained = train(frame, spec)
    learnt_from = read_inputs(ctx.project, ctx.warehouse, dataset)
    version = registry(ctx).register(node.name, trained, dataset, spec.estimator, spec.params,
                                     ctx.invocation_id, activate=activate, training_files=learnt_from.files,
                                     training_vars=learnt_from.vars)
    return version, trained


def headline(metrics: dict[str, float | None]) -> str:
    """The one or two metrics worth a log line."""
    names = ("roc_auc", "roc_auc_ovr", "accuracy", "r2", "rmse")
    shown = [f"{k} {metrics[k]:.3f}" for k in names if metrics.get(k) is not None]
    return ", ".join(shown[:2]) or "no test metrics"


KIND = ModelKind()
