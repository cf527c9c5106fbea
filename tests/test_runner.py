"""The runner, the results file, the report and the CLI commands validate / report / run."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import mxbench
from mxbench.cli import main
from mxbench.validation.report import leaderboard, queries_to_goal, write_report
from mxbench.validation.runner import (RESULT_COLUMNS, RunnerError, certified_only, read_results, run, validate,
                                       write_results)


@pytest.fixture(scope="module")
def task():
    return mxbench.generate("smoke", instances=256)[0]


@pytest.fixture(scope="module")
def planted(task):
    return validate(task, models=["planted"], explainers=["exact", "kernelshap", ("lime", {})], budgets=[None, 64],
                    metrics=["auroc", "modality_share_error", "n_queries", "efficiency"], instances=3, n_jobs=1,
                    progress=False)


def test_validate_rows_and_values(planted, task):
    assert list(planted.columns) == list(RESULT_COLUMNS)
    assert set(planted["explainer"]) == {"exact", "kernelshap", "lime"}
    assert set(planted["budget"]) == {-1, 64} and planted["certified"].all()
    test = task.split_indices("test")[:3]
    assert sorted(planted["instance"].unique()) == sorted(int(i) for i in test)
    exact = planted[(planted["explainer"] == "exact")]
    assert set(exact["budget"]) == {-1}  # the budget grid is not applied to a method that needs every coalition
    assert np.allclose(exact.loc[exact["metric"] == "auroc", "value"], 1.0)
    assert np.allclose(exact.loc[exact["metric"] == "efficiency", "value"], 0.0, atol=1e-9)
    ks = planted[(planted["explainer"] == "kernelshap") & (planted["budget"] == 64) & (planted["metric"] == "n_queries")]
    assert (ks["value"] <= 64).all() and len(ks) == 3
    # 4 metrics x 3 instances per (explainer, budget) cell
    assert planted.groupby(["explainer", "budget"]).size().to_dict() == {
        ("exact", -1): 12, ("kernelshap", -1): 12, ("kernelshap", 64): 12, ("lime", -1): 12, ("lime", 64): 12}


def test_validate_is_deterministic_apart_from_seconds(task, planted):
    again = validate(task, models=["planted"], explainers=["exact", "kernelshap", ("lime", {})], budgets=[None, 64],
                     metrics=["auroc", "modality_share_error", "n_queries", "efficiency"], instances=3, n_jobs=2,
                     progress=False)
    pd.testing.assert_frame_equal(again, planted)


@pytest.mark.parametrize("kwargs, match", [
    (dict(explainers=["nope"]), "explainers: unknown explainer 'nope'"),
    (dict(metrics=["aurok"]), "unknown metric 'aurok'"),
    (dict(models=["resnet"]), "models: unknown architecture 'resnet'"),
    (dict(models=[]), "models: no model given"),
    (dict(models=["planted", "fusion_mlp", "planted"]), "models: 'planted' is given twice"),
    (dict(instances=0), "instances: expected a positive integer"),
    (dict(budgets=[-5]), "budgets: expected positive integers"),
])
def test_validate_rejects_bad_arguments(task, kwargs, match, tmp_path):
    args = dict(models=["planted"], explainers=["kernelshap"], n_jobs=1, progress=False, cache_dir=tmp_path)
    args.update(kwargs)
    with pytest.raises(RunnerError, match=match):
        validate(task, **args)


@pytest.mark.parametrize("kwargs, match", [
    (dict(models=["planted", "cnn"]), "models: unknown architecture 'cnn'"),
    (dict(explainers=["nope"]), "explainers: unknown explainer 'nope'"),
])
def test_run_checks_its_arguments_before_writing_anything(kwargs, match, tmp_path):
    with pytest.raises(RunnerError, match=match):
        run("smoke", tmp_path / "run", progress=False, **kwargs)
    assert not (tmp_path / "run").exists()


def test_model_cache_key_follows_the_training_defaults(task, monkeypatch):
    from mxbench.models.fl_i2moe import FLI2MoE
    from mxbench.validation.runner import model_folder

    before = model_folder("cache", task, "fl_i2moe")
    assert model_folder("cache", task, "fl_i2moe") == before
    monkeypatch.setattr(FLI2MoE, "default_epochs", 41)  # a model trained under other defaults is not reused
    assert model_folder("cache", task, "fl_i2moe") != before
    assert model_folder("cache", task, "fl_i2moe", options={"epochs": 41}) != model_folder("cache", task, "fl_i2moe")


def test_suite_must_hold_tasks():
    with pytest.raises(RunnerError, match="holds no tasks"):
        validate([], models=["planted"], explainers=["kernelshap"], progress=False)
    with pytest.raises(RunnerError, match="neither a suite name"):
        validate("no-such-suite", models=["planted"], explainers=["kernelshap"], progress=False)


def test_task_names_must_be_unique(task):
    with pytest.raises(RunnerError, match="task names must be unique .* got 'smoke-tab-txt' twice"):
        validate([task, task], models=["planted"], explainers=["kernelshap"], progress=False)


def test_uncertified_models_are_flagged_and_reported_apart(task, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # attention on the fusion MLP does not apply: skipped without a word
        frame = validate(task, models=["planted", "fusion_mlp"],
                         explainers=["kernelshap", "integrated_gradients", "attention_rollout"],
                         metrics=["auroc", "n_queries"], instances=2, cache_dir=tmp_path / "models",
                         train_options={"epochs": 1, "certify": False}, n_jobs=1, progress=False)
    model_rows = frame[frame["model"] == "fusion_mlp"]
    assert len(model_rows) and not model_rows["certified"].any()  # no certificate -> not certified
    assert set(model_rows["explainer"]) == {"kernelshap", "integrated_gradients"}
    assert set(frame.loc[frame["model"] == "planted", "explainer"]) == {"kernelshap"}  # white-box needs a model
    assert set(certified_only(frame)["model"]) == {"planted"}
    board = leaderboard(frame)
    assert set(board["model"]) == {"planted"}
    report = write_report(frame, tmp_path / "report").read_text()
    assert "fusion_mlp (**UNCERTIFIED**)" in report and "### Uncertified models" in report
    # the cached model is reused: same folder, no retraining
    folders = sorted((tmp_path / "models").iterdir())
    validate(task, models=["fusion_mlp"], explainers=["kernelshap"], metrics=["auroc"], instances=1,
             cache_dir=tmp_path / "models", train_options={"epochs": 1, "certify": False}, n_jobs=1, progress=False)
    assert sorted((tmp_path / "models").iterdir()) == folders


def test_results_round_trip_and_foreign_files(planted, tmp_path):
    path = write_results(planted, tmp_path / "r" / "results.parquet")
    pd.testing.assert_frame_equal(read_results(path), planted.astype(read_results(path).dtypes.to_dict()))
    assert not (tmp_path / "r" / "results.parquet.tmp").exists()
    foreign = tmp_path / "foreign.parquet"
    pq.write_table(pa.table({"a": [1, 2]}), foreign)
    with pytest.raises(RunnerError, match="not an mxbench results file"):
        read_results(foreign)
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"not parquet at all")
    with pytest.raises(RunnerError, match="is not a Parquet file"):
        read_results(junk)
    with pytest.raises(RunnerError, match="missing columns"):
        write_results(planted.drop(columns=["value"]), tmp_path / "x.parquet")


def test_queries_to_goal_reads_the_budget_grid(planted):
    table = queries_to_goal(planted, "auroc", 0.95, higher=True)
    ks = table[table["explainer"] == "kernelshap"]
    assert len(ks) == 1 and ks["largest budget"].item() == 64
    mean_auroc = planted[(planted["explainer"] == "kernelshap") & (planted["budget"] == 64)
                         & (planted["metric"] == "auroc")]["value"].mean()
    assert (ks["queries"].notna().item()) == (mean_auroc >= 0.95)


def test_cli_validate_report_and_errors(task, tmp_path, capsys):
    out = tmp_path / "results.parquet"
    assert main(["validate", "smoke", "--models", "planted", "--explainers", "kernelshap,lemon", "--metrics",
                 "auroc,n_queries", "--instances", "1", "--jobs", "1", "--quiet", "--out", str(out)]) == 0
    frame = read_results(out)
    assert set(frame["task"]) == {"smoke-tab-txt", "smoke-img-txt", "smoke-mix3"}
    assert main(["report", str(out), "--out", str(tmp_path / "rep")]) == 0
    text = (tmp_path / "rep" / "report.md").read_text()
    assert "## Leaderboard" in text and "| planted | kernelshap |" in text
    capsys.readouterr()
    assert main(["validate", "smoke", "--explainers", "nope", "--quiet", "--out", str(tmp_path / "x.parquet")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unknown explainer 'nope'" in err
    assert not (tmp_path / "x.parquet").exists()
    bad = tmp_path / "foreign.parquet"
    pq.write_table(pa.table({"a": [1]}), bad)
    assert main(["report", str(bad), "--out", str(tmp_path / "rep2")]) == 2
    assert "not an mxbench results file" in capsys.readouterr().err
    assert not (tmp_path / "rep2").exists()
    assert main(["run", "--suite", "nope", "--out", str(tmp_path / "run")]) == 2
    assert "unknown suite 'nope'" in capsys.readouterr().err
    assert main(["validate", "smoke", "--budgets", "ten", "--quiet"]) == 2
    assert "--budgets: expected integers" in capsys.readouterr().err


def _fail(x):
    raise ValueError(f"job failed on {x}")


def _mark(folder, name, needs):
    """Write folder/name, after checking that the jobs it depends on wrote theirs."""
    import pathlib

    missing = [n for n in needs if not (pathlib.Path(folder) / n).is_file()]
    if missing:
        raise AssertionError(f"{name} started before {missing}")
    (pathlib.Path(folder) / name).write_text(name)
    return name


def _sleep_then_mark(folder, seconds):
    import pathlib
    import time

    time.sleep(seconds)
    (pathlib.Path(folder) / "slept").write_text("done")
    return seconds


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_run_jobs_starts_a_job_only_after_its_dependencies(n_jobs, tmp_path):
    from mxbench.validation.runner import _run_jobs

    graph = {"a": (), "b": ("a",), "c": ("a", "b"), "d": (), "e": ("d", "c")}
    jobs = [(k, _mark, (str(tmp_path), k, deps), deps) for k, deps in reversed(list(graph.items()))]
    updates = []

    class Bar:
        def update(self, k):
            updates.append(k)

    assert _run_jobs(jobs, n_jobs, Bar()) == {k: k for k in graph}
    assert updates == [1] * 5 and sorted(p.name for p in tmp_path.iterdir()) == sorted(graph)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_run_jobs_refuses_bad_graphs_before_running_anything(n_jobs, tmp_path):
    from mxbench.validation.runner import _run_jobs

    ok = ("ok", _mark, (str(tmp_path), "ok", ()), ())
    with pytest.raises(RunnerError, match=r"job 'x' depends on unknown jobs \['y'\]"):
        _run_jobs([ok, ("x", abs, (1,), ("y",))], n_jobs)
    with pytest.raises(RunnerError, match="two jobs share a key"):
        _run_jobs([ok, ("x", abs, (1,), ()), ("x", abs, (2,), ())], n_jobs)
    with pytest.raises(RunnerError, match=r"jobs \['x', 'y'\] depend on each other in a cycle"):
        _run_jobs([ok, ("x", abs, (1,), ("y",)), ("y", abs, (1,), ("x",))], n_jobs)
    assert not (tmp_path / "ok").exists()  # refused up front: not even the independent job ran


def test_run_jobs_in_one_process_follows_the_priority_order():
    from mxbench.validation.runner import _run_jobs

    seen = []
    jobs = [("late", seen.append, ("late",), ("early",)), ("first", seen.append, ("first",), ()),
            ("early", seen.append, ("early",), ())]
    _run_jobs(jobs, 1)
    assert seen == ["first", "early", "late"]


def test_a_failing_job_stops_the_run_and_its_running_neighbours(tmp_path):
    import time

    from mxbench.validation.runner import _run_jobs

    with pytest.raises(ValueError, match="job failed on 7"):
        _run_jobs([("bad", _fail, (7,), ()), ("slow", _sleep_then_mark, (str(tmp_path), 5), ()),
                   ("after", _mark, (str(tmp_path), "after", ()), ("bad",))], 2)
    time.sleep(7)
    # the running neighbour was killed (it would have written "slept" after 5 s); "after" never started
    assert not (tmp_path / "slept").exists() and not (tmp_path / "after").exists()
    assert _run_jobs([("quick", abs, (-4,), ())], 2) == {"quick": 4}  # the pool comes back


def test_the_main_job_end_to_end(tmp_path):
    path = run("smoke", tmp_path / "run", models=["planted", "fusion_mlp"],
               explainers=["lemon", "kernelshap", "integrated_gradients", ("unimodal", {"base": "kernelshap"})],
               instances=1, train_options={"epochs": 2}, n_jobs=2, progress=False)
    text = path.read_text()
    for heading in ("## Leaderboard", "## 1. LEMON's query reduction", "## 2. Pair masking", "## 5. The multimodal"):
        assert heading in text
    for png in ("interactions.png", "deletion_curves.png", "recovery_auroc.png", "recovery_modality.png"):
        assert (path.parent / png).stat().st_size > 1000
    results = read_results(tmp_path / "run" / "results.parquet")
    assert {"lemon", "mmshap", "permutation", "kernelshap"} <= set(results.loc[results["budget"] >= 0, "explainer"])
    assert "unimodal-kernelshap" in set(results["explainer"])
    assert (tmp_path / "run" / "data" / "suite.json").is_file()
