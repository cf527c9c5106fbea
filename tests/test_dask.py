"""The validation grid on a Dask cluster: same results as the local pool, errors, bad input.

One :class:`distributed.LocalCluster` of two worker processes serves the module; the grids are
small (one smoke task, two instances, one epoch of training) so the module takes seconds.
"""

from __future__ import annotations

import operator
import socket
import time
import warnings

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("distributed")
pytest.importorskip("fsspec")

import dask  # noqa: E402

import mxbench  # noqa: E402
from mxbench.bench.main import run  # noqa: E402
from mxbench.bench.runner import (RESULT_COLUMNS, RunnerError, _Result, _run_jobs, model_folder,  # noqa: E402
                                  read_results, train_models, validate)
from mxbench.cli import main  # noqa: E402
from mxbench.cluster import SCHEDULER_ENV, SchedulerError, dask_client, folder_complete  # noqa: E402
from mxbench.models import ModelError  # noqa: E402
from mxbench.task import Task  # noqa: E402

OPTIONS = {"epochs": 1, "certify": False}
GRID = dict(models=["planted", "exact", "fusion_mlp"], explainers=["kernelshap", "lime"], budgets=[64],
            metrics=["auroc", "shapley_error", "seconds"], instances=2, train_options=OPTIONS, progress=False)
KEYS = ["task", "instance", "model", "truth", "explainer", "budget", "seed", "metric"]


@pytest.fixture(scope="module")
def client():
    with dask_client("local:2") as c:
        yield c


@pytest.fixture(scope="module")
def task():
    return mxbench.generate("smoke", instances=128)[0]


@pytest.fixture(scope="module")
def local(task, tmp_path_factory):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return validate(task, cache_dir=tmp_path_factory.mktemp("local") / "models", n_jobs=1, **GRID)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _compare(a: pd.DataFrame, b: pd.DataFrame) -> float:
    """Assert that two results frames hold the same rows and values (``seconds`` aside); the largest difference."""
    a = a[a["metric"] != "seconds"].sort_values(KEYS).reset_index(drop=True)
    b = b[b["metric"] != "seconds"].sort_values(KEYS).reset_index(drop=True)
    pd.testing.assert_frame_equal(a.drop(columns="value"), b.drop(columns="value"))
    assert np.array_equal(np.isnan(a["value"]), np.isnan(b["value"]))
    return float(np.nanmax(np.abs(a["value"].to_numpy() - b["value"].to_numpy())))


def test_grid_on_dask_equals_local_run(client, task, local, tmp_path, monkeypatch):
    scattered, carried = [], []
    scatter, submit = client.scatter, client.submit

    def count_scatter(data, **kwargs):
        scattered.append((type(data[0]).__name__, kwargs.get("broadcast"), kwargs.get("hash")))
        return scatter(data, **kwargs)

    def check_submit(fn, *args, **kwargs):
        carried.extend(type(a).__name__ for a in args[1] if isinstance(a, Task))
        return submit(fn, *args, **kwargs)

    monkeypatch.setattr(client, "scatter", count_scatter)
    monkeypatch.setattr(client, "submit", check_submit)
    cache = "local://" + str(tmp_path / "models")  # an fsspec URL: models written and read through fsspec
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = validate(task, cache_dir=cache, scheduler=client, **GRID)
    # the task crossed the wire once, broadcast to the workers; no job carried it
    assert scattered == [("Task", True, False)] and carried == []
    folder = model_folder(cache, task, "fusion_mlp", 0, OPTIONS)
    assert folder.startswith("local://") and folder_complete(folder)
    assert sorted(p.name for p in (tmp_path / "models" / folder.rsplit("/", 1)[1]).iterdir()) == ["config.json",
                                                                                                   "weights.pt"]
    assert list(frame.columns) == list(RESULT_COLUMNS) and len(frame) == len(local) > 0
    assert set(frame["model"]) == {"planted", "exact", "fusion_mlp"} and set(frame["truth"]) == {"planted", "model"}
    assert (frame["metric"] == "seconds").sum() == (local["metric"] == "seconds").sum() > 0
    assert _compare(frame, local) == 0.0  # the same trained model, the same explanations: equal to the bit


def test_scheduler_address_and_model_reuse(client, task, local, tmp_path):
    # a scheduler address string (a new client on the running cluster); a model cache on a path
    cache = tmp_path / "models"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = validate(task, cache_dir=cache, scheduler=client.scheduler.address, **GRID)
        folder = model_folder(cache, task, "fusion_mlp", 0, OPTIONS)
        stamp = (folder / "weights.pt").stat().st_mtime_ns
        again = validate(task, cache_dir=cache, scheduler=client.scheduler.address, **GRID)
    assert (folder / "weights.pt").stat().st_mtime_ns == stamp  # reused, not retrained
    assert _compare(first, local) == 0.0 and _compare(again, local) == 0.0


def test_main_job_on_dask_equals_local(client, tmp_path):
    kwargs = dict(models=["planted"], explainers=["kernelshap"], instances=1, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run("smoke", tmp_path / "local", n_jobs=1, **kwargs)
        report = run("smoke", tmp_path / "dask", scheduler=client, **kwargs)
    assert report == tmp_path / "dask" / "report" / "report.md" and report.is_file()
    a, b = read_results(tmp_path / "local" / "results.parquet"), read_results(tmp_path / "dask" / "results.parquet")
    assert len(a) == len(b) > 100 and set(b["task"]) == {"smoke-tab-txt", "smoke-img-txt", "smoke-mix3"}
    assert _compare(a, b) == 0.0


def test_failing_job_cancels_the_rest_and_raises(client):
    jobs = [("bad", operator.truediv, (1, 0), ()), ("after", abs, (_Result("bad"),), ()),
            ("slow", time.sleep, (2,), ()), ("last", abs, (-1,), ("slow",))]
    start = time.perf_counter()
    with pytest.raises(ZeroDivisionError, match="division by zero"):
        _run_jobs(jobs, n_jobs=2, client=client)
    assert time.perf_counter() - start < 1.5  # raised at once, not after the slow job


def broken_explainer(game):
    """An explainer (a function of the game) that fails: imported by the workers by its path."""
    raise FloatingPointError(f"broken on {game.n_players} players")


def test_explainers_by_import_path_run_on_the_workers(client, task):
    # the jobs carry the spec strings; each worker imports the module and builds the explainer itself
    path = "mxbench.testing.examples:exact_shapley"
    kwargs = dict(models=["planted"], explainers=[path], budgets=[64], metrics=["auroc"], instances=2, progress=False)
    frame = validate(task, scheduler=client, **kwargs)
    assert set(frame["explainer"]) == {"exact_shapley"} and np.allclose(frame["value"], 1.0)
    pd.testing.assert_frame_equal(frame, validate(task, n_jobs=1, **kwargs))
    with pytest.raises(FloatingPointError, match=f"broken on {task.n_players} players"):
        validate(task, scheduler=client, **{**kwargs, "explainers": [f"{__name__}:broken_explainer", path]})


def test_failing_unit_error_propagates(client, task, tmp_path):
    # a corrupt model in the cache: the worker's training job finds it, load refuses it
    folder = model_folder(tmp_path / "models", task, "fusion_mlp", 0, OPTIONS)
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelError, match="config.json: unreadable or malformed"):
        validate(task, cache_dir=tmp_path / "models", scheduler=client, **GRID)


def test_memory_url_cache_is_reused_and_checked(task, tmp_path):
    # the fsspec path in one process: models written to memory://, read back through a local copy
    cache = f"memory://mxbench-test-{tmp_path.name}/models"
    folders = train_models([task], ["fusion_mlp"], cache, options=OPTIONS, n_jobs=1, progress=False)
    url = folders[(task.spec.name, "fusion_mlp")]
    assert url == model_folder(cache, task, "fusion_mlp", 0, OPTIONS) and folder_complete(url)
    import fsspec

    fs, path = fsspec.core.url_to_fs(url)
    assert sorted(p.rsplit("/", 1)[1] for p in fs.find(path)) == ["config.json", "weights.pt"]
    fs.pipe_file(f"{path}/weights.pt", b"not the weights")  # present, so reused, not retrained: load checks it
    with pytest.raises(ModelError, match="weights.pt: SHA-256 does not match"):
        validate(task, models=["fusion_mlp"], explainers=["kernelshap"], budgets=[64], metrics=["auroc"], instances=1,
                 cache_dir=cache, train_options=OPTIONS, n_jobs=1, progress=False)
    with pytest.raises(RunnerError, match=r"cache: 'memory://.*' is the memory of one process"):
        validate(task, models=["planted"], explainers=["kernelshap"], cache_dir=cache, n_jobs=2, progress=False)


@pytest.mark.parametrize("scheduler, match", [
    ("local:x", r"scheduler: expected 'local:N' with N a positive integer, got 'local:x'"),
    ("local:0", r"scheduler: expected 'local:N' with N a positive integer, got 'local:0'"),
    ("", r"scheduler: expected 'local:N' or a scheduler address, got ''"),
])
def test_malformed_scheduler(task, tmp_path, scheduler, match):
    with pytest.raises(SchedulerError, match=match):
        validate(task, models=["planted", "fusion_mlp"], cache_dir=tmp_path / "c", scheduler=scheduler)
    assert list(tmp_path.iterdir()) == []


def test_unreachable_scheduler(task, tmp_path):
    address = f"tcp://127.0.0.1:{_closed_port()}"
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        with pytest.raises(SchedulerError, match=rf"scheduler: cannot connect to '{address}': .*"):
            validate(task, models=["planted", "fusion_mlp"], cache_dir=tmp_path / "c", scheduler=address)
        with pytest.raises(SchedulerError, match="cannot connect"):
            with dask_client(address, timeout=0.5):
                pass
    assert list(tmp_path.iterdir()) == []


def test_scheduler_from_environment(task, tmp_path, monkeypatch):
    monkeypatch.setenv(SCHEDULER_ENV, "local:many")
    with pytest.raises(SchedulerError, match="got 'local:many'"):
        validate(task, models=["planted"], cache_dir=tmp_path / "c")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["validate", "run"])
@pytest.mark.parametrize("scheduler, message", [
    ("local:x", "mxbench: error: scheduler: expected 'local:N' with N a positive integer, got 'local:x'"),
    ("unreachable", "mxbench: error: scheduler: cannot connect to 'tcp://127.0.0.1:"),
])
def test_cli_bad_scheduler(tmp_path, capsys, command, scheduler, message):
    if scheduler == "unreachable":
        scheduler = f"tcp://127.0.0.1:{_closed_port()}"
    out = tmp_path / "out"
    argv = (["validate", "smoke", "--out", str(out / "results.parquet"), "--models", "planted,fusion_mlp"]
            if command == "validate" else ["run", "--out", str(out)])
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        status = main(["-q", *argv, "--cache", str(out / "models"), "--scheduler", scheduler])
    captured = capsys.readouterr()
    assert status == 2 and captured.out == ""
    assert captured.err.startswith(message) and captured.err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def die(code):
    """Kill the worker process running it (a worker that dies mid-grid)."""
    import os

    os._exit(code)


def test_a_job_whose_worker_keeps_dying_stops_the_run_naming_it(client):
    jobs = [("fine", abs, (-3,), ()), ("doomed", die, (3,), ())]
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        with pytest.raises(RunnerError, match=r"job 'doomed': its worker died each time it ran"):
            _run_jobs(jobs, n_jobs=2, client=client)
    client.wait_for_workers(2, timeout=30)  # the nannies restart the workers for the next tests
    assert _run_jobs([("again", abs, (-2,), ())], n_jobs=2, client=client) == {"again": 2}
