"""Evaluation nodes: each build appends one evaluation (metrics) to the node's store."""

from __future__ import annotations

from pathlib import Path


from sqlglot import exp

from mlmon.errors import ConfigError, Location, NodeError, did_you_mean
from mlmon.metrics.judgement import DRIFT_KEYS, validate_drift_settings
from mlmon.nodes.base import BuildContext, Dependency, Field, Node, NodeKind, NodeOutcome, ProjectView
from mlmon.nodes.models import registry

__all__ = ["EvaluationKind", "KIND"]

SAMPLING_METHODS = ("full", "head", "random")
REFERENCES = ("training", "first", "previous")
TASKS = ("binary", "multiclass", "regression")
PERIODS = ("day", "week", "month", "quarter", "year")
PREDICTION_KEYS = ("proba", "prediction", "positive_class", "threshold")
ROW_NODES = ("dataset", "score")  # node types whose rows a reference or ground truth may be
FEATURE_VIEW_SUFFIX = "_feature_drift"  # the store's per-feature view, beside the store view


SEGMENT_VIEW_SUFFIX = "_segments"  # the store's per-segment view


def _drift_errors(node: Node) -> list[ConfigError]:
    """`drift:` keys and values, each error at its own line when the YAML gives it."""
    drift = node.config.get("drift") or {}
    lines = getattr(drift, "key_lines", {})
    errors = []
    for key, message in validate_drift_settings(drift):
        hint = (did_you_mean(key, DRIFT_KEYS) or f"allowed: {', '.join(DRIFT_KEYS)}") if key not in DRIFT_KEYS else None
        line = lines.get(key) if key is not None else None
        location = Location(node.path, line) if line else node.location("drift")
        errors.append(ConfigError(message, location=location, hint=hint))
    return errors


def _segment_errors(node: Node, project: "ProjectView") -> list[ConfigError]:
    """Segment columns are names; with file data (or a score of it) they must be columns of the
    files (checked here, before anything runs; other data is checked when the evaluation starts)."""
    segments = node.config.get("segments") or []
    bad = [s for s in segments if not isinstance(s, str) or not s]
    if bad:
        return [node.error(f"`segments` must list column names, got {bad[0]!r}", "segments")]
    from mlmon.nodes.evaluation_columns import segment_column_errors

    reference = node.config.get("reference")
    return segment_column_errors(node, project, None if reference in REFERENCES else reference)


class EvaluationKind(NodeKind):
    key = "evaluations"
    type = "evaluation"
    produces_table = True  # the store's metrics view, one row per evaluation
    fields = (
        Field("model", (str,), refs=("model",), doc="the mlmon model judged (or `predictions:`)"),
        Field("predictions", (dict,), doc="{proba, prediction, positive_class, threshold}: the logged outputs of any model"),
        Field("task", (str,), choices=TASKS, doc="binary | multiclass | regression; inferred when absent"),
        Field("target", (str,), doc="the outcome column (default: the model's target)"),
        Field("ground_truth", (dict,), doc="{data: node, key: column or list}: outcomes joined by key"),
        Field("period", (dict,), doc="{column, every: day|week|month|quarter|year}: one evaluation per period"),
        Field("data", (str,), required=True, refs=("dataset", "score")),
        Field("sampling", (dict,), default={"method": "full"}, doc="{method: full|head|random, size: N, seed: S, key: [columns identifying a row]}"),
        Field("skip_performance", (bool,), default=False, doc="true when the data has no ground truth"),
        Field("labels", (dict,), default={}, doc="key/values stored with each evaluation"),
        Field("reference", (str,), doc="training (default with model:) | first | previous | a dataset or score node"),
        Field("drift_sample", (int,), default=10_000, doc="rows per side for the domain classifier"),
        Field("data_drift", (bool,), default=True, doc="false skips the domain classifier (data_drift metrics)"),
        Field("threshold", (float,), doc="binary: default the model's threshold"),
        Field("positive_class", (str, int, float, bool)),
        Field("features", (list,), doc="columns to test for drift (default: the model's features)"),
        Field("categorical", (list,), default=[], doc="numeric columns to test as categories"),
        Field("segments", (list,), default=[], doc="columns whose values get their own metrics"),
        Field("drift", (dict,), default={}, doc="how a feature is judged drifted: " + ", ".join(DRIFT_KEYS)),
    )

    def validate(self, node: Node, project: "ProjectView") -> list[ConfigError]:
        sampling = node.config["sampling"]
        errors = []
        method = sampling.get("method", "full")
        if method not in SAMPLING_METHODS:
            errors.append(node.error(f"sampling method must be one of {', '.join(SAMPLING_METHODS)}, got {method!r}", "sampling"))
        unknown = set(sampling) - {"method", "size", "seed", "key"}
        if unknown:
            errors.append(node.error(f"unknown sampling option(s) {', '.join(sorted(unknown))}", "sampling",
                                     hint="allowed: method, size, seed, key"))
        key = sampling.get("key", [])
        if not isinstance(key, (str, list)) or (isinstance(key, list) and not all(isinstance(k, str) for k in key)):
            errors.append(node.error("sampling `key` must be a column name or a list of column names", "sampling"))
        size = sampling.get("size")
        if method in ("head", "random") and (not isinstance(size, int) or isinstance(size, bool) or size < 1):
            errors.append(node.error(f"sampling method '{method}' needs an integer `size` of at least 1", "sampling"))
        if node.config["drift_sample"] < 10:
            errors.append(node.error("`drift_sample` must be at least 10", "drift_sample"))
        threshold = node.config.get("threshold")
        if threshold is not None and not 0 <= threshold <= 1:
            errors.append(node.error("`threshold` must be between 0 and 1", "threshold"))
        errors += _validate_subject(node, project)
        if not errors:
            from mlmon.nodes.evaluation_columns import file_column_errors

            errors += file_column_errors(node, project)
        for suffix in (FEATURE_VIEW_SUFFIX, SEGMENT_VIEW_SUFFIX):
            view = f"{node.name}{suffix}"
            if view in project.nodes:
                errors.append(node.error(f"evaluation '{node.name}' creates the view '{view}', which is also a node name",
                                         hint="rename one of them"))
        return errors + _drift_errors(node) + _segment_errors(node, project)

    def dependencies(self, node: Node) -> list[Dependency]:
        deps = super().dependencies(node)
        reference = node.config.get("reference")
        if isinstance(reference, str) and reference not in REFERENCES:
            deps.append(Dependency(reference, via="reference"))
        truth = node.config.get("ground_truth")
        if isinstance(truth, dict) and isinstance(truth.get("data"), str):
            deps.append(Dependency(truth["data"], via="ground_truth"))
        return deps

    def available(self, node: Node, ctx: "BuildContext") -> str | None:
        evaluations = ctx.warehouse.con.execute(
            "SELECT count(*) FROM mlmon.evaluations WHERE store = ?", [node.name]).fetchone()[0]
        if not evaluations or not ctx.warehouse.exists(node.name):
            return f"store '{node.name}' has no evaluation yet"
        return None

    def show_query(self, node: Node, root: Path) -> exp.Select:
        # Newest first: `mlmon show` prints a limited number of rows.
        return exp.select("*").from_(self.relation(node, root)).order_by(exp.column("created_at", quoted=True).desc())

    def execute(self, node: Node, ctx: "BuildContext") -> NodeOutcome:
        # The statistics stack (scipy, scikit-learn) loads only when a store is built.
        from mlmon.evaluation.run import EvaluationRequest, run_evaluation, summary
        from mlmon.evaluation.store import KEEP_ROWS

        from mlmon.ml.registry import require_active

        _require_segment_columns(node, ctx)
        if _needs_batch(node.config):
            from mlmon.evaluation.batch import run_node

            return run_node(node, ctx)
        models = registry(ctx)
        version = require_active(models, node.config["model"], node.name)
        request = EvaluationRequest.from_config(node.name, node.config, ctx.relation_sql(node.config["data"]),
                                                ctx.invocation_id, segments_location=node.location("segments"),
                                                sampling_location=node.location("sampling"))
        stored = run_evaluation(ctx.warehouse, request, version, lambda: models.load(version), ctx.progress.update,
                                keep_rows=int(ctx.setting("evaluation_keep_rows", KEEP_ROWS)), build=ctx.evaluation_memo)
        return NodeOutcome(message=summary(stored), rows=stored.record.n_evaluated, warnings=stored.result.warnings)


def _require_segment_columns(node: Node, ctx: "BuildContext") -> None:
    """Segment columns the data lacks stop the node as it starts, at the line of their entry:
    the columns of a table the project builds are known only now (files were checked at compile)."""
    if not node.config.get("segments"):
        return
    from mlmon.evaluation.sampling import table_columns
    from mlmon.nodes.evaluation_columns import missing_segment_errors

    columns = [name for name, _ in table_columns(ctx.warehouse.con, ctx.relation_sql(node.config["data"]))]
    errors = missing_segment_errors(node, "data", node.config["data"], columns, error=NodeError)
    if errors:
        raise errors[0]


def _needs_batch(config: dict) -> bool:
    """Whether the evaluation uses a key beyond a model judged against its own references."""
    reference = config.get("reference")
    return any(config.get(k) is not None for k in ("predictions", "ground_truth", "period", "task", "target")) or (
        reference is not None and reference not in REFERENCES)


def _row_node_error(node: Node, key: str, name: object, project: "ProjectView") -> ConfigError | None:
    target = project.nodes.get(str(name))
    if target is not None and target.type in ROW_NODES:
        return None
    candidates = [n.name for n in project.nodes.values() if n.type in ROW_NODES]
    if target is None:
        return node.error(f"unknown dataset or score '{name}' in `{key}`", key, hint=did_you_mean(str(name), candidates))
    return node.error(f"`{key}` names '{name}', a {target.type}: expected a dataset or score node", key)


def _validate_subject(node: Node, project: "ProjectView") -> list[ConfigError]:
    """model: / predictions:, reference, ground_truth and period: what the files alone can tell."""
    config, errors = node.config, []
    has_model, predictions = config.get("model") is not None, config.get("predictions")
    if has_model == (predictions is not None):
        errors.append(node.error(
            f"evaluation '{node.name}' needs exactly one of `model:` and `predictions:`, it has "
            + ("both" if has_model else "neither"), "predictions" if has_model else None,
            hint="`model: <name>` for a model mlmon trains; `predictions: {proba: <column>}` for logged outputs"))
    reference = config.get("reference")
    if predictions is not None and reference in (None, "training"):
        errors.append(node.error(
            "an evaluation with `predictions:` needs `reference:` naming a dataset or score node (or first | previous)",
            "reference" if reference else None, hint="e.g. `reference: scores_jan_mar`"))
    elif reference is not None and reference not in REFERENCES:
        target = project.nodes.get(str(reference))
        if target is None:
            candidates = [*REFERENCES, *(n.name for n in project.nodes.values() if n.type in ROW_NODES)]
            errors.append(node.error(f"`reference` must be one of {', '.join(REFERENCES)} or a dataset or score node, "
                                     f"got {reference!r}", "reference", hint=did_you_mean(str(reference), candidates)))
        else:
            found = _row_node_error(node, "reference", reference, project)
            errors += [found] if found else []
    if isinstance(predictions, dict):
        unknown = sorted(set(predictions) - set(PREDICTION_KEYS))
        if unknown:
            errors.append(node.error(f"unknown `predictions:` key(s) {', '.join(unknown)}", "predictions",
                                     hint=f"allowed: {', '.join(PREDICTION_KEYS)}"))
        proba = predictions.get("proba")
        if proba is None and predictions.get("prediction") is None:
            errors.append(node.error("`predictions:` needs `proba` (a column, or class: column) or `prediction`",
                                     "predictions"))
        if proba is not None and not isinstance(proba, (str, dict)):
            errors.append(node.error("`predictions.proba` must be a column name or a mapping class: column",
                                     "predictions"))
        threshold = predictions.get("threshold")
        if threshold is not None and (not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1):
            errors.append(node.error("`predictions.threshold` must be a number between 0 and 1", "predictions"))
        if config.get("target") is None:
            errors.append(node.error("an evaluation with `predictions:` needs `target:`, the outcome column",
                                     "predictions", hint="e.g. `target: is_fraud`"))
    truth = config.get("ground_truth")
    if truth is not None:
        key = truth.get("key")
        if set(truth) - {"data", "key"} or not isinstance(truth.get("data"), str) or not key or not (
                isinstance(key, str) or (isinstance(key, list) and all(isinstance(k, str) for k in key))):
            errors.append(node.error("`ground_truth` must be {data: <dataset or score>, key: <column or list of columns>}",
                                     "ground_truth"))
        else:
            found = _row_node_error(node, "ground_truth", truth["data"], project)
            errors += [found] if found else []
    period = config.get("period")
    if period is not None and (set(period) - {"column", "every"} or not isinstance(period.get("column"), str)
                               or period.get("every") not in PERIODS):
        errors.append(node.error("`period` must be {column: <timestamp or date column>, every: "
                                 f"{' | '.join(PERIODS)}}}", "period"))
    return errors


KIND = EvaluationKind()
