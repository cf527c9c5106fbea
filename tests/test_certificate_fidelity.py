"""Per-instance fidelity in the certificate: modality-share and exact Shapley errors per instance."""

from __future__ import annotations

import json

import numpy as np
import pytest

import mxbench
from mxbench.cli import main
from mxbench.models import load, train
from mxbench.models.trained import (
    INTEGRITY_KEY,
    QUANTILES,
    SHAPLEY_INSTANCES,
    SHAPLEY_MAX_PLAYERS,
    Certificate,
    ModelError,
    config_digest,
    instance_share_errors,
    shapley_error,
    spread,
)
from mxbench.validation import Truth

SPEC = {"name": "tiny-fidelity", "seed": 2, "instances": 600,
        "modalities": [{"name": "tab", "kind": "tabular", "features": 3},
                       {"name": "txt", "kind": "text", "length": 2, "vocab": 16}],
        "terms": [{"kind": "unique", "players": ["tab:0"], "weight": 1.0},
                  {"kind": "synergy", "players": ["tab:1", "txt:0"], "weight": 1.0}]}

NEW_FIELDS = ("instance_share_error", "shapley_error", "shapley_errors", "shapley_instances")


@pytest.fixture(scope="module")
def task():
    return mxbench.generate(SPEC)


@pytest.fixture(scope="module")
def model(task):
    return train(task, "fusion_mlp", epochs=2, random_state=5, examples_per_epoch=1024)


def test_shapley_errors_equal_an_independent_recomputation(task, model):
    c = model.certificate
    assert c is not None and task.n_players <= SHAPLEY_MAX_PLAYERS
    assert c.shapley_instances is not None and len(c.shapley_instances) == min(SHAPLEY_INSTANCES, c.instances)
    assert len(c.shapley_errors) == len(c.shapley_instances)
    held_out = task.split_indices("test")
    assert c.shapley_instances == [int(i) for i in held_out[:len(c.shapley_instances)]]
    for i, claimed in zip(c.shapley_instances, c.shapley_errors):
        phi_model = Truth.from_game(model.game(task, i)).shapley
        phi_truth = Truth.from_task(task, i).shapley
        expected = np.linalg.norm(phi_model - phi_truth) / max(np.linalg.norm(phi_truth), 1e-12)
        assert abs(claimed - expected) <= 1e-9
    assert c.shapley_error == spread(c.shapley_errors)
    assert max(c.shapley_errors) > 0  # a two-epoch model is not the planted function


def test_per_instance_share_errors_equal_an_independent_recomputation(task, model):
    c = model.certificate
    rows = task.split_indices("test")[:c.instances]
    errors = []
    for i in rows[:40]:  # the figure covers every held-out instance; recompute a prefix and the spread on it
        model_shares = np.abs(Truth.from_game(model.game(task, int(i))).modality_shapley)
        truth_shares = np.abs(Truth.from_task(task, int(i)).modality_shapley)
        errors.append(np.max(np.abs(model_shares / model_shares.sum() - truth_shares / truth_shares.sum())))
    mine = instance_share_errors(np.array([Truth.from_game(model.game(task, int(i))).modality_shapley for i in rows[:40]]),
                                 np.array([Truth.from_task(task, int(i)).modality_shapley for i in rows[:40]]))
    np.testing.assert_allclose(mine, errors, atol=1e-9)
    assert set(c.instance_share_error) == set(QUANTILES)
    # the dataset-level max equals the per-instance max only by accident; the per-instance max bounds each instance
    assert max(errors) <= c.instance_share_error["max"] + 1e-9


def test_quantiles_are_ordered(model):
    c = model.certificate
    for d in (c.instance_share_error, c.shapley_error):
        assert d["median"] <= d["p90"] <= d["max"]
        assert all(np.isfinite(v) and v >= 0 for v in d.values())
    assert c.instance_share_error["max"] <= 1.0


def test_planted_function_has_zero_errors(task):
    import torch

    from mxbench.models import TaskModel, TrainedModel

    class PlantedModule(TaskModel):  # the planted function itself: its games are the planted games
        def __init__(self):
            super().__init__(task.spec.modalities)
            self.dummy = torch.nn.Parameter(torch.zeros(1))

        def forward(self, inputs):
            raw = {k: v.cpu().numpy() for k, v in inputs.items()}
            return torch.from_numpy(task.plan.f_star(task.plan.decode(raw))).float() + 0 * self.dummy

    planted = TrainedModel("custom", {}, PlantedModule(), task.spec.spec_hash(), task.spec.name, 0, [], {})
    c = planted.certify(task, instances=64)
    assert c.passed
    assert c.instance_share_error["max"] < 1e-5 and c.shapley_error["max"] < 1e-5


def test_helpers():
    assert spread([3.0]) == {"median": 3.0, "p90": 3.0, "max": 3.0}
    assert shapley_error(np.array([[1.0, 0.0]]), np.array([[1.0, 0.0]])).tolist() == [0.0]
    assert instance_share_errors(np.zeros((1, 2)), np.zeros((1, 2))).tolist() == [0.0]


def test_passed_ignores_the_new_figures(task, model):
    c = model.certificate
    d = c.to_dict()
    d["shapley_error"] = {"median": 99.0, "p90": 99.0, "max": 99.0}
    d["instance_share_error"] = {"median": 1.0, "p90": 1.0, "max": 1.0}
    from mxbench.models.trained import _check_certificate

    _check_certificate(Certificate(**d))  # no verdict change is implied, so nothing is refused


def test_skipped_above_the_player_limit_or_on_request(task, model, monkeypatch):
    import mxbench.models.trained as trained

    saved = model.certificate
    try:
        c = model.certify(task, instances=64, shapley_instances=0)
        assert c.shapley_error is None and c.shapley_errors is None and c.shapley_instances is None
        assert c.instance_share_error is not None
        assert any(r["value"] == "not computed" for r in c.rows())
        monkeypatch.setattr(trained, "SHAPLEY_MAX_PLAYERS", task.n_players - 1)
        c = model.certify(task, instances=64)
        assert c.shapley_error is None and c.instance_share_error is not None
        c = model.certify(task, instances=64, shapley_rows=2 * 2**task.n_players)
        assert c.shapley_instances is None  # still above the (patched) limit
        monkeypatch.undo()
        c = model.certify(task, instances=64, shapley_rows=2 * 2**task.n_players)
        assert len(c.shapley_instances) == 2
    finally:
        model.certificate = saved


def test_saved_folder_keeps_the_figures(tmp_path, task, model):
    out = model.save(tmp_path / "m")
    doc = json.loads((out / "config.json").read_text())
    assert all(k in doc["certificate"] for k in NEW_FIELDS)
    loaded = load(out, task)
    assert loaded.certificate == model.certificate
    assert loaded.certificate.shapley_errors == model.certificate.shapley_errors


def test_older_certificates_still_load(tmp_path, task, model):
    old = {k: v for k, v in model.certificate.to_dict().items() if k not in NEW_FIELDS}
    c = Certificate(**old)
    assert all(getattr(c, k) is None for k in NEW_FIELDS)
    assert [r["check"] for r in c.rows()][-1] == "certified"
    assert not any("per instance" in r["check"] for r in c.rows())
    # a folder as an older mxbench wrote it: no new keys, its own valid hash
    out = model.save(tmp_path / "m")
    doc = json.loads((out / "config.json").read_text())
    doc["certificate"] = old
    doc[INTEGRITY_KEY] = config_digest(doc)
    (out / "config.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    loaded = load(out, task)
    assert loaded.certificate.shapley_error is None and loaded.certificate.r2_random == model.certificate.r2_random
    # the new figures are covered by the hash like the rest of the certificate
    doc["certificate"] = {**model.certificate.to_dict(), "shapley_error": {"median": 0.0, "p90": 0.0, "max": 0.0}}
    (out / "config.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    with pytest.raises(ModelError, match="does not match"):
        load(out, task)
    doc["certificate"]["shapley_error"] = {"median": "x"}
    doc[INTEGRITY_KEY] = config_digest(doc)
    (out / "config.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    with pytest.raises(ModelError, match="shapley_error"):
        load(out, task)


def test_cli_train_prints_the_figures(tmp_path, capsys):
    data = mxbench.write_dataset(SPEC, tmp_path / "data")
    assert main(["train", str(data), "--arch", "fusion_mlp", "--out", str(tmp_path / "model"), "--epochs", "1",
                 "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "share error per instance" in out and "Shapley rel. error per instance" in out
    assert "(median / p90 / max)" in out
