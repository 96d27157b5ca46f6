from __future__ import annotations

import itertools

import pytest

from mlmon.errors import ConfigError
from mlmon.graph.dag import DAG, CycleError

# Diamond with a tail: raw -> clean -> {train, score} -> report, plus lookup -> score.
EDGES: dict[str, list[str]] = {
    "raw": [],
    "clean": ["raw"],
    "lookup": [],
    "train": ["clean"],
    "score": ["clean", "lookup", "train"],
    "report": ["score"],
}


def diamond() -> DAG[str]:
    return DAG(EDGES)


def test_topological_order_is_kahn_with_smallest_name_first() -> None:
    assert diamond().topological_order() == ["lookup", "raw", "clean", "train", "score", "report"]


def test_topological_order_does_not_depend_on_insertion_order() -> None:
    orders = set()
    for permutation in itertools.permutations(EDGES):
        dag: DAG[str] = DAG()
        for node in permutation:
            dag.add(node, reversed(EDGES[node]))
        orders.add(tuple(dag.topological_order()))
    assert len(orders) == 1


def test_sort_key_is_str_of_the_node() -> None:
    dag: DAG[int] = DAG({9: [], 10: [], 2: [10]})
    assert dag.topological_order() == [10, 2, 9]


@pytest.mark.parametrize(
    ("node", "depth", "up", "down"),
    [
        ("score", None, {"raw", "clean", "lookup", "train"}, {"report"}),
        ("score", 1, {"clean", "lookup", "train"}, {"report"}),
        ("report", 1, {"score"}, set()),
        ("report", 2, {"score", "clean", "lookup", "train"}, set()),
        ("report", 3, {"score", "clean", "lookup", "train", "raw"}, set()),
        ("raw", None, set(), {"clean", "train", "score", "report"}),
        ("raw", 1, set(), {"clean"}),
        # score is both 2 and 3 edges below raw: the shortest distance counts.
        ("raw", 2, set(), {"clean", "train", "score"}),
        ("clean", 0, set(), set()),
    ],
)
def test_depth_limited_upstream_and_downstream(
    node: str, depth: int | None, up: set[str], down: set[str]
) -> None:
    dag = diamond()
    assert dag.upstream(node, depth) == up
    assert dag.downstream(node, depth) == down


def test_parents_and_children_are_direct_neighbours() -> None:
    dag = diamond()
    assert dag.parents("score") == {"clean", "lookup", "train"}
    assert dag.children("clean") == {"train", "score"}
    assert dag.parents("raw") == set()


def test_reachable_from_several_starts() -> None:
    dag = diamond()
    assert dag.reachable(["train", "lookup"], "downstream") == {"score", "report"}
    assert dag.reachable(["clean", "train"], "upstream", 1) == {"raw", "clean"}


def test_unknown_node_and_negative_depth() -> None:
    dag = diamond()
    with pytest.raises(KeyError):
        dag.upstream("nope")
    with pytest.raises(KeyError):
        dag.topological_order(["raw", "nope"])
    with pytest.raises(ValueError):
        dag.downstream("raw", -1)


def test_subset_order_is_induced_from_the_full_order() -> None:
    # z_src feeds a_mid feeds m_end: sorting the subset by name alone would put m_end first.
    dag: DAG[str] = DAG({"a_mid": ["z_src"], "m_end": ["a_mid"], "b_other": []})
    assert dag.topological_order(["m_end", "z_src"]) == ["z_src", "m_end"]
    assert dag.topological_order({"b_other", "m_end"}) == ["b_other", "m_end"]
    assert dag.topological_order([]) == []


def test_container_protocol() -> None:
    dag: DAG[str] = DAG()
    dag.add("b", ["a"])
    dag.add("c", ["b", "a"])
    dag.add("c", ["b"])  # adding again only adds edges
    assert "a" in dag and "z" not in dag
    assert len(dag) == 3
    assert list(dag) == dag.nodes == ["a", "b", "c"]
    assert dag.edges == [("a", "b"), ("a", "c"), ("b", "c")]


@pytest.mark.parametrize(
    ("edges", "cycle"),
    [
        ({"a": ["a"]}, ["a", "a"]),
        ({"a": ["b"], "b": ["a"]}, ["a", "b", "a"]),
        # data flows src -> b -> c -> d -> b; reported from the cycle's smallest node
        ({"b": ["src", "d"], "c": ["b"], "d": ["c"], "e": ["d"]}, ["b", "c", "d", "b"]),
        ({"x": ["w"], "w": ["v"], "v": ["u"], "u": ["x"], "a": []}, ["u", "v", "w", "x", "u"]),
    ],
)
def test_cycle_path_is_reported(edges: dict[str, list[str]], cycle: list[str]) -> None:
    dag: DAG[str] = DAG(edges)
    assert dag.find_cycle() == cycle
    with pytest.raises(CycleError) as caught:
        dag.topological_order()
    assert caught.value.path == cycle
    assert caught.value.message == "dependency cycle: " + " -> ".join(cycle)
    assert isinstance(caught.value, ConfigError) and caught.value.exit_code == 2
    assert caught.value.location is None


def test_acyclic_graph_has_no_cycle() -> None:
    assert diamond().find_cycle() is None
    assert DAG().find_cycle() is None
    assert DAG().topological_order() == []


def test_long_chain_does_not_recurse() -> None:
    names = [f"n{i:05d}" for i in range(5000)]
    dag: DAG[str] = DAG()
    for parent, child in zip(names, names[1:]):
        dag.add(child, [parent])
    assert dag.find_cycle() is None
    assert dag.topological_order() == names
    dag.add(names[0], [names[-1]])
    cycle = dag.find_cycle()
    assert cycle is not None and len(cycle) == 5001 and cycle[0] == cycle[-1] == names[0]
