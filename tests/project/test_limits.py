"""Config can't exhaust the machine: YAML alias expansion and Jinja output are bounded.

Without the bounds each of these files takes minutes and gigabytes before a MemoryError; with
them the error comes from counting, before anything is expanded.
"""

from __future__ import annotations

from mlmon.project.yaml_lines import MAX_ALIAS_EXPANSION

LAUGHS = """
datasets:
  - name: x
    files: data/x.csv
    options:
      a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
      b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
      c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
      d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
      e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
      f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
      g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
      h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
      i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_a_yaml_alias_bomb_is_a_configuration_error(make_project, mlmon):
    root = make_project({"models/bomb.yml": LAUGHS, "data/x.csv": "a\n1\n"})
    result = mlmon("compile", project=root)
    assert result.exit_code == 2
    # i alone is 1 + 9 * (1 + 9 * (...)) = 435,848,050 nodes; with a..h, the keys and the rest, 490,329,073
    assert "models/bomb.yml:10:10: YAML aliases expand this file to 490,329,073 values" in result.output
    assert "Traceback" not in result.output and not (root / "target" / "manifest.json").exists()


def test_aliases_within_the_limit_are_fine(make_project, mlmon):
    root = make_project({"models/ok.yml": """
        datasets:
          - {name: x, files: data/x.csv, options: &opts {delim: ","}}
          - {name: y, files: data/x.csv, options: *opts}
        """, "data/x.csv": "a\n1\n"})
    assert mlmon("compile", project=root).exit_code == 0
    assert MAX_ALIAS_EXPANSION == 10_000


def test_a_recursive_alias_is_a_configuration_error(make_project, mlmon):
    root = make_project({"models/loop.yml": "datasets:\n  - &me {name: x, files: data/x.csv, options: {self: *me}}\n"})
    result = mlmon("compile", project=root)
    assert result.exit_code == 2
    assert "a YAML alias refers to the anchor that contains it" in result.output


def test_jinja_output_past_100_mb_is_a_configuration_error(make_project, mlmon):
    root = make_project({
        "models/huge.sql": "select 1 as x -- {{ 'x' * 10**12 }}\n",
        "models/loop.sql": "select 1 as x\n{% for i in range(100000) %}{% for j in range(100) %}-- {{ 'y' * 200 }}\n{% endfor %}{% endfor %}",
    })
    result = mlmon("compile", project=root)
    assert result.exit_code == 2
    assert "models/huge.sql:1: Jinja output past the 100 MB limit: a repetition of 1,000,000,000,000 items" in result.output
    assert "models/loop.sql" in result.output and "characters and counting" in result.output
