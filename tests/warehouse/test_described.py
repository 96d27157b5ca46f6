"""The columns of file scans kept while the files are unchanged (mlmon.warehouse.described)."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from mlmon.warehouse import described
from mlmon.warehouse.described import described_file_scan


def _scan(pattern: str) -> str:
    return f"READ_CSV(['{pattern}'], union_by_name = TRUE)"


def _asked(con, relation_sql: str, calls: list[str]) -> list[tuple[str, str]]:
    def describe() -> list[tuple[str, str]]:
        calls.append(relation_sql)
        return [(r[0], str(r[1])) for r in con.execute(f"DESCRIBE SELECT * FROM {relation_sql}").fetchall()]
    return described_file_scan(con, relation_sql, describe)


def test_a_scan_is_described_again_only_when_a_file_changed_or_appeared(tmp_path: Path) -> None:
    con = duckdb.connect()
    (tmp_path / "a.csv").write_text("x,y\n1,a\n")
    scan, calls = _scan(str(tmp_path / "*.csv")), []
    assert _asked(con, scan, calls) == [("x", "BIGINT"), ("y", "VARCHAR")]
    assert _asked(con, scan, calls) == [("x", "BIGINT"), ("y", "VARCHAR")]
    assert len(calls) == 1
    (tmp_path / "b.csv").write_text("x,y,z\n2,b,0.5\n")  # a new file matching the glob
    assert _asked(con, scan, calls)[-1] == ("z", "DOUBLE") and len(calls) == 2
    (tmp_path / "a.csv").write_text("x,y\n1.5,a\n")  # a file rewritten
    os.utime(tmp_path / "a.csv", ns=(1, 1))
    assert _asked(con, scan, calls)[0] == ("x", "DOUBLE") and len(calls) == 3


def test_what_is_not_a_scan_of_absolute_paths_is_always_described(tmp_path: Path, monkeypatch) -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT 1 AS x")
    (tmp_path / "a.csv").write_text("x\n1\n")
    monkeypatch.chdir(tmp_path)
    calls: list[str] = []
    for relation in ("t", "t", _scan("a.csv"), _scan("a.csv"), _scan(str(tmp_path / "missing.csv"))):
        try:
            _asked(con, relation, calls)
        except duckdb.Error:
            pass
    assert len(calls) == 5


def test_engines_keep_their_own_answers_and_the_oldest_go_first(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "a.csv").write_text("x\n1\n")
    scan = _scan(str(tmp_path / "a.csv"))

    class OtherEngine:
        pass

    calls: list[str] = []
    answers = [described_file_scan(con, scan, lambda: calls.append(scan) or [("x", kind)])
               for con, kind in ((duckdb.connect(), "BIGINT"), (OtherEngine(), "INT"))]
    assert answers == [[("x", "BIGINT")], [("x", "INT")]] and len(calls) == 2
    monkeypatch.setattr(described, "_KEPT", 2)
    monkeypatch.setattr(described, "_kept", {})
    for name in ("b", "c", "d"):
        (tmp_path / f"{name}.csv").write_text("x\n1\n")
        described_file_scan(duckdb.connect(), _scan(str(tmp_path / f"{name}.csv")), lambda: [("x", "BIGINT")])
    assert [key[1] for key in described._kept] == [_scan(str(tmp_path / f"{n}.csv")) for n in ("c", "d")]


def test_every_file_of_a_list_counts_and_odd_names_are_files_not_patterns(tmp_path: Path) -> None:
    con = duckdb.connect()
    folder = tmp_path / "it's"
    folder.mkdir()
    a, b = folder / "a.csv", folder / "m[1].csv"  # a quote in the folder, brackets in the name
    a.write_text("x\n1\n")
    b.write_text("y\n2\n")
    quoted = [str(p).replace("'", "''") for p in (a, b)]
    scan, calls = f"READ_CSV(['{quoted[0]}', '{quoted[1]}'], union_by_name = TRUE)", []
    assert _asked(con, scan, calls) == [("x", "BIGINT"), ("y", "BIGINT")]
    a.write_text("x\n1.5\n")  # the first of the list changed
    assert _asked(con, scan, calls)[0] == ("x", "DOUBLE") and len(calls) == 2
    b.write_text("y\nsome text\n")  # the file whose name looks like a pattern changed
    assert _asked(con, scan, calls)[1] == ("y", "VARCHAR") and len(calls) == 3
    assert _asked(con, scan, calls)[1] == ("y", "VARCHAR") and len(calls) == 3
