"""Two truths: explainers on model games scored against the model's own game and the planted one."""

import numpy as np
import pytest

import mxbench
from mxbench.bench import runner
from mxbench.bench.report import decomposition, write_report
from mxbench.bench.runner import RESULT_COLUMNS, model_truths, validate
from mxbench.errors import MetricError
from mxbench.games import FunctionGame
from mxbench.validation.truth import MAX_GAME_PLAYERS, Truth, _permutation_shapley

WIDE = {"name": "wide", "seed": 3, "instances": 64, "target": "regression",
        "modalities": [{"name": "tab", "kind": "tabular", "features": 14},
                       {"name": "txt", "kind": "text", "length": 10, "vocab": 32}],
        "terms": [{"kind": "unique", "players": ["tab:0"], "weight": 1.0},
                  {"kind": "synergy", "op": "product", "players": ["tab:1", "txt:2"], "weight": 2.0},
                  {"kind": "redundancy", "players": ["tab:2", "txt:3"], "weight": 1.5},
                  {"kind": "synergy", "op": "product", "players": ["tab:3", "tab:4", "tab:5"], "weight": 2.0}]}


def test_permutation_estimate_agrees_with_the_exact_values_within_its_error():
    w = np.linspace(-1, 1, 10)
    game = FunctionGame(lambda c: c @ w + 3.0 * c[:, 0] * c[:, 1] * c[:, 2] - 2.0 * np.maximum(c[:, 3], c[:, 4]),
                        n_players=10)
    exact = Truth.from_game(game).shapley
    phi, se = _permutation_shapley(game, 10, 400, seed=1)
    # additive players: every order gives them their weight; a 2-player term: an order and its
    # reverse give its players both positions, so the antithetic pair mean is exact
    assert np.all(se[:3] > 1e-3) and np.all(se[3:] < 1e-12)
    z = np.abs(phi - exact)[:3] / se[:3]
    assert z.max() < 4.5
    np.testing.assert_allclose(phi[3:], exact[3:], atol=1e-12)
    again, _ = _permutation_shapley(game, 10, 400, seed=1)
    assert np.array_equal(phi, again)  # deterministic per seed


def test_estimated_truth_of_a_planted_game_beyond_the_enumeration_limit():
    task = mxbench.generate(WIDE)
    assert task.n_players == 24 > MAX_GAME_PLAYERS
    with pytest.raises(MetricError, match="at most 20 players, got 24; pass estimate=True"):
        Truth.from_game(task.game(0), task, 0)
    est = Truth.from_game(task.game(0), task, 0, estimate=True, permutations=200)
    exact = Truth.from_task(task, 0)
    assert est.estimated and not exact.estimated
    assert np.all(np.abs(est.shapley - exact.shapley) <= 4.5 * est.shapley_se + 1e-9)
    np.testing.assert_allclose(est.modality_shapley, exact.modality_shapley, atol=1e-9)  # 2^M coalitions: exact
    np.testing.assert_allclose([est.v_full, est.v_empty], [exact.v_full, exact.v_empty], atol=1e-9)
    assert np.isnan(est.banzhaf).all() and np.isnan(est.sii).all()
    with pytest.raises(MetricError, match="permutations: expected an even integer"):
        Truth.from_game(task.game(0), task, 0, estimate=True, permutations=7)


def test_truth_column_model_and_planted(tmp_path):
    """Model rows are scored against both truths; planted rows against the planted truth only."""
    task = mxbench.generate("smoke", instances=200)[0]
    assert task.n_players == 12
    frame = validate(task, models=["planted", "fusion_mlp"], explainers=["exact", ("kernelshap", {"budget": 2**12})],
                     instances=2, cache_dir=tmp_path / "cache", n_jobs=2, progress=False,
                     train_options={"epochs": 1, "certify": False})
    assert list(frame.columns) == list(RESULT_COLUMNS)
    planted = frame[frame["model"] == "planted"]
    assert set(planted["truth"]) == {"planted"}
    model = frame[frame["model"] == "fusion_mlp"]
    assert set(model["truth"]) == {"planted", "model"}
    own = model[model["metric"] == "model_shapley_error"].set_index("instance")["value"]
    assert len(own) == 2 and set(model.loc[model["metric"] == "model_shapley_error", "explainer"]) == {"-"}
    assert own.min() > 1e-3  # one epoch: the model is far from the planted game
    for name in ("exact", "kernelshap"):
        rows = model[model["explainer"] == name]
        vs_model = rows[(rows["truth"] == "model") & (rows["metric"] == "shapley_error")]
        assert len(vs_model) == 2 and float(vs_model["value"].max()) <= 1e-6
        spearman = rows[(rows["truth"] == "model") & (rows["metric"] == "spearman")]
        np.testing.assert_allclose(spearman["value"], 1.0)
        # against the planted truth the exact explainer shows exactly the model's own error
        vs_planted = rows[(rows["truth"] == "planted") & (rows["metric"] == "shapley_error")].set_index("instance")
        np.testing.assert_allclose(vs_planted["value"].sort_index(), own.sort_index(), rtol=1e-6)
    # metrics that query the game are scored once, against the model truth
    deletion = model[model["metric"] == "deletion"]
    assert len(deletion) and set(deletion["truth"]) == {"model"}
    table = decomposition(frame)
    row = table[table["explainer"] == "exact"].iloc[0]
    assert row["vs model truth"] <= 1e-6 and row["vs planted truth"] == pytest.approx(row["model vs planted"])
    path = write_report(frame, tmp_path / "report")
    text = path.read_text()
    assert "## Decomposition" in text and "vs model truth" in text
    old = frame[frame["model"] == "planted"].drop(columns="truth")
    assert "## Decomposition" in write_report(old, tmp_path / "old").read_text()


def test_model_truth_is_computed_once_per_model_and_estimated_beyond_the_limit(tmp_path):
    task = mxbench.generate(WIDE)
    jobs = runner._unit_jobs("t", [task], ["planted", "exact"], runner.explainer_specs(["kernelshap", "lime"]),
                             [None], [0], 2, None, tmp_path, {})
    truth_jobs = [j for j in jobs if j[0][0] == "truth"]
    test = task.split_indices("test")[:2].tolist()
    assert [j[0] for j in truth_jobs] == [("truth", "t", "wide", "exact", i) for i in test]
    units = [j for j in jobs if j[0][0] == "unit" and j[0][3] == "exact"]
    placeholders = tuple(runner._Result(j[0]) for j in truth_jobs)
    assert len(units) == 2 and all(placeholders in j[2] for j in units)
    assert max(jobs.index(j) for j in truth_jobs) < min(jobs.index(u) for u in units)
    truths = model_truths(task, "exact", None, [0])
    assert truths[0].estimated
    frame = validate(task, models=["exact"], explainers=["kernelshap"],
                     metrics=["shapley_error", "auroc"], instances=1, n_jobs=1, progress=False, cache_dir=tmp_path)
    est = frame[frame["truth"] == "model-estimate"]
    # auroc needs more than an estimate of the Shapley values
    assert set(est["metric"]) == {"shapley_error", "shapley_error@smooth", "shapley_error@nonsmooth"}
    assert set(frame.loc[frame["metric"].str.startswith("auroc"), "truth"]) == {"planted"}
    own = frame[frame["explainer"] == "-"].set_index("metric")["value"]
    assert set(own.index) == {"model_shapley_error", "model_share_error", "model_truth_se"}
    # the exact model equals the planted game: its error is the estimate's own noise (the 3-player
    # term), and its modality shares are exact
    assert 0 < own["model_shapley_error"] < 4 * own["model_truth_se"] and own["model_share_error"] < 1e-9
    table = decomposition(frame)
    assert table["model truth"].tolist() == ["estimated"]


def test_gradients_fail_measurably_on_terms_that_are_not_differentiable(tmp_path):
    """On the exact model, integrated gradients is exact on product/identity terms and blind to step and max."""
    task = mxbench.generate("smoke", instances=64)[2]
    assert {t.op for t in task.terms} >= {"step", "max-magnitude", "product"}
    frame = validate(task, models=["exact"], explainers=["integrated_gradients"], metrics=["shapley_error"],
                     instances=2, n_jobs=1, progress=False, cache_dir=tmp_path)
    rows = frame[frame["truth"] == "model"].groupby("metric")["value"].max()
    assert rows["shapley_error@smooth"] < 0.01 and rows["shapley_error@nonsmooth"] > 0.5
    from mxbench.bench.report import smoothness_table

    table = smoothness_table(frame)
    assert table[["model", "explainer"]].values.tolist() == [["exact", "integrated_gradients"]]
    assert table["other terms"].iloc[0] > 50 * table["differentiable terms"].iloc[0]


def test_units_read_the_model_game_from_its_enumerated_table():
    """The table the model truth enumerated is the model's game: same values as forward passes."""
    from mxbench.models import train

    task = mxbench.generate("smoke", instances=200)[0]
    model = train(task, "fusion_mlp", epochs=1, certify=False)
    truth = Truth.from_game(model.game(task, 3), task, 3)
    game = model.game(task, 3)
    fast = game.with_table(truth.table)
    coalitions = np.random.default_rng(0).random((64, task.n_players)) < 0.5
    np.testing.assert_allclose(fast(coalitions), game(coalitions), rtol=1e-6, atol=1e-6)
    assert fast.n_queries == 64 and fast.model is model and fast.instance == 3 and truth.table.shape == (4096,)
    with pytest.raises(mxbench.errors.GameError, match="expected 4096 values"):
        game.with_table(np.zeros(10))
