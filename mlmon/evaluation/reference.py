"""What an evaluation compares against, and the statistics of it worth keeping.

`training` is the model version's held-out rows (`mlmon.ref_<model>_v<N>`). `first` (the
store's oldest evaluation) and `previous` (its newest one so far) are the rows of an earlier
evaluation of the same store, whatever model version made it, which every evaluation keeps in
`mlmon.rows_<store>` (see store.py); with no earlier evaluation the training rows are used and a
warning says so. CBPE always calibrates on the version's held-out rows: it needs their labels.

A reference never changes once written (a version's held-out rows, an evaluation's kept rows),
so its univariate profile (quantile edges, bin and category counts) and the model's permutation
importance on it are computed once and kept in `mlmon.reference_profiles`. New cache rows are
handed to the store and written in the evaluation's own transaction, so a failed evaluation
leaves no trace, not even a cache entry.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable, Sequence

import duckdb
import numpy as np
from sqlglot import exp

from mlmon.evaluation.sampling import Scratch, create_table, draw_sample, table_columns
from mlmon.metrics.domain import model_importance
from mlmon.metrics.univariate import ReferenceProfile, profile_reference
from mlmon.ml.registry import ModelVersion
from mlmon.ml.scoring import model_input
from mlmon.ml.threads import native_threads
from mlmon.run.results import utcnow
from mlmon.warehouse import sql
from mlmon.warehouse.tables import SYSTEM_SCHEMA

__all__ = [
    "TRAINING",
    "Reference",
    "ReferenceCache",
    "rows_table",
    "resolve_reference",
    "kept_reference",
    "features_key",
    "once",
    "IMPORTANCE_ROWS",
    "LABELLED",
]

TRAINING = "training"
PROFILE = "univariate_profile"
IMPORTANCE = "model_importance"
# Permutation importance shuffles at most 2,000 rows (metrics.domain); drawing a few more in SQL
# leaves it room to drop rows without a target and never pulls a whole reference into pandas.
IMPORTANCE_ROWS = 4_000
# A reference memo's key (with the target) for its labelled_sql's rows holding a target value.
LABELLED = "labelled"


def rows_table(store: str) -> str:
    """`rows_<store>`: the evaluated rows each evaluation of a store keeps (schema mlmon)."""
    return f"rows_{store}"


@dataclass
class Reference:
    """The reference of one evaluation."""

    kind: str  # the reference actually used: training | first | previous
    sql: str  # its rows: features, target if any, proba_*, prediction
    source: str  # 'training' or the evaluation_id whose kept rows these are (the cache key)
    labelled_sql: str  # the version's held-out rows: CBPE calibration and model importance
    performance: dict[str, float | None]  # the reference's performance metrics, for <metric>_drift
    evaluation_id: str | None = None
    warnings: list[str] = field(default_factory=list)
    # What is read of these rows once per build whatever the number of periods compared with
    # them (CBPE's calibration rows, quality counts, predicted classes...), by what was read; a
    # model version's held-out rows share one memo across the stores of a build.
    memo: dict[tuple[str, ...], Any] = field(default_factory=dict, compare=False, repr=False)


def once(memo: dict[Any, Any], key: Any, compute: Callable[[], Any]) -> Any:
    """`compute()` the first time `key` is asked of `memo` (a reference's `memo`: once per
    reference and build, whatever the number of periods or stores compared with it), its answer after."""
    if key not in memo:
        memo[key] = compute()
    return memo[key]


def features_key(numeric: Sequence[str], categorical: Sequence[str]) -> str:
    text = json.dumps({"numeric": list(numeric), "categorical": list(categorical)})
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class ReferenceCache:
    """Cached per-reference statistics of one model version, and the rows still to be written.

    `build`, if given, is the build's memo (`RunContext.evaluation_memo`): the cache rows read,
    or written by an evaluation whose transaction committed, are kept there by their key, so the
    next store of the build comparing with the same reference does not look them up again."""

    def __init__(self, con: duckdb.DuckDBPyConnection, version: ModelVersion, build: dict[Any, Any] | None = None):
        self.con = con
        self.version = version
        self.pending: list[dict[str, Any]] = []
        self.build: dict[Any, Any] = {} if build is None else build

    def _key(self, source: str, kind: str, key: str) -> tuple[str, ...]:
        return ("reference_profiles", self.version.model, str(self.version.version), source, kind, key)

    def _get(self, source: str, kind: str, key: str) -> Any:
        def lookup() -> str | None:
            row = self.con.execute(
                "SELECT payload FROM mlmon.reference_profiles WHERE model = ? AND model_version = ? "
                "AND reference = ? AND kind = ? AND features_key = ? ORDER BY created_at DESC LIMIT 1",
                [self.version.model, self.version.version, source, kind, key],
            ).fetchone()
            return row[0] if row else None

        # Kept as text, parsed on every use: no caller shares (or changes) another's payload.
        cached = self._key(source, kind, key)
        text = self.build.get(cached) or lookup()
        if text is not None:
            self.build[cached] = text
        return json.loads(text) if text is not None else None

    def written(self) -> None:
        """The pending rows are in the warehouse (the evaluation's transaction committed): the
        build's later evaluations find them in its memo."""
        for row in self.pending:
            self.build[self._key(row["reference"], row["kind"], row["features_key"])] = row["payload"]

    def _put(self, source: str, kind: str, key: str, payload: Any) -> None:
        self.pending.append({
            "model": self.version.model, "model_version": self.version.version, "reference": source,
            "kind": kind, "features_key": key, "payload": json.dumps(payload), "created_at": utcnow(),
        })

    def profile(self, reference: Reference, numeric: Sequence[str], categorical: Sequence[str]) -> ReferenceProfile:
        """The univariate profile of the reference over exactly these features."""
        cached = self.cached_profile(reference, numeric, categorical)
        if cached is not None:
            return cached
        profile = profile_reference(self.con, reference.sql, numeric, categorical)
        self.keep_profile(reference, numeric, categorical, profile)
        return profile

    def cached_profile(self, reference: Reference, numeric: Sequence[str],
                       categorical: Sequence[str]) -> ReferenceProfile | None:
        """The kept profile of the reference over exactly these features, if any; without one
        the univariate drift finds it in its own scans (`keep_profile` it then)."""
        cached = self._get(reference.source, PROFILE, features_key(numeric, categorical))
        return None if cached is None else ReferenceProfile.from_dict(cached)

    def keep_profile(self, reference: Reference, numeric: Sequence[str], categorical: Sequence[str],
                     profile: ReferenceProfile) -> None:
        self._put(reference.source, PROFILE, features_key(numeric, categorical), profile.to_dict())

    def model_importance(self, reference: Reference, load_pipeline: Callable[[], Any] | None) -> dict[str, float] | None:
        """Permutation importance of every model feature on the version's held-out rows (None
        without a model to load); one computation per model version, whatever the store."""
        features = list(self.version.features)
        key = features_key(features, ())
        cached = self._get(TRAINING, IMPORTANCE, key)
        if cached is not None:
            return {str(k): float(v) for k, v in cached.items()}
        if load_pipeline is None:
            return None
        target = self.version.target
        available = {name for name, _ in table_columns(self.con, reference.labelled_sql)}
        if target not in available:
            return None
        present = [f for f in features if f in available]
        frame = draw_sample(self.con, reference.labelled_sql, [*present, target], IMPORTANCE_ROWS, seed=0)
        pipeline = load_pipeline()
        for missing in (f for f in features if f not in frame.columns):
            frame[missing] = np.nan
        X = model_input(pipeline, frame, features)
        with native_threads(len(X)):
            importances = model_importance(pipeline, X, frame[target].to_numpy(), present, seed=0)
        self._put(TRAINING, IMPORTANCE, key, importances)
        return importances


def _training(version: ModelVersion, kind: str = TRAINING, warnings: list[str] | None = None,
              build: dict[Any, Any] | None = None) -> Reference:
    # The version's held-out rows never change: what one store read of them, the next reads from
    # the build's memo.
    memo = {} if build is None else build.setdefault(("training", version.model, str(version.version)), {})
    return Reference(
        kind=kind, sql=version.reference_sql, source=TRAINING, labelled_sql=version.reference_sql,
        performance=dict(version.metrics or {}), warnings=list(warnings or []), memo=memo,
    )


def _earlier_evaluation(con: duckdb.DuckDBPyConnection, store: str, wanted: str) -> str | None:
    order = "ASC" if wanted == "first" else "DESC"
    row = con.execute(
        f"SELECT evaluation_id FROM mlmon.evaluations WHERE store = ? ORDER BY created_at {order} LIMIT 1",
        [store],
    ).fetchone()
    return row[0] if row else None


def _kept_rows(con: duckdb.DuckDBPyConnection, store: str, evaluation_id: str) -> exp.Select | None:
    table = rows_table(store)
    exists = con.execute(
        "SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = ?", [SYSTEM_SCHEMA, table]
    ).fetchone()
    if not exists:
        return None
    query = (exp.select(exp.Star(except_=[exp.column("evaluation_id", quoted=True)]))
             .from_(sql.table(table, SYSTEM_SCHEMA))
             .where(exp.column("evaluation_id", quoted=True).eq(exp.Literal.string(evaluation_id))))
    count = con.execute(exp.select(exp.Count(this=exp.Star())).from_(query.subquery("k")).sql("duckdb")).fetchone()[0]
    return query if count else None


def _performance_of(con: duckdb.DuckDBPyConnection, evaluation_id: str) -> dict[str, float | None]:
    rows = con.execute(
        "SELECT metric, value FROM mlmon.metrics WHERE evaluation_id = ? AND feature IS NULL AND segment IS NULL",
        [evaluation_id]
    ).fetchall()
    return {metric: value for metric, value in rows}


def kept_reference(con: duckdb.DuckDBPyConnection, store: str, wanted: str, scratch: Scratch,
                   before: date | None = None) -> tuple[str, str] | None:
    """(evaluation_id, scratch table of its kept rows) of the store's first or previous evaluation
    (with `before`, among those labelled with an earlier `period`), or None."""
    condition = "" if before is None else " AND TRY_CAST(json_extract_string(labels, '$.period') AS DATE) < ?"
    order = "ASC" if wanted == "first" else "DESC"
    period = "" if before is None else "TRY_CAST(json_extract_string(labels, '$.period') AS DATE) " + order + ", "
    row = con.execute(
        f"SELECT evaluation_id FROM mlmon.evaluations WHERE store = ?{condition} ORDER BY {period}created_at {order} LIMIT 1",
        [store, *([before] if before is not None else [])]).fetchone()
    kept = _kept_rows(con, store, row[0]) if row else None
    if kept is None:
        return None
    table = scratch.table(f"kept_{row[0][:8]}")
    create_table(con, table, kept)
    return row[0], table


def resolve_reference(con: duckdb.DuckDBPyConnection, store: str, wanted: str, version: ModelVersion,
                      scratch: Scratch, build: dict[Any, Any] | None = None) -> Reference:
    """The reference `wanted` ('training' | 'first' | 'previous') for a new evaluation of `store`;
    `build`: the build's memo, shared by the evaluations that compare with the training rows.

    An earlier evaluation's kept rows are copied into a scratch table: the drift statistics scan
    their reference several times, and a small table beats filtering the store's whole history.
    """
    if wanted == TRAINING:
        return _training(version, build=build)
    evaluation_id = _earlier_evaluation(con, store, wanted)
    if evaluation_id is None:
        return _training(version, build=build, warnings=[
            f"reference '{wanted}': store '{store}' has no earlier evaluation yet, so this one is compared "
            f"with the training reference (the held-out rows of {version.model} v{version.version})"])
    kept = _kept_rows(con, store, evaluation_id)
    if kept is None:
        return _training(version, build=build, warnings=[
            f"reference '{wanted}': the rows of evaluation {evaluation_id} are no longer kept, so this one is "
            f"compared with the training reference (the held-out rows of {version.model} v{version.version})"])
    table = scratch.table("reference")
    create_table(con, table, kept)
    return Reference(
        kind=wanted, sql=table, source=evaluation_id, labelled_sql=version.reference_sql,
        performance=_performance_of(con, evaluation_id), evaluation_id=evaluation_id,
    )
