"""What a node kind's `execute` may touch during a build."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlmon.config import RunConfig
from mlmon.project.project import Project
from mlmon.run.progress import Progress
from mlmon.run.results import NodeResult
from mlmon.warehouse.duckdb import Warehouse

__all__ = ["RunContext"]


@dataclass
class RunContext:
    config: RunConfig
    project: Project
    warehouse: Warehouse
    progress: Progress
    selected: frozenset[str]  # every node this invocation builds
    named: frozenset[str]  # nodes named on the command line without graph operators
    results: dict[str, NodeResult] = field(default_factory=dict)
    # Fitted pipelines by artifact sha256, trained or loaded during this command: an artifact's
    # bytes are still hashed on every use, but rebuilt from skops once.
    fitted_models: dict[str, Any] = field(default_factory=dict)
    # Model versions read from the registry, by model, until this command writes that model's
    # rows (mlmon.ml.registry.ModelRegistry.known).
    model_versions: dict[str, Any] = field(default_factory=dict)
    # What evaluations read of references that never change (a model version's held-out rows,
    # their cached profiles) during this command: two stores of one model read it once
    # (mlmon.evaluation.reference: `_training`, `ReferenceCache`).
    evaluation_memo: dict[Any, Any] = field(default_factory=dict)

    @property
    def invocation_id(self) -> str:
        return self.config.invocation_id

    def relation_sql(self, name: str) -> str:
        # DuckDB's dialect is mlmon's own; a Spark warehouse translates each statement it runs.
        return self.project.relation_sql(name)

    def setting(self, key: str, default: Any) -> Any:
        """A project-level tuning value from `settings:` in mlmon_project.yml."""
        return self.project.settings.settings.get(key, default)
