"""`dataset_changed` triggers: fingerprints of a dataset's files and their comparison.

A check compares the dataset's current fingerprint with the one saved at the previous check;
the first check only records a baseline.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence

from mlmon.automation.trigger_specs import DatasetChangedTrigger, TriggerCheck

__all__ = [
    "files_fingerprint",
    "dataset_changed",
    "changed_files",
    "check_dataset",
]


def _expand(paths: Sequence[Path | str]) -> list[Path]:
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(q for q in p.rglob("*") if q.is_file()))
        elif p.is_file():
            files.append(p)
        # a missing file is simply absent from the fingerprint, so removing one is a change
    return files


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def files_fingerprint(
    paths: Sequence[Path | str], mode: Literal["stat", "content"] = "stat", *, root: Path | None = None
) -> dict[str, Any]:
    """What identifies a dataset's files now: per file its size and mtime (`stat`, cheap) or
    the sha256 of its contents (`content`, immune to `touch` and copies that keep bytes).

    Directories are walked. Names are relative to `root` when given, so moving the project
    does not look like a change.
    """
    if mode not in ("stat", "content"):
        raise ValueError(f"fingerprint mode must be 'stat' or 'content', got {mode!r}")
    entries: dict[str, dict[str, Any]] = {}
    for path in _expand(paths):
        name = path.relative_to(root).as_posix() if root is not None and path.is_relative_to(root) else path.as_posix()
        try:
            if mode == "stat":
                st = path.stat()
                entries[name] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
            else:
                entries[name] = {"sha256": _sha256(path)}
        except FileNotFoundError:
            continue  # removed while we looked: absent, as if listed a moment later
    return {"mode": mode, "files": dict(sorted(entries.items()))}


def dataset_changed(previous_state: Mapping[str, Any] | None, current_state: Mapping[str, Any]) -> bool:
    """Whether two `files_fingerprint` results differ.

    No previous fingerprint is a baseline, not a change; nor are fingerprints taken in
    different modes, which cannot be compared (the new one becomes the baseline).
    """
    if not previous_state or previous_state.get("mode") != current_state.get("mode"):
        return False
    return previous_state.get("files") != current_state.get("files")


def changed_files(previous_state: Mapping[str, Any] | None, current_state: Mapping[str, Any]) -> dict[str, list[str]]:
    """Which files were added, removed or modified between two fingerprints."""
    before: Mapping[str, Any] = (previous_state or {}).get("files", {})
    after: Mapping[str, Any] = current_state.get("files", {})
    return {
        "added": sorted(set(after) - set(before)),
        "removed": sorted(set(before) - set(after)),
        "modified": sorted(k for k in set(before) & set(after) if before[k] != after[k]),
    }


def check_dataset(trigger: DatasetChangedTrigger, state: Mapping[str, Any] | None, fingerprint: Mapping[str, Any]) -> TriggerCheck:
    """Check a dataset_changed trigger against the dataset's current `files_fingerprint`."""
    previous = state.get("fingerprint") if state and state.get("trigger") == trigger.signature else None
    new_state = {"trigger": trigger.signature, "fingerprint": dict(fingerprint)}
    if not dataset_changed(previous, fingerprint):
        return TriggerCheck(False, new_state)
    return TriggerCheck(True, new_state, {"dataset": trigger.dataset, **changed_files(previous, fingerprint)})
