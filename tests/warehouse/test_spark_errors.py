"""Spark's errors as one line, and the Python its workers run (no Spark needed)."""

from __future__ import annotations

import sys
from pathlib import Path

from mlmon.warehouse.spark import worker_python
from mlmon.warehouse.spark_errors import spark_error_line, worker_exception
from mlmon.warehouse.targets import Target

WORKER_FAILURE = """An exception was thrown from the Python worker. Please see the stack trace below.
Traceback (most recent call last):
  File "/opt/spark/python/lib/pyspark.zip/pyspark/worker.py", line 1900, in main
    func, profiler, deserializer, serializer = read_udfs(pickleSer, infile, eval_type)
  File "/usr/lib/python3/pickle.py", line 10, in loads
    import sklearn
ModuleNotFoundError: No module named 'sklearn'

JVM stacktrace:
org.apache.spark.api.python.PythonException: Traceback (most recent call last):
  File "worker.py", line 1, in main
ModuleNotFoundError: No module named 'sklearn'
\tat org.apache.spark.api.python.BasePythonRunner$ReaderIterator.handlePythonException(PythonRunner.scala:581)
"""


class WorkerFailure(Exception):
    pass


WorkerFailure.__module__ = "pyspark.errors.exceptions.captured"


def test_the_workers_exception_is_the_error_line() -> None:
    assert worker_exception(WORKER_FAILURE) == "ModuleNotFoundError: No module named 'sklearn'"
    assert spark_error_line(WorkerFailure(WORKER_FAILURE)) == \
        "Python worker failed: ModuleNotFoundError: No module named 'sklearn'"


def test_chained_tracebacks_give_the_last_exception() -> None:
    text = ("Traceback (most recent call last):\n  File \"a.py\", line 1\nKeyError: 'x'\n\n"
            "During handling of the above exception, another exception occurred:\n\n"
            "Traceback (most recent call last):\n  File \"b.py\", line 2\nValueError: bad value\n")
    assert worker_exception(text) == "ValueError: bad value"


def test_other_errors_keep_their_first_line() -> None:
    error = WorkerFailure("[UNRESOLVED_ROUTINE] Cannot resolve routine `glob`.\nmore detail")
    assert spark_error_line(error) == "[UNRESOLVED_ROUTINE] Cannot resolve routine `glob`."


def test_local_workers_run_mlmons_own_python_unless_the_target_says_otherwise(tmp_path: Path) -> None:
    assert worker_python(Target("lake", "spark", master="local[2]", warehouse_dir=tmp_path)) == sys.executable
    assert worker_python(Target("lake", "spark", master="local[2]", python="/opt/py/bin/python")) == "/opt/py/bin/python"
    assert worker_python(Target("prod", "spark", master="yarn")) is None
    assert worker_python(Target("prod", "spark", master="yarn", python="/opt/py/bin/python")) == "/opt/py/bin/python"
