"""Command line of the demo generator: `python -m mlmon.demo.generator`.

Turns the options into `DriftSettings` and calls `mlmon.demo.writers.generate`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from collections.abc import Sequence
from typing import IO

from mlmon.demo.drift import DriftSettings
from mlmon.demo.manifest import MANIFEST_NAME
from mlmon.demo.writers import generate

__all__ = ["main", "parse_months"]


def parse_months(text: str) -> list[int]:
    """'1-12', '4', '1-3,7' -> sorted month numbers."""
    months: set[int] = set()
    try:
        for part in filter(None, (p.strip() for p in text.split(","))):
            if "-" in part:
                a, b = (int(x) for x in part.split("-", 1))
                months.update(range(a, b + 1))
            else:
                months.add(int(part))
    except ValueError:
        raise ValueError(f"months must look like 1-12, 4 or 1-3,7: {text!r}") from None
    if not months or not all(1 <= m <= 12 for m in months):
        raise ValueError(f"months must lie in 1..12: {text!r}")
    return sorted(months)


def _parser() -> argparse.ArgumentParser:
    # The prog name is the documented entry point, not this module.
    parser = argparse.ArgumentParser(
        prog="python -m mlmon.demo.generator",
        description="Generate monthly prepared credit-card transactions with controlled drift.",
    )
    parser.add_argument("--out", default="data", help="output folder (default: data)")
    parser.add_argument("--rows", type=int, default=2500, help="rows per month (default: 2500)")
    parser.add_argument("--months", default="1-12", help="e.g. 1-12, 4, 1-3,7 (default: 1-12)")
    parser.add_argument("--year", type=int, default=2017)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--format", dest="fmt", choices=("csv", "parquet"), default="csv")
    parser.add_argument("--no-partner", action="store_true",
                        help="skip the partner's logged scores and chargebacks (partner_scores_*, chargebacks_*)")
    parser.add_argument(
        "--no-drift",
        action="store_true",
        help="stationary data; the knob options below then add back only the drift they name",
    )
    for knob in ("covariate", "prior", "concept", "new-category"):
        parser.add_argument(
            f"--{knob}", type=float, default=None, help=f"{knob} drift multiplier (default 1.0)"
        )
    parser.add_argument(
        "--new-category-from",
        type=int,
        default=None,
        help="month index where the new subsector appears (0 = never; default 7)",
    )
    accidents = parser.add_argument_group("data-quality accidents (a month index of 0 turns one off)")
    accidents.add_argument("--missing-share", type=float, default=None,
                           help="further share of blank FICO scores (default 0.15)")
    accidents.add_argument("--missing-from", type=int, default=None,
                           help="month index from which FICO scores go missing (default 11)")
    accidents.add_argument("--out-of-range-share", type=float, default=None,
                           help="share of amounts exported in cents (default 0.05)")
    accidents.add_argument("--out-of-range-month", type=int, default=None,
                           help="month index of the amounts-in-cents export bug (default 11)")
    accidents.add_argument("--dropped-column", default=None,
                           help="column the export loses (default merchant_cardholder_distance)")
    accidents.add_argument("--dropped-month", type=int, default=None,
                           help="month index whose export lacks that column (default 12)")
    return parser


_ACCIDENT_MONTHS = ("missing_from", "out_of_range_month", "dropped_month")
_ACCIDENT_VALUES = ("missing_share", "out_of_range_share", "dropped_column")


def _drift_settings(args: argparse.Namespace, parser: argparse.ArgumentParser) -> DriftSettings:
    drift = DriftSettings.none() if args.no_drift else DriftSettings()
    overrides: dict[str, object] = {}
    for knob in ("covariate", "prior", "concept", "new_category"):
        value = getattr(args, knob)
        if value is not None:
            overrides[knob] = value
    if args.new_category_from is not None:
        overrides["new_category_from"] = args.new_category_from or None
        # With --no-drift the new subsector's share scale is 0, so naming its first month
        # alone would otherwise have no effect.
        if args.new_category_from and args.no_drift and "new_category" not in overrides:
            overrides["new_category"] = 1.0
    for name in _ACCIDENT_MONTHS:
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name) or None
    for name in _ACCIDENT_VALUES:
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    if overrides:
        try:
            drift = DriftSettings(**{**drift.as_dict(), **overrides})
        except ValueError as exc:
            parser.error(str(exc))
    return drift


def main(argv: Sequence[str] | None = None, out: IO[str] | None = None) -> int:
    out = out or sys.stdout
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        months = parse_months(args.months)
    except ValueError as exc:
        parser.error(str(exc))
    if args.rows < 0:
        parser.error("--rows must be >= 0")
    drift = _drift_settings(args, parser)

    started = time.perf_counter()
    paths = generate(args.out, args.year, months, args.rows, args.seed, drift, args.fmt)
    if not args.no_partner:
        from mlmon.demo.partner import write_partner_files

        partner = write_partner_files(Path(args.out), args.year, args.seed, drift)
        print(f"wrote {len(partner)} partner file(s) (partner_scores_*, chargebacks_*)", file=out)
    elapsed = time.perf_counter() - started
    size = sum(p.stat().st_size for p in paths)
    print(
        f"wrote {len(paths)} file(s), {args.rows * len(paths):,} rows, {size / 1e6:.1f} MB "
        f"in {elapsed:.1f}s to {args.out}/ (+ {MANIFEST_NAME})",
        file=out,
    )
    return 0
