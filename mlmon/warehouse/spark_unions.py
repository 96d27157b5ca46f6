"""UNION ALL branches that read the same relation, read in one scan on Spark.

mlmon's column-wise statistics are written once, in DuckDB SQL, as a UNION ALL with one branch
per column and side (`SELECT <key> AS k, <value> AS v FROM rel AS t WHERE <present>`). DuckDB
runs each branch as a cheap pipeline; Spark plans, code-generates and schedules each branch
as its own scan, which on small data costs far more than the rows: the first round of the
two-sample engine over 12 columns took 24 scans. Here the branches of one relation become one
scan that emits every branch's row with Spark's `inline` generator:

    SELECT u.c0 AS k, u.c1 AS v FROM (SELECT INLINE(ARRAY(NAMED_STRUCT('c0', <key1>, 'c1',
    <value1>, 'keep', <present1>), ...)) FROM rel AS t) AS u WHERE u.keep

The rows are the same (a branch's row is kept exactly when its WHERE holds), in another order,
which a UNION ALL never promised. Only plain branches are merged: a projection of named
expressions over one relation with at most a WHERE, no aggregate, window or generator. A
branch may also read named values computed from the relation's rows in a plain subquery
(`SELECT <key of v> AS k FROM (SELECT <value> AS v FROM rel AS t) AS t WHERE <present v>`,
so that a value used many times is written once): its values then join the scan's own
projection, once each whatever the branches using them,

    ... FROM (SELECT *, <value1> AS __mlmon_v0, ... FROM rel AS t) AS t

and the branch's expressions name them instead. The
projections are then evaluated on rows the WHERE drops, which is harmless only while Spark
returns NULL for bad casts and division by zero: `merge_union_scans` is for sessions with
ANSI mode off (mlmon's default). The caller falls back to the statement as written if Spark
refuses the merged one (branch types it cannot unify into one array, say).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

from sqlglot import exp

__all__ = ["merge_union_scans"]

_PLAIN_ARGS = frozenset({"expressions", "from", "from_", "where"})
_UNION_ARGS = frozenset({"this", "expression", "distinct"})
_NOT_ROW_WISE = (exp.AggFunc, exp.Window, exp.Explode, exp.Inline, exp.Posexplode, exp.Unnest, exp.Subquery,
                 exp.Rand, exp.Randn)
_KEEP = "__mlmon_keep"


def _from(select: exp.Select) -> exp.Expression | None:
    source = select.args.get("from") or select.args.get("from_")
    return source.this if source is not None else None


def _plain(select: exp.Expression) -> bool:
    return isinstance(select, exp.Select) and not any(v for k, v in select.args.items() if k not in _PLAIN_ARGS)


def _filtered_table(relation: exp.Expression) -> tuple[exp.Table, exp.Expression] | None:
    """(table, condition) of a subquery `(SELECT * FROM table WHERE condition) AS t` whose
    condition names columns without qualifiers: read as `table AS t WHERE condition`."""
    query = relation.this if isinstance(relation, exp.Subquery) else None
    if not _plain(query) or len(query.expressions) != 1 or not isinstance(query.expressions[0], exp.Star):
        return None
    table, where = _from(query), query.args.get("where")
    if not isinstance(table, exp.Table) or isinstance(table.this, exp.Func) or where is None:
        return None
    if any(c.table for c in where.find_all(exp.Column)) or where.find(*_NOT_ROW_WISE):
        return None
    read = table.copy()
    read.set("alias", relation.args.get("alias").copy() if relation.args.get("alias") else None)
    return read, where.this


@dataclass
class _Branch:
    """A mergeable branch: the relation it reads, the conditions its rows meet over that
    relation's columns, and, for a branch over computed values, those values (name in the
    branch: expression over the relation) and the conditions over them."""

    select: exp.Select
    relation: exp.Expression
    conditions: list[exp.Expression]
    values: dict[str, exp.Expression] = field(default_factory=dict)
    on_values: list[exp.Expression] = field(default_factory=list)


def _row_wise(select: exp.Select) -> bool:
    """Named row-wise projections (no star) and a row-wise WHERE."""
    if not all(isinstance(e, (exp.Alias, exp.Column)) and not isinstance(e.unalias(), exp.Star)
               for e in select.expressions):
        return False
    parts = [*select.expressions, *([select.args["where"]] if select.args.get("where") else [])]
    return not any(part.find(*_NOT_ROW_WISE) for part in parts)


def _read(select: exp.Select) -> tuple[exp.Expression, list[exp.Expression]] | None:
    """The table or subquery a plain row-wise select reads and the conditions its rows meet."""
    relation = _from(select)
    if not isinstance(relation, (exp.Table, exp.Subquery)) or isinstance(relation.this, exp.Func):
        return None
    if not _row_wise(select):
        return None
    conditions = [select.args["where"].this] if select.args.get("where") else []
    filtered = _filtered_table(relation)
    if filtered is not None:
        relation, condition = filtered
        conditions.insert(0, condition)
    return relation, conditions


def _computed(branch: exp.Select, relation: exp.Expression) -> _Branch | None:
    """A branch over `(SELECT <value> AS v, ... FROM rel AS t [WHERE c]) AS s` whose expressions
    name only those values; None for any other."""
    inner = relation.this
    if not _plain(inner):
        return None
    found = _read(inner)
    if found is None or not isinstance(found[0], exp.Table):
        return None
    values = {e.alias_or_name: e.unalias() for e in inner.expressions}
    alias = relation.alias
    on_values = [branch.args["where"].this] if branch.args.get("where") else []
    for part in (*branch.expressions, *on_values):
        if any(c.name not in values or c.table not in ("", alias) for c in part.find_all(exp.Column)):
            return None
    return _Branch(branch, found[0], found[1], values, on_values)


def _source(branch: exp.Expression) -> _Branch | None:
    """What a mergeable branch reads (module docstring); None for any other branch."""
    if not _plain(branch):
        return None
    found = _read(branch)
    if found is None:
        return None
    relation, conditions = found
    if isinstance(relation, exp.Subquery):
        computed = _computed(branch, relation)
        if computed is not None:
            return computed
    return _Branch(branch, relation, conditions)


def _chain(union: exp.Union) -> list[exp.Expression] | None:
    """The branches of a chain of UNION ALLs without ORDER BY / LIMIT of their own."""
    if any(v for k, v in union.args.items() if k not in _UNION_ARGS) or union.args.get("distinct"):
        return None
    branches = []
    for side in (union.this, union.expression):
        while isinstance(side, exp.Subquery) and not side.alias and not any(
                v for k, v in side.args.items() if k != "this"):
            side = side.this  # `(SELECT ...) UNION ALL (SELECT ...)`: parentheses only
        if isinstance(side, exp.Union):
            inner = _chain(side)
            if inner is None:
                return None
            branches += inner
        else:
            branches.append(side)
    return branches


def _merged(relation: exp.Expression, members: list[_Branch], names: list[str]) -> exp.Select:
    """One scan of the members' relation yielding each member's rows (module docstring)."""
    shared: dict[str, str] = {}  # a computed value's text: its column in the scan
    values: list[exp.Expression] = []
    structs = []
    for member in members:
        renamed = {}
        for name, value in member.values.items():
            text = value.sql("spark")
            if text not in shared:
                shared[text] = f"__mlmon_v{len(shared)}"
                values.append(exp.alias_(value, shared[text]))  # moved: the branch is replaced
            renamed[name] = shared[text]

        def named(node: exp.Expression) -> exp.Expression:
            return exp.column(renamed[node.name]) if isinstance(node, exp.Column) and node.name in renamed else node

        fields: list[exp.Expression] = []
        for i, projection in enumerate(member.select.expressions):
            fields += [exp.Literal.string(f"c{i}"), projection.unalias().transform(named, copy=False)]
        conditions = [*member.conditions, *(c.transform(named, copy=False) for c in member.on_values)]
        keep = exp.and_(*conditions, copy=False) if conditions else exp.true()
        fields += [exp.Literal.string(_KEEP), keep]
        structs.append(exp.Anonymous(this="NAMED_STRUCT", expressions=fields))
    if values:  # the relation's columns pass through beside the values, under its own name
        relation = exp.select(exp.Star(), *values).from_(relation).subquery(relation.alias_or_name)
    rows = exp.Anonymous(this="INLINE", expressions=[exp.Anonymous(this="ARRAY", expressions=structs)])
    scan = exp.select(rows).from_(relation).subquery("__mlmon_rows")
    columns = [exp.alias_(exp.column(f"c{i}", "__mlmon_rows"), name, quoted=True) for i, name in enumerate(names)]
    return exp.select(*columns).from_(scan).where(exp.column(_KEEP, "__mlmon_rows"))


def _heads(statement: exp.Expression) -> Iterator[tuple[exp.Union, list[exp.Expression]]]:
    """Every chain of UNION ALLs under the statement (not the statement itself) with its branches."""
    for union in list(statement.find_all(exp.Union)):
        if union.parent is None or isinstance(union.parent, exp.Union) or union.root() is not statement:
            continue  # the statement itself, a link of a longer chain, or inside a chain replaced already
        branches = _chain(union)
        if branches and len(branches) > 1:
            yield union, branches


def _join_shape(branch: exp.Expression) -> tuple[str, list[exp.Expression]] | None:
    """For `SELECT ... FROM (<union or select>) AS r JOIN ... ON ...`: (its text with the
    subquery's query left out, the subquery's branches); None for any other branch."""
    if not isinstance(branch, exp.Select) or any(v for k, v in branch.args.items()
                                                 if k not in ("expressions", "from", "from_", "joins")):
        return None
    inner, joins = _from(branch), branch.args.get("joins") or []
    if not isinstance(inner, exp.Subquery) or not joins:
        return None
    # Joins that keep or drop each row of the left side on its own distribute over its union;
    # a RIGHT or FULL join would add the right side's unmatched rows once per branch.
    if any(str(j.side or "").upper() in ("RIGHT", "FULL") or not isinstance(j.this, exp.Table) for j in joins):
        return None
    branches = _chain(inner.this) if isinstance(inner.this, exp.Union) else [inner.this]
    if not branches or not isinstance(branches[0], exp.Select):
        return None
    query = inner.this
    inner.set("this", exp.Null())  # the branch's text without the subquery's query, then put back
    shell = branch.sql("spark")
    inner.set("this", query)
    names = ",".join(e.alias_or_name for e in branches[0].expressions)
    return f"{names}|{shell}", branches


def _lift_joins(statement: exp.Expression) -> bool:
    """`(SELECT p FROM (A) AS r JOIN c ON k) UNION ALL (SELECT p FROM (B) AS r JOIN c ON k)` →
    `SELECT p FROM (A UNION ALL B) AS r JOIN c ON k`: the same rows, and A's and B's branches
    in one chain, where branches reading the same relation can merge."""
    changed = False
    for union, branches in _heads(statement):
        shapes = [_join_shape(b) for b in branches]
        if any(s is None for s in shapes) or len({s[0] for s in shapes}) != 1:
            continue
        inner = [b for s in shapes for b in s[1]]  # moved, not copied: the chain is replaced
        merged = inner[0]
        for branch in inner[1:]:
            merged = exp.union(merged, branch, distinct=False, copy=False)
        lifted = branches[0]
        _from(lifted).set("this", merged)
        union.replace(lifted)
        changed = True
    return changed


def merge_union_scans(statement: exp.Expression) -> bool:
    """Merge, in place, the UNION ALL branches of `statement` (Spark SQL) that scan the same
    relation; True when anything was merged."""
    changed = _lift_joins(statement)
    for union, branches in _heads(statement):
        names = [e.alias_or_name for e in branches[0].expressions] if isinstance(branches[0], exp.Select) else []
        groups: dict[str, list[_Branch]] = {}
        order: list[str | int] = []
        for position, branch in enumerate(branches):
            found = _source(branch)
            if found is None or len(branch.expressions) != len(names):
                order.append(position)
                continue
            key = found.relation.sql("spark")
            if key not in groups:
                groups[key] = []
                order.append(key)
            groups[key].append(found)
        if all(len(members) < 2 for members in groups.values()):
            continue
        parts = [branches[item] if isinstance(item, int) else
                 (_merged(groups[item][0].relation, groups[item], names) if len(groups[item]) > 1
                  else groups[item][0].select)
                 for item in order]
        merged = parts[0]
        for part in parts[1:]:
            merged = exp.union(merged, part, distinct=False, copy=False)
        union.replace(merged)
        changed = True
    return changed

