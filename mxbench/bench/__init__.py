"""The benchmark built on the library: the runner of the grid, the report on its results, and the studies.

The library parts — tasks (:mod:`mxbench.task`), datasets (:mod:`mxbench.data`), models
(:mod:`mxbench.models`), explainers (:mod:`mxbench.explainers`) and metrics
(:mod:`mxbench.validation`) — know nothing of this package. Here they are put together:

- :mod:`mxbench.bench.runner`: :func:`validate` runs tasks × models × explainers × budgets ×
  seeds in one process pool, training the models it needs (and caching them), into one tidy
  results frame (:func:`write_results`, :func:`read_results`);
- :mod:`mxbench.bench.report`: ``report.md`` with the leaderboard, the five questions and plots;
- :mod:`mxbench.bench.specialisation`: the FL-I2MoE specialisation study (routing and expert
  games against the planted kinds);
- :mod:`mxbench.bench.main`: :func:`run`, the main job (generate, train, explain, validate,
  report).

Examples
--------
>>> import mxbench
>>> from mxbench.bench import validate
>>> task = mxbench.generate("smoke", instances=64)[0]
>>> frame = validate(task, models=["planted"], explainers=["exact"], metrics=["auroc"], instances=1, n_jobs=1,
...                  progress=False)
>>> frame[["model", "explainer", "metric", "value"]].values.tolist()[0]
['planted', 'exact', 'auroc', 1.0]
"""

from mxbench.bench.main import run
from mxbench.bench.report import write_report
from mxbench.bench.runner import RESULT_COLUMNS, RunnerError, certified_only, read_results, validate, write_results

__all__ = ["RESULT_COLUMNS", "RunnerError", "certified_only", "read_results", "run", "validate", "write_report",
           "write_results"]
