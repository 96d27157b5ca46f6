"""The names of the performance metrics per task: light enough for the loader to validate a
project without loading scikit-learn."""

from __future__ import annotations

__all__ = ["BINARY_METRICS", "MULTICLASS_METRICS", "REGRESSION_METRICS"]

BINARY_METRICS = (
    "accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "log_loss",
    "brier_score",
    "average_precision",
)
MULTICLASS_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
REGRESSION_METRICS = ("mae", "mse", "rmse", "r2", "mape")
