"""File datasets in every format, as globs and lists, read when used."""

from __future__ import annotations

import json

import duckdb

from tests.conftest import query_rows


def test_csv_parquet_json_globs_and_lists(make_project, mlmon):
    root = make_project({
        "models/sources.yml": """
            datasets:
              - name: from_parquet
                files: data/part_*.parquet
              - name: from_json
                files: [data/a.jsonl, data/b.jsonl]
              - name: from_semicolons
                files: data/semi.txt
                format: csv
                options: {delim: ';'}
            """,
        "models/combined.sql": """
            select 'parquet' as source, count(*) as n, sum(x) as total from from_parquet
            union all select 'json', count(*), sum(x) from from_json
            union all select 'csv', count(*), sum(x) from from_semicolons
            """,
    })
    data = root / "data"
    data.mkdir()
    con = duckdb.connect()
    for i in range(3):
        con.execute(f"COPY (SELECT range + {i * 10} AS x FROM range(10)) TO '{data / f'part_{i}.parquet'}'")
    (data / "a.jsonl").write_text("\n".join(json.dumps({"x": v}) for v in (1, 2)))
    (data / "b.jsonl").write_text(json.dumps({"x": 3}))
    (data / "semi.txt").write_text("x;y\n5;a\n6;b\n")
    result = mlmon("build", project=root)
    assert result.exit_code == 0, result.output
    assert sorted(query_rows(root, "SELECT source, n, total FROM main.combined")) == [
        ("csv", 2, 11), ("json", 3, 6), ("parquet", 30, 435)]
    # a new file matching the glob is read by the next build: file datasets are never stale
    con.execute(f"COPY (SELECT 1000 AS x) TO '{data / 'part_9.parquet'}'")
    assert mlmon("build", "-s", "combined", project=root).exit_code == 0
    assert ("parquet", 31, 1435) in query_rows(root, "SELECT source, n, total FROM main.combined")


def test_init_creates_a_project_that_builds(tmp_path, mlmon):
    target = tmp_path / "demo"
    result = mlmon("init", str(target), "--rows", "600")
    assert result.exit_code == 0, result.output
    assert (target / "data" / "transactions_prepared_2017_04.csv").exists()
    assert (target / "mlmon_project.yml").read_text().startswith("#")
    assert "target/" in (target / ".gitignore").read_text().splitlines()
    assert not (target / "gitignore").exists()
    result = mlmon("build", project=target)
    assert result.exit_code == 0, result.output
    assert query_rows(target, "SELECT count(*) FROM mlmon.evaluations WHERE store <> 'mes_for_partner_scores'") == [(2,)]
    # the partner's logged scores: one evaluation per month of 2017
    assert query_rows(target, "SELECT count(*) FROM mlmon.evaluations WHERE store = 'mes_for_partner_scores'") == [(12,)]
    published = duckdb.connect(str(target / "target" / "published" / "warehouse.duckdb"), read_only=True)
    try:  # the example's stores, as a BI tool reads them
        assert published.execute("SELECT count(*) FROM mes_for_input_drift").fetchone() == (1,)
        assert published.execute("SELECT count(*) FROM mlmon.evaluations").fetchone() == (14,)
    finally:
        published.close()
    assert mlmon("init", str(target)).exit_code == 2, "init refuses a folder that is not empty"


def test_numbers_a_marker_made_text_are_named_with_the_option_that_reads_them(make_project, mlmon):
    root = make_project({"models/sources.yml": """
        datasets:
          - name: measures
            files: data/measures.csv
        """})
    (root / "data").mkdir()
    (root / "data" / "measures.csv").write_text(
        "length,mass,code,note\n" + "".join(f"{20 + i},{3000 + i},{c},{n}\n" for i, c, n in (
            (1, "A1", "ok"), (2, "12", "ok"), (3, "B7", "7"), (4, "C9", "fine"))) + "NA,NA,13,ok\n32.5,n/a,14,ok\n")
    result = mlmon("build", project=root)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert ("models/sources.yml:4: column is read as text though its values are numbers but for 'NA': "
            "'length' (5 of 6 values); if 'NA' marks a missing value, add `options: {nullstr: ['NA', '']}` "
            "to the dataset") in text
    assert ("models/sources.yml:4: column is read as text though its values are numbers but for 'NA' and 'n/a': "
            "'mass' (4 of 6 values); if 'NA' and 'n/a' mark a missing value, add `options: {nullstr: ['NA', 'n/a', '']}`"
            ) in text
    assert "'code'" not in text and "'note'" not in text  # codes and words are text
    (root / "models" / "sources.yml").write_text(
        "datasets:\n  - name: measures\n    files: data/measures.csv\n    options: {nullstr: [NA, n/a, '']}\n")
    result = mlmon("build", project=root)
    assert result.exit_code == 0, result.output
    assert "read as text" not in result.output
    con = duckdb.connect()
    relation = f"read_csv(['{root / 'data' / 'measures.csv'}'], nullstr = ['NA', 'n/a', ''])"
    assert con.execute(f"SELECT typeof(length), typeof(mass), count(mass) FROM {relation} GROUP BY ALL").fetchall() == [
        ("DOUBLE", "BIGINT", 4)]
