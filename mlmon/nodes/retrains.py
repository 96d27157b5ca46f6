"""Retrain nodes: train a new model version when named checks' latest status says so.

A retrain fires when the latest `mlmon.check_results` row of any check in `when:` has a status
in `on:`. It then trains the model on `data:` (recent labelled rows, typically) or on the
model's own data, and decides whether the new version (the challenger) replaces the active one
(the champion). Both are scored on labelled rows neither was trained on (mlmon.ml.promotion):
the newest evaluated rows of the stores its checks read, and the challenger's held-out rows.
`promote: if_better` activates the challenger only if it is strictly better on
`promote_metric`; `always` activates it whatever the scores. Under `min_unseen_rows` such rows
the scores decide nothing: a warning, and `if_better` keeps the champion. The decision, the
rows and both scores go into the node's message and the version's `promotion` column (and, for
older readers, `promotion_*` keys of its `metrics`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlmon.checks.evaluate import CheckStatus, worst_status
from mlmon.errors import ConfigError, NodeError, did_you_mean
from mlmon.metrics.task import BINARY_METRICS, MULTICLASS_METRICS, REGRESSION_METRICS
from mlmon.nodes.base import BuildContext, Field, Node, NodeKind, NodeOutcome, ProjectView
from mlmon.nodes.models import registry, train_version
from mlmon.warehouse.tables import SYSTEM_SCHEMA

if TYPE_CHECKING:  # skops and the training stack load only when a retrain fires
    from mlmon.ml.promotion import Comparison
    from mlmon.ml.registry import ModelVersion
    from mlmon.ml.training import TrainedModel

__all__ = ["RetrainKind", "KIND", "CHECK_STATUSES", "latest_check_statuses", "stores_watching"]

CHECK_STATUSES = tuple(str(s) for s in CheckStatus)
PERFORMANCE_METRICS = tuple(dict.fromkeys(BINARY_METRICS + MULTICLASS_METRICS + REGRESSION_METRICS))
DEFAULT_MIN_UNSEEN_ROWS = 200


class RetrainKind(NodeKind):
    key = "retrains"
    type = "retrain"
    runs_after_failed_check = True
    tells_decision = True
    fields = (
        Field("model", (str,), required=True, refs=("model",)),
        Field("when", (list, str), required=True, refs=("check",), many=True, doc="checks whose status fires it"),
        Field("on", (list,), default=["ERROR"], doc="statuses that fire: [ERROR] or [ERROR, WARNING]"),
        Field("data", (str,), refs=("dataset", "score"), doc="train on this dataset instead of the model's own"),
        Field("promote", (str,), default="always", choices=("always", "if_better"),
              doc="if_better: activate the new version only if it beats the active one"),
        Field("promote_metric", (str,), doc="metric compared by if_better (default roc_auc, roc_auc_ovr or r2)"),
        Field("min_unseen_rows", (int,), default=DEFAULT_MIN_UNSEEN_ROWS,
              doc="fewest rows neither version trained on that can decide a promotion"),
    )

    def validate(self, node: Node, project: "ProjectView") -> list[ConfigError]:
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
        if node.config["min_unseen_rows"] < 1:
            errors.append(node.error("`min_unseen_rows` must be at least 1", "min_unseen_rows"))
        return errors

    def execute(self, node: Node, ctx: "BuildContext") -> NodeOutcome:
        config = node.config
        statuses = latest_check_statuses(ctx, config["when"])
        summary = ", ".join(f"{check} {status or 'never run'}" for check, status in statuses.items())
        firing = [check for check, status in statuses.items() if status in config["on"]]
        if not firing:
            return NodeOutcome("success", f"not fired ({summary})")
        cause = ", ".join(f"{c} {statuses[c]}" for c in firing)
        return _retrain(ctx, node, ctx.project.nodes[config["model"]], cause)


def latest_check_statuses(ctx: "BuildContext", checks: list[str]) -> dict[str, str | None]:
    """Each check's status in its newest run (None if it never ran): the worst of that run's
    `mlmon.check_results` rows, which share one checked_at (one per feature or period)."""
    ctx.warehouse.flush_log("check_results")  # checks of this build not yet written (`Warehouse.log_rows`)
    rows = ctx.warehouse.con.execute(
        f'SELECT "check", status FROM {SYSTEM_SCHEMA}.check_results WHERE "check" IN ({", ".join("?" for _ in checks)}) '
        'QUALIFY rank() OVER (PARTITION BY "check" ORDER BY checked_at DESC NULLS LAST) = 1', list(checks)).fetchall()
    found: dict[str, list[str]] = {}
    for check, status in rows:
        found.setdefault(str(check), []).append(str(status))
    return {check: str(worst_status(found[check])) if check in found else None for check in checks}


_DEFAULT_PROMOTE_METRIC = {"binary": "roc_auc", "multiclass": "roc_auc_ovr", "regression": "r2"}


def _default_metric(version: "ModelVersion") -> str:
    return _DEFAULT_PROMOTE_METRIC.get(version.task, "roc_auc" if version.is_classifier else "r2")


def stores_watching(project: "ProjectView", retrain: Node) -> tuple[list[str], list[str]]:
    """The stores of the model that the retrain's checks read, and every other store of it."""
    model = retrain.config["model"]
    stores = [n.name for n in project.nodes.values() if n.type == "evaluation" and n.config.get("model") == model]
    read = [project.nodes[c].config.get("store") for c in retrain.config["when"]]
    first = [s for s in dict.fromkeys(read) if s in stores]
    return first, [s for s in stores if s not in first]


def _retrain(ctx: "BuildContext", node: Node, model_node: Node, cause: str) -> NodeOutcome:
    models = registry(ctx)
    champion = models.active(model_node.name)
    version, trained = train_version(ctx, model_node, data=node.config.get("data"), activate=champion is None)
    learnt = _learnt_text(version, trained)
    if champion is None:
        promotion = {"decision": "promoted", "reason": "no active version to compare with"}
        models.record_promotion(version, promotion, trained.metrics)
        return NodeOutcome(message=f"fired → v{version.version} promoted (no active version to compare with)\n"
                                   f"fired by {cause}; {learnt}", rows=trained.n_train + trained.n_test,
                           warnings=trained.warnings)
    metric = node.config.get("promote_metric") or _default_metric(version)
    if metric not in trained.metrics:
        raise NodeError(f"promote_metric '{metric}' is not a metric of a {version.task} model",
                        hint=f"one of {', '.join(trained.metrics)}")
    comparison = _compare(ctx, node, version, trained, champion, metric)
    headline, promoted, warnings = _decide(node.config, comparison)
    if promoted:
        models.activate(model_node.name, version.version)
    models.record_promotion(version, {
        "decision": "promoted" if promoted else "kept", "promote": node.config["promote"],
        "reason": headline, "min_unseen_rows": node.config["min_unseen_rows"], **comparison.as_record(),
    }, {**trained.metrics, "promotion_candidate_score": comparison.challenger_score,
        "promotion_active_score": comparison.champion_score, "promotion_active_version": champion.version,
        "promoted": 1.0 if promoted else 0.0})
    return NodeOutcome(
        message=f"fired → {headline}\nfired by {cause}; {learnt}; compared on {comparison.rows_text()}",
        rows=trained.n_train + trained.n_test, warnings=[*trained.warnings, *comparison.notes, *warnings])


def _compare(ctx: "BuildContext", node: Node, version: "ModelVersion", trained: "TrainedModel",
             champion: "ModelVersion", metric: str) -> "Comparison":
    from mlmon.ml.promotion import compare_versions, newest_labelled_rows

    models = registry(ctx)
    ctx.progress.update(f"comparing v{version.version} with v{champion.version} on rows neither trained on")
    first, others = stores_watching(ctx.project, node)
    newest, evaluations = newest_labelled_rows(ctx.warehouse, first, version.target)
    if newest.empty:  # the checks read no labelled store of this model: any store of it will do
        newest, evaluations = newest_labelled_rows(ctx.warehouse, others, version.target)
    return compare_versions(models, version, trained, champion, metric, newest, evaluations)


def _decide(config: dict[str, Any], comparison: "Comparison") -> tuple[str, bool, list[str]]:
    """(the build line's decision, promoted?, warnings) under `promote:` and `min_unseen_rows:`."""
    from mlmon.ml.promotion import better

    challenger, champion = f"v{comparison.challenger_version}", f"v{comparison.champion_version}"
    always = config["promote"] == "always"
    minimum = config["min_unseen_rows"]
    if comparison.rows < minimum:
        fallback = "promotes the new version" if always else "keeps the active version"
        warning = (f"only {comparison.rows:,} labelled rows neither {challenger} nor {champion} was trained on "
                   f"(min_unseen_rows: {minimum}): the scores decide nothing, and promote: {config['promote']} "
                   f"{fallback}")
        what = f"{challenger} promoted" if always else f"kept {champion}"
        headline = f"{what} (only {comparison.rows:,} unseen rows, under {minimum}; promote: {config['promote']})"
        return headline, always, [warning]
    wins = better(comparison.challenger_score, comparison.champion_score, comparison.metric)
    if always:
        return f"{challenger} promoted (promote: always; {comparison.scores_text()})", True, []
    if wins:
        return f"{challenger} promoted ({comparison.scores_text()})", True, []
    return f"kept {champion} ({comparison.scores_text()}; {challenger} registered inactive)", False, []


def _learnt_text(version: "ModelVersion", trained: "TrainedModel") -> str:
    files = version.training_files or []
    shown = f" from {len(files)} file{'s' if len(files) != 1 else ''}" if files else ""
    vars_text = ", ".join(f"{k}={v}" for k, v in (version.training_vars or {}).items())
    return (f"trained v{version.version} on {version.training_dataset} "
            f"({trained.n_train + trained.n_test:,} rows{shown}{'; ' + vars_text if vars_text else ''})")


KIND = RetrainKind()
