from __future__ import annotations

import html
import re
from typing import Any

import duckdb

from mlmon.reports.flow import NODE_H, NODE_W, layers, layout, render_flow

from . import external_urls, parse
from .conftest import DRIFT_STORE, NODE_KINDS


def test_layers_are_longest_paths(manifest: dict[str, Any]) -> None:
    assert layers(manifest) == {
        "transactions_history": 0, "new_transactions": 0, "transactions_train": 1, "fraud_model": 2,
        "test_scored": 3, DRIFT_STORE: 4, "mes_for_ground_truth": 4, "data_drift_in_range": 5,
        "psi_purchase_amount": 5, "auc_above_threshold": 5, "precision_recorded": 5, "retrain_model": 5,
        "retrain_on_drift": 6, "model_monitoring": 6,
    }


def test_a_cycle_or_a_dangling_edge_does_not_break_the_layout(manifest: dict[str, Any]) -> None:
    manifest["nodes"]["transactions_history"]["depends_on"] = [{"name": "fraud_model", "inferred": True, "via": "sql"},
                                                               {"name": "not_a_node", "inferred": False, "via": "data"}]
    found = layers(manifest)
    assert set(found) == set(manifest["nodes"])
    assert "transactions_history" in render_flow(manifest)


def test_layout_keeps_zones_apart_and_edges_pointing_right(manifest: dict[str, Any]) -> None:
    flow = layout(manifest)
    lanes = {lane.zone: lane for lane in flow.lanes}
    assert set(lanes) == {"model_training", "model_scoring", "input_drift_monitoring", None}
    assert lanes[None] is flow.lanes[-1]  # nodes without a zone come last
    ordered = sorted(flow.lanes, key=lambda lane: lane.y)
    for upper, lower in zip(ordered, ordered[1:]):
        assert upper.y + upper.height <= lower.y
    boxes = []
    for node in flow.nodes.values():
        lane = lanes[node.zone]
        assert lane.y <= node.y and node.y + NODE_H <= lane.y + lane.height
        assert node.x + NODE_W <= flow.width and node.y + NODE_H <= flow.height
        boxes.append((node.x, node.y))
    assert len(set(boxes)) == len(boxes)
    for edge in flow.edges:
        assert flow.nodes[edge.source].x < flow.nodes[edge.target].x


def test_page_shows_every_node_edge_zone_and_detail(con: duckdb.DuckDBPyConnection, manifest: dict[str, Any]) -> None:
    page = render_flow(manifest, con)
    elements = parse(page)
    graph_nodes = {el.attrs["data-node"]: el for el in elements if el.tag == "g" and "node" in el.classes}
    assert set(graph_nodes) == set(NODE_KINDS)
    for name, kind in NODE_KINDS.items():
        assert f"kind-{kind}" in graph_nodes[name].classes
    edges = [el for el in elements if el.tag == "path" and "edge" in el.classes and el.attrs.get("data-from")]
    assert len(edges) == sum(len(n["depends_on"]) for n in manifest["nodes"].values())
    inferred = [(e.attrs["data-from"], e.attrs["data-to"]) for e in edges if "inferred" in e.classes]
    assert inferred == [("transactions_history", "transactions_train")]
    lanes = [el for el in elements if el.tag == "g" and "lane" in el.classes]
    assert len(lanes) == 4
    assert {el.attrs["data-detail"] for el in elements if el.attrs.get("data-detail")} == set(NODE_KINDS)
    assert {el.attrs["data-node"] for el in elements if el.tag == "li"} == set(NODE_KINDS)
    assert 'id="search"' in page
    assert "soft_max: 0.6" in page and "estimator: sklearn.ensemble.HistGradientBoostingClassifier" in page
    assert "models/transactions_train.sql:1" in page
    assert external_urls(page) == []
    assert "Plotly" not in page  # the flow is plain SVG: no chart library needed


def test_sql_is_escaped_in_pre(manifest: dict[str, Any]) -> None:
    page = render_flow(manifest)
    match = re.search(r'<pre class="sql">(.*?)</pre>', page, re.S)
    assert match is not None
    assert match.group(1) == html.escape(manifest["nodes"]["transactions_train"]["sql"])
    assert "purchase_amount &lt; 5000" in match.group(1)


def test_latest_status_per_node(con: duckdb.DuckDBPyConnection, manifest: dict[str, Any]) -> None:
    page = render_flow(manifest, con)
    circles = {}
    for el in parse(page):
        if el.tag == "g" and "node" in el.classes:
            current = el.attrs["data-node"]
        if el.tag == "circle" and "st" in el.classes:
            circles[current] = el.classes - {"st"}
    assert circles["data_drift_in_range"] == {"st-error"}  # fail in the latest invocation
    assert circles["psi_purchase_amount"] == {"st-warn"}
    assert circles["fraud_model"] == {"st-reused"}
    assert circles["test_scored"] == {"st-success"}
    assert circles["model_monitoring"] == {"st-none"}  # dashboards are not built
    assert "statuses from <b>mlmon.node_results</b>" in page and "data_drift_in_range finished" in page


def test_without_a_warehouse(manifest: dict[str, Any], empty_con: duckdb.DuckDBPyConnection,
                             bare_con: duckdb.DuckDBPyConnection) -> None:
    for page in (render_flow(manifest), render_flow(manifest, empty_con), render_flow(manifest, bare_con)):
        assert page.count("not run") >= len(NODE_KINDS)
        assert "st-error" not in re.sub(r"<style>.*?</style>", "", page, flags=re.S)
    assert "<b>no warehouse</b> statuses" in render_flow(manifest)


def test_user_strings_are_escaped(manifest: dict[str, Any]) -> None:
    evil = '"><script>alert(1)</script>'
    node = manifest["nodes"].pop("new_transactions")
    node.update(name=f"new{evil}", description=f"about{evil}", zone=f"zone{evil}", tags=[f"t{evil}"])
    node["config"]["files"] = f"data/{evil}.csv"
    manifest["nodes"][node["name"]] = node
    manifest["nodes"]["test_scored"]["depends_on"][1]["name"] = node["name"]
    manifest["metadata"]["project_name"] = f"p{evil}"
    page = render_flow(manifest)
    assert "<script>alert" not in page
    assert [el.tag for el in parse(page)].count("script") == 1  # only the page's own
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_empty_project() -> None:
    page = render_flow({"metadata": {"project_name": "empty"}, "nodes": {}, "zones": {}})
    assert "The project has no nodes yet." in page
