"""Scenario automation: what decides when a scenario runs, which of its steps run, and who hears
about the result.

- `outcomes`: step and run outcomes (SUCCESS < WARNING < FAILED < ABORTED), `run_if` conditions,
  the run's escalating outcome, and the records written to `mlmon.scenario_runs` / `scenario_steps`.
- `triggers`: time-based (`cron`, `every`) and data-based (`dataset_changed`, `sql_changed`)
  triggers, their fingerprints, and the per-trigger state kept in `mlmon.trigger_state`.
- `reporters`: `stdout`, `file` and `webhook` reporters; a reporter never fails a run and never
  prints a secret.
- `locks`: one run of a scenario at a time, across processes.

These modules hold no knowledge of how a step is executed: the scenario runner and the scheduler
drive them.
"""
