"""White-box explainers: integrated gradients, attention rollout, attention x gradient, FL-I2MoE expert maps."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

import mxbench
from mxbench.errors import ExplainerError
from mxbench.explainers import Exact
from mxbench.explainers.whitebox import (IG_METHODS, AttentionGrad, AttentionRollout, ExpertMaps,
                                         IntegratedGradients, WhiteBoxExplainer, ig_path, rollout)
from mxbench.explainers.whitebox.attention import _forward_maps
from mxbench.explainers.whitebox.base import _tensors
from mxbench.models import TrainedModel, build, train
from mxbench.task import Task

CONFIGS = {"fusion_mlp": {"hidden": 32}, "transformer": {"dim": 16, "head_hidden": 32},
           "fl_i2moe": {"dim": 16, "heads": 2, "rw_hidden": 16}}
ARCHS = list(CONFIGS)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tasks():
    return mxbench.generate("smoke", instances=300)


@pytest.fixture(scope="module")
def mix3(tasks):
    """smoke-mix3: tabular, image and text, 12 players, regression."""
    return tasks[2]


@pytest.fixture(scope="module")
def models(mix3):
    """One briefly trained model of every architecture on smoke-mix3."""
    epochs = {"fusion_mlp": (3, 1024), "transformer": (3, 1024), "fl_i2moe": (2, 512)}
    return {arch: train(mix3, arch, epochs=epochs[arch][0], examples_per_epoch=epochs[arch][1], certify=False,
                        config=CONFIGS[arch]) for arch in ARCHS}


@pytest.fixture(scope="module")
def readout(tasks):
    """A readout-pooled transformer on smoke-img-txt (classification: logits of both signs)."""
    return train(tasks[1], "transformer", epochs=1, examples_per_epoch=512, certify=False,
                 config={"dim": 8, "heads": 2, "head_hidden": 16, "pool": "readout"})


def _single_player_task(task: Task, instance: int) -> Task:
    """A task whose instance ``j`` is ``instance`` with every player but ``j`` masked."""
    n = task.n_players
    raw = {k: np.repeat(v[instance:instance + 1], n, axis=0) for k, v in task.inputs.items()}
    return Task(task.plan, task.plan.mask(raw, np.eye(n, dtype=bool)), np.repeat(task.target[instance:instance + 1], n),
                np.zeros(n, dtype=np.int8))


# ---------------------------------------------------------------------- integrated gradients
def test_ig_path_rules_integrate_polynomials():
    for method in IG_METHODS:
        a, w = ig_path(method, 40)
        assert a.shape == w.shape == (40,)
        assert np.all((a >= 0) & (a <= 1))
        assert np.isclose(w.sum(), 1.0)
        assert abs((w * a**2).sum() - 1 / 3) < 2e-2  # every rule converges
    a, w = ig_path("gausslegendre", 4)
    assert np.isclose((w * a**7).sum(), 1 / 8)  # exact to degree 2*4 - 1
    a, w = ig_path("riemann_trapezoid", 11)
    assert a[0] == 0.0 and a[-1] == 1.0 and np.isclose(w[0], w[1] / 2)


@pytest.mark.parametrize("arch", ARCHS)
def test_ig_completeness_on_every_architecture(models, mix3, arch):
    model = models[arch]
    coarse, fine = IntegratedGradients(steps=4), IntegratedGradients(steps=48)
    errors = []
    for i in range(3):
        e_coarse, e = coarse.explain(model, mix3, i), fine.explain(model, mix3, i)
        v_full, v_empty = model.game(mix3, i)(np.stack([np.ones(mix3.n_players, bool),
                                                        np.zeros(mix3.n_players, bool)]))
        # the path ends at the input and at the fully masked input: v(N) and v(∅) of the model's game
        assert np.isclose(e.extras["f_input"], v_full, atol=1e-5)
        assert np.isclose(e.extras["f_baseline"], v_empty, atol=1e-5)
        gap = v_full - v_empty
        assert np.isclose(e.extras["delta"], e.attributions.sum() - gap, atol=1e-6)
        assert abs(e.attributions.sum() - gap) <= 5e-3 * abs(gap) + 1e-4
        errors.append((abs(e_coarse.extras["delta"]), abs(e.extras["delta"])))
        assert np.allclose(e.modality, np.bincount(mix3.modality_of, weights=e.attributions))
        assert e.n_queries == 48 and e_coarse.n_queries == 4
    coarse_err, fine_err = np.array(errors).T
    assert fine_err.sum() < 0.05 * coarse_err.sum()  # the error shrinks with the steps (as steps^-2)


def test_ig_methods_agree_and_count_their_end_points(models, mix3):
    model = models["transformer"]
    ref = IntegratedGradients(steps=64).explain(model, mix3, 1)
    scale = np.abs(ref.attributions).max()
    for method, queries in [("gausslegendre", 32 + 2), ("riemann_middle", 32 + 2), ("riemann_left", 32 + 1),
                            ("riemann_right", 32 + 1)]:
        e = IntegratedGradients(steps=32, method=method).explain(model, mix3, 1)
        assert e.n_queries == queries
        tol = 0.02 if method in ("gausslegendre", "riemann_middle") else 0.1
        assert np.abs(e.attributions - ref.attributions).max() <= tol * scale


@pytest.mark.parametrize("arch", ARCHS)
def test_ig_maps_inputs_to_the_right_player(models, mix3, arch):
    """With one player present, input and baseline differ in that player only: it gets everything."""
    single = _single_player_task(mix3, 5)
    ig = IntegratedGradients(steps=48)
    for j in range(mix3.n_players):
        e = ig.explain(models[arch], single, j)
        others = np.delete(e.attributions, j)
        assert np.all(others == 0.0)  # exactly: x - x' is 0 there (zero columns, zero patches, [MASK] rows)
        gap = e.extras["f_input"] - e.extras["f_baseline"]
        assert abs(e.attributions[j] - gap) <= 1e-2 * abs(gap) + 1e-4


def test_ig_on_text_is_integrated_gradients_in_embedding_space(models, mix3):
    """Against an independent reference: interpolate the token embeddings through a forward hook."""
    model, steps, i = models["transformer"], 16, 7
    module = model.module
    e = IntegratedGradients(steps=steps).explain(model, mix3, i)
    alphas, weights = ig_path("riemann_trapezoid", steps)
    raw = {k: v[i:i + 1] for k, v in mix3.inputs.items()}
    x, base = _tensors(raw, module), _tensors(mix3.plan.mask(raw, np.zeros((1, 12), bool)), module)
    emb = module.tokens.encoders["txt"]
    e_x, e_0 = emb(x["txt"]).detach(), emb(base["txt"]).detach()
    a = torch.tensor(alphas, dtype=torch.float32)
    path_emb = (e_0 + a[:, None, None] * (e_x - e_0)).requires_grad_(True)
    hook = emb.register_forward_hook(lambda mod, inp, out: path_emb)
    try:
        inputs = {}
        for k in ("tab", "img"):
            shape = (-1,) + (1,) * (x[k].dim() - 1)
            inputs[k] = (base[k] + a.view(shape) * (x[k] - base[k])).requires_grad_(True)
        inputs["txt"] = x["txt"].expand(steps, -1)
        y = module(inputs)
        g_tab, g_img, g_emb = torch.autograd.grad((torch.tensor(weights, dtype=torch.float32) * y).sum(),
                                                  [inputs["tab"], inputs["img"], path_emb])
    finally:
        hook.remove()
    ref_txt = ((e_x - e_0) * g_emb.sum(0, keepdim=True)).sum(-1)[0].numpy()
    ref_tab = ((x["tab"] - base["tab"]) * g_tab.sum(0, keepdim=True))[0].numpy()
    txt = mix3.modality_of == 2
    assert np.abs(ref_txt).max() > 1e-4
    assert np.allclose(e.attributions[txt], ref_txt, rtol=1e-4, atol=1e-6)
    assert np.allclose(e.attributions[mix3.modality_of == 0], ref_tab, rtol=1e-4, atol=1e-6)


def test_ig_ranks_players_like_the_exact_shapley_values_of_the_model_game(models, mix3):
    model = models["fusion_mlp"]
    for i in range(3):
        ig = IntegratedGradients(steps=16).explain(model, mix3, i).attributions
        phi = Exact().explain(model.game(mix3, i)).attributions
        assert spearmanr(ig, phi)[0] > 0.9


def test_ig_puts_more_mass_on_relevant_players_than_on_distractors(models, mix3):
    relevant = mix3.players()["role"].to_numpy() != "distractor"
    rows = mix3.split_indices("test")[:12]
    a = np.abs([IntegratedGradients(steps=16).explain(models["transformer"], mix3, int(i)).attributions
                for i in rows])
    assert a[:, relevant].mean() > 1.5 * a[:, ~relevant].mean()


def test_ig_predicted_target_negates_negative_outputs(readout, tasks):
    task = tasks[1]
    seen = set()
    for i in range(8):
        out = IntegratedGradients(steps=4).explain(readout, task, i)
        pred = IntegratedGradients(steps=4, target="predicted").explain(readout, task, i)
        sign = 1.0 if out.extras["f_input"] >= 0 else -1.0
        seen.add(sign)
        assert np.allclose(pred.attributions, sign * out.attributions)
        assert pred.extras["f_input"] == abs(out.extras["f_input"])
    assert seen == {1.0, -1.0}  # both branches were exercised


# ---------------------------------------------------------------------- attention rollout
def test_rollout_is_the_product_of_normalised_maps():
    g = np.random.default_rng(0)
    maps = [torch.from_numpy(g.dirichlet(np.ones(5), size=5)) for _ in range(3)]
    norm = [(m.numpy() + np.eye(5)) / (m.numpy() + np.eye(5)).sum(1, keepdims=True) for m in maps]
    assert np.allclose(rollout(maps), norm[2] @ norm[1] @ norm[0])
    plain = [m.numpy() + np.eye(5) for m in maps]
    assert np.allclose(rollout(maps, row_normalize=False), plain[2] @ plain[1] @ plain[0])


@pytest.mark.parametrize("arch", ["transformer", "fl_i2moe"])
@pytest.mark.parametrize("cls", [AttentionRollout, AttentionGrad])
def test_attention_maps_are_stochastic(models, mix3, arch, cls):
    for i in range(3):
        e = cls().explain(models[arch], mix3, i)
        r = e.extras["rollout"]
        assert r.shape == (12, 12)
        assert np.all(r >= 0) and np.allclose(r.sum(1), 1.0)
        assert np.all(e.attributions >= 0) and np.isclose(e.attributions.sum(), 1.0)
        assert np.allclose(e.attributions, r.mean(0))  # every player token is a query row
        assert np.isclose(e.modality.sum(), 1.0)
        assert e.n_queries == 1
        # the maps are not uniform: the explainer reads the model
        assert e.attributions.std() > 1e-5


def test_rollout_of_the_transformer_uses_its_attention_maps(models, mix3):
    model = models["transformer"]
    e = AttentionRollout().explain(model, mix3, 4)
    with torch.no_grad():
        model.module({k: torch.from_numpy(v[4:5]).long() if v.dtype.kind == "i" else torch.from_numpy(v[4:5])
                      for k, v in mix3.inputs.items()})
    r = rollout([a[0].mean(0) for a in model.module.attention])
    assert np.allclose(e.extras["rollout"], r)


def test_rollout_of_fl_i2moe_mixes_the_experts_by_routing(models, mix3):
    model = models["fl_i2moe"]
    e = AttentionRollout().explain(model, mix3, 2)
    f = _forward_maps(model.module, {k: v[2:3] for k, v in mix3.inputs.items()}, grad=False)
    w = f["routing"]
    assert np.isclose(w.sum(), 1.0) and list(e.extras["routing"]) == model.module.expert_names
    per_expert = [rollout([a.mean(0) for a in per]) for per in f["maps"]]
    assert np.allclose(e.extras["rollout"], sum(wi * r for wi, r in zip(w, per_expert)))
    assert not np.allclose(per_expert[0], per_expert[-1])  # experts have their own maps


def test_readout_pool_reads_the_readout_row(readout, tasks):
    task = tasks[1]
    n = task.n_players
    for cls in (AttentionRollout, AttentionGrad):
        e = cls().explain(readout, task, 0)
        r = e.extras["rollout"]
        assert r.shape == (n + 1, n + 1)
        assert np.allclose(e.attributions, r[n, :n])
        assert np.isclose(e.attributions.sum() + e.extras["readout_share"], 1.0)
        assert 0 < e.extras["readout_share"] < 1


# ---------------------------------------------------------------------- attention x gradient
def test_attention_grad_uses_the_gradient_of_the_output(models, mix3):
    """Cross-check with the transformer's own attention_gradients()."""
    model = models["transformer"]
    e = AttentionGrad().explain(model, mix3, 3)
    x = {k: torch.from_numpy(v[3:4]) for k, v in mix3.inputs.items()}
    _, maps, grads = model.module.attention_gradients(x)
    layers = [(a[0] * g[0].clamp(min=0)).mean(0) for a, g in zip(maps, grads)]
    assert np.allclose(e.extras["rollout"], rollout(layers), atol=1e-6)
    chefer = AttentionGrad(row_normalize=False).explain(model, mix3, 3)
    assert np.allclose(chefer.extras["rollout"], rollout(layers, row_normalize=False), atol=1e-6)
    assert np.all(chefer.extras["rollout"].sum(1) >= 1.0 - 1e-9)


def test_attention_grad_of_fl_i2moe_differentiates_the_mixture(models, mix3):
    model = models["fl_i2moe"]
    f = _forward_maps(model.module, {k: v[1:2] for k, v in mix3.inputs.items()}, grad=True)
    # d y / d A_e = w_e d out_e / d A_e: the mixture gradient carries the routing weight
    for w, g_mix, g_own in zip(f["routing"], f["grads"], f["expert_grads"]):
        for a, b in zip(g_mix, g_own):
            assert torch.allclose(a, float(w) * b, atol=1e-7)
    e = AttentionGrad().explain(model, mix3, 1)
    per = [rollout([(a * g.clamp(min=0)).mean(0) for a, g in zip(m, gs)]) for m, gs in zip(f["maps"], f["grads"])]
    assert np.allclose(e.extras["rollout"], np.mean(per, axis=0))


def test_attention_grad_predicted_target(readout, tasks):
    task = tasks[1]
    for i in range(8):
        y = readout.predict({k: v[i:i + 1] for k, v in task.inputs.items()})[0]
        out, pred = AttentionGrad().explain(readout, task, i), AttentionGrad(target="predicted").explain(readout, task, i)
        if y >= 0:
            assert np.array_equal(out.attributions, pred.attributions)
        else:
            assert not np.allclose(out.attributions, pred.attributions)


# ---------------------------------------------------------------------- expert maps
@pytest.mark.parametrize("method", ["attention_grad", "rollout", "integrated_gradients"])
def test_expert_maps_mix_to_the_attributions(models, mix3, method):
    model = models["fl_i2moe"]
    e = ExpertMaps(method=method, steps=24).explain(model, mix3, 6)
    names = model.module.expert_names
    assert list(e.extras["experts"]) == names == list(e.extras["routing"])
    w = np.array([e.extras["routing"][k] for k in names])
    assert np.all(w > 0) and np.isclose(w.sum(), 1.0)
    mix = sum(e.extras["routing"][k] * e.extras["experts"][k] for k in names)
    assert np.allclose(mix, e.attributions)
    # the experts' outputs mixed by the routing weights are the model's output
    y = model.predict({k: v[6:7] for k, v in mix3.inputs.items()})[0]
    assert np.isclose(sum(w[k] * e.extras["expert_outputs"][n] for k, n in enumerate(names)), y, atol=1e-5)
    if method == "integrated_gradients":
        assert e.n_queries == 24
        for k in names:  # each expert's map adds up to the change of its own output, out_e(x) - out_e(x')
            assert abs(e.extras["delta"][k]) <= 1e-2 * abs(e.extras["experts"][k].sum()) + 1e-3
    else:
        assert e.n_queries == 1
        for m in e.extras["experts"].values():
            assert np.all(m >= 0) and np.isclose(m.sum(), 1.0)
        assert np.isclose(e.attributions.sum(), 1.0)
        assert not np.allclose(e.extras["experts"][names[0]], e.extras["experts"][names[-1]])


def test_expert_rollout_maps_mix_to_attention_rollout(models, mix3):
    model = models["fl_i2moe"]
    assert np.allclose(ExpertMaps(method="rollout").explain(model, mix3, 0).attributions,
                       AttentionRollout().explain(model, mix3, 0).attributions)


# ---------------------------------------------------------------------- contract
@pytest.mark.parametrize("explainer", [IntegratedGradients(steps=4), AttentionRollout(), AttentionGrad(),
                                       ExpertMaps()], ids=lambda e: e.name)
def test_explanations_are_deterministic_and_complete(models, mix3, explainer):
    arch = "fl_i2moe" if isinstance(explainer, ExpertMaps) else "transformer"
    a, b = explainer.explain(models[arch], mix3, 9), explainer.explain(models[arch], mix3, 9)
    assert np.array_equal(a.attributions, b.attributions)
    assert a.attributions.shape == (12,) and a.modality.shape == (3,)
    assert a.modality_names == mix3.modality_names and a.player_names == mix3.player_names
    assert a.explainer == explainer.name and a.params == explainer.get_params()
    assert a.seconds > 0 and a.interactions is None
    # the module is left with no autograd graph attached
    module = models[arch].module
    maps = module.attention if arch == "transformer" else [m for per in module.expert_attention for m in per]
    assert all(m.grad_fn is None for m in maps)


def test_constructors_only_store_parameters():
    e = IntegratedGradients(steps=-3, method="nope", target="x")  # no check yet
    assert e.get_params() == {"steps": -3, "method": "nope", "target": "x"}
    assert repr(ExpertMaps()) == "ExpertMaps(method='attention_grad', target='output', steps=32)"
    assert AttentionRollout().get_params() == {}
    assert AttentionGrad().get_params() == {"target": "output", "row_normalize": True}
    assert isinstance(AttentionGrad(), WhiteBoxExplainer)


@pytest.mark.parametrize("explainer, match", [
    (IntegratedGradients(steps=0), "steps"), (IntegratedGradients(steps=1), "steps"),
    (IntegratedGradients(steps=2.5), "steps"), (IntegratedGradients(method="simpson"), "method"),
    (IntegratedGradients(target="label"), "target"), (AttentionGrad(target=None), "target"),
    (AttentionGrad(row_normalize="yes"), "row_normalize"), (ExpertMaps(method="shap"), "method"),
    (ExpertMaps(steps=1), "steps")])
def test_bad_parameters_are_refused_before_any_work(models, mix3, explainer, match, monkeypatch):
    model = models["fl_i2moe"]

    def boom(*args, **kwargs):
        raise AssertionError("the model ran")
    monkeypatch.setattr(model.module, "forward", boom)
    with pytest.raises(ExplainerError, match=match):
        explainer.explain(model, mix3, 0)


@pytest.mark.parametrize("cls", [AttentionRollout, AttentionGrad, ExpertMaps])
def test_models_without_attention_or_experts_are_refused(models, mix3, cls):
    with pytest.raises(ExplainerError, match="'fusion_mlp'"):
        cls().explain(models["fusion_mlp"], mix3, 0)
    if cls is ExpertMaps:
        with pytest.raises(ExplainerError, match="'transformer'.*experts"):
            cls().explain(models["transformer"], mix3, 0)


def test_bad_model_task_and_instance_are_refused(models, mix3, tasks):
    model = models["transformer"]
    for bad in (-1, 300, 1.0, True, "0", None):
        with pytest.raises(ExplainerError, match="i: expected an instance number 0..299"):
            AttentionRollout().explain(model, mix3, bad)
    with pytest.raises(ExplainerError, match="model: expected a TrainedModel"):
        IntegratedGradients().explain(model.module, mix3, 0)
    with pytest.raises(ExplainerError, match="task: the model was trained on task 'smoke-mix3'"):
        IntegratedGradients().explain(model, tasks[0], 0)
    with pytest.raises(ExplainerError, match="task: expected an mxbench Task"):
        IntegratedGradients().explain(model, "smoke-mix3", 0)


def test_ig_refuses_a_custom_module_that_cannot_take_one_hot_text(mix3):
    class IdsOnly(torch.nn.Module):
        modalities = mix3.spec.modalities

        def forward(self, inputs):
            return inputs["txt"].float().sum(1)
    model = TrainedModel("custom", {}, IdsOnly(), mix3.spec.spec_hash(), mix3.spec.name, 0, [], {})
    with pytest.raises(ExplainerError, match="one-hot"):
        IntegratedGradients().explain(model, mix3, 0)
    # a custom wrapper around a built-in module is judged by its module, not its name
    wrapped = TrainedModel("custom", {}, build("transformer", mix3, CONFIGS["transformer"]), mix3.spec.spec_hash(),
                           mix3.spec.name, 0, [], {})
    assert AttentionRollout().explain(wrapped, mix3, 0).attributions.shape == (12,)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("explainer", [IntegratedGradients(steps=8), AttentionGrad(), ExpertMaps()], ids=lambda e: e.name)
def test_cuda_gives_the_cpu_explanation(models, mix3, explainer):
    import copy

    arch = "fl_i2moe" if isinstance(explainer, ExpertMaps) else "transformer"
    cpu = explainer.explain(models[arch], mix3, 2)
    gpu = explainer.explain(copy.deepcopy(models[arch]).to("cuda"), mix3, 2)
    assert np.allclose(cpu.attributions, gpu.attributions, rtol=1e-3, atol=1e-5)
