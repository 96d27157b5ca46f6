"""The `performance` tile: the latest evaluation's metrics beside the model version's test-set
values and the CBPE estimate, or (with `metric:`) the estimate against the realised value over
the store's periods."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from mlmon.metrics.task import BINARY_METRICS, MULTICLASS_CLASS_METRICS, MULTICLASS_METRICS, REGRESSION_METRICS
from mlmon.reports.data import MetricRow
from mlmon.reports.figures import draw_bounds, interval_band
from mlmon.reports.page import figure
from mlmon.reports.tiles.base import (
    Tile, TilePage, View, class_key, latest_of_store, newest_per_x, plain, store_x,
)

__all__ = ["PERFORMANCE_METRICS", "performance_tile"]

PERFORMANCE_METRICS = tuple(dict.fromkeys((*BINARY_METRICS, *MULTICLASS_METRICS, *REGRESSION_METRICS)))


def performance_tile(page: TilePage, tile: Tile) -> View:
    view, latest = latest_of_store(page, tile)
    if latest is None:
        return view
    if tile.get("metric"):
        return _estimated_vs_realised(page, tile, view)
    rows = {r.metric: r for r in page.wh.metrics(latest.evaluation_id)
            if r.feature is None and r.value is not None}
    version = page.wh.model_version(latest.model, latest.model_version) if latest.model else None
    reference = {k: float(v) for k, v in (version.metrics if version else {}).items()
                 if k in PERFORMANCE_METRICS and isinstance(v, (int, float))}
    names = [m for m in PERFORMANCE_METRICS if m in rows or m in reference or f"estimated_{m}" in rows]
    if not any(m in rows or f"estimated_{m}" in rows for m in names):
        return {**view, "empty": "The latest evaluation has no performance metrics."}
    table = [{"metric": m, "current": _value(rows.get(m)), "reference": reference.get(m),
              "estimated": rows.get(f"estimated_{m}")} for m in names]
    for r in table:
        r["delta"] = r["current"] - r["reference"] if r["current"] is not None and r["reference"] is not None else None
    fig = figure(height=300)
    ref_name = f"reference (v{latest.model_version} test set)"
    fig.add_trace(go.Bar(x=names, y=[r["reference"] for r in table], name=plain(ref_name), marker_color="#94a3b8"))
    fig.add_trace(go.Bar(x=names, y=[r["current"] for r in table], name="current", marker_color="#2563eb"))
    est = [r["estimated"] for r in table]
    if any(est):
        fig.add_trace(go.Bar(
            x=names, y=[e.value if e else None for e in est], name="estimated (CBPE)", marker_color="#a78bfa",
            error_y={"type": "data", "symmetric": False, "color": "#5b21b6", "thickness": 1.5,
                     "array": [(e.upper - e.value) if e and e.upper is not None else 0 for e in est],
                     "arrayminus": [(e.value - e.lower) if e and e.lower is not None else 0 for e in est]},
        ))
    fig.update_layout(barmode="group", bargap=0.25)
    # long names break at underscores instead of rotating into each other
    fig.update_xaxes(tickangle=0, tickmode="array", tickvals=names, ticktext=[m.replace("_", "<br>") for m in names])
    return {**view, "chart": page.chart(fig), "table": table, "version": version,
            "no_truth": not any(r["current"] is not None for r in table),
            "per_class": _per_class(page.wh.metrics(latest.evaluation_id, list(MULTICLASS_CLASS_METRICS)))}


def _per_class(rows: list[MetricRow]) -> list[dict[str, Any]]:
    """A multiclass model's precision / recall / F1 per class, one row per class."""
    by_class: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r.feature is not None:
            by_class.setdefault(r.feature, {"label": r.feature})[r.metric] = r.value
    return [by_class[c] for c in sorted(by_class, key=class_key)]


def _estimated_vs_realised(page: TilePage, tile: Tile, view: View) -> View:
    """`metric` (realised, on labelled rows) and `estimated_<metric>` (CBPE) over the store's
    evaluations, on one chart: the estimate needs no outcome, so it runs ahead of the truth."""
    store, metric = tile["store"], tile["metric"]
    x_key = store_x(page, tile)
    realised = newest_per_x(page.wh.metric_history(store, metric), x_key)
    estimated = newest_per_x(page.wh.metric_history(store, f"estimated_{metric}"), x_key)
    coverage = newest_per_x(page.wh.metric_history(store, "label_coverage"), x_key)
    xs = sorted(set(realised) | set(estimated), key=str)
    view["subtitle"] = f"{store} · {metric}, estimated vs realised by {x_key}"
    if not xs:
        return {**view, "empty": f"No evaluation of {store} has {metric} or estimated_{metric} yet."}
    shown = [plain(x) for x in xs]
    fig = figure(height=300)
    est = [estimated.get(x) for x in xs]
    if any(e is not None and e.lower is not None for e in est):
        interval_band(fig, shown, [e.lower if e else None for e in est], [e.upper if e else None for e in est],
                      fillcolor="rgba(124,58,237,0.14)", name="estimate 95%")
    fig.add_trace(go.Scatter(x=shown, y=[e.value if e else None for e in est], mode="lines+markers",
                             name="estimated (CBPE)", line={"color": "#7c3aed", "width": 2, "dash": "dash"}))
    fig.add_trace(go.Scatter(x=shown, y=[realised[x].value if x in realised else None for x in xs], mode="lines+markers",
                             name="realised", line={"color": "#2563eb", "width": 2}, marker={"size": 9}))
    fig.update_xaxes(type="category", title_text=plain(x_key))
    fig.update_yaxes(title_text=plain(metric))
    draw_bounds(fig, page.checks_on(store, f"estimated_{metric}", None), [
        v for x in xs for v in ((realised[x].value if x in realised else None), (estimated[x].value if x in estimated else None))
        if v is not None])
    rows = [{"x": x, "realised": realised[x].value if x in realised else None,
             "estimated": estimated.get(x), "coverage": coverage[x].value if x in coverage else None} for x in xs]
    return {**view, "chart": page.chart(fig), "history": list(reversed(rows)), "metric": metric, "x_key": x_key}


def _value(row: MetricRow | None) -> float | None:
    return row.value if row else None
