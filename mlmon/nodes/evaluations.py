"""Evaluation nodes: each build appends one evaluation (metrics) to the node's store."""

from __future__ import annotations

from pathlib import Path


from sqlglot import exp

from mlmon.errors import ConfigError
from mlmon.nodes.base import BuildContext, Field, Node, NodeKind, NodeOutcome, ProjectView
from mlmon.nodes.models import registry

__all__ = ["EvaluationKind", "KIND"]

SAMPLING_METHODS = ("full", "head", "random")
REFERENCES = ("training", "first", "previous")
FEATURE_VIEW_SUFFIX = "_feature_drift"  # the store's per-feature view, beside the store view


class EvaluationKind(NodeKind):
    key = "evaluations"
    type = "evaluation"
    produces_table = True  # the store's metrics view, one row per evaluation
    fields = (
        Field("model", (str,), required=True, refs=("model",)),
        Field("data", (str,), required=True, refs=("dataset", "score")),
        Field("sampling", (dict,), default={"method": "full"}, doc="{method: full|head|random, size: N, seed: S, key: [columns identifying a row]}"),
        Field("skip_performance", (bool,), default=False, doc="true when the data has no ground truth"),
        Field("labels", (dict,), default={}, doc="key/values stored with each evaluation"),
        Field("reference", (str,), default="training", choices=REFERENCES),
        Field("drift_sample", (int,), default=10_000, doc="rows per side for the domain classifier"),
        Field("data_drift", (bool,), default=True, doc="false skips the domain classifier (data_drift metrics)"),
        Field("threshold", (float,), doc="binary: default the model's threshold"),
        Field("positive_class", (str, int, float, bool)),
        Field("features", (list,), doc="columns to test for drift (default: the model's features)"),
        Field("categorical", (list,), default=[], doc="numeric columns to test as categories"),
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
        view = f"{node.name}{FEATURE_VIEW_SUFFIX}"
        if view in project.nodes:
            errors.append(node.error(f"evaluation '{node.name}' creates the view '{view}', which is also a node name",
                                     hint="rename one of them"))
        return errors

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

        models = registry(ctx)
        version = require_active(models, node.config["model"], node.name)
        request = EvaluationRequest.from_config(node.name, node.config, ctx.relation_sql(node.config["data"]),
                                                ctx.invocation_id)
        stored = run_evaluation(ctx.warehouse, request, version, lambda: models.load(version), ctx.progress.update,
                                keep_rows=int(ctx.setting("evaluation_keep_rows", KEEP_ROWS)))
        return NodeOutcome(message=summary(stored), rows=stored.record.n_evaluated, warnings=stored.result.warnings)


KIND = EvaluationKind()
