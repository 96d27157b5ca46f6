"""Small synthetic training frames: numbers, categories, booleans and missing values."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
import pytest

from mlmon.ml.training import TrainedModel, TrainSpec, train


def make_frame(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "id": np.arange(n),
            "amount": rng.gamma(2.0, 50.0, n),
            "age": rng.integers(18, 90, n).astype(float),
            "city": rng.choice(["paris", "lyon", "nice", "lille"], n),
            "online": rng.choice([True, False], n),
        }
    )
    frame.loc[rng.random(n) < 0.1, "amount"] = np.nan
    frame.loc[rng.random(n) < 0.1, "city"] = None
    signal = 0.02 * frame["amount"].fillna(100) + (frame["city"] == "paris") * 1.5 - 0.03 * frame["age"]
    frame["fraud"] = (signal + rng.normal(0, 1, n) > 0).astype(int)
    frame["spend"] = 3.0 * frame["amount"].fillna(100) + 10 * frame["online"] + rng.normal(0, 5, n)
    frame["tier"] = np.select([signal < -0.5, signal < 0.5], ["low", "mid"], "high")
    return frame


@pytest.fixture
def frame() -> pd.DataFrame:
    return make_frame()


@pytest.fixture(scope="session")
def frame_factory():
    return make_frame


SPEC = TrainSpec(
    target="fraud",
    features=None,
    exclude=["id", "spend", "tier"],
    estimator="sklearn.ensemble.HistGradientBoostingClassifier",
    params={"max_iter": 20},
)


@pytest.fixture(scope="module")
def model(frame_factory: Callable) -> TrainedModel:
    return train(frame_factory(), SPEC)
