"""Compile a project: validate every declaration, render Jinja, resolve and infer dependencies.

All configuration errors are collected and raised together (ProjectErrors) before anything runs.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from sqlglot import exp

from mlmon.config import RunConfig
from mlmon.errors import ConfigError, Location, MlmonError, ProjectErrors, did_you_mean
from mlmon.graph.dag import DAG
from mlmon.nodes import KINDS
from mlmon.nodes.base import Dependency, Field, Node, NodeKind
from mlmon.project.jinja import Renderer, has_jinja
from mlmon.project.loader import RawNode, discover, find_project_root, load_settings, macro_files
from mlmon.project.project import Project
from mlmon.project.sqldeps import parse_sql, tables_read
from mlmon.warehouse.tables import SYSTEM_SCHEMA, SYSTEM_TABLES
from mlmon.warehouse.targets import resolve_target

__all__ = ["compile_project"]

NAME_PATTERN = re.compile(r"[a-z_][a-z0-9_]*\Z")
_TYPE_WORDS = {str: "a string", int: "an integer", float: "a number", bool: "true or false", list: "a list", dict: "a mapping"}


def compile_project(config: RunConfig) -> Project:
    root = find_project_root(config.project_dir)
    settings = load_settings(root, config.vars)
    target = resolve_target(settings, config.target)
    kinds_by_key = {k.key: k for k in KINDS.values()}
    raw_nodes, errors = discover(root, kinds_by_key)
    try:
        renderer = Renderer(settings.vars, macro_files(root))
    except ConfigError as exc:
        raise ProjectErrors([*errors, exc]) from None
    compiler = _Compiler(renderer, kinds_by_key, errors)
    nodes = compiler.build_nodes(_merge_properties(raw_nodes, errors))
    compiler.resolve_dependencies(nodes, root)
    project = Project(settings, nodes, DAG(), renderer, dict(KINDS), target)
    for node in nodes.values():
        project.dag.add(node.name, node.upstream)
        errors.extend(KINDS[node.type].validate(node, project))
        if target.type == "spark" and node.sql:
            errors.extend(_untranslatable(node))
    cycle = project.dag.find_cycle()
    if cycle:
        first = nodes[cycle[0]]
        errors.append(ConfigError(f"dependency cycle: {' -> '.join(cycle)}", location=first.location(),
                                  hint="remove one of these references"))
    if errors:
        raise ProjectErrors(errors)
    return project


def _untranslatable(node: Node) -> list[MlmonError]:
    """A SQL dataset whose SQL has no Spark translation, reported before anything runs."""
    from mlmon.warehouse.spark_check import sql_location, untranslatable_call
    from mlmon.warehouse.spark_dialect import SparkTranslationError, check_translatable

    try:
        check_translatable(node.sql)
    except SparkTranslationError as exc:
        call = untranslatable_call(node.rendered_sql or node.sql)
        location = node.location() if call is None else sql_location(node, call.line, call.col)
        return [ConfigError(f"cannot run on Spark: {exc.message}", location=location, hint=exc.hint)]
    return []


def _merge_properties(raw_nodes: list[RawNode], errors: list[MlmonError]) -> list[RawNode]:
    """A YAML `datasets:` entry without `files:` describes the .sql/.py dataset of the same name."""
    by_file = {r.data["name"]: r for r in raw_nodes if r.raw_sql is not None or r.python_refs is not None}
    merged: list[RawNode] = []
    for raw in raw_nodes:
        name = raw.data.get("name")
        if raw.key == "datasets" and raw.raw_sql is None and raw.python_refs is None and "files" not in raw.data and name in by_file:
            target = by_file[name]
            for key, value in raw.data.items():
                if key != "name":
                    target.data[key] = value
                    target.key_lines.setdefault(key, 1)
            continue
        merged.append(raw)
    return merged


def _type_ok(value: Any, types: tuple[type, ...]) -> bool:
    if value is None:
        return True
    if isinstance(value, bool):  # YAML's true is an int to Python; only accept it where asked
        return bool in types
    return isinstance(value, types)


class _Compiler:
    def __init__(self, renderer: Renderer, kinds_by_key: dict[str, NodeKind], errors: list[MlmonError]):
        self.renderer = renderer
        self.kinds_by_key = kinds_by_key
        self.errors = errors

    # -- declarations -------------------------------------------------------------------------

    def build_nodes(self, raw_nodes: list[RawNode]) -> dict[str, Node]:
        nodes: dict[str, Node] = {}
        for raw in raw_nodes:
            node = self._build_node(raw)
            if node is None:
                continue
            if node.name in nodes:
                other = nodes[node.name]
                self.errors.append(node.error(
                    f"duplicate node name '{node.name}'", "name", hint=f"also defined at {other.location('name')}"
                ))
                continue
            nodes[node.name] = node
        return nodes

    def _build_node(self, raw: RawNode) -> Node | None:
        kind = self.kinds_by_key[raw.key]
        where = Location(raw.path, raw.line)
        name = raw.data.get("name")
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            self.errors.append(ConfigError(
                f"invalid or missing node name {name!r}" if name is not None else f"a {kind.type} needs a `name:`",
                location=Location(raw.path, raw.key_lines.get("name", raw.line)),
                hint="names are lowercase letters, digits and underscores, starting with a letter or _",
            ))
            return None
        node = Node(name=name, type=kind.type, path=raw.path, line=raw.line, key_lines=raw.key_lines, raw_sql=raw.raw_sql)
        fields = kind.all_fields()
        for key, value in raw.data.items():
            spec = fields.get(key)
            if spec is None:
                self.errors.append(node.error(
                    f"unknown key '{key}' for a {kind.type}", key,
                    hint=did_you_mean(str(key), fields) or f"allowed: {', '.join(sorted(fields))}",
                ))
                continue
            try:
                with self.renderer.recording() as used:
                    node.config[key] = self._value(spec, value, node, key)
                node.vars_used |= used
            except ConfigError as exc:
                self.errors.append(exc)
        # A node with a bad key is kept (errors are already recorded, nothing will run) so the
        # nodes referring to it do not report a cascade of "unknown node" errors.
        for spec in fields.values():
            if spec.required and spec.name not in raw.data:
                self.errors.append(ConfigError(f"{kind.type} '{name}' needs `{spec.name}:`", location=where,
                                               hint=spec.doc or None))
            node.config.setdefault(spec.name, spec.default)
        tags = node.config.pop("tags") or ()
        node.tags = (tags,) if isinstance(tags, str) else tuple(str(t) for t in tags)
        node.zone = node.config.pop("zone")
        node.description = node.config.pop("description")
        node.config.pop("name")
        if raw.python_refs is not None:
            node.materialized = "table"
            node.depends_on = [Dependency(r, via="ref()") for r in dict.fromkeys(raw.python_refs)]
        return node

    def _value(self, spec: Field, value: Any, node: Node, key: str) -> Any:
        if spec.render:
            value = self._render(value, node.location(key))
        if isinstance(value, str) and str not in spec.types and value != "":
            value = yaml.safe_load(value)  # "{{ var('threshold') }}" rendered to "0.5" means 0.5
        if isinstance(value, int) and float in spec.types and int not in spec.types and not isinstance(value, bool):
            value = float(value)
        if not _type_ok(value, spec.types):
            words = " or ".join(_TYPE_WORDS.get(t, t.__name__) for t in spec.types)
            raise node.error(f"`{key}` must be {words}, got {value!r}", key)
        if spec.choices and value is not None and value not in spec.choices:
            raise node.error(f"`{key}` must be one of {', '.join(map(str, spec.choices))}, got {value!r}", key,
                             hint=did_you_mean(str(value), map(str, spec.choices)))
        return value

    def _render(self, value: Any, location: Location) -> Any:
        if isinstance(value, str):
            return self.renderer.render(value, location) if has_jinja(value) else value
        if isinstance(value, list):
            return [self._render(v, location) for v in value]
        if isinstance(value, dict):
            return {k: self._render(v, location) for k, v in value.items()}
        return value

    # -- dependencies -------------------------------------------------------------------------

    def resolve_dependencies(self, nodes: dict[str, Node], root: Any) -> None:
        for node in nodes.values():
            kind = KINDS[node.type]
            if node.raw_sql is not None:
                self._compile_sql(node, nodes, root)
            else:
                node.depends_on = [*node.depends_on, *kind.dependencies(node)]
                self._compile_sql_fields(node, kind, nodes, root)
            self._check_references(node, kind, nodes)

    def _check_references(self, node: Node, kind: NodeKind, nodes: dict[str, Node]) -> None:
        fields = kind.all_fields()
        checked: list[Dependency] = []
        for dep in node.depends_on:
            spec = fields.get(dep.via or "")
            if spec is not None and not spec.refs:
                checked.append(dep)  # a kind-specific reference, validated by the kind itself
                continue
            wanted = spec.refs if spec else ()
            target = nodes.get(dep.name)
            label = " or ".join(wanted) if wanted else "node"
            if target is None:
                candidates = [n.name for n in nodes.values() if not wanted or n.type in wanted]
                self.errors.append(node.error(f"unknown {label} '{dep.name}'", dep.via if spec else None,
                                              hint=did_you_mean(dep.name, candidates)))
            elif wanted and target.type not in wanted:
                self.errors.append(node.error(f"'{dep.name}' is a {target.type}, expected a {label}", dep.via))
            elif dep.name == node.name:
                self.errors.append(node.error(f"'{node.name}' depends on itself", dep.via))
            else:
                checked.append(dep)
        node.depends_on = list({d.name: d for d in reversed(checked)}.values())[::-1]

    def _compile_sql(self, node: Node, nodes: dict[str, Node], root: Any) -> None:
        compiled = self._compile_query(node, node.raw_sql or "", Location(node.path, 1), nodes, root)
        if compiled is None:
            return
        node.sql, deps, settings = compiled
        materialized = settings.get("materialized", "table")
        if materialized not in ("table", "view"):
            self.errors.append(node.error(f"materialized must be 'table' or 'view', got {materialized!r}"))
        node.materialized = materialized
        node.depends_on = deps

    def _compile_sql_fields(self, node: Node, kind: NodeKind, nodes: dict[str, Node], root: Any) -> None:
        """Fields holding a query (e.g. a SQL check): compiled in place, their tables become edges."""
        for spec in kind.fields:
            text = node.config.get(spec.name)
            if not spec.sql or not isinstance(text, str):
                continue
            line = node.key_lines.get(spec.name, node.line)
            compiled = self._compile_query(node, text, Location(node.path, line), nodes, root)
            if compiled is not None:
                node.config[spec.name], deps, _ = compiled
                node.depends_on = [*node.depends_on, *deps]

    def _compile_query(self, node: Node, text: str, location: Location, nodes: dict[str, Node],
                       root: Any) -> tuple[str, list[Dependency], dict[str, Any]] | None:
        """Render, parse and check one query; returns (compiled SQL, dependencies, config())."""
        refs: list[str] = []
        settings: dict[str, Any] = {}

        def ref(name: str) -> str:
            # Schema-qualified, as dbt does, so a CTE of the same name cannot shadow it.
            refs.append(name)
            return exp.table_(name, db="main", quoted=True).sql("duckdb")

        def config(**kwargs: Any) -> str:
            settings.update(kwargs)
            return ""

        try:
            with self.renderer.recording() as used:
                rendered = self.renderer.render(text, location, {"ref": ref, "config": config})
            node.vars_used |= used
            if text is node.raw_sql:
                node.rendered_sql = rendered
            query = parse_sql(rendered, location)
        except ConfigError as exc:
            self.errors.append(exc)
            return None
        deps: list[Dependency] = []
        for use in tables_read(query, rendered):
            at = Location(node.path, (location.line or 1) + (use.line or 1) - 1, use.col)
            if use.schema == SYSTEM_SCHEMA:
                if use.name not in SYSTEM_TABLES:
                    self.errors.append(ConfigError(f"unknown system table '{SYSTEM_SCHEMA}.{use.name}'", location=at,
                                                   hint=did_you_mean(use.name, SYSTEM_TABLES)))
                continue
            if use.schema not in (None, "main"):
                self.errors.append(ConfigError(f"unknown schema '{use.schema}' in table '{use.schema}.{use.name}'", location=at,
                                               hint="read project nodes by name and system tables as mlmon.<table>"))
                continue
            target = nodes.get(use.name)
            if target is None or KINDS[target.type].relation(target, root) is None:
                what = f"'{use.name}' is a {target.type}, not a table" if target else f"unknown table '{use.name}'"
                tables = [n.name for n in nodes.values() if KINDS[n.type].produces_table]
                self.errors.append(ConfigError(what, location=at, hint=did_you_mean(use.name, tables)
                                               or "tables are the project's datasets, scores and stores"))
                continue
            deps.append(Dependency(use.name, via="ref()") if use.name in refs else Dependency(use.name, inferred=True, via="sql"))
        self._inline_file_datasets(query, nodes, root)
        return query.sql("duckdb", pretty=True), deps, settings

    @staticmethod
    def _inline_file_datasets(query: exp.Expression, nodes: dict[str, Node], root: Any) -> None:
        """File datasets are not materialized: their table name becomes a scan of their files."""
        for table in list(query.find_all(exp.Table)):
            own_schema = isinstance(table.this, exp.Identifier) and table.db in ("", "main") and not table.catalog
            target = nodes.get(table.name) if own_schema else None
            if target is None:
                continue
            relation = KINDS[target.type].relation(target, root)
            if relation is None or isinstance(relation, exp.Table) and relation.name == table.name:
                continue
            alias = table.alias or table.name
            table.replace(exp.Subquery(this=exp.select("*").from_(relation), alias=exp.TableAlias(this=exp.to_identifier(alias))))
