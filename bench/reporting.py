"""What every benchmark result states, and how its tables print numbers.

When and where it was measured (`now`, `machine`), which mlmon source (`source`: the commit
and a digest of the Python files, since a dirty checkout has no commit to name it), the
package versions of every tool (`versions`), cell formats (`mib`, `secs`, `times`, `sci`), and
the README section a command owns between its two markers (`replace_section`).
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

__all__ = ["ROOT", "now", "machine", "machine_line", "source", "versions", "mib", "secs", "times", "sci", "replace_section"]

ROOT = Path(__file__).resolve().parent.parent
_MIB = 1024 * 1024


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = None
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_bytes": memory,
            "os": f"{platform.system()} {platform.release()}", "python": platform.python_version()}


def machine_line(info: dict[str, Any]) -> str:
    return (f"{info['cpu']}, {info['cores']} cores, {(info['memory_bytes'] or 0) / 1024 ** 3:.0f} GiB, {info['os']}, "
            f"Python {info['python']}")


def source() -> str:
    revision = _revision()
    return f"{revision + ', ' if revision else ''}source {_source_digest()}"


def _source_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted((ROOT / "mlmon").rglob("*.py")):
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def _revision() -> str | None:
    """The checkout's commit; what the working tree changes on top of it shows in the source digest."""
    try:
        proc = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=str(ROOT), timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() or None


def versions(tool_versions: Iterable[tuple[str, dict[str, str]]], mlmon_source: str) -> dict[str, str]:
    """Package versions from (tool, {package: version}) pairs, plus mlmon's own numerical stack;
    a package that two tools hold at different versions is named per tool (the peers' pandas
    is not mlmon's)."""
    seen: dict[str, dict[str, str]] = {}
    for tool, packages in tool_versions:
        for package, version in packages.items():
            seen.setdefault(package, {})[tool] = version
    import numpy
    import pandas
    import scipy
    import sklearn
    for package, module in (("numpy", numpy), ("pandas", pandas), ("scipy", scipy), ("scikit-learn", sklearn)):
        seen.setdefault(package, {}).setdefault("mlmon", module.__version__)
    out = {}
    for package, by_tool in seen.items():
        if len(set(by_tool.values())) == 1:
            out[package] = next(iter(by_tool.values()))
        else:
            out[package] = ", ".join(f"{v} ({t})" for t, v in sorted(by_tool.items()))
    if "mlmon" in out:
        out["mlmon"] = f"{out['mlmon']} ({mlmon_source})"
    return dict(sorted(out.items()))


def mib(value: float | None) -> str:
    return "–" if value is None else f"{value / _MIB:,.0f}"


def secs(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.2f}" if value < 100 else f"{value:.0f}"


def times(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}×"


def sci(value: float | None) -> str:
    return "–" if value is None else f"{value:.1e}"


def replace_section(readme: Path, begin: str, end: str, section: str, *, after: str | None = None) -> None:
    """Put `section` (which starts with `begin` and ends with `end`) in place of the text between
    the markers; absent markers, right after the section that ends with marker `after` if that
    is there, else at the end of the file under a Benchmarks heading."""
    text = readme.read_text()
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + section + rest.split(end, 1)[1]
    elif after is not None and after in text:
        head, rest = text.split(after, 1)
        text = head + after + "\n\n" + section + rest
    elif "\n## Benchmarks\n" in text:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    else:
        text = text.rstrip("\n") + "\n\n## Benchmarks\n\n" + section + "\n"
    readme.write_text(text)
