"""Score nodes: a model's probabilities and predictions for a dataset, as a table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlmon.errors import ConfigError
from mlmon.nodes.base import Field, Node, NodeKind

if TYPE_CHECKING:
    from mlmon.project.project import Project

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
    )

    def validate(self, node: Node, project: "Project") -> list[ConfigError]:
        threshold = node.config.get("threshold")
        if threshold is not None and not 0 <= threshold <= 1:
            return [node.error("`threshold` must be between 0 and 1", "threshold")]
        if node.config["chunk_rows"] < 1:
            return [node.error("`chunk_rows` must be positive", "chunk_rows")]
        return []


KIND = ScoreKind()
