"""Validators: score explanations against the exact truth — recovery, faithfulness, desiderata, axioms, cost.

Every metric is a function ``fn(explanation, truth, *, game=None, explainer=None, task=None,
model=None, **options) -> list of rows``; a row is a dict with the columns
:data:`~mxbench.validation.truth.COLUMNS` ``(task, instance, model, explainer, metric, value)``.
A row's ``metric`` is ``base[@qualifier][:exact]`` (:func:`parse_metric`): the registry entry,
an optional detail (``comprehensiveness@10%``, ``granger_influence@txt->tab``) and ``:exact``
for the oracle's exact value of the same quantity. ``auroc``, ``auroc_pooled``,
``precision_at_k`` and ``pair_precision`` count the *material* planted players (pairs) as
positives; their ``@active`` rows (``auroc@active``, ...) every *active* planted player (pair)
(:mod:`mxbench.validation.recovery`).

:data:`METRICS` maps each name to a :class:`Metric` (the function, its direction and range,
its family, and what it needs); :func:`evaluate` runs several on one explanation (or on plain
attributions, wrapped by :func:`as_explanation`) and returns a DataFrame. A metric that reads
pair values as a redundancy score or as a signed interaction decides by the explanation's
index (:attr:`~mxbench.explainers.base.Explanation.index`), never by the explainer's name.
Running the metrics over a grid of tasks, models and explainers, and the report on the results,
belong to :mod:`mxbench.bench`.

Examples
--------
>>> import mxbench
>>> from mxbench.explainers import Exact
>>> from mxbench.validation import Truth, evaluate
>>> from mxbench.validation.truth import EXAMPLE_SPEC
>>> task = mxbench.generate(EXAMPLE_SPEC)
>>> game = task.game(0)
>>> frame = evaluate(Exact().explain(game), Truth.from_task(task, 0), ["auroc", "deletion"], game=game)
>>> frame[["metric", "value"]].values.tolist()[0]
['auroc', 1.0]
"""

from mxbench.validation import axioms, desiderata, faithfulness, recovery
from mxbench.validation.registry import (FAMILIES, METRICS, Metric, as_explanation, direction, evaluate, get_metric,
                                         metric_names)
from mxbench.validation.truth import COLUMNS, EXAMPLE_SPEC, MetricError, Truth, make_rows, model_label, parse_metric

__all__ = ["COLUMNS", "EXAMPLE_SPEC", "FAMILIES", "METRICS", "Metric", "MetricError", "Truth", "as_explanation",
           "axioms", "desiderata", "direction", "evaluate", "faithfulness", "get_metric", "make_rows", "metric_names",
           "model_label", "parse_metric", "recovery"]
