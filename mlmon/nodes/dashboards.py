"""Dashboards: declared here (validated, shown in docs); rendered by `mlmon dashboard`."""

from __future__ import annotations

from mlmon.nodes.base import Field, NodeKind

__all__ = ["DashboardKind", "KIND"]


class DashboardKind(NodeKind):
    key = "dashboards"
    type = "dashboard"
    buildable = False
    fields = (
        Field("title", (str,)),
        Field("tiles", (list,), required=True, doc="metric, metric_history, scenario_runs, feature_drift, ..."),
    )


KIND = DashboardKind()
