"""The dashboard's tile types: each `type:` a `dashboards:` node may name, and its builder.

A builder turns one tile's YAML into a plain dict (the view) that a macro of
templates/dashboard.html.j2 draws; `base` holds what they share.
"""

from __future__ import annotations

from typing import Callable

from mlmon.reports.tiles.base import Tile, TilePage, View
from mlmon.reports.tiles.drift import data_quality_tile, feature_drift_tile, prediction_drift_tile
from mlmon.reports.tiles.metric import metric_history_tile, metric_tile
from mlmon.reports.tiles.performance import performance_tile
from mlmon.reports.tiles.runs import model_versions_tile, scenario_runs_tile

__all__ = ["TILE_TYPES", "DEFAULT_TITLES", "Tile", "TilePage", "View"]

TILE_TYPES: dict[str, Callable[[TilePage, Tile], View]] = {
    "metric": metric_tile,
    "metric_history": metric_history_tile,
    "scenario_runs": scenario_runs_tile,
    "feature_drift": feature_drift_tile,
    "data_quality": data_quality_tile,
    "prediction_drift": prediction_drift_tile,
    "performance": performance_tile,
    "model_versions": model_versions_tile,
}
# A tile without `title:` (the metric tile's is its metric and feature).
DEFAULT_TITLES = {
    "metric_history": "{metric} over time", "scenario_runs": "Scenario runs", "feature_drift": "Feature drift",
    "prediction_drift": "Prediction drift", "performance": "Performance", "model_versions": "Model versions",
    "data_quality": "Data quality",
}
