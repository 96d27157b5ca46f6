"""The example project from a fresh copy, walked month by month as a user would.

April is built in full; later months are evaluated non-recursively (`-s mes_for_input_drift`
with --vars), the retrain scenario runs on a drifted month, and the dashboard and the flow page
are opened in real headless Chromium.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import copy_example_project, query_rows
from tests.reports.conftest import browser  # noqa: F401  (fixture)

pytestmark = pytest.mark.slow

MONTHS = ("2017_05", "2017_07", "2017_10")


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> Path:
    root = copy_example_project(tmp_path_factory.mktemp("example"))
    return root


@pytest.fixture(scope="module")
def walked(example: Path) -> Path:
    from click.testing import CliRunner

    from mlmon.cli import cli

    def run(*args: str) -> str:
        result = CliRunner().invoke(cli, [*args, "--project-dir", str(example)], catch_exceptions=False)
        assert result.exit_code in (0, 1), result.output
        return result.output

    first = run("build")
    assert "OK     model fraud_model" in first and "OK     score test_scored" in first
    for month in MONTHS:
        run("build", "--vars", json.dumps({"month": month}), "-s", "mes_for_input_drift")
    run("scenario", "run", "retrain_model", "--vars", json.dumps({"month": "2017_11"}))
    return example




def test_first_build_scores_and_evaluates_april(walked: Path) -> None:
    columns = [r[0] for r in query_rows(walked, "DESCRIBE main.test_scored")]
    assert columns[-3:] == ["proba_0", "proba_1", "prediction"]
    labels = query_rows(walked, "SELECT labels ->> 'month' FROM mlmon.evaluations "
                            "WHERE store = 'mes_for_ground_truth'")
    assert labels == [("2017_04",)]


def test_walking_the_months_appends_one_evaluation_each(walked: Path) -> None:
    months = [r[0] for r in query_rows(walked, "SELECT month FROM main.mes_for_input_drift ORDER BY created_at")]
    assert months == ["2017_04", *MONTHS, "2017_11"]
    drift = dict(query_rows(walked, "SELECT month, data_drift FROM main.mes_for_input_drift"))
    assert drift["2017_04"] < 0.6 < 0.7 < drift["2017_11"]


def test_the_scenario_retrained_the_model_when_drift_crossed_the_threshold(walked: Path) -> None:
    runs = query_rows(walked, "SELECT scenario, outcome FROM mlmon.scenario_runs")
    assert runs == [("retrain_model", "SUCCESS")]
    steps = dict(query_rows(walked, "SELECT step, outcome FROM mlmon.scenario_steps"))
    assert steps == {"build_mes": "SUCCESS", "run_mes_checks": "FAILED", "build_model": "SUCCESS"}
    assert query_rows(walked, "SELECT max(version) FROM mlmon.model_versions") == [(2,)]


def test_dashboard_and_docs_render_in_chromium(walked: Path, browser) -> None:  # noqa: F811
    from click.testing import CliRunner

    from mlmon.cli import cli

    target = walked / "target"
    for args in (["dashboard", "model_monitoring", "-o", str(target / "dashboard.html")],
                 ["docs", "-o", str(target / "docs.html")]):
        result = CliRunner().invoke(cli, [*args, "--project-dir", str(walked)], catch_exceptions=False)
        assert result.exit_code == 0, result.output

    browser.open(target / "dashboard.html")
    drawn = browser.wait_for("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 6 "
                             "&& document.querySelectorAll('.js-plotly-plot .main-svg').length")
    assert drawn >= 6
    assert browser.console_errors() == []
    assert "2017_11" in browser.evaluate("document.body.innerText")
    browser.screenshot(target / "dashboard.png")

    browser.open(target / "docs.html")
    for name in ("fraud_model", "mes_for_input_drift", "data_drift_in_range", "retrain_model"):
        assert name in browser.evaluate("document.body.innerText")
    assert browser.console_errors() == []
    browser.screenshot(target / "docs.png")
    assert (target / "dashboard.png").stat().st_size > 10_000
