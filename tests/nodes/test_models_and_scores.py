"""Model versions, rollback, tampering, and scoring through real builds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlmon.ml.artifacts import load_model
from tests.conftest import query_frame


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    amount = rng.gamma(2.0, 50.0, n)
    score = rng.normal(650, 60, n)
    kind = rng.choice(["a", "b", "c"], n)
    logit = 3.0 - amount / 60 + (score - 650) / 40 + (kind == "c") * -1.5
    frame = pd.DataFrame({
        "id": np.arange(n), "amount": amount, "score": score, "kind": kind,
        "label": (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int),
    })
    frame.loc[::17, "score"] = np.nan
    return frame


@pytest.fixture
def project(make_project, tmp_path) -> Path:
    root = make_project({
        "models/sources.yml": """
            datasets:
              - name: train_rows
                files: data/train.csv
              - name: fresh_rows
                files: data/fresh.csv
            models:
              - name: clf
                data: train_rows
                target: label
                exclude: [id]
                estimator: sklearn.linear_model.LogisticRegression
                params: {max_iter: 500}
                test_size: 0.25
                seed: 3
            scores:
              - name: scored
                model: clf
                data: fresh_rows
                threshold: 0.3
                chunk_rows: 1000
            """,
    })
    (root / "data").mkdir()
    _frame(2000, 1).to_csv(root / "data" / "train.csv", index=False)
    _frame(4500, 2).to_csv(root / "data" / "fresh.csv", index=False)
    return root




def test_first_build_trains_v1_then_reuses_it(project, mlmon):
    result = mlmon("build", project=project)
    assert result.exit_code == 0, result.output
    versions = query_frame(project, "SELECT * FROM mlmon.model_versions")
    assert list(versions["version"]) == [1] and bool(versions["active"][0])
    assert versions["n_train"][0] == 1500 and versions["n_test"][0] == 500
    assert json.loads(versions["metrics"][0])["roc_auc"] > 0.7
    reference = query_frame(project, "SELECT * FROM mlmon.ref_clf_v1")
    assert len(reference) == 500 and {"proba_0", "proba_1", "prediction", "label"} <= set(reference.columns)
    result = mlmon("build", project=project)
    assert "REUSED model clf" in result.output
    assert len(query_frame(project, "SELECT * FROM mlmon.model_versions")) == 1


def test_selecting_a_model_by_name_trains_a_new_active_version(project, mlmon):
    assert mlmon("build", project=project).exit_code == 0
    assert mlmon("build", "-s", "clf", project=project).exit_code == 0
    assert mlmon("build", "--full-refresh", "-s", "+scored", project=project).exit_code == 0
    versions = query_frame(project, "SELECT version, active FROM mlmon.model_versions ORDER BY version")
    assert versions.values.tolist() == [[1, False], [2, False], [3, True]]


def test_rollback_activates_an_older_version(project, mlmon):
    assert mlmon("build", project=project).exit_code == 0
    assert mlmon("build", "-s", "clf", project=project).exit_code == 0
    result = mlmon("model", "activate", "clf", "1", project=project)
    assert result.exit_code == 0 and "clf v1 is now active" in result.output
    assert query_frame(project, "SELECT version FROM mlmon.model_versions WHERE active").values.tolist() == [[1]]
    listing = mlmon("model", "versions", "clf", "--output", "json", project=project)
    assert [row["version"] for row in json.loads(listing.output)] == [1, 2]
    assert mlmon("model", "activate", "clf", "9", project=project).exit_code == 2


def test_tampered_artifact_is_refused(project, mlmon):
    assert mlmon("build", project=project).exit_code == 0
    artifact = project / query_frame(project, "SELECT artifact_path FROM mlmon.model_versions")["artifact_path"][0]
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0xFF
    artifact.write_bytes(bytes(data))
    result = mlmon("build", project=project)
    assert result.exit_code == 1
    assert "sha256" in result.output and "ERROR  model clf" in result.output
    assert "SKIP   score scored" in result.output


def test_scores_equal_the_estimators_own_predict_proba(project, mlmon):
    assert mlmon("build", project=project).exit_code == 0
    scored = query_frame(project, "SELECT * FROM main.scored")
    version = query_frame(project, "SELECT artifact_path, sha256, features FROM mlmon.model_versions")
    pipeline = load_model(project / version["artifact_path"][0], version["sha256"][0])
    fresh = pd.read_csv(project / "data" / "fresh.csv")
    expected = pipeline.predict_proba(fresh[json.loads(version["features"][0])])
    assert len(scored) == 4500  # several chunks of 1,000 rows
    assert list(scored.columns[-3:]) == ["proba_0", "proba_1", "prediction"]
    np.testing.assert_allclose(scored.sort_values("id")[["proba_0", "proba_1"]].to_numpy(), expected, rtol=1e-12)
    assert (scored["prediction"] == (scored["proba_1"] >= 0.3).astype(int)).all()


def test_scoring_reports_missing_feature_columns(project, mlmon):
    assert mlmon("build", project=project).exit_code == 0
    _frame(100, 5).drop(columns=["score"]).to_csv(project / "data" / "fresh.csv", index=False)
    result = mlmon("build", "-s", "scored", project=project)
    assert result.exit_code == 1
    assert "score" in result.output and "missing" in result.output.lower()
    assert len(query_frame(project, "SELECT * FROM main.scored")) == 4500, "the previous table is kept"
