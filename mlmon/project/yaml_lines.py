"""YAML loading that remembers the line of every mapping and key, so errors can name them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mlmon.errors import ConfigError, Location

__all__ = ["MAX_ALIAS_EXPANSION", "LineDict", "load_yaml", "parse_yaml_value", "parse_error"]

# Nodes that aliases may add beyond those written: a "billion laughs" file of a few hundred bytes
# would otherwise expand to gigabytes when its values are walked.
MAX_ALIAS_EXPANSION = 10_000


class LineDict(dict):
    """A dict parsed from YAML; `line` is where it starts, `key_lines[key]` where each key is, and
    `key_lines["key[i]"]` where item i of a key's list is (errors about one entry name its line)."""

    line: int = 0
    key_lines: dict[str, int]


class _AliasBomb(Exception):
    def __init__(self, node: yaml.Node, message: str):
        super().__init__(message)
        self.node = node


# libyaml's parser when PyYAML was built with it (five times faster on a project's files);
# the nodes carry the same marks either way.
_SafeLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LineLoader(_SafeLoader):
    pass


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _check_expansion(root: yaml.Node) -> None:
    """Count the nodes the document expands to (an alias counts its whole anchor again), in
    time linear in the nodes written; too many, or an alias inside its own anchor, is an error."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise _AliasBomb(node, "a YAML alias refers to the anchor that contains it")
        active.add(key)
        total = 1 + sum(size(child) for child in _children(node))
        active.discard(key)
        sizes[key] = total
        return total

    expanded = size(root)
    if expanded - len(sizes) <= MAX_ALIAS_EXPANSION:
        return
    node = root  # point at the smallest value whose expansion alone crosses the limit
    while True:
        bigger = [c for c in _children(node) if sizes[id(c)] > MAX_ALIAS_EXPANSION]
        if not bigger:
            break
        node = max(bigger, key=lambda c: sizes[id(c)])
    raise _AliasBomb(node, f"YAML aliases expand this file to {expanded:,} values "
                           f"(at most {MAX_ALIAS_EXPANSION:,} more than the {len(sizes):,} written are allowed)")


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    mapping = LineDict()
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, bool) and not key_node.style:  # plain: None (Python parser) or "" (libyaml)
            # YAML 1.1 reads a bare `on:` / `yes:` key as a boolean; as a key it is always a name.
            key = key_node.value
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key '{key}'", key_node.start_mark
            )
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.key_lines[str(key)] = key_node.start_mark.line + 1
        if isinstance(value_node, yaml.SequenceNode):
            for index, item in enumerate(value_node.value):
                mapping.key_lines[f"{key}[{index}]"] = item.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse_error(exc: yaml.YAMLError, path: str) -> ConfigError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    location = Location(path, mark.line + 1, mark.column + 1) if mark else Location(path)
    return ConfigError(f"invalid YAML: {problem}", location=location, hint="check the indentation and quoting")


def _load(text: str, loader_class: type) -> Any:
    """`yaml.load`, with the expansion checked between composing and constructing."""
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def load_yaml(file: Path, display_path: str) -> Any:
    """Parse one YAML file; syntax errors become a ConfigError at the offending line."""
    try:
        return _load(file.read_text(encoding="utf-8"), _LineLoader)
    except yaml.YAMLError as exc:
        raise parse_error(exc, display_path) from None
    except _AliasBomb as exc:
        mark = exc.node.start_mark
        raise ConfigError(str(exc), location=Location(display_path, mark.line + 1, mark.column + 1),
                          hint="write the values out, or use fewer nested aliases") from None


def parse_yaml_value(text: str, what: str) -> Any:
    """Parse a YAML snippet given on the command line (e.g. --vars)."""
    try:
        return _load(text, _SafeLoader)
    except yaml.YAMLError as exc:
        raise parse_error(exc, what) from None
    except _AliasBomb as exc:
        raise ConfigError(f"{what}: {exc}") from None
