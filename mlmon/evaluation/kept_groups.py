"""Kept rows of many periods in one statement: the same rows as each period's own seeded sample.

A period's kept rows are its rows numbered in the order of the kept columns, and the `size`
ordinals with the smallest scrambled values (mlmon.metrics.sqlsample). Which ordinals win
depends only on the period's row count and the seed, so it is found here in numpy: the
`size`-th smallest (scrambled, ordinal) pair is a cut, and a row is kept when its pair is at
most the cut. One narrow window ranks the rows of every period on the first kept column, the
rows tied there are numbered among themselves on the rest, and the kept ones are read again by
a join: no sort per period, no sort of whole rows (but the tied ones), and no second sort by
the scrambled values.

Rows that tie on every kept column are the same kept row whichever ordinal each gets, so the
kept rows equal the per-period sample's exactly; a kept column no engine orders alike
(a list, a struct) would make the tie order matter, and such rows take the per-period path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from mlmon.metrics.sqlsample import is_orderable, last_draw, scramble_sql
from mlmon.metrics.sqlstats import quote

__all__ = ["KeptGroups", "orderable", "kept_groups_query"]


@dataclass(frozen=True)
class KeptGroups:
    """The evaluated rows of several evaluations in one relation: `column` holds each row's
    group, `keys` maps an evaluation_id to its group's key as SQL (a literal)."""

    relation: str
    column: str
    keys: Mapping[str, str]


def orderable(types: Mapping[str, str], columns: Sequence[str]) -> bool:
    """Whether every kept column has a type both engines order alike."""
    return all(is_orderable(types.get(c, "")) for c in columns)


def cut(n_rows: int, size: int, seed: int) -> tuple[int, int] | None:
    """The largest (scrambled, ordinal) pair among the `size` kept of ordinals 1..n_rows;
    None when every row is kept."""
    return None if n_rows <= size else last_draw(n_rows, size, seed)


def kept_groups_query(groups: KeptGroups, counts: Mapping[str, int], columns: Sequence[str], size: int,
                      seed: int) -> str:
    """SQL (DuckDB dialect, portable through sqlglot) of every group's kept rows: its
    evaluation_id and the kept `columns`. `counts` holds each evaluation's row count.

    A row's ordinal in the order of all kept columns is its rank on the first one, plus, for
    the few rows tied on it, its place among them in the order of the rest. The ranks are
    found on (group, first column) alone, a narrow sort; an untied row is the only one of its
    group with its first value, so the kept ones are found again by a join on that pair. Only
    tied rows are sorted whole (what a sort costs is the width of what it carries)."""
    group, c1 = quote(groups.column), quote(columns[0])
    wanted = f"{group} IN ({', '.join(groups.keys.values())})"
    tag = " ".join(f"WHEN {key} THEN '{evaluation_id}'" for evaluation_id, key in groups.keys.items())
    kept = ", ".join(f"t.{quote(c)}" for c in columns)
    cuts = {evaluation_id: cut(counts[evaluation_id], size, seed) for evaluation_id in groups.keys}
    if all(found is None for found in cuts.values()):  # every group keeps all its rows: no order to find
        return f"SELECT CASE t.{group} {tag} END AS evaluation_id, {kept} FROM {groups.relation} AS t WHERE t.{wanted}"
    first = f"PARTITION BY {group} ORDER BY {c1} ASC NULLS FIRST"
    order = ", ".join(f"t.{quote(c)} ASC NULLS FIRST" for c in columns)
    whens = []
    for evaluation_id, key in groups.keys.items():
        found = cuts[evaluation_id]
        condition = "TRUE" if found is None else (
            f"(x.__mlmon_draw < {found[0]} OR (x.__mlmon_draw = {found[0]} AND x.__mlmon_ordinal <= {found[1]}))")
        whens.append(f"WHEN {key} THEN {condition}")
    chosen = f"CASE x.{group} {' '.join(whens)} ELSE FALSE END"
    draw = scramble_sql("__mlmon_ordinal", seed)
    # Tied on the first column: the same value as a neighbour in its order (a false tie is
    # harmless: tied rows are numbered within their rank, which holds them alone).
    tied = ("((__mlmon_has_before IS NOT NULL AND __mlmon_before IS NOT DISTINCT FROM __mlmon_first) OR "
            "(__mlmon_has_after IS NOT NULL AND __mlmon_after IS NOT DISTINCT FROM __mlmon_first))")
    same = f"t.{group} = k.{group} AND t.{c1} IS NOT DISTINCT FROM k.__mlmon_first"
    return (
        f"WITH __mlmon_ranked AS (SELECT {group}, {c1} AS __mlmon_first, RANK() OVER ({first}) AS __mlmon_rank, "
        f"LAG({c1}) OVER ({first}) AS __mlmon_before, LAG(1) OVER ({first}) AS __mlmon_has_before, "
        f"LEAD({c1}) OVER ({first}) AS __mlmon_after, LEAD(1) OVER ({first}) AS __mlmon_has_after "
        f"FROM {groups.relation} AS t WHERE {wanted}), "
        f"__mlmon_untied AS (SELECT x.* FROM (SELECT {group}, __mlmon_first, __mlmon_rank AS __mlmon_ordinal, "
        f"{draw} AS __mlmon_draw FROM __mlmon_ranked WHERE NOT {tied}) AS x WHERE {chosen}), "
        f"__mlmon_ties AS (SELECT DISTINCT {group}, __mlmon_first, __mlmon_rank FROM __mlmon_ranked WHERE {tied}), "
        f"__mlmon_tied AS (SELECT y.*, {draw} AS __mlmon_draw FROM (SELECT t.{group}, {kept}, "
        f"k.__mlmon_rank - 1 + ROW_NUMBER() OVER (PARTITION BY t.{group}, k.__mlmon_rank ORDER BY {order}) "
        f"AS __mlmon_ordinal FROM {groups.relation} AS t JOIN __mlmon_ties AS k ON {same}) AS y) "
        f"SELECT CASE t.{group} {tag} END AS evaluation_id, {kept} FROM {groups.relation} AS t "
        f"JOIN __mlmon_untied AS k ON {same} WHERE t.{wanted} "
        f"UNION ALL SELECT CASE x.{group} {tag} END AS evaluation_id, "
        f"{', '.join(f'x.{quote(c)}' for c in columns)} FROM __mlmon_tied AS x WHERE {chosen}"
    )
