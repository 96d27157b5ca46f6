"""A small generic directed acyclic graph with deterministic ordering and readable cycle reports.

Edges point from upstream to downstream (the direction data flows). Every ordering this module
produces depends only on the nodes and edges, never on insertion order or hash seeds, so two
builds of the same project run nodes in the same order and print the same plan.
"""

from __future__ import annotations

import heapq
from collections import deque
from typing import Generic, Hashable, Iterable, Iterator, Literal, Mapping, Sequence, TypeVar

from mlmon.errors import ConfigError, Location

__all__ = ["DAG", "CycleError"]

T = TypeVar("T", bound=Hashable)


class CycleError(ConfigError):
    """The graph has a cycle; `path` lists it in data-flow order, first node repeated at the end."""

    def __init__(self, path: Sequence[object], *, location: Location | None = None):
        self.path = list(path)
        super().__init__(
            "dependency cycle: " + " -> ".join(str(n) for n in self.path), location=location
        )


class DAG(Generic[T]):
    """Nodes and upstream → downstream edges. Cycles are allowed in, and reported on ordering."""

    def __init__(self, graph: Mapping[T, Iterable[T]] | None = None) -> None:
        # Insertion order of the dicts only breaks ties between nodes whose str() is equal.
        self._parents: dict[T, set[T]] = {}
        self._children: dict[T, set[T]] = {}
        self._index: dict[T, int] = {}
        for node, upstream in (graph or {}).items():
            self.add(node, upstream)

    def _ensure(self, node: T) -> None:
        if node not in self._index:
            self._index[node] = len(self._index)
            self._parents[node] = set()
            self._children[node] = set()

    def _key(self, node: T) -> tuple[str, int]:
        return (str(node), self._index[node])

    def _sorted(self, nodes: Iterable[T]) -> list[T]:
        return sorted(nodes, key=self._key)

    def _check(self, node: T) -> None:
        if node not in self._index:
            raise KeyError(node)

    def add(self, node: T, upstream: Iterable[T] = ()) -> None:
        """Add `node` with edges from each of `upstream`; adding a node again adds edges."""
        self._ensure(node)
        for parent in upstream:
            self._ensure(parent)
            self._parents[node].add(parent)
            self._children[parent].add(node)

    # -- neighbourhoods -------------------------------------------------------------------

    def parents(self, node: T) -> set[T]:
        self._check(node)
        return set(self._parents[node])

    def children(self, node: T) -> set[T]:
        self._check(node)
        return set(self._children[node])

    def reachable(
        self,
        starts: Iterable[T],
        direction: Literal["upstream", "downstream"],
        depth: int | None = None,
    ) -> set[T]:
        """Nodes 1..`depth` edges away from any of `starts` (breadth-first, so the shortest
        distance counts); `depth=None` means no limit. A start is included only when another
        start (or a cycle) leads to it."""
        if depth is not None and depth < 0:
            raise ValueError(f"depth must be >= 0, got {depth}")
        edges = self._parents if direction == "upstream" else self._children
        frontier: deque[tuple[T, int]] = deque()
        for start in starts:
            self._check(start)
            frontier.append((start, 0))
        seen: set[T] = set()
        while frontier:
            node, distance = frontier.popleft()
            if depth is not None and distance >= depth:
                continue
            for nxt in edges[node]:
                if nxt not in seen:
                    seen.add(nxt)
                    frontier.append((nxt, distance + 1))
        return seen

    def upstream(self, node: T, depth: int | None = None) -> set[T]:
        """Every node `node` depends on, up to `depth` levels (1 = direct parents)."""
        return self.reachable([node], "upstream", depth) - {node}

    def downstream(self, node: T, depth: int | None = None) -> set[T]:
        """Every node depending on `node`, up to `depth` levels (1 = direct children)."""
        return self.reachable([node], "downstream", depth) - {node}

    # -- ordering -------------------------------------------------------------------------

    def topological_order(self, subset: Iterable[T] | None = None) -> list[T]:
        """Parents before children; among ready nodes the smallest str() goes first.

        With `subset`, the full order restricted to it: a dependency that passes through a
        node outside the subset still orders the two nodes inside it.
        """
        wanted: set[T] | None = None
        if subset is not None:
            wanted = set(subset)
            for node in wanted:
                self._check(node)
        remaining = {node: len(parents) for node, parents in self._parents.items()}
        ready = [self._key(node) + (node,) for node, count in remaining.items() if count == 0]
        heapq.heapify(ready)
        order: list[T] = []
        while ready:
            *_, node = heapq.heappop(ready)
            order.append(node)
            for child in self._children[node]:
                remaining[child] -= 1
                if remaining[child] == 0:
                    heapq.heappush(ready, self._key(child) + (child,))
        if len(order) < len(self._index):
            cycle = self.find_cycle()
            assert cycle is not None  # Kahn stalls only on a cycle
            raise CycleError(cycle)
        return order if wanted is None else [n for n in order if n in wanted]

    def find_cycle(self) -> list[T] | None:
        """One cycle as `[a, b, c, a]` (data-flow order, starting at its smallest node), or None."""
        # Iterative DFS: a long chain of datasets must not hit the recursion limit.
        visiting, done = 1, 2
        state: dict[T, int] = {}
        for root in self._sorted(self._index):
            if root in state:
                continue
            state[root] = visiting
            path: list[T] = [root]
            stack: list[Iterator[T]] = [iter(self._sorted(self._children[root]))]
            while stack:
                nxt = next(stack[-1], None)
                if nxt is None:
                    state[path.pop()] = done
                    stack.pop()
                elif state.get(nxt) == visiting:
                    cycle = path[path.index(nxt) :]
                    start = cycle.index(min(cycle, key=self._key))
                    cycle = cycle[start:] + cycle[:start]
                    return cycle + [cycle[0]]
                elif nxt not in state:
                    state[nxt] = visiting
                    path.append(nxt)
                    stack.append(iter(self._sorted(self._children[nxt])))
        return None

    # -- container protocol ---------------------------------------------------------------

    @property
    def nodes(self) -> list[T]:
        """All nodes, sorted by str()."""
        return self._sorted(self._index)

    @property
    def edges(self) -> list[tuple[T, T]]:
        """All (upstream, downstream) pairs, sorted by downstream then upstream."""
        return [(p, n) for n in self.nodes for p in self._sorted(self._parents[n])]

    def __contains__(self, node: object) -> bool:
        return node in self._index

    def __iter__(self) -> Iterator[T]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self._index)

    def __repr__(self) -> str:
        return f"DAG({len(self)} nodes, {sum(len(p) for p in self._parents.values())} edges)"
