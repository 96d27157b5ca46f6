"""Pause points for the kill -9 test suite (tests/chaos).

When MLMON_CHAOS_PAUSE names a phase, the process reaching that phase writes its PID to the
file named by MLMON_CHAOS_FILE and sleeps, so a test can kill it at exactly that instant.
Unset (always, outside that suite), a pause point is one dictionary lookup.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

__all__ = ["PHASES", "pause_point"]

PHASES = (
    "staging_built",  # part of a score table written to its staging table
    "before_swap",  # a staging table complete, not yet swapped in
    "inside_swap",  # the old table dropped inside the swap's transaction
    "evaluation_transaction",  # inside the transaction appending an evaluation
    "artifact_written",  # a model's artifact file written, its registry row not yet
    "registry_row_written",  # the registry row inserted, its transaction not committed
    "scenario_step_running",  # a scenario step about to run, the run row RUNNING
)


def pause_point(phase: str) -> None:
    if os.environ.get("MLMON_CHAOS_PAUSE") != phase:
        return
    marker = os.environ.get("MLMON_CHAOS_FILE")
    if marker:
        Path(marker).write_text(str(os.getpid()), encoding="utf-8")
    time.sleep(600)
