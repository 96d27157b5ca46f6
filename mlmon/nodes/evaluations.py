"""Evaluation nodes: each build appends one evaluation (metrics) to the node's store."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlmon.errors import ConfigError
from mlmon.nodes.base import Field, Node, NodeKind

if TYPE_CHECKING:
    from mlmon.project.project import Project

__all__ = ["EvaluationKind", "KIND"]

SAMPLING_METHODS = ("full", "head", "random")
REFERENCES = ("training", "first", "previous")


class EvaluationKind(NodeKind):
    key = "evaluations"
    type = "evaluation"
    produces_table = True  # the store's metrics view, one row per evaluation
    fields = (
        Field("model", (str,), required=True, refs=("model",)),
        Field("data", (str,), required=True, refs=("dataset", "score")),
        Field("sampling", (dict,), default={"method": "full"}, doc="{method: full|head|random, size: N, seed: S}"),
        Field("skip_performance", (bool,), default=False, doc="true when the data has no ground truth"),
        Field("labels", (dict,), default={}, doc="key/values stored with each evaluation"),
        Field("reference", (str,), default="training", choices=REFERENCES),
        Field("drift_sample", (int,), default=10_000, doc="rows per side for the domain classifier"),
        Field("threshold", (float,), doc="binary: default the model's threshold"),
        Field("positive_class", (str, int, float, bool)),
        Field("features", (list,), doc="columns to test for drift (default: the model's features)"),
        Field("categorical", (list,), default=[], doc="numeric columns to test as categories"),
    )

    def validate(self, node: Node, project: "Project") -> list[ConfigError]:
        sampling = node.config["sampling"]
        errors = []
        method = sampling.get("method", "full")
        if method not in SAMPLING_METHODS:
            errors.append(node.error(f"sampling method must be one of {', '.join(SAMPLING_METHODS)}, got {method!r}", "sampling"))
        unknown = set(sampling) - {"method", "size", "seed"}
        if unknown:
            errors.append(node.error(f"unknown sampling option(s) {', '.join(sorted(unknown))}", "sampling",
                                     hint="allowed: method, size, seed"))
        if method in ("head", "random") and not isinstance(sampling.get("size"), int):
            errors.append(node.error(f"sampling method '{method}' needs an integer `size`", "sampling"))
        if node.config["drift_sample"] < 10:
            errors.append(node.error("`drift_sample` must be at least 10", "drift_sample"))
        return errors


KIND = EvaluationKind()
