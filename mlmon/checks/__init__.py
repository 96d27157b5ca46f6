"""Check statuses: how a metric value, a value set or a count of failing rows becomes
OK / WARNING / ERROR / EMPTY, and how that status becomes a node status. Pure functions: the
check node reads the warehouse and writes `mlmon.check_results`."""

from mlmon.checks.evaluate import (
    Bounds,
    CheckStatus,
    Verdict,
    apply_severity,
    check_bounds,
    check_rows,
    check_values,
    format_value,
    node_status,
)

__all__ = [
    "Bounds",
    "CheckStatus",
    "Verdict",
    "apply_severity",
    "check_bounds",
    "check_rows",
    "check_values",
    "format_value",
    "node_status",
]
