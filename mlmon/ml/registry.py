"""The model registry: versions in mlmon.model_versions, artifacts on disk, references in tables.

Each training becomes version N+1 with its skops artifact (verified by sha256 on every load),
its held-out test rows and predictions in `mlmon.ref_<model>_v<N>` (its drift reference), and
its test metrics. Exactly one version of a model is active.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sqlglot import exp

from mlmon.chaos import pause_point
from mlmon.errors import MlmonError, UsageError
from mlmon.jsontext import dumps
from mlmon.ml.artifacts import load_model, save_model
from mlmon.run.results import utcnow
from mlmon.warehouse import sql
from mlmon.warehouse.duckdb import Warehouse
from mlmon.warehouse.tables import SYSTEM_SCHEMA, SYSTEM_TABLES

if TYPE_CHECKING:  # training needs most of scikit-learn; reading the registry needs none of it
    from mlmon.ml.training import TrainedModel

__all__ = ["ModelVersion", "ModelRegistry", "reference_table", "require_active"]

_JSON_COLUMNS = ("metrics", "features", "classes", "params", "numeric", "categorical", "positive_class",
                 "training_files", "training_vars", "promotion")


def reference_table(model: str, version: int) -> str:
    return f"ref_{model}_v{version}"


@dataclass(frozen=True)
class ModelVersion:
    model: str
    version: int
    trained_at: datetime
    training_dataset: str
    n_train: int
    n_test: int
    active: bool
    artifact_path: str
    sha256: str
    metrics: dict[str, Any]
    task: str
    target: str
    features: list[str]
    classes: list[Any] | None
    estimator: str
    params: dict[str, Any]
    numeric: list[str]
    categorical: list[str]
    positive_class: Any
    threshold: float | None
    training_files: list[dict[str, Any]] | None = None  # path, bytes, modified of each file read
    training_vars: dict[str, Any] | None = None  # the vars its training data was built with
    data_fingerprint: str | None = None  # digest of the labelled rows it was given
    promotion: dict[str, Any] | None = None  # a retrain's champion/challenger decision

    @property
    def reference_table(self) -> str:
        return reference_table(self.model, self.version)

    @property
    def reference_sql(self) -> str:
        return sql.table(self.reference_table, SYSTEM_SCHEMA).sql("duckdb")

    @property
    def is_classifier(self) -> bool:
        return self.task != "regression"


class ModelRegistry:
    def __init__(self, warehouse: Warehouse, root: Path, fitted: dict[str, Any] | None = None,
                 known: dict[str, list[ModelVersion]] | None = None):
        self.warehouse = warehouse
        self.root = root
        self.fitted = {} if fitted is None else fitted  # pipelines by sha256, see load_model
        # Versions read, by model, until a registry sharing this dict writes that model's rows:
        # the nodes of one build that score or evaluate with a model read its row once.
        self.known: dict[str, list[ModelVersion]] = {} if known is None else known

    def versions(self, model: str) -> list[ModelVersion]:
        if model not in self.known:
            columns = SYSTEM_TABLES["model_versions"].column_names
            rows = self.warehouse.con.execute(
                f"SELECT {', '.join(sql.ident(c).sql('duckdb') for c in columns)} FROM mlmon.model_versions "
                "WHERE model = ? ORDER BY version", [model]).fetchall()
            self.known[model] = [self._version(dict(zip(columns, row))) for row in rows]
        return list(self.known[model])

    @contextmanager
    def _writing(self, model: str) -> Iterator[None]:
        """Forget the model's versions around a write, whether it commits or not."""
        self.known.pop(model, None)
        try:
            yield
        finally:
            self.known.pop(model, None)

    @staticmethod
    def _version(row: dict[str, Any]) -> ModelVersion:
        for key in _JSON_COLUMNS:
            row[key] = json.loads(row[key]) if row[key] is not None else None
        row.pop("invocation_id", None)
        return ModelVersion(**row)

    def active(self, model: str) -> ModelVersion | None:
        return next((v for v in self.versions(model) if v.active), None)

    def get(self, model: str, version: int) -> ModelVersion:
        for candidate in self.versions(model):
            if candidate.version == version:
                return candidate
        raise UsageError(f"model '{model}' has no version {version}")

    def load(self, version: ModelVersion) -> Any:
        """The fitted pipeline, refused if the artifact's sha256 differs from the registry's."""
        return load_model(self.root / version.artifact_path, version.sha256, self.fitted)

    def verify(self, version: ModelVersion) -> None:
        self.load(version)

    def register(self, model: str, trained: TrainedModel, training_dataset: str, estimator: str,
                 params: dict[str, Any], invocation_id: str, activate: bool = True,
                 training_files: Sequence[Mapping[str, Any]] = (),
                 training_vars: Mapping[str, Any] | None = None) -> ModelVersion:
        existing = self.versions(model)
        number = max((v.version for v in existing), default=0) + 1
        first_active = not any(v.active for v in existing)
        path = self.warehouse.artifact_dir / model / f"v{number}.skops"
        digest = save_model(trained, path)
        self.fitted[digest] = trained.pipeline  # what loading these bytes would rebuild
        pause_point("artifact_written")
        artifact = path.relative_to(self.root) if path.is_relative_to(self.root) else path
        row = {
            "model": model, "version": number, "trained_at": utcnow(), "training_dataset": training_dataset,
            # With no version active, the new one is inserted active: the UPDATE that would
            # deactivate the others has nothing to do (and on Spark rewrites the whole table).
            "n_train": trained.n_train, "n_test": trained.n_test, "active": activate and first_active,
            "artifact_path": artifact.as_posix(), "sha256": digest,
            "metrics": dumps(trained.metrics, indent=None), "task": trained.task, "target": trained.target,
            "features": json.dumps(trained.features), "classes": json.dumps(trained.classes),
            "estimator": estimator, "params": json.dumps(params, default=str),
            "numeric": json.dumps(trained.numeric), "categorical": json.dumps(trained.categorical),
            "positive_class": json.dumps(trained.positive_class), "threshold": trained.threshold,
            "invocation_id": invocation_id,
            "training_files": json.dumps(list(training_files)),
            "training_vars": json.dumps(dict(training_vars or {}), default=str),
            "data_fingerprint": trained.data_fingerprint,
        }
        name = reference_table(model, number)
        with self._writing(model), self.warehouse.transaction() as con:
            con.register("__mlmon_reference", trained.test_frame)
            try:
                con.execute(sql.create_table_as(name, "SELECT * FROM __mlmon_reference", SYSTEM_SCHEMA).sql("duckdb"))
            finally:
                con.unregister("__mlmon_reference")
            self.warehouse.insert_rows("model_versions", [row])
            self._insert_training_rows(con, model, number, trained.train_fingerprints)
            pause_point("registry_row_written")
            if activate and not first_active:
                self._set_active(model, number)
        return self.get(model, number)

    def _insert_training_rows(self, con: Any, model: str, version: int, fingerprints: np.ndarray) -> None:
        if len(fingerprints) == 0:
            return
        frame = pd.DataFrame({"model": model, "version": version, "fingerprint": np.unique(fingerprints)})
        con.register("__mlmon_training_rows", frame)
        try:
            con.execute(sql.insert_by_name("training_rows", exp.select("*").from_("__mlmon_training_rows"),
                                           SYSTEM_SCHEMA).sql("duckdb"))
        finally:
            con.unregister("__mlmon_training_rows")

    def training_fingerprints(self, version: ModelVersion) -> np.ndarray | None:
        """Fingerprints of the rows `version` was fitted on (None: not recorded, an older version)."""
        rows = self.warehouse.con.execute(
            f"SELECT fingerprint FROM {SYSTEM_SCHEMA}.training_rows WHERE model = ? AND version = ?",
            [version.model, version.version]).fetchall()
        if not rows:
            return None
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def record_promotion(self, version: ModelVersion, promotion: Mapping[str, Any], metrics: Mapping[str, Any]) -> None:
        with self._writing(version.model):
            self.warehouse.con.execute(
                f"UPDATE {SYSTEM_SCHEMA}.model_versions SET promotion = ?, metrics = ? WHERE model = ? AND version = ?",
                [dumps(dict(promotion), indent=None), dumps(dict(metrics), indent=None),
                 version.model, version.version])

    def activate(self, model: str, version: int) -> ModelVersion:
        chosen = self.get(model, version)
        self.verify(chosen)
        with self._writing(model), self.warehouse.transaction():
            self._set_active(model, version)
        return self.get(model, version)

    def _set_active(self, model: str, version: int) -> None:
        self.warehouse.con.execute(
            "UPDATE mlmon.model_versions SET active = (version = ?) WHERE model = ?", [version, model])


def require_active(registry: ModelRegistry, model: str, needed_by: str) -> ModelVersion:
    version = registry.active(model)
    if version is None:
        raise MlmonError(f"model '{model}' has no trained version",
                         hint=f"build it first: mlmon build -s +{needed_by}")
    return version
