"""Targets: where a project's tables live and which engine computes them, as dbt profiles.

```yaml
target: local                      # optional: the default target
targets:
  local: {type: duckdb, path: target/warehouse.duckdb, storage_version: v1.4.0}
  lake:  {type: spark, master: "local[2]"}
  prod:  {type: spark, master: "sc://spark-connect.internal:15002", schema: monitoring}
  yarn:  {type: spark, master: yarn, python: /opt/venvs/mlmon/bin/python}   # the workers' Python
```

Without `target:` the default is the first DuckDB target, or, with no targets at all, the
DuckDB file named by `warehouse:`; so a project never needs Spark unless it asks for it.

DuckDB names a database after its file's stem, so a file called `mlmon.duckdb` (or `main`,
`system`, `temp`, `memory`) would make `mlmon.metrics` ambiguous in every client that opens it
directly: such a name is refused. New files are written in the storage format of DuckDB 1.4
(`storage_version`) so that every current BI tool's DuckDB can read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Mapping

from mlmon.config import PROJECT_FILE, ProjectSettings
from mlmon.errors import ConfigError, Location, UsageError, did_you_mean

if TYPE_CHECKING:
    from mlmon.warehouse.duckdb import Warehouse
    from mlmon.warehouse.publish import PublishPlan

__all__ = ["Target", "resolve_target", "open_warehouse", "DEFAULT_TARGET", "DEFAULT_STORAGE_VERSION",
           "RESERVED_STEMS", "TARGET_KEYS"]

DEFAULT_TARGET = "duckdb"
DEFAULT_STORAGE_VERSION = "v1.4.0"
RESERVED_STEMS = ("mlmon", "main", "system", "temp", "memory")  # schemas mlmon uses, catalogs DuckDB reserves
TARGET_KEYS: dict[str, dict[str, str]] = {  # per target type: key -> meaning (docs/reference.md)
    "duckdb": {
        "type": "duckdb",
        "path": "the database file (default: `warehouse:`); its stem must not be mlmon, main, system, temp or memory",
        "storage_version": f"the oldest DuckDB release that can read a new file and the published copy (default {DEFAULT_STORAGE_VERSION})",
    },
    "spark": {
        "type": "spark",
        "master": "local[N], spark://..., yarn, or sc://host:port (Spark Connect); default local[*]",
        "schema": "the database holding user tables (default main; system tables stay in mlmon)",
        "warehouse_dir": "Spark local mode: where managed tables and the metastore live (default target/spark)",
        "conf": "a mapping of Spark settings",
        "python": "the Python the Spark workers run (default for local masters: mlmon's own interpreter)",
    },
}
_KEYS = {kind: set(keys) for kind, keys in TARGET_KEYS.items()}


@dataclass(frozen=True)
class Target:
    name: str
    type: str  # duckdb | spark
    path: Path | None = None  # duckdb: the database file
    storage_version: str = DEFAULT_STORAGE_VERSION  # duckdb: the oldest DuckDB release that can read a new file
    master: str | None = None  # spark: local[N], spark://..., yarn, or sc://host:port (Spark Connect)
    schema: str = "main"  # spark: the database holding user tables (system tables stay in `mlmon`)
    warehouse_dir: Path | None = None  # spark local: where managed tables and the metastore live
    conf: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    python: str | None = None  # spark: the workers' Python (default on local masters: mlmon's own)

    @property
    def is_connect(self) -> bool:
        return bool(self.master and self.master.startswith("sc://"))


def _error(message: str, hint: str | None = None, line: int | None = None) -> ConfigError:
    return ConfigError(message, location=Location(PROJECT_FILE, line), hint=hint)


def _duckdb_target(name: str, path: Path, storage_version: Any, line: int | None) -> Target:
    """A DuckDB target after checking that direct readers can name its tables."""
    stem = path.name.split(".", 1)[0]  # DuckDB names the database after the text before the first dot
    if stem.lower() in RESERVED_STEMS:
        suggestion = path.with_name("warehouse" + "".join(path.suffixes))
        raise _error(
            f"the warehouse file '{path.name}' would open as a database named '{stem}', which clashes with "
            f"the {'schema' if stem.lower() in ('mlmon', 'main') else 'catalog'} '{stem.lower()}' in DuckDB clients",
            hint=f"name the file differently, e.g. {suggestion.name}", line=line,
        )
    return Target(name, "duckdb", path=path, storage_version=str(storage_version or DEFAULT_STORAGE_VERSION))


def resolve_target(settings: ProjectSettings, name: str | None) -> Target:
    """The target `name` (or the default one) with paths made absolute."""
    targets = settings.targets
    name = name or settings.default_target
    if name is None:
        name = next((n for n, t in targets.items() if isinstance(t, Mapping) and t.get("type") == "duckdb"), None)
    default_line = settings.key_lines.get("warehouse")
    if name is None or (name == DEFAULT_TARGET and name not in targets):
        return _duckdb_target(DEFAULT_TARGET, settings.warehouse, None, default_line)
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
        lines = getattr(spec, "key_lines", {})
        line = lines.get("path") or (getattr(spec, "line", None) if "path" in spec else default_line)
        return _duckdb_target(name, _absolute(settings.root, spec.get("path") or settings.warehouse),
                              spec.get("storage_version"), line)
    conf = spec.get("conf") or {}
    if not isinstance(conf, Mapping):
        raise _error(f"target '{name}': `conf` must be a mapping of Spark settings")
    return Target(
        name, "spark", master=str(spec.get("master") or "local[*]"), schema=str(spec.get("schema") or "main"),
        warehouse_dir=_absolute(settings.root, spec.get("warehouse_dir") or "target/spark"),
        conf=MappingProxyType({str(k): str(v) for k, v in conf.items()}),
        python=str(spec["python"]) if spec.get("python") else None,
    )


def _absolute(root: Path, path: Any) -> Path:
    path = Path(str(path))
    return path if path.is_absolute() else root / path


def open_warehouse(target: Target, root: Path, read_only: bool = False,
                   publish: "PublishPlan | None" = None) -> "Warehouse":
    """The warehouse of `target`: a DuckDB file, or a Spark session's catalog. A DuckDB
    warehouse given a `publish` plan writes its published copy after a command changed it."""
    if target.type == "spark":
        from mlmon.warehouse.spark import SparkWarehouse

        return SparkWarehouse(target, root, read_only=read_only)
    from mlmon.warehouse.duckdb import Warehouse

    warehouse = Warehouse(target.path, read_only=read_only, search_path=root, storage_version=target.storage_version,
                          publish=publish)
    warehouse.target_name = target.name
    return warehouse
