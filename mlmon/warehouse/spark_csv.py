"""CSV files read on Spark with the types DuckDB reads them with.

The two readers infer types differently: DuckDB's sniffer reads `2012/01/01` as a DATE and
`Yes` / `No` as BOOLEAN, Spark's schema inference leaves both text. A project would then filter,
group and judge other values on each engine (a `WHERE date < DATE '2014-01-01'` keeps every row
on one and none on the other). So a local CSV file is sniffed by DuckDB (`sniff_csv`, with the
dataset's options), read by Spark as text, and each column converted to DuckDB's type, dates and
timestamps with the format DuckDB found. A file whose header Spark reads otherwise, or a format
with a directive that has no Spark pattern, is read with Spark's own inference, as before.
"""

from __future__ import annotations

from typing import Any

import duckdb
from sqlglot import exp

from mlmon.warehouse import sql

__all__ = ["SNIFFED_OPTIONS", "java_pattern", "read_as_duckdb"]

# The reader options that change what DuckDB's sniffer finds (`union_by_name` and the like do not).
SNIFFED_OPTIONS = ("delim", "sep", "header", "nullstr", "quote", "escape", "skip", "dateformat", "timestampformat",
                   "decimal_separator", "comment")
_PATTERNS = {  # strftime directive -> a Spark (Java) pattern that parses it
    "Y": "yyyy", "y": "yy", "m": "M", "-m": "M", "d": "d", "-d": "d", "H": "H", "-H": "H", "I": "h", "-I": "h",
    "M": "mm", "S": "ss", "f": "SSSSSS", "g": "SSS", "p": "a", "b": "MMM", "h": "MMM", "B": "MMMM", "a": "EEE",
    "A": "EEEE", "z": "XXX", "j": "D", "%": "%",
}
_TRUE, _FALSE = ("true", "t", "yes", "y", "1"), ("false", "f", "no", "n", "0")
_INTEGERS = {"TINYINT": "tinyint", "SMALLINT": "smallint", "INTEGER": "int", "BIGINT": "bigint"}


def java_pattern(strftime: str) -> str | None:
    """The Spark pattern of a DuckDB (strftime) format, or None when a directive has none."""
    out, text, i = [], [], 0

    def flush() -> None:
        if text:
            literal = "".join(text).replace("'", "''")
            out.append(f"'{literal}'" if any(c.isalpha() for c in literal) or "'" in literal else literal)
            text.clear()

    while i < len(strftime):
        if strftime[i] != "%":
            text.append(strftime[i])
            i += 1
            continue
        directive = strftime[i + 1:i + 3] if strftime[i + 1:i + 2] == "-" else strftime[i + 1:i + 2]
        if directive not in _PATTERNS:
            return None
        if directive == "%":
            text.append("%")
        else:
            flush()
            out.append(_PATTERNS[directive])
        i += 1 + len(directive)
    flush()
    return "".join(out)


def _sniffed(con: duckdb.DuckDBPyConnection, path: str, options: dict[str, Any]) -> tuple[list[dict[str, str]], str | None, str | None]:
    sniff = sql.table_function("sniff_csv", exp.Literal.string(path),
                               {key: value for key, value in options.items() if key in SNIFFED_OPTIONS})
    query = exp.select("Columns", "DateFormat", "TimestampFormat").from_(sniff)
    columns, date_format, timestamp_format = con.execute(query.sql("duckdb")).fetchone()
    return list(columns), date_format, timestamp_format


def _converted(column: Any, duck_type: str, date_format: str | None, timestamp_format: str | None) -> Any | None:
    """A text column as DuckDB's type; None: a type this reader leaves to Spark's inference."""
    from pyspark.sql import functions as F

    base = duck_type.split("(")[0].strip().upper()
    if base == "VARCHAR":
        return column
    if base in _INTEGERS:
        return column.cast(_INTEGERS[base])
    if base in ("DOUBLE", "FLOAT"):
        return column.cast("double")
    if base == "DECIMAL":
        return column.cast(duck_type.lower())
    if base == "BOOLEAN":
        word = F.lower(F.trim(column))
        return F.when(word.isin(*_TRUE), F.lit(True)).when(word.isin(*_FALSE), F.lit(False))
    zoned = duck_type.upper() == "TIMESTAMP WITH TIME ZONE"
    if base not in ("DATE", "TIMESTAMP") and not zoned:
        return None
    found = date_format if base == "DATE" else timestamp_format
    if not found:  # the ISO forms DuckDB reads without a format, as Spark's casts do
        # an instant with an offset: its UTC time, as DuckDB's in UTC
        return column.cast("timestamp_ltz").cast("timestamp_ntz") if zoned else column.cast(base.lower())
    pattern = None if zoned else java_pattern(found)
    if pattern is None:
        return None
    return F.to_date(column, pattern) if base == "DATE" else F.to_timestamp(column, pattern)


def read_as_duckdb(reader: Any, con: duckdb.DuckDBPyConnection, path: str, options: dict[str, Any]) -> Any | None:
    """One CSV file as a Spark DataFrame typed as DuckDB reads it (`reader` carries the header,
    separator and null options), or None to leave the file to Spark's inference."""
    from pyspark.sql import functions as F

    try:
        columns, date_format, timestamp_format = _sniffed(con, path, options)
    except duckdb.Error:
        return None
    text = reader.option("inferSchema", "false").csv(path)
    if text.columns != [c["name"] for c in columns]:
        return None
    typed = []
    for spec in columns:
        name = spec["name"]
        converted = _converted(F.col("`" + name.replace("`", "``") + "`"), spec["type"], date_format, timestamp_format)
        if converted is None:
            return None
        typed.append(converted.alias(name))
    return text.select(*typed)
