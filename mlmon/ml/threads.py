"""How many native threads scikit-learn's OpenMP/BLAS pools may use for a piece of work.

On small data, extra OpenMP threads buy nothing and, on a busy machine, their spin-waiting
makes a one-second fit take a minute; big fits still get every core.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from threadpoolctl import threadpool_limits

__all__ = ["native_threads", "SMALL_ROWS"]

SMALL_ROWS = 200_000


@contextmanager
def native_threads(rows: int) -> Iterator[None]:
    if rows >= SMALL_ROWS:
        yield
        return
    with threadpool_limits(limits=1):
        yield
