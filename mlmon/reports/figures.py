"""Chart pieces more than one dashboard tile draws: check bounds with their shaded regions, and
a 95% interval band under a line."""

from __future__ import annotations

from typing import Any, Sequence

import plotly.graph_objects as go

from mlmon.reports.page import STATUS_COLORS

__all__ = ["draw_bounds", "interval_band"]

_BOUND_STYLE = {"min": ("#dc2626", "min"), "max": ("#dc2626", "max"),
                "soft_min": ("#d97706", "soft min"), "soft_max": ("#d97706", "soft max")}


def draw_bounds(fig: go.Figure, checks: list[tuple[str, dict[str, Any]]], values: list[float]) -> list[dict[str, Any]]:
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


def interval_band(fig: go.Figure, xs: Sequence[Any], lower: Sequence[float | None], upper: Sequence[float | None],
                  *, fillcolor: str, name: str) -> None:
    """The band between `lower` and `upper`: an invisible upper line, then the lower one filled up to it."""
    fig.add_trace(go.Scatter(x=xs, y=list(upper), mode="lines", line={"width": 0}, hoverinfo="skip", showlegend=False))
    fig.add_trace(go.Scatter(x=xs, y=list(lower), mode="lines", line={"width": 0}, fill="tonexty", fillcolor=fillcolor,
                             name=name, hoverinfo="skip"))
