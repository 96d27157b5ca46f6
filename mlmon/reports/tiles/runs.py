"""The `scenario_runs` tile (a scenario's recent runs by outcome) and the `model_versions` tile."""

from __future__ import annotations

import plotly.graph_objects as go

from mlmon.reports.data import ScenarioRun
from mlmon.reports.page import figure
from mlmon.reports.tiles.base import Tile, TilePage, View, plain, require

__all__ = ["OUTCOME_COLORS", "scenario_runs_tile", "model_versions_tile"]

OUTCOME_COLORS = {"SUCCESS": "#16a34a", "WARNING": "#d97706", "FAILED": "#dc2626", "ABORTED": "#64748b"}


def scenario_runs_tile(page: TilePage, tile: Tile) -> View:
    require(tile, "scenario")
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
    lines = [f"<b>{plain(run.outcome or 'unknown')}</b> · {plain(run.trigger or 'manual')}",
             f"{run.started_at:%Y-%m-%d %H:%M}" if run.started_at else ""]
    for s in run.steps:
        lines.append(f"{plain(s.step)} ({plain(s.kind or '')}): {plain(s.outcome or '?')}")
    return "<br>".join(x for x in lines if x)


def _outcome_class(outcome: str | None) -> str:
    return {"SUCCESS": "status-ok", "WARNING": "status-warning", "FAILED": "status-error"}.get(outcome or "", "status-none")


_KEY_METRICS = {"regression": ("rmse", "r2", "mae"), "multiclass": ("accuracy", "f1_macro", "roc_auc_ovr")}
_DEFAULT_KEY_METRICS = ("roc_auc", "f1", "accuracy")


def model_versions_tile(page: TilePage, tile: Tile) -> View:
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
