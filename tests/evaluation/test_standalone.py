"""Evaluations of a model mlmon did not train: logged outputs, outcomes joined by key, periods.

Every stored statistic of every period equals scipy / scikit-learn on the same rows; a second
build after more outcomes arrive re-evaluates exactly the months whose labelled count changed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest
from click.testing import Result
from scipy import stats
from sklearn import metrics as skm

from mlmon.evaluation import task as task_module
from tests.conftest import query_frame
from tests.evaluation.conftest import run_cli
from tests.evaluation.standalone_project import MONTHS, write_standalone_project
from tests.evaluation.test_metric_values import psi_by_spec


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    root = tmp_path_factory.mktemp("standalone") / "project"
    logged = write_standalone_project(root, checks=True)
    result = run_cli(root, "build", "-s", "+monthly+ +vs_previous")
    assert result.exit_code == 0, result.output
    return root, logged


@pytest.fixture(scope="module")
def df(project) -> Callable[..., pd.DataFrame]:
    return lambda sql, params=None: query_frame(project[0], sql, params)


def period_metrics(df, store: str) -> dict[str, dict[tuple[str, str | None], float]]:
    """{period: {(metric, feature): value}} of the latest evaluation of each period."""
    rows = df("SELECT e.labels, m.metric, m.feature, m.value FROM mlmon.metrics AS m JOIN "
              f"(SELECT evaluation_id, labels FROM {store} JOIN mlmon.evaluations USING (evaluation_id) WHERE is_latest) "
              "AS e USING (evaluation_id)")
    out: dict[str, dict[tuple[str, str | None], float]] = {}
    for r in rows.itertuples():
        period = json.loads(r.labels)["period"]
        out.setdefault(period, {})[(r.metric, None if pd.isna(r.feature) else r.feature)] = r.value
    return out


def test_every_period_equals_scipy_and_scikit_learn(project, df):
    root, logged = project
    reference = pd.read_parquet(root / "data" / "reference.parquet")
    values = period_metrics(df, "monthly")
    assert sorted(values) == ["2019-04-01", "2019-05-01", "2019-06-01"]
    chi2_two_sample = []
    for month in MONTHS:
        got = values[f"{month}-01"]
        rows = logged[logged["scored_at"].dt.strftime("%Y-%m") == month]
        for feature in ("x1", "x2"):
            ks = stats.ks_2samp(reference[feature], rows[feature])
            assert got[("ks_statistic", feature)] == pytest.approx(ks.statistic, rel=1e-9, abs=1e-12)
            assert got[("ks_pvalue", feature)] == pytest.approx(ks.pvalue, rel=1e-9, abs=1e-12)
            assert got[("psi", feature)] == pytest.approx(psi_by_spec(reference[feature].to_numpy(),
                                                                      rows[feature].to_numpy()), rel=1e-9)
        categories = sorted(reference["cat"].unique())
        ref_counts = reference["cat"].value_counts().reindex(categories, fill_value=0).to_numpy()
        cur_counts = rows["cat"].value_counts().reindex(categories, fill_value=0).to_numpy()
        chi2_two_sample.append((got[("chi2_pvalue", "cat")], stats.chi2_contingency([ref_counts, cur_counts]).pvalue))
        # predicted class shares read the logged decisions (cut at 0.35), not the score at 0.5
        for label in (0, 1):
            assert got[("predicted_class_share", str(label))] == pytest.approx((rows["decision"] == label).mean(), rel=1e-9)
            assert got[("predicted_class_share_reference", str(label))] == pytest.approx(
                (reference["decision"] == label).mean(), rel=1e-9)
        known = rows[rows["known_early"]]
        assert got[("label_coverage", None)] == pytest.approx(len(known) / len(rows), rel=1e-12)
        assert got[("n_labelled", None)] == len(known)
        if len(known):
            y = known["is_fraud"].to_numpy()
            assert got[("roc_auc", None)] == pytest.approx(skm.roc_auc_score(y, known["score"]), rel=1e-9)
            assert got[("accuracy", None)] == pytest.approx(skm.accuracy_score(y, known["decision"]), rel=1e-9)
            assert got[("f1", None)] == pytest.approx(skm.f1_score(y, known["decision"]), rel=1e-9)
            ref_auc = skm.roc_auc_score(reference["is_fraud"], reference["score"])
            assert got[("roc_auc_drift", None)] == pytest.approx(got[("roc_auc", None)] - ref_auc, rel=1e-9)
            assert got[("accuracy", None)] != pytest.approx(skm.accuracy_score(y, known["score"] >= 0.5), rel=1e-9)
        else:  # no outcome yet: no performance, still an estimate
            assert np.isnan(got.get(("roc_auc", None), np.nan))
            assert got[("estimated_roc_auc", None)] is not None
    for stored, expected in chi2_two_sample:
        assert stored == pytest.approx(expected, rel=1e-9)


def test_store_view_types_labels_and_marks_latest(df):
    types = dict(df("DESCRIBE monthly")[["column_name", "column_type"]].itertuples(index=False))
    assert types["period"] == "DATE" and types["team"] == "VARCHAR" and types["is_latest"] == "BOOLEAN"
    view = df("SELECT period, team, model, n_rows, is_latest FROM monthly ORDER BY period")
    assert [str(p.date()) for p in view["period"]] == ["2019-04-01", "2019-05-01", "2019-06-01"]
    assert view["team"].tolist() == ["risk"] * 3 and view["model"].isna().all()
    assert view["n_rows"].tolist() == [600, 600, 600] and view["is_latest"].all()


def test_show_prints_a_period_as_a_date(project):
    root, _ = project
    result = run_cli(root, "show", "monthly", "--output", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["rows"]
    assert sorted(r["period"] for r in rows) == ["2019-04-01", "2019-05-01", "2019-06-01"]
    assert all("T" in r["created_at"] for r in rows)  # a timestamp stays one
    table = run_cli(root, "show", "monthly")
    assert "2019-04-01 " in table.output and "2019-04-01 00:00:00" not in table.output


def test_a_check_judges_every_period_the_build_appended(df):
    results = df("SELECT r.status, r.value, json_extract_string(e.labels, '$.period') AS period FROM mlmon.check_results AS r "
                 "JOIN mlmon.evaluations AS e USING (evaluation_id) WHERE r.\"check\" = 'coverage' ORDER BY period")
    assert results["period"].tolist() == ["2019-04-01", "2019-05-01", "2019-06-01"]
    assert results["status"].tolist() == ["OK", "WARNING", "WARNING"]
    assert results["value"].iloc[-1] == 0.0


def test_previous_period_is_the_reference(project, df):
    root, logged = project
    values = period_metrics(df, "vs_previous")
    for before, month in zip(MONTHS, MONTHS[1:]):
        ref = logged[logged["scored_at"].dt.strftime("%Y-%m") == before]
        cur = logged[logged["scored_at"].dt.strftime("%Y-%m") == month]
        ks = stats.ks_2samp(ref["x1"], cur["x1"])
        assert values[f"{month}-01"][("ks_statistic", "x1")] == pytest.approx(ks.statistic, rel=1e-9)
        # no logged decision: the classes are cut at `threshold`
        assert values[f"{month}-01"][("predicted_class_share", "1")] == pytest.approx((cur["score"] >= 0.35).mean())
    kinds = df("SELECT labels, reference FROM mlmon.evaluations WHERE store = 'vs_previous' ORDER BY created_at")
    assert kinds["reference"].tolist() == ["previous"] * 3


def test_more_outcomes_re_evaluate_exactly_the_changed_months(project, df):
    root, logged = project
    first = df("SELECT evaluation_id FROM mlmon.evaluations WHERE store = 'monthly'")["evaluation_id"].tolist()
    again = run_cli(root, "build", "-s", "monthly")
    assert again.exit_code == 0, again.output
    assert df("SELECT count(*) AS n FROM mlmon.evaluations WHERE store = 'monthly'")["n"][0] == 3

    result = run_cli(root, "build", "-s", "monthly", "--vars", "{wave: late}")
    assert result.exit_code == 0, result.output
    rows = df("SELECT CAST(period AS VARCHAR) AS period, evaluation_id, is_latest, n_labelled FROM monthly "
              "ORDER BY period, created_at")
    new = rows[~rows["evaluation_id"].isin(first)]
    assert new["period"].tolist() == ["2019-05-01", "2019-06-01"]  # April's outcomes did not change
    assert rows.groupby("period")["is_latest"].sum().tolist() == [1, 1, 1]
    latest = rows[rows["is_latest"]].set_index("period")["n_labelled"]
    month = logged["scored_at"].dt.strftime("%Y-%m-01")
    assert latest.to_dict() == {p: float(n) for p, n in logged.groupby(month)["known_late"].sum().items()}
    # one transaction: both new evaluations come from the same invocation
    invocations = df("SELECT DISTINCT invocation_id FROM mlmon.evaluations WHERE evaluation_id IN "
                     f"({', '.join(repr(e) for e in new['evaluation_id'])})")
    assert len(invocations) == 1

    refreshed = run_cli(root, "build", "-s", "monthly", "--vars", "{wave: late}", "--full-refresh")
    assert refreshed.exit_code == 0, refreshed.output
    assert df("SELECT count(*) AS n FROM mlmon.evaluations WHERE store = 'monthly'")["n"][0] == 8


CALIBRATED_YML = """
datasets:
  - name: reference_scores
    files: data/reference.parquet
  - name: big
    files: data/big.parquet
evaluations:
  - name: calibrated
    data: big
    reference: reference_scores
    predictions: {proba: score}
    target: is_fraud
    features: [x1, x2, cat]
"""


def test_cbpe_estimate_matches_the_realised_auc_on_calibrated_scores(tmp_path: Path):
    from tests.evaluation.standalone_project import _rows

    root = tmp_path / "project"
    write_standalone_project(root)
    (root / "monitors" / "evaluations.yml").unlink()
    (root / "models" / "datasets.yml").write_text(CALIBRATED_YML)
    big = _rows(np.random.default_rng(5), 20_000, 0.5, "2019-07-01", 30)
    big.to_parquet(root / "data" / "big.parquet", index=False)
    result = run_cli(root, "build")
    assert result.exit_code == 0, result.output
    got = dict(query_frame(root, "SELECT metric, value FROM mlmon.metrics WHERE feature IS NULL")
               .itertuples(index=False))
    realised = skm.roc_auc_score(big["is_fraud"], big["score"])
    assert got["roc_auc"] == pytest.approx(realised, rel=1e-9)
    assert abs(got["estimated_roc_auc"] - realised) < 0.03
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(big["is_fraud"], big["score"] >= 0.5), rel=1e-9)


# -- bad input ---------------------------------------------------------------------------------


def bad_project(tmp_path: Path, evaluation: str) -> tuple[Path, Result]:
    root = tmp_path / "project"
    write_standalone_project(root)
    # a .sql copy of the logged rows: its columns are known only once it is built
    (root / "models" / "logged_copy.sql").write_text("select * from {{ ref('logged_scores') }}")
    (root / "models" / "logged_noid.sql").write_text("select * exclude (id) from {{ ref('logged_scores') }}")
    (root / "monitors" / "evaluations.yml").write_text("evaluations:\n" + evaluation)
    return root, run_cli(root, "build")


BASE = """\
  - name: bad
    data: logged_scores
    reference: reference_scores
    predictions: {proba: score}
    target: is_fraud
"""


@pytest.mark.parametrize("data, extra, code, words", [
    ("logged_scores", "    ground_truth: {data: outcomes, key: [id, cat]}\n", 2, ["outcomes' has no column 'cat'"]),
    ("logged_noid", "    ground_truth: {data: outcomes, key: id}\n", 1, ["data 'logged_noid' has no column 'id'"]),
    ("logged_scores", "    period: {column: cat, every: month}\n", 2, ["'cat'", "type VARCHAR, not a timestamp or date"]),
    ("logged_copy", "    period: {column: cat, every: month}\n", 1, ["'cat'", "type VARCHAR, not a timestamp or date"]),
])
def test_bad_columns_are_reported_with_the_line_before_anything_is_written(tmp_path, data, extra, code, words):
    """A file dataset's columns are known at compile time (exit 2); a built table's when the node
    starts (exit 1). Either way the error names the line and nothing is appended."""
    root, result = bad_project(tmp_path, BASE.replace("data: logged_scores", f"data: {data}") + extra)
    assert result.exit_code == code, result.output
    text = " ".join(result.output.split())
    for word in words:
        assert word in text, result.output
    assert "monitors/evaluations.yml:7" in text, result.output
    if code == 1:
        assert query_frame(root, "SELECT count(*) AS n FROM mlmon.evaluations")["n"][0] == 0


def test_reference_first_without_a_common_feature_is_a_clear_error(tmp_path):
    evaluation = BASE.replace("    reference: reference_scores\n", "") + (
        "    features: [nope]\n    reference: first\n    ground_truth: {data: outcomes, key: id}\n")
    root, result = bad_project(tmp_path, evaluation)
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert "no feature present in both" in text and "lacks nope" in text and "ParserException" not in text
    assert query_frame(root, "SELECT count(*) AS n FROM mlmon.evaluations")["n"][0] == 0


def test_reference_without_the_target_column(tmp_path):
    root = tmp_path / "project"
    write_standalone_project(root)
    frame = pd.read_parquet(root / "data" / "reference.parquet").drop(columns=["is_fraud"])
    frame.to_parquet(root / "data" / "reference.parquet", index=False)
    (root / "models" / "reference_copy.sql").write_text("select * from {{ ref('reference_scores') }}")
    for reference, code in (("reference_scores", 2), ("reference_copy", 1)):
        (root / "monitors" / "evaluations.yml").write_text(
            "evaluations:\n" + BASE.replace("reference: reference_scores", f"reference: {reference}"))
        result = run_cli(root, "build")
        assert result.exit_code == code, result.output
        text = " ".join(result.output.split())
        assert f"reference '{reference}' has no column 'is_fraud'" in text
        assert "monitors/evaluations.yml:6" in text


def test_duplicate_outcomes_name_the_key_and_count(tmp_path):
    root = tmp_path / "project"
    write_standalone_project(root)
    outcomes = pd.read_parquet(root / "data" / "outcomes_early.parquet")
    pd.concat([outcomes, outcomes.iloc[:1], outcomes.iloc[:1]]).to_parquet(root / "data" / "outcomes_early.parquet", index=False)
    (root / "monitors" / "evaluations.yml").write_text(
        "evaluations:\n" + BASE + "    ground_truth: {data: outcomes, key: id}\n")
    result = run_cli(root, "build")
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert f"3 rows for the key id = {int(outcomes['id'].iloc[0])!r}" in text


@pytest.mark.parametrize("head, words", [
    ("  - name: bad\n    data: logged_scores\n    reference: reference_scores\n    target: is_fraud\n",
     ["needs exactly one of `model:` and `predictions:`", "neither"]),
    ("  - name: bad\n    model: m\n    data: logged_scores\n    predictions: {proba: score}\n    target: is_fraud\n"
     "    reference: reference_scores\n", ["both"]),
    ("  - name: bad\n    data: logged_scores\n    predictions: {proba: score}\n    target: is_fraud\n",
     ["needs `reference:`"]),
    ("  - name: bad\n    data: logged_scores\n    predictions: {proba: score}\n    target: is_fraud\n"
     "    reference: referense_scores\n", ["got 'referense_scores'", "did you mean 'reference_scores'"]),
    (BASE + "    period: {column: scored_at, every: fortnight}\n", ["`period` must be"]),
])
def test_configuration_errors_at_compile_time(tmp_path, head, words):
    root = tmp_path / "project"
    write_standalone_project(root)
    models = "models:\n  - name: m\n    data: reference_scores\n    target: is_fraud\n" if "model: m" in head else ""
    (root / "monitors" / "evaluations.yml").write_text(models + "evaluations:\n" + head)
    result = run_cli(root, "build")
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "monitors/evaluations.yml:" in text
    for word in words:
        assert word in text, result.output
    assert not (root / "target" / "warehouse.duckdb").exists() or query_frame(
        root, "SELECT count(*) AS n FROM mlmon.evaluations")["n"][0] == 0


OTHER_TASKS_YML = """
datasets:
  - name: ref_rows
    files: data/ref_rows.parquet
  - name: cur_rows
    files: data/cur_rows.parquet
evaluations:
  - name: regression
    data: cur_rows
    reference: ref_rows
    predictions: {prediction: y_hat}
    target: y
    features: [x1]
  - name: multiclass
    data: cur_rows
    reference: ref_rows
    predictions: {proba: {bus: p_bus, car: p_car, train: p_train}}
    target: mode
    features: [x1]
"""


def _other_task_rows(root: Path, n: int) -> dict[str, pd.DataFrame]:
    """ref_rows and cur_rows: a regression's target and prediction, a three-class model's
    probabilities and outcome, and a timestamp in one of four months; written as parquet."""
    frames = {}
    for name, seed in (("ref_rows", 0), ("cur_rows", 1)):
        rng = np.random.default_rng(seed)
        x1 = rng.normal(0, 1, n)
        logits = np.c_[x1, -x1, np.zeros(n)] + rng.normal(0, 0.3, (n, 3))
        proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        mode = np.array(["bus", "car", "train"])[[rng.choice(3, p=p) for p in proba]]
        frames[name] = pd.DataFrame({"x1": x1, "y": 2 * x1 + rng.normal(0, 1, n), "y_hat": 2 * x1,
                                     "p_bus": proba[:, 0], "p_car": proba[:, 1], "p_train": proba[:, 2], "mode": mode,
                                     "at": pd.to_datetime("2024-01-01") + pd.to_timedelta(np.arange(n) % 4 * 31, unit="D")})
        frames[name].to_parquet(root / "data" / f"{name}.parquet", index=False)
    return frames


def test_regression_and_multiclass_logged_outputs(tmp_path: Path):
    """The task is inferred from `predictions:`; the metric functions of each task run on the
    logged outputs (their names are the performance module's)."""
    root = tmp_path / "project"
    write_standalone_project(root)
    (root / "monitors" / "evaluations.yml").unlink()
    (root / "models" / "datasets.yml").write_text(OTHER_TASKS_YML)
    frames = _other_task_rows(root, 1500)
    result = run_cli(root, "build")
    assert result.exit_code == 0, result.output
    got = {(r.store, r.metric): r.value for r in query_frame(
        root, "SELECT store, metric, value FROM mlmon.metrics WHERE feature IS NULL").itertuples()}
    cur = frames["cur_rows"]
    assert got[("regression", "mae")] == pytest.approx(skm.mean_absolute_error(cur["y"], cur["y_hat"]), rel=1e-9)
    assert got[("regression", "rmse")] == pytest.approx(skm.root_mean_squared_error(cur["y"], cur["y_hat"]), rel=1e-9)
    assert got[("regression", "r2")] == pytest.approx(skm.r2_score(cur["y"], cur["y_hat"]), rel=1e-9)
    predicted = np.array(["bus", "car", "train"])[cur[["p_bus", "p_car", "p_train"]].to_numpy().argmax(axis=1)]
    assert got[("multiclass", "accuracy")] == pytest.approx(skm.accuracy_score(cur["mode"], predicted), rel=1e-9)
    assert got[("multiclass", "label_coverage")] == 1.0


def test_a_multiclass_period_store_measures_its_reference_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Per-class drift needs the reference's per-class performance: measured on the reference's
    rows once for all the periods compared with it, each period's drift still exact."""
    root = tmp_path / "project"
    write_standalone_project(root)
    (root / "monitors" / "evaluations.yml").unlink()
    yml = OTHER_TASKS_YML.replace("    features: [x1]\n", "    features: [x1]\n    period: {column: at, every: month}\n")
    (root / "models" / "datasets.yml").write_text(yml.split("  - name: regression")[0]
                                                  + "  - name: multiclass" + yml.split("  - name: multiclass")[1])
    frames = _other_task_rows(root, 1200)
    measured: list[str] = []
    real = task_module.measured_performance

    def counted(con, relation_sql, plan):
        measured.append(relation_sql)
        return real(con, relation_sql, plan)

    monkeypatch.setattr(task_module, "measured_performance", counted)
    result = run_cli(root, "build")
    assert result.exit_code == 0, result.output
    assert len(measured) == 4 + 1  # each month's rows, and the reference's once
    rows = query_frame(root, "SELECT e.labels, m.feature, m.value FROM mlmon.metrics AS m JOIN mlmon.evaluations AS e "
                             "USING (evaluation_id) WHERE m.metric = 'f1_drift' AND m.feature IS NOT NULL")
    ref, cur = frames["ref_rows"], frames["cur_rows"]
    classes = ["bus", "car", "train"]

    def f1(frame: pd.DataFrame) -> np.ndarray:
        predicted = np.array(classes)[frame[["p_bus", "p_car", "p_train"]].to_numpy().argmax(axis=1)]
        return skm.f1_score(frame["mode"], predicted, labels=classes, average=None)

    assert len(rows) == 4 * 3
    for row in rows.itertuples():
        month = pd.Timestamp(json.loads(row.labels)["period"])
        expected = f1(cur[cur["at"].dt.to_period("M").dt.start_time == month]) - f1(ref)
        assert row.value == pytest.approx(expected[classes.index(row.feature)], rel=1e-9), (month, row.feature)
