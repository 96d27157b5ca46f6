"""The DuckDB → Spark SQL transforms of mlmon.warehouse.spark_dialect, on generated text only.

No Spark is needed (sqlglot does the work), so these run wherever the package is installed,
pyspark or not. What the translated SQL computes is checked on Spark in tests/spark.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, Sequence

import pytest
from sqlglot import exp

from mlmon.warehouse.spark_dialect import (
    SparkTranslationError,
    bind,
    check_translatable,
    file_reader,
    is_noop,
    literal,
    parse_duckdb,
    spark_sql,
    to_spark,
)


def spark(sql: str, params: Sequence[Any] | None = None, schema_map: dict[str, str] | None = None) -> str:
    """One DuckDB statement as the Spark connection sends it: parse, bind, transform, generate."""
    [statement] = parse_duckdb(bind(sql, params))
    return spark_sql(to_spark(statement, schema_map))


# --- quantiles -----------------------------------------------------------------------------------


def test_quantile_cont_becomes_percentile() -> None:
    # Spark rejects PERCENTILE_CONT(x, q) as an aggregate call; PERCENTILE is exact and linear.
    assert spark("SELECT quantile_cont(x, 0.5) FROM t") == "SELECT PERCENTILE(x, 0.5) FROM t"


def test_quantile_cont_of_a_list_becomes_percentile_of_an_array() -> None:
    assert spark("SELECT quantile_cont(x, [0.1, 0.9]) FROM t") == "SELECT PERCENTILE(x, ARRAY(0.1, 0.9)) FROM t"


def test_percentile_cont_within_group_becomes_percentile() -> None:
    sql = "SELECT percentile_cont(0.25) WITHIN GROUP (ORDER BY x) FROM t"
    assert spark(sql) == "SELECT PERCENTILE(x, 0.25) FROM t"


def test_quantile_disc_is_refused() -> None:
    with pytest.raises(SparkTranslationError, match="quantile_disc"):
        spark("SELECT quantile_disc(x, 0.5) FROM t")


# --- functions whose meaning differs ---------------------------------------------------------------


def test_one_argument_log_is_log10() -> None:
    # DuckDB's log(x) is base 10, Spark's is natural.
    assert spark("SELECT log(x) FROM t") == "SELECT LOG10(x) FROM t"


def test_two_argument_log_and_ln_keep_their_meaning() -> None:
    assert spark("SELECT log(2, x), ln(x) FROM t") == "SELECT LOG(2, x), LN(x) FROM t"


def test_hash_becomes_xxhash64() -> None:
    # Samples are ordered by the hash: Spark's 32-bit hash ties far more often.
    assert spark("SELECT hash(a, 7) FROM t") == "SELECT XXHASH64(a, 7) FROM t"


@pytest.mark.parametrize("name", ["list_reduce", "glob", "unnest_struct", "array_transform"])
def test_a_duckdb_function_without_translation_is_named(name: str) -> None:
    with pytest.raises(SparkTranslationError, match=rf"{name}\(\)"):
        spark(f"SELECT {name}(x) FROM t")


# --- JSON paths ------------------------------------------------------------------------------------


def test_json_path_with_a_dotted_key_is_one_key() -> None:
    # `$.a.b` would be key b inside key a.
    assert spark("""SELECT json_extract_string(j, '$."a.b"') FROM t""") == "SELECT GET_JSON_OBJECT(j, '$[\\'a.b\\']') FROM t"


def test_json_path_keys_and_indexes() -> None:
    assert spark("SELECT j ->> '$.a.b[2]' FROM t") == "SELECT GET_JSON_OBJECT(j, '$[\\'a\\'][\\'b\\'][2]') FROM t"


def test_json_path_keeps_a_backslash_literal() -> None:
    # Spark's bracket form has no escapes: key a\b is written with one backslash (doubled in SQL).
    assert spark("""SELECT json_extract_string(j, '$."a\\\\b"') FROM t""") == \
        "SELECT GET_JSON_OBJECT(j, '$[\\'a\\\\b\\']') FROM t"


def test_json_path_key_with_a_quote_uses_dot_form() -> None:
    assert spark("""SELECT json_extract_string(j, '$."x''y"') FROM t""") == "SELECT GET_JSON_OBJECT(j, '$.x\\'y') FROM t"


@pytest.mark.parametrize("path", ["""$."a.b''c\"""", "$.c[*]", "$.*", "$.c[#-1]", """$."*\""""])
def test_json_path_spark_cannot_express_is_refused(path: str) -> None:
    # Spark's get_json_object would answer NULL (or a different type) without complaint.
    with pytest.raises(SparkTranslationError, match="JSON path"):
        spark(f"SELECT json_extract_string(j, '{path}') FROM t")


# --- parameters --------------------------------------------------------------------------------------


def test_placeholders_are_bound_in_textual_order() -> None:
    sql = "SELECT ? AS a, ? AS b FROM t WHERE x = ? AND y IN (SELECT z FROM u WHERE w = ?) OR v = ? OR d < ?"
    values = [None, True, 3, 0.1, "it's", dt.datetime(2024, 1, 2, 3, 4, 5)]
    assert spark(sql, values) == (
        "SELECT NULL AS a, TRUE AS b FROM t WHERE x = 3 AND y IN (SELECT z FROM u WHERE w = CAST('0.1' AS DOUBLE)) "
        "OR v = 'it\\'s' OR d < CAST('2024-01-02 03:04:05' AS TIMESTAMP_NTZ)"
    )


@pytest.mark.parametrize(("value", "text"), [
    (None, "NULL"),
    (False, "FALSE"),
    (-7, "-7"),
    (2 ** 62, str(2 ** 62)),
    (0.1, "CAST('0.1' AS DOUBLE)"),  # a cast string: a bare 0.1 is a DECIMAL in Spark
    (1e-300, "CAST('1e-300' AS DOUBLE)"),
    (math.nan, "CAST('NaN' AS DOUBLE)"),
    (-math.inf, "CAST('-Infinity' AS DOUBLE)"),
    ("a'b\\c", "'a\\'b\\\\c'"),
    (dt.datetime(2024, 2, 29, 13, 5, 7, 120000), "CAST('2024-02-29 13:05:07.120000' AS TIMESTAMP_NTZ)"),  # DuckDB's TIMESTAMP has no zone
    (dt.date(2024, 2, 29), "CAST('2024-02-29' AS DATE)"),
])
def test_bound_values_are_typed_literals(value: Any, text: str) -> None:
    assert spark("SELECT ?", [value]) == f"SELECT {text}"


def test_a_double_literal_round_trips_exactly() -> None:
    value = 0.1 + 0.2
    assert float(literal(value).this.name) == value


def test_placeholder_count_must_match() -> None:
    with pytest.raises(Exception, match="2 placeholders but 1 parameters"):
        spark("SELECT ?, ?", [1])


# --- names, no-ops, files ------------------------------------------------------------------------------


def test_schema_map_renames_databases() -> None:
    assert spark('SELECT * FROM "main"."t" JOIN other.u ON TRUE', schema_map={"main": "mon"}) == \
        "SELECT * FROM `mon`.`t` JOIN other.u ON TRUE"


@pytest.mark.parametrize("sql", ["BEGIN TRANSACTION", "COMMIT", "ROLLBACK", "SET threads = 2", "PRAGMA version",
                                 "INSTALL httpfs", "LOAD httpfs", "CHECKPOINT", "FORCE CHECKPOINT"])
def test_duckdb_housekeeping_is_a_noop(sql: str) -> None:
    assert is_noop(parse_duckdb(sql)[0])


@pytest.mark.parametrize("sql", ["SELECT checkpoint FROM t", "SELECT 1", "CREATE TABLE t (x INT)"])
def test_statements_are_not_noops(sql: str) -> None:
    assert not is_noop(parse_duckdb(sql)[0])


def test_file_reader_of_a_csv_scan() -> None:
    table = parse_duckdb("SELECT * FROM read_csv(['a.csv', 'b.csv'], header = true, delim = ';')")[0].find(exp.Table)
    assert file_reader(table) == ("csv", ["a.csv", "b.csv"], {"header": True, "delim": ";"})


def test_file_reader_of_list_options_as_the_dataset_writes_them() -> None:
    from mlmon.warehouse import sql

    scan = sql.file_scan("csv", ["a.csv"], {"nullstr": ["NA", ""], "header": False})
    table = parse_duckdb(f"SELECT * FROM {scan.sql('duckdb')}")[0].find(exp.Table)
    assert file_reader(table) == ("csv", ["a.csv"], {"union_by_name": True, "nullstr": ["NA", ""], "header": False})


def test_file_reader_of_a_parquet_glob_and_of_a_table() -> None:
    scan, plain = (parse_duckdb(f"SELECT * FROM {source}")[0].find(exp.Table)
                   for source in ("read_parquet('data/*.parquet')", "main.t"))
    assert file_reader(scan) == ("parquet", ["data/*.parquet"], {})
    assert file_reader(plain) is None


def test_file_reader_needs_literal_paths() -> None:
    table = parse_duckdb("SELECT * FROM read_parquet(p || '.parquet')")[0].find(exp.Table)
    with pytest.raises(SparkTranslationError, match="literal file paths"):
        file_reader(table)


# --- check_translatable ----------------------------------------------------------------------------------


def test_check_translatable_accepts_portable_sql() -> None:
    check_translatable("SELECT quantile_cont(x, 0.5), log(x), hash(x) FROM read_parquet('a.parquet'); SELECT 1")


@pytest.mark.parametrize(("sql", "named"), [
    ("SELECT list_reduce(x, (a, b) -> a + b) FROM t", "list_reduce"),
    ("SELECT quantile_disc(x, 0.5) FROM t", "quantile_disc"),
    ("SELECT * FROM read_csv(p)", "literal file paths"),
    ("SELECT j ->> '$.c[*]' FROM t", "JSON path"),
    ("SELECT FROM WHERE", "cannot parse"),
])
def test_check_translatable_names_the_construct(sql: str, named: str) -> None:
    with pytest.raises(SparkTranslationError, match=named.replace("(", r"\(")):
        check_translatable(sql)
