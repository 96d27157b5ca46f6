"""A class-data archive for the driver JVM of a local Spark master: ~4 s off every command.

Starting Spark and its Hive metastore client loads some 25,000 classes, and a JVM parses and
verifies each one on every start: 4.4 s to a session and 3 s more to the first catalog call on
this project's 2-core machines, more than the example project's whole DuckDB build spends on
its first ten nodes. A CDS archive (`-XX:ArchiveClassesAtExit`, JDK 13+) written when one
command's JVM exits holds those classes already parsed; every later JVM maps it
(`-XX:SharedArchiveFile`) and starts in 2.3 s, its first catalog call in 1.3 s.

The archive lives in the user's cache (`$XDG_CACHE_HOME/mlmon`, else `~/.cache/mlmon`), one
file per Java runtime and Spark installation (about 200 MB; the three newest are kept). The JVM writes it at exit, which
makes the first command about 8 s longer, once. It is written under a name carrying the writing
process's id and renamed into place by the next command once that process is gone, so a JVM
never maps a file another is still writing; a file the JVM cannot map at all (a write cut short
by a crash) makes `spark_session` start again without it and delete it (`discard`): the JVM
prints its crash banner once, and the build goes on.
`-Xshare:off` (or an archive option of its own) in a target's `spark.driver.extraJavaOptions`
turns this off.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

__all__ = ["archive_options", "cache_dir", "discard"]

_OWN_OPTIONS = ("SharedArchiveFile", "ArchiveClassesAtExit", "Xshare:off")
_KEPT_ARCHIVES = 3  # of other runtimes or installations, newest first: each is some 200 MB
# Mismatches (another JDK build, a changed class path) only disable sharing; without this the
# JVM would print a warning for each on every start, and one per signed jar while writing.
_QUIET = "-Xlog:cds*=off -Xlog:class+path=off"


def cache_dir() -> Path | None:
    """Where mlmon keeps what it can rebuild: `$XDG_CACHE_HOME/mlmon`, else `~/.cache/mlmon`;
    None for a user without a home."""
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except (RuntimeError, KeyError):
            return None
    return Path(base) / "mlmon"


def archive_options(cache: Path | None, user_options: str | None, class_path: str = "") -> str:
    """The JVM options that map this runtime's archive, or write it at exit when there is none
    yet; "" when the target's own options decide, or there is no cache to write."""
    if cache is None or (user_options and any(option in user_options for option in _OWN_OPTIONS)):
        return ""
    archive = _archive_path(cache, class_path)
    try:
        cache.mkdir(parents=True, exist_ok=True)
        writing = _settle_partial_archives(archive)
    except OSError:
        return ""  # a cache that cannot be written to never stops Spark from starting
    if archive.exists():
        # A JVM that maps a damaged archive dies at once; its crash report goes beside the
        # archive rather than into the project's folder.
        return f"-XX:SharedArchiveFile={archive} -XX:ErrorFile={cache / 'jvm-crash-%p.log'} {_QUIET}"
    if writing or not os.access(cache, os.W_OK):
        return ""  # another command is writing it: this one starts as it always did
    return f"-XX:ArchiveClassesAtExit={_partial_name(archive, os.getpid())} {_QUIET}"


def discard(options: str) -> None:
    """Delete the archive `options` map (the JVM could not start with it)."""
    for option in options.split():
        if option.startswith("-XX:SharedArchiveFile="):
            Path(option.partition("=")[2]).unlink(missing_ok=True)


def _archive_path(cache: Path, class_path: str) -> Path:
    """One archive per Java runtime, Spark installation and extra class path: an archive only
    serves the exact JVM and class path that wrote it."""
    java = _java_binary()
    spark_home = os.environ.get("SPARK_HOME") or _pyspark_home()
    parts = [java, str(_mtime(java)), spark_home, str(_mtime(Path(spark_home) / "jars")), class_path]
    return cache / f"spark-jvm-{hashlib.sha256(chr(0).join(parts).encode()).hexdigest()[:16]}.jsa"


def _settle_partial_archives(archive: Path) -> bool:
    """Rename the archive a finished process wrote into place (or delete it when one is there
    already); True when a live process is still writing one."""
    writing = False
    for partial in archive.parent.glob(archive.stem + ".*.part"):
        pid = partial.suffixes[-2].lstrip(".")
        if pid.isdigit() and _alive(int(pid)):
            writing = True
        elif archive.exists() or partial.stat().st_size == 0:
            partial.unlink(missing_ok=True)
        else:
            os.replace(partial, archive)
            _prune(archive)
    return writing


def _prune(archive: Path) -> None:
    """Delete all but the newest archives: the others served a runtime since replaced."""
    others = [p for p in archive.parent.glob("spark-jvm-*.jsa") if p != archive]
    others.sort(key=lambda p: p.stat().st_mtime_ns, reverse=True)
    for old in others[_KEPT_ARCHIVES - 1:]:
        old.unlink(missing_ok=True)


def _partial_name(archive: Path, pid: int) -> Path:
    return archive.with_name(f"{archive.stem}.{pid}.part")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # this process has not started a JVM yet: a file of its id is a dead one's
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _java_binary() -> str:
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java") or "java"
    return os.path.realpath(java)


def _pyspark_home() -> str:
    import pyspark

    return str(Path(pyspark.__file__).parent)


def _mtime(path: str | Path) -> int:
    try:
        return Path(path).stat().st_mtime_ns
    except OSError:
        return 0
