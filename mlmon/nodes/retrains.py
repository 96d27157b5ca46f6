"""Retrain nodes: train a new model version when named checks' latest status says so."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlmon.errors import ConfigError
from mlmon.nodes.base import Field, Node, NodeKind

if TYPE_CHECKING:
    from mlmon.project.project import Project

__all__ = ["RetrainKind", "KIND"]

CHECK_STATUSES = ("ERROR", "WARNING", "OK", "EMPTY")


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
        Field("promote_metric", (str,), doc="metric compared by if_better (default roc_auc, or r2)"),
    )

    def validate(self, node: Node, project: "Project") -> list[ConfigError]:
        if isinstance(node.config["when"], str):
            node.config["when"] = [node.config["when"]]
        bad = [s for s in node.config["on"] if s not in CHECK_STATUSES]
        if bad:
            return [node.error(f"`on` takes check statuses {', '.join(CHECK_STATUSES)}, got {', '.join(map(str, bad))}", "on")]
        return []


KIND = RetrainKind()
