"""`mlmon dashboard NAME`: one self-contained HTML page for a `dashboards:` node.

Each tile is turned into a plain dict (the view) by a builder below, then drawn by a macro in
templates/dashboard.html.j2. Builders only read what the warehouse holds and answer a visible
"no data" view when it holds nothing; charts are plotly figures whose HTML fragments share the
one plotly.js bundle inlined in the page head.
"""

from __future__ import annotations

import html
import math
from datetime import datetime, timezone
from typing import Any, Callable

import duckdb
import plotly.graph_objects as go
from markupsafe import Markup

from mlmon.errors import UsageError, did_you_mean
from mlmon.metrics.labels import canonical_label
from mlmon.metrics.task import BINARY_METRICS, MULTICLASS_CLASS_METRICS, MULTICLASS_METRICS, REGRESSION_METRICS
from mlmon.reports.data import CheckResult, Evaluation, MetricRow, ScenarioRun, Warehouse
# The page helpers lived here before page.py; callers and tests still import them from here.
from mlmon.reports.page import STATUS_COLORS, chart_html, environment, figure, plotly_js, status_class
from mlmon.reports.page import fmt_number as fmt_number, fmt_time as fmt_time

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

PERFORMANCE_METRICS = tuple(dict.fromkeys((*BINARY_METRICS, *MULTICLASS_METRICS, *REGRESSION_METRICS)))
# What the prediction drift tile lists, whichever the task (a store holds those of its own).
_PREDICTION_STATS = ("prediction_psi", "prediction_ks_statistic", "prediction_ks_pvalue", "prediction_chi2_pvalue",
                     "prediction_wasserstein", "prediction_mean", "prediction_mean_reference")
OUTCOME_COLORS = {"SUCCESS": "#16a34a", "WARNING": "#d97706", "FAILED": "#dc2626", "ABORTED": "#64748b"}
_BOUND_STYLE = {"min": ("#dc2626", "min"), "max": ("#dc2626", "max"),
                "soft_min": ("#d97706", "soft min"), "soft_max": ("#d97706", "soft max")}

Tile = dict[str, Any]
View = dict[str, Any]


class _Page:
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


def _require(tile: Tile, *keys: str) -> None:
    missing = [k for k in keys if not tile.get(k)]
    if missing:
        raise ValueError(f"{tile.get('type')} tile needs {', '.join(repr(k) for k in missing)}: {tile!r}")


def _plain(text: Any) -> str:
    """A user string for plotly, which reads a subset of HTML in labels: show it, never interpret it."""
    return html.escape(str(text), quote=False)


def _eval_view(e: Evaluation) -> dict[str, Any]:
    return {"id": e.evaluation_id, "created_at": e.created_at, "labels": e.labels, "model": e.model,
            "version": e.model_version, "n_evaluated": e.n_evaluated, "ground_truth": e.has_ground_truth}


# -- metric -------------------------------------------------------------------------------------


def _metric(page: _Page, tile: Tile) -> View:
    _require(tile, "store", "metric")
    store, metric, feature = tile["store"], tile["metric"], tile.get("feature")
    view: View = {"subtitle": " · ".join(x for x in (store, metric, feature) if x)}
    latest = page.wh.latest_evaluation(store)
    check = page.wh.latest_check(store, metric, feature)
    view["check"] = _check_view(check, latest)
    view["status_class"] = status_class(check.status if check else None)
    if latest is None:
        return {**view, "empty": f"No evaluation in store {store} yet."}
    row = page.wh.metric(latest.evaluation_id, metric, feature)
    view["evaluation"] = _eval_view(latest)
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


# -- metric_history -----------------------------------------------------------------------------


def _metric_history(page: _Page, tile: Tile) -> View:
    _require(tile, "store", "metric")
    store, metric, feature = tile["store"], tile["metric"], tile.get("feature")
    x_key = tile.get("x") or page.default_x
    view: View = {"subtitle": " · ".join(x for x in (store, metric, feature) if x) + f" by {x_key}"}
    points = page.wh.metric_history(store, metric, feature)
    points = [p for p in points if p.value is not None and math.isfinite(p.value)]
    if x_key != "created_at":
        # one point per label value: the newest evaluation of it (a period evaluated again)
        points = list(_newest_per_x([p for p in points if p.evaluation.labels.get(x_key) is not None], x_key).values())
    if not points:
        why = f" with label '{x_key}'" if x_key != "created_at" else ""
        return {**view, "empty": f"No evaluation of {store}{why} has {metric} yet."}
    xs = [p.evaluation.created_at if x_key == "created_at" else _plain(p.evaluation.labels[x_key]) for p in points]
    values = [p.value for p in points]
    fig = figure(height=300)
    if any(p.lower is not None and p.upper is not None for p in points):
        fig.add_trace(go.Scatter(x=xs, y=[p.upper for p in points], mode="lines", line={"width": 0},
                                 hoverinfo="skip", showlegend=False))
        fig.add_trace(go.Scatter(x=xs, y=[p.lower for p in points], mode="lines", line={"width": 0},
                                 fill="tonexty", fillcolor="rgba(37,99,235,0.14)", name="95% interval",
                                 hoverinfo="skip"))
    hover = [
        f"{_plain(p.evaluation.evaluation_id)}<br>{_plain(metric)} = {v:.4g}"
        + (f" [{p.lower:.4g}, {p.upper:.4g}]" if p.lower is not None and p.upper is not None else "")
        + "".join(f"<br>{_plain(k)} = {_plain(val)}" for k, val in p.evaluation.labels.items())
        + (f"<br>check: {_plain(p.status)}" if p.status else "")
        for p, v in zip(points, values)
    ]
    fig.add_trace(go.Scatter(
        x=xs, y=values, mode="lines+markers", name=_plain(metric), line={"color": "#2563eb", "width": 2},
        marker={"size": 9, "color": [STATUS_COLORS[status_class(p.status)] for p in points],
                "line": {"color": "white", "width": 1.5}},
        hovertext=hover, hoverinfo="text",
    ))
    bounds = _draw_bounds(fig, page.checks_on(store, metric, feature), values + [
        b for p in points for b in (p.lower, p.upper) if b is not None])
    if x_key != "created_at":
        fig.update_xaxes(type="category", title_text=_plain(x_key))
    fig.update_layout(showlegend=any(t.name == "95% interval" for t in fig.data))
    return {**view, "chart": page.chart(fig), "bounds": bounds, "latest": values[-1], "n": len(points)}


def _draw_bounds(fig: go.Figure, checks: list[tuple[str, dict[str, Any]]], values: list[float]) -> list[dict[str, Any]]:
    """Check bounds as lines, with the WARNING and ERROR regions shaded; returns them for the legend."""
    bounds = [{"check": name, "kind": k, "value": float(cfg[k])}
              for name, cfg in checks for k in ("min", "soft_min", "soft_max", "max") if cfg.get(k) is not None]
    if not bounds:
        return []
    span = [*values, *(b["value"] for b in bounds)]
    pad = (max(span) - min(span)) * 0.12 or abs(max(span)) * 0.1 or 0.1
    lo, hi = min(span) - pad, max(span) + pad
    # an explicit range so the shaded regions can run to the plot's edge without stretching it
    fig.update_yaxes(range=[lo, hi])
    for b in bounds:
        color, label = _BOUND_STYLE[b["kind"]]
        fig.add_hline(y=b["value"], line={"color": color, "dash": "dash", "width": 1.5},
                      annotation_text=f"{label} {b['value']:g}", annotation_position="top left",
                      annotation_font={"color": color, "size": 11})
    for name, cfg in checks:
        hard_lo, soft_lo, soft_hi, hard_hi = (cfg.get(k) for k in ("min", "soft_min", "soft_max", "max"))
        if hard_hi is not None:
            fig.add_hrect(y0=hard_hi, y1=hi, fillcolor=STATUS_COLORS["status-error"], opacity=0.08, line_width=0)
        if soft_hi is not None:
            fig.add_hrect(y0=soft_hi, y1=hard_hi if hard_hi is not None else hi,
                          fillcolor=STATUS_COLORS["status-warning"], opacity=0.1, line_width=0)
        if hard_lo is not None:
            fig.add_hrect(y0=lo, y1=hard_lo, fillcolor=STATUS_COLORS["status-error"], opacity=0.08, line_width=0)
        if soft_lo is not None:
            fig.add_hrect(y0=hard_lo if hard_lo is not None else lo, y1=soft_lo,
                          fillcolor=STATUS_COLORS["status-warning"], opacity=0.1, line_width=0)
    return bounds


# -- scenario_runs ------------------------------------------------------------------------------


def _scenario_runs(page: _Page, tile: Tile) -> View:
    _require(tile, "scenario")
    scenario, limit = tile["scenario"], int(tile.get("limit") or 20)
    view: View = {"subtitle": f"{scenario} · last {limit} runs"}
    runs = page.wh.scenario_runs(scenario, limit)
    if not runs:
        return {**view, "empty": f"Scenario {scenario} has not run yet."}
    fig = figure(height=260)
    for outcome, color in {**OUTCOME_COLORS, None: "#94a3b8"}.items():
        chosen = [r for r in runs if (r.outcome if r.outcome in OUTCOME_COLORS else None) == outcome]
        if not chosen:
            continue
        fig.add_trace(go.Scatter(
            x=[r.started_at for r in chosen], y=[r.duration_s or 0 for r in chosen], mode="markers",
            name=outcome or "unknown", marker={"size": 13, "color": color, "line": {"color": "white", "width": 1.5}},
            hovertext=[_run_hover(r) for r in chosen], hoverinfo="text",
        ))
    fig.update_yaxes(title_text="duration (s)", rangemode="tozero")
    counts: dict[str, int] = {}
    for r in runs:
        counts[r.outcome or "unknown"] = counts.get(r.outcome or "unknown", 0) + 1
    return {**view, "chart": page.chart(fig), "counts": counts, "recent": list(reversed(runs))[:5],
            "outcome_class": _outcome_class}


def _run_hover(run: ScenarioRun) -> str:
    lines = [f"<b>{_plain(run.outcome or 'unknown')}</b> · {_plain(run.trigger or 'manual')}",
             f"{run.started_at:%Y-%m-%d %H:%M}" if run.started_at else ""]
    for s in run.steps:
        lines.append(f"{_plain(s.step)} ({_plain(s.kind or '')}): {_plain(s.outcome or '?')}")
    return "<br>".join(x for x in lines if x)


def _outcome_class(outcome: str | None) -> str:
    return {"SUCCESS": "status-ok", "WARNING": "status-warning", "FAILED": "status-error"}.get(outcome or "", "status-none")


def _latest_of_store(page: _Page, tile: Tile) -> tuple[View, Evaluation | None]:
    """The view every store tile starts from, and the store's latest evaluation (None: none yet)."""
    _require(tile, "store")
    store = tile["store"]
    latest = page.wh.latest_evaluation(store)
    if latest is None:
        return {"subtitle": store, "empty": f"No evaluation in store {store} yet."}, None
    return {"subtitle": store, "evaluation": _eval_view(latest)}, latest


# -- feature_drift ------------------------------------------------------------------------------

_FEATURE_METRICS = ("psi", "ks_pvalue", "chi2_pvalue", "wasserstein", "missing_share", "drifted",
                    "drift_importance", "model_importance", "new_category_share")


def _feature_drift(page: _Page, tile: Tile) -> View:
    view, latest = _latest_of_store(page, tile)
    if latest is None:
        return view
    table: dict[str, dict[str, float | None]] = {}
    for row in page.wh.metrics(latest.evaluation_id, _FEATURE_METRICS):
        if row.feature is not None:
            table.setdefault(row.feature, {})[row.metric] = row.value
    if not table:
        return {**view, "empty": "The latest evaluation has no per-feature drift metrics."}
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
                    mode="markers+text", name=name, text=[_plain(r["feature"]) for r in chosen],
                    textposition="top center", textfont={"size": 11}, cliponaxis=False,
                    marker={"size": 11, "color": color, "line": {"color": "white", "width": 1.5}},
                    hovertemplate="%{text}<br>model importance %{x:.3f}<br>drift importance %{y:.3f}<extra></extra>",
                ))
        # room around the points for their labels
        fig.update_xaxes(title_text="model importance", range=[0, max(r["model_importance"] for r in scatter) * 1.2 or 1])
        fig.update_yaxes(title_text="drift importance", range=[0, max(r["drift_importance"] for r in scatter) * 1.2 or 1])
        view["chart"] = page.chart(fig)
    return view


# -- data_quality -------------------------------------------------------------------------------

_QUALITY_METRICS = ("missing_share", "missing_share_reference", "out_of_range_share", "new_category_share",
                    "feature_missing", "type_changed", "drifted")


def _data_quality(page: _Page, tile: Tile) -> View:
    """Per feature of the latest evaluation: missing share beside the reference's, values out of
    the reference's range, unseen categories, and a column gone or retyped."""
    view, latest = _latest_of_store(page, tile)
    if latest is None:
        return view
    table: dict[str, dict[str, float | None]] = {}
    for row in page.wh.metrics(latest.evaluation_id, _QUALITY_METRICS):
        if row.feature is not None:
            table.setdefault(row.feature, {})[row.metric] = row.value
    if not table:
        return {**view, "empty": "The latest evaluation has no data-quality metrics."}
    rows = []
    for feature, m in table.items():
        problem = ("column missing" if m.get("feature_missing") else "type changed" if m.get("type_changed") else None)
        rows.append({"feature": feature, **dict.fromkeys(_QUALITY_METRICS), **m, "problem": problem,
                     "is_drifted": bool(m.get("drifted"))})
    rows.sort(key=lambda r: (r["problem"] is None, not r["is_drifted"], r["feature"]))
    return {**view, "rows": rows, "n_problems": sum(1 for r in rows if r["problem"])}


# -- prediction_drift ---------------------------------------------------------------------------


def _prediction_drift(page: _Page, tile: Tile) -> View:
    view, latest = _latest_of_store(page, tile)
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
        classes = sorted(set(current) | set(reference), key=_class_key)
        fig = figure(height=280)
        fig.add_trace(go.Bar(x=[_plain(c) for c in classes], y=[reference.get(c) for c in classes], name="reference",
                             marker_color="#94a3b8", texttemplate="%{y:.1%}", textposition="outside"))
        fig.add_trace(go.Bar(x=[_plain(c) for c in classes], y=[current.get(c) for c in classes], name="current",
                             marker_color="#2563eb", texttemplate="%{y:.1%}", textposition="outside"))
        fig.update_layout(barmode="group", bargap=0.35)
        fig.update_xaxes(type="category", title_text="predicted class")
        fig.update_yaxes(tickformat=".0%", rangemode="tozero", range=[0, max([*current.values(), *reference.values(), 0.1]) * 1.18])
        view["chart"] = page.chart(fig)
    elif any(r.metric == "prediction_mean" for r in stats):
        view.update(_predicted_value_history(page, tile["store"]))
    return view


def _predicted_value_history(page: _Page, store: str) -> View:
    """A regressor's mean prediction per evaluation beside its reference's: the value to watch
    when there are no classes to count."""
    series = {name: [p for p in page.wh.metric_history(store, name) if p.value is not None]
              for name in ("prediction_mean", "prediction_mean_reference")}
    fig = figure(height=280)
    for (name, points), label, color, dash in zip(series.items(), ("current", "reference"), ("#2563eb", "#94a3b8"),
                                                  ("solid", "dash")):
        fig.add_trace(go.Scatter(x=[p.evaluation.created_at for p in points], y=[p.value for p in points],
                                 mode="lines+markers", name=label, line={"color": color, "width": 2, "dash": dash}))
    fig.update_yaxes(title_text="mean prediction")
    return {"chart": page.chart(fig), "caption": "Mean predicted value per evaluation, current and reference"}


def _class_key(label: str) -> tuple[int, float | str]:
    try:
        return (0, float(label))
    except ValueError:
        return (1, label)


# -- performance --------------------------------------------------------------------------------


def _performance(page: _Page, tile: Tile) -> View:
    view, latest = _latest_of_store(page, tile)
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
    fig.add_trace(go.Bar(x=names, y=[r["reference"] for r in table], name=_plain(ref_name), marker_color="#94a3b8"))
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
    return [by_class[c] for c in sorted(by_class, key=_class_key)]


def _newest_per_x(points: list[Any], x_key: str) -> dict[Any, Any]:
    """{x: the newest point there}: a period evaluated again (more outcomes) shows its latest values."""
    newest: dict[Any, Any] = {}
    for p in points:  # oldest first
        x = p.evaluation.created_at if x_key == "created_at" else p.evaluation.labels.get(x_key)
        if x is not None:
            newest[x] = p
    return newest


def _estimated_vs_realised(page: _Page, tile: Tile, view: View) -> View:
    """`metric` (realised, on labelled rows) and `estimated_<metric>` (CBPE) over the store's
    evaluations, on one chart: the estimate needs no outcome, so it runs ahead of the truth."""
    store, metric = tile["store"], tile["metric"]
    x_key = tile.get("x") or ("period" if any("period" in e.labels for e in page.wh.evaluations(store)) else page.default_x)
    realised = _newest_per_x(page.wh.metric_history(store, metric), x_key)
    estimated = _newest_per_x(page.wh.metric_history(store, f"estimated_{metric}"), x_key)
    coverage = _newest_per_x(page.wh.metric_history(store, "label_coverage"), x_key)
    xs = sorted(set(realised) | set(estimated), key=str)
    view["subtitle"] = f"{store} · {metric}, estimated vs realised by {x_key}"
    if not xs:
        return {**view, "empty": f"No evaluation of {store} has {metric} or estimated_{metric} yet."}
    shown = [_plain(x) for x in xs]
    fig = figure(height=300)
    est = [estimated.get(x) for x in xs]
    if any(e is not None and e.lower is not None for e in est):
        fig.add_trace(go.Scatter(x=shown, y=[e.upper if e else None for e in est], mode="lines", line={"width": 0},
                                 hoverinfo="skip", showlegend=False))
        fig.add_trace(go.Scatter(x=shown, y=[e.lower if e else None for e in est], mode="lines", line={"width": 0},
                                 fill="tonexty", fillcolor="rgba(124,58,237,0.14)", name="estimate 95%", hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=shown, y=[e.value if e else None for e in est], mode="lines+markers",
                             name="estimated (CBPE)", line={"color": "#7c3aed", "width": 2, "dash": "dash"}))
    fig.add_trace(go.Scatter(x=shown, y=[realised[x].value if x in realised else None for x in xs], mode="lines+markers",
                             name="realised", line={"color": "#2563eb", "width": 2}, marker={"size": 9}))
    fig.update_xaxes(type="category", title_text=_plain(x_key))
    fig.update_yaxes(title_text=_plain(metric))
    _draw_bounds(fig, page.checks_on(store, f"estimated_{metric}", None), [
        v for x in xs for v in ((realised[x].value if x in realised else None), (estimated[x].value if x in estimated else None))
        if v is not None])
    rows = [{"x": x, "realised": realised[x].value if x in realised else None,
             "estimated": estimated.get(x), "coverage": coverage[x].value if x in coverage else None} for x in xs]
    return {**view, "chart": page.chart(fig), "history": list(reversed(rows)), "metric": metric, "x_key": x_key}


def _value(row: MetricRow | None) -> float | None:
    return row.value if row else None


# -- model_versions -----------------------------------------------------------------------------

_KEY_METRICS = {"regression": ("rmse", "r2", "mae"), "multiclass": ("accuracy", "f1_macro", "roc_auc_ovr")}
_DEFAULT_KEY_METRICS = ("roc_auc", "f1", "accuracy")


def _model_versions(page: _Page, tile: Tile) -> View:
    model = tile.get("model")
    view: View = {"subtitle": model or "all models", "show_model": not model}
    versions = page.wh.model_versions(model)
    if not versions:
        return {**view, "empty": f"No trained version of {model or 'any model'} yet."}
    keys: list[str] = []
    for v in versions:
        wanted = _KEY_METRICS.get(v.task or "", _DEFAULT_KEY_METRICS)
        present = [k for k in wanted if k in v.metrics] or list(v.metrics)[:3]
        keys += [k for k in present if k not in keys]
    return {**view, "versions": list(reversed(versions)), "metric_names": keys[:4]}


TILE_TYPES: dict[str, Callable[[_Page, Tile], View]] = {
    "metric": _metric,
    "metric_history": _metric_history,
    "scenario_runs": _scenario_runs,
    "feature_drift": _feature_drift,
    "data_quality": _data_quality,
    "prediction_drift": _prediction_drift,
    "performance": _performance,
    "model_versions": _model_versions,
}
_DEFAULT_TITLES = {
    "metric_history": "{metric} over time", "scenario_runs": "Scenario runs", "feature_drift": "Feature drift",
    "prediction_drift": "Prediction drift", "performance": "Performance", "model_versions": "Model versions",
    "data_quality": "Data quality",
}


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
    return _DEFAULT_TITLES[tile["type"]].format(metric=tile.get("metric"))


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
    page = _Page(Warehouse(con), manifest, x)
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
