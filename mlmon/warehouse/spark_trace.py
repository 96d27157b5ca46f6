"""What each statement costs Spark: wall seconds and Spark jobs, logged at DEBUG.

Logger `mlmon.warehouse.spark_trace` receives one record per statement the connection runs and
one per result it fetches (a SELECT runs when its rows are fetched, not when it is issued). Each
record carries `phase` ("run" / "fetch"), `kind` (the statement's type), `seconds`, `jobs` (Spark
jobs started meanwhile, from the driver's job counter; None on Spark Connect) and `sql` (the
DuckDB-dialect text, cut short). Nothing is measured unless a handler listens at DEBUG, so a
plain build pays nothing; `bench/spark_latency.py` listens and sums the records per node.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

__all__ = ["TRACE", "traced"]

TRACE = logging.getLogger(__name__)
_SQL_CHARS = 400


def _jobs_started(spark: Any) -> int | None:
    """How many Spark jobs this driver has started so far, or None where it cannot tell."""
    try:
        return int(spark.sparkContext._jsc.sc().dagScheduler().numTotalJobs())
    except Exception:  # Spark Connect: no driver in this process
        return None


@contextmanager
def traced(spark: Any, phase: str, kind: str, sql: str | Callable[[], str]) -> Iterator[None]:
    """Log the wall seconds and Spark jobs of the block, when anyone listens at DEBUG (`sql`
    may be a function: generating SQL text is not free, and nobody may be listening)."""
    if not TRACE.isEnabledFor(logging.DEBUG):
        yield
        return
    sql = sql() if callable(sql) else sql
    jobs_before, started = _jobs_started(spark), time.perf_counter()
    try:
        yield
    finally:
        seconds = time.perf_counter() - started
        jobs_after = _jobs_started(spark)
        jobs = None if jobs_before is None or jobs_after is None else jobs_after - jobs_before
        TRACE.debug("%s %s %.3fs %s jobs: %s", phase, kind, seconds, jobs, sql[:120],
                    extra={"phase": phase, "kind": kind, "seconds": seconds, "jobs": jobs,
                           "sql": sql[:_SQL_CHARS], "at": time.time()})
