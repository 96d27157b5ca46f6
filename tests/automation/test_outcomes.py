from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from mlmon.automation.outcomes import (
    DEFAULT_RUN_IF,
    SKIPPED,
    Outcome,
    RunIf,
    RunRecord,
    RunState,
    StepRecord,
    parse_run_if,
    should_run,
    step_outcome_from_statuses,
    worst,
)
from mlmon.errors import ConfigError, Location

S, W, F, A = Outcome.SUCCESS, Outcome.WARNING, Outcome.FAILED, Outcome.ABORTED
ALL = (S, W, F, A)


def test_outcomes_are_ordered_by_severity() -> None:
    assert S < W < F < A
    assert sorted([A, S, F, W]) == [S, W, F, A]
    assert worst(W, F, S) is F
    assert worst() is S
    assert worst(None, W) is W


def test_outcome_is_a_json_string() -> None:
    assert json.dumps({"o": Outcome.FAILED}) == '{"o": "FAILED"}'
    assert Outcome.parse("warning") is W
    with pytest.raises(ValueError):
        Outcome.parse("BROKEN")


# The whole truth table: condition × the run's outcome before the step.
RUN_IF_TABLE: list[tuple[object, dict[Outcome, bool]]] = [
    ("never", {S: False, W: False, F: False, A: False}),
    ("no_prior_failed", {S: True, W: True, F: False, A: False}),
    (None, {S: True, W: True, F: False, A: False}),  # the default
    ("prior_failed", {S: False, W: False, F: True, A: False}),
    ("always", {S: True, W: True, F: True, A: True}),
    ({"outcome_in": ["WARNING"]}, {S: False, W: True, F: False, A: False}),
    ({"outcome_in": ["failed", "ABORTED"]}, {S: False, W: False, F: True, A: True}),
    ({"outcome_in": "SUCCESS"}, {S: True, W: False, F: False, A: False}),
]


@pytest.mark.parametrize("run_if,expected", RUN_IF_TABLE, ids=lambda v: str(v))
@pytest.mark.parametrize("current", ALL, ids=str)
def test_should_run_truth_table(run_if: object, expected: dict[Outcome, bool], current: Outcome) -> None:
    assert should_run(run_if, current) is expected[current]  # type: ignore[arg-type]
    assert should_run(run_if, str(current).lower()) is expected[current]  # type: ignore[arg-type]
    assert RunState(current).should_run(run_if) is expected[current]  # type: ignore[arg-type]


def test_parse_run_if_forms() -> None:
    assert parse_run_if(None) == DEFAULT_RUN_IF == RunIf("no_prior_failed")
    assert parse_run_if("always") == RunIf("always")
    parsed = parse_run_if({"outcome_in": ["FAILED", "warning"]})
    assert parsed == RunIf("outcome_in", frozenset({F, W}))
    assert parsed.to_config() == {"outcome_in": ["WARNING", "FAILED"]}
    assert str(parsed) == "outcome_in: [WARNING, FAILED]"
    assert parse_run_if(parsed) is parsed


@pytest.mark.parametrize(
    "value,fragment,hint",
    [
        ("prior_fail", "unknown run_if 'prior_fail'", "did you mean 'prior_failed'?"),
        ("outcome_in", "unknown run_if 'outcome_in'", None),
        ({"outcome_in": ["FAILD"]}, "unknown outcome 'FAILD'", "did you mean 'FAILED'?"),
        ({"outcome_in": []}, "non-empty list", None),
        ({"outcome": ["FAILED"]}, "only 'outcome_in'", "did you mean 'outcome_in'?"),
        ({"outcome_in": ["FAILED"], "x": 1}, "only 'outcome_in', got x", None),
        (3, "got int", None),
    ],
)
def test_parse_run_if_errors(value: object, fragment: str, hint: str | None) -> None:
    where = Location("monitors/scenarios.yml", 12)
    with pytest.raises(ConfigError) as info:
        parse_run_if(value, location=where)
    assert fragment in info.value.message
    assert info.value.location == where
    assert info.value.hint == hint


def run_steps(steps: list[tuple[object, bool, Outcome | None]]) -> tuple[list[bool], Outcome]:
    """Drive a RunState as the runner does: (run_if, reset_failure_state, outcome if it runs)."""
    state = RunState()
    ran = []
    for run_if, reset, outcome in steps:
        runs = state.begin_step(run_if, reset_failure_state=reset)
        ran.append(runs)
        state.record(outcome if runs else SKIPPED)
    return ran, state.outcome


@pytest.mark.parametrize(
    "steps,expected_ran,expected_outcome",
    [
        # fail, then a recovery step with prior_failed + reset that succeeds: the run succeeds
        ([(None, False, F), ("prior_failed", True, S)], [True, True], S),
        # the recovery step itself fails: the run fails
        ([(None, False, F), ("prior_failed", True, F)], [True, True], F),
        # the recovery step warns: reset to SUCCESS, then escalated to WARNING
        ([(None, False, F), ("prior_failed", True, W)], [True, True], W),
        # nothing failed: a prior_failed step with reset is skipped and resets nothing
        ([(None, False, W), ("prior_failed", True, S)], [True, False], W),
        # without reset, a successful recovery leaves the run FAILED
        ([(None, False, F), ("prior_failed", False, S)], [True, True], F),
        # after a failure, default steps are skipped until a reset clears the state
        ([(None, False, F), (None, False, S), ("prior_failed", True, S), (None, False, S)], [True, False, True, True], S),
        # reset on an always step that runs in a warned run
        ([(None, False, W), ("always", True, S)], [True, True], S),
        # never never runs, not even with reset
        ([(None, False, F), ("never", True, S)], [True, False], F),
        # ABORTED is worse than FAILED and prior_failed does not react to it
        ([(None, False, A), ("prior_failed", True, S), ("always", False, F)], [True, False, True], A),
        # outcome_in targets WARNING runs only
        ([(None, False, W), ({"outcome_in": ["WARNING"]}, True, S)], [True, True], S),
        # worst wins across steps
        ([(None, False, W), (None, False, S), (None, False, F)], [True, True, True], F),
    ],
)
def test_reset_failure_state_sequences(
    steps: list[tuple[object, bool, Outcome | None]], expected_ran: list[bool], expected_outcome: Outcome
) -> None:
    ran, outcome = run_steps(steps)
    assert ran == expected_ran
    assert outcome is expected_outcome


def test_record_ignores_skipped_steps() -> None:
    state = RunState(W)
    assert state.record(SKIPPED) is W
    assert state.record(None) is W
    assert state.record("failed") is F
    state.reset()
    assert state.outcome is S


@pytest.mark.parametrize(
    "statuses,expected",
    [
        ([], S),
        (["success", "reused"], S),
        (["OK", "OK"], S),
        (["success", "warn"], W),
        (["OK", "WARNING"], W),
        (["OK", "EMPTY"], W),
        (["OK", "WARNING", "ERROR"], F),
        (["success", "fail"], F),
        (["success", "error", "skipped"], F),
    ],
)
def test_step_outcome_from_statuses(statuses: list[str], expected: Outcome) -> None:
    assert step_outcome_from_statuses(statuses) is expected


def test_step_outcome_rejects_unknown_status() -> None:
    with pytest.raises(ValueError, match="unknown node or check status 'bogus'"):
        step_outcome_from_statuses(["bogus"])


def test_records_give_payload_and_rows() -> None:
    start = datetime(2024, 1, 1, 6, 0, tzinfo=timezone.utc)
    run = RunRecord(
        run_id="r1",
        scenario="retrain_model",
        trigger="weekly",
        outcome=F,
        started_at=start,
        ended_at=start + timedelta(seconds=3),
        steps=[
            StepRecord("build_mes", "build", "SUCCESS", None, start, start + timedelta(seconds=1)),
            StepRecord("checks", "run_checks", "FAILED", "data_drift_in_range ERROR"),
            StepRecord("build_model", "train", SKIPPED),
        ],
        trigger_params={"scheduled_at": start.isoformat()},
    )
    payload = run.payload()
    assert payload == {
        "scenario": "retrain_model",
        "run_id": "r1",
        "trigger": "weekly",
        "outcome": "FAILED",
        "started_at": "2024-01-01T06:00:00+00:00",
        "ended_at": "2024-01-01T06:00:03+00:00",
        "steps": [
            {"name": "build_mes", "kind": "build", "outcome": "SUCCESS", "message": None},
            {"name": "checks", "kind": "run_checks", "outcome": "FAILED", "message": "data_drift_in_range ERROR"},
            {"name": "build_model", "kind": "train", "outcome": "SKIPPED", "message": None},
        ],
    }
    json.dumps(payload)
    row = run.row()
    assert row["started_at"] == datetime(2024, 1, 1, 6, 0)  # naive UTC, as the warehouse stores
    assert json.loads(row["trigger_params"]) == {"scheduled_at": "2024-01-01T06:00:00+00:00"}
    assert [r["outcome"] for r in run.step_rows()] == ["SUCCESS", "FAILED", "SKIPPED"]
    assert run.steps[2].skipped and not run.steps[0].skipped


def test_rows_fit_the_system_tables() -> None:
    import duckdb

    from mlmon.warehouse.tables import SYSTEM_TABLES, create_statements

    start = datetime(2024, 1, 1, 7, 0, tzinfo=timezone(timedelta(hours=1)))
    run = RunRecord("r2", "s", "manual", W, start, start + timedelta(seconds=1), [StepRecord("a", "build", "WARNING", "warn")])
    con = duckdb.connect()
    for statement in create_statements():
        con.execute(statement)
    for table, rows in (("scenario_runs", [run.row()]), ("scenario_steps", run.step_rows())):
        columns = SYSTEM_TABLES[table].column_names
        assert set(rows[0]) == set(columns)
        con.executemany(
            f'INSERT INTO mlmon.{table} VALUES ({", ".join("?" for _ in columns)})',
            [[r[c] for c in columns] for r in rows],
        )
    assert con.execute("SELECT outcome, started_at FROM mlmon.scenario_runs").fetchall() == [("WARNING", datetime(2024, 1, 1, 6, 0))]
    assert con.execute("SELECT step, outcome FROM mlmon.scenario_steps").fetchall() == [("a", "WARNING")]
