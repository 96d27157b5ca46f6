from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import pytest

from mlmon.errors import UsageError
from mlmon.graph.dag import DAG
from mlmon.graph.selector import SelectionSyntaxError, parse, select
from mlmon.nodes.base import Dependency, Node


@dataclass(frozen=True)
class FakeNode:
    name: str
    type: str
    path: str
    tags: tuple[str, ...] = ()
    zone: str | None = None
    upstream: tuple[str, ...] = ()


# raw_tx, raw_cust -> features -> train_set -> fraud_model -> mes_scored -> mes_eval
# -> {drift_check, auc_check} -> retrain_fraud -> weekly; mes_eval -> overview.
NODES = {
    n.name: n
    for n in [
        FakeNode("raw_tx", "dataset", "models/sources.yml", ("raw", "nightly"), "ingest"),
        FakeNode("raw_cust", "dataset", "models/sources.yml", ("raw",), "ingest"),
        FakeNode("features", "dataset", "models/features.sql", ("nightly",), "prep",
                 ("raw_tx", "raw_cust")),
        FakeNode("train_set", "dataset", "models/train/train_set.sql", (), "prep", ("features",)),
        FakeNode("fraud_model", "model", "models/train/fraud.yml", ("ml", "nightly"), "training",
                 ("train_set",)),
        FakeNode("mes_scored", "score", "monitors/scoring.yml", ("ml",), "monitoring",
                 ("fraud_model", "features")),
        FakeNode("mes_eval", "evaluation", "monitors/drift/eval.yml", ("drift", "ml"),
                 "monitoring", ("mes_scored", "fraud_model")),
        FakeNode("drift_check", "check", "checks/drift.yml", ("drift", "alert"), "monitoring",
                 ("mes_eval",)),
        FakeNode("auc_check", "check", "checks/perf.yml", ("alert",), None, ("mes_eval",)),
        FakeNode("retrain_fraud", "retrain", "checks/retrain.yml", (), "training",
                 ("drift_check", "auc_check")),
        FakeNode("weekly", "scenario", "monitors/scenarios.yml", ("nightly",), None,
                 ("retrain_fraud",)),
        FakeNode("overview", "dashboard", "monitors/dashboards.yml", (), "monitoring",
                 ("mes_eval",)),
    ]
}
ALL = set(NODES)


def make_dag(nodes: dict[str, FakeNode]) -> DAG[str]:
    dag: DAG[str] = DAG({name: node.upstream for name, node in nodes.items()})
    # An upstream the graph knows but that is not a selectable node: never selected.
    dag.add("raw_tx", ["ext_feed"])
    return dag


DAG_ = make_dag(NODES)


def names(text: str) -> set[str]:
    return set(text.split())


UP_MES_EVAL = names("mes_scored fraud_model train_set features raw_tx raw_cust")

CASES: list[tuple[str | list[str] | None, str | list[str] | None, set[str]]] = [
    # names and globs
    ("fraud_model", None, {"fraud_model"}),
    ("mes_*", None, names("mes_scored mes_eval")),
    ("*_check", None, names("drift_check auc_check")),
    ("raw_?x", None, {"raw_tx"}),
    ("fraud_model fraud_model", None, {"fraud_model"}),
    ("  weekly   overview ", None, names("weekly overview")),
    # graph operators
    ("+mes_scored", None, names("mes_scored fraud_model train_set features raw_tx raw_cust")),
    ("mes_eval+", None, names("mes_eval drift_check auc_check retrain_fraud weekly overview")),
    ("1+mes_scored", None, names("mes_scored fraud_model features")),
    ("2+mes_eval", None, names("mes_eval mes_scored fraud_model features train_set")),
    ("0+mes_eval", None, {"mes_eval"}),
    ("fraud_model+1", None, names("fraud_model mes_scored mes_eval")),
    ("features+2", None, names("features train_set mes_scored fraud_model mes_eval")),
    ("+drift_check+", None, UP_MES_EVAL | names("mes_eval drift_check retrain_fraud weekly")),
    ("1+retrain_fraud+1", None, names("retrain_fraud drift_check auc_check weekly")),
    ("@drift_check", None, ALL - {"overview"}),
    ("@overview", None, UP_MES_EVAL | names("mes_eval overview")),
    ("@weekly+", None, ALL - {"overview"}),
    ("+raw_tx", None, {"raw_tx"}),
    # methods, with globs in values
    ("tag:nightly", None, names("raw_tx features fraud_model weekly")),
    ("tag:ml", None, names("fraud_model mes_scored mes_eval")),
    ("tag:dr*", None, names("mes_eval drift_check")),
    ("type:check", None, names("drift_check auc_check")),
    ("type:dataset", None, names("raw_tx raw_cust features train_set")),
    ("type:s*", None, names("mes_scored weekly")),
    ("type:*", None, ALL),
    ("zone:monitoring", None, names("mes_scored mes_eval drift_check overview")),
    ("zone:tr*", None, names("fraud_model retrain_fraud")),
    ("path:models/sources.yml", None, names("raw_tx raw_cust")),
    ("path:models/train", None, names("train_set fraud_model")),
    ("path:./models/train/", None, names("train_set fraud_model")),
    ("path:checks", None, names("drift_check auc_check retrain_fraud")),
    ("path:monitors/drift", None, {"mes_eval"}),
    ("path:*.sql", None, names("features train_set")),
    ("path:*/drift", None, {"mes_eval"}),
    ("path:.", None, ALL),
    ("+tag:drift", None, UP_MES_EVAL | names("mes_eval drift_check")),
    ("type:retrain+", None, names("retrain_fraud weekly")),
    # union, intersection, precedence, parentheses
    ("tag:ml tag:alert", None, names("fraud_model mes_scored mes_eval drift_check auc_check")),
    ("tag:ml,type:model", None, {"fraud_model"}),
    ("tag:ml , type:score", None, {"mes_scored"}),
    ("tag:raw,zone:ingest,type:dataset", None, names("raw_tx raw_cust")),
    ("tag:alert,tag:ml", None, set()),
    ("tag:ml tag:alert,type:check", None,
     names("fraud_model mes_scored mes_eval drift_check auc_check")),
    ("(tag:ml tag:alert),type:check", None, names("drift_check auc_check")),
    ("tag:ml,(type:check type:model)", None, {"fraud_model"}),
    ("zone:monitoring,type:check mes_scored", None, names("drift_check mes_scored")),
    ("((tag:raw (zone:training)),type:dataset) weekly", None, names("raw_tx raw_cust weekly")),
    ("+fraud_model,type:dataset", None, names("raw_tx raw_cust features train_set")),
    ("+(tag:drift,type:check)", None, UP_MES_EVAL | names("mes_eval drift_check")),
    ("(mes_eval)+1", None, names("mes_eval drift_check auc_check overview")),
    ("1+(auc_check drift_check)+1", None, names("mes_eval auc_check drift_check retrain_fraud")),
    ("@(overview)", None, UP_MES_EVAL | names("mes_eval overview")),
    # several include strings, empty include, exclude
    (["tag:alert", "weekly"], None, names("drift_check auc_check weekly")),
    (None, None, ALL),
    ("", None, ALL),
    ([], None, ALL),
    (["  "], [], ALL),
    (None, "type:check", ALL - names("drift_check auc_check")),
    ("+mes_eval", "type:dataset", names("mes_eval mes_scored fraud_model")),
    ("fraud_model+", ["tag:alert", "overview"],
     names("fraud_model mes_scored mes_eval retrain_fraud weekly")),
    ("tag:ml", "tag:ml", set()),
    (None, "path:models mes_*", names("drift_check auc_check retrain_fraud weekly overview")),
    (None, "+mes_scored,type:dataset", ALL - names("raw_tx raw_cust features train_set")),
]


@pytest.mark.parametrize(("include", "exclude", "expected"), CASES, ids=[str(c[:2]) for c in CASES])
def test_selection(
    include: str | Sequence[str] | None, exclude: str | Sequence[str] | None, expected: set[str]
) -> None:
    assert select(include, exclude, NODES, DAG_) == expected


def test_real_nodes_are_selectable() -> None:
    nodes = {
        "a": Node("a", "dataset", "models/a.sql", 1, tags=("x",)),
        "b": Node("b", "model", "models/m.yml", 3, zone="z", depends_on=[Dependency("a")]),
    }
    dag: DAG[str] = DAG({n.name: n.upstream for n in nodes.values()})
    assert select("+zone:z", None, nodes, dag) == {"a", "b"}
    assert select("tag:x+", "type:model", nodes, dag) == {"a"}


@pytest.mark.parametrize(
    ("expression", "canonical"),
    [
        ("a  b", "a b"),
        ("a , b", "a,b"),
        ("(a b),c", "(a b),c"),
        ("2+tag:x+3", "2+tag:x+3"),
        ("@(a,b)+", "@(a,b)+"),
        ("((a))", "a"),
    ],
)
def test_parse_round_trips(expression: str, canonical: str) -> None:
    assert str(parse(expression)) == canonical
    assert parse(canonical) == parse(expression)


@pytest.mark.parametrize(
    ("include", "exclude", "message"),
    [
        ("fraud_modle", None, "no node matches 'fraud_modle' — did you mean 'fraud_model'?"),
        ("+fraud_modle+", None, "no node matches 'fraud_modle' — did you mean 'fraud_model'?"),
        ("tag:nigthly", None, "no node matches 'tag:nigthly' — did you mean 'tag:nightly'?"),
        ("zone:monitor", None,
         "no node matches 'zone:monitor' — did you mean 'zone:monitoring'?"),
        ("path:modles", None, "no node matches 'path:modles' — did you mean 'path:models'?"),
        ("type:check,fraud_modle", None,
         "no node matches 'fraud_modle' — did you mean 'fraud_model'?"),
        ("tag:alert,tag:zzz", None, "no node matches 'tag:zzz'"),
        ("xyzzy_*", None, "no node matches 'xyzzy_*'"),
        (None, "tag:alrt", "no node matches 'tag:alrt' — did you mean 'tag:alert'?"),
        (["weekly", "overveiw"], None, "no node matches 'overveiw' — did you mean 'overview'?"),
    ],
)
def test_atom_matching_nothing_is_an_error(
    include: str | list[str] | None, exclude: str | None, message: str
) -> None:
    with pytest.raises(UsageError) as caught:
        select(include, exclude, NODES, DAG_)
    assert str(caught.value) == message
    assert caught.value.exit_code == 2


def test_valid_type_with_no_node_is_an_error() -> None:
    nodes = {k: v for k, v in NODES.items() if v.type != "scenario"}
    with pytest.raises(UsageError, match="no node matches 'type:scenario'"):
        select("type:scenario", None, nodes, make_dag(nodes))


@pytest.mark.parametrize(
    ("expression", "column", "message"),
    [
        ("tags:nightly", 1, "unknown selector method 'tags' — did you mean 'tag'?"),
        ("a +tags:x", 4, "unknown selector method 'tags' — did you mean 'tag'?"),
        ("colour:red", 1, "unknown selector method 'colour' — methods are tag, path, type, zone"),
        ("type:modle", 6, "unknown node type 'modle' — did you mean 'model'?"),
        ("type:x*", 6, "unknown node type 'x*' — types are dataset, model, score"),
        ("", 1, "invalid selector '': empty expression at column 1"),
        ("a,,b", 3, "invalid selector 'a,,b': unexpected ',' at column 3"),
        (",a", 1, "unexpected ',' at column 1"),
        ("a,", 3, "expected a node name, a method or '(' at column 3"),
        ("(a", 1, "'(' is never closed at column 1"),
        ("(a) (b", 5, "'(' is never closed at column 5"),
        ("a)", 2, "unmatched ')' at column 2"),
        ("()", 2, "empty parentheses at column 2"),
        ("+", 2, "expected a node name or a method after '+' at column 2"),
        ("a 2+", 5, "expected a node name or a method after '2+' at column 5"),
        ("a+b", 2, "unexpected '+' at column 2"),
        ("x@", 2, "unexpected '@' at column 2"),
        ("@+x", 1, "'@' cannot be combined with a '+' prefix at column 1"),
        ("tag:", 5, "expected a value after 'tag:' at column 5"),
        (":x", 1, "expected a method name before ':' at column 1"),
        ("a(b)", 2, "expected a space or ',' before '(' at column 2"),
        ("(a)b", 4, "expected a space or ',' before 'b' at column 4"),
    ],
)
def test_syntax_errors_point_at_the_column(expression: str, column: int, message: str) -> None:
    with pytest.raises(SelectionSyntaxError) as caught:
        parse(expression)
    assert message in str(caught.value)
    assert caught.value.column == column
    assert caught.value.expression == expression
    assert isinstance(caught.value, UsageError) and caught.value.exit_code == 2

