"""Opening a target's warehouse. Apart from mlmon.warehouse.targets, which only describes
targets: the Spark warehouse needs the Target description, and the description must not need
the Spark warehouse back."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mlmon.warehouse.targets import Target

if TYPE_CHECKING:
    from mlmon.warehouse.duckdb import Warehouse
    from mlmon.warehouse.publish import PublishPlan

__all__ = ["open_warehouse"]


def open_warehouse(target: Target, root: Path, read_only: bool = False,
                   publish: "PublishPlan | None" = None) -> "Warehouse":
    """The warehouse of `target`: a DuckDB file, or a Spark session's catalog. A DuckDB
    warehouse given a `publish` plan writes its published copy after a command changed it."""
    if target.type == "spark":
        from mlmon.warehouse.spark import SparkWarehouse  # pyspark loads only for a Spark target

        return SparkWarehouse(target, root, read_only=read_only)
    from mlmon.warehouse.duckdb import Warehouse  # duckdb loads when a command needs the warehouse

    warehouse = Warehouse(target.path, read_only=read_only, search_path=root, storage_version=target.storage_version,
                          publish=publish)
    warehouse.target_name = target.name
    return warehouse
