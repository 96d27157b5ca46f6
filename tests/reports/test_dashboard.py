from __future__ import annotations

import copy

import html
import re
from typing import Any

import duckdb
import plotly.offline
import pytest

from mlmon.errors import UsageError
from mlmon.reports.dashboard import TILE_TYPES, fmt_number, render_dashboard, status_class
from mlmon.reports.data import Warehouse

from . import external_urls, parse
from .conftest import CHART_TILES, DRIFT_STORE, PERF_STORE, TILES

NAME = "model_monitoring"


def tiles_of(page: str) -> list[Any]:
    return [el for el in parse(page) if el.tag == "section" and "tile" in el.classes]


def with_tiles(manifest: dict[str, Any], tiles: list[dict[str, Any]]) -> dict[str, Any]:
    manifest["nodes"][NAME]["config"]["tiles"] = tiles
    return manifest


def test_every_tile_is_drawn_with_its_title(con: duckdb.DuckDBPyConnection, manifest: dict[str, Any]) -> None:
    page = render_dashboard(con, manifest, NAME)
    sections = tiles_of(page)
    assert [s.attrs["data-tile-type"] for s in sections] == [t["type"] for t in TILES]
    assert {t["type"] for t in TILES} == set(TILE_TYPES)
    for tile in TILES:
        assert f'<h2 class="card-title">{html.escape(tile["title"])}</h2>' in page
    assert not [s for s in sections if "is-empty" in s.classes]
    assert "fraud_monitoring" in page and "What the fraud team looks at every Monday." in page


def test_metric_tiles_show_the_latest_value_coloured_by_the_latest_check(
        con: duckdb.DuckDBPyConnection, manifest: dict[str, Any]) -> None:
    page = render_dashboard(con, manifest, NAME)
    values = re.findall(r'<span class="big metric-value">([^<]*)</span>', page)
    assert values == ["0.7364", "0.8714", "0.08", "0.29"]
    metric_tiles = [s for s in tiles_of(page) if s.attrs["data-tile-type"] == "metric"]
    statuses = [s.classes & {"status-ok", "status-warning", "status-error", "status-none", "status-empty"}
                for s in metric_tiles]
    assert statuses == [{"status-error"}, {"status-warning"}, {"status-warning"}, {"status-none"}]
    assert "data_drift_in_range" in page and "95% interval [0.7154, 0.7554]" in page
    assert "month=2017_04" in page  # the evaluation's labels
    assert "▲ 0.0934 vs previous" in page  # 0.7364 - 0.643


def test_ok_and_empty_check_statuses(con: duckdb.DuckDBPyConnection, manifest: dict[str, Any]) -> None:
    tiles = [{"type": "metric", "store": DRIFT_STORE, "metric": "psi", "feature": "card_age", "title": "no check"},
             {"type": "metric", "store": DRIFT_STORE, "metric": "precision", "title": "absent"}]
    page = render_dashboard(con, with_tiles(manifest, tiles), NAME)
    first, second = tiles_of(page)
    assert "status-none" in first.classes
    assert {"status-empty", "is-empty"} <= second.classes
    assert "precision is not in the latest evaluation." in page
    assert status_class("OK") == "status-ok" and status_class(None) == "status-none"


def test_plotly_is_inlined_exactly_once_and_nothing_is_fetched(
        con: duckdb.DuckDBPyConnection, manifest: dict[str, Any]) -> None:
    page = render_dashboard(con, manifest, NAME)
    banner = plotly.offline.get_plotlyjs()[:40]
    assert page.count(banner) == 1
    assert page.count("Plotly.newPlot(") == CHART_TILES
    assert page.count('class="plotly-graph-div"') == CHART_TILES
    assert external_urls(page) == []
    assert not [el for el in parse(page) if el.tag == "script" and el.attrs.get("src")]
    assert not [el for el in parse(page) if el.tag == "link" and el.attrs.get("rel") == "stylesheet"]


def test_history_draws_interval_bounds_and_label_axis(con: duckdb.DuckDBPyConnection, manifest: dict[str, Any]) -> None:
    page = render_dashboard(con, manifest, NAME)
    assert "95% interval" in page
    assert "soft max 0.6" in page and "max 0.7" in page  # data_drift_in_range bounds
    assert "soft min 0.88" in page and "min 0.8" in page  # auc_above_threshold bounds
    assert '"2017_01","2017_02","2017_03","2017_04"' in page  # the AUC tile's x: month
    assert "mes_for_ground_truth · roc_auc by month" in page

    by_month = render_dashboard(con, with_tiles(manifest, [TILES[4]]), NAME, x="month")
    assert "data_drift by month" in by_month and '"2017_04"' in by_month
    missing = render_dashboard(con, with_tiles(manifest, [TILES[4]]), NAME, x="region")
    assert "with label &#39;region&#39;" in missing


def test_feature_prediction_performance_and_versions(con: duckdb.DuckDBPyConnection, manifest: dict[str, Any]) -> None:
    page = render_dashboard(con, manifest, NAME)
    drifted = [el for el in parse(page) if el.tag == "tr" and "drifted" in el.classes]
    assert len(drifted) == 4  # item_category and merchant_category, in the feature drift and data quality tiles
    assert "<b style=\"color:var(--ink)\">2</b> of 5 features drifted" in page
    assert "drift importance" in page and "model importance" in page
    assert "prediction_psi" in page and "prediction_ks_pvalue" in page and "predicted class" in page
    assert "reference (v2 test set)" in page and "estimated (CBPE)" in page
    assert '<td class="num">0.908</td>' in page  # roc_auc of version 2 from mlmon.model_versions.metrics
    assert "2f3a9c0d4e5b" in page and "1f3a9c0d4e5b" in page and ">active<" in page
    assert "2 × SUCCESS" in page and "1 × ABORTED" in page and "run_mes_checks" in page


def test_user_strings_are_escaped(con: duckdb.DuckDBPyConnection, manifest: dict[str, Any]) -> None:
    evil = "<script>alert('pwned')</script>"
    manifest["metadata"]["project_name"] = f"proj{evil}"
    manifest["nodes"][NAME]["description"] = f"desc{evil}"
    manifest["nodes"][f"dash{evil}"] = {**manifest["nodes"].pop(NAME), "name": f"dash{evil}"}
    manifest["nodes"][f"dash{evil}"]["config"]["tiles"] = [
        {**TILES[0], "title": f"title{evil}"},
        {"type": "metric_history", "store": DRIFT_STORE, "metric": "data_drift", "title": f"hist{evil}"},
        {"type": "feature_drift", "store": f"store{evil}"},
    ]
    page = render_dashboard(con, manifest, f"dash{evil}")
    assert "<script>alert" not in page
    assert page.count("&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;") >= 5
    assert [el.tag for el in parse(page)].count("script") == 1 + 1  # plotly.js and one chart


@pytest.mark.parametrize("which", ["empty", "bare", "none"])
def test_no_data_yet_is_shown_in_every_tile(which: str, request: pytest.FixtureRequest, manifest: dict[str, Any]) -> None:
    con = {"empty": lambda: request.getfixturevalue("empty_con"),
           "bare": lambda: request.getfixturevalue("bare_con"), "none": lambda: None}[which]()
    page = render_dashboard(con, manifest, NAME)
    sections = tiles_of(page)
    assert len(sections) == len(TILES)
    assert all("is-empty" in s.classes for s in sections)
    assert page.count('class="empty no-data"') == len(TILES)
    assert "No evaluation in store mes_for_input_drift yet." in page
    assert "Scenario retrain_model has not run yet." in page
    assert "No trained version of fraud_model yet." in page
    assert "Plotly.newPlot(" not in page


def test_unknown_tile_type_and_dashboard(con: duckdb.DuckDBPyConnection, manifest: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="unknown tile type 'pie_chart'"):
        render_dashboard(con, with_tiles(manifest, [TILES[0], {"type": "pie_chart"}]), NAME)
    with pytest.raises(ValueError, match="needs 'store'"):
        render_dashboard(con, with_tiles(manifest, [{"type": "feature_drift"}]), NAME)
    with pytest.raises(UsageError, match="unknown dashboard 'model_monitorin'") as info:
        render_dashboard(con, manifest, "model_monitorin")
    assert info.value.hint == "did you mean 'model_monitoring'?"
    with pytest.raises(UsageError):
        render_dashboard(con, manifest, "fraud_model")  # a node, but not a dashboard


def test_empty_dashboard(con: duckdb.DuckDBPyConnection, manifest: dict[str, Any]) -> None:
    page = render_dashboard(con, with_tiles(manifest, []), NAME)
    assert "This dashboard has no tiles." in page


def test_warehouse_reads(con: duckdb.DuckDBPyConnection) -> None:
    wh = Warehouse(con)
    latest = wh.latest_evaluation(DRIFT_STORE)
    assert latest is not None and latest.labels == {"month": "2017_04"} and latest.model_version == 2
    history = wh.metric_history(DRIFT_STORE, "data_drift")
    assert [p.evaluation.labels["month"] for p in history] == ["2017_01", "2017_02", "2017_03", "2017_04"]
    assert [p.status for p in history] == ["OK", "OK", "WARNING", "ERROR"]
    assert wh.latest_check(PERF_STORE, "roc_auc").status == "WARNING"
    runs = wh.scenario_runs("retrain_model", limit=3)
    assert [r.outcome for r in runs] == ["FAILED", "SUCCESS", "ABORTED"] and len(runs[0].steps) == 3
    assert wh.model_version("fraud_model", 2).active is True
    assert wh.latest_node_results()["data_drift_in_range"].status == "fail"
    assert Warehouse(None).evaluations(DRIFT_STORE) == []


def test_number_formatting() -> None:
    assert fmt_number(None) == "—" and fmt_number(float("nan")) == "—"
    assert fmt_number(48210) == "48,210" and fmt_number(0.73641) == "0.7364" and fmt_number(2e-6) == "2.00e-06"


def test_reads_a_warehouse_attached_under_another_catalog(warehouse_file: Any, manifest: dict[str, Any]) -> None:
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{warehouse_file}' AS warehouse (READ_ONLY)")
        con.execute("USE warehouse")
        assert Warehouse(con).latest_evaluation(PERF_STORE) is not None
        assert "0.8714" in render_dashboard(con, manifest, NAME)
    finally:
        con.close()


def test_data_quality_tile_shows_shares_beside_the_reference(con: duckdb.DuckDBPyConnection,
                                                             manifest: dict[str, Any]) -> None:
    tile = {"type": "data_quality", "store": DRIFT_STORE}
    page = render_dashboard(con, with_tiles(manifest, [tile]), NAME)
    (section,) = tiles_of(page)
    assert "is-empty" not in section.classes and '<h2 class="card-title">Data quality</h2>' in page
    assert "out of range" in page and "missing (reference)" in page and "new categories" in page
    # card_age left the data in the last month: listed first, flagged, with its shares
    rows = re.findall(r'<tr class="[^"]*"><td class="mono">([^<]*)</td>', page)
    assert rows[0] == "card_age" and "column missing" in page
    assert "<b style=\"color:var(--ink)\">1</b> of 5 features missing or retyped" in page
    assert "4.5%" in page  # item_category: 0.005 * 3 * 3 new categories in 2017_04


def test_header_shows_the_labels_of_the_evaluations_on_display(con: duckdb.DuckDBPyConnection,
                                                               manifest: dict[str, Any]) -> None:
    manifest = copy.deepcopy(manifest)
    manifest["metadata"]["vars"] = {"month": "2099_12"}  # the project's default, not what is shown
    page = render_dashboard(con, manifest, NAME)
    chips = re.findall(r'<span class="chip label-chip">([^<]*)<b>([^<]*)</b>', page)
    assert chips == [("month ", "2017_04")]
    assert "2099_12" not in page


def test_a_regressors_mean_prediction_is_drawn_per_period_newest_evaluation_first(tmp_path, manifest) -> None:
    """A period store appends all its periods at once and evaluates a period again when its
    outcomes change: its mean prediction is drawn along the periods, each at its newest value."""
    from datetime import datetime

    from .conftest import _create_tables, _insert, _metric

    con = _create_tables(tmp_path / "w.duckdb")
    store = "temperatures"
    rows, metrics = [], []
    for build, periods in ((0, ["2024-02-01", "2024-01-01"]), (1, ["2024-02-01"])):
        for k, period in enumerate(periods):
            eid = f"e{build}{k}"
            rows.append({"evaluation_id": eid, "store": store, "model": "m", "model_version": 1, "dataset": "d",
                         "reference": "training", "created_at": datetime(2024, 3, 1 + build), "invocation_id": f"i{build}",
                         "n_rows": 10, "n_evaluated": 10, "has_ground_truth": True,
                         "labels": f'{{"period": "{period}"}}', "reference_evaluation_id": None, "warnings": "[]"})
            metrics += [_metric(eid, store, "prediction_mean", 10 * (build + 1) + int(period[6])),
                        _metric(eid, store, "prediction_mean_reference", 5.0),
                        _metric(eid, store, "prediction_ks_pvalue", 0.5)]
    _insert(con, "evaluations", rows)
    _insert(con, "metrics", metrics)
    page = render_dashboard(con, with_tiles(manifest, [{"type": "prediction_drift", "store": store}]), NAME)
    con.close()
    assert "Mean predicted value per period, current and reference" in page
    figure = re.search(r'"x":\["2024-01-01","2024-02-01"\],"y":\[([^\]]*)\]', page)
    assert figure is not None and figure.group(1) == "11.0,22.0"  # January once, February re-evaluated
