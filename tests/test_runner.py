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
from mxbench.bench.main import run
from mxbench.bench.report import leaderboard, queries_to_goal, write_report
from mxbench.bench.runner import RESULT_COLUMNS, RunnerError, certified_only, read_results, validate, write_results


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
    # 4 metrics x 3 instances per (explainer, budget) cell, and auroc's @active row beside each auroc row
    main = planted[planted["metric"] != "auroc@active"]
    assert main.groupby(["explainer", "budget"]).size().to_dict() == {
        ("exact", -1): 12, ("kernelshap", -1): 12, ("kernelshap", 64): 12, ("lime", -1): 12, ("lime", 64): 12}
    assert (planted["metric"] == "auroc@active").sum() == (planted["metric"] == "auroc").sum() == 15
    assert np.allclose(exact.loc[exact["metric"] == "auroc@active", "value"], 1.0)


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
    from mxbench.bench.runner import model_folder

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
    from mxbench.bench.runner import _run_jobs

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
    from mxbench.bench.runner import _run_jobs

    ok = ("ok", _mark, (str(tmp_path), "ok", ()), ())
    with pytest.raises(RunnerError, match=r"job 'x' depends on unknown jobs \['y'\]"):
        _run_jobs([ok, ("x", abs, (1,), ("y",))], n_jobs)
    with pytest.raises(RunnerError, match="two jobs share a key"):
        _run_jobs([ok, ("x", abs, (1,), ()), ("x", abs, (2,), ())], n_jobs)
    with pytest.raises(RunnerError, match=r"jobs \['x', 'y'\] depend on each other in a cycle"):
        _run_jobs([ok, ("x", abs, (1,), ("y",)), ("y", abs, (1,), ("x",))], n_jobs)
    assert not (tmp_path / "ok").exists()  # refused up front: not even the independent job ran


def test_run_jobs_in_one_process_follows_the_priority_order():
    from mxbench.bench.runner import _run_jobs

    seen = []
    jobs = [("late", seen.append, ("late",), ("early",)), ("first", seen.append, ("first",), ()),
            ("early", seen.append, ("early",), ())]
    _run_jobs(jobs, 1)
    assert seen == ["first", "early", "late"]


def test_a_failing_job_stops_the_run_and_its_running_neighbours(tmp_path):
    import time

    from mxbench.bench.runner import _run_jobs

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


def _rows(task, explainer, budget, values, instances=2):
    """Result rows of one (task, explainer, budget): ``values`` maps metric -> value, the same on each instance."""
    return [dict(task=task, instance=i, model="planted", certified=True, explainer=explainer, budget=budget, seed=0,
                 metric=m, value=v) for i in range(instances) for m, v in values.items()]


def test_report_answers_question_1_at_paper_scale(tmp_path):
    from mxbench.bench.report import recovery_per_n

    rows = []
    # paper-1k (1000 players, looked up in the paper suite): budgets n/4 .. 4n
    for b, a, act in [(250, 0.70, 0.60), (500, 0.80, 0.70), (1000, 0.90, 0.80), (2000, 0.96, 0.86), (4000, 0.98, 0.88)]:
        rows += _rows("paper-1k", "lemon", b, {"auroc": a, "auroc@active": act, "modality_share_error": 0.0,
                                                "n_queries": b})
    for b, q, a, act, err in [(2000, 2000, 0.93, 0.85, 0.02), (4000, 3998, 0.97, 0.90, 0.01)]:
        rows += _rows("paper-1k", "permutation", b, {"auroc": a, "auroc@active": act, "modality_share_error": err,
                                                      "n_queries": q})
    rows += _rows("paper-1k", "lemon", -1, {"auroc": 0.9, "auroc@active": 0.8})
    # a small task at absolute budgets: read on its own, never pooled with the paper task
    rows += _rows("smoke-tab-txt", "lemon", 8, {"auroc": 0.9, "n_queries": 8})
    rows += _rows("smoke-tab-txt", "lemon", 16, {"auroc": 1.0, "n_queries": 16})
    frame = pd.DataFrame(rows)
    text = write_report(frame, tmp_path).read_text()
    q1 = text[text.index("## 1. LEMON's query reduction"):text.index("## 2. Pair masking")]
    assert "### Tasks of more than 64 players (budgets n/4 to 4n" in q1
    assert "`auroc` and `precision_at_k` score the *material* planted players" in text
    assert "`best@active` is the best mean" in q1
    # material AUROC >= 0.95: LEMON at 2n, permutation at 3998 queries; best material and @active
    # (each mean with its interval and n: every instance has the same value, so the intervals are points)
    assert ("| paper-1k | 1000 | planted | lemon | 2 | 2000 [2000, 2000] | 2 [2, 2] | 0.98 [0.98, 0.98] "
            "| 0.88 [0.88, 0.88] | 4 |") in q1
    assert ("| paper-1k | 1000 | planted | permutation | 2 | 3998 [3998, 3998] | 4 [4, 4] | 0.97 [0.97, 0.97] "
            "| 0.9 [0.9, 0.9] | 4 |") in q1
    assert ("- paper-1k (1000 players): permutation needs 2.0× the queries of LEMON "
            "(3998 queries = 4n against 2000 queries = 2n).") in q1
    # modality shares: LEMON's exact modality game meets the goal at n/4
    assert ("- paper-1k (1000 players): permutation needs 8.0× the queries of LEMON "
            "(2000 queries = 2n against 250 queries = 0.25n).") in q1
    # the small task: its own table, budgets 8 and 16 only
    assert "| planted | lemon | 2 | 16 [16, 16] | 1 [1, 1] | 16 |" in q1
    # the plot of the paper task and the numbers it shows
    assert (tmp_path / "recovery_paper.png").stat().st_size > 1000
    assert "![AUROC against queries / n, paper-1k](recovery_paper.png)" in q1
    assert ("| lemon | 2000 | 2 | 2000 [2000, 2000] | 2 [2, 2] | 0.96 [0.96, 0.96] | 0.86 [0.86, 0.86] "
            "| 0 [0, 0] |") in q1
    points = recovery_per_n(frame[frame["task"] == "paper-1k"], 1000)
    assert points.loc[points["explainer"] == "permutation", "queries / n"].tolist() == [2.0, 3.998]
    assert points.loc[points["explainer"] == "lemon", "auroc"].tolist() == pytest.approx([0.7, 0.8, 0.9, 0.96, 0.98])
    # the leaderboard: material AUROC with its @active column beside it
    assert "| model | explainer | n | auroc | auroc@active |" in text
    assert "| planted | lemon | 2 | 0.9 [0.9, 0.9] | 0.8 [0.8, 0.8] |" in text


WIDE = {"name": "wide", "instances": 16, "seed": 0, "modalities": [{"name": "a", "kind": "tabular", "features": 20},
                                                                 {"name": "b", "kind": "tabular", "features": 10}],
        "terms": [{"kind": "unique", "players": ["a:0"]}, {"kind": "synergy", "players": ["a:1", "b:0"]}]}


def test_explainers_beyond_their_scale_are_skipped_with_the_reason():
    from mxbench.bench.runner import MAX_QUERIES, skip_reason

    wide = mxbench.generate(WIDE)  # 30 players: Exact would enumerate 2^30 coalitions
    assert skip_reason("exact", {}, wide, [None]) == (
        f"needs at least 1073741824 queries on 30 players, more than the {MAX_QUERIES} allowed uncapped")
    assert skip_reason("exact", {}, wide, [None, 64]) is not None and skip_reason("kernelshap", {}, wide, [64]) is None
    assert skip_reason("sii-probe", {"budget": 2048}, wide, [None]) is None       # its own budget fits
    assert skip_reason("kernelshap", {}, wide, [16, 32]) == (
        "needs at least 60 queries on 30 players, more than its largest budget here, 32")
    assert skip_reason("integrated_gradients", {}, wide, [None]) is None          # white-box: judged per model
    with pytest.raises(RunnerError, match="explainers: unknown explainer 'nope'"):
        skip_reason("nope", {}, wide, [None])
    with pytest.warns(UserWarning, match=r"exact skipped on wide \(needs at least 1073741824 queries on 30 players"):
        frame = validate(wide, models=["planted"], explainers=["exact", "kernelshap"], budgets=[64],
                         metrics=["auroc"], instances=1, n_jobs=1, progress=False)
    assert set(frame["explainer"]) == {"kernelshap"} and set(frame["metric"]) == {"auroc", "auroc@active"}


def test_run_beyond_the_models_uses_the_planted_games_and_budgets_in_n(tmp_path, monkeypatch, capsys):
    import mxbench.bench.runner as runner
    from mxbench.data import write

    write("smoke", tmp_path / "run" / "data", instances=64)
    monkeypatch.setattr(runner, "MAX_MODEL_PLAYERS", 13)  # smoke-img-txt (14 players) is now beyond the models
    path = run("smoke", tmp_path / "run", explainers=["kernelshap", ("mmshap", {"budget": 16})],
               instances=1, n_jobs=1, progress=False)
    printed = capsys.readouterr().out
    assert ("mxbench: suite 'smoke' has tasks of up to 14 players, more than the 13 the trained architectures are "
            "built for: models skipped, explaining the planted games only") in printed
    assert ("mxbench: mmshap skipped on smoke-tab-txt (needs at least 24 queries on 12 players, more than its largest "
            "budget here, 16); smoke-img-txt (needs at least 28 queries") in printed
    results = read_results(tmp_path / "run" / "results.parquet")
    assert set(results["model"]) == {"planted"} and not list((tmp_path / "run" / "models").glob("*"))
    curve = results[results["budget"] >= 0]
    assert runner.curve_budgets(14) == (4, 7, 14, 28, 56)  # n/4 .. 4n; the smallest may be below a method's minimum
    assert {14, 28, 56} <= set(curve.loc[curve["task"] == "smoke-img-txt", "budget"]) <= {4, 7, 14, 28, 56}
    assert sorted(curve.loc[curve["task"] == "smoke-mix3", "budget"].unique()) == [8, 16, 32, 64, 128, 256, 512, 1024]
    rerun = results[results["metric"].str.split("@").str[0].isin(runner.RERUN_METRICS)]
    assert len(rerun) and "smoke-img-txt" not in set(rerun["task"])  # left out beyond the models only
    assert set(results.loc[results["budget"] == -1, "explainer"]) == {"kernelshap"}
    text = path.read_text()
    assert "### Tasks of more than" in text and "| smoke-img-txt | 14 | planted | kernelshap |" in text
    assert (path.parent / "recovery_paper.png").stat().st_size > 1000

