"""The local Spark driver's class-data archive (`mlmon.warehouse.jvm_archive`) and mlmon's
session settings per master; the archive really mapped by a JVM is tested in
tests/spark/test_jvm_archive_on_spark.py."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from mlmon.warehouse import jvm_archive
from mlmon.warehouse.jvm_archive import archive_options, cache_dir, discard
from mlmon.warehouse.spark import driver_java_options, local_cores, session_settings
from mlmon.warehouse.targets import Target


@pytest.fixture
def dead_pid() -> int:
    """The id of a process that has ended."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _archive(cache: Path) -> Path:
    return jvm_archive._archive_path(cache, "")


def _option(options: str, name: str) -> str:
    return next(o.partition("=")[2] for o in options.split() if o.startswith(f"-XX:{name}="))


def test_without_an_archive_the_jvm_writes_one_at_exit_under_this_process_name(tmp_path: Path) -> None:
    cache = tmp_path / "xdg" / "mlmon"  # made, parents and all
    options = archive_options(cache, None)
    written = Path(_option(options, "ArchiveClassesAtExit"))
    assert written.parent == cache
    assert written.name == f"{_archive(cache).stem}.{os.getpid()}.part"
    assert "SharedArchiveFile" not in options
    assert "-Xlog:cds*=off" in options  # mismatches and signed jars print nothing


def test_an_archive_a_finished_process_wrote_is_renamed_into_place_and_mapped(tmp_path: Path, dead_pid: int) -> None:
    archive = _archive(tmp_path)
    partial = archive.with_name(f"{archive.stem}.{dead_pid}.part")
    partial.write_bytes(b"classes")
    options = archive_options(tmp_path, None)
    assert _option(options, "SharedArchiveFile") == str(archive)
    assert archive.read_bytes() == b"classes" and not partial.exists()
    assert _option(options, "ErrorFile").startswith(str(tmp_path / "jvm-crash-"))  # a crash reports beside it


def test_an_archive_being_written_is_left_alone_and_no_second_one_is_written(tmp_path: Path) -> None:
    archive = _archive(tmp_path)
    writer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        partial = archive.with_name(f"{archive.stem}.{writer.pid}.part")
        partial.write_bytes(b"half")
        assert archive_options(tmp_path, None) == ""
        assert partial.read_bytes() == b"half" and not archive.exists()
        with pytest.raises(subprocess.TimeoutExpired):
            writer.wait(timeout=0.5)  # asked whether it lives, not signalled
    finally:
        writer.kill()
        writer.wait()


def test_a_left_over_partial_is_deleted_when_an_archive_is_there(tmp_path: Path, dead_pid: int) -> None:
    archive = _archive(tmp_path)
    archive.write_bytes(b"mapped")
    partial = archive.with_name(f"{archive.stem}.{dead_pid}.part")
    partial.write_bytes(b"other")
    empty = archive.with_name(f"{archive.stem}.{os.getpid()}.part")  # this process's: not written yet
    assert _option(archive_options(tmp_path, None), "SharedArchiveFile") == str(archive)
    assert archive.read_bytes() == b"mapped" and not partial.exists()
    empty.write_bytes(b"")
    archive.unlink()
    assert "ArchiveClassesAtExit" in archive_options(tmp_path, None)
    assert not empty.exists() and not archive.exists()  # an empty file is no archive


@pytest.mark.parametrize("own", ["-Xshare:off", "-XX:SharedArchiveFile=/x.jsa", "-XX:ArchiveClassesAtExit=/x.jsa"])
def test_a_targets_own_archive_options_decide(tmp_path: Path, own: str) -> None:
    assert archive_options(tmp_path, f"-Xmx2g {own}") == ""
    assert not tmp_path.joinpath("nothing").exists()


def test_other_java_options_keep_the_archive(tmp_path: Path) -> None:
    assert "ArchiveClassesAtExit" in archive_options(tmp_path, "-Xmx2g -Xshare:on")


def test_a_cache_that_cannot_be_made_gives_no_options(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    assert archive_options(tmp_path / "file" / "cache", None) == ""
    assert archive_options(None, None) == ""  # a user without a home


def test_a_cache_whose_leftovers_cannot_be_removed_gives_no_options(tmp_path: Path, dead_pid: int) -> None:
    archive = _archive(tmp_path)
    partial = archive.with_name(f"{archive.stem}.{dead_pid}.part")
    partial.mkdir()  # unlinking it fails, as it would in a cache the user cannot write to
    (partial / "inside").write_text("")
    archive.mkdir()
    (archive / "inside").write_text("")
    assert archive_options(tmp_path, None) == ""


def test_a_new_archive_keeps_the_two_newest_others(tmp_path: Path, dead_pid: int) -> None:
    old = []
    for age in range(4):
        other = tmp_path / f"spark-jvm-{age:016x}.jsa"
        other.write_bytes(b"old")
        os.utime(other, ns=(0, (10 - age) * 10**9))
        old.append(other)
    archive = _archive(tmp_path)
    archive.with_name(f"{archive.stem}.{dead_pid}.part").write_bytes(b"new")
    assert "SharedArchiveFile" in archive_options(tmp_path, None)
    assert [p.exists() for p in old] == [True, True, False, False]
    assert archive.read_bytes() == b"new"


def test_the_archive_is_per_class_path_and_java_runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    plain = jvm_archive._archive_path(tmp_path, "")
    assert re.fullmatch(r"spark-jvm-[0-9a-f]{16}\.jsa", plain.name)
    assert jvm_archive._archive_path(tmp_path, "") == plain
    assert jvm_archive._archive_path(tmp_path, "/extra.jar") != plain
    java_home = tmp_path / "jdk"
    (java_home / "bin").mkdir(parents=True)
    java = java_home / "bin" / "java"
    java.write_text("")
    monkeypatch.setenv("JAVA_HOME", str(java_home))
    other = jvm_archive._archive_path(tmp_path, "")
    assert other != plain
    os.utime(java, ns=(0, 10**9))
    assert jvm_archive._archive_path(tmp_path, "") != other  # the runtime was replaced in place


@pytest.mark.skipif(shutil.which("java") is None, reason="no java on PATH")
def test_java_home_naming_the_runtime_on_path_shares_its_archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    on_path = jvm_archive._archive_path(tmp_path, "")
    (tmp_path / "jdk" / "bin").mkdir(parents=True)
    (tmp_path / "jdk" / "bin" / "java").symlink_to(os.path.realpath(shutil.which("java")))
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk"))
    assert jvm_archive._archive_path(tmp_path, "") == on_path


def test_the_archive_is_per_spark_installation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("pyspark")
    assert (Path(jvm_archive._pyspark_home()) / "jars").is_dir()
    monkeypatch.delenv("SPARK_HOME", raising=False)
    bundled = jvm_archive._archive_path(tmp_path, "")
    monkeypatch.setenv("SPARK_HOME", jvm_archive._pyspark_home())
    assert jvm_archive._archive_path(tmp_path, "") == bundled  # pyspark's own Spark is the default
    spark_home = tmp_path / "spark"
    (spark_home / "jars").mkdir(parents=True)
    monkeypatch.setenv("SPARK_HOME", str(spark_home))
    installed = jvm_archive._archive_path(tmp_path, "")
    assert installed != bundled
    os.utime(spark_home / "jars", ns=(0, 10**9))
    assert jvm_archive._archive_path(tmp_path, "") != installed  # its jars changed


def test_discard_deletes_the_mapped_archive_only(tmp_path: Path) -> None:
    archive = tmp_path / "a=1.jsa"
    archive.write_bytes(b"x")
    other = tmp_path / "b.jsa"
    other.write_bytes(b"y")
    discard(f"-XX:SharedArchiveFile={archive} -XX:ErrorFile={other} -Xlog:cds*=off")
    assert not archive.exists() and other.exists()
    discard(f"-XX:SharedArchiveFile={archive}")  # gone already: nothing to do
    discard("")


def test_cache_dir_follows_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == tmp_path / "mlmon"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "mlmon"
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: (_ for _ in ()).throw(RuntimeError("no home"))))
    assert cache_dir() is None


@pytest.mark.parametrize("master, cores", [("local", 1), ("local[2]", 2), ("local[3,2]", 3), ("local[0]", 1),
                                           ("local[*]", os.cpu_count() or 1), ("local[x]", 1)])
def test_local_cores(master: str, cores: int) -> None:
    assert local_cores(master) == cores


def test_local_masters_run_small_queries_without_spark_big_data_machinery() -> None:
    settings = session_settings(Target(name="lake", type="spark", master="local[3]"))
    assert settings["spark.sql.adaptive.enabled"] == "false"
    assert settings["spark.sql.codegen.wholeStage"] == "false"
    assert "spark.sql.codegen.factoryMode" not in settings  # interpreted, Spark's catalog API fails
    assert settings["spark.sql.shuffle.partitions"] == "3"
    assert settings["spark.sql.session.timeZone"] == "UTC"


def test_a_cluster_keeps_sparks_own_execution_settings_and_a_target_overrides_mlmons() -> None:
    cluster = session_settings(Target(name="c", type="spark", master="sc://spark:15002"))
    assert "spark.sql.adaptive.enabled" not in cluster and "spark.sql.codegen.wholeStage" not in cluster
    assert cluster["spark.sql.shuffle.partitions"] == "8"
    own = session_settings(Target(name="lake", type="spark", master="local[2]",
                                  conf={"spark.sql.adaptive.enabled": "true", "spark.sql.shuffle.partitions": "16"}))
    assert own["spark.sql.adaptive.enabled"] == "true" and own["spark.sql.shuffle.partitions"] == "16"


def test_a_local_driver_collects_with_the_throughput_collector_unless_the_target_names_one(tmp_path: Path) -> None:
    local = Target(name="lake", type="spark", master="local[2]", warehouse_dir=tmp_path)
    options = driver_java_options(local, "-XX:SharedArchiveFile=/a.jsa")
    assert options.split()[-3:] == ["-XX:ReservedCodeCacheSize=240m", "-XX:+UseParallelGC", "-XX:SharedArchiveFile=/a.jsa"]
    assert f"-Dderby.system.home={tmp_path.as_posix()}" in options.split()
    # The JVM refuses two collectors: a target's own wins, and comes last with its other options.
    own = Target(name="lake", type="spark", master="local[2]", warehouse_dir=tmp_path,
                 conf={"spark.driver.extraJavaOptions": "-Xmx2g -XX:+UseG1GC"})
    options = driver_java_options(own, "")
    assert "-XX:+UseParallelGC" not in options and options.endswith("-XX:TieredStopAtLevel=1 "
                                                                     "-XX:ReservedCodeCacheSize=240m -Xmx2g -XX:+UseG1GC")
    assert "-XX:+UseParallelGC" in driver_java_options(replace(own, conf={"spark.driver.extraJavaOptions": "-Xmx2g"}), "")
    cluster = Target(name="c", type="spark", master="spark://head:7077", warehouse_dir=tmp_path)
    assert "UseParallelGC" not in driver_java_options(cluster, "") and "TieredStopAtLevel" not in driver_java_options(cluster, "")
