"""The repository's example project, copied to a tmp folder: monthly evaluations of its stores."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mlmon.demo.generator import generate
from tests.conftest import REPO_ROOT
from tests.evaluation.conftest import frame_of, run_cli

pytestmark = pytest.mark.slow

PROJECT_FILES = ("mlmon_project.yml", "models", "monitors", "checks", "macros")


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("example") / "project"
    root.mkdir(parents=True)
    for name in PROJECT_FILES:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, root / name)
        elif source.exists():
            shutil.copy(source, root / name)
    if any((REPO_ROOT / "data").glob("transactions_prepared_2017_*.csv")):
        shutil.copytree(REPO_ROOT / "data", root / "data")
    else:
        generate(root / "data", months=range(1, 7), rows=1000)
    return root


def statuses(root: Path) -> dict[str, str]:
    results = json.loads((root / "target" / "run_results.json").read_text())
    return {r["node"]: r["status"] for r in results["results"]}


def months(root: Path, store: str) -> list[str]:
    view = frame_of(root, f'SELECT month FROM "{store}" ORDER BY created_at')
    return view["month"].tolist()


def test_full_build_evaluates_both_stores(example):
    result = run_cli(example, "build")
    assert result.exit_code in (0, 1), result.output  # a drift check may legitimately fail
    status = statuses(example)
    assert status["mes_for_input_drift"] == "success", result.output
    assert status["mes_for_ground_truth"] == "success", result.output
    assert months(example, "mes_for_input_drift") == ["2017_04"]
    assert months(example, "mes_for_ground_truth") == ["2017_04"]
    view = frame_of(example, "SELECT * FROM mes_for_ground_truth")
    assert view["roc_auc"][0] > 0.6 and 0 <= view["data_drift"][0] <= 1
    assert "accuracy" not in frame_of(example, "SELECT * FROM mes_for_input_drift").columns


def test_non_recursive_build_of_a_new_month(example):
    result = run_cli(example, "build", "--vars", '{month: "2017_05"}', "-s", "mes_for_input_drift")
    assert result.exit_code == 0, result.output
    assert list(statuses(example)) == ["mes_for_input_drift"]
    assert months(example, "mes_for_input_drift") == ["2017_04", "2017_05"]
    labels = frame_of(example, "SELECT labels FROM mlmon.evaluations WHERE store = 'mes_for_input_drift' "
                               "ORDER BY created_at DESC LIMIT 1")["labels"][0]
    assert json.loads(labels) == {"month": "2017_05"}
    # The ground-truth store was not touched.
    assert months(example, "mes_for_ground_truth") == ["2017_04"]


def test_plus_selection_rescores_then_evaluates(example):
    result = run_cli(example, "build", "--vars", '{month: "2017_05"}', "-s", "+mes_for_ground_truth")
    assert result.exit_code == 0, result.output
    status = statuses(example)
    order = list(status)
    assert status["test_scored"] == "success" and status["mes_for_ground_truth"] == "success"
    assert order.index("test_scored") < order.index("mes_for_ground_truth")
    assert months(example, "mes_for_ground_truth") == ["2017_04", "2017_05"]
    rows = frame_of(example, "SELECT count(*) AS n FROM test_scored")["n"][0]
    latest = frame_of(example, "SELECT n_rows, n_evaluated FROM mes_for_ground_truth ORDER BY created_at DESC LIMIT 1")
    assert latest["n_rows"][0] == rows and latest["n_evaluated"][0] == min(rows, 10_000)
