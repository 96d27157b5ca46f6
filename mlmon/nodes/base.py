"""What every node kind shares: the parsed Node, its declared schema, and the kind interface.

A kind is one module in `mlmon/nodes/` exposing a `NodeKind` instance. The loader validates a
node against `kind.fields`, the graph takes edges from `kind.dependencies`, and the runner calls
`kind.execute`. Nothing outside the kind's module knows what the kind does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from sqlglot import exp

from mlmon.errors import ConfigError, Location

if TYPE_CHECKING:
    from mlmon.config import RunConfig
    from mlmon.warehouse.duckdb import Warehouse

__all__ = [
    "Dependency",
    "Field",
    "COMMON_FIELDS",
    "PUBLISH_FIELD",
    "Node",
    "NodeKind",
    "NodeOutcome",
    "Status",
    "ProjectView",
    "BuildContext",
]

Status = Literal["success", "reused", "error", "fail", "warn", "skipped"]


@dataclass(frozen=True)
class Dependency:
    """An edge into a node: `name` must be built first."""

    name: str
    inferred: bool = False  # found in compiled SQL by sqlglot rather than declared
    via: str | None = None  # the YAML key or "ref()" / "sql" that created it


@dataclass(frozen=True)
class Field:
    """One YAML key a kind accepts.

    `refs` lists the node types the value names (a string, or a list of strings when `many`);
    the loader checks those names exist and the graph turns them into edges.
    `render=False` keeps Jinja unrendered until use (secrets must never reach the manifest).
    """

    name: str
    types: tuple[type, ...] = (str,)
    required: bool = False
    refs: tuple[str, ...] = ()
    many: bool = False
    choices: tuple[Any, ...] = ()
    default: Any = None
    render: bool = True
    sql: bool = False  # a SELECT compiled like a .sql dataset: its tables become dependencies
    doc: str = ""


COMMON_FIELDS: tuple[Field, ...] = (
    Field("name", (str,), required=True, doc="unique across the project"),
    Field("tags", (list, str), default=(), doc="labels for tag: selection"),
    Field("zone", (str,), doc="a Flow zone grouping nodes in docs and dashboards"),
    Field("description", (str,), doc="free text shown in docs"),
)

# Kinds whose output is a table offer it to BI tools through the published copy on request.
PUBLISH_FIELD = Field("publish", (bool,), default=False,
                      doc="copy this node's rows into the published copy for BI tools (target/published/)")


@dataclass
class Node:
    """A node as compiled: config values rendered, dependencies resolved."""

    name: str
    type: str  # dataset | model | score | evaluation | check | retrain | scenario | dashboard
    path: str  # project-relative, posix separators
    line: int
    config: dict[str, Any] = field(default_factory=dict)
    key_lines: dict[str, int] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    zone: str | None = None
    description: str | None = None
    depends_on: list[Dependency] = field(default_factory=list)
    raw_sql: str | None = None  # .sql datasets: the file as written
    sql: str | None = None  # .sql datasets: rendered by Jinja, file datasets rewritten in
    rendered_sql: str | None = None  # .sql datasets: rendered by Jinja only, lines as in the file
    materialized: str | None = None  # "table" | "view" | None (read at use time)
    vars_used: set[str] = field(default_factory=set)  # vars its YAML and SQL read when rendered

    def location(self, key: str | None = None) -> Location:
        """Where this node (or one of its keys) is written."""
        return Location(self.path, self.key_lines.get(key, self.line) if key else self.line)

    def error(self, message: str, key: str | None = None, hint: str | None = None) -> ConfigError:
        return ConfigError(message, location=self.location(key), hint=hint)

    @property
    def upstream(self) -> list[str]:
        return [d.name for d in self.depends_on]


@dataclass
class NodeOutcome:
    """What a kind's `execute` returns; the runner adds timing and writes it to node_results."""

    status: Status = "success"
    message: str = ""
    rows: int | None = None
    warnings: list[str] = field(default_factory=list)


class ProjectView(Protocol):
    """What a kind may read of the compiled project (mlmon.project.project.Project implements it).

    Kinds depend on this interface, not on the Project class: the project is built from kinds,
    so kinds importing it would make the two modules need each other."""

    settings: Any  # mlmon.config.ProjectSettings
    nodes: dict[str, Node]
    dag: Any  # mlmon.graph.dag.DAG[str]
    renderer: Any  # mlmon.project.jinja.Renderer

    @property
    def root(self) -> Path: ...

    def node(self, name: str) -> Node: ...

    def kind(self, node: Node | str) -> "NodeKind": ...

    def relation(self, name: str) -> exp.Expression: ...

    def relation_sql(self, name: str, dialect: str = "duckdb") -> str: ...

    def render(self, value: Any, node: Node, key: str) -> Any: ...


class BuildContext(Protocol):
    """What a kind's `execute` may touch during a build (mlmon.run.context.RunContext implements it)."""

    config: "RunConfig"
    project: ProjectView
    warehouse: "Warehouse"
    progress: Any  # mlmon.run.progress.Progress
    selected: frozenset[str]
    named: frozenset[str]
    results: dict[str, Any]
    evaluation_memo: dict[Any, Any]

    @property
    def invocation_id(self) -> str: ...

    def relation_sql(self, name: str) -> str: ...

    def setting(self, key: str, default: Any) -> Any: ...


class NodeKind:
    """Base of every kind. Subclasses set the class attributes and override `execute`."""

    key: ClassVar[str]  # the YAML top-level key, e.g. "datasets"
    type: ClassVar[str]  # the singular type name, e.g. "dataset"
    fields: ClassVar[tuple[Field, ...]] = ()
    buildable: ClassVar[bool] = True  # scenarios and dashboards are declared, not built
    produces_table: ClassVar[bool] = False  # its output is a table/view readable from SQL
    runs_after_failed_check: ClassVar[bool] = False  # retrains run when an upstream check failed
    tells_decision: ClassVar[bool] = False  # its build line always shows its message (retrains)

    def all_fields(self) -> dict[str, Field]:
        return {f.name: f for f in (*COMMON_FIELDS, *self.fields)}

    def dependencies(self, node: Node) -> list[Dependency]:
        """Edges from the fields that name other nodes; kinds add more by overriding."""
        deps: list[Dependency] = []
        for f in self.fields:
            if not f.refs or node.config.get(f.name) is None:
                continue
            value = node.config[f.name]
            names = value if isinstance(value, list) else [value]
            deps.extend(Dependency(str(n), via=f.name) for n in names)
        return deps

    def validate(self, node: Node, project: "ProjectView") -> list[ConfigError]:
        """Checks beyond the schema (e.g. `features` and `exclude` together). Default: none."""
        return []

    def relation(self, node: Node, root: Path) -> exp.Expression | None:
        """How SQL reads this node's output: a warehouse table by default, None if it has none."""
        return exp.table_(node.name, quoted=True) if self.produces_table else None

    def available(self, node: Node, ctx: "BuildContext") -> str | None:
        """Why this node's output cannot be read now (None when it can): used when a build
        selects a node without its upstream, which must then come from the warehouse."""
        if self.produces_table and not ctx.warehouse.exists(node.name):
            return f"table '{node.name}' is not in the warehouse"
        return None

    def records_build(self, node: Node) -> bool:
        """Whether a build leaves a table or view whose inputs (vars, files) are worth recording:
        a reader that skips rebuilding it can then be told it was built for other values."""
        return self.produces_table

    def show_query(self, node: Node, root: Path) -> exp.Expression | None:
        """What `mlmon show NAME` prints for this node (default: its table)."""
        relation = self.relation(node, root)
        return exp.select("*").from_(relation) if relation is not None else None

    def execute(self, node: Node, ctx: "BuildContext") -> NodeOutcome:
        raise NotImplementedError(f"{self.type} nodes are not built")
