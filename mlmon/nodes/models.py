"""ML models: a build trains a new version, registers it and keeps its held-out reference."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlmon.errors import ConfigError
from mlmon.nodes.base import Field, Node, NodeKind

if TYPE_CHECKING:
    from mlmon.project.project import Project

__all__ = ["ModelKind", "KIND"]

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

    def validate(self, node: Node, project: "Project") -> list[ConfigError]:
        errors = []
        if node.config.get("features") and node.config.get("exclude"):
            errors.append(node.error("give `features:` or `exclude:`, not both", "exclude"))
        if not 0 < node.config["test_size"] < 1:
            errors.append(node.error("`test_size` must be between 0 and 1", "test_size"))
        if not 0 <= node.config["threshold"] <= 1:
            errors.append(node.error("`threshold` must be between 0 and 1", "threshold"))
        return errors


KIND = ModelKind()
