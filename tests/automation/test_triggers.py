from __future__ import annotations

import hashlib
import json
import os
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import pytest

from mlmon.automation.triggers import (
    CronTrigger,
    DatasetChangedTrigger,
    IntervalTrigger,
    SqlChangedTrigger,
    TriggerStateStore,
    changed_files,
    check_dataset,
    check_schedule,
    check_sql,
    check_trigger,
    dataset_changed,
    files_fingerprint,
    is_due,
    last_scheduled_time,
    next_fire_time,
    parse_interval,
    parse_trigger,
    parse_triggers,
    sql_fingerprint,
)
from mlmon.errors import ConfigError, Location, MlmonError, ProjectErrors
from mlmon.warehouse.tables import SYSTEM_TABLES, create_statements

UTC = timezone.utc
MONDAY_6 = datetime(2024, 1, 1, 6, 0, tzinfo=UTC)  # 2024-01-01 is a Monday
WEEKLY = CronTrigger("weekly", "0 6 * * 1", "UTC")


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    for statement in create_statements():
        connection.execute(statement)
    return connection


# ---------------------------------------------------------------------------------------------
# parsing


def test_parse_each_kind() -> None:
    assert parse_trigger({"name": "weekly", "cron": "0  6 * * 1"}) == CronTrigger("weekly", "0 6 * * 1")
    assert parse_trigger({"name": "w", "cron": "@daily", "timezone": "Europe/Paris"}) == CronTrigger("w", "@daily", "Europe/Paris")
    assert parse_trigger({"name": "often", "every": "6h"}) == IntervalTrigger("often", timedelta(hours=6), "6h")
    assert parse_trigger({"name": "new_data", "dataset_changed": "new_transactions"}) == DatasetChangedTrigger("new_data", "new_transactions")
    assert parse_trigger({"dataset_changed": "d", "mode": "content"}) == DatasetChangedTrigger("dataset_changed", "d", "content")
    assert parse_trigger({"name": "q", "sql_changed": " select max(ts) from t "}) == SqlChangedTrigger("q", "select max(ts) from t")


@pytest.mark.parametrize(
    "text,expected",
    [("30m", timedelta(minutes=30)), ("6h", timedelta(hours=6)), ("1d", timedelta(days=1)), ("1w", timedelta(weeks=1)),
     ("1d12h", timedelta(days=1, hours=12)), ("45s", timedelta(seconds=45)), (" 2H ", timedelta(hours=2))],
)
def test_parse_interval(text: str, expected: timedelta) -> None:
    assert parse_interval(text) == expected


@pytest.mark.parametrize(
    "spec,fragment,hint",
    [
        ({"name": "t", "cron": "61 * * * *"}, "bad cron '61 * * * *'", None),
        ({"name": "t", "cron": "0 6 * *"}, "expected 5 fields", None),
        ({"name": "t", "cron": "0 0 6 * * 1"}, "expected 5 fields", None),
        ({"name": "t", "cron": "0 6 * * funday"}, "bad cron", None),
        ({"name": "t", "cron": 5}, "cron must be a string", None),
        ({"name": "t", "every": "1x"}, "bad interval '1x'", None),
        ({"name": "t", "every": "0h"}, "longer than zero", None),
        ({"name": "t", "every": "weekly"}, "bad interval", None),
        ({"name": "t", "every": 3}, "every must be a string", None),
        ({"name": "t", "cronn": "0 6 * * 1"}, "trigger needs one of", "did you mean 'cron'?"),
        ({"name": "t", "cron": "0 6 * * 1", "every": "1d"}, "both cron and every", None),
        ({"name": "t", "cron": "0 6 * * 1", "timzone": "UTC"}, "unknown key 'timzone'", "did you mean 'timezone'?"),
        ({"name": "t", "every": "1d", "timezone": "UTC"}, "unknown key 'timezone' in a every trigger", None),
        ({"name": "t", "cron": "0 6 * * 1", "timezone": "Mars/Base"}, "unknown timezone 'Mars/Base'", None),
        ({"name": "t", "dataset_changed": "d", "mode": "stats"}, "mode must be 'stat' or 'content'", "did you mean 'stat'?"),
        ({"name": "t", "sql_changed": ""}, "sql_changed must be a SQL query", None),
        ({"name": "manual", "every": "1d"}, "reserved", None),
        ({"name": "bad name", "every": "1d"}, "bad trigger name", None),
        ("weekly", "must be a mapping", None),
    ],
)
def test_parse_errors(spec: Any, fragment: str, hint: str | None) -> None:
    where = Location("monitors/scenarios.yml", 7)
    with pytest.raises(ConfigError) as info:
        parse_trigger(spec, location=where)
    assert fragment in info.value.message
    assert info.value.hint == hint
    assert info.value.location == where


def test_parse_triggers_reports_every_error() -> None:
    with pytest.raises(ProjectErrors) as info:
        parse_triggers([{"name": "a", "every": "1d"}, {"name": "a", "every": "2d"}, {"name": "b", "every": "1y"}])
    messages = [e.message for e in info.value.errors]
    assert any("duplicate trigger name 'a'" in m for m in messages)
    assert any("bad interval '1y'" in m for m in messages)
    assert parse_triggers(None) == []


# ---------------------------------------------------------------------------------------------
# schedules


def test_next_fire_time_cron_and_interval() -> None:
    assert next_fire_time(WEEKLY, MONDAY_6 - timedelta(seconds=1)) == MONDAY_6
    assert next_fire_time(WEEKLY, MONDAY_6) == MONDAY_6 + timedelta(weeks=1)  # strictly after
    assert next_fire_time(IntervalTrigger("i", timedelta(hours=6), "6h"), MONDAY_6) == MONDAY_6 + timedelta(hours=6)
    # naive datetimes are UTC
    assert next_fire_time(WEEKLY, datetime(2024, 1, 1, 5, 0)) == MONDAY_6


def test_cron_reads_its_timezone_across_dst() -> None:
    paris = CronTrigger("p", "0 6 * * *", "Europe/Paris")
    assert next_fire_time(paris, at(2024, 3, 30, 12)) == at(2024, 3, 31, 4)  # CEST: UTC+2
    assert next_fire_time(paris, at(2024, 3, 29, 12)) == at(2024, 3, 30, 5)  # CET: UTC+1


def test_cron_defaults_to_the_local_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    local = CronTrigger("l", "0 6 * * *")
    assert next_fire_time(local, at(2024, 1, 1, 0)) == at(2024, 1, 1, 11)  # EST: UTC-5


def test_is_due_window() -> None:
    assert not is_due(WEEKLY, None, MONDAY_6)  # never seen: a first look only starts the clock
    assert is_due(WEEKLY, None, MONDAY_6, since=MONDAY_6 - timedelta(minutes=1))
    assert not is_due(WEEKLY, None, MONDAY_6 - timedelta(seconds=1), since=MONDAY_6 - timedelta(minutes=1))
    assert not is_due(WEEKLY, MONDAY_6, MONDAY_6 + timedelta(days=6))  # already fired for it
    assert is_due(WEEKLY, MONDAY_6, MONDAY_6 + timedelta(weeks=1))
    hourly = IntervalTrigger("h", timedelta(hours=1), "1h")
    assert not is_due(hourly, MONDAY_6, MONDAY_6 + timedelta(minutes=59))
    assert is_due(hourly, MONDAY_6, MONDAY_6 + timedelta(minutes=60))


def test_last_scheduled_time_bounds() -> None:
    assert last_scheduled_time(WEEKLY, MONDAY_6 - timedelta(minutes=1), MONDAY_6) == MONDAY_6  # now included
    assert last_scheduled_time(WEEKLY, MONDAY_6, MONDAY_6 + timedelta(minutes=1)) is None  # start excluded
    assert last_scheduled_time(WEEKLY, MONDAY_6, MONDAY_6 + timedelta(weeks=3, hours=1)) == MONDAY_6 + timedelta(weeks=3)
    assert last_scheduled_time(WEEKLY, MONDAY_6, MONDAY_6) is None


def simulate(trigger: CronTrigger | IntervalTrigger, start: datetime, end: datetime, tick: timedelta) -> list[datetime]:
    """`mlmon scheduler --once` from system cron every `tick`: state goes through JSON each time."""
    state: dict[str, Any] | None = None
    fired: list[datetime] = []
    now = start
    while now <= end:
        check = check_schedule(trigger, state, now)
        if check.fired:
            fired.append(now)
            assert datetime.fromisoformat(check.params["scheduled_at"]) <= now
        state = json.loads(json.dumps(check.state))
        now += tick
    return fired


def test_cron_every_minute_fires_each_scheduled_time_once() -> None:
    daily = CronTrigger("daily", "0 6 * * *", "UTC")
    fired = simulate(daily, at(2024, 1, 1, 5, 58), at(2024, 1, 4, 6, 30), timedelta(minutes=1))
    assert fired == [at(2024, 1, 1, 6), at(2024, 1, 2, 6), at(2024, 1, 3, 6), at(2024, 1, 4, 6)]


def test_cron_with_a_tick_that_misses_the_minute() -> None:
    # checks at :07, :14, ...: each 06:00 fires at the first check after it
    daily = CronTrigger("daily", "0 6 * * *", "UTC")
    fired = simulate(daily, at(2024, 1, 1, 0, 3), at(2024, 1, 3, 0, 0), timedelta(minutes=7))
    assert [f.date() for f in fired] == [date(2024, 1, 1), date(2024, 1, 2)]
    assert all(timedelta(0) <= f - f.replace(hour=6, minute=0) < timedelta(minutes=7) for f in fired)


def test_first_look_at_a_scheduled_time_does_not_fire() -> None:
    assert simulate(WEEKLY, MONDAY_6, MONDAY_6 + timedelta(minutes=5), timedelta(minutes=1)) == []


def test_downtime_fires_missed_times_once() -> None:
    first = check_schedule(WEEKLY, None, MONDAY_6 - timedelta(minutes=1))
    after_downtime = check_schedule(WEEKLY, first.state, MONDAY_6 + timedelta(weeks=3, hours=2))
    assert after_downtime.fired
    assert after_downtime.params == {"scheduled_at": (MONDAY_6 + timedelta(weeks=3)).isoformat()}
    assert not check_schedule(WEEKLY, after_downtime.state, MONDAY_6 + timedelta(weeks=3, hours=3)).fired


def test_interval_keeps_its_grid() -> None:
    hourly = IntervalTrigger("h", timedelta(hours=1), "1h")
    start = at(2024, 1, 1, 0, 0)
    state = check_schedule(hourly, None, start).state
    scheduled = []
    now = start
    for _ in range(100):
        now += timedelta(minutes=7)
        check = check_schedule(hourly, state, now)
        if check.fired:
            scheduled.append(datetime.fromisoformat(check.params["scheduled_at"]))
        state = check.state
    assert scheduled == [start + timedelta(hours=k) for k in range(1, 12)]  # 700 minutes: 11 fires, no drift


def test_changing_the_schedule_restarts_the_clock() -> None:
    state = check_schedule(WEEKLY, None, MONDAY_6 - timedelta(days=10)).state
    daily = CronTrigger("weekly", "0 6 * * *", "UTC")
    check = check_schedule(daily, state, MONDAY_6 + timedelta(hours=1))
    assert not check.fired
    assert check.state["since"] == (MONDAY_6 + timedelta(hours=1)).isoformat()
    assert check_schedule(daily, check.state, MONDAY_6 + timedelta(days=1)).fired


# ---------------------------------------------------------------------------------------------
# files


def test_files_fingerprint_modes(tmp_path: Path) -> None:
    a = tmp_path / "data" / "a.csv"
    a.parent.mkdir()
    a.write_text("x\n1\n")
    (tmp_path / "data" / "part").mkdir()
    (tmp_path / "data" / "part" / "p0.parquet").write_bytes(b"PAR1")
    stat = files_fingerprint([a, tmp_path / "data" / "part", tmp_path / "missing.csv"], root=tmp_path)
    assert stat["mode"] == "stat"
    assert list(stat["files"]) == ["data/a.csv", "data/part/p0.parquet"]
    assert stat["files"]["data/a.csv"]["size"] == 4
    content = files_fingerprint([a], "content", root=tmp_path)
    assert content == {"mode": "content", "files": {"data/a.csv": {"sha256": hashlib.sha256(b"x\n1\n").hexdigest()}}}
    json.dumps(stat)
    with pytest.raises(ValueError):
        files_fingerprint([a], "hash")  # type: ignore[arg-type]


def test_dataset_changed_by_mode(tmp_path: Path) -> None:
    f = tmp_path / "t.csv"
    f.write_text("a\n1\n")
    stat0, content0 = files_fingerprint([f]), files_fingerprint([f], "content")
    assert not dataset_changed(None, stat0)  # a baseline, not a change
    assert not dataset_changed(stat0, files_fingerprint([f]))

    st = f.stat()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))  # touch: same bytes
    assert dataset_changed(stat0, files_fingerprint([f]))
    assert not dataset_changed(content0, files_fingerprint([f], "content"))

    f.write_text("a\n2\n")  # same size, new bytes
    assert dataset_changed(content0, files_fingerprint([f], "content"))
    assert not dataset_changed(stat0, files_fingerprint([f], "content"))  # modes do not compare

    g = tmp_path / "u.csv"
    g.write_text("a\n")
    both = files_fingerprint([f, g])
    assert dataset_changed(both, files_fingerprint([f]))  # a removed file is a change
    assert changed_files(both, files_fingerprint([f])) == {"added": [], "removed": [g.as_posix()], "modified": []}


def test_check_dataset(tmp_path: Path) -> None:
    trigger = DatasetChangedTrigger("new_data", "tx", "content")
    f = tmp_path / "tx.csv"
    f.write_text("a\n1\n")
    first = check_dataset(trigger, None, files_fingerprint([f], "content", root=tmp_path))
    assert not first.fired
    state = json.loads(json.dumps(first.state))
    assert not check_dataset(trigger, state, files_fingerprint([f], "content", root=tmp_path)).fired
    f.write_text("a\n1\n2\n")
    (tmp_path / "tx2.csv").write_text("a\n")
    check = check_dataset(trigger, state, files_fingerprint([f, tmp_path / "tx2.csv"], "content", root=tmp_path))
    assert check.fired
    assert check.params == {"dataset": "tx", "added": ["tx2.csv"], "removed": [], "modified": ["tx.csv"]}
    # the trigger now watches another dataset: a new baseline
    other = DatasetChangedTrigger("new_data", "other", "content")
    assert not check_dataset(other, check.state, files_fingerprint([f], "content", root=tmp_path)).fired


# ---------------------------------------------------------------------------------------------
# SQL


def test_sql_fingerprint_ignores_row_order(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE TABLE a AS SELECT * FROM (VALUES (1, 'x'), (2, 'y'), (3, NULL)) t(id, v)")
    con.execute("CREATE TABLE b AS SELECT * FROM (VALUES (3, NULL), (1, 'x'), (2, 'y')) t(id, v)")
    fa = sql_fingerprint(con, "SELECT * FROM a")
    assert len(fa) == 64
    assert fa == sql_fingerprint(con, "SELECT * FROM b")
    assert fa == sql_fingerprint(con, "SELECT * FROM a ORDER BY id DESC")
    con.execute("UPDATE b SET v = 'z' WHERE id = 2")
    assert fa != sql_fingerprint(con, "SELECT * FROM b")
    assert fa != sql_fingerprint(con, "SELECT id AS key, v FROM a")  # column names count


def test_sql_fingerprint_types(con: duckdb.DuckDBPyConnection) -> None:
    query = "SELECT DATE '2024-01-01' d, 1.50::DECIMAL(5,2) m, 'ab'::BLOB b, 'nan'::DOUBLE f, [1, 2] l, {'k': 1} s, TIMESTAMP '2024-01-01 06:00' t"
    assert sql_fingerprint(con, query) == sql_fingerprint(con, query)
    assert sql_fingerprint(con, "SELECT 1 x") != sql_fingerprint(con, "SELECT '1' x")
    assert sql_fingerprint(con, "SELECT 1 x WHERE false") != sql_fingerprint(con, "SELECT 1 x")


def test_sql_fingerprint_error(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(MlmonError, match="sql_changed query failed"):
        sql_fingerprint(con, "SELECT * FROM no_such_table")


def test_check_sql(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE TABLE events AS SELECT 1 AS id")
    trigger = SqlChangedTrigger("q", "SELECT max(id) FROM events")
    first = check_trigger(trigger, None, con=con)
    assert not first.fired
    assert not check_trigger(trigger, first.state, con=con).fired
    con.execute("INSERT INTO events VALUES (2)")
    check = check_trigger(trigger, first.state, con=con)
    assert check.fired and check.params["previous_fingerprint"] == first.state["fingerprint"]
    edited = SqlChangedTrigger("q", "SELECT count(*) FROM events")
    assert not check_sql(edited, check.state, sql_fingerprint(con, edited.query)).fired


def test_check_trigger_dispatches(tmp_path: Path) -> None:
    f = tmp_path / "x.csv"
    f.write_text("a\n")
    trigger = DatasetChangedTrigger("d", "x")
    files = {"x": [f]}
    first = check_trigger(trigger, None, dataset_files=files.__getitem__, root=tmp_path)
    f.write_text("a\nb\n")
    assert check_trigger(trigger, first.state, dataset_files=files.__getitem__, root=tmp_path).fired
    assert not check_trigger(WEEKLY, None, now=MONDAY_6).fired
    with pytest.raises(TypeError):
        check_trigger(trigger, None)


# ---------------------------------------------------------------------------------------------
# state store


def test_state_store_round_trip(con: duckdb.DuckDBPyConnection) -> None:
    store = TriggerStateStore(con)
    assert store.get("s", "weekly") is None
    state = check_schedule(WEEKLY, None, MONDAY_6).state
    store.put("s", "weekly", state, updated_at=MONDAY_6)
    assert store.get("s", "weekly") == state
    store.put("s", "weekly", {"x": [1, 2]})
    store.put("s", "daily", {"y": None})
    store.put("t", "weekly", {"z": "é"})
    assert store.get("s", "weekly") == {"x": [1, 2]}
    assert con.execute("SELECT count(*) FROM mlmon.trigger_state").fetchone() == (3,)
    assert store.all("s") == {("s", "daily"): {"y": None}, ("s", "weekly"): {"x": [1, 2]}}
    store.delete("s", "daily")
    assert store.get("s", "daily") is None
    store.delete("t")
    assert list(store.all()) == [("s", "weekly")]


def test_state_store_rejects_non_json_and_keeps_old_state(con: duckdb.DuckDBPyConnection) -> None:
    store = TriggerStateStore(con)
    store.put("s", "t", {"a": 1})
    with pytest.raises(TypeError):
        store.put("s", "t", {"a": object()})
    assert store.get("s", "t") == {"a": 1}


def test_state_store_joins_an_open_transaction(con: duckdb.DuckDBPyConnection) -> None:
    store = TriggerStateStore(con)
    con.begin()
    store.put("s", "t", {"a": 1})
    con.rollback()
    assert store.get("s", "t") is None
    con.begin()
    store.put("s", "t", {"a": 2})
    con.commit()
    assert store.get("s", "t") == {"a": 2}


def test_state_persists_in_a_warehouse_file(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as first:
        for statement in create_statements():
            first.execute(statement)
        TriggerStateStore(first).put("s", "weekly", check_schedule(WEEKLY, None, MONDAY_6 - timedelta(minutes=1)).state)
    with duckdb.connect(str(path)) as second:  # the next `scheduler --once`
        store = TriggerStateStore(second)
        check = check_schedule(WEEKLY, store.get("s", "weekly"), MONDAY_6)
        assert check.fired


def test_state_store_in_a_catalog_named_mlmon(tmp_path: Path) -> None:
    # a file mlmon.duckdb is a catalog "mlmon": a bare mlmon.trigger_state would be ambiguous
    with duckdb.connect(str(tmp_path / "mlmon.duckdb")) as con:
        columns = ", ".join(f'"{n}" {t}' for n, t in SYSTEM_TABLES["trigger_state"].columns)
        con.execute('CREATE SCHEMA "mlmon"."mlmon"')
        con.execute(f'CREATE TABLE "mlmon"."mlmon"."trigger_state" ({columns})')
        store = TriggerStateStore(con)
        store.put("s", "t", {"a": 1})
        store.put("s", "t", {"a": 2})
        assert store.get("s", "t") == {"a": 2}
