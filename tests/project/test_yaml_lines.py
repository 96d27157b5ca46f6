"""The YAML loader: lines of keys and entries, YAML 1.1 boolean keys read as names, the same
result from libyaml and from PyYAML's own parser."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mlmon.project import yaml_lines
from mlmon.project.yaml_lines import load_yaml, parse_yaml_value

TEXT = (
    "retrains:\n"
    "  - name: r\n"
    "    on: [ERROR, WARNING]\n"
    "    yes: 1\n"
    "    \"no\": 2\n"
    "    flag: on\n"
)


@pytest.fixture(params=["libyaml", "python"])
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "python":
        class PythonLoader(yaml.SafeLoader):
            pass

        PythonLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, yaml_lines._construct_mapping)
        monkeypatch.setattr(yaml_lines, "_LineLoader", PythonLoader)
    elif not hasattr(yaml, "CSafeLoader"):
        pytest.skip("PyYAML was built without libyaml")
    return request.param


def test_boolean_keys_are_names_and_lines_are_kept(tmp_path: Path, parser: str) -> None:
    file = tmp_path / "a.yml"
    file.write_text(TEXT)
    data = load_yaml(file, "a.yml")
    entry = data["retrains"][0]
    assert entry == {"name": "r", "on": ["ERROR", "WARNING"], "yes": 1, "no": 2, "flag": True}
    assert entry.line == 2
    assert entry.key_lines == {"name": 2, "on": 3, "on[0]": 3, "on[1]": 3, "yes": 4, "no": 5, "flag": 6}
    assert data.key_lines["retrains[0]"] == 2


def test_the_fast_parser_is_used_when_present() -> None:
    assert issubclass(yaml_lines._LineLoader, getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def test_empty_file_and_cli_values(tmp_path: Path) -> None:
    file = tmp_path / "empty.yml"
    file.write_text("# nothing\n")
    assert load_yaml(file, "empty.yml") is None
    assert parse_yaml_value("{a: 1, b: [x]}", "--vars") == {"a": 1, "b": ["x"]}
    assert parse_yaml_value("", "--vars") is None
