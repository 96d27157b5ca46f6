"""One build of an evaluation store, end to end: sample, score if needed, compare, append.

Everything before the append works on scratch tables and writes nothing a user can see; the
append is one transaction. So a failure anywhere leaves the store exactly as it was.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import duckdb

from mlmon.errors import Location, NodeError
from mlmon.evaluation.evaluate import (
    EvaluationPlan,
    EvaluationResult,
    KnownCounts,
    evaluate,
    labelled_rows,
    require_ground_truth,
    timed,
)
from mlmon.evaluation.reference import ReferenceCache, resolve_reference
from mlmon.evaluation.segments import evaluate_segments, require_segment_columns
from mlmon.evaluation.sampling import (
    Sampling,
    Scratch,
    drop_columns,
    sample_into,
    table_columns,
    with_missing_columns,
)
from mlmon.evaluation.store import KEEP_ROWS, EvaluationRecord, append_evaluation
from mlmon.evaluation.task import HEADLINE_METRICS
from mlmon.metrics.judgement import DriftSettings
from mlmon.metrics.univariate import classify_columns
from mlmon.ml.registry import ModelVersion
from mlmon.ml.scoring import score_relation
from mlmon.ml.threads import native_threads
from mlmon.run.results import utcnow
from mlmon.warehouse.duckdb import Warehouse

__all__ = ["EvaluationRequest", "StoredEvaluation", "memo", "plan_for", "run_evaluation", "score_into", "summary"]

SCORE_CHUNK_ROWS = 100_000


@dataclass(frozen=True)
class EvaluationRequest:
    """An evaluation node's configuration, resolved for one build."""

    store: str
    dataset: str
    source_sql: str
    invocation_id: str
    sampling: Sampling = Sampling()
    reference: str = "training"
    labels: Mapping[str, Any] = field(default_factory=dict)
    skip_performance: bool = False
    drift_sample: int = 10_000
    data_drift: bool = True
    threshold: float | None = None
    positive_class: Any = None
    features: tuple[str, ...] | None = None
    categorical: tuple[str, ...] = ()
    drift: DriftSettings = DriftSettings()
    segments: tuple[str, ...] = ()
    segments_location: Location | None = None  # where `segments:` is written, for errors
    sampling_location: Location | None = None  # where `sampling:` is written, for errors

    @classmethod
    def from_config(cls, store: str, config: Mapping[str, Any], source_sql: str, invocation_id: str,
                    segments_location: Location | None = None,
                    sampling_location: Location | None = None) -> "EvaluationRequest":
        features = config.get("features")
        return cls(
            store=store, dataset=config["data"], source_sql=source_sql, invocation_id=invocation_id,
            sampling=Sampling.from_config(config.get("sampling")), reference=config.get("reference") or "training",
            labels=dict(config.get("labels") or {}), skip_performance=bool(config.get("skip_performance")),
            drift_sample=int(config.get("drift_sample") or 10_000), data_drift=config.get("data_drift") is not False,
            threshold=config.get("threshold"),
            positive_class=config.get("positive_class"),
            features=tuple(features) if features else None, categorical=tuple(config.get("categorical") or ()),
            drift=DriftSettings.from_config(config.get("drift")), segments=tuple(config.get("segments") or ()),
            segments_location=segments_location, sampling_location=sampling_location,
        )


@dataclass
class StoredEvaluation:
    record: EvaluationRecord
    result: EvaluationResult
    scored: bool  # the model scored the rows during this evaluation
    task: str = "binary"


def plan_for(con: Any, request: EvaluationRequest, version: ModelVersion, current_sql: str) -> EvaluationPlan:
    """Features typed as the model typed them; `categorical:` forces categories; a feature the
    model does not know is typed by its column type in the data."""
    features = list(dict.fromkeys(request.features or version.features))
    forced = set(request.categorical)
    known_numeric, known_categorical = set(version.numeric or ()), set(version.categorical or ())
    present = {name for name, _ in table_columns(con, current_sql)}
    unknown = [f for f in features if f not in known_numeric | known_categorical]
    typed_numeric, _ = classify_columns(con, current_sql, [f for f in unknown if f in present], sorted(forced))
    numeric_set = (known_numeric | set(typed_numeric) | {f for f in unknown if f not in present}) - forced
    numeric = [f for f in features if f in numeric_set]
    categorical = [f for f in features if f not in numeric_set]
    threshold = request.threshold if request.threshold is not None else version.threshold
    return EvaluationPlan(
        store=request.store, task=version.task, target=version.target,
        classes=tuple(version.classes) if version.classes is not None else None,
        positive_class=request.positive_class if request.positive_class is not None else version.positive_class,
        threshold=0.5 if threshold is None else float(threshold),
        numeric=tuple(numeric), categorical=tuple(categorical),
        skip_performance=request.skip_performance, drift_sample=request.drift_sample, data_drift=request.data_drift,
        sample_key=request.sampling.key, drift=request.drift, segments=tuple(dict.fromkeys(request.segments)),
    )


def memo(load: Callable[[], Any] | None) -> Callable[[], Any] | None:
    if load is None:
        return None
    loaded: list[Any] = []

    def once() -> Any:
        if not loaded:
            loaded.append(load())
        return loaded[0]

    return once


def score_into(con: Any, pipeline: Any, sampled: str, output: str, scratch: Scratch, version: ModelVersion,
           plan: EvaluationPlan, n_rows: int, say: Callable[[str], None]) -> None:
    """Score the sampled rows into `output`. A feature absent from the data reaches the model as
    missing values (its imputer fills them) and is left out of the scored rows, so that its
    drift is reported as absent rather than as 100% missing."""
    present = {name for name, _ in table_columns(con, sampled)}
    categorical = set(version.categorical or ())
    absent = {f: ("VARCHAR" if f in categorical else "DOUBLE") for f in version.features if f not in present}
    source = sampled
    if absent:
        source = scratch.table("input")
        with_missing_columns(con, sampled, source, absent)
    with native_threads(min(SCORE_CHUNK_ROWS, n_rows)):
        score_relation(
            con, pipeline, source, output, features=version.features, classes=version.classes, task=version.task,
            threshold=plan.threshold, positive_class=plan.positive_class, chunk_rows=SCORE_CHUNK_ROWS,
            progress=lambda rows: say(f"scored {rows:,} of {n_rows:,} rows"),
        )
    drop_columns(con, output, list(absent))


def _try_score(con: Any, pipeline: Any, sampled: str, scratch: Scratch, version: ModelVersion,
               plan: EvaluationPlan, n_rows: int, say: Callable[[str], None]) -> str | None:
    """Score into the scratch table `scored`; when the model cannot score the data (a feature
    turned to text, say), the reason as a warning: the evaluation then records input drift only."""
    try:
        score_into(con, pipeline, sampled, scratch.table("scored"), scratch, version, plan, n_rows, say)
    except NodeError as exc:  # a column the model reads has a type it cannot take
        return _unscored(exc.message)
    except (ValueError, TypeError, duckdb.Error) as exc:
        return _unscored(f"{type(exc).__name__}: {exc}")
    return None


def _unscored(reason: str) -> str:
    reason = " ".join(reason.split())[:300]
    return (f"the model could not score the data ({reason}): prediction drift, performance and estimated "
            "performance are not computed")


def run_evaluation(
    warehouse: Warehouse,
    request: EvaluationRequest,
    version: ModelVersion,
    load_pipeline: Callable[[], Any] | None,
    progress: Callable[[str], None] | None = None,
    keep_rows: int = KEEP_ROWS,
    build: dict[Any, Any] | None = None,
) -> StoredEvaluation:
    """Evaluate `request.source_sql` with `version` and append the evaluation to its store.

    `load_pipeline` gives the fitted model; it is called only when the data lacks the model's
    outputs or the model's importance on its reference is not cached yet. `build`: the build's
    memo of what is read of references that never change (`RunContext.evaluation_memo`).
    """
    say = progress or (lambda message: None)
    load = memo(load_pipeline)
    con = warehouse.con
    timings: dict[str, float] = {}
    with Scratch(con, request.store) as scratch:
        say(f"sampling {request.dataset}: {request.sampling.describe()}")
        with timed(timings, "sampling"):
            counts = sample_into(con, request.source_sql, scratch.table("current"), request.sampling,
                                 request.sampling_location)
        sampled = counts.relation
        if counts.n_evaluated == 0:
            where = "after sampling" if counts.n_rows else "at all"
            raise NodeError(f"data '{request.dataset}' has no rows {where}: evaluation '{request.store}' needs at least one")
        plan = plan_for(con, request, version, sampled)
        n_labelled = labelled_rows(con, sampled, plan.target)
        require_ground_truth(plan, request.dataset, n_labelled)

        current, scored, unscored = sampled, False, None
        if not set(plan.outputs) <= {name for name, _ in table_columns(con, sampled)}:
            if load is None:
                raise NodeError(f"data '{request.dataset}' lacks the model's outputs ({', '.join(plan.outputs)}) "
                                "and no model was given to score it")
            with timed(timings, "scoring"):
                unscored = _try_score(con, load(), sampled, scratch, version, plan, counts.n_evaluated, say)
            if unscored is None:
                current, scored = scratch.table("scored"), True

        with timed(timings, "reference"):
            reference = resolve_reference(con, request.store, request.reference, version, scratch, build)
        require_segment_columns(con, plan.segments, current, reference.sql, request.segments_location)
        cache = ReferenceCache(con, version, build)
        # Scoring adds the model's outputs to the sampled rows: their rows and labels are counted already.
        known = KnownCounts(counts.n_evaluated, n_labelled) if plan.target not in plan.outputs else None
        result = evaluate(con, current, reference, plan, cache, load_pipeline=load, progress=say, known=known)
        if unscored is not None:
            result.warnings.insert(0, unscored)
        if plan.segments:
            with timed(timings, "segments"):
                extra, notes = evaluate_segments(con, current, reference, plan, cache, say)
            result.metrics += extra
            result.warnings += notes
        record = EvaluationRecord(
            evaluation_id=uuid.uuid4().hex, store=request.store, model=version.model,
            model_version=version.version, dataset=request.dataset, reference=reference.kind, created_at=utcnow(),
            invocation_id=request.invocation_id, n_rows=counts.n_rows, n_evaluated=counts.n_evaluated,
            has_ground_truth=result.has_ground_truth, labels=dict(request.labels),
            reference_evaluation_id=reference.evaluation_id, warnings=result.warnings,
        )
        present = {name for name, _ in table_columns(con, current)}
        keep = [c for c in dict.fromkeys([*plan.features, *plan.segments, plan.target, *plan.outputs]) if c in present]
        say("appending the evaluation")
        with timed(timings, "append"):
            append_evaluation(warehouse, record, result.metrics, current, keep, cache.pending, keep_rows)
        cache.written()
    result.timings = {**timings, **result.timings}
    return StoredEvaluation(record, result, scored, plan.task)


def summary(stored: StoredEvaluation) -> str:
    """The build log line: model, rows, reference and the headline metrics."""
    record, values = stored.record, {m.metric: m.value for m in stored.result.metrics
                                     if m.feature is None and m.segment is None}
    headline = ("data_drift", *HEADLINE_METRICS.get(stored.task, ()))
    shown = [f"{name} {values[name]:.3f}" for name in headline if values.get(name) is not None][:3]
    rows = f"{record.n_evaluated:,} of {record.n_rows:,} rows" if record.n_evaluated != record.n_rows else f"{record.n_rows:,} rows"
    scored = ", scored" if stored.scored else ""
    return f"{record.model} v{record.model_version}, {rows}{scored}, vs {record.reference}" + (
        f": {', '.join(shown)}" if shown else "")
