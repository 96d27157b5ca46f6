"""Tiles of a store's latest evaluation about its inputs and outputs: `feature_drift`,
`data_quality` and `prediction_drift`."""

from __future__ import annotations

import plotly.graph_objects as go

from mlmon.reports.data import Evaluation
from mlmon.reports.page import figure
from mlmon.reports.tiles.base import Tile, TilePage, View, class_key, latest_of_store, newest_per_x, plain, store_x

__all__ = ["feature_drift_tile", "data_quality_tile", "prediction_drift_tile"]

# What the prediction drift tile lists, whichever the task (a store holds those of its own).
_PREDICTION_STATS = ("prediction_psi", "prediction_ks_statistic", "prediction_ks_pvalue", "prediction_chi2_pvalue",
                     "prediction_wasserstein", "prediction_mean", "prediction_mean_reference")

def _per_feature(page: TilePage, latest: Evaluation, metrics: tuple[str, ...]) -> dict[str, dict[str, float | None]]:
    """{feature: {metric: value}} of the evaluation's per-feature rows among `metrics`."""
    table: dict[str, dict[str, float | None]] = {}
    for row in page.wh.metrics(latest.evaluation_id, metrics):
        if row.feature is not None:
            table.setdefault(row.feature, {})[row.metric] = row.value
    return table


def _latest_per_feature(page: TilePage, tile: Tile, metrics: tuple[str, ...],
                        empty: str) -> tuple[View, dict[str, dict[str, float | None]]]:
    """The tile's view and the per-feature `metrics` of its store's latest evaluation; an empty
    table when there is none (the view then says why)."""
    view, latest = latest_of_store(page, tile)
    if latest is None:
        return view, {}
    table = _per_feature(page, latest, metrics)
    return (view if table else {**view, "empty": empty}), table


_FEATURE_METRICS = ("psi", "ks_pvalue", "chi2_pvalue", "wasserstein", "missing_share", "drifted",
                    "drift_importance", "model_importance", "new_category_share")


def feature_drift_tile(page: TilePage, tile: Tile) -> View:
    view, table = _latest_per_feature(page, tile, _FEATURE_METRICS,
                                      "The latest evaluation has no per-feature drift metrics.")
    if not table:
        return view
    rows = [{"feature": f, **m, "is_drifted": bool(m.get("drifted")),
             "pvalue": m.get("ks_pvalue", m.get("chi2_pvalue")),
             "test": "KS" if "ks_pvalue" in m else ("χ²" if "chi2_pvalue" in m else "")}
            for f, m in table.items()]
    rows.sort(key=lambda r: (not r["is_drifted"], -(r.get("psi") or 0), r["feature"]))
    view.update(rows=rows, n_drifted=sum(r["is_drifted"] for r in rows))
    scatter = [r for r in rows if r.get("drift_importance") is not None and r.get("model_importance") is not None]
    if scatter:
        fig = figure(height=320)
        for drifted, color, name in ((False, "#2563eb", "stable"), (True, "#dc2626", "drifted")):
            chosen = [r for r in scatter if r["is_drifted"] == drifted]
            if chosen:
                fig.add_trace(go.Scatter(
                    x=[r["model_importance"] for r in chosen], y=[r["drift_importance"] for r in chosen],
                    mode="markers+text", name=name, text=[plain(r["feature"]) for r in chosen],
                    textposition="top center", textfont={"size": 11}, cliponaxis=False,
                    marker={"size": 11, "color": color, "line": {"color": "white", "width": 1.5}},
                    hovertemplate="%{text}<br>model importance %{x:.3f}<br>drift importance %{y:.3f}<extra></extra>",
                ))
        # room around the points for their labels
        fig.update_xaxes(title_text="model importance", range=[0, max(r["model_importance"] for r in scatter) * 1.2 or 1])
        fig.update_yaxes(title_text="drift importance", range=[0, max(r["drift_importance"] for r in scatter) * 1.2 or 1])
        view["chart"] = page.chart(fig)
    return view


_QUALITY_METRICS = ("missing_share", "missing_share_reference", "out_of_range_share", "new_category_share",
                    "feature_missing", "type_changed", "drifted")


def data_quality_tile(page: TilePage, tile: Tile) -> View:
    """Per feature of the latest evaluation: missing share beside the reference's, values out of
    the reference's range, unseen categories, and a column gone or retyped."""
    view, table = _latest_per_feature(page, tile, _QUALITY_METRICS,
                                      "The latest evaluation has no data-quality metrics.")
    if not table:
        return view
    rows = []
    for feature, m in table.items():
        problem = ("column missing" if m.get("feature_missing") else "type changed" if m.get("type_changed") else None)
        rows.append({"feature": feature, **dict.fromkeys(_QUALITY_METRICS), **m, "problem": problem,
                     "is_drifted": bool(m.get("drifted"))})
    rows.sort(key=lambda r: (r["problem"] is None, not r["is_drifted"], r["feature"]))
    return {**view, "rows": rows, "n_problems": sum(1 for r in rows if r["problem"])}


def prediction_drift_tile(page: TilePage, tile: Tile) -> View:
    view, latest = latest_of_store(page, tile)
    if latest is None:
        return view
    rows = page.wh.metrics(latest.evaluation_id, ["predicted_class_share", "predicted_class_share_reference",
                                                  *_PREDICTION_STATS])
    stats = [r for r in rows if r.feature is None and r.value is not None]
    current = {r.feature: r.value for r in rows if r.metric == "predicted_class_share" and r.feature is not None}
    reference = {r.feature: r.value for r in rows if r.metric == "predicted_class_share_reference" and r.feature is not None}
    if not stats and not current:
        return {**view, "empty": "The latest evaluation has no prediction drift metrics."}
    view["stats"] = stats
    if current:
        classes = sorted(set(current) | set(reference), key=class_key)
        fig = figure(height=280)
        fig.add_trace(go.Bar(x=[plain(c) for c in classes], y=[reference.get(c) for c in classes], name="reference",
                             marker_color="#94a3b8", texttemplate="%{y:.1%}", textposition="outside"))
        fig.add_trace(go.Bar(x=[plain(c) for c in classes], y=[current.get(c) for c in classes], name="current",
                             marker_color="#2563eb", texttemplate="%{y:.1%}", textposition="outside"))
        fig.update_layout(barmode="group", bargap=0.35)
        fig.update_xaxes(type="category", title_text="predicted class")
        fig.update_yaxes(tickformat=".0%", rangemode="tozero", range=[0, max([*current.values(), *reference.values(), 0.1]) * 1.18])
        view["chart"] = page.chart(fig)
    elif any(r.metric == "prediction_mean" for r in stats):
        view.update(_predicted_value_history(page, tile))
    return view


def _predicted_value_history(page: TilePage, tile: Tile) -> View:
    """A regressor's mean prediction beside its reference's, per period (the newest evaluation
    of each) or per evaluation: the value to watch when there are no classes to count."""
    x_key = store_x(page, tile)
    series = {name: newest_per_x([p for p in page.wh.metric_history(tile["store"], name) if p.value is not None], x_key)
              for name in ("prediction_mean", "prediction_mean_reference")}
    xs = sorted({x for points in series.values() for x in points}, key=str)
    shown = xs if x_key == "created_at" else [plain(x) for x in xs]
    fig = figure(height=280)
    for (name, points), label, color, dash in zip(series.items(), ("current", "reference"), ("#2563eb", "#94a3b8"),
                                                  ("solid", "dash")):
        fig.add_trace(go.Scatter(x=shown, y=[points[x].value if x in points else None for x in xs],
                                 mode="lines+markers", name=label, line={"color": color, "width": 2, "dash": dash}))
    if x_key != "created_at":
        fig.update_xaxes(type="category", title_text=plain(x_key))
    fig.update_yaxes(title_text="mean prediction")
    each = "evaluation" if x_key == "created_at" else plain(x_key)
    return {"chart": page.chart(fig), "caption": f"Mean predicted value per {each}, current and reference"}
