"""Scenarios: declared here (validated, shown in docs); run by mlmon.automation, not by build."""

from __future__ import annotations

from mlmon.nodes.base import Field, NodeKind

__all__ = ["ScenarioKind", "KIND"]


class ScenarioKind(NodeKind):
    key = "scenarios"
    type = "scenario"
    buildable = False
    fields = (
        Field("triggers", (list,), default=[], doc="cron / every / dataset_changed / sql_changed"),
        Field("steps", (list,), required=True, doc="build, run_checks, train, sql, set_vars, run_scenario"),
        Field("reporters", (list,), default=[], render=False, doc="rendered at run time: secrets stay out of the manifest"),
    )


KIND = ScenarioKind()
