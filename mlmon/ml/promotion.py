"""A fair champion/challenger comparison: both versions scored on labelled rows neither learnt from.

Rows a version was fitted on say nothing about it: a tree ensemble scores its own training rows
almost perfectly, and consecutive retrain windows overlap. So the comparison rows are the
labelled rows of the newest evaluations of the stores that watch the model (the period the
checks just judged) plus the challenger's held-out rows, less every row whose fingerprint is in
either version's training set. Fewer than `min_rows` such rows decide nothing: the caller falls
back to its configured behaviour and says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import pandas as pd

from mlmon.evaluation.reference import rows_table
from mlmon.metrics.performance import classification_metrics, regression_metrics
from mlmon.ml.fingerprints import fingerprint_columns, row_fingerprints
from mlmon.ml.scoring import PREDICTION_COLUMN, predict_frame
from mlmon.warehouse import sql
from mlmon.warehouse.tables import SYSTEM_SCHEMA

if TYPE_CHECKING:
    from mlmon.ml.registry import ModelRegistry, ModelVersion
    from mlmon.ml.training import TrainedModel
    from mlmon.warehouse.duckdb import Warehouse

__all__ = ["MIN_UNSEEN_ROWS", "LOWER_IS_BETTER", "Comparison", "newest_labelled_rows", "compare_versions",
           "score_version", "better"]

MIN_UNSEEN_ROWS = 200
LOWER_IS_BETTER = frozenset({"log_loss", "brier_score", "mae", "mse", "rmse", "mape"})
_SOURCE = "__mlmon_source"


@dataclass
class Comparison:
    """Both versions' `metric` on the rows neither trained on, and where those rows came from."""

    metric: str
    challenger_version: int
    champion_version: int
    challenger_score: float | None = None
    champion_score: float | None = None
    rows: int = 0
    rows_newest: int = 0  # of `rows`: from the stores' newest evaluations
    rows_held_out: int = 0  # of `rows`: the challenger's held-out rows
    rows_left_out: int = 0  # candidate rows dropped because a version was trained on them
    evaluations: list[str] = field(default_factory=list)  # evaluation_ids whose kept rows were candidates
    notes: list[str] = field(default_factory=list)

    def scores_text(self) -> str:
        return (f"{self.metric} v{self.challenger_version} {_show(self.challenger_score)} vs "
                f"v{self.champion_version} {_show(self.champion_score)} on {self.rows:,} unseen rows")

    def rows_text(self) -> str:
        parts = []
        if self.rows_newest:
            parts.append(f"{self.rows_newest:,} of the newest evaluated period")
        if self.rows_held_out:
            parts.append(f"{self.rows_held_out:,} of v{self.challenger_version}'s held-out rows")
        where = f" ({', '.join(parts)})" if parts else ""
        return (f"{self.rows:,} rows neither v{self.challenger_version} nor v{self.champion_version} trained on"
                f"{where}; {self.rows_left_out:,} candidate rows left out as training rows")

    def as_record(self) -> dict[str, Any]:
        return {
            "metric": self.metric, "challenger_version": self.challenger_version,
            "champion_version": self.champion_version, "challenger_score": self.challenger_score,
            "champion_score": self.champion_score, "rows": self.rows, "rows_newest": self.rows_newest,
            "rows_held_out": self.rows_held_out, "rows_left_out": self.rows_left_out,
            "evaluations": self.evaluations,
        }


def _show(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def better(candidate: float | None, incumbent: float | None, metric: str) -> bool:
    """Strictly better; a score that cannot be computed never wins, and never blocks one that can."""
    if candidate is None:
        return False
    if incumbent is None:
        return True
    return candidate < incumbent if metric in LOWER_IS_BETTER else candidate > incumbent


def score_version(models: "ModelRegistry", version: "ModelVersion", frame: pd.DataFrame, metric: str) -> float | None:
    """`metric` of a registered version on `frame` (which holds its features and target)."""
    if frame.empty:
        return None
    pipeline = models.load(version)
    threshold = version.threshold if version.threshold is not None else 0.5
    scored = predict_frame(pipeline, frame.reset_index(drop=True), version.features, version.classes, version.task,
                           threshold, version.positive_class)
    truth = frame[version.target].to_numpy()
    if version.is_classifier:
        proba = scored[[c for c in scored.columns if c != PREDICTION_COLUMN]].to_numpy()
        values = classification_metrics(truth, proba, version.classes or [], threshold, version.positive_class)
    else:
        values = regression_metrics(truth, scored[PREDICTION_COLUMN].to_numpy())
    return _finite(next((m.value for m in values if m.metric == metric), None))


def newest_labelled_rows(warehouse: "Warehouse", stores: Sequence[str], target: str) -> tuple[pd.DataFrame, list[str]]:
    """The kept rows with a target of each store's newest evaluations (those its newest build
    appended: one per period), and their evaluation_ids."""
    frames: list[pd.DataFrame] = []
    used: list[str] = []
    con = warehouse.con
    for store in stores:
        if not warehouse.exists(rows_table(store), SYSTEM_SCHEMA):
            continue
        ids = [r[0] for r in con.execute(
            f"SELECT evaluation_id FROM {SYSTEM_SCHEMA}.evaluations WHERE store = ? AND invocation_id = "
            f"(SELECT invocation_id FROM {SYSTEM_SCHEMA}.evaluations WHERE store = ? ORDER BY created_at DESC LIMIT 1)",
            [store, store]).fetchall()]
        table = sql.table(rows_table(store), SYSTEM_SCHEMA).sql("duckdb")
        columns = {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}
        if not ids or target not in columns:
            continue
        marks = ", ".join("?" for _ in ids)
        labelled = f"{sql.ident(target).sql('duckdb')} IS NOT NULL"
        frame = con.execute(f"SELECT * FROM {table} WHERE evaluation_id IN ({marks}) AND {labelled}", ids).df()
        if len(frame):
            frames.append(frame.drop(columns=["evaluation_id"]))
            used.extend(ids)
    return (pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()), used


def _member(frame: pd.DataFrame, version: "ModelVersion | TrainedModel", trained_on: np.ndarray) -> np.ndarray:
    columns = fingerprint_columns(version.features, version.target)
    return np.isin(row_fingerprints(frame, columns, version.target), trained_on)


def compare_versions(models: "ModelRegistry", challenger: "ModelVersion", trained: "TrainedModel",
                     champion: "ModelVersion", metric: str, newest: pd.DataFrame,
                     evaluations: Sequence[str]) -> Comparison:
    """Score `challenger` (just trained, `trained` in memory) and `champion` on the rows neither
    was fitted on: `newest` (a store's newest labelled rows) and the challenger's held-out rows."""
    result = Comparison(metric, challenger.version, champion.version, evaluations=list(evaluations))
    needed = sorted({*challenger.features, *champion.features, challenger.target})
    candidates = [trained.test_frame.assign(**{_SOURCE: "held_out"})]
    if len(newest):
        missing = [c for c in needed if c not in newest.columns]
        if missing:
            result.notes.append(f"the newest evaluated rows lack {', '.join(missing)}: only held-out rows are compared")
        else:
            candidates.insert(0, newest.assign(**{_SOURCE: "newest"}))
    frame = pd.concat([c[[*needed, _SOURCE]] for c in candidates], ignore_index=True)
    # The same row read twice (two stores, or a period that is also held out) counts once.
    own_columns = fingerprint_columns(challenger.features, challenger.target)
    frame = frame[~pd.Series(row_fingerprints(frame, own_columns, challenger.target)).duplicated().to_numpy()]
    frame = frame.reset_index(drop=True)
    seen = _member(frame, trained, trained.train_fingerprints)
    champion_rows = models.training_fingerprints(champion)
    if champion_rows is None:
        result.notes.append(f"v{champion.version}'s training rows are not recorded: rows it may have been "
                            "trained on cannot be left out")
    else:
        seen |= _member(frame, champion, champion_rows)
    unseen = frame[~seen].reset_index(drop=True)
    result.rows_left_out = int(seen.sum())
    result.rows = len(unseen)
    result.rows_newest = int((unseen[_SOURCE] == "newest").sum())
    result.rows_held_out = int((unseen[_SOURCE] == "held_out").sum())
    if result.rows:
        result.challenger_score = score_version(models, challenger, unseen, metric)
        result.champion_score = score_version(models, champion, unseen, metric)
    return result
