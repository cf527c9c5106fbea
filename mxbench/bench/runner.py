"""The benchmark runner: tasks × models × explainers × budgets × seeds -> one tidy results frame.

:func:`validate` runs the grid. Work is cut into units of one (task, model, explainer): each
unit builds the games of the chosen test instances, runs the explainer at every budget and seed,
and scores each explanation with the validators (:func:`mxbench.validation.evaluate`). Units and
the training of the models they need run in one pool of processes (:func:`_run_jobs`, joblib's
loky executor) with one BLAS / torch thread each; a unit starts as soon as its model is trained.
With a scheduler (``validate(..., scheduler=...)``, :mod:`mxbench.cluster`) the same jobs run on a
Dask cluster (:func:`_run_jobs_dask`). Trained models are cached (keyed by the task's spec hash,
the architecture, the seed, the training options and the training defaults) in a folder or at an
fsspec URL, and reused.

The results hold one row per (task, instance, model, explainer, budget, seed, metric) with the
columns :data:`RESULT_COLUMNS`; ``certified`` is False for rows on a model that failed its
certificate, and :func:`certified_only` keeps the certified rows only.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from mxbench.errors import BudgetError, ExplainerError, MxbenchError
from mxbench.task import Task, generate

#: The columns of :func:`validate`'s frame, in order.
RESULT_COLUMNS = ("task", "instance", "model", "certified", "truth", "explainer", "budget", "seed", "metric", "value")
#: The ``truth`` column: which truth a row was scored against. ``"planted"``: the task's planted
#: game (:meth:`~mxbench.validation.truth.Truth.from_task`); ``"model"``: the explained model's
#: own game, enumerated exactly (:meth:`~mxbench.validation.truth.Truth.from_game`, up to
#: :data:`~mxbench.validation.truth.MAX_GAME_PLAYERS` players); ``"model-estimate"``: the model's
#: own game above that size, its Shapley values estimated from antithetic permutations.
TRUTHS = ("planted", "model", "model-estimate")
PLANTED_TRUTH, MODEL_TRUTH, MODEL_ESTIMATE = TRUTHS
#: Metric families that compare an explanation with a truth's exact values: on a model game
#: (a trained model or "exact") their metrics are computed twice, against the planted truth and
#: the model's. The other families (faithfulness, desiderata, cost) query the game or the
#: explainer and are computed once, against the model truth (their ``:exact`` reference rows
#: then read the explained game's exact values) and labelled ``"model"``. Against an estimated
#: model truth only :data:`ESTIMATE_METRICS` are computed twice, and every other metric is
#: scored against the planted truth alone.
TRUTH_FAMILIES = ("recovery", "axioms")
#: The explainer name of the rows on a model's own error against the planted truth (one set per
#: (task, model, instance), budget -1, the first seed, truth "planted"): ``model_shapley_error``
#: ``= ||phi_model - phi_planted|| / ||phi_planted||`` and ``model_share_error`` (total variation
#: between the modality shares of the two truths' exact Shapley values, as ``modality_share_error``).
MODEL_ROW_EXPLAINER = "-"
#: The metric names of those rows; on a model truth that is an estimate (more than
#: :data:`~mxbench.validation.truth.MAX_GAME_PLAYERS` players) a third row,
#: ``model_truth_se``, gives the estimate's relative standard error ``||se|| / ||phi_model||``.
MODEL_ERROR_METRICS = ("model_shapley_error", "model_share_error")
#: The metrics scored against a model truth that is an estimate: those that read only its
#: Shapley and modality values (it has no Banzhaf values or SII). The other metrics of such a
#: unit are scored against the planted truth only.
ESTIMATE_METRICS = ("shapley_error", "modality_share_error", "spearman", "kendall")
#: The model name of the planted game itself (the truth, no trained model).
PLANTED = "planted"
#: The model name of the exact model of the planted function (:func:`mxbench.models.exact_model`):
#: a torch module computing ``f*`` from the raw inputs; built per unit from the task, never trained
#: or cached, and usable by white-box explainers.
EXACT = "exact"
#: Model names that need no training (no ``("train", ...)`` job, no cache folder).
UNTRAINED = (PLANTED, EXACT)
#: The models of the main job.
DEFAULT_MODELS = (PLANTED, "fusion_mlp", "transformer", "fl_i2moe")
#: The explainers of the main job.
DEFAULT_EXPLAINERS = ("lemon", ("sii-probe", {"budget": 2048}), ("redundancy-gap", {"budget": 2048}), "kernelshap",
                      "lime", "integrated_gradients", "attention_rollout", "attention_grad", "expert_maps",
                      ("unimodal", {"base": "kernelshap"}))
#: Metrics that re-run the explainer (Granger influence, stability, linearity): the main job
#: computes them on the planted games only, where a query costs microseconds.
RERUN_METRICS = ("granger_influence", "unified_stability", "linearity")
#: Explainers and budgets of the main job's recovery-against-queries pass (planted games).
CURVE_EXPLAINERS = ("lemon", "mmshap", "permutation", "kernelshap")
CURVE_BUDGETS = (8, 16, 32, 64, 128, 256, 512, 1024)
#: The most players of a task the trained architectures are built for: the largest tasks they
#: are trained and certified on (the ``standard`` suite, 16-64 players). The main job runs a task
#: with more players (:func:`beyond_models`, e.g. the ``paper`` suite's 244-1000) on its planted
#: game only, without :data:`RERUN_METRICS`, and with the curve budgets :data:`CURVE_MULTIPLES`.
MAX_MODEL_PLAYERS = 64
#: Budgets of the recovery-against-queries pass on a task beyond the models, in multiples of its
#: number of players ``n``: ``n/4, n/2, n, 2n, 4n`` (:func:`curve_budgets`).
CURVE_MULTIPLES = (0.25, 0.5, 1, 2, 4)
#: The most queries one explanation may need: a method whose minimum is larger at every budget
#: of the grid is skipped on that task with its reason (:func:`skip_reason`), e.g. Exact's
#: ``2^n`` coalitions beyond 20 players.
MAX_QUERIES = 2**20
#: Results file schema marker (stored in the Parquet metadata).
RESULTS_SCHEMA = "mxbench-results/1"


class RunnerError(MxbenchError):
    """A bad argument to the runner or the report: unknown names, an empty suite, a foreign results file.

    Examples
    --------
    >>> from mxbench.errors import MxbenchError
    >>> issubclass(RunnerError, MxbenchError)
    True
    """


def _limit_threads() -> None:
    """One BLAS and one torch thread per worker process (the workers are the parallelism)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        pass
    import torch

    torch.set_num_threads(1)


@dataclass(frozen=True)
class _Result:
    """A job argument standing for the result of the job ``key`` (:func:`_run_jobs`).

    The job waits for that job, and receives its result in the argument's place.
    """

    key: Any


def _run_jobs(jobs: Sequence[tuple[Any, Any, tuple, tuple]], n_jobs: int, bar: Any = None,
              client: Any = None) -> dict[Any, Any]:
    """Run ``jobs`` ``(key, fn, args, deps)`` in worker processes; return ``{key: fn(*args)}``.

    An argument that is a :class:`_Result` (or a tuple of them) makes its job depend on that
    job, and is replaced by that job's result when the job starts.

    A job starts once every job whose key is in its ``deps`` has finished; a free worker takes
    the first such job in list order, so the list order is the priority. Validation units thus
    start while the slowest models are still training, and no core idles waiting for a phase to
    end. A job that raises stops the run: jobs not yet started never start, the worker
    processes of jobs still running are killed, and the error is re-raised. Unknown
    dependencies and dependency cycles are refused before anything starts.

    With ``client`` (a :class:`distributed.Client`) the same graph runs on its Dask cluster
    instead (:func:`_run_jobs_dask`; ``n_jobs`` is then the cluster's business).

    Examples
    --------
    >>> jobs = [("b", pow, (2, 3), ("a",)), ("a", abs, (-2,), ()), ("c", pow, (_Result("a"), 3), ()),
    ...         ("d", sum, ((_Result("a"), _Result("b")),), ())]
    >>> _run_jobs(jobs, n_jobs=1)
    {'a': 2, 'b': 8, 'c': 8, 'd': 10}
    """
    jobs = [(key, fn, args, tuple(deps) + tuple(_result_keys(args))) for key, fn, args, deps in jobs]
    keys = {job[0] for job in jobs}
    if len(keys) != len(jobs):
        raise RunnerError("jobs: two jobs share a key")
    for key, _, _, deps in jobs:
        missing = [d for d in deps if d not in keys]
        if missing:
            raise RunnerError(f"job {key!r} depends on unknown jobs {missing}")
    done: set[Any] = set()
    left, order = list(jobs), []
    while left:  # every job must become ready some time: no cycle
        ready = [job for job in left if all(d in done for d in job[3])]
        if not ready:
            raise RunnerError(f"jobs {[job[0] for job in left]} depend on each other in a cycle")
        order += ready  # an order in which every job comes after the jobs it depends on
        done.update(job[0] for job in ready)
        left = [job for job in left if job[0] not in done]
    if client is not None:
        return _run_jobs_dask(order, [job[0] for job in jobs], client, bar)
    pending, results = list(jobs), {}

    def next_ready() -> tuple | None:
        k = next((i for i, job in enumerate(pending) if all(d in results for d in job[3])), None)
        if k is None:
            return None
        key, fn, args, deps = pending.pop(k)
        return key, fn, _substitute(args, results.__getitem__), deps

    if n_jobs <= 1:
        while pending:
            key, fn, args, _ = next_ready()
            results[key] = fn(*args)
            if bar is not None:
                bar.update(1)
        return results
    from concurrent.futures import FIRST_COMPLETED, wait

    from joblib.externals.loky import get_reusable_executor

    executor = get_reusable_executor(max_workers=n_jobs)
    running: dict[Any, Any] = {}
    try:
        while pending or running:
            while len(running) < n_jobs and (job := next_ready()) is not None:
                running[executor.submit(job[1], *job[2])] = job[0]
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                results[running.pop(future)] = future.result()
                if bar is not None:
                    bar.update(1)
    except BaseException:
        if running:  # the other running jobs are of no use now: stop them rather than wait
            executor.shutdown(wait=False, kill_workers=True)
        raise
    return results


def _result_keys(a: Any) -> list[Any]:
    """The keys of the :class:`_Result` placeholders in a job argument (tuples searched through).

    Examples
    --------
    >>> _result_keys((1, _Result("a"), (_Result("b"), 2)))
    ['a', 'b']
    """
    if isinstance(a, tuple):
        return [k for x in a for k in _result_keys(x)]
    return [a.key] if isinstance(a, _Result) else []


def _substitute(a: Any, result: Any, leaf: Any = None) -> Any:
    """``a`` with each :class:`_Result` replaced by ``result(key)`` and every other leaf by
    ``leaf(x)`` (unchanged by default), tuples searched through.

    Examples
    --------
    >>> _substitute((1, _Result("a"), (_Result("b"),)), {"a": 10, "b": 20}.__getitem__)
    (1, 10, (20,))
    """
    if isinstance(a, tuple):
        return tuple(_substitute(x, result, leaf) for x in a)
    if isinstance(a, _Result):
        return result(a.key)
    return a if leaf is None else leaf(a)


def _dask_key(key: Any, run: str) -> str:
    """The Dask key of the job ``key`` in the run ``run``: ``mxbench-{kind}-{hash of key}-{run}``.

    The hash makes it deterministic (the same job key, the same name within a run; Dask keys
    must be strings or tuples of simple values); the run token keeps two runs on one cluster
    from sharing a key, and with it a result. ``kind`` (``train``, ``truth``, ``unit``, ...)
    groups the jobs on Dask's dashboard.

    Examples
    --------
    >>> _dask_key(("unit", "validate", "smoke-tab-txt", "planted", 0), "0a1b2c3d")
    'mxbench-unit-42be1c66ace91887-0a1b2c3d'
    """
    kind = key[0] if isinstance(key, tuple) and key and isinstance(key[0], str) else "job"
    return f"mxbench-{kind}-{hashlib.sha256(repr(key).encode()).hexdigest()[:16]}-{run}"


def _dask_call(fn: Any, args: tuple, after: Sequence[Any]) -> Any:
    """``fn(*args)`` on a Dask worker. ``after`` holds the results of the jobs this one waits for
    without using their results (the futures passed in its place are what order it after them)."""
    return fn(*args)


def _run_jobs_dask(order: Sequence[tuple], keys: Sequence[Any], client: Any, bar: Any = None) -> dict[Any, Any]:
    """Run checked jobs on the Dask cluster of ``client``; return ``{key: result}`` in ``keys`` order.

    ``order`` holds the jobs ``(key, fn, args, deps)`` of :func:`_run_jobs` (``deps`` completed
    with the keys of their :class:`_Result` arguments), each after the jobs it depends on;
    ``keys`` is the job list's order, its priority. Each job is one ``client.submit`` of
    :func:`_dask_call` with the key :func:`_dask_key`, in that order, and Dask's ``priority``
    falling along ``keys`` (a free worker takes the first ready job, as in the local pool). A
    :class:`_Result` argument becomes the future of its job, which Dask replaces by that job's
    result on the worker; a dependency that is not an argument becomes a future in
    :func:`_dask_call`'s ``after``. A :class:`~mxbench.task.Task` argument is scattered to every
    worker once (``broadcast=True, hash=False``) and passed as that future, so a task crosses
    the wire once per worker, not once per job. Results are taken as they complete
    (:class:`distributed.as_completed`, which advances ``bar``); the first job that raises
    cancels every other and its error is re-raised here. A job whose worker dies is rerun on
    another (Dask's ``distributed.scheduler.allowed-failures``, 3 by default); when every try
    killed its worker the run stops with a :class:`RunnerError` naming the job. Nothing polls: Dask's scheduler
    starts each job when its futures are done.
    """
    import uuid

    from distributed import as_completed

    run = uuid.uuid4().hex[:8]
    rank = {key: len(keys) - i for i, key in enumerate(keys)}
    shared: dict[int, tuple[Task, Any]] = {}  # id(task) -> (task, its future); the task is kept so ids stay unique
    futures: dict[Any, Any] = {}

    def share(a: Any) -> Any:
        if not isinstance(a, Task):
            return a
        if id(a) not in shared:
            shared[id(a)] = (a, client.scatter([a], broadcast=True, hash=False)[0])
        return shared[id(a)][1]

    results: dict[Any, Any] = {}
    try:
        for key, fn, args, deps in order:
            held = set(_result_keys(args))
            after = [futures[d] for d in dict.fromkeys(deps) if d not in held]
            futures[key] = client.submit(_dask_call, fn, _substitute(args, futures.__getitem__, share), after,
                                         key=_dask_key(key, run), priority=rank[key], pure=False)
        names = {future.key: key for key, future in futures.items()}
        for batch in as_completed(list(futures.values()), with_results=True, raise_errors=True).batches():
            for future, result in batch:
                results[names[future.key]] = result
                if bar is not None:
                    bar.update(1)
    except BaseException as error:
        if futures:  # the other jobs are of no use now: cancel them rather than wait
            client.cancel(list(futures.values()), force=True)
        if type(error).__name__ == "KilledWorker":  # Dask retried it on other workers, and they died too
            job = next((key for key, f in futures.items() if f.key == getattr(error, "task", None)), None)
            raise RunnerError(f"job {job!r}: its worker died each time it ran (Dask's allowed failures "
                              f"exhausted); the run is stopped, no result was written") from error
        raise
    finally:
        if shared:
            client.cancel([future for _, future in shared.values()], force=True)
    return {key: results[key] for key in keys}


def _engine(scheduler: Any) -> Any:
    """A context giving the :func:`_run_jobs` engine of ``scheduler``: None (the local pool) when
    it is None, else a Dask client (:func:`mxbench.cluster.dask_client`)."""
    from contextlib import nullcontext

    if scheduler is None:
        return nullcontext(None)
    from mxbench.cluster import dask_client

    return dask_client(scheduler)


def _model_cache(cache_dir: str | Path | None, default: str | Path, scheduler: Any, n_jobs: int) -> Path | str:
    """The model cache as the jobs get it (:func:`mxbench.cluster.storage_location`).

    With a scheduler a local path is made absolute (on a cluster it must name a shared file
    system, the same for every worker). ``memory://`` lives in one process: it is refused with
    a scheduler or several processes.
    """
    from mxbench.cluster import storage_location

    cache = storage_location(cache_dir if cache_dir is not None else default)
    if isinstance(cache, str) and cache.startswith("memory://") and (scheduler is not None or n_jobs > 1):
        raise RunnerError(f"cache: {cache!r} is the memory of one process, which other worker processes do not "
                          f"see; use it with n_jobs=1 and no scheduler, or give a location every worker reads "
                          f"(a shared file system path, file://..., s3://...)")
    return cache.absolute() if scheduler is not None and isinstance(cache, Path) else cache


def _model_present(folder: str | Path) -> bool:
    """Whether the model folder (local path or URL) is complete: it holds ``config.json``."""
    from mxbench.cluster import folder_complete, is_url

    return folder_complete(folder) if is_url(folder) else (Path(folder) / "config.json").is_file()


def _load_model(folder: str | Path, task: Task, recheck: bool = False) -> Any:
    """:func:`mxbench.models.load` of a model folder; one at a URL is first copied to this worker
    process's local temporary folder (:func:`mxbench.cluster.local_copy`, once per process).

    Hashes are always checked; the certificate is re-measured (``recheck``) only by the training
    job, once per run: the units and truth jobs that follow load what it has just checked.
    """
    from mxbench.cluster import is_url, local_copy
    from mxbench.models import ModelError, load

    if not is_url(folder):
        return load(folder, task, recheck=recheck)
    try:
        local = local_copy(folder)
    except FileNotFoundError:
        raise ModelError(f"{folder!r} is not a model folder: config.json is missing") from None
    return load(local, task, recheck=recheck)


def _save_model(model: Any, folder: str | Path) -> None:
    """Save a trained model to its folder: in place for a local path; at a URL, saved to a local
    temporary folder, then uploaded with ``config.json`` last (:func:`mxbench.cluster.upload_folder`)."""
    from mxbench.cluster import is_url, upload_folder

    if not is_url(folder):
        model.save(folder, overwrite=True)
        return
    import tempfile

    with tempfile.TemporaryDirectory(prefix="mxbench-model-") as tmp:
        upload_folder(model.save(Path(tmp) / "model"), folder)


def resolve_tasks(suite: str | Task | Sequence[Any], instances: int | None = None) -> list[Task]:
    """Tasks from a suite name, a dataset folder, a Task or a list of them.

    Raises
    ------
    RunnerError
        The suite is empty, or holds two tasks of one name.

    Examples
    --------
    >>> [t.spec.name for t in resolve_tasks("smoke", instances=16)]
    ['smoke-tab-txt', 'smoke-img-txt', 'smoke-mix3']
    """
    from mxbench.generators.suites import SUITES

    items = [suite] if isinstance(suite, (str, Path, Task)) else list(suite)
    tasks: list[Task] = []
    for item in items:
        if isinstance(item, Task):
            tasks.append(item)
        elif isinstance(item, str) and item in SUITES:
            tasks += generate(item, instances=instances)
        elif isinstance(item, (str, Path)) and Path(item).is_dir():
            from mxbench.data import dataset_folders, load_dataset

            tasks += [load_dataset(folder) for folder in dataset_folders(item)]
        else:
            raise RunnerError(f"suite: {item!r} is neither a suite name ({', '.join(SUITES)}), a dataset folder "
                              f"nor a Task")
    if not tasks:
        raise RunnerError(f"suite: {suite!r} holds no tasks")
    names = [t.spec.name for t in tasks]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise RunnerError(f"suite: task names must be unique (results are keyed by them), got {twice[0]!r} twice")
    return tasks


def _settings_key(arch: str, seed: int, options: Mapping[str, Any]) -> str:
    """A hash of what a cached model was trained with: the options given and the defaults behind
    them (``train``'s keyword defaults, the architecture's ``default_lr`` / ``default_epochs`` and
    its constructor defaults), so a change of defaults never reuses models trained the old way."""
    import inspect

    from mxbench.models import ARCHITECTURES, architecture, resolve_config, train
    from mxbench.spec import canonical_json

    resolved: dict[str, Any] = {"train": {k: repr(p.default) for k, p in inspect.signature(train).parameters.items()
                                          if p.default is not inspect.Parameter.empty}}
    if arch in ARCHITECTURES:
        cls = architecture(arch)
        resolved["arch"] = {**{k: repr(v) for k, v in resolve_config(arch).items()},
                            "lr": repr(getattr(cls, "default_lr", None)),
                            "epochs": repr(getattr(cls, "default_epochs", None))}
    doc = {"arch": arch, "seed": seed, "options": dict(options), "defaults": resolved}
    return hashlib.sha256(canonical_json(doc).encode()).hexdigest()[:10]


def model_spec(name: str) -> tuple[str, dict[str, Any]]:
    """A model name as ``(architecture, config)``: ``"fl_i2moe"`` or ``'fl_i2moe{"regularizer": "rep-cos"}'``.

    A model of the grid is an architecture name, optionally followed by constructor options as a
    JSON object (checked by :func:`mxbench.models.resolve_config` in :func:`validate`, before
    anything runs). The options join the ``config`` of the training options (over it) and so the
    cache key; the results' ``model`` column holds :func:`model_name`, the canonical spelling.

    Raises
    ------
    RunnerError
        Options that are not a JSON object.

    Examples
    --------
    >>> model_spec('fl_i2moe{"regularizer": "rep-cos"}')
    ('fl_i2moe', {'regularizer': 'rep-cos'})
    >>> model_spec("transformer")
    ('transformer', {})
    """
    import json

    if not isinstance(name, str):
        raise RunnerError(f"models: expected a model name (a string), got {type(name).__name__}")
    arch, brace, rest = name.partition("{")
    if not brace:
        return name.strip(), {}
    try:
        config = json.loads(brace + rest)
    except ValueError as e:
        where = f" at character {e.pos + len(arch) + 1}" if isinstance(e, json.JSONDecodeError) else ""
        raise RunnerError(f"models: {name}: the options are not a valid JSON object "
                          f"({getattr(e, 'msg', e)}{where})") from None
    return arch.strip(), config


def model_name(name: str) -> str:
    """The canonical name of a model spec: the architecture, then its options as canonical JSON.

    Equal specs spelled differently (spaces, key order) get one name, one cache folder and one
    ``model`` label in the results; a spec without options is the bare architecture name.

    Examples
    --------
    >>> model_name('fl_i2moe{"regularizer": "rep-cos", "perturbation": "noise"}')
    'fl_i2moe{"perturbation":"noise","regularizer":"rep-cos"}'
    >>> model_name("fl_i2moe{}")
    'fl_i2moe'
    """
    from mxbench.spec import canonical_json

    arch, config = model_spec(name)
    return arch + canonical_json(config) if config else arch


def _spec_options(name: str, options: Mapping[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """The architecture of a model spec and the training options with its config joined in."""
    arch, config = model_spec(name)
    options = dict(options or {})
    if config:
        options["config"] = {**dict(options.get("config") or {}), **config}
    return arch, options


def model_folder(cache_dir: str | Path, task: Task, arch: str, seed: int = 0,
                 options: Mapping[str, Any] | None = None) -> Path | str:
    """Where :func:`train_models` keeps a trained model: ``{task}-{arch}-s{seed}-{spec}{settings}``.

    ``cache_dir`` is a local path (a Path is returned) or an fsspec URL such as
    ``s3://bucket/models`` (a URL string is returned; ``file://`` URLs are local paths). ``arch``
    may be a model spec with options (:func:`model_spec`): the folder is named after the
    architecture and its settings hash covers the options.

    Examples
    --------
    >>> import mxbench
    >>> task = mxbench.generate("smoke", instances=8)[0]
    >>> model_folder("cache", task, "fusion_mlp").name[:28]
    'smoke-tab-txt-fusion_mlp-s0-'
    >>> model_folder("s3://bucket/models", task, "fusion_mlp")[:47]
    's3://bucket/models/smoke-tab-txt-fusion_mlp-s0-'
    """
    from mxbench.cluster import join_location

    arch, options = _spec_options(arch, options)
    key = task.spec.spec_hash()[:10] + _settings_key(arch, seed, options)
    return join_location(cache_dir, f"{task.spec.name}-{arch}-s{seed}-{key}")


def _train_one(task: Task, arch: str, seed: int, folder: Path | str, options: Mapping[str, Any]) -> tuple[str, float]:
    _limit_threads()
    from mxbench.models import train

    if _model_present(folder):
        return str(folder), _load_model(folder, task, recheck=True).seconds
    arch, options = _spec_options(arch, options)
    model = train(task, arch, random_state=seed, **options)
    _save_model(model, folder)
    return str(folder), model.seconds


def train_models(tasks: Sequence[Task], archs: Sequence[str], cache_dir: str | Path, *, seed: int = 0,
                 options: Mapping[str, Any] | None = None, n_jobs: int | None = None,
                 progress: bool = True, scheduler: Any = None) -> dict[tuple[str, str], Path | str]:
    """Train (or reuse) one model per (task, architecture); return their folders.

    Parameters
    ----------
    tasks : list of Task
        The tasks (each needs a training split).
    archs : list of str
        Architecture names (:data:`mxbench.models.ARCHITECTURES`).
    cache_dir : str or Path
        Where the model folders live (a local path, or an fsspec URL: ``file://``, ``s3://``,
        ...); a folder already there is loaded, not retrained.
    seed : int
        The training seed.
    options : dict, optional
        Keyword arguments for :func:`mxbench.models.train` (epochs, config, ...); part of the
        cache key.
    n_jobs : int, optional
        Parallel processes (default: the machine's cores).
    progress : bool
        Show a progress bar.
    scheduler : str or distributed.Client, optional
        Train on a Dask cluster, as in :func:`validate`.

    Returns
    -------
    dict
        ``(task name, arch) -> model folder`` (a Path, or a URL string).

    Examples
    --------
    >>> import mxbench, tempfile
    >>> task = mxbench.generate("smoke", instances=200)[0]
    >>> with tempfile.TemporaryDirectory() as d:
    ...     folders = train_models([task], ["fusion_mlp"], d, options={"epochs": 1, "certify": False},
    ...                            n_jobs=1, progress=False)
    ...     sorted(folders) == [("smoke-tab-txt", "fusion_mlp")]
    True
    """
    from tqdm.auto import tqdm

    from mxbench.cluster import resolve_scheduler, storage_location

    scheduler = resolve_scheduler(scheduler)
    n = n_jobs or os.cpu_count() or 1
    cache = _model_cache(cache_dir, cache_dir, scheduler, n)
    with _engine(scheduler) as client:
        jobs = _train_jobs(tasks, archs, cache, seed, options or {})
        bar = tqdm(total=len(jobs), desc="train", unit="model", disable=not progress)
        done = _run_jobs(jobs, n, bar, client=client)
        bar.close()
    return {(key[1], key[2]): storage_location(done[key][0]) for key in sorted(done)}


def _train_jobs(tasks: Sequence[Task], archs: Sequence[str], cache_dir: str | Path, seed: int,
                options: Mapping[str, Any]) -> list[tuple]:
    """The :func:`_run_jobs` jobs that train (or load) each (task, arch) model, longest first.

    Keys are ``("train", task name, arch)``. The longest jobs go first (slowest architecture,
    then most modalities and players), so the parallel tail is short: one fl_i2moe on three
    modalities takes as long as several of the other models together.
    """
    from mxbench.cluster import is_url

    _check_archs(archs)
    if not is_url(cache_dir):  # a URL's folders are made as models are written
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
    pairs = sorted(((task, arch) for task in tasks for arch in archs),
                   key=lambda p: (_slowness(p[1]), -len(p[0].modality_names), -p[0].n_players))
    return [(("train", task.spec.name, model_name(arch)), _train_one,
             (task, arch, seed, model_folder(cache_dir, task, arch, seed, options), dict(options)), ())
            for task, arch in pairs]


def explainer_specs(explainers: Iterable[Any]) -> list[tuple[str, dict[str, Any]]]:
    """Normalise the explainers of a grid to specs ``(name, params)``, checking each before anything runs.

    Each item is a registry name (``"kernelshap"``), an adapter name (``"shap:KernelExplainer"``,
    ``"shapiq:KernelSHAPIQ"``, ``"captum:IntegratedGradients"``), an import path
    (``"mypkg.mod:MyExplainer"``: a class, a function of the game, an object with ``explain``),
    any of them with parameters as a JSON object after the name (``'lemon{"budget": 64}'``), a
    ``(name, params)`` pair, an explainer instance or a function
    (:func:`mxbench.explainers.explainer_spec`). A spec is a string and a dict: the job carries
    it to its worker process, which builds the explainer itself (:func:`_run_unit`), so
    explainers of the user's own modules run in any worker.

    Raises
    ------
    RunnerError
        One line naming the explainer and the reason: an unknown name, an import path that does
        not import, an object that is not an explainer, parameters that are not JSON or that its
        constructor does not take, an adapter without its package, a class defined in
        ``__main__`` or inside a function (worker processes cannot import it).

    Examples
    --------
    >>> explainer_specs(["kernelshap", ("lemon", {"alpha": 0.5}), 'shap:KernelExplainer{"budget": 64}'])
    [('kernelshap', {}), ('lemon', {'alpha': 0.5}), ('shap:KernelExplainer', {'budget': 64})]
    >>> try:
    ...     explainer_specs(["mypkg.nowhere:MyExplainer"])
    ... except RunnerError as e:
    ...     print(e)
    explainers: mypkg.nowhere:MyExplainer: cannot import module 'mypkg.nowhere' (ModuleNotFoundError: No module named 'mypkg')
    """
    from mxbench.explainers.registry import explainer_spec

    out = []
    for item in explainers:
        try:
            out.append(explainer_spec(item))
        except ExplainerError as e:
            raise RunnerError(f"explainers: {e}") from None
    if not out:
        raise RunnerError("explainers: no explainer given")
    return out


def _is_whitebox(name: str) -> bool:
    """Whether the spec name ``name`` names a white-box explainer (one that explains a model, not a game)."""
    from mxbench.explainers import WhiteBoxExplainer
    from mxbench.explainers.registry import spec_class

    target = spec_class(name)
    return isinstance(target, WhiteBoxExplainer) or (isinstance(target, type) and issubclass(target, WhiteBoxExplainer))


def beyond_models(n_players: int) -> bool:
    """Whether a task of ``n_players`` is larger than the trained architectures are built for.

    True above :data:`MAX_MODEL_PLAYERS`. The main job (:func:`mxbench.bench.main.run`) explains
    such a task on its planted game only, without the metrics that re-run the explainer
    (:data:`RERUN_METRICS`: tens of seconds per explanation at a thousand players), and with curve
    budgets relative to ``n`` (:func:`curve_budgets`).

    Examples
    --------
    >>> beyond_models(64), beyond_models(244)
    (False, True)
    """
    return int(n_players) > MAX_MODEL_PLAYERS


def curve_budgets(n_players: int) -> tuple[int, ...]:
    """The budgets of the recovery-against-queries pass on a task of ``n_players``.

    :data:`CURVE_BUDGETS` (8 to 1024) for a task the models are built for; for a larger one
    (:func:`beyond_models`) the multiples :data:`CURVE_MULTIPLES` of ``n``, rounded.

    Examples
    --------
    >>> curve_budgets(14)[-1], curve_budgets(1000)
    (1024, (250, 500, 1000, 2000, 4000))
    """
    if not beyond_models(n_players):
        return CURVE_BUDGETS
    return tuple(max(1, int(round(m * n_players))) for m in CURVE_MULTIPLES)


def _count(k: int) -> str:
    """A query count, as a power of two when it has more than 12 digits (``2^n`` enumerations)."""
    return str(k) if k < 10**12 else f"about 2^{k.bit_length() - 1}"


def skip_reason(name: str, params: Mapping[str, Any], task: Task, budgets: Sequence[int | None]) -> str | None:
    """Why the explainer ``name`` cannot explain the games of ``task`` at any of ``budgets``; None if it can.

    At a budget of the grid a black-box explainer runs with that budget (None: the one in
    ``params``, else its default budget, else uncapped). It can run there when its minimum on
    the task (``min_budget``) fits that budget, or, uncapped, is at most :data:`MAX_QUERIES`.
    A method that fits no budget of the grid is left out of the task's units (a budget below
    the minimum only skips that budget). White-box explainers are not judged here: they need a
    model, and say themselves which architectures they apply to.

    Parameters
    ----------
    name : str
        A spec name (:func:`explainer_specs`): a registry, adapter or import-path name.
    params : dict
        Its parameters.
    task : Task
        The task.
    budgets : list of int or None
        The budget grid.

    Returns
    -------
    str or None

    Raises
    ------
    RunnerError
        An unknown explainer name.

    Examples
    --------
    >>> import mxbench
    >>> task = mxbench.generate({"name": "wide", "instances": 2, "modalities": [
    ...     {"name": "a", "kind": "tabular", "features": 30}], "terms": [{"kind": "unique", "players": ["a:0"]}]})
    >>> skip_reason("kernelshap", {}, task, [None]) is None
    True
    >>> skip_reason("exact", {}, task, [None])
    'needs at least 1073741824 queries on 30 players, more than the 1048576 allowed uncapped'
    >>> skip_reason("kernelshap", {}, task, [16, 32])
    'needs at least 60 queries on 30 players, more than its largest budget here, 32'
    """
    from mxbench.explainers.base import min_budget_of
    from mxbench.explainers.registry import get_explainer

    name, params = explainer_specs([(name, params)])[0]
    if _is_whitebox(name):
        return None
    explainer = get_explainer(name, **params)
    n = task.n_players
    need = min_budget_of(explainer, n, np.asarray(task.modality_of))
    own = getattr(explainer, "budget", None)
    own = own if own is not None else explainer.default_budget(n)
    budgeted = "budget" in explainer.get_params(deep=False)
    caps = [b if b is not None else own for b in (budgets if budgeted else (None,))]
    if any(need <= (MAX_QUERIES if cap is None else cap) for cap in caps):
        return None
    if any(cap is None for cap in caps):
        return f"needs at least {_count(need)} queries on {n} players, more than the {MAX_QUERIES} allowed uncapped"
    return f"needs at least {_count(need)} queries on {n} players, more than its largest budget here, {max(caps)}"


def _skips(tasks: Sequence[Task], specs: list[tuple[str, dict]],
           budgets: Sequence[int | None]) -> dict[tuple[str, int], str]:
    """``(task name, spec index) -> reason`` for every explainer that cannot run on a task (:func:`skip_reason`)."""
    out = {}
    for task in tasks:
        for j, (name, params) in enumerate(specs):
            reason = skip_reason(name, params, task, budgets)
            if reason is not None:
                out[(task.spec.name, j)] = reason
    return out


def _skip_lines(skips: Mapping[tuple[str, int], str], specs: list[tuple[str, dict]]) -> list[str]:
    """One line per skipped explainer naming each task it skips and why."""
    lines = []
    for j, (name, _) in enumerate(specs):
        mine = [f"{task} ({reason})" for (task, k), reason in skips.items() if k == j]
        if mine:
            lines.append(f"{name} skipped on " + "; ".join(mine))
    return lines


def model_truths(task: Task, model_name: str, folder: str | None, rows: Sequence[int]) -> dict[int, Any]:
    """The truth of a model's own game on each instance: exact up to ``MAX_GAME_PLAYERS``, else estimated.

    The runner's ``("truth", ...)`` job: computed once per (task, model) after training and
    handed to every unit on that model (:class:`_Result`), so no unit enumerates a game
    another already enumerated. Above :data:`~mxbench.validation.truth.MAX_GAME_PLAYERS`
    players the Shapley values are an antithetic-permutation estimate with its standard error
    (:meth:`~mxbench.validation.truth.Truth.from_game` with ``estimate=True``).

    Parameters
    ----------
    task : Task
        The task.
    model_name : str
        :data:`EXACT` or an architecture name.
    folder : str or None
        The trained model's folder (None for :data:`EXACT`).
    rows : list of int
        The instances.

    Returns
    -------
    dict
        ``{instance: Truth}``.

    Examples
    --------
    >>> import mxbench
    >>> task = mxbench.generate("smoke", instances=64)[0]
    >>> truths = model_truths(task, "exact", None, [0, 1])
    >>> sorted(truths), truths[0].estimated
    ([0, 1], False)
    """
    _limit_threads()
    from mxbench.models import exact_model
    from mxbench.validation.truth import Truth

    model = exact_model(task) if model_name == EXACT else _load_model(folder, task)
    return {int(i): Truth.from_game(model.game(task, int(i)), task, int(i), estimate=True) for i in rows}


def model_error(model_truth: Any, planted_truth: Any) -> dict[str, float]:
    """A model's own error against the planted truth on one instance (:data:`MODEL_ERROR_METRICS`).

    ``model_shapley_error`` is :func:`~mxbench.validation.recovery.relative_error` of the model's
    Shapley values against the planted ones (as ``shapley_error``), ``model_share_error`` the
    total variation between the two truths' modality Shapley shares (as
    ``modality_share_error``); an estimated model truth adds ``model_truth_se``.

    Parameters
    ----------
    model_truth, planted_truth : Truth
        The model's truth (:func:`model_truths`) and the planted truth of the same instance.

    Returns
    -------
    dict
        ``{metric: value}``.

    Examples
    --------
    >>> import mxbench
    >>> from mxbench.validation.truth import EXAMPLE_SPEC, Truth
    >>> task = mxbench.generate(EXAMPLE_SPEC)
    >>> t = Truth.from_task(task, 0)
    >>> {k: round(v, 9) for k, v in model_error(Truth.from_game(task.game(0), task, 0), t).items()}
    {'model_shapley_error': 0.0, 'model_share_error': 0.0}
    """
    from mxbench.validation.recovery import relative_error, shares, total_variation

    out = {"model_shapley_error": relative_error(model_truth.shapley, planted_truth.shapley, planted_truth.tol),
           "model_share_error": total_variation(shares(model_truth.modality_shapley),
                                                shares(planted_truth.modality_shapley))}
    if model_truth.estimated:
        out["model_truth_se"] = relative_error(model_truth.shapley + model_truth.shapley_se, model_truth.shapley,
                                               model_truth.tol)
    return out


def _run_unit(task: Task, model_name: str, folder: str | None, specs: list[tuple[str, dict]],
              budgets: Sequence[int | None], seeds: Sequence[int], rows: Sequence[int],
              metrics: Sequence[str] | None, mtruths: Sequence[Mapping[int, Any]] = (),
              model_rows: bool = False) -> pd.DataFrame:
    """One unit: explainers ``specs`` on one (task, model) at every budget, seed and instance.

    ``mtruths`` are the model's own truths (:func:`model_truths` results; none on the planted game);
    ``model_rows`` also writes the model's own error rows (:data:`MODEL_ERROR_METRICS`), once
    per (task, model), with the metrics they decompose (all metrics, or either of
    ``shapley_error`` and ``modality_share_error``).
    """
    _limit_threads()
    from mxbench.explainers.base import BudgetExceeded, clone
    from mxbench.explainers.registry import get_explainer
    from mxbench.models import exact_model
    from mxbench.validation import evaluate, get_metric
    from mxbench.validation.truth import Truth

    model = exact_model(task) if model_name == EXACT else (_load_model(folder, task) if folder else None)
    certified = True if model is None else bool(model.certificate is not None and model.certificate.passed)
    truths = {i: t for i, t in zip(rows, Truth.from_task_many(task, list(rows)))}
    mtruths = {i: t for part in mtruths for i, t in part.items()}
    frames = []
    if metrics is not None and not {"shapley_error", "modality_share_error"} & set(metrics):
        model_rows = False
    if model_rows:  # the model's own error against the planted truth, once
        for i in rows:
            if i in mtruths:
                errs = model_error(mtruths[i], truths[i])
                frames.append(pd.DataFrame({"task": task.spec.name, "instance": int(i), "model": model_name,
                                            "truth": PLANTED_TRUTH, "explainer": MODEL_ROW_EXPLAINER, "budget": -1,
                                            "seed": int(seeds[0]), "metric": list(errs),
                                            "value": [float(v) for v in errs.values()]}))
    for name, params in specs:
        base = get_explainer(name, **params)  # built here, in the worker process, from its spec
        whitebox = _is_whitebox(name)
        if whitebox and model is None:
            continue
        budgeted = "budget" in base.get_params(deep=False) and not whitebox
        for budget in (budgets if budgeted else (None,)):
            for seed in seeds:
                overrides = {"random_state": seed}
                if budgeted and budget is not None:
                    overrides["budget"] = int(budget)
                explainer = clone(base, **overrides)
                if whitebox and explainer.unsupported_reason(model, task) is not None:
                    break  # white-box methods run only on the architectures they apply to
                chosen = None if metrics is None else [m for m in metrics
                                                       if not (whitebox and get_metric(m).needs_explainer)]
                for i in rows:
                    game = model.game(task, i) if model is not None else task.game(i)
                    if i in mtruths and mtruths[i].table is not None:
                        game = game.with_table(mtruths[i].table)  # the values the truth enumerated
                    try:
                        e = explainer.explain(model, task, i) if whitebox else explainer.explain(game)
                    except ExplainerError as err:
                        if i == rows[0]:  # the method does not apply here (a budget below its minimum,
                            # an architecture without attention): skip it on this unit; a budget
                            # below the minimum (or one the method overran) is the documented grid
                            # behaviour, anything else is said
                            if not isinstance(err, (BudgetError, BudgetExceeded)):
                                warnings.warn(f"{name} skipped on {task.spec.name} / {model_name}: {err}",
                                              stacklevel=1)
                            break
                        raise
                    if chosen is None:
                        chosen_i = [m for m in _default_metrics() if not (whitebox and get_metric(m).needs_explainer)]
                    else:
                        chosen_i = chosen
                    context = dict(game=game, explainer=None if whitebox else explainer, task=task,
                                   model=model_name)
                    frame = _score(e, truths[i], mtruths.get(i), chosen_i, context)
                    frame["budget"] = -1 if budget is None or not budgeted else int(budget)
                    frame["seed"] = seed
                    frame["explainer"] = e.explainer
                    frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=list(RESULT_COLUMNS))
    out = pd.concat(frames, ignore_index=True)
    out["model"] = model_name
    out["certified"] = certified
    return out[list(RESULT_COLUMNS)]


def _score(explanation: Any, planted: Any, model: Any, metrics: Sequence[str], context: Mapping[str, Any]) -> pd.DataFrame:
    """Score one explanation against the planted truth and, when there is one, the model's (:data:`TRUTHS`)."""
    from mxbench.validation import evaluate, get_metric

    if model is None:
        return evaluate(explanation, planted, metrics, **context).assign(truth=PLANTED_TRUTH)
    if model.estimated:
        twice = [m for m in metrics if m in ESTIMATE_METRICS]
        parts = [evaluate(explanation, planted, metrics, **context).assign(truth=PLANTED_TRUTH),
                 evaluate(explanation, model, twice, **context).assign(truth=MODEL_ESTIMATE)]
    else:
        twice = [m for m in metrics if get_metric(m).family in TRUTH_FAMILIES]
        once = [m for m in metrics if get_metric(m).family not in TRUTH_FAMILIES]
        parts = [evaluate(explanation, planted, twice, **context).assign(truth=PLANTED_TRUTH),
                 evaluate(explanation, model, twice + once, **context).assign(truth=MODEL_TRUTH)]
    return pd.concat(parts, ignore_index=True)


def _default_metrics() -> list[str]:
    """Every registered metric (the runner gives each the game, the explainer and the task)."""
    from mxbench.validation import METRICS

    return list(METRICS)


def validate(suite: str | Task | Sequence[Any] = "smoke", *, models: Sequence[str] = DEFAULT_MODELS,
             explainers: Sequence[Any] = DEFAULT_EXPLAINERS, budgets: Sequence[int | None] = (None,),
             seeds: Sequence[int] = (0,), instances: int = 4, metrics: Sequence[str] | None = None,
             cache_dir: str | Path | None = None, train_options: Mapping[str, Any] | None = None,
             n_jobs: int | None = None, progress: bool = True, scheduler: Any = None) -> pd.DataFrame:
    """Run explainers on tasks and models and score them against the exact truth.

    Parameters
    ----------
    suite : str, Task, folder or list of them
        A suite name (``"smoke"``, ``"standard"``, ...), a dataset folder, tasks.
    models : list of str
        ``"planted"`` (the planted game itself), ``"exact"`` (the planted function as a torch
        model, :func:`mxbench.models.exact_model`: built from the task in each unit, never
        trained or cached; white-box explainers run on it) and architecture names, each
        optionally with constructor options as JSON (``'fl_i2moe{"regularizer": "rep-cos"}'``,
        :func:`model_spec`; the ``model`` column holds :func:`model_name`); models are
        trained (or reused from ``cache_dir``) in the same process pool, and each model's units
        start as soon as it is trained.
    explainers : list of str or (str, dict)
        Explainer names (:data:`mxbench.explainers.EXPLAINERS`), optionally with parameters.
        White-box explainers run only on models they support. A black-box explainer that fits
        no budget of the grid on a task (:func:`skip_reason`) is left out there, with a warning.
    budgets : list of int or None
        Budgets for the black-box explainers that take one (None: the explainer's default;
        a budget below a method's minimum skips that method at that budget).
    seeds : list of int
        ``random_state`` values.
    instances : int
        Test instances explained per task (the first of the test split).
    metrics : list of str, optional
        Metric names (default: all registered metrics).
    cache_dir : str or Path, optional
        Model cache (default: ``.mxbench-cache/models`` in the working folder): a local path or
        an fsspec URL (``file:///shared/models``, ``s3://bucket/models``; ``memory://`` with
        ``n_jobs=1`` only). On a cluster, a location every worker reads.
    train_options : dict, optional
        Keyword arguments for :func:`mxbench.models.train`.
    n_jobs : int, optional
        Parallel processes (default: the machine's cores; not used with a scheduler).
    progress : bool
        Show progress bars.
    scheduler : str or distributed.Client, optional
        Run the jobs on a Dask cluster (:mod:`mxbench.cluster`): ``"local:N"`` (a local cluster
        of ``N`` worker processes), a scheduler address (``tcp://host:8786``) or a client.
        Default: the environment variable ``MXBENCH_SCHEDULER``, else the local process pool.
        The results are the same.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`RESULT_COLUMNS`, sorted.

    Raises
    ------
    RunnerError
        Unknown model, explainer or metric names, an empty suite, bad numbers.
    mxbench.cluster.SchedulerError
        A malformed scheduler, or none answering (before anything is written).

    Examples
    --------
    >>> import mxbench
    >>> task = mxbench.generate("smoke", instances=64)[0]
    >>> frame = validate(task, models=["planted"], explainers=["kernelshap"], budgets=[64],
    ...                  metrics=["auroc"], instances=2, n_jobs=1, progress=False)
    >>> frame[["model", "explainer", "budget", "metric"]].drop_duplicates().values.tolist()
    [['planted', 'kernelshap', 64, 'auroc'], ['planted', 'kernelshap', 64, 'auroc@active']]
    """
    from tqdm.auto import tqdm

    from mxbench.cluster import resolve_scheduler

    scheduler = resolve_scheduler(scheduler)
    tasks = resolve_tasks(suite)
    specs = explainer_specs(explainers)
    _check_grid(models, budgets, seeds, instances, metrics)
    archs = [m for m in models if m not in UNTRAINED]
    n = n_jobs or os.cpu_count() or 1
    cache = _model_cache(cache_dir, Path(".mxbench-cache") / "models", scheduler, n)
    options = dict(train_options or {})
    skips = _skips(tasks, specs, budgets)
    for line in _skip_lines(skips, specs):
        warnings.warn(line, stacklevel=2)
    units = _unit_jobs("validate", tasks, models, specs, budgets, seeds, instances, metrics, cache, options, skips)
    with _engine(scheduler) as client:  # connected (or refused) before the cache folder is made
        jobs = (_train_jobs(tasks, archs, cache, 0, options) if archs else []) + units
        bar = tqdm(total=len(jobs), desc="validate", unit="job", disable=not progress)
        done = _run_jobs(jobs, n, bar, client=client)
        bar.close()
    return _tidy([done[job[0]] for job in units])


def _check_archs(archs: Iterable[str]) -> None:
    """Raise :class:`RunnerError` on a name that is not an architecture, or options it refuses."""
    from mxbench.models import ARCHITECTURES, ModelError, resolve_config

    for name in archs:
        arch, config = model_spec(name)
        if arch not in ARCHITECTURES:
            raise RunnerError(f"models: unknown architecture {arch!r} (choose from {', '.join(ARCHITECTURES)}; "
                              f"or {', '.join(UNTRAINED)}, which are not trained)")
        if config:
            try:
                resolve_config(arch, config)
            except ModelError as e:
                raise RunnerError(f"models: {name}: {e}") from None


def _check_grid(models: Sequence[str], budgets: Sequence[int | None], seeds: Sequence[int], instances: int,
                metrics: Sequence[str] | None) -> None:
    """Raise :class:`RunnerError` on a bad grid argument (before anything runs)."""
    from mxbench.validation import get_metric

    for m in metrics or ():
        try:
            get_metric(m)
        except MxbenchError as e:
            raise RunnerError(str(e)) from None
    if not models:
        raise RunnerError("models: no model given")
    _check_archs(m for m in models if m not in UNTRAINED)
    names = [m if m in UNTRAINED else model_name(m) for m in models]
    twice = sorted({m for m in names if names.count(m) > 1})
    if twice:
        raise RunnerError(f"models: {twice[0]!r} is given twice")
    if not isinstance(instances, int) or instances < 1:
        raise RunnerError(f"instances: expected a positive integer, got {instances!r}")
    for b in budgets:
        if b is not None and (not isinstance(b, (int, np.integer)) or b < 1):
            raise RunnerError(f"budgets: expected positive integers or None, got {b!r}")
    if not seeds:
        raise RunnerError("seeds: no seed given")


def _unit_jobs(tag: str, tasks: Sequence[Task], models: Sequence[str], specs: list[tuple[str, dict]],
               budgets: Sequence[int | None], seeds: Sequence[int], instances: int, metrics: Sequence[str] | None,
               cache_dir: Path, options: Mapping[str, Any],
               skip: Iterable[tuple[str, int]] = ()) -> list[tuple]:
    """The :func:`_run_jobs` jobs of one validation grid: one per (task, model, explainer).

    Small units keep every core busy to the end; the slowest models' units come first. A
    unit on a trained model depends on its ``("train", task, arch)`` job; keys are
    ``("unit", tag, task, model, explainer index)``. Each model game also has one
    ``("truth", tag, task, model, instance)`` job per instance (:func:`model_truths`, before
    its units) whose results every unit on that model receives (:class:`_Result`). The ``(task name, explainer index)``
    pairs in ``skip`` (:func:`_skips`) and white-box explainers on the planted game get no unit.
    """
    skip = set(skip)
    jobs = []
    for task in tasks:
        test = task.split_indices("test")
        rows = [int(i) for i in (test if len(test) else np.arange(task.n_instances))[:instances]]
        for m in models:
            m = m if m in UNTRAINED else model_name(m)  # the canonical spelling labels the results
            folder = None if m in UNTRAINED else str(model_folder(cache_dir, task, m, 0, options))
            deps = () if m in UNTRAINED else (("train", task.spec.name, m),)
            kept = [j for j, spec in enumerate(specs) if (task.spec.name, j) not in skip
                    and not (m == PLANTED and _is_whitebox(spec[0]))]
            mtruths = ()
            if m != PLANTED and kept:  # the model's own truths, once per instance, for all its units
                keys = [("truth", tag, task.spec.name, m, i) for i in rows]
                jobs += [(key, model_truths, (task, m, folder, [key[-1]]), deps) for key in keys]
                mtruths = tuple(_Result(key) for key in keys)
            # the first unit of a model game also writes the model's own error rows
            jobs += [(("unit", tag, task.spec.name, m, j), _run_unit,
                      (task, m, folder, [specs[j]], list(budgets), list(seeds), rows, metrics, mtruths,
                       m != PLANTED and j == kept[0]), deps)
                     for j in kept]
    return sorted(jobs, key=lambda job: (_slowness(job[0][3]), job[0][0] != "truth"))


def _slowness(model: str) -> int:
    """Sort key putting the slowest models first: the architectures in reverse order of
    :data:`~mxbench.models.ARCHITECTURES` (fl_i2moe, transformer, fusion_mlp), then the
    planted game."""
    from mxbench.models import ARCHITECTURES

    names = list(ARCHITECTURES)
    arch = model_spec(model)[0] if "{" in model else model
    return -names.index(arch) if arch in names else 1


def _tidy(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate result frames in the canonical row order (:data:`RESULT_COLUMNS`); results of
    jobs that are not frames (the truths of :func:`model_truths`) are passed over."""
    frames = [f for f in frames if isinstance(f, pd.DataFrame) and len(f)]
    if not frames:
        return pd.DataFrame(columns=list(RESULT_COLUMNS))
    out = pd.concat(frames, ignore_index=True)
    out = out.sort_values(["task", "model", "explainer", "budget", "seed", "instance", "truth", "metric"],
                          kind="stable")
    return out.reset_index(drop=True)


def certified_only(results: pd.DataFrame) -> pd.DataFrame:
    """The rows on the planted games and on certified models.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"model": ["planted", "transformer"], "certified": [True, False]})
    >>> certified_only(frame)["model"].tolist()
    ['planted']
    """
    return results[results["certified"].astype(bool)]


def write_results(results: pd.DataFrame, path: str | Path) -> Path:
    """Write a results frame as Parquet (atomically), marked with :data:`RESULTS_SCHEMA`.

    Examples
    --------
    >>> import pandas as pd, tempfile, os
    >>> frame = pd.DataFrame({c: [] for c in RESULT_COLUMNS})
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = write_results(frame, os.path.join(d, "results.parquet"))
    ...     len(read_results(p))
    0
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    missing = [c for c in RESULT_COLUMNS if c not in results.columns]
    if missing:
        raise RunnerError(f"results: missing columns {missing}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(results[list(RESULT_COLUMNS)].astype(
        {"task": str, "instance": "int64", "model": str, "certified": bool, "truth": str, "explainer": str, "budget": "int64",
         "seed": "int64", "metric": str, "value": "float64"}), preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"mxbench": RESULTS_SCHEMA.encode()})
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)
    return path


def read_results(path: str | Path) -> pd.DataFrame:
    """Read a results file written by :func:`write_results`.

    Raises
    ------
    RunnerError
        The file is missing, not Parquet, or of another schema.

    Examples
    --------
    >>> try:
    ...     read_results("/nonexistent/results.parquet")
    ... except RunnerError as e:
    ...     print(str(e))
    results: no file at /nonexistent/results.parquet
    """
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_file():
        raise RunnerError(f"results: no file at {path}")
    try:
        table = pq.read_table(path)
    except Exception as e:  # noqa: BLE001 - any pyarrow failure means "not a results file"
        raise RunnerError(f"results: {path} is not a Parquet file ({type(e).__name__})") from None
    marker = (table.schema.metadata or {}).get(b"mxbench", b"").decode(errors="replace")
    if marker != RESULTS_SCHEMA:
        raise RunnerError(f"results: {path} is not an mxbench results file of schema {RESULTS_SCHEMA!r} "
                          f"(found {marker or 'no marker'!r})")
    frame = table.to_pandas()
    if "truth" not in frame.columns and list(frame.columns) == [c for c in RESULT_COLUMNS if c != "truth"]:
        frame.insert(RESULT_COLUMNS.index("truth"), "truth", PLANTED_TRUTH)  # results written before the column
    if list(frame.columns) != list(RESULT_COLUMNS):
        raise RunnerError(f"results: {path} has columns {list(frame.columns)}, expected {list(RESULT_COLUMNS)}")
    return frame
