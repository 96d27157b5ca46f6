"""Targets: where a project's tables live and which engine computes them, as dbt profiles.

```yaml
target: local                      # optional: the default target
targets:
  local: {type: duckdb, path: target/warehouse.duckdb}
  lake:  {type: spark, master: "local[2]"}
  prod:  {type: spark, master: "sc://spark-connect.internal:15002", schema: monitoring}
```

Without `target:` the default is the first DuckDB target, or, with no targets at all, the
DuckDB file named by `warehouse:`; so a project never needs Spark unless it asks for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from mlmon.config import PROJECT_FILE, ProjectSettings
from mlmon.errors import ConfigError, Location, UsageError, did_you_mean

__all__ = ["Target", "resolve_target", "DEFAULT_TARGET"]

DEFAULT_TARGET = "duckdb"
_KEYS = {
    "duckdb": {"type", "path"},
    "spark": {"type", "master", "schema", "warehouse_dir", "conf"},
}


@dataclass(frozen=True)
class Target:
    name: str
    type: str  # duckdb | spark
    path: Path | None = None  # duckdb: the database file
    master: str | None = None  # spark: local[N], spark://..., yarn, or sc://host:port (Spark Connect)
    schema: str = "main"  # spark: the database holding user tables (system tables stay in `mlmon`)
    warehouse_dir: Path | None = None  # spark local: where managed tables and the metastore live
    conf: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def is_connect(self) -> bool:
        return bool(self.master and self.master.startswith("sc://"))


def _error(message: str, hint: str | None = None) -> ConfigError:
    return ConfigError(message, location=Location(PROJECT_FILE, None), hint=hint)


def resolve_target(settings: ProjectSettings, name: str | None) -> Target:
    """The target `name` (or the default one) with paths made absolute."""
    targets = settings.targets
    name = name or settings.default_target
    if name is None:
        name = next((n for n, t in targets.items() if isinstance(t, Mapping) and t.get("type") == "duckdb"), None)
    if name is None:
        return Target(DEFAULT_TARGET, "duckdb", path=settings.warehouse)
    if name == DEFAULT_TARGET and name not in targets:
        return Target(DEFAULT_TARGET, "duckdb", path=settings.warehouse)
    if name not in targets:
        known = ", ".join(targets) or "none"
        raise UsageError(f"no target named '{name}' in {PROJECT_FILE} (targets: {known})",
                         hint=did_you_mean(name, targets) or "add it under `targets:`")
    spec = targets[name]
    if not isinstance(spec, Mapping) or spec.get("type") not in _KEYS:
        raise _error(f"target '{name}' needs `type: duckdb` or `type: spark`")
    unknown = set(spec) - _KEYS[spec["type"]]
    if unknown:
        key = sorted(unknown)[0]
        raise _error(f"target '{name}': unknown key `{key}`",
                     hint=did_you_mean(key, _KEYS[spec["type"]]) or f"allowed: {', '.join(sorted(_KEYS[spec['type']]))}")
    if spec["type"] == "duckdb":
        return Target(name, "duckdb", path=_absolute(settings.root, spec.get("path") or settings.warehouse))
    conf = spec.get("conf") or {}
    if not isinstance(conf, Mapping):
        raise _error(f"target '{name}': `conf` must be a mapping of Spark settings")
    return Target(
        name, "spark", master=str(spec.get("master") or "local[*]"), schema=str(spec.get("schema") or "main"),
        warehouse_dir=_absolute(settings.root, spec.get("warehouse_dir") or "target/spark"),
        conf=MappingProxyType({str(k): str(v) for k, v in conf.items()}),
    )


def _absolute(root: Path, path: Any) -> Path:
    path = Path(str(path))
    return path if path.is_absolute() else root / path
