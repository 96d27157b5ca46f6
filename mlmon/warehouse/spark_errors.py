"""Spark's errors as one readable line.

A Python worker's failure reaches the driver as "PythonException: An exception was thrown from
the Python worker" followed by the worker's traceback, often inside a Java stack trace: the line
that matters (e.g. `ModuleNotFoundError: No module named 'sklearn'`) is buried. This module has
no pyspark import, so that reading an error costs nothing.
"""

from __future__ import annotations

import re

__all__ = ["is_spark_error", "spark_error_line", "worker_exception"]

_TRACEBACK = "Traceback (most recent call last):"
_EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_][\w]*\.)*[A-Za-z_]\w*(?::\s.*)?$")


def is_spark_error(exc: BaseException) -> bool:
    return type(exc).__module__.startswith(("pyspark", "py4j"))


def worker_exception(text: str) -> str | None:
    """The last Python exception line (`Type: message`) of the tracebacks in `text`, if any."""
    found, inside = None, False
    for line in text.splitlines():
        if _TRACEBACK in line:
            inside = True
            continue
        if not inside or not line.strip() or line[:1].isspace():
            continue
        candidate = line.strip()
        if _EXCEPTION_LINE.match(candidate) and (":" in candidate or candidate.endswith(("Error", "Exception"))):
            found = candidate.removeprefix("pyspark.errors.exceptions.base.").removeprefix("builtins.")
        inside = False
    return found


def spark_error_line(exc: BaseException) -> str:
    """One line for `exc`: a worker's own Python exception when there is one, else Spark's
    first line."""
    text = str(exc).strip()
    worker = worker_exception(text)
    if worker is not None:
        return f"Python worker failed: {worker}"
    return text.splitlines()[0] if text else type(exc).__name__
