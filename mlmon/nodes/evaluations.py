"""Evaluation nodes: each build appends one evaluation (metrics) to the node's store."""

from __future__ import annotations

from pathlib import Path


from sqlglot import exp

from mlmon.errors import ConfigError, Location, did_you_mean
from mlmon.metrics.judgement import DRIFT_KEYS, validate_drift_settings
from mlmon.nodes.base import BuildContext, Field, Node, NodeKind, NodeOutcome, ProjectView
from mlmon.nodes.models import registry

__all__ = ["EvaluationKind", "KIND"]

SAMPLING_METHODS = ("full", "head", "random")
REFERENCES = ("training", "first", "previous")
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


def _file_columns(project: "ProjectView", name: str | None) -> set[str] | None:
    """The columns of the files behind `name` (a file dataset, or a score of one); None when
    they cannot be known before a build (a table, missing files)."""
    import duckdb

    node = project.nodes.get(name or "")
    while node is not None and node.type == "score":
        node = project.nodes.get(node.config.get("data") or "")
    if node is None or node.type != "dataset":
        return None
    relation = project.kind(node).relation(node, project.root)
    if relation is None or isinstance(relation, exp.Table) and isinstance(relation.this, exp.Identifier):
        return None  # a warehouse table: checked when the evaluation starts
    con = duckdb.connect()
    try:
        query = exp.select("*").from_(relation).limit(0).sql("duckdb")
        return {row[0] for row in con.execute(f"DESCRIBE {query}").fetchall()}
    except duckdb.Error:
        return None
    finally:
        con.close()


def _segment_errors(node: Node, project: "ProjectView") -> list[ConfigError]:
    """Segment columns are names; with file data they must be columns of the files (checked
    here, before anything runs; other data is checked when the evaluation starts)."""
    segments = node.config.get("segments") or []
    bad = [s for s in segments if not isinstance(s, str) or not s]
    if bad:
        return [node.error(f"`segments` must list column names, got {bad[0]!r}", "segments")]
    columns = _file_columns(project, node.config.get("data")) if segments else None
    missing = [s for s in segments if columns is not None and s not in columns]
    return [node.error(f"segment column {s} is not a column of '{node.config['data']}'", "segments",
                       hint=did_you_mean(s, columns or ()) or f"columns: {', '.join(sorted(columns or ()))}")
            for s in missing]


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
        for suffix in (FEATURE_VIEW_SUFFIX, SEGMENT_VIEW_SUFFIX):
            view = f"{node.name}{suffix}"
            if view in project.nodes:
                errors.append(node.error(f"evaluation '{node.name}' creates the view '{view}', which is also a node name",
                                         hint="rename one of them"))
        return errors + _drift_errors(node) + _segment_errors(node, project)

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
                                                ctx.invocation_id, segments_location=node.location("segments"))
        stored = run_evaluation(ctx.warehouse, request, version, lambda: models.load(version), ctx.progress.update,
                                keep_rows=int(ctx.setting("evaluation_keep_rows", KEEP_ROWS)))
        return NodeOutcome(message=summary(stored), rows=stored.record.n_evaluated, warnings=stored.result.warnings)


KIND = EvaluationKind()
