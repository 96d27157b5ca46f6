"""The kept catalog listing follows the CREATE and DROP of one table or view of mlmon's
databases, and any other change makes it list again (no Spark needed: the listing is given)."""

from __future__ import annotations

import pytest
from sqlglot import exp

from mlmon.warehouse.spark_catalog import CatalogListing, Change
from mlmon.warehouse.spark_dialect import parse_duckdb

SCHEMAS = {"main": "lake"}


def _listing(tables: list[tuple[str, str, str]] | None) -> CatalogListing:
    listing = CatalogListing(None, lambda: {"lake", "mlmon", "mlmon_staging"}, lambda frame: [])
    listing._tables = tables
    return listing


def _change(sql: str) -> Change | None:
    return _listing([]).change_of(parse_duckdb(sql)[0], SCHEMAS)


@pytest.mark.parametrize("sql, change", [
    ('CREATE TABLE "main"."Orders" AS SELECT 1 AS a', Change("lake", "orders", "BASE TABLE")),
    ("CREATE OR REPLACE TABLE orders (a INT)", Change("lake", "orders", "BASE TABLE")),
    ('CREATE OR REPLACE VIEW "mlmon"."v" AS SELECT 1 AS a', Change("mlmon", "v", "VIEW")),
    ('DROP TABLE IF EXISTS "main"."orders"', Change("lake", "orders", None)),
    ("DROP VIEW mlmon.v", Change("mlmon", "v", None)),
])
def test_one_relation_created_or_dropped_is_followed(sql: str, change: Change) -> None:
    assert _change(sql) == change


@pytest.mark.parametrize("sql", [
    "CREATE TEMP TABLE t AS SELECT 1 AS a",  # a session's own, never in the listing
    'CREATE TABLE "elsewhere"."t" AS SELECT 1 AS a',  # not a database mlmon writes
    'CREATE TABLE "other_catalog"."main"."t" (a INT)',  # another catalog
    "DROP TABLE a, b",  # more than one relation
    'CREATE SCHEMA IF NOT EXISTS "mlmon"',
    "ALTER TABLE t RENAME TO u",
    "DELETE FROM t WHERE a = 1",
    "UPDATE t SET a = 2",
])
def test_any_other_change_lists_again(sql: str) -> None:
    assert _change(sql) is None


def test_a_change_updates_a_kept_listing_in_place() -> None:
    listing = _listing([("lake", "Orders", "BASE TABLE"), ("mlmon", "metrics", "BASE TABLE")])
    listing._columns = {("lake", "Orders"): [("a", "INTEGER")], ("mlmon", "metrics"): [("m", "VARCHAR")]}
    change = Change("lake", "orders", "VIEW")
    listing.changing(change)
    assert listing._columns == {("mlmon", "metrics"): [("m", "VARCHAR")]}  # the replaced relation's columns go
    listing.changed(change)
    assert listing.tables() == [("mlmon", "metrics", "BASE TABLE"), ("lake", "orders", "VIEW")]
    assert listing.kind("LAKE", "ORDERS") == "VIEW" and listing.kind("lake", "missing") is None
    listing.changed(Change("mlmon", "metrics", None))
    assert listing.tables() == [("lake", "orders", "VIEW")]


def test_a_change_nobody_listed_yet_and_an_unfollowed_one_leave_nothing_stale() -> None:
    listing = _listing(None)
    listing.changed(Change("lake", "orders", "VIEW"))
    assert listing._tables is None  # listed in full at the next question, not from one change
    listing = _listing([("lake", "orders", "VIEW")])
    listing._columns = {("lake", "orders"): []}
    listing.changing(None)
    assert listing._tables is None and listing._columns == {}
