"""Where an evaluation's outputs come from when no mlmon model made them: `predictions:`.

A serving system logs its outputs under its own names (`y_pred_proba`, `decision`...). They are
projected once into the names the statistics engine reads (`proba_<class>`, `prediction`), on
the evaluated rows and on the reference alike, so every metric family runs unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import duckdb
from sqlglot import exp

from mlmon.errors import Location, NodeError
from mlmon.evaluation.sampling import table_columns
from mlmon.metrics.labels import canonical_label as label_key
from mlmon.metrics.performance import positive_label
from mlmon.ml.scoring import PREDICTION_COLUMN, PROBA_PREFIX, proba_column

__all__ = ["LoggedOutputs", "infer_task", "logged_outputs"]

Where = Callable[[str], Location]


def infer_task(predictions: Mapping[str, Any]) -> str:
    """A mapping of probabilities is multiclass, one probability column binary, none regression."""
    proba = predictions.get("proba")
    if isinstance(proba, dict):
        return "multiclass"
    return "binary" if proba is not None else "regression"


def _q(name: str) -> exp.Column:
    return exp.column(name, quoted=True)


@dataclass(frozen=True)
class LoggedOutputs:
    """The logged outputs of a model, and how they map to the engine's columns."""

    task: str
    target: str
    classes: tuple[Any, ...] | None
    positive_class: Any
    threshold: float
    proba: Mapping[str, str]  # canonical class label -> logged column
    prediction: str | None  # the logged prediction column, if any

    @property
    def source_columns(self) -> list[str]:
        """The logged columns: never features."""
        return [*self.proba.values(), *([self.prediction] if self.prediction else [])]

    def canonical(self, con: duckdb.DuckDBPyConnection, relation_sql: str) -> exp.Select:
        """The rows of `relation_sql` with the outputs under the engine's names."""
        kept = [name for name, _ in table_columns(con, relation_sql)  # in the relation's order
                if not (name.startswith(PROBA_PREFIX) or name == PREDICTION_COLUMN)]
        outputs: list[exp.Expression] = []
        if self.task != "regression":
            for label in self.classes or ():
                key = label_key(label)
                if key in self.proba:
                    outputs.append(exp.alias_(exp.cast(_q(self.proba[key]), "DOUBLE"), proba_column(label), quoted=True))
                elif self.task == "binary":  # the negative class of a single probability column
                    positive = self.proba[label_key(self.positive_class)]
                    value = exp.Sub(this=exp.Literal.number(1), expression=exp.cast(_q(positive), "DOUBLE"))
                    outputs.append(exp.alias_(value, proba_column(label), quoted=True))
        outputs.append(exp.alias_(self._prediction(), PREDICTION_COLUMN, quoted=True))
        return exp.select(*map(_q, kept), *outputs).from_(relation_sql, dialect="duckdb")

    def _prediction(self) -> exp.Expression:
        if self.prediction is not None:
            return _q(self.prediction)
        classes = list(self.classes or ())
        if self.task == "binary":
            positive = self.positive_class
            negative = next(c for c in classes if label_key(c) != label_key(positive))
            score = exp.cast(_q(self.proba[label_key(positive)]), "DOUBLE")
            return exp.Case().when(score.is_(exp.null()), exp.null()).when(
                exp.GTE(this=score, expression=exp.Literal.number(self.threshold)), exp.convert(positive)
            ).else_(exp.convert(negative))
        # multiclass: the class of the largest probability (the first one on ties, as argmax)
        columns = [exp.cast(_q(self.proba[label_key(c)]), "DOUBLE") for c in classes]
        largest = exp.Greatest(this=columns[0], expressions=columns[1:])
        case = exp.Case()
        for label, column in zip(classes, columns):
            case = case.when(exp.EQ(this=column, expression=largest.copy()), exp.convert(label_key(label)))
        return case


def _target_values(con: duckdb.DuckDBPyConnection, relation_sql: str, target: str) -> list[Any]:
    query = (exp.select(_q(target)).distinct().from_(relation_sql, dialect="duckdb")
             .where(_q(target).is_(exp.null()).not_()).limit(1000))
    return [row[0] for row in con.execute(query.sql("duckdb")).fetchall()]


def _require_columns(con: duckdb.DuckDBPyConnection, relation_sql: str, columns: Sequence[str], side: str,
                     key: str, where: Where) -> None:
    present = {name for name, _ in table_columns(con, relation_sql)}
    missing = [c for c in columns if c not in present]
    if missing:
        raise NodeError(f"{side} has no column {', '.join(repr(c) for c in missing)} (columns: "
                        f"{', '.join(sorted(present))})", location=where(key),
                        hint=f"fix `{key}:` or the columns of {side}")


def logged_outputs(con: duckdb.DuckDBPyConnection, config: Mapping[str, Any], data_sql: str, reference_sql: str,
                   reference_name: str, where: Where) -> LoggedOutputs:
    """The outputs `predictions:` names, checked against the data and the reference."""
    predictions = dict(config["predictions"])
    task = config.get("task") or infer_task(predictions)
    target = str(config["target"])
    proba, prediction = predictions.get("proba"), predictions.get("prediction")
    logged = [*(proba.values() if isinstance(proba, dict) else [proba] if proba else []), *([prediction] if prediction else [])]
    _require_columns(con, data_sql, logged, "the data", "predictions", where)
    _require_columns(con, reference_sql, logged, f"the reference '{reference_name}'", "predictions", where)
    _require_columns(con, reference_sql, [target], f"the reference '{reference_name}'", "target", where)
    if task == "regression":
        if prediction is None:
            raise NodeError("a regression evaluation needs `predictions.prediction`, the predicted value",
                            location=where("predictions"))
        return LoggedOutputs(task, target, None, None, 0.5, {}, prediction)
    threshold = float(predictions.get("threshold", 0.5))
    if task == "multiclass":
        if not isinstance(proba, dict):
            raise NodeError("a multiclass evaluation needs `predictions.proba` as a mapping class: column",
                            location=where("predictions"), hint="e.g. `proba: {bus: p_bus, car: p_car, train: p_train}`")
        classes = tuple(label_key(c) for c in proba)
        return LoggedOutputs(task, target, classes, None, threshold,
                             {label_key(c): str(col) for c, col in proba.items()}, prediction)
    if not isinstance(proba, str):
        raise NodeError("a binary evaluation needs `predictions.proba`: the positive-class probability column",
                        location=where("predictions"))
    labels = _target_values(con, reference_sql, target)
    distinct = list({label_key(v): v for v in labels}.values())
    wanted = predictions.get("positive_class")
    if wanted is not None and label_key(wanted) not in {label_key(v) for v in distinct}:
        distinct.append(wanted)
    if len(distinct) != 2:
        raise NodeError(
            f"target '{target}' of the reference '{reference_name}' holds {len(distinct)} class(es) "
            f"({', '.join(label_key(v) for v in distinct[:10])}); a binary evaluation needs two",
            location=where("target"), hint="set `task:` and `predictions.proba` for another task, or `positive_class:`")
    classes = tuple(sorted(distinct, key=lambda v: (isinstance(v, str), v if not isinstance(v, str) else 0, str(v))))
    positive = positive_label(list(classes), wanted)
    return LoggedOutputs(task, target, classes, positive, threshold, {label_key(positive): proba}, prediction)
