"""`mlmon dashboard NAME`: one self-contained HTML page for a `dashboards:` node.

Page assembly only: each tile is turned into a plain dict (the view) by its builder in
mlmon.reports.tiles, then drawn by a macro in templates/dashboard.html.j2. Builders only read
what the warehouse holds and answer a visible "no data" view when it holds nothing; charts are
plotly figures whose HTML fragments share the one plotly.js bundle inlined in the page head.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import duckdb

from mlmon.errors import UsageError, did_you_mean
from mlmon.metrics.labels import canonical_label
from mlmon.reports.data import Warehouse
# The page helpers lived here before page.py; callers and tests still import them from here.
from mlmon.reports.page import STATUS_COLORS, chart_html, environment, figure, plotly_js, status_class
from mlmon.reports.page import fmt_number as fmt_number, fmt_time as fmt_time
from mlmon.reports.tiles import DEFAULT_TITLES, TILE_TYPES, Tile, TilePage, View
from mlmon.reports.tiles.performance import PERFORMANCE_METRICS

__all__ = [
    "TILE_TYPES",
    "PERFORMANCE_METRICS",
    "STATUS_COLORS",
    "render_dashboard",
    "environment",
    "status_class",
    "figure",
    "chart_html",
    "plotly_js",
]


def _labels_on_display(views: list[View]) -> dict[str, list[str]]:
    """Each label key of the evaluations the tiles show, with its distinct values in tile order."""
    shown: dict[str, list[str]] = {}
    for view in views:
        for key, value in ((view.get("evaluation") or {}).get("labels") or {}).items():
            values = shown.setdefault(str(key), [])
            if str(value) not in values:
                values.append(str(value))
    return shown


def _title(tile: Tile) -> str:
    if tile.get("title"):
        return str(tile["title"])
    if tile["type"] == "metric":
        return str(tile.get("metric")) + (f" · {tile['feature']}" if tile.get("feature") else "")
    return DEFAULT_TITLES[tile["type"]].format(metric=tile.get("metric"))


def render_dashboard(con: duckdb.DuckDBPyConnection | None, manifest: dict[str, Any], name: str,
                     x: str = "created_at") -> str:
    """The complete HTML document of dashboard `name`.

    `x` is the default x axis of metric_history tiles: `created_at` or a label key such as
    `month`; a tile's own `x:` wins. Raises UsageError for an unknown dashboard and ValueError
    for a tile the page cannot draw (unknown type, missing key).
    """
    nodes = manifest.get("nodes", {})
    node = nodes.get(name)
    if node is None or node.get("type") != "dashboard":
        known = sorted(n for n, v in nodes.items() if v.get("type") == "dashboard")
        raise UsageError(f"unknown dashboard '{name}'",
                         hint=did_you_mean(name, known) or (f"dashboards: {', '.join(known)}" if known else "the project has no dashboards"))
    # A class label written as YAML's 2 or true names the class stored as "2" / "true".
    tiles = [{**t, "feature": canonical_label(t["feature"])}
             if isinstance(t, dict) and t.get("feature") is not None and not isinstance(t["feature"], str) else t
             for t in (node.get("config") or {}).get("tiles") or []]
    for i, tile in enumerate(tiles):
        if not isinstance(tile, dict) or tile.get("type") not in TILE_TYPES:
            kind = tile.get("type") if isinstance(tile, dict) else tile
            raise ValueError(f"dashboard '{name}', tile {i + 1}: unknown tile type {kind!r} "
                             f"(expected one of: {', '.join(TILE_TYPES)})")
    page = TilePage(Warehouse(con), manifest, x)
    views = []
    for tile in tiles:
        try:
            view = TILE_TYPES[tile["type"]](page, tile)
        except duckdb.Error as exc:  # a warehouse from another mlmon version must not take the page down
            view = {"empty": f"Could not read the warehouse: {exc}"}
        views.append({"type": tile["type"], "title": _title(tile), "tile": tile, **view})
    meta = manifest.get("metadata", {})
    return environment().get_template("dashboard.html.j2").render(
        project=meta.get("project_name") or "mlmon project", meta=meta, dashboard=node, name=name,
        tiles=views, labels=_labels_on_display(views), generated_at=datetime.now(timezone.utc), plotly_js=plotly_js(),
        n_charts=sum(1 for v in views if v.get("chart")),
    )
