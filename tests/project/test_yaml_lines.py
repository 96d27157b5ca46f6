"""The YAML loader: lines of keys and entries, YAML 1.1 boolean keys read as names, the same
result from libyaml and from PyYAML's own parser."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mlmon.project import yaml_lines
from mlmon.errors import ConfigError, Location
from mlmon.project.yaml_lines import load_yaml, parse_error, parse_yaml_value

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


def test_non_boolean_keys_keep_their_type(tmp_path: Path, parser: str) -> None:
    file = tmp_path / "a.yml"
    file.write_text("1: one\n2.5: half\nname: n\n")
    assert load_yaml(file, "a.yml") == {1: "one", 2.5: "half", "name": "n"}


def test_syntax_errors_name_line_and_column(tmp_path: Path, parser: str) -> None:
    file = tmp_path / "a.yml"
    file.write_text("datasets:\n  - name: a\n   files: x\n")
    with pytest.raises(ConfigError) as caught:
        load_yaml(file, "models/a.yml")
    assert str(caught.value).startswith("models/a.yml:3:4: invalid YAML: ")
    assert caught.value.hint == "check the indentation and quoting"


def test_an_unterminated_value_points_at_its_start(tmp_path: Path, parser: str) -> None:
    file = tmp_path / "a.yml"
    file.write_text("a: 1\nb: [x, y\n")
    with pytest.raises(ConfigError) as caught:
        load_yaml(file, "a.yml")
    assert caught.value.location == Location("a.yml", 3, 1)


def _laughs(levels: int, width: int) -> str:
    lines = [f"l0: &l0 [{', '.join(['x'] * width)}]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_alias_expansion_is_bounded_at_the_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parser: str) -> None:
    file = tmp_path / "a.yml"
    # Written: the mapping, 2 keys, l0's list and its 4 items, l1's list: 9 nodes. Expanded: l1's
    # 4 aliases each count l0's 5 nodes, so 29, which is 20 more than written.
    file.write_text(_laughs(2, 4))
    monkeypatch.setattr(yaml_lines, "MAX_ALIAS_EXPANSION", 20)
    assert load_yaml(file, "a.yml")["l1"] == [["x"] * 4] * 4
    monkeypatch.setattr(yaml_lines, "MAX_ALIAS_EXPANSION", 19)
    with pytest.raises(ConfigError) as caught:
        load_yaml(file, "models/a.yml")
    error = caught.value
    assert error.message == ("YAML aliases expand this file to 29 values (at most 19 more than the 9 written "
                             "are allowed)")
    assert error.location == Location("models/a.yml", 2, 5)  # l1's list: the smallest value past the limit
    assert error.hint == "write the values out, or use fewer nested aliases"


def test_a_recursive_alias_names_its_place(tmp_path: Path, parser: str) -> None:
    file = tmp_path / "a.yml"
    file.write_text("a: 1\nb: &me {self: *me}\n")
    with pytest.raises(ConfigError) as caught:
        load_yaml(file, "a.yml")
    assert caught.value.message == "a YAML alias refers to the anchor that contains it"
    assert caught.value.location == Location("a.yml", 2, 4)


def test_command_line_values(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_yaml_value("{a: [1, 2}", "--vars")
    assert str(caught.value).startswith("--vars:1:10: invalid YAML: ")
    monkeypatch.setattr(yaml_lines, "MAX_ALIAS_EXPANSION", 3)
    with pytest.raises(ConfigError) as caught:
        parse_yaml_value("{a: &a [1, 2, 3], b: *a, c: *a}", "--vars")
    assert str(caught.value) == ("--vars: YAML aliases expand this file to 16 values "
                                 "(at most 3 more than the 8 written are allowed)")


def test_parse_errors_take_the_best_place_and_text_they_have() -> None:
    at = yaml.Mark("a.yml", 0, 4, 2, None, None)  # line 5, column 3 once counted from 1
    problem = yaml.MarkedYAMLError(context="while parsing", context_mark=None, problem="bad value", problem_mark=at)
    assert str(parse_error(problem, "a.yml")) == "a.yml:5:3: invalid YAML: bad value — check the indentation and quoting"
    context_only = yaml.MarkedYAMLError(context="while parsing a block", context_mark=at)
    error = parse_error(context_only, "a.yml")
    assert error.location == Location("a.yml", 5, 3)
    assert error.message == f"invalid YAML: {context_only}"
    unplaced = parse_error(yaml.YAMLError("no document"), "a.yml")
    assert unplaced.location == Location("a.yml") and unplaced.message == "invalid YAML: no document"
