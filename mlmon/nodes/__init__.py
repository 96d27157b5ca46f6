"""Node kinds. Each module defines one kind; registering it here is all the engine needs."""

from __future__ import annotations

from mlmon.nodes import checks, dashboards, datasets, evaluations, models, retrains, scenarios, scores
from mlmon.nodes.base import NodeKind

__all__ = ["KINDS"]

KINDS: dict[str, NodeKind] = {
    kind.type: kind
    for kind in (
        datasets.KIND, models.KIND, scores.KIND, evaluations.KIND,
        checks.KIND, retrains.KIND, scenarios.KIND, dashboards.KIND,
    )
}
