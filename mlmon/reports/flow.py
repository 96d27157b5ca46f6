"""`mlmon docs`: the project's flow as one offline page.

The layout is computed here, not in the browser: every node gets a layer (its longest path from
a source, so edges always point right) and a lane (its zone, so a zone is one shaded band).
Within a layer and lane, nodes are ordered by the mean height of their upstream nodes, which
keeps most edges short and uncrossed. The page draws the result as plain SVG; a small inline
script selects nodes, filters the list and shows each node's details.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import duckdb
import yaml

from mlmon.reports.data import NodeResult, Warehouse
from mlmon.reports.page import environment

__all__ = ["KINDS", "FlowLayout", "PlacedNode", "PlacedEdge", "Lane", "layers", "layout", "render_flow"]

# colour and short badge per node kind; the badge is text so it renders with any font
KINDS: dict[str, tuple[str, str]] = {
    "dataset": ("#2563eb", "DS"),
    "model": ("#7c3aed", "ML"),
    "score": ("#0891b2", "SC"),
    "evaluation": ("#ea580c", "EV"),
    "check": ("#16a34a", "CK"),
    "retrain": ("#db2777", "RT"),
    "scenario": ("#475569", "SN"),
    "dashboard": ("#4f46e5", "DB"),
}
_OTHER_KIND = ("#64748b", "??")
NODE_STATUS_CLASS = {"success": "st-success", "reused": "st-reused", "warn": "st-warn", "error": "st-error",
                     "fail": "st-error", "skipped": "st-skipped"}

NODE_W, NODE_H = 204, 46
COL_GAP, ROW_GAP = 48, 14
LANE_HEAD, LANE_PAD, LANE_GAP = 26, 12, 10
MARGIN = 16


@dataclass
class PlacedNode:
    name: str
    kind: str
    layer: int
    zone: str | None
    x: float = 0.0
    y: float = 0.0

    @property
    def color(self) -> str:
        return KINDS.get(self.kind, _OTHER_KIND)[0]

    @property
    def badge(self) -> str:
        return KINDS.get(self.kind, _OTHER_KIND)[1]


@dataclass
class PlacedEdge:
    source: str
    target: str
    inferred: bool
    via: str | None
    path: str  # SVG path data


@dataclass
class Lane:
    zone: str | None
    y: float
    height: float
    count: int


@dataclass
class FlowLayout:
    nodes: dict[str, PlacedNode] = field(default_factory=dict)
    edges: list[PlacedEdge] = field(default_factory=list)
    lanes: list[Lane] = field(default_factory=list)
    width: float = 0.0
    height: float = 0.0


def _upstream(manifest: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Each node's dependencies on nodes that exist in the manifest."""
    nodes = manifest.get("nodes", {})
    return {name: [d for d in (node.get("depends_on") or []) if d.get("name") in nodes and d.get("name") != name]
            for name, node in nodes.items()}


def layers(manifest: dict[str, Any]) -> dict[str, int]:
    """Longest-path layer of every node: 0 for sources, else 1 + the deepest upstream layer.

    The manifest comes from a validated graph, but a cycle must still not hang the docs: an
    edge back into a node being visited is ignored.
    """
    upstream = _upstream(manifest)
    layer: dict[str, int] = {}
    visiting: set[str] = set()
    for start in upstream:
        stack: list[tuple[str, int]] = [(start, 0)]
        while stack:
            name, i = stack.pop()
            if name in layer:
                continue
            deps = [d["name"] for d in upstream[name]]
            if i == 0:
                visiting.add(name)
            if i < len(deps):
                stack.append((name, i + 1))
                if deps[i] not in layer and deps[i] not in visiting:
                    stack.append((deps[i], 0))
                continue
            visiting.discard(name)
            layer[name] = 1 + max((layer[d] for d in deps if d in layer), default=-1)
    return layer


def layout(manifest: dict[str, Any]) -> FlowLayout:
    """Positions of nodes, lanes and edge curves, in SVG pixels."""
    nodes = manifest.get("nodes", {})
    layer_of = layers(manifest)
    upstream = _upstream(manifest)
    placed = {n: PlacedNode(n, str(v.get("type")), layer_of[n], v.get("zone") or None) for n, v in nodes.items()}
    out = FlowLayout(nodes=placed)
    if not placed:
        return out

    by_zone: dict[str | None, list[PlacedNode]] = {}
    for p in placed.values():
        by_zone.setdefault(p.zone, []).append(p)
    # lanes read top to bottom in the order the data flows through them; nodes without a zone last
    order = sorted(by_zone, key=lambda z: (z is None, min(p.layer for p in by_zone[z]),
                                           sum(p.layer for p in by_zone[z]) / len(by_zone[z]), z or ""))
    y = MARGIN
    lane_top: dict[str | None, float] = {}
    for zone in order:
        per_layer: dict[int, int] = {}
        for p in by_zone[zone]:
            per_layer[p.layer] = per_layer.get(p.layer, 0) + 1
        rows = max(per_layer.values())
        height = LANE_HEAD + 2 * LANE_PAD + rows * NODE_H + (rows - 1) * ROW_GAP
        out.lanes.append(Lane(zone, y, height, len(by_zone[zone])))
        lane_top[zone] = y
        y += height + LANE_GAP
    out.height = y - LANE_GAP + MARGIN
    max_layer = max(p.layer for p in placed.values())
    out.width = 2 * MARGIN + (max_layer + 1) * NODE_W + max_layer * COL_GAP

    for layer in range(max_layer + 1):
        for zone in order:
            cell = [p for p in by_zone[zone] if p.layer == layer]

            def barycenter(p: PlacedNode) -> tuple[float, str]:
                ys = [placed[d["name"]].y for d in upstream[p.name]]
                return (sum(ys) / len(ys) if ys else 0.0, p.name)

            for slot, p in enumerate(sorted(cell, key=barycenter)):
                p.x = MARGIN + layer * (NODE_W + COL_GAP)
                p.y = lane_top[zone] + LANE_HEAD + LANE_PAD + slot * (NODE_H + ROW_GAP)

    for name, deps in upstream.items():
        for d in deps:
            src, dst = placed[d["name"]], placed[name]
            x1, y1 = src.x + NODE_W, src.y + NODE_H / 2
            x2, y2 = dst.x - 6, dst.y + NODE_H / 2  # stop short so the arrowhead stays visible
            bend = max(36.0, (x2 - x1) / 2)
            path = f"M{x1:.1f},{y1:.1f} C{x1 + bend:.1f},{y1:.1f} {x2 - bend:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"
            out.edges.append(PlacedEdge(d["name"], name, bool(d.get("inferred")), d.get("via"), path))
    return out


def _yamlish(config: dict[str, Any]) -> str:
    if not config:
        return ""
    try:
        return yaml.safe_dump(config, sort_keys=False, default_flow_style=False, allow_unicode=True, width=100).rstrip()
    except yaml.YAMLError:  # values YAML cannot represent (objects from a plugin): JSON always can
        return json.dumps(config, indent=2, default=str)


def _node_view(name: str, node: dict[str, Any], flow: FlowLayout, result: NodeResult | None) -> dict[str, Any]:
    placed = flow.nodes[name]
    return {
        "name": name, "kind": placed.kind, "color": placed.color, "badge": placed.badge, "zone": placed.zone,
        "layer": placed.layer, "path": node.get("path"), "line": node.get("line"), "tags": list(node.get("tags") or []),
        "description": node.get("description"), "materialized": node.get("materialized"), "sql": node.get("sql"),
        "config": _yamlish(node.get("config") or {}), "result": result,
        "status_class": NODE_STATUS_CLASS.get((result.status or "") if result else "", "st-none"),
        "upstream": [e for e in flow.edges if e.target == name],
        "downstream": [e for e in flow.edges if e.source == name],
        "search": " ".join(str(x) for x in (name, placed.kind, placed.zone or "", *(node.get("tags") or []),
                                            node.get("description") or "", node.get("path") or "")).lower(),
    }


def render_flow(manifest: dict[str, Any], con: duckdb.DuckDBPyConnection | None = None) -> str:
    """The flow page of a compiled project; with a connection, each node shows its latest run."""
    flow = layout(manifest)
    results = Warehouse(con).latest_node_results() if con is not None else {}
    nodes = manifest.get("nodes", {})
    views = [_node_view(n, nodes[n], flow, results.get(n))
             for n in sorted(nodes, key=lambda n: (flow.nodes[n].layer, n))]
    kinds: dict[str, int] = {}
    for v in views:
        kinds[v["kind"]] = kinds.get(v["kind"], 0) + 1
    statuses: dict[str, int] = {}
    for r in results.values():
        if r.node in nodes and r.status:
            statuses[r.status] = statuses.get(r.status, 0) + 1
    meta = manifest.get("metadata", {})
    return environment().get_template("flow.html.j2").render(
        project=meta.get("project_name") or "mlmon project", meta=meta, flow=flow, nodes=views,
        kinds=kinds, kind_styles=KINDS, statuses=statuses, has_warehouse=con is not None,
        n_inferred=sum(e.inferred for e in flow.edges), node_w=NODE_W, node_h=NODE_H,
        generated_at=datetime.now(timezone.utc), status_classes=NODE_STATUS_CLASS,
    )
