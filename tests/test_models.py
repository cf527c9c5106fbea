"""Training under masking, the certificate, model games, saving, loading and the cache."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

import mxbench
from mxbench.cli import main
from mxbench.models import ModelError, TaskModel, TrainedModel, load, resolve_config, sample_coalitions, train
from mxbench.models.common import keep_rate_coalitions, to_tensors
from mxbench.models.trained import config_digest

SPEC = {"name": "tiny", "seed": 1, "instances": 600,
        "modalities": [{"name": "tab", "kind": "tabular", "features": 3},
                       {"name": "txt", "kind": "text", "length": 2, "vocab": 16}],
        "terms": [{"kind": "unique", "players": ["tab:0"], "weight": 1.0},
                  {"kind": "synergy", "players": ["tab:1", "txt:0"], "weight": 1.0}]}


@pytest.fixture(scope="module")
def task():
    return mxbench.generate(SPEC)


@pytest.fixture(scope="module")
def quick(task):
    return train(task, "fusion_mlp", epochs=2, random_state=3, examples_per_epoch=1024)


class PlantedModule(TaskModel):
    """A 'model' that is the planted function itself (decodes and applies f*): certifies exactly."""

    def __init__(self, task):
        super().__init__(task.spec.modalities)
        self.plan = task.plan
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, inputs):
        raw = {k: v.cpu().numpy() for k, v in inputs.items()}
        return torch.from_numpy(self.plan.f_star(self.plan.decode(raw))).float() + 0 * self.dummy


class ConstantModule(TaskModel):
    def __init__(self, task):
        super().__init__(task.spec.modalities)
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, inputs):
        return self.dummy.expand(next(iter(inputs.values())).shape[0])


def _wrap(module, task):
    return TrainedModel("custom", {}, module, task.spec.spec_hash(), task.spec.name, 0, [], {})


def test_certificate_of_the_planted_function_is_exact(task):
    model = _wrap(PlantedModule(task), task)
    c = model.certify(task)
    assert c.passed and model.certified
    assert c.r2_random == pytest.approx(1.0, abs=1e-6) and c.r2_unmasked == pytest.approx(1.0, abs=1e-6)
    assert all(v == pytest.approx(1.0, abs=1e-6) for v in c.r2_ablated.values())
    assert c.share_error < 1e-6
    assert max(c.term_errors) < 1e-5
    assert c.instances == len(task.split_indices("test"))
    assert sum(c.shares_truth.values()) == pytest.approx(1.0)


def test_certificate_of_a_constant_fails(task):
    c = _wrap(ConstantModule(task), task).certify(task)
    assert not c.passed
    assert c.r2_random < 0.05
    assert all(e == pytest.approx(1.0) for e in c.term_errors)


def test_training_is_deterministic(task, quick):
    again = train(task, "fusion_mlp", epochs=2, random_state=3, examples_per_epoch=1024)
    assert again.history == quick.history
    for (k, a), (_, b) in zip(quick.module.state_dict().items(), again.module.state_dict().items()):
        assert torch.equal(a, b), k
    other = train(task, "fusion_mlp", epochs=2, random_state=4, certify=False, examples_per_epoch=1024)
    assert other.history != quick.history
    assert other.certificate is None


def test_training_lowers_the_loss(task):
    model = train(task, "fusion_mlp", epochs=6, random_state=0, certify=False, examples_per_epoch=1024)
    losses = [h["val_loss"] for h in model.history]
    assert min(losses[1:]) < 0.7 * losses[0]


def test_model_game_matches_predict_and_counts(task, quick):
    game = quick.game(task, 5)
    coal = np.random.default_rng(0).random((7, task.n_players)) < 0.5
    raw = {k: np.repeat(v[5:6], 7, axis=0) for k, v in task.inputs.items()}
    assert np.array_equal(game(coal), quick.predict(task.plan.mask(raw, coal)))
    assert game.n_queries == 7 and game.n_players == task.n_players
    assert list(game.modality_of) == [0, 0, 0, 1, 1]
    full = game(np.ones((1, task.n_players), bool))
    assert full[0] == pytest.approx(quick.predict({k: v[5:6] for k, v in task.inputs.items()})[0], abs=1e-6)


def test_model_game_calls_the_model_once_per_batch(task, quick, monkeypatch):
    calls = []
    original = quick.module.forward
    monkeypatch.setattr(quick.module, "forward", lambda inputs: calls.append(len(inputs["tab"])) or original(inputs))
    quick.game(task, 0)(np.ones((300, task.n_players), bool))
    assert calls == [300]


def test_save_and_load_round_trip(tmp_path, task, quick):
    out = quick.save(tmp_path / "m")
    assert sorted(os.listdir(out)) == ["config.json", "weights.pt"]
    loaded = load(out, task)
    x = {k: v[:20] for k, v in task.inputs.items()}
    assert np.array_equal(loaded.predict(x), quick.predict(x))
    assert loaded.certificate == quick.certificate and loaded.history == quick.history
    doc = json.loads((out / "config.json").read_text())
    assert doc["arch"] == "fusion_mlp" and doc["spec_hash"] == task.spec.spec_hash()
    assert load(out).arch == "fusion_mlp"  # the modalities are stored, so no task is needed


def test_load_errors(tmp_path, task, quick):
    out = quick.save(tmp_path / "m")
    other = mxbench.generate(dict(SPEC, seed=2))
    with pytest.raises(ModelError, match="trained on task 'tiny'"):
        load(out, other)
    with pytest.raises(ModelError, match="trained on task"):
        quick.game(other, 0)
    weights = out / "weights.pt"
    data = bytearray(weights.read_bytes())
    data[-10] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="weights.pt: SHA-256"):
        load(out, task)
    weights.unlink()
    with pytest.raises(ModelError, match="weights.pt: missing"):
        load(out, task)
    with pytest.raises(ModelError, match="config.json is missing"):
        load(tmp_path, task)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text("{")
    with pytest.raises(ModelError, match="config.json: unreadable or malformed"):
        load(tmp_path / "bad")


def test_weights_of_another_architecture_are_refused(tmp_path, task, quick):
    out = quick.save(tmp_path / "m")
    doc = json.loads((out / "config.json").read_text())
    doc["arch"] = "transformer"
    (out / "config.json").write_text(json.dumps(doc))
    with pytest.raises(ModelError, match="config.json: config: transformer takes no option 'activation'"):
        load(out, task)
    doc["config"] = resolve_config("transformer")
    doc["config_sha256"] = config_digest(doc)  # re-signed, so the weights themselves are what is refused
    (out / "config.json").write_text(json.dumps(doc))
    with pytest.raises(ModelError, match="cannot be loaded into a transformer model"):
        load(out, task)


def test_bad_arguments(task):
    with pytest.raises(ModelError, match="arch: unknown architecture 'cnn'"):
        train(task, "cnn")
    with pytest.raises(ModelError, match="config:"):
        train(task, "fusion_mlp", config={"no_such_option": 1})
    with pytest.raises(ModelError, match="epochs: expected a positive integer"):
        train(task, "fusion_mlp", epochs=0)
    with pytest.raises(ModelError, match="lr_schedule: expected one of .* got 'step'"):
        train(task, "fusion_mlp", lr_schedule="step")
    with pytest.raises(ModelError, match="task: expected an mxbench Task"):
        train("tiny", "fusion_mlp")
    no_train = mxbench.generate(dict(SPEC, splits=[1.0, 0.0, 0.0]))
    no_train.split[:] = 2
    with pytest.raises(ModelError, match="has no training split"):
        train(no_train, "fusion_mlp")
    with pytest.raises(ModelError, match="instance: expected 0..599"):
        train(task, "fusion_mlp", epochs=1, certify=False, examples_per_epoch=256).game(task, 600)


def test_cache_reuses_a_trained_model(tmp_path, task):
    first = train(task, "fusion_mlp", epochs=1, random_state=5, cache_dir=tmp_path)
    assert len(os.listdir(tmp_path)) == 1
    second = train(task, "fusion_mlp", epochs=1, random_state=5, cache_dir=tmp_path)
    x = {k: v[:10] for k, v in task.inputs.items()}
    assert np.array_equal(first.predict(x), second.predict(x))
    assert second.certificate == first.certificate
    train(task, "fusion_mlp", epochs=1, random_state=6, cache_dir=tmp_path, certify=False)
    assert len(os.listdir(tmp_path)) == 2


def test_a_model_keeps_its_whole_config_and_outlives_a_change_of_defaults(tmp_path, task, monkeypatch):
    from mxbench.models.fusion_mlp import FusionMLP

    model = train(task, "fusion_mlp", config={"layers": 1}, epochs=1, certify=False, cache_dir=tmp_path / "cache")
    assert model.config == {"player_dim": 8, "encoder_hidden": 16, "hidden": 256, "layers": 1, "activation": "gelu"}
    out = model.save(tmp_path / "m")
    assert json.loads((out / "config.json").read_text())["config"] == model.config
    # a later version with another default still rebuilds the saved sizes, and does not serve the
    # cached model for the new defaults
    defaults = FusionMLP.__init__.__defaults__
    monkeypatch.setattr(FusionMLP.__init__, "__defaults__", (defaults[0], defaults[1], 32) + defaults[3:])
    assert resolve_config("fusion_mlp")["hidden"] == 32
    x = {k: v[:10] for k, v in task.inputs.items()}
    assert np.array_equal(load(out, task).predict(x), model.predict(x))
    retrained = train(task, "fusion_mlp", config={"layers": 1}, epochs=1, certify=False, cache_dir=tmp_path / "cache")
    assert retrained.config["hidden"] == 32 and len(os.listdir(tmp_path / "cache")) == 2


def test_resolve_config_names_an_unknown_option():
    assert resolve_config("transformer", {"dim": 8})["dim"] == 8
    with pytest.raises(ModelError, match="config: fl_i2moe takes no option 'width' \\(options: dim, heads"):
        resolve_config("fl_i2moe", {"width": 8})
    with pytest.raises(ModelError, match="config: expected a mapping of fusion_mlp options, got list"):
        resolve_config("fusion_mlp", [("hidden", 8)])


def test_sample_coalitions_mixes_three_regimes():
    c = sample_coalitions(np.random.default_rng(1), 20000, np.array([0, 0, 0, 1, 1, 2]))
    # P(all present) = 1/4 unmasked + 1/4 * (1/2)^3 modality drops + 1/2 * E[keep^6] = 1/4 + 1/32 + 1/14
    assert c.all(axis=1).mean() == pytest.approx(0.25 + 1 / 32 + 1 / 14, abs=0.015)
    # within a modality, players are all kept or all dropped in at least the modality-drop and unmasked rows
    whole = (c[:, :3].all(axis=1) | ~c[:, :3].any(axis=1)) & (c[:, 3:5].all(axis=1) | ~c[:, 3:5].any(axis=1))
    assert whole.mean() > 0.5
    # the mean keep rate: 1/4 * 1 + 1/4 * 1/2 + 1/2 * 1/2
    assert c.mean() == pytest.approx(0.625, abs=0.01)


def test_cosine_schedule_changes_training_after_the_first_epoch(task):
    kw = dict(epochs=3, random_state=2, examples_per_epoch=512, certify=False, target_r2=None, patience=5)
    cosine, constant = train(task, "fusion_mlp", **kw), train(task, "fusion_mlp", lr_schedule="constant", **kw)
    # the first epoch runs at the full rate under both schedules; later ones differ
    assert cosine.history[0] == constant.history[0]
    assert cosine.history[2]["val_loss"] != constant.history[2]["val_loss"]
    assert cosine.settings["lr_schedule"] == "cosine" and constant.settings["lr_schedule"] == "constant"


def test_epochs_default_to_the_architecture(task):
    model = train(task, "fl_i2moe", config={"dim": 8, "heads": 2, "layers": 1}, examples_per_epoch=64, patience=1,
                  certify=False)
    assert model.settings["epochs"] == 40 and 1 <= len(model.history) <= 40
    assert train(task, "fusion_mlp", examples_per_epoch=64, patience=1, certify=False).settings["epochs"] == 60


def test_keep_rate_coalitions_is_the_certificate_regime():
    c = keep_rate_coalitions(np.random.default_rng(4), 20000, 8)
    # keep rate u ~ U(0, 1) per row: P(all present) = E[u^8] = 1/9, P(none) = 1/9, mean 1/2
    assert c.all(axis=1).mean() == pytest.approx(1 / 9, abs=0.01)
    assert (~c).all(axis=1).mean() == pytest.approx(1 / 9, abs=0.01)
    assert c.mean() == pytest.approx(0.5, abs=0.01)


def test_to_tensors_dtypes():
    t = to_tensors({"a": np.zeros((2, 3), np.float32), "b": np.ones((2, 2), np.int32)})
    assert t["a"].dtype == torch.float32 and t["b"].dtype == torch.int64 and t["b"].sum().item() == 4


def test_cli_train(tmp_path, capsys):
    data = mxbench.write_dataset(SPEC, tmp_path / "data")
    assert main(["train", str(data), "--arch", "fusion_mlp", "--out", str(tmp_path / "model"), "--epochs", "2",
                 "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "R² random coalitions" in out and "max share error" in out
    assert f"wrote {tmp_path / 'model'}" in out
    assert load(tmp_path / "model").arch == "fusion_mlp"
    assert main(["train", str(tmp_path / "nope"), "--arch", "fusion_mlp", "--out", str(tmp_path / "m2")]) == 2
    assert "manifest.json is missing" in capsys.readouterr().err
    assert main(["train", str(data), "--arch", "fusion_mlp", "--out", str(tmp_path / "m3"), "--epochs", "0"]) == 2
    assert not (tmp_path / "m2").exists() and not (tmp_path / "m3").exists()
    with pytest.raises(SystemExit) as e:
        main(["train", str(data), "--arch", "cnn", "--out", str(tmp_path / "m4")])
    assert e.value.code == 2
