"""Writing months to disk: one CSV or Parquet file per month, then the drift manifest.

Files are streamed block by block, so memory stays bounded whatever the month's size, and each
lands under its final name only once complete.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from mlmon.demo.drift import DriftSettings
from mlmon.demo.manifest import MonthStats, month_entry, write_manifest
from mlmon.demo.months import iter_month_chunks

__all__ = ["file_name", "generate"]

_Writer = Callable[[Iterable[pd.DataFrame], Path, MonthStats], None]


def file_name(year: int, month: int, fmt: str = "csv") -> str:
    return f"transactions_prepared_{year}_{month:02d}.{fmt}"


def _for_csv(df: pd.DataFrame) -> pd.DataFrame:
    # FICO scores are whole numbers: write "712", not "712.0"; reading back gives float + NaN.
    return df.astype({"card_fico_score": "Int64"}) if "card_fico_score" in df else df


def _write_csv(chunks: Iterable[pd.DataFrame], path: Path, stats: MonthStats) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    # Arrow's writer is an order of magnitude faster than DataFrame.to_csv. No value ever
    # holds a comma, quote or newline, so nothing needs quoting; the header is written by hand
    # because Arrow would quote it.
    options = pacsv.WriteOptions(include_header=False, quoting_style="none")
    with open(path, "wb") as fh:
        for i, df in enumerate(chunks):
            if i == 0:  # the month's own columns: an export may have lost one
                fh.write((",".join(df.columns) + "\n").encode())
            stats.add(df)
            pacsv.write_csv(pa.Table.from_pandas(_for_csv(df), preserve_index=False), fh, options)


def _write_parquet(chunks: Iterable[pd.DataFrame], path: Path, stats: MonthStats) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer: pq.ParquetWriter | None = None
    try:
        for df in chunks:
            stats.add(df)
            table = pa.Table.from_pandas(df, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            else:
                # Arrow infers each block's types on its own (an all-null column comes out as
                # null type), but a Parquet file has one schema: the first block's.
                table = table.cast(writer.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()


def generate(
    out_dir: Path | str,
    year: int = 2017,
    months: Iterable[int] = range(1, 13),
    rows: int = 2500,
    seed: int = 42,
    drift: DriftSettings = DriftSettings(),
    fmt: str = "csv",
) -> list[Path]:
    """Write one file per month and `drift_manifest.json` (the true drift of each month)."""
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"fmt must be 'csv' or 'parquet', got {fmt!r}")
    months = sorted(set(months))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write: _Writer = _write_csv if fmt == "csv" else _write_parquet
    paths: list[Path] = []
    entries: list[dict[str, Any]] = []
    for month in months:
        path = out / file_name(year, month, fmt)
        stats = MonthStats()
        tmp = path.with_name(path.name + ".tmp")
        write(iter_month_chunks(year, month, rows, seed, drift), tmp, stats)
        tmp.replace(path)  # never leave a half-written month where a build would read it
        entries.append(month_entry(year, month, rows, path.name, drift, stats))
        paths.append(path)
    write_manifest(out, seed, year, rows, fmt, drift, entries)
    return paths
