"""Interpreted expressions for queries over little data on a local master.

Spark compiles a query's expressions to Java bytecode before running it: tenths of a second
per query, which on small data costs more than the rows (the example project's Spark build
spent about 10 of its 60 seconds compiling). Interpreted expressions start at once but cost
about a microsecond more per row and expression: over 3 million rows a binning aggregate took
15 s interpreted against 4.6 s compiled. So a query whose inputs (the leaves of its optimised
plan, as Spark sizes them) hold at most `SMALL_INPUT_BYTES` runs interpreted, any other
compiled, and an input Spark cannot size counts as large.

The mode is set around the fetch of a query's rows only: Spark's own catalog API decodes its
answers with code the interpreted mode cannot run (EXPRESSION_DECODING_FAILED), so the
session's setting is never left changed.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

__all__ = ["FACTORY_MODE", "SMALL_INPUT_BYTES", "chooses_expression_mode", "expressions_for", "input_bytes"]

FACTORY_MODE = "spark.sql.codegen.factoryMode"
SMALL_INPUT_BYTES = 16 << 20


def chooses_expression_mode(spark: Any) -> bool:
    """Whether queries of this session pick their expression mode: on a local master (one
    machine, small data the rule) whose target's conf leaves the mode to Spark."""
    try:
        master = str(spark.sparkContext.master)
    except Exception:  # Spark Connect: no driver here, the server decides
        return False
    return master.startswith("local") and spark.conf.get(FACTORY_MODE, None) is None


def input_bytes(frame: Any) -> int | None:
    """The bytes Spark estimates the query reads (the sum over its plan's leaves), or None
    when it cannot tell."""
    try:
        leaves = frame._jdf.queryExecution().optimizedPlan().collectLeaves()
        return sum(int(str(leaves.apply(i).stats().sizeInBytes())) for i in range(leaves.size()))
    except Exception:
        return None


@contextmanager
def expressions_for(frame: Any) -> Iterator[None]:
    """Run the block (the fetch of `frame`'s rows) with interpreted expressions when the query
    reads little data."""
    size = input_bytes(frame)
    if size is None or size > SMALL_INPUT_BYTES:
        yield
        return
    conf = frame.sparkSession.conf
    conf.set(FACTORY_MODE, "NO_CODEGEN")
    try:
        yield
    finally:
        conf.unset(FACTORY_MODE)
