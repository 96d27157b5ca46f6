"""`--vars` values typed like the vars they override.

YAML 1.1 reads `{month: 2017_05}` as the integer 201705 (underscores are digit separators) and
`{month: 05}` as 5. A dbt user expects the value to keep the meaning of the var it overrides:
when the project declares `month: "2017_04"`, the text `2017_05` is the string "2017_05". So
plain (unquoted) scalars given on the command line are kept as their raw text until the
project's declarations are known, then converted to the declared default's type; quoted
scalars are strings, and vars without a declared scalar default take YAML's own reading.
"""

from __future__ import annotations

from typing import Any, Mapping

import yaml

from mlmon.errors import UsageError
from mlmon.project.yaml_lines import parse_error

__all__ = ["PlainScalar", "parse_cli_vars", "typed_vars"]


class PlainScalar(str):
    """The raw text of an unquoted scalar from --vars, not yet given a type."""


class _RawLoader(yaml.SafeLoader):
    pass


def _plain_or_resolved(loader: _RawLoader, node: yaml.ScalarNode) -> Any:
    if node.style is None:  # plain: typed later, against the project's declaration
        return PlainScalar(node.value)
    return loader.construct_scalar(node)


# Every scalar goes through one constructor, whatever tag YAML's resolver guessed for it.
for _tag in ("bool", "int", "float", "null", "timestamp", "str"):
    _RawLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", _plain_or_resolved)


def parse_cli_vars(text: str | None) -> dict[str, Any]:
    """The --vars mapping with unquoted scalars left as PlainScalar (see typed_vars)."""
    if not text:
        return {}
    try:
        value = yaml.load(text, Loader=_RawLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        raise parse_error(exc, "--vars") from None
    if not isinstance(value, dict):
        raise UsageError(f"--vars must be a YAML mapping, got {text!r}", hint="e.g. --vars '{month: \"2017_05\"}'")
    return value


def _yaml_reading(value: Any) -> Any:
    """What plain YAML makes of the value (used where no declaration says otherwise)."""
    if isinstance(value, PlainScalar):
        return yaml.safe_load(str(value)) if value != "" else None
    if isinstance(value, dict):
        return {k: _yaml_reading(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_yaml_reading(v) for v in value]
    return value


_BOOLEANS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}


def _as_declared(name: str, value: PlainScalar, default: Any) -> Any:
    text = str(value)
    try:
        if isinstance(default, bool):
            if text.lower() not in _BOOLEANS:
                raise ValueError(text)
            return _BOOLEANS[text.lower()]
        if isinstance(default, int):
            return int(text, 0) if text.lower().startswith(("0x", "0o", "0b")) else int(text)
        if isinstance(default, float):
            return float(text)
    except ValueError:
        kind = {bool: "true or false", int: "an integer", float: "a number"}[type(default)]
        raise UsageError(
            f"--vars: `{name}` must be {kind} like its default {default!r} in mlmon_project.yml, got {text!r}",
            hint=f"quote the value to pass it as text: --vars '{{{name}: \"{text}\"}}'",
        ) from None
    if isinstance(default, str):
        return text
    return _yaml_reading(value)


def typed_vars(declared: Mapping[str, Any], cli_vars: Mapping[str, Any]) -> dict[str, Any]:
    """`cli_vars` over `declared`, each plain value converted to its declared default's type."""
    merged = dict(declared)
    for key, value in cli_vars.items():
        name = str(key)
        default = declared.get(name)
        if isinstance(value, PlainScalar) and value != "" and isinstance(default, (str, bool, int, float)):
            merged[name] = _as_declared(name, value, default)
        else:
            merged[name] = _yaml_reading(value)
    return merged
