"""The task dispatch: one entry per task, each naming the metrics SPEC §4 gives that task."""

from __future__ import annotations

import pytest

from mlmon.evaluation.task import HEADLINE_METRICS, task_metrics
from mlmon.metrics.task import TASKS, performance_metric_names


def test_every_task_has_its_families_and_only_classifiers_are_estimated() -> None:
    assert TASKS == ("binary", "multiclass", "regression")
    for task in TASKS:
        families = task_metrics(task)
        assert callable(families.performance) and callable(families.prediction_drift) and callable(families.score)
        assert (families.estimated is None) == (task == "regression")
        assert set(HEADLINE_METRICS[task]) - {"estimated_roc_auc", "estimated_accuracy", "prediction_psi"} <= set(
            performance_metric_names(task))


def test_metric_names_follow_the_spec() -> None:
    assert performance_metric_names("multiclass") == (
        "accuracy", "f1_macro", "f1_weighted", "precision_macro", "recall_macro", "log_loss", "roc_auc_ovr")
    assert performance_metric_names("regression") == ("mae", "mse", "rmse", "r2", "mape", "pearson")


def test_an_unknown_task_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown task 'ranking'"):
        task_metrics("ranking")
    with pytest.raises(ValueError, match="one of binary, multiclass, regression"):
        performance_metric_names("ranking")
