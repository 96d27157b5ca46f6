"""Evaluation stores: sample the data, score it if needed, compare it with a reference, and
append one evaluation (metrics and kept rows) to the store in one transaction.

sampling.py   the evaluated rows, copied into a scratch table
reference.py  training / first / previous references and their cached statistics
evaluate.py   every metric family on the evaluated rows
task.py       what binary, multiclass and regression evaluations do differently
store.py      the atomic append and the store's views
run.py        one build of a store, end to end
"""

# The function `evaluate` stays in its module: re-exported here it would shadow the module
# `mlmon.evaluation.evaluate` as an attribute of this package.
from mlmon.evaluation.evaluate import EvaluationPlan, EvaluationResult
from mlmon.evaluation.reference import Reference, ReferenceCache, resolve_reference
from mlmon.evaluation.run import EvaluationRequest, StoredEvaluation, run_evaluation
from mlmon.evaluation.sampling import Sampling
from mlmon.evaluation.store import EvaluationRecord, append_evaluation, feature_view, has_evaluations

__all__ = [
    "EvaluationPlan",
    "EvaluationRecord",
    "EvaluationRequest",
    "EvaluationResult",
    "Reference",
    "ReferenceCache",
    "Sampling",
    "StoredEvaluation",
    "append_evaluation",
    "feature_view",
    "has_evaluations",
    "resolve_reference",
    "run_evaluation",
]
