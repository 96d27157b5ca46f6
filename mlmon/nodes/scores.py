"""Score nodes: a model's probabilities and predictions for a dataset, as a table."""

from __future__ import annotations



from mlmon.errors import ConfigError
from mlmon.nodes.base import PUBLISH_FIELD, BuildContext, Field, Node, NodeKind, NodeOutcome, ProjectView
from mlmon.nodes.models import registry

__all__ = ["ScoreKind", "KIND"]


class ScoreKind(NodeKind):
    key = "scores"
    type = "score"
    produces_table = True
    fields = (
        Field("model", (str,), required=True, refs=("model",)),
        Field("data", (str,), required=True, refs=("dataset", "score")),
        Field("threshold", (float,), doc="binary only; default: the model's threshold (0.5)"),
        Field("chunk_rows", (int,), default=100_000, doc="rows scored at a time: bounds memory"),
        PUBLISH_FIELD,
    )

    def validate(self, node: Node, project: "ProjectView") -> list[ConfigError]:
        threshold = node.config.get("threshold")
        if threshold is not None and not 0 <= threshold <= 1:
            return [node.error("`threshold` must be between 0 and 1", "threshold")]
        if node.config["chunk_rows"] < 1:
            return [node.error("`chunk_rows` must be positive", "chunk_rows")]
        return []


    def execute(self, node: Node, ctx: "BuildContext") -> NodeOutcome:
        from mlmon.ml.registry import require_active
        from mlmon.ml.scoring import score_relation
        from mlmon.ml.threads import native_threads

        models = registry(ctx)
        version = require_active(models, node.config["model"], node.name)
        pipeline = models.load(version)
        threshold = node.config.get("threshold")
        staging = ctx.warehouse.staging_name(node.name)
        ctx.warehouse.drop_staging(node.name)
        with native_threads(node.config["chunk_rows"]):
            score_relation(
                ctx.warehouse.con, pipeline, ctx.relation_sql(node.config["data"]), staging,
                features=version.features, classes=version.classes, task=version.task,
                threshold=version.threshold if threshold is None else threshold,
                positive_class=version.positive_class, chunk_rows=node.config["chunk_rows"],
                progress=lambda rows: ctx.progress.update(f"scored {rows:,} rows of {node.config['data']}"),
            )
        rows = ctx.warehouse.swap_in(node.name)
        return NodeOutcome(message=f"{node.config['model']} v{version.version}", rows=rows)


KIND = ScoreKind()
