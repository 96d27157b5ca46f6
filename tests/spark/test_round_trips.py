"""What the Spark connection answers without a Spark job or a metastore table, and what it keeps.

Staging-schema tables are cached temporary views, DESCRIBE comes from the analysed plan,
information_schema queries run in an in-memory DuckDB, and query answers are memoised until the
next write. Each must give the answers a real table and a real query give, and nothing may
outlive the connection.
"""

from __future__ import annotations

import pandas as pd
import pytest

from mlmon.metrics.sqlstats import present, with_value
from mlmon.warehouse.spark_catalog import CatalogListing
from mlmon.warehouse.spark_connection import SparkConnection, SparkQueryError
from mlmon.warehouse.spark_dialect import SparkTranslationError
from mlmon.warehouse.spark_staged import VIEW_PREFIX
from mlmon.warehouse.spark_trace import TRACE
from tests.spark.conftest import LoadTable

STAGED = '"mlmon_staging"."orders__current_t1"'


@pytest.fixture(autouse=True)
def staging_schema(engines: dict) -> None:
    for con in engines.values():
        con.execute('CREATE SCHEMA IF NOT EXISTS "mlmon_staging"')


@pytest.fixture
def orders(load_table: LoadTable) -> str:
    frame = pd.DataFrame({"id": [1, 2, 3, 4, 5], "amount": [10.5, 20.0, 7.25, 3.0, 11.0],
                          "shop": ["a", "b", "a", "c", "b"]})
    return load_table("orders", frame)


def _leftovers(con: SparkConnection) -> tuple[list[str], bool]:
    """(temporary views mlmon staged, whether Spark's cache holds anything)."""
    views = [t.name for t in con.spark.catalog.listTables() if t.isTemporary and t.name.startswith(VIEW_PREFIX)]
    return views, bool(con.spark._jsparkSession.sharedState().cacheManager().isEmpty()) is False


def _jobs(con: SparkConnection) -> int:
    return int(con.spark.sparkContext._jsc.sc().dagScheduler().numTotalJobs())


def test_a_staged_table_reads_as_the_table_would(engines: dict, orders: str) -> None:
    create = f"CREATE TABLE {STAGED} AS SELECT shop, sum(amount) AS total, count(*) AS n FROM {orders} GROUP BY shop"
    query = f"SELECT shop, total, n FROM {STAGED} ORDER BY shop"
    answers = {}
    for name, con in engines.items():
        con.execute(f"DROP TABLE IF EXISTS {STAGED}")
        con.execute(create)
        answers[name] = (con.execute(query).fetchall(),
                         con.execute(f"DESCRIBE SELECT * FROM {STAGED}").fetchall(),
                         con.execute("SELECT table_type FROM information_schema.tables WHERE table_schema = "
                                     "'mlmon_staging' AND table_name = 'orders__current_t1'").fetchall())
    assert answers["spark"] == answers["duckdb"]
    assert answers["spark"][0] == [("a", 17.75, 2), ("b", 31.0, 2), ("c", 3.0, 1)]
    spark = engines["spark"]
    # No metastore table: other sessions and BI tools never see it.
    assert "orders__current_t1" not in {t.name for t in spark.spark.catalog.listTables("mlmon_staging")}
    for con in engines.values():
        con.execute(f"DROP TABLE {STAGED}")
    assert spark.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = "
                         "'orders__current_t1'").fetchone() == (0,)
    assert _leftovers(spark) == ([], False)


def test_a_failing_staged_query_keeps_the_previous_one(engines: dict, orders: str) -> None:
    for con in engines.values():
        con.execute(f"CREATE OR REPLACE TABLE {STAGED} AS SELECT id FROM {orders}")
        with pytest.raises(Exception):
            con.execute(f"CREATE OR REPLACE TABLE {STAGED} AS SELECT no_such_column FROM {orders}")
        assert con.execute(f"SELECT count(*) FROM {STAGED}").fetchone() == (5,)
        con.execute(f"DROP TABLE {STAGED}")


def test_a_staged_table_is_read_without_running_its_query_again(spark_con: SparkConnection, orders: str) -> None:
    spark_con.execute(f"CREATE TABLE {STAGED} AS SELECT * FROM {orders} WHERE amount > 5")
    try:
        before = _jobs(spark_con)
        assert spark_con.execute(f"DESCRIBE SELECT * FROM {STAGED}").fetchall() == [
            ("id", "BIGINT", "YES", None, None, None), ("amount", "DOUBLE", "YES", None, None, None),
            ("shop", "VARCHAR", "YES", None, None, None)]
        assert spark_con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = "
                                 "'mlmon_staging'").fetchall() == [("orders__current_t1",)]
        assert spark_con.execute(f"SELECT count(*) FROM {STAGED} AS t").fetchall() == [(4,)]  # counted when cached
        assert _jobs(spark_con) == before  # schema questions and the row count cost no Spark job
        assert spark_con.execute(f"SELECT count(*) FROM {STAGED} WHERE amount > 10").fetchall() == [(3,)]
        plan = spark_con.dataframe(f"SELECT sum(amount) FROM {STAGED}")._jdf.queryExecution().optimizedPlan().toString()
        assert "InMemoryRelation" in plan
    finally:
        spark_con.execute(f"DROP TABLE {STAGED}")


def test_answers_are_kept_until_a_statement_writes(spark_con: SparkConnection, orders: str) -> None:
    count = f"SELECT count(*), sum(amount) FROM {orders}"
    assert spark_con.execute(count).fetchone() == (5, 51.75)
    before = _jobs(spark_con)
    assert spark_con.execute(count).fetchall() == [(5, 51.75)]
    assert _jobs(spark_con) == before
    assert spark_con.execute(count).df().iloc[0].tolist() == [5, 51.75]
    middle = _jobs(spark_con)
    assert spark_con.execute(count).df().iloc[0].tolist() == [5, 51.75]
    assert _jobs(spark_con) == middle
    spark_con.execute(f"INSERT INTO {orders} VALUES (6, 1.0, 'd')")
    assert spark_con.execute(count).fetchone() == (6, 52.75)
    spark_con.execute(f"DELETE FROM {orders} WHERE id = 6")
    assert spark_con.execute(count).fetchone() == (5, 51.75)


def test_a_description_is_kept_until_a_statement_writes(spark_con: SparkConnection, orders: str) -> None:
    describe = f"DESCRIBE SELECT * FROM {STAGED}"
    spark_con.execute(f"CREATE TABLE {STAGED} AS SELECT id, amount FROM {orders}")
    first = spark_con.execute(describe).fetchall()
    assert [r[:2] for r in first] == [("id", "BIGINT"), ("amount", "DOUBLE")]
    assert spark_con.execute(describe).fetchall() == first
    spark_con.execute(f"CREATE OR REPLACE TABLE {STAGED} AS SELECT shop FROM {orders}")
    assert [r[:2] for r in spark_con.execute(describe).fetchall()] == [("shop", "VARCHAR")]
    spark_con.execute(f"DROP TABLE {STAGED}")


def test_union_branches_over_one_relation_give_the_rows_duckdb_gives(engines: dict, orders: str) -> None:
    """Branches merged into one scan on Spark (mlmon.warehouse.spark_unions): same rows."""
    query = (f"SELECT k, v FROM (SELECT 0 AS k, amount AS v FROM {orders} AS t WHERE amount > 8 UNION ALL "
             f"SELECT 1 AS k, CAST(id AS DOUBLE) AS v FROM {orders} AS t UNION ALL "
             f"SELECT 2 AS k, amount AS v FROM (SELECT * FROM {orders} AS g WHERE shop = 'b') AS t) AS x ORDER BY k, v")
    answers = {name: con.execute(query).fetchall() for name, con in engines.items()}
    assert answers["spark"] == answers["duckdb"] and len(answers["duckdb"]) == 10


def test_branches_over_values_computed_once_are_merged_and_give_the_rows_duckdb_gives(engines: dict,
                                                                                   orders: str) -> None:
    """The drift statements' branch form (mlmon.metrics.sqlstats.with_value), beside a plain
    branch, is read in one scan per relation, which Spark accepts (no fallback to the statement
    as written)."""
    shop_b = f"(SELECT * FROM {orders} AS g WHERE shop = 'b')"
    branches = [f"SELECT {k} AS k, CASE WHEN v > 8 THEN v - 8 ELSE v END AS d, v AS v FROM {rows} WHERE {present('v')}"
                for k, rows in enumerate((with_value(orders, "amount"), with_value(orders, "CAST(id AS DOUBLE) * 2"),
                                          with_value(shop_b, "amount", "id > 2"), with_value(orders, "amount")))]
    branches.append(f"SELECT 4 AS k, t.amount AS d, CAST(id AS DOUBLE) AS v FROM {orders} AS t WHERE shop = 'a'")
    query = f"SELECT k, d, v FROM ({' UNION ALL '.join(branches)}) AS x ORDER BY k, v"
    answers = {name: con.execute(query) for name, con in engines.items()}
    assert "INLINE(" in answers["spark"]._key and answers["spark"]._key.count(" AS __mlmon_v") == 2
    rows = {name: answer.fetchall() for name, answer in answers.items()}
    assert rows["spark"] == rows["duckdb"] and len(rows["duckdb"]) == 18


def test_information_schema_follows_tables_created_and_dropped(spark_con: SparkConnection, orders: str) -> None:
    listed = ("SELECT table_name, table_type FROM information_schema.tables WHERE table_catalog = 'warehouse' "
              "AND table_schema = 'main' AND table_name LIKE 'orders%' ORDER BY table_name")
    assert spark_con.execute(listed).fetchall() == [("orders", "BASE TABLE")]
    spark_con.execute(f'CREATE OR REPLACE VIEW "main"."orders_view" AS SELECT id FROM {orders}')
    assert spark_con.execute(listed).fetchall() == [("orders", "BASE TABLE"), ("orders_view", "VIEW")]
    columns = spark_con.execute("SELECT column_name, data_type FROM information_schema.columns WHERE "
                                "table_name = 'orders_view'")
    assert columns.fetchall() == [("id", "BIGINT")] and columns.description[0][0] == "column_name"
    spark_con.execute('DROP VIEW "main"."orders_view"')
    assert spark_con.execute(listed).fetchall() == [("orders", "BASE TABLE")]


def test_the_catalog_listing_follows_mlmons_own_ddl_without_listing_again(
        spark_con: SparkConnection, orders: str, monkeypatch: pytest.MonkeyPatch) -> None:
    spark_con.catalog_tables()  # listed once
    listings = []
    real = CatalogListing.tables

    def tables(self: CatalogListing) -> list:
        if self._tables is None:
            listings.append(1)
        return real(self)

    monkeypatch.setattr(CatalogListing, "tables", tables)
    spark_con.execute(f'CREATE OR REPLACE VIEW "main"."Orders_Kinds" AS SELECT id FROM {orders}')
    assert spark_con.relation_kind("orders_kinds") == "VIEW"
    spark_con.execute('DROP VIEW "main"."orders_kinds"')
    spark_con.execute(f'CREATE TABLE "main"."orders_kinds" AS SELECT id, shop FROM {orders}')
    assert spark_con.relation_kind("ORDERS_KINDS") == "BASE TABLE"
    assert spark_con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = "
                             "'orders_kinds' ORDER BY ordinal_position").fetchall() == [("id",), ("shop",)]
    spark_con.execute(f'CREATE OR REPLACE TABLE "main"."orders_kinds" AS SELECT shop FROM {orders}')
    assert spark_con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = "
                             "'orders_kinds'").fetchall() == [("shop",)]
    # A database created (an evaluation's scratch asks for its schema each time) holds no table.
    spark_con.execute('CREATE SCHEMA IF NOT EXISTS "mlmon_staging"')
    assert spark_con.relation_kind("orders_kinds") == "BASE TABLE"
    assert listings == []
    kept = list(spark_con.catalog_tables())
    spark_con.catalog_changed()
    assert sorted(spark_con.catalog_tables()) == sorted(kept)  # what a fresh listing finds
    # A statement that fails leaves nothing to trust: the next question lists again.
    with pytest.raises(SparkQueryError):
        spark_con.execute('CREATE TABLE "main"."orders_kinds" AS SELECT no_such_column FROM "main"."orders"')
    listings.clear()
    assert spark_con.relation_kind("orders_kinds") == "BASE TABLE" and listings == [1]
    spark_con.execute('DROP TABLE "main"."orders_kinds"')
    assert spark_con.relation_kind("orders_kinds") is None


def test_closing_drops_every_staged_view(spark_con: SparkConnection, orders: str) -> None:
    other = SparkConnection(spark_con.spark, spark_con.root, {"main": "main"})
    other.execute(f"CREATE TABLE {STAGED} AS SELECT * FROM {orders}")
    assert _leftovers(other)[0] and _leftovers(other)[1]
    other.close()
    assert _leftovers(spark_con) == ([], False)


def test_the_trace_counts_statements_and_jobs(spark_con: SparkConnection, orders: str, caplog) -> None:
    with caplog.at_level("DEBUG", logger=TRACE.name):
        spark_con.execute(f"SELECT max(amount) FROM {orders} WHERE shop = 'b'").fetchall()
    records = [(r.phase, r.kind) for r in caplog.records if r.name == TRACE.name]
    assert records == [("run", "Select"), ("fetch", "rows")]
    assert caplog.records[-1].jobs >= 1 and caplog.records[-1].seconds > 0


def test_a_spark_error_names_the_statement(spark_con: SparkConnection) -> None:
    with pytest.raises(SparkQueryError, match="while running"):
        spark_con.execute(f"CREATE TABLE {STAGED} AS SELECT * FROM main.no_such_table").fetchall()
    assert _leftovers(spark_con) == ([], False)


def test_an_older_warehouse_gets_the_new_system_columns(spark_con: SparkConnection, spark_target) -> None:
    """scenario_runs as an mlmon before `pid` and `host` wrote it: opening the warehouse for
    writing adds them, and its rows stay."""
    from mlmon.warehouse.spark import SparkWarehouse

    spark_con.execute('CREATE SCHEMA IF NOT EXISTS "mlmon"')
    spark_con.execute('DROP TABLE IF EXISTS "mlmon"."scenario_runs"')
    spark_con.execute('CREATE TABLE "mlmon"."scenario_runs" ("run_id" TEXT, "scenario" TEXT, "trigger" TEXT, '
                      '"started_at" TIMESTAMP, "ended_at" TIMESTAMP, "outcome" TEXT, "trigger_params" JSON, "message" TEXT)')
    spark_con.execute("INSERT INTO \"mlmon\".\"scenario_runs\" (run_id, scenario, outcome) VALUES ('r1', 'nightly', 'SUCCESS')")
    warehouse = SparkWarehouse(spark_target, spark_con.root)
    try:
        rows = warehouse.con.execute('SELECT run_id, outcome, pid, host FROM "mlmon"."scenario_runs"').fetchall()
    finally:
        warehouse.close()
    assert rows == [("r1", "SUCCESS", None, None)]
    columns = [f.name for f in spark_con.spark.table("mlmon.scenario_runs").schema.fields]
    assert columns[-2:] == ["pid", "host"]


def test_a_reader_of_one_log_table_writes_only_that_tables_kept_rows(spark_con: SparkConnection, spark_target) -> None:
    """`log_rows` keeps a build's log rows; a reader of check_results (a retrain) writes those,
    and the other tables' rows wait for the build's end: one INSERT per table, not per reader."""
    from mlmon.warehouse.spark import SparkWarehouse

    warehouse = SparkWarehouse(spark_target, spark_con.root)
    try:
        warehouse.log_rows("node_results", [{"invocation_id": "flush-test", "node": "a", "status": "success"}])
        warehouse.log_rows("check_results", [{"check": "flush_test", "status": "OK", "invocation_id": "flush-test"}])
        count = ("SELECT (SELECT COUNT(*) FROM mlmon.check_results WHERE invocation_id = 'flush-test'), "
                 "(SELECT COUNT(*) FROM mlmon.node_results WHERE invocation_id = 'flush-test')")
        warehouse.flush_log("check_results")
        assert warehouse.con.execute(count).fetchall() == [(1, 0)]
        warehouse.flush_log("check_results")  # nothing kept for it any more: no second row
        assert warehouse.con.execute(count).fetchall() == [(1, 0)]
    finally:
        warehouse.close()  # the rest, as at a build's end
    assert spark_con.execute(count).fetchall() == [(1, 1)]


def test_a_killed_rewrite_is_finished_or_undone(spark_con: SparkConnection, spark_target) -> None:
    """DELETE / UPDATE rebuild a table beside it, drop it, rename the rebuild: a command killed
    after the drop leaves only the rebuild (renamed into place at the next open), one killed
    before it leaves both (the rebuild is dropped)."""
    from mlmon.warehouse.spark import SparkWarehouse

    for statement in ('DROP TABLE IF EXISTS "main"."kept"', 'DROP TABLE IF EXISTS "main"."lost"',
                      'CREATE TABLE "main"."kept" AS SELECT 1 AS x',
                      'CREATE TABLE "main"."kept__mlmon_rewrite" AS SELECT 2 AS x',
                      'CREATE TABLE "main"."lost__mlmon_rewrite" AS SELECT 3 AS x'):
        spark_con.execute(statement)
    SparkWarehouse(spark_target, spark_con.root).close()
    spark_con.catalog_changed()
    names = {t.name for t in spark_con.spark.catalog.listTables("main")}
    assert {"kept", "lost"} <= names and not {"kept__mlmon_rewrite", "lost__mlmon_rewrite"} & names
    assert spark_con.execute('SELECT x FROM "main"."kept"').fetchall() == [(1,)]
    assert spark_con.execute('SELECT x FROM "main"."lost"').fetchall() == [(3,)]


def test_a_description_outlives_rows_written_but_not_a_change_of_its_relation(
        spark_con: SparkConnection, orders: str, caplog: pytest.LogCaptureFixture) -> None:
    describe = f"DESCRIBE SELECT * FROM {STAGED}"
    spark_con.execute(f"CREATE TABLE {STAGED} AS SELECT id, amount FROM {orders}")
    first = spark_con.execute(describe).fetchall()
    with caplog.at_level("DEBUG", logger=TRACE.name):
        # Rows written, a lookup table registered, another staged table: no column of it changed.
        spark_con.execute(f"INSERT INTO {orders} VALUES (6, 1.0, 'd')")
        spark_con.register("__lookup", pd.DataFrame({"k": [1]}))
        spark_con.execute('CREATE TABLE "mlmon_staging"."orders__other_t1" AS SELECT 1 AS one')
        assert spark_con.execute(describe).fetchall() == first
    assert [r.kind for r in caplog.records if r.name == TRACE.name and r.phase == "run"] == ["Insert", "Create"]
    spark_con.unregister("__lookup")
    spark_con.execute('DROP TABLE "mlmon_staging"."orders__other_t1"')
    spark_con.execute(f"CREATE OR REPLACE TABLE {STAGED} AS SELECT shop FROM {orders}")
    assert [r[:2] for r in spark_con.execute(describe).fetchall()] == [("shop", "VARCHAR")]
    spark_con.execute(f"DROP TABLE {STAGED}")


def test_doubles_in_generated_sql_come_back_bit_for_bit(spark_con: SparkConnection) -> None:
    import numpy as np

    from mlmon.metrics.sqlstats import double_literal
    from tests.metrics.test_double_literal import doubles

    values = doubles()
    row = spark_con.execute("SELECT [" + ", ".join(double_literal(x) for x in values) + "] AS a").fetchone()[0]
    assert np.array_equal(np.array(row, dtype=np.float64).view(np.int64), values.view(np.int64))


def test_a_csv_file_named_by_several_scans_has_its_schema_inferred_once(engines: dict, tmp_path) -> None:
    """File lists sharing CSV files: each file's reader, whose schema inference is a pass over
    the file (a Spark job or two), is made once per connection; every scan answers as DuckDB's."""
    for month, rows in (("a", [(1, 2.5), (2, 3.5)]), ("b", [(3, 4.5)]), ("c", [(4, 5.5), (5, 6.5)])):
        (tmp_path / f"{month}.csv").write_text("id,x\n" + "".join(f"{i},{x}\n" for i, x in rows))
    a, b, c = (str(tmp_path / f"{m}.csv") for m in "abc")
    scans = [f"SELECT sum(id), sum(x), count(*) FROM read_csv([{', '.join(repr(p) for p in files)}], union_by_name = true)"
             for files in ([a, b], [b, c], [c])]
    spark = engines["spark"]
    answers = [spark.execute(scan).fetchall() for scan in scans]
    assert answers == [engines["duckdb"].execute(scan).fetchall() for scan in scans]
    assert answers[1] == [(12, 16.5, 3)]

    def jobs_of(query: str) -> int:
        before = _jobs(spark)
        spark.execute(query).fetchall()
        return _jobs(spark) - before

    # A new list of files already read costs what a query of a list already viewed does: no inference.
    viewed = jobs_of(f"SELECT max(x) FROM read_csv([{c!r}], union_by_name = true)")
    assert jobs_of(f"SELECT max(x) FROM read_csv([{c!r}, {a!r}], union_by_name = true)") == viewed
    spark.close()  # forgets the readers
    assert jobs_of(f"SELECT min(x) FROM read_csv([{c!r}, {a!r}], union_by_name = true)") > viewed


def test_a_csv_marker_of_missing_values_reads_as_null_on_both_engines(engines: dict, tmp_path) -> None:
    """`options: {nullstr: ['NA', '']}`: R's NA and the empty field are NULL, the column a number."""
    path = tmp_path / "rows.csv"
    path.write_text('x,name\n1.5,a\nNA,b\n,c\n2.5,NA\n3.5,\n')
    scan = (f"SELECT count(x), sum(x), count(name), typeof(x) FROM read_csv([{str(path)!r}], union_by_name = true, "
            "nullstr = ['NA', '']) GROUP BY typeof(x)")
    expected = [(3, 7.5, 3, "DOUBLE")]
    assert engines["duckdb"].execute(scan).fetchall() == expected
    assert engines["spark"].execute(scan.replace(", typeof(x)", "").replace(" GROUP BY typeof(x)", "")).fetchall() \
        == [expected[0][:3]]


def test_spark_reads_one_marker_of_missing_values(spark_con: SparkConnection, tmp_path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("x\n1\n")
    with pytest.raises(SparkTranslationError, match="one marker of missing values"):
        spark_con.execute(f"SELECT * FROM read_csv([{str(path)!r}], nullstr = ['NA', 'n/a'])").fetchall()


def test_a_csv_is_read_with_duckdbs_types_on_spark(engines: dict, tmp_path) -> None:
    """Dates as 2012/01/31, Yes / No, instants with an offset: Spark's own inference leaves them
    text; read with the types DuckDB sniffs, every scan answers alike."""
    path = tmp_path / "weather.csv"
    path.write_text("day,rain,windy,seen,n,note\n"
                    "2012/01/31,0.5,Yes,2024-01-31T23:30:00+05:00,3,a\n"
                    "2013/12/31,1.25,No,2024-02-01T01:00:00-02:00,4,b\n"
                    "2014/01/01,,yes,2024-02-01T10:00:00+00:00,,c\n")
    scan = f"read_csv([{str(path)!r}], union_by_name = true)"
    queries = [
        f"SELECT count(*), sum(rain), count(windy) FROM {scan} WHERE day < DATE '2014-01-01'",
        f"SELECT CAST(day AS VARCHAR), windy, CAST(date_trunc('month', seen) AS DATE), n FROM {scan} ORDER BY day",
        f"SELECT sum(CASE WHEN windy THEN 1 ELSE 0 END), max(note) FROM {scan}",
    ]
    for query in queries:
        assert engines["spark"].execute(query).fetchall() == engines["duckdb"].execute(query).fetchall(), query
    assert engines["duckdb"].execute(queries[0]).fetchall() == [(2, 1.75, 2)]
    assert [row[2].isoformat() for row in engines["duckdb"].execute(queries[1]).fetchall()] == [
        "2024-01-01", "2024-02-01", "2024-02-01"]  # UTC months: 18:30 on Jan 31, 03:00 and 10:00 on Feb 1


def test_java_patterns_of_duckdb_formats() -> None:
    from mlmon.warehouse.spark_csv import java_pattern

    assert java_pattern("%Y/%m/%d") == "yyyy/M/d"
    assert java_pattern("%d.%m.%y %H:%M:%S") == "d.M.yy H:mm:ss"
    assert java_pattern("%Y-%m-%dT%H:%M:%S.%f") == "yyyy-M-d'T'H:mm:ss.SSSSSS"
    assert java_pattern("%-m/%-d/%Y %I:%M %p") == "M/d/yyyy h:mm a"
    assert java_pattern("%d %B %Y, week %j") == "d MMMM yyyy', week 'D"
    assert java_pattern("100%% at %Y") == "'100% at 'yyyy"
    assert java_pattern("%Y-%U") is None  # week numbers: no Spark pattern parses them


def test_a_glob_of_many_csv_files_is_left_to_one_spark_reader(engines: dict, tmp_path, monkeypatch) -> None:
    from mlmon.warehouse import spark_files

    for name, day in (("a", "2012/01/31"), ("b", "2013/12/31")):
        (tmp_path / f"{name}.csv").write_text(f"day,x\n{day},1\n")
    query = (f"SELECT count(*), sum(x), count(CASE WHEN day < DATE '2013-01-01' THEN 1 END) "
             f"FROM read_csv([{str(tmp_path / '*.csv')!r}], union_by_name = true)")
    assert engines["spark"].execute(query).fetchall() == engines["duckdb"].execute(query).fetchall() == [(2, 2, 1)]
    engines["spark"].close()  # forgets the readers
    monkeypatch.setattr(spark_files, "TYPED_CSV_FILES", 1)
    # every row is read still; the dates are Spark's own text, as before DuckDB's types were used
    assert engines["spark"].execute(query).fetchall() == [(2, 2, 0)]
