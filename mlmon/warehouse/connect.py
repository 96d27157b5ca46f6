"""Opening a target's warehouse. Apart from mlmon.warehouse.targets, which only describes
targets: the Spark warehouse needs the Target description, and the description must not need
the Spark warehouse back."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mlmon.warehouse.targets import Target

if TYPE_CHECKING:
    from mlmon.warehouse.duckdb import Warehouse

__all__ = ["open_warehouse"]


def open_warehouse(target: Target, root: Path, read_only: bool = False) -> "Warehouse":
    """The warehouse of `target`: a DuckDB file, or a Spark session's catalog."""
    if target.type == "spark":
        from mlmon.warehouse.spark import SparkWarehouse  # pyspark loads only for a Spark target

        return SparkWarehouse(target, root, read_only=read_only)
    from mlmon.warehouse.duckdb import Warehouse  # duckdb loads when a command needs the warehouse

    warehouse = Warehouse(target.path, read_only=read_only, search_path=root)
    warehouse.target_name = target.name
    return warehouse
