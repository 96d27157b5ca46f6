"""docs/reference.md is generated from the code and must match it."""

from __future__ import annotations

import subprocess
import sys

from mlmon.docs.reference import DEFAULT_PATH, REGENERATE, render_reference
from mlmon.metrics.registry import METRICS, is_registered
from mlmon.nodes import KINDS
from mlmon.warehouse.tables import SYSTEM_TABLES


def test_docs_reference_is_up_to_date():
    assert DEFAULT_PATH.read_text(encoding="utf-8") == render_reference(), f"docs/reference.md is stale: run `{REGENERATE}`"


def test_the_reference_lists_every_key_metric_table_and_column():
    text = render_reference()
    for kind in KINDS.values():
        assert f"### `{kind.key}` ({kind.type})" in text
        for name in kind.all_fields():
            assert f"| `{name}` |" in text
    for metric in METRICS:
        assert f"| `{metric.name}` |" in text and metric.definition in text
    for table in SYSTEM_TABLES.values():
        assert f"### `mlmon.{table.name}`" in text
        assert all(f"| `{column}` | {dtype} |" in text for column, dtype in table.columns)


def test_check_mode_reports_a_stale_file(tmp_path):
    stale = tmp_path / "reference.md"
    stale.write_text("# old\n")
    command = [sys.executable, "-m", "mlmon.docs.reference", "--check", "-o", str(stale)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "out of date" in result.stderr
    assert subprocess.run([sys.executable, "-m", "mlmon.docs.reference", "-o", str(stale)], timeout=120).returncode == 0
    assert subprocess.run(command, timeout=120).returncode == 0


def test_performance_drift_names_resolve_to_their_metric():
    assert is_registered("accuracy_drift") and is_registered("data_drift")
    assert not is_registered("missing_share_drift") and not is_registered("no_such_metric")


def test_family_flags_reach_every_member():
    by_family: dict[str, list] = {}
    for metric in METRICS:
        by_family.setdefault(metric.family, []).append(metric)
    assert all(m.drift for m in by_family["performance"]) and not any(m.drift for m in METRICS if m.family != "performance")
    assert all(m.interval for m in by_family["estimated performance"])
    assert [m.name for m in METRICS if m.interval and m.family != "estimated performance"] == ["data_drift"]
    assert {m.scope for m in by_family["univariate drift"]} == {"feature", "global"}
