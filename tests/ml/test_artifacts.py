"""skops artifacts: round trip, hash check, missing files and refused types."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from mlmon.errors import MlmonError
from mlmon.ml.artifacts import (
    ArtifactMissingError,
    ArtifactTamperedError,
    UntrustedArtifactError,
    load_model,
    save_model,
)
from mlmon.ml.scoring import predict_frame
from mlmon.ml.training import TrainedModel



def test_round_trip(model: TrainedModel, frame: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "models" / "fraud_model" / "v1.skops"
    digest = save_model(model, path)
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()
    assert [p.name for p in path.parent.iterdir()] == ["v1.skops"]  # no temporary file left
    loaded = load_model(path, digest.upper())
    before = predict_frame(model.pipeline, frame, model.features, model.classes, model.task)
    after = predict_frame(loaded, frame, model.features, model.classes, model.task)
    pd.testing.assert_frame_equal(before, after)


def test_flipped_byte_is_refused(model: TrainedModel, tmp_path: Path) -> None:
    path = tmp_path / "v1.skops"
    digest = save_model(model, path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactTamperedError) as info:
        load_model(path, digest)
    message = str(info.value)
    assert str(path) in message and digest in message
    assert hashlib.sha256(bytes(data)).hexdigest() in message
    assert isinstance(info.value, MlmonError) and info.value.exit_code == 1


def test_rebuilt_once_per_command_but_hashed_every_time(model: TrainedModel, tmp_path: Path) -> None:
    path = tmp_path / "v1.skops"
    digest = save_model(model, path)
    fitted: dict[str, object] = {}
    first = load_model(path, digest, fitted)
    assert fitted == {digest: first} and load_model(path, digest, fitted) is first
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactTamperedError):  # a rebuilt pipeline never hides a changed file
        load_model(path, digest, fitted)


def test_every_scikit_learn_estimator_is_trusted() -> None:
    # skops is imported without its own list of estimators: mlmon's rule must accept them all.
    from sklearn.utils import all_estimators

    from mlmon.ml.artifacts import _is_trusted

    names = [f"{cls.__module__}.{cls.__name__}" for _, cls in all_estimators()]
    assert len(names) > 100 and [n for n in names if not _is_trusted(n)] == []


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ArtifactMissingError, match="does not exist"):
        load_model(tmp_path / "nope.skops", "0" * 64)


def double(x: np.ndarray) -> np.ndarray:
    return x * 2


@pytest.mark.parametrize("func", [double, np.load])
def test_untrusted_types_are_refused(func, tmp_path: Path) -> None:
    X, y = np.arange(20.0).reshape(10, 2), np.arange(10) % 2
    pipe = Pipeline([("f", FunctionTransformer(func if func is double else np.log1p)), ("m", LogisticRegression())])
    pipe.fit(X, y)
    if func is np.load:
        pipe.steps[0][1].func = np.load  # as a hostile artifact would hold it
    path = tmp_path / "m.skops"
    digest = save_model(pipe, path)
    with pytest.raises(UntrustedArtifactError, match=func.__name__):
        load_model(path, digest)


def test_trusted_numpy_function_loads(tmp_path: Path) -> None:
    X, y = np.arange(20.0).reshape(10, 2), np.arange(10) % 2
    pipe = Pipeline([("f", FunctionTransformer(np.log1p)), ("m", LogisticRegression())]).fit(X, y)
    path = tmp_path / "m.skops"
    loaded = load_model(path, save_model(pipe, path))
    np.testing.assert_allclose(loaded.predict_proba(X), pipe.predict_proba(X))
