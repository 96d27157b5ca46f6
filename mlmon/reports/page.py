"""What every report page shares: the Jinja environment, value formatting and plotly charts.

`environment()` loads templates/ with autoescape on and registers the `num`, `time` and
`status_class` filters the templates use. Charts are plotly figures drawn as HTML fragments
(`chart_html`) that rely on the one plotly.js bundle (`plotly_js`) inlined in the page head,
so a page works offline.
"""

from __future__ import annotations

import math
from datetime import datetime
from functools import lru_cache
from typing import Any

import plotly.graph_objects as go
import plotly.offline
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

__all__ = [
    "STATUS_COLORS",
    "status_class",
    "fmt_number",
    "fmt_time",
    "environment",
    "plotly_js",
    "figure",
    "chart_html",
]

STATUS_COLORS = {"status-ok": "#16a34a", "status-warning": "#d97706", "status-error": "#dc2626",
                 "status-empty": "#94a3b8", "status-none": "#94a3b8"}
_FONT = "Inter, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, 'Liberation Sans', sans-serif"
_CHART_CONFIG = {"displaylogo": False, "responsive": True,
                 "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"]}


def status_class(status: str | None) -> str:
    """CSS class of a check status: status-ok | status-warning | status-error | status-empty | status-none."""
    return {"OK": "status-ok", "WARNING": "status-warning", "ERROR": "status-error",
            "EMPTY": "status-empty"}.get((status or "").upper(), "status-none")


def fmt_number(value: Any, digits: int = 4) -> str:
    """A metric value for people: thousands separators for counts, 4 significant digits otherwise."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if not isinstance(value, (int, float)) or (isinstance(value, float) and math.isnan(value)):
        return "—"  # None, NaN, or a key the template asked for that the row does not have
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) >= 1000):
        return f"{int(value):,}"
    if value != 0 and abs(value) < 1e-3:
        return f"{value:.2e}"
    return f"{value:.{digits}g}"


def fmt_time(value: Any) -> str:
    """A timestamp to the minute, or a dash when there is none."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return "—" if value is None else str(value)


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The Jinja environment of every report page; autoescape is on for all templates."""
    env = Environment(loader=PackageLoader("mlmon.reports", "templates"),
                      autoescape=select_autoescape(["html", "j2"], default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(num=fmt_number, time=fmt_time, status_class=status_class)
    return env


@lru_cache(maxsize=1)
def plotly_js() -> Markup:
    """The plotly.js bundle shipped with the plotly package, for inlining once per page."""
    # a literal "</script" in a future bundle would end the inline script early; "<\/" means the same to JS
    return Markup(plotly.offline.get_plotlyjs().replace("</script", "<\\/script"))


def figure(height: int = 300) -> go.Figure:
    """An empty figure in the pages' style (an empty template keeps plotly's large default out of the HTML)."""
    fig = go.Figure(layout=go.Layout(template=go.layout.Template()))
    fig.update_layout(
        height=height, margin={"l": 52, "r": 16, "t": 28, "b": 44}, font={"family": _FONT, "size": 12, "color": "#334155"},
        paper_bgcolor="#ffffff", plot_bgcolor="#ffffff", hovermode="closest",
        modebar={"bgcolor": "rgba(255,255,255,0.85)", "color": "#94a3b8", "activecolor": "#2563eb"},
        # legend on the left, so it never sits under the modebar on the right
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0, "bgcolor": "rgba(0,0,0,0)"},
        hoverlabel={"bgcolor": "#0f172a", "font": {"color": "#f8fafc", "family": _FONT}},
        colorway=["#2563eb", "#94a3b8", "#a78bfa", "#16a34a", "#d97706", "#dc2626"],
    )
    axis = {"gridcolor": "#eef2f7", "zerolinecolor": "#e2e8f0", "linecolor": "#cbd5e1", "automargin": True}
    fig.update_xaxes(**axis)
    fig.update_yaxes(**axis)
    return fig


def chart_html(fig: go.Figure, div_id: str) -> Markup:
    """A figure as an HTML fragment that relies on the page's single plotly.js."""
    return Markup(fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config=_CHART_CONFIG))
