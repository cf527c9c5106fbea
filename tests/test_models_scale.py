"""Models at the paper scale: training on fresh instances, memory-bounded inference, estimated Shapley errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import mxbench
from mxbench.generators.suites import suite_specs
from mxbench.models import Certificate, ModelError, build, load, train
from mxbench.models.common import INFERENCE_FLOATS, inference_rows, predict_batches, to_tensors
from mxbench.models.train import LARGE_TASK_PLAYERS, fresh_block
from mxbench.models.trained import SHAPLEY_ESTIMATE_ABOVE, SHAPLEY_PERMUTATIONS, _check_certificate
from mxbench.task import BLOCK


@pytest.fixture(scope="module")
def paper_task():
    """``paper-img-txt`` (244 players: 196 patches, 48 tokens) with few instances."""
    spec = next(s for s in suite_specs("paper") if s.name == "paper-img-txt")
    return mxbench.generate(spec, instances=240)


@pytest.fixture(scope="module")
def paper_model(paper_task):
    torch.manual_seed(0)
    return train(paper_task, "fusion_mlp", epochs=2, examples_per_epoch=256, certify=False)


@pytest.fixture(scope="module")
def small_task():
    return mxbench.generate(suite_specs("smoke")[2], instances=800)  # smoke-mix3: 12 players, a 3-way product


@pytest.fixture(scope="module")
def small_model(small_task):
    return train(small_task, "fusion_mlp", epochs=2, examples_per_epoch=1024, certify=False)


# ---------------------------------------------------------------------- training at scale
def test_fusion_mlp_trains_at_scale_on_fresh_instances(paper_task, paper_model):
    assert paper_task.n_players == 244 > LARGE_TASK_PLAYERS
    assert paper_model.settings["fresh"] is True and paper_model.settings["epochs"] == 2
    assert len(paper_model.history) == 2
    assert all(np.isfinite(h["train_loss"]) and np.isfinite(h["val_r2"]) for h in paper_model.history)
    torch.manual_seed(0)  # train seeds torch with random_state 0 before building: the same start
    start = build("fusion_mlp", paper_task)
    moved = [not torch.equal(a, b) for a, b in zip(start.state_dict().values(), paper_model.module.state_dict().values())]
    assert len(moved) == len(paper_model.module.state_dict()) and all(moved)  # every parameter was trained


def test_large_tasks_train_without_early_stop_by_patience(paper_model, small_model):
    """Fresh instances make the validation R² climb in steps: no patience on large tasks."""
    from mxbench.models.fusion_mlp import FusionMLP
    from mxbench.models.train import DEFAULT_PATIENCE
    assert paper_model.settings["patience"] == paper_model.settings["epochs"] == 2
    assert small_model.settings["patience"] == DEFAULT_PATIENCE == 8
    assert FusionMLP.large_task_epochs == 1200


def test_model_game_evaluates_coalitions_of_the_paper_task(paper_task, paper_model):
    i = int(paper_task.split_indices("test")[0])
    game = paper_model.game(paper_task, i)
    coalitions = np.random.default_rng(0).random((5, paper_task.n_players)) < 0.5
    values = game(coalitions)
    assert values.shape == (5,) and np.all(np.isfinite(values)) and game.n_queries == 5
    masked = paper_task.plan.mask({k: v[[i] * 5] for k, v in paper_task.inputs.items()}, coalitions)
    np.testing.assert_allclose(values, paper_model.predict(masked), rtol=1e-6, atol=1e-6)
    assert len(set(np.round(values, 6))) > 1  # the coalition changes the output


def test_transformer_uses_its_large_task_config_and_trains(paper_task):
    model = train(paper_task, "transformer", epochs=1, examples_per_epoch=64, certify=False)
    assert model.config["heads"] == 1 and model.config["dim"] == 16  # large_task_config, then the defaults
    assert model.settings["fresh"] is True and len(model.history) == 1
    game = model.game(paper_task, 0)
    values = game(np.array([[True] * paper_task.n_players, [False] * paper_task.n_players]))
    assert values.shape == (2,) and np.all(np.isfinite(values))
    given = train(paper_task, "transformer", config={"heads": 2}, epochs=1, examples_per_epoch=16, certify=False,
                  fresh=False)
    assert given.config["heads"] == 2 and "fresh" not in given.settings  # a given option wins; fresh on request


def test_small_tasks_keep_training_on_their_split(small_task, small_model):
    assert small_task.n_players <= LARGE_TASK_PLAYERS
    assert "fresh" not in small_model.settings  # the settings (and the cache key) of small tasks are as before
    again = train(small_task, "fusion_mlp", epochs=2, examples_per_epoch=1024, certify=False, fresh=False)
    for (k, a), (_, b) in zip(small_model.module.state_dict().items(), again.module.state_dict().items()):
        assert torch.equal(a, b), k
    with pytest.raises(ModelError, match="fresh"):
        train(small_task, "fusion_mlp", epochs=1, fresh="yes")


def test_fresh_blocks_are_the_instances_the_spec_generates_after_its_own():
    spec = suite_specs("smoke")[0]
    task = mxbench.generate(spec, instances=BLOCK)  # exactly one block of its own
    longer = mxbench.generate(spec, instances=BLOCK + 40)
    fresh = fresh_block(task, 1)
    for k in task.inputs:
        np.testing.assert_array_equal(fresh[k][:40], longer.inputs[k][BLOCK:])
        assert fresh[k].shape[0] == BLOCK


def test_fresh_training_is_deterministic(small_task):
    a = train(small_task, "fusion_mlp", epochs=2, examples_per_epoch=512, certify=False, fresh=True)
    b = train(small_task, "fusion_mlp", epochs=2, examples_per_epoch=512, certify=False, fresh=True)
    assert a.settings["fresh"] is True
    assert all(torch.equal(x, y) for x, y in zip(a.module.state_dict().values(), b.module.state_dict().values()))
    assert a.history == b.history


# ---------------------------------------------------------------------- memory-bounded inference
def test_inference_rows_cut_large_token_batches_only(paper_task, small_task):
    big = build("transformer", paper_task, {"heads": 1})
    rows = inference_rows(big, 4096)
    assert 1 <= rows < 4096 and rows * big.activation_floats_per_row() <= INFERENCE_FLOATS
    assert inference_rows(build("transformer", small_task), 4096) == 4096
    assert inference_rows(build("fusion_mlp", paper_task), 4096) == 4096  # no per-row estimate: never cut
    for spec in suite_specs("standard"):  # every standard task (<= 64 players) keeps whole batches
        assert inference_rows(build("transformer", spec.modalities), 4096) == 4096, spec.name


def test_cut_batches_give_the_same_outputs(paper_task, monkeypatch):
    import mxbench.models.common as common

    torch.manual_seed(0)
    module = build("transformer", paper_task, {"heads": 1}).eval()
    x = to_tensors({k: v[:6] for k, v in paper_task.inputs.items()})
    with torch.no_grad():
        whole = predict_batches(module, x, 6)
        monkeypatch.setattr(common, "INFERENCE_FLOATS", 2 * module.activation_floats_per_row())
        assert inference_rows(module, 6) == 2
        cut = predict_batches(module, x, 6)
    torch.testing.assert_close(cut, whole, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------- the certificate at scale
def test_certificate_estimates_shapley_errors_at_scale(paper_task, paper_model):
    assert paper_task.n_players > SHAPLEY_ESTIMATE_ABOVE
    c = paper_model.certify(paper_task, instances=12, shapley_instances=3, shapley_permutations=4)
    assert c.shapley_method == "permutation" and c.shapley_permutations == 4
    assert c.shapley_instances == [int(r) for r in paper_task.split_indices("test")[:3]]
    assert len(c.shapley_errors) == len(c.shapley_standard_errors) == 3
    assert all(np.isfinite(e) and e > 0 for e in c.shapley_errors)  # an untrained-ish model is not f*
    assert all(np.isfinite(s) and s >= 0 for s in c.shapley_standard_errors)
    assert c.shapley_error["median"] <= c.shapley_error["p90"] <= c.shapley_error["max"]
    assert c.passed == (c.r2_random >= 0.95 and c.share_error <= 0.05) and not c.passed
    row = next(r for r in c.rows() if "Shapley" in r["check"])
    assert "estimated" in row["check"] and "4 permutations" in row["goal"]
    assert len(c.term_errors) == len(paper_task.plan.terms)
    # the row budget bounds the instances: one instance costs permutations * (n - 1) + 2 rows
    c = paper_model.certify(paper_task, instances=12, shapley_permutations=4, shapley_rows=2 * (4 * 243 + 2))
    assert len(c.shapley_instances) == 2
    c = paper_model.certify(paper_task, instances=12, shapley_estimate=False)
    assert c.shapley_method is None and c.shapley_error is None


def test_saved_estimated_certificate_loads(tmp_path, paper_task, paper_model):
    saved = paper_model.certificate
    try:
        paper_model.certify(paper_task, instances=12, shapley_instances=2, shapley_permutations=2)
        loaded = load(paper_model.save(tmp_path / "m"), paper_task, recheck=False)
        assert loaded.certificate == paper_model.certificate
        assert loaded.certificate.shapley_method == "permutation"
    finally:
        paper_model.certificate = saved


def test_estimate_agrees_with_the_exact_error_within_its_standard_error(small_task, small_model):
    exact = small_model.certify(small_task, instances=64, shapley_instances=4, shapley_rows=4 * 2**12)
    assert exact.shapley_method == "exact" and exact.shapley_permutations is None
    est = small_model.certify(small_task, instances=64, shapley_instances=4, shapley_estimate=True,
                              shapley_permutations=256, shapley_rows=10**6)
    assert est.shapley_method == "permutation" and est.shapley_instances == exact.shapley_instances
    e, x, se = np.array(est.shapley_errors), np.array(exact.shapley_errors), np.array(est.shapley_standard_errors)
    assert np.all(se > 0) and np.all(se < 0.05)
    assert np.all(np.abs(e - x) <= 4 * se + 1e-3), (e, x, se)
    # the dataset-level figures and the verdict do not depend on how the Shapley error is obtained
    for name in ("r2_unmasked", "r2_random", "share_error", "term_errors", "instance_share_error", "passed"):
        assert getattr(est, name) == getattr(exact, name), name


def test_estimate_is_exact_on_the_planted_function(small_task):
    from mxbench.models import TaskModel, TrainedModel

    class Planted(TaskModel):  # f* itself: the difference game is zero, so is every estimate
        def __init__(self):
            super().__init__(small_task.spec.modalities)
            self.dummy = torch.nn.Parameter(torch.zeros(1))

        def forward(self, inputs):
            raw = {k: v.cpu().numpy() for k, v in inputs.items()}
            return torch.from_numpy(small_task.plan.f_star(small_task.plan.decode(raw))).float() + 0 * self.dummy

    model = TrainedModel("custom", {}, Planted(), small_task.spec.spec_hash(), small_task.spec.name, 0, [], {})
    c = model.certify(small_task, instances=32, shapley_estimate=True, shapley_permutations=4, shapley_instances=3)
    assert c.shapley_error["max"] < 1e-5 and max(c.shapley_standard_errors) < 1e-5


def test_estimate_is_seeded_per_instance(small_task, small_model):
    a = small_model.certify(small_task, instances=64, shapley_instances=3, shapley_estimate=True,
                            shapley_permutations=4, shapley_rows=10**6)
    b = small_model.certify(small_task, instances=64, shapley_instances=2, shapley_estimate=True,
                            shapley_permutations=4, shapley_rows=10**6)
    assert a.shapley_errors[:2] == b.shapley_errors  # an instance's figure does not depend on how many are drawn
    c = small_model.certify(small_task, instances=64, shapley_instances=2, shapley_estimate=True,
                            shapley_permutations=4, shapley_rows=10**6, random_state=1)
    assert c.shapley_errors != b.shapley_errors


def test_small_tasks_keep_the_exact_figure(small_task, small_model):
    c = small_model.certify(small_task, instances=64)
    assert c.shapley_method == "exact" and c.shapley_standard_errors is None and c.shapley_permutations is None
    assert SHAPLEY_PERMUTATIONS % 2 == 0


def test_certificate_argument_and_field_checks(small_task, small_model):
    for bad in (3, 0, True, 2.0):
        with pytest.raises(ModelError, match="shapley_permutations"):
            small_model.certify(small_task, instances=16, shapley_permutations=bad)
    with pytest.raises(ModelError, match="shapley_estimate"):
        small_model.certify(small_task, instances=16, shapley_estimate="yes")
    c = Certificate(0.99, {"a": 0.98}, 0.97, {"a": 1.0}, {"a": 1.0}, 0.0, [0.1], 100, True,
                    shapley_method="guess")
    with pytest.raises(ModelError, match="shapley_method"):
        _check_certificate(c)
    _check_certificate(Certificate(0.99, {"a": 0.98}, 0.97, {"a": 1.0}, {"a": 1.0}, 0.0, [0.1], 100, True))
