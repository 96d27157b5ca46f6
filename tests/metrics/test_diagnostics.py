from __future__ import annotations

import math
from typing import Any

import pytest

from mlmon.metrics.diagnostics import diagnose

HEALTHY: dict[str, Any] = {
    "n_rows": 5_000,
    "class_shares": {0: 0.7, 1: 0.3},
    "missing_share_by_feature": {"age": 0.1, "income": 0.5},  # exactly 50% is not "over"
    "absent_features": [],
    "roc_auc": 0.85,
    "accuracy": 0.8,
    "majority_share": 0.7,
}

CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("healthy", {}, []),
    ("small sample", {"n_rows": 812}, ["sample has 812 rows (< 1,000): metrics are noisy"]),
    ("empty sample", {"n_rows": 0}, ["sample has 0 rows (< 1,000): metrics are noisy"]),
    ("1,000 rows is enough", {"n_rows": 1_000}, []),
    (
        "rare class",
        {"class_shares": {"no": 0.968, "yes": 0.032}},
        ["class yes is 3.2% of rows (< 5%): its metrics rest on few rows"],
    ),
    (
        "rare class just under the bar does not print as 5.0%",
        {"class_shares": {0: 0.9504, 1: 0.0496}},
        ["class 1 is 4.9% of rows (< 5%): its metrics rest on few rows"],
    ),
    ("5% exactly is fine", {"class_shares": {0: 0.95, 1: 0.05}}, []),
    ("no class shares", {"class_shares": None}, []),
    (
        "mostly missing feature",
        {"missing_share_by_feature": {"age": 0.625, "income": 0.1}},
        ["feature age is 62.5% missing (> 50%): its drift and the model's inputs are mostly imputed"],
    ),
    (
        "missing just over half does not print as 50.0%",
        {"missing_share_by_feature": {"age": 0.5001}},
        ["feature age is 50.1% missing (> 50%): its drift and the model's inputs are mostly imputed"],
    ),
    (
        "absent features",
        {"absent_features": ["zip", "tenure"]},
        [
            "feature zip is absent from the data: the model receives it as missing",
            "feature tenure is absent from the data: the model receives it as missing",
        ],
    ),
    (
        "leakage",
        {"roc_auc": 0.9931},
        ["ROC AUC is 0.9931 (> 0.98): possible target leakage, check that no feature is derived from the target"],
    ),
    (
        "leakage just over the bar keeps enough digits",
        {"roc_auc": 0.98002},
        ["ROC AUC is 0.98002 (> 0.98): possible target leakage, check that no feature is derived from the target"],
    ),
    ("AUC of 0.98 is fine", {"roc_auc": 0.98}, []),
    ("unknown metrics are skipped", {"roc_auc": None, "accuracy": math.nan}, []),
    (
        "no better than the majority class",
        {"accuracy": 0.9, "majority_share": 0.92},
        ["accuracy 0.9000 is no better than always predicting the majority class (0.9200): the model adds nothing"],
    ),
    (
        "equal to the majority class",
        {"accuracy": 0.7, "majority_share": 0.7},
        ["accuracy 0.7000 is no better than always predicting the majority class (0.7000): the model adds nothing"],
    ),
    ("no majority share", {"accuracy": 0.5, "majority_share": None}, []),
    (
        "an identifier among the features",
        {"distinct_by_feature": {"user_id": (1_998, 2_000), "city": (40, 2_000)}},
        ["feature user_id looks like an identifier (1,998 distinct values in 2,000 reference rows): its values are "
         "new in every evaluation, which is no drift to watch; leave it out of `features:`"],
    ),
    ("90% distinct from 100 rows is an identifier", {"distinct_by_feature": {"k": (90, 100)}},
     ["feature k looks like an identifier (90 distinct values in 100 reference rows): its values are new in every "
      "evaluation, which is no drift to watch; leave it out of `features:`"]),
    ("just under 90% distinct is not", {"distinct_by_feature": {"k": (89, 100)}}, []),
    ("under 100 rows nothing is said", {"distinct_by_feature": {"k": (99, 99)}}, []),
]


@pytest.mark.parametrize(("changes", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_diagnose(changes: dict[str, Any], expected: list[str]) -> None:
    assert diagnose(**{**HEALTHY, **changes}) == expected


def test_everything_wrong_at_once_in_a_fixed_order() -> None:
    messages = diagnose(
        n_rows=300,
        class_shares={0: 0.99, 1: 0.01},
        missing_share_by_feature={"a": 0.9},
        absent_features=["b"],
        roc_auc=0.999,
        accuracy=0.95,
        majority_share=0.99,
    )
    assert [m.split(" ")[0] for m in messages] == ["sample", "class", "feature", "feature", "ROC", "accuracy"]
