"""The main job, ``mxbench run``: generate a suite, train the models, explain, validate and report.

Every part goes into the one process pool of :mod:`mxbench.bench.runner`, or with a scheduler
onto its Dask cluster (its job list, built with the runner's own helpers): training, the units
on the trained models, the FL-I2MoE specialisation check (:mod:`mxbench.bench.specialisation`),
the planted units and the recovery-against-queries curve; the report
(:func:`mxbench.bench.report.write_report`) is written from the results. The job reads the runner's settings (:data:`~mxbench.bench.runner.MAX_MODEL_PLAYERS`,
the curve budgets, ...) when it runs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from mxbench.bench import runner
from mxbench.bench.report import write_report
from mxbench.task import Task


def _specialisation_job(task: Task, cache_dir: Path | str, options: Mapping[str, Any]) -> pd.DataFrame:
    runner._limit_threads()
    return specialisation_rows([task], cache_dir, options)


def specialisation_rows(tasks: Sequence[Task], cache_dir: str | Path, train_options: Mapping[str, Any] | None = None,
                        seed: int = 0) -> pd.DataFrame:
    """Result rows of the FL-I2MoE specialisation check for each task's cached ``fl_i2moe`` model.

    ``routing@{expert}`` is the expert's mean routing weight on test instances; for each planted
    term kind, ``matching_share@{kind}`` is the mean share of a term carried by the expert of its
    kind (:func:`mxbench.bench.specialisation.expert_term_share`) and ``matching_top@{kind}`` the
    fraction of terms whose largest share that expert carries. Rows have ``explainer =
    "specialisation"`` and ``instance = -1``.

    Examples
    --------
    >>> specialisation_rows([], "cache").columns.tolist() == list(runner.RESULT_COLUMNS)
    True
    """
    from mxbench.bench.specialisation import expert_term_share, routing_summary

    rows = []
    for task in tasks:
        folder = runner.model_folder(cache_dir, task, "fl_i2moe", seed, train_options or {})
        if not runner._model_present(folder):
            continue
        model = runner._load_model(folder, task)
        certified = bool(model.certificate is not None and model.certificate.passed)
        base = {"task": task.spec.name, "instance": -1, "model": "fl_i2moe", "certified": certified,
                "truth": "model", "explainer": "specialisation", "budget": -1, "seed": seed}
        for r in routing_summary(model, task, instances=256).itertuples():
            rows.append({**base, "metric": f"routing@{r.expert}", "value": float(r.mean_weight)})
        share = expert_term_share(model, task, instances=64)
        for kind, g in share.groupby("kind"):
            mine = g[g["matching"]]
            top = g.loc[g.groupby("term_id")["share"].idxmax()]
            rows.append({**base, "metric": f"matching_share@{kind}", "value": float(mine["share"].mean())})
            rows.append({**base, "metric": f"matching_top@{kind}", "value": float(top["matching"].mean())})
    return pd.DataFrame(rows, columns=list(runner.RESULT_COLUMNS))


def run(suite: str = "smoke", out: str | Path = "mxbench-run", *, models: Sequence[str] | None = None,
        explainers: Sequence[Any] = runner.DEFAULT_EXPLAINERS, budgets: Sequence[int | None] = (None,),
        instances: int = 4, train_options: Mapping[str, Any] | None = None, n_jobs: int | None = None,
        progress: bool = True, cache_dir: str | Path | None = None, scheduler: Any = None,
        command: str | None = None) -> Path:
    """The main job: generate, train, explain, validate and report; return the report's path.

    Writes ``out/data`` (the suite's Parquet datasets; reused when already there and intact),
    ``out/models`` (trained models; reused), ``out/results.parquet`` and ``out/report/``. The
    metrics that re-run the explainer (:data:`~mxbench.bench.runner.RERUN_METRICS`) are computed on
    the planted games only; every other metric on every model. A second pass explains the planted
    games at the budgets of :func:`~mxbench.bench.runner.curve_budgets` with
    :data:`~mxbench.bench.runner.CURVE_EXPLAINERS` (recovery against queries, question 1 of the report).

    A suite with a task of more than :data:`~mxbench.bench.runner.MAX_MODEL_PLAYERS` players
    (:func:`~mxbench.bench.runner.beyond_models`;
    the ``paper`` suite) runs on the planted games only by default (one printed line says so):
    the architectures are not built for that many players. On such tasks the metrics that
    re-run the explainer are left out (they re-run it once per modality or perturbation: 20-50 s
    per explanation at a thousand players) and the curve budgets are ``n/4`` to ``4n``. An
    explainer that cannot run on a task at any budget (:func:`~mxbench.bench.runner.skip_reason`; e.g. the all-pairs
    interaction probes on hundreds of players) is left out there, with one printed line per
    explainer saying why.

    Parameters
    ----------
    suite : str
        A suite name.
    out : str or Path
        The output folder.
    models : list of str, optional
        As in :func:`~mxbench.bench.runner.validate`; default
        :data:`~mxbench.bench.runner.DEFAULT_MODELS`, or ``["planted"]`` when a task of the suite
        is beyond the models.
    explainers, budgets, instances, train_options, n_jobs, progress
        As in :func:`~mxbench.bench.runner.validate`.
    cache_dir : str or Path, optional
        The model cache (default ``out/models``): a path or an fsspec URL, as in
        :func:`~mxbench.bench.runner.validate`.
    scheduler : str or distributed.Client, optional
        Run every job on a Dask cluster, as in :func:`~mxbench.bench.runner.validate`
        (default: ``MXBENCH_SCHEDULER``, else the local pool). The cluster is reached before
        anything is written; the data, results and report are written here, the models to the
        cache, which on a cluster must be where every worker reads it.
    command : str, optional
        The command line that started the job, recorded in the report's provenance.

    Returns
    -------
    Path
        ``out/report/report.md``.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:  # doctest: +SKIP
    ...     run("smoke", d)
    """
    from mxbench.cluster import resolve_scheduler
    from mxbench.generators.suites import SUITES, suite_specs

    scheduler = resolve_scheduler(scheduler)
    if suite not in SUITES:
        raise runner.RunnerError(f"suite: unknown suite {suite!r} (choose from {', '.join(SUITES)})")
    largest = max(spec.n_players for spec in suite_specs(suite))
    if models is None:
        models = [runner.PLANTED] if runner.beyond_models(largest) else list(runner.DEFAULT_MODELS)
        if runner.beyond_models(largest):
            print(f"mxbench: suite {suite!r} has tasks of up to {largest} players, more than the "
                  f"{runner.MAX_MODEL_PLAYERS} the trained architectures are built for: models skipped, explaining "
                  f"the planted games only")
    specs = runner.explainer_specs(explainers)
    runner._check_grid(models, budgets, (0,), instances, None)
    out = Path(out)
    n = n_jobs or os.cpu_count() or 1
    cache = runner._model_cache(cache_dir, out / "models", scheduler, n)
    with runner._engine(scheduler) as client:  # connected (or refused) before anything is written
        return _run(suite, out, models, specs, budgets, instances, train_options, n, progress, cache, client,
                    command)


def _run(suite: str, out: Path, models: Sequence[str], specs: list[tuple[str, dict]], budgets: Sequence[int | None],
         instances: int, train_options: Mapping[str, Any] | None, n_jobs: int, progress: bool, cache: Path | str,
         client: Any, command: str | None = None) -> Path:
    """:func:`run` once its arguments are checked and its engine (a Dask client or None) is ready."""
    from mxbench.data import load_suite, write

    data = out / "data"
    if (data / "suite.json").is_file():
        tasks = list(load_suite(data).values())
    else:
        write(suite, data, overwrite=data.exists(), progress=progress)
        tasks = list(load_suite(data).values())
    from tqdm.auto import tqdm

    from mxbench.validation import METRICS

    cheap = [m for m in METRICS if m not in runner.RERUN_METRICS]
    trained = [m for m in models if m != runner.PLANTED]
    options = dict(train_options or {})
    curve_specs = runner.explainer_specs(runner.CURVE_EXPLAINERS)
    curve_metrics = ["auroc", "modality_share_error", "n_queries"]
    skips = runner._skips(tasks, specs, budgets)
    curve_skips = {key: reason for task in tasks for key, reason in
                   runner._skips([task], curve_specs, runner.curve_budgets(task.n_players)).items()}
    for line in runner._skip_lines(skips, specs) + runner._skip_lines(curve_skips, curve_specs):
        print(f"mxbench: {line}")
    small = [t for t in tasks if not runner.beyond_models(t.n_players)]
    large = sorted((t for t in tasks if runner.beyond_models(t.n_players)), key=lambda t: -t.n_players)
    # one pool for everything, in priority order: training (longest first), the units on the
    # trained models, the specialisation check, the planted units, the recovery-against-queries
    # curve; units start as soon as their model is trained. Tasks beyond the models come before
    # the planted units of the others, largest first and their curve first: their curve units
    # are the longest jobs of such a run.
    planted = [runner.PLANTED]
    units = runner._unit_jobs("models", tasks, trained, specs, budgets, (0,), instances, cheap, cache, options, skips)
    if "fl_i2moe" in trained:
        units += [(("specialisation", task.spec.name), _specialisation_job, (task, cache, options),
                   (("train", task.spec.name, "fl_i2moe"),)) for task in tasks]
    for task in large:
        units += runner._unit_jobs("curve", [task], planted, curve_specs, runner.curve_budgets(task.n_players), (0,),
                                   instances, curve_metrics, cache, options, curve_skips)
        if runner.PLANTED in models:
            units += runner._unit_jobs("planted", [task], planted, specs, budgets, (0,), instances, cheap, cache,
                                       options, skips)
    if runner.PLANTED in models:
        units += runner._unit_jobs("planted", small, planted, specs, budgets, (0,), instances, None, cache, options,
                                   skips)
    units += runner._unit_jobs("curve", small, planted, curve_specs, runner.CURVE_BUDGETS, (0,), instances,
                               curve_metrics, cache, options, curve_skips)
    jobs = runner._train_jobs(tasks, [m for m in trained if m not in runner.UNTRAINED], cache, 0, options) + units
    bar = tqdm(total=len(jobs), desc="run", unit="job", disable=not progress)
    done = runner._run_jobs(jobs, n_jobs, bar, client=client)
    bar.close()
    results = runner._tidy([done[job[0]] for job in units])
    runner.write_results(results, out / "results.parquet")
    return write_report(results, out / "report", task=min(tasks, key=lambda t: t.n_players),
                        players={t.spec.name: t.n_players for t in tasks}, tasks={t.spec.name: t for t in tasks},
                        command=command)
