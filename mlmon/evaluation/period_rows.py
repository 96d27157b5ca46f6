"""Every row of several periods, read in a few grouped scans rather than one query per period.

The domain classifier of a period takes every row of the period when the period holds no more
rows than its sample size (`drift_sample`, and the reference's rows). A period store with many
small periods would read each period's rows in a query of its own: on Spark a job, and about
0.1 s, each. Here the rows of consecutive periods are read together, up to `budget` rows per
scan (so memory stays that of one full sample, whatever the number of periods), and handed
out period by period in the order the store evaluates them.
"""

from __future__ import annotations

from typing import Any, Sequence

import pandas as pd

from mlmon.metrics.grouped import Groups
from mlmon.metrics.sqlstats import quote

__all__ = ["PeriodRows"]

_GROUP = "__mlmon_group"


class PeriodRows:
    """The rows of `columns` of each group of `groups` holding at most `budget` rows."""

    def __init__(self, con: Any, groups: Groups, columns: Sequence[str], budget: int):
        self.con, self.groups, self.columns, self.budget = con, groups, list(columns), int(budget)
        self._read: dict[int, pd.DataFrame] = {}

    def holds(self, index: int) -> bool:
        """Whether group `index` is small enough to be read with others."""
        return 0 < self.groups.n_rows[index] <= self.budget

    def rows(self, index: int) -> pd.DataFrame:
        """Group `index`'s rows, in no particular order. Groups before it are forgotten: the
        store asks in order, and a group it skipped is not asked for again."""
        if not self.holds(index):
            raise ValueError(f"group {index} holds {self.groups.n_rows[index]:,} rows, more than {self.budget:,}")
        if index not in self._read:
            self._read = self._scan(self._run_from(index))
        self._read = {j: frame for j, frame in self._read.items() if j >= index}
        return self._read.pop(index)

    def _run_from(self, first: int) -> list[int]:
        """`first` and the small groups after it, as many as fit in one scan of `budget` rows."""
        run, total = [first], self.groups.n_rows[first]
        for j in range(first + 1, len(self.groups.keys)):
            if not self.holds(j) or total + self.groups.n_rows[j] > self.budget:
                break
            run.append(j)
            total += self.groups.n_rows[j]
        return run

    def _scan(self, run: list[int]) -> dict[int, pd.DataFrame]:
        some = Groups(self.groups.relation, self.groups.column, tuple(self.groups.keys[j] for j in run),
                      tuple(self.groups.n_rows[j] for j in run))
        columns = ", ".join(quote(c) for c in self.columns)
        frame = self.con.execute(f"SELECT {some.index_sql()} AS {_GROUP}, {columns} "
                                 f"FROM {some.relation} AS t WHERE {some.wanted()}").df()
        by_group = {int(position): part for position, part in frame.groupby(_GROUP, sort=False)}
        empty = frame.iloc[:0]
        return {j: by_group.get(position, empty).drop(columns=_GROUP).reset_index(drop=True)
                for position, j in enumerate(run)}
