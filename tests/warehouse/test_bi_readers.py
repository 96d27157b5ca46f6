"""What BI tools see: the warehouse opened directly, and the published copy next to it.

The project's warehouse file is target/monitoring.duckdb (not warehouse.duckdb), so nothing
here depends on the catalog name mlmon attaches the file under.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import sqlalchemy

from mlmon.warehouse.tables import SYSTEM_TABLES
from tests.warehouse.conftest import run_cli

# "Data drift per month" as a BI user writes it against the published copy (also in the README).
DRIFT_PER_MONTH = """
SELECT month, arg_max(data_drift, created_at) AS data_drift
FROM fraud_monitor
GROUP BY month
ORDER BY month
"""
# The newest format DuckDB 1.4 reads (storage version number in the file header).
DUCKDB_1_4_STORAGE = 67


def warehouse_file(root: Path) -> Path:
    return root / "target" / "monitoring.duckdb"


def published_file(root: Path) -> Path:
    return root / "target" / "published" / "monitoring.duckdb"


def relations(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "SELECT schema_name || '.' || table_name FROM duckdb_tables() WHERE NOT internal "
        "UNION ALL SELECT schema_name || '.' || view_name FROM duckdb_views() WHERE NOT internal"
    ).fetchall()
    return {r[0] for r in rows}


@pytest.mark.parametrize("which", [warehouse_file, published_file])
def test_plain_duckdb_opens_the_file_and_reads_system_tables_and_store_views(bi_project, which):
    con = duckdb.connect(str(which(bi_project)), read_only=True)
    try:
        assert con.execute("SELECT current_database()").fetchone() == ("monitoring",)
        assert con.execute("SELECT count(*) FROM mlmon.metrics").fetchone()[0] > 10
        for table in SYSTEM_TABLES:
            con.execute(f'SELECT * FROM mlmon."{table}"').fetchall()
        store = con.execute("SELECT * FROM fraud_monitor").df()
        assert store["month"].tolist() == ["2017_01"]
        assert 0 <= store["data_drift"].iloc[0] <= 1
        per_feature = con.execute("SELECT feature, psi FROM fraud_monitor_feature_drift ORDER BY feature").fetchall()
        assert [f for f, _ in per_feature] == ["x1", "x2"]
        # the store view agrees with the metrics table it is built from
        (drift,) = con.execute("SELECT value FROM mlmon.metrics WHERE store = 'fraud_monitor' "
                               "AND metric = 'data_drift' AND feature IS NULL").fetchone()
        assert drift == pytest.approx(store["data_drift"].iloc[0])
    finally:
        con.close()


def test_the_published_copy_holds_mlmon_the_store_views_and_published_nodes_only(bi_project):
    con = duckdb.connect(str(published_file(bi_project)), read_only=True)
    try:
        names = relations(con)
        assert {f"mlmon.{t}" for t in SYSTEM_TABLES} <= names
        assert {"main.fraud_monitor", "main.fraud_monitor_feature_drift", "main.current_summary"} <= names
        assert "main.private_summary" not in names, "only nodes with publish: true"
        assert {n.split(".")[0] for n in names} == {"main", "mlmon"}
        assert con.execute("SELECT n FROM current_summary").fetchone() == (300,)
    finally:
        con.close()


@pytest.mark.parametrize("which", [warehouse_file, published_file])
def test_files_are_written_in_duckdb_1_4_storage_format(bi_project, which):
    path = which(bi_project)
    header = path.read_bytes()[:20]
    assert header[8:12] == b"DUCK"
    (storage_number,) = struct.unpack("<Q", header[12:20])
    assert storage_number <= DUCKDB_1_4_STORAGE
    con = duckdb.connect(str(path), read_only=True)
    try:
        (tags,) = con.execute("SELECT tags FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
    finally:
        con.close()
    assert tags["storage_version"].startswith("v1.4.0")


def test_sqlalchemy_with_duckdb_engine_reads_the_published_copy(bi_project):
    """As Superset- or Metabase-like tools connect: a SQLAlchemy URL and plain SQL."""
    engine = sqlalchemy.create_engine(f"duckdb:///{published_file(bi_project)}", connect_args={"read_only": True})
    try:
        with engine.connect() as connection:
            frame = pd.read_sql(sqlalchemy.text(DRIFT_PER_MONTH), connection)
            tables = sqlalchemy.inspect(connection).get_table_names(schema="mlmon")
            metrics = connection.execute(sqlalchemy.text("SELECT count(*) FROM mlmon.metrics")).scalar()
    finally:
        engine.dispose()
    assert frame["month"].tolist() == ["2017_01"] and frame["data_drift"].between(0, 1).all()
    assert set(SYSTEM_TABLES) <= set(tables)
    assert metrics > 10


READER = textwrap.dedent("""
    import sys
    import sqlalchemy
    engine = sqlalchemy.create_engine("duckdb:///" + sys.argv[1], connect_args={"read_only": True})
    connection = engine.connect()
    count = lambda c: c.execute(sqlalchemy.text("SELECT count(*) FROM fraud_monitor")).scalar()
    print(count(connection), flush=True)
    sys.stdin.readline()  # held open (with a query done) until the build has finished
    print(count(connection), flush=True)
    connection.close()
    engine.dispose()
    fresh = sqlalchemy.create_engine("duckdb:///" + sys.argv[1], connect_args={"read_only": True})
    with fresh.connect() as c:
        print(count(c), flush=True)
        print(",".join(r[0] for r in c.execute(sqlalchemy.text("SELECT month FROM fraud_monitor ORDER BY month"))))
""")


def test_a_reader_holding_the_published_copy_never_blocks_a_build(bi_project, tmp_path):
    root = tmp_path / "project"
    shutil.copytree(bi_project, root)
    reader = subprocess.Popen([sys.executable, "-c", READER, str(published_file(root))],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline().strip() == "1"
        result = run_cli(root, "build", "--vars", "{month: 2017_02}", "-s", "fraud_monitor", "current_summary")
        assert result.exit_code == 0, result.output
    finally:
        out, err = reader.communicate("\n", timeout=120)
    assert reader.returncode == 0, err
    held, fresh, months = out.split()
    assert held == "1", "the open connection keeps reading the copy it opened"
    assert fresh == "2" and months == "2017_01,2017_02", "a new connection sees the new evaluation"


def published_after(bi_project: Path, tmp_path: Path, statements: list[str]) -> tuple[set[str], Path]:
    """(relations of the published copy, its path) once `statements` ran on a copy of the
    warehouse and a build published it again."""
    root = tmp_path / "project"
    shutil.copytree(bi_project, root)
    con = duckdb.connect(str(warehouse_file(root)))
    for statement in statements:
        con.execute(statement)
    con.close()
    assert run_cli(root, "build", "-s", "current_summary").exit_code == 0
    published = duckdb.connect(str(published_file(root)), read_only=True)
    try:
        return relations(published), published_file(root)
    finally:
        published.close()


def test_leftover_staging_and_scratch_objects_never_reach_the_published_copy(bi_project, tmp_path):
    names, _ = published_after(bi_project, tmp_path, [
        "CREATE TABLE main.current_summary__mlmon_staging AS SELECT 1 AS x",
        "CREATE TABLE mlmon.metrics__mlmon_staging AS SELECT 1 AS x",
        "CREATE SCHEMA IF NOT EXISTS mlmon_scratch",
        "CREATE TABLE mlmon_scratch.leftover AS SELECT 1 AS x",
        "CREATE SCHEMA IF NOT EXISTS mlmon_staging",
        "CREATE TABLE mlmon_staging.current_summary AS SELECT 1 AS x",
    ])
    assert not [n for n in names if "staging" in n or "scratch" in n]
    assert "main.current_summary" in names


def test_views_named_after_a_store_are_published_only_when_they_read_mlmon_tables_alone(bi_project, tmp_path):
    """The store's own views are published without their SQL being read; any other view whose
    name starts with the store's is published only if it reads nothing but schema mlmon."""
    names, path = published_after(bi_project, tmp_path, [
        "CREATE TABLE main.private_rows AS SELECT 1 AS x",
        "CREATE VIEW main.fraud_monitor_private AS SELECT x FROM main.private_rows",
        "CREATE VIEW main.fraud_monitor_counts AS SELECT metric, count(*) AS n FROM mlmon.metrics GROUP BY metric",
    ])
    with duckdb.connect(str(path), read_only=True) as published:
        assert published.execute("SELECT count(*) FROM fraud_monitor_counts").fetchone()[0] > 0
    assert {"main.fraud_monitor", "main.fraud_monitor_feature_drift", "main.fraud_monitor_counts"} <= names
    assert "main.fraud_monitor_private" not in names


def test_a_command_that_changes_nothing_does_not_republish(bi_project, tmp_path):
    root = tmp_path / "project"
    shutil.copytree(bi_project, root)
    before = published_file(root).stat().st_mtime_ns
    assert run_cli(root, "show", "fraud_monitor").exit_code == 0
    assert run_cli(root, "build", "--dry-run").exit_code == 0
    assert published_file(root).stat().st_mtime_ns == before
    assert not list(published_file(root).parent.glob(".*.tmp*")), "no temporary file left behind"


def test_every_metric_a_build_stores_is_in_the_registry(bi_project):
    """A metric added without its definition in mlmon.metrics.registry fails here."""
    from mlmon.metrics.registry import is_registered

    con = duckdb.connect(str(warehouse_file(bi_project)), read_only=True)
    try:
        names = [r[0] for r in con.execute("SELECT DISTINCT metric FROM mlmon.metrics ORDER BY 1").fetchall()]
    finally:
        con.close()
    assert len(names) > 20
    assert [n for n in names if not is_registered(n)] == []
