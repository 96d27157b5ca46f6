"""Binary classification performance of many groups of rows (a store's periods) in grouped SQL:
the values `classification_metrics` gives each group's rows alone, for all groups in two
statements, however many groups there are.

Rows with a missing label or probability, and rows whose label is no class of the model, are
left out, as the per-group path does. ROC AUC is the rank-sum statistic with tie-averaged ranks
(equal to sklearn's trapezoids), counted exactly in integers; average precision is sklearn's
step sum over the distinct scores; log loss clips the probabilities to [eps, 1 - eps] with eps
the float64 machine epsilon, as sklearn does, and like the Brier score is undefined (None) when
a probability lies outside [0, 1], where sklearn refuses the input.

Both curves need each row's place in its group's score order, found one of two ways with the
same result. Scores that repeat a lot (a tree model's, a calibrated one's) are first counted
per (group, score), and the running sums then sort the few distinct scores; scores that are
mostly distinct are ranked row by row, since counting them per score would build a hash table
as large as the rows only to sort it again. The label scan that runs first anyway estimates the
distinct scores (approx_count_distinct) and so picks the way.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from mlmon.metrics.estimation import ratio
from mlmon.metrics.grouped import Groups
from mlmon.metrics.labels import canonical_label
from mlmon.metrics.performance import positive_label
from mlmon.metrics.sqlstats import quote
from mlmon.metrics.task import BINARY_METRICS
from mlmon.metrics.types import MetricValue

__all__ = ["grouped_binary_performance", "rank_rows"]

_EPS = float(np.finfo(np.float64).eps)


def _in(column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
    """`column IN (?, ...)` and its parameters; false for no value."""
    if not values:
        return "FALSE", []
    return f"{column} IN ({', '.join('?' for _ in values)})", list(values)


Labels = tuple[list[Any], list[Any], list[Any], list[Any]]


def rank_rows(rows: int, distinct_scores: int) -> bool:
    """Whether to rank the rows themselves rather than their distinct scores: when most
    scores are distinct, counting them per score first saves nothing."""
    return 2 * distinct_scores > rows


def _labels(con: Any, groups: Groups, target: str, prediction: str | None, classes: Sequence[Any],
            positive: Any, score: str) -> tuple[Labels, bool]:
    """The stored values spelling the positive and the negative class, in the target and in the
    logged prediction, matched by `canonical_label`, each distinct value once; and whether to
    rank rows (`rank_rows`), from the labelled rows and an estimate of their distinct scores."""
    columns = [quote(target)] + ([quote(prediction)] if prediction else [])
    # Distinct scores per label pair, summed: a score under several pairs counts once per pair.
    # The overestimate can only pick the row way for scores repeated a few times, and both ways
    # give the same values.
    rows = con.execute(f"SELECT {', '.join(columns)}, COUNT(*), APPROX_COUNT_DISTINCT({quote(score)}) "
                       f"FROM {groups.relation} AS t WHERE {groups.wanted()} AND {quote(target)} IS NOT NULL "
                       f"GROUP BY {', '.join(columns)}").fetchall()
    width = len(columns)
    by_row = rank_rows(sum(int(row[width]) for row in rows), sum(int(row[width + 1]) for row in rows))
    pos = canonical_label(positive)
    known = {canonical_label(c) for c in classes}

    def split(values: set[Any]) -> tuple[list[Any], list[Any]]:
        present = [v for v in values if v is not None]
        return ([v for v in present if canonical_label(v) == pos],
                [v for v in present if canonical_label(v) != pos and canonical_label(v) in known])

    y_pos, y_neg = split({row[0] for row in rows})
    p_pos, p_neg = split({row[1] for row in rows}) if prediction else ([], [])
    return (y_pos, y_neg, p_pos, p_neg), by_row


_UP_TO_HERE = "BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"
# Both give, per group, twice the positives' tie-averaged rank sum (`rank2`) and the sum over
# positives of the precision at their score (`ap`). Ranked distinct scores: `upto` rows and
# `pos_upto` positives score at most a cell's `s`, one ascending running sum per group.
_CURVES_OF_SCORES = """, cells AS (
  SELECT g, s, CAST(COUNT(*) AS BIGINT) AS n, CAST(SUM(y) AS BIGINT) AS npos FROM base GROUP BY g, s
), ranked AS (
  SELECT g, n, npos, SUM(n) OVER ({up}) AS upto, SUM(npos) OVER ({up}) AS pos_upto
  FROM cells
), curves AS (
  SELECT r.g AS g, SUM(r.npos * (2 * (r.upto - r.n) + r.n + 1)) AS rank2,
         SUM(CAST(r.npos AS DOUBLE) * CAST(c.pos - r.pos_upto + r.npos AS DOUBLE) / CAST(c.n - r.upto + r.n AS DOUBLE))
           AS ap
  FROM ranked AS r JOIN counts AS c ON r.g = c.g GROUP BY r.g
)"""
# Ranked rows, one descending sort per group: `above` is 1 + the rows scoring more, `n_ge` and
# `pos_ge` the rows and positives scoring at least as much (the frame takes in the ties). A
# positive's tie-averaged rank is then (n + 1 - above + n - n_ge + 1) / 2.
_CURVES_OF_ROWS = """, ranked AS (
  SELECT g, y, RANK() OVER (PARTITION BY g ORDER BY s DESC) AS above,
         COUNT(*) OVER ({down}) AS n_ge, SUM(y) OVER ({down}) AS pos_ge
  FROM base
), curves AS (
  SELECT r.g AS g, SUM(r.y * (2 * c.n + 2 - r.above - r.n_ge)) AS rank2,
         SUM(r.y * CAST(r.pos_ge AS DOUBLE) / CAST(r.n_ge AS DOUBLE)) AS ap
  FROM ranked AS r JOIN counts AS c ON r.g = c.g GROUP BY r.g
)"""


def _statement(groups: Groups, target: str, probas: Sequence[str], score: str, threshold: float,
               prediction: str | None, labels: Labels, by_row: bool) -> tuple[str, list[Any]]:
    y_pos, y_neg, p_pos, p_neg = labels
    is_pos, a = _in(quote(target), y_pos)
    is_neg, b = _in(quote(target), y_neg)
    params = a + b
    s = f"CAST({quote(score)} AS DOUBLE)"
    if prediction is None:
        pred = f"CAST({s} >= {float(threshold)!r} AS BIGINT)"
        said = pred
    else:
        # A logged label the model does not know predicts no positive, and is never right.
        said_pos, c = _in(quote(prediction), p_pos)
        said_neg, d = _in(quote(prediction), p_neg)
        params += c + c + d  # the positive spellings twice: in `pred` and in `said`
        pred = f"CASE WHEN {said_pos} THEN 1 ELSE 0 END"
        said = f"CASE WHEN {said_pos} THEN 1 WHEN {said_neg} THEN 0 ELSE -1 END"
    present = " AND ".join(f"{quote(p)} IS NOT NULL AND NOT isnan(CAST({quote(p)} AS DOUBLE))" for p in probas)
    eps, top = repr(_EPS), repr(1.0 - _EPS)
    curves = (_CURVES_OF_ROWS.format(down=f"PARTITION BY g ORDER BY s DESC RANGE {_UP_TO_HERE}") if by_row
              else _CURVES_OF_SCORES.format(up=f"PARTITION BY g ORDER BY s ROWS {_UP_TO_HERE}"))
    sql = f"""
WITH rows_ AS (
  SELECT {groups.index_sql()} AS g, CASE WHEN {is_pos} THEN 1 WHEN {is_neg} THEN 0 END AS y, {s} AS s,
         {pred} AS pred, {said} AS said
  FROM {groups.relation} AS t
  WHERE {groups.wanted()} AND {quote(target)} IS NOT NULL AND {present}
), base AS (
  SELECT g, y, s, pred, said = y AS hit
  FROM rows_ WHERE y IS NOT NULL
), counts AS (
  SELECT g, COUNT(*) AS n, SUM(y) AS pos, SUM(pred) AS said_pos, SUM(pred * y) AS tp,
         SUM(CAST(hit AS BIGINT)) AS hits, MIN(s) AS smin, MAX(s) AS smax,
         SUM(-LN(LEAST(GREATEST(CASE WHEN y = 1 THEN s ELSE 1.0 - s END, {eps}), {top}))) AS ll,
         SUM((y - s) * (y - s)) AS brier
  FROM base GROUP BY g
){curves}
SELECT c.g, c.n, c.pos, c.said_pos, c.tp, c.hits, c.smin, c.smax, c.ll, c.brier, k.rank2, k.ap
FROM counts AS c JOIN curves AS k ON c.g = k.g"""
    return sql, params


def _metrics(row: tuple[Any, ...] | None) -> list[MetricValue]:
    if row is None:
        return [MetricValue(name, None) for name in BINARY_METRICS]
    _, n, pos, said_pos, tp, hits, smin, smax, ll, brier, rank2, ap = row
    n, pos, said_pos, tp, hits, rank2 = int(n), int(pos), int(said_pos), int(tp), int(hits), int(rank2)
    neg, fp, fn = n - pos, said_pos - tp, pos - tp
    probabilities = smin >= 0.0 and smax <= 1.0  # sklearn refuses others in log loss and Brier
    values = {
        "accuracy": hits / n,
        "precision": ratio(tp, tp + fp),
        "recall": ratio(tp, pos),
        "f1": ratio(2 * tp, 2 * tp + fp + fn),
        # Mann-Whitney U over P·N, from twice the positives' tie-averaged rank sum (integers).
        "roc_auc": (rank2 - pos * (pos + 1)) / (2 * pos * neg) if pos and neg else None,
        "log_loss": float(ll) / n if probabilities else None,
        "brier_score": float(brier) / n if probabilities else None,
        "average_precision": float(ap) / pos if pos else None,
    }
    return [MetricValue(name, values[name]) for name in BINARY_METRICS]


def grouped_binary_performance(con: Any, groups: Groups, target: str, probas: Sequence[str], classes: Sequence[Any],
                               threshold: float = 0.5, positive_class: Any = None,
                               prediction: str | None = None, by_row: bool | None = None) -> list[list[MetricValue]]:
    """Per group (in `groups.keys` order), `classification_metrics` of its labelled rows of a
    known class: `probas` are the model's two probability columns in `classes` order; threshold
    metrics read the logged `prediction` column when given, else `score >= threshold`.
    `by_row` forces one way of ranking the scores (None: the data's, `rank_rows`)."""
    classes = list(classes)
    positive = positive_label(classes, positive_class)
    score = probas[[canonical_label(c) for c in classes].index(canonical_label(positive))]
    labels, by_data = _labels(con, groups, target, prediction, classes, positive, score)
    if not groups.keys or not (labels[0] or labels[1]):
        return [_metrics(None) for _ in groups.keys]
    sql, params = _statement(groups, target, probas, score, threshold, prediction, labels,
                             by_data if by_row is None else by_row)
    found = {int(row[0]): row for row in con.execute(sql, params).fetchall()}
    return [_metrics(found.get(j)) for j in range(len(groups.keys))]
