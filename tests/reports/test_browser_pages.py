"""The pages opened in real headless Chromium: charts render, scripts run clean, screenshots saved.

Set MLMON_SCREENSHOT_DIR to keep the screenshots somewhere outside pytest's temp directory.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest

from mlmon.reports.browser import Browser
from mlmon.reports.dashboard import render_dashboard
from mlmon.reports.flow import render_flow

from .conftest import CHART_TILES, NODE_KINDS, TILES

pytestmark = pytest.mark.browser

CHARTS_DRAWN = "document.querySelectorAll('.js-plotly-plot .main-svg').length"


def keep(shot: Path) -> None:
    target = os.environ.get("MLMON_SCREENSHOT_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(target) / shot.name)


def open_page(browser: Browser, path: Path, page: str) -> None:
    path.write_text(page, encoding="utf-8")
    browser.open(path)


def test_dashboard_renders_its_charts(browser: Browser, con: duckdb.DuckDBPyConnection, manifest: dict[str, Any],
                                      tmp_path: Path) -> None:
    open_page(browser, tmp_path / "dashboard.html", render_dashboard(con, manifest, "model_monitoring"))
    browser.wait_for(f"{CHARTS_DRAWN} >= {CHART_TILES}", timeout=60)
    assert browser.count(".js-plotly-plot") == CHART_TILES
    assert browser.count(".js-plotly-plot .main-svg") >= CHART_TILES
    # every chart drew its data, not just an empty frame
    assert browser.count(".js-plotly-plot .scatterlayer .trace, .js-plotly-plot .barlayer .trace") >= CHART_TILES
    assert browser.count("section.tile") == len(TILES)
    assert browser.evaluate("document.querySelector('.tile-metric .metric-value').textContent") == "0.7364"
    colour = browser.evaluate("getComputedStyle(document.querySelector('.tile-metric.status-error')).borderTopColor")
    assert colour == "rgb(220, 38, 38)"
    assert browser.console_errors() == []
    shot = browser.screenshot(tmp_path / "dashboard.png")
    assert shot.stat().st_size > 50_000
    keep(shot)


def test_empty_dashboard_shows_no_data(browser: Browser, empty_con: duckdb.DuckDBPyConnection,
                                       manifest: dict[str, Any], tmp_path: Path) -> None:
    open_page(browser, tmp_path / "dashboard_empty.html", render_dashboard(empty_con, manifest, "model_monitoring"))
    assert browser.count(".no-data") == len(TILES)
    visible = browser.evaluate("Array.from(document.querySelectorAll('.no-data')).filter(e => e.offsetHeight > 0).length")
    assert visible == len(TILES)
    assert browser.console_errors() == []
    keep(browser.screenshot(tmp_path / "dashboard_empty.png"))


def test_flow_selects_and_filters_nodes(browser: Browser, con: duckdb.DuckDBPyConnection, manifest: dict[str, Any],
                                        tmp_path: Path) -> None:
    open_page(browser, tmp_path / "flow.html", render_flow(manifest, con))
    assert browser.count("svg.flow g.node") == len(NODE_KINDS)
    assert browser.count("svg.flow path.edge.inferred[data-from]") == 1
    assert browser.count(".node-detail:not(.hidden)") == 0

    browser.click('g.node[data-node="transactions_train"]')
    assert browser.count(".node-detail:not(.hidden)") == 1
    shown = browser.evaluate("document.querySelector('.node-detail:not(.hidden)').getAttribute('data-detail')")
    assert shown == "transactions_train"
    assert browser.evaluate("location.hash") == "#transactions_train"
    assert browser.count("path.edge.hl") == 2  # transactions_history -> it -> fraud_model
    assert "purchase_amount < 5000" in browser.evaluate("document.querySelector('.node-detail:not(.hidden) pre.sql').textContent")

    browser.click('.node-detail:not(.hidden) button[data-select="fraud_model"]')
    assert browser.evaluate("document.querySelector('.node-detail:not(.hidden)').getAttribute('data-detail')") == "fraud_model"

    browser.type_into("#search", "check input_drift")  # every word must match
    assert browser.evaluate("document.getElementById('match-count').textContent") == "4"
    assert browser.count("#node-list li:not(.hidden)") == 4
    assert browser.count("g.node.dim") == len(NODE_KINDS) - 4
    keep(browser.screenshot(tmp_path / "flow_search.png"))
    browser.type_into("#search", "")

    browser.click("#zoom-fit")
    width = browser.evaluate("document.getElementById('flow').getBoundingClientRect().width")
    assert width <= browser.evaluate("document.getElementById('graph-scroll').clientWidth") + 1
    assert browser.console_errors() == []
    shot = browser.screenshot(tmp_path / "flow.png")
    assert shot.stat().st_size > 20_000
    keep(shot)


def test_flow_opens_on_the_node_in_the_address(browser: Browser, manifest: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "flow_hash.html"
    path.write_text(render_flow(manifest), encoding="utf-8")
    browser.open(path.resolve().as_uri() + "#fraud_model")
    assert browser.evaluate("document.querySelector('.node-detail:not(.hidden)').getAttribute('data-detail')") == "fraud_model"
    assert browser.count("g.node.selected") == 1
    assert browser.console_errors() == []
