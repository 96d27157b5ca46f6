"""What every dashboard tile builder shares: the page it draws on and the small view helpers.

A builder is `(TilePage, Tile) -> View`: it reads the warehouse through `page.wh`, answers a
visible "no data" view (`empty`) when it holds nothing, and draws charts with `page.chart`.
"""

from __future__ import annotations

import html
from typing import Any

import plotly.graph_objects as go
from markupsafe import Markup

from mlmon.reports.data import Evaluation, Warehouse
from mlmon.reports.page import chart_html

__all__ = ["Tile", "View", "TilePage", "require", "plain", "eval_view", "latest_of_store", "store_x", "newest_per_x",
           "class_key"]

Tile = dict[str, Any]
View = dict[str, Any]


class TilePage:
    """What every tile builder needs: the warehouse, the manifest and the chart id counter."""

    def __init__(self, wh: Warehouse, manifest: dict[str, Any], default_x: str) -> None:
        self.wh = wh
        self.manifest = manifest
        self.default_x = default_x
        self._charts = 0

    def chart(self, fig: go.Figure) -> Markup:
        self._charts += 1
        return chart_html(fig, f"chart-{self._charts}")

    def checks_on(self, store: str, metric: str, feature: str | None) -> list[tuple[str, dict[str, Any]]]:
        """(name, config) of the manifest's checks that read this store, metric and feature."""
        found = []
        for name, node in self.manifest.get("nodes", {}).items():
            cfg = node.get("config") or {}
            if node.get("type") == "check" and cfg.get("store") == store and cfg.get("metric") == metric \
                    and cfg.get("feature") == feature:
                found.append((name, cfg))
        return found


def require(tile: Tile, *keys: str) -> None:
    missing = [k for k in keys if not tile.get(k)]
    if missing:
        raise ValueError(f"{tile.get('type')} tile needs {', '.join(repr(k) for k in missing)}: {tile!r}")


def plain(text: Any) -> str:
    """A user string for plotly, which reads a subset of HTML in labels: show it, never interpret it."""
    return html.escape(str(text), quote=False)


def eval_view(e: Evaluation) -> dict[str, Any]:
    return {"id": e.evaluation_id, "created_at": e.created_at, "labels": e.labels, "model": e.model,
            "version": e.model_version, "n_evaluated": e.n_evaluated, "ground_truth": e.has_ground_truth}


def latest_of_store(page: TilePage, tile: Tile) -> tuple[View, Evaluation | None]:
    """The view every store tile starts from, and the store's latest evaluation (None: none yet)."""
    require(tile, "store")
    store = tile["store"]
    latest = page.wh.latest_evaluation(store)
    if latest is None:
        return {"subtitle": store, "empty": f"No evaluation in store {store} yet."}, None
    return {"subtitle": store, "evaluation": eval_view(latest)}, latest


def store_x(page: TilePage, tile: Tile) -> str:
    """What a store's history is drawn along: the tile's `x`, else `period` for a store
    evaluated per period, else the page's default."""
    if tile.get("x"):
        return str(tile["x"])
    return "period" if any("period" in e.labels for e in page.wh.evaluations(tile["store"])) else page.default_x


def newest_per_x(points: list[Any], x_key: str) -> dict[Any, Any]:
    """{x: the newest point there}: a period evaluated again (more outcomes) shows its latest values."""
    newest: dict[Any, Any] = {}
    for p in points:  # oldest first
        x = p.evaluation.created_at if x_key == "created_at" else p.evaluation.labels.get(x_key)
        if x is not None:
            newest[x] = p
    return newest


def class_key(label: str) -> tuple[int, float | str]:
    try:
        return (0, float(label))
    except ValueError:
        return (1, label)
