"""The three kinds of model an evaluation knows, and the metric names each one produces.

The evaluation's task-specific work is dispatched on `Task` in one place
(`mlmon.evaluation.task`); this module only names things, so that training, the registry and
the checks can use the names without loading the evaluation stack.
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = [
    "Task",
    "TASKS",
    "BINARY_METRICS",
    "MULTICLASS_METRICS",
    "MULTICLASS_CLASS_METRICS",
    "REGRESSION_METRICS",
    "performance_metric_names",
]

Task = Literal["binary", "multiclass", "regression"]
TASKS: tuple[str, ...] = get_args(Task)

BINARY_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "brier_score", "average_precision")
MULTICLASS_METRICS = ("accuracy", "f1_macro", "f1_weighted", "precision_macro", "recall_macro", "log_loss",
                      "roc_auc_ovr")
MULTICLASS_CLASS_METRICS = ("precision", "recall", "f1")  # one value per class (feature = the class label)
REGRESSION_METRICS = ("mae", "mse", "rmse", "r2", "mape", "pearson")

_PERFORMANCE: dict[str, tuple[str, ...]] = {
    "binary": BINARY_METRICS, "multiclass": MULTICLASS_METRICS, "regression": REGRESSION_METRICS,
}


def performance_metric_names(task: str) -> tuple[str, ...]:
    """The global performance metrics of a task, in the order they are stored."""
    try:
        return _PERFORMANCE[task]
    except KeyError:
        raise ValueError(f"unknown task {task!r}: one of {', '.join(TASKS)}") from None

