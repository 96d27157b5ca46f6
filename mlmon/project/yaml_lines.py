"""YAML loading that remembers the line of every mapping and key, so errors can name them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mlmon.errors import ConfigError, Location

__all__ = ["LineDict", "load_yaml", "parse_yaml_value", "parse_error"]


class LineDict(dict):
    """A dict parsed from YAML; `line` is where it starts and `key_lines[key]` where each key is."""

    line: int = 0
    key_lines: dict[str, int]


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    mapping = LineDict()
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, bool) and key_node.style is None:
            # YAML 1.1 reads a bare `on:` / `yes:` key as a boolean; as a key it is always a name.
            key = key_node.value
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key '{key}'", key_node.start_mark
            )
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.key_lines[str(key)] = key_node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse_error(exc: yaml.YAMLError, path: str) -> ConfigError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    location = Location(path, mark.line + 1, mark.column + 1) if mark else Location(path)
    return ConfigError(f"invalid YAML: {problem}", location=location, hint="check the indentation and quoting")


def load_yaml(file: Path, display_path: str) -> Any:
    """Parse one YAML file; syntax errors become a ConfigError at the offending line."""
    try:
        return yaml.load(file.read_text(encoding="utf-8"), Loader=_LineLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        raise parse_error(exc, display_path) from None


def parse_yaml_value(text: str, what: str) -> Any:
    """Parse a YAML snippet given on the command line (e.g. --vars)."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise parse_error(exc, what) from None
