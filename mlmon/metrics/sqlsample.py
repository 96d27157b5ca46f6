"""Reproducible samples drawn in SQL: the rows with the smallest seeded hash of their contents.

`ORDER BY hash(columns, seed) LIMIT size` picks the same rows whatever the file order or the
number of threads (rows that tie on the hash are identical in the hashed columns). Ordering a
whole relation to keep a few thousand rows is most of the cost, so on a large relation only
the rows whose hash is a multiple of a modulus (about twice `size` of them) are ordered: still
a function of the rows' contents, and a tenth of the work. Should that leave fewer than `size`
rows (improbable; it takes a deviation of over 70 standard deviations at `size` = 10,000),
the sample is drawn again from every row.
"""

from __future__ import annotations

from typing import Any, Sequence

import pandas as pd

from mlmon.metrics.sqlstats import quote

__all__ = ["hash_sample_sql", "hash_modulus", "draw_hash_sample", "canonical_order"]


def hash_modulus(rows: int | None, size: int) -> int:
    """The prefilter's modulus: about 2 * `size` of `rows` rows keep their place in the order."""
    if not rows or size <= 0:
        return 1
    return max(1, int(rows) // (2 * int(size)))


def hash_sample_sql(relation: str, select: Sequence[str], hashed: Sequence[str], size: int, seed: int,
                    modulus: int = 1, where: str | None = None) -> str:
    """SQL of at most `size` rows of `select`, in the seeded hash order over `hashed`.

    `where`, if given, is a condition on the relation's columns (alias `t`) applied first.
    """
    key = f"hash({', '.join(quote(c) for c in hashed)}, {int(seed)})"
    conditions = [f"({where})"] if where else []
    if modulus > 1:
        conditions.append(f"{key} % {int(modulus)} = 0")
    filtered = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    columns = ", ".join(quote(c) for c in select)
    return f"SELECT {columns} FROM {relation} AS t{filtered} ORDER BY {key} LIMIT {int(size)}"


def draw_hash_sample(con: Any, relation: str, select: Sequence[str], hashed: Sequence[str], size: int, seed: int,
                     rows: int | None = None, where: str | None = None) -> pd.DataFrame:
    """At most `size` rows as a DataFrame; `rows` (the relation's row count, if known) enables
    the prefilter."""
    modulus = hash_modulus(rows, size)
    frame = con.execute(hash_sample_sql(relation, select, hashed, size, seed, modulus, where)).df()
    if modulus > 1 and len(frame) < size:
        frame = con.execute(hash_sample_sql(relation, select, hashed, size, seed, 1, where)).df()
    return canonical_order(frame)


def canonical_order(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows sorted by their values, so that the same rows make the same frame whichever
    engine drew them: models fitted on a sample (the domain classifier, permutation importance)
    see rows in an order that depends on nothing but the data."""
    frame = _plain_numbers(frame)
    if len(frame) < 2 or not len(frame.columns):
        return frame.reset_index(drop=True)
    columns = list(frame.columns)
    try:
        order = frame.sort_values(columns, kind="mergesort", na_position="last").index
    except TypeError:  # an object column mixing types: compare the text of its values
        order = frame.astype(str).sort_values(columns, kind="mergesort").index
    return frame.loc[order].reset_index(drop=True)


def _plain_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """Integer and boolean columns as float64. Engines type the same values differently (DuckDB
    a nullable Int64 where a NULL is present, Spark float64 or int32), and a model must see the
    same numbers whichever engine read them."""
    converted = {
        name: frame[name].astype("float64")
        for name in frame.columns
        if pd.api.types.is_integer_dtype(frame[name].dtype) or pd.api.types.is_bool_dtype(frame[name].dtype)
    }
    return frame.assign(**converted) if converted else frame
