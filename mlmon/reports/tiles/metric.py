"""The `metric` tile (the latest value, its change and its check) and the `metric_history` tile
(one metric over the store's evaluations, with check bounds)."""

from __future__ import annotations

import math
from typing import Any

import plotly.graph_objects as go

from mlmon.reports.data import CheckResult, Evaluation
from mlmon.reports.figures import draw_bounds, interval_band
from mlmon.reports.page import STATUS_COLORS, figure, status_class
from mlmon.reports.tiles.base import Tile, TilePage, View, eval_view, newest_per_x, plain, require

__all__ = ["metric_tile", "metric_history_tile"]


def metric_tile(page: TilePage, tile: Tile) -> View:
    require(tile, "store", "metric")
    store, metric, feature = tile["store"], tile["metric"], tile.get("feature")
    view: View = {"subtitle": " · ".join(x for x in (store, metric, feature) if x)}
    latest = page.wh.latest_evaluation(store)
    check = page.wh.latest_check(store, metric, feature)
    view["check"] = _check_view(check, latest)
    view["status_class"] = status_class(check.status if check else None)
    if latest is None:
        return {**view, "empty": f"No evaluation in store {store} yet."}
    row = page.wh.metric(latest.evaluation_id, metric, feature)
    view["evaluation"] = eval_view(latest)
    if row is None or row.value is None:
        return {**view, "empty": f"{metric} is not in the latest evaluation."}
    previous = page.wh.previous_evaluation(latest)
    before = page.wh.metric(previous.evaluation_id, metric, feature) if previous else None
    delta = row.value - before.value if before and before.value is not None else None
    return {**view, "value": row.value, "lower": row.lower, "upper": row.upper, "delta": delta}


def _check_view(check: CheckResult | None, latest: Evaluation | None) -> dict[str, Any] | None:
    if check is None:
        return None
    stale = latest is not None and check.evaluation_id not in (None, latest.evaluation_id)
    return {"name": check.check, "status": check.status, "message": check.message,
            "checked_at": check.checked_at, "stale": stale}


def metric_history_tile(page: TilePage, tile: Tile) -> View:
    require(tile, "store", "metric")
    store, metric, feature = tile["store"], tile["metric"], tile.get("feature")
    x_key = tile.get("x") or page.default_x
    view: View = {"subtitle": " · ".join(x for x in (store, metric, feature) if x) + f" by {x_key}"}
    points = page.wh.metric_history(store, metric, feature)
    points = [p for p in points if p.value is not None and math.isfinite(p.value)]
    if x_key != "created_at":
        # one point per label value: the newest evaluation of it (a period evaluated again)
        points = list(newest_per_x([p for p in points if p.evaluation.labels.get(x_key) is not None], x_key).values())
    if not points:
        why = f" with label '{x_key}'" if x_key != "created_at" else ""
        return {**view, "empty": f"No evaluation of {store}{why} has {metric} yet."}
    xs = [p.evaluation.created_at if x_key == "created_at" else plain(p.evaluation.labels[x_key]) for p in points]
    values = [p.value for p in points]
    fig = figure(height=300)
    if any(p.lower is not None and p.upper is not None for p in points):
        interval_band(fig, xs, [p.lower for p in points], [p.upper for p in points],
                      fillcolor="rgba(37,99,235,0.14)", name="95% interval")
    hover = [
        f"{plain(p.evaluation.evaluation_id)}<br>{plain(metric)} = {v:.4g}"
        + (f" [{p.lower:.4g}, {p.upper:.4g}]" if p.lower is not None and p.upper is not None else "")
        + "".join(f"<br>{plain(k)} = {plain(val)}" for k, val in p.evaluation.labels.items())
        + (f"<br>check: {plain(p.status)}" if p.status else "")
        for p, v in zip(points, values)
    ]
    fig.add_trace(go.Scatter(
        x=xs, y=values, mode="lines+markers", name=plain(metric), line={"color": "#2563eb", "width": 2},
        marker={"size": 9, "color": [STATUS_COLORS[status_class(p.status)] for p in points],
                "line": {"color": "white", "width": 1.5}},
        hovertext=hover, hoverinfo="text",
    ))
    bounds = draw_bounds(fig, page.checks_on(store, metric, feature), values + [
        b for p in points for b in (p.lower, p.upper) if b is not None])
    if x_key != "created_at":
        fig.update_xaxes(type="category", title_text=plain(x_key))
    fig.update_layout(showlegend=any(t.name == "95% interval" for t in fig.data))
    return {**view, "chart": page.chart(fig), "bounds": bounds, "latest": values[-1], "n": len(points)}
