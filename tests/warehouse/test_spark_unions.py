"""Merging UNION ALL branches over one relation into one scan (Spark SQL text, no Spark here:
tests/spark runs the merged statements and compares every metric with DuckDB's)."""

import sqlglot

from mlmon.warehouse.spark_unions import merge_union_scans


def _merge(sql: str) -> tuple[bool, str]:
    statement = sqlglot.parse_one(sql, read="spark")
    return merge_union_scans(statement), statement.sql("spark")


def test_branches_over_one_relation_become_one_scan_keeping_names_and_filters():
    changed, text = _merge(
        "SELECT x.k, COUNT(*) FROM (SELECT 0 AS k, a AS v FROM r AS t WHERE a > 1 "
        "UNION ALL SELECT 1 AS k, b AS v FROM r AS t WHERE NOT b IS NULL "
        "UNION ALL SELECT 0 AS k, a AS v FROM s AS t WHERE a > 1 "
        "UNION ALL SELECT 1 AS k, b AS v FROM s AS t) AS x GROUP BY x.k")
    assert changed
    assert text.count("INLINE(") == 2 and text.count("UNION ALL") == 1
    assert "NAMED_STRUCT('c0', 0, 'c1', a, '__mlmon_keep', a > 1)" in text
    assert "'__mlmon_keep', TRUE" in text  # a branch without WHERE keeps every row
    assert text.startswith("SELECT x.k, COUNT(*) FROM (SELECT __mlmon_rows.c0 AS `k`, __mlmon_rows.c1 AS `v` FROM ")
    assert "WHERE __mlmon_rows.__mlmon_keep" in text
    assert text.endswith("GROUP BY x.k")


def test_branches_over_different_relations_stay_apart_and_order_is_kept():
    changed, text = _merge("SELECT * FROM (SELECT a AS v FROM r UNION ALL SELECT a AS v FROM s "
                           "UNION ALL SELECT b AS v FROM r) AS x")
    assert changed
    assert text.index("INLINE(") < text.index("FROM s")  # the first branch's group stays first


def test_branches_that_are_not_plain_row_wise_projections_are_left_alone():
    for sql in (
        "SELECT * FROM (SELECT a AS v FROM r UNION SELECT b AS v FROM r) AS x",  # UNION, not ALL
        "SELECT * FROM (SELECT SUM(a) AS v FROM r UNION ALL SELECT SUM(b) AS v FROM r) AS x",
        "SELECT * FROM (SELECT a AS v FROM r JOIN s ON r.id = s.id UNION ALL SELECT b AS v FROM r JOIN s ON r.id = s.id) AS x",
        "SELECT * FROM (SELECT * FROM r UNION ALL SELECT * FROM r) AS x",
        "SELECT * FROM (SELECT a AS v FROM r LIMIT 3 UNION ALL SELECT b AS v FROM r) AS x",
        "SELECT * FROM (SELECT RAND() AS v FROM r UNION ALL SELECT b AS v FROM r) AS x",
        "SELECT a AS v FROM r UNION ALL SELECT b AS v FROM r",  # the statement itself: kept as written
    ):
        changed, text = _merge(sql)
        assert not changed and "INLINE" not in text, sql


def test_joins_of_unions_are_lifted_and_filtered_subqueries_of_one_table_share_its_scan():
    part = ("SELECT c.id, r.v FROM (SELECT 0 AS k, a AS v FROM ref AS t WHERE a > 0 UNION ALL "
            "SELECT 0 AS k, a AS v FROM (SELECT * FROM cur AS g WHERE p = {p}) AS t WHERE a > 0) AS r "
            "JOIN cells AS c ON c.k = r.k AND r.v >= c.lo")
    changed, text = _merge(f"SELECT * FROM ({part.format(p=1)} UNION ALL {part.format(p=2)}) AS x")
    assert changed
    assert text.count("JOIN cells") == 1 and text.count("INLINE(") == 2
    assert "'__mlmon_keep', p = 1 AND a > 0" in text and "'__mlmon_keep', p = 2 AND a > 0" in text
    assert "FROM cur AS t" in text and "SELECT *" not in text.removeprefix("SELECT * FROM (")


def test_joins_that_differ_are_not_lifted():
    changed, text = _merge(
        "SELECT * FROM (SELECT c.id FROM (SELECT a AS v FROM r) AS x JOIN c ON c.v = x.v UNION ALL "
        "SELECT c.id FROM (SELECT a AS v FROM r) AS x JOIN d AS c ON c.v = x.v) AS y")
    assert not changed and text.count("JOIN") == 2


def test_parenthesised_branches_are_branches():
    changed, text = _merge("SELECT * FROM ((SELECT a AS v FROM r) UNION ALL (SELECT b AS v FROM r)) AS x")
    assert changed and text.count("INLINE(") == 1 and "UNION" not in text


def test_right_and_full_joins_are_not_lifted():
    for side in ("RIGHT", "FULL OUTER"):
        changed, text = _merge(
            f"SELECT * FROM (SELECT c.id FROM (SELECT a AS v FROM r) AS x {side} JOIN c ON c.v = x.v UNION ALL "
            f"SELECT c.id FROM (SELECT a AS v FROM s) AS x {side} JOIN c ON c.v = x.v) AS y")
        assert not changed and text.count("JOIN") == 2, side


def test_branches_over_values_computed_from_one_relation_share_its_scan_and_each_value():
    branch = ("SELECT {i} AS k, CASE WHEN v > 1 THEN v ELSE v - 1 END AS b, v AS v FROM "
              "(SELECT CAST(({col}) AS DOUBLE) AS v FROM {rel} AS t) AS t WHERE NOT ISNAN(v)")
    changed, text = _merge("SELECT x.k, COUNT(*) FROM (" + " UNION ALL ".join(
        branch.format(i=i, col=col, rel=rel) for rel in ("r", "s") for i, col in enumerate(("a", "a", "b")))
        + ") AS x GROUP BY x.k")
    assert changed
    assert text.count("INLINE(") == 2 and text.count("UNION ALL") == 1
    # Each relation's values once, in its scan, under their own names; the branches name them.
    assert text.count("FROM (SELECT *, CAST((a) AS DOUBLE) AS __mlmon_v0, CAST((b) AS DOUBLE) AS __mlmon_v1 FROM ") == 2
    assert "FROM r AS t) AS t" in text and "FROM s AS t) AS t" in text
    assert ("NAMED_STRUCT('c0', 2, 'c1', CASE WHEN __mlmon_v1 > 1 THEN __mlmon_v1 ELSE __mlmon_v1 - 1 END, "
            "'c2', __mlmon_v1, '__mlmon_keep', NOT ISNAN(__mlmon_v1))") in text
    assert text.count("CAST((a) AS DOUBLE)") == 2


def test_values_computed_from_filtered_rows_keep_the_filters_and_the_branch_conditions():
    branch = ("SELECT v AS v, g AS g FROM (SELECT CAST(({col}) AS DOUBLE) AS v, p + 1 AS g "
              "FROM (SELECT * FROM cur AS q WHERE p = {p}) AS t WHERE a > 0) AS t WHERE v > 2")
    changed, text = _merge("SELECT * FROM (" + " UNION ALL ".join(
        branch.format(col=col, p=p) for p in (1, 2) for col in ("a", "b")) + ") AS x")
    assert changed and text.count("INLINE(") == 1 and "UNION" not in text
    assert text.count("p + 1 AS __mlmon_v") == 1 and "FROM cur AS t) AS t" in text
    assert "'__mlmon_keep', p = 2 AND a > 0 AND __mlmon_v2 > 2)" in text


def test_branches_naming_what_their_values_do_not_hold_are_not_merged_through_them():
    changed, text = _merge(
        "SELECT * FROM (SELECT v AS v FROM (SELECT a AS v FROM r AS t) AS t WHERE w > 0 "
        "UNION ALL SELECT v AS v FROM (SELECT b AS v FROM r AS t) AS t) AS x")
    assert not changed and "INLINE" not in text


def test_plain_branches_and_branches_over_computed_values_of_one_relation_share_its_scan():
    changed, text = _merge("SELECT * FROM (SELECT t.a AS v FROM r AS t WHERE a > 0 UNION ALL "
                           "SELECT v AS v FROM (SELECT CAST(b AS DOUBLE) AS v FROM r AS t) AS t) AS x")
    assert changed and text.count("INLINE(") == 1 and "UNION" not in text
    assert "NAMED_STRUCT('c0', t.a, '__mlmon_keep', a > 0)" in text
    assert "FROM (SELECT *, CAST(b AS DOUBLE) AS __mlmon_v0 FROM r AS t) AS t" in text
