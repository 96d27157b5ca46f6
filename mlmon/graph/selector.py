"""The node selection grammar of `-s` / `--exclude`, as in dbt.

    expression   := intersection (SPACE intersection)*        space = union
    intersection := term ("," term)*                          comma = intersection
    term         := atom | [prefix] "(" expression ")" [suffix]
    atom         := [prefix] [method ":"] value [suffix]      value: a name or an fnmatch glob
    prefix       := "@" | [depth] "+"          suffix := "+" [depth]

Beyond dbt, parentheses nest and take graph operators: `+(tag:a,type:check)`.
An atom that matches no node is an error rather than an empty set, because a typo in a
selection would otherwise silently build (or skip) the wrong thing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import get_close_matches
from fnmatch import fnmatchcase
from typing import Mapping, Protocol, Sequence

from mlmon.errors import UsageError, did_you_mean
from mlmon.graph.dag import DAG

__all__ = [
    "METHODS",
    "NODE_TYPES",
    "SelectableNode",
    "SelectionSyntaxError",
    "Selector",
    "Criterion",
    "Expand",
    "AnyOf",
    "AllOf",
    "parse",
    "select",
]

METHODS: tuple[str, ...] = ("tag", "path", "type", "zone")
NODE_TYPES: tuple[str, ...] = (
    "dataset", "model", "score", "evaluation", "check", "retrain", "scenario", "dashboard",
)


class SelectableNode(Protocol):
    """What selection reads from a node (`mlmon.nodes.base.Node` satisfies it)."""

    @property
    def name(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def tags(self) -> tuple[str, ...]: ...
    @property
    def zone(self) -> str | None: ...
    @property
    def path(self) -> str: ...


class SelectionSyntaxError(UsageError):
    """A selection expression that cannot be parsed; `column` is 1-based within `expression`."""

    def __init__(self, message: str, *, expression: str, column: int, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.expression = expression
        self.column = column


Nodes = Mapping[str, SelectableNode]


class Selector:
    """A parsed expression; `resolve` returns the names of the matching nodes."""

    def resolve(self, nodes: Nodes, dag: DAG[str]) -> set[str]:
        raise NotImplementedError


@dataclass(frozen=True)
class Criterion(Selector):
    """One atom without graph operators: a name (method None) or `method:value`."""

    method: str | None
    value: str

    def __str__(self) -> str:
        return self.value if self.method is None else f"{self.method}:{self.value}"

    def _values(self, name: str, node: SelectableNode) -> tuple[str, ...]:
        if self.method is None:
            return (name,)
        if self.method == "tag":
            return tuple(node.tags)
        if self.method == "zone":
            return (node.zone,) if node.zone else ()
        if self.method == "type":
            return (node.type,)
        # A path matches as the file itself or as any folder holding it.
        parts = node.path.split("/")
        return tuple("/".join(parts[:i]) for i in range(1, len(parts) + 1))

    def resolve(self, nodes: Nodes, dag: DAG[str]) -> set[str]:
        pattern = self.value
        if self.method == "path":
            pattern = pattern.replace("\\", "/").rstrip("/")
            pattern = pattern[2:] if pattern.startswith("./") else pattern
            if pattern in ("", "."):
                return set(nodes)
        matched = {
            name
            for name, node in nodes.items()
            if any(fnmatchcase(v, pattern) for v in self._values(name, node))
        }
        if not matched:
            # Compare values alone: a shared "tag:" prefix would make every tag look close.
            known = sorted({v for name, node in nodes.items() for v in self._values(name, node)})
            close = get_close_matches(self.value, known, n=1, cutoff=0.6)
            hint = f"did you mean '{Criterion(self.method, close[0])}'?" if close else None
            raise UsageError(f"no node matches '{self}'", hint=hint)
        return matched


@dataclass(frozen=True)
class Expand(Selector):
    """Graph operators around a selector: `N+x`, `x+N`, `@x`. Depth None means unlimited."""

    inner: Selector
    parents: bool = False
    parents_depth: int | None = None
    children: bool = False
    children_depth: int | None = None
    childrens_parents: bool = False

    def __str__(self) -> str:
        inner = str(self.inner) if isinstance(self.inner, Criterion) else f"({self.inner})"
        prefix = "@" if self.childrens_parents else ""
        if self.parents:
            prefix += f"{'' if self.parents_depth is None else self.parents_depth}+"
        suffix = ""
        if self.children:
            suffix = f"+{'' if self.children_depth is None else self.children_depth}"
        return prefix + inner + suffix

    def resolve(self, nodes: Nodes, dag: DAG[str]) -> set[str]:
        base = self.inner.resolve(nodes, dag)
        found = [n for n in base if n in dag]
        result = set(base)
        if self.childrens_parents:
            family = result | dag.reachable(found, "downstream")
            result = family | dag.reachable([n for n in family if n in dag], "upstream")
        if self.parents:
            result |= dag.reachable(found, "upstream", self.parents_depth)
        if self.children:
            result |= dag.reachable(found, "downstream", self.children_depth)
        # The graph may name upstreams that are not selectable nodes (e.g. unresolved refs).
        return {n for n in result if n in nodes}


@dataclass(frozen=True)
class AnyOf(Selector):
    """Space-separated parts: a node selected by any of them."""

    parts: tuple[Selector, ...]

    def __str__(self) -> str:
        return " ".join(f"({p})" if isinstance(p, AnyOf) else str(p) for p in self.parts)

    def resolve(self, nodes: Nodes, dag: DAG[str]) -> set[str]:
        return set().union(*(p.resolve(nodes, dag) for p in self.parts))


@dataclass(frozen=True)
class AllOf(Selector):
    """Comma-separated parts: a node selected by all of them."""

    parts: tuple[Selector, ...]

    def __str__(self) -> str:
        composite = (AnyOf, AllOf)
        return ",".join(f"({p})" if isinstance(p, composite) else str(p) for p in self.parts)

    def resolve(self, nodes: Nodes, dag: DAG[str]) -> set[str]:
        # Resolve every part even after the result is empty: each atom's "matches nothing"
        # check must not depend on the order the user wrote them in.
        results = [p.resolve(nodes, dag) for p in self.parts]
        return set.intersection(*results)


# -- parsing -------------------------------------------------------------------------------

_TOKEN = re.compile(r"(?P<space>\s+)|(?P<punct>[(),])|[^\s(),]+")
_ATOM = re.compile(r"(?P<at>@)?(?:(?P<up>\d*)\+)?(?P<core>.*?)(?:\+(?P<down>\d*))?")
_GROUP_PREFIX = re.compile(r"@|\d*\+")
_GROUP_SUFFIX = re.compile(r"\+\d*")
_METHOD = re.compile(r"[A-Za-z_]\w*")


@dataclass(frozen=True)
class _Token:
    kind: str  # "atom", "(", ")" or ","
    text: str
    column: int
    spaced: bool  # whitespace (or the start) comes right before it


def _tokenize(expression: str) -> list[_Token]:
    tokens: list[_Token] = []
    spaced = True
    for match in _TOKEN.finditer(expression):
        if match["space"]:
            spaced = True
            continue
        kind = match[0] if match["punct"] else "atom"
        tokens.append(_Token(kind, match[0], match.start() + 1, spaced))
        spaced = False
    return tokens


def _depth(text: str | None) -> int | None:
    return int(text) if text else None


class _Parser:
    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.tokens = _tokenize(expression)
        self.pos = 0

    def error(self, column: int, problem: str) -> SelectionSyntaxError:
        return SelectionSyntaxError(
            f"invalid selector '{self.expression}': {problem} at column {column}",
            expression=self.expression,
            column=column,
        )

    def peek(self, ahead: int = 0) -> _Token | None:
        index = self.pos + ahead
        return self.tokens[index] if index < len(self.tokens) else None

    def parse(self) -> Selector:
        if not self.tokens:
            raise self.error(1, "empty expression")
        result = self.union()
        extra = self.peek()
        if extra is not None:
            raise self.error(extra.column, "unmatched ')'")
        return result

    def union(self) -> Selector:
        parts = [self.intersection()]
        while (token := self.peek()) is not None and token.kind != ")":
            if not token.spaced:
                raise self.error(token.column, f"expected a space or ',' before '{token.text}'")
            parts.append(self.intersection())
        return parts[0] if len(parts) == 1 else AnyOf(tuple(parts))

    def intersection(self) -> Selector:
        parts = [self.term()]
        while (token := self.peek()) is not None and token.kind == ",":
            self.pos += 1
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts))

    def term(self) -> Selector:
        token = self.peek()
        if token is None:
            raise self.error(len(self.expression) + 1, "expected a node name, a method or '('")
        if token.kind == "(":
            return self.group(None)
        if token.kind != "atom":
            raise self.error(token.column, f"unexpected '{token.text}'")
        after = self.peek(1)
        if (
            after is not None
            and after.kind == "("
            and not after.spaced
            and _GROUP_PREFIX.fullmatch(token.text)
        ):
            self.pos += 1
            return self.group(token)
        self.pos += 1
        return self.atom(token)

    def group(self, prefix: _Token | None) -> Selector:
        opening = self.peek()
        assert opening is not None and opening.kind == "("
        self.pos += 1
        inside = self.peek()
        if inside is not None and inside.kind == ")":
            raise self.error(inside.column, "empty parentheses")
        inner = self.union()
        if self.peek() is None:
            raise self.error(opening.column, "'(' is never closed")
        self.pos += 1
        suffix = self.peek()
        if (
            suffix is not None
            and suffix.kind == "atom"
            and not suffix.spaced
            and _GROUP_SUFFIX.fullmatch(suffix.text)
        ):
            self.pos += 1
        else:
            suffix = None
        if prefix is None and suffix is None:
            return inner
        text = (prefix.text if prefix else "") + "x" + (suffix.text if suffix else "")
        return self.operators(text, prefix or opening, inner)

    def operators(self, text: str, token: _Token, inner: Selector) -> Selector:
        match = _ATOM.fullmatch(text)
        assert match is not None  # every string matches: all groups are optional
        if match["at"] and match["up"] is not None:
            raise self.error(token.column, "'@' cannot be combined with a '+' prefix")
        if match["at"] is None and match["up"] is None and match["down"] is None:
            return inner
        return Expand(
            inner,
            parents=match["up"] is not None,
            parents_depth=_depth(match["up"]),
            children=match["down"] is not None,
            children_depth=_depth(match["down"]),
            childrens_parents=match["at"] is not None,
        )

    def atom(self, token: _Token) -> Selector:
        match = _ATOM.fullmatch(token.text)
        assert match is not None
        core, start = match["core"], token.column + match.start("core")
        if not core:
            raise self.error(start, f"expected a node name or a method after '{token.text}'")
        for char in "+@":
            if char in core:
                raise self.error(start + core.index(char), f"unexpected '{char}'")
        method: str | None = None
        value = core
        if ":" in core:
            method, value = core.split(":", 1)
            self.check_method(method, start)
            if not value:
                raise self.error(start + len(method) + 1, f"expected a value after '{method}:'")
            if method == "type" and not any(fnmatchcase(t, value) for t in NODE_TYPES):
                raise SelectionSyntaxError(
                    f"unknown node type '{value}'",
                    expression=self.expression,
                    column=start + len(method) + 1,
                    hint=did_you_mean(value, NODE_TYPES) or f"types are {', '.join(NODE_TYPES)}",
                )
        return self.operators(token.text, token, Criterion(method, value))

    def check_method(self, method: str, column: int) -> None:
        if not _METHOD.fullmatch(method):
            raise self.error(column, "expected a method name before ':'")
        if method not in METHODS:
            raise SelectionSyntaxError(
                f"unknown selector method '{method}'",
                expression=self.expression,
                column=column,
                hint=did_you_mean(method, METHODS) or f"methods are {', '.join(METHODS)}",
            )


def parse(expression: str) -> Selector:
    """Parse one selection expression; raises SelectionSyntaxError pointing at the problem."""
    return _Parser(expression).parse()


def _resolve(spec: str | Sequence[str] | None, nodes: Nodes, dag: DAG[str]) -> set[str] | None:
    """The union of the expressions in `spec`; None when it has none (blank strings are none)."""
    items = [spec] if isinstance(spec, str) else list(spec or ())
    expressions = [e for e in items if e.strip()]
    if not expressions:
        return None
    return set().union(*(parse(e).resolve(nodes, dag) for e in expressions))


def select(
    include: str | Sequence[str] | None,
    exclude: str | Sequence[str] | None,
    nodes: Nodes,
    dag: DAG[str],
) -> set[str]:
    """Names selected by `include` (all nodes when None or empty) minus those in `exclude`.

    Several strings in one argument are a union, as from repeated `-s` options.
    """
    included = _resolve(include, nodes, dag)
    selected = set(nodes) if included is None else included
    return selected - (_resolve(exclude, nodes, dag) or set())
