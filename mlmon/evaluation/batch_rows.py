"""The rows and references of one build of an evaluation store: the data read once (outcomes
joined, each row's period computed, logged outputs renamed to the engine's names or the model's
scores added), what each period reads of it, the counts the grouped scans take for all periods
at once, and the reference each period is compared with (`mlmon.evaluation.batch` runs them).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Callable, Mapping, Sequence

import duckdb
from sqlglot import exp

from mlmon.errors import Location, NodeError
from mlmon.evaluation.evaluate import (
    EvaluationPlan,
    KnownCounts,
    labelled_rows,
    reference_performance,
)
from mlmon.evaluation.outcomes import PERIOD_COLUMN, GroundTruth, joined_rows
from mlmon.evaluation.period_rows import PeriodRows
from mlmon.evaluation.periods import PeriodCount, evaluated_before, period_counts, stale_periods
from mlmon.evaluation.quality import grouped_present_counts
from mlmon.evaluation.reference import LABELLED, TRAINING, Reference, kept_reference, resolve_reference
from mlmon.evaluation.run import EvaluationRequest, plan_for, score_into
from mlmon.evaluation.sampling import SampleCounts, Scratch, count_rows, create_table, sample_into, table_columns
from mlmon.evaluation.subject import LoggedOutputs, logged_outputs
from mlmon.metrics.grouped import Groups
from mlmon.metrics.prediction import grouped_class_counts
from mlmon.metrics.univariate import classify_columns
from mlmon.ml.registry import ModelVersion
from mlmon.ml.scoring import PREDICTION_COLUMN, PROBA_PREFIX
from mlmon.warehouse.duckdb import Warehouse

__all__ = ["BatchRequest", "BatchRows"]


@dataclass(frozen=True)
class BatchRequest:
    """What an evaluation node asks beyond the classic keys."""

    base: EvaluationRequest
    predictions: Mapping[str, Any] | None = None
    task: str | None = None
    target: str | None = None
    reference_node: str | None = None  # the node named by `reference:`, if any
    reference_sql: str | None = None
    truth: GroundTruth | None = None
    period: Mapping[str, str] | None = None
    full_refresh: bool = False


def _q(name: str) -> exp.Column:
    return exp.column(name, quoted=True)


def _day(start: date) -> exp.Expression:
    return exp.cast(exp.Literal.string(start.isoformat()), "DATE")


def _in_periods(periods: Sequence[PeriodCount]) -> exp.Expression:
    """Rows of these periods."""
    return _q(PERIOD_COLUMN).isin(*[_day(p.start) for p in periods if p.start is not None])


def _standalone_plan(con: duckdb.DuckDBPyConnection, request: BatchRequest, outputs: LoggedOutputs,
                     rows_sql: str) -> EvaluationPlan:
    """Features: `features:` or every column but the key, the outputs, the target and the period."""
    base = request.base
    excluded = {outputs.target, PERIOD_COLUMN, *outputs.source_columns,
                *(request.truth.key if request.truth else ()), *([request.period["column"]] if request.period else [])}
    columns = [name for name, _ in table_columns(con, rows_sql)]
    features = list(base.features) if base.features else [
        c for c in columns if c not in excluded and not c.startswith(PROBA_PREFIX) and c != PREDICTION_COLUMN]
    forced = [f for f in base.categorical if f in features]
    numeric, _ = classify_columns(con, rows_sql, [f for f in features if f in columns and f not in forced], sorted(forced))
    return EvaluationPlan(
        store=base.store, task=outputs.task, target=outputs.target, classes=outputs.classes,
        positive_class=outputs.positive_class, threshold=outputs.threshold,
        numeric=tuple(f for f in features if f in numeric), categorical=tuple(f for f in features if f not in numeric),
        skip_performance=base.skip_performance, drift_sample=base.drift_sample, data_drift=base.data_drift,
        sample_key=base.sampling.key, logged_prediction=outputs.prediction is not None,
        drift=base.drift, segments=tuple(dict.fromkeys(base.segments)),
    )


class BatchRows:
    """One build of a store: the prepared rows of each period and the references they use."""

    def __init__(self, warehouse: Warehouse, request: BatchRequest, version: ModelVersion | None,
                 load: Callable[[], Any] | None, scratch: Scratch, say: Callable[[str], None], where: Callable[[str], Location],
                 build: dict[Any, Any] | None = None):
        self.warehouse, self.con, self.request = warehouse, warehouse.con, request
        self.build = build  # the build's memo of what is read of references that never change
        self.version, self.load, self.scratch, self.say, self.where = version, load, scratch, say, where
        self.base = request.base
        self.prepared: dict[int, tuple[int, int, str, bool]] = {}  # index -> (n_rows, n_evaluated, rows, scored)
        self.outputs: LoggedOutputs | None = None
        self.plan: EvaluationPlan | None = None
        self.periods: list[PeriodCount] = []
        self._stale: list[PeriodCount] | None = None
        self._samples: dict[int, SampleCounts] = {}  # index -> the period's sampled rows
        self.joined = ""
        self.scored = False  # the model scored the rows during this build
        self.renamed = False  # the rows hold the logged outputs under the engine's names
        self.warnings: list[str] = []

    # -- rows ------------------------------------------------------------------------------------

    def load_rows(self) -> None:
        con, request = self.con, self.request
        target = request.target or (self.version.target if self.version else "")
        self.say(f"reading {self.base.dataset}" + (f" with outcomes of {request.truth.name}" if request.truth else ""))
        # Logged outputs read in place are renamed in the one copy of the rows, and a later build
        # copies only the periods it reads: the joined rows are then only a view.
        renaming = request.predictions is not None and self._in_place()
        later = self._later_build()
        viewed = renaming or later
        self.joined = joined_rows(con, self.base.source_sql, self.base.dataset, target, request.truth, request.period,
                                  self.scratch.view("joined") if viewed else self.scratch.table("joined"), self.where,
                                  kind="VIEW" if viewed else "TABLE")
        if not renaming or later:
            self._count_periods(target)
        if request.predictions is not None:
            try:
                self.outputs = logged_outputs(con, {"predictions": request.predictions, "task": request.task,
                                                    "target": target}, self.joined,
                                              request.reference_sql or self.joined,
                                              request.reference_node or self.base.reference, self.where)
            except NodeError:
                if renaming:  # data without rows says so first, as when the rows are counted first
                    self._count_periods(target)
                raise
            self.plan = _standalone_plan(con, request, self.outputs, self.joined)
        else:
            assert self.version is not None
            plan = plan_for(con, self.base, self.version, self.joined)
            self.plan = replace(plan, target=target) if request.target else plan
        if viewed:
            self._copy_read_rows(renaming, later, target)
        scored = self.needed() if request.predictions is None and self._in_place() else []
        if scored:
            # every row read is evaluated: score them all at once rather than period by period
            self.joined, self.scored = self._outputs(self.joined, "scored", sum(p.n_rows for p in scored))

    def _later_build(self) -> bool:
        """Whether the store holds an evaluation of these periodic data already: this build
        then reads only the periods it evaluates, counted first on the rows in place."""
        request = self.request
        return (request.period is not None and not request.full_refresh
                and evaluated_before(self.con, self.base.store, self.base.dataset))

    def _copy_read_rows(self, renaming: bool, later: bool, target: str) -> None:
        """Copy the rows this build reads, the logged outputs renamed: every period on a first
        build (then counted on the copy), the periods `needed` on a later one (none: no copy).
        Not sorted by period: the grouped scans read every period at once, and logged rows
        arrive about in time order, which keeps a period's row groups together for its own
        reads without a sort holding every row in memory."""
        wanted = self.needed() if later else self.periods
        if later and not wanted:
            return
        query = (self.outputs.canonical(self.con, self.joined) if renaming and self.outputs is not None
                 else exp.select("*").from_(self.joined, dialect="duckdb"))
        if later and len(wanted) < len(self.periods):
            query = query.where(_in_periods(wanted))
        table = self.scratch.table("renamed" if renaming else "read")
        create_table(self.con, table, query)
        self.joined, self.renamed = table, renaming
        if not self.periods:
            self._count_periods(target)

    def stale(self) -> list[PeriodCount]:
        """The periods to evaluate (`mlmon.evaluation.periods.stale_periods`), once counted."""
        if self._stale is None:
            base = self.base
            self._stale = stale_periods(self.con, base.store, base.dataset, base.labels, self.periods,
                                        self.request.full_refresh, self._sample_labelled)
        return self._stale

    def needed(self) -> list[PeriodCount]:
        """The periods whose rows this build reads, oldest first: the stale ones, and the earlier
        ones their references read (`previous`: the period before; `first`: the first)."""
        position = {p.start: i for i, p in enumerate(self.periods)}
        wanted = {position[p.start] for p in self.stale()}
        if self.base.reference == "previous":
            wanted |= {i - 1 for i in wanted if i > 0}
        elif self.base.reference == "first" and wanted:
            wanted.add(0)
        return [self.periods[i] for i in sorted(wanted)]

    def _count_periods(self, target: str) -> None:
        con, request = self.con, self.request
        self.periods, undated = period_counts(con, self.joined, target, request.period is not None)
        if undated and request.period is not None:
            self.warnings.append(f"{undated:,} rows have no {request.period['column']}: they are in no period")
        if not self.periods or not sum(p.n_rows for p in self.periods):
            raise NodeError(f"data '{self.base.dataset}' has no rows: evaluation '{self.base.store}' needs at least one")

    def _in_place(self) -> bool:
        """Whether every period evaluates all its rows, read in place from the one table."""
        return self.base.sampling.method == "full" and self.request.period is not None

    def _period_rows(self, index: int, start: date) -> str:
        """A view of the period's rows (without the period column): nothing copied."""
        return self._view(f"period_{index}", self._one_period(start))

    def _one_period(self, start: date) -> exp.Select:
        return (exp.select(exp.Star(except_=[_q(PERIOD_COLUMN)])).from_(self.joined, dialect="duckdb")
                .where(_q(PERIOD_COLUMN).eq(_day(start))))

    def _view(self, role: str, query: exp.Select) -> str:
        view = self.scratch.view(role)
        self.con.execute(exp.Create(this=exp.to_table(view, dialect="duckdb"), kind="VIEW", expression=query)
                         .sql("duckdb"))
        return view

    def rows(self, index: int) -> tuple[int, int, str, bool]:
        """(rows, evaluated rows, the evaluated rows with the engine's output columns, scored) of a period."""
        if index in self.prepared:
            return self.prepared[index]
        start = self.periods[index].start
        if start is not None and self._in_place():
            n = self.periods[index].n_rows
            current, scored = ((self._period_rows(index, start), False) if self.renamed
                               else self._outputs(self._period_rows(index, start), f"current_{index}", n))
            self.prepared[index] = (n, n, current, scored or self.scored)
            return self.prepared[index]
        counts = self._sample(index)
        current, scored = self._outputs(counts.relation, f"current_{index}", counts.n_evaluated)
        self.prepared[index] = (counts.n_rows, counts.n_evaluated, current, scored or self.scored)
        return self.prepared[index]

    def _sample(self, index: int) -> SampleCounts:
        """The period's sampled rows, drawn once (a stale check may draw them before its evaluation)."""
        if index not in self._samples:
            start, source = self.periods[index].start, self.joined
            if start is not None:
                source = self.scratch.table(f"period_{index}")
                create_table(self.con, source, self._one_period(start))
            self._samples[index] = sample_into(self.con, source, self.scratch.table(f"sample_{index}"),
                                               self.base.sampling, self.base.sampling_location)
        return self._samples[index]

    def _sample_labelled(self, period: PeriodCount) -> int:
        """Labelled rows of the period's sample, as its evaluation records them (`n_labelled`)."""
        assert self.plan is not None
        return labelled_rows(self.con, self._sample(self.periods.index(period)).relation, self.plan.target)

    def _outputs(self, rows: str, role: str, n_rows: int) -> tuple[str, bool]:
        """`rows` with the engine's output columns: renamed logged outputs, or the model's scores."""
        if self.outputs is not None:
            table = self.scratch.table(role)
            create_table(self.con, table, self.outputs.canonical(self.con, rows))
            return table, False
        assert self.plan is not None and self.version is not None
        if set(self.plan.outputs) <= {name for name, _ in table_columns(self.con, rows)}:
            return rows, False
        if self.load is None:
            raise NodeError(f"data '{self.base.dataset}' lacks the model's outputs and no model was given to score it")
        table = self.scratch.table(role)
        score_into(self.con, self.load(), rows, table, self.scratch, self.version, self.plan, n_rows, self.say)
        return table, True

    def groups(self, fixed: Reference | None, todo: Sequence[PeriodCount]) -> Groups | None:
        """The periods to evaluate as groups of one table, whose families are computed for all
        of them in grouped scans: when every period reads its rows in place and all share one
        reference."""
        if fixed is None or not self._in_place() or not todo:
            return None
        return Groups(self.joined, PERIOD_COLUMN, tuple(p.start for p in todo), tuple(p.n_rows for p in todo))

    def known_counts(self, groups: Groups | None, todo: Sequence[PeriodCount]) -> list[KnownCounts] | None:
        """What each period's evaluation would count of its rows, counted for all periods in
        grouped scans (rows and labels in `period_counts`'s, present values and classes here)."""
        if groups is None:
            return None
        assert self.plan is not None
        types = dict(table_columns(self.con, groups.relation))
        features = [f for f in self.plan.features if f in types]
        present = grouped_present_counts(self.con, groups, features, types)
        classify = self.plan.task != "regression"
        classes = grouped_class_counts(self.con, groups, self.plan.target) if classify and self.plan.target in types else None
        # Asked for by some tasks only (prediction drift over the prediction column, diagnostics
        # of unlabelled rows): counted for every period at the first ask, or never.
        predicted = (functools.cache(lambda: grouped_class_counts(self.con, groups, PREDICTION_COLUMN))
                     if classify and PREDICTION_COLUMN in types else None)
        rows = PeriodRows(self.con, groups, features, self.plan.drift_sample) if self.plan.data_drift else None
        return [KnownCounts(p.n_rows, p.n_labelled, present[j], classes[j] if classes is not None else None,
                            (lambda j=j: predicted()[j]) if predicted is not None else None,
                            (lambda j=j: rows.rows(j)) if rows is not None and rows.holds(j) else None)
                for j, p in enumerate(todo)]

    # -- references ------------------------------------------------------------------------------

    def fixed_reference(self) -> Reference | None:
        """A reference shared by every period (a node or the training rows), else None."""
        if self.request.reference_sql is not None:
            node = self.request.reference_node or ""
            self.say(f"reading the reference {node}")
            table, _ = self._outputs(self.request.reference_sql, "reference", count_rows(self.con, self.request.reference_sql))
            return self._rows_reference(node, table, node)
        if self.base.reference == TRAINING and self.version is not None:
            return resolve_reference(self.con, self.base.store, TRAINING, self.version, self.scratch, self.build)
        return None

    def _rows_reference(self, kind: str, table: str, source: str, warnings: list[str] | None = None) -> Reference:
        assert self.plan is not None
        labelled = table if self.version is None else self.version.reference_sql
        n_labelled = labelled_rows(self.con, table, self.plan.target)
        performance = reference_performance(self.con, table, self.plan) if n_labelled else {}
        reference = Reference(kind=kind, sql=table, source=source, labelled_sql=labelled,
                              performance=performance, warnings=list(warnings or []))
        if labelled == table:  # what CBPE asks of its calibration rows, counted here already
            reference.memo[LABELLED, self.plan.target] = n_labelled
        return reference

    def period_reference(self, index: int) -> Reference:
        """`first` / `previous` for period `index`: an earlier period of the data or of the store."""
        wanted, start = self.base.reference, self.periods[index].start
        if start is None and self.version is not None:
            return resolve_reference(self.con, self.base.store, wanted, self.version, self.scratch, self.build)
        if start is not None and wanted == "previous" and index > 0:
            _, _, rows, _ = self.rows(index - 1)
            return self._rows_reference("previous", rows, f"period:{self.periods[index - 1].start}")
        earlier = kept_reference(self.con, self.base.store, wanted, self.scratch, before=start)
        if earlier is not None:
            evaluation_id, table = earlier
            return replace(self._rows_reference(wanted, table, evaluation_id), evaluation_id=evaluation_id)
        if start is not None and wanted == "first" and index > 0:
            _, _, rows, _ = self.rows(0)
            return self._rows_reference("first", rows, f"period:{self.periods[0].start}")
        _, _, rows, _ = self.rows(index)
        what = f"period {start}" if start is not None else "this evaluation"
        return self._rows_reference(wanted, rows, f"self:{index}", [
            f"reference '{wanted}': store '{self.base.store}' has no earlier evaluation, so {what} is compared with itself"])


