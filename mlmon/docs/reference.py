"""docs/reference.md, generated from what the code itself validates and stores.

Sources: the project-file and target keys (mlmon.project.loader, mlmon.warehouse.targets), each
node kind's field schema (mlmon.nodes), the metric registry (mlmon.metrics.registry) and the
system table definitions (mlmon.warehouse.tables, meanings in mlmon.warehouse.table_docs). A
test fails when the committed file differs from what this module generates.

    python -m mlmon.docs.reference            # rewrite docs/reference.md
    python -m mlmon.docs.reference --check    # exit 1 if it is out of date
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Iterable, Sequence

__all__ = ["render_reference", "DEFAULT_PATH", "main"]

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "docs" / "reference.md"
REGENERATE = "python -m mlmon.docs.reference"
_TYPE_NAMES = {str: "string", int: "integer", float: "number", bool: "boolean", list: "list", dict: "mapping"}


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines + [""]


def _default(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, tuple):
        value = list(value)
    return "`" + json.dumps(value) + "`"


def _project_section() -> list[str]:
    from mlmon.project.loader import PROJECT_KEYS
    from mlmon.warehouse.targets import TARGET_KEYS

    lines = ["## mlmon_project.yml", ""]
    lines += _table(["key", "meaning"], ((f"`{k}`", v) for k, v in PROJECT_KEYS.items()))
    for kind, keys in TARGET_KEYS.items():
        lines += [f"Keys of a `type: {kind}` target:", ""]
        lines += _table(["key", "meaning"], ((f"`{k}`", v) for k, v in keys.items()))
    return lines


def _nodes_section() -> list[str]:
    from mlmon.nodes import KINDS

    lines = ["## Node kinds", "",
             "Every node accepts the common keys; each kind adds its own. A key whose value names other nodes",
             "lists the kinds it may name.", ""]
    for kind in KINDS.values():
        lines += [f"### `{kind.key}` ({kind.type})", ""]
        if kind.__doc__:
            lines += [" ".join(kind.__doc__.split()), ""]
        rows = []
        for f in kind.all_fields().values():
            kinds = " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in f.types)
            if f.many:
                kinds += " (list)"
            notes = [f.doc] if f.doc else []
            if f.choices:
                notes.append("one of " + ", ".join(f"`{c}`" for c in f.choices))
            if f.refs:
                notes.append("names a " + " or ".join(f.refs))
            if f.sql:
                notes.append("a SQL query; the tables it reads become dependencies")
            rows.append((f"`{f.name}`", kinds, "yes" if f.required else "", _default(f.default), "; ".join(notes)))
        lines += _table(["key", "type", "required", "default", "meaning"], rows)
    return lines


def _metrics_section() -> list[str]:
    from mlmon.metrics.registry import FAMILIES, METRICS

    lines = ["## Metrics", "",
             "Names in `mlmon.metrics.metric`. Scope: global rows have `feature` NULL; feature rows name a",
             "column; class rows name a class label. Global metrics are columns of the store view",
             "(with `<metric>_lower` / `<metric>_upper` where an interval is given); a performance metric",
             "marked drift also has `<metric>_drift` = current − reference.", ""]
    for family, about in FAMILIES.items():
        members = [m for m in METRICS if m.family == family]
        if not members:
            continue
        lines += [f"### {family.capitalize()}", "", about, ""]
        lines += _table(["metric", "scope", "tasks", "interval", "drift", "definition"], (
            (f"`{m.name}`", m.scope, ", ".join(m.tasks), "yes" if m.interval else "", "yes" if m.drift else "", m.definition)
            for m in members))
    return lines


def _tables_section() -> list[str]:
    from mlmon.warehouse.table_docs import COLUMN_DOCS, GENERATED_TABLES, TABLE_DOCS
    from mlmon.warehouse.tables import SYSTEM_SCHEMA, SYSTEM_TABLES

    lines = ["## System tables", "",
             f"In schema `{SYSTEM_SCHEMA}` of the warehouse and of its published copy (target/published/).", ""]
    for table in SYSTEM_TABLES.values():
        lines += [f"### `{SYSTEM_SCHEMA}.{table.name}`", ""]
        if table.name in TABLE_DOCS:
            lines += [TABLE_DOCS[table.name].capitalize() + ".", ""]
        lines += _table(["column", "type", "meaning"],
                        ((f"`{c}`", t, COLUMN_DOCS.get((table.name, c), "")) for c, t in table.columns))
    lines += ["### Per-model and per-store relations", ""]
    lines += _table(["relation", "holds"], ((f"`{name}`", about) for name, about in GENERATED_TABLES.items()))
    return lines


def render_reference() -> str:
    lines = ["# mlmon reference", "",
             f"<!-- Generated by `{REGENERATE}` from the code's schemas and registries: do not edit by hand. -->", "",
             "Every key of the project file and of each node kind, every metric, every system table and column.", ""]
    for section in (_project_section, _nodes_section, _metrics_section, _tables_section):
        lines += section()
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=REGENERATE, description="Generate docs/reference.md.")
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_PATH, help="where to write (default: docs/reference.md)")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file differs from what would be generated")
    args = parser.parse_args(argv)
    text = render_reference()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date: run `{REGENERATE}`", file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"Wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
