"""The exact model: the planted function as a torch module (mxbench.models.exact_model)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import mxbench
from mxbench.bench.runner import validate
from mxbench.explainers import IntegratedGradients
from mxbench.models import ExactModule, ModelError, TrainedModel, exact_model
from mxbench.spec import TaskSpec
from mxbench.spec.terms import Term
from mxbench.task import TaskPlan


def _tasks():
    return mxbench.generate("smoke", instances=24) + mxbench.generate("standard", instances=24)


@pytest.fixture(scope="module")
def tasks():
    return _tasks()


def test_game_equals_planted_game_on_every_smoke_and_standard_task(tasks):
    names = []
    for task in tasks:
        model = exact_model(task, certify=False)
        rng = np.random.default_rng(1)
        for i in (0, 5, task.n_instances - 1):
            c = rng.random((96, task.n_players)) < rng.random((96, 1))
            c[0], c[1] = True, False  # the full and the empty coalition
            got, want = model.game(task, i)(c), task.game(i)(c)
            assert got.dtype == np.float64
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-9 * max(1.0, float(np.abs(want).max())),
                                       err_msg=task.spec.name)
        names.append(task.spec.name)
    assert len(names) == 11  # 3 smoke + 8 standard


def test_predict_matches_f_and_certificate_is_computed_and_passes(tasks):
    task = tasks[0]
    model = exact_model(task)
    assert isinstance(model, TrainedModel) and model.arch == "exact"
    np.testing.assert_allclose(model.predict(task.inputs), task.f, rtol=0, atol=1e-9)
    c = model.certificate
    assert c is not None and c.passed and model.certified
    assert c.r2_random == pytest.approx(1.0, abs=1e-12) and c.r2_unmasked == pytest.approx(1.0, abs=1e-12)
    assert c.share_error < 1e-9 and max(c.term_errors) < 1e-9
    with pytest.raises(ModelError, match="not saved"):
        model.save("/nonexistent/exact")


def _smooth_task():
    return mxbench.generate({"name": "smooth", "instances": 16, "seed": 3, "modalities": [
        {"name": "t", "kind": "tabular", "features": 3},
        {"name": "img", "kind": "image", "size": 8, "patch": 4},
        {"name": "w", "kind": "text", "length": 3, "vocab": 16, "neutral": 0.0}],
        "terms": [{"kind": "unique", "players": ["t:0"], "weight": 1.5, "fn": "identity"},
                  {"kind": "unique", "players": ["img:1"], "weight": -2.0, "fn": "tanh"},
                  {"kind": "synergy", "players": ["t:1", "w:0"], "weight": 1.0, "op": "product"},
                  {"kind": "synergy", "players": ["img:0", "w:2", "t:2"], "weight": 0.7, "op": "product"}]})


def test_integrated_gradients_completeness_on_a_smooth_task():
    task = _smooth_task()
    model = exact_model(task)
    for i in range(3):
        e = IntegratedGradients(steps=64).explain(model, task, i)
        f = e.extras["f_input"] - e.extras["f_baseline"]
        assert e.extras["f_input"] == pytest.approx(task.f[i], abs=1e-6)
        assert abs(e.attributions.sum() - f) < 1e-3 * max(1.0, abs(f))
        # players no term reads get exactly zero
        unused = [k for k in range(task.n_players) if not any(k in t.ids for t in task.terms)]
        assert np.all(e.attributions[unused] == 0.0)
    # Gauss-Legendre is exact for the polynomial (product / identity) part
    e = IntegratedGradients(steps=16, method="gausslegendre").explain(model, task, 0)
    assert abs(e.extras["delta"]) < 1e-4


def test_gradients_of_nonsmooth_terms():
    spec = TaskSpec.from_dict({"name": "ns", "instances": 4, "modalities": [
        {"name": "a", "kind": "tabular", "features": 6}],
        "terms": [{"kind": "unique", "players": ["a:0"], "weight": 2.0, "fn": "step"},
                  {"kind": "synergy", "players": ["a:1", "a:2"], "weight": 1.0, "op": "xor"},
                  {"kind": "redundancy", "players": ["a:3", "a:4", "a:5"], "weight": 3.0}]})
    module = ExactModule(TaskPlan.from_spec(spec))
    x = torch.tensor([[0.5, -1.0, 2.0, 0.1, -0.9, 0.4]], dtype=torch.float64, requires_grad=True)
    y = module({"a": x})
    assert y.item() == pytest.approx(2.0 + 1.0 + 3.0 * -0.9)  # xor of 2 signs: +w when one is positive
    (g,) = torch.autograd.grad(y.sum(), x)
    assert g.tolist() == [[0.0, 0.0, 0.0, 0.0, 3.0, 0.0]]  # step/xor: zero; max-magnitude: the selected copy


def test_unexpressible_term_is_a_model_error():
    task = mxbench.generate("smoke", instances=8)[0]
    plan = task.plan
    bad = TaskPlan(plan.spec, plan.terms + (Term("synergy", ("x:0", "x:1"), 1.0, "nand", ids=(0, 1)),),
                   plan.renderers)
    with pytest.raises(ModelError, match="term .* 'nand'"):
        ExactModule(bad)
    with pytest.raises(ModelError, match="expected an mxbench Task"):
        exact_model(plan)


def test_runner_accepts_exact(tmp_path):
    task = mxbench.generate("smoke", instances=64)[0]
    frame = validate(task, models=["exact"], explainers=["kernelshap"], budgets=[64], metrics=["auroc"],
                     instances=1, n_jobs=1, progress=False, cache_dir=tmp_path)
    assert len(frame) > 0
    assert set(frame["model"]) == {"exact"} and frame["certified"].all()
    assert not any(tmp_path.iterdir())  # nothing trained or cached
    planted = validate(task, models=["planted"], explainers=["kernelshap"], budgets=[64], metrics=["auroc"],
                       instances=1, n_jobs=1, progress=False, cache_dir=tmp_path)
    frame = frame[frame["truth"] == "planted"]  # the rows against the model truth come in addition
    np.testing.assert_allclose(frame["value"].to_numpy(), planted["value"].to_numpy(), atol=1e-9)
